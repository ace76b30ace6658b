"""Escaping: hostile text in content, attributes, comments and CDATA cannot become markup.

Each output is read back with the standard library's HTML parser (not ours): the text
or attribute value it finds must be exactly what was put in, inside exactly the one
element that was written. Hypothesis extends the table to arbitrary text.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.web.template._helpers import flat, flatFails
from torsion.web.template import CDATA, Comment, Tag, raw, slot, tags

HOSTILE = [
    '"',
    "'",
    "<",
    ">",
    "&",
    "&amp;",
    "&#60;",
    "</script>",
    "<script>alert(1)</script>",
    '" onmouseover="alert(1)',
    "' onmouseover='alert(1)",
    "<!--",
    "-->",
    "--!>",
    "]]>",
    "<![CDATA[x]]>",
    "<p>",
    "\u2028\u2029",
    "\x01\x7f",
    "é ü 日本 \U0001f600",
    "a\0b",
]


class Parsed(HTMLParser):
    """What a browser-like parser sees: tags, their attributes, text, comments."""

    def __init__(self, markup: bytes) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[tuple[Any, ...]] = []
        self.feed(markup.decode("utf-8"))
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.events.append(("start", tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.events.append(("start", tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        self.events.append(("end", tag))

    def handle_data(self, data: str) -> None:
        if self.events and self.events[-1][0] == "data":
            self.events[-1] = ("data", self.events[-1][1] + data)
        else:
            self.events.append(("data", data))

    def handle_comment(self, data: str) -> None:
        self.events.append(("comment", data))


def expected(text: str) -> str:
    """What a parser reads back: NUL is written as U+FFFD (as a browser would read it)."""
    return text.replace("\0", "\ufffd")


@pytest.mark.parametrize("text", HOSTILE)
def test_hostileTextStaysText(text: str) -> None:
    events = Parsed(flat(tags.p(text))).events
    assert events == [("start", "p", []), ("data", expected(text)), ("end", "p")]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostileTextInsideScriptCannotEndIt(text: str) -> None:
    markup = flat(tags.script(text))
    assert markup.count(b"</script>") == 1
    assert markup.endswith(b"</script>")


@pytest.mark.parametrize("text", HOSTILE)
def test_hostileAttributeValueStaysOneValue(text: str) -> None:
    events = Parsed(flat(tags.a(title=text, href="/x")("go"))).events
    assert events == [
        ("start", "a", [("title", expected(text)), ("href", "/x")]),
        ("data", "go"),
        ("end", "a"),
    ]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostileValueThroughSlotsAndTransparentAttributes(text: str) -> None:
    tree = tags.div(
        tags.a(href=slot("v"))(slot("v")),
        tags.b(title=tags.transparent("[", slot("v"), "]")),
        tags.i(title=[text, text]),
    ).fillSlots(v=text)
    events = Parsed(flat(tree)).events
    value = expected(text)
    assert events == [
        ("start", "div", []),
        ("start", "a", [("href", value)]),
        ("data", value),
        ("end", "a"),
        ("start", "b", [("title", f"[{value}]")]),
        ("end", "b"),
        ("start", "i", [("title", value + value)]),
        ("end", "i"),
        ("end", "div"),
    ]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostileBytesAreTextToo(text: str) -> None:
    events = Parsed(flat(tags.p(text.encode("utf-8"), title=text.encode("utf-8")))).events
    assert events == [
        ("start", "p", [("title", expected(text))]),
        ("data", expected(text)),
        ("end", "p"),
    ]


@pytest.mark.parametrize("text", [*HOSTILE, ">x", "->x", "x-", "<!-", "a---b", "-"])
def test_hostileCommentStaysOneComment(text: str) -> None:
    events = Parsed(flat(tags.div(Comment(text), "after"))).events
    assert events[0] == ("start", "div", [])
    assert events[1][0] == "comment"
    assert events[2:] == [("data", "after"), ("end", "div")]
    assert "--" not in events[1][1]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostileCDATAStaysCDATA(text: str) -> None:
    markup = flat(CDATA(text)).decode("utf-8")
    assert markup.startswith("<![CDATA[") and markup.endswith("]]>")
    sections = markup.split("]]><![CDATA[")
    assert all("]]>" not in part for part in (s.removesuffix("]]>") for s in sections))
    inner = "".join(s.removeprefix("<![CDATA[").removesuffix("]]>") for s in sections)
    assert inner == expected(text)


def test_tagMarkupInsideAnAttributeIsEscapedTwice() -> None:
    # Twisted's rule: markup in an attribute value is written as text, so its own
    # escaped text is escaped again.
    assert flat(tags.a(title=tags.b("x&y"))) == b'<a title="&lt;b&gt;x&amp;amp;y&lt;/b&gt;"></a>'


def test_rawIsWrittenAsItIs() -> None:
    assert flat(tags.div(raw("<b>&amp;</b>"))) == b"<div><b>&amp;</b></div>"


def test_rawInsideAnAttributeIsEscaped() -> None:
    # An attribute value is text: not even raw can end it.
    assert flat(tags.a(title=[raw('" onclick="x')])) == b'<a title="&quot; onclick=&quot;x"></a>'


def test_loneSurrogateIsAClearError() -> None:
    error = flatFails(tags.p("ok \udcff"))
    assert isinstance(error._exception, ValueError)
    assert "lone surrogate" in str(error._exception)
    assert "surrogateescape" in str(error._exception)


def test_loneSurrogateInAnAttributeIsAClearError() -> None:
    error = flatFails(tags.p(title="\ud800"))
    assert "lone surrogate" in str(error._exception)


@pytest.mark.parametrize("data", [b"\xff", b"abc\xc3", b"\xed\xa0\x80", b"\xc0\xaf"])
def test_bytesThatAreNotUTF8AreAClearError(data: bytes) -> None:
    for tree in (tags.p(data), tags.p(title=data)):
        error = flatFails(tree)
        assert isinstance(error._exception, ValueError)
        assert "must be UTF-8" in str(error._exception)
        assert "decode them" in str(error._exception)


@pytest.mark.parametrize(
    "name", ["on click", 'a"b', "a'b", "a>b", "a/b", "a=b", "", "a\0", "a\tb", b"x y"]
)
def test_hostileAttributeNamesAreRefused(name: Any) -> None:
    error = flatFails(Tag("p", attributes={name: "v"}))
    assert "cannot be an attribute name" in str(error._exception)


@pytest.mark.parametrize("name", ["script><x", "a b", "1a", "-x", 'a"', "<"])
def test_hostileTagNamesAreRefused(name: str) -> None:
    error = flatFails(Tag(name))
    assert "cannot be an element name" in str(error._exception)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_anyTextRoundTrips(text: str) -> None:
    events = Parsed(flat(tags.p(text))).events
    if text:
        assert events == [("start", "p", []), ("data", expected(text)), ("end", "p")]
    else:
        assert events == [("start", "p", []), ("end", "p")]


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_anyAttributeValueRoundTrips(text: str) -> None:
    events = Parsed(flat(tags.p(title=text))).events
    assert events == [("start", "p", [("title", expected(text))]), ("end", "p")]


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_anyCommentStaysOneComment(text: str) -> None:
    events = Parsed(flat(tags.p(Comment(text), "z"))).events
    assert [event[0] for event in events] == ["start", "comment", "data", "end"]
    assert events[2] == ("data", "z")
