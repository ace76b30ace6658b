"""The HTTP/2 connection in memory: the Request API over streams, limits, flow
control, resets, errors, timeouts and shutdown.

The client is the h2 library's own state machine (tests/web/h2/h2testing.py), the
transport a StringTransport and time a task.Clock.
"""

from __future__ import annotations

import io
from typing import Any

import h2.errors
import h2.events
import pytest
from h2.settings import SettingCodes
from hyperframe.frame import Frame

from torsion.internet import defer
from torsion.internet.error import ConnectionDone
from torsion.python.failure import Failure
from torsion.web import resource, server
from torsion.web._http11 import Limits

from .h2testing import H2Pair, h2


def rawFrames(data: bytes) -> list[Any]:
    """The frames in `data`, parsed without a state machine (h2's client stops at
    GOAWAY, where a real client goes on reading the streams it had opened)."""
    frames = []
    while data:
        frame, length = Frame.parse_frame_header(memoryview(data[:9]))
        frame.parse_body(memoryview(data[9 : 9 + length]))
        frames.append(frame)
        data = data[9 + length :]
    return frames


class Seen(resource.Resource):
    """Answers with what it saw of the request; remembers the request."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Any] = []

    def render(self, request: Any) -> bytes:
        self.requests.append(request)
        self.args = request.args
        body = request.content.read()
        return b"%s %s %s %d" % (request.method, request.uri, request.clientproto, len(body))


class Later(resource.Resource):
    """Leaves each request open (NOT_DONE_YET) for the test to answer."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Any] = []

    def render_GET(self, request: Any) -> int:
        self.requests.append(request)
        return server.NOT_DONE_YET


def test_a_get_is_served_over_a_stream_with_the_same_request_api() -> None:
    root = Seen()
    pair = H2Pair(root)
    response = pair.get(b"/a/b?x=1&y=2", headers=[(b"cookie", b"k=v"), (b"cookie", b"j=w")])
    assert response.status == 200
    assert response.body == b"GET /a/b?x=1&y=2 HTTP/2 0"
    assert response.ended
    assert response.headers[b"content-length"] == b"%d" % len(response.body)
    assert response.headers[b"server"].startswith(b"TorsionWeb/")
    request = root.requests[0]
    assert request.args == {b"x": [b"1"], b"y": [b"2"]}
    assert request.getHeader(b"host") == b"example.com"
    assert request.received_cookies == {b"k": b"v", b"j": b"w"}
    assert request.getRequestHostname() == b"example.com"
    assert request.isSecure() is False
    assert request.getRequestURI() == b"http://example.com/a/b?x=1&y=2"


def test_response_headers_and_cookies_are_sent_lowercase_without_connection_headers() -> None:
    class Headers(resource.Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            request.setHeader(b"X-Thing", b"1")
            request.setHeader(b"Connection", b"keep-alive")
            request.addCookie(b"a", b"b", path=b"/")
            request.setResponseCode(201)
            return b"made"

    response = H2Pair(Headers()).get(b"/")
    assert response.status == 201
    assert response.headers[b"x-thing"] == b"1"
    assert response.headers[b"set-cookie"] == b"a=b; Path=/"
    assert b"connection" not in response.headers


def test_sessions_work_over_http2() -> None:
    class Counter(resource.Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            session = request.getSession()
            session.count = getattr(session, "count", 0) + 1
            return b"%d" % session.count

    pair = H2Pair(Counter())
    first = pair.get(b"/")
    cookie = first.headers[b"set-cookie"].split(b";")[0]
    second = pair.get(b"/", headers=[(b"cookie", cookie)])
    assert (first.body, second.body) == (b"1", b"2")


def test_a_post_body_is_spooled_and_parsed_as_form_arguments() -> None:
    root = Seen()
    pair = H2Pair(root)
    body = b"name=ada&lang=en"
    response = pair.get(
        b"/form",
        method=b"POST",
        headers=[(b"content-type", b"application/x-www-form-urlencoded")],
        body=body,
    )
    assert response.body == b"POST /form HTTP/2 %d" % len(body)
    assert root.args == {b"name": [b"ada"], b"lang": [b"en"]}


def test_a_large_body_goes_to_a_file_and_the_window_is_reopened() -> None:
    root = Seen()
    pair = H2Pair(root)
    body = bytes(range(256)) * 8192  # 2 MiB: over the spool threshold and the window
    response = pair.get(b"/up", method=b"POST", body=body)
    assert response.body.endswith(b" %d" % len(body))
    content = root.requests[0].content
    assert not isinstance(content, io.BytesIO), "a 2 MiB body is spooled to a file"


def test_a_body_over_the_limit_is_refused_with_413() -> None:
    site = server.Site(Seen(), limits=Limits(maxBodySize=1000))
    pair = H2Pair(site=site)
    response = pair.get(b"/up", method=b"POST", body=b"x" * 5000)
    assert response.status == 413
    assert b"413" in response.body


def test_a_declared_length_over_the_limit_is_refused_before_the_body() -> None:
    site = server.Site(Seen(), limits=Limits(maxBodySize=1000))
    pair = H2Pair(site=site)
    streamID = pair.request(
        b"/up", method=b"POST", headers=[(b"content-length", b"5000")], endStream=False
    )
    assert pair.responses[streamID].status == 413


def test_too_many_header_fields_is_431_on_that_stream_only() -> None:
    site = server.Site(Seen(), limits=Limits(maxHeaderCount=5))
    pair = H2Pair(site=site)
    many = [(b"x-h%d" % i, b"v") for i in range(10)]
    assert pair.get(b"/", headers=many).status == 431
    assert pair.get(b"/").status == 200


def test_a_header_list_over_the_size_limit_ends_the_connection_with_goaway() -> None:
    site = server.Site(Seen(), limits=Limits(maxHeaderBytes=4096))
    pair = H2Pair(site=site)
    pair.request(b"/", headers=[(b"x-big", b"v" * 8000)])
    assert any(isinstance(e, h2.events.ConnectionTerminated) for e in pair.events)
    assert pair.transport.disconnecting


def test_not_done_yet_responses_are_written_later_and_streams_interleave() -> None:
    root = Later()
    pair = H2Pair(root)
    first = pair.request(b"/1")
    second = pair.request(b"/2")
    assert len(root.requests) == 2, "the second request does not wait for the first"
    root.requests[1].write(b"two")
    root.requests[1].finish()
    pair.exchange()
    assert pair.responses[second].body == b"two" and pair.responses[second].ended
    assert first not in pair.responses, "nothing was written on the first stream yet"
    root.requests[0].write(b"one, ")
    root.requests[0].write(b"later")
    root.requests[0].finish()
    pair.exchange()
    assert pair.responses[first].body == b"one, later"
    assert pair.responses[first].ended


def test_a_coroutine_render_is_served() -> None:
    class Async(resource.Resource):
        isLeaf = True

        async def render_GET(self, request: Any) -> bytes:
            await defer.succeed(None)
            return b"async " + request.clientproto

    assert H2Pair(Async()).get(b"/").body == b"async HTTP/2"


def test_a_failing_render_is_a_500_on_its_stream() -> None:
    class Broken(resource.Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            raise RuntimeError("boom")

    pair = H2Pair(Broken())
    response = pair.get(b"/")
    assert response.status == 500
    assert pair.get(b"/").status == 500, "the connection goes on serving"


def test_a_client_reset_fires_notify_finish_errback_and_stops_the_producer() -> None:
    root = Later()
    pair = H2Pair(root)
    streamID = pair.request(b"/slow")
    request = root.requests[0]
    failures: list[Any] = []
    request.notifyFinish().addErrback(failures.append)

    class Producer:
        stopped = False

        def pauseProducing(self) -> None:
            pass

        def resumeProducing(self) -> None:
            pass

        def stopProducing(self) -> None:
            self.stopped = True

    producer = Producer()
    request.registerProducer(producer, True)
    pair.client.reset_stream(streamID, h2.errors.ErrorCodes.CANCEL)
    pair.exchange()
    assert len(failures) == 1
    assert producer.stopped
    request.write(b"ignored")  # writing to a reset stream is harmless
    pair.request(b"/next")
    assert len(root.requests) == 2, "the connection goes on"


def test_connection_loss_fails_every_open_request() -> None:
    root = Later()
    pair = H2Pair(root)
    pair.request(b"/1")
    pair.request(b"/2")
    failures: list[Any] = []
    for request in root.requests:
        request.notifyFinish().addErrback(failures.append)
    pair.server.connectionLost(Failure(ConnectionDone()))
    assert len(failures) == 2


class Big(resource.Resource):
    """A streaming producer writing `size` bytes in 16 KiB pieces, pausing on demand."""

    isLeaf = True

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.pauses = 0
        self.request: Any = None
        self.sent = 0
        self.paused = False

    def render_GET(self, request: Any) -> int:
        self.request = request
        request.setHeader(b"content-length", b"%d" % self.size)
        request.registerProducer(self, True)
        if not self.paused:
            self.resumeProducing()
        return server.NOT_DONE_YET

    def pauseProducing(self) -> None:
        self.paused = True
        self.pauses += 1

    def resumeProducing(self) -> None:
        self.paused = False
        while not self.paused and self.sent < self.size:
            piece = min(16384, self.size - self.sent)
            self.request.write(b"x" * piece)
            self.sent += piece
        if self.sent >= self.size and self.request is not None:
            request, self.request = self.request, None
            request.unregisterProducer()
            request.finish()

    def stopProducing(self) -> None:
        self.request = None


def test_a_stream_window_pauses_the_producer_until_the_client_reads() -> None:
    root = Big(1024 * 1024)
    pair = H2Pair(root)
    pair.autoAcknowledge = False
    streamID = pair.request(b"/big")
    response = pair.responses[streamID]
    assert root.pauses >= 1, "the producer is paused when the window is exhausted"
    assert len(response.body) <= 65535, "no more than the client's window is sent"
    assert root.sent < root.size
    assert len(pair.server.streams[streamID]._pending) <= 64 * 1024 + 16384
    pair.autoAcknowledge = True
    for _ in range(200):
        if response.ended:
            break
        pair.client.acknowledge_received_data(len(response.body), streamID)
        pair.client.increment_flow_control_window(65535)
        pair.exchange()
    assert response.ended
    assert len(response.body) == 1024 * 1024


def test_a_paused_transport_pauses_every_stream_producer() -> None:
    root = Big(512 * 1024)
    pair = H2Pair(root, settings={SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1})
    pair.client.increment_flow_control_window(2**30)
    pair.exchange()
    pair.server.pauseProducing()
    streamID = pair.request(b"/big")
    assert root.paused
    assert len(pair.responses.get(streamID, type("R", (), {"body": b""})()).body) == 0
    pair.server.resumeProducing()
    pair.exchange()
    assert pair.responses[streamID].ended
    assert len(pair.responses[streamID].body) == 512 * 1024


def test_a_pull_producer_is_asked_for_more_as_data_leaves() -> None:
    class Pull(resource.Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> int:
            pieces = [b"a" * 1000, b"b" * 1000, b"c" * 1000]

            class Producer:
                def resumeProducing(self) -> None:
                    if pieces:
                        request.write(pieces.pop(0))
                    else:
                        request.unregisterProducer()
                        request.finish()

                def stopProducing(self) -> None:
                    pass

            request.registerProducer(Producer(), False)
            return server.NOT_DONE_YET

    pair = H2Pair(Pull())
    streamID = pair.request(b"/")
    for _ in range(10):
        pair.clock.advance(0)
        pair.exchange()
    assert pair.responses[streamID].body == b"a" * 1000 + b"b" * 1000 + b"c" * 1000
    assert pair.responses[streamID].ended


def test_max_concurrent_streams_is_advertised_as_100() -> None:
    pair = H2Pair(Seen())
    assert pair.client.remote_settings.max_concurrent_streams == 100


def test_opening_more_streams_than_allowed_ends_the_connection() -> None:
    root = Later()
    pair = H2Pair(root)
    for _ in range(100):
        pair.request(b"/")
    assert len(root.requests) == 100
    # The client's state machine enforces the limit too: go around it.
    pair.client.remote_settings[SettingCodes.MAX_CONCURRENT_STREAMS] = 1000
    pair.client.remote_settings.acknowledge()
    pair.request(b"/one-too-many")
    assert len(root.requests) == 100
    assert any(
        isinstance(e, (h2.events.StreamReset, h2.events.ConnectionTerminated)) for e in pair.events
    )


def test_priority_frames_are_ignored_safely() -> None:
    pair = H2Pair(Seen())
    streamID = pair.client.get_next_available_stream_id()
    pair.client.prioritize(streamID, weight=200, depends_on=0, exclusive=False)
    pair.exchange()
    pair.client.send_headers(
        streamID,
        [(b":method", b"GET"), (b":path", b"/p"), (b":scheme", b"http"), (b":authority", b"e")],
        end_stream=True,
        priority_weight=10,
        priority_depends_on=0,
    )
    pair.exchange()
    assert pair.responses[streamID].status == 200


def test_connect_is_refused_with_501() -> None:
    pair = H2Pair(Seen())
    streamID = pair.client.get_next_available_stream_id()
    pair.client.send_headers(
        streamID, [(b":method", b"CONNECT"), (b":authority", b"example.com:443")]
    )
    pair.exchange()
    assert pair.responses[streamID].status == 501


def test_garbage_after_the_preface_is_a_protocol_error_that_ends_only_that_connection() -> None:
    root = Seen()
    pair = H2Pair(root)
    other = H2Pair(site=pair.site)
    pair.server.dataReceived(
        b"\x00\x00\x04\x09\x00\x00\x00\x00\x01abcd"
    )  # CONTINUATION out of place
    assert pair.transport.disconnecting
    events = pair.client.receive_data(pair.transport.value())
    assert any(isinstance(e, h2.events.ConnectionTerminated) for e in events)
    assert other.get(b"/still").status == 200


def test_an_idle_connection_gets_goaway_and_is_closed() -> None:
    pair = H2Pair(Seen())
    pair.get(b"/")
    pair.clock.advance(59)
    assert not pair.transport.disconnecting
    pair.clock.advance(2)
    assert pair.transport.disconnecting
    events = pair.client.receive_data(pair.transport.value())
    assert any(isinstance(e, h2.events.ConnectionTerminated) for e in events)


def test_a_request_being_processed_keeps_the_connection_open() -> None:
    root = Later()
    pair = H2Pair(root)
    pair.request(b"/")
    pair.clock.advance(120)
    assert not pair.transport.disconnecting
    root.requests[0].finish()
    pair.exchange()
    pair.clock.advance(61)
    assert pair.transport.disconnecting


def test_graceful_shutdown_sends_goaway_and_finishes_requests_in_progress() -> None:
    root = Later()
    pair = H2Pair(root)
    streamID = pair.request(b"/")
    done = pair.server.gracefulShutdown()
    assert done is not None
    goaway = rawFrames(pair.transport.value())
    assert [type(f).__name__ for f in goaway] == ["GoAwayFrame"]
    assert goaway[0].last_stream_id == streamID and goaway[0].error_code == 0
    assert not pair.transport.disconnecting
    pair.transport.clear()
    root.requests[0].write(b"last words")
    root.requests[0].finish()
    frames = rawFrames(pair.transport.value())
    data = [f for f in frames if type(f).__name__ == "DataFrame"]
    assert b"".join(f.data for f in data) == b"last words"
    assert "END_STREAM" in data[-1].flags
    assert pair.transport.disconnecting
    fired: list[object] = []
    done.addCallback(fired.append)
    pair.server.connectionLost(Failure(ConnectionDone()))
    assert fired == [None]


def test_graceful_shutdown_gives_up_after_its_timeout() -> None:
    root = Later()
    pair = H2Pair(root)
    pair.request(b"/")
    failures: list[Any] = []
    root.requests[0].notifyFinish().addErrback(failures.append)
    pair.server.gracefulShutdown()
    pair.clock.advance(pair.server.shutdownTimeout + 1)
    assert pair.transport.disconnecting
    assert len(failures) == 1


def test_a_client_goaway_closes_once_open_streams_finish() -> None:
    root = Later()
    pair = H2Pair(root)
    pair.request(b"/")
    pair.client.close_connection()
    pair.exchange()
    assert not pair.transport.disconnecting
    root.requests[0].finish()
    assert pair.transport.disconnecting


def test_head_requests_get_headers_only() -> None:
    response = H2Pair(Seen()).get(b"/", method=b"HEAD")
    assert response.status == 200
    assert response.body == b""
    assert response.ended


def test_an_error_after_the_head_resets_the_stream() -> None:
    class HalfWay(resource.Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> Any:
            request.write(b"part")
            d: defer.Deferred[bytes] = defer.fail(RuntimeError("late failure"))
            return d

    pair = H2Pair(HalfWay())
    streamID = pair.request(b"/")
    assert pair.responses[streamID].reset == h2.errors.ErrorCodes.INTERNAL_ERROR
    assert not pair.transport.disconnecting


def test_site_http2_false_serves_http11_only() -> None:
    from tests.web.webtesting import MemorySite

    site = server.Site(Seen())
    site.http2 = False
    memory = MemorySite(site=site)
    memory.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    assert memory.transport.value().startswith(b"HTTP/1.1 505")


def test_a_preface_split_across_reads_is_recognised() -> None:
    from torsion.internet.testing import StringTransport

    site = server.Site(Seen())
    channel = site.buildProtocol(None)
    transport = StringTransport()
    transport.protocol = channel
    channel.makeConnection(transport)
    channel.dataReceived(b"PRI * HT")
    assert transport.protocol is channel
    channel.dataReceived(b"TP/2.0\r\n\r\nSM\r\n\r\n")
    assert type(transport.protocol).__name__ == "H2Connection"
    transport.protocol.connectionLost(Failure(ConnectionDone()))


def test_http11_requests_starting_like_the_preface_are_still_http11() -> None:
    from tests.web.webtesting import MemorySite

    memory = MemorySite(Seen())
    memory.send(b"P")
    memory.send(b"OST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi")
    (response,) = memory.responses()
    assert response.body == b"POST /x HTTP/1.1 2"


@pytest.mark.parametrize("size", [0, 1, 16384, 16385, 100_000])
def test_bodies_of_every_size_arrive_whole(size: int) -> None:
    class Sized(resource.Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            return b"z" * size

    response = H2Pair(Sized()).get(b"/")
    assert len(response.body) == size
    assert response.ended


def test_requests_sent_just_before_a_client_goaway_are_still_answered() -> None:
    root = Seen()
    pair = H2Pair(root)
    streamID = pair.client.get_next_available_stream_id()
    pair.client.send_headers(
        streamID,
        [(b":method", b"GET"), (b":path", b"/last"), (b":scheme", b"http"), (b":authority", b"e")],
        end_stream=True,
    )
    pair.client.close_connection()
    pair.transport.clear()
    pair.flush()  # HEADERS and GOAWAY arrive in one read
    frames = rawFrames(pair.transport.value())
    data = [f for f in frames if type(f).__name__ == "DataFrame" and f.stream_id == streamID]
    assert b"".join(f.data for f in data) == b"GET /last HTTP/2 0"
    assert "END_STREAM" in data[-1].flags
    assert pair.transport.disconnecting, "nothing is left to serve after the client's GOAWAY"


def test_static_files_and_ranges_are_served_over_http2(tmp_path: Any) -> None:
    from torsion.web import static

    data = bytes(range(256)) * 1200  # 300 KiB: several windows' worth
    (tmp_path / "file.bin").write_bytes(data)
    top = resource.Resource()
    top.putChild(b"files", static.File(str(tmp_path)))
    pair = H2Pair(top)
    streamID = pair.request(b"/files/file.bin")
    for _ in range(50):
        if pair.responses[streamID].ended:
            break
        pair.clock.advance(0)
        pair.exchange()
    response = pair.responses[streamID]
    assert response.status == 200 and response.body == data
    ranged = pair.get(b"/files/file.bin", headers=[(b"range", b"bytes=10-19")])
    for _ in range(10):
        pair.clock.advance(0)
        pair.exchange()
    assert ranged.status == 206 and ranged.body == data[10:20]


def test_without_h2_a_site_serves_http11_only_and_offers_no_h2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.web.webtesting import MemorySite
    from torsion.internet import ssl
    from torsion.web import _http2

    monkeypatch.setattr(server, "_h2Installed", lambda: False)
    monkeypatch.setattr(_http2, "H2_AVAILABLE", False)
    memory = MemorySite(Seen())
    memory.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    assert memory.transport.value().startswith(b"HTTP/1.1 505")
    options = ssl.CertificateOptions()
    assert _http2.offerHTTP2(options) is False
    assert options._alpn is None
