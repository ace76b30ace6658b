"""``torsiond dns`` as a child process, asked by real clients: dig (bind9-dnsutils) and
dnspython. Every record type, NXDOMAIN and NODATA, TCP, truncation and the retry over
TCP, a large answer, AXFR, and hostile datagrams while another client keeps being
answered. One server serves the whole module.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from tests.tap._torsiond import freePort, runTorsiond

pytestmark = pytest.mark.skipif(
    shutil.which("dig") is None, reason="dig is not installed (Debian: bind9-dnsutils)"
)
dnsmessage = pytest.importorskip("dns.message", reason="dnspython is in the test extra")
dnsquery = pytest.importorskip("dns.query")
dnsresolver = pytest.importorskip("dns.resolver")
dnsrdatatype = pytest.importorskip("dns.rdatatype")
dnsflags = pytest.importorskip("dns.flags")
dnsrcode = pytest.importorskip("dns.rcode")

SSHFP = "dd465c09cfa51fb45020cc83316fff21b9ec74ac"
ZONE = f"""$ORIGIN example.com.
$TTL 1h
@       IN SOA ns1 hostmaster ( 2024010101 3h 15m 1w 5m )
        IN NS  ns1
        IN MX  10 mail
ns1     IN A   192.0.2.1
mail    IN A   192.0.2.25
        IN AAAA 2001:db8::25
www     IN CNAME ns1
txt     IN TXT "hello world" "second string"
_sip._tcp IN SRV 0 5 5060 sip
sip     IN A   192.0.2.50
napt    IN NAPTR 100 10 "u" "E2U+sip" "!^.*$!sip:info@example.com!" .
ssh     IN SSHFP 1 1 {SSHFP}
@       IN CAA 0 issue "ca.example.net"
old     IN DNAME example.net.
1.2.0.192.in-addr IN PTR ns1
opaque  IN TYPE65280 \\# 3 010203
*.wild  IN A   192.0.2.99
sub     IN NS  ns.sub
ns.sub  IN A   192.0.2.53
"""
MANY = 120
BIG_TXT = 300


def dig(port: int, *args: str) -> str:
    result = subprocess.run(
        ["dig", "@127.0.0.1", "-p", str(port), "+time=3", "+tries=1", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result.stdout


def short(port: int, *args: str) -> list[str]:
    return dig(port, "+short", *args).split("\n")[:-1]


@pytest.fixture(scope="module")
def dnsServer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    directory = tmp_path_factory.mktemp("dig")
    lines = [ZONE]
    lines += [f"many IN A 10.0.{i // 250}.{i % 250 + 1}\n" for i in range(MANY)]
    lines += [f'bigtxt IN TXT "{i:04d}{"x" * 200}"\n' for i in range(BIG_TXT)]
    (directory / "example.com.zone").write_text("".join(lines))
    port = freePort()
    with runTorsiond(
        ["dns", "--bindzone", "example.com.zone", "--port", str(port)], port, directory
    ):
        yield port


@pytest.mark.parametrize(
    ("name", "type", "expected"),
    [
        ("ns1.example.com", "A", ["192.0.2.1"]),
        ("mail.example.com", "AAAA", ["2001:db8::25"]),
        ("example.com", "NS", ["ns1.example.com."]),
        ("www.example.com", "CNAME", ["ns1.example.com."]),
        (
            "example.com",
            "SOA",
            ["ns1.example.com. hostmaster.example.com. 2024010101 10800 900 604800 300"],
        ),
        ("1.2.0.192.in-addr.example.com", "PTR", ["ns1.example.com."]),
        ("example.com", "MX", ["10 mail.example.com."]),
        ("txt.example.com", "TXT", ['"hello world" "second string"']),
        ("_sip._tcp.example.com", "SRV", ["0 5 5060 sip.example.com."]),
        ("napt.example.com", "NAPTR", ['100 10 "u" "E2U+sip" "!^.*$!sip:info@example.com!" .']),
        ("ssh.example.com", "SSHFP", [f"1 1 {SSHFP.upper()}"]),
        ("example.com", "CAA", ['0 issue "ca.example.net"']),
        ("old.example.com", "DNAME", ["example.net."]),
        ("opaque.example.com", "TYPE65280", ["\\# 3 010203"]),
        ("www.example.com", "A", ["ns1.example.com.", "192.0.2.1"]),
        ("anything.wild.example.com", "A", ["192.0.2.99"]),
    ],
)
def test_digGetsEachRecordType(dnsServer: int, name: str, type: str, expected: list[str]) -> None:
    got = short(dnsServer, name, type)
    if type == "SSHFP":
        got = [g.replace(" ", "").upper() for g in got]
        expected = [e.replace(" ", "").upper() for e in expected]
    assert got == expected


def test_digNxdomainWithSoaAndAuthoritativeFlag(dnsServer: int) -> None:
    out = dig(dnsServer, "nothere.example.com", "A")
    assert "status: NXDOMAIN" in out
    assert " aa" in out.split("flags:")[1].split(";")[0]
    assert "AUTHORITY: 1" in out and "IN\tSOA\tns1.example.com." in out


def test_digNoData(dnsServer: int) -> None:
    out = dig(dnsServer, "ns1.example.com", "MX")
    assert "status: NOERROR" in out and "ANSWER: 0" in out and "AUTHORITY: 1" in out


def test_digReferral(dnsServer: int) -> None:
    out = dig(dnsServer, "+norec", "host.sub.example.com", "A")
    assert "status: NOERROR" in out and "ANSWER: 0" in out
    assert "sub.example.com.\t3600\tIN\tNS\tns.sub.example.com." in out
    assert "ns.sub.example.com.\t3600\tIN\tA\t192.0.2.53" in out
    assert " aa" not in out.split("flags:")[1].split(";")[0]


def test_digRefusedForOtherZones(dnsServer: int) -> None:
    assert "status: REFUSED" in dig(dnsServer, "www.example.org", "A")


def test_digOverTcp(dnsServer: int) -> None:
    out = dig(dnsServer, "+tcp", "ns1.example.com", "A")
    assert "192.0.2.1" in out and "(TCP)" in out


def test_digWithoutEdnsSeesTruncation(dnsServer: int) -> None:
    out = dig(dnsServer, "+ignore", "+noedns", "many.example.com", "A")
    flags = out.split("flags:")[1].split(";")[0]
    assert " tc" in flags
    size = int(out.split("MSG SIZE  rcvd: ")[1].split()[0])
    assert size <= 512


def test_digRetriesOverTcpAndGetsTheWholeAnswer(dnsServer: int) -> None:
    out = dig(dnsServer, "+noedns", "many.example.com", "A")
    assert "Truncated, retrying in TCP mode" in out
    assert f"ANSWER: {MANY}," in out


def test_digEdnsAnswerThatFitsIsNotTruncated(dnsServer: int) -> None:
    out = dig(dnsServer, "+bufsize=4096", "+ignore", "mail.example.com", "AAAA")
    assert " tc" not in out.split("flags:")[1].split(";")[0]
    assert "udp: 1232" in out


def test_digLargeAnswerOverTcp(dnsServer: int) -> None:
    out = dig(dnsServer, "+tcp", "bigtxt.example.com", "TXT")
    assert f"ANSWER: {BIG_TXT}," in out
    assert int(out.split("MSG SIZE  rcvd: ")[1].split()[0]) > 60000


def test_digAxfr(dnsServer: int) -> None:
    out = dig(dnsServer, "axfr", "example.com")
    records = [line for line in out.split("\n") if line and not line.startswith(";")]
    assert records[0].split()[3] == "SOA" and records[-1].split()[3] == "SOA"
    assert f"XFR size: {len(records)} records" in out
    assert len(records) == 2 + 18 + MANY + BIG_TXT
    assert any("\tCAA\t" in r for r in records)


def test_dnspythonResolver(dnsServer: int) -> None:
    resolver = dnsresolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = dnsServer
    resolver.lifetime = 5
    mx = resolver.resolve("example.com", "MX")
    assert [(r.preference, str(r.exchange)) for r in mx] == [(10, "mail.example.com.")]
    srv = resolver.resolve("_sip._tcp.example.com", "SRV")
    assert [(r.port, str(r.target)) for r in srv] == [(5060, "sip.example.com.")]
    txt = resolver.resolve("txt.example.com", "TXT")
    assert [r.strings for r in txt] == [(b"hello world", b"second string")]
    many = resolver.resolve("many.example.com", "A")  # truncated over UDP, then TCP
    assert len(many) == MANY
    with pytest.raises(dnsresolver.NXDOMAIN):
        resolver.resolve("nothere.example.com", "A")
    with pytest.raises(dnsresolver.NoAnswer):
        resolver.resolve("ns1.example.com", "MX")


def test_dnspythonUdpWithEdnsPayloads(dnsServer: int) -> None:
    for payload, truncated in ((512, True), (1232, True), (4096, True)):
        q = dnsmessage.make_query("many.example.com", "A", use_edns=0, payload=payload)
        r = dnsquery.udp(q, "127.0.0.1", port=dnsServer, timeout=5)
        assert bool(r.flags & dnsflags.TC) is truncated
        assert len(r.to_wire()) <= min(payload, 1232)
    q = dnsmessage.make_query("mail.example.com", "A", use_edns=0, payload=4096)
    r = dnsquery.udp(q, "127.0.0.1", port=dnsServer, timeout=5)
    assert r.edns == 0 and r.payload == 1232
    # An answer of one MX whose addresses do not all fit loses additional records only.
    q = dnsmessage.make_query("example.com", "MX")
    r = dnsquery.udp(q, "127.0.0.1", port=dnsServer, timeout=5)
    assert not r.flags & dnsflags.TC and len(r.answer) == 1


def test_dnspythonAxfr(dnsServer: int) -> None:
    import dns.zone

    zone = dns.zone.from_xfr(dnsquery.xfr("127.0.0.1", "example.com", port=dnsServer, timeout=10))
    assert zone.get_rdataset("ns1", "A") is not None
    assert len(zone.get_rdataset("many", "A")) == MANY
    assert zone.get_rdataset("@", "SOA")[0].serial == 2024010101


def test_hostileDatagramsDoNotStopTheServer(dnsServer: int) -> None:
    header = bytes.fromhex("beef 0100")
    hostile = [
        b"",
        b"\x00",
        bytes(11),
        header + bytes.fromhex("0001 0000 0000 0000") + b"\xc0\x0c\x00\x01\x00\x01",  # loop
        header + bytes.fromhex("0001 0000 0000 0000") + b"\xc0\x20\x00\x01\x00\x01",  # forward
        header + bytes.fromhex("ffff ffff ffff ffff"),  # lying counts
        header + bytes.fromhex("0001 0000 0000 0000") + (b"\x3f" + b"a" * 63) * 5 + b"\0\0\1\0\1",
        bytes.fromhex("beef 8000 0001 0000 0000 0000") + b"\x00\x00\x01\x00\x01",  # a response
        bytes(range(256)) * 4,
    ]
    answered: list[bool] = []
    stop = threading.Event()

    def goodClient() -> None:
        while not stop.is_set():
            q = dnsmessage.make_query("ns1.example.com", "A")
            try:
                r = dnsquery.udp(q, "127.0.0.1", port=dnsServer, timeout=2)
                answered.append(r.rcode() == dnsrcode.NOERROR and len(r.answer) == 1)
            except Exception:
                answered.append(False)

    worker = threading.Thread(target=goodClient, daemon=True)
    worker.start()
    try:
        formerr = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.3)
            for _ in range(20):
                for data in hostile:
                    s.sendto(data, ("127.0.0.1", dnsServer))
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                try:
                    reply = s.recv(4096)
                except TimeoutError:
                    break
                assert reply[:2] in (b"\xbe\xef", b"\x00\x01") and reply[3] & 0x0F == 1  # FORMERR
                formerr += 1
        assert formerr > 0
        time.sleep(0.3)
    finally:
        stop.set()
        worker.join(timeout=10)
    assert answered and all(answered)
    assert "192.0.2.1" in short(dnsServer, "ns1.example.com", "A")
