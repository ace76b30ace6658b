"""``python -m torsion.conch.client`` run as a child process, as a user would, against
torsion's server (on 127.0.0.1, in the test's reactor) and OpenSSH's sshd: stdin,
stdout and stderr passed through (5 MiB, checked by sha256), the exit status as its
own, key files (encrypted too, with the passphrase from the environment), a password
from the environment, refusals (exit 255 and a message), unknown hosts refused or
accepted, bad command lines (exit 2)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conch import test_client_openssh
from tests.conch.test_endpoints import ALICE_KEY, STRANGER_KEY, Server, trusting
from tests.internet import reactormixins
from tests.internet.reactormixins import inThread
from torsion.conch.client.knownhosts import KnownHostsFile

oneReactor = reactormixins.oneReactor
sshd = test_client_openssh.sshd


def client(
    reactor: Any | None, *args: str, stdin: bytes = b"", **env: str
) -> subprocess.CompletedProcess[bytes]:
    """Run the program (with the reactor running meanwhile, when one is given)."""
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent", **env}
    command = [sys.executable, "-m", "torsion.conch.client", *args]

    def work() -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            command, input=stdin, capture_output=True, timeout=40, env=environment,
            start_new_session=True,  # no terminal: nothing may be asked on one
        )  # fmt: skip

    if reactor is None:
        return work()
    result: subprocess.CompletedProcess[bytes] = inThread(reactor, work, timeout=45)
    return result


@pytest.fixture
def server(oneReactor: Any) -> Any:
    made = Server(oneReactor)
    yield made
    made.port.stopListening()


def keyFile(tmp_path: Path, passphrase: bytes | None = None) -> str:
    path = tmp_path / "id_ed25519"
    path.write_bytes(ALICE_KEY.toString("openssh", passphrase=passphrase))
    path.chmod(0o600)
    return str(path)


def test_keyStdinStdoutAndExitStatus(oneReactor: Any, server: Server, tmp_path: Path) -> None:
    trusting(tmp_path / "known_hosts", server.portNumber)
    data = os.urandom(5 * 1024 * 1024)
    done = client(
        oneReactor, "-p", str(server.portNumber), "-i", keyFile(tmp_path),
        "--known-hosts", str(tmp_path / "known_hosts"),
        "alice@127.0.0.1", "sha256sum; echo done >&2; exit 3", stdin=data,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert done.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()
    assert done.stderr == b"done\n"


def test_outputAsBigAsInput(oneReactor: Any, server: Server, tmp_path: Path) -> None:
    trusting(tmp_path / "known_hosts", server.portNumber)
    data = os.urandom(5 * 1024 * 1024)
    done = client(
        oneReactor, "-p", str(server.portNumber), "-l", "alice", "-i", keyFile(tmp_path),
        "--known-hosts", str(tmp_path / "known_hosts"), "127.0.0.1", "cat", stdin=data,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == data


def test_encryptedKeyAndPassword(oneReactor: Any, server: Server, tmp_path: Path) -> None:
    trusting(tmp_path / "known_hosts", server.portNumber)
    common = ["-p", str(server.portNumber), "--known-hosts", str(tmp_path / "known_hosts")]
    path = keyFile(tmp_path, passphrase=b"open sesame")
    done = client(oneReactor, *common, "-i", path, "alice@127.0.0.1", "echo key",
                  TORSION_SSH_PASSPHRASE="open sesame")  # fmt: skip
    assert done.returncode == 0 and done.stdout == b"key\n", done.stderr
    done = client(oneReactor, *common, "alice@127.0.0.1", "echo password",
                  TORSION_SSH_PASSWORD="pw")  # fmt: skip
    assert done.returncode == 0 and done.stdout == b"password\n", done.stderr


def test_refusals(oneReactor: Any, server: Server, tmp_path: Path) -> None:
    trusting(tmp_path / "known_hosts", server.portNumber)
    common = ["-p", str(server.portNumber), "--known-hosts", str(tmp_path / "known_hosts")]
    done = client(oneReactor, *common, "alice@127.0.0.1", "true", TORSION_SSH_PASSWORD="no")
    assert done.returncode == 255 and b"no credential offered was accepted" in done.stderr
    stranger = tmp_path / "stranger"
    stranger.write_bytes(STRANGER_KEY.toString("openssh"))
    done = client(oneReactor, *common, "-i", str(stranger), "alice@127.0.0.1", "true")
    assert done.returncode == 255 and b"no credential" in done.stderr
    done = client(oneReactor, *common, "-i", str(tmp_path / "missing"), "alice@127.0.0.1", "x")
    assert done.returncode == 255 and b"skipping the key" in done.stderr


def test_aServerThatIsNotSSH(oneReactor: Any, tmp_path: Path) -> None:
    from torsion.internet import protocol

    class NotSSH(protocol.Protocol):
        def connectionMade(self) -> None:
            self.transport.write(b"220 an FTP server\r\n" * 80)

    port = oneReactor.listenTCP(0, protocol.Factory.forProtocol(NotSSH), interface="127.0.0.1")
    try:
        done = client(oneReactor, "-p", str(port.getHost().port), "--known-hosts",
                      str(tmp_path / "kh"), "alice@127.0.0.1", "true")  # fmt: skip
    finally:
        port.stopListening()
    assert done.returncode == 255
    assert done.stderr.endswith(
        b": the peer did not start with an SSH version (SSH disconnect reason 2)\n"
    ), done.stderr


def test_unknownHosts(oneReactor: Any, server: Server, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    common = ["-p", str(server.portNumber), "--known-hosts", str(known), "-i", keyFile(tmp_path)]
    # No terminal to ask on: "ask" refuses, as "yes" does.
    for checking in ("ask", "yes"):
        done = client(oneReactor, *common, "--strict-host-key-checking", checking,
                      "alice@127.0.0.1", "true")  # fmt: skip
        assert done.returncode == 255 and b"is not in" in done.stderr, done.stderr
    done = client(oneReactor, *common, "--strict-host-key-checking", "accept-new",
                  "alice@127.0.0.1", "echo trusted")  # fmt: skip
    assert done.returncode == 0 and done.stdout == b"trusted\n", done.stderr
    assert KnownHostsFile.fromPath(known).knownKeyTypes(f"[127.0.0.1]:{server.portNumber}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["host"], b"give the command"),
        (["-c", "rot13", "host", "x"], b"unknown cipher"),
        (["-p", "0", "host", "x"], b"not a TCP port"),
        (["--strict-host-key-checking", "maybe", "host", "x"], b"is one of"),
    ],
)
def test_badCommandLines(args: list[str], message: bytes) -> None:
    done = client(None, *args)
    assert done.returncode == 2 and message in done.stderr, done.stderr


def test_againstOpenSSH(sshd: Any, tmp_path: Path) -> None:
    trusting(tmp_path / "known_hosts", sshd.port)
    common = ["-p", str(sshd.port), "--known-hosts", str(tmp_path / "known_hosts")]
    data = os.urandom(3 * 1024 * 1024)
    done = client(None, *common, "-i", keyFile(tmp_path), "-c", "aes256-gcm@openssh.com",
                  f"{sshd.user}@127.0.0.1", "cat; exit 4", stdin=data)  # fmt: skip
    assert done.returncode == 4 and done.stdout == data, done.stderr
    done = client(None, *common, f"{sshd.user}@127.0.0.1", "echo $USER",
                  TORSION_SSH_PASSWORD=test_client_openssh.PASSWORD)  # fmt: skip
    assert done.stdout == sshd.user.encode() + b"\n", done.stderr


def test_passphraseOnlyForAKeyTheServerWants(
    oneReactor: Any, server: Server, tmp_path: Path
) -> None:
    """With .pub files, a refused key is never decrypted (its passphrase, which the
    environment does not have, is never needed)."""
    trusting(tmp_path / "known_hosts", server.portNumber)
    paths = []
    for name, key, passphrase in [("stranger", STRANGER_KEY, b"other"),
                                  ("alice", ALICE_KEY, b"open sesame")]:  # fmt: skip
        path = tmp_path / name
        path.write_bytes(key.toString("openssh", passphrase=passphrase))
        (tmp_path / f"{name}.pub").write_bytes(key.public().toString("openssh"))
        paths += ["-i", str(path)]
    done = client(
        oneReactor, "-p", str(server.portNumber), "--known-hosts", str(tmp_path / "known_hosts"),
        *paths, "alice@127.0.0.1", "echo in", TORSION_SSH_PASSPHRASE="open sesame",
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout == b"in\n", done.stderr
    assert b"skipping" not in done.stderr
