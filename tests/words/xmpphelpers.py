"""Helpers for the XMPP tests: one reactor per test, and bounded waits in coroutines."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest

from tests.internet.reactormixins import (
    REACTOR_FACTORIES,
    closeReactor,
    runUntilFired,
    trackDescriptors,
)
from torsion.internet.defer import Deferred, ensureDeferred
from torsion.protocols.xmlstream import Element


@pytest.fixture
def oneReactor() -> Iterator[Any]:
    """One reactor (epoll where there is one) for the tests that are not conformance."""
    name = "epoll" if "epoll" in REACTOR_FACTORIES else "select"
    made = REACTOR_FACTORIES[name]()
    trackDescriptors(made)
    try:
        yield made
    finally:
        closeReactor(made)


def run(reactor: Any, coroutine: Coroutine[Any, Any, Any], timeout: float = 10) -> Any:
    """Run ``coroutine`` on ``reactor``; fail the test after ``timeout`` seconds."""
    return runUntilFired(reactor, ensureDeferred(coroutine), timeout)


async def waitFor(reactor: Any, condition: Callable[[], object], timeout: float = 5) -> None:
    """Wait (inside a running coroutine) until ``condition()`` is true."""
    d: Deferred[None] = Deferred()
    deadline = reactor.seconds() + timeout

    def check() -> None:
        if condition():
            d.callback(None)
        elif reactor.seconds() > deadline:
            d.errback(AssertionError(f"{condition!r} not true within {timeout} s"))
        else:
            reactor.callLater(0.01, check)

    check()
    await d


def received(xs: Any, query: str) -> list[Element]:
    """Collect, from now on, the stanzas of ``xs`` that match ``query``."""
    found: list[Element] = []
    xs.addObserver(query, found.append)
    return found
