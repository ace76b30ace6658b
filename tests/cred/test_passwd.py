"""``torsion passwd FILE USERNAME``: hashed passwords written into a password file."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.cred.helpers import outcome
from tests.scripts.torsiondkit import ROOT, environment
from torsion.cred import hashing
from torsion.cred.checkers import FilePasswordDB
from torsion.cred.credentials import UsernamePassword
from torsion.scripts import passwd
from torsion.scripts.torsion import run


@pytest.fixture(autouse=True)
def cheapHashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The default schemes at their cheapest, so each test hashes in milliseconds."""
    cheap = {
        "argon2id": lambda: hashing.Argon2idHasher(memoryCost=64, iterations=1, lanes=1),
        "scrypt": lambda: hashing.ScryptHasher(logN=4),
        "bcrypt": lambda: hashing.BcryptHasher(rounds=4),
    }
    monkeypatch.setattr(hashing, "hasherFor", lambda scheme="argon2id": cheap[scheme]())
    yield


def torsionPasswd(
    monkeypatch: pytest.MonkeyPatch, *words: str, stdin: str = "", prompts: Sequence[str] = ()
) -> int:
    """Run ``torsion passwd WORDS`` here, with ``stdin`` and answers to its prompts."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    answers = iter(prompts)
    monkeypatch.setattr(passwd.getpass, "getpass", lambda prompt="": next(answers))
    return run(["passwd", *words])


def stored(path: Path, username: str) -> str:
    for line in path.read_text().splitlines():
        if line.split(":")[0] == username:
            return line.split(":")[1]
    raise AssertionError(f"no line for {username} in {path.read_text()!r}")


def test_addsAUserToANewFile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "passwd"
    assert torsionPasswd(monkeypatch, "--stdin", str(path), "alice", stdin="s3cret\n") == 0
    hashed = stored(path, "alice")
    assert hashed.startswith("$argon2id$v=19$")
    assert hashing.verifyPassword("s3cret", hashed)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert capsys.readouterr().out == f"Added the password of 'alice' in {path} (argon2id).\n"


def test_replacesTheLineAndKeepsTheRest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "passwd"
    path.write_text("# who may log in\nalice:old:1001:Alice\nbob:hunter2\n\n")
    path.chmod(0o640)
    assert torsionPasswd(monkeypatch, "--stdin", str(path), "alice", stdin="new\r\n") == 0
    lines = path.read_text().splitlines()
    assert lines[0] == "# who may log in"
    fields = lines[1].split(":")
    assert fields[0] == "alice" and fields[2:] == ["1001", "Alice"]
    assert hashing.verifyPassword("new", fields[1])
    assert lines[2:] == ["bob:hunter2", ""]
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["passwd"]


def test_promptsTwice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "passwd"
    assert torsionPasswd(monkeypatch, str(path), "alice", prompts=["pw", "pw"]) == 0
    assert hashing.verifyPassword("pw", stored(path, "alice"))


@pytest.mark.parametrize(
    ("words", "stdin", "prompts", "message"),
    [
        ((), "", ["one", "two"], "the two passwords differ; nothing was changed"),
        (("--stdin",), "\n", [], "the password is empty; nothing was changed"),
        (("--stdin",), "", [], "the password is empty; nothing was changed"),
    ],
)
def test_refusesAndChangesNothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    words: tuple[str, ...],
    stdin: str,
    prompts: list[str],
    message: str,
) -> None:
    path = tmp_path / "passwd"
    path.write_text("alice:keep\n")
    status = torsionPasswd(monkeypatch, *words, str(path), "alice", stdin=stdin, prompts=prompts)
    assert status == 1
    assert capsys.readouterr().err == f"torsion passwd: error: {message}\n"
    assert path.read_text() == "alice:keep\n"


@pytest.mark.parametrize("scheme", ["scrypt", "bcrypt"])
def test_otherSchemes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scheme: str) -> None:
    path = tmp_path / "passwd"
    status = torsionPasswd(monkeypatch, "--stdin", "--scheme", scheme, str(path), "al", stdin="pw")
    assert status == 0
    assert hashing.identify(stored(path, "al")) == scheme


def test_deletesAUser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "passwd"
    path.write_text("alice:a\nbob:b\n")
    assert torsionPasswd(monkeypatch, "--delete", str(path), "alice") == 0
    assert path.read_text() == "bob:b\n"
    assert torsionPasswd(monkeypatch, "--delete", str(path), "alice") == 1
    assert capsys.readouterr().err.endswith(
        f"torsion passwd: error: 'alice' has no line in {path}\n"
    )


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["f"], "give the password file and the user name: FILE USERNAME"),
        (["f", "a:b"], "the user name 'a:b' cannot be stored: it must be non-empty, without"),
        (["f", "#x"], "a user name cannot start with '#'"),
        (["--scheme", "md5", "f", "al"], "unknown --scheme 'md5'; choose one of argon2id,"),
    ],
)
def test_badCommandLines(
    capsys: pytest.CaptureFixture[str], words: list[str], message: str
) -> None:
    assert run(["passwd", *words]) == 2
    assert capsys.readouterr().err.startswith(f"torsion passwd: {message}")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_anUnwritableDirectory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        path = locked / "passwd"
        assert torsionPasswd(monkeypatch, "--stdin", str(path), "alice", stdin="pw") == 1
    finally:
        locked.chmod(0o700)
    err = capsys.readouterr().err
    assert err.startswith("torsion passwd: error: cannot update ") and "Permission denied" in err
    assert err.count("\n") == 1


def test_theCommandWritesWhatTheFileCheckerReads(tmp_path: Path, poolReactor: Any) -> None:
    # The real command in a child process, its password on a pipe, at full cost.
    path = tmp_path / "passwd"
    done = subprocess.run(
        [sys.executable, "-m", "torsion.scripts.torsion", "passwd", "--stdin", str(path), "zoë"],
        input="correct horse battery staple\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=environment(),
    )
    assert (done.returncode, done.stderr) == (0, "")
    db = FilePasswordDB(path, reactor=poolReactor)
    good = db.requestAvatarId(UsernamePassword("zoë", "correct horse battery staple"))
    assert outcome(poolReactor, good) == "zoë".encode()
    bad = outcome(poolReactor, db.requestAvatarId(UsernamePassword("zoë", "wrong")))
    assert bad.check(Exception) is not None
