"""Tests for Connection.sendfile (torsion.internet.tcp): a file sent by the kernel.

They run on each reactor of the ``reactor`` fixture whose TCP is torsion's own; the
asyncio loop's transports have no sendfile (torsion.web.static sends files with a
producer there, which tests/web/test_static.py checks on every reactor).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired, skipOnLoopTransports
from torsion.internet import error, tcp
from torsion.internet.defer import Deferred
from torsion.internet.protocol import ClientFactory, Factory, Protocol

reactor = reactormixins.reactor

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="Connection.sendfile is used on Linux only"
)

CONTENT = bytes(range(256)) * 4096  # 1 MiB


class Sender(Protocol):
    """Writes a head, then sends a slice of a file, then writes a tail."""

    def __init__(self, path: Path, offset: int, count: int, tail: bytes = b"") -> None:
        self.path, self.offset, self.count, self.tail = path, offset, count, tail
        self.result: Deferred[int] = Deferred()
        self.fileobj: Any = None

    def connectionMade(self) -> None:
        self.fileobj = open(self.path, "rb")  # noqa: SIM115 (closed when sent)
        self.transport.write(b"HEAD")
        d = self.transport.sendfile(self.fileobj, self.offset, self.count)
        d.addBoth(self._sent)

    def _sent(self, result: Any) -> None:
        self.fileobj.close()
        if self.tail and not isinstance(result, BaseException) and isinstance(result, int):
            self.transport.write(self.tail)
            self.transport.loseConnection()
        self.result.callback(result)


class Receiver(Protocol):
    def __init__(self) -> None:
        self.data = bytearray()
        self.lost: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: object = None) -> None:
        self.lost.callback(None)


def connect(reactor: Any, sender: Sender) -> tuple[Any, Receiver]:
    port = reactor.listenTCP(0, Factory.forProtocol(lambda: sender), interface="127.0.0.1")
    receiver = Receiver()
    factory = ClientFactory.forProtocol(lambda: receiver)
    reactor.connectTCP("127.0.0.1", port.getHost().port, factory)
    return port, receiver


@pytest.fixture
def bigFile(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(CONTENT)
    return path


def test_theSliceFollowsWhatWasWrittenAndPrecedesWhatIsWrittenAfter(
    reactor: Any, bigFile: Path
) -> None:
    skipOnLoopTransports(reactor, "there is no sendfile")
    sender = Sender(bigFile, 1000, len(CONTENT) - 2000, tail=b"TAIL")
    port, receiver = connect(reactor, sender)
    assert runUntilFired(reactor, sender.result) == len(CONTENT) - 2000
    runUntilFired(reactor, receiver.lost)
    assert bytes(receiver.data) == b"HEAD" + CONTENT[1000:-1000] + b"TAIL"
    port.stopListening()


def test_aSlowReaderHoldsTheFileBackInsteadOfTheBuffer(reactor: Any, tmp_path: Path) -> None:
    skipOnLoopTransports(reactor, "there is no sendfile")
    path = tmp_path / "big.bin"
    size = 32 * 2**20
    with open(path, "wb") as f:
        f.truncate(size)
    sender = Sender(path, 0, size)
    port, receiver = connect(reactor, sender)
    runUntil(reactor, lambda: len(receiver.data) > 2**16)
    receiver.transport.pauseProducing()
    for _ in range(10):
        reactor.iterate(0.02)
    server = sender.transport
    # Nothing waits in torsion's buffer; what the kernel holds is all that left the file.
    assert server.bufferedSize() == 0
    assert not sender.result.called
    assert isinstance(server.producer, tcp._FileSender)
    assert server.producer._offset < size // 2
    receiver.transport.resumeProducing()
    assert runUntilFired(reactor, sender.result, timeout=20) == size
    runUntil(reactor, lambda: len(receiver.data) == 4 + size, timeout=20)
    port.stopListening()


def test_aFileThatShrinksFailsWithEOFError(reactor: Any, bigFile: Path) -> None:
    skipOnLoopTransports(reactor, "there is no sendfile")
    sender = Sender(bigFile, len(CONTENT) - 10, 20)
    port, _receiver = connect(reactor, sender)
    with pytest.raises(EOFError, match="ended after 10 of the 20 bytes"):
        runUntilFired(reactor, sender.result)
    assert sender.transport.producer is None
    port.stopListening()


def test_aLostConnectionFailsTheSend(reactor: Any, tmp_path: Path) -> None:
    skipOnLoopTransports(reactor, "there is no sendfile")
    path = tmp_path / "big.bin"
    with open(path, "wb") as f:
        f.truncate(32 * 2**20)
    sender = Sender(path, 0, 32 * 2**20)
    port, receiver = connect(reactor, sender)
    runUntil(reactor, lambda: len(receiver.data) > 0)
    receiver.transport.abortConnection()
    with pytest.raises(error.ConnectionLost):
        runUntilFired(reactor, sender.result)
    port.stopListening()


def test_nothingToSendFiresAtOnce(reactor: Any, bigFile: Path) -> None:
    skipOnLoopTransports(reactor, "there is no sendfile")
    sender = Sender(bigFile, 0, 0)
    port, _receiver = connect(reactor, sender)
    assert runUntilFired(reactor, sender.result) == 0
    assert sender.transport.producer is None
    with pytest.raises(ValueError, match="must not be negative"):
        sender.transport.sendfile(sender.fileobj, -1, 5)
    port.stopListening()


def test_aConnectionWithAProducerOrTLSRefuses(reactor: Any, bigFile: Path) -> None:
    skipOnLoopTransports(reactor, "there is no sendfile")
    from tests.internet.tlshelpers import serverOptions

    class Idle:
        def pauseProducing(self) -> None: ...
        def resumeProducing(self) -> None: ...
        def stopProducing(self) -> None: ...

    sender = Sender(bigFile, 0, 0)
    port, _receiver = connect(reactor, sender)
    runUntilFired(reactor, sender.result)
    transport = sender.transport
    transport.registerProducer(Idle(), True)
    with open(bigFile, "rb") as f:
        with pytest.raises(RuntimeError, match="unregisterProducer"):
            transport.sendfile(f, 0, 10)
        transport.unregisterProducer()
        transport.startTLS(serverOptions())
        with pytest.raises(RuntimeError, match="TLS is started"):
            transport.sendfile(f, 0, 10)
    port.stopListening()


def test_offLinuxSendfileIsRefused(
    reactor: Any, bigFile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    skipOnLoopTransports(reactor, "there is no sendfile")
    sender = Sender(bigFile, 0, 0)
    port, _receiver = connect(reactor, sender)
    runUntilFired(reactor, sender.result)
    monkeypatch.setattr(tcp, "_SENDFILE_WORKS", False)
    with open(bigFile, "rb") as f, pytest.raises(NotImplementedError, match="producer"):
        sender.transport.sendfile(f, 0, 10)
    port.stopListening()


def test_theFilePositionIsLeftAlone(reactor: Any, bigFile: Path) -> None:
    skipOnLoopTransports(reactor, "there is no sendfile")

    class Positioned(Sender):
        def connectionMade(self) -> None:
            self.fileobj = open(self.path, "rb")  # noqa: SIM115
            self.fileobj.seek(7)
            self.transport.sendfile(self.fileobj, 100, 50).addBoth(self._sent)

        def _sent(self, result: Any) -> None:
            self.position = os.lseek(self.fileobj.fileno(), 0, os.SEEK_CUR)
            super()._sent(result)

    sender = Positioned(bigFile, 0, 0)
    port, receiver = connect(reactor, sender)
    runUntilFired(reactor, sender.result)
    runUntil(reactor, lambda: len(receiver.data) == 50)
    assert bytes(receiver.data) == CONTENT[100:150]
    assert sender.position == 7
    port.stopListening()
