"""Credentials: what a client offers to prove who it is, as the checkers see it.

Each kind of credentials is an interface (``IUsernamePassword``, ``IAnonymous``...); a
checker says which interfaces it can check, and a ``Portal`` gives credentials to the
checker registered for an interface they provide. The classes here are the usual
implementations; a protocol may provide the interfaces from its own objects instead
(PB's challenge-response does).

User names and passwords are bytes on the interfaces, as in Twisted. The constructors
here also take str, encoded as UTF-8, because Python 3 programs mostly hold text.
Password comparisons use ``hmac.compare_digest``, so their time does not depend on how
much of a guess was right. The ``repr`` of credentials never shows a password.
Tests: tests/cred/test_credentials.py; DigestedCredentials in
tests/web/guard/test_digest.py.
"""

from __future__ import annotations

import hmac
import secrets
import time

from zope.interface import Attribute, Interface, implementer

from torsion.cred import _digest

__all__ = [
    "Anonymous",
    "CramMD5Credentials",
    "DigestedCredentials",
    "IAnonymous",
    "ICredentials",
    "ISSHPrivateKey",
    "IUsernameDigestHash",
    "IUsernameHashedPassword",
    "IUsernameMD5Password",
    "IUsernamePassword",
    "SSHPrivateKey",
    "UsernameHashedPassword",
    "UsernamePassword",
]


def _bytes(value: bytes | str, what: str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"{what} must be bytes or str, not {type(value).__name__}")


class ICredentials(Interface):
    """Something offered to prove an identity; the sub-interfaces say what."""


class IUsernamePassword(ICredentials):
    """A user name and the password in the clear, as typed.

    Only these can be checked against a stored hash (argon2id, scrypt, bcrypt): the
    checker hashes ``password`` the way the stored hash says and compares.
    """

    username = Attribute("The user name, bytes.")
    password = Attribute("The password in the clear, bytes.")

    def checkPassword(password: bytes) -> bool:
        """Return whether ``password`` is this password (in constant time)."""


class IUsernameHashedPassword(ICredentials):
    """A user name and a proof of the password that only the credentials can check.

    The checker gives ``checkPassword`` the stored password (in the clear, or in the
    form the protocol agreed on) and the credentials say whether it matches, as with
    a challenge-response (CRAM-MD5, PB).
    """

    username = Attribute("The user name, bytes.")

    def checkPassword(password: bytes) -> bool:
        """Return whether the proof matches the stored ``password``."""


class IUsernameMD5Password(ICredentials):
    """Credentials that can also be checked against the MD5 digest of the password."""

    username = Attribute("The user name, bytes.")

    def checkPassword(password: bytes) -> bool:
        """Return whether the proof matches ``password`` in the clear."""

    def checkMD5Password(password: bytes) -> bool:
        """Return whether the proof matches ``password``, the password's MD5 digest."""


class IUsernameDigestHash(ICredentials):
    """HTTP Digest credentials, which can also be checked against a stored Digest hash.

    ``checkHash`` takes H(username:realm:password) in hexadecimal (what an Apache
    ``htdigest`` file stores), so a server can keep that instead of the password. It is
    not a salted hash: whoever reads it can log in to that realm.
    """

    username = Attribute("The user name, bytes.")

    def checkHash(digestHash: bytes) -> bool:
        """Return whether the response matches ``digestHash``, H(username:realm:password)."""


class IAnonymous(ICredentials):
    """No identity at all: what ``AllowAnonymousAccess`` accepts."""


class ISSHPrivateKey(ICredentials):
    """An SSH public key and the signature that proves the client holds its private key.

    ``signature`` is None while the client only asks whether the key would be accepted.
    """

    username = Attribute("The user name, bytes.")
    algName = Attribute("The key's algorithm name, e.g. b'ssh-ed25519'.")
    blob = Attribute("The public key in SSH wire format, bytes.")
    sigData = Attribute("The data that was signed, bytes (None without a signature).")
    signature = Attribute("The signature of sigData, bytes, or None.")


@implementer(IUsernamePassword)
class UsernamePassword:
    """A user name and a password in the clear.

    Args:
        username: bytes, or str (encoded as UTF-8).
        password: bytes, or str (encoded as UTF-8).
    """

    __slots__ = ("password", "username")

    def __init__(self, username: bytes | str, password: bytes | str) -> None:
        self.username = _bytes(username, "username")
        self.password = _bytes(password, "password")

    def checkPassword(self, password: bytes | str) -> bool:
        """Return whether ``password`` is this password, in constant time."""
        return hmac.compare_digest(self.password, _bytes(password, "password"))

    def __repr__(self) -> str:
        return f"<UsernamePassword username={self.username!r}>"


@implementer(IUsernameHashedPassword)
class UsernameHashedPassword:
    """A user name and a password in the form the server stores (e.g. a digest).

    ``checkPassword(stored)`` is true when the two forms are equal (constant time); it
    suits a protocol whose clients send the stored form rather than the password.
    """

    __slots__ = ("hashed", "username")

    def __init__(self, username: bytes | str, hashed: bytes | str) -> None:
        self.username = _bytes(username, "username")
        self.hashed = _bytes(hashed, "hashed")

    def checkPassword(self, password: bytes | str) -> bool:
        """Return whether ``password`` (the stored form) equals the one offered."""
        return hmac.compare_digest(self.hashed, _bytes(password, "password"))

    def __repr__(self) -> str:
        return f"<UsernameHashedPassword username={self.username!r}>"


@implementer(IAnonymous)
class Anonymous:
    """No credentials: the client does not say who it is."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<Anonymous>"


@implementer(ISSHPrivateKey)
class SSHPrivateKey:
    """An SSH public-key login attempt (for torsion.conch's checkers).

    Args:
        username: the user name (bytes or str).
        algName: the key algorithm, e.g. b"ssh-ed25519".
        blob: the public key blob.
        sigData: the signed data, or None when only asking if the key would do.
        signature: the signature over ``sigData``, or None.
    """

    __slots__ = ("algName", "blob", "sigData", "signature", "username")

    def __init__(
        self,
        username: bytes | str,
        algName: bytes | str,
        blob: bytes,
        sigData: bytes | None,
        signature: bytes | None,
    ) -> None:
        self.username = _bytes(username, "username")
        self.algName = _bytes(algName, "algName")
        self.blob = blob
        self.sigData = sigData
        self.signature = signature

    def __repr__(self) -> str:
        return f"<SSHPrivateKey username={self.username!r} algName={self.algName!r}>"


@implementer(IUsernameHashedPassword)
class CramMD5Credentials:
    """The server's side of CRAM-MD5 (RFC 2195), as SMTP, IMAP and POP3 offer it.

    The server sends ``getChallenge()``, the client answers ``USERNAME SP HEXDIGEST``
    (the HMAC-MD5 of the challenge keyed with the password), given to
    ``setResponse``; a checker then calls ``checkPassword(password)`` with the stored
    password in the clear. CRAM-MD5 cannot be checked against a salted hash.

    Args:
        host: the server's host name, put in the challenge (bytes or str).
    """

    __slots__ = ("challenge", "host", "response", "username")

    def __init__(self, host: bytes | str | None = None) -> None:
        self.host = None if host is None else _bytes(host, "host")
        self.challenge = b""
        self.response = b""
        self.username: bytes | None = None

    def getChallenge(self) -> bytes:
        """Return the challenge to send, making it (unpredictable, unique) on first use."""
        if not self.challenge:
            host = self.host or b"localhost"
            stamp = f"<{secrets.randbits(64)}.{int(time.time())}@".encode()
            self.challenge = stamp + host + b">"
        return self.challenge

    def setResponse(self, response: bytes | str) -> None:
        """Take the client's ``USERNAME SP HEXDIGEST`` answer.

        Raises:
            ValueError: the answer is not a user name and a digest separated by a space.
        """
        username, space, digest = _bytes(response, "response").rpartition(b" ")
        if not space or not username or not digest:
            raise ValueError("a CRAM-MD5 response is the user name, a space and the digest")
        self.username = username
        self.response = digest.lower()

    def moreChallenges(self) -> bool:
        """CRAM-MD5 has one challenge: always False."""
        return False

    def checkPassword(self, password: bytes | str) -> bool:
        """Return whether the response is the challenge's HMAC-MD5 under ``password``."""
        if not self.challenge or not self.response:
            return False
        expected = hmac.new(_bytes(password, "password"), self.challenge, "md5").hexdigest()
        return hmac.compare_digest(expected.encode("ascii"), self.response)

    def __repr__(self) -> str:
        return f"<CramMD5Credentials username={self.username!r}>"


@implementer(IUsernameHashedPassword, IUsernameDigestHash)
class DigestedCredentials:
    """An HTTP Digest response (RFC 7616), checkable with the password or its Digest hash.

    torsion.web's DigestCredentialFactory makes these from an ``Authorization: Digest``
    header after checking its nonce, realm and URI; a checker then calls
    ``checkPassword(stored)`` with the password in the clear (the in-memory checker and
    FilePasswordDB's plain entries do) or ``checkHash(digestHash)`` with a stored
    H(username:realm:password). Digest cannot be checked against a salted hash
    (argon2id, scrypt, bcrypt): the server needs what the client hashed.

    Args:
        username: the user name the client gave (bytes or str).
        method: the request's method, e.g. b"GET".
        realm: the realm of the challenge.
        fields: the header's parameters, str names to bytes values (``response``,
            ``uri``, ``nonce``, ``cnonce``, ``nc``, ``qop``, ``algorithm``...).
    """

    __slots__ = ("fields", "method", "realm", "username")

    def __init__(
        self,
        username: bytes | str,
        method: bytes | str,
        realm: bytes | str,
        fields: dict[str, bytes],
    ) -> None:
        self.username = _bytes(username, "username")
        self.method = _bytes(method, "method")
        self.realm = _bytes(realm, "realm")
        self.fields = fields

    def _expected(self, password: bytes | None, preHA1: bytes | None) -> bytes | None:
        fields = self.fields
        try:
            algorithm = _digest.algorithmFor(fields.get("algorithm", b"MD5"))
        except ValueError:
            return None
        nonce = fields.get("nonce")
        uri = fields.get("uri")
        qop = fields.get("qop")
        cnonce = fields.get("cnonce")
        nc = fields.get("nc")
        if nonce is None or uri is None:
            return None
        if qop is not None and (qop.lower() != b"auth" or cnonce is None or nc is None):
            return None
        if algorithm.session and cnonce is None:
            return None
        HA1 = _digest.calcHA1(
            algorithm, self.username, self.realm, password, nonce, cnonce or b"", preHA1
        )
        HA2 = _digest.calcHA2(algorithm, self.method, uri)
        return _digest.calcResponse(
            HA1, HA2, algorithm, nonce, nc, cnonce, None if qop is None else b"auth"
        )

    def _matches(self, expected: bytes | None) -> bool:
        response = self.fields.get("response")
        if expected is None or response is None:
            return False
        return hmac.compare_digest(expected, response.lower())

    def checkPassword(self, password: bytes | str) -> bool:
        """Return whether the response was made with ``password`` (in the clear)."""
        return self._matches(self._expected(_bytes(password, "password"), None))

    def checkHash(self, digestHash: bytes | str) -> bool:
        """Return whether the response was made from ``digestHash``, the hexadecimal
        H(username:realm:password) of this response's algorithm."""
        stored = _bytes(digestHash, "digestHash").strip().lower()
        return self._matches(self._expected(None, stored))

    def __repr__(self) -> str:
        return f"<DigestedCredentials username={self.username!r} realm={self.realm!r}>"
