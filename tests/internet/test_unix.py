"""Tests for torsion.internet.unix's stream sockets: listenUNIX and connectUNIX.

Every test that takes ``reactor`` runs on each reactor of the fixture (the UNIX part
of the conformance suite), over real UNIX sockets in a short temporary directory,
with Python's socket module, child processes and ``nc -U`` (where installed) as
peers. Covered: echo both ways, addresses, half-close, producers, passing file
descriptors, peer credentials, the socket file (mode, stale files, wantPID lock
files, removal), abstract names, the errors of listening and connecting, log lines,
and descriptor leaks over many connections. The datagram ports are tested in
test_unixdatagram.py.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from zope.interface import implementer
from zope.interface.verify import verifyObject

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from tests.internet.test_tcp import (
    CountingProducer,
    OneProtocolFactory,
    Recorder,
    messagesWith,
    serverFactory,
)
from torsion.internet import error, unix
from torsion.internet.address import UNIXAddress
from torsion.internet.interfaces import (
    IFileDescriptorReceiver,
    IHalfCloseableProtocol,
    IListeningPort,
    IReactorUNIX,
    IReactorUNIXDatagram,
    IUNIXPeerCredentials,
    IUNIXTransport,
)
from torsion.internet.protocol import ClientFactory, Factory, Protocol
from torsion.internet.testing import MemoryReactor
from torsion.protocols.wire import Echo

loggedErrors = reactormixins.loggedErrors
loggedMessages = reactormixins.loggedMessages
reactor = reactormixins.reactor

LINUX = sys.platform.startswith("linux")
needsLinux = pytest.mark.skipif(not LINUX, reason="abstract UNIX socket names are Linux's")


@pytest.fixture
def sockdir() -> Iterator[Path]:
    """A short temporary directory: UNIX socket paths must stay under ~100 bytes."""
    path = Path(tempfile.mkdtemp(prefix="tu-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def connectedPair(reactor: Any, path: Path) -> tuple[Recorder, Recorder]:
    """Connect a Recorder client to a Recorder server over ``path``; return both."""
    servers: list[Recorder] = []
    reactor.listenUNIX(str(path), serverFactory(servers))
    client = Recorder()
    reactor.connectUNIX(str(path), OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    runUntil(reactor, lambda: servers and servers[0].made.called)
    return client, servers[0]


def texts(events: list[dict[str, Any]]) -> list[str]:
    return [" ".join(map(str, e.get("message", ()))) for e in events]


def pipeDrained(readEnd: int) -> bytes:
    """Read ``readEnd`` until EOF (every write end is closed) or 5 seconds pass."""
    os.set_blocking(readEnd, True)
    import select

    chunks = []
    while True:
        ready, _, _ = select.select([readEnd], [], [], 5)
        assert ready, "the pipe never reached end of file: a write end is still open"
        chunk = os.read(readEnd, 4096)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


# -- connections ------------------------------------------------------------------------


def test_echoWithPythonSocketPeer(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "echo.sock")
    reactor.listenUNIX(path, Factory.forProtocol(Echo))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        s.setblocking(False)
        s.sendall(b"hello over a UNIX socket")
        received = bytearray()

        def readSome() -> bool:
            try:
                received.extend(s.recv(100))
            except BlockingIOError:
                pass
            return bytes(received) == b"hello over a UNIX socket"

        runUntil(reactor, readSome)


def test_clientAndServerExchangeDataBothWaysWithAddresses(reactor: Any, sockdir: Path) -> None:
    path = sockdir / "pair.sock"
    client, server = connectedPair(reactor, path)
    assert client.transport.getPeer() == UNIXAddress(str(path))
    assert server.transport.getHost() == UNIXAddress(str(path))
    assert client.transport.getHost() == UNIXAddress(None)
    assert server.transport.getPeer() == UNIXAddress(None)
    client.transport.write(b"ping")
    server.transport.writeSequence([b"po", b"ng"])
    runUntil(reactor, lambda: server.data == b"ping" and client.data == b"pong")
    client.transport.loseConnection()
    runUntilFired(reactor, server.lost)
    assert server.lostReasons[0].check(error.ConnectionDone)


def test_transportsProvideTheUNIXInterfaces(reactor: Any, sockdir: Path) -> None:
    client, server = connectedPair(reactor, sockdir / "i.sock")
    for transport in (client.transport, server.transport):
        assert verifyObject(IUNIXTransport, transport)
        assert verifyObject(IUNIXPeerCredentials, transport)
    port = reactor.listenUNIX(str(sockdir / "j.sock"), Factory.forProtocol(Echo))
    assert verifyObject(IListeningPort, port)
    assert verifyObject(IReactorUNIX, reactor)
    assert verifyObject(IReactorUNIXDatagram, reactor)


def test_halfCloseLetsServerAnswerAfterClientStopsSending(reactor: Any, sockdir: Path) -> None:
    @implementer(IHalfCloseableProtocol)
    class Shouter(Recorder):
        def readConnectionLost(self) -> None:
            self.transport.write(self.data.upper())
            self.transport.loseConnection()

        def writeConnectionLost(self) -> None:
            pass

    @implementer(IHalfCloseableProtocol)
    class Asker(Recorder):
        writeLost = False

        def connectionMade(self) -> None:
            super().connectionMade()
            self.transport.write(b"shout")
            self.transport.loseWriteConnection()

        def readConnectionLost(self) -> None:
            self.transport.loseConnection()

        def writeConnectionLost(self) -> None:
            self.writeLost = True

    path = str(sockdir / "half.sock")
    reactor.listenUNIX(path, Factory.forProtocol(Shouter))
    client = Asker()
    reactor.connectUNIX(path, OneProtocolFactory(client))
    runUntilFired(reactor, client.lost)
    assert client.writeLost
    assert client.data == b"SHOUT"


def test_largeTransferWithPushProducerIsPausedAndComplete(reactor: Any, sockdir: Path) -> None:
    client, server = connectedPair(reactor, sockdir / "big.sock")
    chunk = bytes(range(256)) * 256
    total = 8 * 1024 * 1024

    class Source(CountingProducer):
        sent = 0

        def resumeProducing(self) -> None:
            super().resumeProducing()
            self.pump()

        def pump(self) -> None:
            while self.sent < total and self.paused == self.resumed:
                self.transport.write(chunk)
                self.sent += len(chunk)
            if self.sent >= total:
                self.transport.unregisterProducer()
                self.transport.loseConnection()

    source = Source(client.transport)
    client.transport.registerProducer(source, True)
    source.pump()
    runUntilFired(reactor, server.lost, timeout=30)
    assert len(server.data) == total
    assert server.data == chunk * (total // len(chunk))
    assert source.paused >= 1


def test_pullProducerAskedForMoreUntilDone(reactor: Any, sockdir: Path) -> None:
    client, server = connectedPair(reactor, sockdir / "pull.sock")
    chunks = [b"a" * 100_000, b"b" * 100_000, b"c"]

    class Pull:
        def resumeProducing(self) -> None:
            if chunks:
                client.transport.write(chunks.pop(0))
            else:
                client.transport.unregisterProducer()
                client.transport.loseConnection()

        def stopProducing(self) -> None:
            pass

    client.transport.registerProducer(Pull(), False)
    runUntilFired(reactor, server.lost)
    assert server.data == b"a" * 100_000 + b"b" * 100_000 + b"c"


def test_listenAcceptsBytesAndPathLikeNames(reactor: Any, sockdir: Path) -> None:
    for name in (os.fsencode(sockdir / "b.sock"), sockdir / "p.sock"):
        port = reactor.listenUNIX(name, Factory.forProtocol(Echo))
        assert port.getHost() == UNIXAddress(os.fsdecode(name))
        client = Recorder()
        reactor.connectUNIX(name, OneProtocolFactory(client))
        runUntilFired(reactor, client.made)


def test_connectorConnectsAgainAndGetDestination(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "again.sock")
    reactor.listenUNIX(path, Factory.forProtocol(Echo))
    made: list[int] = []

    class Counting(Protocol):
        def connectionMade(self) -> None:
            made.append(1)
            self.transport.loseConnection()

    class Again(ClientFactory):
        protocol = Counting

        def clientConnectionLost(self, connector: Any, reason: Any) -> None:
            if len(made) < 3:
                connector.connect()

    connector = reactor.connectUNIX(path, Again())
    assert connector.getDestination() == UNIXAddress(path)
    runUntil(reactor, lambda: len(made) == 3 and connector.state == "disconnected")


def test_connectRetriesWhileListenQueueIsFull(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "busy.sock")
    servers: list[Recorder] = []
    port = reactor.listenUNIX(path, serverFactory(servers), backlog=1)
    port.stopReading()
    clients = [Recorder() for _ in range(6)]
    for client in clients:
        reactor.connectUNIX(path, OneProtocolFactory(client))
    for _ in range(10):
        reactor.iterate(0.01)
    waiting = [c for c in clients if not c.made.called]
    assert waiting, "the listen queue of one never filled"
    port.startReading()
    runUntil(reactor, lambda: all(c.made.called for c in clients))
    runUntil(reactor, lambda: len(servers) == 6)


def test_portListensAgainAfterStopListening(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "re.sock")
    port = reactor.listenUNIX(path, Factory.forProtocol(Echo))
    runUntilFired(reactor, port.stopListening())
    assert not os.path.exists(path)
    port.startListening()
    client = Recorder()
    reactor.connectUNIX(path, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    with pytest.raises(error.AlreadyListened):
        port.startListening()


def test_withRealPeerNetcat(reactor: Any, sockdir: Path) -> None:
    nc = shutil.which("nc")
    if nc is None:
        pytest.skip("nc (netcat-openbsd, for nc -U) is not installed")
    path = str(sockdir / "nc.sock")
    servers: list[Recorder] = []
    reactor.listenUNIX(path, serverFactory(servers))
    proc = subprocess.Popen(
        [nc, "-U", path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert proc.stdin is not None
        proc.stdin.write(b"from netcat\n")
        proc.stdin.flush()
        runUntil(reactor, lambda: servers and servers[0].data == b"from netcat\n")
        servers[0].transport.write(b"to netcat\n")
        servers[0].transport.loseConnection()
        runUntilFired(reactor, servers[0].lost)
        out, _ = proc.communicate(timeout=5)
        assert out == b"to netcat\n"
    finally:
        proc.kill()
        proc.wait()


def test_clientCreatorConnectUNIXFiresWithConnectedProtocol(reactor: Any, sockdir: Path) -> None:
    from torsion.internet.protocol import ClientCreator

    path = str(sockdir / "creator.sock")
    reactor.listenUNIX(path, Factory.forProtocol(Echo))
    seen: list[Any] = []
    d = ClientCreator(reactor, Recorder).connectUNIX(path)
    # Whoever waits can write at once: the transport is attached when it fires.
    d.addCallback(lambda p: (seen.append(p.transport), p.transport.write(b"at once"), p)[-1])
    protocol = runUntilFired(reactor, d)
    assert seen == [protocol.transport] and seen[0] is not None
    runUntil(reactor, lambda: protocol.data == b"at once")
    failing = ClientCreator(reactor, Recorder).connectUNIX(str(sockdir / "none.sock"))
    with pytest.raises(error.BadFileError):
        runUntilFired(reactor, failing)


def test_liveSocketOfOtherTypeIsInUse(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "dgram.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as other:
        other.bind(path)
        with pytest.raises(error.CannotListenError, match="in use"):
            reactor.listenUNIX(path, Factory.forProtocol(Echo))
        assert os.path.exists(path)


# -- passing descriptors -----------------------------------------------------------------


@implementer(IFileDescriptorReceiver)
class Receiver(Recorder):
    """Records descriptors with how much data had arrived before each."""

    def __init__(self) -> None:
        super().__init__()
        self.fds: list[int] = []
        self.events: list[tuple[str, Any]] = []

    def fileDescriptorReceived(self, descriptor: int) -> None:
        self.fds.append(descriptor)
        self.events.append(("fd", descriptor))

    def dataReceived(self, data: bytes) -> None:
        self.events.append(("data", data))
        super().dataReceived(data)


def receiverPair(reactor: Any, path: Path) -> tuple[Recorder, Receiver]:
    receivers: list[Receiver] = []

    class Built(Factory):
        def buildProtocol(self, addr: Any) -> Receiver:
            receivers.append(Receiver())
            return receivers[-1]

    reactor.listenUNIX(str(path), Built())
    client = Recorder()
    reactor.connectUNIX(str(path), OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    runUntil(reactor, lambda: receivers and receivers[0].made.called)
    return client, receivers[0]


def test_passedPipeDescriptorCanBeReadThrough(reactor: Any, sockdir: Path) -> None:
    client, server = receiverPair(reactor, sockdir / "fd.sock")
    readEnd, writeEnd = os.pipe()
    client.transport.sendFileDescriptor(readEnd)
    os.close(readEnd)  # The transport sends its own duplicate.
    client.transport.write(b"x")
    runUntil(reactor, lambda: server.fds and server.data == b"x")
    assert server.events[0][0] == "fd", "a descriptor comes before the bytes it came with"
    os.write(writeEnd, b"through the passed pipe")
    os.close(writeEnd)
    received = server.fds[0]
    try:
        assert pipeDrained(received) == b"through the passed pipe"
        assert not os.get_inheritable(received)
    finally:
        os.close(received)


def test_descriptorGoesWithFirstByteWrittenAfterTheCall(reactor: Any, sockdir: Path) -> None:
    client, server = receiverPair(reactor, sockdir / "order.sock")
    readEnd, writeEnd = os.pipe()
    # All in one pass: the "a"s are still buffered when the descriptor is queued.
    client.transport.write(b"a" * 50_000)
    client.transport.sendFileDescriptor(readEnd)
    client.transport.write(b"b" * 10)
    os.close(readEnd)
    os.close(writeEnd)
    runUntil(reactor, lambda: len(server.data) == 50_010 and server.fds)
    index = server.events.index(("fd", server.fds[0]))
    after = server.events[index + 1]
    assert after[0] == "data" and b"b" in after[1], server.events
    os.close(server.fds[0])


def test_manyDescriptorsAreSentInBoundedMessages(reactor: Any, sockdir: Path) -> None:
    client, server = receiverPair(reactor, sockdir / "many.sock")
    count = unix.Client.maxFileDescriptorsPerMessage + 36
    pipes = [os.pipe() for _ in range(count // 2)]
    for r, w in pipes:
        client.transport.sendFileDescriptor(r)
        client.transport.sendFileDescriptor(w)
        os.close(r)
        os.close(w)
    client.transport.write(b"12")
    runUntil(reactor, lambda: len(server.fds) == count and server.data == b"12")
    for fd in server.fds:
        os.close(fd)


def test_descriptorsWaitForDataToGoWith(reactor: Any, sockdir: Path) -> None:
    client, server = receiverPair(reactor, sockdir / "wait.sock")
    readEnd, writeEnd = os.pipe()
    client.transport.sendFileDescriptor(readEnd)
    for _ in range(5):
        reactor.iterate(0.01)
    assert server.fds == []
    client.transport.write(b"now")
    runUntil(reactor, lambda: len(server.fds) == 1)
    for fd in (readEnd, writeEnd, server.fds[0]):
        os.close(fd)


def test_pendingDescriptorsAreBoundedAndCheckedAndClosedAtEnd(
    reactor: Any, sockdir: Path, loggedMessages: list[dict[str, Any]]
) -> None:
    client, _ = receiverPair(reactor, sockdir / "bound.sock")
    readEnd, writeEnd = os.pipe()
    with pytest.raises(ValueError, match="not an open file descriptor"):
        client.transport.sendFileDescriptor(999_999)
    for _ in range(unix.Client.maxPendingFileDescriptors):
        client.transport.sendFileDescriptor(writeEnd)
    with pytest.raises(RuntimeError, match="wait to be sent already"):
        client.transport.sendFileDescriptor(writeEnd)
    os.close(writeEnd)
    client.transport.loseConnection()
    runUntilFired(reactor, client.lost)
    # Every duplicate of the write end was closed: the pipe reads end of file.
    assert pipeDrained(readEnd) == b""
    os.close(readEnd)
    assert any("were never sent" in t for t in texts(loggedMessages))


def test_protocolWithoutReceiverNeverGetsDescriptors(reactor: Any, sockdir: Path) -> None:
    client, server = connectedPair(reactor, sockdir / "plain.sock")
    readEnd, writeEnd = os.pipe()
    before = set(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else set()
    client.transport.sendFileDescriptor(writeEnd)
    os.close(writeEnd)
    client.transport.write(b"x" * 10)
    runUntil(reactor, lambda: server.data == b"x" * 10)
    assert pipeDrained(readEnd) == b"", "a copy of the write end was left open"
    os.close(readEnd)
    if before:
        assert set(os.listdir("/proc/self/fd")) <= before


def test_peerSendingTooManyDescriptorsAtOnceIsLoggedAndTheRestClosed(
    reactor: Any,
    sockdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    loggedMessages: list[dict[str, Any]],
) -> None:
    monkeypatch.setattr(unix.Server, "maxFileDescriptorsPerMessage", 2)
    receivers: list[Receiver] = []

    class Built(Factory):
        def buildProtocol(self, addr: Any) -> Receiver:
            receivers.append(Receiver())
            return receivers[-1]

    path = str(sockdir / "flood.sock")
    reactor.listenUNIX(path, Built())
    readEnd, writeEnd = os.pipe()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        socket.send_fds(s, [b"x"], [writeEnd] * 5)
        os.close(writeEnd)
        runUntil(reactor, lambda: receivers and receivers[0].data == b"x")
    assert len(receivers[0].fds) == 2
    for fd in receivers[0].fds:
        os.close(fd)
    assert pipeDrained(readEnd) == b""
    os.close(readEnd)
    assert any("more than 2 file descriptors" in t for t in texts(loggedMessages))


def test_raisingFileDescriptorReceivedDropsConnectionAndClosesTheRest(
    reactor: Any, sockdir: Path, loggedErrors: list[dict[str, Any]]
) -> None:
    @implementer(IFileDescriptorReceiver)
    class Fussy(Recorder):
        def fileDescriptorReceived(self, descriptor: int) -> None:
            os.close(descriptor)
            raise ValueError("no descriptors, thanks")

    path = str(sockdir / "fussy.sock")
    servers: list[Fussy] = []

    class Built(Factory):
        def buildProtocol(self, addr: Any) -> Fussy:
            servers.append(Fussy())
            return servers[-1]

    reactor.listenUNIX(path, Built())
    readEnd, writeEnd = os.pipe()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        socket.send_fds(s, [b"x"], [writeEnd] * 3)
        os.close(writeEnd)
        runUntil(reactor, lambda: servers and servers[0].lost.called)
    assert pipeDrained(readEnd) == b""
    os.close(readEnd)
    assert any("no descriptors, thanks" in str(e.get("failure")) for e in loggedErrors)


def test_descriptorFromPythonPeerReachesReceiver(reactor: Any, sockdir: Path) -> None:
    receivers: list[Receiver] = []

    class Built(Factory):
        def buildProtocol(self, addr: Any) -> Receiver:
            receivers.append(Receiver())
            return receivers[-1]

    path = str(sockdir / "py.sock")
    reactor.listenUNIX(path, Built())
    readEnd, writeEnd = os.pipe()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        socket.send_fds(s, [b"fd!"], [readEnd])
        runUntil(reactor, lambda: receivers and receivers[0].fds)
    os.write(writeEnd, b"via python")
    os.close(writeEnd)
    os.close(readEnd)
    assert pipeDrained(receivers[0].fds[0]) == b"via python"
    os.close(receivers[0].fds[0])


def test_descriptorToPythonPeer(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "topy.sock")
    servers: list[Recorder] = []
    reactor.listenUNIX(path, serverFactory(servers))
    readEnd, writeEnd = os.pipe()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        runUntil(reactor, lambda: servers and servers[0].made.called)
        servers[0].transport.sendFileDescriptor(writeEnd)
        servers[0].transport.write(b"!")
        os.close(writeEnd)
        reactor.iterate(0)
        s.settimeout(5)
        data, fds, _, _ = socket.recv_fds(s, 10, 4)
    assert data == b"!" and len(fds) == 1
    os.write(fds[0], b"back")
    os.close(fds[0])
    assert pipeDrained(readEnd) == b"back"
    os.close(readEnd)


# -- peer credentials --------------------------------------------------------------------


def test_peerCredentialsAreThisProcessOnBothEnds(reactor: Any, sockdir: Path) -> None:
    client, server = connectedPair(reactor, sockdir / "cred.sock")
    for transport in (client.transport, server.transport):
        credentials = transport.getPeerCredentials()
        assert credentials == unix.PeerCredentials(os.getpid(), os.getuid(), os.getgid())
        assert (credentials.pid, credentials.uid, credentials.gid) == tuple(credentials)
    client.transport.loseConnection()
    runUntilFired(reactor, server.lost)
    # Asked once, they stay known after the connection closed.
    assert server.transport.getPeerCredentials().pid == os.getpid()


def test_peerCredentialsNameAChildProcess(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "child.sock")
    servers: list[Recorder] = []
    reactor.listenUNIX(path, serverFactory(servers))
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, sys\n"
            "s = socket.socket(socket.AF_UNIX)\n"
            "s.connect(sys.argv[1])\n"
            "s.recv(1)\n",
            path,
        ]
    )
    try:
        runUntil(reactor, lambda: servers and servers[0].made.called, timeout=10)
        assert servers[0].transport.getPeerCredentials().pid == child.pid
        servers[0].transport.loseConnection()
        runUntilFired(reactor, servers[0].lost)
        assert child.wait(timeout=10) == 0
    finally:
        child.kill()
        child.wait()


def test_peerCredentialsAfterCloseNeverAskedRaise(reactor: Any, sockdir: Path) -> None:
    client, _ = connectedPair(reactor, sockdir / "late.sock")
    client.transport.loseConnection()
    runUntilFired(reactor, client.lost)
    with pytest.raises(RuntimeError, match="while connected"):
        client.transport.getPeerCredentials()


# -- the socket file ---------------------------------------------------------------------


def test_modeIsAppliedToSocketFile(reactor: Any, sockdir: Path) -> None:
    for name, mode in (("default.sock", 0o666), ("private.sock", 0o600), ("group.sock", 0o660)):
        path = sockdir / name
        if mode == 0o666:
            reactor.listenUNIX(str(path), Factory.forProtocol(Echo))
        else:
            reactor.listenUNIX(str(path), Factory.forProtocol(Echo), mode=mode)
        st = os.stat(path)
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == mode


def test_stopListeningRemovesSocketFile(reactor: Any, sockdir: Path) -> None:
    path = sockdir / "gone.sock"
    port = reactor.listenUNIX(str(path), Factory.forProtocol(Echo))
    assert path.exists()
    runUntilFired(reactor, port.stopListening())
    assert not path.exists()


def test_stopListeningLeavesAFileThatReplacedTheSocketAlone(reactor: Any, sockdir: Path) -> None:
    path = sockdir / "replaced.sock"
    port = reactor.listenUNIX(str(path), Factory.forProtocol(Echo))
    path.unlink()
    path.write_text("someone else's")
    runUntilFired(reactor, port.stopListening())
    assert path.read_text() == "someone else's"


def test_staleSocketFileIsRemovedAndListenedOn(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "stale.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as old:
        old.bind(path)  # A server that died: its file stays, nobody listens.
    assert os.path.exists(path)
    reactor.listenUNIX(path, Factory.forProtocol(Echo))
    client = Recorder()
    reactor.connectUNIX(path, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)


def test_pathInUseGivesCannotListenErrorSayingWhy(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "used.sock")
    reactor.listenUNIX(path, Factory.forProtocol(Echo))
    with pytest.raises(error.CannotListenError) as info:
        reactor.listenUNIX(path, Factory.forProtocol(Echo))
    text = str(info.value)
    assert repr(path) in text
    assert "in use" in text and "choose another path" in text
    assert info.value.socketError.errno == errno.EADDRINUSE
    # The first server is untouched.
    client = Recorder()
    reactor.connectUNIX(path, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)


def test_pathUsedByPythonServerIsInUse(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "pyserver.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as other:
        other.bind(path)
        other.listen()
        with pytest.raises(error.CannotListenError, match="another socket listens on it"):
            reactor.listenUNIX(path, Factory.forProtocol(Echo))
        assert os.path.exists(path)


def test_existingFileThatIsNotASocketIsLeftAlone(reactor: Any, sockdir: Path) -> None:
    path = sockdir / "notes.txt"
    path.write_text("precious")
    with pytest.raises(error.CannotListenError, match="is a regular file, not a socket"):
        reactor.listenUNIX(str(path), Factory.forProtocol(Echo))
    assert path.read_text() == "precious"


def test_unwritableDirectoryGivesCannotListenError(reactor: Any, sockdir: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip(
            "running as root, whom directory permissions do not stop; the other "
            "unusable-path tests (not a directory, missing, too long) cover the error path"
        )
    locked = sockdir / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(error.CannotListenError, match="may not create files in") as info:
            reactor.listenUNIX(str(locked / "s.sock"), Factory.forProtocol(Echo))
        assert info.value.socketError.errno == errno.EACCES
    finally:
        locked.chmod(0o700)


def test_pathInsideAFileGivesCannotListenError(reactor: Any, sockdir: Path) -> None:
    notADirectory = sockdir / "file"
    notADirectory.write_text("")
    with pytest.raises(error.CannotListenError, match="is not one; check the path") as info:
        reactor.listenUNIX(str(notADirectory / "s.sock"), Factory.forProtocol(Echo))
    assert info.value.socketError.errno == errno.ENOTDIR


def test_missingDirectoryGivesCannotListenError(reactor: Any, sockdir: Path) -> None:
    with pytest.raises(error.CannotListenError, match="does not exist; create it first"):
        reactor.listenUNIX(str(sockdir / "no" / "s.sock"), Factory.forProtocol(Echo))


def test_tooLongPathGivesCannotListenError(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / ("x" * 120))
    with pytest.raises(error.CannotListenError, match="use a shorter path") as info:
        reactor.listenUNIX(path, Factory.forProtocol(Echo))
    assert "bytes long" in str(info.value)
    assert info.value.socketError.errno == errno.ENAMETOOLONG


def test_badNamesAreRefusedAtOnce(reactor: Any) -> None:
    with pytest.raises(ValueError, match="cannot be empty"):
        reactor.listenUNIX("", Factory.forProtocol(Echo))
    with pytest.raises(ValueError, match="NUL character inside"):
        reactor.listenUNIX("/tmp/a\0b", Factory.forProtocol(Echo))
    with pytest.raises(TypeError, match="not int"):
        reactor.connectUNIX(7, ClientFactory())


# -- wantPID and checkPID ----------------------------------------------------------------


def test_wantPIDWritesLockFileAndStopListeningRemovesBoth(reactor: Any, sockdir: Path) -> None:
    path = sockdir / "pid.sock"
    lock = sockdir / "pid.sock.lock"
    port = reactor.listenUNIX(str(path), Factory.forProtocol(Echo), wantPID=True)
    assert lock.read_text().strip() == str(os.getpid())
    assert sorted(p.name for p in sockdir.iterdir()) == ["pid.sock", "pid.sock.lock"]
    runUntilFired(reactor, port.stopListening())
    assert not path.exists() and not lock.exists()


def test_wantPIDRefusesPathLockedByLiveProcess(reactor: Any, sockdir: Path) -> None:
    path = sockdir / "owned.sock"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (sockdir / "owned.sock.lock").write_text(f"{sleeper.pid}\n")
        with pytest.raises(error.CannotListenError) as info:
            reactor.listenUNIX(str(path), Factory.forProtocol(Echo), wantPID=True)
        assert f"in use by process {sleeper.pid}" in str(info.value)
        assert "remove the lock file" in str(info.value)
        assert (sockdir / "owned.sock.lock").read_text() == f"{sleeper.pid}\n"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_wantPIDRefusesSecondPortOfThisProcess(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "twice.sock")
    reactor.listenUNIX(path, Factory.forProtocol(Echo), wantPID=True)
    with pytest.raises(error.CannotListenError, match="in use by this process"):
        reactor.listenUNIX(path, Factory.forProtocol(Echo), wantPID=True)


def test_wantPIDTakesOverStaleLockAndStaleSocket(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "dead.sock")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (sockdir / "dead.sock.lock").write_text(f"{dead.pid}\n")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as old:
        old.bind(path)
    reactor.listenUNIX(path, Factory.forProtocol(Echo), wantPID=True)
    assert (sockdir / "dead.sock.lock").read_text().strip() == str(os.getpid())


def test_wantPIDWithAbstractNameIsRefused(reactor: Any) -> None:
    if not LINUX:
        pytest.skip("abstract UNIX socket names are Linux's")
    with pytest.raises(error.CannotListenError, match="wantPID needs a filesystem path"):
        reactor.listenUNIX("\0torsion-nolock", Factory.forProtocol(Echo), wantPID=True)


def test_failedListenReleasesTheLock(reactor: Any, sockdir: Path) -> None:
    path = sockdir / "precious"
    path.write_text("not a socket")
    with pytest.raises(error.CannotListenError):
        reactor.listenUNIX(str(path), Factory.forProtocol(Echo), wantPID=True)
    assert not (sockdir / "precious.lock").exists()


def test_checkPIDConnectsOnlyToLockedServer(reactor: Any, sockdir: Path) -> None:
    locked = str(sockdir / "locked.sock")
    unlocked = str(sockdir / "unlocked.sock")
    reactor.listenUNIX(locked, Factory.forProtocol(Echo), wantPID=True)
    reactor.listenUNIX(unlocked, Factory.forProtocol(Echo))
    client = Recorder()
    reactor.connectUNIX(locked, OneProtocolFactory(client), checkPID=True)
    runUntilFired(reactor, client.made)
    factory = OneProtocolFactory(Recorder())
    reactor.connectUNIX(unlocked, factory, checkPID=True)
    runUntilFired(reactor, factory.failed)
    assert factory.failReason.check(error.BadFileError)
    assert "no live process holds the lock file" in str(factory.failReason.value)


# -- abstract names ----------------------------------------------------------------------


@needsLinux
def test_abstractNameListensConnectsAndMakesNoFile(reactor: Any, sockdir: Path) -> None:
    name = f"\0torsion-test-{uuid.uuid4().hex}"
    port = reactor.listenUNIX(name, Factory.forProtocol(Echo))
    assert port.getHost() == UNIXAddress(name)
    assert list(sockdir.iterdir()) == []
    client = Recorder()
    reactor.connectUNIX(name.encode(), OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    assert client.transport.getPeer() == UNIXAddress(name)
    client.transport.write(b"abstract")
    runUntil(reactor, lambda: client.data == b"abstract")
    with pytest.raises(error.CannotListenError, match="in use by another socket"):
        reactor.listenUNIX(name, Factory.forProtocol(Echo))
    runUntilFired(reactor, port.stopListening())
    factory = OneProtocolFactory(Recorder())
    reactor.connectUNIX(name, factory)
    runUntilFired(reactor, factory.failed)
    assert factory.failReason.check(error.ConnectionRefusedError)


# -- failing to connect ------------------------------------------------------------------


def test_connectToMissingPathFailsSayingSo(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "nobody.sock")
    factory = OneProtocolFactory(Recorder())
    reactor.connectUNIX(path, factory)
    runUntilFired(reactor, factory.failed)
    assert factory.failReason.check(error.BadFileError)
    text = str(factory.failReason.value)
    assert "ENOENT" in text and repr(path) in text and "start the server, or check the path" in text


def test_connectToStaleSocketIsRefused(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "stale.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as old:
        old.bind(path)
    factory = OneProtocolFactory(Recorder())
    reactor.connectUNIX(path, factory)
    runUntilFired(reactor, factory.failed)
    assert factory.failReason.check(error.ConnectionRefusedError)
    assert "nothing listens on" in str(factory.failReason.value)


def test_connectToDatagramSocketFailsSayingSo(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "dgram.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as other:
        other.bind(path)
        factory = OneProtocolFactory(Recorder())
        reactor.connectUNIX(path, factory)
        runUntilFired(reactor, factory.failed)
    assert "is a datagram socket, not a stream socket" in str(factory.failReason.value)


def test_connectToTooLongPathFails(reactor: Any, sockdir: Path) -> None:
    factory = OneProtocolFactory(Recorder())
    reactor.connectUNIX(str(sockdir / ("y" * 150)), factory)
    runUntilFired(reactor, factory.failed)
    assert factory.failReason.check(error.BadFileError)
    assert "use a shorter path" in str(factory.failReason.value)


def test_connectTimesOutWhileListenQueueStaysFull(reactor: Any, sockdir: Path) -> None:
    path = str(sockdir / "full.sock")
    port = reactor.listenUNIX(path, Factory.forProtocol(Echo), backlog=0)
    port.stopReading()
    factories = [OneProtocolFactory(Recorder()) for _ in range(4)]
    for factory in factories:
        reactor.connectUNIX(path, factory, timeout=0.3)
    runUntil(reactor, lambda: any(f.failed.called for f in factories))
    failed = [f for f in factories if f.failed.called]
    assert all(f.failReason.check(error.TimeoutError) for f in failed)


def test_stopConnectingFailsWithUserError(reactor: Any, sockdir: Path) -> None:
    factory = OneProtocolFactory(Recorder())
    connector = reactor.connectUNIX(str(sockdir / "x.sock"), factory)
    connector.stopConnecting()
    runUntilFired(reactor, factory.failed)
    assert factory.failReason.check(error.UserError)


# -- logging -----------------------------------------------------------------------------


class EchoFactory(Factory):
    protocol = Echo


def test_portLogLines(reactor: Any, sockdir: Path, loggedMessages: list[dict[str, Any]]) -> None:
    path = str(sockdir / "log.sock")
    port = reactor.listenUNIX(path, EchoFactory())
    runUntilFired(reactor, port.stopListening())
    lines = texts(loggedMessages)
    assert lines[0] == f"tests.internet.test_unix.EchoFactory starting on {path!r}"
    assert f"(UNIX Port {path} Closed)" in lines
    assert repr(port) == "<tests.internet.test_unix.EchoFactory (not listening)>"


def test_protocolLogPrefixesAsTCPs(
    reactor: Any, sockdir: Path, loggedMessages: list[dict[str, Any]]
) -> None:
    from torsion.python import log

    class Talker(Protocol):
        def connectionMade(self) -> None:
            log.msg("talker made")

    path = str(sockdir / "prefix.sock")
    reactor.listenUNIX(path, Factory.forProtocol(Talker))
    reactor.connectUNIX(path, ClientFactory.forProtocol(Talker))
    runUntil(reactor, lambda: len(messagesWith(loggedMessages, "talker made")) == 2)
    systems = sorted(e["system"] for e in messagesWith(loggedMessages, "talker made"))
    assert systems == ["Talker,0,", "Talker,client"]


def test_protocolErrorClosesOnlyItsConnection(
    reactor: Any, sockdir: Path, loggedErrors: list[dict[str, Any]]
) -> None:
    class Broken(Protocol):
        def dataReceived(self, data: bytes) -> None:
            raise RuntimeError("broken protocol")

    path = str(sockdir / "broken.sock")
    reactor.listenUNIX(path, Factory.forProtocol(Broken))
    first, second = Recorder(), Recorder()
    reactor.connectUNIX(path, OneProtocolFactory(first))
    reactor.connectUNIX(path, OneProtocolFactory(second))
    runUntilFired(reactor, first.made)
    runUntilFired(reactor, second.made)
    first.transport.write(b"boom")
    runUntilFired(reactor, first.lost)
    assert not second.lost.called
    assert any("broken protocol" in str(e.get("failure")) for e in loggedErrors)


# -- descriptor leaks --------------------------------------------------------------------


def openDescriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_thousandConnectCloseCyclesLeakNoDescriptors(reactor: Any, sockdir: Path) -> None:
    class ClosingServer(Protocol):
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
    path = str(sockdir / "cycle.sock")
    port = reactor.listenUNIX(path, serverFactory)
    factory = Counting()
    reactor.connectUNIX(path, factory)
    runUntil(reactor, lambda: len(closed) == 1)
    before = openDescriptors()
    total, batch = 1000, 40
    for done in range(1 + batch, total + 2, batch):
        for _ in range(batch):
            reactor.connectUNIX(path, factory)
        runUntil(reactor, lambda done=done: len(closed) == done, timeout=20)
    assert len(closed) == total + 1
    for _ in range(5):
        reactor.iterate(0.01)
    assert openDescriptors() <= before
    runUntilFired(reactor, port.stopListening())
    assert openDescriptors() < before


# -- without a reactor -------------------------------------------------------------------


def test_unixAddressNormalisesComparesAndPrints() -> None:
    assert repr(UNIXAddress("/tmp/x")) == "UNIXAddress('/tmp/x')"
    assert UNIXAddress(b"/tmp/x") == UNIXAddress("/tmp/x") == UNIXAddress(Path("/tmp/x"))
    assert hash(UNIXAddress(b"/tmp/x")) == hash(UNIXAddress("/tmp/x"))
    assert UNIXAddress("") == UNIXAddress(None)
    assert repr(UNIXAddress(None)) == "UNIXAddress(None)"
    assert UNIXAddress(b"\0abstract").name == "\0abstract"
    raw = b"/tmp/\xff\xfe"
    assert os.fsencode(UNIXAddress(raw).name or "") == raw
    assert UNIXAddress("/a") != UNIXAddress("/b")


def test_memoryReactorRecordsUNIXCalls() -> None:
    memory = MemoryReactor()
    assert verifyObject(IReactorUNIX, memory)
    factory = ClientFactory()
    port = memory.listenUNIX("/tmp/m.sock", factory, mode=0o600, wantPID=True)
    assert memory.unixServers == [("/tmp/m.sock", factory, 50, 0o600, True)]
    assert port.getHost() == UNIXAddress("/tmp/m.sock")
    connector = memory.connectUNIX("/tmp/m.sock", factory, timeout=3)
    assert memory.unixClients == [("/tmp/m.sock", factory, 3, False)]
    assert connector.getDestination() == UNIXAddress("/tmp/m.sock")
    assert memory.connectors == [connector]
    protocol = object()
    memory.listenUNIXDatagram("/tmp/d.sock", protocol)
    memory.connectUNIXDatagram("/tmp/d.sock", protocol, bindAddress="/tmp/e.sock")
    assert memory.unixServers[-1] == ("/tmp/d.sock", protocol, 8192, 0o666)
    assert memory.unixClients[-1] == ("/tmp/d.sock", protocol, 8192, 0o666, "/tmp/e.sock")


def test_cannotListenErrorForUNIXPathNamesPathNotInterface() -> None:
    e = error.CannotListenError(None, "/run/x.sock", OSError(errno.EADDRINUSE, "in use: stop it"))
    assert str(e) == "Couldn't listen on '/run/x.sock': [Errno 98] in use: stop it"


def test_permissionDeniedIsExplained() -> None:
    # The OS raises this where the directory is not writable (the reactor test of it
    # skips as root); here the wording of that error is checked on its own.
    from torsion.internet._unixpaths import listenError

    e = listenError("/srv/app/s.sock", OSError(errno.EACCES, "Permission denied"))
    assert isinstance(e, error.CannotListenError)
    assert e.socketError.errno == errno.EACCES
    assert str(e) == (
        "Couldn't listen on '/srv/app/s.sock': [Errno 13] Permission denied: this user "
        "may not create files in '/srv/app'; choose a directory it can write to (such as "
        "$XDG_RUNTIME_DIR or /tmp), or change the directory's permissions"
    )
