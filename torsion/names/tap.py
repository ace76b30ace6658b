"""``torsiond dns``: a DNS server for zones in Python or BIND files, secondaries, a cache
and recursion, on UDP and TCP on the same port.

    torsiond -n dns --bindzone example.com.zone --port 5353        # 127.0.0.1:5353
    torsiond -n dns --pyzone example.py --interface 0.0.0.0        # port 53: root
    torsiond -n dns --secondary 192.0.2.1/example.com --port 5353  # IP[:port]/domain
    torsiond -n dns --recursive --cache --port 5353                # a caching resolver

Zones are loaded while the options are parsed, so a broken zone file is a usage
error naming the file and line, before anything listens. The default interface is
127.0.0.1 (Twisted's is every interface): serving the network is a choice, made
with ``--interface``, since a recursive server open to the world is an
amplifier for attacks. Tests: tests/names/test_plugin.py, test_dig.py.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from torsion.application import internet, service
from torsion.application.service import IService
from torsion.names import authority, dns, secondary, server
from torsion.python import usage

__all__ = ["Options", "makeService"]

DNS_PORT = 53
DEFAULT_INTERFACE = "127.0.0.1"


def _port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ValueError(f"a port is a number from 1 to 65535, not {value!r}")
    return int(value)


def _address(text: str) -> tuple[str, int]:
    """``IP``, ``IP:port``, ``[IPv6]:port`` or a bare IPv6 address."""
    host, port = text, DNS_PORT
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{text!r}: write [IPv6]:port")
            port = _port(rest[1:])
    elif text.count(":") == 1:
        host, portText = text.split(":")
        port = _port(portText)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"{host!r} is not an IP address (the primary is given by address)"
        ) from None
    return host, port


def parseSecondary(value: str) -> tuple[tuple[str, int], str]:
    """
    ``--secondary``'s argument: Twisted's ``IP[:port]/domain``, or ``domain:IP[:port]``.
    Returns ((ip, port), domain).
    """
    if "/" in value:
        where, _, domain = value.partition("/")
    else:
        domain, _, where = value.partition(":")
    if not domain or not where:
        raise ValueError(f"{value!r}: write IP[:port]/domain, as 192.0.2.1:53/example.com")
    try:
        dns.Name(domain)
    except (ValueError, UnicodeError) as e:
        raise ValueError(f"{domain!r} is not a domain name: {e}") from None
    return _address(where), domain


def _cacheSize(value: str) -> int:
    try:
        size = int(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a number of answers") from None
    if size < 0:
        raise ValueError(f"the wire cache holds 0 answers or more, not {size}")
    return size


class Options(usage.Options):
    """The options of the dns plugin."""

    synopsis = "[--pyzone FILE] [--bindzone FILE] [--secondary IP/DOMAIN] [-c] [-r] [-p PORT]"
    longdesc = (
        "A DNS server on UDP and TCP on the same port. It answers from its zones "
        "first (--pyzone, --bindzone, --secondary; each may be given several times), "
        "then from its cache (--cache), then by asking the servers of resolv.conf "
        "(--recursive, --resolv-conf) or a hosts file (--hosts-file). UDP answers "
        "that do not fit are truncated so that clients retry over TCP. Zone "
        "transfers (AXFR) of its zones are served over TCP to --allow-transfer "
        "networks only (this machine by default). A Python zone file is run as code: "
        "load only files you trust."
    )
    optParameters = [
        ["interface", "i", DEFAULT_INTERFACE, "The address to listen on (0.0.0.0 or :: for all)."],
        ["port", "p", DNS_PORT, "The port to listen on, for UDP and TCP.", _port],
        ["resolv-conf", None, None, "The resolv.conf to read servers from (implies --recursive)."],
        ["hosts-file", None, None, "Answer from this hosts file (after the zones and cache)."],
        [
            "wire-cache",
            None,
            4096,
            "Keep the UDP answers of this many questions about our zones, sent again "
            "without being worked out again (0: off). Emptied whenever a zone changes.",
            _cacheSize,
        ],
    ]
    optFlags = [
        ["cache", "c", "Cache the answers of recursive lookups (TTLs honoured)."],
        ["recursive", "r", "Resolve names outside our zones by asking the resolv.conf servers."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["verbose"] = 0
        self.zones: list[Any] = []
        self.zonefiles: list[str] = []
        self.bindzones: list[str] = []
        self.secondaries: list[tuple[tuple[str, int], list[str]]] = []
        self.transferFrom: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self.svcs: list[IService] = []

    def opt_pyzone(self, filename: str) -> None:
        """A zone in a Python file (run as code!); may be given several times."""
        self.zonefiles.append(filename)

    def opt_bindzone(self, filename: str) -> None:
        """A zone in a BIND master file; may be given several times."""
        self.bindzones.append(filename)

    def opt_secondary(self, ipDomain: str) -> None:
        """Be a secondary for DOMAIN, transferring it from IP[:port] (IP[:port]/DOMAIN)."""
        try:
            address, domain = parseSecondary(ipDomain)
        except ValueError as e:
            raise usage.UsageError(f"--secondary: {e}") from None
        self.secondaries.append((address, [domain]))

    def opt_allow_transfer(self, network: str) -> None:
        """A network (192.0.2.0/24, 2001:db8::/32 or 'any') that may transfer our zones."""
        if network == "any":
            self.transferFrom += [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
            return
        try:
            self.transferFrom.append(ipaddress.ip_network(network, strict=False))
        except ValueError as e:
            raise usage.UsageError(f"--allow-transfer {network!r}: {e}") from None

    def opt_verbose(self) -> None:
        """Log more: once for every query, twice for every answer too."""
        self["verbose"] += 1

    opt_v = opt_verbose

    def postOptions(self) -> None:
        """Load every zone now, so that a broken file is a usage error naming it."""
        if self["resolv-conf"]:
            self["recursive"] = True
        self.zones = []
        self.svcs = []
        for filename in self.zonefiles:
            self.zones.append(self._load(authority.PySourceAuthority, "--pyzone", filename))
        for filename in self.bindzones:
            self.zones.append(self._load(authority.BindAuthority, "--bindzone", filename))
        for address, domains in self.secondaries:
            made = secondary.SecondaryAuthorityService.fromServerAddressAndDomains(address, domains)
            self.svcs.append(made)
            self.zones.append(made.getAuthority())
        if not (self.zones or self["recursive"] or self["hosts-file"] or self["cache"]):
            raise usage.UsageError(
                "nothing to serve: give a zone (--pyzone, --bindzone, --secondary), "
                "--recursive or --hosts-file"
            )

    @staticmethod
    def _load(kind: Any, option: str, filename: str) -> Any:
        try:
            return kind(filename)
        except authority.ZoneFileError as e:
            raise usage.UsageError(f"{option}: {e}") from None


def _buildResolvers(config: Any) -> tuple[list[Any], list[Any]]:
    """The caches and the clients (hosts file, then the network) the options ask for."""
    caches: list[Any] = []
    clients: list[Any] = []
    if config["cache"]:
        from torsion.names import cache

        caches.append(cache.CacheResolver(verbose=config["verbose"]))
    if config["hosts-file"]:
        from torsion.names import hosts

        clients.append(hosts.Resolver(file=config["hosts-file"]))
    if config["recursive"]:
        from torsion.names import client

        clients.append(client.createResolver(resolvconf=config["resolv-conf"]))
    return caches, clients


def makeService(config: Any) -> IService:
    """UDP and TCP servers on one port for one DNSServerFactory, and the secondaries."""
    caches, clients = _buildResolvers(config)
    factory = server.DNSServerFactory(config.zones, caches, clients, config["verbose"])
    if config.transferFrom:
        factory.transferFrom = list(config.transferFrom)
    factory.wireCacheSize = int(config["wire-cache"])
    made = service.MultiService()
    datagrams = server.DNSServerDatagramProtocol(factory)
    port, interface = config["port"], config["interface"]
    internet.TCPServer(port, factory, interface=interface).setServiceParent(made)
    internet.UDPServer(port, datagrams, interface=interface).setServiceParent(made)
    for svc in config.svcs:
        svc.setServiceParent(made)
    return made
