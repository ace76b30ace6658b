"""The manhole: a Python shell inside a running program (Twisted's conch.manhole).

`ManholeInterpreter` is a ``code.InteractiveInterpreter`` over a namespace: ``push``
takes a line, and once the lines make a complete statement it runs them in the
namespace, in the program's own process and thread (the reactor's: the code sees and
changes the live objects; a long computation holds the reactor up meanwhile). What the
code prints and the values of expressions go to its handler's ``addOutput``, and so
do tracebacks (with the manhole's own frames left out). An expression whose value is
a Deferred (or a coroutine, which is run as one) shows ``<Deferred #n>`` at once, and
``Deferred #n called back: value`` or ``Deferred #n failed: error`` when it fires.
``exit()`` (SystemExit) ends the session, never the program.

`Manhole` is that interpreter on a terminal: a torsion.conch.recvline
HistoricRecvLine with the ``>>> `` and ``... `` prompts, multi-line input, output
(asynchronous output too, drawn above the line being typed), Control-C to drop the
input, Control-D on an empty line (or Control-\\) to leave, Control-L to clear the
screen, Control-A and Control-E for Home and End. `ColoredManhole` also colours the
line as it is typed (keywords, strings, numbers, comments).

Serve one with torsion.conch.manhole_ssh (over SSH) or telnet, or with ``torsiond
manhole`` (torsion.conch.manhole_tap). Docs: docs/conch-manhole.md.
Tests: tests/conch/test_manhole.py.
"""

from __future__ import annotations

import code
import contextlib
import io
import keyword
import sys
import tokenize
import traceback
from types import CodeType
from typing import Any

from torsion.conch import recvline
from torsion.conch.insults import insults
from torsion.internet import defer
from torsion.python.failure import Failure

__all__ = [
    "CTRL_A",
    "CTRL_BACKSLASH",
    "CTRL_C",
    "CTRL_D",
    "CTRL_E",
    "CTRL_L",
    "ColoredManhole",
    "FileWrapper",
    "Manhole",
    "ManholeInterpreter",
    "lastColorizedLine",
]

CTRL_A, CTRL_C, CTRL_D, CTRL_E, CTRL_L = b"\x01", b"\x03", b"\x04", b"\x05", b"\x0c"
CTRL_BACKSLASH = b"\x1c"


class FileWrapper(io.TextIOBase):
    """A text file whose writes go to a handler's ``addOutput`` (sys.stdout while the
    manhole runs code)."""

    def __init__(self, handler: Any) -> None:
        super().__init__()
        self.handler = handler

    def write(self, data: str) -> int:
        self.handler.addOutput(data, False)
        return len(data)

    def writable(self) -> bool:
        return True


class ManholeInterpreter(code.InteractiveInterpreter):
    """An interactive interpreter whose output goes to ``handler.addOutput(text, isAsync)``."""

    numDeferreds = 0

    def __init__(
        self, handler: Any, locals: dict[str, Any] | None = None, filename: str = "<console>"
    ) -> None:
        super().__init__(locals)
        self.handler = handler
        self.filename = filename
        self._pendingDeferreds: dict[int, defer.Deferred[Any]] = {}
        self.resetBuffer()

    def resetBuffer(self) -> None:
        """Forget the lines of an unfinished statement."""
        self.buffer: list[str] = []

    def push(self, line: str) -> bool:
        """Add a line; run the statement if it is complete. True while more is needed."""
        self.buffer.append(line)
        more = self.runsource("\n".join(self.buffer), self.filename)
        if not more:
            self.resetBuffer()
        return more

    def runcode(self, codeObject: CodeType) -> None:
        output = FileWrapper(self.handler)
        previousHook, sys.displayhook = sys.displayhook, self.displayhook
        try:
            with contextlib.redirect_stdout(output):
                super().runcode(codeObject)
        except SystemExit:
            # exit() or quit(): the user means to leave the shell, not to stop the
            # server (code.InteractiveInterpreter lets SystemExit through).
            self.write("SystemExit: this ends the session; reactor.stop() stops the server\n")
            leave = getattr(self.handler, "handle_QUIT", None)
            if leave is not None:
                leave()
        finally:
            sys.displayhook = previousHook

    def displayhook(self, value: Any) -> None:
        """Show an expression's value (and keep it as ``_``), Deferreds as they fire."""
        if value is None:
            return
        self.locals["_"] = value
        if hasattr(value, "__await__") and not isinstance(value, defer.Deferred):
            value = defer.ensureDeferred(value)
        if isinstance(value, defer.Deferred):
            self._showDeferred(value)
        else:
            self.write(repr(value) + "\n")

    def _showDeferred(self, d: defer.Deferred[Any]) -> None:
        """Show its number now (first: it may have fired already) and its result later."""
        self.numDeferreds += 1
        number = self.numDeferreds
        self._pendingDeferreds[number] = d
        self.write(f"<Deferred #{number}>\n")
        d.addCallbacks(
            self._calledBack, self._failed, callbackArgs=(number,), errbackArgs=(number,)
        )

    def _calledBack(self, result: Any, number: int) -> Any:
        self._pendingDeferreds.pop(number, None)
        self.handler.addOutput(f"Deferred #{number} called back: {result!r}\n", True)
        return result

    def _failed(self, reason: Failure, number: int) -> None:
        # Shown here, so not logged again as unhandled when the Deferred is collected.
        self._pendingDeferreds.pop(number, None)
        self.handler.addOutput(f"Deferred #{number} failed: {reason.getErrorMessage()!r}\n", True)

    def showtraceback(self) -> None:
        # Leave out this module's frame, the one that ran the code.
        kind, value, tb = sys.exc_info()
        if tb is not None:
            tb = tb.tb_next
        self.write("".join(traceback.format_exception(kind, value, tb)))

    def write(self, data: str) -> None:
        self.handler.addOutput(data, False)


class Manhole(recvline.HistoricRecvLine):
    """A Python shell on a terminal, evaluating in ``namespace``."""

    namespace: dict[str, Any]

    def __init__(self, namespace: dict[str, Any] | None = None) -> None:
        self.namespace = {} if namespace is None else namespace
        self.interpreter: ManholeInterpreter | None = None

    def connectionMade(self) -> None:
        super().connectionMade()
        self.interpreter = ManholeInterpreter(self, self.namespace)
        self.keyHandlers.update(
            {
                CTRL_C: self.handle_INT,
                CTRL_D: self.handle_EOF,
                CTRL_L: self.handle_FF,
                CTRL_A: self.handle_HOME,
                CTRL_E: self.handle_END,
                CTRL_BACKSLASH: self.handle_QUIT,
            }
        )

    def connectionLost(self, reason: Failure) -> None:
        self.interpreter = None

    def handle_INT(self) -> None:
        """Control-C: drop the input (of every line of the statement) and start over."""
        self.terminal.nextLine()
        self.terminal.write(b"KeyboardInterrupt")
        self.terminal.nextLine()
        self.lineBuffer = []
        self.lineBufferIndex = 0
        self.pn = 0
        if self.interpreter is not None:
            self.interpreter.resetBuffer()
        self.drawInputLine()

    def handle_EOF(self) -> None:
        """Control-D: leave on an empty line, else delete the character at the cursor."""
        if self.lineBuffer:
            self.handle_DELETE()
        else:
            self.handle_QUIT()

    def handle_FF(self) -> None:
        """Control-L: clear the screen and draw the line again at the top."""
        self.terminal.eraseDisplay()
        self.terminal.cursorHome()
        index = self.lineBufferIndex
        self.drawInputLine()
        self.terminal.cursorBackward(len(self.lineBuffer) - index)
        self.lineBufferIndex = index

    def handle_QUIT(self) -> None:
        self.terminal.loseConnection()

    def lineReceived(self, line: bytes) -> None:
        if self.interpreter is None:
            return
        more = self.interpreter.push(line.decode("utf-8", "replace"))
        self.pn = int(bool(more))
        self.drawInputLine()

    def addOutput(self, data: str, isAsync: bool = False) -> None:
        """Show the interpreter's output; asynchronous output goes above the input line,
        which is drawn again under it."""
        shown = data.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8", "replace")
        if isAsync:
            self.terminal.write(b"\r")
            self.terminal.eraseToLineEnd()
        self.terminal.write(shown)
        if isAsync:
            if not shown.endswith(b"\n"):
                self.terminal.nextLine()
            index = self.lineBufferIndex
            self.drawInputLine()
            self.terminal.cursorBackward(len(self.lineBuffer) - index)
            self.lineBufferIndex = index


# Colours of ColoredManhole: SGR parameters by token kind.
_KEYWORD = (insults.BOLD, insults.FOREGROUND + insults.MAGENTA)
_STRING = (insults.FOREGROUND + insults.GREEN,)
_NUMBER = (insults.FOREGROUND + insults.CYAN,)
_COMMENT = (insults.FOREGROUND + insults.BLUE,)


def _sgr(*attributes: int) -> bytes:
    return b"\x1b[" + b";".join(b"%d" % a for a in attributes) + b"m"


def lastColorizedLine(source: bytes) -> bytes:
    """``source`` (one line of Python) with SGR colour sequences around its tokens.

    Text the tokenizer cannot finish (an open string or bracket) keeps its colour so
    far; the line's characters are never changed, only wrapped.
    """
    text = source.decode("utf-8", "replace")
    pieces: list[bytes] = []
    done = 0  # characters of ``text`` already in pieces
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.start[0] != 1:
                break
            start, end = token.start[1], token.end[1] if token.end[0] == 1 else len(text)
            if start < done:
                continue
            colour: tuple[int, ...] = ()
            if token.type == tokenize.NAME and keyword.iskeyword(token.string):
                colour = _KEYWORD
            elif token.type == tokenize.STRING:
                colour = _STRING
            elif token.type == tokenize.NUMBER:
                colour = _NUMBER
            elif token.type == tokenize.COMMENT:
                colour = _COMMENT
            if not colour:
                continue
            pieces.append(text[done:start].encode("utf-8"))
            pieces.append(_sgr(*colour) + text[start:end].encode("utf-8") + _sgr(insults.NORMAL))
            done = end
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    pieces.append(text[done:].encode("utf-8"))
    return b"".join(pieces)


class ColoredManhole(Manhole):
    """A Manhole that colours Python syntax in the line as it is typed.

    The line is coloured again after each read from the terminal (not each key of
    a paste), and a line longer than ``maxColoredLength`` characters is left plain:
    tokenizing a long line at every key would cost time quadratic in its length,
    with the reactor held up meanwhile.
    """

    maxColoredLength = 1000

    _stale = False  # characters were drawn plain, to be coloured after the read

    def keystrokeReceived(self, keyID: Any, modifier: int | None) -> None:
        super().keystrokeReceived(keyID, modifier)
        if self._stale and not getattr(self.terminal, "moreKeysComing", False):
            self._stale = False
            if self.terminal is not None:  # (the key may have ended the session)
                self._redrawColored()

    def characterReceived(self, ch: bytes, moreCharactersComing: bool) -> None:
        super().characterReceived(ch, moreCharactersComing)
        if moreCharactersComing:
            self._stale = True
        else:
            self._redrawColored()

    def handle_BACKSPACE(self) -> None:
        super().handle_BACKSPACE()
        self._redrawColored()

    def handle_DELETE(self) -> None:
        super().handle_DELETE()
        self._redrawColored()

    def _redrawColored(self) -> None:
        """Write the line again, coloured, and put the cursor back where it was."""
        if len(self.lineBuffer) > self.maxColoredLength:
            return
        index = self.lineBufferIndex
        self.terminal.cursorBackward(index)
        self.terminal.eraseToLineEnd()
        self.terminal.write(lastColorizedLine(b"".join(self.lineBuffer)))
        self.terminal.cursorBackward(len(self.lineBuffer) - index)

    def drawInputLine(self) -> None:
        self._stale = False  # drawn coloured here
        line = b"".join(self.lineBuffer)
        if len(self.lineBuffer) <= self.maxColoredLength:
            line = lastColorizedLine(line)
        self.terminal.write(self.ps[self.pn] + line)
        self.lineBufferIndex = len(self.lineBuffer)
