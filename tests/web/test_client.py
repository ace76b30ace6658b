"""The HTTP client over real sockets: Agent and its pool against torsion Sites, Python's
http.server and scripted peers; HTTPS with verification; redirects, gzip, cookies,
proxies, timeouts and the ways an exchange fails."""

from __future__ import annotations

import functools
import gzip
import http.cookiejar
import io
import re
import socket
import time
import zlib
from http import server as stdlib_server
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zope.interface.verify import verifyObject

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from tests.internet.tlshelpers import (
    OPENSSL,
    Child,
    caCertificate,
    needsOpenSSL,
    pythonServerContext,
    serverOptions,
    theCA,
    writeFiles,
)
from tests.web import webhelpers
from tests.web.webhelpers import (
    cooperator,
    freePort,
    listenSite,
    pythonServer,
    readHead,
    serveRaw,
)
from torsion.internet import defer
from torsion.internet import ssl as tssl
from torsion.internet.defer import CancelledError, Deferred
from torsion.internet.error import (
    CertificateVerificationError,
    ConnectionRefusedError,
    TimeoutError,
)
from torsion.internet.protocol import Protocol
from torsion.python.failure import Failure
from torsion.web import client, error, proxy, resource, server
from torsion.web import http as webhttp
from torsion.web._http11 import ParseError
from torsion.web.client import (
    URI,
    Agent,
    BrowserLikePolicyForHTTPS,
    BrowserLikeRedirectAgent,
    ContentDecoderAgent,
    CookieAgent,
    FileBodyProducer,
    GzipDecoder,
    HTTPConnectionPool,
    PartialDownloadError,
    ProxyAgent,
    RedirectAgent,
    ResponseBodyTooLarge,
    ResponseFailed,
    ResponseNeverReceived,
    readBody,
)
from torsion.web.http_headers import Headers
from torsion.web.iweb import UNKNOWN_LENGTH, IAgent, IPolicyForHTTPS

reactor = reactormixins.reactor
webReactor = webhelpers.webReactor


class Echo(resource.Resource):
    """Answers with the method, target, selected headers and body it got."""

    isLeaf = True

    def render(self, request: Any) -> bytes:
        request.setHeader(b"x-client-port", str(getattr(request.getClientAddress(), "port", 0)))
        seen = [request.method, request.uri]
        for name in (b"host", b"cookie", b"authorization", b"accept-encoding", b"x-test"):
            value = request.getHeader(name)
            if value is not None:
                seen.append(name + b"=" + value)
        return b" ".join(seen) + b"\n" + request.content.read()


def get(reactor: Any, agent: Any, url: bytes, **kwargs: Any) -> tuple[Any, bytes]:
    response = runUntilFired(reactor, agent.request(b"GET", url, **kwargs))
    return response, runUntilFired(reactor, readBody(response))


def failureOf(reactor: Any, d: Deferred[Any], timeout: float = 5.0) -> Failure:
    results: list[Any] = []
    d.addBoth(results.append)
    runUntil(reactor, lambda: results, timeout)
    assert isinstance(results[0], Failure), results[0]
    return results[0]


# -- URI -------------------------------------------------------------------------------


def test_uriParsing() -> None:
    uri = URI.fromBytes(b"http://Example.com:8080/a/b;p?x=1&y=2#frag")
    assert (uri.scheme, uri.host, uri.port, uri.path) == (b"http", b"example.com", 8080, b"/a/b")
    assert (uri.params, uri.query, uri.fragment) == (b"p", b"x=1&y=2", b"frag")
    assert uri.originForm == b"/a/b;p?x=1&y=2"
    assert uri.toBytes() == b"http://Example.com:8080/a/b;p?x=1&y=2#frag"
    assert URI.fromBytes(b"https://h").port == 443
    assert URI.fromBytes(b"https://h").originForm == b"/"
    assert URI.fromBytes("http://h?q").originForm == b"/?q"
    v6 = URI.fromBytes(b"http://[::1]:81/")
    assert (v6.host, v6.port, v6.netloc) == (b"::1", 81, b"[::1]:81")
    assert URI.fromBytes(b"http://u:p@h:1/").host == b"h"


@pytest.mark.parametrize(
    "bad",
    [
        b"/relative",
        b"http://",
        b"http://h:99999/",
        b"http://h:x/",
        b"http://[::1/",
        b"http://h\r\nX-Injected: 1/",
        b"http://a b/",
    ],
)
def test_uriRejectsWhatIsNotAnAbsoluteURI(bad: bytes) -> None:
    with pytest.raises(ValueError):
        URI.fromBytes(bad)


@given(st.binary(max_size=200))
@settings(max_examples=300, deadline=None)
def test_uriParsingOfAnyBytesIsSafe(raw: bytes) -> None:
    try:
        uri = URI.fromBytes(raw)
    except ValueError:
        return
    assert not re.search(rb"[\x00-\x20\x7f]", uri.host + uri.netloc + uri.originForm)
    assert 0 < uri.port < 65536 and uri.host
    assert URI.fromBytes(uri.toBytes()).toBytes() == uri.toBytes()


def test_providesTheInterfaces(webReactor: Any) -> None:
    assert verifyObject(IAgent, Agent(webReactor))
    assert verifyObject(IPolicyForHTTPS, BrowserLikePolicyForHTTPS())
    with pytest.raises(TypeError, match="IPolicyForHTTPS"):
        Agent(webReactor, contextFactory=object())


# -- plain requests (conformance: every reactor) -------------------------------------------


def test_getAndPostOnEveryReactor(reactor: Any) -> None:
    port = listenSite(reactor, Echo())
    agent = Agent(reactor, pool=HTTPConnectionPool(reactor))
    response, body = get(reactor, agent, b"http://127.0.0.1:%d/a?b=c" % port)
    assert response.code == 200
    assert body == b"GET /a?b=c host=127.0.0.1:%d\n" % port
    producer = FileBodyProducer(io.BytesIO(b"z" * 200_000), cooperator(reactor))
    d = agent.request(b"POST", b"http://127.0.0.1:%d/p" % port, bodyProducer=producer)
    second = runUntilFired(reactor, d)
    assert runUntilFired(reactor, readBody(second)).endswith(b"\n" + b"z" * 200_000)
    first, again = (r.headers.getRawHeaders(b"x-client-port") for r in (response, second))
    assert first == again  # the connection was reused
    runUntilFired(reactor, agent._pool.closeCachedConnections())


def test_asyncDefWithAgentAndReadBody(reactor: Any) -> None:
    port = listenSite(reactor, Echo())

    async def fetch() -> bytes:
        agent = Agent(reactor)
        response = await agent.request(b"GET", f"http://127.0.0.1:{port}/async")
        return await readBody(response)

    assert runUntilFired(reactor, Deferred.fromCoroutine(fetch())).startswith(b"GET /async")


def test_asyncioLoopAwaitsAgentDirectly() -> None:
    import asyncio

    from torsion.internet.asyncioreactor import AsyncioSelectorReactor

    loop = asyncio.new_event_loop()
    try:
        made = AsyncioSelectorReactor(loop)
        port = listenSite(made, Echo())

        async def fetch() -> bytes:
            response = await Agent(made).request(b"GET", f"http://127.0.0.1:{port}/x")
            return await readBody(response)

        future = Deferred.fromCoroutine(fetch()).asFuture(loop)
        assert loop.run_until_complete(asyncio.wait_for(future, 5)).startswith(b"GET /x")
    finally:
        from tests.internet.reactormixins import closeReactor

        closeReactor(made)


# -- bodies --------------------------------------------------------------------------------


class Chunks:
    """A body of unknown length, written in pieces."""

    length = UNKNOWN_LENGTH

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    def startProducing(self, consumer: Any) -> Deferred[None]:
        for piece in self.pieces:
            consumer.write(piece)
        return defer.succeed(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


def test_chunkedRequestBody(webReactor: Any) -> None:
    port = listenSite(webReactor, Echo())
    d = Agent(webReactor).request(
        b"PUT", b"http://127.0.0.1:%d/" % port, bodyProducer=Chunks([b"one ", b"two"])
    )
    response = runUntilFired(webReactor, d)
    assert runUntilFired(webReactor, readBody(response)).endswith(b"\none two")


def test_fileBodyProducerLength() -> None:
    stream = io.BytesIO(b"0123456789")
    stream.seek(4)
    assert FileBodyProducer(stream).length == 6

    class Pipe(io.RawIOBase):
        def seekable(self) -> bool:
            return False

        def seek(self, *args: Any) -> int:
            raise OSError("not seekable")

    assert FileBodyProducer(Pipe()).length is UNKNOWN_LENGTH  # type: ignore[arg-type]


def test_readBodyMaxSize(webReactor: Any) -> None:
    class Big(resource.Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            return b"x" * 100_000

    port = listenSite(webReactor, Big())
    response = runUntilFired(
        webReactor, Agent(webReactor).request(b"GET", b"http://127.0.0.1:%d/" % port)
    )
    f = failureOf(webReactor, readBody(response, maxSize=1000))
    assert f.check(ResponseBodyTooLarge) and "1000 bytes" in str(f.value)


def test_bodyIsStreamedWithBackPressure(webReactor: Any) -> None:
    size = 8 * 1024 * 1024

    class Stream(resource.Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> int:
            request.setHeader(b"content-length", b"%d" % size)
            chunks = iter([b"y" * 65536] * (size // 65536))

            class Producer:
                def resumeProducing(self) -> None:
                    piece = next(chunks, None)
                    if piece is None:
                        request.unregisterProducer()
                        request.finish()
                    else:
                        request.write(piece)

                def pauseProducing(self) -> None:
                    pass

                def stopProducing(self) -> None:
                    pass

            request.registerProducer(Producer(), False)
            return server.NOT_DONE_YET

    port = listenSite(webReactor, Stream())
    response = runUntilFired(
        webReactor, Agent(webReactor).request(b"GET", b"http://127.0.0.1:%d/" % port)
    )

    class Slow(Protocol):
        received = 0
        done: Any = None

        def dataReceived(self, data: bytes) -> None:
            self.received += len(data)
            self.transport.pauseProducing()

        def connectionLost(self, reason: Any = None) -> None:
            self.done = reason

    body = Slow()
    response.deliverBody(body)
    for _ in range(20):
        webReactor.iterate(0.01)
    assert 0 < body.received < size // 4  # paused: the rest waits in the network
    while body.done is None:
        body.transport.resumeProducing()
        webReactor.iterate(0)
    assert body.received == size and body.done.check(client.ResponseDone)


# -- against Python's http.server ---------------------------------------------------------------


class PythonHandler(stdlib_server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    ports: list[int] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        PythonHandler.ports.append(self.client_address[1])
        if self.path == "/unframed":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until the end")
            self.close_connection = True
            return
        body = b"python says " + self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_againstPythonHTTPServerWithKeepAlive(webReactor: Any) -> None:
    PythonHandler.ports = []
    with pythonServer(PythonHandler) as httpd:
        agent = Agent(webReactor, pool=HTTPConnectionPool(webReactor))
        url = b"http://127.0.0.1:%d" % httpd.server_address[1]
        for path in (b"/one", b"/two"):
            response, body = get(webReactor, agent, url + path)
            assert (response.code, body) == (200, b"python says " + path)
        assert len(set(PythonHandler.ports)) == 1
        response = runUntilFired(webReactor, agent.request(b"GET", url + b"/unframed"))
        f = failureOf(webReactor, readBody(response))
        assert f.check(PartialDownloadError) and f.value.response == b"until the end"
        runUntilFired(webReactor, agent._pool.closeCachedConnections())


def staleConnection(webReactor: Any, retry: bool, connections: int) -> Any:
    """Two GETs; the server drops the first connection while it is idle in the pool,
    before the reactor notices. Returns the second GET's outcome."""
    closes: list[socket.socket] = []

    def answerThenWait(conn: socket.socket) -> None:
        readHead(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        closes.append(conn)
        readHead(conn)  # until the test shuts it

    def answer(conn: socket.socket) -> None:
        readHead(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain")

    scripts = iter([answerThenWait, answer])
    with serveRaw(lambda conn: next(scripts)(conn), connections=connections) as port:
        pool = HTTPConnectionPool(webReactor)
        pool.retryAutomatically = retry
        agent = Agent(webReactor, pool=pool)
        url = b"http://127.0.0.1:%d/" % port
        assert get(webReactor, agent, url)[1] == b"ok"
        runUntil(webReactor, lambda: closes)
        closes[0].shutdown(socket.SHUT_RDWR)
        time.sleep(0.05)  # the FIN is on its way; the reactor has not seen it
        results: list[Any] = []
        agent.request(b"GET", url).addCallback(readBody).addBoth(results.append)
        runUntil(webReactor, lambda: results)
        return results[0]


def test_staleCachedConnectionIsRetried(webReactor: Any) -> None:
    assert staleConnection(webReactor, retry=True, connections=2) == b"again"


def test_staleCachedConnectionWithoutRetryFails(webReactor: Any) -> None:
    outcome = staleConnection(webReactor, retry=False, connections=1)
    assert isinstance(outcome, Failure) and outcome.check(ResponseNeverReceived)


def test_poolLimitsIdleConnectionsAndTimesThemOut(webReactor: Any) -> None:
    port = listenSite(webReactor, Echo())
    pool = HTTPConnectionPool(webReactor)
    pool.maxPersistentPerHost = 1
    pool.cachedConnectionTimeout = 0.2
    agent = Agent(webReactor, pool=pool)
    url = b"http://127.0.0.1:%d/" % port
    responses = runUntilFired(
        webReactor, defer.gatherResults([agent.request(b"GET", url) for _ in range(3)])
    )
    runUntilFired(webReactor, defer.gatherResults([readBody(r) for r in responses]))
    assert sum(len(c) for c in pool._connections.values()) == 1
    runUntil(webReactor, lambda: not pool._connections, timeout=3)


def test_poolForgetsConnectionsTheServerCloses(webReactor: Any) -> None:
    port = listenSite(webReactor, Echo(), timeout=0.2)  # the server's idle timeout
    pool = HTTPConnectionPool(webReactor)
    agent = Agent(webReactor, pool=pool)
    get(webReactor, agent, b"http://127.0.0.1:%d/" % port)
    assert pool._connections
    runUntil(webReactor, lambda: not pool._connections and not pool._timeouts, timeout=3)
    assert get(webReactor, agent, b"http://127.0.0.1:%d/" % port)[0].code == 200


def test_nonPersistentPoolClosesEachConnection(webReactor: Any) -> None:
    port = listenSite(webReactor, Echo())
    agent = Agent(webReactor)
    url = b"http://127.0.0.1:%d/" % port
    ports = {
        get(webReactor, agent, url)[0].headers.getRawHeaders(b"x-client-port")[0] for _ in range(2)
    }
    assert len(ports) == 2


# -- failures -------------------------------------------------------------------------------------


def test_connectionRefused(webReactor: Any) -> None:
    f = failureOf(
        webReactor, Agent(webReactor).request(b"GET", b"http://127.0.0.1:%d/" % freePort())
    )
    assert f.check(ConnectionRefusedError)


def test_unsupportedScheme(webReactor: Any) -> None:
    f = failureOf(webReactor, Agent(webReactor).request(b"GET", b"ftp://127.0.0.1/"))
    assert f.check(error.SchemeNotSupported) and "http and https" in str(f.value)
    assert failureOf(webReactor, Agent(webReactor).request(b"GET", b"/relative")).check(ValueError)
    wrongHeaders = Agent(webReactor).request(b"GET", b"http://127.0.0.1/", {b"a": b"b"})  # type: ignore[arg-type]
    assert "Headers" in str(failureOf(webReactor, wrongHeaders).value)
    notAProducer = Agent(webReactor).request(b"POST", b"http://127.0.0.1/", None, b"data")
    assert "FileBodyProducer" in str(failureOf(webReactor, notAProducer).value)


def test_serverClosingMidBody(webReactor: Any) -> None:
    def cut(conn: socket.socket) -> None:
        readHead(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")

    with serveRaw(cut) as port:
        response = runUntilFired(
            webReactor, Agent(webReactor).request(b"GET", b"http://127.0.0.1:%d/" % port)
        )

        class Keep(Protocol):
            data = b""
            reason: Any = None

            def dataReceived(self, data: bytes) -> None:
                self.data += data

            def connectionLost(self, reason: Any = None) -> None:
                self.reason = reason

        body = Keep()
        response.deliverBody(body)
        runUntil(webReactor, lambda: body.reason is not None)
    assert body.data == b"partial"
    assert body.reason.check(ResponseFailed)
    assert any(r.check(ParseError) for r in body.reason.value.reasons)


def test_malformedStatusLine(webReactor: Any) -> None:
    def garbage(conn: socket.socket) -> None:
        readHead(conn)
        conn.sendall(b"HTTP/1.1 two hundred OK\r\n\r\n")

    with serveRaw(garbage) as port:
        f = failureOf(webReactor, Agent(webReactor).request(b"GET", b"http://127.0.0.1:%d/" % port))
    assert f.check(ResponseNeverReceived)
    assert f.value.reasons[0].check(ParseError)


def test_wholeRequestTimeout(webReactor: Any) -> None:
    lost: list[Any] = []

    class Never(resource.Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> int:
            request.notifyFinish().addErrback(lost.append)
            return server.NOT_DONE_YET

    port = listenSite(webReactor, Never())
    d = (
        Agent(webReactor)
        .request(b"GET", b"http://127.0.0.1:%d/" % port)
        .addTimeout(0.3, webReactor)
    )
    assert failureOf(webReactor, d).check(TimeoutError)
    runUntil(webReactor, lambda: lost)


def test_cancelWhileConnectingIsCancelledError(webReactor: Any) -> None:
    from torsion.internet.task import Clock

    clock = Clock()

    class Hanging:
        def connect(self, factory: Any) -> Deferred[Any]:
            return Deferred(lambda d: d.errback(error.Error(500)))

    class Factory:
        def endpointForURI(self, uri: Any) -> Hanging:
            return Hanging()

    agent = Agent.usingEndpointFactory(webReactor, Factory())
    d = agent.request(b"GET", b"http://example.invalid/").addTimeout(3, clock)
    clock.advance(3)
    assert failureOf(webReactor, d).check(TimeoutError)
    d2 = agent.request(b"GET", b"http://example.invalid/")
    d2.cancel()
    assert failureOf(webReactor, d2).check(CancelledError)


def test_connectTimeoutAndBindAddressReachTheEndpoint(webReactor: Any) -> None:
    agent = Agent(webReactor, connectTimeout=7, bindAddress=("127.0.0.1", 0))
    endpoint = agent._endpointFactory.endpointForURI(URI.fromBytes(b"http://127.0.0.1:1/"))
    assert endpoint._timeout == 7 and endpoint._bindAddress == ("127.0.0.1", 0)
    port = listenSite(webReactor, Echo())
    assert get(webReactor, agent, b"http://127.0.0.1:%d/" % port)[0].code == 200


# -- HTTPS ------------------------------------------------------------------------------------


def listenTLS(reactor: Any, root: Any, options: Any = None) -> int:
    site = server.Site(root, reactor=reactor)
    port = reactor.listenSSL(0, site, options or serverOptions(), interface="127.0.0.1")
    return int(port.getHost().port)


def test_httpsWithVerification(webReactor: Any) -> None:
    port = listenTLS(webReactor, Echo())
    agent = Agent(webReactor, BrowserLikePolicyForHTTPS(trustRoot=caCertificate()))
    response, body = get(webReactor, agent, b"https://127.0.0.1:%d/secure" % port)
    assert response.code == 200 and body.startswith(b"GET /secure")


def test_httpsHostNameMismatchIsRejected(webReactor: Any) -> None:
    leaf = theCA().issue_cert("other.example")
    options = tssl.CertificateOptions(
        privateKey=leaf.private_key_pem.bytes(), certificate=leaf.cert_chain_pems[0].bytes()
    )
    served: list[Any] = []

    class Spy(Echo):
        def render(self, request: Any) -> bytes:
            served.append(request)
            return b""

    port = listenTLS(webReactor, Spy(), options)
    agent = Agent(webReactor, BrowserLikePolicyForHTTPS(trustRoot=caCertificate()))
    f = failureOf(webReactor, agent.request(b"GET", b"https://127.0.0.1:%d/" % port))
    assert f.check(ResponseNeverReceived)
    assert f.value.reasons[0].check(CertificateVerificationError)
    assert "127.0.0.1" in str(f.value.reasons[0].value)
    assert served == []


def test_hostnameCachingPolicyReusesCreators(webReactor: Any) -> None:
    from torsion.web.client import HostnameCachingHTTPSPolicy

    made: list[bytes] = []

    class Counting(BrowserLikePolicyForHTTPS):
        def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
            made.append(hostname)
            return super().creatorForNetloc(hostname, port)

    policy = HostnameCachingHTTPSPolicy(Counting(trustRoot=caCertificate()), cacheSize=2)
    assert verifyObject(IPolicyForHTTPS, policy)
    first = policy.creatorForNetloc(b"127.0.0.1", 1)
    assert policy.creatorForNetloc(b"127.0.0.1", 2) is first
    policy.creatorForNetloc(b"a.example", 1)
    policy.creatorForNetloc(b"b.example", 1)
    assert policy.creatorForNetloc(b"127.0.0.1", 1) is not first  # evicted
    assert made == [b"127.0.0.1", b"a.example", b"b.example", b"127.0.0.1"]
    port = listenTLS(webReactor, Echo())
    response, _ = get(webReactor, Agent(webReactor, policy), b"https://127.0.0.1:%d/" % port)
    assert response.code == 200


def test_httpsUntrustedByDefault(webReactor: Any) -> None:
    port = listenTLS(webReactor, Echo())
    f = failureOf(webReactor, Agent(webReactor).request(b"GET", b"https://127.0.0.1:%d/" % port))
    assert f.check(ResponseNeverReceived)
    assert f.value.reasons[0].check(CertificateVerificationError)


def test_httpsAgainstPythonSSLServer(webReactor: Any) -> None:
    PythonHandler.ports = []
    with pythonServer(PythonHandler) as httpd:
        httpd.socket = pythonServerContext().wrap_socket(httpd.socket, server_side=True)
        agent = Agent(webReactor, BrowserLikePolicyForHTTPS(trustRoot=caCertificate()))
        url = b"https://127.0.0.1:%d/py-tls" % httpd.server_address[1]
        assert get(webReactor, agent, url)[1] == b"python says /py-tls"


@needsOpenSSL
def test_httpsAgainstOpenSSLServer(webReactor: Any, tmp_path: Any) -> None:
    files = writeFiles(tmp_path)
    assert OPENSSL is not None
    argv = [OPENSSL, "s_server", "-accept", "127.0.0.1:0", "-cert", str(files["server"])]
    server = Child([*argv, "-naccept", "1", "-www"], tmp_path)
    try:
        out = server.waitFor(lambda out: b"ACCEPT" in out and out.endswith(b"\n"))
        port = int(out.split(b"ACCEPT 127.0.0.1:")[1].split()[0])
        agent = Agent(webReactor, BrowserLikePolicyForHTTPS(trustRoot=caCertificate()))
        d = agent.request(b"GET", b"https://127.0.0.1:%d/" % port)
        response = runUntilFired(webReactor, d, timeout=10)
        assert response.code == 200
        # -www answers HTTP/1.0 without a length: the body ends with the connection.
        f = failureOf(webReactor, readBody(response), timeout=10)
        assert f.check(PartialDownloadError) and b"s_server" in f.value.response
    finally:
        server.kill()


# -- redirects ----------------------------------------------------------------------------------


class Redirects(resource.Resource):
    isLeaf = True

    def render(self, request: Any) -> bytes:
        path = request.path
        if path.startswith(b"/code/"):
            code = int(path.split(b"/")[2])
            request.setResponseCode(code)
            request.setHeader(b"location", b"../../target")
            return b"moved"
        if path == b"/loop":
            request.setResponseCode(302)
            request.setHeader(b"location", b"/loop")
            return b""
        if path == b"/utf8":
            request.setResponseCode(301)
            request.setHeader(b"location", "/caf\u00e9".encode())
            return b""
        if path == b"/nolocation":
            request.setResponseCode(302)
            return b""
        if path == b"/elsewhere":
            request.setResponseCode(302)
            request.setHeader(b"location", request.args[b"to"][0])
            return b""
        return Echo().render(request)


@pytest.mark.parametrize(
    ("agentClass", "code", "method", "expected"),
    [
        (RedirectAgent, 301, b"GET", b"GET"),
        (RedirectAgent, 302, b"HEAD", b"HEAD"),
        (RedirectAgent, 303, b"POST", b"GET"),
        (RedirectAgent, 307, b"GET", b"GET"),
        (RedirectAgent, 308, b"GET", b"GET"),
        (RedirectAgent, 302, b"POST", None),
        (RedirectAgent, 307, b"POST", None),
        (BrowserLikeRedirectAgent, 301, b"POST", b"GET"),
        (BrowserLikeRedirectAgent, 302, b"POST", b"GET"),
        (BrowserLikeRedirectAgent, 303, b"PUT", b"GET"),
        (BrowserLikeRedirectAgent, 307, b"POST", None),
        (BrowserLikeRedirectAgent, 308, b"POST", None),
    ],
)
def test_redirectSemantics(
    webReactor: Any, agentClass: Any, code: int, method: bytes, expected: bytes | None
) -> None:
    port = listenSite(webReactor, Redirects())
    agent = agentClass(Agent(webReactor))
    d = agent.request(method, b"http://127.0.0.1:%d/code/%d" % (port, code))
    if expected is None:
        f = failureOf(webReactor, d)
        assert f.check(ResponseFailed)
        assert f.value.reasons[0].check(error.PageRedirect)
        assert f.value.response.code == code
        return
    response = runUntilFired(webReactor, d)
    assert response.code == 200
    assert response.request.method == expected
    assert response.request.absoluteURI == b"http://127.0.0.1:%d/target" % port
    assert response.previousResponse.code == code
    if expected == b"GET":
        assert runUntilFired(webReactor, readBody(response)).startswith(b"GET /target")


def test_redirectLoopIsInfiniteRedirection(webReactor: Any) -> None:
    port = listenSite(webReactor, Redirects())
    agent = RedirectAgent(Agent(webReactor), redirectLimit=3)
    f = failureOf(webReactor, agent.request(b"GET", b"http://127.0.0.1:%d/loop" % port))
    assert f.check(ResponseFailed)
    assert f.value.reasons[0].check(error.InfiniteRedirection)
    chain, response = 0, f.value.response
    while response.previousResponse is not None:
        chain, response = chain + 1, response.previousResponse
    assert chain == 3


def test_redirectToANonASCIILocationIsPercentEncoded(webReactor: Any) -> None:
    port = listenSite(webReactor, Redirects())
    d = RedirectAgent(Agent(webReactor)).request(b"GET", b"http://127.0.0.1:%d/utf8" % port)
    body = runUntilFired(webReactor, readBody(runUntilFired(webReactor, d)))
    assert body.startswith(b"GET /caf%C3%A9 ")


def test_redirectWithoutLocation(webReactor: Any) -> None:
    port = listenSite(webReactor, Redirects())
    d = RedirectAgent(Agent(webReactor)).request(b"GET", b"http://127.0.0.1:%d/nolocation" % port)
    f = failureOf(webReactor, d)
    assert f.value.reasons[0].check(error.RedirectWithNoLocation)
    assert f.value.reasons[0].value.uri.endswith(b"/nolocation")


def test_redirectToAnotherOriginDropsCredentials(webReactor: Any) -> None:
    port = listenSite(webReactor, Redirects())
    other = listenSite(webReactor, Echo())
    headers = Headers({b"authorization": [b"Basic c2VjcmV0"], b"x-test": [b"kept"]})
    url = b"http://127.0.0.1:%d/elsewhere?to=http://127.0.0.1:%d/there" % (port, other)
    d = RedirectAgent(Agent(webReactor)).request(b"GET", url, headers)
    body = runUntilFired(webReactor, readBody(runUntilFired(webReactor, d)))
    assert b"/there" in body and b"x-test=kept" in body and b"authorization" not in body
    same = b"http://127.0.0.1:%d/elsewhere?to=/here" % port
    d = RedirectAgent(Agent(webReactor)).request(b"GET", same, headers)
    body = runUntilFired(webReactor, readBody(runUntilFired(webReactor, d)))
    assert b"authorization=Basic" in body


# -- content decoding ---------------------------------------------------------------------------


class Gzipped(resource.Resource):
    isLeaf = True

    def __init__(self, payload: bytes) -> None:
        super().__init__()
        self.payload = payload

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"content-encoding", b"gzip")
        request.setHeader(b"x-accept", request.getHeader(b"accept-encoding") or b"")
        return self.payload


def test_gzipBodyIsDecoded(webReactor: Any) -> None:
    text = b"hello, compressed world " * 1000
    port = listenSite(webReactor, Gzipped(gzip.compress(text)))
    agent = ContentDecoderAgent(Agent(webReactor), [(b"gzip", GzipDecoder)])
    response, body = get(webReactor, agent, b"http://127.0.0.1:%d/" % port)
    assert body == text
    assert response.headers.getRawHeaders(b"x-accept") == [b"gzip"]
    assert not response.headers.hasHeader(b"content-encoding")
    assert response.length is UNKNOWN_LENGTH and response.code == 200


def test_gzipBombIsRefused(webReactor: Any) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 100_000
    port = listenSite(webReactor, Gzipped(bomb))
    decoder = functools.partial(GzipDecoder, maxSize=1024 * 1024)
    agent = ContentDecoderAgent(Agent(webReactor), [(b"gzip", decoder)])
    response = runUntilFired(webReactor, agent.request(b"GET", b"http://127.0.0.1:%d/" % port))
    f = failureOf(webReactor, readBody(response))
    assert f.check(ResponseFailed)
    assert f.value.reasons[0].check(ResponseBodyTooLarge)


def test_corruptGzipFails(webReactor: Any) -> None:
    port = listenSite(webReactor, Gzipped(b"\x1f\x8b not gzip at all"))
    agent = ContentDecoderAgent(Agent(webReactor), [(b"gzip", GzipDecoder)])
    response = runUntilFired(webReactor, agent.request(b"GET", b"http://127.0.0.1:%d/" % port))
    f = failureOf(webReactor, readBody(response))
    assert f.check(ResponseFailed) and f.value.reasons[0].check(zlib.error)


def test_truncatedGzipFails(webReactor: Any) -> None:
    port = listenSite(webReactor, Gzipped(gzip.compress(b"abc" * 1000)[:-10]))
    agent = ContentDecoderAgent(Agent(webReactor), [(b"gzip", GzipDecoder)])
    response = runUntilFired(webReactor, agent.request(b"GET", b"http://127.0.0.1:%d/" % port))
    assert failureOf(webReactor, readBody(response)).check(ResponseFailed)


def test_unknownEncodingIsLeftAlone(webReactor: Any) -> None:
    class Brotli(resource.Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            request.setHeader(b"content-encoding", b"br")
            return b"opaque"

    port = listenSite(webReactor, Brotli())
    agent = ContentDecoderAgent(Agent(webReactor), [(b"gzip", GzipDecoder)])
    response, body = get(webReactor, agent, b"http://127.0.0.1:%d/" % port)
    assert body == b"opaque" and response.headers.getRawHeaders(b"content-encoding") == [b"br"]


# -- cookies ---------------------------------------------------------------------------


def test_cookieAgentStoresAndSendsCookies(webReactor: Any) -> None:
    class Cookies(resource.Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            if request.path == b"/set":
                request.addCookie(b"flavour", b"oat", path=b"/")
                return b"set"
            return request.getHeader(b"cookie") or b"none"

    port = listenSite(webReactor, Cookies())
    jar = http.cookiejar.CookieJar()
    agent = CookieAgent(Agent(webReactor), jar)
    base = b"http://127.0.0.1:%d" % port
    assert get(webReactor, agent, base + b"/show")[1] == b"none"
    get(webReactor, agent, base + b"/set")
    assert [c.name for c in jar] == ["flavour"]
    assert get(webReactor, agent, base + b"/show")[1] == b"flavour=oat"


# -- proxies ---------------------------------------------------------------------------


def test_proxyAgentSendsAbsoluteFormToTheProxy(webReactor: Any) -> None:
    from torsion.internet.endpoints import TCP4ClientEndpoint

    targets: list[bytes] = []

    class Recording(proxy.ProxyRequest):
        def process(self) -> None:
            targets.append(self.uri)
            super().process()

    class RecordingProxy(proxy.Proxy):
        requestFactory = Recording

    backend = listenSite(webReactor, Echo())
    factory = webhttp.HTTPFactory(reactor=webReactor)
    factory.protocol = RecordingProxy
    proxyPort = webReactor.listenTCP(0, factory, interface="127.0.0.1").getHost().port
    endpoint = TCP4ClientEndpoint(webReactor, "127.0.0.1", proxyPort)
    agent = ProxyAgent(endpoint, webReactor)
    url = b"http://127.0.0.1:%d/via?x=1" % backend
    _, body = get(webReactor, agent, url)
    assert targets == [url]
    assert body.startswith(b"GET /via?x=1 host=127.0.0.1:%d" % backend)
    f = failureOf(webReactor, agent.request(b"GET", b"https://127.0.0.1/"))
    assert f.check(error.SchemeNotSupported)


def test_gzipMembersAndEmptyBodies(webReactor: Any) -> None:
    port = listenSite(webReactor, Gzipped(gzip.compress(b"one ") + gzip.compress(b"two")))
    agent = ContentDecoderAgent(Agent(webReactor), [(b"gzip", GzipDecoder)])
    assert get(webReactor, agent, b"http://127.0.0.1:%d/" % port)[1] == b"one two"
    empty = listenSite(webReactor, Gzipped(b""))
    response = runUntilFired(webReactor, agent.request(b"HEAD", b"http://127.0.0.1:%d/" % empty))
    assert runUntilFired(webReactor, readBody(response)) == b""


def test_cookieAgentRefusesABadURI(webReactor: Any) -> None:
    agent = CookieAgent(Agent(webReactor), http.cookiejar.CookieJar())
    assert failureOf(webReactor, agent.request(b"GET", b"not a uri")).check(ValueError)


def test_usingEndpointFactoryOverAUnixSocket(webReactor: Any, tmp_path: Any) -> None:
    from torsion.internet.endpoints import UNIXClientEndpoint

    path = str(tmp_path / "web.sock")
    webReactor.listenUNIX(path, server.Site(Echo(), reactor=webReactor))

    class ToTheSocket:
        def endpointForURI(self, uri: URI) -> Any:
            return UNIXClientEndpoint(webReactor, path)

    agent = Agent.usingEndpointFactory(webReactor, ToTheSocket(), HTTPConnectionPool(webReactor))
    for _ in range(2):
        _, body = get(webReactor, agent, b"http://unix.example/over-unix")
        assert body.startswith(b"GET /over-unix host=unix.example")
    runUntilFired(webReactor, agent._pool.closeCachedConnections())
