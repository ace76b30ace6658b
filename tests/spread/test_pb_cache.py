"""Tests for Cacheable/RemoteCache over PB: copies kept in sync, observers, release.

A Cacheable is copied to each connection once; its observers update every copy
through ``observe_`` methods; when a peer drops its copy (``decache``) or disconnects,
``stoppedObserving`` is called and the tables are empty again.
"""

from __future__ import annotations

import gc
from typing import Any

import pytest

from tests.spread.pbtesting import PBPair, resultOf
from torsion.spread import pb


class Scoreboard(pb.Cacheable):
    def __init__(self) -> None:
        self.scores: dict[str, int] = {}
        self.observers: list[pb.RemoteCacheObserver] = []
        self.stopped: list[pb.RemoteCacheObserver] = []

    def getStateToCacheAndObserveFor(self, perspective: Any, observer: Any) -> Any:
        self.observers.append(observer)
        return {"scores": dict(self.scores)}

    def stoppedObserving(self, perspective: Any, observer: Any) -> None:
        self.stopped.append(observer)
        self.observers.remove(observer)

    def score(self, name: str, points: int) -> list[Any]:
        self.scores[name] = points
        return [observer.callRemote("score", name, points) for observer in self.observers]


class RemoteScoreboard(pb.RemoteCache):
    scores: dict[str, int]

    def observe_score(self, name: str, points: int) -> str:
        self.scores[name] = points
        return "noted"


pb.setUnjellyableForClass(Scoreboard, RemoteScoreboard)


class Root(pb.Root):
    def __init__(self) -> None:
        self.board = Scoreboard()
        self.received: list[Any] = []

    def remote_board(self) -> Scoreboard:
        return self.board

    def remote_twice(self) -> list[Any]:
        return [self.board, self.board]

    def remote_isBoard(self, obj: Any) -> bool:
        return obj is self.board


@pytest.fixture
def root() -> Root:
    return Root()


def test_cacheArrivesWithItsState(root: Root) -> None:
    root.board.scores["ann"] = 3
    pair = PBPair(root)
    copy = pair.call(pair.root(), "board")
    assert isinstance(copy, RemoteScoreboard)
    assert copy.scores == {"ann": 3}
    assert len(root.board.observers) == 1


def test_observersKeepEveryCopyInSync(root: Root) -> None:
    pairs = [PBPair(root) for _ in range(3)]
    copies = [pair.call(pair.root(), "board") for pair in pairs]
    answers = root.board.score("bob", 7)
    for pair in pairs:
        pair.flush()
    assert [resultOf(d) for d in answers] == ["noted"] * 3
    assert [copy.scores for copy in copies] == [{"bob": 7}] * 3


def test_sameCacheTwiceIsOneCopy(root: Root) -> None:
    pair = PBPair(root)
    first = pair.call(pair.root(), "board")
    second = pair.call(pair.root(), "board")
    both = pair.call(pair.root(), "twice")
    assert first is second
    assert both == [first, first]
    assert len(root.board.observers) == 1
    (entry,) = pair.server.remotelyCachedObjects.values()
    assert entry.refcount == 3


def test_cacheSentBackIsTheOriginal(root: Root) -> None:
    pair = PBPair(root)
    copy = pair.call(pair.root(), "board")
    assert pair.call(pair.root(), "isBoard", copy) is True


def test_droppingTheCopyStopsObservingAndEmptiesTables(root: Root) -> None:
    pair = PBPair(root)
    rootRef = pair.root()
    copy = pair.call(rootRef, "board")
    pair.call(rootRef, "board")
    del copy
    gc.collect()
    pair.flush()
    assert root.board.observers == []
    assert len(root.board.stopped) == 1
    assert pair.server.remotelyCachedObjects == {}
    assert pair.server.remotelyCachedLUIDs == {}
    assert pair.client.locallyCachedObjects == {}
    assert pair.client._dyingCaches == {}


def test_cacheSentAgainWhileTheDropIsInFlightComesBack(root: Root) -> None:
    root.board.scores["cy"] = 1
    pair = PBPair(root)
    rootRef = pair.root()
    copy = pair.call(rootRef, "board")
    again = rootRef.callRemote("board")
    # The server answers "cached" before it hears that the client dropped its copy.
    pair.pump.pump()
    del copy
    gc.collect()
    pair.flush()
    revived = resultOf(again)
    assert isinstance(revived, RemoteScoreboard)
    assert revived.scores == {"cy": 1}
    root.board.score("cy", 2)
    pair.flush()
    assert revived.scores == {"cy": 2}
    assert len(root.board.observers) == 1
    del revived, again
    gc.collect()
    pair.flush()
    assert root.board.observers == []
    assert pair.server.remotelyCachedObjects == {}
    assert pair.client._dyingCaches == {}


def test_disconnectStopsObservingAndDetachesCopies(root: Root) -> None:
    pair = PBPair(root)
    copy = pair.call(pair.root(), "board")
    pair.disconnect()
    assert root.board.observers == []
    assert copy.broker is None
    assert pair.server.remotelyCachedObjects == {}
    answers = root.board.score("late", 1)
    assert answers == []


def test_observerCallAfterDisconnectFailsWithDeadReference(root: Root) -> None:
    pair = PBPair(root)
    pair.call(pair.root(), "board")
    (observer,) = root.board.observers
    root.board.stoppedObserving = lambda perspective, observer: None  # type: ignore[method-assign]
    pair.disconnect()
    failures: list[Any] = []
    observer.callRemote("score", "x", 1).addErrback(failures.append)
    assert failures[0].check(pb.DeadReferenceError)


def test_observerRemoteMethod(root: Root) -> None:
    pair = PBPair(root)
    copy = pair.call(pair.root(), "board")
    (observer,) = root.board.observers
    d = observer.remoteMethod("score")("dee", 4)
    pair.flush()
    assert resultOf(d) == "noted"
    assert copy.scores == {"dee": 4}


def test_observersCompareByWhatTheyObserve(root: Root) -> None:
    pair = PBPair(root)
    pair.call(pair.root(), "board")
    (observer,) = root.board.observers
    twin = pb.RemoteCacheObserver(observer.broker, observer.cached, observer.perspective)
    assert twin == observer and hash(twin) == hash(observer)
    assert twin != pb.RemoteCacheObserver(observer.broker, object(), None)


def test_missingObserveMethodIsNoSuchMethod(root: Root) -> None:
    pair = PBPair(root)
    pair.call(pair.root(), "board")
    (observer,) = root.board.observers
    failures: list[Any] = []
    observer.callRemote("nonsense").addErrback(failures.append)
    pair.flush()
    assert failures[0].check(pb.NoSuchMethod)


def test_cachedReferenceToAnUnknownCacheDropsTheConnection(root: Root) -> None:
    pair = PBPair(root)
    rootRef = pair.root()
    d = rootRef.callRemote("board")
    requestID = max(pair.client.waitingForAnswers)
    pair.sendRaw(pair.server, [b"answer", requestID, [b"cached", 99]])
    failures: list[Any] = []
    d.addErrback(failures.append)
    assert failures[0].check(pb.ProtocolError)


def test_remoteCacheCannotBeSentElsewhere(root: Root) -> None:
    pair = PBPair(root)
    other = PBPair(Root())
    copy = pair.call(pair.root(), "board")
    failure = other.callFailure(other.root(), "isBoard", copy)
    assert failure.check(TypeError)
