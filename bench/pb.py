"""Benchmark: Perspective Broker round trips, torsion.spread.pb against Twisted's PB.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/pb.py --quiet-wait 30   # every case and side, 3 rounds
    .venv/bin/python bench/pb.py --quick           # short windows, 1 round: a smoke test
    .venv/bin/python bench/pb.py --cases small,list --sides torsion,twisted --rounds 5

Cases (``--cases``): ``small`` (``callRemote("echo", 1)``, one call at a time),
``small-16`` (the same with 16 calls kept in flight), ``list`` (echo of a list of
1,000 dicts ``{"id": i, "name": "item-i", "price": 1.5}``, one at a time) and
``list-16``. Sides (``--sides``): ``torsion`` (its default reactor),
``torsion-uvloop`` (the asyncio reactor on uvloop) and ``twisted``; see
``_pbworker.SIDES``. A side that cannot run here is skipped with its reason.

A PB round trip costs both ends (the caller jellies and encodes the arguments and
decodes and unjellies the answer; the callee does the same the other way), so the
headline pairs each server with a client of the same side: torsion calling torsion
against Twisted calling Twisted. ``--client SIDE`` makes one side's client drive
every server instead, which isolates the servers (the figures per server CPU-second
show the same from the default run). The server (bench/_pbworker.py serve) runs
pinned to CPU 0 with ``taskset``, the client (bench/_pbworker.py client) pinned to
CPU 1; a fresh pair makes each measurement, importing a copy of torsion/ taken when the
run started. The client measures its window itself: calls answered, wall time, its
CPU time and the server's (from /proc). Rounds are interleaved, tables show medians,
and the ratios (medians of per-round ratios) compare with Twisted: above 1 means
better than Twisted. Twisted runs in bench/.venv-twisted, made on first use as by
bench/deferred.py, never imported here. Method and latest table: bench/README.md.
Tests: tests/bench/test_pb_smoke.py.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import net  # noqa: E402
from _netreport import Samples, TableSpec, betterRatio, roundRatios, sideTable  # noqa: E402
from _pbworker import SIDES  # noqa: E402
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

WORKER = HERE / "_pbworker.py"
CASES = ["small", "small-16", "list", "list-16"]
REFERENCE = "twisted"
# The goal: torsion's PB at least twice Twisted's round trips per second.
GOAL = 2.0


@dataclass
class Settings:
    """The length of each measurement (--quick shortens them)."""

    rounds: int = 3
    seconds: float = 3.0
    warmup: float = 1.0
    client: str | None = None  # one side's client for every server (None: each its own)


QUICK = Settings(rounds=1, seconds=0.3, warmup=0.2)


def caseCall(case: str) -> tuple[str, int]:
    """The worker's case name and the calls kept in flight, of a case of this script."""
    name, _, depth = case.partition("-")
    return name, int(depth or 1)


def pythonFor(side: str) -> str:
    return str(twistedPython()) if SIDES[side].framework == "twisted" else sys.executable


def checkSide(side: str) -> dict[str, Any]:
    """What bench/_pbworker.py check says about ``side``."""
    try:
        python = pythonFor(side)
    except (OSError, subprocess.CalledProcessError) as e:
        return {"ok": False, "reason": f"could not make its virtual environment: {e}"}
    return net.askWorker(python, [str(WORKER), side, "check"])


@contextmanager
def server(side: str) -> Iterator[tuple[Child, int]]:
    """A fresh PB server of ``side``, pinned to the server CPU."""
    child = Child(pinned(SERVER_CPU, [pythonFor(side), str(WORKER), side, "serve"]), side)
    try:
        port = int(child.expect("port ", 60).split()[1])
        if net.onServerStart is not None:
            net.onServerStart(child.process.pid)
        yield child, port
    finally:
        child.stop()


def measure(case: str, side: str, settings: Settings) -> dict[str, float]:
    """One measurement of ``case``: a fresh server of ``side`` and a fresh client."""
    clientSide = settings.client or side
    name, depth = caseCall(case)
    with server(side) as (srv, port):
        argv = [pythonFor(clientSide), str(WORKER), clientSide, "client", str(port)]
        argv += [str(srv.process.pid), name, str(depth), str(settings.seconds)]
        argv += [str(settings.warmup)]
        done = subprocess.run(
            pinned(CLIENT_CPU, argv),
            capture_output=True,
            text=True,
            cwd=str(HERE.parent),
            env=net.CHILD_ENV,
            timeout=settings.warmup + settings.seconds + 120,
        )
    if done.returncode:
        raise BenchError(f"{clientSide} client failed: {done.stderr.strip()[-500:]}")
    result = json.loads(done.stdout)
    calls, seconds = result["calls"], result["seconds"]
    cpu, serverCpu = result["cpu"], result["serverCpu"]
    if not calls or not seconds:
        raise BenchError(f"{side}: no calls answered in the window")
    return {
        "rate": calls / seconds,
        "perServerCpu": calls / serverCpu if serverCpu else 0.0,
        "perCpu": calls / (cpu + serverCpu) if cpu + serverCpu else 0.0,
        "serverLoad": serverCpu / seconds,
        "clientLoad": cpu / seconds,
        "calls": calls,
    }


MEASURE: net.Measures = {
    case: (lambda side, settings, info, case=case: measure(case, side, settings)) for case in CASES
}

# The report's tables (see _netreport.TableSpec).
TABLES: list[TableSpec] = [
    ("Round trips per second (wall clock)", "rate", True, 1.0, "", 0),
    ("Round trips per CPU-second of server and client together", "perCpu", True, 1.0, "", 0),
    ("Round trips per server CPU-second", "perServerCpu", True, 1.0, "", 0),
    ("Server CPU load", "serverLoad", None, 100.0, "%", 0),
    ("Client CPU load", "clientLoad", None, 100.0, "%", 0),
]


def goals(cases: list[str], samples: Samples) -> list[str]:
    """The issue's goal (torsion at least 2x Twisted's round trips/s) for each case."""
    lines = []
    for case in cases:
        for metric, what in (("rate", "round trips/s"), ("perCpu", "per CPU-second")):
            ratios = roundRatios(samples, case, metric, True, "torsion", REFERENCE)
            if not ratios:
                continue
            better = betterRatio(samples, case, metric, True, "torsion", REFERENCE)
            assert better is not None
            verdict = "met" if better >= GOAL else "MISSED"
            lines.append(
                f"- torsion vs twisted, {case}, {what}: {better:.2f}x (rounds "
                f"{min(ratios):.2f}x to {max(ratios):.2f}x; goal {GOAL}x): {verdict}"
            )
    return ["Goals (issue 8):", *lines] if lines else []


def report(cases: list[str], sides: list[str], samples: Samples) -> str:
    parts = [sideTable(spec, cases, sides, samples, REFERENCE) for spec in TABLES]
    parts.append("\n".join(goals(cases, samples)))
    return "\n\n".join(p for p in parts if p)


def parseArguments() -> argparse.Namespace:
    parser = net.benchParser(__doc__.split("\n")[0], CASES, SIDES, 3)
    parser.add_argument("--seconds", type=float, help="measured seconds per case (default 3)")
    parser.add_argument(
        "--client",
        metavar="SIDE",
        help="drive every server with this side's client (default: each side its own)",
    )
    parser.add_argument(
        "--profile", metavar="SIDE", help="after the tables, py-spy hot spots of SIDE's server"
    )
    options = parser.parse_args()
    checkChoices(parser, (("case", options.cases, CASES), ("side", options.sides, SIDES)))
    for name in ("client", "profile"):
        if getattr(options, name) is not None:
            checkChoices(parser, (("side", getattr(options, name), SIDES),))
    return options


def main() -> int:
    options = parseArguments()
    settings = QUICK if options.quick else Settings()
    if options.rounds:
        settings.rounds = options.rounds
    if options.seconds:
        settings.seconds = options.seconds
    settings.client = options.client
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if not net.PIN:
        print("warning: not pinning (needs taskset and 2 CPUs): noisier", file=sys.stderr)
    try:
        with snapshotTorsion():
            return run(options, settings)
    except BenchError as e:
        print(f"pb.py: {e}", file=sys.stderr)
        return 2


def run(options: argparse.Namespace, settings: Settings) -> int:
    """Check the sides, measure, print the tables (and the profile); the exit status."""
    cases = options.cases.split(",")
    wanted = options.sides.split(",")
    started, loadBefore, source = time.monotonic(), os.getloadavg()[0], sourceVersion()
    infos = {side: checkSide(side) for side in {*wanted, settings.client} - {None}}
    if settings.client is not None and not infos[settings.client]["ok"]:
        raise BenchError(f"--client {settings.client}: {infos[settings.client]['reason']}")
    sides = [side for side in wanted if infos[side]["ok"]]
    for side in wanted:
        if not infos[side]["ok"]:
            print(f"skipping {side}: {infos[side]['reason']}", file=sys.stderr)
    samples, errors, noisy = runRounds(cases, sides, infos, settings, options.quiet_wait, MEASURE)
    versions: dict[str, str] = {}
    for side in sides:
        versions.update(infos[side].get("versions", {}))
    clients = (
        f"; every server driven by the {settings.client} client"
        if settings.client
        else "; each server driven by a client of its own side"
    )
    window = f"; {settings.seconds:g} s measured after {settings.warmup:g} s of warm-up"
    print(
        runHeader(
            settings.rounds,
            source,
            versions,
            clients + window,
            started,
            loadBefore,
            noisy,
            options,
        )
    )
    print(report(cases, sides, samples))
    print()
    return net.endSideRun(options, settings, source, samples, errors, infos, wanted, cases, MEASURE)


if __name__ == "__main__":
    sys.exit(main())
