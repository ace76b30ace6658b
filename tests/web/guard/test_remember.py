"""RememberingChecker (torsion/web/_auth/remember.py): good logins remembered, with a Clock."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from torsion.cred import checkers
from torsion.cred.credentials import UsernamePassword
from torsion.cred.error import UnauthorizedLogin
from torsion.internet.defer import Deferred
from torsion.internet.task import Clock
from torsion.web._auth.remember import RememberingChecker


class Counting:
    """An in-memory checker that counts the checks it makes."""

    def __init__(self) -> None:
        self.inner = checkers.InMemoryUsernamePasswordDatabaseDontUse(alice="s3cret", bob="pw")
        self.credentialInterfaces = self.inner.credentialInterfaces
        self.checks = 0

    def requestAvatarId(self, credentials: Any) -> Deferred[Any]:
        self.checks += 1
        return self.inner.requestAvatarId(credentials)


def result(d: Deferred[Any]) -> Any:
    outcome: list[Any] = []
    d.addBoth(outcome.append)
    return outcome[0]


def test_aGoodLoginIsRememberedForItsLifetime() -> None:
    counting, clock = Counting(), Clock()
    remembering = RememberingChecker(counting, lifetime=10, reactor=clock)
    assert remembering.credentialInterfaces == counting.credentialInterfaces
    for _ in range(3):
        assert result(remembering.requestAvatarId(UsernamePassword("alice", "s3cret"))) == b"alice"
    assert counting.checks == 1
    clock.advance(10)
    assert result(remembering.requestAvatarId(UsernamePassword("alice", "s3cret"))) == b"alice"
    assert counting.checks == 2


def test_refusalsAndOtherPasswordsAreCheckedEachTime() -> None:
    counting = Counting()
    remembering = RememberingChecker(counting, reactor=Clock())
    result(remembering.requestAvatarId(UsernamePassword("alice", "s3cret")))
    for _ in range(2):
        refused = result(remembering.requestAvatarId(UsernamePassword("alice", "s3cre")))
        assert refused.check(UnauthorizedLogin)
    # "alice" + "s3cret" and "alices" + "3cret" are not the same pair.
    assert result(remembering.requestAvatarId(UsernamePassword("alices", "3cret"))).check(
        UnauthorizedLogin
    )
    assert counting.checks == 4


def test_theMemoryIsBounded() -> None:
    counting = Counting()
    remembering = RememberingChecker(counting, maxEntries=1, reactor=Clock())
    for name, password in [("alice", "s3cret"), ("bob", "pw"), ("alice", "s3cret")]:
        result(remembering.requestAvatarId(UsernamePassword(name, password)))
    assert counting.checks == 3
    assert len(remembering._remembered) == 1


def test_otherCredentialsGoStraightToTheChecker() -> None:
    counting = Counting()
    remembering = RememberingChecker(counting, reactor=Clock())
    from torsion.cred.credentials import UsernameHashedPassword

    for _ in range(2):
        result(remembering.requestAvatarId(UsernameHashedPassword("alice", "s3cret")))
    assert counting.checks == 2


def test_nothingRememberedSurvivesPickling() -> None:
    checker = checkers.InMemoryUsernamePasswordDatabaseDontUse(alice="s3cret")
    remembering = RememberingChecker(checker)
    result(remembering.requestAvatarId(UsernamePassword("alice", "s3cret")))
    loaded = pickle.loads(pickle.dumps(remembering))
    assert loaded._remembered == {} and loaded._key != remembering._key
    assert loaded.lifetime == 120.0


def test_badSettingsAreRefused() -> None:
    with pytest.raises(ValueError, match="lifetime"):
        RememberingChecker(Counting(), lifetime=0)
