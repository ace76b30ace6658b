"""torsion.web over real sockets on every reactor: keep-alive, pipelining, streaming.

These are conformance tests (the `reactor` fixture runs them on each reactor of the
machine, the asyncio ones included), so they are few and quick. The client is a plain
blocking socket in a thread, so nothing of torsion is on the client side.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil
from torsion.web import resource, server

from .webtesting import parseResponses

reactor = reactormixins.reactor


class Hello(resource.Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        return b"hello " + request.path


class Stream(resource.Resource):
    """Streams `total` bytes through a push producer that the transport paces."""

    isLeaf = True

    def __init__(self, total: int) -> None:
        super().__init__()
        self.total = total
        self.largestBuffer = 0

    def render_GET(self, request: Any) -> int:
        stream = self
        chunk = b"x" * 16384

        class Producer:
            sent = 0
            paused = False

            def resumeProducing(self) -> None:
                self.paused = False
                while not self.paused and self.sent < stream.total:
                    request.write(chunk)
                    self.sent += len(chunk)
                    buffered = (
                        request.channel.transport.bufferedSize()
                        if hasattr(request.channel.transport, "bufferedSize")
                        else 0
                    )
                    stream.largestBuffer = max(stream.largestBuffer, buffered)
                if self.sent >= stream.total:
                    request.unregisterProducer()
                    request.finish()

            def pauseProducing(self) -> None:
                self.paused = True

            def stopProducing(self) -> None:
                self.paused = True

        producer = Producer()
        request.setHeader(b"content-length", b"%d" % self.total)
        request.registerProducer(producer, True)
        producer.resumeProducing()
        return server.NOT_DONE_YET


def exchange(port: int, data: bytes, expectBytes: int, slowly: bool = False) -> bytes:
    """Send `data`, then read until `expectBytes` bytes came or the server closed."""
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(data)
        while len(received) < expectBytes:
            piece = client.recv(16384 if slowly else 65536)
            if not piece:
                break
            received += piece
            if slowly:
                threading.Event().wait(0.0002)
    return bytes(received)


def serve(reactor: Any, root: Any, data: bytes, expectBytes: int, slowly: bool = False) -> bytes:
    port = reactor.listenTCP(0, server.Site(root), interface="127.0.0.1")
    result: list[bytes] = []
    worker = threading.Thread(
        target=lambda: result.append(exchange(port.getHost().port, data, expectBytes, slowly))
    )
    worker.start()
    try:
        runUntil(reactor, lambda: bool(result), timeout=20)
    finally:
        worker.join(10)
        port.stopListening()
    return result[0]


def test_pipelined_keep_alive_requests(reactor: Any) -> None:
    requests = b"".join(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(5))
    raw = serve(
        reactor,
        Hello(),
        requests + b"GET /end HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        10**6,
    )
    bodies = [r.body for r in parseResponses(raw)]
    assert bodies == [b"hello /%d" % i for i in range(5)] + [b"hello /end"]


def test_a_streamed_response_is_paced_by_a_slow_reader(reactor: Any) -> None:
    total = 4 * 1024 * 1024
    stream = Stream(total)
    request = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    raw = serve(reactor, stream, request, total + 10**4, slowly=True)
    (response,) = parseResponses(raw)
    assert len(response.body) == total
    assert stream.largestBuffer < total // 4, "the producer was paused instead of buffering"
