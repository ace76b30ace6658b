"""The sans-IO parsers of torsion.mail.smtp: lines, commands, DATA bodies and replies.

Everything here works on bytes and returns values, with no transport: the line buffer
(with its limit, and the CRLF bookkeeping that keeps the end of DATA from being
smuggled with bare LFs), the command and MAIL/RCPT argument parsers, the DATA body
decoder (dot-unstuffing, size and line limits, a chunk at a time) and its encoder for
the client, and reply formatting and parsing.
Tests: tests/mail/test_smtp_core.py (with hypothesis).
"""

from __future__ import annotations

import re

from torsion.mail._smtpcore import _asBytes

__all__ = [
    "LINE_TOO_LONG",
    "CommandSyntaxError",
    "DataDecoder",
    "DataEncoder",
    "LineBuffer",
    "LineTooLong",
    "ReplyParser",
    "formatReply",
    "parseCommand",
    "parsePath",
]


# -- line framing ------------------------------------------------------------------------


class LineTooLong:
    """What ``LineBuffer.nextLine`` returns in place of an overlong line (once per line)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "LINE_TOO_LONG"


LINE_TOO_LONG = LineTooLong()


class LineBuffer:
    """Cuts received bytes into lines, keeping no more than the limit of a line.

    A line ends at LF; a CR before it is dropped and ``crlf`` says whether it was there
    (the DATA terminator only counts when CRLF-delimited, so bare LFs cannot smuggle a
    second message past a later server). A line longer than ``maxLength`` is
    discarded up to its end and reported once as ``LINE_TOO_LONG``; at most
    ``maxLength + 1`` bytes of an unfinished line are ever kept.
    """

    __slots__ = ("_buffer", "_discarding", "_pos", "crlf")

    def __init__(self) -> None:
        self._buffer = b""
        self._pos = 0
        self._discarding = False
        self.crlf = True

    def feed(self, data: bytes) -> None:
        """Add received bytes."""
        if self._pos:
            self._buffer = self._buffer[self._pos :] + data
            self._pos = 0
        elif self._buffer:
            self._buffer += data
        else:
            self._buffer = data

    def nextLine(self, maxLength: int) -> bytes | LineTooLong | None:
        """Return the next whole line, ``LINE_TOO_LONG``, or None if none is complete."""
        buffer, pos = self._buffer, self._pos
        end = buffer.find(b"\n", pos)
        if end < 0:
            if len(buffer) - pos > maxLength + 1:
                self._buffer, self._pos = b"", 0
                if not self._discarding:
                    self._discarding = True
                    return LINE_TOO_LONG
            return None
        self._pos = end + 1
        if end > pos and buffer[end - 1] == 13:
            line = buffer[pos : end - 1]
            self.crlf = True
        else:
            line = buffer[pos:end]
            self.crlf = False
        if self._discarding:
            self._discarding = False
            return self.nextLine(maxLength)
        if len(line) > maxLength:
            return LINE_TOO_LONG
        return line

    def pending(self) -> int:
        """Return how many received bytes are not yet returned as lines."""
        return len(self._buffer) - self._pos

    def peek(self) -> bytes:
        """Return the received bytes not consumed yet (for bulk parsing, as DATA's)."""
        if self._pos:
            self._buffer, self._pos = self._buffer[self._pos :], 0
        return self._buffer

    def consume(self, count: int) -> None:
        """Drop the first ``count`` bytes of what ``peek`` returned."""
        self._pos += count
        if self._pos >= len(self._buffer):
            self._buffer, self._pos = b"", 0

    def clear(self) -> bytes:
        """Forget and return what is buffered (after STARTTLS, say)."""
        rest = self._buffer[self._pos :]
        self._buffer, self._pos, self._discarding = b"", 0, False
        return rest


# -- commands ----------------------------------------------------------------------------

_PARAM_KEY = re.compile(rb"[A-Za-z0-9][A-Za-z0-9\-]*\Z")


class CommandSyntaxError(ValueError):
    """A MAIL or RCPT command's argument is malformed; ``reply`` is what to answer."""

    def __init__(self, code: int, reply: bytes) -> None:
        super().__init__(reply.decode("ascii", "replace"))
        self.code = code
        self.reply = reply


def parseCommand(line: bytes) -> tuple[bytes, bytes]:
    """Split a command line into its upper-cased verb and the rest (stripped)."""
    verb, _, rest = line.strip().partition(b" ")
    return verb.upper(), rest.strip()


def parsePath(argument: bytes, keyword: bytes) -> tuple[bytes, dict[bytes, bytes | None]]:
    """Parse ``FROM:<path> PARAM=VALUE...`` (or ``TO:``): return the path and the
    ESMTP parameters (upper-cased keywords; None for a parameter without a value).

    The path is returned as given, inside its brackets when it had them, for
    ``Address`` to check. A path without brackets is accepted, as many clients send
    one.

    Raises:
        CommandSyntaxError: no ``keyword:``, an unclosed '<', or a bad parameter.
    """
    if argument[: len(keyword)].upper() != keyword:
        raise CommandSyntaxError(501, b"5.5.4 Syntax: " + keyword + b"<address>")
    rest = argument[len(keyword) :].lstrip()
    if rest.startswith(b"<"):
        close = rest.find(b">")
        if close < 0:
            raise CommandSyntaxError(501, b"5.1.7 Unbalanced '<' in the address")
        path, rest = rest[: close + 1], rest[close + 1 :]
        if rest and not rest.startswith(b" "):
            raise CommandSyntaxError(501, b"5.5.4 A space must follow the address")
    else:
        path, _, rest = rest.partition(b" ")
        if not path:
            raise CommandSyntaxError(501, b"5.5.4 Syntax: " + keyword + b"<address>")
    params: dict[bytes, bytes | None] = {}
    for item in rest.split():
        key, eq, value = item.partition(b"=")
        if not _PARAM_KEY.match(key) or (eq and not value):
            raise CommandSyntaxError(501, b"5.5.4 Malformed parameter " + item[:40])
        params[key.upper()] = value if eq else None
    return path, params


# -- the DATA body -----------------------------------------------------------------------


class DataDecoder:
    """Follows a DATA body line by line: dot-unstuffing, the end, the size limit.

    ``lineReceived(line, crlf)`` returns the unstuffed line to pass on, ``None`` when
    the line is the terminating ``.``, or ``False`` when the line must be dropped
    because the message is already too big (``tooBig`` then stays True). The
    terminator only counts on a CRLF-delimited line after a CRLF (RFC 5321 4.1.1.4),
    so a ``\n.\n`` cannot end the message here while a later server sees it go on.
    """

    __slots__ = (
        "_atLineStart",
        "_previousCRLF",
        "lineTooLong",
        "maxLineLength",
        "maxSize",
        "size",
        "tooBig",
    )

    def __init__(self, maxSize: int | None, maxLineLength: int | None = None) -> None:
        self.maxSize = maxSize
        self.maxLineLength = maxLineLength
        self.size = 0
        self.tooBig = False
        self.lineTooLong = False
        self._previousCRLF = True
        self._atLineStart = True

    def decodeChunk(self, data: bytes) -> tuple[list[bytes], int, bool]:
        """Decode as much of ``data`` as is whole lines, at once (the server's fast path).

        ``data`` continues the body where the last call stopped. Lines end at CRLF
        only (a bare LF stays inside its line), and the body ends at CRLF ``.`` CRLF.
        Returns the unstuffed lines to deliver (none once ``tooBig`` or
        ``lineTooLong`` is set), how many bytes of ``data`` were used, and whether
        the body ended. At most ``maxLineLength`` + 1 bytes are left unused.
        """
        if self._atLineStart and data[:3] == b".\r\n":
            return [], 3, True
        end = data.find(b"\r\n.\r\n")
        if end >= 0:
            body, used, ended = data[:end], end + 5, True
        else:
            last = data.rfind(b"\r\n")
            if last < 0:
                limit = self.maxLineLength
                if limit is not None and len(data) > limit + 1:
                    self.lineTooLong = True
                    self._atLineStart = False
                    return [], len(data) - 1, False
                return [], 0, False
            body, used, ended = data[:last], last + 2, False
        lines = body.split(b"\r\n")
        if not self._atLineStart:
            lines[0] = b""
            self._atLineStart = True
        if body[:1] == b"." or b"\r\n." in body:
            lines = [line[1:] if line[:1] == b"." else line for line in lines]
        self.size += len(body) + 2
        if self.maxSize is not None and self.size > self.maxSize:
            self.tooBig = True
        limit = self.maxLineLength
        if limit is not None and len(body) > limit and max(map(len, lines)) > limit:
            self.lineTooLong = True
        if self.tooBig or self.lineTooLong:
            return [], used, ended
        return lines, used, ended

    def lineReceived(self, line: bytes, crlf: bool) -> bytes | bool | None:
        """Return the line to deliver, None at the end of the body, False to drop it."""
        previous, self._previousCRLF = self._previousCRLF, crlf
        if line[:1] == b".":
            if line == b"." and crlf and previous:
                return None
            line = line[1:]
        self.size += len(line) + 2
        if self.maxSize is not None and self.size > self.maxSize:
            self.tooBig = True
        if self.tooBig:
            return False
        return line


# -- replies -----------------------------------------------------------------------------


def formatReply(code: int, message: bytes | str | list[bytes] | None = None) -> bytes:
    """Return the wire form of a reply: one line, or ``ddd-`` lines then ``ddd ``.

    CR and LF inside a line are replaced by spaces, so text taken from elsewhere (an
    exception's message) cannot end the reply early or forge a second one.
    """
    if type(message) is bytes and b"\n" not in message and b"\r" not in message:
        return b"%03d %s\r\n" % (code, message) if message else b"%03d\r\n" % code
    if message is None:
        lines: list[bytes] = [b""]
    elif isinstance(message, list):
        lines = [_asBytes(m, "reply") for m in message] or [b""]
    else:
        lines = _asBytes(message, "reply").splitlines() or [b""]
    head = b"%03d" % code
    out = []
    last = len(lines) - 1
    for i, text in enumerate(lines):
        text = text.replace(b"\r", b" ").replace(b"\n", b" ")
        sep = b" " if i == last else b"-"
        out.append(head + sep + text + b"\r\n" if text or i != last else head + b"\r\n")
    return b"".join(out)


class ReplyParser:
    """The client's side: collects reply lines into ``(code, lines)`` replies.

    ``lineReceived(line)`` returns None until a reply is complete, then the code and
    its text lines. At most ``maxLines`` lines are kept of one reply.

    Raises (from lineReceived):
        ValueError: the line is not an SMTP reply line, or changes code mid-reply.
    """

    __slots__ = ("_code", "_lines", "maxLines")

    def __init__(self, maxLines: int = 256) -> None:
        self.maxLines = maxLines
        self._code = -1
        self._lines: list[bytes] = []

    def lineReceived(self, line: bytes) -> tuple[int, list[bytes]] | None:
        if len(line) < 3 or not line[:3].isdigit() or (len(line) > 3 and line[3] not in b" -"):
            raise ValueError(f"not an SMTP reply line: {line[:80]!r}")
        code = int(line[:3])
        if self._lines and code != self._code:
            raise ValueError(f"reply code changed from {self._code} to {code} inside one reply")
        self._code = code
        if len(self._lines) < self.maxLines:
            self._lines.append(line[4:])
        if len(line) > 3 and line[3] == 0x2D:
            return None
        lines, self._lines = self._lines, []
        return code, lines


class DataEncoder:
    """The client's side of DATA: CRLF line ends, dot-stuffing and the final ``.``.

    ``encode(chunk)`` may be given the message in pieces cut anywhere; bare LFs become
    CRLF, a line starting with '.' gets a second one. ``finish()`` returns what ends
    the body (a CRLF if the last line had none, then ``.`` CRLF). Never returns
    ``b""`` for a non-empty chunk.
    """

    __slots__ = ("_atLineStart", "_lastCR")

    def __init__(self) -> None:
        self._atLineStart = True
        self._lastCR = False

    def encode(self, chunk: bytes) -> bytes:
        head = b""
        if self._lastCR and chunk[:1] == b"\n":
            head, chunk = b"\n", chunk[1:]
            self._atLineStart = True
        data = chunk.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if data:
            if self._atLineStart and data[:1] == b".":
                data = b"." + data
            data = data.replace(b"\r\n.", b"\r\n..")
            self._atLineStart = data.endswith(b"\r\n")
            self._lastCR = data.endswith(b"\r")
        else:
            self._lastCR = False
        return head + data

    def finish(self) -> bytes:
        return b".\r\n" if self._atLineStart else b"\r\n.\r\n"
