"""Shared pieces of the SFTP tests: a FileTransferClient on a child process's stdio,
and an in-process `torsiond conch` server with a logged-in torsion SSH client."""

from __future__ import annotations

import os
import pwd
from pathlib import Path
from typing import Any

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


class _PasswordAuth(userauth.SSHUserAuthClient):
    def __init__(self, user: bytes, instance: Any, password: bytes) -> None:
        super().__init__(user, instance)
        self.password = password

    def getPassword(self, prompt: bytes | None = None) -> Any:
        return defer.succeed(self.password)


class PinnedClient(transport.SSHClientTransport):
    """A client that trusts exactly one host key and logs in with a password."""

    def __init__(self, hostKey: bytes, user: bytes, password: bytes) -> None:
        super().__init__()
        self.hostKey, self.user, self.password = hostKey, user, password
        self.loggedIn: defer.Deferred[Any] = defer.Deferred()

    def verifyHostKey(self, hostKey: bytes, fingerprint: bytes) -> Any:
        if hostKey != self.hostKey:
            return defer.fail(ValueError("not the server's host key"))
        return defer.succeed(True)

    def connectionSecure(self) -> None:
        self.requestService(_PasswordAuth(self.user, _Started(self.loggedIn), self.password))


class ConchServer:
    """`torsiond conch`'s factory (the plugin's own makeFactory) listening in this
    process, its SFTP root a directory of the test; keeps the server's transports."""

    def __init__(self, reactor: Any, tmp: Path, root: Path, extra: list[str] = ()) -> None:  # type: ignore[assignment]
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
        factory = protocol.ClientFactory.forProtocol(lambda: client)
        self.reactor.connectTCP("127.0.0.1", self.port.getHost().port, factory)
        conn = runUntilFired(self.reactor, client.loggedIn, timeout=15)
        return client, conn

    def stop(self) -> None:
        for made in self.transports:
            if made.transport is not None:
                made.transport.loseConnection()
        self.port.stopListening()
