"""A signup form with an avatar upload, made with torsion.web.forms.

Run it and open http://127.0.0.1:8080/ in a browser:

    python examples/web/formsignup.py [--port N] [--avatars AVATAR_DIRECTORY]

The form checks each field (a required name, an e-mail address, an age between 13
and 130, a PNG or JPEG avatar of at most 2 MiB, two passwords that match, the terms
ticked), shows the errors next to the fields, refuses posts without the session's
CSRF token (403), keeps the avatar under AVATAR_DIRECTORY (a temporary directory by
default) and, after a good signup, redirects to the members page (Post/Redirect/Get),
which shows a welcome message once. Try it from the shell too:

    curl -c jar -b jar http://127.0.0.1:8080/ | grep _csrf
    curl -c jar -b jar -F _csrf=TOKEN -F name=Ann -F email=ann@example.com \\
        -F password=correct-horse -F again=correct-horse -F agree=on \\
        -F avatar=@me.png http://127.0.0.1:8080/

Tests: tests/web/forms/test_example.py.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
from pathlib import Path
from typing import Any

from torsion.web import forms
from torsion.web.resource import Resource
from torsion.web.server import Site
from torsion.web.template import flattenString, tags


class Signup(forms.Form):
    submitLabel = "Sign up"

    name = forms.String(required=True, maxLength=80, label="Name")
    email = forms.Email(required=True, label="E-mail address")
    age = forms.Integer(min=13, max=130, help="Optional; you must be 13 or older.")
    colour = forms.Choice(["red", "green", "blue"], label="Favourite colour")
    avatar = forms.File(
        maxSize=2 * 1024 * 1024,
        accept=("image/png", "image/jpeg"),
        help="A PNG or JPEG picture, at most 2 MiB.",
    )
    password = forms.Password(required=True, minLength=8)
    again = forms.Password(required=True, label="Password again")
    agree = forms.Boolean(required=True, label="I accept the terms")

    def validate(self, values: dict[str, Any]) -> None:
        if values["password"] != values["again"]:
            raise forms.ValidationError("The two passwords differ.", field="again")


class Members(Resource):
    """The page a good signup lands on: who signed up so far."""

    isLeaf = True

    def __init__(self, members: list[tuple[str, str]]) -> None:
        super().__init__()
        self.members = members

    def render_GET(self, request: Any) -> Any:
        page = tags.html(lang="en")(
            tags.head(tags.meta(charset="utf-8"), tags.title("Members")),
            tags.body(
                [tags.p(tags.b(message)) for message in forms.takeFlashes(request)],
                tags.h1("Members"),
                tags.ul(
                    [tags.li(f"{name} ({avatar or 'no avatar'})") for name, avatar in self.members]
                ),
                tags.p(tags.a(href="/")("Sign up someone else")),
            ),
        )
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return flattenString(request, page).addCallback(lambda body: b"<!DOCTYPE html>\n" + body)


def makeSite(avatars: Path, reactor: Any = None) -> Site:
    """The site: the signup form at /, the members at /members."""
    members: list[tuple[str, str]] = []

    def signedUp(request: Any, result: forms.FormResult) -> forms.Redirect:
        values = result.values
        avatar: forms.UploadedFile | None = values["avatar"]
        kept = ""
        if avatar is not None:
            suffix = ".png" if avatar.contentType == "image/png" else ".jpg"
            kept = avatar.moveTo(avatars / (secrets.token_hex(8) + suffix)).name
        members.append((values["name"], kept))
        forms.flash(request, f"Welcome, {values['name']}!")
        return forms.Redirect("/members")

    root = Resource()
    root.putChild(b"", forms.FormResource(Signup, signedUp, title="Sign up"))
    root.putChild(b"members", Members(members))
    return Site(root, reactor=reactor)


def main() -> None:
    from torsion.internet import reactor

    parser = argparse.ArgumentParser(description="serve a signup form with an upload")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--avatars", type=Path, help="where avatars go (default: a temp dir)")
    options = parser.parse_args()
    avatars = options.avatars or Path(tempfile.mkdtemp(prefix="avatars-"))
    avatars.mkdir(parents=True, exist_ok=True)
    port = reactor.listenTCP(  # type: ignore[attr-defined]
        options.port, makeSite(avatars), interface="127.0.0.1"
    )
    print(f"signup form on http://127.0.0.1:{port.getHost().port}/, avatars in {avatars}")
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
