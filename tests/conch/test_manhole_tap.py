"""``torsiond manhole`` as a child process, with real clients: OpenSSH's ``ssh -tt``
driven through a pseudo-terminal and inside tmux (a real terminal emulator drawing
our escape sequences), and Python's telnetlib; wrong passwords refused, commands
refused, garbage from one client, the options' errors, the start-up warning.

The screen the user would see is rebuilt from the raw output with insults'
ClientProtocol and TerminalBuffer, so the tests check what is shown, not only bytes.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import select
import shlex
import shutil
import socket
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conch.sshhelpers import SSH, needsSSH
from tests.conch.terminalhelpers import screenOf
from tests.tap._torsiond import freePort, runTorsiond
from torsion.conch import manhole_tap, telnet
from torsion.cred import checkers
from torsion.internet.testing import StringTransport
from torsion.python import usage

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import telnetlib

USER, PASSWORD = "admin", "s3cret"


@pytest.fixture(scope="module")
def manholeServer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int, Path]]:
    directory = tmp_path_factory.mktemp("manhole")
    (directory / "manhole.passwd").write_text(f"# the manhole's users\n{USER}:{PASSWORD}\n")
    telnetPort, sshPort = freePort(), freePort()
    args = [
        "manhole", "--telnetPort", f"tcp:{telnetPort}", "--sshPort", str(sshPort),
        "--passwd", "manhole.passwd",
    ]  # fmt: skip
    with runTorsiond(args, sshPort, directory):
        yield telnetPort, sshPort, directory


class PtyClient:
    """A program on a pseudo-terminal that a test types into and reads from."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        self.process = subprocess.Popen(
            command, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        self.output = b""

    def expect(self, wanted: bytes, timeout: float = 15) -> bytes:
        deadline = time.monotonic() + timeout
        while wanted not in self.output:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"never saw {wanted!r}; got {self.output!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # the program ended and the pty closed
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"ended before {wanted!r}; got {self.output!r}")
                self.output += chunk
        return self.output

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def finish(self, timeout: float = 15) -> int:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                with contextlib.suppress(OSError):
                    self.output += os.read(self.master, 65536)
        if self.process.poll() is None:
            self.process.kill()
        code = self.process.wait(timeout=5)
        os.close(self.master)
        return code


def sshCommand(port: int, tmp_path: Path, password: str, *args: str) -> tuple[list[str], dict]:
    askpass = tmp_path / "askpass"
    askpass.write_text(f"#!/bin/sh\necho '{password}'\n")
    askpass.chmod(0o700)
    assert SSH is not None
    command = [
        SSH, "-F", "/dev/null", "-p", str(port), "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR",
        "-o", "NumberOfPasswordPrompts=1", "-o", "PreferredAuthentications=password",
        *args, f"{USER}@127.0.0.1",
    ]  # fmt: skip
    env = {"SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0",
           "TERM": "xterm", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}  # fmt: skip
    return command, env


@needsSSH
def test_sshSessionEvaluatesInTheServer(
    manholeServer: tuple[int, int, Path], tmp_path: Path
) -> None:
    """ssh -tt on a pty: expressions, state kept between lines, a multi-line block, a
    Deferred from the server's reactor shown when it fires, and Control-D to leave."""
    _, sshPort, _ = manholeServer
    command, env = sshCommand(sshPort, tmp_path, PASSWORD, "-tt")
    client = PtyClient(command, env)
    try:
        client.expect(b">>> ")
        client.type(b"answer = 6 * 7\r")
        client.type(b"answer\r")
        client.expect(b"42\r\n")
        client.type(b"for i in range(3):\r    print('line', i)\r\r")
        client.expect(b"line 2\r\n")
        client.type(b"import os; os.getpid()\r")
        client.type(b"from torsion.internet import reactor, task\r")
        client.type(b"task.deferLater(reactor, 0.2, lambda: 'later')\r")
        client.expect(b"Deferred #1 called back: 'later'")
        client.type(b"\x04")
        assert client.finish() == 0
    finally:
        if client.process.poll() is None:
            client.process.kill()
            client.process.wait()
    screen = screenOf(client.output)
    assert ">>> answer = 6 * 7\n>>> answer\n42\n" in screen
    assert "... " in screen and "line 0\nline 1\nline 2" in screen
    pidShown = screen.split(">>> import os; os.getpid()\n")[1].split("\n")[0]
    assert pidShown.isdigit() and int(pidShown) != os.getpid()  # the server's process
    assert "<Deferred #1>" in screen


_tmuxNumbers = itertools.count()


class Tmux:
    """tmux, a terminal emulator nobody here wrote, running one program in a detached
    80x24 window: keys are sent by name and the screen read back as tmux drew it."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        # A socket of its own: two tmux servers never meet, even one being killed.
        name = f"torsion-manhole-{os.getpid()}-{next(_tmuxNumbers)}"
        self.base = ["tmux", "-L", name, "-f", "/dev/null"]
        self.env = env
        self.run("new-session", "-d", "-x", "80", "-y", "24", shlex.join(command))

    def run(self, *args: str) -> str:
        done = subprocess.run([*self.base, *args], env=self.env, capture_output=True, timeout=20)
        if done.returncode != 0:
            raise AssertionError(f"tmux {args[0]} failed: {done.stderr.decode(errors='replace')}")
        return done.stdout.decode("utf-8", "replace")

    def screen(self) -> str:
        return self.run("capture-pane", "-p")

    def waitFor(self, wanted: str, timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = self.screen()
            if wanted in shown:
                return shown
            time.sleep(0.1)
        raise AssertionError(f"tmux never showed {wanted!r}:\n{self.screen()}")

    def close(self) -> None:
        with contextlib.suppress(AssertionError, subprocess.SubprocessError):
            self.run("kill-server")


@needsSSH
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is missing (apt-get install tmux)")
def test_aRealTerminalShowsTheEditedLines(
    manholeServer: tuple[int, int, Path], tmp_path: Path
) -> None:
    """Through ssh in tmux: what tmux draws from our escape sequences is the edited
    line, the output, and the history line brought back by Up."""
    _, sshPort, _ = manholeServer
    command, env = sshCommand(sshPort, tmp_path, PASSWORD, "-tt")
    terminal = Tmux(command, env)
    try:
        terminal.waitFor(">>>")
        terminal.run("send-keys", "-l", "word = 'hello'")
        terminal.run("send-keys", "Enter")
        terminal.run("send-keys", "-l", "print(word.uper())")
        terminal.run("send-keys", *["Left"] * 5, "p", "Home", "Delete", "P", "Enter")
        shown = terminal.waitFor("NameError: name 'Print' is not defined")
        assert ">>> Print(word.upper())" in shown, shown
        terminal.run("send-keys", "Up", "Home", "Delete", "p", "End", "BSpace", "BSpace")
        terminal.run("send-keys", "-l", ").lower())")
        terminal.run("send-keys", "Enter")
        shown = terminal.waitFor("hello\n>>>")
        assert ">>> print(word.upper().lower())\nhello\n" in shown, shown
    finally:
        terminal.close()


@pytest.mark.skipif(
    shutil.which("telnet") is None, reason="telnet is missing (apt-get install telnet)"
)
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is missing (apt-get install tmux)")
def test_theTelnetProgramInTmux(manholeServer: tuple[int, int, Path], tmp_path: Path) -> None:
    """The telnet program (inetutils) negotiates character mode with the server (we
    echo, it does not), so the line editor's keys work in it too."""
    telnetPort, _, _ = manholeServer
    env = {"TERM": "xterm", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    terminal = Tmux(["telnet", "127.0.0.1", str(telnetPort)], env)
    try:
        terminal.waitFor("Username:")
        terminal.run("send-keys", "-l", USER)
        terminal.run("send-keys", "Enter")
        terminal.waitFor("Password:")
        terminal.run("send-keys", "-l", PASSWORD)
        terminal.run("send-keys", "Enter")
        shown = terminal.waitFor(">>>")
        assert PASSWORD not in shown  # not echoed
        terminal.run("send-keys", "-l", "2 ** 9")
        terminal.run("send-keys", "BSpace", "8", "Home", "Delete", "3", "Enter")
        shown = terminal.waitFor("6561")
        assert ">>> 3 ** 8\n6561\n>>>" in shown, shown
    finally:
        terminal.close()


@needsSSH
def test_sshWrongPasswordIsRefused(manholeServer: tuple[int, int, Path], tmp_path: Path) -> None:
    _, sshPort, _ = manholeServer
    command, env = sshCommand(sshPort, tmp_path, "guess", "-T")
    done = subprocess.run([*command, "1"], capture_output=True, env=env, timeout=30)
    assert done.returncode == 255 and b"Permission denied" in done.stderr, done.stderr


@needsSSH
def test_sshCommandsAreRefused(manholeServer: tuple[int, int, Path], tmp_path: Path) -> None:
    _, sshPort, _ = manholeServer
    command, env = sshCommand(sshPort, tmp_path, PASSWORD, "-T")
    done = subprocess.run([*command, "print(1)"], capture_output=True, env=env, timeout=30)
    assert done.returncode == 1 and b"runs no commands" in done.stderr, done.stderr


def telnetLogin(port: int, password: str) -> telnetlib.Telnet:
    session = telnetlib.Telnet("127.0.0.1", port, timeout=10)
    session.read_until(b"Username: ", timeout=10)
    session.write(USER.encode() + b"\r\n")
    session.read_until(b"Password: ", timeout=10)
    session.write(password.encode() + b"\r\n")
    return session


def test_telnetSessionEvaluates(manholeServer: tuple[int, int, Path]) -> None:
    telnetPort, _, _ = manholeServer
    session = telnetLogin(telnetPort, PASSWORD)
    try:
        shown = session.read_until(b">>> ", timeout=10)
        assert shown.endswith(b">>> "), shown
        session.write(b"words = ['torsion', 'manhole']\r\n")
        session.write(b"' '.join(w.upper() for w in words)\r\n")
        shown = session.read_until(b"'TORSION MANHOLE'", timeout=10)
        assert shown.endswith(b"'TORSION MANHOLE'"), shown
        session.write(b"1 / 0\r\n")
        shown = session.read_until(b"ZeroDivisionError: division by zero", timeout=10)
        assert shown.endswith(b"division by zero"), shown
        session.write(b"\x04")
        session.read_all()  # ends when the server closes the connection
    finally:
        session.close()


def test_telnetWrongPasswordIsRefused(manholeServer: tuple[int, int, Path]) -> None:
    telnetPort, _, _ = manholeServer
    session = telnetLogin(telnetPort, "guess")
    try:
        shown = session.read_until(b"Username: ", timeout=10)
        assert b"Authentication failed" in shown and b">>>" not in shown, shown
    finally:
        session.close()


def drainQuietly(session: telnetlib.Telnet) -> None:
    with contextlib.suppress(OSError, EOFError):
        session.read_all()


def test_garbageFromOneClientLeavesTheOthersServed(manholeServer: tuple[int, int, Path]) -> None:
    """A logged-in client sends random bytes and a 100 KB line, another sends garbage
    instead of logging in; a third still gets its answers."""
    telnetPort, _, _ = manholeServer
    noise = random.Random(14).randbytes(20000)
    hostile = telnetLogin(telnetPort, PASSWORD)
    stranger = socket.create_connection(("127.0.0.1", telnetPort), timeout=10)
    try:
        hostile.read_until(b">>> ", timeout=10)
        # Read the echo meanwhile: the server stops reading a client that does not
        # read what it is sent (its output is bounded), which would block sendall.
        drain = threading.Thread(target=drainQuietly, args=(hostile,), daemon=True)
        drain.start()
        hostile.get_socket().sendall(noise + b"x" * 100_000 + b"\r\n")
        stranger.sendall(noise)
        session = telnetLogin(telnetPort, PASSWORD)
        try:
            session.read_until(b">>> ", timeout=10)
            session.write(b"sum(range(101))\r\n")
            shown = session.read_until(b"5050", timeout=10)
            assert shown.endswith(b"5050"), shown
        finally:
            session.close()
    finally:
        hostile.close()
        stranger.close()


def test_startUpWarnsAndListensLocally(tmp_path: Path) -> None:
    telnetPort = freePort()
    logged: list[str] = []
    args = ["manhole", "--telnetPort", str(telnetPort), "--auth", "memory:admin:pw"]
    with runTorsiond(args, telnetPort, tmp_path, output=logged):
        pass
    assert "whoever logs in gets a Python shell" in logged[0], logged[0]
    options = manhole_tap.Options()
    options.parseOptions(["--telnetPort", "tcp:4040", "--sshPort", "2223", "--auth", "memory:a:b"])
    assert options["telnetPort"] == "tcp:4040:interface=127.0.0.1"
    assert options["sshPort"] == "tcp:2223:interface=127.0.0.1"
    options = manhole_tap.Options()
    options.parseOptions(["--telnetPort", "tcp:4040:interface=0.0.0.0", "--auth", "memory:a:b"])
    assert options["telnetPort"] == "tcp:4040:interface=0.0.0.0"
    assert manhole_tap._localByDefault("tcp6:4040") == r"tcp6:4040:interface=\:\:1"
    assert manhole_tap._localByDefault("unix:/run/manhole.sock") == "unix:/run/manhole.sock"


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--passwd", "/dev/null"], "give --telnetPort or --sshPort"),
        (["--telnetPort", "4040"], "nobody could log in"),
        (["--sshPort", "2223", "--passwd", "/no/such/file"], "no such file"),
        (["--sshPort", "nonsense:1", "--auth", "memory:a:b"], "--sshPort"),
    ],
)
def test_optionErrors(args: list[str], complaint: str) -> None:
    with pytest.raises(usage.UsageError, match=complaint):
        manhole_tap.Options().parseOptions(args)


def test_theHostKeyIsMadeOnceAndKept(tmp_path: Path) -> None:
    made = manhole_tap.loadHostKey(str(tmp_path), "server.key")
    assert (tmp_path / "server.key").stat().st_mode & 0o777 == 0o600
    assert manhole_tap.loadHostKey(str(tmp_path), "server.key") == made
    (tmp_path / "public.key").write_bytes(made.public().toString("openssh"))
    with pytest.raises(usage.UsageError, match="public key"):
        manhole_tap.loadHostKey(str(tmp_path), "public.key")


def test_echoIsAskedForAgainAfterTheLogin() -> None:
    """Without sockets: the login turns echo off after the password, and the manhole's
    terminal asks for it again once the client has answered."""
    users = checkers.InMemoryUsernamePasswordDatabaseDontUse(admin="pw")
    layer = manhole_tap.makeTelnetFactory([users], {}).buildProtocol(None)
    wire = StringTransport()
    layer.makeConnection(wire)
    layer.dataReceived(b"admin\r\n")
    assert telnet.IAC + telnet.WILL + telnet.ECHO in wire.value()
    layer.dataReceived(telnet.IAC + telnet.DO + telnet.ECHO + b"pw\r\n")
    assert telnet.IAC + telnet.WONT + telnet.ECHO in wire.value()
    wire.clear()
    layer.dataReceived(telnet.IAC + telnet.DONT + telnet.ECHO)
    assert telnet.IAC + telnet.WILL + telnet.ECHO in wire.value()
    layer.dataReceived(telnet.IAC + telnet.DO + telnet.ECHO)
    assert layer.getOptionState(telnet.ECHO).us.state == "yes"
