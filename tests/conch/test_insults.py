"""insults without sockets: the keyboard parser on sequences recorded from xterm and
the Linux console, the VT102 output parser against everything ServerProtocol writes,
both protocols end to end, TerminalBuffer's screen, and bounded buffers on hostile
input (hypothesis)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torsion.conch.insults import _keyparser, _vt102parser, helper, insults
from torsion.conch.insults._keyparser import (
    ALT,
    CONTROL,
    SHIFT,
    CursorReport,
    Key,
    KeyParser,
    UnknownSequence,
)
from torsion.internet.testing import StringTransport

# What xterm (and, for some, the Linux console or rxvt) send for these keys.
RECORDED = [
    (b"\x1b[A", insults.UP_ARROW), (b"\x1b[B", insults.DOWN_ARROW),
    (b"\x1b[C", insults.RIGHT_ARROW), (b"\x1b[D", insults.LEFT_ARROW),
    (b"\x1bOA", insults.UP_ARROW), (b"\x1bOD", insults.LEFT_ARROW),  # application mode
    (b"\x1b[H", insults.HOME), (b"\x1b[F", insults.END), (b"\x1bOH", insults.HOME),
    (b"\x1bOF", insults.END), (b"\x1b[1~", insults.HOME), (b"\x1b[4~", insults.END),
    (b"\x1b[7~", insults.HOME), (b"\x1b[8~", insults.END), (b"\x1b[2~", insults.INSERT),
    (b"\x1b[3~", insults.DELETE), (b"\x1b[5~", insults.PGUP), (b"\x1b[6~", insults.PGDN),
    (b"\x1b[E", insults.NUMPAD_MIDDLE), (b"\x1bOP", insults.F1), (b"\x1bOS", insults.F4),
    (b"\x1b[15~", insults.F5), (b"\x1b[21~", insults.F10), (b"\x1b[24~", insults.F12),
]  # fmt: skip


def keys(data: bytes, parser: KeyParser | None = None) -> list[Any]:
    return (parser or KeyParser()).feed(data)


@pytest.mark.parametrize(("sequence", "key"), RECORDED)
def test_recordedSequencesAreTheirKeys(sequence: bytes, key: Any) -> None:
    assert keys(sequence) == [Key(key)]


def test_charactersAndControlKeysAreTheirBytes() -> None:
    assert keys(b"a\x7f\r\t\x03") == [Key(b"a"), Key(b"\x7f"), Key(b"\r"), Key(b"\t"), Key(b"\x03")]


def test_utf8CharactersAreOneKeyEvenWhenSplit() -> None:
    parser = KeyParser()
    encoded = "é€😀".encode()
    events = [event for byte in encoded for event in parser.feed(bytes((byte,)))]
    assert events == [Key("é".encode()), Key("€".encode()), Key("😀".encode())]


def test_modifiers() -> None:
    assert keys(b"\x1b[1;5C") == [Key(insults.RIGHT_ARROW, CONTROL)]
    assert keys(b"\x1b[1;2A") == [Key(insults.UP_ARROW, SHIFT)]
    assert keys(b"\x1b[3;3~") == [Key(insults.DELETE, ALT)]
    assert keys(b"\x1bx") == [Key(b"x", ALT)]  # Meta sends ESC first
    assert keys(b"\x1b\x1b[A") == [Key(b"\x1b"), Key(insults.UP_ARROW)]


def test_aLoneEscapeWaitsForWhatFollows() -> None:
    parser = KeyParser()
    assert parser.feed(b"ab\x1b") == [Key(b"a"), Key(b"b")]
    assert parser.feed(b"[") == []
    assert parser.feed(b"D") == [Key(insults.LEFT_ARROW)]
    assert parser.feed(b"\x1b") == []
    assert parser.flush() == [Key(b"\x1b")]
    assert parser.flush() == []


def test_cursorReportsOnlyWhenAskedFor() -> None:
    parser = KeyParser()
    assert parser.feed(b"\x1b[1;5R") == [Key(insults.F3, CONTROL)]  # Control+F3
    parser.reportsExpected = 1
    assert parser.feed(b"\x1b[3;12R") == [CursorReport(11, 2)]
    assert parser.reportsExpected == 0


def test_unknownAndOversizeSequences() -> None:
    assert keys(b"\x1b[99~") == [UnknownSequence(b"\x1b[99~")]
    assert keys(b"\x1bOz") == [UnknownSequence(b"\x1bOz")]
    assert keys(b"\x1b[1;2;3A") == [UnknownSequence(b"\x1b[1;2;3A")]
    endless = b"\x1b[" + b"1;" * 100
    parser = KeyParser()
    events = parser.feed(endless)
    assert isinstance(events[0], UnknownSequence)
    assert len(events[0].sequence) == _keyparser.MAX_SEQUENCE
    assert len(parser._pending) < _keyparser.MAX_SEQUENCE


@given(st.binary(max_size=300), st.lists(st.integers(1, 40), max_size=20))
def test_keyParserAnyInputAnyCutsBounded(data: bytes, cuts: list[int]) -> None:
    whole = KeyParser().feed(data)
    parser = KeyParser()
    pieces, start = [], 0
    for cut in cuts:
        pieces.append(data[start : start + cut])
        start += cut
    pieces.append(data[start:])
    events = []
    for piece in pieces:
        events += parser.feed(piece)
        assert len(parser._pending) <= _keyparser.MAX_SEQUENCE
    assert events == whole


# -- the output side ------------------------------------------------------------------

CALLS = [
    ("cursorUp", (3,)), ("cursorDown", (1,)), ("cursorForward", (7,)),
    ("cursorBackward", (2,)), ("cursorPosition", (4, 9)), ("cursorHome", ()),
    ("index", ()), ("reverseIndex", ()), ("saveCursor", ()), ("restoreCursor", ()),
    ("setModes", ([insults.modes.IRM],)), ("resetModes", ([insults.modes.IRM, 20],)),
    ("setPrivateModes", ([insults.privateModes.CURSOR_MODE],)),
    ("resetPrivateModes", ([25],)), ("applicationKeypadMode", ()),
    ("numericKeypadMode", ()), ("selectCharacterSet", (insults.CS_DRAWING, insults.G1)),
    ("shiftIn", ()), ("shiftOut", ()), ("singleShift2", ()), ("singleShift3", ()),
    ("selectGraphicRendition", (insults.BOLD, insults.FOREGROUND + insults.RED)),
    ("horizontalTabulationSet", ()), ("tabulationClear", ()), ("tabulationClearAll", ()),
    ("doubleHeightLine", (True,)), ("doubleHeightLine", (False,)), ("singleWidthLine", ()),
    ("doubleWidthLine", ()), ("eraseToLineEnd", ()), ("eraseToLineBeginning", ()),
    ("eraseLine", ()), ("eraseToDisplayEnd", ()), ("eraseToDisplayBeginning", ()),
    ("eraseDisplay", ()), ("deleteCharacter", (4,)), ("insertLine", (2,)),
    ("deleteLine", (5,)), ("setScrollRegion", (2, 20)), ("setScrollRegion", (None, None)),
    ("reset", ()),
]  # fmt: skip


@pytest.mark.parametrize(("name", "args"), CALLS)
def test_whatServerProtocolWritesParsesBackToTheCall(name: str, args: tuple[Any, ...]) -> None:
    server = insults.ServerProtocol()
    server.makeConnection(StringTransport())
    getattr(server, name)(*args)
    assert _vt102parser.OutputParser().feed(server.transport.value()) == [(name, args)]


def test_outputParserKeepsTextAndReportsTheUnknown() -> None:
    calls = _vt102parser.OutputParser().feed(b"a\r\nb\x1b]0;title\x07c\x1b[5n\x1bZ")
    assert calls == [
        ("write", (b"a\r\nb",)),
        ("unhandledControlSequence", (b"\x1b]0;title\x07",)),
        ("write", (b"c",)),
        ("unhandledControlSequence", (b"\x1b[5n",)),
        ("unhandledControlSequence", (b"\x1bZ",)),
    ]


@given(st.binary(max_size=600), st.integers(1, 50))
def test_outputParserAnyInputBounded(data: bytes, size: int) -> None:
    parser = _vt102parser.OutputParser()
    for start in range(0, len(data), size):
        parser.feed(data[start : start + size])
        assert len(parser._pending) <= _vt102parser.MAX_SEQUENCE


class Recorder(insults.TerminalProtocol):
    def __init__(self) -> None:
        self.events: list[Any] = []

    def keystrokeReceived(self, keyID: Any, modifier: int | None) -> None:
        self.events.append((keyID, modifier))

    def terminalSize(self, width: int, height: int) -> None:
        self.events.append(("size", width, height))

    def unhandledControlSequence(self, seq: bytes) -> None:
        self.events.append(("unhandled", seq))

    def connectionLost(self, reason: Any) -> None:
        self.events.append("lost")


def test_serverProtocolDeliversKeystrokesAndSizes() -> None:
    server = insults.ServerProtocol(Recorder)
    server.makeConnection(StringTransport())
    program = server.terminalProtocol
    assert program.terminal is server
    server.dataReceived(b"q\x1b[A\x1b[99~")
    server.terminalSize(132, 50)
    server.connectionLost(None)
    assert program.events == [
        (b"q", None), (insults.UP_ARROW, None), ("unhandled", b"\x1b[99~"),
        ("size", 132, 50), "lost",
    ]  # fmt: skip


def test_reportCursorPosition() -> None:
    server = insults.ServerProtocol(Recorder)
    server.makeConnection(StringTransport())
    answered: list[Any] = []
    server.reportCursorPosition().addCallback(answered.append)
    assert server.transport.value() == b"\x1b[6n"
    server.dataReceived(b"\x1b[5;10R")
    assert answered == [(9, 4)]
    lost: list[Any] = []
    server.reportCursorPosition().addErrback(lost.append)
    server.connectionLost(None)
    assert len(lost) == 1
    for _ in range(server.maxPendingReports + 1):
        last = server.reportCursorPosition()
    refused: list[Any] = []
    last.addErrback(refused.append)
    assert "too many" in str(refused[0].value)


def test_clientAndServerRoundTripKeystrokes() -> None:
    """Keys typed at the ClientProtocol arrive as the same keys at the ServerProtocol."""
    server = insults.ServerProtocol(Recorder)
    serverWire = StringTransport()
    server.makeConnection(serverWire)
    client = insults.ClientProtocol(helper.TerminalBuffer)
    clientWire = StringTransport()
    client.makeConnection(clientWire)
    typed = [(key, None) for key in _keyparser.FUNCTION_KEYS.values()]
    typed += [(b"x", None), ("é".encode(), None), (b"y", ALT)]
    for key, modifier in typed:
        client.keystrokeReceived(key, modifier)
    server.dataReceived(clientWire.value())
    assert server.terminalProtocol.events == typed
    server.cursorPosition(3, 2)
    server.reportCursorPosition().addCallback(server.terminalProtocol.events.append)
    clientWire.clear()
    client.dataReceived(serverWire.value())
    server.dataReceived(clientWire.value())
    assert server.terminalProtocol.events[-1] == (3, 2)


def test_terminalBufferWrapsScrollsAndErases() -> None:
    screen = helper.TerminalBuffer()
    screen.write(b"x" * 85)
    assert bytes(screen).split(b"\n")[:2] == [b"x" * 80, b"xxxxx"]
    for n in range(30):
        screen.write(b"\r\nline %d" % n)
    lines = bytes(screen).split(b"\n")
    assert lines[0] == b"line 6" and lines[-1] == b"line 29" and len(lines) == 24
    screen.cursorPosition(2, 0)
    screen.deleteCharacter(2)
    screen.setModes([insults.modes.IRM])
    screen.write(b"!")
    assert bytes(screen).split(b"\n")[0] == b"li! 6"
    screen.eraseToLineEnd()
    assert bytes(screen).split(b"\n")[0] == b"li!"
    screen.eraseDisplay()
    assert bytes(screen) == b"\n" * 23
