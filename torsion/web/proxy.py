"""HTTP proxies: a forward proxy channel and a reverse proxy resource, on the client.

Both forward requests with torsion.web's own client (torsion/web/_newclient.py), so a
backend response is streamed to the waiting client as it arrives, with back-pressure
both ways: a slow client pauses the backend connection.

- `ReverseProxyResource(host, port, path)` serves a subtree of a Site from a backend
  server: the method, headers (less hop-by-hop ones, plus X-Forwarded-For,
  X-Forwarded-Host and X-Forwarded-Proto) and body go to the backend over a pooled
  connection; a backend that cannot be reached is a 502, one that does not start
  answering within `backendTimeout` seconds a 504.
- `Proxy` is an HTTPChannel whose requests (`ProxyRequest`) are absolute-form requests
  from clients configured to use a proxy (`curl -x`); each is forwarded by a
  `ProxyClient`. Only http is forwarded, other schemes are answered 501; CONNECT is
  answered 405 unless `ProxyRequest.allowConnect` is set, when it opens a tunnel.
- `ReverseProxy` / `ReverseProxyRequest`: the channel-level reverse proxy, sending
  every request to `factory.host:factory.port`.

Tests: tests/web/test_proxy.py.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote as _quote
from urllib.parse import urlsplit

from zope.interface import implementer

from torsion.internet import defer, protocol
from torsion.internet.defer import Deferred
from torsion.internet.error import TimeoutError
from torsion.python import log
from torsion.python.failure import Failure
from torsion.web import http, resource, server
from torsion.web._channel import HTTPChannel
from torsion.web._newclient import (
    HTTP11ClientProtocol,
    PotentialDataLoss,
    Request,
    Response,
    ResponseDone,
)
from torsion.web.http_headers import Headers
from torsion.web.iweb import IBodyProducer

__all__ = [
    "Proxy",
    "ProxyClient",
    "ProxyClientFactory",
    "ProxyRequest",
    "ReverseProxy",
    "ReverseProxyRequest",
    "ReverseProxyResource",
]

# RFC 9110 section 7.6.1: meaningful for one connection only, never forwarded.
_HOP_BY_HOP = frozenset(
    (
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    )
)


def _forwardable(headers: Headers, extraSkipped: frozenset[bytes] = frozenset()) -> Any:
    """(name, values) of `headers` that a proxy passes on (lowercased names)."""
    named: set[bytes] = set()
    for value in headers.getRawHeaders(b"connection", []):
        named.update(token.strip().lower() for token in value.split(b","))
    for name, values in headers._raw.items():
        if name in _HOP_BY_HOP or name in named or name in extraSkipped:
            continue
        yield name, values


def _answer(request: Any, code: int, message: str) -> None:
    """A short plain-text answer from the proxy itself (errors, refusals)."""
    if request.finished or request._disconnected or request.startedWriting:
        return
    request.setResponseCode(code)
    request.responseHeaders = Headers()
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    if code == http.NOT_ALLOWED:
        request.setHeader(b"allow", b"GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH")
    request.writeWhole(message.encode("utf-8") + b"\n")


@implementer(IBodyProducer)
class _BytesProducer:
    """A request body that is all in memory already."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.length = len(data)

    def startProducing(self, consumer: Any) -> Deferred[None]:
        consumer.write(self._data)
        return defer.succeed(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


@implementer(IBodyProducer)
class _ContentProducer:
    """A server request's spooled body, read a piece at a time while the connection
    has room (the transport pauses it synchronously when its buffer fills)."""

    _readSize = 65536

    def __init__(self, content: Any, length: int) -> None:
        self._content = content
        self.length = length
        self._consumer: Any = None
        self._done: Deferred[None] | None = None
        self._paused = False
        self._writing = False

    def startProducing(self, consumer: Any) -> Deferred[None]:
        self._consumer = consumer
        self._done = Deferred()
        self._write()
        return self._done

    def _write(self) -> None:
        if self._writing:
            return
        self._writing = True
        try:
            while not self._paused and self._done is not None:
                data = self._content.read(self._readSize)
                if not data:
                    done, self._done = self._done, None
                    done.callback(None)
                    return
                self._consumer.write(data)
        finally:
            self._writing = False

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        self._write()

    def stopProducing(self) -> None:
        self._done = None


def _requestBody(request: Any) -> Any:
    """The body of a server request as a producer, or None if it has none."""
    content = request.content
    content.seek(0, 2)
    length = content.tell()
    content.seek(0)
    if not length and request.method not in (b"POST", b"PUT", b"PATCH"):
        return None
    if length <= 65536:
        return _BytesProducer(content.read())
    return _ContentProducer(content, length)


class _RelayBody(protocol.Protocol):
    """Streams a backend's body into a server request, paced by the client's connection."""

    def __init__(self, onData: Any, onEnd: Any, father: Any) -> None:
        self._onData = onData
        self._onEnd = onEnd
        self._father = father

    def makeConnection(self, transport: Any) -> None:
        self.transport = transport
        if not self._father._disconnected:
            self._father.registerProducer(transport, True)
        else:
            transport.stopProducing()

    def dataReceived(self, data: bytes) -> None:
        if not self._father._disconnected:
            self._onData(data)

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        father = self._father
        if father._disconnected or father.finished:
            return
        if father.producer is not None:
            father.unregisterProducer()
        failure = reason if isinstance(reason, Failure) else Failure(reason)
        if failure.check(ResponseDone, PotentialDataLoss):
            self._onEnd()
        else:
            log.msg(f"The backend's response broke off: {failure.value}")
            father.channel.transport.loseConnection()


def _relayHead(response: Response, request: Any) -> None:
    request.setResponseCode(response.code, response.phrase or None)
    request.responseHeaders = Headers()
    raw = request.responseHeaders._raw
    for name, values in _forwardable(response.headers):
        raw[name] = list(values)
    if response.code < 200 or response.code in (204, 304):
        raw.pop(b"content-length", None)


# -- reverse proxy -------------------------------------------------------------------


def _forwardedHeaders(request: Any, backendHost: bytes) -> Headers:
    headers = Headers()
    raw = headers._raw
    for name, values in _forwardable(
        request.requestHeaders, frozenset((b"host", b"content-length"))
    ):
        raw[name] = list(values)
    raw[b"host"] = [backendHost]
    client = request.getClientIP()
    if client:
        previous = request.requestHeaders.getRawHeaders(b"x-forwarded-for")
        chain = b", ".join([*(previous or []), client.encode("ascii")])
        raw[b"x-forwarded-for"] = [chain]
    originalHost = request.getHeader(b"host")
    if originalHost:
        raw[b"x-forwarded-host"] = [originalHost]
    raw[b"x-forwarded-proto"] = [b"https" if request.isSecure() else b"http"]
    return headers


class ReverseProxyResource(resource.Resource):
    """Answers every request below it from the backend at host:port, under `path`.

    `/a/b` below this resource is fetched as `path + b"/a/b"` from the backend. The
    children share one connection pool (persistent connections to the backend);
    give `pool` to share it wider or tune it.
    """

    proxyClientFactoryClass: Any = None  # Twisted's attribute; the agent is used instead
    backendTimeout: float | None = 60.0
    """Seconds the backend has to start its response before the client gets a 504."""

    def __init__(
        self,
        host: str | bytes,
        port: int,
        path: bytes,
        reactor: Any = None,
        *,
        pool: Any = None,
        _agent: Any = None,
    ) -> None:
        super().__init__()
        if reactor is None:
            from torsion.web._channel import _defaultReactor

            reactor = _defaultReactor()
        from torsion.web.client import Agent, HTTPConnectionPool

        self.host = host.decode("ascii") if isinstance(host, bytes) else host
        self.port = port
        self.path = path
        self.reactor = reactor
        if _agent is None:
            pool = pool if pool is not None else HTTPConnectionPool(reactor)
            _agent = Agent(reactor, pool=pool)
        self._agent = _agent

    def getChild(self, path: bytes, request: Any) -> ReverseProxyResource:
        child = ReverseProxyResource(
            self.host,
            self.port,
            self.path + b"/" + _quote(path, safe="").encode("ascii"),
            self.reactor,
            _agent=self._agent,
        )
        child.backendTimeout = self.backendTimeout
        return child

    def _backendHost(self) -> bytes:
        host = self.host.encode("ascii")
        if b":" in host:
            host = b"[" + host + b"]"
        return host if self.port == 80 else host + b":%d" % self.port

    def render(self, request: Any) -> int:
        _, question, query = request.uri.partition(b"?")
        target = (self.path or b"/") + (b"?" + query if question else b"")
        url = b"http://" + self._backendHost() + target
        body = _requestBody(request)
        d = self._agent.request(
            request.method, url, _forwardedHeaders(request, self._backendHost()), body
        )
        if self.backendTimeout is not None:
            d.addTimeout(self.backendTimeout, self.reactor)
        finished = request.notifyFinish()
        finished.addErrback(lambda _: d.cancel())

        def gotResponse(response: Response) -> None:
            if request._disconnected:
                response.deliverBody(_RelayBody(lambda data: None, lambda: None, request))
                return
            _relayHead(response, request)
            response.deliverBody(_RelayBody(request.write, request.finish, request))

        def failed(reason: Failure) -> None:
            if request._disconnected:
                return
            log.msg(f"The backend {self.host}:{self.port} failed: {reason.value}")
            if reason.check(TimeoutError):
                _answer(
                    request,
                    http.GATEWAY_TIMEOUT,
                    f"504 Gateway Timeout: the backend server {self.host}:{self.port} did "
                    f"not answer within {self.backendTimeout} seconds",
                )
                return
            _answer(
                request,
                http.BAD_GATEWAY,
                f"502 Bad Gateway: the backend server {self.host}:{self.port} did not answer",
            )

        d.addCallbacks(gotResponse, failed)
        return server.NOT_DONE_YET


# -- forward proxy -------------------------------------------------------------------


class ProxyClient(HTTP11ClientProtocol):
    """Sends one forwarded request and relays the response to `father` (the request).

    The handle* methods are the hooks to override to change what is relayed.
    """

    def __init__(
        self,
        command: bytes,
        rest: bytes,
        version: bytes,
        headers: dict[bytes, bytes] | Headers,
        data: bytes,
        father: Any,
    ) -> None:
        super().__init__()
        self.father = father
        self.command = command
        self.rest = rest
        self.version = version
        if isinstance(headers, Headers):
            self.headers = headers.copy()
        else:
            self.headers = Headers({name: [value] for name, value in headers.items()})
        for name in list(self.headers._raw):
            if name in _HOP_BY_HOP:
                self.headers.removeHeader(name)
        self.data = data
        self._finished = False

    def connectionMade(self) -> None:
        father = self.father
        if father._disconnected:
            self.transport.loseConnection()
            return
        father.notifyFinish().addErrback(lambda _: self.abort())
        body = _BytesProducer(self.data) if self.data or self.command in (b"POST", b"PUT") else None
        request = Request(self.command, self.rest, self.headers, body, persistent=False)
        self.request(request).addCallbacks(self._gotResponse, self._failed)

    def _gotResponse(self, response: Response) -> None:
        father = self.father
        if father._disconnected:
            response.deliverBody(_RelayBody(lambda data: None, lambda: None, father))
            return
        self.handleStatus(b"HTTP/1.1", b"%d" % response.code, response.phrase)
        father.responseHeaders = Headers()
        for name, values in _forwardable(response.headers):
            for value in values:
                self.handleHeader(name, value)
        if response.code < 200 or response.code in (204, 304):
            father.responseHeaders.removeHeader(b"content-length")
        self.handleEndHeaders()
        response.deliverBody(_RelayBody(self.handleResponsePart, self.handleResponseEnd, father))

    def _failed(self, reason: Failure) -> None:
        if not self.father._disconnected:
            log.msg(f"A proxied request failed: {reason.value}")
            _answer(self.father, http.BAD_GATEWAY, "502 Bad Gateway: the server did not answer")

    def handleStatus(self, version: bytes, code: bytes, message: bytes) -> None:
        self.father.setResponseCode(int(code), message or None)

    def handleHeader(self, key: bytes, value: bytes) -> None:
        if key.lower() in (b"server", b"date", b"content-type"):
            self.father.responseHeaders.setRawHeaders(key, [value])
        else:
            self.father.responseHeaders.addRawHeader(key, value)

    def handleEndHeaders(self) -> None:
        """The head is relayed; the body follows."""

    def handleResponsePart(self, buffer: bytes) -> None:
        self.father.write(buffer)

    def handleResponseEnd(self) -> None:
        if not self._finished:
            self._finished = True
            if not self.father.finished and not self.father._disconnected:
                self.father.finish()


class ProxyClientFactory(protocol.ClientFactory):
    """Makes the ProxyClient of one forwarded request; a failure to connect is a 502."""

    protocol = ProxyClient
    noisy = False

    def __init__(
        self,
        command: bytes,
        rest: bytes,
        version: bytes,
        headers: Any,
        data: bytes,
        father: Any,
    ) -> None:
        self.father = father
        self.command = command
        self.rest = rest
        self.headers = headers
        self.data = data
        self.version = version

    def buildProtocol(self, addr: Any) -> ProxyClient:
        client: ProxyClient = self.protocol(
            self.command, self.rest, self.version, self.headers, self.data, self.father
        )
        return client

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        _answer(
            self.father,
            http.BAD_GATEWAY,
            f"502 Bad Gateway: could not connect to the server ({reason.value})",
        )


class ProxyRequest(http.Request):
    """A request to a forward proxy: `GET http://host/path HTTP/1.1`, sent on for the client.

    `protocols` maps the schemes forwarded to their client factories and `ports` to
    their default ports; anything else is refused with 501, CONNECT with 405.
    """

    protocols: dict[bytes, Any] = {b"http": ProxyClientFactory}
    ports: dict[bytes, int] = {b"http": 80}
    allowConnect = False
    """Open CONNECT tunnels (see Proxy) instead of answering 405."""

    def __init__(self, channel: HTTPChannel, queued: object = None, reactor: Any = None) -> None:
        super().__init__(channel, queued)
        if reactor is None:
            reactor = getattr(channel.factory, "_reactor", None)
        if reactor is None:
            from torsion.web._channel import _defaultReactor

            reactor = _defaultReactor()
        self.reactor = reactor

    def process(self) -> None:
        if self.method == b"CONNECT":
            if self.allowConnect and isinstance(self.channel, Proxy):
                _openTunnel(self)
            else:
                _answer(
                    self, http.NOT_ALLOWED, "405 Method Not Allowed: this proxy makes no tunnels"
                )
            return
        parsed = urlsplit(self.uri)
        scheme = parsed.scheme.lower()
        if not scheme or not parsed.hostname:
            _answer(
                self,
                http.BAD_REQUEST,
                "400 Bad Request: a proxy request names an absolute URI (http://host/path)",
            )
            return
        factoryClass = self.protocols.get(scheme)
        if factoryClass is None:
            _answer(
                self,
                http.NOT_IMPLEMENTED,
                f"501 Not Implemented: this proxy does not forward {scheme.decode('latin-1')!r}",
            )
            return
        try:
            port = parsed.port or self.ports[scheme]
        except ValueError:
            _answer(self, http.BAD_REQUEST, "400 Bad Request: the port is not a number")
            return
        host = parsed.hostname.decode("idna")
        rest = (parsed.path or b"/") + (b"?" + parsed.query if parsed.query else b"")
        headers = Headers()
        for name, values in _forwardable(self.requestHeaders, frozenset((b"content-length",))):
            headers._raw[name] = list(values)
        if not headers.hasHeader(b"host"):
            headers.setRawHeaders(b"host", [parsed.netloc.rpartition(b"@")[2]])
        data = self.content.read()
        clientFactory = factoryClass(self.method, rest, self.clientproto, headers, data, self)
        self.reactor.connectTCP(host, port, clientFactory)


class _Tunnel(protocol.Protocol):
    """The server end of a CONNECT tunnel: bytes both ways, each side pacing the other."""

    def __init__(self, request: ProxyRequest) -> None:
        self.request = request
        self.channel: Proxy = request.channel  # type: ignore[assignment]

    def connectionMade(self) -> None:
        request = self.request
        channel = self.channel
        if request._disconnected or channel.transport is None:
            self.transport.loseConnection()
            return
        channel.transport.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        channel._tunnel = self
        channel.transport.registerProducer(self.transport, True)
        self.transport.registerProducer(channel.transport, True)

    def dataReceived(self, data: bytes) -> None:
        self.channel.transport.write(data)

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        channel = self.channel
        if channel._tunnel is self and channel.transport is not None:
            channel.transport.loseConnection()


class _TunnelFactory(protocol.ClientFactory):
    noisy = False

    def __init__(self, request: ProxyRequest) -> None:
        self.request = request

    def buildProtocol(self, addr: Any) -> _Tunnel:
        return _Tunnel(self.request)

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        _answer(
            self.request, http.BAD_GATEWAY, f"502 Bad Gateway: could not connect ({reason.value})"
        )


def _openTunnel(request: ProxyRequest) -> None:
    host, colon, portText = request.uri.rpartition(b":")
    host = host.strip(b"[]")
    if not colon or not host or not portText.isdigit() or not 0 < int(portText) < 65536:
        _answer(request, http.BAD_REQUEST, "400 Bad Request: CONNECT names host:port")
        return
    request.reactor.connectTCP(host.decode("idna"), int(portText), _TunnelFactory(request))


class Proxy(HTTPChannel):
    """A forward HTTP proxy's connection: listen with an HTTPFactory whose protocol it is.

    With `ProxyRequest.allowConnect` set (in a subclass), CONNECT opens a TCP tunnel
    to the host:port asked for and the connection carries bytes both ways from then
    on. Anyone who can reach such a proxy can make connections from its host, so
    listen only where your clients are, or check `uri` in `process` first.
    """

    requestFactory = ProxyRequest
    _tunnel: _Tunnel | None = None

    def dataReceived(self, data: bytes) -> None:
        tunnel = self._tunnel
        if tunnel is not None:
            tunnel.transport.write(data)
            return
        super().dataReceived(data)

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        tunnel, self._tunnel = self._tunnel, None
        if tunnel is not None and tunnel.transport is not None:
            tunnel.transport.loseConnection()
        super().connectionLost(reason)


class ReverseProxyRequest(http.Request):
    """A request sent on, as it is, to the channel's factory's `host` and `port`."""

    proxyClientFactoryClass = ProxyClientFactory

    def __init__(self, channel: HTTPChannel, queued: object = None, reactor: Any = None) -> None:
        super().__init__(channel, queued)
        if reactor is None:
            reactor = getattr(channel.factory, "_reactor", None)
        if reactor is None:
            from torsion.web._channel import _defaultReactor

            reactor = _defaultReactor()
        self.reactor = reactor

    def process(self) -> None:
        factory = self.channel.factory
        host = factory.host.decode("ascii") if isinstance(factory.host, bytes) else factory.host
        self.requestHeaders.setRawHeaders(b"host", [host.encode("ascii")])
        headers = Headers()
        for name, values in _forwardable(self.requestHeaders, frozenset((b"content-length",))):
            headers._raw[name] = list(values)
        clientFactory = self.proxyClientFactoryClass(
            self.method, self.uri, self.clientproto, headers, self.content.read(), self
        )
        self.reactor.connectTCP(host, factory.port, clientFactory)


class ReverseProxy(HTTPChannel):
    """A channel that forwards every request to its factory's host and port."""

    requestFactory = ReverseProxyRequest
