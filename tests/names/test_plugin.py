"""The ``dns`` plugin (torsion.names.tap): options, the service it makes, and torsiond runs.

The service is made with a MemoryReactor as the global reactor; the runs of
``torsiond dns`` are child processes asked with dig (test_dig.py has the rest).
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.application.conftest import installedAsGlobal
from tests.tap._torsiond import TORSIOND, freePort, runTorsiond
from torsion.application.service import IServiceMaker
from torsion.internet.testing import MemoryReactor
from torsion.names import authority, dns, secondary, server, tap
from torsion.plugin import getPlugins
from torsion.python import usage

PYZONE = """
zone = [
    SOA("example.com", mname="ns1.example.com", rname="root.example.com",
        serial=5, refresh="1H", retry="15M", expire="1W", minimum="5M"),
    NS("example.com", "ns1.example.com"),
    A("ns1.example.com", "192.0.2.1"),
    TXT("hello.example.com", "from python"),
]
"""
BINDZONE = "$TTL 60\n@ SOA ns1 root 3 1h 15m 1w 5m\n@ NS ns1\nns1 A 192.0.2.2\n"


@pytest.fixture
def memoryReactor() -> Iterator[MemoryReactor]:
    made = MemoryReactor()
    with installedAsGlobal(made):
        yield made


@pytest.fixture
def zones(tmp_path: Path) -> Path:
    (tmp_path / "example.py").write_text(PYZONE)
    (tmp_path / "example.org.zone").write_text(BINDZONE)
    return tmp_path


def parse(*args: str) -> tap.Options:
    options = tap.Options()
    options.parseOptions(list(args))
    return options


def test_pluginIsFound() -> None:
    makers = {maker.tapname: maker for maker in getPlugins(IServiceMaker)}
    assert makers["dns"].options is tap.Options


def test_defaultsArePort53OfThisMachine(zones: Path) -> None:
    options = parse("--pyzone", str(zones / "example.py"))
    assert (options["port"], options["interface"], options["verbose"]) == (53, "127.0.0.1", 0)
    assert not options["cache"] and not options["recursive"]


def test_zonesAreLoadedWhileParsing(zones: Path) -> None:
    options = parse(
        "--pyzone", str(zones / "example.py"), "--bindzone", str(zones / "example.org.zone")
    )
    kinds = [type(z) for z in options.zones]
    assert kinds == [authority.PySourceAuthority, authority.BindAuthority]
    assert options.zones[1].soa[0] == b"example.org"


def test_udpAndTcpOnTheSamePortForOneFactory(zones: Path, memoryReactor: MemoryReactor) -> None:
    options = parse("--pyzone", str(zones / "example.py"), "-p", "5353", "-i", "::1", "-v", "-v")
    made = tap.makeService(options)
    made.privilegedStartService()
    made.startService()
    ((tcpPort, factory, _backlog, tcpInterface),) = memoryReactor.tcpServers
    ((udpPort, proto, udpInterface, _size),) = memoryReactor.udpServers
    assert (tcpPort, udpPort, tcpInterface, udpInterface) == (5353, 5353, "::1", "::1")
    assert isinstance(factory, server.DNSServerFactory) and isinstance(
        proto, dns.DNSDatagramProtocol
    )
    assert proto.controller is factory
    assert factory.verbose == 2 and not factory.canRecurse
    assert factory.wireCacheSize == 4096


def test_wireCacheSizeOption(zones: Path, memoryReactor: MemoryReactor) -> None:
    made = tap.makeService(parse("--pyzone", str(zones / "example.py"), "--wire-cache", "0"))
    made.privilegedStartService()
    made.startService()
    ((_, factory, _, _),) = memoryReactor.tcpServers
    assert factory.wireCacheSize == 0
    with pytest.raises(usage.UsageError, match="0 answers or more"):
        parse("--pyzone", str(zones / "example.py"), "--wire-cache", "-1")


def test_secondaryTakesTwistedsFormAndOurs() -> None:
    options = parse(
        "--secondary", "192.0.2.1:5300/example.com", "--secondary", "example.net:192.0.2.9"
    )
    assert options.secondaries == [
        (("192.0.2.1", 5300), ["example.com"]),
        (("192.0.2.9", 53), ["example.net"]),
    ]
    services = [s for s in options.svcs if isinstance(s, secondary.SecondaryAuthorityService)]
    assert [a.domain for s in services for a in s.domains] == [b"example.com", b"example.net"]
    assert services[0].domains[0]._port == 5300
    options = parse("--secondary", "[2001:db8::1]:5300/example.com")
    assert options.secondaries[0][0] == ("2001:db8::1", 5300)


def test_secondaryIsStartedWithTheService(memoryReactor: MemoryReactor) -> None:
    options = parse("--secondary", "127.0.0.1:5300/example.com", "-p", "5353")
    made = tap.makeService(options)
    service = options.svcs[0]
    assert service.parent is made
    started: list[bool] = []
    service.domains[0].startRefreshing = lambda: started.append(True)  # type: ignore[method-assign]
    made.startService()
    assert started == [True]


def test_allowTransfer(zones: Path, memoryReactor: MemoryReactor) -> None:
    options = parse("--pyzone", str(zones / "example.py"), "--allow-transfer", "192.0.2.0/24")
    made = tap.makeService(options)
    made.startService()
    factory = memoryReactor.tcpServers[0][1]
    assert factory.transferFrom == [ipaddress.ip_network("192.0.2.0/24")]
    assert (
        len(parse("--pyzone", str(zones / "example.py"), "--allow-transfer", "any").transferFrom)
        == 2
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--port", "http"], "a port is a number"),
        (["--port", "0"], "a port is a number"),
        (["--secondary", "example.com"], "IP\\[:port\\]/domain"),
        (["--secondary", "ns.example.com/example.com"], "not an IP address"),
        (["--secondary", "192.0.2.1:99999/example.com"], "a port is a number"),
        (["--secondary", "192.0.2.1/bad..name"], "not a domain name"),
        (["--allow-transfer", "nonsense"], "--allow-transfer 'nonsense'"),
        ([], "nothing to serve"),
        (
            ["--pyzone", "/nonexistent/zone.py"],
            "--pyzone: the zone file /nonexistent/zone.py cannot be read",
        ),
    ],
)
def test_badOptions(args: list[str], words: str) -> None:
    with pytest.raises(usage.UsageError, match=words):
        parse(*args)


def test_brokenZoneFileIsAUsageErrorWithFileAndLine(tmp_path: Path) -> None:
    (tmp_path / "example.com").write_text("$TTL 60\n@ SOA ns1 root 1 2 3 4 5\nwww A 300.1.1.1\n")
    with pytest.raises(
        usage.UsageError, match=r"--bindzone: .*example\.com:3: '300\.1\.1\.1' is not"
    ):
        parse("--bindzone", str(tmp_path / "example.com"))
    (tmp_path / "bad.py").write_text("zone = [\n  A('x', )\n")
    with pytest.raises(usage.UsageError, match=r"--pyzone: .*bad\.py:1: "):
        parse("--pyzone", str(tmp_path / "bad.py"))


def test_resolvConfImpliesRecursive(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.1\n")
    options = parse("--resolv-conf", str(conf))
    assert options["recursive"]


def test_torsiondDnsBrokenZoneExitsWithTheError(tmp_path: Path) -> None:
    (tmp_path / "example.com").write_text("$TTL 60\n@ SOA ns1 root 1 2 3 4 5\nwww A 300.1.1.1\n")
    done = subprocess.run(
        [str(TORSIOND), "-n", "-o", "--pidfile=", "dns", "--bindzone", "example.com", "-p", "5399"],
        cwd=tmp_path, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2
    assert "example.com:3: '300.1.1.1' is not an IPv4 address" in done.stderr


@pytest.mark.skipif(shutil.which("dig") is None, reason="dig is not installed (bind9-dnsutils)")
def test_torsiondDnsServesAPythonZone(zones: Path) -> None:
    port = freePort()
    args = ["dns", "--pyzone", "example.py", "--port", str(port), "--interface", "127.0.0.1"]
    with runTorsiond(args, port, zones):
        out = subprocess.run(
            ["dig", "@127.0.0.1", "-p", str(port), "+short", "+time=3", "hello.example.com", "TXT"],
            capture_output=True, text=True, timeout=30,
        ).stdout  # fmt: skip
    assert out == '"from python"\n'


@pytest.mark.skipif(shutil.which("dig") is None, reason="dig is not installed (bind9-dnsutils)")
def test_torsiondDnsZoneThenCacheThenHostsFile(zones: Path) -> None:
    # resolv.conf names servers on port 53 only, so --recursive is shown in-process
    # (docs/names-server.md); the hosts file is a client of the same chain.
    port = freePort()
    (zones / "hosts").write_text("192.0.2.77 printer.lan\n")

    def dig(*args: str) -> str:
        return subprocess.run(
            ["dig", "@127.0.0.1", "-p", str(port), "+time=3", "+tries=1", *args],
            capture_output=True, text=True, timeout=30,
        ).stdout  # fmt: skip

    args = ["dns", "--pyzone", "example.py", "--cache", "--hosts-file", "hosts"]
    with runTorsiond([*args, "--port", str(port)], port, zones):
        zone = dig("hello.example.com", "TXT")
        assert '"from python"' in zone
        assert " aa" in zone.split("flags:")[1].split(";")[0]
        hosts = dig("printer.lan")
        assert "192.0.2.77" in hosts
        assert " ra" in hosts.split("flags:")[1].split(";")[0]
        assert "status: NXDOMAIN" in dig("nothere.example.com")
        assert "status: NXDOMAIN" in dig("unknown.lan")


@pytest.mark.skipif(shutil.which("dig") is None, reason="dig is not installed (bind9-dnsutils)")
def test_mktapDnsThenRunTheFile(zones: Path) -> None:
    port = freePort()
    torsion = TORSIOND.with_name("torsion")
    done = subprocess.run(
        [str(torsion), "mktap", "dns", "--pyzone", "example.py", "--bindzone",
         "example.org.zone", "--cache", "--port", str(port)],
        cwd=zones, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    with runTorsiond(["-f", "dns.tap"], port, zones):
        asked = (
            ("hello.example.com", "TXT", '"from python"'),
            ("ns1.example.org", "A", "192.0.2.2"),
        )
        for name, type, expected in asked:
            out = subprocess.run(
                ["dig", "@127.0.0.1", "-p", str(port), "+short", "+time=3", name, type],
                capture_output=True, text=True, timeout=30,
            ).stdout  # fmt: skip
            assert out.strip() == expected
