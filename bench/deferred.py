"""Benchmark: torsion's Deferred against Twisted's Deferred and asyncio's Future.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/deferred.py            # 7 rounds, about 2 minutes
    .venv/bin/python bench/deferred.py --quick    # 2 short rounds, a smoke test

Twisted is never a torsion dependency: on first use this script makes its own
virtual environment, bench/.venv-twisted (gitignored), with ``python -m venv`` and
pip-installs ``twisted`` into it. Each side then runs in a worker subprocess of its
own (bench/_deferredworker.py): torsion and asyncio under this interpreter, Twisted
under the venv's. The driver interleaves the rounds (every case, every side, then the
next round), so noise lands on all sides alike, and prints a Markdown table of median
times per operation with the ratios torsion/Twisted and torsion/asyncio (above 1 means
torsion is faster). What the cases are and the latest table: bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import IO

HERE = Path(__file__).resolve().parent
WORKER = HERE / "_deferredworker.py"
TWISTED_VENV = HERE / ".venv-twisted"

# (case name, description for the table); the workers know the cases by name.
CASES = [
    ("callbacks", "(a) create, add 10 callbacks, fire"),
    ("inline", "(b) inlineCallbacks loop, 1,000 fired Deferreds"),
    ("coroutine", "(b') coroutine loop, 1,000 awaits of fired Deferreds/Futures"),
    ("chain", "(c) chain of Deferreds returning Deferreds, depth 100"),
]
SIDES = ["torsion", "twisted", "asyncio"]


def twistedPython() -> Path:
    """Return the Twisted venv's interpreter, creating the venv on first use."""
    binDir = "Scripts" if os.name == "nt" else "bin"
    python = TWISTED_VENV / binDir / ("python.exe" if os.name == "nt" else "python")
    probe = [str(python), "-c", "import twisted"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"setting up {TWISTED_VENV} with twisted from PyPI ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(TWISTED_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "twisted"], check=True)
    return python


def startWorker(python: Path | str, side: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONHASHSEED="0")
    return subprocess.Popen(
        [str(python), str(WORKER), side],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=str(HERE.parent),
    )


def stopWorker(worker: subprocess.Popen[str]) -> None:
    """Ask a worker to quit; kill it if it is stuck or its pipe is already gone."""
    assert worker.stdin is not None
    try:
        worker.stdin.write("quit\n")
        worker.stdin.close()
        worker.wait(timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        worker.kill()
        worker.wait()


def ask(worker: subprocess.Popen[str], case: str, target: float) -> float | None:
    """Have one worker time one case once; None if it has no such case."""
    stdin: IO[str] | None = worker.stdin
    stdout: IO[str] | None = worker.stdout
    assert stdin is not None and stdout is not None
    stdin.write(f"{case} {target}\n")
    stdin.flush()
    line = stdout.readline()
    if not line:
        raise SystemExit(f"worker {worker.args} died; see its error output above")
    perOp: float | None = json.loads(line)["perOp"]
    return perOp


def askProfile(worker: subprocess.Popen[str], case: str) -> str:
    """Have one worker profile one case; the cProfile report as text."""
    assert worker.stdin is not None and worker.stdout is not None
    worker.stdin.write(f"profile {case}\n")
    worker.stdin.flush()
    report: str = json.loads(worker.stdout.readline())["profile"]
    return f"### {case}\n{report.strip()}" if report else ""


def formatTime(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e3:.3f} ms"


def formatRatio(other: float | None, ours: float | None) -> str:
    if other is None or ours is None:
        return "n/a"
    return f"{other / ours:.2f}x"


def versions(twistedPy: Path) -> str:
    twistedVersion = subprocess.run(
        [str(twistedPy), "-c", "import twisted; print(twisted.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return (
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"Twisted {twistedVersion}, {os.cpu_count()} CPUs, {platform.machine()} "
        f"{platform.system()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds (default 7)")
    parser.add_argument(
        "--target", type=float, default=0.25, help="seconds per measurement (default 0.25)"
    )
    parser.add_argument("--quick", action="store_true", help="2 rounds of 0.05 s: smoke test")
    parser.add_argument(
        "--profile",
        choices=SIDES,
        help="after the table, print cProfile hot spots of every case for this side",
    )
    options = parser.parse_args()
    if options.quick:
        options.rounds, options.target = 2, 0.05

    twistedPy = twistedPython()
    pythons: dict[str, Path | str] = {
        "torsion": sys.executable,
        "twisted": twistedPy,
        "asyncio": sys.executable,
    }
    workers = {side: startWorker(pythons[side], side) for side in SIDES}
    samples: dict[tuple[str, str], list[float]] = {}
    profiles: list[str] = []
    try:
        for roundNumber in range(options.rounds):
            print(f"round {roundNumber + 1}/{options.rounds}", file=sys.stderr)
            for case, _ in CASES:
                for side in SIDES:
                    perOp = ask(workers[side], case, options.target)
                    if perOp is not None:
                        samples.setdefault((case, side), []).append(perOp)
        if options.profile:
            profiles = [askProfile(workers[options.profile], case) for case, _ in CASES]
    finally:
        for worker in workers.values():
            stopWorker(worker)

    def median(case: str, side: str) -> float | None:
        values = samples.get((case, side))
        return statistics.median(values) if values else None

    print(f"Medians of {options.rounds} rounds, time per operation; {versions(twistedPy)}.\n")
    print("| case | torsion | Twisted | asyncio | Twisted/torsion | asyncio/torsion |")
    print("|---|---:|---:|---:|---:|---:|")
    for case, description in CASES:
        ours, theirs, aio = (median(case, side) for side in SIDES)
        print(
            f"| {description} | {formatTime(ours)} | {formatTime(theirs)} | "
            f"{formatTime(aio)} | {formatRatio(theirs, ours)} | {formatRatio(aio, ours)} |"
        )

    for report in profiles:
        if report:
            print("\n" + report)


if __name__ == "__main__":
    main()
