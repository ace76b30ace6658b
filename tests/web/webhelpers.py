"""Servers and reactors for the web client and proxy tests.

`webReactor` is one fresh epoll (or poll) reactor per test, for the many tests that are
about HTTP rather than about reactors (the conformance tests take `reactor`).
`serveRaw` runs a scripted TCP peer in a thread (for malformed or cut-short responses),
`pythonServer` Python's own http.server, so the client is tested against a server
that is not torsion's. Every thread is bounded by socket timeouts and joined.
"""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.internet.reactormixins import closeReactor, trackDescriptors
from torsion.internet import task
from torsion.web import server


@pytest.fixture
def webReactor() -> Iterator[Any]:
    try:
        from torsion.internet.epollreactor import EPollReactor as Reactor
    except ImportError:  # not Linux
        from torsion.internet.pollreactor import PollReactor as Reactor
    made = Reactor()
    trackDescriptors(made)
    try:
        yield made
    finally:
        closeReactor(made)


def listenSite(reactor: Any, root: Any, **kwargs: Any) -> int:
    """Serve `root` on 127.0.0.1; return the port."""
    port = reactor.listenTCP(0, server.Site(root, reactor=reactor, **kwargs), interface="127.0.0.1")
    return int(port.getHost().port)


def cooperator(reactor: Any) -> task.Cooperator:
    """A Cooperator that runs on `reactor` (FileBodyProducer's default uses the global one)."""
    return task.Cooperator(scheduler=lambda work: reactor.callLater(0, work))


def freePort() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def readHead(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        more = conn.recv(65536)
        if not more:
            break
        data += more
    return data


@contextmanager
def serveRaw(script: Callable[[socket.socket], None], connections: int = 1) -> Iterator[int]:
    """Accept `connections` connections on 127.0.0.1 and run `script(conn)` on each."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(10)
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            for _ in range(connections):
                conn, _ = listener.accept()
                with conn:
                    conn.settimeout(10)
                    script(conn)
        except BaseException as e:  # reported by the test
            errors.append(e)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        thread.join(10)
        listener.close()
    if errors and not isinstance(errors[0], (TimeoutError, OSError)):
        raise errors[0]


@contextmanager
def pythonServer(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[Any]:
    """Python's ThreadingHTTPServer on 127.0.0.1 with `handler`; yields the server."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)
