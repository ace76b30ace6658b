"""
torsion.names.common: ResolverBase, the one place where every lookupX method of
Twisted's IResolver turns into a single C{_lookup(name, cls, type, timeout)} that
each resolver (client, hosts, cache, the server's authorities) implements, plus
getHostByName on top of the A and AAAA lookups. Tests: tests/names/test_client_common.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from zope.interface import implementer

from torsion.internet.defer import Deferred, fail, maybeDeferred
from torsion.internet.error import DNSLookupError
from torsion.internet.interfaces import IResolver, IResolverSimple
from torsion.names import dns
from torsion.names.error import (
    DNSFormatError,
    DNSNameError,
    DNSNotImplementedError,
    DNSQueryRefusedError,
    DNSServerError,
    DNSUnknownError,
    DomainError,
)
from torsion.python.failure import Failure

__all__ = [
    "EMPTY_RESULT",
    "LookupResult",
    "ResolverBase",
    "extractRecord",
    "nameBytes",
    "typeToMethod",
]

LookupResult = tuple[list[dns.RRHeader], list[dns.RRHeader], list[dns.RRHeader]]
"""What every lookup fires with: (answers, authority, additional)."""

EMPTY_RESULT: LookupResult = ([], [], [])

# Types that the codec has no Record_* class for (they decode as UnknownRecord) but
# that Twisted's IResolver has a lookup method for.
MB, MG, MR, NULL, WKS, HINFO, MINFO, RP, AFSDB, A6, SPF = 7, 8, 9, 10, 11, 13, 14, 17, 18, 38, 99

typeToMethod: dict[int, str] = {
    dns.A: "lookupAddress",
    dns.AAAA: "lookupIPV6Address",
    A6: "lookupAddress6",
    dns.NS: "lookupNameservers",
    dns.CNAME: "lookupCanonicalName",
    dns.SOA: "lookupAuthority",
    MB: "lookupMailBox",
    MG: "lookupMailGroup",
    MR: "lookupMailRename",
    NULL: "lookupNull",
    WKS: "lookupWellKnownServices",
    dns.PTR: "lookupPointer",
    HINFO: "lookupHostInfo",
    MINFO: "lookupMailboxInfo",
    dns.MX: "lookupMailExchange",
    dns.TXT: "lookupText",
    SPF: "lookupSenderPolicy",
    RP: "lookupResponsibility",
    AFSDB: "lookupAFSDatabase",
    dns.SRV: "lookupService",
    dns.NAPTR: "lookupNamingAuthorityPointer",
    dns.SSHFP: "lookupSSHFingerprint",
    dns.AXFR: "lookupZone",
    dns.ALL_RECORDS: "lookupAllRecords",
}
"""The lookup method for each query type, as in Twisted (names, not bound methods)."""

_ERRORS: dict[int, type[DomainError]] = {
    dns.EFORMAT: DNSFormatError,
    dns.ESERVER: DNSServerError,
    dns.ENAME: DNSNameError,
    dns.ENOTIMP: DNSNotImplementedError,
    dns.EREFUSED: DNSQueryRefusedError,
}

Timeout = Sequence[float] | None


def defaultReactor(reactor: Any = None) -> Any:
    """C{reactor}, or the global reactor (imported only when needed)."""
    if reactor is None:
        from torsion.internet import reactor
    return reactor


def nameBytes(name: bytes | str | dns.Name) -> bytes:
    """A name as the wire's bytes, without the root dot; text goes through IDNA."""
    if isinstance(name, dns.Name):
        return name.name
    return dns.Name(name).name


@implementer(IResolver, IResolverSimple)
class ResolverBase:
    """
    The base of every resolver. Subclasses implement L{_lookup}; everything else
    (the lookup methods, L{query}, L{getHostByName}) is built on it, so a new kind
    of resolver is one method.
    """

    typeToMethod: dict[int, Callable[..., Deferred[LookupResult]]]

    def __init__(self) -> None:
        self.typeToMethod = {t: getattr(self, m) for t, m in typeToMethod.items()}

    def exceptionForCode(self, responseCode: int) -> type[DomainError]:
        """The exception class for a response code (DNSUnknownError for odd ones)."""
        return _ERRORS.get(responseCode, DNSUnknownError)

    def _lookup(self, name: bytes, cls: int, type: int, timeout: Timeout) -> Deferred[LookupResult]:
        """Look up C{type} records of C{name}: what subclasses implement."""
        return fail(NotImplementedError(f"{self.__class__.__name__} does not implement _lookup"))

    def query(self, query: dns.Query, timeout: Timeout = None) -> Deferred[LookupResult]:
        """Look up a dns.Query; types without a lookup method go to _lookup as is."""
        method = self.typeToMethod.get(query.type)
        if method is not None and query.cls == dns.IN:
            return maybeDeferred(method, query.name.name, timeout)
        return maybeDeferred(self._lookup, query.name.name, query.cls, query.type, timeout)

    def _typed(self, name: bytes | str, type: int, timeout: Timeout) -> Deferred[LookupResult]:
        try:
            raw = nameBytes(name)
        except (ValueError, UnicodeError) as e:
            return fail(DNSNameError(f"{name!r} is not a valid DNS name: {e}"))
        return self._lookup(raw, dns.IN, type, timeout)

    def lookupAddress(self, name: bytes | str, timeout: Timeout = None) -> Deferred[LookupResult]:
        return self._typed(name, dns.A, timeout)

    def lookupIPV6Address(
        self, name: bytes | str, timeout: Timeout = None
    ) -> Deferred[LookupResult]:
        return self._typed(name, dns.AAAA, timeout)

    def lookupAddress6(self, name: bytes | str, timeout: Timeout = None) -> Deferred[LookupResult]:
        return self._typed(name, A6, timeout)

    def lookupMailExchange(
        self, name: bytes | str, timeout: Timeout = None
    ) -> Deferred[LookupResult]:
        return self._typed(name, dns.MX, timeout)

    def lookupNameservers(
        self, name: bytes | str, timeout: Timeout = None
    ) -> Deferred[LookupResult]:
        return self._typed(name, dns.NS, timeout)

    def lookupCanonicalName(
        self, name: bytes | str, timeout: Timeout = None
    ) -> Deferred[LookupResult]:
        return self._typed(name, dns.CNAME, timeout)

    def lookupMailBox(self, name: bytes | str, timeout: Timeout = None) -> Deferred[LookupResult]:
        return self._typed(name, MB, timeout)

    def lookupMailGroup(self, name: bytes | str, timeout: Timeout = None) -> Deferred[LookupResult]:
        return self._typed(name, MG, timeout)

    def lookupMailRename(
        self, name: bytes | str, timeout: Timeout = None
    ) -> Deferred[LookupResult]:
        return self._typed(name, MR, timeout)

    def lookupPointer(self, name: bytes | str, timeout: Timeout = None) -> Deferred[LookupResult]:
        return self._typed(name, dns.PTR, timeout)

    def lookupAuthority(self, name: bytes | str, timeout: Timeout = None) -> Deferred[LookupResult]:
        return self._typed(name, dns.SOA, timeout)

    def lookupNull(self, name: bytes | str, timeout: Timeout = None) -> Deferred[LookupResult]:
        return self._typed(name, NULL, timeout)

    def lookupWellKnownServices(
        self, name: bytes | str, timeout: Timeout = None
    ) -> Deferred[LookupResult]:
        return self._typed(name, WKS, timeout)

    def lookupHostInfo(self, name: bytes | str, timeout: Timeout = None) -> Deferred[LookupResult]:
        return self._typed(name, HINFO, timeout)

    def lookupMailboxInfo(
        self, name: bytes | str, timeout: Timeout = None
    ) -> Deferred[LookupResult]:
        return self._typed(name, MINFO, timeout)

    def lookupText(self, name: bytes | str, timeout: Timeout = None) -> Deferred[LookupResult]:
        return self._typed(name, dns.TXT, timeout)

    def lookupSenderPolicy(
        self, name: bytes | str, timeout: Timeout = None
    ) -> Deferred[LookupResult]:
        return self._typed(name, SPF, timeout)

    def lookupResponsibility(
        self, name: bytes | str, timeout: Timeout = None
    ) -> Deferred[LookupResult]:
        return self._typed(name, RP, timeout)

    def lookupAFSDatabase(
        self, name: bytes | str, timeout: Timeout = None
    ) -> Deferred[LookupResult]:
        return self._typed(name, AFSDB, timeout)

    def lookupService(self, name: bytes | str, timeout: Timeout = None) -> Deferred[LookupResult]:
        return self._typed(name, dns.SRV, timeout)

    def lookupAllRecords(
        self, name: bytes | str, timeout: Timeout = None
    ) -> Deferred[LookupResult]:
        return self._typed(name, dns.ALL_RECORDS, timeout)

    def lookupNamingAuthorityPointer(
        self, name: bytes | str, timeout: Timeout = None
    ) -> Deferred[LookupResult]:
        return self._typed(name, dns.NAPTR, timeout)

    def lookupSSHFingerprint(
        self, name: bytes | str, timeout: Timeout = None
    ) -> Deferred[LookupResult]:
        return self._typed(name, dns.SSHFP, timeout)

    def lookupZone(self, name: bytes | str, timeout: Timeout = None) -> Deferred[LookupResult]:
        return self._typed(name, dns.AXFR, timeout)

    def _searchNames(self, name: bytes) -> list[bytes]:
        """
        The names getHostByName tries, in order, for the relative name C{name}:
        just C{name} here; client.Resolver applies resolv.conf's search list.
        """
        return [name]

    def getHostByName(
        self, name: bytes | str, timeout: Timeout = None, effort: int = 10
    ) -> Deferred[str]:
        """
        The first IPv4 address of C{name}, else its first IPv6 address, following
        CNAMEs (at most C{effort} of them). Twisted sends an ANY query here, which
        RFC 8482 lets servers answer with almost nothing; torsion asks for A and
        then AAAA. A name without a final dot goes through the search list of
        L{_searchNames}. Every failure is a torsion.internet.error.DNSLookupError
        (as IResolverSimple promises, so reactor.resolve callers catch one type)
        whose C{__cause__} is the resolver's own error.
        """
        try:
            base = nameBytes(name)
        except (ValueError, UnicodeError) as e:
            return fail(DNSLookupError(f"{name!r} is not a valid host name: {e}"))
        absolute = name.endswith(b".") if isinstance(name, bytes) else name.endswith(".")
        candidates = [base] if absolute or not base else self._searchNames(base)
        return _HostLookup(self, name, candidates, timeout, effort).result


class _HostLookup:
    """getHostByName's walk: each candidate name, A then AAAA, CNAMEs followed."""

    __slots__ = (
        "base",
        "candidates",
        "effort",
        "firstReason",
        "index",
        "resolver",
        "result",
        "text",
        "timeout",
    )

    def __init__(
        self,
        resolver: ResolverBase,
        name: bytes | str,
        candidates: list[bytes],
        timeout: Timeout,
        effort: int,
    ) -> None:
        self.resolver = resolver
        self.text = name.decode("ascii", "replace") if isinstance(name, bytes) else name
        self.candidates = candidates
        self.base = nameBytes(name)
        self.timeout = timeout
        self.effort = effort
        self.index = 0
        self.firstReason: BaseException | None = None
        self.result: Deferred[str] = Deferred()
        self.ask(candidates[0], dns.A, effort)

    def fail(self, reason: BaseException) -> None:
        if isinstance(reason, DNSLookupError):
            self.result.errback(reason)
            return
        problem = DNSLookupError(f"address of {self.text!r} not found: {reason}")
        problem.__cause__ = reason
        self.result.errback(problem)

    def notFound(self, reason: BaseException) -> None:
        # Report what the name as written got, rather than a search variant's.
        if self.firstReason is None or self.candidates[self.index] == self.base:
            self.firstReason = reason
        self.index += 1
        if self.index < len(self.candidates):
            self.ask(self.candidates[self.index], dns.A, self.effort)
        else:
            self.fail(self.firstReason)

    def ask(self, target: bytes, kind: int, hops: int) -> None:
        d = self.resolver._typed(target, kind, self.timeout)
        args = (target, kind, hops)
        d.addCallbacks(self.answered, self.gaveUp, callbackArgs=args, errbackArgs=args)

    def answered(self, records: LookupResult, target: bytes, kind: int, hops: int) -> None:
        found = extractRecord(self.resolver, dns.Name(target), records[0] + records[2], 8)
        if isinstance(found, str):
            self.result.callback(found)
        elif isinstance(found, dns.Name):
            if hops <= 0:
                self.fail(DNSLookupError(f"address of {self.text!r} not found: too many CNAMEs"))
            else:
                self.ask(found.name, dns.A, hops - 1)
        elif kind == dns.A:
            self.ask(target, dns.AAAA, hops)
        else:
            self.notFound(DNSLookupError(f"{self.text!r} has no A or AAAA records"))

    def gaveUp(self, reason: Failure, target: bytes, kind: int, hops: int) -> None:
        if reason.check(DNSNameError, DNSLookupError):
            self.notFound(reason.value)
        elif kind == dns.A and reason.check(DomainError):
            # The A lookup found nothing usable; an AAAA one still may.
            self.ask(target, dns.AAAA, hops)
        elif kind == dns.AAAA and reason.check(DomainError):
            self.notFound(reason.value)
        else:
            self.fail(reason.value)


def extractRecord(
    resolver: ResolverBase | None,
    name: dns.Name,
    answers: Sequence[dns.RRHeader],
    level: int = 10,
) -> str | dns.Name | None:
    """
    Follow C{name} through the CNAMEs in C{answers} (at most C{level} of them,
    never round a loop) to an A or AAAA record; return its address as text, the
    last CNAME target when the records stop there (for the caller to look up),
    or None when there is neither. C{resolver} is accepted for Twisted's
    signature; the lookups it would do are the caller's (see getHostByName).
    """
    seen = {name}
    current = name
    for _ in range(max(level, 0) + 1):
        target = None
        for kind in (dns.A, dns.AAAA):
            for rr in answers:
                if rr.type == kind and rr.name == current:
                    payload = rr.payload
                    if isinstance(payload, dns.Record_A):
                        return payload.dottedQuad()
                    if isinstance(payload, dns.Record_AAAA):
                        return payload.text()
        for rr in answers:
            if (
                rr.type == dns.CNAME
                and rr.name == current
                and isinstance(rr.payload, dns.Record_CNAME)
            ):
                target = rr.payload.name
                break
        if target is None:
            return None if current == name else current
        if target in seen:
            return None
        seen.add(target)
        current = target
    return current
