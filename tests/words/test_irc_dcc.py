"""DCC transfers: DccSendProtocol, DccFileReceive, DccChat and IRCClient.dccSend.

In memory for the acknowledgement logic and the receiver's refusals, over 127.0.0.1
for a whole file, and end to end through the fake IRC server of
test_irc_client_tcp.py: one client offers a file, the other accepts it.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest

from tests.internet.reactormixins import runUntil, runUntilFired
from tests.words.test_irc_client_tcp import (
    ClientMaker,
    RecordingClient,
    listenFake,
    oneReactor,
)
from torsion.internet.protocol import ClientFactory
from torsion.internet.testing import StringTransport
from torsion.words.protocols import irc

__all__ = ["oneReactor"]


@pytest.mark.parametrize(
    ("offered", "safe"),
    [
        ("photo.jpg", "photo.jpg"),
        ("../../etc/passwd", "passwd"),
        ("/abs/path/x.txt", "x.txt"),
        ("C:\\Windows\\evil.exe", "evil.exe"),
        (".bashrc", "bashrc"),
        ("..", "dcc"),
        ("", "dcc"),
        ("a\x00b\nc", "a_b_c"),
    ],
)
def test_safeFileName(offered: str, safe: str) -> None:
    assert irc.safeFileName(offered) == safe


def test_sendKeepsAWindowAndFinishesOnLastAck() -> None:
    data = os.urandom(100_000)
    proto = irc.DccSendProtocol(io.BytesIO(data))
    proto.blocksize = 10_000
    proto.window = 30_000
    transport = StringTransport()
    proto.makeConnection(transport)
    assert len(transport.value()) == 30_000
    ack = (20_000).to_bytes(4, "big")
    proto.dataReceived(ack[:1])
    proto.dataReceived(ack[1:])
    assert len(transport.value()) == 50_000
    proto.dataReceived((40_000).to_bytes(4, "big") + (50_000).to_bytes(4, "big"))
    assert len(transport.value()) == 80_000
    proto.dataReceived((80_000).to_bytes(4, "big"))
    assert transport.value() == data
    assert not proto.completed
    proto.dataReceived((100_000).to_bytes(4, "big"))
    assert proto.completed and transport.disconnecting


def test_sendWrapsAcksPast4GiB() -> None:
    proto = irc.DccSendProtocol(io.BytesIO(b""))
    proto.makeConnection(StringTransport())
    proto.bytesSent = (1 << 32) + 10
    proto.dataReceived((5).to_bytes(4, "big"))
    assert proto._acked == (1 << 32) + 5


def test_receiveWritesAcksAndClosesAtSize(tmp_path: Path) -> None:
    proto = irc.DccFileReceive("f.bin", fileSize=6, destDir=str(tmp_path))
    results: list[Any] = []
    proto.done.addCallback(results.append)
    transport = StringTransport()
    proto.makeConnection(transport)
    proto.dataReceived(b"abc")
    proto.dataReceived(b"def")
    assert transport.value() == (3).to_bytes(4, "big") + (6).to_bytes(4, "big")
    assert transport.disconnecting
    proto.connectionLost(None)
    assert (tmp_path / "f.bin").read_bytes() == b"abcdef"
    assert results == [6]


def test_receiveRefusesExistingFileUnlessOverwrite(tmp_path: Path) -> None:
    (tmp_path / "f.bin").write_bytes(b"keep")
    proto = irc.DccFileReceive("f.bin", destDir=str(tmp_path))
    failures: list[Any] = []
    proto.done.addErrback(failures.append)
    transport = StringTransport()
    proto.makeConnection(transport)
    assert transport.disconnecting
    proto.connectionLost(None)
    assert (tmp_path / "f.bin").read_bytes() == b"keep"
    assert "set_overwrite" in str(failures[0].value)
    again = irc.DccFileReceive("f.bin", destDir=str(tmp_path))
    again.set_overwrite(True)
    again.makeConnection(StringTransport())
    again.dataReceived(b"new")
    again.connectionLost(None)
    assert (tmp_path / "f.bin").read_bytes() == b"new"


def test_receiveRefusesOversize(tmp_path: Path) -> None:
    announced = irc.DccFileReceive("big", fileSize=10, destDir=str(tmp_path))
    announced.maxSize = 5
    announced.done.addErrback(lambda f: None)
    transport = StringTransport()
    announced.makeConnection(transport)
    assert transport.disconnecting and not (tmp_path / "big").exists()
    liar = irc.DccFileReceive("liar", destDir=str(tmp_path))
    liar.maxSize = 5
    failures: list[Any] = []
    liar.done.addErrback(failures.append)
    transport = StringTransport()
    liar.makeConnection(transport)
    liar.dataReceived(b"1234")
    liar.dataReceived(b"5678")
    assert transport.disconnecting
    liar.connectionLost(None)
    assert (tmp_path / "liar").read_bytes() == b"1234"
    assert "maxSize" in str(failures[0].value)


def test_receiveStaysInItsDirectory(tmp_path: Path) -> None:
    inner = tmp_path / "in"
    inner.mkdir()
    proto = irc.DccFileReceive("../escape.txt", destDir=str(inner))
    proto.makeConnection(StringTransport())
    proto.dataReceived(b"x")
    proto.connectionLost(None)
    assert (inner / "escape.txt").exists() and not (tmp_path / "escape.txt").exists()
    with pytest.raises(OSError, match="not a directory"):
        proto.set_directory(str(tmp_path / "missing"))


def test_receiveResumes(tmp_path: Path) -> None:
    (tmp_path / "r").write_bytes(b"hello, junk")
    proto = irc.DccFileReceive("r", fileSize=12, destDir=str(tmp_path), resumeOffset=7)
    transport = StringTransport()
    proto.makeConnection(transport)
    proto.dataReceived(b"world")
    proto.connectionLost(None)
    assert (tmp_path / "r").read_bytes() == b"hello, world"
    assert transport.value() == (12).to_bytes(4, "big")


def test_shortTransferFails(tmp_path: Path) -> None:
    proto = irc.DccFileReceive("s", fileSize=10, destDir=str(tmp_path))
    failures: list[Any] = []
    proto.done.addErrback(failures.append)
    proto.makeConnection(StringTransport())
    proto.dataReceived(b"abc")
    proto.connectionLost(None)
    assert "after 3 of 10 bytes" in str(failures[0].value)


def test_chat() -> None:
    said: list[tuple[str, str, str]] = []

    class Client:
        nickname = "me"

        def privmsg(self, user: str, channel: str, message: str) -> None:
            said.append((user, channel, message))

    client = Client()
    chat = irc.DccChatFactory(client, ("bob!u@h", "me", "x")).buildProtocol(None)
    transport = StringTransport()
    chat.makeConnection(transport)
    chat.dataReceived(b"hi there\r\nsecond\n" + b"x" * 9000 + b"\nok\n")
    assert said == [
        ("bob!u@h", "me", "hi there"),
        ("bob!u@h", "me", "second"),
        ("bob!u@h", "me", "ok"),
    ]
    chat.sendText("reply\nwith newline")
    assert transport.value() == b"reply with newline\n"


def test_wholeFileOverTcp(oneReactor: Any, tmp_path: Path) -> None:
    reactor = oneReactor
    data = os.urandom(1_500_000)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    factory = irc.DccSendFactory(str(source))
    factory.port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    received: list[irc.DccFileReceive] = []

    class Receiving(ClientFactory):
        def buildProtocol(self, addr: Any) -> irc.DccFileReceive:
            proto = irc.DccFileReceive("copy.bin", fileSize=len(data), destDir=str(tmp_path))
            received.append(proto)
            return proto

    reactor.connectTCP("127.0.0.1", factory.port.getHost().port, Receiving())
    assert runUntilFired(reactor, factory.done, timeout=20) == len(data)
    assert runUntilFired(reactor, received[0].done, timeout=5) == len(data)
    assert (tmp_path / "copy.bin").read_bytes() == data


def test_dccSendBetweenIRCClients(oneReactor: Any, tmp_path: Path) -> None:
    reactor = oneReactor
    _, port = listenFake(reactor)
    (tmp_path / "out").mkdir()
    source = tmp_path / "holiday photo.jpg"
    data = os.urandom(200_000)
    source.write_bytes(data)
    receivers: list[irc.DccFileReceive] = []

    class Accepting(RecordingClient):
        def dccDoSend(
            self, user: str, address: str, port: int, fileName: str, size: int, data: list[str]
        ) -> None:
            accept = self

            class Factory(ClientFactory):
                def buildProtocol(self, addr: Any) -> irc.DccFileReceive:
                    proto = irc.DccFileReceive(
                        fileName, size, (user, accept.nickname, data), destDir=str(tmp_path / "out")
                    )
                    receivers.append(proto)
                    return proto

            reactor.connectTCP(address, port, Factory())

    events: list[tuple[Any, ...]] = []
    makers = [
        ClientMaker("alice", events, clock=reactor),
        ClientMaker("bob", events, clock=reactor),
    ]
    makers[1].buildProtocol = lambda addr: _built(makers[1], Accepting("bob", events), reactor)
    for maker in makers:
        reactor.connectTCP("127.0.0.1", port, maker)
    runUntil(reactor, lambda: all(m.instances and m.instances[0]._registered for m in makers))
    alice = makers[0].instances[0]
    done = alice.dccSend("bob", str(source), reactor=reactor)
    assert runUntilFired(reactor, done, timeout=20) == len(data)
    runUntil(reactor, lambda: bool(receivers) and receivers[0].done.called)
    assert (tmp_path / "out" / "holiday photo.jpg").read_bytes() == data
    assert receivers[0].fromUser == "alice"


def _built(maker: ClientMaker, proto: RecordingClient, reactor: Any) -> RecordingClient:
    proto.clock = reactor
    proto.factory = maker
    maker.instances.append(proto)
    return proto


def test_dccSendTimesOut(oneReactor: Any, tmp_path: Path) -> None:
    reactor = oneReactor
    _, port = listenFake(reactor)
    events: list[tuple[Any, ...]] = []
    maker = ClientMaker("alice", events, clock=reactor)
    reactor.connectTCP("127.0.0.1", port, maker)
    runUntil(reactor, lambda: bool(maker.instances) and maker.instances[0]._registered)
    done = maker.instances[0].dccSend("nobody", io.BytesIO(b"data"), reactor=reactor, timeout=0.1)
    with pytest.raises(TimeoutError):
        runUntilFired(reactor, done, timeout=5)
