"""What a terminal's keyboard sends, without I/O: bytes in, keystrokes out.

A terminal (xterm, the Linux console, OpenSSH's client relaying one, a telnet client
in character mode) sends printable characters as they are (UTF-8 for others), control
keys as control bytes, and the arrows, Home, End, the function keys and friends as
escape sequences: ``ESC [ A`` (or ``ESC O A`` in application cursor mode), ``ESC [ 3 ~``,
``ESC [ 1 ; 5 C`` (with modifiers), ``ESC O P``... `KeyParser.feed` takes the bytes as
they arrive, cut anywhere, and returns `Key` events (a FunctionKey or the bytes of one
character, plus the modifier bits), `CursorReport` for the answer to a cursor
position request (``ESC [ row ; col R``) and `UnknownSequence` for an escape sequence
it does not know. A sequence is bounded (`MAX_SEQUENCE`): a longer one is dropped as
unknown, so a peer cannot make the parser hold more. An ESC at the very end of the
input is held until the next byte says what it began (`flush` gives it up as the
Escape key). Tests: tests/conch/test_insults.py.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ALT",
    "CONTROL",
    "FUNCTION_KEYS",
    "SHIFT",
    "CursorReport",
    "FunctionKey",
    "Key",
    "KeyParser",
    "UnknownSequence",
]

SHIFT, ALT, CONTROL = 1, 2, 4
MAX_SEQUENCE = 32
ESC = 0x1B


class FunctionKey:
    """A key that is not a character (an arrow, Home, F1...): compared by identity."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"[{self.name}]"


_NAMES = (
    "UP_ARROW", "DOWN_ARROW", "RIGHT_ARROW", "LEFT_ARROW", "HOME", "INSERT", "DELETE", "END",
    "PGUP", "PGDN", "NUMPAD_MIDDLE", "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9",
    "F10", "F11", "F12",
)  # fmt: skip
FUNCTION_KEYS: dict[str, FunctionKey] = {name: FunctionKey(name) for name in _NAMES}
_K = FUNCTION_KEYS

# The final byte of ESC [ ... X and ESC O X for the keys that have one.
_BY_FINAL = {
    ord("A"): _K["UP_ARROW"], ord("B"): _K["DOWN_ARROW"], ord("C"): _K["RIGHT_ARROW"],
    ord("D"): _K["LEFT_ARROW"], ord("H"): _K["HOME"], ord("F"): _K["END"],
    ord("E"): _K["NUMPAD_MIDDLE"], ord("P"): _K["F1"], ord("Q"): _K["F2"],
    ord("R"): _K["F3"], ord("S"): _K["F4"],
}  # fmt: skip
# The number of ESC [ n ~ (VT220 and xterm; 7 and 8 are rxvt's Home and End).
_BY_NUMBER = {
    1: _K["HOME"], 2: _K["INSERT"], 3: _K["DELETE"], 4: _K["END"], 5: _K["PGUP"],
    6: _K["PGDN"], 7: _K["HOME"], 8: _K["END"], 11: _K["F1"], 12: _K["F2"], 13: _K["F3"],
    14: _K["F4"], 15: _K["F5"], 17: _K["F6"], 18: _K["F7"], 19: _K["F8"], 20: _K["F9"],
    21: _K["F10"], 23: _K["F11"], 24: _K["F12"],
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Key:
    """One keystroke: a FunctionKey, or the bytes of one character; ``modifier`` is a
    combination of SHIFT, ALT and CONTROL, or None."""

    key: FunctionKey | bytes
    modifier: int | None = None


@dataclass(frozen=True, slots=True)
class CursorReport:
    """The terminal's answer to ESC [ 6 n: the cursor's column and line, from 0."""

    x: int
    y: int


@dataclass(frozen=True, slots=True)
class UnknownSequence:
    """An escape sequence this parser does not know (or one too long, cut short)."""

    sequence: bytes


KeyEvent = Key | CursorReport | UnknownSequence


def _modifierOf(parameter: int) -> int | None:
    """xterm's modifier parameter (1 + shift 1 + alt 2 + control 4) as our bits."""
    bits = parameter - 1
    return bits & (SHIFT | ALT | CONTROL) or None


def _utf8Length(lead: int) -> int:
    if lead >= 0xF0:
        return 4
    if lead >= 0xE0:
        return 3
    if lead >= 0xC0:
        return 2
    return 1


class KeyParser:
    """The incremental parser of what one terminal's keyboard sends."""

    __slots__ = ("_pending", "reportsExpected")

    def __init__(self) -> None:
        self._pending = b""
        # ESC [ 1 ; 5 R is both Control+F3 and "row 1, column 5": it is a cursor
        # report only while one was asked for (ServerProtocol counts them here).
        self.reportsExpected = 0

    def feed(self, data: bytes) -> list[KeyEvent]:
        data = self._pending + data
        self._pending = b""
        events: list[KeyEvent] = []
        index, end = 0, len(data)
        while index < end:
            byte = data[index]
            if byte == ESC:
                used = self._escape(data, index, events)
                if used == 0:
                    self._pending = data[index:]
                    break
                index += used
            elif byte >= 0x80:
                length = _utf8Length(byte)
                if index + length > end:
                    self._pending = data[index:]
                    break
                events.append(Key(data[index : index + length]))
                index += length
            else:
                events.append(Key(data[index : index + 1]))
                index += 1
        return events

    def flush(self) -> list[KeyEvent]:
        """Give up waiting: what is held becomes keystrokes (a lone ESC the Escape key)."""
        held, self._pending = self._pending, b""
        if held[:1] == bytes((ESC,)):
            return [Key(held[:1]), *self.feed(held[1:])]
        return [Key(held)] if held else []

    def _escape(self, data: bytes, start: int, events: list[KeyEvent]) -> int:
        """Parse the sequence at ``start``; return its length, or 0 if it is incomplete."""
        end = len(data)
        if start + 1 >= end:
            return 0
        second = data[start + 1]
        if second == ord("["):
            return self._csi(data, start, events)
        if second == ord("O"):
            if start + 2 >= end:
                return 0
            key = _BY_FINAL.get(data[start + 2])
            if key is None:
                events.append(UnknownSequence(data[start : start + 3]))
            else:
                events.append(Key(key))
            return 3
        if second == ESC:
            events.append(Key(b"\x1b"))  # Escape pressed twice: the first is a key
            return 1
        # ESC then a character: that character with Alt (Meta sends ESC first).
        inner: list[KeyEvent] = []
        used = self.feedOne(data, start + 1, inner)
        if used == 0:
            return 0
        for event in inner:
            if isinstance(event, Key):
                events.append(Key(event.key, (event.modifier or 0) | ALT))
            else:
                events.append(event)
        return 1 + used

    def feedOne(self, data: bytes, start: int, events: list[KeyEvent]) -> int:
        """One character at ``start`` (for Alt+character); 0 if it is incomplete."""
        length = _utf8Length(data[start]) if data[start] >= 0x80 else 1
        if start + length > len(data):
            return 0
        events.append(Key(data[start : start + length]))
        return length

    def _csi(self, data: bytes, start: int, events: list[KeyEvent]) -> int:
        index = start + 2
        end = min(len(data), start + MAX_SEQUENCE)
        while index < end and not 0x40 <= data[index] <= 0x7E:
            index += 1
        if index >= end:
            if len(data) >= start + MAX_SEQUENCE:
                events.append(UnknownSequence(data[start:end]))
                return end - start
            return 0
        final = data[index]
        sequence = data[start : index + 1]
        parameters = data[start + 2 : index]
        events.append(self._csiEvent(final, parameters, sequence))
        return index + 1 - start

    def _csiEvent(self, final: int, parameters: bytes, sequence: bytes) -> KeyEvent:
        try:
            numbers = [int(p) if p else 1 for p in parameters.split(b";")] if parameters else []
        except ValueError:
            return UnknownSequence(sequence)
        if final == ord("R") and len(numbers) == 2 and self.reportsExpected > 0:
            self.reportsExpected -= 1
            return CursorReport(numbers[1] - 1, numbers[0] - 1)
        modifier = _modifierOf(numbers[1]) if len(numbers) == 2 else None
        if final == ord("~") and numbers:
            key = _BY_NUMBER.get(numbers[0])
            return UnknownSequence(sequence) if key is None else Key(key, modifier)
        key = _BY_FINAL.get(final)
        if key is None or len(numbers) > 2:
            return UnknownSequence(sequence)
        return Key(key, modifier)
