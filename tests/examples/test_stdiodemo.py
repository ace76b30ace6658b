"""Runs examples/stdiodemo.py (a LineReceiver on StandardIO) with pipes, a file and a pty."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "stdiodemo.py"
GREETING = b"ready: upper, reverse, count or quit\n"


def run(stdin: bytes | None = None, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, str(EXAMPLE)], input=stdin, capture_output=True, timeout=30, **kwargs
    )


def test_commandsAreAnsweredAndTheEndOfInputSaysBye() -> None:
    done = run(b"upper hello\nreverse abc\nfrobnicate\ncount\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == GREETING + (
        b"HELLO\ncba\nerror: unknown command frobnicate; try upper TEXT\n4 commands\nbye\n"
    )


def test_quitEndsAtOnce() -> None:
    done = run(b"upper one\nquit\nupper never\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == GREETING + b"ONE\nbye\n"


def test_inputAndOutputMayBeFiles(tmp_path: Path) -> None:
    source = tmp_path / "commands"
    source.write_bytes(b"upper from a file\r\n")
    target = tmp_path / "answers"
    with source.open("rb") as stdin, target.open("wb") as stdout:
        done = subprocess.run(
            [sys.executable, str(EXAMPLE)], stdin=stdin, stdout=stdout, timeout=30
        )
    assert done.returncode == 0
    assert target.read_bytes() == GREETING + b"FROM A FILE\nbye\n"


def test_onATerminal() -> None:
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, str(EXAMPLE)], stdin=slave, stdout=slave, stderr=slave
        )
        os.close(slave)
        slave = -1
        os.write(master, b"upper typed\n")
        os.write(master, b"\x04")  # Ctrl-D: the end of the input
        output = b""
        deadline = time.monotonic() + 30
        while b"bye" not in output and time.monotonic() < deadline:
            try:
                output += os.read(master, 1000)
            except OSError:
                break
        assert proc.wait(timeout=30) == 0
        assert b"TYPED\r\n" in output and b"bye\r\n" in output
    finally:
        os.close(master)
        if slave != -1:
            os.close(slave)
