"""Benchmark: IRC channel fan-out, torsion.words.service against Twisted's words service.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/irc.py --quiet-wait 30   # every side, 3 rounds
    .venv/bin/python bench/irc.py --quick           # 50 clients, short windows: a smoke test
    .venv/bin/python bench/irc.py --sides torsion,twisted --rounds 5 --clients 500

One case, ``fanout``: ``--clients`` IRC clients (500 by default) register and join one
channel, then take turns sending PRIVMSG lines to it, and the server delivers each
line to every other member. What is measured is deliveries per second (one message to
one member) and per server CPU-second. Sides (``--sides``): ``torsion`` (its default
reactor), ``torsion-uvloop`` and ``twisted`` (Twisted's ``words.service.IRCFactory``
under bench/.venv-twisted, made on first use as by bench/deferred.py); see
``_ircworker.SIDES``. A side that cannot run here is skipped with its reason.

The clients are bench/ircload.c, an epoll program in C compiled on first use into
bench/.build/ircload and pinned to CPU 1, so the load is never the bottleneck (its CPU
load is in the tables); the server (bench/_ircworker.py serve) is pinned to CPU 0.
The load is a closed loop: ``--depth`` messages (100 by default) are in flight at once,
a new one sent as soon as the deliveries outstanding drop below that, so the servers
run flat out without either one having to buffer without bound (which torsion would
refuse: a client that lets its send queue pass 1 MiB is dropped). Every measurement is
a fresh server and fresh clients; the server's CPU time is read from /proc at the
window's ends. Rounds are interleaved, tables show medians, and the ratios (medians of
per-round ratios) compare with Twisted: above 1 means better than Twisted. The issue's
goal is torsion at least 2x. Method and latest table: bench/README.md.
Tests: tests/words/test_service_bench.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import net  # noqa: E402
from _ircworker import GROUP, SIDES  # noqa: E402
from _netreport import TableSpec  # noqa: E402
from _sidebench import SideBench, window  # noqa: E402
from net import CLIENT_CPU, BenchError, Child, compilerCommand, pinned  # noqa: E402

LOAD_SOURCE = HERE / "ircload.c"
LOAD = HERE / ".build" / "ircload"
CASES = ["fanout"]


@dataclass
class Settings:
    """The size and length of each measurement (--quick shrinks them)."""

    rounds: int = 3
    seconds: float = 5.0
    warmup: float = 2.0
    clients: int = 500
    depth: int = 100


QUICK = Settings(rounds=1, seconds=0.5, warmup=0.3, clients=50, depth=5)


def buildLoad() -> Path:
    """Compile ircload unless an up-to-date build exists; return its path."""
    if LOAD.exists() and LOAD.stat().st_mtime >= LOAD_SOURCE.stat().st_mtime:
        return LOAD
    LOAD.parent.mkdir(exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=LOAD.parent, prefix="ircload.")
    os.close(fd)
    command = [*compilerCommand(), "-O2", "-Wall", "-o", temporary, str(LOAD_SOURCE)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        os.unlink(temporary)
        raise BenchError(f"building ircload failed:\n{' '.join(command)}\n{result.stderr}")
    os.replace(temporary, LOAD)
    return LOAD


_TICKS = os.sysconf("SC_CLK_TCK")


def processCpu(pid: int) -> float:
    """CPU seconds (user + system) that process ``pid`` has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        after = stat.read().rpartition(")")[2].split()
    return (int(after[11]) + int(after[12])) / _TICKS


def measure(side: str, settings: Settings, info: dict[str, Any]) -> dict[str, float]:
    """One measurement: a fresh server of ``side``, ``settings.clients`` fresh clients."""
    load = buildLoad()
    with BENCH.server(side) as (srv, port):
        argv = [str(load), "127.0.0.1", str(port), str(settings.clients), GROUP]
        argv += [str(settings.depth), str(settings.seconds), str(settings.warmup)]
        clients = Child(pinned(CLIENT_CPU, argv), "ircload")
        try:
            clients.expect("joined ", 120 + settings.clients * 0.5)
            clients.expect("go", settings.warmup + 60)
            before = processCpu(srv.process.pid)
            line = clients.expect("result ", settings.seconds + 60)
            serverCpu = processCpu(srv.process.pid) - before
        finally:
            clients.stop()
    result = net.fields(line)
    deliveries, seconds = result["deliveries"], result["seconds"]
    if not deliveries or not seconds:
        raise BenchError(f"{side}: nothing delivered in the window")
    return {
        "rate": deliveries / seconds,
        "messages": result["messages"] / seconds,
        "perServerCpu": deliveries / serverCpu if serverCpu else 0.0,
        "serverLoad": serverCpu / seconds,
        "clientLoad": result["cpu"] / seconds,
    }


TABLES: list[TableSpec] = [
    ("Deliveries per second (one message to one member, wall clock)", "rate", True, 1.0, "", 0),
    ("Messages sent per second", "messages", True, 1.0, "", 0),
    ("Deliveries per server CPU-second", "perServerCpu", True, 1.0, "", 0),
    ("Server CPU load", "serverLoad", None, 100.0, "%", 0),
    ("Load generator CPU load", "clientLoad", None, 100.0, "%", 0),
]


# The issue's goal: torsion at least twice Twisted's deliveries per second.
BENCH = SideBench(
    script="irc.py",
    issue=13,
    worker=HERE / "_ircworker.py",
    sides=SIDES,
    cases=CASES,
    measures={"fanout": measure},
    tables=TABLES,
    goalMetrics=[("rate", "deliveries/s"), ("perServerCpu", "per server CPU-second")],
)


def describe(settings: Settings) -> str:
    return (
        f"; {settings.clients} clients in one channel, {settings.depth} messages in flight"
        + window(settings)
    )


def main() -> int:
    parser = BENCH.parser(__doc__, seconds=5)
    parser.add_argument("--clients", type=int, help="clients in the channel (default 500)")
    parser.add_argument("--depth", type=int, help="messages in flight (default 100)")
    options = BENCH.parse(parser)
    if (options.clients is not None and options.clients < 2) or (
        options.depth is not None and options.depth < 1
    ):
        print("irc.py: --clients must be at least 2 and --depth at least 1", file=sys.stderr)
        return 2
    return BENCH.main(options, QUICK if options.quick else Settings(), describe, buildLoad)


if __name__ == "__main__":
    sys.exit(main())
