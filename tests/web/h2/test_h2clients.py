"""torsion.web over HTTP/2 with real clients on 127.0.0.1: curl and h2load.

curl --http2-prior-knowledge (h2c), curl --http2 over TLS (ALPN "h2", with a trustme
certificate), and h2load (nghttp2-client) with many concurrent streams; a large
download paced by flow control, and a POST body.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("h2", reason="HTTP/2 needs the h2 library: pip install torsion[http2]")

from tests.internet import reactormixins
from tests.internet.tlshelpers import serverOptions, theCA
from tests.web import _webhelpers
from tests.web._webhelpers import listenSite, runCommand
from torsion.web import resource, server

reactor = reactormixins.reactor
oneReactor = _webhelpers.oneReactor

CURL = shutil.which("curl")
H2LOAD = shutil.which("h2load")
needsCurl = pytest.mark.skipif(CURL is None, reason="curl is not installed (apt-get install curl)")
needsH2load = pytest.mark.skipif(
    H2LOAD is None, reason="h2load is not installed (apt-get install nghttp2-client)"
)


class Info(resource.Resource):
    """Says how it was asked: protocol, TLS, method, body length and digest."""

    isLeaf = True

    def render(self, request: Any) -> bytes:
        body = request.content.read()
        return b"%s secure=%r %s %d %s" % (
            request.clientproto,
            request.isSecure(),
            request.method,
            len(body),
            hashlib.sha256(body).hexdigest().encode(),
        )


class Stream(resource.Resource):
    """`size` bytes of a known pattern, from a streaming producer that counts pauses."""

    isLeaf = True

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.pauses = 0

    def render_GET(self, request: Any) -> int:
        owner = self
        request.setHeader(b"content-type", b"application/octet-stream")
        request.setHeader(b"content-length", b"%d" % self.size)

        class Producer:
            sent = 0
            paused = False

            def pauseProducing(self) -> None:
                self.paused = True
                owner.pauses += 1

            def resumeProducing(self) -> None:
                self.paused = False
                while not self.paused and self.sent < owner.size:
                    piece = min(65536, owner.size - self.sent)
                    request.write(pattern(self.sent, piece))
                    self.sent += piece
                if self.sent >= owner.size and not request.finished:
                    request.unregisterProducer()
                    request.finish()

            def stopProducing(self) -> None:
                self.sent = owner.size

        producer = Producer()
        request.registerProducer(producer, True)
        if not producer.paused:
            producer.resumeProducing()
        return server.NOT_DONE_YET


def pattern(offset: int, size: int) -> bytes:
    block = bytes(range(256)) * 256
    start = offset % len(block)
    data = (block[start:] + block * (size // len(block) + 2))[:size]
    return data


class Slow(resource.Resource):
    """Answers each request a little later, counting how many are open at once."""

    isLeaf = True

    def __init__(self, reactor: Any) -> None:
        super().__init__()
        self.reactor = reactor
        self.open = 0
        self.most = 0

    def render_GET(self, request: Any) -> int:
        self.open += 1
        self.most = max(self.most, self.open)

        def answer() -> None:
            self.open -= 1
            if not request._disconnected:
                request.writeWhole(b"late")

        self.reactor.callLater(0.02, answer)
        return server.NOT_DONE_YET


def curl(reactor: Any, *args: str, timeout: float = 20.0) -> tuple[bytes, str]:
    """Run curl; return the body and the HTTP version it used."""
    assert CURL is not None
    done = runCommand(
        reactor, [CURL, "-sS", "--max-time", str(timeout - 2), "-w", "\n%{http_version}", *args],
        timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    body, _, version = done.stdout.rpartition(b"\n")
    return body, version.decode()


def root(**children: resource.Resource) -> resource.Resource:
    top = resource.Resource()
    for name, child in children.items():
        top.putChild(name.encode(), child)
    return top


@needsCurl
def test_curl_with_prior_knowledge_speaks_h2c(reactor: Any) -> None:
    port = listenSite(reactor, server.Site(root(info=Info()), reactor=reactor))
    body, version = curl(reactor, "--http2-prior-knowledge", f"http://127.0.0.1:{port}/info")
    assert version == "2"
    assert body.startswith(b"HTTP/2 secure=False GET 0 ")


@needsCurl
def test_curl_over_tls_negotiates_h2_by_alpn(reactor: Any, tmp_path: Path) -> None:
    options = serverOptions(acceptableProtocols=[b"h2", b"http/1.1"])
    site = server.Site(root(info=Info()), reactor=reactor)
    listening = reactor.listenSSL(0, site, options, interface="127.0.0.1")
    theCA().cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    url = f"https://localhost:{listening.getHost().port}/info"
    resolve = f"localhost:{listening.getHost().port}:127.0.0.1"
    args = ["--cacert", str(tmp_path / "ca.pem"), "--resolve", resolve]
    body, version = curl(reactor, "--http2", *args, url)
    assert version == "2"
    assert body.startswith(b"HTTP/2 secure=True GET 0 ")
    body, version = curl(reactor, "--http1.1", *args, url)
    assert version == "1.1"
    assert body.startswith(b"HTTP/1.1 secure=True GET 0 ")


@needsCurl
def test_without_alpn_h2_curl_falls_back_to_http11(oneReactor: Any, tmp_path: Path) -> None:
    reactor = oneReactor
    site = server.Site(root(info=Info()), reactor=reactor)
    listening = reactor.listenSSL(0, site, serverOptions(), interface="127.0.0.1")
    theCA().cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    port = listening.getHost().port
    body, version = curl(
        reactor, "--http2", "--cacert", str(tmp_path / "ca.pem"),
        "--resolve", f"localhost:{port}:127.0.0.1", f"https://localhost:{port}/info",
    )  # fmt: skip
    assert version == "1.1"
    assert body.startswith(b"HTTP/1.1 secure=True")


@needsCurl
def test_curl_posts_a_large_body(oneReactor: Any, tmp_path: Path) -> None:
    reactor = oneReactor
    port = listenSite(reactor, server.Site(root(info=Info()), reactor=reactor))
    data = pattern(0, 3 * 1024 * 1024 + 7)
    (tmp_path / "body").write_bytes(data)
    body, version = curl(
        reactor, "--http2-prior-knowledge", "--data-binary", f"@{tmp_path / 'body'}",
        f"http://127.0.0.1:{port}/info",
    )  # fmt: skip
    assert version == "2"
    expected = b"HTTP/2 secure=False POST %d %s" % (
        len(data),
        hashlib.sha256(data).hexdigest().encode(),
    )
    assert body == expected


@needsCurl
def test_a_large_download_is_paced_by_flow_control(oneReactor: Any, tmp_path: Path) -> None:
    reactor = oneReactor
    size = 4 * 1024 * 1024
    big = Stream(size)
    port = listenSite(reactor, server.Site(root(big=big), reactor=reactor))
    out = tmp_path / "out"
    _, version = curl(
        reactor, "--http2-prior-knowledge", "--limit-rate", "3M", "-o", str(out),
        f"http://127.0.0.1:{port}/big",
    )  # fmt: skip
    assert version == "2"
    assert out.stat().st_size == size
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(pattern(0, size)).digest()


@needsH2load
def test_a_small_client_window_pauses_the_producer(oneReactor: Any) -> None:
    reactor = oneReactor
    size = 4 * 1024 * 1024
    big = Stream(size)
    port = listenSite(reactor, server.Site(root(big=big), reactor=reactor))
    assert H2LOAD is not None
    # -w/-W: stream and connection windows of 2**16 - 1 bytes, the protocol's default.
    done = runCommand(
        reactor, [H2LOAD, "-n", "2", "-c", "1", "-w", "16", "-W", "16",
                  f"http://127.0.0.1:{port}/big"],
        timeout=60,
    )  # fmt: skip
    out = done.stdout.decode()
    assert "2 succeeded" in out, out
    assert re.search(rf"traffic: .*\({2 * size}\) data", out), out
    assert big.pauses >= 2, "the client's window pauses the producer of each stream"


@needsH2load
def test_h2load_many_concurrent_streams(oneReactor: Any) -> None:
    reactor = oneReactor
    slow = Slow(reactor)
    port = listenSite(reactor, server.Site(root(slow=slow), reactor=reactor))
    assert H2LOAD is not None
    done = runCommand(
        reactor, [H2LOAD, "-n", "2000", "-c", "4", "-m", "100", f"http://127.0.0.1:{port}/slow"],
        timeout=60,
    )  # fmt: skip
    out = done.stdout.decode()
    assert done.returncode == 0, out + done.stderr.decode()
    assert re.search(r"requests: 2000 total, 2000 started, 2000 done, 2000 succeeded", out), out
    assert "status codes: 2000 2xx" in out
    assert slow.most >= 100, f"at most {slow.most} streams were open at once"


@needsH2load
def test_h2load_over_tls(oneReactor: Any) -> None:
    reactor = oneReactor
    options = serverOptions(acceptableProtocols=[b"h2", b"http/1.1"])
    site = server.Site(root(info=Info()), reactor=reactor)
    listening = reactor.listenSSL(0, site, options, interface="127.0.0.1")
    assert H2LOAD is not None
    done = runCommand(
        reactor,
        [H2LOAD, "-n", "500", "-c", "2", "-m", "10",
         f"https://127.0.0.1:{listening.getHost().port}/info"],
        timeout=60,
    )  # fmt: skip
    out = done.stdout.decode()
    assert "Application protocol: h2" in out, out
    assert "500 succeeded" in out, out
