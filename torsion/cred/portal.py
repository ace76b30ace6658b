"""The Portal: where credentials, checkers and a realm meet to give an avatar.

``Portal(realm, checkers).login(credentials, mind, IMyAvatar)`` finds the checker
registered for an interface the credentials provide, asks it for the avatar id, then
asks the realm for an avatar providing one of the interfaces the caller wants. The
result is ``(interface, avatar, logout)``: call ``logout()`` when the session ends.

Checkers and realms may return a value, a Deferred, or a coroutine (torsion accepts
``async def requestAvatar``).
Tests: tests/cred/test_portal.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from zope.interface import Interface

from torsion.cred.error import UnhandledCredentials
from torsion.internet.defer import Deferred, fail, maybeDeferred

__all__ = ["IRealm", "Portal"]


class IRealm(Interface):
    """Makes avatars: the objects through which an authenticated user acts."""

    def requestAvatar(avatarId: Any, mind: Any, *interfaces: Any) -> Any:
        """Return ``(interface, avatar, logout)`` or a Deferred (or coroutine) of it.

        Args:
            avatarId: what the checker returned (bytes, or checkers.ANONYMOUS).
            mind: the protocol's object for the client side (PB's client reference),
                or None.
            interfaces: those the caller can use, in its order of preference; the
                realm picks the first it supports and returns it as ``interface``.

        Raises:
            NotImplementedError: no interface asked for is supported (the login fails).
        """


class Portal:
    """Logs users in: credentials to a checker, the avatar id to the realm.

    Args:
        realm: the IRealm that makes avatars.
        checkers: ICredentialsChecker objects, each registered for its
            ``credentialInterfaces``.
    """

    def __init__(self, realm: Any, checkers: Iterable[Any] | None = ()) -> None:
        self.realm = realm
        self.checkers: dict[Any, Any] = {}
        for checker in checkers or ():
            self.registerChecker(checker)

    def listCredentialsInterfaces(self) -> list[Any]:
        """Return the credentials interfaces that some checker handles."""
        return list(self.checkers)

    def registerChecker(self, checker: Any, *credentialInterfaces: Any) -> None:
        """Use ``checker`` for ``credentialInterfaces`` (default: its own list).

        A later checker for the same interface replaces the earlier one.

        Raises:
            TypeError: the checker names no interface, so it could never be used.
        """
        interfaces = credentialInterfaces or tuple(getattr(checker, "credentialInterfaces", ()))
        if not interfaces:
            raise TypeError(
                f"{checker!r} has no credentialInterfaces; give the interfaces it checks "
                "to registerChecker"
            )
        for interface in interfaces:
            self.checkers[interface] = checker

    def login(self, credentials: Any, mind: Any, *interfaces: Any) -> Deferred[Any]:
        """Authenticate ``credentials`` and get an avatar providing one of ``interfaces``.

        Returns:
            A Deferred firing with ``(interface, avatar, logout)``; it fails with
            UnauthorizedLogin when the checker refuses, UnhandledCredentials when no
            checker handles these credentials, or the realm's error.
        """
        for interface, checker in self.checkers.items():
            if interface.providedBy(credentials):
                d = maybeDeferred(checker.requestAvatarId, credentials)
                return d.addCallback(self._requestAvatar, mind, interfaces)
        kinds = ", ".join(sorted(i.__name__ for i in self.checkers)) or "none"
        return fail(
            UnhandledCredentials(
                f"no checker handles {type(credentials).__name__} credentials (this portal "
                f"checks: {kinds})"
            )
        )

    def _requestAvatar(self, avatarId: Any, mind: Any, interfaces: tuple[Any, ...]) -> Any:
        return maybeDeferred(self.realm.requestAvatar, avatarId, mind, *interfaces).addCallback(
            _checkedAvatar, self.realm
        )

    def __repr__(self) -> str:
        return f"<Portal realm={self.realm!r} checkers={len(self.checkers)}>"


def _checkedAvatar(result: Any, realm: Any) -> tuple[Any, Any, Callable[[], object]]:
    if not (isinstance(result, tuple) and len(result) == 3 and callable(result[2])):
        raise TypeError(
            f"{realm!r}.requestAvatar returned {result!r}; it must return (interface, "
            "avatar, logout) with a callable logout"
        )
    return result
