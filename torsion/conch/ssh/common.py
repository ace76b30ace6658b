"""The SSH wire's data types (RFC 4251 section 5), under Twisted's names.

``NS`` writes a string (a uint32 length, then the bytes), ``getNS`` reads strings,
``MP`` writes an mpint (two's complement, big-endian, minimal) and ``getMP`` reads
them. Readers take untrusted data: a length running past the end raises
`SSHDecodeError` (a ValueError) instead of returning a short string.
Tests: tests/conch/test_sshkeys.py.
"""

from __future__ import annotations

import struct

__all__ = ["MP", "NS", "SSHDecodeError", "getMP", "getNS"]

_U32 = struct.Struct("!L")


class SSHDecodeError(ValueError):
    """SSH wire data is truncated or malformed."""


def NS(t: bytes | str) -> bytes:
    """``t`` as an SSH string; text is encoded as UTF-8."""
    if isinstance(t, str):
        t = t.encode("utf-8")
    return _U32.pack(len(t)) + t


def getNS(s: bytes, count: int = 1) -> tuple[bytes, ...]:
    """``count`` strings from the start of ``s``, then the rest of ``s``."""
    strings = []
    offset = 0
    for _ in range(count):
        if offset + 4 > len(s):
            raise SSHDecodeError("an SSH string's length is truncated")
        (length,) = _U32.unpack_from(s, offset)
        end = offset + 4 + length
        if end > len(s):
            raise SSHDecodeError(f"an SSH string of {length} bytes runs past the data")
        strings.append(s[offset + 4 : end])
        offset = end
    return (*strings, s[offset:])


def MP(number: int) -> bytes:
    """``number`` as an SSH mpint."""
    if number == 0:
        return b"\0\0\0\0"
    size = (number.bit_length() + 8) // 8  # room for the sign bit
    data = number.to_bytes(size, "big", signed=True)
    # to_bytes with room for the sign may leave one redundant leading byte.
    if len(data) > 1 and (
        (data[0] == 0 and not data[1] & 0x80) or (data[0] == 0xFF and data[1] & 0x80)
    ):
        data = data[1:]
    return _U32.pack(len(data)) + data


def getMP(data: bytes, count: int = 1) -> tuple[int | bytes, ...]:
    """``count`` mpints from the start of ``data``, then the rest of ``data``."""
    parts = getNS(data, count)
    numbers: list[int | bytes] = [int.from_bytes(p, "big", signed=True) for p in parts[:-1]]
    return (*numbers, parts[-1])
