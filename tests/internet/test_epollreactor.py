"""Tests for torsion.internet.epollreactor: epoll, the default reactor on Linux.

Everything else about EPollReactor is the shared selector reactor, tested by the
conformance suite (tests/internet/reactormixins.py) and tests/internet/test_selectreactor.py.
"""

from __future__ import annotations

import selectors
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import Descriptor, closeReactor, runUntil

if not hasattr(selectors, "EpollSelector"):
    pytest.skip("epoll exists only on Linux", allow_module_level=True)

from torsion.internet.epollreactor import EPollReactor

# The shared fixture, made visible to pytest in this module.
highDescriptor = reactormixins.highDescriptor


def test_epollReactorUsesEpoll() -> None:
    made = EPollReactor()
    try:
        assert type(made._selector) is selectors.EpollSelector
    finally:
        made._close()


def test_watchesDescriptorBeyondSelectLimit(highDescriptor: Any) -> None:
    high, peer = highDescriptor
    made = EPollReactor()
    try:
        reader = Descriptor(high)
        made.addReader(reader)
        peer.send(b"x")
        runUntil(made, lambda: reader.reads == 1)
        assert reader.lost == []
    finally:
        closeReactor(made)
