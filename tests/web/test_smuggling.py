"""Hostile and malformed requests against a real torsion.web Site over raw sockets.

Each malformed request is sent on its own connection to a Site on 127.0.0.1; the test
checks the status RFC 9110/9112 calls for, that the connection is closed where the
framing can no longer be trusted, and then that a well-formed request on a second
connection is still served (one bad client never takes the server down) and that
nothing was logged as an unhandled error. Where the RFCs let a server either refuse a
request or repair it (obs-fold, a NUL in a value, bare LF line ends, duplicate equal
Content-Length values), both answers are accepted, but a repair must be the one the RFC
describes. The framing defences that matter most run on every reactor
(``test_conformance_*``); the rest run once, on the platform's default reactor.
The sans-IO parser itself is tested byte by byte in tests/web/test_http11.py.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil
from tests.web import _webhelpers
from tests.web._webhelpers import Echo, Peer, Response, listenSite, spin
from torsion.web._http2 import H2_AVAILABLE
from torsion.web._http11 import Limits
from torsion.web.resource import Resource
from torsion.web.server import NOT_DONE_YET, Site

loggedErrors = reactormixins.loggedErrors
oneReactor = _webhelpers.oneReactor
reactor = reactormixins.reactor

HOST = b"Host: localhost\r\n"


class Plain(Resource):
    """A leaf with only render_GET: other methods go through the standard dispatch."""

    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        return b"plain"


class PostOnly(Resource):
    isLeaf = True

    def render_POST(self, request: Any) -> bytes:
        return b"posted"


class Later(Resource):
    """A leaf that answers after a delay (``?ms=N``), to test pipelined ordering; a
    client that leaves first cancels the answer (``gone`` counts those)."""

    isLeaf = True

    def __init__(self, reactor: Any) -> None:
        super().__init__()
        self.reactor = reactor
        self.gone = 0

    def render_GET(self, request: Any) -> object:
        delay = int(request.args.get(b"ms", [b"0"])[0]) / 1000

        def finish() -> None:
            request.write(request.path + b"?" + request.args[b"ms"][0])
            request.finish()

        call = self.reactor.callLater(delay, finish)

        def lost(reason: object) -> None:
            self.gone += 1
            if call.active():
                call.cancel()

        request.notifyFinish().addErrback(lost)
        return NOT_DONE_YET


class Server:
    """A Site with an echo, a plain and a delayed resource, and raw clients for it."""

    def __init__(self, reactor: Any, **siteArguments: Any) -> None:
        root = Resource()
        root.putChild(b"echo", Echo())
        root.putChild(b"plain", Plain())
        root.putChild(b"post-only", PostOnly())
        self.later = Later(reactor)
        root.putChild(b"later", self.later)
        self.reactor = reactor
        self.site = Site(root, reactor=reactor, **siteArguments)
        self.port = listenSite(reactor, self.site)
        self.peers: list[Peer] = []

    def connect(self) -> Peer:
        peer = Peer(self.reactor, self.port)
        self.peers.append(peer)
        return peer

    def exchange(self, request: bytes, method: str = "GET") -> tuple[Response, Peer]:
        """Send ``request`` on a new connection; return the first response and the peer."""
        peer = self.connect()
        peer.send(request)
        return peer.response(method), peer

    def assertServing(self) -> None:
        """A well-formed request on a fresh connection is answered in full."""
        response, peer = self.exchange(b"GET /echo?after HTTP/1.1\r\n" + HOST + b"\r\n")
        assert response.status == 200, response
        assert response.json()["uri"] == "/echo?after"
        peer.close()

    def close(self) -> None:
        for peer in self.peers:
            peer.close()


@contextmanager
def serve(reactor: Any, **siteArguments: Any) -> Iterator[Server]:
    server = Server(reactor, **siteArguments)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def server(oneReactor: Any) -> Iterator[Server]:
    with serve(oneReactor) as served:
        yield served


@pytest.fixture
def anyServer(reactor: Any) -> Iterator[Server]:
    with serve(reactor) as served:
        yield served


def headerValues(seen: dict[str, Any], name: str) -> list[str]:
    return [value for key, value in seen["headers"] if key.lower() == name.lower()]


# -- the corpus -----------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    """A request the server must refuse with one of ``statuses`` and then close.

    ``repaired``, where the RFC also allows the server to repair the request instead,
    checks what the resource then saw (the JSON of tests/web/_webhelpers.seenBy).
    ``closeAnyway``: the RFC wants the connection closed even after a repair.
    ``framingLost`` False: the request is wrong but its end is clear (a bad Host, a
    target of the wrong form), so the server may refuse it and keep the connection.
    """

    request: bytes
    statuses: tuple[int, ...] = (400,)
    repaired: Callable[[dict[str, Any]], bool] | None = None
    closeAnyway: bool = False
    framingLost: bool = True


def post(*headers: bytes, body: bytes = b"hello", version: bytes = b"1.1") -> bytes:
    return b"POST /echo HTTP/" + version + b"\r\n" + HOST + b"".join(headers) + b"\r\n" + body


def chunked(body: bytes) -> bytes:
    return post(b"Transfer-Encoding: chunked\r\n", body=body)


def bodyIs(expected: str) -> Callable[[dict[str, Any]], bool]:
    return lambda seen: bool(seen["body"] == expected)


def valueIs(name: str, accepted: Callable[[str], bool]) -> Callable[[dict[str, Any]], bool]:
    def check(seen: dict[str, Any]) -> bool:
        values = headerValues(seen, name)
        return len(values) == 1 and accepted(values[0])

    return check


def withField(field: bytes) -> bytes:
    return b"GET /echo HTTP/1.1\r\n" + HOST + field + b"\r\n\r\n"


BAD: dict[str, Bad] = {
    # Content-Length must be one plain decimal number (RFC 9112 section 6.3, item 5).
    "cl-two-different": Bad(
        post(b"Content-Length: 5\r\n", b"Content-Length: 6\r\n", body=b"hello!")
    ),
    "cl-list-different": Bad(post(b"Content-Length: 5, 6\r\n", body=b"hello!")),
    # RFC 9110 section 8.6: a list of equal values may be taken as that one value.
    "cl-list-equal": Bad(post(b"Content-Length: 5, 5\r\n"), repaired=bodyIs("hello")),
    "cl-two-equal": Bad(
        post(b"Content-Length: 5\r\n", b"Content-Length: 5\r\n"), repaired=bodyIs("hello")
    ),
    "cl-plus": Bad(post(b"Content-Length: +5\r\n")),
    "cl-hex": Bad(post(b"Content-Length: 0x5\r\n")),
    "cl-negative": Bad(post(b"Content-Length: -1\r\n")),
    "cl-decimal-point": Bad(post(b"Content-Length: 5.0\r\n")),
    "cl-empty": Bad(post(b"Content-Length: \r\n")),
    "cl-inner-space": Bad(post(b"Content-Length: 0 5\r\n")),
    # What Python's int() accepts but HTTP does not.
    "cl-underscore": Bad(post(b"Content-Length: 0_5\r\n")),
    "cl-superscript": Bad(post(b"Content-Length: \xb2\r\n", body=b"he")),
    "cl-huge": Bad(post(b"Content-Length: 99999999999999999999999999999\r\n"), (400, 413)),
    # Content-Length with Transfer-Encoding: refuse, or go by chunked and close anyway
    # (RFC 9112 section 6.3, item 3). The Content-Length given would cut the body short.
    "cl-and-te": Bad(
        post(
            b"Content-Length: 3\r\n",
            b"Transfer-Encoding: chunked\r\n",
            body=b"5\r\nhello\r\n0\r\n\r\n",
        ),
        repaired=bodyIs("hello"),
        closeAnyway=True,
    ),
    "te-and-cl": Bad(
        post(
            b"Transfer-Encoding: chunked\r\n",
            b"Content-Length: 3\r\n",
            body=b"5\r\nhello\r\n0\r\n\r\n",
        ),
        repaired=bodyIs("hello"),
        closeAnyway=True,
    ),
    # Chunked must be the final coding, and only once (RFC 9112 sections 6.1 and 6.3);
    # a coding the server does not know earns a 501 (section 6.1).
    "te-gzip": Bad(post(b"Transfer-Encoding: gzip\r\n", b"Content-Length: 5\r\n"), (400, 501)),
    "te-gzip-only": Bad(post(b"Transfer-Encoding: gzip\r\n"), (400, 501)),
    "te-chunked-gzip": Bad(
        post(b"Transfer-Encoding: chunked, gzip\r\n", body=b"0\r\n\r\n"), (400, 501)
    ),
    "te-gzip-chunked": Bad(
        post(b"Transfer-Encoding: gzip, chunked\r\n", body=b"0\r\n\r\n"), (400, 501)
    ),
    "te-chunked-twice": Bad(post(b"Transfer-Encoding: chunked, chunked\r\n", body=b"0\r\n\r\n")),
    "te-two-fields": Bad(
        post(
            b"Transfer-Encoding: chunked\r\n", b"Transfer-Encoding: chunked\r\n", body=b"0\r\n\r\n"
        )
    ),
    "te-identity": Bad(
        post(b"Transfer-Encoding: identity\r\n", b"Content-Length: 5\r\n"), (400, 501)
    ),
    "te-xchunked": Bad(post(b"Transfer-Encoding: xchunked\r\n", body=b"0\r\n\r\n"), (400, 501)),
    "te-empty": Bad(post(b"Transfer-Encoding: \r\n", b"Content-Length: 5\r\n"), (400, 501)),
    "te-vertical-tab": Bad(post(b"Transfer-Encoding:\x0bchunked\r\n", body=b"0\r\n\r\n")),
    "te-in-http10": Bad(
        post(b"Transfer-Encoding: chunked\r\n", body=b"5\r\nhello\r\n0\r\n\r\n", version=b"1.0"),
        repaired=bodyIs("hello"),
        closeAnyway=True,
    ),
    # Chunk sizes are 1*HEXDIG (RFC 9112 section 7.1), bounded by the body limit.
    "chunk-size-junk": Bad(chunked(b"5x\r\nhello\r\n0\r\n\r\n")),
    "chunk-size-0x": Bad(chunked(b"0x5\r\nhello\r\n0\r\n\r\n")),
    "chunk-size-negative": Bad(chunked(b"-5\r\nhello\r\n0\r\n\r\n")),
    "chunk-size-plus": Bad(chunked(b"+5\r\nhello\r\n0\r\n\r\n")),
    "chunk-size-underscore": Bad(chunked(b"0_5\r\nhello\r\n0\r\n\r\n")),
    "chunk-size-leading-space": Bad(chunked(b" 5\r\nhello\r\n0\r\n\r\n")),
    "chunk-size-empty": Bad(chunked(b"\r\nhello\r\n0\r\n\r\n")),
    "chunk-size-huge": Bad(
        chunked(b"fffffffffffffffffffffffffff\r\nhello\r\n0\r\n\r\n"), (400, 413)
    ),
    "chunk-size-line-too-long": Bad(
        chunked(b"0" * 100_000 + b"5\r\nhello\r\n0\r\n\r\n"), (400, 413)
    ),
    "chunk-data-too-long": Bad(chunked(b"3\r\nhello\r\n0\r\n\r\n")),
    "chunk-data-no-crlf": Bad(chunked(b"5\r\nhelloXX0\r\n\r\n")),
    "chunk-no-final-crlf": Bad(chunked(b"5\r\nhello\r\n0\r\n")),
    # RFC 9112 section 2.2 lets bare LF end the start line and fields only; a chunk's
    # framing is CRLF (section 7.1), and proxies disagree about a bare LF there.
    "chunk-data-bare-lf": Bad(chunked(b"5\r\nhello\n0\r\n\r\n")),
    "chunk-size-bare-lf": Bad(chunked(b"5\nhello\r\n0\r\n\r\n")),
    # chunk-ext is tokens and quoted strings (section 7.1.1): no control bytes, since
    # a proxy that ends the line on one frames the body differently (CVE-2025-22871).
    "chunk-ext-nul": Bad(chunked(b"5;a\x00b\r\nhello\r\n0\r\n\r\n")),
    "chunk-ext-bare-cr": Bad(chunked(b"5;a\rb\r\nhello\r\n0\r\n\r\n")),
    "chunk-ext-bare-lf": Bad(chunked(b"5;a\nhello\r\n0\r\n\r\n")),
    "chunk-ext-flood": Bad(
        chunked(b"5;" + b"a" * 100_000 + b"\r\nhello\r\n0\r\n\r\n"), (400, 413, 431)
    ),
    "chunk-ext-many": Bad(
        chunked(b"5" + b";a=b" * 30_000 + b"\r\nhello\r\n0\r\n\r\n"), (400, 413, 431)
    ),
    # obs-fold: refuse, or replace it with spaces (RFC 9112 section 5.2).
    "obs-fold-space": Bad(
        withField(b"X-Folded: a\r\n b"),
        repaired=valueIs("X-Folded", lambda v: v.split() == ["a", "b"]),
    ),
    "obs-fold-tab": Bad(
        withField(b"X-Folded: a\r\n\tb"),
        repaired=valueIs("X-Folded", lambda v: v.split() == ["a", "b"]),
    ),
    # White space before the first field: refuse, or ignore the line (section 2.2).
    "space-before-first-field": Bad(
        b"GET /echo HTTP/1.1\r\n X-Sneaky: a\r\n" + HOST + b"\r\n",
        repaired=lambda seen: not any("sneaky" in name.lower() for name, _ in seen["headers"]),
    ),
    # White space between a field name and the colon: always 400 (section 5.1).
    "space-before-colon": Bad(withField(b"X-Spaced : a")),
    "tab-before-colon": Bad(withField(b"X-Spaced\t: a")),
    "te-space-before-colon": Bad(post(b"Transfer-Encoding : chunked\r\n", body=b"0\r\n\r\n")),
    "field-without-colon": Bad(withField(b"X-No-Colon")),
    "field-empty-name": Bad(withField(b": value")),
    "field-name-not-token": Bad(withField(b"X(bad): a")),
    "field-name-nul": Bad(withField(b"X\x00Y: a")),
    # NUL and bare CR in a value: refuse, or replace each with SP (RFC 9110 section 5.5,
    # RFC 9112 section 2.2); a bare CR must never end a line.
    "field-value-nul": Bad(
        withField(b"X-Nul: a\x00b"), repaired=valueIs("X-Nul", lambda v: v == "a b")
    ),
    "field-value-bare-cr": Bad(
        withField(b"X-Cr: a\rb"), repaired=valueIs("X-Cr", lambda v: v == "a b")
    ),
    "bare-cr-between-fields": Bad(
        withField(b"X-A: 1\rX-B: 2"),
        repaired=lambda seen: not headerValues(seen, "X-B"),
    ),
    "bare-cr-after-request-line": Bad(b"GET /echo HTTP/1.1\r" + HOST + b"\r\n"),
    # Request lines (RFC 9112 section 3).
    "method-not-token": Bad(b"G(T /echo HTTP/1.1\r\n" + HOST + b"\r\n"),
    "method-nul": Bad(b"GE\x00T /echo HTTP/1.1\r\n" + HOST + b"\r\n"),
    "method-empty": Bad(b" /echo HTTP/1.1\r\n" + HOST + b"\r\n"),
    "target-with-space": Bad(b"GET /a b HTTP/1.1\r\n" + HOST + b"\r\n"),
    "target-nul": Bad(b"GET /a\x00b HTTP/1.1\r\n" + HOST + b"\r\n"),
    "target-not-a-path": Bad(b"GET echo HTTP/1.1\r\n" + HOST + b"\r\n", framingLost=False),
    "asterisk-for-get": Bad(b"GET * HTTP/1.1\r\n" + HOST + b"\r\n", framingLost=False),
    "no-version": Bad(b"GET /echo\r\n\r\n"),
    "extra-word": Bad(b"GET /echo HTTP/1.1 extra\r\n" + HOST + b"\r\n"),
    "version-lowercase": Bad(b"GET /echo http/1.1\r\n" + HOST + b"\r\n"),
    "version-no-minor": Bad(b"GET /echo HTTP/1\r\n" + HOST + b"\r\n", (400, 505)),
    "version-garbage": Bad(b"GET /echo HTTP/1.x\r\n" + HOST + b"\r\n", (400, 505)),
    "version-two-digits": Bad(b"GET /echo HTTP/11.1\r\n" + HOST + b"\r\n", (400, 505)),
    "version-0.9": Bad(b"GET /echo HTTP/0.9\r\n" + HOST + b"\r\n", (400, 505)),
    "version-2.0": Bad(b"GET /echo HTTP/2.0\r\n" + HOST + b"\r\n", (505,)),
    "version-3.0": Bad(b"GET /echo HTTP/3.0\r\n" + HOST + b"\r\n", (505,)),
    "tls-hello": Bad(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 32 + b"\r\n\r\n"),
    # Host (RFC 9112 section 3.2): exactly one, and a valid one, in HTTP/1.1.
    "host-missing": Bad(b"GET /echo HTTP/1.1\r\n\r\n", framingLost=False),
    "host-twice": Bad(b"GET /echo HTTP/1.1\r\n" + HOST + HOST + b"\r\n", framingLost=False),
    "host-with-space": Bad(b"GET /echo HTTP/1.1\r\nHost: local host\r\n\r\n", framingLost=False),
    "host-with-slash": Bad(
        b"GET /echo HTTP/1.1\r\nHost: localhost/echo\r\n\r\n", framingLost=False
    ),
    "host-bad-port": Bad(b"GET /echo HTTP/1.1\r\nHost: localhost:http\r\n\r\n", framingLost=False),
    "host-userinfo": Bad(b"GET /echo HTTP/1.1\r\nHost: user@localhost\r\n\r\n", framingLost=False),
}

if not H2_AVAILABLE:
    # With h2 installed the preface starts HTTP/2 with prior knowledge (tests/web/h2/).
    BAD["h2-preface"] = Bad(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", (400, 505))


FOLLOWER = b"GET /echo?smuggled HTTP/1.1\r\n" + HOST + b"\r\n"


def checkBad(server: Server, case: Bad, loggedErrors: list[dict[str, Any]]) -> None:
    """Send the bad request with a good one right behind it on the same connection: once
    the framing is lost, nothing after the bad request may be served."""
    response, peer = server.exchange(
        case.request + FOLLOWER, "POST" if case.request.startswith(b"POST") else "GET"
    )
    if response.status in case.statuses:
        if case.framingLost:
            peer.waitClosed()
            assert b"?smuggled" not in peer.raw.received
    elif case.repaired is not None and response.status == 200:
        seen = response.json()
        assert case.repaired(seen), f"the server repaired the request wrongly: {seen}"
        if case.closeAnyway:
            peer.waitClosed()
    else:
        pytest.fail(
            f"expected {' or '.join(map(str, case.statuses))}"
            f"{' (or a repair)' if case.repaired else ''}, got {response.status}"
            f" {response.reason}: {response.body[:200]!r}"
        )
    server.assertServing()
    assert loggedErrors == []


@pytest.mark.parametrize("name", sorted(BAD))
def test_malformedRequestRefused(
    server: Server, name: str, loggedErrors: list[dict[str, Any]]
) -> None:
    checkBad(server, BAD[name], loggedErrors)


@pytest.mark.parametrize(
    "name", ["cl-two-different", "cl-and-te", "chunk-size-junk", "obs-fold-space"]
)
def test_conformance_malformedRequestRefused(
    anyServer: Server, name: str, loggedErrors: list[dict[str, Any]]
) -> None:
    checkBad(anyServer, BAD[name], loggedErrors)


# Requests that look odd but are valid (or that the RFC tells servers to accept).
GOOD: dict[str, tuple[bytes, Callable[[dict[str, Any]], bool]]] = {
    "te-chunked-capitals": (
        post(b"Transfer-Encoding: Chunked\r\n", body=b"5\r\nhello\r\n0\r\n\r\n"),
        bodyIs("hello"),
    ),
    "te-chunked-ows": (
        post(b"Transfer-Encoding:   chunked  \r\n", body=b"5\r\nhello\r\n0\r\n\r\n"),
        bodyIs("hello"),
    ),
    "chunk-size-leading-zeros": (chunked(b"0005\r\nhello\r\n000\r\n\r\n"), bodyIs("hello")),
    "chunk-size-upper-hex": (chunked(b"A\r\nhellohello\r\n0\r\n\r\n"), bodyIs("hellohello")),
    "chunk-extensions": (
        chunked(b'5;name=value;q="a;b"\r\nhello\r\n0;last\r\n\r\n'),
        bodyIs("hello"),
    ),
    "cl-ows": (post(b"Content-Length:  5 \r\n"), bodyIs("hello")),
    "cl-leading-zeros": (post(b"Content-Length: 005\r\n"), bodyIs("hello")),
    "field-value-ows-trimmed": (
        withField(b"X-Padded: \t a b \t"),
        valueIs("X-Padded", lambda v: v == "a b"),
    ),
    "field-value-obs-text": (
        withField(b"X-Latin: caf\xe9"),
        valueIs("X-Latin", lambda v: v == "caf\xe9"),
    ),
    "field-name-case": (withField(b"x-LoWeR: 1"), valueIs("X-Lower", lambda v: v == "1")),
    "empty-field-value": (withField(b"X-Empty:"), valueIs("X-Empty", lambda v: v == "")),
    "leading-empty-line": (
        b"\r\nGET /echo HTTP/1.1\r\n" + HOST + b"\r\n",
        lambda seen: seen["path"] == "/echo",
    ),
    "http10-without-host": (b"GET /echo HTTP/1.0\r\n\r\n", lambda seen: seen["path"] == "/echo"),
    # A higher minor version is served as HTTP/1.1 (RFC 9110 section 2.5).
    "version-1.2": (
        b"GET /echo HTTP/1.2\r\n" + HOST + b"\r\n",
        lambda seen: seen["path"] == "/echo",
    ),
    "query-and-percent": (
        b"GET /echo?a=1&b=%20 HTTP/1.1\r\n" + HOST + b"\r\n",
        lambda seen: seen["uri"] == "/echo?a=1&b=%20",
    ),
    "get-with-body": (
        b"GET /echo HTTP/1.1\r\n" + HOST + b"Content-Length: 5\r\n\r\nhello",
        bodyIs("hello"),
    ),
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_oddButValidRequestServed(
    server: Server, name: str, loggedErrors: list[dict[str, Any]]
) -> None:
    request, check = GOOD[name]
    peer = server.connect()
    peer.send(request)
    response = peer.response()
    assert response.status == 200, response
    seen = response.json()
    assert check(seen), seen
    if b" HTTP/1.0\r\n" in request:
        peer.waitClosed()
        return
    # The framing held: the same connection serves another request.
    peer.send(b"GET /echo?again HTTP/1.1\r\n" + HOST + b"\r\n")
    again = peer.response()
    assert again.status == 200 and again.json()["uri"] == "/echo?again"
    assert again.json()["clientPort"] == seen["clientPort"]
    assert loggedErrors == []


def test_bareLineFeedsAccepted(server: Server) -> None:
    """RFC 9112 section 2.2: a server MAY take a bare LF as a line end; torsion does.

    Either answer is allowed by the RFC; a refusal must close the connection.
    """
    response, peer = server.exchange(b"GET /echo HTTP/1.1\nHost: localhost\nX-A: 1\r\n\n")
    if response.status == 400:
        peer.waitClosed()
    else:
        assert response.status == 200
        assert headerValues(response.json(), "X-A") == ["1"]
    server.assertServing()


# -- methods ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", [b"FOO", b"get", b"BREW"])
def test_unknownMethodIsNotImplemented(server: Server, method: bytes) -> None:
    """RFC 9110 section 9.1: a method the server does not recognise gets a 501."""
    response, _ = server.exchange(method + b" /plain HTTP/1.1\r\n" + HOST + b"\r\n")
    assert response.status == 501
    server.assertServing()


def test_knownMethodNotAllowedSaysWhichAre(server: Server) -> None:
    """A 405 must carry Allow (RFC 9110 section 15.5.6); a 501 is also acceptable."""
    response, _ = server.exchange(b"DELETE /plain?a<b&c HTTP/1.1\r\n" + HOST + b"\r\n")
    assert response.status in (405, 501)
    if response.status == 405:
        allowed = {m.strip() for m in (response.headers["Allow"] or "").split(",")}
        assert "GET" in allowed and "DELETE" not in allowed
    # The target shows in the page escaped once: no markup from the client, no &amp;lt;.
    assert b"a<b" not in response.body and b"&amp;lt;" not in response.body


@pytest.mark.parametrize("method", [b"GET", b"HEAD"])
def test_allowListsOnlyWhatWouldBeServed(server: Server, method: bytes) -> None:
    """HEAD is allowed where GET is, and only there."""
    response, _ = server.exchange(
        method + b" /post-only HTTP/1.1\r\n" + HOST + b"\r\n", method.decode()
    )
    assert response.status == 405
    allowed = {m.strip() for m in (response.headers["Allow"] or "").split(",")}
    assert "POST" in allowed and not allowed & {"GET", "HEAD"}, allowed


# -- request smuggling over one connection ------------------------------------------------


def test_conformance_contentLengthAndChunkedNeverSmuggle(
    anyServer: Server, loggedErrors: list[dict[str, Any]]
) -> None:
    """The classic CL.TE attack: whatever the server makes of the first request, the
    bytes after it are never served as a second request on that connection."""
    smuggled = b"GET /echo?smuggled HTTP/1.1\r\n" + HOST + b"\r\n"
    body = b"0\r\n\r\n" + smuggled
    request = post(
        b"Content-Length: %d\r\n" % len(body), b"Transfer-Encoding: chunked\r\n", body=body
    )
    peer = anyServer.connect()
    peer.send(request)
    peer.waitClosed()
    assert b"?smuggled" not in peer.raw.received
    anyServer.assertServing()
    assert loggedErrors == []


def test_bodyBytesAreNotReadAsARequest(server: Server) -> None:
    """A body declared by Content-Length is consumed as a body even when it looks like
    a request; what follows it is the next request."""
    inner = b"GET /echo?inner HTTP/1.1\r\n" + HOST + b"\r\n"
    peer = server.connect()
    peer.send(
        post(b"Content-Length: %d\r\n" % len(inner), body=inner)
        + b"GET /echo?next HTTP/1.1\r\n"
        + HOST
        + b"\r\n"
    )
    first, second = peer.responses(2, ["POST", "GET"])
    assert first.json()["body"] == inner.decode()
    assert second.json()["uri"] == "/echo?next"


# -- pipelining, HEAD, OPTIONS, absolute form, trailers ---------------------------------


def pipelined(server: Server) -> None:
    peer = server.connect()
    peer.send(
        b"GET /later?ms=150 HTTP/1.1\r\n"
        + HOST
        + b"\r\n"
        + post(b"Content-Length: 5\r\n")
        + b"HEAD /echo HTTP/1.1\r\n"
        + HOST
        + b"\r\n"
        + b"GET /later?ms=0 HTTP/1.1\r\n"
        + HOST
        + b"\r\n"
        + b"GET /echo?last HTTP/1.1\r\n"
        + HOST
        + b"Connection: close\r\n\r\n"
    )
    responses = peer.responses(5, ["GET", "POST", "HEAD", "GET", "GET"])
    assert [r.status for r in responses] == [200] * 5
    assert responses[0].body == b"/later?150"
    assert responses[1].json()["body"] == "hello"
    assert responses[2].body == b""
    assert responses[3].body == b"/later?0"
    assert responses[4].json()["uri"] == "/echo?last"
    peer.waitClosed()
    assert peer.rest() == b""


def test_conformance_pipelinedRequestsAnsweredInOrder(anyServer: Server) -> None:
    """Responses go out in request order even when the first one takes longest."""
    pipelined(anyServer)


def test_pipelinedRequestsSentByteByByte(server: Server) -> None:
    peer = server.connect()
    stream = post(b"Content-Length: 5\r\n") + chunked(b"2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n")
    for index in range(len(stream)):
        peer.send(stream[index : index + 1])
        server.reactor.iterate(0)
    first, second = peer.responses(2, ["POST", "POST"])
    assert first.json()["body"] == second.json()["body"] == "hello"


def test_headHasNoBody(server: Server) -> None:
    """HEAD gets GET's headers without a body, so the next response follows at once."""
    peer = server.connect()
    peer.send(b"HEAD /plain HTTP/1.1\r\n" + HOST + b"\r\nGET /plain HTTP/1.1\r\n" + HOST + b"\r\n")
    head, get = peer.responses(2, ["HEAD", "GET"])
    assert (head.status, head.body) == (200, b"")
    assert get.body == b"plain"
    assert head.headers.get("Content-Length") in (None, "5")
    raw = peer.raw.received
    assert raw.index(b"HTTP/1.1 200", 1) == raw.index(b"\r\n\r\n") + 4


def test_headOfAStreamedResponseHasNoBody(server: Server) -> None:
    """What a resource writes later in answer to HEAD is dropped, framing intact."""
    peer = server.connect()
    peer.send(
        b"HEAD /later?ms=20 HTTP/1.1\r\n" + HOST + b"\r\nGET /plain HTTP/1.1\r\n" + HOST + b"\r\n"
    )
    head, get = peer.responses(2, ["HEAD", "GET"])
    assert (head.status, head.body, get.body) == (200, b"", b"plain")
    raw = peer.raw.received
    assert raw.index(b"HTTP/1.1 200", 1) == raw.index(b"\r\n\r\n") + 4


@pytest.mark.parametrize(
    "request_",
    [
        b"GET /echo HTTP/1.1\r\n" + HOST + b"\r\n",
        b"GET /missing HTTP/1.1\r\n" + HOST + b"\r\n",
        b"GET /echo HTTP/1.1\r\n\r\n",
    ],
    ids=["200", "404", "400"],
)
def test_responsesCarryDate(server: Server, request_: bytes) -> None:
    """An origin server with a clock MUST send Date in 2xx, 3xx and 4xx responses
    (RFC 9110 section 6.6.1)."""
    response, _ = server.exchange(request_)
    assert response.headers.get("Date", "").endswith(" GMT"), dict(response.headers)


def test_optionsAsteriskAnswered(server: Server) -> None:
    """OPTIONS * asks about the server itself (RFC 9110 section 9.3.7)."""
    peer = server.connect()
    peer.send(b"OPTIONS * HTTP/1.1\r\n" + HOST + b"\r\n")
    response = peer.response("OPTIONS")
    assert 200 <= response.status < 300
    peer.send(b"GET /plain HTTP/1.1\r\n" + HOST + b"\r\n")
    assert peer.response().body == b"plain"


def test_absoluteFormTarget(server: Server) -> None:
    """An absolute-form target is accepted and its authority wins over Host
    (RFC 9112 section 3.2.2)."""
    response, _ = server.exchange(
        b"GET http://example.org/echo?a=1 HTTP/1.1\r\nHost: other\r\n\r\n"
    )
    assert response.status == 200
    seen = response.json()
    assert (seen["path"], seen["hostname"]) == ("/echo", "example.org")


def test_trailersAfterChunkedBodyIgnored(server: Server) -> None:
    """Trailer fields are read and not merged into the request's headers (RFC 9110
    section 6.5.1); the connection goes on after them."""
    peer = server.connect()
    peer.send(
        chunked(b"5\r\nhello\r\n0\r\nX-Trailer: evil\r\nContent-Length: 99\r\n\r\n")
        + b"GET /echo?next HTTP/1.1\r\n"
        + HOST
        + b"\r\n"
    )
    first, second = peer.responses(2, ["POST", "GET"])
    seen = first.json()
    assert seen["body"] == "hello"
    assert headerValues(seen, "X-Trailer") == []
    assert headerValues(seen, "Content-Length") == []
    assert second.json()["uri"] == "/echo?next"


# -- limits -----------------------------------------------------------------------------

LIMITS = Limits(maxLineLength=1024, maxHeaderCount=20, maxHeaderBytes=4096, maxBodySize=10_000)


@pytest.fixture
def limited(oneReactor: Any) -> Iterator[Server]:
    with serve(oneReactor, limits=LIMITS) as served:
        yield served


def refusedAndClosed(server: Server, request: bytes, status: int, method: str = "GET") -> Response:
    """Send ``request``; the answer must be ``status`` and the connection closed.

    The server must answer without waiting for more (the request may be unfinished:
    a limit is enforced on what arrived, not on what the client promises to send).
    """
    response, peer = server.exchange(request, method)
    assert response.status == status, response
    assert response.headers.get("Connection", "").lower() == "close"
    peer.waitClosed()
    server.assertServing()
    return response


def test_requestLineOverTheLimit(limited: Server) -> None:
    refusedAndClosed(limited, b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\n" + HOST + b"\r\n", 414)


def test_requestLineOverTheLimitWithoutLineEnd(limited: Server) -> None:
    refusedAndClosed(limited, b"GET /" + b"a" * 5000, 414)


def test_requestLineJustUnderTheLimit(limited: Server) -> None:
    # The limit counts the line with its CRLF or without: this one is within either way.
    target = b"/echo?" + b"a" * (1024 - len(b"GET /echo? HTTP/1.1\r\n"))
    response, _ = limited.exchange(b"GET " + target + b" HTTP/1.1\r\n" + HOST + b"\r\n")
    assert response.status == 200 and response.json()["uri"] == target.decode()


def test_tooManyHeaders(limited: Server) -> None:
    fields = b"".join(b"X-Field-%d: %d\r\n" % (n, n) for n in range(30))
    refusedAndClosed(limited, b"GET /echo HTTP/1.1\r\n" + HOST + fields + b"\r\n", 431)


def test_headerTooLarge(limited: Server) -> None:
    refusedAndClosed(limited, withField(b"X-Big: " + b"b" * 5000), 431)


def test_headerBlockOverTheLimitWithoutEnd(limited: Server) -> None:
    """A header block that never ends is refused once it passes the limit."""
    refusedAndClosed(limited, b"GET /echo HTTP/1.1\r\n" + HOST + b"X-Big: " + b"b" * 20_000, 431)


def test_bodyOverTheLimitRefusedBeforeItArrives(limited: Server) -> None:
    """A Content-Length over the limit is refused from the head alone."""
    refusedAndClosed(limited, post(b"Content-Length: 10001\r\n", body=b""), 413, "POST")


def test_chunkedBodyOverTheLimit(limited: Server) -> None:
    chunks = b"1000\r\n" + b"c" * 4096 + b"\r\n"
    refusedAndClosed(limited, chunked(chunks * 3), 413, "POST")


def test_bodyAtTheLimitAccepted(limited: Server) -> None:
    body = b"d" * 10_000
    response, _ = limited.exchange(post(b"Content-Length: 10000\r\n", body=body), "POST")
    assert response.status == 200 and response.json()["body"] == body.decode()


def test_pipelinedFloodServedInFull(server: Server) -> None:
    """A client that pipelines far ahead without reading gets every answer, in order.

    (The server stops reading while it is behind, so its buffers stay bounded.)
    """
    count = 400
    padding = b"X-Padding: " + b"p" * 2000 + b"\r\n"
    peer = server.connect()
    peer.send(
        b"".join(b"GET /echo?%d HTTP/1.1\r\n" % n + HOST + padding + b"\r\n" for n in range(count))
    )
    responses = peer.responses(count, timeout=30)
    assert [r.json()["uri"] for r in responses] == [f"/echo?{n}" for n in range(count)]


# -- Expect: 100-continue -------------------------------------------------------------


def test_conformance_expectContinue(anyServer: Server) -> None:
    """100 Continue is sent before the body is read; then the final answer."""
    peer = anyServer.connect()
    peer.send(post(b"Content-Length: 5\r\n", b"Expect: 100-continue\r\n", body=b""))
    (interim,) = peer.responses(1)
    assert interim.status == 100
    peer.send(b"hello")
    final = peer.response("POST")
    assert final.status == 200 and final.json()["body"] == "hello"


def test_expectContinueWithChunkedBody(server: Server) -> None:
    peer = server.connect()
    peer.send(post(b"Transfer-Encoding: chunked\r\n", b"Expect: 100-continue\r\n", body=b""))
    (interim,) = peer.responses(1)
    assert interim.status == 100
    peer.send(b"5\r\nhello\r\n0\r\n\r\n")
    assert peer.response("POST").json()["body"] == "hello"


def test_expectContinueWithBodyOverTheLimit(limited: Server) -> None:
    """No 100 for a body that would be refused: a 417 or 413 at once, then close."""
    peer = limited.connect()
    peer.send(post(b"Content-Length: 20000\r\n", b"Expect: 100-continue\r\n", body=b""))
    response = peer.response("POST")
    assert response.status in (413, 417)
    peer.waitClosed()
    assert b"100 Continue" not in peer.raw.received


def test_expectContinueIgnoredForHTTP10(server: Server) -> None:
    """RFC 9110 section 10.1.1: an HTTP/1.0 request's 100-continue is ignored."""
    peer = server.connect()
    peer.send(post(b"Content-Length: 5\r\n", b"Expect: 100-continue\r\n", body=b"", version=b"1.0"))
    spin(server.reactor, 0.2)
    peer.raw._poll()
    assert peer.raw.received == b""
    peer.send(b"hello")
    response = peer.response("POST")
    assert response.status == 200 and response.json()["body"] == "hello"


def test_expectContinueWithTheBodyAlreadySent(server: Server) -> None:
    """A client that does not wait still gets a complete, well-framed answer."""
    peer = server.connect()
    peer.send(post(b"Content-Length: 5\r\n", b"Expect: 100-continue\r\n"))
    interim, final = peer.finalResponse("POST")
    assert [r.status for r in interim] in ([], [100])
    assert final.status == 200 and final.json()["body"] == "hello"


def test_unknownExpectation(server: Server) -> None:
    """RFC 9110 section 10.1.1: an expectation other than 100-continue MAY get a 417."""
    response, _ = server.exchange(withField(b"Expect: teapot"))
    assert response.status in (200, 417)
    server.assertServing()


# -- connection persistence -------------------------------------------------------------


def test_connectionCloseHonoured(server: Server) -> None:
    response, peer = server.exchange(withField(b"Connection: close"))
    assert response.status == 200
    assert response.headers.get("Connection", "").lower() == "close"
    assert peer.waitClosed() == b""


def test_http10ClosesByDefault(server: Server) -> None:
    response, peer = server.exchange(b"GET /echo HTTP/1.0\r\n\r\n")
    assert response.status == 200
    assert peer.waitClosed() == b""


def test_http10KeepAlive(server: Server) -> None:
    peer = server.connect()
    peer.send(b"GET /echo?1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    first = peer.response()
    assert first.headers.get("Connection", "").lower() == "keep-alive"
    peer.send(b"GET /echo?2 HTTP/1.0\r\n\r\n")
    second = peer.response()
    assert second.json()["clientPort"] == first.json()["clientPort"]
    peer.waitClosed()


def test_http10ResponseOfUnknownLengthIsNotChunked(server: Server) -> None:
    """HTTP/1.0 has no chunked coding: a body of unknown length ends with the close."""
    response, peer = server.exchange(b"GET /later?ms=0 HTTP/1.0\r\n\r\n")
    assert response.status == 200 and response.body == b"/later?0"
    assert "Transfer-Encoding" not in response.headers
    peer.waitClosed()


def test_http11ResponseOfUnknownLengthIsChunked(server: Server) -> None:
    peer = server.connect()
    peer.send(b"GET /later?ms=0 HTTP/1.1\r\n" + HOST + b"\r\n")
    response = peer.response()
    assert response.headers.get("Transfer-Encoding") == "chunked"
    assert response.body == b"/later?0"


# -- timeouts ----------------------------------------------------------------------------


SHORT = 0.6


@pytest.fixture
def headerDeadline(oneReactor: Any) -> Iterator[Server]:
    with serve(oneReactor, timeout=30, headerTimeout=SHORT, bodyTimeout=30) as served:
        yield served


@pytest.fixture
def bodyDeadline(oneReactor: Any) -> Iterator[Server]:
    with serve(oneReactor, timeout=30, headerTimeout=30, bodyTimeout=SHORT) as served:
        yield served


@pytest.fixture
def idleDeadline(oneReactor: Any) -> Iterator[Server]:
    with serve(oneReactor, timeout=SHORT, headerTimeout=30, bodyTimeout=30) as served:
        yield served


def timedOut(peer: Peer, reactor: Any, started: float) -> float:
    """Wait for the server to drop ``peer``; check it said 408 (or nothing); return when."""
    peer.waitClosed(timeout=5)
    elapsed = time.monotonic() - started
    received = peer.raw.received
    assert received == b"" or received.startswith(b"HTTP/1.1 408 "), received
    return elapsed


def test_slowlorisDroppedAfterTheHeaderTimeout(headerDeadline: Server) -> None:
    """A client trickling its head byte by byte is dropped when the header deadline
    passes, however steadily it trickles; another client is served meanwhile."""
    reactor = headerDeadline.reactor
    slow = headerDeadline.connect()
    head = b"GET /echo HTTP/1.1\r\n" + HOST + b"X-Slow: " + b"s" * 1000
    started = time.monotonic()
    sent = 0
    served = False
    while not slow.raw._poll() and time.monotonic() - started < 5:
        try:
            slow.raw.sock.send(head[sent : sent + 1])
        except OSError:
            break
        sent += 1
        spin(reactor, 0.03)
        if not served and time.monotonic() - started > 0.2:
            headerDeadline.assertServing()
            served = True
    elapsed = timedOut(slow, reactor, started)
    assert served
    assert 0.5 < elapsed < 4.0, elapsed
    assert sent < len(head)


def test_slowBodyDroppedAfterTheBodyTimeout(bodyDeadline: Server) -> None:
    peer = bodyDeadline.connect()
    peer.send(post(b"Content-Length: 10\r\n", body=b"abc"))
    started = time.monotonic()
    elapsed = timedOut(peer, bodyDeadline.reactor, started)
    assert 0.5 < elapsed < 4.0, elapsed
    bodyDeadline.assertServing()


def test_idleKeepAliveConnectionDropped(idleDeadline: Server) -> None:
    peer = idleDeadline.connect()
    peer.send(b"GET /echo HTTP/1.1\r\n" + HOST + b"\r\n")
    assert peer.response().status == 200
    started = time.monotonic()
    assert peer.waitClosed(timeout=5) == b""
    assert 0.5 < time.monotonic() - started < 4.0


def test_silentConnectionDropped(idleDeadline: Server) -> None:
    peer = idleDeadline.connect()
    started = time.monotonic()
    assert peer.waitClosed(timeout=5) == b""
    assert 0.5 < time.monotonic() - started < 4.0


def test_busyKeepAliveConnectionKept(idleDeadline: Server) -> None:
    """The idle deadline counts from the last response, not from the connection."""
    peer = idleDeadline.connect()
    ports = set()
    for n in range(6):
        peer.send(b"GET /echo?%d HTTP/1.1\r\n" % n + HOST + b"\r\n")
        ports.add(peer.response().json()["clientPort"])
        spin(idleDeadline.reactor, 0.25)
    assert len(ports) == 1 and not peer.closed


def test_slowResourceIsNotTimedOut(idleDeadline: Server) -> None:
    """The time a resource takes to answer is its own: no timeout applies."""
    peer = idleDeadline.connect()
    peer.send(b"GET /later?ms=1000 HTTP/1.1\r\n" + HOST + b"\r\n")
    response = peer.response(timeout=5)
    assert response.status == 200 and response.body == b"/later?1000"


# -- clients that leave ------------------------------------------------------------------


def test_clientGoneBeforeTheAnswer(server: Server, loggedErrors: list[dict[str, Any]]) -> None:
    """A client that closes while its response is pending fails notifyFinish, so the
    resource can stop; nothing is logged as an error."""
    peer = server.connect()
    peer.send(b"GET /later?ms=300 HTTP/1.1\r\n" + HOST + b"\r\n")
    spin(server.reactor, 0.1)
    peer.close()
    runUntil(server.reactor, lambda: server.later.gone == 1)
    spin(server.reactor, 0.3)
    server.assertServing()
    assert loggedErrors == []


def test_clientGoneInTheMiddleOfTheBody(server: Server, loggedErrors: list[dict[str, Any]]) -> None:
    """A half-sent body and a close: nothing is dispatched, nothing is logged."""
    peer = server.connect()
    peer.send(post(b"Content-Length: 10\r\n", body=b"abc"))
    spin(server.reactor, 0.1)
    peer.raw.sock.shutdown(socket.SHUT_WR)
    received = peer.waitClosed()
    assert b"200 OK" not in received
    server.assertServing()
    assert loggedErrors == []


def test_clientResetsWhileStreaming(server: Server, loggedErrors: list[dict[str, Any]]) -> None:
    """A reset (RST) in the middle of pipelined answers harms no one else."""
    peer = server.connect()
    peer.send(b"".join(b"GET /echo?%d HTTP/1.1\r\n" % n + HOST + b"\r\n" for n in range(50)))
    peer.raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    peer.close()
    spin(server.reactor, 0.2)
    server.assertServing()
    assert loggedErrors == []
