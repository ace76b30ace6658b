"""torsion.cred.checkers: anonymous, in-memory and hashed checkers; logging of refusals;
hashes checked in the thread pool. The passwd-file checker is in test_filepasswd.py."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from zope.interface.verify import verifyObject

from tests.cred.helpers import (
    FAST_HASHERS,
    assertSecretAbsent,
    credEvents,
    outcome,
    refusals,
    result,
)
from tests.internet.reactormixins import runUntil
from torsion.cred import checkers, hashing
from torsion.cred.checkers import (
    ANONYMOUS,
    AllowAnonymousAccess,
    HashedPasswordChecker,
    ICredentialsChecker,
    InMemoryUsernamePasswordDatabaseDontUse,
)
from torsion.cred.credentials import (
    Anonymous,
    CramMD5Credentials,
    UsernameHashedPassword,
    UsernamePassword,
)
from torsion.cred.error import UnauthorizedLogin
from torsion.logger import LogLevel
from torsion.python.failure import Failure

SCHEMES = sorted(FAST_HASHERS)


def assertRefused(value: Any) -> None:
    assert isinstance(value, Failure), f"expected a refusal, got {value!r}"
    assert value.check(UnauthorizedLogin)
    # The client learns nothing about why: the same message whatever the reason.
    assert str(value.value) == "invalid username or password"


def test_anonymousAccess() -> None:
    checker = AllowAnonymousAccess()
    assert verifyObject(ICredentialsChecker, checker)
    assert result(checker.requestAvatarId(Anonymous())) == ANONYMOUS == ()


def test_inMemoryGoodPassword() -> None:
    checker = InMemoryUsernamePasswordDatabaseDontUse(alice="s3cret", bob=b"hunter2")
    assert verifyObject(ICredentialsChecker, checker)
    assert result(checker.requestAvatarId(UsernamePassword("alice", "s3cret"))) == b"alice"
    assert result(checker.requestAvatarId(UsernamePassword(b"bob", b"hunter2"))) == b"bob"


def test_inMemoryBadPasswordAndUnknownUser(logged: list[dict[str, Any]]) -> None:
    checker = InMemoryUsernamePasswordDatabaseDontUse(alice="s3cret")
    assertRefused(result(checker.requestAvatarId(UsernamePassword("alice", "guess1"))))
    assertRefused(result(checker.requestAvatarId(UsernamePassword("mallory", "guess2"))))
    assert refusals(logged) == [
        "Login failed for user 'alice': wrong password",
        "Login failed for user 'mallory': no such user (in memory)",
    ]
    for secret in ("s3cret", "guess1", "guess2"):
        assertSecretAbsent(logged, secret)


def test_inMemoryAddUserChangesThePassword() -> None:
    checker = InMemoryUsernamePasswordDatabaseDontUse()
    checker.addUser("alice", "one")
    checker.addUser(b"alice", b"two")
    assertRefused(result(checker.requestAvatarId(UsernamePassword("alice", "one"))))
    assert result(checker.requestAvatarId(UsernamePassword("alice", "two"))) == b"alice"
    assert "two" not in repr(checker)


def test_inMemoryChecksChallengeResponses() -> None:
    import hmac

    checker = InMemoryUsernamePasswordDatabaseDontUse(tim="tanstaaftanstaaf")
    creds = CramMD5Credentials()
    digest = hmac.new(b"tanstaaftanstaaf", creds.getChallenge(), "md5").hexdigest()
    creds.setResponse(f"tim {digest}")
    assert result(checker.requestAvatarId(creds)) == b"tim"
    creds.setResponse("tim 0123")
    assertRefused(result(checker.requestAvatarId(creds)))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_hashedGoodBadAndUnknown(
    scheme: str, poolReactor: Any, logged: list[dict[str, Any]]
) -> None:
    checker = HashedPasswordChecker(hasher=FAST_HASHERS[scheme], reactor=poolReactor)
    assert verifyObject(ICredentialsChecker, checker)
    checker.addUser("alice", "correct horse")
    assert hashing.identify(checker.users[b"alice"]) == scheme
    good = checker.requestAvatarId(UsernamePassword("alice", "correct horse"))
    assert outcome(poolReactor, good) == b"alice"
    assertRefused(outcome(poolReactor, checker.requestAvatarId(UsernamePassword("alice", "x1"))))
    assertRefused(outcome(poolReactor, checker.requestAvatarId(UsernamePassword("eve", "x2"))))
    assert refusals(logged) == [
        "Login failed for user 'alice': wrong password",
        "Login failed for user 'eve': no such user",
    ]
    for secret in ("correct horse", "x1", "x2"):
        assertSecretAbsent(logged, secret)


def test_hashedCheckerTakesStoredHashes(poolReactor: Any) -> None:
    stored = hashing.hashPassword("pw", FAST_HASHERS["scrypt"])
    checker = HashedPasswordChecker({"carol": stored.encode()}, reactor=poolReactor)
    assert outcome(poolReactor, checker.requestAvatarId(UsernamePassword("carol", "pw"))) == (
        b"carol"
    )


def test_hashedCheckerRefusesAPasswordInTheClear() -> None:
    with pytest.raises(hashing.HashError, match="'dave' is not of a known scheme"):
        HashedPasswordChecker({"dave": "plaintext"})


def test_anUnknownUserCostsAHashCheckToo(poolReactor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    original = hashing.verifyPassword

    def counting(password: Any, hashed: Any) -> bool:
        checked.append(hashing.identify(hashed) or "?")
        return original(password, hashed)

    monkeypatch.setattr(hashing, "verifyPassword", counting)
    monkeypatch.setattr(checkers, "_dummyHash", hashing.hashPassword("x", FAST_HASHERS["argon2id"]))
    checker = HashedPasswordChecker(reactor=poolReactor)
    assertRefused(outcome(poolReactor, checker.requestAvatarId(UsernamePassword("nobody", "pw"))))
    assert checked == ["argon2id"]


def test_hashedCheckerCannotCheckChallengeResponses(logged: list[dict[str, Any]]) -> None:
    checker = HashedPasswordChecker({"alice": hashing.hashPassword("pw", FAST_HASHERS["bcrypt"])})
    assert checker.credentialInterfaces == (checkers.IUsernamePassword,)
    assertRefused(result(checker.requestAvatarId(UsernameHashedPassword("alice", "pw"))))
    (message,) = refusals(logged)
    assert "is a hash" in message and "UsernameHashedPassword" in message


def test_anUnusableStoredHashIsLoggedAsAnError(
    poolReactor: Any, logged: list[dict[str, Any]]
) -> None:
    checker = HashedPasswordChecker(reactor=poolReactor)
    checker.users[b"alice"] = "$argon2id$v=19$m=64,t=9999,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"
    assertRefused(outcome(poolReactor, checker.requestAvatarId(UsernamePassword("alice", "pw"))))
    (event,) = [e for e in credEvents(logged) if e["log_format"].startswith("Login failed")]
    assert event["log_level"] is LogLevel.error
    assert "cannot be used" in event["reason"] and "iteration count" in event["reason"]


def test_hashIsCheckedOffTheReactorThread(
    poolReactor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The hash check blocks until a timed call of the reactor releases it: that can
    # only happen if the reactor thread is free while the hash is being checked.
    release = threading.Event()
    threads: list[threading.Thread] = []
    original = hashing.Argon2idHasher.verify

    def blocking(self: Any, password: Any, hashed: Any) -> bool:
        threads.append(threading.current_thread())
        assert release.wait(5), "the reactor did not run while the hash was checked"
        return original(self, password, hashed)

    monkeypatch.setattr(hashing.Argon2idHasher, "verify", blocking)
    checker = HashedPasswordChecker(hasher=FAST_HASHERS["argon2id"], reactor=poolReactor)
    checker.addUser("alice", "pw")
    d = checker.requestAvatarId(UsernamePassword("alice", "pw"))
    other = InMemoryUsernamePasswordDatabaseDontUse(bob="pw2")
    served: list[Any] = []
    poolReactor.callLater(
        0.01,
        lambda: (
            other.requestAvatarId(UsernamePassword("bob", "pw2"))
            .addCallback(served.append)
            .addCallback(lambda _: release.set())
        ),
    )
    assert outcome(poolReactor, d) == b"alice"
    assert served == [b"bob"]
    assert threads and threads[0] is not threading.current_thread()


def test_checkersDoNotShowSecretsInTheirRepr() -> None:
    checker = HashedPasswordChecker({"alice": hashing.hashPassword("pw", FAST_HASHERS["scrypt"])})
    assert "scrypt" not in repr(checker) and "1 user" in repr(checker)


def test_hashChecksAtOnceAreBounded(poolReactor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # With one slot, the second check starts only when the first is done, though the
    # pool has threads to spare.
    monkeypatch.setattr(checkers, "HASH_CHECKS_AT_ONCE", 1)
    releases = {b"alice": threading.Event(), b"bob": threading.Event()}
    started: list[bytes] = []
    original = hashing.ScryptHasher.verify

    def blocking(self: Any, password: bytes, hashed: Any) -> bool:
        started.append(password)
        assert releases[password].wait(5)
        return original(self, password, hashed)

    monkeypatch.setattr(hashing.ScryptHasher, "verify", blocking)
    checker = HashedPasswordChecker(hasher=FAST_HASHERS["scrypt"], reactor=poolReactor)
    checker.addUser("alice", "alice")
    checker.addUser("bob", "bob")
    first = checker.requestAvatarId(UsernamePassword("alice", "alice"))
    second = checker.requestAvatarId(UsernamePassword("bob", "bob"))
    runUntil(poolReactor, lambda: started)
    for _ in range(10):
        poolReactor.iterate(0.01)
    assert started == [b"alice"]
    releases[b"bob"].set()
    releases[b"alice"].set()
    assert outcome(poolReactor, first) == b"alice"
    assert outcome(poolReactor, second) == b"bob"
    assert started == [b"alice", b"bob"]
    assert checkers._slotsOf(poolReactor).tokens == 1
