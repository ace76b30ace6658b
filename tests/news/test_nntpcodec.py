"""The sans-IO NNTP grammar: commands, ranges, wildmats, dates, multi-line blocks."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torsion.news._nntpcodec import (
    NNTPSyntaxError,
    encodeMultiline,
    formatDate,
    isMessageId,
    parseCommand,
    parseDateTime,
    parseRange,
    wildmat,
)


def test_commandsAreSplitAndUppercased() -> None:
    command = parseCommand(b"group  local.talk\t")
    assert (command.verb, command.arguments) == ("GROUP", ("local.talk",))


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"", "empty"),
        (b"   ", "empty"),
        (b"\xff", "UTF-8"),
        (b"A\x00B", "control"),
        (b"X" * 511, "longer"),
    ],
)
def test_badCommandLinesAreSyntaxErrors(line: bytes, why: str) -> None:
    with pytest.raises(NNTPSyntaxError, match=why):
        parseCommand(line)


@given(st.binary(max_size=600))
def test_anyLineParsesOrIsASyntaxError(line: bytes) -> None:
    try:
        command = parseCommand(line)
    except NNTPSyntaxError:
        return
    assert command.verb and command.verb == command.verb.upper()


def test_ranges() -> None:
    assert parseRange("5") == (5, 5)
    assert parseRange("5-") == (5, None)
    assert parseRange("5-9") == (5, 9)
    for bad in ("", "-5", "a", "5-x", "1-2-3", "9" * 17):
        with pytest.raises(NNTPSyntaxError):
            parseRange(bad)


def test_wildmatsFollowTheLastMatchingPattern() -> None:
    matches = wildmat("comp.*,!comp.os.*,comp.os.linux")
    assert matches("comp.lang.python")
    assert not matches("comp.os.windows")
    assert matches("comp.os.linux")
    assert not matches("rec.music")
    assert wildmat("a?c")("abc") and not wildmat("a?c")("abbc")
    assert wildmat("a.+b")("a.+b") and not wildmat("a.+b")("aa+b")
    for bad in ("", "a,,b", "[ab]", "!", "a\\b"):
        with pytest.raises(NNTPSyntaxError):
            wildmat(bad)


@given(st.text(alphabet="abc.*?", min_size=1, max_size=8), st.text(alphabet="abc.", max_size=8))
def test_wildmatAgreesWithASimpleMatcher(pattern: str, name: str) -> None:
    import fnmatch

    assert wildmat(pattern)(name) == fnmatch.fnmatchcase(name, pattern)


def test_datesInBothFormsAndZones() -> None:
    utc = parseDateTime("20261202", "101500", "GMT")
    assert utc == datetime.datetime(2026, 12, 2, 10, 15, tzinfo=datetime.UTC)
    assert parseDateTime("261202", "101500", "gmt") == utc
    local = parseDateTime("20261202", "101500")
    assert local.tzinfo is not None and local.replace(tzinfo=None) == utc.replace(tzinfo=None)
    assert formatDate(utc) == ("20261202", "101500")
    for args in (
        ("2026", "101500"),
        ("20261302", "101500"),
        ("20261202", "1015"),
        ("20261202", "101500", "CET"),
    ):
        with pytest.raises(NNTPSyntaxError):
            parseDateTime(*args)


def test_messageIds() -> None:
    assert isMessageId("<a.b@c.d>")
    for bad in ("a@b", "<a b@c>", "<ab>", "<a@b", "<" + "a" * 250 + "@b>", "<a<@b>"):
        assert not isMessageId(bad)


def test_multilineBlocksAreDotStuffed() -> None:
    assert encodeMultiline([b"a", b".b", b".."]) == b"a\r\n..b\r\n...\r\n.\r\n"
    assert encodeMultiline([]) == b".\r\n"
