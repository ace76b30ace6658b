"""OpenSSH's ssh logs in to torsion's ssh-userauth: password (through SSH_ASKPASS),
keyboard-interactive, publickey with a key file, and a wrong password refused.

The connection layer is a stand-in here, so a session cannot start; each test stops
at ssh's "Authenticated to" line, which it prints only after USERAUTH_SUCCESS.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conch.sshhelpers import SSH, needsSSH, serverFactory
from tests.conch.test_userauth import ALICE_KEY, Connection, portal
from tests.internet import reactormixins
from tests.internet.reactormixins import inThread
from torsion.conch.ssh import userauth

oneReactor = reactormixins.oneReactor


def ssh(reactor: Any, tmp_path: Path, *options: str, password: str = "") -> str:
    port = reactor.listenTCP(0, listening(reactor), interface="127.0.0.1")
    askpass = tmp_path / "askpass"
    askpass.write_text(f"#!/bin/sh\necho '{password}'\n")
    askpass.chmod(0o700)
    assert SSH is not None
    command = [
        SSH, "-v", "-F", "/dev/null", "-p", str(port.getHost().port),
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "IdentitiesOnly=yes", "-o", "NumberOfPasswordPrompts=1",
        "-o", "ConnectTimeout=10", *options, "alice@127.0.0.1", "true",
    ]  # fmt: skip
    environment = {"SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"}
    done = inThread(
        reactor,
        lambda: subprocess.run(
            command, capture_output=True, text=True, timeout=30, env=environment,
            stdin=subprocess.DEVNULL,
        ),
    )  # fmt: skip
    port.stopListening()
    return str(done.stderr)


def listening(reactor: Any) -> Any:
    made = serverFactory(reactor)
    made.services = {b"ssh-userauth": userauth.SSHUserAuthServer, b"ssh-connection": Connection}
    made.portal = portal()
    return made


@needsSSH
@pytest.mark.parametrize("method", ["password", "keyboard-interactive"])
def test_passwordLogins(oneReactor: Any, tmp_path: Path, method: str) -> None:
    Connection.started.clear()
    log = ssh(
        oneReactor, tmp_path, "-o", f"PreferredAuthentications={method}", password="wonderland"
    )
    assert f'using "{method}"' in log, log
    assert Connection.started


@needsSSH
def test_publicKeyLogin(oneReactor: Any, tmp_path: Path) -> None:
    Connection.started.clear()
    keyFile = tmp_path / "id_ed25519"
    keyFile.write_bytes(ALICE_KEY.toString("openssh"))
    keyFile.chmod(0o600)
    log = ssh(oneReactor, tmp_path, "-i", str(keyFile), "-o", "PreferredAuthentications=publickey")
    assert 'using "publickey"' in log, log
    assert "Server accepts key" in log
    assert Connection.started


@needsSSH
def test_wrongPasswordRefused(oneReactor: Any, tmp_path: Path) -> None:
    Connection.started.clear()
    log = ssh(oneReactor, tmp_path, "-o", "PreferredAuthentications=password", password="guess")
    assert "Permission denied" in log, log
    assert not Connection.started
