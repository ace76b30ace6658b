"""The sans-IO IMAP4 command reader and tokenizer, fed bytes directly (no sockets):
literals and literal+, limits on hostile input, sequence sets, modified UTF-7."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torsion.mail import imap4
from torsion.mail._imapparser import (
    Command,
    CommandReader,
    Continue,
    IllegalClientResponse,
    Line,
    MessageSet,
    Refused,
    Str,
    parseSequenceSet,
    tokenize,
)


def test_simpleCommand() -> None:
    assert CommandReader().feed(b"a1 noop\r\n") == [Command(b"a1", b"NOOP", b"")]


def test_commandWithArgumentsAndBareLF() -> None:
    events = CommandReader().feed(b"t LOGIN alice secret\n")
    assert events == [Command(b"t", b"LOGIN", b"alice secret")]


def test_synchronisingLiteralAsksForContinuation() -> None:
    reader = CommandReader()
    assert reader.feed(b"a APPEND INBOX {5}\r\n") == [Continue()]
    assert reader.feed(b"he") == []
    assert reader.feed(b"llo\r\n") == [Command(b"a", b"APPEND", b"INBOX {5}\r\nhello")]


def test_nonSynchronisingLiteralNeedsNoContinuation() -> None:
    reader = CommandReader()
    events = reader.feed(b"a LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n")
    assert events == [Command(b"a", b"LOGIN", b"{5+}\r\nalice {6+}\r\nsecret")]
    assert tokenize(events[0].args) == [b"alice", b"secret"]  # type: ignore[union-attr]


def test_literalMayContainCRLFAndBraces() -> None:
    reader = CommandReader()
    events = reader.feed(b"a APPEND x {7+}\r\n{1}\r\n\r\n\r\n")
    assert events == [Command(b"a", b"APPEND", b"x {7+}\r\n{1}\r\n\r\n")]


def test_overlongLineRefusedThenNextCommandWorks() -> None:
    reader = CommandReader(maxLineLength=100)
    events = reader.feed(b"a1 LOGIN " + b"x" * 500)
    assert events == [
        Refused(b"a1", b"BAD line too long (the limit is 100 bytes); command ignored")
    ]
    assert reader.buffered() == 0
    assert reader.feed(b"y" * 1000) == []
    assert reader.buffered() == 0
    assert reader.feed(b"zz\r\na2 NOOP\r\n") == [Command(b"a2", b"NOOP", b"")]


def test_overlongCompleteLineRefused() -> None:
    reader = CommandReader(maxLineLength=10)
    events = reader.feed(b"a1 NOOP xxxxxxxxxxxxxx\r\na2 NOOP\r\n")
    assert isinstance(events[0], Refused) and events[0].tag == b"a1"
    assert events[1] == Command(b"a2", b"NOOP", b"")


def test_hugeSynchronisingLiteralRefusedWithoutContinuation() -> None:
    reader = CommandReader()
    events = reader.feed(b"a APPEND INBOX {999999999}\r\nb NOOP\r\n")
    assert len(events) == 2
    refused = events[0]
    assert isinstance(refused, Refused) and refused.tag == b"a"
    assert refused.response.startswith(b"NO [TOOBIG]")
    assert events[1] == Command(b"b", b"NOOP", b"")


def test_hugeNonSynchronisingLiteralIsSkippedNotStored() -> None:
    reader = CommandReader(literalLimit=lambda name: 10)
    events = reader.feed(b"a APPEND INBOX {100+}\r\n" + b"x" * 60)
    assert len(events) == 1 and isinstance(events[0], Refused)
    assert reader.buffered() == 0
    assert reader.feed(b"x" * 40 + b" more {5+}\r\n12345 tail\r\nb NOOP\r\n") == [
        Command(b"b", b"NOOP", b"")
    ]


def test_literalLimitDependsOnCommand() -> None:
    reader = CommandReader()
    assert reader.feed(b"a LOGIN {70000}\r\n")[0] == Refused(
        b"a",
        b"NO [TOOBIG] a literal of 70000 bytes is over the limit of 65536 bytes for LOGIN",
    )
    assert reader.feed(b"b APPEND x {70000}\r\n") == [Continue()]


def test_commandTooLargeOverall() -> None:
    reader = CommandReader(maxCommandSize=100, literalLimit=lambda name: 80)
    assert reader.feed(b"a X {60}\r\n") == [Continue()]
    events = reader.feed(b"y" * 60 + b" {60}\r\n")
    assert isinstance(events[0], Refused) and b"command is over" in events[0].response


def test_expectLineDeliversTheNextLineRaw() -> None:
    reader = CommandReader()
    reader.receive(b"a AUTHENTICATE PLAIN\r\nAGFsaWNl\r\nb NOOP\r\n")
    assert reader.nextEvent() == Command(b"a", b"AUTHENTICATE", b"PLAIN")
    reader.expectLine()
    assert reader.nextEvent() == Line(b"AGFsaWNl")
    assert reader.nextEvent() == Command(b"b", b"NOOP", b"")
    assert reader.nextEvent() is None


def test_overlongContinuationLineRefusedWithoutTag() -> None:
    reader = CommandReader(maxLineLength=10)
    reader.expectLine()
    events = reader.feed(b"x" * 50 + b"\r\n")
    assert events == [Refused(b"", b"BAD line too long (the limit is 10 bytes); command ignored")]


@pytest.mark.parametrize(
    "line, response",
    [
        (b"\r\n", b"BAD the command has no valid tag; expected: TAG COMMAND ..."),
        (b"(x) NOOP\r\n", b"BAD the command has no valid tag; expected: TAG COMMAND ..."),
        (b"a\r\n", b"BAD missing command name"),
        (b"a ()\r\n", b"BAD the command name is not an atom"),
        (b"a+ NOOP\r\n", b"BAD the command has no valid tag; expected: TAG COMMAND ..."),
    ],
)
def test_malformedCommands(line: bytes, response: bytes) -> None:
    (event,) = CommandReader().feed(line)
    assert isinstance(event, Refused) and event.response == response


def test_discardBufferDropsWhatFollows() -> None:
    reader = CommandReader()
    reader.receive(b"a STARTTLS\r\nb LOGIN injected\r\n")
    assert reader.nextEvent() == Command(b"a", b"STARTTLS", b"")
    reader.discardBuffer()
    assert reader.nextEvent() is None


commands = st.lists(
    st.sampled_from(
        [
            b"a NOOP\r\n",
            b"b LOGIN {5+}\r\nalice {3+}\r\npwd\r\n",
            b"c APPEND INBOX {4}\r\nab\r\n\r\n",
            b"d LOGIN " + b"x" * 300 + b"\r\n",
            b"e APPEND x {500+}\r\n" + b"z" * 500 + b"\r\n",
        ]
    ),
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(commands, st.lists(st.integers(min_value=1, max_value=50), max_size=30))
def test_eventsDoNotDependOnHowTheStreamIsCut(parts: list[bytes], cuts: list[int]) -> None:
    data = b"".join(parts)

    def make() -> CommandReader:
        return CommandReader(maxLineLength=200, literalLimit=lambda name: 100)

    whole = make().feed(data)
    reader = make()
    pieces = []
    position = 0
    for cut in cuts:
        pieces.append(data[position : position + cut])
        position += cut
    pieces.append(data[position:])
    events = []
    for piece in pieces:
        events += reader.feed(piece)
        assert reader.buffered() <= 200 + 2 + 100
    assert events == whole


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_garbageNeverRaisesAndStaysBounded(data: bytes) -> None:
    reader = CommandReader(maxLineLength=64, maxCommandSize=256, literalLimit=lambda n: 128)
    for event in reader.feed(data):
        if isinstance(event, Command):
            try:
                tokenize(event.args)
            except IllegalClientResponse:
                pass
    assert reader.buffered() <= 64 + 1


def test_tokenizeAtomsStringsAndLists() -> None:
    tokens = tokenize(b'a "b c" (d (e "f\\"g")) NIL {3}\r\nxyz ""')
    assert tokens == [b"a", b"b c", [b"d", [b"e", b'f"g']], b"NIL", b"xyz", b""]
    assert isinstance(tokens[1], Str) and not isinstance(tokens[0], Str)
    assert isinstance(tokens[4], Str)


def test_tokenizeKeepsFetchSectionsWhole() -> None:
    tokens = tokenize(b"1:3 (FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100> BODY[])")
    assert tokens == [
        b"1:3",
        [b"FLAGS", b"BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>", b"BODY[]"],
    ]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"(a", "unbalanced parenthesis"),
        (b"a)", "unbalanced parenthesis"),
        (b'"abc', "unterminated quoted string"),
        (b'"a\\x"', "bad escape"),
        (b"{5}\r\nab", "literal shorter"),
        (b"{x}", "bad literal"),
        (b"BODY[HEADER", r"unbalanced \["),
        (b"(" * 40 + b")" * 40, "nested too deeply"),
    ],
)
def test_tokenizeRejectsBadSyntax(data: bytes, message: str) -> None:
    with pytest.raises(IllegalClientResponse, match=message):
        tokenize(data)


def test_sequenceSets() -> None:
    messages = parseSequenceSet(b"1:3,5,7:*", 9)
    assert list(messages) == [1, 2, 3, 5, 7, 8, 9]
    assert 8 in messages and 4 not in messages
    assert str(messages) == "1:3,5,7:*"
    reverse = parseSequenceSet("4:2")
    reverse.last = 10
    assert list(reverse) == [2, 3, 4]
    star = parseSequenceSet(b"*")
    star.last = 5
    assert list(star) == [5]
    assert len(parseSequenceSet(b"1,1,2", 3)) == 2


def test_sequenceSetWithStarNeedsLast() -> None:
    with pytest.raises(TypeError, match=r"needs \.last"):
        list(parseSequenceSet(b"1:*"))


@pytest.mark.parametrize("bad", [b"", b"0", b"1:", b"a", b"1,,2", b"-1", b"1:2:3", b"12345678901"])
def test_badSequenceSets(bad: bytes) -> None:
    with pytest.raises(IllegalClientResponse):
        parseSequenceSet(bad)


def test_messageSetAsTwistedBuildsIt() -> None:
    messages = MessageSet(1, 5)
    messages.add(10)
    messages.add(20, None)
    assert str(messages) == "1:5,10,20:*"
    assert imap4.parseIdList(b"2:4", 10) == MessageSet(2, 4)


@pytest.mark.parametrize(
    "text, encoded",
    [
        ("INBOX", b"INBOX"),
        ("Entwürfe", b"Entw&APw-rfe"),
        ("a&b", b"a&-b"),
        ("日本語", b"&ZeVnLIqe-"),
        ("~peter/mail/台北/日本語", b"~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
    ],
)
def test_modifiedUTF7(text: str, encoded: bytes) -> None:
    assert text.encode("imap4-utf-7") == encoded
    assert encoded.decode("imap4-utf-7") == text


@given(st.text(max_size=40))
def test_modifiedUTF7RoundTrips(text: str) -> None:
    encoded = text.encode("imap4-utf-7")
    assert all(0x20 <= b < 0x7F for b in encoded)
    assert encoded.decode("imap4-utf-7") == text


@pytest.mark.parametrize("bad", [b"&AGE", b"caf\xc3\xa9", b"&!!-"])
def test_badModifiedUTF7(bad: bytes) -> None:
    with pytest.raises(imap4.IllegalMailboxEncoding):
        bad.decode("imap4-utf-7")
