"""The arithmetic of HTTP Digest authentication (RFC 7616), shared by cred and web.

``DigestedCredentials`` (torsion.cred.credentials) checks a client's response with
these functions, and torsion.web's ``DigestCredentialFactory`` names its algorithm with
``algorithmFor``. Everything here is bytes in, lower-case hexadecimal bytes out, as the
RFC's H() and KD() are defined; no I/O.

The algorithms: MD5, SHA-256 and SHA-512-256 of RFC 7616, each also in its ``-sess``
form, and Twisted's ``sha`` (SHA-1, which no RFC defines for Digest but Python's urllib
speaks) so that a Twisted program naming it still works.
Tests: tests/web/guard/test_digest.py.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["DigestAlgorithm", "algorithmFor", "calcHA1", "calcHA2", "calcResponse"]


@dataclass(frozen=True, slots=True)
class DigestAlgorithm:
    """One Digest algorithm: its RFC token, its hashlib name, whether it is ``-sess``."""

    token: bytes
    hashName: str
    session: bool

    @property
    def hexLength(self) -> int:
        """How many hexadecimal digits a response of this algorithm has."""
        return 2 * hashlib.new(self.hashName).digest_size

    def H(self, data: bytes) -> bytes:
        """RFC 7616's H(): the hash of ``data`` as lower-case hexadecimal bytes."""
        return hashlib.new(self.hashName, data).hexdigest().encode("ascii")


_BASES = {
    b"md5": (b"MD5", "md5"),
    b"sha": (b"SHA", "sha1"),
    b"sha-256": (b"SHA-256", "sha256"),
    b"sha256": (b"SHA-256", "sha256"),
    b"sha-512-256": (b"SHA-512-256", "sha512_256"),
    b"sha512-256": (b"SHA-512-256", "sha512_256"),
}

KNOWN = "md5, sha256, sha512-256 (each also with -sess), or sha (SHA-1, for old clients)"


def algorithmFor(name: bytes | str) -> DigestAlgorithm:
    """The algorithm ``name`` names (any case; ``sha256`` and ``SHA-256`` alike).

    Raises:
        ValueError: not a Digest algorithm torsion knows; the message lists them.
    """
    raw = name.encode("ascii", "replace") if isinstance(name, str) else bytes(name)
    lowered = raw.lower()
    session = lowered.endswith(b"-sess")
    base = _BASES.get(lowered[:-5] if session else lowered)
    if base is None:
        shown = raw.decode("ascii", "replace")
        raise ValueError(f"unknown Digest algorithm {shown!r}; use {KNOWN}")
    token, hashName = base
    return DigestAlgorithm(token + b"-sess" if session else token, hashName, session)


def calcHA1(
    algorithm: DigestAlgorithm,
    username: bytes,
    realm: bytes,
    password: bytes | None,
    nonce: bytes,
    cnonce: bytes,
    preHA1: bytes | None = None,
) -> bytes:
    """H(A1): from the password, or from ``preHA1``, the stored H(username:realm:password).

    For a ``-sess`` algorithm A1 also covers the nonce and the client's nonce.
    """
    if preHA1 is None:
        if password is None:
            raise ValueError("calcHA1 needs the password or preHA1")
        preHA1 = algorithm.H(b":".join((username, realm, password)))
    if algorithm.session:
        return algorithm.H(b":".join((preHA1, nonce, cnonce)))
    return preHA1


def calcHA2(algorithm: DigestAlgorithm, method: bytes, uri: bytes) -> bytes:
    """H(A2) for qop=auth (or no qop): the method and the request target."""
    return algorithm.H(method + b":" + uri)


def calcResponse(
    HA1: bytes,
    HA2: bytes,
    algorithm: DigestAlgorithm,
    nonce: bytes,
    nc: bytes | None,
    cnonce: bytes | None,
    qop: bytes | None,
) -> bytes:
    """The response the client should have sent: KD(H(A1), ...), RFC 7616 section 3.4.1.

    Without ``qop`` it is RFC 2069's older form, H(H(A1):nonce:H(A2)).
    """
    if qop is None:
        return algorithm.H(b":".join((HA1, nonce, HA2)))
    if nc is None or cnonce is None:
        raise ValueError("a response with qop needs nc and cnonce")
    return algorithm.H(b":".join((HA1, nonce, nc, cnonce, qop, HA2)))
