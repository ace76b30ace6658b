"""Tests for torsion.application.internet.TimerService, on a task.Clock."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from tests.internet import reactormixins
from torsion.application import internet, service
from torsion.internet.defer import Deferred
from torsion.internet.task import Clock

loggedErrors = reactormixins.loggedErrors


class SharedClock(Clock):
    """A clock that pickles as a reference to itself, as the global reactor does."""

    def __reduce__(self) -> str:
        return "sharedClock"


sharedClock = SharedClock()

calls: list[tuple[Any, ...]] = []


def record(*args: Any, **kwargs: Any) -> None:
    """A module-level callable, so the service pickles."""
    calls.append((args, tuple(sorted(kwargs.items()))))


@pytest.fixture(autouse=True)
def freshState() -> None:
    calls.clear()
    sharedClock.__init__()  # type: ignore[misc]


def timer(step: float, f: Any, *args: Any, **kwargs: Any) -> internet.TimerService:
    made = internet.TimerService(step, f, *args, **kwargs)
    made.clock = sharedClock
    return made


def test_callsAtStartAndEveryStep() -> None:
    t = timer(5, record, 1, two=2)
    t.startService()
    assert t.running
    assert calls == [((1,), (("two", 2),))]
    sharedClock.advance(4.9)
    assert len(calls) == 1
    sharedClock.advance(0.1)
    sharedClock.advance(5)
    assert len(calls) == 3


def test_stopEndsTheCalls() -> None:
    t = timer(1, record)
    t.startService()
    stopped = t.stopService()
    assert stopped is not None and stopped.called
    assert not t.running
    sharedClock.advance(10)
    assert len(calls) == 1
    assert sharedClock.getDelayedCalls() == []


def test_stopWaitsForTheCallInProgress() -> None:
    pending: list[Deferred[None]] = []

    def slow() -> Deferred[None]:
        pending.append(Deferred())
        return pending[-1]

    t = timer(1, slow)
    t.startService()
    stopped = t.stopService()
    assert stopped is not None
    assert not stopped.called and t.running
    pending[0].callback(None)
    assert stopped.called and not t.running
    sharedClock.advance(5)
    assert len(pending) == 1


def test_aFailingCallIsLoggedAndEndsTheCalls(loggedErrors: list[Any]) -> None:
    count: list[int] = []

    def failing() -> None:
        count.append(1)
        if len(count) == 2:
            raise ZeroDivisionError("second call")

    t = timer(1, failing)
    t.startService()
    sharedClock.advance(1)
    [logged] = loggedErrors
    assert logged["failure"].check(ZeroDivisionError)
    assert "no more calls" in logged["why"]
    sharedClock.advance(5)
    assert len(count) == 2
    # It still counts as running until stopped; stopping is immediate.
    assert t.running
    stopped = t.stopService()
    assert stopped is not None and stopped.called and not t.running
    # A new start resumes the calls.
    t.startService()
    assert len(count) == 3


def test_stoppingANeverStartedTimerIsHarmless() -> None:
    t = timer(1, record)
    assert t.stopService() is None
    assert not t.running


def test_picklesWhileRunningAndCallsAgainWhenStarted() -> None:
    t = timer(2, record, "x")
    t.setName("tick")
    t.startService()
    copy = pickle.loads(pickle.dumps(t))
    assert not copy.running
    assert copy._loop is None and copy._loopFinished is None
    assert (copy.step, copy.call, copy.name) == (2, (record, ("x",), {}), "tick")
    assert copy.clock is sharedClock
    t.stopService()
    copy.startService()
    assert len(calls) == 2
    sharedClock.advance(2)
    assert len(calls) == 3
    copy.stopService()


def test_timerRunsInAnApplicationTree() -> None:
    parent = service.MultiService()
    t = timer(1, record)
    t.setServiceParent(parent)
    parent.startService()
    sharedClock.advance(1)
    done: list[Any] = []
    parent.stopService().addCallback(done.append)
    assert done and len(calls) == 2
