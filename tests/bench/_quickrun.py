"""Helpers for the benchmarks' smoke tests: run a bench script with --quick, and
import a bench module.

``quickRun(script, tmp_path, *args)`` runs ``python SCRIPT --quick --json FILE ARGS``
from the repository root with a bounded wait, asserts it exited 0 (showing its
output if not), and returns the finished process and the JSON document it wrote.
``importBench(name)`` imports bench/NAME.py for a test to call its functions.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BENCH = str(ROOT / "bench")


def importBench(name: str) -> ModuleType:
    """Import bench/NAME.py, leaving bench/ last on sys.path afterwards.

    Bench scripts are named after what they measure, and some of those names are
    installed libraries' too (bench/irc.py, bench/h2.py): with bench/ first on the
    path (where the scripts put it), a later ``import irc`` anywhere in the same test
    process would find the script instead of the library.
    """
    sys.path.insert(0, BENCH)
    try:
        return importlib.import_module(name)
    finally:
        sys.path[:] = [entry for entry in sys.path if entry != BENCH] + [BENCH]


def quickRun(
    script: Path, tmp_path: Path, *args: str, timeout: float = 180
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    output = tmp_path / "medians.json"
    run = subprocess.run(
        [sys.executable, str(script), "--quick", "--json", str(output), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    document: dict[str, Any] = json.loads(output.read_text())
    return run, document
