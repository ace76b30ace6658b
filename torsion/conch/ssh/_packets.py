"""SSH's binary packet protocol (RFC 4253 section 6) without I/O: framing, padding,
encryption and integrity, for each cipher suite torsion offers.

`PacketWriter.seal(payload)` gives the bytes of one packet; `PacketReader.feed(data)`
takes bytes cut anywhere and returns the payloads they complete. Both start in the
clear (before the first key exchange) and switch suites with ``setKeys`` when NEWKEYS
is sent or received. Suites: aes128-ctr and aes256-ctr with hmac-sha2-256/512 (MAC
of the plaintext, or "-etm@openssh.com": MAC of the ciphertext, the length sent in
the clear), aes128-gcm@openssh.com and aes256-gcm@openssh.com (RFC 5647 as OpenSSH
does it), and chacha20-poly1305@openssh.com (OpenSSH's PROTOCOL.chacha20poly1305).

What a peer sends is untrusted: a packet length over ``maxPacket`` or not a multiple
of the block size, padding under 4 bytes or longer than the packet, and a bad MAC or
tag each raise `SSHPacketError` carrying the disconnect reason to send. Nothing of a
packet is handed up before its MAC is checked. Sequence numbers wrap at 2**32, and
``resetSequence`` is there for strict key exchange (the Terrapin fix), which resets
them at each NEWKEYS. Tests: tests/conch/test_sshpackets.py.
"""

from __future__ import annotations

import hmac
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import poly1305
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "CIPHERS",
    "MACS",
    "PacketReader",
    "PacketWriter",
    "SSHPacketError",
    "SuiteKeys",
]

DISCONNECT_PROTOCOL_ERROR = 2
DISCONNECT_MAC_ERROR = 5
_U32 = struct.Struct("!L")
_HEAD = struct.Struct("!LB")  # packet length, padding length
_MAX_PACKET = 256 * 1024  # OpenSSH's limit; RFC 4253 asks for at least 35000
_NEWKEYS = b"\x15"  # SSH_MSG_NEWKEYS: the packets after it have the new keys
_PADDING_POOL = 4096  # bytes; padding is at most 255 bytes a packet


class SSHPacketError(Exception):
    """A packet from the peer breaks the protocol; ``reason`` is the disconnect code."""

    def __init__(self, reason: int, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class _CipherSpec:
    keySize: int
    ivSize: int
    blockSize: int
    aead: bool  # carries its own integrity (a tag): no separate MAC is negotiated


@dataclass(frozen=True)
class _MACSpec:
    digest: str
    size: int
    etm: bool


# What each name needs from the key exchange (key and IV sizes) and how it frames.
CIPHERS: dict[bytes, _CipherSpec] = {
    b"chacha20-poly1305@openssh.com": _CipherSpec(64, 0, 8, True),
    b"aes256-gcm@openssh.com": _CipherSpec(32, 12, 16, True),
    b"aes128-gcm@openssh.com": _CipherSpec(16, 12, 16, True),
    b"aes256-ctr": _CipherSpec(32, 16, 16, False),
    b"aes128-ctr": _CipherSpec(16, 16, 16, False),
}
MACS: dict[bytes, _MACSpec] = {
    b"hmac-sha2-256-etm@openssh.com": _MACSpec("sha256", 32, True),
    b"hmac-sha2-512-etm@openssh.com": _MACSpec("sha512", 64, True),
    b"hmac-sha2-256": _MACSpec("sha256", 32, False),
    b"hmac-sha2-512": _MACSpec("sha512", 64, False),
}


@dataclass(frozen=True)
class SuiteKeys:
    """One direction's algorithms and the keys the key exchange derived for them."""

    cipher: bytes
    mac: bytes | None  # None with an AEAD cipher
    key: bytes
    iv: bytes
    macKey: bytes = b""


Piece = bytes | memoryview
_ZEROS64 = bytes(64)
_NONCE = struct.Struct(">8xQ")  # ChaCha20's block counter 0, then the sequence number


class _Suite:
    """One direction of one cipher suite; subclasses frame and unframe packets.

    Packets go out as pieces (the 5-byte head: length and padding length, then the
    payload's pieces and the padding) so that a channel's data is encrypted where it
    lies instead of being copied into a packet first; they come in as a memoryview
    of the receive buffer for the same reason.
    """

    blockSize = 8
    tagSize = 0
    # 4 where the packet length is outside the cipher's blocks (sent in the clear as
    # associated data, or encrypted on its own); 0 where the padding aligns it too.
    aadSize = 0
    firstSize = 4

    def seal(self, seq: int, head: bytes, parts: tuple[Piece, ...]) -> list[bytes]:
        """The packet as it goes out: ``head`` then ``parts``, encrypted and tagged."""
        raise NotImplementedError

    def readLength(self, seq: int, first: Piece) -> int:
        """The packet length from its first bytes (``firstSize`` of them)."""
        raise NotImplementedError

    def open(self, seq: int, whole: memoryview) -> bytes:
        """The plain packet after the length field, from everything received for it."""
        raise NotImplementedError


class _Clear(_Suite):
    def seal(self, seq: int, head: bytes, parts: tuple[Piece, ...]) -> list[bytes]:
        return [b"".join((head, *parts))]

    def readLength(self, seq: int, first: Piece) -> int:
        return int(_U32.unpack(first)[0])

    def open(self, seq: int, whole: memoryview) -> bytes:
        return bytes(whole[4:])


class _CTR(_Suite):
    """aes-ctr with an HMAC of the plaintext or, with etm, of the ciphertext."""

    def __init__(self, keys: SuiteKeys, encrypt: bool) -> None:
        spec, mac = CIPHERS[keys.cipher], MACS[keys.mac or b""]
        cipher = Cipher(algorithms.AES(keys.key[: spec.keySize]), modes.CTR(keys.iv[:16]))
        self._stream: CipherContext = cipher.encryptor() if encrypt else cipher.decryptor()
        self.blockSize = 16
        self.tagSize = mac.size
        self.aadSize = 4 if mac.etm else 0
        self.firstSize = 4 if mac.etm else 16
        self._etm = mac.etm
        # Keyed once; each packet's MAC starts from a copy (no re-keying per packet).
        self._keyed = hmac.new(keys.macKey, digestmod=mac.digest)
        self._decryptedFirst = b""

    def _mac(self, seq: int, pieces: tuple[Piece, ...]) -> bytes:
        mac = self._keyed.copy()
        mac.update(_U32.pack(seq))
        for piece in pieces:
            mac.update(piece)
        return mac.digest()

    def seal(self, seq: int, head: bytes, parts: tuple[Piece, ...]) -> list[bytes]:
        update = self._stream.update
        if self._etm:
            body = (head[:4], update(head[4:]), *[update(part) for part in parts])
            return [*body, self._mac(seq, body)]
        mac = self._mac(seq, (head, *parts))
        return [update(head), *[update(part) for part in parts], mac]

    def readLength(self, seq: int, first: Piece) -> int:
        if self._etm:
            return int(_U32.unpack(first)[0])
        self._decryptedFirst = self._stream.update(first)
        return int(_U32.unpack_from(self._decryptedFirst)[0])

    def open(self, seq: int, whole: memoryview) -> bytes:
        body, tag = whole[: -self.tagSize], whole[-self.tagSize :]
        if self._etm:
            if not hmac.compare_digest(self._mac(seq, (body,)), tag):
                raise SSHPacketError(DISCONNECT_MAC_ERROR, "a packet's MAC is wrong")
            return self._stream.update(body[4:])
        first, self._decryptedFirst = self._decryptedFirst, b""
        rest = self._stream.update(body[self.firstSize :])
        if not hmac.compare_digest(self._mac(seq, (first, rest)), tag):
            raise SSHPacketError(DISCONNECT_MAC_ERROR, "a packet's MAC is wrong")
        return first[4:] + rest


class _GCM(_Suite):
    """aes-gcm@openssh.com: the length is the associated data; the IV counts packets."""

    def __init__(self, keys: SuiteKeys, encrypt: bool) -> None:
        spec = CIPHERS[keys.cipher]
        self._aead = AESGCM(keys.key[: spec.keySize])
        self._fixed = keys.iv[:4]
        self._counter = int.from_bytes(keys.iv[4:12], "big")
        self.blockSize = 16
        self.tagSize = 16
        self.aadSize = 4

    def _nonce(self) -> bytes:
        nonce = self._fixed + self._counter.to_bytes(8, "big")
        self._counter = (self._counter + 1) & 0xFFFFFFFFFFFFFFFF
        return nonce

    def seal(self, seq: int, head: bytes, parts: tuple[Piece, ...]) -> list[bytes]:
        sealed = self._aead.encrypt(self._nonce(), b"".join((head[4:], *parts)), head[:4])
        return [head[:4], sealed]

    def readLength(self, seq: int, first: Piece) -> int:
        return int(_U32.unpack(first)[0])

    def open(self, seq: int, whole: memoryview) -> bytes:
        try:
            return self._aead.decrypt(self._nonce(), whole[4:], whole[:4])
        except InvalidTag:
            raise SSHPacketError(DISCONNECT_MAC_ERROR, "a packet's GCM tag is wrong") from None


class _ChaChaPoly(_Suite):
    """chacha20-poly1305@openssh.com: the length has its own key; Poly1305 over all.

    One ChaCha20 stream of the main key per packet gives both the Poly1305 key (its
    first block) and the payload's keystream (the blocks after), as OpenSSH's
    PROTOCOL.chacha20poly1305 lays them out; the length has a stream of its own.
    """

    def __init__(self, keys: SuiteKeys, encrypt: bool) -> None:
        self._mainKey, self._lengthKey = keys.key[:32], keys.key[32:64]
        self.blockSize = 8
        self.tagSize = 16
        self.aadSize = 4

    @staticmethod
    def _stream(key: bytes, seq: int) -> CipherContext:
        # OpenSSH's ChaCha20 has a 64-bit counter and a 64-bit nonce (the sequence
        # number); the library's 16-byte nonce is exactly the two, counter first.
        return _chachaContext(algorithms.ChaCha20(key, _NONCE.pack(seq)), None)

    def seal(self, seq: int, head: bytes, parts: tuple[Piece, ...]) -> list[bytes]:
        length = self._stream(self._lengthKey, seq).update(head[:4])
        main = self._stream(self._mainKey, seq)
        tagger = poly1305.Poly1305(main.update(_ZEROS64)[:32])
        body = [length, main.update(head[4:]), *[main.update(part) for part in parts]]
        for piece in body:
            tagger.update(piece)
        body.append(tagger.finalize())
        return body

    def readLength(self, seq: int, first: Piece) -> int:
        return int(_U32.unpack(self._stream(self._lengthKey, seq).update(first))[0])

    def open(self, seq: int, whole: memoryview) -> bytes:
        main = self._stream(self._mainKey, seq)
        polyKey = main.update(_ZEROS64)[:32]
        try:
            poly1305.Poly1305.verify_tag(polyKey, whole[:-16], bytes(whole[-16:]))
        except InvalidSignature:
            raise SSHPacketError(DISCONNECT_MAC_ERROR, "a packet's Poly1305 tag is wrong") from None
        return main.update(whole[4:-16])


def _publicChaChaContext(algorithm: algorithms.ChaCha20, mode: None) -> CipherContext:
    return Cipher(algorithm, mode).encryptor()


def _findChaChaContext() -> Callable[[algorithms.ChaCha20, None], CipherContext]:
    """The library's own maker of cipher contexts, under its public `Cipher`.

    Two ChaCha20 contexts are made per packet (the library cannot re-nonce one), and
    `Cipher` spends about a microsecond of each on checks that cannot fail here
    (abstract-class isinstance tests). The maker below it is private to the
    library, so it is used only if it is there and gives the public path's stream;
    otherwise the public path serves.
    """
    try:
        from cryptography.hazmat.bindings._rust import openssl as rust

        maker = rust.ciphers.create_encryption_ctx
        probe = algorithms.ChaCha20(bytes(range(32)), bytes(16))
        if maker(probe, None).update(bytes(64)) == _publicChaChaContext(probe, None).update(
            bytes(64)
        ):
            return maker
    except Exception:  # any change in the library's internals: use the public way
        pass
    return _publicChaChaContext


_chachaContext = _findChaChaContext()


def _suite(keys: SuiteKeys | None, encrypt: bool) -> _Suite:
    if keys is None:
        return _Clear()
    spec = CIPHERS.get(keys.cipher)
    if spec is None:
        raise ValueError(f"unknown SSH cipher {keys.cipher!r}")
    if len(keys.key) < spec.keySize or len(keys.iv) < spec.ivSize:
        raise ValueError(f"{keys.cipher.decode()} needs a {spec.keySize}-byte key")
    if spec.aead:
        maker: Callable[[SuiteKeys, bool], _Suite] = (
            _ChaChaPoly if keys.cipher.startswith(b"chacha20") else _GCM
        )
        return maker(keys, encrypt)
    if keys.mac not in MACS:
        raise ValueError(f"{keys.cipher.decode()} needs a MAC; unknown MAC {keys.mac!r}")
    return _CTR(keys, encrypt)


class PacketWriter:
    """Turns payloads into packets for one direction of a connection."""

    def __init__(self, randomBytes: Callable[[int], bytes] = os.urandom) -> None:
        self.seq = 0
        self._suite: _Suite = _Clear()
        self._random = randomBytes
        # Padding is cut from a pool of random bytes, each byte used once: one
        # getrandom call per _PADDING_POOL bytes rather than one per packet.
        self._pool = b""
        self._poolAt = 0

    def setKeys(self, keys: SuiteKeys | None) -> None:
        """Encrypt from the next packet on (after sending NEWKEYS)."""
        self._suite = _suite(keys, encrypt=True)

    def resetSequence(self) -> None:
        self.seq = 0

    def seal(self, payload: Piece) -> bytes:
        return self.sealParts((payload,))

    def sealParts(self, parts: tuple[Piece, ...]) -> bytes:
        """One packet whose payload is ``parts`` joined."""
        return b"".join(self.sealPieces(parts))

    def sealPieces(self, parts: tuple[Piece, ...]) -> list[bytes]:
        """One packet whose payload is ``parts`` joined, as the pieces of its bytes
        (for a transport's writeSequence). Nothing is joined here: the suite encrypts
        each part where it lies and hands back what it made."""
        suite = self._suite
        block = suite.blockSize
        size = sum(map(len, parts))
        paddingSize = block - (5 + size - suite.aadSize) % block
        if paddingSize < 4:
            paddingSize += block
        head = _HEAD.pack(1 + size + paddingSize, paddingSize)
        at = self._poolAt
        if at + paddingSize > len(self._pool):
            self._pool, at = self._random(_PADDING_POOL), 0
        self._poolAt = at + paddingSize
        out = suite.seal(self.seq, head, (*parts, self._pool[at : at + paddingSize]))
        self.seq = (self.seq + 1) & 0xFFFFFFFF
        return out


class PacketReader:
    """Turns received bytes into payloads for one direction of a connection."""

    def __init__(self, maxPacket: int = _MAX_PACKET) -> None:
        self.seq = 0
        self.maxPacket = maxPacket
        self._suite: _Suite = _Clear()
        self._buffer = bytearray()
        self._length: int | None = None

    def setKeys(self, keys: SuiteKeys | None) -> None:
        """Decrypt from the next packet on (after receiving NEWKEYS)."""
        self._suite = _suite(keys, encrypt=False)

    def resetSequence(self) -> None:
        self.seq = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Payloads completed by ``data``; stops after a packet whose payload is NEWKEYS
        would change the suite (the caller then calls setKeys and feeds b"").

        Packets are cut from a memoryview of what arrived (of ``data`` itself when
        nothing was left over), so only what is left of an incomplete packet is
        copied into the buffer.
        """
        payloads: list[bytes] = []
        view = memoryview(data)
        try:
            if self._buffer:
                taken = self._finishBuffered(view, payloads)
                if taken is None:
                    return payloads
                view = view[taken:]
            used = 0
            while True:
                payload, used = self._next(view, used)
                if payload is None:
                    break
                payloads.append(payload)
                if payload[:1] == _NEWKEYS:  # the next packet has new keys
                    break
            self._buffer += view[used:]
        finally:
            view.release()
        return payloads

    def _finishBuffered(self, data: memoryview, payloads: list[bytes]) -> int | None:
        """Complete the packet begun in the buffer with just the bytes of ``data`` it
        lacks, so that what follows is cut from ``data`` itself rather than copied
        into the buffer first; return how many bytes of ``data`` that took. None if
        ``data`` did not complete it or completed a NEWKEYS (what is left of ``data``
        then waits in the buffer)."""
        buffer, suite = self._buffer, self._suite
        taken = 0
        while buffer:
            length = self._length
            wanted = suite.firstSize if length is None else 4 + length + suite.tagSize
            # (After a NEWKEYS the buffer may hold whole packets: then it takes nothing.)
            take = max(0, min(wanted - len(buffer), len(data) - taken))
            buffer += data[taken : taken + take]
            taken += take
            if len(buffer) < wanted:
                return None
            with memoryview(buffer) as view:
                payload, used = self._next(view, 0)
            if payload is None:
                continue  # the length is known now: take the rest of the packet
            del buffer[:used]
            payloads.append(payload)
            if payload[:1] == _NEWKEYS:
                buffer += data[taken:]
                return None
        return taken

    def _next(self, view: memoryview, start: int) -> tuple[bytes | None, int]:
        suite = self._suite
        available = len(view) - start
        length = self._length
        if length is None:
            if available < suite.firstSize:
                return None, start
            length = suite.readLength(self.seq, view[start : start + suite.firstSize])
            covered = length + 4 - suite.aadSize
            if length < 5 or length > self.maxPacket:
                raise SSHPacketError(
                    DISCONNECT_PROTOCOL_ERROR, f"a packet length of {length} is out of bounds"
                )
            if covered % suite.blockSize:
                raise SSHPacketError(
                    DISCONNECT_PROTOCOL_ERROR,
                    f"a packet length of {length} is not a multiple of the block size",
                )
            self._length = length
        total = 4 + length + suite.tagSize
        if available < total:
            return None, start
        self._length = None
        plain = suite.open(self.seq, view[start : start + total])
        self.seq = (self.seq + 1) & 0xFFFFFFFF
        paddingSize = plain[0]
        if paddingSize < 4 or paddingSize + 1 > len(plain):
            raise SSHPacketError(
                DISCONNECT_PROTOCOL_ERROR, f"a packet's padding length {paddingSize} is wrong"
            )
        return plain[1 : len(plain) - paddingSize], start + total
