"""
torsion.names.cache: CacheResolver, the answers of other resolvers kept for as
long as their TTLs allow, under Twisted's names. What it gives out has the TTLs
counted down by the time spent in the cache; negative answers (NXDOMAIN, and
NODATA: no records of that type) are kept for the SOA's negative TTL (RFC 2308
section 5: the smaller of the SOA record's TTL and its MINIMUM field), and
nothing is kept without an SOA. The cache holds at most C{maxEntries} answers,
dropping the least recently used; entries expire lazily, so no timers run.
Tests: tests/names/test_cache.py.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any

from torsion.internet.defer import Deferred, fail, succeed
from torsion.logger import Logger
from torsion.names import dns
from torsion.names.common import LookupResult, ResolverBase, Timeout, defaultReactor
from torsion.names.error import DNSNameError, DomainError
from torsion.python.failure import Failure

__all__ = ["CacheResolver"]

_log = Logger()

MAX_TTL = 7 * 24 * 3600  # RFC 8767's suggested cap
MAX_NEGATIVE_TTL = 3 * 3600  # RFC 2308 section 5


class _Entry:
    __slots__ = ("expires", "negative", "payload", "stored")

    def __init__(self, stored: float, expires: float, payload: LookupResult, negative: bool):
        self.stored = stored
        self.expires = expires
        self.payload = payload
        self.negative = negative


def _records(section: Any) -> list[dns.RRHeader]:
    return [rr for rr in section if isinstance(rr, dns.RRHeader)]


def _negativeTTL(authority: list[dns.RRHeader]) -> int | None:
    ttls = [
        min(rr.ttl, rr.payload.minimum)
        for rr in authority
        if rr.type == dns.SOA and isinstance(rr.payload, dns.Record_SOA)
    ]
    return min(min(ttls), MAX_NEGATIVE_TTL) if ttls else None


def _aged(rr: dns.RRHeader, elapsed: int) -> dns.RRHeader:
    ttl = max(rr.ttl - elapsed, 0)
    payload = rr.payload
    if payload is not None and payload.ttl is not None:
        remaining = max(payload.ttl - elapsed, 0)
        payload = copy.copy(payload)
        payload.ttl = remaining
    return dns.RRHeader(rr.name, rr.type, rr.cls, ttl, payload, rr.auth)


class CacheResolver(ResolverBase):
    """
    A resolver that knows only what it was told through L{cacheResult}; for
    anything else it fails with DomainError, so a ResolverChain goes on to the
    next resolver (and feeds this one the answer). C{cache} is Twisted's
    initial contents, {query: (time stored, (answers, authority, additional))};
    C{reactor} gives the time; C{verbose} logs hits and misses.
    """

    maxEntries = 10_000

    def __init__(
        self,
        cache: dict[dns.Query, tuple[float, LookupResult]] | None = None,
        verbose: int = 0,
        reactor: Any = None,
    ) -> None:
        super().__init__()
        self._reactor = defaultReactor(reactor)
        self.verbose = verbose
        self.cache: OrderedDict[dns.Query, _Entry] = OrderedDict()
        for query, (when, payload) in (cache or {}).items():
            self.cacheResult(query, payload, when)

    def __len__(self) -> int:
        return len(self.cache)

    def cacheResult(
        self,
        query: dns.Query,
        payload: LookupResult | BaseException | Failure,
        cacheTime: float | None = None,
    ) -> None:
        """
        Remember the answer C{payload} to C{query}: (answers, authority,
        additional), or (torsion's addition) the DNSNameError (or its Failure)
        of an NXDOMAIN answer, whose first argument is the response Message.
        C{cacheTime} is when it was received (now by default). Answers whose
        TTLs are 0, and negative answers without an SOA, are not kept.
        """
        now = self._reactor.seconds()
        stored = now if cacheTime is None else cacheTime
        if isinstance(payload, Failure):
            payload = payload.value
        if isinstance(payload, BaseException):
            message = payload.args[0] if payload.args else None
            if not isinstance(payload, DNSNameError) or not isinstance(message, dns.Message):
                return
            result: LookupResult = ([], _records(message.authority), [])
            ttl = _negativeTTL(result[1])
            negative = True
        else:
            result = (_records(payload[0]), _records(payload[1]), _records(payload[2]))
            if result[0]:
                ttl = min(MAX_TTL, *(rr.ttl for section in result for rr in section))
            else:
                ttl = _negativeTTL(result[1])
            negative = False
        if ttl is None or ttl <= 0 or stored + ttl <= now:
            return
        self.cache[query] = _Entry(stored, stored + ttl, result, negative)
        self.cache.move_to_end(query)
        while len(self.cache) > self.maxEntries:
            self.cache.popitem(last=False)
        if self.verbose:
            _log.info("Cached the answer to {query} for {ttl} s", query=query, ttl=ttl)

    def clearEntry(self, query: dns.Query) -> None:
        """Forget the answer to C{query}."""
        self.cache.pop(query, None)

    def _lookup(self, name: bytes, cls: int, type: int, timeout: Timeout) -> Deferred[LookupResult]:
        query = dns.Query(name, type, cls)
        entry = self.cache.get(query)
        now = self._reactor.seconds()
        if entry is None or now >= entry.expires:
            if entry is not None:
                del self.cache[query]
            if self.verbose:
                _log.info("Cache miss for {query}", query=query)
            return fail(DomainError(name))
        self.cache.move_to_end(query)
        elapsed = int(now - entry.stored)
        answers, authority, additional = (
            [_aged(rr, elapsed) for rr in section] for section in entry.payload
        )
        if self.verbose:
            _log.info("Cache hit for {query}", query=query)
        if entry.negative:
            message = dns.Message(answer=1, rCode=dns.ENAME)
            message.queries = [query]
            message.authority = list(authority)
            return fail(DNSNameError(message))
        return succeed((answers, authority, additional))
