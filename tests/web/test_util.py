"""Tests for torsion.web.util: redirects, DeferredResource and formatFailure, over real sockets."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.internet.reactormixins import loggedErrors, runUntil
from tests.web.livesite import errorsLogged, fetch, inThread, oneReactor, request, serve
from torsion.internet import defer
from torsion.python.failure import Failure
from torsion.web import resource, util

__all__ = ["loggedErrors", "oneReactor"]


class Text(resource.Resource):
    """Answers with its own text, and where it was reached."""

    isLeaf = True

    def __init__(self, text: bytes) -> None:
        super().__init__()
        self.text = text

    def render_GET(self, request: Any) -> bytes:
        return self.text + b" " + b"/".join(request.postpath)


# -- redirectTo ---------------------------------------------------------------------------


class FakeRequest:
    def __init__(self) -> None:
        self.headers: dict[bytes, Any] = {}
        self.code: int | None = None

    def setHeader(self, name: bytes, value: Any) -> None:
        self.headers[name] = value

    def redirect(self, url: bytes) -> None:
        self.code = 302
        self.headers[b"location"] = url

    def setResponseCode(self, code: int) -> None:
        self.code = code


def test_redirectToSetsStatusLocationAndEscapesTheURL() -> None:
    fake = FakeRequest()
    page = util.redirectTo(b'http://example.com/?a="><script>x</script>', fake)
    assert fake.code == 302
    assert fake.headers[b"location"] == b'http://example.com/?a="><script>x</script>'
    assert fake.headers[b"content-type"] == b"text/html; charset=utf-8"
    assert b"<script>" not in page
    assert b"&lt;script&gt;" in page and b"&quot;&gt;" in page


def test_redirectToTakesTextAndRefusesOtherTypes() -> None:
    fake = FakeRequest()
    util.redirectTo("/caf\u00e9", fake)
    assert fake.headers[b"location"] == "/caf\u00e9".encode()
    with pytest.raises(TypeError, match="bytes"):
        util.redirectTo(42, FakeRequest())  # type: ignore[arg-type]


def test_redirectOverASocket(oneReactor: Any) -> None:
    root = resource.Resource()
    root.putChild(b"old", util.Redirect(b"http://example.com/new?x=<1>"))
    port, _ = serve(oneReactor, root)
    for path in ("/old", "/old/deeper/still"):
        answer = fetch(oneReactor, port, path)
        assert answer.status == 302
        assert answer.header("Location") == "http://example.com/new?x=<1>"
        assert b"x=&lt;1&gt;" in answer.body


def test_redirectRefusesAURLThatCannotBeAHeader(oneReactor: Any, loggedErrors: Any) -> None:
    root = resource.Resource()
    root.putChild(b"bad", util.Redirect(b"http://example.com/\r\nSet-Cookie: x=1"))
    port, _ = serve(oneReactor, root)
    answer = fetch(oneReactor, port, "/bad")
    assert answer.status == 500
    assert answer.header("Set-Cookie") is None
    assert "CR, LF" in errorsLogged(loggedErrors)


def test_childRedirectorKeepsTheRestOfThePath(oneReactor: Any) -> None:
    root = resource.Resource()
    root.putChild(b"docs", util.ChildRedirector(b"http://new.example/manual"))
    port, _ = serve(oneReactor, root)
    assert fetch(oneReactor, port, "/docs").header("Location") == "http://new.example/manual"
    answer = fetch(oneReactor, port, "/docs/a/b")
    assert answer.status == 302
    assert answer.header("Location") == "http://new.example/manual/a/b"


def test_childRedirectorRefusesARelativeURL() -> None:
    with pytest.raises(ValueError, match="relative"):
        util.ChildRedirector(b"elsewhere")
    util.ChildRedirector(b"/elsewhere")
    util.ChildRedirector(b"../elsewhere")


def test_parentRedirectGoesToTheDirectoryWithoutTheQuery(oneReactor: Any) -> None:
    root = resource.Resource()
    section = resource.Resource()
    root.putChild(b"section", section)
    section.putChild(b"page", util.ParentRedirect())
    port, _ = serve(oneReactor, root)
    answer = fetch(oneReactor, port, "/section/page?x=1")
    assert answer.status == 302
    assert answer.header("Location") == f"http://127.0.0.1:{port}/section/"


# -- DeferredResource ---------------------------------------------------------------------


def test_deferredResourceHoldsRequestsUntilItFires(oneReactor: Any) -> None:
    d: defer.Deferred[Any] = defer.Deferred()
    root = resource.Resource()
    root.putChild(b"later", util.DeferredResource(d))
    port, _ = serve(oneReactor, root)
    answers: list[Any] = []

    def ask(path: str) -> None:
        answers.append(request(port, "GET", path))

    threads = [
        threading.Thread(target=ask, args=(p,), daemon=True) for p in ("/later/a", "/later/b")
    ]
    for thread in threads:
        thread.start()
    # Both requests are in: each is waiting on the Deferred.
    runUntil(oneReactor, lambda: len(root.children[b"later"]._waiting) == 2)
    assert answers == []
    d.callback(Text(b"arrived"))
    runUntil(oneReactor, lambda: len(answers) == 2)
    assert sorted(a.body for a in answers) == [b"arrived a", b"arrived b"]
    # Later requests are answered at once by the same resource.
    assert fetch(oneReactor, port, "/later/c").body == b"arrived c"


def test_deferredResourceTraversesTheResourceItGets(oneReactor: Any) -> None:
    tree = resource.Resource()
    tree.putChild(b"x", Text(b"child x"))
    root = resource.Resource()
    root.putChild(b"d", util.DeferredResource(defer.succeed(tree)))
    port, _ = serve(oneReactor, root)
    assert fetch(oneReactor, port, "/d/x/y").body == b"child x y"
    assert fetch(oneReactor, port, "/d/nothing").status == 404


def test_deferredResourceFailureIsA500AndLogged(oneReactor: Any, loggedErrors: Any) -> None:
    d: defer.Deferred[Any] = defer.Deferred()
    root = resource.Resource()
    root.putChild(b"broken", util.DeferredResource(d))
    port, _ = serve(oneReactor, root)
    d.errback(RuntimeError("the database is down"))
    for _ in range(2):
        answer = fetch(oneReactor, port, "/broken")
        assert answer.status == 500
        assert b"the database is down" not in answer.body
    assert errorsLogged(loggedErrors).count("the database is down") >= 2


def test_deferredResourceForgetsAClientThatLeft(oneReactor: Any) -> None:
    import socket

    d: defer.Deferred[Any] = defer.Deferred()
    waiting = util.DeferredResource(d)
    root = resource.Resource()
    root.putChild(b"w", waiting)
    port, _ = serve(oneReactor, root)
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    client.sendall(b"GET /w HTTP/1.1\r\nHost: x\r\n\r\n")
    runUntil(oneReactor, lambda: len(waiting._waiting) == 1)
    client.close()
    runUntil(oneReactor, lambda: not waiting._waiting)
    d.callback(Text(b"late"))  # nothing is rendered for the departed client
    assert fetch(oneReactor, port, "/w").body == b"late "


def test_deferredResourceRenderedByAResourceThatFails(oneReactor: Any, loggedErrors: Any) -> None:
    class Broken(resource.Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            raise ValueError("render broke")

    root = resource.Resource()
    root.putChild(b"b", util.DeferredResource(defer.succeed(Broken())))
    port, _ = serve(oneReactor, root)
    assert fetch(oneReactor, port, "/b").status == 500
    assert "render broke" in errorsLogged(loggedErrors)


# -- formatFailure -------------------------------------------------------------------------


def test_formatFailureEscapesEverything() -> None:
    try:
        raise ValueError("<script>alert('x')</script> & more")
    except ValueError:
        failure = Failure()
    page = util.formatFailure(failure)
    assert isinstance(page, bytes)
    assert b"<script>" not in page
    assert b"&lt;script&gt;" in page
    assert b"ValueError" in page
    assert b"test_formatFailureEscapesEverything" in page  # the traceback's frames


def test_formatFailureRefusesAnExceptionGivenDirectly() -> None:
    with pytest.raises(TypeError, match="Failure"):
        util.formatFailure(ValueError("x"))  # type: ignore[arg-type]


def test_inThreadReportsTheThreadsException(oneReactor: Any) -> None:
    def broken() -> None:
        raise OSError("no")

    with pytest.raises(OSError, match="no"):
        inThread(oneReactor, broken)


def test_deferredResourceLeavesTheResultToLaterCallbacks() -> None:
    d: defer.Deferred[Any] = defer.Deferred()
    util.DeferredResource(d)
    tree = Text(b"t")
    d.callback(tree)
    seen: list[Any] = []
    d.addCallback(seen.append)
    assert seen == [tree]
    failing: defer.Deferred[Any] = defer.fail(RuntimeError("x"))
    util.DeferredResource(failing)
    failed: list[Any] = []
    failing.addBoth(failed.append)
    assert failed == [None]  # the failure was taken in charge, not left unhandled
