"""Tests for the core Deferred in torsion.internet.defer (torsion/internet/_defercore.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from torsion.internet import defer
from torsion.internet.defer import (
    AlreadyCalledError,
    CancelledError,
    Deferred,
    fail,
    succeed,
)
from torsion.internet.error import TimeoutError as ErrorTimeoutError
from torsion.internet.task import Clock
from torsion.python.failure import Failure


def results(d: Deferred[Any]) -> list[Any]:
    got: list[Any] = []
    d.addBoth(got.append)
    return got


@pytest.fixture
def debugging() -> Iterator[None]:
    old = defer.getDebugging()
    defer.setDebugging(True)
    try:
        yield
    finally:
        defer.setDebugging(old)


def test_callbackRunsCallbacksInOrder() -> None:
    d: Deferred[int] = Deferred()
    d.addCallback(lambda x: x + 1).addCallback(lambda x: x * 10)
    got = results(d)
    assert got == []
    d.callback(1)
    assert got == [20]
    assert d.called


def test_callbackAddedAfterFiringRunsImmediately() -> None:
    d = succeed(3)
    assert results(d) == [3]


def test_extraArgsAndKeywordsArePassed() -> None:
    seen = []
    d = succeed(1)
    d.addCallback(lambda r, a, b=0: seen.append((r, a, b)), 2, b=3)
    assert seen == [(1, 2, 3)]


def test_addCallbacksPassesItsArgs() -> None:
    seen = []
    d: Deferred[int] = Deferred()
    d.addCallbacks(
        lambda r, a, k: seen.append(("cb", r, a, k)),
        lambda f, a, k: seen.append(("eb", a, k)),
        callbackArgs=(1,),
        callbackKeywords={"k": 2},
        errbackArgs=(3,),
        errbackKeywords={"k": 4},
    )
    d.callback(0)
    assert seen == [("cb", 0, 1, 2)]


def test_addCallbacksErrbackGetsFailureWithArgs() -> None:
    seen = []
    d = fail(ValueError("x"))
    d.addCallbacks(lambda r: None, lambda f, a: seen.append((f.type, a)), errbackArgs=(5,))
    assert seen == [(ValueError, 5)]


def test_exceptionInCallbackSwitchesToErrback() -> None:
    d = succeed(1)

    def boom(_: object) -> None:
        raise KeyError("k")

    d.addCallback(boom)
    f = results(d)[0]
    assert isinstance(f, Failure) and f.check(KeyError)


def test_errbackReturningValueRecovers() -> None:
    d = fail(ValueError())
    d.addErrback(lambda f: "ok")
    assert results(d) == ["ok"]


def test_errbackReturningFailureKeepsFailing() -> None:
    d = fail(ValueError())
    d.addErrback(lambda f: f).addCallback(lambda _: "not reached")
    got = results(d)
    assert isinstance(got[0], Failure)


def test_callbackReturningFailureSwitchesToErrback() -> None:
    d = succeed(1)
    d.addCallback(lambda _: Failure(ValueError()))
    assert results(d)[0].check(ValueError)


def test_addBothRunsOnSuccessAndFailure() -> None:
    assert results(succeed(1).addBoth(lambda r: ("both", r))) == [("both", 1)]
    got = results(fail(ValueError()).addBoth(lambda r: type(r)))
    assert got == [Failure]


def test_errbackWrapsException() -> None:
    d: Deferred[int] = Deferred()
    err = ValueError("v")
    d.errback(err)
    f = results(d)[0]
    assert isinstance(f, Failure) and f.value is err


def test_errbackWithNoneUsesCurrentException() -> None:
    d: Deferred[int] = Deferred()
    try:
        raise ZeroDivisionError()
    except ZeroDivisionError:
        d.errback()
    assert results(d)[0].check(ZeroDivisionError)


def test_errbackKeepsGivenFailure() -> None:
    f = Failure(ValueError())
    d: Deferred[int] = Deferred()
    d.errback(f)
    assert results(d)[0] is f


def test_callbackTwiceRaisesAlreadyCalled() -> None:
    d: Deferred[int] = Deferred()
    d.callback(1)
    with pytest.raises(AlreadyCalledError, match="setDebugging"):
        d.callback(2)
    with pytest.raises(AlreadyCalledError):
        d.errback(ValueError())


def test_alreadyCalledWithDebuggingShowsStacks(debugging: None) -> None:
    d: Deferred[int] = Deferred()
    d.callback(1)
    with pytest.raises(AlreadyCalledError) as info:
        d.callback(2)
    message = str(info.value)
    assert "created at" in message
    assert "first fired at" in message
    assert "test_alreadyCalledWithDebuggingShowsStacks" in message


def test_getDebuggingReflectsSetDebugging() -> None:
    old = defer.getDebugging()
    try:
        defer.setDebugging(True)
        assert defer.getDebugging() is True
        defer.setDebugging(False)
        assert defer.getDebugging() is False
    finally:
        defer.setDebugging(old)


def test_callbackWithDeferredIsRejected() -> None:
    d: Deferred[Any] = Deferred()
    with pytest.raises(TypeError):
        d.callback(Deferred())
    assert not d.called


def test_resultAttributeHoldsCurrentResult() -> None:
    d = succeed(5)
    assert d.result == 5


def test_callbackReturningDeferredPausesOuterChain() -> None:
    inner: Deferred[str] = Deferred()
    outer = succeed(1)
    outer.addCallback(lambda _: inner)
    got = results(outer)
    assert got == []
    assert outer.paused
    inner.callback("inner")
    assert got == ["inner"]
    assert not outer.paused


def test_callbackReturningFiredDeferredContinuesAtOnce() -> None:
    outer = succeed(1).addCallback(lambda _: succeed(2))
    assert results(outer) == [2]


def test_innerFailurePropagatesToOuterAndIsHandledThere(logged: list[dict[str, Any]]) -> None:
    inner: Deferred[int] = Deferred()
    outer = succeed(1).addCallback(lambda _, inner=inner: inner)
    inner.errback(ValueError())
    got = results(outer)
    assert got[0].check(ValueError)
    outer.addErrback(lambda f: None)
    del inner, outer, got
    gc.collect()
    assert logged == []


def test_callbackReturningItselfFails() -> None:
    d: Deferred[int] = Deferred()
    d.addCallback(lambda _: d)
    d.callback(1)
    assert results(d)[0].check(TypeError)


def test_callbackReturningCoroutineIsAwaited() -> None:
    inner: Deferred[int] = Deferred()

    async def later(x: int) -> int:
        return x + await inner

    d = succeed(1).addCallback(later)
    got = results(d)
    assert got == []
    inner.callback(10)
    assert got == [11]


def test_tenThousandDeepChainDoesNotRecurse() -> None:
    depth = 10_000
    leaves: list[Deferred[int]] = [Deferred() for _ in range(depth)]
    top: Deferred[int] = Deferred()
    current = top
    for leaf in leaves:
        current.addCallback(lambda _, leaf=leaf: leaf)
        current = leaf
    top.callback(0)
    got = results(top)
    assert got == []
    leaves[-1].callback(42)
    # Each leaf now fires its parent: unwind from the deepest one inwards.
    for leaf in reversed(leaves[:-1]):
        leaf.callback(0)
    assert got == [42]


def test_tenThousandDeepChainOfReturnedDeferredsFiresIteratively() -> None:
    depth = 10_000
    bottom: Deferred[int] = Deferred()
    d: Deferred[int] = bottom
    for _ in range(depth):
        d = succeed(None).addCallback(lambda _, inner=d: inner)
    got = results(d)
    assert got == []
    bottom.callback(7)
    assert got == [7]


def test_chainDeferredFiresOtherWithResult() -> None:
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    a.chainDeferred(b)
    got = results(b)
    a.callback(3)
    assert got == [3]


def test_chainDeferredPassesFailure() -> None:
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    a.chainDeferred(b)
    a.errback(ValueError())
    assert results(b)[0].check(ValueError)


def test_pauseHoldsCallbacksUntilUnpause() -> None:
    d: Deferred[int] = Deferred()
    got = results(d)
    d.pause()
    d.callback(1)
    assert got == []
    d.unpause()
    assert got == [1]


def test_nestedPausesNeedAsManyUnpauses() -> None:
    d = succeed(1)
    d.pause()
    d.pause()
    got = results(d)
    d.unpause()
    assert got == []
    d.unpause()
    assert got == [1]


def test_outerPausingItselfDoesNotStallTheInnerChain() -> None:
    """An inner Deferred's own callbacks after the hand-over run even if the outer pauses."""
    inner: Deferred[int] = Deferred()
    outer: Deferred[None] = Deferred()
    outer.addCallback(lambda _: inner)
    outer.callback(None)
    innerAfter = results(inner)
    outer.addCallback(lambda _: outer.pause())
    outerGot = results(outer)
    inner.callback(7)
    assert innerAfter == [None]
    assert outerGot == []
    outer.unpause()
    assert outerGot == [None]


def test_outerWaitingOnAnotherDeferredDoesNotStallTheInnerChain() -> None:
    first: Deferred[int] = Deferred()
    second: Deferred[int] = Deferred()
    outer: Deferred[None] = Deferred()
    outer.addCallback(lambda _: first)
    outer.callback(None)
    firstAfter = results(first)
    outer.addCallback(lambda r: second.addCallback(lambda s: r + s))
    outerGot = results(outer)
    first.callback(1)
    assert firstAfter == [None]
    assert outerGot == []
    second.callback(10)
    assert outerGot == [11]


def test_callbackAddingCallbackRunsItInOrder() -> None:
    d: Deferred[int] = Deferred()
    order = []

    def first(r: int) -> int:
        d.addCallback(lambda r: order.append(("added", r)))
        order.append(("first", r))
        return r + 1

    d.addCallback(first)
    d.callback(1)
    assert order == [("first", 1), ("added", 2)]


def test_cancelWithoutCancellerErrbacksCancelledError() -> None:
    d: Deferred[int] = Deferred()
    d.cancel()
    assert results(d)[0].check(CancelledError)


def test_cancelCallsCanceller() -> None:
    calls = []
    d: Deferred[int] = Deferred(calls.append)
    d.cancel()
    assert calls == [d]
    assert results(d)[0].check(CancelledError)


def test_cancellerThatFiresDeferredWins() -> None:
    d: Deferred[str] = Deferred(lambda d: d.callback("cancelled nicely"))
    d.cancel()
    assert results(d) == ["cancelled nicely"]


def test_callbackAfterCancelWithoutCancellerIsIgnoredOnce() -> None:
    d: Deferred[int] = Deferred()
    d.cancel()
    d.callback(1)
    with pytest.raises(AlreadyCalledError):
        d.callback(2)
    d.addErrback(lambda f: None)


def test_callbackAfterCancelWithCancellerRaises() -> None:
    d: Deferred[int] = Deferred(lambda d: None)
    d.cancel()
    with pytest.raises(AlreadyCalledError):
        d.callback(1)
    d.addErrback(lambda f: None)


def test_cancelAfterFiringDoesNothing() -> None:
    d = succeed(1)
    d.cancel()
    assert results(d) == [1]


def test_cancelOfOuterCancelsInnerItWaitsOn() -> None:
    inner: Deferred[int] = Deferred()
    outer = succeed(1).addCallback(lambda _: inner)
    outer.cancel()
    assert inner.called
    assert results(outer)[0].check(CancelledError)


def test_addTimeoutFailsWithTimeoutError() -> None:
    clock = Clock()
    d: Deferred[int] = Deferred()
    d.addTimeout(5, clock)
    clock.advance(4.9)
    assert not d.called
    clock.advance(0.1)
    f = results(d)[0]
    assert f.check(ErrorTimeoutError)
    assert defer.TimeoutError is ErrorTimeoutError


def test_addTimeoutCancelsTimerWhenFired() -> None:
    clock = Clock()
    d: Deferred[int] = Deferred()
    d.addTimeout(5, clock)
    d.callback(1)
    assert clock.getDelayedCalls() == []
    assert results(d) == [1]


def test_addTimeoutKeepsOtherFailures() -> None:
    clock = Clock()
    d: Deferred[int] = Deferred()
    d.addTimeout(5, clock)
    d.errback(ValueError())
    assert results(d)[0].check(ValueError)


def test_addTimeoutUsesOnTimeoutCancel() -> None:
    clock = Clock()
    d: Deferred[int] = Deferred()
    d.addTimeout(1, clock, onTimeoutCancel=lambda result, timeout: ("late", timeout))
    clock.advance(1)
    assert results(d) == [("late", 1)]


def test_addTimeoutWhereCancellerFiresKeepsThatResult() -> None:
    clock = Clock()
    d: Deferred[str] = Deferred(lambda d: d.callback("stopped"))
    d.addTimeout(1, clock)
    clock.advance(1)
    assert results(d) == ["stopped"]


def test_unhandledFailureIsLoggedOnceAtGarbageCollection(
    logged: list[dict[str, Any]],
) -> None:
    d: Deferred[int] = Deferred()
    d.errback(ValueError("lost"))
    del d
    gc.collect()
    failures = [e for e in logged if "log_failure" in e]
    assert len(failures) == 1
    assert failures[0]["log_failure"].check(ValueError)
    assert "Unhandled error in Deferred" in failures[0]["log_format"]
    gc.collect()
    assert len([e for e in logged if "log_failure" in e]) == 1


def test_handledFailureIsNotLogged(logged: list[dict[str, Any]]) -> None:
    d: Deferred[int] = Deferred()
    d.errback(ValueError())
    d.addErrback(lambda f: None)
    del d
    gc.collect()
    assert logged == []


def test_failureRecoveredLaterIsNotLogged(logged: list[dict[str, Any]]) -> None:
    d = fail(ValueError())
    d.addErrback(lambda f: f)
    d.addErrback(lambda f: 1)
    del d
    gc.collect()
    assert logged == []


def test_reprSaysStateOfDeferred() -> None:
    d: Deferred[int] = Deferred()
    assert "current result" not in repr(d)
    d.callback(5)
    assert "current result: 5" in repr(d)
    inner: Deferred[int] = Deferred()
    waiting = succeed(0).addCallback(lambda _: inner)
    assert "waiting on" in repr(waiting)
    inner.callback(1)


def test_passthruReturnsArgument() -> None:
    marker = object()
    assert defer.passthru(marker) is marker


def test_callbackPausingItsDeferredStopsLaterCallbacks() -> None:
    d: Deferred[int] = Deferred()
    d.addCallback(lambda r: (d.pause(), r)[1])
    got = results(d)
    d.callback(1)
    assert got == []
    d.unpause()
    assert got == [1]


def test_callbackUnpausingItsDeferredDoesNotReenter() -> None:
    d: Deferred[int] = Deferred()
    order: list[str] = []

    def first(r: int) -> int:
        d.pause()
        d.unpause()
        order.append("first")
        return r

    d.addCallback(first)
    d.addCallback(lambda r: order.append("second"))
    d.callback(1)
    assert order == ["first", "second"]


def test_unhandledFailureLogWithDebuggingSaysWhereCreated(
    logged: list[dict[str, Any]], debugging: None
) -> None:
    d: Deferred[int] = Deferred()
    d.errback(ValueError())
    del d
    gc.collect()
    [event] = [e for e in logged if "log_failure" in e]
    assert "created at" in event["debugInfo"]


def test_publicClassesNameThePublicModule() -> None:
    assert Deferred.__module__ == "torsion.internet.defer"
    assert CancelledError.__module__ == "torsion.internet.defer"


def test_failureHandledByWaitingOnAnotherDeferredIsNotReportedUnhandled(
    logged: list[dict[str, Any]],
) -> None:
    import gc

    d: Deferred[int] = Deferred()
    d.errback(ValueError("handled later"))
    pending: Deferred[int] = Deferred()
    d.addErrback(lambda _, inner=pending: inner)
    del d, pending
    gc.collect()
    assert [e for e in logged if "Unhandled" in str(e.get("log_format", ""))] == []
