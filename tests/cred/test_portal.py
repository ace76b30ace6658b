"""torsion.cred.portal: Portal.login through checkers to a (fake) realm."""

from __future__ import annotations

from typing import Any

import pytest
from zope.interface import Interface, implementer

from tests.cred.helpers import Avatar, FakeRealm, IAvatar, IOther, result
from torsion.cred.checkers import (
    ANONYMOUS,
    AllowAnonymousAccess,
    InMemoryUsernamePasswordDatabaseDontUse,
)
from torsion.cred.credentials import Anonymous, IUsernamePassword, UsernamePassword
from torsion.cred.error import UnauthorizedLogin, UnhandledCredentials
from torsion.cred.portal import IRealm, Portal
from torsion.internet.defer import Deferred, succeed
from torsion.python.failure import Failure


def makePortal(realm: Any = None) -> Portal:
    return Portal(
        realm if realm is not None else FakeRealm(),
        [InMemoryUsernamePasswordDatabaseDontUse(alice="s3cret"), AllowAnonymousAccess()],
    )


def test_loginGivesTheRealmsAvatar() -> None:
    realm = FakeRealm()
    portal = makePortal(realm)
    mind = object()
    interface, avatar, logout = result(
        portal.login(UsernamePassword("alice", "s3cret"), mind, IOther, IAvatar)
    )
    assert interface is IAvatar
    assert isinstance(avatar, Avatar) and avatar.avatarId == b"alice" and avatar.mind is mind
    assert realm.requests == [(b"alice", mind, (IOther, IAvatar))]
    logout()
    assert avatar.loggedOut


def test_anonymousLogin() -> None:
    _, avatar, _ = result(makePortal().login(Anonymous(), None, IAvatar))
    assert avatar.avatarId == ANONYMOUS


def test_aRefusalNeverReachesTheRealm() -> None:
    realm = FakeRealm()
    failure = result(makePortal(realm).login(UsernamePassword("alice", "wrong"), None, IAvatar))
    assert isinstance(failure, Failure) and failure.check(UnauthorizedLogin)
    assert realm.requests == []


def test_credentialsNoCheckerHandles() -> None:
    portal = Portal(FakeRealm(), [AllowAnonymousAccess()])
    failure = result(portal.login(UsernamePassword("alice", "s3cret"), None, IAvatar))
    assert isinstance(failure, Failure) and failure.check(UnhandledCredentials)
    assert str(failure.value) == (
        "no checker handles UsernamePassword credentials (this portal checks: IAnonymous)"
    )
    assert isinstance(failure.value, UnauthorizedLogin)


def test_anEmptyPortalHandlesNothing() -> None:
    failure = result(Portal(FakeRealm()).login(Anonymous(), None, IAvatar))
    assert failure.check(UnhandledCredentials) and "checks: none" in str(failure.value)


def test_theRealmsRefusalOfAnInterfaceFailsTheLogin() -> None:
    failure = result(makePortal().login(Anonymous(), None, IOther))
    assert failure.check(NotImplementedError)


def test_aRealmMayAnswerLater() -> None:
    pending: Deferred[Any] = Deferred()

    @implementer(IRealm)
    class LaterRealm:
        def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Deferred[Any]:
            return pending

    d = makePortal(LaterRealm()).login(UsernamePassword("alice", "s3cret"), None, IAvatar)
    fired: list[Any] = []
    d.addBoth(fired.append)
    assert fired == []
    pending.callback((IAvatar, "later", lambda: None))
    assert fired[0][1] == "later"


def test_aRealmMayBeACoroutine() -> None:
    @implementer(IRealm)
    class AsyncRealm:
        async def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Any:
            return interfaces[0], f"async {avatarId!r}", lambda: None

    interface, avatar, _ = result(
        makePortal(AsyncRealm()).login(UsernamePassword("alice", "s3cret"), None, IAvatar)
    )
    assert (interface, avatar) == (IAvatar, "async b'alice'")


def test_aCheckerMayBeACoroutineOrRaise() -> None:
    class AsyncChecker:
        credentialInterfaces = (IUsernamePassword,)

        async def requestAvatarId(self, credentials: Any) -> bytes:
            if credentials.password != b"ok":
                raise UnauthorizedLogin()
            return b"async-" + credentials.username

    portal = Portal(FakeRealm(), [AsyncChecker()])
    _, avatar, _ = result(portal.login(UsernamePassword("zed", "ok"), None, IAvatar))
    assert avatar.avatarId == b"async-zed"
    assert result(portal.login(UsernamePassword("zed", "no"), None, IAvatar)).check(
        UnauthorizedLogin
    )


def test_aRealmThatReturnsTheWrongThing() -> None:
    @implementer(IRealm)
    class BrokenRealm:
        def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Any:
            return "an avatar"

    failure = result(makePortal(BrokenRealm()).login(Anonymous(), None, IAvatar))
    assert failure.check(TypeError)
    assert "must return (interface, avatar, logout)" in str(failure.value)


def test_registerCheckerForChosenInterfaces() -> None:
    class IToken(Interface):
        pass

    @implementer(IToken)
    class Token:
        pass

    class TokenChecker:
        def requestAvatarId(self, credentials: Any) -> Deferred[bytes]:
            return succeed(b"token-user")

    portal = Portal(FakeRealm())
    portal.registerChecker(TokenChecker(), IToken)
    assert portal.listCredentialsInterfaces() == [IToken]
    _, avatar, _ = result(portal.login(Token(), None, IAvatar))
    assert avatar.avatarId == b"token-user"


def test_aCheckerWithoutInterfacesIsRefused() -> None:
    with pytest.raises(TypeError, match="has no credentialInterfaces"):
        Portal(FakeRealm(), [object()])


def test_credentialsOfASubInterfaceFindTheChecker() -> None:
    class IStrongPassword(IUsernamePassword):
        pass

    @implementer(IStrongPassword)
    class Strong(UsernamePassword):
        pass

    _, avatar, _ = result(makePortal().login(Strong("alice", "s3cret"), None, IAvatar))
    assert avatar.avatarId == b"alice"


def test_listCredentialsInterfaces() -> None:
    assert set(makePortal().listCredentialsInterfaces()) == {
        IUsernamePassword,
        *InMemoryUsernamePasswordDatabaseDontUse.credentialInterfaces,
        *AllowAnonymousAccess.credentialInterfaces,
    }


def test_theErrorsHierarchy() -> None:
    from torsion.cred.error import LoginDenied, LoginFailed, Unauthorized

    assert issubclass(UnauthorizedLogin, LoginFailed) and issubclass(
        UnauthorizedLogin, Unauthorized
    )
    assert issubclass(UnhandledCredentials, LoginFailed)
    assert issubclass(UnhandledCredentials, UnauthorizedLogin)
    assert issubclass(LoginDenied, LoginFailed) and not issubclass(LoginDenied, UnauthorizedLogin)
    assert str(UnauthorizedLogin("custom")) == "custom"
