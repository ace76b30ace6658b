"""Tests for torsion.internet.base: timed calls, system events, life cycle, threads."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from torsion.internet import error
from torsion.internet.base import isIPAddress
from torsion.internet.defer import Deferred

# The shared fixtures, made visible to pytest in this module.
loggedErrors = reactormixins.loggedErrors
reactor = reactormixins.reactor


def test_callLaterRunsInTimeOrder(reactor: Any) -> None:
    calls: list[str] = []
    reactor.callLater(0.3, calls.append, "second")  # margin for a loaded machine
    reactor.callLater(0, calls.append, "first")
    runUntil(reactor, lambda: len(calls) == 2)
    assert calls == ["first", "second"]


def test_callLaterWithEqualTimesKeepsCallOrder(reactor: Any) -> None:
    calls: list[int] = []
    for i in range(5):
        reactor.callLater(0, calls.append, i)
    reactor.iterate(0)
    assert calls == [0, 1, 2, 3, 4]


def test_callLaterPassesArgsAndKeywords(reactor: Any) -> None:
    seen: list[Any] = []
    reactor.callLater(0, lambda *a, **kw: seen.append((a, kw)), 1, 2, x=3)
    reactor.iterate(0)
    assert seen == [((1, 2), {"x": 3})]


def test_callLaterNegativeDelayRaises(reactor: Any) -> None:
    with pytest.raises(ValueError, match="negative"):
        reactor.callLater(-1, lambda: None)


def test_cancelledCallDoesNotRun(reactor: Any) -> None:
    calls: list[int] = []
    call = reactor.callLater(0, calls.append, 1)
    call.cancel()
    reactor.iterate(0)
    assert calls == []
    assert reactor.getDelayedCalls() == []


def test_resetCallRunsAtNewTimeOnlyOnce(reactor: Any) -> None:
    calls: list[int] = []
    call = reactor.callLater(100, calls.append, 1)
    call.reset(0)
    call.reset(0)
    reactor.iterate(0)
    reactor.iterate(0)
    assert calls == [1]


def test_delayedCallMovedLaterDoesNotRunAtOldTime(reactor: Any) -> None:
    calls: list[int] = []
    call = reactor.callLater(0, calls.append, 1)
    call.delay(100)
    reactor.iterate(0)
    assert calls == []
    assert reactor.getDelayedCalls() == [call]


def test_getDelayedCallsListsActiveCallsOnce(reactor: Any) -> None:
    a = reactor.callLater(10, lambda: None)
    b = reactor.callLater(20, lambda: None)
    b.reset(30)
    assert sorted(map(id, reactor.getDelayedCalls())) == sorted([id(a), id(b)])


def test_manyCancelledCallsAreCompacted(reactor: Any) -> None:
    calls = [reactor.callLater(1000, lambda: None) for _ in range(200)]
    for call in calls:
        call.cancel()
    assert len(reactor._timedCalls) < 200


def test_timeoutIsNoneWithoutCalls(reactor: Any) -> None:
    assert reactor.timeout() is None
    reactor.callLater(5, lambda: None)
    timeout = reactor.timeout()
    assert timeout is not None and 0 < timeout <= 5


def test_errorInDelayedCallIsLoggedAndLoopGoesOn(
    reactor: Any, loggedErrors: list[dict[str, Any]]
) -> None:
    calls: list[int] = []
    reactor.callLater(0, lambda: 1 / 0)
    reactor.callLater(0, calls.append, 2)
    reactor.iterate(0)
    assert calls == [2]
    assert len(loggedErrors) == 1
    assert loggedErrors[0]["failure"].check(ZeroDivisionError)


def test_callFromThreadRunsInOrderAndWakesLoop(reactor: Any) -> None:
    calls: list[int] = []

    def worker() -> None:
        for i in range(100):
            reactor.callFromThread(calls.append, i)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(5)
    runUntil(reactor, lambda: len(calls) == 100)
    assert calls == list(range(100))


def test_callFromThreadWakesBlockedIteration(reactor: Any) -> None:
    calls: list[int] = []
    timer = threading.Timer(0.05, reactor.callFromThread, (calls.append, 1))
    timer.start()
    started = reactor.seconds()
    reactor.iterate(3)
    reactor.iterate(0)
    timer.join(5)
    assert calls == [1]
    assert reactor.seconds() - started < 2


def test_runCallsWhenRunningAndStops(reactor: Any) -> None:
    calls: list[str] = []

    def started() -> None:
        calls.append(f"running={reactor.running}")
        reactor.stop()

    reactor.callWhenRunning(started)
    reactor.callLater(5, pytest.fail, "reactor did not stop")
    reactor.run(installSignalHandlers=False)
    assert calls == ["running=True"]
    assert not reactor.running


def test_callWhenRunningCallsAtOnceWhileRunning(reactor: Any) -> None:
    results: list[object] = []

    def started() -> None:
        results.append(reactor.callWhenRunning(results.append, "now"))
        reactor.stop()

    reactor.callWhenRunning(started)
    reactor.run(installSignalHandlers=False)
    assert results == ["now", None]


def test_stopWhenNotRunningRaises(reactor: Any) -> None:
    with pytest.raises(error.ReactorNotRunning):
        reactor.stop()


def test_reactorCannotRunTwice(reactor: Any) -> None:
    reactor.callWhenRunning(reactor.stop)
    reactor.run(installSignalHandlers=False)
    with pytest.raises(error.ReactorNotRestartable):
        reactor.run(installSignalHandlers=False)


def test_crashStopsWithoutShutdownEvent(reactor: Any) -> None:
    calls: list[str] = []
    reactor.addSystemEventTrigger("before", "shutdown", calls.append, "shutdown")
    reactor.callWhenRunning(reactor.crash)
    reactor.run(installSignalHandlers=False)
    assert calls == []


def test_systemEventPhasesRunInOrder(reactor: Any) -> None:
    calls: list[str] = []
    for phase in ("after", "during", "before"):
        reactor.addSystemEventTrigger(phase, "test", calls.append, phase)
    reactor.fireSystemEvent("test")
    assert calls == ["before", "during", "after"]


def test_beforeTriggerDeferredDelaysLaterPhases(reactor: Any) -> None:
    calls: list[str] = []
    waiting: Deferred[None] = Deferred()
    reactor.addSystemEventTrigger("before", "test", lambda: waiting)
    reactor.addSystemEventTrigger("during", "test", calls.append, "during")
    reactor.fireSystemEvent("test")
    assert calls == []
    waiting.callback(None)
    assert calls == ["during"]


def test_beforeShutdownDeferredDelaysStop(reactor: Any) -> None:
    calls: list[str] = []
    waiting: Deferred[None] = Deferred()
    reactor.addSystemEventTrigger("before", "shutdown", lambda: waiting)
    reactor.addSystemEventTrigger("after", "shutdown", calls.append, "after")
    reactor.callWhenRunning(reactor.stop)
    reactor.callLater(0.05, lambda: calls.append("still running") or waiting.callback(None))
    reactor.callLater(5, pytest.fail, "shutdown never finished")
    reactor.run(installSignalHandlers=False)
    assert calls == ["still running", "after"]


def test_removedSystemEventTriggerDoesNotRun(reactor: Any) -> None:
    calls: list[str] = []
    handle = reactor.addSystemEventTrigger("during", "test", calls.append, "x")
    reactor.removeSystemEventTrigger(handle)
    reactor.fireSystemEvent("test")
    assert calls == []


def test_removingTriggerTwiceRaises(reactor: Any) -> None:
    handle = reactor.addSystemEventTrigger("during", "test", lambda: None)
    reactor.removeSystemEventTrigger(handle)
    with pytest.raises(ValueError):
        reactor.removeSystemEventTrigger(handle)


def test_badPhaseRaises(reactor: Any) -> None:
    with pytest.raises(KeyError):
        reactor.addSystemEventTrigger("sometime", "test", lambda: None)


def test_errorInTriggerIsLoggedAndOthersRun(
    reactor: Any, loggedErrors: list[dict[str, Any]]
) -> None:
    calls: list[str] = []
    reactor.addSystemEventTrigger("during", "test", lambda: 1 / 0)
    reactor.addSystemEventTrigger("during", "test", calls.append, "x")
    reactor.fireSystemEvent("test")
    assert calls == ["x"]
    assert len(loggedErrors) == 1


def test_callInThreadRunsInAnotherThread(reactor: Any) -> None:
    d: Deferred[threading.Thread] = Deferred()
    reactor.getThreadPool().start()
    reactor.callInThread(lambda: reactor.callFromThread(d.callback, threading.current_thread()))
    assert runUntilFired(reactor, d) is not threading.current_thread()


def test_threadPoolIsStoppedAtShutdown(reactor: Any) -> None:
    pool = reactor.getThreadPool()
    reactor.callWhenRunning(reactor.stop)
    reactor.run(installSignalHandlers=False)
    assert not pool.started
    assert reactor._threadPool is None


def test_suggestThreadPoolSizeSetsMaximum(reactor: Any) -> None:
    reactor.suggestThreadPoolSize(3)
    assert reactor.getThreadPool().max == 3


def test_resolveAddressLiteralFiresAtOnce(reactor: Any) -> None:
    results: list[str] = []
    reactor.resolve("127.0.0.1").addCallback(results.append)
    assert results == ["127.0.0.1"]


def test_resolveLocalhostUsesThreadPool(reactor: Any) -> None:
    reactor.getThreadPool().start()
    assert runUntilFired(reactor, reactor.resolve("localhost")) in ("127.0.0.1", "::1")


def test_resolveUnknownNameFailsWithDNSLookupError(reactor: Any) -> None:
    reactor.getThreadPool().start()
    with pytest.raises(error.DNSLookupError):
        runUntilFired(reactor, reactor.resolve("no-such-host.invalid"), timeout=10)


def test_isIPAddressRecognisesLiterals() -> None:
    assert isIPAddress("10.0.0.1")
    assert isIPAddress("::1")
    assert not isIPAddress("example.com")


def test_iterateWaitsAboutDelayWhenNothingHappens(reactor: Any) -> None:
    started = reactor.seconds()
    reactor.iterate(0.05)
    assert 0.03 <= reactor.seconds() - started < 2


def recordAndStop(reactor: Any, record: list[Any], value: object) -> None:
    record.append(value)
    reactor.stop()


def test_callLaterRunsOnTimeWhileRunning(reactor: Any) -> None:
    times: list[float] = []
    started = reactor.seconds()
    reactor.callLater(0.05, lambda: recordAndStop(reactor, times, reactor.seconds()))
    reactor.callLater(5, reactor.stop)
    reactor.run(installSignalHandlers=False)
    assert len(times) == 1 and 0.04 <= times[0] - started < 2


def test_callResetEarlierWhileRunningRunsAtNewTime(reactor: Any) -> None:
    calls: list[str] = []
    late = reactor.callLater(30, recordAndStop, reactor, calls, "late")
    reactor.callLater(0.01, late.reset, 0.01)
    timeout = reactor.callLater(5, recordAndStop, reactor, calls, "timed out")
    reactor.run(installSignalHandlers=False)
    assert calls == ["late"]
    assert timeout.active()


def test_callFromThreadWhileRunning(reactor: Any) -> None:
    calls: list[str] = []
    timer = threading.Timer(0.05, reactor.callFromThread, (recordAndStop, reactor, calls, "called"))
    reactor.callWhenRunning(timer.start)
    timeout = reactor.callLater(5, recordAndStop, reactor, calls, "timed out")
    reactor.run(installSignalHandlers=False)
    timer.join(5)
    assert calls == ["called"]
    assert timeout.active()


def test_nextTimedCallTimeSkipsCancelledAndMovedCalls(reactor: Any) -> None:
    assert reactor._nextTimedCallTime() is None
    first = reactor.callLater(1, lambda: None)
    second = reactor.callLater(2, lambda: None)
    first.cancel()
    assert reactor._nextTimedCallTime() == second.time
    second.delay(10)
    assert reactor._nextTimedCallTime() == second.time


def test_runningReactorRegistersItsThreadAsTheIOThread(reactor: Any) -> None:
    from torsion.python import threadable

    seen: list[bool] = []

    def check() -> None:
        seen.append(threadable.isInIOThread())
        reactor.stop()

    threadable.ioThread = None
    reactor.callWhenRunning(check)
    reactor.run(installSignalHandlers=False)
    assert seen == [True]
