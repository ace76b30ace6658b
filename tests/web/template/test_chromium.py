"""A real browser renders a template page: XMLFile, an Element, a slow Deferred renderer.

The page (tests/web/template/slowpage.xml) waits 0.3 s (reactor.callLater) for its
list items, and carries hostile text in a text node and in an attribute. A script the
page loads checks, in the browser, that the hostile strings arrived as plain text (no
element was injected, the attribute holds the whole string) and writes its verdict
into the page; Chromium prints the final DOM. Skipped where Chromium is not installed.
"""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from typing import Any

from tests.web import _webhelpers
from tests.web._webhelpers import chromiumDOM, listenSite, needsChromium
from torsion.internet.defer import Deferred
from torsion.web.resource import Resource
from torsion.web.server import Site
from torsion.web.template import Element, Tag, XMLFile, renderElement, renderer

oneReactor = _webhelpers.oneReactor
pytestmark = needsChromium

HOSTILE = '</p><script id="injected">document.title=\'pwned\'</script>" onclick="x & y'

CHECK = b"""
const text = document.getElementById("hostile-text").textContent;
const attribute = document.getElementById("hostile-attribute").getAttribute("title");
const items = document.querySelectorAll("#slow li").length;
const ok = text === attribute && !document.getElementById("injected")
  && document.title === "Slow page" && items === 3;
document.getElementById("verdict").textContent = ok ? "safe " + items : "UNSAFE " + text;
"""


class SlowPage(Element):
    loader = XMLFile(Path(__file__).with_name("slowpage.xml"))

    def __init__(self, reactor: Any) -> None:
        super().__init__()
        self.reactor = reactor

    @renderer
    def page(self, request: Any, tag: Tag) -> Tag:
        return tag.fillSlots(title="Slow page", hostile=HOSTILE)

    @renderer
    def slowItems(self, request: Any, tag: Tag) -> Deferred[Tag]:
        item = tag.children[0]
        d: Deferred[Tag] = Deferred()
        self.reactor.callLater(0.3, d.callback, tag)

        def fill(ul: Tag) -> Tag:
            ul.children = [item.clone().fillSlots(item=f"item {n}") for n in range(3)]
            return ul

        return d.addCallback(fill)


class Page(Resource):
    isLeaf = True

    def __init__(self, reactor: Any) -> None:
        super().__init__()
        self.reactor = reactor

    def render_GET(self, request: Any) -> Any:
        return renderElement(request, SlowPage(self.reactor))


class Script(Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"content-type", b"text/javascript")
        return CHECK


def test_chromiumRendersATemplateWithASlowRenderer(oneReactor: Any, tmp_path: Path) -> None:
    root = Resource()
    root.putChild(b"page", Page(oneReactor))
    root.putChild(b"check.js", Script())
    port = listenSite(oneReactor, Site(root, reactor=oneReactor))
    dom = chromiumDOM(oneReactor, f"http://127.0.0.1:{port}/page", tmp_path)
    assert re.search(r'<p id="verdict">safe 3</p>', dom), dom
    assert "<title>Slow page</title>" in dom
    assert re.findall(r"<li>(item \d)</li>", dom) == ["item 0", "item 1", "item 2"]
    [text] = re.findall(r'<p id="hostile-text">(.*?)</p>', dom)
    assert unescape(text) == HOSTILE
