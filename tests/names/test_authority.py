"""FileAuthority's answers (RFC 1034 4.3.2, RFC 2308, RFC 4592) and PySourceAuthority."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from torsion.names import authority, dns
from torsion.names.error import AuthoritativeDomainError, DomainError
from torsion.python.failure import Failure

ZONE = """
zone = [
    SOA("example.com", mname="ns1.example.com", rname="hostmaster.example.com",
        serial=2024010101, refresh="1H", retry="15M", expire="1W", minimum="5M", ttl="1H"),
    NS("example.com", "ns1.example.com"),
    MX("example.com", 10, "mail.example.com"),
    A("ns1.example.com", "192.0.2.1"),
    A("mail.example.com", "192.0.2.25", ttl=60),
    AAAA("mail.example.com", "2001:db8::25", ttl=60),
    CNAME("www.example.com", "host.example.com"),
    A("host.example.com", "192.0.2.80"),
    CNAME("loop1.example.com", "loop2.example.com"),
    CNAME("loop2.example.com", "loop1.example.com"),
    CNAME("dangling.example.com", "gone.example.com"),
    CNAME("away.example.com", "www.example.org"),
    A("*.wild.example.com", "192.0.2.99"),
    TXT("*.wild.example.com", "wild"),
    A("real.wild.example.com", "192.0.2.98"),
    TXT("a.b.c.example.com", "deep"),
    NS("sub.example.com", "ns.sub.example.com"),
    NS("sub.example.com", "ns.elsewhere.org"),
    A("ns.sub.example.com", "192.0.2.53"),
    SRV("_sip._tcp.example.com", 0, 5, 5060, "host.example.com"),
]
"""


@pytest.fixture
def zone(tmp_path: Path) -> authority.PySourceAuthority:
    path = tmp_path / "example.py"
    path.write_text(ZONE)
    return authority.PySourceAuthority(str(path))


def answer(zone: authority.FileAuthority, name: str, type: int) -> Any:
    results: list[Any] = []
    zone._lookup(name.encode(), dns.IN, type, None).addBoth(results.append)
    return results[0]


def names(rrs: list[dns.RRHeader]) -> list[tuple[str, int]]:
    return [(str(rr.name), rr.type) for rr in rrs]


def test_positiveAnswerIsAuthoritativeWithAdditionalAddresses(zone: Any) -> None:
    answers, auth, additional = answer(zone, "example.com", dns.MX)
    assert names(answers) == [("example.com", dns.MX)]
    assert all(rr.auth for rr in answers)
    assert auth == []
    assert names(additional) == [("mail.example.com", dns.A), ("mail.example.com", dns.AAAA)]


def test_ttls(zone: Any) -> None:
    answers, _, _ = answer(zone, "mail.example.com", dns.A)
    assert answers[0].ttl == 60
    # No TTL given: the SOA's own TTL.
    answers, _, _ = answer(zone, "ns1.example.com", dns.A)
    assert answers[0].ttl == 3600


def test_nameLookupIgnoresCase(zone: Any) -> None:
    answers, _, _ = answer(zone, "NS1.Example.COM", dns.A)
    assert answers[0].payload.dottedQuad() == "192.0.2.1"


def test_noDataHasTheSoaInAuthorityWithTheNegativeTtl(zone: Any) -> None:
    answers, auth, additional = answer(zone, "ns1.example.com", dns.MX)
    assert answers == [] and additional == []
    assert names(auth) == [("example.com", dns.SOA)]
    assert auth[0].ttl == 300  # min(SOA TTL, minimum): RFC 2308 5
    assert auth[0].auth


def test_nxdomainIsAuthoritativeAndCarriesTheSoa(zone: Any) -> None:
    failure = answer(zone, "nothere.example.com", dns.A)
    assert isinstance(failure, Failure)
    assert failure.check(AuthoritativeDomainError)
    response = failure.value.args[0]
    assert isinstance(response, dns.Message)
    assert names(response.authority) == [("example.com", dns.SOA)]


def test_emptyNonTerminalIsNoDataNotNxdomain(zone: Any) -> None:
    for name in ("b.c.example.com", "c.example.com"):
        answers, auth, _ = answer(zone, name, dns.A)
        assert answers == [] and names(auth) == [("example.com", dns.SOA)]


def test_nameOutsideTheZoneIsNotOurs(zone: Any) -> None:
    for name in ("example.org", "notexample.com", "com"):
        failure = answer(zone, name, dns.A)
        assert type(failure.value) is DomainError


def test_cnameIsChasedInsideTheZone(zone: Any) -> None:
    answers, auth, _ = answer(zone, "www.example.com", dns.A)
    assert names(answers) == [("www.example.com", dns.CNAME), ("host.example.com", dns.A)]
    assert auth == []


def test_cnameQueryGetsTheCnameOnly(zone: Any) -> None:
    answers, _, _ = answer(zone, "www.example.com", dns.CNAME)
    assert names(answers) == [("www.example.com", dns.CNAME)]


def test_cnameToANameWithoutTheTypeIsNoData(zone: Any) -> None:
    answers, auth, _ = answer(zone, "www.example.com", dns.MX)
    assert names(answers) == [("www.example.com", dns.CNAME)]
    assert names(auth) == [("example.com", dns.SOA)]


def test_cnameLoopEnds(zone: Any) -> None:
    answers, _, _ = answer(zone, "loop1.example.com", dns.A)
    assert names(answers) == [("loop1.example.com", dns.CNAME), ("loop2.example.com", dns.CNAME)]


def test_cnameToAMissingNameIsNxdomainWithTheChain(zone: Any) -> None:
    failure = answer(zone, "dangling.example.com", dns.A)
    response = failure.value.args[0]
    assert names(response.answers) == [("dangling.example.com", dns.CNAME)]
    assert names(response.authority) == [("example.com", dns.SOA)]


def test_cnameOutOfTheZoneStopsThere(zone: Any) -> None:
    answers, auth, _ = answer(zone, "away.example.com", dns.A)
    assert names(answers) == [("away.example.com", dns.CNAME)]
    assert auth == []


def test_wildcardSynthesisesRecordsForTheQueriedName(zone: Any) -> None:
    answers, _, _ = answer(zone, "anything.wild.example.com", dns.A)
    assert names(answers) == [("anything.wild.example.com", dns.A)]
    assert answers[0].payload.dottedQuad() == "192.0.2.99"
    answers, _, _ = answer(zone, "x.y.wild.example.com", dns.TXT)
    assert names(answers) == [("x.y.wild.example.com", dns.TXT)]


def test_wildcardDoesNotCoverExistingNames(zone: Any) -> None:
    answers, _, _ = answer(zone, "real.wild.example.com", dns.A)
    assert answers[0].payload.dottedQuad() == "192.0.2.98"
    # real.wild exists (with A only): TXT there is NODATA, not the wildcard's TXT.
    answers, auth, _ = answer(zone, "real.wild.example.com", dns.TXT)
    assert answers == [] and names(auth) == [("example.com", dns.SOA)]


def test_wildcardOfAnotherTypeIsNoData(zone: Any) -> None:
    answers, auth, _ = answer(zone, "anything.wild.example.com", dns.MX)
    assert answers == [] and names(auth) == [("example.com", dns.SOA)]


def test_wildcardDoesNotReachOtherBranches(zone: Any) -> None:
    # RFC 4592: the closest encloser of x.c.example.com is c.example.com (an empty
    # non-terminal), whose wildcard does not exist.
    assert answer(zone, "x.c.example.com", dns.A).check(AuthoritativeDomainError)


def test_delegationGivesAReferralWithGlue(zone: Any) -> None:
    for name in ("sub.example.com", "host.sub.example.com", "a.b.sub.example.com"):
        answers, auth, additional = answer(zone, name, dns.A)
        assert answers == []
        assert names(auth) == [("sub.example.com", dns.NS)] * 2
        assert not any(rr.auth for rr in auth)
        assert names(additional) == [("ns.sub.example.com", dns.A)]


def test_anyQueryGivesEveryRecordOfTheName(zone: Any) -> None:
    answers, _, _ = answer(zone, "mail.example.com", dns.ALL_RECORDS)
    assert sorted(names(answers)) == [("mail.example.com", dns.A), ("mail.example.com", dns.AAAA)]


def test_srvGetsTheTargetsAddress(zone: Any) -> None:
    _, _, additional = answer(zone, "_sip._tcp.example.com", dns.SRV)
    assert names(additional) == [("host.example.com", dns.A)]


def test_otherClassIsNotOurs(zone: Any) -> None:
    results: list[Any] = []
    zone._lookup(b"example.com", dns.CH, dns.A, None).addBoth(results.append)
    assert type(results[0].value) is DomainError


def test_lookupMethodsOfResolverBase(zone: Any) -> None:
    results: list[Any] = []
    zone.lookupMailExchange("example.com").addCallback(results.append)
    zone.query(dns.Query(b"ns1.example.com", dns.A)).addCallback(results.append)
    assert names(results[0][0]) == [("example.com", dns.MX)]
    assert names(results[1][0]) == [("ns1.example.com", dns.A)]


def test_lookupZoneStartsAndEndsWithTheSoa(zone: Any) -> None:
    results: list[Any] = []
    zone.lookupZone("example.com").addCallback(results.append)
    records = results[0][0]
    assert records[0].type == dns.SOA and records[-1].type == dns.SOA
    assert sum(1 for rr in records if rr.type == dns.SOA) == 2
    assert len(records) == 2 + sum(len(v) for v in zone.records.values()) - 1
    failures: list[Any] = []
    zone.lookupZone("www.example.com").addErrback(failures.append)
    assert failures[0].check(DomainError)


def test_changedRecordsAreReindexed(zone: Any) -> None:
    zone.records = dict(zone.records)
    zone.records[b"new.example.com"] = [dns.Record_A("192.0.2.7")]
    answers, _, _ = answer(zone, "new.example.com", dns.A)
    assert answers[0].payload.dottedQuad() == "192.0.2.7"


def test_fileAuthorityFromRecordsLikeTwisted() -> None:
    # Twisted's tests make a FileAuthority without a file and set soa/records.
    made = authority.FileAuthority.__new__(authority.FileAuthority)
    authority.FileAuthority.__bases__[0].__init__(made)
    soa = dns.Record_SOA(b"ns", b"host", 1, 2, 3, 4, 5)
    made.soa = (b"example.net", soa)
    made.records = {b"example.net": [soa, dns.Record_A("192.0.2.1", ttl=9)]}
    made._indexed = None
    answers, _, _ = answer(made, "example.net", dns.A)
    assert answers[0].ttl == 9


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("zone = [A('x', '1.2.3.4')\n", r"\.py:1: "),
        ("raise RuntimeError('boom')\n", r"\.py:1: RuntimeError: boom"),
        ("\n\nzone = [A('x.example.com', 'not an address')]\n", r"\.py:3: "),
        ("zone = 5\n", "must set 'zone' to a list"),
        ("zone = [('x', 'y')]\n", r"zone\[0\] is"),
        ("zone = [A('x.example.com', '192.0.2.1')]\n", "no SOA record"),
        (
            "zone = [SOA('example.com'), A('x.other.org', '192.0.2.1')]\n",
            r"zone\[1\]: 'x.other.org' is outside the zone",
        ),
        ("zone = [SOA('example.com', refresh='soon')]\n", "not a time value"),
        ("zone = [SOA('example.com'), A('a..b', '192.0.2.1')]\n", r"zone\[1\]: the name"),
    ],
)
def test_pySourceErrors(tmp_path: Path, source: str, words: str) -> None:
    path = tmp_path / "bad.py"
    path.write_text(source)
    with pytest.raises(authority.ZoneFileError, match=words):
        authority.PySourceAuthority(str(path))


def test_pySourceRunsCodeSoItCanComputeRecords(tmp_path: Path) -> None:
    path = tmp_path / "many.py"
    path.write_text(
        "zone = [SOA('example.com', minimum=60)]\n"
        "zone += [A(f'h{i}.example.com', f'192.0.2.{i}') for i in range(1, 11)]\n"
    )
    made = authority.PySourceAuthority(str(path))
    assert len(made.records) == 11


def test_getSerialGrows(tmp_path: Path) -> None:
    path = tmp_path / "serial"
    first = authority.getSerial(path)
    second = authority.getSerial(path)
    assert second == first + 1
