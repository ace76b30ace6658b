"""Tests for IReactorFDSet on every reactor, and for the shared selector reactor.

The ``reactor`` tests are part of the conformance suite (they run on every reactor of
tests/internet/reactormixins.py). The rest test torsion.internet._selectorreactor, the
implementation behind the select, poll, epoll and kqueue reactors, through
SelectReactor and fake selectors.
"""

from __future__ import annotations

import selectors
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from zope.interface.verify import verifyObject

from tests.internet import reactormixins
from tests.internet.reactormixins import Descriptor, FakeSelector, closeReactor, runUntil
from torsion.internet import error
from torsion.internet._selectorreactor import SelectorReactor
from torsion.internet.interfaces import (
    IReactorCore,
    IReactorFDSet,
    IReactorPluggableResolver,
    IReactorTCP,
    IReactorThreads,
    IReactorTime,
)
from torsion.internet.selectreactor import SelectReactor

# The shared fixtures, made visible to pytest in this module.
highDescriptor = reactormixins.highDescriptor
loggedErrors = reactormixins.loggedErrors
loggedMessages = reactormixins.loggedMessages
pair = reactormixins.pair
reactor = reactormixins.reactor


def userReaders(reactor: Any) -> list[Any]:
    """The readers a user added (a polling reactor's waker is its own)."""
    return [r for r in reactor.getReaders() if r is not getattr(reactor, "waker", None)]


# -- conformance: every reactor ------------------------------------------------------------


def test_reactorProvidesItsInterfaces(reactor: Any) -> None:
    for interface in (
        IReactorCore,
        IReactorTime,
        IReactorFDSet,
        IReactorTCP,
        IReactorThreads,
        IReactorPluggableResolver,
    ):
        assert verifyObject(interface, reactor)


def test_addReaderCallsDoReadWhenReadable(reactor: Any, pair: Any) -> None:
    a, b = pair
    reader = Descriptor(a)
    reactor.addReader(reader)
    assert reader in reactor.getReaders()
    b.send(b"x")
    runUntil(reactor, lambda: reader.reads == 1)
    reactor.removeReader(reader)
    assert reader not in reactor.getReaders()
    b.send(b"y")
    reactor.iterate(0.01)
    assert reader.reads == 1


def test_addWriterCallsDoWriteWhenWritable(reactor: Any, pair: Any) -> None:
    writer = Descriptor(pair[0])
    reactor.addWriter(writer)
    assert reactor.getWriters() == [writer]
    runUntil(reactor, lambda: writer.writes >= 1)
    reactor.removeWriter(writer)
    assert reactor.getWriters() == []
    count = writer.writes
    reactor.iterate(0.01)
    assert writer.writes == count


def test_addingTwiceWatchesOnce(reactor: Any, pair: Any) -> None:
    reader = Descriptor(pair[0])
    reactor.addReader(reader)
    reactor.addReader(reader)
    assert userReaders(reactor) == [reader]
    reactor.removeReader(reader)
    assert userReaders(reactor) == []


def test_removingWriterKeepsReader(reactor: Any, pair: Any) -> None:
    a, b = pair
    both = Descriptor(a)
    reactor.addReader(both)
    reactor.addWriter(both)
    reactor.removeWriter(both)
    assert userReaders(reactor) == [both] and reactor.getWriters() == []
    b.send(b"x")
    runUntil(reactor, lambda: both.reads == 1)
    assert both.writes == 0


def test_removeAllReturnsWhatUserAdded(reactor: Any, pair: Any) -> None:
    a, b = pair
    reader, writer = Descriptor(a), Descriptor(b)
    reactor.addReader(reader)
    reactor.addWriter(writer)
    reactor.addReader(writer)
    removed = reactor.removeAll()
    assert sorted(map(id, removed)) == sorted([id(reader), id(writer)])
    assert userReaders(reactor) == [] and reactor.getWriters() == []


def test_removingUnwatchedDescriptorIsHarmless(reactor: Any, pair: Any) -> None:
    reactor.removeReader(Descriptor(pair[0]))
    reactor.removeWriter(Descriptor(pair[0]))
    assert reactor.getWriters() == [] and userReaders(reactor) == []


def test_closedDescriptorIsNotWatched(reactor: Any) -> None:
    a, b = socket.socketpair()
    a.close()
    b.close()
    reactor.addReader(Descriptor(a))
    assert userReaders(reactor) == []


def test_readThatEndsConnectionSkipsItsWrite(reactor: Any, pair: Any) -> None:
    a, b = pair
    ending = Descriptor(a, closeOnRead=True)
    reactor.addReader(ending)
    reactor.addWriter(ending)
    b.send(b"x")
    runUntil(reactor, lambda: ending.lost)
    for _ in range(3):
        reactor.iterate(0)
    assert ending.reads == 1 and len(ending.lost) == 1
    assert ending.lost[0].check(error.ConnectionDone)
    assert ending not in reactor.getWriters() and ending not in reactor.getReaders()


def test_errorInDoReadDisconnectsThatDescriptor(
    reactor: Any, pair: Any, loggedErrors: list[dict[str, Any]]
) -> None:
    class Broken(Descriptor):
        def doRead(self) -> None:
            raise ValueError("broken")

    a, b = pair
    broken, fine = Broken(a), Descriptor(b)
    reactor.addReader(broken)
    reactor.addReader(fine)
    b.send(b"x")
    runUntil(reactor, lambda: broken.lost)
    a.send(b"y")
    runUntil(reactor, lambda: fine.reads == 1)
    assert broken not in reactor.getReaders() and fine in reactor.getReaders()
    assert broken.lost[0].check(ValueError)
    assert len(loggedErrors) == 1 and loggedErrors[0]["system"] == "Descriptor"


# -- the shared selector reactor ---------------------------------------------------------


@pytest.fixture
def fakeSelector() -> FakeSelector:
    return FakeSelector()


@pytest.fixture
def faked(fakeSelector: FakeSelector) -> Iterator[SelectReactor]:
    made = SelectReactor(fakeSelector)
    try:
        yield made
    finally:
        closeReactor(made)


def test_selectReactorReallyUsesSelect() -> None:
    made = SelectReactor()
    try:
        assert type(made._poller.selector) is selectors.SelectSelector
    finally:
        made._close()


def test_wakerIsWatchedButNotRemovedByRemoveAll(faked: SelectReactor, pair: Any) -> None:
    reader = Descriptor(pair[0])
    faked.addReader(reader)
    assert faked.getReaders() == [faked.waker, reader]
    assert faked.removeAll() == [reader]
    assert faked.getReaders() == [faked.waker]


def test_closeClosesSelectorAndWaker(fakeSelector: FakeSelector) -> None:
    made = SelectReactor(fakeSelector)
    waker = made.waker
    made._close()
    assert fakeSelector.closed
    assert waker._reader.fileno() == -1 and waker._writer.fileno() == -1


def test_descriptorRemovedEarlierInPassIsSkipped(
    faked: SelectReactor, fakeSelector: FakeSelector, pair: Any
) -> None:
    a, b = pair
    second = Descriptor(b)

    class RemovesOther(Descriptor):
        def doRead(self) -> None:
            self.reads += 1
            faked.removeReader(second)

    first = RemovesOther(a)
    faked.addReader(first)
    faked.addReader(second)
    fakeSelector.script = [[(a.fileno(), selectors.EVENT_READ), (b.fileno(), selectors.EVENT_READ)]]
    faked.doIteration(0)
    assert first.reads == 1 and second.reads == 0


def test_selectorErrorNoDescriptorExplainsIsRaised(
    faked: SelectReactor, fakeSelector: FakeSelector
) -> None:
    fakeSelector.script = [OSError(5, "broken selector")]
    with pytest.raises(OSError, match="broken selector"):
        faked.doIteration(0)


def test_descriptorClosedBehindReactorsBackIsDropped(
    reactor: Any, loggedErrors: list[dict[str, Any]], loggedMessages: list[dict[str, Any]]
) -> None:
    if not isinstance(reactor, SelectorReactor):
        pytest.skip("the asyncio loop, not torsion, deals with descriptors closed under it")
    a, b = socket.socketpair()
    victim = Descriptor(a)
    fd = a.fileno()
    victim.fileno = lambda: fd  # type: ignore[method-assign]
    reactor.addReader(victim)
    b.close()
    a.close()
    # Whatever the system call makes of it, the reactor must go on working: select(2)
    # fails as a whole, poll(2) reports the descriptor (whose doRead then fails), epoll
    # and kqueue forget it.
    calls: list[int] = []
    reactor.callLater(0.01, calls.append, 1)
    runUntil(reactor, lambda: calls)
    kind = type(reactor).__name__
    if kind == "SelectReactor":
        assert victim.lost[0].check(error.ConnectionFdescWentAway)
        assert "stopReading()" in str(victim.lost[0].value)
    elif kind == "PollReactor":
        assert victim.lost[0].check(OSError) and len(loggedErrors) == 1
    else:
        assert victim.lost == []
    assert len(victim.lost) <= 1
    if victim.lost:
        assert victim not in reactor.getReaders()


def test_descriptorNumberReusedAfterCloseGoesToItsNewOwner(reactor: Any) -> None:
    if not isinstance(reactor, SelectorReactor):
        pytest.skip("the asyncio loop, not torsion, deals with descriptors closed under it")
    a, b = socket.socketpair()
    stale = Descriptor(a)
    reactor.addReader(stale)
    fd = a.fileno()
    a.close()  # Behind the reactor's back: it was never told to stop reading.
    c, d = socket.socketpair()
    try:
        # The lowest free number is handed out first, so one of the new pair has fd.
        reused, peer = (c, d) if c.fileno() == fd else (d, c)
        assert reused.fileno() == fd
        owner = Descriptor(reused)
        reactor.addReader(owner)
        assert owner in reactor.getReaders() and stale not in reactor.getReaders()
        peer.send(b"x")
        runUntil(reactor, lambda: owner.reads == 1)
        assert stale.reads == 0
        reactor.removeReader(owner)
        assert owner not in reactor.getReaders()
    finally:
        for s in (b, c, d):
            s.close()


def test_selectDropsDescriptorItCannotWatch(
    pair: Any, highDescriptor: Any, loggedMessages: list[dict[str, Any]]
) -> None:
    made = SelectReactor()
    try:
        low, high = Descriptor(pair[0]), Descriptor(highDescriptor[0])
        made.addReader(low)
        made.addReader(high)
        pair[1].send(b"x")
        highDescriptor[1].send(b"x")
        runUntil(made, lambda: high.lost and low.reads)
        assert high.reads == 0
        assert high.lost[0].check(error.ConnectionLost)
        assert "default.install()" in str(high.lost[0].value)
        assert low.lost == []
        assert any("Dropping" in str(e["message"]) for e in loggedMessages)
    finally:
        closeReactor(made)
