"""Helpers of the torsion.cred tests: cheap hashers, a realm that records what it was
asked, running a reactor until a Deferred fires, and looking into log events."""

from __future__ import annotations

import json
from typing import Any

from zope.interface import Interface, implementer

from tests.internet.reactormixins import runUntil
from torsion.cred import hashing
from torsion.cred.portal import IRealm
from torsion.internet.defer import Deferred
from torsion.logger import formatEvent

# Each scheme at its cheapest, so that a test's hash takes milliseconds.
FAST_HASHERS: dict[str, hashing.PasswordHasher] = {
    "argon2id": hashing.Argon2idHasher(memoryCost=64, iterations=1, lanes=1),
    "scrypt": hashing.ScryptHasher(logN=4, r=8, p=1),
    "bcrypt": hashing.BcryptHasher(rounds=4),
}


class IAvatar(Interface):
    """What the tests' realm makes."""


class IOther(Interface):
    """An interface the tests' realm does not make."""


@implementer(IAvatar)
class Avatar:
    def __init__(self, avatarId: Any, mind: Any) -> None:
        self.avatarId = avatarId
        self.mind = mind
        self.loggedOut = False

    def logout(self) -> None:
        self.loggedOut = True


@implementer(IRealm)
class FakeRealm:
    """Makes an Avatar for IAvatar; records each request."""

    def __init__(self) -> None:
        self.requests: list[tuple[Any, Any, tuple[Any, ...]]] = []
        self.avatars: list[Avatar] = []

    def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Any:
        self.requests.append((avatarId, mind, interfaces))
        if IAvatar not in interfaces:
            raise NotImplementedError("this realm makes only IAvatar avatars")
        avatar = Avatar(avatarId, mind)
        self.avatars.append(avatar)
        return IAvatar, avatar, avatar.logout


def outcome(reactor: Any, d: Deferred[Any], timeout: float = 10.0) -> Any:
    """Run ``reactor`` until ``d`` fires; return its result or its Failure (not raised)."""
    results: list[Any] = []
    d.addBoth(results.append)
    runUntil(reactor, lambda: results, timeout)
    return results[0]


def result(d: Deferred[Any]) -> Any:
    """The result (or Failure) a Deferred already has, without running a reactor."""
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, f"{d!r} has not fired"
    return results[0]


def credEvents(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events logged by torsion.cred's checkers."""
    return [e for e in events if str(e.get("log_namespace", "")).startswith("torsion.cred")]


def assertSecretAbsent(events: list[dict[str, Any]], secret: str) -> None:
    """Fail if ``secret`` shows in any event: its message, its fields, or their reprs."""
    for event in events:
        texts = [formatEvent(event), repr(event)]
        texts.append(json.dumps({k: repr(v) for k, v in event.items()}))
        for text in texts:
            assert secret not in text, f"the password is in a log event: {text}"


def refusals(events: list[dict[str, Any]]) -> list[str]:
    """The messages of the failed-login events."""
    return [
        formatEvent(e)
        for e in credEvents(events)
        if e.get("log_format", "").startswith("Login failed")
    ]


__all__ = [
    "FAST_HASHERS",
    "Avatar",
    "FakeRealm",
    "IAvatar",
    "IOther",
    "assertSecretAbsent",
    "credEvents",
    "outcome",
    "refusals",
    "result",
]
