"""SASL mechanisms for XMPP clients: PLAIN, ANONYMOUS, SCRAM-SHA-1 and SCRAM-SHA-256.

Each mechanism is an ``ISASLMechanism``: ``getInitialResponse()`` gives what goes
with ``<auth/>`` and ``getResponse(challenge)`` answers each ``<challenge/>``
(bytes both ways; torsion.words.protocols.jabber.sasl does the base64). SCRAM
(RFC 5802, RFC 7677) never sends the password: it proves knowledge of it, and
``success(additionalData)`` checks the server's signature, so a server that does not
know the password cannot pretend the login worked. Passwords are prepared with
SASLprep (RFC 4013). Twisted's DIGEST-MD5 is obsolete (RFC 6331) and not here.
Tests: tests/words/test_jabbersasl.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import stringprep

from zope.interface import Attribute, Interface, implementer

from torsion.words.protocols.jabber import jid

__all__ = [
    "SCRAM",
    "Anonymous",
    "ISASLMechanism",
    "InvalidServerResponse",
    "Plain",
    "saslprep",
]

# SCRAM iteration counts beyond this are refused: each login would cost seconds.
MAX_ITERATIONS = 1_000_000
MIN_ITERATIONS = 1000


class InvalidServerResponse(ValueError):
    """The server's SASL data is malformed or fails verification."""


class ISASLMechanism(Interface):
    """A client side SASL mechanism."""

    name = Attribute("The mechanism's registered name, as text (``'PLAIN'``).")

    def getInitialResponse() -> bytes | None:
        """Return the initial response (None: the mechanism has none)."""

    def getResponse(challenge: bytes) -> bytes:
        """Return the response to the server's ``challenge``."""


def saslprep(text: str) -> str:
    """Prepare a user name or password with SASLprep (RFC 4013).

    Raises:
        ValueError (jid.InvalidFormat): if the text has prohibited characters.
    """
    if not text.isascii():
        text = "".join(" " if stringprep.in_table_c12(c) else c for c in text)
    return jid._stringprep(text, "password or user name", False, jid._RESOURCE_PROHIBITED)


@implementer(ISASLMechanism)
class Anonymous:
    """ANONYMOUS (RFC 4505): log in without an account, where the server allows it."""

    name = "ANONYMOUS"

    def getInitialResponse(self) -> bytes | None:
        return None

    def getResponse(self, challenge: bytes) -> bytes:
        return b""


@implementer(ISASLMechanism)
class Plain:
    """PLAIN (RFC 4616): the password itself, so only over TLS.

    Args:
        authzid: the identity to act as (None: the one authenticated).
        authcid: the user name.
        password: the password.
    """

    name = "PLAIN"

    def __init__(self, authzid: str | None, authcid: str, password: str) -> None:
        self.authzid = authzid or ""
        self.authcid = authcid
        self.password = password

    def getInitialResponse(self) -> bytes:
        return b"\x00".join(
            part.encode("utf-8") for part in (self.authzid, self.authcid, self.password)
        )

    def getResponse(self, challenge: bytes) -> bytes:
        return b""


def _saslname(name: str) -> str:
    return name.replace("=", "=3D").replace(",", "=2C")


def _attributes(message: bytes) -> dict[str, str]:
    try:
        text = message.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidServerResponse("the server's SCRAM message is not UTF-8") from None
    found: dict[str, str] = {}
    for part in text.split(","):
        key, equals, value = part.partition("=")
        if len(key) != 1 or not equals:
            raise InvalidServerResponse(f"the server's SCRAM message {text!r} is malformed")
        found.setdefault(key, value)
    return found


@implementer(ISASLMechanism)
class SCRAM:
    """SCRAM-SHA-1 or SCRAM-SHA-256 (without channel binding).

    Args:
        hashName: ``"sha1"`` or ``"sha256"``.
        authcid: the user name.
        password: the password.
        authzid: the identity to act as (None: the one authenticated).
        nonce: the client nonce (random by default; give one only in tests).
    """

    def __init__(
        self,
        hashName: str,
        authcid: str,
        password: str,
        authzid: str | None = None,
        nonce: str | None = None,
    ) -> None:
        if hashName not in ("sha1", "sha256"):
            raise ValueError(f"SCRAM here is with sha1 or sha256, not {hashName!r}")
        self.hashName = hashName
        self.name = "SCRAM-SHA-1" if hashName == "sha1" else "SCRAM-SHA-256"
        self.authcid = saslprep(authcid)
        self.password = saslprep(password)
        self.gs2header = "n," + ("a=" + _saslname(authzid) if authzid else "") + ","
        self.nonce = nonce or base64.b64encode(secrets.token_bytes(18)).decode("ascii")
        self._firstBare = f"n={_saslname(self.authcid)},r={self.nonce}"
        self._serverSignature: bytes | None = None
        self.verified = False

    def _hmac(self, key: bytes, message: bytes) -> bytes:
        return hmac.new(key, message, self.hashName).digest()

    def getInitialResponse(self) -> bytes:
        return (self.gs2header + self._firstBare).encode("utf-8")

    def getResponse(self, challenge: bytes) -> bytes:
        if self._serverSignature is None:
            return self._clientFinal(challenge)
        self.success(challenge)
        return b""

    def _clientFinal(self, serverFirst: bytes) -> bytes:
        fields = _attributes(serverFirst)
        if "m" in fields:
            raise InvalidServerResponse("the server asks for a SCRAM extension ('m=')")
        try:
            nonce, salt64, iterations = fields["r"], fields["s"], int(fields["i"])
            salt = base64.b64decode(salt64, validate=True)
        except (KeyError, ValueError):
            raise InvalidServerResponse(
                f"the server's first SCRAM message {serverFirst!r} lacks r=, s= or i="
            ) from None
        if not nonce.startswith(self.nonce) or len(nonce) == len(self.nonce):
            raise InvalidServerResponse("the server's SCRAM nonce does not extend ours")
        if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
            raise InvalidServerResponse(
                f"the server's SCRAM iteration count {iterations} is outside "
                f"{MIN_ITERATIONS}..{MAX_ITERATIONS}"
            )
        salted = hashlib.pbkdf2_hmac(self.hashName, self.password.encode("utf-8"), salt, iterations)
        clientKey = self._hmac(salted, b"Client Key")
        storedKey = hashlib.new(self.hashName, clientKey).digest()
        channel = base64.b64encode(self.gs2header.encode("utf-8")).decode("ascii")
        withoutProof = f"c={channel},r={nonce}"
        authMessage = ",".join((self._firstBare, serverFirst.decode("utf-8"), withoutProof)).encode(
            "utf-8"
        )
        signature = self._hmac(storedKey, authMessage)
        proof = bytes(a ^ b for a, b in zip(clientKey, signature, strict=True))
        self._serverSignature = self._hmac(self._hmac(salted, b"Server Key"), authMessage)
        return f"{withoutProof},p={base64.b64encode(proof).decode('ascii')}".encode("ascii")

    def success(self, additionalData: bytes | None) -> None:
        """Check the server's final message (with ``<success/>`` or a last challenge).

        Raises:
            InvalidServerResponse: if the server's signature is missing or wrong.
        """
        if additionalData is None or additionalData == b"":
            if self.verified:
                return
            raise InvalidServerResponse(
                "the server said the login worked without proving it knows the password"
            )
        fields = _attributes(additionalData)
        if "e" in fields:
            raise InvalidServerResponse(f"the server refused the login: {fields['e']}")
        try:
            signature = base64.b64decode(fields["v"], validate=True)
        except (KeyError, ValueError):
            raise InvalidServerResponse("the server's final SCRAM message has no v=") from None
        if self._serverSignature is None or not hmac.compare_digest(
            signature, self._serverSignature
        ):
            raise InvalidServerResponse(
                "the server's SCRAM signature is wrong: it does not know the password "
                "(or someone is in the middle)"
            )
        self.verified = True
