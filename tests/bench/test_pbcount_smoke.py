"""Smoke test of bench/pbcount.py: its server and client make and answer calls.

The instruction counting itself runs the same two programs under valgrind, which takes
minutes; here they run plainly, bounded, and the driver's argument check is tested.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(ROOT / "bench" / "pbcount.py")


def test_pbcountsServerAnswersItsClientAndStops() -> None:
    server = subprocess.Popen(
        [sys.executable, SCRIPT, "serve", "torsion"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.startswith("port "), line + server.stderr.read()  # type: ignore[union-attr]
        client = subprocess.run(
            [sys.executable, SCRIPT, "client", "torsion", line.split()[1], "20"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert client.returncode == 0, client.stdout + client.stderr
        # The client's last call stops the server.
        assert server.wait(timeout=10) == 0
    finally:
        server.kill()
        server.wait()


def test_pbcountRefusesCallCountsInTheWrongOrder() -> None:
    run = subprocess.run(
        [sys.executable, SCRIPT, "--calls", "25,5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 2 and "the first smaller" in run.stderr
