"""SASL for SMTP (RFC 4954): the server's credentials and the client's authenticators.

The server side builds Cred credentials out of the client's answers: PLAIN and LOGIN
give ``IUsernamePassword`` (checkable against stored hashes), CRAM-MD5 is
``torsion.cred.credentials.CramMD5Credentials`` (it needs the password in the clear on
the server). Each follows ``IChallengeResponse``: ``getChallenge``, ``setResponse``,
``moreChallenges``. The client side implements ``IClientAuthentication``. IMAP4 and
POP3 can use the same classes.
Tests: tests/mail/test_smtp_auth.py.
"""

from __future__ import annotations

import hmac

from zope.interface import implementer

from torsion.cred.credentials import CramMD5Credentials, IUsernamePassword
from torsion.mail._smtpcore import IChallengeResponse, IClientAuthentication, _asBytes

__all__ = [
    "CramMD5ClientAuthenticator",
    "CramMD5Credentials",
    "LOGINAuthenticator",
    "LOGINCredentials",
    "PLAINAuthenticator",
    "PLAINCredentials",
]


class _PasswordCredentials:
    __slots__ = ("password", "username")

    def __init__(self) -> None:
        self.username: bytes = b""
        self.password: bytes = b""

    def checkPassword(self, password: bytes | str) -> bool:
        """Return whether ``password`` is the one the client gave (constant time)."""
        return hmac.compare_digest(self.password, _asBytes(password, "password"))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} username={self.username!r}>"


@implementer(IUsernamePassword, IChallengeResponse)
class PLAINCredentials(_PasswordCredentials):
    """AUTH PLAIN (RFC 4616): one answer, ``authzid NUL authcid NUL password``.

    An authorization identity other than the user's own is refused: acting for
    someone else is not something a Cred checker can allow.
    """

    __slots__ = ()

    def getChallenge(self) -> bytes:
        return b""

    def setResponse(self, response: bytes) -> None:
        """Take the answer.

        Raises:
            ValueError: it is not three NUL-separated fields, the user name is empty,
                or it asks to act as another user.
        """
        parts = response.split(b"\0")
        if len(parts) != 3 or not parts[1]:
            raise ValueError("an AUTH PLAIN answer is authzid NUL user NUL password")
        authzid, self.username, self.password = parts
        if authzid and authzid != self.username:
            raise ValueError("AUTH PLAIN: acting as another user is not supported")

    def moreChallenges(self) -> bool:
        return False


@implementer(IUsernamePassword, IChallengeResponse)
class LOGINCredentials(_PasswordCredentials):
    """AUTH LOGIN (the old draft most clients still offer): user name, then password."""

    __slots__ = ("_step",)

    _CHALLENGES = (b"Username:", b"Password:")

    def __init__(self) -> None:
        super().__init__()
        self._step = 0

    def getChallenge(self) -> bytes:
        return self._CHALLENGES[min(self._step, 1)]

    def setResponse(self, response: bytes) -> None:
        if self._step == 0:
            if not response:
                raise ValueError("AUTH LOGIN: the user name is empty")
            self.username = response
        else:
            self.password = response
        self._step += 1

    def moreChallenges(self) -> bool:
        return self._step < 2


@implementer(IClientAuthentication)
class PLAINAuthenticator:
    """The client's AUTH PLAIN: sends the user name and the secret in one answer."""

    __slots__ = ("user",)

    def __init__(self, user: bytes | str) -> None:
        self.user = _asBytes(user, "user")

    def getName(self) -> bytes:
        return b"PLAIN"

    def challengeResponse(self, secret: bytes, challenge: bytes) -> bytes:
        return b"\0" + self.user + b"\0" + secret


@implementer(IClientAuthentication)
class LOGINAuthenticator:
    """The client's AUTH LOGIN: answers the user-name prompt, then the password one."""

    __slots__ = ("user",)

    def __init__(self, user: bytes | str) -> None:
        self.user = _asBytes(user, "user")

    def getName(self) -> bytes:
        return b"LOGIN"

    def challengeResponse(self, secret: bytes, challenge: bytes) -> bytes:
        if challenge.lower().startswith(b"user"):
            return self.user
        return secret


@implementer(IClientAuthentication)
class CramMD5ClientAuthenticator:
    """The client's AUTH CRAM-MD5 (RFC 2195): never sends the secret itself."""

    __slots__ = ("user",)

    def __init__(self, user: bytes | str) -> None:
        self.user = _asBytes(user, "user")

    def getName(self) -> bytes:
        return b"CRAM-MD5"

    def challengeResponse(self, secret: bytes, challenge: bytes) -> bytes:
        digest = hmac.new(secret, challenge, "md5").hexdigest().encode("ascii")
        return self.user + b" " + digest
