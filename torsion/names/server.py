"""
torsion.names.server: DNSServerFactory, a DNS server over UDP and TCP that
answers from authorities (zones), a cache and recursive resolvers, in that
order, under Twisted's names (handleQuery, gotResolverResponse,
gotResolverError, sendReply, messageReceived, allowQuery, ...).

What it does beyond Twisted: a UDP reply never exceeds what the client can take
(512 bytes without EDNS0, RFC 1035; the client's offered size with it, at most
ours, RFC 6891): whole RRsets are cut from the end and TC set when answers or
authority records had to go, so the client retries over TCP. A datagram that
cannot be decoded but has a query header gets FORMERR; responses are never
answered; the number of TCP connections and their idle time are bounded; AXFR
is served over TCP only, to the networks in C{transferFrom}.

Tests: tests/names/test_server.py, test_server_udp.py, test_dig.py.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Sequence
from typing import Any

from torsion.internet import protocol as iprotocol
from torsion.internet.defer import succeed
from torsion.internet.error import ConnectError, ConnectionLost, TimeoutError
from torsion.internet.interfaces import IDelayedCall
from torsion.logger import Logger
from torsion.names import dns, resolve
from torsion.names._dnsprotocol import DNSDatagramProtocol, DNSProtocol
from torsion.names._dnsrecords import MAX_MESSAGE
from torsion.names.authority import FileAuthority
from torsion.names.error import (
    AuthoritativeDomainError,
    DNSNameError,
    DomainError,
)
from torsion.python.failure import Failure

__all__ = ["BADVERS", "DNSServerDatagramProtocol", "DNSServerFactory"]

_log = Logger(namespace="torsion.names.server")

BADVERS = 16
"""The extended response code for an EDNS version we do not speak (RFC 6891 6.1.3)."""

# Largest TCP message we build when splitting a zone transfer; well under 65535
# so that compression never matters for the estimate.
_TRANSFER_CHUNK = 16384

Address = tuple[str, int]

_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def _isOPT(rr: object) -> bool:
    return isinstance(rr, dns.OPTHeader)


class DNSServerFactory(iprotocol.ServerFactory):
    """
    Serve DNS from C{authorities} (each a resolver, usually a FileAuthority),
    then C{caches}, then C{clients} (recursive resolvers); recursion is offered
    (RA) only when there are clients. The factory is the TCP factory and the
    controller of a DNSDatagramProtocol for UDP::

        factory = DNSServerFactory(authorities=[BindAuthority("example.com.zone")])
        reactor.listenTCP(53, factory)
        reactor.listenUDP(53, dns.DNSDatagramProtocol(factory))

    Limits (class attributes, change them on the instance): C{udpPayloadSize}
    is the largest UDP reply we send to an EDNS0 client; C{maxConnections} TCP
    connections at once (more are closed on arrival); C{idleTimeout} seconds a
    TCP client may stay silent; C{transferFrom} the networks that may ask for
    AXFR (this machine only by default).
    """

    protocol = DNSProtocol
    cache: Any = None
    noisy = False
    udpPayloadSize = 1232
    maxConnections = 256
    idleTimeout = 30.0
    transferFrom: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network] = _LOOPBACK
    wireCacheSize = 4096

    def __init__(
        self,
        authorities: Sequence[Any] | None = None,
        caches: Sequence[Any] | None = None,
        clients: Sequence[Any] | None = None,
        verbose: int = 0,
        *,
        reactor: Any = None,
    ) -> None:
        resolvers: list[Any] = []
        resolvers.extend(authorities or ())
        resolvers.extend(caches or ())
        resolvers.extend(clients or ())
        self.authorities = list(authorities or ())
        self.canRecurse = bool(clients)
        self.resolver = resolve.ResolverChain(resolvers)
        self.verbose = verbose
        if caches:
            self.cache = caches[-1]
        self.connections: list[DNSProtocol] = []
        self._idle: dict[DNSProtocol, IDelayedCall] = {}
        self._reactor = reactor
        self._refusedConnections = 0
        self._malformed = 0
        self._chain = self.resolver
        self._fastFor: list[Any] | None = None
        self._fastLen = 0
        self._fast: list[FileAuthority] = []
        self._rest: resolve.ResolverChain = self.resolver
        self._fromZone = False
        # The wire cache: the bytes after the ID of a UDP question answered from our
        # zones, mapped to the bytes after the ID of the answer (see
        # DNSServerDatagramProtocol). _wireStamp is the zones' generations when filled.
        self._wire: dict[bytes, bytes] = {}
        self._wireKey: bytes | None = None
        self._wireStamp = -1
        self._wireAllowed = all(
            getattr(type(self), name) is getattr(DNSServerFactory, name) for name in _WIRE_SENSITIVE
        )

    @property
    def reactor(self) -> Any:
        if self._reactor is None:
            from torsion.internet import reactor

            self._reactor = reactor
        return self._reactor

    # -- connections -------------------------------------------------------------------

    def buildProtocol(self, addr: Any) -> DNSProtocol | None:
        if len(self.connections) >= self.maxConnections:
            self._refusedConnections += 1
            n = self._refusedConnections
            if n <= 10 or n % 1000 == 0:
                _log.warn(
                    "Closed a DNS TCP connection from {peer}: {limit} connections are open "
                    "(maxConnections); {count} closed so far",
                    peer=addr,
                    limit=self.maxConnections,
                    count=n,
                )
            return None
        p = self.protocol(self, self._reactor)
        p.factory = self
        return p

    def connectionMade(self, protocol: DNSProtocol) -> None:
        """A TCP client connected: count it and start its idle timer."""
        self.connections.append(protocol)
        self._idle[protocol] = self.reactor.callLater(self.idleTimeout, self._timedOut, protocol)

    def connectionLost(self, protocol: DNSProtocol) -> None:
        if protocol in self.connections:
            self.connections.remove(protocol)
        timer = self._idle.pop(protocol, None)
        if timer is not None and timer.active():
            timer.cancel()

    def _timedOut(self, protocol: DNSProtocol) -> None:
        self._idle.pop(protocol, None)
        if protocol.transport is not None:
            protocol.transport.loseConnection()

    def _touch(self, protocol: Any) -> None:
        timer = self._idle.get(protocol)
        if timer is not None and timer.active():
            timer.reset(self.idleTimeout)

    # -- receiving ---------------------------------------------------------------------

    def messageReceived(
        self, message: dns.Message, proto: Any, address: Address | None = None
    ) -> None:
        """A query arrived (address None over TCP): answer it, or say why not."""
        if address is None:
            self._touch(proto)
        if message.answer:
            return  # never answer an answer: that is how reflection loops start
        if self.verbose:
            _log.info(
                "{kind} query from {address}: {queries}",
                kind="UDP" if address is not None else "TCP",
                address=address if address is not None else _peer(proto),
                queries=message.queries,
            )
        opts = [rr for rr in message.additional if _isOPT(rr)]
        if len(opts) > 1 or (message.opCode == dns.OP_QUERY and len(message.queries) != 1):
            self.sendReply(proto, self._responseFromMessage(message, dns.EFORMAT), address)
            return
        if opts:
            opt = opts[0]
            assert isinstance(opt, dns.OPTHeader)
            if opt.version != 0:
                response = self._responseFromMessage(message, dns.OK)
                response.rCode = 0
                for rr in response.additional:
                    if isinstance(rr, dns.OPTHeader):
                        rr.extendedRCODE = BADVERS >> 4
                self.sendReply(proto, response, address)
                return
        if not self.allowQuery(message, proto, address):
            self.sendReply(proto, self._responseFromMessage(message, dns.EREFUSED), address)
        elif message.opCode == dns.OP_QUERY:
            self.handleQuery(message, proto, address)
        elif message.opCode == dns.OP_INVERSE:
            self.handleInverseQuery(message, proto, address)
        elif message.opCode == dns.OP_STATUS:
            self.handleStatus(message, proto, address)
        elif message.opCode == dns.OP_NOTIFY:
            self.handleNotify(message, proto, address)
        else:
            self.handleOther(message, proto, address)

    def malformedMessageReceived(self, data: bytes, proto: Any, address: Address | None) -> None:
        """
        Undecodable input: FORMERR when it has a query's header (the ID, QR clear),
        so the client learns at once; silence otherwise (too short to answer, or
        itself a response).
        """
        self._malformed += 1
        n = self._malformed
        if n <= 10 or n % 1000 == 0:
            _log.info(
                "A malformed DNS message ({size} bytes) from {address}; {count} so far",
                size=len(data),
                address=address if address is not None else _peer(proto),
                count=n,
            )
        if address is None:
            self._touch(proto)
        if len(data) < 12 or data[2] & 0x80:
            return
        response = dns.Message(
            id=(data[0] << 8) | data[1],
            answer=1,
            opCode=(data[2] >> 3) & 0xF,
            recDes=data[2] & 1,
            recAv=int(self.canRecurse),
            rCode=dns.EFORMAT,
        )
        self.sendReply(proto, response, address)

    def allowQuery(self, message: dns.Message, protocol: Any, address: Address | None) -> bool:
        """Whether to answer at all; a refused query gets REFUSED. Override for ACLs."""
        return True

    def allowTransfer(self, protocol: Any) -> bool:
        """Whether this TCP client may have whole zones: its address is in C{transferFrom}."""
        host = _peer(protocol)
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.transferFrom)

    # -- answering ---------------------------------------------------------------------

    def _responseFromMessage(
        self,
        message: dns.Message,
        rCode: int = dns.OK,
        answers: list[Any] | None = None,
        authority: list[Any] | None = None,
        additional: list[Any] | None = None,
    ) -> dns.Message:
        """
        The response to C{message}: its ID, question and RD bit, our RA bit, and an
        EDNS0 OPT record offering our payload size when the query had one. Its
        C{maxSize} is how large it may be over UDP.
        """
        response = dns.Message(
            id=message.id,
            answer=1,
            opCode=message.opCode,
            recDes=message.recDes,
            recAv=int(self.canRecurse),
            rCode=rCode,
            checkingDisabled=message.checkingDisabled,
        )
        response.queries = message.queries
        response.answers = answers if answers is not None else []
        response.authority = authority if authority is not None else []
        extra = [rr for rr in additional if not _isOPT(rr)] if additional else []
        maxSize = 512
        for rr in message.additional:
            if isinstance(rr, dns.OPTHeader):
                extra.append(dns.OPTHeader(udpPayloadSize=self.udpPayloadSize))
                maxSize = max(512, min(rr.udpPayloadSize, self.udpPayloadSize))
                break
        response.additional = extra
        response.maxSize = maxSize
        return response

    def handleQuery(self, message: dns.Message, protocol: Any, address: Address | None) -> Any:
        """Answer a standard query from the resolver chain; returns its Deferred."""
        query = message.queries[0]
        if query.type == dns.AXFR:
            return self._handleTransfer(message, protocol, address)
        chain = self.resolver
        if chain is self._chain:
            # Our zones answer at once: ask them directly, without the chain's
            # Deferreds, and go on to the rest of the chain only if none knows.
            if self._fastFor is not chain.resolvers or len(chain.resolvers) != self._fastLen:
                self._splitChain()
            name = query.name.name
            for zone in self._fast:
                try:
                    result = zone._answer(name, query.cls, query.type)
                except Exception as e:
                    if type(e) is DomainError:
                        continue
                    result = None
                    problem: BaseException | None = e
                else:
                    problem = None
                self._fromZone = True
                try:
                    if problem is None:
                        assert result is not None
                        self.gotResolverResponse(result, protocol, message, address)
                    else:
                        self.gotResolverError(Failure(problem), protocol, message, address)
                finally:
                    self._fromZone = False
                return succeed(None)
            chain = self._rest
        d = chain.query(query)
        d.addCallback(self.gotResolverResponse, protocol, message, address)
        d.addErrback(self.gotResolverError, protocol, message, address)
        return d

    def _splitChain(self) -> None:
        """Find the zones at the head of the chain that can be asked directly."""
        resolvers = self._chain.resolvers
        fast: list[FileAuthority] = []
        index = 0
        while index < len(resolvers):
            members = _directZones(resolvers[index])
            if members is None:
                break
            fast.extend(members)
            index += 1
        self._fastFor = resolvers
        self._fastLen = len(resolvers)
        self._fast = fast
        self._rest = resolve.ResolverChain(resolvers[index:])
        self._wire.clear()

    def gotResolverResponse(
        self,
        response: tuple[list[Any], list[Any], list[Any]],
        protocol: Any,
        message: dns.Message,
        address: Address | None,
    ) -> None:
        """
        Send the answer. Unlike Twisted's, this does not feed the cache itself:
        the ResolverChain gives every answer from a later resolver to the caches
        before it, so answers from our own zones are never cached.
        """
        answers, authority, additional = response
        reply = self._responseFromMessage(message, dns.OK, answers, authority, additional)
        # AA only for data from a zone of ours: a referral's NS records are not ours.
        reply.auth = int(
            any(rr.auth for rr in answers) if answers else any(rr.auth for rr in authority)
        )
        self.sendReply(protocol, reply, address)
        if self.verbose > 1:
            _log.info(
                "Answered {query} with {answers} answers, {authority} authority and "
                "{additional} additional records",
                query=message.queries[0],
                answers=len(answers),
                authority=len(authority),
                additional=len(additional),
            )

    def gotResolverError(
        self, failure: Failure, protocol: Any, message: dns.Message, address: Address | None
    ) -> None:
        """
        Turn a lookup's failure into a response code. NXDOMAIN carries the SOA (and
        any CNAMEs) the resolver found; a name no resolver claims gets REFUSED from a
        server that does not recurse (Twisted answers NXDOMAIN); upstream failures
        and timeouts are SERVFAIL.
        """
        value = failure.value
        answers: list[Any] = []
        authority: list[Any] = []
        auth = 0
        upstream = value.args[0] if getattr(value, "args", None) else None
        if isinstance(value, AuthoritativeDomainError):
            rCode, auth = dns.ENAME, 1
        elif type(value) is DNSNameError:
            rCode = dns.ENAME
        elif type(value) is DomainError:
            rCode = dns.ENAME if self.canRecurse else dns.EREFUSED
        elif isinstance(value, (DomainError, TimeoutError, ConnectError, ConnectionLost)):
            rCode = dns.ESERVER  # the upstream server failed us: nothing to log here
        else:
            rCode = dns.ESERVER
            _log.failure("Answering {query} failed", failure, query=message.queries[0])
        if rCode == dns.ENAME and isinstance(upstream, dns.Message):
            answers = [rr for rr in upstream.answers if not _isOPT(rr)]
            authority = [rr for rr in upstream.authority if not _isOPT(rr)]
        reply = self._responseFromMessage(message, rCode, answers, authority)
        reply.auth = auth
        self.sendReply(protocol, reply, address)
        if self.verbose > 1:
            _log.info("Answered {query} with rcode {rCode}", query=message.queries[0], rCode=rCode)

    def handleInverseQuery(
        self, message: dns.Message, protocol: Any, address: Address | None
    ) -> None:
        self.sendReply(protocol, self._responseFromMessage(message, dns.ENOTIMP), address)

    def handleStatus(self, message: dns.Message, protocol: Any, address: Address | None) -> None:
        self.sendReply(protocol, self._responseFromMessage(message, dns.ENOTIMP), address)

    def handleNotify(self, message: dns.Message, protocol: Any, address: Address | None) -> None:
        self.sendReply(protocol, self._responseFromMessage(message, dns.ENOTIMP), address)

    def handleOther(self, message: dns.Message, protocol: Any, address: Address | None) -> None:
        self.sendReply(protocol, self._responseFromMessage(message, dns.ENOTIMP), address)

    # -- sending -----------------------------------------------------------------------

    def sendReply(self, protocol: Any, message: dns.Message, address: Address | None) -> None:
        """
        Send C{message}: over UDP cut to C{message.maxSize} bytes (TC set when
        answers had to go), over TCP whole (cut to 65535 bytes, which only a
        hand-built message reaches).
        """
        if address is None:
            try:
                protocol.writeMessage(message)
            except ValueError:  # over 65535 bytes: encoding failed before any write
                protocol.writeMessage(_truncated(message, MAX_MESSAGE)[1])
            return
        data, message = _truncated(message, max(512, message.maxSize))
        key = self._wireKey
        if key is not None and self._fromZone and self._wireAllowed and not self.verbose:
            self._remember(key, data)
        if type(protocol).writeMessage is DNSDatagramProtocol.writeMessage:
            # The plain protocol would only encode the message again.
            protocol.transport.write(data, address)
        else:
            protocol.writeMessage(message, address)

    # -- the wire cache ----------------------------------------------------------------

    def _wireValid(self) -> bool:
        """Whether the wire cache still matches our zones (else it is emptied)."""
        stamp = 0
        for zone in self._fast:
            zone._fresh()
            stamp += zone._generation  # each only grows, so the sum moves when one does
        if stamp != self._wireStamp or self.resolver is not self._chain:
            self._wire.clear()
            self._wireStamp = stamp
            return False
        return True

    def _wireAnswer(self, datagram: bytes) -> bytes | None:
        """The remembered answer to this exact question (with its ID), if any."""
        cached = self._wire.get(datagram[2:])
        if cached is None or not self._wireValid():
            return None
        return datagram[:2] + cached

    def _remember(self, datagram: bytes, answer: bytes) -> None:
        if len(datagram) > 512 or self.wireCacheSize <= 0:
            return
        self._wireValid()
        if len(self._wire) >= self.wireCacheSize:
            self._wire.clear()
        self._wire[datagram[2:]] = answer[2:]

    # -- zone transfers ----------------------------------------------------------------

    def _transferAuthority(self, name: dns.Name) -> Any:
        for authority in _flatten(self.authorities):
            soa = getattr(authority, "soa", None)
            if soa is not None and hasattr(authority, "lookupZone") and dns.Name(soa[0]) == name:
                return authority
        return None

    def _handleTransfer(self, message: dns.Message, protocol: Any, address: Address | None) -> Any:
        query = message.queries[0]
        if address is not None:
            # RFC 5936 4.2: zone transfers are not defined over UDP.
            self.sendReply(protocol, self._responseFromMessage(message, dns.EREFUSED), address)
            return None
        authority = self._transferAuthority(query.name)
        if authority is None or not self.allowTransfer(protocol):
            if authority is not None:
                _log.info(
                    "Refused a zone transfer of {zone} to {peer}: not in transferFrom",
                    zone=query.name,
                    peer=_peer(protocol),
                )
            self.sendReply(protocol, self._responseFromMessage(message, dns.EREFUSED), address)
            return None
        d = authority.lookupZone(query.name.name)
        d.addCallback(self._sendZone, protocol, message)
        d.addErrback(self.gotResolverError, protocol, message, address)
        return d

    def _sendZone(
        self, result: tuple[list[dns.RRHeader], Any, Any], protocol: Any, message: dns.Message
    ) -> None:
        records = result[0]
        chunk: list[dns.RRHeader] = []
        size = 0
        for rr in records:
            one = _recordSize(rr)
            if chunk and size + one > _TRANSFER_CHUNK:
                self._sendTransferPart(protocol, message, chunk)
                chunk, size = [], 0
            chunk.append(rr)
            size += one
        self._sendTransferPart(protocol, message, chunk)
        _log.info(
            "Sent the zone {zone} ({count} records) to {peer}",
            zone=message.queries[0].name,
            count=len(records),
            peer=_peer(protocol),
        )

    def _sendTransferPart(
        self, protocol: Any, message: dns.Message, chunk: list[dns.RRHeader]
    ) -> None:
        reply = self._responseFromMessage(message, dns.OK, chunk)
        reply.auth = 1
        protocol.writeMessage(reply)


def _peer(protocol: Any) -> str:
    transport = getattr(protocol, "transport", None)
    try:
        return str(transport.getPeer().host)  # type: ignore[union-attr]
    except Exception:
        return "?"


def _flatten(resolvers: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for r in resolvers:
        inner = getattr(r, "resolvers", None)
        if isinstance(inner, list):
            out.extend(_flatten(inner))
        else:
            out.append(r)
    return out


def _recordSize(rr: dns.RRHeader) -> int:
    m = dns.Message()
    m.answers = [rr]
    return len(m.toStr()) - 12


def _encodeOrNone(message: dns.Message) -> bytes | None:
    try:
        return message.toStr()
    except ValueError:
        return None


def _rrsets(records: list[Any]) -> list[list[Any]]:
    sets: list[list[Any]] = []
    for rr in records:
        if sets and sets[-1][0].name == rr.name and sets[-1][0].type == rr.type:
            sets[-1].append(rr)
        else:
            sets.append([rr])
    return sets


def _truncated(message: dns.Message, limit: int) -> tuple[bytes, dns.Message]:
    """
    C{message} encoded in at most C{limit} bytes, and the message that was sent:
    whole RRsets are dropped from the end (additional first, then authority, then
    answers). TC is set when answers or authority records were dropped; losing
    only additional records does not set it (RFC 2181 9). An OPT record stays.
    """
    data = _encodeOrNone(message)
    if data is not None and len(data) <= limit:
        return data, message
    opts = [rr for rr in message.additional if _isOPT(rr)]
    sections = (
        [(0, s) for s in _rrsets(message.answers)]
        + [(1, s) for s in _rrsets(message.authority)]
        + [(2, s) for s in _rrsets([rr for rr in message.additional if not _isOPT(rr)])]
    )
    essential = sum(1 for where, _ in sections if where < 2)

    def build(keep: int) -> tuple[bytes | None, dns.Message]:
        m = copy.copy(message)
        parts: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
        for where, rrset in sections[:keep]:
            parts[where].extend(rrset)
        m.answers, m.authority = parts[0], parts[1]
        m.additional = parts[2] + opts
        m.trunc = int(keep < essential or bool(message.trunc))
        return _encodeOrNone(m), m

    low, high = 0, len(sections) - 1
    best = build(0)
    while low <= high:
        middle = (low + high) // 2
        attempt = build(middle)
        if attempt[0] is not None and len(attempt[0]) <= limit:
            best = attempt
            low = middle + 1
        else:
            high = middle - 1
    if best[0] is None or len(best[0]) > limit:
        # Not even the question fits: send the header alone, truncated.
        m = copy.copy(message)
        m.queries, m.answers, m.authority, m.additional, m.trunc = [], [], [], [], 1
        return m.toStr(), m
    return best[0], best[1]


# What a subclass may override that the wire cache would skip: overriding any turns
# the cache off, so that (for one) an allowQuery ACL is asked every time.
_WIRE_SENSITIVE = (
    "messageReceived",
    "allowQuery",
    "handleQuery",
    "gotResolverResponse",
    "gotResolverError",
    "sendReply",
    "_responseFromMessage",
)


def _directZones(resolver: Any) -> list[FileAuthority] | None:
    """The zones of C{resolver} that may be asked directly, or None if it is not one."""
    if isinstance(resolver, FileAuthority):
        kind = type(resolver)
        if kind._lookup is FileAuthority._lookup and kind.query is FileAuthority.query:
            return [resolver]
        return None
    if type(resolver) is resolve.ResolverChain:
        found: list[FileAuthority] = []
        for inner in resolver.resolvers:
            members = _directZones(inner)
            if members is None:
                return None
            found.extend(members)
        return found
    return None


class DNSServerDatagramProtocol(DNSDatagramProtocol):
    """
    DNS over UDP for a DNSServerFactory, with the factory's wire cache in front: a
    question that is byte for byte one already answered from our zones (bar its
    ID) gets that answer again without being decoded or answered anew, which is
    what a server asked the same names over and over spends its time on. The cache
    holds C{factory.wireCacheSize} answers, is emptied whenever a zone changes
    (a secondary's transfer, say), and is off when verbose logging is on or when
    the factory overrides how queries are answered (allowQuery, say). torsiond dns
    uses this protocol; a plain DNSDatagramProtocol works with the factory too.
    """

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        factory = self.controller
        if factory._wire:
            cached = factory._wireAnswer(datagram)
            if cached is not None:
                assert self.transport is not None
                self.transport.write(cached, addr)
                return
        factory._wireKey = datagram
        try:
            super().datagramReceived(datagram, addr)
        finally:
            factory._wireKey = None
