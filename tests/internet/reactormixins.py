"""Helpers for reactor tests: a fresh reactor per test, and bounded waits on it.

``reactor`` is a pytest fixture parametrised over every reactor available here (only
SelectReactor today; the poll, epoll and asyncio reactors join the list later). Each
test gets a new, uninstalled reactor that is torn down afterwards, so tests do not
share state and run in parallel. ``runUntilFired`` spins a reactor until a Deferred
fires, failing the test after a few seconds instead of hanging.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from torsion.internet.defer import Deferred
from torsion.internet.selectreactor import SelectReactor
from torsion.python import log
from torsion.python.failure import Failure

REACTOR_FACTORIES: dict[str, Callable[[], Any]] = {"select": SelectReactor}


def runUntilFired(reactor: Any, d: Deferred[Any], timeout: float = 5.0) -> Any:
    """Iterate ``reactor`` until ``d`` fires; return its result or raise its failure."""
    results: list[Any] = []
    d.addBoth(results.append)
    deadline = reactor.seconds() + timeout
    while not results:
        if reactor.seconds() > deadline:
            pytest.fail(f"Deferred {d!r} did not fire within {timeout} seconds")
        reactor.iterate(0.05)
    result = results[0]
    if isinstance(result, Failure):
        result.raiseException()
    return result


def runUntil(reactor: Any, condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Iterate ``reactor`` until ``condition()`` is true, failing after ``timeout``."""
    deadline = reactor.seconds() + timeout
    while not condition():
        if reactor.seconds() > deadline:
            pytest.fail(f"condition {condition!r} not met within {timeout} seconds")
        reactor.iterate(0.05)


def closeReactor(reactor: Any) -> None:
    """Close everything a test reactor holds: connections, ports, pool, waker."""
    reactor.disconnectAll()
    for _ in range(3):
        reactor.iterate(0)
    pool = reactor._threadPool
    if pool is not None:
        reactor._stopThreadPool()
    reactor.waker.connectionLost(None)
    reactor._selector.close()


@pytest.fixture(params=sorted(REACTOR_FACTORIES))
def reactor(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh reactor of each available kind, closed after the test."""
    made = REACTOR_FACTORIES[request.param]()
    try:
        yield made
    finally:
        closeReactor(made)


@pytest.fixture
def loggedErrors() -> Iterator[list[dict[str, Any]]]:
    """Collect the error events logged during a test (and keep them out of its output)."""
    events: list[dict[str, Any]] = []

    def observer(event: dict[str, Any]) -> None:
        if event.get("isError"):
            events.append(event)

    log.addObserver(observer)
    try:
        yield events
    finally:
        log.removeObserver(observer)


@pytest.fixture
def loggedMessages() -> Iterator[list[dict[str, Any]]]:
    """Collect every classic log event during a test."""
    events: list[dict[str, Any]] = []
    log.addObserver(events.append)
    try:
        yield events
    finally:
        log.removeObserver(events.append)
