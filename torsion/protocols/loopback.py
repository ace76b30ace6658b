"""Connect two protocols directly, in memory or over 127.0.0.1: for tests and demos.

The seed's "direct loopback between client and server". ``loopbackAsync(server,
client)`` gives each protocol a LoopbackTransport and moves what one writes to the
other's ``dataReceived``; its Deferred fires once both have been told
``connectionLost``. Nothing touches a socket: what the protocols do at once happens
inside the call, and what they do later (from timers, Deferreds) is moved on the
next turn of the reactor, so a protocol is never handed data while it is still
inside its own ``write``. ``loopbackTCP`` and ``loopbackUNIX`` run the same
conversation over a real TCP connection on 127.0.0.1 or a real UNIX socket, when a
test needs real transports.

The transports behave as TCP ones do where it matters to protocols: writes after
closing are dropped, ``loseConnection`` delivers what was written first,
``abortConnection`` drops it, ``loseWriteConnection`` half-closes (a peer that
provides IHalfCloseableProtocol hears ``readConnectionLost``, another is closed), and
producers are paused once ``bufferSize`` bytes wait and resumed as they drain.

A pump policy decides how queued writes reach the other side:
``identityPumpPolicy`` delivers each write as one ``dataReceived`` and
``collapsingPumpPolicy`` joins what waits into one call; a policy is any
``policy(queue, protocol)`` that takes chunks with ``queue.get()`` while ``queue`` is
true, stopping at None (the writer closed).

``IOPump`` and ``connectedServerAndClient`` (also in torsion.internet.testing) use the
same transports but move data only when the test says ``pump()`` or ``flush()``, for
fully deterministic tests.
Tests: tests/protocols/test_loopback.py.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from zope.interface import directlyProvides, implementer

from torsion.internet import error
from torsion.internet.abstract import _asBytes, attachProducer
from torsion.internet.address import IPv4Address
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import (
    IAddress,
    IConsumer,
    IHalfCloseableProtocol,
    IPushProducer,
    ITCPTransport,
)
from torsion.internet.protocol import ClientFactory, Factory
from torsion.internet.tcp import _logPrefixOf
from torsion.python.failure import Failure

__all__ = [
    "IOPump",
    "LoopbackQueue",
    "LoopbackTransport",
    "PumpPolicy",
    "collapsingPumpPolicy",
    "connectedServerAndClient",
    "identityPumpPolicy",
    "loopbackAsync",
    "loopbackTCP",
    "loopbackUNIX",
]

PumpPolicy = Callable[["LoopbackQueue", Any], None]

# The addresses the in-memory transports report, as torsion.internet.testing's
# StringTransport does: the server on port 8080, the client on 54321.
_SERVER_ADDRESS = IPv4Address("TCP", "127.0.0.1", 8080)
_CLIENT_ADDRESS = IPv4Address("TCP", "127.0.0.1", 54321)


class LoopbackQueue:
    """What one side wrote that the other has not received yet; None marks the end.

    Pump policies take from it: ``bool(queue)`` says whether anything waits and
    ``get()`` takes the next chunk (bytes, or None once the writer closed).
    """

    __slots__ = ("_items", "ended", "size")

    def __init__(self) -> None:
        self._items: deque[bytes | None] = deque()
        self.size = 0
        # True once the None that closes the queue was taken by a policy.
        self.ended = False

    def put(self, chunk: bytes | None) -> None:
        """Append ``chunk`` (None: the writer will write no more)."""
        self._items.append(chunk)
        if chunk is not None:
            self.size += len(chunk)

    def get(self) -> bytes | None:
        """Take the oldest chunk.

        Raises:
            IndexError: if the queue is empty.
        """
        chunk = self._items.popleft()
        if chunk is None:
            self.ended = True
        else:
            self.size -= len(chunk)
        return chunk

    def clear(self) -> None:
        """Drop every chunk that waits."""
        self._items.clear()
        self.size = 0

    def __bool__(self) -> bool:
        return bool(self._items)

    def __len__(self) -> int:
        return len(self._items)


def identityPumpPolicy(queue: LoopbackQueue, target: Any) -> None:
    """Deliver each chunk that waits as its own ``dataReceived`` call, in order."""
    while queue:
        chunk = queue.get()
        if chunk is None:
            return
        target.dataReceived(chunk)


def collapsingPumpPolicy(queue: LoopbackQueue, target: Any) -> None:
    """Deliver everything that waits in one ``dataReceived`` call."""
    chunks = []
    while queue:
        chunk = queue.get()
        if chunk is None:
            break
        chunks.append(chunk)
    if chunks:
        target.dataReceived(b"".join(chunks))


def _noActivity() -> None:
    pass


@implementer(ITCPTransport, IConsumer, IPushProducer)
class LoopbackTransport:
    """One end of an in-memory connection: what ``protocol`` writes to.

    Made by ``loopbackAsync`` and ``connectedServerAndClient``; make one yourself to
    give ``IOPump`` transports with other addresses.

    Args:
        protocol: the protocol that owns this end.
        hostAddress: what ``getHost`` returns.
        peerAddress: what ``getPeer`` returns.

    Attributes:
        disconnecting: True once ``loseConnection`` or ``abortConnection`` was called.
        disconnected: True once the protocol was told ``connectionLost``.
        aborted: True once ``abortConnection`` was called.
        writeDisconnected: True once ``loseWriteConnection`` was called.
        producer, streamingProducer: the producer registered, if any.
    """

    __slots__ = (
        "_activity",
        "_endReported",
        "_queue",
        "_readPaused",
        "aborted",
        "disconnected",
        "disconnecting",
        "hostAddress",
        "peerAddress",
        "producer",
        "producerPaused",
        "protocol",
        "streamingProducer",
        "tcpKeepAlive",
        "tcpNoDelay",
        "writeDisconnected",
    )

    # A streaming producer is paused once this many bytes wait for the other side.
    bufferSize = 2**16

    def __init__(
        self,
        protocol: Any,
        hostAddress: IAddress = _SERVER_ADDRESS,
        peerAddress: IAddress = _CLIENT_ADDRESS,
    ) -> None:
        self.protocol = protocol
        self.hostAddress = hostAddress
        self.peerAddress = peerAddress
        self._queue = LoopbackQueue()
        # Told of anything the other side may need to hear about (set by the pair).
        self._activity: Callable[[], None] = _noActivity
        self._readPaused = False
        self._endReported = False
        self.disconnecting = False
        self.disconnected = False
        self.aborted = False
        self.writeDisconnected = False
        self.producer: Any = None
        self.streamingProducer = False
        self.producerPaused = False
        self.tcpNoDelay = False
        self.tcpKeepAlive = False

    def __repr__(self) -> str:
        return f"<LoopbackTransport of {type(self.protocol).__name__}>"

    def getHost(self) -> IAddress:
        """Return this end's address."""
        return self.hostAddress

    def getPeer(self) -> IAddress:
        """Return the other end's address."""
        return self.peerAddress

    # -- writing --------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Queue ``data`` for the other side (dropped once this side closed).

        Raises:
            TypeError: if ``data`` is not bytes (text must be encoded first).
        """
        if not isinstance(data, bytes):
            data = _asBytes(data)
        if self.disconnecting or self.writeDisconnected or self.disconnected or not data:
            return
        self._queue.put(data)
        self._activity()
        if (
            self.streamingProducer
            and not self.producerPaused
            and self.producer is not None
            and self._queue.size > self.bufferSize
        ):
            self.producerPaused = True
            self.producer.pauseProducing()

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        """Queue each bytes object of ``iovec``, in order."""
        for data in [d if isinstance(d, bytes) else _asBytes(d) for d in iovec]:
            self.write(data)

    def _producerMayProduce(self) -> None:
        """What was written has been delivered: let a producer write more."""
        producer = self.producer
        if producer is None or self.disconnected:
            return
        if not self.streamingProducer:
            if not self._queue:
                producer.resumeProducing()
        elif self.producerPaused and self._queue.size <= self.bufferSize:
            self.producerPaused = False
            producer.resumeProducing()

    # -- closing --------------------------------------------------------------------------

    def loseConnection(self) -> None:
        """Close once the other side has been given everything written."""
        if self.disconnecting or self.disconnected:
            return
        self.disconnecting = True
        if not self.writeDisconnected:
            self._queue.put(None)
        self._activity()

    def loseWriteConnection(self) -> None:
        """Half-close: write no more, but go on receiving."""
        if self.disconnecting or self.writeDisconnected or self.disconnected:
            return
        self.writeDisconnected = True
        self._queue.put(None)
        self._activity()

    def abortConnection(self) -> None:
        """Close at once, dropping whatever the other side has not received yet."""
        if self.disconnected or self.aborted:
            return
        self.aborted = True
        self.disconnecting = True
        self._queue.clear()
        self._queue.put(None)
        self._activity()

    # -- TCP options, recorded so that protocols which set them run here --------------------

    def getTcpNoDelay(self) -> bool:
        """Return the recorded TCP_NODELAY setting."""
        return self.tcpNoDelay

    def setTcpNoDelay(self, enabled: bool) -> None:
        """Record a TCP_NODELAY setting (there is no socket)."""
        self.tcpNoDelay = bool(enabled)

    def getTcpKeepAlive(self) -> bool:
        """Return the recorded SO_KEEPALIVE setting."""
        return self.tcpKeepAlive

    def setTcpKeepAlive(self, enabled: bool) -> None:
        """Record an SO_KEEPALIVE setting (there is no socket)."""
        self.tcpKeepAlive = bool(enabled)

    # -- consumer and producer ----------------------------------------------------------------

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """Take data from ``producer`` (``streaming``: a push producer, else pull).

        Raises:
            RuntimeError: if a producer is registered already.
        """
        if not attachProducer(self, producer, streaming):
            return
        if not streaming:
            producer.resumeProducing()

    def unregisterProducer(self) -> None:
        """Forget the producer."""
        self.producer = None
        self.producerPaused = False

    def pauseProducing(self) -> None:
        """Stop handing the protocol what the other side writes (it waits here)."""
        self._readPaused = True

    def resumeProducing(self) -> None:
        """Hand the protocol what the other side writes again."""
        if self._readPaused:
            self._readPaused = False
            self._activity()

    def stopProducing(self) -> None:
        """Close the connection."""
        self.loseConnection()


class _Loopback:
    """The two ends of one in-memory connection, and moving data between them.

    ``step`` moves what waits, once in each direction, and closes the connection when
    a side's end has been delivered; ``loopbackAsync`` and ``IOPump`` decide when to
    step. ``onClosed`` is called once both protocols were told ``connectionLost``.
    """

    def __init__(
        self,
        server: LoopbackTransport,
        client: LoopbackTransport,
        pumpPolicy: PumpPolicy = identityPumpPolicy,
    ) -> None:
        self.server = server
        self.client = client
        self.pumpPolicy = pumpPolicy
        self.closed = False

    def setActivity(self, notify: Callable[[], None]) -> None:
        """Call ``notify`` whenever either end has something for the other."""
        self.server._activity = notify
        self.client._activity = notify

    def step(self, pumpPolicy: PumpPolicy | None = None) -> bool:
        """Move what waits, both ways; return False if there was nothing to do."""
        if self.closed:
            return False
        for end in (self.server, self.client):
            if end.aborted:
                self.close(end)
                return True
        policy = self.pumpPolicy if pumpPolicy is None else pumpPolicy
        moved = self._move(self.server, self.client, policy)
        if self.closed:
            return True
        moved = self._move(self.client, self.server, policy) or moved
        if self.closed:
            return True
        return self._closeIfEnded() or moved

    def _move(
        self, source: LoopbackTransport, target: LoopbackTransport, policy: PumpPolicy
    ) -> bool:
        queue = source._queue
        if not queue or target._readPaused:
            return False
        policy(queue, target.protocol)
        if not self.closed:
            source._producerMayProduce()
        return True

    def _closeIfEnded(self) -> bool:
        """Handle an end (close or half-close) that was delivered; True if one was."""
        changed = False
        for source, target in ((self.server, self.client), (self.client, self.server)):
            if self.closed:
                return True
            if not source._queue.ended or source._endReported:
                continue
            changed = True
            if source.disconnecting:
                self.close(source)
                return True
            source._endReported = True
            if not IHalfCloseableProtocol.providedBy(target.protocol):
                self.close(source)
                return True
            target.protocol.readConnectionLost()
            if IHalfCloseableProtocol.providedBy(source.protocol):
                source.protocol.writeConnectionLost()
        if not self.closed:
            for source in (self.server, self.client):
                # A side that half-closed and then called loseConnection.
                if source.disconnecting and source._endReported:
                    self.close(source)
                    return True
            if self.server._endReported and self.client._endReported:
                self.close(None)
                return True
        return changed

    def close(self, initiator: LoopbackTransport | None, reason: Failure | None = None) -> None:
        """Tell both protocols the connection is lost (server first), once.

        The reason is ConnectionDone, or for an abort ConnectionAborted on the side that
        aborted and ConnectionLost on the other; or ``reason`` for both.
        """
        if self.closed:
            return
        self.closed = True
        for end in (self.server, self.client):
            end.disconnected = True
            end.disconnecting = True
            end._queue.clear()
            producer, end.producer = end.producer, None
            if producer is not None:
                producer.stopProducing()
        problem: BaseException | None = None
        for end in (self.server, self.client):
            if reason is not None:
                why = reason
            elif initiator is not None and initiator.aborted:
                if end is initiator:
                    why = Failure(error.ConnectionAborted())
                else:
                    why = Failure(error.ConnectionLost("the other side aborted the connection"))
            else:
                why = Failure(error.ConnectionDone())
            try:
                end.protocol.connectionLost(why)
            except BaseException as e:
                # The other side must hear of the loss too; then the error is raised.
                problem = problem or e
        if problem is not None:
            raise problem


class _AsyncLoopback:
    """Runs a _Loopback whenever its ends have something to move: at once while the
    protocols are being connected, then on the next turn of ``clock`` after each write
    made from outside (a timer, a Deferred)."""

    # The steps one turn may take: two protocols that answer each other forever
    # hand the loop back this often instead of hanging it.
    stepsPerTurn = 100

    def __init__(self, pair: _Loopback, clock: Any) -> None:
        self.pair = pair
        self.clock = clock
        self.finished: Deferred[None] = Deferred()
        self._running = False
        self._scheduled: Any = None
        pair.setActivity(self.activity)

    def activity(self) -> None:
        if self._running or self._scheduled is not None or self.pair.closed:
            return
        clock = self.clock
        if clock is None:
            from torsion.internet import reactor as clock
        self._scheduled = clock.callLater(0, self.run)

    def run(self) -> None:
        self._scheduled = None
        self._running = True
        pair = self.pair
        try:
            for _ in range(self.stepsPerTurn):
                if not pair.step():
                    break
            else:
                self._running = False
                self.activity()
        except BaseException:
            why = Failure()
            self._running = False
            if not pair.closed:
                try:
                    pair.close(None, why)
                except Exception:
                    pass  # The Deferred reports the first error; this one is its echo.
            if not self.finished.called:
                self.finished.errback(why)
            return
        self._running = False
        if pair.closed and not self.finished.called:
            self.finished.callback(None)


def loopbackAsync(
    server: Any,
    client: Any,
    pumpPolicy: PumpPolicy = identityPumpPolicy,
    clock: Any = None,
) -> Deferred[None]:
    """Connect ``server`` and ``client`` in memory and let them talk until both close.

    The server is connected first; what the protocols write is delivered at once
    while they are being connected, and later on the next turn of ``clock`` (an
    IReactorTime; None: the global reactor, only looked up if it is needed).

    Returns:
        A Deferred firing with None once both protocols were told connectionLost, or
        failing with the first exception a protocol raised (both are then told
        connectionLost with it).
    """
    serverEnd = LoopbackTransport(server, _SERVER_ADDRESS, _CLIENT_ADDRESS)
    clientEnd = LoopbackTransport(client, _CLIENT_ADDRESS, _SERVER_ADDRESS)
    pair = _Loopback(serverEnd, clientEnd, pumpPolicy)
    runner = _AsyncLoopback(pair, clock)
    runner._running = True
    try:
        server.makeConnection(serverEnd)
        client.makeConnection(clientEnd)
    finally:
        runner._running = False
    runner.run()
    return runner.finished


class IOPump:
    """Moves data between two in-memory ends only when told: ``pump()`` or ``flush()``.

    Args:
        client, server: the two protocols.
        clientIO, serverIO: their LoopbackTransports.
        debug: print what moves.
        clock: a task.Clock advanced by 0 seconds before each pump, so that calls a
            protocol scheduled for "now" run too.
    """

    def __init__(
        self,
        client: Any,
        server: Any,
        clientIO: LoopbackTransport,
        serverIO: LoopbackTransport,
        debug: bool = False,
        clock: Any = None,
    ) -> None:
        self.client = client
        self.server = server
        self.clientIO = clientIO
        self.serverIO = serverIO
        self.debug = debug
        self.clock = clock
        self._pair = _Loopback(serverIO, clientIO)

    def pump(self, debug: bool = False, advanceClock: bool = True) -> bool:
        """Move what waits, once each way; return True if anything happened."""
        if advanceClock and self.clock is not None:
            self.clock.advance(0)
        policy = self._debugPolicy if (debug or self.debug) else None
        return self._pair.step(policy)

    def flush(self, debug: bool = False) -> bool:
        """Pump until nothing is left to move; return True if anything moved.

        Raises:
            RuntimeError: after 1000 pumps that all moved something (the protocols
                answer each other forever).
        """
        result = False
        for _ in range(1000):
            if not self.pump(debug):
                return result
            result = True
        raise RuntimeError("IOPump.flush: still moving data after 1000 pumps; a protocol loop?")

    def _debugPolicy(self, queue: LoopbackQueue, target: Any) -> None:
        label = "server -> client" if target is self.client else "client -> server"
        while queue:
            chunk = queue.get()
            print(f"{label}: {'end' if chunk is None else repr(chunk)}")
            if chunk is None:
                return
            target.dataReceived(chunk)


def connectedServerAndClient(
    ServerClass: Callable[[], Any],
    ClientClass: Callable[[], Any],
    clientTransportFactory: Callable[[Any], LoopbackTransport] | None = None,
    serverTransportFactory: Callable[[Any], LoopbackTransport] | None = None,
    debug: bool = False,
    greet: bool = True,
    clock: Any = None,
) -> tuple[Any, Any, IOPump]:
    """Make a server and a client protocol, connect them in memory, return both and a pump.

    Args:
        ServerClass, ClientClass: called with no arguments to make the protocols.
        clientTransportFactory, serverTransportFactory: make a protocol's
            LoopbackTransport (by default with the addresses StringTransport uses).
        debug: print what the pump moves.
        greet: flush once, so that what connectionMade wrote has been delivered.
        clock: given to the IOPump.

    Returns:
        ``(client, server, pump)``, as Twisted's iosim returns them.
    """
    client = ClientClass()
    server = ServerClass()
    clientIO = (
        clientTransportFactory(client)
        if clientTransportFactory is not None
        else LoopbackTransport(client, _CLIENT_ADDRESS, _SERVER_ADDRESS)
    )
    serverIO = (
        serverTransportFactory(server)
        if serverTransportFactory is not None
        else LoopbackTransport(server, _SERVER_ADDRESS, _CLIENT_ADDRESS)
    )
    server.makeConnection(serverIO)
    client.makeConnection(clientIO)
    pump = IOPump(client, server, clientIO, serverIO, debug, clock)
    if greet:
        pump.flush()
    return client, server, pump


# -- over real sockets ----------------------------------------------------------------------


class _TellWhenLost:
    """Stands between a transport and the server protocol, to know when it is lost.

    The protocol is given the real transport; only its callbacks pass through here.
    """

    def __init__(self, wrapped: Any, lost: Deferred[None]) -> None:
        self.wrapped = wrapped
        self.lost = lost
        if IHalfCloseableProtocol.providedBy(wrapped):
            directlyProvides(self, IHalfCloseableProtocol)

    def logPrefix(self) -> str:
        return _logPrefixOf(self.wrapped)

    def makeConnection(self, transport: Any) -> None:
        self.wrapped.makeConnection(transport)

    def dataReceived(self, data: bytes) -> None:
        self.wrapped.dataReceived(data)

    def readConnectionLost(self) -> None:
        self.wrapped.readConnectionLost()

    def writeConnectionLost(self) -> None:
        self.wrapped.writeConnectionLost()

    def connectionLost(self, reason: Any) -> None:
        try:
            self.wrapped.connectionLost(reason)
        finally:
            if not self.lost.called:
                self.lost.callback(None)


class _OneServerFactory(Factory):
    def __init__(self, protocol: _TellWhenLost, noisy: bool) -> None:
        self.instance = protocol
        self.noisy = noisy

    def buildProtocol(self, addr: Any) -> Any:
        return self.instance


class _OneClientFactory(ClientFactory):
    def __init__(self, protocol: Any, noisy: bool) -> None:
        self.instance = protocol
        self.noisy = noisy
        self.lost: Deferred[None] = Deferred()

    def buildProtocol(self, addr: Any) -> Any:
        return self.instance

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        if not self.lost.called:
            self.lost.errback(reason)

    def clientConnectionLost(self, connector: Any, reason: Failure) -> None:
        if not self.lost.called:
            self.lost.callback(None)


def loopbackTCP(
    server: Any, client: Any, port: int = 0, noisy: bool = True, reactor: Any = None
) -> Deferred[None]:
    """Connect ``server`` and ``client`` over a real TCP connection on 127.0.0.1.

    ``port`` 0 picks a free port; ``noisy`` keeps the factories' start/stop log lines.
    ``reactor`` None: the global reactor.

    Returns:
        A Deferred firing with None once both protocols lost the connection and the
        listening port has closed, or failing with the reason the client could not
        connect (the port is closed then too).
    """
    if reactor is None:
        from torsion.internet import reactor

    def listen(factory: Any) -> Any:
        return reactor.listenTCP(port, factory, interface="127.0.0.1")

    def connect(listening: Any, factory: Any) -> None:
        reactor.connectTCP("127.0.0.1", listening.getHost().port, factory)

    return _loopbackOver(listen, connect, server, client, noisy)


def loopbackUNIX(
    server: Any, client: Any, noisy: bool = True, reactor: Any = None
) -> Deferred[None]:
    """Connect ``server`` and ``client`` over a real UNIX socket in a new temporary folder.

    Otherwise as ``loopbackTCP``; the socket file and its folder are removed at the end.
    """
    if reactor is None:
        from torsion.internet import reactor
    folder = tempfile.mkdtemp(prefix="torsion-loopback-")
    path = os.path.join(folder, "loopback.sock")

    def listen(factory: Any) -> Any:
        return reactor.listenUNIX(path, factory)

    def connect(listening: Any, factory: Any) -> None:
        reactor.connectUNIX(path, factory)

    def removeFolder(result: Any) -> Any:
        shutil.rmtree(folder, ignore_errors=True)
        return result

    done = _loopbackOver(listen, connect, server, client, noisy)
    done.addBoth(removeFolder)
    return done


def _loopbackOver(
    listen: Callable[[Any], Any],
    connect: Callable[[Any, Any], None],
    server: Any,
    client: Any,
    noisy: bool,
) -> Deferred[None]:
    """The conversation of loopbackTCP and loopbackUNIX, over the given listen/connect."""
    serverLost: Deferred[None] = Deferred()
    listening = listen(_OneServerFactory(_TellWhenLost(server, serverLost), noisy))
    clientFactory = _OneClientFactory(client, noisy)
    connect(listening, clientFactory)

    def stopListening(result: object) -> Deferred[None]:
        return listening.stopListening().addCallback(lambda _: result)  # type: ignore[no-any-return]

    done: Deferred[Any] = clientFactory.lost.addCallback(lambda _: serverLost)
    done.addBoth(stopListening)
    return done.addCallback(lambda _: None)
