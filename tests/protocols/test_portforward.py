"""Tests for torsion.protocols.portforward over real TCP connections on 127.0.0.1.

Each test runs on every reactor: a Python socket is the client, a torsion server the
destination, and the forwarder between them is what is tested (forwarding, flow
control both ways, half-close, failures).
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from zope.interface import implementer

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil
from torsion.internet.interfaces import IHalfCloseableProtocol
from torsion.internet.protocol import Factory, Protocol
from torsion.protocols import haproxy, policies, portforward
from torsion.protocols.wire import Echo

reactor = reactormixins.reactor
loggedMessages = reactormixins.loggedMessages


class Destination(Protocol):
    """Records what it gets; with ``paused`` set it does not read until told to."""

    paused = False
    instances: list[Destination]

    def __init__(self) -> None:
        self.data = bytearray()
        self.lost = False
        type(self).instances.append(self)

    def connectionMade(self) -> None:
        if self.paused:
            self.transport.pauseProducing()

    def dataReceived(self, data: bytes) -> None:
        self.data.extend(data)

    def connectionLost(self, reason: object = None) -> None:
        self.lost = True


def destinationClass(**attributes: Any) -> type[Destination]:
    return type("Dest", (Destination,), {"instances": [], **attributes})


class RecordingProxyFactory(portforward.ProxyFactory):
    """A ProxyFactory that keeps the ProxyServers it builds."""

    def __init__(self, host: str, port: int, reactor: Any) -> None:
        super().__init__(host, port, reactor=reactor)
        self.built: list[portforward.ProxyServer] = []

    def buildProtocol(self, addr: Any) -> Any:
        protocol = super().buildProtocol(addr)
        self.built.append(protocol)
        return protocol


def listen(reactor: Any, factory: Any) -> int:
    return int(reactor.listenTCP(0, factory, interface="127.0.0.1").getHost().port)


def forwarder(reactor: Any, destination: Any) -> tuple[RecordingProxyFactory, int]:
    destinationPort = listen(reactor, Factory.forProtocol(destination))
    factory = RecordingProxyFactory("127.0.0.1", destinationPort, reactor)
    return factory, listen(reactor, factory)


def connect(port: int) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    client.setblocking(False)
    return client


def readAll(reactor: Any, client: socket.socket, until: bytes | None = None) -> bytes:
    """Read until the end of the stream (or until ``until`` has arrived)."""
    got = bytearray()

    def done() -> bool:
        while True:
            try:
                chunk = client.recv(1 << 20)
            except BlockingIOError:
                return until is not None and until in got
            except ConnectionResetError:
                # Closed with unread data in its buffer, the other end resets.
                return True
            if not chunk:
                return True
            got.extend(chunk)

    runUntil(reactor, done)
    return bytes(got)


def test_forwardsBothWays(reactor: Any) -> None:
    _factory, port = forwarder(reactor, Echo)
    client = connect(port)
    # Sent at once: it arrives before the forwarder has connected onwards, and waits.
    client.sendall(b"hello, ")
    assert readAll(reactor, client, b"hello, ") == b"hello, "
    client.sendall(b"world")
    assert readAll(reactor, client, b"world") == b"world"
    client.close()


def test_manyClientsAtOnce(reactor: Any) -> None:
    _factory, port = forwarder(reactor, Echo)
    clients = [connect(port) for _ in range(5)]
    for i, client in enumerate(clients):
        client.sendall(b"client %d" % i)
    for i, client in enumerate(clients):
        assert readAll(reactor, client, b"client %d" % i) == b"client %d" % i
        client.close()


def test_clientCloseClosesTheDestination(reactor: Any) -> None:
    dest = destinationClass()
    _factory, port = forwarder(reactor, dest)
    client = connect(port)
    client.sendall(b"bye")
    runUntil(reactor, lambda: dest.instances and bytes(dest.instances[0].data) == b"bye")
    client.close()
    runUntil(reactor, lambda: dest.instances[0].lost)


def test_destinationCloseDeliversWhatItSentThenCloses(reactor: Any) -> None:
    class Teller(Protocol):
        def connectionMade(self) -> None:
            self.transport.write(b"x" * 300_000 + b"end")
            self.transport.loseConnection()

    _factory, port = forwarder(reactor, Teller)
    client = connect(port)
    got = readAll(reactor, client)
    assert got == b"x" * 300_000 + b"end"
    client.close()


def test_refusedDestinationClosesTheClient(reactor: Any, loggedMessages: Any) -> None:
    spare = socket.socket()
    spare.bind(("127.0.0.1", 0))
    closedPort = spare.getsockname()[1]
    spare.close()  # Nothing listens there now.
    factory = portforward.ProxyFactory("127.0.0.1", closedPort, reactor=reactor)
    client = connect(listen(reactor, factory))
    client.sendall(b"anyone?")
    assert readAll(reactor, client) == b""
    assert any(
        "Cannot connect to the destination" in str(event.get("log_format", ""))
        for event in loggedMessages
    )
    client.close()


def test_halfCloseIsForwarded(reactor: Any) -> None:
    @implementer(IHalfCloseableProtocol)
    class Answerer(Protocol):
        def __init__(self) -> None:
            self.question = b""

        def dataReceived(self, data: bytes) -> None:
            self.question += data

        def readConnectionLost(self) -> None:
            self.transport.write(b"answer to " + self.question)
            self.transport.loseWriteConnection()

        def writeConnectionLost(self) -> None:
            self.transport.loseConnection()

    factory, port = forwarder(reactor, Answerer)
    client = connect(port)
    client.sendall(b"the question")
    client.shutdown(socket.SHUT_WR)
    # The answer comes after our FIN went through, then the end of the stream.
    assert readAll(reactor, client) == b"answer to the question"
    runUntil(reactor, lambda: factory.built and not factory.built[0].connected)
    client.close()


def test_halfCloseBeforeTheDestinationConnects(reactor: Any) -> None:
    dest = destinationClass()
    _factory, port = forwarder(reactor, dest)
    client = connect(port)
    client.sendall(b"all of it")
    client.shutdown(socket.SHUT_WR)
    runUntil(reactor, lambda: dest.instances and dest.instances[0].lost)
    assert bytes(dest.instances[0].data) == b"all of it"
    assert readAll(reactor, client) == b""
    client.close()


def bufferedByForwarder(factory: RecordingProxyFactory) -> int:
    total = 0
    for server in factory.built:
        total += server.transport.bufferedSize()
        if server.peer is not None:
            total += server.peer.transport.bufferedSize()
    return total


def test_slowDestinationPausesTheClient(reactor: Any) -> None:
    dest = destinationClass(paused=True)
    factory, port = forwarder(reactor, dest)
    client = connect(port)
    chunk = b"z" * 65536
    sent = 0
    deadline = reactor.seconds() + 2
    blockedFor = 0
    while reactor.seconds() < deadline and blockedFor < 20 and sent < 64 * 2**20:
        try:
            sent += client.send(chunk)
            blockedFor = 0
        except BlockingIOError:
            blockedFor += 1
        reactor.iterate(0.005)
    # The destination reads nothing: the kernels' buffers fill, and the forwarder
    # holds at most about a transport buffer and a read, not all that was sent.
    assert sent < 64 * 2**20, "the client was never held back"
    assert bufferedByForwarder(factory) < 2 * 2**20
    dest.instances[0].paused = False
    dest.instances[0].transport.resumeProducing()
    runUntil(reactor, lambda: len(dest.instances[0].data) == sent, timeout=10)
    assert bytes(dest.instances[0].data) == b"z" * sent
    client.close()


def test_slowClientPausesTheDestination(reactor: Any) -> None:
    class Flood(Protocol):
        """Writes whenever it may, as a producer the transport can pause."""

        instances: list[Flood] = []

        def connectionMade(self) -> None:
            Flood.instances.append(self)
            self.written = 0
            self.paused = False
            self.transport.registerProducer(self, True)
            self.resumeProducing()

        def pauseProducing(self) -> None:
            self.paused = True

        def resumeProducing(self) -> None:
            self.paused = False
            while not self.paused and self.written < 64 * 2**20:
                self.transport.write(b"f" * 65536)
                self.written += 65536

        def stopProducing(self) -> None:
            self.paused = True

    Flood.instances = []
    factory, port = forwarder(reactor, Flood)
    client = connect(port)
    for _ in range(100):
        reactor.iterate(0.005)
    flood = Flood.instances[0]
    assert flood.written < 64 * 2**20, "the destination was never paused"
    assert bufferedByForwarder(factory) < 2 * 2**20
    got = 0

    def drained() -> bool:
        nonlocal got
        try:
            while True:
                data = client.recv(1 << 20)
                if not data:
                    return True
                got += len(data)
        except BlockingIOError:
            pass
        return got >= flood.written and flood.paused is False and flood.written >= 4 * 2**20

    runUntil(reactor, drained, timeout=20)
    client.close()


def test_forwardsWhenWrappedByAPolicy(reactor: Any) -> None:
    # Wrapped, the server side is no longer the transport's protocol: the forwarding
    # goes through the wrapper (counted) instead of straight to the peer's write.
    destinationPort = listen(reactor, Factory.forProtocol(Echo))
    proxy = portforward.ProxyFactory("127.0.0.1", destinationPort, reactor=reactor)
    throttling = policies.ThrottlingFactory(proxy, maxConnectionCount=10)
    client = connect(listen(reactor, throttling))
    client.sendall(b"through the wrapper")
    assert readAll(reactor, client, b"wrapper") == b"through the wrapper"
    assert throttling.connectionCount == 1
    client.close()
    runUntil(reactor, lambda: throttling.connectionCount == 0)


def test_clientGoneBeforeTheDestinationConnects(reactor: Any) -> None:
    dest = destinationClass()
    factory, port = forwarder(reactor, dest)
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    # Closed with a reset before the forwarder's onward connection is made.
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    client.close()
    runUntil(reactor, lambda: dest.instances and dest.instances[0].lost)
    runUntil(reactor, lambda: factory.built and not factory.built[0].connected)


@pytest.mark.parametrize("garbage", [b"\x00\xff" * 5000, b"\r\n" * 3000])
def test_anyBytesAreForwardedUnchanged(reactor: Any, garbage: bytes) -> None:
    _factory, port = forwarder(reactor, Echo)
    client = connect(port)
    client.sendall(garbage)
    assert readAll(reactor, client, garbage) == garbage
    client.close()


class SaysWhere(Protocol):
    def connectionMade(self) -> None:
        peer = self.transport.getPeer()
        self.transport.write(f"{peer.host} {peer.port}\n".encode())


@pytest.mark.parametrize("version", [1, 2])
def test_sendsAPROXYHeaderNamingTheClient(reactor: Any, version: int) -> None:
    behindProxy = haproxy.HAProxyWrappingFactory(Factory.forProtocol(SaysWhere), clock=reactor)
    destinationPort = listen(reactor, behindProxy)
    factory = portforward.ProxyFactory(
        "127.0.0.1", destinationPort, reactor=reactor, sendProxyHeader=version
    )
    client = connect(listen(reactor, factory))
    host, port = client.getsockname()
    # The destination sees this client's own address, not the forwarder's.
    assert readAll(reactor, client, b"\n") == f"{host} {port}\n".encode()
    client.close()


def test_badPROXYVersion() -> None:
    with pytest.raises(ValueError, match="1, 2"):
        portforward.ProxyFactory("h", 1, sendProxyHeader=3)
