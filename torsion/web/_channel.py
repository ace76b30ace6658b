"""The HTTP/1.1 server channel: one connection's bytes in, requests made, responses out.

`HTTPChannel` is a thin protocol over the sans-IO `RequestParser`: it makes a request
object per request head, hands it the body, dispatches it once the body is complete,
and parses the next (pipelined) request only after the current response is finished,
so responses leave in order. A client that pipelines more than `maxPipelinedBytes`
ahead is paused until it catches up.

Timeouts are deadlines checked by one timer per connection that is only re-armed when
it fires early, so a keep-alive request costs no timer operation:
- idle: no request for `idleTimeout` seconds after the last response -> closed;
- headers: a request head not complete `headerTimeout` seconds after its first byte ->
  408 and closed (the slowloris defence);
- body: no body bytes for `bodyTimeout` seconds -> 408 and closed.
A request being processed has no deadline: the application owns that time.

Tests: tests/web/test_channel.py (in memory, with a Clock), tests/web/test_smuggling.py
(raw sockets).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from torsion.internet import protocol
from torsion.python import log
from torsion.python.failure import Failure
from torsion.web import _http11
from torsion.web._responses import RESPONSES

if TYPE_CHECKING:
    from torsion.web.http import Request

__all__ = ["HTTPChannel", "HTTPFactory"]

_IDLE, _HEAD, _BODY, _BUSY, _CLOSING = range(5)
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_INF = math.inf


def errorBody(status: int, reason: str) -> bytes:
    """The plain-text body of a response to a request the server refuses to serve."""
    phrase = RESPONSES.get(status, b"Error")
    return b"%d %s: %s\n" % (status, phrase, reason.encode("ascii", "replace"))


def transportIsSecure(transport: Any) -> bool:
    """Whether `transport` is TLS (what request.isSecure() reports)."""
    from torsion.internet.interfaces import ISSLTransport

    return ISSLTransport.providedBy(transport) or bool(getattr(transport, "TLS", False))


def _errorResponse(status: int, reason: str) -> bytes:
    from torsion.web.http import _dateCache

    phrase = RESPONSES.get(status, b"Error")
    body = errorBody(status, reason)
    return (
        b"HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
        % (status, phrase, _dateCache.now(), len(body), body)
    )


class HTTPChannel(protocol.Protocol):
    """The server side of one HTTP/1.1 connection."""

    requestFactory: Any = None  # set to http.Request by torsion.web.http
    site: Any = None
    serverHeader = b"Server: TorsionWeb\r\n"
    limits: _http11.Limits = _http11.DEFAULT_LIMITS
    idleTimeout: float | None = 60.0
    headerTimeout: float | None = 20.0
    bodyTimeout: float | None = 60.0
    abortTimeout: float | None = 15.0
    maxPipelinedBytes = 256 * 1024

    def __init__(self) -> None:
        self._parser: _http11.RequestParser | None = None
        self._request: Request | None = None
        self._head: _http11.RequestHead | None = None
        self._persistent = True
        self._phase = _IDLE
        self._deadline = _INF
        self._timer: Any = None
        self._timerAt = _INF
        self._dispatching = False
        self._pausedForPipeline = False
        self._secure: bool | None = None
        self._producer: Any = None

    # -- connection ----------------------------------------------------------------

    def connectionMade(self) -> None:
        self._parser = _http11.RequestParser(self.limits)
        self._clock = getattr(self.factory, "_reactor", None) or _defaultReactor()
        self._enterIdle()
        if self.http2:
            self._firstBytes = b""
            self.dataReceived = self._chooseProtocol  # type: ignore[method-assign]

    def isSecure(self) -> bool:
        if self._secure is None:
            self._secure = transportIsSecure(self.transport)
        return self._secure

    # -- HTTP/2: the protocol choice at connection start ----------------------------

    http2: bool = False
    """Whether this channel hands the connection to HTTP/2 when the client speaks it
    (ALPN "h2" on TLS, or the HTTP/2 preface on cleartext); Site sets it where the
    h2 library is installed."""

    def _chooseProtocol(self, data: bytes) -> None:
        """The first bytes: HTTP/2 (torsion.web._http2) or this channel's HTTP/1.1."""
        from torsion.web import _http2

        del self.dataReceived  # the class's own, from now on
        seen = self._firstBytes + data
        if getattr(self.transport, "negotiatedProtocol", None) == b"h2" or seen.startswith(
            _http2.H2_PREFACE
        ):
            _http2.switchToHTTP2(self, seen)
        elif len(seen) < len(_http2.H2_PREFACE) and _http2.H2_PREFACE.startswith(seen):
            self._firstBytes = seen
            self.dataReceived = self._chooseProtocol  # type: ignore[method-assign]
        else:
            self.dataReceived(seen)

    def _stopForSwitch(self) -> None:
        """Another protocol has taken the transport: stop parsing and timing out."""
        self._parser = None
        self._phase = _CLOSING
        self._deadline = _INF
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def dataReceived(self, data: bytes) -> None:
        parser = self._parser
        if parser is None or self._phase == _CLOSING:
            return
        parser.feed(data)
        if self._request is not None and self._head is None:
            # A response is in progress: this is pipelined data, parsed once it is done.
            if parser.buffered > self.maxPipelinedBytes and not self._pausedForPipeline:
                self._pausedForPipeline = True
                self.transport.pauseProducing()
            return
        self._parse()

    def _parse(self) -> None:
        parser = self._parser
        assert parser is not None
        nextEvent = parser.next
        try:
            while self._request is None or self._head is not None:
                event = nextEvent()
                if event is None:
                    break
                if event.__class__ is bytes:
                    self._request.handleContentChunk(event)  # type: ignore[union-attr]
                elif event is _http11.END:
                    self._dispatch()
                else:
                    self._startRequest(event)  # type: ignore[arg-type]
        except _http11.ParseError as error:
            self._refuse(error.status, error.reason)
            return
        if (
            self._phase != _IDLE
            or self._head is not None
            or parser._pos < len(parser._buffer)
            or self._pausedForPipeline
        ):
            self._afterParse()

    def _afterParse(self) -> None:
        """Arm the header or body deadline when a request is left incomplete."""
        if self._request is None and self._phase != _CLOSING:
            if self._parser is not None and self._parser.buffered and self._phase == _IDLE:
                self._phase = _HEAD
                if self.headerTimeout is not None:
                    self._setDeadline(self._clock.seconds() + self.headerTimeout)
        elif self._head is not None and self.bodyTimeout is not None:
            self._phase = _BODY
            self._setDeadline(self._clock.seconds() + self.bodyTimeout)
        elif (
            self._head is None
            and not self._pausedForPipeline
            and self._parser is not None
            and self._parser.buffered > self.maxPipelinedBytes
        ):
            self._pausedForPipeline = True
            self.transport.pauseProducing()
        if self._pausedForPipeline and self._request is None:
            self._pausedForPipeline = False
            self.transport.resumeProducing()

    def _startRequest(self, head: _http11.RequestHead) -> None:
        request = self.requestFactory(self, queued=False)
        request.requestHeaders._raw = head.headers
        self._request = request
        self._head = head
        self._persistent = head.keepAlive
        if head.chunked:
            request.gotLength(None)
        elif head.contentLength:
            request.gotLength(head.contentLength)
        if head.expectContinue:
            self.transport.write(_CONTINUE)

    def _dispatch(self) -> None:
        head, request = self._head, self._request
        assert head is not None and request is not None
        self._head = None
        self._phase = _BUSY
        self._deadline = _INF
        minor = head.version[1]
        self._dispatching = True
        try:
            request.requestReceived(
                head.method, head.target, b"HTTP/1.1" if minor == 1 else b"HTTP/1.%d" % minor
            )
        except Exception:
            log.err(None, f"Unhandled error processing {head.method!r} {head.target!r}")
            if self._request is request and not request.startedWriting:
                self._refuse(500, "the server failed to process the request")
            elif self._request is request:
                self.transport.loseConnection()
        finally:
            self._dispatching = False

    @property
    def requests(self) -> list[Request]:
        """The request being answered, in a list (Twisted's channels queue them there)."""
        return [] if self._request is None else [self._request]

    def _requestDone(self, request: Request) -> None:
        """`request` finished its response: log it, then serve the next one or close."""
        if request is not self._request:
            return
        self._request = None
        site = self.factory
        if site is not None:
            site.log(request)
        if not (self._persistent and request._persistent):
            self._persistent = False
            self._close()
            return
        self._phase = _IDLE
        if self.idleTimeout is not None:
            deadline = self._deadline = self._clock.seconds() + self.idleTimeout
            if deadline < self._timerAt or self._timer is None:
                self._setDeadline(deadline)
        else:
            self._deadline = _INF
        parser = self._parser
        if (
            not self._dispatching
            and parser is not None
            and (self._pausedForPipeline or parser._pos < len(parser._buffer))
        ):
            self._parse()

    def _enterIdle(self) -> None:
        self._phase = _IDLE
        if self.idleTimeout is not None:
            self._setDeadline(self._clock.seconds() + self.idleTimeout)
        else:
            self._deadline = _INF

    def _refuse(self, status: int, reason: str) -> None:
        """Answer a request we cannot serve (bad framing, a limit, a timeout) and close."""
        self._persistent = False
        request, self._request = self._request, None
        self._head = None
        if request is not None and request.startedWriting:
            self._close()
            return
        self.transport.write(_errorResponse(status, reason))
        self._close()

    def _close(self) -> None:
        self._phase = _CLOSING
        self._parser = None
        self.transport.loseConnection()
        if self.abortTimeout is not None:
            self._setDeadline(self._clock.seconds() + self.abortTimeout)

    # -- protocol switch (WebSocket, torsion/web/websocket.py) ---------------------

    def _switchProtocol(self, newProtocol: Any) -> None:
        """Give this connection to `newProtocol` once a 101 response has been written.

        The HTTP side stops (no parser, no deadlines, no more requests); the new
        protocol becomes the transport's protocol and gets the bytes that arrived
        after the upgrade request's head. The upgrade request is logged now: it never
        finishes as an HTTP response.
        """
        parser = self._parser
        leftover = parser._buffer[parser._pos :] if parser is not None else b""
        request, self._request = self._request, None
        self._head = None
        self._stopForSwitch()
        if self.factory is not None and request is not None:
            self.factory.log(request)
        transport = self.transport
        if self._pausedForPipeline:
            self._pausedForPipeline = False
            transport.resumeProducing()
        handOver(transport, newProtocol)
        if leftover:
            newProtocol.dataReceived(leftover)

    # -- timeouts ------------------------------------------------------------------

    def _setDeadline(self, deadline: float) -> None:
        self._deadline = deadline
        if self._timer is None:
            self._timerAt = deadline
            self._timer = self._clock.callLater(
                max(0.0, deadline - self._clock.seconds()), self._onTimer
            )
        elif deadline < self._timerAt:
            self._timerAt = deadline
            self._timer.reset(max(0.0, deadline - self._clock.seconds()))

    def _onTimer(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline == _INF:
            self._timerAt = _INF
            return
        now = self._clock.seconds()
        if now < deadline:
            self._timerAt = deadline
            self._timer = self._clock.callLater(deadline - now, self._onTimer)
            return
        phase = self._phase
        self._deadline = _INF
        self._timerAt = _INF
        if phase == _IDLE:
            self._close()
        elif phase in (_HEAD, _BODY):
            log.msg(
                f"Timing out a client that sent an incomplete request: {self.transport.getPeer()}"
            )
            self._refuse(408, "the request did not arrive in time")
        elif phase == _CLOSING:
            abort = getattr(self.transport, "abortConnection", None)
            if abort is not None:
                abort()

    def timeoutConnection(self) -> None:
        """Drop the connection now, as a timeout would."""
        self._close()

    writeHead: Any = None
    """How a request on this channel writes its head and first body bytes, as
    ``writeHead(request, bodyLength, body)``; None means the HTTP/1.1 framing of
    torsion.web.http.Request itself (an HTTP/2 stream, torsion.web._http2.H2Stream,
    has a method here instead)."""

    # -- producers (a request's body streamed with back-pressure) -------------------

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self._producer = producer
        self.transport.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        self._producer = None
        self.transport.unregisterProducer()

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        self._parser = None
        self._phase = _CLOSING
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        request, self._request = self._request, None
        if request is not None and not request.finished:
            request.connectionLost(reason if isinstance(reason, Failure) else Failure(reason))


def handOver(transport: Any, newProtocol: Any) -> None:
    """Make `newProtocol` the protocol of `transport` (TCP, or TLS whose protocol is
    `wrappedProtocol`) and connect it."""
    if hasattr(transport, "wrappedProtocol"):
        transport.wrappedProtocol = newProtocol
    else:
        transport.protocol = newProtocol
    newProtocol.makeConnection(transport)


def _defaultReactor() -> Any:
    from torsion.internet import reactor

    return reactor


class HTTPFactory(protocol.ServerFactory):
    """Builds HTTPChannels that share limits, timeouts and an access log.

    `timeout` is the idle timeout (Twisted's name for it); `logPath` names a file for
    the access log, which otherwise goes to torsion's log as "web.access" events, one
    combined-format line each, formatted only if an observer looks at them.
    """

    protocol = HTTPChannel

    def __init__(
        self,
        logPath: str | None = None,
        timeout: float | None = 60.0,
        logFormatter: Any = None,
        reactor: Any = None,
        *,
        headerTimeout: float | None = 20.0,
        bodyTimeout: float | None = 60.0,
        limits: _http11.Limits | None = None,
    ) -> None:
        from torsion.web import _accesslog

        self._reactor = reactor
        self.timeOut = timeout
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.limits = limits or _http11.Limits()
        self.logPath = logPath
        self._accessLog = _accesslog.AccessLog(logPath, logFormatter)

    def buildProtocol(self, addr: Any) -> HTTPChannel:
        channel: HTTPChannel = self.protocol()
        channel.factory = self
        channel.idleTimeout = self.timeOut
        channel.headerTimeout = self.headerTimeout
        channel.bodyTimeout = self.bodyTimeout
        channel.limits = self.limits
        return channel

    def startFactory(self) -> None:
        self._accessLog.open()

    def stopFactory(self) -> None:
        self._accessLog.close()

    def log(self, request: Request) -> None:
        self._accessLog.log(request)
