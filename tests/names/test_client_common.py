"""
Tests for torsion.names.common.ResolverBase (every lookup method down to one
_lookup, query(), exceptionForCode, getHostByName over A, AAAA and CNAMEs),
extractRecord and torsion.names.error, without any network.
"""

from __future__ import annotations

from typing import Any

import pytest
from zope.interface.verify import verifyObject

from torsion.internet.defer import Deferred, fail, succeed
from torsion.internet.error import DNSLookupError
from torsion.internet.interfaces import IResolver, IResolverSimple
from torsion.names import common, dns, error


class Recording(common.ResolverBase):
    """Records each _lookup and answers from a table."""

    def __init__(self, table: dict[tuple[bytes, int], Any] | None = None) -> None:
        super().__init__()
        self.table = table or {}
        self.calls: list[tuple[bytes, int, int, Any]] = []

    def _lookup(self, name: bytes, cls: int, type: int, timeout: Any) -> Deferred[Any]:
        self.calls.append((name, cls, type, timeout))
        outcome = self.table.get((name.lower(), type), ([], [], []))
        if isinstance(outcome, BaseException):
            return fail(outcome)
        return succeed(outcome)


def result(d: Deferred[Any]) -> Any:
    out: list[Any] = []
    d.addBoth(out.append)
    assert out
    return out[0]


def rr(name: bytes, payload: Any) -> dns.RRHeader:
    return dns.RRHeader(name, payload.TYPE, ttl=60, payload=payload)


def test_providesTheInterfaces() -> None:
    resolver = Recording()
    assert verifyObject(IResolver, resolver) and verifyObject(IResolverSimple, resolver)


@pytest.mark.parametrize(("type", "method"), sorted(common.typeToMethod.items()))
def test_eachLookupMethodAsksForItsType(type: int, method: str) -> None:
    resolver = Recording()
    result(getattr(resolver, method)("Host.Example.", (1, 2)))
    assert resolver.calls == [(b"Host.Example", dns.IN, type, (1, 2))]


def test_queryDispatchesByType() -> None:
    resolver = Recording()
    result(resolver.query(dns.Query(b"example.com", dns.MX)))
    result(resolver.query(dns.Query(b"example.com", 65280)))
    result(resolver.query(dns.Query(b"example.com", dns.TXT, dns.CH)))
    assert [(c[1], c[2]) for c in resolver.calls] == [
        (dns.IN, dns.MX),
        (dns.IN, 65280),
        (dns.CH, dns.TXT),
    ]


def test_textNamesGoThroughIDNA() -> None:
    resolver = Recording()
    result(resolver.lookupAddress("bücher.example"))
    assert resolver.calls[0][0] == b"xn--bcher-kva.example"


def test_invalidNamesFailCleanly() -> None:
    resolver = Recording()
    for bad in ("a..b", "x" * 64 + ".example", "a." * 130):
        failed = result(resolver.lookupAddress(bad))
        assert failed.check(error.DNSNameError) and "not a valid DNS name" in str(failed.value)
    assert resolver.calls == []


def test_baseLookupIsNotImplemented() -> None:
    failed = result(common.ResolverBase().lookupAddress("x"))
    assert failed.check(NotImplementedError)


def test_exceptionForCode() -> None:
    base = common.ResolverBase()
    assert base.exceptionForCode(dns.ENAME) is error.DNSNameError
    assert base.exceptionForCode(dns.EFORMAT) is error.DNSFormatError
    assert base.exceptionForCode(dns.ESERVER) is error.DNSServerError
    assert base.exceptionForCode(dns.ENOTIMP) is error.DNSNotImplementedError
    assert base.exceptionForCode(dns.EREFUSED) is error.DNSQueryRefusedError
    assert base.exceptionForCode(11) is error.DNSUnknownError


def test_errorsDescribeTheirMessage() -> None:
    message = dns.Message(rCode=dns.ENAME)
    message.addQuery(b"nosuch.example", dns.A)
    assert (
        str(error.DNSNameError(message))
        == "the name does not exist (NXDOMAIN) for nosuch.example (type 1)"
    )
    assert str(error.DomainError(b"x")) == "b'x'"
    assert "did not answer" in str(error.DNSQueryTimeoutError(5))
    assert issubclass(error.DNSQueryTimeoutError, TimeoutError)


def test_getHostByNamePrefersIPv4() -> None:
    resolver = Recording(
        {
            (b"h.example", dns.A): ([rr(b"h.example", dns.Record_A("192.0.2.1"))], [], []),
            (b"h.example", dns.AAAA): ([rr(b"h.example", dns.Record_AAAA("2001:db8::1"))], [], []),
        }
    )
    assert result(resolver.getHostByName("h.example")) == "192.0.2.1"
    assert [c[2] for c in resolver.calls] == [dns.A]


def test_getHostByNameFallsBackToAAAAOnNodataAndDomainError() -> None:
    v6 = ([rr(b"h.example", dns.Record_AAAA("2001:db8::1"))], [], [])
    for aOutcome in (([], [], []), error.DomainError(b"h"), error.DNSServerError("x")):
        resolver = Recording({(b"h.example", dns.A): aOutcome, (b"h.example", dns.AAAA): v6})
        assert result(resolver.getHostByName(b"h.example")) == "2001:db8::1"


def test_getHostByNameStopsAtNXDOMAIN() -> None:
    resolver = Recording({(b"h.example", dns.A): error.DNSNameError(b"h")})
    failed = result(resolver.getHostByName("h.example"))
    assert failed.check(DNSLookupError) and isinstance(failed.value.__cause__, error.DNSNameError)
    assert [c[2] for c in resolver.calls] == [dns.A]


def test_getHostByNameTimeoutIsDNSLookupError() -> None:
    resolver = Recording({(b"h.example", dns.A): error.DNSQueryTimeoutError(1)})
    failed = result(resolver.getHostByName("h.example"))
    assert failed.check(DNSLookupError)
    assert isinstance(failed.value.__cause__, error.DNSQueryTimeoutError)


def test_getHostByNameOfAnInvalidName() -> None:
    failed = result(Recording().getHostByName("a..b"))
    assert failed.check(DNSLookupError)


def test_getHostByNameWithNothingAtAll() -> None:
    failed = result(Recording().getHostByName("h.example"))
    assert failed.check(DNSLookupError) and "no A or AAAA" in str(failed.value)


def test_extractRecordFollowsCNAMEsWithinTheAnswer() -> None:
    answers = [
        rr(b"a.example", dns.Record_CNAME(b"b.example")),
        rr(b"b.example", dns.Record_CNAME(b"c.example")),
        rr(b"c.example", dns.Record_A("192.0.2.3")),
    ]
    assert common.extractRecord(None, dns.Name(b"A.example"), answers) == "192.0.2.3"
    assert common.extractRecord(None, dns.Name(b"a.example"), answers[:2]) == dns.Name(b"c.example")
    assert common.extractRecord(None, dns.Name(b"z.example"), answers) is None
    loop = [
        rr(b"a.example", dns.Record_CNAME(b"b.example")),
        rr(b"b.example", dns.Record_CNAME(b"a.example")),
    ]
    assert common.extractRecord(None, dns.Name(b"a.example"), loop) is None


def test_moduleFunctionsUseGetResolver(monkeypatch: pytest.MonkeyPatch) -> None:
    from torsion.names import client

    mx = rr(b"example.com", dns.Record_MX(10, b"mail.example.com"))
    a = rr(b"example.com", dns.Record_A("192.0.2.4"))
    resolver = Recording(
        {(b"example.com", dns.MX): ([mx], [], []), (b"example.com", dns.A): ([a], [], [])}
    )
    monkeypatch.setattr(client, "theResolver", resolver)
    assert client.getResolver() is resolver
    assert result(client.lookupMailExchange("example.com"))[0] == [mx]
    assert result(client.getHostByName("example.com")) == "192.0.2.4"
    for name in client.__all__:
        if name.startswith("lookup"):
            result(getattr(client, name)("example.com"))
    assert {c[2] for c in resolver.calls} >= set(common.typeToMethod) - {dns.AXFR}
