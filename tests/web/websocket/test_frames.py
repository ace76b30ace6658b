"""Tests for torsion.web._wsframes: the sans-IO RFC 6455 frame codec."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torsion.web._wsdeflate import PerMessageDeflate
from torsion.web._wsframes import (
    Close,
    FrameCodec,
    Message,
    Ping,
    Pong,
    ProtocolError,
    isValidCloseCode,
    mask,
)


def clientFrame(
    opcode: int,
    payload: bytes,
    fin: bool = True,
    rsv: int = 0,
    key: bytes = b"\x01\x02\x03\x04",
    masked: bool = True,
) -> bytes:
    """A frame as a client sends it, built by hand (not by the codec under test)."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    length = len(payload)
    maskBit = 0x80 if masked else 0
    if length < 126:
        head = bytes((first, maskBit | length))
    elif length < 65536:
        head = bytes((first, maskBit | 126)) + struct.pack("!H", length)
    else:
        head = bytes((first, maskBit | 127)) + struct.pack("!Q", length)
    if not masked:
        return head + payload
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + body


def server(**kwargs: object) -> FrameCodec:
    return FrameCodec(client=False, **kwargs)  # type: ignore[arg-type]


def refusal(codec: FrameCodec, data: bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        codec.receive(data)
    return caught.value


# -- masking -------------------------------------------------------------------------


def bytewise(key: bytes, data: bytes, offset: int = 0) -> bytes:
    return bytes(b ^ key[(i + offset) % 4] for i, b in enumerate(data))


@pytest.mark.parametrize("size", [1, 3, 1001, 1023, 1024, 1025, 70001])
@pytest.mark.parametrize("offset", [0, 1, 2, 3, 6])
def test_maskMatchesTheBytewiseDefinition(size: int, offset: int) -> None:
    key = b"\xa1\xb2\xc3\xd4"
    data = os.urandom(size)
    assert mask(key, data, offset) == bytewise(key, data, offset)


def test_maskFromAnOffsetContinuesTheKeyStream() -> None:
    key = b"\xa1\xb2\xc3\xd4"
    data = os.urandom(5000)
    assert mask(key, data[:7]) + mask(key, data[7:], 7) == mask(key, data)


def test_maskKeepsLeadingZeroBytes() -> None:
    key = b"\x00\x00\x00\x00"
    assert mask(key, b"\x00\x00abc") == b"\x00\x00abc"


# -- receiving -----------------------------------------------------------------------


def test_textAndBinaryMessages() -> None:
    codec = server()
    events = codec.receive(clientFrame(1, "héllo".encode()) + clientFrame(2, b"\x00\xff"))
    assert events == [Message("héllo"), Message(b"\x00\xff")]


def test_frameSplitAtEveryByteIsReassembled() -> None:
    data = clientFrame(1, b"x" * 300) + clientFrame(9, b"ping") + clientFrame(2, b"y" * 70000)
    codec = server()
    events = []
    for i in range(len(data)):
        events.extend(codec.receive(data[i : i + 1]))
    assert events == [Message("x" * 300), Ping(b"ping"), Message(b"y" * 70000)]


def test_fragmentedMessageWithInterleavedControlFrames() -> None:
    codec = server()
    events = codec.receive(
        clientFrame(1, b"frag", fin=False)
        + clientFrame(9, b"a")
        + clientFrame(0, b"men", fin=False)
        + clientFrame(10, b"b")
        + clientFrame(0, b"t")
    )
    assert events == [Ping(b"a"), Pong(b"b"), Message("fragment")]


def test_utf8SequenceSplitAcrossFragments() -> None:
    encoded = "€".encode()
    codec = server()
    events = codec.receive(clientFrame(1, encoded[:1], fin=False) + clientFrame(0, encoded[1:]))
    assert events == [Message("€")]


def test_invalidUtf8FailsAtOnceWithoutWaitingForTheEnd() -> None:
    codec = server()
    # The first fragment already holds a byte that can never be UTF-8.
    error = refusal(codec, clientFrame(1, b"ok\xff", fin=False))
    assert error.code == 1007


def test_textEndingInsideASequenceIs1007() -> None:
    error = refusal(server(), clientFrame(1, "€".encode()[:2]))
    assert error.code == 1007


def test_closeFrames() -> None:
    codec = server()
    assert codec.receive(clientFrame(8, b"")) == [Close(1005, "")]
    codec = server()
    assert codec.receive(clientFrame(8, struct.pack("!H", 1001) + "bye é".encode())) == [
        Close(1001, "bye é")
    ]


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])
def test_closeCodesThatMayNotBeSentAreProtocolErrors(code: int) -> None:
    error = refusal(server(), clientFrame(8, struct.pack("!H", code)))
    assert error.code == 1002


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 3999, 4000, 4999])
def test_validCloseCodes(code: int) -> None:
    assert isValidCloseCode(code)
    assert server().receive(clientFrame(8, struct.pack("!H", code))) == [Close(code, "")]


def test_closeWithOneBytePayload() -> None:
    assert refusal(server(), clientFrame(8, b"\x03")).code == 1002


def test_closeReasonNotUtf8() -> None:
    assert refusal(server(), clientFrame(8, b"\x03\xe8\xff")).code == 1007


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (clientFrame(1, b"x", masked=False), "unmasked"),
        (clientFrame(1, b"x", rsv=2), "RSV2"),
        (clientFrame(1, b"x", rsv=4), "RSV1"),
        (clientFrame(3, b"x"), "reserved data opcode"),
        (clientFrame(11, b"x"), "reserved control opcode"),
        (clientFrame(9, b"x", fin=False), "fragmented"),
        (clientFrame(9, b"x" * 126), "longer than 125"),
        (clientFrame(0, b"x"), "no message to continue"),
        (clientFrame(1, b"x", fin=False) + clientFrame(2, b"y"), "before the fragmented one"),
    ],
)
def test_protocolViolations(frame: bytes, why: str) -> None:
    error = refusal(server(), frame)
    assert error.code == 1002
    assert why in error.reason


def test_serverFramesMustNotBeMasked() -> None:
    client = FrameCodec(client=True)
    assert refusal(client, clientFrame(1, b"x")).code == 1002
    assert client.receive(b"") == []


def test_lengthWithHighBitSet() -> None:
    frame = bytes((0x82, 0xFF)) + b"\x80" + b"\x00" * 7 + b"\x00" * 4
    assert refusal(server(), frame).code == 1002


def test_frameOverTheLimitIsRefusedFromItsHeader() -> None:
    codec = server(maxMessageSize=1000)
    # Only the header is given: the refusal does not wait for a megabyte of payload.
    header = clientFrame(2, b"x" * 70000)[:14]
    error = refusal(codec, header)
    assert error.code == 1009


def test_fragmentedMessageOverTheLimit() -> None:
    codec = server(maxMessageSize=1000)
    assert codec.receive(clientFrame(2, b"x" * 600, fin=False)) == []
    assert refusal(codec, clientFrame(0, b"x" * 600)).code == 1009


def test_frameSizeLimitSeparateFromMessageLimit() -> None:
    codec = server(maxMessageSize=1000, maxFrameSize=100)
    assert refusal(codec, clientFrame(2, b"x" * 101)).code == 1009


def test_eventsBeforeAnErrorAreKept() -> None:
    error = refusal(server(), clientFrame(1, b"good") + clientFrame(3, b""))
    assert error.events == [Message("good")]


# -- sending -------------------------------------------------------------------------


def test_serverFramesAreUnmaskedAndDecodeOnAClient() -> None:
    codec = server()
    client = FrameCodec(client=True)
    data = codec.encodeMessage("hi") + codec.encodePing(b"p") + codec.encodeClose(1000, "done")
    assert data[:4] == b"\x81\x02hi"
    assert client.receive(data) == [Message("hi"), Ping(b"p"), Close(1000, "done")]


def test_clientFramesAreMasked() -> None:
    client = FrameCodec(client=True)
    frame = client.encodeMessage(b"abc")
    assert frame[1] & 0x80
    assert server().receive(frame) == [Message(b"abc")]


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_lengthEncodings(size: int) -> None:
    payload = os.urandom(size)
    assert server().receive(FrameCodec(client=True).encodeMessage(payload)) == [Message(payload)]


def test_fragmentSizeSplitsMessages() -> None:
    client = FrameCodec(client=True)
    data = client.encodeMessage("abcdefghij", fragmentSize=3)
    frames = server().receive(data)
    assert frames == [Message("abcdefghij")]
    assert data[0] == 0x01  # text, not final


def test_badCloseArguments() -> None:
    codec = server()
    with pytest.raises(ValueError, match="may not be sent"):
        codec.encodeClose(1006)
    with pytest.raises(ValueError, match="at most 123"):
        codec.encodeClose(1000, "x" * 124)
    with pytest.raises(ValueError, match="at most 125"):
        codec.encodePing(b"x" * 126)


# -- compressed messages -----------------------------------------------------------------


def deflatePair(**params: object) -> tuple[FrameCodec, FrameCodec]:
    agreed = PerMessageDeflate(threshold=0, **params)  # type: ignore[arg-type]
    return FrameCodec(client=True, deflate=agreed), FrameCodec(client=False, deflate=agreed)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"serverNoContextTakeover": True, "clientNoContextTakeover": True},
        {"serverMaxWindowBits": 9, "clientMaxWindowBits": 10},
    ],
)
def test_compressedRoundTripsBothWays(params: dict[str, object]) -> None:
    client, serverSide = deflatePair(**params)
    for text in ["hello " * 100, "second message " * 50, "é" * 1000]:
        frame = client.encodeMessage(text)
        assert frame[0] & 0x40  # RSV1: compressed
        assert len(frame) < len(text.encode())
        assert serverSide.receive(frame) == [Message(text)]
        assert client.receive(serverSide.encodeMessage(text)) == [Message(text)]


def test_compressedFragmentedMessage() -> None:
    client, serverSide = deflatePair()
    data = client.encodeMessage(b"z" * 5000, fragmentSize=4)
    assert serverSide.receive(data) == [Message(b"z" * 5000)]


def test_zipBombIsRefusedWith1009() -> None:
    client, _ = deflatePair()
    bomb = client.encodeMessage(b"\x00" * (50 * 1024 * 1024))
    assert len(bomb) < 100 * 1024
    victim = FrameCodec(client=False, maxMessageSize=1024 * 1024, deflate=PerMessageDeflate())
    assert refusal(victim, bomb).code == 1009


def test_corruptCompressedDataIs1007() -> None:
    codec = FrameCodec(client=False, deflate=PerMessageDeflate())
    assert refusal(codec, clientFrame(2, b"\xff\xff\xff\xff", rsv=4)).code == 1007


def test_smallMessagesAreSentUncompressed() -> None:
    client = FrameCodec(client=True, deflate=PerMessageDeflate())
    assert not client.encodeMessage("tiny")[0] & 0x40


# -- properties ------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.integers(min_value=1, max_value=50))
def test_anyBytesDecodeOrFailWithAProtocolError(data: bytes, step: int) -> None:
    for deflate in (None, PerMessageDeflate()):
        codec = FrameCodec(client=False, maxMessageSize=4096, deflate=deflate)
        try:
            for i in range(0, len(data), step):
                codec.receive(data[i : i + step])
        except ProtocolError as error:
            assert error.code in (1002, 1007, 1009)


messages = st.one_of(st.text(max_size=300), st.binary(max_size=300))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(messages, max_size=8),
    st.one_of(st.none(), st.integers(min_value=1, max_value=64)),
    st.booleans(),
    st.integers(min_value=1, max_value=97),
)
def test_messagesRoundTrip(
    sent: list[str | bytes], fragmentSize: int | None, compress: bool, step: int
) -> None:
    agreed = PerMessageDeflate(threshold=0) if compress else None
    client = FrameCodec(client=True, deflate=agreed)
    serverSide = FrameCodec(client=False, deflate=agreed)
    wire = b"".join(client.encodeMessage(m, fragmentSize) for m in sent)
    got = []
    for i in range(0, len(wire), step):
        got.extend(serverSide.receive(wire[i : i + step]))
    assert got == [Message(m) for m in sent]
    back = b"".join(serverSide.encodeMessage(m, fragmentSize) for m in sent)
    assert client.receive(back) == [Message(m) for m in sent]
