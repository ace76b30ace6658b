"""The sans-IO core of the IMAP4 server: bytes in, commands out, with hard limits.

``CommandReader`` cuts the client's byte stream into whole commands, literals
included (RFC 3501's ``{n}``, which needs a ``+`` continuation from the server, and
RFC 7888's non-synchronising ``{n+}``), and says what to send back when a command is
refused before it is complete: a line over ``maxLineLength``, a literal over the limit
for its command, or a command over ``maxCommandSize``. A refused command is dropped
(a ``{n+}`` literal that the client sends anyway is skipped, never stored), so the
connection stays usable. ``tokenize`` turns a command's arguments into atoms, strings
and parenthesised lists; ``parseSequenceSet`` reads message sets.

Nothing here touches a socket; tests/mail/test_imapparser.py feeds it bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = [
    "Command",
    "CommandReader",
    "Continue",
    "IllegalClientResponse",
    "Line",
    "MessageSet",
    "Refused",
    "Str",
    "Token",
    "parseIdList",
    "parseSequenceSet",
    "tokenize",
]


class IllegalClientResponse(Exception):
    """The client sent something that is not IMAP4rev1 syntax (answered with BAD)."""


@dataclass(frozen=True, slots=True)
class Command:
    """One whole command: its tag, its upper-cased name and its raw arguments.

    ``args`` is everything after the name and its space, literals kept inline in their
    ``{n}\\r\\n`` form so that ``tokenize`` can read them.
    """

    tag: bytes
    name: bytes
    args: bytes


@dataclass(frozen=True, slots=True)
class Continue:
    """A synchronising literal was accepted: send ``+ ...`` so the client sends it."""


@dataclass(frozen=True, slots=True)
class Refused:
    """A command was refused before it was complete: send ``tag + b" " + response``.

    ``tag`` is empty when the refused input was a continuation line (see
    ``CommandReader.expectLine``); the command waiting for it fails.
    """

    tag: bytes
    response: bytes


@dataclass(frozen=True, slots=True)
class Line:
    """A continuation line asked for with ``expectLine`` (AUTHENTICATE data, DONE)."""

    data: bytes


Event = Command | Continue | Refused | Line

_LITERAL_AT_END = re.compile(rb"\{([0-9]{1,20})(\+?)\}\Z")
_TAG = re.compile(rb"[!#$&'+,\-./0-9:;<=>?@A-Z\[\]^_`a-z|}~]{1,64}\Z")


def _defaultLiteralLimit(name: bytes) -> int:
    return 8 * 1024 * 1024 if name == b"APPEND" else 64 * 1024


class CommandReader:
    """Cuts a client's stream into commands; every buffer it keeps is bounded.

    Feed it what the transport delivers; it returns the events to act on, in order.
    ``literalLimit(commandName)`` gives the largest literal each command may carry
    (by default 8 MiB for APPEND and 64 KiB for the others). The memory it keeps is at
    most ``maxCommandSize`` plus one line.
    """

    __slots__ = (
        "_buffer",
        "_discarding",
        "_lineMode",
        "_literalRemaining",
        "_parts",
        "_size",
        "_skipLine",
        "_tag",
        "literalLimit",
        "maxCommandSize",
        "maxLineLength",
    )

    def __init__(
        self,
        maxLineLength: int = 16 * 1024,
        maxCommandSize: int = 9 * 1024 * 1024,
        literalLimit: Callable[[bytes], int] = _defaultLiteralLimit,
    ) -> None:
        self.maxLineLength = maxLineLength
        self.maxCommandSize = maxCommandSize
        self.literalLimit = literalLimit
        self._buffer = bytearray()
        self._parts: list[bytes] = []
        self._size = 0
        self._literalRemaining = 0
        self._discarding = False
        self._skipLine = False
        self._lineMode = False
        self._tag = b""

    def expectLine(self) -> None:
        """Deliver the next line as a ``Line`` instead of reading it as a command."""
        self._lineMode = True

    def cancelLine(self) -> None:
        """Read lines as commands again (the continuation is no longer wanted)."""
        self._lineMode = False

    def receive(self, data: bytes) -> None:
        """Take the next bytes of the stream (read them with ``nextEvent``)."""
        self._buffer += data

    def buffered(self) -> int:
        """How many received bytes are not parsed yet."""
        return len(self._buffer)

    def discardBuffer(self) -> None:
        """Drop what is received and not parsed yet (after STARTTLS: anything sent in
        clear behind the command must not be taken as sent over TLS)."""
        self._buffer.clear()

    def feed(self, data: bytes) -> list[Event]:
        """Take the next bytes of the stream; return every event they complete."""
        self.receive(data)
        events: list[Event] = []
        while (event := self.nextEvent()) is not None:
            events.append(event)
        return events

    def nextEvent(self) -> Event | None:
        """The next event of what was received, or None until more arrives.

        The server asks for one event at a time, so that ``expectLine`` applies to
        the line after the command that wants it, even if both came in one packet.
        """
        events: list[Event] = []
        buffer = self._buffer
        while buffer and not events:
            if self._literalRemaining:
                take = min(len(buffer), self._literalRemaining)
                if not self._discarding:
                    self._parts.append(bytes(buffer[:take]))
                del buffer[:take]
                self._literalRemaining -= take
                continue
            end = buffer.find(b"\n")
            if end < 0:
                if self._skipLine:
                    buffer.clear()
                elif len(buffer) > self.maxLineLength + 1:
                    events.append(self._lineTooLong(bytes(buffer[:200])))
                    self._skipLine = True
                    buffer.clear()
                break
            line = bytes(buffer[:end])
            del buffer[: end + 1]
            if line.endswith(b"\r"):
                line = line[:-1]
            if self._skipLine:
                self._skipLine = False
                continue
            if len(line) > self.maxLineLength:
                events.append(self._lineTooLong(line[:200]))
                continue
            self._lineReceived(line, events)
        return events[0] if events else None

    def _lineTooLong(self, start: bytes) -> Refused:
        lineMode = self._lineMode
        tag = b"" if lineMode else self._tag if self._parts else _tagOf(start)
        self._reset()
        return Refused(
            tag,
            b"BAD line too long (the limit is %d bytes); command ignored" % self.maxLineLength,
        )

    def _reset(self) -> None:
        self._parts = []
        self._size = 0
        self._lineMode = False
        self._discarding = False

    def _lineReceived(self, line: bytes, events: list[Event]) -> None:
        if self._lineMode and not self._parts:
            self._lineMode = False
            events.append(Line(line))
            return
        literal = _LITERAL_AT_END.search(line)
        if self._discarding:
            if literal is not None and literal.group(2):
                self._literalRemaining = int(literal.group(1))
            else:
                self._reset()
            return
        if not self._parts:
            self._tag = _tagOf(line)
        if literal is None:
            self._parts.append(line)
            whole = b"".join(self._parts)
            self._reset()
            events.append(_command(whole))
            return
        size = int(literal.group(1))
        nonSync = bool(literal.group(2))
        name = _nameOf(self._parts[0] if self._parts else line)
        limit = self.literalLimit(name)
        self._size += len(line) + 2
        if size > limit or self._size + size > self.maxCommandSize:
            if size > limit:
                why = b"NO [TOOBIG] a literal of %d bytes is over the limit of %d bytes" % (
                    size,
                    limit,
                )
            else:
                why = b"NO [TOOBIG] the command is over the limit of %d bytes" % (
                    self.maxCommandSize
                )
            events.append(Refused(self._tag, why + b" for " + (name or b"this command")))
            self._reset()
            if nonSync:
                self._discarding = True
                self._literalRemaining = size
            return
        self._size += size
        self._parts.append(line + b"\r\n")
        self._literalRemaining = size
        if not nonSync:
            events.append(Continue())


def _tagOf(line: bytes) -> bytes:
    tag = line.split(b" ", 1)[0]
    return tag if _TAG.match(tag) and b"+" not in tag else b"*"


def _nameOf(line: bytes) -> bytes:
    words = line.split(b" ", 3)
    if len(words) < 2:
        return b""
    name = words[1].upper()
    if name == b"UID" and len(words) > 2:
        return b"UID " + words[2].upper()
    return name


def _command(line: bytes) -> Command | Refused:
    parts = line.split(b" ", 2)
    tag = parts[0]
    if not _TAG.match(tag) or b"+" in tag:
        return Refused(b"*", b"BAD the command has no valid tag; expected: TAG COMMAND ...")
    if len(parts) < 2 or not parts[1]:
        return Refused(tag, b"BAD missing command name")
    name = parts[1].upper()
    if not name.isalnum():
        return Refused(tag, b"BAD the command name is not an atom")
    return Command(tag, name, parts[2] if len(parts) > 2 else b"")


class Str(bytes):
    """A quoted string or a literal (not an atom): ``NIL`` in quotes is not NIL."""

    __slots__ = ()


Token = bytes | list["Token"]

_ATOM_END = frozenset(b' ()"{\r\n')
_MAX_DEPTH = 32


def tokenize(data: bytes, maxDepth: int = _MAX_DEPTH) -> list[Token]:
    """Read IMAP arguments into atoms (bytes), strings (``Str``) and lists.

    An atom followed by ``[`` runs to the matching ``]`` (spaces and parentheses
    included) and then through a ``<...>`` partial, so ``BODY[HEADER.FIELDS (A B)]<0.9>``
    is one atom, as FETCH wants it.

    Raises:
        IllegalClientResponse: for bad quoting, a short literal, unbalanced
            parentheses or nesting deeper than ``maxDepth``.
    """
    result: list[Token] = []
    stack: list[list[Token]] = []
    current = result
    pos = 0
    length = len(data)
    while pos < length:
        char = data[pos]
        if char == 0x20:
            pos += 1
        elif char == 0x28:  # (
            if len(stack) >= maxDepth:
                raise IllegalClientResponse("lists nested too deeply")
            new: list[Token] = []
            current.append(new)
            stack.append(current)
            current = new
            pos += 1
        elif char == 0x29:  # )
            if not stack:
                raise IllegalClientResponse("unbalanced parenthesis")
            current = stack.pop()
            pos += 1
        elif char == 0x22:  # "
            value, pos = _quoted(data, pos)
            current.append(Str(value))
        elif char == 0x7B:  # {
            close = data.find(b"}", pos)
            match = re.match(rb"\{([0-9]{1,20})\+?\}\r\n", data[pos : close + 3])
            if close < 0 or match is None:
                raise IllegalClientResponse("bad literal syntax")
            size = int(match.group(1))
            start = close + 3
            if start + size > length:
                raise IllegalClientResponse("literal shorter than announced")
            current.append(Str(data[start : start + size]))
            pos = start + size
        else:
            start = pos
            while pos < length and data[pos] not in _ATOM_END:
                if data[pos] == 0x5B:  # [
                    close = data.find(b"]", pos)
                    if close < 0:
                        raise IllegalClientResponse("unbalanced [ in atom")
                    pos = close
                elif data[pos] == 0x3C and data[pos - 1] == 0x5D:  # <partial> after ]
                    close = data.find(b">", pos)
                    if close < 0:
                        raise IllegalClientResponse("unbalanced < in atom")
                    pos = close
                pos += 1
            if start == pos:
                raise IllegalClientResponse(f"unexpected character {chr(char)!r}")
            current.append(data[start:pos])
    if stack:
        raise IllegalClientResponse("unbalanced parenthesis")
    return result


def _quoted(data: bytes, pos: int) -> tuple[bytes, int]:
    out = bytearray()
    pos += 1
    while pos < len(data):
        char = data[pos]
        if char == 0x5C:  # backslash
            if pos + 1 >= len(data) or data[pos + 1] not in b'"\\':
                raise IllegalClientResponse("bad escape in quoted string")
            out.append(data[pos + 1])
            pos += 2
        elif char == 0x22:
            return bytes(out), pos + 1
        elif char in b"\r\n":
            break
        else:
            out.append(char)
            pos += 1
    raise IllegalClientResponse("unterminated quoted string")


class MessageSet:
    """A set of message numbers or UIDs, ranges allowed, ``*`` meaning the last one.

    ``MessageSet(1, 5)`` is 1:5; ``MessageSet(3, None)`` is 3:*. Iterating needs
    ``last`` (the highest number in the mailbox) when the set uses ``*``; before that
    only membership of definite numbers and ``str()`` work.
    """

    __slots__ = ("_last", "ranges")

    def __init__(self, start: int | None = 0, end: int | None = 0) -> None:
        self.ranges: list[tuple[int | None, int | None]] = []
        self._last: int | None = None
        if start != 0:
            self.add(start, start if end == 0 else end)

    @property
    def last(self) -> int | None:
        return self._last

    @last.setter
    def last(self, value: int) -> None:
        self._last = value

    def add(self, start: int | None, end: int | None = 0) -> None:
        """Add ``start`` (or ``start:end``); None stands for ``*``."""
        if end == 0:
            end = start
        for value in (start, end):
            if value is not None and value < 1:
                raise IllegalClientResponse("message numbers start at 1")
        self.ranges.append((start, end))

    def extend(self, other: MessageSet) -> None:
        self.ranges.extend(other.ranges)

    def _resolved(self) -> list[tuple[int, int]]:
        out = []
        for start, end in self.ranges:
            if (start is None or end is None) and self._last is None:
                raise TypeError("MessageSet with '*' needs .last set before iterating")
            lo = self._last if start is None else start
            hi = self._last if end is None else end
            assert lo is not None and hi is not None
            if lo > hi:
                lo, hi = hi, lo
            out.append((lo, hi))
        return out

    def __iter__(self) -> Iterator[int]:
        seen: set[int] = set()
        for lo, hi in sorted(self._resolved()):
            for number in range(lo, hi + 1):
                if number not in seen:
                    seen.add(number)
                    yield number

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, number: object) -> bool:
        if not isinstance(number, int):
            return False
        return any(lo <= number <= hi for lo, hi in self._resolved())

    def __str__(self) -> str:
        def one(value: int | None) -> str:
            return "*" if value is None else str(value)

        return ",".join(
            one(start) if start == end else f"{one(start)}:{one(end)}" for start, end in self.ranges
        )

    def __repr__(self) -> str:
        return f"<MessageSet {self}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MessageSet):
            return NotImplemented
        if self._last is None or other._last is None:
            return self.ranges == other.ranges
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


_SEQ = re.compile(rb"(\*|[1-9][0-9]{0,9})(?::(\*|[1-9][0-9]{0,9}))?\Z")


def parseSequenceSet(data: bytes | str, lastMessageId: int | None = None) -> MessageSet:
    """Read ``1:4,7,9:*`` into a MessageSet.

    Raises:
        IllegalClientResponse: if it is not a sequence set.
    """
    raw = data.encode("ascii", "replace") if isinstance(data, str) else data
    result = MessageSet()
    if not raw:
        raise IllegalClientResponse("empty sequence set")
    for piece in raw.split(b","):
        match = _SEQ.match(piece)
        if match is None:
            raise IllegalClientResponse(f"bad sequence set {raw[:50]!r}")
        start = None if match.group(1) == b"*" else int(match.group(1))
        endText = match.group(2)
        end = start if endText is None else None if endText == b"*" else int(endText)
        result.add(start, end)
    if lastMessageId is not None:
        result.last = lastMessageId
    return result


def parseIdList(data: bytes | str, lastMessageId: int | None = None) -> MessageSet:
    """Twisted's name for ``parseSequenceSet``."""
    return parseSequenceSet(data, lastMessageId)
