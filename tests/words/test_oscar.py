"""Tests for torsion.words.protocols.oscar: FLAP frames from bytes cut anywhere, SNACs,
TLVs, the password encodings, and fuzzing."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torsion.words.protocols import oscar
from torsion.words.protocols.oscar import FLAP, FLAPParser, FLAPSequence, OSCARParseError


def test_flapFramesFromACutStream() -> None:
    sequence = FLAPSequence(0xFFFE)
    hello = sequence.frame(b"\x00\x00\x00\x01", oscar.CHANNEL_NEW)
    snac = sequence.frame(oscar.SNAC(0x17, 0x06, oscar.TLV(0x01, b"alice")))
    bye = sequence.frame(b"", oscar.CHANNEL_SIGNOFF)
    stream = hello + snac + bye
    for cut in range(len(stream) + 1):
        parser = FLAPParser()
        frames = parser.feed(stream[:cut]) + parser.feed(stream[cut:])
        assert [f.channel for f in frames] == [1, 2, 4]
        assert [f.sequence for f in frames] == [0xFFFE, 0xFFFF, 0]  # wraps at 2**16
    assert frames[1].data == oscar.SNAC(0x17, 0x06, oscar.TLV(0x01, b"alice"))


def test_snacAndTheOptionalBlock() -> None:
    fam, sub, flags, requestID, data = oscar.readSNAC(oscar.SNAC(4, 7, b"payload", id=99))
    assert (fam, sub, flags, requestID, data) == (4, 7, 0, 99, b"payload")
    withBlock = oscar.SNAC(1, 3, struct.pack("!H", 6) + oscar.TLV(1, b"ab") + b"data", flags=0x8000)
    assert oscar.readSNAC(withBlock)[4] == b"data"
    with pytest.raises(OSCARParseError):
        oscar.readSNAC(b"short")
    with pytest.raises(OSCARParseError):
        oscar.readSNAC(oscar.SNAC(1, 3, b"\x00\x09ab", flags=0x8000))


def test_tlvs() -> None:
    data = oscar.TLV(1, b"alice") + oscar.TLV(0x25, b"\x01" * 16) + oscar.TLV(1, b"again")
    assert oscar.readTLVs(data) == {1: b"again", 0x25: b"\x01" * 16}
    assert oscar.readTLVList(data)[0][0] == (1, b"alice")
    found, rest = oscar.readTLVs(data + b"tail", count=3)  # type: ignore[misc]
    assert rest == b"tail" and len(found) == 2
    with pytest.raises(OSCARParseError, match="runs past"):
        oscar.readTLVs(oscar.TLV(2, b"abc")[:-1])
    with pytest.raises(OSCARParseError, match="announced"):
        oscar.readTLVList(oscar.TLV(2, b"x"), count=2)


def test_passwordEncodings() -> None:
    assert (
        oscar.encryptPasswordMD5(b"secret", b"key")
        == hashlib.md5(b"keysecretAOL Instant Messenger (SM)").digest()
    )
    roasted = oscar.encryptPasswordICQ(b"password12345678x")
    assert roasted[:2] == bytes((ord("p") ^ 0xF3, ord("a") ^ 0x26))
    assert roasted[16] == ord("x") ^ 0xF3  # the table repeats
    assert oscar.encryptPasswordICQ(roasted) == b"password12345678x"


def test_badFramesAndLimits() -> None:
    with pytest.raises(OSCARParseError, match="not '\\*'"):
        FLAPParser().feed(b"#\x02\x00\x01\x00\x00")
    with pytest.raises(ValueError):
        FLAP(2, 0, bytes(70_000)).toBytes()
    with pytest.raises(ValueError):
        oscar.TLV(1, bytes(70_000))


@given(st.lists(st.tuples(st.integers(1, 5), st.binary(max_size=300)), max_size=5))
def test_framesRoundTrip(frames: list[tuple[int, bytes]]) -> None:
    sequence = FLAPSequence(7)
    stream = b"".join(sequence.frame(data, channel) for channel, data in frames)
    parsed = FLAPParser().feed(stream)
    assert [(f.channel, f.data) for f in parsed] == frames


@given(st.binary(max_size=300))
def test_garbageOnlyRaisesParseErrors(data: bytes) -> None:
    for reader in (FLAPParser().feed, oscar.readSNAC, oscar.readTLVList):
        try:
            reader(data)
        except OSCARParseError:
            pass
