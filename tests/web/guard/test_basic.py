"""BasicCredentialFactory (RFC 7617): decoding the header, and its challenge."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torsion.cred.credentials import IUsernamePassword
from torsion.cred.error import LoginFailed
from torsion.web.guard import BasicCredentialFactory


def encoded(text: bytes) -> bytes:
    return base64.b64encode(text)


def test_userAndPasswordAreDecoded() -> None:
    factory = BasicCredentialFactory(b"realm")
    credentials = factory.decode(encoded(b"alice:s3:cr:et"), None)
    assert IUsernamePassword.providedBy(credentials)
    assert credentials.username == b"alice"
    assert credentials.password == b"s3:cr:et"


def test_utf8BytesReachTheCredentialsUnchanged() -> None:
    credentials = BasicCredentialFactory("réalm").decode(encoded("zoë:pässwörd".encode()), None)
    assert credentials.username == "zoë".encode()
    assert credentials.checkPassword("pässwörd")


def test_theChallengeNamesTheRealmAndUtf8() -> None:
    factory = BasicCredentialFactory("Zoë's files")
    assert factory.scheme == b"basic"
    assert factory.getChallenge(None) == {"realm": "Zoë's files".encode(), "charset": b"UTF-8"}


@pytest.mark.parametrize(
    ("response", "complaint"),
    [
        (b"", "not base64"),
        (b"!!!!", "not base64"),
        (b"YWxpY2U", "not base64"),  # missing padding
        (b"YWxp Y2U6eA==", "not base64"),
        (encoded(b"alice"), "':'"),
        (encoded(b"al\x00ice:pw"), "control character"),
        (encoded(b"alice:p\nw"), "control character"),
        (b"A" * 5000, "over"),
    ],
)
def test_malformedCredentialsFailToLogIn(response: bytes, complaint: str) -> None:
    with pytest.raises(LoginFailed, match=complaint):
        BasicCredentialFactory(b"realm").decode(response, None)


@settings(deadline=None)
@given(st.binary(max_size=200))
def test_anyHeaderDecodesOrRaisesLoginFailed(response: bytes) -> None:
    try:
        BasicCredentialFactory(b"realm").decode(response, None)
    except LoginFailed:
        pass


@pytest.mark.parametrize("realm", [b"", b"a\r\nb", "tab\there"])
def test_aRealmThatCannotGoInAHeaderIsRefused(realm: bytes | str) -> None:
    with pytest.raises(ValueError, match="realm"):
        BasicCredentialFactory(realm)
