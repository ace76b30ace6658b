"""Smoke test of the framing benchmark's worker (bench/_framingworker.py), torsion side
(the Twisted side needs bench/.venv-twisted, which tests never build)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

WORKER = Path(__file__).resolve().parents[2] / "bench" / "_framingworker.py"


def test_workerTimesEveryCaseAndChecksTheCount() -> None:
    done = subprocess.run(
        [sys.executable, str(WORKER), "torsion", "3000"],
        input="line\nlineonly\nint32\nnetstring\nprofile int32\nquit\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [a["case"] for a in answers] == ["line", "lineonly", "int32", "netstring", "int32"]
    assert all(a["seconds"] > 0 and a["messages"] == 3000 for a in answers[:4])
    assert "nextStrings" in answers[4]["profile"]
