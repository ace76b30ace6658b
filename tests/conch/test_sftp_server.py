"""SFTP through `torsiond conch` (a child process) with OpenSSH's sftp and scp (SFTP
mode) as clients, for a system user made for the test who logs in with a password
or with a key from their authorized_keys: put/get/ls/rename/rm/mkdir/rmdir, scp of
20 MiB both ways with sha256 checked, files made belong to the user, the user's
permissions hold (a root-only file stays unreadable), and neither ".." nor a
symbolic link leaves the user's home. Code: torsion/conch/unix.py, _sftpunix.py,
ssh/session.py (the subsystem), ssh/filetransfer.py, tap.py (--sftp-root, --no-sftp).

Making a system user needs root and useradd; without them these tests skip.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conch import sftphelpers
from tests.conch.sftphelpers import Account
from tests.conch.sshhelpers import SSH
from tests.tap._torsiond import freePort, runTorsiond
from torsion.conch import tap
from torsion.python import usage

SFTP, SCP = shutil.which("sftp"), shutil.which("scp")
account = sftphelpers.account


@pytest.fixture(scope="module")
def port(account: Account, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    if SSH is None or SFTP is None or SCP is None:
        pytest.skip("OpenSSH's ssh, sftp and scp (openssh-client) are missing")
    directory = tmp_path_factory.mktemp("conch-sftp")
    listening = freePort()
    args = ["conch", "--listen", f"tcp:{listening}:interface=127.0.0.1",
            "--auth", f"memory:{account.name}:pw"]  # fmt: skip
    with runTorsiond(args, listening, directory):
        yield listening


def openssh(
    program: str | None,
    port: int,
    account: Account,
    cwd: Path,
    *args: str,
    password: str | None = None,
    stdin: str = "",
) -> subprocess.CompletedProcess[str]:
    """Run sftp or scp against the server: with the account's key, or a password."""
    assert program is not None
    command = [program, "-F", "/dev/null", "-P", str(port), "-o", "StrictHostKeyChecking=no",
               "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
               "-o", "ConnectTimeout=10"]  # fmt: skip
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if password is None:
        command += ["-i", str(account.keyFile), "-o", "IdentitiesOnly=yes",
                    "-o", "PreferredAuthentications=publickey"]  # fmt: skip
    else:
        askpass = cwd / "askpass"
        askpass.write_text(f"#!/bin/sh\necho '{password}'\n")
        askpass.chmod(0o700)
        command += ["-o", "PreferredAuthentications=password,keyboard-interactive",
                    "-o", "NumberOfPasswordPrompts=1"]  # fmt: skip
        environment.update(SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
    return subprocess.run(
        [*command, *args], cwd=cwd, input=stdin, capture_output=True, text=True,
        timeout=60, env=environment,
    )  # fmt: skip


def sftpBatch(
    port: int, account: Account, cwd: Path, batch: str
) -> subprocess.CompletedProcess[str]:
    (cwd / "batch").write_text(batch)
    return openssh(SFTP, port, account, cwd, "-b", "batch", f"{account.name}@127.0.0.1")


def test_sftpCommandsWithAKey(port: int, account: Account, tmp_path: Path) -> None:
    (tmp_path / "local.txt").write_text("hello over sftp\n")
    done = sftpBatch(
        port, account, tmp_path,
        "pwd\nput local.txt\nls -l\nmkdir sub\nrename local.txt sub/moved.txt\nls sub\n"
        "get sub/moved.txt back.txt\ndf\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Remote working directory: /" in done.stdout
    assert "local.txt" in done.stdout and "sub/moved.txt" in done.stdout
    assert "Avail" in done.stdout  # df, through statvfs@openssh.com
    assert (tmp_path / "back.txt").read_text() == "hello over sftp\n"
    moved = account.home / "sub" / "moved.txt"
    # Made with the user's identity, not the server's (root).
    assert (
        moved.stat().st_uid == account.uid and (account.home / "sub").stat().st_uid == account.uid
    )
    done = sftpBatch(port, account, tmp_path, "rm sub/moved.txt\nrmdir sub\nls\n")
    assert done.returncode == 0, done.stderr
    assert not (account.home / "sub").exists()


def test_sftpWithAPassword(port: int, account: Account, tmp_path: Path) -> None:
    """sftp -b forbids password prompts (batch mode), so the commands come on stdin."""
    (tmp_path / "p.txt").write_text("password login\n")
    done = openssh(
        SFTP, port, account, tmp_path, f"{account.name}@127.0.0.1", password="pw",
        stdin="put p.txt\nrename p.txt q.txt\nls\nget q.txt r.txt\nrm q.txt\nls\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "q.txt" in done.stdout
    assert (tmp_path / "r.txt").read_text() == "password login\n"
    assert not (account.home / "q.txt").exists()


def test_aWrongPasswordIsRefused(port: int, account: Account, tmp_path: Path) -> None:
    done = openssh(SFTP, port, account, tmp_path, f"{account.name}@127.0.0.1", password="no")
    assert done.returncode != 0 and "Permission denied" in done.stderr


def test_scp20MiBBothWays(port: int, account: Account, tmp_path: Path) -> None:
    data = os.urandom(20 * 1024 * 1024)
    (tmp_path / "up.bin").write_bytes(data)
    target = f"{account.name}@127.0.0.1"
    up = openssh(SCP, port, account, tmp_path, "-s", "up.bin", f"{target}:big.bin", password="pw")
    assert up.returncode == 0, up.stderr
    stored = account.home / "big.bin"
    assert hashlib.sha256(stored.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert stored.stat().st_uid == account.uid
    down = openssh(SCP, port, account, tmp_path, "-s", f"{target}:/big.bin", "down.bin")
    assert down.returncode == 0, down.stderr
    assert (
        hashlib.sha256((tmp_path / "down.bin").read_bytes()).digest()
        == hashlib.sha256(data).digest()
    )
    stored.unlink()


def test_escapesAreRefused(port: int, account: Account, tmp_path: Path) -> None:
    (account.home / "out").symlink_to(account.outside)
    (account.home / "secretlink").symlink_to(account.outside / "secret")
    rootOnly = account.home / "rootonly"
    rootOnly.write_text("root's")
    rootOnly.chmod(0o600)  # owned by root: the user may not read it
    (tmp_path / "evil").write_text("x")
    try:
        attempts = {  # what sftp says when the server refuses
            "get ../outside/secret got1": "not found",
            "get /../../outside/secret got2": "not found",
            "get out/secret got3": "not found",
            "get secretlink got4": "not a regular file",
            "get rootonly got5": "Permission denied",  # the user's rights, not root's
            "put evil ../outside/evil": "Permission denied",
            "put evil out/evil": "Permission denied",
            "cd out": "not a directory",
            "cd ..": "leaves the root",
        }
        for attempt, refusal in attempts.items():
            done = sftpBatch(port, account, tmp_path, attempt + "\n")
            assert done.returncode != 0 and refusal in done.stderr, (attempt, done.stderr)
        target = f"{account.name}@127.0.0.1"
        copies = [
            (f"{target}:../outside/secret", "got6"),
            (f"{target}:out/secret", "got7"),
            ("evil", f"{target}:out/evil2"),
        ]
        for source, dest in copies:
            done = openssh(SCP, port, account, tmp_path, "-s", source, dest)
            assert done.returncode != 0, (source, dest)
        assert not [p for p in tmp_path.iterdir() if p.name.startswith("got")]
        assert sorted(p.name for p in account.outside.iterdir()) == ["secret"]
    finally:
        for name in ("out", "secretlink", "rootonly"):
            (account.home / name).unlink()


def test_sftpCanBeTurnedOff(account: Account, tmp_path: Path) -> None:
    listening = freePort()
    args = ["conch", "--listen", f"tcp:{listening}:interface=127.0.0.1", "--no-sftp",
            "--auth", f"memory:{account.name}:pw"]  # fmt: skip
    with runTorsiond(args, listening, tmp_path):
        done = sftpBatch(listening, account, tmp_path, "ls\n")
    assert done.returncode != 0
    assert "subsystem request failed" in done.stderr or "Connection closed" in done.stderr


def test_sftpRootPerUser(account: Account, tmp_path: Path) -> None:
    """--sftp-root with %u: each user their own directory, made by the administrator."""
    base = account.home.parent / "sftp"  # where the user may go (tmp_path is root's only)
    (base / account.name).mkdir(parents=True)
    os.chown(base / account.name, account.uid, -1)
    listening = freePort()
    args = ["conch", "--listen", f"tcp:{listening}:interface=127.0.0.1",
            "--sftp-root", f"{base}/%u", "--auth", f"memory:{account.name}:pw"]  # fmt: skip
    (tmp_path / "f.txt").write_text("dropped")
    with runTorsiond(args, listening, tmp_path):
        done = sftpBatch(listening, account, tmp_path, "put f.txt\nls\n")
    assert done.returncode == 0, done.stderr
    assert (base / account.name / "f.txt").read_text() == "dropped"
    assert not (account.home / "f.txt").exists()


def test_sftpRootOptions(tmp_path: Path) -> None:
    options = tap.Options()
    options.parseOptions(["--auth", "memory:a:b"])
    assert options["sftp-root"] == "~" and not options["no-sftp"]
    with pytest.raises(usage.UsageError, match="not a directory"):
        tap.Options().parseOptions(["--auth", "memory:a:b", "--sftp-root", str(tmp_path / "no")])
    options = tap.Options()
    options.parseOptions(["--auth", "memory:a:b", "--sftp-root", "/srv/nothere/%u"])
    assert options["sftp-root"] == "/srv/nothere/%u"  # checked per user, at login
