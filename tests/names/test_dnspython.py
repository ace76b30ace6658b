"""Cross-checks of torsion.names.dns against dnspython, an independent codec."""

from __future__ import annotations

import pytest

from torsion.names import dns as tdns

dnsmsg = pytest.importorskip("dns.message", reason="dnspython is in the test extra")
drrset = pytest.importorskip("dns.rrset")
drdata = pytest.importorskip("dns.rdata")
dclass = pytest.importorskip("dns.rdataclass")
dtype = pytest.importorskip("dns.rdatatype")

ZONE = [
    ("A", "192.0.2.7"),
    ("AAAA", "2001:db8::7"),
    ("NS", "ns1.example.com."),
    ("CNAME", "alias.example.com."),
    ("SOA", "ns1.example.com. admin.example.com. 7 3600 600 86400 60"),
    ("PTR", "host.example.com."),
    ("MX", "10 mail.example.com."),
    ("TXT", '"hello world" "two"'),
    ("SRV", "1 2 5060 sip.example.com."),
    ("NAPTR", '100 10 "U" "E2U+sip" "!^.*$!sip:x@example.com!" .'),
    ("SSHFP", "4 2 " + "ab" * 32),
    ("CAA", '0 issue "letsencrypt.org"'),
    ("DNAME", "other.example.net."),
    ("TYPE65280", r"\# 3 010203"),
]

OURS: dict[str, tdns._Record] = {
    "A": tdns.Record_A("192.0.2.7"),
    "AAAA": tdns.Record_AAAA("2001:db8::7"),
    "NS": tdns.Record_NS(b"ns1.example.com"),
    "CNAME": tdns.Record_CNAME(b"alias.example.com"),
    "SOA": tdns.Record_SOA(b"ns1.example.com", b"admin.example.com", 7, 3600, 600, 86400, 60),
    "PTR": tdns.Record_PTR(b"host.example.com"),
    "MX": tdns.Record_MX(10, b"mail.example.com"),
    "TXT": tdns.Record_TXT(b"hello world", b"two"),
    "SRV": tdns.Record_SRV(1, 2, 5060, b"sip.example.com"),
    "NAPTR": tdns.Record_NAPTR(100, 10, b"U", b"E2U+sip", b"!^.*$!sip:x@example.com!", b""),
    "SSHFP": tdns.Record_SSHFP(4, 2, bytes.fromhex("ab" * 32)),
    "CAA": tdns.Record_CAA(0, b"issue", b"letsencrypt.org"),
    "DNAME": tdns.Record_DNAME(b"other.example.net"),
    "TYPE65280": tdns.UnknownRecord(b"\x01\x02\x03"),
}


def test_dnspythonMessagesDecode() -> None:
    query = dnsmsg.make_query("example.com.", "A", use_edns=0, payload=1232)
    response = dnsmsg.make_response(query)
    for rtype, text in ZONE:
        response.answer.append(drrset.from_text("example.com.", 300, "IN", rtype, text))
    wire = response.to_wire()
    m = tdns.Message()
    m.fromStr(wire)
    assert m.answer == 1
    assert [q.name for q in m.queries] == [tdns.Name(b"example.com")]
    assert len(m.answers) == len(ZONE)
    for rr, (rtype, _) in zip(m.answers, ZONE, strict=True):
        expected = OURS[rtype]
        expected.ttl = 300
        assert isinstance(rr, tdns.RRHeader)
        assert rr.name == tdns.Name(b"example.com")
        assert rr.payload == expected, rtype
    assert isinstance(m.additional[0], tdns.OPTHeader)
    assert m.additional[0].udpPayloadSize == response.payload


def test_oursDecodeWithDnspython() -> None:
    m = tdns.Message(id=4321, answer=1, recDes=1)
    m.addQuery(b"example.com", tdns.A)
    for rtype, _ in ZONE:
        payload = OURS[rtype]
        code = int(rtype[4:]) if rtype.startswith("TYPE") else getattr(tdns, rtype)
        m.answers.append(tdns.RRHeader(b"example.com", code, tdns.IN, 300, payload))
    m.additional.append(tdns.OPTHeader(1232, dnssecOK=True))
    theirs = dnsmsg.from_wire(m.toStr())
    assert theirs.id == 4321
    assert theirs.payload == 1232
    texts = [rrset[0].to_text() for rrset in theirs.answer]
    for got, (rtype, text) in zip(theirs.answer, ZONE, strict=True):
        want = drdata.from_text(dclass.IN, dtype.from_text(rtype), text)
        assert got[0] == want, (rtype, texts)
