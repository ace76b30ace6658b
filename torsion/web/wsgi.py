"""WSGI (PEP 3333) applications served as torsion.web resources.

    from torsion.web.wsgi import WSGIResource
    root = WSGIResource(reactor, reactor.getThreadPool(), flaskApp)
    reactor.listenTCP(8080, Site(root))

The application runs on the thread pool, never on the reactor thread: its call, the
iteration over its response and the response's close() happen in a worker thread,
so blocking code (a database driver, a template engine) does not stall the server.
Everything that touches the connection is handed to the reactor thread with
callFromThread. The worker thread blocks while the client is slower than the
application (the transport pauses the response, a push producer, once its buffer
is full, and at most `WSGIResource.maxBufferedBytes` may be on their way to the
reactor), so a large response never piles up in memory.

Where the resource sits in the tree gives the environ its paths: the URL segments
traversed to reach it are SCRIPT_NAME, the rest PATH_INFO (both unquoted and decoded
as ISO-8859-1, as PEP 3333 has it). The request body has been read (within the
site's limits) before the application runs, so wsgi.input never blocks; it is
marked wsgi.input_terminated, and CONTENT_LENGTH gives its size even for a chunked
upload.

What this server refuses, with an exception raised in the application's thread:
status lines and headers that are not native strings encodable as ISO-8859-1, CR or
LF or NUL in them (header injection), header names that are not HTTP tokens, and the
hop-by-hop headers that are the server's business (Transfer-Encoding, Keep-Alive,
...; Connection is allowed, and ``Connection: close`` closes after the response).
A body longer than the Content-Length the application declared is cut there and
the connection closed; a shorter one also closes it (the client sees the
truncation instead of a desynchronised connection). Request header names that hold
an underscore are left out of the environ, since HTTP_X_USER could otherwise come
from X-User or X_User and an application trusting a proxy-set header could be fooled.

Tests: tests/web/test_wsgi.py.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable, Iterable
from io import BytesIO
from types import TracebackType
from typing import Any

from zope.interface import implementer

from torsion.internet.interfaces import IPushProducer
from torsion.logger import Logger
from torsion.python.failure import Failure
from torsion.web import resource, server

__all__ = ["WSGIResource"]

_log = Logger(namespace="torsion.web.wsgi")

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
_StartResponse = Callable[..., Callable[[bytes], None]]
_Application = Callable[[dict[str, Any], _StartResponse], Iterable[bytes]]

_STATUS = re.compile(r"([1-9][0-9]{2}) ([^\x00-\x08\x0a-\x1f\x7f]*)")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_UNSAFE_VALUE = re.compile(r"[\x00\r\n]")
_HOP_BY_HOP = frozenset(
    {
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_NO_BODY = frozenset({204, 304})


class _ErrorStream:
    """wsgi.errors: text the application writes, logged line by line to torsion's log."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending = ""

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"wsgi.errors is a text stream: write str, not {type(text).__name__}")
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        for line in lines:
            _log.error("{text}", text=line)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, ""
            _log.error("{text}", text=pending)


def _latin1(value: bytes) -> str:
    return value.decode("iso-8859-1")


def _checkedStatus(status: object) -> tuple[int, bytes]:
    if not isinstance(status, str):
        raise TypeError(
            f"the WSGI status must be a native str such as '200 OK', not {type(status).__name__}"
        )
    match = _STATUS.fullmatch(status)
    if match is None:
        raise ValueError(
            f"the WSGI status {status!r} is not a three-digit code, a space and a reason "
            "(such as '404 Not Found'), or holds a control character"
        )
    try:
        reason = match.group(2).encode("iso-8859-1")
    except UnicodeEncodeError:
        raise ValueError(f"the WSGI status {status!r} is not ISO-8859-1 text") from None
    return int(match.group(1)), reason


def _checkedHeaders(headers: object) -> list[tuple[bytes, bytes]]:
    if not isinstance(headers, list):
        raise TypeError(
            f"the WSGI response headers must be a list of (name, value) tuples, "
            f"not {type(headers).__name__}"
        )
    checked = []
    for header in headers:
        if not (isinstance(header, tuple) and len(header) == 2):
            raise TypeError(f"a WSGI response header is a (name, value) tuple, not {header!r}")
        name, value = header
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"WSGI header names and values are native str: {header!r}")
        if not _TOKEN.fullmatch(name):
            raise ValueError(f"the WSGI header name {name!r} is not an HTTP token")
        if name.lower() in _HOP_BY_HOP:
            raise ValueError(
                f"the WSGI application set the hop-by-hop header {name!r}; the server "
                "frames the response itself (PEP 3333, 'Other HTTP Features')"
            )
        if _UNSAFE_VALUE.search(value):
            raise ValueError(f"the WSGI header {name!r} has CR, LF or NUL in its value")
        try:
            checked.append((name.encode("ascii"), value.encode("iso-8859-1")))
        except UnicodeEncodeError:
            raise ValueError(
                f"the WSGI header {name!r} has characters outside ISO-8859-1 in its value"
            ) from None
    return checked


@implementer(IPushProducer)
class _WSGIResponse:
    """One request's run of the application, and the hand-over of its output.

    The methods named `_in...Thread` run where they say; the push-producer methods
    (pauseProducing, resumeProducing, stopProducing) are called by the transport in the
    reactor thread. `_cond` guards what the two threads share: the bytes in flight,
    the paused and stopped flags.
    """

    __slots__ = (
        "__weakref__",
        "_application",
        "_cond",
        "_contentLength",
        "_countBody",
        "_environ",
        "_errors",
        "_headers",
        "_headersSent",
        "_inFlight",
        "_limit",
        "_overflowed",
        "_paused",
        "_reactor",
        "_request",
        "_sentBody",
        "_status",
        "_stopped",
        "_withProducer",
    )

    def __init__(
        self,
        reactor: Any,
        request: Any,
        application: _Application,
        limit: int,
    ) -> None:
        self._reactor = reactor
        self._request = request
        self._application = application
        self._limit = limit
        self._cond = threading.Condition()
        self._inFlight = 0
        self._paused = False
        self._stopped = False
        self._withProducer = False
        self._status: tuple[int, bytes] | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._headersSent = False
        self._contentLength: int | None = None
        self._countBody = True
        self._sentBody = 0
        self._overflowed = False
        self._errors = _ErrorStream()
        self._environ = self._makeEnviron(request)
        request.notifyFinish().addErrback(self._connectionLost)

    # -- the reactor thread ------------------------------------------------------------

    def _makeEnviron(self, request: Any) -> dict[str, Any]:
        prepath, postpath = request.prepath, request.postpath
        _, question, query = request.uri.partition(b"?")
        content = request.content
        try:
            content.seek(0, 2)
            bodyLength = content.tell()
            content.seek(0)
        except (AttributeError, OSError, ValueError):
            bodyLength = 0
        if bodyLength == 0:
            content = BytesIO()  # each request its own, never the shared empty body
        host = request.getHost()
        peer = request.getClientAddress()
        environ: dict[str, Any] = {
            "REQUEST_METHOD": _latin1(request.method),
            "SCRIPT_NAME": _latin1(b"/" + b"/".join(prepath)) if prepath else "",
            "PATH_INFO": _latin1(b"/" + b"/".join(postpath)) if postpath else "",
            "QUERY_STRING": _latin1(query) if question else "",
            "CONTENT_TYPE": "",
            "CONTENT_LENGTH": str(bodyLength) if bodyLength else "",
            "SERVER_NAME": _latin1(request.getRequestHostname()),
            "SERVER_PORT": str(getattr(host, "port", "")),
            "SERVER_PROTOCOL": _latin1(request.clientproto),
            "REMOTE_ADDR": str(getattr(peer, "host", "")),
            "REMOTE_PORT": str(getattr(peer, "port", "")),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https" if request.isSecure() else "http",
            "wsgi.input": content,
            "wsgi.input_terminated": True,
            "wsgi.errors": self._errors,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, values in request.requestHeaders._raw.items():
            if name == b"content-type":
                environ["CONTENT_TYPE"] = _latin1(values[-1])
                continue
            if name == b"content-length" or b"_" in name:
                continue
            key = "HTTP_" + _latin1(name).upper().replace("-", "_")
            separator = b"; " if name == b"cookie" else b", "
            environ[key] = _latin1(separator.join(values))
        return environ

    def _connectionLost(self, reason: Failure) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def pauseProducing(self) -> None:
        with self._cond:
            self._paused = True

    def resumeProducing(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def stopProducing(self) -> None:
        self._connectionLost(Failure(ConnectionError("the client's connection was lost")))

    def _startInReactor(self) -> bool:
        """Set the status and headers on the request; False if the client is gone."""
        request = self._request
        if self._stopped or request.finished:
            return False
        assert self._status is not None
        code, reason = self._status
        request.defaultContentType = None
        request.setResponseCode(code, reason)
        headers = request.responseHeaders
        for name, value in self._headers:
            headers.addRawHeader(name, value)
        request.registerProducer(self, True)
        self._withProducer = True
        return True

    def _writeInReactor(self, data: bytes, start: bool) -> None:
        try:
            if start and not self._startInReactor():
                return
            if not self._stopped:
                self._request.write(data)
        finally:
            with self._cond:
                self._inFlight -= len(data)
                self._cond.notify_all()

    def _writeWholeInReactor(self, data: bytes) -> None:
        """The response in one piece: head and body sent with a Content-Length."""
        request = self._request
        if self._stopped or request.finished:
            return
        assert self._status is not None
        code, reason = self._status
        request.defaultContentType = None
        request.setResponseCode(code, reason)
        headers = request.responseHeaders
        for name, value in self._headers:
            headers.addRawHeader(name, value)
        request.writeWhole(data)

    def _finishInReactor(self, complete: bool) -> None:
        request = self._request
        if self._withProducer:
            self._withProducer = False
            request.unregisterProducer()
        if self._stopped or request.finished:
            return
        if complete:
            request.finish()
        else:
            request.channel.transport.loseConnection()

    def _failInReactor(self, failure: Failure) -> None:
        request = self._request
        if self._withProducer:
            self._withProducer = False
            request.unregisterProducer()
        if request.finished:
            return
        request.processingFailed(failure)

    # -- the worker thread -------------------------------------------------------------

    def startResponse(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: _ExcInfo | None = None,
    ) -> Callable[[bytes], None]:
        """The start_response callable of PEP 3333."""
        if exc_info is not None:
            try:
                if self._headersSent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self._status is not None:
            raise RuntimeError(
                "start_response was called a second time without exc_info; only an "
                "application handling an error may replace the status and headers"
            )
        checkedStatus = _checkedStatus(status)
        checkedHeaders = _checkedHeaders(headers)
        length = None
        for name, value in checkedHeaders:
            if name.lower() == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    raise ValueError(f"the WSGI Content-Length {value!r} is not a number") from None
                if length < 0:
                    raise ValueError(f"the WSGI Content-Length {length} is negative")
        self._status = checkedStatus
        self._headers = checkedHeaders
        self._contentLength = length
        code = checkedStatus[0]
        self._countBody = not (
            code in _NO_BODY or code < 200 or self._environ["REQUEST_METHOD"] == "HEAD"
        )
        return self.write

    def write(self, data: bytes) -> None:
        """The write callable start_response returns (and the iterable's path too)."""
        if self._status is None:
            raise RuntimeError("the WSGI application wrote before calling start_response")
        if not isinstance(data, bytes):
            raise TypeError(
                f"a WSGI application's body is bytes, not {type(data).__name__}; encode text"
            )
        data = self._withinLength(data)
        if not data:
            return
        start = not self._headersSent
        self._headersSent = True
        size = len(data)
        with self._cond:
            while (self._paused or self._inFlight >= self._limit) and not self._stopped:
                self._cond.wait()
            if self._stopped:
                return
            self._inFlight += size
        self._reactor.callFromThread(self._writeInReactor, data, start)

    def _withinLength(self, data: bytes) -> bytes:
        if self._countBody and self._contentLength is not None:
            room = self._contentLength - self._sentBody
            if len(data) > room:
                self._overflowed = True
                _log.error(
                    "The WSGI application sent more than its Content-Length of {length} "
                    "bytes for {uri}; the body is cut there and the connection closed",
                    length=self._contentLength,
                    uri=self._request.uri,
                )
                data = data[:room]
        self._sentBody += len(data)
        return data

    def run(self) -> None:
        """Call the application and send what it answers (in a worker thread)."""
        try:
            body = self._application(self._environ, self.startResponse)
        except BaseException:
            self._fail(Failure())
            return
        try:
            if (
                isinstance(body, (list, tuple))
                and len(body) == 1
                and not self._headersSent
                and self._status is not None
                and self._contentLength is None
                and isinstance(body[0], bytes)
            ):
                self._headersSent = True
                self._sentBody = len(body[0])
                self._reactor.callFromThread(self._writeWholeInReactor, body[0])
                self._errors.flush()
                return
            for chunk in body:
                if self._stopped:
                    break
                self.write(chunk)
            if self._status is None:
                raise RuntimeError(
                    "the WSGI application returned its body without calling start_response"
                )
        except BaseException:
            self._closeBody(body)
            self._fail(Failure())
            return
        self._closeBody(body)
        self._errors.flush()
        if self._stopped:
            self._reactor.callFromThread(self._finishInReactor, False)
            return
        if not self._headersSent:
            self._headersSent = True
            self._reactor.callFromThread(self._writeWholeInReactor, b"")
            return
        complete = not self._overflowed
        length = self._contentLength
        if self._countBody and length is not None and self._sentBody < length:
            complete = False
            _log.error(
                "The WSGI application sent {sent} of its Content-Length of {length} "
                "bytes for {uri}; the connection is closed",
                sent=self._sentBody,
                length=length,
                uri=self._request.uri,
            )
        self._reactor.callFromThread(self._finishInReactor, complete)

    def _closeBody(self, body: Any) -> None:
        close = getattr(body, "close", None)
        if close is None:
            return
        try:
            close()
        except BaseException:
            _log.failure(
                "The close() of a WSGI application's response failed for {uri}",
                Failure(),
                uri=self._request.uri,
            )

    def _fail(self, failure: Failure) -> None:
        self._errors.flush()
        self._reactor.callFromThread(self._failInReactor, failure)


class WSGIResource(resource.Resource):
    """A resource that answers every request below it with a WSGI application.

    Args:
        reactor: the reactor the site runs on.
        threadpool: where the application runs (torsion.python.threadpool.ThreadPool,
            started; reactor.getThreadPool() will do, or a pool of your own sized
            for the application's concurrency).
        application: the PEP 3333 application callable.
    """

    isLeaf = True
    maxBufferedBytes = 256 * 1024
    """How many bytes of the response may be on their way to the reactor at once."""

    def __init__(self, reactor: Any, threadpool: Any, application: _Application) -> None:
        super().__init__()
        self._reactor = reactor
        self._threadpool = threadpool
        self._application = application
        self._running: weakref.WeakSet[_WSGIResponse] | None = None

    def render(self, request: Any) -> int:
        response = _WSGIResponse(self._reactor, request, self._application, self.maxBufferedBytes)
        if self._running is None:
            self._running = weakref.WeakSet()
            addTrigger = getattr(self._reactor, "addSystemEventTrigger", None)
            if addTrigger is not None:  # a test's Clock has no shutdown to watch
                addTrigger("before", "shutdown", self._shutDown)
        self._running.add(response)
        self._threadpool.callInThread(response.run)
        return server.NOT_DONE_YET

    def _shutDown(self) -> None:
        """Release the worker threads waiting for slow clients, so the pool can stop."""
        for response in list(self._running or ()):
            response.stopProducing()

    def getChildWithDefault(self, path: bytes, request: Any) -> Any:
        raise RuntimeError(
            "a WSGIResource is a leaf: it answers every path below it and has no children"
        )

    def putChild(self, path: bytes | str, child: Any) -> None:
        raise RuntimeError(
            "a WSGIResource is a leaf: it answers every path below it and has no children"
        )
