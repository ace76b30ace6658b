"""UNIX datagram sockets: the ports of listenUNIXDatagram and connectUNIXDatagram.

A DatagramPort is bound to a name (``write(data, path)``; its protocol hears
``datagramReceived(data, senderName)``); a ConnectedDatagramPort talks to one peer
(``write(data)``; as in Twisted, ``datagramReceived(data)``, ``connectionFailed`` and
``connectionRefused``). Re-exported by torsion.internet.unix, whose docstring has the
whole picture.
Tests: tests/internet/test_unixdatagram.py.
"""

from __future__ import annotations

import errno
import os
import socket
from collections import deque
from typing import Any

from zope.interface import implementer

from torsion.internet import error, tcp
from torsion.internet._unixpaths import (
    _connectError,
    _defaultReactor,
    _Name,
    bindUNIX,
    nameProblem,
    removeSocketFile,
    socketName,
)
from torsion.internet.abstract import _asBytes, stopListeningOnce, stoppedListening
from torsion.internet.address import UNIXAddress
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import (
    IListeningPort,
    IReadWriteDescriptor,
    IUNIXDatagramConnectedTransport,
    IUNIXDatagramTransport,
)
from torsion.python import log
from torsion.python.failure import Failure

# -- datagrams ------------------------------------------------------------------------


def _senderName(addr: Any) -> str | None:
    return os.fsdecode(addr) if addr else None


@implementer(IUNIXDatagramTransport, IListeningPort, IReadWriteDescriptor)
class DatagramPort:
    """A UNIX datagram socket bound to a name: ``listenUNIXDatagram``'s transport.

    The protocol is attached with ``makeConnection(port)`` (a DatagramProtocol runs
    its ``doStart``/``startProtocol`` then) and hears ``datagramReceived(data,
    senderName)``, the sender's name being a str, or None for an unnamed sender
    (which cannot be answered). ``write(data, name)`` sends at once. A datagram
    longer than ``maxPacketSize`` is dropped, with a log line, rather than
    delivered cut short.

    When the receiver's queue is full the kernel refuses the datagram, and it is
    dropped: an unconnected socket cannot learn when the receiver has room again.
    The first drop of a run is logged. A ConnectedDatagramPort waits instead.

    Args:
        addr: the name to bind (path or Linux abstract name); None for none.
        proto: the datagram protocol.
        maxPacketSize: the longest datagram received.
        mode: the permission bits of the socket file (who may send to it).
        reactor: the reactor to run in (None: the installed one).
    """

    __slots__ = (
        "__weakref__",
        "_dropping",
        "_fileIdentity",
        "_fileno",
        "_stoppedDeferred",
        "connected",
        "disconnected",
        "disconnecting",
        "maxPacketSize",
        "mode",
        "port",
        "protocol",
        "reactor",
        "socket",
    )

    # The most bytes one readiness event reads, so a flood cannot starve the loop.
    maxThroughput = 256 * 1024

    def __init__(
        self,
        addr: _Name | None,
        proto: Any,
        maxPacketSize: int = 8192,
        mode: int = 0o666,
        reactor: Any = None,
    ) -> None:
        self.port = None if addr is None else socketName(addr)
        self.protocol = proto
        self.maxPacketSize = maxPacketSize
        self.mode = mode
        self.reactor = _defaultReactor(reactor)
        self.socket: socket.socket | None = None
        self._fileno = -1
        self._fileIdentity: tuple[int, int] | None = None
        self._stoppedDeferred: Deferred[None] | None = None
        self._dropping = False
        self.connected = False
        self.disconnecting = False
        self.disconnected = False

    def __repr__(self) -> str:
        where = f"on {self.port!r}" if self.connected else "(not listening)"
        return f"<{tcp._qualifiedName(self.protocol)} {where}>"

    def fileno(self) -> int:
        """Return the socket's descriptor, or -1."""
        return self._fileno

    def logPrefix(self) -> str:
        """Return the protocol's log prefix."""
        return tcp._logPrefixOf(self.protocol)

    def startListening(self) -> None:
        """Bind the socket, attach the protocol and start reading.

        Raises:
            CannotListenError: saying why the name cannot be bound.
            AlreadyListened: if the port is listening already.
        """
        if self.connected:
            raise error.AlreadyListened(f"{self!r} is already listening; stop it first")
        sock = self._bindSocket()
        self._adopt(sock)
        log.msg(f"{tcp._qualifiedName(self.protocol)} starting on {self.port!r}")
        self._connectToProtocol()

    def _bindSocket(self) -> socket.socket:
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        except OSError as e:
            raise error.CannotListenError(None, self.port or "", e) from e
        if self.port is not None:
            try:
                self._fileIdentity = bindUNIX(sock, self.port, self.mode)
            except BaseException:
                sock.close()
                raise
        return sock

    def _adopt(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.socket = sock
        self._fileno = sock.fileno()
        self._stoppedDeferred = None
        self.connected = True
        self.disconnected = self.disconnecting = False

    def _connectToProtocol(self) -> None:
        try:
            self.protocol.makeConnection(self)
        except BaseException:
            self._closeSocket()
            self.connected = False
            self.disconnected = True
            raise
        if self.connected and not self.disconnecting:
            self.reactor.addReader(self)

    def write(self, datagram: bytes, address: _Name) -> None:
        """Send ``datagram`` to the socket named ``address`` now.

        Raises:
            TypeError: ``datagram`` is not bytes.
            MessageLengthError: it is longer than the socket can send.
            OSError: nothing can receive at ``address`` (no such socket, or one
                nobody reads), said with the address.
        """
        if not isinstance(datagram, bytes):
            datagram = _asBytes(datagram)
        if self.socket is None or not self.connected:
            return
        target = socketName(address)
        while True:
            try:
                self.socket.sendto(datagram, target)
            except InterruptedError:
                continue
            except BlockingIOError:
                self._dropped(target)
            except OSError as e:
                if e.errno == errno.EMSGSIZE:
                    raise _tooLong(len(datagram)) from e
                raise OSError(
                    e.errno, f"{e.strerror}: could not send to the UNIX socket {target!r}"
                ) from e
            else:
                self._dropping = False
            return

    def _dropped(self, target: str) -> None:
        if not self._dropping:
            self._dropping = True
            log.msg(
                f"The receiver at {target!r} is not keeping up: dropping datagrams to it "
                "until it does (connectUNIXDatagram waits for room instead)"
            )

    def doRead(self) -> object:
        """Read waiting datagrams (up to ``maxThroughput`` bytes) and deliver them."""
        sock = self.socket
        assert sock is not None
        read = 0
        while read < self.maxThroughput and not self.disconnecting:
            try:
                data, _, flags, addr = sock.recvmsg(self.maxPacketSize)
            except (BlockingIOError, InterruptedError):
                return None
            except OSError as e:
                if e.errno in (errno.ECONNREFUSED, errno.ENOTCONN):
                    self._refused()
                    continue
                raise
            read += len(data) + 1
            if flags & socket.MSG_TRUNC:
                log.msg(
                    f"Dropped a datagram longer than maxPacketSize ({self.maxPacketSize} "
                    "bytes); give listenUNIXDatagram a larger maxPacketSize"
                )
                continue
            try:
                self._deliver(data, addr)
            except Exception:
                log.err(None, f"Error in {type(self.protocol).__name__}.datagramReceived")
        return None

    def _deliver(self, data: bytes, addr: Any) -> None:
        self.protocol.datagramReceived(data, _senderName(addr))

    def _refused(self) -> None:
        pass

    def doWrite(self) -> object:
        """Nothing waits to be written on an unconnected socket."""
        self.reactor.removeWriter(self)
        return None

    def getHost(self) -> UNIXAddress:
        """Return this socket's address (UNIXAddress(None) if it has no name)."""
        return UNIXAddress(self.port)

    def loseConnection(self) -> Deferred[None]:
        """Stop listening (the same as ``stopListening``)."""
        return self.stopListening()

    def stopListening(self) -> Deferred[None]:
        """Close the socket soon; return a Deferred that fires once it is closed."""
        return stopListeningOnce(self, self._startClosing)

    def _startClosing(self) -> None:
        self.reactor.removeReader(self)
        self.reactor.removeWriter(self)
        self.reactor.callLater(0, self._disconnectNow)

    def _disconnectNow(self) -> None:
        log.callWithLogger(self, self.connectionLost, Failure(error.ConnectionDone()))

    def _closeSocket(self) -> None:
        if self.socket is not None:
            self.reactor.removeReader(self)
            self.reactor.removeWriter(self)
            if self.port is not None:
                removeSocketFile(self.port, self._fileIdentity)
            self._fileIdentity = None
            self.socket.close()
        self._fileno = -1

    def _closedMessage(self) -> str:
        return f"(UNIX Datagram Port {self.port} Closed)"

    def connectionLost(self, reason: Any) -> None:
        """Close the socket (removing its file), stop the protocol, fire ``stopListening``."""
        if self.disconnected:
            return
        self.disconnected = True
        wasConnected, self.connected = self.connected, False
        self._closeSocket()
        if wasConnected:
            log.msg(self._closedMessage())
            try:
                self.protocol.doStop()
            except Exception:
                log.err(None, f"Error in {type(self.protocol).__name__}.doStop")
        stoppedListening(self)


def _tooLong(size: int) -> Exception:
    return error.MessageLengthError(
        f"a datagram of {size} bytes is more than this UNIX socket can send; "
        "send smaller datagrams (or raise the sender's SO_SNDBUF)"
    )


@implementer(IUNIXDatagramConnectedTransport, IListeningPort, IReadWriteDescriptor)
class ConnectedDatagramPort(DatagramPort):
    """A UNIX datagram socket connected to one peer: ``connectUNIXDatagram``'s transport.

    As in Twisted, its protocol is a connected datagram protocol: it hears
    ``datagramReceived(data)`` (no address: only the peer can send to it),
    ``connectionFailed(failure)`` if the peer cannot be connected to (the port is
    then closed), and ``connectionRefused()`` when the peer's socket has gone.

    A datagram written while the peer's queue is full waits (up to
    ``maxBufferedBytes``; more is dropped, with a log line) and goes as soon as the
    kernel says the peer has room.

    Args:
        addr: the peer's name.
        proto: the connected datagram protocol.
        maxPacketSize: the longest datagram received.
        mode: the permission bits of the socket file at ``bindAddress``.
        bindAddress: a name to bind this end to, or None (the peer then sees an
            unnamed sender).
        reactor: the reactor to run in (None: the installed one).
    """

    __slots__ = ("_pending", "_pendingSize", "_watchingWrites", "remoteaddr")

    # The most bytes of datagrams that wait for the peer to have room.
    maxBufferedBytes = 256 * 1024

    def __init__(
        self,
        addr: _Name,
        proto: Any,
        maxPacketSize: int = 8192,
        mode: int = 0o666,
        bindAddress: _Name | None = None,
        reactor: Any = None,
    ) -> None:
        super().__init__(bindAddress, proto, maxPacketSize, mode, reactor)
        self.remoteaddr = socketName(addr)
        self._pending: deque[bytes] = deque()
        self._pendingSize = 0
        self._watchingWrites = False

    def __repr__(self) -> str:
        where = f"to {self.remoteaddr!r}" if self.connected else "(not connected)"
        return f"<{tcp._qualifiedName(self.protocol)} {where}>"

    def startListening(self) -> None:
        """Bind (if asked), connect to the peer and attach the protocol.

        Any failure (the peer's socket is missing, the bind address is unusable) goes
        to the protocol's ``connectionFailed`` instead of being raised, as in Twisted.
        """
        if self.connected:
            raise error.AlreadyListened(f"{self!r} is already connected; stop it first")
        try:
            sock = self._bindSocket()
        except error.CannotListenError:
            self._connectionFailed(Failure())
            return
        problem = nameProblem(self.remoteaddr)
        code = errno.EINVAL if problem is not None else sock.connect_ex(self.remoteaddr)
        if code:
            if self.port is not None:
                removeSocketFile(self.port, self._fileIdentity)
            sock.close()
            failure: error.ConnectError
            if problem is not None:
                failure = error.BadFileError(
                    osError=errno.errorcode.get(problem.errno or 0), string=problem.strerror or ""
                )
            else:
                failure = _connectError(self.remoteaddr, code, "datagram")
            self._connectionFailed(Failure(failure))
            return
        self._adopt(sock)
        log.msg(f"{tcp._qualifiedName(self.protocol)} connected to {self.remoteaddr!r}")
        self._connectToProtocol()

    def _connectionFailed(self, reason: Failure) -> None:
        self.disconnected = True
        connectionFailed = getattr(self.protocol, "connectionFailed", None)
        if connectionFailed is None:
            log.err(reason, f"connectUNIXDatagram to {self.remoteaddr!r} failed")
            return
        try:
            connectionFailed(reason)
        except Exception:
            log.err(None, f"Error in {type(self.protocol).__name__}.connectionFailed")

    def write(self, datagram: bytes, address: Any = None) -> None:
        """Send ``datagram`` to the peer (or queue it while the peer has no room).

        Raises:
            TypeError: ``datagram`` is not bytes.
            MessageLengthError: it is longer than the socket can send.
        """
        if not isinstance(datagram, bytes):
            datagram = _asBytes(datagram)
        if self.socket is None or not self.connected or self.disconnecting:
            return
        if self._pending or not self._send(datagram):
            self._queue(datagram)

    def _send(self, datagram: bytes) -> bool:
        """Send one datagram; False if the peer has no room (nothing was sent)."""
        assert self.socket is not None
        while True:
            try:
                self.socket.send(datagram)
            except InterruptedError:
                continue
            except BlockingIOError:
                return False
            except OSError as e:
                if e.errno == errno.EMSGSIZE:
                    raise _tooLong(len(datagram)) from e
                if e.errno in (errno.ECONNREFUSED, errno.ENOTCONN, errno.ECONNRESET):
                    self._refused()
                    return True
                raise
            return True

    def _queue(self, datagram: bytes) -> None:
        if self._pendingSize + len(datagram) > self.maxBufferedBytes:
            self._dropped(self.remoteaddr)
            return
        self._dropping = False
        self._pending.append(datagram)
        self._pendingSize += len(datagram)
        if not self._watchingWrites:
            self._watchingWrites = True
            self.reactor.addWriter(self)

    def doWrite(self) -> object:
        """The peer has room: send what waits, in order."""
        pending = self._pending
        while pending:
            if not self._send(pending[0]):
                return None
            self._pendingSize -= len(pending.popleft())
        self._watchingWrites = False
        self.reactor.removeWriter(self)
        return None

    def _refused(self) -> None:
        self._pending.clear()
        self._pendingSize = 0
        try:
            self.protocol.connectionRefused()
        except Exception:
            log.err(None, f"Error in {type(self.protocol).__name__}.connectionRefused")

    def _deliver(self, data: bytes, addr: Any) -> None:
        self.protocol.datagramReceived(data)

    def _closedMessage(self) -> str:
        return f"(UNIX Datagram Port to {self.remoteaddr} Closed)"

    def getPeer(self) -> UNIXAddress:
        """Return the peer's address."""
        return UNIXAddress(self.remoteaddr)

    def connectionLost(self, reason: Any) -> None:
        """Drop what waits, close the socket, stop the protocol."""
        self._pending.clear()
        self._pendingSize = 0
        self._watchingWrites = False
        super().connectionLost(reason)
