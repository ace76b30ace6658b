"""Tests for the Cooperator and CooperativeTask (torsion/internet/_cooperator.py).

They are public through torsion.internet.task. Slices are scheduled on a Clock and
ended by a predicate the test controls, so nothing depends on real time.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from torsion.internet import _cooperator, task
from torsion.internet.defer import Deferred, succeed
from torsion.internet.task import (
    Clock,
    CooperativeTask,
    Cooperator,
    NotPaused,
    SchedulerError,
    SchedulerStopped,
    TaskDone,
    TaskFailed,
    TaskFinished,
    TaskStopped,
    deferLater,
)
from torsion.logger import globalLogPublisher
from torsion.python.failure import Failure


def outcome(d: Deferred[Any]) -> list[object]:
    """Return [result] (a Failure if it failed) once ``d`` has fired, else []."""
    seen: list[object] = []

    def keep(result: object) -> None:
        seen.append(result)

    d.addBoth(keep)
    return seen


def unitsPerSlice(n: int) -> Callable[[], Callable[[], bool]]:
    """A termination predicate factory ending each slice after ``n`` units."""

    def factory() -> Callable[[], bool]:
        done = [0]

        def shouldStop() -> bool:
            done[0] += 1
            return done[0] >= n

        return shouldStop

    return factory


def makeCooperator(clock: Clock, units: int = 1, started: bool = True) -> Cooperator:
    return Cooperator(
        terminationPredicateFactory=unitsPerSlice(units),
        scheduler=lambda f: clock.callLater(1, f),
        started=started,
    )


def counting(log: list[object], name: object, n: int) -> Iterator[None]:
    for i in range(n):
        log.append((name, i))
        yield None


def test_errorHierarchy() -> None:
    assert issubclass(SchedulerStopped, SchedulerError)
    assert issubclass(NotPaused, SchedulerError)
    for cls in (TaskDone, TaskStopped, TaskFailed):
        assert issubclass(cls, TaskFinished)
    assert issubclass(TaskFinished, SchedulerError)


def test_cooperateRunsOneUnitPerScheduledSlice() -> None:
    clock = Clock()
    coop = makeCooperator(clock)
    log: list[object] = []
    coop.cooperate(counting(log, "a", 3))
    assert log == []
    clock.advance(1)
    assert log == [("a", 0)]
    clock.advance(1)
    assert log == [("a", 0), ("a", 1)]


def test_tasksTakeTurns() -> None:
    clock = Clock()
    coop = makeCooperator(clock, units=4)
    log: list[object] = []
    coop.cooperate(counting(log, "a", 3))
    coop.cooperate(counting(log, "b", 3))
    clock.advance(1)
    assert log == [("a", 0), ("b", 0), ("a", 1), ("b", 1)]


def test_roundRobinContinuesAcrossSlices() -> None:
    clock = Clock()
    coop = makeCooperator(clock, units=1)
    log: list[object] = []
    coop.cooperate(counting(log, "a", 5))
    coop.cooperate(counting(log, "b", 5))
    clock.pump([1, 1, 1, 1])
    assert log == [("a", 0), ("b", 0), ("a", 1), ("b", 1)]


def test_whenDoneFiresWithIteratorWhenExhausted() -> None:
    clock = Clock()
    coop = makeCooperator(clock, units=10)
    iterator = counting([], "a", 3)
    result = outcome(coop.cooperate(iterator).whenDone())
    clock.advance(1)
    assert result == [iterator]


def test_whenDoneAfterCompletionFiresAtOnce() -> None:
    clock = Clock()
    coop = makeCooperator(clock, units=10)
    iterator = counting([], "a", 1)
    cooperative = coop.cooperate(iterator)
    clock.advance(1)
    assert outcome(cooperative.whenDone()) == [iterator]


def test_noSliceScheduledWhenAllTasksDone() -> None:
    clock = Clock()
    coop = makeCooperator(clock, units=10)
    coop.cooperate(counting([], "a", 2))
    clock.advance(1)
    assert clock.getDelayedCalls() == []


def test_failingIteratorFailsTask() -> None:
    clock = Clock()
    coop = makeCooperator(clock, units=10)

    def broken() -> Iterator[None]:
        yield None
        raise ZeroDivisionError("broken")

    cooperative = coop.cooperate(broken())
    result = outcome(cooperative.whenDone())
    clock.advance(1)
    assert isinstance(result[0], Failure)
    assert result[0].check(ZeroDivisionError)
    with pytest.raises(TaskFailed):
        cooperative.stop()
    with pytest.raises(TaskFailed):
        cooperative.pause()


def test_lateWhenDoneTakesOverUnobservedFailure() -> None:
    clock = Clock()
    coop = makeCooperator(clock, units=10)

    def broken() -> Iterator[None]:
        raise ZeroDivisionError("unobserved")
        yield None

    cooperative = coop.cooperate(broken())
    clock.advance(1)
    held = cooperative._unobserved
    assert held is not None
    # Asking late hands the failure over and no longer reports it as unhandled.
    result = outcome(cooperative.whenDone())
    assert isinstance(result[0], Failure)
    assert result[0].check(ZeroDivisionError)
    assert cooperative._unobserved is None
    assert outcome(held) == [None]


def test_failureNobodyAskedForIsReportedWhenCollected() -> None:
    events: list[dict[str, Any]] = []
    observer = events.append
    globalLogPublisher.addObserver(observer)
    try:
        clock = Clock()
        coop = makeCooperator(clock, units=10)

        def broken() -> Iterator[None]:
            raise ZeroDivisionError("nobody asked")
            yield None

        coop.cooperate(broken())
        clock.advance(1)
        gc.collect()
    finally:
        globalLogPublisher.removeObserver(observer)
    failures = [event["log_failure"] for event in events if "log_failure" in event]
    assert [f.value.args for f in failures] == [("nobody asked",)]


def test_stopFailsWhenDoneWithTaskStopped() -> None:
    clock = Clock()
    coop = makeCooperator(clock)
    log: list[object] = []
    cooperative = coop.cooperate(counting(log, "a", 5))
    result = outcome(cooperative.whenDone())
    clock.advance(1)
    cooperative.stop()
    assert isinstance(result[0], Failure)
    assert result[0].check(TaskStopped)
    clock.advance(5)
    assert log == [("a", 0)]


def test_stoppingAStoppedTaskRaisesTaskStopped() -> None:
    coop = makeCooperator(Clock())
    cooperative = coop.cooperate(counting([], "a", 5))
    cooperative.whenDone().addErrback(lambda f: None)
    cooperative.stop()
    with pytest.raises(TaskStopped):
        cooperative.stop()


def test_stoppingAFinishedTaskRaisesTaskDone() -> None:
    clock = Clock()
    coop = makeCooperator(clock, units=10)
    cooperative = coop.cooperate(counting([], "a", 1))
    clock.advance(1)
    with pytest.raises(TaskDone):
        cooperative.stop()


def test_pauseAndResume() -> None:
    clock = Clock()
    coop = makeCooperator(clock)
    log: list[object] = []
    cooperative = coop.cooperate(counting(log, "a", 5))
    cooperative.pause()
    clock.pump([1, 1])
    assert log == []
    assert clock.getDelayedCalls() == []
    cooperative.resume()
    clock.advance(1)
    assert log == [("a", 0)]


def test_pausedTwiceNeedsTwoResumes() -> None:
    clock = Clock()
    coop = makeCooperator(clock)
    log: list[object] = []
    cooperative = coop.cooperate(counting(log, "a", 5))
    cooperative.pause()
    cooperative.pause()
    cooperative.resume()
    clock.advance(1)
    assert log == []
    cooperative.resume()
    clock.advance(1)
    assert log == [("a", 0)]


def test_resumeNotPausedRaises() -> None:
    coop = makeCooperator(Clock())
    cooperative = coop.cooperate(counting([], "a", 1))
    with pytest.raises(NotPaused):
        cooperative.resume()


def test_stoppingPausedTaskFinishesIt() -> None:
    clock = Clock()
    coop = makeCooperator(clock)
    log: list[object] = []
    cooperative = coop.cooperate(counting(log, "a", 5))
    result = outcome(cooperative.whenDone())
    cooperative.pause()
    cooperative.stop()
    cooperative.resume()
    clock.advance(5)
    assert log == []
    assert isinstance(result[0], Failure)
    assert result[0].check(TaskStopped)


def test_yieldedDeferredPausesTaskUntilItFires() -> None:
    clock = Clock()
    coop = makeCooperator(clock, units=10)
    log: list[object] = []
    waitFor: Deferred[None] = Deferred()

    def job() -> Iterator[object]:
        log.append("before")
        yield waitFor
        log.append("after")

    result = outcome(coop.cooperate(job()).whenDone())
    clock.pump([1, 1, 1])
    assert log == ["before"]
    waitFor.callback(None)
    clock.advance(1)
    assert log == ["before", "after"]
    assert len(result) == 1


def test_yieldedDeferredFailingFailsTask() -> None:
    clock = Clock()
    coop = makeCooperator(clock, units=10)
    waitFor: Deferred[None] = Deferred()

    def job() -> Iterator[object]:
        yield waitFor

    result = outcome(coop.cooperate(job()).whenDone())
    clock.advance(1)
    waitFor.errback(Failure(OSError("disk")))
    assert isinstance(result[0], Failure)
    assert result[0].check(OSError)


def test_yieldedDeferredFailingAfterStopStaysInItsDeferred() -> None:
    clock = Clock()
    coop = makeCooperator(clock, units=10)
    waitFor: Deferred[None] = Deferred()

    def job() -> Iterator[object]:
        yield waitFor

    cooperative = coop.cooperate(job())
    result = outcome(cooperative.whenDone())
    clock.advance(1)
    cooperative.stop()
    waitFor.errback(Failure(OSError("late")))
    assert isinstance(result[0], Failure)
    assert result[0].check(TaskStopped)
    leftOver = outcome(waitFor)
    assert isinstance(leftOver[0], Failure)
    assert leftOver[0].check(OSError)


def test_yieldedCoroutineIsAwaited() -> None:
    clock = Clock()
    coop = makeCooperator(clock, units=10)
    log: list[object] = []

    async def wait() -> None:
        await deferLater(clock, 5)
        log.append("waited")

    def job() -> Iterator[object]:
        yield wait()
        log.append("next")

    coop.cooperate(job())
    clock.advance(1)
    assert log == []
    clock.advance(5)
    assert log == ["waited"]
    clock.advance(1)
    assert log == ["waited", "next"]


def test_coiterateFiresWithIterator() -> None:
    clock = Clock()
    coop = makeCooperator(clock, units=10)
    iterator = counting([], "a", 3)
    result = outcome(coop.coiterate(iterator))
    clock.advance(1)
    assert result == [iterator]


def test_coiterateFiresGivenDeferred() -> None:
    clock = Clock()
    coop = makeCooperator(clock, units=10)
    given: Deferred[Iterator[None]] = Deferred()
    iterator = counting([], "a", 1)
    assert coop.coiterate(iterator, given) is given
    result = outcome(given)
    clock.advance(1)
    assert result == [iterator]


def test_stopCooperatorFailsTasksWithSchedulerStopped() -> None:
    clock = Clock()
    coop = makeCooperator(clock)
    log: list[object] = []
    result = outcome(coop.coiterate(counting(log, "a", 5)))
    coop.stop()
    assert not coop.running
    assert isinstance(result[0], Failure)
    assert result[0].check(SchedulerStopped)
    assert clock.getDelayedCalls() == []
    clock.advance(5)
    assert log == []


def test_taskAddedToStoppedCooperatorFailsAtOnce() -> None:
    coop = makeCooperator(Clock())
    coop.stop()
    result = outcome(coop.coiterate(counting([], "a", 5)))
    assert isinstance(result[0], Failure)
    assert result[0].check(SchedulerStopped)


def test_pausedTaskFailsOnResumeAfterCooperatorStopped() -> None:
    coop = makeCooperator(Clock())
    cooperative = coop.cooperate(counting([], "a", 5))
    result = outcome(cooperative.whenDone())
    cooperative.pause()
    coop.stop()
    assert result == []
    cooperative.resume()
    assert isinstance(result[0], Failure)
    assert result[0].check(SchedulerStopped)
    with pytest.raises(SchedulerStopped):
        cooperative.pause()


def test_notStartedCooperatorHoldsWorkUntilStart() -> None:
    clock = Clock()
    coop = makeCooperator(clock, started=False)
    log: list[object] = []
    coop.cooperate(counting(log, "a", 5))
    assert not coop.running
    assert clock.getDelayedCalls() == []
    coop.start()
    assert coop.running
    clock.advance(1)
    assert log == [("a", 0)]


def test_cooperatorRestartsAfterStop() -> None:
    clock = Clock()
    coop = makeCooperator(clock)
    coop.stop()
    coop.start()
    log: list[object] = []
    coop.cooperate(counting(log, "a", 2))
    clock.advance(1)
    assert log == [("a", 0)]


def test_exceptionEscapingSliceStillReschedules() -> None:
    clock = Clock()
    log: list[object] = []

    def failingPredicateFactory() -> Callable[[], bool]:
        def shouldStop() -> bool:
            if len(log) == 1:
                raise KeyboardInterrupt
            return True

        return shouldStop

    coop = Cooperator(failingPredicateFactory, lambda f: clock.callLater(1, f))
    coop.cooperate(counting(log, "a", 3))
    with pytest.raises(KeyboardInterrupt):
        clock.advance(1)
    assert len(clock.getDelayedCalls()) == 1


def test_defaultTerminationPredicateEndsSliceAfterTimeLimit() -> None:
    timer = _cooperator._Timer()
    assert not timer()
    timer.end -= _cooperator._Timer.MAX_SLICE * 2
    assert timer()


def test_defaultSchedulerUsesGlobalReactor(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setitem(sys.modules, "torsion.internet.reactor", clock)
    log: list[object] = []
    coop = Cooperator(terminationPredicateFactory=unitsPerSlice(1))
    coop.cooperate(counting(log, "a", 2))
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(0.001)
    assert log == [("a", 0)]


def test_moduleFunctionsUseGlobalCooperator(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(_cooperator, "_theCooperator", makeCooperator(clock, units=10))
    log: list[object] = []
    cooperative = task.cooperate(counting(log, "a", 2))
    assert isinstance(cooperative, CooperativeTask)
    iterator = counting(log, "b", 1)
    result = outcome(task.coiterate(iterator))
    clock.advance(1)
    assert result == [iterator]
    assert sorted(log, key=str) == [("a", 0), ("a", 1), ("b", 0)]


def test_taskRepr() -> None:
    coop = makeCooperator(Clock())
    cooperative = coop.cooperate(iter([succeed(None)]))
    assert "running" in repr(cooperative)
    cooperative.pause()
    assert "paused" in repr(cooperative)
    cooperative.whenDone().addErrback(lambda f: None)
    cooperative.stop()
    assert "TaskStopped" in repr(cooperative)
