"""Tests for torsion.trial._spin: waiting for Deferreds by iterating a reactor."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from torsion.internet.defer import CancelledError, Deferred, succeed
from torsion.trial._spin import (
    PrivateLoop,
    SpinTimeoutError,
    getReactor,
    installedReactor,
    pendingDelayedCalls,
    spinUntilDone,
)


def test_plainValueIsReturnedWithoutSpinning(loop: PrivateLoop) -> None:
    assert spinUntilDone(42, 1.0, "t", loop) == 42
    assert loop.getDelayedCalls() == []


def test_firedDeferredGivesItsResult(loop: PrivateLoop) -> None:
    assert spinUntilDone(succeed("done"), 1.0, "t", loop) == "done"


def test_deferredFiredByTimedCallIsWaitedFor(loop: PrivateLoop, fakeTime: Any) -> None:
    d: Deferred[str] = Deferred()
    loop.callLater(3, d.callback, "later")
    assert spinUntilDone(d, 10.0, "t", loop) == "later"
    assert fakeTime.now == pytest.approx(3.0)
    assert loop.getDelayedCalls() == []


def test_failedDeferredRaisesItsException(loop: PrivateLoop) -> None:
    d: Deferred[None] = Deferred()
    loop.callLater(1, d.errback, ValueError("bad"))
    with pytest.raises(ValueError, match="bad"):
        spinUntilDone(d, 10.0, "t", loop)


def test_coroutineIsRunToCompletion(loop: PrivateLoop) -> None:
    async def work() -> int:
        d: Deferred[int] = Deferred()
        loop.callLater(1, d.callback, 5)
        return await d + 1

    assert spinUntilDone(work(), 10.0, "t", loop) == 6


def test_timeoutCancelsDeferredAndSaysWhichTest(loop: PrivateLoop, fakeTime: Any) -> None:
    d: Deferred[None] = Deferred()
    cancelled: list[object] = []
    d.addErrback(lambda f: cancelled.append(f.check(CancelledError)))
    with pytest.raises(SpinTimeoutError, match=r"test_x .*within 2 seconds"):
        spinUntilDone(d, 2.0, "test_x (test method)", loop)
    assert cancelled == [CancelledError]
    assert fakeTime.now == pytest.approx(2.0)
    assert loop.getDelayedCalls() == []


def test_eachStepWaitsAtMostATenthOfASecond(loop: PrivateLoop, fakeTime: Any) -> None:
    with pytest.raises(SpinTimeoutError):
        spinUntilDone(Deferred(), 1.0, "t", loop)
    assert fakeTime.sleeps
    assert max(fakeTime.sleeps) <= 0.1


def test_pendingDelayedCallsCancelsAndReturnsActiveCalls(loop: PrivateLoop) -> None:
    call = loop.callLater(5, lambda: None)
    assert pendingDelayedCalls(loop) == [call]
    assert call.cancelled
    assert loop.getDelayedCalls() == []


def test_privateLoopRunsDueCallsInTimeOrder(loop: PrivateLoop, fakeTime: Any) -> None:
    ran: list[str] = []
    loop.callLater(2, ran.append, "second")
    loop.callLater(1, ran.append, "first")
    fakeTime.now = 5
    loop.iterate()
    assert ran == ["first", "second"]


REACTOR_MODULE = "torsion.internet.reactor"


def test_installedReactorIsNoneWhenNothingInstalled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, REACTOR_MODULE, raising=False)
    assert installedReactor() is None


def test_installedReactorIsTheObjectInSysModules(
    monkeypatch: pytest.MonkeyPatch, loop: PrivateLoop
) -> None:
    monkeypatch.setitem(sys.modules, REACTOR_MODULE, loop)  # type: ignore[arg-type]
    assert installedReactor() is loop
    assert getReactor() is loop


def test_installedReactorFoundAsModuleAttribute(
    monkeypatch: pytest.MonkeyPatch, loop: PrivateLoop
) -> None:
    module = types.ModuleType(REACTOR_MODULE)
    module.reactor = loop  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, REACTOR_MODULE, module)
    assert installedReactor() is loop


def test_objectLackingReactorMethodsIsNotAReactor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, REACTOR_MODULE, types.ModuleType(REACTOR_MODULE))
    assert installedReactor() is None


def test_getReactorFallsBackToPrivateLoopWhenReactorUnimportable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A None entry in sys.modules makes the import raise ImportError.
    monkeypatch.setitem(sys.modules, REACTOR_MODULE, None)  # type: ignore[arg-type]
    reactor = getReactor()
    assert isinstance(reactor, PrivateLoop)
    assert getReactor() is reactor
