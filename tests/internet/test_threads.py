"""Tests for torsion.internet.threads: deferToThread(Pool), callMultipleInThread and
blockingCallFromThread (including its refusal to run in the reactor thread)."""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from torsion.internet import threads
from torsion.internet.defer import Deferred, succeed
from torsion.internet.threads import blockingCallFromThread, deferToThreadPool
from torsion.logger import LogEvent, globalLogPublisher
from torsion.python import threadable
from torsion.python.failure import Failure
from torsion.python.threadpool import ThreadPool

TIMEOUT = 10.0


class FakeReactor:
    """A reactor whose callFromThread only queues; the test runs the calls (drain)."""

    def __init__(self) -> None:
        self.calls: queue.Queue[tuple[Callable[..., object], tuple[Any, ...], dict[str, Any]]]
        self.calls = queue.Queue()
        self.callingThreads: list[threading.Thread] = []

    def callFromThread(self, callable: Callable[..., object], *args: Any, **kw: Any) -> None:
        self.callingThreads.append(threading.current_thread())
        self.calls.put((callable, args, kw))

    def runOne(self) -> None:
        """Wait (bounded) for one queued call and run it in this thread."""
        f, args, kw = self.calls.get(timeout=TIMEOUT)
        f(*args, **kw)


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
    tp = ThreadPool(0, 2, name="threads-test")
    tp.start()
    try:
        yield tp
    finally:
        tp.stop(TIMEOUT)


def test_deferToThreadPoolFiresWithResultInReactorThread(pool: ThreadPool) -> None:
    reactor = FakeReactor()
    threadsSeen: list[threading.Thread] = []

    def work(a: int, *, b: int) -> int:
        threadsSeen.append(threading.current_thread())
        return a + b

    d = deferToThreadPool(reactor, pool, work, 1, b=2)
    results: list[tuple[int, threading.Thread]] = []
    d.addCallback(lambda r: results.append((r, threading.current_thread())))
    assert results == []
    reactor.runOne()
    assert results == [(3, threading.current_thread())]
    assert threadsSeen[0] is not threading.current_thread()
    assert reactor.callingThreads == threadsSeen


def test_deferToThreadPoolFailsWithException(pool: ThreadPool) -> None:
    reactor = FakeReactor()

    def work() -> None:
        raise ZeroDivisionError("nope")

    d = deferToThreadPool(reactor, pool, work)
    failures: list[Failure] = []
    d.addErrback(failures.append)
    reactor.runOne()
    assert len(failures) == 1
    assert failures[0].check(ZeroDivisionError)


def test_deferToThreadPoolDoesNotFireBeforeReactorRunsCall(pool: ThreadPool) -> None:
    reactor = FakeReactor()
    d = deferToThreadPool(reactor, pool, lambda: 5)
    f, args, kw = reactor.calls.get(timeout=TIMEOUT)
    assert not d.called
    f(*args, **kw)
    assert d.called


def test_deferToThreadPoolRunsInCallersContext(pool: ThreadPool) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    reactor = FakeReactor()
    token = var.set("caller")
    try:
        d = deferToThreadPool(reactor, pool, var.get)
    finally:
        var.reset(token)
    results: list[str] = []
    d.addCallback(results.append)
    reactor.runOne()
    assert results == ["caller"]


class ThreadedFakeReactor:
    """A reactor thread that runs callFromThread calls until told to stop."""

    def __init__(self) -> None:
        self.calls: queue.Queue[Callable[[], object] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name="fake-reactor", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while (call := self.calls.get(timeout=TIMEOUT)) is not None:
            call()

    def callFromThread(self, callable: Callable[..., object], *args: Any, **kw: Any) -> None:
        self.calls.put(lambda: callable(*args, **kw))

    def stop(self) -> None:
        self.calls.put(None)
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive()


@pytest.fixture
def reactorThread(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadedFakeReactor]:
    # A reactor run earlier in this process registered the main thread as the I/O
    # thread; this fake reactor's I/O thread is its own.
    monkeypatch.setattr(threadable, "ioThread", None)
    r = ThreadedFakeReactor()
    try:
        yield r
    finally:
        r.stop()


def test_blockingCallFromThreadReturnsPlainResult(reactorThread: ThreadedFakeReactor) -> None:
    seen: list[threading.Thread] = []

    def f(x: int) -> int:
        seen.append(threading.current_thread())
        return x * 2

    assert blockingCallFromThread(reactorThread, f, 21) == 42
    assert seen == [reactorThread.thread]


def test_blockingCallFromThreadReraisesException(reactorThread: ThreadedFakeReactor) -> None:
    def f() -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError, match="missing"):
        blockingCallFromThread(reactorThread, f)


def test_blockingCallFromThreadWaitsForDeferred(reactorThread: ThreadedFakeReactor) -> None:
    pending: Deferred[str] = Deferred()

    def f() -> Deferred[str]:
        reactorThread.callFromThread(pending.callback, "later")
        return pending

    assert blockingCallFromThread(reactorThread, f) == "later"


def test_blockingCallFromThreadReturnsFiredDeferredResult(
    reactorThread: ThreadedFakeReactor,
) -> None:
    assert blockingCallFromThread(reactorThread, succeed, 7) == 7


def test_blockingCallFromThreadReraisesDeferredFailure(
    reactorThread: ThreadedFakeReactor,
) -> None:
    def f() -> Deferred[None]:
        d: Deferred[None] = Deferred()
        d.errback(ValueError("failed deferred"))
        return d

    with pytest.raises(ValueError, match="failed deferred"):
        blockingCallFromThread(reactorThread, f)


def test_blockingCallFromThreadAcceptsCoroutineFunction(
    reactorThread: ThreadedFakeReactor,
) -> None:
    async def f(x: int) -> int:
        return await succeed(x + 1)

    assert blockingCallFromThread(reactorThread, f, 1) == 2


def test_blockingCallFromThreadReraisesCoroutineException(
    reactorThread: ThreadedFakeReactor,
) -> None:
    async def f() -> None:
        raise RuntimeError("coroutine broke")

    with pytest.raises(RuntimeError, match="coroutine broke"):
        blockingCallFromThread(reactorThread, f)


class PoolOwningReactor(FakeReactor):
    """A FakeReactor that also owns a thread pool, standing in for the global one."""

    def __init__(self, pool: ThreadPool) -> None:
        super().__init__()
        self.pool = pool

    def getThreadPool(self) -> ThreadPool:
        return self.pool

    def callInThread(self, callable: Callable[..., object], *args: Any, **kw: Any) -> None:
        self.pool.callInThread(callable, *args, **kw)


@pytest.fixture
def globalReactor(pool: ThreadPool, monkeypatch: pytest.MonkeyPatch) -> PoolOwningReactor:
    reactor = PoolOwningReactor(pool)
    monkeypatch.setattr(threads, "_reactor", lambda: reactor)
    return reactor


def test_deferToThreadUsesGlobalReactorsPool(globalReactor: PoolOwningReactor) -> None:
    names: list[str] = []

    def work() -> str:
        names.append(threading.current_thread().name)
        return "done"

    d = threads.deferToThread(work)
    results: list[str] = []
    d.addCallback(results.append)
    globalReactor.runOne()
    assert results == ["done"]
    assert names[0].startswith("threads-test-")


def test_callMultipleInThreadRunsCallsInOrderInOneThread(
    globalReactor: PoolOwningReactor,
) -> None:
    seen: list[tuple[int, threading.Thread]] = []
    done = threading.Event()

    def record(n: int) -> None:
        seen.append((n, threading.current_thread()))

    threads.callMultipleInThread(
        [(record, (1,), {}), (record, (2,), {}), (lambda: done.set(), (), {})]
    )
    assert done.wait(TIMEOUT)
    assert [n for n, _ in seen] == [1, 2]
    assert seen[0][1] is seen[1][1] is not threading.current_thread()


def test_callMultipleInThreadLogsFailureAndContinues(
    globalReactor: PoolOwningReactor, loggedEvents: list[LogEvent]
) -> None:
    done = threading.Event()

    def fail() -> None:
        raise IndexError("first call broke")

    threads.callMultipleInThread([(fail, (), {}), (done.set, (), {})])
    assert done.wait(TIMEOUT)
    failures = [e["log_failure"] for e in loggedEvents if "log_failure" in e]
    assert len(failures) == 1
    assert failures[0].check(IndexError)


def runReactorUntil(reactor: Any, d: Deferred[Any]) -> list[Any]:
    """Run ``reactor`` until ``d`` fires (or TIMEOUT passes); return what it fired with."""
    outcome: list[Any] = []

    def finish(result: object) -> None:
        outcome.append(result)
        reactor.stop()

    d.addBoth(finish)
    if not outcome:
        timeout = reactor.callLater(TIMEOUT, reactor.stop)
        reactor.run(installSignalHandlers=False)
        if timeout.active():
            timeout.cancel()
    return outcome


@pytest.fixture
def realReactor() -> Iterator[Any]:
    """A fresh, uninstalled SelectReactor whose waker sockets are closed afterwards."""
    from torsion.internet.selectreactor import SelectReactor

    reactor = SelectReactor()
    try:
        yield reactor
    finally:
        reactor.removeReader(reactor.waker)
        reactor.waker.connectionLost(None)


def test_deferToThreadPoolWithRealReactor(realReactor: Any) -> None:
    reactor = realReactor
    pool = reactor.getThreadPool()
    callbackThreads: list[threading.Thread] = []

    def work() -> str:
        return threading.current_thread().name

    d = deferToThreadPool(reactor, pool, work)
    d.addCallback(lambda name: callbackThreads.append(threading.current_thread()) or name)
    outcome = runReactorUntil(reactor, d)
    assert outcome[0].startswith("torsion.internet.reactor-")
    assert callbackThreads == [threading.current_thread()]
    assert pool.joined


def test_blockingCallFromThreadWithRealReactor(realReactor: Any) -> None:
    reactor = realReactor
    ranIn: list[threading.Thread] = []

    def inReactor() -> Deferred[int]:
        ranIn.append(threading.current_thread())
        return succeed(42)

    def inThread() -> int:
        return blockingCallFromThread(reactor, inReactor)

    d = deferToThreadPool(reactor, reactor.getThreadPool(), inThread)
    assert runReactorUntil(reactor, d) == [42]
    assert ranIn == [threading.current_thread()]


def runInThread(f: Callable[[], object]) -> list[object]:
    """Run ``f`` in a new thread (bounded); return what it returned or raised."""
    outcome: list[object] = []

    def target() -> None:
        try:
            outcome.append(f())
        except BaseException as e:
            outcome.append(e)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(TIMEOUT)
    assert not thread.is_alive(), "blocked: it deadlocked instead of raising"
    return outcome


def test_blockingCallFromThreadInRegisteredIOThreadRaises() -> None:
    reactor = FakeReactor()
    saved = threadable.ioThread

    def inIOThread() -> object:
        threadable.registerAsIOThread()
        return blockingCallFromThread(reactor, lambda: 1)

    try:
        outcome = runInThread(inIOThread)
    finally:
        threadable.ioThread = saved
    assert isinstance(outcome[0], RuntimeError)
    assert "reactor thread" in str(outcome[0]) and "deadlock" in str(outcome[0])
    assert reactor.calls.empty()


def test_blockingCallFromThreadInsideRunningReactorRaises(realReactor: Any) -> None:
    reactor = realReactor
    seen: list[object] = []

    def check() -> None:
        try:
            seen.append(blockingCallFromThread(reactor, lambda: 1))
        except RuntimeError as e:
            seen.append(e)
        finally:
            reactor.stop()

    def runReactor() -> None:
        reactor.callWhenRunning(check)
        reactor.callLater(TIMEOUT, reactor.stop)
        reactor.run(installSignalHandlers=False)

    assert runInThread(runReactor) == [None]
    assert isinstance(seen[0], RuntimeError)
    assert "call the function directly" in str(seen[0])


def test_blockingCallFromOtherThreadStillWorksWhileIOThreadRegistered(
    reactorThread: ThreadedFakeReactor,
) -> None:
    saved = threadable.ioThread
    threadable.ioThread = reactorThread.thread.ident
    try:
        assert blockingCallFromThread(reactorThread, lambda: "fine") == "fine"
    finally:
        threadable.ioThread = saved
