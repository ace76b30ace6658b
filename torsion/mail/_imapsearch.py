"""SEARCH: the keys of RFC 3501 section 6.4.4 parsed into a predicate, and evaluated on
IMessage objects by the server (for mailboxes that are not ISearchableMailbox).

Search strings come off the wire as bytes; they are decoded with the command's CHARSET
(US-ASCII or UTF-8 unless Python knows the charset) and compared, case-insensitively,
with headers decoded from RFC 2047 and with text bodies decoded from their transfer
encoding and charset, so ``SEARCH CHARSET UTF-8 SUBJECT "Grüße"`` finds
``Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=``. Tests: tests/mail/test_imapsearch.py.
"""

from __future__ import annotations

import codecs
import datetime
import email
import email.header
import email.policy
import email.utils
from collections.abc import Callable
from typing import Any

from torsion.mail._imapfetch import wholeMessage
from torsion.mail._imapparser import IllegalClientResponse, MessageSet, Str, Token, parseSequenceSet

__all__ = ["SearchContext", "parseSearch"]

_MONTHS = {
    name: index
    for index, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_MAX_KEYS = 1000
_MAX_DEPTH = 50


class SearchContext:
    """One message as the search keys see it; decoded text is computed on demand."""

    __slots__ = ("_body", "_headers", "flags", "lastSeq", "lastUID", "message", "seq", "uid")

    def __init__(self, seq: int, message: Any, lastSeq: int, lastUID: int) -> None:
        self.seq = seq
        self.message = message
        self.uid = message.getUID()
        self.flags = set(message.getFlags())
        self.lastSeq = lastSeq
        self.lastUID = lastUID
        self._headers: dict[str, str] | None = None
        self._body: str | None = None

    def header(self, name: str) -> str | None:
        if self._headers is None:
            self._headers = {}
            for key, value in self.message.getHeaders(False).items():
                self._headers[key.lower()] = _decodeHeader(value).lower()
        return self._headers.get(name.lower())

    def allHeaders(self) -> str:
        self.header("")
        assert self._headers is not None
        return "\n".join(f"{k}: {v}" for k, v in self._headers.items())

    def body(self) -> str:
        if self._body is None:
            self._body = _decodedText(wholeMessage(self.message)).lower()
        return self._body


def _decodeHeader(value: str) -> str:
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (ValueError, LookupError, UnicodeError, email.errors.HeaderParseError):
        return value


def _decodedText(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    texts = []
    for part in message.walk():
        if part.is_multipart():
            continue
        if part.get_content_maintype() == "text":
            try:
                texts.append(str(part.get_content()))
            except (LookupError, UnicodeError, ValueError, KeyError):
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    texts.append(payload.decode("utf-8", "replace"))
    return "\n".join(texts)


def _date(token: Token) -> datetime.date:
    if not isinstance(token, bytes):
        raise IllegalClientResponse("expected a date like 1-Feb-2024")
    pieces = bytes(token).decode("ascii", "replace").split("-")
    try:
        day, month, year = int(pieces[0]), _MONTHS[pieces[1].lower()], int(pieces[2])
        return datetime.date(year, month, day)
    except (IndexError, KeyError, ValueError):
        raise IllegalClientResponse(
            f"bad date {bytes(token)[:30]!r} (expected like 1-Feb-2024)"
        ) from None


def _messageDate(value: str | None) -> datetime.date | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).date()
    except (TypeError, ValueError, IndexError):
        return None


Predicate = Callable[[SearchContext], bool]


class _Parser:
    def __init__(self, tokens: list[Token], charset: str) -> None:
        self.tokens = tokens
        self.pos = 0
        self.charset = charset
        self.count = 0
        self.depth = 0

    def next(self) -> Token:
        if self.pos >= len(self.tokens):
            raise IllegalClientResponse("SEARCH key is missing an argument")
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def string(self) -> str:
        token = self.next()
        if not isinstance(token, bytes):
            raise IllegalClientResponse("expected a string in SEARCH")
        return bytes(token).decode(self.charset, "replace").lower()

    def number(self) -> int:
        token = self.next()
        if not isinstance(token, bytes) or isinstance(token, Str) or not token.isdigit():
            raise IllegalClientResponse("expected a number in SEARCH")
        return int(token)

    def all(self) -> Predicate:
        keys = []
        while self.pos < len(self.tokens):
            keys.append(self.key())
        return _and(keys)

    def key(self) -> Predicate:
        self.count += 1
        if self.count > _MAX_KEYS:
            raise IllegalClientResponse("too many SEARCH keys")
        self.depth += 1
        try:
            return self._key()
        finally:
            self.depth -= 1

    def _key(self) -> Predicate:
        if self.depth > _MAX_DEPTH:
            raise IllegalClientResponse("SEARCH keys nested too deeply")
        token = self.next()
        if isinstance(token, list):
            sub = _Parser(token, self.charset)
            sub.count, sub.depth = self.count, self.depth
            predicate = sub.all()
            self.count = sub.count
            return predicate
        if isinstance(token, Str):
            raise IllegalClientResponse("a SEARCH key is an atom, not a string")
        name = bytes(token).upper().decode("ascii", "replace")
        flag = _FLAG_KEYS.get(name)
        if flag is not None:
            wanted, present = flag
            return lambda c: (wanted in c.flags) == present
        if name == "ALL":
            return lambda c: True
        if name == "NEW":
            return lambda c: "\\Recent" in c.flags and "\\Seen" not in c.flags
        if name == "OLD":
            return lambda c: "\\Recent" not in c.flags
        if name in ("KEYWORD", "UNKEYWORD"):
            keyword = self.string()
            present = name == "KEYWORD"
            return lambda c: any(f.lower() == keyword for f in c.flags) == present
        if name == "NOT":
            inner = self.key()
            return lambda c: not inner(c)
        if name == "OR":
            left, right = self.key(), self.key()
            return lambda c: left(c) or right(c)
        if name in ("FROM", "TO", "CC", "BCC", "SUBJECT"):
            text, header = self.string(), name.lower()
            return lambda c: text in (c.header(header) or "")
        if name == "HEADER":
            header, text = self.string(), self.string()
            return lambda c: c.header(header) is not None and text in (c.header(header) or "")
        if name == "BODY":
            text = self.string()
            return lambda c: text in c.body()
        if name == "TEXT":
            text = self.string()
            return lambda c: text in c.allHeaders() or text in c.body()
        if name in ("BEFORE", "ON", "SINCE"):
            return _dateKey(name, _date(self.next()), lambda c: c.message.getInternalDate())
        if name in ("SENTBEFORE", "SENTON", "SENTSINCE"):
            return _dateKey(name[4:], _date(self.next()), lambda c: c.header("date"))
        if name == "LARGER":
            size = self.number()
            return lambda c: c.message.getSize() > size
        if name == "SMALLER":
            size = self.number()
            return lambda c: c.message.getSize() < size
        if name == "UID":
            uids = _set(self.next())
            return lambda c: _inSet(uids, c.uid, c.lastUID)
        if name[:1].isdigit() or name[:1] == "*":
            seqs = parseSequenceSet(bytes(token))
            return lambda c: _inSet(seqs, c.seq, c.lastSeq)
        raise IllegalClientResponse(f"unknown SEARCH key {name[:30]!r}")


_FLAG_KEYS = {
    "ANSWERED": ("\\Answered", True),
    "DELETED": ("\\Deleted", True),
    "DRAFT": ("\\Draft", True),
    "FLAGGED": ("\\Flagged", True),
    "RECENT": ("\\Recent", True),
    "SEEN": ("\\Seen", True),
    "UNANSWERED": ("\\Answered", False),
    "UNDELETED": ("\\Deleted", False),
    "UNDRAFT": ("\\Draft", False),
    "UNFLAGGED": ("\\Flagged", False),
    "UNSEEN": ("\\Seen", False),
}


def _set(token: Token) -> MessageSet:
    if not isinstance(token, bytes):
        raise IllegalClientResponse("expected a sequence set")
    return parseSequenceSet(bytes(token))


def _inSet(messages: MessageSet, number: int, last: int) -> bool:
    messages.last = last
    return number in messages


def _dateKey(
    kind: str, when: datetime.date, getter: Callable[[SearchContext], str | None]
) -> Predicate:
    def check(context: SearchContext) -> bool:
        day = _messageDate(getter(context))
        if day is None:
            return False
        if kind == "BEFORE":
            return day < when
        if kind == "ON":
            return day == when
        return day >= when

    return check


def _and(keys: list[Predicate]) -> Predicate:
    if not keys:
        raise IllegalClientResponse("SEARCH needs at least one key")
    if len(keys) == 1:
        return keys[0]
    return lambda c: all(key(c) for key in keys)


def parseSearch(tokens: list[Token]) -> tuple[str, list[Token], Predicate]:
    """``(charset, the key tokens, predicate)`` of SEARCH's arguments.

    Raises:
        IllegalClientResponse: a key is unknown or malformed.
        LookupError: the CHARSET is not one Python knows (answer NO [BADCHARSET]).
    """
    charset = "utf-8"
    if tokens and isinstance(tokens[0], bytes) and bytes(tokens[0]).upper() == b"CHARSET":
        if len(tokens) < 2 or not isinstance(tokens[1], bytes):
            raise IllegalClientResponse("CHARSET needs a charset name")
        name = bytes(tokens[1]).decode("ascii", "replace")
        charset = "utf-8" if name.upper() in ("US-ASCII", "UTF-8") else codecs.lookup(name).name
        tokens = tokens[2:]
    return charset, tokens, _Parser(tokens, charset).all()
