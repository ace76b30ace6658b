"""Helpers for tests that serve a real Site on 127.0.0.1 and ask it with http.client.

`oneReactor` is a fresh reactor per test (one kind: these tests are about torsion.web,
not the reactors, which their own conformance suite covers). `serve` listens with a
Site on an ephemeral port; `fetch` asks it from a thread with Python's http.client
while the test's thread runs the reactor, every wait bounded.
"""

from __future__ import annotations

import http.client
import socket
from dataclasses import dataclass, field
from typing import Any

from tests.internet import reactormixins
from tests.internet.reactormixins import inThread
from torsion.web.server import Site

oneReactor = reactormixins.oneReactor


def serve(reactor: Any, root: Any, **siteArguments: Any) -> tuple[int, Site]:
    """Listen on 127.0.0.1 with a Site of `root`; returns the port number and the site."""
    site = Site(root, reactor=reactor, **siteArguments)
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    return int(port.getHost().port), site


@dataclass
class Response:
    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes
    error: BaseException | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def request(
    port: int,
    method: str = "GET",
    path: str = "/",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 5.0,
) -> Response:
    """One request with http.client (blocking: call it through inThread or fetch)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        try:
            content = answer.read()
            error = None
        except http.client.IncompleteRead as short:
            content, error = short.partial, short
        return Response(answer.status, answer.reason, answer.headers, content, error)
    finally:
        connection.close()


def fetch(reactor: Any, port: int, path: str = "/", method: str = "GET", **kwargs: Any) -> Response:
    """`request` from a thread while `reactor` serves it."""
    return inThread(reactor, lambda: request(port, method, path, **kwargs))


def rawExchange(reactor: Any, port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send `data` on a plain socket and read until the server closes."""

    def talk() -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(data)
            chunks = []
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)

    return inThread(reactor, talk, timeout + 2)


def errorsLogged(events: list[dict[str, Any]]) -> str:
    """The text of the logged error events (their why and failure), for asserts."""
    parts = []
    for event in events:
        parts.append(str(event.get("why") or ""))
        failure = event.get("failure")
        if failure is not None:
            parts.append(failure.getTraceback())
    return "\n".join(parts)
