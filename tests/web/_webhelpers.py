"""Shared pieces of the torsion.web tests that talk to a real Site over 127.0.0.1.

The reactor under test runs in the test's own thread, so a blocking client (curl,
Chromium, http.client, urllib) runs beside it: in a worker thread or a child process,
while the test iterates the reactor until the client is done, each wait bounded.
Responses read off raw sockets are parsed by the standard library's http.client (a
parser that is not the server's own), fed from a buffer that says when it has not
received enough yet.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil
from torsion.web.resource import Resource
from torsion.web.server import Site

oneReactor = reactormixins.oneReactor

T = TypeVar("T")


def listenSite(reactor: Any, site: Site) -> int:
    """Serve ``site`` on an ephemeral port of 127.0.0.1; return the port number."""
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    return int(port.getHost().port)


def seenBy(request: Any) -> dict[str, Any]:
    """What a request looked like to the resource, as JSON-friendly text (ISO-8859-1)."""

    def text(value: bytes) -> str:
        return value.decode("latin-1")

    request.content.seek(0)
    return {
        "method": text(request.method),
        "uri": text(request.uri),
        "path": text(request.path),
        "hostname": text(request.getRequestHostname()),
        "clientPort": request.getClientAddress().port,
        "headers": [
            [text(name), text(value)]
            for name, values in request.requestHeaders.getAllRawHeaders()
            for value in values
        ],
        "body": text(request.content.read()),
    }


class Echo(Resource):
    """A leaf that answers any method with JSON of what it received (see ``seenBy``)."""

    isLeaf = True

    def render(self, request: Any) -> bytes:
        request.setHeader(b"content-type", b"application/json")
        return json.dumps(seenBy(request)).encode("ascii")


@dataclass
class Response:
    """One response as http.client parsed it off the wire."""

    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes
    version: int

    def json(self) -> Any:
        return json.loads(self.body)


class Incomplete(Exception):
    """The bytes received so far end before the response does."""


class _Received:
    """A file over received bytes that raises Incomplete instead of reporting a short read.

    Once the peer has closed, a short read is what there is (http.client then decides
    whether the message was cut short).
    """

    def __init__(self, data: bytes, closed: bool) -> None:
        self.data = data
        self.position = 0
        self.closed = closed

    def _take(self, end: int) -> bytes:
        piece = self.data[self.position : end]
        self.position = min(end, len(self.data))
        return piece

    def readline(self, limit: int = -1) -> bytes:
        end = self.data.find(b"\n", self.position)
        if end < 0:
            if not self.closed:
                raise Incomplete
            end = len(self.data)
        else:
            end += 1
        if limit >= 0:
            end = min(end, self.position + limit)
        return self._take(end)

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            if not self.closed:
                raise Incomplete
            return self._take(len(self.data))
        if self.position + size > len(self.data) and not self.closed:
            raise Incomplete
        return self._take(self.position + size)

    def readinto(self, buffer: Any) -> int:
        piece = self.read(len(buffer))
        buffer[: len(piece)] = piece
        return len(piece)

    def close(self) -> None:
        """http.client closes the file after each body; the next response shares it."""

    def flush(self) -> None:
        pass


class _Socket:
    def __init__(self, received: _Received) -> None:
        self.received = received

    def makefile(self, mode: str) -> _Received:
        return self.received


def parseResponses(
    data: bytes, closed: bool, methods: Sequence[str] = (), limit: int | None = None
) -> tuple[list[Response], int]:
    """Parse the complete responses in ``data`` (``limit`` at most); return them and the
    number of bytes they took.

    ``methods`` are the methods of the requests being answered, in order (a HEAD
    response has no body); missing ones are GET. A 1xx interim response is returned
    as a response of its own. Raises Incomplete when no complete response is there yet
    and the peer has not closed; the parse errors of http.client when the bytes are not
    HTTP.
    """
    received = _Received(data, closed)
    responses: list[Response] = []
    while received.position < len(data) and (limit is None or len(responses) < limit):
        start = received.position
        index = len(responses)
        try:
            response = _parseOne(received, methods[index] if index < len(methods) else "GET")
        except Incomplete:
            received.position = start
            break
        responses.append(response)
    if not responses and not closed:
        raise Incomplete
    return responses, received.position


def _parseOne(received: _Received, method: str) -> Response:
    line = received.readline(65537)
    if line.startswith(b"HTTP/") and line[9:10] == b"1" and line[10:12].isdigit():
        # http.client silently skips interim responses; report them instead.
        fields = http.client.parse_headers(received)  # type: ignore[arg-type]
        return Response(int(line[9:12]), line[13:].strip().decode("latin-1"), fields, b"", 11)
    received.position -= len(line)
    response = http.client.HTTPResponse(_Socket(received), method=method)  # type: ignore[arg-type]
    response.begin()
    body = response.read()
    return Response(response.status, response.reason, response.msg, body, response.version)


class Peer:
    """A raw TCP client of the Site, driven beside the reactor (never blocking it)."""

    def __init__(self, reactor: Any, port: int) -> None:
        from tests.protocols._rawsockets import RawClient

        self.reactor = reactor
        self.raw = RawClient(reactor, port)
        self.consumed = 0

    def send(self, data: bytes) -> None:
        """Send ``data``; a server that refuses a request may close before it is all sent."""
        try:
            self.raw.send(data)
        except (BrokenPipeError, ConnectionResetError):
            self.raw.closed = True

    @property
    def closed(self) -> bool:
        return bool(self.raw.closed)

    def responses(
        self, count: int, methods: Sequence[str] = (), timeout: float = 5.0
    ) -> list[Response]:
        """Wait until ``count`` more responses arrived (or the server closed); return them."""
        found: list[Response] = []

        def enough() -> bool:
            self.raw._poll()
            try:
                parsed, used = parseResponses(
                    self.raw.received[self.consumed :], self.raw.closed, methods, count
                )
            except Incomplete:
                return False
            if len(parsed) >= count or self.raw.closed:
                found[:] = parsed
                self.consumed += used
                return True
            return False

        runUntil(self.reactor, enough, timeout)
        return found

    def response(self, method: str = "GET", timeout: float = 5.0) -> Response:
        """Wait for the next response; fail the test if the server closed without one."""
        got = self.responses(1, [method], timeout)
        if not got:
            pytest.fail(f"the server closed the connection without answering: {self.rest()!r}")
        return got[0]

    def finalResponse(
        self, method: str = "GET", timeout: float = 5.0
    ) -> tuple[list[Response], Response]:
        """Wait for the next final (not 1xx) response; return the interim ones before it
        and it."""
        interim: list[Response] = []
        while True:
            response = self.response(method, timeout)
            if response.status >= 200:
                return interim, response
            interim.append(response)

    def rest(self) -> bytes:
        return self.raw.received[self.consumed :]

    def waitClosed(self, timeout: float = 5.0) -> bytes:
        """Wait until the server closes the connection; return what came after the last
        response taken."""
        self.raw.readUntilClosed(timeout)
        return self.rest()

    def close(self) -> None:
        self.raw.close()


def spin(reactor: Any, seconds: float) -> None:
    """Let ``reactor`` run for ``seconds`` (for tests of timeouts, which must pass)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        reactor.iterate(min(0.02, max(0.0, deadline - time.monotonic())))


def runBlocking(reactor: Any, function: Callable[[], T], timeout: float = 10.0) -> T:
    """Call blocking ``function`` in a thread while iterating ``reactor``."""
    result: T = reactormixins.inThread(reactor, function, timeout)
    return result


def runCommand(
    reactor: Any, argv: Sequence[str], timeout: float = 10.0, **kwargs: Any
) -> subprocess.CompletedProcess[bytes]:
    """Run a client program while the reactor serves it; fail the test if it hangs."""

    def run() -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            list(argv), capture_output=True, timeout=timeout, check=False, **kwargs
        )

    return runBlocking(reactor, run, timeout + 2)


# -- Chromium -----------------------------------------------------------------------

CHROMIUM = next(
    (
        found
        for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
        if (found := shutil.which(name)) is not None
    ),
    None,
)
"""The headless browser the browser tests drive (Debian's package is ``chromium``;
.ci/run installs it), or None where there is none."""

needsChromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
)


CHROMIUM_FLAGS = (
    "--headless",
    # Containers run tests as root, where Chromium's sandbox cannot start; the
    # browser only loads the test's own pages from 127.0.0.1.
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
)
"""The flags every test's headless Chromium runs with."""


def chromiumDOM(
    reactor: Any, url: str, profile: Path, budget: int = 5000, timeout: float = 45
) -> str:
    """Load ``url`` in headless Chromium while ``reactor`` serves it; return the DOM
    it shows after ``budget`` ms of virtual time (scripts and timers run in it).

    ``profile`` is a fresh directory for the browser's profile and home. The test
    fails with Chromium's stderr if it does not exit cleanly.
    """
    assert CHROMIUM is not None
    argv = [
        CHROMIUM,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile / 'profile'}",
        f"--virtual-time-budget={budget}",
        "--dump-dom",
        url,
    ]
    environment = dict(os.environ, HOME=str(profile))
    # Well under 15 s on a quiet machine; the bound is for a loaded one.
    done = runCommand(reactor, argv, timeout=timeout, env=environment)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")[-2000:]
    return done.stdout.decode("utf-8", "replace")
