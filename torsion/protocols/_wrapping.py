"""ProtocolWrapper and WrappingFactory: the base of every policy in torsion.protocols.policies.

A wrapper is the protocol to the transport and the transport to the protocol it wraps.
It provides the interfaces of both sides and binds the per-chunk calls it does not
change straight through, so that wrapping costs nothing per byte; policies.py has the
policies built on it, and torsion.protocols.haproxy its PROXY-header reader.
Public through torsion.protocols.policies; tests: tests/protocols/test_policies.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from zope.interface import Interface, implementer, providedBy
from zope.interface.declarations import directlyProvides

from torsion.internet import interfaces
from torsion.internet.interfaces import (
    IFileDescriptorReceiver,
    IHalfCloseableProtocol,
    ILoggingContext,
    IProtocol,
)
from torsion.internet.protocol import ClientFactory, Protocol

__all__ = ["ProtocolWrapper", "WrappingFactory"]

# What a transport asks of its protocol beyond IProtocol: a wrapper provides these
# exactly when the protocol it wraps does, and hands the calls on.
_PROTOCOL_SIDE: tuple[type[Interface], ...] = tuple(
    i
    for i in (
        IHalfCloseableProtocol,
        IFileDescriptorReceiver,
        getattr(interfaces, "IHandshakeListener", None),
    )
    if i is not None
)


def _protocolSideOf(protocol: Any) -> list[type[Interface]]:
    return [i for i in _PROTOCOL_SIDE if i.providedBy(protocol)]


def _logPrefixOf(thing: Any) -> str:
    if ILoggingContext.providedBy(thing):
        return str(thing.logPrefix())
    return type(thing).__name__


def _callLater(owner: Any, period: float, func: Callable[[], object]) -> Any:
    """Schedule ``func`` on ``owner.clock``, or on the global reactor if it has none."""
    clock: Any = getattr(owner, "clock", None)
    if clock is None:
        from torsion.internet import reactor

        clock = reactor
    return clock.callLater(period, func)


def _cancel(call: Any) -> None:
    if call is not None and call.active():
        call.cancel()


@implementer(IProtocol, ILoggingContext)
class ProtocolWrapper(Protocol):
    """The protocol to the transport, and the transport to ``wrappedProtocol``.

    Subclasses override what their policy needs (``dataReceived`` to see what comes
    in, ``write`` to see what goes out, ...). What they do not override goes straight
    through: the wrapped protocol's ``dataReceived`` and the transport's ``write`` are
    bound directly when the connection is made, and any other transport attribute
    (``abortConnection``, ``getTcpNoDelay``, ``pauseProducing``...) is looked up on
    the transport.

    Args:
        factory: the WrappingFactory, told of the connection (``registerProtocol``)
            and of its end (``unregisterProtocol``).
        wrappedProtocol: the protocol that does the work.
    """

    def __init__(self, factory: Any, wrappedProtocol: Any) -> None:
        self.wrappedProtocol = wrappedProtocol
        self.factory = factory
        sides = _protocolSideOf(wrappedProtocol)
        if sides:
            directlyProvides(self, *sides)

    def __getattr__(self, name: str) -> Any:
        # Only reached for what the wrapper lacks: the transport's other methods.
        return getattr(self.transport, name)

    def logPrefix(self) -> str:
        """Return the wrapped protocol's prefix, with the wrapper's class name."""
        return f"{_logPrefixOf(self.wrappedProtocol)} ({type(self).__name__})"

    def _attach(self, transport: Any) -> None:
        """Take ``transport``: provide its interfaces and bind the pass-through calls."""
        directlyProvides(self, providedBy(transport), *_protocolSideOf(self.wrappedProtocol))
        Protocol.makeConnection(self, transport)
        cls = type(self)
        if cls.dataReceived is ProtocolWrapper.dataReceived:
            self.dataReceived = self.wrappedProtocol.dataReceived  # type: ignore[method-assign]
        if cls.write is ProtocolWrapper.write:
            self.write = transport.write  # type: ignore[method-assign]
        if cls.writeSequence is ProtocolWrapper.writeSequence:
            self.writeSequence = transport.writeSequence  # type: ignore[method-assign]

    def makeConnection(self, transport: Any) -> None:
        """Connect: register with the factory, then connect the wrapped protocol to us."""
        self._attach(transport)
        self.factory.registerProtocol(self)
        self.wrappedProtocol.makeConnection(self)

    # -- the transport's calls, passed to the wrapped protocol ------------------------

    def dataReceived(self, data: bytes) -> None:
        """Pass ``data`` to the wrapped protocol."""
        self.wrappedProtocol.dataReceived(data)

    def connectionLost(self, reason: object = None) -> None:
        """Unregister from the factory, then tell the wrapped protocol."""
        self.connected = False
        self.factory.unregisterProtocol(self)
        self.wrappedProtocol.connectionLost(reason)

    def readConnectionLost(self) -> None:
        """The peer half-closed (IHalfCloseableProtocol, when the wrapped one is)."""
        self.wrappedProtocol.readConnectionLost()

    def writeConnectionLost(self) -> None:
        """Our half-close completed (IHalfCloseableProtocol, when the wrapped one is)."""
        self.wrappedProtocol.writeConnectionLost()

    def fileDescriptorReceived(self, descriptor: int) -> None:
        """A descriptor came over a UNIX socket (IFileDescriptorReceiver)."""
        self.wrappedProtocol.fileDescriptorReceived(descriptor)

    def handshakeCompleted(self) -> None:
        """The TLS handshake finished (IHandshakeListener)."""
        self.wrappedProtocol.handshakeCompleted()

    # -- the wrapped protocol's calls, passed to the transport -------------------------

    def write(self, data: bytes) -> None:
        """Send ``data`` on the transport."""
        self.transport.write(data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        """Send each bytes of ``data`` on the transport."""
        self.transport.writeSequence(data)

    def loseConnection(self) -> None:
        """Close the transport once what was written has been sent."""
        self.transport.loseConnection()

    def getPeer(self) -> Any:
        """Return the transport's peer address."""
        return self.transport.getPeer()

    def getHost(self) -> Any:
        """Return the transport's own address."""
        return self.transport.getHost()

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """Register ``producer`` with the transport."""
        self.transport.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        """Unregister the transport's producer."""
        self.transport.unregisterProducer()

    def stopConsuming(self) -> None:
        """Unregister the producer and close (Twisted's IConsumer extra)."""
        self.transport.unregisterProducer()
        self.transport.loseConnection()


class WrappingFactory(ClientFactory):
    """A factory whose protocols are ``protocol(self, wrappedFactory.buildProtocol(addr))``.

    It starts and stops with the wrapped factory and passes a client factory's
    connection news on. ``protocols`` holds the live wrappers (a dict, as in
    Twisted: protocol to 1).
    """

    protocol: Any = ProtocolWrapper
    # The wrapped factory says "Starting factory" itself.
    noisy = False

    def __init__(self, wrappedFactory: Any) -> None:
        self.wrappedFactory = wrappedFactory
        self.protocols: dict[Any, int] = {}

    def logPrefix(self) -> str:
        """Return the wrapped factory's prefix, with this factory's class name."""
        return f"{_logPrefixOf(self.wrappedFactory)} ({type(self).__name__})"

    def doStart(self) -> None:
        """Start the wrapped factory, then this one."""
        self.wrappedFactory.doStart()
        ClientFactory.doStart(self)

    def doStop(self) -> None:
        """Stop the wrapped factory, then this one."""
        self.wrappedFactory.doStop()
        ClientFactory.doStop(self)

    def startedConnecting(self, connector: Any) -> None:
        """Pass the news on to a wrapped client factory."""
        notify = getattr(self.wrappedFactory, "startedConnecting", None)
        if notify is not None:
            notify(connector)

    def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
        """Pass the news on to a wrapped client factory."""
        notify = getattr(self.wrappedFactory, "clientConnectionFailed", None)
        if notify is not None:
            notify(connector, reason)

    def clientConnectionLost(self, connector: Any, reason: Any) -> None:
        """Pass the news on to a wrapped client factory."""
        notify = getattr(self.wrappedFactory, "clientConnectionLost", None)
        if notify is not None:
            notify(connector, reason)

    def buildProtocol(self, addr: Any) -> Any:
        """Wrap the wrapped factory's protocol (None if it refuses the connection)."""
        wrapped = self.wrappedFactory.buildProtocol(addr)
        if wrapped is None:
            return None
        return self.protocol(self, wrapped)

    def registerProtocol(self, p: Any) -> None:
        """A wrapper's connection was made."""
        self.protocols[p] = 1

    def unregisterProtocol(self, p: Any) -> None:
        """A wrapper's connection was lost."""
        self.protocols.pop(p, None)
