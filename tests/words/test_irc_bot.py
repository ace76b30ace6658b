"""examples/words/ircbot.py answers commands: in process against the fake server of
test_irc_client_tcp.py, and as a real program against ngircd (test_irc_peer.py).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.internet.reactormixins import runUntil
from tests.words.test_irc_client_tcp import connectClient, listenFake, oneReactor

__all__ = ["oneReactor"]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "words" / "ircbot.py"


def loadBot() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ircbot_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def botModule() -> ModuleType:
    return loadBot()


def startBot(reactor: Any, port: int, botModule: ModuleType, nick: str = "bot") -> Any:
    factory = botModule.BotFactory(nick, ["#bots"])
    built: list[Any] = []
    original = factory.buildProtocol

    def buildProtocol(addr: Any) -> Any:
        proto = original(addr)
        proto.clock = reactor
        proto.lineRate = None
        built.append(proto)
        return proto

    factory.buildProtocol = buildProtocol
    reactor.connectTCP("127.0.0.1", port, factory)
    runUntil(reactor, lambda: bool(built) and built[0]._registered)
    return factory, built[0]


def test_botAnswersCommands(oneReactor: Any, botModule: ModuleType, capsys: Any) -> None:
    reactor = oneReactor
    server, port = listenFake(reactor)
    factory, _bot = startBot(reactor, port, botModule)
    runUntil(reactor, lambda: "bots" in str(server.channels))
    events: list[tuple[Any, ...]] = []
    user = connectClient(reactor, port, "alice", events, clock=reactor)
    user.join("#bots")
    runUntil(reactor, lambda: ("joined", "alice", "#bots") in events)

    def answer(text: str, where: str = "#bots") -> str:
        before = len(events)
        user.msg(where, text)
        runUntil(reactor, lambda: any(e[0] == "privmsg" for e in events[before:]))
        return next(e[4] for e in events[before:] if e[0] == "privmsg")

    assert answer("!echo hello there") == "hello there"
    assert answer("bot: echo addressed") == "addressed"
    assert answer("!help").startswith("commands: echo, help, roll, seen, time, uptime")
    assert answer("!roll 3d6").startswith("alice rolls 3d6: ")
    assert answer("!roll 99d6") == "alice: roll between 1 and 20 dice of 2 to 1000 sides"
    assert answer("!seen alice").startswith("alice spoke in #bots")
    assert answer("time", where="bot").endswith("UTC")
    assert answer("nope", where="bot") == "unknown command 'nope'; try help"
    before = len(events)
    user.say("#bots", "just chatting")
    user.say("#bots", "!echo after")
    runUntil(reactor, lambda: any(e[0] == "privmsg" for e in events[before:]))
    assert [e[4] for e in events[before:] if e[0] == "privmsg"] == ["after"]
    out = capsys.readouterr().out
    assert "signed on as bot" in out and "joined #bots" in out
    factory.stopTrying()


def test_botTakesFallbackNick(oneReactor: Any, botModule: ModuleType) -> None:
    reactor = oneReactor
    _, port = listenFake(reactor)
    connectClient(reactor, port, "bot", [], clock=reactor)
    factory, bot = startBot(reactor, port, botModule)
    assert bot.nickname == "bot_bot"
    factory.stopTrying()
