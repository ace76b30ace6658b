"""Tests of torsion.spread.banana and its sans-IO core (torsion.spread._bananacodec).

The codec's round trips, its integer boundaries, a decoder fed one byte at a time, each
limit, the module functions, and the Banana protocol through StringTransport (dialect
negotiation both ways, bad input and failing handlers dropping the connection) and over
a real socket on every reactor. Byte-exact comparison with Twisted is in
test_banana_twisted.py, fuzzing in test_banana_fuzz.py.
"""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil
from torsion.internet.protocol import Factory
from torsion.internet.testing import StringTransport
from torsion.logger import LogEvent, LogLevel, formatEvent
from torsion.spread import banana
from torsion.spread._bananacodec import BananaDecoder, BananaEncoder
from torsion.spread.banana import Banana, BananaError

reactor = reactormixins.reactor
ROOT = Path(__file__).resolve().parents[2]
PB_ENCODER = BananaEncoder(Banana.outgoingVocabulary)


def roundTrip(value: Any, vocabulary: bool = False) -> Any:
    data = PB_ENCODER.encode(value) if vocabulary else banana.encode(value)
    decoder = BananaDecoder(Banana.incomingVocabulary if vocabulary else None)
    found = decoder.feed(data)
    assert len(found) == 1 and decoder.buffered == 0
    return found[0]


def byteByByte(data: bytes, decoder: BananaDecoder | None = None) -> list[Any]:
    decoder = decoder or BananaDecoder()
    found: list[Any] = []
    for i in range(len(data)):
        found += decoder.feed(data[i : i + 1])
    return found


# -- the encoding --------------------------------------------------------------------------


INTEGERS = [
    0,
    1,
    127,
    128,
    1023,
    1024,
    2**14 - 1,
    2**14,
    2**21 - 1,
    2**21,
    2**31 - 1,
    2**31,
    2**32,
    2**63,
    2**64,
    2**64 + 1,
    2**447,
    -1,
    -128,
    -(2**31) + 1,
    -(2**31),
    -(2**31) - 1,
    -(2**64),
    -(2**447),
]


@pytest.mark.parametrize("value", INTEGERS)
def test_integersOfAnySizeRoundTrip(value: int) -> None:
    assert roundTrip(value) == value
    assert roundTrip([value, [value]]) == [value, [value]]


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (2**31 - 1, banana.INT),
        (2**31, banana.LONGINT),
        (0, banana.INT),
        (-(2**31), banana.NEG),
        (-(2**31) - 1, banana.LONGNEG),
        (-1, banana.NEG),
    ],
)
def test_intAndLongintMeetWhereTwistedDrawsTheLine(value: int, kind: bytes) -> None:
    assert banana.encode(value)[-1:] == kind


def test_theSpecificationsExamples() -> None:
    assert banana.encode(1) == b"\x01\x81"
    assert banana.encode(-1) == b"\x01\x83"
    assert banana.encode(1.5) == b"\x84\x3f\xf8" + bytes(6)
    assert banana.encode(b"hello") == b"\x05\x82hello"
    assert banana.encode([]) == b"\x00\x80"
    assert banana.encode([1, 23]) == b"\x02\x80\x01\x81\x17\x81"
    assert banana.encode(123456789123456789) == bytes.fromhex("153e41663a69265b0185")
    assert banana.encode([1, [b"hello"]]) == b"\x02\x80\x01\x81\x01\x80\x05\x82hello"


@pytest.mark.parametrize("value", [0.0, -0.0, 1.5, -2.25e-300, 1e308, math.inf, -math.inf])
def test_floatsRoundTripExactly(value: float) -> None:
    back = roundTrip(value)
    assert back == value and math.copysign(1, back) == math.copysign(1, value)


def test_nanRoundTrips() -> None:
    assert math.isnan(roundTrip(math.nan))


def test_everyTypeNestedRoundTrips() -> None:
    value = [b"", b"x" * 200, 1, -5, 2**70, -(2**70), 0.5, [], [[[b"deep"]]], [1] * 300]
    assert roundTrip(value) == value


def test_tuplesBoolsAndSubclassesAreSentAsTheirBase() -> None:
    class Bytes(bytes):
        pass

    class Ints(list[int]):
        pass

    assert roundTrip((1, (True, False), Bytes(b"ab"), Ints([3]))) == [1, [1, 0], b"ab", [3]]
    assert roundTrip(True) == 1


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("text", "encode text to bytes"),
        (None, "jelly"),
        ({1: 2}, "jelly"),
        ([1, object()], "builtins.object"),
        (bytearray(b"x"), "bytearray"),
    ],
)
def test_unsendableValuesAreRefusedWithAReason(value: Any, hint: str) -> None:
    with pytest.raises(BananaError, match=hint):
        banana.encode(value)


def test_theEncoderRefusesWhatThePeerWouldRefuse() -> None:
    with pytest.raises(BananaError, match="too long"):
        banana.encode(b"x" * (banana.SIZE_LIMIT + 1))
    with pytest.raises(BananaError, match="too long"):
        banana.encode([0] * (banana.SIZE_LIMIT + 1))
    with pytest.raises(BananaError, match="448 bits"):
        banana.encode(2**448)
    assert len(banana.encode(b"x" * banana.SIZE_LIMIT)) == banana.SIZE_LIMIT + 4
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(BananaError, match="nested deeper"):
        banana.encode(cyclic)


def test_anEncoderWithAVocabularySendsWordsAsNumbers() -> None:
    assert PB_ENCODER.encode([b"None", b"uncache", b"other"]) == (
        b"\x03\x80\x01\x87\x1f\x87\x05\x82other"
    )
    assert roundTrip([b"answer", [b"None"], b"answer!"], vocabulary=True) == [
        b"answer",
        [b"None"],
        b"answer!",
    ]
    assert banana.encode(b"None") == b"\x04\x82None"


def test_int2b128AndB1282int() -> None:
    digits: list[bytes] = []
    banana.int2b128(4674, digits.append)
    assert digits == [b"\x42", b"\x24"]
    assert banana.b1282int(b"\x42\x24") == 4674
    digits = []
    banana.int2b128(0, digits.append)
    assert digits == [b"\x00"]
    assert banana.b1282int(b"") == 0
    with pytest.raises(BananaError):
        banana.int2b128(-1, digits.append)


# -- the decoder ---------------------------------------------------------------------------


def test_aDecoderFedOneByteAtATimeFindsTheSameExpressions() -> None:
    values = [[1, [b"hello", 2.5, [-(2**80)]], b"y" * 300], 7, b"", [], -3, 1e10]
    data = b"".join(banana.encode(v) for v in values)
    assert byteByByte(data) == values
    assert BananaDecoder().feed(data) == values


def test_aLongStringCutIntoManyChunksIsJoinedOnce() -> None:
    data = banana.encode([b"a" * 100_000, b"b"])
    decoder = BananaDecoder()
    found: list[Any] = []
    for i in range(0, len(data), 1000):
        found += decoder.feed(data[i : i + 1000])
        if not found:
            assert len(decoder._pending) == i // 1000 + 1
    assert found == [[b"a" * 100_000, b"b"]]


def test_feedAcceptsBytearrayAndMemoryview() -> None:
    data = banana.encode([b"ab", 1])
    assert BananaDecoder().feed(bytearray(data)) == [[b"ab", 1]]
    assert BananaDecoder().feed(memoryview(data)) == [[b"ab", 1]]
    assert type(BananaDecoder().feed(memoryview(data))[0][0]) is bytes


def test_maxExpressionsKeepsTheRestForLater() -> None:
    decoder = BananaDecoder()
    data = banana.encode(b"pb") + b"\x02\x80\x01\x87\x1b\x87"
    assert decoder.feed(data, 1) == [b"pb"]
    decoder.vocabulary = Banana.incomingVocabulary
    assert decoder.feed(b"") == [[b"None", b"answer"]]
    assert decoder.feed(b"") == []


def test_aPrefixBeforeAFloatIsIgnoredAsTwistedDoes() -> None:
    assert BananaDecoder().feed(b"\x05\x84" + bytes(8)) == [0.0]


def test_aDecoderIsBrokenForGoodAfterAnError() -> None:
    decoder = BananaDecoder()
    with pytest.raises(BananaError, match="0x88"):
        decoder.feed(b"\x01\x81\x88")
    with pytest.raises(BananaError, match=r"already broken.*0x88"):
        decoder.feed(b"\x01\x81")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x88", "unknown Banana type byte 0x88"),
        (b"\x01\xff", "unknown Banana type byte 0xff"),
        (b"\x01\x87", "no vocabulary"),
    ],
)
def test_badBytesRaiseBananaError(data: bytes, reason: str) -> None:
    with pytest.raises(BananaError, match=reason):
        BananaDecoder().feed(data)


def test_anUnknownVocabularyNumberIsRefused() -> None:
    with pytest.raises(BananaError, match="no word number 99"):
        BananaDecoder(Banana.incomingVocabulary).feed(b"\x63\x87")


# -- the decoder's limits ------------------------------------------------------------------


def test_prefixLimit() -> None:
    assert BananaDecoder().feed(b"\x01" * 64 + b"\x85") == [banana.b1282int(b"\x01" * 64)]
    with pytest.raises(BananaError, match="more than 64 bytes of number"):
        BananaDecoder().feed(b"\x01" * 65 + b"\x81")
    # Refused as soon as the 65th byte arrives, without waiting for a type byte.
    decoder = BananaDecoder()
    assert byteByByte(b"\x01" * 64, decoder) == []
    with pytest.raises(BananaError, match="more than 64"):
        decoder.feed(b"\x01")
    with pytest.raises(BananaError, match="more than 3 bytes"):
        BananaDecoder(prefixLimit=3).feed(b"\x01\x01\x01\x01\x81")


@pytest.mark.parametrize("limit", [1, 2, 3, 4])
def test_anEncoderKeepsToItsPrefixLimit(limit: int) -> None:
    # Every path of the encoder (the table of small ints, the ints built in place, the
    # general case; alone and inside a list) sends at most `limit` digits, and refuses
    # what would need more rather than send what the peer's decoder refuses.
    encoder = BananaEncoder(prefixLimit=limit)
    decoder = BananaDecoder(prefixLimit=limit)
    for digits in range(1, 6):
        for value in (1 << (7 * (digits - 1)), (1 << (7 * digits)) - 1):
            for sign in (1, -1):
                for expression in (sign * value, [sign * value]):
                    if digits > limit:
                        with pytest.raises(BananaError, match="too large for Banana"):
                            encoder.encode(expression)
                        continue
                    assert decoder.feed(encoder.encode(expression)) == [expression]


def test_aHugeRunOfNumberBytesIsRefusedQuickly() -> None:
    with pytest.raises(BananaError, match="more than 64"):
        BananaDecoder().feed(b"\x7f" * 10_000_000)


def header(n: int, kind: bytes) -> bytes:
    digits: list[bytes] = []
    banana.int2b128(n, digits.append)
    return b"".join(digits) + kind


def test_stringSizeLimitIsCheckedOnTheHeader() -> None:
    decoder = BananaDecoder()
    assert decoder.feed(header(banana.SIZE_LIMIT, banana.STRING)) == []
    with pytest.raises(BananaError, match="string of 655361 bytes is over the limit"):
        BananaDecoder().feed(header(banana.SIZE_LIMIT + 1, banana.STRING))
    with pytest.raises(BananaError, match="string of 11 bytes"):
        BananaDecoder(sizeLimit=10).feed(header(11, banana.STRING) + b"x" * 11)
    assert BananaDecoder(sizeLimit=10).feed(header(10, banana.STRING) + b"x" * 10) == [b"x" * 10]


def test_listSizeLimit() -> None:
    assert BananaDecoder().feed(header(banana.SIZE_LIMIT, banana.LIST)) == []
    with pytest.raises(BananaError, match="list of 655361 elements"):
        BananaDecoder().feed(header(banana.SIZE_LIMIT + 1, banana.LIST))
    with pytest.raises(BananaError, match="list of 4 elements"):
        BananaDecoder(sizeLimit=3).feed(banana.encode([1, 2, 3, 4]))


def test_depthLimit() -> None:
    deep: list[Any] = []
    for _ in range(499):
        deep = [deep]
    assert BananaDecoder().feed(b"\x01\x80" * 499 + b"\x00\x80") == [deep]
    with pytest.raises(BananaError, match="nested deeper than the limit of 500"):
        BananaDecoder().feed(b"\x01\x80" * 500 + b"\x00\x80")
    with pytest.raises(BananaError, match="limit of 2"):
        BananaDecoder(depthLimit=2).feed(banana.encode([[[1]]]))
    assert BananaDecoder(depthLimit=2).feed(banana.encode([[1], [2]])) == [[[1], [2]]]
    with pytest.raises(BananaError, match="nested deeper"):
        BananaEncoder(depthLimit=2).encode([[[1]]])


def test_expressionLimitBoundsWhatIsHeldForOneExpression() -> None:
    decoder = BananaDecoder(expressionLimit=800)
    opening = header(100, banana.LIST)
    assert decoder.feed(opening + banana.encode(b"x" * 400)) == []
    assert decoder.buffered == len(opening) + 403
    with pytest.raises(BananaError, match="over the limit of 800"):
        decoder.feed(banana.encode(b"y" * 400) + banana.encode(b"z" * 100)[:50])


def test_expressionLimitRefusesAnAnnouncedStringBeforeItArrives() -> None:
    decoder = BananaDecoder(expressionLimit=1000)
    assert decoder.feed(header(2, banana.LIST) + banana.encode(b"x" * 500)) == []
    with pytest.raises(BananaError, match="over the limit of 1000"):
        decoder.feed(header(600, banana.STRING))


def test_expressionLimitHoldsHoweverTheBytesAreCut() -> None:
    data = banana.encode([b"x" * 600, b"y" * 600])
    assert BananaDecoder(expressionLimit=len(data)).feed(data) == [[b"x" * 600, b"y" * 600]]
    with pytest.raises(BananaError, match="over the limit"):
        BananaDecoder(expressionLimit=len(data) - 1).feed(data)
    with pytest.raises(BananaError, match="over the limit"):
        byteByByte(data, BananaDecoder(expressionLimit=len(data) - 1))
    assert (
        byteByByte(data * 3, BananaDecoder(expressionLimit=len(data)))
        == [[b"x" * 600, b"y" * 600]] * 3
    )


# -- module functions ----------------------------------------------------------------------


def test_decodeTakesExactlyOneExpression() -> None:
    assert banana.decode(b"\x02\x80\x01\x81\x01\x80\x00\x80") == [1, [[]]]
    with pytest.raises(BananaError, match="not a whole"):
        banana.decode(b"\x02\x80\x01\x81")
    with pytest.raises(BananaError, match="not a whole"):
        banana.decode(b"")
    with pytest.raises(BananaError, match="2 bytes follow"):
        banana.decode(b"\x01\x81\x02\x81")


def test_setPrefixLimitAppliesToNewProtocolsAndDecode() -> None:
    try:
        banana.setPrefixLimit(3)
        assert Banana().prefixLimit == 3
        with pytest.raises(BananaError, match="more than 3 bytes"):
            banana.decode(b"\x01" * 4 + b"\x81")
    finally:
        banana.setPrefixLimit(64)
    assert Banana().prefixLimit == 64
    with pytest.raises(ValueError, match=">= 1"):
        banana.setPrefixLimit(0)


def test_theVocabularyIsTwistedsTable() -> None:
    words = Banana.outgoingVocabulary
    assert len(words) == 31
    assert words[b"None"] == 1 and words[b"dictionary"] == 5 and words[b"uncache"] == 31
    assert words[b"message"] == 26 and words[b"answer"] == 27 and words[b"error"] == 28
    assert {n: w for w, n in words.items()} == Banana.incomingVocabulary


# -- the protocol through StringTransport --------------------------------------------------


class Recorder(Banana):
    def __init__(self, isClient: int = 1) -> None:
        super().__init__(isClient)
        self.received: list[Any] = []
        self.ready = 0

    def expressionReceived(self, lst: Any) -> None:
        self.received.append(lst)

    def connectionReady(self) -> None:
        self.ready += 1


def connected(isClient: int, cls: type[Recorder] = Recorder) -> tuple[Recorder, StringTransport]:
    protocol = cls(isClient)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def handshake(client: Recorder, ct: StringTransport, server: Recorder, st: StringTransport) -> None:
    client.dataReceived(st.value())
    st.clear()
    server.dataReceived(ct.value())
    ct.clear()


def test_theServerOffersItsDialectsAndTheClientPicks() -> None:
    server, st = connected(0)
    assert st.value() == banana.encode([b"pb", b"none"])
    client, ct = connected(1)
    assert ct.value() == b""
    client.dataReceived(st.value())
    assert ct.value() == banana.encode(b"pb")
    assert client.currentDialect == b"pb" and client.ready == 1
    server.dataReceived(ct.value())
    assert server.currentDialect == b"pb" and server.ready == 1
    ct.clear()
    client.sendEncoded([b"message", 1, b"answer"])
    assert ct.value() == b"\x03\x80\x1a\x87\x01\x81\x1b\x87"
    server.dataReceived(ct.value())
    assert server.received == [[b"message", 1, b"answer"]]


def test_theClientTakesTheFirstOfferedDialectItKnows() -> None:
    client, ct = connected(1)
    client.dataReceived(banana.encode([1, b"x-unknown", b"none", b"pb"]))
    assert ct.value() == banana.encode(b"none") and client.currentDialect == b"none"
    ct.clear()
    client.sendEncoded([b"None"])
    assert ct.value() == banana.encode([b"None"])


def test_theNoneDialectUsesNoVocabulary(logged: list[LogEvent]) -> None:
    server, st = connected(0)
    server.dataReceived(banana.encode(b"none"))
    assert server.currentDialect == b"none"
    server.dataReceived(b"\x01\x87")
    assert st.disconnecting and "no vocabulary" in formatEvent(logged[-1])


def test_theServerRefusesADialectItDidNotOffer(logged: list[LogEvent]) -> None:
    server, st = connected(0)
    server.dataReceived(banana.encode(b"klingon"))
    assert st.disconnecting and server.ready == 0 and server.currentDialect is None
    text = formatEvent(logged[-1])
    assert "b'klingon'" in text and "does not offer" in text and "10.0.0.2" not in text
    server.dataReceived(banana.encode([1]))
    assert server.received == []


def test_theServerRefusesANonBytesChoice() -> None:
    server, st = connected(0)
    server.dataReceived(banana.encode([b"pb"]))
    assert st.disconnecting and server.currentDialect is None


def test_theClientRefusesWhenItKnowsNoOfferedDialect(logged: list[LogEvent]) -> None:
    client, ct = connected(1)
    client.dataReceived(banana.encode([b"x-future"]))
    assert ct.disconnecting and ct.value() == b"" and client.ready == 0
    assert "none of which this client knows" in formatEvent(logged[-1])


def test_theClientRefusesAnOfferThatIsNotAList() -> None:
    client, ct = connected(1)
    client.dataReceived(banana.encode(b"pb"))
    assert ct.disconnecting and ct.value() == b""


def test_aClientKnowingOnlyNoneAgreesOnNone() -> None:
    class Plain(Recorder):
        knownDialects = [b"none"]

    server, st = connected(0)
    client, ct = connected(1, Plain)
    handshake(client, ct, server, st)
    assert client.currentDialect == server.currentDialect == b"none"
    client.sendEncoded([b"None", 2])
    server.dataReceived(ct.value())
    assert server.received == [[b"None", 2]]


def test_messagesRightBehindTheChoiceUseTheChosenDialect() -> None:
    server, _ = connected(0)
    server.dataReceived(banana.encode(b"pb") + b"\x02\x80\x01\x87\x1b\x87" + b"\x05\x81")
    assert server.received == [[b"None", b"answer"], 5] and server.ready == 1


def test_theHandshakeWorksFedOneByteAtATime() -> None:
    server, st = connected(0)
    client, ct = connected(1)
    for i in range(len(st.value())):
        client.dataReceived(st.value()[i : i + 1])
    client.sendEncoded([b"copy", 1.5])
    data = ct.value()
    for i in range(len(data)):
        server.dataReceived(data[i : i + 1])
    assert server.received == [[b"copy", 1.5]] and server.currentDialect == b"pb"


def test_badBytesDropTheConnectionAndAreLoggedWithThePeer(logged: list[LogEvent]) -> None:
    server, st = connected(0)
    server.dataReceived(banana.encode(b"pb") + banana.encode([1]) + b"\x01\x88" + b"\x01\x81")
    assert server.received == [[1]]
    assert st.disconnecting
    (event,) = [e for e in logged if "dropped the connection" in formatEvent(e)]
    assert event["log_level"] == LogLevel.warn
    assert "0x88" in formatEvent(event) and str(st.getPeer()) in formatEvent(event)
    server.dataReceived(banana.encode([2]))
    assert server.received == [[1]]


def test_anOverLimitMessageDropsTheConnection(logged: list[LogEvent]) -> None:
    class Small(Recorder):
        sizeLimit = 100

    server, st = connected(0, Small)
    server.dataReceived(banana.encode(b"pb") + header(101, banana.STRING))
    assert st.disconnecting and "over the limit of 100" in formatEvent(logged[-1])


def test_expressionLimitOnTheProtocol() -> None:
    class Small(Recorder):
        expressionLimit = 50

    server, st = connected(0, Small)
    server.dataReceived(banana.encode(b"pb") + banana.encode([b"x" * 40]))
    assert server.received == [[b"x" * 40]] and not st.disconnecting
    server.dataReceived(banana.encode([b"x" * 30, b"y" * 30])[:-5])
    assert st.disconnecting


def test_setPrefixLimitOnAConnection() -> None:
    server, st = connected(0)
    server.setPrefixLimit(2)
    server.dataReceived(banana.encode(b"pb") + banana.encode(2**20))
    assert st.disconnecting
    client, _ = connected(1)
    client.setPrefixLimit(2)
    with pytest.raises(BananaError, match="too large"):
        client.sendEncoded(2**20)


def test_aFailingExpressionReceivedIsContained(logged: list[LogEvent]) -> None:
    class Failing(Recorder):
        def expressionReceived(self, lst: Any) -> None:
            super().expressionReceived(lst)
            raise ValueError("handler bug")

    server, st = connected(0, Failing)
    server.dataReceived(banana.encode(b"pb") + banana.encode([1]) + banana.encode([2]))
    assert server.received == [[1]] and st.disconnecting
    event = logged[-1]
    assert event["log_level"] == LogLevel.error
    assert event["log_failure"].check(ValueError)
    assert "failed handling an expression" in formatEvent(event)


def test_aFailingConnectionReadyIsContained(logged: list[LogEvent]) -> None:
    class Failing(Recorder):
        def connectionReady(self) -> None:
            raise RuntimeError("ready bug")

    server, st = connected(0, Failing)
    server.dataReceived(banana.encode(b"pb") + banana.encode([1]))
    assert st.disconnecting and server.received == []
    assert logged[-1]["log_failure"].check(RuntimeError)


def test_expressionsStopWhenTheHandlerClosesTheConnection() -> None:
    class Closing(Recorder):
        def expressionReceived(self, lst: Any) -> None:
            super().expressionReceived(lst)
            self.transport.loseConnection()

    server, _ = connected(0, Closing)
    server.dataReceived(banana.encode(b"pb") + banana.encode([1]) + banana.encode([2]))
    assert server.received == [[1]]


def test_theDefaultExpressionReceivedSaysToOverrideIt(logged: list[LogEvent]) -> None:
    server = Banana(isClient=0)
    transport = StringTransport()
    server.makeConnection(transport)
    server.dataReceived(banana.encode(b"none") + banana.encode([1]))
    assert transport.disconnecting
    assert logged[-1]["log_failure"].check(NotImplementedError)


def test_sendEncodedRefusesWhatBananaCannotSendAndWritesNothing() -> None:
    client, ct = connected(1)
    with pytest.raises(BananaError, match="encode text"):
        client.sendEncoded(["text"])
    assert ct.value() == b""


def test_connectionLostForgetsThePartialExpression() -> None:
    server, _ = connected(0)
    server.dataReceived(banana.encode(b"pb") + header(1000, banana.STRING) + b"x" * 10)
    server.connectionLost()
    assert server._decoder is None
    server.dataReceived(b"x" * 990)
    assert server.received == []


# -- over a real socket --------------------------------------------------------------------


def test_aMalformedStreamDropsOnlyThatConnection(reactor: Any) -> None:
    servers: list[Recorder] = []

    class Built(Factory):
        def buildProtocol(self, addr: Any) -> Recorder:
            protocol = Recorder(isClient=0)
            protocol.factory = self
            servers.append(protocol)
            return protocol

    port = reactor.listenTCP(0, Built(), interface="127.0.0.1")
    address = ("127.0.0.1", port.getHost().port)
    socks = [socket.create_connection(address, timeout=5) for _ in range(2)]
    try:
        for sock in socks:
            sock.setblocking(False)
        runUntil(reactor, lambda: len(servers) == 2)
        good, bad = socks
        good.sendall(banana.encode(b"pb") + PB_ENCODER.encode([b"message", 1]))
        bad.sendall(banana.encode(b"pb") + b"\x05\x81" + b"\x01\x88" + b"\x07\x81")
        closed = bytearray()

        def badClosed() -> bool:
            try:
                chunk = bad.recv(65536)
            except BlockingIOError:
                return False
            closed.extend(chunk)
            return chunk == b""

        runUntil(reactor, badClosed)
        runUntil(reactor, lambda: all(s.received for s in servers))
        byReceived = sorted(servers, key=lambda s: s.received != [5])
        assert byReceived[0].received == [5] and not byReceived[0].connected
        assert byReceived[1].received == [[b"message", 1]] and byReceived[1].connected
        assert bytes(closed) == banana.encode([b"pb", b"none"])
        good.sendall(PB_ENCODER.encode([b"answer", 2]))
        runUntil(reactor, lambda: len(byReceived[1].received) == 2)
        assert byReceived[1].received[1] == [b"answer", 2]
    finally:
        for sock in socks:
            sock.close()
        port.stopListening()


# -- the benchmark's worker ----------------------------------------------------------------


def test_benchWorkerRuns() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "banana.py"),
            "--worker",
            "torsion",
            "--scale",
            "0.02",
        ],
        input="small\nlist\nquit\n",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(ROOT),
    )
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [a["case"] for a in answers] == ["small", "list"]
    assert all(a["encode"] > 0 and a["decode"] > 0 for a in answers)


@pytest.mark.parametrize("limit", ["sizeLimit", "prefixLimit", "depthLimit", "expressionLimit"])
def test_aLimitBelowOneIsRefused(limit: str) -> None:
    with pytest.raises(ValueError, match=f"the Banana {limit} must be an integer >= 1"):
        BananaDecoder(**{limit: 0})
    if limit != "expressionLimit":
        with pytest.raises(ValueError, match=limit):
            BananaEncoder(**{limit: -1})


def test_aSubclassThatSkipsInitStillWorks() -> None:
    class NoInit(Recorder):
        def __init__(self) -> None:
            self.received = []
            self.ready = 0

    server = NoInit()
    transport = StringTransport()
    server.isClient = 0
    server.makeConnection(transport)
    server.dataReceived(banana.encode(b"pb") + PB_ENCODER.encode([b"None"]))
    assert server.received == [[b"None"]]


def test_aHandlerFeedingMoreBytesKeepsTheOrder() -> None:
    class Reentrant(Recorder):
        def expressionReceived(self, lst: Any) -> None:
            super().expressionReceived(lst)
            if lst == 1:
                self.dataReceived(banana.encode(3))

    server, _ = connected(0, Reentrant)
    server.dataReceived(banana.encode(b"pb") + banana.encode(1) + banana.encode(2))
    assert server.received == [1, 2, 3]
    server.dataReceived(banana.encode(4))
    assert server.received == [1, 2, 3, 4]
