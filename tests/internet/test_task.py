"""Tests for torsion.internet.task: Clock, LoopingCall, deferLater and react.

The Cooperator's tests are in test_cooperator.py. Every timed test drives a Clock.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from zope.interface.verify import verifyObject

from torsion.internet import task
from torsion.internet._delayedcall import DelayedCall
from torsion.internet.defer import CancelledError, Deferred, fail, succeed
from torsion.internet.error import AlreadyCalled, ReactorNotRunning
from torsion.internet.interfaces import IReactorTime
from torsion.internet.task import Clock, LoopingCall, deferLater, react
from torsion.logger import Logger
from torsion.python.failure import Failure


def outcome(d: Deferred[Any]) -> list[object]:
    """Return [result] (a Failure if it failed) once ``d`` has fired, else []."""
    seen: list[object] = []

    def keep(result: object) -> None:
        seen.append(result)

    d.addBoth(keep)
    return seen


# Clock


def test_clockStartsAtZero() -> None:
    clock = Clock()
    assert clock.seconds() == 0.0
    assert clock.rightNow == 0.0


def test_clockProvidesIReactorTime() -> None:
    assert verifyObject(IReactorTime, Clock())


def test_callLaterReturnsDelayedCallDueAtNowPlusDelay() -> None:
    clock = Clock()
    clock.advance(2)
    call = clock.callLater(3, lambda: None)
    assert isinstance(call, DelayedCall)
    assert call.getTime() == 5
    assert call.active()


def test_callLaterRefusesSomethingNotCallable() -> None:
    clock = Clock()
    with pytest.raises(TypeError, match="callable"):
        clock.callLater(1, "not a function")
    assert clock.getDelayedCalls() == []


def test_advanceRunsDueCallsWithTheirArguments() -> None:
    clock = Clock()
    seen: list[tuple[object, ...]] = []
    clock.callLater(1, lambda *a, **kw: seen.append((a, kw)), 1, 2, key="value")
    clock.advance(1)
    assert seen == [((1, 2), {"key": "value"})]


def test_advanceDoesNotRunCallsDueLater() -> None:
    clock = Clock()
    seen: list[str] = []
    call = clock.callLater(2, seen.append, "late")
    clock.advance(1.5)
    assert seen == []
    assert call.active()
    assert clock.seconds() == 1.5


def test_advanceRunsCallsInTimeOrder() -> None:
    clock = Clock()
    seen: list[int] = []
    clock.callLater(3, seen.append, 3)
    clock.callLater(1, seen.append, 1)
    clock.callLater(2, seen.append, 2)
    clock.advance(5)
    assert seen == [1, 2, 3]


def test_callsDueAtTheSameTimeRunFirstInFirstOut() -> None:
    clock = Clock()
    seen: list[int] = []
    for n in range(10):
        clock.callLater(1, seen.append, n)
    clock.advance(1)
    assert seen == list(range(10))


def test_callsRunWithClockAtTheirTimeNotEarlier() -> None:
    clock = Clock()
    times: list[float] = []
    clock.callLater(1, lambda: times.append(clock.seconds()))
    clock.advance(10)
    # Twisted's Clock moves time first, then runs what is due.
    assert times == [10]


def test_callScheduledByACallForNowRunsInSameAdvance() -> None:
    clock = Clock()
    seen: list[str] = []
    clock.callLater(1, lambda: clock.callLater(0, seen.append, "inner"))
    clock.advance(1)
    assert seen == ["inner"]


def test_callScheduledByACallForTheFutureDoesNotRun() -> None:
    clock = Clock()
    seen: list[str] = []
    clock.callLater(1, lambda: clock.callLater(5, seen.append, "inner"))
    clock.advance(2)
    assert seen == []
    assert [c.getTime() for c in clock.getDelayedCalls()] == [7]


def test_callScheduledInThePastRunsAtNextAdvance() -> None:
    clock = Clock()
    seen: list[str] = []
    clock.callLater(-1, seen.append, "past")
    clock.advance(0)
    assert seen == ["past"]


def test_ranCallIsMarkedCalledAndForgotten() -> None:
    clock = Clock()
    call = clock.callLater(1, lambda: None)
    clock.advance(1)
    assert call.called
    assert not call.active()
    assert clock.getDelayedCalls() == []
    with pytest.raises(AlreadyCalled):
        call.cancel()


def test_cancelledCallDoesNotRun() -> None:
    clock = Clock()
    seen: list[str] = []
    call = clock.callLater(1, seen.append, "x")
    call.cancel()
    clock.advance(2)
    assert seen == []
    assert clock.getDelayedCalls() == []


def test_resetMovesCallRelativeToNow() -> None:
    clock = Clock()
    seen: list[float] = []
    call = clock.callLater(1, lambda: seen.append(clock.seconds()))
    clock.advance(0.5)
    call.reset(2)
    clock.advance(1)
    assert seen == []
    clock.advance(1.5)
    assert seen == [3.0]


def test_resetCallBecomesFirstWhenMovedEarlier() -> None:
    clock = Clock()
    seen: list[str] = []
    clock.callLater(2, seen.append, "a")
    late = clock.callLater(5, seen.append, "b")
    late.reset(1)
    clock.advance(5)
    assert seen == ["b", "a"]


def test_delayPushesCallLater() -> None:
    clock = Clock()
    call = clock.callLater(1, lambda: None)
    call.delay(2)
    assert clock.getDelayedCalls()[0].getTime() == 3
    clock.advance(2)
    assert call.active()


def test_getDelayedCallsIsSortedCopy() -> None:
    clock = Clock()
    b = clock.callLater(2, lambda: None)
    a = clock.callLater(1, lambda: None)
    calls = clock.getDelayedCalls()
    assert calls == [a, b]
    calls.clear()
    assert clock.getDelayedCalls() == [a, b]


def test_exceptionFromCallPropagatesOutOfAdvance() -> None:
    clock = Clock()
    seen: list[str] = []

    def boom() -> None:
        raise ZeroDivisionError("boom")

    failing = clock.callLater(1, boom)
    clock.callLater(1, seen.append, "after")
    with pytest.raises(ZeroDivisionError):
        clock.advance(1)
    assert failing.called
    assert seen == []
    clock.advance(0)
    assert seen == ["after"]


def test_advanceByNegativeAmountIsRefused() -> None:
    clock = Clock()
    with pytest.raises(ValueError, match=">= 0"):
        clock.advance(-1)
    assert clock.seconds() == 0


def test_pumpAdvancesByEachAmount() -> None:
    clock = Clock()
    times: list[float] = []
    for t in (1, 2, 3):
        clock.callLater(t, lambda: times.append(clock.seconds()))
    clock.pump([1, 1, 1])
    assert times == [1, 2, 3]
    assert clock.seconds() == 3


# LoopingCall


def loopOn(clock: Clock, f: Callable[..., object], *a: object, **kw: object) -> LoopingCall:
    loop = LoopingCall(f, *a, **kw)
    loop.clock = clock
    return loop


def test_startCallsAtOnceByDefault() -> None:
    clock = Clock()
    seen: list[float] = []
    loop = loopOn(clock, lambda: seen.append(clock.seconds()))
    loop.start(1)
    assert seen == [0]
    assert loop.running
    assert loop.interval == 1


def test_startWithNowFalseWaitsOneInterval() -> None:
    clock = Clock()
    seen: list[float] = []
    loop = loopOn(clock, lambda: seen.append(clock.seconds()))
    loop.start(2, now=False)
    assert seen == []
    clock.advance(2)
    assert seen == [2]


def test_loopCallsEveryIntervalWithArguments() -> None:
    clock = Clock()
    seen: list[tuple[object, ...]] = []
    loop = loopOn(clock, lambda *a, **kw: seen.append((clock.seconds(), a, kw)), 1, k=2)
    loop.start(1)
    clock.pump([1, 1, 1])
    assert seen == [(float(t), (1,), {"k": 2}) for t in range(4)]


def test_loopKeepsItsScheduleAlignedToStart() -> None:
    clock = Clock()
    times: list[float] = []
    loop = loopOn(clock, lambda: times.append(clock.seconds()))
    loop.start(1)
    clock.pump([0.3, 1.0, 1.0])
    # Calls run at 1.3 and 2.3 (late), but the next one is due at 3, not 3.3.
    clock.advance(0.7)
    assert times == [0, 1.3, 2.3, 3.0]


def test_missedIntervalsAreSkipped() -> None:
    clock = Clock()
    times: list[float] = []
    loop = loopOn(clock, lambda: times.append(clock.seconds()))
    loop.start(1)
    clock.advance(5.5)
    assert times == [0, 5.5]
    assert loop.call is not None
    assert loop.call.getTime() == pytest.approx(6)


def test_stopFiresStartDeferredWithTheLoop() -> None:
    clock = Clock()
    loop = loopOn(clock, lambda: None)
    result = outcome(loop.start(1))
    assert result == []
    loop.stop()
    assert result == [loop]
    assert not loop.running
    assert clock.getDelayedCalls() == []


def test_noCallsAfterStop() -> None:
    clock = Clock()
    seen: list[float] = []
    loop = loopOn(clock, lambda: seen.append(clock.seconds()))
    loop.start(1)
    loop.stop()
    clock.advance(10)
    assert seen == [0]


def test_stopFromInsideTheFunction() -> None:
    clock = Clock()
    seen: list[int] = []

    def f() -> None:
        seen.append(1)
        if len(seen) == 3:
            loop.stop()

    loop = loopOn(clock, f)
    result = outcome(loop.start(1))
    clock.pump([1] * 5)
    assert len(seen) == 3
    assert result == [loop]


def test_stopWhenNotRunningRaises() -> None:
    loop = loopOn(Clock(), lambda: None)
    with pytest.raises(AssertionError, match="not running"):
        loop.stop()


def test_resetWhenNotRunningRaises() -> None:
    loop = loopOn(Clock(), lambda: None)
    with pytest.raises(AssertionError, match="not running"):
        loop.reset()


def test_startTwiceRaisesWithClearMessage() -> None:
    loop = loopOn(Clock(), lambda: None)
    loop.start(1)
    with pytest.raises(AssertionError, match="already running"):
        loop.start(1)


def test_negativeIntervalIsRefused() -> None:
    loop = loopOn(Clock(), lambda: None)
    with pytest.raises(ValueError, match=">= 0"):
        loop.start(-1)
    assert not loop.running


def test_loopCanBeRestartedAfterStop() -> None:
    clock = Clock()
    seen: list[float] = []
    loop = loopOn(clock, lambda: seen.append(clock.seconds()))
    loop.start(1)
    loop.stop()
    clock.advance(0.5)
    loop.start(1)
    clock.advance(1)
    assert seen == [0, 0.5, 1.5]


def test_failingFunctionStopsLoopAndFailsStartDeferred() -> None:
    clock = Clock()
    calls: list[int] = []

    def f() -> None:
        calls.append(1)
        if len(calls) == 2:
            raise ZeroDivisionError("boom")

    loop = loopOn(clock, f)
    result = outcome(loop.start(1))
    clock.advance(1)
    assert len(result) == 1
    failure = result[0]
    assert isinstance(failure, Failure)
    assert failure.check(ZeroDivisionError)
    assert not loop.running
    assert clock.getDelayedCalls() == []
    clock.advance(5)
    assert len(calls) == 2


def test_failureOfFirstImmediateCallFailsStartDeferred() -> None:
    loop = loopOn(Clock(), lambda: 1 / 0)
    result = outcome(loop.start(1))
    assert isinstance(result[0], Failure)
    assert result[0].check(ZeroDivisionError)


def test_returnedDeferredDelaysNextCall() -> None:
    clock = Clock()
    times: list[float] = []
    pending: list[Deferred[None]] = []

    def f() -> Deferred[None]:
        times.append(clock.seconds())
        d: Deferred[None] = Deferred()
        pending.append(d)
        return d

    loop = loopOn(clock, f)
    loop.start(1)
    clock.advance(2.5)
    assert times == [0]
    assert loop.call is None
    pending[0].callback(None)
    clock.advance(0.5)
    assert times == [0, 3]


def test_returnedDeferredFailingStopsLoop() -> None:
    clock = Clock()
    loop = loopOn(clock, lambda: fail(KeyError("k")))
    result = outcome(loop.start(1))
    assert isinstance(result[0], Failure)
    assert result[0].check(KeyError)
    assert not loop.running


def test_coroutineFunctionDelaysNextCall() -> None:
    clock = Clock()
    times: list[float] = []

    async def f() -> None:
        times.append(clock.seconds())
        await deferLater(clock, 1.5)

    loop = loopOn(clock, f)
    loop.start(1)
    clock.pump([1, 0.5, 0.5])
    assert times == [0, 2]


def test_failingCoroutineFunctionFailsStartDeferred() -> None:
    async def f() -> None:
        raise RuntimeError("nope")

    result = outcome(loopOn(Clock(), f).start(1))
    assert isinstance(result[0], Failure)
    assert result[0].check(RuntimeError)


def test_stopWhileFunctionDeferredPendingFiresWhenItFinishes() -> None:
    clock = Clock()
    inner: Deferred[None] = Deferred()
    calls: list[int] = []

    def f() -> Deferred[None]:
        calls.append(1)
        return inner

    loop = loopOn(clock, f)
    result = outcome(loop.start(1))
    loop.stop()
    assert result == []
    inner.callback(None)
    assert result == [loop]
    clock.advance(5)
    assert calls == [1]


def test_resetRestartsIntervalFromNow() -> None:
    clock = Clock()
    times: list[float] = []
    loop = loopOn(clock, lambda: times.append(clock.seconds()))
    loop.start(2)
    clock.advance(1.5)
    loop.reset()
    clock.advance(1.5)
    assert times == [0]
    clock.advance(0.5)
    assert times == [0, 3.5]


def test_zeroIntervalCallsAsFastAsPossible() -> None:
    clock = Clock()
    calls: list[int] = []

    def f() -> None:
        calls.append(1)
        if len(calls) == 5:
            loop.stop()

    loop = loopOn(clock, f)
    result = outcome(loop.start(0))
    clock.advance(0)
    assert len(calls) == 5
    assert result == [loop]
    assert clock.seconds() == 0


def test_withCountPassesOneWhenKeepingUp() -> None:
    clock = Clock()
    counts: list[int] = []
    loop = LoopingCall.withCount(counts.append)
    loop.clock = clock
    loop.start(1)
    clock.pump([1, 1, 1])
    assert counts == [1, 1, 1, 1]


def test_withCountCountsMissedIntervals() -> None:
    clock = Clock()
    counts: list[int] = []
    loop = LoopingCall.withCount(counts.append)
    loop.clock = clock
    loop.start(1)
    clock.advance(3.5)
    clock.advance(0.5)
    assert counts == [1, 3, 1]


def test_withCountStartedLaterFirstCountIsOne() -> None:
    clock = Clock()
    counts: list[int] = []
    loop = LoopingCall.withCount(counts.append)
    loop.clock = clock
    loop.start(1, now=False)
    clock.advance(1)
    clock.advance(2)
    assert counts == [1, 2]


def test_withCountCountsIntervalsSpentWaitingOnDeferred() -> None:
    clock = Clock()
    counts: list[int] = []

    def f(count: int) -> Deferred[None]:
        counts.append(count)
        return deferLater(clock, 2.5)

    loop = LoopingCall.withCount(f)
    loop.clock = clock
    loop.start(1)
    clock.pump([2.5, 0.5])
    assert counts == [1, 3]


def test_withCountIsOneForZeroInterval() -> None:
    clock = Clock()
    counts: list[int] = []

    def f(count: int) -> None:
        counts.append(count)
        if len(counts) == 3:
            loop.stop()

    loop = LoopingCall.withCount(f)
    loop.clock = clock
    loop.start(0)
    clock.advance(0)
    assert counts == [1, 1, 1]


def test_withCountAfterResetCountsFromReset() -> None:
    clock = Clock()
    counts: list[int] = []
    loop = LoopingCall.withCount(counts.append)
    loop.clock = clock
    loop.start(1)
    clock.advance(0.5)
    loop.reset()
    clock.advance(1)
    assert counts == [1, 1]


@pytest.mark.parametrize("interval", [0.1, 1 / 3, 0.7])
def test_steppingClockByIntervalCallsEveryStep(interval: float) -> None:
    # Float sums drift from products (0.1 * 10 != sum of ten 0.1 steps); every step
    # must still make one call counting one interval.
    clock = Clock()
    counts: list[int] = []
    loop = LoopingCall.withCount(counts.append)
    loop.clock = clock
    loop.start(interval)
    clock.pump([interval] * 100)
    assert counts == [1] * 101


def test_repr() -> None:
    def work(a: object, b: object = None) -> None:
        pass

    loop = loopOn(Clock(), work, 1, b="x")
    assert repr(loop) == "LoopingCall<None>(test_repr.<locals>.work, 1, b='x')"
    loop.start(2.5)
    assert repr(loop).startswith("LoopingCall<2.5>(")


def test_clockDefaultsToGlobalReactorLookedUpLazily(monkeypatch: pytest.MonkeyPatch) -> None:
    fakeReactor = Clock()
    monkeypatch.setitem(sys.modules, "torsion.internet.reactor", fakeReactor)
    loop = LoopingCall(lambda: None)
    assert loop.clock is fakeReactor


def test_importingTaskDoesNotImportTheReactor() -> None:
    code = "import sys, torsion.internet.task\nprint('torsion.internet.reactor' in sys.modules)\n"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "False"


# deferLater


def test_deferLaterFiresWithNoneAfterDelay() -> None:
    clock = Clock()
    result = outcome(deferLater(clock, 2))
    clock.advance(1.9)
    assert result == []
    clock.advance(0.1)
    assert result == [None]


def test_deferLaterFiresWithCallableResult() -> None:
    clock = Clock()
    result = outcome(deferLater(clock, 1, lambda a, b: a + b, 2, b=3))
    clock.advance(1)
    assert result == [5]


def test_deferLaterCallsOnlyWhenDue() -> None:
    clock = Clock()
    calls: list[int] = []
    deferLater(clock, 1, calls.append, 1)
    assert calls == []
    clock.advance(1)
    assert calls == [1]


def test_deferLaterFailsWithCallableError() -> None:
    clock = Clock()
    result = outcome(deferLater(clock, 1, lambda: 1 / 0))
    clock.advance(1)
    assert isinstance(result[0], Failure)
    assert result[0].check(ZeroDivisionError)


def test_deferLaterWaitsForReturnedDeferred() -> None:
    clock = Clock()
    inner: Deferred[str] = Deferred()
    result = outcome(deferLater(clock, 1, lambda: inner))
    clock.advance(1)
    assert result == []
    inner.callback("inner")
    assert result == ["inner"]


def test_deferLaterAcceptsCoroutineFunction() -> None:
    clock = Clock()

    async def work(x: int) -> int:
        await deferLater(clock, 1)
        return x * 2

    result = outcome(deferLater(clock, 1, work, 21))
    clock.advance(1)
    assert result == []
    clock.advance(1)
    assert result == [42]


def test_cancellingDeferLaterCancelsTimedCall() -> None:
    clock = Clock()
    calls: list[int] = []
    d = deferLater(clock, 1, calls.append, 1)
    d.cancel()
    result = outcome(d)
    assert isinstance(result[0], Failure)
    assert result[0].check(CancelledError)
    assert clock.getDelayedCalls() == []
    clock.advance(2)
    assert calls == []


# react


class FakeReactor(Clock):
    """Just enough reactor for react(): run, stop, callWhenRunning, triggers."""

    def __init__(self) -> None:
        super().__init__()
        self.running = False
        self.stopCount = 0
        self.whenRunning: list[tuple[Callable[..., object], tuple[object, ...]]] = []
        self.beforeShutdown: list[tuple[Callable[..., object], tuple[object, ...]]] = []

    def callWhenRunning(self, callable: Callable[..., object], *args: object, **kw: object) -> None:
        assert not kw
        if self.running:
            callable(*args)
        else:
            self.whenRunning.append((callable, args))

    def addSystemEventTrigger(
        self,
        phase: str,
        eventType: str,
        callable: Callable[..., object],
        *args: object,
        **kw: object,
    ) -> None:
        assert (phase, eventType) == ("before", "shutdown")
        assert not kw
        self.beforeShutdown.append((callable, args))

    def stop(self) -> None:
        if not self.running:
            raise ReactorNotRunning()
        self.stopCount += 1
        for f, a in self.beforeShutdown:
            f(*a)
        self.running = False

    def run(self) -> None:
        self.running = True
        for f, a in self.whenRunning:
            f(*a)
        while self.running:
            # A real reactor would wait forever here; the test would hang.
            assert self.calls, "FakeReactor has nothing left to do but is still running"
            self.advance(self.calls[0].getTime() - self.seconds())


@pytest.fixture
def loggedEvents(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    monkeypatch.setattr(task, "_log", Logger(observer=events.append))
    return events


def reactExitCode(
    main: Callable[..., object], reactor: FakeReactor, argv: tuple[object, ...] = ()
) -> object:
    with pytest.raises(SystemExit) as caught:
        react(main, argv, _reactor=reactor)
    return caught.value.code


def test_reactExitsZeroWhenMainSucceeds(loggedEvents: list[dict[str, Any]]) -> None:
    reactor = FakeReactor()
    assert reactExitCode(lambda r: succeed(None), reactor) == 0
    assert reactor.stopCount == 1
    assert loggedEvents == []


def test_reactPassesReactorAndArgv() -> None:
    reactor = FakeReactor()
    seen: list[tuple[object, ...]] = []

    def main(r: object, *argv: object) -> Deferred[None]:
        seen.append((r, *argv))
        return succeed(None)

    assert reactExitCode(main, reactor, ("a", "b")) == 0
    assert seen == [(reactor, "a", "b")]


def test_reactStopsReactorWhenMainDeferredFires() -> None:
    reactor = FakeReactor()
    assert reactExitCode(lambda r: deferLater(r, 5), reactor) == 0
    assert reactor.seconds() == 5
    assert not reactor.running


def test_reactRunsCoroutineMain() -> None:
    reactor = FakeReactor()

    async def main(r: FakeReactor) -> None:
        await deferLater(r, 3)

    assert reactExitCode(main, reactor) == 0
    assert reactor.seconds() == 3


def test_reactExitsOneAndLogsWhenMainFails(loggedEvents: list[dict[str, Any]]) -> None:
    reactor = FakeReactor()
    assert reactExitCode(lambda r: fail(ValueError("bad")), reactor) == 1
    assert reactor.stopCount == 1
    assert len(loggedEvents) == 1
    failure = loggedEvents[0]["log_failure"]
    assert isinstance(failure, Failure)
    assert failure.check(ValueError)


def test_reactExitsOneWhenMainRaisesSynchronously(loggedEvents: list[dict[str, Any]]) -> None:
    def main(r: object) -> None:
        raise KeyError("sync")

    assert reactExitCode(main, FakeReactor()) == 1
    assert loggedEvents[0]["log_failure"].check(KeyError)


def test_reactExitsWithSystemExitCode(loggedEvents: list[dict[str, Any]]) -> None:
    async def main(r: FakeReactor) -> None:
        await deferLater(r, 1)
        raise SystemExit(3)

    assert reactExitCode(main, FakeReactor()) == 3
    assert loggedEvents == []


def test_reactDoesNotStopReactorAlreadyShuttingDown() -> None:
    reactor = FakeReactor()
    mainDone: Deferred[None] = Deferred()

    def main(r: FakeReactor) -> Deferred[None]:
        r.addSystemEventTrigger("before", "shutdown", mainDone.callback, None)
        r.callLater(1, r.stop)
        return mainDone

    assert reactExitCode(main, reactor) == 0
    assert reactor.stopCount == 1


def test_reactReportsFailureDuringShutdown(loggedEvents: list[dict[str, Any]]) -> None:
    reactor = FakeReactor()
    mainDone: Deferred[None] = Deferred()

    def main(r: FakeReactor) -> Deferred[None]:
        r.addSystemEventTrigger("before", "shutdown", mainDone.errback, Failure(OSError("x")))
        r.callLater(1, r.stop)
        return mainDone

    assert reactExitCode(main, reactor) == 1
    assert reactor.stopCount == 1
    assert loggedEvents[0]["log_failure"].check(OSError)


def test_reactUsesGlobalReactorByDefault(monkeypatch: pytest.MonkeyPatch) -> None:
    reactor = FakeReactor()
    monkeypatch.setitem(sys.modules, "torsion.internet.reactor", reactor)
    seen: list[object] = []

    def main(r: object) -> Deferred[None]:
        seen.append(r)
        return succeed(None)

    with pytest.raises(SystemExit):
        react(main)
    assert seen == [reactor]
