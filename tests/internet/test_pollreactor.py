"""Tests for torsion.internet.pollreactor: what poll(2) does that select(2) cannot.

Everything else about PollReactor is the shared selector reactor, tested by the
conformance suite (tests/internet/reactormixins.py) and tests/internet/test_selectreactor.py.
"""

from __future__ import annotations

import selectors
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import Descriptor, closeReactor, runUntil

if not hasattr(selectors, "PollSelector"):
    pytest.skip("poll(2) is not available on this platform", allow_module_level=True)

from torsion.internet.pollreactor import PollReactor

# The shared fixture, made visible to pytest in this module.
highDescriptor = reactormixins.highDescriptor


def test_pollReactorUsesPoll() -> None:
    made = PollReactor()
    try:
        assert type(made._selector) is selectors.PollSelector
    finally:
        made._close()


def test_watchesDescriptorBeyondSelectLimit(highDescriptor: Any) -> None:
    high, peer = highDescriptor
    made = PollReactor()
    try:
        reader = Descriptor(high)
        made.addReader(reader)
        peer.send(b"x")
        runUntil(made, lambda: reader.reads == 1)
        assert reader.lost == []
    finally:
        closeReactor(made)
