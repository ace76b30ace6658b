"""PosixReactorBase: descriptor bookkeeping, the waker and TCP for polling reactors.

A polling reactor (torsion.internet.selectreactor) subclasses it and supplies the
IReactorFDSet methods and ``doIteration``. This module gives it the waker (a socket
pair: a byte written from any thread, or from a signal handler, makes the poll return),
the dispatch of one descriptor's events (under its log prefix, with errors turned into
a disconnection of that descriptor only), and listenTCP/connectTCP.
Tests: tests/internet/test_selectreactor.py, tests/internet/test_tcp.py.
"""

from __future__ import annotations

import socket
from typing import Any

from zope.interface import implementer

from torsion.internet import error, tcp
from torsion.internet.base import ReactorBase
from torsion.internet.interfaces import IReactorFDSet, IReactorTCP, IReadDescriptor
from torsion.python import log
from torsion.python.failure import Failure

__all__ = ["PosixReactorBase", "Waker"]


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


@implementer(IReactorFDSet, IReactorTCP)
class PosixReactorBase(ReactorBase):
    """A ReactorBase that watches descriptors; subclasses implement the IReactorFDSet part."""

    def __init__(self) -> None:
        super().__init__()
        self._pendingWriters: list[Any] = []
        self.waker = Waker()
        self.addReader(self.waker)

    def _scheduleWrite(self, writer: Any) -> None:
        """Send ``writer``'s new data at the end of this pass of the loop."""
        self._pendingWriters.append(writer)

    def _flushPendingWrites(self) -> None:
        """Send what was written during this pass; watch for writability if some is left.

        Writing at the end of the pass batches the writes of one dataReceived or timer
        into one send, and costs no poll registration when the kernel takes it all.
        """
        pending = self._pendingWriters
        self._pendingWriters = []
        callWithLogger = log.callWithLogger
        for writer in pending:
            if writer.disconnected or not writer.bufferedSize():
                continue
            callWithLogger(writer, self._dispatch, writer, False, True)
            if writer.connected and writer.bufferedSize():
                self.addWriter(writer)

    def wakeUp(self) -> None:
        """Make a blocked ``doIteration`` return (safe from any thread)."""
        self.waker.wakeUp()

    def addReader(self, reader: Any) -> None:
        """Watch ``reader`` for readability (subclasses)."""
        raise NotImplementedError

    def removeReader(self, reader: Any) -> None:
        """Stop watching ``reader`` (subclasses)."""
        raise NotImplementedError

    def addWriter(self, writer: Any) -> None:
        """Watch ``writer`` for writability (subclasses)."""
        raise NotImplementedError

    def removeWriter(self, writer: Any) -> None:
        """Stop watching ``writer`` (subclasses)."""
        raise NotImplementedError

    def removeAll(self) -> list[Any]:
        """Stop watching everything but the waker (subclasses)."""
        raise NotImplementedError

    def getReaders(self) -> list[Any]:
        """Return what is watched for readability (subclasses)."""
        raise NotImplementedError

    def getWriters(self) -> list[Any]:
        """Return what is watched for writability (subclasses)."""
        raise NotImplementedError

    def _dispatch(self, selectable: Any, readable: bool, writable: bool) -> None:
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
            log.err(why, f"Unhandled error while handling {selectable!r}; closing it")
        if why:
            self._disconnectSelectable(selectable, why, isRead)

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
        """At shutdown: close every descriptor except the waker, as connection lost."""
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
