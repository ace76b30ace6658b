"""CTCP quoting and extraction (lowQuote, ctcpQuote, ctcpExtract, ctcpStringify)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from torsion.words.protocols.irc import (
    M_QUOTE,
    X_DELIM,
    X_QUOTE,
    ctcpDequote,
    ctcpExtract,
    ctcpQuote,
    ctcpStringify,
    lowDequote,
    lowQuote,
)


def test_lowQuote() -> None:
    assert lowQuote("a\0b\nc\rd\x10e") == "a\x100b\x10nc\x10rd\x10\x10e"
    assert lowDequote("a\x100b\x10nc\x10rd\x10\x10e") == "a\0b\nc\rd\x10e"


def test_lowDequoteUnknownAndTrailing() -> None:
    assert lowDequote("\x10x") == "x"
    assert lowDequote("end\x10") == "end"


def test_ctcpQuote() -> None:
    assert ctcpQuote("a\x01b\\c") == "a\\ab\\\\c"
    assert ctcpDequote("a\\ab\\\\c") == "a\x01b\\c"
    assert ctcpDequote("\\q") == "q"


def test_extractActionAndText() -> None:
    assert ctcpExtract("\x01ACTION waves\x01") == {"extended": [("ACTION", "waves")], "normal": []}
    assert ctcpExtract("hi \x01PING 1\x01 there\x01VERSION\x01") == {
        "extended": [("PING", "1"), ("VERSION", None)],
        "normal": ["hi ", " there"],
    }


def test_extractUnterminatedAndEmpty() -> None:
    assert ctcpExtract("\x01PING 5") == {"extended": [("PING", "5")], "normal": []}
    assert ctcpExtract("\x01\x01") == {"extended": [], "normal": []}
    assert ctcpExtract("plain") == {"extended": [], "normal": ["plain"]}


def test_extractDequotes() -> None:
    assert ctcpExtract("\x01X a\\ab\x01")["extended"] == [("X", "a\x01b")]


def test_stringify() -> None:
    assert ctcpStringify([("VERSION", None)]) == "\x01VERSION\x01"
    assert ctcpStringify([("PING", "12")]) == "\x01PING 12\x01"
    assert ctcpStringify([("DCC", ["SEND", "f", "1", "2"])]) == "\x01DCC SEND f 1 2\x01"
    assert ctcpStringify([("X", "a\x01b")]) == "\x01X a\\ab\x01"
    assert X_DELIM == "\x01" and X_QUOTE == "\\" and M_QUOTE == "\x10"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_quotingRoundTrips(text: str) -> None:
    assert lowDequote(lowQuote(text)) == text
    assert ctcpDequote(ctcpQuote(text)) == text
    assert not any(c in lowQuote(text) for c in "\0\r\n")
    assert X_DELIM not in ctcpQuote(text)


@settings(max_examples=300, deadline=None)
@given(
    st.text(st.characters(blacklist_characters=" \x01"), min_size=1, max_size=10),
    st.one_of(st.none(), st.text(max_size=20)),
)
def test_stringifyThenExtract(tag: str, data: str | None) -> None:
    assert ctcpExtract(ctcpStringify([(tag, data)]))["extended"] == [(tag, data)]
