"""Agents that wrap another agent: redirects, content decoding (gzip), cookies.

They are re-exported by torsion.web.client, where users find them; each takes the
agent to wrap first and is itself an IAgent, so they stack:
`CookieAgent(RedirectAgent(ContentDecoderAgent(Agent(reactor), [(b"gzip",
GzipDecoder)])), jar)`.

Redirects (RFC 9110 section 15.4): RedirectAgent follows 301, 302, 307 and 308 for GET
and HEAD and turns a 303 into a GET; other methods get a ResponseFailed holding a
PageRedirect, since re-sending a body is the caller's decision.
BrowserLikeRedirectAgent does what browsers do instead: 301, 302 and 303 become a GET,
307 and 308 are refused for methods other than GET and HEAD. Relative Locations are
resolved against the request's URI; credentials and cookies are not sent on to
another origin.

GzipDecoder inflates a gzip (or zlib) body as it streams, a bounded piece at a time,
and gives up with ResponseBodyTooLarge once more than `maxSize` bytes come out, so a
small "gzip bomb" cannot make the client hold gigabytes.

Tests: tests/web/test_client.py.
"""

from __future__ import annotations

import email.message
import re
import urllib.request
import zlib
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from zope.interface import implementer

from torsion.internet import protocol
from torsion.internet.defer import Deferred, fail
from torsion.python.failure import Failure
from torsion.web import error
from torsion.web._newclient import ResponseDone, ResponseFailed
from torsion.web.http_headers import Headers
from torsion.web.iweb import UNKNOWN_LENGTH, IAgent, IResponse

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from torsion.web._newclient import Response

__all__ = [
    "BrowserLikeRedirectAgent",
    "ContentDecoderAgent",
    "CookieAgent",
    "GzipDecoder",
    "RedirectAgent",
]


def _origin(uri: bytes) -> tuple[bytes, bytes]:
    from torsion.web.client import URI

    parsed = URI.fromBytes(uri)
    return parsed.scheme, b"%s:%d" % (parsed.host, parsed.port)


class _DiscardBody(protocol.Protocol):
    """Reads a body nobody wants, so that its connection can serve another request."""

    def dataReceived(self, data: bytes) -> None:
        pass

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        pass


_NON_ASCII = re.compile(rb"[\x80-\xff]")
_SENSITIVE = (b"authorization", b"cookie", b"cookie2", b"proxy-authorization", b"www-authenticate")
_BODY_HEADERS = (b"content-type", b"content-length", b"content-encoding", b"transfer-encoding")


@implementer(IAgent)
class RedirectAgent:
    """Follows redirects, at most `redirectLimit` of them (then InfiniteRedirection)."""

    _redirectResponses: Sequence[int] = (301, 302, 307, 308)
    _seeOtherResponses: Sequence[int] = (303,)

    def __init__(self, agent: Any, redirectLimit: int = 20) -> None:
        self._agent = agent
        self._redirectLimit = redirectLimit

    def request(
        self,
        method: bytes | str,
        uri: bytes | str,
        headers: Headers | None = None,
        bodyProducer: Any = None,
    ) -> Deferred[Response]:
        rawMethod = method.encode("ascii") if isinstance(method, str) else method
        rawURI = uri.encode("ascii") if isinstance(uri, str) else uri
        d: Deferred[Response] = self._agent.request(rawMethod, rawURI, headers, bodyProducer)
        return d.addCallback(self._handleResponse, rawMethod, rawURI, headers, 0)

    def _resolveLocation(self, requestURI: bytes, location: bytes) -> bytes:
        resolved = urljoin(requestURI.decode("latin-1"), location.decode("latin-1"))
        raw = resolved.partition("#")[0].encode("latin-1")
        # Servers send UTF-8 in Location now and then; a request line wants it encoded.
        return _NON_ASCII.sub(lambda byte: b"%%%02X" % byte.group()[0], raw)

    def _handleRedirect(
        self,
        response: Response,
        method: bytes,
        uri: bytes,
        headers: Headers | None,
        redirectCount: int,
    ) -> Deferred[Response]:
        locations = response.headers.getRawHeaders(b"location", [])
        if not locations:
            noLocation = error.RedirectWithNoLocation(
                response.code, b"No location header field", uri
            )
            raise ResponseFailed([Failure(noLocation)], response)
        location = self._resolveLocation(uri, locations[0])
        if redirectCount >= self._redirectLimit:
            tooMany = error.InfiniteRedirection(
                response.code, b"Infinite redirection detected", location=location
            )
            raise ResponseFailed([Failure(tooMany)], response)
        response.deliverBody(_DiscardBody())
        if headers is not None:
            headers = headers.copy()
            if _origin(location) != _origin(uri):
                for name in _SENSITIVE:
                    headers.removeHeader(name)
            if method != (response.request.method if response.request else method):
                for name in _BODY_HEADERS:
                    headers.removeHeader(name)
        d: Deferred[Response] = self._agent.request(method, location, headers)

        def chain(newResponse: Response) -> Response:
            newResponse.setPreviousResponse(response)
            return newResponse

        d.addCallback(chain)
        return d.addCallback(self._handleResponse, method, location, headers, redirectCount + 1)

    def _handleResponse(
        self,
        response: Response,
        method: bytes,
        uri: bytes,
        headers: Headers | None,
        redirectCount: int,
    ) -> Any:
        if response.code in self._redirectResponses:
            if method not in (b"GET", b"HEAD"):
                locations = response.headers.getRawHeaders(b"location")
                location = locations[0] if locations else None
                refused = error.PageRedirect(response.code, location=location)
                raise ResponseFailed([Failure(refused)], response)
            return self._handleRedirect(response, method, uri, headers, redirectCount)
        if response.code in self._seeOtherResponses:
            newMethod = b"HEAD" if method == b"HEAD" else b"GET"
            return self._handleRedirect(response, newMethod, uri, headers, redirectCount)
        return response


class BrowserLikeRedirectAgent(RedirectAgent):
    """Follows redirects as browsers do: 301, 302 and 303 turn any method into GET."""

    _redirectResponses = (307, 308)
    _seeOtherResponses = (301, 302, 303)


# -- content decoding --------------------------------------------------------------------------


@implementer(IResponse)
class _ResponseWrapper:
    """A Response seen through a decoder: the same, but for its headers and body."""

    def __init__(self, original: Any) -> None:
        self.original = original
        self.headers = original.headers.copy()
        self.length: int | str = UNKNOWN_LENGTH

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["original"], name)

    def deliverBody(self, protocol: Any) -> None:
        raise NotImplementedError


class GzipDecoder(_ResponseWrapper):
    """A response whose gzip (or zlib) Content-Encoding is undone as the body arrives.

    Use it as a ContentDecoderAgent decoder; a different limit is
    `functools.partial(GzipDecoder, maxSize=...)`.
    """

    maxSize = 100 * 1024 * 1024

    def __init__(self, response: Any, maxSize: int | None = None) -> None:
        super().__init__(response)
        if maxSize is not None:
            self.maxSize = maxSize

    def deliverBody(self, protocol: Any) -> None:
        self.original.deliverBody(_GzipProtocol(protocol, self.original, self.maxSize))


class _GzipProtocol(protocol.Protocol):
    """Inflates a body for the protocol behind it, bounded per step and in total."""

    _step = 65536

    def __init__(self, protocol: Any, response: Any, maxSize: int) -> None:
        self._protocol = protocol
        self._response = response
        self._maxSize = maxSize
        self._inflate = zlib.decompressobj(zlib.MAX_WBITS | 32)
        self._produced = 0
        self._compressed = 0
        self._failed = False

    def makeConnection(self, transport: Any) -> None:
        self.transport = transport
        self._protocol.makeConnection(transport)

    def dataReceived(self, data: bytes) -> None:
        if self._failed:
            return
        self._compressed += len(data)
        try:
            while data:
                inflate = self._inflate
                if inflate.eof:
                    if not data.strip(b"\0"):
                        return  # padding after the last member, as some servers send
                    # gzip allows several members one after the other (RFC 1952 2.2).
                    inflate = self._inflate = zlib.decompressobj(zlib.MAX_WBITS | 32)
                out = inflate.decompress(data, self._step)
                data = inflate.unconsumed_tail or inflate.unused_data
                if out:
                    self._produced += len(out)
                    if self._produced > self._maxSize:
                        from torsion.web.client import ResponseBodyTooLarge

                        self._fail(ResponseBodyTooLarge(self._maxSize))
                        return
                    self._protocol.dataReceived(out)
        except zlib.error as corrupt:
            self._fail(corrupt)

    def _fail(self, problem: BaseException) -> None:
        self._failed = True
        self._protocol.connectionLost(Failure(ResponseFailed([Failure(problem)], self._response)))
        self.transport.stopProducing()

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        if self._failed:
            return
        failure = reason if isinstance(reason, Failure) else Failure(reason)
        if failure.check(ResponseDone) and self._compressed:
            try:
                rest = self._inflate.flush()
            except zlib.error as corrupt:
                self._protocol.connectionLost(
                    Failure(ResponseFailed([Failure(corrupt)], self._response))
                )
                return
            if not self._inflate.eof:
                truncated = zlib.error("the compressed body ended before its end marker")
                self._protocol.connectionLost(
                    Failure(ResponseFailed([Failure(truncated)], self._response))
                )
                return
            if rest:
                self._protocol.dataReceived(rest)
        self._protocol.connectionLost(failure)


@implementer(IAgent)
class ContentDecoderAgent:
    """Asks for compressed bodies and decodes them: `decoders` is [(name, factory)].

    The names go into Accept-Encoding; a response whose last Content-Encoding is one
    of them is wrapped by its factory (GzipDecoder for b"gzip").
    """

    def __init__(self, agent: Any, decoders: Sequence[tuple[bytes, Callable[[Any], Any]]]):
        self._agent = agent
        self._decoders = {name.lower(): factory for name, factory in decoders}
        self._supported = b",".join(name for name, _ in decoders)

    def request(
        self,
        method: bytes | str,
        uri: bytes | str,
        headers: Headers | None = None,
        bodyProducer: Any = None,
    ) -> Deferred[Any]:
        headers = Headers() if headers is None else headers.copy()
        headers.addRawHeader(b"accept-encoding", self._supported)
        d: Deferred[Any] = self._agent.request(method, uri, headers, bodyProducer)
        return d.addCallback(self._handleResponse)

    def _handleResponse(self, response: Any) -> Any:
        encodings = response.headers.getRawHeaders(b"content-encoding")
        if not encodings:
            return response
        codings = [c.strip().lower() for value in encodings for c in value.split(b",") if c.strip()]
        if not codings or codings[-1] not in self._decoders:
            return response
        decoded = self._decoders[codings.pop()](response)
        if codings:
            decoded.headers.setRawHeaders(b"content-encoding", [b", ".join(codings)])
        else:
            decoded.headers.removeHeader(b"content-encoding")
        decoded.headers.removeHeader(b"content-length")
        return decoded


# -- cookies ----------------------------------------------------------------------------------


class _CookieResponse:
    """What http.cookiejar reads a response's Set-Cookie headers through."""

    def __init__(self, response: Any) -> None:
        self._response = response

    def info(self) -> email.message.Message:
        message = email.message.Message()
        for name in ("Set-Cookie", "Set-Cookie2"):
            for value in self._response.headers.getRawHeaders(name, []):
                message[name] = value
        return message


@implementer(IAgent)
class CookieAgent:
    """Sends the cookies of `cookieJar` (an http.cookiejar.CookieJar) and stores new ones."""

    def __init__(self, agent: Any, cookieJar: Any) -> None:
        self._agent = agent
        self.cookieJar = cookieJar

    def request(
        self,
        method: bytes | str,
        uri: bytes | str,
        headers: Headers | None = None,
        bodyProducer: Any = None,
    ) -> Deferred[Any]:
        try:
            textURI = uri.decode("ascii") if isinstance(uri, bytes) else uri
            textMethod = method.decode("ascii") if isinstance(method, bytes) else method
            stdlibRequest = urllib.request.Request(textURI, method=textMethod)
            headers = Headers() if headers is None else headers.copy()
            if not headers.hasHeader(b"cookie"):
                self.cookieJar.add_cookie_header(stdlibRequest)
                cookie = stdlibRequest.get_header("Cookie")
                if cookie is not None:
                    headers.addRawHeader(b"cookie", cookie)
        except Exception:
            return fail()
        d: Deferred[Any] = self._agent.request(method, uri, headers, bodyProducer)

        def extract(response: Any) -> Any:
            self.cookieJar.extract_cookies(_CookieResponse(response), stdlibRequest)
            return response

        return d.addCallback(extract)
