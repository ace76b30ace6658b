"""The sans-IO HTTP/1.1 codec: bytes in, request and response heads and body pieces out.

Both sides of torsion.web use it: the server's channel (torsion/web/_channel.py) feeds a
`RequestParser`, the client (torsion/web/client.py) a `ResponseParser`. Neither touches
a socket, so every rule of RFC 9112 and every defence against request smuggling is
tested here byte by byte (tests/web/test_http11.py).

The parsers are strict where leniency has been exploited: a bare CR, obs-fold, white
space before a colon, a Content-Length that is not one plain decimal number, a
Content-Length together with Transfer-Encoding, and a chunk size that is not plain hex
all raise `ParseError`; after one the connection must be closed, because its framing
can no longer be trusted. Bare LF line ends are accepted (RFC 9112 section 2.2 allows
it). Every buffer is bounded by `Limits`.

`feed(data)` stores bytes; `next()` returns the next event or `None` when more bytes
are needed:

- a `RequestHead` / `ResponseHead`,
- a `bytes` object: a piece of the body (never empty),
- `END`: the message is complete (trailers, if any, were read and dropped).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "END",
    "ChunkedDecoder",
    "Limits",
    "ParseError",
    "RequestHead",
    "RequestParser",
    "ResponseHead",
    "ResponseParser",
    "encodeChunk",
    "parseHeaderBlock",
]


class _End:
    __slots__ = ()

    def __repr__(self) -> str:
        return "END"


END: Final = _End()


class ParseError(Exception):
    """The peer sent something that is not HTTP/1.1; `status` is the reply a server owes.

    After a ParseError the stream's framing is lost: answer (if a server) with `status`
    and `Connection: close`, then close.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


class Limits:
    """The bounds on what one peer may make us hold in memory.

    maxLineLength bounds the request or status line (414 for a request target over
    it), maxHeaderCount and maxHeaderBytes the header block (431), maxBodySize the body
    (413; None for no bound, which a client reading a download may want), maxChunkLine a
    chunk-size line with its extensions, and maxTrailerBytes the trailer block.
    """

    __slots__ = (
        "maxBodySize",
        "maxChunkLine",
        "maxHeaderBytes",
        "maxHeaderCount",
        "maxLineLength",
        "maxTrailerBytes",
    )

    def __init__(
        self,
        maxLineLength: int = 8190,
        maxHeaderCount: int = 100,
        maxHeaderBytes: int = 65536,
        maxBodySize: int | None = 16 * 1024 * 1024,
        maxChunkLine: int = 4096,
        maxTrailerBytes: int = 16384,
    ) -> None:
        self.maxLineLength = maxLineLength
        self.maxHeaderCount = maxHeaderCount
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodySize = maxBodySize
        self.maxChunkLine = maxChunkLine
        self.maxTrailerBytes = maxTrailerBytes


DEFAULT_LIMITS: Final = Limits()

_HEAD_END = re.compile(rb"\r?\n\r?\n")
_TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
# A field value: visible characters, spaces and tabs (obs-text included), no controls.
# Greedy, so trailing white space is in the match and stripped after: a lazy value
# followed by [ \t]* makes the engine retry at every byte, twice as slow.
_HEADER_LINE = re.compile(rb"^(" + _TOKEN + rb"):[ \t]*([^\x00-\x08\x0a-\x1f\x7f]*)\r?$", re.M)
_REQUEST_LINE = re.compile(rb"(" + _TOKEN + rb") ([!-~]+) HTTP/([0-9])\.([0-9])\r?")
_STATUS_LINE = re.compile(rb"HTTP/([0-9])\.([0-9]) ([0-9]{3})(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?\r?")
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)")
_DIGITS = re.compile(rb"[0-9]{1,18}")
# Host = uri-host [ ":" port ] (RFC 9112 section 3.2, RFC 3986 section 3.2.2): an IP
# literal in brackets or a reg-name (which may be empty).
_HOST = re.compile(
    rb"(?:\[[0-9A-Za-z:._~!$&'()*+,;=-]+\]|[0-9A-Za-z._~!$&'()*+,;=%-]*)(?::[0-9]*)?"
)
# Chunk lines end in CRLF: the bare-LF leniency of RFC 9112 section 2.2 covers the start
# line and fields only, and a chunk line that one hop ends at an LF (or a control byte in
# an extension) and another does not is a smuggling channel (CVE-2025-22871).
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,15})[ \t]*(?:;[\t\x20-\x7e\x80-\xff]*)?\r")
_TOKEN_ONLY = re.compile(_TOKEN)
_TRAILING_WHITESPACE = (b" ", b"\t")


def parseHeaderBlock(block: bytes, limits: Limits) -> dict[bytes, list[bytes]]:
    """Parse header lines (without the start line) into lowercased names -> values.

    `block` holds the lines after the start line, without the blank line that ends the
    head; it has already been checked for forbidden bytes.
    """
    headers: dict[bytes, list[bytes]] = {}
    if not block:
        return headers
    pairs = _HEADER_LINE.findall(block)
    lineCount = block.count(b"\n") + 1
    if len(pairs) != lineCount:
        raise _badHeaderLine(block)
    if lineCount > limits.maxHeaderCount:
        raise ParseError(431, f"more than {limits.maxHeaderCount} header fields")
    for name, value in pairs:
        name = name.lower()
        if value[-1:] in _TRAILING_WHITESPACE:
            value = value.rstrip(b" \t")
        values = headers.get(name)
        if values is None:
            headers[name] = [value]
        else:
            values.append(value)
    return headers


def _badHeaderLine(block: bytes) -> ParseError:
    if _CONTROL.search(block) is not None:
        return ParseError(400, "the message head holds a bare CR or a control character")
    for line in block.split(b"\n"):
        line = line.rstrip(b"\r")
        if line[:1] in (b" ", b"\t"):
            return ParseError(400, "obsolete line folding (obs-fold) is not accepted")
        name, colon, _ = line.partition(b":")
        if not colon:
            return ParseError(400, "a header line has no colon")
        if name != name.rstrip(b" \t"):
            return ParseError(400, "white space between a header name and its colon")
        if not _TOKEN_ONLY.fullmatch(name):
            return ParseError(400, "a header name is not a token")
    return ParseError(400, "malformed header block")


def _contentLength(values: list[bytes]) -> int:
    """The one length that every Content-Length value agrees on, or a 400."""
    first = values[0]
    for value in values:
        if value != first:
            raise ParseError(400, "conflicting Content-Length values")
    if not _DIGITS.fullmatch(first):
        raise ParseError(400, "Content-Length is not a plain decimal number")
    return int(first)


def _headerTokens(values: list[bytes] | None) -> list[bytes]:
    if not values:
        return []
    return [token.strip(b" \t").lower() for value in values for token in value.split(b",")]


class ChunkedDecoder:
    """The chunked transfer coding, decoded: sizes, data, the last chunk and trailers.

    `decode(buffer, start)` consumes what it can of `buffer` from `start` and returns
    (data pieces, the new offset, whether the body ended).
    """

    __slots__ = ("_limits", "_remaining", "_state", "_trailerBytes", "received")

    _SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._remaining = 0
        self._state = self._SIZE
        self._limits = limits
        self._trailerBytes = 0
        self.received = 0

    def decode(self, buffer: bytes, start: int) -> tuple[list[bytes], int, bool]:
        pieces: list[bytes] = []
        pos = start
        end = len(buffer)
        while pos < end:
            state = self._state
            if state == self._DATA:
                take = min(self._remaining, end - pos)
                pieces.append(buffer[pos : pos + take])
                pos += take
                self._remaining -= take
                if self._remaining == 0:
                    self._state = self._DATA_END
                continue
            newline = buffer.find(b"\n", pos)
            if newline < 0:
                pending = end - pos
                if state == self._SIZE and pending > self._limits.maxChunkLine:
                    raise ParseError(400, "a chunk-size line is too long")
                if (
                    state == self._TRAILER
                    and self._trailerBytes + pending > self._limits.maxTrailerBytes
                ):
                    raise ParseError(431, "the trailer section is too large")
                if state == self._DATA_END and pending > 1:
                    raise ParseError(400, "chunk data is not followed by CRLF")
                break
            line = buffer[pos:newline]
            pos = newline + 1
            if state == self._SIZE:
                if len(line) > self._limits.maxChunkLine:
                    raise ParseError(400, "a chunk-size line is too long")
                match = _CHUNK_SIZE.fullmatch(line)
                if match is None:
                    raise ParseError(400, "a chunk-size line is not hex digits, extensions, CRLF")
                size = int(match.group(1), 16)
                maxBody = self._limits.maxBodySize
                if maxBody is not None and self.received + size > maxBody:
                    raise ParseError(413, f"the body is larger than {maxBody} bytes")
                self.received += size
                if size == 0:
                    self._state = self._TRAILER
                else:
                    self._remaining = size
                    self._state = self._DATA
            elif state == self._DATA_END:
                if line != b"\r":
                    raise ParseError(400, "chunk data is not followed by CRLF")
                self._state = self._SIZE
            else:
                if line in (b"", b"\r"):
                    self._state = self._DONE
                    return pieces, pos, True
                self._trailerBytes += len(line) + 1
                if self._trailerBytes > self._limits.maxTrailerBytes:
                    raise ParseError(431, "the trailer section is too large")
                if line[:1] in (b" ", b"\t") or _HEADER_LINE.fullmatch(line) is None:
                    raise ParseError(400, "a malformed trailer field")
        return pieces, pos, False


def encodeChunk(data: bytes) -> bytes:
    """One chunk of the chunked transfer coding (never call it with empty data)."""
    return b"%x\r\n%s\r\n" % (len(data), data)


LAST_CHUNK: Final = b"0\r\n\r\n"


class RequestHead:
    """A parsed request line and header block, with the framing decided from them.

    `headers` maps lowercased names to their values in arrival order. `keepAlive` is
    what the client asked for (HTTP/1.1 unless "close"; HTTP/1.0 only with
    "keep-alive"); `expectContinue` is True for "Expect: 100-continue" with a body.
    """

    __slots__ = (
        "chunked",
        "contentLength",
        "expectContinue",
        "headers",
        "keepAlive",
        "method",
        "target",
        "version",
    )

    def __init__(
        self,
        method: bytes,
        target: bytes,
        version: tuple[int, int],
        headers: dict[bytes, list[bytes]],
        contentLength: int,
        chunked: bool,
        keepAlive: bool,
        expectContinue: bool,
    ) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.contentLength = contentLength
        self.chunked = chunked
        self.keepAlive = keepAlive
        self.expectContinue = expectContinue

    def __repr__(self) -> str:
        major, minor = self.version
        return f"<RequestHead {self.method!r} {self.target!r} HTTP/{major}.{minor}>"


class ResponseHead:
    """A parsed status line and header block; `bodyLength` is None for "until close"."""

    __slots__ = ("bodyLength", "chunked", "code", "headers", "keepAlive", "phrase", "version")

    def __init__(
        self,
        version: tuple[int, int],
        code: int,
        phrase: bytes,
        headers: dict[bytes, list[bytes]],
        bodyLength: int | None,
        chunked: bool,
        keepAlive: bool,
    ) -> None:
        self.version = version
        self.code = code
        self.phrase = phrase
        self.headers = headers
        self.bodyLength = bodyLength
        self.chunked = chunked
        self.keepAlive = keepAlive

    def __repr__(self) -> str:
        return f"<ResponseHead {self.code} {self.phrase!r}>"


_HEAD, _BODY_LENGTH, _BODY_CHUNKED, _BODY_UNTIL_CLOSE, _DONE_STATE = range(5)
_HTTP11 = (1, 1)
_HEAD_CACHE_LIMIT = 4096


class _Parser:
    """What both parsers share: the buffer, the head search and the body framing."""

    __slots__ = (
        "_buffer",
        "_chunks",
        "_limits",
        "_pieces",
        "_pos",
        "_remaining",
        "_scanFrom",
        "_state",
    )

    def __init__(self, limits: Limits) -> None:
        self._buffer = b""
        self._pos = 0
        self._state = _HEAD
        self._remaining = 0
        self._chunks: ChunkedDecoder | None = None
        self._pieces: list[bytes] = []
        self._limits = limits
        self._scanFrom = 0

    @property
    def buffered(self) -> int:
        """How many fed bytes are not consumed yet (to pause a pipelining client)."""
        pending = len(self._buffer) - self._pos
        if self._pieces:
            pending += sum(len(piece) for piece in self._pieces)
        return pending

    def feed(self, data: bytes) -> None:
        if self._pos:
            self._buffer = self._buffer[self._pos :] + data
            self._scanFrom = max(0, self._scanFrom - self._pos)
            self._pos = 0
        elif self._buffer:
            self._buffer += data
        else:
            self._buffer = data

    def _splitHead(self) -> tuple[bytes, bytes] | None:
        """The start line and header block of the next message, or None for more bytes.

        The common case, CRLF line ends throughout, is found with one bytes.find; a
        head with bare LFs goes through the slower regular expression.
        """
        buffer = self._buffer
        pos = self._pos
        if buffer[pos : pos + 1] in (b"\r", b"\n"):
            # Blank lines before a message are ignored (RFC 9112 section 2.2).
            while buffer.startswith(b"\n", pos) or buffer.startswith(b"\r\n", pos):
                pos += 1 if buffer[pos] == 10 else 2
            self._pos = pos
        scanFrom = self._scanFrom if self._scanFrom > pos else pos
        end = buffer.find(b"\r\n\r\n", scanFrom)
        if end >= 0 and buffer.count(b"\n", pos, end) == buffer.count(b"\r\n", pos, end):
            head = buffer[pos:end]
            self._pos = end + 4
        else:
            match = _HEAD_END.search(buffer, scanFrom)
            if match is None:
                self._incompleteHead(buffer, pos)
                return None
            head = buffer[pos : match.start()]
            self._pos = match.end()
        self._scanFrom = 0
        startLine, _, block = head.partition(b"\n")
        if len(startLine) > self._limits.maxLineLength:
            raise self._lineTooLong()
        if len(block) > self._limits.maxHeaderBytes:
            raise ParseError(431, "the header block is too large")
        return startLine, block

    def _incompleteHead(self, buffer: bytes, pos: int) -> None:
        pending = len(buffer) - pos
        if pending > self._limits.maxLineLength:
            firstLineEnd = buffer.find(b"\n", pos)
            if firstLineEnd < 0 or firstLineEnd - pos > self._limits.maxLineLength:
                raise self._lineTooLong()
        if pending > self._limits.maxLineLength + self._limits.maxHeaderBytes:
            raise ParseError(431, "the header block is too large")
        self._scanFrom = max(pos, len(buffer) - 3)

    def _lineTooLong(self) -> ParseError:
        return ParseError(400, "the start line is too long")

    def _startBody(self, length: int | None, chunked: bool) -> None:
        if chunked:
            self._state = _BODY_CHUNKED
            self._chunks = ChunkedDecoder(self._limits)
        elif length is None:
            self._state = _BODY_UNTIL_CLOSE
        elif length:
            self._state = _BODY_LENGTH
            self._remaining = length
        else:
            self._state = _DONE_STATE

    def _nextBody(self) -> bytes | _End | None:
        state = self._state
        if self._pieces:
            return self._pieces.pop(0)
        if state == _DONE_STATE:
            self._state = _HEAD
            return END
        buffer = self._buffer
        pos = self._pos
        available = len(buffer) - pos
        if not available:
            return None
        if state == _BODY_LENGTH:
            take = min(available, self._remaining)
            piece = buffer[pos : pos + take] if (pos or take != len(buffer)) else buffer
            self._pos = pos + take
            self._remaining -= take
            if not self._remaining:
                self._state = _DONE_STATE
            return piece
        if state == _BODY_UNTIL_CLOSE:
            piece = buffer[pos:] if pos else buffer
            self._buffer = b""
            self._pos = 0
            return piece
        assert self._chunks is not None
        pieces, self._pos, done = self._chunks.decode(buffer, pos)
        if done:
            self._state = _DONE_STATE
            self._chunks = None
        if pieces:
            self._pieces = pieces
            return self._pieces.pop(0)
        if done:
            return self._nextBody()
        return None


class RequestParser(_Parser):
    """A server's view of one connection: request heads and their bodies, in order."""

    __slots__ = ("_lastHead",)

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        super().__init__(limits)
        self._lastHead: (
            tuple[bytes, bool, dict[bytes, list[bytes]] | None, int, bool, bool, bool] | None
        ) = None

    def _lineTooLong(self) -> ParseError:
        return ParseError(414, "the request line is too long")

    def _frame(
        self, block: bytes, http11: bool
    ) -> tuple[dict[bytes, list[bytes]], int, bool, bool, bool]:
        """Parse a request's header block and decide its framing (RFC 9112 section 6)."""
        headers = parseHeaderBlock(block, self._limits)
        contentLength = 0
        chunked = False
        get = headers.get
        transferCodings = get(b"transfer-encoding")
        if transferCodings is not None:
            if b"content-length" in headers:
                raise ParseError(400, "both Content-Length and Transfer-Encoding")
            if not http11:
                raise ParseError(400, "Transfer-Encoding in an HTTP/1.0 request")
            codings = _headerTokens(transferCodings)
            if codings != [b"chunked"]:
                if (
                    b"chunked" not in codings
                    or codings[-1] != b"chunked"
                    or codings.count(b"chunked") > 1
                ):
                    raise ParseError(400, "the request body's framing is not chunked")
                raise ParseError(501, "transfer codings other than chunked are not supported")
            chunked = True
        elif (lengths := get(b"content-length")) is not None:
            contentLength = _contentLength(lengths)
            maxBody = self._limits.maxBodySize
            if maxBody is not None and contentLength > maxBody:
                raise ParseError(413, f"the body is larger than {maxBody} bytes")
        hosts = get(b"host")
        if hosts is None:
            if http11:
                raise ParseError(400, "an HTTP/1.1 request without a Host header")
        elif len(hosts) > 1:
            raise ParseError(400, "more than one Host header")
        elif _HOST.fullmatch(hosts[0]) is None:
            raise ParseError(400, "the Host header is not a host with an optional port")
        connection = get(b"connection")
        if connection is None:
            keepAlive = http11
        else:
            tokens = _headerTokens(connection)
            keepAlive = b"close" not in tokens and (http11 or b"keep-alive" in tokens)
        expectContinue = False
        expect = get(b"expect")
        if expect is not None:
            if _headerTokens(expect) != [b"100-continue"]:
                raise ParseError(417, "only the 100-continue expectation is supported")
            expectContinue = http11 and (chunked or contentLength > 0)
        return headers, contentLength, chunked, keepAlive, expectContinue

    def next(self) -> RequestHead | bytes | _End | None:
        state = self._state
        if state != _HEAD:
            if state == _DONE_STATE and not self._pieces:
                self._state = _HEAD
                return END
            return self._nextBody()
        if self._pos >= len(self._buffer):
            return None
        split = self._splitHead()
        if split is None:
            return None
        startLine, block = split
        match = _REQUEST_LINE.fullmatch(startLine)
        if match is None:
            raise _badRequestLine(startLine)
        method, target, major, minor = match.groups()
        if major != b"1":
            raise ParseError(505, "only HTTP/1.x is served on this connection")
        http11 = minor != b"0"
        if target[0] != 0x2F and not _otherTargetForm(method, target):
            raise ParseError(400, "the request target is not a path, an absolute URI or OPTIONS *")
        # A keep-alive client usually sends the same header block on each request: the
        # block already checked on this connection is not parsed again, only copied.
        # The copy kept for that is made when a block comes a second time in a row, so
        # a client whose headers always change pays nothing for the cache.
        last = self._lastHead
        template = last[2] if last is not None and last[0] == block and last[1] == http11 else None
        if template is not None:
            assert last is not None
            _, _, _, contentLength, chunked, keepAlive, expectContinue = last
            headers = {name: values[:] for name, values in template.items()}
        else:
            headers, contentLength, chunked, keepAlive, expectContinue = self._frame(block, http11)
            if len(block) <= _HEAD_CACHE_LIMIT:
                seenBefore = last is not None and last[0] == block and last[1] == http11
                self._lastHead = (
                    block,
                    http11,
                    {name: values[:] for name, values in headers.items()} if seenBefore else None,
                    contentLength,
                    chunked,
                    keepAlive,
                    expectContinue,
                )
        if chunked or contentLength:
            self._startBody(contentLength, chunked)
        else:
            self._state = _DONE_STATE
        return RequestHead(
            method,
            target,
            _HTTP11 if minor == b"1" else (1, int(minor)),
            headers,
            contentLength,
            chunked,
            keepAlive,
            expectContinue,
        )


_SCHEME = re.compile(rb"[A-Za-z][A-Za-z0-9+.-]*:")


def _otherTargetForm(method: bytes, target: bytes) -> bool:
    """Whether a target that is not a path is one of the other forms RFC 9112 section
    3.2 allows: absolute-form, asterisk-form for OPTIONS, authority-form for CONNECT."""
    if target == b"*":
        return method == b"OPTIONS"
    return method == b"CONNECT" or _SCHEME.match(target) is not None


def _badRequestLine(line: bytes) -> ParseError:
    if _CONTROL.search(line) is not None:
        return ParseError(400, "the request line holds a bare CR or a control character")
    parts = line.rstrip(b"\r").split(b" ")
    if (
        len(parts) == 3
        and re.fullmatch(rb"HTTP/[0-9]\.[0-9]", parts[2])
        and not parts[2].startswith(b"HTTP/1.")
    ):
        return ParseError(505, "only HTTP/1.x is served on this connection")
    return ParseError(400, "malformed request line")


class ResponseParser(_Parser):
    """A client's view of one connection: response heads and their bodies.

    Call `expectResponse(method)` before reading each response, so that a response to
    HEAD (or a 1xx, 204 or 304) is known to carry no body. 1xx interim responses are
    returned as heads too; the caller reads another head after one.
    """

    __slots__ = ("_method",)

    def __init__(self, limits: Limits | None = None) -> None:
        super().__init__(limits if limits is not None else Limits(maxBodySize=None))
        self._method = b"GET"

    def expectResponse(self, method: bytes) -> None:
        self._method = method

    def feedEOF(self) -> None:
        """The peer closed: a body read until close is complete; others are cut short."""
        if self._state == _BODY_UNTIL_CLOSE:
            self._state = _DONE_STATE
        elif self._state in (_BODY_LENGTH, _BODY_CHUNKED):
            raise ParseError(502, "the connection closed before the end of the body")

    @property
    def readingBody(self) -> bool:
        return self._state != _HEAD

    def next(self) -> ResponseHead | bytes | _End | None:
        if self._state != _HEAD:
            return self._nextBody()
        split = self._splitHead()
        if split is None:
            return None
        startLine, block = split
        match = _STATUS_LINE.fullmatch(startLine)
        if match is None:
            raise ParseError(502, "malformed status line")
        major, minor, codeBytes, phrase = match.groups()
        if major != b"1":
            raise ParseError(502, "the response is not HTTP/1.x")
        version = (1, int(minor))
        code = int(codeBytes)
        headers = parseHeaderBlock(block, self._limits)
        connection = _headerTokens(headers.get(b"connection"))
        keepAlive = b"close" not in connection and (
            version >= (1, 1) or b"keep-alive" in connection
        )
        bodyLength: int | None = 0
        chunked = False
        if self._method == b"HEAD" or code < 200 or code in (204, 304):
            bodyLength = 0
        elif (codings := headers.get(b"transfer-encoding")) is not None:
            tokens = _headerTokens(codings)
            if tokens and tokens[-1] == b"chunked":
                chunked = True
                bodyLength = None
            else:
                bodyLength = None
                keepAlive = False
        elif (lengths := headers.get(b"content-length")) is not None:
            bodyLength = _contentLength(lengths)
        else:
            bodyLength = None
            keepAlive = False
        if code < 200:
            self._state = _HEAD
        elif chunked:
            self._startBody(None, True)
        else:
            self._startBody(bodyLength, False)
        return ResponseHead(version, code, phrase or b"", headers, bodyLength, chunked, keepAlive)
