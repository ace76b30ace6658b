"""TCP for the selectable reactors: listening Port, accepted Server, outgoing Client.

``reactor.listenTCP`` makes a Port; each accepted connection is a Server transport;
``reactor.connectTCP`` makes a Connector whose attempts are Client transports. The
transports are FileDescriptors, so they buffer writes, close after draining and take
part in producer/consumer flow control. Every protocol callback runs with the
transport's log prefix ("EchoProtocol,0,127.0.0.1") as the log system.
Tests: tests/internet/test_tcp.py.
"""

from __future__ import annotations

import errno
import os
import socket
from typing import Any

from zope.interface import implementer

from torsion.internet import error
from torsion.internet.abstract import FileDescriptor
from torsion.internet.address import IPv4Address, IPv6Address
from torsion.internet.base import BaseConnector, isIPAddress
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import (
    IHalfCloseableProtocol,
    IListeningPort,
    ITCPTransport,
)
from torsion.python import log
from torsion.python.failure import Failure

__all__ = ["Client", "Connection", "Connector", "Port", "Server"]

_CONNECTION_LOST_ERRNOS = frozenset(
    {errno.ECONNRESET, errno.EPIPE, errno.ENOTCONN, errno.ECONNABORTED, errno.ETIMEDOUT}
)
_ACCEPT_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def _addressFor(family: int, sockaddr: Any) -> IPv4Address | IPv6Address:
    if family == socket.AF_INET6:
        return IPv6Address("TCP", sockaddr[0], sockaddr[1], sockaddr[2], sockaddr[3])
    return IPv4Address("TCP", sockaddr[0], sockaddr[1])


def _connectErrorFor(code: int) -> error.ConnectError:
    text = f"{errno.errorcode.get(code, code)}: {os.strerror(code)}"
    if code == errno.ECONNREFUSED:
        return error.ConnectionRefusedError(text)
    if code == errno.ETIMEDOUT:
        return error.TCPTimedOutError(text)
    if code in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return error.NoRouteError(text)
    return error.ConnectError(text)


@implementer(ITCPTransport)
class Connection(FileDescriptor):
    """A connected TCP socket: the transport a protocol writes to."""

    __slots__ = ("_fileno", "_logPrefix", "_recv", "_send", "protocol", "socket")

    readSize = 2**16

    def __init__(self, sock: socket.socket, protocol: Any, reactor: Any) -> None:
        super().__init__(reactor)
        self.socket = sock
        self._fileno = sock.fileno()
        self._recv = sock.recv
        self._send = sock.send
        self.protocol = protocol
        self._logPrefix = "-"
        self.connected = True

    def fileno(self) -> int:
        """Return the socket's descriptor, or -1 once closed."""
        return self._fileno

    def logPrefix(self) -> str:
        """Return "ProtocolClass,sessionno,peerhost" (servers) or the protocol class."""
        return self._logPrefix

    def doRead(self) -> object:
        """Read what the peer sent and hand it to the protocol."""
        try:
            data = self._recv(self.readSize)
        except BlockingIOError:
            return None
        except InterruptedError:
            return None
        except OSError as e:
            if e.errno in _CONNECTION_LOST_ERRNOS:
                return error.ConnectionLost(str(e))
            raise
        if not data:
            return error.ConnectionDone()
        self.protocol.dataReceived(data)
        return None

    def writeSomeData(self, data: memoryview) -> int | BaseException:
        """Send what the kernel takes of ``data``."""
        try:
            return self._send(data)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError as e:
            if e.errno in _CONNECTION_LOST_ERRNOS:
                return error.ConnectionLost(str(e))
            raise

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
        if IHalfCloseableProtocol.providedBy(self.protocol):
            self.stopReading()
            self.protocol.readConnectionLost()
            if self._writeDisconnected:
                self._disconnectNow(error.ConnectionDone())
        else:
            self._disconnectNow(reason.value)

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

    def getPeer(self) -> IPv4Address | IPv6Address:
        """Return the address of the other end."""
        raise NotImplementedError

    def getHost(self) -> IPv4Address | IPv6Address:
        """Return the address of this end."""
        return _addressFor(self.socket.family, self.socket.getsockname())

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


class Server(Connection):
    """A connection accepted by a Port."""

    __slots__ = ("client", "server", "sessionno")

    def __init__(
        self,
        sock: socket.socket,
        protocol: Any,
        client: IPv4Address | IPv6Address,
        server: Port,
        sessionno: int,
        reactor: Any,
    ) -> None:
        super().__init__(sock, protocol, reactor)
        self.client = client
        self.server = server
        self.sessionno = sessionno
        self._logPrefix = f"{type(protocol).__name__},{sessionno},{client.host}"

    def getPeer(self) -> IPv4Address | IPv6Address:
        """Return the client's address."""
        return self.client

    def getHost(self) -> IPv4Address | IPv6Address:
        """Return the server's address of this connection."""
        return _addressFor(self.socket.family, self.socket.getsockname())

    def __repr__(self) -> str:
        return f"<{type(self.protocol).__name__} #{self.sessionno} on {self.server.port}>"


@implementer(IListeningPort)
class Port(FileDescriptor):
    """A listening TCP socket that accepts connections and builds their protocols.

    Args:
        port: the port number (0: any free port).
        factory: the IProtocolFactory to build a protocol per connection.
        backlog: the listen queue length.
        interface: the address to bind ('' for every IPv4 interface; '::' for IPv6).
        reactor: the reactor to run in.
    """

    __slots__ = (
        "_fileno",
        "_realPortNumber",
        "_sessionno",
        "_stoppedDeferred",
        "addressFamily",
        "backlog",
        "factory",
        "interface",
        "port",
        "socket",
    )

    # How many connections one readiness event may accept, so a flood cannot starve
    # the rest of the loop.
    numberAccepts = 100

    def __init__(self, port: int, factory: Any, backlog: int, interface: str, reactor: Any) -> None:
        super().__init__(reactor)
        self.port = port
        self.factory = factory
        self.backlog = backlog
        self.interface = interface
        self.addressFamily = socket.AF_INET6 if interface and ":" in interface else socket.AF_INET
        self.socket: socket.socket | None = None
        self._fileno = -1
        self._realPortNumber: int | None = None
        self._sessionno = 0
        self._stoppedDeferred: Deferred[None] | None = None

    def __repr__(self) -> str:
        if self._realPortNumber is not None:
            return f"<{type(self.factory).__name__} on {self._realPortNumber}>"
        return f"<{type(self.factory).__name__} (not listening)>"

    def fileno(self) -> int:
        """Return the listening socket's descriptor, or -1."""
        return self._fileno

    def logPrefix(self) -> str:
        """Return the factory's log prefix."""
        prefix = getattr(self.factory, "logPrefix", None)
        return str(prefix()) if prefix is not None else type(self.factory).__name__

    def startListening(self) -> None:
        """Bind, listen, start the factory and begin accepting.

        Raises:
            CannotListenError: if the address cannot be bound or listened on.
        """
        sock = socket.socket(self.addressFamily, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if self.addressFamily == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((self.interface, self.port))
            sock.listen(self.backlog)
        except OSError as e:
            sock.close()
            raise error.CannotListenError(self.interface, self.port, e) from e
        sock.setblocking(False)
        self.socket = sock
        self._fileno = sock.fileno()
        self._realPortNumber = sock.getsockname()[1]
        log.msg(f"{self.logPrefix()} starting on {self._realPortNumber}")
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
                    log.msg(f"Could not accept new connection ({errno.errorcode[e.errno]})")
                    return None
                if e.errno == errno.ECONNABORTED:
                    continue
                raise
            sock.setblocking(False)
            peer = _addressFor(self.addressFamily, addr)
            protocol = self.factory.buildProtocol(peer)
            if protocol is None:
                sock.close()
                continue
            sessionno = self._sessionno
            self._sessionno += 1
            transport = Server(sock, protocol, peer, self, sessionno, self.reactor)
            log.callWithLogger(transport, protocol.makeConnection, transport)
            if transport.connected and not transport.disconnecting:
                transport.startReading()
        return None

    def loseConnection(self) -> None:
        """Stop listening (the same as ``stopListening``)."""
        self.stopListening()

    def stopListening(self) -> Deferred[None]:
        """Stop accepting; return a Deferred that fires once the socket is closed."""
        if self._stoppedDeferred is not None:
            return self._stoppedDeferred
        result: Deferred[None] = Deferred()
        self._stoppedDeferred = result
        if not self.connected:
            result.callback(None)
            return result
        self.disconnecting = True
        self.stopReading()
        self.reactor.callLater(0, self.connectionLost, Failure(error.ConnectionDone()))
        return result

    def connectionLost(self, reason: Any) -> None:
        """Close the listening socket, stop the factory and fire ``stopListening``."""
        if self.disconnected:
            return
        super().connectionLost(reason)
        log.msg(f"(TCP Port {self._realPortNumber} Closed)")
        if self.socket is not None:
            self.socket.close()
        self._fileno = -1
        try:
            self.factory.doStop()
        finally:
            if self._stoppedDeferred is None:
                self._stoppedDeferred = Deferred()
            if not self._stoppedDeferred.called:
                self._stoppedDeferred.callback(None)

    def getHost(self) -> IPv4Address | IPv6Address:
        """Return the address the port is bound to (with the real port number)."""
        if self.socket is None:
            raise RuntimeError("the port is not listening")
        return _addressFor(self.addressFamily, self.socket.getsockname())


class Client(Connection):
    """An outgoing connection attempt that becomes the connection's transport."""

    __slots__ = ("_connecting", "addr", "bindAddress", "connector", "host", "port")

    def __init__(
        self,
        host: str,
        port: int,
        bindAddress: tuple[str, int] | None,
        connector: Connector,
        reactor: Any,
    ) -> None:
        sock = socket.socket(
            socket.AF_INET6 if ":" in host and isIPAddress(host) else socket.AF_INET,
            socket.SOCK_STREAM,
        )
        sock.setblocking(False)
        super().__init__(sock, None, reactor)
        self.connected = False
        self._connecting = True
        self.host = host
        self.port = port
        self.addr: tuple[str, int] = (host, port)
        self.bindAddress = bindAddress
        self.connector = connector
        self._logPrefix = "Uninitialized"
        if bindAddress is not None:
            try:
                sock.bind(bindAddress)
            except OSError as e:
                reactor.callLater(0, self.failIfNotConnected, error.ConnectBindError(str(e)))
                return
        if isIPAddress(host):
            reactor.callLater(0, self._resolved, host)
        else:
            reactor.resolve(host).addCallbacks(self._resolved, self._resolveFailed)

    def _resolveFailed(self, reason: Failure) -> None:
        self.failIfNotConnected(error.DNSLookupError(str(reason.value)))

    def _resolved(self, address: str) -> None:
        if not self._connecting or self.disconnected:
            return
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        if family != self.socket.family:
            self.socket.close()
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            self.socket, self._fileno = sock, sock.fileno()
            self._recv, self._send = sock.recv, sock.send
        self.addr = (address, self.port)
        self.doConnect()

    def doConnect(self) -> None:
        """Start or finish the non-blocking connect."""
        if not self._connecting:
            return
        code = self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self.failIfNotConnected(_connectErrorFor(code))
            return
        code = self.socket.connect_ex(self.addr)
        if code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY, errno.EINTR):
            self.startReading()
            self.startWriting()
            return
        if code and code != errno.EISCONN:
            self.failIfNotConnected(_connectErrorFor(code))
            return
        self.stopReading()
        self.stopWriting()
        self._connectDone()

    def _connectDone(self) -> None:
        self._connecting = False
        self.connected = True
        protocol = self.connector.buildProtocol(self.getPeer())
        if protocol is None:
            self.protocol = None
            self._disconnectNow(error.ConnectionDone())
            return
        self.protocol = protocol
        self._logPrefix = type(protocol).__name__
        log.callWithLogger(self, protocol.makeConnection, self)
        if self.connected and not self.disconnecting:
            self.startReading()

    def doRead(self) -> object:
        """Read; while connecting, readiness means the connect finished."""
        if self._connecting:
            self.doConnect()
            return None
        return super().doRead()

    def doWrite(self) -> object:
        """Write; while connecting, readiness means the connect finished."""
        if self._connecting:
            self.doConnect()
            return None
        return super().doWrite()

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
            super(Connection, self).connectionLost(reason)
            self._fileno = -1
            self.socket.close()
        else:
            super().connectionLost(reason)
        self.connector.connectionLost(reason)

    def getPeer(self) -> IPv4Address | IPv6Address:
        """Return the server's address."""
        return _addressFor(self.socket.family, self.socket.getpeername())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} to {self.addr} at {id(self):#x}>"


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

    def _makeTransport(self) -> Client:
        return Client(self.host, self.port, self.bindAddress, self, self.reactor)

    def getDestination(self) -> IPv4Address | IPv6Address:
        """Return the address being connected to."""
        if ":" in self.host and isIPAddress(self.host):
            return IPv6Address("TCP", self.host, self.port)
        return IPv4Address("TCP", self.host, self.port)
