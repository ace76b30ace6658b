"""torsion.web's server against real HTTP clients: curl, http.client and urllib.

Each test serves a Site on 127.0.0.1 from the test's reactor and runs the client beside
it (curl as a child process, the standard library's clients in a worker thread), so
what is checked is what those clients actually send and accept: connection reuse
(counted on the server's side), chunked uploads, Expect: 100-continue, HEAD, a large
streamed response, byte ranges (with torsion.web.static) and a cookie session.
Hostile and malformed input is in test_smuggling.py; a browser in test_chromium.py.
"""

from __future__ import annotations

import hashlib
import http.client
import http.cookiejar
import json
import shutil
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from zope.interface import implementer

from tests.web import _webhelpers
from tests.web._webhelpers import Echo, listenSite, runBlocking, runCommand
from torsion.internet.interfaces import IPullProducer
from torsion.web.resource import Resource
from torsion.web.server import NOT_DONE_YET, Site

oneReactor = _webhelpers.oneReactor

CURL = shutil.which("curl")
needsCurl = pytest.mark.skipif(CURL is None, reason="curl is not installed (apt-get install curl)")

STREAMED_SIZE = 8 * 1024 * 1024
STREAMED_PIECE = 64 * 1024


class Digest(Resource):
    """A leaf that answers with the length and SHA-256 of the request body, and how it
    was framed."""

    isLeaf = True

    def render_POST(self, request: Any) -> bytes:
        request.content.seek(0)
        body = request.content.read()
        return json.dumps(
            {
                "length": len(body),
                "sha256": hashlib.sha256(body).hexdigest(),
                "transferEncoding": (request.getHeader(b"transfer-encoding") or b"").decode(),
                "contentLength": (request.getHeader(b"content-length") or b"").decode(),
                "clientPort": request.getClientAddress().port,
            }
        ).encode()

    render_PUT = render_POST


def streamedPiece(index: int) -> bytes:
    return bytes([index % 251]) * STREAMED_PIECE


@implementer(IPullProducer)
class Streamer:
    """Writes STREAMED_SIZE bytes one piece each time the transport asks for more."""

    def __init__(self, request: Any) -> None:
        self.request = request
        self.index = 0
        self.stopped = False

    def resumeProducing(self) -> None:
        if self.stopped:
            return
        self.request.write(streamedPiece(self.index))
        self.index += 1
        if self.index * STREAMED_PIECE >= STREAMED_SIZE:
            self.stopped = True
            self.request.unregisterProducer()
            self.request.finish()

    def stopProducing(self) -> None:
        self.stopped = True


class Big(Resource):
    """A leaf whose response is streamed from a pull producer, length unannounced."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.producers: list[Streamer] = []

    def render_GET(self, request: Any) -> object:
        producer = Streamer(request)
        self.producers.append(producer)
        request.registerProducer(producer, False)
        return NOT_DONE_YET


class Visits(Resource):
    """Counts each session's requests; the count is kept by the server's session."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[bytes, int] = {}

    def render_GET(self, request: Any) -> bytes:
        session = request.getSession()
        count = self.counts.get(session.uid, 0) + 1
        self.counts[session.uid] = count
        return b"%d" % count


class Served:
    """A Site of the resources above, counting the connections it accepts."""

    def __init__(self, reactor: Any) -> None:
        root = Resource()
        root.putChild(b"echo", Echo())
        root.putChild(b"digest", Digest())
        self.big = Big()
        root.putChild(b"big", self.big)
        self.visits = Visits()
        root.putChild(b"visits", self.visits)
        self.root = root
        self.reactor = reactor
        self.site = Site(root, reactor=reactor)
        self.connections = 0
        build = self.site.buildProtocol

        def counting(address: Any) -> Any:
            self.connections += 1
            return build(address)

        self.site.buildProtocol = counting  # type: ignore[method-assign]
        self.port = listenSite(reactor, self.site)
        self.url = f"http://127.0.0.1:{self.port}"

    def curl(self, *arguments: str, timeout: float = 10.0) -> Any:
        assert CURL is not None
        return runCommand(
            self.reactor,
            [CURL, "--silent", "--show-error", "--max-time", str(timeout), *arguments],
            timeout + 2,
        )


@pytest.fixture
def served(oneReactor: Any) -> Served:
    return Served(oneReactor)


def jsonDocuments(text: bytes) -> list[Any]:
    decoder = json.JSONDecoder()
    documents: list[Any] = []
    rest = text.decode().strip()
    while rest:
        document, end = decoder.raw_decode(rest)
        documents.append(document)
        rest = rest[end:].strip()
    return documents


# -- curl -------------------------------------------------------------------------------


@needsCurl
def test_curlKeepsTheConnectionAcrossTwoURLs(served: Served) -> None:
    done = served.curl("--http1.1", f"{served.url}/echo?first", f"{served.url}/echo?second")
    assert done.returncode == 0, done.stderr
    first, second = jsonDocuments(done.stdout)
    assert (first["uri"], second["uri"]) == ("/echo?first", "/echo?second")
    assert first["clientPort"] == second["clientPort"]
    assert served.connections == 1


@needsCurl
def test_curlChunkedUpload(served: Served, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 1200 + b"the end"
    upload = tmp_path / "upload.bin"
    upload.write_bytes(payload)
    done = served.curl(
        "--http1.1",
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        f"@{upload}",
        f"{served.url}/digest",
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["transferEncoding"] == "chunked" and seen["contentLength"] == ""
    assert (seen["length"], seen["sha256"]) == (len(payload), hashlib.sha256(payload).hexdigest())


@needsCurl
def test_curlExpectContinue(served: Served, tmp_path: Path) -> None:
    """curl waits for the 100 Continue before it sends the body (a long wait here
    would mean the server never sent it)."""
    payload = b"x" * 300_000
    upload = tmp_path / "upload.bin"
    upload.write_bytes(payload)
    done = served.curl(
        "--http1.1",
        "--verbose",
        "--expect100-timeout",
        "8",
        "-H",
        "Expect: 100-continue",
        "--data-binary",
        f"@{upload}",
        f"{served.url}/digest",
    )
    assert done.returncode == 0, done.stderr
    assert b"< HTTP/1.1 100 Continue" in done.stderr
    assert json.loads(done.stdout)["length"] == len(payload)


@needsCurl
def test_curlHead(served: Served) -> None:
    done = served.curl("--http1.1", "--head", f"{served.url}/echo")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"HTTP/1.1 200 ")
    assert done.stdout.endswith(b"\r\n\r\n")


@needsCurl
def test_curlByteRanges(served: Served, tmp_path: Path) -> None:
    static = pytest.importorskip(
        "torsion.web.static", reason="torsion.web.static (static.File) is not written yet"
    )
    content = bytes(range(256)) * 40
    (tmp_path / "file.bin").write_bytes(content)
    served.root.putChild(b"files", static.File(str(tmp_path)))
    url = f"{served.url}/files/file.bin"
    done = served.curl("--http1.1", "--include", "--range", "10-19", url)
    assert done.returncode == 0, done.stderr
    head, _, body = done.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 206 ")
    assert b"content-range: bytes 10-19/%d" % len(content) in head.lower()
    assert body == content[10:20]
    suffix = served.curl("--http1.1", "--range", "-5", url)
    assert suffix.stdout == content[-5:]
    unsatisfiable = served.curl("--http1.1", "--include", "--range", "999999-", url)
    assert unsatisfiable.stdout.startswith(b"HTTP/1.1 416 ")


# -- http.client -----------------------------------------------------------------------


def clientConnection(served: Served) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)


def test_httpClientKeepAlive(served: Served) -> None:
    def talk() -> list[Any]:
        connection = clientConnection(served)
        seen = []
        for query in ("a", "b", "c"):
            connection.request("GET", f"/echo?{query}")
            response = connection.getresponse()
            assert response.status == 200 and not response.will_close
            seen.append(json.loads(response.read()))
        connection.close()
        return seen

    seen = runBlocking(served.reactor, talk)
    assert [s["uri"] for s in seen] == ["/echo?a", "/echo?b", "/echo?c"]
    assert len({s["clientPort"] for s in seen}) == 1
    assert served.connections == 1


def test_httpClientChunkedBody(served: Served) -> None:
    pieces = [b"first ", b"x" * 100_000, b" last"]
    body = b"".join(pieces)

    def talk() -> Any:
        connection = clientConnection(served)
        connection.request("POST", "/digest", body=iter(pieces), encode_chunked=True)
        response = connection.getresponse()
        seen = json.loads(response.read())
        # The connection is still good after a chunked upload.
        connection.request("GET", "/echo")
        seen["next"] = connection.getresponse().status
        connection.close()
        return seen

    seen = runBlocking(served.reactor, talk)
    assert seen["transferEncoding"] == "chunked"
    assert (seen["length"], seen["sha256"]) == (len(body), hashlib.sha256(body).hexdigest())
    assert seen["next"] == 200


def test_httpClientHead(served: Served) -> None:
    def talk() -> tuple[int, bytes, int, bytes]:
        connection = clientConnection(served)
        connection.request("HEAD", "/echo")
        head = connection.getresponse()
        headBody = head.read()
        connection.request("GET", "/echo")
        get = connection.getresponse()
        return head.status, headBody, get.status, get.read()

    headStatus, headBody, getStatus, getBody = runBlocking(served.reactor, talk)
    assert (headStatus, headBody, getStatus) == (200, b"", 200)
    assert json.loads(getBody)["method"] == "GET"


def test_httpClientLargeStreamedResponse(served: Served) -> None:
    """8 MiB pulled from a producer reach the client whole, read as they come."""

    def talk() -> tuple[int, str | None, int, str]:
        connection = clientConnection(served)
        connection.request("GET", "/big")
        response = connection.getresponse()
        digest = hashlib.sha256()
        total = 0
        while piece := response.read(100_000):
            digest.update(piece)
            total += len(piece)
        return response.status, response.getheader("Transfer-Encoding"), total, digest.hexdigest()

    status, encoding, total, digest = runBlocking(served.reactor, talk, timeout=30)
    expected = hashlib.sha256()
    for index in range(STREAMED_SIZE // STREAMED_PIECE):
        expected.update(streamedPiece(index))
    assert status == 200 and encoding == "chunked"
    assert (total, digest) == (STREAMED_SIZE, expected.hexdigest())


# -- urllib with a cookie jar --------------------------------------------------------


def test_urllibCookieJarKeepsTheSession(served: Served) -> None:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    stranger = urllib.request.build_opener()

    def visit(using: urllib.request.OpenerDirector) -> bytes:
        with using.open(f"{served.url}/visits", timeout=10) as response:
            return bytes(response.read())

    counts = [runBlocking(served.reactor, lambda: visit(opener)) for _ in range(3)]
    assert counts == [b"1", b"2", b"3"]
    assert len(jar) == 1
    # Without the cookie, a client is a new session.
    assert runBlocking(served.reactor, lambda: visit(stranger)) == b"1"
    assert len(served.visits.counts) == 2
