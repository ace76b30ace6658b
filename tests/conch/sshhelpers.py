"""Shared pieces of the SSH tests: host keys, a stand-in userauth service, transports
wired to each other in memory, and OpenSSH's programs as peers."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from torsion.conch.ssh import factory, service, transport
from torsion.conch.ssh.common import NS
from torsion.conch.ssh.keys import Key
from torsion.internet import defer, task
from torsion.internet.testing import StringTransport

HOST_KEYS = {
    b"ssh-ed25519": Key(ed25519.Ed25519PrivateKey.generate()),
    b"ecdsa-sha2-nistp256": Key(ec.generate_private_key(ec.SECP256R1())),
    b"ecdsa-sha2-nistp384": Key(ec.generate_private_key(ec.SECP384R1())),
    b"ecdsa-sha2-nistp521": Key(ec.generate_private_key(ec.SECP521R1())),
    b"ssh-rsa": Key(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
}
SSH = shutil.which("ssh")
SSHD = shutil.which("sshd") or (
    "/usr/sbin/sshd" if shutil.which("sshd", path="/usr/sbin") else None
)
needsSSH = pytest.mark.skipif(SSH is None, reason="OpenSSH's ssh (openssh-client) is missing")
needsSSHD = pytest.mark.skipif(SSHD is None, reason="OpenSSH's sshd (openssh-server) is missing")

MSG_USERAUTH_REQUEST, MSG_USERAUTH_FAILURE = 50, 51


class RefusingUserAuth(service.SSHService):
    """An ssh-userauth that says no to everyone (so clients stop after the handshake)
    and records what it was asked."""

    name = b"ssh-userauth"
    protocolMessages = {MSG_USERAUTH_REQUEST: "USERAUTH_REQUEST"}
    started: list[RefusingUserAuth] = []

    def __init__(self) -> None:
        self.requests: list[bytes] = []

    def serviceStarted(self) -> None:
        RefusingUserAuth.started.append(self)

    def ssh_USERAUTH_REQUEST(self, packet: bytes) -> None:
        self.requests.append(packet)
        self.transport.sendPacket(MSG_USERAUTH_FAILURE, NS(b"publickey") + b"\0")


class AskingUserAuth(service.SSHService):
    """A client-side ssh-userauth that sends one "none" request and keeps the answer."""

    name = b"ssh-userauth"
    protocolMessages = {MSG_USERAUTH_FAILURE: "USERAUTH_FAILURE"}

    def __init__(self) -> None:
        self.failures: list[bytes] = []

    def serviceStarted(self) -> None:
        self.transport.sendPacket(
            MSG_USERAUTH_REQUEST, NS(b"nobody") + NS(b"ssh-connection") + NS(b"none")
        )

    def ssh_USERAUTH_FAILURE(self, packet: bytes) -> None:
        self.failures.append(packet)


def serverFactory(clock: Any = None, **attributes: Any) -> factory.SSHFactory:
    made = factory.SSHFactory()
    made.privateKeys = dict(HOST_KEYS)
    made.services = {b"ssh-userauth": RefusingUserAuth}
    made.clock = clock or task.Clock()
    for name, value in attributes.items():
        setattr(made, name, value)
    made.doStart()
    return made


class TrustingClient(transport.SSHClientTransport):
    """A client that accepts (and records) any host key, then asks for ssh-userauth."""

    def __init__(self, trust: bool = True) -> None:
        super().__init__()
        self.trust = trust
        self.hostKeys: list[bytes] = []
        self.secure = False
        self.userauth = AskingUserAuth()
        self.errors: list[tuple[int, bytes]] = []

    def verifyHostKey(self, hostKey: bytes, fingerprint: bytes) -> Any:
        self.hostKeys.append(hostKey)
        return defer.succeed(True) if self.trust else defer.fail(ValueError("not trusted"))

    def connectionSecure(self) -> None:
        self.secure = True
        self.requestService(self.userauth)

    def receiveError(self, reasonCode: int, description: bytes) -> None:
        self.errors.append((reasonCode, description))


def pump(a: Any, aWire: StringTransport, b: Any, bWire: StringTransport) -> None:
    """Move bytes between two protocols until both are quiet (bounded)."""
    for _ in range(100):
        toB, toA = aWire.value(), bWire.value()
        aWire.clear()
        bWire.clear()
        if not toA and not toB:
            return
        if toB and not getattr(bWire, "disconnecting", False):
            b.dataReceived(toB)
        if toA and not getattr(aWire, "disconnecting", False):
            a.dataReceived(toA)
    raise AssertionError("the two sides never stopped talking")


def connectedPair(
    client: Any = None, **serverAttributes: Any
) -> tuple[Any, StringTransport, Any, StringTransport]:
    """A server and a client transport, each on an in-memory wire, handshake done."""
    clock = task.Clock()
    server = serverFactory(clock).buildProtocol(None)
    for name, value in serverAttributes.items():
        setattr(server, name, value)
    client = client or TrustingClient()
    client.clock = clock
    serverWire, clientWire = StringTransport(), StringTransport()
    server.makeConnection(serverWire)
    client.makeConnection(clientWire)
    pump(server, serverWire, client, clientWire)
    return server, serverWire, client, clientWire


@contextmanager
def runningSSHD(directory: Path, extraConfig: str = "") -> Iterator[int]:
    """OpenSSH's sshd on a free port of 127.0.0.1 with HOST_KEYS' ed25519 key and its
    own configuration (plus ``extraConfig`` lines) in ``directory``: yields the port.
    Skips the test where sshd is missing or cannot run (it must run as root)."""
    from tests.tap._torsiond import freePort

    if SSHD is None:
        pytest.skip("OpenSSH's sshd (openssh-server) is missing")
    if os.geteuid() != 0:
        pytest.skip("sshd runs only as root here (it checks its own privilege separation)")
    hostKeyFile = directory / "host_ed25519"
    hostKeyFile.write_bytes(HOST_KEYS[b"ssh-ed25519"].toString("openssh"))
    hostKeyFile.chmod(0o600)
    port = freePort()
    config = directory / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {hostKeyFile}\nPidFile none\n"
        "UsePAM no\nStrictModes no\nLogLevel VERBOSE\n" + extraConfig
    )
    Path("/run/sshd").mkdir(exist_ok=True)
    process = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stderr is not None
        for _ in range(50):
            line = process.stderr.readline()
            if "Server listening" in line or not line:
                break
        if process.poll() is not None:
            pytest.skip(f"sshd did not start: {process.stderr.read()[-500:]}")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
