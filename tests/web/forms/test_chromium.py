"""A real browser fills in a form with a file and sends it: headless Chromium, multipart.

The page's script (served by the site) fills the fields, attaches a file made in
JavaScript (DataTransfer) and submits the form once; Chromium encodes the body as
browsers do, the server validates it, keeps the upload, redirects (303) and the page
it lands on shows the flash message, which --dump-dom prints. Skipped, saying so,
where Chromium is not installed (Debian's package is ``chromium``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.web import _webhelpers
from tests.web._webhelpers import chromiumDOM, listenSite, needsChromium
from torsion.web import forms
from torsion.web.resource import Resource
from torsion.web.server import Site
from torsion.web.template import Tag, tags

oneReactor = _webhelpers.oneReactor

pytestmark = needsChromium

FILL = b"""const form = document.querySelector("form");
if (form && !sessionStorage.getItem("sent")) {
  sessionStorage.setItem("sent", "1");
  document.getElementById("upload-name").value = "Zo\\u00eb <b>";
  document.getElementById("upload-colour").value = "green";
  document.getElementById("upload-agree").checked = true;
  const picture = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10, 13, 10, 45, 45, 0, 255]);
  const files = new DataTransfer();
  files.items.add(new File([picture], "pic.png", {type: "image/png"}));
  document.getElementById("upload-avatar").files = files.files;
  form.requestSubmit();
}
"""


class Upload(forms.Form):
    name = forms.String(required=True)
    colour = forms.Choice(["red", "green"], required=True)
    avatar = forms.File(required=True, accept=("image/png",))
    agree = forms.Boolean(required=True)


class Script(Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"content-type", b"text/javascript")
        return FILL


def page(request: Any, title: str, flashes: list[str], form: Tag) -> Tag:
    return tags.html(
        tags.head(tags.meta(charset="utf-8"), tags.title(title)),
        tags.body(
            [tags.p(id="flash")(message) for message in flashes],
            form,
            tags.script(src="/fill.js"),
        ),
    )


def test_chromiumSendsTheFormWithAFile(oneReactor: Any, tmp_path: Path) -> None:
    got: list[tuple[Any, ...]] = []

    def succeeded(request: Any, result: forms.FormResult) -> None:
        values = result.values
        avatar = values["avatar"]
        got.append(
            (
                values["name"],
                values["colour"],
                values["agree"],
                avatar.filename,
                avatar.contentType,
                avatar.read(),
            )
        )
        forms.flash(request, f"Thank you, {values['name']}.")

    root = Resource()
    root.putChild(b"up", forms.FormResource(Upload, succeeded, title="Upload", page=page))
    root.putChild(b"fill.js", Script())
    port = listenSite(oneReactor, Site(root, reactor=oneReactor))
    dom = chromiumDOM(oneReactor, f"http://127.0.0.1:{port}/up", tmp_path)
    picture = bytes([137, 80, 78, 71, 13, 10, 26, 10, 13, 10, 45, 45, 0, 255])
    assert got == [("Zoë <b>", "green", True, "pic.png", "image/png", picture)]
    assert '<p id="flash">Thank you, Zoë &lt;b&gt;.</p>' in dom, dom
