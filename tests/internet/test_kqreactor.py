"""Tests for torsion.internet.kqreactor: kqueue, the default on the BSDs and macOS.

Where kqueue exists, KQueueReactor also runs the whole conformance suite
(tests/internet/reactormixins.py). Everywhere, the one thing the shared selector
reactor must do for kqueue is tested with a scripted selector: kqueue reports a
descriptor's readability and writability as two separate events of one pass.
"""

from __future__ import annotations

import importlib
import selectors
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import Descriptor, FakeSelector, closeReactor
from torsion.internet import error
from torsion.internet.selectreactor import SelectReactor

# The shared fixture, made visible to pytest in this module.
pair = reactormixins.pair

HAVE_KQUEUE = hasattr(selectors, "KqueueSelector")


@pytest.mark.skipif(HAVE_KQUEUE, reason="kqueue exists here, so the module imports")
def test_importWithoutKqueueSaysWhatToUseInstead() -> None:
    sys.modules.pop("torsion.internet.kqreactor", None)
    with pytest.raises(ImportError, match=r"BSDs and macOS.*default\.install\(\)"):
        importlib.import_module("torsion.internet.kqreactor")


@pytest.mark.skipif(not HAVE_KQUEUE, reason=f"kqueue does not exist on {sys.platform}")
def test_kqueueReactorUsesKqueue() -> None:
    from torsion.internet.kqreactor import KQueueReactor

    made = KQueueReactor()
    try:
        assert type(made._poller.selector).__name__ == "KqueueSelector"
    finally:
        made._close()


@pytest.fixture
def scripted() -> Iterator[tuple[SelectReactor, FakeSelector]]:
    selector = FakeSelector()
    made = SelectReactor(selector)
    try:
        yield made, selector
    finally:
        closeReactor(made)


def splitEvents(fd: int) -> list[tuple[int, int]]:
    """One pass of kqueue events for ``fd``: a read filter event, then a write one."""
    return [(fd, selectors.EVENT_READ), (fd, selectors.EVENT_WRITE)]


def test_splitReadAndWriteEventsEachRunOnce(scripted: Any, pair: Any) -> None:
    reactor, selector = scripted
    both = Descriptor(pair[0])
    reactor.addReader(both)
    reactor.addWriter(both)
    pair[1].send(b"x")
    selector.script = [splitEvents(pair[0].fileno())]
    reactor.doIteration(0)
    assert (both.reads, both.writes) == (1, 1)


def test_readThatEndsConnectionSkipsTheSplitWriteEvent(scripted: Any, pair: Any) -> None:
    reactor, selector = scripted
    ending = Descriptor(pair[0], closeOnRead=True)
    reactor.addReader(ending)
    reactor.addWriter(ending)
    pair[1].send(b"x")
    selector.script = [splitEvents(pair[0].fileno())]
    reactor.doIteration(0)
    assert (ending.reads, ending.writes) == (1, 0)
    assert len(ending.lost) == 1 and ending.lost[0].check(error.ConnectionDone)
