"""Tests for torsion.names.dns: round trips, compression, hostile input, fuzzing."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torsion.names import dns

RECORDS: list[tuple[int, dns._Record]] = [
    (dns.A, dns.Record_A("192.0.2.1")),
    (dns.AAAA, dns.Record_AAAA("2001:db8::1")),
    (dns.NS, dns.Record_NS(b"ns1.example.com")),
    (dns.CNAME, dns.Record_CNAME(b"www.example.com")),
    (dns.SOA, dns.Record_SOA(b"ns1.example.com", b"admin.example.com", 2024, 3600, 600, 86400, 60)),
    (dns.PTR, dns.Record_PTR(b"host.example.com")),
    (dns.MX, dns.Record_MX(10, b"mail.example.com")),
    (dns.TXT, dns.Record_TXT(b"v=spf1 -all", b"second")),
    (dns.SRV, dns.Record_SRV(1, 2, 5060, b"sip.example.com")),
    (dns.NAPTR, dns.Record_NAPTR(100, 10, b"U", b"E2U+sip", b"!^.*$!sip:a@b!", b"")),
    (dns.SSHFP, dns.Record_SSHFP(4, 2, bytes(range(32)))),
    (dns.CAA, dns.Record_CAA(0, b"issue", b"letsencrypt.org")),
    (dns.DNAME, dns.Record_DNAME(b"other.example.net")),
    (65280, dns.UnknownRecord(b"\x01\x02opaque")),
]


def roundTrip(m: dns.Message) -> dns.Message:
    out = dns.Message()
    out.fromStr(m.toStr())
    return out


@pytest.mark.parametrize("rtype,payload", RECORDS, ids=lambda v: type(v).__name__)
def test_roundTripEveryType(rtype: int, payload: dns._Record) -> None:
    m = dns.Message(id=77, answer=1, recDes=1, recAv=1, auth=1)
    m.addQuery(b"example.com", rtype)
    payload.ttl = 300
    m.answers.append(dns.RRHeader(b"example.com", rtype, dns.IN, 300, payload))
    back = roundTrip(m)
    assert back == m
    assert back.answers[0].payload == payload
    assert back.toStr() == m.toStr()


def test_addressesArePacked() -> None:
    a = dns.Record_A("192.0.2.1")
    assert a.address == bytes([192, 0, 2, 1])
    assert a.dottedQuad() == "192.0.2.1"
    aaaa = dns.Record_AAAA("2001:db8::1")
    assert len(aaaa.address) == 16 and aaaa.text() == "2001:db8::1"
    with pytest.raises(OSError):
        dns.Record_A("not an address")
    assert dns.Message().lookupRecordType(dns.MX) is dns.Record_MX
    assert dns.Message().lookupRecordType(4242) is dns.UnknownRecord


def test_ttlMayComeLastPositionally() -> None:
    """Twisted's record signatures end with the TTL, so zone files pass it last."""
    assert dns.Record_A("192.0.2.1", 3600).ttl == 3600
    assert dns.Record_MX(10, b"mail.example.com", 60).ttl == 60
    assert dns.Record_TXT(b"one", b"two", ttl=30).data == [b"one", b"two"]
    with pytest.raises(TypeError, match="at most 2 values and a TTL"):
        dns.Record_MX(10, b"mail.example.com", 60, 5)


def test_edns0() -> None:
    m = dns.Message(id=1)
    m.addQuery(b"example.com", dns.A)
    opt = dns.OPTHeader(1232, 0, 0, True, [dns._OPTVariableOption(10, b"cookie12")])
    m.additional.append(opt)
    back = roundTrip(m)
    assert back.additional == [opt]
    assert dns._OPTHeader is dns.OPTHeader


def test_compressionWritesANameOnce() -> None:
    m = dns.Message(id=1, answer=1)
    m.addQuery(b"example.com", dns.MX)
    mx = dns.Record_MX(5, b"mx.example.com")
    m.answers.append(dns.RRHeader(b"Example.COM", dns.MX, payload=mx))
    data = m.toStr()
    assert data.lower().count(b"example") == 1
    # The question's name sits at offset 12; the answer's owner is a pointer to it,
    # and the MX exchange is "mx" followed by a pointer to 12 too.
    nameEnd = 12 + len(b"\x07example\x03com\x00")
    assert data[nameEnd + 4 : nameEnd + 6] == b"\xc0\x0c"
    assert data.endswith(b"\x02mx\xc0\x0c")
    assert data[nameEnd + 4 + 10 + 2 :] == b"\x00\x05\x02mx\xc0\x0c"


def test_srvTargetNotCompressed() -> None:
    m = dns.Message()
    m.addQuery(b"example.com", dns.SRV)
    srv = dns.Record_SRV(0, 0, 1, b"example.com")
    m.answers.append(dns.RRHeader(b"example.com", dns.SRV, payload=srv))
    assert m.toStr().endswith(b"\x07example\x03com\x00")


def test_limitsOnEncode() -> None:
    with pytest.raises(ValueError):
        dns.Name(b"a" * 64 + b".com")
    with pytest.raises(ValueError):
        dns.Name(b".".join([b"a" * 60] * 5))
    with pytest.raises(ValueError):
        dns.Name(b"a..b")


HEADER = struct.pack("!6H", 1, 0, 1, 0, 0, 0)


def q(name: bytes) -> bytes:
    return HEADER + name + b"\x00\x01\x00\x01"


def answer(rdata: bytes, rtype: int = dns.A, rdlength: int | None = None) -> bytes:
    n = len(rdata) if rdlength is None else rdlength
    return (
        struct.pack("!6H", 1, 0, 0, 1, 0, 0)
        + b"\x00"
        + struct.pack("!HHIH", rtype, 1, 0, n)
        + rdata
    )


HOSTILE = {
    "short header": b"\x00\x01\x00",
    "pointer to itself": q(b"\xc0\x0c"),
    "pointer loop": HEADER + b"\x01a\xc0\x0e\x01b\xc0\x0c" + b"\x00\x01\x00\x01",
    "forward pointer": q(b"\xc0\x10\x00\x00\x01a\x00"),
    "truncated pointer": HEADER + b"\xc0",
    "reserved label type": q(b"\x80abc\x00"),
    "label over 63": q(b"\x40" + b"a" * 64 + b"\x00"),
    "name over 255": q(b"".join([b"\x3f" + b"a" * 63] * 4) + b"\x00"),
    "name over 255 via pointers": (
        struct.pack("!6H", 1, 0, 2, 0, 0, 0)
        + b"\x3f"
        + b"a" * 63
        + b"\x3f"
        + b"b" * 63
        + b"\x3f"
        + b"c" * 63
        + b"\x00\x00\x01\x00\x01"
        + b"\x3f"
        + b"d" * 63
        + b"\xc0\x0c\x00\x01\x00\x01"
    ),
    "dot in label": q(b"\x03a.b\x00"),
    "counts larger than message": struct.pack("!6H", 1, 0, 65535, 65535, 0, 0) + b"\x00" * 20,
    "question truncated": HEADER + b"\x07example",
    "question type truncated": HEADER + b"\x00\x00",
    "truncated rdata": answer(b"\x01\x02\x03\x04")[:-2],
    "rdlength past end": answer(b"\x01\x02\x03\x04", rdlength=9),
    "A rdlength too short": answer(b"\x01\x02\x03", rdlength=3),
    "A rdlength too long": answer(b"\x01\x02\x03\x04\x05"),
    "MX name past rdlength": answer(b"\x00\x01\x04mail\x00", dns.MX, rdlength=4) + b"\x00" * 4,
    "TXT string past rdlength": answer(b"\x09short", dns.TXT),
    "OPT owned by non-root": struct.pack("!6H", 1, 0, 0, 0, 0, 1)
    + b"\x01a\x00"
    + struct.pack("!HHIH", dns.OPT, 512, 0, 0),
    "OPT option past end": struct.pack("!6H", 1, 0, 0, 0, 0, 1)
    + b"\x00"
    + struct.pack("!HHIH", dns.OPT, 512, 0, 6)
    + b"\x00\x0a\x00\x09ab",
    "too big": b"\x00" * 65536,
}


@pytest.mark.parametrize("data", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostileMessagesRefused(data: bytes) -> None:
    with pytest.raises(dns.DNSParseError):
        dns.Message().fromStr(data)


def test_parseErrorIsValueError() -> None:
    assert issubclass(dns.DNSParseError, ValueError)


def test_backwardPointerChainAccepted() -> None:
    data = (
        struct.pack("!6H", 1, 0, 2, 0, 0, 0)
        + b"\x03com\x00\x00\x01\x00\x01"
        + b"\x07example\xc0\x0c\x00\x01\x00\x01"
    )
    m = dns.Message()
    m.fromStr(data)
    assert [x.name for x in m.queries] == [dns.Name(b"com"), dns.Name(b"example.com")]


def _messages() -> st.SearchStrategy[bytes]:
    valid = [dns.Message(id=i) for i in range(1)]
    for rtype, payload in RECORDS:
        valid[0].answers.append(dns.RRHeader(b"a.example.com", rtype, payload=payload))
    base = valid[0].toStr()
    mutated = st.tuples(st.integers(0, len(base) - 1), st.integers(0, 255)).map(
        lambda t: base[: t[0]] + bytes([t[1]]) + base[t[0] + 1 :]
    )
    truncated = st.integers(0, len(base)).map(lambda n: base[:n])
    return st.one_of(
        st.binary(max_size=600),
        mutated,
        truncated,
        st.binary(max_size=40).map(lambda b: HEADER[:4] + b"\x00\x01" * 2 + b"\x00\x00" * 2 + b),
    )


@settings(max_examples=400, deadline=None)
@given(_messages())
def test_fuzzDecodeOrParseError(data: bytes) -> None:
    m = dns.Message()
    try:
        m.fromStr(data)
    except dns.DNSParseError:
        return
    once = m.toStr()
    again = dns.Message()
    again.fromStr(once)
    assert again == m
    assert again.toStr() == once


_label = st.binary(min_size=1, max_size=63).filter(lambda b: b"." not in b)
_names = st.lists(_label, max_size=4).map(b".".join)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_names, st.sampled_from(RECORDS)), max_size=8), _names)
def test_builtMessagesRoundTrip(
    rrs: list[tuple[bytes, tuple[int, dns._Record]]], qname: bytes
) -> None:
    m = dns.Message(id=9, answer=1)
    m.addQuery(qname, dns.A)
    for owner, (rtype, payload) in rrs:
        m.answers.append(dns.RRHeader(owner, rtype, dns.IN, 0, payload))
    back = roundTrip(m)
    assert back.queries == m.queries
    # Twisted's records compare their TTL too; the decoded ones carry the RR's.
    assert [(r.name, r.type, type(r.payload), r.payload._values()) for r in back.answers] == [
        (r.name, r.type, type(r.payload), r.payload._values()) for r in m.answers
    ]


def test_streamEncodeDecode() -> None:
    import io

    m = dns.Message(id=3)
    m.addQuery(b"example.com")
    stream = io.BytesIO()
    m.encode(stream)
    stream.seek(0)
    back = dns.Message()
    back.decode(stream)
    assert back == m
