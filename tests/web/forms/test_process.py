"""Processing submissions through a Site: CSRF, PRG, errors re-shown, hostile bodies."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest

from tests.web.forms._formclient import BOUNDARY, FormClient, multipartBody
from torsion.internet import defer
from torsion.web import forms
from torsion.web.resource import Resource


class Signup(forms.Form):
    name = forms.String(required=True, maxLength=20)
    password = forms.Password(required=True)
    age = forms.Integer(min=0, max=150)
    colour = forms.Choice(["red", "green"])
    agree = forms.Boolean(required=True)


def makeSite(onSuccess: Any = None, form: forms.Form | None = None) -> tuple[FormClient, list[Any]]:
    seen: list[Any] = []

    def succeeded(request: Any, result: forms.FormResult) -> Any:
        seen.append(result.values)
        if onSuccess is not None:
            return onSuccess(request, result)
        forms.flash(request, f"Welcome, {result.values['name']}!")
        return None

    root = Resource()
    root.putChild(b"signup", forms.FormResource(form or Signup(), succeeded, title="Sign up"))
    return FormClient(root), seen


GOOD = [("name", "Ann"), ("password", "pw"), ("age", "33"), ("colour", "red"), ("agree", "on")]


def test_getShowsTheFormWithATokenAndSetsTheSessionCookie() -> None:
    client, _ = makeSite()
    page = client.get(b"/signup")
    assert page.code == 200
    assert page.header(b"content-type") == b"text/html; charset=utf-8"
    assert page.body.startswith(b"<!DOCTYPE html>")
    assert b"<h1>Sign up</h1>" in page.body and b'name="_csrf"' in page.body
    assert b"TORSION_SESSION" in client.cookies
    assert client.token()


def test_aValidPostRedirectsToAGetThatShowsTheFlash() -> None:
    client, seen = makeSite()
    client.get(b"/signup")
    done = client.submit(b"/signup", GOOD)
    assert done.code == 303
    assert done.header(b"location") == b"/signup"
    assert seen == [{"name": "Ann", "password": "pw", "age": 33, "colour": "red", "agree": True}]
    again = client.get(b"/signup")
    assert b"Welcome, Ann!" in again.body
    assert b"Welcome" not in client.get(b"/signup").body


def test_anInvalidPostShowsTheFormAgainWithErrorsAndValues() -> None:
    client, seen = makeSite()
    client.get(b"/signup")
    page = client.submit(
        b"/signup", [("name", "<b>Bob</b>"), ("password", "s3cret"), ("age", "-4")]
    )
    assert page.code == 400 and seen == []
    body = page.body.decode()
    assert 'value="&lt;b&gt;Bob&lt;/b&gt;"' in body
    assert "s3cret" not in body
    assert "Enter a number no smaller than 0." in body
    assert "Tick this box to go on." in body
    assert 'name="_csrf"' in body


@pytest.mark.parametrize("token", [None, "", "forged", "A" * 43])
def test_aMissingOrWrongTokenIsA403WithAClearPage(token: str | None) -> None:
    client, seen = makeSite()
    client.get(b"/signup")
    fields = list(GOOD) if token is None else [("_csrf", token), *GOOD]
    page = client.submit(b"/signup", fields, token=False)
    assert page.code == 403 and seen == []
    assert b"This form was not accepted" in page.body
    assert b"security token" in page.body


def test_aTokenFromAnotherSessionIsRefused() -> None:
    first, _ = makeSite()
    first.get(b"/signup")
    stolen = first.token()
    other = FormClient(site=first.site)
    other.get(b"/signup")
    assert other.token() != stolen
    assert other.submit(b"/signup", [("_csrf", stolen), *GOOD], token=False).code == 403
    other.get(b"/signup")
    assert other.submit(b"/signup", GOOD).code == 303


def test_aPostWithoutASessionCookieIsRefused() -> None:
    client, _ = makeSite()
    client.get(b"/signup")
    token = client.token()
    client.cookies.clear()
    assert client.submit(b"/signup", [("_csrf", token), *GOOD], token=False).code == 403


def test_multipartWithoutFilesWorksToo() -> None:
    client, seen = makeSite()
    client.get(b"/signup")
    assert client.submit(b"/signup", GOOD, multipart=True).code == 303
    assert seen[0]["age"] == 33


@pytest.mark.parametrize(
    ("outcome", "code", "location", "body"),
    [
        (forms.Redirect("/welcome"), 303, b"/welcome", None),
        (b"thanks", 200, None, b"thanks"),
        (defer.succeed(forms.Redirect(b"/d")), 303, b"/d", None),
    ],
)
def test_onSuccessDecidesTheAnswer(
    outcome: Any, code: int, location: bytes | None, body: bytes | None
) -> None:
    client, _ = makeSite(lambda request, result: outcome)
    client.get(b"/signup")
    answer = client.submit(b"/signup", GOOD)
    assert answer.code == code
    assert answer.header(b"location") == location
    if body is not None:
        assert answer.body == body


def test_anAsyncOnSuccess() -> None:
    async def later(request: Any, result: forms.FormResult) -> Any:
        await defer.succeed(None)
        return forms.Redirect("/async")

    client, _ = makeSite(later)
    client.get(b"/signup")
    assert client.submit(b"/signup", GOOD).header(b"location") == b"/async"


def test_onSuccessReturningSomethingElseIsA500() -> None:
    client, _ = makeSite(lambda request, result: 42)
    client.get(b"/signup")
    assert client.submit(b"/signup", GOOD).code == 500


def post(client: FormClient, body: bytes, contentType: bytes) -> Any:
    client.get(b"/signup")
    return client.post(b"/signup", body, contentType)


def test_wrongCharsetIsAFieldErrorNotACrash() -> None:
    client, seen = makeSite()
    client.get(b"/signup")
    body = b"_csrf=" + client.token().encode() + b"&name=%FF%FEAnn&password=x&agree=on"
    page = client.post(b"/signup", body)
    assert page.code == 400 and seen == []
    assert b"This value is not valid UTF-8 text" in page.body


def test_aDeclaredLatin1CharsetIsHonoured() -> None:
    client, seen = makeSite()
    client.get(b"/signup")
    body = b"_csrf=" + client.token().encode() + b"&name=Andr%E9&password=x&agree=on"
    page = client.post(b"/signup", body, b"application/x-www-form-urlencoded; charset=iso-8859-1")
    assert page.code == 303
    assert seen[0]["name"] == "André"


def test_anUnknownCharsetIs415() -> None:
    client, _ = makeSite()
    page = post(client, b"name=x", b"application/x-www-form-urlencoded; charset=klingon")
    assert page.code == 415 and b"klingon" in page.body


def test_notAFormIs415() -> None:
    client, _ = makeSite()
    page = post(client, b'{"name": "x"}', b"application/json")
    assert page.code == 415 and b"application/json" in page.body


def test_tooManyFieldsIs413() -> None:
    client, _ = makeSite()
    body = urllib.parse.urlencode([("x", "1")] * 1001).encode()
    page = post(client, body, b"application/x-www-form-urlencoded")
    assert page.code == 413 and b"more than 1000 fields" in page.body
    fields = [("x", "1")] * 1001
    page = post(client, multipartBody(fields), b"multipart/form-data; boundary=" + BOUNDARY)
    assert page.code == 413 and b"more than 1000 fields" in page.body


def test_anOverlongValueIsAFieldError() -> None:
    class Small(forms.Form):
        maxFieldSize = 100
        name = forms.String()
        other = forms.String()

    client, _seen = makeSite(form=Small())
    client.get(b"/signup")
    token = client.token()
    body = b"_csrf=" + token.encode() + b"&name=" + b"%41" * 5000 + b"&other=ok"
    page = client.post(b"/signup", body)
    assert page.code == 400
    assert b"This value is longer than 100 bytes." in page.body
    assert b'value="ok"' in page.body
    page = client.post(
        b"/signup",
        multipartBody([("_csrf", token), ("name", "A" * 101), ("other", "ok")]),
        b"multipart/form-data; boundary=" + BOUNDARY,
    )
    assert page.code == 400 and b"longer than 100 bytes" in page.body


@pytest.mark.parametrize(
    ("body", "contentType", "message"),
    [
        (b"--x\r\n", b"multipart/form-data", b"without a boundary"),
        (
            b"--b\r\nContent-Type: text/plain\r\n\r\nno name\r\n--b--\r\n",
            b"multipart/form-data; boundary=b",
            b"has no name",
        ),
        (b"--b\r\nunterminated", b"multipart/form-data; boundary=b", b"cut short"),
        (b"garbage without the boundary", b"multipart/form-data; boundary=b", b"closing boundary"),
    ],
)
def test_malformedMultipartIs400WithTheReason(
    body: bytes, contentType: bytes, message: bytes
) -> None:
    client, _ = makeSite()
    page = post(client, body, contentType)
    assert page.code == 400
    assert message in page.body


def test_unknownFieldsAreIgnored() -> None:
    client, seen = makeSite()
    client.get(b"/signup")
    assert client.submit(b"/signup", [*GOOD, ("admin", "1")]).code == 303
    assert "admin" not in seen[0]


def test_processRefusesAGet() -> None:
    client, _ = makeSite()

    class Direct(Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> Any:
            return Signup().process(request)

    client = FormClient(Direct())
    assert client.get(b"/").code == 405


class Search(forms.Form):
    method = "get"
    q = forms.String(required=True)


def test_aGetFormHasNoTokenAndIsProcessedFromTheQuery() -> None:
    got: list[Any] = []

    def found(request: Any, result: forms.FormResult) -> bytes:
        got.append(result.values)
        return b"results"

    client = FormClient(forms.FormResource(Search(), found))
    page = client.get(b"/")
    assert b"_csrf" not in page.body and b'method="get"' in page.body
    assert client.get(b"/?q=torsion").body == b"results"
    assert got == [{"q": "torsion"}]
    assert client.get(b"/?q=").code == 400
    client.lastPage = b""
    assert client.post(b"/", b"q=x").code == 405


def test_processOutsideASiteNeedsCsrfOffOrSaysWhy() -> None:
    from tests.web.webtesting import MemorySite
    from torsion.web.http import Request

    request = Request(MemorySite(Resource()).channel)
    request.method = b"POST"
    with pytest.raises(TypeError, match="getSession"):
        Signup().render(request)


def test_aChunkedBodyIsReadToo() -> None:
    client, seen = makeSite()
    client.get(b"/signup")
    body = urllib.parse.urlencode([("_csrf", client.token()), *GOOD]).encode()
    chunked = (
        b"".join(
            b"%x\r\n%s\r\n" % (len(body[i : i + 7]), body[i : i + 7])
            for i in range(0, len(body), 7)
        )
        + b"0\r\n\r\n"
    )
    head = (
        b"POST /signup HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n" + client._cookieHeader() + b"\r\n"
    )
    assert client.request(head, chunked).code == 303
    assert seen[0]["name"] == "Ann"
