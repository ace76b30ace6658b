"""Tests for torsion.conch.ssh._packets: SSH packets sealed and opened for every
cipher suite, fed cut anywhere; tampering, bad lengths and bad padding refused with
the right disconnect reason; suites switched at NEWKEYS; sequence numbers."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torsion.conch.ssh._packets import (
    CIPHERS,
    DISCONNECT_MAC_ERROR,
    DISCONNECT_PROTOCOL_ERROR,
    MACS,
    PacketReader,
    PacketWriter,
    SSHPacketError,
    SuiteKeys,
)


def suites() -> list[SuiteKeys | None]:
    made: list[SuiteKeys | None] = [None]
    for cipher, spec in CIPHERS.items():
        for mac in [None] if spec.aead else list(MACS):
            made.append(
                SuiteKeys(cipher, mac, os.urandom(spec.keySize), os.urandom(16), os.urandom(64))
            )
    return made


SUITES = suites()


def suiteName(keys: SuiteKeys | None) -> str:
    return "none" if keys is None else f"{keys.cipher.decode()}+{keys.mac!r}"


def pair(keys: SuiteKeys | None) -> tuple[PacketWriter, PacketReader]:
    writer, reader = PacketWriter(), PacketReader()
    writer.setKeys(keys)
    reader.setKeys(keys)
    return writer, reader


@pytest.mark.parametrize("keys", SUITES, ids=suiteName)
def test_packetsRoundTripCutAnywhere(keys: SuiteKeys | None) -> None:
    writer, reader = pair(keys)
    payloads = [b"\x02" + bytes(n) for n in (0, 1, 7, 15, 16, 31, 100, 1000, 32768)]
    wire = b"".join(writer.seal(p) for p in payloads)
    got: list[bytes] = []
    for i in range(0, len(wire), 13):
        got += reader.feed(wire[i : i + 13])
    assert got == payloads
    assert writer.seq == reader.seq == len(payloads)


@pytest.mark.parametrize("keys", SUITES, ids=suiteName)
def test_paddingAndAlignment(keys: SuiteKeys | None) -> None:
    writer = PacketWriter(randomBytes=lambda n: b"\xee" * n)
    writer.setKeys(keys)
    block = 8 if keys is None else max(CIPHERS[keys.cipher].blockSize, 8)
    aad = 4 if keys is not None and (CIPHERS[keys.cipher].aead or MACS[keys.mac or b""].etm) else 0
    tag = 0 if keys is None else (16 if CIPHERS[keys.cipher].aead else MACS[keys.mac or b""].size)
    for size in range(0, 40):
        packet = writer.seal(b"\x05" + bytes(size))
        assert (len(packet) - tag - aad) % block == 0
        if keys is None:
            (length,) = struct.unpack("!L", packet[:4])
            padding = packet[4]
            assert length == len(packet) - 4 and 4 <= padding < 4 + block
            assert packet.endswith(b"\xee" * padding)


@pytest.mark.parametrize("keys", SUITES[1:], ids=suiteName)
def test_everyTamperedByteIsRefused(keys: SuiteKeys) -> None:
    writer = PacketWriter()
    writer.setKeys(keys)
    packet = writer.seal(b"\x5e" + b"channel data" * 3)
    for i in range(len(packet)):
        # A tampered length may announce a longer packet: give the reader enough bytes
        # for any length it accepts, so each case ends in an error, never in waiting.
        reader = PacketReader(maxPacket=4096)
        reader.setKeys(keys)
        tampered = bytearray(packet)
        tampered[i] ^= 0x01
        with pytest.raises(SSHPacketError) as caught:
            reader.feed(bytes(tampered) + bytes(4096 + 64))
        assert caught.value.reason in (DISCONNECT_MAC_ERROR, DISCONNECT_PROTOCOL_ERROR)


@pytest.mark.parametrize("keys", SUITES[1:], ids=suiteName)
def test_aReplayedOrReorderedPacketIsRefused(keys: SuiteKeys) -> None:
    writer = PacketWriter()
    writer.setKeys(keys)
    first, second = writer.seal(b"\x02one"), writer.seal(b"\x02two")
    reader = PacketReader()
    reader.setKeys(keys)
    with pytest.raises(SSHPacketError):
        reader.feed(second + first)


def test_clearPacketLimits() -> None:
    reader = PacketReader(maxPacket=1024)
    with pytest.raises(SSHPacketError, match="out of bounds") as caught:
        reader.feed(struct.pack("!L", 2000) + bytes(20))
    assert caught.value.reason == DISCONNECT_PROTOCOL_ERROR
    with pytest.raises(SSHPacketError, match="out of bounds"):
        PacketReader().feed(struct.pack("!L", 3) + bytes(8))
    with pytest.raises(SSHPacketError, match="multiple of the block size"):
        PacketReader().feed(struct.pack("!L", 13) + bytes(13))
    with pytest.raises(SSHPacketError, match="padding length"):
        PacketReader().feed(struct.pack("!LB", 12, 2) + bytes(11))
    with pytest.raises(SSHPacketError, match="padding length"):
        PacketReader().feed(struct.pack("!LB", 12, 40) + bytes(11))


def test_readerStopsAtNewKeysSoTheCallerCanSwitch() -> None:
    keys = SUITES[1]
    writer, reader = PacketWriter(), PacketReader()
    wire = writer.seal(b"\x14kexinit") + writer.seal(b"\x15")
    writer.setKeys(keys)
    wire += writer.seal(b"\x05encrypted service request")
    assert reader.feed(wire) == [b"\x14kexinit", b"\x15"]
    reader.setKeys(keys)
    assert reader.feed(b"") == [b"\x05encrypted service request"]


@pytest.mark.parametrize("cut", [1, 3, 4, 5, 16, 17, 700, 40000, 10**6])
@pytest.mark.parametrize("keys", [k for k in SUITES if k is not None], ids=suiteName)
def test_newKeysMidStreamWhereverTheBytesAreCut(keys: SuiteKeys, cut: int) -> None:
    # Packets before and after a NEWKEYS, several after it, fed in pieces of ``cut``
    # bytes: the reader hands back each payload once, stops at NEWKEYS, and the
    # bytes it kept decrypt with the new keys.
    writer, reader = PacketWriter(), PacketReader()
    before = [b"\x14" + bytes(n) for n in (0, 40, 33000)]
    after = [b"\x05" + os.urandom(n) for n in (0, 5, 32768, 100, 60000)]
    wire = b"".join(writer.seal(p) for p in before) + writer.seal(b"\x15")
    writer.setKeys(keys)
    wire += b"".join(writer.seal(p) for p in after)
    got: list[bytes] = []
    switched = False
    for start in range(0, len(wire), cut):
        got += reader.feed(wire[start : start + cut])
        if not switched and got and got[-1] == b"\x15":
            reader.setKeys(keys)
            switched = True
            got += reader.feed(b"")
    assert got == [*before, b"\x15", *after]
    assert reader.seq == writer.seq


def test_sequenceNumbersWrapAndReset() -> None:
    keys = next(k for k in SUITES if k is not None and k.mac and not MACS[k.mac].etm)
    writer, reader = pair(keys)
    writer.seq = reader.seq = 2**32 - 1
    assert reader.feed(writer.seal(b"\x02a") + writer.seal(b"\x02b")) == [b"\x02a", b"\x02b"]
    assert writer.seq == reader.seq == 1
    writer.resetSequence()
    reader.resetSequence()
    assert reader.feed(writer.seal(b"\x02c")) == [b"\x02c"] and reader.seq == 1


def test_unknownOrShortKeysAreRefused() -> None:
    with pytest.raises(ValueError, match="unknown SSH cipher"):
        PacketWriter().setKeys(SuiteKeys(b"des", None, bytes(8), bytes(8)))
    with pytest.raises(ValueError, match="needs a 32-byte key"):
        PacketWriter().setKeys(SuiteKeys(b"aes256-ctr", b"hmac-sha2-256", bytes(16), bytes(16)))
    with pytest.raises(ValueError, match="needs a MAC"):
        PacketWriter().setKeys(SuiteKeys(b"aes128-ctr", None, bytes(16), bytes(16)))


@settings(max_examples=50)
@given(st.binary(max_size=3000))
def test_garbageOnlyEverRaisesPacketErrors(data: bytes) -> None:
    for keys in (None, SUITES[1], SUITES[-1]):
        reader = PacketReader(maxPacket=4096)
        reader.setKeys(keys)
        try:
            reader.feed(data)
        except SSHPacketError:
            pass


def test_chachaPacketsAreTheSameWithThePublicCipherPath(monkeypatch: pytest.MonkeyPatch) -> None:
    # ChaCha20 contexts come from the library's private maker when it gives the same
    # stream as its public Cipher; a packet sealed one way opens the other way.
    from torsion.conch.ssh import _packets

    keys = next(k for k in SUITES if k is not None and k.cipher.startswith(b"chacha20"))
    payload = b"\x05" + os.urandom(3000)
    writer, _ = pair(keys)
    sealedFast = writer.seal(payload)
    monkeypatch.setattr(_packets, "_chachaContext", _packets._publicChaChaContext)
    publicWriter, publicReader = pair(keys)
    assert publicReader.feed(sealedFast) == [payload]
    sealedPublic = publicWriter.seal(payload)
    monkeypatch.undo()
    # The same keystream: all but the random padding and the tag are equal.
    clear = 5 + len(payload)
    assert sealedPublic[:clear] == sealedFast[:clear]
    assert pair(keys)[1].feed(sealedPublic) == [payload]


def test_aLibraryWithoutThePrivateMakerUsesThePublicPath(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from torsion.conch.ssh import _packets

    monkeypatch.setitem(sys.modules, "cryptography.hazmat.bindings._rust", None)
    assert _packets._findChaChaContext() is _packets._publicChaChaContext


def test_paddingIsFreshRandomnessEveryTime() -> None:
    # Padding comes from a pool of random bytes: no byte of it is ever used twice.
    served: list[bytes] = []

    def randomBytes(n: int) -> bytes:
        served.append(os.urandom(n))
        return served[-1]

    writer = PacketWriter(randomBytes=randomBytes)
    paddings = []
    for size in range(3000):
        packet = writer.seal(b"\x05" + bytes(size % 50))
        paddings.append(packet[len(packet) - packet[4] :])
    assert 1 < len(served) < 100  # a pool, not a call per packet
    used = b"".join(paddings)
    pool = b"".join(served)
    # Each padding is the next unused stretch of the pool (a pool's short tail is
    # skipped rather than split).
    at = 0
    for padding in paddings:
        found = pool.find(padding, at)
        assert found >= at
        at = found + len(padding)
    assert len(used) <= len(pool)
