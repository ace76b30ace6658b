"""SSH key exchange arithmetic without I/O: the algorithms, the exchange hash and
the keys derived from it (RFC 4253 sections 7-8, RFC 4419, 5656, 8268, 8731).

Each algorithm is an object with ``hashName`` and, for the fixed-group and
elliptic-curve kinds, ``makeEphemeral()`` giving our secret and the public value to
send and ``sharedSecret(secret, theirPublic)`` giving K (as an integer) or raising
`KexError` for a public value that is not acceptable. Group exchange (RFC 4419)
picks its group from a moduli file. The RFC 3526 groups are computed from their
definition (they are built from the binary digits of pi) rather than pasted in.
Tests: tests/conch/test_sshkex.py.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from torsion.conch.ssh.common import MP, NS

__all__ = [
    "ECDH",
    "KEX_ALGORITHMS",
    "X25519",
    "DHGroup",
    "GroupExchange",
    "KexError",
    "deriveKey",
    "exchangeHash",
    "getPrimes",
    "modpGroup",
]


class KexError(Exception):
    """The peer's key exchange value is unacceptable (the connection must end)."""


def _pi(bits: int) -> int:
    """floor(pi * 2**bits), by Machin's formula in integers with guard bits."""

    def arctanInverse(x: int, one: int) -> int:
        total = term = one // x
        n, sign = 1, -1
        while term:
            term //= x * x
            n += 2
            total += sign * (term // n)
            sign = -sign
        return total

    guard = 64
    one = 1 << (bits + guard)
    return (4 * (4 * arctanInverse(5, one) - arctanInverse(239, one))) >> guard


@cache
def modpGroup(bits: int) -> int:
    """The RFC 3526 MODP prime of ``bits`` (2048 or 4096) bits; its generator is 2."""
    offset = {2048: 124476, 4096: 240904}[bits]
    prime: int = 2**bits - 2 ** (bits - 64) - 1 + 2**64 * (_pi(bits - 130) + offset)
    return prime


@dataclass(frozen=True)
class DHGroup:
    """Finite-field Diffie-Hellman over a fixed group (group14, group16)."""

    hashName: str
    bits: int
    generator: int = 2

    @property
    def prime(self) -> int:
        return modpGroup(self.bits)

    def makeEphemeral(self) -> tuple[int, bytes]:
        return makeDHEphemeral(self.prime, self.generator)

    def sharedSecret(self, secret: int, theirPublic: bytes) -> int:
        return dhSharedSecret(self.prime, secret, theirPublic)


def makeDHEphemeral(prime: int, generator: int) -> tuple[int, bytes]:
    """A secret exponent and MP(generator**secret mod prime)."""
    # Twice the security level's bits is plenty (RFC 8270 asks for at least that).
    secret = random.SystemRandom().randrange(2, min(prime - 2, 2**512))
    return secret, MP(pow(generator, secret, prime))


def dhSharedSecret(prime: int, secret: int, theirPublic: bytes) -> int:
    """K from the peer's public value (the raw mpint body is in ``theirPublic``)."""
    theirs = int.from_bytes(theirPublic, "big", signed=True)
    # RFC 4253 section 8: values outside [1, p-1] (and 1, p-1 themselves) are refused.
    if not 1 < theirs < prime - 1:
        raise KexError("the peer's Diffie-Hellman value is out of range")
    return pow(theirs, secret, prime)


@dataclass(frozen=True)
class X25519:
    """curve25519-sha256 (RFC 8731)."""

    hashName: str = "sha256"

    def makeEphemeral(self) -> tuple[x25519.X25519PrivateKey, bytes]:
        secret = x25519.X25519PrivateKey.generate()
        return secret, secret.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def sharedSecret(self, secret: x25519.X25519PrivateKey, theirPublic: bytes) -> int:
        if len(theirPublic) != 32:
            raise KexError("the peer's curve25519 key is not 32 bytes")
        try:
            shared = secret.exchange(x25519.X25519PublicKey.from_public_bytes(theirPublic))
        except ValueError:  # an all-zero result: a point of small order
            raise KexError("the peer's curve25519 key is of small order") from None
        return int.from_bytes(shared, "big")


@dataclass(frozen=True)
class ECDH:
    """ecdh-sha2-nistp256/384/521 (RFC 5656)."""

    hashName: str
    curve: type[ec.EllipticCurve]

    def makeEphemeral(self) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
        secret = ec.generate_private_key(self.curve())
        point = secret.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return secret, point

    def sharedSecret(self, secret: ec.EllipticCurvePrivateKey, theirPublic: bytes) -> int:
        try:
            theirs = ec.EllipticCurvePublicKey.from_encoded_point(self.curve(), theirPublic)
        except ValueError:  # not on the curve, or malformed
            raise KexError("the peer's ECDH point is not on the curve") from None
        return int.from_bytes(secret.exchange(ec.ECDH(), theirs), "big")


@dataclass(frozen=True)
class GroupExchange:
    """diffie-hellman-group-exchange-sha256 (RFC 4419): the server picks the group."""

    hashName: str = "sha256"


KexAlgorithm = DHGroup | X25519 | ECDH | GroupExchange

# Ours, best first.
KEX_ALGORITHMS: dict[bytes, KexAlgorithm] = {
    b"curve25519-sha256": X25519(),
    b"curve25519-sha256@libssh.org": X25519(),
    b"ecdh-sha2-nistp256": ECDH("sha256", ec.SECP256R1),
    b"ecdh-sha2-nistp384": ECDH("sha384", ec.SECP384R1),
    b"ecdh-sha2-nistp521": ECDH("sha512", ec.SECP521R1),
    b"diffie-hellman-group-exchange-sha256": GroupExchange(),
    b"diffie-hellman-group16-sha512": DHGroup("sha512", 4096),
    b"diffie-hellman-group14-sha256": DHGroup("sha256", 2048),
}


def exchangeHash(hashName: str, *parts: bytes) -> bytes:
    """H: the hash of the already-encoded parts, in the order the algorithm says."""
    digest = hashlib.new(hashName)
    for part in parts:
        digest.update(part)
    return digest.digest()


def encodedHashParts(
    clientVersion: bytes,
    serverVersion: bytes,
    clientKexInit: bytes,
    serverKexInit: bytes,
    hostKeyBlob: bytes,
    middle: Iterable[bytes],
    sharedSecret: int,
) -> list[bytes]:
    """What every exchange hash starts and ends with, around its own ``middle``."""
    return [
        NS(clientVersion),
        NS(serverVersion),
        NS(clientKexInit),
        NS(serverKexInit),
        NS(hostKeyBlob),
        *middle,
        MP(sharedSecret),
    ]


def deriveKey(
    hashName: str, sharedSecret: int, exchange: bytes, letter: bytes, sessionID: bytes, size: int
) -> bytes:
    """The key for ``letter`` (A-F), stretched to ``size`` bytes (RFC 4253 7.2)."""
    k = MP(sharedSecret)
    key = hashlib.new(hashName, k + exchange + letter + sessionID).digest()
    while len(key) < size:
        key += hashlib.new(hashName, k + exchange + key).digest()
    return key[:size]


def getPrimes(path: str | Path = "/etc/ssh/moduli") -> dict[int, list[tuple[int, int]]]:
    """The safe primes of an OpenSSH moduli file, by size: {bits: [(generator, prime)]}.

    A missing or unreadable file gives the RFC 3526 groups of 2048 and 4096 bits.
    """
    primes: dict[int, list[tuple[int, int]]] = {}
    try:
        text = Path(path).read_text()
    except OSError:
        text = ""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 7 or line.startswith("#"):
            continue
        _, kind, _, _, size, generator, modulus = fields
        if kind != "2":  # 2: safe primes
            continue
        # The file's size field is one less than the prime's bits.
        primes.setdefault(int(size) + 1, []).append((int(generator), int(modulus, 16)))
    if not primes:
        primes = {bits: [(2, modpGroup(bits))] for bits in (2048, 4096)}
    return primes


def chooseGroup(
    primes: dict[int, list[tuple[int, int]]], minimum: int, preferred: int, maximum: int
) -> tuple[int, int]:
    """(prime, generator) of the size nearest ``preferred`` within the client's range."""
    sizes = [bits for bits in primes if minimum <= bits <= maximum]
    if not sizes:
        raise KexError(f"no Diffie-Hellman group between {minimum} and {maximum} bits")
    size = min(sizes, key=lambda bits: (abs(bits - preferred), -bits))
    generator, prime = random.SystemRandom().choice(primes[size])
    return prime, generator
