"""The descriptor-watching half of every torsion reactor, and the polling reactors' base.

``DescriptorReactorMixin`` is what a reactor needs once it can watch descriptors: the
batched writes (what transports write during one pass of the loop goes out in one send
at its end), the dispatch of one descriptor's events (under its log prefix, with an
error closing that descriptor only), closing everything at shutdown, and
listenTCP/connectTCP. Both the selector reactors (torsion.internet._selectorreactor)
and the asyncio reactor (torsion.internet.asyncioreactor) build on it.

``PosixReactorBase`` adds what a reactor that polls for itself needs: the waker, a
socket pair that a byte written from any thread, or from a signal handler, makes the
poll return.
Tests: tests/internet/test_selectreactor.py, tests/internet/test_tcp.py and the rest of
the reactor conformance suite (tests/internet/reactormixins.py runs them on every reactor).
"""

from __future__ import annotations

import socket
from typing import Any

from zope.interface import implementer

from torsion.internet import error, tcp
from torsion.internet.base import ReactorBase
from torsion.internet.interfaces import (
    IReactorFDSet,
    IReactorSSL,
    IReactorTCP,
    IReadDescriptor,
)
from torsion.python import log
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


@implementer(IReactorFDSet, IReactorTCP, IReactorSSL)
class DescriptorReactorMixin:
    """Dispatch, batched writes, shutdown and TCP for a reactor that watches descriptors.

    Mix it in before ReactorBase. The reactor supplies the IReactorFDSet methods, and
    calls ``_flushPendingWrites`` at the end of each pass of its loop (or arranges
    for it in ``_scheduleWrite``).
    """

    def __init__(self) -> None:
        # Transports that wrote during this pass of the loop (see FileDescriptor.write).
        self._pendingWriters: list[Any] = []
        super().__init__()

    def _scheduleWrite(self, writer: Any) -> None:
        """Send ``writer``'s new data at the end of this pass of the loop."""
        self._pendingWriters.append(writer)

    def _flushPendingWrites(self) -> None:
        """Send what was written during this pass (doWrite watches for writability if
        the kernel does not take it all).

        Writing at the end of the pass batches the writes of one dataReceived or timer
        into one send, and costs no poll registration when the kernel takes it all.
        """
        pending = self._pendingWriters
        self._pendingWriters = []
        callWithLogger = log.callWithLogger
        for writer in pending:
            if writer.disconnected:
                continue
            if writer.producer is None and not (
                writer.disconnecting or writer._writeDisconnecting
            ):
                # With no producer to resume and no close to finish, sending runs no
                # code of the user's: no log context is needed unless it fails.
                try:
                    why = writer.doWrite()
                except BaseException:
                    why = Failure()
                    callWithLogger(writer, self._logDispatchError, writer, why)
                if why:
                    callWithLogger(writer, self._disconnectSelectable, writer, why, False)
            elif writer.bufferedSize():
                callWithLogger(writer, self._dispatch, writer, False, True)

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


    # -- UNIX sockets (torsion.internet.unix) ------------------------------------------


    # -- processes (torsion.internet.process) ------------------------------------------


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
