"""WebSocket (RFC 6455) for torsion.web: a resource that upgrades requests, and a client.

A server puts a `WebSocketResource` in its resource tree; each upgrade request that
passes the handshake checks gets a `WebSocketProtocol` from the factory, and the HTTP
connection becomes that protocol's WebSocket::

    class Echo(WebSocketProtocol):
        def messageReceived(self, message):
            self.transport.sendMessage(message)

    root.putChild(b"echo", WebSocketResource(lambda request: Echo()))

`connectWebSocket(reactor, "ws://host:port/path", factory)` is the client; it fires
with the connected protocol once the server has said 101.

The protocol's transport (`IWebSocketTransport`) sends whole messages (text for `str`,
binary for `bytes`), pings, and closes with a code and reason. Control frames, the close
handshake (with a timeout, so a peer that never answers is dropped), keepalive pings,
size limits and permessage-deflate happen below the protocol, which sees only whole
messages and, at the end, `connectionLost(reason)` whose `reason.value` is a
`WebSocketClosed(code, reason)` when a close frame was exchanged or received, else the
transport's ConnectionLost/ConnectionDone.

The framing is ours (torsion/web/_wsframes.py, sans-IO), chosen over wsproto by
measurement (bench/websocket.py); the handshake is torsion/web/_wshandshake.py.

Tests: tests/web/websocket/ (test_protocol.py in memory, test_sockets.py over real
sockets on every reactor, test_interop.py against the `websockets` library,
test_autobahn.py against the Autobahn test suite).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from zope.interface import Attribute, Interface, implementer

from torsion.internet import defer, error, protocol
from torsion.internet.abstract import sendAtOnce
from torsion.internet.defer import Deferred
from torsion.logger import Logger
from torsion.python.failure import Failure
from torsion.web import _http11, resource
from torsion.web._channel import handOver
from torsion.web._wsdeflate import HandshakeError
from torsion.web._wsframes import (
    Close,
    CloseCode,
    FrameCodec,
    Message,
    Ping,
    Pong,
    ProtocolError,
    isValidCloseCode,
)
from torsion.web._wshandshake import (
    HandshakeRefused,
    checkRequest,
    checkResponse,
    clientRequest,
    newKey,
)

__all__ = [
    "CloseCode",
    "IWebSocketTransport",
    "WebSocketClosed",
    "WebSocketFactory",
    "WebSocketHandshakeError",
    "WebSocketProtocol",
    "WebSocketResource",
    "connectWebSocket",
]

_log = Logger(namespace="torsion.web.websocket")
_OPEN, _CLOSING, _CLOSED = range(3)


class WebSocketClosed(Exception):
    """The WebSocket closed with a close frame: `code` and `reason` are the peer's
    (or ours, if we failed the connection); 1005 means the frame carried no code."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(
            f"the WebSocket closed with code {code}" + (f": {reason}" if reason else "")
        )
        self.code = code
        self.reason = reason


class WebSocketHandshakeError(Exception):
    """connectWebSocket: the server did not accept the upgrade (`code` is its HTTP
    status, 0 if the answer was not a valid WebSocket response)."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class IWebSocketTransport(Interface):
    """What a WebSocketProtocol's transport offers."""

    request = Attribute(
        "The upgrade Request on the server (headers, cookies, getSession()); None on the client."
    )
    subprotocol = Attribute("The agreed subprotocol (str) or None.")

    def sendMessage(data: str | bytes) -> None:
        """Send one message: a text message for str, binary for bytes."""

    def close(code: int = 1000, reason: str = "") -> None:
        """Start the close handshake; the connection drops if the peer does not answer."""

    def ping(payload: bytes = b"") -> Deferred[float]:
        """Ping the peer; fires with the round-trip time in seconds."""

    def loseConnection() -> None:
        """Close normally (code 1000)."""

    def abortConnection() -> None:
        """Drop the TCP connection now, without a close handshake."""

    def getPeer() -> Any:
        """The peer's address."""

    def getHost() -> Any:
        """Our address."""


class WebSocketProtocol:
    """Subclass this, as you would protocol.Protocol, and override the callbacks."""

    transport: Any = None

    def makeConnection(self, transport: Any) -> None:
        self.transport = transport
        self.connectionMade()

    def connectionMade(self) -> None:
        """The handshake is done; the transport can send."""

    def messageReceived(self, message: str | bytes) -> None:
        """A whole message arrived: `str` for a text message, `bytes` for binary."""

    def connectionLost(self, reason: Failure) -> None:
        """The connection is gone; see the module docstring for `reason.value`."""


class WebSocketFactory:
    """Builds protocols for a WebSocketResource or connectWebSocket.

    `protocol` is the WebSocketProtocol subclass; a built protocol gets `.factory`.
    Override `buildProtocol(request)` to choose per request; returning None refuses the
    upgrade with 403.
    """

    protocol: Callable[[], WebSocketProtocol] = WebSocketProtocol

    def buildProtocol(self, request: Any) -> WebSocketProtocol | None:
        built = self.protocol()
        built.factory = self  # type: ignore[attr-defined]
        return built


def _build(factory: Any, request: Any) -> WebSocketProtocol | None:
    builder = getattr(factory, "buildProtocol", None)
    built: WebSocketProtocol | None = builder(request) if builder is not None else factory(request)
    return built


@implementer(IWebSocketTransport)
class _WebSocketConnection(protocol.Protocol):
    """The torsion protocol on the TCP (or TLS) transport, and the WebSocket transport
    the application's WebSocketProtocol writes to."""

    __slots__ = (
        "_clock",
        "_closeReceived",
        "_closeSent",
        "_closeTimer",
        "_codec",
        "_lostReason",
        "_pingTimer",
        "_pings",
        "_state",
        "app",
        "closeTimeout",
        "fragmentSize",
        "pingInterval",
        "pingTimeout",
        "request",
        "subprotocol",
    )

    def __init__(
        self,
        app: WebSocketProtocol,
        codec: FrameCodec,
        clock: Any,
        *,
        request: Any = None,
        subprotocol: str | None = None,
        pingInterval: float | None = None,
        pingTimeout: float | None = None,
        closeTimeout: float = 10.0,
    ) -> None:
        self.app = app
        self._codec = codec
        self._clock = clock
        self.request = request
        self.subprotocol = subprotocol
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout if pingTimeout is not None else pingInterval
        self.closeTimeout = closeTimeout
        self.fragmentSize: int | None = None
        self._state = _OPEN
        self._closeReceived: Close | None = None
        self._closeSent: tuple[int, str] | None = None
        self._closeTimer: Any = None
        self._pingTimer: Any = None
        self._pings: list[tuple[bytes, Deferred[float], float]] = []
        self._lostReason: Failure | None = None

    def connectionMade(self) -> None:
        # Each message is one write: Nagle's algorithm would only hold its last
        # segment back until the peer's (delayed) ACK of the others.
        sendAtOnce(self.transport)
        if self.pingInterval is not None:
            self._pingTimer = self._clock.callLater(self.pingInterval, self._keepalive)
        try:
            self.app.makeConnection(self)
        except Exception:
            _log.failure("Error in {name}.connectionMade; closing it", name=type(self.app).__name__)
            self._fail(1011, "the server failed to start this connection")

    # -- receiving -----------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        if self._state == _CLOSED:
            return
        try:
            events = self._codec.receive(data)
        except ProtocolError as refused:
            self._handle(refused.events)
            if self._state != _CLOSED:
                self._fail(refused.code, refused.reason)
            return
        self._handle(events)

    def _handle(self, events: list[Any]) -> None:
        app = self.app
        for event in events:
            if self._state == _CLOSED:
                return
            kind = event.__class__
            if kind is Message:
                if self._closeReceived is not None:
                    continue
                try:
                    app.messageReceived(event.data)
                except Exception:
                    _log.failure("Error in {name}.messageReceived", name=type(app).__name__)
                    self._fail(1011, "the application failed to handle a message")
            elif kind is Ping:
                if self._closeSent is None:
                    self.transport.write(self._codec.encodePong(event.payload))
            elif kind is Pong:
                self._pongReceived(event.payload)
            else:
                self._peerClosed(event)

    def _peerClosed(self, frame: Close) -> None:
        self._closeReceived = frame
        if self._closeSent is None:
            # The peer started the close: answer with its code.
            code: int | None = frame.code if frame.code != 1005 else None
            self._sendClose(code, "")
        self._state = _CLOSED
        if self.request is not None:
            # The server closes the TCP connection first (RFC 6455 section 7.1.1).
            self.transport.loseConnection()
        else:
            self._startCloseTimer()

    def _pongReceived(self, payload: bytes) -> None:
        pings = self._pings
        for index, (sent, _, _) in enumerate(pings):
            if sent == payload:
                # A pong answers its ping and every earlier one (a peer may skip some).
                answered, self._pings = pings[: index + 1], pings[index + 1 :]
                now = self._clock.seconds()
                for _, d, at in answered:
                    d.callback(now - at)
                return

    # -- sending -------------------------------------------------------------------

    def sendMessage(self, data: str | bytes) -> None:
        """Send a message (text for `str`, binary for `bytes`).

        After close() has started, messages are dropped, as a TCP transport drops
        writes after loseConnection().

        Raises:
            TypeError: `data` is neither str nor bytes.
        """
        if self._state != _OPEN:
            return
        self.transport.write(self._codec.encodeMessage(data, self.fragmentSize))

    def ping(self, payload: bytes = b"") -> Deferred[float]:
        """Ping the peer; the Deferred fires with the round trip in seconds.

        Without a `payload`, 8 random bytes tell this ping's pong from the others.
        It fails with the connection's end if that comes first.
        """
        if self._state != _OPEN:
            return defer.fail(Failure(WebSocketClosed(1006, "the WebSocket is closing")))
        if not payload:
            payload = os.urandom(8)
        frame = self._codec.encodePing(payload)
        d: Deferred[float] = Deferred()
        self._pings.append((payload, d, self._clock.seconds()))
        self.transport.write(frame)
        return d

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the close handshake with `code` and `reason` (at most 123 bytes).

        Raises:
            ValueError: the code may not be sent (use 1000, 1001, 1003, 1007-1014 or
                3000-4999) or the reason is too long.
        """
        if not isValidCloseCode(code):
            raise ValueError(
                f"close code {code} may not be sent; use 1000-1003, 1007-1014 or 3000-4999"
            )
        if self._state != _OPEN:
            return
        self._state = _CLOSING
        self._sendClose(code, reason)
        self._startCloseTimer()

    def _sendClose(self, code: int | None, reason: str) -> None:
        self._closeSent = (1005 if code is None else code, reason)
        self.transport.write(self._codec.encodeClose(code, reason))

    def _startCloseTimer(self) -> None:
        if self._closeTimer is None and self.closeTimeout is not None:
            self._closeTimer = self._clock.callLater(self.closeTimeout, self._closeTimedOut)

    def _closeTimedOut(self) -> None:
        self._closeTimer = None
        _log.info(
            "WebSocket peer {peer} did not finish the close handshake; dropping it",
            peer=self.getPeer(),
        )
        self.transport.abortConnection()

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection (RFC 6455 section 7.1.7): a close frame, then drop."""
        if self._closeSent is None:
            self._sendClose(code, reason.encode("utf-8")[:123].decode("utf-8", "ignore"))
        if self._lostReason is None:
            self._lostReason = Failure(WebSocketClosed(code, reason))
        self._state = _CLOSED
        self.transport.loseConnection()
        self._startCloseTimer()

    def _keepalive(self) -> None:
        self._pingTimer = None
        if self._state != _OPEN:
            return
        if self._pings and self.pingTimeout is not None:
            oldest = self._pings[0][2]
            if self._clock.seconds() - oldest >= self.pingTimeout:
                self._fail(1011, "keepalive ping not answered in time")
                return
        if not self._pings:
            self.ping().addErrback(lambda _: None)
        assert self.pingInterval is not None
        self._pingTimer = self._clock.callLater(self.pingInterval, self._keepalive)

    def loseConnection(self) -> None:
        """Close normally: code 1000."""
        self.close(1000)

    def abortConnection(self) -> None:
        self._state = _CLOSED
        self.transport.abortConnection()

    def getPeer(self) -> Any:
        return self.transport.getPeer()

    def getHost(self) -> Any:
        return self.transport.getHost()

    # -- flow control (the application's producers and pausing reads) -------------

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.transport.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        self.transport.unregisterProducer()

    def pauseProducing(self) -> None:
        self.transport.pauseProducing()

    def resumeProducing(self) -> None:
        self.transport.resumeProducing()

    def stopProducing(self) -> None:
        self.abortConnection()

    # -- the end -------------------------------------------------------------------

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        self._state = _CLOSED
        for timer in (self._closeTimer, self._pingTimer):
            if timer is not None and timer.active():
                timer.cancel()
        self._closeTimer = self._pingTimer = None
        if self._lostReason is not None:
            why = self._lostReason
        elif self._closeReceived is not None:
            why = Failure(WebSocketClosed(self._closeReceived.code, self._closeReceived.reason))
        elif isinstance(reason, Failure):
            why = reason
        else:
            why = Failure(error.ConnectionLost("the connection was lost"))
        pings, self._pings = self._pings, []
        for _, d, _ in pings:
            d.errback(why)
        try:
            self.app.connectionLost(why)
        except Exception:
            _log.failure("Error in {name}.connectionLost", name=type(self.app).__name__)
        request = self.request
        if request is not None and not getattr(request, "_disconnected", True):
            # The upgrade request's "response" was this WebSocket: whoever waits on
            # request.notifyFinish() learns that it is over.
            request.connectionLost(why)


# -- server --------------------------------------------------------------------------


class WebSocketResource(resource.Resource):
    """A leaf resource that upgrades requests to WebSocket and hands each connection
    to a protocol built by `factory`.

    Args:
        factory: a WebSocketFactory-like object whose buildProtocol(request) returns a
            WebSocketProtocol, or a callable(request) returning one; None refuses the
            upgrade with 403.
        subprotocols: the subprotocols we speak, preferred first; the first one the
            client also offered is chosen (none in common: no subprotocol).
        allowedOrigins: the browser origins allowed ("https://example.com"; "*" for
            any). None, the default, allows only pages of this site and clients that
            send no Origin (non-browsers): a foreign page cannot use the user's cookies
            over a WebSocket (cross-site WebSocket hijacking).
        maxMessageSize: the largest message accepted, after inflating; a bigger one
            closes the connection with 1009.
        compression: accept permessage-deflate when the client offers it.
        pingInterval: seconds between keepalive pings (None: none); a ping not
            answered within pingTimeout (default: pingInterval) closes with 1011.
        closeTimeout: seconds to wait for the peer's side of the close handshake.
    """

    isLeaf = True

    def __init__(
        self,
        factory: Any,
        *,
        subprotocols: Sequence[str] = (),
        allowedOrigins: Sequence[str] | None = None,
        maxMessageSize: int = 16 * 1024 * 1024,
        maxFrameSize: int | None = None,
        compression: bool = True,
        pingInterval: float | None = None,
        pingTimeout: float | None = None,
        closeTimeout: float = 10.0,
    ) -> None:
        super().__init__()
        if isinstance(allowedOrigins, str):
            raise TypeError("allowedOrigins is a list of origins, e.g. ['https://example.com']")
        self.factory = factory
        self.subprotocols = tuple(subprotocols)
        self.allowedOrigins = None if allowedOrigins is None else tuple(allowedOrigins)
        self.maxMessageSize = maxMessageSize
        self.maxFrameSize = maxFrameSize
        self.compression = compression
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
        self.closeTimeout = closeTimeout

    def render(self, request: Any) -> Any:
        from torsion.web.server import NOT_DONE_YET

        try:
            agreed = checkRequest(
                request.method,
                request.clientproto,
                request.requestHeaders._raw,
                secure=request.isSecure(),
                subprotocols=self.subprotocols,
                allowedOrigins=self.allowedOrigins,
                compression=self.compression,
            )
            switch = getattr(request.channel, "_switchProtocol", None)
            if switch is None:
                raise HandshakeRefused(
                    400, "WebSocket needs an HTTP/1.1 connection; this one cannot be upgraded"
                )
            app = _build(self.factory, request)
            if app is None:
                raise HandshakeRefused(403, "the server refused this WebSocket connection")
        except HandshakeRefused as refused:
            return _refusal(request, refused)
        request.setResponseCode(101)
        for name, value in agreed.headers:
            request.setHeader(name, value)
        request.write(b"")
        codec = FrameCodec(
            client=False,
            maxMessageSize=self.maxMessageSize,
            maxFrameSize=self.maxFrameSize,
            deflate=agreed.deflate,
        )
        connection = _WebSocketConnection(
            app,
            codec,
            request.channel._clock,
            request=request,
            subprotocol=agreed.subprotocol,
            pingInterval=self.pingInterval,
            pingTimeout=self.pingTimeout,
            closeTimeout=self.closeTimeout,
        )
        switch(connection)
        return NOT_DONE_YET


def _refusal(request: Any, refused: HandshakeRefused) -> bytes:
    request.setResponseCode(refused.status)
    for name, value in refused.headers:
        request.setHeader(name, value)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    return f"{refused.status} {refused.message}\n".encode()


# -- client --------------------------------------------------------------------------


class _ClientHandshake(protocol.Protocol):
    """Sends the upgrade request, reads the 101, then gives the connection to a
    _WebSocketConnection."""

    def __init__(self, owner: _ClientFactory) -> None:
        self.owner = owner
        self.key = newKey()
        self.parser = _http11.ResponseParser()
        self.done = False

    def connectionMade(self) -> None:
        owner = self.owner
        self.transport.write(
            clientRequest(
                owner.host,
                owner.port,
                owner.secure,
                owner.target,
                self.key,
                headers=owner.headers,
                subprotocols=owner.subprotocols,
                compression=owner.compression,
            )
        )
        owner.handshakeTimer = owner.reactor.callLater(owner.timeout, self._timedOut)

    def _timedOut(self) -> None:
        self.owner.handshakeTimer = None
        self._refuse(
            WebSocketHandshakeError(f"no handshake answer within {self.owner.timeout} seconds")
        )

    def _refuse(self, why: Exception) -> None:
        if not self.done:
            self.done = True
            self.owner.finish(Failure(why))
            self.transport.abortConnection()

    def dataReceived(self, data: bytes) -> None:
        if self.done:
            return
        parser = self.parser
        parser.feed(data)
        try:
            head = parser.next()
        except _http11.ParseError as bad:
            self._refuse(WebSocketHandshakeError(f"the server's answer is not HTTP: {bad.reason}"))
            return
        if head is None:
            if parser.buffered > 64 * 1024:
                self._refuse(WebSocketHandshakeError("the server's answer head is over 64 KiB"))
            return
        assert isinstance(head, _http11.ResponseHead)
        owner = self.owner
        if head.code != 101:
            phrase = head.phrase.decode("latin-1")
            self._refuse(
                WebSocketHandshakeError(
                    f"the server answered {head.code} {phrase} instead of 101 Switching "
                    f"Protocols: {owner.target} is not a WebSocket it accepts",
                    head.code,
                )
            )
            return
        try:
            subprotocol, deflate = checkResponse(
                head.code, head.headers, self.key, owner.subprotocols, owner.compression
            )
        except HandshakeError as bad:
            self._refuse(WebSocketHandshakeError(str(bad), head.code))
            return
        self.done = True
        leftover = parser._buffer[parser._pos :]
        app = _build(owner.protocolFactory, None)
        if app is None:
            self._refuse(WebSocketHandshakeError("the protocol factory returned None"))
            return
        connection = _WebSocketConnection(
            app,
            FrameCodec(client=True, maxMessageSize=owner.maxMessageSize, deflate=deflate),
            owner.reactor,
            subprotocol=subprotocol,
            pingInterval=owner.pingInterval,
            closeTimeout=owner.closeTimeout,
        )
        transport = self.transport
        handOver(transport, connection)
        owner.finish(app)
        if leftover:
            connection.dataReceived(leftover)

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        if not self.done:
            self.done = True
            if isinstance(reason, Failure) and not reason.check(error.ConnectionDone):
                # A TLS verification failure, a reset: the caller wants that itself.
                self.owner.finish(reason)
                return
            why = reason.getErrorMessage() if isinstance(reason, Failure) else str(reason)
            self.owner.finish(
                Failure(
                    WebSocketHandshakeError(
                        f"the connection closed before the handshake finished: {why}"
                    )
                )
            )


class _ClientFactory(protocol.ClientFactory):
    """One connectWebSocket call: its options, and the Deferred to fire."""

    def __init__(
        self,
        reactor: Any,
        deferred: Deferred[WebSocketProtocol],
        *,
        host: str,
        port: int,
        secure: bool,
        target: str,
        protocolFactory: Any,
        headers: Mapping[str | bytes, str | bytes] | None,
        subprotocols: tuple[str, ...],
        compression: bool,
        maxMessageSize: int,
        pingInterval: float | None,
        closeTimeout: float,
        timeout: float,
    ) -> None:
        self.reactor = reactor
        self.deferred: Deferred[WebSocketProtocol] | None = deferred
        self.handshakeTimer: Any = None
        self.host = host
        self.port = port
        self.secure = secure
        self.target = target
        self.protocolFactory = protocolFactory
        self.headers = headers
        self.subprotocols = subprotocols
        self.compression = compression
        self.maxMessageSize = maxMessageSize
        self.pingInterval = pingInterval
        self.closeTimeout = closeTimeout
        self.timeout = timeout

    def buildProtocol(self, addr: Any) -> _ClientHandshake:
        handshake = _ClientHandshake(self)
        handshake.factory = self
        return handshake

    def finish(self, result: Any) -> None:
        if self.handshakeTimer is not None and self.handshakeTimer.active():
            self.handshakeTimer.cancel()
        self.handshakeTimer = None
        d, self.deferred = self.deferred, None
        if d is not None:
            if isinstance(result, Failure):
                d.errback(result)
            else:
                d.callback(result)

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        self.finish(reason)


def connectWebSocket(
    reactor: Any,
    url: str,
    protocolFactory: Any,
    *,
    headers: Mapping[str | bytes, str | bytes] | None = None,
    subprotocols: Sequence[str] = (),
    contextFactory: Any = None,
    compression: bool = True,
    maxMessageSize: int = 16 * 1024 * 1024,
    pingInterval: float | None = None,
    closeTimeout: float = 10.0,
    timeout: float = 30.0,
) -> Deferred[WebSocketProtocol]:
    """Connect to the WebSocket at `url` (ws:// or wss://).

    `protocolFactory` is a WebSocketFactory or a callable(None) returning a
    WebSocketProtocol. The Deferred fires with that protocol, connected, or fails with
    WebSocketHandshakeError (the server refused or did not answer within `timeout`
    seconds) or the connection error. For wss:// the default `contextFactory` is
    `optionsForClientTLS(host)`, which checks the server's certificate and name.

    Raises:
        ValueError: the URL is not ws:// or wss:// with a host.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"a WebSocket URL is ws://host[:port]/path or wss://..., not {url!r}")
    secure = scheme == "wss"
    host = parts.hostname
    port = parts.port or (443 if secure else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    d: Deferred[WebSocketProtocol] = Deferred()
    factory = _ClientFactory(
        reactor,
        d,
        host=host,
        port=port,
        secure=secure,
        target=target,
        protocolFactory=protocolFactory,
        headers=headers,
        subprotocols=tuple(subprotocols),
        compression=compression,
        maxMessageSize=maxMessageSize,
        pingInterval=pingInterval,
        closeTimeout=closeTimeout,
        timeout=timeout,
    )
    if secure:
        if contextFactory is None:
            from torsion.internet.ssl import optionsForClientTLS

            contextFactory = optionsForClientTLS(host)
        reactor.connectSSL(host, port, factory, contextFactory, timeout=timeout)
    else:
        reactor.connectTCP(host, port, factory, timeout=timeout)
    return d
