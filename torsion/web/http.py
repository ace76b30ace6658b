"""HTTP/1.1 serving: the base `Request`, the channel and factory, dates and status codes.

This is the layer under torsion.web.server: a `Request` here knows the wire (status
line, headers, framing, cookies, conditional requests) but nothing of resources.
`HTTPChannel` (in torsion/web/_channel.py, re-exported here) is the protocol that
feeds a connection's bytes to the sans-IO parser (torsion/web/_http11.py), makes one
request object per request and writes the responses back in order. `HTTPFactory`
holds the settings every channel shares: limits, timeouts and the access log.

How a request is framed on the way out: a body whose length is known when the first
byte is written (a Content-Length set, or render returning bytes) is sent as is;
otherwise HTTP/1.1 clients get chunked encoding and HTTP/1.0 clients a body ended by
closing the connection. Responses are always HTTP/1.1, as RFC 9110 section 2.5 asks.

A request writes through its channel: the head and the first part of the body with
`channel.writeHead(request, bodyLength, body)`, the rest with
`channel.transport.write`, and `channel._requestDone(request)` at the end. An HTTP/2
stream (torsion/web/_http2.py) is such a channel, sending HEADERS and DATA frames.
HTTPChannel's `writeHead` is None: the request then writes the HTTP/1.1 head itself
(`_buildHead`), inline, which keeps the HTTP/1.1 path as short as it was.

Tests: tests/web/test_http.py, tests/web/test_channel.py.
"""

from __future__ import annotations

import calendar
import re
import tempfile
import time
import urllib.parse
from email.utils import formatdate, parsedate_tz
from io import BytesIO
from typing import IO, TYPE_CHECKING, Any

from zope.interface import implementer

from torsion.internet.defer import Deferred, fail
from torsion.python.failure import Failure
from torsion.web import _http11, _responses
from torsion.web._responses import *  # noqa: F403
from torsion.web._responses import NOT_MODIFIED, OK, PRECONDITION_FAILED, RESPONSES
from torsion.web.http_headers import Headers, canonicalName
from torsion.web.http_headers import _canonicalCache as _canonicalNames
from torsion.web.iweb import IRequest

if TYPE_CHECKING:
    from torsion.web._channel import HTTPChannel

__all__ = [
    *_responses.__all__,
    "CACHED",
    "HTTPChannel",
    "HTTPFactory",
    "Limits",
    "PotentialDataLoss",
    "Request",
    "combinedLogFormatter",
    "datetimeToLogString",
    "datetimeToString",
    "parse_qs",
    "proxiedLogFormatter",
    "stringToDatetime",
    "timegm",
]

CACHED = "torsion.web.http.CACHED"
"""What setLastModified/setETag return when the client's copy is current (304 sent)."""

_WEEKDAYS = (b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun")
_MONTHS = (
    b"Jan",
    b"Feb",
    b"Mar",
    b"Apr",
    b"May",
    b"Jun",
    b"Jul",
    b"Aug",
    b"Sep",
    b"Oct",
    b"Nov",
    b"Dec",
)

timegm = calendar.timegm


def datetimeToString(msSinceEpoch: float | None = None) -> bytes:
    """The IMF-fixdate of a POSIX time (now by default): b"Sun, 06 Nov 1994 08:49:37 GMT"."""
    return formatdate(msSinceEpoch, usegmt=True).encode("ascii")


def datetimeToLogString(msSinceEpoch: float | None = None) -> str:
    """A POSIX time in the common log format's form: "[06/Nov/1994:08:49:37 +0000]"."""
    if msSinceEpoch is None:
        msSinceEpoch = time.time()
    t = time.gmtime(msSinceEpoch)
    month = _MONTHS[t.tm_mon - 1].decode()
    return (
        f"[{t.tm_mday:02d}/{month}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000]"
    )


def stringToDatetime(dateString: bytes | str) -> int:
    """The POSIX time of an HTTP date in any of the three forms RFC 9110 accepts.

    Raises:
        ValueError: if the text is not an HTTP date.
    """
    if isinstance(dateString, bytes):
        dateString = dateString.decode("ascii", "replace")
    parsed = parsedate_tz(dateString)
    if parsed is None:
        raise ValueError(f"not an HTTP date: {dateString!r}")
    offset = parsed[9] or 0
    return timegm((*parsed[:6], 0, 1, 0)) - offset


class _DateCache:
    """The Date header's value, formatted once per second rather than per response."""

    __slots__ = ("line", "second", "value")

    def __init__(self) -> None:
        self.second = 0
        self.value = b""
        self.line = b""

    def now(self) -> bytes:
        second = int(time.time())
        if second != self.second:
            self.second = second
            self.value = datetimeToString(second)
            self.line = b"Date: " + self.value + b"\r\n"
        return self.value


_dateCache = _DateCache()


def parse_qs(
    qs: bytes, keep_blank_values: int = 0, strict_parsing: int = 0
) -> dict[bytes, list[bytes]]:
    """Query-string arguments as bytes -> list of bytes, as request.args holds them."""
    parsed = urllib.parse.parse_qs(
        qs.decode("latin-1"),
        keep_blank_values=bool(keep_blank_values),
        strict_parsing=bool(strict_parsing),
        encoding="latin-1",
    )
    return {k.encode("latin-1"): [v.encode("latin-1") for v in vs] for k, vs in parsed.items()}


_statusLines = {code: b"HTTP/1.1 %d %s\r\n" % (code, phrase) for code, phrase in RESPONSES.items()}
_NO_BODY_CODES = frozenset({204, 304})
_COOKIE_UNSAFE = re.compile(rb"[\x00-\x20\x7f;,\"\\]")
_COOKIE_ATTR_UNSAFE = re.compile(rb"[\x00-\x1f\x7f;]")


def _toBytes(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


@implementer(IRequest)
class Request:
    """One request on an HTTP channel, and the response being written to it.

    The channel makes it when a request head arrives, feeds it the body
    (`gotLength`, `handleContentChunk`) and calls `requestReceived` once the body is
    complete; that calls `process()`, which subclasses override
    (torsion.web.server.Request traverses resources there).
    """

    defaultContentType: bytes | None = b"text/html"
    prepath: list[bytes] | None = None
    postpath: list[bytes] | None = None
    bodySpoolThreshold = 1024 * 1024
    """Bodies over this many bytes go to a temporary file instead of memory."""

    # Per-request state that most requests never change lives here, on the class: a
    # request object is made for every request, so its constructor stays short.
    method = b"GET"
    uri = b"/"
    path = b"/"
    clientproto = b"HTTP/1.1"
    code = OK
    code_message = b"OK"
    sentLength = 0
    startedWriting = 0
    finished = 0
    queued = 0
    etag: bytes | None = None
    lastModified: float | None = None
    producer: Any = None
    _args: dict[bytes, list[bytes]] | None = None
    _receivedCookies: dict[bytes, bytes] | None = None
    _chunked = False
    _persistent = False
    _forHead = False
    _noBody = False
    _disconnected = False
    _finishNotifications: list[Deferred[None]] | None = None

    def __init__(self, channel: HTTPChannel, queued: object = None) -> None:
        self.channel = channel
        self.transport = channel.transport
        self.requestHeaders = Headers()
        self.responseHeaders = Headers()
        self.cookies: list[bytes] = []
        self.content: IO[bytes] = _EMPTY_BODY

    def __repr__(self) -> str:
        method, uri = self.method.decode("latin-1"), self.uri.decode("latin-1")
        return f"<{type(self).__name__} at 0x{id(self):x} method={method} uri={uri}>"

    # -- receiving -----------------------------------------------------------------

    def gotLength(self, length: int | None) -> None:
        """The body's length (None: chunked, unknown): choose memory or a file for it."""
        if length == 0:
            return
        if length is not None and length <= self.bodySpoolThreshold:
            self.content = BytesIO()
        elif length is not None:
            self.content = tempfile.TemporaryFile()  # noqa: SIM115 (closed by _cleanup)
        else:
            self.content = tempfile.SpooledTemporaryFile(self.bodySpoolThreshold)  # noqa: SIM115

    def handleContentChunk(self, data: bytes) -> None:
        self.content.write(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        """The whole request is here: record its line and run `process()`."""
        self.method = command
        self.uri = path
        self.clientproto = version
        if self.content is not _EMPTY_BODY:
            self.content.seek(0)
        self.path = path.partition(b"?")[0]
        if path[:1] != b"/" and path != b"*":
            self._absoluteForm(path)
        self._forHead = command == b"HEAD"
        self.process()

    def _absoluteForm(self, target: bytes) -> None:
        """An absolute-form target (RFC 9112 section 3.2.2): its authority is the host.

        `uri` keeps the target as sent (a proxy forwards it); `path` becomes its path.
        """
        scheme, separator, rest = target.partition(b"://")
        if separator and scheme.lower() in (b"http", b"https"):
            authority, slash, tail = rest.partition(b"/")
            self.path = (slash + tail).partition(b"?")[0] or b"/"
            if authority:
                self.requestHeaders._raw[b"host"] = [authority.rpartition(b"@")[2]]

    def process(self) -> None:
        """Answer the request; the base request has nothing to say."""

    @property
    def args(self) -> dict[bytes, list[bytes]]:
        """Query arguments, then form fields (urlencoded or multipart) for POST/PUT."""
        if self._args is None:
            self._args = self._parseArgs()
        return self._args

    @args.setter
    def args(self, value: dict[bytes, list[bytes]]) -> None:
        self._args = value

    def _parseArgs(self) -> dict[bytes, list[bytes]]:
        _, question, query = self.uri.partition(b"?")
        args = parse_qs(query, 1) if question else {}
        if self.method not in (b"POST", b"PUT", b"PATCH") or self.content is _EMPTY_BODY:
            return args
        contentType = self.requestHeaders.getRawHeaders(b"content-type")
        if not contentType:
            return args
        mimeType = contentType[0].partition(b";")[0]
        mimeType = mimeType.strip().lower()
        if mimeType == b"application/x-www-form-urlencoded":
            body = self.content.read()
            self.content.seek(0)
            for key, values in parse_qs(body, 1).items():
                args.setdefault(key, []).extend(values)
        elif mimeType == b"multipart/form-data":
            from torsion.web._multipart import MultipartError, parseMultipart
            from torsion.web.error import Error

            try:
                fields = parseMultipart(self.content, contentType[0])
            except MultipartError as malformed:
                raise Error(400, str(malformed)) from None
            for key, values in fields.items():
                args.setdefault(key, []).extend(values)
            self.content.seek(0)
        return args

    @property
    def received_cookies(self) -> dict[bytes, bytes]:
        if self._receivedCookies is None:
            cookies: dict[bytes, bytes] = {}
            for header in self.requestHeaders.getRawHeaders(b"cookie", []):
                for pair in header.split(b";"):
                    name, equals, value = pair.strip().partition(b"=")
                    if equals and name:
                        cookies[name] = value.strip(b'"')
            self._receivedCookies = cookies
        return self._receivedCookies

    def getCookie(self, key: bytes) -> bytes | None:
        return self.received_cookies.get(key)

    def getHeader(self, key: bytes | str) -> Any:
        """The last value of request header `key` (bytes or str, like `key`), or None."""
        values = self.requestHeaders.getRawHeaders(key)
        return values[-1] if values else None

    def getAllHeaders(self) -> dict[bytes, bytes]:
        return {name: values[-1] for name, values in self.requestHeaders._raw.items()}

    _forcedHost: Any = None
    _forceSSL: bool | None = None

    def getHost(self) -> Any:
        if self._forcedHost is not None:
            return self._forcedHost
        return self.channel.transport.getHost()

    def setHost(self, host: bytes | str, port: int, ssl: bool = False) -> None:
        """Make the request believe it came to `host`:`port` (over TLS if `ssl`).

        For servers behind a reverse proxy, where the address the client used is not
        the one this server listens on (torsion.web.vhost.VHostMonsterResource): the
        Host header, getHost(), isSecure() and so the URLs built from the request all
        say where the client really went.
        """
        from torsion.internet.address import IPv4Address, IPv6Address

        name = host.encode("idna") if isinstance(host, str) else host
        name = name.strip(b"[]")
        inHeader = b"[" + name + b"]" if b":" in name else name
        default = 443 if ssl else 80
        if port != default:
            inHeader += b":%d" % port
        self.requestHeaders.setRawHeaders(b"host", [inHeader])
        text = name.decode("ascii", "replace")
        self._forcedHost = (IPv6Address if b":" in name else IPv4Address)("TCP", text, port)
        if ssl:
            self._forceSSL = True

    def getClientAddress(self) -> Any:
        return self.channel.transport.getPeer()

    def getClientIP(self) -> str | None:
        peer = self.getClientAddress()
        return getattr(peer, "host", None)

    def getRequestHostname(self) -> bytes:
        host: bytes | None = self.getHeader(b"host")
        if host:
            if host.startswith(b"["):
                return host[1 : host.find(b"]")] if b"]" in host else host
            return host.rpartition(b":")[0] if host.count(b":") == 1 else host
        return str(getattr(self.getHost(), "host", "")).encode("ascii")

    def isSecure(self) -> bool:
        if self._forceSSL is not None:
            return self._forceSSL
        return self.channel.isSecure()

    def getUser(self) -> bytes:
        return self._basicAuth()[0]

    def getPassword(self) -> bytes:
        return self._basicAuth()[1]

    def _basicAuth(self) -> tuple[bytes, bytes]:
        import binascii

        header = self.getHeader(b"authorization")
        if header and header[:6].lower() == b"basic ":
            try:
                user, _, password = binascii.a2b_base64(header[6:].strip()).partition(b":")
                return user, password
            except binascii.Error:
                pass
        return b"", b""

    # -- responding ----------------------------------------------------------------

    def setResponseCode(self, code: int, message: bytes | None = None) -> None:
        if not isinstance(code, int):
            raise TypeError(f"the response code must be an int, not {type(code).__name__}")
        if self.startedWriting:
            raise RuntimeError("setResponseCode after the response head was written")
        self.code = code
        self.code_message = (
            message if message is not None else RESPONSES.get(code, b"Unknown Status")
        )
        if b"\r" in self.code_message or b"\n" in self.code_message:
            raise ValueError("a status message may not contain CR or LF")

    def setHeader(self, name: bytes | str, value: bytes | str) -> None:
        self.responseHeaders.setRawHeaders(name, [value])

    def addCookie(
        self,
        k: bytes | str,
        v: bytes | str,
        expires: bytes | str | None = None,
        domain: bytes | str | None = None,
        path: bytes | str | None = None,
        max_age: bytes | str | int | None = None,
        comment: bytes | str | None = None,
        secure: bool | None = None,
        httpOnly: bool = False,
        sameSite: str | None = None,
    ) -> None:
        """Set a cookie; names and values with separators or controls are refused."""
        name, value = _toBytes(k), _toBytes(v)
        if not name or _COOKIE_UNSAFE.search(name) or _COOKIE_UNSAFE.search(value):
            raise ValueError(f"cookie {name!r}={value!r} holds characters a cookie may not")
        parts = [name + b"=" + value]
        for label, attribute in (
            (b"Expires", expires),
            (b"Domain", domain),
            (b"Path", path),
            (b"Max-Age", max_age),
            (b"Comment", comment),
        ):
            if attribute is not None:
                raw = str(attribute).encode() if isinstance(attribute, int) else _toBytes(attribute)
                if _COOKIE_ATTR_UNSAFE.search(raw):
                    raise ValueError(f"cookie attribute {label!r}={raw!r} holds ';' or a control")
                parts.append(label + b"=" + raw)
        if secure:
            parts.append(b"Secure")
        if httpOnly:
            parts.append(b"HttpOnly")
        if sameSite is not None:
            if sameSite.lower() not in ("lax", "strict", "none"):
                raise ValueError("sameSite is 'lax', 'strict' or 'none'")
            parts.append(b"SameSite=" + sameSite.capitalize().encode())
        self.cookies.append(b"; ".join(parts))

    def redirect(self, url: bytes | str) -> None:
        """Answer 302 Found with Location `url` (finish() is still yours to call)."""
        self.setResponseCode(302)
        self.setHeader(b"location", url)

    def setLastModified(self, when: float) -> str | None:
        """Record when the resource last changed; send 304 if the client has it already."""
        when = int(when)
        if self.lastModified is None or when > self.lastModified:
            self.lastModified = when
        modifiedSince = self.getHeader(b"if-modified-since")
        if modifiedSince and self.getHeader(b"if-none-match") is None:
            try:
                since = stringToDatetime(modifiedSince.split(b";", 1)[0])
            except ValueError:
                return None
            if since >= self.lastModified:
                self.setResponseCode(NOT_MODIFIED)
                return CACHED
        return None

    def setETag(self, etag: bytes) -> str | None:
        """Record the entity tag; send 304 (or 412) when the client's copy matches."""
        if etag:
            self.etag = etag
        tags = self.getHeader(b"if-none-match")
        if tags:
            candidates = [tag.strip().removeprefix(b"W/") for tag in tags.split(b",")]
            quoted = etag if etag.startswith(b'"') else b'"' + etag + b'"'
            if b"*" in candidates or quoted in candidates or etag in candidates:
                if self.method in (b"GET", b"HEAD"):
                    self.setResponseCode(NOT_MODIFIED)
                else:
                    self.setResponseCode(PRECONDITION_FAILED)
                return CACHED
        return None

    def _entityHeaders(self, raw: dict[bytes, list[bytes]], bodyLength: int | None) -> bool:
        """Fill in the headers every protocol version sends alike; True if the body's
        length is still unknown, so that the protocol must frame it (chunks, DATA
        frames or a close)."""
        code = self.code
        self._noBody = noBody = code in _NO_BODY_CODES or code < 200 or self._forHead
        if not noBody and self.defaultContentType is not None and b"content-type" not in raw:
            raw[b"content-type"] = [self.defaultContentType]
        if self.etag is not None and b"etag" not in raw:
            raw[b"etag"] = [self.etag if self.etag.startswith(b'"') else b'"' + self.etag + b'"']
        if self.lastModified is not None and b"last-modified" not in raw:
            raw[b"last-modified"] = [datetimeToString(self.lastModified)]
        if code in _NO_BODY_CODES:
            raw.pop(b"content-length", None)
        elif b"content-length" not in raw:
            if bodyLength is not None:
                raw[b"content-length"] = [b"%d" % bodyLength]
            elif not noBody:
                return True
        return False

    def _buildHead(self, bodyLength: int | None) -> list[bytes]:
        """The HTTP/1.1 status line and headers, deciding the framing (the first
        write's job)."""
        code = self.code
        statusLine = _statusLines.get(code) if self.code_message == RESPONSES.get(code) else None
        parts = [statusLine or b"HTTP/1.1 %d %s\r\n" % (code, self.code_message)]
        headers = self.responseHeaders
        raw = headers._raw
        channel = self.channel
        persistent = channel._persistent
        if self._entityHeaders(raw, bodyLength):
            if self.clientproto == b"HTTP/1.1":
                raw[b"transfer-encoding"] = [b"chunked"]
                self._chunked = True
            else:
                persistent = False
        if b"connection" in raw and b"close" in raw[b"connection"][0].lower():
            persistent = False
        if not persistent:
            raw[b"connection"] = [b"close"]
        elif self.clientproto != b"HTTP/1.1":
            raw[b"connection"] = [b"keep-alive"]
        self._persistent = persistent
        if b"date" not in raw:
            dates = _dateCache
            if int(time.time()) != dates.second:
                dates.now()
            parts.append(dates.line)
        if b"server" not in raw:
            parts.append(channel.serverHeader)
        for name, values in raw.items():
            wireName = _canonicalNames.get(name) or canonicalName(name)
            for value in values:
                parts.append(b"%s: %s\r\n" % (wireName, value))
        for cookie in self.cookies:
            parts.append(b"Set-Cookie: %s\r\n" % cookie)
        parts.append(b"\r\n")
        return parts

    def write(self, data: bytes) -> None:
        """Send part of the body; the first call sends the status line and headers first."""
        if self.finished:
            raise RuntimeError(
                "Request.write called after Request.finish; write the whole body before finish()"
            )
        if self._disconnected:
            return
        if not self.startedWriting:
            self.startedWriting = 1
            channel = self.channel
            if channel.writeHead is not None:
                channel.writeHead(self, None, data)
                return
            parts = self._buildHead(None)
            if data and not self._noBody:
                self.sentLength += len(data)
                parts.append(_http11.encodeChunk(data) if self._chunked else data)
            channel.transport.write(b"".join(parts))
        elif data and not self._noBody:
            self.sentLength += len(data)
            self.channel.transport.write(_http11.encodeChunk(data) if self._chunked else data)

    def writeWhole(self, body: bytes) -> None:
        """Send `body` as the complete response, with its Content-Length, and finish.

        What server.Request does with bytes returned from render: one buffer for head
        and body, no chunking.
        """
        if self.startedWriting or self.finished:
            self.write(body)
            self.finish()
            return
        if self._disconnected:
            return
        self.startedWriting = 1
        channel = self.channel
        if channel.writeHead is not None:
            channel.writeHead(self, len(body), body)
        else:
            parts = self._buildHead(len(body))
            if body and not self._noBody:
                self.sentLength = len(body)
                parts.append(body)
            channel.transport.write(b"".join(parts))
        self.finish()

    def writeSequence(self, iovec: list[bytes]) -> None:
        for data in iovec:
            self.write(data)

    def finish(self) -> None:
        """End the response; the channel then answers the next request, if any."""
        if self._disconnected:
            raise RuntimeError(
                "Request.finish called after the client's connection was lost; "
                "use Request.notifyFinish() to learn of that and stop"
            )
        if self.finished:
            raise RuntimeError("Request.finish called twice on the same request")
        if not self.startedWriting:
            if b"content-length" not in self.responseHeaders._raw:
                self.responseHeaders._raw[b"content-length"] = [b"0"]
            self.write(b"")
        if self._chunked:
            self.channel.transport.write(_http11.LAST_CHUNK)
        self.finished = 1
        self.channel._requestDone(self)
        notifications = self._finishNotifications
        if notifications:
            self._finishNotifications = None
            for d in notifications:
                d.callback(None)

    def notifyFinish(self) -> Deferred[None]:
        """A Deferred that fires once the response is finished, or fails if the
        connection is lost first (stop producing the response then)."""
        if self._disconnected:
            return fail(
                Failure(ConnectionError("the connection was lost before the response finished"))
            )
        if self.finished:
            d: Deferred[None] = Deferred()
            d.callback(None)
            return d
        d = Deferred()
        if self._finishNotifications is None:
            self._finishNotifications = []
        self._finishNotifications.append(d)
        return d

    def connectionLost(self, reason: Failure) -> None:
        """The connection closed before the response was finished."""
        self._disconnected = True
        if self.producer is not None:
            producer, self.producer = self.producer, None
            try:
                producer.stopProducing()
            except Exception:
                from torsion.python import log

                log.err(None, "Error stopping a request's producer")
        notifications = self._finishNotifications
        if notifications:
            self._finishNotifications = None
            for d in notifications:
                d.errback(reason)

    # -- producers ----------------------------------------------------------------

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """Stream the body from `producer`; the transport paces it (back-pressure)."""
        if self.producer is not None:
            raise ValueError(
                f"registering producer {producer!r} while {self.producer!r} is registered; "
                "unregister the first one before"
            )
        self.producer = producer
        self.channel.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        self.channel.unregisterProducer()
        self.producer = None

    def stopProducing(self) -> None:
        if self.producer is not None:
            self.producer.stopProducing()

    # -- URLs -----------------------------------------------------------------------

    def _schemeHostPort(self) -> bytes:
        secure = self.isSecure()
        host: bytes | None = self.getHeader(b"host")
        if not host:
            address = self.getHost()
            port = getattr(address, "port", 0)
            host = str(getattr(address, "host", "")).encode()
            default = 443 if secure else 80
            if port != default:
                host += b":%d" % port
        return (b"https://" if secure else b"http://") + host

    def prePathURL(self) -> bytes:
        return self._schemeHostPort() + self.path

    def URLPath(self) -> Any:
        from torsion.python.urlpath import URLPath

        return URLPath.fromBytes(self.prePathURL())

    def getRequestURI(self) -> bytes:
        return self._schemeHostPort() + self.uri


class _EmptyBody(BytesIO):
    """The body of every bodiless request: shared, and refusing writes."""

    def write(self, data: Any) -> int:
        raise ValueError("this request has no body to write to")


_EMPTY_BODY = _EmptyBody()


def _escape(value: bytes | str | None) -> str:
    if value is None:
        return "-"
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    return text.replace("\\", "\\\\").replace('"', '\\"')


def combinedLogFormatter(timestamp: str, request: Request) -> str:
    """The NCSA combined log format line of a finished request (no line end)."""
    referrer = _escape(request.getHeader(b"referer"))
    agent = _escape(request.getHeader(b"user-agent"))
    length = str(request.sentLength) if request.sentLength else "-"
    return (
        f"{request.getClientIP() or '-'} - - {timestamp} "
        f'"{_escape(request.method)} {_escape(request.uri)} {_escape(request.clientproto)}" '
        f'{request.code} {length} "{referrer}" "{agent}"'
    )


def proxiedLogFormatter(timestamp: str, request: Request) -> str:
    """The combined format, with the client taken from X-Forwarded-For (behind a proxy)."""
    forwarded = request.getHeader(b"x-forwarded-for")
    line = combinedLogFormatter(timestamp, request)
    if forwarded:
        client = forwarded.split(b",")[-1].strip().decode("latin-1")
        line = _escape(client) + line[line.index(" - - ") :]
    return line


# The channel and factory live in their own module; they are part of this one's API,
# as are the codec's limits and the client's PotentialDataLoss (Twisted's names here).
from torsion.web._channel import HTTPChannel, HTTPFactory  # noqa: E402
from torsion.web._http11 import Limits  # noqa: E402
from torsion.web._newclient import PotentialDataLoss  # noqa: E402

HTTPChannel.requestFactory = Request
