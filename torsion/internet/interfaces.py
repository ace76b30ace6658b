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


class IReactorUDP(Interface):
    """UDP ports."""

    def listenUDP(
        port: int, protocol: object, interface: str = "", maxPacketSize: int = 8192
    ) -> IListeningPort:
        """Bind a UDP port for the DatagramProtocol ``protocol``; raise CannotListenError."""


class IReactorMulticast(Interface):
    """UDP ports that can join IP multicast groups."""

    def listenMulticast(
        port: int,
        protocol: object,
        interface: str = "",
        maxPacketSize: int = 8192,
        listenMultiple: bool = False,
    ) -> IListeningPort:
        """Bind a multicast-capable UDP port; ``listenMultiple`` lets ports share it."""


class IUDPTransport(Interface):
    """A UDP port as its DatagramProtocol sees it."""

    def write(packet: bytes, addr: tuple[str, int] | None = None) -> None:
        """Send one datagram to ``addr`` (None on a connected port); raise on failure."""

    def connect(host: str, port: int) -> None:
        """Send only to, and receive only from, the IP address ``host``:``port``."""

    def getHost() -> IAddress:
        """Return the address the port is bound to."""

    def stopListening() -> object:
        """Close the port; return a Deferred that fires once it is closed."""

    def setBroadcastAllowed(enabled: bool) -> None:
        """Allow (or forbid) sending to broadcast addresses (SO_BROADCAST)."""

    def getBroadcastAllowed() -> bool:
        """Return whether sending to broadcast addresses is allowed."""


class IMulticastTransport(Interface):
    """The multicast controls of a port made by ``listenMulticast``."""

    def getOutgoingInterface() -> str:
        """Return the address of the interface multicast datagrams are sent from."""

    def setOutgoingInterface(addr: str) -> Any:
        """Send multicast datagrams from interface ``addr``; return a Deferred."""

    def getLoopbackMode() -> bool:
        """Return whether this host's own members of a group get what it sends."""

    def setLoopbackMode(mode: bool) -> None:
        """Deliver (true) or not (false) sent multicast datagrams to this host too."""

    def getTTL() -> int:
        """Return the time to live (hop limit) of sent multicast datagrams."""

    def setTTL(ttl: int) -> None:
        """Set the time to live of sent multicast datagrams (0 to 255)."""

    def joinGroup(addr: str, interface: str = "") -> Any:
        """Join group ``addr`` on ``interface``; a Deferred fails with MulticastJoinError."""

    def leaveGroup(addr: str, interface: str = "") -> Any:
        """Leave group ``addr`` on ``interface``; return a Deferred."""


__all__ += ["IMulticastTransport", "IReactorMulticast", "IReactorUDP", "IUDPTransport"]


# -- UNIX sockets (torsion.internet.unix) ----------------------------------------------


class IReactorUNIX(Interface):
    """UNIX socket (SOCK_STREAM) servers and clients."""

    def listenUNIX(
        address: str | bytes,
        factory: IProtocolFactory,
        backlog: int = 50,
        mode: int = 0o666,
        wantPID: bool = False,
    ) -> IListeningPort:
        """Listen on the UNIX socket ``address`` (a path, or a Linux abstract name).

        ``mode`` is given to the socket file; ``wantPID`` keeps a lock file
        (``address`` + ".lock") holding this process's pid. Raises CannotListenError,
        saying why, if the path is in use, cannot be made, or is too long.
        """

    def connectUNIX(
        address: str | bytes, factory: object, timeout: float = 30, checkPID: bool = False
    ) -> IConnector:
        """Connect to the UNIX socket ``address``, reporting to the ClientFactory ``factory``.

        With ``checkPID`` the attempt fails (BadFileError) unless a live process holds
        the server's lock file (see ``listenUNIX``'s ``wantPID``).
        """


class IReactorUNIXDatagram(Interface):
    """UNIX datagram (SOCK_DGRAM) sockets."""

    def listenUNIXDatagram(
        address: str | bytes, protocol: object, maxPacketSize: int = 8192, mode: int = 0o666
    ) -> IListeningPort:
        """Bind a datagram socket to ``address`` and connect the datagram ``protocol``."""

    def connectUNIXDatagram(
        address: str | bytes,
        protocol: object,
        maxPacketSize: int = 8192,
        mode: int = 0o666,
        bindAddress: str | bytes | None = None,
    ) -> IListeningPort:
        """Connect a datagram socket (bound to ``bindAddress``, if given) to ``address``."""


class IUNIXTransport(ITransport):
    """A UNIX stream connection, which can pass file descriptors to the other process."""

    def sendFileDescriptor(descriptor: int) -> None:
        """Send (a duplicate of) ``descriptor`` with the next byte written after this call."""


class IUNIXPeerCredentials(Interface):
    """A connection that knows who is at the other end (torsion's; Twisted has none)."""

    def getPeerCredentials() -> Any:
        """Return the peer's PeerCredentials (pid, uid, gid) as the kernel reports them."""


class IFileDescriptorReceiver(Interface):
    """A protocol that accepts file descriptors passed over a UNIX socket."""

    def fileDescriptorReceived(descriptor: int) -> None:
        """``descriptor`` arrived (before the bytes it came with); it is the protocol's
        to close."""


class IUNIXDatagramTransport(Interface):
    """An unconnected UNIX datagram socket."""

    def write(packet: bytes, address: str | bytes) -> None:
        """Send ``packet`` to the socket named ``address``."""

    def getHost() -> IAddress:
        """Return this socket's UNIXAddress."""


class IUNIXDatagramConnectedTransport(Interface):
    """A UNIX datagram socket connected to one peer."""

    def write(packet: bytes) -> None:
        """Send ``packet`` to the peer."""

    def getHost() -> IAddress:
        """Return this socket's UNIXAddress."""

    def getPeer() -> IAddress:
        """Return the peer's UNIXAddress."""


__all__ += [
    "IFileDescriptorReceiver",
    "IReactorUNIX",
    "IReactorUNIXDatagram",
    "IUNIXDatagramConnectedTransport",
    "IUNIXDatagramTransport",
    "IUNIXPeerCredentials",
    "IUNIXTransport",
]


# -- processes (torsion.internet.process) ----------------------------------------------

__all__ += ["IProcessProtocol", "IProcessTransport", "IReactorProcess"]


class IProcessProtocol(Interface):
    """What a spawned process tells its protocol (ProcessProtocol implements it)."""

    def makeConnection(process: IProcessTransport) -> None:
        """The process was started; ``process`` is its transport."""

    def childDataReceived(childFD: int, data: bytes) -> None:
        """The child wrote ``data`` to its descriptor ``childFD`` (1: stdout, 2: stderr)."""

    def childConnectionLost(childFD: int) -> None:
        """The pipe of the child's descriptor ``childFD`` is closed."""

    def processExited(reason: Any) -> None:
        """The child exited (its pipes may still hold output): a ProcessDone or
        ProcessTerminated Failure."""

    def processEnded(reason: Any) -> None:
        """The child exited and every pipe to it is closed: nothing more will happen."""


class IProcessTransport(ITransport):
    """A running child process, as its protocol sees it."""

    pid = Attribute("The child's process id, or None once it has exited and been reaped.")

    def closeStdin() -> None:
        """Close the child's standard input once what was written has been sent."""

    def closeStdout() -> None:
        """Close the pipe of the child's standard output."""

    def closeStderr() -> None:
        """Close the pipe of the child's standard error."""

    def closeChildFD(descriptor: int) -> None:
        """Close the pipe of the child's descriptor ``descriptor``."""

    def writeToChild(childFD: int, data: bytes) -> None:
        """Write ``data`` to the child's descriptor ``childFD`` (one it reads)."""

    def loseConnection() -> None:
        """Close standard input (after pending writes), output and error."""

    def signalProcess(signalID: str | int) -> None:
        """Send a signal ('TERM', 'KILL', 'INT', 'HUP' or a number) to the child.

        Raises ProcessExitedAlready once the child has exited.
        """


class IReactorProcess(Interface):
    """Starting child processes."""

    def spawnProcess(
        processProtocol: IProcessProtocol,
        executable: str | bytes,
        args: Sequence[str | bytes] = (),
        env: Any = None,
        path: str | bytes | None = None,
        uid: int | None = None,
        gid: int | None = None,
        usePTY: object = False,
        childFDs: dict[int, str | int] | None = None,
    ) -> IProcessTransport:
        """Start ``executable`` with ``args`` (``args[0]`` is its name) in directory
        ``path``, environment ``env``, as ``uid``/``gid``, on a pseudo-terminal if
        ``usePTY``, with descriptors ``childFDs``; return its transport."""


# -- stdio, files and loopback (torsion.internet.stdio, fdesc, torsion.protocols.loopback) ----


# -- endpoints (torsion.internet.endpoints) --------------------------------------------


class IStreamServerEndpoint(Interface):
    """Somewhere to listen for stream connections: a TCP port, a UNIX socket, stdio..."""

    def listen(protocolFactory: IProtocolFactory) -> Any:
        """Listen with ``protocolFactory``; return a Deferred firing with an IListeningPort.

        The Deferred fails with CannotListenError (or the transport's own error) if
        listening is impossible.
        """


class IStreamClientEndpoint(Interface):
    """Somewhere to connect a stream to."""

    def connect(protocolFactory: IProtocolFactory) -> Any:
        """Connect; return a Deferred firing with the protocol once it is connected.

        The protocol comes from ``protocolFactory.buildProtocol`` and has had its
        ``connectionMade`` called. Cancelling the Deferred abandons the attempt
        (ConnectingCancelledError); a failed attempt fails it with the reason.
        """


__all__ += ["IStreamClientEndpoint", "IStreamServerEndpoint"]


# -- adopted sockets (IReactorSocket) ----------------------------------------------------


class IReactorSocket(Interface):
    """Take over sockets made elsewhere: inherited from a parent, or passed by systemd.

    The reactor works on a duplicate of the descriptor it is given; the caller still
    owns (and should close) the original.
    """

    def adoptStreamPort(
        fileDescriptor: int, addressFamily: int, factory: IProtocolFactory
    ) -> IListeningPort:
        """Accept connections on a bound, listening SOCK_STREAM socket; return the port.

        Raises UnsupportedAddressFamily for a family the reactor cannot adopt,
        UnsupportedSocketType for a socket that is not SOCK_STREAM.
        """

    def adoptStreamConnection(
        fileDescriptor: int, addressFamily: int, factory: IProtocolFactory
    ) -> None:
        """Serve a connected SOCK_STREAM socket with a protocol from ``factory``.

        The factory's startFactory/stopFactory are not called: there is no port whose
        life they would bracket.
        """

    def adoptDatagramPort(
        fileDescriptor: int, addressFamily: int, protocol: object, maxPacketSize: int = 8192
    ) -> IListeningPort:
        """Serve a bound SOCK_DGRAM socket with the DatagramProtocol ``protocol``.

        Raises UnsupportedAddressFamily or UnsupportedSocketType as adoptStreamPort does.
        """


__all__ += ["IReactorSocket"]


# -- endpoint string parsers ---------------------------------------------------------------


class IStreamServerEndpointStringParser(Interface):
    """A plugin that adds a prefix to the server endpoint string language.

    ``serverFromString(reactor, "prefix:a:b:key=value")`` calls
    ``parseStreamServer(reactor, "a", "b", key="value")`` on the parser whose
    ``prefix`` is "prefix". Parsers are found through the ``torsion.plugins``
    entry-point group (see torsion.internet.endpoints).
    """

    prefix = Attribute("The prefix (a str, such as 'tcp') of the descriptions it parses.")

    def parseStreamServer(reactor: Any, *args: str, **kwargs: str) -> IStreamServerEndpoint:
        """Return the server endpoint the arguments describe; raise ValueError if bad."""


class IStreamClientEndpointStringParserWithReactor(Interface):
    """A plugin that adds a prefix to the client endpoint string language.

    ``clientFromString(reactor, "prefix:a:key=value")`` calls
    ``parseStreamClient(reactor, "a", key="value")`` on the parser of that prefix.
    """

    prefix = Attribute("The prefix (a str, such as 'tcp') of the descriptions it parses.")

    def parseStreamClient(reactor: Any, *args: str, **kwargs: str) -> IStreamClientEndpoint:
        """Return the client endpoint the arguments describe; raise ValueError if bad."""


__all__ += [
    "IStreamClientEndpointStringParserWithReactor",
    "IStreamServerEndpointStringParser",
]


# -- names (torsion.names) ---------------------------------------------------------------


class IResolver(IResolverSimple):
    """A DNS resolver: every lookup of torsion.names.common.ResolverBase.

    Each ``lookupX(name, timeout=None)`` returns a Deferred firing with a tuple of
    three lists of ``dns.RRHeader`` (answers, authority, additional), or failing
    with a torsion.names.error exception (DNSNameError for NXDOMAIN,
    DNSQueryTimeoutError when nobody answered, ...). ``name`` is bytes or str;
    ``timeout`` is a sequence of seconds: the query is sent again as each one
    runs out, and fails after the last.
    """

    def query(query: Any, timeout: Sequence[float] | None = None) -> Any:
        """Look up the dns.Query ``query`` (its name, type and class)."""

    def lookupAddress(name: bytes | str, timeout: Sequence[float] | None = None) -> Any:
        """A records."""

    def lookupIPV6Address(name: bytes | str, timeout: Sequence[float] | None = None) -> Any:
        """AAAA records."""

    def lookupAddress6(name: bytes | str, timeout: Sequence[float] | None = None) -> Any:
        """A6 records (obsolete, RFC 6563)."""

    def lookupMailExchange(name: bytes | str, timeout: Sequence[float] | None = None) -> Any:
        """MX records."""

    def lookupNameservers(name: bytes | str, timeout: Sequence[float] | None = None) -> Any:
        """NS records."""

    def lookupCanonicalName(name: bytes | str, timeout: Sequence[float] | None = None) -> Any:
        """CNAME records."""

    def lookupMailBox(name: bytes | str, timeout: Sequence[float] | None = None) -> Any:
        """MB records."""

    def lookupMailGroup(name: bytes | str, timeout: Sequence[float] | None = None) -> Any:
        """MG records."""

    def lookupMailRename(name: bytes | str, timeout: Sequence[float] | None = None) -> Any:
        """MR records."""

    def lookupPointer(name: bytes | str, timeout: Sequence[float] | None = None) -> Any:
        """PTR records."""

    def lookupAuthority(name: bytes | str, timeout: Sequence[float] | None = None) -> Any:
        """SOA records."""

    def lookupNull(name: bytes | str, timeout: Sequence[float] | None = None) -> Any:
        """NULL records."""

    def lookupWellKnownServices(name: bytes | str, timeout: Sequence[float] | None = None) -> Any:
        """WKS records."""

    def lookupHostInfo(name: bytes | str, timeout: Sequence[float] | None = None) -> Any:
        """HINFO records."""

    def lookupMailboxInfo(name: bytes | str, timeout: Sequence[float] | None = None) -> Any:
        """MINFO records."""

    def lookupText(name: bytes | str, timeout: Sequence[float] | None = None) -> Any:
        """TXT records."""

    def lookupResponsibility(name: bytes | str, timeout: Sequence[float] | None = None) -> Any:
        """RP records."""

    def lookupAFSDatabase(name: bytes | str, timeout: Sequence[float] | None = None) -> Any:
        """AFSDB records."""

    def lookupService(name: bytes | str, timeout: Sequence[float] | None = None) -> Any:
        """SRV records."""

    def lookupAllRecords(name: bytes | str, timeout: Sequence[float] | None = None) -> Any:
        """An ANY query (many servers answer it minimally, RFC 8482)."""

    def lookupSenderPolicy(name: bytes | str, timeout: Sequence[float] | None = None) -> Any:
        """SPF records (type 99)."""

    def lookupNamingAuthorityPointer(
        name: bytes | str, timeout: Sequence[float] | None = None
    ) -> Any:
        """NAPTR records."""

    def lookupSSHFingerprint(name: bytes | str, timeout: Sequence[float] | None = None) -> Any:
        """SSHFP records."""

    def lookupZone(name: bytes | str, timeout: Sequence[float] | None = None) -> Any:
        """A zone transfer (AXFR): every record of the zone, the SOA first and last."""


__all__ += ["IResolver"]
