"""``torsiond wire``: the small services of RFC 862-868, each over TCP and UDP.

Echo (862), discard (863), chargen (864), qotd (865), who (866, "active users"),
daytime (867) and time (868) from torsion.protocols.wire, each on a port of its own.
The defaults are 8000 plus the service's own port (echo 8007, discard 8009, who
8011, daytime 8013, qotd 8017, chargen 8019, time 8037) on 127.0.0.1: high ports,
so that trying it needs no privileges, and only this machine, because the UDP
services answer whoever a datagram claims to come from (so a spoofed request turns
them against a third party). ``--interface 0.0.0.0`` and the real ports
(``--echo 7 --discard 9 ...``, as root) make an old-fashioned inetd of them.
``--echo off`` leaves a service out; ``--tcp-only`` leaves out UDP.
Tests: tests/tap/test_wire.py.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from torsion.application import internet, service
from torsion.application.service import IService
from torsion.internet import protocol
from torsion.protocols import wire
from torsion.python import usage

__all__ = ["DEFAULT_PORTS", "Options", "WireFactory", "makeService"]

# The services in the order they are started, with their default ports.
_RFCS = {
    "echo": 862,
    "discard": 863,
    "chargen": 864,
    "qotd": 865,
    "who": 866,
    "daytime": 867,
    "time": 868,
}

DEFAULT_PORTS = {
    "echo": 8007,
    "discard": 8009,
    "who": 8011,
    "daytime": 8013,
    "qotd": 8017,
    "chargen": 8019,
    "time": 8037,
}

_TCP = {
    "echo": wire.Echo,
    "discard": wire.Discard,
    "who": wire.Who,
    "daytime": wire.Daytime,
    "qotd": wire.QOTD,
    "chargen": wire.Chargen,
    "time": wire.Time,
}

_UDP = {
    "echo": wire.EchoUDP,
    "discard": wire.DiscardUDP,
    "who": wire.WhoUDP,
    "daytime": wire.DaytimeUDP,
    "qotd": wire.QOTDUDP,
    "chargen": wire.ChargenUDP,
    "time": wire.TimeUDP,
}


def _portOrOff(value: str) -> int | None:
    """A port number, or None for "off"."""
    if value.strip().lower() in ("off", "no", "none"):
        return None
    return usage.portCoerce(value)


_portOrOff.coerceDoc = "A port number from 0 (any free port) to 65535, or 'off'."  # type: ignore[attr-defined]


class Options(usage.Options):
    """The options of the wire plugin."""

    synopsis = "[--interface ADDRESS] [--echo PORT] ... [--tcp-only]"
    longdesc = (
        "Runs the small services of RFC 862-868 over TCP and UDP: echo, discard, "
        "chargen, qotd, who (active users), daytime and time. Each --SERVICE option "
        "takes a port, or 'off' to leave the service out. The defaults are high ports "
        "on 127.0.0.1; the RFCs' own ports (7, 9, 11, 13, 17, 19, 37) need root."
    )
    optFlags = [["tcp-only", None, "Serve over TCP only, not UDP."]]
    optParameters = [
        ["interface", "i", "127.0.0.1", "The address to listen on (0.0.0.0 or :: for all)."],
        *[
            [name, None, port, f"The port of {name} (RFC {_RFCS[name]}).", _portOrOff]
            for name, port in DEFAULT_PORTS.items()
        ],
        ["quote", "q", wire.DEFAULT_QUOTE, "The quote of the day (at most 510 bytes)."],
        ["quote-file", None, None, "Read the quote of the day from this file instead."],
        ["utmp", None, None, "The utmp file that who reads (default: the system's)."],
    ]

    def postOptions(self) -> None:
        """Check the address and the quote now, so that a mistake is a usage error."""
        try:
            ipaddress.ip_address(self["interface"])
        except ValueError:
            raise usage.UsageError(
                f"--interface {self['interface']!r} is not an IP address; give one such "
                f"as 127.0.0.1, 0.0.0.0 or ::"
            ) from None
        if self["quote-file"] is not None:
            try:
                with open(self["quote-file"], "rb") as f:
                    quote = f.read(4096)
            except OSError as e:
                raise usage.UsageError(
                    f"--quote-file {self['quote-file']!r}: cannot read it ({e.strerror})"
                ) from None
            self["quote"] = quote.decode("utf-8", "replace").strip()
        if len(str(self["quote"]).encode("utf-8")) > 510:
            raise usage.UsageError(
                "the quote is longer than 510 bytes, which RFC 865 does not allow; "
                "choose a shorter one"
            )
        if all(self[name] is None for name in DEFAULT_PORTS):
            raise usage.UsageError("every service is off; leave at least one on")


class WireFactory(protocol.ServerFactory):
    """Builds one kind of wire protocol, setting ``attributes`` on each one built.

    A module-level class, so that a saved application finds it.
    """

    def __init__(self, protocol: Any, **attributes: Any) -> None:
        self.protocol = protocol
        self.attributes = attributes

    def buildProtocol(self, addr: Any) -> Any:
        proto = super().buildProtocol(addr)
        for name, value in self.attributes.items():
            setattr(proto, name, value)
        return proto


def _attributesFor(name: str, options: Any) -> dict[str, Any]:
    if name == "qotd":
        return {"quote": options["quote"]}
    if name == "who" and options["utmp"] is not None:
        return {"utmpPath": options["utmp"]}
    return {}


def makeService(options: Any) -> IService:
    """Return a MultiService with a TCP server (and a UDP one) per service switched on.

    The children are named ``"echo tcp"``, ``"echo udp"`` and so on.
    """
    top = service.MultiService()
    interface = options["interface"]
    for name in DEFAULT_PORTS:
        port = options[name]
        if port is None:
            continue
        attributes = _attributesFor(name, options)
        tcp = internet.TCPServer(port, WireFactory(_TCP[name], **attributes), interface=interface)
        tcp.setName(f"{name} tcp")
        tcp.setServiceParent(top)
        if not options["tcp-only"]:
            datagram = _UDP[name]()
            for attribute, value in attributes.items():
                setattr(datagram, attribute, value)
            udp = internet.UDPServer(port, datagram, interface=interface)
            udp.setName(f"{name} udp")
            udp.setServiceParent(top)
    return top
