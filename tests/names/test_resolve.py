"""
Tests for torsion.names.resolve.ResolverChain: asking in order, passing on what a
resolver does not know (DomainError, timeouts, NotImplementedError), stopping at
answers, NXDOMAIN and AuthoritativeDomainError, and feeding the answers of later
resolvers to earlier caches.
"""

from __future__ import annotations

from typing import Any

from torsion.internet.defer import Deferred, fail, succeed
from torsion.internet.task import Clock
from torsion.names import dns
from torsion.names.cache import CacheResolver
from torsion.names.common import ResolverBase
from torsion.names.error import (
    AuthoritativeDomainError,
    DNSNameError,
    DNSQueryTimeoutError,
    DNSServerError,
    DomainError,
)
from torsion.names.resolve import ResolverChain
from torsion.python.failure import Failure


class Scripted(ResolverBase):
    """Answers every lookup with C{outcome}, counting them."""

    def __init__(self, outcome: Any) -> None:
        super().__init__()
        self.outcome = outcome
        self.asked: list[tuple[bytes, int]] = []

    def _lookup(self, name: bytes, cls: int, type: int, timeout: Any) -> Deferred[Any]:
        self.asked.append((name, type))
        if isinstance(self.outcome, BaseException):
            return fail(self.outcome)
        return succeed(self.outcome)


def answer(address: str = "192.0.2.1", ttl: int = 60) -> Any:
    rr = dns.RRHeader(b"x.example", dns.A, ttl=ttl, payload=dns.Record_A(address, ttl=ttl))
    return ([rr], [], [])


def result(d: Deferred[Any]) -> Any:
    out: list[Any] = []
    d.addBoth(out.append)
    assert out
    return out[0]


def test_firstAnswerWins() -> None:
    first, second = Scripted(answer("192.0.2.1")), Scripted(answer("192.0.2.2"))
    got = result(ResolverChain([first, second]).lookupAddress("x.example"))
    assert got[0][0].payload.dottedQuad() == "192.0.2.1" and second.asked == []


def test_whatIsNotKnownPassesOn() -> None:
    resolvers = [
        Scripted(DomainError(b"x")),
        Scripted(DNSQueryTimeoutError(1)),
        Scripted(NotImplementedError()),
        Scripted(DNSServerError("servfail")),
        Scripted(answer("192.0.2.9")),
    ]
    got = result(ResolverChain(resolvers).lookupAddress("x.example"))
    assert got[0][0].payload.dottedQuad() == "192.0.2.9"
    assert all(r.asked == [(b"x.example", dns.A)] for r in resolvers)


def test_nxdomainAndAuthoritativeErrorsStopTheChain() -> None:
    for error in (DNSNameError(dns.Message(rCode=dns.ENAME)), AuthoritativeDomainError(b"x")):
        last = Scripted(answer())
        failed = result(ResolverChain([Scripted(error), last]).lookupAddress("x.example"))
        assert isinstance(failed, Failure) and failed.value is error
        assert last.asked == []


def test_lastFailureIsReported() -> None:
    failed = result(
        ResolverChain([Scripted(DomainError(b"a")), Scripted(DNSServerError("b"))]).lookupAddress(
            "x"
        )
    )
    assert isinstance(failed, Failure) and failed.check(DNSServerError)


def test_emptyChainKnowsNothing() -> None:
    failed = result(ResolverChain([]).lookupAddress("x"))
    assert isinstance(failed, Failure) and failed.check(DomainError)


def test_laterAnswersFillEarlierCaches() -> None:
    cache = CacheResolver(reactor=Clock())
    network = Scripted(answer())
    chain = ResolverChain([cache, network])
    result(chain.lookupAddress("x.example"))
    result(chain.lookupAddress("x.example"))
    assert len(network.asked) == 1
    message = dns.Message(answer=1, rCode=dns.ENAME)
    message.authority = [
        dns.RRHeader(b"example", dns.SOA, ttl=60, payload=dns.Record_SOA(b"ns", b"a", minimum=60))
    ]
    network.outcome = DNSNameError(message)
    for _ in range(2):
        failed = result(chain.lookupAddress("nosuch.example"))
        assert failed.check(DNSNameError)
    assert len(network.asked) == 2


def test_queryAndGetHostByNameGoThroughTheChain() -> None:
    chain = ResolverChain([Scripted(DomainError(b"x")), Scripted(answer("192.0.2.3"))])
    assert result(chain.getHostByName("x.example")) == "192.0.2.3"
    got = result(chain.query(dns.Query(b"x.example", dns.A)))
    assert got[0][0].payload.dottedQuad() == "192.0.2.3"
