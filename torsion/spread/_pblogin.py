"""Logging in over PB: a cred Portal as the root, avatars, and the client's side of it.

The server's root for a Portal offers three calls. Twisted's two: ``login(username)``
answers ``(challenge, challenger)`` and the client calls ``challenger.respond(
respond(challenge, password), mind)`` (MD5 of MD5(password) + challenge: the
password never travels, but the server must know it, or its MD5);
``loginAnonymous(mind)``. And torsion's ``loginWithPassword(username, password, mind)``,
which sends the password itself so that any checker, including those that keep only
argon2/scrypt/bcrypt hashes, can verify it; the server accepts it only over TLS unless
the factory says ``allowPasswordWithoutTLS``. Each answers a reference to the avatar
(wrapped so that its ``perspective_`` methods are what the client calls); the realm's
logout runs when the client drops that reference or disconnects.

Public names are re-exported by torsion.spread.pb. Tests: tests/spread/test_pb_login.py.
"""

from __future__ import annotations

import hmac
import os
from hashlib import md5
from typing import Any

from zope.interface import implementer

from torsion.cred.credentials import IUsernameHashedPassword, IUsernameMD5Password
from torsion.spread.flavors import Referenceable, _lookup
from torsion.spread.interfaces import IJellyable, IPBRoot, IPerspective

__all__ = ["AsReferenceable", "Avatar", "challenge", "clientLogin", "respond"]


def respond(challenge: bytes, password: bytes) -> bytes:
    """Answer a PB login challenge: MD5(MD5(password) + challenge), as Twisted computes it."""
    return md5(md5(password).digest() + challenge).digest()


def challenge() -> bytes:
    """Return a new random 16-byte login challenge."""
    return os.urandom(16)


@implementer(IPerspective)
class Avatar:
    """A base class for avatars served over PB: the client calls its ``perspective_`` methods.

    Values returned are sent with this avatar as the perspective, so a Viewable
    returned from a ``perspective_`` method calls ``view_`` methods with this avatar.
    """

    def perspectiveMessageReceived(self, broker: Any, message: bytes, args: Any, kw: Any) -> Any:
        """Run ``perspective_<message>`` with the jellied arguments."""
        method = _lookup(self, "perspective_", message)
        args = broker.unserialize(args, self)
        kw = broker.unserialize(kw, self)
        return broker.serialize(method(*args, **kw), self)


Avatar.__module__ = "torsion.spread.pb"


class AsReferenceable(Referenceable):
    """Make ``object`` callable over PB through its ``<messageType>MessageReceived`` method."""

    def __init__(self, object: Any, messageType: str = "remote") -> None:
        self.remoteMessageReceived = getattr(object, messageType + "MessageReceived")  # type: ignore[method-assign]


AsReferenceable.__module__ = "torsion.spread.pb"


@implementer(IPBRoot)
class _PortalRoot:
    """The root object of a PB server that serves a Portal."""

    def __init__(self, portal: Any) -> None:
        self.portal = portal

    def rootObject(self, broker: Any) -> _PortalWrapper:
        return _PortalWrapper(self.portal, broker)


class _AvatarLender:
    """Turns a realm's (interface, avatar, logout) into the reference the client gets."""

    portal: Any
    broker: Any

    def _cbLogin(self, result: Any) -> Any:
        _interface, avatar, logout = result
        if not IJellyable.providedBy(avatar):
            avatar = AsReferenceable(avatar, "perspective")
        broker = self.broker
        done: list[bool] = []

        def maybeLogout() -> None:
            if not done:
                done.append(True)
                logout()

        broker._localCleanup[avatar.processUniqueID()] = maybeLogout
        broker.notifyOnDisconnect(maybeLogout)
        return avatar


class _PortalWrapper(Referenceable, _AvatarLender):
    """The root a client logs in through."""

    def __init__(self, portal: Any, broker: Any) -> None:
        self.portal = portal
        self.broker = broker

    def remote_login(self, username: bytes) -> tuple[bytes, _PortalAuthChallenger]:
        if not isinstance(username, bytes):
            raise TypeError("a PB login's username is bytes")
        c = challenge()
        return c, _PortalAuthChallenger(self.portal, self.broker, username, c)

    def remote_loginAnonymous(self, mind: Any) -> Any:
        from torsion.cred.credentials import Anonymous

        return self.portal.login(Anonymous(), mind, IPerspective).addCallback(self._cbLogin)

    def remote_loginWithPassword(self, username: bytes, password: bytes, mind: Any) -> Any:
        from torsion.cred.credentials import UsernamePassword
        from torsion.cred.error import UnauthorizedLogin
        from torsion.internet.interfaces import ISSLTransport

        if not isinstance(username, bytes) or not isinstance(password, bytes):
            raise TypeError("a PB password login's username and password are bytes")
        factory = self.broker.factory
        allowed = getattr(factory, "allowPasswordWithoutTLS", False)
        if not allowed and not ISSLTransport.providedBy(self.broker.transport):
            raise UnauthorizedLogin(
                "this server takes passwords only over TLS: connect with TLS (ssl: "
                "endpoints) or log in with the challenge (sendPassword=False)"
            )
        credentials = UsernamePassword(username, password)
        return self.portal.login(credentials, mind, IPerspective).addCallback(self._cbLogin)


@implementer(IUsernameHashedPassword, IUsernameMD5Password)
class _PortalAuthChallenger(Referenceable, _AvatarLender):
    """One login attempt's challenge: the credentials a checker verifies."""

    def __init__(self, portal: Any, broker: Any, username: bytes, challenge: bytes) -> None:
        self.portal = portal
        self.broker = broker
        self.username = username
        self.challenge = challenge
        self.response: bytes | None = None

    def remote_respond(self, response: bytes, mind: Any) -> Any:
        if self.response is not None:
            raise TypeError("this login challenge was already answered; ask for a new one")
        if not isinstance(response, bytes):
            raise TypeError("a PB login response is bytes")
        self.response = response
        return self.portal.login(self, mind, IPerspective).addCallback(self._cbLogin)

    def checkPassword(self, password: bytes) -> bool:
        """Whether the response answers the challenge for ``password`` (constant time)."""
        if isinstance(password, str):
            password = password.encode()
        assert self.response is not None
        return hmac.compare_digest(respond(self.challenge, password), self.response)

    def checkMD5Password(self, md5Password: bytes) -> bool:
        """Whether the response answers the challenge for a password whose MD5 is given."""
        assert self.response is not None
        return hmac.compare_digest(md5(md5Password + self.challenge).digest(), self.response)


def clientLogin(root: Any, credentials: Any, client: Any, sendPassword: bool) -> Any:
    """The client's half of a login, once it has the root (see PBClientFactory.login)."""
    from torsion.cred.credentials import IAnonymous

    if IAnonymous.providedBy(credentials):
        return root.callRemote("loginAnonymous", client)
    username = credentials.username
    password = credentials.password
    if isinstance(username, str):
        username = username.encode()
    if isinstance(password, str):
        password = password.encode()
    if sendPassword:
        return root.callRemote("loginWithPassword", username, password, client)

    def answer(challenged: Any) -> Any:
        challengeBytes, challenger = challenged
        return challenger.callRemote("respond", respond(challengeBytes, password), client)

    return root.callRemote("login", username).addCallback(answer)
