"""IRCClient over an in-memory transport, with task.Clock for the queue and heartbeat.

Registration and nick collisions, every command's wire form, every callback, CTCP
queries and replies, DCC offer parsing, ISUPPORT and MODE parsing, the flood-safe
send queue and robustness against what a server may send.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.internet.reactormixins import loggedErrors
from torsion.internet.defer import ensureDeferred
from torsion.internet.error import ConnectionLost
from torsion.internet.task import Clock
from torsion.internet.testing import StringTransport
from torsion.logger import globalLogPublisher
from torsion.words.protocols import irc

__all__ = ["loggedErrors"]


@pytest.fixture
def logEvents() -> Iterator[list[Any]]:
    events: list[Any] = []
    globalLogPublisher.addObserver(events.append)
    yield events
    globalLogPublisher.removeObserver(events.append)


class Client(irc.IRCClient):
    nickname = "bot"
    heartbeatInterval = None

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.clock = Clock()

    def __getattribute__(self, name: str) -> Any:
        # Record every callback of IRCClient's list without writing each one.
        if name in CALLBACKS:
            events = object.__getattribute__(self, "events")
            return lambda *args: events.append((name, *args))
        return object.__getattribute__(self, name)


CALLBACKS = {
    "signedOn",
    "joined",
    "left",
    "privmsg",
    "noticed",
    "action",
    "userJoined",
    "userLeft",
    "userQuit",
    "userRenamed",
    "topicUpdated",
    "modeChanged",
    "kickedFrom",
    "userKicked",
    "receivedMOTD",
    "created",
    "yourHost",
    "myInfo",
    "luserClient",
    "luserOp",
    "luserChannels",
    "luserMe",
    "bounce",
    "isupport",
    "pong",
    "receivedNames",
    "receivedWhois",
    "dccDoSend",
    "dccDoChat",
    "dccDoResume",
    "dccDoAcceptResume",
}


def connect(client: irc.IRCClient | None = None) -> tuple[Any, StringTransport]:
    proto = client or Client()
    transport = StringTransport()
    proto.makeConnection(transport)
    return proto, transport


def lines(transport: StringTransport) -> list[bytes]:
    out = transport.value().split(b"\r\n")[:-1]
    transport.clear()
    return out


def signedOn() -> tuple[Any, StringTransport]:
    proto, transport = connect()
    proto.dataReceived(b":srv 001 bot :Welcome\r\n")
    transport.clear()
    proto.events.clear()
    return proto, transport


# -- registration -------------------------------------------------------------------------


def test_registersOnConnect() -> None:
    client = Client()
    client.password = "sekrit"
    client.realname = "A Bot"
    _, transport = connect(client)
    assert lines(transport) == [b"PASS sekrit", b"NICK bot", b"USER bot 0 * :A Bot"]


def test_noLoginWhenPerformLoginOff() -> None:
    client = Client()
    client.performLogin = 0
    _, transport = connect(client)
    assert transport.value() == b""


def test_welcomeSignsOn() -> None:
    proto, _ = connect()
    proto.dataReceived(b":irc.example 001 bot :Welcome to IRC\r\n")
    assert proto.events == [("signedOn",)]
    assert proto.hostname == "irc.example"
    assert proto._registered


def test_welcomeTakesTheNickTheServerGave() -> None:
    proto, _ = connect()
    proto.dataReceived(b":srv 001 Bot2 :Welcome\r\n")
    assert proto.nickname == "Bot2"


def test_nickCollisionTriesFallbacksThenAlters() -> None:
    client = Client()
    client.fallbackNicknames = ["bot-a", "bot-b"]
    proto, transport = connect(client)
    transport.clear()
    for _ in range(3):
        proto.dataReceived(b":srv 433 * x :Nickname is already in use\r\n")
    assert lines(transport) == [b"NICK bot-a", b"NICK bot-b", b"NICK bot-b_"]
    proto.dataReceived(b":srv 001 bot-b_ :hi\r\n")
    assert proto.nickname == "bot-b_"


def test_nickCollisionRespectsNickLen() -> None:
    client = Client()
    client.nickname = "ninechars"
    proto, transport = connect(client)
    transport.clear()
    proto.dataReceived(b":srv 433 * ninechars :in use\r\n")
    proto.dataReceived(b":srv 433 * x :in use\r\n")
    sent = lines(transport)
    assert all(len(line) - 5 <= 9 for line in sent)
    assert sent[0] != sent[1]


def test_nickCollisionGivesUp(logEvents: list[Any]) -> None:
    proto, transport = connect()
    transport.clear()
    for _ in range(proto.maxNickAttempts + 5):
        proto.dataReceived(b":srv 433 * x :in use\r\n")
    assert len(lines(transport)) == proto.maxNickAttempts
    gaveUp = [e for e in logEvents if "gave up" in e.get("log_format", "")]
    assert len(gaveUp) == 1


def test_erroneousNickUsesFallback() -> None:
    proto, transport = connect()
    transport.clear()
    proto.dataReceived(b":srv 432 * b@d :Erroneous\r\n")
    assert lines(transport) == [b"NICK defaultnick"]


def test_passwordMismatchLogged(loggedErrors: list[dict[str, Any]]) -> None:
    proto, transport = connect()
    proto.dataReceived(b":srv 464 * :Password incorrect\r\n")
    assert len(loggedErrors) == 1
    assert "IRCPasswordMismatch" in str(loggedErrors[0].get("failure") or loggedErrors[0])
    assert not transport.disconnecting


# -- commands --------------------------------------------------------------------------------


def test_commands() -> None:
    proto, transport = signedOn()
    proto.join("chan")
    proto.join("#k", key="secret")
    proto.leave("#chan", "bye")
    proto.part("&local")
    proto.kick("#chan", "eve", "spam")
    proto.invite("bob", "#chan")
    proto.topic("#chan")
    proto.topic("#chan", "new topic")
    proto.mode("#chan", True, "l", limit=10)
    proto.mode("#chan", False, "o", user="bob")
    proto.mode("#chan", True, "b", mask="*!*@spam")
    proto.names("#a", "b")
    proto.whois("bob")
    proto.whois("bob", "srv2")
    proto.notice("bob", "hey")
    proto.describe("#chan", "waves")
    proto.me("chan", "nods")
    proto.away("lunch")
    proto.back()
    proto.setNick("bot2")
    proto.quit("done")
    assert lines(transport) == [
        b"JOIN #chan",
        b"JOIN #k secret",
        b"PART #chan :bye",
        b"PART &local",
        b"KICK #chan eve :spam",
        b"INVITE bob #chan",
        b"TOPIC #chan",
        b"TOPIC #chan :new topic",
        b"MODE #chan +l 10",
        b"MODE #chan -o bob",
        b"MODE #chan +b *!*@spam",
        b"NAMES #a,#b",
        b"WHOIS bob",
        b"WHOIS srv2 bob",
        b"NOTICE bob :hey",
        b"PRIVMSG #chan :\x01ACTION waves\x01",
        b"PRIVMSG #chan :\x01ACTION nods\x01",
        b"AWAY :lunch",
        b"AWAY",
        b"NICK bot2",
        b"QUIT :done",
    ]


def test_msgSplitsLongMessages() -> None:
    proto, transport = signedOn()
    text = " ".join(f"word{i}" for i in range(300))
    proto.msg("#chan", text)
    sent = lines(transport)
    assert len(sent) > 1
    for line in sent:
        assert len(line) + 2 <= proto._safeMaximumLineLength("PRIVMSG #chan :")
        assert line.startswith(b"PRIVMSG #chan :")
    assert b" ".join(line[len(b"PRIVMSG #chan :") :] for line in sent) == text.encode()


def test_msgSplitsOnNewlinesAndNeverInsideCharacters() -> None:
    proto, transport = signedOn()
    proto.msg("bob", "a\nb\n\nż" * 1 + "ż" * 50, length=40)
    sent = lines(transport)
    assert sent[:2] == [b"PRIVMSG bob :a", b"PRIVMSG bob :b"]
    for line in sent:
        line.decode("utf-8")
        assert len(line) + 2 <= 40


def test_msgLengthTooSmall() -> None:
    proto, _ = signedOn()
    with pytest.raises(ValueError, match="no room"):
        proto.msg("bob", "hi", length=10)


def test_sayAddsHash() -> None:
    proto, transport = signedOn()
    proto.say("chan", "hi")
    assert lines(transport) == [b"PRIVMSG #chan :hi"]


def test_injectionIsQuotedNotSent() -> None:
    proto, transport = signedOn()
    proto.sendLine("PRIVMSG #a :x\r\nQUIT")
    assert lines(transport) == [b"PRIVMSG #a :x\x10r\x10nQUIT"]


# -- callbacks ----------------------------------------------------------------------------------


def test_callbacks() -> None:
    proto, _ = signedOn()
    proto.dataReceived(
        b":bot!u@h JOIN #c\r\n"
        b":bob!u@h JOIN :#c\r\n"
        b":bob!u@h PRIVMSG #c :hello bot\r\n"
        b":bob!u@h NOTICE bot :psst\r\n"
        b":bob!u@h PRIVMSG #c :\x01ACTION dances\x01\r\n"
        b":bob!u@h TOPIC #c :fresh\r\n"
        b":srv 332 bot #c :reported\r\n"
        b":srv 331 bot #c :No topic\r\n"
        b":bob!u@h NICK robert\r\n"
        b":robert!u@h PART #c :later\r\n"
        b":eve!u@h KICK #c dan :bye\r\n"
        b":eve!u@h QUIT :gone\r\n"
        b":eve!u@h KICK #c BOT :out\r\n"
        b":bot!u@h PART #c\r\n"
        b":bot!u@h NICK bot3\r\n"
    )
    assert proto.events == [
        ("joined", "#c"),
        ("userJoined", "bob", "#c"),
        ("privmsg", "bob!u@h", "#c", "hello bot"),
        ("noticed", "bob!u@h", "bot", "psst"),
        ("action", "bob!u@h", "#c", "dances"),
        ("topicUpdated", "bob", "#c", "fresh"),
        ("topicUpdated", "srv", "#c", "reported"),
        ("topicUpdated", "srv", "#c", ""),
        ("userRenamed", "bob", "robert"),
        ("userLeft", "robert", "#c"),
        ("userKicked", "dan", "#c", "eve", "bye"),
        ("userQuit", "eve", "gone"),
        ("kickedFrom", "#c", "eve", "out"),
        ("left", "#c"),
    ]
    assert proto.nickname == "bot3"


def test_serverInfoCallbacks() -> None:
    proto, _ = signedOn()
    proto.dataReceived(
        b":srv 002 bot :Your host is srv\r\n"
        b":srv 003 bot :created today\r\n"
        b":srv 004 bot srv v1 iow ntk\r\n"
        b":srv 010 bot other.example 6667 :Try there\r\n"
        b":srv 251 bot :There are 3 users\r\n"
        b":srv 252 bot 2 :operators\r\n"
        b":srv 252 bot x :bad number is skipped\r\n"
        b":srv 254 bot 7 :channels\r\n"
        b":srv 255 bot :I have 3 clients\r\n"
        b":srv 375 bot :- srv Message of the day\r\n"
        b":srv 372 bot :- line one\r\n"
        b":srv 372 bot :line two\r\n"
        b":srv 376 bot :End of MOTD\r\n"
    )
    assert proto.events == [
        ("yourHost", "Your host is srv"),
        ("created", "created today"),
        ("myInfo", "srv", "v1", "iow", "ntk"),
        ("bounce", "other.example"),
        ("luserClient", "There are 3 users"),
        ("luserOp", 2),
        ("luserChannels", 7),
        ("luserMe", "I have 3 clients"),
        ("receivedMOTD", ["srv Message of the day", "line one", "line two"]),
    ]


def test_namesAndWhoisCollected() -> None:
    proto, _ = signedOn()
    proto.dataReceived(
        b":srv 353 bot = #c :@alice +bob\r\n"
        b":srv 353 bot = #c :carol\r\n"
        b":srv 366 bot #c :End of NAMES\r\n"
        b":srv 311 bot Bob u h * :Bob B\r\n"
        b":srv 312 bot Bob srv :The server\r\n"
        b":srv 313 bot Bob :is an operator\r\n"
        b":srv 317 bot Bob 12 1700000000 :seconds idle\r\n"
        b":srv 319 bot Bob :@#c #d\r\n"
        b":srv 318 bot Bob :End of WHOIS\r\n"
    )
    assert proto.events == [
        ("receivedNames", "#c", ["@alice", "+bob", "carol"]),
        (
            "receivedWhois",
            "Bob",
            {
                "nick": "Bob",
                "user": "u",
                "host": "h",
                "realname": "Bob B",
                "server": "srv",
                "serverInfo": "The server",
                "oper": True,
                "idle": 12,
                "signOn": 1700000000,
                "channels": ["@#c", "#d"],
            },
        ),
    ]


def test_numericHandlersBySymbolicName() -> None:
    seen: list[list[str]] = []

    class Custom(Client):
        def irc_RPL_LIST(self, prefix: str, params: list[str]) -> None:
            seen.append(params)

    proto, _ = connect(Custom())
    proto.dataReceived(b":srv 322 bot #c 5 :topic\r\n")
    assert seen == [["bot", "#c", "5", "topic"]]


def test_pingAnsweredAheadOfTheQueue() -> None:
    client = Client()
    client.lineRate = 1.0
    proto, transport = connect(client)
    proto.msg("#a", "one")
    proto.msg("#a", "two")
    proto.dataReceived(b"PING :srv.example\r\n")
    assert lines(transport) == [b"NICK bot", b"PONG :srv.example"]
    client.clock.pump([1] * 10)
    assert lines(transport) == [b"USER bot 0 * :bot", b"PRIVMSG #a :one", b"PRIVMSG #a :two"]


def test_heartbeat() -> None:
    client = Client()
    client.heartbeatInterval = 60
    proto, transport = connect(client)
    proto.dataReceived(b":srv.example 001 bot :hi\r\n")
    transport.clear()
    client.clock.advance(60)
    assert lines(transport) == [b"PING srv.example"]
    proto.connectionLost(None)
    client.clock.advance(120)
    assert transport.value() == b""
    assert not client.clock.getDelayedCalls()


def test_heartbeatDropsASilentServer() -> None:
    client = Client()
    client.heartbeatInterval = 60
    proto, transport = connect(client)
    proto.dataReceived(b":srv.example 001 bot :hi\r\n")
    client.clock.advance(60)
    proto.dataReceived(b":srv.example PONG srv.example :srv.example\r\n")
    client.clock.advance(60)
    assert not transport.disconnecting
    transport.clear()
    client.clock.advance(60)
    assert transport.disconnecting
    assert transport.value() == b""
    assert not client.clock.getDelayedCalls()


# -- the send queue ------------------------------------------------------------------------------


def test_lineRateSpacesLines() -> None:
    client = Client()
    client.lineRate = 2.0
    client.performLogin = 0
    proto, transport = connect(client)
    for i in range(4):
        proto.sendLine(f"PRIVMSG #a :{i}")
    assert lines(transport) == [b"PRIVMSG #a :0"]
    assert proto.queuedLines() == 3
    client.clock.advance(1.9)
    assert lines(transport) == []
    client.clock.advance(0.1)
    assert lines(transport) == [b"PRIVMSG #a :1"]
    client.clock.pump([2, 2])
    assert lines(transport) == [b"PRIVMSG #a :2", b"PRIVMSG #a :3"]
    assert not client.clock.getDelayedCalls()


def test_lineBurst() -> None:
    client = Client()
    client.lineRate = 1.0
    client.lineBurst = 3
    client.performLogin = 0
    proto, transport = connect(client)
    for i in range(5):
        proto.sendLine(f"L{i}")
    assert lines(transport) == [b"L0", b"L1", b"L2"]
    client.clock.advance(1)
    assert lines(transport) == [b"L3"]
    client.clock.advance(1)
    assert lines(transport) == [b"L4"]
    client.clock.advance(10)
    for i in range(5, 9):
        proto.sendLine(f"L{i}")
    assert lines(transport) == [b"L5", b"L6", b"L7"]


def test_queueStopsWhenConnectionLost() -> None:
    client = Client()
    client.lineRate = 1.0
    proto, _transport = connect(client)
    proto.connectionLost(None)
    assert not client.clock.getDelayedCalls()
    assert proto.queuedLines() == 0


# -- CTCP ---------------------------------------------------------------------------------------


def ctcp(proto: Any, transport: StringTransport, text: bytes) -> list[bytes]:
    proto.dataReceived(b":bob!u@h PRIVMSG bot :" + text + b"\r\n")
    return lines(transport)


def test_ctcpVersionPingTime() -> None:
    proto, transport = signedOn()
    proto.versionEnv = "linux"
    assert ctcp(proto, transport, b"\x01VERSION\x01") == [
        f"NOTICE bob :\x01VERSION torsion:{proto.versionNum}:linux\x01".encode()
    ]
    assert ctcp(proto, transport, b"\x01PING 12345\x01") == [b"NOTICE bob :\x01PING 12345\x01"]
    (reply,) = ctcp(proto, transport, b"\x01TIME\x01")
    assert reply.startswith(b"NOTICE bob :\x01TIME ") and reply.endswith(b"\x01")


def test_ctcpVersionSilentWithoutName() -> None:
    proto, transport = signedOn()
    proto.versionName = None
    assert ctcp(proto, transport, b"\x01VERSION\x01") == []


def test_ctcpClientInfo() -> None:
    proto, transport = signedOn()
    (reply,) = ctcp(proto, transport, b"\x01CLIENTINFO\x01")
    tags = reply.split(b"CLIENTINFO ", 1)[1].rstrip(b"\x01").split()
    assert {b"ACTION", b"PING", b"VERSION", b"TIME", b"CLIENTINFO", b"DCC"} <= set(tags)
    (reply,) = ctcp(proto, transport, b"\x01CLIENTINFO PING\x01")
    assert reply == b"NOTICE bob :\x01CLIENTINFO Echo the PING data back.\x01"
    (reply,) = ctcp(proto, transport, b"\x01CLIENTINFO NOPE\x01")
    assert b"ERRMSG" in reply and b"Unknown query 'NOPE'" in reply


def test_ctcpOptionalReplies() -> None:
    proto, transport = signedOn()
    assert ctcp(proto, transport, b"\x01SOURCE\x01\x01USERINFO\x01\x01FINGER\x01") == []
    proto.sourceURL = "https://example.org/src"
    proto.userinfo = "just a bot"
    proto.fingerReply = lambda: "fingered"
    assert ctcp(proto, transport, b"\x01SOURCE\x01\x01USERINFO\x01\x01FINGER\x01") == [
        b"NOTICE bob :\x01SOURCE https://example.org/src\x01\x01SOURCE\x01",
        b"NOTICE bob :\x01USERINFO just a bot\x01",
        b"NOTICE bob :\x01FINGER fingered\x01",
    ]
    assert ctcp(proto, transport, b"\x01ERRMSG x\x01") == [
        b"NOTICE bob :\x01ERRMSG x :No error has occurred.\x01"
    ]


def test_ctcpMixedWithText() -> None:
    proto, transport = signedOn()
    ctcp(proto, transport, b"\x01PING 1\x01hello")
    assert proto.events == [("privmsg", "bob!u@h", "bot", "hello")]


def test_ctcpUnknownIgnored() -> None:
    proto, transport = signedOn()
    assert ctcp(proto, transport, b"\x01WHATEVER x\x01") == []
    assert proto.events == []


def test_ctcpRepliesDroppedWhenQueueIsLong() -> None:
    proto, transport = signedOn()
    proto.lineRate = 1.0
    for _ in range(20):
        ctcp(proto, transport, b"\x01PING x\x01")
    assert proto.queuedLines() <= proto.ctcpQueueLimit


def test_pingAndPong() -> None:
    proto, transport = signedOn()
    proto.ping("bob", "token")
    assert lines(transport) == [b"PRIVMSG bob :\x01PING token\x01"]
    proto.dataReceived(b":bob!u@h NOTICE bot :\x01PING token\x01\r\n")
    assert proto.events[0][:2] == ("pong", "bob!u@h")
    assert proto.events[0][2] >= 0


def test_bogusPongIgnored(logEvents: list[Any]) -> None:
    proto, transport = signedOn()
    proto.ping("bob", "real")
    proto.dataReceived(b":bob!u@h NOTICE bot :\x01PING never\x01\r\n")
    assert proto.events == []
    assert any("answers no PING" in str(e.get("message")) for e in logEvents)
    assert not transport.disconnecting


def test_pingRingIsBounded() -> None:
    proto, _ = signedOn()
    for _i in range(50):
        proto.ping("bob")
    assert len(proto._pings) == proto._MAX_PINGRING


# -- DCC -----------------------------------------------------------------------------------------


def test_dccSendOffer() -> None:
    proto, transport = signedOn()
    ctcp(proto, transport, b'\x01DCC SEND "my file.txt" 3232235777 5000 1024\x01')
    assert proto.events == [
        (
            "dccDoSend",
            "bob!u@h",
            "192.168.1.1",
            5000,
            "my file.txt",
            1024,
            ["my file.txt", "3232235777", "5000", "1024"],
        )
    ]


def test_dccChatResumeAccept() -> None:
    proto, transport = signedOn()
    ctcp(proto, transport, b"\x01DCC CHAT chat 2130706433 4000\x01")
    ctcp(proto, transport, b"\x01DCC RESUME file.txt 5000 100\x01")
    ctcp(proto, transport, b"\x01DCC ACCEPT file.txt 5000 100\x01")
    assert proto.events == [
        ("dccDoChat", "bob!u@h", "bot", "127.0.0.1", 4000, ["chat", "2130706433", "4000"]),
        ("dccDoResume", "bob!u@h", "file.txt", 5000, 100),
        ("dccDoAcceptResume", "bob!u@h", "file.txt", 5000, 100),
    ]


@pytest.mark.parametrize(
    "request_",
    [
        b"DCC SEND f",
        b"DCC SEND f nowhere 1",
        b"DCC SEND f 1.2.3.4 99999",
        b'DCC SEND "f 1 2',
        b"DCC RESUME f 1 x",
        b"DCC",
    ],
)
def test_dccMalformedIgnored(request_: bytes) -> None:
    proto, transport = signedOn()
    ctcp(proto, transport, b"\x01" + request_ + b"\x01")
    assert proto.events == []
    assert not transport.disconnecting


def test_dccUnknownTypeAnswered() -> None:
    proto, transport = signedOn()
    assert ctcp(proto, transport, b"\x01DCC FOO x\x01") == [
        b"NOTICE bob :\x01ERRMSG DCC FOO x :Unknown DCC type 'FOO'\x01"
    ]


def test_dccOfferAndResumeQueries() -> None:
    proto, transport = signedOn()
    proto.dccOffer("bob", "a b.txt", "192.168.1.1", 5000, 10)
    proto.dccOffer("bob", "f", "::1", 5000)
    proto.dccResume("bob", "f", 5000, 10)
    proto.dccAcceptResume("bob", "f", 5000, 10)
    assert lines(transport) == [
        b'PRIVMSG bob :\x01DCC SEND "a b.txt" 3232235777 5000 10\x01',
        b"PRIVMSG bob :\x01DCC SEND f ::1 5000\x01",
        b"PRIVMSG bob :\x01DCC RESUME f 5000 10\x01",
        b"PRIVMSG bob :\x01DCC ACCEPT f 5000 10\x01",
    ]


def test_dccHelpers() -> None:
    assert irc.dccParseAddress("3232235777") == "192.168.1.1"
    assert irc.dccParseAddress("10.0.0.1") == "10.0.0.1"
    assert irc.dccParseAddress("::1") == "::1"
    for bad in ("nowhere", "4294967296", "1.2.3"):
        with pytest.raises(irc.IRCBadMessage):
            irc.dccParseAddress(bad)
    assert irc.dccDescribe("SEND f 2130706433 99 10") == (
        "SEND for file 'f' of size 10 bytes at host 127.0.0.1, port 99"
    )
    assert irc.dccDescribe("CHAT chat 2130706433 99") == "CHAT for host 127.0.0.1, port 99"
    assert irc.dccDescribe("junk") == "junk"
    assert irc.fileSize(io.BytesIO(b"12345")) == 5
    assert irc.fileSize(object()) is None  # type: ignore[arg-type]


# -- ISUPPORT and MODE -------------------------------------------------------------------------


def test_isupport() -> None:
    proto, _ = signedOn()
    proto.dataReceived(
        b":srv 005 bot NICKLEN=30 PREFIX=(qaohv)~&@%+ CHANMODES=beI,k,l,imnst NETWORK=Ex "
        b"TARGMAX=PRIVMSG:4,NOTICE: CHANTYPES=# SAFELIST EXCEPTS KICKLEN=x ODD=a\\x20b "
        b":are supported\r\n"
    )
    s = proto.supported
    assert s.getFeature("NICKLEN") == 30
    assert s.getFeature("PREFIX") == {
        "q": ("~", 0),
        "a": ("&", 1),
        "o": ("@", 2),
        "h": ("%", 3),
        "v": ("+", 4),
    }
    assert s.getFeature("CHANMODES") == {
        "addressModes": "beI",
        "param": "k",
        "setParam": "l",
        "noParam": "imnst",
    }
    assert s.getFeature("NETWORK") == "Ex"
    assert s.getFeature("TARGMAX") == {"PRIVMSG": 4, "NOTICE": None}
    assert s.getFeature("CHANTYPES") == ("#",)
    assert s.getFeature("SAFELIST") is True
    assert s.getFeature("EXCEPTS") == "e"
    assert s.getFeature("KICKLEN") is None
    assert s.getFeature("ODD") == ("a b",)
    assert proto.events[0][0] == "isupport"
    proto.dataReceived(b":srv 005 bot -NETWORK PREFIX=(bad :ok\r\n")
    assert not s.hasFeature("NETWORK")
    assert s.getFeature("PREFIX")["q"] == ("~", 0)


def test_modeChanged() -> None:
    proto, _ = signedOn()
    proto.dataReceived(b":srv 005 bot CHANMODES=b,k,l,imnst :are supported\r\n")
    proto.events.clear()
    proto.dataReceived(
        b":op!u@h MODE #c +ov-k+l alice bob key 10\r\n"
        b":op!u@h MODE #c -b *!*@x\r\n"
        b":bot MODE bot :+iw\r\n"
        b":op!u@h MODE #c +o\r\n"
    )
    assert proto.events == [
        ("modeChanged", "op!u@h", "#c", True, "ovl", ("alice", "bob", "10")),
        ("modeChanged", "op!u@h", "#c", False, "k", ("key",)),
        ("modeChanged", "op!u@h", "#c", False, "b", ("*!*@x",)),
        ("modeChanged", "bot", "bot", True, "iw", (None, None)),
    ]


def test_parseModesErrors() -> None:
    for modes, params in [
        ("", []),
        ("o", []),
        ("+o", []),
        ("+", []),
        ("+-o", ["x"]),
        ("+n", ["extra"]),
    ]:
        with pytest.raises(irc.IRCBadModes):
            irc.parseModes(modes, params, ("o", "o"))


# -- robustness ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "garbage",
    [
        b"\r\n",
        b":srv\r\n",
        b"@a=b\r\n",
        b"??? x\r\n",
        b":x PRIVMSG\r\n",
        b":x JOIN\r\n",
        b":x KICK #c\r\n",
        b":x MODE\r\n",
        b":x 353 bot\r\n",
        b":x PRIVMSG #c :\r\n",
        b":x NICK\r\n",
        b":x 004\r\n",
        b"\xff\xfe PRIVMSG\r\n",
        b":x PART\r\n",
        b":x QUIT\r\n",
        b":x TOPIC\r\n",
        b":x NOTICE\r\n",
        b":x 001\r\n",
        b":x 005\r\n",
        b":x 332 bot\r\n",
        b":x 375\r\n",
        b":x 372\r\n",
        b":x 433\r\n",
        b":x 366\r\n",
        b":x 311 bot\r\n",
        b":x 317 bot n x y\r\n",
        b":x 318\r\n",
        b"PING\r\n",
        b":x PRIVMSG bot :\x01\x01\r\n",
        b":x PRIVMSG bot :\x01DCC\x01\r\n",
        b":x PRIVMSG bot :\x01CLIENTINFO \x01\r\n",
        b":x NOTICE bot :\x01PING\x01\r\n",
        b":x MODE #c\r\n",
        b":x MODE #c +\r\n",
        b":x MODE #c +k\r\n",
        b":x KICK\r\n",
        b":x INVITE\r\n",
    ],
)
def test_garbageFromServerKeepsConnection(
    garbage: bytes, loggedErrors: list[dict[str, Any]]
) -> None:
    proto, transport = signedOn()
    proto.dataReceived(garbage + b":bob!u@h PRIVMSG #c :still here\r\n")
    assert proto.events[-1] == ("privmsg", "bob!u@h", "#c", "still here")
    assert not transport.disconnecting
    assert loggedErrors == []


def test_nonUtf8FromServer() -> None:
    proto, _ = signedOn()
    proto.dataReceived(b":bob!u@h PRIVMSG #c :caf\xe9\r\n")
    assert proto.events == [("privmsg", "bob!u@h", "#c", "café")]


def test_lowDequotedOnReceive() -> None:
    proto, _ = signedOn()
    proto.dataReceived(b":bob!u@h PRIVMSG #c :a\x10nb\r\n")
    assert proto.events == [("privmsg", "bob!u@h", "#c", "a\nb")]


def test_tagsVisibleToHandlers() -> None:
    seen: list[dict[str, str]] = []

    class Tagged(Client):
        def irc_PRIVMSG(self, prefix: str, params: list[str]) -> None:
            assert self.currentMessage is not None
            seen.append(self.currentMessage.tags)

    proto, _ = connect(Tagged())
    proto.dataReceived(b"@time=2026-12-02T00:00:00Z :a!b@c PRIVMSG #c :x\r\n")
    assert seen == [{"time": "2026-12-02T00:00:00Z"}]


def test_ircLower() -> None:
    assert irc.ircLower("Nick[A]\\~") == "nick{a}|^"


_ircish = st.lists(
    st.one_of(
        st.binary(max_size=60),
        st.builds(
            lambda prefix, command, params: b" ".join([prefix, command, *params]),
            st.sampled_from([b"", b":srv", b":a!b@c", b":bot!u@h"]),
            st.sampled_from(
                [
                    b"PRIVMSG",
                    b"NOTICE",
                    b"JOIN",
                    b"PART",
                    b"KICK",
                    b"MODE",
                    b"NICK",
                    b"TOPIC",
                    b"QUIT",
                    b"PING",
                    b"001",
                    b"005",
                    b"332",
                    b"353",
                    b"366",
                    b"311",
                    b"317",
                    b"318",
                    b"375",
                    b"372",
                    b"376",
                    b"433",
                    b"INVITE",
                ]
            ),
            st.lists(
                st.sampled_from(
                    [
                        b"bot",
                        b"#c",
                        b":",
                        b":\x01PING x\x01",
                        b"+o-v",
                        b"x",
                        b":\x01DCC SEND a b c\x01",
                        b"\xff",
                        b"=",
                    ]
                ),
                max_size=5,
            ),
        ),
    ),
    max_size=10,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_ircish)
def test_noServerLineCrashesAHandler(lines_: list[bytes]) -> None:
    """Random server lines never make a handler raise (which would be logged as an error)."""
    errors: list[Any] = []

    def observer(event: Any) -> None:
        if event.get("log_failure") is not None or event.get("isError"):
            errors.append(event)

    globalLogPublisher.addObserver(observer)
    try:
        proto, transport = signedOn()
        proto.dataReceived(b"\r\n".join(lines_) + b"\r\n")
    finally:
        globalLogPublisher.removeObserver(observer)
    assert errors == []
    assert not transport.disconnecting


# -- CAP and SASL ----------------------------------------------------------------------------


def capClient(**attrs: Any) -> tuple[Any, StringTransport]:
    client = Client()
    for name, value in attrs.items():
        setattr(client, name, value)
    return connect(client)


def test_noCapWhenNothingRequested() -> None:
    _, transport = connect()
    assert lines(transport)[0] == b"NICK bot"


def test_capNegotiation() -> None:
    proto, transport = capClient(requestedCapabilities=["server-time", "multi-prefix", "away"])
    assert lines(transport) == [b"CAP LS 302", b"NICK bot", b"USER bot 0 * :bot"]
    proto.dataReceived(b":srv CAP * LS * :multi-prefix sasl=PLAIN,EXTERNAL\r\n")
    assert lines(transport) == []
    proto.dataReceived(b":srv CAP * LS :server-time message-tags\r\n")
    assert lines(transport) == [b"CAP REQ :server-time multi-prefix"]
    proto.dataReceived(b":srv CAP bot ACK :server-time multi-prefix\r\n")
    assert lines(transport) == [b"CAP END"]
    assert proto.capabilities == {"server-time", "multi-prefix"}
    assert proto.serverCapabilities["sasl"] == "PLAIN,EXTERNAL"
    proto.dataReceived(b":srv CAP bot DEL :multi-prefix\r\n")
    assert proto.capabilities == {"server-time"}
    proto.dataReceived(b":srv 001 bot :hi\r\n")
    assert lines(transport) == []


def test_capNothingOffered() -> None:
    proto, transport = capClient(requestedCapabilities=["server-time"])
    transport.clear()
    proto.dataReceived(b":srv CAP * LS :\r\n")
    assert lines(transport) == [b"CAP END"]


def test_capNakEndsNegotiation() -> None:
    proto, transport = capClient(requestedCapabilities=["server-time"])
    transport.clear()
    proto.dataReceived(b":srv CAP * LS :server-time\r\n:srv CAP * NAK :server-time\r\n")
    assert lines(transport) == [b"CAP REQ :server-time", b"CAP END"]
    assert proto.capabilities == frozenset()


def test_serverWithoutCap() -> None:
    proto, transport = capClient(requestedCapabilities=["server-time"])
    transport.clear()
    proto.dataReceived(b":srv 421 * CAP :Unknown command\r\n:srv 001 bot :Welcome\r\n")
    assert proto.events == [("signedOn",)]
    assert lines(transport) == []
    assert not proto._capNegotiating


def test_saslPlain() -> None:
    proto, transport = capClient(saslUsername="alice", saslPassword="s3cret")
    transport.clear()
    proto.dataReceived(b":srv CAP * LS :sasl=PLAIN\r\n")
    assert lines(transport) == [b"CAP REQ :sasl"]
    proto.dataReceived(b":srv CAP * ACK :sasl\r\n")
    assert lines(transport) == [b"AUTHENTICATE PLAIN"]
    proto.dataReceived(b"AUTHENTICATE +\r\n")
    (auth,) = lines(transport)
    assert base64.b64decode(auth.split()[1]) == b"alice\0alice\0s3cret"
    proto.dataReceived(
        b":srv 900 bot bot!u@h alice :You are now logged in\r\n"
        b":srv 903 bot :SASL authentication successful\r\n"
    )
    assert lines(transport) == [b"CAP END"]
    assert proto.saslAccount == "alice"


def test_saslLongPayloadIsChunked() -> None:
    proto, transport = capClient(saslUsername="u" * 139, saslPassword="p" * 20)
    proto._capNegotiating = True
    transport.clear()
    proto.dataReceived(b"AUTHENTICATE +\r\n")
    sent = lines(transport)
    assert [len(x) for x in sent] == [len(b"AUTHENTICATE ") + 400, len(b"AUTHENTICATE +")]
    payload = b"".join(x.split()[1] for x in sent[:-1])
    assert base64.b64decode(payload) == b"u" * 139 + b"\0" + b"u" * 139 + b"\0" + b"p" * 20


def test_saslFailureStillRegisters(logEvents: list[Any]) -> None:
    proto, transport = capClient(saslUsername="alice", saslPassword="wrong")
    transport.clear()
    proto.dataReceived(b":srv CAP * LS :sasl\r\n:srv CAP * ACK :sasl\r\nAUTHENTICATE +\r\n")
    transport.clear()
    proto.dataReceived(b":srv 904 bot :SASL authentication failed\r\n")
    assert lines(transport) == [b"CAP END"]
    assert any("SASL authentication" in str(e.get("log_format")) for e in logEvents)
    assert all("wrong" not in str(e) for e in logEvents)


def test_saslNotOfferedWithoutPlain() -> None:
    proto, transport = capClient(saslUsername="alice", saslPassword="pw")
    transport.clear()
    proto.dataReceived(b":srv CAP * LS :sasl=EXTERNAL\r\n")
    assert lines(transport) == [b"CAP END"]


# -- NAMES and WHOIS as Deferreds ---------------------------------------------------------------


def test_getNames() -> None:
    proto, transport = signedOn()
    d = proto.getNames("chan")
    assert lines(transport) == [b"NAMES #chan"]
    results: list[Any] = []
    d.addCallback(results.append)
    proto.dataReceived(b":srv 353 bot = #Chan :@a b\r\n:srv 366 bot #chan :End\r\n")
    assert results == [["@a", "b"]]


def test_getWhoisAndNoSuchNick() -> None:
    proto, _transport = signedOn()
    found, missing = proto.getWhois("Bob"), proto.getWhois("ghost")
    results: list[Any] = []
    found.addCallback(results.append)
    missing.addErrback(lambda f: results.append(f.value))
    proto.dataReceived(
        b":srv 311 bot bob u h * :Bob\r\n:srv 318 bot bob :End\r\n"
        b":srv 401 bot ghost :No such nick\r\n:srv 318 bot ghost :End\r\n"
    )
    assert results[0] == {"nick": "bob", "user": "u", "host": "h", "realname": "Bob"}
    assert isinstance(results[1], irc.IRCNoSuchNick)
    assert [e[0] for e in proto.events] == ["receivedWhois"]


def test_pendingQueriesFailWhenConnectionLost() -> None:
    proto, _ = signedOn()
    failures: list[Any] = []
    proto.getNames("#c").addErrback(failures.append)
    proto.getWhois("x").addErrback(failures.append)
    proto.connectionLost(None)
    assert len(failures) == 2
    assert all(f.check(ConnectionLost) for f in failures)


def test_getWhoisAwaitable() -> None:
    proto, _ = signedOn()
    got: list[Any] = []

    async def ask() -> None:
        got.append(await proto.getWhois("bob"))

    ensureDeferred(ask())
    proto.dataReceived(b":srv 318 bot bob :End\r\n")
    assert got == [{"nick": "bob"}]
