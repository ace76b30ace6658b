"""Port forwarding through torsion's SSH server with OpenSSH's ssh: -L (direct-tcpip)
and -R (tcpip-forward) to an echo server, a refused destination, and the pack/unpack
helpers."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from zope.interface import implementer

from tests.conch.sshhelpers import SSH, needsSSH, serverFactory
from tests.conch.test_session import CommandUser
from tests.internet import reactormixins
from tests.internet.reactormixins import inThread, runUntil
from torsion.conch.interfaces import IConchUser
from torsion.conch.ssh import connection, forwarding, userauth
from torsion.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from torsion.cred.portal import IRealm, Portal
from torsion.internet.protocol import Factory, Protocol

oneReactor = reactormixins.oneReactor


class ForwardingCommandUser(CommandUser, forwarding.ForwardingUser):
    def __init__(self, reactor: Any, allowed: set[tuple[str, int]] | None) -> None:
        super().__init__(reactor)
        self.allowedForwards = allowed
        self.enableForwarding()


@implementer(IRealm)
class Realm:
    def __init__(self, reactor: Any, allowed: set[tuple[str, int]] | None = None) -> None:
        self.reactor = reactor
        self.allowed = allowed
        self.users: list[ForwardingCommandUser] = []

    def requestAvatar(self, avatarId: bytes, mind: object, *interfaces: Any) -> Any:
        user = ForwardingCommandUser(self.reactor, self.allowed)
        self.users.append(user)
        return IConchUser, user, user.stopForwarding


class Echo(Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Started:
    """ssh running in the background, with its stderr in a file."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process, self.log = process, log

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def sshServer(oneReactor: Any, tmp_path: Path) -> Iterator[tuple[Any, int, int, Realm]]:
    echo = oneReactor.listenTCP(0, Factory.forProtocol(Echo), interface="127.0.0.1")
    echoPort = echo.getHost().port
    realm = Realm(oneReactor)
    made = serverFactory(oneReactor)
    made.services = {
        b"ssh-userauth": userauth.SSHUserAuthServer,
        b"ssh-connection": connection.SSHConnection,
    }
    made.portal = Portal(realm, [InMemoryUsernamePasswordDatabaseDontUse(alice=b"pw")])
    port = oneReactor.listenTCP(0, made, interface="127.0.0.1")
    yield oneReactor, port.getHost().port, echoPort, realm
    port.stopListening()
    echo.stopListening()


def startSSH(tmp_path: Path, port: int, *options: str) -> Started:
    askpass = tmp_path / "askpass"
    askpass.write_text("#!/bin/sh\necho pw\n")
    askpass.chmod(0o700)
    log = tmp_path / "ssh.log"
    assert SSH is not None
    command = [
        SSH, "-v", "-N", "-F", "/dev/null", "-p", str(port),
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "PreferredAuthentications=password", "-o", "ExitOnForwardFailure=yes",
        "-o", "ConnectTimeout=10", *options, "alice@127.0.0.1",
    ]  # fmt: skip
    environment = {"SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"}
    with open(log, "wb") as stderr:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stderr=stderr, env=environment
        )
    return Started(process, log)


def echoThrough(port: int, payload: bytes) -> bytes:
    """Send ``payload`` through the forward while reading the echo, as a client would."""
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:

        def read() -> None:
            try:
                while chunk := sock.recv(65536):
                    received.extend(chunk)
                    if len(received) >= len(payload):
                        return
            except ConnectionResetError:
                return  # a refused forward: ssh resets the local connection

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        sock.sendall(payload)
        reader.join(20)
    return bytes(received)


def waitFor(reactor: Any, started: Started, pattern: str) -> re.Match[str]:
    found: list[re.Match[str]] = []

    def seen() -> bool:
        match = re.search(pattern, started.text())
        if match:
            found.append(match)
        return bool(match) or started.process.poll() is not None

    runUntil(reactor, seen, timeout=15)
    assert found, started.text()
    return found[0]


pytestmark = needsSSH


def test_localForwarding(sshServer: tuple[Any, int, int, Realm], tmp_path: Path) -> None:
    reactor, port, echoPort, _ = sshServer
    local = freePort()
    started = startSSH(tmp_path, port, "-L", f"{local}:127.0.0.1:{echoPort}")
    try:
        waitFor(reactor, started, r"Authenticated to")
        time.sleep(0.2)  # ssh starts listening just after it logs in
        payload = os.urandom(3_000_000)
        assert inThread(reactor, lambda: echoThrough(local, payload), timeout=30) == payload
    finally:
        started.process.terminate()
        started.process.wait(10)


def test_localForwardingToAPlaceNotAllowedIsRefused(
    sshServer: tuple[Any, int, int, Realm], tmp_path: Path
) -> None:
    reactor, port, echoPort, realm = sshServer
    realm.allowed = {("127.0.0.1", 1)}
    local = freePort()
    started = startSSH(tmp_path, port, "-L", f"{local}:127.0.0.1:{echoPort}")
    try:
        waitFor(reactor, started, r"Authenticated to")
        time.sleep(0.2)
        assert inThread(reactor, lambda: echoThrough(local, b"hello"), timeout=25) == b""
        waitFor(reactor, started, r"administratively prohibited|open failed")
    finally:
        started.process.terminate()
        started.process.wait(10)


def test_remoteForwarding(sshServer: tuple[Any, int, int, Realm], tmp_path: Path) -> None:
    reactor, port, echoPort, realm = sshServer
    started = startSSH(tmp_path, port, "-R", f"0:127.0.0.1:{echoPort}")
    try:
        match = waitFor(reactor, started, r"Allocated port (\d+) for remote forward")
        remote = int(match.group(1))
        payload = os.urandom(1_000_000)
        assert inThread(reactor, lambda: echoThrough(remote, payload), timeout=30) == payload
    finally:
        started.process.terminate()
        started.process.wait(10)
    runUntil(reactor, lambda: not realm.users[0].listeners, timeout=10)


def test_packingHelpers() -> None:
    data = forwarding.packOpen_direct_tcpip(("example.org", 80), ("192.0.2.9", 5555))
    assert forwarding.unpackOpen_direct_tcpip(data) == (("example.org", 80), ("192.0.2.9", 5555))
    request = forwarding.packGlobal_tcpip_forward(("", 0))
    assert forwarding.unpackGlobal_tcpip_forward(request) == ("", 0)
