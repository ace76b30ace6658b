"""The manhole without sockets: ManholeInterpreter's evaluation, output capture,
tracebacks and Deferred results; Manhole's keys (Control-C, -D, -L, -A, -E) and
asynchronous output on a VT102 screen in memory; ColoredManhole's colours."""

from __future__ import annotations

import re
import sys
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.conch.terminalhelpers import TerminalPair
from torsion.conch import manhole
from torsion.internet import defer


class Output:
    """A handler that keeps what the interpreter shows."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, bool]] = []

    def addOutput(self, data: str, isAsync: bool = False) -> None:
        self.shown.append((data, isAsync))

    @property
    def text(self) -> str:
        return "".join(data for data, _ in self.shown)


def interpreter(
    namespace: dict[str, Any] | None = None,
) -> tuple[manhole.ManholeInterpreter, Output]:
    output = Output()
    return manhole.ManholeInterpreter(output, namespace if namespace is not None else {}), output


def test_expressionsAreShownAndKeptAsUnderscore() -> None:
    shell, output = interpreter()
    assert shell.push("2 ** 10") is False
    assert output.text == "1024\n" and shell.locals["_"] == 1024
    shell.push("None")  # None shows nothing
    assert output.text == "1024\n"


def test_printIsCapturedAndStdoutRestored() -> None:
    before = sys.stdout
    shell, output = interpreter()
    shell.push("print('to the manhole', 42)")
    assert output.text == "to the manhole 42\n"
    assert sys.stdout is before and sys.displayhook is sys.__displayhook__


def test_multiLineStatements() -> None:
    namespace: dict[str, Any] = {}
    shell, output = interpreter(namespace)
    assert shell.push("def double(x):") is True
    assert shell.push("    return 2 * x") is True
    assert shell.push("") is False
    shell.push("double(21)")
    assert output.text == "42\n" and "double" in namespace


def test_exceptionsAreShownWithoutTheManholesFrames() -> None:
    shell, output = interpreter()
    shell.push("def fail():")
    shell.push("    raise KeyError('missing')")
    shell.push("")
    shell.push("fail()")
    assert output.text.startswith("Traceback (most recent call last):\n")
    assert "KeyError: 'missing'" in output.text and "manhole.py" not in output.text
    shell.push("1 +")
    assert "SyntaxError" in output.text


def test_deferredResultsAreShownWhenTheyFire() -> None:
    namespace: dict[str, Any] = {"defer": defer}
    shell, output = interpreter(namespace)
    shell.push("d = defer.Deferred()")
    shell.push("d")
    shell.push("bad = defer.Deferred()")
    shell.push("bad")
    assert output.shown == [("<Deferred #1>\n", False), ("<Deferred #2>\n", False)]
    namespace["d"].callback("done")
    namespace["bad"].errback(ValueError("no luck"))
    assert output.shown[2:] == [
        ("Deferred #1 called back: 'done'\n", True),
        ("Deferred #2 failed: 'no luck'\n", True),
    ]
    shell.push("defer.succeed(7)")  # already fired: shown at once, after its number
    assert output.shown[-2:] == [("<Deferred #3>\n", False), ("Deferred #3 called back: 7\n", True)]


def test_coroutinesAreRunAsDeferreds() -> None:
    namespace: dict[str, Any] = {"defer": defer}
    shell, output = interpreter(namespace)
    shell.push("async def later(d):")
    shell.push("    return (await d) * 2")
    shell.push("")
    shell.push("gate = defer.Deferred()")
    shell.push("later(gate)")
    assert output.text == "<Deferred #1>\n"
    namespace["gate"].callback(21)
    assert output.shown[-1] == ("Deferred #1 called back: 42\n", True)


# -- on a terminal ----------------------------------------------------------------------


def shell(namespace: dict[str, Any] | None = None, colored: bool = False) -> TerminalPair:
    kind = manhole.ColoredManhole if colored else manhole.Manhole
    return TerminalPair(kind, {} if namespace is None else namespace)


def test_aSessionOnTheScreen() -> None:
    pair = shell()
    pair.type(b"x = 3\rfor i in range(x):\r    print(i * i)\r\r")
    assert pair.screen.split("\n")[:8] == [
        ">>> x = 3", ">>> for i in range(x):", "...     print(i * i)", "...", "0", "1", "4", ">>>",
    ]  # fmt: skip


def test_controlCDropsTheStatement() -> None:
    namespace: dict[str, Any] = {}
    pair = shell(namespace)
    pair.type(b"if True:\r    y = 1\x03")
    assert "KeyboardInterrupt" in pair.screen and pair.line() == ">>>"
    pair.type(b"z = 2\r")
    assert "y" not in namespace and namespace["z"] == 2


def test_controlDLeavesOnlyOnAnEmptyLine() -> None:
    pair = shell()
    pair.type(b"abc\x01\x04")  # Control-A then Control-D: deletes the "a"
    assert pair.line() == ">>> bc" and not pair.wire.disconnecting
    pair.type(b"\x05\r\x04")  # Control-E, Enter (a NameError), then Control-D
    assert "NameError" in pair.screen
    assert pair.wire.disconnecting and pair.program is None  # connectionLost came


def test_exitEndsTheSessionNotTheProgram() -> None:
    pair = shell()
    pair.type(b"raise SystemExit(3)\r")
    assert "this ends the session" in pair.screen and pair.wire.disconnecting
    shellAlone, output = interpreter()
    shellAlone.push("import sys; sys.exit()")  # no terminal to close: only said
    assert output.text.startswith("SystemExit")


def test_controlBackslashLeaves() -> None:
    pair = shell()
    pair.type(b"1\x1c")
    assert pair.wire.disconnecting


def test_controlLClearsTheScreenAndKeepsTheLine() -> None:
    pair = shell()
    pair.type(b"1\r2\r3 +\x1b[D\x0c")
    assert pair.screen.split("\n")[0] == ">>> 3 +" and pair.screen.count(">>>") == 1
    assert pair.buffer.x == len(">>> 3 ")
    pair.type(b"\x05 4\r")  # Control-E: to the end
    assert pair.screen.split("\n")[:2] == [">>> 3 + 4", "7"]


def test_asynchronousOutputGoesAboveTheLineBeingTyped() -> None:
    namespace: dict[str, Any] = {"defer": defer}
    pair = shell(namespace)
    pair.type(b"d = defer.Deferred()\rd\rhalf typ\x1b[D")
    namespace["d"].callback(["result"])
    pair.pump()
    lines = pair.screen.split("\n")
    assert lines[2:5] == ["<Deferred #1>", "Deferred #1 called back: ['result']", ">>> half typ"]
    assert pair.buffer.x == len(">>> half ty")  # the cursor is where it was in the line
    pair.type(b"e\r")
    assert ">>> half tyep\n" in pair.screen and "SyntaxError" in pair.screen


def test_coloredManholeColoursTheLineButShowsTheSameText() -> None:
    pair = shell(colored=True)
    pair.type(b"'yes' if 1 else 0  # note")
    assert b"\x1b[1;35mif\x1b[0m" in pair.output  # a keyword, bold magenta
    assert b"\x1b[32m'yes'\x1b[0m" in pair.output and b"\x1b[36m1\x1b[0m" in pair.output
    assert b"\x1b[34m# note\x1b[0m" in pair.output
    assert pair.line() == ">>> 'yes' if 1 else 0  # note"
    pair.type(b"\x7f" * 8 + b"\x1b[H\x1b[3~")  # the comment, then the first quote
    assert pair.line() == ">>> yes' if 1 else 0" and pair.buffer.x == 4
    pair.type(b"'\r")
    assert pair.screen.split("\n")[1] == "'yes'"


SGR = re.compile(rb"\x1b\[[0-9;]*m")


@given(st.text(max_size=60))
def test_colouringNeverChangesTheCharacters(source: str) -> None:
    line = source.replace("\n", " ").replace("\r", " ").encode("utf-8", "replace")
    assert SGR.sub(b"", manhole.lastColorizedLine(line)) == line


def test_aPasteIsColouredOnceAfterTheRead() -> None:
    pair = shell(colored=True)
    pair.type(b"n = 12345 + 67890\x1b[D")  # one read, ending with a key that is no character
    assert pair.output.count(b"\x1b[36m12345\x1b[0m") == 1
    assert pair.line() == ">>> n = 12345 + 67890" and pair.buffer.x == len(">>> n = 12345 + 6789")
    pair.type(b"1")  # typed alone: coloured at once
    assert pair.output.endswith(b"\x1b[1D") and b"\x1b[36m678910\x1b[0m" in pair.output


def test_aPastedLineEndsWithThePrompt() -> None:
    pair = shell(colored=True)
    pair.type(b"6 * 7\r\n")
    assert pair.output.endswith(b"42\r\n>>> ")


def test_longLinesStayPlain() -> None:
    pair = shell(colored=True)
    pair.program.maxColoredLength = 10
    pair.type(b"'" + b"a" * 20 + b"'")
    assert b"\x1b[32m" not in pair.output and pair.line() == ">>> '" + "a" * 20 + "'"
