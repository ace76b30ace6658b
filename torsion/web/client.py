"""The HTTP client: Agent and its connection pool, HTTPS that verifies, and helpers.

`Agent(reactor).request(method, uri, headers=None, bodyProducer=None)` returns a
Deferred of an IResponse (torsion/web/_newclient.py's Response); `readBody(response)`
collects its body. Agents compose: RedirectAgent, BrowserLikeRedirectAgent,
ContentDecoderAgent (with GzipDecoder), CookieAgent (torsion/web/_agentwrappers.py)
each wrap another agent, and ProxyAgent sends every request to an HTTP proxy.

Connections come from an `HTTPConnectionPool`. By default each Agent has a
non-persistent one (a connection per request, closed after); pass
`HTTPConnectionPool(reactor)` to keep up to `maxPersistentPerHost` idle connections per
(scheme, host, port) for `cachedConnectionTimeout` seconds. A cached connection that
the server closed meanwhile is noticed when the request fails before any response,
and an idempotent request without a body is then retried once on a new connection
(`retryAutomatically`).

HTTPS goes through `BrowserLikePolicyForHTTPS`, which verifies the server's
certificate chain and host name with torsion.internet.ssl.optionsForClientTLS (give it
`trustRoot` for a private CA).

Every Deferred is awaitable, so in an `async def`: `response = await
agent.request(b"GET", url)` and `body = await readBody(response)`; to bound the whole
exchange, `agent.request(...).addTimeout(seconds, reactor)` fails it with TimeoutError
and drops the connection.

Tests: tests/web/test_client.py, tests/web/test_newclient.py.
"""

from __future__ import annotations

import io
import re
from typing import IO, Any

from zope.interface import implementer

from torsion.internet import defer, protocol, task
from torsion.internet.defer import CancelledError, Deferred
from torsion.internet.endpoints import HostnameEndpoint, wrapClientTLS
from torsion.internet.error import ConnectionDone, ConnectionLost
from torsion.python.failure import Failure
from torsion.web import error
from torsion.web._newclient import (
    HTTP11ClientProtocol,
    PotentialDataLoss,
    Request,
    RequestGenerationFailed,
    RequestNotSent,
    RequestTransmissionFailed,
    Response,
    ResponseDone,
    ResponseFailed,
    ResponseNeverReceived,
)
from torsion.web.http_headers import Headers
from torsion.web.iweb import (
    UNKNOWN_LENGTH,
    IAgent,
    IAgentEndpointFactory,
    IBodyProducer,
    IPolicyForHTTPS,
)

__all__ = [
    "URI",
    "Agent",
    "BrowserLikePolicyForHTTPS",
    "BrowserLikeRedirectAgent",
    "ContentDecoderAgent",
    "CookieAgent",
    "FileBodyProducer",
    "GzipDecoder",
    "HTTPConnectionPool",
    "HostnameCachingHTTPSPolicy",
    "PartialDownloadError",
    "PotentialDataLoss",
    "ProxyAgent",
    "RedirectAgent",
    "RequestGenerationFailed",
    "RequestNotSent",
    "RequestTransmissionFailed",
    "Response",
    "ResponseBodyTooLarge",
    "ResponseDone",
    "ResponseFailed",
    "ResponseNeverReceived",
    "readBody",
]


class PartialDownloadError(error.Error):
    """The body ended with the connection, so it may be cut short; `response` holds it."""


class ResponseBodyTooLarge(Exception):
    """A response body was larger than the limit the reader set (readBody's maxSize,
    GzipDecoder's maxSize); the connection was dropped."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the response body is larger than {limit} bytes; raise the limit "
            "(readBody(response, maxSize=...)) if such bodies are expected"
        )
        self.limit = limit


def _asBytes(value: bytes | str, what: str) -> bytes:
    if isinstance(value, str):
        try:
            return value.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError(
                f"the {what} {value!r} is not ASCII; percent-encode (or IDNA-encode) it first"
            ) from None
    if not isinstance(value, bytes):
        raise TypeError(f"the {what} is bytes or str, not {type(value).__name__}")
    return value


# -- URIs -------------------------------------------------------------------------------

_PORT = re.compile(rb"[0-9]{1,5}")
_UNSAFE = re.compile(rb"[\x00-\x20\x7f]")


class URI:
    """An absolute http(s) URI taken apart: scheme, netloc, host, port, path, query...

    `host` has no brackets around an IPv6 address; `netloc` is as written.
    """

    def __init__(
        self,
        scheme: bytes,
        netloc: bytes,
        host: bytes,
        port: int,
        path: bytes,
        params: bytes,
        query: bytes,
        fragment: bytes,
    ) -> None:
        self.scheme = scheme
        self.netloc = netloc
        self.host = host
        self.port = port
        self.path = path
        self.params = params
        self.query = query
        self.fragment = fragment

    def __repr__(self) -> str:
        return f"URI.fromBytes({self.toBytes()!r})"

    @classmethod
    def fromBytes(cls, uri: bytes | str, defaultPort: int | None = None) -> URI:
        """Parse an absolute URI; a missing port is the scheme's (80, 443) or `defaultPort`.

        Raises:
            ValueError: the URI is not absolute, or its port is not a number.
        """
        raw = _asBytes(uri, "URI").strip()
        if _UNSAFE.search(raw) is not None:
            raise ValueError(
                f"the URI {raw!r} holds spaces or control characters; percent-encode them"
            )
        scheme, sep, rest = raw.partition(b"://")
        if not sep or not scheme:
            raise ValueError(f"{raw!r} is not an absolute URI (scheme://host/path)")
        scheme = scheme.lower()
        netloc, _, _ = rest.partition(b"/")
        netloc = netloc.partition(b"?")[0].partition(b"#")[0]
        pathAndMore = rest[len(netloc) :]
        pathPart, _, fragment = pathAndMore.partition(b"#")
        pathPart, _, query = pathPart.partition(b"?")
        path, _, params = pathPart.partition(b";")
        hostPort = netloc.rpartition(b"@")[2]
        if defaultPort is None:
            defaultPort = 443 if scheme == b"https" else 80
        if hostPort.startswith(b"["):
            close = hostPort.find(b"]")
            if close < 0:
                raise ValueError(f"the IPv6 address in {raw!r} has no closing bracket")
            host, portText = hostPort[1:close], hostPort[close + 1 :].removeprefix(b":")
        else:
            host, _, portText = hostPort.partition(b":")
        if portText:
            if not _PORT.fullmatch(portText) or not 0 < int(portText) < 65536:
                raise ValueError(f"the port in {raw!r} is not a number from 1 to 65535")
            port = int(portText)
        else:
            port = defaultPort
        if not host:
            raise ValueError(f"{raw!r} names no host")
        return cls(scheme, netloc, host.lower(), port, path, params, query, fragment)

    def toBytes(self) -> bytes:
        uri = self.scheme + b"://" + self.netloc + self.path
        if self.params:
            uri += b";" + self.params
        if self.query:
            uri += b"?" + self.query
        if self.fragment:
            uri += b"#" + self.fragment
        return uri

    @property
    def originForm(self) -> bytes:
        """The request target for a server: path, params and query (b"/" at least)."""
        target = self.path or b"/"
        if self.params:
            target += b";" + self.params
        if self.query:
            target += b"?" + self.query
        return target


def _hostHeader(scheme: bytes, host: bytes, port: int) -> bytes:
    if b":" in host:
        host = b"[" + host + b"]"
    if (scheme, port) in ((b"http", 80), (b"https", 443)):
        return host
    return host + b":%d" % port


# -- HTTPS policy and endpoints ----------------------------------------------------------


@implementer(IPolicyForHTTPS)
class BrowserLikePolicyForHTTPS:
    """Verify HTTPS servers as a browser does: a trusted chain, for the host asked for.

    `trustRoot` replaces the system's trust store (a private CA; anything
    optionsForClientTLS takes).
    """

    def __init__(self, trustRoot: Any = None) -> None:
        self._trustRoot = trustRoot

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
        from torsion.internet.ssl import optionsForClientTLS

        name = hostname.decode("idna") if isinstance(hostname, bytes) else hostname
        return optionsForClientTLS(name, trustRoot=self._trustRoot)


@implementer(IPolicyForHTTPS)
class HostnameCachingHTTPSPolicy:
    """Wraps a policy and keeps the TLS settings of the last `cacheSize` hosts, so a
    client talking to the same hosts again does not build a context each time."""

    def __init__(self, policyforHTTPS: Any, cacheSize: int = 20) -> None:
        self._policyForHTTPS = policyforHTTPS
        self._cacheSize = cacheSize
        self._cache: dict[bytes, Any] = {}

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
        creator = self._cache.pop(hostname, None)
        if creator is None:
            creator = self._policyForHTTPS.creatorForNetloc(hostname, port)
            if len(self._cache) >= self._cacheSize:
                del self._cache[next(iter(self._cache))]
        self._cache[hostname] = creator
        return creator


@implementer(IAgentEndpointFactory)
class _StandardEndpointFactory:
    """The endpoints a plain Agent connects to: TCP to the host, TLS over it for https."""

    def __init__(
        self,
        reactor: Any,
        contextFactory: Any,
        connectTimeout: float | None,
        bindAddress: tuple[str, int] | None,
    ) -> None:
        self._reactor = reactor
        self._policy = contextFactory
        self._connectTimeout = connectTimeout
        self._bindAddress = bindAddress

    def endpointForURI(self, uri: URI) -> Any:
        if uri.scheme not in (b"http", b"https"):
            raise error.SchemeNotSupported(
                f"unsupported scheme {uri.scheme.decode('latin-1')!r}: "
                "an Agent speaks http and https"
            )
        kwargs: dict[str, Any] = {}
        if self._connectTimeout is not None:
            kwargs["timeout"] = self._connectTimeout
        if self._bindAddress is not None:
            kwargs["bindAddress"] = self._bindAddress
        endpoint: Any = HostnameEndpoint(self._reactor, uri.host, uri.port, **kwargs)
        if uri.scheme == b"https":
            creator = self._policy.creatorForNetloc(uri.host, uri.port)
            endpoint = wrapClientTLS(creator, endpoint)
        return endpoint


# -- the connection pool ---------------------------------------------------------------------


class _HTTP11ClientFactory(protocol.Factory):
    """Builds the HTTP11ClientProtocol of one pooled connection."""

    noisy = False

    def __init__(self, quiescentCallback: Any, metadata: Any) -> None:
        self._quiescentCallback = quiescentCallback
        self._metadata = metadata

    def __repr__(self) -> str:
        return f"_HTTP11ClientFactory({self._quiescentCallback!r}, {self._metadata!r})"

    def buildProtocol(self, addr: Any) -> HTTP11ClientProtocol:
        return HTTP11ClientProtocol(self._quiescentCallback)


_IDEMPOTENT = frozenset((b"GET", b"HEAD", b"OPTIONS", b"DELETE", b"TRACE"))


def _shouldRetry(method: bytes, exception: BaseException, bodyProducer: Any) -> bool:
    """Did a cached connection fail only because the server had closed it?"""
    if method not in _IDEMPOTENT or bodyProducer is not None:
        return False
    if isinstance(exception, RequestNotSent):
        return True
    if not isinstance(exception, (ResponseNeverReceived, RequestTransmissionFailed)):
        return False
    return all(reason.check(ConnectionDone, ConnectionLost) for reason in exception.reasons)


class _RetryingHTTP11ClientProtocol:
    """A cached connection that retries a request once on a new one if it was stale."""

    def __init__(self, clientProtocol: HTTP11ClientProtocol, newConnection: Any) -> None:
        self._clientProtocol = clientProtocol
        self._newConnection = newConnection

    def request(self, request: Request) -> Deferred[Response]:
        d = self._clientProtocol.request(request)

        def failed(reason: Failure) -> Any:
            if _shouldRetry(request.method, reason.value, request.bodyProducer):
                again: Deferred[Any] = self._newConnection()
                return again.addCallback(lambda connection: connection.request(request))
            return reason

        return d.addErrback(failed)


class HTTPConnectionPool:
    """Where an Agent's connections come from, and where idle ones wait to be reused.

    With `persistent=False` every request gets a new connection, closed after the
    response. Otherwise up to `maxPersistentPerHost` idle connections per key are
    kept for `cachedConnectionTimeout` seconds each.
    """

    maxPersistentPerHost = 2
    cachedConnectionTimeout = 240.0
    retryAutomatically = True
    _factory = _HTTP11ClientFactory

    def __init__(self, reactor: Any, persistent: bool = True) -> None:
        self._reactor = reactor
        self.persistent = persistent
        self._connections: dict[Any, list[HTTP11ClientProtocol]] = {}
        self._timeouts: dict[HTTP11ClientProtocol, Any] = {}

    def getConnection(self, key: Any, endpoint: Any) -> Deferred[Any]:
        """A connection for `key`: an idle cached one, else a new one through `endpoint`."""
        connections = self._connections.get(key)
        while connections:
            connection = connections.pop(0)
            self._timeouts.pop(connection).cancel()
            connection._idleLost = None
            if not connections:
                del self._connections[key]
            if connection.state == "QUIESCENT" and connection.transport is not None:
                if self.retryAutomatically:
                    retrying = _RetryingHTTP11ClientProtocol(
                        connection, lambda: self._newConnection(key, endpoint)
                    )
                    return defer.succeed(retrying)
                return defer.succeed(connection)
        return self._newConnection(key, endpoint)

    def _newConnection(self, key: Any, endpoint: Any) -> Deferred[Any]:
        def quiescentCallback(connection: HTTP11ClientProtocol) -> None:
            self._putConnection(key, connection)

        connected: Deferred[Any] = endpoint.connect(
            self._factory(quiescentCallback, repr(endpoint))
        )
        return connected

    def _putConnection(self, key: Any, connection: HTTP11ClientProtocol) -> None:
        if not self.persistent:
            connection.transport.loseConnection()
            return
        if connection.state != "QUIESCENT":
            return
        connections = self._connections.setdefault(key, [])
        if len(connections) >= self.maxPersistentPerHost:
            dropped = connections.pop(0)
            self._timeouts.pop(dropped).cancel()
            dropped._idleLost = None
            dropped.transport.loseConnection()
        connections.append(connection)
        self._timeouts[connection] = self._reactor.callLater(
            self.cachedConnectionTimeout, self._removeConnection, key, connection
        )
        connection._idleLost = lambda lost: self._forget(key, lost)

    def _forget(self, key: Any, connection: HTTP11ClientProtocol) -> None:
        """A cached connection closed (the server timed it out): drop it from the cache."""
        timeout = self._timeouts.pop(connection, None)
        if timeout is not None and timeout.active():
            timeout.cancel()
        connections = self._connections.get(key, [])
        if connection in connections:
            connections.remove(connection)
            if not connections:
                del self._connections[key]

    def _removeConnection(self, key: Any, connection: HTTP11ClientProtocol) -> None:
        self._timeouts.pop(connection, None)
        connection._idleLost = None
        connections = self._connections.get(key, [])
        if connection in connections:
            connections.remove(connection)
            if not connections:
                del self._connections[key]
        if connection.transport is not None:
            connection.transport.loseConnection()

    def closeCachedConnections(self) -> Deferred[None]:
        """Close every idle connection; the Deferred fires when all are closed."""
        closing = []
        for connections in self._connections.values():
            for connection in connections:
                self._timeouts.pop(connection).cancel()
                connection._idleLost = None
                closing.append(connection.abort())
        self._connections = {}
        done: Deferred[Any] = defer.gatherResults(closing)
        return done.addCallback(lambda _: None)


# -- agents ----------------------------------------------------------------------------------


def _cancellable(inner: Deferred[Any]) -> Deferred[Any]:
    """`inner`'s outcome, except that cancelling gives CancelledError at every stage.

    (A connection attempt cancelled fails with ConnectingCancelledError, an endpoint's
    canceller may fail otherwise; callers of an agent, and addTimeout, expect
    CancelledError.)
    """
    cancelled = False

    def cancel(_: Deferred[Any]) -> None:
        nonlocal cancelled
        cancelled = True
        inner.cancel()

    outer: Deferred[Any] = Deferred(cancel)

    def failed(reason: Failure) -> None:
        if cancelled and not reason.check(CancelledError):
            reason = Failure(CancelledError())
        outer.errback(reason)

    inner.addCallbacks(outer.callback, failed)
    return outer


class _AgentBase:
    """What Agent and ProxyAgent share: building the request and sending it."""

    def __init__(self, reactor: Any, pool: HTTPConnectionPool | None) -> None:
        if pool is None:
            pool = HTTPConnectionPool(reactor, persistent=False)
        self._reactor = reactor
        self._pool = pool

    def _requestWithEndpoint(
        self,
        key: Any,
        endpoint: Any,
        method: bytes,
        parsedURI: URI,
        headers: Headers | None,
        bodyProducer: Any,
        requestPath: bytes,
    ) -> Deferred[Response]:
        if headers is not None and not isinstance(headers, Headers):
            raise TypeError(
                f"headers is a torsion.web.http_headers.Headers, not {type(headers).__name__}: "
                "Headers({b'name': [b'value']})"
            )
        if bodyProducer is not None and not hasattr(bodyProducer, "startProducing"):
            raise TypeError(
                f"bodyProducer is an IBodyProducer, not {type(bodyProducer).__name__}; "
                "for bytes in memory use FileBodyProducer(io.BytesIO(data))"
            )
        headers = Headers() if headers is None else headers.copy()
        raw = headers._raw
        if b"host" not in raw:
            # URI.fromBytes refused controls and spaces, so the value is safe as it is.
            raw[b"host"] = [_hostHeader(parsedURI.scheme, parsedURI.host, parsedURI.port)]
        request = Request._construct(
            method, requestPath, headers, bodyProducer, self._pool.persistent, parsedURI
        )
        connecting = self._pool.getConnection(key, endpoint)
        return _cancellable(connecting.addCallback(lambda connection: connection.request(request)))


def _methodAndURI(method: bytes | str, uri: bytes | str) -> tuple[bytes, URI]:
    return _asBytes(method, "method"), URI.fromBytes(uri)


@implementer(IAgent)
class Agent(_AgentBase):
    """Makes HTTP and HTTPS requests, each answered by a Deferred of its Response.

    `contextFactory` (an IPolicyForHTTPS) chooses each HTTPS connection's TLS
    settings; `connectTimeout` bounds each connection attempt; `bindAddress` is the
    local (host, port) to connect from; `pool` shares connections (see
    HTTPConnectionPool). Method and URI are bytes, or ASCII text.
    """

    def __init__(
        self,
        reactor: Any,
        contextFactory: Any = None,
        connectTimeout: float | None = None,
        bindAddress: tuple[str, int] | None = None,
        pool: HTTPConnectionPool | None = None,
    ) -> None:
        if contextFactory is None:
            contextFactory = BrowserLikePolicyForHTTPS()
        if not IPolicyForHTTPS.providedBy(contextFactory):
            raise TypeError(
                f"contextFactory {contextFactory!r} is not an IPolicyForHTTPS; use "
                "BrowserLikePolicyForHTTPS(trustRoot=...) to choose whom to trust"
            )
        self._init(
            reactor,
            _StandardEndpointFactory(reactor, contextFactory, connectTimeout, bindAddress),
            pool,
        )

    def _init(self, reactor: Any, endpointFactory: Any, pool: HTTPConnectionPool | None) -> None:
        _AgentBase.__init__(self, reactor, pool)
        self._endpointFactory = endpointFactory

    @classmethod
    def usingEndpointFactory(
        cls, reactor: Any, endpointFactory: Any, pool: HTTPConnectionPool | None = None
    ) -> Agent:
        """An Agent that asks `endpointFactory.endpointForURI(uri)` where to connect."""
        agent = cls.__new__(cls)
        agent._init(reactor, endpointFactory, pool)
        return agent

    def request(
        self,
        method: bytes | str,
        uri: bytes | str,
        headers: Headers | None = None,
        bodyProducer: Any = None,
    ) -> Deferred[Response]:
        """Send a request; the Deferred fires with the Response once its head is in.

        It fails with SchemeNotSupported for a scheme other than http(s), the
        connection's error if connecting fails (ConnectionRefusedError,
        DNSLookupError, ...), or ResponseFailed and its kin (torsion.web._newclient).
        """
        try:
            rawMethod, parsedURI = _methodAndURI(method, uri)
            endpoint = self._endpointFactory.endpointForURI(parsedURI)
        except Exception:
            return defer.fail()
        key = (parsedURI.scheme, parsedURI.host, parsedURI.port)
        try:
            return self._requestWithEndpoint(
                key, endpoint, rawMethod, parsedURI, headers, bodyProducer, parsedURI.originForm
            )
        except Exception:
            return defer.fail()


@implementer(IAgent)
class ProxyAgent(_AgentBase):
    """Sends every request to the HTTP proxy at `endpoint`, in absolute form.

    Only http URIs go through it: the proxy sees the requests, so https through a
    proxy needs a CONNECT tunnel, which this agent does not make (SchemeNotSupported).
    """

    def __init__(self, endpoint: Any, reactor: Any = None, pool: HTTPConnectionPool | None = None):
        if reactor is None:
            from torsion.web._channel import _defaultReactor

            reactor = _defaultReactor()
        super().__init__(reactor, pool)
        self._proxyEndpoint = endpoint

    def request(
        self,
        method: bytes | str,
        uri: bytes | str,
        headers: Headers | None = None,
        bodyProducer: Any = None,
    ) -> Deferred[Response]:
        try:
            rawMethod, parsedURI = _methodAndURI(method, uri)
            if parsedURI.scheme != b"http":
                raise error.SchemeNotSupported(
                    f"ProxyAgent forwards http URIs only, not "
                    f"{parsedURI.scheme.decode('latin-1')!r} (no CONNECT tunnels)"
                )
            target = parsedURI.toBytes().partition(b"#")[0]
            if not parsedURI.path:
                target = URI(
                    parsedURI.scheme,
                    parsedURI.netloc,
                    parsedURI.host,
                    parsedURI.port,
                    b"/",
                    parsedURI.params,
                    parsedURI.query,
                    b"",
                ).toBytes()
            key = ("http-proxy", self._proxyEndpoint)
            return self._requestWithEndpoint(
                key, self._proxyEndpoint, rawMethod, parsedURI, headers, bodyProducer, target
            )
        except Exception:
            return defer.fail()


# -- reading bodies ----------------------------------------------------------------------------


class _ReadBodyProtocol(protocol.Protocol):
    """Collects a body for readBody, within its size limit."""

    def __init__(self, status: int, message: bytes, deferred: Deferred[bytes], maxSize: int | None):
        self.status = status
        self.message = message
        self.deferred = deferred
        self.maxSize = maxSize
        self.dataBuffer: list[bytes] = []
        self.received = 0

    def dataReceived(self, data: bytes) -> None:
        if self.deferred.called:
            return
        self.received += len(data)
        if self.maxSize is not None and self.received > self.maxSize:
            self.deferred.errback(ResponseBodyTooLarge(self.maxSize))
            self.dataBuffer = []
            self.transport.stopProducing()
            return
        self.dataBuffer.append(data)

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        if self.deferred.called:
            return
        failure = reason if isinstance(reason, Failure) else Failure(reason)
        body = b"".join(self.dataBuffer)
        if failure.check(ResponseDone):
            self.deferred.callback(body)
        elif failure.check(PotentialDataLoss):
            self.deferred.errback(PartialDownloadError(self.status, self.message, body))
        else:
            self.deferred.errback(failure)


def readBody(response: Any, maxSize: int | None = None) -> Deferred[bytes]:
    """The whole body of `response`, once it has arrived.

    It fails with PartialDownloadError (its `response` attribute holds the body) when
    the server ended the body by closing the connection without saying its length,
    with ResponseFailed if the body was cut off, and with ResponseBodyTooLarge (the
    connection dropped) once more than `maxSize` bytes arrive. Cancelling it drops
    the connection.
    """
    reader: _ReadBodyProtocol | None = None

    def cancel(d: Deferred[bytes]) -> None:
        d.errback(Failure(CancelledError()))
        if reader is not None and reader.transport is not None:
            reader.transport.stopProducing()

    d: Deferred[bytes] = Deferred(cancel)
    reader = _ReadBodyProtocol(response.code, response.phrase, d, maxSize)
    response.deliverBody(reader)
    return d


# -- request bodies --------------------------------------------------------------------------------


@implementer(IBodyProducer)
class FileBodyProducer:
    """A request body read from a binary file, `readSize` bytes per turn of the reactor.

    Its length is what is left of a seekable file (so it is sent with a
    Content-Length), else UNKNOWN_LENGTH (chunked). The file is closed once read.
    """

    def __init__(self, inputFile: IO[bytes], cooperator: Any = task, readSize: int = 2**16):
        self._inputFile = inputFile
        self._cooperate = cooperator.cooperate
        self._readSize = readSize
        self._task: Any = None
        self._paused = False
        self.length: int | str = self._determineLength(inputFile)

    @staticmethod
    def _determineLength(inputFile: IO[bytes]) -> int | str:
        try:
            seek, tell = inputFile.seek, inputFile.tell
            here = tell()
            end = seek(0, io.SEEK_END)
            seek(here, io.SEEK_SET)
        except (AttributeError, OSError, ValueError):
            return UNKNOWN_LENGTH
        return int(end - here)

    def startProducing(self, consumer: Any) -> Deferred[None]:
        """Write the file to `consumer`; the Deferred fires when it is all written."""
        self._task = self._cooperate(self._writeloop(consumer))
        finished: Deferred[Any] = self._task.whenDone()

        def maybeStopped(reason: Failure) -> Any:
            from torsion.internet.task import TaskStopped

            reason.trap(TaskStopped)
            return Deferred()  # stopped: the request was abandoned, nobody waits

        return finished.addCallbacks(lambda _: None, maybeStopped)

    def _writeloop(self, consumer: Any) -> Any:
        while True:
            data = self._inputFile.read(self._readSize)
            if not data:
                self._inputFile.close()
                return
            consumer.write(data)
            yield None

    def pauseProducing(self) -> None:
        if self._task is not None and not self._paused:
            try:
                self._task.pause()
            except Exception:
                return  # finished already
            self._paused = True

    def resumeProducing(self) -> None:
        if self._task is not None and self._paused:
            self._paused = False
            self._task.resume()

    def stopProducing(self) -> None:
        self._inputFile.close()
        if self._task is not None:
            try:
                self._task.stop()
            except Exception:
                pass  # finished already


# The wrapping agents live in their own module; they are part of this one's API.
from torsion.web._agentwrappers import (  # noqa: E402
    BrowserLikeRedirectAgent,
    ContentDecoderAgent,
    CookieAgent,
    GzipDecoder,
    RedirectAgent,
)
