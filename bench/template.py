"""Benchmark: flattening a page, torsion.web.template against twisted.web.template.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/template.py --quiet-wait 30   # every case and side, 3 rounds
    .venv/bin/python bench/template.py --quick           # short windows: a smoke test
    .venv/bin/python bench/template.py --cases xml --rounds 5

Cases (``--cases``), each the same 1,000-row table of items (see
bench/_templateworker.py): ``xml`` (an Element with an XMLString template whose
renderer clones the row per item and fills its slots, a ``t:attr`` link in each row),
``stan`` (the table built with ``tags`` for every page, then flattened) and
``deferred`` (the xml page with every row from an already-fired Deferred). Sides
(``--sides``): ``torsion`` and ``twisted``.

Each measurement is a fresh worker process (bench/_templateworker.py) pinned to CPU 0
with ``taskset``, importing a copy of torsion/ taken when the run started; it calls
``flattenString`` in a loop for a warm-up and then a measured window, and reports the
pages made and its CPU time. Both sides must make byte-identical pages (their SHA-256
is compared), so the comparison is of the same work. Rounds are interleaved, the
tables show medians, and the ratios (medians of per-round ratios) compare with
Twisted: above 1 means better than Twisted. Twisted runs in bench/.venv-twisted, made
on first use as by bench/deferred.py, never imported here.
Tests: tests/bench/test_template_smoke.py.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import net  # noqa: E402
from _netreport import Samples, TableSpec, medians, number, sideTable  # noqa: E402
from _templateworker import CASES, SIDES  # noqa: E402
from deferred import twistedPython  # noqa: E402
from net import (  # noqa: E402
    SERVER_CPU,
    BenchError,
    checkChoices,
    pinned,
    runHeader,
    runRounds,
    snapshotTorsion,
    sourceVersion,
)

WORKER = HERE / "_templateworker.py"
REFERENCE = "twisted"


@dataclass
class Settings:
    """The length of each measurement (--quick shortens them)."""

    rounds: int = 3
    seconds: float = 3.0
    warmup: float = 1.0


QUICK = Settings(rounds=1, seconds=0.2, warmup=0.05)


def pythonFor(side: str) -> str:
    return str(twistedPython()) if side == "twisted" else sys.executable


def checkSide(side: str) -> dict[str, Any]:
    """What bench/_templateworker.py check says about ``side``."""
    try:
        python = pythonFor(side)
    except (OSError, subprocess.CalledProcessError) as e:
        return {"ok": False, "reason": f"could not make its virtual environment: {e}"}
    return net.askWorker(python, [str(WORKER), side, "check"])


# The SHA-256 of each case's page, by side: both sides must make the same bytes.
digests: dict[str, dict[str, str]] = {}


def measure(case: str, side: str, settings: Settings) -> dict[str, float]:
    """One measurement: a fresh worker of ``side`` flattening ``case`` in a loop."""
    argv = [pythonFor(side), str(WORKER), side, "measure", case]
    argv += [str(settings.seconds), str(settings.warmup)]
    done = subprocess.run(
        pinned(SERVER_CPU, argv),
        capture_output=True,
        text=True,
        cwd=str(HERE.parent),
        env=net.CHILD_ENV,
        timeout=settings.warmup + settings.seconds + 120,
    )
    if done.returncode:
        raise BenchError(f"{side} worker failed: {done.stderr.strip()[-500:]}")
    result = json.loads(done.stdout)
    pages, cpu = result["pages"], result["cpu"]
    if not pages or cpu <= 0:
        raise BenchError(f"{side}: no page made in the window")
    seen = digests.setdefault(case, {})
    seen[side] = result["sha256"]
    if len(set(seen.values())) > 1:
        raise BenchError(f"{case}: the sides made different pages ({seen})")
    return {
        "perCpu": pages / cpu,
        "msPerPage": 1000 * cpu / pages,
        "mbPerCpu": result["bytes"] * pages / cpu / 2**20,
        "bytes": result["bytes"],
        "pages": pages,
    }


MEASURE: net.Measures = {
    case: (lambda side, settings, info, case=case: measure(case, side, settings)) for case in CASES
}

# The report's tables (see _netreport.TableSpec).
TABLES: list[TableSpec] = [
    ("Pages per CPU-second", "perCpu", True, 1.0, "", 0),
    ("Milliseconds of CPU per page", "msPerPage", False, 1.0, "", 2),
    ("MiB of HTML per CPU-second", "mbPerCpu", None, 1.0, "", 1),
]


def report(cases: list[str], sides: list[str], samples: Samples) -> str:
    parts = [sideTable(spec, cases, sides, samples, REFERENCE) for spec in TABLES]
    sizes = {case: medians(samples).get((case, sides[0]), {}).get("bytes") for case in cases}
    parts.append(
        "Page sizes: "
        + ", ".join(f"{case} {number(size)} bytes" for case, size in sizes.items())
        + (
            "; both sides made byte-identical pages."
            if all(len(set(digests.get(c, {}).values())) == 1 for c in cases) and len(sides) > 1
            else "."
        )
    )
    return "\n\n".join(parts)


def parseArguments() -> argparse.Namespace:
    parser = net.benchParser(__doc__.split("\n")[0], CASES, SIDES, 3)
    parser.add_argument("--seconds", type=float, help="measured seconds per case (default 3)")
    options = parser.parse_args()
    checkChoices(parser, (("case", options.cases, CASES), ("side", options.sides, SIDES)))
    return options


def main() -> int:
    options = parseArguments()
    settings = QUICK if options.quick else Settings()
    if options.rounds:
        settings.rounds = options.rounds
    if options.seconds:
        settings.seconds = options.seconds
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if not net.PIN:
        print("warning: not pinning (needs taskset and 2 CPUs): noisier", file=sys.stderr)
    try:
        with snapshotTorsion():
            return run(options, settings)
    except BenchError as e:
        print(f"template.py: {e}", file=sys.stderr)
        return 2


def run(options: argparse.Namespace, settings: Settings) -> int:
    """Check the sides, measure, print the tables; the exit status."""
    cases = options.cases.split(",")
    wanted = options.sides.split(",")
    started, loadBefore, source = time.monotonic(), os.getloadavg()[0], sourceVersion()
    infos = {side: checkSide(side) for side in wanted}
    sides = [side for side in wanted if infos[side]["ok"]]
    for side in wanted:
        if not infos[side]["ok"]:
            print(f"skipping {side}: {infos[side]['reason']}", file=sys.stderr)
    if not sides:
        raise BenchError("no side can run here")
    samples, errors, noisy = runRounds(cases, sides, infos, settings, options.quiet_wait, MEASURE)
    versions: dict[str, str] = {}
    for side in sides:
        versions.update(infos[side].get("versions", {}))
    window = f"; {settings.seconds:g} s measured after {settings.warmup:g} s of warm-up"
    print(runHeader(settings.rounds, source, versions, window, started, loadBefore, noisy, options))
    print(report(cases, sides, samples))
    skipped = {s: infos[s]["reason"] for s in wanted if not infos[s]["ok"]}
    for side, reason in skipped.items():
        print(f"{side}: skipped: {reason}")
    return net.finishRun(options, settings, source, samples, errors, skipped, sides)


if __name__ == "__main__":
    sys.exit(main())
