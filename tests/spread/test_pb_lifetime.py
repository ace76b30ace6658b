"""Tests that PB leaks nothing: the brokers' tables are counted and objects watched by weakref.

References dropped on one side are released on the other (``decref``/``decache``);
when the connection goes, both sides let go of everything they lent or borrowed, and the
objects involved (and the brokers themselves) can be collected.
"""

from __future__ import annotations

import gc
import weakref
from typing import Any

from tests.spread.pbtesting import PBPair, failureOf, resultOf
from torsion.internet import defer
from torsion.spread import pb


class Item(pb.Referenceable):
    def remote_get(self) -> str:
        return "item"


class Board(pb.Cacheable):
    def __init__(self) -> None:
        self.observers: list[Any] = []

    def getStateToCacheAndObserveFor(self, perspective: Any, observer: Any) -> Any:
        self.observers.append(observer)
        return {"n": len(self.observers)}

    def stoppedObserving(self, perspective: Any, observer: Any) -> None:
        self.observers.remove(observer)


class RemoteBoard(pb.RemoteCache):
    def observe_tick(self) -> None:
        pass


pb.setUnjellyableForClass(Board, RemoteBoard)


class Root(pb.Root):
    def __init__(self) -> None:
        self.board = Board()
        self.made: list[weakref.ref[Any]] = []
        self.callbacks: list[weakref.ref[Any]] = []
        self.pending: list[Any] = []

    def remote_items(self, count: int) -> list[Item]:
        items = [Item() for _ in range(count)]
        self.made.extend(weakref.ref(item) for item in items)
        return items

    def remote_board(self) -> Board:
        return self.board

    def remote_remember(self, callback: Any) -> Any:
        self.callbacks.append(weakref.ref(callback))
        return callback.callRemote("ping")

    def remote_hold(self, callback: Any) -> None:
        self.pending.append(callback)


class ClientCallback(pb.Referenceable):
    def remote_ping(self) -> str:
        return "pong"


def tableSizes(broker: pb.Broker) -> dict[str, int]:
    return {
        "localObjects": len(broker.localObjects),
        "luids": len(broker.luids),
        "remotelyCachedObjects": len(broker.remotelyCachedObjects),
        "remotelyCachedLUIDs": len(broker.remotelyCachedLUIDs),
        "locallyCachedObjects": len(broker.locallyCachedObjects),
        "dyingCaches": len(broker._dyingCaches),
        "remoteReferences": len(broker.remoteReferences),
        "waitingForAnswers": len(broker.waitingForAnswers),
        "localCleanup": len(broker._localCleanup),
    }


EMPTY = dict.fromkeys(tableSizes(pb.Broker()), 0)


def useEverything(pair: PBPair, root: Root) -> list[Any]:
    rootRef = pair.root()
    items = pair.call(rootRef, "items", 50)
    assert [pair.call(item, "get") for item in items[:3]] == ["item"] * 3
    board = pair.call(rootRef, "board")
    pair.call(rootRef, "board")
    callback = ClientCallback()
    assert pair.call(rootRef, "remember", callback) == "pong"
    pair.call(rootRef, "hold", callback)
    pending = rootRef.callRemote("remember", ClientCallback())
    return [items, board, callback, pending]


def test_droppedReferencesAreReleasedOnTheOtherSide() -> None:
    root = Root()
    pair = PBPair(root)
    held = useEverything(pair, root)
    pair.flush()
    assert len(pair.server.localObjects) == 51
    del held
    gc.collect()
    pair.flush()
    root.pending.clear()
    gc.collect()
    pair.flush()
    assert tableSizes(pair.server) == dict(EMPTY, localObjects=1)
    assert tableSizes(pair.client) == EMPTY
    assert root.board.observers == []
    assert all(ref() is None for ref in root.made)
    assert all(ref() is None for ref in root.callbacks)


def test_disconnectReleasesEverythingOnBothSides() -> None:
    root = Root()
    pair = PBPair(root)
    held = useEverything(pair, root)
    brokers = [weakref.ref(pair.server), weakref.ref(pair.client)]
    callbackRef = weakref.ref(held[2])
    pair.disconnect()
    assert tableSizes(pair.server) == EMPTY
    assert tableSizes(pair.client) == EMPTY
    assert root.board.observers == []
    assert held[1].broker is None
    assert resultOf(held[3].addErrback(lambda f: f.check(pb.PBConnectionLost))) is (
        pb.PBConnectionLost
    )
    root.pending.clear()
    del held, pair
    gc.collect()
    assert all(ref() is None for ref in root.made)
    assert callbackRef() is None
    assert [ref() for ref in brokers] == [None, None]


def test_manyConnectionsComeAndGoWithoutGrowth() -> None:
    root = Root()
    brokers: list[weakref.ref[pb.Broker]] = []
    for _ in range(20):
        pair = PBPair(root)
        brokers += [weakref.ref(pair.server), weakref.ref(pair.client)]
        useEverything(pair, root)
        pair.disconnect()
    root.pending.clear()
    del pair
    gc.collect()
    assert root.board.observers == []
    assert all(ref() is None for ref in root.made)
    assert [ref for ref in brokers if ref() is not None] == []


def test_referenceDroppedAndSentAgainStaysCounted() -> None:
    shared = Item()

    class Keeper(pb.Root):
        def remote_shared(self) -> Item:
            return shared

    pair = PBPair(Keeper())
    rootRef = pair.root()
    first = pair.call(rootRef, "shared")
    again = rootRef.callRemote("shared")
    pair.pump.pump()
    del first
    gc.collect()
    pair.flush()
    second = resultOf(again)
    assert pair.call(second, "get") == "item"
    del second, again
    gc.collect()
    pair.flush()
    assert list(pair.server.localObjects) == [b"root"]


class Oversize(pb.Root):
    def remote_tooBig(self) -> list[Any]:
        return [Item(), b"x" * (pb.banana.SIZE_LIMIT + 1)]

    def remote_echo(self, value: Any) -> Any:
        return value


def test_answerTooBigToSendLendsNothing() -> None:
    pair = PBPair(Oversize())
    failure = pair.callFailure(pair.root(), "tooBig")
    assert failure.check(pb.banana.BananaError)
    assert list(pair.server.localObjects) == [b"root"]


def test_callTooBigToSendLendsNothing() -> None:
    pair = PBPair(Oversize())
    d = pair.root().callRemote("echo", [Item(), b"x" * (pb.banana.SIZE_LIMIT + 1)])
    assert d.called
    d.addErrback(lambda f: f.trap(pb.banana.BananaError))
    assert pair.client.localObjects == {}


def test_answerNobodyWaitsForLendsNothing() -> None:
    pair = PBPair(Root())
    pair.root()
    pair.sendRaw(pair.client, [b"message", 9, b"root", b"items", 0, [b"tuple", 3], [b"dictionary"]])
    assert list(pair.server.localObjects) == [b"root"]


class LateOversize(pb.Root):
    """The oversized answers of Oversize, arriving through a Deferred or a coroutine."""

    def __init__(self) -> None:
        self.pending: list[defer.Deferred[Any]] = []

    def remote_tooBigLater(self) -> defer.Deferred[Any]:
        d: defer.Deferred[Any] = defer.Deferred()
        self.pending.append(d)
        return d

    async def remote_tooBigAsync(self) -> list[Any]:
        return [Item(), b"x" * (pb.banana.SIZE_LIMIT + 1)]

    def remote_itemsLater(self) -> defer.Deferred[Any]:
        return defer.succeed([Item(), Item()])


def test_lateAnswerTooBigToSendLendsNothing() -> None:
    root = LateOversize()
    pair = PBPair(root)
    d = pair.root().callRemote("tooBigLater")
    pair.flush()
    root.pending.pop().callback([Item(), b"x" * (pb.banana.SIZE_LIMIT + 1)])
    pair.flush()
    failure = failureOf(d)
    assert failure.check(pb.banana.BananaError)
    assert list(pair.server.localObjects) == [b"root"]


def test_coroutineAnswerTooBigToSendLendsNothing() -> None:
    pair = PBPair(LateOversize())
    failure = pair.callFailure(pair.root(), "tooBigAsync")
    assert failure.check(pb.banana.BananaError)
    assert list(pair.server.localObjects) == [b"root"]


def test_lateAnswerNobodyWaitsForLendsNothing() -> None:
    pair = PBPair(LateOversize())
    pair.root()
    pair.sendRaw(
        pair.client, [b"message", 9, b"root", b"itemsLater", 0, [b"tuple"], [b"dictionary"]]
    )
    assert list(pair.server.localObjects) == [b"root"]


def test_lateAnswerLendsWhatItCarries() -> None:
    pair = PBPair(LateOversize())
    items = pair.call(pair.root(), "itemsLater")
    assert len(items) == 2
    assert len(pair.server.localObjects) == 3
