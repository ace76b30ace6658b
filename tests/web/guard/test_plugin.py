"""``torsiond web --auth``: the web plugin behind torsion.web.guard.

The options are parsed and the service made with a MemoryReactor; then ``torsiond
web`` and ``torsion mktap web`` run for real as child processes on 127.0.0.1, with
curl (Basic and Digest) as the client.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.application.conftest import installedAsGlobal
from tests.tap._torsiond import freePort, runTorsiond
from torsion.cred import hashing
from torsion.internet.testing import MemoryReactor
from torsion.logger import formatEvent
from torsion.python import usage
from torsion.tap import web
from torsion.web.guard import (
    BasicCredentialFactory,
    DigestCredentialFactory,
    HTTPAuthSessionWrapper,
)

CURL = shutil.which("curl")
needsCurl = pytest.mark.skipif(CURL is None, reason="curl is not installed (apt-get install curl)")
TORSION = Path(sys.executable).with_name("torsion")


@pytest.fixture
def memoryReactor() -> Iterator[MemoryReactor]:
    made = MemoryReactor()
    with installedAsGlobal(made):
        yield made


def parse(*args: str) -> web.Options:
    options = web.Options()
    options.parseOptions(list(args))
    return options


def guardOf(*args: str) -> HTTPAuthSessionWrapper:
    made = web.makeService(parse("--listen", "tcp:8080:interface=127.0.0.1", *args))
    root = next(iter(made)).factory.resource
    assert isinstance(root, HTTPAuthSessionWrapper)
    return root


def kinds(wrapper: HTTPAuthSessionWrapper) -> list[str]:
    return [
        f"digest {f.algorithm.decode()}" if isinstance(f, DigestCredentialFactory) else "basic"
        for f in wrapper._credentialFactories
    ]


def passwordFile(tmp_path: Path, hashed: bool) -> Path:
    path = tmp_path / "passwd"
    password = hashing.hashPassword("s3cret", hashing.ScryptHasher(logN=10)) if hashed else "s3cret"
    path.write_text(f"# users\nalice:{password}\n")
    return path


def test_withoutAuthTheSiteIsOpen(memoryReactor: MemoryReactor) -> None:
    made = web.makeService(parse())
    assert isinstance(next(iter(made)).factory.resource, web.WelcomePage)


def test_memoryUsersGetDigestThenBasic(memoryReactor: MemoryReactor) -> None:
    wrapper = guardOf("--auth", "memory:alice:s3cret")
    assert kinds(wrapper) == ["digest SHA-256", "digest MD5", "basic"]
    assert all(f.authenticationRealm == b"torsion" for f in wrapper._credentialFactories)


def test_aFileInTheClearGetsDigest(memoryReactor: MemoryReactor, tmp_path: Path) -> None:
    path = passwordFile(tmp_path, hashed=False)
    assert kinds(guardOf("--auth", f"file:{path}")) == ["digest SHA-256", "digest MD5", "basic"]


def test_passwordFilesAreRemembered(memoryReactor: MemoryReactor, tmp_path: Path) -> None:
    from torsion.web._auth.remember import RememberingChecker

    path = passwordFile(tmp_path, hashed=True)
    wrapper = guardOf("--auth", f"file:{path}", "--auth", "anonymous")
    kinds = {type(c).__name__ for c in set(wrapper._portal.checkers.values())}
    assert kinds == {"RememberingChecker", "AllowAnonymousAccess"}
    (remembering,) = {
        c for c in wrapper._portal.checkers.values() if isinstance(c, RememberingChecker)
    }
    assert str(remembering.checker.filename) == str(path)


def test_aFileOfHashesGetsBasicOnlyAndAWarning(
    memoryReactor: MemoryReactor, tmp_path: Path, logged: list[Any]
) -> None:
    path = passwordFile(tmp_path, hashed=True)
    assert kinds(guardOf("--auth", f"file:{path}")) == ["basic"]
    (warning,) = [formatEvent(e) for e in logged if e.get("log_namespace") == "torsion.tap.web"]
    assert "Basic authentication on tcp:8080:interface=127.0.0.1 sends passwords" in warning
    assert "Digest is not offered" in warning


def test_anonymousAloneLetsEveryoneIn(memoryReactor: MemoryReactor) -> None:
    assert kinds(guardOf("--auth", "anonymous")) == []


def test_theRealmCanBeNamed(memoryReactor: MemoryReactor) -> None:
    wrapper = guardOf("--auth", "memory:a:b", "--auth-realm", "Zoë's site")
    assert {f.authenticationRealm for f in wrapper._credentialFactories} == {"Zoë's site".encode()}


def test_aRealmWithAControlCharacterIsAUsageError() -> None:
    with pytest.raises(usage.UsageError, match="--auth-realm"):
        parse("--auth-realm", "a\nb")


def test_helpNamesTheAuthOptions() -> None:
    text = str(web.Options())
    assert "--auth=" in text and "--auth-realm=" in text and "--help-auth" in text


def test_badAuthIsAUsageError() -> None:
    with pytest.raises(usage.UsageError, match="unknown authentication type 'nosuch'"):
        parse("--auth", "nosuch:x")


def test_theWrappedSitePickles(memoryReactor: MemoryReactor) -> None:
    import pickle

    wrapper = guardOf("--auth", "memory:alice:s3cret")
    loaded = pickle.loads(pickle.dumps(wrapper))
    assert kinds(loaded) == kinds(wrapper)
    assert isinstance(loaded._credentialFactories[2], BasicCredentialFactory)


def curl(port: int, *args: str) -> int:
    assert CURL is not None
    done = subprocess.run(
        [CURL, "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "30", *args,
         f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, timeout=45,
    )  # fmt: skip
    return int(done.stdout)


def localListen(port: int) -> str:
    return f"tcp:{port}:interface=127.0.0.1"


@needsCurl
def test_torsiondWebAuthMemory(tmp_path: Path) -> None:
    port = freePort()
    args = ["web", "--listen", localListen(port), "--auth", "memory:alice:s3cret"]
    with runTorsiond(args, port, tmp_path):
        assert curl(port) == 401
        assert curl(port, "-u", "alice:s3cret") == 200
        assert curl(port, "--digest", "-u", "alice:s3cret") == 200
        assert curl(port, "--digest", "-u", "alice:wrong") == 401


@needsCurl
def test_torsiondWebAuthHashedFile(tmp_path: Path) -> None:
    port = freePort()
    path = passwordFile(tmp_path, hashed=True)
    args = ["web", "--listen", localListen(port), "--auth", f"file:{path}"]
    output: list[str] = []
    with runTorsiond(args, port, tmp_path, output):
        assert curl(port, "-u", "alice:s3cret") == 200
        assert curl(port, "-u", "alice:wrong") == 401
        # Digest is not offered, so curl --digest has nothing to answer.
        assert curl(port, "--digest", "-u", "alice:s3cret") == 401
    assert "Digest is not offered" in output[0]
    assert "s3cret" not in output[0]


@needsCurl
def test_mktapWebAuthThenRunTheFile(tmp_path: Path) -> None:
    port = freePort()
    done = subprocess.run(
        [str(TORSION), "mktap", "web", "--listen", localListen(port), "--auth",
         "memory:alice:s3cret"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    with runTorsiond(["-f", "web.tap"], port, tmp_path):
        assert curl(port) == 401
        assert curl(port, "--digest", "-u", "alice:s3cret") == 200
