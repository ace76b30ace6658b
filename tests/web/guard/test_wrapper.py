"""HTTPAuthSessionWrapper, driven in memory (tests/web/webtesting.MemorySite).

What each kind of request gets (401 with challenges, 400, 500, the avatar), that the
avatar answers for the rest of the path, that logout follows each response, and what
is logged.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.web.guard.digestclient import authorization, challengeParams
from tests.web.guard.helpers import RecordingRealm, Whoami, basic, memoryPortal
from tests.web.webtesting import MemorySite
from torsion.cred import checkers, portal
from torsion.cred.error import UnauthorizedLogin
from torsion.internet import defer
from torsion.internet.task import Clock
from torsion.logger import LogLevel, formatEvent
from torsion.web import resource
from torsion.web.guard import (
    BasicCredentialFactory,
    DigestCredentialFactory,
    HTTPAuthSessionWrapper,
)


def wrapped(realm: Any = None, factories: Any = None, *extra: Any) -> tuple[MemorySite, Any]:
    realm = realm or RecordingRealm()
    site = MemorySite(None)
    if factories is None:
        factories = [
            DigestCredentialFactory(b"sha256", "guarded", reactor=site.clock),
            BasicCredentialFactory("guarded"),
        ]
    site.site.resource = HTTPAuthSessionWrapper(memoryPortal(realm, *extra), factories)
    return site, realm


def auth(value: bytes) -> bytes:
    return b"Authorization: " + value + b"\r\n"


def guardLog(logged: list[Any]) -> list[str]:
    return [formatEvent(e) for e in logged if e.get("log_namespace") == "torsion.web.guard"]


def test_withoutCredentialsTheAnswerIs401WithAChallengePerFactory() -> None:
    site, realm = wrapped()
    response = site.get(b"/page")
    assert response.code == 401
    digest, basicChallenge = response.headers[b"www-authenticate"]
    params = challengeParams(digest)
    assert params["realm"] == b"guarded" and params["algorithm"] == b"SHA-256"
    assert params["qop"] == b"auth" and "stale" not in params
    assert basicChallenge == b'Basic realm="guarded", charset=UTF-8'
    assert b"Unauthorized" in response.body
    assert realm.logins == []


def test_aHeadRequestGetsThe401WithoutABody() -> None:
    site, _ = wrapped()
    response = site.request(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", [b"HEAD"])
    assert response.code == 401 and response.body == b""
    assert len(response.headers[b"www-authenticate"]) == 2


def test_basicCredentialsGetTheAvatarAndLogoutFollowsTheResponse() -> None:
    site, realm = wrapped()
    response = site.get(b"/a/b", auth(basic("alice", "s3cret")))
    assert response.code == 200
    assert json.loads(response.body) == {
        "user": "alice",
        "method": "GET",
        "prepath": [],
        "postpath": ["a", "b"],
    }
    assert realm.logins == [b"alice"] and realm.logouts == [b"alice"]


def test_nonAsciiBasicCredentialsAreUtf8() -> None:
    site, realm = wrapped()
    assert site.get(b"/", auth(basic("zoë", "pässwörd"))).code == 200
    assert realm.logins == ["zoë".encode()]


def test_aWrongPasswordIs401AndTheCheckerLogsIt(logged: list[Any]) -> None:
    site, realm = wrapped()
    response = site.get(b"/", auth(basic("alice", "guess")))
    assert response.code == 401
    assert len(response.headers[b"www-authenticate"]) == 2
    messages = [formatEvent(e) for e in logged]
    assert "Login failed for user 'alice': wrong password" in messages
    assert not any("guess" in repr(e) for e in logged)
    assert realm.logins == []


def test_digestCredentialsGetTheAvatar() -> None:
    site, realm = wrapped()
    challenge = challengeParams(site.get(b"/x?y=1").headers[b"www-authenticate"][0])
    header = authorization(challenge, "alice", "s3cret", b"/x?y=1")
    response = site.get(b"/x?y=1", auth(header))
    assert response.code == 200, response.body
    assert json.loads(response.body)["user"] == "alice"
    assert realm.logouts == [b"alice"]
    # The same nonce with the next count works too; the same count again does not.
    assert site.get(b"/x?y=1", auth(authorization(challenge, "alice", "s3cret", b"/x?y=1", nc=2)))
    assert site.get(b"/x?y=1", auth(header)).code == 401


def test_severalDigestFactoriesEachAnswerTheirOwnAlgorithm() -> None:
    site = MemorySite(None)
    factories = [
        DigestCredentialFactory(b"sha256", "r", reactor=site.clock),
        DigestCredentialFactory(b"md5", "r", reactor=site.clock),
    ]
    site.site.resource = HTTPAuthSessionWrapper(memoryPortal(), factories)
    sha, md5 = site.get(b"/").headers[b"www-authenticate"]
    for challenge in (sha, md5):
        header = authorization(challengeParams(challenge), "alice", "s3cret", b"/")
        assert site.get(b"/", auth(header)).code == 200


def test_aStaleNonceGetsStaleTrueOnItsOwnChallenge(logged: list[Any]) -> None:
    time = Clock()  # the factory's own, so that the connection does not time out
    site, _ = wrapped(
        None,
        [DigestCredentialFactory(b"sha256", "r", reactor=time), BasicCredentialFactory("r")],
    )
    challenge = challengeParams(site.get(b"/").headers[b"www-authenticate"][0])
    time.advance(DigestCredentialFactory.CHALLENGE_LIFETIME_SECS + 1)
    response = site.get(b"/", auth(authorization(challenge, "alice", "s3cret", b"/")))
    assert response.code == 401
    digest, basicChallenge = response.headers[b"www-authenticate"]
    assert challengeParams(digest)["stale"] == b"true"
    assert b"stale" not in basicChallenge
    assert any("expired nonce" in m for m in guardLog(logged))


def test_anonymousRequestsLogInAsAnonymousWhereThePortalAllows() -> None:
    site, realm = wrapped(None, None, checkers.AllowAnonymousAccess())
    response = site.get(b"/open")
    assert response.code == 200
    assert json.loads(response.body)["user"] is None
    assert realm.logins == [()]


@pytest.mark.parametrize(
    "header",
    [
        auth(basic("alice", "s3cret")) + auth(basic("alice", "s3cret")),
        auth(b"@@@ x"),
        auth(b"Basic\x01"),
    ],
)
def test_aHeaderThatIsNotSchemeAndCredentialsIs400(header: bytes) -> None:
    site, realm = wrapped()
    response = site.get(b"/", header)
    assert response.code == 400
    assert realm.logins == []


def test_anUnknownSchemeIs401AndLogged(logged: list[Any]) -> None:
    site, _ = wrapped()
    assert site.get(b"/", auth(b"Bearer abc.def")).code == 401
    assert guardLog(logged) == [
        "Refused Bearer credentials from 127.0.0.1: this resource does not take that scheme"
    ]


def test_undecodableCredentialsAre401WithTheReasonLogged(logged: list[Any]) -> None:
    site, _ = wrapped()
    assert site.get(b"/", auth(b"Basic !!!")).code == 401
    assert site.get(b"/", auth(b"Digest nonce=")).code == 401
    assert guardLog(logged) == [
        "Refused Basic credentials from 127.0.0.1: Basic credentials that are not base64",
        "Refused Digest credentials from 127.0.0.1: malformed Digest credentials: "
        "parameter 'nonce' has an empty value",
    ]


class BrokenChecker:
    credentialInterfaces = checkers.InMemoryUsernamePasswordDatabaseDontUse.credentialInterfaces

    def requestAvatarId(self, credentials: Any) -> Any:
        raise OSError("the user database is down")


def test_aCheckerErrorIs500AndLogged(logged: list[Any]) -> None:
    site = MemorySite(None)
    door = portal.Portal(RecordingRealm(), [BrokenChecker()])
    site.site.resource = HTTPAuthSessionWrapper(door, [BasicCredentialFactory("r")])
    response = site.get(b"/", auth(basic("alice", "s3cret")))
    assert response.code == 500
    assert b"database" not in response.body
    (failure,) = [e for e in logged if "log_failure" in e]
    assert failure["log_failure"].check(OSError)
    assert "s3cret" not in formatEvent(failure)


def test_aRealmGivingSomethingElseThanAResourceIs500(logged: list[Any]) -> None:
    site, _ = wrapped(RecordingRealm(avatar=object()))
    assert site.get(b"/", auth(basic("alice", "s3cret"))).code == 500
    assert any("not an IResource" in m for m in guardLog(logged))


def test_aFailingLogoutIsLoggedAndTheResponseStands(logged: list[Any]) -> None:
    realm = RecordingRealm()
    realm.requestAvatar = lambda avatarId, mind, *i: (  # type: ignore[method-assign]
        resource.IResource,
        Whoami(avatarId),
        lambda: 1 / 0,
    )
    site, _ = wrapped(realm)
    assert site.get(b"/", auth(basic("alice", "s3cret"))).code == 200
    (failure,) = [e for e in logged if "log_failure" in e]
    assert failure["log_failure"].check(ZeroDivisionError)
    assert failure["log_level"] is LogLevel.critical or failure["log_level"] >= LogLevel.error


def test_digestWithNoCheckerForItIs401AndWarnedOnce(logged: list[Any]) -> None:
    site = MemorySite(None)
    hashed = checkers.HashedPasswordChecker()
    factory = DigestCredentialFactory(b"md5", "r", reactor=site.clock)
    site.site.resource = HTTPAuthSessionWrapper(
        portal.Portal(RecordingRealm(), [hashed]), [factory]
    )
    for _ in range(2):
        challenge = challengeParams(site.get(b"/").headers[b"www-authenticate"][0])
        header = authorization(challenge, "alice", "s3cret", b"/")
        assert site.get(b"/", auth(header)).code == 401
    warnings = [m for m in guardLog(logged) if "reach no checker" in m]
    assert len(warnings) == 1
    assert warnings[0].startswith("DigestedCredentials credentials reach no checker: no checker")


class LaterChecker:
    credentialInterfaces = checkers.InMemoryUsernamePasswordDatabaseDontUse.credentialInterfaces

    def __init__(self) -> None:
        self.pending: list[defer.Deferred[Any]] = []

    def requestAvatarId(self, credentials: Any) -> defer.Deferred[Any]:
        d: defer.Deferred[Any] = defer.Deferred()
        self.pending.append(d)
        return d


def test_aClientThatLeavesDuringTheLoginStillGetsLoggedOut() -> None:
    site = MemorySite(None)
    later, realm = LaterChecker(), RecordingRealm()
    site.site.resource = HTTPAuthSessionWrapper(
        portal.Portal(realm, [later]), [BasicCredentialFactory("r")]
    )
    site.send(b"GET / HTTP/1.1\r\nHost: x\r\n" + auth(basic("alice", "s3cret")) + b"\r\n")
    site.channel.connectionLost(ConnectionError("gone"))
    later.pending[0].callback(b"alice")
    assert realm.logins == [b"alice"] and realm.logouts == [b"alice"]


def test_aSlowCheckerAnswersWhenItFires() -> None:
    site = MemorySite(None)
    later = LaterChecker()
    site.site.resource = HTTPAuthSessionWrapper(
        portal.Portal(RecordingRealm(), [later]), [BasicCredentialFactory("r")]
    )
    site.send(b"GET / HTTP/1.1\r\nHost: x\r\n" + auth(basic("alice", "s3cret")) + b"\r\n")
    assert site.transport.value() == b""
    later.pending[0].errback(UnauthorizedLogin())
    (response,) = site.responses()
    assert response.code == 401


def test_theWrapperBelowTheRootGuardsItsSubtree() -> None:
    site = MemorySite(None)
    root = resource.Resource()
    root.putChild(b"public", Whoami(None))
    root.putChild(b"private", HTTPAuthSessionWrapper(memoryPortal(), [BasicCredentialFactory("r")]))
    site.site.resource = root
    assert site.get(b"/public").code == 200
    assert site.get(b"/private/x").code == 401
    response = site.get(b"/private/x/y", auth(basic("alice", "s3cret")))
    assert json.loads(response.body)["prepath"] == ["private"]
    assert json.loads(response.body)["postpath"] == ["x", "y"]
    # /private itself: the wrapper renders, and the avatar answers with nothing left.
    assert site.get(b"/private", auth(basic("alice", "s3cret"))).code == 200


def test_theAvatarsChildrenAreReachedThroughIt() -> None:
    tree = resource.Resource()
    tree.putChild(b"docs", Whoami(b"someone"))
    site, _ = wrapped(RecordingRealm(avatar=tree))
    response = site.get(b"/docs/a", auth(basic("alice", "s3cret")))
    assert response.code == 200
    assert json.loads(response.body)["prepath"] == ["docs"]
    assert site.get(b"/nothing", auth(basic("alice", "s3cret"))).code == 404


def test_childrenGoOnTheAvatarNotTheWrapper() -> None:
    wrapper = HTTPAuthSessionWrapper(memoryPortal(), [])
    with pytest.raises(NotImplementedError, match="realm"):
        wrapper.putChild(b"x", Whoami(None))
