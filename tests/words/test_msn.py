"""Tests for torsion.words.protocols.msn: MSNP commands and payloads parsed from bytes
cut anywhere, written back, MSN messages, limits, and fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torsion.words.protocols.msn import (
    MSNCommand,
    MSNMessage,
    MSNPParseError,
    MSNPParser,
    errorCodes,
)

# A sign-in and a conversation as MSNP8 servers and clients wrote them.
TEXT = b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nhello \xe2\x98\x83\r\n"
TYPING = b"MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\n\r\n"
SESSION = (
    b"VER 1 MSNP8 CVR0\r\n"
    b"CVR 2 0x0409 win 4.10 i386 MSNMSGR 5.0.0544 MSMSGS alice@example.com\r\n"
    b"USR 3 TWN I alice@example.com\r\n"
    b"911 4\r\n"
    + b"MSG alice@example.com Alice %d\r\n" % len(TEXT)
    + TEXT
    + b"MSG 5 N %d\r\n" % len(TYPING)
    + TYPING
    + b"NOT 5\r\nabcde"
    b"CHL 0 15570131571988941333\r\n"
)


def parseAll(data: bytes, cuts: list[int]) -> list[MSNCommand]:
    parser = MSNPParser()
    commands: list[MSNCommand] = []
    last = 0
    for cut in [*sorted(cuts), len(data)]:
        commands += parser.feed(data[last:cut])
        last = cut
    return commands


def test_aSessionParses() -> None:
    commands = parseAll(SESSION, [])
    assert [c.command for c in commands] == [
        b"VER", b"CVR", b"USR", b"911", b"MSG", b"MSG", b"NOT", b"CHL",
    ]  # fmt: skip
    ver = commands[0]
    assert ver.transactionID == 1 and ver.params == [b"MSNP8", b"CVR0"]
    assert commands[3].isError and errorCodes[911] == "authentication failed"
    fromServer, fromClient = commands[4], commands[5]
    assert fromServer.transactionID is None and fromServer.params == [
        b"alice@example.com",
        b"Alice",
    ]
    assert fromClient.transactionID == 5 and fromClient.params == [b"N"]
    assert commands[6].payload == b"abcde"
    message = MSNMessage.fromCommand(fromServer)
    assert message.userHandle == b"alice@example.com" and message.screenName == b"Alice"
    assert message.getHeader(b"content-type") == b"text/plain; charset=UTF-8"
    assert message.message.decode() == "hello \u2603\r\n"


@given(st.lists(st.integers(0, len(SESSION)), max_size=8))
def test_cutsNeverChangeWhatIsParsed(cuts: list[int]) -> None:
    assert parseAll(SESSION, cuts) == parseAll(SESSION, [])


def test_commandsAndMessagesRoundTrip() -> None:
    message = MSNMessage()
    message.setHeader(b"MIME-Version", b"1.0")
    message.setHeader(b"Content-Type", b"text/plain; charset=UTF-8")
    message.setHeader(b"content-type", b"text/plain")  # replaces, whatever the case
    message.message = b"hi there"
    command = MSNCommand(b"MSG", 7, [b"A"], message.toBytes())
    wire = command.toBytes()
    assert wire.startswith(b"MSG 7 A %d\r\n" % len(message.toBytes()))
    (back,) = MSNPParser().feed(wire)
    assert back == command
    again = MSNMessage.fromCommand(back)
    assert again.headers == [(b"MIME-Version", b"1.0"), (b"content-type", b"text/plain")]
    assert again.message == b"hi there"


@pytest.mark.parametrize(
    "line",
    [b"ver 1 MSNP8\r\n", b"VERSION 1\r\n", b"MSG a b\r\n", b"VER  1\r\n", b"\r\n", b"12 3\r\n"],
)
def test_malformedLinesAreRefused(line: bytes) -> None:
    with pytest.raises(MSNPParseError):
        MSNPParser().feed(line)


def test_limits() -> None:
    with pytest.raises(MSNPParseError, match="longer than"):
        MSNPParser(maxLineLength=100).feed(b"VER 1 " + b"x" * 200)
    with pytest.raises(MSNPParseError, match="over the limit"):
        MSNPParser(maxPayload=10).feed(b"MSG a b 11\r\n")
    parser = MSNPParser(maxPayload=10)
    assert parser.feed(b"MSG a b 10\r\n01234") == []
    assert parser.feed(b"56789")[0].payload == b"0123456789"


def test_writingRefusesWhatCannotBeSent() -> None:
    with pytest.raises(ValueError):
        MSNCommand(b"USR", 1, [b"two words"]).toBytes()
    with pytest.raises(ValueError):
        MSNMessage().setHeader(b"X", b"line\r\nbreak")
    with pytest.raises(MSNPParseError):
        MSNMessage.fromBytes(b"no blank line")


@given(st.binary(max_size=300))
def test_garbageOnlyRaisesParseErrors(data: bytes) -> None:
    try:
        MSNPParser(maxLineLength=200, maxPayload=200).feed(data)
    except MSNPParseError:
        pass
