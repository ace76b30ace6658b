"""recvline's line editing and history, without sockets: the keys are the bytes a
terminal sends (recorded from xterm), and what the editor draws goes through a VT102
screen in memory (tests/conch/terminalhelpers.py), so each test checks both the line
that is entered and what the user sees while editing it."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.conch.terminalhelpers import TerminalPair
from torsion.conch import recvline
from torsion.conch.insults import helper

LEFT, RIGHT, UP, DOWN = b"\x1b[D", b"\x1b[C", b"\x1b[A", b"\x1b[B"
HOME, END, DELETE, INSERT = b"\x1b[H", b"\x1b[F", b"\x1b[3~", b"\x1b[2~"
BACKSPACE = b"\x7f"


class Lines(recvline.HistoricRecvLine):
    """Keeps the lines entered."""

    def __init__(self) -> None:
        self.received: list[bytes] = []

    def lineReceived(self, line: bytes) -> None:
        self.received.append(line)
        super().lineReceived(line)


def editor() -> TerminalPair:
    return TerminalPair(Lines)


def test_promptAndEcho() -> None:
    pair = editor()
    assert pair.screen.startswith(">>>") and pair.buffer.x == 4
    pair.type(b"hello")
    assert pair.line() == ">>> hello" and pair.buffer.x == 9
    pair.type(b"\r")
    assert pair.program.received == [b"hello"]
    assert pair.screen.split("\n")[:2] == [">>> hello", ">>>"]


def test_cursorKeysAndInsertingInTheMiddle() -> None:
    pair = editor()
    pair.type(b"helo" + LEFT + b"l")
    assert pair.line() == ">>> hello" and pair.buffer.x == 8
    pair.type(HOME + b"[" + END + b"]")
    assert pair.line() == ">>> [hello]"
    pair.type(b"\x1bOD\x1bOD" + b"!")  # application-mode Left, as ssh sends it in that mode
    assert pair.line() == ">>> [hell!o]"
    pair.type(RIGHT * 5 + b"\r")  # Right stops at the end
    assert pair.program.received == [b"[hell!o]"]


def test_backspaceAndDelete() -> None:
    pair = editor()
    pair.type(b"abcdef" + BACKSPACE + LEFT + LEFT + DELETE)
    assert pair.line() == ">>> abce" and pair.buffer.x == 7
    pair.type(HOME + BACKSPACE + DELETE + b"\x08" + END + DELETE)  # nothing to delete there
    assert pair.line() == ">>> bce"
    pair.type(b"\r")
    assert pair.program.received == [b"bce"]


def test_typeoverModeAndTab() -> None:
    pair = editor()
    pair.type(b"abcd" + HOME + INSERT + b"XY")
    assert pair.line() == ">>> XYcd"
    pair.type(INSERT + b"z" + END + b"\t!")
    assert pair.line() == ">>> XYzcd   !"  # Tab: spaces to the next stop (4)
    pair.type(b"\r")
    assert pair.program.received == [b"XYzcd   !"]


def test_enterIsCrLfOrCrLf() -> None:
    pair = editor()
    pair.type(b"one\r\ntwo\rthree\n\r\n")
    assert pair.program.received == [b"one", b"two", b"three", b""]


def test_utf8CharactersAreEditedWhole() -> None:
    pair = editor()
    pair.type("café".encode() + LEFT + BACKSPACE + b"f")
    assert pair.line() == ">>> café"
    pair.type(b"\r")
    assert pair.program.received == ["café".encode()]


def test_historyUpAndDownKeepsTheDraft() -> None:
    pair = editor()
    pair.type(b"first\rsecond\r\rdraft")
    assert pair.program.currentHistoryBuffer() == ((b"first", b"second"), ())
    pair.type(UP)
    assert pair.line() == ">>> second"
    pair.type(UP + UP + UP)  # stops at the oldest
    assert pair.line() == ">>> first"
    assert pair.program.currentHistoryBuffer() == ((), (b"first", b"second"))
    pair.type(DOWN)
    assert pair.line() == ">>> second"
    pair.type(DOWN + DOWN)
    assert pair.line() == ">>> draft"
    pair.type(UP + b"!\r")
    assert pair.program.received[-1] == b"second!"
    assert pair.program.historyLines == [b"first", b"second", b"second!"]


def test_historyIsBounded() -> None:
    pair = editor()
    pair.program.maxHistory = 3
    pair.type(b"a\rb\rc\rd\r")
    assert pair.program.historyLines == [b"b", b"c", b"d"]


def test_aLineIsBoundedAndTheBellRings() -> None:
    pair = editor()
    pair.program.maxLineLength = 5
    pair.type(b"abcdefg")
    assert pair.line() == ">>> abcde" and pair.buffer.bells == 2
    pair.type(b"\r")
    assert pair.program.received == [b"abcde"]


def test_unknownKeysAndSequencesChangeNothing() -> None:
    pair = editor()
    pair.type(b"ab\x1b[99~\x1bOP\x00\x1b[24~c\r")
    assert pair.program.received == [b"abc"]


def test_terminalSizeIsKept() -> None:
    pair = editor()
    pair.server.terminalSize(132, 43)
    assert (pair.program.width, pair.program.height) == (132, 43)


def test_transportSequenceDrawsOnEveryTerminal() -> None:
    first, second = helper.TerminalBuffer(), helper.TerminalBuffer()
    both: Any = recvline.TransportSequence(first, second)
    both.write(b"hi")
    both.cursorBackward(1)
    both.write(b"o")
    assert bytes(first).startswith(b"ho") and bytes(second).startswith(b"ho")
    assert both.reportCursorPosition() == (2, 0)


KEYS = [b"a", b"b", b" ", "é".encode(), LEFT, RIGHT, HOME, END, BACKSPACE, DELETE, INSERT, b"\t"]


@given(st.lists(st.sampled_from(KEYS), max_size=18))  # 18 tabs still fit 80 columns
def test_theScreenAlwaysShowsTheLineAndTheCursor(typed: list[bytes]) -> None:
    """Whatever is typed (within the width), the screen shows the editor's line, with
    the cursor where the editor has it."""
    pair = editor()
    for key in typed:
        pair.type(key)
    before, after = pair.program.currentLineBuffer()
    line = (before + after).decode()
    assert pair.line() == (">>> " + line).rstrip()
    assert pair.buffer.x == 4 + len(before.decode())
