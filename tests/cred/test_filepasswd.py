"""torsion.cred.checkers.FilePasswordDB: parsing a passwd file, hashed and clear entries,
errors that name the file and line."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cred.helpers import FAST_HASHERS, assertSecretAbsent, outcome, refusals, result
from torsion.cred import hashing
from torsion.cred.checkers import FilePasswordDB, PasswordFileError
from torsion.cred.credentials import (
    IUsernameHashedPassword,
    IUsernamePassword,
    UsernameHashedPassword,
    UsernamePassword,
)
from torsion.cred.error import UnauthorizedLogin
from torsion.logger import LogLevel
from torsion.python.failure import Failure


def refused(value: Any) -> bool:
    return isinstance(value, Failure) and value.check(UnauthorizedLogin) is not None


@pytest.fixture
def passwd(tmp_path: Path) -> Path:
    path = tmp_path / "passwd"
    path.write_bytes(
        b"# users of the test\n\nalice:s3cret\nbob:hunter2:1001:Bob the builder\r\nCarol:Passw0rd\n"
    )
    return path


def test_entriesInTheClear(passwd: Path) -> None:
    db = FilePasswordDB(passwd)
    assert db.credentialInterfaces == (IUsernamePassword, IUsernameHashedPassword)
    assert result(db.requestAvatarId(UsernamePassword("alice", "s3cret"))) == b"alice"
    assert result(db.requestAvatarId(UsernamePassword("bob", "hunter2"))) == b"bob"
    assert refused(result(db.requestAvatarId(UsernamePassword("alice", "hunter2"))))
    assert refused(result(db.requestAvatarId(UsernamePassword("dave", "s3cret"))))
    assert db.getUser("bob") == (b"bob", b"hunter2")
    with pytest.raises(KeyError):
        db.getUser(b"dave")
    assert list(db._loadCredentials()) == [
        (b"alice", b"s3cret"),
        (b"bob", b"hunter2"),
        (b"Carol", b"Passw0rd"),
    ]
    assert db.checkFile() == 3


def test_refusalsAreLoggedWithTheFileAndLine(passwd: Path, logged: list[dict[str, Any]]) -> None:
    db = FilePasswordDB(passwd)
    result(db.requestAvatarId(UsernamePassword("bob", "guess")))
    result(db.requestAvatarId(UsernamePassword("dave", "guess")))
    assert refusals(logged) == [
        f"Login failed for user 'bob': wrong password in {passwd}:4",
        f"Login failed for user 'dave': no such user in {passwd}",
    ]
    for secret in ("guess", "hunter2"):
        assertSecretAbsent(logged, secret)


def test_caseInsensitiveUserNames(passwd: Path) -> None:
    assert refused(
        result(FilePasswordDB(passwd).requestAvatarId(UsernamePassword("carol", "Passw0rd")))
    )
    db = FilePasswordDB(passwd, caseSensitive=False)
    assert result(db.requestAvatarId(UsernamePassword("CAROL", "Passw0rd"))) == b"Carol"


def test_otherFieldsAndSeparator(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text("1001 alice s3cret\n1002 bob hunter2\n")
    db = FilePasswordDB(path, delim=" ", usernameField=1, passwordField=2)
    assert result(db.requestAvatarId(UsernamePassword("bob", "hunter2"))) == b"bob"


def test_editsAreSeenUnlessCached(passwd: Path) -> None:
    fresh, cached = FilePasswordDB(passwd), FilePasswordDB(passwd, cache=True)
    assert result(cached.requestAvatarId(UsernamePassword("alice", "s3cret"))) == b"alice"
    passwd.write_text("alice:changed\n")
    assert result(fresh.requestAvatarId(UsernamePassword("alice", "changed"))) == b"alice"
    assert result(cached.requestAvatarId(UsernamePassword("alice", "s3cret"))) == b"alice"
    assert refused(result(cached.requestAvatarId(UsernamePassword("alice", "changed"))))
    # A pickled checker forgets its cache, so a restored server reads the file again.
    restored = pickle.loads(pickle.dumps(cached))
    assert result(restored.requestAvatarId(UsernamePassword("alice", "changed"))) == b"alice"


def test_challengeResponseAgainstAClearEntry(passwd: Path) -> None:
    db = FilePasswordDB(passwd)
    assert result(db.requestAvatarId(UsernameHashedPassword("alice", "s3cret"))) == b"alice"


@pytest.mark.parametrize("scheme", sorted(FAST_HASHERS))
def test_hashedEntries(scheme: str, tmp_path: Path, poolReactor: Any) -> None:
    path = tmp_path / "passwd"
    hashed = hashing.hashPassword("correct horse", FAST_HASHERS[scheme])
    path.write_text(f"alice:{hashed}:extra\nbob:plain\n")
    db = FilePasswordDB(path, reactor=poolReactor)
    assert db.checkFile() == 2
    good = db.requestAvatarId(UsernamePassword("alice", "correct horse"))
    assert outcome(poolReactor, good) == b"alice"
    assert refused(outcome(poolReactor, db.requestAvatarId(UsernamePassword("alice", "nope"))))
    assert result(db.requestAvatarId(UsernamePassword("bob", "plain"))) == b"bob"


def test_aHashedEntryNeedsThePasswordInTheClear(
    tmp_path: Path, logged: list[dict[str, Any]]
) -> None:
    path = tmp_path / "passwd"
    path.write_text(f"alice:{hashing.hashPassword('pw', FAST_HASHERS['scrypt'])}\n")
    creds = UsernameHashedPassword("alice", "pw")
    assert refused(result(FilePasswordDB(path).requestAvatarId(creds)))
    (message,) = refusals(logged)
    assert f"stored for it in {path}:1 is a hash" in message


def test_aBadLineIsSkippedWithAWarning(tmp_path: Path, logged: list[dict[str, Any]]) -> None:
    path = tmp_path / "passwd"
    path.write_text("justaname\nalice:s3cret\n")
    db = FilePasswordDB(path)
    assert result(db.requestAvatarId(UsernamePassword("alice", "s3cret"))) == b"alice"
    warnings = [e for e in logged if e.get("log_level") is LogLevel.warn]
    assert warnings[0]["message"] == (
        f"{path}:1: expected at least 2 fields separated by ':', found 1"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("alice:pw\nbob\n", r":2: expected at least 2 fields separated by ':', found 1; fix"),
        (":pw\n", r":1: the user name is empty"),
        ("alice:$md5$salt$hash\n", r":1: the password looks like a hash of an unknown scheme"),
    ],
)
def test_checkFileReportsWhereAndWhat(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "passwd"
    path.write_text(content)
    with pytest.raises(PasswordFileError, match=message):
        FilePasswordDB(path).checkFile()


def test_aMissingFile(tmp_path: Path, logged: list[dict[str, Any]]) -> None:
    path = tmp_path / "absent"
    db = FilePasswordDB(path)
    with pytest.raises(
        PasswordFileError,
        match=f"cannot read the password file {path}: No such"
        f" file or directory; create it with 'torsion passwd {path} USERNAME'",
    ):
        db.checkFile()
    assert refused(result(db.requestAvatarId(UsernamePassword("alice", "pw"))))
    (event,) = [e for e in logged if e.get("log_format", "").startswith("Login failed")]
    assert event["log_level"] is LogLevel.error and "cannot read" in event["reason"]


def test_twistedsHashHook(tmp_path: Path) -> None:
    def md5hex(username: bytes, password: bytes, stored: bytes) -> bytes:
        return hashlib.md5(password).hexdigest().encode()

    path = tmp_path / "passwd"
    path.write_text(f"alice:{hashlib.md5(b'pw').hexdigest()}\n")
    db = FilePasswordDB(path, hash=md5hex)
    assert db.credentialInterfaces == (IUsernamePassword,)
    assert result(db.requestAvatarId(UsernamePassword("alice", "pw"))) == b"alice"
    assert refused(result(db.requestAvatarId(UsernamePassword("alice", "px"))))


def test_anEmptySeparatorIsRefused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        FilePasswordDB(tmp_path / "x", delim="")


def test_anUnknownNameInAFileOfHashesCostsAHashCheck(
    tmp_path: Path, poolReactor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from torsion.cred import checkers

    checked: list[Any] = []
    original = checkers._verifyOrDummy

    def counting(password: bytes, hashed: str | None) -> bool:
        checked.append(hashed)
        return original(password, hashed)

    monkeypatch.setattr(checkers, "_verifyOrDummy", counting)
    monkeypatch.setattr(checkers, "_dummyHash", hashing.hashPassword("x", FAST_HASHERS["scrypt"]))
    hashedFile, clearFile = tmp_path / "hashed", tmp_path / "clear"
    hashedFile.write_text(f"alice:{hashing.hashPassword('pw', FAST_HASHERS['scrypt'])}\n")
    clearFile.write_text("alice:pw\n")
    creds = UsernamePassword("nobody", "pw")
    assert refused(
        outcome(poolReactor, FilePasswordDB(hashedFile, reactor=poolReactor).requestAvatarId(creds))
    )
    assert checked == [None]
    assert refused(result(FilePasswordDB(clearFile).requestAvatarId(creds)))
    assert checked == [None]


def test_twistedsOtherName() -> None:
    from torsion.cred.checkers import OnDiskUsernamePasswordDatabase

    assert OnDiskUsernamePasswordDatabase is FilePasswordDB


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.binary(max_size=200).filter(lambda b: b"$" not in b), name=st.binary(max_size=8))
def test_anyFileParsesOrFailsCleanly(tmp_path_factory: Any, content: bytes, name: bytes) -> None:
    # Random bytes (without '$', so no hash is recognised and nothing needs a reactor).
    path = tmp_path_factory.mktemp("fuzz") / "passwd"
    path.write_bytes(content)
    db = FilePasswordDB(path)
    try:
        assert db.checkFile() >= 0
    except PasswordFileError as e:
        assert str(e).startswith(str(path))
    outcome = result(db.requestAvatarId(UsernamePassword(name, b"pw")))
    assert outcome == name or refused(outcome)
