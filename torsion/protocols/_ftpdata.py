"""The FTP server's data connections: passive listeners, active connections, transfers.

One ``DataChannel`` per control connection holds at most one data connection at a
time: a passive (PASV/EPSV) listener that accepts one connection, from the control
connection's peer address only, or an active (PORT/EPRT) address to connect to when
a transfer starts. ``DTP`` is the data connection's protocol: it starts TLS first
when PROT P is on, then sends a file (a pull producer feeding it, so one chunk is in
memory at a time), sends a listing, or writes what arrives into an upload's
consumer (reading pauses until there is one). TYPE A converts line ends on the way
(torsion.protocols._ftpcodec's converters).
Tests: tests/protocols/test_ftp*.py.
"""

from __future__ import annotations

from typing import Any

from zope.interface import implementer

from torsion.internet import defer, error
from torsion.internet.interfaces import IConsumer
from torsion.internet.protocol import ClientFactory, Factory, Protocol, connectionDone
from torsion.logger import Logger
from torsion.protocols import _ftpcodec as codec
from torsion.protocols._starttls import startTLS
from torsion.python.failure import Failure

__all__ = ["DTP", "DataChannel", "DataConnectionError"]

_log = Logger(namespace="torsion.protocols.ftp")


class DataConnectionError(Exception):
    """No data connection could be had (the reply is 425)."""


@implementer(IConsumer)
class _ASCIIConsumer:
    """A download's consumer in TYPE A: LF becomes CRLF on the way to the transport."""

    __slots__ = ("_converter", "_transport")

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self._converter = codec.ToNetworkASCII()

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self._transport.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        self._transport.unregisterProducer()

    def write(self, data: bytes) -> None:
        self._transport.write(self._converter.convert(data))


class DTP(Protocol):
    """One data connection's protocol; the DataChannel tells it what to transfer.

    Data that arrives before an upload has its consumer (a client may send as soon
    as it connects) is kept, up to ``EARLY_LIMIT`` bytes, and then reading pauses.
    The socket is not paused from the start: with PROT P the TLS handshake must be
    read first.
    """

    EARLY_LIMIT = 2**16

    def __init__(self, channel: DataChannel, accepted: bool) -> None:
        self.channel = channel
        self.accepted = accepted
        self.consumer: Any = None
        self._fromASCII: codec.FromNetworkASCII | None = None
        self._early = bytearray()
        self._paused = False
        self.closed: defer.Deferred[None] = defer.Deferred()
        self.lostReason: Failure | None = None
        self.used = False

    def connectionMade(self) -> None:
        if self.channel.tlsOptions is not None:
            # Always the TLS server, whichever side connected (RFC 4217 section 9).
            startTLS(self.transport, self.channel.tlsOptions, normal=self.accepted)
        self.channel.connected(self)

    def sendFile(self, readFile: Any, ascii: bool) -> defer.Deferred[None]:
        """Send an IReadFile; the connection closes when it is all written."""
        consumer = _ASCIIConsumer(self.transport) if ascii else self.transport
        d: defer.Deferred[None] = readFile.send(consumer)
        d.addCallback(lambda _: self.transport.loseConnection())
        return d

    def sendBytes(self, data: bytes) -> None:
        """Send a listing, then close."""
        self.transport.write(data)
        self.transport.loseConnection()

    def receiveInto(self, consumer: Any, ascii: bool) -> None:
        """Write everything that arrives into ``consumer`` until the peer closes."""
        self.consumer = consumer
        self._fromASCII = codec.FromNetworkASCII() if ascii else None
        consumer.registerProducer(self.transport, True)
        early, self._early = bytes(self._early), bytearray()
        if early:
            self._deliver(early)
        if self.lostReason is not None:
            self._endUpload()
        elif self._paused:
            self._paused = False
            self.transport.resumeProducing()

    def dataReceived(self, data: bytes) -> None:
        if self.consumer is None:
            self._early += data
            if len(self._early) > self.EARLY_LIMIT and not self._paused:
                self._paused = True
                self.transport.pauseProducing()
            return
        self._deliver(data)

    def _deliver(self, data: bytes) -> None:
        if self._fromASCII is not None:
            data = self._fromASCII.convert(data)
        try:
            self.consumer.write(data)
        except Exception:
            _log.failure("writing an upload failed", Failure())
            self.consumer = None
            self.transport.abortConnection()

    def _endUpload(self) -> None:
        consumer, self.consumer = self.consumer, None
        if consumer is None:
            return
        if self._fromASCII is not None:
            rest = self._fromASCII.flush()
            if rest:
                consumer.write(rest)
        consumer.unregisterProducer()

    def connectionLost(self, reason: Any = connectionDone) -> None:
        self.lostReason = reason
        self._endUpload()
        self.channel.lost(self)
        if reason.check(error.ConnectionDone):
            self.closed.callback(None)
        else:
            self.closed.errback(reason)


class _PassiveFactory(Factory):
    """Accepts one data connection, from the control connection's peer host."""

    def __init__(self, channel: DataChannel, peerHost: str) -> None:
        self.channel = channel
        self.peerHost = peerHost

    def buildProtocol(self, addr: Any) -> DTP | None:
        if getattr(addr, "host", None) != self.peerHost:
            _log.warn(
                "refused a data connection from {host}: only {peer}, the control "
                "connection's peer, may connect",
                host=getattr(addr, "host", addr),
                peer=self.peerHost,
            )
            return None
        if self.channel.dtp is not None:
            return None
        self.channel.stopListening()
        return DTP(self.channel, accepted=True)


class _ActiveFactory(ClientFactory):
    def __init__(self, channel: DataChannel) -> None:
        self.channel = channel

    def buildProtocol(self, addr: Any) -> DTP:
        return DTP(self.channel, accepted=False)

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        self.channel.failed(
            DataConnectionError(f"cannot connect to your data port: {reason.value}")
        )


class DataChannel:
    """The data connection of one control connection (what PASV/PORT set up).

    ``tlsOptions`` is set while PROT P is on; ``timeout`` bounds the wait for a
    passive connection to arrive or an active one to be made.
    """

    timeout = 30.0

    def __init__(self, reactor: Any, peerHost: str) -> None:
        self.reactor = reactor
        self.peerHost = peerHost
        self.tlsOptions: Any = None
        self.dtp: DTP | None = None
        self._port: Any = None
        self._active: tuple[str, int] | None = None
        self._waiting: list[defer.Deferred[DTP]] = []
        self._timer: Any = None

    # -- set up ---------------------------------------------------------------------

    def listen(self, interface: str, ports: range) -> int:
        """Listen for a passive data connection; the port listened on.

        Raises:
            DataConnectionError: every port of ``ports`` is in use.
        """
        self.reset()
        factory = _PassiveFactory(self, self.peerHost)
        for port in ports:
            try:
                self._port = self.reactor.listenTCP(port, factory, backlog=1, interface=interface)
            except error.CannotListenError:
                continue
            break
        else:
            raise DataConnectionError("no free port for a passive data connection")
        self._armTimer()
        return int(self._port.getHost().port)

    def connectTo(self, host: str, port: int) -> None:
        """Connect to ``host``:``port`` when the next transfer starts (PORT/EPRT)."""
        self.reset()
        self._active = (host, port)

    @property
    def ready(self) -> bool:
        """PASV, EPSV, PORT or EPRT set up a data connection for the next transfer."""
        return self._port is not None or self._active is not None or self.dtp is not None

    def open(self) -> defer.Deferred[DTP]:
        """The data connection for a transfer (waits for it, or makes it)."""
        if self.dtp is not None:
            self.dtp.used = True
            return defer.succeed(self.dtp)
        d: defer.Deferred[DTP] = defer.Deferred()
        self._waiting.append(d)
        if self._active is not None:
            host, port = self._active
            self._active = None
            self.reactor.connectTCP(host, port, _ActiveFactory(self), timeout=self.timeout)
        elif self._port is None:
            self._waiting.remove(d)
            return defer.fail(DataConnectionError("use PASV or PORT first"))
        return d

    # -- events -----------------------------------------------------------------------

    def _armTimer(self) -> None:
        self._cancelTimer()
        self._timer = self.reactor.callLater(self.timeout, self._timedOut)

    def _cancelTimer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _timedOut(self) -> None:
        self._timer = None
        self.stopListening()
        self.failed(DataConnectionError(f"no data connection within {self.timeout:g} seconds"))

    def connected(self, dtp: DTP) -> None:
        self._cancelTimer()
        self.dtp = dtp
        waiting, self._waiting = self._waiting, []
        dtp.used = bool(waiting)
        for d in waiting:
            d.callback(dtp)

    def failed(self, problem: Exception) -> None:
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.errback(problem)

    def lost(self, dtp: DTP) -> None:
        # A connection that closed before its transfer began (an upload sent at
        # once) stays, so the transfer can still read what it kept.
        if self.dtp is dtp and dtp.used:
            self.dtp = None

    # -- tear down --------------------------------------------------------------------

    def stopListening(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            port.stopListening()

    def reset(self) -> None:
        """Forget the data connection set up (a new PASV/PORT, ABOR, or the end)."""
        self._cancelTimer()
        self.stopListening()
        self._active = None
        dtp, self.dtp = self.dtp, None
        if dtp is not None and dtp.transport is not None:
            dtp.transport.abortConnection()
        self.failed(DataConnectionError("the data connection was closed"))
