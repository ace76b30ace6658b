"""torsion.protocols.wire over real sockets on every reactor: TCP and UDP, nc as a real
client, and the flow control that keeps Echo and Chargen bounded with a peer that does
not read."""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import time
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil
from tests.protocols._rawsockets import RawClient, RawDatagramClient
from torsion.internet.protocol import Factory
from torsion.protocols import wire

reactor = reactormixins.reactor


class RecordingFactory(Factory):
    """Keeps the protocols it builds, so a test can look at the server side."""

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol
        self.built: list[Any] = []

    def buildProtocol(self, addr: Any) -> Any:
        proto = super().buildProtocol(addr)
        self.built.append(proto)
        return proto


def listen(reactor: Any, protocol: Any, **attributes: Any) -> tuple[int, RecordingFactory]:
    factory = RecordingFactory(protocol)
    for name, value in attributes.items():
        setattr(factory, name, value)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    return port.getHost().port, factory


class Staff(wire.Who):
    def getUsers(self) -> list[str]:
        return ["alice", "bob"]


class StaffUDP(wire.WhoUDP):
    def getUsers(self) -> list[str]:
        return ["alice", "bob"]


def test_echoAndDiscardOverTCP(reactor: Any) -> None:
    echoPort, _ = listen(reactor, wire.Echo)
    discardPort, discards = listen(reactor, wire.Discard)
    echo = RawClient(reactor, echoPort)
    echo.send(b"hello, echo")
    assert echo.readUntil(11) == b"hello, echo"
    discard = RawClient(reactor, discardPort)
    discard.send(b"into the void" * 1000)
    runUntil(reactor, lambda: len(discards.built) == 1)
    echo.send(b" again")
    assert echo.readUntil(17) == b"hello, echo again"
    discard.sock.shutdown(socket.SHUT_WR)
    assert discard.readUntilClosed() == b""
    echo.close()


@pytest.mark.parametrize(
    ("protocol", "attributes", "expected"),
    [
        (wire.QOTD, {"quote": "Keep it simple."}, b"Keep it simple.\r\n"),
        (Staff, {}, b"alice\r\nbob\r\n"),
        (wire.Time, {}, None),
        (wire.Daytime, {}, None),
    ],
)
def test_oneShotServicesAnswerAndCloseOverTCP(
    reactor: Any, protocol: Any, attributes: dict[str, Any], expected: bytes | None
) -> None:
    number, _ = listen(reactor, protocol, **attributes)
    client = RawClient(reactor, number)
    answer = client.readUntilClosed()
    client.close()
    if protocol is wire.Time:
        (seconds,) = struct.unpack("!I", answer)
        assert abs(seconds - wire.RFC868_EPOCH_OFFSET - time.time()) < 5
    elif protocol is wire.Daytime:
        assert answer.endswith(b" +0000\r\n") and str(time.gmtime().tm_year).encode() in answer
    else:
        assert answer == expected


def test_chargenSendsThePatternOverTCP(reactor: Any) -> None:
    number, _ = listen(reactor, wire.Chargen)
    client = RawClient(reactor, number)
    received = client.readUntil(20000)
    assert received[:20000] == wire.chargenLines(300)[:20000]
    client.close()


def test_udpServices(reactor: Any) -> None:
    client = RawDatagramClient(reactor)
    quote = wire.QOTDUDP()
    quote.quote = "A datagram of wisdom."
    ports = {}
    for name, proto in [
        ("echo", wire.EchoUDP()),
        ("discard", wire.DiscardUDP()),
        ("chargen", wire.ChargenUDP()),
        ("qotd", quote),
        ("who", StaffUDP()),
        ("daytime", wire.DaytimeUDP()),
        ("time", wire.TimeUDP()),
    ]:
        ports[name] = reactor.listenUDP(0, proto, interface="127.0.0.1").getHost().port
    try:
        assert client.ask(ports["echo"], b"ping") == b"ping"
        assert client.silent(ports["discard"], b"ping", wait=0.1)
        assert len(client.ask(ports["chargen"], b"")) <= 512
        assert client.ask(ports["qotd"], b"") == b"A datagram of wisdom.\r\n"
        assert client.ask(ports["who"], b"") == b"alice\r\nbob\r\n"
        assert client.ask(ports["daytime"], b"").endswith(b" +0000\r\n")
        (seconds,) = struct.unpack("!I", client.ask(ports["time"], b""))
        assert abs(seconds - wire.RFC868_EPOCH_OFFSET - time.time()) < 5
    finally:
        client.close()


def written(proto: Any) -> int:
    return proto._line * 74


def test_chargenStaysBoundedWhenTheClientDoesNotRead(reactor: Any) -> None:
    number, chargens = listen(reactor, wire.Chargen)
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    client.connect(("127.0.0.1", number))
    try:
        runUntil(reactor, lambda: chargens.built and written(chargens.built[0]) > 0)
        proto = chargens.built[0]
        # Once the kernel's buffers are full, nothing more is produced.
        previous = -1
        deadline = time.monotonic() + 10
        while written(proto) != previous:
            assert time.monotonic() < deadline, "chargen never stopped producing"
            previous = written(proto)
            for _ in range(10):
                reactor.iterate(0.01)
        assert written(proto) < 16 * 2**20
        # Reading again lets it go on.
        client.setblocking(False)
        for _ in range(50):
            try:
                client.recv(2**20)
            except BlockingIOError:
                pass
            reactor.iterate(0.01)
        assert written(proto) > previous
    finally:
        client.close()
    runUntil(reactor, lambda: not chargens.built[0].connected)


def test_echoStopsReadingWhenTheClientDoesNotRead(reactor: Any) -> None:
    number, _ = listen(reactor, wire.Echo)
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    client.connect(("127.0.0.1", number))
    client.setblocking(False)
    chunk = b"e" * 65536
    sent = 0
    stalled = 0
    try:
        # Without flow control the server would read (and buffer) all 256 MiB.
        while sent < 256 * 2**20 and stalled < 30:
            try:
                sent += client.send(chunk)
                stalled = 0
            except BlockingIOError:
                stalled += 1
                reactor.iterate(0.01)
        assert stalled >= 30, "the echo server kept reading what it could not send back"
        assert sent < 64 * 2**20
    finally:
        client.close()


@pytest.mark.skipif(shutil.which("nc") is None, reason="nc (netcat-openbsd) is not installed")
def test_ncTalksToEchoAndQotd(reactor: Any) -> None:
    echoPort, _ = listen(reactor, wire.Echo)
    qotdPort, _ = listen(reactor, wire.QOTD, quote="nc was here")

    def nc(port: int, data: bytes) -> bytes:
        proc = subprocess.Popen(
            ["nc", "-N", "127.0.0.1", str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(data)
        proc.stdin.close()
        runUntil(reactor, lambda: proc.poll() is not None, timeout=10)
        out = proc.stdout.read()
        proc.stdout.close()
        assert proc.stderr is not None
        proc.stderr.close()
        return out

    assert nc(echoPort, b"netcat line\n") == b"netcat line\n"
    assert nc(qotdPort, b"") == b"nc was here\r\n"
