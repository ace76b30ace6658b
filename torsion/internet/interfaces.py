"""The zope.interface roles of torsion.internet: reactors, transports, protocols, producers.

Each interface names one role, with Twisted's names, so that code can ask
"is this a consumer?" instead of guessing from attributes. Implementations
declare them with ``@implementer``; tests check them with ``verifyObject``.
The reactor issue extends this module with the remaining IReactor* roles.
Tests: tests/internet/test_interfaces.py and each implementer's tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

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

    def callLater(
        delay: float, callable: Callable[..., Any], *args: object, **kw: object
    ) -> IDelayedCall:
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

    def writeSequence(data: Iterable[bytes]) -> None:
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


class IReactorCore(Interface):
    """The core of an event loop: running, stopping and system events."""

    running = Attribute("True while the reactor is running (after startup, before shutdown).")

    def resolve(name: str, timeout: Sequence[float] = ...) -> Any:
        """Return a Deferred firing with the IP address that host ``name`` resolves to."""

    def run() -> None:
        """Fire 'startup', then run the event loop until ``stop`` or ``crash``."""

    def stop() -> None:
        """Fire 'shutdown' and stop the loop; raise ReactorNotRunning if it is not running."""

    def crash() -> None:
        """Stop the loop at once, without firing 'shutdown' (for tests)."""

    def iterate(delay: float = 0.0) -> None:
        """Run one pass of the loop, waiting at most ``delay`` seconds for events."""

    def fireSystemEvent(eventType: str) -> None:
        """Run the before, during and after triggers of ``eventType``."""

    def addSystemEventTrigger(
        phase: str, eventType: str, callable: Callable[..., Any], *args: object, **kw: object
    ) -> object:
        """Call ``callable`` in ``phase`` of ``eventType``; return a handle for removal."""

    def removeSystemEventTrigger(triggerID: Any) -> None:
        """Remove a trigger added with ``addSystemEventTrigger``."""

    def callWhenRunning(callable: Callable[..., Any], *args: object, **kw: object) -> object | None:
        """Call ``callable`` now if running, else once the reactor starts."""


class IReactorFromThreads(Interface):
    """What other threads may ask of the reactor."""

    def callFromThread(callable: Callable[..., Any], *args: object, **kw: object) -> None:
        """Run ``callable`` in the reactor thread soon, in call order; thread-safe."""


class IReactorInThreads(Interface):
    """Running code in threads owned by the reactor."""

    def callInThread(callable: Callable[..., Any], *args: object, **kw: object) -> None:
        """Run ``callable`` in the reactor's thread pool."""


class IReactorThreads(IReactorFromThreads, IReactorInThreads):
    """The reactor's thread pool and cross-thread calls."""

    def getThreadPool() -> object:
        """Return the reactor's ThreadPool, creating it on first use."""

    def suggestThreadPoolSize(size: int) -> None:
        """Ask for at most ``size`` threads in the pool."""


class IResolverSimple(Interface):
    """Looking up the address of a host name."""

    def getHostByName(name: str, timeout: Sequence[float] = ...) -> Any:
        """Return a Deferred firing with an address for ``name`` or failing with DNSLookupError."""


class IReactorPluggableResolver(Interface):
    """A reactor whose host name resolver can be replaced."""

    def installResolver(resolver: IResolverSimple) -> IResolverSimple:
        """Use ``resolver`` from now on; return the one it replaces."""


class IReadDescriptor(ILoggingContext):
    """Something the reactor watches for readability."""

    def fileno() -> int:
        """Return the file descriptor (-1 once closed)."""

    def doRead() -> object:
        """Read what is available; return None, or an exception/Failure to disconnect."""

    def connectionLost(reason: object) -> None:
        """The descriptor was closed or failed."""


class IWriteDescriptor(ILoggingContext):
    """Something the reactor watches for writability."""

    def fileno() -> int:
        """Return the file descriptor (-1 once closed)."""

    def doWrite() -> object:
        """Write what is buffered; return None, or an exception/Failure to disconnect."""

    def connectionLost(reason: object) -> None:
        """The descriptor was closed or failed."""


class IReadWriteDescriptor(IReadDescriptor, IWriteDescriptor):
    """Something the reactor watches for both readability and writability."""


class IReactorFDSet(Interface):
    """Direct control over which descriptors the reactor watches."""

    def addReader(reader: IReadDescriptor) -> None:
        """Watch ``reader`` for readability."""

    def addWriter(writer: IWriteDescriptor) -> None:
        """Watch ``writer`` for writability."""

    def removeReader(reader: IReadDescriptor) -> None:
        """Stop watching ``reader`` for readability."""

    def removeWriter(writer: IWriteDescriptor) -> None:
        """Stop watching ``writer`` for writability."""

    def removeAll() -> list[IReadDescriptor]:
        """Stop watching everything except the reactor's own waker; return the readers."""

    def getReaders() -> list[IReadDescriptor]:
        """Return what is watched for readability."""

    def getWriters() -> list[IWriteDescriptor]:
        """Return what is watched for writability."""


class IConnector(Interface):
    """A client's connection attempt, which can be repeated (ReconnectingClientFactory)."""

    def stopConnecting() -> None:
        """Abandon the attempt in progress; raise NotConnectingError if none is."""

    def disconnect() -> None:
        """Stop connecting, or drop the connection if it was made."""

    def connect() -> None:
        """Start (again) connecting."""

    def getDestination() -> IAddress:
        """Return the address being connected to."""


class IReactorTCP(Interface):
    """TCP servers and clients."""

    def listenTCP(
        port: int, factory: IProtocolFactory, backlog: int = 50, interface: str = ""
    ) -> IListeningPort:
        """Listen on ``interface``:``port``; raise CannotListenError on failure."""

    def connectTCP(
        host: str,
        port: int,
        factory: object,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> IConnector:
        """Connect to ``host``:``port``, reporting to the ClientFactory ``factory``."""


__all__ += [
    "IConnector",
    "IReactorCore",
    "IReactorFDSet",
    "IReactorFromThreads",
    "IReactorInThreads",
    "IReactorPluggableResolver",
    "IReactorTCP",
    "IReactorThreads",
    "IReadDescriptor",
    "IReadWriteDescriptor",
    "IResolverSimple",
    "IWriteDescriptor",
]


# -- TLS (torsion.internet.ssl, torsion.protocols.tls) ---------------------------------
class ISSLTransport(ITCPTransport):
    """A connection secured with TLS."""

    def getPeerCertificate() -> Any:
        """Return the peer's certificate (a torsion.internet.ssl.Certificate), or None.

        None until the handshake is done, and when the peer sent none (a client that
        was not asked for one).
        """


class ITLSTransport(ITCPTransport):
    """A TCP connection that can start TLS in the middle (STARTTLS in SMTP, IMAP, XMPP)."""

    def startTLS(contextFactory: Any) -> None:
        """Start TLS now: what was written before goes out in clear, what follows encrypted.

        ``contextFactory`` is what ``listenSSL``/``connectSSL`` take (for a client,
        ``optionsForClientTLS(hostname)``). The protocol keeps its transport, which
        provides ISSLTransport from then on.
        """


class INegotiated(Interface):
    """A connection that negotiated an application protocol (TLS ALPN)."""

    negotiatedProtocol = Attribute(
        "The protocol both sides chose (bytes such as b'h2'), or None: none was "
        "offered or agreed, or the handshake is not done yet."
    )


class IHandshakeListener(Interface):
    """A protocol over TLS that wants to know when the TLS handshake has completed."""

    def handshakeCompleted() -> None:
        """The handshake succeeded: the peer's certificate and ALPN choice are known."""


class IOpenSSLContextFactory(Interface):
    """The old way to configure TLS: something that makes an ``ssl.SSLContext``."""

    def getContext() -> Any:
        """Return the ``ssl.SSLContext`` to make each connection's TLS object from."""


class IOpenSSLServerConnectionCreator(Interface):
    """Makes the TLS object of each accepted connection (CertificateOptions does)."""

    def serverConnectionForTLS(tlsProtocol: Any) -> Any:
        """Return the ``ssl.SSLObject`` for ``tlsProtocol``'s server side.

        Make it on the protocol's memory BIOs: ``context.wrap_bio(
        tlsProtocol.incomingBIO, tlsProtocol.outgoingBIO, server_side=True)``.
        """


class IOpenSSLClientConnectionCreator(Interface):
    """Makes the TLS object of each outgoing connection (optionsForClientTLS does)."""

    def clientConnectionForTLS(tlsProtocol: Any) -> Any:
        """Return the ``ssl.SSLObject`` for ``tlsProtocol``'s client side.

        Make it on the protocol's memory BIOs: ``context.wrap_bio(
        tlsProtocol.incomingBIO, tlsProtocol.outgoingBIO, server_side=False,
        server_hostname=...)``.
        """


class IReactorSSL(Interface):
    """TLS servers and clients over TCP."""

    def listenSSL(
        port: int,
        factory: IProtocolFactory,
        contextFactory: Any,
        backlog: int = 50,
        interface: str = "",
    ) -> IListeningPort:
        """Listen for TLS connections; ``contextFactory`` is, say, a CertificateOptions."""

    def connectSSL(
        host: str,
        port: int,
        factory: object,
        contextFactory: Any,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> IConnector:
        """Connect with TLS; ``contextFactory`` is, say, ``optionsForClientTLS(host)``."""


__all__ += [
    "IHandshakeListener",
    "INegotiated",
    "IOpenSSLClientConnectionCreator",
    "IOpenSSLContextFactory",
    "IOpenSSLServerConnectionCreator",
    "IReactorSSL",
    "ISSLTransport",
    "ITLSTransport",
]



# -- UDP and multicast (torsion.internet.udp) ------------------------------------------


# -- UNIX sockets (torsion.internet.unix) ----------------------------------------------


# -- processes (torsion.internet.process) ----------------------------------------------


# -- stdio, files and loopback (torsion.internet.stdio, fdesc, torsion.protocols.loopback) ----


# -- endpoints (torsion.internet.endpoints) --------------------------------------------
