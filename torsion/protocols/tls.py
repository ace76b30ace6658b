"""TLS over any transport: a protocol wrapper on the standard library's ssl.MemoryBIO.

TLSMemoryBIOProtocol sits between a transport (TCP, usually) and the protocol it
secures. To the transport it is a protocol: the bytes that arrive go into the TLS
object's incoming memory BIO, and whatever TLS has to send comes out of the outgoing
one and is written down. To the wrapped protocol it is the transport (ISSLTransport):
its writes are encrypted, the peer's records decrypted, and it can ask for the peer's
certificate and the ALPN choice. TLSMemoryBIOFactory wraps any protocol factory with
it; that is all ``listenSSL`` and ``connectSSL`` do. A TCP transport's ``startTLS``
(torsion.protocols._starttls) puts one under a live connection's protocol.

How a connection ends says what happened. ``loseConnection`` sends TLS's close_notify
after what was written (and after a pull producer unregisters), half-closes TCP, and
closes once the peer answers with its own close_notify (or closes, or
``closeTimeout`` passes): ConnectionDone. ``loseWriteConnection`` sends close_notify
and keeps reading (a half-closeable wrapped protocol hears readConnectionLost when the
peer's close_notify arrives). A failed handshake or a bad record reaches the wrapped
protocol's connectionLost as an SSLError (a ConnectionLost), a refused certificate as a
CertificateVerificationError, a handshake slower than ``handshakeTimeout`` (60
seconds) as an SSLError too; a peer that closes TCP without close_notify (a truncation
attack, or a crash, maybe mid-record) as a ConnectionLost, never ConnectionDone.

Flow control crosses the layer both ways: a wrapped producer is registered with the
transport below (so a full transport pauses it), and pausing this transport stops
reading below. Writes made before the handshake completes wait in order (a push
producer is paused while more than ``bufferSize`` bytes wait); large writes are
encrypted in pieces, and each arrival is decrypted completely, in one delivery.
Tests: tests/protocols/test_tls.py (in memory), tests/internet/test_tls_reactor.py (on
every reactor) and tests/internet/test_tls_peers.py (openssl, Python's ssl, startTLS).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

from zope.interface import implementer

from torsion.internet import error
from torsion.internet.abstract import _asBytes
from torsion.internet.defer import Deferred, fail, succeed
from torsion.internet.interfaces import (
    IConsumer,
    IHalfCloseableProtocol,
    IHandshakeListener,
    ILoggingContext,
    INegotiated,
    IProtocol,
    IProtocolFactory,
    IPushProducer,
    ISSLTransport,
)
from torsion.protocols._tlscontext import describeSSLError, sslObjectMaker
from torsion.python.failure import Failure

__all__ = ["TLSMemoryBIOFactory", "TLSMemoryBIOProtocol"]

# What one read of the TLS object asks for. A read returns one record's plaintext (16
# KiB at most), but asking for more than that decrypted 1.7 times as fast (OpenSSL
# then reads a record's header and body from the BIO in one go).
_READ_SIZE = 2**16
# The most decrypted data delivered in one dataReceived call: below glibc's 128 KiB mmap
# threshold. Buffers above it are mapped and unmapped each time, and with 256 KiB
# deliveries a TLS upload took twice the server CPU per byte.
_DELIVER_SIZE = 2**16
# Writes larger than this are encrypted piece by piece, so that one large write does not
# hold both its plaintext and all of its ciphertext at once (and, as above, each piece
# of ciphertext stays below the mmap threshold).
_WRITE_CHUNK = 2**16


def _logPrefixOf(thing: Any) -> str:
    try:
        return str(thing.logPrefix())
    except Exception:
        return type(thing).__name__


@implementer(IPushProducer)
class _ProducerMembrane:
    """The wrapped protocol's producer, as the transport below sees it.

    It passes the transport's pauses on, and adds one of its own: while the handshake
    is still running and too much waits to be encrypted, the producer stays paused.
    """

    __slots__ = ("_pausedBelow", "_pausedByTLS", "_stopped", "producer", "streaming")

    def __init__(self, producer: Any, streaming: bool) -> None:
        self.producer = producer
        self.streaming = streaming
        self._pausedBelow = False
        self._pausedByTLS = False
        self._stopped = False

    def pauseProducing(self) -> None:
        if not (self._pausedBelow or self._pausedByTLS):
            self.producer.pauseProducing()
        self._pausedBelow = True

    def resumeProducing(self) -> None:
        self._pausedBelow = False
        if not self.streaming or not self._pausedByTLS:
            self.producer.resumeProducing()

    def pauseForTLS(self, paused: bool) -> None:
        if paused == self._pausedByTLS:
            return
        self._pausedByTLS = paused
        if not self._pausedBelow:
            if paused:
                self.producer.pauseProducing()
            else:
                self.producer.resumeProducing()

    def stopProducing(self) -> None:
        if not self._stopped:
            self._stopped = True
            self.producer.stopProducing()


@implementer(
    ISSLTransport,
    INegotiated,
    IConsumer,
    IPushProducer,
    IProtocol,
    IHalfCloseableProtocol,
    ILoggingContext,
)
class TLSMemoryBIOProtocol:
    """TLS between a transport and the protocol it wraps (see the module's docstring).

    Args:
        factory: the TLSMemoryBIOFactory that made it (it makes the TLS object).
        wrappedProtocol: the protocol to secure; this object is its transport.
        _connectWrapped: whether to connect ``wrappedProtocol`` (False for startTLS,
            whose protocol is connected already).
    """

    __slots__ = (
        "__weakref__",
        "_aborted",
        "_appSendBuffer",
        "_appSendSize",
        "_connectWrapped",
        "_halfClosing",
        "_handshakeDone",
        "_handshakeWaiters",
        "_lostReason",
        "_producer",
        "_producerBelow",
        "_readClosed",
        "_timer",
        "_tls",
        "_wrappedConnected",
        "_writeClosed",
        "connected",
        "disconnected",
        "disconnecting",
        "factory",
        "incomingBIO",
        "outgoingBIO",
        "transport",
        "wrappedProtocol",
    )

    # A registered push producer is paused while more than this many bytes written
    # before the handshake completed wait to be encrypted.
    bufferSize = 2**16
    # Seconds to wait, after sending close_notify for loseConnection, for the peer's
    # close_notify (or its closing TCP) before closing anyway.
    closeTimeout = 30.0
    # Seconds a handshake may take before the connection is dropped (None: no limit), so
    # that peers that connect and never finish cannot pile up.
    handshakeTimeout: float | None = 60.0

    def __init__(self, factory: Any, wrappedProtocol: Any, _connectWrapped: bool = True) -> None:
        self.factory = factory
        self.wrappedProtocol = wrappedProtocol
        self._connectWrapped = _connectWrapped
        self.transport: Any = None
        self.incomingBIO = ssl.MemoryBIO()
        self.outgoingBIO = ssl.MemoryBIO()
        self._tls: ssl.SSLObject | None = None
        self._wrappedConnected = False
        self._handshakeDone = False
        self._handshakeWaiters: list[Deferred[None]] = []
        self._appSendBuffer: list[bytes] = []
        self._appSendSize = 0
        self._producer: _ProducerMembrane | None = None
        self._producerBelow = False
        self._lostReason: Failure | None = None
        # The handshake's time limit, then the wait for the peer's close_notify.
        self._timer: Any = None
        self._readClosed = False
        self._writeClosed = False
        self._halfClosing = False
        self._aborted = False
        self.connected = False
        self.disconnected = False
        self.disconnecting = False

    def logPrefix(self) -> str:
        """Return the wrapped protocol's prefix, marked as TLS."""
        return f"{_logPrefixOf(self.wrappedProtocol)} (TLSMemoryBIOProtocol)"

    @property
    def _isClient(self) -> bool:
        return bool(self.factory._isClient)

    # -- IProtocol: the transport below ----------------------------------------------------

    def makeConnection(self, transport: Any) -> None:
        """Attach the transport below, connect the wrapped protocol, start the handshake."""
        self.transport = transport
        self.connected = True
        self.connectionMade()

    def connectionMade(self) -> None:
        """Make the TLS object, connect the wrapped protocol, send the first flight."""
        self._tls = self.factory._makeSSLObject(self)
        if self._connectWrapped:
            self._wrappedConnected = True
            self.wrappedProtocol.makeConnection(self)
        else:
            self._wrappedConnected = True
        if not self.disconnected:
            if self.handshakeTimeout is not None:
                self._timer = self._reactor().callLater(
                    self.handshakeTimeout, self._handshakeTimedOut
                )
            self._continueHandshake()

    def _handshakeTimedOut(self) -> None:
        self._timer = None
        if self._handshakeDone or self.disconnected:
            return
        self._lostReason = Failure(
            error.SSLError(
                f"TLS handshake failed: the peer did not complete it within "
                f"{self.handshakeTimeout} seconds"
            )
        )
        self.abortConnection()

    def dataReceived(self, data: bytes) -> None:
        """Bytes from the peer: go on with the handshake, then decrypt every record."""
        if self._lostReason is not None or self._tls is None:
            return  # TLS failed already: the connection is closing.
        self.incomingBIO.write(data)
        if not self._handshakeDone:
            self._continueHandshake()
            if not self._handshakeDone or self.disconnected:
                return
        self._readRecords()

    def _readRecords(self) -> None:
        """Decrypt what the incoming BIO holds and deliver it to the wrapped protocol.

        Records are delivered together, up to ``_DELIVER_SIZE`` bytes a call: fewer
        calls than one per record, and no buffer so large that glibc maps it afresh
        (and the kernel faults its pages in) each time.
        """
        tls = self._tls
        assert tls is not None
        read = tls.read
        incoming = self.incomingBIO
        chunks: list[bytes] = []
        size = 0
        closed = False
        problem: ssl.SSLError | None = None
        while True:
            try:
                chunk = read(_READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                closed = True
                break
            except ssl.SSLError as e:
                problem = e
                break
            if not chunk:
                closed = True  # The peer's close_notify.
                break
            chunks.append(chunk)
            size += len(chunk)
            if not incoming.pending:
                # OpenSSL takes one record at a time from the BIO (no read-ahead) and a
                # read returns all of it: nothing is left, and another read would only
                # raise SSLWantReadError, which costs more.
                break
            if size >= _DELIVER_SIZE:
                self._deliver(chunks)
                if self.disconnected:
                    return
                chunks = []
                size = 0
        if self.outgoingBIO.pending:
            self.transport.write(self.outgoingBIO.read())
        if chunks:
            self._deliver(chunks)
            if self.disconnected:
                return
        if problem is not None:
            self._tlsFailed(problem)
        elif closed:
            self._peerClosedTLS()

    def _deliver(self, chunks: list[bytes]) -> None:
        if not self.disconnecting and not self._readClosed:
            self.wrappedProtocol.dataReceived(chunks[0] if len(chunks) == 1 else b"".join(chunks))

    def readConnectionLost(self) -> None:
        """The peer closed its sending half of TCP: fine after its close_notify."""
        if self._readClosed:
            # After its close_notify: the wrapped protocol (if half-closeable) may still
            # be writing; otherwise the reply to that close_notify has closed already.
            if self._writeClosed:
                self._closeBelow()
            return
        if not self._writeClosed and self._lostReason is None:
            self._lostReason = Failure(self._truncation())
        self._closeBelow()

    def writeConnectionLost(self) -> None:
        """The transport below has sent its FIN (after our close_notify): nothing to do."""

    def connectionLost(self, reason: Any) -> None:
        """The transport below is gone: tell the wrapped protocol why, in TLS's terms."""
        if self.disconnected:
            return
        self.disconnected = True
        self.connected = False
        self._cancelTimer()
        if self._lostReason is not None:
            reason = self._lostReason
        elif (
            reason.check(error.ConnectionDone)
            and not self._readClosed
            and not self._writeClosed
            and not self._aborted
        ):
            reason = Failure(self._truncation())
        self._lostReason = reason
        membrane, self._producer = self._producer, None
        if membrane is not None:
            membrane.stopProducing()
        waiters, self._handshakeWaiters = self._handshakeWaiters, []
        for waiter in waiters:
            waiter.errback(reason)
        self._appSendBuffer = []
        if self._wrappedConnected:
            self.wrappedProtocol.connectionLost(reason)

    def _truncation(self) -> error.ConnectionLost:
        """Why the connection ended when TCP closed without TLS's close_notify."""
        if not self._handshakeDone:
            return error.SSLError(
                "TLS handshake failed: the peer closed the connection before the handshake "
                "completed (it may have refused this side's certificate or TLS version)"
            )
        return error.ConnectionLost(
            "the peer closed the connection without TLS's close_notify (perhaps in the "
            "middle of a record), so what it sent may have been cut short"
        )

    # -- the handshake -------------------------------------------------------------------

    def _continueHandshake(self) -> None:
        tls = self._tls
        assert tls is not None
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            if self.outgoingBIO.pending:
                self.transport.write(self.outgoingBIO.read())
            return
        except ssl.SSLError as e:
            self._tlsFailed(e)
            return
        self._handshakeDone = True
        self._cancelTimer()
        if self.outgoingBIO.pending:
            self.transport.write(self.outgoingBIO.read())
        if self._appSendBuffer:
            data = b"".join(self._appSendBuffer)
            self._appSendBuffer = []
            self._appSendSize = 0
            self._encrypt(data)
        if self._producer is not None:
            self._producer.pauseForTLS(False)
        wrapped = self.wrappedProtocol
        if IHandshakeListener.providedBy(wrapped):
            wrapped.handshakeCompleted()
        waiters, self._handshakeWaiters = self._handshakeWaiters, []
        for waiter in waiters:
            waiter.callback(None)
        if (self.disconnecting or self._halfClosing) and not self.disconnected:
            self._maybeShutdown()

    def whenHandshakeDone(self) -> Deferred[None]:
        """Return a Deferred that fires once the handshake succeeds, or fails with the
        connection's reason if it ends first (a CertificateVerificationError, say)."""
        if self._handshakeDone:
            return succeed(None)
        if self.disconnected and self._lostReason is not None:
            return fail(self._lostReason)
        waiter: Deferred[None] = Deferred()
        self._handshakeWaiters.append(waiter)
        return waiter

    def _tlsFailed(self, problem: BaseException) -> None:
        """TLS failed: send the alert OpenSSL wrote, close, and report ``problem``."""
        if self._lostReason is None:
            self._lostReason = Failure(
                describeSSLError(problem, not self._handshakeDone, self._isClient)
            )
        if self.outgoingBIO.pending:
            self.transport.write(self.outgoingBIO.read())
        self._closeBelow()

    # -- closing ---------------------------------------------------------------------------

    def _peerClosedTLS(self) -> None:
        """The peer's close_notify arrived."""
        self._readClosed = True
        wrapped = self.wrappedProtocol
        if IHalfCloseableProtocol.providedBy(wrapped) and not self.disconnecting:
            wrapped.readConnectionLost()
            if self.disconnected:
                return
            if not self._writeClosed:
                return  # It may go on writing, and closes when it is done.
        if self._writeClosed:
            self._closeBelow()
        else:
            self._shutdownTLS()

    def _maybeShutdown(self) -> None:
        """Send close_notify now, unless the handshake or a pull producer is not done."""
        if not self._handshakeDone or self._lostReason is not None or self._writeClosed:
            return
        if self._producer is not None and not self._producer.streaming:
            return  # unregisterProducer calls again.
        self._shutdownTLS()

    def _shutdownTLS(self) -> None:
        """Send close_notify; close, or wait for the peer's, or keep reading (half-close)."""
        self._writeClosed = True
        tls = self._tls
        assert tls is not None
        try:
            tls.unwrap()
        except ssl.SSLWantReadError:
            pass  # Sent; the peer's close_notify has not come yet.
        except ssl.SSLError:
            pass  # The TLS object is already shut or broken: TCP's close says the rest.
        if self.outgoingBIO.pending:
            self.transport.write(self.outgoingBIO.read())
        if self._producerBelow:
            self._producerBelow = False
            self.transport.unregisterProducer()
        if self._readClosed:
            self._closeBelow()
            return
        loseWrite = getattr(self.transport, "loseWriteConnection", None)
        if loseWrite is not None:
            loseWrite()
        if self.disconnecting:
            self._timer = self._reactor().callLater(self.closeTimeout, self._closeBelow)
        else:
            wrapped = self.wrappedProtocol
            if IHalfCloseableProtocol.providedBy(wrapped):
                wrapped.writeConnectionLost()

    def _reactor(self) -> Any:
        """The reactor of the transport below (the global one if it does not say)."""
        reactor = getattr(self.transport, "reactor", None)
        if reactor is None:
            from torsion.internet import reactor
        return reactor

    def _cancelTimer(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def _closeBelow(self) -> None:
        """Close the transport below (after it sends what it holds)."""
        self._cancelTimer()
        if self.disconnected:
            return
        if self._producerBelow:
            self._producerBelow = False
            self.transport.unregisterProducer()
        self.transport.loseConnection()

    def loseConnection(self) -> None:
        """Close: close_notify after what was written (and once a pull producer is done)."""
        if self.disconnecting or self.disconnected:
            return
        self.disconnecting = True
        if self._writeClosed:
            self._closeBelow()  # Half-closed already; nothing more to send.
            return
        self._maybeShutdown()

    def loseWriteConnection(self) -> None:
        """Half-close: close_notify after what was written; go on reading the peer."""
        if self._writeClosed or self.disconnected or self._halfClosing:
            return
        self._halfClosing = True
        self._maybeShutdown()

    def abortConnection(self) -> None:
        """Close at once, dropping whatever is not sent (no close_notify)."""
        if self.disconnected or self._aborted:
            return
        self._aborted = True
        self.disconnecting = True
        abort = getattr(self.transport, "abortConnection", None)
        if abort is not None:
            abort()
        else:
            self.transport.loseConnection()

    # -- ITransport: the wrapped protocol's writes -------------------------------------------

    def write(self, data: bytes) -> None:
        """Encrypt and send ``data`` (held, in order, until the handshake completes).

        Raises:
            TypeError: if ``data`` is not bytes (text must be encoded first).
        """
        if type(data) is not bytes:
            data = _asBytes(data)
        if self._writeClosed or self.disconnected or not data:
            return
        if not self._handshakeDone:
            self._appSendBuffer.append(data)
            self._appSendSize += len(data)
            membrane = self._producer
            if membrane is not None and membrane.streaming and self._appSendSize > self.bufferSize:
                membrane.pauseForTLS(True)
            return
        self._encrypt(data)

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        """Encrypt and send every bytes object of ``iovec``, in order.

        Raises:
            TypeError: if an element is not bytes; nothing of ``iovec`` is sent then.
        """
        self.write(b"".join([d if type(d) is bytes else _asBytes(d) for d in iovec]))

    def _encrypt(self, data: bytes) -> None:
        tls = self._tls
        assert tls is not None
        outgoing = self.outgoingBIO
        try:
            if len(data) <= _WRITE_CHUNK:
                tls.write(data)
            else:
                view = memoryview(data)
                for start in range(0, len(data), _WRITE_CHUNK):
                    tls.write(view[start : start + _WRITE_CHUNK])
                    self.transport.write(outgoing.read())
                return
        except ssl.SSLError as e:
            self._tlsFailed(e)
            return
        self.transport.write(outgoing.read())

    # -- ITransport: the rest, from the transport below -------------------------------------

    def getPeer(self) -> Any:
        """Return the address of the other end."""
        return self.transport.getPeer()

    def getHost(self) -> Any:
        """Return the address of this end."""
        return self.transport.getHost()

    def getHandle(self) -> ssl.SSLObject | None:
        """Return the ``ssl.SSLObject`` doing the TLS (for ``version()``, ``cipher()``...)."""
        return self._tls

    def getTcpNoDelay(self) -> bool:
        """Return whether Nagle's algorithm is off on the TCP connection below."""
        return bool(self.transport.getTcpNoDelay())

    def setTcpNoDelay(self, enabled: bool) -> None:
        """Turn Nagle's algorithm off (True) or on on the TCP connection below."""
        self.transport.setTcpNoDelay(enabled)

    def getTcpKeepAlive(self) -> bool:
        """Return whether TCP keepalive probes are on below."""
        return bool(self.transport.getTcpKeepAlive())

    def setTcpKeepAlive(self, enabled: bool) -> None:
        """Turn TCP keepalive probes on or off below."""
        self.transport.setTcpKeepAlive(enabled)

    # -- ISSLTransport, INegotiated ---------------------------------------------------------

    def getPeerCertificate(self) -> Any:
        """Return the peer's certificate (torsion.internet.ssl.Certificate) or None.

        None before the handshake completes and when the peer sent none.
        """
        if not self._handshakeDone or self._tls is None:
            return None
        der = self._tls.getpeercert(binary_form=True)
        if not der:
            return None
        from torsion.internet.ssl import Certificate

        return Certificate.load(der)

    @property
    def negotiatedProtocol(self) -> bytes | None:
        """The ALPN protocol both sides chose (b"h2", say), or None."""
        if not self._handshakeDone or self._tls is None:
            return None
        chosen = self._tls.selected_alpn_protocol()
        return chosen.encode("ascii") if chosen else None

    # -- IConsumer -------------------------------------------------------------------------

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """Take data from ``producer``; the transport below paces it.

        Raises:
            RuntimeError: if a producer is registered already.
        """
        if self._producer is not None:
            raise RuntimeError(
                f"Cannot register producer {producer!r}, because producer "
                f"{self._producer.producer!r} was never unregistered; call "
                "unregisterProducer first."
            )
        if self.disconnected:
            producer.stopProducing()
            return
        membrane = _ProducerMembrane(producer, streaming)
        self._producer = membrane
        if streaming and not self._handshakeDone and self._appSendSize > self.bufferSize:
            membrane.pauseForTLS(True)
        if not self._writeClosed:
            self._producerBelow = True
            self.transport.registerProducer(membrane, streaming)

    def unregisterProducer(self) -> None:
        """Forget the producer (a pending loseConnection can now send close_notify)."""
        if self._producer is None:
            return
        self._producer = None
        if self._producerBelow:
            self._producerBelow = False
            self.transport.unregisterProducer()
        if (self.disconnecting or self._halfClosing) and not self.disconnected:
            self._maybeShutdown()

    # -- IPushProducer: the peer's data ----------------------------------------------------

    def pauseProducing(self) -> None:
        """Stop reading from the peer until ``resumeProducing``."""
        self.transport.pauseProducing()

    def resumeProducing(self) -> None:
        """Read from the peer again."""
        self.transport.resumeProducing()

    def stopProducing(self) -> None:
        """Close the connection (cleanly, with close_notify)."""
        self.loseConnection()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} for {self.wrappedProtocol!r}>"


@implementer(IProtocolFactory, ILoggingContext)
class TLSMemoryBIOFactory:
    """Wraps a protocol factory so that each of its connections runs over TLS.

    Args:
        contextFactory: how to do TLS: CertificateOptions (a server),
            ``optionsForClientTLS(hostname)`` (a client), an ``ssl.SSLContext``, or
            anything with ``serverConnectionForTLS``/``clientConnectionForTLS`` or
            ``getContext()``.
        isClient: True for the connecting side of the handshake.
        wrappedFactory: the factory whose protocols TLS secures (None for startTLS).

    Raises:
        TypeError, ValueError: ``contextFactory`` cannot make TLS for this side.
    """

    protocol: Any = TLSMemoryBIOProtocol
    noisy = False

    def __init__(self, contextFactory: Any, isClient: bool, wrappedFactory: Any) -> None:
        self._contextFactory = contextFactory
        self._isClient = isClient
        self._makeSSLObject = sslObjectMaker(contextFactory, isClient)
        self.wrappedFactory = wrappedFactory

    def logPrefix(self) -> str:
        """Return the wrapped factory's prefix, marked as TLS."""
        return f"{_logPrefixOf(self.wrappedFactory)} (TLS)"

    def doStart(self) -> None:
        """Start the wrapped factory."""
        self.wrappedFactory.doStart()

    def doStop(self) -> None:
        """Stop the wrapped factory."""
        self.wrappedFactory.doStop()

    def buildProtocol(self, addr: Any) -> TLSMemoryBIOProtocol | None:
        """Return the wrapped factory's protocol for ``addr`` under TLS (None refuses)."""
        wrapped = self.wrappedFactory.buildProtocol(addr)
        if wrapped is None:
            return None
        protocol: TLSMemoryBIOProtocol = self.protocol(self, wrapped)
        return protocol

    def startedConnecting(self, connector: Any) -> None:
        """Tell the wrapped client factory."""
        started = getattr(self.wrappedFactory, "startedConnecting", None)
        if started is not None:
            started(connector)

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        """Tell the wrapped client factory."""
        failed = getattr(self.wrappedFactory, "clientConnectionFailed", None)
        if failed is not None:
            failed(connector, reason)

    def clientConnectionLost(self, connector: Any, reason: Failure) -> None:
        """Tell the wrapped client factory, with TLS's reason (a failed handshake, say)."""
        lost = getattr(self.wrappedFactory, "clientConnectionLost", None)
        if lost is None:
            return
        protocol = getattr(getattr(connector, "transport", None), "protocol", None)
        if isinstance(protocol, TLSMemoryBIOProtocol) and protocol._lostReason is not None:
            reason = protocol._lostReason
        lost(connector, reason)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} for {self.wrappedFactory!r}>"
