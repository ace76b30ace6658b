"""The pytest plugin that torsion registers (entry point ``pytest11`` named ``torsion``).

With torsion installed, a plain pytest test function may be ``async def`` or return
a Deferred: the plugin runs it to completion on the global reactor (iterated, never
``run()``), through the same machinery as ``torsion.trial.unittest.TestCase``, and a
failed Deferred fails the test with the failure's own traceback. The timeout is 120
seconds unless the test says ``@pytest.mark.torsion_timeout(seconds)``.

Coexisting with asyncio plugins: a coroutine test is left alone when another plugin
has claimed it, i.e. when it carries an ``asyncio``, ``anyio`` or ``trio`` marker or
asks for the ``anyio_backend`` fixture, or when another plugin has already replaced
the function by a synchronous wrapper (pytest-asyncio does this from its own
``pytest_pyfunc_call`` wrapper, which runs outside ours). Only unclaimed coroutine
functions and Deferred-returning functions are handled here.

Fixtures: ``torsionClock``, a fresh ``torsion.internet.task.Clock`` per test.

This module is imported by every pytest run in an environment with torsion installed,
so it imports nothing of torsion until a test needs it.
Tests: tests/trial/test_plugin.py.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from torsion.internet.task import Clock

DEFAULT_TIMEOUT = 120.0
_OTHER_ASYNC_MARKERS = ("asyncio", "anyio", "trio")


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``torsion_timeout`` marker."""
    config.addinivalue_line(
        "markers",
        "torsion_timeout(seconds): time limit for a Deferred-returning or async def"
        f" test run by torsion (default {DEFAULT_TIMEOUT:g} seconds)",
    )


def _claimedByAnotherPlugin(item: pytest.Function) -> bool:
    if any(item.get_closest_marker(name) is not None for name in _OTHER_ASYNC_MARKERS):
        return True
    return "anyio_backend" in item.fixturenames


def _timeoutFor(item: pytest.Function) -> float:
    marker = item.get_closest_marker("torsion_timeout")
    if marker is None:
        return DEFAULT_TIMEOUT
    if len(marker.args) != 1 or not isinstance(marker.args[0], int | float):
        raise pytest.UsageError(
            f"{item.nodeid}: torsion_timeout takes one number of seconds,"
            f" e.g. @pytest.mark.torsion_timeout(5); got {marker.args!r}"
        )
    return float(marker.args[0])


def _runToCompletion(
    function: Callable[..., object], item: pytest.Function
) -> Callable[..., object]:
    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> object:
        from torsion.trial._spin import isAwaitableResult, spinUntilDone

        result = function(*args, **kwargs)
        if not isAwaitableResult(result):
            # Left for pytest to judge (it warns about tests that return values).
            return result
        spinUntilDone(result, _timeoutFor(item), item.nodeid)
        return None

    return run


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    """Swap the test function for one that waits for its Deferred or coroutine."""
    original = pyfuncitem.obj
    isCoroutine = inspect.iscoroutinefunction(original)
    if isCoroutine and _claimedByAnotherPlugin(pyfuncitem):
        return (yield)
    pyfuncitem.obj = _runToCompletion(original, pyfuncitem)
    try:
        return (yield)
    finally:
        pyfuncitem.obj = original


@pytest.fixture
def torsionClock() -> Clock:
    """A fresh deterministic clock (``torsion.internet.task.Clock``) for this test."""
    from torsion.internet.task import Clock

    return Clock()
