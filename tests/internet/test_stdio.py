"""Tests for torsion.internet.stdio.StandardIO.

Child programs (tests/internet/_stdiochild.py) run a protocol on StandardIO, each on
the same kind of reactor as the test's, and the test talks to them through pipes, a
pty and regular files with spawnProcess. The rest of StandardIO's behaviour is tested
in this process over pipes of its own.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from zope.interface import implementer
from zope.interface.verify import verifyObject

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from tests.internet.test_process import Recorder, ended
from torsion.internet import error
from torsion.internet.address import PipeAddress
from torsion.internet.interfaces import IConsumer, IHalfCloseableProtocol, IPushProducer, ITransport
from torsion.internet.protocol import Protocol
from torsion.internet.stdio import StandardIO
from torsion.protocols.basic import FileSender
from torsion.python.failure import Failure

reactor = reactormixins.reactor
loggedErrors = reactormixins.loggedErrors

CHILD = Path(__file__).with_name("_stdiochild.py")


@pytest.fixture
def reactorName(request: pytest.FixtureRequest) -> str:
    return str(request.node.callspec.params["reactor"])


def child(reactor: Any, reactorName: str, mode: str, *extra: str, **kw: Any) -> Recorder:
    proto = Recorder()
    argv = [sys.executable, str(CHILD), reactorName, mode, *extra]
    reactor.spawnProcess(proto, sys.executable, argv, env=None, **kw)
    return proto


def finished(reactor: Any, proto: Recorder) -> list[str]:
    """Wait for the child to end cleanly; return the lines it reported on stderr."""
    reason = ended(reactor, proto, timeout=30)
    report = proto.output(2).decode()
    assert isinstance(reason, error.ProcessDone), report
    return report.splitlines()


# -- child programs on StandardIO --------------------------------------------------------


def test_echoOverPipesUntilStdinEnds(reactor: Any, reactorName: str) -> None:
    proto = child(reactor, reactorName, "echo")
    proto.transport.write(b"one\ntwo\n")
    runUntil(reactor, lambda: proto.output() == b"echo: one\necho: two\n", timeout=30)
    proto.transport.write(b"three\n")
    proto.transport.closeStdin()
    report = finished(reactor, proto)
    assert proto.output() == b"echo: one\necho: two\necho: three\n"
    # stdin and stdout are given back blocking, and /dev/null takes their place.
    assert report == ["lost ConnectionDone", "descriptors 0:blocking:devnull 1:blocking:devnull"]


def test_aReaderOfStdoutGoingAwayEndsTheConnection(reactor: Any, reactorName: str) -> None:
    proto = child(reactor, reactorName, "echo")
    proto.transport.write(b"ping\n")
    runUntil(reactor, lambda: proto.output() == b"echo: ping\n", timeout=30)
    proto.transport.closeStdout()
    report = finished(reactor, proto)
    assert report[0] == "lost ConnectionLost"


def test_aHalfCloseableProtocolAnswersAfterStdinEnds(reactor: Any, reactorName: str) -> None:
    proto = child(reactor, reactorName, "halfclose")
    proto.transport.write(b"a\nb\nc\n")
    proto.transport.closeStdin()
    report = finished(reactor, proto)
    assert proto.output() == b"3 lines\n"
    assert report[:3] == ["read closed", "write closed", "lost ConnectionDone"]


def test_loseWriteConnectionClosesStdoutAndReadingGoesOn(reactor: Any, reactorName: str) -> None:
    proto = child(reactor, reactorName, "byefirst")
    runUntil(reactor, lambda: ("lost", 1) in proto.events, timeout=30)
    assert proto.output() == b"bye\n"
    proto.transport.write(b"after\n")
    runUntil(reactor, lambda: b"still reading after" in proto.output(2), timeout=30)
    proto.transport.closeStdin()
    report = finished(reactor, proto)
    assert report[-2] == "lost ConnectionDone"


def test_fileSenderSendsAFileToStdout(reactor: Any, reactorName: str, tmp_path: Path) -> None:
    data = os.urandom(3 * 2**20)
    path = tmp_path / "data"
    path.write_bytes(data)
    proto = child(reactor, reactorName, "sendfile", str(path))
    finished(reactor, proto)
    assert proto.output() == data


def test_stdinMayBeARegularFile(reactor: Any, reactorName: str, tmp_path: Path) -> None:
    lines = [b"line %d" % n for n in range(5000)]
    path = tmp_path / "input"
    path.write_bytes(b"\n".join(lines) + b"\n")
    fd = os.open(path, os.O_RDONLY)
    try:
        proto = child(reactor, reactorName, "echo", childFDs={0: fd, 1: "r", 2: "r"})
    finally:
        os.close(fd)
    report = finished(reactor, proto)
    assert proto.output().splitlines() == [b"echo: " + line for line in lines]
    assert report[0] == "lost ConnectionDone"


def test_stdoutMayBeARegularFile(reactor: Any, reactorName: str, tmp_path: Path) -> None:
    path = tmp_path / "output"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        proto = child(reactor, reactorName, "echo", childFDs={0: "w", 1: fd, 2: "r"})
    finally:
        os.close(fd)
    proto.transport.write(b"x" * 100 + b"\n" + b"to the file\n")
    proto.transport.closeStdin()
    finished(reactor, proto)
    assert path.read_bytes() == b"echo: " + b"x" * 100 + b"\necho: to the file\n"


def test_stdioOnATerminal(reactor: Any, reactorName: str) -> None:
    proto = child(reactor, reactorName, "echo", usePTY=True)
    proto.transport.write(b"typed\n")
    runUntil(reactor, lambda: b"echo: typed\r\n" in proto.output(), timeout=30)
    proto.transport.closeStdin()
    assert isinstance(ended(reactor, proto, timeout=30), error.ProcessDone)
    assert b"lost ConnectionDone" in proto.output()


# -- StandardIO in this process, on pipes of its own -----------------------------------


class Keeper(Protocol):
    def __init__(self) -> None:
        self.data = b""
        self.lost: Failure | None = None

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Any = None) -> None:
        self.lost = reason


@implementer(IHalfCloseableProtocol)
class HalfKeeper(Keeper):
    def __init__(self) -> None:
        super().__init__()
        self.halves: list[str] = []

    def readConnectionLost(self) -> None:
        self.halves.append("read")

    def writeConnectionLost(self) -> None:
        self.halves.append("write")


class Pipes:
    """StandardIO on two new pipes: ``feed`` writes its stdin, ``drain`` reads its stdout."""

    def __init__(self, reactor: Any, proto: Any) -> None:
        self.stdin, self.feed = os.pipe()
        self.drain, self.stdout = os.pipe()
        self.transport = StandardIO(proto, self.stdin, self.stdout, reactor)

    def read(self) -> bytes:
        os.set_blocking(self.drain, False)
        try:
            return os.read(self.drain, 2**20)
        except BlockingIOError:
            return b""

    def close(self) -> None:
        for fd in (self.feed, self.drain):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture
def pipes(reactor: Any) -> Any:
    made: list[Pipes] = []

    def make(proto: Any) -> Pipes:
        made.append(Pipes(reactor, proto))
        return made[-1]

    yield make
    for p in made:
        p.close()


def test_standardIOIsATransport(reactor: Any, pipes: Any) -> None:
    proto = Keeper()
    p = pipes(proto)
    transport = p.transport
    assert proto.transport is transport
    for interface in (ITransport, IConsumer, IPushProducer):
        assert verifyObject(interface, transport)
    assert transport.getPeer() == transport.getHost() == PipeAddress()
    assert repr(transport) == "<StandardIO of Keeper>"
    assert transport.logPrefix() == "Keeper"
    os.write(p.feed, b"in")
    runUntil(reactor, lambda: proto.data == b"in")
    transport.write(b"out ")
    transport.writeSequence([b"and ", b"more"])
    runUntil(reactor, lambda: p.read() == b"out and more")


def test_theEndOfStdinClosesAfterTheOutputIsSent(reactor: Any, pipes: Any) -> None:
    proto = Keeper()
    p = pipes(proto)
    p.transport.write(b"last words")
    os.close(p.feed)
    runUntil(reactor, lambda: proto.lost is not None)
    assert isinstance(proto.lost.value, error.ConnectionDone)
    assert os.read(p.drain, 100) == b"last words"
    assert os.read(p.drain, 100) == b""  # stdout closed: descriptors above 2 are closed
    with pytest.raises(OSError):
        os.fstat(p.stdin)


def test_aHalfCloseableProtocolHearsEachHalf(reactor: Any, pipes: Any) -> None:
    proto = HalfKeeper()
    p = pipes(proto)
    os.close(p.feed)
    runUntil(reactor, lambda: proto.halves == ["read"])
    p.transport.write(b"still writing")
    p.transport.loseWriteConnection()
    runUntil(reactor, lambda: proto.halves == ["read", "write"])
    assert isinstance(proto.lost and proto.lost.value, error.ConnectionDone)
    assert os.read(p.drain, 100) == b"still writing"


def test_loseConnectionClosesBoth(reactor: Any, pipes: Any) -> None:
    proto = Keeper()
    p = pipes(proto)
    p.transport.write(b"flushed first")
    p.transport.loseConnection()
    p.transport.loseConnection()
    runUntil(reactor, lambda: proto.lost is not None)
    assert os.read(p.drain, 100) == b"flushed first"
    p.transport.write(b"dropped")  # after the close: nowhere to go
    p.transport.pauseProducing()
    p.transport.resumeProducing()


def test_pausingStopsReadingStdin(reactor: Any, pipes: Any) -> None:
    proto = Keeper()
    p = pipes(proto)
    p.transport.pauseProducing()
    os.write(p.feed, b"waits")
    for _ in range(5):
        reactor.iterate(0.01)
    assert proto.data == b""
    p.transport.resumeProducing()
    runUntil(reactor, lambda: proto.data == b"waits")
    p.transport.stopProducing()
    runUntil(reactor, lambda: proto.lost is not None)


def test_aProducerFeedsStdout(reactor: Any, pipes: Any) -> None:
    data = os.urandom(2**18)
    proto = Keeper()
    p = pipes(proto)
    sent = FileSender().beginFileTransfer(io.BytesIO(data), p.transport)
    received = bytearray()

    def drain() -> bool:
        received.extend(p.read())
        return sent.called and len(received) == len(data)

    runUntil(reactor, drain, timeout=30)
    assert bytes(received) == data
    p.transport.unregisterProducer()


def test_aProducerForAClosedStdoutIsStopped(reactor: Any, pipes: Any) -> None:
    proto = Keeper()
    p = pipes(proto)
    p.transport.loseConnection()
    runUntil(reactor, lambda: proto.lost is not None)
    sending = FileSender().beginFileTransfer(io.BytesIO(b"x"), p.transport)
    with pytest.raises(error.ConnectionLost):
        runUntilFired(reactor, sending)


def test_aProtocolRaisingInConnectionMadeIsDisconnected(
    reactor: Any, pipes: Any, loggedErrors: list[dict[str, Any]]
) -> None:
    class Broken(Keeper):
        def connectionMade(self) -> None:
            raise RuntimeError("broken protocol")

    proto = Broken()
    pipes(proto)
    runUntil(reactor, lambda: proto.lost is not None)
    assert any("connectionMade" in str(e.get("why")) for e in loggedErrors)
    loggedErrors.clear()


def test_aProtocolRaisingInReadConnectionLostIsDisconnected(
    reactor: Any, pipes: Any, loggedErrors: list[dict[str, Any]]
) -> None:
    class Broken(HalfKeeper):
        def readConnectionLost(self) -> None:
            raise RuntimeError("broken protocol")

    proto = Broken()
    p = pipes(proto)
    os.close(p.feed)
    runUntil(reactor, lambda: proto.lost is not None)
    assert any("readConnectionLost" in str(e.get("why")) for e in loggedErrors)
    loggedErrors.clear()


def test_aGoneReaderOfStdoutIsReportedToAHalfCloseableProtocol(reactor: Any, pipes: Any) -> None:
    proto = HalfKeeper()
    p = pipes(proto)
    os.close(p.drain)
    p.transport.write(b"to nobody")
    runUntil(reactor, lambda: proto.halves == ["write"])
    assert proto.lost is None  # still reading
    os.write(p.feed, b"more")
    runUntil(reactor, lambda: proto.data == b"more")
    os.close(p.feed)
    runUntil(reactor, lambda: proto.lost is not None)
    assert isinstance(proto.lost.value, error.ConnectionLost)


def test_theBlockingModeIsPutBackOnTheSharedFile(reactor: Any, pipes: Any) -> None:
    # A terminal is shared with the shell: the mode belongs to the open file, which a
    # copy of the descriptor shares.
    proto = Keeper()
    p = pipes(proto)
    copy = os.dup(p.stdin)
    try:
        assert not os.get_blocking(copy)  # StandardIO made it non-blocking
        p.transport.loseConnection()
        runUntil(reactor, lambda: proto.lost is not None)
        assert os.get_blocking(copy)
    finally:
        os.close(copy)
