"""The sans-IO cores of torsion.protocols.basic: bytes in, framed messages out.

Each class here takes the bytes of a stream in chunks cut anywhere and hands back
whole messages: LineSplitter lines, NetstringParser netstrings, IntNParser
length-prefixed strings. They know nothing of transports or protocols, so they are
tested (and usable) without sockets; the receivers in basic.py wire them to a
transport. Every one of them bounds what it buffers by the limit it is given.
Import them from torsion.protocols.basic.
Tests: tests/protocols/test_basic.py, test_basic_properties.py and
test_basic_strings.py.
"""

from __future__ import annotations

import struct

__all__ = [
    "IntNParser",
    "LengthLimitExceeded",
    "LineSplitter",
    "LineTooLong",
    "NetstringParseError",
    "NetstringParser",
]


# -- the sans-IO line core ---------------------------------------------------------------


def _checkedBytes(data: object, what: str) -> bytes:
    """Return ``data`` as bytes, or say clearly why it cannot be a stream chunk."""
    if isinstance(data, str):
        raise TypeError(
            f"{what} takes bytes, not str ({data[:20]!r}); encode the text first, "
            f"for example with data.encode('utf-8')"
        )
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    if not isinstance(data, bytes):
        raise TypeError(f"{what} takes bytes, not {type(data).__name__}")
    return data


def _checkDelimiter(delimiter: bytes) -> None:
    """Explain why an empty delimiter cannot work (callers test it first, cheaply)."""
    if not delimiter:
        raise ValueError(
            "the line delimiter is empty, so no line could ever end; set delimiter to the "
            "bytes that end a line, such as b'\\r\\n' or b'\\n'"
        )


class LineTooLong(Exception):
    """The next line in a LineSplitter is longer than the limit it was given.

    Attributes:
        data: everything that was buffered from the start of the overlong line on (the
            splitter has forgotten it), so a protocol can report or inspect it.
        maxLength: the limit that was exceeded.
    """

    def __init__(self, data: bytes, maxLength: int) -> None:
        super().__init__(
            f"a line is longer than the limit of {maxLength} bytes; raise the limit "
            f"(MAX_LENGTH) if the peer may legitimately send such lines"
        )
        self.data = data
        self.maxLength = maxLength


class LineSplitter:
    """Bytes in, lines out: the framing core that the line receivers share.

    ``feed`` appends a chunk; ``nextLine`` takes one complete line off the front (or
    returns None when no complete line is buffered). Delimiter and limit are passed on
    each call rather than fixed at construction, because a protocol may change them
    between two lines (``self.delimiter = b"\\n"`` in the middle of a conversation).

    Speed comes from splitting a whole chunk at once (one C-level ``split`` instead of
    one search per line) and handing the lines out one by one; if the delimiter changes
    or someone takes the raw rest meanwhile, the undelivered lines are joined back into
    the bytes they came from, so nothing is lost or reordered. An incomplete line is
    never searched twice: a chunk arriving byte by byte costs a search of the new bytes
    only.
    """

    __slots__ = ("_delimiter", "_index", "_lines", "_scanned", "_tail")

    def __init__(self) -> None:
        # Complete lines already split (with _delimiter), of which _index were taken.
        self._lines: list[bytes] = []
        self._index = 0
        self._delimiter = b""
        # The bytes after the last split, and how many of them are known to hold no
        # complete _delimiter.
        self._tail = b""
        self._scanned = 0

    def __len__(self) -> int:
        """Return how many bytes are buffered and not yet taken."""
        pending = len(self._lines) - self._index
        size = len(self._tail) + pending * len(self._delimiter)
        return size + sum(map(len, self._lines[self._index :])) if pending else size

    def feed(self, data: bytes) -> None:
        """Append ``data`` (bytes, bytearray or memoryview) to the buffer.

        Raises:
            TypeError: ``data`` is text or not bytes-like.
        """
        if type(data) is not bytes:
            data = _checkedBytes(data, "LineSplitter.feed")
        if self._tail:
            self._tail += data
        else:
            self._tail = data

    def nextLine(self, delimiter: bytes, maxLength: int) -> bytes | None:
        """Take the next complete line (without its delimiter) off the buffer.

        Returns:
            The line, or None if the buffer holds no complete line yet.

        Raises:
            LineTooLong: the next line has more than ``maxLength`` bytes, whether it is
                complete or not (an incomplete one once ``maxLength + len(delimiter)``
                bytes of it are buffered). The buffer is emptied; the exception
                carries what it held.
            ValueError: ``delimiter`` is empty.
        """
        index = self._index
        if index < len(self._lines) and delimiter == self._delimiter:
            line = self._lines[index]
            if len(line) > maxLength:
                raise LineTooLong(self.takeAll(), maxLength)
            self._index = index + 1
            return line
        return self._splitTail(delimiter, maxLength)

    def _splitTail(self, delimiter: bytes, maxLength: int) -> bytes | None:
        """Split what follows the lines handed out so far, then take the first line."""
        if not delimiter:
            _checkDelimiter(delimiter)
        if self._index < len(self._lines):
            # The delimiter changed with lines still pending: split them afresh.
            self._tail = self.takeAll()
        elif delimiter != self._delimiter:
            self._scanned = 0
        self._delimiter = delimiter
        tail = self._tail
        scanned = self._scanned
        # Only a long incomplete line is worth not searching again; a short one is
        # split at once, which also tells whether it is complete.
        if scanned > 256 and tail.find(delimiter, scanned - len(delimiter) + 1) < 0:
            lines = [tail]
        else:
            lines = tail.split(delimiter)
        if len(lines) == 1:
            self._scanned = len(tail)
            if len(tail) >= maxLength + len(delimiter):
                raise LineTooLong(self.takeAll(), maxLength)
            return None
        self._tail = lines.pop()
        self._scanned = len(self._tail)
        self._lines = lines
        self._index = 0
        return self.nextLine(delimiter, maxLength)

    def splitAll(
        self, data: bytes, delimiter: bytes, maxLength: int
    ) -> tuple[list[bytes], bytes | None]:
        """Feed ``data`` and take every complete line at once (the fast path).

        Returns:
            ``(lines, overlong)``: the complete lines up to the first one longer than
            ``maxLength``, and None, or, if there is such a line, everything from its
            start on (the buffer is then emptied) in place of None.

        Raises:
            ValueError: ``delimiter`` is empty.
        """
        if type(data) is not bytes:
            data = _checkedBytes(data, "LineSplitter.splitAll")
        if not delimiter:
            _checkDelimiter(delimiter)
        if self._index < len(self._lines):
            data = self.takeAll() + data
            scanned = 0
        elif self._tail:
            data = self._tail + data
            scanned = self._scanned if delimiter == self._delimiter else 0
        else:
            scanned = 0
        # Only a long incomplete line is worth not searching again.
        if scanned > 256 and data.find(delimiter, scanned - len(delimiter) + 1) < 0:
            lines: list[bytes] = []
            tail = data
        else:
            lines = data.split(delimiter)
            tail = lines.pop()
        # No line can be too long in data shorter than the limit: skip the check then.
        if len(data) > maxLength and lines and max(map(len, lines)) > maxLength:
            for index, line in enumerate(lines):
                if len(line) > maxLength:
                    self._tail = b""
                    lines.append(tail)
                    return lines[:index], delimiter.join(lines[index:])
        if len(tail) >= maxLength + len(delimiter):
            self._tail = b""
            return lines, tail
        self._tail = tail
        self._delimiter = delimiter
        self._scanned = len(tail)
        return lines, None

    def takeAll(self) -> bytes:
        """Empty the buffer and return what it held (for raw mode or a reset)."""
        rest = self._tail
        if self._index < len(self._lines):
            pending = self._lines[self._index :]
            pending.append(rest)
            rest = self._delimiter.join(pending)
        self._lines = []
        self._index = 0
        self._tail = b""
        self._scanned = 0
        return rest


# -- the sans-IO string cores ------------------------------------------------------------


class NetstringParseError(ValueError):
    """The peer sent something that is not a netstring (``12:hello world!,``)."""


class LengthLimitExceeded(Exception):
    """A length-prefixed string announced more bytes than the limit allows.

    Attributes:
        length: the length the peer announced.
        maxLength: the limit.
    """

    def __init__(self, length: int, maxLength: int) -> None:
        super().__init__(
            f"the peer announced a string of {length} bytes, more than the limit of "
            f"{maxLength}; raise MAX_LENGTH if such strings are legitimate"
        )
        self.length = length
        self.maxLength = maxLength


class _ChunkBuffer:
    """Received bytes not parsed yet, kept as a list of chunks until they are needed.

    A long string arriving in many pieces is then joined once, when it is complete,
    instead of being copied again with every piece.
    """

    __slots__ = ("_buffer", "_chunks", "_size", "_start")

    def __init__(self) -> None:
        self._buffer = b""
        self._start = 0
        self._chunks: list[bytes] = []
        self._size = 0

    def __len__(self) -> int:
        """Return how many bytes are buffered and not yet taken."""
        return len(self._buffer) - self._start + self._size

    def feed(self, data: bytes) -> None:
        """Append ``data`` (bytes, bytearray or memoryview).

        Raises:
            TypeError: ``data`` is text or not bytes-like.
        """
        if type(data) is not bytes:
            data = _checkedBytes(data, f"{type(self).__name__}.feed")
        if data:
            self._chunks.append(data)
            self._size += len(data)

    def _join(self) -> None:
        if self._chunks:
            self._chunks.insert(0, self._buffer[self._start :])
            self._buffer = b"".join(self._chunks)
            self._start = 0
            self._chunks = []
            self._size = 0

    def _take(self, count: int) -> bytes:
        """Take ``count`` bytes, which the caller knows are there."""
        if len(self._buffer) - self._start < count:
            self._join()
        start = self._start
        self._start = start + count
        return self._buffer[start : start + count]

    def _discard(self, count: int) -> int:
        """Drop up to ``count`` bytes; return how many were dropped."""
        available = len(self)
        if available <= count:
            self.takeAll()
            return available
        self._join()
        self._start += count
        return count

    def nextString(self, maxLength: int) -> bytes | None:
        raise NotImplementedError

    def nextStrings(self, maxLength: int) -> tuple[list[bytes], Exception | None]:
        """Take every complete string buffered, in order (the batch form of nextString).

        Returns:
            ``(strings, error)``: the strings, and None, or, if the next string after
            them is bad, the exception nextString would raise for it, in place of None.
        """
        strings: list[bytes] = []
        try:
            while (string := self.nextString(maxLength)) is not None:
                strings.append(string)
        except (NetstringParseError, LengthLimitExceeded) as e:
            return strings, e
        return strings, None

    def takeAll(self) -> bytes:
        """Empty the buffer and return what it held."""
        self._join()
        rest = self._buffer[self._start :]
        self._buffer = b""
        self._start = 0
        return rest


class NetstringParser(_ChunkBuffer):
    """Bytes in, netstrings out: ``b"5:hello,"`` gives ``b"hello"``.

    The length must be decimal digits without leading zeros, at most ``maxLength``;
    a bad length or a missing comma raises NetstringParseError, after which the
    stream cannot be trusted (the protocol drops the connection).
    """

    __slots__ = ("_length",)

    def __init__(self) -> None:
        super().__init__()
        self._length = -1

    def nextString(self, maxLength: int) -> bytes | None:
        """Take the next complete netstring's payload, or return None if there is none.

        Raises:
            NetstringParseError: the bytes are not a netstring, or it is too long.
        """
        length = self._length
        if length < 0:
            length = self._readLength(maxLength)
            if length < 0:
                return None
        buffer, start = self._buffer, self._start
        end = start + length
        if end >= len(buffer):
            if len(self) <= length:
                return None
            self._join()
            buffer, start = self._buffer, self._start
            end = start + length
        if buffer[end] != 0x2C:  # a comma
            raise NetstringParseError(
                f"a netstring of {length} bytes is not followed by a comma; the peer is "
                f"not sending netstrings, or the stream is out of step"
            )
        self._start = end + 1
        self._length = -1
        return buffer[start:end]

    def _readLength(self, maxLength: int) -> int:
        """Read the length and its colon; return it, or -1 if it is not all here."""
        self._join()
        buffer, start = self._buffer, self._start
        maxDigits = len(str(maxLength))
        colon = buffer.find(b":", start, start + maxDigits + 1)
        digits = buffer[start:colon] if colon >= 0 else buffer[start : start + maxDigits + 1]
        if (digits and not digits.isdigit()) or (digits[:1] == b"0" and len(digits) > 1):
            raise NetstringParseError(
                f"{digits!r} is not a netstring length (decimal digits without leading "
                f"zeros, then ':'); the peer is not sending netstrings"
            )
        if colon < 0:
            if len(digits) > maxDigits:
                raise NetstringParseError(
                    f"a netstring announces more than {maxLength} bytes, the limit; raise "
                    f"MAX_LENGTH if such strings are legitimate"
                )
            return -1
        if not digits:
            raise NetstringParseError("a netstring has no length before its ':'")
        length = int(digits)
        if length > maxLength:
            raise NetstringParseError(
                f"a netstring announces {length} bytes, more than the limit of {maxLength}; "
                f"raise MAX_LENGTH if such strings are legitimate"
            )
        self._start = colon + 1
        self._length = length
        return length


class IntNParser(_ChunkBuffer):
    """Bytes in, length-prefixed strings out (a big-endian N-byte length, then data).

    ``structFormat`` is the struct format of the length prefix, such as "!I". A
    string announced longer than ``maxLength`` raises LengthLimitExceeded once; its
    bytes are then skipped as they arrive, never buffered, and parsing goes on after
    them, so a protocol that chooses to stay connected stays in step.
    """

    __slots__ = ("_length", "_prefix", "_skip")

    def __init__(self, structFormat: str) -> None:
        super().__init__()
        self._prefix = struct.Struct(structFormat)
        self._length = -1
        self._skip = 0

    def nextString(self, maxLength: int) -> bytes | None:
        """Take the next complete string, or return None if there is none yet.

        Raises:
            LengthLimitExceeded: the next string is announced longer than ``maxLength``.
        """
        if self._skip:
            self._skip -= self._discard(self._skip)
            if self._skip:
                return None
        buffer, start = self._buffer, self._start
        length = self._length
        if length < 0:
            size = self._prefix.size
            if start + size > len(buffer):
                if len(self) < size:
                    return None
                self._join()
                buffer, start = self._buffer, self._start
            (length,) = self._prefix.unpack_from(buffer, start)
            start = self._start = start + size
            if length > maxLength:
                self._skip = length
                raise LengthLimitExceeded(length, maxLength)
        end = start + length
        if end > len(buffer):
            if len(self) < length:
                self._length = length
                return None
            self._join()
            buffer, start = self._buffer, self._start
            end = start + length
        self._start = end
        self._length = -1
        return buffer[start:end]

    def nextStrings(self, maxLength: int) -> tuple[list[bytes], Exception | None]:
        """Take every complete string buffered, in order, in one pass (the fast path).

        Returns:
            ``(strings, error)``: the strings, and None, or LengthLimitExceeded for the
            string announced after them, in place of None (its bytes are then skipped
            as nextString skips them).
        """
        strings: list[bytes] = []
        if self._skip:
            self._skip -= self._discard(self._skip)
            if self._skip:
                return strings, None
        self._join()
        buffer = self._buffer
        offset = self._start
        total = len(buffer)
        length = self._length
        if length >= 0:
            # The prefix of this string was read by an earlier call.
            if offset + length > total:
                return strings, None
            strings.append(buffer[offset : offset + length])
            offset += length
            self._length = -1
        size = self._prefix.size
        unpack = self._prefix.unpack_from
        append = strings.append
        while (start := offset + size) <= total:
            (length,) = unpack(buffer, offset)
            if length > maxLength:
                self._start = start
                self._skip = length
                return strings, LengthLimitExceeded(length, maxLength)
            end = start + length
            if end > total:
                self._start = start
                self._length = length
                return strings, None
            append(buffer[start:end])
            offset = end
        self._start = offset
        return strings, None
