"""torsion's session channel, end to end with OpenSSH's ssh as the client: commands
with their output, stderr, stdin, exit statuses and signals; env requests; a pty
request with its window size. The avatar here runs commands with /bin/sh (the real
system-user avatar is torsion.conch.unix)."""

from __future__ import annotations

import os
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
from zope.interface import implementer

from tests.conch.sshhelpers import SSH, needsSSH, serverFactory
from tests.internet import reactormixins
from tests.internet.reactormixins import inThread
from torsion.conch.avatar import ConchUser
from torsion.conch.interfaces import IConchUser, ISession, ISessionSetEnv
from torsion.conch.ssh import connection, session, userauth
from torsion.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from torsion.cred.portal import IRealm, Portal

oneReactor = reactormixins.oneReactor


@implementer(ISession, ISessionSetEnv)
class CommandUser(ConchUser):
    def __init__(self, reactor: Any) -> None:
        super().__init__()
        self.reactor = reactor
        self.channelLookup[b"session"] = session.SSHSession
        self.env: dict[bytes, bytes] = {}
        self.pty: tuple[bytes, tuple[int, int, int, int]] | None = None
        self.process: Any = None

    def getPty(self, term: bytes, windowSize: tuple[int, int, int, int], modes: list[Any]) -> None:
        self.pty = (term, windowSize)

    def setEnv(self, name: bytes, value: bytes) -> None:
        if not name.startswith(b"TORSION_"):
            raise ValueError("only TORSION_ variables")
        self.env[name] = value

    def execCommand(self, proto: Any, command: bytes) -> None:
        env = {b"PATH": os.environb.get(b"PATH", b"/usr/bin:/bin"), **self.env}
        if self.pty is not None:
            env[b"PTY_SEEN"] = b"%s %d %d" % (self.pty[0], self.pty[1][0], self.pty[1][1])
        self.process = self.reactor.spawnProcess(
            proto, "/bin/sh", [b"/bin/sh", b"-c", command], env=env
        )

    def openShell(self, proto: Any) -> None:
        self.execCommand(proto, b"cat")

    def windowChanged(self, newWindowSize: tuple[int, int, int, int]) -> None:
        pass

    def eofReceived(self) -> None:
        if self.process is not None:
            self.process.closeStdin()

    def closed(self) -> None:
        if self.process is not None and self.process.pid is not None:
            self.process.signalProcess("KILL")


@implementer(IRealm)
class Realm:
    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor

    def requestAvatar(self, avatarId: bytes, mind: object, *interfaces: Any) -> Any:
        return IConchUser, CommandUser(self.reactor), lambda: None


def listen(reactor: Any) -> int:
    made = serverFactory(reactor)
    made.services = {
        b"ssh-userauth": userauth.SSHUserAuthServer,
        b"ssh-connection": connection.SSHConnection,
    }
    made.portal = Portal(Realm(reactor), [InMemoryUsernamePasswordDatabaseDontUse(alice=b"pw")])
    port = reactor.listenTCP(0, made, interface="127.0.0.1")
    return int(port.getHost().port)


def ssh(
    reactor: Any, tmp_path: Path, *args: str, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    port = listen(reactor)
    askpass = tmp_path / "askpass"
    askpass.write_text("#!/bin/sh\necho pw\n")
    askpass.chmod(0o700)
    assert SSH is not None
    command = [
        SSH, "-F", "/dev/null", "-p", str(port), "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "PreferredAuthentications=password",
        "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", *args,
    ]  # fmt: skip
    environment = {
        "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0",
        "TORSION_COLOUR": "blue", "LANG_UNSENT": "x", "TERM": "vt100",
    }  # fmt: skip
    return inThread(
        reactor,
        lambda: subprocess.run(
            command, input=stdin, capture_output=True, timeout=30, env=environment
        ),
        timeout=30,
    )


pytestmark = needsSSH


def test_execOutputStderrAndExitStatus(oneReactor: Any, tmp_path: Path) -> None:
    done = ssh(oneReactor, tmp_path, "alice@127.0.0.1", "echo out; echo err >&2; exit 3")
    assert done.stdout == b"out\n" and done.stderr == b"err\n"
    assert done.returncode == 3


def test_stdinReachesTheCommand(oneReactor: Any, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    done = ssh(oneReactor, tmp_path, "alice@127.0.0.1", "cat", stdin=data)
    assert done.returncode == 0 and done.stdout == data


def test_bigOutputArrivesWhole(oneReactor: Any, tmp_path: Path) -> None:
    done = ssh(oneReactor, tmp_path, "alice@127.0.0.1", "head -c 5000000 /dev/zero")
    assert done.returncode == 0 and done.stdout == bytes(5_000_000)


def test_exitSignal(oneReactor: Any, tmp_path: Path) -> None:
    done = ssh(oneReactor, tmp_path, "alice@127.0.0.1", "kill -TERM $$")
    assert done.returncode == 255  # ssh's way of saying "killed by a signal"


def test_envRequestsAreAskedOfTheSession(oneReactor: Any, tmp_path: Path) -> None:
    done = ssh(
        oneReactor, tmp_path, "-o", "SendEnv=TORSION_* LANG_UNSENT", "alice@127.0.0.1",
        'echo "$TORSION_COLOUR:$LANG_UNSENT"',
    )  # fmt: skip
    assert done.stdout == b"blue:\n"


def test_ptyRequestCarriesTheTerminal(oneReactor: Any, tmp_path: Path) -> None:
    done = ssh(oneReactor, tmp_path, "-tt", "alice@127.0.0.1", 'echo "$PTY_SEEN"')
    assert done.returncode == 0
    assert done.stdout.split()[0] == b"vt100"


def test_ptyRequestsParseAndPack() -> None:
    modes = struct.pack("!BL", 3, 127) + struct.pack("!BL", 128, 38400) + b"\x00"
    packed = session.packRequest_pty_req(b"xterm", (24, 80, 640, 480), modes)
    assert session.parseRequest_pty_req(packed) == (
        b"xterm",
        (24, 80, 640, 480),
        [(3, 127), (128, 38400)],
    )
    window = session.packRequest_window_change((50, 132, 0, 0))
    assert session.parseRequest_window_change(window) == (50, 132, 0, 0)
    with pytest.raises(ValueError):
        session.parseRequest_pty_req(
            session.packRequest_pty_req(b"x", (1, 1, 0, 0), b"\x01" * 5000)
        )
