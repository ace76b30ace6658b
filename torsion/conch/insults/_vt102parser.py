"""What a program sends to a VT102-style terminal, without I/O: bytes in, calls out.

The other direction of torsion.conch.insults._keyparser: text with control bytes and
escape sequences (ECMA-48 CSI sequences such as ``ESC [ 2 ; 5 H``, two-byte escapes
such as ``ESC 7``, character set designations ``ESC ( 0``, line size ``ESC # 6``).
`OutputParser.feed` returns, in order, the calls an ITerminalTransport would have had
to make to produce those bytes: ``("write", (text,))``, ``("cursorPosition", (4, 1))``,
``("selectGraphicRendition", (1, 31))``... and ``("unhandledControlSequence",
(bytes,))`` for what it does not know. Text keeps its CR, LF, BS, TAB and BEL for the
terminal to interpret. A sequence longer than `MAX_SEQUENCE` (an endless OSC, say) is
cut and reported as unhandled, so the parser never holds more than that.
Tests: tests/conch/test_insults.py.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_SEQUENCE", "OutputParser"]

MAX_SEQUENCE = 256
ESC, BEL = 0x1B, 0x07
Call = tuple[str, tuple[Any, ...]]

_SIMPLE_ESCAPES = {
    ord("D"): "index", ord("M"): "reverseIndex", ord("E"): "nextLine",
    ord("7"): "saveCursor", ord("8"): "restoreCursor", ord("="): "applicationKeypadMode",
    ord(">"): "numericKeypadMode", ord("H"): "horizontalTabulationSet",
    ord("N"): "singleShift2", ord("O"): "singleShift3", ord("c"): "reset",
}  # fmt: skip
_LINE_SIZES: dict[int, Call] = {
    ord("3"): ("doubleHeightLine", (True,)),
    ord("4"): ("doubleHeightLine", (False,)),
    ord("5"): ("singleWidthLine", ()),
    ord("6"): ("doubleWidthLine", ()),
}
_COUNTED = {
    ord("A"): "cursorUp", ord("B"): "cursorDown", ord("C"): "cursorForward",
    ord("D"): "cursorBackward", ord("P"): "deleteCharacter", ord("L"): "insertLine",
    ord("M"): "deleteLine",
}  # fmt: skip
_ERASE_DISPLAY = ("eraseToDisplayEnd", "eraseToDisplayBeginning", "eraseDisplay")
_ERASE_LINE = ("eraseToLineEnd", "eraseToLineBeginning", "eraseLine")


class OutputParser:
    """The incremental parser of what one program sends to its terminal."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[Call]:
        data = self._pending + data
        self._pending = b""
        calls: list[Call] = []
        index, end = 0, len(data)
        while index < end:
            escape = data.find(b"\x1b", index)
            textEnd = end if escape < 0 else escape
            if textEnd > index:
                self._text(data[index:textEnd], calls)
            if escape < 0:
                break
            used = self._escape(data, escape, calls)
            if used == 0:
                self._pending = data[escape:]
                break
            index = escape + used
        return calls

    @staticmethod
    def _text(text: bytes, calls: list[Call]) -> None:
        # Shift out and in are calls of their own; everything else is text.
        start = 0
        for index, byte in enumerate(text):
            if byte in (0x0E, 0x0F):
                if index > start:
                    calls.append(("write", (text[start:index],)))
                calls.append(("shiftOut" if byte == 0x0E else "shiftIn", ()))
                start = index + 1
        if start < len(text):
            calls.append(("write", (text[start:],)))

    def _escape(self, data: bytes, start: int, calls: list[Call]) -> int:
        end = len(data)
        if start + 1 >= end:
            return 0
        second = data[start + 1]
        if second == ord("["):
            return self._csi(data, start, calls)
        if second == ord("]"):
            return self._osc(data, start, calls)
        if second in (ord("("), ord(")"), ord("#")):
            if start + 2 >= end:
                return 0
            third = data[start + 2]
            if second == ord("#"):
                call = _LINE_SIZES.get(third)
                calls.append(call or ("unhandledControlSequence", (data[start : start + 3],)))
            else:
                calls.append(("selectCharacterSet", (bytes((third,)), bytes((second,)))))
            return 3
        name = _SIMPLE_ESCAPES.get(second)
        if name is None:
            calls.append(("unhandledControlSequence", (data[start : start + 2],)))
        else:
            calls.append((name, ()))
        return 2

    def _osc(self, data: bytes, start: int, calls: list[Call]) -> int:
        """An operating system command (a window title...): skipped, up to BEL or ST."""
        limit = min(len(data), start + MAX_SEQUENCE)
        for index in range(start + 2, limit):
            if data[index] == BEL:
                calls.append(("unhandledControlSequence", (data[start : index + 1],)))
                return index + 1 - start
            if data[index] == ESC and index + 1 < len(data) and data[index + 1] == ord("\\"):
                calls.append(("unhandledControlSequence", (data[start : index + 2],)))
                return index + 2 - start
        if limit == start + MAX_SEQUENCE:
            calls.append(("unhandledControlSequence", (data[start:limit],)))
            return limit - start
        return 0

    def _csi(self, data: bytes, start: int, calls: list[Call]) -> int:
        index = start + 2
        limit = min(len(data), start + MAX_SEQUENCE)
        while index < limit and not 0x40 <= data[index] <= 0x7E:
            index += 1
        if index >= limit:
            if limit == start + MAX_SEQUENCE:
                calls.append(("unhandledControlSequence", (data[start:limit],)))
                return limit - start
            return 0
        calls.append(self._csiCall(data[index], data[start + 2 : index], data[start : index + 1]))
        return index + 1 - start

    @staticmethod
    def _csiCall(final: int, parameters: bytes, sequence: bytes) -> Call:
        unhandled: Call = ("unhandledControlSequence", (sequence,))
        private = parameters.startswith(b"?")
        if private:
            parameters = parameters[1:]
        fields = parameters.split(b";") if parameters else []
        try:
            numbers = [int(f) if f else 0 for f in fields]
        except ValueError:
            return unhandled
        first = numbers[0] if numbers else 0
        if final in (ord("h"), ord("l")):
            name = ("set" if final == ord("h") else "reset") + (
                "PrivateModes" if private else "Modes"
            )
            return (name, (numbers,))
        if private:
            return unhandled
        if final in _COUNTED:
            return (_COUNTED[final], (max(first, 1),))
        if final in (ord("H"), ord("f")):
            if not numbers:
                return ("cursorHome", ())
            line = max(first, 1)
            column = max(numbers[1], 1) if len(numbers) > 1 else 1
            return ("cursorPosition", (column - 1, line - 1))
        if final == ord("J") and first < 3:
            return (_ERASE_DISPLAY[first], ())
        if final == ord("K") and first < 3:
            return (_ERASE_LINE[first], ())
        if final == ord("m"):
            return ("selectGraphicRendition", tuple(numbers or [0]))
        if final == ord("r"):
            top = numbers[0] - 1 if numbers and numbers[0] else None
            bottom = numbers[1] - 1 if len(numbers) > 1 and numbers[1] else None
            return ("setScrollRegion", (top, bottom))
        if final == ord("g"):
            return ("tabulationClearAll" if first == 3 else "tabulationClear", ())
        if final == ord("n") and first == 6:
            return ("reportCursorPosition", ())
        return unhandled
