"""The zope.interface roles of torsion.internet: reactors, transports, protocols, producers.

Each interface names one role, with Twisted's names, so that code can ask
"is this a consumer?" instead of guessing from attributes. Implementations
declare them with ``@implementer``; tests check them with ``verifyObject``.
The reactor issue extends this module with the remaining IReactor* roles.
Tests: tests/internet/test_interfaces.py and each implementer's tests.
"""

from __future__ import annotations

from zope.interface import Attribute, Interface

# zope.interface method declarations take no ``self``; mypy-zope understands that.


class IAddress(Interface):
    """An address of an endpoint of a connection (IPv4Address, UNIXAddress, ...)."""


class IDelayedCall(Interface):
    """A call scheduled with ``IReactorTime.callLater``."""

    def getTime() -> float:
        """Return the time, in seconds on the scheduler's clock, at which the call runs."""

    def cancel() -> None:
        """Cancel the call; raise AlreadyCalled or AlreadyCancelled if it is not active."""

    def delay(secondsLater: float) -> None:
        """Move the call ``secondsLater`` seconds further into the future."""

    def reset(secondsFromNow: float) -> None:
        """Reschedule the call to run ``secondsFromNow`` seconds from now."""

    def active() -> bool:
        """Return True while the call has neither run nor been cancelled."""


class IReactorTime(Interface):
    """Time-based scheduling: the clock and timed calls."""

    def seconds() -> float:
        """Return the current time in seconds, on the clock callLater uses."""

    def callLater(delay: float, callable: object, *args: object, **kw: object) -> IDelayedCall:
        """Call ``callable(*args, **kw)`` after ``delay`` seconds; return an IDelayedCall."""

    def getDelayedCalls() -> list[IDelayedCall]:
        """Return every active IDelayedCall this scheduler holds."""


class IConsumer(Interface):
    """Something that takes data from a producer (a transport, a file writer, ...)."""

    def registerProducer(producer: object, streaming: bool) -> None:
        """Attach ``producer``; ``streaming`` is True for an IPushProducer.

        Raises RuntimeError if a producer is already registered.
        """

    def unregisterProducer() -> None:
        """Detach the producer registered with ``registerProducer``."""

    def write(data: bytes) -> None:
        """Accept ``data``: the consumer buffers it or sends it on."""


class IProducer(Interface):
    """Something that produces data for a consumer."""

    def stopProducing() -> None:
        """Stop producing for good: the consumer is going away."""


class IPushProducer(IProducer):
    """A producer that writes on its own until paused (a socket, a stream)."""

    def pauseProducing() -> None:
        """Stop writing until resumeProducing is called: the consumer's buffer is full."""

    def resumeProducing() -> None:
        """Start writing again after a pauseProducing."""


class IPullProducer(IProducer):
    """A producer that writes one chunk each time the consumer asks."""

    def resumeProducing() -> None:
        """Write one chunk to the consumer now."""


class ITransport(Interface):
    """One end of a connection: how a protocol writes and closes."""

    def write(data: bytes) -> None:
        """Queue ``data`` for sending, in order, without blocking."""

    def writeSequence(data: object) -> None:
        """Queue every bytes object of the iterable ``data``, in order."""

    def loseConnection() -> None:
        """Close the connection once every queued byte is sent."""

    def getPeer() -> IAddress:
        """Return the address of the other side."""

    def getHost() -> IAddress:
        """Return the address of this side."""


class ITCPTransport(ITransport):
    """A TCP connection: half-close, abort and socket options."""

    def loseWriteConnection() -> None:
        """Half-close: send FIN after the queued bytes, keep reading."""

    def abortConnection() -> None:
        """Close at once, dropping whatever is still queued."""

    def getTcpNoDelay() -> bool:
        """Return whether Nagle's algorithm is off."""

    def setTcpNoDelay(enabled: bool) -> None:
        """Turn Nagle's algorithm off (True) or on (False)."""

    def getTcpKeepAlive() -> bool:
        """Return whether SO_KEEPALIVE is on."""

    def setTcpKeepAlive(enabled: bool) -> None:
        """Turn SO_KEEPALIVE on or off."""


class ILoggingContext(Interface):
    """Something that gives a prefix for the log lines written on its behalf."""

    def logPrefix() -> str:
        """Return the prefix, such as the protocol's class name."""


class IProtocol(Interface):
    """The role of a protocol: it is told of connection events and of bytes received."""

    def makeConnection(transport: ITransport) -> None:
        """Attach the transport and call connectionMade."""

    def connectionMade() -> None:
        """The connection is up: the protocol may write now."""

    def dataReceived(data: bytes) -> None:
        """Bytes have arrived; they may be any slice of what the peer sent."""

    def connectionLost(reason: object) -> None:
        """The connection is gone; ``reason`` is a Failure saying why."""


class IHalfCloseableProtocol(Interface):
    """A protocol that wants to know when the peer or this side half-closes."""

    def readConnectionLost() -> None:
        """The peer will send no more bytes (it half-closed)."""

    def writeConnectionLost() -> None:
        """This side can write no more (loseWriteConnection completed)."""


class IProtocolFactory(Interface):
    """Makes a protocol for each connection."""

    def buildProtocol(addr: IAddress) -> IProtocol | None:
        """Return a new protocol for a connection with ``addr``, or None to refuse it."""

    def doStart() -> None:
        """Called before the first port or connector starts using this factory."""

    def doStop() -> None:
        """Called after the last port or connector stops using this factory."""


class IListeningPort(Interface):
    """A listening port."""

    def startListening() -> None:
        """Start listening; raise CannotListenError if the address can't be bound."""

    def stopListening() -> object:
        """Stop listening; may return a Deferred that fires once it has stopped."""

    def getHost() -> IAddress:
        """Return the address the port is bound to."""


__all__ = [
    "Attribute",
    "IAddress",
    "IConsumer",
    "IDelayedCall",
    "IHalfCloseableProtocol",
    "IListeningPort",
    "ILoggingContext",
    "IProducer",
    "IProtocol",
    "IProtocolFactory",
    "IPullProducer",
    "IPushProducer",
    "IReactorTime",
    "ITCPTransport",
    "ITransport",
]
