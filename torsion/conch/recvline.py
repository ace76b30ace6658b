"""Line editing on a terminal: RecvLine and HistoricRecvLine (Twisted's conch.recvline).

A `RecvLine` is an insults TerminalProtocol (it runs under
torsion.conch.insults.insults.ServerProtocol, over SSH or telnet) that shows a prompt
(``ps[pn]``), echoes what is typed and lets the user edit the line before Enter hands
it to ``lineReceived(line)``: Left and Right, Home and End (and Control-A/E in the
manhole), Backspace and Delete, Tab (spaces to the next ``TABSTOP``), Insert to switch
between inserting and typing over. Keys go through ``keyHandlers`` ({key: method});
printable characters to ``characterReceived``. The line is a list of characters (the
bytes of one UTF-8 character each) with the cursor at ``lineBufferIndex``; it is
bounded by ``maxLineLength`` (more rings the bell). `HistoricRecvLine` adds history:
Up and Down walk the lines entered before (``maxHistory`` kept), and the line being
typed comes back after the newest.

Drawing assumes the line fits the terminal's width (as Twisted's does): the cursor
moves within the line with cursor-left/right. Enter is CR, LF or CR LF (a telnet
client's Enter is CR LF, a terminal's CR). Tests: tests/conch/test_recvline.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torsion.conch.insults import insults
from torsion.python.failure import Failure

__all__ = ["HistoricRecvLine", "RecvLine", "TransportSequence"]


def _isPrintable(keyID: Any) -> bool:
    if not isinstance(keyID, bytes) or not keyID:
        return False
    if len(keyID) > 1:  # a UTF-8 character beyond ASCII
        return keyID.decode("utf-8", "replace").isprintable()
    return 0x20 <= keyID[0] < 0x7F


class RecvLine(insults.TerminalProtocol):
    """A prompt and an editable input line on a terminal."""

    width = 80
    height = 24
    TABSTOP = 4
    ps = (b">>> ", b"... ")
    pn = 0
    maxLineLength = 16 * 1024

    def connectionMade(self) -> None:
        self.lineBuffer: list[bytes] = []
        self.lineBufferIndex = 0
        self.mode = "insert"
        self._afterCR = False
        t = self.terminal
        self.keyHandlers: dict[Any, Callable[[], None]] = {
            t.LEFT_ARROW: self.handle_LEFT,
            t.RIGHT_ARROW: self.handle_RIGHT,
            b"\t": self.handle_TAB,
            b"\r": self.handle_RETURN,
            b"\n": self.handle_RETURN,
            b"\x7f": self.handle_BACKSPACE,
            b"\x08": self.handle_BACKSPACE,
            t.DELETE: self.handle_DELETE,
            t.INSERT: self.handle_INSERT,
            t.HOME: self.handle_HOME,
            t.END: self.handle_END,
        }
        self.initializeScreen()

    def initializeScreen(self) -> None:
        """Draw the first prompt (Twisted resets the whole terminal; we do not wipe the
        user's screen)."""
        self.terminal.write(self.ps[self.pn])
        self.setInsertMode()

    def currentLineBuffer(self) -> tuple[bytes, bytes]:
        """The input line before and after the cursor."""
        return (
            b"".join(self.lineBuffer[: self.lineBufferIndex]),
            b"".join(self.lineBuffer[self.lineBufferIndex :]),
        )

    def setInsertMode(self) -> None:
        self.mode = "insert"

    def setTypeoverMode(self) -> None:
        self.mode = "typeover"

    def drawInputLine(self) -> None:
        """Write the prompt and the line (the cursor ends after it)."""
        self.terminal.write(self.ps[self.pn] + b"".join(self.lineBuffer))
        self.lineBufferIndex = len(self.lineBuffer)

    def terminalSize(self, width: int, height: int) -> None:
        self.width, self.height = width, height

    def unhandledControlSequence(self, seq: bytes) -> None:
        """Ignored: a terminal sends reports nobody asked for, and a log line per
        key would let a user fill the log (or block on a full log pipe)."""

    def keystrokeReceived(self, keyID: Any, modifier: int | None) -> None:
        afterCR, self._afterCR = self._afterCR, keyID == b"\r"
        if keyID == b"\n" and afterCR:
            return  # the LF of a CR LF: Enter was handled at the CR
        handler = self.keyHandlers.get(keyID)
        if handler is not None:
            handler()
        elif _isPrintable(keyID):
            more = bool(getattr(self.terminal, "moreKeysComing", False))
            self.characterReceived(keyID, more)
        # Other keys (function keys without a handler, control bytes) do nothing.

    def characterReceived(self, ch: bytes, moreCharactersComing: bool) -> None:
        index = self.lineBufferIndex
        if self.mode == "insert" or index == len(self.lineBuffer):
            if len(self.lineBuffer) >= self.maxLineLength:
                self.terminal.write(b"\x07")
                return
            self.lineBuffer.insert(index, ch)
            rest = b"".join(self.lineBuffer[index + 1 :])
            self.terminal.write(ch + rest)
            self.terminal.cursorBackward(len(self.lineBuffer) - index - 1)
        else:
            self.lineBuffer[index] = ch
            self.terminal.write(ch)
        self.lineBufferIndex = index + 1

    def handle_TAB(self) -> None:
        spaces = self.TABSTOP - self.lineBufferIndex % self.TABSTOP
        for left in range(spaces - 1, -1, -1):
            self.characterReceived(b" ", left > 0)

    def handle_LEFT(self) -> None:
        if self.lineBufferIndex > 0:
            self.lineBufferIndex -= 1
            self.terminal.cursorBackward()

    def handle_RIGHT(self) -> None:
        if self.lineBufferIndex < len(self.lineBuffer):
            self.lineBufferIndex += 1
            self.terminal.cursorForward()

    def handle_HOME(self) -> None:
        self.terminal.cursorBackward(self.lineBufferIndex)
        self.lineBufferIndex = 0

    def handle_END(self) -> None:
        offset = len(self.lineBuffer) - self.lineBufferIndex
        if offset:
            self.terminal.cursorForward(offset)
        self.lineBufferIndex = len(self.lineBuffer)

    def handle_BACKSPACE(self) -> None:
        if self.lineBufferIndex > 0:
            self.lineBufferIndex -= 1
            del self.lineBuffer[self.lineBufferIndex]
            self.terminal.cursorBackward()
            self.terminal.deleteCharacter()

    def handle_DELETE(self) -> None:
        if self.lineBufferIndex < len(self.lineBuffer):
            del self.lineBuffer[self.lineBufferIndex]
            self.terminal.deleteCharacter()

    def handle_INSERT(self) -> None:
        if self.mode == "insert":
            self.setTypeoverMode()
        else:
            self.setInsertMode()

    def handle_RETURN(self) -> None:
        line = b"".join(self.lineBuffer)
        self.lineBuffer = []
        self.lineBufferIndex = 0
        self.terminal.nextLine()
        self.lineReceived(line)

    def lineReceived(self, line: bytes) -> None:
        """A line was entered; override this (the default draws the next prompt)."""
        self.drawInputLine()

    def replaceLine(self, line: bytes) -> None:
        """Put ``line`` in place of the input line, the cursor at its end."""
        self.handle_HOME()
        self.terminal.eraseToLineEnd()
        self.lineBuffer = [c.encode("utf-8") for c in line.decode("utf-8", "replace")]
        self.terminal.write(line)
        self.lineBufferIndex = len(self.lineBuffer)


class HistoricRecvLine(RecvLine):
    """A RecvLine with a history of the lines entered, walked with Up and Down."""

    maxHistory = 1000

    def connectionMade(self) -> None:
        self.historyLines: list[bytes] = []
        self.historyPosition = 0
        self._draft = b""
        super().connectionMade()
        self.keyHandlers.update(
            {self.terminal.UP_ARROW: self.handle_UP, self.terminal.DOWN_ARROW: self.handle_DOWN}
        )

    def currentHistoryBuffer(self) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
        """The history before and after the current position."""
        lines = tuple(self.historyLines)
        return lines[: self.historyPosition], lines[self.historyPosition :]

    def handle_UP(self) -> None:
        if self.historyPosition == 0:
            return
        if self.historyPosition == len(self.historyLines):
            self._draft = b"".join(self.lineBuffer)
        self.historyPosition -= 1
        self.replaceLine(self.historyLines[self.historyPosition])

    def handle_DOWN(self) -> None:
        if self.historyPosition >= len(self.historyLines):
            return
        self.historyPosition += 1
        if self.historyPosition == len(self.historyLines):
            self.replaceLine(self._draft)
        else:
            self.replaceLine(self.historyLines[self.historyPosition])

    def handle_RETURN(self) -> None:
        if self.lineBuffer:
            self.historyLines.append(b"".join(self.lineBuffer))
            del self.historyLines[: -self.maxHistory]
        self.historyPosition = len(self.historyLines)
        self._draft = b""
        super().handle_RETURN()


class TransportSequence:
    """Several terminals as one: each call goes to all of them (Twisted's name), so
    a session can be shown on a second terminal (or logged) as it is typed."""

    def __init__(self, *transports: Any) -> None:
        if not transports:
            raise ValueError("TransportSequence needs at least one transport")
        self.transports = transports

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or not hasattr(self.transports[0], name):
            raise AttributeError(name)
        first = getattr(self.transports[0], name)
        if not callable(first):
            return first

        def everywhere(*a: Any, **kw: Any) -> Any:
            results = [getattr(t, name)(*a, **kw) for t in self.transports]
            return results[0]

        return everywhere

    def connectionLost(self, reason: Failure) -> None:
        for transport in self.transports:
            lost = getattr(transport, "connectionLost", None)
            if lost is not None:
                lost(reason)
