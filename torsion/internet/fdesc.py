"""Non-blocking descriptor helpers, and the pipe transports of processes and stdio.

``setNonBlocking``, ``setBlocking``, ``readFromFD`` and ``writeToFD`` are Twisted's
helpers for code that handles raw descriptors. ``ProcessReader`` and ``ProcessWriter``
are transports over one descriptor (the end of a pipe, a FIFO, a terminal, a regular
file): FileDescriptors, so writes are buffered, flushed at the end of each pass of the
loop and flow-controlled with producers. A reader hands what it reads to its owner's
``childDataReceived(name, data)``; both tell ``childConnectionLost(name, reason)``
once closed. A spawned process (torsion.internet.process) owns one per pipe to the
child, named by the child's descriptor number; StandardIO (torsion.internet.stdio)
owns a reader named 'read' on stdin and a writer named 'write' on stdout.

Some descriptors cannot be watched by every poller: epoll (and so asyncio's and
uvloop's loops on Linux) refuses regular files and /dev/null. Such a descriptor never
blocks, so instead of being watched it is served once per pass of the loop (a read or
a write each pass) until it reaches its end; select and poll watch it as usual.
Tests: tests/internet/test_fdesc.py, and through processes and stdio in
test_process.py and test_stdio.py.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from torsion.internet import error
from torsion.internet.abstract import FileDescriptor
from torsion.internet.tcp import _logPrefixOf
from torsion.python import log
from torsion.python.failure import Failure

__all__ = [
    "PipeOwner",
    "ProcessReader",
    "ProcessWriter",
    "readFromFD",
    "setBlocking",
    "setNonBlocking",
    "writeToFD",
]

_READ = 1
_WRITE = 2


def setNonBlocking(fd: int) -> None:
    """Make reads and writes on ``fd`` return at once instead of waiting.

    The flag belongs to the open file, not to the number: a terminal shared with the
    shell that started the program becomes non-blocking for the shell too (StandardIO
    puts it back when it closes).
    """
    os.set_blocking(fd, False)


def setBlocking(fd: int) -> None:
    """Make reads and writes on ``fd`` wait again (undoes ``setNonBlocking``)."""
    os.set_blocking(fd, True)


def readFromFD(
    fd: int, callback: Callable[[bytes], object], size: int = 8192
) -> BaseException | None:
    """Read up to ``size`` bytes from the non-blocking ``fd`` and pass them to ``callback``.

    Returns:
        None if data was read (or none was ready), ConnectionDone at the end of the
        input, ConnectionLost if the read failed: what a ``doRead`` returns.
    """
    try:
        data = os.read(fd, size)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError as e:
        return error.ConnectionLost(str(e))
    if not data:
        return error.ConnectionDone()
    callback(data)
    return None


def writeToFD(fd: int, data: bytes | memoryview) -> int | BaseException:
    """Write what the non-blocking ``fd`` takes of ``data``.

    Returns:
        The number of bytes written (0 if it takes none now), or ConnectionLost if
        the descriptor cannot be written any more (the reader went away: EPIPE).
    """
    try:
        return os.write(fd, data)
    except (BlockingIOError, InterruptedError):
        return 0
    except OSError as e:
        return error.ConnectionLost(str(e))


class PipeOwner(Protocol):
    """What a ProcessReader or ProcessWriter reports to (a process, StandardIO)."""

    def childDataReceived(self, name: Any, data: bytes) -> None: ...

    def childConnectionLost(self, name: Any, reason: Failure) -> None: ...


class _Pipe(FileDescriptor):
    """One descriptor owned by ``proc`` under ``name``; closed with ``closeDescriptor``."""

    __slots__ = ("_closeDescriptor", "_fd", "_pollCall", "_pollMask", "_polled", "name", "proc")

    def __init__(
        self,
        reactor: Any,
        proc: PipeOwner,
        name: Any,
        fileno: int,
        closeDescriptor: Callable[[int], None] = os.close,
    ) -> None:
        super().__init__(reactor)
        self.proc = proc
        self.name = name
        self._fd = fileno
        self._closeDescriptor = closeDescriptor
        # Set when the reactor cannot watch this descriptor (see the module docstring).
        self._polled = False
        self._pollMask = 0
        self._pollCall: Any = None
        setNonBlocking(fileno)
        self.connected = True

    def fileno(self) -> int:
        """Return the descriptor, or -1 once closed."""
        return self._fd

    def logPrefix(self) -> str:
        """Return the owner's log prefix."""
        return _logPrefixOf(self.proc)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} on descriptor {self._fd}>"

    # -- watching, or serving once per pass what cannot be watched -------------------

    def startReading(self) -> None:
        """Ask the reactor to call ``doRead`` when data arrives."""
        self._watch(_READ, self.reactor.addReader)

    def stopReading(self) -> None:
        """Stop reading."""
        if self._polled:
            self._unpoll(_READ)
        else:
            self.reactor.removeReader(self)

    def startWriting(self) -> None:
        """Ask the reactor to call ``doWrite`` when the descriptor takes data."""
        self._watchingWrites = True
        self._watch(_WRITE, self.reactor.addWriter)

    def stopWriting(self) -> None:
        """Stop watching for writability."""
        if not self._watchingWrites:
            return
        self._watchingWrites = False
        if self._polled:
            self._unpoll(_WRITE)
        else:
            self.reactor.removeWriter(self)

    def _watch(self, direction: int, add: Callable[[Any], None]) -> None:
        if not self._polled:
            try:
                add(self)
                return
            except PermissionError:
                # epoll refuses descriptors that are always ready (regular files).
                self._polled = True
        self._pollMask |= direction
        if self._pollCall is None and self.connected:
            self._pollCall = self.reactor.callLater(0, self._servePolled)

    def _unpoll(self, direction: int) -> None:
        self._pollMask &= ~direction
        if not self._pollMask and self._pollCall is not None:
            self._pollCall.cancel()
            self._pollCall = None

    def _servePolled(self) -> None:
        """One pass's read and write for a descriptor the reactor cannot watch."""
        self._pollCall = None
        mask = self._pollMask
        if not mask or self.disconnected:
            return
        log.callWithLogger(self, self.reactor._dispatch, self, mask & _READ, mask & _WRITE)
        if self._pollMask and not self.disconnected and self._pollCall is None:
            self._pollCall = self.reactor.callLater(0, self._servePolled)

    # -- closing ----------------------------------------------------------------------

    def connectionLost(self, reason: Any) -> None:
        """Close the descriptor and tell the owner (once)."""
        if self.disconnected:
            return
        super().connectionLost(reason)
        self._unpoll(_READ | _WRITE)
        fd, self._fd = self._fd, -1
        try:
            self._closeDescriptor(fd)
        except OSError:
            pass
        try:
            self.proc.childConnectionLost(self.name, reason)
        except Exception:
            log.err(None, f"Error in {type(self.proc).__name__}.childConnectionLost")


class ProcessReader(_Pipe):
    """The reading end of a pipe (a child's stdout or stderr, our stdin).

    Args:
        reactor: the reactor to run in.
        proc: the owner, told ``childDataReceived(name, data)`` and
            ``childConnectionLost(name, reason)``.
        name: what the owner calls this descriptor (a child's descriptor number).
        fileno: the descriptor; made non-blocking.
        closeDescriptor: how to release the descriptor at the end (``os.close``).
    """

    __slots__ = ()

    # The most one read takes: a Linux pipe holds 64 KiB by default.
    readSize = 2**16

    def doRead(self) -> object:
        """Read what is there and hand it to the owner."""
        return readFromFD(self._fd, self._deliver, self.readSize)

    def _deliver(self, data: bytes) -> None:
        self.proc.childDataReceived(self.name, data)

    def write(self, data: bytes) -> None:
        """Refuse: this is a reading end.

        Raises:
            RuntimeError: always.
        """
        raise RuntimeError(f"{self!r} is the reading end of a pipe; it cannot be written to")

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        """Refuse: this is a reading end.

        Raises:
            RuntimeError: always.
        """
        self.write(b"")

    def loseConnection(self) -> None:
        """Stop reading and close (what is still in the pipe is not read)."""
        if self.connected and not self.disconnecting:
            self.disconnecting = True
            self.stopReading()
            self.reactor.callLater(0, self._disconnectNow, error.ConnectionDone())


class ProcessWriter(_Pipe):
    """The writing end of a pipe (a child's stdin, our stdout).

    On Linux the reactor also watches a FIFO's writing end for readability, which it
    reports once the reading end is closed: so the owner learns that the reader went
    away (``childConnectionLost``) even when nothing is being written. Twisted calls
    this the read hack.

    Args:
        reactor: the reactor to run in.
        proc: the owner, told ``childConnectionLost(name, reason)``.
        name: what the owner calls this descriptor (a child's descriptor number).
        fileno: the descriptor; made non-blocking.
        forceReadHack: watch for the reader's going away even where it is not known
            to work (for tests).
        closeDescriptor: how to release the descriptor at the end (``os.close``).
    """

    __slots__ = ("enableReadHack",)

    def __init__(
        self,
        reactor: Any,
        proc: PipeOwner,
        name: Any,
        fileno: int,
        forceReadHack: bool = False,
        closeDescriptor: Callable[[int], None] = os.close,
    ) -> None:
        super().__init__(reactor, proc, name, fileno, closeDescriptor)
        if forceReadHack:
            self.enableReadHack = True
        else:
            try:
                isFifo = stat.S_ISFIFO(os.fstat(fileno).st_mode)
            except OSError:
                isFifo = False
            self.enableReadHack = isFifo and sys.platform.startswith("linux")
        if self.enableReadHack:
            self.startReading()

    def doRead(self) -> object:
        """The writing end became readable: the reading end has been closed."""
        self.stopReading()
        return error.ConnectionLost("the reading end of the pipe was closed")

    def writeSomeData(self, data: bytes | memoryview) -> int | BaseException:
        """Write what the pipe takes now."""
        return writeToFD(self._fd, data)

    def pauseProducing(self) -> None:
        """Nothing to pause: a writing end reads nothing from its peer."""

    def resumeProducing(self) -> None:
        """Nothing to resume: a writing end reads nothing from its peer."""
