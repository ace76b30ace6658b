"""The stan document model: tags, attributes, slots, clones, and the special nodes."""

from __future__ import annotations

import pytest

from tests.web.template._helpers import flat
from torsion.web.template import (
    CDATA,
    VALID_HTML_TAG_NAMES,
    CharRef,
    Comment,
    Tag,
    raw,
    slot,
    tags,
)


def test_callingATagAddsChildrenAndAttributes() -> None:
    tag = tags.div(class_="x", id="y")("text", tags.span("child"))
    assert tag.tagName == "div"
    assert tag.attributes == {"class": "x", "id": "y"}
    assert tag.children[0] == "text"
    assert flat(tag) == b'<div class="x" id="y">text<span>child</span></div>'


def test_renderKeywordNamesTheRendererNotAnAttribute() -> None:
    tag = tags.p(render="greeting")
    assert tag.render == "greeting"
    assert "render" not in tag.attributes


def test_renderMustBeText() -> None:
    with pytest.raises(TypeError, match="render= names a renderer"):
        tags.p(render=3)


def test_unknownTagNameIsAnAttributeError() -> None:
    with pytest.raises(AttributeError, match="not an HTML element name"):
        tags.dvi  # noqa: B018
    assert "dvi" not in VALID_HTML_TAG_NAMES
    assert "main" in VALID_HTML_TAG_NAMES


def test_eachAccessMakesANewTag() -> None:
    assert tags.div is not tags.div


def test_transparentWritesOnlyItsChildren() -> None:
    assert flat(tags.transparent("a", tags.b("b"), "c")) == b"a<b>b</b>c"


def test_voidElementsHaveNoEndTag() -> None:
    assert flat(tags.br()) == b"<br />"
    assert flat(tags.img(src="/x.png")) == b'<img src="/x.png" />'
    assert flat(tags.div()) == b"<div></div>"
    assert flat(tags.script(src="/a.js")) == b'<script src="/a.js"></script>'


def test_bytesTagNameIsText() -> None:
    assert Tag(b"div").tagName == "div"


def test_fillSlotsReturnsTheTagAndFillsBelow() -> None:
    tag = tags.div(slot("a"), tags.span(slot("b")))
    assert tag.fillSlots(a="A", b=tags.i("B")) is tag
    assert flat(tag) == b"<div>A<span><i>B</i></span></div>"


def test_innerFillSlotsShadowsOuter() -> None:
    tree = tags.div(slot("x"), tags.p(slot("x")).fillSlots(x="inner")).fillSlots(x="outer")
    assert flat(tree) == b"<div>outer<p>inner</p></div>"


def test_slotDefaultIsUsedWhenUnfilled() -> None:
    assert flat(tags.p(slot("x", default="fallback"))) == b"<p>fallback</p>"


def test_slotFillsAnAttribute() -> None:
    assert (
        flat(tags.a(href=slot("u"))("go").fillSlots(u="/x?a&b")) == b'<a href="/x?a&amp;b">go</a>'
    )


def test_cloneIsIndependent() -> None:
    original = tags.ul(tags.li("a"), class_="list")
    deep = original.clone()
    deep.children[0].children.append("changed")
    deep.attributes["class"] = "other"
    assert flat(original) == b'<ul class="list"><li>a</li></ul>'
    shallow = original.clone(deep=False)
    shallow.children.append(tags.li("b"))
    assert len(original.children) == 1
    assert shallow.children[0] is original.children[0]


def test_cloneKeepsSlotDataRenderAndPosition() -> None:
    tag = Tag("p", render="r", filename="f.xml", lineNumber=3, columnNumber=4).fillSlots(a="1")
    clone = tag.clone()
    assert (clone.render, clone.filename, clone.lineNumber, clone.columnNumber) == (
        "r",
        "f.xml",
        3,
        4,
    )
    assert clone.slotData == {"a": "1"}
    assert clone.slotData is not tag.slotData


def test_reprsSayWhatAndWhere() -> None:
    assert repr(tags.p("x", class_="c")) == "Tag('p', attributes={'class': 'c'}, children=['x'])"
    assert "at f.xml:3:4" in repr(Tag("p", filename="f.xml", lineNumber=3, columnNumber=4))
    assert repr(slot("s")) == "slot('s')"
    assert repr(raw("<b>")) == "raw('<b>')"


def test_specialNodes() -> None:
    assert flat(Comment("note")) == b"<!--note-->"
    assert flat(CDATA("a < b")) == b"<![CDATA[a < b]]>"
    assert flat(CharRef(160)) == b"&#160;"
    assert flat(raw("<b>bold</b>")) == b"<b>bold</b>"
    assert flat(raw(b"<i>\xc3\xa9</i>")) == "<i>é</i>".encode()


def test_charRefNeedsACodePoint() -> None:
    with pytest.raises(ValueError, match="Unicode code point"):
        CharRef(0x110000)
    with pytest.raises(ValueError, match="surrogate"):
        CharRef(0xD800)


def test_rawRefusesOtherTypesAndBadUTF8() -> None:
    with pytest.raises(TypeError, match="raw"):
        raw(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be UTF-8"):
        raw(b"\xff")


def test_reprOfADeepTreeIsShort() -> None:
    tree = tags.div()
    for _ in range(100_000):
        tree = tags.div(tree)
    text = repr(tree)
    assert (
        text
        == "Tag('div', children=[Tag('div', children=[Tag('div', children=[Tag('div', ...)])])])"
    )
