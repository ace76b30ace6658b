"""Tests for torsion.internet.pollreactor and epollreactor: what they do that select cannot.

Each is the shared selector reactor with its own system call; everything else about
them is tested by the conformance suite (tests/internet/reactormixins.py) and
tests/internet/test_selectreactor.py.
"""

from __future__ import annotations

import importlib
import selectors
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import Descriptor, closeReactor, runUntil

# The shared fixture, made visible to pytest in this module.
highDescriptor = reactormixins.highDescriptor

# (module, reactor class, the selectors class it must use)
POLLING_REACTORS = [
    ("torsion.internet.pollreactor", "PollReactor", "PollSelector"),
    ("torsion.internet.epollreactor", "EPollReactor", "EpollSelector"),
]


@pytest.fixture(params=POLLING_REACTORS, ids=[name for _, name, _ in POLLING_REACTORS])
def pollingReactor(request: pytest.FixtureRequest) -> tuple[type[Any], type[Any]]:
    moduleName, className, selectorName = request.param
    selectorClass = getattr(selectors, selectorName, None)
    if selectorClass is None:
        pytest.skip(f"{selectorName} is not available on this platform")
    return getattr(importlib.import_module(moduleName), className), selectorClass


def test_reactorUsesItsSystemCall(pollingReactor: tuple[type[Any], type[Any]]) -> None:
    reactorClass, selectorClass = pollingReactor
    made = reactorClass()
    try:
        assert type(made._selector) is selectorClass
    finally:
        made._close()


def test_watchesDescriptorBeyondSelectLimit(
    pollingReactor: tuple[type[Any], type[Any]], highDescriptor: Any
) -> None:
    high, peer = highDescriptor
    made = pollingReactor[0]()
    try:
        reader = Descriptor(high)
        made.addReader(reader)
        peer.send(b"x")
        runUntil(made, lambda: reader.reads == 1)
        assert reader.lost == []
    finally:
        closeReactor(made)
