"""
Tests for torsion.names.cache.CacheResolver with task.Clock: TTLs counted down on
the way out, expiry, negative caching (NODATA and NXDOMAIN for the SOA's negative
TTL, nothing without an SOA), zero TTLs, the size bound and Twisted's initial
cache argument.
"""

from __future__ import annotations

from typing import Any

import pytest

from torsion.internet.defer import Deferred
from torsion.internet.task import Clock
from torsion.names import dns
from torsion.names.cache import CacheResolver
from torsion.names.error import DNSNameError, DomainError
from torsion.python.failure import Failure

QUERY = dns.Query(b"www.example.com", dns.A)


def a(ttl: int, address: str = "192.0.2.1", name: bytes = b"www.example.com") -> dns.RRHeader:
    return dns.RRHeader(name, dns.A, ttl=ttl, payload=dns.Record_A(address, ttl=ttl))


def soa(ttl: int, minimum: int) -> dns.RRHeader:
    record = dns.Record_SOA(b"ns.example.com", b"admin.example.com", 1, 2, 3, 4, minimum, ttl=ttl)
    return dns.RRHeader(b"example.com", dns.SOA, ttl=ttl, payload=record)


def result(d: Deferred[Any]) -> Any:
    out: list[Any] = []
    d.addBoth(out.append)
    assert out, "the cache answers at once"
    return out[0]


def test_hitCountsTheTTLDown() -> None:
    clock = Clock()
    cache = CacheResolver(reactor=clock)
    cache.cacheResult(QUERY, ([a(300)], [], []))
    clock.advance(100.5)
    answers, _, _ = result(cache.lookupAddress(b"WWW.example.com"))
    assert [rr.ttl for rr in answers] == [200] and answers[0].payload.ttl == 200
    assert answers[0].payload.dottedQuad() == "192.0.2.1"


def test_entryExpiresWithItsSmallestTTL() -> None:
    clock = Clock()
    cache = CacheResolver(reactor=clock)
    cache.cacheResult(QUERY, ([a(300), a(60, "192.0.2.2")], [], []))
    clock.advance(59)
    assert not isinstance(result(cache.lookupAddress(b"www.example.com")), Failure)
    clock.advance(1)
    missed = result(cache.lookupAddress(b"www.example.com"))
    assert isinstance(missed, Failure) and missed.check(DomainError)
    assert len(cache) == 0


def test_missIsDomainError() -> None:
    cache = CacheResolver(reactor=Clock())
    missed = result(cache.lookupMailExchange(b"example.com"))
    assert isinstance(missed, Failure) and missed.check(DomainError)
    assert not missed.check(DNSNameError)


def test_typesAreCachedApart() -> None:
    cache = CacheResolver(reactor=Clock())
    cache.cacheResult(QUERY, ([a(300)], [], []))
    assert isinstance(result(cache.lookupIPV6Address(b"www.example.com")), Failure)


def test_nodataIsCachedForTheNegativeTTL() -> None:
    clock = Clock()
    cache = CacheResolver(reactor=clock)
    cache.cacheResult(dns.Query(b"www.example.com", dns.MX), ([], [soa(3600, 30)], []))
    clock.advance(29)
    answers, authority, _ = result(cache.lookupMailExchange(b"www.example.com"))
    assert answers == [] and authority[0].ttl == 3571
    clock.advance(1)
    assert isinstance(result(cache.lookupMailExchange(b"www.example.com")), Failure)


def test_nxdomainIsCachedFromItsError() -> None:
    clock = Clock()
    cache = CacheResolver(reactor=clock)
    message = dns.Message(answer=1, rCode=dns.ENAME)
    message.queries = [QUERY]
    message.authority = [soa(20, 600)]
    cache.cacheResult(QUERY, Failure(DNSNameError(message)))
    clock.advance(5)
    hit = result(cache.lookupAddress(b"www.example.com"))
    assert isinstance(hit, Failure) and hit.check(DNSNameError)
    assert hit.value.args[0].authority[0].ttl == 15
    clock.advance(15)
    missed = result(cache.lookupAddress(b"www.example.com"))
    assert missed.check(DomainError) and not missed.check(DNSNameError)


@pytest.mark.parametrize(
    "payload",
    [
        ([], [], []),
        ([a(0)], [], []),
        (DNSNameError(dns.Message(rCode=dns.ENAME)),),
        (ValueError("not an answer"),),
    ],
    ids=["negativeWithoutSOA", "zeroTTL", "nxdomainWithoutSOA", "otherError"],
)
def test_notCached(payload: Any) -> None:
    cache = CacheResolver(reactor=Clock())
    cache.cacheResult(QUERY, payload[0] if len(payload) == 1 else payload)
    assert len(cache) == 0


def test_veryLongTTLsAreCapped() -> None:
    clock = Clock()
    cache = CacheResolver(reactor=clock)
    cache.cacheResult(QUERY, ([a(2**31)], [], []))
    clock.advance(7 * 24 * 3600)
    assert isinstance(result(cache.lookupAddress(b"www.example.com")), Failure)


def test_sizeIsBoundedDroppingTheLeastRecentlyUsed() -> None:
    cache = CacheResolver(reactor=Clock())
    cache.maxEntries = 3
    for i in range(3):
        cache.cacheResult(dns.Query(f"h{i}.example", dns.A), ([a(60, name=b"x")], [], []))
    result(cache.lookupAddress(b"h0.example"))  # h0 is now the most recently used
    cache.cacheResult(dns.Query(b"h3.example", dns.A), ([a(60, name=b"x")], [], []))
    assert len(cache) == 3
    assert not isinstance(result(cache.lookupAddress(b"h0.example")), Failure)
    assert isinstance(result(cache.lookupAddress(b"h1.example")), Failure)


def test_initialCacheTakesTwistedsShape() -> None:
    clock = Clock()
    clock.advance(1000)
    cache = CacheResolver({QUERY: (990.0, ([a(60)], [], []))}, reactor=clock)
    answers, _, _ = result(cache.lookupAddress(b"www.example.com"))
    assert answers[0].ttl == 50


def test_storedListsAreCopies() -> None:
    cache = CacheResolver(reactor=Clock())
    answers = [a(60)]
    cache.cacheResult(QUERY, (answers, [], []))
    answers.clear()
    got, _, _ = result(cache.lookupAddress(b"www.example.com"))
    got.clear()
    assert len(result(cache.lookupAddress(b"www.example.com"))[0]) == 1


def test_clearEntry() -> None:
    cache = CacheResolver(reactor=Clock())
    cache.cacheResult(QUERY, ([a(60)], [], []))
    cache.clearEntry(QUERY)
    assert len(cache) == 0


def test_verboseLogsHitsAndMisses(logged: list[Any]) -> None:
    cache = CacheResolver(verbose=1, reactor=Clock())
    result(cache.lookupAddress(b"www.example.com"))
    cache.cacheResult(QUERY, ([a(60)], [], []))
    result(cache.lookupAddress(b"www.example.com"))
    formats = [str(e.get("log_format")) for e in logged]
    assert any("miss" in f for f in formats) and any("hit" in f for f in formats)
