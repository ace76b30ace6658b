"""Tests for torsion.protocols.wire without sockets: what each service says, TCP and UDP.

Real sockets and the flow control of Echo and Chargen: test_wire_sockets.py.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

from torsion.internet.interfaces import IPullProducer, IPushProducer
from torsion.internet.protocol import Factory
from torsion.internet.testing import StringTransport
from torsion.protocols import wire
from torsion.protocols.wire import (
    QOTD,
    QOTDUDP,
    Chargen,
    ChargenUDP,
    Daytime,
    DaytimeUDP,
    Discard,
    DiscardUDP,
    Echo,
    EchoUDP,
    Time,
    TimeUDP,
    Who,
    WhoUDP,
)


def connect(proto: Any, factory: Any = None) -> StringTransport:
    transport = StringTransport()
    proto.factory = factory
    proto.makeConnection(transport)
    return transport


class DatagramTransport:
    """Records what a datagram protocol sends, and to whom."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, Any]] = []

    def write(self, datagram: bytes, addr: Any) -> None:
        self.sent.append((datagram, addr))


def datagramProtocol(proto: Any) -> DatagramTransport:
    transport = DatagramTransport()
    proto.transport = transport
    return transport


CLIENT = ("127.0.0.1", 40000)


# -- echo and discard ---------------------------------------------------------------------


def test_echoWritesBackWhatItReceives() -> None:
    echo = Echo()
    transport = connect(echo)
    echo.dataReceived(b"hello")
    echo.dataReceived(b" world")
    assert transport.value() == b"hello world"


def test_echoPausesItsOwnReadingAsAStreamingProducer() -> None:
    echo = Echo()
    transport = connect(echo)
    assert transport.streaming is True
    assert IPushProducer.providedBy(transport.producer)
    transport.producer.pauseProducing()  # type: ignore[attr-defined]
    assert transport.producerState == "paused"
    transport.producer.resumeProducing()  # type: ignore[attr-defined]
    assert transport.producerState == "producing"


def test_discardWritesNothing() -> None:
    discard = Discard()
    transport = connect(discard)
    discard.dataReceived(b"hello")
    assert transport.value() == b""


def test_udpEchoSendsEachDatagramBack() -> None:
    proto = EchoUDP()
    transport = datagramProtocol(proto)
    proto.datagramReceived(b"ping", CLIENT)
    assert transport.sent == [(b"ping", CLIENT)]


def test_udpDiscardSendsNothing() -> None:
    proto = DiscardUDP()
    transport = datagramProtocol(proto)
    proto.datagramReceived(b"ping", CLIENT)
    assert transport.sent == []


@pytest.mark.parametrize("port", [0, 7, 9, 11, 13, 17, 19, 37])
@pytest.mark.parametrize("kind", [EchoUDP, ChargenUDP, QOTDUDP, WhoUDP, DaytimeUDP, TimeUDP])
def test_udpServicesNeverAnswerAnotherServicesPort(kind: type[Any], port: int) -> None:
    proto = kind()
    transport = datagramProtocol(proto)
    proto.datagramReceived(b"x", ("127.0.0.1", port))
    assert transport.sent == []


# -- chargen ------------------------------------------------------------------------------


def test_chargenLinesFollowRFC864sPattern() -> None:
    lines = wire.chargenLines(96).split(b"\r\n")
    assert lines[0] == bytes(range(32, 104))
    assert lines[1] == bytes(range(33, 105))
    # Line 94 wraps around the printable characters; line 95 starts the cycle again.
    assert lines[94] == b"~" + bytes(range(32, 103))
    assert lines[95] == lines[0]
    assert all(len(line) == 72 for line in lines[:96])


def test_chargenLinesGoOnWhereTheyStopped() -> None:
    together = wire.chargenLines(200)
    assert wire.chargenLines(120) + wire.chargenLines(80, 120) == together


def test_chargenIsAPullProducerThatWritesOnlyWhenAsked() -> None:
    proto = Chargen()
    transport = connect(proto)
    assert transport.producer is proto and transport.streaming is False
    assert IPullProducer.providedBy(proto)
    assert transport.value() == b""
    proto.resumeProducing()
    first = transport.value()
    assert len(first) == 95 * 74
    proto.resumeProducing()
    assert transport.value() == wire.chargenLines(190)
    proto.dataReceived(b"ignored")
    assert len(transport.value()) == 190 * 74


def test_udpChargenAnswersUpTo512BytesOfThePattern() -> None:
    proto = ChargenUDP()
    transport = datagramProtocol(proto)
    for _ in range(50):
        proto.datagramReceived(b"", CLIENT)
    sizes = [len(datagram) for datagram, _ in transport.sent]
    assert len(sizes) == 50 and max(sizes) <= 512
    pattern = wire.chargenLines(200) * 2
    assert all(datagram in pattern for datagram, _ in transport.sent)


# -- qotd ---------------------------------------------------------------------------------


def test_qotdSendsTheDefaultQuoteAndCloses() -> None:
    transport = connect(QOTD())
    assert transport.value() == wire.DEFAULT_QUOTE.encode() + b"\r\n"
    assert transport.disconnecting


def test_qotdTakesItsQuoteFromTheFactory() -> None:
    factory = Factory.forProtocol(QOTD)
    factory.quote = "Simple things should be simple."  # type: ignore[attr-defined]
    transport = connect(QOTD(), factory)
    assert transport.value() == b"Simple things should be simple.\r\n"


def test_qotdCutsAQuoteAt512Bytes() -> None:
    proto = QOTD()
    proto.quote = "x" * 1000
    transport = connect(proto)
    assert transport.value() == b"x" * 510 + b"\r\n"


def test_udpQotdAnswersEachDatagram() -> None:
    proto = QOTDUDP()
    proto.quote = b"bytes quote\r\n"
    transport = datagramProtocol(proto)
    proto.datagramReceived(b"?", CLIENT)
    assert transport.sent == [(b"bytes quote\r\n", CLIENT)]


# -- who ----------------------------------------------------------------------------------


def utmpRecord(kind: int, user: bytes, line: bytes = b"pts/0", host: bytes = b"") -> bytes:
    return wire._UTMP_RECORD.pack(kind, 1234, line, b"ts/0", user, host, 0, 0, 0, 1790000000, 0)


def test_readUtmpListsOnlyUserProcesses(tmp_path: Path) -> None:
    path = tmp_path / "utmp"
    path.write_bytes(
        utmpRecord(2, b"reboot", b"~")  # BOOT_TIME
        + utmpRecord(7, b"alice", b"pts/0", b"192.0.2.1")
        + utmpRecord(8, b"gone")  # DEAD_PROCESS
        + utmpRecord(7, b"bob", b"tty1")
    )
    entries = wire.readUtmp(str(path))
    assert [(e.user, e.line, e.host) for e in entries] == [
        ("alice", "pts/0", "192.0.2.1"),
        ("bob", "tty1", ""),
    ]
    assert entries[0].loginTime == 1790000000


@pytest.mark.parametrize("content", [None, b"", b"not a utmp file"])
def test_readUtmpOfAMissingOrForeignFileIsEmpty(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "utmp"
    if content is not None:
        path.write_bytes(content)
    assert wire.readUtmp(str(path)) == []


def test_whoListsTheUtmpUsers(tmp_path: Path) -> None:
    path = tmp_path / "utmp"
    path.write_bytes(utmpRecord(7, b"alice", b"pts/3", b"example.org"))
    proto = Who()
    proto.utmpPath = str(path)
    transport = connect(proto)
    assert transport.value() == b"alice    pts/3    2026-09-21 14:13 (example.org)\r\n"
    assert transport.disconnecting


def test_whoWithNobodyLoggedInSendsNothingAndCloses(tmp_path: Path) -> None:
    proto = Who()
    proto.utmpPath = str(tmp_path / "missing")
    transport = connect(proto)
    assert transport.value() == b""
    assert transport.disconnecting


def test_whoUsesTheGetUsersHook() -> None:
    class Staff(Who):
        def getUsers(self) -> list[str]:
            return ["root", "operator\r\n"]

    transport = connect(Staff())
    assert transport.value() == b"root\r\noperator\r\n"


def test_udpWhoKeepsToWholeLinesWithin512Bytes() -> None:
    class Crowd(WhoUDP):
        def getUsers(self) -> list[str]:
            return [f"user{n:04}" for n in range(100)]

    proto = Crowd()
    transport = datagramProtocol(proto)
    proto.datagramReceived(b"", CLIENT)
    [(answer, _)] = transport.sent
    assert len(answer) <= 512 and answer.endswith(b"\r\n")
    assert answer == b"".join(f"user{n:04}\r\n".encode() for n in range(len(answer) // 10))


def test_udpWhoCutsASingleHugeLine() -> None:
    class Long(WhoUDP):
        def getUsers(self) -> list[str]:
            return ["y" * 2000]

    proto = Long()
    transport = datagramProtocol(proto)
    proto.datagramReceived(b"", CLIENT)
    assert transport.sent[0][0] == b"y" * 510 + b"\r\n"


# -- daytime and time ---------------------------------------------------------------------


class FixedDaytime(Daytime):
    def currentTime(self) -> float:
        return 1796122800.5


def test_daytimeSendsTheDateAsTextAndCloses() -> None:
    transport = connect(FixedDaytime())
    assert transport.value() == b"Tue, 01 Dec 2026 11:00:00 +0000\r\n"
    assert transport.disconnecting


def test_daytimeReportsTheRealTimeByDefault() -> None:
    import email.utils
    import time

    transport = connect(Daytime())
    when = email.utils.parsedate_to_datetime(transport.value().decode().strip())
    assert abs(when.timestamp() - time.time()) < 5


def test_timeSendsSecondsSince1900AndCloses() -> None:
    class Fixed(Time):
        def currentTime(self) -> float:
            return 0.9

    transport = connect(Fixed())
    assert transport.value() == struct.pack("!I", 2208988800)
    assert transport.disconnecting


def test_timeWrapsAroundIn2036() -> None:
    # 2036-02-07 06:28:16 UTC is 2**32 seconds after 1900: the count starts again.
    assert wire.timeBytes(2085978496) == b"\0\0\0\0"
    assert wire.timeBytes(2085978495) == b"\xff\xff\xff\xff"


def test_udpTimeAndDaytimeAnswerEachDatagram() -> None:
    class FixedTime(TimeUDP):
        def currentTime(self) -> float:
            return 1796122800

    class Fixed(DaytimeUDP):
        def currentTime(self) -> float:
            return 1796122800

    for proto, expected in [
        (FixedTime(), struct.pack("!I", 1796122800 + 2208988800)),
        (Fixed(), b"Tue, 01 Dec 2026 11:00:00 +0000\r\n"),
    ]:
        transport = datagramProtocol(proto)
        proto.datagramReceived(b"what time is it?", CLIENT)
        assert transport.sent == [(expected, CLIENT)]
