"""CTCP quoting and extraction (lowQuote, ctcpQuote, ctcpExtract, ctcpStringify)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torsion.words.protocols.irc import (
    M_QUOTE,
    X_DELIM,
    X_QUOTE,
    assembleFormattedText,
    attributes,
    ctcpDequote,
    ctcpExtract,
    ctcpQuote,
    ctcpStringify,
    lowDequote,
    lowQuote,
    parseFormattedText,
    stripFormatting,
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


def test_stripFormatting() -> None:
    assert stripFormatting("\x02bold\x02 \x1ditalic\x1d \x1funder\x1f \x0f") == "bold italic under "
    assert stripFormatting("\x0304red\x03 \x034,12on blue\x03 \x03,5x") == "red on blue ,5x"
    assert stripFormatting("\x04FF0000hex\x04 \x04ff0000,00ff00two") == "hex two"
    assert stripFormatting("\x0399 digits 100") == " digits 100"
    assert stripFormatting("\x16rev\x11mono\x1estrike") == "revmonostrike"
    assert stripFormatting("plain: 3,4") == "plain: 3,4"


# -- structured formatting -----------------------------------------------------------------

A = attributes


def render(text: str) -> list[tuple[str, tuple[object, ...]]]:
    """Each visible character with the (bold, underline, reverse, fg, bg) it shows in."""
    out: list[tuple[str, tuple[object, ...]]] = []
    bold = underline = reverse = False
    fg: int | None = None
    bg: int | None = None
    i = 0
    while i < len(text):
        c = text[i]
        i += 1
        if c == "\x02":
            bold = not bold
        elif c == "\x1f":
            underline = not underline
        elif c == "\x16":
            reverse = not reverse
        elif c == "\x0f":
            bold = underline = reverse = False
            fg = bg = None
        elif c == "\x03":
            digits = ""
            while i < len(text) and text[i] in "0123456789" and len(digits) < 2:
                digits += text[i]
                i += 1
            if not digits:
                fg = bg = None
                continue
            fg = int(digits)
            if i + 1 < len(text) and text[i] == "," and text[i + 1] in "0123456789":
                digits = text[i + 1]
                i += 2
                if i < len(text) and text[i] in "0123456789":
                    digits += text[i]
                    i += 1
                bg = int(digits)
        else:
            out.append((c, (bold, underline, reverse, fg, bg)))
    return out


def test_assembleTwistedExample() -> None:
    formatted = A.normal[A.bold["Time: "], A.fg.lightRed["Now!"]]
    assert assembleFormattedText(formatted) == "\x0f\x02Time: \x0f\x0304Now!"


def test_assembleNestingAndNegation() -> None:
    text = assembleFormattedText(
        A.bold["a", A.underline["b", -A.bold["c"]], A.bg.blue[A.fg.white["d"]]]
    )
    assert text == "\x0f\x02a\x0f\x02\x1fb\x0f\x1fc\x0f\x02\x0300,02d"
    assert stripFormatting(text) == "abcd"


def test_parseBuildsStructure() -> None:
    assert parseFormattedText("\x02bold\x02 plain") == A.normal[A.bold["bold"], " plain"]
    assert parseFormattedText("\x0304,02x\x03y") == A.normal[A.fg.lightRed[A.bg.blue["x"]], "y"]
    assert parseFormattedText("") == A.normal


def test_colourNamesAndErrors() -> None:
    assert A.fg.lightGray == A.fg.lightGray
    assert A.fg.red != A.bg.red
    with pytest.raises(AttributeError, match="not an IRC colour"):
        _ = A.fg.chartreuse
    with pytest.raises(TypeError):
        A.bold[3]


_styled = st.lists(
    st.one_of(
        st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=5),
        st.sampled_from(
            ["\x02", "\x1f", "\x16", "\x0f", "\x03", "\x0304", "\x0312,01", "\x031", "\x03,"]
        ),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(_styled)
def test_parseThenAssembleLooksTheSame(pieces: list[str]) -> None:
    text = "".join(pieces)
    assembled = assembleFormattedText(parseFormattedText(text))
    assert render(assembled) == render(text)
    assert stripFormatting(assembled) == stripFormatting(text)
