"""Forms against real clients on 127.0.0.1: curl -F uploads, urllib and http.client.

curl sends multipart bodies as it would for a user (Expect: 100-continue for big
ones); urllib follows the Post/Redirect/Get 303 with its cookie jar; http.client
sends hostile bodies. After every refusal, the server goes on answering.
"""

from __future__ import annotations

import hashlib
import http.client
import http.cookiejar
import re
import shutil
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.web import _webhelpers
from tests.web._webhelpers import listenSite, runBlocking, runCommand
from torsion.web import forms
from torsion.web._http11 import Limits
from torsion.web.resource import Resource
from torsion.web.server import Site

oneReactor = _webhelpers.oneReactor

CURL = shutil.which("curl")
needsCurl = pytest.mark.skipif(CURL is None, reason="curl is not installed (apt-get install curl)")
TOKEN = re.compile(rb'name="_csrf" value="([^"]+)"')


class Upload(forms.Form):
    name = forms.String(required=True, maxLength=40)
    avatar = forms.File(maxSize=1024 * 1024, accept=("image/png",))


class Served:
    """A site with the upload form at /up and a plain page at /ping."""

    def __init__(self, reactor: Any, tmp_path: Path, limits: Limits | None = None) -> None:
        self.reactor = reactor
        self.got: list[tuple[str, str, int]] = []
        form = Upload()
        form.uploadDirectory = str(tmp_path / "uploads")
        (tmp_path / "uploads").mkdir()
        self.uploads = tmp_path / "uploads"

        def succeeded(request: Any, result: forms.FormResult) -> Any:
            upload = result.values["avatar"]
            digest = hashlib.sha256(upload.read()).hexdigest() if upload else ""
            self.got.append((result.values["name"], digest, upload.size if upload else 0))
            forms.flash(request, f"Thank you, {result.values['name']}.")
            return None

        root = Resource()
        root.putChild(b"up", forms.FormResource(form, succeeded, title="Upload"))
        ping = Resource()
        ping.render_GET = lambda request: b"pong"  # type: ignore[attr-defined]
        root.putChild(b"ping", ping)
        site = Site(root, reactor=reactor, limits=limits)
        self.port = listenSite(reactor, site)
        self.url = f"http://127.0.0.1:{self.port}"
        self.jar = tmp_path / "cookies"

    def curl(self, *arguments: str) -> tuple[int, bytes]:
        done = runCommand(
            self.reactor,
            [
                CURL or "curl",
                "-s",
                "-b",
                str(self.jar),
                "-c",
                str(self.jar),
                "-w",
                "\n%{http_code}",
                *arguments,
            ],
            timeout=30,
        )
        body, _, code = done.stdout.rpartition(b"\n")
        return int(code or 0), body

    def token(self) -> str:
        code, page = self.curl(self.url + "/up")
        assert code == 200
        match = TOKEN.search(page)
        assert match is not None
        return match.group(1).decode()

    def stillServing(self) -> None:
        assert self.curl(self.url + "/ping") == (200, b"pong")


def picture(tmp_path: Path, size: int) -> Path:
    path = tmp_path / f"pic-{size}.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(i % 251 for i in range(size - 8)))
    return path


@needsCurl
def test_curlUploadsAFile(oneReactor: Any, tmp_path: Path) -> None:
    served = Served(oneReactor, tmp_path)
    path = picture(tmp_path, 300 * 1024)
    token = served.token()
    code, _ = served.curl(
        "-F",
        f"_csrf={token}",
        "-F",
        "name=Zoë",
        "-F",
        f"avatar=@{path};type=image/png",
        served.url + "/up",
    )
    assert code == 303
    assert served.got == [("Zoë", hashlib.sha256(path.read_bytes()).hexdigest(), 300 * 1024)]
    code, page = served.curl(served.url + "/up")
    assert b"Thank you, Zo\xc3\xab." in page
    assert list(served.uploads.iterdir()) == []


@needsCurl
def test_curlFileOverTheFieldLimitIsAFieldErrorAndTheServerGoesOn(
    oneReactor: Any, tmp_path: Path
) -> None:
    served = Served(oneReactor, tmp_path)
    token = served.token()
    big = picture(tmp_path, 3 * 1024 * 1024)
    code, page = served.curl(
        "-F",
        f"_csrf={token}",
        "-F",
        "name=Ann",
        "-F",
        f"avatar=@{big};type=image/png",
        served.url + "/up",
    )
    assert code == 400
    assert b"The file is larger than 1 MiB; choose a smaller one." in page
    assert served.got == [] and list(served.uploads.iterdir()) == []
    small = picture(tmp_path, 1000)
    code, _ = served.curl(
        "-F",
        f"_csrf={token}",
        "-F",
        "name=Ann",
        "-F",
        f"avatar=@{small};type=image/png",
        served.url + "/up",
    )
    assert code == 303 and served.got[0][2] == 1000


@needsCurl
def test_curlBodyOverTheSiteLimitIs413AndTheServerGoesOn(oneReactor: Any, tmp_path: Path) -> None:
    served = Served(oneReactor, tmp_path, limits=Limits(maxBodySize=512 * 1024))
    token = served.token()
    big = picture(tmp_path, 2 * 1024 * 1024)
    code, _ = served.curl(
        "-F",
        f"_csrf={token}",
        "-F",
        "name=Ann",
        "-F",
        f"avatar=@{big};type=image/png",
        served.url + "/up",
    )
    assert code == 413
    assert served.got == []
    served.stillServing()


@needsCurl
def test_curlWithoutTheTokenIs403(oneReactor: Any, tmp_path: Path) -> None:
    served = Served(oneReactor, tmp_path)
    served.token()
    code, page = served.curl("-F", "name=Ann", served.url + "/up")
    assert code == 403 and b"This form was not accepted" in page
    served.stillServing()


@needsCurl
def test_curlPartWithNoNameIs400(oneReactor: Any, tmp_path: Path) -> None:
    served = Served(oneReactor, tmp_path)
    served.token()
    code, page = served.curl(
        "-H",
        "Content-Type: multipart/form-data; boundary=zz",
        "--data-binary",
        "--zz\r\nContent-Type: text/plain\r\n\r\nhello\r\n--zz--\r\n",
        served.url + "/up",
    )
    assert code == 400 and b"has no name" in page
    served.stillServing()


def test_urllibFollowsThePostRedirectGet(oneReactor: Any, tmp_path: Path) -> None:
    served = Served(oneReactor, tmp_path)
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def visit() -> tuple[int, str, bytes]:
        with opener.open(served.url + "/up", timeout=10) as page:
            token = TOKEN.search(page.read())
        assert token is not None
        body = urllib.parse.urlencode({"_csrf": token.group(1).decode(), "name": "Urllib"}).encode()
        with opener.open(served.url + "/up", data=body, timeout=10) as landed:
            return landed.status, landed.url, landed.read()

    status, url, page = runBlocking(oneReactor, visit, 15)
    assert status == 200 and url == served.url + "/up"
    assert b"Thank you, Urllib." in page
    assert served.got == [("Urllib", "", 0)]


def rawPost(port: int, body: bytes, contentType: str, cookie: str = "") -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": contentType}
        if cookie:
            headers["Cookie"] = cookie
        connection.request("POST", "/up", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def sessionAndToken(port: int) -> tuple[str, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/up")
        response = connection.getresponse()
        page = response.read()
        cookie = (response.getheader("Set-Cookie") or "").partition(";")[0]
    finally:
        connection.close()
    match = TOKEN.search(page)
    assert match is not None
    return cookie, match.group(1).decode()


@pytest.mark.parametrize(
    ("make", "contentType", "code", "says"),
    [
        (
            lambda t: b"_csrf=" + t + b"&name=%C3%28",
            "application/x-www-form-urlencoded",
            400,
            b"not valid UTF-8 text",
        ),
        (
            lambda t: b"&".join([b"_csrf=" + t] + [b"f%d=1" % i for i in range(5000)]),
            "application/x-www-form-urlencoded",
            413,
            b"more than 1000 fields",
        ),
        (lambda t: b"--a\r\n", "multipart/form-data", 400, b"boundary"),
        (lambda t: b"name=x", "text/plain", 415, b"not text/plain"),
        (
            lambda t: b"_csrf=" + t + b"&name=x",
            "application/x-www-form-urlencoded; charset=nope",
            415,
            b"nope",
        ),
    ],
)
def test_httpClientHostileBodies(
    oneReactor: Any, tmp_path: Path, make: Any, contentType: str, code: int, says: bytes
) -> None:
    served = Served(oneReactor, tmp_path)

    def attack() -> tuple[int, bytes]:
        cookie, token = sessionAndToken(served.port)
        return rawPost(served.port, make(token.encode()), contentType, cookie)

    status, page = runBlocking(oneReactor, attack)
    assert status == code
    assert says in page
    assert served.got == []
    assert runBlocking(oneReactor, lambda: sessionAndToken(served.port))[1]
