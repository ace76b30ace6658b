"""
torsion.names.secondary: serving a copy of another server's zone, under Twisted's
names. A SecondaryAuthority transfers the zone from its primary (AXFR over TCP,
RFC 5936), then asks for the primary's SOA every C{refresh} seconds of that SOA
and transfers again only when the serial has grown (RFC 1982 arithmetic, RFC
1996's schedule without NOTIFY). A failed check is retried after C{retry}
seconds; a copy not refreshed within C{expire} seconds is dropped, since stale
data served with authority is worse than none. SecondaryAuthorityService runs
one per domain inside torsiond. Tests: tests/names/test_secondary.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torsion.application import service
from torsion.internet.defer import Deferred, succeed
from torsion.internet.interfaces import IDelayedCall
from torsion.logger import Logger
from torsion.names import common, dns, resolve
from torsion.names._dnsrecords import _Record
from torsion.names.authority import FileAuthority
from torsion.names.error import ResolverError
from torsion.python.failure import Failure

__all__ = ["SecondaryAuthority", "SecondaryAuthorityService", "serialGreater"]

_log = Logger(namespace="torsion.names.secondary")

DNS_PORT = 53


def serialGreater(a: int, b: int) -> bool:
    """Whether serial C{a} is newer than C{b} in RFC 1982's wrap-around arithmetic."""
    return a != b and (a - b) % 2**32 < 2**31


class SecondaryAuthority(FileAuthority):
    """
    A zone copied from C{primaryIP} (port 53; other ports through
    L{fromServerAddressAndDomain}). Until the first transfer succeeds it knows no
    names, so a server asks its next resolver. L{transfer} copies the zone now,
    L{refresh} only if the primary's serial is newer; L{startRefreshing} keeps
    the copy fresh on the SOA's schedule.

    Attributes:
        initialRetry: seconds between attempts while there is no copy at all.
        minimumRefresh: the shortest interval between checks, whatever the SOA says.
    """

    transferring = False
    initialRetry = 30.0
    minimumRefresh = 1.0

    def __init__(
        self, primaryIP: str | None, domain: bytes | str | None, *, reactor: Any = None
    ) -> None:
        common.ResolverBase.__init__(self)
        self.primary = primaryIP
        self._port = DNS_PORT
        self.domain = common.nameBytes(domain) if domain is not None else b""
        self.soa = None
        self.records = {}
        self._indexed = None
        self._reactor = reactor
        self._resolver: Any = None
        self._timer: IDelayedCall | None = None
        self._lastSuccess: float | None = None
        self._running = False

    @classmethod
    def fromServerAddressAndDomain(
        cls, serverAddress: tuple[str, int], domain: bytes | str, *, reactor: Any = None
    ) -> SecondaryAuthority:
        """A secondary for C{domain} whose primary is at C{serverAddress} (host, port)."""
        made = cls(serverAddress[0], domain, reactor=reactor)
        made._port = int(serverAddress[1])
        return made

    @property
    def reactor(self) -> Any:
        if self._reactor is None:
            from torsion.internet import reactor

            self._reactor = reactor
        return self._reactor

    def _client(self) -> Any:
        """The resolver that asks the primary (made on first use)."""
        if self._resolver is None:
            from torsion.names import client

            if self.primary is None:
                raise ResolverError(f"the secondary for {self.domain!r} has no primary to ask")
            self._resolver = client.Resolver(
                servers=[(self.primary, self._port)], reactor=self.reactor
            )
        return self._resolver

    def loadFile(self, filename: Any) -> None:
        raise NotImplementedError("a secondary's zone comes from its primary, not a file")

    def transfer(self) -> Deferred[bool]:
        """
        Transfer the zone now. Fires with True when a new copy was taken, False when
        the transfer failed (logged) or one is already under way; never fails.
        """
        if self.transferring:
            return succeed(False)
        try:
            primary = self._client()
        except ResolverError as e:
            _log.warn("{problem}", problem=e)
            return succeed(False)
        self.transferring = True
        d = primary.lookupZone(self.domain)
        d.addCallbacks(self._cbZone, self._ebZone)

        def done(result: bool) -> bool:
            self.transferring = False
            return result

        d.addBoth(done)
        return d  # type: ignore[no-any-return]

    def refresh(self) -> Deferred[bool]:
        """Ask the primary for its SOA; transfer if its serial is newer (or we have none)."""
        if self.soa is None:
            return self.transfer()
        d = self._client().lookupAuthority(self.domain)

        def compare(result: common.LookupResult) -> Any:
            for rr in result[0]:
                if isinstance(rr.payload, dns.Record_SOA) and rr.name == dns.Name(self.domain):
                    assert self.soa is not None
                    if serialGreater(rr.payload.serial, self.soa[1].serial):
                        return self.transfer()
                    self._lastSuccess = self.reactor.seconds()
                    return True
            _log.warn(
                "The primary {primary} sent no SOA for {domain}; trying again later",
                primary=self._primaryText(),
                domain=self.domain.decode(),
            )
            return False

        def failed(reason: Failure) -> bool:
            _log.warn(
                "Checking the serial of {domain} on {primary} failed: {problem}",
                domain=self.domain.decode(),
                primary=self._primaryText(),
                problem=reason.getErrorMessage(),
            )
            return False

        d.addCallbacks(compare, failed)
        return d  # type: ignore[no-any-return]

    def _primaryText(self) -> str:
        return f"{self.primary}:{self._port}"

    def _cbZone(self, zone: common.LookupResult) -> bool:
        records = list(zone[0])
        domain = dns.Name(self.domain)
        if (
            not records
            or not isinstance(records[0].payload, dns.Record_SOA)
            or records[0].name != domain
        ):
            _log.warn(
                "The transfer of {domain} from {primary} did not start with its SOA; "
                "keeping what we had",
                domain=self.domain.decode(),
                primary=self._primaryText(),
            )
            return False
        soaRR = records[0]
        assert isinstance(soaRR.payload, dns.Record_SOA)
        zoneName = self.domain.lower()
        table: dict[bytes, list[_Record]] = {}
        for rr in records[1:]:
            if rr.type == dns.SOA:
                continue  # the closing SOA (RFC 5936 2.2)
            key = rr.name.name.lower()
            if key != zoneName and not key.endswith(b"." + zoneName):
                _log.warn(
                    "The transfer of {domain} from {primary} holds {name}, outside the zone; "
                    "keeping what we had",
                    domain=self.domain.decode(),
                    primary=self._primaryText(),
                    name=rr.name,
                )
                return False
            payload = rr.payload
            if payload is None:
                continue
            if payload.ttl is None or payload.ttl != rr.ttl:
                payload.ttl = rr.ttl
            if isinstance(payload, dns.UnknownRecord):
                payload.TYPE = rr.type  # type: ignore[misc]
            table.setdefault(key, []).append(payload)
        soa = soaRR.payload
        soa.ttl = soaRR.ttl
        table.setdefault(zoneName, []).insert(0, soa)
        self.soa = (zoneName, soa)
        self.records = table
        self._index()
        self._lastSuccess = self.reactor.seconds()
        _log.info(
            "Transferred {domain} (serial {serial}, {count} records) from {primary}",
            domain=self.domain.decode(),
            serial=soa.serial,
            count=len(records) - 1,
            primary=self._primaryText(),
        )
        return True

    def _ebZone(self, reason: Failure) -> bool:
        _log.warn(
            "The transfer of {domain} from {primary} failed: {problem}",
            domain=self.domain.decode(),
            primary=self._primaryText(),
            problem=reason.getErrorMessage(),
        )
        return False

    # -- the schedule ------------------------------------------------------------------

    def startRefreshing(self) -> None:
        """Transfer now, then keep the copy fresh on the SOA's refresh/retry schedule."""
        self._running = True
        self._check()

    def stopRefreshing(self) -> None:
        self._running = False
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _check(self) -> None:
        self._timer = None
        self.refresh().addCallback(self._schedule)

    def _schedule(self, succeeded: bool) -> None:
        if not self._running:
            return
        if self.soa is not None and self._lastSuccess is not None:
            expire = self.soa[1].expire
            if self.reactor.seconds() - self._lastSuccess > expire:
                _log.warn(
                    "The copy of {domain} expired ({expire} seconds without reaching "
                    "{primary}); no longer serving it",
                    domain=self.domain.decode(),
                    expire=expire,
                    primary=self._primaryText(),
                )
                self.soa = None
                self.records = {}
                self._index()
        if self.soa is None:
            delay = self.initialRetry
        elif succeeded:
            delay = self.soa[1].refresh
        else:
            delay = self.soa[1].retry
        self._timer = self.reactor.callLater(max(self.minimumRefresh, delay), self._check)


class SecondaryAuthorityService(service.Service):
    """
    Keeps secondaries for C{domains} from one primary fresh while it runs;
    L{getAuthority} is the resolver to give a DNSServerFactory.
    """

    def __init__(
        self, primary: str, domains: Sequence[bytes | str], *, reactor: Any = None
    ) -> None:
        self.primary = primary
        self._port = DNS_PORT
        self.domains = [SecondaryAuthority(primary, d, reactor=reactor) for d in domains]

    @classmethod
    def fromServerAddressAndDomains(
        cls, serverAddress: tuple[str, int], domains: Sequence[bytes | str], *, reactor: Any = None
    ) -> SecondaryAuthorityService:
        made = cls(serverAddress[0], [], reactor=reactor)
        made._port = int(serverAddress[1])
        made.domains = [
            SecondaryAuthority.fromServerAddressAndDomain(serverAddress, d, reactor=reactor)
            for d in domains
        ]
        return made

    def getAuthority(self) -> resolve.ResolverChain:
        return resolve.ResolverChain(self.domains)

    def startService(self) -> None:
        super().startService()
        for authority in self.domains:
            authority.startRefreshing()

    def stopService(self) -> Any:
        for authority in self.domains:
            authority.stopRefreshing()
        return super().stopService()
