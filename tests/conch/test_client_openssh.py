"""torsion's SSH client (SSHCommandClientEndpoint) against OpenSSH's sshd, started
here on a free port of 127.0.0.1 with its own configuration, host key and a system
user made for the tests (a password in /etc/shadow, a key in an authorized_keys
file): commands with output, stdin/EOF, exit statuses and signals; password and
publickey logins; wrong credentials refused in one attempt; unknown and changed host
keys refused; a second command over the same connection."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.conch.sshhelpers import HOST_KEYS, runningSSHD
from tests.conch.test_endpoints import (
    ALICE_KEY,
    READ_A_LINE,
    STRANGER_KEY,
    CommandOutput,
    checkTwoCommands,
    failureOf,
    knownHostsWith,
    run,
    trusting,
)
from tests.conch.test_userauth import ALICE_RSA
from tests.internet import reactormixins
from torsion.conch.client.knownhosts import KnownHostsFile, hostKeyName
from torsion.conch.endpoints import AuthenticationFailed, SSHCommandClientEndpoint
from torsion.conch.error import HostKeyChanged, UserRejectedKey
from torsion.conch.ssh.keys import Key
from torsion.internet import protocol
from torsion.internet.error import ProcessDone, ProcessTerminated

oneReactor = reactormixins.oneReactor
PASSWORD = "Torsion-sshd-test-1"


class SSHD(NamedTuple):
    port: int
    user: str
    directory: Path


@pytest.fixture(scope="module")
def sshd() -> Iterator[SSHD]:
    if os.geteuid() != 0:
        pytest.skip("making a system user for sshd needs root")
    # Not under pytest's temporary directory: sshd reads the keys as the user, who
    # must be able to reach them (and their home).
    directory = Path(tempfile.mkdtemp(prefix="torsion-sshd-"))
    directory.chmod(0o755)
    user = f"torsionc{os.getpid()}"
    for _ in range(10):  # another test process may hold /etc/passwd's lock a moment
        made = subprocess.run(
            ["useradd", "-M", "-d", str(directory), "-s", "/bin/sh", user],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        if "lock" not in made.stderr:
            break
        time.sleep(0.5)
    if made.returncode != 0:
        pytest.skip(f"cannot make a user for sshd: {made.stderr.strip()}")
    try:
        subprocess.run(
            ["chpasswd"], input=f"{user}:{PASSWORD}\n", text=True, check=True, timeout=30
        )
        keys = directory / "authorized_keys"
        keys.write_bytes(
            b"".join(key.public().toString("openssh") + b"\n" for key in (ALICE_KEY, ALICE_RSA))
        )
        config = (
            f"AuthorizedKeysFile {keys}\nAllowUsers {user}\nPasswordAuthentication yes\n"
            "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
            "RekeyLimit 1M\n"  # sshd starts key re-exchanges with our client
        )
        with runningSSHD(directory, config) as port:
            yield SSHD(port, user, directory)
    finally:
        subprocess.run(["userdel", user], capture_output=True, timeout=30)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def known(tmp_path: Path, sshd: SSHD) -> KnownHostsFile:
    return trusting(tmp_path / "known_hosts", sshd.port)


def endpoint(
    reactor: Any, sshd: SSHD, command: bytes, known: KnownHostsFile, **kw: Any
) -> SSHCommandClientEndpoint:
    kw.setdefault("password", PASSWORD)
    return SSHCommandClientEndpoint.newConnection(
        reactor, command, sshd.user, "127.0.0.1", sshd.port, knownHosts=known, **kw
    )


def test_execWithExitStatus(oneReactor: Any, sshd: SSHD, known: Any) -> None:
    proto, reason = run(oneReactor, endpoint(oneReactor, sshd, b"id -un; echo err >&2", known))
    assert bytes(proto.out) == sshd.user.encode() + b"\n"
    assert bytes(proto.err) == b"err\n"
    assert reason.check(ProcessDone)
    _, reason = run(oneReactor, endpoint(oneReactor, sshd, b"exit 7", known))
    assert reason.check(ProcessTerminated) and reason.value.exitCode == 7


def test_killedBySignal(oneReactor: Any, sshd: SSHD, known: Any) -> None:
    _, reason = run(oneReactor, endpoint(oneReactor, sshd, b"kill -TERM $$", known))
    assert reason.check(ProcessTerminated) and reason.value.signal == 15


def test_stdinAndStdout(oneReactor: Any, sshd: SSHD, known: Any) -> None:
    data = os.urandom(3 * 1024 * 1024)  # past sshd's first window
    ep = endpoint(oneReactor, sshd, b"sha256sum; cat >/dev/null", known)
    proto, reason = run(oneReactor, ep, stdin=data)
    assert bytes(proto.out).split()[0].decode() == hashlib.sha256(data).hexdigest()
    assert reason.check(ProcessDone)
    echoed, reason = run(oneReactor, endpoint(oneReactor, sshd, b"cat", known), stdin=data)
    assert bytes(echoed.out) == data and reason.check(ProcessDone)
    # 6 MiB went through, and sshd re-exchanged keys every MiB (RekeyLimit).
    assert echoed.transport.conn.transport._bytesSinceKex < 2 * 1024 * 1024


@pytest.mark.parametrize("key", [ALICE_KEY, ALICE_RSA], ids=["ed25519", "rsa-sha2"])
def test_publicKeyLogin(oneReactor: Any, sshd: SSHD, known: Any, key: Key) -> None:
    ep = endpoint(oneReactor, sshd, b"echo key", known, password=None, keys=[key])
    proto, reason = run(oneReactor, ep)
    assert bytes(proto.out) == b"key\n" and reason.check(ProcessDone)


def test_wrongKeyThenRightKey(oneReactor: Any, sshd: SSHD, known: Any) -> None:
    ep = endpoint(oneReactor, sshd, b"echo second", known, password=None,
                  keys=[STRANGER_KEY, ALICE_KEY])  # fmt: skip
    proto, _ = run(oneReactor, ep)
    assert bytes(proto.out) == b"second\n"


@pytest.mark.parametrize(
    "credentials", [{"password": "wrong"}, {"password": None, "keys": [STRANGER_KEY]}]
)
def test_wrongCredentialsRefusedPromptly(
    oneReactor: Any, sshd: SSHD, known: Any, credentials: dict[str, Any]
) -> None:
    ep = endpoint(oneReactor, sshd, b"true", known, **credentials)
    started = time.monotonic()
    failure = failureOf(oneReactor, ep.connect(protocol.Factory.forProtocol(CommandOutput)))
    assert failure.check(AuthenticationFailed), failure
    assert time.monotonic() - started < 15


def test_unknownHostRefused(oneReactor: Any, sshd: SSHD, tmp_path: Path) -> None:
    known = KnownHostsFile.fromPath(tmp_path / "known_hosts")
    ep = endpoint(oneReactor, sshd, b"true", known)
    failure = failureOf(oneReactor, ep.connect(protocol.Factory.forProtocol(CommandOutput)))
    assert failure.check(UserRejectedKey)
    fingerprint = HOST_KEYS[b"ssh-ed25519"].fingerprint("sha256-base64")
    assert fingerprint in str(failure.value)


def test_changedHostKeyRefused(oneReactor: Any, sshd: SSHD, tmp_path: Path) -> None:
    other = Key(ed25519.Ed25519PrivateKey.generate())
    name = hostKeyName("127.0.0.1", sshd.port)
    known = knownHostsWith(tmp_path / "known_hosts", name, other)
    ep = endpoint(oneReactor, sshd, b"true", known)
    failure = failureOf(oneReactor, ep.connect(protocol.Factory.forProtocol(CommandOutput)))
    assert failure.check(HostKeyChanged) and "has changed" in str(failure.value)


def test_twoCommandsOneConnection(oneReactor: Any, sshd: SSHD, known: Any) -> None:
    checkTwoCommands(oneReactor, endpoint(oneReactor, sshd, READ_A_LINE, known))
