"""Tests for torsion.internet._delayedcall.DelayedCall, driven by a tiny scheduler."""

from __future__ import annotations

import pytest
from zope.interface.verify import verifyObject

from torsion.internet._delayedcall import DelayedCall
from torsion.internet.error import AlreadyCalled, AlreadyCancelled
from torsion.internet.interfaces import IDelayedCall


class RecordingScheduler:
    """Owns DelayedCalls the way a reactor does, and records the hooks it is given."""

    def __init__(self) -> None:
        self.now = 100.0
        self.cancelled: list[DelayedCall] = []
        self.resets: list[float] = []

    def seconds(self) -> float:
        return self.now

    def schedule(self, delay: float) -> DelayedCall:
        return DelayedCall(
            self.now + delay,
            print,
            ("x",),
            {},
            self.cancelled.append,
            lambda call: self.resets.append(call.getTime()),
            self.seconds,
        )


def test_providesIDelayedCall() -> None:
    assert verifyObject(IDelayedCall, RecordingScheduler().schedule(1))


def test_getTimeIsAbsoluteOnTheOwnersClock() -> None:
    assert RecordingScheduler().schedule(5).getTime() == 105.0


def test_cancelTellsTheOwnerAndDeactivates() -> None:
    scheduler = RecordingScheduler()
    call = scheduler.schedule(1)
    call.cancel()
    assert scheduler.cancelled == [call]
    assert not call.active()


def test_cancelTwiceRaisesAlreadyCancelled() -> None:
    call = RecordingScheduler().schedule(1)
    call.cancel()
    with pytest.raises(AlreadyCancelled):
        call.cancel()


def test_cancelAfterRunRaisesAlreadyCalled() -> None:
    call = RecordingScheduler().schedule(1)
    call.called = True
    with pytest.raises(AlreadyCalled):
        call.cancel()


def test_resetIsRelativeToNowAndTellsTheOwner() -> None:
    scheduler = RecordingScheduler()
    call = scheduler.schedule(1)
    scheduler.now = 200.0
    call.reset(3)
    assert call.getTime() == 203.0
    assert scheduler.resets == [203.0]


def test_delayMovesTheDueTimeByTheGivenAmount() -> None:
    scheduler = RecordingScheduler()
    call = scheduler.schedule(1)
    call.delay(-0.5)
    assert call.getTime() == 100.5
    assert scheduler.resets == [100.5]


@pytest.mark.parametrize("method", ["reset", "delay"])
def test_movingACancelledCallRaises(method: str) -> None:
    call = RecordingScheduler().schedule(1)
    call.cancel()
    with pytest.raises(AlreadyCancelled):
        getattr(call, method)(1)


def test_callsOrderByDueTime() -> None:
    scheduler = RecordingScheduler()
    late, early = scheduler.schedule(2), scheduler.schedule(1)
    assert sorted([late, early]) == [early, late]


def test_reprSaysWhatAndWhen() -> None:
    call = RecordingScheduler().schedule(1.5)
    assert "due in 1.500s" in repr(call) and "print" in repr(call)
    call.cancel()
    assert "cancelled" in repr(call)
