"""Time and work scheduling helpers built on the reactor (Twisted's ``internet.task``).

- ``Clock``: a reactor clock that only moves when a test says so, for deterministic
  tests of anything that calls ``callLater``.
- ``LoopingCall``: call a function every N seconds, skipping (and counting) the
  intervals it missed.
- ``deferLater``: a Deferred that fires after a delay, optionally with the result of
  a call.
- ``Cooperator``, ``cooperate``, ``coiterate``: run many long jobs (iterators) a slice
  at a time without starving the reactor; they live in ``torsion.internet._cooperator``
  and are re-exported here.
- ``react``: run a ``main(reactor, *argv)`` function to completion and exit with a
  status code, the usual body of a command-line program.

Nothing here installs a reactor on import: the global reactor is looked up only when
a ``LoopingCall`` is created without a clock being set, when the global
``Cooperator`` schedules work, or when ``react`` is called without a reactor.

Tests: tests/internet/test_task.py and tests/internet/test_cooperator.py.
"""

from __future__ import annotations

import bisect
import builtins
import math
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, NoReturn, Protocol, TypeVar, cast, overload

from zope.interface import implementer

from torsion.internet._cooperator import (
    CooperativeTask,
    Cooperator,
    NotPaused,
    SchedulerError,
    SchedulerStopped,
    TaskDone,
    TaskFailed,
    TaskFinished,
    TaskStopped,
    coiterate,
    cooperate,
    globalReactor,
)
from torsion.internet._delayedcall import DelayedCall
from torsion.internet.defer import Deferred, maybeDeferred
from torsion.internet.error import ReactorNotRunning
from torsion.internet.interfaces import IDelayedCall, IReactorTime
from torsion.logger import Logger
from torsion.python.failure import Failure

__all__ = [
    "Clock",
    "CooperativeTask",
    "Cooperator",
    "LoopingCall",
    "NotPaused",
    "SchedulerError",
    "SchedulerStopped",
    "TaskDone",
    "TaskFailed",
    "TaskFinished",
    "TaskStopped",
    "coiterate",
    "cooperate",
    "deferLater",
    "react",
]

_T = TypeVar("_T")

_log = Logger()

# The fraction of an interval by which a LoopingCall may run early, so that float
# rounding never makes it miss a boundary (see LoopingCall._indexAt).
_SLACK = 1e-7


@implementer(IReactorTime)
class Clock:
    """A deterministic ``IReactorTime``: time stands still until ``advance`` moves it.

    Give one to code that takes a clock (or set it as a ``LoopingCall``'s ``clock``),
    then drive time from the test::

        clock = Clock()
        d = deferLater(clock, 5, lambda: "done")
        clock.advance(5)          # the call runs now, inside advance()

    Attributes:
        rightNow: the current time in seconds; starts at 0.0.
        calls: the pending DelayedCalls, sorted by due time; calls due at the same
            time keep the order in which they were scheduled (or last rescheduled).
    """

    rightNow: float = 0.0

    def __init__(self) -> None:
        self.calls: list[DelayedCall] = []

    def seconds(self) -> float:
        """Return the current time on this clock, ``rightNow``."""
        return self.rightNow

    def callLater(self, delay: float, callable: object, *args: object, **kw: object) -> DelayedCall:
        """Schedule ``callable(*args, **kw)`` to run once time reaches now + ``delay``.

        Returns:
            The DelayedCall, which can be cancelled, reset or delayed.

        Raises:
            TypeError: ``callable`` cannot be called.
        """
        if not builtins.callable(callable):
            raise TypeError(f"callLater needs something callable, not {callable!r}")
        call = DelayedCall(
            self.seconds() + delay,
            callable,
            args,
            kw,
            self.calls.remove,
            self._reschedule,
            self.seconds,
        )
        self._insert(call)
        return call

    def _insert(self, call: DelayedCall) -> None:
        # insort_right keeps equal-time calls first in, first out.
        bisect.insort_right(self.calls, call, key=DelayedCall.getTime)

    def _reschedule(self, call: DelayedCall) -> None:
        self.calls.remove(call)
        self._insert(call)

    def getDelayedCalls(self) -> list[IDelayedCall]:
        """Return the pending calls, soonest first."""
        return list(self.calls)

    def advance(self, amount: float) -> None:
        """Move time forward by ``amount`` seconds and run every call now due.

        Calls run in order of due time. A call scheduled by a running call is run in
        the same ``advance`` if it is due by the new time (a ``callLater(0, ...)``
        runs, one due later does not).

        If a call raises, the exception propagates out of ``advance`` (as in Twisted),
        so a test sees it at once; that call counts as run, time stays at the new
        value, and the calls still due run at the next ``advance`` (``advance(0)``
        runs them).

        Raises:
            ValueError: ``amount`` is negative; the clock never goes back.
        """
        if amount < 0:
            raise ValueError(f"Clock.advance() needs an amount >= 0, not {amount!r}")
        self.rightNow += amount
        calls = self.calls
        while calls and calls[0].time <= self.rightNow:
            call = calls.pop(0)
            call.called = True
            call.func(*call.args, **call.kw)

    def pump(self, timings: Sequence[float]) -> None:
        """Advance the clock by each amount in ``timings`` in turn."""
        for amount in timings:
            self.advance(amount)


class LoopingCall:
    """Call a function repeatedly, every ``interval`` seconds, until stopped.

    ``start(interval)`` returns a Deferred that fires with this LoopingCall once
    ``stop()`` is called, or fails with the error if the function raises (or returns
    a Deferred that fails): a failure stops the loop. If the function returns a
    Deferred or is a coroutine function, the next call waits until that has finished;
    intervals missed meanwhile (or while the process was busy) are skipped, not made
    up, and the schedule stays aligned to the start time. ``withCount`` makes a loop
    that tells its function how many intervals passed.

    Attributes:
        f, a, kw: the function and the arguments it is called with.
        clock: the IReactorTime that schedules the calls: the global reactor unless
            set (tests set a ``Clock``).
        running: True between ``start`` and ``stop`` (or a failure).
        interval: the interval given to ``start``; None before the first start.
        call: the DelayedCall for the next call, or None while none is scheduled.
        starttime: the clock time at which the schedule is anchored.
    """

    def __init__(self, f: Callable[..., object], *a: object, **kw: object) -> None:
        self.f = f
        self.a = a
        self.kw = kw
        self._clock: IReactorTime | None = None
        self.running = False
        self.interval: float | None = None
        self.call: IDelayedCall | None = None
        self.starttime: float | None = None
        self._deferred: Deferred[LoopingCall] | None = None
        self._passCount = False
        # Interval numbers counted from ``starttime``: the one of the last call, and
        # the one the pending call was scheduled for.
        self._lastIndex = 0
        self._dueIndex = 0

    @property
    def clock(self) -> IReactorTime:
        """The IReactorTime scheduling the calls; the global reactor by default."""
        if self._clock is None:
            self._clock = cast(IReactorTime, globalReactor())
        return self._clock

    @clock.setter
    def clock(self, clock: IReactorTime) -> None:
        self._clock = clock

    @classmethod
    def withCount(cls, countCallable: Callable[[int], object]) -> LoopingCall:
        """Make a LoopingCall that calls ``countCallable(count)``.

        ``count`` is the number of intervals elapsed since the previous call (since
        ``start`` for the first one): 1 when the loop keeps up, more when intervals
        were missed because the process was busy or the previous call's Deferred
        took long. With an interval of 0 it is always 1.
        """
        loop = cls(countCallable)
        loop._passCount = True
        return loop

    def start(self, interval: float, now: bool = True) -> Deferred[LoopingCall]:
        """Start calling the function every ``interval`` seconds.

        Args:
            interval: seconds between calls; 0 means as often as possible (once per
                reactor iteration; on a ``Clock``, one ``advance`` keeps calling until
                the loop is stopped).
            now: call the function right away, before the first interval.

        Returns:
            A Deferred firing with this LoopingCall when ``stop`` is called, or
            failing with the function's error.

        Raises:
            AssertionError: the loop is already running.
            ValueError: ``interval`` is negative.
        """
        if self.running:
            raise AssertionError(
                f"{self!r} is already running: stop() it before calling start() again"
            )
        if interval < 0:
            raise ValueError(f"LoopingCall interval must be >= 0, not {interval!r}")
        self.running = True
        d: Deferred[LoopingCall] = Deferred()
        self._deferred = d
        self.interval = interval
        self.starttime = self.clock.seconds()
        if now:
            self._lastIndex = -1
            self._dueIndex = 0
            self()
        else:
            self._lastIndex = 0
            self._scheduleAt(1)
        return d

    def stop(self) -> None:
        """Stop the loop; the Deferred from ``start`` fires with this LoopingCall.

        If the function's Deferred is still pending, the start Deferred fires when it
        has finished (no further call is made).

        Raises:
            AssertionError: the loop is not running.
        """
        if not self.running:
            raise AssertionError(f"{self!r} is not running: there is nothing to stop")
        self.running = False
        if self.call is not None:
            self.call.cancel()
            self.call = None
            self._finish()

    def reset(self) -> None:
        """Restart the interval from now: the next call is ``interval`` seconds away.

        Does nothing while the function's Deferred is pending (the next call is
        scheduled when it finishes).

        Raises:
            AssertionError: the loop is not running.
        """
        if not self.running:
            raise AssertionError(f"{self!r} is not running: there is nothing to reset")
        if self.call is not None:
            self.call.cancel()
            self.call = None
            self.starttime = self.clock.seconds()
            self._lastIndex = 0
            self._scheduleAt(1)

    def __call__(self) -> None:
        """Make one call of the function; the loop's DelayedCalls run this."""
        self.call = None
        if self._passCount:
            count = self._countElapsed()
            d = maybeDeferred(self.f, count)
        else:
            d = maybeDeferred(self.f, *self.a, **self.kw)
        d.addCallbacks(self._callDone, self._callFailed)

    def _countElapsed(self) -> int:
        if not self.interval:
            return 1
        index = max(self._dueIndex, self._indexAt(self.clock.seconds()))
        count = index - self._lastIndex
        self._lastIndex = index
        return count

    def _callDone(self, result: object) -> None:
        if self.running:
            if self.interval == 0:
                self._scheduleAt(0)
            else:
                index = max(self._dueIndex, self._indexAt(self.clock.seconds()))
                self._scheduleAt(index + 1)
        else:
            self._finish()

    def _callFailed(self, failure: Failure) -> None:
        self.running = False
        d, self._deferred = self._deferred, None
        if d is not None:
            d.errback(failure)

    def _finish(self) -> None:
        d, self._deferred = self._deferred, None
        if d is not None:
            d.callback(self)

    def _indexAt(self, when: float) -> int:
        """Return the number of whole intervals between ``starttime`` and ``when``.

        A time a hair (``_SLACK`` of an interval) short of a boundary counts as on
        it: float sums drift (ten clock steps of 0.1 add up to 0.9999999999999999),
        and a test stepping a Clock by the interval expects a call at every step.
        """
        start = cast(float, self.starttime)
        interval = cast(float, self.interval)
        return math.floor((when - start) / interval + _SLACK)

    def _scheduleAt(self, index: int) -> None:
        """Schedule the next call at the start of interval number ``index``."""
        interval = cast(float, self.interval)
        if interval == 0:
            delay = 0.0
        else:
            due = cast(float, self.starttime) + (index - _SLACK) * interval
            delay = max(0.0, due - self.clock.seconds())
        self._dueIndex = index
        self.call = self.clock.callLater(delay, self)

    def __repr__(self) -> str:
        func = getattr(self.f, "__qualname__", None) or repr(self.f)
        args = [repr(arg) for arg in self.a]
        args.extend(f"{name}={value!r}" for name, value in self.kw.items())
        inner = ", ".join([func, *args])
        return f"LoopingCall<{self.interval!r}>({inner})"


@overload
def deferLater(clock: IReactorTime, delay: float) -> Deferred[None]: ...


@overload
def deferLater(
    clock: IReactorTime,
    delay: float,
    callable: Callable[..., Coroutine[Any, Any, _T]],
    *args: object,
    **kw: object,
) -> Deferred[_T]: ...


@overload
def deferLater(
    clock: IReactorTime,
    delay: float,
    callable: Callable[..., Deferred[_T]],
    *args: object,
    **kw: object,
) -> Deferred[_T]: ...


@overload
def deferLater(
    clock: IReactorTime,
    delay: float,
    callable: Callable[..., _T],
    *args: object,
    **kw: object,
) -> Deferred[_T]: ...


def deferLater(
    clock: IReactorTime,
    delay: float,
    callable: Callable[..., object] | None = None,
    *args: object,
    **kw: object,
) -> Deferred[Any]:
    """Return a Deferred that fires ``delay`` seconds from now on ``clock``.

    With ``callable``, it fires with the result of ``callable(*args, **kw)`` called
    then (or fails with its error); a returned Deferred or coroutine is waited for.
    Without, it fires with None.

    Cancelling the Deferred before the delay has passed cancels the timed call: the
    callable is never called and the Deferred fails with ``CancelledError``.
    """

    def cancelTimer(d: Deferred[Any]) -> None:
        timer.cancel()

    def fire(ignored: object) -> object:
        if callable is None:
            return None
        return maybeDeferred(callable, *args, **kw)

    d: Deferred[Any] = Deferred(cancelTimer)
    d.addCallback(fire)
    timer = clock.callLater(delay, d.callback, None)
    return d


class _ReactorForReact(Protocol):
    """What ``react`` needs of a reactor."""

    def run(self) -> None: ...

    def stop(self) -> None: ...

    def callWhenRunning(
        self, callable: Callable[..., object], *args: object, **kw: object
    ) -> object: ...

    def addSystemEventTrigger(
        self,
        phase: str,
        eventType: str,
        callable: Callable[..., object],
        *args: object,
        **kw: object,
    ) -> object: ...


def react(
    main: Callable[..., object],
    argv: Sequence[object] = (),
    _reactor: _ReactorForReact | None = None,
) -> NoReturn:
    """Run ``main(reactor, *argv)`` on a running reactor, then exit the process.

    ``main`` returns a Deferred, a coroutine (so an ``async def main(reactor)`` works)
    or a plain value. When that finishes the reactor is stopped and the process exits
    with status 0 on success; if it failed with ``SystemExit``, with that exit code;
    on any other failure the error is logged and the status is 1. If the reactor is
    stopped by someone else first, the status is 0 unless ``main`` failed by then.

    ``_reactor`` is for tests; by default the global reactor is used (and installed,
    if none is yet).

    Raises:
        SystemExit: always, once the reactor has stopped.
    """
    reactor: _ReactorForReact = (
        cast(_ReactorForReact, globalReactor()) if _reactor is None else _reactor
    )
    exitCode: list[str | int | None] = [0]
    shuttingDown: list[bool] = []
    reactor.addSystemEventTrigger("before", "shutdown", shuttingDown.append, True)

    def finish(result: object, stopReactor: bool) -> None:
        if stopReactor:
            try:
                reactor.stop()
            except ReactorNotRunning:
                pass
        if isinstance(result, Failure):
            if isinstance(result.value, SystemExit):
                exitCode[0] = result.value.code
            else:
                _log.failure("main function encountered error", result)
                exitCode[0] = 1

    def mainDone(result: object) -> None:
        if shuttingDown:
            finish(result, False)
        else:
            reactor.callWhenRunning(finish, result, True)

    maybeDeferred(main, reactor, *argv).addBoth(mainDone)
    reactor.run()
    sys.exit(exitCode[0])
