"""Tests for torsion.internet.protocol: protocols, factories, reconnection.

The back-off of ReconnectingClientFactory is tested on a task.Clock (with the random
draw of its jitter replaced or seeded); the tests that take the ``reactor`` fixture
connect over real sockets on 127.0.0.1.
"""

from __future__ import annotations

import pickle
import random
import socket
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from torsion.internet import error
from torsion.internet.address import IPv4Address
from torsion.internet.defer import CancelledError, Deferred
from torsion.internet.protocol import (
    BaseProtocol,
    ClientCreator,
    ClientFactory,
    Factory,
    Protocol,
    ReconnectingClientFactory,
    connectionDone,
)
from torsion.internet.task import Clock
from torsion.protocols.wire import Echo
from torsion.python import log
from torsion.python.failure import Failure

loggedMessages = reactormixins.loggedMessages
reactor = reactormixins.reactor

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


def test_clientCreatorFiresWithProtocolOnceConnected() -> None:
    from torsion.internet.task import Clock

    class FakeReactor(Clock):
        def connectTCP(self, host: str, port: int, factory: Any, *args: Any) -> Any:
            self.factory = factory
            return FakeConnector()

    reactor = FakeReactor()
    d: Deferred[Any] = ClientCreator(reactor, Protocol).connectTCP("127.0.0.1", 1)
    results: list[Any] = []
    d.addCallback(results.append)
    built = reactor.factory.buildProtocol(ADDRESS)
    # The transport connects the protocol after buildProtocol returns: not fired yet.
    assert results == []
    reactor.advance(0)
    assert results == [built]


def test_reconnectingFactoryJitterVariesDelayAroundBackoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drawn: list[tuple[float, float]] = []

    def normalvariate(mu: float, sigma: float) -> float:
        drawn.append((mu, sigma))
        return mu + sigma  # One standard deviation above the mean, every time.

    monkeypatch.setattr(random, "normalvariate", normalvariate)
    clock = Clock()
    factory = ReconnectingClientFactory()
    factory.clock, factory.noisy = clock, False
    connector = FakeConnector()
    factory.clientConnectionFailed(connector, reason())
    mean = factory.initialDelay * factory.factor
    assert drawn == [(mean, mean * factory.jitter)]
    assert factory.delay == pytest.approx(mean * (1 + factory.jitter))
    clock.advance(factory.delay - 0.001)
    assert connector.connects == 0
    clock.advance(0.001)
    assert connector.connects == 1


def test_reconnectingFactoryJitteredDelaysStayWithinBounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(random, "normalvariate", random.Random(1234).normalvariate)
    clock = Clock()
    factory = ReconnectingClientFactory()
    factory.clock, factory.noisy, factory.maxDelay = clock, False, 60
    connector = FakeConnector()
    delays = []
    for _ in range(30):
        factory.clientConnectionFailed(connector, reason())
        delays.append(factory.delay)
        clock.advance(factory.delay)
    assert connector.connects == 30
    assert all(0 <= d <= 60 for d in delays)
    assert delays[0] == pytest.approx(factory.factor, rel=0.5)
    assert delays[-1] > 30  # It has grown to near the cap.
    belowCap = [d for d in delays if d < 60]
    assert len(set(belowCap)) == len(belowCap) > 3  # Jitter makes each one different.


def test_reconnectingFactoryLosingAfterResetStartsFromInitialDelay() -> None:
    clock = Clock()
    factory = ReconnectingClientFactory()
    factory.clock, factory.noisy, factory.jitter = clock, False, 0
    connector = FakeConnector()
    for _ in range(4):
        factory.clientConnectionFailed(connector, reason())
        clock.advance(factory.delay)
    factory.resetDelay()
    factory.clientConnectionLost(connector, reason())
    assert factory.delay == pytest.approx(factory.initialDelay * factory.factor)


def test_reconnectingFactoryLogsAbandoning(loggedMessages: list[dict[str, Any]]) -> None:
    clock = Clock()
    factory = ReconnectingClientFactory()
    factory.clock, factory.maxRetries = clock, 0
    factory.clientConnectionFailed(FakeConnector(), reason())
    texts = [" ".join(map(str, e["message"])) for e in loggedMessages]
    assert any(t.startswith("Abandoning") for t in texts)


def test_retryWithoutConnectorRaises() -> None:
    factory = ReconnectingClientFactory()
    with pytest.raises(ValueError, match="connector"):
        factory.retry()


def test_reconnectingFactoryReconnectsOverRealTCP(reactor: Any) -> None:
    servers: list[Protocol] = []

    class Hanging(Protocol):
        def connectionMade(self) -> None:
            servers.append(self)
            if len(servers) == 1:
                self.transport.loseConnection()  # Drop the first connection.

    port = reactor.listenTCP(0, Factory.forProtocol(Hanging), interface="127.0.0.1")
    made: list[Protocol] = []

    class Client(Protocol):
        def connectionMade(self) -> None:
            made.append(self)
            self.factory.resetDelay()

    factory = ReconnectingClientFactory.forProtocol(Client)
    factory.clock, factory.noisy, factory.initialDelay, factory.jitter = reactor, False, 0.01, 0
    factory.delay = factory.initialDelay
    connector = reactor.connectTCP("127.0.0.1", port.getHost().port, factory)
    runUntil(reactor, lambda: len(made) == 2)
    assert factory.retries == 0
    factory.stopTrying()
    connector.disconnect()
    runUntil(reactor, lambda: connector.state == "disconnected")
    assert reactor.getDelayedCalls() == []


def test_reconnectingFactoryRetriesRefusedThenGivesUp(reactor: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        number = probe.getsockname()[1]
    failures: list[Failure] = []

    class Counting(ReconnectingClientFactory):
        def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
            failures.append(reason)
            super().clientConnectionFailed(connector, reason)

    factory = Counting()
    factory.clock, factory.noisy, factory.jitter, factory.maxRetries = reactor, False, 0, 2
    factory.initialDelay = factory.delay = 0.001
    reactor.connectTCP("127.0.0.1", number, factory)
    runUntil(reactor, lambda: len(failures) == 3)
    for _ in range(5):
        reactor.iterate(0.01)
    assert len(failures) == 3
    assert all(f.check(error.ConnectionRefusedError) for f in failures)
    assert reactor.getDelayedCalls() == []


def test_clientCreatorConnectsOverRealTCP(reactor: Any) -> None:
    class Greeter(Protocol):
        def __init__(self, greeting: bytes) -> None:
            self.greeting = greeting
            self.received = b""

        def dataReceived(self, data: bytes) -> None:
            self.received += data

    port = reactor.listenTCP(0, Factory.forProtocol(Echo), interface="127.0.0.1")
    creator = ClientCreator(reactor, Greeter, b"hello")
    protocol = runUntilFired(reactor, creator.connectTCP("127.0.0.1", port.getHost().port))
    assert isinstance(protocol, Greeter) and protocol.greeting == b"hello"
    protocol.transport.write(protocol.greeting)
    runUntil(reactor, lambda: protocol.received == b"hello")
    protocol.transport.loseConnection()


def test_clientCreatorFailsWithConnectError(reactor: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        number = probe.getsockname()[1]
    d = ClientCreator(reactor, Protocol).connectTCP("127.0.0.1", number)
    with pytest.raises(error.ConnectionRefusedError):
        runUntilFired(reactor, d)


def test_clientCreatorCancelStopsConnecting(reactor: Any) -> None:
    d = ClientCreator(reactor, Protocol).connectTCP("127.0.0.1", 9)
    d.cancel()
    with pytest.raises((error.UserError, CancelledError)):
        runUntilFired(reactor, d)


def test_oneFactoryOnTwoPortsStartsAndStopsOnce(reactor: Any) -> None:
    factory = Counting()
    factory.protocol = Echo
    first = reactor.listenTCP(0, factory, interface="127.0.0.1")
    second = reactor.listenTCP(0, factory, interface="127.0.0.1")
    assert (factory.started, factory.numPorts) == (1, 2)
    runUntilFired(reactor, first.stopListening())
    assert factory.stopped == 0
    runUntilFired(reactor, second.stopListening())
    assert (factory.started, factory.stopped, factory.numPorts) == (1, 1, 0)


def test_clientFactoryStartedAndStoppedAroundConnection(reactor: Any) -> None:
    port = reactor.listenTCP(0, Factory.forProtocol(Echo), interface="127.0.0.1")

    class Client(Counting, ClientFactory):
        protocol = Protocol

    factory = Client()
    connector = reactor.connectTCP("127.0.0.1", port.getHost().port, factory)
    assert factory.started == 1
    runUntil(reactor, lambda: connector.state == "connected")
    connector.disconnect()
    runUntil(reactor, lambda: factory.stopped == 1)


def test_protocolIsABaseProtocol() -> None:
    assert issubclass(Protocol, BaseProtocol)
    made: list[Any] = []

    class Minimal(BaseProtocol):
        def connectionMade(self) -> None:
            made.append(self.transport)

    transport = object()
    Minimal().makeConnection(transport)
    assert made == [transport]


def test_reconnectingFactoryPicklesWithoutLiveState() -> None:
    clock = Clock()
    factory = ReconnectingClientFactory()
    factory.clock, factory.noisy, factory.maxDelay = clock, False, 17
    factory.clientConnectionFailed(FakeConnector(), reason())
    restored = pickle.loads(pickle.dumps(factory))
    assert restored.maxDelay == 17 and restored.noisy is False
    assert restored.connector is None and restored.clock is None
    assert restored.delay == restored.initialDelay and restored.retries == 0
    assert restored.continueTrying
