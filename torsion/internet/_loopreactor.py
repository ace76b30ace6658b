"""LoopReactorBase: a reactor that runs on another framework's event loop.

asyncio's loop, Qt's and Tk's all own the wait for events; a torsion reactor on one
of them keeps no loop of its own. What differs between them is small and is what a
subclass supplies (the ``_loop*`` and ``_watch``/``_unwatch`` methods below); the
rest is the same for all and is here:

- descriptors are watched through the loop, and their events go through the same
  dispatch as the selector reactors (torsion.internet.posixbase);
- timed calls keep ReactorBase's heap (so DelayedCall behaves exactly as elsewhere),
  with one loop timer armed for the earliest of them;
- ``callFromThread`` wakes the loop through a socket pair it watches (a loop with a
  thread-safe call of its own, such as asyncio's, may use that instead);
- ``run()`` runs the loop between the startup and shutdown events, and ``iterate()``
  runs it until one of the reactor's callbacks ran or the delay passed.

Each of those callbacks is a "pass": at its end, what transports wrote during it is
sent in one batch, as the selector reactors do at the end of theirs.
Subclasses: torsion.internet.asyncioreactor, qtreactor, tkreactor.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

from torsion.internet import error
from torsion.internet._delayedcall import DelayedCall
from torsion.internet.base import ReactorBase
from torsion.internet.posixbase import DescriptorReactorMixin, Waker
from torsion.python import log

__all__ = ["LoopReactorBase"]


class _LoopWaker(Waker):
    """The socket pair other threads write to; reading it runs the reactor's pass."""

    def __init__(self, reactor: LoopReactorBase) -> None:
        super().__init__()
        self._reactor = reactor

    def doRead(self) -> None:
        super().doRead()
        self._reactor._wokenUp()


class LoopReactorBase(DescriptorReactorMixin, ReactorBase):
    """What every reactor on a foreign event loop shares; see the module's docstring.

    A subclass supplies:

    - ``_watch(fd, selectable, reading)``: call ``self._ioReady(selectable, reading,
      not reading)`` whenever ``fd`` is readable (or writable); ``_unwatch(fd,
      reading)`` stops that;
    - ``_loopCallLater(delay, f)``, returning a handle for ``_loopCancel(handle)``;
    - ``_loopRun()``, running the loop until ``_loopStop()``, and ``_loopRunning()``;
    - either ``wakeUp``, through a thread-safe call of the loop's own that calls
      ``_wokenUp`` in the loop, or a call of ``_installWaker()`` in ``__init__``.

    The calls that are not thread-safe elsewhere (callLater, DelayedCall.reset, the
    IReactorFDSet methods) are not here either: make them from the loop's thread, or
    through ``callFromThread``.
    """

    def __init__(self) -> None:
        # The descriptor each watched object was registered with (fileno() is -1 once
        # the object is closed, but the loop must be told which one to forget).
        self._readers: dict[Any, int] = {}
        self._writers: dict[Any, int] = {}
        # The loop timer armed for the earliest timed call, and when (seconds()) it is.
        self._timer: Any = None
        self._timerWhen: float | None = None
        self._wakeScheduled = False
        self._waker: _LoopWaker | None = None
        self._savedWakeupFd: int | None = None
        self._closed = False
        # True while one of the reactor's own callbacks runs: writes made then are
        # flushed at its end instead of through a loop call of their own.
        self._inPass = False
        # True while iterate() runs the loop: the first pass stops it.
        self._iterating = False
        self._loopRunByReactor = False
        super().__init__()
        self._scheduleWrite = self._scheduleWriteSoon

    # -- what a loop supplies --------------------------------------------------------------

    def _watch(self, fd: int, selectable: Any, reading: bool) -> None:
        raise NotImplementedError

    def _unwatch(self, fd: int, reading: bool) -> None:
        raise NotImplementedError

    def _loopCallLater(self, delay: float, f: Callable[[], object]) -> Any:
        raise NotImplementedError

    def _loopCancel(self, handle: Any) -> None:
        raise NotImplementedError

    def _loopCallSoon(self, f: Callable[[], object]) -> None:
        """Call ``f`` soon, after what is already queued (loops with a queue of their
        own, such as asyncio's, keep that order exactly)."""
        self._loopCallLater(0, f)

    def _loopRun(self) -> None:
        raise NotImplementedError

    def _loopStop(self) -> None:
        raise NotImplementedError

    def _loopRunning(self) -> bool:
        raise NotImplementedError

    # -- descriptors --------------------------------------------------------------------

    def addReader(self, reader: Any) -> None:
        """Watch ``reader`` for readability."""
        if reader in self._readers:
            return
        fd = reader.fileno()
        if fd == -1:
            return
        self._watch(fd, reader, True)
        self._readers[reader] = fd

    def addWriter(self, writer: Any) -> None:
        """Watch ``writer`` for writability."""
        if writer in self._writers:
            return
        fd = writer.fileno()
        if fd == -1:
            return
        self._watch(fd, writer, False)
        self._writers[writer] = fd

    def removeReader(self, reader: Any) -> None:
        """Stop watching ``reader`` for readability."""
        fd = self._readers.pop(reader, None)
        if fd is not None:
            self._unwatch(fd, True)

    def removeWriter(self, writer: Any) -> None:
        """Stop watching ``writer`` for writability."""
        fd = self._writers.pop(writer, None)
        if fd is not None:
            self._unwatch(fd, False)

    def removeAll(self) -> list[Any]:
        """Stop watching every descriptor (but the reactor's waker); return what was."""
        removed = [
            s for s in dict.fromkeys([*self._readers, *self._writers]) if s is not self._waker
        ]
        for selectable in removed:
            self.removeReader(selectable)
            self.removeWriter(selectable)
        return removed

    def getReaders(self) -> list[Any]:
        """Return everything watched for readability (but the reactor's waker)."""
        return [s for s in self._readers if s is not self._waker]

    def getWriters(self) -> list[Any]:
        """Return everything watched for writability."""
        return list(self._writers)

    def _ioReady(self, selectable: Any, readable: bool, writable: bool) -> None:
        """The loop saw ``selectable`` ready: dispatch it, then send what was written."""
        self._inPass = True
        log.callWithLogger(selectable, self._dispatch, selectable, readable, writable)
        self._inPass = False
        if self._pendingWriters:
            self._flushPendingWrites()
        if self._iterating:
            self._stopIterating()

    def _scheduleWriteSoon(self, writer: Any) -> None:
        """Send ``writer``'s new data at the end of this pass (or soon, outside one)."""
        pending = self._pendingWriters
        if not pending and not self._inPass:
            # Written from the loop's own code (a GUI callback, asyncio): no pass of
            # ours will end soon.
            self._loopCallSoon(self._flushSoon)
        pending.append(writer)

    def _flushSoon(self) -> None:
        if self._pendingWriters:
            self._flushPendingWrites()

    # -- timed calls and cross-thread calls ----------------------------------------------

    def callLater(
        self, delay: float, callable: Callable[..., object], *args: Any, **kw: Any
    ) -> DelayedCall:
        """Call ``callable(*args, **kw)`` after ``delay`` seconds; return its DelayedCall.

        Raises:
            ValueError: if ``delay`` is negative.
        """
        call = super().callLater(delay, callable, *args, **kw)
        if self._timerWhen is None or call.time < self._timerWhen:
            self._setTimer(call.time)
        return call

    def _timedCallMoved(self, call: DelayedCall) -> None:
        if self._timerWhen is None or call.time < self._timerWhen:
            self._setTimer(call.time)

    def _setTimer(self, when: float) -> None:
        """Arm the loop timer for ``when`` (on the ``seconds()`` clock), replacing any."""
        if self._timer is not None:
            self._loopCancel(self._timer)
        self._timerWhen = when
        # A relative delay, because a loop's own clock (uvloop's) may not be seconds().
        self._timer = self._loopCallLater(max(0.0, when - self.seconds()), self._timerFired)

    def _timerFired(self) -> None:
        self._timer = None
        self._timerWhen = None
        self._runPass()

    def _rearmTimer(self) -> None:
        """After due calls ran: arm the loop timer for the next one, if it is not already."""
        when = self._nextTimedCallTime()
        if when is None:
            if self._timer is not None:
                self._loopCancel(self._timer)
                self._timer = None
                self._timerWhen = None
        elif self._timerWhen is None or when < self._timerWhen:
            self._setTimer(when)

    def _installWaker(self) -> None:
        """Watch a socket pair that ``wakeUp`` writes to: for a loop without a
        thread-safe call of its own. Call it at the end of ``__init__``, in the loop's
        thread (a GUI toolkit's watchers belong to the thread that made them)."""
        self._waker = _LoopWaker(self)
        self.addReader(self._waker)

    def wakeUp(self) -> None:
        """Make the loop run the calls from other threads soon (safe from any thread)."""
        waker = self._waker
        if waker is None:
            if self._closed:
                return  # A signal handler that outlived the reactor: nothing to wake.
            raise NotImplementedError(
                f"{type(self).__name__} must override wakeUp or call _installWaker"
            )
        waker.wakeUp()

    def _installSignalHandlers(self) -> None:
        super()._installSignalHandlers()
        if self._waker is not None and self._savedSignals:
            # Python runs a signal's handler only when the loop next calls into Python:
            # the byte the signal writes to the waker makes it do so at once.
            self._savedWakeupFd = signal.set_wakeup_fd(
                self._waker._writer.fileno(), warn_on_full_buffer=False
            )

    def _restoreSignalHandlers(self) -> None:
        saved, self._savedWakeupFd = self._savedWakeupFd, None
        if saved is not None:
            signal.set_wakeup_fd(saved)
        super()._restoreSignalHandlers()

    def _wokenUp(self) -> None:
        # Cleared before the queue is read, so a call queued from now on wakes us again.
        self._wakeScheduled = False
        self._runPass()

    def _runPass(self) -> None:
        """Run the calls from other threads and the due timed calls, then send writes."""
        self._inPass = True
        try:
            self.runUntilCurrent()
        finally:
            self._inPass = False
        if self._pendingWriters:
            self._flushPendingWrites()
        self._rearmTimer()
        if self._iterating:
            self._stopIterating()

    # -- life cycle ----------------------------------------------------------------------

    def run(self, installSignalHandlers: bool = True) -> None:
        """Run the loop; fire 'startup' in it, and stop it after ``stop()``.

        The startup triggers (``callWhenRunning``) run inside the running loop, so code
        of the loop's own started there lands on this loop.

        Raises:
            ReactorAlreadyRunning: if the reactor runs, or if the loop is running already
                (torsion code then runs on it as it is, without ``run()``).
            ReactorNotRestartable: if the reactor has run and stopped before.
        """
        if self._loopRunning():
            raise error.ReactorAlreadyRunning(
                "this reactor's event loop is already running, so torsion code runs on "
                "it already; don't call reactor.run() from inside the loop"
            )
        problems: list[BaseException] = []

        def start() -> None:
            try:
                self.startRunning(installSignalHandlers)
            except BaseException as e:
                problems.append(e)
                self._loopStop()

        self._loopCallSoon(start)
        try:
            self._runLoop()
        finally:
            self._restoreSignalHandlers()
        if problems:
            # Re-raised without the traceback it had inside the loop's callback: that
            # one holds the toolkit's frames (Tk's application among them) in a cycle
            # with this frame, which the collector may later free in another thread.
            raise problems.pop().with_traceback(None)

    def mainLoop(self) -> None:
        """Run the loop until the reactor stops or crashes.

        For code that calls ``startRunning`` itself; ``run`` does both.
        """
        if self._started:
            self._runLoop()

    def _runLoop(self) -> None:
        self._loopRunByReactor = True
        self._loopCallSoon(self._runPass)  # For calls due before the loop ran.
        try:
            self._loopRun()
        finally:
            self._loopRunByReactor = False
        if self._started:
            self.crash()  # Someone else stopped the loop: the reactor stops with it.

    def crash(self) -> None:
        """Stop the loop now, without the 'shutdown' event."""
        super().crash()
        if self._loopRunByReactor:
            self._loopStop()

    def doIteration(self, timeout: float | None) -> None:
        """Run the loop until one of the reactor's callbacks ran, or ``timeout`` passed."""
        self._iterating = True
        limit = self._loopCallLater(timeout, self._stopIterating) if timeout is not None else None
        try:
            self._loopRun()
        finally:
            self._iterating = False
            if limit is not None:
                self._loopCancel(limit)

    def iterate(self, delay: float = 0.0) -> None:
        """Run the due calls, then the loop until something happens or ``delay`` passes."""
        self._runPass()
        self.doIteration(delay)

    def _stopIterating(self) -> None:
        # At most one stop per iterate(): uvloop queues each stop() as a callback, and a
        # second one left in the queue would end the next run of the loop at once.
        if self._iterating:
            self._iterating = False
            self._loopStop()

    def _close(self) -> None:
        """Forget every descriptor, the waker and the loop timer (for tests and embedders).

        The loop itself is left alone: whoever made it closes it.
        """
        self._closed = True
        self.removeAll()
        waker, self._waker = self._waker, None
        if waker is not None:
            self.removeReader(waker)
            waker.connectionLost(None)
        if self._timer is not None:
            self._loopCancel(self._timer)
            self._timer = None
            self._timerWhen = None
