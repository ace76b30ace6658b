"""``torsiond conch`` with OpenSSH's ssh as the client: commands run as the system user
who logs in, a shell on a pty, wrong passwords and unknown users refused, public
keys from authorized_keys, host keys made and reused, and the options' errors.

The system user is the one running the tests; they must be root for the server to
start processes as them (the CI runs as root), else these tests skip.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.conch.sshhelpers import SSH, needsSSH
from tests.internet import reactormixins
from tests.internet.reactormixins import inThread
from tests.tap._torsiond import freePort, runTorsiond
from torsion.conch import checkers, tap
from torsion.conch.ssh.keys import FingerprintFormats, Key
from torsion.python import usage

oneReactor = reactormixins.oneReactor
ME = pwd.getpwuid(os.geteuid())
asRoot = pytest.mark.skipif(
    os.geteuid() != 0, reason="the server runs processes as users only as root"
)


def ssh(
    port: int, tmp_path: Path, *args: str, password: str = "pw", stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    askpass = tmp_path / "askpass"
    askpass.write_text(f"#!/bin/sh\necho '{password}'\n")
    askpass.chmod(0o700)
    assert SSH is not None
    command = [
        SSH, "-F", "/dev/null", "-p", str(port), "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10",
        "-o", "NumberOfPasswordPrompts=1", "-o", "LogLevel=ERROR", *args,
    ]  # fmt: skip
    environment = {"SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"}
    return subprocess.run(command, input=stdin, capture_output=True, timeout=30, env=environment)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    if os.geteuid() != 0:
        pytest.skip("the server runs processes as users only as root")
    if SSH is None:
        pytest.skip("OpenSSH's ssh is missing")
    directory = tmp_path_factory.mktemp("conch")
    port = freePort()
    args = [
        "conch", "--listen", f"tcp:{port}:interface=127.0.0.1", "--no-authorized-keys",
        "--auth", f"memory:{ME.pw_name}:pw:nosuchuser:pw",
    ]  # fmt: skip
    with runTorsiond(args, port, directory):
        yield port, directory


def test_commandsRunAsTheUserInTheirHome(server: tuple[int, Path], tmp_path: Path) -> None:
    port, _ = server
    done = ssh(port, tmp_path, f"{ME.pw_name}@127.0.0.1", 'id -un; pwd; echo "$HOME $USER"; exit 7')
    assert done.returncode == 7, done.stderr
    name, home, env = done.stdout.decode().splitlines()
    assert name == ME.pw_name and home == ME.pw_dir and env == f"{ME.pw_dir} {ME.pw_name}"


def test_aShellOnAPty(server: tuple[int, Path], tmp_path: Path) -> None:
    port, _ = server
    done = ssh(
        port, tmp_path, "-tt", "-o", "SetEnv=TERM=vt220", f"{ME.pw_name}@127.0.0.1",
        stdin=b"tty; echo TERM=$TERM; exit 3\n",
    )  # fmt: skip
    out = done.stdout.decode(errors="replace")
    assert done.returncode == 3, out
    assert "/dev/pts/" in out  # the shell's stdin is a terminal


def test_wrongPasswordAndUnknownUsersAreRefused(server: tuple[int, Path], tmp_path: Path) -> None:
    port, _ = server
    wrong = ssh(
        port,
        tmp_path,
        "-o",
        "PreferredAuthentications=password",
        f"{ME.pw_name}@127.0.0.1",
        "true",
        password="guess",
    )
    assert wrong.returncode == 255 and b"Permission denied" in wrong.stderr
    stranger = ssh(
        port, tmp_path, "-o", "PreferredAuthentications=password", "nosuchuser@127.0.0.1", "true"
    )
    assert stranger.returncode == 255 and b"Permission denied" in stranger.stderr


def test_theHostKeyIsMadeOnceAndKept(server: tuple[int, Path]) -> None:
    _, directory = server
    keyFile = directory / tap.DEFAULT_HOST_KEY
    assert keyFile.exists() and keyFile.stat().st_mode & 0o777 == 0o600
    key = Key.fromFile(keyFile)
    port = freePort()
    args = ["conch", "--listen", f"tcp:{port}:interface=127.0.0.1", "--auth", "memory:x:y"]
    with runTorsiond(args, port, directory):
        pass
    assert Key.fromFile(keyFile) == key


@needsSSH
@asRoot
def test_publicKeysFromAuthorizedKeys(
    oneReactor: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key in the user's authorized_keys logs in (the file is a temporary one: the
    user database is replaced so that the user's home is a temporary directory)."""
    user = Key(ed25519.Ed25519PrivateKey.generate())
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "authorized_keys").write_bytes(user.public().toString("openssh") + b"\n")

    class Users:
        def getpwnam(self, name: str) -> Any:
            return (
                SimpleNamespace(pw_dir=str(tmp_path)) if name == ME.pw_name else pwd.getpwnam(name)
            )

    real = checkers.UNIXAuthorizedKeysFiles
    monkeypatch.setattr(checkers, "UNIXAuthorizedKeysFiles", lambda: real(Users()))
    options = tap.Options()
    options.parseOptions(["--host-key", str(writeHostKey(tmp_path))])
    port = oneReactor.listenTCP(0, tap.makeFactory(options, oneReactor), interface="127.0.0.1")
    keyFile = tmp_path / "id_ed25519"
    keyFile.write_bytes(user.toString("openssh"))
    keyFile.chmod(0o600)
    sshArgs = ["-i", str(keyFile), "-o", "IdentitiesOnly=yes", "-o",
               "PreferredAuthentications=publickey", f"{ME.pw_name}@127.0.0.1",
               "echo key login"]  # fmt: skip
    done = inThread(oneReactor, lambda: ssh(port.getHost().port, tmp_path, *sshArgs), timeout=30)
    assert done.returncode == 0 and done.stdout == b"key login\n", done.stderr
    port.stopListening()


def writeHostKey(directory: Path) -> Path:
    path = directory / "host_key"
    path.write_bytes(Key(ed25519.Ed25519PrivateKey.generate()).toString("openssh"))
    return path


def test_optionErrors(tmp_path: Path) -> None:
    with pytest.raises(usage.UsageError, match="nobody could log in"):
        tap.Options().parseOptions(["--no-authorized-keys"])
    public = tmp_path / "key.pub"
    public.write_bytes(Key(ed25519.Ed25519PrivateKey.generate()).public().toString("openssh"))
    with pytest.raises(usage.UsageError, match="public key"):
        tap.loadHostKeys([str(public)])
    with pytest.raises(usage.UsageError, match="cannot use the host key"):
        tap.loadHostKeys([str(tmp_path / "missing")])
    options = tap.Options()
    options.parseOptions(["--auth", "memory:a:b"])
    assert options["listen"] == [tap.DEFAULT_LISTEN]


def test_theFingerprintIsLogged(tmp_path: Path) -> None:
    path = writeHostKey(tmp_path)
    keysByType = tap.loadHostKeys([str(path)])
    assert list(keysByType) == [b"ssh-ed25519"]
    assert keysByType[b"ssh-ed25519"].fingerprint(FingerprintFormats.SHA256_BASE64)
