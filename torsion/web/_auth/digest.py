"""HTTP Digest authentication (RFC 7616): SHA-256 or MD5, qop=auth, replay-checked nonces.

Each challenge carries a fresh random nonce that the factory remembers with the time it
was issued. A response is accepted only for a nonce the factory issued and still
remembers, younger than ``CHALLENGE_LIFETIME_SECS``, with the opaque value it was
issued with, the factory's realm and algorithm, the request's own URI, and a nonce
count (``nc``) not seen before for that nonce (a window of the last 64 counts allows
requests that overtake each other on parallel connections). So a captured header
cannot be replayed, nor used for another URL. A nonce that expired or was forgotten
gets a new challenge with ``stale=true``, on which clients retry without asking the
user again.

The memory is bounded: at most ``maxNonces`` nonces are remembered (the oldest are
forgotten first), so a flood of unauthenticated requests costs a fixed amount of
memory; its only effect on real users is a retry on ``stale=true``.

The password check itself is the checker's: the factory only vouches that the header
is fresh and well formed, and hands over DigestedCredentials. Digest needs the password
in the clear on the server (or its Digest hash): checkers that store salted hashes
cannot check it, which is why ``torsiond web --auth`` offers Digest only for checkers
that can.
Tests: tests/web/guard/test_digest.py.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections import OrderedDict
from typing import Any
from urllib.parse import unquote_to_bytes

from zope.interface import implementer

from torsion.cred import _digest
from torsion.cred.credentials import DigestedCredentials
from torsion.cred.error import LoginFailed
from torsion.web._auth._secrets import KeyedState
from torsion.web._auth.basic import realmBytes
from torsion.web._auth.headers import AuthHeaderError, parseAuthParams
from torsion.web.iweb import ICredentialFactory

__all__ = ["DigestCredentialFactory", "StaleNonce"]

_NC = re.compile(rb"[0-9a-fA-F]{8}\Z")
_HEX = re.compile(rb"[0-9a-fA-F]+\Z")
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
_EXT_VALUE = re.compile(rb"(?i)utf-8'[A-Za-z0-9-]*'(.*)\Z", re.DOTALL)
_WINDOW = 64
_WINDOW_MASK = (1 << _WINDOW) - 1


class StaleNonce(LoginFailed):
    """The response used a nonce that expired or was forgotten: challenge with stale=true.

    ``challengeExtras`` are the parameters the wrapper adds to this factory's next
    challenge, so that the client retries with the new nonce without asking the user.
    """

    challengeExtras = {"stale": b"true"}


class _Nonce:
    """What the factory remembers of a nonce: when it was issued, which counts were seen."""

    __slots__ = ("highest", "issued", "seen")

    def __init__(self, issued: float) -> None:
        self.issued = issued
        self.highest = 0
        self.seen = 0

    def use(self, count: int) -> bool:
        """Record nonce count ``count``; False if it was seen or is too old to tell."""
        if count > self.highest:
            shift = count - self.highest
            self.seen = ((self.seen << shift) | 1) & _WINDOW_MASK if shift < _WINDOW else 1
            self.highest = count
            return True
        offset = self.highest - count
        if offset >= _WINDOW or (self.seen >> offset) & 1:
            return False
        self.seen |= 1 << offset
        return True


@implementer(ICredentialFactory)
class DigestCredentialFactory(KeyedState):
    """Reads ``Authorization: Digest ...`` into DigestedCredentials, after checking it.

    Args:
        algorithm: ``b"sha256"`` (RFC 7616's SHA-256), ``b"md5"`` (what every client
            speaks), ``b"sha512-256"``, any of them with ``-sess``, or Twisted's
            ``b"sha"`` (SHA-1). To offer several, give the wrapper one factory each,
            the preferred first: clients take the first challenge they can answer.
        authenticationRealm: the realm (bytes or str); it is part of what the client
            hashes, so changing it invalidates stored Digest hashes.
        reactor: what gives the time (``seconds()``), e.g. a task.Clock in tests;
            by default the monotonic clock.
        maxNonces: how many issued nonces are remembered at most.
    """

    scheme = b"digest"
    CHALLENGE_LIFETIME_SECS = 15 * 60
    maxNonces = 10_000

    _transient = ("_key", "_nonces")

    def __init__(
        self,
        algorithm: bytes | str,
        authenticationRealm: bytes | str,
        *,
        reactor: Any = None,
        maxNonces: int | None = None,
    ) -> None:
        self._algorithm = _digest.algorithmFor(algorithm)
        self.algorithm = self._algorithm.token
        self.authenticationRealm = realmBytes(authenticationRealm)
        if maxNonces is not None:
            if maxNonces < 1:
                raise ValueError(f"maxNonces must be at least 1, not {maxNonces}")
            self.maxNonces = maxNonces
        self._reactor = reactor
        self._setUp()

    def _setUp(self) -> None:
        self._key = secrets.token_bytes(32)
        self._nonces: OrderedDict[bytes, _Nonce] = OrderedDict()

    def _opaque(self, nonce: bytes) -> bytes:
        return hmac.new(self._key, nonce, "sha256").hexdigest()[:32].encode("ascii")

    def _issue(self) -> bytes:
        now = self._now()
        nonces = self._nonces
        oldest = now - self.CHALLENGE_LIFETIME_SECS
        while nonces:
            first = next(iter(nonces.values()))
            if len(nonces) < self.maxNonces and first.issued > oldest:
                break
            nonces.popitem(last=False)
        nonce = secrets.token_urlsafe(24).encode("ascii")
        nonces[nonce] = _Nonce(now)
        return nonce

    def getChallenge(self, request: Any) -> dict[str, bytes]:
        """A challenge with a new nonce: realm, qop=auth, algorithm, nonce, opaque."""
        nonce = self._issue()
        return {
            "realm": self.authenticationRealm,
            "qop": b"auth",
            "algorithm": self.algorithm,
            "nonce": nonce,
            "opaque": self._opaque(nonce),
            "charset": b"UTF-8",
        }

    def decode(self, response: bytes, request: Any) -> DigestedCredentials:
        """Check the header ``response`` (after ``Digest``) and return its credentials.

        Raises:
            StaleNonce: the nonce expired or was forgotten (challenge with stale=true).
            LoginFailed: anything else is wrong: the message says what (it names no
                secret, and the wrapper logs it).
        """
        try:
            fields = parseAuthParams(response)
        except AuthHeaderError as e:
            raise LoginFailed(f"malformed Digest credentials: {e}") from None
        username = self._username(fields)
        for name in ("realm", "nonce", "uri", "response"):
            if name not in fields:
                raise LoginFailed(f"Digest credentials without {name}")
        algorithm = fields.get("algorithm", b"MD5")
        if algorithm.lower() != self.algorithm.lower():
            raise LoginFailed(
                f"Digest credentials for algorithm {algorithm.decode('ascii', 'replace')}, "
                f"not {self.algorithm.decode('ascii')}"
            )
        if not hmac.compare_digest(fields["realm"], self.authenticationRealm):
            raise LoginFailed("Digest credentials for another realm")
        if fields.get("qop", b"").lower() != b"auth":
            raise LoginFailed("Digest credentials without qop=auth (RFC 2069's are refused)")
        nc = fields.get("nc", b"")
        if not _NC.match(nc) or int(nc, 16) == 0:
            raise LoginFailed("Digest credentials without a valid nonce count (nc)")
        if not fields.get("cnonce"):
            raise LoginFailed("Digest credentials without cnonce")
        digest = fields["response"]
        if len(digest) != self._algorithm.hexLength or not _HEX.match(digest):
            raise LoginFailed("Digest credentials whose response is not a digest")
        if fields.get("userhash", b"false").lower() != b"false":
            raise LoginFailed("Digest credentials with userhash, which was not offered")
        if fields["uri"] != request.uri:
            raise LoginFailed("Digest credentials made for another URI than the request's")
        nonce = fields["nonce"]
        state = self._nonces.get(nonce)
        if state is None:
            raise StaleNonce("Digest credentials with a nonce that is not (or no longer) known")
        if state.issued <= self._now() - self.CHALLENGE_LIFETIME_SECS:
            del self._nonces[nonce]
            raise StaleNonce("Digest credentials with an expired nonce")
        opaque = fields.get("opaque")
        if opaque is None or not hmac.compare_digest(opaque, self._opaque(nonce)):
            raise LoginFailed("Digest credentials whose opaque value is not the challenge's")
        if not state.use(int(nc, 16)):
            raise LoginFailed("Digest credentials replayed (a nonce count used before)")
        fields["algorithm"] = self.algorithm
        fields["qop"] = b"auth"
        return DigestedCredentials(username, request.method, self.authenticationRealm, fields)

    def _username(self, fields: dict[str, bytes]) -> bytes:
        plain, extended = fields.get("username"), fields.get("username*")
        if plain is not None and extended is not None:
            raise LoginFailed("Digest credentials with both username and username*")
        if extended is not None:
            match = _EXT_VALUE.match(extended)
            if match is None:
                raise LoginFailed("Digest credentials whose username* is not UTF-8''...")
            plain = unquote_to_bytes(match.group(1))
        if plain is None:
            raise LoginFailed("Digest credentials without username")
        if _CONTROL.search(plain):
            raise LoginFailed("Digest credentials whose username has a control character")
        return plain

    def __repr__(self) -> str:
        return (
            f"<DigestCredentialFactory {self.algorithm.decode('ascii')} "
            f"realm={self.authenticationRealm!r}>"
        )
