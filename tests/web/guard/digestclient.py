"""A small, independent Digest client for the guard tests (RFC 7616 section 3.4).

It computes responses with hashlib directly rather than with torsion.cred._digest, so
that a mistake there is not repeated here.
"""

from __future__ import annotations

import hashlib
import secrets

from torsion.web._auth.headers import parseAuthParams

HASHES = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256", "SHA": "sha1"}


def challengeParams(header: bytes) -> dict[str, bytes]:
    scheme, _, rest = header.partition(b" ")
    assert scheme.lower() == b"digest", header
    return parseAuthParams(rest)


def authorization(
    challenge: dict[str, bytes],
    username: str,
    password: str,
    uri: bytes,
    method: bytes = b"GET",
    nc: int = 1,
    cnonce: bytes | None = None,
    override: dict[str, bytes] | None = None,
) -> bytes:
    """The ``Authorization`` header value answering ``challenge``; ``override`` replaces
    or adds fields after the response is computed (to forge one)."""
    algorithm = challenge.get("algorithm", b"MD5").decode()
    sess = algorithm.endswith("-sess")
    name = HASHES[algorithm[:-5] if sess else algorithm]

    def H(data: bytes) -> bytes:
        return hashlib.new(name, data).hexdigest().encode()

    cnonce = cnonce or secrets.token_hex(8).encode()
    ncValue = b"%08x" % nc
    nonce, realm = challenge["nonce"], challenge["realm"]
    HA1 = H(b"%s:%s:%s" % (username.encode(), realm, password.encode()))
    if sess:
        HA1 = H(b"%s:%s:%s" % (HA1, nonce, cnonce))
    HA2 = H(method + b":" + uri)
    response = H(b":".join((HA1, nonce, ncValue, cnonce, b"auth", HA2)))
    fields = {
        "username": username.encode(),
        "realm": realm,
        "nonce": nonce,
        "uri": uri,
        "algorithm": challenge.get("algorithm", b"MD5"),
        "qop": b"auth",
        "nc": ncValue,
        "cnonce": cnonce,
        "response": response,
        "opaque": challenge.get("opaque", b""),
    }
    fields.update(override or {})
    quoted = {"username", "realm", "nonce", "uri", "cnonce", "response", "opaque"}
    parts = []
    for key, value in fields.items():
        if key in quoted:
            escaped = value.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
            parts.append(key.encode() + b'="' + escaped + b'"')
        else:
            parts.append(key.encode() + b"=" + value)
    return b"Digest " + b", ".join(parts)
