"""Tests for torsion.internet.tcp over real sockets on 127.0.0.1 (and ::1).

Every test runs on each reactor of the ``reactor`` fixture and uses only the public
reactor API. The faults (refused, reset, EMFILE, raising protocols, descriptor leaks)
are in test_tcp_faults.py, which shares the helpers defined here.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from typing import Any

import pytest
from zope.interface import implementer

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired, skipOnLoopTransports
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
    """Records what happens to it; fires ``made``/``lost`` Deferreds.

    With ``pauseAfterData`` set it stops reading after each chunk (a slow reader).
    """

    pauseAfterData = False

    def __init__(self) -> None:
        self.data = b""
        self.made: Deferred[None] = Deferred()
        self.lost: Deferred[None] = Deferred()
        self.lostReasons: list[Any] = []

    def connectionMade(self) -> None:
        self.made.callback(None)

    def dataReceived(self, data: bytes) -> None:
        self.data += data
        if self.pauseAfterData:
            self.transport.pauseProducing()

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


def connectedPair(reactor: Any) -> tuple[Recorder, Recorder]:
    """Connect a Recorder client to a Recorder server; return (client, server)."""
    servers: list[Recorder] = []
    port = listen(reactor, serverFactory(servers))
    client = Recorder()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    runUntil(reactor, lambda: servers and servers[0].made.called)
    return client, servers[0]


def echoClient(reactor: Any) -> Recorder:
    """Return a Recorder connected to an Echo server."""
    port = listen(reactor, Factory.forProtocol(Echo))
    client = Recorder()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    return client


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
    client, server = connectedPair(reactor)
    assert client.transport.getPeer() == server.transport.getHost()
    assert server.transport.getPeer() == client.transport.getHost()
    client.transport.write(b"ping")
    server.transport.writeSequence([b"po", b"ng"])
    runUntil(reactor, lambda: server.data == b"ping" and client.data == b"pong")


def test_loseConnectionFlushesBufferFirst(reactor: Any) -> None:
    client, server = connectedPair(reactor)
    payload = b"x" * (4 * 1024 * 1024)
    client.transport.write(payload)
    client.transport.loseConnection()
    runUntilFired(reactor, server.lost)
    assert server.data == payload
    assert server.lostReasons[0].check(error.ConnectionDone)
    runUntilFired(reactor, client.lost)
    assert client.lostReasons[0].check(error.ConnectionDone)


def test_connectionLostCalledExactlyOnce(reactor: Any) -> None:
    client = echoClient(reactor)
    client.transport.loseConnection()
    client.transport.loseConnection()
    client.transport.abortConnection()
    runUntilFired(reactor, client.lost)
    for _ in range(5):
        reactor.iterate(0.01)
    assert len(client.lostReasons) == 1


def test_abortConnectionDropsBufferedData(reactor: Any) -> None:
    skipOnLoopTransports(
        reactor,
        "a write reaches the kernel at once and no abort takes it back "
        "(test_asynciotcp.py: abort drops what the loop still holds)",
    )
    client, server = connectedPair(reactor)
    client.transport.write(b"never sent")
    client.transport.abortConnection()
    runUntilFired(reactor, client.lost)
    assert client.lostReasons[0].check(error.ConnectionAborted)
    runUntilFired(reactor, server.lost)
    assert server.data == b""


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


def messagesWith(events: list[dict[str, Any]], word: str) -> list[dict[str, Any]]:
    return [e for e in events if word in " ".join(map(str, e.get("message", ())))]


class Talker(Protocol):
    """Logs from every callback, so tests can check the system of each line."""

    def connectionMade(self) -> None:
        log.msg("talker made")

    def dataReceived(self, data: bytes) -> None:
        log.msg("talker got", data)
        if data == b"abort":
            self.transport.abortConnection()

    def connectionLost(self, reason: object = None) -> None:
        log.msg("talker lost")


def test_serverLogPrefixNamesProtocolSessionAndPeerInEveryCallback(
    reactor: Any, loggedMessages: list[dict[str, Any]]
) -> None:
    port = listen(reactor, Factory.forProtocol(Talker))
    clients = [Recorder(), Recorder()]
    for client in clients:
        reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
        runUntilFired(reactor, client.made)
    clients[0].transport.write(b"hi")
    runUntil(reactor, lambda: messagesWith(loggedMessages, "talker got"))
    clients[0].transport.loseConnection()
    runUntil(reactor, lambda: messagesWith(loggedMessages, "talker lost"))
    clients[1].transport.write(b"abort")
    runUntil(reactor, lambda: len(messagesWith(loggedMessages, "talker lost")) == 2)
    systems = {
        word: [e["system"] for e in messagesWith(loggedMessages, word)]
        for word in ("talker made", "talker got", "talker lost")
    }
    assert systems == {
        "talker made": ["Talker,0,127.0.0.1", "Talker,1,127.0.0.1"],
        "talker got": ["Talker,0,127.0.0.1", "Talker,1,127.0.0.1"],
        # The second one is lost through abortConnection, from a timed call.
        "talker lost": ["Talker,0,127.0.0.1", "Talker,1,127.0.0.1"],
    }


def test_serverLogPrefixUsesProtocolsOwnLogPrefix(
    reactor: Any, loggedMessages: list[dict[str, Any]]
) -> None:
    class Named(Talker):
        def logPrefix(self) -> str:
            return "custom"

    port = listen(reactor, Factory.forProtocol(Named))
    client = Recorder()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntil(reactor, lambda: messagesWith(loggedMessages, "talker made"))
    assert messagesWith(loggedMessages, "talker made")[0]["system"] == "custom,0,127.0.0.1"


def test_clientLogPrefixIsProtocolNameAndClient(
    reactor: Any, loggedMessages: list[dict[str, Any]]
) -> None:
    port = listen(reactor, Factory.forProtocol(Echo))
    connector = reactor.connectTCP(
        "127.0.0.1", port.getHost().port, ClientFactory.forProtocol(Talker)
    )
    runUntil(reactor, lambda: messagesWith(loggedMessages, "talker made"))
    connector.transport.write(b"ping")
    runUntil(reactor, lambda: messagesWith(loggedMessages, "talker got"))
    connector.disconnect()
    runUntil(reactor, lambda: messagesWith(loggedMessages, "talker lost"))
    for word in ("talker made", "talker got", "talker lost"):
        assert messagesWith(loggedMessages, word)[0]["system"] == "Talker,client"


def test_seedLogLineShowsPrefixAndPeerAddress(reactor: Any) -> None:
    class EcoPerRiga(Protocol):
        def dataReceived(self, data: bytes) -> None:
            log.msg(self.transport.getPeer(), data.decode().strip())

    out = io.StringIO()
    observer = log.FileLogObserver(out)
    observer.start()
    try:
        port = listen(reactor, Factory.forProtocol(EcoPerRiga))
        client = Recorder()
        reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
        runUntilFired(reactor, client.made)
        client.transport.write(b"una riga\r\n")
        runUntil(reactor, lambda: "una riga" in out.getvalue())
    finally:
        observer.stop()
    clientPort = client.transport.getHost().port
    expected = f"[EcoPerRiga,0,127.0.0.1] IPv4Address(TCP, '127.0.0.1', {clientPort}) una riga"
    assert expected in out.getvalue()


class EchoFactory(Factory):
    protocol = Echo


def test_factoryStartAndPortLogLines(reactor: Any, loggedMessages: list[dict[str, Any]]) -> None:
    port = listen(reactor, EchoFactory())
    number = port.getHost().port
    runUntilFired(reactor, port.stopListening())
    texts = [" ".join(map(str, e.get("message", ()))) for e in loggedMessages]
    assert texts[0] == f"tests.internet.test_tcp.EchoFactory starting on {number}"
    assert texts[1].startswith("Starting factory <tests.internet.test_tcp.EchoFactory")
    assert f"(TCP Port {number} Closed)" in texts
    assert any(t.startswith("Stopping factory <") for t in texts)


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


def test_reactorDisconnectAllClosesConnections(reactor: Any) -> None:
    client, server = connectedPair(reactor)
    reactor.disconnectAll()
    runUntilFired(reactor, client.lost)
    runUntilFired(reactor, server.lost)


def test_tcpNoDelayAndKeepAliveOptions(reactor: Any) -> None:
    client = echoClient(reactor)
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
    skipOnLoopTransports(
        reactor,
        "a write the kernel takes whole never fills the loop's buffer, so nothing pauses "
        "(test_asynciotcp.py: paused by a peer that stops reading)",
    )
    client = echoClient(reactor)
    producer = CountingProducer(client.transport)
    client.transport.registerProducer(producer, True)
    client.transport.write(b"y" * (client.transport.bufferSize + 1))
    assert producer.paused == 1
    runUntil(reactor, lambda: producer.resumed == 1)


def test_pullProducerAskedForMoreWhenBufferEmpty(reactor: Any) -> None:
    client = echoClient(reactor)
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
    client = echoClient(reactor)
    client.transport.registerProducer(CountingProducer(None), True)
    with pytest.raises(RuntimeError):
        client.transport.registerProducer(CountingProducer(None), True)


def test_producerStoppedWhenConnectionLost(reactor: Any) -> None:
    client = echoClient(reactor)
    producer = CountingProducer(client.transport)
    client.transport.registerProducer(producer, True)
    client.transport.abortConnection()
    runUntilFired(reactor, client.lost)
    assert producer.stopped


def test_pausedTransportStopsReading(reactor: Any) -> None:
    client = echoClient(reactor)
    client.transport.pauseProducing()
    client.transport.write(b"echo me")
    for _ in range(10):
        reactor.iterate(0.01)
    assert client.data == b""
    client.transport.resumeProducing()
    runUntil(reactor, lambda: client.data == b"echo me")


def test_writeRejectsText(reactor: Any) -> None:
    client = echoClient(reactor)
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
    client, server = connectedPair(reactor)
    client.transport.write(b"before")
    client.transport.loseConnection()
    runUntilFired(reactor, client.lost)
    client.transport.write(b"after")
    runUntilFired(reactor, server.lost)
    assert server.data == b"before"


def test_bindAddressChoosesClientsLocalAddress(reactor: Any) -> None:
    port = listen(reactor, Factory.forProtocol(Echo))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        local = probe.getsockname()[1]
    client = Recorder()
    reactor.connectTCP(
        "127.0.0.1",
        port.getHost().port,
        OneProtocolFactory(client),
        bindAddress=("127.0.0.1", local),
    )
    runUntilFired(reactor, client.made)
    assert client.transport.getHost() == IPv4Address("TCP", "127.0.0.1", local)


def test_bindAddressInUseFailsWithConnectBindError(reactor: Any) -> None:
    port = listen(reactor, Factory.forProtocol(Echo))
    factory = OneProtocolFactory(Recorder())
    reactor.connectTCP(
        "127.0.0.1", port.getHost().port, factory, bindAddress=("127.0.0.1", port.getHost().port)
    )
    runUntilFired(reactor, factory.failed)
    assert factory.failReason.check(error.ConnectBindError)
    assert "Address already in use" in str(factory.failReason.value)


def test_connectorConnectsAgainAfterConnectionLost(reactor: Any) -> None:
    servers: list[Recorder] = []
    port = listen(reactor, serverFactory(servers))
    protocols: list[Recorder] = []

    class Again(ClientFactory):
        def buildProtocol(self, addr: Any) -> Recorder:
            protocols.append(Recorder())
            return protocols[-1]

    connector = reactor.connectTCP("127.0.0.1", port.getHost().port, Again())
    runUntil(reactor, lambda: protocols and protocols[0].made.called)
    assert connector.state == "connected"
    with pytest.raises(RuntimeError, match="connected"):
        connector.connect()
    connector.disconnect()
    runUntilFired(reactor, protocols[0].lost)
    connector.connect()
    runUntil(reactor, lambda: len(protocols) == 2 and protocols[1].made.called)
    runUntil(reactor, lambda: len(servers) == 2)


def test_connectorDisconnectWhileConnectingStopsTheAttempt(reactor: Any) -> None:
    factory = OneProtocolFactory(Recorder())
    connector = reactor.connectTCP("127.0.0.1", 9, factory)
    connector.disconnect()
    runUntilFired(reactor, factory.failed)
    assert factory.failReason.check(error.UserError)
    assert connector.state == "disconnected"


def test_startedConnectingToldWithConnector(reactor: Any) -> None:
    started: list[Any] = []

    class Noting(OneProtocolFactory):
        def startedConnecting(self, connector: Any) -> None:
            started.append(connector)

    port = listen(reactor, Factory.forProtocol(Echo))
    factory = Noting(Recorder())
    connector = reactor.connectTCP("127.0.0.1", port.getHost().port, factory)
    assert started == [connector]
    runUntilFired(reactor, factory.instance.made)  # type: ignore[attr-defined]


def test_portListensAgainAfterStopListening(reactor: Any) -> None:
    factory = EchoFactory()
    port = listen(reactor, factory)
    runUntilFired(reactor, port.stopListening())
    port.startListening()
    assert factory.numPorts == 1
    client = Recorder()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    second = port.stopListening()
    assert not second.called
    runUntilFired(reactor, second)
    assert factory.numPorts == 0


def test_startListeningTwiceRaises(reactor: Any) -> None:
    port = listen(reactor, EchoFactory())
    with pytest.raises(error.AlreadyListened, match="stop it first"):
        port.startListening()


def test_getHostStillAnswersAfterStopListening(reactor: Any) -> None:
    port = listen(reactor, EchoFactory())
    address = port.getHost()
    runUntilFired(reactor, port.stopListening())
    assert port.getHost() == address


def test_stopListeningTwiceReturnsSameDeferred(reactor: Any) -> None:
    port = listen(reactor, EchoFactory())
    first = port.stopListening()
    assert port.stopListening() is first
    runUntilFired(reactor, first)


def test_listenOnAllInterfacesIsReachableOnLoopback(reactor: Any) -> None:
    port = reactor.listenTCP(0, EchoFactory())
    assert port.getHost().host == "0.0.0.0"
    client = Recorder()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)


def test_peerAddressesAreSeedReprAndSurviveClose(reactor: Any) -> None:
    client, server = connectedPair(reactor)
    peer = client.transport.getPeer()
    assert repr(peer) == f"IPv4Address(TCP, '127.0.0.1', {peer.port})"
    client.transport.loseConnection()
    runUntilFired(reactor, client.lost)
    assert client.transport.getPeer() == peer
    runUntilFired(reactor, server.lost)
    assert server.transport.getPeer().port == client.transport.getHost().port


def test_getHandleIsTheSocket(reactor: Any) -> None:
    client, _ = connectedPair(reactor)
    handle = client.transport.getHandle()
    assert isinstance(handle, socket.socket)
    assert handle.getsockname()[1] == client.transport.getHost().port


def test_writeSequenceSendsInOrderAsOneBatch(reactor: Any) -> None:
    client, server = connectedPair(reactor)
    client.transport.writeSequence(iter([b"a", bytearray(b"b"), memoryview(b"c"), b""]))
    client.transport.writeSequence([])
    runUntil(reactor, lambda: server.data == b"abc")


def test_writeSequenceWithTextQueuesNothing(reactor: Any) -> None:
    client, server = connectedPair(reactor)
    with pytest.raises(TypeError, match="encode"):
        client.transport.writeSequence([b"first", "second"])  # type: ignore[list-item]
    client.transport.write(b"only this")
    runUntil(reactor, lambda: server.data == b"only this")
    for _ in range(3):
        reactor.iterate(0.01)
    assert server.data == b"only this"


def shrinkKernelBuffers(client: Recorder, server: Recorder) -> None:
    """Make the kernel hold little between the two, so the transport's buffer fills."""
    client.transport.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    server.transport.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)


def writeManySmallChunks(reactor: Any, count: int) -> float:
    """Write ``count`` 100-byte chunks to a peer that is not reading; return the CPU seconds.

    The loop runs every 100 writes, so the transport tries to send while its buffer
    keeps growing behind a full kernel buffer: the case where buffer code that copies
    what is pending on each write goes quadratic. Then checks every byte arrives.
    """
    client, server = connectedPair(reactor)
    shrinkKernelBuffers(client, server)
    server.transport.pauseProducing()
    chunk = b"0123456789" * 10
    write = client.transport.write
    # CPU time of this thread: other processes taking turns on the cores would add
    # more wall-clock time to the long run than to the short one.
    started, startedCPU = time.perf_counter(), time.thread_time()
    for i in range(count):
        write(chunk)
        if i % 100 == 0:
            reactor.iterate(0)
            if time.perf_counter() - started > 5.0:
                pytest.fail(f"{i} writes took over 5 seconds: the write buffer is slow")
    for _ in range(5):
        reactor.iterate(0)
    elapsed = time.thread_time() - startedCPU
    assert client.transport.bufferedSize() > 0  # The kernel did not take it all.
    server.transport.resumeProducing()
    runUntil(reactor, lambda: len(server.data) == count * len(chunk), timeout=20)
    assert server.data[:200] == chunk * 2 and server.data[-100:] == chunk
    return elapsed


def test_manySmallWritesToStalledPeerTakeLinearTime(reactor: Any) -> None:
    small = min(writeManySmallChunks(reactor, 5_000) for _ in range(3))
    large = min(writeManySmallChunks(reactor, 50_000) for _ in range(2))
    # Ten times the writes: linear code takes about ten times as long; a copy of the
    # pending buffer per write would take about a hundred times as long.
    assert large < max(small, 0.002) * 30, (small, large)


@implementer(IPushProducer)
class FloodingProducer:
    """Writes ``total`` bytes as fast as the consumer allows, a tick at a time."""

    chunk = b"z" * 16384

    def __init__(self, reactor: Any, transport: Any, total: int) -> None:
        self.reactor = reactor
        self.transport = transport
        self.left = total
        self.paused = False
        self.pauses = 0
        self.maxBuffered = 0
        self.done: Deferred[None] = Deferred()
        reactor.callLater(0, self.produce)

    def produce(self) -> None:
        while not self.paused and self.left > 0:
            self.transport.write(self.chunk)
            self.left -= len(self.chunk)
            self.maxBuffered = max(self.maxBuffered, self.transport.bufferedSize())
        if self.left <= 0:
            self.transport.unregisterProducer()
            self.done.callback(None)

    def pauseProducing(self) -> None:
        self.paused = True
        self.pauses += 1

    def resumeProducing(self) -> None:
        self.paused = False
        self.reactor.callLater(0, self.produce)

    def stopProducing(self) -> None:
        self.left = 0


def test_pushProducerToSlowReaderKeepsBufferBounded(reactor: Any) -> None:
    client, server = connectedPair(reactor)
    shrinkKernelBuffers(client, server)
    total = 512 * 1024
    producer = FloodingProducer(reactor, client.transport, total)
    client.transport.registerProducer(producer, True)
    # The reader takes one read's worth, then pauses until the next slowRead.
    server.pauseAfterData = True
    server.transport.pauseProducing()

    def slowRead() -> None:
        server.transport.resumeProducing()
        if len(server.data) < total:
            reactor.callLater(0.002, slowRead)

    slowRead()
    runUntil(reactor, lambda: len(server.data) == total, timeout=20)
    assert producer.done.called
    assert producer.pauses >= 3
    assert producer.maxBuffered <= client.transport.bufferSize + len(FloodingProducer.chunk)


def test_transportAsPushProducerStopProducingCloses(reactor: Any) -> None:
    client, server = connectedPair(reactor)
    client.transport.write(b"last words")
    client.transport.stopProducing()
    runUntilFired(reactor, server.lost)
    assert server.data == b"last words"
    assert server.lostReasons[0].check(error.ConnectionDone)


def test_pullProducerWithLoseConnectionClosesAfterUnregister(reactor: Any) -> None:
    client, server = connectedPair(reactor)
    chunks = [b"1", b"2", b"3"]
    transport = client.transport

    class Pull:
        def resumeProducing(self) -> None:
            if chunks:
                transport.write(chunks.pop(0))
            else:
                transport.unregisterProducer()

        def stopProducing(self) -> None:
            pass

    transport.registerProducer(Pull(), False)
    transport.loseConnection()
    runUntilFired(reactor, server.lost)
    assert server.data == b"123"


def test_resolveLocalhost(reactor: Any) -> None:
    reactor.getThreadPool().start()
    address = runUntilFired(reactor, reactor.resolve("localhost"), timeout=10)
    assert address in ("127.0.0.1", "::1")


def test_resolveAddressLiteralNeedsNoLookup(reactor: Any) -> None:
    d = reactor.resolve("127.0.0.1")
    assert d.called
    assert runUntilFired(reactor, d) == "127.0.0.1"


def test_resolveUnknownNameFailsWithDNSLookupError(reactor: Any) -> None:
    reactor.getThreadPool().start()
    with pytest.raises(error.DNSLookupError, match=r"no-such-host\.invalid"):
        runUntilFired(reactor, reactor.resolve("no-such-host.invalid"), timeout=10)


def test_resolveTimesOutWhenLookupHangs(reactor: Any) -> None:
    pool = reactor.getThreadPool()
    reactor.suggestThreadPoolSize(1)
    pool.start()
    release = threading.Event()
    reactor.callInThread(release.wait, 10)  # Keeps the only thread busy.
    try:
        with pytest.raises(error.DNSLookupError, match="timed out"):
            runUntilFired(reactor, reactor.resolve("localhost", timeout=(0.05,)))
    finally:
        release.set()


def test_installResolverIsUsedByConnectTCP(reactor: Any) -> None:
    asked: list[str] = []

    @implementer(IResolverSimple)
    class Fixed:
        def getHostByName(self, name: str, timeout: Any = ()) -> Deferred[str]:
            asked.append(name)
            d: Deferred[str] = Deferred()
            reactor.callLater(0, d.callback, "127.0.0.1")
            return d

    previous = reactor.installResolver(Fixed())
    assert IResolverSimple.providedBy(previous)
    assert runUntilFired(reactor, reactor.resolve("example.test")) == "127.0.0.1"
    port = listen(reactor, EchoFactory())
    client = Recorder()
    reactor.connectTCP("my-server.test", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    assert asked == ["example.test", "my-server.test"]


class PausesAtOnce(Recorder):
    """Pauses its transport in connectionMade, as a proxy waiting for its other side."""

    def connectionMade(self) -> None:
        super().connectionMade()
        self.transport.pauseProducing()


def test_aTransportPausedInConnectionMadeStaysPaused(reactor: Any) -> None:
    servers: list[Recorder] = []

    class PausingFactory(Factory):
        def buildProtocol(self, addr: Any) -> Recorder:
            servers.append(PausesAtOnce())
            return servers[-1]

    port = listen(reactor, PausingFactory())
    with socket.create_connection(("127.0.0.1", port.getHost().port), timeout=5) as peer:
        peer.sendall(b"early data")
        runUntil(reactor, lambda: servers and servers[0].made.called)
        for _ in range(20):
            reactor.iterate(0.01)
        assert servers[0].data == b""  # Nothing delivered while paused.
        servers[0].transport.resumeProducing()
        runUntil(reactor, lambda: servers[0].data == b"early data")
        peer.sendall(b" and more")
        runUntil(reactor, lambda: servers[0].data == b"early data and more")
