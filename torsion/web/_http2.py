"""HTTP/2 serving: torsion.web's Request and Resource API over h2 streams.

`H2Connection` is the protocol of one HTTP/2 connection, over the ``h2`` library's
sans-IO state machine (an optional dependency: ``pip install torsion[http2]``). Each
stream the client opens becomes an `H2Stream` (torsion/web/_h2stream.py), which is
the request's channel and transport at once: it offers what torsion.web.http.Request
uses of an HTTP/1.1 channel (`writeHead`, `transport.write`, `_requestDone`,
producers, `isSecure`, `getPeer`/`getHost`), so a resource cannot tell the difference
except for ``request.clientproto == b"HTTP/2"``.

A Site's connections start as HTTP/1.1 channels; the channel hands its transport to
an H2Connection (`switchToHTTP2`) when TLS negotiated "h2" by ALPN, or when the first
bytes on the connection are the HTTP/2 preface (h2c with prior knowledge).

Limits: SETTINGS_MAX_CONCURRENT_STREAMS (`maxConcurrentStreams`, 100), the header list
size (the site's `Limits.maxHeaderBytes`; over it the connection ends, as the HPACK
decoder must not go on), the header count and body size of HTTP/1.1's `Limits` (431
and 413 on that stream), and an idle timeout (no frame for the site's timeout while no
request is being processed: GOAWAY and close). Flow control both ways: a stream's
response data waits for the client's window, and a request's producer is paused while
its stream holds more than `streamBufferSize` unsent bytes or while the TCP transport
asks the whole connection to pause (its write buffer is full), so the connection's
outbound buffer stays bounded. Priorities are ignored (streams are served in the
order their data can be sent); there is no server push. A protocol error ends that
connection only, with GOAWAY; at reactor shutdown each connection sends GOAWAY and
finishes the requests it has begun (for at most `shutdownTimeout` seconds).

Tests: tests/web/h2/.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from torsion.internet import protocol
from torsion.internet.defer import Deferred
from torsion.python import log
from torsion.python.failure import Failure

try:
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions
    from h2.connection import ConnectionState
    from h2.errors import ErrorCodes
    from h2.settings import SettingCodes
    from hyperframe.frame import GoAwayFrame
except ImportError:  # pragma: no cover - exercised only where h2 is not installed
    H2_AVAILABLE = False
else:
    H2_AVAILABLE = True
    _OPEN, _CLOSED = ConnectionState.SERVER_OPEN, ConnectionState.CLOSED

from torsion.web._channel import HTTPChannel, errorBody, handOver, transportIsSecure
from torsion.web._h2stream import H2Stream, _reason

if TYPE_CHECKING:
    pass

__all__ = [
    "H2_AVAILABLE",
    "H2_PREFACE",
    "H2Connection",
    "H2Stream",
    "offerHTTP2",
    "switchToHTTP2",
]

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
"""The first bytes of every HTTP/2 connection (RFC 9113 section 3.4)."""


class H2Connection(protocol.Protocol):
    """The server side of one HTTP/2 connection (Twisted's twisted.web._http2 name).

    Made by an HTTP/1.1 channel of a Site that found HTTP/2 spoken (see
    `switchToHTTP2`), or directly with a factory that has `requestFactory`, `site`
    and `log(request)` (an HTTPFactory or Site).
    """

    maxConcurrentStreams = 100
    streamBufferSize = 64 * 1024
    shutdownTimeout: float = 10.0
    abortTimeout: float | None = 15.0

    def __init__(self, factory: Any = None, reactor: Any = None) -> None:

        self.factory = factory
        self.site: Any = factory
        self.requestFactory: Any = getattr(factory, "requestFactory", HTTPChannel.requestFactory)
        self.serverHeader: bytes = getattr(factory, "_serverHeader", HTTPChannel.serverHeader)
        limits = getattr(factory, "limits", None)
        if limits is None:
            from torsion.web._http11 import DEFAULT_LIMITS

            limits = DEFAULT_LIMITS
        self.limits = limits
        self.idleTimeout: float | None = getattr(factory, "timeOut", 60.0)
        self._reactor: Any = reactor or getattr(factory, "_reactor", None)
        self.streams: dict[int, H2Stream] = {}
        self.paused = False
        self._secure: bool | None = None
        self._inReceive = False
        self._goingAway = False
        self._closed = False
        self._lastActivity = 0.0
        self._timer: Any = None
        self._shutdownTrigger: Any = None
        self._drained: Deferred[None] | None = None
        self._soon: list[Callable[[], None]] = []
        self._serverValue: bytes | None = None
        self._abortCall: Any = None
        config = h2.config.H2Configuration(
            client_side=False,
            header_encoding=None,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
            split_outbound_cookies=False,
        )
        self.h2 = h2.connection.H2Connection(config)
        self.h2.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                SettingCodes.MAX_CONCURRENT_STREAMS: self.maxConcurrentStreams,
                SettingCodes.MAX_HEADER_LIST_SIZE: limits.maxHeaderBytes,
            },
        )
        self.h2.decoder.max_header_list_size = limits.maxHeaderBytes
        self._dispatch = {
            h2.events.RequestReceived: self._requestReceived,
            h2.events.DataReceived: self._dataReceived,
            h2.events.StreamEnded: self._streamEnded,
            h2.events.StreamReset: self._streamReset,
            h2.events.WindowUpdated: self._windowUpdated,
            h2.events.RemoteSettingsChanged: self._settingsChanged,
            h2.events.ConnectionTerminated: self._terminated,
        }

    def __repr__(self) -> str:
        return f"<H2Connection at 0x{id(self):x}>"

    def serverValue(self) -> bytes:
        """The Server header's value (the HTTP/1.1 channel keeps it as a whole line)."""
        value = self._serverValue
        if value is None:
            value = self._serverValue = self.serverHeader.partition(b":")[2].strip()
        return value

    # -- the connection ------------------------------------------------------------

    def connectionMade(self) -> None:
        reactor = self._reactor
        if reactor is None:
            from torsion.internet import reactor as installed

            reactor = self._reactor = installed
        self._lastActivity = reactor.seconds()
        self.h2.initiate_connection()
        self.transport.registerProducer(self, True)
        self.flush()
        if self.idleTimeout is not None:
            self._timer = reactor.callLater(self.idleTimeout, self._checkIdle)
        addTrigger = getattr(reactor, "addSystemEventTrigger", None)
        if addTrigger is not None:
            self._shutdownTrigger = addTrigger("before", "shutdown", self.gracefulShutdown)

    def isSecure(self) -> bool:
        if self._secure is None:
            self._secure = transportIsSecure(self.transport)
        return self._secure

    def dataReceived(self, data: bytes) -> None:
        if self._closed:
            return
        self._lastActivity = self._reactor.seconds()
        self._inReceive = True
        try:
            try:
                events = self.h2.receive_data(data)
            except h2.exceptions.ProtocolError as broken:
                self._protocolError(broken)
                return
            if self.h2.state_machine.state is _CLOSED and not self._goingAway:
                self._peerGoingAway(events)
            dispatch = self._dispatch
            for event in events:
                handler = dispatch.get(event.__class__)
                if handler is not None:
                    handler(event)
                if self._closed:
                    return
        finally:
            self._inReceive = False
        self.flush()
        self._runSoon()

    def _protocolError(self, broken: Exception) -> None:
        """The client broke the protocol: h2 has queued GOAWAY; send it and close."""
        log.msg(f"HTTP/2 protocol error from {self.transport.getPeer()}: {broken}")
        self._inReceive = False
        self.flush()
        self._close(_reason(f"HTTP/2 protocol error: {broken}"))

    def flush(self) -> None:
        """Write what h2 has to send (at once, or at the end of the data being read)."""
        if self._inReceive or self.transport is None:
            return
        data = self.h2.data_to_send()
        if data:
            self.transport.write(data)

    def callSoon(self, call: Callable[[], None]) -> None:
        """Run `call` after the events being handled (or on the next reactor pass)."""
        self._soon.append(call)
        if len(self._soon) == 1 and not self._inReceive:
            self._reactor.callLater(0, self._runSoon)

    def _runSoon(self) -> None:
        while self._soon and not self._closed:
            calls, self._soon = self._soon, []
            for call in calls:
                call()
        self._soon.clear()

    # -- events ----------------------------------------------------------------------

    def _requestReceived(self, event: Any) -> None:
        streamID = event.stream_id
        stream = H2Stream(self, streamID)
        if self._goingAway or self.requestFactory is None:
            self.h2.reset_stream(streamID, ErrorCodes.REFUSED_STREAM)
            return
        self.streams[streamID] = stream
        request = stream.request = self.requestFactory(stream, queued=False)
        raw = request.requestHeaders._raw
        method = path = authority = b""
        count = 0
        for name, value in event.headers:
            if name[:1] == b":":
                if name == b":method":
                    method = value
                elif name == b":path":
                    path = value
                elif name == b":authority":
                    authority = value
                continue
            count += 1
            values = raw.get(name)
            if values is None:
                raw[name] = [value]
            else:
                values.append(value)
        if authority and b"host" not in raw:
            raw[b"host"] = [authority]
        request.method = method
        request.uri = path
        if count > self.limits.maxHeaderCount:
            self._refuse(stream, 431, "the request has too many header fields")
            return
        if method == b"CONNECT":
            self._refuse(stream, 501, "CONNECT is not supported over HTTP/2")
            return
        if not event.stream_ended:
            length = raw.get(b"content-length")
            declared: int | None = None
            if length:
                try:
                    declared = int(length[0])
                except ValueError:
                    self._refuse(stream, 400, "the Content-Length is not a number")
                    return
            maximum = self.limits.maxBodySize
            if declared is not None and maximum is not None and declared > maximum:
                self._refuse(stream, 413, f"the body is over the limit of {maximum} bytes")
                return
            request.gotLength(declared)
        else:
            self._dispatchRequest(stream)

    def _dataReceived(self, event: Any) -> None:
        stream = self.streams.get(event.stream_id)
        try:
            self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        except h2.exceptions.StreamClosedError:
            pass
        if stream is None or stream.request is None or stream.dispatched:
            return
        data = event.data
        stream._bodySize += len(data)
        maximum = self.limits.maxBodySize
        if maximum is not None and stream._bodySize > maximum:
            self._refuse(stream, 413, f"the body is over the limit of {maximum} bytes")
            return
        stream.request.handleContentChunk(data)

    def _streamEnded(self, event: Any) -> None:
        stream = self.streams.get(event.stream_id)
        if stream is not None and not stream.dispatched and stream.request is not None:
            self._dispatchRequest(stream)

    def _streamReset(self, event: Any) -> None:
        stream = self.streams.get(event.stream_id)
        if stream is not None:
            code = event.error_code
            stream.connectionLost(
                _reason(f"the client reset HTTP/2 stream {event.stream_id} (error code {code})")
            )

    def _windowUpdated(self, event: Any) -> None:
        if event.stream_id:
            stream = self.streams.get(event.stream_id)
            if stream is not None and stream._pending:
                stream._send()
        else:
            self._sendAll()

    def _settingsChanged(self, event: Any) -> None:
        if SettingCodes.INITIAL_WINDOW_SIZE in event.changed_settings:
            self._sendAll()

    def _peerGoingAway(self, events: list[Any]) -> None:
        """The client sent GOAWAY without an error: serve the streams it had opened.

        h2 closes its state machine on any GOAWAY received, but RFC 9113 section 6.8
        lets the streams the client opened before it (those among `events` too) be
        answered; so the state is reopened, and streams opened after the GOAWAY are
        refused instead (`_terminated`, handled in order, marks that point).
        """
        for event in events:
            if isinstance(event, h2.events.ConnectionTerminated) and not event.error_code:
                self.h2.state_machine.state = _OPEN
                return

    def _terminated(self, event: Any) -> None:
        """The client sent GOAWAY: finish what is in progress (or stop, on an error)."""
        if event.error_code:
            self._close(_reason(f"the client ended the connection (error code {event.error_code})"))
            return
        self._goingAway = True
        if not self._busy():
            self._close(_reason("the client ended the connection"))

    # -- requests --------------------------------------------------------------------

    def _dispatchRequest(self, stream: H2Stream) -> None:
        stream.dispatched = True
        request = stream.request
        assert request is not None
        method, path = request.method, request.uri
        try:
            request.requestReceived(method, path, b"HTTP/2")
        except Exception:
            log.err(None, f"Unhandled error processing {method!r} {path!r} (HTTP/2)")
            if not request.finished and not request._disconnected:
                if not request.startedWriting:
                    self._refuse(stream, 500, "the server failed to process the request")
                else:
                    stream.loseConnection()

    def _refuse(self, stream: H2Stream, status: int, reason: str) -> None:
        """Answer a request we will not serve (a limit, bad framing) and close its stream."""

        request = stream.request
        assert request is not None
        stream.dispatched = True
        body = errorBody(status, reason)
        request.setResponseCode(status)
        request.responseHeaders._raw.clear()
        request.cookies = []
        request.responseHeaders._raw[b"content-type"] = [b"text/plain; charset=utf-8"]
        request.startedWriting = 1
        stream.writeHead(request, len(body), body)
        request.finished = 1
        stream._requestDone(request)
        if stream._ended and not stream._lost:
            # The client may still be sending the body we refuse: stop it (RFC 9113
            # section 8.1, a response sent before the request is complete).
            try:
                self.h2.reset_stream(stream.streamID, ErrorCodes.NO_ERROR)
            except h2.exceptions.ProtocolError:
                pass
            self.flush()

    def streamFinished(self, stream: H2Stream) -> None:
        """`stream` is done (ended, reset or lost): forget it."""
        if self.streams.get(stream.streamID) is stream:
            del self.streams[stream.streamID]
        if self._goingAway and not self._busy():
            self._close(_reason("the connection was closed after GOAWAY"))

    def _busy(self) -> bool:
        return bool(self.streams)

    def _sendAll(self) -> None:
        for stream in list(self.streams.values()):
            if stream._pending or stream._producer is not None or stream._endPending:
                stream._send()

    # -- the transport's producer interface (its write buffer is full / has room) ---

    def pauseProducing(self) -> None:
        if self.paused:
            return
        self.paused = True
        for stream in list(self.streams.values()):
            if stream._producer is not None and stream._streaming and not stream._paused:
                stream._paused = True
                stream._producer.pauseProducing()

    def resumeProducing(self) -> None:
        if not self.paused:
            return
        self.paused = False
        self._sendAll()

    def stopProducing(self) -> None:
        self._close(_reason("the transport stopped"))

    # -- timeouts and shutdown ---------------------------------------------------------

    def _checkIdle(self) -> None:
        self._timer = None
        timeout = self.idleTimeout
        if self._closed or timeout is None:
            return
        now = self._reactor.seconds()
        idle = now - self._lastActivity
        if idle >= timeout and not any(
            s.dispatched and s.request is not None and not s.request.finished
            for s in self.streams.values()
        ):
            self._goAway(ErrorCodes.NO_ERROR)
            self._close(_reason("the HTTP/2 connection was idle too long"))
            return
        self._timer = self._reactor.callLater(max(timeout - idle, 0.01), self._checkIdle)

    def _goAway(self, code: int) -> None:
        """Send GOAWAY without closing h2's state, so that open streams may finish."""
        if self.transport is None:
            return
        self.flush()
        frame = GoAwayFrame(0)
        frame.last_stream_id = self.h2.highest_inbound_stream_id
        frame.error_code = code
        self.transport.write(frame.serialize())

    def gracefulShutdown(self) -> Deferred[None] | None:
        """Send GOAWAY, finish the requests in progress, then close.

        Called before reactor shutdown; the Deferred fires once the connection is
        closed (after at most `shutdownTimeout` seconds).
        """
        if self._closed:
            return None
        self._goingAway = True
        self._goAway(ErrorCodes.NO_ERROR)
        if not self._busy():
            self._close(_reason("the server is shutting down"))
            return None
        self._drained = Deferred()
        timer = self._reactor.callLater(
            self.shutdownTimeout, self._close, _reason("the server is shutting down")
        )
        self._drained.addBoth(lambda result: timer.cancel() if timer.active() else None)
        return self._drained

    def _close(self, reason: Failure) -> None:
        if self._closed:
            return
        self._closed = True
        self._inReceive = False
        self.flush()
        if self.transport is not None:
            self.transport.unregisterProducer()
            self.transport.loseConnection()
            if self.abortTimeout is not None:
                abort = getattr(self.transport, "abortConnection", None)
                if abort is not None:
                    self._abortCall = self._reactor.callLater(self.abortTimeout, abort)
        self._loseStreams(reason)

    def _loseStreams(self, reason: Failure) -> None:
        for stream in list(self.streams.values()):
            stream.connectionLost(reason)
        self.streams.clear()

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        self._closed = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if self._abortCall is not None and self._abortCall.active():
            self._abortCall.cancel()
        self._abortCall = None
        if self._shutdownTrigger is not None:
            remove = getattr(self._reactor, "removeSystemEventTrigger", None)
            if remove is not None:
                try:
                    remove(self._shutdownTrigger)
                except (ValueError, KeyError):
                    pass
            self._shutdownTrigger = None
        self._loseStreams(reason if isinstance(reason, Failure) else Failure(reason))
        drained, self._drained = self._drained, None
        if drained is not None:
            drained.callback(None)


def offerHTTP2(contextFactory: Any) -> bool:
    """Make a TLS server's CertificateOptions offer "h2", then "http/1.1", by ALPN.

    Only when h2 is installed and the options do not choose ALPN protocols of their
    own; returns whether "h2" is now offered. For servers made from endpoint
    descriptions (``ssl:443:...``), which have no way to say so (the ``torsiond web``
    plugin calls this for each of its TLS endpoints).
    """
    from torsion.internet.ssl import CertificateOptions

    if not H2_AVAILABLE or not isinstance(contextFactory, CertificateOptions):
        return False
    if contextFactory._alpn is None:
        contextFactory._alpn = ["h2", "http/1.1"]
        context = contextFactory._serverContext
        if context is not None:
            context.set_alpn_protocols(contextFactory._alpn)
    return "h2" in contextFactory._alpn


def switchToHTTP2(channel: HTTPChannel, data: bytes) -> H2Connection:
    """Hand `channel`'s transport to a new H2Connection, with the bytes read so far.

    The transport's protocol (a TCP connection's `protocol`, or the
    `wrappedProtocol` of a TLS layer) becomes the H2Connection, and the channel
    stops: its timers are cancelled and it reads nothing more.
    """
    transport = channel.transport
    connection = H2Connection(channel.factory, getattr(channel, "_clock", None))
    connection._secure = channel.isSecure()
    connection.site = channel.site
    connection.requestFactory = channel.requestFactory
    connection.serverHeader = channel.serverHeader
    connection.idleTimeout = channel.idleTimeout
    connection.limits = channel.limits
    channel._stopForSwitch()
    handOver(transport, connection)
    if data:
        connection.dataReceived(data)
    return connection
