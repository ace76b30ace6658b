"""Tests for logging in over PB through a cred Portal.

Twisted's challenge-response (``login``), anonymous logins, the client's mind, logout
when the avatar is dropped or the connection lost, and torsion's password login
(``sendPassword=True``), which the server accepts over TLS (or when told to) and which
works with checkers that keep only password hashes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from zope.interface import implementer

from tests.internet.reactormixins import REACTOR_FACTORIES, closeReactor, runUntilFired
from tests.spread.pbtesting import PBPair, resultOf
from torsion.cred import checkers, credentials, hashing, portal
from torsion.cred.error import UnauthorizedLogin
from torsion.internet import ssl
from torsion.internet.defer import Deferred
from torsion.spread import pb


class User(pb.Avatar):
    def __init__(self, avatarId: Any, mind: Any) -> None:
        self.avatarId = avatarId
        self.mind = mind

    def perspective_whoami(self) -> Any:
        return self.avatarId

    def perspective_askMind(self, value: int) -> Deferred[Any]:
        return self.mind.callRemote("double", value)


@implementer(portal.IRealm)
class Realm:
    def __init__(self) -> None:
        self.avatars: list[User] = []
        self.loggedOut: list[Any] = []

    def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Any:
        assert pb.IPerspective in interfaces
        avatar = User(avatarId, mind)
        self.avatars.append(avatar)
        return pb.IPerspective, avatar, lambda: self.loggedOut.append(avatarId)


class Mind(pb.Referenceable):
    def remote_double(self, value: int) -> int:
        return value * 2


def makePortal(realm: Realm, anonymous: bool = True) -> portal.Portal:
    found: list[Any] = [checkers.InMemoryUsernamePasswordDatabaseDontUse(alice=b"secret")]
    if anonymous:
        found.append(checkers.AllowAnonymousAccess())
    return portal.Portal(realm, found)


def login(pair: PBPair, creds: Any, mind: Any = None, **kw: Any) -> Deferred[Any]:
    d = pair.clientFactory.login(creds, mind, **kw)
    pair.flush()
    return d


def test_goodPasswordGivesTheAvatar() -> None:
    realm = Realm()
    pair = PBPair(makePortal(realm))
    avatar = resultOf(login(pair, credentials.UsernamePassword(b"alice", b"secret")))
    assert isinstance(avatar, pb.RemoteReference)
    assert pair.call(avatar, "whoami") == b"alice"


def test_strCredentialsWork() -> None:
    pair = PBPair(makePortal(Realm()))
    avatar = resultOf(login(pair, credentials.UsernamePassword("alice", "secret")))
    assert pair.call(avatar, "whoami") == b"alice"


@pytest.mark.parametrize(("username", "password"), [(b"alice", b"wrong"), (b"mallory", b"secret")])
def test_badLoginIsUnauthorizedLogin(username: bytes, password: bytes) -> None:
    realm = Realm()
    pair = PBPair(makePortal(realm))
    failures: list[Any] = []
    login(pair, credentials.UsernamePassword(username, password)).addErrback(failures.append)
    assert failures[0].check(UnauthorizedLogin)
    assert realm.avatars == []
    assert list(pair.server.localObjects) == [b"root"]


def test_anonymousLogin() -> None:
    pair = PBPair(makePortal(Realm()))
    avatar = resultOf(login(pair, credentials.Anonymous()))
    assert pair.call(avatar, "whoami") == ()


def test_anonymousRefusedWithoutAnAnonymousChecker() -> None:
    pair = PBPair(makePortal(Realm(), anonymous=False))
    failures: list[Any] = []
    login(pair, credentials.Anonymous()).addErrback(failures.append)
    assert failures[0].check(UnauthorizedLogin)


def test_theMindIsARemoteReferenceTheAvatarCalls() -> None:
    realm = Realm()
    pair = PBPair(makePortal(realm))
    avatar = resultOf(login(pair, credentials.UsernamePassword(b"alice", b"secret"), Mind()))
    assert isinstance(realm.avatars[0].mind, pb.RemoteReference)
    assert pair.call(avatar, "askMind", 21) == 42


def test_noMindIsNone() -> None:
    realm = Realm()
    pair = PBPair(makePortal(realm))
    resultOf(login(pair, credentials.UsernamePassword(b"alice", b"secret")))
    assert realm.avatars[0].mind is None


def test_logoutOnDisconnect() -> None:
    realm = Realm()
    pair = PBPair(makePortal(realm))
    resultOf(login(pair, credentials.UsernamePassword(b"alice", b"secret")))
    assert realm.loggedOut == []
    pair.disconnect()
    assert realm.loggedOut == [b"alice"]


def test_logoutWhenTheClientDropsTheAvatar() -> None:
    import gc

    realm = Realm()
    pair = PBPair(makePortal(realm))
    avatar = resultOf(login(pair, credentials.UsernamePassword(b"alice", b"secret")))
    del avatar
    gc.collect()
    pair.flush()
    assert realm.loggedOut == [b"alice"]
    pair.disconnect()
    assert realm.loggedOut == [b"alice"]
    assert pair.server._localCleanup == {}


def test_challengeAnswersOnlyOnce() -> None:
    pair = PBPair(makePortal(Realm()))
    root = pair.root()
    challenge, challenger = pair.call(root, "login", b"alice")
    assert len(challenge) == 16
    response = pb.respond(challenge, b"secret")
    pair.call(challenger, "respond", response, None)
    failure = pair.callFailure(challenger, "respond", response, None)
    assert failure.check(TypeError)


def test_respondIsTwistedsDigest() -> None:
    import hashlib

    expected = hashlib.md5(hashlib.md5(b"pw").digest() + b"challenge").digest()
    assert pb.respond(b"challenge", b"pw") == expected
    assert pb.challenge() != pb.challenge()


def test_passwordLoginRefusedWithoutTLS() -> None:
    realm = Realm()
    pair = PBPair(makePortal(realm))
    failures: list[Any] = []
    d = login(pair, credentials.UsernamePassword(b"alice", b"secret"), sendPassword=True)
    d.addErrback(failures.append)
    assert failures[0].check(UnauthorizedLogin)
    assert "TLS" in failures[0].getErrorMessage()
    assert realm.avatars == []


def test_passwordLoginWhenAllowedWithoutTLS() -> None:
    realm = Realm()
    factory = pb.PBServerFactory(makePortal(realm), allowPasswordWithoutTLS=True)
    pair = PBPair(None, serverFactory=factory)
    d = login(pair, credentials.UsernamePassword(b"alice", b"secret"), sendPassword=True)
    assert pair.call(resultOf(d), "whoami") == b"alice"
    failures: list[Any] = []
    d = login(pair, credentials.UsernamePassword(b"alice", b"nope"), sendPassword=True)
    d.addErrback(failures.append)
    assert failures[0].check(UnauthorizedLogin)


def test_challengeCannotCheckAHashOnlyChecker() -> None:
    realm = Realm()
    checker = checkers.HashedPasswordChecker(hasher=hashing.ScryptHasher(logN=4))
    checker.addUser(b"alice", b"secret")
    pair = PBPair(portal.Portal(realm, [checker]))
    failures: list[Any] = []
    login(pair, credentials.UsernamePassword(b"alice", b"secret")).addErrback(failures.append)
    assert failures[0].check(UnauthorizedLogin)


def test_portalIsNotARoot() -> None:
    with pytest.raises(TypeError, match="IPBRoot"):
        pb.PBServerFactory(object())


def test_hashedPasswordLoginOverTLS(tmp_path: Path) -> None:
    reactor = REACTOR_FACTORIES["select"]()
    # The checker verifies hashes in the reactor's thread pool, which only starts by
    # itself when the reactor runs; runUntilFired iterates it instead.
    reactor.getThreadPool().start()
    try:
        key = ssl.KeyPair.generate(ssl.TYPE_EC)
        cert = key.selfSignedCert(1, commonName="localhost")
        pemPath = tmp_path / "server.pem"
        pemPath.write_bytes(cert.dumpPEM())
        serverOptions = ssl.CertificateOptions(certificate=str(pemPath))
        clientOptions = ssl.optionsForClientTLS(
            "localhost", trustRoot=ssl.Certificate.loadPEM(cert.dump(ssl.FILETYPE_PEM))
        )
        realm = Realm()
        checker = checkers.HashedPasswordChecker(
            hasher=hashing.ScryptHasher(logN=4), reactor=reactor
        )
        checker.addUser(b"alice", b"secret")
        port = reactor.listenSSL(
            0,
            pb.PBServerFactory(portal.Portal(realm, [checker])),
            serverOptions,
            interface="127.0.0.1",
        )
        factory = pb.PBClientFactory()
        reactor.connectSSL("127.0.0.1", port.getHost().port, factory, clientOptions)
        good = credentials.UsernamePassword(b"alice", b"secret")
        avatar = runUntilFired(reactor, factory.login(good, Mind(), sendPassword=True))
        assert runUntilFired(reactor, avatar.callRemote("whoami")) == b"alice"
        assert runUntilFired(reactor, avatar.callRemote("askMind", 5)) == 10
        bad = credentials.UsernamePassword(b"alice", b"guess")
        with pytest.raises(pb.RemoteError):
            runUntilFired(reactor, factory.login(bad, None, sendPassword=True))
        factory.disconnect()
        runUntilFired(reactor, port.stopListening() or Deferred.fromCoroutine(_nothing()))
    finally:
        closeReactor(reactor)


async def _nothing() -> None:
    return None
