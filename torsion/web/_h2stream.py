"""H2Stream: one HTTP/2 stream, the channel and transport of one torsion.web Request.

torsion.web.http.Request writes its response through its channel (`writeHead`,
`transport.write`, `_requestDone`) and asks it about the connection (`isSecure`,
`getPeer`, `getHost`, producers). An H2Stream answers all of that for one stream of
an H2Connection (torsion/web/_http2.py): the head becomes a HEADERS frame, the body
DATA frames sent as the client's flow-control window allows, and ending the response
early resets the stream rather than the connection.

Tests: tests/web/h2/.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torsion.internet import error
from torsion.python import log
from torsion.python.failure import Failure

try:
    import h2.exceptions
    from h2.errors import ErrorCodes
except ImportError:  # pragma: no cover - exercised only where h2 is not installed
    pass

if TYPE_CHECKING:
    from torsion.web._http2 import H2Connection
    from torsion.web.http import Request

__all__ = ["H2Stream"]

# Headers that are about an HTTP/1.1 connection and that HTTP/2 forbids (RFC 9113
# section 8.2.2): a response carrying them would be malformed.
_CONNECTION_HEADERS = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)


def _reason(text: str) -> Failure:
    return Failure(error.ConnectionLost(text))


class H2Stream:
    """One HTTP/2 stream: the channel and transport of the request it carries."""

    __slots__ = (
        "_bodySize",
        "_endPending",
        "_ended",
        "_lost",
        "_paused",
        "_pending",
        "_producer",
        "_streaming",
        "connection",
        "dispatched",
        "request",
        "streamID",
    )

    # What Request reads of an HTTP/1.1 channel; an HTTP/2 stream is never "kept alive"
    # or closed by a response, and has no connection-wide framing to choose.
    _persistent = True

    def __init__(self, connection: H2Connection, streamID: int) -> None:
        self.connection = connection
        self.streamID = streamID
        self.request: Request | None = None
        self.dispatched = False
        self._pending = bytearray()
        self._endPending = False
        self._ended = False
        self._lost = False
        self._producer: Any = None
        self._streaming = False
        self._paused = False
        self._bodySize = 0

    def __repr__(self) -> str:
        return f"<H2Stream {self.streamID} of {self.connection!r}>"

    # -- what Request uses of its channel -----------------------------------------

    @property
    def transport(self) -> H2Stream:
        return self

    @property
    def site(self) -> Any:
        return self.connection.site

    @property
    def factory(self) -> Any:
        return self.connection.factory

    @property
    def serverHeader(self) -> bytes:
        return self.connection.serverHeader

    @property
    def requests(self) -> list[Request]:
        request = self.request
        return [] if request is None or request.finished else [request]

    def isSecure(self) -> bool:
        return self.connection.isSecure()

    def getPeer(self) -> Any:
        return self.connection.transport.getPeer()

    def getHost(self) -> Any:
        return self.connection.transport.getHost()

    def writeHead(self, request: Request, bodyLength: int | None, body: bytes) -> None:
        """Send the HEADERS frame of `request`'s response, then the start of its body."""
        raw = request.responseHeaders._raw
        request._entityHeaders(raw, bodyLength)
        headers = [(b":status", b"%d" % request.code)]
        if b"date" not in raw:
            from torsion.web.http import _dateCache

            headers.append((b"date", _dateCache.now()))
        if b"server" not in raw:
            headers.append((b"server", self.connection.serverValue()))
        for name, values in raw.items():
            if name in _CONNECTION_HEADERS:
                continue
            for value in values:
                headers.append((name, value))
        for cookie in request.cookies:
            headers.append((b"set-cookie", cookie))
        if self._lost:
            return
        connection = self.connection
        try:
            connection.h2.send_headers(
                self.streamID,
                headers,
                end_stream=bodyLength is not None and (request._noBody or not body),
            )
        except h2.exceptions.ProtocolError as refused:
            log.err(
                None, f"HTTP/2 stream {self.streamID}: the response head cannot be sent: {refused}"
            )
            self._reset(ErrorCodes.INTERNAL_ERROR, f"the response head cannot be sent: {refused}")
            return
        if bodyLength is not None and (request._noBody or not body):
            self._ended = True
            connection.flush()
            connection.streamFinished(self)
            return
        if bodyLength is not None:
            # writeWhole: this is all of the body and finish() comes next, so the
            # stream ends with the body's last DATA frame rather than an empty one.
            self._endPending = True
        if body and not request._noBody:
            request.sentLength += len(body)
            self.write(body)
        else:
            self._send()

    def _requestDone(self, request: Request) -> None:
        """The response is finished: end the stream once its data has been sent."""
        if request is not self.request:
            return
        self._endPending = True
        if not self._lost:
            self._send()
        site = self.connection.factory
        if site is not None:
            site.log(request)

    # -- what Request uses of its transport -----------------------------------------

    def write(self, data: bytes) -> None:
        """Send `data` in DATA frames, as the client's flow-control window allows."""
        if self._lost or self._ended or not data:
            return
        self._pending += data
        self._send()

    def writeSequence(self, iovec: list[bytes]) -> None:
        self.write(b"".join(iovec))

    def loseConnection(self) -> None:
        """End this stream: cleanly if the response is finished, else with a reset.

        torsion.web calls this when a response that has begun cannot be completed (a
        render failing after its head was sent); the client must then see an error
        rather than a truncated body, so the stream is reset with INTERNAL_ERROR.
        """
        request = self.request
        if request is not None and request.finished:
            return
        self._reset(ErrorCodes.INTERNAL_ERROR, "the server ended the stream")

    def abortConnection(self) -> None:
        self._reset(ErrorCodes.CANCEL, "the server aborted the stream")

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        if self._producer is not None:
            raise RuntimeError(
                f"cannot register producer {producer!r}: {self._producer!r} is registered; "
                "unregister it first"
            )
        self._producer = producer
        self._streaming = bool(streaming)
        self._paused = False
        if self._lost:
            producer.stopProducing()
        elif streaming:
            if self._blocked():
                self._paused = True
                producer.pauseProducing()
        else:
            self.connection.callSoon(self._pull)

    def unregisterProducer(self) -> None:
        self._producer = None

    # -- flow control ----------------------------------------------------------------

    def _blocked(self) -> bool:
        return self.connection.paused or len(self._pending) > self.connection.streamBufferSize

    def _send(self) -> None:
        """Hand what the window allows to h2, then end the stream if that was all."""
        connection = self.connection
        pending = self._pending
        if pending and not connection.paused:
            h2conn = connection.h2
            streamID = self.streamID
            try:
                while pending:
                    window = h2conn.local_flow_control_window(streamID)
                    if window <= 0:
                        break
                    size = min(window, h2conn.max_outbound_frame_size, len(pending))
                    if size == len(pending):
                        h2conn.send_data(streamID, bytes(pending), end_stream=self._endPending)
                        pending.clear()
                        if self._endPending:
                            self._ended = True
                        break
                    h2conn.send_data(streamID, bytes(pending[:size]))
                    del pending[:size]
            except h2.exceptions.StreamClosedError:
                connection.flush()
                self.connectionLost(_reason("the HTTP/2 stream was closed"), later=True)
                return
        if self._endPending and not pending and not self._ended:
            self._ended = True
            try:
                connection.h2.end_stream(self.streamID)
            except h2.exceptions.StreamClosedError:
                pass
        connection.flush()
        if self._ended:
            connection.streamFinished(self)
            return
        producer = self._producer
        if producer is not None:
            if self._streaming:
                if self._paused and not self._blocked():
                    self._paused = False
                    producer.resumeProducing()
                elif not self._paused and self._blocked():
                    self._paused = True
                    producer.pauseProducing()
            elif not pending and not connection.paused:
                connection.callSoon(self._pull)

    def _pull(self) -> None:
        producer = self._producer
        if producer is not None and not self._streaming and not self._lost and not self._pending:
            producer.resumeProducing()

    def _reset(self, code: int, why: str) -> None:
        if self._lost or self._ended:
            return
        try:
            self.connection.h2.reset_stream(self.streamID, code)
        except h2.exceptions.ProtocolError:
            pass
        self.connection.flush()
        self.connectionLost(_reason(why), later=True)

    # -- the request's side ------------------------------------------------------------

    def connectionLost(self, reason: Failure, later: bool = False) -> None:
        """The stream was reset or the connection lost: stop the request's work.

        With `later`, the request hears of it after the current call returns: for a
        loss found while the request is writing, so that its write-then-finish
        sequence (writeWhole) completes first.
        """
        if self._lost:
            return
        self._lost = True
        self._pending.clear()
        self.connection.streamFinished(self)
        if later:
            self.connection.callSoon(lambda: self._tellRequest(reason))
        else:
            self._tellRequest(reason)

    def _tellRequest(self, reason: Failure) -> None:
        producer, self._producer = self._producer, None
        request = self.request
        if request is not None and not request.finished:
            request.connectionLost(reason)
        elif producer is not None:
            producer.stopProducing()
