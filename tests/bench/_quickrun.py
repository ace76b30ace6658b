"""One helper for the benchmarks' smoke tests: run a bench script with --quick.

``quickRun(script, tmp_path, *args)`` runs ``python SCRIPT --quick --json FILE ARGS``
from the repository root with a bounded wait, asserts it exited 0 (showing its
output if not), and returns the finished process and the JSON document it wrote.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


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
