"""Smoke tests of the process benchmark's worker (bench/_processworker.py), torsion and
asyncio sides (the Twisted side needs bench/.venv-twisted, which tests never build)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).resolve().parents[2] / "bench" / "_processworker.py"


@pytest.mark.parametrize("side", ["torsion", "asyncio"])
@pytest.mark.parametrize(("case", "count"), [("spawn", 3), ("parallel", 3), ("pipe", 2)])
def test_workerRunsACase(side: str, case: str, count: int) -> None:
    done = subprocess.run(
        [sys.executable, str(WORKER), side, case, str(count)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["seconds"] > 0
