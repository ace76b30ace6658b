"""Smoke test of the jelly benchmark (bench/jelly.py), torsion side (the Twisted side
needs bench/.venv-twisted, which tests never build)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "jelly.py"


def test_workerTimesEveryCase() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--worker", "torsion", "--rounds", "1", "--scale", "1000"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    cases = [f"{p} {w}" for p in ("pb-dicts", "rich-dicts", "small") for w in ("jelly", "unjelly")]
    assert list(results) == cases
    assert all(seconds > 0 for seconds in results.values())
