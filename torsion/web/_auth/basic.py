"""HTTP Basic authentication (RFC 7617): ``Authorization: Basic base64(user:password)``.

The password crosses the network readable by anyone on the path, so Basic belongs on
TLS (or on 127.0.0.1). In return it is the one scheme whose password can be checked
against a salted hash (argon2id, scrypt, bcrypt), since the server receives it as typed.
The challenge says ``charset="UTF-8"``, so clients encode names and passwords as
UTF-8; the bytes reach the checker unchanged.
Tests: tests/web/guard/test_basic.py.
"""

from __future__ import annotations

import binascii
import re
from typing import Any

from zope.interface import implementer

from torsion.cred.credentials import UsernamePassword
from torsion.cred.error import LoginFailed
from torsion.web.iweb import ICredentialFactory

__all__ = ["BasicCredentialFactory", "realmBytes"]

MAX_CREDENTIALS = 4096
_TOKEN68 = re.compile(rb"[A-Za-z0-9+/]+={0,2}\Z")
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


def realmBytes(realm: bytes | str) -> bytes:
    """Check a realm name given to a factory, as bytes.

    Raises:
        ValueError: it is empty or has a control character (it goes into a header).
    """
    raw = realm.encode("utf-8") if isinstance(realm, str) else bytes(realm)
    if not raw or _CONTROL.search(raw):
        raise ValueError(f"a realm is a non-empty name without control characters, not {raw!r}")
    return raw


@implementer(ICredentialFactory)
class BasicCredentialFactory:
    """Reads ``Authorization: Basic ...`` into UsernamePassword credentials.

    Args:
        authenticationRealm: the realm named in the challenge (bytes or str), which
            browsers show when they ask for the password.
    """

    scheme = b"basic"

    def __init__(self, authenticationRealm: bytes | str) -> None:
        self.authenticationRealm = realmBytes(authenticationRealm)

    def getChallenge(self, request: Any) -> dict[str, bytes]:
        """The challenge's parameters: the realm, and charset=UTF-8 (RFC 7617 2.1)."""
        return {"realm": self.authenticationRealm, "charset": b"UTF-8"}

    def decode(self, response: bytes, request: Any) -> UsernamePassword:
        """The credentials in ``response`` (the header after ``Basic``).

        Raises:
            LoginFailed: not base64 of ``user:password``, too long, or with control
                characters (which RFC 7617 forbids in both).
        """
        token = response.strip(b" \t")
        if len(token) > MAX_CREDENTIALS:
            raise LoginFailed(f"Basic credentials over {MAX_CREDENTIALS} bytes")
        if len(token) % 4 or not _TOKEN68.match(token):
            raise LoginFailed("Basic credentials that are not base64")
        try:
            decoded = binascii.a2b_base64(token, strict_mode=True)
        except binascii.Error:
            raise LoginFailed("Basic credentials that are not base64") from None
        username, colon, password = decoded.partition(b":")
        if not colon:
            raise LoginFailed("Basic credentials without the ':' between user and password")
        if _CONTROL.search(decoded):
            raise LoginFailed("Basic credentials with a control character")
        return UsernamePassword(username, password)

    def __repr__(self) -> str:
        return f"<BasicCredentialFactory realm={self.authenticationRealm!r}>"
