"""The FTP wire format without sockets: commands, replies, addresses, paths, TYPE A."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torsion.protocols import _ftpcodec as codec


def test_commandsSplitAtLineEnds() -> None:
    parser = codec.CommandParser()
    assert parser.feed(b"user alice\r\nPASS sec") == [codec.Command("USER", "alice")]
    assert parser.feed(b"ret  pw\nNOOP\r\n\r\n") == [
        codec.Command("PASS", "secret  pw"),
        codec.Command("NOOP", ""),
    ]


def test_telnetSequencesRemoved() -> None:
    """ABOR as clients send it (IAC IP IAC DM before it) reads as ABOR; IAC IAC is 255."""
    parser = codec.CommandParser()
    assert parser.feed(b"\xff\xf4\xff\xf2ABOR\r\n") == [codec.Command("ABOR", "")]
    assert parser.feed(b"RETR a\xff\xffb\r\n")[0].argument == "a\udcffb"
    assert parser.feed(b"\xff\xfb\x01NOOP\r\n") == [codec.Command("NOOP", "")]


def test_nonUTF8NamesRoundTrip() -> None:
    """A name in another encoding survives as surrogate escapes (os.fsencode undoes it)."""
    command = codec.CommandParser().feed(b"RETR caf\xe9.txt\r\n")[0]
    assert command.argument.encode("utf-8", "surrogateescape") == b"caf\xe9.txt"


def test_lineLimit() -> None:
    parser = codec.CommandParser()
    with pytest.raises(codec.LineTooLong):
        parser.feed(b"x" * (codec.MAX_LINE + 2))
    with pytest.raises(codec.LineTooLong):
        codec.CommandParser().feed(b"x" * (codec.MAX_LINE + 1) + b"\r\n")
    assert codec.CommandParser().feed(b"x" * (codec.MAX_LINE - 1) + b"\r\n")


def test_replies() -> None:
    parser = codec.ReplyParser()
    assert parser.feed(b"220 ready\r\n211-Features:\r\n EPSV\r\n211-MDTM\r\n211 End\r\n") == [
        codec.Reply(220, ("ready",)),
        codec.Reply(211, ("Features:", " EPSV", "MDTM", "End")),
    ]
    with pytest.raises(ValueError, match="not an FTP reply"):
        codec.ReplyParser().feed(b"hello\r\n")


def test_formatReplyMultiLine() -> None:
    assert codec.formatReply(200, "ok") == b"200 ok\r\n"
    text = codec.formatReply(211, "Features:\n EPSV\n226 looks like an end\nEnd")
    assert text == b"211-Features:\r\n EPSV\r\n 226 looks like an end\r\n211 End\r\n"
    assert codec.ReplyParser().feed(text)[0].code == 211


@given(st.text(min_size=1).filter(lambda t: "\r" not in t), st.integers(100, 599))
def test_formatThenParseReply(text: str, code: int) -> None:
    replies = codec.ReplyParser().feed(codec.formatReply(code, text))
    assert len(replies) == 1
    assert replies[0].code == code


def test_hostPort() -> None:
    assert codec.encodeHostPort("127.0.0.1", 51210) == "127,0,0,1,200,10"
    assert codec.decodeHostPort("127,0,0,1,200,10") == ("127.0.0.1", 51210)
    assert codec.decodePASVReply("Entering Passive Mode (10,0,0,2,4,1).") == ("10.0.0.2", 1025)
    assert codec.decodeEPSVReply("Entering Extended Passive Mode (|||6446|)") == 6446
    for bad in ("1,2,3,4,5", "1,2,3,4,5,256", "a,b,c,d,e,f", "1,2,3,4,0,0"):
        with pytest.raises(codec.BadArgument):
            codec.decodeHostPort(bad)
    with pytest.raises(codec.BadArgument):
        codec.decodeEPSVReply("229 nothing here")


def test_eprt() -> None:
    assert codec.parseEPRT("|1|132.235.1.2|6275|") == ("132.235.1.2", 6275)
    assert codec.parseEPRT("|2|::1|5282|") == ("::1", 5282)
    assert codec.formatEPRT("::1", 5282) == "|2|::1|5282|"
    for bad in ("|3|1.2.3.4|5|", "|1|::1|5|", "|2|1.2.3.4|5|", "|1|1.2.3.4|0|", "1|2", ""):
        with pytest.raises(codec.BadArgument):
            codec.parseEPRT(bad)


def test_toSegments() -> None:
    assert codec.toSegments(["a", "b"], "c/./d") == ["a", "b", "c", "d"]
    assert codec.toSegments(["a", "b"], "/x//y/") == ["x", "y"]
    assert codec.toSegments(["a", "b"], "../..") == []
    for escape in ("../../..", "/..", "a/../../..", "x\0y"):
        with pytest.raises(codec.InvalidPath):
            codec.toSegments(["a"], escape)


@given(st.lists(st.sampled_from(["a", "b", "..", ".", ""]), max_size=12))
def test_toSegmentsNeverClimbsAboveRoot(parts: list[str]) -> None:
    try:
        segments = codec.toSegments([], "/".join(parts))
    except codec.InvalidPath:
        return
    assert ".." not in segments and "." not in segments and "" not in segments


def _chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def test_toNetworkASCII() -> None:
    converter = codec.ToNetworkASCII()
    assert converter.convert(b"a\nb\r\nc\rd") == b"a\r\nb\r\nc\rd"
    assert converter.convert(b"x\r") + converter.convert(b"\ny") == b"x\r\ny"


def test_fromNetworkASCII() -> None:
    converter = codec.FromNetworkASCII()
    assert converter.convert(b"a\r\nb\rc\r") == b"a\nb\rc"
    assert converter.convert(b"\nd\r") == b"\nd"
    assert converter.flush() == b"\r"


@given(st.binary(), st.lists(st.integers(0, 10_000), max_size=8))
def test_asciiConversionIgnoresChunking(data: bytes, cuts: list[int]) -> None:
    """The output of both converters is the same however the input is cut."""
    out = codec.ToNetworkASCII()
    whole = codec.ToNetworkASCII().convert(data)
    assert b"".join(out.convert(chunk) for chunk in _chunked(data, cuts)) == whole
    back = codec.FromNetworkASCII()
    pieces = [back.convert(chunk) for chunk in _chunked(whole, cuts)]
    reference = codec.FromNetworkASCII()
    expected = reference.convert(whole) + reference.flush()
    assert b"".join(pieces) + back.flush() == expected


@given(st.binary().map(lambda b: b.replace(b"\r", b"")))
def test_asciiRoundTripOfUnixText(text: bytes) -> None:
    """Text with LF line ends (no CR) comes back the same after a TYPE A round trip."""
    wire = codec.ToNetworkASCII().convert(text)
    assert b"\n" not in wire.replace(b"\r\n", b"")
    back = codec.FromNetworkASCII()
    assert back.convert(wire) + back.flush() == text


def test_mlsxFactsAndListLine() -> None:
    entry = codec.mlsxFacts("a.txt", {"permissions": 0o100644, "size": 5, "mtime": 0})
    assert entry == "type=file;size=5;modify=19700101000000;UNIX.mode=0644; a.txt"
    assert codec.mlsxFacts("d", {"permissions": 0o40755}).startswith("type=dir;")
    assert codec.mlsxFacts(".", {"permissions": 0o40755}, "cdir").startswith("type=cdir;")
    line = codec.listLine("a.txt", 0o100644, 5, 0, "0", "0")
    assert line.startswith("-rw-r--r--   1 0") and line.endswith(" Jan 01  1970 a.txt")
    assert codec.mdtmTime(1_600_000_000) == "20200913122640"


@given(st.binary(max_size=3000))
def test_commandParserTakesAnyBytes(data: bytes) -> None:
    """Any bytes parse into commands (upper-case verbs) without an exception."""
    for command in codec.CommandParser().feed(data + b"\r\n"):
        assert command.name == command.name.upper()
