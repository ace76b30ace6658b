"""multipart/form-data bodies (RFC 7578) split into form fields, within limits.

Request.args uses it for POST and PUT bodies of that type. A part's name comes from
its Content-Disposition; a file part's content is kept as bytes like any field, and
its file name is available through `parseMultipartParts`. Bounded: at most
`maxParts` parts and `maxPartHeaderBytes` of headers per part; the body itself was
already bounded by the channel's body limit.

Tests: tests/web/test_multipart.py.
"""

from __future__ import annotations

import re
from typing import IO

__all__ = ["MultipartError", "Part", "parseMultipart", "parseMultipartParts"]

_BOUNDARY = re.compile(rb'boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))', re.I)
_PARAM = re.compile(rb';\s*([A-Za-z0-9*_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')


class MultipartError(ValueError):
    """The body is not valid multipart/form-data."""


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


def _boundary(contentType: bytes) -> bytes:
    match = _BOUNDARY.search(contentType)
    if match is None:
        raise MultipartError("multipart/form-data without a boundary parameter")
    return match.group(1) or match.group(2)


def _dispositionParams(value: bytes) -> dict[bytes, bytes]:
    params: dict[bytes, bytes] = {}
    for match in _PARAM.finditer(value):
        quoted, plain = match.group(2), match.group(3)
        params[match.group(1).lower()] = (
            re.sub(rb"\\(.)", rb"\1", quoted) if quoted is not None else plain
        )
    return params


def parseMultipartParts(
    body: IO[bytes], contentType: bytes, maxParts: int = 1000, maxPartHeaderBytes: int = 16384
) -> list[Part]:
    """The parts of a multipart/form-data body, in order.

    Raises:
        MultipartError: if the body does not follow the format or exceeds a limit.
    """
    delimiter = b"--" + _boundary(contentType)
    data = body.read()
    start = data.find(delimiter)
    if start < 0:
        raise MultipartError("the multipart body does not contain its boundary")
    parts: list[Part] = []
    position = start + len(delimiter)
    while True:
        if data.startswith(b"--", position):
            return parts
        if data.startswith(b"\r\n", position):
            position += 2
        elif data.startswith(b"\n", position):
            position += 1
        else:
            raise MultipartError("a multipart boundary is not followed by a line end")
        headEnd = data.find(b"\r\n\r\n", position)
        separator = 4
        if headEnd < 0 or headEnd - position > maxPartHeaderBytes:
            raise MultipartError("a multipart part has no end of headers within the limit")
        head = data[position:headEnd]
        nextDelimiter = data.find(b"\r\n" + delimiter, headEnd + separator)
        if nextDelimiter < 0:
            raise MultipartError("the multipart body ends before its closing boundary")
        content = data[headEnd + separator : nextDelimiter]
        name: bytes | None = None
        filename: bytes | None = None
        partType: bytes | None = None
        for line in head.split(b"\r\n"):
            field, _, value = line.partition(b":")
            field = field.strip().lower()
            if field == b"content-disposition":
                params = _dispositionParams(value)
                name = params.get(b"name")
                filename = params.get(b"filename")
            elif field == b"content-type":
                partType = value.strip()
        if name is None:
            raise MultipartError("a multipart part has no Content-Disposition name")
        parts.append(Part(name, filename, partType, content))
        if len(parts) > maxParts:
            raise MultipartError(f"more than {maxParts} parts in a multipart body")
        position = nextDelimiter + 2 + len(delimiter)


def parseMultipart(body: IO[bytes], contentType: bytes) -> dict[bytes, list[bytes]]:
    """Form fields of a multipart/form-data body: name -> list of contents."""
    fields: dict[bytes, list[bytes]] = {}
    for part in parseMultipartParts(body, contentType):
        fields.setdefault(part.name, []).append(part.content)
    return fields
