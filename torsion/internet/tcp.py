"""TCP for the selectable reactors: listening Port, accepted Server, outgoing Client.

``reactor.listenTCP`` makes a Port; each accepted connection is a Server transport;
``reactor.connectTCP`` makes a Connector whose attempts are Client transports. The
transports are FileDescriptors, so they buffer writes, close after draining and take
part in producer/consumer flow control.

Logging follows the seed: a port logs "module.FactoryClass starting on 7777" and
"(TCP Port 7777 Closed)"; whatever a protocol logs from its callbacks carries the
transport's prefix as the log system: "EchoProtocol,0,127.0.0.1" (protocol's
logPrefix, session number, peer host) on the server side and, as Twisted does,
"EchoProtocol,client" on the client side ("Uninitialized" until connected).

Faults stay with the connection they belong to: a protocol that raises in
connectionMade is logged and dropped without harming the port; a reset by the peer is
a ConnectionLost; when accept fails for want of descriptors (EMFILE and kin) the port
logs once, stops watching the socket for ``acceptRetryDelay`` seconds instead of
spinning, and accepts again once descriptors are free. A client whose socket cannot
even be made reports that to its factory like any other failed attempt.

The stream machinery that is not TCP's own (reading and writing a connected socket,
half-close, the connect state machine of a client, the accept loop of a port) lives
in the private bases ``_StreamConnection``, ``_StreamClient`` and ``_BasePort``,
which torsion.internet.unix builds its UNIX socket transports on.

A TCP connection can also send part of a file with ``sendfile(fileobj, offset,
count)``, which has the kernel copy it (torsion.web.static serves files that way).
Tests: tests/internet/test_tcp.py, tests/internet/test_tcp_faults.py and
tests/internet/test_tcp_sendfile.py.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from typing import Any, Generic, Literal, TypeVar

from zope.interface import implementer

from torsion.internet import error
from torsion.internet.abstract import FileDescriptor, stopListeningOnce, stoppedListening
from torsion.internet.address import IPv4Address, IPv6Address
from torsion.internet.base import BaseConnector, isIPAddress
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import (
    IHalfCloseableProtocol,
    IListeningPort,
    IPullProducer,
    ISSLTransport,
    ITCPTransport,
    ITLSTransport,
)
from torsion.python import log
from torsion.python.failure import Failure

__all__ = ["Client", "Connection", "Connector", "Port", "Server"]

_CONNECTION_LOST_ERRNOS = frozenset(
    {errno.ECONNRESET, errno.EPIPE, errno.ENOTCONN, errno.ECONNABORTED, errno.ETIMEDOUT}
)
# accept() failing for want of resources: back off and try again later.
_ACCEPT_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
# accept() reporting an error of the pending connection itself (see accept(2) on Linux)
# or a firewall refusing it: skip that connection and go on accepting.
_ACCEPT_SKIP_ERRNOS = frozenset(
    {
        errno.ECONNABORTED,
        errno.EPERM,
        errno.EPROTO,
        errno.ENOPROTOOPT,
        errno.ENETDOWN,
        errno.ENETUNREACH,
        errno.EHOSTDOWN,
        errno.EHOSTUNREACH,
        errno.EOPNOTSUPP,
        getattr(errno, "ENONET", errno.ENETDOWN),
    }
)


# For annotations inside classes that have an attribute named ``socket``.
_Socket = socket.socket

# The address type of a stream transport's ends (IPv4Address | IPv6Address for TCP,
# UNIXAddress for UNIX sockets).
_A = TypeVar("_A")
_IPAddress = IPv4Address | IPv6Address


def _addressFor(
    family: int, sockaddr: Any, kind: Literal["TCP", "UDP"] = "TCP"
) -> IPv4Address | IPv6Address:
    """Return the address object of a socket address (torsion.internet.udp's too)."""
    if family == socket.AF_INET6:
        return IPv6Address(kind, sockaddr[0], sockaddr[1], *sockaddr[2:4])
    return IPv4Address(kind, sockaddr[0], sockaddr[1])


def _adoptSocket(
    fileDescriptor: int, addressFamily: int, socketType: int = socket.SOCK_STREAM
) -> socket.socket:
    """Return a socket on a duplicate of ``fileDescriptor``, checked to be of that family
    and type (reactor.adoptStreamPort and kin; torsion.internet.udp's too).

    Raises:
        UnsupportedAddressFamily: the family is not IPv4 or IPv6, or not the socket's.
        UnsupportedSocketType: the socket is not of ``socketType``.
        OSError: the descriptor is not an open socket.
    """
    kind = socket.SocketKind(socketType).name
    if addressFamily not in (socket.AF_INET, socket.AF_INET6):
        raise error.UnsupportedAddressFamily(
            f"cannot adopt a socket of address family {addressFamily!r}: "
            f"only AF_INET and AF_INET6 {kind} sockets can be adopted"
        )
    try:
        duplicate = os.dup(fileDescriptor)
    except OSError as e:
        raise OSError(e.errno, f"cannot adopt descriptor {fileDescriptor}: {e.strerror}") from e
    try:
        sock = socket.socket(fileno=duplicate)
    except OSError as e:
        os.close(duplicate)
        raise OSError(e.errno, f"cannot adopt descriptor {fileDescriptor}: {e.strerror}") from e
    if sock.family != addressFamily:
        sock.close()
        raise error.UnsupportedAddressFamily(
            f"descriptor {fileDescriptor} is a {socket.AddressFamily(sock.family).name} "
            f"socket, not {socket.AddressFamily(addressFamily).name} as given"
        )
    if sock.type != socketType:
        sock.close()
        what = "a stream port or connection" if socketType == socket.SOCK_STREAM else "a port"
        raise error.UnsupportedSocketType(
            f"descriptor {fileDescriptor} is a {socket.SocketKind(sock.type).name} socket; "
            f"only {kind} sockets can be adopted as {what}"
        )
    return sock


def _logPrefixOf(thing: Any) -> str:
    """Return ``thing.logPrefix()``, or its class name if it has none (or it fails)."""
    try:
        return str(thing.logPrefix())
    except Exception:
        return type(thing).__name__


def _qualifiedName(thing: Any) -> str:
    cls = type(thing)
    return f"{cls.__module__}.{cls.__name__}"


class _SocketOptions:
    """The socket-level methods of a TCP transport, on its ``socket`` attribute.

    Shared by Connection and the asyncio reactor's loop-run connections
    (torsion.internet._asynciotcp), which own a socket the same way.
    """

    __slots__ = ()

    # Slots of the classes that mix this in (two bases cannot both have slots).
    socket: _Socket
    _hostAddress: IPv4Address | IPv6Address | None

    def getHandle(self) -> _Socket:
        """Return the socket, for options this transport has no method for."""
        return self.socket

    def getPeer(self) -> IPv4Address | IPv6Address:
        """Return the address of the other end."""
        raise NotImplementedError

    def getHost(self) -> IPv4Address | IPv6Address:
        """Return the address of this end (once asked, also after the connection closes).

        Raises:
            RuntimeError: if first asked after the socket was closed.
        """
        if self._hostAddress is None:
            try:
                sockname = self.socket.getsockname()
            except OSError as e:
                raise RuntimeError(
                    "the socket is closed; call getHost while connected (connectionMade)"
                ) from e
            self._hostAddress = _addressFor(self.socket.family, sockname)  # type: ignore[misc]
        return self._hostAddress

    def getTcpNoDelay(self) -> bool:
        """Return True if Nagle's algorithm is off."""
        return bool(self.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    def setTcpNoDelay(self, enabled: bool) -> None:
        """Turn Nagle's algorithm off (True) or on (False)."""
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(enabled))

    def getTcpKeepAlive(self) -> bool:
        """Return True if TCP keepalive probes are on."""
        return bool(self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE))

    def setTcpKeepAlive(self, enabled: bool) -> None:
        """Turn TCP keepalive probes on or off."""
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, int(enabled))


class _StartsTLS:
    """``startTLS`` for the stream transports (torsion's and the asyncio loop's)."""

    __slots__ = ()

    # Whether startTLS takes the client side of the handshake (the side that connected).
    _tlsClientDefault = False

    def startTLS(self, contextFactory: Any, normal: bool = True) -> None:
        """Start TLS on this connection now (STARTTLS): what was written before goes out
        in clear, the rest encrypted; see torsion.protocols._starttls.startTLS."""
        from torsion.protocols._starttls import startTLS

        startTLS(self, contextFactory, normal)


class _StreamConnection(_StartsTLS, FileDescriptor, Generic[_A]):
    """A connected stream socket: what TCP and UNIX socket connections share.

    ``_A`` is the type of the addresses of its ends.
    """

    __slots__ = (
        "_fileno",
        "_hostAddress",
        "_logPrefix",
        "_readSize",
        "protocol",
        "socket",
    )

    # The most one read takes. 256 KiB (asyncio's figure; Twisted reads 64 KiB) halves
    # the passes of the loop per byte of a bulk transfer: bench/net.py's bulk echo
    # moved about twice the bytes per server CPU-second.
    readSize = 2**18
    # But reads start at this size, and grow to readSize only while they come back
    # full. glibc maps allocations above 128 KiB with mmap, and recv() then shrinks
    # its buffer to what arrived with mremap: every small read into a 256 KiB buffer
    # cost an mmap, a mremap and a munmap, a quarter of a ping-pong server's time.
    _firstReadSize = 2**16

    def __init__(self, sock: socket.socket, protocol: Any, reactor: Any) -> None:
        super().__init__(reactor)
        self.socket = sock
        self._fileno = sock.fileno()
        self._readSize = min(self._firstReadSize, self.readSize)
        self.protocol = protocol
        self._logPrefix = "-"
        self._hostAddress: _A | None = None
        self.connected = True

    def fileno(self) -> int:
        """Return the socket's descriptor, or -1 once closed."""
        return self._fileno

    def logPrefix(self) -> str:
        """Return "Protocol,sessionno,peerhost" (servers) or "Protocol,client" (clients)."""
        return self._logPrefix

    def doRead(self) -> object:
        """Read what the peer sent and hand it to the protocol."""
        size = self._readSize
        try:
            data = self.socket.recv(size)
        except BlockingIOError:
            return None
        except InterruptedError:
            return None
        except OSError as e:
            if e.errno in _CONNECTION_LOST_ERRNOS:
                return error.ConnectionLost(str(e))
            raise
        received = len(data)
        if received == size:
            if size < self.readSize:
                self._readSize = min(size * 4, self.readSize)
        elif received < self._firstReadSize < size:
            self._readSize = self._firstReadSize
        if not data:
            return error.ConnectionDone()
        self.protocol.dataReceived(data)
        return None

    def writeSomeData(self, data: bytes | memoryview) -> int | BaseException:
        """Send what the kernel takes of ``data``."""
        try:
            return self.socket.send(data)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError as e:
            if e.errno in _CONNECTION_LOST_ERRNOS:
                return error.ConnectionLost(str(e))
            raise

    def _makeConnection(self) -> None:
        """Connect the protocol and start reading; run under this transport's log prefix.

        A protocol whose connectionMade raises is logged and its connection dropped
        (its connectionLost gets that failure); the port or connector carries on.
        """
        protocol = self.protocol
        # Reading starts first, so that a connectionMade that pauses the transport
        # (a proxy waiting for its other side) or closes it stops it again.
        self.startReading()
        try:
            protocol.makeConnection(self)
        except Exception:
            why = Failure()
            log.err(why, f"Error in {type(protocol).__name__}.connectionMade; closing it")
            self.connectionLost(why)
            return

    def _closeWriteConnection(self) -> None:
        try:
            self.socket.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        if IHalfCloseableProtocol.providedBy(self.protocol):
            try:
                self.protocol.writeConnectionLost()
            except Exception:
                log.err(None, "Error in writeConnectionLost")
                self.abortConnection()

    def readConnectionLost(self, reason: Failure) -> None:
        """The peer closed its sending half; a half-closeable protocol stays connected."""
        protocol = self.protocol
        if not IHalfCloseableProtocol.providedBy(protocol):
            self._disconnectNow(reason.value)
            return
        self.stopReading()
        try:
            protocol.readConnectionLost()
        except Exception:
            why = Failure()
            log.err(why, f"Error in {type(protocol).__name__}.readConnectionLost; closing it")
            self._disconnectNow(why.value)
            return
        if self._writeDisconnected:
            self._disconnectNow(error.ConnectionDone())

    def abortConnection(self) -> None:
        """Close at once, dropping whatever is still buffered."""
        if self.disconnected or not self.connected:
            return
        self.stopReading()
        self.stopWriting()
        self.disconnecting = True
        self.reactor.callLater(0, self._disconnectNow, error.ConnectionAborted())

    def connectionLost(self, reason: Any) -> None:
        """Close the socket and tell the protocol (exactly once)."""
        if self.disconnected:
            return
        super().connectionLost(reason)
        self._fileno = -1
        try:
            self.socket.close()
        except OSError:
            pass
        protocol = self.protocol
        try:
            protocol.connectionLost(reason)
        except Exception:
            log.err(None, f"Error in {type(protocol).__name__}.connectionLost")


# Linux's sendfile(2) reports EAGAIN on a full non-blocking socket without losing the
# count of what it did send; the BSDs' and macOS's may not, so they are left out.
_SENDFILE_WORKS = sys.platform.startswith("linux") and hasattr(os, "sendfile")


@implementer(IPullProducer)
class _FileSender:
    """Connection.sendfile's worker: a pull producer that has the kernel copy the file.

    Registered as the connection's producer, it is called whenever the write buffer
    is empty (so what was written before the file goes first), sends what the socket
    takes in one sendfile(2), and watches for writability until the file is out.
    """

    __slots__ = ("_connection", "_count", "_infd", "_offset", "_remaining", "deferred")

    def __init__(self, connection: Connection, infd: int, offset: int, count: int) -> None:
        self._connection = connection
        self._infd = infd
        self._offset = offset
        self._count = self._remaining = count
        self.deferred: Deferred[int] = Deferred()

    def resumeProducing(self) -> None:
        connection = self._connection
        if self.deferred.called or connection.bufferedSize():
            return  # doWrite calls again once the buffer has drained.
        try:
            sent = os.sendfile(connection._fileno, self._infd, self._offset, self._remaining)
        except BlockingIOError:
            connection.startWriting()
            return
        except OSError as e:
            if e.errno in _CONNECTION_LOST_ERRNOS:
                self._end(error.ConnectionLost(str(e)))
                connection.abortConnection()
            else:
                self._end(e)
            return
        if not sent:
            self._end(
                EOFError(
                    f"the file ended after {self._count - self._remaining} of the "
                    f"{self._count} bytes to send (it shrank meanwhile)"
                )
            )
            return
        self._offset += sent
        self._remaining -= sent
        if self._remaining:
            connection.startWriting()
        else:
            self._end(None)

    def stopProducing(self) -> None:
        sent = self._count - self._remaining
        self._end(
            error.ConnectionLost(
                f"the connection closed after {sent} of {self._count} bytes of the file"
            )
        )

    def _end(self, problem: BaseException | None) -> None:
        if self.deferred.called:
            return
        if self._connection.producer is self:
            self._connection.unregisterProducer()
        if problem is None:
            self.deferred.callback(self._count)
        else:
            self.deferred.errback(Failure(problem))


@implementer(ITCPTransport, ITLSTransport)
class Connection(_SocketOptions, _StreamConnection[_IPAddress]):
    """A connected TCP socket: the transport a protocol writes to."""

    __slots__ = ()

    def sendfile(self, fileobj: Any, offset: int, count: int) -> Deferred[int]:
        """Send ``count`` bytes of the open file ``fileobj`` from ``offset`` on, after
        what was written before, copied by the kernel (sendfile(2)) rather than read
        into Python; the bytes go out as the peer takes them.

        The connection is the file's until the Deferred fires (with ``count``): write
        nothing meanwhile, as it would land in the middle. It fails with ConnectionLost
        if the connection goes first, EOFError if the file shrank, or the OSError of
        reading it. ``fileobj`` (anything with ``fileno()``) keeps its position and
        stays open: closing it is the caller's job. torsion.web.static uses this for
        files served over plain TCP.

        Raises:
            NotImplementedError: off Linux, where sendfile(2) cannot be trusted with a
                non-blocking socket: send the file with a producer instead.
            RuntimeError: if TLS is started on the connection (the file would go out
                in clear), or a producer is registered already.
            ValueError: if ``offset`` or ``count`` is negative.
        """
        if not _SENDFILE_WORKS:
            raise NotImplementedError(
                "sendfile is only used on Linux; send the file with a producer "
                "(registerProducer) on this platform"
            )
        if ISSLTransport.providedBy(self):
            raise RuntimeError(
                "TLS is started on this connection and sendfile would bypass it; "
                "send the file with a producer (registerProducer) instead"
            )
        if offset < 0 or count < 0:
            raise ValueError(f"offset and count must not be negative: {offset}, {count}")
        sender = _FileSender(self, fileobj.fileno(), offset, count)
        if not count:
            sender.deferred.callback(0)
            return sender.deferred
        self.registerProducer(sender, False)
        return sender.deferred


class Server(Connection):
    """A connection accepted by a Port."""

    __slots__ = ("client", "server", "sessionno")

    def __init__(
        self,
        sock: socket.socket,
        protocol: Any,
        client: IPv4Address | IPv6Address,
        server: Port | None,
        sessionno: int,
        reactor: Any,
    ) -> None:
        super().__init__(sock, protocol, reactor)
        self.client = client
        self.server = server
        self.sessionno = sessionno

    @classmethod
    def _fromConnectedSocket(
        cls, fileDescriptor: int, addressFamily: int, factory: Any, reactor: Any
    ) -> Server | None:
        """Serve a connected socket (reactor.adoptStreamConnection) on a duplicate of it.

        Returns None if the factory builds no protocol (the duplicate is closed).
        """
        sock = _adoptSocket(fileDescriptor, addressFamily)
        sock.setblocking(False)
        try:
            peer = _addressFor(addressFamily, sock.getpeername())
        except OSError as e:
            sock.close()
            raise OSError(e.errno, f"descriptor {fileDescriptor} is not connected") from e
        protocol = factory.buildProtocol(peer)
        if protocol is None:
            sock.close()
            return None
        transport = cls(sock, protocol, peer, None, 0, reactor)
        log.callWithLogger(transport, transport._makeConnection)
        return transport

    def logPrefix(self) -> str:
        """Return "Protocol,sessionno,peerhost".

        Made when asked (the reactor asks only when something is logged) rather than
        kept: a server holds many idle connections, and each string costs memory.
        """
        return f"{_logPrefixOf(self.protocol)},{self.sessionno},{self.client.host}"

    def getPeer(self) -> IPv4Address | IPv6Address:
        """Return the client's address."""
        return self.client

    def __repr__(self) -> str:
        where = "an adopted socket" if self.server is None else self.server.port
        return f"<{type(self.protocol).__name__} #{self.sessionno} on {where}>"


class _BasePort(FileDescriptor, Generic[_A]):
    """A listening stream socket: the accept loop that TCP and UNIX socket ports share.

    Subclasses bind the socket and call ``_startAccepting``; they provide
    ``_peerAddress`` (the address object of an accepted peer), ``_serve`` (make the
    transport of an accepted connection) and ``_closedMessage`` (the log line).
    """

    __slots__ = (
        "_acceptRetry",
        "_acceptStarved",
        "_fileno",
        "_hostAddress",
        "_preexistingSocket",
        "_sessionno",
        "_stoppedDeferred",
        "backlog",
        "factory",
        "socket",
    )

    # How many connections one readiness event may accept, so a flood cannot starve
    # the rest of the loop.
    numberAccepts = 100
    # Seconds to stop accepting after the process ran out of descriptors (or memory):
    # the pending connections wait in the backlog instead of the loop spinning on them.
    acceptRetryDelay = 0.1

    def __init__(self, factory: Any, backlog: int, reactor: Any) -> None:
        super().__init__(reactor)
        self.factory = factory
        self.backlog = backlog
        self.socket: socket.socket | None = None
        self._fileno = -1
        self._hostAddress: _A | None = None
        self._sessionno = 0
        self._stoppedDeferred: Deferred[None] | None = None
        self._acceptRetry: Any = None
        self._acceptStarved = False
        self._preexistingSocket: socket.socket | None = None

    def fileno(self) -> int:
        """Return the listening socket's descriptor, or -1."""
        return self._fileno

    def logPrefix(self) -> str:
        """Return the factory's log prefix."""
        return _logPrefixOf(self.factory)

    def _checkNotListening(self) -> None:
        if self.connected:
            raise error.AlreadyListened(f"{self!r} is already listening; stop it first")

    def _startAccepting(self, sock: socket.socket, where: str) -> None:
        """Adopt the bound, listening ``sock``, start the factory and begin accepting."""
        sock.setblocking(False)
        self.socket = sock
        self._fileno = sock.fileno()
        self._stoppedDeferred = None
        self.disconnected = self.disconnecting = False
        log.msg(f"{_qualifiedName(self.factory)} starting on {where}")
        self.factory.doStart()
        self.connected = True
        self.startReading()

    def doRead(self) -> object:
        """Accept waiting connections and connect a new protocol to each."""
        assert self.socket is not None
        accept = self.socket.accept
        for _ in range(self.numberAccepts):
            try:
                sock, addr = accept()
            except (BlockingIOError, InterruptedError):
                return None
            except OSError as e:
                if e.errno in _ACCEPT_RESOURCE_ERRNOS:
                    self._pauseAccepting(e)
                    return None
                if e.errno in _ACCEPT_SKIP_ERRNOS:
                    continue
                raise
            if self._acceptStarved:
                self._acceptStarved = False
                log.msg("Accepting new connections again")
            self._accepted(sock, addr)
        return None

    def _accepted(self, sock: socket.socket, addr: Any) -> None:
        sock.setblocking(False)
        peer = self._peerAddress(addr)
        try:
            protocol = self.factory.buildProtocol(peer)
        except Exception:
            log.err(None, f"{type(self.factory).__name__}.buildProtocol failed; closing {peer}")
            sock.close()
            return
        if protocol is None:
            sock.close()
            return
        sessionno = self._sessionno
        self._sessionno += 1
        self._serve(sock, protocol, peer, sessionno)

    def _peerAddress(self, addr: Any) -> _A:
        raise NotImplementedError(f"{type(self).__name__} must implement _peerAddress")

    def _serve(self, sock: socket.socket, protocol: Any, peer: _A, sessionno: int) -> None:
        """Make the transport of an accepted connection and connect its protocol."""
        raise NotImplementedError(f"{type(self).__name__} must implement _serve")

    def _closedMessage(self) -> str:
        raise NotImplementedError(f"{type(self).__name__} must implement _closedMessage")

    def _pauseAccepting(self, reason: OSError) -> None:
        """Out of descriptors or memory: leave the backlog alone for a moment."""
        if not self._acceptStarved:
            self._acceptStarved = True
            code = errno.errorcode.get(reason.errno or 0, reason.errno)
            log.msg(
                f"Could not accept new connection ({code}: {reason.strerror}); "
                f"retrying every {self.acceptRetryDelay} seconds"
            )
        self.stopReading()
        self._acceptRetry = self.reactor.callLater(self.acceptRetryDelay, self._resumeAccepting)

    def _resumeAccepting(self) -> None:
        self._acceptRetry = None
        if self.connected and not self.disconnecting:
            self.startReading()

    def loseConnection(self) -> None:
        """Stop listening (the same as ``stopListening``)."""
        self.stopListening()

    def stopListening(self) -> Deferred[None]:
        """Stop accepting; return a Deferred that fires once the socket is closed."""
        return stopListeningOnce(self)

    def connectionLost(self, reason: Any) -> None:
        """Close the listening socket, stop the factory and fire ``stopListening``."""
        if self.disconnected:
            return
        super().connectionLost(reason)
        if self._acceptRetry is not None and self._acceptRetry.active():
            self._acceptRetry.cancel()
        self._acceptRetry = None
        log.msg(self._closedMessage())
        if self.socket is not None:
            self.socket.close()
        self._fileno = -1
        try:
            self.factory.doStop()
        finally:
            stoppedListening(self)

    def getHost(self) -> _A:
        """Return the address the port is (or was last) bound to.

        Raises:
            RuntimeError: if the port never listened.
        """
        if self._hostAddress is None:
            raise RuntimeError("the port is not listening; call startListening first")
        return self._hostAddress


@implementer(IListeningPort)
class Port(_BasePort[_IPAddress]):
    """A listening TCP socket that accepts connections and builds their protocols.

    Args:
        port: the port number (0: any free port).
        factory: the IProtocolFactory to build a protocol per connection.
        backlog: the listen queue length.
        interface: the address to bind ('' for every IPv4 interface; '::' for IPv6).
        reactor: the reactor to run in.
    """

    __slots__ = ("_realPortNumber", "addressFamily", "interface", "port")

    def __init__(self, port: int, factory: Any, backlog: int, interface: str, reactor: Any) -> None:
        super().__init__(factory, backlog, reactor)
        self.port = port
        self.interface = interface
        self.addressFamily = socket.AF_INET6 if interface and ":" in interface else socket.AF_INET
        self._realPortNumber: int | None = None

    def __repr__(self) -> str:
        if self._realPortNumber is not None:
            return f"<{type(self.factory).__name__} on {self._realPortNumber}>"
        return f"<{type(self.factory).__name__} (not listening)>"

    @classmethod
    def _fromListeningDescriptor(
        cls, reactor: Any, fileDescriptor: int, addressFamily: int, factory: Any
    ) -> Port:
        """Make a Port for a socket already bound and listening (reactor.adoptStreamPort).

        The port works on a duplicate of ``fileDescriptor``; the caller keeps the
        original. Once stopped, the port can be started again: it then binds a new
        socket to the same address.
        """
        sock = _adoptSocket(fileDescriptor, addressFamily)
        try:
            listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        except OSError:
            listening = 1  # Platforms without SO_ACCEPTCONN: trust the caller.
        if not listening:
            sock.close()
            raise error.CannotListenError(
                "", 0, OSError(errno.EINVAL, f"descriptor {fileDescriptor} is not listening")
            )
        host, portNumber = sock.getsockname()[:2]
        port = cls(portNumber, factory, 50, host, reactor)
        port.addressFamily = socket.AddressFamily(addressFamily)
        port._preexistingSocket = sock
        return port

    def startListening(self) -> None:
        """Bind, listen, start the factory and begin accepting.

        A port stopped with ``stopListening`` may be started again (an adopted port
        then binds a new socket to the same address).

        Raises:
            CannotListenError: if the address cannot be bound or listened on.
            AlreadyListened: if the port is listening already.
        """
        self._checkNotListening()
        sock, self._preexistingSocket = self._preexistingSocket, None
        if sock is None:
            sock = self._bindSocket()
        self._hostAddress = _addressFor(self.addressFamily, sock.getsockname())
        self._realPortNumber = self._hostAddress.port
        self._startAccepting(sock, str(self._realPortNumber))

    def _bindSocket(self) -> socket.socket:
        try:
            sock = socket.socket(self.addressFamily, socket.SOCK_STREAM)
        except OSError as e:
            raise error.CannotListenError(self.interface, self.port, e) from e
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if self.addressFamily == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((self.interface, self.port))
            sock.listen(self.backlog)
        except OSError as e:
            sock.close()
            raise error.CannotListenError(self.interface, self.port, e) from e
        return sock

    def _peerAddress(self, addr: Any) -> _IPAddress:
        return _addressFor(self.addressFamily, addr)

    def _serve(
        self, sock: socket.socket, protocol: Any, peer: IPv4Address | IPv6Address, sessionno: int
    ) -> None:
        """Make the transport of an accepted connection and connect its protocol."""
        transport = Server(sock, protocol, peer, self, sessionno, self.reactor)
        log.callWithLogger(transport, transport._makeConnection)

    def _closedMessage(self) -> str:
        return f"(TCP Port {self._realPortNumber} Closed)"


class _Connecting:
    """Binding, name resolution and the socket's family of an outgoing connection.

    Shared by Client and the asyncio reactor's loop-run client
    (torsion.internet._asynciotcp.LoopClient). The class supplies ``failIfNotConnected``,
    ``_useSocket`` (adopt a new socket) and ``_connectResolved`` (start connecting to
    ``addr``).
    """

    __slots__ = ()

    # Slots of the classes that mix this in.
    socket: _Socket
    reactor: Any
    bindAddress: tuple[str, int] | None
    port: int
    addr: tuple[str, int]
    _connecting: bool
    disconnected: bool

    def failIfNotConnected(self, err: BaseException) -> None:
        raise NotImplementedError

    def _useSocket(self, sock: _Socket) -> None:
        raise NotImplementedError

    def _connectResolved(self) -> None:
        raise NotImplementedError

    def _bind(self) -> bool:
        """Bind to ``bindAddress`` if one was given; on failure, fail the attempt soon."""
        if self.bindAddress is None:
            return True
        try:
            self.socket.bind(self.bindAddress)
        except OSError as e:
            self.reactor.callLater(0, self.failIfNotConnected, error.ConnectBindError(e))
            return False
        return True

    def _resolveFailed(self, reason: Failure) -> None:
        self.failIfNotConnected(error.DNSLookupError(str(reason.value)))

    def _resolved(self, address: str) -> None:
        """Connect to ``address``, first swapping the socket if its family differs."""
        if not self._connecting or self.disconnected:
            return
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        if family != self.socket.family:
            try:
                sock = _makeClientSocket(family)
            except OSError as e:
                self.failIfNotConnected(error.getConnectError(e))
                return
            self.socket.close()
            self._useSocket(sock)
            if not self._bind():
                return
        self.addr = (address, self.port)  # type: ignore[misc]
        self._connectResolved()


def _makeClientSocket(family: int) -> _Socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    return sock


class _StreamClient(_StreamConnection[_A]):
    """The connect state machine of an outgoing stream connection, TCP's or UNIX's.

    The subclass makes the socket, starts ``doConnect`` (once the address is known)
    and provides ``_learnAddresses`` (set ``_peer`` and ``_hostAddress`` once
    connected); ``_connectError`` and ``_connectAgainLater`` let it word a failure
    and retry a refusal that is only temporary.
    """

    __slots__ = ("_connecting", "_peer", "addr", "connector")
    _tlsClientDefault = True

    # Where the connect is going (what connect_ex takes).
    addr: Any
    # connect_ex results meaning "under way": readiness of the socket finishes it.
    _connectPending = frozenset({errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY, errno.EINTR})

    def __init__(self, sock: socket.socket, addr: Any, connector: Any, reactor: Any) -> None:
        super().__init__(sock, None, reactor)
        self.connected = False
        self._connecting = True
        self._peer: _A | None = None
        self.addr = addr
        self.connector = connector
        self._logPrefix = "Uninitialized"

    def doConnect(self) -> None:
        """Start or finish the non-blocking connect."""
        if not self._connecting:
            return
        code = self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if not code:
            code = self.socket.connect_ex(self.addr)
            if code in self._connectPending:
                self.startReading()
                self.startWriting()
                return
        if code and code != errno.EISCONN:
            if not self._connectAgainLater(code):
                self.failIfNotConnected(self._connectError(code))
            return
        self.stopReading()
        self.stopWriting()
        self._connectDone()

    def _connectError(self, code: int) -> BaseException:
        """Return the error that the failed connect's ``code`` (an errno) means."""
        return error.getConnectError((code, os.strerror(code)))

    def _connectAgainLater(self, code: int) -> bool:
        """Arrange to try connecting again if ``code`` is a temporary refusal."""
        return False

    def _learnAddresses(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _learnAddresses")

    def _connectDone(self) -> None:
        self._connecting = False
        self.connected = True
        self._learnAddresses()
        protocol = self.connector.buildProtocol(self._peer)
        if protocol is None:
            self.protocol = None
            self._disconnectNow(error.ConnectionDone())
            return
        self.protocol = protocol
        self._logPrefix = f"{_logPrefixOf(protocol)},client"
        log.callWithLogger(self, self._makeConnection)

    # The doRead and doWrite of the connection once made: the ones after this class in
    # the MRO of the concrete class, looked up once per class, since a super() call on
    # every event cost more than the rest of a small read.
    _connectedRead: Any
    _connectedWrite: Any

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._connectedRead = super().doRead
        cls._connectedWrite = super().doWrite

    def doRead(self) -> object:
        """Read; while connecting, readiness means the connect finished."""
        if self._connecting:
            self.doConnect()
            return None
        return self._connectedRead()

    def doWrite(self) -> object:
        """Write; while connecting, readiness means the connect finished."""
        if self._connecting:
            self.doConnect()
            return None
        return self._connectedWrite()

    def failIfNotConnected(self, err: BaseException) -> None:
        """Give up the attempt with ``err`` unless the connection is already made."""
        if self.connected or self.disconnected or not self._connecting:
            return
        self._connecting = False
        self.disconnected = True
        self.stopReading()
        self.stopWriting()
        self._fileno = -1
        self.socket.close()
        self.connector.connectionFailed(Failure(err))

    def connectionLost(self, reason: Any) -> None:
        """Close, tell the protocol, then the connector (and so the factory)."""
        if self.disconnected:
            return
        if self.protocol is None:
            FileDescriptor.connectionLost(self, reason)
            self._fileno = -1
            self.socket.close()
        else:
            super().connectionLost(reason)
        self.connector.connectionLost(reason)

    def getPeer(self) -> _A:
        """Return the server's address (also after the connection is closed).

        Raises:
            RuntimeError: if the connection is not made yet.
        """
        if self._peer is None:
            raise RuntimeError("not connected yet; getPeer works from connectionMade on")
        return self._peer

    def __repr__(self) -> str:
        return f"<{type(self).__name__} to {self.addr} at {id(self):#x}>"


class Client(_StreamClient[_IPAddress], _Connecting, Connection):
    """An outgoing TCP connection attempt that becomes the connection's transport.

    Raises:
        OSError: if no socket can be made (Connector turns that into a failed attempt).
    """

    __slots__ = ("bindAddress", "host", "port")

    def __init__(
        self,
        host: str,
        port: int,
        bindAddress: tuple[str, int] | None,
        connector: Connector,
        reactor: Any,
    ) -> None:
        family = socket.AF_INET6 if ":" in host and isIPAddress(host) else socket.AF_INET
        super().__init__(self._makeSocket(family), (host, port), connector, reactor)
        self.host = host
        self.port = port
        self.addr: tuple[str, int]
        self.bindAddress = bindAddress
        if not self._bind():
            return
        if isIPAddress(host):
            reactor.callLater(0, self._resolved, host)
        else:
            reactor.resolve(host).addCallbacks(self._resolved, self._resolveFailed)

    _makeSocket = staticmethod(_makeClientSocket)

    def _useSocket(self, sock: socket.socket) -> None:
        self.socket, self._fileno = sock, sock.fileno()

    def _connectResolved(self) -> None:
        self.doConnect()

    def _learnAddresses(self) -> None:
        family = self.socket.family
        try:
            self._peer = _addressFor(family, self.socket.getpeername())
            self._hostAddress = _addressFor(family, self.socket.getsockname())
        except OSError:
            # Reset already: the connection will report it as soon as it reads.
            self._peer = _addressFor(family, self.addr)


class _FailedAttempt:
    """Stands in for a Client whose socket could not be made, and fails the attempt soon.

    The failure reaches the factory's clientConnectionFailed on the next pass of the
    loop, as every other failed attempt does, instead of being raised from connectTCP.
    """

    def __init__(self, connector: BaseConnector, reason: BaseException) -> None:
        self.connector: BaseConnector | None = connector
        self._call = connector.reactor.callLater(0, self.failIfNotConnected, reason)

    def failIfNotConnected(self, err: BaseException) -> None:
        if self.connector is None:
            return
        if self._call.active():
            self._call.cancel()
        connector, self.connector = self.connector, None
        connector.connectionFailed(Failure(err))


class Connector(BaseConnector):
    """The IConnector of ``connectTCP``: repeatable attempts to reach host:port."""

    def __init__(
        self,
        host: str,
        port: int,
        factory: Any,
        timeout: float | None,
        bindAddress: tuple[str, int] | None,
        reactor: Any,
    ) -> None:
        if isinstance(port, str):
            try:
                port = socket.getservbyname(port, "tcp")
            except OSError as e:
                raise error.ServiceNameUnknownError(string=f"{e} ({port!r})") from e
        self.host = host
        self.port = port
        self.bindAddress = bindAddress
        super().__init__(factory, timeout, reactor)

    def _makeTransport(self) -> Client | _FailedAttempt:
        try:
            return Client(self.host, self.port, self.bindAddress, self, self.reactor)
        except OSError as e:
            return _FailedAttempt(self, error.getConnectError(e))

    def getDestination(self) -> IPv4Address | IPv6Address:
        """Return the address being connected to."""
        if ":" in self.host and isIPAddress(self.host):
            return IPv6Address("TCP", self.host, self.port)
        return IPv4Address("TCP", self.host, self.port)
