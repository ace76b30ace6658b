"""Runs examples/processtalk.py, which talks to examples/stdiodemo.py as its child."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "processtalk.py"


def test_theConversationIsPrintedInOrder() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "upper hi", "reverse live", "count"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("started child ")
    assert lines[1:] == [
        "child: ready: upper, reverse, count or quit",
        "me:    upper hi",
        "child: HI",
        "me:    reverse live",
        "child: evil",
        "me:    count",
        "child: 3 commands",
        "child: bye",
        "child ended: A process has ended without apparent errors: it exited with code 0.",
    ]


def test_theDefaultConversation() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert "child: HELLO, CHILD" in done.stdout
    assert "child: desserts" in done.stdout
