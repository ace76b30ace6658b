"""Telnet's byte stream without I/O (RFC 854 and 855): bytes in, events out.

A Telnet connection carries application data with commands mixed in, each introduced
by the IAC byte (255): one-byte commands (NOP, GA, AYT, ...), option negotiation (IAC
WILL/WONT/DO/DONT option) and subnegotiation (IAC SB option ... IAC SE). `TelnetParser`
takes the bytes as they arrive, cut anywhere, and returns what they meant, in order:
``bytes`` of application data, `Command`, `Negotiation` and `Subnegotiation`. It also
applies the network virtual terminal's line-end rules: CR NUL is a bare CR and CR LF
stays CR LF (so line receivers split on it); a doubled IAC is one 255 data byte.

Untrusted peers are held to a limit: a subnegotiation longer than
``maxSubnegotiation`` bytes is dropped (`SubnegotiationTooLong` says so) and parsing
goes on after its end, so a peer cannot make the parser hold more than that.
Tests: tests/conch/test_telnetcodec.py.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Command",
    "Negotiation",
    "Subnegotiation",
    "SubnegotiationTooLong",
    "TelnetEvent",
    "TelnetParser",
    "quoteData",
    "quoteSubnegotiation",
]

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
CR, LF, NUL = 13, 10, 0
_VERBS = (WILL, WONT, DO, DONT)


@dataclass(frozen=True, slots=True)
class Command:
    """A one-byte command: IAC NOP, GA, AYT, IP, BRK, DM, AO, EC or EL (or unknown)."""

    command: int


@dataclass(frozen=True, slots=True)
class Negotiation:
    """IAC WILL/WONT/DO/DONT option: the peer's offer, refusal, request or demand."""

    verb: int
    option: int


@dataclass(frozen=True, slots=True)
class Subnegotiation:
    """IAC SB option data IAC SE, with doubled IACs in ``data`` already undone."""

    option: int
    data: bytes


@dataclass(frozen=True, slots=True)
class SubnegotiationTooLong:
    """A subnegotiation for ``option`` went past the limit and was dropped."""

    option: int


TelnetEvent = bytes | Command | Negotiation | Subnegotiation | SubnegotiationTooLong

# Parser states.
_DATA, _CR, _IAC, _VERB, _SB_OPTION, _SB, _SB_IAC = range(7)


class TelnetParser:
    """The incremental parser of one direction of a Telnet connection."""

    __slots__ = ("_option", "_state", "_sub", "_tooLong", "_verb", "maxSubnegotiation")

    def __init__(self, maxSubnegotiation: int = 4096) -> None:
        self.maxSubnegotiation = maxSubnegotiation
        self._state = _DATA
        self._verb = 0
        self._option = 0
        self._sub = bytearray()
        self._tooLong = False

    def feed(self, data: bytes) -> list[TelnetEvent]:
        """The events that ``data`` completes, in the order they happened."""
        events: list[TelnetEvent] = []
        text = bytearray()
        i, end = 0, len(data)
        state = self._state
        while i < end:
            if state == _DATA:
                # Copy runs of plain data in one go: only IAC and CR need a look.
                stop = _nextSpecial(data, i)
                text += data[i:stop]
                if stop == end:
                    break
                state = _IAC if data[stop] == IAC else _CR
                i = stop + 1
                continue
            byte = data[i]
            i += 1
            if state == _CR:
                if byte == LF:
                    text += b"\r\n"
                    state = _DATA
                elif byte == NUL:
                    text += b"\r"
                    state = _DATA
                elif byte == IAC:
                    text += b"\r"  # a lone CR (peers break the rule), then a command
                    state = _IAC
                else:
                    text += bytes((CR, byte)) if byte != CR else b"\r"
                    state = _CR if byte == CR else _DATA
            elif state == _IAC:
                state = _DATA
                if byte == IAC:
                    text.append(IAC)
                    continue
                if text:
                    events.append(bytes(text))
                    text.clear()
                if byte in _VERBS:
                    self._verb, state = byte, _VERB
                elif byte == SB:
                    state = _SB_OPTION
                elif byte != SE:  # a stray SE means nothing
                    events.append(Command(byte))
            elif state == _VERB:
                events.append(Negotiation(self._verb, byte))
                state = _DATA
            elif state == _SB_OPTION:
                self._option, state = byte, _SB
                self._sub.clear()
                self._tooLong = False
            elif state == _SB:
                stop = data.find(b"\xff", i - 1)
                stop = end if stop < 0 else stop
                self._collect(data[i - 1 : stop])
                i = stop + 1 if stop < end else end
                if stop < end:
                    state = _SB_IAC
            else:  # _SB_IAC
                if byte == IAC:
                    self._collect(b"\xff")
                    state = _SB
                elif byte == SE:
                    events.append(self._finishSubnegotiation())
                    state = _DATA
                else:
                    # IAC and a command inside a subnegotiation: the peer never ended
                    # it properly. Drop it, and take the command as a command.
                    self._sub.clear()
                    state = _IAC
                    i -= 1
        self._state = state
        if text:
            events.append(bytes(text))
        return events

    def _collect(self, chunk: bytes) -> None:
        if self._tooLong:
            return
        if len(self._sub) + len(chunk) > self.maxSubnegotiation:
            self._tooLong = True
            self._sub.clear()
            return
        self._sub += chunk

    def _finishSubnegotiation(self) -> Subnegotiation | SubnegotiationTooLong:
        if self._tooLong:
            return SubnegotiationTooLong(self._option)
        event = Subnegotiation(self._option, bytes(self._sub))
        self._sub.clear()
        return event


def _nextSpecial(data: bytes, start: int) -> int:
    """The index of the first IAC or CR at or after ``start``, or ``len(data)``."""
    iac = data.find(b"\xff", start)
    cr = data.find(b"\r", start, iac if iac >= 0 else len(data))
    if cr >= 0:
        return cr
    return iac if iac >= 0 else len(data)


def quoteData(data: bytes) -> bytes:
    """``data`` as it must be sent: every 255 byte doubled, so it is not a command."""
    return data.replace(b"\xff", b"\xff\xff")


def quoteSubnegotiation(option: int, data: bytes) -> bytes:
    """IAC SB ``option`` ``data`` IAC SE, with the IACs of ``data`` doubled."""
    return bytes((IAC, SB, option)) + quoteData(data) + bytes((IAC, SE))
