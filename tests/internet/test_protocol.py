"""Tests for torsion.internet.protocol: protocols, factories, reconnection."""

from __future__ import annotations

from typing import Any

import pytest

from torsion.internet import error
from torsion.internet.address import IPv4Address
from torsion.internet.defer import Deferred
from torsion.internet.protocol import (
    ClientCreator,
    ClientFactory,
    Factory,
    Protocol,
    ReconnectingClientFactory,
    connectionDone,
)
from torsion.internet.task import Clock
from torsion.python import log
from torsion.python.failure import Failure

ADDRESS = IPv4Address("TCP", "127.0.0.1", 1234)


class Counting(Factory):
    noisy = False

    def __init__(self) -> None:
        self.started = 0
        self.stopped = 0

    def startFactory(self) -> None:
        self.started += 1

    def stopFactory(self) -> None:
        self.stopped += 1


def test_forProtocolBuildsProtocolWithFactorySet() -> None:
    factory = Factory.forProtocol(Protocol)
    built = factory.buildProtocol(ADDRESS)
    assert isinstance(built, Protocol)
    assert built.factory is factory


def test_forProtocolPassesConstructorArguments() -> None:
    class WithArgs(Factory):
        def __init__(self, value: int) -> None:
            self.value = value

    assert WithArgs.forProtocol(Protocol, 7).value == 7


def test_startFactoryRunsOnceForManyPorts() -> None:
    factory = Counting()
    factory.doStart()
    factory.doStart()
    assert (factory.started, factory.numPorts) == (1, 2)
    factory.doStop()
    assert factory.stopped == 0
    factory.doStop()
    assert (factory.stopped, factory.numPorts) == (1, 0)


def test_doStopWithoutStartDoesNothing() -> None:
    factory = Counting()
    factory.doStop()
    assert factory.stopped == 0 and factory.numPorts == 0


def test_noisyFactoryLogsStartAndStop() -> None:
    events: list[dict[str, Any]] = []
    log.addObserver(events.append)
    try:
        factory = Factory()
        factory.doStart()
        factory.doStop()
    finally:
        log.removeObserver(events.append)
    texts = [" ".join(map(str, e["message"])) for e in events]
    assert any(t.startswith("Starting factory <") for t in texts)
    assert any(t.startswith("Stopping factory <") for t in texts)


def test_makeConnectionSetsTransportAndCallsConnectionMade() -> None:
    made: list[bool] = []

    class P(Protocol):
        def connectionMade(self) -> None:
            made.append(self.connected)

    p = P()
    transport = object()
    p.makeConnection(transport)
    assert p.transport is transport and made == [True]
    p.connectionLost(connectionDone)
    assert not p.connected


def test_connectionDoneIsAConnectionDoneFailure() -> None:
    assert connectionDone.check(error.ConnectionDone)


def test_logPrefixIsClassName() -> None:
    class MyProtocol(Protocol):
        pass

    assert MyProtocol().logPrefix() == "MyProtocol"
    assert Counting().logPrefix() == "Counting"


class FakeConnector:
    def __init__(self) -> None:
        self.connects = 0
        self.stopped = 0

    def connect(self) -> None:
        self.connects += 1

    def stopConnecting(self) -> None:
        self.stopped += 1


def reason() -> Failure:
    return Failure(error.ConnectionRefusedError())


def test_reconnectingFactoryRetriesWithGrowingDelay() -> None:
    clock = Clock()
    factory = ReconnectingClientFactory()
    factory.clock, factory.noisy, factory.jitter = clock, False, 0
    connector = FakeConnector()
    factory.clientConnectionFailed(connector, reason())
    first = factory.delay
    clock.advance(first)
    assert connector.connects == 1
    factory.clientConnectionFailed(connector, reason())
    assert factory.delay == pytest.approx(first * factory.factor)


def test_reconnectingFactoryDelayCappedAtMaxDelay() -> None:
    clock = Clock()
    factory = ReconnectingClientFactory()
    factory.clock, factory.noisy, factory.maxDelay = clock, False, 5
    connector = FakeConnector()
    for _ in range(10):
        factory.clientConnectionLost(connector, reason())
        clock.advance(factory.delay)
    assert factory.delay <= 5
    assert connector.connects == 10


def test_reconnectingFactoryStopsAfterMaxRetries() -> None:
    clock = Clock()
    factory = ReconnectingClientFactory()
    factory.clock, factory.noisy, factory.maxRetries = clock, False, 2
    connector = FakeConnector()
    for _ in range(3):
        factory.clientConnectionFailed(connector, reason())
        clock.advance(10000)
    assert connector.connects == 2
    assert clock.getDelayedCalls() == []


def test_stopTryingCancelsPendingRetry() -> None:
    clock = Clock()
    factory = ReconnectingClientFactory()
    factory.clock, factory.noisy = clock, False
    connector = FakeConnector()
    factory.clientConnectionFailed(connector, reason())
    factory.stopTrying()
    clock.advance(10000)
    assert connector.connects == 0
    assert connector.stopped == 1


def test_resetDelayRestoresInitialDelay() -> None:
    clock = Clock()
    factory = ReconnectingClientFactory()
    factory.clock, factory.noisy = clock, False
    factory.clientConnectionFailed(FakeConnector(), reason())
    factory.resetDelay()
    assert factory.delay == factory.initialDelay and factory.retries == 0


def test_clientFactoryCallbacksDoNothingByDefault() -> None:
    factory = ClientFactory()
    factory.startedConnecting(None)
    factory.clientConnectionFailed(None, reason())
    factory.clientConnectionLost(None, reason())


def test_clientCreatorFiresWithProtocol() -> None:
    class FakeReactor:
        def connectTCP(self, host: str, port: int, factory: Any, *args: Any) -> Any:
            self.factory = factory
            return FakeConnector()

    reactor = FakeReactor()
    d: Deferred[Any] = ClientCreator(reactor, Protocol).connectTCP("127.0.0.1", 1)
    results: list[Any] = []
    d.addCallback(results.append)
    built = reactor.factory.buildProtocol(ADDRESS)
    assert results == [built]
