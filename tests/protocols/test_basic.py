"""Tests for torsion.protocols.basic's line framing: LineSplitter, LineReceiver,
LineOnlyReceiver (hypothesis properties are in test_basic_properties.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from torsion.internet import protocol
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import IPushProducer
from torsion.internet.testing import StringTransport
from torsion.protocols.basic import (
    LineOnlyReceiver,
    LineReceiver,
    LineSplitter,
    LineTooLong,
)

# The shared fixture, made visible to pytest in this module.
reactor = reactormixins.reactor

# -- LineSplitter -------------------------------------------------------------------------


def test_splitterReturnsCompleteLinesThenNone() -> None:
    splitter = LineSplitter()
    splitter.feed(b"one\r\ntwo\r\nthr")
    assert splitter.nextLine(b"\r\n", 100) == b"one"
    assert splitter.nextLine(b"\r\n", 100) == b"two"
    assert splitter.nextLine(b"\r\n", 100) is None
    assert len(splitter) == 3
    splitter.feed(b"ee\r\n")
    assert splitter.nextLine(b"\r\n", 100) == b"three"
    assert len(splitter) == 0


def test_splitterFindsDelimiterCutAcrossFeeds() -> None:
    splitter = LineSplitter()
    splitter.feed(b"abc\r")
    assert splitter.nextLine(b"\r\n", 100) is None
    splitter.feed(b"\n")
    assert splitter.nextLine(b"\r\n", 100) == b"abc"


def test_splitterFindsADelimiterCutAcrossFeedsAfterALongLine() -> None:
    splitter = LineSplitter()
    splitter.feed(b"x" * 300 + b"\r")
    assert splitter.nextLine(b"\r\n", 1000) is None
    splitter.feed(b"\n")
    assert splitter.nextLine(b"\r\n", 1000) == b"x" * 300


def test_splitterDeliversEmptyLines() -> None:
    splitter = LineSplitter()
    splitter.feed(b"\n\nx\n")
    assert [splitter.nextLine(b"\n", 10) for _ in range(4)] == [b"", b"", b"x", None]


def test_splitterUsesTheDelimiterOfEachCall() -> None:
    splitter = LineSplitter()
    splitter.feed(b"a\r\nb\nc\n")
    assert splitter.nextLine(b"\r\n", 10) == b"a"
    assert splitter.nextLine(b"\n", 10) == b"b"
    assert splitter.nextLine(b"\n", 10) == b"c"


def test_splitterAcceptsLineOfExactlyMaxLength() -> None:
    splitter = LineSplitter()
    splitter.feed(b"12345\r\n")
    assert splitter.nextLine(b"\r\n", 5) == b"12345"


def test_splitterRejectsCompleteLineOneByteTooLong() -> None:
    splitter = LineSplitter()
    splitter.feed(b"123456\r\nnext\r\n")
    with pytest.raises(LineTooLong) as info:
        splitter.nextLine(b"\r\n", 5)
    assert info.value.data == b"123456\r\nnext\r\n"
    assert info.value.maxLength == 5
    assert "MAX_LENGTH" in str(info.value)
    assert len(splitter) == 0


def test_splitterKeepsIncompleteLineThatMayStillFit() -> None:
    # Five bytes and the first byte of the delimiter: the next byte may complete a
    # legal five-byte line, so this must not be rejected yet.
    splitter = LineSplitter()
    splitter.feed(b"12345\r")
    assert splitter.nextLine(b"\r\n", 5) is None
    splitter.feed(b"\n")
    assert splitter.nextLine(b"\r\n", 5) == b"12345"


def test_splitterRejectsIncompleteLineOnceItCannotFit() -> None:
    splitter = LineSplitter()
    splitter.feed(b"123456")
    assert splitter.nextLine(b"\r\n", 5) is None
    splitter.feed(b"7")
    with pytest.raises(LineTooLong) as info:
        splitter.nextLine(b"\r\n", 5)
    assert info.value.data == b"1234567"
    assert len(splitter) == 0


def test_splitterRejectsLineFarBeyondTheLimit() -> None:
    splitter = LineSplitter()
    splitter.feed(b"x" * 1000 + b"\n")
    with pytest.raises(LineTooLong):
        splitter.nextLine(b"\n", 10)


def test_splitterTakeAllReturnsTheRestAndEmpties() -> None:
    splitter = LineSplitter()
    splitter.feed(b"line\nrest of it")
    assert splitter.nextLine(b"\n", 100) == b"line"
    assert splitter.takeAll() == b"rest of it"
    assert len(splitter) == 0
    assert splitter.takeAll() == b""


def test_splitterCopiesMutableInput() -> None:
    splitter = LineSplitter()
    chunk = bytearray(b"abc\n")
    splitter.feed(chunk)
    chunk[0:3] = b"xyz"
    assert splitter.nextLine(b"\n", 10) == b"abc"
    splitter.feed(memoryview(b"def\n"))
    assert splitter.nextLine(b"\n", 10) == b"def"


def test_splitterRejectsText() -> None:
    splitter = LineSplitter()
    with pytest.raises(TypeError, match=r"bytes, not str .*encode"):
        splitter.feed("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bytes, not int"):
        splitter.feed(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bytes, not str"):
        splitter.splitAll("text", b"\n", 10)  # type: ignore[arg-type]


def test_splitterRejectsEmptyDelimiter() -> None:
    splitter = LineSplitter()
    splitter.feed(b"abc")
    with pytest.raises(ValueError, match="delimiter is empty"):
        splitter.nextLine(b"", 10)
    with pytest.raises(ValueError, match="delimiter is empty"):
        splitter.splitAll(b"abc", b"", 10)


def test_splitAllKeepsTheIncompleteTail() -> None:
    splitter = LineSplitter()
    assert splitter.splitAll(b"a\nb\nc", b"\n", 10) == ([b"a", b"b"], None)
    assert splitter.splitAll(b"d\n", b"\n", 10) == ([b"cd"], None)
    assert len(splitter) == 0


def test_splitAllStopsAtTheFirstOverlongLine() -> None:
    splitter = LineSplitter()
    lines, overlong = splitter.splitAll(b"ok\ntoo long\nlater\nta", b"\n", 5)
    assert lines == [b"ok"]
    assert overlong == b"too long\nlater\nta"
    assert len(splitter) == 0


def test_splitAllForgetsTheOldTailWithAnOverlongLine() -> None:
    splitter = LineSplitter()
    assert splitter.splitAll(b"ok\nsta", b"\n", 5) == ([b"ok"], None)
    assert splitter.splitAll(b"rt too long\nx\ny", b"\n", 5) == ([], b"start too long\nx\ny")
    assert len(splitter) == 0
    assert splitter.splitAll(b"z\n", b"\n", 5) == ([b"z"], None)


def test_splitAllSkipsRescanningALongIncompleteLine() -> None:
    splitter = LineSplitter()
    for _ in range(600):
        assert splitter.splitAll(b"x", b"\r\n", 1000) == ([], None)
    assert splitter.splitAll(b"\r", b"\r\n", 1000) == ([], None)
    assert splitter.splitAll(b"\n", b"\r\n", 1000) == ([b"x" * 600], None)


def test_splitAllAfterNextLineKeepsPendingLines() -> None:
    splitter = LineSplitter()
    splitter.feed(b"a\nb\nc")
    assert splitter.nextLine(b"\n", 10) == b"a"
    assert splitter.splitAll(b"d\n", b"\n", 10) == ([b"b", b"cd"], None)


def test_splitterSearchesAgainAfterADelimiterChange() -> None:
    splitter = LineSplitter()
    assert splitter.splitAll(b"x" * 300 + b"|y", b"\n", 1000) == ([], None)
    assert splitter.splitAll(b"", b"|", 1000) == ([b"x" * 300], None)
    splitter.feed(b"z" * 300 + b"|")
    assert splitter.nextLine(b"\n", 1000) is None
    assert splitter.nextLine(b"|", 1000) == b"y" + b"z" * 300


def test_splitAllRejectsALineJustOverTheLimit() -> None:
    assert LineSplitter().splitAll(b"123456\n", b"\n", 5) == ([], b"123456\n")


def test_splitAllRejectsAnOverlongTail() -> None:
    splitter = LineSplitter()
    assert splitter.splitAll(b"ok\r\n12345\r", b"\r\n", 5) == ([b"ok"], None)
    assert splitter.splitAll(b"x", b"\r\n", 5) == ([], b"12345\rx")
    assert len(splitter) == 0


# -- LineReceiver -------------------------------------------------------------------------


class Recorder(LineReceiver):
    """Records what it receives, as ('line', data) and ('raw', data) events."""

    def __init__(self) -> None:
        self.events: list[tuple[str, bytes]] = []
        self.exceeded: list[bytes] = []

    def lineReceived(self, line: bytes) -> None:
        self.events.append(("line", line))

    def rawDataReceived(self, data: bytes) -> None:
        self.events.append(("raw", data))


def connected(proto: Any) -> StringTransport:
    transport = StringTransport()
    proto.makeConnection(transport)
    return transport


def test_lineReceiverDeliversLinesAcrossChunks() -> None:
    proto = Recorder()
    connected(proto)
    for chunk in (b"first", b" line\r", b"\nsecond\r\n\r\nthi", b"rd\r\n"):
        proto.dataReceived(chunk)
    assert proto.events == [
        ("line", b"first line"),
        ("line", b"second"),
        ("line", b""),
        ("line", b"third"),
    ]


def test_lineReceiverUsesItsDelimiter() -> None:
    class NewlineRecorder(Recorder):
        delimiter = b"\n"

    proto = NewlineRecorder()
    transport = connected(proto)
    proto.dataReceived(b"a\r\nb\n")
    assert proto.events == [("line", b"a\r"), ("line", b"b")]
    proto.sendLine(b"reply")
    assert transport.value() == b"reply\n"


def test_delimiterChangedInsideLineReceivedAppliesToTheNextLine() -> None:
    class Switcher(Recorder):
        def lineReceived(self, line: bytes) -> None:
            super().lineReceived(line)
            self.delimiter = b"|"

    proto = Switcher()
    connected(proto)
    proto.dataReceived(b"head\r\na|b|c\r\n")
    assert proto.events == [("line", b"head"), ("line", b"a"), ("line", b"b")]


def test_sendLineAppendsTheDelimiter() -> None:
    proto = Recorder()
    transport = connected(proto)
    proto.sendLine(b"hello")
    proto.sendLine(b"")
    assert transport.value() == b"hello\r\n\r\n"


def test_sendLineRejectsTextWithAHint() -> None:
    proto = Recorder()
    connected(proto)
    with pytest.raises(TypeError, match=r"sendLine takes bytes, not str .*encode"):
        proto.sendLine("hello")  # type: ignore[arg-type]


def test_lineReceivedMustBeOverridden() -> None:
    class Bare(LineReceiver):
        pass

    proto = Bare()
    connected(proto)
    with pytest.raises(NotImplementedError, match="Bare must define lineReceived"):
        proto.dataReceived(b"x\r\n")


def test_rawDataReceivedMustBeOverriddenToUseRawMode() -> None:
    class OnlyLines(LineReceiver):
        def lineReceived(self, line: bytes) -> None:
            self.setRawMode()

    proto = OnlyLines()
    connected(proto)
    with pytest.raises(NotImplementedError, match="OnlyLines called setRawMode"):
        proto.dataReceived(b"x\r\nraw")


def test_errorInLineReceivedLeavesTheProtocolUsable() -> None:
    class Flaky(Recorder):
        def lineReceived(self, line: bytes) -> None:
            if line == b"bad":
                raise ValueError("bad line")
            super().lineReceived(line)

    proto = Flaky()
    connected(proto)
    with pytest.raises(ValueError, match="bad line"):
        proto.dataReceived(b"bad\r\nafter\r\n")
    proto.dataReceived(b"more\r\n")
    assert proto.events == [("line", b"after"), ("line", b"more")]


def test_lineReceiverWorksWithoutCallingBaseInit() -> None:
    class NoSuper(LineReceiver):
        def __init__(self, name: str) -> None:
            self.name = name
            self.lines: list[bytes] = []

        def lineReceived(self, line: bytes) -> None:
            self.lines.append(line)

    first, second = NoSuper("a"), NoSuper("b")
    connected(first)
    connected(second)
    first.dataReceived(b"one\r\npart")
    second.dataReceived(b"two\r\n")
    assert (first.lines, second.lines) == ([b"one"], [b"two"])
    assert first.clearLineBuffer() == b"part"


def test_lineReceiverIsAPushProducer() -> None:
    assert IPushProducer.providedBy(Recorder())


class HeaderThenBody(Recorder):
    """Reads "LEN n" then n raw bytes, then goes back to lines."""

    remaining = 0

    def lineReceived(self, line: bytes) -> None:
        super().lineReceived(line)
        if line.startswith(b"LEN "):
            self.remaining = int(line[4:])
            self.setRawMode()

    def rawDataReceived(self, data: bytes) -> None:
        body, rest = data[: self.remaining], data[self.remaining :]
        self.remaining -= len(body)
        super().rawDataReceived(body)
        if not self.remaining:
            self.setLineMode(rest)


def test_setRawModeInTheMiddleOfAPacketHandsOverTheRest() -> None:
    proto = HeaderThenBody()
    connected(proto)
    proto.dataReceived(b"LEN 10\r\n0123")
    proto.dataReceived(b"456789after\r\n")
    assert proto.events == [
        ("line", b"LEN 10"),
        ("raw", b"0123"),
        ("raw", b"456789"),
        ("line", b"after"),
    ]


def test_setLineModeParsesTheExtraBytesFirst() -> None:
    proto = HeaderThenBody()
    connected(proto)
    proto.dataReceived(b"LEN 2\r\nxyone\r\ntwo\r\nLEN 1\r\nzthree\r\n")
    assert proto.events == [
        ("line", b"LEN 2"),
        ("raw", b"xy"),
        ("line", b"one"),
        ("line", b"two"),
        ("line", b"LEN 1"),
        ("raw", b"z"),
        ("line", b"three"),
    ]


def test_setLineModeFromOutsideDeliversExtraAtOnce() -> None:
    proto = Recorder()
    connected(proto)
    proto.setRawMode()
    proto.dataReceived(b"raw bytes\r\n")
    proto.setLineMode(b"a\r\nb\r\nc")
    assert proto.events == [("raw", b"raw bytes\r\n"), ("line", b"a"), ("line", b"b")]
    assert proto.clearLineBuffer() == b"c"


def test_rawModeSurvivesEmptyChunks() -> None:
    proto = Recorder()
    connected(proto)
    proto.setRawMode()
    proto.dataReceived(b"")
    proto.dataReceived(b"x")
    assert proto.events == [("raw", b"x")]


def test_clearLineBufferInsideLineReceivedDropsTheRest() -> None:
    class Clearer(Recorder):
        cleared = b""

        def lineReceived(self, line: bytes) -> None:
            super().lineReceived(line)
            self.cleared = self.clearLineBuffer()

    proto = Clearer()
    connected(proto)
    proto.dataReceived(b"one\r\ntwo\r\nthr")
    assert proto.events == [("line", b"one")]
    assert proto.cleared == b"two\r\nthr"
    proto.dataReceived(b"four\r\n")
    assert proto.events == [("line", b"one"), ("line", b"four")]


def test_lineOfExactlyMaxLengthIsDelivered() -> None:
    proto = Recorder()
    proto.MAX_LENGTH = 5
    transport = connected(proto)
    proto.dataReceived(b"12345\r\n")
    assert proto.events == [("line", b"12345")]
    assert not transport.disconnecting


def test_overlongLineDropsTheConnectionAndStopsDelivery() -> None:
    proto = Recorder()
    proto.MAX_LENGTH = 5
    transport = connected(proto)
    proto.dataReceived(b"ok\r\n123456\r\nnever\r\n")
    assert proto.events == [("line", b"ok")]
    assert transport.disconnecting


def test_overlongIncompleteLineIsDetectedAtTheBound() -> None:
    proto = Recorder()
    proto.MAX_LENGTH = 5
    transport = connected(proto)
    proto.dataReceived(b"123456")  # MAX_LENGTH + len(delimiter) - 1 bytes: may still end
    assert not transport.disconnecting
    assert len(proto._lineSplitter) == 6
    proto.dataReceived(b"7")
    assert transport.disconnecting
    assert len(proto._lineSplitter) == 0


def test_lineLengthExceededGetsTheRestAndParsingResumes() -> None:
    class Tolerant(Recorder):
        MAX_LENGTH = 5

        def lineLengthExceeded(self, line: bytes) -> None:
            self.exceeded.append(line)

    proto = Tolerant()
    transport = connected(proto)
    proto.dataReceived(b"ok\r\n123456\r\nskipped\r\n")
    proto.dataReceived(b"next\r\n")
    assert proto.exceeded == [b"123456\r\nskipped\r\n"]
    assert proto.events == [("line", b"ok"), ("line", b"next")]
    assert not transport.disconnecting


def test_loseConnectionInsideLineReceivedStopsDelivery() -> None:
    class Quitter(Recorder):
        def lineReceived(self, line: bytes) -> None:
            super().lineReceived(line)
            if line == b"QUIT":
                self.transport.loseConnection()

    proto = Quitter()
    transport = connected(proto)
    proto.dataReceived(b"a\r\nQUIT\r\nb\r\n")
    proto.dataReceived(b"c\r\n")
    assert proto.events == [("line", b"a"), ("line", b"QUIT")]
    assert transport.disconnecting


def test_loseConnectionInsideRawDataReceivedStopsDelivery() -> None:
    class RawQuitter(Recorder):
        def rawDataReceived(self, data: bytes) -> None:
            super().rawDataReceived(data)
            self.transport.loseConnection()
            self.setLineMode(b"x\r\n")

    proto = RawQuitter()
    connected(proto)
    proto.setRawMode()
    proto.dataReceived(b"raw")
    assert proto.events == [("raw", b"raw")]


class Pauser(Recorder):
    """Pauses itself (as a producer) after each line "PAUSE"."""

    def lineReceived(self, line: bytes) -> None:
        super().lineReceived(line)
        if line == b"PAUSE":
            self.pauseProducing()


def test_pauseInsideLineReceivedHoldsTheFollowingLines() -> None:
    proto = Pauser()
    transport = connected(proto)
    proto.dataReceived(b"a\r\nPAUSE\r\nb\r\nc")
    assert proto.events == [("line", b"a"), ("line", b"PAUSE")]
    assert transport.producerState == "paused"
    proto.dataReceived(b"\r\n")  # a transport may deliver one more chunk; it is held
    assert proto.events == [("line", b"a"), ("line", b"PAUSE")]
    proto.resumeProducing()
    assert transport.producerState == "producing"
    assert proto.events == [("line", b"a"), ("line", b"PAUSE"), ("line", b"b"), ("line", b"c")]


def test_resumeInsideLineReceivedKeepsDelivering() -> None:
    class PauseResume(Recorder):
        def lineReceived(self, line: bytes) -> None:
            super().lineReceived(line)
            self.pauseProducing()
            self.resumeProducing()

    proto = PauseResume()
    transport = connected(proto)
    proto.dataReceived(b"a\r\nb\r\n")
    assert proto.events == [("line", b"a"), ("line", b"b")]
    assert transport.producerState == "producing"


def test_stopProducingStopsDeliveryAndTheTransport() -> None:
    proto = Recorder()
    transport = connected(proto)
    proto.stopProducing()
    proto.dataReceived(b"a\r\n")
    assert proto.events == []
    assert transport.producerState == "stopped"


def test_dataFedBackFromLineReceivedIsDeliveredInOrder() -> None:
    class Feeder(Recorder):
        def lineReceived(self, line: bytes) -> None:
            super().lineReceived(line)
            if line == b"a":
                self.dataReceived(b"fed\r\n")

    proto = Feeder()
    connected(proto)
    proto.dataReceived(b"a\r\nb\r\n")
    assert proto.events == [("line", b"a"), ("line", b"b"), ("line", b"fed")]


# -- LineOnlyReceiver ---------------------------------------------------------------------


class OnlyRecorder(LineOnlyReceiver):
    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.exceeded: list[bytes] = []

    def lineReceived(self, line: bytes) -> None:
        self.lines.append(line)


def test_lineOnlyReceiverDeliversLinesAcrossChunks() -> None:
    proto = OnlyRecorder()
    transport = connected(proto)
    for chunk in (b"a", b"b\r", b"\nc\r\n\r\nd"):
        proto.dataReceived(chunk)
    assert proto.lines == [b"ab", b"c", b""]
    proto.sendLine(b"out")
    assert transport.value() == b"out\r\n"


def test_lineOnlyReceiverWorksWithoutATransport() -> None:
    proto = OnlyRecorder()
    proto.dataReceived(b"a\r\nb\r\n")
    assert proto.lines == [b"a", b"b"]


def test_lineOnlyReceiverStopsOnLoseConnection() -> None:
    class Quitter(OnlyRecorder):
        def lineReceived(self, line: bytes) -> None:
            super().lineReceived(line)
            if line == b"QUIT":
                self.transport.loseConnection()

    proto = Quitter()
    connected(proto)
    proto.dataReceived(b"a\r\nQUIT\r\nb\r\n")
    assert proto.lines == [b"a", b"QUIT"]


def test_lineOnlyReceiverDeliversLinesBeforeAnOverlongOne() -> None:
    proto = OnlyRecorder()
    proto.MAX_LENGTH = 3
    transport = connected(proto)
    proto.dataReceived(b"abc\r\nabcd\r\nlater\r\n")
    assert proto.lines == [b"abc"]
    assert transport.disconnecting


def test_lineOnlyReceiverDetectsOverlongIncompleteLine() -> None:
    class Tolerant(OnlyRecorder):
        MAX_LENGTH = 3

        def lineLengthExceeded(self, line: bytes) -> None:
            self.exceeded.append(line)

    proto = Tolerant()
    connected(proto)
    proto.dataReceived(b"abc\r")
    assert proto.exceeded == []
    proto.dataReceived(b"x")
    assert proto.exceeded == [b"abc\rx"]
    proto.dataReceived(b"ok\r\n")
    assert proto.lines == [b"ok"]


def test_lineOnlyReceiverDoesNotCallExceededOnceClosing() -> None:
    class Quitter(OnlyRecorder):
        MAX_LENGTH = 3

        def lineReceived(self, line: bytes) -> None:
            super().lineReceived(line)
            self.transport.loseConnection()

        def lineLengthExceeded(self, line: bytes) -> None:
            self.exceeded.append(line)

    proto = Quitter()
    connected(proto)
    proto.dataReceived(b"a\r\ntoo long")
    assert proto.lines == [b"a"]
    assert proto.exceeded == []


# -- over real sockets --------------------------------------------------------------------


class UpperServer(LineReceiver):
    """Answers each line in upper case; pauses itself for a moment on "PAUSE"."""

    def lineReceived(self, line: bytes) -> None:
        if line == b"PAUSE":
            self.pauseProducing()
            self.factory.paused.append(self.transport)
            self.factory.reactor.callLater(0.05, self.resumeProducing)
        self.sendLine(line.upper())


class UpperFactory(protocol.ServerFactory):
    protocol = UpperServer

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self.paused: list[Any] = []


class Collector(LineReceiver):
    """A client that sends lines in awkward pieces and collects the answers."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.lost: Deferred[None] = Deferred()

    def lineReceived(self, line: bytes) -> None:
        self.lines.append(line)

    def connectionLost(self, reason: object = None) -> None:
        self.lost.callback(None)


def test_lineReceiverOverRealSockets(reactor: Any) -> None:
    factory = UpperFactory(reactor)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    d = protocol.ClientCreator(reactor, Collector).connectTCP("127.0.0.1", port.getHost().port)
    client = runUntilFired(reactor, d)
    stream = b"one\r\ntw" + b"o\r\nPAUSE\r\nthree\r\n" + b"x" * 5000 + b"\r\n"
    for start in range(0, len(stream), 7):
        client.transport.write(stream[start : start + 7])
    runUntil(reactor, lambda: len(client.lines) == 5)
    assert client.lines == [b"ONE", b"TWO", b"PAUSE", b"THREE", b"X" * 5000]
    assert len(factory.paused) == 1
    client.transport.loseConnection()
    runUntilFired(reactor, client.lost)
    runUntilFired(reactor, port.stopListening())


def test_overlongLineOverRealSocketsClosesTheConnection(reactor: Any) -> None:
    factory = UpperFactory(reactor)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    d = protocol.ClientCreator(reactor, Collector).connectTCP("127.0.0.1", port.getHost().port)
    client = runUntilFired(reactor, d)
    client.sendLine(b"fine")
    client.transport.write(b"y" * (UpperServer.MAX_LENGTH + 2))
    runUntilFired(reactor, client.lost)
    assert client.lines == [b"FINE"]
    runUntilFired(reactor, port.stopListening())
