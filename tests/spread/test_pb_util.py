"""Tests for torsion.spread.util: LocalAsRemote and paging data to a peer."""

from __future__ import annotations

import io
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntilFired
from tests.spread.pbtesting import PBPair, failureOf, resultOf
from torsion.internet.defer import maybeDeferred, succeed
from torsion.spread import pb, util

reactor = reactormixins.reactor


class Local(util.LocalAsRemote):
    reportAllTracebacks = False

    def sync_add(self, a: int, b: int) -> int:
        return a + b

    def async_double(self, x: int) -> Any:
        return succeed(x * 2)

    def async_broken(self) -> None:
        raise ValueError("broken")


def test_localAsRemoteSyncAndAsync() -> None:
    local = Local()
    assert local.callRemote("add", 1, 2) == 3
    assert resultOf(local.callRemote("double", 4)) == 8
    assert resultOf(local.remoteMethod("double")(5)) == 10
    failureOf(local.callRemote("broken")).trap(ValueError)
    failureOf(local.callRemote("missing")).trap(pb.NoSuchMethod)


DATA = bytes(range(256)) * 300


class Root(pb.Root):
    def __init__(self) -> None:
        self.done: list[str] = []

    def remote_getString(self, collector: Any, chunkSize: int) -> None:
        util.StringPager(collector, DATA, chunkSize, self.done.append, "string")

    def remote_getFile(self, collector: Any) -> None:
        util.FilePager(collector, io.BytesIO(DATA), self.done.append, "file")

    def remote_getEmptyFile(self, collector: Any) -> None:
        util.FilePager(collector, io.BytesIO(b""))


@pytest.mark.parametrize("chunkSize", [1000, 8192, len(DATA)])
def test_stringPagerSendsEveryPage(chunkSize: int) -> None:
    root = Root()
    pair = PBPair(root)
    d = util.getAllPages(pair.root(), "getString", chunkSize)
    pair.flush()
    pages = resultOf(d)
    assert b"".join(pages) == DATA
    assert len(pages) == -(-len(DATA) // chunkSize)
    assert root.done == ["string"]
    assert pair.server.pageProducers == []


def test_filePagerSendsTheFile() -> None:
    root = Root()
    pair = PBPair(root)
    d = util.getAllPages(pair.root(), "getFile")
    pair.flush()
    assert b"".join(resultOf(d)) == DATA
    assert root.done == ["file"]


def test_emptyFileIsOneEmptyPage() -> None:
    pair = PBPair(Root())
    d = util.getAllPages(pair.root(), "getEmptyFile")
    pair.flush()
    assert resultOf(d) == [b""]


def test_disconnectWhilePagingStops() -> None:
    root = Root()
    pair = PBPair(root)
    d = util.getAllPages(pair.root(), "getString", 10)
    pair.pump.pump()
    pair.pump.pump()
    pair.disconnect()
    assert pair.server.pageProducers == []
    assert not d.called or failureOf(d)


def test_pagingErrorReachesTheCaller() -> None:
    pair = PBPair(Root())
    d = util.getAllPages(pair.root(), "noSuchPager")
    pair.flush()
    failureOf(d).trap(pb.NoSuchMethod)


def test_stringPagerRejectsABadChunkSize() -> None:
    pair = PBPair(Root())
    failure = pair.callFailure(pair.root(), "getString", util.CallbackPageCollector(print), 0)
    assert failure.check(ValueError)


def test_pagingOverRealSockets(reactor: Any) -> None:
    root = Root()
    port = reactor.listenTCP(0, pb.PBServerFactory(root), interface="127.0.0.1")
    try:
        factory = pb.PBClientFactory()
        reactor.connectTCP("127.0.0.1", port.getHost().port, factory)
        rootRef = runUntilFired(reactor, factory.getRootObject())
        pages = runUntilFired(reactor, util.getAllPages(rootRef, "getString", 4096))
        assert b"".join(pages) == DATA
        factory.disconnect()
    finally:
        runUntilFired(reactor, maybeDeferred(port.stopListening))
