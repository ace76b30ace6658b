"""Tests for torsion.internet._concurrency: DeferredLock, DeferredSemaphore, DeferredQueue.

Everything here is synchronous: Deferreds are fired by hand, so no reactor or clock is
needed. The hypothesis tests drive a queue and a semaphore with random programs and
compare them with a few lines of reference model.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torsion.internet import _concurrency, defer
from torsion.internet.defer import (
    CancelledError,
    Deferred,
    DeferredLock,
    DeferredQueue,
    DeferredSemaphore,
    QueueOverflow,
    QueueUnderflow,
    ensureDeferred,
)


def collect(d: Deferred[Any]) -> list[Any]:
    """Record what ``d`` fires with (result or Failure); consumes any failure."""
    results: list[Any] = []
    d.addBoth(results.append)
    return results


def failureValue(results: list[Any]) -> BaseException:
    """The exception of the single Failure in ``results``."""
    [failure] = results
    value = failure.value
    assert isinstance(value, BaseException)
    return value


class Boom(Exception):
    pass


# ---------------------------------------------------------------- re-export


@pytest.mark.parametrize("name", _concurrency.__all__)
def test_deferModuleReExportsName(name: str) -> None:
    assert getattr(defer, name) is getattr(_concurrency, name)


@pytest.mark.parametrize("first", ["torsion.internet._concurrency", "torsion.internet.defer"])
def test_eitherModuleMayBeImportedFirst(first: str) -> None:
    # Each module imports the other, so check both orders in a fresh interpreter.
    code = (
        f"import {first}\n"
        "from torsion.internet.defer import DeferredLock\n"
        "assert DeferredLock().acquire().called\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# ---------------------------------------------------------------- DeferredLock


def test_acquireFreeLockFiresAtOnceWithTheLock() -> None:
    lock = DeferredLock()
    assert collect(lock.acquire()) == [lock]
    assert lock.locked


def test_newLockIsNotLocked() -> None:
    assert not DeferredLock().locked


def test_acquireHeldLockWaits() -> None:
    lock = DeferredLock()
    lock.acquire()
    assert collect(lock.acquire()) == []
    assert len(lock.waiting) == 1


def test_releaseWithoutWaitersUnlocks() -> None:
    lock = DeferredLock()
    lock.acquire()
    lock.release()
    assert not lock.locked


def test_releaseHandsLockToOldestWaiterFirst() -> None:
    lock = DeferredLock()
    lock.acquire()
    first, second = collect(lock.acquire()), collect(lock.acquire())
    lock.release()
    assert (first, second) == ([lock], [])
    assert lock.locked
    lock.release()
    assert second == [lock]


def test_releaseOfUnlockedLockRaises() -> None:
    with pytest.raises(AssertionError, match="not locked"):
        DeferredLock().release()


def test_cancelWaitingAcquireFailsWithCancelledError() -> None:
    lock = DeferredLock()
    lock.acquire()
    waiter = lock.acquire()
    results = collect(waiter)
    waiter.cancel()
    assert isinstance(failureValue(results), CancelledError)


def test_cancelWaitingAcquireRemovesItFromQueue() -> None:
    lock = DeferredLock()
    lock.acquire()
    cancelled = lock.acquire()
    collect(cancelled)
    after = collect(lock.acquire())
    cancelled.cancel()
    assert len(lock.waiting) == 1
    lock.release()
    assert after == [lock]


def test_cancelLastWaiterThenReleaseUnlocks() -> None:
    lock = DeferredLock()
    lock.acquire()
    waiter = lock.acquire()
    collect(waiter)
    waiter.cancel()
    lock.release()
    assert not lock.locked


def test_cancelAcquireThatAlreadyFiredKeepsLockHeld() -> None:
    lock = DeferredLock()
    d = lock.acquire()
    results = collect(d)
    d.cancel()
    assert results == [lock]
    assert lock.locked


def test_runCallsFunctionWithArgumentsAndReleases() -> None:
    lock = DeferredLock()

    def f(a: int, b: int = 0) -> tuple[int, int, bool]:
        return (a, b, lock.locked)

    results = collect(lock.run(f, 1, b=2))
    assert results == [(1, 2, True)]
    assert not lock.locked


def test_runHoldsLockUntilReturnedDeferredFires() -> None:
    lock = DeferredLock()
    inner: Deferred[str] = Deferred()
    results = collect(lock.run(lambda: inner))
    assert lock.locked
    inner.callback("done")
    assert results == ["done"]
    assert not lock.locked


def test_runReleasesAndFailsWhenFunctionRaises() -> None:
    lock = DeferredLock()

    def explode() -> None:
        raise Boom("bad")

    results = collect(lock.run(explode))
    assert isinstance(failureValue(results), Boom)
    assert not lock.locked


def test_runReleasesAndFailsWhenReturnedDeferredFails() -> None:
    lock = DeferredLock()
    inner: Deferred[None] = Deferred()
    results = collect(lock.run(lambda: inner))
    inner.errback(Boom("late"))
    assert isinstance(failureValue(results), Boom)
    assert not lock.locked


def test_runAcceptsCoroutineFunctionAndHoldsLockUntilItReturns() -> None:
    lock = DeferredLock()
    inner: Deferred[int] = Deferred()

    async def work(x: int) -> int:
        return x + await inner

    results = collect(lock.run(work, 1))
    assert lock.locked and results == []
    inner.callback(2)
    assert results == [3]
    assert not lock.locked


def test_runReleasesWhenCoroutineRaises() -> None:
    lock = DeferredLock()

    async def explode() -> None:
        raise Boom("coroutine")

    results = collect(lock.run(explode))
    assert isinstance(failureValue(results), Boom)
    assert not lock.locked


def test_runSerialisesCallers() -> None:
    lock = DeferredLock()
    first: Deferred[str] = Deferred()
    calls: list[str] = []

    def second() -> str:
        calls.append("second")
        return "two"

    one, two = collect(lock.run(lambda: first)), collect(lock.run(second))
    assert calls == []
    first.callback("one")
    assert (one, two, calls) == (["one"], ["two"], ["second"])
    assert not lock.locked


def test_cancelRunWhileWaitingNeverCallsFunction() -> None:
    lock = DeferredLock()
    lock.acquire()
    calls: list[None] = []
    d = lock.run(calls.append, None)
    results = collect(d)
    d.cancel()
    lock.release()
    assert calls == []
    assert isinstance(failureValue(results), CancelledError)
    assert not lock.locked


def test_cancelRunWhileFunctionPendingCancelsItAndReleases() -> None:
    lock = DeferredLock()
    inner: Deferred[None] = Deferred()
    d = lock.run(lambda: inner)
    results = collect(d)
    d.cancel()
    assert isinstance(failureValue(results), CancelledError)
    assert not lock.locked


def test_asyncWithHoldsLockInsideAndReleasesAfter() -> None:
    lock = DeferredLock()
    seen: list[bool] = []

    async def body() -> str:
        async with lock as held:
            seen.append(held is lock and lock.locked)
        return "ok"

    assert collect(ensureDeferred(body())) == ["ok"]
    assert seen == [True]
    assert not lock.locked


def test_asyncWithReleasesWhenBodyRaises() -> None:
    lock = DeferredLock()

    async def body() -> None:
        async with lock:
            raise Boom("inside")

    results = collect(ensureDeferred(body()))
    assert isinstance(failureValue(results), Boom)
    assert not lock.locked


def test_asyncWithWaitsForCurrentHolder() -> None:
    lock = DeferredLock()
    lock.acquire()
    entered: list[bool] = []

    async def body() -> None:
        async with lock:
            entered.append(True)

    results = collect(ensureDeferred(body()))
    assert entered == []
    lock.release()
    assert (entered, results) == ([True], [None])
    assert not lock.locked


def test_cancellingCoroutineWaitingInAsyncWithLeavesQueue() -> None:
    lock = DeferredLock()
    lock.acquire()

    async def body() -> None:
        async with lock:
            pass

    d = ensureDeferred(body())
    results = collect(d)
    d.cancel()
    assert isinstance(failureValue(results), CancelledError)
    assert len(lock.waiting) == 0
    lock.release()
    assert not lock.locked


# ---------------------------------------------------------------- DeferredSemaphore


@pytest.mark.parametrize("tokens", [0, -1])
def test_semaphoreWithFewerThanOneTokenRaisesValueError(tokens: int) -> None:
    with pytest.raises(ValueError, match="at least 1 token"):
        DeferredSemaphore(tokens)


def test_semaphoreStartsWithAllTokensFree() -> None:
    sem = DeferredSemaphore(3)
    assert (sem.tokens, sem.limit) == (3, 3)


def test_semaphoreAcquiresUpToLimitAtOnceThenWaits() -> None:
    sem = DeferredSemaphore(2)
    immediate = [collect(sem.acquire()) for _ in range(2)]
    third = collect(sem.acquire())
    assert immediate == [[sem], [sem]]
    assert third == []
    assert sem.tokens == 0


def test_semaphoreReleaseHandsTokenToOldestWaiter() -> None:
    sem = DeferredSemaphore(1)
    sem.acquire()
    first, second = collect(sem.acquire()), collect(sem.acquire())
    sem.release()
    assert (first, second, sem.tokens) == ([sem], [], 0)


def test_semaphoreReleaseWithoutWaitersReturnsToken() -> None:
    sem = DeferredSemaphore(2)
    sem.acquire()
    sem.release()
    assert sem.tokens == 2


def test_semaphoreReleasedMoreThanAcquiredRaises() -> None:
    sem = DeferredSemaphore(2)
    with pytest.raises(AssertionError, match="more releases than acquires"):
        sem.release()


def test_semaphoreCancelWaitingAcquireRemovesIt() -> None:
    sem = DeferredSemaphore(1)
    sem.acquire()
    waiter = sem.acquire()
    results = collect(waiter)
    waiter.cancel()
    assert isinstance(failureValue(results), CancelledError)
    assert len(sem.waiting) == 0
    sem.release()
    assert sem.tokens == 1


def test_semaphoreRunBoundsConcurrency() -> None:
    sem = DeferredSemaphore(2)
    jobs: list[Deferred[int]] = [Deferred() for _ in range(5)]
    started: list[int] = []

    def start(i: int) -> Deferred[int]:
        started.append(i)
        return jobs[i]

    results = [collect(sem.run(start, i)) for i in range(5)]
    assert started == [0, 1]
    jobs[1].callback(1)
    assert started == [0, 1, 2]
    for i in (0, 2, 3, 4):
        jobs[i].callback(i)
    assert started == [0, 1, 2, 3, 4]
    assert results == [[0], [1], [2], [3], [4]]
    assert sem.tokens == 2


def test_semaphoreAsyncWithTakesAndReturnsToken() -> None:
    sem = DeferredSemaphore(2)
    inside: list[int] = []

    async def body() -> None:
        async with sem:
            inside.append(sem.tokens)

    assert collect(ensureDeferred(body())) == [None]
    assert inside == [1]
    assert sem.tokens == 2


# ---------------------------------------------------------------- DeferredQueue


def test_queueGetAfterPutFiresAtOnce() -> None:
    queue: DeferredQueue[str] = DeferredQueue()
    queue.put("a")
    assert collect(queue.get()) == ["a"]


def test_queueGetBeforePutFiresOnPut() -> None:
    queue: DeferredQueue[str] = DeferredQueue()
    results = collect(queue.get())
    assert results == []
    queue.put("a")
    assert results == ["a"]
    assert len(queue.pending) == 0


def test_queueDeliversItemsInOrder() -> None:
    queue: DeferredQueue[int] = DeferredQueue()
    for i in range(3):
        queue.put(i)
    assert [collect(queue.get()) for _ in range(3)] == [[0], [1], [2]]


def test_queueServesWaitingGetsInOrder() -> None:
    queue: DeferredQueue[int] = DeferredQueue()
    gets = [collect(queue.get()) for _ in range(3)]
    for i in range(3):
        queue.put(i)
    assert gets == [[0], [1], [2]]


def test_queuePutBeyondSizeRaisesQueueOverflow() -> None:
    queue: DeferredQueue[int] = DeferredQueue(size=2)
    queue.put(1)
    queue.put(2)
    with pytest.raises(QueueOverflow, match="full"):
        queue.put(3)
    assert list(queue.pending) == [1, 2]


def test_queuePutToWaitingGetIgnoresSize() -> None:
    queue: DeferredQueue[int] = DeferredQueue(size=0)
    results = collect(queue.get())
    queue.put(1)
    assert results == [1]


def test_queueWithSizeZeroRejectsPutWithoutWaitingGet() -> None:
    queue: DeferredQueue[int] = DeferredQueue(size=0)
    with pytest.raises(QueueOverflow):
        queue.put(1)


def test_queueGetBeyondBacklogRaisesQueueUnderflow() -> None:
    queue: DeferredQueue[int] = DeferredQueue(backlog=1)
    queue.get()
    with pytest.raises(QueueUnderflow, match="waiting"):
        queue.get()
    assert len(queue.waiting) == 1


def test_queueGetWithStoredItemIgnoresBacklog() -> None:
    queue: DeferredQueue[int] = DeferredQueue(backlog=0)
    queue.put(7)
    assert collect(queue.get()) == [7]


def test_queueCancelPendingGetFailsWithCancelledError() -> None:
    queue: DeferredQueue[int] = DeferredQueue()
    d = queue.get()
    results = collect(d)
    d.cancel()
    assert isinstance(failureValue(results), CancelledError)


def test_queueCancelPendingGetRemovesItSoNextGetReceivesItem() -> None:
    queue: DeferredQueue[int] = DeferredQueue()
    cancelled = queue.get()
    collect(cancelled)
    after = collect(queue.get())
    cancelled.cancel()
    queue.put(5)
    assert after == [5]


def test_queueCancelOnlyGetThenPutStoresItem() -> None:
    queue: DeferredQueue[int] = DeferredQueue()
    d = queue.get()
    collect(d)
    d.cancel()
    queue.put(5)
    assert list(queue.pending) == [5]


def test_queueCancelledGetFreesBacklogSlot() -> None:
    queue: DeferredQueue[int] = DeferredQueue(backlog=1)
    d = queue.get()
    collect(d)
    d.cancel()
    assert collect(queue.get()) == []


@pytest.mark.parametrize("arguments", [{"size": -1}, {"backlog": -1}])
def test_queueNegativeLimitRaisesValueError(arguments: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        DeferredQueue(**arguments)


def test_queueWithoutLimitsAcceptsManyPutsAndGets() -> None:
    queue: DeferredQueue[int] = DeferredQueue()
    for i in range(1000):
        queue.put(i)
    waiting = [queue.get() for _ in range(2000)]
    assert len(queue.pending) == 0 and len(queue.waiting) == 1000
    for d in waiting[1000:]:
        collect(d)
        d.cancel()


def test_queueAwaitableFromCoroutine() -> None:
    queue: DeferredQueue[str] = DeferredQueue()

    async def consumer() -> str:
        return (await queue.get()) + "!"

    results = collect(ensureDeferred(consumer()))
    queue.put("hi")
    assert results == ["hi!"]


# ---------------------------------------------------------------- models

queuePrograms = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers()),
        st.tuples(st.just("get"), st.just(0)),
        st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=20)),
    ),
    max_size=60,
)
limits = st.one_of(st.none(), st.integers(min_value=0, max_value=4))


@given(program=queuePrograms, size=limits, backlog=limits)
def test_queueMatchesModel(
    program: list[tuple[str, int]], size: int | None, backlog: int | None
) -> None:
    queue: DeferredQueue[int] = DeferredQueue(size=size, backlog=backlog)
    gets: list[tuple[Deferred[int], list[Any]]] = []
    modelItems: list[int] = []
    modelWaiting: list[int] = []  # indexes into gets
    modelResults: dict[int, Any] = {}
    for op, arg in program:
        if op == "put":
            if modelWaiting:
                modelResults[modelWaiting.pop(0)] = arg
                queue.put(arg)
            elif size is None or len(modelItems) < size:
                modelItems.append(arg)
                queue.put(arg)
            else:
                with pytest.raises(QueueOverflow):
                    queue.put(arg)
        elif op == "get":
            if modelItems:
                modelResults[len(gets)] = modelItems.pop(0)
            elif backlog is None or len(modelWaiting) < backlog:
                modelWaiting.append(len(gets))
            else:
                with pytest.raises(QueueUnderflow):
                    queue.get()
                continue
            d = queue.get()
            gets.append((d, collect(d)))
        elif gets:
            index = arg % len(gets)
            if index in modelWaiting:
                modelWaiting.remove(index)
                modelResults[index] = CancelledError
            gets[index][0].cancel()
        assert list(queue.pending) == modelItems
        assert len(queue.waiting) == len(modelWaiting)
    for index, (_, results) in enumerate(gets):
        expected = modelResults.get(index)
        if expected is None:
            assert results == []
        elif expected is CancelledError:
            assert isinstance(failureValue(results), CancelledError)
        else:
            assert results == [expected]


semaphorePrograms = st.lists(
    st.one_of(
        st.just(("acquire", 0)),
        st.just(("release", 0)),
        st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=20)),
    ),
    max_size=60,
)


@given(program=semaphorePrograms, tokens=st.integers(min_value=1, max_value=3))
def test_semaphoreMatchesModel(program: list[tuple[str, int]], tokens: int) -> None:
    sem = DeferredSemaphore(tokens)
    acquires: list[tuple[Deferred[DeferredSemaphore], list[Any]]] = []
    modelHolders = 0
    modelWaiting: list[int] = []
    modelGranted: set[int] = set()
    modelCancelled: set[int] = set()
    for op, arg in program:
        if op == "acquire":
            index = len(acquires)
            d = sem.acquire()
            acquires.append((d, collect(d)))
            if modelHolders < tokens:
                modelHolders += 1
                modelGranted.add(index)
            else:
                modelWaiting.append(index)
        elif op == "release":
            if modelHolders == 0:
                with pytest.raises(AssertionError):
                    sem.release()
                continue
            sem.release()
            if modelWaiting:
                modelGranted.add(modelWaiting.pop(0))
            else:
                modelHolders -= 1
        elif acquires:
            index = arg % len(acquires)
            acquires[index][0].cancel()
            if index in modelWaiting:
                modelWaiting.remove(index)
                modelCancelled.add(index)
        assert sem.tokens == tokens - modelHolders
        assert len(sem.waiting) == len(modelWaiting)
    for index, (_, results) in enumerate(acquires):
        if index in modelGranted:
            assert results == [sem]
        elif index in modelCancelled:
            assert isinstance(failureValue(results), CancelledError)
        else:
            assert results == []
