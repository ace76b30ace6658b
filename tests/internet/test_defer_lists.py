"""Tests for DeferredList, gatherResults, race and the small helpers of torsion.internet.defer."""

from __future__ import annotations

import gc
from typing import Any

from torsion.internet.defer import (
    CancelledError,
    Deferred,
    DeferredList,
    FailureGroup,
    FirstError,
    execute,
    fail,
    gatherResults,
    logError,
    maybeDeferred,
    race,
    succeed,
)
from torsion.python.failure import Failure


def results(d: Deferred[Any]) -> list[Any]:
    got: list[Any] = []
    d.addBoth(got.append)
    return got


def test_succeedIsFired() -> None:
    assert results(succeed("x")) == ["x"]


def test_failWrapsException() -> None:
    assert results(fail(ValueError()))[0].check(ValueError)


def test_executeGivesResultOrFailure() -> None:
    assert results(execute(lambda a: a + 1, 1)) == [2]
    assert results(execute(lambda: 1 / 0))[0].check(ZeroDivisionError)


def test_maybeDeferredWrapsPlainValue() -> None:
    assert results(maybeDeferred(lambda x: x, 3)) == [3]


def test_maybeDeferredPassesDeferredThrough() -> None:
    d: Deferred[int] = Deferred()
    assert maybeDeferred(lambda: d) is d


def test_maybeDeferredCatchesException() -> None:
    def boom() -> None:
        raise ValueError()

    assert results(maybeDeferred(boom))[0].check(ValueError)


def test_maybeDeferredTurnsReturnedFailureIntoFailedDeferred() -> None:
    assert results(maybeDeferred(lambda: Failure(KeyError())))[0].check(KeyError)


def test_deferredListCollectsResultsInOrder() -> None:
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    dl = DeferredList([a, b])
    got = results(dl)
    b.callback(2)
    assert got == []
    a.callback(1)
    assert got == [[(True, 1), (True, 2)]]


def test_deferredListReportsFailures() -> None:
    a = fail(ValueError())
    dl = DeferredList([a, succeed(1)], consumeErrors=True)
    [[first, second]] = results(dl)
    assert first[0] is False and first[1].check(ValueError)
    assert second == (True, 1)


def test_deferredListOfNothingFiresAtOnce() -> None:
    assert results(DeferredList([])) == [[]]


def test_deferredListFireOnOneCallback() -> None:
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    got = results(DeferredList([a, b], fireOnOneCallback=True))
    b.callback(5)
    assert got == [(5, 1)]
    a.callback(1)
    assert got == [(5, 1)]


def test_deferredListFireOnOneErrback() -> None:
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    got = results(DeferredList([a, b], fireOnOneErrback=True, consumeErrors=True))
    b.errback(ValueError())
    f = got[0]
    assert f.check(FirstError)
    assert f.value.index == 1 and f.value.subFailure.check(ValueError)


def test_deferredListConsumeErrorsHandlesFailures(logged: list[dict[str, Any]]) -> None:
    a: Deferred[int] = Deferred()
    DeferredList([a], consumeErrors=True)
    a.errback(ValueError())
    assert results(a) == [None]
    del a
    gc.collect()
    assert logged == []


def test_deferredListWithoutConsumeErrorsLeavesFailure() -> None:
    a: Deferred[int] = Deferred()
    DeferredList([a])
    a.errback(ValueError())
    assert results(a)[0].check(ValueError)


def test_cancellingDeferredListCancelsMembers() -> None:
    a: Deferred[int] = Deferred()
    b = succeed(1)
    dl = DeferredList([a, b], consumeErrors=True)
    dl.cancel()
    assert a.called
    [[first, second]] = results(dl)
    assert first[1].check(CancelledError)
    assert second == (True, 1)


def test_gatherResultsGivesPlainList() -> None:
    assert results(gatherResults([succeed(1), succeed(2)])) == [[1, 2]]


def test_gatherResultsFailsWithFirstError() -> None:
    b: Deferred[int] = Deferred()
    got = results(gatherResults([succeed(1), b], consumeErrors=True))
    b.errback(KeyError())
    assert got[0].check(FirstError)
    assert got[0].value.subFailure.check(KeyError)


def test_firstErrorEqualityAndRepr() -> None:
    f = Failure(ValueError("v"))
    assert FirstError(f, 1) == FirstError(f, 1)
    assert FirstError(f, 1) != FirstError(f, 2)
    assert "#1" in repr(FirstError(f, 1))


def test_raceGivesFirstSuccessAndCancelsOthers() -> None:
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    got = results(race([a, b]))
    b.callback(2)
    assert got == [(1, 2)]
    assert a.called
    # race handled the loser's CancelledError, so nothing is left to log.
    assert results(a) == [None]


def test_raceIgnoresFailuresWhileOthersPending() -> None:
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    got = results(race([a, b]))
    a.errback(ValueError())
    assert got == []
    b.callback(3)
    assert got == [(1, 3)]


def test_raceAllFailingGivesFailureGroup() -> None:
    got = results(race([fail(ValueError()), fail(KeyError())]))
    f = got[0]
    assert f.check(FailureGroup)
    assert [x.type for x in f.value.failures] == [ValueError, KeyError]


def test_cancellingRaceCancelsAll() -> None:
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    r = race([a, b])
    r.cancel()
    assert a.called and b.called
    assert results(r)[0].check(FailureGroup)


def test_logErrorLogsAndPassesFailureOn(logged: list[dict[str, Any]]) -> None:
    d = fail(ValueError("x"))
    d.addErrback(logError)
    assert [e["log_failure"].type for e in logged] == [ValueError]
    assert results(d)[0].check(ValueError)
    d.addErrback(lambda f: None)
