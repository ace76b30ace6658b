"""Smoke test of the HTTP client benchmark (bench/webclient.py), torsion side only (the
Twisted side needs bench/.venv-twisted, which tests never build)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "webclient.py"


def test_benchmarkRunsTheTorsionClient() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--no-twisted", "--requests", "200"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "| torsion |" in done.stdout
