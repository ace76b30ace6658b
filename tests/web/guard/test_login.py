"""SessionLoginWrapper: the login form, the avatar in the session, logout, CSRF, redirects.

Most tests drive a Site in memory (tests/web/webtesting.MemorySite) with a tiny
browser that keeps the session cookie; the delay of a failed login runs on a
task.Clock. One test logs in with urllib (cookies, redirects followed) over a real
socket.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import urllib.parse
import urllib.request
from typing import Any

import pytest

from tests.web import _webhelpers
from tests.web._webhelpers import listenSite, runBlocking
from tests.web.guard.helpers import RecordingRealm, Whoami, memoryPortal
from tests.web.webtesting import MemorySite, Response
from torsion.cred import portal
from torsion.internet import defer
from torsion.internet.task import Clock
from torsion.logger import formatEvent
from torsion.web import resource
from torsion.web.guard import LoginElement, SessionLoginWrapper, logoutForm
from torsion.web.server import Site
from torsion.web.template import XMLString, flattenString, tags

oneReactor = _webhelpers.oneReactor


class Browser:
    """Sends requests to a MemorySite with the cookies it was given, like a browser."""

    def __init__(self, site: MemorySite) -> None:
        self.site = site
        self.cookies: dict[bytes, bytes] = {}

    def _send(self, head: bytes, body: bytes = b"") -> Response:
        cookie = b"; ".join(k + b"=" + v for k, v in self.cookies.items())
        extra = b"Cookie: " + cookie + b"\r\n" if cookie else b""
        response = self.site.request(head + extra + b"\r\n" + body)
        for value in response.headers.get(b"set-cookie", []):
            name, _, rest = value.partition(b"=")
            self.cookies[name] = rest.partition(b";")[0]
        return response

    def get(self, path: bytes) -> Response:
        return self._send(b"GET " + path + b" HTTP/1.1\r\nHost: example.com\r\n")

    def post(self, path: bytes, fields: dict[str, str]) -> Response:
        body = urllib.parse.urlencode(fields).encode()
        return self._send(
            b"POST " + path + b" HTTP/1.1\r\nHost: example.com\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n" % len(body),
            body,
        )


def field(page: bytes, name: str) -> str:
    match = re.search(rb'name="' + name.encode() + rb'" value="([^"]*)"', page)
    if match is None:
        match = re.search(rb'value="([^"]*)" name="' + name.encode() + rb'"', page)
    assert match is not None, page
    return match.group(1).decode()


def guarded(
    realm: Any = None, clock: Clock | None = None, **options: Any
) -> tuple[Browser, RecordingRealm, Clock]:
    realm = realm or RecordingRealm()
    site = MemorySite(None)
    delay = clock or Clock()
    site.site.resource = SessionLoginWrapper(memoryPortal(realm), reactor=delay, **options)
    return Browser(site), realm, delay


def logIn(browser: Browser, username: str = "alice", password: str = "s3cret") -> Response:
    page = browser.get(b"/login?next=%2Fsecret%2Fpage%3Fx%3D1").body
    return browser.post(
        b"/login",
        {
            "username": username,
            "password": password,
            "csrf": field(page, "csrf"),
            "next": field(page, "next"),
        },
    )


def test_aPageAskedForWithoutLoginRedirectsToTheForm() -> None:
    browser, realm, _ = guarded()
    response = browser.get(b"/secret/page?x=1")
    assert response.code == 303
    assert response.header(b"location") == b"/login?next=%2Fsecret%2Fpage%3Fx%3D1"
    assert realm.logins == []


def test_theLoginFormHasTheTokenAndThePageToReturnTo() -> None:
    browser, _, _ = guarded()
    response = browser.get(b"/login?next=%2Fsecret%2Fpage%3Fx%3D1")
    assert response.code == 200
    assert response.header(b"content-type") == b"text/html; charset=utf-8"
    assert response.header(b"cache-control") == b"no-store"
    assert response.header(b"x-frame-options") == b"DENY"
    assert response.body.startswith(b"<!DOCTYPE html>")
    assert b'<form method="post" action="/login">' in response.body
    assert len(field(response.body, "csrf")) >= 40
    assert field(response.body, "next") == "/secret/page?x=1"
    assert b'type="password"' in response.body


def test_aGoodLoginStartsANewSessionAndReturnsToThePage(logged: list[Any]) -> None:
    browser, realm, _ = guarded()
    browser.get(b"/login")
    before = dict(browser.cookies)
    response = logIn(browser)
    assert response.code == 303
    assert response.header(b"location") == b"/secret/page?x=1"
    assert browser.cookies != before  # a fresh session id after the login
    assert realm.logins == [b"alice"]
    page = browser.get(b"/secret/page?x=1")
    assert page.code == 200
    assert json.loads(page.body) == {
        "user": "alice",
        "method": "GET",
        "prepath": [],
        "postpath": ["secret", "page"],
    }
    assert realm.logins == [b"alice"]  # once for the session, not per request
    messages = [formatEvent(e) for e in logged]
    assert "'alice' logged in from 127.0.0.1" in messages
    assert not any("s3cret" in m for m in messages)


def test_theOldSessionIdIsWorthNothingAfterTheLogin() -> None:
    browser, _, _ = guarded()
    browser.get(b"/login")
    planted = dict(browser.cookies)
    logIn(browser)
    thief = Browser(browser.site)
    thief.cookies = planted
    assert thief.get(b"/secret").code == 303


def test_aWrongPasswordIsDelayedLoggedAnd403(logged: list[Any]) -> None:
    browser, realm, clock = guarded(failureDelay=2.0)
    page = browser.get(b"/login").body
    browser.site.transport.clear()
    browser.site.send(
        b"POST /login HTTP/1.1\r\nHost: example.com\r\nCookie: "
        + b"; ".join(k + b"=" + v for k, v in browser.cookies.items())
        + b"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: "
    )
    body = urllib.parse.urlencode(
        {"username": "alice", "password": "guess", "csrf": field(page, "csrf"), "next": "/"}
    ).encode()
    browser.site.send(b"%d\r\n\r\n" % len(body) + body)
    assert browser.site.transport.value() == b""
    clock.advance(1.9)
    assert browser.site.transport.value() == b""
    clock.advance(0.1)
    (response,) = browser.site.responses()
    assert response.code == 403
    assert b"Invalid user name or password." in response.body
    assert field(response.body, "username") == "alice"
    assert realm.logins == []
    messages = [formatEvent(e) for e in logged if e.get("log_namespace") == "torsion.web.guard"]
    assert messages == ["Failed login for 'alice' from 127.0.0.1"]
    assert not any("guess" in repr(e) for e in logged)


def test_aClientLeavingDuringTheDelayCancelsTheAnswer() -> None:
    browser, _, clock = guarded()
    page = browser.get(b"/login").body
    body = urllib.parse.urlencode(
        {"username": "alice", "password": "x", "csrf": field(page, "csrf")}
    ).encode()
    browser.site.send(
        b"POST /login HTTP/1.1\r\nHost: example.com\r\nCookie: "
        + b"; ".join(k + b"=" + v for k, v in browser.cookies.items())
        + b"\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )
    browser.site.channel.connectionLost(ConnectionError("gone"))
    assert clock.getDelayedCalls() == []


@pytest.mark.parametrize("token", ["", "forged", None])
def test_aLoginWithoutTheSessionsTokenIs403(token: str | None, logged: list[Any]) -> None:
    browser, realm, _ = guarded()
    browser.get(b"/login")
    fields = {"username": "alice", "password": "s3cret"}
    if token is not None:
        fields["csrf"] = token
    response = browser.post(b"/login", fields)
    assert response.code == 403
    assert b"did not come from this site" in response.body
    assert realm.logins == []
    assert any("CSRF token" in formatEvent(e) for e in logged)


def test_aTokenFromAnotherSessionDoesNotDo() -> None:
    mine, realm, _ = guarded()
    other = Browser(mine.site)
    token = field(other.get(b"/login").body, "csrf")
    mine.get(b"/login")
    response = mine.post(b"/login", {"username": "alice", "password": "s3cret", "csrf": token})
    assert response.code == 403
    assert realm.logins == []


@pytest.mark.parametrize(
    "nextURL",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
        '/x"><script>',
        "/a b",
    ],
)
def test_theReturnPageIsAlwaysBelowTheWrapper(nextURL: str) -> None:
    browser, _, _ = guarded()
    page = browser.get(b"/login").body
    response = browser.post(
        b"/login",
        {"username": "alice", "password": "s3cret", "csrf": field(page, "csrf"), "next": nextURL},
    )
    assert response.header(b"location") == b"/"


def test_logoutNeedsThePostWithTheToken() -> None:
    browser, realm, _ = guarded()
    logIn(browser)
    page = browser.get(b"/logout")
    assert page.code == 200 and b'action="/logout"' in page.body
    assert browser.post(b"/logout", {"csrf": "forged"}).code == 403
    assert realm.logouts == []
    assert browser.get(b"/secret").code == 200
    response = browser.post(b"/logout", {"csrf": field(page.body, "csrf")})
    assert response.code == 303 and response.header(b"location") == b"/login"
    assert realm.logouts == [b"alice"]
    assert browser.get(b"/secret").code == 303


def test_anExpiredSessionLogsOut() -> None:
    browser, realm, _ = guarded()
    logIn(browser)
    session = next(iter(browser.site.site.sessions.values()))
    session.expire()
    assert realm.logouts == [b"alice"]
    assert browser.get(b"/secret").code == 303


def test_aCheckerErrorIs500AndLogged(logged: list[Any]) -> None:
    class Broken:
        credentialInterfaces = memoryPortal().listCredentialsInterfaces()

        def requestAvatarId(self, credentials: Any) -> Any:
            return defer.fail(OSError("the database is down"))

    realm = RecordingRealm()
    site = MemorySite(None)
    site.site.resource = SessionLoginWrapper(portal.Portal(realm, [Broken()]), reactor=Clock())
    browser = Browser(site)
    response = logIn(browser)
    assert response.code == 500 and b"database" not in response.body
    assert [e["log_failure"].type for e in logged if "log_failure" in e] == [OSError]


def test_theWrapperBelowTheRootKeepsItsPaths() -> None:
    site = MemorySite(None)
    root = resource.Resource()
    root.putChild(b"open", Whoami(None))
    wrapper = SessionLoginWrapper(memoryPortal(), reactor=Clock(), loginPath="enter")
    root.putChild(b"members area", wrapper)
    site.site.resource = root
    browser = Browser(site)
    assert browser.get(b"/open").code == 200
    response = browser.get(b"/members%20area/x")
    assert response.header(b"location") == b"/members%20area/enter?next=%2Fmembers%2520area%2Fx"
    page = browser.get(response.header(b"location") or b"").body
    assert b'action="/members%20area/enter"' in page
    posted = browser.post(
        b"/members%20area/enter",
        {
            "username": "alice",
            "password": "s3cret",
            "csrf": field(page, "csrf"),
            "next": field(page, "next"),
        },
    )
    assert posted.header(b"location") == b"/members%20area/x"
    assert json.loads(browser.get(b"/members%20area/x").body)["prepath"] == ["members area"]


class Custom(LoginElement):
    loader = XMLString(
        '<html xmlns:t="http://twistedmatrix.com/ns/twisted.web.template/0.1">'
        '<body class="custom"><h2 t:render="loginTitle" /><t:transparent t:render="loginError" />'
        '<div t:render="loginForm" /></body></html>'
    )


def test_theLoginPageCanBeReplaced() -> None:
    browser, _, _ = guarded(loginElement=Custom, title="Members <only>")
    page = browser.get(b"/login").body
    assert b'<body class="custom"><h2>Members &lt;only&gt;</h2>' in page
    assert field(page, "csrf")


def test_hostileUserNamesAreEscapedInTheForm() -> None:
    browser, _, clock = guarded()
    page = browser.get(b"/login").body
    browser.site.transport.clear()
    body = urllib.parse.urlencode(
        {"username": '"><script>alert(1)</script>', "password": "x", "csrf": field(page, "csrf")}
    ).encode()
    cookie = b"; ".join(k + b"=" + v for k, v in browser.cookies.items())
    browser.site.send(
        b"POST /login HTTP/1.1\r\nHost: example.com\r\nCookie: " + cookie + b"\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body) + body
    )
    clock.advance(1)
    (response,) = browser.site.responses()
    assert b"<script>" not in response.body
    assert b"&lt;script&gt;" in response.body


def test_logoutFormForTheAvatarsPages() -> None:
    class Page(resource.Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> Any:
            d = flattenString(request, tags.div(logoutForm(request, "Bye")))
            d.addCallback(lambda html: request.write(html) or request.finish())
            return 1

    browser, _, _ = guarded(RecordingRealm(avatar=Page()))
    logIn(browser)
    html = browser.get(b"/anything").body
    assert b'<form method="post" action="/logout" class="logout">' in html
    assert b"Bye</button>" in html
    assert browser.post(b"/logout", {"csrf": field(html, "csrf")}).code == 303


def test_badPathsAreRefused() -> None:
    with pytest.raises(ValueError, match="one path segment"):
        SessionLoginWrapper(memoryPortal(), loginPath="a/b")
    with pytest.raises(ValueError, match="differ"):
        SessionLoginWrapper(memoryPortal(), loginPath="x", logoutPath="x")
    with pytest.raises(ValueError, match="failureDelay"):
        SessionLoginWrapper(memoryPortal(), failureDelay=-1)


def test_urllibLogsInWithCookiesAndRedirects(oneReactor: Any) -> None:
    site = Site(SessionLoginWrapper(memoryPortal(), reactor=oneReactor), reactor=oneReactor)
    port = listenSite(oneReactor, site)
    base = f"http://127.0.0.1:{port}"

    def browse() -> tuple[str, dict[str, Any]]:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        with opener.open(base + "/reports/2026?q=1", timeout=10) as response:
            landed, form = response.url, response.read()
        fields = {
            "username": "alice",
            "password": "s3cret",
            "csrf": field(form, "csrf"),
            "next": field(form, "next"),
        }
        posted = urllib.parse.urlencode(fields).encode()
        with opener.open(base + "/login", data=posted, timeout=10) as response:
            return landed, json.loads(response.read())

    landed, seen = runBlocking(oneReactor, browse)
    assert landed == base + "/login?next=%2Freports%2F2026%3Fq%3D1"
    assert seen["user"] == "alice" and seen["postpath"] == ["reports", "2026"]


def test_aRealmGivingSomethingElseThanAResourceIs500(logged: list[Any]) -> None:
    browser, realm, _ = guarded(RecordingRealm(avatar=object()))
    assert logIn(browser).code == 500
    assert realm.logouts == [b"alice"]
    assert browser.get(b"/secret").code == 303
    (failure,) = [e["log_failure"] for e in logged if "log_failure" in e]
    assert "not an IResource" in failure.getErrorMessage()


def test_anOverlongPasswordIsRefusedWithoutAsking(logged: list[Any]) -> None:
    browser, realm, clock = guarded()
    page = browser.get(b"/login").body
    browser.site.transport.clear()
    body = urllib.parse.urlencode(
        {"username": "alice", "password": "s3cret" + "x" * 2000, "csrf": field(page, "csrf")}
    ).encode()
    cookie = b"; ".join(k + b"=" + v for k, v in browser.cookies.items())
    browser.site.send(
        b"POST /login HTTP/1.1\r\nHost: example.com\r\nCookie: " + cookie + b"\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body) + body
    )
    clock.advance(1)
    (response,) = browser.site.responses()
    assert response.code == 403
    assert realm.logins == []
    assert not any(e.get("log_namespace") == "torsion.cred.checkers" for e in logged)
