"""Headless Chromium against torsion.web.guard: Digest, Basic and the login form.

Chromium answers Digest (SHA-256) and Basic challenges with the credentials in the
URL, and fills in and submits the login form with a script of the test's (served
outside the wrapper), following the redirects back to the page first asked for with
the session cookie. --dump-dom prints where it ended up. Skipped, saying so, where
Chromium is not installed (Debian's package is ``chromium``; .ci/run installs it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web import _webhelpers
from tests.web._webhelpers import chromiumDOM, listenSite, needsChromium
from tests.web.guard.helpers import RecordingRealm, memoryPortal
from torsion.web import resource
from torsion.web.guard import (
    BasicCredentialFactory,
    DigestCredentialFactory,
    HTTPAuthSessionWrapper,
    LoginElement,
    SessionLoginWrapper,
)
from torsion.web.server import Site
from torsion.web.template import XMLString

oneReactor = _webhelpers.oneReactor

pytestmark = needsChromium


@pytest.mark.parametrize("scheme", ["digest", "basic"])
def test_chromiumAnswersTheChallenge(oneReactor: Any, tmp_path: Path, scheme: str) -> None:
    realm = RecordingRealm()
    factory = (
        DigestCredentialFactory(b"sha256", "chromium")
        if scheme == "digest"
        else BasicCredentialFactory("chromium")
    )
    site = Site(HTTPAuthSessionWrapper(memoryPortal(realm), [factory]), reactor=oneReactor)
    port = listenSite(oneReactor, site)
    dom = chromiumDOM(oneReactor, f"http://alice:s3cret@127.0.0.1:{port}/x/y", tmp_path)
    assert '"user": "alice"' in dom and '"postpath": ["x", "y"]' in dom, dom
    assert b"alice" in realm.logins


FILL = b"""
document.addEventListener("DOMContentLoaded", function () {
  if (document.querySelector(".login-error") || sessionStorage.getItem("sent")) return;
  sessionStorage.setItem("sent", "1");
  document.getElementById("username").value = "alice";
  document.getElementById("password").value = "s3cret";
  document.forms[0].submit();
});
"""


class Script(resource.Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"content-type", b"text/javascript")
        return FILL


class ScriptedLogin(LoginElement):
    loader = XMLString(
        '<html xmlns:t="http://twistedmatrix.com/ns/twisted.web.template/0.1">'
        '<head><title t:render="loginTitle" /><script src="/fill.js"></script></head>'
        '<body><t:transparent t:render="loginError" /><div t:render="loginForm" />'
        "</body></html>"
    )


def test_chromiumLogsInWithTheFormAndComesBack(oneReactor: Any, tmp_path: Path) -> None:
    realm = RecordingRealm()
    root = resource.Resource()
    root.putChild(b"fill.js", Script())
    root.putChild(
        b"app",
        SessionLoginWrapper(memoryPortal(realm), loginElement=ScriptedLogin, reactor=oneReactor),
    )
    port = listenSite(oneReactor, Site(root, reactor=oneReactor))
    dom = chromiumDOM(oneReactor, f"http://127.0.0.1:{port}/app/reports/2026?q=1", tmp_path)
    assert '"user": "alice"' in dom, dom
    assert '"prepath": ["app"]' in dom and '"postpath": ["reports", "2026"]' in dom, dom
    assert realm.logins == [b"alice"]
