"""Digest authentication: DigestedCredentials (torsion.cred) and DigestCredentialFactory.

The arithmetic is checked against RFC 7616's own examples; the factory's nonces
(expiry, replay, memory bound) with a task.Clock and requests in memory.
"""

from __future__ import annotations

import hashlib
import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.web.guard.digestclient import authorization
from torsion.cred import checkers, hashing
from torsion.cred.credentials import (
    DigestedCredentials,
    IUsernameDigestHash,
    IUsernameHashedPassword,
)
from torsion.cred.error import LoginFailed, UnauthorizedLogin
from torsion.internet.task import Clock
from torsion.web.guard import DigestCredentialFactory, StaleNonce

RFC_FIELDS = {
    "nonce": b"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    "uri": b"/dir/index.html",
    "qop": b"auth",
    "nc": b"00000001",
    "cnonce": b"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
}
RFC_REALM = b"http-auth@example.org"
RFC_RESPONSES = {
    b"MD5": b"8ca523f5e9506fed4657c9700eebdbec",
    b"SHA-256": b"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
}


class FakeRequest:
    def __init__(self, uri: bytes = b"/dir/index.html", method: bytes = b"GET") -> None:
        self.uri = uri
        self.method = method


def rfcCredentials(
    algorithm: bytes, changed: dict[str, bytes] | None = None
) -> DigestedCredentials:
    fields = {**RFC_FIELDS, "algorithm": algorithm, "response": RFC_RESPONSES[algorithm]}
    fields.update(changed or {})
    return DigestedCredentials("Mufasa", b"GET", RFC_REALM, fields)


# -- DigestedCredentials ------------------------------------------------------------


@pytest.mark.parametrize("algorithm", sorted(RFC_RESPONSES))
def test_theRfcExamplesCheckWithTheirPassword(algorithm: bytes) -> None:
    credentials = rfcCredentials(algorithm)
    assert IUsernameHashedPassword.providedBy(credentials)
    assert IUsernameDigestHash.providedBy(credentials)
    assert credentials.checkPassword("Circle of Life")
    assert not credentials.checkPassword("Circle of life")


@pytest.mark.parametrize(("algorithm", "name"), [(b"MD5", "md5"), (b"SHA-256", "sha256")])
def test_theRfcExamplesCheckWithTheStoredDigestHash(algorithm: bytes, name: str) -> None:
    stored = hashlib.new(name, b"Mufasa:" + RFC_REALM + b":Circle of Life").hexdigest()
    credentials = rfcCredentials(algorithm)
    assert credentials.checkHash(stored)
    assert credentials.checkHash(stored.upper().encode())
    assert not credentials.checkHash(hashlib.new(name, b"other").hexdigest())


@pytest.mark.parametrize(
    "changed",
    [
        {"uri": b"/dir/other.html"},
        {"nonce": b"x" + RFC_FIELDS["nonce"]},
        {"nc": b"00000002"},
        {"qop": b"auth-int"},
        {"algorithm": b"SHA-512"},
    ],
)
def test_anyChangedFieldFailsTheCheck(changed: dict[str, bytes]) -> None:
    assert not rfcCredentials(b"SHA-256", changed).checkPassword("Circle of Life")


def test_missingFieldsFailTheCheckRatherThanRaise() -> None:
    for name in ("response", "nonce", "uri", "cnonce", "nc"):
        fields = {**RFC_FIELDS, "algorithm": b"MD5", "response": RFC_RESPONSES[b"MD5"]}
        del fields[name]
        assert not DigestedCredentials("Mufasa", b"GET", RFC_REALM, fields).checkPassword(
            "Circle of Life"
        )


def test_rfc2069ResponsesWithoutQopAreComputedTheOldWay() -> None:
    H = lambda data: hashlib.md5(data).hexdigest().encode()  # noqa: E731
    HA1 = H(b"Mufasa:" + RFC_REALM + b":Circle of Life")
    HA2 = H(b"GET:/dir/index.html")
    fields = {"nonce": b"n", "uri": b"/dir/index.html", "response": H(HA1 + b":n:" + HA2)}
    assert DigestedCredentials("Mufasa", b"GET", RFC_REALM, fields).checkPassword("Circle of Life")


def test_sessAlgorithmsCoverTheNonces() -> None:
    factory = DigestCredentialFactory(b"sha256-sess", "realm", reactor=Clock())
    challenge = factory.getChallenge(None)
    assert challenge["algorithm"] == b"SHA-256-sess"
    header = authorization(challenge, "alice", "pw", b"/")
    credentials = factory.decode(header[7:], FakeRequest(b"/"))
    assert credentials.checkPassword("pw")
    assert not credentials.checkPassword("pW")


def test_theReprShowsNoResponse() -> None:
    text = repr(rfcCredentials(b"MD5"))
    assert "Mufasa" in text and RFC_RESPONSES[b"MD5"].decode() not in text


# -- checkers -------------------------------------------------------------------------


def digested(factory: DigestCredentialFactory, username: str, password: str) -> Any:
    header = authorization(factory.getChallenge(None), username, password, b"/x")
    return factory.decode(header[7:], FakeRequest(b"/x"))


def test_theInMemoryCheckerChecksDigestedCredentials() -> None:
    users = checkers.InMemoryUsernamePasswordDatabaseDontUse(alice="s3cret")
    factory = DigestCredentialFactory(b"sha256", "realm", reactor=Clock())
    d = users.requestAvatarId(digested(factory, "alice", "s3cret"))
    assert d.result == b"alice"
    refused = users.requestAvatarId(digested(factory, "alice", "guess"))
    assert refused.result.check(UnauthorizedLogin)
    refused.addErrback(lambda _: None)


def test_aPasswordFileInTheClearChecksDigest(tmp_path: Any) -> None:
    path = tmp_path / "passwd"
    path.write_text("alice:s3cret\n")
    users = checkers.FilePasswordDB(path)
    factory = DigestCredentialFactory(b"md5", "realm", reactor=Clock())
    assert users.requestAvatarId(digested(factory, "alice", "s3cret")).result == b"alice"


def test_aHashedPasswordFileRefusesDigestAndSaysWhy(tmp_path: Any, logged: list[Any]) -> None:
    from torsion.logger import formatEvent

    path = tmp_path / "passwd"
    path.write_text(f"alice:{hashing.hashPassword('s3cret', hashing.ScryptHasher(logN=10))}\n")
    users = checkers.FilePasswordDB(path)
    factory = DigestCredentialFactory(b"sha256", "realm", reactor=Clock())
    d = users.requestAvatarId(digested(factory, "alice", "s3cret"))
    assert d.result.check(UnauthorizedLogin)
    d.addErrback(lambda _: None)
    (message,) = [
        formatEvent(e) for e in logged if e.get("log_namespace") == "torsion.cred.checkers"
    ]
    assert "HTTP Digest cannot be checked against the hash stored for it" in message
    assert f"{path}:1" in message and "Basic" in message and "s3cret" not in message


# -- DigestCredentialFactory ------------------------------------------------------


def test_theChallengeAsksForQopAuthWithAFreshNonce() -> None:
    factory = DigestCredentialFactory(b"sha256", b"my realm", reactor=Clock())
    first, second = factory.getChallenge(None), factory.getChallenge(None)
    assert factory.scheme == b"digest"
    assert first["realm"] == b"my realm"
    assert first["qop"] == b"auth"
    assert first["algorithm"] == b"SHA-256"
    assert first["nonce"] != second["nonce"]
    assert len(first["nonce"]) >= 32 and first["opaque"]


@pytest.mark.parametrize(
    ("name", "token"),
    [(b"md5", b"MD5"), ("SHA-256", b"SHA-256"), (b"sha512-256", b"SHA-512-256"), (b"sha", b"SHA")],
)
def test_algorithmNamesAreTwistedsOrTheRfcs(name: bytes | str, token: bytes) -> None:
    factory = DigestCredentialFactory(name, "realm", reactor=Clock())
    assert factory.algorithm == token
    challenge = factory.getChallenge(None)
    credentials = factory.decode(authorization(challenge, "u", "p", b"/")[7:], FakeRequest(b"/"))
    assert credentials.checkPassword("p")


def test_anUnknownAlgorithmIsRefusedWithTheKnownOnes() -> None:
    with pytest.raises(ValueError, match="md5, sha256"):
        DigestCredentialFactory(b"sha1024", "realm")


def test_aGoodResponseDecodesToCredentialsForTheRequest() -> None:
    factory = DigestCredentialFactory(b"sha256", "realm", reactor=Clock())
    header = authorization(factory.getChallenge(None), "alice", "pw", b"/a?b=c", b"POST")
    credentials = factory.decode(header[7:], FakeRequest(b"/a?b=c", b"POST"))
    assert credentials.username == b"alice"
    assert credentials.method == b"POST"
    assert credentials.checkPassword("pw")


def test_aUtf8UsernameStarIsDecoded() -> None:
    factory = DigestCredentialFactory(b"sha256", "realm", reactor=Clock())
    challenge = factory.getChallenge(None)
    header = authorization(challenge, "zoë", "pw", b"/")
    header = header.replace(b'username="zo\xc3\xab"', b"username*=UTF-8''zo%C3%AB")
    credentials = factory.decode(header[7:], FakeRequest(b"/"))
    assert credentials.username == "zoë".encode()
    assert credentials.checkPassword("pw")


def refusal(factory: DigestCredentialFactory, header: bytes, uri: bytes = b"/") -> LoginFailed:
    with pytest.raises(LoginFailed) as caught:
        factory.decode(header[7:], FakeRequest(uri))
    return caught.value


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"realm": b"other"}, "another realm"),
        ({"algorithm": b"MD5"}, "algorithm MD5"),
        ({"qop": b"auth-int"}, "qop=auth"),
        ({"nc": b"1"}, "nonce count"),
        ({"nc": b"00000000"}, "nonce count"),
        ({"cnonce": b""}, "cnonce"),
        ({"response": b"abc"}, "not a digest"),
        ({"response": b"g" * 64}, "not a digest"),
        ({"opaque": b"forged"}, "opaque"),
        ({"userhash": b"true"}, "userhash"),
        ({"uri": b"/elsewhere"}, "another URI"),
        ({"username*": b"UTF-8''x"}, "both username and username"),
    ],
)
def test_aResponseThatDoesNotFitTheChallengeIsRefused(
    override: dict[str, bytes], complaint: str
) -> None:
    factory = DigestCredentialFactory(b"sha256", "realm", reactor=Clock())
    header = authorization(factory.getChallenge(None), "alice", "pw", b"/", override=override)
    assert complaint in str(refusal(factory, header))


@pytest.mark.parametrize("missing", ["username", "realm", "nonce", "uri", "response", "qop", "nc"])
def test_aResponseWithoutARequiredFieldIsRefused(missing: str) -> None:
    factory = DigestCredentialFactory(b"md5", "realm", reactor=Clock())
    challenge = factory.getChallenge(None)
    header = authorization(challenge, "alice", "pw", b"/")
    fields = [p for p in header[7:].split(b", ") if not p.startswith(missing.encode() + b"=")]
    assert not isinstance(refusal(factory, b"Digest " + b", ".join(fields)), StaleNonce)


def test_aReplayedNonceCountIsRefused() -> None:
    factory = DigestCredentialFactory(b"sha256", "realm", reactor=Clock())
    header = authorization(factory.getChallenge(None), "alice", "pw", b"/")
    factory.decode(header[7:], FakeRequest(b"/"))
    assert "replayed" in str(refusal(factory, header))


def test_countsMayArriveOutOfOrderWithinTheWindow() -> None:
    factory = DigestCredentialFactory(b"md5", "realm", reactor=Clock())
    challenge = factory.getChallenge(None)
    for count in (1, 5, 3, 2, 70, 40):
        factory.decode(authorization(challenge, "a", "p", b"/", nc=count)[7:], FakeRequest(b"/"))
    for count in (3, 5, 70):
        assert "replayed" in str(
            refusal(factory, authorization(challenge, "a", "p", b"/", nc=count))
        )
    # More than the window (64) behind the highest count: too old to tell, refused.
    assert "replayed" in str(refusal(factory, authorization(challenge, "a", "p", b"/", nc=4)))


def test_anExpiredNonceIsStale() -> None:
    clock = Clock()
    factory = DigestCredentialFactory(b"sha256", "realm", reactor=clock)
    challenge = factory.getChallenge(None)
    clock.advance(factory.CHALLENGE_LIFETIME_SECS - 1)
    factory.decode(authorization(challenge, "a", "p", b"/", nc=1)[7:], FakeRequest(b"/"))
    clock.advance(1)
    stale = refusal(factory, authorization(challenge, "a", "p", b"/", nc=2))
    assert isinstance(stale, StaleNonce)
    assert stale.challengeExtras == {"stale": b"true"}


def test_anUnknownNonceIsStaleSoTheClientRetries() -> None:
    factory = DigestCredentialFactory(b"sha256", "realm", reactor=Clock())
    challenge = dict(factory.getChallenge(None), nonce=b"never-issued")
    assert isinstance(refusal(factory, authorization(challenge, "a", "p", b"/")), StaleNonce)


def test_theNonceMemoryIsBoundedOldestFirst() -> None:
    factory = DigestCredentialFactory(b"md5", "realm", reactor=Clock(), maxNonces=3)
    challenges = [factory.getChallenge(None) for _ in range(5)]
    assert len(factory._nonces) == 3
    assert isinstance(refusal(factory, authorization(challenges[0], "a", "p", b"/")), StaleNonce)
    factory.decode(authorization(challenges[4], "a", "p", b"/")[7:], FakeRequest(b"/"))


def test_expiredNoncesAreForgottenWhenNewOnesAreIssued() -> None:
    clock = Clock()
    factory = DigestCredentialFactory(b"md5", "realm", reactor=clock)
    for _ in range(10):
        factory.getChallenge(None)
    clock.advance(factory.CHALLENGE_LIFETIME_SECS + 1)
    factory.getChallenge(None)
    assert len(factory._nonces) == 1


def test_aPickledFactoryStartsWithNewNoncesAndKey() -> None:
    factory = DigestCredentialFactory(b"sha256", "realm")
    challenge = factory.getChallenge(None)
    loaded = pickle.loads(pickle.dumps(factory))
    assert loaded.algorithm == b"SHA-256" and loaded.authenticationRealm == b"realm"
    assert isinstance(refusal(loaded, authorization(challenge, "a", "p", b"/")), StaleNonce)
    fresh = loaded.getChallenge(None)
    loaded.decode(authorization(fresh, "a", "p", b"/")[7:], FakeRequest(b"/"))


def test_maxNoncesMustBePositive() -> None:
    with pytest.raises(ValueError, match="maxNonces"):
        DigestCredentialFactory(b"md5", "realm", maxNonces=0)


@settings(deadline=None)
@given(st.binary(max_size=400))
def test_anyHeaderDecodesOrRaisesLoginFailed(response: bytes) -> None:
    factory = DigestCredentialFactory(b"md5", "realm", reactor=Clock())
    try:
        factory.decode(response, FakeRequest(b"/"))
    except LoginFailed:
        pass
