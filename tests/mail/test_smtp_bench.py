"""Smoke tests of the SMTP benchmark harness: bench/smtp.py and bench/_smtpworker.py.

A --quick run on torsion (and, where its interpreter is there, Twisted) proves the
harness works end to end over 127.0.0.1 and that the messages reach the maildir; the
client is shown to stop on a wrong reply. Every wait is bounded by a timeout.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.bench import _quickrun
from tests.spread.peers import twistedPython

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "smtp.py"

_smtpworker = _quickrun.importBench("_smtpworker")


def quickRun(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    return _quickrun.quickRun(BENCH, tmp_path, *args, timeout=180)


def test_quickRunOnTorsion(tmp_path: Path) -> None:
    run, document = quickRun(tmp_path, "--sides", "torsion", "--cases", "pipelined-8")
    [metrics] = document["medians"]
    assert (metrics["case"], metrics["side"]) == ("pipelined-8", "torsion")
    assert metrics["rate"] > 0 and metrics["messages"] >= 1 and metrics["perServerCpu"] > 0
    assert "Messages per second into the maildir (wall clock)" in run.stdout
    assert document["errors"] == []


def test_quickRunAgainstTwisted(tmp_path: Path) -> None:
    if twistedPython() is None:
        pytest.skip("no Twisted interpreter (bench/.venv-twisted): .ci/run makes it")
    run, document = quickRun(tmp_path, "--sides", "torsion,twisted", "--cases", "pipelined-1")
    assert {m["side"] for m in document["medians"]} == {"torsion", "twisted"}
    assert "- torsion vs twisted, pipelined-1, messages/s:" in run.stdout


def test_theMessageIsValidSMTPData() -> None:
    message = _smtpworker.message()
    assert message.endswith(b"\r\n") and b"\r\n.\r\n" not in message
    assert len(message) > 2000


def test_theClientStopsOnAWrongReply() -> None:
    connection = _smtpworker.Connection.__new__(_smtpworker.Connection)
    connection.buffer = b""
    connection.step = 0

    class Sock:
        def recv(self, size: int) -> bytes:
            return b"550 no\r\n"

    connection.sock = Sock()  # type: ignore[assignment]
    with pytest.raises(SystemExit, match="expected 250"):
        connection.readable()
