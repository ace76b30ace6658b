"""Smoke tests of the TLS benchmark: bench/tls.py, _tlsserver.py and _tlsclient.py.

A --quick run on two sides that need no Twisted venv (torsion's epoll reactor and plain
asyncio) proves the harness works end to end: every case measures something on both
sides and the table is printed. Everything talks over 127.0.0.1; every wait is bounded
by a subprocess timeout.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TLS = ROOT / "bench" / "tls.py"


def test_quickRunMeasuresEveryCaseOnBothSides(tmp_path: Path) -> None:
    output = tmp_path / "medians.json"
    cases = "upload,download,handshakes" if shutil.which("openssl") else "upload,download"
    run = subprocess.run(
        [
            sys.executable, str(TLS), "--quick", "--sides", "torsion-epoll,asyncio",
            "--cases", cases, "--json", str(output),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    document = json.loads(output.read_text())
    assert document["errors"] == []
    medians = {(row["case"], row["side"]): row for row in document["medians"]}
    for side in ("torsion-epoll", "asyncio"):
        for case in ("upload", "download"):
            assert medians[(case, side)]["mbPerCpuSecond"] > 0
            assert medians[(case, side)]["clientLoad"] > 0
        if "handshakes" in cases:
            assert medians[("handshakes", side)]["handshakesPerCpuSecond"] > 0
    assert "| **torsion-epoll** (default) |" in run.stdout
    assert "upload MB per server CPU-s" in run.stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--sides", "torsion-epoll,nosuch"], "unknown side nosuch"),
        (["--cases", "upload,nosuch"], "unknown case nosuch"),
    ],
)
def test_unknownChoicesAreRejected(arguments: list[str], message: str) -> None:
    run = subprocess.run(
        [sys.executable, str(TLS), *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert message in run.stderr


def test_clientRefusesBadUsage() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "_tlsclient.py"), "sideways", "1", "2"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode != 0
    assert "usage" in run.stderr
