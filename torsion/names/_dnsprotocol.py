"""
The DNS protocols of torsion.names, used by clients and servers alike:
DNSDatagramProtocol (UDP) and DNSProtocol (TCP, each message behind a 2-byte
length, RFC 1035 4.2.2), under Twisted's names. Both send queries and match
the answers to them, and hand every other message to their controller
(C{controller.messageReceived(message, protocol, address)}, address None on
TCP), which is how a server hears queries.

An answer is taken as the answer to a query only when it has the query's ID,
the QR bit, the same question (or none, with an error code) and, on UDP, comes
from the address the query went to: a forged datagram with the right ID from
elsewhere is not enough. Undecodable input goes to
C{controller.malformedMessageReceived(data, protocol, address)} when the
controller has it, else it is logged (sparingly) and dropped. Tests:
tests/names/test_protocol.py.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Callable, Sequence
from typing import Any

from torsion.internet import error as ierror
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import IDelayedCall
from torsion.internet.protocol import DatagramProtocol, Protocol, connectionDone
from torsion.logger import Logger
from torsion.names.error import DNSQueryTimeoutError
from torsion.python.failure import Failure

__all__ = ["DNSDatagramProtocol", "DNSMixin", "DNSProtocol"]

_log = Logger()

Address = tuple[str, int]

MAX_TCP_FRAME = 65535


class _Pending:
    """One query waiting for its answer."""

    __slots__ = ("address", "deferred", "queries", "timer")

    def __init__(
        self,
        deferred: Deferred[dns.Message],
        queries: list[dns.Query],
        address: Address | None,
        timer: IDelayedCall,
    ) -> None:
        self.deferred = deferred
        self.queries = queries
        self.address = address
        self.timer = timer


def _sameAddress(a: Any, b: Address) -> bool:
    try:
        return bool(
            a[1] == b[1]
            and (a[0] == b[0] or ipaddress.ip_address(a[0]) == ipaddress.ip_address(b[0]))
        )
    except (TypeError, ValueError, IndexError):
        return False


class DNSMixin:
    """
    What the two protocols share: the controller, the reactor, the queries in
    flight (C{liveMessages}, by ID) and how an answer is matched to one.
    """

    def __init__(self, controller: Any, reactor: Any = None) -> None:
        self.controller = controller
        self._reactor = reactor
        self.liveMessages: dict[int, _Pending] = {}
        self._malformed = 0

    @property
    def reactor(self) -> Any:
        if self._reactor is None:
            from torsion.internet import reactor

            self._reactor = reactor
        return self._reactor

    def pickID(self) -> int:
        """A random message ID (RFC 5452) not in use by a query of ours."""
        while True:
            id = secrets.randbelow(0x10000)
            if id not in self.liveMessages:
                return id

    def callLater(self, period: float, func: Callable[..., object], *args: Any) -> IDelayedCall:
        return self.reactor.callLater(period, func, *args)  # type: ignore[no-any-return]

    def _query(
        self,
        queries: Sequence[dns.Query],
        timeout: float,
        id: int,
        writeMessage: Callable[[dns.Message], object],
        address: Address | None,
        recDes: bool,
        udpPayloadSize: int | None,
    ) -> Deferred[dns.Message]:
        if id in self.liveMessages:
            raise ValueError(f"the DNS message ID {id} is in use by a query in flight")
        m = dns.Message(id=id, recDes=int(recDes))
        m.queries = list(queries)
        if udpPayloadSize is not None:
            m.additional.append(dns.OPTHeader(udpPayloadSize=udpPayloadSize))
        result: Deferred[dns.Message] = Deferred(lambda _: self._forget(id))
        try:
            writeMessage(m)
        except Exception:
            result.errback(Failure())
            return result
        timer = self.callLater(timeout, self._timedOut, id)
        self.liveMessages[id] = _Pending(result, m.queries, address, timer)
        return result

    def _forget(self, id: int) -> None:
        """The caller cancelled query C{id}: an answer arriving later is dropped."""
        pending = self.liveMessages.pop(id, None)
        if pending is not None and pending.timer.active():
            pending.timer.cancel()

    def _timedOut(self, id: int) -> None:
        pending = self.liveMessages.pop(id, None)
        if pending is not None:
            pending.deferred.errback(DNSQueryTimeoutError(id))

    def _answers(self, m: dns.Message, address: Address | None) -> _Pending | None:
        """The query that C{m} answers, taken out of liveMessages; None if none."""
        pending = self.liveMessages.get(m.id)
        if pending is None or not m.answer:
            return None
        if pending.address is not None and not _sameAddress(address, pending.address):
            return None
        if m.queries != pending.queries and (m.queries or m.rCode == dns.OK):
            return None
        del self.liveMessages[m.id]
        pending.timer.cancel()
        return pending

    def _failAll(self, reason: BaseException | Failure) -> None:
        live, self.liveMessages = self.liveMessages, {}
        for pending in live.values():
            if pending.timer.active():
                pending.timer.cancel()
            pending.deferred.errback(reason)

    def _decode(self, data: bytes, address: Address | None) -> dns.Message | None:
        m = dns.Message()
        try:
            m.fromStr(data)
        except dns.DNSParseError as e:
            handler = getattr(self.controller, "malformedMessageReceived", None)
            if handler is not None:
                handler(data, self, address)
            else:
                self._malformed += 1
                n = self._malformed
                if n <= 10 or n % 1000 == 0:
                    _log.info(
                        "Dropped a malformed DNS message ({size} bytes) from {address}: "
                        "{problem} ({count} so far)",
                        size=len(data),
                        address=address,
                        problem=e,
                        count=n,
                    )
            return None
        return m

    def _deliver(self, m: dns.Message, address: Address | None) -> None:
        pending = self._answers(m, address)
        if pending is not None:
            pending.deferred.callback(m)
        else:
            self.controller.messageReceived(m, self, address)


class DNSDatagramProtocol(DNSMixin, DatagramProtocol):
    """
    DNS over UDP. As a client: C{query(address, queries)} sends a query and
    returns a Deferred of the answering Message (listening on a free port first
    if the protocol is not listening yet). As a server: listen with it and
    answer from the controller's messageReceived with C{writeMessage(message,
    address)}.
    """

    noisy = False

    def startProtocol(self) -> None:
        self.liveMessages = {}

    def stopProtocol(self) -> None:
        self._failAll(
            ierror.ConnectionLost("the DNS port closed before the answer to a query came")
        )
        self.transport = None

    def connectionRefused(self) -> None:
        """
        On a connected port the server's machine said nothing listens there: fail
        the queries now rather than after their timeouts.
        """
        self._failAll(ierror.ConnectionRefusedError("the DNS server's port is closed"))

    def writeMessage(self, message: dns.Message, address: Address) -> None:
        """Send C{message} to C{address} as one datagram."""
        assert self.transport is not None, "the DNS protocol is not listening"
        self.transport.write(message.toStr(), address)

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        m = self._decode(datagram, addr)
        if m is not None:
            self._deliver(m, addr)

    def query(
        self,
        address: Address,
        queries: Sequence[dns.Query],
        timeout: float = 10,
        id: int | None = None,
        *,
        recDes: bool = True,
        udpPayloadSize: int | None = None,
    ) -> Deferred[dns.Message]:
        """
        Send C{queries} (one, in practice) to C{address}; fire with the answer, or
        fail with DNSQueryTimeoutError after C{timeout} seconds. C{id} is random
        unless given; C{udpPayloadSize} adds an EDNS0 OPT record offering that
        size (RFC 6891).
        """
        if self.transport is None:
            try:
                self.transport = self.reactor.listenUDP(0, self, maxPacketSize=65535)
            except ierror.CannotListenError:
                result: Deferred[dns.Message] = Deferred()
                result.errback(Failure())
                return result
        address = (address[0], address[1])
        return self._query(
            queries,
            timeout,
            self.pickID() if id is None else id,
            lambda m: self.writeMessage(m, address),
            address,
            recDes,
            udpPayloadSize,
        )


class DNSProtocol(DNSMixin, Protocol):
    """
    DNS over TCP: messages behind a 2-byte length. A frame longer than
    C{maxFrameSize} drops the connection, since nothing good comes after it.
    The controller's connectionMade(protocol) and connectionLost(protocol) are
    called when it has them.
    """

    maxFrameSize = MAX_TCP_FRAME

    def __init__(self, controller: Any, reactor: Any = None) -> None:
        super().__init__(controller, reactor)
        self._buffer = bytearray()

    def connectionMade(self) -> None:
        handler = getattr(self.controller, "connectionMade", None)
        if handler is not None:
            handler(self)

    def connectionLost(self, reason: object = connectionDone) -> None:
        self._buffer.clear()
        problem = reason.value if isinstance(reason, Failure) else reason
        self._failAll(
            ierror.ConnectionLost(f"the DNS connection closed before the answer came: {problem}")
        )
        handler = getattr(self.controller, "connectionLost", None)
        if handler is not None:
            handler(self)

    def writeMessage(self, message: dns.Message) -> None:
        """Send C{message} with its length in front."""
        data = message.toStr()
        assert self.transport is not None, "the DNS connection is not made"
        self.transport.write(len(data).to_bytes(2, "big") + data)

    def dataReceived(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while len(buffer) >= 2:
            size = (buffer[0] << 8) | buffer[1]
            if size > self.maxFrameSize:
                _log.info(
                    "A DNS peer sent a {size}-byte message, over the limit of {limit}; "
                    "closing the connection",
                    size=size,
                    limit=self.maxFrameSize,
                )
                buffer.clear()
                if self.transport is not None:
                    self.transport.loseConnection()
                return
            if len(buffer) < 2 + size:
                return
            frame = bytes(buffer[2 : 2 + size])
            del buffer[: 2 + size]
            m = self._decode(frame, None)
            if m is not None:
                self._deliver(m, None)
            if self.transport is None or not getattr(self.transport, "connected", True):
                return

    def query(
        self,
        queries: Sequence[dns.Query],
        timeout: float = 60,
        *,
        recDes: bool = True,
    ) -> Deferred[dns.Message]:
        """Send C{queries}; fire with the answer or fail with DNSQueryTimeoutError."""
        return self._query(queries, timeout, self.pickID(), self.writeMessage, None, recDes, None)


# Last, because torsion.names.dns re-exports the two protocols from here: whichever
# of the two modules is imported first, the other then finds what it needs.
from torsion.names import dns  # noqa: E402
