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

import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _netreport import TableSpec  # noqa: E402
from _pbworker import SIDES  # noqa: E402
from _sidebench import SideBench, byCase, window  # noqa: E402
from net import BenchError  # noqa: E402

CASES = ["small", "small-16", "list", "list-16"]


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


def measure(case: str, side: str, settings: Settings) -> dict[str, float]:
    """One measurement of ``case``: a fresh server of ``side`` and a fresh client."""
    clientSide = settings.client or side
    name, depth = caseCall(case)
    with BENCH.server(side) as (srv, port):
        argv = [BENCH.pythonFor(clientSide), str(BENCH.worker), clientSide, "client", str(port)]
        argv += [str(srv.process.pid), name, str(depth), str(settings.seconds)]
        argv += [str(settings.warmup)]
        limit = settings.warmup + settings.seconds + 120
        result = BENCH.runClient(argv, limit, f"{clientSide} client")
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


# The report's tables (see _netreport.TableSpec).
TABLES: list[TableSpec] = [
    ("Round trips per second (wall clock)", "rate", True, 1.0, "", 0),
    ("Round trips per CPU-second of server and client together", "perCpu", True, 1.0, "", 0),
    ("Round trips per server CPU-second", "perServerCpu", True, 1.0, "", 0),
    ("Server CPU load", "serverLoad", None, 100.0, "%", 0),
    ("Client CPU load", "clientLoad", None, 100.0, "%", 0),
]

# The issue's goal: torsion's PB at least twice Twisted's round trips per second.
BENCH = SideBench(
    script="pb.py",
    issue=8,
    worker=HERE / "_pbworker.py",
    sides=SIDES,
    cases=CASES,
    measures=byCase(measure, CASES),
    tables=TABLES,
    goalMetrics=[("rate", "round trips/s"), ("perCpu", "per CPU-second")],
)
report = BENCH.report


def describe(settings: Settings) -> str:
    clients = (
        f"; every server driven by the {settings.client} client"
        if settings.client
        else "; each server driven by a client of its own side"
    )
    return clients + window(settings)


def main() -> int:
    parser = BENCH.parser(__doc__, seconds=3)
    parser.add_argument(
        "--client",
        metavar="SIDE",
        help="drive every server with this side's client (default: each side its own)",
    )
    options = BENCH.parse(parser, sideOptions=("client",))
    return BENCH.main(options, QUICK if options.quick else Settings(), describe)


if __name__ == "__main__":
    sys.exit(main())
