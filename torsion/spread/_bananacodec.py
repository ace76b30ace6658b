"""The sans-IO core of Banana: s-expressions to bytes and back, with hard limits.

Banana (the byte encoding under Perspective Broker) sends s-expressions: lists whose
elements are integers of any size, floats, byte strings and lists. Each element is a
base-128 number (least significant 7-bit group first, every byte below 0x80) followed
by a type byte (0x80 and above); the type byte says what the number means:

====  ========  ==========================================================
byte  name      the element
====  ========  ==========================================================
0x80  LIST      a list of the next N elements (each a whole element)
0x81  INT       the integer N (sent for 0 <= N < 2**31)
0x82  STRING    the next N bytes
0x83  NEG       the integer -N (sent for -2**31 <= -N < 0)
0x84  FLOAT     the next 8 bytes, an IEEE 754 double, big-endian; no number
0x85  LONGINT   the integer N (sent for N >= 2**31)
0x86  LONGNEG   the integer -N (sent for -N < -2**31)
0x87  VOCAB     the byte string numbered N in the connection's vocabulary
====  ========  ==========================================================

``BananaEncoder`` turns an expression into bytes in one pass (one ``join`` of the
parts); ``BananaDecoder`` is fed the bytes of a stream in chunks cut anywhere and
returns each complete top-level expression. Neither knows anything of sockets: the
Banana protocol of torsion.spread.banana wires them to a transport.

The decoder keeps an offset into the bytes it was given rather than slicing them
item by item, keeps the lists it is building between chunks (so the bytes of an
element are read once), and waits for the rest of a long string without joining
chunks until the string is whole: decoding is linear in the input.

Limits (each a keyword argument, each an error on the wire side that breaks it):
``prefixLimit`` bytes of number before a type byte (64: numbers below 2**448),
``sizeLimit`` bytes in one string and elements in one list (640 KiB, as Twisted),
``depthLimit`` nested lists (500), and ``expressionLimit`` bytes in one top-level
expression, counted while it is incomplete so that a peer cannot make the decoder
hold more than that for one message (10 MiB).

Tests: tests/spread/test_banana.py, test_banana_fuzz.py and test_banana_twisted.py.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "DEPTH_LIMIT",
    "EXPRESSION_LIMIT",
    "FLOAT",
    "INT",
    "LIST",
    "LONGINT",
    "LONGNEG",
    "NEG",
    "PREFIX_LIMIT",
    "SIZE_LIMIT",
    "STRING",
    "VOCAB",
    "BananaDecoder",
    "BananaEncoder",
    "BananaError",
    "b1282int",
    "encode",
    "int2b128",
]

# The most bytes in one string, and the most elements in one list (Twisted's figure).
SIZE_LIMIT = 640 * 1024
# The most bytes of base-128 number before a type byte.
PREFIX_LIMIT = 64
# The most lists nested inside one another in one expression.
DEPTH_LIMIT = 500
# The most bytes of one top-level expression.
EXPRESSION_LIMIT = 16 * SIZE_LIMIT

LIST = b"\x80"
INT = b"\x81"
STRING = b"\x82"
NEG = b"\x83"
FLOAT = b"\x84"
LONGINT = b"\x85"
LONGNEG = b"\x86"
VOCAB = b"\x87"

# The largest magnitude sent as INT/NEG rather than LONGINT/LONGNEG, as Twisted draws it.
_INT_LIMIT = 2**31

_packFloat = struct.Struct("!d").pack
_unpackFloat = struct.Struct("!d").unpack_from


class BananaError(Exception):
    """Bytes that are not Banana, or that break a limit; or a value Banana cannot send.

    Raised by a decoder, it carries in ``expressions`` the whole expressions that the
    bytes before the bad ones completed in that call, so that what is delivered does
    not depend on where the stream was cut.
    """

    expressions: list[Any] = []


def _b128(integer: int) -> bytes:
    """Return the base-128 digits of ``integer`` (>= 0), least significant first."""
    if integer < 128:
        return bytes((integer,))
    digits = bytearray()
    while integer:
        digits.append(integer & 0x7F)
        integer >>= 7
    return bytes(digits)


def int2b128(integer: int, stream: Callable[[bytes], object]) -> None:
    """Write ``integer`` (>= 0) as base-128 digits by calling ``stream`` with each byte.

    Twisted's signature: ``stream`` is usually a list's ``append`` or a file's
    ``write``; 0 is one zero byte.
    """
    if integer < 0:
        raise BananaError(f"int2b128 takes an integer >= 0, not {integer}")
    for digit in _b128(integer):
        stream(bytes((digit,)))


def b1282int(st: bytes) -> int:
    """Return the integer whose base-128 digits (least significant first) are ``st``."""
    value = 0
    shift = 0
    for digit in st:
        value |= digit << shift
        shift += 7
    return value


# Encodings precomputed for the common small elements.
_CACHED_INTS = 1024
_INTS = tuple(_b128(i) + INT for i in range(_CACHED_INTS))
_NEGS = tuple(_b128(i) + NEG for i in range(_CACHED_INTS))
_STRING_HEADS = tuple(bytes((n,)) + STRING for n in range(128))
_LIST_HEADS = tuple(bytes((n,)) + LIST for n in range(128))


def _encodeInt(value: int, prefixLimit: int) -> bytes:
    # The tables hold up to two digits: a prefix limit of one refuses what needs two.
    cached = _CACHED_INTS if prefixLimit > 1 else 128
    if value >= 0:
        if value < cached:
            return _INTS[value]
        kind = INT if value < _INT_LIMIT else LONGINT
    else:
        value = -value
        if value < cached:
            return _NEGS[value]
        kind = NEG if value <= _INT_LIMIT else LONGNEG
    digits = _b128(value)
    if len(digits) > prefixLimit:
        raise BananaError(
            f"an integer of {value.bit_length()} bits is too large for Banana (at most "
            f"{7 * prefixLimit} bits); send it as bytes instead"
        )
    return digits + kind


def _refuse(obj: object) -> BananaError:
    kind = type(obj)
    hint = ""
    if kind is str:
        hint = "; encode text to bytes first"
    elif obj is None or kind is dict:
        hint = "; Banana sends lists, ints, floats and bytes: jelly richer values first"
    return BananaError(
        f"Banana cannot send {kind.__module__}.{kind.__qualname__} objects: {obj!r:.80}{hint}"
    )


def _checkLimits(**limits: int) -> None:
    for name, value in limits.items():
        if type(value) is not int or value < 1:
            raise ValueError(f"the Banana {name} must be an integer >= 1, not {value!r}")


class BananaEncoder:
    """Turns expressions into Banana bytes; build one per vocabulary and reuse it.

    ``encode(obj)`` returns the bytes of ``obj``: a list or tuple (nested freely), an
    int (bools are ints), a float or bytes (subclasses of these too). A byte string
    found in ``vocabulary`` (bytes -> number, the pb dialect's table) is sent as its
    number. Anything else, a string or list over ``sizeLimit``, an integer needing
    more than ``prefixLimit`` digits, or lists nested deeper than ``depthLimit``
    (cycles included) raises BananaError: the peer would refuse it anyway.
    """

    __slots__ = ("depthLimit", "encode", "prefixLimit", "sizeLimit", "vocabulary")

    def __init__(
        self,
        vocabulary: Mapping[bytes, int] | None = None,
        *,
        sizeLimit: int = SIZE_LIMIT,
        prefixLimit: int = PREFIX_LIMIT,
        depthLimit: int = DEPTH_LIMIT,
    ) -> None:
        _checkLimits(sizeLimit=sizeLimit, prefixLimit=prefixLimit, depthLimit=depthLimit)
        self.vocabulary = dict(vocabulary) if vocabulary else {}
        self.sizeLimit = sizeLimit
        self.prefixLimit = prefixLimit
        self.depthLimit = depthLimit
        self.encode: Callable[[object], bytes] = self._build()

    def _build(self) -> Callable[[object], bytes]:
        # One closure per encoder: the limits and tables are cell variables, which
        # the hot loop reads faster than attributes.
        sizeLimit = self.sizeLimit
        prefixLimit = self.prefixLimit
        depthLimit = self.depthLimit
        vocabGet = {word: _b128(number) + VOCAB for word, number in self.vocabulary.items()}.get
        ints = _INTS
        # Ints below this come from the table; up to inlineInts they are built in place
        # (PB's request ids: two or three digits). Both respect prefixLimit.
        cachedInts = min(_CACHED_INTS, 1 << (7 * prefixLimit))
        inlineInts = 1 << (7 * min(prefixLimit, 3))
        stringHeads = _STRING_HEADS
        listHeads = _LIST_HEADS
        packFloat = _packFloat

        def longHead(n: int, kind: bytes, what: str) -> bytes:
            if n > sizeLimit:
                raise BananaError(
                    f"a {what} of {n} is too long for Banana (the limit is {sizeLimit}); split it"
                )
            return _b128(n) + kind

        def scalar(obj: object) -> bytes:
            # Everything but a list or tuple, exact types and subclasses alike.
            if isinstance(obj, bytes):
                word = vocabGet(obj)
                if word is not None:
                    return word
                n = len(obj)
                head = stringHeads[n] if n < 128 else longHead(n, STRING, "string of bytes")
                return head + obj
            if isinstance(obj, int):
                return _encodeInt(int(obj), prefixLimit)
            if isinstance(obj, float):
                return FLOAT + packFloat(obj)
            raise _refuse(obj)

        def encodeList(
            obj: list[Any] | tuple[Any, ...], append: Callable[[bytes], None], depth: int
        ) -> None:
            if depth > depthLimit:
                raise BananaError(
                    f"lists nested deeper than {depthLimit} (or a list that contains "
                    f"itself) cannot be sent"
                )
            n = len(obj)
            append(listHeads[n] if n < 128 else longHead(n, LIST, "list of elements"))
            for item in obj:
                kind = type(item)
                if kind is bytes:
                    word = vocabGet(item)
                    if word is not None:
                        append(word)
                        continue
                    n = len(item)
                    append(stringHeads[n] if n < 128 else longHead(n, STRING, "string"))
                    append(item)
                elif kind is int:
                    if 0 <= item < cachedInts:
                        append(ints[item])
                    elif 0 <= item < inlineInts:
                        if item < 0x4000:
                            append(bytes((item & 0x7F, item >> 7, 0x81)))
                        else:
                            append(bytes((item & 0x7F, (item >> 7) & 0x7F, item >> 14, 0x81)))
                    else:
                        append(_encodeInt(item, prefixLimit))
                elif kind is list or kind is tuple:
                    encodeList(item, append, depth + 1)
                elif kind is float:
                    append(FLOAT + packFloat(item))
                elif isinstance(item, (list, tuple)):
                    encodeList(item, append, depth + 1)
                else:
                    append(scalar(item))

        def encode(obj: object) -> bytes:
            if type(obj) is list or isinstance(obj, (list, tuple)):
                parts: list[bytes] = []
                try:
                    encodeList(obj, parts.append, 1)
                except RecursionError:
                    raise BananaError(
                        "lists nested too deeply to send (the call stack ran out)"
                    ) from None
                return b"".join(parts)
            return scalar(obj)

        return encode


_plainEncoder = BananaEncoder()


def encode(obj: object, vocabulary: Mapping[bytes, int] | None = None) -> bytes:
    """Return the Banana bytes of ``obj``, with the default limits.

    For repeated use with one vocabulary, build a BananaEncoder once instead.
    """
    if not vocabulary:
        return _plainEncoder.encode(obj)
    return BananaEncoder(vocabulary).encode(obj)


_MISSING = -1
# The largest chunk parsed through a list of its byte values (see _parse).
_LIST_WINDOW = 64 * 1024


class BananaDecoder:
    """Turns a stream of Banana bytes, fed in chunks cut anywhere, into expressions.

    Its one event: ``feed(data)`` returns the list of top-level expressions that the
    bytes fed so far complete, in order (often none, when a chunk ends mid-element;
    the partial expression is kept for the next call). An expression is an int, a
    float, bytes or a list of expressions; a VOCAB element becomes the bytes that
    ``vocabulary`` (number -> bytes) gives its number. ``vocabulary`` may be changed
    between calls: PB's dialect is chosen after the first expressions.

    ``feed`` raises BananaError for bytes that are not Banana (an unknown type byte, a
    VOCAB element without a vocabulary or with an unknown number) and for a broken
    limit, with the expressions completed before the bad bytes in its
    ``expressions``; the decoder is then broken for good, since a byte stream cannot
    be put back in step: every later ``feed`` raises BananaError too.
    """

    __slots__ = (
        "_broken",
        "_current",
        "_left",
        "_need",
        "_pending",
        "_pendingBytes",
        "_spent",
        "_stack",
        "depthLimit",
        "expressionLimit",
        "prefixLimit",
        "sizeLimit",
        "vocabulary",
    )

    def __init__(
        self,
        vocabulary: Mapping[int, bytes] | None = None,
        *,
        sizeLimit: int = SIZE_LIMIT,
        prefixLimit: int = PREFIX_LIMIT,
        depthLimit: int = DEPTH_LIMIT,
        expressionLimit: int = EXPRESSION_LIMIT,
    ) -> None:
        _checkLimits(
            sizeLimit=sizeLimit,
            prefixLimit=prefixLimit,
            depthLimit=depthLimit,
            expressionLimit=expressionLimit,
        )
        self.vocabulary = vocabulary
        self.sizeLimit = sizeLimit
        self.prefixLimit = prefixLimit
        self.depthLimit = depthLimit
        self.expressionLimit = expressionLimit
        self._broken: str | None = None
        # Bytes not parsed yet (the start of an element cut by the end of a chunk),
        # as chunks, and how many bytes they must reach before parsing can go on.
        self._pending: list[bytes] = []
        self._pendingBytes = 0
        self._need = 0
        # The list being filled, how many elements it still lacks, and its parents.
        self._current: list[Any] | None = None
        self._left = 0
        self._stack: list[tuple[list[Any], int]] = []
        # Bytes of the incomplete top-level expression already parsed.
        self._spent = 0

    @property
    def buffered(self) -> int:
        """Bytes of the incomplete expression held (0 between expressions)."""
        return self._spent + self._pendingBytes

    def feed(self, data: bytes, maxExpressions: int = 0) -> list[Any]:
        """Take the next bytes of the stream; return the expressions they complete.

        With ``maxExpressions`` > 0, stop after that many expressions and keep the
        bytes after them for the next call (``feed(b"")`` goes on): the Banana
        protocol reads the dialect choice alone before it knows the vocabulary.
        """
        if self._broken is not None:
            raise BananaError(f"the Banana stream is already broken: {self._broken}")
        if type(data) is not bytes:
            data = bytes(data)
        pending = self._pending
        if pending:
            if data:
                pending.append(data)
                self._pendingBytes += len(data)
            if self._pendingBytes < self._need:
                return []
            data = pending[0] if len(pending) == 1 else b"".join(pending)
            self._pending = []
            self._pendingBytes = 0
            self._need = 0
        elif not data:
            return []
        out: list[Any] = []
        try:
            return self._parse(data, maxExpressions, out)
        except BananaError as e:
            e.expressions = out
            self._broken = str(e)
            self._pending = []
            self._pendingBytes = 0
            self._stack = []
            self._current = None
            raise

    def _parse(self, buf: bytes, maxExpressions: int, out: list[Any]) -> list[Any]:
        end = len(buf)
        pos = 0
        exprStart = 0
        need = 0
        stopped = False
        spent = self._spent
        stack = self._stack
        cur = self._current
        left = self._left
        sizeLimit = self.sizeLimit
        prefixLimit = self.prefixLimit
        twoDigits = prefixLimit >= 2
        vocabulary = self.vocabulary
        item: Any
        # Bytes as a list of ints for short chunks: CPython indexes a list much faster
        # than bytes (the number and type bytes are read one by one); strings are still
        # sliced from the bytes.
        codes: bytes | list[int] = buf if end > _LIST_WINDOW else list(buf)
        while pos < end:
            start = pos
            n = codes[pos]
            pos += 1
            if n >= 0x80:
                kind = n
                n = 0
            elif pos < end and codes[pos] >= 0x80:
                kind = codes[pos]
                pos += 1
            elif pos + 1 < end and codes[pos + 1] >= 0x80 and twoDigits:
                # Two digits (128 to 16383: PB's request ids, most lengths).
                n |= codes[pos] << 7
                kind = codes[pos + 1]
                pos += 2
            else:
                shift = 7
                kind = _MISSING
                while pos < end:
                    b = codes[pos]
                    pos += 1
                    if b >= 0x80:
                        kind = b
                        break
                    if pos - start > prefixLimit:
                        raise BananaError(
                            f"more than {prefixLimit} bytes of number before a type byte"
                        )
                    n |= b << shift
                    shift += 7
                if kind == _MISSING:
                    pos = start
                    break
            if kind == 0x82:  # STRING
                stop = pos + n
                if stop > end:
                    if n > sizeLimit:
                        raise BananaError(f"a string of {n} bytes is over the limit of {sizeLimit}")
                    if spent + stop - exprStart > self.expressionLimit:
                        raise self._tooLong(spent + stop - exprStart)
                    need = stop - start
                    pos = start
                    break
                if n > sizeLimit:
                    raise BananaError(f"a string of {n} bytes is over the limit of {sizeLimit}")
                item = buf[pos:stop]
                pos = stop
            elif kind == 0x80:  # LIST
                if cur is not None and len(stack) + 2 > self.depthLimit:
                    raise BananaError(f"lists nested deeper than the limit of {self.depthLimit}")
                if n:
                    if n > sizeLimit:
                        raise BananaError(
                            f"a list of {n} elements is over the limit of {sizeLimit}"
                        )
                    if cur is not None:
                        stack.append((cur, left))
                    cur = []
                    left = n
                    continue
                item = []
            elif kind == 0x87:  # VOCAB
                if vocabulary is None:
                    raise BananaError(
                        "a vocabulary element, but this connection has no vocabulary "
                        "(its dialect is not pb)"
                    )
                item = vocabulary.get(n)
                if item is None:
                    raise BananaError(f"the vocabulary has no word number {n}")
            elif kind == 0x81 or kind == 0x85:  # INT, LONGINT
                item = n
            elif kind == 0x83 or kind == 0x86:  # NEG, LONGNEG
                item = -n
            elif kind == 0x84:  # FLOAT
                if pos + 8 > end:
                    need = pos + 8 - start
                    pos = start
                    break
                item = _unpackFloat(buf, pos)[0]
                pos += 8
            else:
                raise BananaError(f"unknown Banana type byte 0x{kind:02x}")
            if cur is not None:
                cur.append(item)
                left -= 1
                if left:
                    continue
                item = cur
                while stack:
                    cur, left = stack.pop()
                    cur.append(item)
                    left -= 1
                    if left:
                        break
                    item = cur
                else:
                    cur = None
                if cur is not None:
                    continue
            size = spent + pos - exprStart
            if size > self.expressionLimit:
                raise self._tooLong(size)
            out.append(item)
            spent = 0
            exprStart = pos
            if len(out) == maxExpressions:
                stopped = True
                break
        if pos < end:
            self._pending = [buf[pos:] if pos else buf]
            self._pendingBytes = end - pos
            self._need = need
        if cur is not None or (pos < end and not stopped):
            spent += pos - exprStart
            if spent + end - pos > self.expressionLimit:
                raise self._tooLong(spent + end - pos)
        self._spent = spent
        self._current = cur
        self._left = left
        return out

    def _tooLong(self, size: int) -> BananaError:
        return BananaError(
            f"an expression of more than {size - 1} bytes is over the limit of "
            f"{self.expressionLimit}"
        )
