"""renderElement: the response it writes, and what a failure does to it.

In memory (tests/web/webtesting.py) for the response itself; over real sockets for
what needs a real connection: a slow renderer not holding up other clients, a failure
after the page started dropping the connection, a client that leaves mid-page.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil
from tests.web._webhelpers import Peer, listenSite
from tests.web.webtesting import MemorySite
from torsion.internet.defer import Deferred, fail
from torsion.web.resource import Resource
from torsion.web.server import Site
from torsion.web.template import (
    Element,
    Tag,
    TagLoader,
    XMLString,
    renderElement,
    renderer,
    tags,
)

reactor = reactormixins.reactor
loggedErrors = reactormixins.loggedErrors


class ElementPage(Resource):
    """A leaf that answers GET with renderElement of a new element from ``make``."""

    isLeaf = True

    def __init__(self, make: Callable[[], Any], **arguments: Any) -> None:
        super().__init__()
        self.make = make
        self.arguments = arguments

    def render_GET(self, request: Any) -> Any:
        return renderElement(request, self.make(), **self.arguments)


class Hello(Element):
    loader = XMLString(
        '<html xmlns:t="http://twistedmatrix.com/ns/twisted.web.template/0.1">'
        '<body><p t:render="greeting">Hello, <t:slot name="who"/></p></body></html>'
    )

    @renderer
    def greeting(self, request: Any, tag: Tag) -> Tag:
        return tag.fillSlots(who=request.args.get(b"who", [b"world"])[0].decode())


def test_pageWithDoctypeAndHTMLContentType() -> None:
    response = MemorySite(ElementPage(Hello)).get(b"/?who=%3Cb%3E")
    assert response.code == 200
    assert response.header(b"content-type") == b"text/html; charset=utf-8"
    assert response.body == (b"<!DOCTYPE html>\n<html><body><p>Hello, &lt;b&gt;</p></body></html>")


def test_otherDoctypeOrNone() -> None:
    xhtml = b'<?xml version="1.0" encoding="utf-8"?>'
    assert MemorySite(ElementPage(Hello, doctype=xhtml)).get().body.startswith(xhtml + b"\n<html>")
    assert MemorySite(ElementPage(Hello, doctype=None)).get().body.startswith(b"<html>")


def test_contentTypeSetByTheResourceIsKept() -> None:
    class Feed(ElementPage):
        def render_GET(self, request: Any) -> Any:
            request.setHeader(b"content-type", b"application/xhtml+xml")
            return super().render_GET(request)

    assert MemorySite(Feed(Hello)).get().header(b"content-type") == b"application/xhtml+xml"


class Broken(Element):
    loader = TagLoader(tags.html(tags.body(tags.p("secret part"), tags.div(render="broken"))))

    @renderer
    def broken(self, request: Any, tag: Tag) -> Any:
        raise KeyError("secret detail")


def test_failureBeforeAnythingWasSentIsA500(loggedErrors: list[dict[str, Any]]) -> None:
    site = MemorySite(ElementPage(Broken))
    response = site.get()
    assert response.code == 500
    assert b"secret" not in response.body
    assert b"Internal Server Error" in response.body
    assert len(loggedErrors) == 1
    assert "secret detail" in str(loggedErrors[0]["failure"].value)
    assert site.get().code == 500, "the connection keeps serving"


def test_failingDeferredBeforeAnythingWasSentIsA500(loggedErrors: list[dict[str, Any]]) -> None:
    class Failing(Element):
        loader = TagLoader(tags.p(render="r"))

        @renderer
        def r(self, request: Any, tag: Tag) -> Any:
            return fail(ZeroDivisionError("at once"))

    assert MemorySite(ElementPage(Failing)).get().code == 500
    assert len(loggedErrors) == 1


def test_500ShowsTheEscapedTracebackWhenTheSiteSaysSo(
    loggedErrors: list[dict[str, Any]],
) -> None:
    class Hostile(Element):
        loader = TagLoader(tags.p(render="r"))

        @renderer
        def r(self, request: Any, tag: Tag) -> Any:
            raise ValueError("<script>alert(1)</script>")

    site = MemorySite(ElementPage(Hostile))
    site.site.displayTracebacks = True
    response = site.get()
    assert response.code == 500
    assert b"ValueError" in response.body
    assert b"<script>alert" not in response.body
    assert b"&lt;script&gt;alert(1)" in response.body


def slowly(reactor: Any, seconds: float, value: Any) -> Deferred[Any]:
    d: Deferred[Any] = Deferred()
    reactor.callLater(seconds, d.callback, value)
    return d


def test_slowRendererDoesNotHoldUpOtherClients(reactor: Any) -> None:
    gate: Deferred[str] = Deferred()

    class Slow(Element):
        loader = TagLoader(tags.p(render="slow"))

        @renderer
        def slow(self, request: Any, tag: Tag) -> Any:
            return gate.addCallback(lambda text: tag(text))

    root = Resource()
    root.putChild(b"slow", ElementPage(Slow))
    root.putChild(b"fast", ElementPage(Hello))
    port = listenSite(reactor, Site(root))
    slowPeer, fastPeer = Peer(reactor, port), Peer(reactor, port)
    try:
        slowPeer.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        runUntil(reactor, lambda: bool(slowPeer.raw._poll() or slowPeer.raw.received))
        fastPeer.send(b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
        fast = fastPeer.response()
        assert fast.status == 200 and b"Hello, world" in fast.body
        assert b"</p>" not in slowPeer.raw.received, "the slow page finished early"
        reactor.callLater(0.05, gate.callback, "at last")
        slow = slowPeer.response()
        assert slow.body == b"<!DOCTYPE html>\n<p>at last</p>"
    finally:
        slowPeer.close()
        fastPeer.close()


def test_failureAfterThePageStartedDropsTheConnection(
    reactor: Any, loggedErrors: list[dict[str, Any]]
) -> None:
    class Late(Element):
        loader = TagLoader(tags.html(tags.p("x" * 100), tags.div(render="late"), "never"))

        @renderer
        def late(self, request: Any, tag: Tag) -> Any:
            d: Deferred[Any] = Deferred()
            reactor.callLater(0.05, d.errback, RuntimeError("late failure"))
            return d

    port = listenSite(reactor, Site(ElementPage(Late)))
    peer = Peer(reactor, port)
    try:
        peer.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        received = peer.waitClosed()
    finally:
        peer.close()
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"transfer-encoding: chunked" in head.lower()
    assert b"x" * 100 in body
    assert b"never" not in body
    assert not body.endswith(b"0\r\n\r\n"), "the cut page was ended as if whole"
    runUntil(reactor, lambda: len(loggedErrors) == 1)
    assert "late failure" in str(loggedErrors[0]["failure"].value)


def test_clientLeavingStopsTheFlattening(reactor: Any, loggedErrors: list[dict[str, Any]]) -> None:
    made: list[int] = []
    finished: list[Any] = []

    class Endless(Element):
        loader = TagLoader(tags.ul(render="rows"))

        @renderer
        def rows(self, request: Any, tag: Tag) -> Any:
            request.notifyFinish().addBoth(finished.append)

            def generate() -> Any:
                for n in range(10**7):
                    made.append(n)
                    yield tags.li(f"row {n} " + "z" * 1000)

            return tag(generate())

    port = listenSite(reactor, Site(ElementPage(Endless)))
    client = socket.create_connection(("127.0.0.1", port))
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    runUntil(reactor, lambda: len(made) > 100)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    client.close()
    runUntil(reactor, lambda: bool(finished))
    count = len(made)
    for _ in range(20):
        reactor.iterate(0.01)
    assert len(made) == count, "rows were still made after the client left"
    assert count < 10**5
    assert loggedErrors == []


@pytest.mark.parametrize("doctype", [b"<!DOCTYPE html>", None])
def test_renderElementReturnsNotDoneYet(doctype: bytes | None) -> None:
    from torsion.web.server import NOT_DONE_YET

    class Request:
        """Just what renderElement uses of a request."""

        startedWriting = 0
        finished = 0
        producer = None

        def __init__(self) -> None:
            from torsion.web.http_headers import Headers

            self.responseHeaders = Headers()
            self.written: list[bytes] = []

        def setHeader(self, name: bytes, value: bytes) -> None:
            self.responseHeaders.setRawHeaders(name, [value])

        def write(self, data: bytes) -> None:
            self.written.append(data)

        def registerProducer(self, producer: Any, streaming: bool) -> None:
            self.producer = producer

        def unregisterProducer(self) -> None:
            self.producer = None

        def finish(self) -> None:
            self.finished = 1

    request = Request()
    assert renderElement(request, Element(TagLoader(tags.p("x"))), doctype) is NOT_DONE_YET
    assert request.finished
    assert b"".join(request.written).endswith(b"<p>x</p>")
