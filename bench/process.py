"""Benchmark: child processes in torsion, Twisted and asyncio.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/process.py            # 5 rounds
    .venv/bin/python bench/process.py --quick    # 1 small round, a smoke test

Three cases (bench/_processworker.py runs them): start ``true`` and wait for its end
200 times one after another; start 200 at once and wait for all; send 64 MiB through
``cat`` and read it back. torsion and Twisted run the same ProcessProtocol code on
their epoll reactors; asyncio uses ``asyncio.create_subprocess_exec``. Each
measurement is a fresh worker process (the reactor runs once per process), pinned
to one CPU when ``taskset`` exists; rounds interleave the sides, and the table shows
medians and the ratios other/torsion (above 1: torsion is faster). Twisted comes from
bench/.venv-twisted, made on first use as bench/deferred.py makes it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKER = HERE / "_processworker.py"
sys.path.insert(0, str(HERE))

from deferred import twistedPython, versions  # noqa: E402

CASES = [
    ("spawn", 200, "start `true` and wait for its end, one after another", "spawn"),
    ("parallel", 200, "start 200 `true` at once, wait for all", "child"),
    ("pipe", 64, "64 MiB through `cat` and back", "MiB"),
]
SIDES = ["torsion", "twisted", "asyncio"]


def measure(python: str, side: str, case: str, count: int, cpu: str | None) -> float:
    command = [python, str(WORKER), side, case, str(count)]
    if cpu is not None and shutil.which("taskset"):
        command = ["taskset", "-c", cpu, *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"{side} {case} failed:\n{done.stderr}")
    seconds: float = json.loads(done.stdout.splitlines()[-1])["seconds"]
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1 round, small counts")
    parser.add_argument("--cpu", default="1", help="CPU to pin workers to ('' for none)")
    options = parser.parse_args()
    rounds = 1 if options.quick else options.rounds
    scale = 10 if options.quick else 1
    twistedPy = str(twistedPython())
    pythons = {"torsion": sys.executable, "twisted": twistedPy, "asyncio": sys.executable}
    samples: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):
        for case, count, _, _ in CASES:
            for side in SIDES:
                seconds = measure(
                    pythons[side], side, case, max(1, count // scale), options.cpu or None
                )
                samples.setdefault((case, side), []).append(seconds / max(1, count // scale))

    print(f"Medians of {rounds} rounds, time per unit; {versions(Path(twistedPy))}.\n")
    print("| case | unit | torsion | Twisted | asyncio | Twisted/torsion | asyncio/torsion |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for case, _, description, unit in CASES:
        ours, theirs, aio = (statistics.median(samples[(case, side)]) for side in SIDES)
        print(
            f"| {description} | {unit} | {ours * 1e3:.3f} ms | {theirs * 1e3:.3f} ms | "
            f"{aio * 1e3:.3f} ms | {theirs / ours:.2f}x | {aio / ours:.2f}x |"
        )


if __name__ == "__main__":
    main()
