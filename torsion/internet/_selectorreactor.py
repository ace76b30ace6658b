"""SelectorReactor: the one implementation behind the select, poll, epoll and kqueue reactors.

Each public reactor (torsion.internet.selectreactor, pollreactor, epollreactor,
kqreactor) is this class with a different poller (torsion.internet._pollers), so they
share their bookkeeping and their per-event path and differ only in the system call
that waits. The per-event path in ``doIteration`` is kept to local lookups and, for
the commonest event (a descriptor that is only readable), one call, since every byte
a torsion server moves goes through it.
Tests: tests/internet/test_selectreactor.py (the shared logic, with real and fake
selectors), tests/internet/test_kqreactor.py (kqueue's split read/write events) and
the conformance suite, which runs on every one of these reactors.
"""

from __future__ import annotations

import os
import selectors
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from torsion.internet import error
from torsion.internet._pollers import READ as _READ
from torsion.internet._pollers import WRITE as _WRITE
from torsion.internet._pollers import Poller, SelectorsPoller
from torsion.internet.main import installNewReactor
from torsion.internet.posixbase import PosixReactorBase
from torsion.python import context, log
from torsion.python.failure import Failure

__all__ = ["SelectorReactor", "installSelectorReactor"]


class SelectorReactor(PosixReactorBase):
    """A reactor that waits for I/O with a poller (epoll, poll, select, kqueue).

    Subclasses name how to make their poller in ``pollerFactory``.

    Args:
        selector: a ``selectors`` selector to wait with instead of a new poller (tests
            pass fakes; any ``selectors.BaseSelector`` works). The reactor owns it and
            closes it in ``_close``.
    """

    pollerFactory: ClassVar[Callable[[], Poller]]

    def __init__(self, selector: selectors.BaseSelector | None = None) -> None:
        self._poller: Poller = (
            SelectorsPoller(selector) if selector is not None else type(self).pollerFactory()
        )
        # What each watched object is registered as: its descriptor and event mask. The
        # descriptor is kept because an object's fileno() is -1 once it is closed.
        self._registered: dict[Any, tuple[int, int]] = {}
        # The other way round, for the poller's events: descriptor -> watched object.
        self._selectables: dict[int, Any] = {}
        # While mainLoop runs: its thread's lazy context layer (see doIteration), found
        # once rather than on every pass.
        self._loopLayer: context.Layer | None = None
        super().__init__()

    def _update(self, selectable: Any, add: int, remove: int) -> None:
        entry = self._registered.get(selectable)
        if entry is None:
            if not add:
                return
            fd = selectable.fileno()
            if fd == -1:
                return
            stale = self._selectables.get(fd)
            if stale is not None:
                # The descriptor was closed behind the reactor's back (epoll and kqueue
                # forget it then) and its number reused: the new owner takes it over.
                del self._registered[stale]
                self._forget(fd)
            self._poller.register(fd, add)
            self._registered[selectable] = (fd, add)
            self._selectables[fd] = selectable
            return
        fd, mask = entry
        newMask = (mask | add) & ~remove
        if newMask == mask:
            return
        if newMask:
            self._poller.modify(fd, newMask)
            self._registered[selectable] = (fd, newMask)
        else:
            self._forget(fd)
            del self._registered[selectable]
            del self._selectables[fd]

    def _forget(self, fd: int) -> None:
        try:
            self._poller.unregister(fd)
        except (KeyError, ValueError, OSError):
            pass  # Closed already: the kernel (or select's own set) has forgotten it.

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

    def mainLoop(self) -> None:
        """Loop until the reactor is crashed (see ReactorBase.mainLoop)."""
        outer = self._loopLayer
        self._loopLayer = context.threadLayer()
        try:
            super().mainLoop()
        finally:
            self._loopLayer = outer

    def doIteration(self, timeout: float | None) -> None:
        """Wait up to ``timeout`` seconds for I/O and dispatch what is ready."""
        pending = self._pendingWriters
        if pending:
            self._flushPendingWrites()
            if pending:
                timeout = 0  # A pull producer wrote more: don't sleep on it.
        selectables = self._selectables
        try:
            # No poll reports more events than there are descriptors registered.
            ready = self._poller.poll(timeout, len(selectables) or 1)
        except (OSError, ValueError) as e:
            # select(2) refuses the whole set when one descriptor in it was closed
            # behind the reactor's back; find that one, drop it, and go on.
            self._dropBadDescriptors(e)
            return
        if not ready:
            if pending:
                self._flushPendingWrites()
            return
        registered = self._registered
        # Each event, and then each send of what the handlers wrote, is handled under
        # its descriptor's log prefix, through the thread's lazy context layer: the same
        # as log.callWithLogger, at a fraction of the cost, entered once per pass.
        layer = self._loopLayer or context.threadLayer()
        previous = (layer.factory, layer.outer, layer.argument)
        layer.factory = log.loggerContext
        layer.outer = context.currentVariable()
        try:
            for fd, events in ready:
                selectable = selectables.get(fd)
                if selectable is None:
                    continue  # Removed by an earlier handler in this same pass.
                layer.argument = selectable
                if events == _READ:
                    # Only readable, so watched for reading: _dispatch, inlined for the
                    # commonest event of all.
                    try:
                        why = selectable.doRead()
                    except BaseException:
                        why = Failure()
                        self._logDispatchError(selectable, why)
                    if why:
                        self._disconnectSelectable(selectable, why, True)
                    continue
                # Writable, or an error or hang-up, which the kernel reports whatever was
                # asked for: it counts for the directions that are being watched.
                mask = registered[selectable][1]
                self._dispatch(
                    selectable, mask & _READ and events & ~_WRITE, mask & _WRITE and events & ~_READ
                )
            if pending:
                self._sendPendingWrites(layer)
        finally:
            layer.factory, layer.outer, layer.argument = previous

    def _dropBadDescriptors(self, problem: BaseException) -> None:
        """Disconnect every watched object that the selector cannot watch any more.

        That is one whose descriptor was closed (or replaced) behind the reactor's back,
        or, for select(2), one whose descriptor number is too high for it.

        Raises:
            OSError or ValueError: the selector's error again, if no watched descriptor
                explains it (so a broken selector is not mistaken for a bad connection).
        """
        bad: list[tuple[Any, BaseException]] = []
        for selectable, (fd, mask) in self._registered.items():
            if selectable is self.waker:
                continue
            if selectable.fileno() != fd:
                bad.append((selectable, self._closedBehindOurBack(fd)))
                continue
            try:
                os.fstat(fd)
            except OSError:
                bad.append((selectable, self._closedBehindOurBack(fd)))
                continue
            if not self._canWatchAlone(fd, mask):
                bad.append(
                    (
                        selectable,
                        error.ConnectionLost(
                            f"{type(self).__name__} cannot watch descriptor {fd}; "
                            "use torsion.internet.default.install() for a reactor that can"
                        ),
                    )
                )
        if not bad:
            raise problem
        for selectable, reason in bad:
            log.msg(f"Dropping {selectable!r}: {reason}")
            self._update(selectable, 0, _READ | _WRITE)
            log.callWithLogger(selectable, selectable.connectionLost, Failure(reason))

    @staticmethod
    def _closedBehindOurBack(fd: int) -> BaseException:
        return error.ConnectionFdescWentAway(
            f"descriptor {fd} was closed while the reactor watched it; "
            "call stopReading() and stopWriting() before closing a descriptor"
        )

    def _canWatchAlone(self, fd: int, mask: int) -> bool:
        """Return True if a fresh selector of this reactor's kind can watch ``fd``."""
        probe = type(self).pollerFactory()
        try:
            probe.register(fd, mask)
            probe.poll(0)
        except (OSError, ValueError):
            return False
        finally:
            probe.close()
        return True

    def _close(self) -> None:
        """Close the waker and the selector; the reactor is unusable afterwards."""
        super()._close()
        self._registered.clear()
        self._selectables.clear()
        self._poller.close()


_Reactor = TypeVar("_Reactor", bound=SelectorReactor)


def installSelectorReactor(reactorClass: type[_Reactor]) -> _Reactor:
    """Make a new ``reactorClass()`` the global reactor and return it.

    Raises:
        ReactorAlreadyInstalledError: if a reactor is installed already.
    """
    return installNewReactor(reactorClass())
