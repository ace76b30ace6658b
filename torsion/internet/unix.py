"""UNIX sockets for the descriptor reactors: stream Port/Server/Client/Connector, datagram ports.

``reactor.listenUNIX(path, factory)`` makes a Port whose accepted connections are
Server transports; ``reactor.connectUNIX(path, factory)`` makes a Connector whose
attempts are Client transports. They are built on the same stream machinery as TCP
(torsion.internet.tcp's _StreamConnection, _StreamClient and _BasePort), so they
buffer writes, half-close, take producers and log as TCP does: "module.Factory
starting on '/tmp/app.sock'", "(UNIX Port /tmp/app.sock Closed)", and the protocol's
log prefix "Echo,0," (protocol, session number, peer name, which for a UNIX client
is usually empty).

What UNIX sockets add:

- Passing descriptors: ``transport.sendFileDescriptor(fd)`` sends a duplicate of
  ``fd`` with the first byte written after the call (SCM_RIGHTS); a protocol that
  provides IFileDescriptorReceiver gets ``fileDescriptorReceived(fd)`` before the
  bytes it came with; descriptors sent to any other protocol are closed by the
  kernel, and never reach this process. At most ``maxFileDescriptorsPerMessage``
  go in one message, and at most ``maxPendingFileDescriptors`` wait to be sent.
- Peer credentials: ``transport.getPeerCredentials()`` (torsion's: Twisted has no
  public API for it) returns PeerCredentials(pid, uid, gid) of the other process.
- Socket files: ``mode`` is applied to the socket file, a stale socket file (nobody
  listens on it any more) is removed, ``wantPID`` keeps a pid lock file beside it,
  and ``stopListening`` removes both. See torsion.internet._unixpaths.
- Abstract names (Linux): a name starting with a NUL has no file at all.
- Datagrams: ``listenUNIXDatagram`` makes a DatagramPort (``write(data, path)``;
  the protocol's ``datagramReceived(data, senderName)``); ``connectUNIXDatagram`` a
  ConnectedDatagramPort (``write(data)``; as in Twisted, ``datagramReceived(data)``,
  ``connectionFailed(failure)`` and ``connectionRefused()``).

Tests: tests/internet/test_unix.py and tests/internet/test_unixdatagram.py.
"""

from __future__ import annotations

import errno
import os
import socket
from array import array
from collections import deque
from typing import Any

from zope.interface import implementer

from torsion.internet import error, tcp
from torsion.internet._unixdatagram import ConnectedDatagramPort, DatagramPort
from torsion.internet._unixpaths import (
    PeerCredentials,
    PIDLock,
    _connectError,
    _defaultReactor,
    _Name,
    bindUNIX,
    isAbstract,
    lockHeld,
    nameProblem,
    peerCredentials,
    removeSocketFile,
    socketName,
)
from torsion.internet.address import UNIXAddress
from torsion.internet.base import BaseConnector
from torsion.internet.interfaces import (
    IFileDescriptorReceiver,
    IListeningPort,
    IUNIXPeerCredentials,
    IUNIXTransport,
)
from torsion.python import log

__all__ = [
    "Client",
    "ConnectedDatagramPort",
    "Connector",
    "DatagramPort",
    "PeerCredentials",
    "Port",
    "Server",
]

_FD_SIZE = array("i").itemsize
# Received descriptors are close-on-exec from the start where the kernel can do that.
_RECV_FLAGS = getattr(socket, "MSG_CMSG_CLOEXEC", 0)
_CONNECTION_LOST_ERRNOS = tcp._CONNECTION_LOST_ERRNOS
# What a connection with no descriptors to pass does: exactly what TCP's does.
_streamRead = tcp._StreamConnection.doRead
_streamWrite = tcp._StreamConnection.writeSomeData


# -- stream connections ---------------------------------------------------------------


class _UNIXConnection(tcp._StreamConnection[UNIXAddress]):
    """What UNIX stream connections add to a stream socket: descriptors and credentials.

    The classes that mix this in declare its slots (the attributes annotated below:
    a client's stream bases have slots of their own, and two bases with slots cannot
    be combined) and call ``_initUNIX``.

    Only a protocol that provides IFileDescriptorReceiver is read with recvmsg(),
    which costs a fifth of a small-message connection's throughput; any other is
    read with recv() as TCP is, and the kernel closes descriptors sent to it (it
    never installs them in this process without a buffer for them). Bytes count
    towards descriptors' positions only while descriptors wait to be sent.
    """

    __slots__ = ()

    # (position in the stream of the byte it goes with, our duplicate of it)
    _fdQueue: deque[tuple[int, int]]
    # Bytes sent since the queue was last empty: the positions count from there.
    _sentBytes: int
    _credentials: PeerCredentials | None
    _receivesDescriptors: bool

    # The most descriptors sent in one message, and received from one (a peer that
    # sends more at once loses the rest: the kernel closes them).
    maxFileDescriptorsPerMessage = 64
    # The most descriptors that may wait to be sent (each is a duplicate, held open).
    maxPendingFileDescriptors = 256

    def _initUNIX(self) -> None:
        self._fdQueue = deque()  # type: ignore[misc]
        self._sentBytes = 0  # type: ignore[misc]
        self._credentials = None  # type: ignore[misc]
        self._receivesDescriptors = False  # type: ignore[misc]

    def _makeConnection(self) -> None:
        self._receivesDescriptors = IFileDescriptorReceiver.providedBy(self.protocol)  # type: ignore[misc]
        super()._makeConnection()

    def getHandle(self) -> socket.socket:
        """Return the socket, for options this transport has no method for."""
        return self.socket

    def getHost(self) -> UNIXAddress:
        """Return this end's address (once asked, also after the connection closes).

        Raises:
            RuntimeError: if first asked after the socket was closed.
        """
        if self._hostAddress is None:
            try:
                self._hostAddress = UNIXAddress(self.socket.getsockname())
            except OSError as e:
                raise RuntimeError(
                    "the socket is closed; call getHost while connected (connectionMade)"
                ) from e
        return self._hostAddress

    def getPeerCredentials(self) -> PeerCredentials:
        """Return the pid, uid and gid of the process at the other end.

        They are the kernel's record of who connected (or listened, seen from a
        client), so they cannot be forged by the peer. Asked once, they stay
        available after the connection closes. ``pid`` is None where the platform
        does not report it.

        Raises:
            RuntimeError: if first asked after the connection closed.
            NotImplementedError: on a platform that cannot tell.
        """
        if self._credentials is None:
            try:
                self._credentials = peerCredentials(self.socket)  # type: ignore[misc]
            except OSError as e:
                raise RuntimeError(
                    "the connection is closed; call getPeerCredentials while connected"
                ) from e
        return self._credentials

    def sendFileDescriptor(self, descriptor: int) -> None:
        """Send (a duplicate of) ``descriptor`` with the first byte written after this call.

        A descriptor travels only with data: write at least one byte after it. The
        transport sends a duplicate, so the caller may close its own at once. Once the
        connection is closing it is ignored, as ``write`` is.

        Raises:
            ValueError: ``descriptor`` is not an open file descriptor.
            RuntimeError: ``maxPendingFileDescriptors`` wait to be sent already.
        """
        if not self.connected or self.disconnecting or self._writeDisconnected:
            return
        queue = self._fdQueue
        if len(queue) >= self.maxPendingFileDescriptors:
            raise RuntimeError(
                f"{len(queue)} file descriptors wait to be sent already, the most this "
                "transport holds; write the data they go with, and send more once they "
                "have gone"
            )
        try:
            duplicate = os.dup(descriptor)
        except (OSError, TypeError) as e:
            raise ValueError(f"{descriptor!r} is not an open file descriptor") from e
        if not queue:
            self._sentBytes = 0  # type: ignore[misc]
        queue.append((self._sentBytes + self.bufferedSize(), duplicate))

    def writeSomeData(self, data: bytes | memoryview) -> int | BaseException:
        """Send what the kernel takes of ``data``, with any descriptors that go with it."""
        if self._fdQueue:
            return self._sendWithDescriptors(memoryview(data))
        return _streamWrite(self, data)

    def _sendWithDescriptors(self, data: memoryview) -> int | BaseException:
        queue = self._fdQueue
        size = len(data)
        total = 0
        while total < size:
            position = self._sentBytes
            if queue and queue[0][0] <= position:
                batch: list[int] = []
                while (
                    queue
                    and queue[0][0] <= position
                    and len(batch) < self.maxFileDescriptorsPerMessage
                ):
                    batch.append(queue[0][1])
                    queue.popleft()
                # More descriptors due at this byte than one message holds: the rest
                # go with the next byte.
                if queue and queue[0][0] <= position:
                    end = total + 1
                elif queue:
                    end = min(size, total + queue[0][0] - position)
                else:
                    end = size
                chunk = data[total:end]
                try:
                    sent = self.socket.sendmsg(
                        [chunk], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array("i", batch))]
                    )
                except (BlockingIOError, InterruptedError):
                    for fd in reversed(batch):
                        queue.appendleft((position, fd))
                    break
                except OSError as e:
                    for fd in batch:
                        os.close(fd)
                    if e.errno in _CONNECTION_LOST_ERRNOS:
                        return error.ConnectionLost(str(e))
                    raise
                for fd in batch:
                    os.close(fd)
            else:
                end = size if not queue else min(size, total + queue[0][0] - position)
                chunk = data[total:end]
                result = _streamWrite(self, chunk)
                if isinstance(result, BaseException):
                    return result
                sent = result
            self._sentBytes += sent  # type: ignore[misc]
            total += sent
            if sent < len(chunk):
                break
        return total

    def doRead(self) -> object:
        """Read what the peer sent, with any descriptors, and hand both to the protocol."""
        if not self._receivesDescriptors:
            return _streamRead(self)
        try:
            data, ancillary, flags, _ = self.socket.recvmsg(
                self._readSize,
                socket.CMSG_SPACE(self.maxFileDescriptorsPerMessage * _FD_SIZE),
                _RECV_FLAGS,
            )
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as e:
            if e.errno in _CONNECTION_LOST_ERRNOS:
                return error.ConnectionLost(str(e))
            raise
        if ancillary or flags & socket.MSG_CTRUNC:
            self._ancillaryReceived(ancillary, flags)
        if not data:
            return error.ConnectionDone()
        self.protocol.dataReceived(data)
        return None

    def _ancillaryReceived(self, ancillary: list[tuple[int, int, bytes]], flags: int) -> None:
        received = array("i")
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                received.frombytes(payload[: len(payload) - len(payload) % _FD_SIZE])
            else:
                log.msg(f"Ignored ancillary data (level {level}, type {kind}) from the peer")
        fds = list(received)
        if not _RECV_FLAGS:
            for fd in fds:
                os.set_inheritable(fd, False)
        if flags & socket.MSG_CTRUNC:
            log.msg(
                f"The peer sent more than {self.maxFileDescriptorsPerMessage} file "
                "descriptors in one message; the kernel closed the rest (send fewer at "
                "a time, or raise maxFileDescriptorsPerMessage)"
            )
        protocol = self.protocol
        for index, fd in enumerate(fds):
            try:
                protocol.fileDescriptorReceived(fd)
            except BaseException:
                for unhandled in fds[index + 1 :]:
                    os.close(unhandled)
                raise

    def connectionLost(self, reason: Any) -> None:
        """Close the socket and tell the protocol; close descriptors never sent."""
        super().connectionLost(reason)
        queue = self._fdQueue
        if queue:
            log.msg(
                f"{len(queue)} file descriptor(s) were never sent: the connection closed "
                "before a byte was written after sendFileDescriptor"
            )
            while queue:
                os.close(queue.popleft()[1])


@implementer(IUNIXTransport, IUNIXPeerCredentials)
class Server(_UNIXConnection):
    """A connection accepted by a UNIX Port."""

    __slots__ = (
        "_credentials",
        "_fdQueue",
        "_receivesDescriptors",
        "_sentBytes",
        "client",
        "server",
        "sessionno",
    )

    def __init__(
        self,
        sock: socket.socket,
        protocol: Any,
        client: UNIXAddress,
        server: Port,
        sessionno: int,
        reactor: Any,
    ) -> None:
        super().__init__(sock, protocol, reactor)
        self._initUNIX()
        self.client = client
        self.server = server
        self.sessionno = sessionno

    def logPrefix(self) -> str:
        """Return "Protocol,sessionno,peername" (the peer's name is usually empty)."""
        return f"{tcp._logPrefixOf(self.protocol)},{self.sessionno},{self.client.name or ''}"

    def getPeer(self) -> UNIXAddress:
        """Return the client's address (UNIXAddress(None) unless the client bound a name)."""
        return self.client

    def __repr__(self) -> str:
        return f"<{type(self.protocol).__name__} #{self.sessionno} on {self.server.port!r}>"


@implementer(IListeningPort)
class Port(tcp._BasePort[UNIXAddress]):
    """A listening UNIX stream socket.

    Args:
        fileName: the socket's path (str, bytes or path-like), or a Linux abstract
            name (starting with a NUL).
        factory: the IProtocolFactory to build a protocol per connection.
        backlog: the listen queue length.
        mode: the permission bits of the socket file (who may connect).
        reactor: the reactor to run in (None: the installed one).
        wantPID: keep the lock file ``fileName`` + ".lock" holding this process's pid.

    Raises:
        ValueError, TypeError: ``fileName`` cannot name a socket.
    """

    __slots__ = ("_fileIdentity", "_lock", "mode", "port", "wantPID")

    def __init__(
        self,
        fileName: _Name,
        factory: Any,
        backlog: int = 50,
        mode: int = 0o666,
        reactor: Any = None,
        wantPID: bool = False,
    ) -> None:
        super().__init__(factory, backlog, _defaultReactor(reactor))
        self.port = socketName(fileName)
        self.mode = mode
        self.wantPID = bool(wantPID)
        self._lock: PIDLock | None = None
        self._fileIdentity: tuple[int, int] | None = None

    def __repr__(self) -> str:
        if self.connected:
            return f"<{tcp._qualifiedName(self.factory)} on {self.port!r}>"
        return f"<{tcp._qualifiedName(self.factory)} (not listening)>"

    def startListening(self) -> None:
        """Take the lock file (with wantPID), bind, listen and begin accepting.

        Raises:
            CannotListenError: saying why: the path is in use (by which process, with
                a lock file), its directory is missing or not writable, it is too
                long, or it exists and is not a socket.
            AlreadyListened: if the port is listening already.
        """
        self._checkNotListening()
        name = self.port
        if self.wantPID:
            if isAbstract(name):
                raise error.CannotListenError(
                    None,
                    name,
                    OSError(
                        errno.EINVAL,
                        "wantPID needs a filesystem path (an abstract name has no "
                        "directory for its lock file); use a path, or wantPID=False",
                    ),
                )
            self._lock = PIDLock(name)
            self._lock.acquire()
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        except OSError as e:
            self._releaseLock()
            raise error.CannotListenError(None, name, e) from e
        try:
            self._fileIdentity = bindUNIX(sock, name, self.mode)
            sock.listen(self.backlog)
        except BaseException:
            sock.close()
            self._releaseLock()
            raise
        self._hostAddress = UNIXAddress(name)
        self._startAccepting(sock, repr(name))

    def _releaseLock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _peerAddress(self, addr: Any) -> UNIXAddress:
        return UNIXAddress(addr)

    def _serve(self, sock: socket.socket, protocol: Any, peer: UNIXAddress, sessionno: int) -> None:
        transport = Server(sock, protocol, peer, self, sessionno, self.reactor)
        log.callWithLogger(transport, transport._makeConnection)

    def _closedMessage(self) -> str:
        return f"(UNIX Port {self.port} Closed)"

    def connectionLost(self, reason: Any) -> None:
        """Remove the socket file and the lock file, then close as any port does."""
        if self.disconnected:
            return
        removeSocketFile(self.port, self._fileIdentity)
        self._fileIdentity = None
        self._releaseLock()
        super().connectionLost(reason)


@implementer(IUNIXTransport, IUNIXPeerCredentials)
class Client(tcp._StreamClient[UNIXAddress], _UNIXConnection):
    """An outgoing UNIX stream connection attempt that becomes the connection's transport.

    Raises:
        OSError: if no socket can be made (Connector turns that into a failed attempt).
    """

    __slots__ = ("_credentials", "_fdQueue", "_receivesDescriptors", "_sentBytes")

    # A UNIX connect completes (or fails) at once; EAGAIN means the server's listen
    # queue is full, and is retried after this many seconds until the timeout.
    busyRetryDelay = 0.01
    _connectPending = frozenset({errno.EINPROGRESS, errno.EALREADY, errno.EINTR})

    def __init__(
        self, filename: str, connector: Connector, reactor: Any, checkPID: bool = False
    ) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        super().__init__(sock, filename, connector, reactor)
        self._initUNIX()
        self.addr: str
        problem: BaseException | None = None
        reason = nameProblem(filename)
        if reason is not None:
            problem = error.BadFileError(
                osError=errno.errorcode.get(reason.errno or 0), string=reason.strerror or ""
            )
        elif checkPID and not lockHeld(filename + ".lock"):
            problem = error.BadFileError(
                string=f"no live process holds the lock file {filename + '.lock'!r}, so "
                f"the server of {filename!r} is not running (or listens without wantPID)"
            )
        if problem is not None:
            reactor.callLater(0, self.failIfNotConnected, problem)
        else:
            reactor.callLater(0, self.doConnect)

    def _connectError(self, code: int) -> BaseException:
        return _connectError(self.addr, code)

    def _connectAgainLater(self, code: int) -> bool:
        if code != errno.EAGAIN:
            return False
        self.reactor.callLater(self.busyRetryDelay, self.doConnect)
        return True

    def _learnAddresses(self) -> None:
        self._peer = UNIXAddress(self.addr)
        self._hostAddress = UNIXAddress(None)


class Connector(BaseConnector):
    """The IConnector of ``connectUNIX``: repeatable attempts to reach a UNIX socket."""

    def __init__(
        self, address: _Name, factory: Any, timeout: float | None, reactor: Any, checkPID: bool
    ) -> None:
        self.address = socketName(address)
        self.checkPID = checkPID
        super().__init__(factory, timeout, reactor)

    def _makeTransport(self) -> Client | tcp._FailedAttempt:
        try:
            return Client(self.address, self, self.reactor, self.checkPID)
        except OSError as e:
            return tcp._FailedAttempt(self, error.getConnectError(e))

    def getDestination(self) -> UNIXAddress:
        """Return the address being connected to."""
        return UNIXAddress(self.address)
