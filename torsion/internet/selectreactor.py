"""SelectReactor: the reactor on the standard library's ``selectors.DefaultSelector``.

Despite the Twisted name, it uses the best mechanism the platform has: epoll on
Linux, kqueue on the BSDs and macOS, devpoll or poll elsewhere, select as the last
resort. ``install()`` makes it the global reactor.
Tests: tests/internet/test_selectreactor.py and the conformance tests that use it.
"""

from __future__ import annotations

import selectors
from typing import Any

from torsion.internet.main import installReactor
from torsion.internet.posixbase import PosixReactorBase
from torsion.python import log

__all__ = ["SelectReactor", "install"]

_READ = selectors.EVENT_READ
_WRITE = selectors.EVENT_WRITE


class SelectReactor(PosixReactorBase):
    """A reactor polling with ``selectors.DefaultSelector`` (epoll on Linux).

    Args:
        selector: the selector to use (for tests: any ``selectors.BaseSelector``).
    """

    def __init__(self, selector: selectors.BaseSelector | None = None) -> None:
        self._selector = selector if selector is not None else selectors.DefaultSelector()
        # What each watched object is registered as: its descriptor and event mask. The
        # descriptor is kept because an object's fileno() is -1 once it is closed.
        self._registered: dict[Any, tuple[int, int]] = {}
        super().__init__()

    def _update(self, selectable: Any, add: int, remove: int) -> None:
        entry = self._registered.get(selectable)
        if entry is None:
            if not add:
                return
            fd = selectable.fileno()
            if fd == -1:
                return
            self._selector.register(fd, add, selectable)
            self._registered[selectable] = (fd, add)
            return
        fd, mask = entry
        newMask = (mask | add) & ~remove
        if newMask == mask:
            return
        if newMask:
            self._selector.modify(fd, newMask, selectable)
            self._registered[selectable] = (fd, newMask)
        else:
            try:
                self._selector.unregister(fd)
            except (KeyError, ValueError, OSError):
                pass
            del self._registered[selectable]

    def addReader(self, reader: Any) -> None:
        """Watch ``reader`` for readability."""
        self._update(reader, _READ, 0)

    def addWriter(self, writer: Any) -> None:
        """Watch ``writer`` for writability."""
        self._update(writer, _WRITE, 0)

    def removeReader(self, reader: Any) -> None:
        """Stop watching ``reader`` for readability."""
        self._update(reader, 0, _READ)

    def removeWriter(self, writer: Any) -> None:
        """Stop watching ``writer`` for writability."""
        self._update(writer, 0, _WRITE)

    def removeAll(self) -> list[Any]:
        """Stop watching everything but the waker; return what was watched."""
        removed = [s for s in self._registered if s is not self.waker]
        for selectable in removed:
            self._update(selectable, 0, _READ | _WRITE)
        return removed

    def getReaders(self) -> list[Any]:
        """Return everything watched for readability (the waker included)."""
        return [s for s, (_, mask) in self._registered.items() if mask & _READ]

    def getWriters(self) -> list[Any]:
        """Return everything watched for writability."""
        return [s for s, (_, mask) in self._registered.items() if mask & _WRITE]

    def doIteration(self, timeout: float | None) -> None:
        """Wait up to ``timeout`` seconds for I/O and dispatch what is ready."""
        if self._pendingWriters:
            self._flushPendingWrites()
            if self._pendingWriters:
                timeout = 0  # A pull producer wrote more: don't sleep on it.
        events = self._selector.select(timeout)
        registered = self._registered
        callWithLogger = log.callWithLogger
        dispatch = self._dispatch
        for key, mask in events:
            selectable = key.data
            if selectable not in registered:
                continue  # Removed by an earlier handler in this same pass.
            if selectable is self.waker:
                selectable.doRead()
                continue
            callWithLogger(selectable, dispatch, selectable, mask & _READ, mask & _WRITE)
        if self._pendingWriters:
            self._flushPendingWrites()


def install() -> SelectReactor:
    """Make a SelectReactor the global reactor and return it.

    Raises:
        ReactorAlreadyInstalledError: if a reactor is installed already.
    """
    reactor = SelectReactor()
    installReactor(reactor)
    return reactor
