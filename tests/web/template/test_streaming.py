"""A 10 MB page streams to a slow client in bounded memory, on every reactor.

The page (rows made by a generator in a renderer) goes over a real socket to a client
with a small receive buffer that reads a little per reactor pass. tracemalloc's peak
over the whole response (server and client in this process) must stay far below the
page's size: the flattener is paused whenever the connection's buffer is full, so
only about a chunk of the page exists at any time. The body is checked whole (its
SHA-256 against the same page flattened in memory).
"""

from __future__ import annotations

import hashlib
import socket
import time
import tracemalloc
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.web._webhelpers import listenSite
from torsion.web.resource import Resource
from torsion.web.server import Site
from torsion.web.template import (
    Element,
    Tag,
    XMLString,
    flattenString,
    renderElement,
    renderer,
)

reactor = reactormixins.reactor

ROWS = 7_500
ROW_TEXT = "streamed & escaped <text> " * 40  # about 1.4 KiB per row once escaped
PAGE_SIZE = 10 * 2**20
PEAK_LIMIT = 2 * 2**20


class BigPage(Element):
    loader = XMLString(
        '<html xmlns:t="http://twistedmatrix.com/ns/twisted.web.template/0.1"><body>'
        '<table t:render="rows"><tr><td><t:slot name="n"/></td><td><t:slot name="text"/>'
        "</td></tr></table></body></html>"
    )

    def __init__(self) -> None:
        super().__init__()
        self.made = 0

    @renderer
    def rows(self, request: Any, tag: Tag) -> Any:
        row = tag.children[0]

        def generate() -> Any:
            for n in range(ROWS):
                self.made += 1
                yield row.clone().fillSlots(n=str(n), text=ROW_TEXT)

        tag.children = [generate()]
        return tag


class Page(Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> Any:
        return renderElement(request, BigPage())


def expectedPage() -> tuple[int, str]:
    outcome: list[Any] = []
    flattenString(None, BigPage()).addBoth(outcome.append)
    body = b"<!DOCTYPE html>\n" + outcome[0]
    return len(body), hashlib.sha256(body).hexdigest()


@pytest.fixture(scope="module")
def expected() -> tuple[int, str]:
    return expectedPage()


def test_pageIsBigEnough(expected: tuple[int, str]) -> None:
    assert expected[0] > PAGE_SIZE


def test_bigPageStreamsInBoundedMemory(reactor: Any, expected: tuple[int, str]) -> None:
    port = listenSite(reactor, Site(Page()))
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
    client.connect(("127.0.0.1", port))
    client.setblocking(False)
    # HTTP/1.0: no chunking, the body ends when the server closes.
    client.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
    digest = hashlib.sha256()
    head = b""
    inHead = True
    bodyLength = 0
    closed = False
    passes = 0
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        deadline = time.monotonic() + 60
        while not closed:
            assert time.monotonic() < deadline, "the page did not arrive in time"
            reactor.iterate(0)
            passes += 1
            try:
                chunk = client.recv(16384)
            except BlockingIOError:
                continue
            if not chunk:
                closed = True
                break
            if inHead:
                head += chunk
                if b"\r\n\r\n" not in head:
                    continue
                head, _, chunk = head.partition(b"\r\n\r\n")
                inHead = False
            bodyLength += len(chunk)
            digest.update(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        client.close()
    assert head.startswith(b"HTTP/1.0 200") or head.startswith(b"HTTP/1.1 200"), head
    assert (bodyLength, digest.hexdigest()) == expected
    assert passes > 50, "the page was not spread over many reactor passes"
    assert peak < PEAK_LIMIT, f"{peak} bytes at the peak for a {bodyLength}-byte page"
