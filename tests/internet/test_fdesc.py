"""Tests for torsion.internet.fdesc: the descriptor helpers and the pipe transports.

The transports run on every reactor over real pipes, regular files and /dev/null
(which epoll, and so asyncio's and uvloop's loops, cannot watch).
"""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from torsion.internet import error, fdesc
from torsion.protocols.basic import FileSender
from torsion.python.failure import Failure

reactor = reactormixins.reactor
loggedErrors = reactormixins.loggedErrors


class Owner:
    """Records what a pipe reports."""

    def __init__(self) -> None:
        self.data: dict[Any, bytearray] = {}
        self.lost: dict[Any, Failure] = {}

    def childDataReceived(self, name: Any, data: bytes) -> None:
        self.data.setdefault(name, bytearray()).extend(data)

    def childConnectionLost(self, name: Any, reason: Failure) -> None:
        self.lost[name] = reason

    def logPrefix(self) -> str:
        return "Owner"


@pytest.fixture
def pipe() -> Any:
    readEnd, writeEnd = os.pipe()
    ends = [readEnd, writeEnd]
    yield ends
    for fd in ends:
        try:
            os.close(fd)
        except OSError:
            pass


def isClosed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError as e:
        return e.errno == errno.EBADF
    return False


# -- the helpers -----------------------------------------------------------------------------


def test_setNonBlockingAndSetBlocking(pipe: list[int]) -> None:
    fd = pipe[0]
    fdesc.setNonBlocking(fd)
    assert not os.get_blocking(fd)
    fdesc.setBlocking(fd)
    assert os.get_blocking(fd)


def test_readFromFDHandsOverWhatIsThere(pipe: list[int]) -> None:
    readEnd, writeEnd = pipe
    fdesc.setNonBlocking(readEnd)
    got: list[bytes] = []
    assert fdesc.readFromFD(readEnd, got.append) is None  # nothing there yet
    os.write(writeEnd, b"some bytes")
    assert fdesc.readFromFD(readEnd, got.append, size=4) is None
    assert fdesc.readFromFD(readEnd, got.append) is None
    assert got == [b"some", b" bytes"]
    os.close(writeEnd)
    assert isinstance(fdesc.readFromFD(readEnd, got.append), error.ConnectionDone)


def test_readFromFDReportsAFailedReadAsLost() -> None:
    result = fdesc.readFromFD(987654, lambda data: None)
    assert isinstance(result, error.ConnectionLost)
    assert "Bad file descriptor" in str(result)


def test_writeToFDWritesWhatThePipeTakes(pipe: list[int]) -> None:
    readEnd, writeEnd = pipe
    fdesc.setNonBlocking(writeEnd)
    assert fdesc.writeToFD(writeEnd, b"hello") == 5
    assert os.read(readEnd, 10) == b"hello"
    big = b"x" * 2**20
    written = fdesc.writeToFD(writeEnd, big)
    assert isinstance(written, int) and 0 < written < len(big)
    assert fdesc.writeToFD(writeEnd, big) == 0  # full now


def test_writeToFDReportsAGoneReaderAsLost(pipe: list[int]) -> None:
    readEnd, writeEnd = pipe
    os.close(readEnd)
    result = fdesc.writeToFD(writeEnd, b"nobody")
    assert isinstance(result, error.ConnectionLost)
    assert "Broken pipe" in str(result)


# -- ProcessReader -------------------------------------------------------------------------


def test_aReaderDeliversDataThenTheEnd(reactor: Any, pipe: list[int]) -> None:
    readEnd, writeEnd = pipe
    owner = Owner()
    reader = fdesc.ProcessReader(reactor, owner, "out", readEnd)
    reader.startReading()
    assert not os.get_blocking(readEnd)
    os.write(writeEnd, b"first")
    runUntil(reactor, lambda: owner.data.get("out") == b"first")
    os.write(writeEnd, b" second")
    os.close(writeEnd)
    runUntil(reactor, lambda: "out" in owner.lost)
    assert owner.data["out"] == b"first second"
    assert isinstance(owner.lost["out"].value, error.ConnectionDone)
    assert isClosed(readEnd)
    assert reader.fileno() == -1


def test_aReaderCanBeClosedWhileDataWaits(reactor: Any, pipe: list[int]) -> None:
    readEnd, writeEnd = pipe
    owner = Owner()
    reader = fdesc.ProcessReader(reactor, owner, 7, readEnd)
    reader.startReading()
    reader.loseConnection()
    reader.loseConnection()  # twice is harmless
    os.write(writeEnd, b"never read")
    runUntil(reactor, lambda: 7 in owner.lost)
    assert 7 not in owner.data
    assert isClosed(readEnd)


def test_aReaderCannotBeWritten(reactor: Any, pipe: list[int]) -> None:
    reader = fdesc.ProcessReader(reactor, Owner(), "in", pipe[0])
    with pytest.raises(RuntimeError, match="reading end"):
        reader.write(b"x")
    with pytest.raises(RuntimeError, match="reading end"):
        reader.writeSequence([b"x"])
    assert repr(reader) == f"<ProcessReader 'in' on descriptor {pipe[0]}>"
    assert reader.logPrefix() == "Owner"
    reader.connectionLost(Failure(error.ConnectionDone()))


def test_anOwnerRaisingInDataReceivedLosesTheReader(
    reactor: Any, pipe: list[int], loggedErrors: list[dict[str, Any]]
) -> None:
    readEnd, writeEnd = pipe

    class Broken(Owner):
        def childDataReceived(self, name: Any, data: bytes) -> None:
            raise RuntimeError("broken owner")

    owner = Broken()
    fdesc.ProcessReader(reactor, owner, "out", readEnd).startReading()
    os.write(writeEnd, b"boom")
    runUntil(reactor, lambda: "out" in owner.lost)
    assert owner.lost["out"].check(RuntimeError)
    assert loggedErrors
    loggedErrors.clear()


def test_anOwnerRaisingInConnectionLostIsLogged(
    reactor: Any, pipe: list[int], loggedErrors: list[dict[str, Any]]
) -> None:
    class Broken(Owner):
        def childConnectionLost(self, name: Any, reason: Failure) -> None:
            raise RuntimeError("broken owner")

    reader = fdesc.ProcessReader(reactor, Broken(), "out", pipe[0])
    reader.connectionLost(Failure(error.ConnectionDone()))
    assert any("childConnectionLost" in str(e.get("why")) for e in loggedErrors)
    loggedErrors.clear()
    assert isClosed(pipe[0])


def test_aReaderReadsARegularFileToItsEnd(reactor: Any, tmp_path: Path) -> None:
    # epoll cannot watch a regular file: it is read once per pass instead.
    data = os.urandom(300_000)
    path = tmp_path / "data"
    path.write_bytes(data)
    owner = Owner()
    reader = fdesc.ProcessReader(reactor, owner, "file", os.open(path, os.O_RDONLY))
    reader.startReading()
    runUntil(reactor, lambda: "file" in owner.lost)
    assert owner.data["file"] == data
    assert isinstance(owner.lost["file"].value, error.ConnectionDone)


def test_aReaderOfAPolledFileCanPause(reactor: Any, tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_bytes(b"x" * 200_000)
    owner = Owner()
    reader = fdesc.ProcessReader(reactor, owner, "file", os.open(path, os.O_RDONLY))
    reader.startReading()
    runUntil(reactor, lambda: owner.data.get("file"))
    reader.pauseProducing()
    seen = len(owner.data["file"])
    for _ in range(5):
        reactor.iterate(0)
    assert len(owner.data["file"]) == seen
    reader.resumeProducing()
    runUntil(reactor, lambda: "file" in owner.lost)
    assert len(owner.data["file"]) == 200_000


def test_aReaderOfDevNullEndsAtOnce(reactor: Any) -> None:
    owner = Owner()
    reader = fdesc.ProcessReader(reactor, owner, "null", os.open(os.devnull, os.O_RDONLY))
    reader.startReading()
    runUntil(reactor, lambda: "null" in owner.lost)
    assert "null" not in owner.data


def test_closeDescriptorDecidesHowTheDescriptorIsReleased(reactor: Any, pipe: list[int]) -> None:
    released: list[int] = []
    reader = fdesc.ProcessReader(reactor, Owner(), "r", pipe[0], closeDescriptor=released.append)
    reader.connectionLost(Failure(error.ConnectionDone()))
    assert released == [pipe[0]]
    assert not isClosed(pipe[0])


# -- ProcessWriter -------------------------------------------------------------------------


def test_aWriterSendsWhatIsWrittenAndClosesWhenDone(reactor: Any, pipe: list[int]) -> None:
    readEnd, writeEnd = pipe
    owner = Owner()
    writer = fdesc.ProcessWriter(reactor, owner, 0, writeEnd)
    writer.write(b"one ")
    writer.writeSequence([b"two ", b"three"])
    writer.loseConnection()
    runUntil(reactor, lambda: 0 in owner.lost)
    assert isinstance(owner.lost[0].value, error.ConnectionDone)
    received = b""
    while chunk := os.read(readEnd, 100):
        received += chunk
    assert received == b"one two three"


def test_aWriterNoticesTheReaderGoingAwayWithoutWriting(reactor: Any, pipe: list[int]) -> None:
    readEnd, writeEnd = pipe
    owner = Owner()
    writer = fdesc.ProcessWriter(reactor, owner, 0, writeEnd)
    if not writer.enableReadHack:
        pytest.skip("the writing end of a pipe is not reported readable here")
    os.close(readEnd)
    runUntil(reactor, lambda: 0 in owner.lost)
    assert isinstance(owner.lost[0].value, error.ConnectionLost)


def test_aWriterWritingToAGoneReaderIsLost(reactor: Any, pipe: list[int]) -> None:
    readEnd, writeEnd = pipe
    owner = Owner()
    writer = fdesc.ProcessWriter(reactor, owner, 0, writeEnd)
    writer.stopReading()  # no read hack: the write must find out
    os.close(readEnd)
    writer.write(b"lost")
    runUntil(reactor, lambda: 0 in owner.lost)
    assert isinstance(owner.lost[0].value, error.ConnectionLost)


def test_aWriterWaitsForASlowReader(reactor: Any, pipe: list[int]) -> None:
    readEnd, writeEnd = pipe
    os.set_blocking(readEnd, False)
    owner = Owner()
    writer = fdesc.ProcessWriter(reactor, owner, 0, writeEnd)
    data = os.urandom(2**20)
    writer.write(data)
    writer.loseConnection()
    received = bytearray()

    def drain() -> bool:
        try:
            while chunk := os.read(readEnd, 2**16):
                received.extend(chunk)
        except BlockingIOError:
            pass
        return len(received) == len(data)

    runUntil(reactor, drain)
    runUntil(reactor, lambda: 0 in owner.lost)
    assert bytes(received) == data


def test_aWriterToARegularFile(reactor: Any, tmp_path: Path) -> None:
    path = tmp_path / "out"
    owner = Owner()
    writer = fdesc.ProcessWriter(
        reactor, owner, "file", os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    )
    assert not writer.enableReadHack
    writer.write(b"to a file\n")
    writer.loseConnection()
    runUntil(reactor, lambda: "file" in owner.lost)
    assert isinstance(owner.lost["file"].value, error.ConnectionDone)
    assert path.read_bytes() == b"to a file\n"


def test_fileSenderSendsAFileToAWriter(reactor: Any, tmp_path: Path) -> None:
    data = os.urandom(500_000)
    path = tmp_path / "copy"
    owner = Owner()
    writer = fdesc.ProcessWriter(
        reactor, owner, "file", os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    )
    done = FileSender().beginFileTransfer(io.BytesIO(data), writer)
    runUntilFired(reactor, done)
    writer.loseConnection()
    runUntil(reactor, lambda: "file" in owner.lost)
    assert path.read_bytes() == data


def test_aWriterIsNotAProducerOfReads(reactor: Any, pipe: list[int]) -> None:
    writer = fdesc.ProcessWriter(reactor, Owner(), 0, pipe[1])
    writer.pauseProducing()
    writer.resumeProducing()
    if writer.enableReadHack:
        assert writer in reactor.getReaders()  # still watching for the reader's end
    writer.connectionLost(Failure(error.ConnectionDone()))
    assert writer not in reactor.getReaders()
