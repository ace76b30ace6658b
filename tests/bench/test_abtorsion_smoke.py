"""Smoke test of bench/abtorsion.py: this tree's torsion against a commit's, end to end.

One short round of the raw echo and the small PB call, Twisted left out, over
127.0.0.1; the table must name both variants of both cases. The wait is bounded by a
subprocess timeout; the test skips where the tree is not a git checkout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_quickRunComparesTreeWithBase() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("bench/abtorsion.py takes the base from git; this tree is not a checkout")
    options = ["--base", "HEAD", "--cases", "echo,small", "--rounds", "1", "--seconds", "0.3"]
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "abtorsion.py"), *options, "--no-twisted"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    for case in ("echo", "small"):
        for variant in ("base", "tree"):
            assert f"| {case} | {variant} | " in run.stdout
    assert "| small | base | " in run.stdout and "1.00x" in run.stdout
