"""The sans-IO grammar of NNTP (RFC 3977), shared by the server and the client.

Bytes and strings in, values out, no transport: a command line split into its verb and
arguments with RFC 3977's limits (512 octets a line), wildmats (``comp.*,!comp.os.*``),
article ranges (``5``, ``5-``, ``5-9``), the ``yyyymmdd hhmmss [GMT]`` of NEWNEWS and
NEWGROUPS, message-ids, and the dot-stuffed multi-line blocks both sides send. Bounded
line splitting and dot-stuffing are POP3's (torsion.mail._pop3), the same on this wire.
Errors are ``NNTPSyntaxError``, which the server answers with 501.
Tests: tests/news/test_nntpcodec.py (with hypothesis).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from torsion.mail._pop3 import DotStuffer, DotUnstuffer, LineBuffer

__all__ = [
    "MAX_COMMAND_LINE",
    "Command",
    "DotStuffer",
    "DotUnstuffer",
    "LineBuffer",
    "NNTPSyntaxError",
    "encodeMultiline",
    "formatDate",
    "isMessageId",
    "parseCommand",
    "parseDateTime",
    "parseRange",
    "wildmat",
]

# RFC 3977 3.1: a command line is at most 512 octets with its CRLF.
MAX_COMMAND_LINE = 510
# A message-id is at most 250 octets (RFC 3977 3.6).
MAX_MESSAGE_ID = 250

_MESSAGE_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>\Z")


class NNTPSyntaxError(ValueError):
    """A command or one of its arguments does not follow the grammar (reply 501)."""


@dataclass(frozen=True, slots=True)
class Command:
    """One command line: the verb in upper case and its arguments as given."""

    verb: str
    arguments: tuple[str, ...]


def parseCommand(line: bytes) -> Command:
    """Split one command line (without its CRLF) into verb and arguments.

    Raises:
        NNTPSyntaxError: for an empty line, one over 512 octets, or one that is not
            UTF-8 text without control characters.
    """
    if len(line) > MAX_COMMAND_LINE:
        raise NNTPSyntaxError(f"command line longer than {MAX_COMMAND_LINE + 2} octets")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise NNTPSyntaxError("command line is not UTF-8") from None
    if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in text):
        raise NNTPSyntaxError("control character in the command line")
    words = text.split()
    if not words:
        raise NNTPSyntaxError("empty command line")
    return Command(words[0].upper(), tuple(words[1:]))


def isMessageId(text: str) -> bool:
    """Whether ``text`` is a message-id in RFC 3977's form: ``<local@domain>``."""
    return len(text) <= MAX_MESSAGE_ID and _MESSAGE_ID.match(text) is not None


def parseRange(text: str) -> tuple[int, int | None]:
    """``5`` -> (5, 5), ``5-`` -> (5, None) (to the end), ``5-9`` -> (5, 9).

    Raises:
        NNTPSyntaxError: if ``text`` is not one of those forms.
    """
    low, dash, high = text.partition("-")
    if not low.isdigit() or len(low) > 16 or (high and (not high.isdigit() or len(high) > 16)):
        raise NNTPSyntaxError(f"{text!r} is not an article number or range")
    first = int(low)
    if not dash:
        return first, first
    return first, int(high) if high else None


def wildmat(pattern: str) -> Callable[[str], bool]:
    """A matcher for an RFC 3977 wildmat: comma-separated patterns of ``*`` and ``?``,
    each possibly negated with ``!``; the last pattern that matches decides.

    Raises:
        NNTPSyntaxError: for an empty pattern or one with characters a wildmat lacks.
    """
    parts: list[tuple[bool, re.Pattern[str]]] = []
    for piece in pattern.split(","):
        negated = piece.startswith("!")
        if negated:
            piece = piece[1:]
        if not piece or any(c in piece for c in "[]\\!"):
            raise NNTPSyntaxError(f"{pattern!r} is not a wildmat")
        expression = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in piece)
        parts.append((negated, re.compile(expression + r"\Z", re.DOTALL)))

    def matches(name: str) -> bool:
        for negated, expression in reversed(parts):
            if expression.match(name):
                return not negated
        return False

    return matches


def parseDateTime(date: str, time: str, gmt: str | None = None) -> datetime.datetime:
    """The instant of NEWNEWS/NEWGROUPS arguments: ``yymmdd`` or ``yyyymmdd``, ``hhmmss``,
    and ``GMT`` for UTC (else the server's local time, as RFC 3977 7.3 says).

    A two-digit year is the closest to now within a century (RFC 3977 7.3.2).

    Raises:
        NNTPSyntaxError: if the values are malformed or not a real date.
    """
    if gmt is not None and gmt.upper() != "GMT":
        raise NNTPSyntaxError(f"{gmt!r}: the third argument can only be GMT")
    if not (date.isdigit() and len(date) in (6, 8) and time.isdigit() and len(time) == 6):
        raise NNTPSyntaxError(f"{date} {time}: give yyyymmdd hhmmss")
    year = int(date[:-4])
    if len(date) == 6:
        thisYear = datetime.datetime.now(datetime.UTC).year
        year += thisYear - thisYear % 100
        if year > thisYear + 50:
            year -= 100
        elif year < thisYear - 50:
            year += 100
    try:
        moment = datetime.datetime(
            year, int(date[-4:-2]), int(date[-2:]), int(time[:2]), int(time[2:4]), int(time[4:])
        )
    except ValueError as e:
        raise NNTPSyntaxError(f"{date} {time}: {e}") from None
    if gmt is not None:
        return moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone()


def formatDate(moment: datetime.datetime) -> tuple[str, str]:
    """A moment as NEWNEWS/NEWGROUPS arguments (``yyyymmdd``, ``hhmmss``) in UTC."""
    utc = moment.astimezone(datetime.UTC) if moment.tzinfo else moment
    return utc.strftime("%Y%m%d"), utc.strftime("%H%M%S")


def encodeMultiline(lines: Iterable[bytes]) -> bytes:
    """Lines (without their ends) as a multi-line block: dot-stuffed, CRLF, ``.``."""
    out = [b"." + line if line.startswith(b".") else line for line in lines]
    out.append(b".")
    out.append(b"")
    return b"\r\n".join(out)
