"""TCP on the asyncio loop's own transports, for AsyncioSelectorReactor.

torsion's own transports (torsion.internet.tcp) read and write sockets in Python; on
uvloop that leaves libuv's C transports unused, and a torsion echo server reached well
under half of a plain uvloop one. Here the loop does the reading, writing and
buffering, and a thin object stands between it and the torsion protocol: it is the
``asyncio.Protocol`` the loop calls (``data_received`` becomes ``dataReceived``, and so
on) and the ITCPTransport the torsion protocol writes to.

torsion still makes the sockets, so its semantics stay: a listening port is
torsion.internet.tcp's Port (bind errors, the log lines, the factory's start and stop,
the pause when out of descriptors), with each accepted socket handed to
``loop.connect_accepted_socket``; a client socket is made, bound and connected by name
through ``reactor.resolve`` as tcp.Client does, then ``loop.sock_connect`` connects it
and ``loop.connect_accepted_socket`` takes it over. Every call into the protocol runs
under the connection's log prefix, and an exception there drops only that connection.

Where the loop's transports differ from torsion's own: a write goes to the kernel at
once (torsion's own transports hold it until the end of the pass), so
``abortConnection`` drops only what the kernel did not take, and a push producer is
paused only when data really waits (the loop calls ``pause_writing`` above
``bufferSize`` bytes). Writes made after ``loseConnection`` has begun to close, or
after ``loseWriteConnection``, are ignored.
Tests: tests/internet/test_asynciotcp.py and the reactor conformance suite
(tests/internet/test_tcp.py and its neighbours run on the asyncio reactor over
asyncio's loop and uvloop's).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Coroutine, Iterable
from typing import Any

from zope.interface import implementer

from torsion.internet import error, tcp
from torsion.internet.abstract import _asBytes, attachProducer
from torsion.internet.address import IPv4Address, IPv6Address
from torsion.internet.base import isIPAddress
from torsion.internet.interfaces import (
    IConsumer,
    IHalfCloseableProtocol,
    IPushProducer,
    ITCPTransport,
    ITLSTransport,
)
from torsion.python import context, log
from torsion.python.failure import Failure

__all__ = ["LoopClient", "LoopConnection", "LoopConnector", "LoopPort", "LoopServer"]


def _lostReason(exc: BaseException | None) -> Failure:
    """What connectionLost hears when the loop reports the connection gone with ``exc``."""
    if exc is None:
        return Failure(error.ConnectionDone())
    if isinstance(exc, OSError):
        return Failure(error.ConnectionLost(str(exc)))
    return Failure(exc)


def _connectError(exc: BaseException) -> error.ConnectError:
    """The ConnectError for an exception the loop raised while connecting."""
    if isinstance(exc, OSError) and exc.errno is not None and not isinstance(exc, socket.gaierror):
        # The loop's own text ("Connect call failed ('127.0.0.1', 9)") names no cause.
        return error.getConnectError((exc.errno, os.strerror(exc.errno)))
    return error.getConnectError(exc)


def _endOfEvent(reactor: Any) -> None:
    """One of the loop's calls into torsion ended: ``reactor.iterate`` may return now."""
    if reactor._iterating:
        reactor._stopIterating()


@implementer(ITCPTransport, ITLSTransport, IConsumer, IPushProducer)
class LoopConnection(tcp._SocketOptions, tcp._StartsTLS, asyncio.Protocol):
    """A TCP connection run by the asyncio loop: its protocol and torsion's transport.

    Subclasses start the hand-over of the socket to the loop (``_startTask``) and
    connect the torsion protocol in ``_connectionMade``.
    """

    __slots__ = (
        "_canWrite",
        "_closing",
        "_heldData",
        "_hostAddress",
        "_logContext",
        "_lostReason",
        "_pullScheduled",
        "_readEOF",
        "_readPaused",
        "_task",
        "_transport",
        "_writeEOF",
        "_writingPaused",
        "connected",
        "disconnected",
        "disconnecting",
        "producer",
        "producerPaused",
        "protocol",
        "reactor",
        "socket",
        "streamingProducer",
    )

    # The loop's write buffer size above which a registered push producer is paused
    # (the loop's high-water mark; it resumes the producer at a quarter of it).
    bufferSize = 2**16

    def __init__(self, sock: socket.socket, protocol: Any, reactor: Any) -> None:
        self.reactor = reactor
        self.socket = sock
        self.protocol = protocol
        # The loop's transport, from connection_made on.
        self._transport: Any = None
        self._task: asyncio.Task[Any] | None = None
        self._logContext: object = None
        self._hostAddress: IPv4Address | IPv6Address | None = None
        # Set when the reason is known before the loop reports the loss (an abort).
        self._lostReason: Failure | None = None
        # Paused by pauseProducing, and what the loop delivered anyway meanwhile (uvloop
        # starts reading once connection_made returns, even if it was paused in it).
        self._readPaused = False
        self._heldData: bytes | None = None
        self.connected = False
        self.disconnected = False
        self.disconnecting = False
        # False once writes must be ignored: not connected yet, closing, or write-closed.
        self._canWrite = False
        # True once the loop transport was told to close or abort.
        self._closing = False
        self._readEOF = False
        self._writeEOF = False
        self._writingPaused = False
        self._pullScheduled = False
        self.producer: Any = None
        self.streamingProducer = False
        self.producerPaused = False

    # -- handing the socket to the loop ----------------------------------------------

    def _startTask(self, handOver: Coroutine[Any, Any, Any]) -> None:
        """Run ``handOver``, the loop's coroutine that ends with a transport for self.

        The task starts inside ``log.callWithLogger(self, ...)``, so it, the transport
        the loop makes in it, and every call the loop makes to that transport's protocol
        (its callbacks run in a copy of the task's context) carry this connection's log
        prefix: a call into the protocol needs no context of its own.
        """
        self.reactor._loopConnections.add(self)
        task = log.callWithLogger(self, self._createTask, handOver)
        self._task = task
        task.add_done_callback(self._taskDone)

    def _createTask(self, handOver: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        # The context the loop's calls into this connection should find themselves in.
        # The context variable's own value, not current(): no thread layer is ever
        # entered around the asyncio loop's callbacks, and reading one costs more.
        self._logContext = context.currentVariable()
        task: asyncio.Task[Any] = self.reactor._asyncioEventloop.create_task(handOver)
        return task

    def _asProtocol(self) -> LoopConnection:
        """The protocol factory given to the loop: the protocol is this object."""
        return self

    def _taskDone(self, task: asyncio.Task[Any]) -> None:
        self._task = None
        problem = asyncio.CancelledError() if task.cancelled() else task.exception()
        if problem is None:
            return  # connection_made took over.
        if self.connected:
            # Cancelled (asyncio.run's clean-up does it) between connection_made and the
            # task's end: the loop closes the transport, and uvloop's then tells its
            # protocol nothing.
            why = error.ConnectionLost(f"the event loop's hand-over task ended: {problem!r}")
            self._loseNow(Failure(why))
            return
        # The loop closed its transport, if it had made one, already.
        self.socket.close()
        if not self.disconnected:
            # Not given up by torsion: the loop failed, or someone cancelled the task.
            self._handOverFailed(problem)
        _endOfEvent(self.reactor)

    def _handOverFailed(self, problem: BaseException) -> None:
        """The loop could not take the socket over (subclasses say what that means)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _handOverFailed")

    def _abandon(self) -> None:
        """The reactor shuts down: drop the connection, or the attempt to make it."""
        if self.connected:
            self._loseNow(Failure(error.ConnectionLost("the reactor shut down")))
        elif not self.disconnected:
            self.disconnected = True
            self.reactor._loopConnections.discard(self)
            if self._task is not None:
                self._task.cancel()  # Its end closes the socket.
            else:
                self.socket.close()

    # -- asyncio.Protocol: the loop's calls ------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.disconnected:
            transport.abort()  # type: ignore[attr-defined]  # Given up while it was made.
            return
        self._transport = transport
        self.connected = True
        self._canWrite = True
        self._connectionMade()
        _endOfEvent(self.reactor)

    def _connectionMade(self) -> None:
        """Connect the torsion protocol (subclasses)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _connectionMade")

    def _makeConnection(self) -> None:
        """Connect the protocol, under this connection's log prefix.

        A protocol whose connectionMade raises is logged and dropped (its connectionLost
        gets that failure); the port or connector carries on.
        """
        protocol = self.protocol
        try:
            protocol.makeConnection(self)
        except Exception:
            why = Failure()
            log.err(why, f"Error in {type(protocol).__name__}.connectionMade; closing it")
            self._loseNow(why)

    def data_received(self, data: bytes) -> None:
        if self._readPaused:
            held = self._heldData
            self._heldData = data if held is None else held + data
            self._transport.pause_reading()
            return
        try:
            if context.currentVariable() is self._logContext:
                self.protocol.dataReceived(data)
            else:
                # Called from elsewhere: asyncio's loop, for one, makes the read callback
                # anew in the caller's context when resume_reading is called.
                log.callWithLogger(self, self.protocol.dataReceived, data)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:
            self._dropAfterError(Failure(), self.protocol, "dataReceived")
        reactor = self.reactor
        if reactor._iterating:
            reactor._stopIterating()

    def eof_received(self) -> bool:
        """The peer stopped sending: a half-closeable protocol keeps its sending half."""
        self._readEOF = True
        protocol = self.protocol
        if self.disconnected or not IHalfCloseableProtocol.providedBy(protocol):
            # The loop closes now; connectionLost hears ConnectionDone once it has.
            self._closing = True
            self._canWrite = False
            keepOpen = False
        else:
            try:
                log.callWithLogger(self, protocol.readConnectionLost)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException:
                self._dropAfterError(Failure(), protocol, "readConnectionLost")
            # Both halves closed: the loop closes the transport (and reports it done).
            keepOpen = not self._writeEOF
        _endOfEvent(self.reactor)
        return keepOpen

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self.disconnected:
            reason = self._lostReason or _lostReason(exc)
            log.callWithLogger(self, self._connectionLost, reason)
        _endOfEvent(self.reactor)

    def pause_writing(self) -> None:
        self._writingPaused = True
        producer = self.producer
        if producer is not None and self.streamingProducer and not self.producerPaused:
            self.producerPaused = True
            self._callProducer(producer.pauseProducing)

    def resume_writing(self) -> None:
        self._writingPaused = False
        producer = self.producer
        if producer is None:
            return
        if not self.streamingProducer:
            self._schedulePull()
        elif self.producerPaused:
            self.producerPaused = False
            self._callProducer(producer.resumeProducing)
        _endOfEvent(self.reactor)

    # -- losing the connection ---------------------------------------------------------

    def _dropAfterError(self, failure: Failure, owner: object, method: str) -> None:
        """``owner.method`` (the protocol's, mostly) raised: log it and drop the connection."""
        log.callWithLogger(
            self,
            log.err,
            failure,
            f"Unhandled error in {type(owner).__name__}.{method}; closing {self!r}",
        )
        self._loseNow(failure)

    def _closeTransport(self, abort: bool) -> None:
        self._closing = True
        self._canWrite = False
        transport = self._transport
        if transport is not None:
            if abort:
                transport.abort()
            else:
                transport.close()

    def _loseNow(self, reason: Failure) -> None:
        """Close at once, dropping unsent data, and tell the protocol now."""
        if self.disconnected:
            return
        self._closeTransport(abort=True)
        log.callWithLogger(self, self._connectionLost, reason)

    def _connectionLost(self, reason: Failure) -> None:
        """Tell the producer and the protocol, exactly once, that the connection is gone."""
        self.disconnected = True
        self.connected = False
        self._canWrite = False
        self._closing = True
        self.reactor._loopConnections.discard(self)
        producer, self.producer = self.producer, None
        if producer is not None:
            try:
                producer.stopProducing()
            except Exception:
                # The protocol must still hear of the loss.
                log.err(None, f"Error in {type(producer).__name__}.stopProducing")
        protocol = self.protocol
        if protocol is not None:
            try:
                protocol.connectionLost(reason)
            except Exception:
                log.err(None, f"Error in {type(protocol).__name__}.connectionLost")

    # -- ITransport ----------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Send ``data`` (what the kernel does not take at once, the loop buffers).

        Raises:
            TypeError: if ``data`` is not bytes (text must be encoded first).
        """
        if not isinstance(data, bytes):
            data = _asBytes(data)
        if self._canWrite:
            self._transport.write(data)
            if self.producer is not None and not self.streamingProducer:
                self._schedulePull()

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        """Send every bytes object of ``iovec``, in order.

        Raises:
            TypeError: if an element is not bytes; nothing of ``iovec`` is sent then.
        """
        chunks = [data if isinstance(data, bytes) else _asBytes(data) for data in iovec]
        if self._canWrite and chunks:
            self._transport.writelines(chunks)
            if self.producer is not None and not self.streamingProducer:
                self._schedulePull()

    def bufferedSize(self) -> int:
        """Return how many bytes the loop holds, not yet taken by the kernel."""
        if self._transport is None or self.disconnected:
            return 0
        return int(self._transport.get_write_buffer_size())

    def loseConnection(self) -> None:
        """Close once everything written has been sent (and a pull producer unregistered)."""
        if not self.connected or self.disconnecting:
            return
        self.disconnecting = True
        if self.producer is not None and not self.streamingProducer:
            # unregisterProducer closes; stop reading meanwhile, as torsion's transports do.
            self._transport.pause_reading()
            return
        self._closeTransport(abort=False)

    def abortConnection(self) -> None:
        """Close at once, dropping what the loop has not sent yet."""
        if not self.connected or self.disconnected:
            return
        self.disconnecting = True
        if self._lostReason is None:
            self._lostReason = Failure(error.ConnectionAborted())
        self._closeTransport(abort=True)

    def loseWriteConnection(self) -> None:
        """Half-close: send what is buffered, then end the sending half; go on reading."""
        if not self.connected or self._closing or self._writeEOF:
            return
        self._writeEOF = True
        self._canWrite = False
        try:
            self._transport.write_eof()
        except OSError:
            # The peer is gone already (ENOTCONN): there is no sending half to end.
            self._closeTransport(abort=True)
            return
        if self._readEOF:
            # The peer finished sending already: nothing is left to keep the connection for.
            self._closeTransport(abort=False)
        self.reactor._asyncioEventloop.call_soon(self._writeConnectionLost)

    def _writeConnectionLost(self) -> None:
        protocol = self.protocol
        if self.disconnected or not IHalfCloseableProtocol.providedBy(protocol):
            return
        try:
            log.callWithLogger(self, protocol.writeConnectionLost)
        except Exception:
            self._dropAfterError(Failure(), protocol, "writeConnectionLost")
        _endOfEvent(self.reactor)

    # -- IPushProducer: the peer's data ------------------------------------------------

    def pauseProducing(self) -> None:
        """Stop reading from the peer until ``resumeProducing``."""
        if self.connected and not self._closing:
            self._readPaused = True
            self._transport.pause_reading()

    def resumeProducing(self) -> None:
        """Read from the peer again (first handing over what arrived while paused)."""
        if self.connected and not self.disconnecting and not self._closing:
            self._readPaused = False
            held, self._heldData = self._heldData, None
            if held is not None:
                log.callWithLogger(self, self.data_received, held)
                if self._readPaused or not self.connected:
                    return  # Paused again, or closed, by what the protocol was given.
            self._transport.resume_reading()

    def stopProducing(self) -> None:
        """Close the connection (after what is buffered has been sent)."""
        self.loseConnection()

    # -- IConsumer -----------------------------------------------------------------------

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """Take data from ``producer`` (``streaming``: a push producer, else pull).

        A push producer is paused while the loop's buffer is over ``bufferSize`` bytes;
        a pull producer is asked for more while it is under it.

        Raises:
            RuntimeError: if a producer is registered already.
        """
        if not attachProducer(self, producer, streaming):
            return
        if not streaming:
            producer.resumeProducing()
            return
        if self.connected and not self._closing:
            # The loop calls pause_writing now if the buffer is over the mark already.
            self._transport.set_write_buffer_limits(high=self.bufferSize)
        if self._writingPaused and not self.producerPaused:
            self.producerPaused = True
            producer.pauseProducing()

    def unregisterProducer(self) -> None:
        """Forget the producer (a pending loseConnection can now complete)."""
        self.producer = None
        self.producerPaused = False
        if self.connected and self.disconnecting and not self._closing:
            self._closeTransport(abort=False)

    def _schedulePull(self) -> None:
        if not self._pullScheduled:
            self._pullScheduled = True
            self.reactor._asyncioEventloop.call_soon(self._askPullProducer)

    def _askPullProducer(self) -> None:
        """Ask the pull producer for more, unless the loop's buffer is full."""
        self._pullScheduled = False
        producer = self.producer
        if (
            producer is None
            or self.streamingProducer
            or self._closing
            or not self.connected
            or self._writingPaused  # resume_writing asks again.
        ):
            return
        self._callProducer(producer.resumeProducing)
        _endOfEvent(self.reactor)

    def _callProducer(self, method: Any) -> None:
        """Call a producer's method under this prefix; if it raises, log it and close."""
        try:
            log.callWithLogger(self, method)
        except Exception:
            self._dropAfterError(Failure(), method.__self__, method.__name__)


class LoopServer(LoopConnection):
    """A connection accepted by a LoopPort and run by the loop."""

    __slots__ = ("client", "server", "sessionno")

    def __init__(
        self,
        sock: socket.socket,
        protocol: Any,
        client: IPv4Address | IPv6Address,
        server: LoopPort,
        sessionno: int,
        reactor: Any,
    ) -> None:
        super().__init__(sock, protocol, reactor)
        self.client = client
        self.server = server
        self.sessionno = sessionno
        loop = reactor._asyncioEventloop
        self._startTask(loop.connect_accepted_socket(self._asProtocol, sock))

    def _connectionMade(self) -> None:
        log.callWithLogger(self, self._makeConnection)

    def _handOverFailed(self, problem: BaseException) -> None:
        self.disconnected = True
        self.reactor._loopConnections.discard(self)
        log.err(
            Failure(problem),
            f"The event loop could not take the connection from {self.client} over; closed it",
        )

    def logPrefix(self) -> str:
        """Return "Protocol,sessionno,peerhost" (made when something is logged)."""
        return f"{tcp._logPrefixOf(self.protocol)},{self.sessionno},{self.client.host}"

    def getPeer(self) -> IPv4Address | IPv6Address:
        """Return the client's address."""
        return self.client

    def __repr__(self) -> str:
        return f"<{type(self.protocol).__name__} #{self.sessionno} on {self.server.port}>"


class LoopClient(tcp._Connecting, LoopConnection):
    """An outgoing connection attempt that becomes, run by the loop, the transport.

    Raises:
        OSError: if no socket can be made (LoopConnector turns that into a failed attempt).
    """

    __slots__ = ("_connecting", "_logPrefix", "_peer", "addr", "bindAddress", "connector", "port")
    _tlsClientDefault = True

    def __init__(
        self,
        host: str,
        port: int,
        bindAddress: tuple[str, int] | None,
        connector: LoopConnector,
        reactor: Any,
    ) -> None:
        family = socket.AF_INET6 if ":" in host and isIPAddress(host) else socket.AF_INET
        super().__init__(tcp._makeClientSocket(family), None, reactor)
        self._connecting = True
        self._peer: IPv4Address | IPv6Address | None = None
        self._logPrefix = "Uninitialized"
        self.port = port
        self.addr: tuple[str, int] = (host, port)
        self.bindAddress = bindAddress
        self.connector = connector
        reactor._loopConnections.add(self)  # So that shutdown gives the attempt up.
        if self._bind():
            reactor.resolve(host).addCallbacks(self._resolved, self._resolveFailed)

    def _useSocket(self, sock: socket.socket) -> None:
        self.socket = sock

    def _connectResolved(self) -> None:
        self._startTask(self._connect())

    async def _connect(self) -> None:
        loop = self.reactor._asyncioEventloop
        await loop.sock_connect(self.socket, self.addr)
        # Not create_connection(sock=...): uvloop ties the socket object to its
        # transport only once connection_made has run, so a connection closed from
        # connectionMade left the object holding a descriptor number that libuv had
        # closed, and its finalizer later closed whatever reused that number.
        await loop.connect_accepted_socket(self._asProtocol, self.socket)

    def _handOverFailed(self, problem: BaseException) -> None:
        self.failIfNotConnected(_connectError(problem))

    def _abandon(self) -> None:
        if self._connecting:
            self.failIfNotConnected(error.ConnectError(string="the reactor shut down"))
        else:
            super()._abandon()

    def failIfNotConnected(self, err: BaseException) -> None:
        """Give up the attempt with ``err`` unless the connection is already made."""
        if self.connected or self.disconnected or not self._connecting:
            return
        self._connecting = False
        self.disconnected = True
        self.reactor._loopConnections.discard(self)
        if self._task is not None:
            self._task.cancel()  # Its end closes the socket.
        else:
            self.socket.close()
        self.connector.connectionFailed(Failure(err))

    def _connectionMade(self) -> None:
        self._connecting = False
        sock = self.socket
        try:
            self._peer = tcp._addressFor(sock.family, sock.getpeername())
            self._hostAddress = tcp._addressFor(sock.family, sock.getsockname())
        except OSError:
            # Reset already: the loop reports that next.
            self._peer = tcp._addressFor(sock.family, self.addr)
        try:
            protocol = self.connector.buildProtocol(self._peer)
        except Exception:
            self._dropAfterError(Failure(), self.connector.factory, "buildProtocol")
            return
        if protocol is None:
            self._loseNow(Failure(error.ConnectionDone()))
            return
        self.protocol = protocol
        self._logPrefix = f"{tcp._logPrefixOf(protocol)},client"
        log.callWithLogger(self, self._makeConnection)

    def _connectionLost(self, reason: Failure) -> None:
        super()._connectionLost(reason)
        self.connector.connectionLost(reason)

    def logPrefix(self) -> str:
        """Return "Protocol,client" ("Uninitialized" until connected)."""
        return self._logPrefix

    def getPeer(self) -> IPv4Address | IPv6Address:
        """Return the server's address (also after the connection is closed).

        Raises:
            RuntimeError: if the connection is not made yet.
        """
        if self._peer is None:
            raise RuntimeError("not connected yet; getPeer works from connectionMade on")
        return self._peer

    def __repr__(self) -> str:
        return f"<{type(self).__name__} to {self.addr} at {id(self):#x}>"


class LoopPort(tcp.Port):
    """A listening port whose accepted connections the loop runs (see LoopServer)."""

    __slots__ = ()

    def _serve(
        self, sock: socket.socket, protocol: Any, peer: IPv4Address | IPv6Address, sessionno: int
    ) -> None:
        LoopServer(sock, protocol, peer, self, sessionno, self.reactor)


class LoopConnector(tcp.Connector):
    """The IConnector of the asyncio reactor's ``connectTCP``: attempts are LoopClients."""

    def _makeTransport(self) -> LoopClient | tcp._FailedAttempt:  # type: ignore[override]
        try:
            return LoopClient(self.host, self.port, self.bindAddress, self, self.reactor)
        except OSError as e:
            return tcp._FailedAttempt(self, error.getConnectError(e))
