"""Ready services: servers, clients and timers that start and stop with their application.

Each server service listens when started and stops listening when stopped; it calls
the reactor method of its name with the arguments it was made with:
``TCPServer(7, factory)`` calls ``reactor.listenTCP(7, factory)``, ``UNIXServer``
calls ``listenUNIX``, and so on. The listening happens in ``privilegedStartService``,
so that a server started as root binds its low port before torsiond drops to the
application's uid/gid. Each client service calls ``reactor.connectXXX`` when started
and disconnects when stopped.

Pass ``reactor=`` to use another reactor than the global one (tests pass a
MemoryReactor). The live port or connector is not pickled with the service: a
service saved in a .tap while running is, once loaded, a stopped service that listens
(or connects) again when started. The reactor it was given is pickled as it is; the
installed global reactor pickles as a reference to the global reactor of the process
that loads it.

``TimerService`` calls a function every ``step`` seconds; ``StreamServerEndpointService``
listens on any IStreamServerEndpoint (what ``strports.service`` makes);
``ClientService`` keeps a connection up through an IStreamClientEndpoint, reconnecting
with back-off (torsion.application._clientservice).
Tests: tests/application/test_internet.py, test_timerservice.py, test_clientservice.py.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torsion.application._clientservice import ClientService, backoffPolicy
from torsion.application.service import Service
from torsion.internet import task
from torsion.internet.defer import CancelledError, Deferred, succeed
from torsion.python import log
from torsion.python.failure import Failure

__all__ = [
    "ClientService",
    "MulticastServer",
    "SSLClient",
    "SSLServer",
    "StreamServerEndpointService",
    "TCPClient",
    "TCPServer",
    "TimerService",
    "UDPServer",
    "UNIXClient",
    "UNIXDatagramClient",
    "UNIXDatagramServer",
    "UNIXServer",
    "backoffPolicy",
]


def _maybeGlobalReactor(maybeReactor: Any) -> Any:
    """Return ``maybeReactor``, or the global reactor (installing it) if that is None."""
    if maybeReactor is None:
        from torsion.internet import reactor

        return reactor
    return maybeReactor


def _reactorMethod(reactor: Any, name: str, service: Service) -> Any:
    method = getattr(reactor, name, None)
    if method is None:
        raise NotImplementedError(
            f"{type(service).__name__} needs reactor.{name}, and {type(reactor).__name__} "
            f"has no {name}; use a reactor that supports it"
        )
    return method


class _AbstractServer(Service):
    """A service that listens with ``reactor.listen<method>(*args, **kwargs)`` while running.

    Attributes:
        args, kwargs: the arguments for the reactor's listen method.
        reactor: the reactor to listen with; None for the global one.
    """

    volatile = ("_port",)
    method: ClassVar[str] = ""
    reactor: Any = None
    _port: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        if "reactor" in kwargs:
            self.reactor = kwargs.pop("reactor")
        self.kwargs = kwargs

    def privilegedStartService(self) -> None:
        """Listen now, while the process may still have its privileges."""
        Service.privilegedStartService(self)
        self._port = self._getPort()

    def startService(self) -> None:
        """Mark the service running, listening first if privilegedStartService did not."""
        Service.startService(self)
        if self._port is None:
            self._port = self._getPort()

    def stopService(self) -> Any:
        """Stop listening; return the port's ``stopListening()`` result (a Deferred)."""
        Service.stopService(self)
        port, self._port = self._port, None
        if port is None:
            return None
        return port.stopListening()

    def _getPort(self) -> Any:
        reactor = _maybeGlobalReactor(self.reactor)
        return _reactorMethod(reactor, "listen" + self.method, self)(*self.args, **self.kwargs)


class _AbstractClient(Service):
    """A service that connects with ``reactor.connect<method>(*args, **kwargs)`` while running.

    Attributes:
        args, kwargs: the arguments for the reactor's connect method.
        reactor: the reactor to connect with; None for the global one.
    """

    volatile = ("_connection",)
    method: ClassVar[str] = ""
    reactor: Any = None
    _connection: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        if "reactor" in kwargs:
            self.reactor = kwargs.pop("reactor")
        self.kwargs = kwargs

    def startService(self) -> None:
        """Start connecting."""
        Service.startService(self)
        reactor = _maybeGlobalReactor(self.reactor)
        self._connection = _reactorMethod(reactor, "connect" + self.method, self)(
            *self.args, **self.kwargs
        )

    def stopService(self) -> Any:
        """Disconnect (or stop connecting)."""
        Service.stopService(self)
        connection, self._connection = self._connection, None
        if connection is None:
            return None
        # Connectors disconnect; a connected datagram port (connectUNIXDatagram) stops.
        close = getattr(connection, "disconnect", None) or connection.stopListening
        return close()


class TCPServer(_AbstractServer):
    """Listen for TCP: ``TCPServer(port, factory, backlog=50, interface='')`` (listenTCP)."""

    method = "TCP"


class TCPClient(_AbstractClient):
    """Connect over TCP: ``TCPClient(host, port, factory, timeout=30, bindAddress=None)``."""

    method = "TCP"


class SSLServer(_AbstractServer):
    """Listen for TLS: ``SSLServer(port, factory, contextFactory, backlog=50, interface='')``."""

    method = "SSL"


class SSLClient(_AbstractClient):
    """Connect with TLS: ``SSLClient(host, port, factory, contextFactory, timeout=30, ...)``."""

    method = "SSL"


class UNIXServer(_AbstractServer):
    """Listen on a UNIX socket: ``UNIXServer(address, factory, backlog=50, mode=0o666, ...)``."""

    method = "UNIX"


class UNIXClient(_AbstractClient):
    """Connect to a UNIX socket: ``UNIXClient(address, factory, timeout=30, checkPID=False)``."""

    method = "UNIX"


class UDPServer(_AbstractServer):
    """Bind a UDP port: ``UDPServer(port, protocol, interface='', maxPacketSize=8192)``."""

    method = "UDP"


class UNIXDatagramServer(_AbstractServer):
    """Bind a UNIX datagram socket: ``UNIXDatagramServer(address, protocol, ...)``."""

    method = "UNIXDatagram"


class UNIXDatagramClient(_AbstractClient):
    """Connect a UNIX datagram socket: ``UNIXDatagramClient(address, protocol, ...)``."""

    method = "UNIXDatagram"


class MulticastServer(_AbstractServer):
    """Bind a multicast UDP port: ``MulticastServer(port, protocol, interface='', ...)``."""

    method = "Multicast"


class TimerService(Service):
    """Call ``callable(*args, **kwargs)`` every ``step`` seconds while running.

    The first call is made when the service starts; the calls are made by a
    ``task.LoopingCall``, so a call that returns a Deferred (or is a coroutine) is
    waited for before the next one. If a call raises or its Deferred fails, the
    failure is logged and the calls stop for good, as in Twisted: the service still
    counts as running until it is stopped, and a stop and a new start resume the
    calls. ``stopService`` returns a Deferred that fires once a call in progress has
    finished.

    The LoopingCall is not pickled: a service saved while running starts calling
    again (at once) when the loaded service is started. ``callable`` and its
    arguments are pickled, so they must be picklable (module-level functions, or
    methods of picklable objects).

    Attributes:
        step: the seconds between calls.
        call: ``(callable, args, kwargs)``.
        clock: the IReactorTime to schedule with; None for the global reactor.
    """

    volatile = ("_loop", "_loopFinished")
    _loop: task.LoopingCall | None = None
    _loopFinished: Deferred[Any] | None = None

    def __init__(self, step: float, callable: Any, *args: Any, **kwargs: Any) -> None:
        self.step = step
        self.call = (callable, args, kwargs)
        self.clock: Any = None

    def startService(self) -> None:
        """Start the calls (the first one now)."""
        Service.startService(self)
        callable, args, kwargs = self.call
        loop = task.LoopingCall(callable, *args, **kwargs)
        loop.clock = _maybeGlobalReactor(self.clock)
        self._loop = loop
        self._loopFinished = loop.start(self.step, now=True)
        self._loopFinished.addErrback(self._failed)

    def _failed(self, why: Failure) -> None:
        log.err(why, f"{self!r}: the timed call {self.call[0]!r} failed; no more calls")

    def stopService(self) -> Deferred[Any] | None:
        """Stop the calls; the Deferred fires once the call in progress (if any) is done."""
        loop, finished = self._loop, self._loopFinished
        self._loop = self._loopFinished = None
        if loop is None or finished is None:
            Service.stopService(self)
            return None
        if loop.running:
            loop.stop()
        stopped: Deferred[Any] = Deferred()

        def done(ignored: object) -> None:
            Service.stopService(self)
            stopped.callback(None)

        finished.addCallback(done)
        return stopped


class StreamServerEndpointService(Service):
    """Listen on ``endpoint`` (an IStreamServerEndpoint) with ``factory`` while running.

    Listening starts in ``privilegedStartService``. If listening fails, the error is
    logged, unless ``_raiseSynchronously`` is set (``strports.service`` sets it) and
    the endpoint failed at once: then privilegedStartService raises it, so that a
    server that cannot bind its port fails at start-up. Stopping waits for the port
    to close; stopping before the port is listening abandons the attempt.

    Attributes:
        endpoint: the endpoint to listen on.
        factory: the protocol factory for the connections.
    """

    volatile = ("_waitingForPort",)
    _raiseSynchronously = False
    _waitingForPort: Deferred[Any] | None = None

    def __init__(self, endpoint: Any, factory: Any) -> None:
        self.endpoint = endpoint
        self.factory = factory

    def privilegedStartService(self) -> None:
        """Start listening (see the class's description of errors)."""
        Service.privilegedStartService(self)
        waiting: Deferred[Any] = self.endpoint.listen(self.factory)
        self._waitingForPort = waiting
        raisedNow: list[Failure] = []

        def listenFailed(reason: Failure) -> None:
            if self._raiseSynchronously:
                raisedNow.append(reason)
            elif not reason.check(CancelledError):
                log.err(reason, f"{self!r} could not listen on {self.endpoint!r}")

        waiting.addErrback(listenFailed)
        # Only a failure that arrived during listen() is raised; later ones are logged.
        self._raiseSynchronously = False
        if raisedNow:
            self._waitingForPort = None
            raisedNow[0].raiseException()

    def startService(self) -> None:
        """Mark the service running, listening first if privilegedStartService did not."""
        Service.startService(self)
        if self._waitingForPort is None:
            self.privilegedStartService()

    def stopService(self) -> Deferred[Any]:
        """Stop listening; the Deferred fires once the port is closed."""
        waiting, self._waitingForPort = self._waitingForPort, None
        if waiting is None:
            Service.stopService(self)
            return succeed(None)
        waiting.cancel()

        def stopListening(port: Any) -> Any:
            if port is not None:
                return port.stopListening()
            return None

        def stopped(result: Any) -> Any:
            self.running = False
            return result

        done: Deferred[Any] = Deferred()
        waiting.addCallback(stopListening).addBoth(stopped).chainDeferred(done)
        return done
