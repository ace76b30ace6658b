"""The proxies over real sockets: ReverseProxyResource in front of torsion and Python
backends, the forward Proxy driven by curl and raw sockets, ReverseProxy channels."""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
from http import server as stdlib_server
from typing import Any

import pytest

from tests.internet.reactormixins import inThread, runUntil, runUntilFired
from tests.web import webhelpers
from tests.web.webhelpers import freePort, listenSite, pythonServer
from torsion.web import http, proxy, resource, server
from torsion.web.client import (
    Agent,
    FileBodyProducer,
    HTTPConnectionPool,
    ResponseFailed,
    readBody,
)
from torsion.web.http_headers import Headers

webReactor = webhelpers.webReactor

CURL = shutil.which("curl")
needsCurl = pytest.mark.skipif(CURL is None, reason="curl is not installed (apt-get install curl)")


class Backend(resource.Resource):
    """Reports what reached it; a few paths behave specially."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Any] = []

    def render(self, request: Any) -> Any:
        self.requests.append(request)
        if request.path == b"/backend/missing":
            request.setResponseCode(404)
            request.setHeader(b"x-backend", b"yes")
            request.responseHeaders.setRawHeaders(b"set-cookie", [b"a=1", b"b=2"])
            request.setHeader(b"connection", b"x-secret")
            request.setHeader(b"x-secret", b"hop-by-hop")
            request.setHeader(b"keep-alive", b"timeout=5")
            return b"not here"
        if request.path == b"/backend/stream":
            request.setHeader(b"content-type", b"application/octet-stream")
            for i in range(100):
                request.write(b"%05d" % i * 200)
            request.finish()
            return server.NOT_DONE_YET
        headers = b"".join(
            b"%s: %s\n" % (name, b",".join(values))
            for name, values in sorted(request.requestHeaders._raw.items())
        )
        port = request.getClientAddress().port
        return b"%s %s port=%d\n%s\n%s" % (
            request.method,
            request.uri,
            port,
            headers,
            request.content.read(),
        )


def frontFor(reactor: Any, backendPort: int, **kwargs: Any) -> int:
    root = resource.Resource()
    root.putChild(
        b"api", proxy.ReverseProxyResource("127.0.0.1", backendPort, b"/backend", reactor, **kwargs)
    )
    return listenSite(reactor, root)


def fetch(
    reactor: Any, url: bytes, method: bytes = b"GET", pool: Any = None, **kwargs: Any
) -> tuple[Any, bytes]:
    agent = Agent(reactor, pool=pool)
    response = runUntilFired(reactor, agent.request(method, url, **kwargs))
    return response, runUntilFired(reactor, readBody(response))


# -- reverse proxy ----------------------------------------------------------------------


def test_reverseProxyForwardsPathQueryHeadersAndBody(webReactor: Any) -> None:
    backend = Backend()
    backendPort = listenSite(webReactor, backend)
    front = frontFor(webReactor, backendPort)
    producer = FileBodyProducer(io.BytesIO(b"the body"), webhelpers.cooperator(webReactor))
    headers = Headers(
        {
            b"x-custom": [b"1"],
            b"x-forwarded-for": [b"10.0.0.1"],
            b"connection": [b"x-drop-me"],
            b"x-drop-me": [b"secret"],
        }
    )
    response, body = fetch(
        webReactor,
        b"http://127.0.0.1:%d/api/a%%20b/c?q=1&r=2" % front,
        b"POST",
        headers=headers,
        bodyProducer=producer,
        pool=HTTPConnectionPool(webReactor),  # so that the Connection header is sent as given
    )
    assert response.code == 200
    lines = body.split(b"\n")
    assert lines[0].startswith(b"POST /backend/a%20b/c?q=1&r=2 ")
    seen = dict(line.split(b": ", 1) for line in lines[1:] if b": " in line)
    assert seen[b"host"] == b"127.0.0.1:%d" % backendPort
    assert seen[b"x-custom"] == b"1"
    assert seen[b"x-forwarded-for"] == b"10.0.0.1, 127.0.0.1"
    assert seen[b"x-forwarded-host"] == b"127.0.0.1:%d" % front
    assert seen[b"x-forwarded-proto"] == b"http"
    assert seen[b"content-length"] == b"8"
    assert b"x-drop-me" not in seen
    assert body.endswith(b"\nthe body")


def test_reverseProxyRelaysStatusAndHeadersButNotHopByHop(webReactor: Any) -> None:
    front = frontFor(webReactor, listenSite(webReactor, Backend()))
    response, body = fetch(webReactor, b"http://127.0.0.1:%d/api/missing" % front)
    assert (response.code, body) == (404, b"not here")
    assert response.headers.getRawHeaders(b"x-backend") == [b"yes"]
    assert response.headers.getRawHeaders(b"set-cookie") == [b"a=1", b"b=2"]
    assert not response.headers.hasHeader(b"x-secret")
    assert not response.headers.hasHeader(b"keep-alive")


def test_reverseProxyStreamsAChunkedBody(webReactor: Any) -> None:
    front = frontFor(webReactor, listenSite(webReactor, Backend()))
    response, body = fetch(webReactor, b"http://127.0.0.1:%d/api/stream" % front)
    assert body == b"".join(b"%05d" % i * 200 for i in range(100))
    assert response.headers.getRawHeaders(b"content-type") == [b"application/octet-stream"]


def test_reverseProxyHead(webReactor: Any) -> None:
    front = frontFor(webReactor, listenSite(webReactor, Backend()))
    response, body = fetch(webReactor, b"http://127.0.0.1:%d/api/x" % front, b"HEAD")
    assert response.code == 200 and body == b""


def test_reverseProxyReusesBackendConnections(webReactor: Any) -> None:
    backend = Backend()
    front = frontFor(webReactor, listenSite(webReactor, backend))
    for path in (b"/api/one", b"/api/two/deeper"):
        fetch(webReactor, b"http://127.0.0.1:%d%s" % (front, path))
    ports = {r.getClientAddress().port for r in backend.requests}
    assert len(backend.requests) == 2 and len(ports) == 1


def test_backendDownIs502(webReactor: Any) -> None:
    front = frontFor(webReactor, freePort())
    response, body = fetch(webReactor, b"http://127.0.0.1:%d/api/x" % front)
    assert response.code == 502 and b"did not answer" in body


def test_backendCutMidBodyClosesTheClientConnection(webReactor: Any) -> None:
    def cut(conn: socket.socket) -> None:
        webhelpers.readHead(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly this")

    with webhelpers.serveRaw(cut) as port:
        front = frontFor(webReactor, port)
        agent = Agent(webReactor)
        response = runUntilFired(
            webReactor, agent.request(b"GET", b"http://127.0.0.1:%d/api/" % front)
        )
        results: list[Any] = []
        readBody(response).addBoth(results.append)
        runUntil(webReactor, lambda: results)
    assert response.code == 200
    assert results[0].check(ResponseFailed)


def test_slowClientPausesTheBackend(webReactor: Any) -> None:
    produced = [0]
    total = 64 * 1024 * 1024
    lost: list[Any] = []

    class Huge(resource.Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> int:
            request.setHeader(b"content-length", b"%d" % total)
            request.notifyFinish().addErrback(lost.append)

            class Pull:
                def resumeProducing(self) -> None:
                    if produced[0] >= total:
                        request.unregisterProducer()
                        request.finish()
                        return
                    produced[0] += 65536
                    request.write(b"h" * 65536)

                def pauseProducing(self) -> None:
                    pass

                def stopProducing(self) -> None:
                    pass

            request.registerProducer(Pull(), False)
            return server.NOT_DONE_YET

    front = frontFor(webReactor, listenSite(webReactor, Huge()))
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    client.connect(("127.0.0.1", front))
    client.sendall(b"GET /api/ HTTP/1.1\r\nHost: x\r\n\r\n")
    for _ in range(60):
        webReactor.iterate(0.01)
    assert 0 < produced[0] < total // 4, produced[0]
    before = produced[0]
    for _ in range(20):
        webReactor.iterate(0.01)
    assert produced[0] - before < total // 8
    client.close()
    runUntil(webReactor, lambda: lost)  # the backend connection was dropped too


def test_reverseProxyToPythonHTTPServer(webReactor: Any) -> None:
    class Handler(stdlib_server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = f"{self.path} {self.headers['X-Forwarded-Proto']}".encode()
            self.send_response(203)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with pythonServer(Handler) as httpd:
        front = frontFor(webReactor, httpd.server_address[1], pool=HTTPConnectionPool(webReactor))
        response, body = fetch(webReactor, b"http://127.0.0.1:%d/api/py?x=1" % front)
    assert (response.code, body) == (203, b"/backend/py?x=1 http")


def test_reverseProxyChannel(webReactor: Any) -> None:
    backend = Backend()
    backendPort = listenSite(webReactor, backend)
    factory = http.HTTPFactory(reactor=webReactor)
    factory.protocol = proxy.ReverseProxy
    factory.host = "127.0.0.1"  # type: ignore[attr-defined]
    factory.port = backendPort  # type: ignore[attr-defined]
    front = webReactor.listenTCP(0, factory, interface="127.0.0.1").getHost().port
    response, body = fetch(webReactor, b"http://127.0.0.1:%d/backend/via-channel?z" % front)
    assert response.code == 200
    assert body.startswith(b"GET /backend/via-channel?z ")
    assert b"host: 127.0.0.1\n" in body


# -- forward proxy ---------------------------------------------------------------------------


def listenProxy(reactor: Any) -> int:
    factory = http.HTTPFactory(reactor=reactor)
    factory.protocol = proxy.Proxy
    return int(reactor.listenTCP(0, factory, interface="127.0.0.1").getHost().port)


def curl(reactor: Any, *args: str) -> subprocess.CompletedProcess[bytes]:
    assert CURL is not None
    command = [CURL, "-s", "-i", "--max-time", "10", *args]
    return inThread(reactor, lambda: subprocess.run(command, capture_output=True, timeout=15))


def rawExchange(reactor: Any, port: int, request: bytes) -> bytes:
    def talk() -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(request)
            answer = b""
            while True:
                more = s.recv(65536)
                if not more:
                    return answer
                answer += more

    result: bytes = inThread(reactor, talk)
    return result


@needsCurl
def test_curlThroughTheForwardProxy(webReactor: Any) -> None:
    backend = Backend()
    backendPort = listenSite(webReactor, backend)
    proxyPort = listenProxy(webReactor)
    done = curl(
        webReactor,
        "-x",
        f"http://127.0.0.1:{proxyPort}",
        "-H",
        "Proxy-Authorization: Basic c2VjcmV0",
        f"http://127.0.0.1:{backendPort}/backend/x?y=1",
    )
    assert done.returncode == 0, done.stderr
    head, _, body = done.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert body.startswith(b"GET /backend/x?y=1 ")
    assert b"host: 127.0.0.1:%d" % backendPort in body
    assert b"proxy-authorization" not in body.lower()


@needsCurl
def test_curlPostThroughTheForwardProxy(webReactor: Any) -> None:
    backendPort = listenSite(webReactor, Backend())
    proxyPort = listenProxy(webReactor)
    done = curl(
        webReactor,
        "-x",
        f"http://127.0.0.1:{proxyPort}",
        "-d",
        "posted=yes",
        f"http://127.0.0.1:{backendPort}/backend/form",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"HTTP/1.1 200")
    assert done.stdout.endswith(b"\nposted=yes")


@needsCurl
def test_forwardProxyToUnreachableServerIs502(webReactor: Any) -> None:
    proxyPort = listenProxy(webReactor)
    done = curl(
        webReactor, "-x", f"http://127.0.0.1:{proxyPort}", f"http://127.0.0.1:{freePort()}/"
    )
    assert done.stdout.startswith(b"HTTP/1.1 502 Bad Gateway")


def test_connectIsRefusedWith405(webReactor: Any) -> None:
    proxyPort = listenProxy(webReactor)
    answer = rawExchange(
        webReactor,
        proxyPort,
        b"CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\nConnection: close\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 405 Method Not Allowed")
    assert b"\r\nAllow: " in answer


@pytest.mark.parametrize(
    ("target", "status"),
    [
        (b"ftp://127.0.0.1/file", b"501"),
        (b"file:///etc/passwd", b"400"),
        (b"/origin-form", b"400"),
        (b"http://127.0.0.1:notaport/", b"400"),
    ],
)
def test_forwardProxyRefusesWhatItDoesNotForward(
    webReactor: Any, target: bytes, status: bytes
) -> None:
    proxyPort = listenProxy(webReactor)
    request = b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target
    answer = rawExchange(webReactor, proxyPort, request)
    assert answer.startswith(b"HTTP/1.1 " + status), answer


def test_proxyClientHooksCanBeOverridden(webReactor: Any) -> None:
    class Tagging(proxy.ProxyClient):
        def handleHeader(self, key: bytes, value: bytes) -> None:
            super().handleHeader(key, value)
            self.father.responseHeaders.setRawHeaders(b"x-via", [b"tagging"])

    class TaggingFactory(proxy.ProxyClientFactory):
        protocol = Tagging

    class TaggingRequest(proxy.ProxyRequest):
        protocols = {b"http": TaggingFactory}

    class TaggingProxy(proxy.Proxy):
        requestFactory = TaggingRequest

    backendPort = listenSite(webReactor, Backend())
    factory = http.HTTPFactory(reactor=webReactor)
    factory.protocol = TaggingProxy
    proxyPort = webReactor.listenTCP(0, factory, interface="127.0.0.1").getHost().port
    answer = rawExchange(
        webReactor,
        proxyPort,
        b"GET http://127.0.0.1:%d/backend/t HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Connection: close\r\n\r\n" % backendPort,
    )
    assert answer.startswith(b"HTTP/1.1 200 OK") and b"\r\nX-Via: tagging\r\n" in answer


def test_reverseProxyForwardsALargeBody(webReactor: Any) -> None:
    backend = Backend()
    front = frontFor(webReactor, listenSite(webReactor, backend))
    payload = bytes(range(256)) * 12000  # 3 MB: spooled to a file by the front server
    producer = FileBodyProducer(io.BytesIO(payload), webhelpers.cooperator(webReactor))
    response, body = fetch(
        webReactor, b"http://127.0.0.1:%d/api/upload" % front, b"PUT", bodyProducer=producer
    )
    assert response.code == 200
    assert body.endswith(b"\n" + payload)


class TunnellingRequest(proxy.ProxyRequest):
    allowConnect = True


class TunnellingProxy(proxy.Proxy):
    requestFactory = TunnellingRequest


@needsCurl
def test_connectTunnelWhenEnabled(webReactor: Any) -> None:
    backendPort = listenSite(webReactor, Backend())
    factory = http.HTTPFactory(reactor=webReactor)
    factory.protocol = TunnellingProxy
    proxyPort = webReactor.listenTCP(0, factory, interface="127.0.0.1").getHost().port
    done = curl(
        webReactor,
        "-p",
        "-x",
        f"http://127.0.0.1:{proxyPort}",
        f"http://127.0.0.1:{backendPort}/backend/tunnelled",
    )
    assert done.returncode == 0, done.stderr
    assert b"HTTP/1.1 200 Connection Established" in done.stdout
    assert b"GET /backend/tunnelled " in done.stdout


def test_connectTunnelErrors(webReactor: Any) -> None:
    factory = http.HTTPFactory(reactor=webReactor)
    factory.protocol = TunnellingProxy
    proxyPort = webReactor.listenTCP(0, factory, interface="127.0.0.1").getHost().port
    for target, status in ((b"127.0.0.1:%d" % freePort(), b"502"), (b"no-port", b"400")):
        request = b"CONNECT %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target
        answer = rawExchange(webReactor, proxyPort, request)
        assert answer.startswith(b"HTTP/1.1 " + status), answer


def test_slowBackendIs504(webReactor: Any) -> None:
    lost: list[Any] = []

    class Never(resource.Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> int:
            request.notifyFinish().addErrback(lost.append)
            return server.NOT_DONE_YET

    root = resource.Resource()
    slow = proxy.ReverseProxyResource("127.0.0.1", listenSite(webReactor, Never()), b"", webReactor)
    slow.backendTimeout = 0.3
    root.putChild(b"slow", slow)
    front = listenSite(webReactor, root)
    response, body = fetch(webReactor, b"http://127.0.0.1:%d/slow/below" % front)
    assert response.code == 504 and b"within 0.3 seconds" in body
    runUntil(webReactor, lambda: lost)  # the backend connection was dropped
