"""OSCAR, the AIM and ICQ protocol's wire format (a legacy format: AIM closed in 2017,
ICQ in 2024), for reading archives and writing gateways (torsion.words.protocols.oscar).

The layers, each its own function here:

- FLAP frames: ``*``, a channel byte (1 sign-on, 2 SNAC data, 3 error, 4 sign-off,
  5 keep-alive), a 16-bit sequence number and a 16-bit length, then the data.
  `FLAPParser` takes bytes cut anywhere and returns `FLAP` frames; `FLAP.toBytes`
  writes one; `FLAPSequence` numbers outgoing frames (wrapping at 2**16).
- SNACs inside channel-2 frames: family, subtype, flags, a 32-bit request ID, then
  data (after a length-prefixed block of TLVs when flag 0x8000 is set): `SNAC` and
  `readSNAC` under Twisted's names.
- TLVs (type, length, value): `TLV`, `readTLVs` (a dict, or with ``count`` a fixed
  number of them), `readTLVList` (in order, repeats kept).
- The two password encodings: `encryptPasswordMD5` (AIM's MD5 login) and
  `encryptPasswordICQ` (ICQ's XOR "roasting").

Everything read is bounded by its own length fields and fails with `OSCARParseError`.
Tests: tests/words/test_oscar.py.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

__all__ = [
    "CHANNEL_DATA",
    "CHANNEL_ERROR",
    "CHANNEL_KEEPALIVE",
    "CHANNEL_NEW",
    "CHANNEL_SIGNOFF",
    "FLAP",
    "SNAC",
    "TLV",
    "FLAPParser",
    "FLAPSequence",
    "OSCARParseError",
    "encryptPasswordICQ",
    "encryptPasswordMD5",
    "readSNAC",
    "readTLVList",
    "readTLVs",
]

CHANNEL_NEW, CHANNEL_DATA, CHANNEL_ERROR, CHANNEL_SIGNOFF, CHANNEL_KEEPALIVE = 1, 2, 3, 4, 5
_FLAP_HEADER = struct.Struct("!cBHH")
_SNAC_HEADER = struct.Struct("!HHHL")
_TLV_HEADER = struct.Struct("!HH")
_AIM_MD5_STRING = b"AOL Instant Messenger (SM)"
_ICQ_ROAST = bytes.fromhex("f32681c43986db9271a3b9e6537a957c")


class OSCARParseError(ValueError):
    """The bytes are not OSCAR (a bad frame start, or a length running past the data)."""


@dataclass(frozen=True)
class FLAP:
    """One FLAP frame."""

    channel: int
    sequence: int
    data: bytes

    def toBytes(self) -> bytes:
        if len(self.data) > 0xFFFF:
            raise ValueError("a FLAP frame holds at most 65535 bytes; split the data")
        return _FLAP_HEADER.pack(b"*", self.channel, self.sequence, len(self.data)) + self.data


class FLAPSequence:
    """Numbers a connection's outgoing FLAPs; the first number is the caller's."""

    def __init__(self, start: int = 0) -> None:
        self.next = start & 0xFFFF

    def frame(self, data: bytes, channel: int = CHANNEL_DATA) -> bytes:
        flap = FLAP(channel, self.next, data)
        self.next = (self.next + 1) & 0xFFFF
        return flap.toBytes()


class FLAPParser:
    """Bytes of one direction of an OSCAR connection in, FLAP frames out.

    A FLAP's length field bounds it to 65535 bytes, so the parser never holds more
    than one frame's worth; a byte other than ``*`` where a frame starts is an error.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[FLAP]:
        self._buffer += data
        frames: list[FLAP] = []
        while len(self._buffer) >= _FLAP_HEADER.size:
            start, channel, sequence, length = _FLAP_HEADER.unpack_from(self._buffer)
            if start != b"*":
                raise OSCARParseError(f"a FLAP frame starts with {start!r}, not '*'")
            end = _FLAP_HEADER.size + length
            if len(self._buffer) < end:
                break
            frames.append(FLAP(channel, sequence, bytes(self._buffer[_FLAP_HEADER.size : end])))
            del self._buffer[:end]
        return frames


def SNAC(fam: int, sub: int, data: bytes, id: int = 1, flags: int = 0) -> bytes:
    """A SNAC: family, subtype, flags, request ID, then ``data`` (Twisted's name)."""
    return _SNAC_HEADER.pack(fam, sub, flags, id) + data


def readSNAC(data: bytes) -> list[int | bytes]:
    """[family, subtype, flags, request ID, data] of a SNAC; with flag 0x8000 the
    length-prefixed TLV block before the data is skipped."""
    if len(data) < _SNAC_HEADER.size:
        raise OSCARParseError("a SNAC is shorter than its 10-byte header")
    fam, sub, flags, requestID = _SNAC_HEADER.unpack_from(data)
    rest = data[_SNAC_HEADER.size :]
    if flags & 0x8000:
        if len(rest) < 2:
            raise OSCARParseError("a SNAC's optional block is truncated")
        (skip,) = struct.unpack_from("!H", rest)
        if 2 + skip > len(rest):
            raise OSCARParseError("a SNAC's optional block runs past its data")
        rest = rest[2 + skip :]
    return [fam, sub, flags, requestID, rest]


def TLV(type: int, value: bytes = b"") -> bytes:
    """A TLV: 16-bit type, 16-bit length, value (Twisted's name)."""
    if len(value) > 0xFFFF:
        raise ValueError("a TLV value holds at most 65535 bytes")
    return _TLV_HEADER.pack(type, len(value)) + value


def readTLVList(data: bytes, count: int | None = None) -> tuple[list[tuple[int, bytes]], bytes]:
    """The TLVs at the start of ``data`` in order (``count`` of them, or all), and the
    bytes after them."""
    tlvs: list[tuple[int, bytes]] = []
    offset = 0
    while offset < len(data) and (count is None or len(tlvs) < count):
        if offset + _TLV_HEADER.size > len(data):
            raise OSCARParseError("a TLV header is truncated")
        tlvType, length = _TLV_HEADER.unpack_from(data, offset)
        end = offset + _TLV_HEADER.size + length
        if end > len(data):
            raise OSCARParseError(f"a TLV of type {tlvType:#x} runs past the data")
        tlvs.append((tlvType, data[offset + _TLV_HEADER.size : end]))
        offset = end
    if count is not None and len(tlvs) < count:
        raise OSCARParseError(f"{count} TLVs were announced, {len(tlvs)} are there")
    return tlvs, data[offset:]


def readTLVs(
    data: bytes, count: int | None = None
) -> dict[int, bytes] | tuple[dict[int, bytes], bytes]:
    """The TLVs of ``data`` as {type: value} (Twisted's name). With ``count``, the
    dict of that many TLVs and the bytes after them, as Twisted returns."""
    tlvs, rest = readTLVList(data, count)
    found = dict(tlvs)
    if count is None:
        return found
    return found, rest


def encryptPasswordMD5(password: bytes, key: bytes) -> bytes:
    """AIM's MD5 login hash: MD5(key + password + "AOL Instant Messenger (SM)")."""
    return hashlib.md5(key + password + _AIM_MD5_STRING).digest()


def encryptPasswordICQ(password: bytes) -> bytes:
    """ICQ's "roasted" password: XOR with a fixed 16-byte table (obfuscation only)."""
    return bytes(b ^ _ICQ_ROAST[i % len(_ICQ_ROAST)] for i, b in enumerate(password))
