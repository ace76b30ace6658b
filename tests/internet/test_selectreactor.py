"""Tests for torsion.internet.selectreactor: descriptor bookkeeping and interfaces."""

from __future__ import annotations

import socket
from typing import Any

from zope.interface import implementer
from zope.interface.verify import verifyObject

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil
from torsion.internet.interfaces import (
    IReactorCore,
    IReactorFDSet,
    IReactorTCP,
    IReactorThreads,
    IReactorTime,
    IReadDescriptor,
)

# The shared fixture, made visible to pytest in this module.
reactor = reactormixins.reactor


@implementer(IReadDescriptor)
class Reader:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reads = 0
        self.lost: list[object] = []

    def fileno(self) -> int:
        return self.sock.fileno()

    def logPrefix(self) -> str:
        return "Reader"

    def doRead(self) -> None:
        self.reads += 1
        self.sock.recv(100)

    def connectionLost(self, reason: object) -> None:
        self.lost.append(reason)


def test_reactorProvidesItsInterfaces(reactor: Any) -> None:
    for interface in (IReactorCore, IReactorTime, IReactorFDSet, IReactorTCP, IReactorThreads):
        assert verifyObject(interface, reactor)


def test_addReaderCallsDoReadWhenReadable(reactor: Any) -> None:
    a, b = socket.socketpair()
    with a, b:
        reader = Reader(a)
        reactor.addReader(reader)
        assert reader in reactor.getReaders()
        b.send(b"x")
        runUntil(reactor, lambda: reader.reads == 1)
        reactor.removeReader(reader)
        assert reader not in reactor.getReaders()
        b.send(b"y")
        reactor.iterate(0.01)
        assert reader.reads == 1


def test_removeAllKeepsWakerAndReturnsOthers(reactor: Any) -> None:
    a, b = socket.socketpair()
    with a, b:
        reader = Reader(a)
        reactor.addReader(reader)
        assert reactor.removeAll() == [reader]
        assert reactor.getReaders() == [reactor.waker]


def test_removingUnwatchedDescriptorIsHarmless(reactor: Any) -> None:
    a, b = socket.socketpair()
    with a, b:
        reactor.removeReader(Reader(a))
        reactor.removeWriter(Reader(a))
    assert reactor.getWriters() == []


def test_errorInDoReadDisconnectsThatDescriptor(
    reactor: Any,
) -> None:
    from torsion.python import log

    errors: list[dict[str, Any]] = []

    def observer(event: dict[str, Any]) -> None:
        if event.get("isError"):
            errors.append(event)

    class Broken(Reader):
        def doRead(self) -> None:
            raise ValueError("broken")

    a, b = socket.socketpair()
    log.addObserver(observer)
    try:
        with a, b:
            broken = Broken(a)
            reactor.addReader(broken)
            b.send(b"x")
            runUntil(reactor, lambda: broken.lost)
    finally:
        log.removeObserver(observer)
    assert broken not in reactor.getReaders()
    assert len(errors) == 1 and errors[0]["system"] == "Reader"
