"""Insults: a terminal over a byte stream, both ways (Twisted's insults.insults).

A program that draws on a terminal through SSH or telnet gets its keyboard as bytes
and draws with escape sequences. Two protocols carry that:

- `ServerProtocol` sits on the server's transport (an SSH session channel, a telnet
  connection). What the user types is parsed (torsion.conch.insults._keyparser) into
  ``keystrokeReceived(keyID, modifier)`` calls on an `ITerminalProtocol` (a
  `TerminalProtocol` subclass: torsion.conch.recvline's line editor, the manhole);
  that protocol draws through the ServerProtocol, an `ITerminalTransport`, whose
  methods (``cursorBackward``, ``eraseLine``, ``selectGraphicRendition``...) write
  the VT102/ECMA-48 escape sequences.
- `ClientProtocol` sits on a client's transport: what the server sends is parsed
  (torsion.conch.insults._vt102parser) into the same ITerminalTransport calls on a
  terminal object, such as torsion.conch.insults.helper.TerminalBuffer; its
  ``keystrokeReceived`` writes the sequences a keyboard would send.

Function keys are the constants ``UP_ARROW``, ``HOME``, ``F1``... (module attributes
and attributes of both protocols); a character key is its bytes (one character:
several bytes for UTF-8). The modifier is None or a combination of ``SHIFT``, ``ALT``
and ``CONTROL``. Tests: tests/conch/test_insults.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from zope.interface import Interface, implementer

from torsion.conch.insults import _keyparser, _vt102parser
from torsion.conch.insults._keyparser import ALT, CONTROL, FUNCTION_KEYS, SHIFT, FunctionKey
from torsion.internet import defer, error, interfaces, protocol
from torsion.python.failure import Failure

__all__ = [
    "ALT", "BACKGROUND", "BLINK", "BOLD", "CONTROL", "CS_ALTERNATE", "CS_ALTERNATE_SPECIAL",
    "CS_DRAWING", "CS_UK", "CS_US", "FOREGROUND", "G0", "G1", "NORMAL", "REVERSE_VIDEO",
    "SHIFT", "UNDERLINE", "BLACK", "RED", "GREEN", "YELLOW", "BLUE", "MAGENTA", "CYAN",
    "WHITE", "ClientProtocol", "FunctionKey", "ITerminalProtocol", "ITerminalTransport",
    "ServerProtocol", "TerminalProtocol", "modes", "privateModes",
    *FUNCTION_KEYS,
]  # fmt: skip

# Graphic renditions (SGR) and colours: FOREGROUND + RED is red text.
NORMAL, BOLD, UNDERLINE, BLINK, REVERSE_VIDEO = 0, 1, 4, 5, 7
FOREGROUND, BACKGROUND = 30, 40
BLACK, RED, GREEN, YELLOW, BLUE, MAGENTA, CYAN, WHITE = range(8)
# Character sets and the slots they go in (selectCharacterSet).
CS_UK, CS_US, CS_DRAWING, CS_ALTERNATE, CS_ALTERNATE_SPECIAL = b"A", b"B", b"0", b"1", b"2"
G0, G1 = b"(", b")"

UP_ARROW = FUNCTION_KEYS["UP_ARROW"]
DOWN_ARROW = FUNCTION_KEYS["DOWN_ARROW"]
RIGHT_ARROW = FUNCTION_KEYS["RIGHT_ARROW"]
LEFT_ARROW = FUNCTION_KEYS["LEFT_ARROW"]
HOME = FUNCTION_KEYS["HOME"]
INSERT = FUNCTION_KEYS["INSERT"]
DELETE = FUNCTION_KEYS["DELETE"]
END = FUNCTION_KEYS["END"]
PGUP = FUNCTION_KEYS["PGUP"]
PGDN = FUNCTION_KEYS["PGDN"]
NUMPAD_MIDDLE = FUNCTION_KEYS["NUMPAD_MIDDLE"]
F1, F2, F3, F4, F5, F6 = (FUNCTION_KEYS[f"F{n}"] for n in range(1, 7))
F7, F8, F9, F10, F11, F12 = (FUNCTION_KEYS[f"F{n}"] for n in range(7, 13))


class modes:  # noqa: N801 (Twisted's name)
    """ANSI modes (setModes/resetModes)."""

    KAM, IRM, SRM, LNM = 2, 4, 12, 20


class privateModes:  # noqa: N801 (Twisted's name)
    """DEC private modes (setPrivateModes/resetPrivateModes)."""

    CURSOR_MODE, ANSI_VT52, COLUMN, SCROLL, SCREEN, ORIGIN = 1, 2, 3, 4, 5, 6
    AUTO_WRAP, AUTO_REPEAT, PRINTER_FORM_FEED, PRINTER_EXTENT, CURSOR_MODE_SHOW = 7, 8, 18, 19, 25


class ITerminalProtocol(Interface):
    """A program drawn on a terminal: it gets keystrokes and the terminal's size."""

    def makeConnection(transport: Any) -> None:
        """Start, drawing on ``transport`` (an ITerminalTransport)."""

    def keystrokeReceived(keyID: Any, modifier: int | None) -> None:
        """A key was pressed: a FunctionKey constant or the bytes of one character."""

    def terminalSize(width: int, height: int) -> None:
        """The terminal has this many columns and lines (now, or from now on)."""

    def unhandledControlSequence(seq: bytes) -> None:
        """The terminal sent an escape sequence the parser does not know."""

    def connectionLost(reason: Failure) -> None:
        """The terminal is gone."""


class ITerminalTransport(interfaces.ITransport):
    """A terminal to draw on: each method sends the escape sequence that does it."""

    def cursorUp(n: int = 1) -> None:
        """Move the cursor up ``n`` lines."""

    def cursorDown(n: int = 1) -> None:
        """Move the cursor down ``n`` lines."""

    def cursorForward(n: int = 1) -> None:
        """Move the cursor right ``n`` columns."""

    def cursorBackward(n: int = 1) -> None:
        """Move the cursor left ``n`` columns."""

    def cursorPosition(column: int, line: int) -> None:
        """Move the cursor to ``column``, ``line`` (from 0)."""

    def cursorHome() -> None:
        """Move the cursor to the top left corner."""

    def index() -> None:
        """Move down a line, scrolling at the bottom."""

    def reverseIndex() -> None:
        """Move up a line, scrolling at the top."""

    def nextLine() -> None:
        """Move to the start of the next line."""

    def saveCursor() -> None:
        """Remember the cursor's position and renditions."""

    def restoreCursor() -> None:
        """Go back to what saveCursor remembered."""

    def setModes(modes: list[int]) -> None:
        """Set ANSI modes."""

    def resetModes(modes: list[int]) -> None:
        """Reset ANSI modes."""

    def setPrivateModes(modes: list[int]) -> None:
        """Set DEC private modes."""

    def resetPrivateModes(modes: list[int]) -> None:
        """Reset DEC private modes."""

    def applicationKeypadMode() -> None:
        """The keypad sends application sequences."""

    def numericKeypadMode() -> None:
        """The keypad sends digits."""

    def selectCharacterSet(charSet: bytes, which: bytes) -> None:
        """Put character set ``charSet`` (CS_US...) in slot ``which`` (G0 or G1)."""

    def shiftIn() -> None:
        """Use the G0 character set."""

    def shiftOut() -> None:
        """Use the G1 character set."""

    def singleShift2() -> None:
        """The next character is from G2."""

    def singleShift3() -> None:
        """The next character is from G3."""

    def selectGraphicRendition(*attributes: int) -> None:
        """Set renditions (BOLD, FOREGROUND + RED...) for what is written next."""

    def horizontalTabulationSet() -> None:
        """Set a tab stop at the cursor's column."""

    def tabulationClear() -> None:
        """Clear the tab stop at the cursor's column."""

    def tabulationClearAll() -> None:
        """Clear every tab stop."""

    def doubleHeightLine(top: bool = True) -> None:
        """Make the cursor's line the top (or bottom) half of double-height text."""

    def singleWidthLine() -> None:
        """Make the cursor's line single width and height."""

    def doubleWidthLine() -> None:
        """Make the cursor's line double width."""

    def eraseToLineEnd() -> None:
        """Erase from the cursor to the end of its line."""

    def eraseToLineBeginning() -> None:
        """Erase from the start of the line to the cursor."""

    def eraseLine() -> None:
        """Erase the cursor's line."""

    def eraseToDisplayEnd() -> None:
        """Erase from the cursor to the end of the screen."""

    def eraseToDisplayBeginning() -> None:
        """Erase from the start of the screen to the cursor."""

    def eraseDisplay() -> None:
        """Erase the screen."""

    def deleteCharacter(n: int = 1) -> None:
        """Delete ``n`` characters at the cursor; the rest of the line moves left."""

    def insertLine(n: int = 1) -> None:
        """Insert ``n`` blank lines at the cursor's line."""

    def deleteLine(n: int = 1) -> None:
        """Delete ``n`` lines from the cursor's line."""

    def setScrollRegion(first: int | None = None, last: int | None = None) -> None:
        """Scroll only lines ``first`` to ``last`` (from 0; None for the screen's edge)."""

    def reportCursorPosition() -> Any:
        """Ask where the cursor is: a Deferred of (column, line)."""

    def reset() -> None:
        """Reset the terminal to its initial state."""

    def unhandledControlSequence(seq: bytes) -> None:
        """A sequence for the terminal that the parser does not know."""


@implementer(ITerminalProtocol)
class TerminalProtocol:
    """An ITerminalProtocol that does nothing: subclass it (``self.terminal`` is the
    ITerminalTransport once connected)."""

    terminal: Any = None

    def makeConnection(self, terminal: Any) -> None:
        self.terminal = terminal
        self.connectionMade()

    def connectionMade(self) -> None:
        """The terminal is there; draw the first screen."""

    def keystrokeReceived(self, keyID: Any, modifier: int | None) -> None:
        pass

    def terminalSize(self, width: int, height: int) -> None:
        pass

    def unhandledControlSequence(self, seq: bytes) -> None:
        pass

    def connectionLost(self, reason: Failure) -> None:
        pass


def _withFunctionKeys(cls: type) -> type:
    """Put the FunctionKey constants and modifiers on ``cls`` (self.terminal.UP_ARROW)."""
    for name, key in FUNCTION_KEYS.items():
        setattr(cls, name, key)
    cls.SHIFT, cls.ALT, cls.CONTROL = SHIFT, ALT, CONTROL  # type: ignore[attr-defined]
    return cls


def _csi(*parameters: int, final: bytes, private: bool = False) -> bytes:
    joined = b";".join(b"%d" % p for p in parameters)
    return b"\x1b[" + (b"?" if private else b"") + joined + final


@_withFunctionKeys
@implementer(ITerminalTransport)
class ServerProtocol(protocol.Protocol):
    """The server's end of a terminal: keystrokes in, escape sequences out.

    ``ServerProtocol(protocolFactory, *a, **kw)`` makes ``protocolFactory(*a, **kw)``
    (an ITerminalProtocol) when the connection is made and connects it to itself as
    its terminal. ``terminalSize(width, height)`` passes the size on (telnet's NAWS and
    SSH's pty-req and window-change come through it).
    """

    protocolFactory: Callable[..., Any] | None = None
    terminalProtocol: Any = None
    moreKeysComing = False
    # The answers the terminal owes us: at most this many requests wait at once.
    maxPendingReports = 16

    def __init__(self, protocolFactory: Callable[..., Any] | None = None, *a: Any, **kw: Any):
        if protocolFactory is not None:
            self.protocolFactory = protocolFactory
        self.protocolArgs = a
        self.protocolKwArgs = kw
        self._parser = _keyparser.KeyParser()
        self._reports: list[defer.Deferred[tuple[int, int]]] = []
        self.lastWrite = b""

    def connectionMade(self) -> None:
        if self.protocolFactory is not None:
            self.terminalProtocol = self.protocolFactory(*self.protocolArgs, **self.protocolKwArgs)
            try:
                factory = self.factory
            except AttributeError:
                pass
            else:
                self.terminalProtocol.factory = factory
            self.terminalProtocol.makeConnection(self)

    def dataReceived(self, data: bytes) -> None:
        events = self._parser.feed(data)
        last = len(events) - 1
        for number, event in enumerate(events):
            if self.terminalProtocol is None:
                return
            # True while more keys of the same read follow (a paste): a program may
            # put off redrawing until the last (recvline's moreCharactersComing).
            self.moreKeysComing = number < last
            if isinstance(event, _keyparser.Key):
                self.terminalProtocol.keystrokeReceived(event.key, event.modifier)
            elif isinstance(event, _keyparser.CursorReport):
                if self._reports:
                    self._reports.pop(0).callback((event.x, event.y))
            else:
                self.terminalProtocol.unhandledControlSequence(event.sequence)

    def terminalSize(self, width: int, height: int) -> None:
        if self.terminalProtocol is not None:
            self.terminalProtocol.terminalSize(width, height)

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        reports, self._reports = self._reports, []
        for waiting in reports:
            waiting.errback(Failure(error.ConnectionLost("the terminal went away")))
        if self.terminalProtocol is not None:
            terminal, self.terminalProtocol = self.terminalProtocol, None
            terminal.connectionLost(reason)

    # -- ITerminalTransport ------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if data:
            self.lastWrite = data
            self.transport.write(data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        self.write(b"".join(data))

    def loseConnection(self) -> None:
        self.transport.loseConnection()

    def getHost(self) -> Any:
        return self.transport.getHost()

    def getPeer(self) -> Any:
        return self.transport.getPeer()

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.transport.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        self.transport.unregisterProducer()

    def cursorUp(self, n: int = 1) -> None:
        self.write(_csi(n, final=b"A"))

    def cursorDown(self, n: int = 1) -> None:
        self.write(_csi(n, final=b"B"))

    def cursorForward(self, n: int = 1) -> None:
        self.write(_csi(n, final=b"C"))

    def cursorBackward(self, n: int = 1) -> None:
        if n > 0:
            self.write(_csi(n, final=b"D"))

    def cursorPosition(self, column: int, line: int) -> None:
        self.write(_csi(line + 1, column + 1, final=b"H"))

    def cursorHome(self) -> None:
        self.write(b"\x1b[H")

    def index(self) -> None:
        self.write(b"\x1bD")

    def reverseIndex(self) -> None:
        self.write(b"\x1bM")

    def nextLine(self) -> None:
        # CR LF rather than NEL (ESC E): every terminal and terminal emulator knows it.
        self.write(b"\r\n")

    def saveCursor(self) -> None:
        self.write(b"\x1b7")

    def restoreCursor(self) -> None:
        self.write(b"\x1b8")

    def setModes(self, modes: list[int]) -> None:
        self.write(_csi(*modes, final=b"h"))

    def resetModes(self, modes: list[int]) -> None:
        self.write(_csi(*modes, final=b"l"))

    def setPrivateModes(self, modes: list[int]) -> None:
        self.write(_csi(*modes, final=b"h", private=True))

    def resetPrivateModes(self, modes: list[int]) -> None:
        self.write(_csi(*modes, final=b"l", private=True))

    def applicationKeypadMode(self) -> None:
        self.write(b"\x1b=")

    def numericKeypadMode(self) -> None:
        self.write(b"\x1b>")

    def selectCharacterSet(self, charSet: bytes, which: bytes) -> None:
        if which not in (G0, G1):
            raise ValueError(f"which must be G0 or G1, not {which!r}")
        self.write(b"\x1b" + which + charSet)

    def shiftIn(self) -> None:
        self.write(b"\x0f")

    def shiftOut(self) -> None:
        self.write(b"\x0e")

    def singleShift2(self) -> None:
        self.write(b"\x1bN")

    def singleShift3(self) -> None:
        self.write(b"\x1bO")

    def selectGraphicRendition(self, *attributes: int) -> None:
        self.write(_csi(*attributes, final=b"m"))

    def horizontalTabulationSet(self) -> None:
        self.write(b"\x1bH")

    def tabulationClear(self) -> None:
        self.write(b"\x1b[g")

    def tabulationClearAll(self) -> None:
        self.write(b"\x1b[3g")

    def doubleHeightLine(self, top: bool = True) -> None:
        self.write(b"\x1b#3" if top else b"\x1b#4")

    def singleWidthLine(self) -> None:
        self.write(b"\x1b#5")

    def doubleWidthLine(self) -> None:
        self.write(b"\x1b#6")

    def eraseToLineEnd(self) -> None:
        self.write(b"\x1b[K")

    def eraseToLineBeginning(self) -> None:
        self.write(b"\x1b[1K")

    def eraseLine(self) -> None:
        self.write(b"\x1b[2K")

    def eraseToDisplayEnd(self) -> None:
        self.write(b"\x1b[J")

    def eraseToDisplayBeginning(self) -> None:
        self.write(b"\x1b[1J")

    def eraseDisplay(self) -> None:
        self.write(b"\x1b[2J")

    def deleteCharacter(self, n: int = 1) -> None:
        self.write(_csi(n, final=b"P"))

    def insertLine(self, n: int = 1) -> None:
        self.write(_csi(n, final=b"L"))

    def deleteLine(self, n: int = 1) -> None:
        self.write(_csi(n, final=b"M"))

    def setScrollRegion(self, first: int | None = None, last: int | None = None) -> None:
        top = b"" if first is None else b"%d" % (first + 1)
        bottom = b"" if last is None else b"%d" % (last + 1)
        self.write(b"\x1b[" + top + b";" + bottom + b"r")

    def reportCursorPosition(self) -> defer.Deferred[tuple[int, int]]:
        if len(self._reports) >= self.maxPendingReports:
            return defer.fail(RuntimeError("too many cursor position requests unanswered"))
        waiting: defer.Deferred[tuple[int, int]] = defer.Deferred()
        self._reports.append(waiting)
        self._parser.reportsExpected += 1
        self.write(b"\x1b[6n")
        return waiting

    def reset(self) -> None:
        self.write(b"\x1bc")

    def unhandledControlSequence(self, seq: bytes) -> None:
        """Part of ITerminalTransport; the sequences the terminal sends go to the
        terminal program's unhandledControlSequence instead."""


_KEY_SEQUENCES: dict[FunctionKey, bytes] = {
    UP_ARROW: b"\x1b[A", DOWN_ARROW: b"\x1b[B", RIGHT_ARROW: b"\x1b[C", LEFT_ARROW: b"\x1b[D",
    HOME: b"\x1b[1~", INSERT: b"\x1b[2~", DELETE: b"\x1b[3~", END: b"\x1b[4~",
    PGUP: b"\x1b[5~", PGDN: b"\x1b[6~", NUMPAD_MIDDLE: b"\x1b[E",
    F1: b"\x1bOP", F2: b"\x1bOQ", F3: b"\x1bOR", F4: b"\x1bOS", F5: b"\x1b[15~",
    F6: b"\x1b[17~", F7: b"\x1b[18~", F8: b"\x1b[19~", F9: b"\x1b[20~", F10: b"\x1b[21~",
    F11: b"\x1b[23~", F12: b"\x1b[24~",
}  # fmt: skip


@_withFunctionKeys
class ClientProtocol(protocol.Protocol):
    """The client's end: the server's escape sequences become calls on a terminal.

    ``ClientProtocol(terminalFactory, *a, **kw)`` makes the terminal (an
    ITerminalTransport such as helper.TerminalBuffer) when the connection is made and
    gives it this protocol as its ``makeConnection`` transport, so that it can type
    (``keystrokeReceived``). A request for the cursor's position is answered from the
    terminal's ``reportCursorPosition()``.
    """

    terminal: Any = None

    def __init__(self, terminalFactory: Callable[..., Any] | None = None, *a: Any, **kw: Any):
        self.terminalFactory = terminalFactory
        self.terminalArgs = a
        self.terminalKwArgs = kw
        self._parser = _vt102parser.OutputParser()

    def connectionMade(self) -> None:
        if self.terminalFactory is not None:
            self.terminal = self.terminalFactory(*self.terminalArgs, **self.terminalKwArgs)
            self.terminal.makeConnection(self)

    def dataReceived(self, data: bytes) -> None:
        for name, args in self._parser.feed(data):
            if name == "reportCursorPosition":
                defer.maybeDeferred(self.terminal.reportCursorPosition).addCallback(self._report)
                continue
            getattr(self.terminal, name)(*args)

    def _report(self, position: tuple[int, int]) -> None:
        column, line = position
        self.transport.write(_csi(line + 1, column + 1, final=b"R"))

    def keystrokeReceived(self, keyID: Any, modifier: int | None = None) -> None:
        """Type a key: a FunctionKey or the bytes of a character (ALT sends ESC first)."""
        sequence = _KEY_SEQUENCES[keyID] if isinstance(keyID, FunctionKey) else keyID
        if modifier is not None and modifier & ALT:
            sequence = b"\x1b" + sequence
        self.transport.write(sequence)

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        if self.terminal is not None:
            lost = getattr(self.terminal, "connectionLost", None)
            if lost is not None:
                lost(reason)
