"""The sans-IO WebSocket codec (RFC 6455): bytes in, messages and control frames out.

`FrameCodec` is one endpoint's framing state: `receive(data)` parses what the peer sent
into `Message`, `Ping`, `Pong` and `Close` events, reassembling fragmented messages
(with control frames allowed between the fragments), unmasking client frames,
checking UTF-8 of text messages as their bytes arrive (so a bad byte fails the
connection at once, not at the end of a long message), inflating permessage-deflate
messages (torsion/web/_wsdeflate.py) and enforcing the frame and message size limits.
Anything the RFC forbids raises `ProtocolError` with the close code to fail the
connection with. The `encode*` methods build the frames to send.

Masking runs in C, never a Python loop per byte: a small payload is XORed as one big
integer (`int.from_bytes`), a larger one lane by lane with `bytes.translate`.

Nothing here does I/O or keeps time: the protocol in torsion/web/websocket.py does that.

Tests: tests/web/websocket/test_frames.py (including hypothesis round trips and
arbitrary input).
"""

from __future__ import annotations

import codecs
import enum
import os
import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torsion.web._wsdeflate import Compressor, Decompressor, PerMessageDeflate

__all__ = [
    "Close",
    "CloseCode",
    "FrameCodec",
    "Message",
    "Opcode",
    "Ping",
    "Pong",
    "ProtocolError",
    "isValidCloseCode",
    "mask",
]


class Opcode(enum.IntEnum):
    """Frame opcodes (RFC 6455 section 5.2)."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


class CloseCode(enum.IntEnum):
    """Close status codes (RFC 6455 section 7.4.1 and the IANA registry)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS = 1005
    ABNORMAL = 1006
    INVALID_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015


def isValidCloseCode(code: int) -> bool:
    """Whether `code` may appear in a Close frame on the wire.

    1005, 1006 and 1015 are reserved for reporting (they mean "no code", "dropped" and
    "TLS failed") and must never be sent; 1004 and 1016-2999 are unassigned; 3000-3999
    are registered for libraries and 4000-4999 are private, both allowed.
    """
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


class ProtocolError(Exception):
    """The peer broke the protocol: fail the connection with close `code`.

    `events` holds what was parsed before the error in the same `receive` call, so
    that messages that arrived intact are still delivered.
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{reason} (close code {code})")
        self.code = code
        self.reason = reason
        self.events: list[Event] = []


class Message:
    """A complete data message: `str` for a text message, `bytes` for binary."""

    __slots__ = ("data",)

    def __init__(self, data: str | bytes) -> None:
        self.data = data

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and other.data == self.data

    def __repr__(self) -> str:
        return f"Message({self.data!r})"


class Ping:
    """A ping: answer it with a pong carrying the same payload."""

    __slots__ = ("payload",)

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.payload == self.payload

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.payload!r})"


class Pong(Ping):
    """A pong (the answer to our ping, or an unsolicited heartbeat)."""

    __slots__ = ()


class Close:
    """The peer's Close frame; `code` is 1005 (NO_STATUS) when it carried none."""

    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Close) and (other.code, other.reason) == (self.code, self.reason)

    def __repr__(self) -> str:
        return f"Close({self.code}, {self.reason!r})"


Event = Message | Ping | Pong | Close

_UTF8 = codecs.getincrementaldecoder("utf-8")
_PACK_H = struct.Struct("!H").pack
_PACK_Q = struct.Struct("!Q").pack
_UNPACK_H = struct.Struct("!H").unpack_from
_UNPACK_Q = struct.Struct("!Q").unpack_from
_CONTROL_LIMIT = 125


# XOR tables for bytes.translate, one per key byte value (64 KiB, made once).
_XOR_TABLES = [bytes(value ^ k for value in range(256)) for k in range(256)]
_TRANSLATE_FROM = 1024


def mask(key: bytes, data: bytes, offset: int = 0) -> bytes:
    """XOR `data` with the 4-byte `key`, starting `offset` bytes into the key stream.

    Small payloads are XORed as one big integer; from 1 KiB on, each of the four
    interleaved byte lanes goes through bytes.translate with that key byte's table,
    which measured about twice as fast there (bench/websocket.py --cases mask).
    Neither loops over bytes in Python.
    """
    n = len(data)
    if not n:
        return b""
    if offset & 3:
        shift = offset & 3
        key = key[shift:] + key[:shift]
    if n >= _TRANSLATE_FROM:
        out = bytearray(data)
        tables = _XOR_TABLES
        for lane in range(4):
            out[lane::4] = data[lane::4].translate(tables[key[lane]])
        return bytes(out)
    stream = key * ((n >> 2) + 1)
    value = int.from_bytes(data, "little") ^ int.from_bytes(stream[:n], "little")
    return value.to_bytes(n, "little")


def _header(opcode: int, length: int, fin: bool, rsv1: bool, masked: bool) -> bytes:
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    maskBit = 0x80 if masked else 0
    if length < 126:
        return bytes((first, maskBit | length))
    if length < 65536:
        return bytes((first, maskBit | 126)) + _PACK_H(length)
    return bytes((first, maskBit | 127)) + _PACK_Q(length)


class FrameCodec:
    """One endpoint's framing: parse the peer's frames, build our own.

    Args:
        client: True on the client side: our frames are masked and the server's must
            not be; False on the server: every frame from the client must be masked.
        maxMessageSize: the largest message (after inflating) accepted; a bigger one
            fails the connection with 1009 as soon as its size passes the limit.
        maxFrameSize: the largest single frame payload accepted (1009 beyond it);
            defaults to `maxMessageSize`.
        deflate: the negotiated permessage-deflate parameters, or None.
    """

    __slots__ = (
        "_buffer",
        "_client",
        "_compressor",
        "_decoder",
        "_decompressor",
        "_frameCompressed",
        "_frameFin",
        "_frameKey",
        "_frameLeft",
        "_frameOffset",
        "_frameOpcode",
        "_messageCompressed",
        "_messageOpcode",
        "_messageParts",
        "_messageSize",
        "_textParts",
        "maxFrameSize",
        "maxMessageSize",
    )

    def __init__(
        self,
        client: bool,
        maxMessageSize: int = 16 * 1024 * 1024,
        maxFrameSize: int | None = None,
        deflate: PerMessageDeflate | None = None,
    ) -> None:
        self._client = client
        self.maxMessageSize = maxMessageSize
        self.maxFrameSize = maxMessageSize if maxFrameSize is None else maxFrameSize
        self._buffer = b""
        self._frameOpcode = -1  # -1: between frames (reading a header)
        self._frameLeft = 0
        self._frameKey: bytes | None = None
        self._frameOffset = 0
        self._frameFin = True
        self._frameCompressed = False
        self._messageOpcode = 0  # 0: no data message in progress
        self._messageCompressed = False
        self._messageParts: list[bytes] = []
        self._textParts: list[str] = []
        self._messageSize = 0
        self._decoder: codecs.IncrementalDecoder | None = None
        self._compressor: Compressor | None = None
        self._decompressor: Decompressor | None = None
        if deflate is not None:
            self._compressor = deflate.compressor(client)
            self._decompressor = deflate.decompressor(client)

    @property
    def compressed(self) -> bool:
        """Whether permessage-deflate was negotiated for this connection."""
        return self._compressor is not None

    # -- receiving -----------------------------------------------------------------

    def receive(self, data: bytes) -> list[Event]:
        """Parse `data` from the peer; return the complete events it finished.

        Raises:
            ProtocolError: the peer broke RFC 6455 or a limit; its `code` is the close
                code to send, its `events` what was parsed before the error.
        """
        events: list[Event] = []
        buffer = self._buffer + data if self._buffer else data
        self._buffer = b""
        pos = 0
        end = len(buffer)
        client = self._client
        maxFrame = min(self.maxFrameSize, self.maxMessageSize)
        try:
            while pos < end:
                if self._frameOpcode < 0:
                    # The common case first: a whole short unfragmented, uncompressed
                    # text or binary frame (FIN, no RSV bits), masked from a client
                    # and unmasked from a server.
                    first = buffer[pos]
                    if (first == 0x82 or first == 0x81) and end - pos > 1:
                        second = buffer[pos + 1]
                        length = second & 0x7F
                        start = pos + (2 if client else 6)
                        if (
                            length < 126
                            and (second >> 7) != client
                            and start + length <= end
                            and length <= maxFrame
                            and not self._messageOpcode
                        ):
                            payload = buffer[start : start + length]
                            if not client:
                                payload = mask(buffer[pos + 2 : start], payload)
                            if first == 0x81:
                                try:
                                    events.append(Message(payload.decode("utf-8")))
                                except UnicodeDecodeError:
                                    raise ProtocolError(
                                        1007, "a text message is not valid UTF-8"
                                    ) from None
                            else:
                                events.append(Message(payload))
                            pos = start + length
                            continue
                    pos = self._readHeader(buffer, pos, end)
                    if pos < 0:
                        self._buffer = buffer[-pos - 1 :]
                        break
                    if self._frameLeft == 0:
                        self._frameDone(b"", events)
                    continue
                take = min(self._frameLeft, end - pos)
                if self._frameOpcode >= 8 and take < self._frameLeft:
                    # A control frame is handled whole: wait for all of it.
                    self._buffer = buffer[pos:]
                    break
                chunk = buffer[pos : pos + take]
                pos += take
                key = self._frameKey
                if key is not None:
                    chunk = mask(key, chunk, self._frameOffset)
                    self._frameOffset += take
                self._frameLeft -= take
                if self._frameOpcode >= 8:
                    self._frameDone(chunk, events)
                else:
                    self._dataChunk(chunk)
                    if self._frameLeft == 0:
                        self._frameDone(b"", events)
        except ProtocolError as error:
            error.events = events
            self._buffer = b""
            raise
        return events

    def _readHeader(self, buffer: bytes, pos: int, end: int) -> int:
        """Parse the frame header at `pos`; return the position after it, or
        ``-pos - 1`` if the header is not complete yet."""
        if end - pos < 2:
            return -pos - 1
        first = buffer[pos]
        second = buffer[pos + 1]
        length = second & 0x7F
        masked = second & 0x80
        size = 2 + (4 if masked else 0) + (2 if length == 126 else 8 if length == 127 else 0)
        if end - pos < size:
            return -pos - 1
        opcode = first & 0x0F
        fin = bool(first & 0x80)
        rsv1 = bool(first & 0x40)
        if first & 0x30:
            raise ProtocolError(1002, "a frame has RSV2 or RSV3 set, which no extension here uses")
        if self._client and masked:
            raise ProtocolError(1002, "the server sent a masked frame")
        if not self._client and not masked:
            raise ProtocolError(1002, "the client sent an unmasked frame")
        at = pos + 2
        if length == 126:
            length = _UNPACK_H(buffer, at)[0]
            at += 2
        elif length == 127:
            length = _UNPACK_Q(buffer, at)[0]
            if length >> 63:
                raise ProtocolError(1002, "a frame length has its most significant bit set")
            at += 8
        if opcode >= 8:
            if opcode > 0xA:
                raise ProtocolError(1002, f"reserved control opcode {opcode:#x}")
            if not fin:
                raise ProtocolError(1002, "a control frame is fragmented")
            if length > _CONTROL_LIMIT:
                raise ProtocolError(1002, "a control frame payload is longer than 125 bytes")
            if rsv1:
                raise ProtocolError(1002, "a control frame has RSV1 set")
        else:
            if opcode > 2:
                raise ProtocolError(1002, f"reserved data opcode {opcode:#x}")
            if opcode == 0:
                if not self._messageOpcode:
                    raise ProtocolError(1002, "a continuation frame with no message to continue")
                if rsv1:
                    raise ProtocolError(1002, "a continuation frame has RSV1 set")
            else:
                if self._messageOpcode:
                    raise ProtocolError(
                        1002, "a new message started before the fragmented one finished"
                    )
                if rsv1 and self._decompressor is None:
                    raise ProtocolError(1002, "RSV1 set but permessage-deflate was not agreed")
                self._messageOpcode = opcode
                self._messageCompressed = rsv1
                self._messageSize = 0
                if opcode == 1:
                    self._decoder = _UTF8()
            if length > self.maxFrameSize:
                raise ProtocolError(
                    1009, f"a frame of {length} bytes is over the limit of {self.maxFrameSize}"
                )
            if not self._messageCompressed and self._messageSize + length > self.maxMessageSize:
                raise ProtocolError(
                    1009, f"a message is over the limit of {self.maxMessageSize} bytes"
                )
        if masked:
            self._frameKey = buffer[at : at + 4]
            at += 4
        else:
            self._frameKey = None
        self._frameOffset = 0
        self._frameOpcode = opcode
        self._frameFin = fin
        self._frameLeft = length
        return at

    def _dataChunk(self, chunk: bytes) -> None:
        """Unmasked payload bytes of a data frame: inflate, check and keep them."""
        if self._messageCompressed:
            decompressor = self._decompressor
            assert decompressor is not None
            chunk = decompressor.decompress(chunk, self.maxMessageSize - self._messageSize)
            if self._messageSize + len(chunk) > self.maxMessageSize:
                raise ProtocolError(
                    1009, f"a message inflates to over the limit of {self.maxMessageSize} bytes"
                )
        self._addPayload(chunk)

    def _addPayload(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._messageSize += len(chunk)
        decoder = self._decoder
        if decoder is not None:
            try:
                self._textParts.append(decoder.decode(chunk))
            except UnicodeDecodeError:
                raise ProtocolError(1007, "a text message is not valid UTF-8") from None
        else:
            self._messageParts.append(chunk)

    def _frameDone(self, payload: bytes, events: list[Event]) -> None:
        opcode = self._frameOpcode
        self._frameOpcode = -1
        if opcode >= 8:
            if opcode == 8:
                events.append(_parseClose(payload))
            elif opcode == 9:
                events.append(Ping(payload))
            else:
                events.append(Pong(payload))
            return
        if not self._frameFin:
            return
        if self._messageCompressed:
            decompressor = self._decompressor
            assert decompressor is not None
            tail = decompressor.finish(self.maxMessageSize - self._messageSize)
            if self._messageSize + len(tail) > self.maxMessageSize:
                raise ProtocolError(
                    1009, f"a message inflates to over the limit of {self.maxMessageSize} bytes"
                )
            self._addPayload(tail)
        decoder = self._decoder
        data: str | bytes
        if decoder is not None:
            try:
                last = decoder.decode(b"", True)
            except UnicodeDecodeError:
                raise ProtocolError(1007, "a text message ends inside a UTF-8 sequence") from None
            parts = self._textParts
            if last:
                parts.append(last)
            data = parts[0] if len(parts) == 1 else "".join(parts)
            self._textParts = []
            self._decoder = None
        else:
            chunks = self._messageParts
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            self._messageParts = []
        self._messageOpcode = 0
        events.append(Message(data))

    # -- sending -------------------------------------------------------------------

    def _frame(self, opcode: int, payload: bytes, fin: bool = True, rsv1: bool = False) -> bytes:
        if self._client:
            key = os.urandom(4)
            return _header(opcode, len(payload), fin, rsv1, True) + key + mask(key, payload)
        return _header(opcode, len(payload), fin, rsv1, False) + payload

    def encodeMessage(self, data: str | bytes, fragmentSize: int | None = None) -> bytes:
        """The frame(s) of one message: text for `str`, binary for `bytes`.

        With `fragmentSize`, a payload longer than that is sent as several frames.

        Raises:
            TypeError: `data` is neither text nor bytes.
        """
        kind = data.__class__
        if kind is str:
            opcode = 0x81
            payload = data.encode("utf-8")  # type: ignore[union-attr]
        elif kind is bytes:
            opcode = 0x82
            payload = data
        elif isinstance(data, (str, bytes, bytearray, memoryview)):
            opcode = 0x81 if isinstance(data, str) else 0x82
            payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        else:
            raise TypeError(f"a message is str (text) or bytes (binary), not {type(data).__name__}")
        compressor = self._compressor
        if compressor is None and fragmentSize is None and not self._client and len(payload) < 126:
            return bytes((opcode, len(payload))) + payload
        opcode &= 0x0F
        rsv1 = False
        if compressor is not None and len(payload) >= compressor.threshold:
            payload = compressor.compress(payload)
            rsv1 = True
        if fragmentSize is None or len(payload) <= fragmentSize:
            return self._frame(opcode, payload, True, rsv1)
        if fragmentSize < 1:
            raise ValueError(f"fragmentSize must be at least 1, not {fragmentSize}")
        frames = []
        for start in range(0, len(payload), fragmentSize):
            last = start + fragmentSize >= len(payload)
            frames.append(self._frame(opcode, payload[start : start + fragmentSize], last, rsv1))
            opcode = 0
            rsv1 = False
        return b"".join(frames)

    def encodePing(self, payload: bytes = b"") -> bytes:
        """A Ping frame; `payload` is at most 125 bytes."""
        if len(payload) > _CONTROL_LIMIT:
            raise ValueError(f"a ping payload is at most 125 bytes, not {len(payload)}")
        return self._frame(9, payload)

    def encodePong(self, payload: bytes = b"") -> bytes:
        """A Pong frame, the answer to a Ping with the same `payload`."""
        if len(payload) > _CONTROL_LIMIT:
            raise ValueError(f"a pong payload is at most 125 bytes, not {len(payload)}")
        return self._frame(10, payload)

    def encodeClose(self, code: int | None = 1000, reason: str = "") -> bytes:
        """A Close frame with `code` and `reason` (None: a Close with no code at all).

        Raises:
            ValueError: the code may not be sent, or the reason is over 123 bytes.
        """
        if code is None:
            if reason:
                raise ValueError("a close reason needs a close code")
            return self._frame(8, b"")
        if not isValidCloseCode(code):
            raise ValueError(
                f"close code {code} may not be sent; use 1000-1003, 1007-1014 or 3000-4999"
            )
        encoded = reason.encode("utf-8")
        if len(encoded) > 123:
            raise ValueError(f"a close reason is at most 123 bytes of UTF-8, not {len(encoded)}")
        return self._frame(8, _PACK_H(code) + encoded)


def _parseClose(payload: bytes) -> Close:
    if not payload:
        return Close(1005, "")
    if len(payload) == 1:
        raise ProtocolError(1002, "a close frame with a one-byte payload")
    code = _UNPACK_H(payload, 0)[0]
    if not isValidCloseCode(code):
        raise ProtocolError(1002, f"the peer sent close code {code}, which is not allowed")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(1007, "the close reason is not valid UTF-8") from None
    return Close(code, reason)
