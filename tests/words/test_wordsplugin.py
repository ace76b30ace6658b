"""``torsiond words`` (torsion/plugins/torsion_words.py, torsion/words/tap.py).

The options are parsed directly; the server runs for real as a child process on a
free port of 127.0.0.1, and its clients are the ``irc`` library from PyPI (an IRC
client nobody here wrote) and raw sockets: registration, channels, private messages,
topic, part and quit; SASL PLAIN and PASS through ``--auth``; malformed lines from one
client while the others go on talking, nobody disconnected.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.tap._torsiond import freePort, runTorsiond
from torsion.application.service import IServiceMaker
from torsion.cred import checkers
from torsion.plugin import getPlugins
from torsion.python import usage
from torsion.words import service, tap

ircClient = pytest.importorskip("irc.client", reason="the irc library (test extra) is missing")


def parse(*args: str) -> tap.Options:
    options = tap.Options()
    options.parseOptions(list(args))
    return options


# -- options ----------------------------------------------------------------------------


def test_pluginIsFound() -> None:
    (maker,) = [p for p in getPlugins(IServiceMaker) if p.tapname == "words"]
    assert maker.options is tap.Options


def test_defaults() -> None:
    options = parse()
    assert options["listen"] == [tap.DEFAULT_LISTEN] and options["groups"] == []
    assert options["motdText"] is None and options["credCheckers"] == []


def test_listenAndIrcPortAccumulate() -> None:
    options = parse("--irc-port", "6000", "--listen", "tcp:7000:interface=0.0.0.0")
    assert options["listen"] == ["tcp:6000:interface=127.0.0.1", "tcp:7000:interface=0.0.0.0"]


def test_badListenIsAUsageError() -> None:
    with pytest.raises(usage.UsageError, match="--listen 'nonsense:1'"):
        parse("--listen", "nonsense:1")


@pytest.mark.parametrize("name", ["", "#", "a b", "a,b", "x" * 50])
def test_badGroupIsAUsageError(name: str) -> None:
    with pytest.raises(usage.UsageError, match="a channel name is 1 to 49 characters"):
        parse("--group", name)


def test_motdIsReadAtStart(tmp_path: Path) -> None:
    motd = tmp_path / "motd.txt"
    motd.write_bytes("Welcome \u2603\nline 2\n".encode())
    assert parse("--motd", str(motd))["motdText"] == "Welcome \u2603\nline 2\n"
    with pytest.raises(usage.UsageError, match="cannot read it"):
        parse("--motd", str(tmp_path / "missing.txt"))
    motd.write_bytes(b"x" * (tap.MAX_MOTD_BYTES + 1))
    with pytest.raises(usage.UsageError, match="is over"):
        parse("--motd", str(motd))


def test_passwdIsAFileChecker(tmp_path: Path) -> None:
    passwd = tmp_path / "irc.passwd"
    passwd.write_text("alice:secret\n")
    options = parse("--passwd", str(passwd))
    assert isinstance(options["credCheckers"][0], checkers.FilePasswordDB)


def test_makeServiceMakesTheGroupsAndOneServicePerEndpoint(tmp_path: Path) -> None:
    options = parse(
        "--group",
        "#Lobby",
        "--group",
        "dev",
        "--listen",
        "1",
        "--listen",
        "2",
        "--hostname",
        "irc.example",
    )
    made = tap.makeService(options)
    services = list(made)
    assert len(services) == 2
    factory = services[0].factory  # type: ignore[attr-defined]
    assert isinstance(factory, service.IRCFactory) and factory is services[1].factory  # type: ignore[attr-defined]
    realm = factory.realm
    assert realm.name == "irc.example" and realm.createGroupOnRequest
    assert {g.name for g in realm.groups.values()} == {"Lobby", "dev"}
    assert all(g.persistent for g in realm.groups.values())
    noCreate = tap.makeService(parse("--no-create-groups"))
    assert not next(iter(noCreate)).factory.realm.createGroupOnRequest  # type: ignore[attr-defined]


# -- the running server -------------------------------------------------------------------


class Clients:
    """Clients of the ``irc`` library on one of its reactors, and what each heard."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reactor = ircClient.Reactor()
        self.heard: list[tuple[Any, Any]] = []
        self.reactor.add_global_handler("all_events", self._event, -10)

    def _event(self, connection: Any, event: Any) -> None:
        self.heard.append((connection, event))

    def connect(self, nick: str, **kw: Any) -> Any:
        connection = self.reactor.server().connect("127.0.0.1", self.port, nick, **kw)
        self.wait(lambda: self.got(connection, "welcome") or self.got(connection, "disconnect"))
        return connection

    def got(self, connection: Any, kind: str, test: Callable[[Any], bool] = lambda e: True) -> bool:
        return any(c is connection and e.type == kind and test(e) for c, e in self.heard)

    def summary(self) -> list[tuple[str, str, str, list[str]]]:
        return [(c.get_nickname(), e.type, str(e.source), e.arguments) for c, e in self.heard[-12:]]

    def wait(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"not seen within {timeout} s: {self.summary()}"
            self.reactor.process_once(0.05)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    running: list[Any] = []

    def start(*args: str) -> int:
        port = freePort()
        context = runTorsiond(["words", "--listen", str(port), *args], port, tmp_path)
        context.__enter__()
        running.append(context)
        return port

    yield start
    for context in running:
        context.__exit__(None, None, None)


def test_ircLibraryClientsTalk(server: Callable[..., int], tmp_path: Path) -> None:
    (tmp_path / "motd.txt").write_text("Be excellent to each other.\n")
    port = server("--group", "lobby", "--motd", str(tmp_path / "motd.txt"))
    clients = Clients(port)
    alice, bob = clients.connect("alice"), clients.connect("bob")
    assert clients.got(alice, "motd", lambda e: "Be excellent" in e.arguments[0])
    alice.join("#lobby")
    clients.wait(lambda: clients.got(alice, "endofnames"))
    bob.join("#lobby")
    clients.wait(lambda: clients.got(alice, "join", lambda e: e.source.nick == "bob"))
    bob.privmsg("#lobby", "hello, lobby")
    bob.privmsg("alice", "hello, alice")
    bob.action("#lobby", "waves")
    clients.wait(lambda: clients.got(alice, "action"))
    assert clients.got(alice, "pubmsg", lambda e: e.arguments == ["hello, lobby"])
    assert clients.got(alice, "privmsg", lambda e: e.arguments == ["hello, alice"])
    alice.topic("#lobby", "Today: torsion")
    clients.wait(lambda: clients.got(bob, "topic", lambda e: e.arguments == ["Today: torsion"]))
    bob.whois("alice")
    clients.wait(lambda: clients.got(bob, "endofwhois"))
    assert clients.got(bob, "whoischannels", lambda e: "@#lobby" in e.arguments[1])
    bob.part("#lobby", "lunch")
    clients.wait(lambda: clients.got(alice, "part", lambda e: e.source.nick == "bob"))
    bob.join("#lobby")
    clients.wait(lambda: clients.got(bob, "endofnames"))
    bob.quit("good night")
    clients.wait(lambda: clients.got(alice, "quit", lambda e: e.arguments == ["Quit: good night"]))
    alice.quit()


def rawClient(port: int, nick: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\nJOIN #lobby\r\n".encode())
    readUntil(sock, b" 366 ")
    return sock


def readUntil(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    deadline = time.monotonic() + 10
    while marker not in data:
        assert time.monotonic() < deadline, data[-300:]
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection; it sent {data[-300:]!r}"
        data += chunk
    return data


MALFORMED = [
    b"",
    b":only.a.prefix",
    b"@tags=only",
    b"\xff\xfe not utf-8 \xc3",
    b"PRIVMSG",
    b"PRIVMSG #lobby",
    b"JOIN ,,,,#",
    b"MODE #lobby +kkkkllll",
    b"MODE #lobby +l notanumber",
    b"NICK \x01\x02",
    b"KICK",
    b"CAP REQ",
    b"AUTHENTICATE PLAIN",
    b"WHO",
    b"X" * 4000,
    b"@" + b"a=" + b"b" * 9000 + b" PING x",
    b"PRIVMSG #lobby :\x00 nul inside",
    b"TOPIC #nowhere :x",
    b"\x00\r\x00",
]


def test_malformedLinesDisconnectNobody(server: Callable[..., int]) -> None:
    port = server("--group", "lobby")
    clients = Clients(port)
    alice, bob = clients.connect("alice"), clients.connect("bob")
    alice.join("#lobby")
    clients.wait(lambda: clients.got(alice, "endofnames"))
    bob.join("#lobby")
    clients.wait(lambda: clients.got(alice, "join", lambda e: e.source.nick == "bob"))
    mallory = rawClient(port, "mallory")
    with mallory:
        mallory.sendall(b"\r\n".join(MALFORMED) + b"\r\n" + b"Y" * 70000 + b"\r\n")
        bob.privmsg("#lobby", "are we all still here?")
        clients.wait(lambda: clients.got(alice, "pubmsg", lambda e: "still here" in e.arguments[0]))
        mallory.sendall(b"PING :after-the-garbage\r\nPRIVMSG #lobby :I am still here\r\n")
        readUntil(mallory, b"after-the-garbage")
        clients.wait(
            lambda: clients.got(alice, "pubmsg", lambda e: e.arguments == ["I am still here"])
        )
    assert not clients.got(alice, "disconnect") and not clients.got(bob, "disconnect")


def test_saslAndPassThroughAuth(server: Callable[..., int]) -> None:
    port = server("--auth", "memory:alice:wonderland:bob:builder")
    clients = Clients(port)
    alice = clients.connect("alice", password="wonderland", sasl_login="alice")
    assert clients.got(alice, "saslsuccess") and clients.got(alice, "welcome")
    assert clients.got(alice, "loggedin", lambda e: e.arguments[1] == "alice")
    bob = clients.connect("bob", password="builder")
    assert clients.got(bob, "welcome")
    bob.whois("bob")
    clients.wait(lambda: clients.got(bob, "endofwhois"))
    assert clients.got(bob, "whoisaccount", lambda e: e.arguments[:2] == ["bob", "bob"])
    mallory = clients.reactor.server().connect(
        "127.0.0.1", port, "mallory", password="guess", sasl_login="alice"
    )
    clients.wait(lambda: clients.got(mallory, "saslfail"))
    assert not clients.got(mallory, "welcome")
    guest = clients.connect("guest")
    assert clients.got(guest, "passwdmismatch") and clients.got(guest, "disconnect")


def test_noCreateGroupsServesOnlyTheGivenOnes(server: Callable[..., int]) -> None:
    port = server("--group", "lobby", "--no-create-groups")
    sock = rawClient(port, "alice")
    with sock:
        sock.sendall(b"JOIN #elsewhere\r\n")
        assert b"403 alice #elsewhere :No such channel" in readUntil(sock, b"#elsewhere")


BOT = Path(__file__).resolve().parents[2] / "examples" / "words" / "ircbot.py"


def test_theExampleBotOnIRCClientAnswersCommandsHere(server: Callable[..., int]) -> None:
    port = server("--group", "lobby")
    bot = subprocess.Popen(
        [sys.executable, str(BOT), "--port", str(port), "--nick", "helper", "--channel", "#lobby"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert bot.stdout is not None
        deadline = time.monotonic() + 20
        while b"joined #lobby" not in (line := bot.stdout.readline()):
            assert line and time.monotonic() < deadline, "the bot did not join #lobby"
        clients = Clients(port)
        alice = clients.connect("alice")
        alice.join("#lobby")
        clients.wait(lambda: clients.got(alice, "endofnames"))
        alice.privmsg("#lobby", "!echo torsion answers")
        alice.privmsg("helper", "roll 1d1")
        clients.wait(lambda: clients.got(alice, "pubmsg", lambda e: e.source.nick == "helper"))
        assert clients.got(alice, "pubmsg", lambda e: "torsion answers" in e.arguments[0])
        clients.wait(lambda: clients.got(alice, "privmsg", lambda e: e.source.nick == "helper"))
    finally:
        bot.terminate()
        bot.wait(timeout=10)
        if bot.stdout is not None:
            bot.stdout.close()


def test_mktapWordsThenRunTheFile(tmp_path: Path) -> None:
    port = freePort()
    torsion = Path(sys.executable).with_name("torsion")
    done = subprocess.run(
        [str(torsion), "mktap", "words", "--listen", str(port), "--group", "saved",
         "--auth", "memory:alice:wonderland"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    with runTorsiond(["-f", "words.tap"], port, tmp_path):
        clients = Clients(port)
        alice = clients.connect("alice", password="wonderland")
        alice.list()
        clients.wait(lambda: clients.got(alice, "listend"))
        assert clients.got(alice, "list", lambda e: e.arguments[0] == "#saved")


def test_saslOverTLSWithAHashedPasswordFile(tmp_path: Path) -> None:
    import base64
    import ssl

    from tests.internet.tlshelpers import serverCert, theCA

    torsion = Path(sys.executable).with_name("torsion")
    made = subprocess.run(
        [str(torsion), "passwd", "--stdin", "irc.passwd", "alice"],
        input="wonderland\n", cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    cert = serverCert()
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    port = freePort()
    listen = f"ssl:{port}:interface=127.0.0.1:privateKey=key.pem:certKey=cert.pem"
    with runTorsiond(["words", "--listen", listen, "--auth", "file:irc.passwd"], port, tmp_path):
        context = ssl.create_default_context()
        theCA().configure_trust(context)
        with (
            socket.create_connection(("127.0.0.1", port), timeout=20) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as sock,
        ):
            token = base64.b64encode(b"\0alice\0wonderland").decode()
            sock.sendall(b"CAP REQ :sasl\r\nNICK al\r\nUSER al 0 * :Al\r\nAUTHENTICATE PLAIN\r\n")
            readUntil(sock, b"AUTHENTICATE +")
            sock.sendall(f"AUTHENTICATE {token}\r\nCAP END\r\n".encode())
            data = readUntil(sock, b" 001 alice ")
            assert b" 903 " in data and b":al!al@127.0.0.1 NICK alice" in data
