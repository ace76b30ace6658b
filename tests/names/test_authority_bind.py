"""The BIND zone file parser (torsion.names._bindzone) and BindAuthority's loading."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torsion.names import authority, dns
from torsion.names._bindzone import ZoneFileError, parseTime, parseZone

SOA = "@ IN SOA ns1 hostmaster 1 3h 15m 1w 5m\n"


def parsed(text: str, origin: str = "example.com") -> list[tuple[bytes, int, dns._Record]]:
    return [(owner, ttl, record) for owner, ttl, record, _ in parseZone(text, origin, "z.db")]


def test_relativeNamesAtAndOriginDirective() -> None:
    entries = parsed(
        "$TTL 60\n" + SOA + "www A 192.0.2.1\n@ A 192.0.2.2\nabs.other.org. A 192.0.2.3\n"
        "$ORIGIN sub.example.com.\nhost A 192.0.2.4\n"
    )
    owners = [owner for owner, _, _ in entries]
    assert owners == [
        b"example.com",
        b"www.example.com",
        b"example.com",
        b"abs.other.org",
        b"host.sub.example.com",
    ]


def test_ttlDefaults() -> None:
    # No $TTL: the SOA's minimum, then the last explicit TTL; $TTL wins from then on.
    entries = parsed(
        SOA + "a A 192.0.2.1\nb 77 A 192.0.2.1\nc A 192.0.2.1\n$TTL 2h\nd A 192.0.2.1\n"
    )
    assert [ttl for _, ttl, _ in entries] == [300, 300, 77, 77, 7200]
    assert all(record.ttl == ttl for _, ttl, record in entries)


def test_ttlAndClassInEitherOrder() -> None:
    entries = parsed(SOA + "a 1d IN A 192.0.2.1\nb IN 1w A 192.0.2.1\n")
    assert [ttl for _, ttl, _ in entries[1:]] == [86400, 604800]


def test_parenthesesSpanLinesAndCommentsAreIgnored() -> None:
    entries = parsed(
        "@ IN SOA ns1.example.com. hostmaster.example.com. ( ; the SOA\n"
        "   2024010101 ; serial\n   1h ; refresh\n   15m 1w\n   5m )\n"
    )
    soa = entries[0][2]
    assert isinstance(soa, dns.Record_SOA)
    assert (soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum) == (
        2024010101,
        3600,
        900,
        604800,
        300,
    )
    assert soa.mname == dns.Name(b"ns1.example.com")


def test_indentedLineKeepsTheOwner() -> None:
    entries = parsed(SOA + "mail A 192.0.2.1\n     AAAA 2001:db8::1\n")
    assert [owner for owner, _, _ in entries[1:]] == [b"mail.example.com"] * 2


def test_multiStringTxtWithEscapes() -> None:
    entries = parsed(
        SOA + 't TXT "hello world" "say \\"hi\\"" bare "\\065\\066" ";not a comment"\n'
    )
    record = entries[1][2]
    assert isinstance(record, dns.Record_TXT)
    assert record.data == [b"hello world", b'say "hi"', b"bare", b"AB", b";not a comment"]


def test_everyType() -> None:
    entries = parsed(
        SOA + "@ NS ns1\n@ MX 10 mail\nns1 A 192.0.2.1\nmail AAAA 2001:db8::25\n"
        "www CNAME ns1\n1.2 PTR host.example.com.\n_sip._tcp SRV 0 5 5060 sip\n"
        'n NAPTR 100 10 "u" "E2U+sip" "!^.*$!sip:a@example.com!" .\n'
        "s SSHFP 1 1 dd465c09cfa51fb4 5020cc83316fff21b9ec74ac\n"
        'c CAA 0 issue "ca.example.net"\nd DNAME other.org.\n'
    )
    byType = {type(record): record for _, _, record in entries}
    assert byType[dns.Record_MX].name == dns.Name(b"mail.example.com")
    assert byType[dns.Record_AAAA].address == bytes.fromhex("20010db8" + "0" * 22 + "25")
    assert byType[dns.Record_SRV].target == dns.Name(b"sip.example.com")
    assert byType[dns.Record_NAPTR].service == b"E2U+sip"
    assert byType[dns.Record_SSHFP].fingerprint == bytes.fromhex(
        "dd465c09cfa51fb45020cc83316fff21b9ec74ac"
    )
    assert (byType[dns.Record_CAA].tag, byType[dns.Record_CAA].value) == (
        b"issue",
        b"ca.example.net",
    )
    assert byType[dns.Record_DNAME].name == dns.Name(b"other.org")
    assert byType[dns.Record_PTR].name == dns.Name(b"host.example.com")


def test_genericRfc3597Form() -> None:
    entries = parsed(SOA + "x TYPE99 \\# 3 abcdef\ny TYPE1 \\# 4 C0000201\nz TYPE65 \\# 0\n")
    unknown = entries[1][2]
    assert isinstance(unknown, dns.UnknownRecord)
    assert (unknown.data, unknown.TYPE) == (b"\xab\xcd\xef", 99)
    known = entries[2][2]
    assert isinstance(known, dns.Record_A) and known.dottedQuad() == "192.0.2.1"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("@ IN SOA a b 1 2 3 4\n", 1, "SOA record takes"),
        (SOA + "x A 1.2.3\n", 2, "not an IPv4 address"),
        (SOA + "x AAAA 192.0.2.1\n", 2, "not an IPv6 address"),
        (SOA + "\nx A (192.0.2.1\n", 3, "never closed"),
        (SOA + "x A 192.0.2.1 )\n", 2, "without its"),
        (SOA + 'x TXT "open\n', 2, "not closed"),
        (SOA + "x FOO 1\n", 2, "not a TTL, class or record type"),
        (SOA + "x CH A 192.0.2.1\n", 2, "only class IN"),
        ("x A 192.0.2.1\n", 1, "no TTL"),
        ("  A 192.0.2.1\n", 1, "no owner"),
        (SOA + "x MX 70000 mail\n", 2, "preference must be a number"),
        (SOA + "x 1q A 192.0.2.1\n", 2, "not a time value"),
        (SOA + "$TTL soon\n", 2, "not a time value"),
        (SOA + "$GENERATE 1-10 h$ A 192.0.2.$\n", 2, "not a directive"),
        (SOA + "$INCLUDE other.zone\n", 2, "not allowed"),
        (SOA + "x TXT " + '"' + "a" * 256 + '"\n', 2, "at most 255 bytes"),
        (SOA + "x TYPE99 \\# 4 abcd\n", 2, "length says 4"),
        (SOA + "x TYPE1 \\# 2 abcd\n", 2, "not a valid type 1 record"),
        (SOA + ("a" * 64) + " A 192.0.2.1\n", 2, "longer than 63"),
        (SOA + "x SSHFP 1 1 zz\n", 2, "not hexadecimal"),
        (SOA + "x A\n", 2, "takes one IPv4 address"),
        (SOA + "x\n", 2, "no type"),
        (SOA + "x CNAME\n", 2, "one name"),
    ],
)
def test_errorsNameFileAndLine(text: str, line: int, words: str) -> None:
    with pytest.raises(ZoneFileError, match=f"^z\\.db:{line}: .*{words}"):
        parseZone(text, "example.com", "z.db")


def test_parseTime() -> None:
    assert parseTime("3600") == 3600
    assert parseTime("1h30m") == 5400
    assert parseTime("1W2D") == 9 * 86400
    for bad in ("", "h", "1x", "h1", "1h 2"):
        with pytest.raises(ValueError):
            parseTime(bad)
    with pytest.raises(ValueError, match="over"):
        parseTime("99999w")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_garbageIsAZoneFileErrorOrParses(data: bytes) -> None:
    try:
        parseZone(data, "example.com", "z.db")
    except ZoneFileError as e:
        assert str(e).startswith("z.db:")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet='ab. @$;()"\\\n\t019INAXTMSOhmwd', max_size=120))
def test_zoneLikeTextIsAZoneFileErrorOrParses(text: str) -> None:
    try:
        parseZone(SOA + text, "example.com", "z.db")
    except ZoneFileError as e:
        assert str(e).startswith("z.db:")


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_includeInsideTheDirectoryWithItsOwnOrigin(tmp_path: Path) -> None:
    write(tmp_path / "hosts.inc", "h1 A 192.0.2.1\n")
    zone = write(
        tmp_path / "example.com.zone",
        "$TTL 60\n"
        + SOA
        + "$INCLUDE hosts.inc\n$INCLUDE hosts.inc lab.example.com.\nafter A 192.0.2.9\n",
    )
    made = authority.BindAuthority(zone)
    assert set(made.records) == {
        b"example.com",
        b"h1.example.com",
        b"h1.lab.example.com",
        b"after.example.com",
    }


def test_includeOutsideTheDirectoryIsRefused(tmp_path: Path) -> None:
    (tmp_path / "zones").mkdir()
    write(tmp_path / "secret", "x A 192.0.2.1\n")
    zone = write(tmp_path / "zones" / "example.com", "$TTL 60\n" + SOA + "$INCLUDE ../secret\n")
    with pytest.raises(ZoneFileError, match=r"example\.com:3: .*only files inside"):
        authority.BindAuthority(zone)


def test_includeLoopIsCutShort(tmp_path: Path) -> None:
    write(tmp_path / "loop.inc", "$INCLUDE loop.inc\n")
    zone = write(tmp_path / "example.com", "$TTL 60\n" + SOA + "$INCLUDE loop.inc\n")
    with pytest.raises(ZoneFileError, match="nested more than"):
        authority.BindAuthority(zone)


def test_errorInAnIncludedFileNamesThatFile(tmp_path: Path) -> None:
    write(tmp_path / "bad.inc", "ok A 192.0.2.1\nbad A nope\n")
    zone = write(tmp_path / "example.com", "$TTL 60\n" + SOA + "$INCLUDE bad.inc\n")
    with pytest.raises(ZoneFileError, match=r"bad\.inc:2: 'nope' is not an IPv4"):
        authority.BindAuthority(zone)


def test_originFromTheFileName(tmp_path: Path) -> None:
    for name in ("example.org", "example.org.zone", "example.org.db"):
        zone = write(tmp_path / name, "$TTL 60\n" + SOA + "www A 192.0.2.1\n")
        made = authority.BindAuthority(zone)
        assert made.soa is not None and made.soa[0] == b"example.org"
        assert b"www.example.org" in made.records


def test_explicitOrigin(tmp_path: Path) -> None:
    zone = write(tmp_path / "anything.txt", "$TTL 60\n" + SOA)
    made = authority.BindAuthority(zone, origin="example.net")
    assert made.soa is not None and made.soa[0] == b"example.net"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("$TTL 60\nwww A 192.0.2.1\n", "no SOA record"),
        ("$TTL 60\n" + SOA + SOA, ":3: a second SOA"),
        ("$TTL 60\n" + SOA + "x.other.org. A 192.0.2.1\n", ":3: 'x.other.org' is outside the zone"),
        ("$TTL 60\n" + SOA + "w CNAME a\nw A 192.0.2.1\n", ":4: 'w.example.com' has a CNAME"),
        ("$TTL 60\n" + SOA + "w A 192.0.2.1\nw CNAME a\n", ":4: 'w.example.com' has a CNAME"),
    ],
)
def test_zoneLevelErrors(tmp_path: Path, text: str, words: str) -> None:
    zone = write(tmp_path / "example.com", text)
    with pytest.raises(ZoneFileError, match=words):
        authority.BindAuthority(zone)


def test_missingFile(tmp_path: Path) -> None:
    with pytest.raises(ZoneFileError, match="cannot be read"):
        authority.BindAuthority(tmp_path / "nothere.zone")
