"""The descriptor-watching half of every torsion reactor, and the polling reactors' base.

``DescriptorReactorMixin`` is what a reactor needs once it can watch descriptors: the
batched writes (what transports write during one pass of the loop goes out in one send
at its end), the dispatch of one descriptor's events (under its log prefix, with an
error closing that descriptor only), closing everything at shutdown, and the
transports: listenTCP/connectTCP, listenUNIX/connectUNIX and the UNIX datagram calls.
Both the selector reactors (torsion.internet._selectorreactor) and the asyncio reactor
(torsion.internet.asyncioreactor) build on it.

``PosixReactorBase`` adds what a reactor that polls for itself needs: the waker, a
socket pair that a byte written from any thread, or from a signal handler, makes the
poll return.
Tests: tests/internet/test_selectreactor.py, tests/internet/test_tcp.py and the rest of
the reactor conformance suite (tests/internet/reactormixins.py runs them on every reactor).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from zope.interface import implementer

from torsion.internet import _unixpaths, error, tcp, udp
from torsion.internet import unix as _unix
from torsion.internet.base import ReactorBase
from torsion.internet.interfaces import (
    IReactorFDSet,
    IReactorMulticast,
    IReactorProcess,
    IReactorSocket,
    IReactorSSL,
    IReactorTCP,
    IReactorUDP,
    IReactorUNIX,
    IReactorUNIXDatagram,
    IReadDescriptor,
)
from torsion.python import context, log
from torsion.python.failure import Failure

__all__ = ["DescriptorReactorMixin", "PosixReactorBase", "Waker"]


@implementer(IReadDescriptor)
class Waker:
    """The read end of a socket pair that ``wakeUp`` writes to from any thread."""

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._send = self._writer.send

    def fileno(self) -> int:
        """Return the read end's descriptor."""
        return self._reader.fileno()

    def logPrefix(self) -> str:
        """Return the log system name of the waker."""
        return "-"

    def wakeUp(self) -> None:
        """Make the poll return soon (safe from any thread and from signal handlers)."""
        try:
            self._send(b"x")
        except OSError:
            pass  # The pipe is full (so the loop will wake anyway) or closed at exit.

    def doRead(self) -> None:
        """Drain the wake-up bytes."""
        try:
            while self._reader.recv(4096):
                pass
        except OSError:
            pass

    def connectionLost(self, reason: object) -> None:
        """Close both ends."""
        self._reader.close()
        self._writer.close()


@implementer(
    IReactorFDSet,
    IReactorTCP,
    IReactorSSL,
    IReactorUDP,
    IReactorMulticast,
    IReactorUNIX,
    IReactorUNIXDatagram,
    IReactorProcess,
    IReactorSocket,
)
class DescriptorReactorMixin:
    """Dispatch, batched writes, shutdown and TCP for a reactor that watches descriptors.

    Mix it in before ReactorBase. The reactor supplies the IReactorFDSet methods, and
    calls ``_flushPendingWrites`` at the end of each pass of its loop (or arranges
    for it in ``_scheduleWrite``).
    """

    def __init__(self) -> None:
        # Transports that wrote during this pass of the loop (see FileDescriptor.write).
        self._pendingWriters: list[Any] = []
        # Called by a transport whose buffer was empty when it wrote: "send my data at
        # the end of this pass". Here the list's own append, which costs a transport no
        # Python call; a reactor whose passes do not always end in a flush puts its own
        # function here.
        self._scheduleWrite: Callable[[Any], None] = self._pendingWriters.append
        super().__init__()

    def _flushPendingWrites(self) -> None:
        """Send what was written during this pass (doWrite watches for writability if
        the kernel does not take it all).

        Writing at the end of the pass batches the writes of one dataReceived or timer
        into one send, and costs no poll registration when the kernel takes it all.
        """
        # Each send runs under its transport's log prefix (a producer it resumes, or a
        # close it completes, runs the user's code), through the thread's lazy layer.
        layer = context.threadLayer()
        previous = (layer.factory, layer.outer, layer.argument)
        layer.factory = log.loggerContext
        layer.outer = context.currentVariable()
        try:
            self._sendPendingWrites(layer)
        finally:
            layer.factory, layer.outer, layer.argument = previous

    def _sendPendingWrites(self, layer: context.Layer) -> None:
        """``_flushPendingWrites`` for a loop that has entered the thread's lazy layer
        (``layer``, whose factory is ``log.loggerContext``) already."""
        # The list itself stays (``_scheduleWrite`` may be its append): empty it in place.
        # What is written while these are sent waits for the next flush.
        pending = self._pendingWriters.copy()
        self._pendingWriters.clear()
        for writer in pending:
            # Skipped if gone, or if a writability event of this pass sent it all.
            if writer.disconnected or not writer._current:
                continue
            layer.argument = writer
            try:
                why = writer.doWrite()
            except BaseException:
                why = Failure()
                self._logDispatchError(writer, why)
            if why:
                self._disconnectSelectable(writer, why, False)

    def addReader(self, reader: Any) -> None:
        """Watch ``reader`` for readability (the reactor provides it)."""
        raise NotImplementedError(f"{type(self).__name__} must implement addReader")

    def removeReader(self, reader: Any) -> None:
        """Stop watching ``reader`` (the reactor provides it)."""
        raise NotImplementedError(f"{type(self).__name__} must implement removeReader")

    def addWriter(self, writer: Any) -> None:
        """Watch ``writer`` for writability (the reactor provides it)."""
        raise NotImplementedError(f"{type(self).__name__} must implement addWriter")

    def removeWriter(self, writer: Any) -> None:
        """Stop watching ``writer`` (the reactor provides it)."""
        raise NotImplementedError(f"{type(self).__name__} must implement removeWriter")

    def removeAll(self) -> list[Any]:
        """Stop watching every user descriptor; return them (the reactor provides it)."""
        raise NotImplementedError(f"{type(self).__name__} must implement removeAll")

    def getReaders(self) -> list[Any]:
        """Return what is watched for readability (the reactor provides it)."""
        raise NotImplementedError(f"{type(self).__name__} must implement getReaders")

    def getWriters(self) -> list[Any]:
        """Return what is watched for writability (the reactor provides it)."""
        raise NotImplementedError(f"{type(self).__name__} must implement getWriters")

    def _dispatch(self, selectable: Any, readable: int, writable: int) -> None:
        """Run one descriptor's read and write handlers, disconnecting it on failure.

        Runs under the descriptor's log prefix; an exception (say, from a protocol's
        dataReceived) is logged and closes only this descriptor.
        """
        why: object = None
        isRead = False
        try:
            if readable:
                why = selectable.doRead()
                isRead = True
            if not why and writable and selectable.fileno() != -1:
                why = selectable.doWrite()
                isRead = False
        except BaseException:
            why = Failure()
            self._logDispatchError(selectable, why)
        if why:
            self._disconnectSelectable(selectable, why, isRead)

    def _logDispatchError(self, selectable: Any, failure: Failure) -> None:
        log.err(failure, f"Unhandled error while handling {selectable!r}; closing it")

    def _disconnectSelectable(self, selectable: Any, why: object, isRead: bool) -> None:
        self.removeReader(selectable)
        self.removeWriter(selectable)
        reason = why if isinstance(why, Failure) else Failure(why)
        if (
            isRead
            and isinstance(reason.value, error.ConnectionDone)
            and hasattr(selectable, "readConnectionLost")
        ):
            selectable.readConnectionLost(reason)
        else:
            selectable.connectionLost(reason)

    def disconnectAll(self) -> None:
        """At shutdown: close every watched descriptor, as connection lost."""
        for selectable in self.removeAll():
            log.callWithLogger(
                selectable, selectable.connectionLost, Failure(error.ConnectionLost())
            )

    def listenTCP(
        self, port: int, factory: Any, backlog: int = 50, interface: str = ""
    ) -> tcp.Port:
        """Listen for TCP connections on ``interface``:``port`` (0: a free port).

        Raises:
            CannotListenError: naming the address, if it cannot be listened on.
        """
        listening = tcp.Port(port, factory, backlog, interface, self)
        listening.startListening()
        return listening

    def connectTCP(
        self,
        host: str,
        port: int,
        factory: Any,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> tcp.Connector:
        """Connect to ``host``:``port`` (names resolved with ``resolve``), telling ``factory``."""
        connector = tcp.Connector(host, port, factory, timeout, bindAddress, self)
        connector.connect()
        return connector

    # -- adopted sockets (IReactorSocket) ----------------------------------------------

    def adoptStreamPort(self, fileDescriptor: int, addressFamily: int, factory: Any) -> tcp.Port:
        """Accept connections on an inherited listening TCP socket (systemd, a parent).

        The port uses a duplicate of ``fileDescriptor``; close the original yourself.

        Raises:
            UnsupportedAddressFamily: not AF_INET/AF_INET6, or not the socket's family.
            UnsupportedSocketType: the socket is not a stream socket.
            CannotListenError: the socket is not listening.
        """
        listening = tcp.Port._fromListeningDescriptor(self, fileDescriptor, addressFamily, factory)
        listening.startListening()
        return listening

    def adoptStreamConnection(self, fileDescriptor: int, addressFamily: int, factory: Any) -> None:
        """Serve a connected TCP socket made elsewhere with a protocol from ``factory``.

        The transport uses a duplicate of ``fileDescriptor``; close the original yourself.

        Raises:
            UnsupportedAddressFamily: not AF_INET/AF_INET6, or not the socket's family.
            UnsupportedSocketType: the socket is not a stream socket.
        """
        tcp.Server._fromConnectedSocket(fileDescriptor, addressFamily, factory, self)

    def adoptDatagramPort(
        self, fileDescriptor: int, addressFamily: int, protocol: Any, maxPacketSize: int = 8192
    ) -> udp.Port:
        """Serve a bound UDP socket made elsewhere with the DatagramProtocol ``protocol``.

        The port uses a duplicate of ``fileDescriptor``; close the original yourself.

        Raises:
            UnsupportedAddressFamily: not AF_INET/AF_INET6, or not the socket's family.
            UnsupportedSocketType: the socket is not a datagram socket.
        """
        port = udp.Port._fromListeningDescriptor(
            self, fileDescriptor, addressFamily, protocol, maxPacketSize
        )
        port.startListening()
        return port

    # -- TLS (torsion.internet.ssl, torsion.protocols.tls) -----------------------------

    def listenSSL(
        self,
        port: int,
        factory: Any,
        contextFactory: Any,
        backlog: int = 50,
        interface: str = "",
    ) -> tcp.Port:
        """Listen for TLS connections: listenTCP with ``factory`` wrapped in TLS.

        ``contextFactory`` is, say, ``CertificateOptions(privateKey=..., certificate=...)``
        (torsion.internet.ssl).

        Raises:
            CannotListenError: naming the address, if it cannot be listened on.
            TypeError, ValueError: ``contextFactory`` cannot make a TLS server.
        """
        from torsion.protocols.tls import TLSMemoryBIOFactory

        return self.listenTCP(
            port, TLSMemoryBIOFactory(contextFactory, False, factory), backlog, interface
        )

    def connectSSL(
        self,
        host: str,
        port: int,
        factory: Any,
        contextFactory: Any,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> tcp.Connector:
        """Connect with TLS: connectTCP with ``factory`` wrapped in TLS.

        ``contextFactory`` is, say, ``optionsForClientTLS("example.com")``, which
        verifies the server's certificate and host name.

        Raises:
            TypeError, ValueError: ``contextFactory`` cannot make a TLS client.
        """
        from torsion.protocols.tls import TLSMemoryBIOFactory

        return self.connectTCP(
            host, port, TLSMemoryBIOFactory(contextFactory, True, factory), timeout, bindAddress
        )

    # -- UDP and multicast (torsion.internet.udp) --------------------------------------

    def listenUDP(
        self, port: int, protocol: Any, interface: str = "", maxPacketSize: int = 8192
    ) -> udp.Port:
        """Bind a UDP port for the DatagramProtocol ``protocol`` (port 0: a free one).

        Raises:
            CannotListenError: naming the address, if it cannot be bound.
        """
        listening = udp.Port(port, protocol, interface, maxPacketSize, self)
        listening.startListening()
        return listening

    def listenMulticast(
        self,
        port: int,
        protocol: Any,
        interface: str = "",
        maxPacketSize: int = 8192,
        listenMultiple: bool = False,
    ) -> udp.MulticastPort:
        """Bind a UDP port that can join multicast groups (see udp.MulticastPort).

        Raises:
            CannotListenError: naming the address, if it cannot be bound (another
                port has it, and one of them was made without ``listenMultiple``).
        """
        listening = udp.MulticastPort(
            port, protocol, interface, maxPacketSize, self, listenMultiple
        )
        listening.startListening()
        return listening

    # -- UNIX sockets (torsion.internet.unix) ------------------------------------------

    def listenUNIX(
        self,
        address: _unixpaths._Name,
        factory: Any,
        backlog: int = 50,
        mode: int = 0o666,
        wantPID: bool = False,
    ) -> _unix.Port:
        """Listen for connections on the UNIX socket ``address``.

        ``address`` is a path (str, bytes or path-like) or, on Linux, an abstract
        name (a leading NUL). The socket file gets ``mode``; a stale socket file is
        removed first; ``wantPID`` keeps the lock file ``address`` + ".lock" holding
        this process's pid. ``stopListening`` removes both files.

        Raises:
            CannotListenError: saying why (in use, directory missing or not
                writable, path too long, not a socket) and what to do.
        """
        listening = _unix.Port(address, factory, backlog, mode, self, wantPID)
        listening.startListening()
        return listening

    def connectUNIX(
        self, address: _unixpaths._Name, factory: Any, timeout: float = 30, checkPID: bool = False
    ) -> _unix.Connector:
        """Connect to the UNIX socket ``address``, telling ``factory`` how it goes.

        With ``checkPID`` the attempt fails (BadFileError) unless a live process
        holds the lock file ``address`` + ".lock" (see listenUNIX's ``wantPID``).
        """
        connector = _unix.Connector(address, factory, timeout, self, checkPID)
        connector.connect()
        return connector

    def listenUNIXDatagram(
        self, address: _unixpaths._Name, protocol: Any, maxPacketSize: int = 8192, mode: int = 0o666
    ) -> _unix.DatagramPort:
        """Bind a UNIX datagram socket to ``address`` and attach the datagram ``protocol``.

        Raises:
            CannotListenError: saying why the name cannot be bound.
        """
        port = _unix.DatagramPort(address, protocol, maxPacketSize, mode, self)
        port.startListening()
        return port

    def connectUNIXDatagram(
        self,
        address: _unixpaths._Name,
        protocol: Any,
        maxPacketSize: int = 8192,
        mode: int = 0o666,
        bindAddress: _unixpaths._Name | None = None,
    ) -> _unix.ConnectedDatagramPort:
        """Connect a UNIX datagram socket to ``address`` (bound to ``bindAddress`` if given).

        ``protocol`` is a connected datagram protocol: a failure to connect goes to
        its ``connectionFailed``.
        """
        port = _unix.ConnectedDatagramPort(
            address, protocol, maxPacketSize, mode, bindAddress, self
        )
        port.startListening()
        return port

    # -- processes (torsion.internet.process) ------------------------------------------

    def spawnProcess(
        self,
        processProtocol: Any,
        executable: str | bytes,
        args: Sequence[str | bytes] = (),
        env: Mapping[str | bytes, str | bytes] | None = {},  # Twisted's default (never changed)
        path: str | bytes | None = None,
        uid: int | None = None,
        gid: int | None = None,
        usePTY: Any = False,
        childFDs: Mapping[int, str | int] | None = None,
    ) -> Any:
        """Start ``executable`` as a child process talking to ``processProtocol``.

        Args:
            processProtocol: a ProcessProtocol; its ``transport`` is the child's.
            executable: the program; a name without a slash is looked up in the PATH
                of ``env`` if it sets one, else in this process's PATH.
            args: its arguments, ``args[0]`` being its name (empty: just the name).
            env: its whole environment, as in Twisted: {} (the default) gives it an
                empty one; None gives it a copy of this process's.
            path: the directory to start it in (None: this process's).
            uid, gid: the user and group to run it as (needs root).
            usePTY: run it on a new pseudo-terminal (True), or on ``(master, slave,
                ttyname)`` from os.openpty.
            childFDs: the child's descriptors: {number: 'r'} a pipe we read, 'w' a
                pipe we write, or one of our descriptors to pass on; the default is
                {0: 'w', 1: 'r', 2: 'r'}. Descriptors not named are closed in the child.

        Returns:
            The child's IProcessTransport (torsion.internet.process.Process, or
            PTYProcess with ``usePTY``).

        Raises:
            OSError: (FileNotFoundError, PermissionError, ...) if the child cannot
                start, saying why; the protocol is not connected then.
            ValueError, TypeError: for arguments that make no sense.
        """
        from torsion.internet import process

        return process.spawnProcess(
            self, processProtocol, executable, args, env, path, uid, gid, usePTY, childFDs
        )


class PosixReactorBase(DescriptorReactorMixin, ReactorBase):
    """A reactor that polls for itself: the mixin plus a waker that interrupts the poll.

    Subclasses implement the IReactorFDSet methods, ``doIteration`` and ``_close``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.waker = Waker()
        self.addReader(self.waker)

    def wakeUp(self) -> None:
        """Make a blocked ``doIteration`` return (safe from any thread)."""
        self.waker.wakeUp()

    def _close(self) -> None:
        """Release the reactor's own descriptors (for tests and embedders that make many).

        Connections and ports are not touched: close them first (``disconnectAll``).
        """
        self.removeReader(self.waker)
        self.waker.connectionLost(None)
