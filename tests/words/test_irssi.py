"""irssi (Debian's IRC client) talks to ``torsiond words``, driven through tmux.

irssi runs in a detached tmux session of its own (a private tmux socket in the test's
directory) with its own home directory, logging every window to files; the test types
its commands with ``tmux send-keys``. A raw-socket client in the same channel sees
what irssi sends, and irssi's logs show what it received: registration, join, channel
and private messages, an action, topic, nick change, part and quit.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.tap._torsiond import freePort, runTorsiond

pytestmark = pytest.mark.skipif(
    shutil.which("irssi") is None or shutil.which("tmux") is None,
    reason="irssi and tmux are needed (Debian packages irssi and tmux; .ci/run installs them)",
)


class Watcher:
    """A raw IRC client that collects what it hears."""

    def __init__(self, port: int, nick: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.settimeout(0.1)
        self.data = b""
        self.send(f"NICK {nick}", f"USER {nick} 0 * :{nick}")

    def send(self, *lines: str) -> None:
        self.sock.sendall("".join(x + "\r\n" for x in lines).encode())

    def heard(self, text: str) -> bool:
        try:
            while chunk := self.sock.recv(65536):
                self.data += chunk
        except TimeoutError:
            pass
        return text.encode() in self.data


def waitFor(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not seen within {timeout} seconds"
        time.sleep(0.1)


class Irssi:
    def __init__(self, directory: Path, port: int, nick: str) -> None:
        self.home = directory / "irssi-home"
        self.logs = directory / "irssi-logs"
        self.home.mkdir()
        self.logs.mkdir()
        (self.home / "config").write_text(
            "settings = {\n"
            f'  core = {{ real_name = "Irssi Tester"; user_name = "{nick}"; nick = "{nick}"; }};\n'
            '  "irc/core" = { cmd_queue_speed = "0msec"; cmds_max_at_once = "0"; };\n'
            '  "fe-common/core" = {\n'
            '    autolog = "yes";\n'
            f'    autolog_path = "{self.logs}/$0.log";\n'
            '    autolog_level = "all";\n'
            "  };\n"
            "};\n"
        )
        self.socket = directory / "tmux.sock"
        command = f"env TERM=screen irssi --home={self.home} -n {nick} -c 127.0.0.1 -p {port}"
        self.tmux("new-session", "-d", "-s", "irssi", "-x", "200", "-y", "50", command)

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-S", str(self.socket), *args], capture_output=True, timeout=10, check=True
        )
        return done.stdout.decode("utf-8", "replace")

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "irssi", "-l", text)
        self.tmux("send-keys", "-t", "irssi", "Enter")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "irssi")

    def logged(self, window: str, text: str) -> bool:
        path = self.logs / f"{window}.log"
        return path.exists() and text in path.read_text("utf-8", "replace")

    def close(self) -> None:
        subprocess.run(
            ["tmux", "-S", str(self.socket), "kill-server"], capture_output=True, timeout=10
        )


@pytest.fixture
def irssiAndWatcher(tmp_path: Path) -> Iterator[tuple[Irssi, Watcher]]:
    port = freePort()
    (tmp_path / "motd.txt").write_text("Welcome, irssi.\n")
    args = [
        "words",
        "--listen",
        str(port),
        "--group",
        "lobby",
        "--motd",
        str(tmp_path / "motd.txt"),
    ]
    with runTorsiond(args, port, tmp_path):
        watcher = Watcher(port, "watcher")
        watcher.send("JOIN #lobby")
        waitFor(lambda: watcher.heard(" 366 watcher #lobby "), "the watcher's join")
        irssi = Irssi(tmp_path, port, "fan")
        try:
            yield irssi, watcher
        finally:
            irssi.close()
            watcher.sock.close()


def test_irssiTalksToTheServer(irssiAndWatcher: tuple[Irssi, Watcher]) -> None:
    irssi, watcher = irssiAndWatcher

    def online() -> bool:
        watcher.send("ISON fan")
        return watcher.heard(" 303 watcher :fan")

    waitFor(online, "irssi registering")
    waitFor(lambda: "Welcome, irssi." in irssi.screen(), "the MOTD on irssi's screen")
    irssi.type("/join #lobby")
    waitFor(lambda: watcher.heard(":fan!fan@127.0.0.1 JOIN #lobby"), "irssi joining")
    irssi.type("hello from irssi")
    waitFor(
        lambda: watcher.heard(":fan!fan@127.0.0.1 PRIVMSG #lobby :hello from irssi"),
        "irssi talking",
    )
    watcher.send("PRIVMSG #lobby :hello, irssi", "PRIVMSG fan :just between us")
    waitFor(lambda: irssi.logged("#lobby", "hello, irssi"), "irssi hearing the channel")
    waitFor(lambda: irssi.logged("watcher", "just between us"), "irssi hearing a private message")
    irssi.type("/msg watcher a private answer")
    waitFor(
        lambda: watcher.heard(":fan!fan@127.0.0.1 PRIVMSG watcher :a private answer"),
        "irssi's /msg",
    )
    irssi.type("/me dances")
    waitFor(lambda: watcher.heard("PRIVMSG #lobby :\x01ACTION dances\x01"), "irssi's /me")
    watcher.send("MODE #lobby +o fan")
    waitFor(lambda: irssi.logged("#lobby", "+o fan"), "irssi seeing its op")
    irssi.type("/topic Chat about torsion")
    waitFor(
        lambda: watcher.heard(":fan!fan@127.0.0.1 TOPIC #lobby :Chat about torsion"),
        "irssi's topic",
    )
    watcher.send("TOPIC #lobby :Watcher's topic")
    waitFor(lambda: irssi.logged("#lobby", "Watcher's topic"), "irssi hearing a topic change")
    irssi.type("/nick fanatic")
    waitFor(lambda: watcher.heard(":fan!fan@127.0.0.1 NICK fanatic"), "irssi's nick change")
    irssi.type("/part #lobby bye all")
    waitFor(lambda: watcher.heard(":fanatic!fan@127.0.0.1 PART #lobby :bye all"), "irssi parting")
    irssi.type("/join #lobby")
    waitFor(lambda: watcher.heard(":fanatic!fan@127.0.0.1 JOIN #lobby"), "irssi joining again")
    irssi.type("/quit see you")
    waitFor(lambda: watcher.heard(":fanatic!fan@127.0.0.1 QUIT :Quit: see you"), "irssi quitting")
