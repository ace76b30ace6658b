"""The sans-IO parts of POP3, shared by the server (pop3.py) and client (pop3client.py):
bounded line splitting and the dot-stuffing of multi-line responses (RFC 1939 §3).

Tests: tests/mail/test_pop3.py (with hypothesis).
"""

from __future__ import annotations

__all__ = ["DotStuffer", "DotUnstuffer", "LineBuffer"]


class LineBuffer:
    """Bytes in, lines out (CRLF or LF ends, stripped), never holding more than
    ``maxLength`` bytes of an unfinished line.

    A line over the limit is not returned: ``feed`` returns ``None`` in its place, once,
    and the rest of that line is skipped up to its end, so the next line is parsed
    from its start (rather than from the middle of the overlong one).
    """

    __slots__ = ("_buffer", "_skipping", "maxLength")

    def __init__(self, maxLength: int) -> None:
        self.maxLength = maxLength
        self._buffer = b""
        self._skipping = False

    def feed(self, data: bytes) -> list[bytes | None]:
        """The lines completed by ``data``; ``None`` stands for each overlong line."""
        out: list[bytes | None] = []
        buffer = self._buffer + data if self._buffer else data
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            if self._skipping:
                self._skipping = False
            else:
                line = buffer[start:end]
                if line.endswith(b"\r"):
                    line = line[:-1]
                out.append(line if len(line) <= self.maxLength else None)
            start = end + 1
        rest = buffer[start:]
        if self._skipping:
            rest = b""
        elif len(rest) > self.maxLength + 1:
            out.append(None)
            self._skipping = True
            rest = b""
        self._buffer = rest
        return out

    def clear(self) -> bytes:
        """Forget (and return) the unfinished line: after STLS, what came in clear."""
        rest, self._buffer = self._buffer, b""
        self._skipping = False
        return rest


class DotStuffer:
    """A message file (LF or CRLF line ends) to the body of a multi-line response:
    CRLF line ends, a line starting with ``.`` doubled, and ``finish()`` giving the
    ending (a line end if the message had none, then ``.`` CRLF). Chunks may be cut
    anywhere."""

    __slots__ = ("_atLineStart", "_pendingCR")

    def __init__(self) -> None:
        self._atLineStart = True
        self._pendingCR = False

    def feed(self, data: bytes) -> bytes:
        if self._pendingCR:
            data = b"\r" + data
            self._pendingCR = False
        if data.endswith(b"\r"):
            self._pendingCR = True
            data = data[:-1]
        if not data:
            return b""
        data = data.replace(b"\r\n", b"\n").replace(b"\n.", b"\n..").replace(b"\n", b"\r\n")
        if self._atLineStart and data.startswith(b"."):
            data = b"." + data
        self._atLineStart = data.endswith(b"\n")
        return data

    def finish(self) -> bytes:
        tail = b""
        if self._pendingCR:
            self._pendingCR = False
            tail = b"\r"
            self._atLineStart = False
        if not self._atLineStart:
            tail += b"\r\n"
        self._atLineStart = True
        return tail + b".\r\n"


class DotUnstuffer:
    """The other way: the lines of a multi-line response (without their ends) back to
    the message's lines; ``line()`` returns None for the terminating ``.``."""

    __slots__ = ()

    @staticmethod
    def line(line: bytes) -> bytes | None:
        if line.startswith(b"."):
            if line == b".":
                return None
            return line[1:]
        return line
