"""Tests for IReactorSocket: adoptStreamPort, adoptStreamConnection and adoptDatagramPort,
on every reactor.

The sockets are made with Python's socket module on 127.0.0.1 (as systemd or a
parent process would make them) and handed to the reactor by descriptor number.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from zope.interface.verify import verifyObject

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from tests.internet.test_endpoints import hasIPv6Loopback
from tests.internet.test_tcp import OneProtocolFactory, Recorder, serverFactory
from torsion.internet import error
from torsion.internet.interfaces import IListeningPort, IReactorSocket
from torsion.internet.protocol import DatagramProtocol, Factory
from torsion.protocols.wire import Echo

reactor = reactormixins.reactor
loggedMessages = reactormixins.loggedMessages


class UDPEcho(DatagramProtocol):
    noisy = False

    def __init__(self) -> None:
        self.started = 0

    def startProtocol(self) -> None:
        self.started += 1

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.transport.write(datagram, addr)


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    """A bound, listening TCP socket on 127.0.0.1, made outside the reactor."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(5)
    try:
        yield sock
    finally:
        sock.close()


def echoOnce(reactor: Any, port: int, data: bytes = b"hello") -> None:
    client = Recorder()
    reactor.connectTCP("127.0.0.1", port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    client.transport.write(data)
    runUntil(reactor, lambda: client.data == data)
    client.transport.loseConnection()
    runUntilFired(reactor, client.lost)


def test_reactorProvidesIReactorSocket(reactor: Any) -> None:
    assert verifyObject(IReactorSocket, reactor)


def test_adoptedPortAcceptsConnections(reactor: Any, listening: socket.socket) -> None:
    port = reactor.adoptStreamPort(listening.fileno(), socket.AF_INET, Factory.forProtocol(Echo))
    assert verifyObject(IListeningPort, port)
    address = port.getHost()
    assert (address.host, address.port) == listening.getsockname()
    echoOnce(reactor, address.port)
    runUntilFired(reactor, port.stopListening())


def test_adoptedPortWorksOnADuplicate(reactor: Any, listening: socket.socket) -> None:
    number = listening.getsockname()[1]
    original = listening.fileno()
    port = reactor.adoptStreamPort(original, socket.AF_INET, Factory.forProtocol(Echo))
    assert port.fileno() != original
    listening.close()  # The caller's copy goes; the port keeps listening.
    echoOnce(reactor, number)
    runUntilFired(reactor, port.stopListening())


def test_stoppingAnAdoptedPortLeavesTheOriginalOpen(reactor: Any, listening: socket.socket) -> None:
    port = reactor.adoptStreamPort(listening.fileno(), socket.AF_INET, Factory.forProtocol(Echo))
    runUntilFired(reactor, port.stopListening())
    os.fstat(listening.fileno())  # Still open: it is the caller's to close.
    assert listening.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1


def test_adoptedPortStartsTheFactoryAndLogsLikeAnyPort(
    reactor: Any, listening: socket.socket, loggedMessages: list[dict[str, Any]]
) -> None:
    started: list[str] = []

    class Counting(Factory):
        protocol = Echo

        def startFactory(self) -> None:
            started.append("start")

        def stopFactory(self) -> None:
            started.append("stop")

    port = reactor.adoptStreamPort(listening.fileno(), socket.AF_INET, Counting())
    number = listening.getsockname()[1]
    runUntilFired(reactor, port.stopListening())
    assert started == ["start", "stop"]
    texts = [" ".join(map(str, e["message"])) for e in loggedMessages]
    assert f"test_adopt.Counting starting on {number}" in " | ".join(texts)
    assert f"(TCP Port {number} Closed)" in texts


@pytest.mark.skipif(not hasIPv6Loopback(), reason="this machine has no IPv6 loopback")
def test_adoptedIPv6Port(reactor: Any) -> None:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
        sock.bind(("::1", 0))
        sock.listen(5)
        servers: list[Recorder] = []
        port = reactor.adoptStreamPort(sock.fileno(), socket.AF_INET6, serverFactory(servers))
        assert port.getHost().host == "::1"
        client = Recorder()
        reactor.connectTCP("::1", port.getHost().port, OneProtocolFactory(client))
        runUntilFired(reactor, client.made)
        runUntil(reactor, lambda: bool(servers) and servers[0].made.called)
        assert servers[0].transport.getPeer().host == "::1"
        client.transport.loseConnection()
        runUntilFired(reactor, client.lost)
        runUntilFired(reactor, port.stopListening())


def test_adoptedPortCanBeRestartedOnTheSameAddress(reactor: Any, listening: socket.socket) -> None:
    number = listening.getsockname()[1]
    port = reactor.adoptStreamPort(listening.fileno(), socket.AF_INET, Factory.forProtocol(Echo))
    runUntilFired(reactor, port.stopListening())
    listening.close()
    port.startListening()  # A new socket, bound where the adopted one was.
    assert port.getHost().port == number
    echoOnce(reactor, number)
    runUntilFired(reactor, port.stopListening())


def test_adoptingAUNIXSocketIsUnsupported(reactor: Any, tmp_path: Any) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(tmp_path / "s"))
        sock.listen(1)
        with pytest.raises(error.UnsupportedAddressFamily, match="AF_INET and AF_INET6"):
            reactor.adoptStreamPort(sock.fileno(), socket.AF_UNIX, Factory())


def test_adoptingWithTheWrongFamilyFails(reactor: Any, listening: socket.socket) -> None:
    before = set(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    with pytest.raises(error.UnsupportedAddressFamily, match="AF_INET socket, not AF_INET6"):
        reactor.adoptStreamPort(listening.fileno(), socket.AF_INET6, Factory())
    if before is not None:
        assert set(os.listdir("/proc/self/fd")) == before, "the duplicate leaked"


def test_adoptingADatagramSocketFails(reactor: Any) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        with pytest.raises(error.UnsupportedSocketType, match="SOCK_DGRAM"):
            reactor.adoptStreamPort(sock.fileno(), socket.AF_INET, Factory())


def test_adoptingASocketThatIsNotListeningFails(reactor: Any) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        with pytest.raises(error.CannotListenError, match="is not listening"):
            reactor.adoptStreamPort(sock.fileno(), socket.AF_INET, Factory())


def test_adoptingSomethingThatIsNotASocketFails(reactor: Any, tmp_path: Any) -> None:
    with open(tmp_path / "file", "w") as f, pytest.raises(OSError, match="cannot adopt descriptor"):
        reactor.adoptStreamPort(f.fileno(), socket.AF_INET, Factory())


def test_adoptingAClosedDescriptorFails(reactor: Any) -> None:
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(OSError, match=f"cannot adopt descriptor {r}"):
        reactor.adoptStreamPort(r, socket.AF_INET, Factory())


def test_adoptStreamConnectionServesAConnectedSocket(
    reactor: Any, listening: socket.socket
) -> None:
    with socket.create_connection(listening.getsockname(), timeout=5) as peer:
        accepted, _ = listening.accept()
        with accepted:
            servers: list[Recorder] = []
            reactor.adoptStreamConnection(accepted.fileno(), socket.AF_INET, serverFactory(servers))
        # The caller's copy is closed; the reactor's duplicate carries on.
        runUntil(reactor, lambda: bool(servers) and servers[0].made.called)
        server = servers[0]
        assert server.transport.getPeer().port == peer.getsockname()[1]
        assert "adopted" in repr(server.transport)
        peer.sendall(b"over the adopted socket")
        runUntil(reactor, lambda: server.data == b"over the adopted socket")
        server.transport.write(b"back")
        peer.setblocking(False)
        received: list[bytes] = []

        def gotItBack() -> bool:
            try:
                received.append(peer.recv(10))
            except BlockingIOError:
                pass
            return b"".join(received) == b"back"

        runUntil(reactor, gotItBack)
        peer.close()
        runUntilFired(reactor, server.lost)


def test_adoptStreamConnectionWhoseFactoryRefusesClosesIt(
    reactor: Any, listening: socket.socket
) -> None:
    class Refusing(Factory):
        def buildProtocol(self, addr: Any) -> None:
            return None

    with socket.create_connection(listening.getsockname(), timeout=5) as peer:
        accepted, _ = listening.accept()
        with accepted:
            reactor.adoptStreamConnection(accepted.fileno(), socket.AF_INET, Refusing())
        assert peer.recv(10) == b""  # Both copies closed: the peer sees the end.


def test_adoptStreamConnectionOfAnUnconnectedSocketFails(reactor: Any) -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(OSError, match="is not connected"),
    ):
        reactor.adoptStreamConnection(sock.fileno(), socket.AF_INET, Factory())


# -- datagram ports ----------------------------------------------------------------------


def test_adoptedDatagramPortServesTheBoundSocket(reactor: Any) -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as bound,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer,
    ):
        bound.bind(("127.0.0.1", 0))
        echo = UDPEcho()
        port = reactor.adoptDatagramPort(bound.fileno(), socket.AF_INET, echo, maxPacketSize=512)
        assert port.fileno() != bound.fileno()
        assert (port.getHost().host, port.getHost().port) == bound.getsockname()
        assert echo.started == 1
        bound.close()  # The caller's copy goes; the port carries on.
        peer.bind(("127.0.0.1", 0))
        peer.setblocking(False)
        peer.sendto(b"adopted datagram", (port.getHost().host, port.getHost().port))
        answers: list[bytes] = []

        def answered() -> bool:
            try:
                answers.append(peer.recv(100))
            except BlockingIOError:
                pass
            return bool(answers)

        runUntil(reactor, answered)
        assert answers == [b"adopted datagram"]
        assert port.maxPacketSize == 512
        runUntilFired(reactor, port.stopListening())


def test_adoptingAStreamSocketAsADatagramPortFails(reactor: Any, listening: socket.socket) -> None:
    with pytest.raises(error.UnsupportedSocketType, match="only SOCK_DGRAM sockets"):
        reactor.adoptDatagramPort(listening.fileno(), socket.AF_INET, UDPEcho())


def test_adoptingADatagramSocketOfAnotherFamilyFails(reactor: Any) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as bound:
        bound.bind(("127.0.0.1", 0))
        with pytest.raises(error.UnsupportedAddressFamily, match="not AF_INET6"):
            reactor.adoptDatagramPort(bound.fileno(), socket.AF_INET6, UDPEcho())
