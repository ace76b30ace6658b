"""Faults on TCP connections: what torsion does when the network or a protocol misbehaves.

Refused connections, resets in the middle of a write, half-closes by the peer,
protocols that raise in their callbacks, running out of descriptors (EMFILE) on accept
and on connect, and descriptor leaks over many connections. Each test runs on every
reactor of the ``reactor`` fixture (the EMFILE test runs each in a subprocess, so that
its lowered descriptor limit cannot disturb other tests).
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from zope.interface import implementer

from tests.internet import reactormixins
from tests.internet.reactormixins import REACTOR_FACTORIES, runUntil, runUntilFired
from tests.internet.test_tcp import (
    OneProtocolFactory,
    Recorder,
    connectedPair,
    listen,
    serverFactory,
    shrinkKernelBuffers,
)
from torsion.internet import error
from torsion.internet.interfaces import IHalfCloseableProtocol, IPushProducer
from torsion.internet.protocol import ClientFactory, Factory, Protocol
from torsion.protocols.wire import Echo

loggedErrors = reactormixins.loggedErrors
reactor = reactormixins.reactor

ROOT = Path(__file__).resolve().parents[2]


def freePort() -> int:
    """Return a port number nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rawClient(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setblocking(False)
    return sock


def readUntilClosed(reactor: Any, sock: socket.socket, timeout: float = 5.0) -> bytes:
    """Iterate the reactor while reading ``sock`` until the peer closes it."""
    received = bytearray()
    closed: list[bool] = []

    def readSome() -> bool:
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            return False
        except ConnectionResetError:
            closed.append(True)
            return True
        if not chunk:
            closed.append(True)
        received.extend(chunk)
        return bool(closed)

    runUntil(reactor, readSome, timeout)
    return bytes(received)


# -- refused and reset ------------------------------------------------------------------


def test_connectionRefusedReportsToFactory(reactor: Any) -> None:
    factory = OneProtocolFactory(Recorder())
    reactor.connectTCP("127.0.0.1", freePort(), factory)
    runUntilFired(reactor, factory.failed)
    assert factory.failReason.check(error.ConnectionRefusedError)
    assert "refused" in str(factory.failReason.value)
    assert not factory.instance.made.called  # type: ignore[attr-defined]


def test_resetByPeerDuringLargeWriteIsConnectionLostAndNotLogged(
    reactor: Any, loggedErrors: list[dict[str, Any]]
) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = Recorder()
    reactor.connectTCP("127.0.0.1", listener.getsockname()[1], OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    accepted, _ = listener.accept()
    listener.close()
    client.transport.write(b"x" * (8 * 1024 * 1024))
    runUntil(reactor, lambda: 0 < client.transport.bufferedSize() < 8 * 1024 * 1024)
    # Linger on, with a zero timeout: close() sends RST instead of FIN.
    accepted.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    accepted.close()
    runUntilFired(reactor, client.lost)
    assert len(client.lostReasons) == 1
    assert client.lostReasons[0].check(error.ConnectionLost)
    assert not client.lostReasons[0].check(error.ConnectionDone)
    assert loggedErrors == []


def test_resetByPeerWhileIdleIsConnectionLost(
    reactor: Any, loggedErrors: list[dict[str, Any]]
) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = Recorder()
    reactor.connectTCP("127.0.0.1", listener.getsockname()[1], OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    accepted, _ = listener.accept()
    listener.close()
    accepted.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    accepted.close()
    runUntilFired(reactor, client.lost)
    assert client.lostReasons[0].check(error.ConnectionLost)
    assert loggedErrors == []


# -- half-close by the peer -------------------------------------------------------------


@implementer(IHalfCloseableProtocol)
class Shouter(Recorder):
    """Answers, once the peer has finished sending, with everything it sent, upper-cased."""

    readLost = False

    def readConnectionLost(self) -> None:
        self.readLost = True
        self.transport.write(self.data.upper())
        self.transport.loseConnection()

    def writeConnectionLost(self) -> None:
        pass


def test_peerHalfCloseLetsHalfCloseableServerAnswer(reactor: Any) -> None:
    servers: list[Shouter] = []

    class Built(Factory):
        def buildProtocol(self, addr: Any) -> Shouter:
            servers.append(Shouter())
            return servers[-1]

    port = listen(reactor, Built())
    with rawClient(port.getHost().port) as sock:
        sock.sendall(b"shout this")
        sock.shutdown(socket.SHUT_WR)
        assert readUntilClosed(reactor, sock) == b"SHOUT THIS"
    assert servers[0].readLost
    runUntilFired(reactor, servers[0].lost)
    assert servers[0].lostReasons[0].check(error.ConnectionDone)


def test_peerHalfCloseClosesPlainProtocolCleanly(reactor: Any) -> None:
    servers: list[Recorder] = []
    port = listen(reactor, serverFactory(servers))
    with rawClient(port.getHost().port) as sock:
        sock.sendall(b"bye")
        sock.shutdown(socket.SHUT_WR)
        runUntil(reactor, lambda: servers and servers[0].lost.called)
        assert readUntilClosed(reactor, sock) == b""
    assert servers[0].data == b"bye"
    assert servers[0].lostReasons[0].check(error.ConnectionDone)


def test_readConnectionLostRaisingClosesAndLogs(
    reactor: Any, loggedErrors: list[dict[str, Any]]
) -> None:
    @implementer(IHalfCloseableProtocol)
    class Broken(Recorder):
        def readConnectionLost(self) -> None:
            raise ValueError("no half-close for me")

        def writeConnectionLost(self) -> None:
            pass

    servers: list[Broken] = []

    class Built(Factory):
        def buildProtocol(self, addr: Any) -> Broken:
            servers.append(Broken())
            return servers[-1]

    port = listen(reactor, Built())
    with rawClient(port.getHost().port) as sock:
        sock.shutdown(socket.SHUT_WR)
        readUntilClosed(reactor, sock)
    runUntilFired(reactor, servers[0].lost)
    assert servers[0].lostReasons[0].check(ValueError)
    assert [e["failure"].check(ValueError) for e in loggedErrors] == [ValueError]


# -- protocols that raise ---------------------------------------------------------------


def test_protocolExceptionInDataReceivedClosesOnlyThatConnection(
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
    assert loggedErrors[0]["system"] == "Exploding,0,127.0.0.1"
    # The port still accepts.
    third = Recorder()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(third))
    runUntilFired(reactor, third.made)


def test_connectionMadeRaisingDropsConnectionButPortGoesOn(
    reactor: Any, loggedErrors: list[dict[str, Any]]
) -> None:
    lost: list[Any] = []

    class Grumpy(Echo):
        def connectionMade(self) -> None:
            if self.factory.numBuilt == 1:
                raise RuntimeError("not in the mood")

        def connectionLost(self, reason: object = None) -> None:
            lost.append(reason)

    class Counting(Factory):
        protocol = Grumpy
        numBuilt = 0

        def buildProtocol(self, addr: Any) -> Any:
            self.numBuilt += 1
            return super().buildProtocol(addr)

    port = listen(reactor, Counting())
    with rawClient(port.getHost().port) as sock:
        assert readUntilClosed(reactor, sock) == b""
    assert [e["failure"].check(RuntimeError) for e in loggedErrors] == [RuntimeError]
    assert loggedErrors[0]["system"] == "Grumpy,0,127.0.0.1"
    assert lost[0].check(RuntimeError)
    client = Recorder()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    client.transport.write(b"fine now")
    runUntil(reactor, lambda: client.data == b"fine now")


def test_buildProtocolRaisingClosesThatConnectionOnly(
    reactor: Any, loggedErrors: list[dict[str, Any]]
) -> None:
    class Flaky(Factory):
        protocol = Echo
        calls = 0

        def buildProtocol(self, addr: Any) -> Any:
            self.calls += 1
            if self.calls == 1:
                raise LookupError("no protocol today")
            return super().buildProtocol(addr)

    port = listen(reactor, Flaky())
    with rawClient(port.getHost().port) as sock:
        assert readUntilClosed(reactor, sock) == b""
    assert [e["failure"].check(LookupError) for e in loggedErrors] == [LookupError]
    client = Recorder()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)


def test_buildProtocolReturningNoneRefusesQuietly(
    reactor: Any, loggedErrors: list[dict[str, Any]]
) -> None:
    class Refusing(Factory):
        def buildProtocol(self, addr: Any) -> None:
            return None

    port = listen(reactor, Refusing())
    with rawClient(port.getHost().port) as sock:
        assert readUntilClosed(reactor, sock) == b""
    assert loggedErrors == []


def test_clientConnectionMadeRaisingTellsFactoryConnectionLost(
    reactor: Any, loggedErrors: list[dict[str, Any]]
) -> None:
    class Broken(Recorder):
        def connectionMade(self) -> None:
            raise RuntimeError("client side broke")

    port = listen(reactor, Factory.forProtocol(Echo))
    client = Broken()
    factory = OneProtocolFactory(client)
    reactor.connectTCP("127.0.0.1", port.getHost().port, factory)
    runUntilFired(reactor, client.lost)
    assert client.lostReasons[0].check(RuntimeError)
    runUntil(reactor, lambda: factory.lostConnection)
    assert [e["failure"].check(RuntimeError) for e in loggedErrors] == [RuntimeError]
    assert loggedErrors[0]["system"] == "Broken,client"


def test_clientFactoryBuildingNoProtocolClosesConnection(reactor: Any) -> None:
    servers: list[Recorder] = []
    port = listen(reactor, serverFactory(servers))
    lost: list[Any] = []

    class Nothing(ClientFactory):
        def buildProtocol(self, addr: Any) -> None:
            return None

        def clientConnectionLost(self, connector: Any, reason: Any) -> None:
            lost.append(reason)

    reactor.connectTCP("127.0.0.1", port.getHost().port, Nothing())
    runUntil(reactor, lambda: lost)
    assert lost[0].check(error.ConnectionDone)
    runUntil(reactor, lambda: servers and servers[0].lost.called)


def test_producerStopProducingRaisingStillClosesConnection(
    reactor: Any, loggedErrors: list[dict[str, Any]]
) -> None:
    @implementer(IPushProducer)
    class Stubborn:
        def pauseProducing(self) -> None:
            pass

        def resumeProducing(self) -> None:
            pass

        def stopProducing(self) -> None:
            raise RuntimeError("won't stop")

    client, server = connectedPair(reactor)
    client.transport.registerProducer(Stubborn(), True)
    client.transport.abortConnection()
    runUntilFired(reactor, client.lost)
    runUntilFired(reactor, server.lost)
    assert [e["failure"].check(RuntimeError) for e in loggedErrors] == [RuntimeError]


def test_writingToClosedPeerWithSmallBuffersEndsInConnectionLost(
    reactor: Any, loggedErrors: list[dict[str, Any]]
) -> None:
    client, server = connectedPair(reactor)
    shrinkKernelBuffers(client, server)
    server.transport.abortConnection()
    for _ in range(20):
        client.transport.write(b"y" * 65536)
    runUntilFired(reactor, client.lost)
    assert client.lostReasons[0].check(error.ConnectionLost, error.ConnectionDone)
    assert loggedErrors == []


# -- running out of descriptors ---------------------------------------------------------

EMFILE_SCRIPT = textwrap.dedent(
    """
    import errno, os, resource, socket, sys, time
    sys.path.insert(0, sys.argv[2])
    from tests.internet.reactormixins import REACTOR_FACTORIES, closeReactor
    from torsion.internet import error
    from torsion.internet.protocol import ClientFactory, Factory
    from torsion.protocols.wire import Echo
    from torsion.python import log

    messages = []
    log.addObserver(lambda e: messages.append(" ".join(map(str, e.get("message", ())))))
    reactor = REACTOR_FACTORIES[sys.argv[1]]()

    def spin(condition, what, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                sys.exit(f"timed out waiting for {what}; log: {messages!r}")
            reactor.iterate(0.01)

    port = reactor.listenTCP(0, Factory.forProtocol(Echo), interface="127.0.0.1")
    number = port.getHost().port
    # Connect before the limit bites: the kernel completes the handshake (backlog).
    peer = socket.create_connection(("127.0.0.1", number), timeout=5)
    peer.setblocking(False)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 256), hard))
    filler = []
    try:
        while True:
            filler.append(os.open(os.devnull, os.O_RDONLY))
    except OSError as e:
        assert e.errno == errno.EMFILE, e

    # accept() fails with EMFILE: logged once, the port keeps listening, no spinning.
    for _ in range(30):
        reactor.iterate(0.01)
    starved = [m for m in messages if "Could not accept new connection (EMFILE" in m]
    assert len(starved) == 1, messages
    assert port.connected and not port.disconnected

    # A client cannot get a socket either: its factory hears of it, nothing raises.
    failures = []

    class Failing(ClientFactory):
        def clientConnectionFailed(self, connector, reason):
            failures.append(reason)

    reactor.connectTCP("127.0.0.1", number, Failing())
    spin(lambda: failures, "clientConnectionFailed")
    assert failures[0].check(error.ConnectError), failures[0]
    assert "EMFILE" in str(failures[0].value), failures[0]

    # Free the descriptors: the waiting connection is accepted and served.
    for fd in filler:
        os.close(fd)
    peer.sendall(b"served at last")
    received = bytearray()

    def echoed():
        try:
            received.extend(peer.recv(100))
        except BlockingIOError:
            pass
        return bytes(received) == b"served at last"

    spin(echoed, "the echo")
    assert any("Accepting new connections again" in m for m in messages), messages
    peer.close()
    closeReactor(reactor)
    print("EMFILE-OK")
    """
)


@pytest.mark.parametrize("reactorName", sorted(REACTOR_FACTORIES))
def test_acceptOutOfDescriptorsLogsWaitsAndRecoversInSubprocess(reactorName: str) -> None:
    if "uvloop" in reactorName:
        pytest.skip("uvloop makes a socket pair each time its loop runs, so it cannot iterate")
    if reactorName == "tk":
        pytest.skip("Tcl aborts the process when its notifier thread cannot make its pipe")
    result = subprocess.run(
        [sys.executable, "-c", EMFILE_SCRIPT, reactorName, str(ROOT)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "EMFILE-OK" in result.stdout


# -- descriptor leaks -------------------------------------------------------------------


def openDescriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_tenThousandConnectCloseCyclesLeakNoDescriptors(reactor: Any) -> None:
    class ClosingServer(Protocol):
        # The server closes first, so TIME_WAIT stays on the listening port's side
        # and the client's ephemeral ports are not used up.
        def connectionMade(self) -> None:
            self.transport.loseConnection()

    closed: list[int] = []

    class Client(Protocol):
        def connectionLost(self, reason: object = None) -> None:
            closed.append(1)

    class Counting(ClientFactory):
        protocol = Client
        noisy = False

    serverFactory = Factory.forProtocol(ClosingServer)
    serverFactory.noisy = False
    port = listen(reactor, serverFactory)
    number = port.getHost().port
    factory = Counting()
    # One cycle first, so lazily made things (caches, the waker) exist before counting.
    reactor.connectTCP("127.0.0.1", number, factory)
    runUntil(reactor, lambda: len(closed) == 1)
    before = openDescriptors()
    # Batches smaller than the listen backlog (50), so no handshake waits for a retry.
    total, batch = 10_000, 40
    for done in range(1 + batch, total + 2, batch):
        for _ in range(batch):
            reactor.connectTCP("127.0.0.1", number, factory)
        runUntil(reactor, lambda done=done: len(closed) == done, timeout=20)
    assert len(closed) == total + 1
    for _ in range(5):
        reactor.iterate(0.01)
    assert openDescriptors() <= before
    assert set(reactor.getWriters()) == set()
