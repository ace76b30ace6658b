"""Jelly's speed: torsion.spread.jelly against twisted.spread.jelly, in one run.

Each side runs in its own interpreter (torsion in this one's, Twisted in
bench/.venv-twisted or --twisted-python), pinned to one CPU where the machine can, and
times with time.process_time: jelly and unjelly of the PB benchmark's payload (1,000
dicts ``{"id": i, "name": "item-i", "price": 1.5}``), of a richer list of 1,000 dicts
(text, a list, a bool), and of a small call's arguments. Prints the best of several
rounds per case and Twisted's time over torsion's.

    python bench/jelly.py [--rounds 5] [--twisted-python PATH]

The worker mode (``--worker torsion|twisted``) is what each child runs; its smoke test
is tests/bench/test_jelly_smoke.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TWISTED_PYTHON = HERE / ".venv-twisted" / "bin" / "python"


def payloads() -> dict[str, Any]:
    return {
        "pb-dicts": [{"id": i, "name": f"item-{i}", "price": 1.5} for i in range(1000)],
        "rich-dicts": [
            {"id": i, "name": f"item{i}", "value": i * 1.5, "tags": ["a", "b"], "ok": True}
            for i in range(1000)
        ],
        "small": ["hello", 1, 2.5],
    }


def bestOf(function: Callable[[], object], repeat: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(repeat):
            function()
        best = min(best, (time.process_time() - start) / repeat)
    return best


def worker(side: str, rounds: int, scale: int) -> None:
    if side == "twisted":
        from twisted.spread import jelly as module
    else:
        sys.path.insert(0, str(HERE.parent))
        from torsion.spread import jelly as module  # type: ignore[no-redef]
    taster = module.globalSecurity
    results: dict[str, float] = {}
    for name, value in payloads().items():
        repeat = max(1, (20000 if name == "small" else 20) // scale)
        sexp = module.jelly(value, taster)
        results[f"{name} jelly"] = bestOf(lambda v=value: module.jelly(v, taster), repeat, rounds)
        results[f"{name} unjelly"] = bestOf(
            lambda s=sexp: module.unjelly(s, taster), repeat, rounds
        )
    print(json.dumps(results))


def pinned(argv: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", "1", *argv]
    return argv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scale", type=int, default=1, help="divide the repeats (smoke test)")
    parser.add_argument("--twisted-python", default=os.environ.get("TORSION_TWISTED_PYTHON"))
    parser.add_argument("--worker", choices=["torsion", "twisted"])
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.rounds, args.scale)
        return
    sides = {"torsion": sys.executable}
    twisted = args.twisted_python or (str(TWISTED_PYTHON) if TWISTED_PYTHON.exists() else None)
    if twisted:
        sides["twisted"] = twisted
    else:
        print("no Twisted interpreter (make bench/.venv-twisted): torsion only")
    results = {}
    for side, python in sides.items():
        argv = [python, __file__, "--worker", side, "--rounds", str(args.rounds)]
        argv += ["--scale", str(args.scale)]
        done = subprocess.run(pinned(argv), capture_output=True, text=True, check=True)
        results[side] = json.loads(done.stdout)
    print(f"{'case':<22}{'torsion':>12}{'twisted':>12}{'ratio':>8}")
    for case, ours in results["torsion"].items():
        theirs = results.get("twisted", {}).get(case)
        unit, factor = ("us", 1e6) if case.startswith("small") else ("ms", 1e3)
        line = f"{case:<22}{ours * factor:>9.2f} {unit}"
        if theirs is not None:
            line += f"{theirs * factor:>9.2f} {unit}{theirs / ours:>7.2f}x"
        print(line)


if __name__ == "__main__":
    main()
