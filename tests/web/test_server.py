"""Site, Request and Resource: traversal, rendering, errors, sessions, caching, cookies.

In memory (tests/web/webtesting.py), so each behaviour is one request and one parsed
response. Real clients against real sockets are in test_realclients.py.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from zope.interface import Interface, implementer

from tests.internet import reactormixins
from torsion.internet import defer
from torsion.python import components
from torsion.web import error, http, resource, server
from torsion.web.iweb import IRequest

from .webtesting import MemorySite

loggedErrors = reactormixins.loggedErrors


class Text(resource.Resource):
    def __init__(self, text: bytes) -> None:
        super().__init__()
        self.text = text

    def render_GET(self, request: Any) -> bytes:
        return self.text


class Paths(resource.Resource):
    """Shows how traversal split the path."""

    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        return b"pre=%r post=%r" % (request.prepath, request.postpath)


def tree() -> resource.Resource:
    root = Text(b"root")
    root.putChild(b"", Text(b"index"))
    foo = Text(b"foo")
    root.putChild(b"foo", foo)
    foo.putChild(b"", Text(b"foo index"))
    foo.putChild(b"leaf", Paths())
    root.putChild("text-name", Text(b"named with str"))
    return root


class TestTraversal:
    def test_root_and_children(self) -> None:
        site = MemorySite(tree())
        assert site.get(b"/").body == b"index"
        assert site.get(b"/foo").body == b"foo"
        assert site.get(b"/foo/").body == b"foo index"
        assert site.get(b"/text-name").body == b"named with str"

    def test_a_leaf_gets_the_rest_of_the_path(self) -> None:
        body = MemorySite(tree()).get(b"/foo/leaf/a/b%20c").body
        assert body == b"pre=[b'foo', b'leaf'] post=[b'a', b'b c']"

    def test_unknown_children_are_404(self) -> None:
        response = MemorySite(tree()).get(b"/nothing/here")
        assert response.code == 404
        assert response.header(b"content-type") == b"text/html; charset=utf-8"

    def test_getChild_makes_children_on_demand(self) -> None:
        class Numbers(resource.Resource):
            def getChild(self, path: bytes, request: Any) -> Any:
                if path.isdigit():
                    return Text(b"%d squared is %d" % (int(path), int(path) ** 2))
                return super().getChild(path, request)

        site = MemorySite(Numbers())
        assert site.get(b"/12").body == b"12 squared is 144"
        assert site.get(b"/x").code == 404

    def test_putChild_refuses_a_slash(self) -> None:
        with pytest.raises(ValueError, match="one path segment"):
            resource.Resource().putChild(b"a/b", resource.Resource())

    def test_resource_provides_IResource_and_request_IRequest(self) -> None:
        assert resource.IResource.providedBy(resource.Resource())
        site = MemorySite(tree())
        assert IRequest.implementedBy(server.Request)
        assert site.site.resource is not None


class TestMethods:
    def test_unsupported_method_is_405_with_allow(self) -> None:
        response = MemorySite(tree()).request(b"DELETE /foo HTTP/1.1\r\nHost: x\r\n\r\n")
        assert response.code == 405
        assert response.header(b"allow") == b"GET, HEAD"

    def test_head_is_get_without_a_body(self) -> None:
        site = MemorySite(tree())
        response = site.request(b"HEAD /foo HTTP/1.1\r\nHost: x\r\n\r\n", [b"HEAD"])
        assert response.header(b"content-length") == b"3"
        assert response.body == b""
        assert site.get(b"/foo").body == b"foo", "the connection is still in step"

    def test_allowedMethods_attribute_is_used(self) -> None:
        class Limited(resource.Resource):
            isLeaf = True
            allowedMethods = (b"GET",)

        assert (
            MemorySite(Limited())
            .request(b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            .header(b"allow")
            == b"GET"
        )

    def test_options_asterisk(self) -> None:
        class Options(resource.Resource):
            isLeaf = True

            def render_OPTIONS(self, request: Any) -> bytes:
                request.setHeader(b"allow", b"GET, OPTIONS")
                return b""

        response = MemorySite(Options()).request(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
        assert response.code == 200 and response.header(b"allow") == b"GET, OPTIONS"


class TestAsynchronousRendering:
    def test_not_done_yet_then_finish_later(self) -> None:
        class Later(resource.Resource):
            isLeaf = True

            def render_GET(self, request: Any) -> int:
                self.clock.callLater(1, lambda: (request.write(b"done"), request.finish()))
                return server.NOT_DONE_YET

        later = Later()
        site = MemorySite(later)
        later.clock = site.clock  # type: ignore[attr-defined]
        site.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert site.transport.value() == b""
        site.clock.advance(1)
        (response,) = site.responses()
        assert response.header(b"transfer-encoding") == b"chunked"
        assert response.body == b"done"

    def test_a_deferred_body(self) -> None:
        d: defer.Deferred[bytes] = defer.Deferred()

        class Deferring(resource.Resource):
            isLeaf = True

            def render_GET(self, request: Any) -> Any:
                return d

        site = MemorySite(Deferring())
        site.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        d.callback(b"from a Deferred")
        (response,) = site.responses()
        assert response.body == b"from a Deferred"
        assert response.header(b"content-length") == b"15"

    def test_an_async_def_render(self) -> None:
        waiting: defer.Deferred[bytes] = defer.Deferred()

        class Coroutine(resource.Resource):
            isLeaf = True

            async def render_GET(self, request: Any) -> bytes:
                value = await waiting
                return b"awaited " + value

        site = MemorySite(Coroutine())
        site.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        waiting.callback(b"value")
        assert site.responses()[0].body == b"awaited value"

    def test_a_failing_deferred_is_a_500(self, loggedErrors: list[dict[str, Any]]) -> None:
        class Failing(resource.Resource):
            isLeaf = True

            def render_GET(self, request: Any) -> Any:
                return defer.fail(ZeroDivisionError("nope"))

        response = MemorySite(Failing()).get()
        assert response.code == 500
        assert b"ZeroDivisionError" not in response.body
        assert len(loggedErrors) == 1


class TestErrors:
    class Broken(resource.Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            request.setHeader(b"x-partial", b"dropped")
            raise KeyError("secret detail")

    def test_a_render_exception_is_a_500_without_traceback(
        self, loggedErrors: list[dict[str, Any]]
    ) -> None:
        site = MemorySite(self.Broken())
        response = site.get()
        assert response.code == 500
        assert b"secret detail" not in response.body
        assert response.header(b"x-partial") is None
        assert len(loggedErrors) == 1
        assert site.get().code == 500, "the connection keeps serving"

    def test_displayTracebacks_shows_an_escaped_traceback(
        self, loggedErrors: list[dict[str, Any]]
    ) -> None:
        site = MemorySite(self.Broken())
        site.site.displayTracebacks = True
        body = site.get().body
        assert b"KeyError" in body and b"secret detail" in body

    def test_web_error_gives_its_status_without_a_logged_traceback(
        self, loggedErrors: list[dict[str, Any]]
    ) -> None:
        class Refusing(resource.Resource):
            isLeaf = True

            def render_GET(self, request: Any) -> bytes:
                raise error.Error(409, b"Conflict", b"try again")

        response = MemorySite(Refusing()).get()
        assert (response.code, response.body) == (409, b"try again")
        assert loggedErrors == []

    def test_render_returning_the_wrong_type(self, loggedErrors: list[dict[str, Any]]) -> None:
        class Wrong(resource.Resource):
            isLeaf = True

            def render_GET(self, request: Any) -> Any:
                return "text, not bytes"

        assert MemorySite(Wrong()).get().code == 500
        assert "returned" in str(loggedErrors[0]["failure"].value)

    def test_error_pages(self) -> None:
        page = resource.ErrorPage(418, "Teapot <b>", "short & stout")
        response = MemorySite(page).get(b"/any/path")
        assert response.code == 418
        assert b"Teapot &lt;b&gt;" in response.body and b"short &amp; stout" in response.body
        assert MemorySite(resource.ForbiddenResource()).get().code == 403
        assert MemorySite(resource.NoResource()).get().code == 404

    def test_write_after_finish_is_an_error(self) -> None:
        caught: list[Exception] = []

        class Twice(resource.Resource):
            isLeaf = True

            def render_GET(self, request: Any) -> int:
                request.write(b"a")
                request.finish()
                try:
                    request.write(b"b")
                except RuntimeError as e:
                    caught.append(e)
                return server.NOT_DONE_YET

        MemorySite(Twice()).get()
        assert "after Request.finish" in str(caught[0])


class TestRequestAPI:
    def record(self, check: Any, data: bytes) -> tuple[Any, Any]:
        seen: dict[str, Any] = {}

        class Recorder(resource.Resource):
            isLeaf = True

            def render(self, request: Any) -> bytes:
                seen["result"] = check(request)
                return b"ok"

        site = MemorySite(Recorder())
        response = site.request(data)
        return seen.get("result"), response

    def test_args_from_query_and_urlencoded_body(self) -> None:
        body = b"b=2&c=3"
        args, _ = self.record(
            lambda r: r.args,
            b"POST /?a=1&b=x HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body),
        )
        assert args == {b"a": [b"1"], b"b": [b"x", b"2"], b"c": [b"3"]}

    def test_args_from_multipart(self) -> None:
        body = (
            b'--XyZ\r\nContent-Disposition: form-data; name="field"\r\n\r\nvalue\r\n'
            b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
            b"Content-Type: text/plain\r\n\r\nfile\r\ncontent\r\n--XyZ--\r\n"
        )
        args, _ = self.record(
            lambda r: r.args,
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body),
        )
        assert args == {b"field": [b"value"], b"file": [b"file\r\ncontent"]}

    def test_malformed_multipart_is_a_400(self) -> None:
        body = b"--XyZ\r\nno end"

        class Reader(resource.Resource):
            isLeaf = True

            def render_POST(self, request: Any) -> bytes:
                return repr(request.args).encode()

        response = MemorySite(Reader()).request(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        assert response.code == 400

    def test_headers_and_hostname(self) -> None:
        result, _ = self.record(
            lambda r: (
                r.getHeader(b"x-a"),
                r.getHeader("X-A"),
                r.getRequestHostname(),
                r.getAllHeaders()[b"x-a"],
                r.getClientAddress().host,
                r.isSecure(),
                r.prePathURL(),
            ),
            b"GET /p HTTP/1.1\r\nHost: example.com:8080\r\nX-A: 1\r\nX-A: 2\r\n\r\n",
        )
        assert result == (
            b"2",
            "2",
            b"example.com",
            b"2",
            "127.0.0.1",
            False,
            b"http://example.com:8080/",
        )

    def test_ipv6_host(self) -> None:
        result, _ = self.record(
            lambda r: r.getRequestHostname(), b"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"
        )
        assert result == b"::1"

    def test_basic_auth(self) -> None:
        result, _ = self.record(
            lambda r: (r.getUser(), r.getPassword()),
            b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWxpY2U6czNjcjp0\r\n\r\n",
        )
        assert result == (b"alice", b"s3cr:t")

    def test_cookies(self) -> None:
        def check(request: Any) -> Any:
            request.addCookie(
                b"a", b"1", path=b"/", max_age=60, httpOnly=True, secure=True, sameSite="strict"
            )
            return request.getCookie(b"in")

        result, response = self.record(
            check, b"GET / HTTP/1.1\r\nHost: x\r\nCookie: in=yes; other=no\r\n\r\n"
        )
        assert result == b"yes"
        assert response.headers[b"set-cookie"] == [
            b"a=1; Path=/; Max-Age=60; Secure; HttpOnly; SameSite=Strict"
        ]

    @pytest.mark.parametrize(
        ("name", "value"), [(b"a;b", b"1"), (b"a", b"1\r\nX: y"), (b"", b"1"), (b"a", b"x y")]
    )
    def test_unsafe_cookies_are_refused(self, name: bytes, value: bytes) -> None:
        def check(request: Any) -> bool:
            with pytest.raises(ValueError, match="cookie"):
                request.addCookie(name, value)
            return True

        result, _ = self.record(check, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert result is True

    def test_header_injection_is_refused(self) -> None:
        def check(request: Any) -> bool:
            with pytest.raises(ValueError, match="CR, LF or NUL"):
                request.setHeader(b"x-a", b"v\r\nSet-Cookie: evil=1")
            return True

        result, response = self.record(check, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert result is True
        assert b"evil" not in b"".join(v for vs in response.headers.values() for v in vs)

    def test_redirect(self) -> None:
        _, response = self.record(
            lambda r: r.redirect(b"/elsewhere"), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        assert (response.code, response.header(b"location")) == (302, b"/elsewhere")

    def test_status_with_custom_message(self) -> None:
        _, response = self.record(
            lambda r: r.setResponseCode(299, b"Fine Indeed"), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        assert (response.code, response.phrase) == (299, b"Fine Indeed")

    def test_last_modified_gives_304(self) -> None:
        stamp = http.datetimeToString(1_000_000_000)
        result, response = self.record(
            lambda r: r.setLastModified(1_000_000_000),
            b"GET / HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: " + stamp + b"\r\n\r\n",
        )
        assert result == http.CACHED and response.code == 304 and response.body == b""
        result, response = self.record(
            lambda r: r.setLastModified(time.time()),
            b"GET / HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: " + stamp + b"\r\n\r\n",
        )
        assert result is None and response.code == 200
        assert response.header(b"last-modified") is not None

    def test_etag_gives_304_and_412(self) -> None:
        result, response = self.record(
            lambda r: r.setETag(b"v1"),
            b'GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: "v0", "v1"\r\n\r\n',
        )
        assert result == http.CACHED and response.code == 304
        assert response.header(b"etag") == b'"v1"'
        _, response = self.record(
            lambda r: r.setETag(b"v1"),
            b"PUT / HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\nContent-Length: 0\r\n\r\n",
        )
        assert response.code == 412

    def test_dates(self) -> None:
        assert http.datetimeToString(784111777) == b"Sun, 06 Nov 1994 08:49:37 GMT"
        for form in (
            b"Sun, 06 Nov 1994 08:49:37 GMT",
            b"Sunday, 06-Nov-94 08:49:37 GMT",
            b"Sun Nov  6 08:49:37 1994",
        ):
            assert http.stringToDatetime(form) == 784111777
        with pytest.raises(ValueError):
            http.stringToDatetime(b"yesterday")
        assert http.datetimeToLogString(784111777) == "[06/Nov/1994:08:49:37 +0000]"


class ICounter(Interface):
    pass


@implementer(ICounter)
class Counter:
    def __init__(self, session: Any) -> None:
        self.visits = 0


components.registerAdapter(Counter, server.Session, ICounter)


class Visits(resource.Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        counter = request.getSession(ICounter)
        counter.visits += 1
        return b"%d" % counter.visits


class TestSessions:
    def cookieOf(self, response: Any) -> bytes:
        return response.header(b"set-cookie").split(b";")[0]

    def test_a_session_follows_its_cookie(self) -> None:
        site = MemorySite(Visits())
        first = site.get()
        assert first.body == b"1"
        cookie = self.cookieOf(first)
        assert cookie.startswith(b"TORSION_SESSION=")
        attributes = first.header(b"set-cookie")
        assert (
            b"HttpOnly" in attributes
            and b"SameSite=Lax" in attributes
            and b"Secure" not in attributes
        )
        second = site.get(headers=b"Cookie: " + cookie + b"\r\n")
        assert second.body == b"2" and second.header(b"set-cookie") is None
        assert site.get().body == b"1", "no cookie, a new session"

    def test_an_unknown_cookie_gets_a_new_session(self) -> None:
        site = MemorySite(Visits())
        response = site.get(headers=b"Cookie: TORSION_SESSION=forged\r\n")
        assert response.body == b"1" and self.cookieOf(response) != b"TORSION_SESSION=forged"

    def test_sessions_expire_when_unused(self) -> None:
        site = MemorySite(Visits(), timeout=None)
        cookie = self.cookieOf(site.get())
        (session,) = site.site.sessions.values()
        expired: list[bool] = []
        session.notifyOnExpire(lambda: expired.append(True))
        site.clock.advance(server.Session.sessionTimeout - 10)
        assert site.get(headers=b"Cookie: " + cookie + b"\r\n").body == b"2"
        site.clock.advance(server.Session.sessionTimeout - 10)
        assert not expired, "using a session postpones its expiry"
        site.clock.advance(20)
        assert expired == [True] and site.site.sessions == {}
        assert site.get(headers=b"Cookie: " + cookie + b"\r\n").body == b"1"

    def test_the_number_of_sessions_is_bounded(self) -> None:
        site = MemorySite(Visits())
        site.site.maxSessions = 3
        for _ in range(5):
            site.get()
        assert len(site.site.sessions) == 3

    def test_getSession_raises_for_an_unknown_uid(self) -> None:
        with pytest.raises(KeyError):
            server.Site(Visits()).getSession(b"nope")


def test_site_access_log_file(tmp_path: Any) -> None:
    path = tmp_path / "access.log"
    site = server.Site(tree(), logPath=str(path))
    site.startFactory()
    memory = MemorySite(site=site)
    memory.get(b"/foo", headers=b'Referer: http://r/\r\nUser-Agent: agent "q"\r\n')
    site.stopFactory()
    (line,) = path.read_text().splitlines()
    assert line.startswith("127.0.0.1 - - [")
    assert line.endswith('"GET /foo HTTP/1.1" 200 3 "http://r/" "agent \\"q\\""')


def test_asyncio_is_not_needed_for_async_renders() -> None:
    assert asyncio.iscoroutinefunction(TestAsynchronousRendering.test_an_async_def_render) is False


def test_an_absolute_form_target_is_routed_by_its_path_and_host() -> None:
    seen: dict[str, Any] = {}

    class Where(resource.Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            seen.update(host=request.getRequestHostname(), uri=request.uri)
            return b"%r" % request.postpath

    root = resource.Resource()
    root.putChild(b"a", Where())
    response = MemorySite(root).request(
        b"GET http://other.example:8080/a/b?q=1 HTTP/1.1\r\nHost: ignored\r\n\r\n"
    )
    assert response.body == b"[b'b']"
    assert seen == {"host": b"other.example", "uri": b"http://other.example:8080/a/b?q=1"}


def test_options_asterisk_asks_the_root() -> None:
    class Root(resource.Resource):
        def render_OPTIONS(self, request: Any) -> bytes:
            request.setHeader(b"allow", b"GET, HEAD, OPTIONS")
            return b""

    response = MemorySite(Root()).request(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response.code == 200 and response.header(b"allow") == b"GET, HEAD, OPTIONS"


def test_links_and_urls_of_the_resource_being_rendered() -> None:
    seen: dict[str, Any] = {}

    class Deep(resource.Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            request.rememberRootURL()
            seen.update(
                url=str(request.URLPath()),
                root=request.getRootURL(),
                child=request.childLink(b"c"),
                sibling=request.siblingLink(b"s"),
                full=request.getRequestURI(),
            )
            return b""

    root = resource.Resource()
    root.putChild(b"app", Deep())
    MemorySite(root).get(b"/app/x/y?q=1")
    assert seen == {
        "url": "http://example.com/app",
        "root": b"http://example.com/app",
        "child": b"../c",
        "sibling": b"../../s",
        "full": b"http://example.com/app/x/y?q=1",
    }
