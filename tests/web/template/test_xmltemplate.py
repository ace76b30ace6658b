"""XMLString and XMLFile: the directives in both namespaces, namespaces kept, positions
recorded, and templates refused (clearly) when malformed or using DTD tricks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web.template._helpers import flat, flatFails
from torsion.web.template import (
    CDATA,
    TEMPLATE_NAMESPACE,
    TORSION_NAMESPACE,
    Comment,
    Element,
    Tag,
    TemplateParseError,
    XMLFile,
    XMLString,
    renderer,
    slot,
)

T = f'xmlns:t="{TEMPLATE_NAMESPACE}"'


class Page(Element):
    @renderer
    def fill(self, request: Any, tag: Tag) -> Any:
        return tag.fillSlots(name="<world>", url="/a?b=1&c=2", css="big")

    @renderer
    def upper(self, request: Any, tag: Tag) -> Any:
        return tag("!", class_="up")

    @renderer
    def href(self, request: Any, tag: Tag) -> Any:
        return "/rendered"


def render(template: str | bytes) -> bytes:
    return flat(Page(XMLString(template)))


@pytest.mark.parametrize("namespace", [TEMPLATE_NAMESPACE, TORSION_NAMESPACE])
def test_directivesInEitherNamespace(namespace: str) -> None:
    markup = render(
        f'<div xmlns:t="{namespace}" t:render="fill"><p>Hello, <t:slot name="name"/></p>'
        '<a><t:attr name="href"><t:slot name="url"/></t:attr>link</a>'
        '<t:transparent>bare <b t:render="upper">b</b></t:transparent>'
        '<i><t:attr name="class" t:render="href"/></i></div>'
    )
    assert markup == (
        b'<div><p>Hello, &lt;world&gt;</p><a href="/a?b=1&amp;c=2">link</a>'
        b'bare <b class="up">b!</b><i class="/rendered"></i></div>'
    )


def test_slotDefault() -> None:
    assert render(f'<p {T}><t:slot name="missing" default="none"/></p>') == b"<p>none</p>"


def test_unfilledSlotNamesItsPlaceInTheTemplate() -> None:
    error = flatFails(Page(XMLString(f'<p {T}>\n  <t:slot name="x"/></p>')))
    assert "slot('x') at <string>:2:2" in repr(error)


def test_attrMixesTextAndSlots() -> None:
    markup = render(
        f'<div {T} t:render="fill"><a class="x"><t:attr name="title">[<t:slot name="css"/>]'
        "</t:attr></a></div>"
    )
    assert markup == b'<div><a class="x" title="[big]"></a></div>'


def test_directiveNamespaceDeclarationIsDropped() -> None:
    assert render(f"<p {T}>x</p>") == b"<p>x</p>"


def test_otherNamespacesAreKept() -> None:
    markup = render(
        f'<html xmlns="http://www.w3.org/1999/xhtml" {T}><svg:svg '
        'xmlns:svg="http://www.w3.org/2000/svg" svg:width="3"><svg:rect/></svg:svg>'
        '<p xml:lang="en">x</p></html>'
    )
    assert markup == (
        b'<html xmlns="http://www.w3.org/1999/xhtml"><svg:svg svg:width="3" '
        b'xmlns:svg="http://www.w3.org/2000/svg"><svg:rect></svg:rect></svg:svg>'
        b'<p xml:lang="en">x</p></html>'
    )


def test_commentsCDATAAndCharacterReferences() -> None:
    loaded = XMLString(f"<p {T}><!-- note --><![CDATA[a < b]]>&#160;&amp;</p>").load()
    [p] = loaded
    assert isinstance(p.children[0], Comment) and p.children[0].data == " note "
    assert isinstance(p.children[1], CDATA) and p.children[1].data == "a < b"
    assert p.children[2] == "\xa0&"
    assert (
        render(f"<p {T}><!-- note -->&#160;&amp;</p>") == "<p><!-- note -->\xa0&amp;</p>".encode()
    )


def test_tagsRememberWhereTheyWere() -> None:
    [div] = XMLString(f'<div {T}>\n <p t:render="x">y</p>\n</div>').load()
    p = div.children[1]
    assert (p.tagName, p.render, p.filename, p.lineNumber, p.columnNumber) == (
        "p",
        "x",
        None,
        2,
        1,
    )


def test_slotNodes() -> None:
    [p] = XMLString(f'<p {T}><t:slot name="a" default="d"/></p>').load()
    [node] = p.children
    assert isinstance(node, slot) and (node.name, node.default) == ("a", "d")


def test_bytesTemplatesFollowTheirDeclaredEncoding() -> None:
    latin = f'<?xml version="1.0" encoding="iso-8859-1"?><p {T}>caf\xe9</p>'.encode("latin-1")
    assert render(latin) == "<p>café</p>".encode()
    assert render(f"<p {T}>café</p>".encode()) == "<p>café</p>".encode()


def test_doctypeIsAllowedAndDropped() -> None:
    assert render(f"<!DOCTYPE html><p {T}>x</p>") == b"<p>x</p>"


def test_whitespaceAndTopLevelTextAreKept() -> None:
    assert render(f"<p {T}>\n  a  <b> b </b>\n</p>") == b"<p>\n  a  <b> b </b>\n</p>"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("<p>unclosed", "no element found"),
        ("<p><b></p></b>", "mismatched tag"),
        ("<p>&nbsp;</p>", "&#160;"),
        ("<t:p/>", 'xmlns:t="http://twistedmatrix.com'),
        (f"<p {T}><t:slot/></p>", "needs a name"),
        (f"<p {T}><t:attr>x</t:attr></p>", "needs a name"),
        (f'<t:attr {T} name="x"/>', "directly inside the element"),
        (f'<p {T}><t:transparent><t:attr name="x"/></t:transparent></p>', "directly inside"),
        (f"<p {T}><t:loop/></p>", "unknown template element"),
        (f'<p {T} t:rendr="x"/>', "unknown template attribute"),
    ],
)
def test_badTemplatesAreRefusedSayingWhere(template: str, message: str) -> None:
    with pytest.raises(TemplateParseError, match="<template string>:") as caught:
        XMLString(template)
    assert message in str(caught.value)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<p>&lol3;</p>"""


@pytest.mark.parametrize(
    "template",
    [
        BILLION_LAUGHS,
        '<!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><p>&x;</p>',
        '<!DOCTYPE p [<!ENTITY % x SYSTEM "http://127.0.0.1:1/x.dtd"> %x;]><p/>',
        '<!DOCTYPE p SYSTEM "file:///etc/passwd"><p>&secret;</p>',
        "<!DOCTYPE p [<!ELEMENT p ANY>]><p/>",
    ],
    ids=["billion-laughs", "external-entity", "parameter-entity", "external-dtd", "subset"],
)
def test_dtdTricksAreRefused(template: str) -> None:
    with pytest.raises(TemplateParseError, match=r"entity|DOCTYPE"):
        XMLString(template)


def test_externalDoctypeIsNeverRead() -> None:
    # XHTML templates written for Twisted carry one; it is kept out of the output and
    # never fetched, so it cannot define entities either.
    doctype = (
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
        '"http://127.0.0.1:1/xhtml1-strict.dtd">'
    )
    assert render(doctype + f"<p {T}>x</p>") == b"<p>x</p>"
    with pytest.raises(TemplateParseError, match="&nbsp; is not defined"):
        XMLString(doctype + "<p>&nbsp;</p>")


def test_xmlStringRefusesOtherTypes() -> None:
    with pytest.raises(TypeError, match="str or bytes"):
        XMLString(3)  # type: ignore[arg-type]


class FilePath:
    """What XMLFile needs of a Twisted-style FilePath: its ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path


def test_xmlFileTakesPathsAndFilePaths(tmp_path: Path) -> None:
    path = tmp_path / "page.xml"
    path.write_text(f'<p {T} t:render="upper">file</p>', encoding="utf-8")
    for given in (path, str(path), FilePath(str(path))):
        assert flat(Page(XMLFile(given))) == b'<p class="up">file!</p>'


def test_xmlFileParsesOnceAndNamesItselfInErrors(tmp_path: Path) -> None:
    path = tmp_path / "page.xml"
    path.write_text(f"<p {T}>one</p>", encoding="utf-8")
    loader = XMLFile(path)
    assert flat(Page(loader)) == b"<p>one</p>"
    path.write_text("<p>two", encoding="utf-8")
    assert flat(Page(loader)) == b"<p>one</p>"
    with pytest.raises(TemplateParseError, match=f"{path}:1:"):
        XMLFile(path).load()


def test_missingXMLFileIsAClearError(tmp_path: Path) -> None:
    loader = XMLFile(tmp_path / "nope.xml")
    with pytest.raises(FileNotFoundError, match=r"nope\.xml does not exist"):
        loader.load()


def test_twistedDocumentationStyleTemplate() -> None:
    # The shape of template Twisted's guide teaches: a transparent root, a renderer
    # that clones a row per item, slots in text and in t:attr.
    class Widgets(Element):
        loader = XMLString(
            f'<ul {T} t:render="rows"><li><a><t:attr name="href">/w/<t:slot name="id"/>'
            '</t:attr><t:slot name="name"/></a></li></ul>'
        )

        @renderer
        def rows(self, request: Any, tag: Tag) -> Any:
            row = tag.children[0]
            tag.children = [row.clone().fillSlots(id=str(n), name=f"w{n}") for n in range(2)]
            return tag

    assert flat(Widgets()) == (
        b'<ul><li><a href="/w/0">w0</a></li><li><a href="/w/1">w1</a></li></ul>'
    )
