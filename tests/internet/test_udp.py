"""Tests for torsion.internet.udp over real sockets on 127.0.0.1 (and ::1).

Every test taking ``reactor`` runs on each reactor (the conformance suite); the peers
are plain Python sockets. Multicast is in test_multicast.py.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from zope.interface.verify import verifyObject

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from torsion.internet import error, udp
from torsion.internet.address import IPv4Address, IPv6Address
from torsion.internet.interfaces import (
    IListeningPort,
    IReactorMulticast,
    IReactorUDP,
    IUDPTransport,
)
from torsion.internet.protocol import DatagramProtocol
from torsion.python import log

loggedErrors = reactormixins.loggedErrors
loggedMessages = reactormixins.loggedMessages
reactor = reactormixins.reactor


class Recorder(DatagramProtocol):
    """Keeps what it receives and counts its start, stop and refusals."""

    noisy = False

    def __init__(self) -> None:
        self.datagrams: list[tuple[bytes, Any]] = []
        self.started = 0
        self.stopped = 0
        self.refused = 0

    def startProtocol(self) -> None:
        self.started += 1

    def stopProtocol(self) -> None:
        self.stopped += 1

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.datagrams.append((datagram, addr))

    def connectionRefused(self) -> None:
        self.refused += 1


class Echo(Recorder):
    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        super().datagramReceived(datagram, addr)
        self.transport.write(datagram, addr)


class ConnectedTo(Recorder):
    """Connects its port to ``peer`` as soon as it starts."""

    def __init__(self, peer: tuple[str, int]) -> None:
        super().__init__()
        self.peer = peer

    def startProtocol(self) -> None:
        super().startProtocol()
        self.transport.connect(*self.peer)


@pytest.fixture
def peers() -> Iterator[Callable[..., socket.socket]]:
    """Make bound UDP sockets on the loopback address (closed after the test)."""
    made: list[socket.socket] = []

    def make(family: int = socket.AF_INET) -> socket.socket:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        made.append(sock)
        sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        sock.settimeout(5)
        return sock

    yield make
    for sock in made:
        sock.close()


def freePort() -> int:
    """Return a UDP port number on 127.0.0.1 that nothing is bound to (just now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def listen(reactor: Any, protocol: DatagramProtocol, **kw: Any) -> Any:
    kw.setdefault("interface", "127.0.0.1")
    return reactor.listenUDP(0, protocol, **kw)


def address(port: Any) -> tuple[str, int]:
    host = port.getHost()
    return (host.host, host.port)


def messages(events: list[dict[str, Any]]) -> list[str]:
    return [" ".join(map(str, e.get("message", ()))) for e in events]


# -- sending and receiving -----------------------------------------------------------------


def test_echoesToARealSocketPeer(reactor: Any, peers: Any) -> None:
    proto = Echo()
    port = listen(reactor, proto)
    peer = peers()
    peer.sendto(b"hello", address(port))
    runUntil(reactor, lambda: proto.datagrams)
    assert proto.datagrams == [(b"hello", peer.getsockname())]
    assert peer.recvfrom(100) == (b"hello", address(port))


def test_sendsToAPeerWithoutBeingAsked(reactor: Any, peers: Any) -> None:
    proto = Recorder()
    port = listen(reactor, proto)
    peer = peers()
    proto.transport.write(b"first", peer.getsockname())
    proto.transport.writeSequence([b"sec", b"ond"], peer.getsockname())
    # Sent at once, without the reactor running: a datagram is not buffered.
    assert peer.recvfrom(100) == (b"first", address(port))
    assert peer.recvfrom(100) == (b"second", address(port))


def test_eachDatagramArrivesWhole(reactor: Any, peers: Any) -> None:
    proto = Recorder()
    port = listen(reactor, proto)
    peer = peers()
    sizes = [1, 0, 1000, 8192, 3]
    for size in sizes:
        peer.sendto(b"x" * size, address(port))
    runUntil(reactor, lambda: len(proto.datagrams) == len(sizes))
    assert [len(d) for d, _ in proto.datagrams] == sizes


def test_manyDatagramsAreReadAcrossReadinessEvents(reactor: Any, peers: Any) -> None:
    proto = Recorder()
    port = listen(reactor, proto)
    peer = peers()
    count = udp.Port.datagramsPerRead * 2 + 50
    for i in range(count):
        peer.sendto(b"%d" % i, address(port))
    runUntil(reactor, lambda: len(proto.datagrams) == count)
    assert [int(d) for d, _ in proto.datagrams] == list(range(count))


def test_oneReadTakesAtMostDatagramsPerRead(reactor: Any, peers: Any) -> None:
    class SmallReads(udp.Port):
        __slots__ = ()
        datagramsPerRead = 10

    proto = Recorder()
    port = SmallReads(0, proto, "127.0.0.1", 8192, reactor)
    port.startListening()
    peer = peers()
    for i in range(25):
        peer.sendto(b"%d" % i, address(port))
    # On the loopback interface a sent datagram is queued at the receiver at once.
    port.doRead()
    assert len(proto.datagrams) == 10
    runUntil(reactor, lambda: len(proto.datagrams) == 25)
    port.stopListening()


def test_portZeroGetsARealPortAndUDPAddress(reactor: Any) -> None:
    port = listen(reactor, Recorder())
    host = port.getHost()
    assert isinstance(host, IPv4Address)
    assert host.type == "UDP"
    assert host.host == "127.0.0.1"
    assert host.port > 0
    assert repr(port) == f"<Recorder on {host.port}>"


def test_portAndReactorProvideTheirInterfaces(reactor: Any) -> None:
    port = listen(reactor, Recorder())
    assert verifyObject(IUDPTransport, port)
    assert verifyObject(IListeningPort, port)
    assert IReactorUDP.providedBy(reactor)
    assert IReactorMulticast.providedBy(reactor)


# -- the protocol's life -------------------------------------------------------------------


def test_startAndStopLogTheSeedsLines(reactor: Any, loggedMessages: Any) -> None:
    proto = Recorder()
    port = listen(reactor, proto)
    number = port.getHost().port
    assert proto.started == 1
    assert proto.transport is port
    runUntilFired(reactor, port.stopListening())
    assert proto.stopped == 1
    assert proto.transport is None
    assert port.fileno() == -1
    lines = messages(loggedMessages)
    assert f"tests.internet.test_udp.Recorder starting on {number}" in lines
    assert f"(UDP Port {number} Closed)" in lines
    assert repr(port) == "<Recorder not connected>"


def test_quietProtocolsPortLogsNothing(reactor: Any, loggedMessages: Any) -> None:
    """A client that opens a port per request (a DNS resolver) stays out of the log."""
    proto = Recorder()
    proto.logPortEvents = False
    port = listen(reactor, proto)
    runUntilFired(reactor, port.stopListening())
    assert messages(loggedMessages) == []


def test_noisyProtocolLogsStartingAndStopping(reactor: Any, loggedMessages: Any) -> None:
    proto = Recorder()
    proto.noisy = True
    port = listen(reactor, proto)
    runUntilFired(reactor, port.stopListening())
    lines = messages(loggedMessages)
    assert any(line.startswith("Starting protocol <") for line in lines)
    assert any(line.startswith("Stopping protocol <") for line in lines)


def test_stopListeningTwiceGivesTheSameDeferred(reactor: Any) -> None:
    port = listen(reactor, Recorder())
    first = port.stopListening()
    assert port.stopListening() is first
    runUntilFired(reactor, first)
    assert port.loseConnection() is None


def test_stoppedPortCanListenAgain(reactor: Any, peers: Any) -> None:
    proto = Echo()
    number = freePort()
    port = reactor.listenUDP(number, proto, interface="127.0.0.1")
    runUntilFired(reactor, port.stopListening())
    port.startListening()
    assert proto.started == 2
    assert port.getHost().port == number
    peer = peers()
    peer.sendto(b"again", ("127.0.0.1", number))
    runUntil(reactor, lambda: proto.datagrams)
    assert peer.recvfrom(100) == (b"again", ("127.0.0.1", number))
    with pytest.raises(error.AlreadyListened):
        port.startListening()


def test_portInUseRaisesCannotListenError(reactor: Any, peers: Any) -> None:
    taken = peers()
    number = taken.getsockname()[1]
    with pytest.raises(error.CannotListenError) as caught:
        reactor.listenUDP(number, Recorder(), interface="127.0.0.1")
    assert f"127.0.0.1:{number}" in str(caught.value)
    assert "in use" in str(caught.value)


def test_badArgumentsAreRefusedClearly(reactor: Any) -> None:
    with pytest.raises(ValueError, match="0 to 65535"):
        reactor.listenUDP(70000, Recorder())
    with pytest.raises(ValueError, match="maxPacketSize"):
        reactor.listenUDP(0, Recorder(), interface="127.0.0.1", maxPacketSize=0)
    with pytest.raises(TypeError, match="interface"):
        reactor.listenUDP(0, Recorder(), interface=None)


def test_startProtocolRaisingClosesThePortAndRaises(reactor: Any, loggedMessages: Any) -> None:
    class Broken(Recorder):
        def startProtocol(self) -> None:
            raise RuntimeError("no start")

    number = freePort()
    proto = Broken()
    with pytest.raises(RuntimeError, match="no start"):
        reactor.listenUDP(number, proto, interface="127.0.0.1")
    assert proto.transport is None
    assert f"(UDP Port {number} Closed)" in messages(loggedMessages)
    # The address is free again.
    reactor.listenUDP(number, Recorder(), interface="127.0.0.1")


def test_oneProtocolServesOnePortAtATime(reactor: Any) -> None:
    proto = Recorder()
    listen(reactor, proto)
    with pytest.raises(RuntimeError, match="one port at a time"):
        listen(reactor, proto)


def test_reactorShutdownClosesThePort(reactor: Any, loggedMessages: Any) -> None:
    proto = Recorder()
    port = listen(reactor, proto)
    number = port.getHost().port
    reactor.disconnectAll()
    assert proto.stopped == 1
    assert f"(UDP Port {number} Closed)" in messages(loggedMessages)


def test_protocolRaisingIsLoggedAndThePortGoesOn(
    reactor: Any, peers: Any, loggedErrors: Any
) -> None:
    class Exploding(Echo):
        def datagramReceived(self, datagram: bytes, addr: Any) -> None:
            if datagram == b"boom":
                raise ValueError("bad datagram")
            super().datagramReceived(datagram, addr)

    proto = Exploding()
    port = listen(reactor, proto)
    peer = peers()
    peer.sendto(b"boom", address(port))
    peer.sendto(b"fine", address(port))
    runUntil(reactor, lambda: proto.datagrams)
    assert proto.datagrams[0][0] == b"fine"
    assert peer.recvfrom(100)[0] == b"fine"
    assert len(loggedErrors) == 1
    assert loggedErrors[0]["failure"].check(ValueError)
    assert loggedErrors[0]["system"] == "Exploding (UDP)"
    assert port.connected


def test_whatTheProtocolLogsCarriesThePortsPrefix(
    reactor: Any, peers: Any, loggedMessages: Any
) -> None:
    class Chatty(Recorder):
        def datagramReceived(self, datagram: bytes, addr: Any) -> None:
            super().datagramReceived(datagram, addr)
            log.msg(f"got {datagram!r}")

    proto = Chatty()
    port = listen(reactor, proto)
    peers().sendto(b"hi", address(port))
    runUntil(reactor, lambda: proto.datagrams)
    [event] = [e for e in loggedMessages if e.get("message") == ("got b'hi'",)]
    assert event["system"] == "Chatty (UDP)"


def test_pauseProducingHoldsDatagramsUntilResumed(reactor: Any, peers: Any) -> None:
    class Pausing(Recorder):
        def datagramReceived(self, datagram: bytes, addr: Any) -> None:
            super().datagramReceived(datagram, addr)
            self.transport.pauseProducing()

    proto = Pausing()
    port = listen(reactor, proto)
    peer = peers()
    peer.sendto(b"one", address(port))
    peer.sendto(b"two", address(port))
    runUntil(reactor, lambda: proto.datagrams)
    for _ in range(5):
        reactor.iterate(0.01)
    assert [d for d, _ in proto.datagrams] == [b"one"]
    port.resumeProducing()
    runUntil(reactor, lambda: len(proto.datagrams) == 2)


def test_stopListeningFromDatagramReceivedReadsNoMore(reactor: Any, peers: Any) -> None:
    class Stopping(Recorder):
        def datagramReceived(self, datagram: bytes, addr: Any) -> None:
            super().datagramReceived(datagram, addr)
            self.stoppedPort = self.transport.stopListening()

    proto = Stopping()
    port = listen(reactor, proto)
    peer = peers()
    for chunk in (b"a", b"b", b"c"):
        peer.sendto(chunk, address(port))
    runUntil(reactor, lambda: proto.datagrams)
    runUntilFired(reactor, proto.stoppedPort)
    assert proto.datagrams == [(b"a", peer.getsockname())]
    assert not port.connected


# -- maxPacketSize ----------------------------------------------------------------------


def test_longerDatagramIsCutToMaxPacketSizeAndLoggedOnce(
    reactor: Any, peers: Any, loggedMessages: Any
) -> None:
    proto = Recorder()
    port = listen(reactor, proto, maxPacketSize=10)
    peer = peers()
    peer.sendto(b"0123456789abcdef", address(port))
    peer.sendto(b"0123456789", address(port))
    peer.sendto(b"ABCDEFGHIJKLMNOP", address(port))
    runUntil(reactor, lambda: len(proto.datagrams) == 3)
    assert [d for d, _ in proto.datagrams] == [b"0123456789", b"0123456789", b"ABCDEFGHIJ"]
    notes = [m for m in messages(loggedMessages) if "maxPacketSize" in m]
    assert len(notes) == 1
    assert "(10 bytes)" in notes[0]
    assert "pass a larger maxPacketSize" in notes[0]


def test_datagramOfExactlyMaxPacketSizeIsWholeAndNotLogged(
    reactor: Any, peers: Any, loggedMessages: Any
) -> None:
    proto = Recorder()
    port = listen(reactor, proto, maxPacketSize=10)
    peers().sendto(b"0123456789", address(port))
    runUntil(reactor, lambda: proto.datagrams)
    assert proto.datagrams[0][0] == b"0123456789"
    assert not [m for m in messages(loggedMessages) if "maxPacketSize" in m]


# -- write errors ------------------------------------------------------------------------


def test_oversizedDatagramRaisesMessageLengthError(reactor: Any, peers: Any) -> None:
    proto = Recorder()
    listen(reactor, proto)
    with pytest.raises(error.MessageLengthError) as caught:
        proto.transport.write(b"x" * 70000, peers().getsockname())
    assert "70000 bytes" in str(caught.value)
    assert "65507" in str(caught.value)


def test_writeChecksTheDestination(reactor: Any, peers: Any) -> None:
    proto = Recorder()
    listen(reactor, proto)
    write = proto.transport.write
    with pytest.raises(error.InvalidAddressError, match="not host names"):
        write(b"x", ("localhost", 9))
    with pytest.raises(error.InvalidAddressError, match="IPv6 address"):
        write(b"x", ("::1", 9))
    with pytest.raises(ValueError, match="not connected"):
        write(b"x")
    with pytest.raises(TypeError, match="tuple"):
        write(b"x", 9)
    with pytest.raises(TypeError, match="encode"):
        write("text", peers().getsockname())
    with pytest.raises(TypeError, match="tuple"):
        write(b"x", ("127.0.0.1", "nine"))


def test_aBadDestinationAfterAGoodOneIsStillRefused(reactor: Any, peers: Any) -> None:
    proto = Recorder()
    listen(reactor, proto)
    peer = peers()
    proto.transport.write(b"ok", peer.getsockname())
    with pytest.raises(error.InvalidAddressError):
        proto.transport.write(b"x", ("example.invalid", 9))
    proto.transport.write(b"ok again", peer.getsockname())
    assert peer.recvfrom(100)[0] == b"ok"
    assert peer.recvfrom(100)[0] == b"ok again"


def test_writeAfterStopListeningSendsNothing(reactor: Any, peers: Any) -> None:
    proto = Recorder()
    port = listen(reactor, proto)
    runUntilFired(reactor, port.stopListening())
    peer = peers()
    peer.settimeout(0.1)
    port.write(b"late", peer.getsockname())
    with pytest.raises(TimeoutError):
        peer.recvfrom(100)


def test_unconnectedPortIgnoresRefusals(reactor: Any) -> None:
    proto = Recorder()
    listen(reactor, proto)
    proto.transport.write(b"nobody", ("127.0.0.1", freePort()))
    for _ in range(5):
        reactor.iterate(0.01)
    assert proto.refused == 0


# -- connected UDP -----------------------------------------------------------------------


def test_connectedPortWritesWithoutAddressAndHearsOnlyItsPeer(reactor: Any, peers: Any) -> None:
    peer, stranger = peers(), peers()
    proto = ConnectedTo(peer.getsockname())
    port = listen(reactor, proto)
    proto.transport.write(b"to you")
    proto.transport.write(b"to you too", peer.getsockname())
    assert peer.recvfrom(100) == (b"to you", address(port))
    assert peer.recvfrom(100)[0] == b"to you too"
    stranger.sendto(b"from a stranger", address(port))
    peer.sendto(b"from the peer", address(port))
    runUntil(reactor, lambda: proto.datagrams)
    for _ in range(3):
        reactor.iterate(0.01)
    assert proto.datagrams == [(b"from the peer", peer.getsockname())]


def test_connectedPortHearsConnectionRefused(reactor: Any) -> None:
    proto = ConnectedTo(("127.0.0.1", freePort()))
    listen(reactor, proto)
    proto.transport.write(b"anyone there?")
    runUntil(reactor, lambda: proto.refused)
    assert proto.refused == 1
    assert proto.transport.connected
    # The error was read: the next write goes out normally, and is refused again.
    proto.transport.write(b"still?")
    runUntil(reactor, lambda: proto.refused == 2)


def test_connectionRefusedRaisingIsLogged(reactor: Any, loggedErrors: Any) -> None:
    class Touchy(ConnectedTo):
        def connectionRefused(self) -> None:
            super().connectionRefused()
            raise RuntimeError("refused!")

    proto = Touchy(("127.0.0.1", freePort()))
    listen(reactor, proto)
    proto.transport.write(b"x")
    runUntil(reactor, lambda: loggedErrors)
    assert loggedErrors[0]["failure"].check(RuntimeError)
    assert proto.transport.connected


def test_connectNeedsAnIPAddressAndConnectsOnce(reactor: Any, peers: Any) -> None:
    proto = Recorder()
    port = listen(reactor, proto)
    with pytest.raises(error.InvalidAddressError, match="not a host name"):
        port.connect("localhost", 9)
    with pytest.raises(error.InvalidAddressError, match="IPv6 address"):
        port.connect("::1", 9)
    peer = peers()
    port.connect(*peer.getsockname())
    with pytest.raises(RuntimeError, match="connected to"):
        port.connect(*peer.getsockname())
    with pytest.raises(error.InvalidAddressError, match="connected to"):
        port.write(b"x", ("127.0.0.1", 9))


def test_connectOnAStoppedPortRaises(reactor: Any) -> None:
    port = listen(reactor, Recorder())
    runUntilFired(reactor, port.stopListening())
    with pytest.raises(RuntimeError, match="not listening"):
        port.connect("127.0.0.1", 9)


def test_restartedPortIsNoLongerConnected(reactor: Any, peers: Any) -> None:
    peer, other = peers(), peers()
    proto = Recorder()
    port = listen(reactor, proto)
    port.connect(*peer.getsockname())
    runUntilFired(reactor, port.stopListening())
    port.startListening()
    port.write(b"anywhere", other.getsockname())
    assert other.recvfrom(100)[0] == b"anywhere"


# -- broadcast ---------------------------------------------------------------------------


def test_broadcastNeedsPermission(reactor: Any) -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        # 127.255.255.255 is the loopback network's broadcast address on Linux.
        receiver.bind(("127.255.255.255", 0))
    except OSError as e:
        receiver.close()
        pytest.skip(f"cannot bind the loopback broadcast address here: {e}")
    with receiver:
        receiver.settimeout(5)
        destination = receiver.getsockname()
        proto = Recorder()
        port = listen(reactor, proto, interface="")
        assert port.getBroadcastAllowed() is False
        with pytest.raises(OSError) as caught:
            port.write(b"to all", destination)
        assert caught.value.errno == errno.EACCES
        assert any("setBroadcastAllowed(True)" in note for note in caught.value.__notes__)
        port.setBroadcastAllowed(True)
        assert port.getBroadcastAllowed() is True
        port.write(b"to all", destination)
        assert receiver.recvfrom(100)[0] == b"to all"
        port.setBroadcastAllowed(False)
        assert port.getBroadcastAllowed() is False


def test_optionsOfAStoppedPortRaise(reactor: Any) -> None:
    port = listen(reactor, Recorder())
    runUntilFired(reactor, port.stopListening())
    with pytest.raises(RuntimeError, match="not listening"):
        port.setBroadcastAllowed(True)
    assert port.getHost().port > 0  # still known after closing


# -- a full send buffer --------------------------------------------------------------------


class FullSocket:
    """Wraps a port's socket; while ``full``, sends fail with EWOULDBLOCK."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.full = True
        self.attempts = 0

    def sendto(self, data: bytes, addr: Any) -> int:
        self.attempts += 1
        if self.full:
            raise BlockingIOError(errno.EWOULDBLOCK, "full")
        return self.sock.sendto(data, addr)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


def test_fullSendBufferQueuesDatagramsAndSendsThemInOrder(
    reactor: Any, peers: Any, loggedMessages: Any
) -> None:
    proto = Recorder()
    port = listen(reactor, proto)
    full = FullSocket(port.socket)
    port.socket = full
    peer = peers()
    for i in range(3):
        port.write(b"%d" % i, peer.getsockname())
    assert port.bufferedSize() == 3
    assert full.attempts == 1  # Later datagrams queue behind the first, in order.
    with pytest.raises(TypeError, match="encode"):
        port.write("text", peer.getsockname())
    assert port in reactor.getWriters()
    full.full = False
    runUntil(reactor, lambda: port.bufferedSize() == 0)
    assert [peer.recvfrom(100)[0] for _ in range(3)] == [b"0", b"1", b"2"]
    assert port not in reactor.getWriters()
    assert not [m for m in messages(loggedMessages) if "dropped" in m]


def test_fullQueueDropsTheExcessAndSaysSo(reactor: Any, peers: Any, loggedMessages: Any) -> None:
    proto = Recorder()
    port = listen(reactor, proto)
    full = FullSocket(port.socket)
    port.socket = full
    peer = peers()
    limit = udp.Port.maxQueuedDatagrams
    for i in range(limit + 5):
        port.write(b"%d" % i, peer.getsockname())
    full.full = False
    runUntil(reactor, lambda: port.bufferedSize() == 0)
    received = [peer.recvfrom(100)[0] for _ in range(limit)]
    assert received == [b"%d" % i for i in range(limit)]
    assert any(f"dropped 5 datagrams beyond the {limit}" in m for m in messages(loggedMessages))


def test_queuedDatagramsAreDroppedWhenThePortCloses(reactor: Any, peers: Any) -> None:
    proto = Recorder()
    port = listen(reactor, proto)
    port.socket = FullSocket(port.socket)
    port.write(b"never", peers().getsockname())
    runUntilFired(reactor, port.stopListening())
    assert port.bufferedSize() == 0


def test_registerProducerIsRefused(reactor: Any) -> None:
    port = listen(reactor, Recorder())
    with pytest.raises(NotImplementedError, match="datagram"):
        port.registerProducer(object(), True)


# -- errors the network reports when reading -----------------------------------------------


class FailingReads:
    """Wraps a port's socket; the next receive fails with ``code``."""

    def __init__(self, sock: socket.socket, code: int) -> None:
        self.sock = sock
        self.code: int | None = code

    def recvfrom(self, size: int) -> Any:
        code, self.code = self.code, None
        if code is not None:
            raise OSError(code, errno.errorcode[code])
        return self.sock.recvfrom(size)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


def test_networkReportedErrorIsLoggedAndReadingGoesOn(
    reactor: Any, peers: Any, loggedMessages: Any
) -> None:
    proto = Recorder()
    port = listen(reactor, proto)
    port.socket = FailingReads(port.socket, errno.EHOSTUNREACH)
    peer = peers()
    peer.sendto(b"after", address(port))
    runUntil(reactor, lambda: proto.datagrams)
    assert proto.datagrams[0][0] == b"after"
    assert any("EHOSTUNREACH" in m for m in messages(loggedMessages))


def test_unexpectedReadErrorClosesThePortAndIsLogged(
    reactor: Any, peers: Any, loggedErrors: Any
) -> None:
    proto = Recorder()
    port = listen(reactor, proto)
    port.socket = FailingReads(port.socket, errno.EINVAL)
    peers().sendto(b"x", address(port))
    runUntil(reactor, lambda: proto.stopped)
    assert len(loggedErrors) == 1
    assert not port.connected


# -- IPv6 --------------------------------------------------------------------------------


def _hasIPv6Loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


needsIPv6 = pytest.mark.skipif(not _hasIPv6Loopback(), reason="this machine has no ::1")


@needsIPv6
def test_ipv6EchoOnLoopback(reactor: Any, peers: Any) -> None:
    proto = Echo()
    port = listen(reactor, proto, interface="::1")
    host = port.getHost()
    assert isinstance(host, IPv6Address)
    assert (host.type, host.host) == ("UDP", "::1")
    peer = peers(socket.AF_INET6)
    peer.sendto(b"six", (host.host, host.port))
    runUntil(reactor, lambda: proto.datagrams)
    # The address is (host, port), as for IPv4.
    assert proto.datagrams == [(b"six", peer.getsockname()[:2])]
    assert peer.recvfrom(100)[0] == b"six"


@needsIPv6
def test_ipv6PortRefusesIPv4Destinations(reactor: Any) -> None:
    proto = Recorder()
    port = listen(reactor, proto, interface="::1")
    with pytest.raises(error.InvalidAddressError, match="IPv4"):
        port.write(b"x", ("127.0.0.1", 9))
    with pytest.raises(error.InvalidAddressError, match="IPv4"):
        port.write(b"x", ("<broadcast>", 9))
    with pytest.raises(error.InvalidAddressError, match="not host names"):
        port.write(b"x", ("localhost", 9))


@needsIPv6
def test_ipv6ConnectedPortHearsConnectionRefused(reactor: Any, peers: Any) -> None:
    closed = peers(socket.AF_INET6)
    number = closed.getsockname()[1]
    closed.close()
    proto = ConnectedTo(("::1", number))
    listen(reactor, proto, interface="::1")
    proto.transport.write(b"hello?")
    runUntil(reactor, lambda: proto.refused)


@needsIPv6
def test_ipv6AndIPv4ShareAPortNumber(reactor: Any) -> None:
    v4 = listen(reactor, Recorder())
    number = v4.getHost().port
    v6 = reactor.listenUDP(number, Recorder(), interface="::1")
    assert v6.getHost().port == number


# -- the in-memory reactor ----------------------------------------------------------------


def test_memoryReactorRecordsUDPPorts() -> None:
    from torsion.internet.testing import MemoryReactor

    memory = MemoryReactor()
    proto = Recorder()
    port = memory.listenUDP(5353, proto, interface="127.0.0.1", maxPacketSize=512)
    memory.listenMulticast(5354, proto, listenMultiple=True)
    assert memory.udpServers == [
        (5353, proto, "127.0.0.1", 512),
        (5354, proto, "", 8192, True),
    ]
    assert port.getHost() == IPv4Address("UDP", "127.0.0.1", 5353)
    assert IReactorUDP.providedBy(memory)
    assert IReactorMulticast.providedBy(memory)
    assert proto.started == 0
