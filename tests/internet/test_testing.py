"""Tests for torsion.internet.testing: StringTransport, the protocol and reactor fakes."""

from __future__ import annotations

from typing import Any

import pytest
from zope.interface.verify import verifyObject

from torsion.internet.address import IPv4Address
from torsion.internet.defer import Deferred
from torsion.internet.error import ConnectionDone, NotConnectingError
from torsion.internet.interfaces import (
    IConnector,
    IConsumer,
    IListeningPort,
    IProtocol,
    IPullProducer,
    IPushProducer,
    IReactorCore,
    IReactorTCP,
    IReactorTime,
    ITCPTransport,
    ITransport,
)
from torsion.internet.testing import (
    AccumulatingProtocol,
    EventLoggingObserver,
    MemoryReactor,
    MemoryReactorClock,
    NonStreamingProducer,
    RaisingMemoryReactor,
    StringTransport,
    StringTransportWithDisconnection,
)
from torsion.logger import ILogObserver, Logger, LogPublisher
from torsion.python.failure import Failure

# StringTransport


@pytest.mark.parametrize("iface", [ITransport, ITCPTransport, IConsumer, IPushProducer])
def test_stringTransportProvidesInterface(iface: Any) -> None:
    assert verifyObject(iface, StringTransport())


def test_writeAppendsToValue() -> None:
    t = StringTransport()
    t.write(b"abc")
    t.write(bytearray(b"def"))
    assert t.value() == b"abcdef"
    assert t.io.getvalue() == b"abcdef"


def test_writeSequenceWritesEachChunk() -> None:
    t = StringTransport()
    t.writeSequence([b"a", b"b", b"c"])
    assert t.value() == b"abc"


def test_writeRefusesStrAndSaysToEncode() -> None:
    t = StringTransport()
    with pytest.raises(TypeError, match="encode"):
        t.write("text")  # type: ignore[arg-type]
    assert t.value() == b""


def test_writeRefusesNonBytes() -> None:
    with pytest.raises(TypeError, match="int"):
        StringTransport().write(3)  # type: ignore[arg-type]


def test_clearForgetsWrittenData() -> None:
    t = StringTransport()
    t.write(b"old")
    t.clear()
    t.write(b"new")
    assert t.value() == b"new"


def test_loseConnectionSetsDisconnecting() -> None:
    t = StringTransport()
    t.loseConnection()
    assert t.disconnecting
    assert not t.disconnected


def test_abortConnectionSetsAbortedAndDisconnecting() -> None:
    t = StringTransport()
    t.abortConnection()
    assert t.aborted and t.disconnecting


def test_loseWriteConnectionRecorded() -> None:
    t = StringTransport()
    t.loseWriteConnection()
    assert t.writeDisconnected
    assert not t.disconnecting


def test_defaultAddressesAreLoopback() -> None:
    t = StringTransport()
    assert t.getHost() == IPv4Address("TCP", "127.0.0.1", 8080)
    assert t.getPeer() == IPv4Address("TCP", "127.0.0.1", 54321)


def test_givenAddressesReturned() -> None:
    host = IPv4Address("TCP", "127.0.0.1", 1)
    peer = IPv4Address("TCP", "127.0.0.1", 2)
    t = StringTransport(hostAddress=host, peerAddress=peer)
    assert t.getHost() is host and t.getPeer() is peer


def test_tcpOptionsRecorded() -> None:
    t = StringTransport()
    t.setTcpNoDelay(True)
    t.setTcpKeepAlive(True)
    assert t.getTcpNoDelay() and t.getTcpKeepAlive()


def test_registerProducerRecordsIt() -> None:
    t = StringTransport()
    producer = object()
    t.registerProducer(producer, True)
    assert t.producer is producer
    assert t.streaming is True


def test_registerSecondProducerRaises() -> None:
    t = StringTransport()
    first = object()
    t.registerProducer(first, True)
    with pytest.raises(RuntimeError, match="registered already"):
        t.registerProducer(object(), False)
    assert t.producer is first


def test_unregisterProducerForgetsIt() -> None:
    t = StringTransport()
    t.registerProducer(object(), False)
    t.unregisterProducer()
    assert t.producer is None and t.streaming is None


def test_unregisterWithoutProducerRaises() -> None:
    with pytest.raises(RuntimeError, match="no producer"):
        StringTransport().unregisterProducer()


def test_producerStateStartsProducing() -> None:
    assert StringTransport().producerState == "producing"


def test_pauseAndResumeRecorded() -> None:
    t = StringTransport()
    t.pauseProducing()
    assert t.producerState == "paused"
    t.resumeProducing()
    assert t.producerState == "producing"


def test_stopProducingRecorded() -> None:
    t = StringTransport()
    t.stopProducing()
    assert t.producerState == "stopped"


def test_resumeAfterStopRaises() -> None:
    t = StringTransport()
    t.stopProducing()
    with pytest.raises(RuntimeError, match="stopped"):
        t.resumeProducing()


def test_pauseAfterStopRaises() -> None:
    t = StringTransport()
    t.stopProducing()
    with pytest.raises(RuntimeError, match="stopped"):
        t.pauseProducing()


# StringTransportWithDisconnection and AccumulatingProtocol


def test_accumulatingProtocolProvidesIProtocol() -> None:
    assert verifyObject(IProtocol, AccumulatingProtocol())


def test_accumulatingProtocolKeepsData() -> None:
    p = AccumulatingProtocol()
    t = StringTransport()
    p.makeConnection(t)
    p.dataReceived(b"ab")
    p.dataReceived(b"cd")
    assert p.transport is t and p.made == 1
    assert p.data == b"abcd"


def test_accumulatingProtocolFiresFactoryDeferredOnConnect() -> None:
    class Factory:
        protocolConnectionMade: Deferred[AccumulatingProtocol] | None = Deferred()

    factory = Factory()
    d = factory.protocolConnectionMade
    assert d is not None
    seen: list[AccumulatingProtocol] = []
    d.addCallback(seen.append)
    p = AccumulatingProtocol()
    p.factory = factory
    p.makeConnection(StringTransport())
    assert seen == [p]
    assert factory.protocolConnectionMade is None


def test_withDisconnectionLoseConnectionTellsProtocol() -> None:
    p = AccumulatingProtocol()
    t = StringTransportWithDisconnection()
    t.protocol = p
    p.makeConnection(t)
    t.loseConnection()
    assert t.disconnecting and t.disconnected
    assert p.closed == 1
    assert isinstance(p.closedReason, Failure)
    assert p.closedReason.check(ConnectionDone)


def test_withDisconnectionSecondLoseConnectionDoesNothing() -> None:
    reasons: list[object] = []
    p = AccumulatingProtocol()
    p.connectionLost = reasons.append  # type: ignore[method-assign]
    t = StringTransportWithDisconnection()
    t.protocol = p
    t.loseConnection()
    t.loseConnection()
    assert len(reasons) == 1


def test_accumulatingProtocolFiresClosedDeferred() -> None:
    p = AccumulatingProtocol()
    d: Deferred[None] = Deferred()
    p.closedDeferred = d
    fired: list[object] = []
    d.addCallback(fired.append)
    p.connectionLost(Failure(ConnectionDone()))
    assert fired == [None]


# NonStreamingProducer


def test_nonStreamingProducerProvidesIPullProducer() -> None:
    assert verifyObject(IPullProducer, NonStreamingProducer(StringTransport()))


def test_nonStreamingProducerWritesTenChunksThenUnregisters() -> None:
    t = StringTransport()
    producer = NonStreamingProducer(t)
    done: Deferred[None] = Deferred()
    producer.result = done
    fired: list[object] = []
    done.addCallback(fired.append)
    t.registerProducer(producer, False)
    for _ in range(10):
        producer.resumeProducing()
    assert t.value() == b"0123456789"
    assert t.producer is None
    assert fired == [None]


def test_nonStreamingProducerResumeAfterFinishRaises() -> None:
    producer = NonStreamingProducer(StringTransport())
    producer.stopProducing()
    with pytest.raises(RuntimeError):
        producer.resumeProducing()


# MemoryReactor


@pytest.mark.parametrize("iface", [IReactorCore, IReactorTCP])
def test_memoryReactorProvidesInterface(iface: Any) -> None:
    assert verifyObject(iface, MemoryReactor())


@pytest.mark.parametrize("iface", [IReactorCore, IReactorTCP, IReactorTime])
def test_memoryReactorClockProvidesInterface(iface: Any) -> None:
    assert verifyObject(iface, MemoryReactorClock())


def test_listenTCPRecordsCallAndReturnsPort() -> None:
    r = MemoryReactor()
    factory = object()
    port = r.listenTCP(1234, factory, backlog=7, interface="127.0.0.1")
    assert r.tcpServers == [(1234, factory, 7, "127.0.0.1")]
    assert verifyObject(IListeningPort, port)
    assert port.getHost() == IPv4Address("TCP", "127.0.0.1", 1234)


def test_listenTCPDefaultInterfaceIsAllAddresses() -> None:
    port = MemoryReactor().listenTCP(80, object())
    assert port.getHost() == IPv4Address("TCP", "0.0.0.0", 80)


def test_fakePortStopListeningRecorded() -> None:
    port = MemoryReactor().listenTCP(80, object())
    port.startListening()
    assert port.listening
    port.stopListening()
    assert port.stopped and not port.listening


def test_connectTCPRecordsCallAndTellsFactory() -> None:
    started: list[Any] = []

    class Factory:
        def startedConnecting(self, connector: Any) -> None:
            started.append(connector)

    r = MemoryReactor()
    factory = Factory()
    connector = r.connectTCP("127.0.0.1", 9, factory, timeout=5, bindAddress=None)
    assert r.tcpClients == [("127.0.0.1", 9, factory, 5, None)]
    assert started == [connector]
    assert r.connectors == [connector]
    assert connector.getDestination() == IPv4Address("TCP", "127.0.0.1", 9)


def test_fakeConnectorProvidesIConnector() -> None:
    assert verifyObject(IConnector, MemoryReactor().connectTCP("127.0.0.1", 9, object()))


def test_connectorStopConnectingRecorded() -> None:
    connector = MemoryReactor().connectTCP("127.0.0.1", 9, object())
    connector.stopConnecting()
    assert connector.stoppedConnecting


def test_connectorStopConnectingTwiceRaises() -> None:
    connector = MemoryReactor().connectTCP("127.0.0.1", 9, object())
    connector.stopConnecting()
    with pytest.raises(NotConnectingError):
        connector.stopConnecting()


def test_connectorDisconnectRecorded() -> None:
    connector = MemoryReactor().connectTCP("127.0.0.1", 9, object())
    connector.disconnect()
    assert connector.disconnected


def test_runCallsWhenRunningHooks() -> None:
    r = MemoryReactor()
    calls: list[tuple[Any, ...]] = []
    r.callWhenRunning(lambda *a, **kw: calls.append((a, kw)), 1, x=2)
    assert calls == []
    r.run()
    assert r.running and r.hasRun
    assert calls == [((1,), {"x": 2})]


def test_callWhenRunningWhileRunningCallsAtOnce() -> None:
    r = MemoryReactor()
    r.run()
    calls: list[int] = []
    r.callWhenRunning(calls.append, 1)
    assert calls == [1]


def test_runWhileRunningRaises() -> None:
    r = MemoryReactor()
    r.run()
    with pytest.raises(RuntimeError, match="running already"):
        r.run()


def test_stopRecorded() -> None:
    r = MemoryReactor()
    r.run()
    r.stop()
    assert not r.running and r.hasStopped


def test_crashRecordedAndStops() -> None:
    r = MemoryReactor()
    r.run()
    r.crash()
    assert r.hasCrashed and r.hasStopped and not r.running


def test_installRecorded() -> None:
    r = MemoryReactor()
    r.install()
    assert r.hasInstalled


def test_resolveNotSupported() -> None:
    with pytest.raises(NotImplementedError):
        MemoryReactor().resolve("localhost")


def test_addSystemEventTriggerRecorded() -> None:
    r = MemoryReactor()

    def hook() -> None:
        pass

    r.addSystemEventTrigger("before", "shutdown", hook, 1, k=2)
    assert r.triggers == {"before": {"shutdown": [(hook, (1,), {"k": 2})]}}


def test_addSystemEventTriggerRejectsUnknownPhase() -> None:
    with pytest.raises(KeyError, match="phase"):
        MemoryReactor().addSystemEventTrigger("sometime", "shutdown", lambda: None)


def test_removeSystemEventTriggerForgetsIt() -> None:
    r = MemoryReactor()
    handle = r.addSystemEventTrigger("after", "startup", lambda: None)
    r.removeSystemEventTrigger(handle)
    assert r.triggers == {"after": {"startup": []}}


def test_removeSystemEventTriggerTwiceRaises() -> None:
    r = MemoryReactor()
    handle = r.addSystemEventTrigger("after", "startup", lambda: None)
    r.removeSystemEventTrigger(handle)
    with pytest.raises(ValueError):
        r.removeSystemEventTrigger(handle)


def test_removeSystemEventTriggerRejectsBogusHandle() -> None:
    with pytest.raises(ValueError):
        MemoryReactor().removeSystemEventTrigger(42)


def test_fireSystemEventRecorded() -> None:
    r = MemoryReactor()
    r.fireSystemEvent("shutdown")
    assert r.firedEvents == ["shutdown"]


def test_memoryReactorClockKeepsTime() -> None:
    r = MemoryReactorClock()
    calls: list[int] = []
    r.callLater(2, calls.append, 1)
    r.advance(1)
    assert calls == []
    r.advance(1)
    assert calls == [1]
    assert r.seconds() == 2


def test_raisingMemoryReactorListenRaises() -> None:
    r = RaisingMemoryReactor(listenException=OSError("in use"))
    with pytest.raises(OSError, match="in use"):
        r.listenTCP(80, object())
    assert r.tcpServers == []


def test_raisingMemoryReactorConnectRaises() -> None:
    r = RaisingMemoryReactor(connectException=ConnectionRefusedError())
    with pytest.raises(ConnectionRefusedError):
        r.connectTCP("127.0.0.1", 80, object())
    assert r.tcpClients == []


def test_raisingMemoryReactorWithoutExceptionsRecords() -> None:
    r = RaisingMemoryReactor()
    r.listenTCP(80, object())
    assert len(r.tcpServers) == 1


# EventLoggingObserver


def test_eventLoggingObserverProvidesILogObserver() -> None:
    assert verifyObject(ILogObserver, EventLoggingObserver())


def test_eventLoggingObserverKeepsEvents() -> None:
    observer = EventLoggingObserver()
    observer({"log_format": "a"})
    observer({"log_format": "b"})
    assert len(observer) == 2
    assert observer[1] == {"log_format": "b"}
    assert [e["log_format"] for e in observer] == ["a", "b"]


def test_eventLoggingObserverCreateWithCleanupObservesUntilCleanup() -> None:
    publisher = LogPublisher()
    cleanups: list[tuple[Any, tuple[Any, ...]]] = []

    class Case:
        def addCleanup(self, f: Any, /, *args: Any, **kw: Any) -> None:
            cleanups.append((f, args))

    observer = EventLoggingObserver.createWithCleanup(Case(), publisher)
    Logger(observer=publisher).info("hello {name}", name="x")
    assert len(observer) == 1
    for f, args in cleanups:
        f(*args)
    Logger(observer=publisher).info("after")
    assert len(observer) == 1
