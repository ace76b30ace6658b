"""The sans-IO IRC codec: parseMessage, formatMessage, tags, LineFramer, numerics.

Examples from RFC 1459/2812 and the IRCv3 message-tags specification, the hostile
inputs (empty, prefix-only, non-UTF-8, overlong, injected CR/LF), and hypothesis
properties: round trips, and that no byte string makes the parser raise anything but
IRCBadMessage or the framer depend on how the stream was cut.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torsion.words.protocols import irc
from torsion.words.protocols.irc import (
    IRCBadMessage,
    IRCLineTooLong,
    IRCMessage,
    LineFramer,
    escapeTagValue,
    formatMessage,
    parseMessage,
    parsemsg,
    parseTags,
    split,
    unescapeTagValue,
)

# -- parsing -------------------------------------------------------------------------------


def test_parseFullMessage() -> None:
    msg = parseMessage(b":nick!user@host PRIVMSG #chan :hello there")
    assert msg == IRCMessage({}, "nick!user@host", "PRIVMSG", ["#chan", "hello there"])


def test_parseCommandIsUpperCased() -> None:
    assert parseMessage(b"privmsg #a :x").command == "PRIVMSG"


def test_parseNumeric() -> None:
    msg = parseMessage(b":irc.example 001 alice :Welcome to IRC")
    assert msg.command == "001"
    assert msg.params == ["alice", "Welcome to IRC"]


def test_parseWithoutTrailing() -> None:
    assert parseMessage(b"MODE #chan +o alice").params == ["#chan", "+o", "alice"]


def test_parseEmptyTrailingIsAParameter() -> None:
    assert parseMessage(b"TOPIC #chan :").params == ["#chan", ""]


def test_parseTrailingKeepsColonsAndSpaces() -> None:
    assert parseMessage(b"PRIVMSG #a :  a :b  ").params == ["#a", "  a :b  "]


def test_parseToleratesExtraSpaces() -> None:
    assert parseMessage(b":p   NICK    new  ").params == ["new"]


def test_parseStripsLineEnd() -> None:
    assert parseMessage(b"PING :x\r\n").params == ["x"]


def test_parseTags() -> None:
    msg = parseMessage(b"@time=2026-12-02T06:00:00.000Z;+draft/x=a\\sb\\:c;flag :n PRIVMSG #a :hi")
    assert msg.tags == {"time": "2026-12-02T06:00:00.000Z", "+draft/x": "a b;c", "flag": ""}
    assert msg.prefix == "n"


def test_parseTagsInvalidKeysIgnored() -> None:
    assert parseTags("a=1;=x;b@d=2;ok-key=3") == {"a": "1", "ok-key": "3"}


def test_parseTagsLastDuplicateWins() -> None:
    assert parseTags("a=1;a=2") == {"a": "2"}


def test_unescapeRules() -> None:
    assert unescapeTagValue("a\\sb\\\\c\\r\\n\\:") == "a b\\c\r\n;"
    assert unescapeTagValue("\\x") == "x"
    assert unescapeTagValue("end\\") == "end"


@pytest.mark.parametrize("line", [b"", b"   ", b":prefix", b":prefix   ", b"@a=b", b"@a=b :p"])
def test_parseRejectsLinesWithoutCommand(line: bytes) -> None:
    with pytest.raises(IRCBadMessage):
        parseMessage(line)


@pytest.mark.parametrize("line", [b"PRIV!MSG x", b"12 x", b"1234 x", b"\xff\xfe x", b"N1CK a"])
def test_parseRejectsBadCommands(line: bytes) -> None:
    with pytest.raises(IRCBadMessage, match="not an IRC command"):
        parseMessage(line)


def test_parseNonUtf8FallsBackToLatin1() -> None:
    msg = parseMessage(b"PRIVMSG #a :caf\xe9")
    assert msg.params == ["#a", "café"]


def test_parseUtf8() -> None:
    assert parseMessage("PRIVMSG #a :żółw".encode()).params[1] == "żółw"


def test_parseBodyLimit() -> None:
    line = b"PRIVMSG #a :" + b"x" * (510 - 12)
    assert len(parseMessage(line).params[1]) == 498
    with pytest.raises(IRCLineTooLong, match="limit of 510"):
        parseMessage(line + b"x")


def test_parseTagLimitIsSeparateFromBody() -> None:
    tags = b"@a=" + b"v" * (8191 - 4) + b" "
    assert len(tags) == 8191
    body = b"PRIVMSG #a :" + b"x" * 498
    assert parseMessage(tags + body).tags["a"] == "v" * 8187
    with pytest.raises(IRCLineTooLong, match="tag section"):
        parseMessage(b"@a=v" + tags[3:] + body)


def test_parseStrLine() -> None:
    assert parseMessage(":a B c").command == "B"
    with pytest.raises(IRCLineTooLong):
        parseMessage("PRIVMSG :" + "x" * 600)


def test_twistedParsemsg() -> None:
    assert parsemsg(":n!u@h privmsg #a :hi there") == ("n!u@h", "privmsg", ["#a", "hi there"])
    assert parsemsg("@t=1 :s 001 me :hi") == ("s", "001", ["me", "hi"])
    with pytest.raises(IRCBadMessage):
        parsemsg("")


# -- formatting ---------------------------------------------------------------------------


def test_formatQuotesTrailingWhenNeeded() -> None:
    assert formatMessage("PRIVMSG", "#a", "hello world") == "PRIVMSG #a :hello world"
    assert formatMessage("PRIVMSG", "#a", "hi") == "PRIVMSG #a hi"
    assert formatMessage("PRIVMSG", "#a", ":)") == "PRIVMSG #a ::)"
    assert formatMessage("TOPIC", "#a", "") == "TOPIC #a :"


def test_formatPrefixAndTags() -> None:
    line = formatMessage("PRIVMSG", "#a", "x y", prefix="n!u@h", tags={"time": "t", "+f": None})
    assert line == "@time=t;+f :n!u@h PRIVMSG #a :x y"


def test_formatEscapesTagValues() -> None:
    assert formatMessage("TAGMSG", "#a", tags={"+x": "a b;c\\"}) == "@+x=a\\sb\\:c\\\\ TAGMSG #a"


@pytest.mark.parametrize(
    "params",
    [("a b", "x"), ("", "x"), (":a", "x"), ("x\r\nQUIT",), ("a\0",)],
)
def test_formatRejectsUnsafeParameters(params: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        formatMessage("PRIVMSG", *params)


def test_formatRejectsBadCommandAndPrefixAndTags() -> None:
    with pytest.raises(ValueError, match="not an IRC command"):
        formatMessage("PRIV MSG")
    with pytest.raises(ValueError, match="space"):
        formatMessage("PING", prefix="a b")
    with pytest.raises(ValueError, match="tag name"):
        formatMessage("PING", tags={"a b": "x"})
    with pytest.raises(ValueError, match="contains"):
        formatMessage("PING", tags={"a": "x\0y"})
    with pytest.raises(TypeError, match="must be str"):
        formatMessage("PING", b"x")  # type: ignore[arg-type]


def test_escapeRoundTrip() -> None:
    value = "; \\\r\nplain"
    assert unescapeTagValue(escapeTagValue(value)) == value


# -- framing -------------------------------------------------------------------------------


def test_framerSplitsCrlfAndLf() -> None:
    framer = LineFramer(100)
    assert framer.feed(b"A\r\nB\nC") == [b"A", b"B"]
    assert framer.feed(b"\r\n") == [b"C"]


def test_framerDropsOverlongLineWhole() -> None:
    framer = LineFramer(10)
    assert framer.feed(b"x" * 20) == [None]
    assert len(framer) == 0
    assert framer.feed(b"y" * 20) == []
    assert framer.feed(b"zz\r\nPING a\r\n") == [b"PING a"]


def test_framerCompleteOverlongLine() -> None:
    assert LineFramer(5).feed(b"123456\r\nok\r\n") == [None, b"ok"]


def test_framerBoundsItsBuffer() -> None:
    framer = LineFramer(10)
    framer.feed(b"x" * 11)
    assert len(framer) == 11
    assert framer.feed(b"x") == [None]
    assert len(framer) == 0


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=6))
def test_framerIndependentOfSegmentation(data: bytes, cuts: list[int]) -> None:
    whole = LineFramer(40).feed(data)
    framer = LineFramer(40)
    pieces: list[bytes | None] = []
    last = 0
    for cut in sorted(c for c in cuts if c <= len(data)):
        pieces += framer.feed(data[last:cut])
        last = cut
    pieces += framer.feed(data[last:])
    assert pieces == whole


# -- properties ----------------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600))
def test_parserNeverRaisesAnythingButBadMessage(line: bytes) -> None:
    try:
        msg = parseMessage(line)
    except IRCBadMessage:
        return
    assert msg.command
    assert all("\n" not in p and "\r" not in p.rstrip("\r") for p in msg.params[:-1])


_word = st.text(
    st.characters(blacklist_characters=" \r\n\0:", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=10,
)
_trailing = st.text(
    st.characters(blacklist_characters="\r\n\0", blacklist_categories=("Cs",)), max_size=30
)
_tagKey = st.from_regex(r"\+?([a-z0-9]{1,5}\.[a-z]{2}/)?[a-zA-Z0-9-]{1,8}", fullmatch=True)
_tagValue = st.text(
    st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=10
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["PRIVMSG", "NOTICE", "001", "MODE"]),
    st.lists(_word, max_size=5),
    _trailing,
    st.one_of(st.just(""), _word.filter(lambda w: "@" not in w[:1])),
    st.dictionaries(_tagKey, _tagValue, max_size=3),
)
def test_formatThenParseRoundTrips(
    command: str, middle: list[str], trailing: str, prefix: str, tags: dict[str, str]
) -> None:
    line = formatMessage(command, *middle, trailing, prefix=prefix or None, tags=tags)
    msg = parseMessage(line.encode("utf-8"), maxBodyLength=10_000)
    assert msg.command == command
    assert msg.prefix == prefix
    assert msg.params == [*middle, trailing]
    assert msg.tags == tags


# -- split and numerics --------------------------------------------------------------------


def test_splitAtSpaces() -> None:
    assert split("aaa bbb ccc", 7) == ["aaa bbb", "ccc"]
    assert split("abcdefghij", 4) == ["abcd", "efgh", "ij"]
    assert split("a\nb", 80) == ["a", "b"]
    with pytest.raises(ValueError):
        split("x", 0)


def test_numerics() -> None:
    assert irc.RPL_WELCOME == "001"
    assert irc.ERR_NICKNAMEINUSE == "433"
    assert irc.symbolic_to_numeric["RPL_ENDOFMOTD"] == "376"
    assert irc.numeric_to_symbolic["433"] == "ERR_NICKNAMEINUSE"
    assert len(irc.numeric_to_symbolic) == len(irc.symbolic_to_numeric)
