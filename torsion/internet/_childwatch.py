"""Noticing that a child process exited, on every reactor, without ever losing an exit.

Each reactor has one ChildWatcher (``watcherFor``). It collects the exit status of
the children torsion started, and only theirs: it waits for each by its pid with
``waitpid(pid, WNOHANG)``, never ``waitpid(-1)``, so the children of other code in
the program (subprocess, asyncio) are left to it.

- On Linux 5.3 and later a child is watched through a pidfd (``os.pidfd_open``): a
  descriptor that becomes readable when the child exits, watched like any other, so
  it works the same on the select, poll and epoll reactors and on asyncio's and
  uvloop's loops, in any thread, with no signal handler at all.
- Elsewhere (or if a pidfd cannot be had: an old kernel, a sandbox, no descriptors
  left) a SIGCHLD handler wakes the reactor, which then checks each of its children.
  The handler only queues that check (``callFromThread``), and chains to the handler
  it replaced. A timer checks every ``backstopInterval`` seconds as well, so an exit
  is still noticed if the handler cannot be installed (the reactor runs in another
  thread than the main one) or is replaced later by other code. A child that exits
  before the handler is installed is a zombie until it is waited for, so its exit is
  not lost either: the first check after watching it finds it.

A zombie is never left behind by torsion: when a reactor stops watching children it
has not seen exit (it shut down), their pids are remembered and collected by later
checks, from any reactor.
Tests: tests/internet/test_process.py (both mechanisms, on every reactor).
"""

from __future__ import annotations

import os
import signal
import threading
import weakref
from collections.abc import Callable
from typing import Any

from zope.interface import implementer

from torsion.internet.interfaces import IReadDescriptor
from torsion.python import log

__all__ = ["ChildWatcher", "reap", "watcherFor"]

# Tests set this to False to exercise the SIGCHLD mechanism on Linux.
usePidfd = hasattr(os, "pidfd_open")

ExitHandler = Callable[[int | None], object]

# Children whose reactor stopped watching them before they exited: reaped later.
_orphans: set[int] = set()


def reap(pid: int) -> tuple[bool, int | None]:
    """Collect ``pid``'s exit status if it has exited.

    Returns:
        (False, None) if it is still running; (True, status) once it exited; (True,
        None) if it had been waited for by someone else, so its status is lost.
    """
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True, None
    if done == 0:
        return False, None
    return True, status


def _reapOrphans() -> None:
    for pid in list(_orphans):
        if reap(pid)[0]:
            _orphans.discard(pid)


def _report(onExit: ExitHandler, status: int | None) -> None:
    try:
        onExit(status)
    except Exception:
        log.err(None, "Error while reporting the exit of a child process")


@implementer(IReadDescriptor)
class _PidfdWatch:
    """A pidfd, watched for readability: the child has exited."""

    __slots__ = ("__weakref__", "_fd", "_onExit", "_pid", "_reactor")

    def __init__(self, reactor: Any, pid: int, fd: int, onExit: ExitHandler) -> None:
        self._reactor = reactor
        self._pid = pid
        self._fd = fd
        self._onExit = onExit

    def fileno(self) -> int:
        return self._fd

    def logPrefix(self) -> str:
        return f"process {self._pid}"

    def __repr__(self) -> str:
        return f"<pidfd {self._fd} of process {self._pid}>"

    def doRead(self) -> None:
        done, status = reap(self._pid)
        if not done:
            return  # Readable without an exit: nothing has happened yet.
        self._close()
        _report(self._onExit, status)

    def _close(self) -> None:
        self._reactor.removeReader(self)
        fd, self._fd = self._fd, -1
        os.close(fd)

    def connectionLost(self, reason: object) -> None:
        """The reactor gave up on the descriptor (at shutdown): reap the child later."""
        if self._fd == -1:
            return
        self._close()
        done, _ = reap(self._pid)
        if not done:
            _orphans.add(self._pid)


# The watchers that the SIGCHLD handler wakes, and the handler it replaced.
_sigchldWatchers: weakref.WeakSet[ChildWatcher] = weakref.WeakSet()
_previousHandler: Any = None
_handlerInstalled = False


def _onSigchld(signum: int, frame: Any) -> None:
    # Runs between two bytecodes of the main thread: queue work, do nothing else.
    for watcher in list(_sigchldWatchers):
        watcher._wake()
    previous = _previousHandler
    if callable(previous):
        previous(signum, frame)


def _installSigchldHandler() -> bool:
    """Install the SIGCHLD handler (once); return False if it cannot be (not the main
    thread)."""
    global _previousHandler, _handlerInstalled
    if _handlerInstalled:
        return True
    if threading.current_thread() is not threading.main_thread():
        return False
    _previousHandler = signal.signal(signal.SIGCHLD, _onSigchld)
    # Restart interrupted system calls rather than failing them with EINTR.
    signal.siginterrupt(signal.SIGCHLD, False)
    _handlerInstalled = True
    return True


def _uninstallSigchldHandler() -> None:
    """Put the replaced SIGCHLD handler back (for tests)."""
    global _previousHandler, _handlerInstalled
    if _handlerInstalled:
        signal.signal(signal.SIGCHLD, _previousHandler or signal.SIG_DFL)
        _previousHandler = None
        _handlerInstalled = False


class ChildWatcher:
    """Tells each child's handler its exit status, once, from the reactor's thread."""

    # Seconds between the checks that back the SIGCHLD handler up; much shorter when
    # there is no handler (the reactor runs outside the main thread).
    backstopInterval = 1.0
    unsignalledInterval = 0.05

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        # The children watched through SIGCHLD: pid -> handler.
        self._waiting: dict[int, ExitHandler] = {}
        self._checkQueued = False
        self._backstop: Any = None
        self._interval = self.backstopInterval
        # A reactor that stops watches no more: its children are reaped by later checks.
        reactor.addSystemEventTrigger("after", "shutdown", self._abandon)

    def watch(self, pid: int, onExit: ExitHandler) -> None:
        """Call ``onExit(status)`` from the reactor once ``pid`` exits.

        ``status`` is the wait status (see os.waitstatus_to_exitcode), or None if
        something else collected it first.
        """
        if _orphans:
            _reapOrphans()
        if usePidfd:
            try:
                fd = os.pidfd_open(pid)
            except OSError:
                pass  # No pidfd for this one: SIGCHLD will do.
            else:
                self.reactor.addReader(_PidfdWatch(self.reactor, pid, fd, onExit))
                return
        self._waiting[pid] = onExit
        _sigchldWatchers.add(self)
        if not _installSigchldHandler():
            self._interval = self.unsignalledInterval
        # It may have exited already, before the handler was there.
        self._wake()
        self._armBackstop()

    def _abandon(self) -> None:
        for pid in self._waiting:
            if not reap(pid)[0]:
                _orphans.add(pid)
        self._waiting.clear()
        if self._backstop is not None and self._backstop.active():
            self._backstop.cancel()
        self._backstop = None
        _sigchldWatchers.discard(self)

    def _wake(self) -> None:
        """Check the children soon (safe from a signal handler)."""
        if not self._checkQueued:
            self._checkQueued = True
            self.reactor.callFromThread(self.check)

    def check(self) -> None:
        """Collect the exit status of every watched child that has exited."""
        self._checkQueued = False
        for pid, onExit in list(self._waiting.items()):
            done, status = reap(pid)
            if done:
                del self._waiting[pid]
                _report(onExit, status)
        if not self._waiting and self._backstop is not None:
            if self._backstop.active():
                self._backstop.cancel()
            self._backstop = None

    def _armBackstop(self) -> None:
        if self._backstop is None or not self._backstop.active():
            self._backstop = self.reactor.callLater(self._interval, self._backstopDue)

    def _backstopDue(self) -> None:
        self._backstop = None
        self.check()
        if self._waiting:
            self._armBackstop()


def watcherFor(reactor: Any) -> ChildWatcher:
    """Return ``reactor``'s ChildWatcher, making it on first use."""
    watcher: ChildWatcher | None = getattr(reactor, "_childWatcher", None)
    if watcher is None:
        watcher = ChildWatcher(reactor)
        reactor._childWatcher = watcher
    return watcher
