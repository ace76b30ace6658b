"""
torsion.names.client: the DNS stub resolver under Twisted's names. Resolver asks
the servers of resolv.conf (or those given) over UDP, with a new random ID and a
new source port for each attempt, the socket connected to the server so that the
kernel drops datagrams from anyone else; each timeout of the sequence
(1, 3, 11, 45) sends the query again, to the next server. A truncated answer is
asked again over TCP, EDNS0 offers a 1232-byte payload (RFC 6891, the DNS flag
day 2020 figure) and is dropped for a server that answers FORMERR or NOTIMP to
it, and lookupZone does AXFR over TCP. createResolver puts the hosts file, a
cache and a Resolver in a chain, which is what the module-level lookup
functions and getHostByName use, and what reactor.installResolver takes.
Tests: tests/names/test_client*.py.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Sequence
from typing import Any

from torsion.internet import error as ierror
from torsion.internet.defer import Deferred, fail
from torsion.internet.interfaces import IDelayedCall
from torsion.internet.protocol import ClientFactory
from torsion.logger import Logger
from torsion.names import dns
from torsion.names._dnsprotocol import DNSDatagramProtocol, DNSProtocol
from torsion.names.cache import CacheResolver
from torsion.names.common import LookupResult, ResolverBase, Timeout, defaultReactor
from torsion.names.error import DNSQueryTimeoutError, ResolverError
from torsion.names.hosts import Resolver as hostsResolver
from torsion.names.resolve import ResolverChain
from torsion.python.failure import Failure

__all__ = [
    "AXFRController",
    "Resolver",
    "createResolver",
    "getHostByName",
    "getResolver",
    "lookupAFSDatabase",
    "lookupAddress",
    "lookupAddress6",
    "lookupAllRecords",
    "lookupAuthority",
    "lookupCanonicalName",
    "lookupHostInfo",
    "lookupIPV6Address",
    "lookupMailBox",
    "lookupMailExchange",
    "lookupMailGroup",
    "lookupMailRename",
    "lookupMailboxInfo",
    "lookupNameservers",
    "lookupNamingAuthorityPointer",
    "lookupNull",
    "lookupPointer",
    "lookupResponsibility",
    "lookupSSHFingerprint",
    "lookupSenderPolicy",
    "lookupService",
    "lookupText",
    "lookupWellKnownServices",
    "lookupZone",
    "parseResolvConf",
]

_log = Logger()

Server = tuple[str, int]

DEFAULT_TIMEOUT: tuple[float, ...] = (1, 3, 11, 45)
EDNS_PAYLOAD = 1232
MAX_RESOLV_CONF = 64 * 1024


class ResolvConf:
    """What a resolv.conf says: servers, the search list and the options we use."""

    __slots__ = ("attempts", "defaulted", "ndots", "rotate", "search", "servers", "timeout")

    def __init__(self) -> None:
        self.servers: list[Server] = []
        self.defaulted = False
        self.search: list[bytes] = []
        self.ndots = 1
        self.timeout: float | None = None
        self.attempts: int | None = None
        self.rotate = False


def parseResolvConf(text: bytes | str) -> ResolvConf:
    """
    Parse resolv.conf(5): nameserver, search and domain (the last of them wins,
    as in the C library), options ndots, timeout, attempts and rotate. Lines it
    does not understand are skipped, as the C library does; with no nameserver
    line the server is 127.0.0.1, resolv.conf(5)'s default.
    """
    if isinstance(text, str):
        text = text.encode("utf-8", "replace")
    conf = ResolvConf()
    for raw in text.splitlines():
        words = raw.split(b"#", 1)[0].split(b";", 1)[0].split()
        if len(words) < 2:
            continue
        key, args = words[0].lower(), words[1:]
        if key == b"nameserver":
            host = args[0].decode("ascii", "replace")
            try:
                ipaddress.ip_address(host)
            except ValueError:
                _log.info(
                    "resolv.conf: skipped the nameserver {host!r} (not an IP address)", host=host
                )
                continue
            conf.servers.append((host, 53))
        elif key == b"domain":
            conf.search = [args[0].rstrip(b".")]
        elif key == b"search":
            conf.search = [a.rstrip(b".") for a in args if a.rstrip(b".")][:6]
        elif key == b"options":
            for option in args:
                name, _, value = option.partition(b":")
                try:
                    if name == b"ndots":
                        conf.ndots = min(max(int(value), 0), 15)
                    elif name == b"timeout":
                        conf.timeout = float(min(max(int(value), 1), 30))
                    elif name == b"attempts":
                        conf.attempts = min(max(int(value), 1), 5)
                    elif name == b"rotate":
                        conf.rotate = True
                except ValueError:
                    continue
    if not conf.servers:
        conf.servers.append(("127.0.0.1", 53))
        conf.defaulted = True
    return conf


def _checkServer(server: Any) -> Server:
    try:
        host, port = server
    except (TypeError, ValueError):
        raise ValueError(
            f"a DNS server is a (host, port) tuple such as ('192.0.2.53', 53), not {server!r}"
        ) from None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"the DNS server {host!r} is not an IP address; name servers are given by "
            "address (a name would need a resolver to find them)"
        ) from None
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"the DNS server port {port!r} is not a port number (1-65535)")
    return (str(host), port)


def _interfaceFor(host: str) -> str:
    address = ipaddress.ip_address(host)
    if address.is_loopback:
        return str(address)
    return "::" if address.version == 6 else ""


def _timeouts(timeout: Timeout | float) -> tuple[float, ...]:
    if timeout is None:
        return ()
    if isinstance(timeout, int | float):
        return (float(timeout),)
    return tuple(float(t) for t in timeout)


class _Lookup:
    """One query's way through the servers: retries, TCP on TC, EDNS fallback."""

    __slots__ = (
        "attempt",
        "current",
        "edns",
        "lastFailure",
        "queries",
        "resolver",
        "result",
        "servers",
        "start",
        "timeouts",
    )

    def __init__(
        self,
        resolver: Resolver,
        queries: list[dns.Query],
        timeouts: tuple[float, ...],
        servers: list[Server],
        start: int,
    ) -> None:
        self.resolver = resolver
        self.queries = queries
        self.timeouts = timeouts
        self.servers = servers
        self.start = start
        self.attempt = 0
        self.edns = resolver.udpPayloadSize
        self.lastFailure: Failure | None = None
        self.current: Deferred[dns.Message] | None = None
        self.result: Deferred[dns.Message] = Deferred(self._cancel)

    def _cancel(self, result: Deferred[dns.Message]) -> None:
        """The caller gave up: end the exchange in flight (closing its port or
        connection) and start no other."""
        current, self.current = self.current, None
        if current is not None:
            current.cancel()

    def _exchanging(self, d: Deferred[dns.Message]) -> Deferred[dns.Message]:
        self.current = d
        return d

    def server(self) -> Server:
        return self.servers[(self.start + self.attempt) % len(self.servers)]

    def send(self) -> None:
        if self.attempt >= len(self.timeouts):
            last = self.lastFailure
            if last is None or last.check(DNSQueryTimeoutError):
                self.result.errback(DNSQueryTimeoutError(self.queries[0]))
            else:
                self.result.errback(last)
            return
        server = self.server()
        d = self.resolver._udpExchange(server, self.queries, self.timeouts[self.attempt], self.edns)
        self._exchanging(d).addCallbacks(self.answered, self.failed, callbackArgs=(server,))

    def next(self) -> None:
        self.attempt += 1
        self.send()

    def answered(self, message: dns.Message, server: Server) -> None:
        if message.trunc:
            budget = max(sum(self.timeouts[self.attempt :]), 1.0)
            d = self.resolver._tcpExchange(server, self.queries, budget)
            self._exchanging(d).addCallbacks(self.overTCP, self.failed)
            return
        code = message.rCode
        if (
            code in (dns.EFORMAT, dns.ENOTIMP)
            and self.edns is not None
            and not any(isinstance(rr, dns.OPTHeader) for rr in message.additional)
        ):
            # RFC 6891 6.2.2: a server that does not know EDNS; ask it again without.
            self.edns = None
            self.send()
            return
        if code in (dns.ESERVER, dns.EREFUSED, dns.ENOTIMP) and self._othersLeft():
            self.next()
            return
        self.result.callback(message)

    def overTCP(self, message: dns.Message) -> None:
        self.result.callback(message)

    def _othersLeft(self) -> bool:
        return len(self.servers) > 1 and self.attempt + 1 < len(self.timeouts)

    def failed(self, reason: Failure) -> None:
        if self.result.called:
            return  # Cancelled.
        self.lastFailure = reason
        # No answer from this server, for whatever reason the network gives: the
        # next attempt may go to another one.
        retry = reason.check(
            DNSQueryTimeoutError,
            ierror.ConnectError,
            ierror.TimeoutError,
            ierror.CannotListenError,
            OSError,
        )
        if retry or (reason.check(ierror.ConnectionLost) and self._othersLeft()):
            self.next()
        else:
            self.result.errback(reason)


class _TCPQuery:
    """The controller of a TCP connection made for one query."""

    __slots__ = ("queries", "result", "timeout")

    def __init__(self, queries: list[dns.Query], timeout: float, result: Deferred[dns.Message]):
        self.queries = queries
        self.timeout = timeout
        self.result = result

    def connectionMade(self, protocol: DNSProtocol) -> None:
        d = protocol.query(self.queries, self.timeout)

        def done(outcome: dns.Message | Failure) -> None:
            if protocol.transport is not None:
                protocol.transport.loseConnection()
            if not self.result.called:
                if isinstance(outcome, Failure):
                    self.result.errback(outcome)
                else:
                    self.result.callback(outcome)

        d.addBoth(done)

    def connectionLost(self, protocol: DNSProtocol) -> None:
        pass

    def messageReceived(self, message: dns.Message, protocol: Any, address: Any) -> None:
        pass

    def failed(self, reason: Failure) -> None:
        if not self.result.called:
            self.result.errback(reason)


class _DNSClientFactory(ClientFactory):
    """Builds the DNSProtocol of one connection, reporting failure to connect."""

    noisy = False

    def __init__(self, controller: Any, reactor: Any) -> None:
        self.controller = controller
        self.reactor = reactor

    def buildProtocol(self, addr: Any) -> DNSProtocol:
        protocol = DNSProtocol(self.controller, reactor=self.reactor)
        protocol.factory = self
        return protocol

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        self.controller.failed(reason)


class AXFRController:
    """
    Collects a zone transfer (RFC 5936): every message of the answer stream,
    until the SOA that closes it. Fires C{deferred} with the records, both SOAs
    included, or fails it when the server refuses, the stream is malformed or
    longer than C{maxRecords}, or the connection ends early.
    """

    maxRecords = 1_000_000

    def __init__(self, name: bytes, deferred: Deferred[list[dns.RRHeader]]) -> None:
        self.name = dns.Name(name)
        self.deferred = deferred
        self.records: list[dns.RRHeader] = []
        self.soa: dns.RRHeader | None = None
        self.id = 0
        self.protocol: DNSProtocol | None = None
        self.timer: IDelayedCall | None = None
        self.timeout = 60.0

    def connectionMade(self, protocol: DNSProtocol) -> None:
        self.protocol = protocol
        self.id = protocol.pickID()
        m = dns.Message(id=self.id)
        m.queries = [dns.Query(self.name, dns.AXFR, dns.IN)]
        protocol.writeMessage(m)
        self.timer = protocol.callLater(self.timeout, self._timedOut)

    def _timedOut(self) -> None:
        self.timer = None
        self._finish(DNSQueryTimeoutError(dns.Query(self.name, dns.AXFR, dns.IN)))

    def _finish(self, outcome: list[dns.RRHeader] | BaseException | Failure) -> None:
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None
        if self.protocol is not None and self.protocol.transport is not None:
            self.protocol.transport.loseConnection()
        if self.deferred.called:
            return
        if isinstance(outcome, list):
            self.deferred.callback(outcome)
        else:
            self.deferred.errback(outcome)

    def messageReceived(self, message: dns.Message, protocol: Any, address: Any) -> None:
        if self.deferred.called or message.id != self.id or not message.answer:
            return
        if message.rCode != dns.OK:
            self._finish(ResolverBase().exceptionForCode(message.rCode)(message))
            return
        for rr in message.answers:
            if not isinstance(rr, dns.RRHeader):
                continue
            if self.soa is None:
                if rr.type != dns.SOA or rr.name != self.name:
                    self._finish(
                        ResolverError(
                            f"the zone transfer of {self.name} did not start with its SOA"
                        )
                    )
                    return
                self.soa = rr
            elif rr.type == dns.SOA and rr.name == self.name:
                self.records.append(rr)
                self._finish(self.records)
                return
            self.records.append(rr)
            if len(self.records) > self.maxRecords:
                self._finish(
                    ResolverError(
                        f"the zone transfer of {self.name} is over {self.maxRecords} records; "
                        "raise AXFRController.maxRecords if that zone is really so big"
                    )
                )
                return

    def connectionLost(self, protocol: DNSProtocol) -> None:
        self._finish(
            ierror.ConnectionLost(
                f"the server closed the connection before the zone transfer of {self.name} ended"
            )
        )

    def failed(self, reason: Failure) -> None:
        self._finish(reason)


class Resolver(ResolverBase):
    """
    A stub resolver that asks DNS servers. C{resolv} is a resolv.conf path (read
    again when it changes, checked at most every C{resolvReadInterval} seconds);
    C{servers} a list of (address, port) asked before those of the file;
    C{timeout} the sequence of waits, each ending in a new attempt at the next
    server. C{udpPayloadSize} (1232) is the EDNS0 size offered; None sends plain
    RFC 1035 queries.
    """

    udpPayloadSize: int | None = EDNS_PAYLOAD
    resolvReadInterval = 60.0

    def __init__(
        self,
        resolv: str | bytes | None = None,
        servers: Sequence[Server] | None = None,
        timeout: Sequence[float] = DEFAULT_TIMEOUT,
        reactor: Any = None,
    ) -> None:
        super().__init__()
        self._reactor = defaultReactor(reactor)
        self.servers: list[Server] = [_checkServer(s) for s in servers or ()]
        self.resolv = os.fsdecode(resolv) if resolv is not None else None
        if not self.servers and self.resolv is None:
            raise ValueError(
                "no DNS servers: pass servers=[(address, port)] or resolv='/etc/resolv.conf'"
            )
        self.timeout = tuple(timeout)
        if not self.timeout or any(t <= 0 for t in self.timeout):
            raise ValueError(f"the timeouts are a sequence of positive seconds, not {timeout!r}")
        self._defaultTimeout = self.timeout == DEFAULT_TIMEOUT
        self.dynServers: list[Server] = []
        self.search: list[bytes] = []
        self.ndots = 1
        self.rotate = False
        self.index = 0
        self._resolvMtime: float | None = None
        self._resolvChecked: float | None = None
        self._confTimeout: tuple[float, ...] | None = None
        self._waiting: dict[tuple[bytes, int, int], list[Deferred[LookupResult]]] = {}
        self._exchanges: dict[tuple[bytes, int, int], Deferred[dns.Message]] = {}
        if self.resolv is not None:
            self.maybeParseConfig()

    # -- resolv.conf --------------------------------------------------------------------

    def maybeParseConfig(self) -> None:
        """Read resolv.conf again if it changed (looked at every resolvReadInterval s)."""
        if self.resolv is None:
            return
        now = self._reactor.seconds()
        if self._resolvChecked is not None and now - self._resolvChecked < self.resolvReadInterval:
            return
        self._resolvChecked = now
        try:
            mtime = os.stat(self.resolv).st_mtime
        except OSError as e:
            if self._resolvMtime != -1.0:
                _log.info(
                    "Cannot read {path} ({problem}); asking {instead}",
                    path=self.resolv,
                    problem=e.strerror,
                    instead="the servers given" if self.servers else "127.0.0.1",
                )
            self._resolvMtime = -1.0  # missing: logged once, until it comes back
            self._apply(parseResolvConf(b""))
            return
        if mtime == self._resolvMtime:
            return
        self._resolvMtime = mtime
        try:
            with open(self.resolv, "rb") as f:
                text = f.read(MAX_RESOLV_CONF)
        except OSError:
            text = b""
        self._apply(parseResolvConf(text))

    def parseConfig(self, resolvConf: Any) -> None:
        """Twisted's name: take the configuration from an open file (bytes lines)."""
        self._apply(parseResolvConf(resolvConf.read(MAX_RESOLV_CONF)))

    def _apply(self, conf: ResolvConf) -> None:
        # resolv.conf(5)'s 127.0.0.1 stands in for servers only when none were given.
        self.dynServers = [] if conf.defaulted and self.servers else conf.servers
        self.search = conf.search
        self.ndots = conf.ndots
        self.rotate = conf.rotate
        self._confTimeout = None
        if self._defaultTimeout and (conf.timeout is not None or conf.attempts is not None):
            each = conf.timeout or 5.0
            rounds = conf.attempts or 2
            count = max(len(self.servers) + len(self.dynServers), 1)
            self._confTimeout = tuple(each * (2**r) for r in range(rounds) for _ in range(count))

    def _allServers(self) -> list[Server]:
        self.maybeParseConfig()
        servers = self.servers + [s for s in self.dynServers if s not in self.servers]
        if not servers:
            raise ResolverError("no DNS servers to ask; configure some in resolv.conf")
        return servers

    def _searchNames(self, name: bytes) -> list[bytes]:
        """
        The names getHostByName tries for the relative name C{name}, in order
        (the C library's rules): with at least C{ndots} dots first as it is, then
        with each search domain of resolv.conf; with fewer the other way round.
        """
        self.maybeParseConfig()
        if not self.search:
            return [name]
        withSearch = [name + b"." + domain for domain in self.search]
        if name.count(b".") >= self.ndots:
            return [name, *withSearch]
        return [*withSearch, name]

    # -- queries ------------------------------------------------------------------------

    def messageReceived(self, message: dns.Message, protocol: Any, address: Any) -> None:
        """A message that answers none of our queries (late, or forged): dropped."""
        _log.debug(
            "Dropped a DNS message (id {id}) from {address} that answers no query of ours",
            id=message.id,
            address=address,
        )

    def _udpExchange(
        self, server: Server, queries: list[dns.Query], timeout: float, edns: int | None
    ) -> Deferred[dns.Message]:
        """Ask C{server} once, from a new port connected to it."""
        protocol = DNSDatagramProtocol(self, reactor=self._reactor)
        protocol.logPortEvents = False  # A port per attempt: two log lines a query else.
        try:
            port = self._reactor.listenUDP(
                0, protocol, interface=_interfaceFor(server[0]), maxPacketSize=65535
            )
        except ierror.CannotListenError:
            return fail()
        try:
            port.connect(server[0], server[1])
        except (OSError, ierror.InvalidAddressError) as e:
            port.stopListening()
            return fail(ierror.ConnectError(f"cannot send to the DNS server {server}: {e}"))
        d = protocol.query(server, queries, timeout, udpPayloadSize=edns)

        def close(outcome: object) -> object:
            port.stopListening()
            return outcome

        d.addBoth(close)
        return d

    def _tcpExchange(
        self, server: Server, queries: list[dns.Query], timeout: float
    ) -> Deferred[dns.Message]:
        """Ask C{server} over a new TCP connection."""
        connectors: list[Any] = []
        result: Deferred[dns.Message] = Deferred(lambda _: connectors[0].disconnect())
        controller = _TCPQuery(queries, timeout, result)
        factory = _DNSClientFactory(controller, self._reactor)
        connectors.append(self._reactor.connectTCP(server[0], server[1], factory, timeout=timeout))
        return result

    def queryUDP(
        self, queries: Sequence[dns.Query], timeout: Timeout = None
    ) -> Deferred[dns.Message]:
        """
        Send C{queries} over UDP, one server after another as each timeout runs
        out; fire with the answering Message (asked again over TCP if it was
        truncated), or fail with DNSQueryTimeoutError.
        """
        try:
            servers = self._allServers()
        except ResolverError:
            return fail()
        given = _timeouts(timeout)
        if given == DEFAULT_TIMEOUT:
            # What reactor.resolve passes when its caller gave nothing: let
            # resolv.conf's options (or the resolver's own timeout) decide.
            given = ()
        timeouts = given or self._confTimeout or self.timeout
        start = 0
        if self.rotate:
            start = self.index
            self.index = (self.index + 1) % len(servers)
        lookup = _Lookup(self, list(queries), timeouts, servers, start)
        lookup.send()
        return lookup.result

    def queryTCP(self, queries: Sequence[dns.Query], timeout: float = 10) -> Deferred[dns.Message]:
        """Send C{queries} to the first server over TCP."""
        try:
            server = self._allServers()[0]
        except ResolverError:
            return fail()
        return self._tcpExchange(server, list(queries), timeout)

    def filterAnswers(self, message: dns.Message) -> LookupResult | Deferred[LookupResult]:
        """The three sections of an answer, or the failure its response code means."""
        if message.trunc:
            d = self.queryTCP(message.queries)
            return d.addCallback(self._sections)
        return self._sections(message)

    def _sections(self, message: dns.Message) -> LookupResult:
        if message.rCode != dns.OK:
            raise self.exceptionForCode(message.rCode)(message)
        return (
            [rr for rr in message.answers if isinstance(rr, dns.RRHeader)],
            [rr for rr in message.authority if isinstance(rr, dns.RRHeader)],
            [rr for rr in message.additional if isinstance(rr, dns.RRHeader)],
        )

    def _lookup(self, name: bytes, cls: int, type: int, timeout: Timeout) -> Deferred[LookupResult]:
        if type == dns.AXFR:
            return self._lookupZone(name, timeout)
        key = (name.lower(), cls, type)
        result: Deferred[LookupResult] = Deferred(lambda waiter: self._giveUp(key, waiter))
        waiting = self._waiting.get(key)
        if waiting is not None:
            # The same question is on its way already: share its answer.
            waiting.append(result)
            return result
        self._waiting[key] = [result]
        d = self._exchanges[key] = self.queryUDP([dns.Query(name, type, cls)], timeout)
        sections = d.addCallback(self._sections)

        def deliver(outcome: Any) -> None:
            self._exchanges.pop(key, None)
            for each in self._waiting.pop(key, []):
                if isinstance(outcome, Failure):
                    each.errback(outcome)
                else:
                    answers, authority, additional = outcome
                    each.callback((list(answers), list(authority), list(additional)))

        sections.addBoth(deliver)
        return result

    def _giveUp(self, key: tuple[bytes, int, int], waiter: Deferred[LookupResult]) -> None:
        """A caller cancelled its lookup: the exchange goes on while others wait for
        the same answer, and ends (its port closed, no retry) once none do."""
        waiters = self._waiting.get(key)
        if waiters is None or waiter not in waiters:
            return
        waiters.remove(waiter)
        if not waiters:
            del self._waiting[key]
            exchange = self._exchanges.pop(key, None)
            if exchange is not None:
                exchange.cancel()

    # -- zone transfers -----------------------------------------------------------------

    def lookupZone(
        self, name: bytes | str, timeout: Timeout | float = 10
    ) -> Deferred[LookupResult]:
        """
        Transfer the zone C{name} (AXFR over TCP, RFC 5936) from the first server:
        fire with (records, [], []), the records in the order the server sent
        them, the zone's SOA first and last. C{timeout} (seconds, or a sequence
        whose sum is used) bounds the whole transfer.
        """
        return super().lookupZone(name, timeout)  # type: ignore[arg-type]

    def _lookupZone(self, name: bytes, timeout: Timeout | float) -> Deferred[LookupResult]:
        try:
            server = self._allServers()[0]
        except ResolverError:
            return fail()
        records: Deferred[list[dns.RRHeader]] = Deferred()
        controller = AXFRController(name, records)
        controller.timeout = sum(_timeouts(timeout)) or 10.0
        factory = _DNSClientFactory(controller, self._reactor)
        self._reactor.connectTCP(server[0], server[1], factory, timeout=controller.timeout)
        result: Deferred[LookupResult] = records.addCallback(lambda rrs: (rrs, [], []))
        return result


# -- the module's resolver and functions ---------------------------------------------------


def createResolver(
    servers: Sequence[Server] | None = None,
    resolvconf: str | bytes | None = None,
    hosts: str | bytes | None = None,
    reactor: Any = None,
) -> ResolverChain:
    """
    A ResolverChain of the hosts file (C{hosts}, /etc/hosts by default), a
    CacheResolver and a Resolver (C{servers}, then those of C{resolvconf},
    /etc/resolv.conf by default). It provides IResolverSimple, so
    C{reactor.installResolver(createResolver())} makes reactor.resolve and
    connectTCP to a host name use it. C{reactor} is torsion's addition (the
    global reactor by default).
    """
    if resolvconf is None:
        resolvconf = "/etc/resolv.conf"
    network = Resolver(resolvconf, servers, reactor=reactor)
    return ResolverChain(
        [
            hostsResolver("/etc/hosts" if hosts is None else hosts),
            CacheResolver(reactor=reactor),
            network,
        ]
    )


theResolver: Any = None


def getResolver() -> Any:
    """The resolver the module-level functions use, made by createResolver() once."""
    global theResolver
    if theResolver is None:
        theResolver = createResolver()
    return theResolver


def getHostByName(name: bytes | str, timeout: Timeout = None, effort: int = 10) -> Deferred[str]:
    """An address of C{name}, by getResolver()'s hosts file, cache and servers."""
    result: Deferred[str] = getResolver().getHostByName(name, timeout, effort)
    return result


def _byResolver(method: str) -> Callable[..., Deferred[LookupResult]]:
    def lookup(name: bytes | str, timeout: Timeout = None) -> Deferred[LookupResult]:
        result: Deferred[LookupResult] = getattr(getResolver(), method)(name, timeout)
        return result

    lookup.__name__ = lookup.__qualname__ = method
    lookup.__doc__ = f"C{{getResolver().{method}(name, timeout)}}."
    return lookup


lookupAddress = _byResolver("lookupAddress")
lookupIPV6Address = _byResolver("lookupIPV6Address")
lookupAddress6 = _byResolver("lookupAddress6")
lookupMailExchange = _byResolver("lookupMailExchange")
lookupNameservers = _byResolver("lookupNameservers")
lookupCanonicalName = _byResolver("lookupCanonicalName")
lookupMailBox = _byResolver("lookupMailBox")
lookupMailGroup = _byResolver("lookupMailGroup")
lookupMailRename = _byResolver("lookupMailRename")
lookupPointer = _byResolver("lookupPointer")
lookupAuthority = _byResolver("lookupAuthority")
lookupNull = _byResolver("lookupNull")
lookupWellKnownServices = _byResolver("lookupWellKnownServices")
lookupHostInfo = _byResolver("lookupHostInfo")
lookupMailboxInfo = _byResolver("lookupMailboxInfo")
lookupText = _byResolver("lookupText")
lookupSenderPolicy = _byResolver("lookupSenderPolicy")
lookupResponsibility = _byResolver("lookupResponsibility")
lookupAFSDatabase = _byResolver("lookupAFSDatabase")
lookupService = _byResolver("lookupService")
lookupAllRecords = _byResolver("lookupAllRecords")
lookupNamingAuthorityPointer = _byResolver("lookupNamingAuthorityPointer")
lookupSSHFingerprint = _byResolver("lookupSSHFingerprint")
lookupZone = _byResolver("lookupZone")
