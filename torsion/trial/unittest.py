"""Trial-compatible test cases for torsion code, run by pytest or unittest.

``SynchronousTestCase`` gives Twisted trial's assertions and hygiene checks for tests
that need no reactor; ``TestCase`` adds Deferred-returning and ``async def`` test
methods, setUp, tearDown and cleanups, spun on the global reactor with a per-test
timeout, and fails a test that leaves delayed calls in the reactor.
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
    in the reactor fails, listing them, and they are cancelled.
    """

    timeout: ClassVar[float] = DEFAULT_TIMEOUT

    def __init__(self, methodName: str = "runTest") -> None:
        super().__init__(methodName)
        self._deadline = 0.0
        self._reactor: SpinnableReactor | None = None

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
