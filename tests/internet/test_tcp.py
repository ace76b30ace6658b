"""Tests for torsion.internet.tcp over real sockets on 127.0.0.1 (and ::1)."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from zope.interface import implementer

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from torsion.internet import error
from torsion.internet.address import IPv4Address, IPv6Address
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import IHalfCloseableProtocol, IPushProducer, IResolverSimple
from torsion.internet.protocol import ClientFactory, Factory, Protocol
from torsion.protocols.wire import Echo
from torsion.python import log

# The shared fixtures, made visible to pytest in this module.
loggedErrors = reactormixins.loggedErrors
loggedMessages = reactormixins.loggedMessages
reactor = reactormixins.reactor


class Recorder(Protocol):
    """Records what happens to it; fires ``made``/``lost`` Deferreds."""

    def __init__(self) -> None:
        self.data = b""
        self.made: Deferred[None] = Deferred()
        self.lost: Deferred[None] = Deferred()
        self.lostReasons: list[Any] = []

    def connectionMade(self) -> None:
        self.made.callback(None)

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: object = None) -> None:
        self.lostReasons.append(reason)
        self.lost.callback(None)


class OneProtocolFactory(ClientFactory):
    """Hands out one given protocol; records failures."""

    def __init__(self, protocol: Protocol) -> None:
        self.instance = protocol
        self.failed: Deferred[None] = Deferred()
        self.failReason: Any = None
        self.lostConnection: list[Any] = []

    def buildProtocol(self, addr: Any) -> Protocol:
        self.instance.factory = self
        return self.instance

    def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
        self.failReason = reason
        self.failed.callback(None)

    def clientConnectionLost(self, connector: Any, reason: Any) -> None:
        self.lostConnection.append(reason)


def listen(reactor: Any, factory: Any, interface: str = "127.0.0.1") -> Any:
    return reactor.listenTCP(0, factory, interface=interface)


def serverFactory(protocols: list[Recorder]) -> Factory:
    class Built(Factory):
        def buildProtocol(self, addr: Any) -> Recorder:
            p = Recorder()
            p.factory = self
            protocols.append(p)
            return p

    return Built()


def test_echoRoundTripWithRealSocket(reactor: Any) -> None:
    port = listen(reactor, Factory.forProtocol(Echo))
    with socket.create_connection(("127.0.0.1", port.getHost().port), timeout=5) as s:
        s.setblocking(False)
        s.sendall(b"hello")
        received = bytearray()

        def readSome() -> bool:
            try:
                received.extend(s.recv(100))
            except BlockingIOError:
                pass
            return bytes(received) == b"hello"

        runUntil(reactor, readSome)


def test_portZeroGetsEphemeralPortInGetHost(reactor: Any) -> None:
    port = listen(reactor, Factory.forProtocol(Echo))
    host = port.getHost()
    assert isinstance(host, IPv4Address)
    assert host.host == "127.0.0.1" and host.port > 0


def test_cannotListenErrorNamesAddressAndAdvice(reactor: Any) -> None:
    port = listen(reactor, Factory.forProtocol(Echo))
    number = port.getHost().port
    with pytest.raises(error.CannotListenError) as info:
        reactor.listenTCP(number, Factory.forProtocol(Echo), interface="127.0.0.1")
    assert f"127.0.0.1:{number}" in str(info.value)
    assert "choose another port" in str(info.value)


def test_clientAndServerExchangeDataAndAddresses(reactor: Any) -> None:
    servers: list[Recorder] = []
    port = listen(reactor, serverFactory(servers))
    client = Recorder()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    runUntil(reactor, lambda: servers and servers[0].transport is not None)
    server = servers[0]
    assert client.transport.getPeer() == server.transport.getHost()
    assert server.transport.getPeer() == client.transport.getHost()
    client.transport.write(b"ping")
    server.transport.writeSequence([b"po", b"ng"])
    runUntil(reactor, lambda: server.data == b"ping" and client.data == b"pong")


def test_loseConnectionFlushesBufferFirst(reactor: Any) -> None:
    servers: list[Recorder] = []
    port = listen(reactor, serverFactory(servers))
    client = Recorder()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    payload = b"x" * (4 * 1024 * 1024)
    client.transport.write(payload)
    client.transport.loseConnection()
    runUntil(reactor, lambda: servers and servers[0].lost.called)
    assert servers[0].data == payload
    assert servers[0].lostReasons[0].check(error.ConnectionDone)
    runUntilFired(reactor, client.lost)
    assert client.lostReasons[0].check(error.ConnectionDone)


def test_connectionLostCalledExactlyOnce(reactor: Any) -> None:
    servers: list[Recorder] = []
    port = listen(reactor, serverFactory(servers))
    client = Recorder()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    client.transport.loseConnection()
    client.transport.loseConnection()
    client.transport.abortConnection()
    runUntilFired(reactor, client.lost)
    for _ in range(5):
        reactor.iterate(0.01)
    assert len(client.lostReasons) == 1


def test_abortConnectionDropsBufferedData(reactor: Any) -> None:
    servers: list[Recorder] = []
    port = listen(reactor, serverFactory(servers))
    client = Recorder()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    client.transport.write(b"never sent")
    client.transport.abortConnection()
    runUntilFired(reactor, client.lost)
    assert client.lostReasons[0].check(error.ConnectionAborted)
    runUntil(reactor, lambda: servers and servers[0].lost.called)
    assert servers[0].data == b""


def test_connectionRefusedReportsToFactory(reactor: Any) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    number = probe.getsockname()[1]
    probe.close()
    factory = OneProtocolFactory(Recorder())
    reactor.connectTCP("127.0.0.1", number, factory)
    runUntilFired(reactor, factory.failed)
    assert factory.failReason.check(error.ConnectionRefusedError)


def test_stopConnectingFailsWithUserError(reactor: Any) -> None:
    factory = OneProtocolFactory(Recorder())
    connector = reactor.connectTCP("127.0.0.1", 9, factory)
    connector.stopConnecting()
    runUntilFired(reactor, factory.failed)
    assert factory.failReason.check(error.UserError)
    with pytest.raises(error.NotConnectingError):
        connector.stopConnecting()


def test_unresolvableHostFailsWithDNSLookupError(reactor: Any) -> None:
    reactor.getThreadPool().start()
    factory = OneProtocolFactory(Recorder())
    reactor.connectTCP("no-such-host.invalid", 80, factory)
    runUntilFired(reactor, factory.failed, timeout=10)
    assert factory.failReason.check(error.DNSLookupError)


def test_connectByHostNameResolves(reactor: Any) -> None:
    reactor.getThreadPool().start()
    port = listen(reactor, Factory.forProtocol(Echo))
    client = Recorder()
    reactor.connectTCP("localhost", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made, timeout=10)


def test_connectorGetDestination(reactor: Any) -> None:
    factory = OneProtocolFactory(Recorder())
    connector = reactor.connectTCP("127.0.0.1", 9, factory)
    assert connector.getDestination() == IPv4Address("TCP", "127.0.0.1", 9)
    connector.stopConnecting()


def test_protocolExceptionClosesOnlyThatConnection(
    reactor: Any, loggedErrors: list[dict[str, Any]]
) -> None:
    class Exploding(Echo):
        def dataReceived(self, data: bytes) -> None:
            if data == b"boom":
                raise RuntimeError("boom")
            super().dataReceived(data)

    port = listen(reactor, Factory.forProtocol(Exploding))
    first, second = Recorder(), Recorder()
    for p in (first, second):
        reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(p))
        runUntilFired(reactor, p.made)
    first.transport.write(b"boom")
    runUntilFired(reactor, first.lost)
    second.transport.write(b"still here")
    runUntil(reactor, lambda: second.data == b"still here")
    assert not second.lost.called
    assert len(loggedErrors) == 1
    assert loggedErrors[0]["failure"].check(RuntimeError)


def test_logPrefixNamesProtocolSessionAndPeer(
    reactor: Any, loggedMessages: list[dict[str, Any]]
) -> None:
    class Talker(Protocol):
        def connectionMade(self) -> None:
            log.msg("hello from the server side")

    port = listen(reactor, Factory.forProtocol(Talker))
    client = Recorder()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntil(
        reactor,
        lambda: any("hello from" in str(e.get("message")) for e in loggedMessages),
    )
    event = next(e for e in loggedMessages if "hello from" in str(e.get("message")))
    assert event["system"] == "Talker,0,127.0.0.1"


def test_factoryStartAndPortLogLines(reactor: Any, loggedMessages: list[dict[str, Any]]) -> None:
    class EchoFactory(Factory):
        protocol = Echo

    port = listen(reactor, EchoFactory())
    number = port.getHost().port
    runUntilFired(reactor, port.stopListening())
    texts = [" ".join(map(str, e.get("message", ()))) for e in loggedMessages]
    assert f"EchoFactory starting on {number}" in texts
    assert f"(TCP Port {number} Closed)" in texts


def test_stopListeningFiresAndStopsFactory(reactor: Any) -> None:
    factory = Factory.forProtocol(Echo)
    port = listen(reactor, factory)
    number = port.getHost().port
    assert factory.numPorts == 1
    runUntilFired(reactor, port.stopListening())
    assert factory.numPorts == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", number), timeout=1).close()


def test_halfCloseKeepsWritingAfterPeerStopsSending(reactor: Any) -> None:
    @implementer(IHalfCloseableProtocol)
    class HalfCloser(Recorder):
        readLost = False

        def readConnectionLost(self) -> None:
            self.readLost = True
            self.transport.write(self.data.upper())
            self.transport.loseConnection()

        def writeConnectionLost(self) -> None:
            pass

    servers: list[HalfCloser] = []

    class Built(Factory):
        def buildProtocol(self, addr: Any) -> HalfCloser:
            p = HalfCloser()
            servers.append(p)
            return p

    port = listen(reactor, Built())

    @implementer(IHalfCloseableProtocol)
    class Client(Recorder):
        writeLost = False

        def connectionMade(self) -> None:
            super().connectionMade()
            self.transport.write(b"shout")
            self.transport.loseWriteConnection()

        def readConnectionLost(self) -> None:
            self.transport.loseConnection()

        def writeConnectionLost(self) -> None:
            self.writeLost = True

    client = Client()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.lost)
    assert client.writeLost
    assert servers[0].readLost
    assert client.data == b"SHOUT"


def test_peerCloseWithoutHalfCloseIsConnectionDone(reactor: Any) -> None:
    port = listen(reactor, Factory.forProtocol(Echo))
    client = Recorder()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    runUntilFired(reactor, port.stopListening())
    reactor.disconnectAll()
    runUntilFired(reactor, client.lost)


def test_resetByPeerIsConnectionLost(reactor: Any) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = Recorder()
    reactor.connectTCP("127.0.0.1", listener.getsockname()[1], OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    accepted, _ = listener.accept()
    accepted.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    accepted.close()
    listener.close()
    client.transport.write(b"x" * 100000)
    runUntilFired(reactor, client.lost)
    assert client.lostReasons[0].check(error.ConnectionLost, error.ConnectionDone)


def test_tcpNoDelayAndKeepAliveOptions(reactor: Any) -> None:
    port = listen(reactor, Factory.forProtocol(Echo))
    client = Recorder()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    transport = client.transport
    transport.setTcpNoDelay(True)
    transport.setTcpKeepAlive(True)
    assert transport.getTcpNoDelay() and transport.getTcpKeepAlive()
    transport.setTcpNoDelay(False)
    assert not transport.getTcpNoDelay()


def test_ipv6ListenAndConnect(reactor: Any) -> None:
    try:
        port = reactor.listenTCP(0, Factory.forProtocol(Echo), interface="::1")
    except error.CannotListenError:
        pytest.skip("no IPv6 loopback here")
    assert isinstance(port.getHost(), IPv6Address)
    client = Recorder()
    reactor.connectTCP("::1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    assert isinstance(client.transport.getPeer(), IPv6Address)
    client.transport.write(b"six")
    runUntil(reactor, lambda: client.data == b"six")


@implementer(IPushProducer)
class CountingProducer:
    """A push producer that writes chunks while not paused."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.paused = 0
        self.resumed = 0
        self.stopped = False

    def pauseProducing(self) -> None:
        self.paused += 1

    def resumeProducing(self) -> None:
        self.resumed += 1

    def stopProducing(self) -> None:
        self.stopped = True


def test_pushProducerPausedWhenBufferFullAndResumedWhenDrained(reactor: Any) -> None:
    port = listen(reactor, Factory.forProtocol(Echo))
    client = Recorder()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    producer = CountingProducer(client.transport)
    client.transport.registerProducer(producer, True)
    client.transport.write(b"y" * (client.transport.bufferSize + 1))
    assert producer.paused == 1
    runUntil(reactor, lambda: producer.resumed == 1)


def test_pullProducerAskedForMoreWhenBufferEmpty(reactor: Any) -> None:
    port = listen(reactor, Factory.forProtocol(Echo))
    client = Recorder()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    chunks = [b"a", b"b", b"c"]

    class Pull:
        def resumeProducing(self) -> None:
            if chunks:
                client.transport.write(chunks.pop(0))
            else:
                client.transport.unregisterProducer()

        def stopProducing(self) -> None:
            pass

    client.transport.registerProducer(Pull(), False)
    runUntil(reactor, lambda: client.data == b"abc")


def test_registeringSecondProducerRaises(reactor: Any) -> None:
    port = listen(reactor, Factory.forProtocol(Echo))
    client = Recorder()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    client.transport.registerProducer(CountingProducer(None), True)
    with pytest.raises(RuntimeError):
        client.transport.registerProducer(CountingProducer(None), True)


def test_producerStoppedWhenConnectionLost(reactor: Any) -> None:
    port = listen(reactor, Factory.forProtocol(Echo))
    client = Recorder()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    producer = CountingProducer(client.transport)
    client.transport.registerProducer(producer, True)
    client.transport.abortConnection()
    runUntilFired(reactor, client.lost)
    assert producer.stopped


def test_pausedTransportStopsReading(reactor: Any) -> None:
    port = listen(reactor, Factory.forProtocol(Echo))
    client = Recorder()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    client.transport.pauseProducing()
    client.transport.write(b"echo me")
    for _ in range(10):
        reactor.iterate(0.01)
    assert client.data == b""
    client.transport.resumeProducing()
    runUntil(reactor, lambda: client.data == b"echo me")


def test_writeRejectsText(reactor: Any) -> None:
    port = listen(reactor, Factory.forProtocol(Echo))
    client = Recorder()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    with pytest.raises(TypeError):
        client.transport.write("text")  # type: ignore[arg-type]


def test_clientFactoryHearsConnectionLost(reactor: Any) -> None:
    port = listen(reactor, Factory.forProtocol(Echo))
    client = Recorder()
    factory = OneProtocolFactory(client)
    reactor.connectTCP("127.0.0.1", port.getHost().port, factory)
    runUntilFired(reactor, client.made)
    client.transport.loseConnection()
    runUntil(reactor, lambda: factory.lostConnection)
    assert factory.lostConnection[0].check(error.ConnectionDone)


def test_connectTimeoutFailsWithTimeoutError(reactor: Any) -> None:
    @implementer(IResolverSimple)
    class SilentResolver:
        def getHostByName(self, name: str, timeout: Any = ()) -> Deferred[str]:
            return Deferred()

    reactor.installResolver(SilentResolver())
    factory = OneProtocolFactory(Recorder())
    reactor.connectTCP("never.invalid", 80, factory, timeout=0.01)
    runUntilFired(reactor, factory.failed)
    assert factory.failReason.check(error.TimeoutError)
    assert reactor.getDelayedCalls() == []


def test_writeAfterLoseConnectionIsIgnored(reactor: Any) -> None:
    servers: list[Recorder] = []
    port = listen(reactor, serverFactory(servers))
    client = Recorder()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    client.transport.write(b"before")
    client.transport.loseConnection()
    runUntilFired(reactor, client.lost)
    client.transport.write(b"after")
    runUntil(reactor, lambda: servers and servers[0].lost.called)
    assert servers[0].data == b"before"
