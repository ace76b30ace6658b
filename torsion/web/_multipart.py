"""multipart/form-data bodies (RFC 7578): a streaming sans-IO parser, and whole-body helpers.

`MultipartParser` takes the body in chunks of any size and returns events: a
`PartStart` (the part's field name, file name and content type), `bytes` of its
content, and `PART_END`. It holds at most one part's header block (`maxHeaderBytes`)
and a boundary's length of content, never a whole part, so torsion.web.forms can
stream an upload to disk from the spooled request body. A body that does not follow
the format, or goes over a limit, raises `MultipartError`, whose message says what was
wrong; the same body gives the same events wherever it is cut into chunks.

`parseMultipartParts` and `parseMultipart` keep whole parts in memory, for
Request.args (whose body the channel has already bounded).

Tests: tests/web/test_multipart.py, tests/web/forms/test_multipart_stream.py.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import IO, Final

__all__ = [
    "PART_END",
    "MultipartError",
    "MultipartParser",
    "Part",
    "PartStart",
    "boundaryOf",
    "parseMultipart",
    "parseMultipartParts",
]

_BOUNDARY = re.compile(rb'\bboundary=(?:"([^"]{1,70})"|([^\s;"]{1,70})(?![^\s;]))', re.I)
_PARAM = re.compile(rb';\s*([A-Za-z0-9*_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')
_QUOTED_PAIR = re.compile(rb"\\(.)", re.S)
_READ_SIZE = 64 * 1024


class MultipartError(ValueError):
    """The body is not valid multipart/form-data, or it exceeds a limit."""


class PartStart:
    """The head of one part: its field name, file name (uploads only) and type."""

    __slots__ = ("contentType", "filename", "headers", "name")

    def __init__(
        self,
        name: bytes,
        filename: bytes | None,
        contentType: bytes | None,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        self.name = name
        self.filename = filename
        self.contentType = contentType
        self.headers = headers

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PartStart):
            return NotImplemented
        return (self.name, self.filename, self.contentType, self.headers) == (
            other.name,
            other.filename,
            other.contentType,
            other.headers,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.filename, self.contentType))

    def __repr__(self) -> str:
        return f"<PartStart {self.name!r} filename={self.filename!r} type={self.contentType!r}>"


class _PartEnd:
    __slots__ = ()

    def __repr__(self) -> str:
        return "PART_END"


PART_END: Final = _PartEnd()
"""The event after a part's last content bytes."""

Event = PartStart | bytes | _PartEnd


class Part:
    """One part of a form: its field name, file name (for uploads), type and content."""

    __slots__ = ("content", "contentType", "filename", "name")

    def __init__(
        self, name: bytes, filename: bytes | None, contentType: bytes | None, content: bytes
    ):
        self.name = name
        self.filename = filename
        self.contentType = contentType
        self.content = content

    def __repr__(self) -> str:
        return f"<Part {self.name!r} filename={self.filename!r} {len(self.content)} bytes>"


def boundaryOf(contentType: bytes) -> bytes:
    """The boundary parameter of a multipart Content-Type value.

    Raises:
        MultipartError: if there is none (or it is longer than RFC 2046's 70 bytes).
    """
    match = _BOUNDARY.search(contentType)
    if match is None:
        raise MultipartError(
            "multipart/form-data without a boundary parameter (or one over 70 bytes); "
            'the Content-Type must say boundary="..."'
        )
    return match.group(1) or match.group(2)


def _dispositionParams(value: bytes) -> dict[bytes, bytes]:
    params: dict[bytes, bytes] = {}
    for match in _PARAM.finditer(value):
        quoted, plain = match.group(2), match.group(3)
        key = match.group(1).lower()
        text = _QUOTED_PAIR.sub(rb"\1", quoted) if quoted is not None else plain
        if key.endswith(b"*"):
            # RFC 8187 ext-value: charset'language'percent-encoded (RFC 7578 says
            # senders should not, but some do); it wins over the plain parameter.
            charset, _, rest = text.partition(b"'")
            _, _, encoded = rest.partition(b"'")
            try:
                decoded = urllib.parse.unquote_to_bytes(encoded)
                if charset.lower() not in (b"utf-8", b""):
                    decoded = decoded.decode(charset.decode("ascii")).encode("utf-8")
            except (LookupError, UnicodeError):
                continue
            params[key[:-1]] = decoded
        elif key not in params:
            params[key] = text
    return params


_PREAMBLE, _AFTER_BOUNDARY, _HEADERS, _BODY, _DONE = range(5)


class MultipartParser:
    """A multipart/form-data body in, parts' heads, content and ends out.

    Feed it the body's bytes in chunks of any size (`feed`), then call `close` at the
    end of the body; each call returns the events the bytes completed. Limits:
    `maxParts` parts, `maxHeaderBytes` of header block per part and `maxHeaderCount`
    header lines per part; content is never buffered beyond a boundary's length.
    """

    __slots__ = (
        "_buffer",
        "_delimiter",
        "_parts",
        "_state",
        "maxHeaderBytes",
        "maxHeaderCount",
        "maxParts",
    )

    def __init__(
        self,
        boundary: bytes,
        maxParts: int = 1000,
        maxHeaderBytes: int = 16384,
        maxHeaderCount: int = 16,
    ) -> None:
        if not 1 <= len(boundary) <= 70 or b"\r" in boundary or b"\n" in boundary:
            raise MultipartError("a multipart boundary is 1 to 70 bytes with no line ends")
        self._delimiter = b"\r\n--" + boundary
        self._buffer = bytearray(b"\r\n")  # the first delimiter may open the body
        self._state = _PREAMBLE
        self._parts = 0
        self.maxParts = maxParts
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount

    @classmethod
    def fromContentType(cls, contentType: bytes, **limits: int) -> MultipartParser:
        """A parser for a body of this Content-Type (which must name its boundary)."""
        return cls(boundaryOf(contentType), **limits)

    def feed(self, data: bytes) -> list[Event]:
        """Parse the next bytes of the body; return the events they complete."""
        if self._state == _DONE:
            return []
        self._buffer += data
        events: list[Event] = []
        while self._step(events):
            pass
        return events

    def close(self) -> list[Event]:
        """The body ended: return the last events, or raise if it ended too soon."""
        if self._state != _DONE:
            raise MultipartError(
                "the multipart body ends before its closing boundary "
                "(it was cut short, or its boundary is not the one in the Content-Type)"
            )
        return []

    def _step(self, events: list[Event]) -> bool:
        """Move on as far as the buffer allows; True if another step may move further."""
        buffer = self._buffer
        delimiter = self._delimiter
        state = self._state
        if state == _BODY:
            found = buffer.find(delimiter)
            if found < 0:
                keep = len(delimiter) - 1
                if len(buffer) > keep:
                    events.append(bytes(buffer[:-keep]))
                    del buffer[:-keep]
                return False
            if found:
                events.append(bytes(buffer[:found]))
            events.append(PART_END)
            del buffer[: found + len(delimiter)]
            self._state = _AFTER_BOUNDARY
            return True
        if state == _PREAMBLE:
            found = buffer.find(delimiter)
            if found < 0:
                # The preamble is ignored; keep only what may begin a delimiter.
                del buffer[: max(0, len(buffer) - len(delimiter) + 1)]
                return False
            del buffer[: found + len(delimiter)]
            self._state = _AFTER_BOUNDARY
            return True
        if state == _AFTER_BOUNDARY:
            if len(buffer) < 2:
                return False
            if buffer.startswith(b"--"):
                self._state = _DONE
                buffer.clear()
                return False
            if buffer.startswith(b"\r\n"):
                del buffer[:2]
            elif buffer.startswith(b"\n"):
                del buffer[:1]
            else:
                raise MultipartError(
                    "a multipart boundary is followed by something other than a line end "
                    "(a boundary that also occurs in the content?)"
                )
            self._parts += 1
            if self._parts > self.maxParts:
                raise MultipartError(f"more than {self.maxParts} parts in a multipart body")
            self._state = _HEADERS
            return True
        if state == _HEADERS:
            if buffer.startswith(b"\r\n"):
                end, head = 2, b""
            else:
                found = buffer.find(b"\r\n\r\n")
                if found < 0:
                    if len(buffer) > self.maxHeaderBytes + 3:
                        self._headersTooLong()
                    return False
                if found > self.maxHeaderBytes:
                    self._headersTooLong()
                end, head = found + 4, bytes(buffer[:found])
            del buffer[:end]
            events.append(self._partStart(head))
            self._state = _BODY
            return True
        return False

    def _headersTooLong(self) -> None:
        raise MultipartError(
            f"a multipart part's headers do not end within {self.maxHeaderBytes} bytes"
        )

    def _partStart(self, head: bytes) -> PartStart:
        lines = head.split(b"\r\n") if head else []
        if len(lines) > self.maxHeaderCount:
            raise MultipartError(
                f"a multipart part has more than {self.maxHeaderCount} header lines"
            )
        headers: list[tuple[bytes, bytes]] = []
        name: bytes | None = None
        filename: bytes | None = None
        partType: bytes | None = None
        for line in lines:
            field, colon, value = line.partition(b":")
            field = field.strip().lower()
            if not colon or not field:
                raise MultipartError(f"a multipart part header is not 'Name: value': {line!r}")
            value = value.strip()
            headers.append((field, value))
            if field == b"content-disposition":
                if value.partition(b";")[0].strip().lower() != b"form-data":
                    raise MultipartError(
                        "a multipart/form-data part's Content-Disposition is not form-data"
                    )
                params = _dispositionParams(value)
                name = params.get(b"name")
                filename = params.get(b"filename")
            elif field == b"content-type":
                partType = value
        if name is None:
            raise MultipartError(
                "a multipart part has no name (each part needs "
                'Content-Disposition: form-data; name="...")'
            )
        return PartStart(name, filename, partType, headers)


def parseMultipartParts(
    body: IO[bytes], contentType: bytes, maxParts: int = 1000, maxPartHeaderBytes: int = 16384
) -> list[Part]:
    """The parts of a multipart/form-data body, in order, each with its whole content.

    Raises:
        MultipartError: if the body does not follow the format or exceeds a limit.
    """
    parser = MultipartParser(
        boundaryOf(contentType), maxParts=maxParts, maxHeaderBytes=maxPartHeaderBytes
    )
    parts: list[Part] = []
    content: list[bytes] = []
    head: PartStart | None = None

    def handle(events: list[Event]) -> None:
        nonlocal head
        for event in events:
            if isinstance(event, PartStart):
                head = event
                content.clear()
            elif isinstance(event, bytes):
                content.append(event)
            elif head is not None:
                parts.append(Part(head.name, head.filename, head.contentType, b"".join(content)))

    while chunk := body.read(_READ_SIZE):
        handle(parser.feed(chunk))
    handle(parser.close())
    return parts


def parseMultipart(body: IO[bytes], contentType: bytes) -> dict[bytes, list[bytes]]:
    """Form fields of a multipart/form-data body: name -> list of contents."""
    fields: dict[bytes, list[bytes]] = {}
    for part in parseMultipartParts(body, contentType):
        fields.setdefault(part.name, []).append(part.content)
    return fields
