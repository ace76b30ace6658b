"""Run a Deferred or coroutine to completion from synchronous test code.

Both ``torsion.trial.unittest.TestCase`` and the pytest plugin need the same thing:
take whatever a test (or its setUp, tearDown, cleanup) returned, and if it is a
Deferred or a coroutine, turn the reactor in small steps until it has a result or the
test's time is up. The reactor is never ``run()`` here, so a test may itself start
and stop things without nesting event loops. Tests: tests/trial/test_spin.py.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol, cast

from torsion.internet._delayedcall import DelayedCall

# Longest single wait for I/O, so a timeout is noticed promptly even when the
# reactor has no timed call that would wake it.
_MAX_STEP = 0.1


class SpinnableReactor(Protocol):
    """What the spinner needs from a reactor: steps, timed calls and a clock."""

    def iterate(self, delay: float = 0.0) -> None: ...

    def callLater(self, delay: float, callable: Callable[..., object], *args: object) -> Any: ...

    def getDelayedCalls(self) -> Sequence[Any]: ...

    def seconds(self) -> float: ...


class PrivateLoop:
    """A minimal stand-in reactor: timed calls only, waiting by sleeping.

    Used when ``torsion.internet.reactor`` cannot be imported, so Deferred-returning
    tests still run (and time out) in a tree without a reactor. It knows nothing of
    sockets; anything that needs I/O needs the real reactor.
    """

    def __init__(
        self,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self._now = now
        self._sleep = sleep
        self._calls: list[DelayedCall] = []

    def seconds(self) -> float:
        """The loop's clock: monotonic seconds."""
        return self._now()

    def callLater(
        self, delay: float, callable: Callable[..., object], *args: object, **kw: object
    ) -> DelayedCall:
        """Schedule ``callable(*args, **kw)`` after ``delay`` seconds."""
        call = DelayedCall(
            self._now() + delay,
            callable,
            args,
            kw,
            self._calls.remove,
            lambda c: None,
            self._now,
        )
        self._calls.append(call)
        return call

    def getDelayedCalls(self) -> list[DelayedCall]:
        """The scheduled calls that have not run or been cancelled."""
        return list(self._calls)

    def iterate(self, delay: float = 0.0) -> None:
        """Run the calls that are due, else wait at most ``delay`` for the next one."""
        now = self._now()
        due = sorted((c for c in self._calls if c.time <= now), key=lambda c: c.time)
        if not due:
            if self._calls and delay > 0:
                nextTime = min(c.time for c in self._calls)
                self._sleep(max(0.0, min(delay, nextTime - now)))
            elif delay > 0:
                self._sleep(delay)
            return
        for call in due:
            if call in self._calls:
                self._calls.remove(call)
                call.called = True
                call.func(*call.args, **call.kw)


_privateLoop: PrivateLoop | None = None


def installedReactor() -> SpinnableReactor | None:
    """The global reactor if some code has already installed it, else None.

    Checking ``sys.modules`` rather than importing keeps this from installing a
    reactor as a side effect: a test suite that never touched the reactor has no
    delayed calls to complain about.
    """
    module = sys.modules.get("torsion.internet.reactor")
    return _asReactor(module) if module is not None else None


def _asReactor(candidate: object) -> SpinnableReactor | None:
    # The module may be the reactor itself (Twisted installs it into sys.modules)
    # or a module holding it as ``reactor``.
    for obj in (candidate, getattr(candidate, "reactor", None)):
        if obj is not None and all(
            hasattr(obj, name) for name in ("iterate", "callLater", "getDelayedCalls", "seconds")
        ):
            return cast(SpinnableReactor, obj)
    return None


def getReactor() -> SpinnableReactor:
    """The reactor to spin: the global one (installing the default), else a private loop."""
    global _privateLoop
    reactor = installedReactor()
    if reactor is not None:
        return reactor
    try:
        reactor = _asReactor(importlib.import_module("torsion.internet.reactor"))
    except ImportError:
        reactor = None
    if reactor is not None:
        return reactor
    if _privateLoop is None:
        _privateLoop = PrivateLoop()
    return _privateLoop


class SpinTimeoutError(Exception):
    """A test's Deferred or coroutine did not finish within its timeout."""


def isAwaitableResult(result: object) -> bool:
    """True if ``result`` is something the spinner must wait for."""
    if inspect.iscoroutine(result):
        return True
    defer = sys.modules.get("torsion.internet.defer")
    return defer is not None and isinstance(result, defer.Deferred)


def spinUntilDone(
    result: object,
    timeout: float,
    description: str,
    reactor: SpinnableReactor | None = None,
) -> object:
    """Wait for ``result`` if it is a Deferred or coroutine, and return its value.

    Anything else is returned unchanged. The reactor is iterated until the Deferred
    fires or ``timeout`` seconds pass; on timeout the Deferred is cancelled and
    SpinTimeoutError says which part of which test hung.

    Raises:
        SpinTimeoutError: the Deferred had no result after ``timeout`` seconds.
        BaseException: whatever the Deferred failed with, with its own traceback.
    """
    if not isAwaitableResult(result):
        return result
    from torsion.internet.defer import Deferred
    from torsion.python.failure import Failure

    if isinstance(result, Deferred):
        deferred: Deferred[object] = result
    else:
        deferred = Deferred.fromCoroutine(cast("Coroutine[Any, Any, object]", result))
    if reactor is None:
        reactor = getReactor()
    outcome: list[object] = []

    def collect(value: object) -> None:
        outcome.append(value)

    deferred.addBoth(collect)
    if not outcome:
        timedOut: list[bool] = []

        def onTimeout() -> None:
            timedOut.append(True)
            deferred.cancel()

        timer = reactor.callLater(timeout, onTimeout)
        try:
            while not outcome and not timedOut:
                reactor.iterate(_nextWait(reactor))
        finally:
            if timer.active():
                timer.cancel()
        if timedOut:
            raise SpinTimeoutError(
                f"{description} did not finish within {timeout:g} seconds; its Deferred"
                " was cancelled. Give the test a larger `timeout` if it needs longer."
            )
    value = outcome[0]
    if isinstance(value, Failure):
        value.raiseException()
    return value


def _nextWait(reactor: SpinnableReactor) -> float:
    """How long one step may block: until the next timed call, at most _MAX_STEP."""
    calls = reactor.getDelayedCalls()
    if not calls:
        return _MAX_STEP
    untilNext = float(min(call.getTime() for call in calls)) - reactor.seconds()
    return max(0.0, min(_MAX_STEP, untilNext))


def pendingDelayedCalls(reactor: SpinnableReactor) -> list[Any]:
    """Cancel and return the reactor's active delayed calls (a test left them behind)."""
    leftovers = [call for call in reactor.getDelayedCalls() if call.active()]
    for call in leftovers:
        call.cancel()
    return leftovers
