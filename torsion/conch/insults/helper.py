"""TerminalBuffer: a terminal's screen in memory (Twisted's insults.helper).

It is an ITerminalTransport that does what a VT102 would do with each call: a grid
of ``width`` by ``height`` cells, a cursor, line wrapping and scrolling, erasing,
insert mode, deleted characters and lines. Put it under a
torsion.conch.insults.insults.ClientProtocol and it shows what a server drew; the
tests of the line editor and the manhole read the screen back with ``bytes(buffer)``
(the lines, their trailing blanks removed, joined with LF). Graphic renditions and
character sets are remembered as the current state but not per cell.
Tests: tests/conch/test_insults.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from zope.interface import implementer

from torsion.conch.insults import insults

__all__ = ["TerminalBuffer"]

_BLANK = b" "
_TAB = 8


def _characters(data: bytes) -> list[bytes]:
    """``data`` cut into characters: one byte each, or one UTF-8 sequence."""
    text = data.decode("utf-8", "replace")
    return [character.encode("utf-8") for character in text]


@implementer(insults.ITerminalTransport)
class TerminalBuffer:
    """A screen that keeps what was drawn on it."""

    width = 80
    height = 24
    transport: Any = None

    def __init__(self) -> None:
        self.reset()

    def makeConnection(self, transport: Any) -> None:
        """The ClientProtocol that feeds this screen (and types for it)."""
        self.transport = transport

    def connectionLost(self, reason: Any) -> None:
        pass

    # -- reading the screen ---------------------------------------------------------

    def __bytes__(self) -> bytes:
        return b"\n".join(b"".join(line).rstrip() for line in self.lines)

    def getCharacter(self, x: int, y: int) -> bytes:
        return self.lines[y][x]

    # -- ITerminalTransport ------------------------------------------------------------

    def reset(self) -> None:
        self.lines = [self._emptyLine() for _ in range(self.height)]
        self.x = self.y = 0
        self.modes: dict[int, bool] = {}
        self.privateModes: dict[int, bool] = {insults.privateModes.AUTO_WRAP: True}
        self.graphicRendition: list[int] = []
        self.charsets = {insults.G0: insults.CS_US, insults.G1: insults.CS_US}
        self.activeCharset = insults.G0
        self._saved: tuple[int, int] | None = None
        self.scrollRegion = (0, self.height - 1)
        self.tabStops = set(range(0, self.width, _TAB))
        self.unhandled: list[bytes] = []
        self.bells = 0

    def _emptyLine(self) -> list[bytes]:
        return [_BLANK] * self.width

    def write(self, data: bytes) -> None:
        for character in _characters(data):
            if character == b"\r":
                self.x = 0
            elif character == b"\n":
                self._lineFeed()
            elif character == b"\b":
                self.x = max(0, self.x - 1)
            elif character == b"\t":
                self.x = min((s for s in self.tabStops if s > self.x), default=self.width - 1)
            elif character == b"\x07":
                self.bells += 1
            elif character >= b" " or len(character) > 1:
                self._put(character)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        self.write(b"".join(data))

    def _put(self, character: bytes) -> None:
        if self.x >= self.width:
            if self.privateModes.get(insults.privateModes.AUTO_WRAP):
                self.x = 0
                self._lineFeed()
            else:
                self.x = self.width - 1
        line = self.lines[self.y]
        if self.modes.get(insults.modes.IRM):
            line.insert(self.x, character)
            del line[self.width :]
        else:
            line[self.x] = character
        self.x += 1

    def _lineFeed(self) -> None:
        top, bottom = self.scrollRegion
        if self.y == bottom:
            del self.lines[top]
            self.lines.insert(bottom, self._emptyLine())
        else:
            self.y = min(self.y + 1, self.height - 1)

    def cursorUp(self, n: int = 1) -> None:
        self.y = max(0, self.y - n)

    def cursorDown(self, n: int = 1) -> None:
        self.y = min(self.height - 1, self.y + n)

    def cursorForward(self, n: int = 1) -> None:
        self.x = min(self.width - 1, self.x + n)

    def cursorBackward(self, n: int = 1) -> None:
        self.x = max(0, min(self.x, self.width - 1) - n)

    def cursorPosition(self, column: int, line: int) -> None:
        self.x = max(0, min(self.width - 1, column))
        self.y = max(0, min(self.height - 1, line))

    def cursorHome(self) -> None:
        self.x = self.y = 0

    def index(self) -> None:
        self._lineFeed()

    def reverseIndex(self) -> None:
        top, bottom = self.scrollRegion
        if self.y == top:
            del self.lines[bottom]
            self.lines.insert(top, self._emptyLine())
        else:
            self.y = max(0, self.y - 1)

    def nextLine(self) -> None:
        self.x = 0
        self._lineFeed()

    def saveCursor(self) -> None:
        self._saved = (self.x, self.y)

    def restoreCursor(self) -> None:
        if self._saved is not None:
            self.x, self.y = self._saved

    def setModes(self, modes: list[int]) -> None:
        self.modes.update(dict.fromkeys(modes, True))

    def resetModes(self, modes: list[int]) -> None:
        self.modes.update(dict.fromkeys(modes, False))

    def setPrivateModes(self, modes: list[int]) -> None:
        self.privateModes.update(dict.fromkeys(modes, True))

    def resetPrivateModes(self, modes: list[int]) -> None:
        self.privateModes.update(dict.fromkeys(modes, False))

    def applicationKeypadMode(self) -> None:
        self.keypadMode = "app"

    def numericKeypadMode(self) -> None:
        self.keypadMode = "num"

    def selectCharacterSet(self, charSet: bytes, which: bytes) -> None:
        self.charsets[which] = charSet

    def shiftIn(self) -> None:
        self.activeCharset = insults.G0

    def shiftOut(self) -> None:
        self.activeCharset = insults.G1

    def singleShift2(self) -> None:
        pass

    def singleShift3(self) -> None:
        pass

    def selectGraphicRendition(self, *attributes: int) -> None:
        for attribute in attributes:
            if attribute == insults.NORMAL:
                self.graphicRendition = []
            else:
                self.graphicRendition.append(attribute)

    def horizontalTabulationSet(self) -> None:
        self.tabStops.add(self.x)

    def tabulationClear(self) -> None:
        self.tabStops.discard(self.x)

    def tabulationClearAll(self) -> None:
        self.tabStops.clear()

    def doubleHeightLine(self, top: bool = True) -> None:
        pass

    def singleWidthLine(self) -> None:
        pass

    def doubleWidthLine(self) -> None:
        pass

    def eraseToLineEnd(self) -> None:
        line = self.lines[self.y]
        line[self.x :] = [_BLANK] * (self.width - self.x)

    def eraseToLineBeginning(self) -> None:
        line = self.lines[self.y]
        end = min(self.x, self.width - 1) + 1
        line[:end] = [_BLANK] * end

    def eraseLine(self) -> None:
        self.lines[self.y] = self._emptyLine()

    def eraseToDisplayEnd(self) -> None:
        self.eraseToLineEnd()
        for y in range(self.y + 1, self.height):
            self.lines[y] = self._emptyLine()

    def eraseToDisplayBeginning(self) -> None:
        self.eraseToLineBeginning()
        for y in range(self.y):
            self.lines[y] = self._emptyLine()

    def eraseDisplay(self) -> None:
        self.lines = [self._emptyLine() for _ in range(self.height)]

    def deleteCharacter(self, n: int = 1) -> None:
        line = self.lines[self.y]
        x = min(self.x, self.width - 1)
        del line[x : x + n]
        line.extend([_BLANK] * (self.width - len(line)))

    def insertLine(self, n: int = 1) -> None:
        _, bottom = self.scrollRegion
        for _ in range(n):
            del self.lines[bottom]
            self.lines.insert(self.y, self._emptyLine())

    def deleteLine(self, n: int = 1) -> None:
        _, bottom = self.scrollRegion
        for _ in range(n):
            del self.lines[self.y]
            self.lines.insert(bottom, self._emptyLine())

    def setScrollRegion(self, first: int | None = None, last: int | None = None) -> None:
        top = 0 if first is None else max(0, first)
        bottom = self.height - 1 if last is None else min(self.height - 1, last)
        if top < bottom:
            self.scrollRegion = (top, bottom)

    def reportCursorPosition(self) -> tuple[int, int]:
        return (self.x, self.y)

    def unhandledControlSequence(self, seq: bytes) -> None:
        self.unhandled.append(seq)
        del self.unhandled[:-100]

    def loseConnection(self) -> None:
        if self.transport is not None:
            self.transport.transport.loseConnection()

    def getHost(self) -> Any:
        return None if self.transport is None else self.transport.transport.getHost()

    def getPeer(self) -> Any:
        return None if self.transport is None else self.transport.transport.getPeer()
