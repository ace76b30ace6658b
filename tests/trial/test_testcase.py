"""Tests for torsion.trial.unittest.TestCase: asynchronous tests spun on a reactor.

The reactor here is a PrivateLoop on a fake clock, so waiting costs no real time.
"""

from __future__ import annotations

import unittest
from typing import Any

import pytest

from torsion.internet.defer import Deferred, succeed
from torsion.trial import unittest as trialunittest
from torsion.trial._spin import PrivateLoop
from torsion.trial.unittest import TestCase


@pytest.fixture(autouse=True)
def useLoop(loop: PrivateLoop, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make TestCase spin (and check) the fake-clock loop instead of a real reactor."""
    monkeypatch.setattr(trialunittest, "getReactor", lambda: loop)
    monkeypatch.setattr(trialunittest, "installedReactor", lambda: loop)


def later(loop: PrivateLoop, delay: float, value: object) -> Deferred[object]:
    d: Deferred[object] = Deferred()
    loop.callLater(delay, d.callback, value)
    return d


def test_deferredReturningTestIsWaitedFor(loop: PrivateLoop, runCase: Any) -> None:
    events: list[object] = []

    class Case(TestCase):
        def test_x(self) -> Deferred[object]:
            return later(loop, 5, "fired").addCallback(events.append)

    assert runCase(Case("test_x")).result.wasSuccessful()
    assert events == ["fired"]


def test_failingDeferredFailsTheTest(loop: PrivateLoop, runCase: Any) -> None:
    class Case(TestCase):
        def test_x(self) -> Deferred[object]:
            d: Deferred[object] = Deferred()
            loop.callLater(1, d.errback, ValueError("deferred went wrong"))
            return d

    assert "ValueError: deferred went wrong" in runCase(Case("test_x")).text


def test_asyncDefTestRuns(loop: PrivateLoop, runCase: Any) -> None:
    events: list[object] = []

    class Case(TestCase):
        async def test_x(self) -> None:
            events.append(await later(loop, 1, "awaited"))

    assert runCase(Case("test_x")).result.wasSuccessful()
    assert events == ["awaited"]


def test_asyncSetUpTearDownAndCleanupRunInOrder(loop: PrivateLoop, runCase: Any) -> None:
    events: list[object] = []

    class Case(TestCase):
        async def setUp(self) -> None:
            events.append(await later(loop, 1, "setUp"))
            self.addCleanup(lambda: later(loop, 1, "cleanup").addCallback(events.append))

        def test_x(self) -> None:
            events.append("test")

        def tearDown(self) -> Deferred[object]:
            return later(loop, 1, "tearDown").addCallback(events.append)

    assert runCase(Case("test_x")).result.wasSuccessful()
    assert events == ["setUp", "test", "tearDown", "cleanup"]


def test_coroutineCleanupIsAwaited(loop: PrivateLoop, runCase: Any) -> None:
    events: list[object] = []

    class Case(TestCase):
        def test_x(self) -> None:
            async def cleanup() -> None:
                events.append(await later(loop, 1, "cleaned"))

            self.addCleanup(cleanup)

    assert runCase(Case("test_x")).result.wasSuccessful()
    assert events == ["cleaned"]


def test_timeoutFailsTestAndCancelsDeferred(loop: PrivateLoop, runCase: Any) -> None:
    cancelled: list[object] = []

    class Case(TestCase):
        timeout = 3

        def test_x(self) -> Deferred[None]:
            d: Deferred[None] = Deferred(lambda d: cancelled.append(d))
            return d

    text = runCase(Case("test_x")).text
    assert "did not finish within" in text and "timeout = 3" in text
    assert "test_x (test method)" in text
    assert len(cancelled) == 1


def test_timeoutOnMethodOverridesClass(loop: PrivateLoop, runCase: Any) -> None:
    class Case(TestCase):
        def test_x(self) -> Deferred[None]:
            return Deferred()

        test_x.timeout = 0.5  # type: ignore[attr-defined]

    assert "timeout = 0.5" in runCase(Case("test_x")).text


def test_defaultTimeoutIs120Seconds() -> None:
    assert TestCase.timeout == 120


def test_leftoverDelayedCallFailsTheTestAndIsCancelled(loop: PrivateLoop, runCase: Any) -> None:
    class Case(TestCase):
        def test_x(self) -> None:
            loop.callLater(100, lambda: None)

    text = runCase(Case("test_x")).text
    assert "left 1 delayed call(s) in the reactor" in text
    assert loop.getDelayedCalls() == []


def test_noDelayedCallCheckWithoutInstalledReactor(
    loop: PrivateLoop, monkeypatch: pytest.MonkeyPatch, runCase: Any
) -> None:
    monkeypatch.setattr(trialunittest, "installedReactor", lambda: None)

    class Case(TestCase):
        def test_x(self) -> None:
            loop.callLater(100, lambda: None)

    assert runCase(Case("test_x")).result.wasSuccessful()


def test_synchronousTestInTestCasePasses(loop: PrivateLoop, runCase: Any) -> None:
    class Case(TestCase):
        def test_x(self) -> Deferred[int]:
            return succeed(1)

    result = unittest.TestResult()
    Case("test_x").run(result)
    assert result.wasSuccessful()


def test_synchronousTestDoesNotLookUpAReactor(
    monkeypatch: pytest.MonkeyPatch, runCase: Any
) -> None:
    def noReactor() -> PrivateLoop:
        raise AssertionError("a synchronous test must not install a reactor")

    monkeypatch.setattr(trialunittest, "getReactor", noReactor)

    class Case(TestCase):
        def test_x(self) -> None:
            pass

    assert runCase(Case("test_x")).result.wasSuccessful()


class LoopWithSockets(PrivateLoop):
    """A PrivateLoop that also tracks registered descriptors, like a real reactor."""

    def __init__(self) -> None:
        super().__init__()
        self.readers: list[Any] = []

    def getReaders(self) -> list[Any]:
        return list(self.readers)

    def getWriters(self) -> list[Any]:
        return []

    def removeReader(self, reader: Any) -> None:
        if reader in self.readers:
            self.readers.remove(reader)

    def removeWriter(self, writer: Any) -> None:
        pass


class FakeSocket:
    def __init__(self) -> None:
        self.lost: list[object] = []

    def connectionLost(self, reason: object) -> None:
        self.lost.append(reason)

    def __repr__(self) -> str:
        return "<FakeSocket left behind>"


def test_socketLeftOpenFailsTheTestAndIsClosed(
    monkeypatch: pytest.MonkeyPatch, runCase: Any
) -> None:
    sockets = LoopWithSockets()
    monkeypatch.setattr(trialunittest, "installedReactor", lambda: sockets)
    left = FakeSocket()

    class Case(TestCase):
        def test_x(self) -> None:
            sockets.readers.append(left)

    text = runCase(Case("test_x")).text
    assert "left 1 socket(s) open in the reactor" in text
    assert "<FakeSocket left behind>" in text
    assert sockets.readers == []
    assert len(left.lost) == 1


def test_socketsOpenBeforeTheTestAreNotBlamed(
    monkeypatch: pytest.MonkeyPatch, runCase: Any
) -> None:
    sockets = LoopWithSockets()
    sockets.readers.append(FakeSocket())
    monkeypatch.setattr(trialunittest, "installedReactor", lambda: sockets)

    class Case(TestCase):
        def test_x(self) -> None:
            pass

    assert runCase(Case("test_x")).result.wasSuccessful()
    assert len(sockets.readers) == 1


def test_socketClosedWithinAPassOfTheLoopIsNotBlamed(
    monkeypatch: pytest.MonkeyPatch, runCase: Any
) -> None:
    sockets = LoopWithSockets()
    monkeypatch.setattr(trialunittest, "installedReactor", lambda: sockets)
    closing = FakeSocket()

    class Case(TestCase):
        def test_x(self) -> None:
            sockets.readers.append(closing)
            sockets.callLater(0, sockets.removeReader, closing)

    assert runCase(Case("test_x")).result.wasSuccessful()
    assert closing.lost == []


def test_reactorsOwnWakerIsNotBlamed(monkeypatch: pytest.MonkeyPatch, runCase: Any) -> None:
    """A reactor installed during the test registers its waker; that is not a leak."""
    sockets = LoopWithSockets()
    monkeypatch.setattr(trialunittest, "installedReactor", lambda: sockets)

    class Case(TestCase):
        def test_x(self) -> None:
            sockets.waker = FakeSocket()  # type: ignore[attr-defined]
            sockets.readers.append(sockets.waker)  # type: ignore[attr-defined]

    assert runCase(Case("test_x")).result.wasSuccessful()
