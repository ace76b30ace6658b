"""Tests for torsion.internet.pollreactor and epollreactor: what they do that select cannot.

Each is the shared selector reactor with its own system call; everything else about
them is tested by the conformance suite (tests/internet/reactormixins.py) and
tests/internet/test_selectreactor.py.
"""

from __future__ import annotations

import importlib
import select
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import Descriptor, closeReactor, runUntil

# The shared fixture, made visible to pytest in this module.
highDescriptor = reactormixins.highDescriptor

# (module, reactor class, the select module's name for the system call it must wait in)
POLLING_REACTORS = [
    ("torsion.internet.pollreactor", "PollReactor", "poll"),
    ("torsion.internet.epollreactor", "EPollReactor", "epoll"),
]


@pytest.fixture(params=POLLING_REACTORS, ids=[name for _, name, _ in POLLING_REACTORS])
def pollingReactor(request: pytest.FixtureRequest) -> tuple[type[Any], type[Any]]:
    moduleName, className, callName = request.param
    if not hasattr(select, callName):
        pytest.skip(f"{callName} is not available on this platform")
    return getattr(importlib.import_module(moduleName), className), callName


def test_reactorUsesItsSystemCall(pollingReactor: tuple[type[Any], str]) -> None:
    reactorClass, callName = pollingReactor
    made = reactorClass()
    try:
        poller = made._poller
        # epoll is used bare; poll(2) through a wrapper that converts the timeout.
        assert type(getattr(poller, "_poll", poller)) is type(getattr(select, callName)())
    finally:
        made._close()


def test_watchesDescriptorBeyondSelectLimit(
    pollingReactor: tuple[type[Any], str], highDescriptor: Any
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
