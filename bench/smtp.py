"""Benchmark: messages per second into a maildir through ESMTP, torsion against Twisted.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/smtp.py --quiet-wait 30   # every case and side, 3 rounds
    .venv/bin/python bench/smtp.py --quick           # short windows, 1 round: a smoke test
    .venv/bin/python bench/smtp.py --cases pipelined-8 --sides torsion,twisted --rounds 5

The server (bench/_smtpworker.py serve) is each side's ``ESMTP`` protocol class made
by its ``SMTPFactory``, with one delivery written once for both (torsion keeps
Twisted's names): every recipient accepted, a Received header added, each message
written into a maildir the usual way (tmp/, fsync, rename into new/). The maildir is
on /dev/shm when there is one, so what is measured is the SMTP server, not the disk.
Twisted's own ``mail`` plugin cannot deliver on Python 3, hence its ESMTP class.

The load (bench/_smtpworker.py client) is plain Python on ``selectors`` with no
framework, cheap next to either server: each connection sends MAIL, RCPT and DATA in
one write (RFC 2920 pipelining) and then the 2 KB message together with the next
transaction's commands, checking every reply code. Cases (``--cases``):
``pipelined-1`` (one connection) and ``pipelined-8`` (eight at once). Sides
(``--sides``): ``torsion`` (its default reactor), ``torsion-uvloop`` and ``twisted``;
a side that cannot run here is skipped with its reason. The server runs pinned to
CPU 0, the client to CPU 1, a fresh pair per measurement importing a copy of torsion/
taken when the run started; the server's CPU time comes from /proc. Rounds are
interleaved, tables show medians, ratios compare with Twisted (above 1: better).
Twisted runs in bench/.venv-twisted, made on first use. Method and latest table:
bench/README.md. Tests: tests/mail/test_smtp_bench.py.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _netreport import TableSpec  # noqa: E402
from _sidebench import SideBench, byCase, window  # noqa: E402
from _smtpworker import SIDES  # noqa: E402
from net import BenchError  # noqa: E402

CASES = ["pipelined-1", "pipelined-8"]


@dataclass
class Settings:
    """The length of each measurement (--quick shortens them)."""

    rounds: int = 3
    seconds: float = 3.0
    warmup: float = 1.0


QUICK = Settings(rounds=1, seconds=0.5, warmup=0.2)


def connectionsOf(case: str) -> int:
    return int(case.rpartition("-")[2])


@contextmanager
def maildirPlace() -> Iterator[str]:
    """A fresh directory for the maildir, on tmpfs where there is one."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    path = tempfile.mkdtemp(prefix="torsion-smtp-bench-", dir=base)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def measure(case: str, side: str, settings: Settings) -> dict[str, float]:
    """One measurement: a fresh server of ``side`` and a fresh client."""
    with maildirPlace() as place:
        maildir = os.path.join(place, "Maildir")
        with BENCH.server(side, maildir) as (srv, port):
            argv = [sys.executable, str(BENCH.worker), "client", str(port), str(srv.process.pid)]
            argv += [str(connectionsOf(case)), str(settings.seconds), str(settings.warmup)]
            limit = settings.warmup + settings.seconds + 120
            result = BENCH.runClient(argv, limit, f"the client against {side}")
        stored = len(os.listdir(os.path.join(maildir, "new")))
    messages, seconds = result["messages"], result["seconds"]
    cpu, serverCpu = result["cpu"], result["serverCpu"]
    if not messages or not seconds:
        raise BenchError(f"{side}: no message delivered in the window")
    if stored < messages:
        raise BenchError(f"{side}: {messages} messages accepted but only {stored} in the maildir")
    return {
        "rate": messages / seconds,
        "perServerCpu": messages / serverCpu if serverCpu else 0.0,
        "serverLoad": serverCpu / seconds,
        "clientLoad": cpu / seconds,
        "messages": messages,
    }


TABLES: list[TableSpec] = [
    ("Messages per second into the maildir (wall clock)", "rate", True, 1.0, "", 0),
    ("Messages per server CPU-second", "perServerCpu", True, 1.0, "", 0),
    ("Server CPU load", "serverLoad", None, 100.0, "%", 0),
    ("Client CPU load", "clientLoad", None, 100.0, "%", 0),
]

# The issue's goal: torsion at least twice Twisted's messages per second.
BENCH = SideBench(
    script="smtp.py",
    issue=12,
    worker=HERE / "_smtpworker.py",
    sides=SIDES,
    cases=CASES,
    measures=byCase(measure, CASES),
    tables=TABLES,
    goalMetrics=[("rate", "messages/s"), ("perServerCpu", "per server CPU-second")],
)


def main() -> int:
    options = BENCH.parse(BENCH.parser(__doc__, seconds=3))
    return BENCH.main(options, QUICK if options.quick else Settings(), window)


if __name__ == "__main__":
    sys.exit(main())
