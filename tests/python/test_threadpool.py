"""Tests for torsion.python.threadpool.ThreadPool."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from torsion.logger import LogEvent, globalLogPublisher
from torsion.python.failure import Failure
from torsion.python.threadpool import ThreadPool

TIMEOUT = 10.0


@pytest.fixture
def loggedEvents() -> Iterator[list[LogEvent]]:
    events: list[LogEvent] = []
    globalLogPublisher.addObserver(events.append)
    try:
        yield events
    finally:
        globalLogPublisher.removeObserver(events.append)


@pytest.fixture
def pool() -> Iterator[ThreadPool]:
    tp = ThreadPool(0, 4, name="testpool")
    try:
        yield tp
    finally:
        tp.stop(TIMEOUT)


def runAndWait(tp: ThreadPool, func: Any, *args: Any) -> None:
    done = threading.Event()

    def wrapper() -> None:
        try:
            func(*args)
        finally:
            done.set()

    tp.callInThread(wrapper)
    assert done.wait(TIMEOUT)


def test_defaultSizes() -> None:
    tp = ThreadPool()
    assert (tp.min, tp.max, tp.name) == (5, 20, None)
    assert not tp.started and not tp.joined
    assert tp.workers == 0


def test_negativeMinimumRejected() -> None:
    with pytest.raises(ValueError, match="minthreads"):
        ThreadPool(-1, 5)


def test_maximumBelowMinimumRejected() -> None:
    with pytest.raises(ValueError, match="maxthreads"):
        ThreadPool(5, 2)


def test_zeroMaximumRejected() -> None:
    with pytest.raises(ValueError):
        ThreadPool(0, 0)


def test_callInThreadRunsInAnotherThread(pool: ThreadPool) -> None:
    pool.start()
    seen: list[threading.Thread] = []
    runAndWait(pool, lambda: seen.append(threading.current_thread()))
    assert seen[0] is not threading.current_thread()


def test_threadsNamedAfterPool(pool: ThreadPool) -> None:
    pool.start()
    seen: list[str] = []
    runAndWait(pool, lambda: seen.append(threading.current_thread().name))
    assert seen == ["testpool-1"]


def test_workQueuedBeforeStartRunsAfterStart(pool: ThreadPool) -> None:
    ran = threading.Event()
    pool.callInThread(ran.set)
    assert pool.workers == 0
    assert pool.pending == 1
    assert not ran.is_set()
    pool.start()
    assert ran.wait(TIMEOUT)


def test_startCreatesMinimumThreads() -> None:
    tp = ThreadPool(3, 5)
    try:
        tp.start()
        assert tp.started
        assert tp.workers == 3
    finally:
        tp.stop(TIMEOUT)


def test_threadsGrowOnDemandUpToMaximum(pool: ThreadPool) -> None:
    pool.start()
    release = threading.Event()
    entered = threading.Semaphore(0)

    def block() -> None:
        entered.release()
        release.wait(TIMEOUT)

    for _ in range(6):
        pool.callInThread(block)
    try:
        for _ in range(4):
            assert entered.acquire(timeout=TIMEOUT)
        assert pool.workers == 4
        assert not entered.acquire(timeout=0.05)
    finally:
        release.set()
    for _ in range(2):
        assert entered.acquire(timeout=TIMEOUT)


def test_stopJoinsWorkers() -> None:
    tp = ThreadPool(2, 2)
    tp.start()
    threads = list(tp.threads)
    tp.stop(TIMEOUT)
    assert tp.joined and not tp.started
    assert tp.threads == []
    assert not any(t.is_alive() for t in threads)


def test_stopRunsQueuedWorkFirst() -> None:
    tp = ThreadPool(0, 1)
    ran: list[int] = []
    for i in range(3):
        tp.callInThread(ran.append, i)
    tp.start()
    tp.stop(TIMEOUT)
    assert ran == [0, 1, 2]


def test_poolRestartsAfterStop(pool: ThreadPool) -> None:
    pool.start()
    pool.stop(TIMEOUT)
    pool.start()
    ran = threading.Event()
    pool.callInThread(ran.set)
    assert ran.wait(TIMEOUT)


def test_callInThreadPassesArguments(pool: ThreadPool) -> None:
    pool.start()
    seen: list[tuple[Any, ...]] = []
    runAndWait(pool, lambda: None)
    done = threading.Event()

    def record(a: int, b: int, *, c: int) -> None:
        seen.append((a, b, c))
        done.set()

    pool.callInThread(record, 1, 2, c=3)
    assert done.wait(TIMEOUT)
    assert seen == [(1, 2, 3)]


def test_callInThreadWithCallbackReportsSuccess(pool: ThreadPool) -> None:
    pool.start()
    results: list[tuple[bool, Any, threading.Thread]] = []
    done = threading.Event()

    def onResult(success: bool, result: Any) -> None:
        results.append((success, result, threading.current_thread()))
        done.set()

    pool.callInThreadWithCallback(onResult, lambda x, y: x + y, 2, y=3)
    assert done.wait(TIMEOUT)
    assert results[0][:2] == (True, 5)
    assert results[0][2] is not threading.current_thread()


def test_callInThreadWithCallbackReportsFailure(pool: ThreadPool) -> None:
    pool.start()
    results: list[tuple[bool, Any]] = []
    done = threading.Event()

    def onResult(success: bool, result: Any) -> None:
        results.append((success, result))
        done.set()

    def fail() -> None:
        raise ZeroDivisionError("boom")

    pool.callInThreadWithCallback(onResult, fail)
    assert done.wait(TIMEOUT)
    [(success, result)] = results
    assert success is False
    assert isinstance(result, Failure)
    assert result.check(ZeroDivisionError)


def test_exceptionInWorkIsLoggedAndWorkerSurvives(loggedEvents: list[LogEvent]) -> None:
    tp = ThreadPool(1, 1)
    tp.start()
    try:
        worker = tp.threads[0]

        def fail() -> None:
            raise ValueError("bad work")

        tp.callInThread(fail)
        seen: list[threading.Thread] = []
        runAndWait(tp, lambda: seen.append(threading.current_thread()))
        assert seen == [worker]
    finally:
        tp.stop(TIMEOUT)
    failures = [e["log_failure"] for e in loggedEvents if "log_failure" in e]
    assert len(failures) == 1
    assert failures[0].check(ValueError)


def test_exceptionInOnResultIsLogged(pool: ThreadPool, loggedEvents: list[LogEvent]) -> None:
    pool.start()

    def onResult(success: bool, result: Any) -> None:
        raise KeyError("callback broke")

    pool.callInThreadWithCallback(onResult, lambda: 1)
    pool.stop(TIMEOUT)
    failures = [e["log_failure"] for e in loggedEvents if "log_failure" in e]
    assert len(failures) == 1
    assert failures[0].check(KeyError)


def test_workRunsInCallersContext(pool: ThreadPool) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    pool.start()
    token = var.set("caller")
    try:
        seen: list[str] = []
        runAndWait(pool, lambda: seen.append(var.get()))
    finally:
        var.reset(token)
    assert seen == ["caller"]


def test_contextChangesInWorkDoNotLeakToCaller(pool: ThreadPool) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    pool.start()
    runAndWait(pool, var.set, "worker")
    assert var.get() == "unset"


def test_onResultRunsInCallersContext(pool: ThreadPool) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    pool.start()
    seen: list[str] = []
    done = threading.Event()

    def onResult(success: bool, result: Any) -> None:
        seen.append(var.get())
        done.set()

    token = var.set("caller")
    try:
        pool.callInThreadWithCallback(onResult, lambda: None)
    finally:
        var.reset(token)
    assert done.wait(TIMEOUT)
    assert seen == ["caller"]


def test_adjustPoolsizeGrowsRunningPool(pool: ThreadPool) -> None:
    pool.start()
    pool.adjustPoolsize(minthreads=3, maxthreads=6)
    assert (pool.min, pool.max) == (3, 6)
    assert pool.workers == 3


def test_adjustPoolsizeShrinksRunningPool() -> None:
    tp = ThreadPool(4, 4)
    tp.start()
    try:
        threads = list(tp.threads)
        tp.adjustPoolsize(minthreads=1, maxthreads=1)
        deadline = time.monotonic() + TIMEOUT
        alive = threads
        while len(alive) > 1 and time.monotonic() < deadline:
            alive[0].join(0.01)
            alive = [t for t in threads if t.is_alive()]
        assert len(alive) == 1
        assert tp.workers == 1
    finally:
        tp.stop(TIMEOUT)


def test_adjustPoolsizeOnStoppedPoolStartsNothing() -> None:
    tp = ThreadPool(0, 2)
    tp.adjustPoolsize(3, 5)
    assert (tp.min, tp.max, tp.workers) == (3, 5, 0)


def test_adjustPoolsizeRejectsInconsistentSizes(pool: ThreadPool) -> None:
    with pytest.raises(ValueError):
        pool.adjustPoolsize(minthreads=10, maxthreads=2)
    assert (pool.min, pool.max) == (0, 4)


def test_workingAndWaitersCounts() -> None:
    tp = ThreadPool(2, 2)
    tp.start()
    release = threading.Event()
    entered = threading.Event()
    try:

        def block() -> None:
            entered.set()
            release.wait(TIMEOUT)

        tp.callInThread(block)
        assert entered.wait(TIMEOUT)
        assert tp.working >= 1
    finally:
        release.set()
        tp.stop(TIMEOUT)
    assert tp.working == 0


def test_stopGivesUpOnBusyThreadAfterTimeout() -> None:
    tp = ThreadPool(1, 1)
    tp.start()
    release = threading.Event()
    entered = threading.Event()

    def block() -> None:
        entered.set()
        release.wait(TIMEOUT)

    tp.callInThread(block)
    assert entered.wait(TIMEOUT)
    busy = tp.threads[0]
    try:
        tp.stop(timeout=0.01)
        assert busy.is_alive()
        assert tp.threads == []
    finally:
        release.set()
        busy.join(TIMEOUT)
    assert not busy.is_alive()


def test_reprNamesPoolAndSizes() -> None:
    assert repr(ThreadPool(1, 3, name="db")) == (
        "<ThreadPool name='db' min=1 max=3 threads=0 pending=0>"
    )
