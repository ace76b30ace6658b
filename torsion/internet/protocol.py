"""Protocols and the factories that build them (Twisted's ``internet.protocol``).

A Protocol handles one connection: ``connectionMade``, ``dataReceived``,
``connectionLost``. A Factory builds a Protocol per connection and holds what the
connections share; ``doStart``/``doStop`` run ``startFactory``/``stopFactory`` once
however many ports use the factory (the seed's two-phase initialisation). Client
factories hear how connection attempts go; ReconnectingClientFactory retries with
exponential back-off and jitter.
Tests: tests/internet/test_protocol.py.
"""

from __future__ import annotations

import random
from typing import Any, TypeVar

from zope.interface import implementer

from torsion.internet import error
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import ILoggingContext, IProtocol, IProtocolFactory
from torsion.python import log
from torsion.python.failure import Failure

__all__ = [
    "BaseProtocol",
    "ClientCreator",
    "ClientFactory",
    "Factory",
    "Protocol",
    "ReconnectingClientFactory",
    "ServerFactory",
    "connectionDone",
]

_F = TypeVar("_F", bound="Factory")

connectionDone = Failure(error.ConnectionDone())
connectionDone.cleanFailure()


class BaseProtocol:
    """What every kind of protocol shares: a transport and the connectionMade hook.

    Protocol (streams) builds on it; process and datagram protocols will too.
    ``transport`` is set by ``makeConnection``; ``connected`` is true from then on
    until the connection is lost.
    """

    transport: Any = None
    connected = False

    def makeConnection(self, transport: Any) -> None:
        """Attach ``transport`` and call ``connectionMade`` (transports call this)."""
        self.connected = True
        self.transport = transport
        self.connectionMade()

    def connectionMade(self) -> None:
        """The connection is up; override to greet the peer or set up state."""


@implementer(IProtocol, ILoggingContext)
class Protocol(BaseProtocol):
    """The base of every stream protocol: override the callbacks you need.

    ``transport`` is set by ``makeConnection``; ``factory`` by the factory that built
    it. ``connected`` is true between connectionMade and connectionLost.
    """

    factory: Any = None

    def logPrefix(self) -> str:
        """Return the name used in log lines about this protocol (its class name)."""
        return type(self).__name__

    def dataReceived(self, data: bytes) -> None:
        """Some bytes arrived (in chunks of any size); override to handle them."""

    def connectionLost(self, reason: object = connectionDone) -> None:
        """The connection is closed: ``reason`` wraps ConnectionDone when it was clean."""
        self.connected = False


@implementer(IProtocolFactory, ILoggingContext)
class Factory:
    """Builds protocols of class ``protocol`` and sets their ``factory``.

    ``noisy`` controls the "Starting factory"/"Stopping factory" log lines.
    """

    protocol: Any = None
    noisy = True
    numPorts = 0

    @classmethod
    def forProtocol(cls: type[_F], protocol: Any, *args: Any, **kwargs: Any) -> _F:
        """Return a factory (made with ``args``/``kwargs``) building ``protocol``."""
        factory = cls(*args, **kwargs)
        factory.protocol = protocol
        return factory

    def logPrefix(self) -> str:
        """Return the name used in log lines about this factory (its class name)."""
        return type(self).__name__

    def doStart(self) -> None:
        """Called by each port or connector that starts using the factory."""
        if not self.numPorts:
            if self.noisy:
                log.msg(f"Starting factory {self!r}")
            self.startFactory()
        self.numPorts += 1

    def doStop(self) -> None:
        """Called by each port or connector that stops using the factory."""
        if self.numPorts == 0:
            return
        self.numPorts -= 1
        if not self.numPorts:
            if self.noisy:
                log.msg(f"Stopping factory {self!r}")
            self.stopFactory()

    def startFactory(self) -> None:
        """Set up shared state (open files, databases) before the first connection."""

    def stopFactory(self) -> None:
        """Release what ``startFactory`` set up, after the last port closes."""

    def buildProtocol(self, addr: Any) -> Any:
        """Return a new ``self.protocol()`` for a connection from ``addr`` (None refuses)."""
        instance = self.protocol()
        instance.factory = self
        return instance


class ServerFactory(Factory):
    """A factory for servers (listenTCP)."""


class ClientFactory(Factory):
    """A factory for clients (connectTCP): told how each attempt goes."""

    def startedConnecting(self, connector: Any) -> None:
        """A connection attempt began."""

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        """The attempt failed (refused, timed out, name not found...)."""

    def clientConnectionLost(self, connector: Any, reason: Failure) -> None:
        """An established connection closed."""


class ReconnectingClientFactory(ClientFactory):
    """A client factory that reconnects after failures and losses, backing off.

    Each retry waits ``factor`` times longer than the last (with ``jitter``), never
    more than ``maxDelay`` seconds; ``maxRetries`` (None: forever) bounds the tries.
    Call ``resetDelay`` once a connection works (from the protocol's connectionMade),
    and ``stopTrying`` to stop.
    """

    maxDelay = 3600.0
    initialDelay = 1.0
    factor = 2.7182818284590451
    jitter = 0.11962656472
    delay = initialDelay
    retries = 0
    maxRetries: int | None = None
    _callID: Any = None
    connector: Any = None
    clock: Any = None
    continueTrying = True

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        """Retry after the back-off delay."""
        if self.continueTrying:
            self.connector = connector
            self.retry()

    def clientConnectionLost(self, connector: Any, unused_reason: Failure) -> None:
        """Retry after the back-off delay."""
        if self.continueTrying:
            self.connector = connector
            self.retry()

    def retry(self, connector: Any = None) -> None:
        """Schedule the next attempt, unless retries are used up."""
        if not self.continueTrying:
            return
        if connector is None:
            connector = self.connector
            if connector is None:
                raise ValueError("no connector to retry with")
        self.retries += 1
        if self.maxRetries is not None and self.retries > self.maxRetries:
            if self.noisy:
                log.msg(f"Abandoning {connector!r} after {self.retries - 1} retries.")
            return
        self.delay = min(self.delay * self.factor, self.maxDelay)
        if self.jitter:
            self.delay = random.normalvariate(self.delay, self.delay * self.jitter)
            self.delay = max(0.0, min(self.delay, self.maxDelay))
        if self.noisy:
            log.msg(f"{connector!r} will retry in {round(self.delay)} seconds")

        def reconnector() -> None:
            self._callID = None
            connector.connect()

        clock = self.clock
        if clock is None:
            from torsion.internet import reactor as clock
        self._callID = clock.callLater(self.delay, reconnector)

    def stopTrying(self) -> None:
        """Stop retrying (and stop an attempt in progress)."""
        if self._callID is not None:
            self._callID.cancel()
            self._callID = None
        self.continueTrying = False
        if self.connector is not None:
            try:
                self.connector.stopConnecting()
            except error.NotConnectingError:
                pass

    def resetDelay(self) -> None:
        """Start the back-off afresh (call it when a connection succeeded)."""
        self.delay = self.initialDelay
        self.retries = 0
        self._callID = None
        self.continueTrying = True

    def __getstate__(self) -> dict[str, Any]:
        """Persist the configuration, not the live state of the retries.

        The connector, the pending retry and the clock belong to the running process
        (they hold the reactor), so a persisted application that is loaded again
        starts its back-off afresh.
        """
        state = self.__dict__.copy()
        for transient in ("connector", "_callID", "clock", "retries", "delay", "continueTrying"):
            state.pop(transient, None)
        return state


class _InstanceFactory(ClientFactory):
    """ClientCreator's one-shot factory: fires a Deferred with the connected protocol."""

    noisy = False

    def __init__(self, reactor: Any, instance: Any, deferred: Deferred[Any]) -> None:
        self.reactor = reactor
        self.instance = instance
        self.deferred = deferred
        self.pending: Any = None

    def buildProtocol(self, addr: Any) -> Any:
        # The transport connects the protocol just after this returns: fire on the next
        # pass, so that whoever waits gets a protocol that has its transport.
        self.pending = self.reactor.callLater(0, self._fire)
        return self.instance

    def _fire(self) -> None:
        self.pending = None
        if not self.deferred.called:
            self.deferred.callback(self.instance)

    def cancel(self, connector: Any) -> None:
        """The Deferred was cancelled: give up the attempt, or drop the connection."""
        connector.disconnect()
        if self.pending is not None and self.pending.active():
            self.pending.cancel()
        self.pending = None

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        if not self.deferred.called:
            self.deferred.errback(reason)


class ClientCreator:
    """Connect with a protocol instance built from ``protocolClass(*args, **kwargs)``.

    ``connectTCP`` (and ``connectUNIX``) return a Deferred firing with the connected
    protocol, once its connectionMade has run.
    """

    def __init__(self, reactor: Any, protocolClass: Any, *args: Any, **kwargs: Any) -> None:
        self.reactor = reactor
        self.protocolClass = protocolClass
        self.args = args
        self.kwargs = kwargs

    def _instanceFactory(self, result: Deferred[Any]) -> _InstanceFactory:
        instance = self.protocolClass(*self.args, **self.kwargs)
        return _InstanceFactory(self.reactor, instance, result)

    def connectTCP(
        self,
        host: str,
        port: int,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> Deferred[Any]:
        """Connect to ``host``:``port``; the Deferred fires with the protocol."""
        result: Deferred[Any] = Deferred(lambda d: factory.cancel(connector))
        factory = self._instanceFactory(result)
        connector = self.reactor.connectTCP(host, port, factory, timeout, bindAddress)
        return result

    def connectUNIX(
        self, address: Any, timeout: float = 30, checkPID: bool = False
    ) -> Deferred[Any]:
        """Connect to the UNIX socket ``address``; the Deferred fires with the protocol."""
        result: Deferred[Any] = Deferred(lambda d: factory.cancel(connector))
        factory = self._instanceFactory(result)
        connector = self.reactor.connectUNIX(address, factory, timeout, checkPID)
        return result


# -- UDP and multicast (torsion.internet.udp) ------------------------------------------


@implementer(ILoggingContext)
class AbstractDatagramProtocol:
    """The base of protocols for datagram transports (UDP ports, multicast ports).

    A datagram protocol is given to ``listenUDP`` itself, not built by a factory: one
    instance serves the whole port. ``startProtocol`` runs when it is first attached
    to a port and ``stopProtocol`` when the last such port closes (``numPorts``
    counts them), so do set-up there rather than in ``__init__``.
    ``noisy`` controls the "Starting protocol"/"Stopping protocol" log lines, and
    ``logPortEvents`` the port's own "starting on N"/"(UDP Port N Closed)" (off for a
    client that opens a port per request).
    """

    transport: Any = None
    numPorts = 0
    noisy = True
    logPortEvents = True

    def __getstate__(self) -> dict[str, Any]:
        """Persist the protocol without its transport (which holds a live socket)."""
        state = self.__dict__.copy()
        state["transport"] = None
        return state

    def logPrefix(self) -> str:
        """Return the name used in log lines about this protocol (its class name)."""
        return type(self).__name__

    def doStart(self) -> None:
        """Called by each port that starts using the protocol."""
        if not self.numPorts:
            if self.noisy:
                log.msg(f"Starting protocol {self!r}")
            self.startProtocol()
        self.numPorts += 1

    def doStop(self) -> None:
        """Called by each port that stops using the protocol (it forgets its transport)."""
        if self.numPorts == 0:
            return
        self.numPorts -= 1
        self.transport = None
        if not self.numPorts:
            if self.noisy:
                log.msg(f"Stopping protocol {self!r}")
            self.stopProtocol()

    def startProtocol(self) -> None:
        """The port is listening: set up state, join groups, ``connect``, send."""

    def stopProtocol(self) -> None:
        """The last port using this protocol closed: release what startProtocol set up."""

    def makeConnection(self, transport: Any) -> None:
        """Attach ``transport`` and run ``doStart`` (ports call this).

        Raises:
            RuntimeError: if the protocol is attached to another, listening port.
        """
        if self.transport is not None and self.transport is not transport:
            raise RuntimeError(
                f"{type(self).__name__} is already attached to {self.transport!r}; "
                "one datagram protocol instance serves one port at a time, so make "
                "another instance or stop that port first"
            )
        self.transport = transport
        self.doStart()

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        """A datagram arrived from ``addr`` ((host, port)); override to handle it."""


class DatagramProtocol(AbstractDatagramProtocol):
    """The protocol of a UDP port: override ``datagramReceived(datagram, addr)``.

    ``self.transport`` is the port: ``write(datagram, (host, port))`` answers, and
    ``connect(host, port)`` makes it a connected UDP port, after which ``write``
    needs no address and refusals by the peer arrive as ``connectionRefused``.
    """

    def connectionRefused(self) -> None:
        """A connected port's peer refused a datagram (nothing listens there).

        Only connected ports hear of this (see ``transport.connect``), and only as
        often as the peer's machine says so: datagrams can also vanish unreported.
        """


class ConnectedDatagramProtocol(AbstractDatagramProtocol):
    """The protocol of a connected UNIX datagram port (``connectUNIXDatagram``).

    Such a port has one peer, so ``datagramReceived(datagram)`` takes no address and
    ``transport.write(datagram)`` needs none.
    """

    def datagramReceived(self, datagram: bytes) -> None:  # type: ignore[override]
        """A datagram arrived from the peer; override to handle it."""

    def connectionFailed(self, failure: Failure) -> None:
        """The peer could not be reached at all (its socket does not exist)."""

    def connectionRefused(self) -> None:
        """The peer refused a datagram: its socket has gone away."""


__all__ += ["AbstractDatagramProtocol", "ConnectedDatagramProtocol", "DatagramProtocol"]


# -- processes (torsion.internet.process) ----------------------------------------------
from torsion.internet.interfaces import IProcessProtocol  # noqa: E402

__all__ += ["ProcessProtocol"]


@implementer(IProcessProtocol)
class ProcessProtocol(BaseProtocol):
    """The protocol of a child process started with ``reactor.spawnProcess``.

    Override what you need. Output arrives in ``outReceived`` (stdout) and
    ``errReceived`` (stderr), or for any descriptor in ``childDataReceived``; the ends
    of the pipes are announced by ``inConnectionLost``, ``outConnectionLost`` and
    ``errConnectionLost``. ``processExited`` comes as soon as the child exits (output
    may still be on its way); ``processEnded`` comes once the child has exited *and*
    every pipe is closed, so all its output has been delivered: it is the last call.
    Both get a Failure of ProcessDone (exit code 0) or ProcessTerminated.
    """

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        """The child wrote ``data`` on ``childFD``: hands stdout and stderr on."""
        if childFD == 1:
            self.outReceived(data)
        elif childFD == 2:
            self.errReceived(data)

    def outReceived(self, data: bytes) -> None:
        """The child wrote ``data`` to its standard output."""

    def errReceived(self, data: bytes) -> None:
        """The child wrote ``data`` to its standard error."""

    def childConnectionLost(self, childFD: int) -> None:
        """The pipe of ``childFD`` closed: hands stdin, stdout and stderr on."""
        if childFD == 0:
            self.inConnectionLost()
        elif childFD == 1:
            self.outConnectionLost()
        elif childFD == 2:
            self.errConnectionLost()

    def inConnectionLost(self) -> None:
        """The child's standard input is closed (by closeStdin, or by the child)."""

    def outConnectionLost(self) -> None:
        """The child's standard output is closed: no more ``outReceived``."""

    def errConnectionLost(self) -> None:
        """The child's standard error is closed: no more ``errReceived``."""

    def processExited(self, reason: Failure) -> None:
        """The child exited; ``reason.value`` is ProcessDone or ProcessTerminated."""

    def processEnded(self, reason: Failure) -> None:
        """The child exited and all its pipes are closed; the last call."""
