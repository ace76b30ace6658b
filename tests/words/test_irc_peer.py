"""IRCClient and the example bot against a real IRC server nobody here wrote: ngircd.

ngircd (Debian's ``ngircd``) runs as this module's own process, with its own config in
a temporary directory, on a free port of 127.0.0.1. The tests skip, saying why, if it
is not installed or does not start.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.internet.reactormixins import runUntil
from tests.words.test_irc_bot import EXAMPLE
from tests.words.test_irc_client_tcp import connectClient, oneReactor

__all__ = ["oneReactor"]

NGIRCD = shutil.which("ngircd") or (
    "/usr/sbin/ngircd" if os.path.exists("/usr/sbin/ngircd") else None
)

CONFIG = """\
[Global]
Name = irc.torsion.test
Info = torsion test server
AdminInfo1 = torsion tests
AdminInfo2 = here
AdminEMail = nobody@torsion.test
Listen = 127.0.0.1
Ports = {port}
MotdPhrase = "hello from ngircd"
[Limits]
PingTimeout = 120
PongTimeout = 20
MaxNickLength = 16
[Options]
DNS = no
Ident = no
PAM = no
"""


def freePort() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def waitForPort(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def ngircd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """An ngircd of our own on a free port; yields the port."""
    if NGIRCD is None:
        pytest.skip("ngircd is not installed (Debian package ngircd); apt-get install ngircd")
    directory = tmp_path_factory.mktemp("ngircd")
    directory.chmod(0o755)
    port = freePort()
    config = directory / "ngircd.conf"
    config.write_text(CONFIG.format(port=port))
    config.chmod(0o644)
    logPath = directory / "ngircd.log"
    with logPath.open("wb") as logFile:
        proc = subprocess.Popen(
            [NGIRCD, "-n", "-f", str(config)], stdout=logFile, stderr=subprocess.STDOUT
        )
    try:
        if not waitForPort(port, proc):
            pytest.skip(f"ngircd did not start: {Path(logPath).read_text(errors='replace')[-800:]}")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_twoClientsThroughNgircd(oneReactor: Any, ngircd: int) -> None:
    reactor = oneReactor
    events: list[tuple[Any, ...]] = []
    alice = connectClient(
        reactor,
        ngircd,
        "alice",
        events,
        clock=reactor,
        requestedCapabilities=["multi-prefix", "server-time"],
    )
    bob = connectClient(reactor, ngircd, "bob", events, clock=reactor)
    assert alice.capabilities == {"multi-prefix"}
    runUntil(reactor, lambda: any(e[:2] == ("motd", "bob") for e in events))
    motd = next(e[2] for e in events if e[:2] == ("motd", "alice"))
    assert any("hello from ngircd" in line for line in motd)
    assert alice.supported.getFeature("NICKLEN") == 16
    assert alice.supported.getFeature("PREFIX")["o"][0] == "@"
    assert alice.hostname == "irc.torsion.test"

    alice.join("#t")
    runUntil(reactor, lambda: ("joined", "alice", "#t") in events)
    bob.join("#t")
    runUntil(reactor, lambda: ("userJoined", "alice", "bob", "#t") in events)
    runUntil(reactor, lambda: any(e[:3] == ("names", "bob", "#t") for e in events))
    names = next(e[3] for e in events if e[:3] == ("names", "bob", "#t"))
    assert sorted(names) == ["@alice", "bob"]

    alice.topic("#t", "a topic: with colons")
    runUntil(reactor, lambda: ("topic", "bob", "#t", "a topic: with colons") in events)
    bob.say("#t", "hi all")
    bob.msg("alice", "hi alice, privately")
    alice.describe("#t", "waves")
    runUntil(reactor, lambda: ("action", "bob", "alice", "#t", "waves") in events)
    assert ("privmsg", "alice", "bob", "#t", "hi all") in events
    assert ("privmsg", "alice", "bob", "alice", "hi alice, privately") in events

    bob.ctcpMakeQuery("alice", [("VERSION", None)])
    runUntil(reactor, lambda: any(e[:2] == ("version", "bob") for e in events))
    version = next(e[2] for e in events if e[:2] == ("version", "bob"))
    assert version.startswith("torsion:")
    bob.ping("alice")
    runUntil(reactor, lambda: ("pong", "bob", "alice") in events)

    bob.whois("alice")
    runUntil(reactor, lambda: any(e[:3] == ("whois", "bob", "alice") for e in events))
    assert next(e[3] for e in events if e[:3] == ("whois", "bob", "alice")) == ["@#t"]

    alice.mode("#t", True, "o", user="bob")
    runUntil(reactor, lambda: ("mode", "bob", "#t", True, "o", ("bob",)) in events)
    alice.mode("#t", True, "l", limit=10)
    runUntil(reactor, lambda: ("mode", "bob", "#t", True, "l", ("10",)) in events)

    long = " ".join(f"word{i}" for i in range(500))
    bob.msg("alice", long)
    runUntil(
        reactor,
        lambda: (
            " ".join(
                e[4]
                for e in events
                if e[:4] == ("privmsg", "alice", "bob", "alice")
                if e[4].startswith("word")
            )
            == long
        ),
    )

    bob.setNick("robert")
    runUntil(reactor, lambda: ("userRenamed", "alice", "bob", "robert") in events)
    alice.kick("#t", "robert", "out you go")
    runUntil(reactor, lambda: ("kickedFrom", "robert", "#t", "alice", "out you go") in events)
    alice.leave("#t", "done")
    runUntil(reactor, lambda: ("left", "alice", "#t") in events)
    bob.quit("bye now")
    runUntil(reactor, lambda: bob.transport is None or not bob.connected)
    alice.quit()


def test_nickCollisionAtNgircd(oneReactor: Any, ngircd: int) -> None:
    reactor = oneReactor
    events: list[tuple[Any, ...]] = []
    first = connectClient(reactor, ngircd, "carol", events, clock=reactor)
    second = connectClient(
        reactor, ngircd, "carol", events, clock=reactor, fallbackNicknames=["carol2"]
    )
    assert (first.nickname, second.nickname) == ("carol", "carol2")
    for client in (first, second):
        client.quit()


def test_floodSafeQueueKeepsUsConnected(oneReactor: Any, ngircd: int) -> None:
    reactor = oneReactor
    events: list[tuple[Any, ...]] = []
    dave = connectClient(reactor, ngircd, "dave", events, clock=reactor)
    erin = connectClient(reactor, ngircd, "erin", events, clock=reactor, lineRate=0.25, lineBurst=3)
    for i in range(10):
        erin.msg("dave", f"line {i}")
    assert erin.queuedLines() > 0
    runUntil(reactor, lambda: ("privmsg", "dave", "erin", "dave", "line 9") in events, timeout=20)
    got = [e[4] for e in events if e[:4] == ("privmsg", "dave", "erin", "dave")]
    assert got == [f"line {i}" for i in range(10)]
    assert erin.connected
    for client in (dave, erin):
        client.quit()


def test_botProgramAnswersThroughNgircd(oneReactor: Any, ngircd: int) -> None:
    reactor = oneReactor
    proc = subprocess.Popen(
        [
            sys.executable,
            str(EXAMPLE),
            "--port",
            str(ngircd),
            "--nick",
            "pybot",
            "--channel",
            "#bots",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        events: list[tuple[Any, ...]] = []
        user = connectClient(reactor, ngircd, "frank", events, clock=reactor)
        user.join("#bots")
        runUntil(
            reactor,
            lambda: (
                ("userJoined", "frank", "pybot", "#bots") in events
                or any(e[:3] == ("names", "frank", "#bots") and "pybot" in e[3] for e in events)
            ),
            timeout=30,
        )
        user.say("#bots", "!echo through ngircd")
        runUntil(
            reactor,
            lambda: ("privmsg", "frank", "pybot", "#bots", "through ngircd") in events,
            timeout=10,
        )
        user.msg("pybot", "roll 2d6")
        runUntil(
            reactor,
            lambda: any(e[:4] == ("privmsg", "frank", "pybot", "frank") for e in events),
            timeout=10,
        )
        user.quit()
    finally:
        proc.terminate()
        output = proc.communicate(timeout=10)[0].decode(errors="replace")
    assert "signed on as pybot" in output
    assert "joined #bots" in output
