"""Smoke tests of the IRC fan-out benchmark: bench/irc.py, bench/_ircworker.py, bench/ircload.c.

A --quick run (50 clients) on torsion, and on Twisted where its interpreter is there
(bench/.venv-twisted, which .ci/run makes), proves the harness works end to end over
127.0.0.1: the C load generator builds, every client joins, messages are delivered
and counted. Every wait is bounded by a subprocess timeout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench import _quickrun
from tests.spread.peers import twistedPython

ROOT = Path(__file__).resolve().parents[2]
IRC = ROOT / "bench" / "irc.py"

pytestmark = pytest.mark.skipif(
    not any(shutil.which(cc) for cc in ("cc", "gcc", "clang")),
    reason="a C compiler is needed to build bench/ircload.c",
)


def quickRun(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    return _quickrun.quickRun(IRC, tmp_path, *args, timeout=240)


def test_quickRun(tmp_path: Path) -> None:
    """One quick run: torsion, and Twisted beside it where its interpreter is there."""
    sides = "torsion,twisted" if twistedPython() is not None else "torsion"
    run, document = quickRun(tmp_path, "--sides", sides)
    found = {m["side"]: m for m in document["medians"]}
    assert set(found) == set(sides.split(","))
    for medians in found.values():
        assert medians["case"] == "fanout"
        assert medians["rate"] > 0 and medians["messages"] > 0 and medians["perServerCpu"] > 0
    assert "Deliveries per second" in run.stdout and document["errors"] == []
    if "twisted" in found:
        assert "- torsion vs twisted, fanout, deliveries/s:" in run.stdout


def test_badSizesAreRefused() -> None:
    run = subprocess.run(
        [sys.executable, str(IRC), "--clients", "1"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 2 and "--clients must be at least 2" in run.stderr
