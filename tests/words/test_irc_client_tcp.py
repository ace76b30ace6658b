"""IRCClient against a small IRC server written here on irc.IRC, over 127.0.0.1.

The fake server (FakeServerFactory) is the server-side base protocol put to work:
registration, channels, messages, topics, NAMES, WHOIS, nick collisions, PING.
Two IRCClients talk through it over real sockets; one test runs on every reactor,
the rest on the default one. Raw sockets show the server side shrugging off
malformed lines. tests/words/test_irc_bot.py reuses the fake server for the bot.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import reactor, runUntil, runUntilFired
from torsion.internet.default import reactorClass
from torsion.internet.protocol import ClientFactory, Factory
from torsion.words.protocols import irc

__all__ = ["FakeServerFactory", "reactor"]

# -- the fake server ------------------------------------------------------------------------


class FakeIRCUser(irc.IRC):
    """One client of the fake server."""

    hostname = "fake.test"
    factory: FakeServerFactory

    def connectionMade(self) -> None:
        super().connectionMade()
        self.nickname: str | None = None
        self.user: str | None = None
        self.welcomed = False
        self.factory.connections.append(self)

    def connectionLost(self, reason: object = None) -> None:
        self.factory.connections.remove(self)
        self._leaveAll("Connection closed")

    @property
    def mask(self) -> str:
        return f"{self.nickname}!{self.user}@127.0.0.1"

    def _leaveAll(self, why: str) -> None:
        if self.nickname is None:
            return
        seen = {self}
        for members in self.factory.channels.values():
            if self in members:
                members.discard(self)
                for other in members - seen:
                    other.sendMessage("QUIT", ":" + why, prefix=self.mask)
                    seen.add(other)
        self.factory.users.pop(self.nickname.lower(), None)

    def irc_NICK(self, prefix: str, params: list[str]) -> None:
        nick = params[0]
        holder = self.factory.users.get(nick.lower())
        if holder is not None and holder is not self:
            self.sendMessage(
                irc.ERR_NICKNAMEINUSE,
                self.nickname or "*",
                nick,
                ":Nickname is already in use",
                prefix=self.hostname,
            )
            return
        old, oldMask = self.nickname, self.mask
        if old is not None:
            self.factory.users.pop(old.lower(), None)
        self.nickname = nick
        self.factory.users[nick.lower()] = self
        if self.welcomed:
            for other in self._peers() | {self}:
                other.sendMessage("NICK", nick, prefix=oldMask)
        self._maybeWelcome()

    def irc_USER(self, prefix: str, params: list[str]) -> None:
        self.user = params[0]
        self._maybeWelcome()

    def _maybeWelcome(self) -> None:
        if self.welcomed or not (self.nickname and self.user):
            return
        self.welcomed = True
        nick, h = self.nickname, self.hostname
        self.sendMessage(irc.RPL_WELCOME, nick, f":Welcome {self.mask}", prefix=h)
        self.sendMessage(
            irc.RPL_ISUPPORT,
            nick,
            "NICKLEN=30",
            "PREFIX=(ov)@+",
            "CHANMODES=b,k,l,imnst",
            ":are supported",
            prefix=h,
        )
        self.sendMessage(irc.RPL_MOTDSTART, nick, ":- fake.test Message of the day", prefix=h)
        self.sendMessage(irc.RPL_MOTD, nick, ":- be nice", prefix=h)
        self.sendMessage(irc.RPL_ENDOFMOTD, nick, ":End of MOTD", prefix=h)

    def _peers(self) -> set[FakeIRCUser]:
        out: set[FakeIRCUser] = set()
        for members in self.factory.channels.values():
            if self in members:
                out |= members
        out.discard(self)
        return out

    def irc_JOIN(self, prefix: str, params: list[str]) -> None:
        for name in params[0].split(","):
            members = self.factory.channels.setdefault(name.lower(), set())
            members.add(self)
            for member in members:
                member.join(self.mask, name)
            topic = self.factory.topics.get(name.lower())
            if topic:
                self.topic(self.nickname or "*", name, topic)
            self.names(self.nickname or "*", name, sorted(m.nickname or "" for m in members))

    def irc_PART(self, prefix: str, params: list[str]) -> None:
        name = params[0]
        members = self.factory.channels.get(name.lower(), set())
        for member in members:
            member.part(self.mask, name, params[1] if len(params) > 1 else None)
        members.discard(self)

    def _relay(self, command: str, params: list[str]) -> None:
        target, text = params[0], params[-1]
        if target[:1] in "#&":
            for member in self.factory.channels.get(target.lower(), set()) - {self}:
                member.sendMessage(command, target, ":" + text, prefix=self.mask)
        else:
            other = self.factory.users.get(target.lower())
            if other is None:
                self.sendMessage(
                    irc.ERR_NOSUCHNICK,
                    self.nickname or "*",
                    target,
                    ":No such nick",
                    prefix=self.hostname,
                )
            else:
                other.sendMessage(command, target, ":" + text, prefix=self.mask)

    def irc_PRIVMSG(self, prefix: str, params: list[str]) -> None:
        self._relay("PRIVMSG", params)

    def irc_NOTICE(self, prefix: str, params: list[str]) -> None:
        self._relay("NOTICE", params)

    def irc_TOPIC(self, prefix: str, params: list[str]) -> None:
        name = params[0]
        if len(params) > 1:
            self.factory.topics[name.lower()] = params[1]
            for member in self.factory.channels.get(name.lower(), set()):
                member.topic(member.nickname or "*", name, params[1], author=self.mask)
        else:
            self.topic(self.nickname or "*", name, self.factory.topics.get(name.lower()))

    def irc_NAMES(self, prefix: str, params: list[str]) -> None:
        for name in params[0].split(","):
            members = self.factory.channels.get(name.lower(), set())
            self.names(self.nickname or "*", name, sorted(m.nickname or "" for m in members))

    def irc_WHOIS(self, prefix: str, params: list[str]) -> None:
        other = self.factory.users.get(params[-1].lower())
        if other is None:
            self.sendMessage(
                irc.ERR_NOSUCHNICK,
                self.nickname or "*",
                params[-1],
                ":No such nick",
                prefix=self.hostname,
            )
            return
        channels = [n for n, m in self.factory.channels.items() if other in m]
        self.whois(
            self.nickname or "*",
            other.nickname or "",
            other.user or "",
            "127.0.0.1",
            "Real Name",
            self.hostname or "",
            "fake server",
            False,
            3,
            1700000000,
            channels,
        )

    def irc_PING(self, prefix: str, params: list[str]) -> None:
        self.sendMessage(
            "PONG", self.hostname or "", ":" + (params[-1] if params else ""), prefix=self.hostname
        )

    def irc_PONG(self, prefix: str, params: list[str]) -> None:
        self.factory.pongs.append(params)

    def irc_QUIT(self, prefix: str, params: list[str]) -> None:
        self._leaveAll(params[0] if params else "Quit")
        self.transport.loseConnection()


class FakeServerFactory(Factory):
    protocol = FakeIRCUser

    def __init__(self) -> None:
        self.connections: list[FakeIRCUser] = []
        self.users: dict[str, FakeIRCUser] = {}
        self.channels: dict[str, set[FakeIRCUser]] = {}
        self.topics: dict[str, str] = {}
        self.pongs: list[list[str]] = []


def listenFake(reactor: Any) -> tuple[FakeServerFactory, int]:
    factory = FakeServerFactory()
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    return factory, int(port.getHost().port)


# -- the client under test ---------------------------------------------------------------------


class RecordingClient(irc.IRCClient):
    heartbeatInterval = None

    def __init__(self, nickname: str, events: list[tuple[Any, ...]]) -> None:
        self.nickname = nickname
        self.events = events

    def signedOn(self) -> None:
        self.events.append(("signedOn", self.nickname))

    def joined(self, channel: str) -> None:
        self.events.append(("joined", self.nickname, channel))

    def userJoined(self, user: str, channel: str) -> None:
        self.events.append(("userJoined", self.nickname, user, channel))

    def privmsg(self, user: str, channel: str, message: str) -> None:
        self.events.append(("privmsg", self.nickname, user.split("!")[0], channel, message))

    def noticed(self, user: str, channel: str, message: str) -> None:
        self.events.append(("noticed", self.nickname, user.split("!")[0], message))

    def action(self, user: str, channel: str, data: str) -> None:
        self.events.append(("action", self.nickname, user.split("!")[0], channel, data))

    def topicUpdated(self, user: str, channel: str, newTopic: str) -> None:
        self.events.append(("topic", self.nickname, channel, newTopic))

    def receivedNames(self, channel: str, names: list[str]) -> None:
        self.events.append(("names", self.nickname, channel, names))

    def receivedWhois(self, nick: str, info: dict[str, Any]) -> None:
        self.events.append(("whois", self.nickname, nick, info.get("channels")))

    def receivedMOTD(self, motd: list[str]) -> None:
        self.events.append(("motd", self.nickname, motd))

    def userLeft(self, user: str, channel: str) -> None:
        self.events.append(("userLeft", self.nickname, user, channel))

    def userQuit(self, user: str, quitMessage: str) -> None:
        self.events.append(("userQuit", self.nickname, user, quitMessage))

    def userRenamed(self, oldname: str, newname: str) -> None:
        self.events.append(("userRenamed", self.nickname, oldname, newname))

    def modeChanged(
        self, user: str, channel: str, set: bool, modes: str, args: tuple[str | None, ...]
    ) -> None:
        self.events.append(("mode", self.nickname, channel, set, modes, args))

    def kickedFrom(self, channel: str, kicker: str, message: str) -> None:
        self.events.append(("kickedFrom", self.nickname, channel, kicker, message))

    def left(self, channel: str) -> None:
        self.events.append(("left", self.nickname, channel))

    def pong(self, user: str, secs: float) -> None:
        self.events.append(("pong", self.nickname, user.split("!")[0]))

    def ctcpUnknownReply(self, user: str, channel: str, tag: str, data: str | None) -> None:
        self.events.append(("ctcpReply", self.nickname, tag, data))

    def ctcpReply_VERSION(self, user: str, channel: str, data: str | None) -> None:
        self.events.append(("version", self.nickname, data))


class ClientMaker(ClientFactory):
    def __init__(self, nickname: str, events: list[tuple[Any, ...]], **attrs: Any) -> None:
        self.nickname = nickname
        self.events = events
        self.attrs = attrs
        self.instances: list[RecordingClient] = []

    def buildProtocol(self, addr: Any) -> RecordingClient:
        proto = RecordingClient(self.nickname, self.events)
        for name, value in self.attrs.items():
            setattr(proto, name, value)
        proto.factory = self
        self.instances.append(proto)
        return proto


def connectClient(
    reactor: Any, port: int, nickname: str, events: list[tuple[Any, ...]], **attrs: Any
) -> RecordingClient:
    maker = ClientMaker(nickname, events, **attrs)
    reactor.connectTCP("127.0.0.1", port, maker)
    runUntil(reactor, lambda: bool(maker.instances) and maker.instances[0]._registered)
    return maker.instances[0]


@pytest.fixture
def oneReactor() -> Iterator[Any]:
    made = reactorClass()()
    reactormixins.trackDescriptors(made)
    try:
        yield made
    finally:
        reactormixins.closeReactor(made)


# -- tests ----------------------------------------------------------------------------------------


def test_twoClientsTalkThroughTheServer(reactor: Any) -> None:
    """Conformance: registration, JOIN, channel and private messages on each reactor."""
    _, port = listenFake(reactor)
    events: list[tuple[Any, ...]] = []
    alice = connectClient(reactor, port, "alice", events, clock=reactor)
    bob = connectClient(reactor, port, "bob", events, clock=reactor)
    alice.join("#room")
    runUntil(reactor, lambda: ("joined", "alice", "#room") in events)
    bob.join("#room")
    runUntil(reactor, lambda: ("userJoined", "alice", "bob", "#room") in events)
    bob.say("#room", "hello room")
    bob.msg("alice", "psst alice")
    runUntil(reactor, lambda: ("privmsg", "alice", "bob", "alice", "psst alice") in events)
    assert ("privmsg", "alice", "bob", "#room", "hello room") in events
    assert ("signedOn", "alice") in events and ("signedOn", "bob") in events
    bob.quit("bye")
    runUntil(reactor, lambda: ("userQuit", "alice", "bob", "bye") in events)


def test_fullSession(oneReactor: Any) -> None:
    reactor = oneReactor
    _server, port = listenFake(reactor)
    events: list[tuple[Any, ...]] = []
    alice = connectClient(reactor, port, "alice", events, clock=reactor)
    bob = connectClient(reactor, port, "bob", events, clock=reactor)
    assert ("motd", "alice", ["fake.test Message of the day", "be nice"]) in events
    assert alice.supported.getFeature("NICKLEN") == 30
    for client in (alice, bob):
        client.join("#room")
    runUntil(reactor, lambda: ("names", "bob", "#room", ["alice", "bob"]) in events)
    alice.topic("#room", "our topic")
    runUntil(reactor, lambda: ("topic", "bob", "#room", "our topic") in events)
    alice.describe("#room", "waves")
    runUntil(reactor, lambda: ("action", "bob", "alice", "#room", "waves") in events)
    bob.ctcpMakeQuery("alice", [("VERSION", None)])
    runUntil(reactor, lambda: any(e[:2] == ("version", "bob") for e in events))
    bob.ping("alice")
    runUntil(reactor, lambda: ("pong", "bob", "alice") in events)
    bob.whois("alice")
    runUntil(reactor, lambda: ("whois", "bob", "alice", ["#room"]) in events)
    info = runUntilFired(reactor, bob.getWhois("alice"))
    assert info["channels"] == ["#room"] and info["realname"] == "Real Name"
    assert runUntilFired(reactor, bob.getNames("room")) == ["alice", "bob"]
    with pytest.raises(irc.IRCNoSuchNick):
        runUntilFired(reactor, bob.getWhois("nobody"))
    alice.setNick("alicia")
    runUntil(reactor, lambda: ("userRenamed", "bob", "alice", "alicia") in events)
    assert alice.nickname == "alicia"
    alice.leave("#room", "off")
    runUntil(reactor, lambda: ("userLeft", "bob", "alicia", "#room") in events)
    long = " ".join(f"w{i}" for i in range(400))
    bob.msg("alicia", long)
    runUntil(
        reactor,
        lambda: " ".join(e[4] for e in events if e[:2] == ("privmsg", "alicia")) == long,
    )


def test_nickCollisionFallsBack(oneReactor: Any) -> None:
    reactor = oneReactor
    _, port = listenFake(reactor)
    events: list[tuple[Any, ...]] = []
    connectClient(reactor, port, "same", events, clock=reactor)
    second = connectClient(
        reactor, port, "same", events, clock=reactor, fallbackNicknames=["same2"]
    )
    assert second.nickname == "same2"
    third = connectClient(reactor, port, "same", events, clock=reactor, fallbackNicknames=["same2"])
    assert third.nickname == "same2_"


def test_lineRateOverTcp(oneReactor: Any) -> None:
    reactor = oneReactor
    _, port = listenFake(reactor)
    events: list[tuple[Any, ...]] = []
    alice = connectClient(reactor, port, "alice", events, clock=reactor)
    bob = connectClient(reactor, port, "bob", events, clock=reactor, lineRate=0.02, lineBurst=2)
    start = reactor.seconds()
    for i in range(10):
        bob.msg("alice", f"m{i}")
    assert bob.queuedLines() >= 7
    runUntil(reactor, lambda: ("privmsg", "alice", "bob", "alice", "m9") in events)
    assert reactor.seconds() - start >= 0.02 * 7
    got = [e[4] for e in events if e[:2] == ("privmsg", "alice")]
    assert got == [f"m{i}" for i in range(10)]
    assert alice.queuedLines() == 0


def test_heartbeatOverTcp(oneReactor: Any) -> None:
    """PINGs that are answered keep the link; a server that goes silent is dropped."""
    reactor = oneReactor
    server, port = listenFake(reactor)
    events: list[tuple[Any, ...]] = []
    alice = connectClient(reactor, port, "alice", events, clock=reactor, heartbeatInterval=0.05)
    runUntil(reactor, lambda: len(server.connections) == 1)
    user = server.connections[0]
    pings: list[str] = []
    answer = user.irc_PING

    def counting(prefix: str, params: list[str]) -> None:
        pings.append(params[0])
        if len(pings) <= 3:
            answer(prefix, params)

    user.irc_PING = counting  # type: ignore[method-assign]
    runUntil(reactor, lambda: len(pings) >= 3)
    assert pings[0] == "fake.test"
    assert alice.connected
    runUntil(reactor, lambda: not alice.connected)
    assert len(pings) == 4


def rawExchange(port: int, data: bytes, expect: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data`` on a raw socket; read until ``expect`` appears (bounded)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        got = b""
        while expect not in got:
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
        return got


def test_serverSideShrugsOffMalformedLines(oneReactor: Any) -> None:
    reactor = oneReactor
    _, port = listenFake(reactor)
    got: list[bytes] = []

    def talk() -> None:
        got.append(
            rawExchange(
                port,
                b"\r\n:onlyprefix\r\n@a=b\r\n\xff\xfe\r\nBOGUS x\r\nPRIVMSG #a :"
                + b"x" * 9000
                + b"\r\nNICK raw\r\nUSER raw 0 * :Raw\r\n",
                b" 376 ",
            )
        )

    thread = threading.Thread(target=talk, daemon=True)
    thread.start()
    runUntil(reactor, lambda: bool(got), timeout=10)
    thread.join(5)
    reply = got[0]
    assert b":fake.test 421 * BOGUS :Unknown command\r\n" in reply
    assert b":fake.test 417 * :Input line was too long\r\n" in reply
    assert b":fake.test 001 raw :Welcome raw!raw@127.0.0.1\r\n" in reply
