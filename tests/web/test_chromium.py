"""A real browser against torsion.web: headless Chromium keeps a session across reloads.

The page counts its visits in the server's session (request.getSession()); a script it
loads from the server reloads the page until it has been shown three times (keeping
its own count in sessionStorage), and Chromium prints the final DOM (--dump-dom after
--virtual-time-budget lets the reloads run). The DOM shows visit 3 only if Chromium
sent the session cookie back each time. Skipped, saying so, where Chromium is not
installed (Debian's package is ``chromium``; .ci/run installs it).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.web import _webhelpers
from tests.web._webhelpers import chromiumDOM, listenSite, needsChromium
from torsion.web.resource import Resource
from torsion.web.server import Site

oneReactor = _webhelpers.oneReactor
CHROMIUM = _webhelpers.CHROMIUM  # its old home: other tests may still import it from here

pytestmark = needsChromium

PAGE = b"""<!doctype html>
<html><head><title>visits</title></head>
<body><p>visit <span id="visits">%d</span>, load <span id="loads">?</span></p>
<script src="/reload.js"></script></body></html>
"""

RELOAD = b"""const loads = Number(sessionStorage.getItem("loads") || "0") + 1;
sessionStorage.setItem("loads", String(loads));
document.getElementById("loads").textContent = String(loads);
if (loads < 3) { location.reload(); }
"""


class Page(Resource):
    """The page: the visit count of this session, and the script that reloads it."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.visits: dict[bytes, int] = {}

    def render_GET(self, request: Any) -> bytes:
        uid = request.getSession().uid
        self.visits[uid] = self.visits.get(uid, 0) + 1
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        return PAGE % self.visits[uid]


class Script(Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"content-type", b"text/javascript")
        return RELOAD


def test_chromiumKeepsTheSessionAcrossReloads(oneReactor: Any, tmp_path: Path) -> None:
    page = Page()
    root = Resource()
    root.putChild(b"page", page)
    root.putChild(b"reload.js", Script())
    port = listenSite(oneReactor, Site(root, reactor=oneReactor))
    dom = chromiumDOM(oneReactor, f"http://127.0.0.1:{port}/page", tmp_path)
    assert re.search(r'id="loads">3<', dom), dom
    assert re.search(r'id="visits">3<', dom), dom
    assert list(page.visits.values()) == [3]
