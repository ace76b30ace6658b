"""
torsion.names.resolve: ResolverChain, several resolvers asked in turn, under
Twisted's names. A resolver that does not know (DomainError), times out or does
not implement the query passes it on to the next; an NXDOMAIN answer
(DNSNameError) and an AuthoritativeDomainError end the chain, as does any
answer. Unlike Twisted's chain, the answer of a later resolver is offered to the
earlier ones that can cache (those with C{cacheResult}), so createResolver's
cache really fills. Tests: tests/names/test_resolve.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torsion.internet.defer import Deferred, TimeoutError, fail
from torsion.names import dns
from torsion.names.common import LookupResult, ResolverBase, Timeout
from torsion.names.error import DNSNameError, DomainError
from torsion.python.failure import Failure

__all__ = ["ResolverChain"]


class ResolverChain(ResolverBase):
    """Ask each of C{resolvers} in order until one answers."""

    def __init__(self, resolvers: Sequence[Any]) -> None:
        super().__init__()
        self.resolvers = list(resolvers)

    def _searchNames(self, name: bytes) -> list[bytes]:
        for resolver in self.resolvers:
            names = resolver._searchNames(name) if hasattr(resolver, "_searchNames") else [name]
            if names != [name]:
                return list(names)
        return [name]

    def _lookup(self, name: bytes, cls: int, type: int, timeout: Timeout) -> Deferred[LookupResult]:
        if not self.resolvers:
            return fail(DomainError(name))
        query = dns.Query(name, type, cls)
        result: Deferred[LookupResult] = Deferred()
        self._ask(0, query, timeout, result)
        return result

    def _ask(
        self, index: int, query: dns.Query, timeout: Timeout, result: Deferred[LookupResult]
    ) -> None:
        resolver = self.resolvers[index]
        d: Deferred[LookupResult] = resolver.query(query, timeout)

        def answered(payload: LookupResult) -> None:
            self._feed(index, query, payload)
            result.callback(payload)

        def failed(reason: Failure) -> None:
            passOn = reason.check(DomainError, TimeoutError, NotImplementedError)
            if passOn and not reason.check(DNSNameError) and index + 1 < len(self.resolvers):
                self._ask(index + 1, query, timeout, result)
                return
            if reason.check(DNSNameError):
                self._feed(index, query, reason)
            result.errback(reason)

        d.addCallbacks(answered, failed)

    def _feed(self, index: int, query: dns.Query, payload: LookupResult | Failure) -> None:
        for earlier in self.resolvers[:index]:
            cacheResult = getattr(earlier, "cacheResult", None)
            if cacheResult is not None:
                cacheResult(query, payload)
