"""Shared pieces of the SFTP tests: a system user made for the test (``account``), a
FileTransferClient on a child process's stdio, and an in-process `torsiond conch`
server with a logged-in torsion SSH client."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.internet.reactormixins import runUntilFired
from torsion.conch import tap
from torsion.conch.ssh import connection, filetransfer, transport, userauth
from torsion.conch.ssh.keys import Key
from torsion.internet import defer, protocol

ME = pwd.getpwuid(os.geteuid()).pw_name
SFTP_SERVER = next(
    (p for p in ("/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server")
     if os.access(p, os.X_OK)),
    None,
)  # fmt: skip


USERADD, USERDEL = shutil.which("useradd"), shutil.which("userdel")


@dataclass
class Account:
    name: str
    home: Path
    uid: int
    key: Key
    keyFile: Path
    outside: Path  # a directory next to the home, with a secret in it


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    if os.geteuid() != 0 or USERADD is None or USERDEL is None:
        pytest.skip("making a system user for the test needs root and useradd")
    base = Path(tempfile.mkdtemp(prefix="torsion-sftp-"))
    base.chmod(0o755)
    name = f"tsftp{os.getpid()}"
    home = base / "home"
    made = subprocess.run(
        [USERADD, "--home-dir", str(home), "--create-home", "--shell", "/bin/sh",
         "--user-group", "--password", "*", name],  # "*": no password, yet not locked
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    if made.returncode != 0:
        shutil.rmtree(base)
        pytest.skip(f"useradd failed: {made.stderr.strip()}")
    try:
        entry = pwd.getpwnam(name)
        for leftover in home.iterdir():  # /etc/skel's files
            leftover.unlink() if not leftover.is_dir() else shutil.rmtree(leftover)
        key = Key(ed25519.Ed25519PrivateKey.generate())
        ssh = home / ".ssh"
        ssh.mkdir(mode=0o700)
        (ssh / "authorized_keys").write_bytes(key.public().toString("openssh") + b"\n")
        for path in (ssh, ssh / "authorized_keys"):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        keyFile = base / "id_ed25519"
        keyFile.write_bytes(key.toString("openssh"))
        keyFile.chmod(0o600)
        outside = base / "outside"
        outside.mkdir()
        (outside / "secret").write_text("not for sftp")
        yield Account(name, home, entry.pw_uid, key, keyFile, outside)
    finally:
        subprocess.run([USERDEL, "--force", name], capture_output=True, timeout=30)
        shutil.rmtree(base, ignore_errors=True)


class StdioSFTP(protocol.ProcessProtocol):
    """Carries a FileTransferClient over a child's stdin and stdout."""

    def __init__(self, client: filetransfer.FileTransferClient) -> None:
        self.client = client
        self.ended: defer.Deferred[None] = defer.Deferred()

    def connectionMade(self) -> None:
        self.client.makeConnection(self.transport)

    def outReceived(self, data: bytes) -> None:
        self.client.dataReceived(data)

    def processEnded(self, reason: Any) -> None:
        self.client.connectionLost(reason)
        self.ended.callback(None)


def spawnSFTP(reactor: Any, argv: list[str]) -> tuple[filetransfer.FileTransferClient, StdioSFTP]:
    client = filetransfer.FileTransferClient()
    carrier = StdioSFTP(client)
    reactor.spawnProcess(carrier, argv[0], argv, env=dict(os.environ))
    return client, carrier


class _Started(connection.SSHConnection):
    def __init__(self, started: defer.Deferred[Any]) -> None:
        super().__init__()
        self.started = started

    def serviceStarted(self) -> None:
        super().serviceStarted()
        self.started.callback(self)


class _Auth(userauth.SSHUserAuthClient):
    def __init__(self, user: bytes, instance: Any, password: bytes | None, key: Key | None) -> None:
        super().__init__(user, instance)
        self.password, self.key = password, key

    def getPassword(self, prompt: bytes | None = None) -> Any:
        return None if self.password is None else defer.succeed(self.password)

    def getPublicKey(self) -> Any:
        return None if self.key is None else self.key.public()

    def getPrivateKey(self) -> Any:
        return defer.succeed(self.key)


class PinnedClient(transport.SSHClientTransport):
    """A client that trusts exactly one host key and logs in with a password or key."""

    def __init__(
        self, hostKey: bytes, user: bytes, password: bytes | None = None, key: Key | None = None
    ) -> None:
        super().__init__()
        self.hostKey, self.user, self.password, self.key = hostKey, user, password, key
        self.loggedIn: defer.Deferred[Any] = defer.Deferred()

    def verifyHostKey(self, hostKey: bytes, fingerprint: bytes) -> Any:
        if hostKey != self.hostKey:
            return defer.fail(ValueError("not the server's host key"))
        return defer.succeed(True)

    def connectionSecure(self) -> None:
        service = _Started(self.loggedIn)
        self.requestService(_Auth(self.user, service, self.password, self.key))


def logIn(reactor: Any, client: PinnedClient, port: int) -> Any:
    """Connect ``client`` to 127.0.0.1:port; its SSHConnection once logged in."""
    factory = protocol.ClientFactory.forProtocol(lambda: client)
    reactor.connectTCP("127.0.0.1", port, factory)
    return runUntilFired(reactor, client.loggedIn, timeout=15)


class ConchServer:
    """`torsiond conch`'s factory (the plugin's own makeFactory) listening in this
    process, its SFTP root a directory of the test; keeps the server's transports."""

    def __init__(self, reactor: Any, tmp: Path, root: Path, extra: Sequence[str] = ()) -> None:
        key = Key(ed25519.Ed25519PrivateKey.generate())
        keyFile = tmp / "host_key"
        keyFile.write_bytes(key.toString("openssh"))
        self.hostKey = key.public().blob()
        options = tap.Options()
        options.parseOptions(
            ["--host-key", str(keyFile), "--no-authorized-keys", "--auth", f"memory:{ME}:pw",
             "--sftp-root", str(root), *extra]
        )  # fmt: skip
        self.factory = tap.makeFactory(options, reactor)
        self.transports: list[Any] = []
        build = self.factory.buildProtocol

        def keep(address: Any) -> Any:
            made = build(address)
            self.transports.append(made)
            return made

        self.factory.buildProtocol = keep  # type: ignore[method-assign]
        self.port = reactor.listenTCP(0, self.factory, interface="127.0.0.1")
        self.reactor = reactor

    def connect(self, password: bytes = b"pw") -> tuple[PinnedClient, Any]:
        """A logged-in client and its SSHConnection service."""
        client = PinnedClient(self.hostKey, ME.encode(), password)
        return client, logIn(self.reactor, client, self.port.getHost().port)

    def stop(self) -> None:
        for made in self.transports:
            if made.transport is not None:
                made.transport.loseConnection()
        self.port.stopListening()
