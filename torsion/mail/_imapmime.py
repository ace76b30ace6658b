"""A message held as its exact bytes, cut into MIME parts on demand.

``MessagePart(raw)`` provides ``IMessagePart`` and ``IMessageFile`` over the bytes of a
message (CRLF line ends, as IMAP sends them): headers are parsed when first asked for,
sub-parts are slices of the same bytes, so BODY[1.2] is returned byte for byte as it
was stored. The mailboxes of torsion.mail (the in-memory one and the maildir one) build
their messages on it. Tests: tests/mail/test_imapfetch.py.
"""

from __future__ import annotations

import email.message
import email.utils
import io
import re

from zope.interface import implementer

from torsion.mail._imapinterfaces import IMessageFile, IMessagePart

__all__ = ["MessagePart", "contentType", "toCRLF"]

_BARE_LF = re.compile(rb"(?<!\r)\n")
_LONE_CR = re.compile(rb"\r(?!\n)")


def toCRLF(data: bytes) -> bytes:
    """``data`` with every line ending CRLF (a maildir keeps LF; IMAP wants CRLF)."""
    if b"\n" not in data and b"\r" not in data:
        return data
    return _BARE_LF.sub(b"\r\n", _LONE_CR.sub(b"\r\n", data))


def contentType(value: str | None) -> tuple[str, str, list[tuple[str, str]]]:
    """``(maintype, subtype, [(param, value), ...])`` of a Content-Type header value;
    text/plain (RFC 2045's default) when it is missing or unreadable."""
    if not value:
        return "text", "plain", [("charset", "us-ascii")]
    holder = email.message.Message()
    holder["Content-Type"] = value
    full = holder.get_content_type()
    maintype, _, subtype = full.partition("/")
    params: list[tuple[str, str]] = []
    for name, param in (holder.get_params() or [])[1:]:
        if isinstance(param, tuple):
            param = email.utils.collapse_rfc2231_value(param)
        params.append((name, str(param)))
    return maintype, subtype, params


def _splitHeaders(raw: bytes) -> tuple[bytes, bytes]:
    """(header block with its final CRLF, body) of a message or part."""
    if raw.startswith(b"\r\n"):
        return b"", raw[2:]
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        return (raw if raw.endswith(b"\r\n") else raw + b"\r\n"), b""
    return raw[: end + 2], raw[end + 4 :]


def parseHeaderBlock(block: bytes) -> list[tuple[str, str, bytes]]:
    """``[(name, unfolded value, raw lines), ...]`` of a header block, in order."""
    fields: list[tuple[str, str, bytes]] = []
    for line in block.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and fields:
            name, value, rawLines = fields[-1]
            fields[-1] = (
                name,
                value + " " + line.strip().decode("utf-8", "replace"),
                rawLines + line + b"\r\n",
            )
            continue
        rawName, sep, rawValue = line.partition(b":")
        if not sep:
            continue
        fields.append(
            (
                rawName.strip().decode("ascii", "replace"),
                rawValue.strip().decode("utf-8", "replace"),
                line + b"\r\n",
            )
        )
    return fields


@implementer(IMessagePart, IMessageFile)
class MessagePart:
    """A message or MIME part over its exact bytes (see the module docstring)."""

    __slots__ = ("_body", "_fields", "_header", "_parts", "_raw")

    def __init__(self, raw: bytes) -> None:
        self._raw = raw
        self._header, self._body = _splitHeaders(raw)
        self._fields: list[tuple[str, str, bytes]] | None = None
        self._parts: list[MessagePart] | None = None

    def fields(self) -> list[tuple[str, str, bytes]]:
        """The header fields in order: ``(name, unfolded value, raw lines)``."""
        if self._fields is None:
            self._fields = parseHeaderBlock(self._header)
        return self._fields

    def rawHeader(self) -> bytes:
        """The header block as stored, ending with its last CRLF (not the blank line)."""
        return self._header

    def getHeaders(self, negate: bool, *names: str) -> dict[str, str]:
        wanted = {name.lower() for name in names}
        result: dict[str, str] = {}
        for name, value, _ in self.fields():
            key = name.lower()
            if (not names or (key in wanted) != negate) and key not in result:
                result[key] = value
        return result

    def getBodyFile(self) -> io.BytesIO:
        return io.BytesIO(self._body)

    def body(self) -> bytes:
        return self._body

    def getSize(self) -> int:
        return len(self._raw)

    def open(self) -> io.BytesIO:
        return io.BytesIO(self._raw)

    def _contentType(self) -> tuple[str, str, list[tuple[str, str]]]:
        return contentType(self.getHeaders(False, "content-type").get("content-type"))

    def isMultipart(self) -> bool:
        maintype, _, params = self._contentType()
        return maintype == "multipart" and any(name == "boundary" for name, _ in params)

    def getSubPart(self, part: int) -> MessagePart:
        if self._parts is None:
            self._parts = self._split()
        if part < 0:
            raise IndexError(part)
        return self._parts[part]

    def _split(self) -> list[MessagePart]:
        maintype, _, params = self._contentType()
        boundary = dict(params).get("boundary")
        if maintype != "multipart" or not boundary:
            return []
        delimiter = re.compile(
            rb"(?:\A|\r\n)--"
            + re.escape(boundary.encode("utf-8", "replace"))
            + rb"(--)?[ \t]*(?:\r\n|\Z)"
        )
        parts: list[MessagePart] = []
        start: int | None = None
        for match in delimiter.finditer(self._body):
            if start is not None:
                parts.append(MessagePart(self._body[start : match.start()]))
            if match.group(1):
                start = None
                break
            start = match.end()
        if start is not None:
            parts.append(MessagePart(self._body[start:]))
        return parts

    def __repr__(self) -> str:
        return f"<MessagePart of {len(self._raw)} bytes>"
