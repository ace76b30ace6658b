"""The HTTP/1.1 client protocol: one connection, one request at a time, bodies streamed.

`HTTP11ClientProtocol` writes a `Request` (its body pulled from an IBodyProducer with
the producer registered on the transport, so a slow server slows the body down) and
reads the answer with the sans-IO `ResponseParser` of torsion/web/_http11.py. The
`Response` is handed out as soon as its head is in; its body reaches the protocol
given to `Response.deliverBody`, with back-pressure: while that protocol has paused
its transport, or before it is given, nothing more is read from the connection than
one small buffer holds.

How a body ends, as the body protocol's connectionLost sees it:

- `ResponseDone`: the body is complete (its length, its last chunk, or no body);
- `PotentialDataLoss`: the server framed the body by closing the connection, so
  nothing tells a complete body from a cut one;
- `ResponseFailed`: the connection broke, the framing was bad, or the body was
  abandoned (`stopProducing`); what arrived before was delivered.

When the response (and the request's body) are complete and both sides meant to keep
the connection, the protocol calls `quiescentCallback(self)`, which is how a
connection pool takes it back (torsion/web/client.py).

Tests: tests/web/test_newclient.py (in memory), tests/web/test_client.py (sockets).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from zope.interface import implementer

from torsion.internet import defer, protocol
from torsion.internet.defer import CancelledError, Deferred
from torsion.internet.error import ConnectionAborted, ConnectionDone
from torsion.internet.interfaces import IConsumer, IPushProducer
from torsion.python import log
from torsion.python.failure import Failure
from torsion.web import _http11
from torsion.web.http_headers import Headers, canonicalName
from torsion.web.iweb import UNKNOWN_LENGTH, IResponse

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = [
    "HTTP11ClientProtocol",
    "PotentialDataLoss",
    "Request",
    "RequestGenerationFailed",
    "RequestNotSent",
    "RequestTransmissionFailed",
    "Response",
    "ResponseDone",
    "ResponseFailed",
    "ResponseNeverReceived",
    "WrongBodyLength",
]


# -- errors ------------------------------------------------------------------------------


class ResponseDone(Exception):
    """The body was delivered completely (given to the body protocol's connectionLost)."""


class PotentialDataLoss(Exception):
    """The body ended when the server closed the connection, which may have cut it.

    A response without Content-Length or chunked framing can only end that way, so
    this is no sign of trouble by itself; readBody reports it as PartialDownloadError
    with the data.
    """


class _WrapperException(Exception):
    """An error caused by other errors: `reasons` is the list of their Failures."""

    def __init__(self, reasons: Sequence[Failure]) -> None:
        super().__init__(reasons)
        self.reasons = list(reasons)

    def __str__(self) -> str:
        causes = "; ".join(f"{r.type.__name__}: {r.value}" for r in self.reasons)
        return f"{type(self).__name__}: {causes}" if causes else type(self).__name__


class ResponseFailed(_WrapperException):
    """The response could not be read to its end; `response` is the Response, if any."""

    def __init__(self, reasons: Sequence[Failure], response: Response | None = None) -> None:
        super().__init__(reasons)
        self.response = response


class ResponseNeverReceived(ResponseFailed):
    """The connection ended (or failed) before the response's head arrived."""


class RequestGenerationFailed(_WrapperException):
    """The request's body producer failed, so the request was not completely sent."""


class RequestTransmissionFailed(_WrapperException):
    """The connection broke while the request was being sent."""


class RequestNotSent(Exception):
    """The connection was busy with another request or closed: nothing was sent."""

    def __str__(self) -> str:
        return (
            "the request was not sent: this connection is busy with another request "
            "or is closed; use a new connection (an Agent does this for you)"
        )


class WrongBodyLength(Exception):
    """A body producer wrote a different number of bytes than its `length` promised."""


# -- the request -----------------------------------------------------------------------------

_FRAMING = frozenset((b"content-length", b"transfer-encoding"))


def _isUnknownLength(length: object) -> bool:
    return length is UNKNOWN_LENGTH or length == UNKNOWN_LENGTH


class Request:
    """A request to send: method, request target, headers and an optional body producer.

    `uri` is the request target as written on the request line: the origin form
    (b"/path?query") for a server, the absolute form for a proxy. `persistent` says
    whether the connection may be kept for another request afterwards; if not, the
    request carries "Connection: close".
    """

    __slots__ = ("_parsedURI", "bodyProducer", "headers", "method", "persistent", "uri")

    def __init__(
        self,
        method: bytes,
        uri: bytes,
        headers: Headers | None,
        bodyProducer: Any,
        persistent: bool = False,
    ) -> None:
        if not isinstance(method, bytes) or not method or not method.isalpha():
            raise ValueError(f"the method is a bytes token such as b'GET', not {method!r}")
        if not isinstance(uri, bytes) or any(c <= 0x20 or c == 0x7F for c in uri):
            raise ValueError(
                f"the request target {uri!r} must be bytes without spaces or control "
                "characters; percent-encode them"
            )
        self.method = method
        self.uri = uri
        self.headers = headers if headers is not None else Headers()
        self.bodyProducer = bodyProducer
        self.persistent = persistent
        self._parsedURI: Any = None

    @classmethod
    def _construct(
        cls,
        method: bytes,
        uri: bytes,
        headers: Headers | None,
        bodyProducer: Any,
        persistent: bool,
        parsedURI: Any,
    ) -> Request:
        """A Request that also knows the absolute URI it is for (what Agent makes)."""
        request = cls(method, uri, headers, bodyProducer, persistent)
        request._parsedURI = parsedURI
        return request

    @property
    def absoluteURI(self) -> bytes | None:
        """The absolute URI requested, when known (requests made by an Agent)."""
        if self._parsedURI is None:
            return self.uri if b"://" in self.uri else None
        result: bytes = self._parsedURI.toBytes()
        return result

    def _head(self) -> bytes:
        """The request line and headers, with framing for the body (the wire form)."""
        parts = [self.method, b" ", self.uri, b" HTTP/1.1\r\n"]
        body = self.bodyProducer
        if body is None:
            if self.method in (b"POST", b"PUT", b"PATCH"):
                parts.append(b"Content-Length: 0\r\n")
        elif _isUnknownLength(body.length):
            parts.append(b"Transfer-Encoding: chunked\r\n")
        else:
            parts.append(b"Content-Length: %d\r\n" % body.length)
        persistent = self.persistent
        if not persistent:
            parts.append(b"Connection: close\r\n")
        for name, values in self.headers._raw.items():
            if name in _FRAMING or (name == b"connection" and not persistent):
                continue
            wireName = canonicalName(name)
            for value in values:
                parts += (wireName, b": ", value, b"\r\n")
        parts.append(b"\r\n")
        return b"".join(parts)

    def writeTo(self, transport: Any) -> Deferred[None]:
        """Write the request to `transport`; the Deferred fires when the body is sent.

        It fails with WrongBodyLength or the producer's error if the body could not be
        produced; the caller then drops the connection, whose framing is lost.
        """
        head = self._head()
        body = self.bodyProducer
        if body is None:
            transport.write(head)
            return defer.succeed(None)
        transport.write(head)
        writer = _BodyWriter(transport, body)
        return writer.start()

    def stopWriting(self) -> None:
        """The connection is gone: tell the body producer to stop."""
        if self.bodyProducer is not None:
            try:
                self.bodyProducer.stopProducing()
            except Exception:
                log.err(None, "Error stopping a request's body producer")


@implementer(IConsumer)
class _BodyWriter:
    """The consumer a body producer writes to: checks the length, frames the chunks."""

    __slots__ = (
        "_chunked",
        "_finished",
        "_length",
        "_producer",
        "_result",
        "_transport",
        "_written",
    )

    def __init__(self, transport: Any, producer: Any) -> None:
        self._transport = transport
        self._producer = producer
        length = producer.length
        self._chunked = _isUnknownLength(length)
        self._length = None if self._chunked else int(length)
        self._written = 0
        self._finished = False
        self._result: Deferred[None] = Deferred()

    def start(self) -> Deferred[None]:
        self._transport.registerProducer(self._producer, True)
        producing = defer.maybeDeferred(self._producer.startProducing, self)
        producing.addCallbacks(self._produced, self._fail)
        return self._result

    def _produced(self, _: object) -> None:
        if self._finished:
            return
        if self._length is not None and self._written != self._length:
            self._fail(
                Failure(
                    WrongBodyLength(
                        f"the body producer promised {self._length} bytes and wrote {self._written}"
                    )
                )
            )
            return
        self._finished = True
        self._unregister()
        if self._chunked:
            self._transport.write(_http11.LAST_CHUNK)
        self._result.callback(None)

    def _fail(self, reason: Failure) -> None:
        if self._finished:
            return
        self._finished = True
        self._unregister()
        self._result.errback(reason)

    def _unregister(self) -> None:
        try:
            self._transport.unregisterProducer()
        except Exception:
            pass

    def write(self, data: bytes) -> None:
        if self._finished:
            raise RuntimeError("a body producer wrote after its Deferred fired")
        if not data:
            return
        self._written += len(data)
        if self._length is not None:
            if self._written > self._length:
                tooMuch = WrongBodyLength(
                    f"the body producer wrote more than the {self._length} bytes it promised"
                )
                self._fail(Failure(tooMuch))  # the request fails; the connection is dropped
                self._producer.stopProducing()
                raise tooMuch
            self._transport.write(data)
        else:
            self._transport.write(_http11.encodeChunk(data))

    def writeSequence(self, data: list[bytes]) -> None:
        for piece in data:
            self.write(piece)

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """Producers are registered on the transport by the request itself."""

    def unregisterProducer(self) -> None:
        """See registerProducer."""


# -- the response -----------------------------------------------------------------------------


@implementer(IPushProducer)
class _BodyTransport:
    """What the body protocol sees as its transport: pause, resume or abandon the body."""

    __slots__ = ("_response",)

    def __init__(self, response: Response) -> None:
        self._response = response

    def pauseProducing(self) -> None:
        self._response._paused = True

    def resumeProducing(self) -> None:
        response = self._response
        if response._paused:
            response._paused = False
            response._pump()

    def stopProducing(self) -> None:
        """Abandon the rest of the body: the connection is dropped."""
        self._response._abandon()

    def loseConnection(self) -> None:
        self.stopProducing()

    def abortConnection(self) -> None:
        self.stopProducing()

    def getPeer(self) -> Any:
        client = self._response._client
        return client.transport.getPeer() if client is not None and client.transport else None

    def getHost(self) -> Any:
        client = self._response._client
        return client.transport.getHost() if client is not None and client.transport else None


@implementer(IResponse)
class Response:
    """A response's head, and its body for whoever asks with `deliverBody`.

    Made by the client protocol (Response._construct); `request` is the Request it
    answers and `previousResponse` the response redirected from (RedirectAgent).
    """

    # Body bytes held while no body protocol is ready; past this the connection waits.
    _maxBuffered = 65536

    def __init__(
        self,
        version: tuple[bytes, int, int],
        code: int,
        phrase: bytes,
        headers: Headers,
        _transport: Any,
    ) -> None:
        self.version = version
        self.code = code
        self.phrase = phrase
        self.headers = headers
        self.length: int | str = UNKNOWN_LENGTH
        self.request: Request | None = None
        self.previousResponse: Response | None = None
        self._client: HTTP11ClientProtocol | None = None
        self._bodyProtocol: Any = None
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._paused = False
        self._ended: Failure | None = None
        self._delivered = False

    @classmethod
    def _construct(
        cls,
        version: tuple[bytes, int, int],
        code: int,
        phrase: bytes,
        headers: Headers,
        transport: Any,
        request: Request | None,
    ) -> Response:
        response = cls(version, code, phrase, headers, transport)
        response.request = request
        return response

    def __repr__(self) -> str:
        return f"<Response {self.code} {self.phrase.decode('latin-1')!r}>"

    def setPreviousResponse(self, response: Response) -> None:
        self.previousResponse = response

    def deliverBody(self, protocol: Any) -> None:
        """Give the body to `protocol`: makeConnection, dataReceived..., connectionLost.

        Only one protocol can have the body; a second call raises RuntimeError.
        """
        if self._bodyProtocol is not None or self._delivered:
            raise RuntimeError("Response.deliverBody was called twice; the body is delivered once")
        self._bodyProtocol = protocol
        protocol.makeConnection(_BodyTransport(self))
        self._pump()

    # -- what the client protocol calls --

    def _wantsData(self) -> bool:
        """May the client parse more body for this response now?"""
        if self._bodyProtocol is None:
            return self._buffered < self._maxBuffered
        return not self._paused

    def _bodyData(self, data: bytes) -> None:
        proto = self._bodyProtocol
        if proto is None or self._paused or self._buffer:
            self._buffer.append(data)
            self._buffered += len(data)
            return
        proto.dataReceived(data)

    def _bodyEnded(self, reason: Failure) -> None:
        if self._ended is None:
            self._ended = reason
        self._deliverEnd()

    def _pump(self) -> None:
        """Hand buffered data to a ready body protocol, then let the client read more."""
        proto = self._bodyProtocol
        if proto is None:
            return
        while self._buffer and not self._paused:
            data = self._buffer.pop(0)
            self._buffered -= len(data)
            proto.dataReceived(data)
        self._deliverEnd()
        client = self._client
        if client is not None and client._response is self and not self._paused:
            client._readMore()

    def _deliverEnd(self) -> None:
        proto = self._bodyProtocol
        if proto is None or self._ended is None or self._delivered or self._buffer:
            return
        self._delivered = True
        self._client = None
        try:
            proto.connectionLost(self._ended)
        except Exception:
            log.err(None, "Error in a response body protocol's connectionLost")

    def _abandon(self) -> None:
        client = self._client
        if self._ended is None and client is not None:
            client._abandonResponse(self)


# -- the protocol -----------------------------------------------------------------------------

_QUIESCENT: Final = "QUIESCENT"
_TRANSMITTING: Final = "TRANSMITTING"
_WAITING: Final = "WAITING"
_CONNECTION_LOST: Final = "CONNECTION_LOST"


class HTTP11ClientProtocol(protocol.Protocol):
    """The client side of one HTTP/1.1 connection, one request at a time.

    `request(request)` returns a Deferred of the Response; cancelling it drops the
    connection and fails it with CancelledError. A second request before the first
    is complete fails with RequestNotSent. `quiescentCallback(protocol)` is called
    each time the connection becomes free for another request.
    """

    def __init__(
        self,
        quiescentCallback: Callable[[HTTP11ClientProtocol], None] = lambda c: None,
        limits: _http11.Limits | None = None,
    ) -> None:
        self._quiescentCallback = quiescentCallback
        self._state = _QUIESCENT
        self._parser = _http11.ResponseParser(limits)
        self._currentRequest: Request | None = None
        self._responseDeferred: Deferred[Response] | None = None
        self._response: Response | None = None
        self._writing: Deferred[None] | None = None
        self._requestWritten = False
        self._awaitingResponse = False
        self._keepAlive = False
        self._transportPaused = False
        self._parsing = False
        self._lostReason: Failure | None = None
        self._lostNotifications: list[Deferred[None]] = []
        self._abortReason: Failure | None = None
        # Called (by a pool that caches this connection) if it closes while idle.
        self._idleLost: Callable[[HTTP11ClientProtocol], None] | None = None

    @property
    def state(self) -> str:
        return self._state

    def connectionMade(self) -> None:
        pass

    def request(self, request: Request) -> Deferred[Response]:
        """Send `request`; the Deferred fires with its Response once the head is in.

        It fails with ResponseNeverReceived if the connection ends first,
        RequestGenerationFailed if the body producer fails, RequestTransmissionFailed
        if the connection breaks while sending, and RequestNotSent if this connection
        is busy or closed.
        """
        if self._state != _QUIESCENT or self.transport is None:
            return defer.fail(RequestNotSent())
        self._state = _TRANSMITTING
        self._currentRequest = request
        self._requestWritten = False
        self._awaitingResponse = True
        self._keepAlive = request.persistent
        self._parser.expectResponse(request.method)
        result: Deferred[Response] = Deferred(self._cancelRequest)
        self._responseDeferred = result
        try:
            if request.bodyProducer is None:
                # The common case, without a Deferred for the body that is not there.
                self.transport.write(request._head())
                writing = None
            else:
                writing = request.writeTo(self.transport)
        except BaseException:
            failure = Failure()
            self._responseDeferred = None
            self._state = _CONNECTION_LOST
            self.transport.abortConnection()
            result.errback(RequestGenerationFailed([failure]))
            return result
        if writing is None:
            self._requestSent(None)
        else:
            self._writing = writing
            writing.addCallbacks(self._requestSent, self._requestFailed)
        return result

    def _cancelRequest(self, result: Deferred[Response]) -> None:
        self._abortReason = Failure(CancelledError())
        if self._responseDeferred is result:
            self._responseDeferred = None
            result.errback(Failure(CancelledError()))
        self.abort()

    def _requestSent(self, _: object) -> None:
        self._writing = None
        self._requestWritten = True
        if self._state == _TRANSMITTING:
            self._state = _WAITING
        self._maybeQuiescent()

    def _requestFailed(self, reason: Failure) -> None:
        self._writing = None
        if self._state == _CONNECTION_LOST:
            return
        failure = RequestGenerationFailed([reason])
        d, self._responseDeferred = self._responseDeferred, None
        self._state = _CONNECTION_LOST
        self._abortReason = Failure(failure)
        if self.transport is not None:
            self.transport.abortConnection()
        if d is not None:
            d.errback(failure)

    # -- receiving --

    def dataReceived(self, data: bytes) -> None:
        if self._state == _CONNECTION_LOST:
            return
        if not self._awaitingResponse:
            # Nothing was asked: a server that talks now cannot be trusted with the next
            # request's framing.
            self._state = _CONNECTION_LOST
            self.transport.loseConnection()
            return
        self._parser.feed(data)
        self._readMore()

    def _readMore(self) -> None:
        """Pull events from the parser while whoever wants them can take them."""
        if self._parsing:
            return
        self._parsing = True
        try:
            self._parse()
        finally:
            self._parsing = False

    def _parse(self) -> None:
        parser = self._parser
        while self._awaitingResponse:
            response = self._response
            if response is not None and not response._wantsData():
                if not self._transportPaused and self.transport is not None:
                    self._transportPaused = True
                    self.transport.pauseProducing()
                return
            try:
                event = parser.next()
            except _http11.ParseError as error:
                self._parseFailed(error)
                return
            if event is None:
                break
            if type(event) is bytes:
                assert response is not None
                response._bodyData(event)
            elif event is _http11.END:
                self._responseEnded()
            else:
                self._gotHead(event)  # type: ignore[arg-type]
        if self._transportPaused and self.transport is not None:
            self._transportPaused = False
            self.transport.resumeProducing()

    def _gotHead(self, head: _http11.ResponseHead) -> None:
        if head.code < 200:
            return
        request = self._currentRequest
        if not head.keepAlive:
            self._keepAlive = False
        response = Response._construct(
            (b"HTTP", head.version[0], head.version[1]),
            head.code,
            head.phrase,
            Headers._fromParsed(head.headers),
            self.transport,
            request,
        )
        if head.bodyLength is not None:
            response.length = head.bodyLength
        response._client = self
        self._response = response
        d, self._responseDeferred = self._responseDeferred, None
        if d is not None:
            d.callback(response)

    def _responseEnded(self) -> None:
        """The body is complete; the connection is free once the request is sent too.

        A server may answer before it has read the whole request body (an early 413,
        say); the body is still sent to its end, as the framing requires, or the
        server closes the connection.
        """
        response, self._response = self._response, None
        self._awaitingResponse = False
        if response is None:
            return
        response._client = None
        if self._requestWritten:
            self._finishRequest()
        response._bodyEnded(Failure(ResponseDone("the response body is complete")))

    def _finishRequest(self) -> None:
        self._currentRequest = None
        if self._keepAlive and not self._parser.buffered:
            self._state = _QUIESCENT
            try:
                self._quiescentCallback(self)
            except Exception:
                log.err(None, "Error in an HTTP client's quiescentCallback")
        else:
            self._state = _CONNECTION_LOST
            self.transport.loseConnection()

    def _maybeQuiescent(self) -> None:
        """The request is sent: if its response had already ended, we are free now."""
        if self._state == _WAITING and not self._awaitingResponse:
            self._finishRequest()

    def _parseFailed(self, error: _http11.ParseError) -> None:
        reason = Failure(error)
        self._state = _CONNECTION_LOST
        self._abortReason = reason
        self.transport.abortConnection()

    def _abandonResponse(self, response: Response) -> None:
        if self._response is response:
            self._abortReason = Failure(ConnectionAborted("the response body was abandoned"))
            self.abort()

    # -- ending --

    def abort(self) -> Deferred[None]:
        """Drop the connection now; the Deferred fires once it is closed."""
        if self._lostReason is not None:
            return defer.succeed(None)
        d: Deferred[None] = Deferred()
        self._lostNotifications.append(d)
        self._state = _CONNECTION_LOST
        if self.transport is not None:
            self.transport.abortConnection()
        return d

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        failure = reason if isinstance(reason, Failure) else Failure(reason)
        self._lostReason = failure
        idleLost, self._idleLost = self._idleLost, None
        if self._state == _QUIESCENT and idleLost is not None:
            idleLost(self)
        self._state = _CONNECTION_LOST
        request, self._currentRequest = self._currentRequest, None
        if request is not None and not self._requestWritten:
            request.stopWriting()
        reasons = [failure] if self._abortReason is None else [self._abortReason, failure]
        d, self._responseDeferred = self._responseDeferred, None
        if d is not None:
            if self._writing is not None and self._abortReason is None:
                d.errback(RequestTransmissionFailed(reasons))
            else:
                d.errback(ResponseNeverReceived(reasons))
        response, self._response = self._response, None
        if response is not None:
            self._endBodyOnClose(response, failure, reasons)
        notifications, self._lostNotifications = self._lostNotifications, []
        for notification in notifications:
            notification.callback(None)

    def _endBodyOnClose(self, response: Response, failure: Failure, reasons: list[Failure]) -> None:
        """The connection closed while a body was being read: deliver what is left."""
        response._client = None
        if self._abortReason is None:
            parser = self._parser
            try:
                self._drain(response)
                parser.feedEOF()
                self._drain(response)
            except _http11.ParseError as error:
                reasons = [failure, Failure(error)]
            else:
                if failure.check(ConnectionDone):
                    ended = PotentialDataLoss("the server closed the connection to end the body")
                    response._bodyEnded(Failure(ended))
                else:
                    response._bodyEnded(Failure(ResponseFailed([failure], response)))
                return
        response._bodyEnded(Failure(ResponseFailed(reasons, response)))

    def _drain(self, response: Response) -> None:
        parser = self._parser
        while (event := parser.next()) is not None:
            if type(event) is bytes:
                response._bodyData(event)
            elif event is _http11.END:
                return
