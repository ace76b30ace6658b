"""Tests for torsion.protocols.basic's string framing (NetstringParser, IntNParser and
their receivers), StatefulStringProtocol and FileSender."""

from __future__ import annotations

import io
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from tests.protocols.test_basic_properties import chunkings
from torsion.internet import protocol
from torsion.internet.defer import Deferred
from torsion.internet.error import ConnectionLost
from torsion.internet.interfaces import IPullProducer, IPushProducer
from torsion.internet.testing import EventLoggingObserver, StringTransport
from torsion.logger import LogLevel, formatEvent, globalLogPublisher
from torsion.protocols.basic import (
    FileSender,
    IncompleteNetstring,
    Int8StringReceiver,
    Int16StringReceiver,
    Int32StringReceiver,
    IntNParser,
    IntNStringReceiver,
    LengthLimitExceeded,
    NetstringParseError,
    NetstringParser,
    NetstringReceiver,
    StatefulStringProtocol,
    StringTooLongError,
)

# The shared fixture, made visible to pytest in this module.
reactor = reactormixins.reactor


def drain(parser: Any, *args: Any) -> list[bytes]:
    strings = []
    while (string := parser.nextString(*args)) is not None:
        strings.append(string)
    return strings


# -- NetstringParser ----------------------------------------------------------------------


def test_netstringParserReadsNetstrings() -> None:
    parser = NetstringParser()
    parser.feed(b"5:hello,0:,3:a:b,")
    assert drain(parser, 100) == [b"hello", b"", b"a:b"]
    assert len(parser) == 0


def test_netstringParserWaitsForEachPart() -> None:
    parser = NetstringParser()
    for piece in (b"1", b"2", b":", b"hello ", b"world!"):
        parser.feed(piece)
        assert parser.nextString(100) is None
    parser.feed(b",")
    assert parser.nextString(100) == b"hello world!"


def test_netstringParserAcceptsExactlyMaxLength() -> None:
    parser = NetstringParser()
    parser.feed(b"3:abc,")
    assert parser.nextString(3) == b"abc"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"x:", "is not a netstring length"),
        (b"1x", "is not a netstring length"),
        (b"01:a,", "leading"),
        (b":", "no length"),
        (b"3:abcX", "not followed by a comma"),
        (b"4:", "more than the limit of 3"),
        (b"1000", "more than 3 bytes"),
    ],
)
def test_netstringParserRejectsWhatIsNotANetstring(data: bytes, message: str) -> None:
    parser = NetstringParser()
    parser.feed(data)
    with pytest.raises(NetstringParseError, match=message):
        parser.nextString(3)


def test_netstringParserRejectsAHugeLengthBeforeItsColon() -> None:
    parser = NetstringParser()
    parser.feed(b"99")
    assert parser.nextString(99) is None
    parser.feed(b"9")
    with pytest.raises(NetstringParseError, match="MAX_LENGTH"):
        parser.nextString(99)


def test_incompleteNetstringIsKeptForCompatibility() -> None:
    assert issubclass(IncompleteNetstring, Exception)
    assert issubclass(NetstringParseError, ValueError)


# -- IntNParser ---------------------------------------------------------------------------


def test_intNParserReadsStrings() -> None:
    parser = IntNParser("!H")
    parser.feed(b"\x00\x03abc\x00\x00\x00\x01z")
    assert drain(parser, 100) == [b"abc", b"", b"z"]


def test_intNParserWaitsForPrefixAndPayload() -> None:
    parser = IntNParser("!I")
    parser.feed(b"\x00\x00\x00")
    assert parser.nextString(100) is None
    parser.feed(b"\x05hel")
    assert parser.nextString(100) is None
    parser.feed(b"lo")
    assert parser.nextString(100) == b"hello"


def test_intNParserSkipsAStringOverTheLimitAndGoesOn() -> None:
    parser = IntNParser("!B")
    parser.feed(b"\x0a01234")
    with pytest.raises(LengthLimitExceeded) as info:
        parser.nextString(5)
    assert (info.value.length, info.value.maxLength) == (10, 5)
    assert "MAX_LENGTH" in str(info.value)
    assert parser.nextString(5) is None
    parser.feed(b"56789\x02ok")
    assert parser.nextString(5) == b"ok"
    assert len(parser) == 0


def test_parsersRejectText() -> None:
    with pytest.raises(TypeError, match=r"NetstringParser\.feed takes bytes, not str"):
        NetstringParser().feed("1:a,")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"IntNParser\.feed takes bytes, not str"):
        IntNParser("!I").feed("x")  # type: ignore[arg-type]


def test_parserTakeAllReturnsWhatIsBuffered() -> None:
    parser = NetstringParser()
    parser.feed(b"3:a")
    parser.feed(b"bc,rest")
    assert parser.nextString(10) == b"abc"
    assert parser.takeAll() == b"rest"
    assert len(parser) == 0


# -- properties ---------------------------------------------------------------------------

payloads = st.lists(st.binary(max_size=40), max_size=10)


@given(st.data(), payloads)
def test_netstringsSurviveAnyChunking(data: st.DataObject, strings: list[bytes]) -> None:
    stream = b"".join(b"%d:%b," % (len(s), s) for s in strings)
    parser = NetstringParser()
    received: list[bytes] = []
    for chunk in data.draw(chunkings(stream)):
        parser.feed(chunk)
        received += drain(parser, 40)
    assert received == strings


@given(st.data(), payloads, st.sampled_from([("!B", 1), ("!H", 2), ("!I", 4)]))
def test_lengthPrefixedStringsSurviveAnyChunking(
    data: st.DataObject, strings: list[bytes], prefix: tuple[str, int]
) -> None:
    stream = b"".join(struct.pack(prefix[0], len(s)) + s for s in strings)
    parser = IntNParser(prefix[0])
    received: list[bytes] = []
    for chunk in data.draw(chunkings(stream)):
        parser.feed(chunk)
        received += drain(parser, 40)
    assert received == strings


def drainBatches(parser: Any, maxLength: int) -> list[bytes | str]:
    """Everything nextStrings gives, with "error" where it reports one."""
    out: list[bytes | str] = []
    while True:
        strings, error = parser.nextStrings(maxLength)
        out.extend(strings)
        if error is not None:
            out.append("error")
        elif not strings:
            return out


def drainOneByOne(parser: Any, maxLength: int) -> list[bytes | str]:
    out: list[bytes | str] = []
    while True:
        try:
            string = parser.nextString(maxLength)
        except (NetstringParseError, LengthLimitExceeded):
            out.append("error")
            continue
        if string is None:
            return out
        out.append(string)


@given(
    st.data(),
    st.lists(st.binary(max_size=40), max_size=20),
    st.sampled_from(["!B", "!H", "!I"]),
    st.integers(0, 30),
)
def test_intNBatchesGiveWhatOneByOneGivesWhateverTheChunks(
    data: st.DataObject, strings: list[bytes], structFormat: str, limit: int
) -> None:
    stream = b"".join(struct.pack(structFormat, len(s)) + s for s in strings)
    one = IntNParser(structFormat)
    batch = IntNParser(structFormat)
    expectedAll: list[bytes | str] = []
    gotAll: list[bytes | str] = []
    for chunk in data.draw(chunkings(stream)):
        one.feed(chunk)
        batch.feed(chunk)
        expectedAll += drainOneByOne(one, limit)
        gotAll += drainBatches(batch, limit)
    assert gotAll == expectedAll
    assert [s for s in gotAll if s != "error"] == [s for s in strings if len(s) <= limit]


def test_int32PausedInsideStringReceivedHoldsTheRestOfTheBatch() -> None:
    class Pausing(Int32StringReceiver):
        def __init__(self) -> None:
            self.strings: list[bytes] = []

        def stringReceived(self, string: bytes) -> None:
            self.strings.append(string)
            if string == b"pause":
                self.pauseProducing()

    proto = Pausing()
    proto.makeConnection(StringTransport())
    frames = b"".join(struct.pack("!I", len(s)) + s for s in [b"a", b"pause", b"b", b"c"])
    proto.dataReceived(frames + struct.pack("!I", 10**9))
    assert proto.strings == [b"a", b"pause"]
    proto.resumeProducing()
    assert proto.strings == [b"a", b"pause", b"b", b"c"]
    assert proto.transport.disconnecting  # the oversized string after them


@given(st.binary(max_size=200), st.integers(0, 30))
def test_netstringParserOnGarbageFailsCleanlyAndStaysBounded(garbage: bytes, limit: int) -> None:
    parser = NetstringParser()
    for index in range(len(garbage)):
        parser.feed(garbage[index : index + 1])
        try:
            drain(parser, limit)
        except NetstringParseError:
            return
        assert len(parser) <= len(str(limit)) + limit + 1


# -- NetstringReceiver --------------------------------------------------------------------


class Strings(NetstringReceiver):
    def __init__(self) -> None:
        self.strings: list[bytes] = []

    def stringReceived(self, string: bytes) -> None:
        self.strings.append(string)


def connected(proto: Any) -> StringTransport:
    transport = StringTransport()
    proto.makeConnection(transport)
    return transport


def test_netstringReceiverReceivesAndSends() -> None:
    proto = Strings()
    transport = connected(proto)
    proto.dataReceived(b"5:hel")
    proto.dataReceived(b"lo,3:abc,")
    assert proto.strings == [b"hello", b"abc"]
    proto.sendString(b"ciao")
    proto.sendString(bytearray(b""))  # type: ignore[arg-type]
    assert transport.value() == b"4:ciao,0:,"


def test_netstringReceiverRejectsTextToSend() -> None:
    proto = Strings()
    connected(proto)
    with pytest.raises(TypeError, match="sendString takes bytes, not str"):
        proto.sendString("ciao")  # type: ignore[arg-type]


def test_badNetstringMarksTheBrokenPeerAndDrops() -> None:
    proto = Strings()
    transport = connected(proto)
    proto.dataReceived(b"2:ok,2:abX3:def,")
    assert proto.strings == [b"ok"]
    assert proto.brokenPeer == 1
    assert transport.disconnecting


def test_badNetstringLengthLogsAWarningNamingThePeerAndTheProblem() -> None:
    observer = EventLoggingObserver()
    globalLogPublisher.addObserver(observer)
    try:
        proto = Strings()
        connected(proto)
        proto.dataReceived(b"x5:hello,")
    finally:
        globalLogPublisher.removeObserver(observer)
    [warning] = [e for e in observer if e.get("log_level") == LogLevel.warn]
    text = formatEvent(warning)
    assert "Strings dropped the connection from" in text
    assert "54321" in text
    assert "is not a netstring length" in text


def test_brokenPeerIsIgnoredEvenIfTheTransportStaysOpen() -> None:
    class StubbornTransport(StringTransport):
        def loseConnection(self) -> None:
            pass

    proto = Strings()
    proto.makeConnection(StubbornTransport())
    proto.dataReceived(b"2:abX")
    proto.dataReceived(b"1:a,")
    assert proto.brokenPeer == 1
    assert proto.strings == []


def test_netstringTooLongDrops() -> None:
    proto = Strings()
    proto.MAX_LENGTH = 3
    transport = connected(proto)
    proto.dataReceived(b"4:abcd,")
    assert proto.strings == []
    assert transport.disconnecting


def test_stringReceivedMustBeOverridden() -> None:
    proto = NetstringReceiver()
    connected(proto)
    with pytest.raises(NotImplementedError, match="must define stringReceived"):
        proto.dataReceived(b"1:a,")


def test_netstringReceiverPausesAndStopsOnClose() -> None:
    class Controlled(Strings):
        def stringReceived(self, string: bytes) -> None:
            super().stringReceived(string)
            if string == b"pause":
                self.pauseProducing()
            elif string == b"quit":
                self.transport.loseConnection()

    proto = Controlled()
    transport = connected(proto)
    proto.dataReceived(b"5:pause,1:a,4:quit,1:b,")
    assert proto.strings == [b"pause"]
    assert transport.producerState == "paused"
    proto.resumeProducing()
    assert proto.strings == [b"pause", b"a", b"quit"]
    assert IPushProducer.providedBy(proto)


# -- IntNStringReceiver -------------------------------------------------------------------


def receiverOf(base: type[Any]) -> Any:
    class Receiver(base):  # type: ignore[misc,valid-type]
        def stringReceived(self, string: bytes) -> None:
            self.strings.append(string)

    proto = Receiver()
    proto.strings = []
    proto.exceeded = []
    return proto


@pytest.mark.parametrize("base", [Int8StringReceiver, Int16StringReceiver, Int32StringReceiver])
def test_lengthPrefixedReceiversRoundTrip(base: type[Any]) -> None:
    sender, receiver = receiverOf(base), receiverOf(base)
    transport = connected(sender)
    connected(receiver)
    for string in (b"", b"x", b"y" * 200):
        sender.sendString(string)
    for index in range(len(transport.value())):
        receiver.dataReceived(transport.value()[index : index + 1])
    assert receiver.strings == [b"", b"x", b"y" * 200]


def test_int32PrefixIsBigEndian() -> None:
    proto = receiverOf(Int32StringReceiver)
    transport = connected(proto)
    proto.sendString(b"abc")
    assert transport.value() == b"\x00\x00\x00\x03abc"


def test_sendStringTooLongForThePrefix() -> None:
    proto = receiverOf(Int8StringReceiver)
    transport = connected(proto)
    proto.sendString(b"x" * 255)
    with pytest.raises(StringTooLongError, match="256 bytes does not fit a 1-byte"):
        proto.sendString(b"x" * 256)
    assert len(transport.value()) == 256


def test_lengthLimitExceededDropsByDefault() -> None:
    proto = receiverOf(Int16StringReceiver)
    proto.MAX_LENGTH = 4
    transport = connected(proto)
    proto.dataReceived(b"\x00\x02ok\x00\x05abcde\x00\x01z")
    assert proto.strings == [b"ok"]
    assert transport.disconnecting


def test_lengthLimitExceededOverrideSkipsTheString() -> None:
    class Tolerant(Int16StringReceiver):
        MAX_LENGTH = 4

        def __init__(self) -> None:
            self.strings: list[bytes] = []
            self.exceeded: list[int] = []

        def stringReceived(self, string: bytes) -> None:
            self.strings.append(string)

        def lengthLimitExceeded(self, length: int) -> None:
            self.exceeded.append(length)

    proto = Tolerant()
    connected(proto)
    proto.dataReceived(b"\x00\x05ab")
    proto.dataReceived(b"cde\x00\x01z\x00\x06")
    proto.dataReceived(b"123456\x00\x00")
    assert proto.exceeded == [5, 6]
    assert proto.strings == [b"z", b""]


def test_intNStringReceiverNeedsAPrefix() -> None:
    class NoPrefix(IntNStringReceiver):
        pass

    proto = NoPrefix()
    connected(proto)
    with pytest.raises(TypeError, match="derive from Int32StringReceiver"):
        proto.dataReceived(b"\x00")


# -- StatefulStringProtocol ---------------------------------------------------------------


class Login(StatefulStringProtocol, NetstringReceiver):
    def __init__(self) -> None:
        self.user = b""

    def proto_init(self, string: bytes) -> str:
        self.user = string
        return "password"

    def proto_password(self, string: bytes) -> str:
        self.sendString(b"welcome " + self.user)
        return "done"


def test_statefulProtocolFollowsItsStatesAndClosesWhenDone() -> None:
    proto = Login()
    transport = connected(proto)
    proto.dataReceived(b"3:ann,6:secret,5:extra,")
    assert transport.value() == b"11:welcome ann,"
    assert proto.state == "done"
    assert transport.disconnecting


def test_statefulProtocolLogsAStateWithoutHandler() -> None:
    observer = EventLoggingObserver()
    globalLogPublisher.addObserver(observer)
    try:
        proto = Login()
        connected(proto)
        proto.state = "missing"
        proto.dataReceived(b"1:x,")
    finally:
        globalLogPublisher.removeObserver(observer)
    errors = [e for e in observer if e.get("log_level") == LogLevel.error]
    assert len(errors) == 1
    assert errors[0]["state"] == "missing"
    assert "proto_{state}" in errors[0]["log_format"]
    assert proto.state == "missing"


# -- FileSender ---------------------------------------------------------------------------


def pump(transport: StringTransport, limit: int = 1000) -> None:
    """Ask the registered pull producer for chunks until it unregisters."""
    for _ in range(limit):
        producer = transport.producer
        if producer is None:
            return
        producer.resumeProducing()  # type: ignore[attr-defined]
    raise AssertionError("the producer never finished")


def test_fileSenderSendsTheWholeFileAndFiresWithTheLastByte() -> None:
    content = bytes(range(256)) * 300
    transport = StringTransport()
    sender = FileSender()
    d = sender.beginFileTransfer(io.BytesIO(content), transport)
    assert transport.producer is sender and transport.streaming is False
    assert IPullProducer.providedBy(sender)
    results: list[bytes] = []
    d.addCallback(results.append)
    pump(transport)
    assert transport.value() == content
    assert results == [b"\xff"]


def test_fileSenderAppliesTheTransform() -> None:
    transport = StringTransport()
    d = FileSender().beginFileTransfer(io.BytesIO(b"abc" * 10000), transport, bytes.upper)
    pump(transport)
    assert transport.value() == b"ABC" * 10000
    assert d.called


def test_fileSenderOfAnEmptyFileFiresWithEmptyBytes() -> None:
    transport = StringTransport()
    d = FileSender().beginFileTransfer(io.BytesIO(b""), transport)
    results: list[bytes] = []
    d.addCallback(results.append)
    pump(transport)
    assert results == [b""]


def test_fileSenderFailsWhenTheConsumerStops() -> None:
    transport = StringTransport()
    sender = FileSender()
    d = sender.beginFileTransfer(io.BytesIO(b"x" * 100000), transport)
    sender.resumeProducing()
    sender.stopProducing()
    failures: list[Any] = []
    d.addErrback(failures.append)
    assert failures[0].check(ConnectionLost)
    sender.stopProducing()  # a second stop is harmless


def test_fileSenderFailsWhenReadingFails() -> None:
    class Broken(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            raise OSError("disk on fire")

    transport = StringTransport()
    d = FileSender().beginFileTransfer(Broken(), transport)
    pump(transport)
    failures: list[Any] = []
    d.addErrback(failures.append)
    assert failures[0].check(OSError)
    assert transport.producer is None


def test_fileSenderOverRealSockets(reactor: Any) -> None:
    content = bytes(range(256)) * 4000  # about 1 MB: many chunks, a full socket buffer
    sent: Deferred[bytes] = Deferred()

    class Sender(protocol.Protocol):
        def connectionMade(self) -> None:
            FileSender().beginFileTransfer(io.BytesIO(content), self.transport).chainDeferred(sent)

    class Sink(protocol.Protocol):
        def __init__(self) -> None:
            self.data: list[bytes] = []
            self.size = 0

        def dataReceived(self, data: bytes) -> None:
            self.data.append(data)
            self.size += len(data)

    port = reactor.listenTCP(0, protocol.ServerFactory.forProtocol(Sender), interface="127.0.0.1")
    d = protocol.ClientCreator(reactor, Sink).connectTCP("127.0.0.1", port.getHost().port)
    sink = runUntilFired(reactor, d)
    assert runUntilFired(reactor, sent, timeout=10) == b"\xff"
    runUntil(reactor, lambda: sink.size >= len(content), timeout=10)
    assert b"".join(sink.data) == content
    sink.transport.loseConnection()
    runUntilFired(reactor, port.stopListening())
