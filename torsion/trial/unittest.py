"""Trial-compatible test cases for torsion code, run by pytest or unittest.

``SynchronousTestCase`` gives Twisted trial's assertions and hygiene checks for tests
that need no reactor; ``TestCase`` adds Deferred-returning and ``async def`` test
methods, setUp, tearDown and cleanups, spun on the global reactor with a per-test
timeout, and fails a test that leaves delayed calls or open sockets in the reactor.
Tests: tests/trial/test_synctest.py, tests/trial/test_testcase.py,
tests/trial/test_plugin.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

from torsion.trial._spin import (
    SpinnableReactor,
    SpinTimeoutError,
    getReactor,
    installedReactor,
    isAwaitableResult,
    pendingDelayedCalls,
    spinUntilDone,
)
from torsion.trial._synctest import SynchronousTestCase

__all__ = ["FailTest", "SkipTest", "SynchronousTestCase", "TestCase", "TimeoutError"]

from unittest import SkipTest

FailTest = AssertionError
TimeoutError = SpinTimeoutError

DEFAULT_TIMEOUT = 120.0


class TestCase(SynchronousTestCase):
    """A test case whose test methods, setUp, tearDown and cleanups may be asynchronous.

    Any of them may return a Deferred or be ``async def``; the global reactor is
    iterated (never ``run()``) until it completes. The whole test shares one budget
    of ``timeout`` seconds (120 by default): past it the pending Deferred is
    cancelled and the test fails saying so. A test that leaves active delayed calls
    in the reactor fails, listing them, and they are cancelled; so does a test that
    leaves sockets (connections, listening ports) registered with the reactor that
    were not there when it started: they are closed.
    """

    timeout: ClassVar[float] = DEFAULT_TIMEOUT

    def __init__(self, methodName: str = "runTest") -> None:
        super().__init__(methodName)
        self._deadline = 0.0
        self._reactor: SpinnableReactor | None = None
        self._selectablesBefore: set[Any] = set()

    def _getTimeout(self) -> float:
        value = self._getTestAttribute("timeout")
        return float(value) if isinstance(value, int | float) else DEFAULT_TIMEOUT

    def _spin(self, function: Callable[..., object], part: str, *args: Any, **kwargs: Any) -> None:
        """Call ``function`` and wait for its Deferred or coroutine, if it returns one."""
        result = function(*args, **kwargs)
        if not isAwaitableResult(result):
            return
        if self._reactor is None:
            self._reactor = getReactor()
        remaining = max(0.0, self._deadline - time.monotonic())
        try:
            spinUntilDone(result, remaining, f"{self.id()} ({part})", self._reactor)
        except SpinTimeoutError as e:
            raise SpinTimeoutError(f"{e.args[0]} (timeout = {self._getTimeout():g})") from None

    def _setUp(self) -> None:
        self._deadline = time.monotonic() + self._getTimeout()
        self.addCleanup(self._checkDelayedCalls)
        self._selectablesBefore = _selectables(installedReactor())
        self.addCleanup(self._checkSelectables)
        self._spin(self.setUp, "setUp")

    def _callTestMethod(self, method: Callable[[], object]) -> None:
        self._spin(method, "test method")

    def _callTearDown(self) -> None:
        self._spin(self.tearDown, "tearDown")

    def _callCleanup(self, function: Callable[..., object], /, *args: Any, **kwargs: Any) -> None:
        self._spin(function, f"cleanup {function!r}", *args, **kwargs)

    def _checkDelayedCalls(self) -> None:
        reactor = installedReactor()
        if reactor is None:
            return
        leftovers = pendingDelayedCalls(reactor)
        if leftovers:
            listing = "\n".join(f"  {call!r}" for call in leftovers)
            self.fail(
                f"the test left {len(leftovers)} delayed call(s) in the reactor"
                f" (now cancelled); cancel them or wait for them:\n{listing}"
            )

    def _checkSelectables(self) -> None:
        reactor = installedReactor()
        leftovers = _selectables(reactor) - self._selectablesBefore
        # A connection closed at the end of the test may need a pass of the loop or
        # two to be unregistered; give it those before blaming the test.
        for _ in range(3):
            if not leftovers or reactor is None:
                break
            reactor.iterate(0)
            leftovers = _selectables(reactor) - self._selectablesBefore
        if not leftovers:
            return
        listing = "\n".join(f"  {selectable!r}" for selectable in leftovers)
        for selectable in leftovers:
            _close(reactor, selectable)
        self.fail(
            f"the test left {len(leftovers)} socket(s) open in the reactor (now closed);"
            " close connections and stop listening ports before the test ends, for"
            f" instance in a cleanup that waits for stopListening():\n{listing}"
        )


def _selectables(reactor: object) -> set[Any]:
    """What ``reactor`` watches for I/O, its own waker aside (empty if no descriptors)."""
    getReaders = getattr(reactor, "getReaders", None)
    getWriters = getattr(reactor, "getWriters", None)
    if getReaders is None or getWriters is None:
        return set()
    watched = set(getReaders()) | set(getWriters())
    watched.discard(getattr(reactor, "waker", None))
    return watched


def _close(reactor: Any, selectable: Any) -> None:
    """Unregister and close a selectable that a test left behind."""
    from torsion.internet.error import ConnectionDone
    from torsion.python.failure import Failure

    reactor.removeReader(selectable)
    reactor.removeWriter(selectable)
    connectionLost = getattr(selectable, "connectionLost", None)
    if connectionLost is not None:
        try:
            connectionLost(Failure(ConnectionDone("closed: left open by a test")))
        except Exception:
            from torsion.python import log

            log.err(None, f"error while closing {selectable!r} left open by a test")
