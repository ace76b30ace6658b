"""Tests for torsion.internet.unix's datagram ports: listenUNIXDatagram, connectUNIXDatagram.

Each test takes ``reactor``, so it runs on every reactor of the conformance suite, over
real UNIX datagram sockets in a short temporary directory, with Python's socket module
as the other end where a real peer is wanted. The protocols here are small local
classes with the datagram protocol's methods (makeConnection/doStart/doStop,
datagramReceived, connectionRefused, connectionFailed).
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from zope.interface.verify import verifyObject

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from tests.internet.test_unix import sockdir, texts
from torsion.internet import error
from torsion.internet.address import UNIXAddress
from torsion.internet.interfaces import (
    IListeningPort,
    IUNIXDatagramConnectedTransport,
    IUNIXDatagramTransport,
)
from torsion.internet.protocol import ConnectedDatagramProtocol, DatagramProtocol

loggedErrors = reactormixins.loggedErrors
loggedMessages = reactormixins.loggedMessages
reactor = reactormixins.reactor
__all__ = ["sockdir"]


class Datagrams(DatagramProtocol):
    """A datagram protocol that records what it is told."""

    noisy = False

    def __init__(self) -> None:
        self.received: list[tuple[bytes, Any]] = []
        self.started = 0
        self.stopped = 0
        self.refused = 0

    def startProtocol(self) -> None:
        self.started += 1

    def stopProtocol(self) -> None:
        self.stopped += 1

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.received.append((datagram, addr))

    def connectionRefused(self) -> None:
        self.refused += 1


class ConnectedDatagrams(ConnectedDatagramProtocol):
    """A connected datagram protocol that records what it is told."""

    noisy = False

    def __init__(self) -> None:
        self.received: list[tuple[bytes, Any]] = []
        self.started = 0
        self.stopped = 0
        self.refused = 0
        self.failures: list[Any] = []

    def startProtocol(self) -> None:
        self.started += 1

    def stopProtocol(self) -> None:
        self.stopped += 1

    def datagramReceived(self, datagram: bytes) -> None:
        self.received.append((datagram, None))

    def connectionRefused(self) -> None:
        self.refused += 1

    def connectionFailed(self, failure: Any) -> None:
        self.failures.append(failure)


def pythonPeer(path: str | None = None) -> socket.socket:
    peer = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if path is not None:
        peer.bind(path)
    peer.settimeout(5)
    return peer


def test_receivesFromNamedPythonPeerAndAnswersIt(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "server.sock")
    peerPath = str(sockdir / "peer.sock")
    protocol = Datagrams()
    port = reactor.listenUNIXDatagram(path, protocol)
    assert protocol.started == 1 and protocol.transport is port
    assert port.getHost() == UNIXAddress(path)
    with pythonPeer(peerPath) as peer:
        peer.sendto(b"hello", path)
        runUntil(reactor, lambda: protocol.received == [(b"hello", peerPath)])
        port.write(b"hi back", peerPath)
        assert peer.recvfrom(100) == (b"hi back", path)


def test_unnamedSenderIsNone(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "server.sock")
    protocol = Datagrams()
    reactor.listenUNIXDatagram(path, protocol)
    with pythonPeer() as peer:
        peer.sendto(b"anonymous", path)
        runUntil(reactor, lambda: protocol.received == [(b"anonymous", None)])


def test_portsProvideTheirInterfaces(reactor: Any, sockdir: Path) -> None:
    server = reactor.listenUNIXDatagram(str(sockdir / "s.sock"), Datagrams())
    client = reactor.connectUNIXDatagram(str(sockdir / "s.sock"), ConnectedDatagrams())
    assert verifyObject(IUNIXDatagramTransport, server)
    assert verifyObject(IListeningPort, server)
    assert verifyObject(IUNIXDatagramConnectedTransport, client)


def test_connectedPortTalksToListeningPort(reactor: Any, sockdir: Path) -> None:
    serverPath = str(sockdir / "server.sock")
    clientPath = str(sockdir / "client.sock")
    server = Datagrams()
    reactor.listenUNIXDatagram(serverPath, server)
    client = ConnectedDatagrams()
    port = reactor.connectUNIXDatagram(serverPath, client, bindAddress=clientPath)
    assert port.getPeer() == UNIXAddress(serverPath)
    assert port.getHost() == UNIXAddress(clientPath)
    assert client.started == 1
    port.write(b"ping")
    runUntil(reactor, lambda: server.received == [(b"ping", clientPath)])
    server.transport.write(b"pong", clientPath)
    runUntil(reactor, lambda: client.received == [(b"pong", None)])


def test_connectToMissingPathCallsConnectionFailed(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "nobody.sock")
    bound = sockdir / "mine.sock"
    protocol = ConnectedDatagrams()
    port = reactor.connectUNIXDatagram(path, protocol, bindAddress=str(bound))
    assert len(protocol.failures) == 1
    assert protocol.failures[0].check(error.BadFileError)
    assert "start the server, or check the path" in str(protocol.failures[0].value)
    assert protocol.started == 0
    assert not bound.exists(), "the bound socket file of a failed port was left behind"
    assert port.fileno() == -1
    runUntilFired(reactor, port.stopListening())


def test_connectToStreamSocketFailsSayingSo(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "stream.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stream:
        stream.bind(path)
        stream.listen()
        protocol = ConnectedDatagrams()
        reactor.connectUNIXDatagram(path, protocol)
    assert "is a stream socket, not a datagram socket" in str(protocol.failures[0].value)


def test_unusableBindAddressCallsConnectionFailed(reactor: Any, sockdir: Path) -> None:
    reactor.listenUNIXDatagram(str(sockdir / "server.sock"), Datagrams())
    protocol = ConnectedDatagrams()
    reactor.connectUNIXDatagram(
        str(sockdir / "server.sock"), protocol, bindAddress=str(sockdir / "no" / "c.sock")
    )
    assert protocol.failures[0].check(error.CannotListenError)
    assert "does not exist" in str(protocol.failures[0].value)


def test_peerGoneGivesConnectionRefused(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "server.sock")
    server = reactor.listenUNIXDatagram(path, Datagrams())
    client = ConnectedDatagrams()
    port = reactor.connectUNIXDatagram(path, client)
    runUntilFired(reactor, server.stopListening())
    port.write(b"anyone?")
    runUntil(reactor, lambda: client.refused >= 1)


def test_connectedPortWaitsForRoomInsteadOfDropping(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "slow.sock")
    with pythonPeer(path) as slow:
        client = ConnectedDatagrams()
        port = reactor.connectUNIXDatagram(path, client)
        count = 300
        for i in range(count):
            port.write(b"%04d" % i + b"." * 500)
        assert port._pending, "the peer's queue never filled, so nothing was tested"
        received: list[bytes] = []
        slow.setblocking(False)

        def readSome() -> bool:
            try:
                while True:
                    received.append(slow.recv(1000))
            except BlockingIOError:
                pass
            return len(received) == count

        runUntil(reactor, readSome)
    assert [d[:4] for d in received] == [b"%04d" % i for i in range(count)]


def test_connectedPortBufferIsBounded(
    reactor: Any, sockdir: Path, loggedMessages: list[dict[str, Any]]
) -> None:
    path = str(sockdir / "stuck.sock")
    with pythonPeer(path):
        port = reactor.connectUNIXDatagram(path, ConnectedDatagrams())
        for _ in range(2000):
            port.write(b"." * 1000)
        assert port._pendingSize <= port.maxBufferedBytes
        assert any("not keeping up" in t for t in texts(loggedMessages))


def test_unconnectedWriteToFullReceiverDropsAndLogsOnce(
    reactor: Any, sockdir: Path, loggedMessages: list[dict[str, Any]]
) -> None:
    path = str(sockdir / "server.sock")
    port = reactor.listenUNIXDatagram(path, Datagrams())
    target = str(sockdir / "full.sock")
    with pythonPeer(target):
        for _ in range(2000):
            port.write(b"." * 1000, target)
    drops = [t for t in texts(loggedMessages) if "not keeping up" in t]
    assert len(drops) == 1 and repr(target) in drops[0]


def test_writeToMissingPathRaisesNamingIt(reactor: Any, sockdir: Path) -> None:
    port = reactor.listenUNIXDatagram(str(sockdir / "s.sock"), Datagrams())
    missing = str(sockdir / "missing.sock")
    with pytest.raises(OSError) as info:
        port.write(b"x", missing)
    assert info.value.errno == errno.ENOENT
    assert repr(missing) in str(info.value)


def test_tooLongDatagramRaisesMessageLengthError(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "s.sock")
    port = reactor.listenUNIXDatagram(path, Datagrams())
    with pytest.raises(error.MessageLengthError, match="send smaller datagrams"):
        port.write(b"x" * (8 * 1024 * 1024), path)
    connected = reactor.connectUNIXDatagram(path, ConnectedDatagrams())
    with pytest.raises(error.MessageLengthError):
        connected.write(b"x" * (8 * 1024 * 1024))


def test_writeRejectsText(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "s.sock")
    port = reactor.listenUNIXDatagram(path, Datagrams())
    with pytest.raises(TypeError, match="encode text first"):
        port.write("text", path)


def test_datagramLongerThanMaxPacketSizeIsDroppedAndLogged(
    reactor: Any, sockdir: Path, loggedMessages: list[dict[str, Any]]
) -> None:
    path = str(sockdir / "small.sock")
    protocol = Datagrams()
    reactor.listenUNIXDatagram(path, protocol, maxPacketSize=100)
    with pythonPeer() as peer:
        peer.sendto(b"x" * 101, path)
        peer.sendto(b"fits", path)
        runUntil(reactor, lambda: protocol.received == [(b"fits", None)])
    assert any("longer than maxPacketSize (100 bytes)" in t for t in texts(loggedMessages))


def test_protocolErrorIsLoggedAndPortGoesOn(
    reactor: Any, sockdir: Path, loggedErrors: list[dict[str, Any]]
) -> None:
    class Fragile(Datagrams):
        def datagramReceived(self, datagram: bytes, addr: Any) -> None:
            if datagram == b"bad":
                raise ValueError("cannot take it")
            super().datagramReceived(datagram, addr)

    path = str(sockdir / "s.sock")
    protocol = Fragile()
    reactor.listenUNIXDatagram(path, protocol)
    with pythonPeer() as peer:
        peer.sendto(b"bad", path)
        peer.sendto(b"good", path)
        runUntil(reactor, lambda: protocol.received == [(b"good", None)])
    assert any("cannot take it" in str(e.get("failure")) for e in loggedErrors)


def test_socketFileModeStaleFileInUseAndRemoval(reactor: Any, sockdir: Path) -> None:
    path = sockdir / "d.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as old:
        old.bind(str(path))  # stale once closed
    protocol = Datagrams()
    port = reactor.listenUNIXDatagram(str(path), protocol, mode=0o620)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o620
    with pytest.raises(error.CannotListenError, match="in use") as info:
        reactor.listenUNIXDatagram(str(path), Datagrams())
    assert info.value.socketError.errno == errno.EADDRINUSE
    runUntilFired(reactor, port.stopListening())
    assert not path.exists()
    assert protocol.stopped == 1 and protocol.transport is None


def test_listenErrorsSayWhy(reactor: Any, sockdir: Path) -> None:
    with pytest.raises(error.CannotListenError, match="use a shorter path"):
        reactor.listenUNIXDatagram(str(sockdir / ("z" * 120)), Datagrams())
    with pytest.raises(error.CannotListenError, match="does not exist; create it first"):
        reactor.listenUNIXDatagram(str(sockdir / "no" / "d.sock"), Datagrams())


def test_logLines(reactor: Any, sockdir: Path, loggedMessages: list[dict[str, Any]]) -> None:
    path = str(sockdir / "log.sock")
    port = reactor.listenUNIXDatagram(path, Datagrams())
    connected = reactor.connectUNIXDatagram(path, ConnectedDatagrams())
    runUntilFired(reactor, connected.stopListening())
    runUntilFired(reactor, port.stopListening())
    lines = texts(loggedMessages)
    assert f"tests.internet.test_unixdatagram.Datagrams starting on {path!r}" in lines
    assert f"tests.internet.test_unixdatagram.ConnectedDatagrams connected to {path!r}" in lines
    assert f"(UNIX Datagram Port to {path} Closed)" in lines
    assert f"(UNIX Datagram Port {path} Closed)" in lines


def test_protocolStartedOnceStoppedOnceAndPortRestartable(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "again.sock")
    protocol = Datagrams()
    port = reactor.listenUNIXDatagram(path, protocol)
    with pytest.raises(error.AlreadyListened):
        port.startListening()
    runUntilFired(reactor, port.stopListening())
    runUntilFired(reactor, port.stopListening())
    assert (protocol.started, protocol.stopped) == (1, 1)
    port.startListening()
    assert protocol.started == 2
    with pythonPeer() as peer:
        peer.sendto(b"back", path)
        runUntil(reactor, lambda: protocol.received == [(b"back", None)])


def test_reactorShutdownClosesDatagramPorts(reactor: Any, sockdir: Path) -> None:
    path = sockdir / "shut.sock"
    protocol = Datagrams()
    reactor.listenUNIXDatagram(str(path), protocol)
    reactor.disconnectAll()
    assert protocol.stopped == 1
    assert not path.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="abstract names are Linux's")
def test_abstractNames(reactor: Any) -> None:
    name = f"\0torsion-dgram-{uuid.uuid4().hex}"
    clientName = name + "-client"
    server = Datagrams()
    reactor.listenUNIXDatagram(name, server)
    client = ConnectedDatagrams()
    port = reactor.connectUNIXDatagram(name, client, bindAddress=clientName)
    port.write(b"abstract")
    runUntil(reactor, lambda: server.received == [(b"abstract", clientName)])
    server.transport.write(b"reply", clientName)
    runUntil(reactor, lambda: client.received == [(b"reply", None)])
