"""FETCH: its items parsed, and a message rendered for them (ENVELOPE, BODYSTRUCTURE,
BODY[section]<partial>), from the IMessage / IMessagePart methods alone.

Also the quoting used by every response (``quoted``, ``nstring``, ``literal``): a
string goes quoted when it is short printable ASCII, otherwise as a literal, so any
bytes survive. Tests: tests/mail/test_imapfetch.py.
"""

from __future__ import annotations

import email.message
import email.utils
import re
from dataclasses import dataclass
from typing import Any

from torsion.mail._imapinterfaces import IMessageFile
from torsion.mail._imapmime import MessagePart, contentType, parseHeaderBlock
from torsion.mail._imapparser import IllegalClientResponse, Str, Token, tokenize

__all__ = [
    "FetchAtt",
    "bodyStructure",
    "envelope",
    "flagList",
    "internalDate",
    "literal",
    "nstring",
    "parseFetchAtts",
    "quoted",
    "sectionData",
]

_MAX_PARTS = 500
_MAX_DEPTH = 20


def literal(data: bytes) -> bytes:
    return b"{%d}\r\n" % len(data) + data


def quoted(value: bytes | str) -> bytes:
    """A quoted string, or a literal when the value is not short printable ASCII."""
    data = value.encode("utf-8") if isinstance(value, str) else value
    if len(data) < 1000 and all(0x20 <= b < 0x7F for b in data):
        return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return literal(data)


def nstring(value: bytes | str | None) -> bytes:
    return b"NIL" if value is None else quoted(value)


def flagList(flags: Any) -> bytes:
    return b"(" + " ".join(flags).encode("utf-8", "replace") + b")"


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def internalDate(value: str) -> bytes:
    """An RFC 2822 date string as IMAP's ``"17-Jul-1996 02:44:25 -0700"``."""
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        when = None
    if when is None:
        return b'"01-Jan-1970 00:00:00 +0000"'
    offset = when.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    text = (
        f"{when.day:02d}-{_MONTHS[when.month - 1]}-{when.year:04d} "
        f"{when:%H:%M:%S} {sign}{minutes // 60:02d}{minutes % 60:02d}"
    )
    return b'"' + text.encode("ascii") + b'"'


@dataclass(frozen=True, slots=True)
class FetchAtt:
    """One FETCH item; ``name`` is upper case (``BODY[]`` items have ``name == "BODY"``
    and ``section is not None``)."""

    name: str
    section: tuple[int, ...] | None = None
    text: str = ""
    fields: tuple[str, ...] = ()
    partial: tuple[int, int] | None = None
    peek: bool = False

    @property
    def setsSeen(self) -> bool:
        if self.name in ("RFC822", "RFC822.TEXT"):
            return True
        return self.section is not None and not self.peek

    def label(self) -> bytes:
        if self.section is None:
            return self.name.encode("ascii")
        spec = ".".join(str(n) for n in self.section)
        if self.text:
            spec = f"{spec}.{self.text}" if spec else self.text
        if self.fields:
            spec += " (" + " ".join(self.fields) + ")"
        out = f"BODY[{spec}]"
        if self.partial is not None:
            out += f"<{self.partial[0]}>"
        return out.encode("ascii", "replace")


_SIMPLE = frozenset(
    {
        "FLAGS",
        "UID",
        "INTERNALDATE",
        "RFC822.SIZE",
        "ENVELOPE",
        "BODY",
        "BODYSTRUCTURE",
        "RFC822",
        "RFC822.HEADER",
        "RFC822.TEXT",
    }
)
_MACROS = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
_SECTION = re.compile(
    r"(BODY(?:\.PEEK)?)\[([^\]]*)\](?:<([0-9]{1,10})\.([0-9]{1,10})>)?\Z", re.IGNORECASE
)
_SECTION_TEXT = re.compile(r"((?:[1-9][0-9]{0,4}\.?)*)(.*)\Z", re.DOTALL)


def _section(atom: str) -> FetchAtt:
    match = _SECTION.match(atom)
    if match is None:
        raise IllegalClientResponse(f"bad fetch item {atom[:60]!r}")
    peek = match.group(1).upper() == "BODY.PEEK"
    spec = match.group(2)
    partial = None
    if match.group(3) is not None:
        partial = (int(match.group(3)), int(match.group(4)))
    head, _, rest = spec.partition(" ")
    numbersText, textPart = _SECTION_TEXT.match(head).groups()  # type: ignore[union-attr]
    numbers = tuple(int(n) for n in numbersText.split(".") if n)
    if numbersText and not numbersText.endswith(".") and textPart:
        raise IllegalClientResponse(f"bad section {spec[:60]!r}")
    text = textPart.upper()
    fields: tuple[str, ...] = ()
    if text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        tokens = tokenize(rest.encode("utf-8"))
        if len(tokens) != 1 or not isinstance(tokens[0], list) or not tokens[0]:
            raise IllegalClientResponse(f"{text} needs a list of header names")
        fields = tuple(
            bytes(name).decode("ascii", "replace").upper()
            for name in tokens[0]
            if isinstance(name, bytes)
        )
    elif rest:
        raise IllegalClientResponse(f"bad section {spec[:60]!r}")
    elif text not in ("", "HEADER", "TEXT", "MIME") or (text == "MIME" and not numbers):
        raise IllegalClientResponse(f"bad section text {text[:40]!r}")
    return FetchAtt("BODY", numbers, text, fields, partial, peek)


def parseFetchAtts(tokens: list[Token]) -> list[FetchAtt]:
    """The items of ``FETCH set items``: one atom, a macro, or a list of atoms."""
    if len(tokens) != 1:
        raise IllegalClientResponse("FETCH takes one item or a parenthesised list")
    items = tokens[0] if isinstance(tokens[0], list) else [tokens[0]]
    if not items:
        raise IllegalClientResponse("empty list of fetch items")
    atts: list[FetchAtt] = []
    for item in items:
        if not isinstance(item, bytes) or isinstance(item, Str):
            raise IllegalClientResponse("fetch items are atoms")
        atom = item.decode("ascii", "replace")
        upper = atom.upper()
        if upper in _MACROS and len(items) == 1 and not isinstance(tokens[0], list):
            atts.extend(FetchAtt(name) for name in _MACROS[upper])
        elif upper in _SIMPLE:
            atts.append(FetchAtt(upper))
        elif "[" in atom:
            atts.append(_section(atom))
        else:
            raise IllegalClientResponse(f"unknown fetch item {atom[:40]!r}")
    return atts


# -- rendering ---------------------------------------------------------------


def _headerBytes(part: Any) -> bytes:
    """The header block of a part (ending with its CRLF, no blank line)."""
    raw = getattr(part, "rawHeader", None)
    if raw is not None:
        return bytes(raw())
    if IMessageFile.providedBy(part):
        data = bytes(part.open().read())
        end = data.find(b"\r\n\r\n")
        return data[: end + 2] if end >= 0 else data
    headers = part.getHeaders(False)
    return "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode(
        "utf-8", "replace"
    )


def _bodyBytes(part: Any) -> bytes:
    return bytes(part.getBodyFile().read())


def wholeMessage(part: Any) -> bytes:
    if IMessageFile.providedBy(part):
        return bytes(part.open().read())
    return _headerBytes(part) + b"\r\n" + _bodyBytes(part)


def _isMessageRFC822(part: Any) -> bool:
    maintype, subtype, _ = contentType(part.getHeaders(False, "content-type").get("content-type"))
    return maintype == "message" and subtype == "rfc822"


def _subParts(part: Any) -> list[Any]:
    subs = []
    for index in range(_MAX_PARTS):
        try:
            subs.append(part.getSubPart(index))
        except IndexError:
            break
    return subs


def _resolve(message: Any, numbers: tuple[int, ...]) -> Any:
    part = message
    for number in numbers:
        if not part.isMultipart() and _isMessageRFC822(part):
            part = MessagePart(_bodyBytes(part))
        if part.isMultipart():
            try:
                part = part.getSubPart(number - 1)
            except IndexError:
                return None
        elif number != 1:
            return None
    return part


def sectionData(message: Any, att: FetchAtt) -> bytes | None:
    """The bytes of BODY[section] (before the partial is applied); None if there is
    no such part (the response is then an empty string, as servers commonly do)."""
    assert att.section is not None
    part = _resolve(message, att.section)
    if part is None:
        return None
    text = att.text
    if att.section and text in ("HEADER", "TEXT", "HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        if not _isMessageRFC822(part):
            return None
        part = MessagePart(_bodyBytes(part))
    if text == "":
        return _bodyBytes(part) if att.section else wholeMessage(part)
    if text == "TEXT":
        return _bodyBytes(part)
    header = _headerBytes(part)
    if text in ("HEADER", "MIME"):
        return header + b"\r\n"
    wanted = set(att.fields)
    negate = text == "HEADER.FIELDS.NOT"
    lines = [
        rawLines
        for name, _, rawLines in parseHeaderBlock(header)
        if (name.upper() in wanted) != negate
    ]
    return b"".join(lines) + b"\r\n"


def _addresses(value: str | None) -> bytes:
    if not value:
        return b"NIL"
    out = []
    for name, address in email.utils.getaddresses([value]):
        if not address and not name:
            continue
        mailbox, _, host = address.rpartition("@") if "@" in address else (address, "", "")
        out.append(
            b"("
            + b" ".join(
                [nstring(name or None), b"NIL", nstring(mailbox or None), nstring(host or None)]
            )
            + b")"
        )
    return b"(" + b"".join(out) + b")" if out else b"NIL"


def envelope(part: Any) -> bytes:
    names = ("date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc")
    headers = part.getHeaders(False, *names, "in-reply-to", "message-id")
    sender = headers.get("sender") or headers.get("from")
    replyTo = headers.get("reply-to") or headers.get("from")
    fields = [
        nstring(headers.get("date")),
        nstring(headers.get("subject")),
        _addresses(headers.get("from")),
        _addresses(sender),
        _addresses(replyTo),
        _addresses(headers.get("to")),
        _addresses(headers.get("cc")),
        _addresses(headers.get("bcc")),
        nstring(headers.get("in-reply-to")),
        nstring(headers.get("message-id")),
    ]
    return b"(" + b" ".join(fields) + b")"


def _paramList(params: list[tuple[str, str]]) -> bytes:
    if not params:
        return b"NIL"
    return (
        b"("
        + b" ".join(quoted(name.upper()) + b" " + quoted(value) for name, value in params)
        + b")"
    )


def _disposition(value: str | None) -> bytes:
    if not value:
        return b"NIL"
    holder = email.message.Message()
    holder["Content-Disposition"] = value
    params = holder.get_params(header="content-disposition") or []
    if not params:
        return b"NIL"
    kind = params[0][0]
    rest = [
        (name, str(email.utils.collapse_rfc2231_value(v)) if isinstance(v, tuple) else str(v))
        for name, v in params[1:]
    ]
    return b"(" + quoted(kind.upper()) + b" " + _paramList(rest) + b")"


def _lines(body: bytes) -> int:
    return body.count(b"\n") + (1 if body and not body.endswith(b"\n") else 0)


def bodyStructure(part: Any, extended: bool = True, depth: int = 0) -> bytes:
    """BODYSTRUCTURE (``extended``) or BODY of a message or part (RFC 3501 7.4.2)."""
    headers = part.getHeaders(
        False,
        "content-type",
        "content-id",
        "content-description",
        "content-transfer-encoding",
        "content-disposition",
        "content-language",
        "content-location",
        "content-md5",
    )
    maintype, subtype, params = contentType(headers.get("content-type"))
    ext: list[bytes] = []
    if extended:
        language = headers.get("content-language")
        ext = [
            _disposition(headers.get("content-disposition")),
            nstring(language) if language else b"NIL",
            nstring(headers.get("content-location")),
        ]
    if part.isMultipart() and depth < _MAX_DEPTH:
        subs = b"".join(bodyStructure(sub, extended, depth + 1) for sub in _subParts(part))
        items = [subs + b" " + quoted(subtype.upper())]
        if extended:
            items += [_paramList(params), *ext]
        return b"(" + b" ".join(items) + b")"
    body = _bodyBytes(part)
    fields = [
        quoted(maintype.upper()),
        quoted(subtype.upper()),
        _paramList(params),
        nstring(headers.get("content-id")),
        nstring(headers.get("content-description")),
        quoted((headers.get("content-transfer-encoding") or "7BIT").upper()),
        b"%d" % len(body),
    ]
    if maintype == "message" and subtype == "rfc822" and depth < _MAX_DEPTH:
        inner = MessagePart(body)
        fields += [envelope(inner), bodyStructure(inner, extended, depth + 1), b"%d" % _lines(body)]
    elif maintype == "text":
        fields.append(b"%d" % _lines(body))
    if extended:
        fields += [nstring(headers.get("content-md5")), *ext]
    return b"(" + b" ".join(fields) + b")"
