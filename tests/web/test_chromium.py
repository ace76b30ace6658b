"""A real browser against torsion.web: headless Chromium keeps a session across reloads.

The page counts its visits in the server's session (request.getSession()); a script it
loads from the server reloads the page until it has been shown three times (keeping
its own count in sessionStorage), and Chromium prints the final DOM (--dump-dom after
--virtual-time-budget lets the reloads run). The DOM shows visit 3 only if Chromium
sent the session cookie back each time. Skipped, saying so, where Chromium is not
installed (Debian's package is ``chromium``; .ci/run installs it).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.web import _webhelpers
from tests.web._webhelpers import listenSite, runCommand
from torsion.web.resource import Resource
from torsion.web.server import Site

oneReactor = _webhelpers.oneReactor

CHROMIUM = next(
    (
        found
        for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
        if (found := shutil.which(name)) is not None
    ),
    None,
)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
)

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
    assert CHROMIUM is not None
    argv = [
        CHROMIUM,
        "--headless",
        # Containers run tests as root, where Chromium's sandbox cannot start; the
        # browser only loads the test's own page from 127.0.0.1.
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000",
        "--dump-dom",
        f"http://127.0.0.1:{port}/page",
    ]
    environment = dict(os.environ, HOME=str(tmp_path))
    # Well under 15 s on a quiet machine; the bound is for a loaded one.
    done = runCommand(oneReactor, argv, timeout=45, env=environment)
    dom = done.stdout.decode("utf-8", "replace")
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")[-2000:]
    assert re.search(r'id="loads">3<', dom), dom
    assert re.search(r'id="visits">3<', dom), dom
    assert list(page.visits.values()) == [3]
