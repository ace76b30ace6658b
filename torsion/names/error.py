"""
torsion.names.error: the exceptions a resolver's Deferreds fail with, under
Twisted's names. A DNS response code that is not NOERROR becomes the matching
DNS*Error, whose first argument is the response Message (so a caller can look at
its authority section); a lookup that gets no answer at all fails with
DNSQueryTimeoutError. Tests: tests/names/test_client.py, test_client_common.py.
"""

from __future__ import annotations

from torsion.internet.error import TimeoutError

__all__ = [
    "AuthoritativeDomainError",
    "DNSFormatError",
    "DNSNameError",
    "DNSNotImplementedError",
    "DNSQueryRefusedError",
    "DNSQueryTimeoutError",
    "DNSServerError",
    "DNSUnknownError",
    "DomainError",
    "ResolverError",
]


class DomainError(ValueError):
    """
    A lookup found no records of the type asked for: the base of the errors that
    come from a server's response code, and what a resolver that does not know a
    name (the hosts file, an authority for another zone) fails with, so that a
    ResolverChain asks its next resolver.
    """

    _meaning = "no records"

    def __str__(self) -> str:
        message = self.args[0] if self.args else None
        queries = getattr(message, "queries", None)
        if queries is not None and hasattr(message, "rCode"):
            asked = f" for {queries[0].name} (type {queries[0].type})" if queries else ""
            return f"{self._meaning}{asked}"
        return super().__str__()


class AuthoritativeDomainError(ValueError):
    """
    An authority is sure the name does not exist (NXDOMAIN from the source of
    truth), so a ResolverChain stops there instead of asking the next resolver.
    """


class DNSQueryTimeoutError(TimeoutError):
    """
    No answer came for a query within its timeouts. C{id} is the query's message
    ID (or, from the resolvers, the Query that went unanswered).
    """

    def __init__(self, id: object) -> None:
        super().__init__(id)
        self.id = id

    def __str__(self) -> str:
        return f"no answer to the DNS query {self.id!r}; the servers did not answer in time"


class DNSFormatError(DomainError):
    """FORMERR: the server could not parse our query."""

    _meaning = "the server could not parse the query (FORMERR)"


class DNSServerError(DomainError):
    """SERVFAIL: the server failed to answer (often a broken or unreachable zone)."""

    _meaning = "the server failed (SERVFAIL)"


class DNSNameError(DomainError):
    """NXDOMAIN: the name does not exist."""

    _meaning = "the name does not exist (NXDOMAIN)"


class DNSNotImplementedError(DomainError):
    """NOTIMP: the server does not do that kind of query."""

    _meaning = "the server does not implement the query (NOTIMP)"


class DNSQueryRefusedError(DomainError):
    """REFUSED: the server will not answer us (policy, or not our resolver)."""

    _meaning = "the server refused the query (REFUSED)"


class DNSUnknownError(DomainError):
    """A response code torsion has no exception for."""

    _meaning = "the server answered with an unknown error code"


class ResolverError(Exception):
    """A resolver is misconfigured or cannot work (no servers to ask, say)."""
