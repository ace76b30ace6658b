"""Tests for torsion.protocols.policies: wrappers, throttling, timeouts, limits, logging.

The logic runs on in-memory transports and a task.Clock; the tests that take ``reactor``
check the same policies over real TCP connections on 127.0.0.1, on every reactor.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from zope.interface import implementer

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil
from torsion.internet.address import IPv4Address, UNIXAddress
from torsion.internet.interfaces import (
    IConsumer,
    IHalfCloseableProtocol,
    IPullProducer,
    IPushProducer,
    ITCPTransport,
)
from torsion.internet.protocol import ClientFactory, Factory, Protocol, ServerFactory
from torsion.internet.task import Clock
from torsion.internet.testing import StringTransport, StringTransportWithDisconnection
from torsion.logger import globalLogPublisher
from torsion.protocols import policies
from torsion.protocols.wire import Echo

reactor = reactormixins.reactor
loggedErrors = reactormixins.loggedErrors

PEER = IPv4Address("TCP", "127.0.0.1", 54321)


class Recorder(Protocol):
    """Keeps what it receives and what happens to it."""

    def __init__(self) -> None:
        self.data = b""
        self.events: list[str] = []
        self.reason: Any = None

    def connectionMade(self) -> None:
        self.events.append("made")

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: object = None) -> None:
        self.events.append("lost")
        self.reason = reason


@implementer(IHalfCloseableProtocol)
class HalfCloseRecorder(Recorder):
    def readConnectionLost(self) -> None:
        self.events.append("readLost")

    def writeConnectionLost(self) -> None:
        self.events.append("writeLost")


def wrap(
    factory: policies.WrappingFactory, transport: StringTransport | None = None
) -> tuple[Any, Any, StringTransport]:
    """Build a protocol of ``factory`` and connect it to an in-memory transport."""
    wrapper = factory.buildProtocol(PEER)
    transport = StringTransportWithDisconnection() if transport is None else transport
    if isinstance(transport, StringTransportWithDisconnection):
        transport.protocol = wrapper
    wrapper.makeConnection(transport)
    return wrapper, wrapper.wrappedProtocol, transport


# -- ProtocolWrapper and WrappingFactory ----------------------------------------------------


def test_wrapperPassesDataBothWays() -> None:
    wrapper, inner, transport = wrap(policies.WrappingFactory(Factory.forProtocol(Recorder)))
    assert inner.transport is wrapper
    wrapper.dataReceived(b"in")
    inner.transport.write(b"out")
    inner.transport.writeSequence([b"1", b"2"])
    assert inner.data == b"in"
    assert transport.value() == b"out12"
    assert inner.transport.getPeer() == PEER
    assert inner.transport.getHost() == transport.getHost()


def test_wrapperBindsUnchangedCallsDirectly() -> None:
    wrapper, inner, transport = wrap(policies.WrappingFactory(Factory.forProtocol(Recorder)))
    # The per-chunk calls go straight to the other side: no wrapper frame per byte.
    assert wrapper.dataReceived == inner.dataReceived
    assert wrapper.write == transport.write


def test_wrapperProvidesTheTransportsInterfaces() -> None:
    wrapper, inner, _ = wrap(policies.WrappingFactory(Factory.forProtocol(Recorder)))
    for interface in (ITCPTransport, IConsumer, IPushProducer):
        assert interface.providedBy(inner.transport)
    wrapper.pauseProducing()
    assert wrapper.transport.producerState == "paused"
    assert wrapper.getTcpNoDelay() is False  # Anything else is the transport's.


def test_wrapperIsHalfCloseableExactlyWhenTheWrappedProtocolIs() -> None:
    plain = policies.WrappingFactory(Factory.forProtocol(Recorder)).buildProtocol(PEER)
    assert not IHalfCloseableProtocol.providedBy(plain)
    factory = policies.WrappingFactory(Factory.forProtocol(HalfCloseRecorder))
    wrapper, inner, _transport = wrap(factory)
    assert IHalfCloseableProtocol.providedBy(wrapper)
    wrapper.readConnectionLost()
    wrapper.writeConnectionLost()
    assert inner.events == ["made", "readLost", "writeLost"]


def test_wrapperLogPrefixNamesBoth() -> None:
    wrapper = policies.WrappingFactory(Factory.forProtocol(Echo)).buildProtocol(PEER)
    assert wrapper.logPrefix() == "Echo (ProtocolWrapper)"


def test_factoryTracksItsProtocols() -> None:
    factory = policies.WrappingFactory(Factory.forProtocol(Recorder))
    wrapper, inner, transport = wrap(factory)
    assert factory.protocols == {wrapper: 1}
    transport.loseConnection()
    assert factory.protocols == {}
    assert inner.events == ["made", "lost"]


def test_factoryRefusesWhenTheWrappedFactoryDoes() -> None:
    class Refusing(ServerFactory):
        def buildProtocol(self, addr: Any) -> Any:
            return None

    assert policies.WrappingFactory(Refusing()).buildProtocol(PEER) is None


def test_factoryStartsAndStopsTheWrappedOne() -> None:
    inner = Factory.forProtocol(Recorder)
    inner.noisy = False
    factory = policies.WrappingFactory(inner)
    factory.doStart()
    assert inner.numPorts == 1
    factory.doStop()
    assert inner.numPorts == 0


def test_factoryPassesClientNewsOn() -> None:
    news: list[str] = []

    class Client(ClientFactory):
        def startedConnecting(self, connector: Any) -> None:
            news.append("started")

        def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
            news.append("failed")

        def clientConnectionLost(self, connector: Any, reason: Any) -> None:
            news.append("lost")

    factory = policies.WrappingFactory(Client())
    factory.startedConnecting(None)
    factory.clientConnectionFailed(None, None)
    factory.clientConnectionLost(None, None)
    assert news == ["started", "failed", "lost"]
    # A server factory has no such methods: the news is dropped, not an error.
    policies.WrappingFactory(ServerFactory()).clientConnectionFailed(None, None)


def listen(reactor: Any, factory: Any) -> int:
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    return int(port.getHost().port)


def connect(port: int) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    client.setblocking(False)
    return client


def receiveUntil(reactor: Any, client: socket.socket, wanted: bytes) -> bytes:
    """Read from ``client`` (iterating ``reactor``) until ``wanted`` or the end arrive."""
    got = bytearray()
    ended = []

    def done() -> bool:
        try:
            chunk = client.recv(65536)
        except BlockingIOError:
            return False
        if not chunk:
            ended.append(True)
            return True
        got.extend(chunk)
        return wanted in got

    runUntil(reactor, done)
    return bytes(got)


def test_halfCloseGoesThroughTheWrapperOverTCP(reactor: Any) -> None:
    @implementer(IHalfCloseableProtocol)
    class ReplyOnEnd(Protocol):
        def dataReceived(self, data: bytes) -> None:
            self.received = getattr(self, "received", b"") + data

        def readConnectionLost(self) -> None:
            self.transport.write(b"got " + self.received)
            self.transport.loseConnection()

        def writeConnectionLost(self) -> None:
            pass

    port = listen(reactor, policies.WrappingFactory(Factory.forProtocol(ReplyOnEnd)))
    client = connect(port)
    client.sendall(b"question")
    client.shutdown(socket.SHUT_WR)
    assert receiveUntil(reactor, client, b"got question") == b"got question"
    client.close()


def test_protocolErrorDropsOnlyItsConnection(reactor: Any, loggedErrors: Any) -> None:
    class Fussy(Echo):
        def dataReceived(self, data: bytes) -> None:
            if b"boom" in data:
                raise ValueError("boom")
            super().dataReceived(data)

    port = listen(reactor, policies.ThrottlingFactory(Factory.forProtocol(Fussy)))
    good, bad = connect(port), connect(port)
    bad.sendall(b"boom")
    assert receiveUntil(reactor, bad, b"never") == b""
    good.sendall(b"still here")
    assert receiveUntil(reactor, good, b"still here") == b"still here"
    assert any("boom" in str(event.get("failure")) for event in loggedErrors)
    good.close()
    bad.close()


# -- ThrottlingFactory ------------------------------------------------------------------------


def throttled(**kw: Any) -> tuple[policies.ThrottlingFactory, Clock]:
    clock = Clock()
    return policies.ThrottlingFactory(Factory.forProtocol(Recorder), clock=clock, **kw), clock


def test_throttlingRefusesConnectionsOverTheMaximum() -> None:
    factory, _ = throttled(maxConnectionCount=2)
    _first, _, firstTransport = wrap(factory)
    wrap(factory)
    assert factory.buildProtocol(PEER) is None
    firstTransport.loseConnection()
    assert factory.connectionCount == 1
    assert factory.buildProtocol(PEER) is not None


def test_throttlingCountsNoConnectionTheWrappedFactoryRefused() -> None:
    class Refusing(ServerFactory):
        def buildProtocol(self, addr: Any) -> Any:
            return None

    factory = policies.ThrottlingFactory(Refusing(), maxConnectionCount=1)
    assert factory.buildProtocol(PEER) is None
    assert factory.connectionCount == 0


def test_readLimitPausesEveryConnectionForTheExcess() -> None:
    factory, clock = throttled(readLimit=100)
    one, _, oneTransport = wrap(factory)
    _two, _, twoTransport = wrap(factory)
    one.dataReceived(b"x" * 250)
    clock.advance(1)
    # 250 bytes in a second at 100 a second: 1.5 seconds too many.
    assert oneTransport.producerState == twoTransport.producerState == "paused"
    clock.advance(1.4)
    assert oneTransport.producerState == "paused"
    clock.advance(0.1)
    assert oneTransport.producerState == twoTransport.producerState == "producing"


def test_readUnderTheLimitIsNotThrottled() -> None:
    factory, clock = throttled(readLimit=100)
    one, _, transport = wrap(factory)
    one.dataReceived(b"x" * 100)
    clock.advance(1)
    assert transport.producerState == "producing"
    assert factory.readThisSecond == 0


def test_readThrottleKeepsAPauseAskedForByTheConsumer() -> None:
    factory, clock = throttled(readLimit=10)
    wrapper, inner, transport = wrap(factory)
    inner.transport.pauseProducing()  # Whoever it feeds is full.
    wrapper.dataReceived(b"x" * 20)
    clock.advance(1)
    clock.advance(1)  # The throttle lifts...
    assert transport.producerState == "paused"  # ...but the consumer's pause holds.
    inner.transport.resumeProducing()
    assert transport.producerState == "producing"


def test_consumerResumeDoesNotLiftTheThrottle() -> None:
    factory, clock = throttled(readLimit=10)
    wrapper, inner, transport = wrap(factory)
    wrapper.dataReceived(b"x" * 30)
    clock.advance(1)
    inner.transport.pauseProducing()
    inner.transport.resumeProducing()
    assert transport.producerState == "paused"
    clock.advance(2)
    assert transport.producerState == "producing"


def test_dataInFlightDuringAThrottleExtendsIt() -> None:
    factory, clock = throttled(readLimit=100)
    wrapper, _, transport = wrap(factory)
    wrapper.dataReceived(b"x" * 500)
    clock.advance(1)  # Throttled until t=5.
    wrapper.dataReceived(b"x" * 200)  # A read already under way.
    clock.advance(1)  # 1 more second at t=2: the earlier end (t=5) stands.
    clock.advance(2.9)
    assert transport.producerState == "paused"
    clock.advance(0.1)
    assert transport.producerState == "producing"


@implementer(IPushProducer)
class PushProducer:
    def __init__(self) -> None:
        self.state = "producing"

    def pauseProducing(self) -> None:
        self.state = "paused"

    def resumeProducing(self) -> None:
        self.state = "producing"

    def stopProducing(self) -> None:
        self.state = "stopped"


@implementer(IPullProducer)
class PullProducer:
    def __init__(self) -> None:
        self.asked = 0

    def resumeProducing(self) -> None:
        self.asked += 1

    def stopProducing(self) -> None:
        pass


def test_writeLimitPausesTheProducer() -> None:
    factory, clock = throttled(writeLimit=100)
    _, inner, transport = wrap(factory)
    producer = PushProducer()
    inner.transport.registerProducer(producer, True)
    inner.transport.write(b"x" * 300)
    clock.advance(1)
    assert producer.state == "paused"
    clock.advance(2)
    assert producer.state == "producing"
    assert transport.value() == b"x" * 300  # Counted, and sent all the same.


def test_writeThrottleAndAFullBufferEachHoldTheProducer() -> None:
    factory, clock = throttled(writeLimit=100)
    _, inner, transport = wrap(factory)
    producer = PushProducer()
    inner.transport.registerProducer(producer, True)
    gate = transport.producer
    assert gate is not producer  # The transport sees the throttle's stand-in.
    gate.pauseProducing()  # The transport's buffer is full.
    inner.transport.write(b"x" * 300)
    clock.advance(1)
    gate.resumeProducing()  # The buffer drained, but writes are throttled.
    assert producer.state == "paused"
    gate.pauseProducing()
    clock.advance(2)  # The throttle lifts, but the buffer is full again.
    assert producer.state == "paused"
    gate.resumeProducing()
    assert producer.state == "producing"
    gate.stopProducing()
    assert producer.state == "stopped"


def test_pullProducerAskedWhileThrottledIsAskedAfterwards() -> None:
    factory, clock = throttled(writeLimit=100)
    _, inner, transport = wrap(factory)
    producer = PullProducer()
    inner.transport.registerProducer(producer, False)
    inner.transport.write(b"x" * 200)
    clock.advance(1)
    transport.producer.resumeProducing()
    assert producer.asked == 0
    clock.advance(1)
    assert producer.asked == 1
    inner.transport.unregisterProducer()
    assert transport.producer is None


def test_checksStopWithTheLastConnection() -> None:
    factory, clock = throttled(readLimit=10, writeLimit=10)
    wrapper, _, transport = wrap(factory)
    wrapper.dataReceived(b"x" * 100)
    clock.advance(1)
    assert clock.getDelayedCalls()
    transport.loseConnection()
    assert clock.getDelayedCalls() == []


def test_throttlingRejectsBadLimits() -> None:
    with pytest.raises(ValueError, match="readLimit is bytes per second"):
        policies.ThrottlingFactory(Factory(), readLimit=0)
    with pytest.raises(ValueError, match="writeLimit"):
        policies.ThrottlingFactory(Factory(), writeLimit=-5)
    with pytest.raises(ValueError, match="maxConnectionCount"):
        policies.ThrottlingFactory(Factory(), maxConnectionCount=-1)


def test_readThrottleStopsARealSocket(reactor: Any) -> None:
    clock = Clock()
    inner = Factory.forProtocol(Recorder)
    built: list[Recorder] = []

    class Recording(Factory):
        def buildProtocol(self, addr: Any) -> Any:
            protocol = inner.buildProtocol(addr)
            built.append(protocol)
            return protocol

    factory = policies.ThrottlingFactory(Recording(), readLimit=1000, clock=clock)
    client = connect(listen(reactor, factory))
    client.sendall(b"a" * 3000)
    runUntil(reactor, lambda: built and len(built[0].data) == 3000)
    clock.advance(1)  # 3000 bytes at 1000 a second: paused for 2 seconds.
    client.sendall(b"b" * 10)
    for _ in range(10):
        reactor.iterate(0.01)
    assert len(built[0].data) == 3000
    clock.advance(2)
    runUntil(reactor, lambda: len(built[0].data) == 3010)
    client.close()


def test_maxConnectionCountOverTCP(reactor: Any) -> None:
    factory = policies.ThrottlingFactory(Factory.forProtocol(Echo), maxConnectionCount=1)
    port = listen(reactor, factory)
    first = connect(port)
    first.sendall(b"one")
    assert receiveUntil(reactor, first, b"one") == b"one"
    second = connect(port)
    assert receiveUntil(reactor, second, b"never") == b""  # Refused: closed at once.
    first.sendall(b"still")
    assert receiveUntil(reactor, first, b"still") == b"still"
    first.close()
    second.close()


# -- limits -----------------------------------------------------------------------------------


def test_limitByPeerCountsEachHost() -> None:
    factory = policies.LimitConnectionsByPeer(Factory.forProtocol(Recorder), 2)
    factory.startFactory()
    other = IPv4Address("TCP", "127.0.0.2", 1)
    a = factory.buildProtocol(PEER)
    b = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 2))
    assert factory.buildProtocol(PEER) is None
    assert factory.buildProtocol(other) is not None
    a.makeConnection(StringTransport())
    a.connectionLost(None)
    assert factory.peerConnections == {"127.0.0.1": 1, "127.0.0.2": 1}
    assert factory.buildProtocol(PEER) is not None
    b.makeConnection(StringTransport())
    b.connectionLost(None)
    assert factory.peerConnections["127.0.0.1"] == 1


def test_limitByPeerDefaultsToFive() -> None:
    factory = policies.LimitConnectionsByPeer(Factory.forProtocol(Recorder))
    made = [factory.buildProtocol(PEER) for _ in range(6)]
    assert made[4] is not None and made[5] is None


def test_limitByPeerTakesUNIXAddresses() -> None:
    factory = policies.LimitConnectionsByPeer(Factory.forProtocol(Recorder), 1)
    assert factory.buildProtocol(UNIXAddress(None)) is not None
    assert factory.buildProtocol(UNIXAddress(None)) is None


def test_limitByPeerRejectsABadMaximum() -> None:
    with pytest.raises(ValueError, match="maxConnectionsPerPeer"):
        policies.LimitConnectionsByPeer(Factory(), 0)


class Busy(Protocol):
    def connectionMade(self) -> None:
        self.transport.write(b"too busy\r\n")
        self.transport.loseConnection()


class LimitedEcho(policies.LimitTotalConnectionsFactory):
    protocol = Echo
    connectionLimit = 2


def test_totalLimitOverTCP(reactor: Any) -> None:
    factory = LimitedEcho()
    factory.overflowProtocol = Busy
    port = listen(reactor, factory)
    clients = [connect(port), connect(port)]
    for i, client in enumerate(clients):
        client.sendall(b"hi %d" % i)
        assert receiveUntil(reactor, client, b"hi %d" % i) == b"hi %d" % i
    third = connect(port)
    assert receiveUntil(reactor, third, b"never") == b"too busy\r\n"
    clients[0].close()
    runUntil(reactor, lambda: factory.connectionCount == 1)
    fourth = connect(port)
    fourth.sendall(b"room now")
    assert receiveUntil(reactor, fourth, b"room now") == b"room now"
    for client in (clients[1], third, fourth):
        client.close()


def test_totalLimitWithoutOverflowRefuses() -> None:
    factory = LimitedEcho()
    assert factory.buildProtocol(PEER) is not None
    assert factory.buildProtocol(PEER) is not None
    assert factory.buildProtocol(PEER) is None
    assert factory.connectionCount == 2


# -- timeouts ---------------------------------------------------------------------------------


def timeoutWrapped(period: float = 10) -> tuple[Any, Any, StringTransport, Clock]:
    clock = Clock()
    factory = policies.TimeoutFactory(Factory.forProtocol(Recorder), period, clock=clock)
    wrapper, inner, transport = wrap(factory)
    return wrapper, inner, transport, clock


def test_idleConnectionTimesOut() -> None:
    _wrapper, inner, transport, clock = timeoutWrapped()
    clock.advance(9.9)
    assert not transport.disconnecting
    clock.advance(0.1)
    assert transport.disconnecting
    assert inner.events == ["made", "lost"]


def test_dataEitherWayPostponesTheTimeout() -> None:
    wrapper, inner, transport, clock = timeoutWrapped()
    clock.advance(6)
    wrapper.dataReceived(b"x")
    clock.advance(6)
    inner.transport.write(b"y")
    clock.advance(6)
    inner.transport.writeSequence([b"z"])
    clock.advance(9.9)
    assert not transport.disconnecting
    clock.advance(0.1)
    assert transport.disconnecting


def test_timeoutCanBeChangedAndCancelled() -> None:
    wrapper, _inner, transport, clock = timeoutWrapped()
    wrapper.setTimeout(2)
    clock.advance(2)
    assert transport.disconnecting
    wrapper, _inner, transport, clock = timeoutWrapped()
    wrapper.cancelTimeout()
    clock.advance(100)
    assert not transport.disconnecting
    assert clock.getDelayedCalls() == []


def test_lostConnectionStopsTheTimer() -> None:
    _wrapper, _inner, transport, clock = timeoutWrapped()
    transport.loseConnection()
    assert clock.getDelayedCalls() == []


def test_timeoutFactoryRejectsABadPeriod() -> None:
    with pytest.raises(ValueError, match="timeoutPeriod"):
        policies.TimeoutFactory(Factory(), 0)


def test_idleTimeoutOverTCP(reactor: Any) -> None:
    factory = policies.TimeoutFactory(Factory.forProtocol(Echo), 0.3, clock=reactor)
    port = listen(reactor, factory)
    client = connect(port)
    client.sendall(b"ping")
    assert receiveUntil(reactor, client, b"ping") == b"ping"
    started = reactor.seconds()
    assert receiveUntil(reactor, client, b"never") == b""
    assert reactor.seconds() - started >= 0.25
    client.close()


class Timing(policies.TimeoutMixin, Protocol):
    def __init__(self, clock: Clock) -> None:
        self.callLater = clock.callLater  # type: ignore[method-assign]
        self.timedOut = 0

    def dataReceived(self, data: bytes) -> None:
        self.resetTimeout()

    def timeoutConnection(self) -> None:
        self.timedOut += 1


def test_mixinTimesOutAfterIdleSeconds() -> None:
    clock = Clock()
    protocol = Timing(clock)
    assert protocol.setTimeout(5) is None
    clock.advance(3)
    protocol.dataReceived(b"x")
    clock.advance(4.9)
    assert protocol.timedOut == 0
    clock.advance(0.1)
    assert protocol.timedOut == 1
    clock.advance(100)
    assert protocol.timedOut == 1


def test_mixinSetTimeoutReturnsThePreviousAndNoneTurnsItOff() -> None:
    clock = Clock()
    protocol = Timing(clock)
    protocol.setTimeout(5)
    assert protocol.setTimeout(None) == 5
    clock.advance(10)
    assert protocol.timedOut == 0
    assert clock.getDelayedCalls() == []
    protocol.resetTimeout()  # Without a timeout, nothing to reset.
    assert clock.getDelayedCalls() == []


def test_mixinDefaultClosesTheTransport() -> None:
    class Plain(policies.TimeoutMixin, Protocol):
        pass

    clock = Clock()
    protocol = Plain()
    protocol.callLater = clock.callLater  # type: ignore[method-assign]
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.setTimeout(1)
    clock.advance(1)
    assert transport.disconnecting


# -- logging ----------------------------------------------------------------------------------


def test_spewingLogsEachChunk() -> None:
    events: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(events.append)
    try:
        wrapper, _inner, transport = wrap(policies.SpewingFactory(Factory.forProtocol(Echo)))
        wrapper.dataReceived(b"hello")
    finally:
        globalLogPublisher.removeObserver(events.append)
    formats = [(e.get("log_format"), e.get("data")) for e in events]
    assert ("Received: {data!r}", b"hello") in formats
    assert ("Sending: {data!r}", b"hello") in formats
    assert transport.value() == b"hello"


def test_trafficLoggingWritesAFilePerConnection(tmp_path: Any) -> None:
    prefix = str(tmp_path / "traffic")
    factory = policies.TrafficLoggingFactory(Factory.forProtocol(Echo), prefix, lengthLimit=20)
    wrapper, inner, _transport = wrap(factory)
    wrapper.dataReceived(b"hello")
    inner.transport.writeSequence([b"a", b"b"])
    wrapper.dataReceived(b"z" * 50)
    inner.transport.loseConnection()
    lines = (tmp_path / "traffic-1").read_text().splitlines()
    assert lines[:4] == [
        "*",
        "C 1: b'hello'",
        "S 1: b'hello'",
        "SV 1: [b'a', b'b']",
    ]
    assert lines[4] == "C 1: b'zzzzzzzz<... elided>'"
    assert lines[-2] == "S 1: *"
    assert lines[-1].startswith("C 1: ") and "ConnectionDone" in lines[-1]
    wrap(factory)
    assert (tmp_path / "traffic-2").exists()
    factory.resetCounter()
    wrap(factory)
    assert (tmp_path / "traffic-1").read_text() == "*\n"
