"""torsion.cred.credentials: the credentials classes, their interfaces and comparisons."""

from __future__ import annotations

import hmac
from typing import Any

import pytest
from zope.interface.verify import verifyObject

from torsion.cred import credentials
from torsion.cred.credentials import (
    Anonymous,
    CramMD5Credentials,
    IAnonymous,
    ISSHPrivateKey,
    IUsernameHashedPassword,
    IUsernamePassword,
    SSHPrivateKey,
    UsernameHashedPassword,
    UsernamePassword,
)


def test_usernamePasswordTakesBytesOrText() -> None:
    assert UsernamePassword(b"alice", b"s3cret").username == b"alice"
    text = UsernamePassword("zoë", "pässword")
    assert (text.username, text.password) == ("zoë".encode(), "pässword".encode())


def test_usernamePasswordRefusesOtherTypes() -> None:
    with pytest.raises(TypeError, match="password must be bytes or str, not int"):
        UsernamePassword("alice", 1234)  # type: ignore[arg-type]


def test_usernamePasswordChecksThePassword() -> None:
    creds = UsernamePassword("alice", "s3cret")
    assert verifyObject(IUsernamePassword, creds)
    assert creds.checkPassword(b"s3cret")
    assert creds.checkPassword("s3cret")
    assert not creds.checkPassword(b"s3cre")
    assert not creds.checkPassword(b"s3crett")
    assert not creds.checkPassword(b"")


def test_comparisonsAreConstantTime(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, Any]] = []
    original = hmac.compare_digest

    def recording(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(credentials.hmac, "compare_digest", recording)
    assert UsernamePassword("alice", "one").checkPassword("one")
    assert not UsernameHashedPassword("alice", "d1gest").checkPassword("other")
    assert calls == [(b"one", b"one"), (b"d1gest", b"other")]


def test_reprNeverShowsThePassword() -> None:
    for creds in (
        UsernamePassword("alice", "hunter2"),
        UsernameHashedPassword("alice", "hunter2"),
    ):
        assert "hunter2" not in repr(creds)
        assert "alice" in repr(creds)


def test_usernameHashedPasswordComparesTheStoredForm() -> None:
    creds = UsernameHashedPassword(b"bob", b"5f4dcc3b")
    assert verifyObject(IUsernameHashedPassword, creds)
    assert creds.checkPassword(b"5f4dcc3b")
    assert not creds.checkPassword(b"password")


def test_anonymous() -> None:
    assert verifyObject(IAnonymous, Anonymous())
    assert not IUsernamePassword.providedBy(Anonymous())


def test_sshPrivateKey() -> None:
    key = SSHPrivateKey("alice", "ssh-ed25519", b"blob", b"data", None)
    assert verifyObject(ISSHPrivateKey, key)
    assert (key.username, key.algName, key.blob, key.sigData, key.signature) == (
        b"alice",
        b"ssh-ed25519",
        b"blob",
        b"data",
        None,
    )


def test_cramMD5AcceptsTheRightResponse() -> None:
    creds = CramMD5Credentials("mail.example.com")
    challenge = creds.getChallenge()
    assert challenge.startswith(b"<") and challenge.endswith(b"@mail.example.com>")
    assert creds.getChallenge() == challenge
    assert not creds.moreChallenges()
    digest = hmac.new(b"tanstaaftanstaaf", challenge, "md5").hexdigest()
    creds.setResponse(f"tim {digest}")
    assert creds.username == b"tim"
    assert verifyObject(IUsernameHashedPassword, creds)
    assert creds.checkPassword(b"tanstaaftanstaaf")
    assert not creds.checkPassword(b"tanstaaf")


def test_cramMD5ChallengesDiffer() -> None:
    assert CramMD5Credentials().getChallenge() != CramMD5Credentials().getChallenge()


def test_cramMD5RFC2195Example() -> None:
    # The example exchange of RFC 2195, section 2.
    creds = CramMD5Credentials()
    creds.challenge = b"<1896.697170952@postoffice.reston.mci.net>"
    creds.setResponse(b"tim b913a602c7eda7a495b4e6e7334d3890")
    assert creds.checkPassword(b"tanstaaftanstaaf")


def test_cramMD5RefusesAMalformedResponse() -> None:
    creds = CramMD5Credentials()
    creds.getChallenge()
    with pytest.raises(ValueError, match="user name, a space and the digest"):
        creds.setResponse(b"justonefield")
    assert not creds.checkPassword(b"anything")


def test_cramMD5WithoutChallengeFails() -> None:
    creds = CramMD5Credentials()
    creds.setResponse(b"tim 00")
    assert not creds.checkPassword(b"x")
