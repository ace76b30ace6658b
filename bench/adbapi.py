"""Benchmark: adbapi ConnectionPool.runQuery against PostgreSQL, torsion against Twisted.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/adbapi.py --quiet-wait 30   # both cases and sides, 5 rounds
    .venv/bin/python bench/adbapi.py --quick           # 500 calls, 1 round: a smoke test
    .venv/bin/python bench/adbapi.py --cases select1 --rounds 9 --profile torsion

Each measurement is 10,000 ``runQuery`` calls (``--calls``) shared by 10 callers
(``--callers``) through a pool of as many connections, each caller starting its next
call when its answer arrives. Cases (``--cases``): ``select1`` (``SELECT 1``) and
``indexed`` (``SELECT name FROM bench_items WHERE id = %s`` on a 1,000-row table with a
primary key). Sides (``--sides``): ``torsion`` and ``twisted`` (its
twisted.enterprise.adbapi), both on their default reactor with psycopg 3; see
``_adbapiworker.SIDES``. A side that cannot run here is skipped with its reason.

The script starts its own PostgreSQL server (tests/enterprise/postgres.py: a fresh
cluster in a temporary directory on a free port of 127.0.0.1, fsync off), pinned to
CPU 1 with its backends, and removes it at the end; each measurement is a fresh worker
process (bench/_adbapiworker.py run) pinned to CPU 0, which times its calls itself
(wall clock and its own CPU time). Rounds are interleaved, tables show medians, and the
ratios (medians of per-round ratios) compare with Twisted: above 1 means better than
Twisted. Twisted runs in bench/.venv-twisted (made on first use as by
bench/deferred.py); psycopg is installed into it here if it is missing. Method and
latest table: bench/README.md. Tests: tests/bench/test_adbapi_smoke.py.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
import net  # noqa: E402
from _adbapiworker import SIDES, TABLE_ROWS  # noqa: E402
from _netreport import Samples, TableSpec, betterRatio, roundRatios, sideTable  # noqa: E402
from deferred import twistedPython  # noqa: E402
from net import (  # noqa: E402
    CLIENT_CPU,
    SERVER_CPU,
    BenchError,
    Child,
    checkChoices,
    pinned,
    runHeader,
    runRounds,
    snapshotTorsion,
    sourceVersion,
)

WORKER = HERE / "_adbapiworker.py"
CASES = ["select1", "indexed"]
REFERENCE = "twisted"
# The goal: torsion's pool at least as fast as Twisted's.
GOAL = 1.0


@dataclass
class Settings:
    """The size of each measurement (--quick shrinks it)."""

    rounds: int = 5
    calls: int = 10_000
    callers: int = 10
    port: int = 0  # the PostgreSQL server's, once it runs


QUICK = Settings(rounds=1, calls=500)


def pythonFor(side: str) -> str:
    if SIDES[side].framework != "twisted":
        return sys.executable
    python = twistedPython()
    probe = subprocess.run([str(python), "-c", "import psycopg"], capture_output=True)
    if probe.returncode:
        print(f"installing psycopg[binary] into {python.parent.parent} ...", file=sys.stderr)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "psycopg[binary]>=3.1"],
            check=True,
            timeout=600,
        )
    return str(python)


def checkSide(side: str) -> dict[str, Any]:
    """What bench/_adbapiworker.py check says about ``side``."""
    try:
        python = pythonFor(side)
    except (OSError, subprocess.SubprocessError) as e:
        return {"ok": False, "reason": f"could not make its virtual environment: {e}"}
    return net.askWorker(python, [str(WORKER), side, "check"])


def measure(case: str, side: str, settings: Settings) -> dict[str, float]:
    """One measurement of ``case``: a fresh worker of ``side`` with a fresh pool."""
    argv = [pythonFor(side), str(WORKER), side, "run", str(settings.port), case]
    argv += [str(settings.calls), str(settings.callers)]
    child = Child(pinned(SERVER_CPU, argv), side)
    try:
        child.expect("ready", 60)
        if net.onServerStart is not None:
            net.onServerStart(child.process.pid)
        line = child.expect("{", 180)
    finally:
        child.stop()
    result = json.loads(line)
    calls, seconds, cpu = result["calls"], result["seconds"], result["cpu"]
    if calls != settings.calls or not seconds:
        raise BenchError(f"{side}: {calls} of {settings.calls} calls answered")
    return {
        "rate": calls / seconds,
        "perCpu": calls / cpu if cpu else 0.0,
        "load": cpu / seconds,
        "microseconds": seconds / calls * 1e6,
        "calls": calls,
    }


MEASURE: net.Measures = {
    case: (lambda side, settings, info, case=case: measure(case, side, settings)) for case in CASES
}

# The report's tables (see _netreport.TableSpec).
TABLES: list[TableSpec] = [
    ("runQuery calls per second (wall clock)", "rate", True, 1.0, "", 0),
    ("runQuery calls per CPU-second of the pool's process", "perCpu", True, 1.0, "", 0),
    ("CPU load of the pool's process (all its threads)", "load", None, 100.0, "%", 0),
]


def goals(cases: list[str], samples: Samples) -> list[str]:
    """The issue's goal (torsion at least Twisted's throughput) for each case."""
    lines = []
    for case in cases:
        ratios = roundRatios(samples, case, "rate", True, "torsion", REFERENCE)
        if not ratios:
            continue
        better = betterRatio(samples, case, "rate", True, "torsion", REFERENCE)
        assert better is not None
        verdict = "met" if better >= GOAL else "MISSED"
        lines.append(
            f"- torsion vs twisted, {case}, calls/s: {better:.2f}x (rounds "
            f"{min(ratios):.2f}x to {max(ratios):.2f}x; goal {GOAL}x): {verdict}"
        )
    return ["Goals (issue 10):", *lines] if lines else []


def report(cases: list[str], sides: list[str], samples: Samples) -> str:
    parts = [sideTable(spec, cases, sides, samples, REFERENCE) for spec in TABLES]
    parts.append("\n".join(goals(cases, samples)))
    return "\n\n".join(p for p in parts if p)


def makeTable(server: Any) -> None:
    """The ``indexed`` case's table: ids 1..TABLE_ROWS (primary key) and their names."""
    import psycopg

    with psycopg.connect(**server.connectionKeywords) as connection:
        connection.execute("DROP TABLE IF EXISTS bench_items")
        connection.execute("CREATE TABLE bench_items (id integer PRIMARY KEY, name text)")
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO bench_items VALUES (%s, %s)",
                [(i, f"item-{i}") for i in range(1, TABLE_ROWS + 1)],
            )
        connection.execute("ANALYZE bench_items")


def parseArguments() -> argparse.Namespace:
    parser = net.benchParser(__doc__.split("\n")[0], CASES, SIDES, 5)
    parser.add_argument("--calls", type=int, help="runQuery calls per measurement (10000)")
    parser.add_argument("--callers", type=int, help="concurrent callers and connections (10)")
    parser.add_argument(
        "--profile", metavar="SIDE", help="after the tables, py-spy hot spots of SIDE's worker"
    )
    options = parser.parse_args()
    checkChoices(parser, (("case", options.cases, CASES), ("side", options.sides, SIDES)))
    if options.profile is not None:
        checkChoices(parser, (("side", options.profile, SIDES),))
    return options


def main() -> int:
    options = parseArguments()
    settings = QUICK if options.quick else Settings()
    for name in ("rounds", "calls", "callers"):
        if getattr(options, name):
            setattr(settings, name, getattr(options, name))
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if not net.PIN:
        print("warning: not pinning (needs taskset and 2 CPUs): noisier", file=sys.stderr)
    from tests.enterprise.postgres import PostgresServer, PostgresUnavailable

    try:
        server = PostgresServer(
            Path(tempfile.gettempdir()), cpu=int(CLIENT_CPU) if net.PIN else None
        )
        server.start()
    except (PostgresUnavailable, OSError, subprocess.SubprocessError) as e:
        print(f"adbapi.py: cannot start PostgreSQL: {e}", file=sys.stderr)
        return 2
    try:
        settings.port = server.port
        makeTable(server)
        with snapshotTorsion():
            return run(options, settings)
    except BenchError as e:
        print(f"adbapi.py: {e}", file=sys.stderr)
        return 2
    finally:
        server.cleanup()


def run(options: argparse.Namespace, settings: Settings) -> int:
    """Check the sides, measure, print the tables (and the profile); the exit status."""
    cases = options.cases.split(",")
    wanted = options.sides.split(",")
    started, loadBefore, source = time.monotonic(), os.getloadavg()[0], sourceVersion()
    infos = {side: checkSide(side) for side in wanted}
    sides = [side for side in wanted if infos[side]["ok"]]
    for side in wanted:
        if not infos[side]["ok"]:
            print(f"skipping {side}: {infos[side]['reason']}", file=sys.stderr)
    samples, errors, noisy = runRounds(cases, sides, infos, settings, options.quiet_wait, MEASURE)
    versions: dict[str, str] = {}
    for side in sides:
        versions.update(infos[side].get("versions", {}))
    extra = (
        f"; {settings.calls} runQuery calls per measurement by {settings.callers} callers; "
        f"PostgreSQL on CPU {CLIENT_CPU}, the pool's process on CPU {SERVER_CPU}"
    )
    print(runHeader(settings.rounds, source, versions, extra, started, loadBefore, noisy, options))
    print(report(cases, sides, samples))
    print()
    return net.endSideRun(options, settings, source, samples, errors, infos, wanted, cases, MEASURE)


if __name__ == "__main__":
    sys.exit(main())
