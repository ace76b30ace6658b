"""The server-side base protocol irc.IRC over an in-memory transport.

Dispatch to irc_* methods, robustness (malformed, overlong, non-UTF-8 lines and
failing handlers keep the connection), and the reply helpers' exact wire output.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.internet.reactormixins import loggedErrors
from torsion.internet.testing import StringTransport
from torsion.words.protocols import irc

__all__ = ["loggedErrors"]


class Recorder(irc.IRC):
    hostname = "srv.example"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, list[str]]] = []
        self.tags: list[dict[str, str]] = []

    def irc_NICK(self, prefix: str, params: list[str]) -> None:
        self.calls.append(("NICK", prefix, params))
        assert self.currentMessage is not None
        self.tags.append(self.currentMessage.tags)

    def irc_PRIVMSG(self, prefix: str, params: list[str]) -> None:
        self.calls.append(("PRIVMSG", prefix, params))

    def irc_BOOM(self, prefix: str, params: list[str]) -> None:
        raise RuntimeError("handler bug")

    def irc_unknown(self, prefix: str, command: str, params: list[str]) -> None:
        self.calls.append(("unknown", command, params))
        super().irc_unknown(prefix, command, params)


def connected() -> tuple[Recorder, StringTransport]:
    proto = Recorder()
    transport = StringTransport()
    proto.makeConnection(transport)
    return proto, transport


def test_dispatchesCommands() -> None:
    proto, _ = connected()
    proto.dataReceived(b"NICK alice\r\n:x PRIVMSG #a :hi there\n")
    assert proto.calls == [("NICK", "", ["alice"]), ("PRIVMSG", "x", ["#a", "hi there"])]


def test_linesCutAnywhere() -> None:
    proto, _ = connected()
    for byte in b"NICK bob\r\n":
        proto.dataReceived(bytes([byte]))
    assert proto.calls == [("NICK", "", ["bob"])]


def test_tagsAvailableDuringDispatch() -> None:
    proto, _ = connected()
    proto.dataReceived(b"@+typing=active NICK a\r\n")
    assert proto.tags == [{"+typing": "active"}]
    assert proto.currentMessage is None


def test_unknownCommandAnswered() -> None:
    proto, transport = connected()
    proto.dataReceived(b"FOO bar\r\n")
    assert transport.value() == b":srv.example 421 * FOO :Unknown command\r\n"
    assert not transport.disconnecting


def test_unknownCommandNamesTheNick() -> None:
    proto, transport = connected()
    proto.nickname = "alice"  # type: ignore[attr-defined]
    proto.dataReceived(b"FOO\r\n")
    assert transport.value() == b":srv.example 421 alice FOO :Unknown command\r\n"


@pytest.mark.parametrize(
    "garbage",
    [b"\r\n", b"   \r\n", b":prefixonly\r\n", b"@tag=1\r\n", b"P!NG x\r\n", b"\xff\xfe\xfd\r\n"],
)
def test_malformedLinesIgnoredAndConnectionKept(garbage: bytes) -> None:
    proto, transport = connected()
    proto.dataReceived(garbage + b"NICK ok\r\n")
    assert proto.calls == [("NICK", "", ["ok"])]
    assert not transport.disconnecting


def test_nonUtf8Decoded() -> None:
    proto, _ = connected()
    proto.dataReceived(b"PRIVMSG #a :caf\xe9\r\n")
    assert proto.calls == [("PRIVMSG", "", ["#a", "café"])]


def test_overlongBodyAnsweredAndDropped() -> None:
    proto, transport = connected()
    proto.dataReceived(b"PRIVMSG #a :" + b"x" * 600 + b"\r\nNICK after\r\n")
    assert transport.value() == b":srv.example 417 * :Input line was too long\r\n"
    assert proto.calls == [("NICK", "", ["after"])]


def test_hugeLineDroppedWholeAcrossChunks() -> None:
    proto, transport = connected()
    proto.dataReceived(b"PRIVMSG #a :" + b"y" * 20000)
    proto.dataReceived(b"NICK notacommand " * 10 + b"\r\nNICK real\r\n")
    assert proto.calls == [("NICK", "", ["real"])]
    assert transport.value().count(b" 417 ") == 1
    assert len(proto._framer or b"") == 0


def test_handlerErrorLoggedConnectionKept(loggedErrors: list[dict[str, Any]]) -> None:
    proto, transport = connected()
    proto.dataReceived(b"BOOM\r\nNICK after\r\n")
    assert proto.calls == [("NICK", "", ["after"])]
    assert not transport.disconnecting
    assert len(loggedErrors) == 1


def test_stopsWhenClosing() -> None:
    proto, transport = connected()

    def quit(prefix: str, params: list[str]) -> None:
        transport.loseConnection()

    proto.irc_QUIT = quit  # type: ignore[attr-defined]
    proto.dataReceived(b"QUIT\r\nNICK no\r\n")
    assert proto.calls == []


# -- sending --------------------------------------------------------------------------------


def test_sendMessageTwistedStyle() -> None:
    proto, transport = connected()
    proto.sendMessage(irc.RPL_WELCOME, "alice", ":Welcome home", prefix="srv")
    assert transport.value() == b":srv 001 alice :Welcome home\r\n"


def test_sendMessageQuotesTrailing() -> None:
    proto, transport = connected()
    proto.sendMessage("PRIVMSG", "#a", "two words", tags={"time": "now"})
    assert transport.value() == b"@time=now PRIVMSG #a :two words\r\n"


def test_sendCommand() -> None:
    proto, transport = connected()
    proto.sendCommand("NOTICE", ("bob", ":hi you"), prefix="srv", tags={"a": None})
    assert transport.value() == b"@a :srv NOTICE bob :hi you\r\n"


@pytest.mark.parametrize(
    "args",
    [("PRIVMSG", "#a", ":x\r\nQUIT"), ("PRIVMSG", "a b", "x"), ("", "x"), (":X",), ("A B",)],
)
def test_sendMessageRefusesInjection(args: tuple[str, ...]) -> None:
    proto, transport = connected()
    with pytest.raises(ValueError):
        proto.sendMessage(*args)
    assert transport.value() == b""


def test_sendLineRefusesInjection() -> None:
    proto, _ = connected()
    with pytest.raises(ValueError, match="inject"):
        proto.sendLine("PING\r\nQUIT")
    with pytest.raises(ValueError, match="inject"):
        proto.sendLine(b"PING\nQUIT")


def test_sendLineEncoding() -> None:
    proto, transport = connected()
    proto.sendLine("PRIVMSG #a :żółw")
    proto.encoding = "latin-1"
    proto.sendLine("PRIVMSG #a :café")
    assert transport.value() == "PRIVMSG #a :żółw\r\n".encode() + b"PRIVMSG #a :caf\xe9\r\n"


def test_privmsgNoticeAction() -> None:
    proto, transport = connected()
    proto.privmsg("a!u@h", "#c", ":) hi\nQUIT")
    proto.notice("srv", "bob", "x")
    proto.action("a!u@h", "#c", "waves")
    assert transport.value().split(b"\r\n")[:-1] == [
        b":a!u@h PRIVMSG #c ::) hi\x10nQUIT",
        b":srv NOTICE bob :x",
        b":a!u@h PRIVMSG #c :\x01ACTION waves\x01",
    ]


def test_topicReplies() -> None:
    proto, transport = connected()
    proto.topic("alice", "#c", None)
    proto.topic("alice", "#c", ":-) fun")
    proto.topic("alice", "#c", "new", author="bob!u@h")
    proto.topicAuthor("alice", "#c", "bob", 1700000000)
    assert transport.value().split(b"\r\n")[:-1] == [
        b":srv.example 331 alice #c :No topic is set.",
        b":srv.example 332 alice #c ::-) fun",
        b":bob!u@h TOPIC #c :new",
        b":srv.example 333 alice #c bob 1700000000",
    ]


def test_namesSplitToFitLines() -> None:
    proto, transport = connected()
    names = [f"user{i:04d}" for i in range(200)]
    proto.names("alice", "#big", names)
    lines = transport.value().split(b"\r\n")[:-1]
    assert lines[-1] == b":srv.example 366 alice #big :End of /NAMES list"
    got: list[str] = []
    for line in lines[:-1]:
        assert len(line) <= 510
        msg = irc.parseMessage(line)
        assert msg.command == irc.RPL_NAMREPLY
        got += msg.params[-1].split()
    assert got == names
    assert len(lines) > 3


def test_whoAndWhois() -> None:
    proto, transport = connected()
    proto.who("alice", "#c", [("bu", "host", "srv", "bob", "H", 0, "Bob B")])
    proto.whois("alice", "bob", "bu", "host", "Bob B", "srv", "Info here", True, 5, 100, ["#c"])
    lines = [irc.parseMessage(x) for x in transport.value().split(b"\r\n")[:-1]]
    assert [m.command for m in lines] == ["352", "315", "311", "312", "313", "317", "319", "318"]
    assert lines[0].params == ["alice", "#c", "bu", "host", "srv", "bob", "H", "0 Bob B"]
    assert lines[2].params == ["alice", "bob", "bu", "host", "*", "Bob B"]
    assert lines[5].params == ["alice", "bob", "5", "100", "seconds idle, signon time"]


def test_joinPartMode() -> None:
    proto, transport = connected()
    proto.join("a!u@h", "#c")
    proto.part("a!u@h", "#c")
    proto.part("a!u@h", "#c", "bye now")
    proto.channelMode("alice", "#c", "+nt")
    assert transport.value().split(b"\r\n")[:-1] == [
        b":a!u@h JOIN #c",
        b":a!u@h PART #c",
        b":a!u@h PART #c :bye now",
        b":srv.example 324 alice #c +nt",
    ]


def test_hostnameDefaultsToHostName() -> None:
    proto = irc.IRC()
    proto.makeConnection(StringTransport())
    assert proto.hostname
    assert proto.channels == []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=200), max_size=8))
def test_noInputDisconnectsOrCrashes(chunks: list[bytes]) -> None:
    """Whatever bytes arrive, cut wherever, the connection stays and nothing escapes."""
    proto, transport = connected()
    for chunk in chunks:
        proto.dataReceived(chunk)
    proto.dataReceived(b"\r\nNICK last\r\n")
    assert proto.calls[-1] == ("NICK", "", ["last"])
    assert not transport.disconnecting
