"""HTTPChannel in memory: ordering, keep-alive, 100-continue, refusals and timeouts.

Time is a task.Clock, the connection a StringTransport: every timeout is exercised
exactly, with no sleep.
"""

from __future__ import annotations

from typing import Any

from torsion.internet import defer
from torsion.web import resource, server
from torsion.web._http11 import Limits

from .webtesting import MemorySite


class Echo(resource.Resource):
    """Answers with the method, path and body it was sent."""

    isLeaf = True

    def render(self, request: Any) -> bytes:
        return b"%s %s %s" % (request.method, request.path, request.content.read())


class Later(resource.Resource):
    """Finishes each request when the test fires its Deferred."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[tuple[Any, defer.Deferred[None]]] = []

    def render_GET(self, request: Any) -> int:
        d: defer.Deferred[None] = defer.Deferred()
        d.addCallback(lambda _: (request.write(b"late " + request.path), request.finish()))
        self.pending.append((request, d))
        return server.NOT_DONE_YET


def test_keep_alive_serves_several_requests_on_one_connection() -> None:
    site = MemorySite(Echo())
    for path in (b"/a", b"/b", b"/c"):
        response = site.get(path)
        assert response.body == b"GET " + path + b" "
        assert response.header(b"connection") is None
    assert not site.transport.disconnecting


def test_pipelined_responses_leave_in_request_order() -> None:
    root = Later()
    site = MemorySite(root)
    site.send(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert len(root.pending) == 1, "the second request waits for the first response"
    root.pending[0][1].callback(None)
    assert len(root.pending) == 2
    root.pending[1][1].callback(None)
    bodies = [r.body for r in site.responses()]
    assert bodies == [b"late /1", b"late /2"]


def test_a_pipelining_client_is_paused_when_it_runs_far_ahead() -> None:
    root = Later()
    site = MemorySite(root)
    site.channel.maxPipelinedBytes = 100
    site.send(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n" + b"GET /n HTTP/1.1\r\nHost: x\r\n\r\n" * 10)
    assert site.transport.producerState == "paused"
    for _ in range(11):
        root.pending[-1][1].callback(None)
    assert site.transport.producerState == "producing"
    assert len(site.responses()) == 11


def test_http10_without_keep_alive_closes_after_the_response() -> None:
    site = MemorySite(Echo())
    response = site.request(b"GET /x HTTP/1.0\r\n\r\n")
    assert response.body == b"GET /x "
    assert response.header(b"connection") == b"close"
    assert site.transport.disconnecting


def test_http10_keep_alive_is_honoured_when_asked() -> None:
    site = MemorySite(Echo())
    response = site.request(b"GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert response.header(b"connection") == b"keep-alive"
    assert not site.transport.disconnecting


def test_connection_close_is_honoured() -> None:
    site = MemorySite(Echo())
    response = site.request(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert response.header(b"connection") == b"close"
    assert site.transport.disconnecting


def test_expect_100_continue_is_answered_before_the_body() -> None:
    site = MemorySite(Echo())
    site.send(b"PUT /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
    assert site.transport.value() == b"HTTP/1.1 100 Continue\r\n\r\n"
    site.send(b"data")
    interim, final = site.responses()
    assert interim.code == 100 and final.body == b"PUT /up data"


def test_expect_100_continue_with_a_body_over_the_limit_gets_413_and_no_100() -> None:
    site = MemorySite(Echo(), limits=Limits(maxBodySize=10))
    response = site.request(
        b"PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n"
    )
    assert response.code == 413
    assert b"100 Continue" not in site.transport.value()
    assert site.transport.disconnecting


def test_a_malformed_request_gets_400_and_the_connection_closes() -> None:
    site = MemorySite(Echo())
    response = site.request(b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n")
    assert response.code == 400
    assert response.header(b"connection") == b"close"
    assert b"obs-fold" in response.body
    assert site.transport.disconnecting
    site.transport.clear()
    site.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert site.transport.value() == b"", "nothing is read after a framing error"


def test_a_refusal_waits_for_the_response_before_it() -> None:
    root = Later()
    site = MemorySite(root)
    site.send(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/9.9\r\nHost: x\r\n\r\n")
    root.pending[0][1].callback(None)
    ok, refused = site.responses()
    assert ok.body == b"late /ok" and refused.code == 505


def test_chunked_request_body() -> None:
    site = MemorySite(Echo())
    response = site.request(
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    assert response.body == b"POST /c abcde"


def test_a_large_body_is_spooled_to_a_file() -> None:
    seen: dict[str, Any] = {}

    class Keep(resource.Resource):
        isLeaf = True

        def render_POST(self, request: Any) -> bytes:
            seen["content"] = request.content
            return b"%d" % len(request.content.read())

    site = MemorySite(Keep())
    server.Request.bodySpoolThreshold = 1000
    try:
        response = site.request(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000
        )
    finally:
        del server.Request.bodySpoolThreshold
    assert response.body == b"5000"
    assert hasattr(seen["content"], "fileno"), "the body went to a temporary file"


def test_idle_connections_are_closed_after_the_idle_timeout() -> None:
    site = MemorySite(Echo(), timeout=30)
    site.get(b"/")
    site.clock.advance(29)
    assert not site.transport.disconnecting
    site.get(b"/again")
    site.clock.advance(29)
    assert not site.transport.disconnecting, "a request restarts the idle time"
    site.clock.advance(2)
    assert site.transport.disconnecting


def test_a_slow_head_is_dropped_with_408_after_the_header_timeout() -> None:
    site = MemorySite(Echo(), headerTimeout=5)
    for piece in (b"GET / HT", b"TP/1.1\r\n", b"Host: x\r\n", b"X-Slow: 1\r\n"):
        site.send(piece)
        site.clock.advance(1.2)
    assert not site.transport.disconnecting
    site.clock.advance(1.5)
    (response,) = site.responses()
    assert response.code == 408
    assert site.transport.disconnecting


def test_a_stalled_body_is_dropped_after_the_body_timeout() -> None:
    site = MemorySite(Echo(), bodyTimeout=10)
    site.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    site.clock.advance(9)
    site.send(b"def")
    site.clock.advance(9)
    assert not site.transport.disconnecting, "body data restarts the body timeout"
    site.clock.advance(2)
    assert site.responses()[0].code == 408
    assert site.transport.disconnecting


def test_a_closing_connection_that_does_not_drain_is_aborted() -> None:
    site = MemorySite(Echo(), timeout=5)
    site.clock.advance(6)
    assert site.transport.disconnecting and not site.transport.aborted
    site.clock.advance(site.channel.abortTimeout + 1)
    assert site.transport.aborted


def test_requests_being_processed_are_not_timed_out() -> None:
    root = Later()
    site = MemorySite(root, timeout=5)
    site.get(b"/slow") if False else site.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    site.clock.advance(100)
    assert not site.transport.disconnecting
    root.pending[0][1].callback(None)
    site.clock.advance(4)
    assert not site.transport.disconnecting
    site.clock.advance(2)
    assert site.transport.disconnecting


def test_connection_lost_fails_notify_finish_and_stops_the_producer() -> None:
    root = Later()
    site = MemorySite(root)
    site.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    request, _ = root.pending[0]
    failures: list[Any] = []
    request.notifyFinish().addErrback(failures.append)

    class Producer:
        stopped = False

        def stopProducing(self) -> None:
            Producer.stopped = True

        def pauseProducing(self) -> None: ...

        def resumeProducing(self) -> None: ...

    request.registerProducer(Producer(), True)
    site.channel.connectionLost(ConnectionError("gone"))
    assert len(failures) == 1 and Producer.stopped
    request.write(b"ignored after the loss")


def test_an_exception_outside_render_gives_500_and_the_server_goes_on() -> None:
    class Broken(server.Request):
        def process(self) -> None:
            raise RuntimeError("boom")

    site = MemorySite(Echo(), requestFactory=Broken)
    response = site.get(b"/")
    assert response.code == 500
    assert site.transport.disconnecting
    errors = site.flushLoggedErrors(RuntimeError) if hasattr(site, "flushLoggedErrors") else None
    assert errors is None
