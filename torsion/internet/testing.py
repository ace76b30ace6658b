"""In-memory fakes for testing protocols and reactor users (Twisted's ``internet.testing``).

- ``StringTransport``: a transport that keeps what is written in memory (``value()``)
  and records producer registration and flow control, so a protocol can be tested
  by feeding ``dataReceived`` and reading back what it sent.
- ``StringTransportWithDisconnection``: the same, but ``loseConnection`` tells the
  protocol (``connectionLost`` with ``ConnectionDone``).
- ``AccumulatingProtocol``: a protocol that keeps everything it receives.
- ``NonStreamingProducer``: a pull producer that writes a few chunks then stops.
- ``EventLoggingObserver``: a log observer that keeps events for assertions.
- ``MemoryReactor``: a reactor that records ``listenTCP``/``connectTCP`` and the
  run/stop/trigger calls instead of touching sockets; ``MemoryReactorClock`` adds a
  ``Clock`` for time; ``RaisingMemoryReactor`` fails listen/connect with a given error.

Tests: tests/internet/test_testing.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from io import BytesIO
from typing import Any, Protocol, cast

from zope.interface import classImplements, implementer

from torsion.internet.address import IPv4Address, UNIXAddress
from torsion.internet.error import ConnectionDone, NotConnectingError
from torsion.internet.interfaces import (
    IAddress,
    IConnector,
    IConsumer,
    IListeningPort,
    IProtocol,
    IPullProducer,
    IPushProducer,
    IReactorCore,
    IReactorSSL,
    IReactorTCP,
    IReactorUNIX,
    IReactorUNIXDatagram,
    ITCPTransport,
)
from torsion.internet.task import Clock
from torsion.logger import ILogObserver, LogEvent, LogPublisher, globalLogPublisher
from torsion.python.failure import Failure

__all__ = [
    "AccumulatingProtocol",
    "EventLoggingObserver",
    "MemoryReactor",
    "MemoryReactorClock",
    "NonStreamingProducer",
    "RaisingMemoryReactor",
    "StringTransport",
    "StringTransportWithDisconnection",
]

_Call = tuple[Callable[..., object], tuple[Any, ...], dict[str, Any]]


@implementer(ITCPTransport, IConsumer, IPushProducer)
class StringTransport:
    """A transport that writes into a bytes buffer instead of a socket.

    Connect a protocol to it and inspect what the protocol wrote::

        proto.makeConnection(StringTransport())
        proto.dataReceived(b"PING\\r\\n")
        assert proto.transport.value() == b"PONG\\r\\n"

    Attributes:
        io: the BytesIO that receives writes.
        disconnecting: True once ``loseConnection`` (or ``abortConnection``) is called.
        disconnected: True once the connection is reported lost to the protocol; the
            plain StringTransport never does that (see StringTransportWithDisconnection).
        aborted: True once ``abortConnection`` is called.
        writeDisconnected: True once ``loseWriteConnection`` is called.
        producer, streaming: the producer registered by the protocol, if any.
        producerState: the flow control asked of this transport as a producer:
            'producing', 'paused' or 'stopped'.
        hostAddress, peerAddress: what ``getHost`` and ``getPeer`` return; by default
            127.0.0.1 port 8080 and 127.0.0.1 port 54321.
    """

    def __init__(
        self, hostAddress: IAddress | None = None, peerAddress: IAddress | None = None
    ) -> None:
        self.io = BytesIO()
        self.disconnecting = False
        self.disconnected = False
        self.aborted = False
        self.writeDisconnected = False
        self.producer: object | None = None
        self.streaming: bool | None = None
        self.producerState = "producing"
        self.tcpNoDelay = False
        self.tcpKeepAlive = False
        self.hostAddress: IAddress = (
            IPv4Address("TCP", "127.0.0.1", 8080) if hostAddress is None else hostAddress
        )
        self.peerAddress: IAddress = (
            IPv4Address("TCP", "127.0.0.1", 54321) if peerAddress is None else peerAddress
        )

    def value(self) -> bytes:
        """Return everything written since creation or the last ``clear``."""
        return self.io.getvalue()

    def clear(self) -> None:
        """Forget what has been written so far."""
        self.io.seek(0)
        self.io.truncate()

    def write(self, data: bytes) -> None:
        """Append ``data`` to the buffer.

        Raises:
            TypeError: ``data`` is not bytes (a str must be encoded first).
        """
        if isinstance(data, str):
            raise TypeError(
                f"transports take bytes, not str ({data[:20]!r}); encode the text first, "
                f"for example with data.encode('utf-8')"
            )
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"transports take bytes, not {type(data).__name__}")
        self.io.write(data)

    def writeSequence(self, data: object) -> None:
        """Write each chunk of ``data`` (an iterable of bytes) in order."""
        for chunk in cast(Iterable[bytes], data):
            self.write(chunk)

    def loseConnection(self) -> None:
        """Record that the protocol asked to close; nothing is delivered to it."""
        self.disconnecting = True

    def abortConnection(self) -> None:
        """Record that the protocol asked to close at once."""
        self.aborted = True
        self.loseConnection()

    def loseWriteConnection(self) -> None:
        """Record a half-close: no more writes will be sent."""
        self.writeDisconnected = True

    def getPeer(self) -> IAddress:
        """Return ``peerAddress``."""
        return self.peerAddress

    def getHost(self) -> IAddress:
        """Return ``hostAddress``."""
        return self.hostAddress

    def getTcpNoDelay(self) -> bool:
        """Return the recorded TCP_NODELAY setting."""
        return self.tcpNoDelay

    def setTcpNoDelay(self, enabled: bool) -> None:
        """Record a TCP_NODELAY setting."""
        self.tcpNoDelay = enabled

    def getTcpKeepAlive(self) -> bool:
        """Return the recorded SO_KEEPALIVE setting."""
        return self.tcpKeepAlive

    def setTcpKeepAlive(self, enabled: bool) -> None:
        """Record an SO_KEEPALIVE setting."""
        self.tcpKeepAlive = enabled

    def registerProducer(self, producer: object, streaming: bool) -> None:
        """Record ``producer`` as the one feeding this transport.

        Raises:
            RuntimeError: a producer is registered already; unregister it first.
        """
        if self.producer is not None:
            raise RuntimeError(
                f"a producer ({self.producer!r}) is registered already; "
                f"call unregisterProducer() before registering another"
            )
        self.producer = producer
        self.streaming = streaming

    def unregisterProducer(self) -> None:
        """Forget the registered producer.

        Raises:
            RuntimeError: no producer is registered.
        """
        if self.producer is None:
            raise RuntimeError("unregisterProducer() called but no producer is registered")
        self.producer = None
        self.streaming = None

    def _checkNotStopped(self, action: str) -> None:
        if self.producerState == "stopped":
            raise RuntimeError(f"cannot {action} a transport whose producing was stopped")

    def pauseProducing(self) -> None:
        """Record that the consumer asked this transport to pause reading.

        Raises:
            RuntimeError: producing was stopped already.
        """
        self._checkNotStopped("pause")
        self.producerState = "paused"

    def resumeProducing(self) -> None:
        """Record that the consumer asked this transport to resume reading.

        Raises:
            RuntimeError: producing was stopped already.
        """
        self._checkNotStopped("resume")
        self.producerState = "producing"

    def stopProducing(self) -> None:
        """Record that the consumer asked this transport to stop for good."""
        self.producerState = "stopped"


class StringTransportWithDisconnection(StringTransport):
    """A StringTransport whose ``loseConnection`` delivers ``connectionLost``.

    Set ``protocol`` to the connected protocol; the first ``loseConnection`` calls its
    ``connectionLost`` with a Failure of ``ConnectionDone``, later ones do nothing.
    """

    protocol: Any = None

    def loseConnection(self) -> None:
        """Close the connection and tell ``protocol`` it was closed cleanly."""
        if self.disconnecting:
            return
        self.disconnecting = True
        self.disconnected = True
        if self.protocol is not None:
            self.protocol.connectionLost(Failure(ConnectionDone("connection closed cleanly")))


@implementer(IProtocol)
class AccumulatingProtocol:
    """A protocol that keeps what it receives and records its connection's life.

    Attributes:
        data: all bytes received so far.
        made, closed: 1 once ``connectionMade`` / ``connectionLost`` ran.
        closedReason: the Failure given to ``connectionLost``.
        factory: set by whoever builds the protocol, if it likes; when the factory has
            ``protocolConnectionMade`` (a Deferred or None), it fires with this
            protocol on connection, as does ``closedDeferred`` on loss.
    """

    def __init__(self) -> None:
        self.transport: Any = None
        self.factory: Any = None
        self.data = b""
        self.made = 0
        self.closed = 0
        self.closedReason: Any = None
        self.closedDeferred: Any = None

    def makeConnection(self, transport: Any) -> None:
        """Attach ``transport`` and call ``connectionMade``."""
        self.transport = transport
        self.connectionMade()

    def connectionMade(self) -> None:
        """Record the connection and fire the factory's ``protocolConnectionMade``."""
        self.made = 1
        d = getattr(self.factory, "protocolConnectionMade", None)
        if d is not None:
            self.factory.protocolConnectionMade = None
            d.callback(self)

    def dataReceived(self, data: bytes) -> None:
        """Keep ``data``."""
        self.data += data

    def connectionLost(self, reason: object) -> None:
        """Record the loss and fire ``closedDeferred``, if set."""
        self.closed = 1
        self.closedReason = reason
        d, self.closedDeferred = self.closedDeferred, None
        if d is not None:
            d.callback(None)


@implementer(IPullProducer)
class NonStreamingProducer:
    """A pull producer that writes ``b"0"``, ``b"1"``... to its consumer, ten in all.

    Each ``resumeProducing`` writes one chunk; after the tenth it unregisters itself
    and, if ``result`` (a Deferred) is set, fires it with None.
    """

    chunks = 10

    def __init__(self, consumer: Any) -> None:
        self.consumer: Any = consumer
        self.counter = 0
        self.stopped = False
        self.result: Any = None

    def resumeProducing(self) -> None:
        """Write the next chunk; finish after the last one.

        Raises:
            RuntimeError: called again after the producer finished or was stopped.
        """
        if self.consumer is None or self.stopped:
            raise RuntimeError("resumeProducing() called on a finished producer")
        self.consumer.write(str(self.counter).encode("ascii"))
        self.counter += 1
        if self.counter == self.chunks:
            self.consumer.unregisterProducer()
            self._done()

    def stopProducing(self) -> None:
        """Stop early."""
        self.stopped = True
        self._done()

    def _done(self) -> None:
        self.consumer = None
        d, self.result = self.result, None
        if d is not None:
            d.callback(None)


class _CleanupRegistry(Protocol):
    """What ``EventLoggingObserver.createWithCleanup`` needs of a test case."""

    def addCleanup(self, function: Callable[..., object], /, *args: Any, **kw: Any) -> None: ...


@implementer(ILogObserver)
class EventLoggingObserver:
    """A log observer that keeps the events it sees, for assertions in tests.

    It behaves as a read-only list of events (``len``, indexing, iteration).
    ``createWithCleanup`` adds one to a publisher for the length of a test.
    """

    def __init__(self) -> None:
        self._events: list[LogEvent] = []

    def __call__(self, event: LogEvent) -> None:
        """Keep ``event``."""
        self._events.append(event)

    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, index: int) -> LogEvent:
        return self._events[index]

    def __iter__(self) -> Iterator[LogEvent]:
        return iter(self._events)

    @classmethod
    def createWithCleanup(
        cls, testInstance: _CleanupRegistry, publisher: LogPublisher | None = None
    ) -> EventLoggingObserver:
        """Observe ``publisher`` (the global one by default) until the test ends.

        Args:
            testInstance: a test case with ``addCleanup`` (unittest, trial).
        """
        if publisher is None:
            publisher = globalLogPublisher
        observer = cls()
        publisher.addObserver(observer)
        testInstance.addCleanup(publisher.removeObserver, observer)
        return observer


@implementer(IListeningPort)
class _FakePort:
    """What MemoryReactor's ``listenTCP`` returns: a port that only records calls."""

    def __init__(self, hostAddress: IAddress) -> None:
        self._hostAddress = hostAddress
        self.listening = False
        self.stopped = False

    def startListening(self) -> None:
        """Record that listening started."""
        self.listening = True

    def stopListening(self) -> None:
        """Record that listening stopped."""
        self.listening = False
        self.stopped = True

    def getHost(self) -> IAddress:
        """Return the address the port was asked to listen on."""
        return self._hostAddress


@implementer(IConnector)
class _FakeConnector:
    """What MemoryReactor's ``connectTCP`` returns: a connector that records calls."""

    def __init__(self, address: IAddress) -> None:
        self._address = address
        self.stoppedConnecting = False
        self.disconnected = False
        self.connectCalls = 0
        self.state = "connecting"

    def connect(self) -> None:
        """Record a (re)connection attempt."""
        self.connectCalls += 1
        self.state = "connecting"

    def disconnect(self) -> None:
        """Record a request to disconnect."""
        self.disconnected = True
        self.state = "disconnected"

    def stopConnecting(self) -> None:
        """Record a request to abandon the attempt.

        Raises:
            NotConnectingError: the connector is not connecting.
        """
        if self.state != "connecting":
            raise NotConnectingError(f"stopConnecting() called on a connector that is {self.state}")
        self.stoppedConnecting = True
        self.state = "disconnected"

    def getDestination(self) -> IAddress:
        """Return the address being connected to."""
        return self._address


@implementer(IReactorCore, IReactorTCP, IReactorSSL, IReactorUNIX, IReactorUNIXDatagram)
class MemoryReactor:
    """A reactor that records what it is asked to do and does none of it.

    Give it to code under test, then look at what the code asked for.

    Attributes:
        tcpServers: one ``(port, factory, backlog, interface)`` per ``listenTCP``.
        tcpClients: one ``(host, port, factory, timeout, bindAddress)`` per ``connectTCP``.
        unixServers: one ``(address, factory, backlog, mode, wantPID)`` per
            ``listenUNIX``, and ``(address, protocol, maxPacketSize, mode)`` per
            ``listenUNIXDatagram``.
        unixClients: one ``(address, factory, timeout, checkPID)`` per ``connectUNIX``,
            and ``(address, protocol, maxPacketSize, mode, bindAddress)`` per
            ``connectUNIXDatagram``.
        connectors: the fake connectors handed out by ``connectTCP`` and ``connectUNIX``.
        whenRunningHooks: ``(callable, args, kw)`` given to ``callWhenRunning``.
        triggers: ``{phase: {eventType: [(callable, args, kw), ...]}}``.
        running, hasRun, hasStopped, hasCrashed, hasInstalled: the life so far.
    """

    def __init__(self) -> None:
        self.hasInstalled = False
        self.running = False
        self.hasRun = False
        self.hasStopped = False
        self.hasCrashed = False
        self.whenRunningHooks: list[_Call] = []
        self.triggers: dict[str, dict[str, list[_Call]]] = {}
        self.tcpServers: list[tuple[int, Any, int, str]] = []
        self.tcpClients: list[tuple[str, int, Any, float, Any]] = []
        self.connectors: list[_FakeConnector] = []
        self.firedEvents: list[str] = []
        # One tuple of the call's arguments per call, as for TCP (filled by the methods
        # of the transports' sections below).
        self.sslServers: list[tuple[Any, ...]] = []
        self.sslClients: list[tuple[Any, ...]] = []
        self.udpServers: list[tuple[Any, ...]] = []
        self.unixServers: list[tuple[Any, ...]] = []
        self.unixClients: list[tuple[Any, ...]] = []
        self.spawnedProcesses: list[tuple[Any, ...]] = []

    def install(self) -> None:
        """Record that the reactor was installed."""
        self.hasInstalled = True

    def resolve(self, name: str, timeout: object = (1, 3, 11, 45)) -> Any:
        """Not supported: a MemoryReactor does no name resolution.

        Raises:
            NotImplementedError: always.
        """
        raise NotImplementedError("MemoryReactor does not resolve names")

    def run(self) -> None:
        """Mark the reactor running and call the ``callWhenRunning`` hooks; returns at once.

        Raises:
            RuntimeError: it is running already.
        """
        if self.running:
            raise RuntimeError("MemoryReactor.run() called while it is running already")
        self.running = True
        self.hasRun = True
        hooks, self.whenRunningHooks = self.whenRunningHooks, []
        for f, args, kw in hooks:
            f(*args, **kw)

    def stop(self) -> None:
        """Mark the reactor stopped."""
        self.running = False
        self.hasStopped = True

    def crash(self) -> None:
        """Mark the reactor crashed (and stopped)."""
        self.hasCrashed = True
        self.stop()

    def iterate(self, delay: float = 0) -> None:
        """Do nothing: there is no I/O to process."""

    def fireSystemEvent(self, eventType: str) -> None:
        """Record the event's name; triggers are not run."""
        self.firedEvents.append(eventType)

    def addSystemEventTrigger(
        self, phase: str, eventType: str, callable: Any, *args: Any, **kw: Any
    ) -> Any:
        """Record a trigger and return a handle for ``removeSystemEventTrigger``.

        Raises:
            KeyError: ``phase`` is not 'before', 'during' or 'after'.
        """
        if phase not in ("before", "during", "after"):
            raise KeyError(f"unknown system event phase {phase!r}; use before, during or after")
        entry: _Call = (callable, args, kw)
        self.triggers.setdefault(phase, {}).setdefault(eventType, []).append(entry)
        return (phase, eventType, entry)

    def removeSystemEventTrigger(self, triggerID: Any) -> None:
        """Forget a trigger added by ``addSystemEventTrigger``.

        Raises:
            ValueError: ``triggerID`` is not a handle of a trigger still recorded.
        """
        try:
            phase, eventType, entry = triggerID
            self.triggers[phase][eventType].remove(entry)
        except (TypeError, ValueError, KeyError):
            raise ValueError(f"no such system event trigger: {triggerID!r}") from None

    def callWhenRunning(self, callable: Any, *args: Any, **kw: Any) -> Any:
        """Record ``callable`` to be called by ``run`` (at once if running)."""
        if self.running:
            callable(*args, **kw)
            return None
        self.whenRunningHooks.append((callable, args, kw))
        return None

    def listenTCP(self, port: int, factory: Any, backlog: int = 50, interface: str = "") -> Any:
        """Record the call and return a fake listening port for the address."""
        self.tcpServers.append((port, factory, backlog, interface))
        return _FakePort(IPv4Address("TCP", interface or "0.0.0.0", port))

    def connectTCP(
        self,
        host: str,
        port: int,
        factory: Any,
        timeout: float = 30,
        bindAddress: Any = None,
    ) -> Any:
        """Record the call, tell the factory it started connecting, return a connector."""
        self.tcpClients.append((host, port, factory, timeout, bindAddress))
        connector = _FakeConnector(IPv4Address("TCP", host, port))
        startedConnecting = getattr(factory, "startedConnecting", None)
        if startedConnecting is not None:
            startedConnecting(connector)
        self.connectors.append(connector)
        return connector

    # -- TLS (torsion.internet.ssl, torsion.protocols.tls) -----------------------------

    def listenSSL(
        self,
        port: int,
        factory: Any,
        contextFactory: Any,
        backlog: int = 50,
        interface: str = "",
    ) -> Any:
        """Record ``(port, factory, contextFactory, backlog, interface)`` in sslServers;
        return a fake listening port for the address."""
        self.sslServers.append((port, factory, contextFactory, backlog, interface))
        return _FakePort(IPv4Address("TCP", interface or "0.0.0.0", port))

    def connectSSL(
        self,
        host: str,
        port: int,
        factory: Any,
        contextFactory: Any,
        timeout: float = 30,
        bindAddress: Any = None,
    ) -> Any:
        """Record ``(host, port, factory, contextFactory, timeout, bindAddress)`` in
        sslClients, tell the factory it started connecting, return a connector."""
        self.sslClients.append((host, port, factory, contextFactory, timeout, bindAddress))
        connector = _FakeConnector(IPv4Address("TCP", host, port))
        startedConnecting = getattr(factory, "startedConnecting", None)
        if startedConnecting is not None:
            startedConnecting(connector)
        self.connectors.append(connector)
        return connector

    # -- UDP and multicast (torsion.internet.udp) --------------------------------------

    def listenUDP(
        self, port: int, protocol: Any, interface: str = "", maxPacketSize: int = 8192
    ) -> Any:
        """Record ``(port, protocol, interface, maxPacketSize)`` in ``udpServers``; return
        a fake port (the protocol is not started)."""
        self.udpServers.append((port, protocol, interface, maxPacketSize))
        return _FakePort(IPv4Address("UDP", interface or "0.0.0.0", port))

    def listenMulticast(
        self,
        port: int,
        protocol: Any,
        interface: str = "",
        maxPacketSize: int = 8192,
        listenMultiple: bool = False,
    ) -> Any:
        """Record ``(port, protocol, interface, maxPacketSize, listenMultiple)`` in
        ``udpServers``; return a fake port (the protocol is not started)."""
        self.udpServers.append((port, protocol, interface, maxPacketSize, listenMultiple))
        return _FakePort(IPv4Address("UDP", interface or "0.0.0.0", port))

    # -- UNIX sockets (torsion.internet.unix) ------------------------------------------

    def listenUNIX(
        self,
        address: Any,
        factory: Any,
        backlog: int = 50,
        mode: int = 0o666,
        wantPID: bool = False,
    ) -> Any:
        """Record the call in ``unixServers``; return a fake listening port for the path."""
        self.unixServers.append((address, factory, backlog, mode, wantPID))
        return _FakePort(UNIXAddress(address))

    def connectUNIX(
        self, address: Any, factory: Any, timeout: float = 30, checkPID: bool = False
    ) -> Any:
        """Record the call in ``unixClients``, tell the factory it started connecting,
        and return a connector."""
        self.unixClients.append((address, factory, timeout, checkPID))
        connector = _FakeConnector(UNIXAddress(address))
        startedConnecting = getattr(factory, "startedConnecting", None)
        if startedConnecting is not None:
            startedConnecting(connector)
        self.connectors.append(connector)
        return connector

    def listenUNIXDatagram(
        self, address: Any, protocol: Any, maxPacketSize: int = 8192, mode: int = 0o666
    ) -> Any:
        """Record the call in ``unixServers``; return a fake port (the protocol is not
        started)."""
        self.unixServers.append((address, protocol, maxPacketSize, mode))
        return _FakePort(UNIXAddress(address))

    def connectUNIXDatagram(
        self,
        address: Any,
        protocol: Any,
        maxPacketSize: int = 8192,
        mode: int = 0o666,
        bindAddress: Any = None,
    ) -> Any:
        """Record the call in ``unixClients``; return a fake port bound to ``bindAddress``
        (the protocol is not started)."""
        self.unixClients.append((address, protocol, maxPacketSize, mode, bindAddress))
        return _FakePort(UNIXAddress(bindAddress))

    # -- processes (torsion.internet.process) ------------------------------------------

    def spawnProcess(
        self,
        processProtocol: Any,
        executable: Any,
        args: Any = (),
        env: Any = {},  # noqa: B006 (never changed)
        path: Any = None,
        uid: int | None = None,
        gid: int | None = None,
        usePTY: Any = False,
        childFDs: Any = None,
    ) -> Any:
        """Record the call in ``spawnedProcesses``; start nothing.

        The protocol is connected to a MemoryProcess (returned), through which the
        test plays the child: ``childWrites(1, data)``, ``exit(code)``, and reads what
        the protocol wrote with ``value()``.
        """
        from torsion.internet._processtesting import MemoryProcess

        self.spawnedProcesses.append(
            (processProtocol, executable, args, env, path, uid, gid, usePTY, childFDs)
        )
        return MemoryProcess(processProtocol, childFDs)


class MemoryReactorClock(MemoryReactor, Clock):
    """A MemoryReactor that also keeps time as a ``task.Clock`` (``advance`` it)."""

    def __init__(self) -> None:
        MemoryReactor.__init__(self)
        Clock.__init__(self)


class RaisingMemoryReactor(MemoryReactor):
    """A MemoryReactor whose ``listenTCP`` and ``connectTCP`` raise given exceptions."""

    def __init__(
        self,
        listenException: BaseException | None = None,
        connectException: BaseException | None = None,
    ) -> None:
        super().__init__()
        self._listenException = listenException
        self._connectException = connectException

    def listenTCP(self, port: int, factory: Any, backlog: int = 50, interface: str = "") -> Any:
        """Raise the listen exception, if one was given; else behave as MemoryReactor."""
        if self._listenException is not None:
            raise self._listenException
        return super().listenTCP(port, factory, backlog, interface)

    def connectTCP(
        self,
        host: str,
        port: int,
        factory: Any,
        timeout: float = 30,
        bindAddress: Any = None,
    ) -> Any:
        """Raise the connect exception, if one was given; else behave as MemoryReactor."""
        if self._connectException is not None:
            raise self._connectException
        return super().connectTCP(host, port, factory, timeout, bindAddress)


# -- in-memory connections, and the reactor interfaces of the other transports ---------------

from torsion.internet.interfaces import (  # noqa: E402
    IReactorMulticast,
    IReactorProcess,
    IReactorUDP,
)
from torsion.protocols.loopback import IOPump, connectedServerAndClient  # noqa: E402

classImplements(MemoryReactor, IReactorUDP, IReactorMulticast, IReactorProcess)

__all__ += ["IOPump", "connectedServerAndClient"]
