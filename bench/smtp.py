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

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
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
from _smtpworker import SIDES  # noqa: E402
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

WORKER = HERE / "_smtpworker.py"
CASES = ["pipelined-1", "pipelined-8"]
REFERENCE = "twisted"
# The goal: torsion at least twice Twisted's messages per second.
GOAL = 2.0


@dataclass
class Settings:
    """The length of each measurement (--quick shortens them)."""

    rounds: int = 3
    seconds: float = 3.0
    warmup: float = 1.0


QUICK = Settings(rounds=1, seconds=0.5, warmup=0.2)


def connectionsOf(case: str) -> int:
    return int(case.rpartition("-")[2])


def pythonFor(side: str) -> str:
    return str(twistedPython()) if SIDES[side].framework == "twisted" else sys.executable


def checkSide(side: str) -> dict[str, Any]:
    """What bench/_smtpworker.py check says about ``side``."""
    try:
        python = pythonFor(side)
    except (OSError, subprocess.CalledProcessError) as e:
        return {"ok": False, "reason": f"could not make its virtual environment: {e}"}
    return net.askWorker(python, [str(WORKER), side, "check"])


@contextmanager
def maildirPlace() -> Iterator[str]:
    """A fresh directory for the maildir, on tmpfs where there is one."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    path = tempfile.mkdtemp(prefix="torsion-smtp-bench-", dir=base)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def server(side: str, maildir: str) -> Iterator[tuple[Child, int]]:
    """A fresh ESMTP server of ``side``, pinned to the server CPU."""
    child = Child(pinned(SERVER_CPU, [pythonFor(side), str(WORKER), side, "serve", maildir]), side)
    try:
        port = int(child.expect("port ", 60).split()[1])
        if net.onServerStart is not None:
            net.onServerStart(child.process.pid)
        yield child, port
    finally:
        child.stop()


def measure(case: str, side: str, settings: Settings) -> dict[str, float]:
    """One measurement: a fresh server of ``side`` and a fresh client."""
    with maildirPlace() as place:
        maildir = os.path.join(place, "Maildir")
        with server(side, maildir) as (srv, port):
            argv = [sys.executable, str(WORKER), "client", str(port), str(srv.process.pid)]
            argv += [str(connectionsOf(case)), str(settings.seconds), str(settings.warmup)]
            done = subprocess.run(
                pinned(CLIENT_CPU, argv),
                capture_output=True,
                text=True,
                cwd=str(HERE.parent),
                env=net.CHILD_ENV,
                timeout=settings.warmup + settings.seconds + 120,
            )
        stored = len(os.listdir(os.path.join(maildir, "new")))
    if done.returncode:
        raise BenchError(f"the client failed against {side}: {done.stderr.strip()[-500:]}")
    result = json.loads(done.stdout)
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


MEASURE: net.Measures = {
    case: (lambda side, settings, info, case=case: measure(case, side, settings)) for case in CASES
}

TABLES: list[TableSpec] = [
    ("Messages per second into the maildir (wall clock)", "rate", True, 1.0, "", 0),
    ("Messages per server CPU-second", "perServerCpu", True, 1.0, "", 0),
    ("Server CPU load", "serverLoad", None, 100.0, "%", 0),
    ("Client CPU load", "clientLoad", None, 100.0, "%", 0),
]


def goals(cases: list[str], samples: Samples) -> list[str]:
    """The issue's goal (torsion at least 2x Twisted's messages/s) for each case."""
    lines = []
    for case in cases:
        for metric, what in (("rate", "messages/s"), ("perServerCpu", "per server CPU-second")):
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
    return ["Goals (issue 12):", *lines] if lines else []


def report(cases: list[str], sides: list[str], samples: Samples) -> str:
    parts = [sideTable(spec, cases, sides, samples, REFERENCE) for spec in TABLES]
    parts.append("\n".join(goals(cases, samples)))
    return "\n\n".join(p for p in parts if p)


def parseArguments() -> argparse.Namespace:
    parser = net.benchParser(__doc__.split("\n")[0], CASES, SIDES, 3)
    parser.add_argument("--seconds", type=float, help="measured seconds per case (default 3)")
    parser.add_argument(
        "--profile", metavar="SIDE", help="after the tables, py-spy hot spots of SIDE's server"
    )
    options = parser.parse_args()
    checkChoices(parser, (("case", options.cases, CASES), ("side", options.sides, SIDES)))
    if options.profile is not None:
        checkChoices(parser, (("side", options.profile, SIDES),))
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
        print(f"smtp.py: {e}", file=sys.stderr)
        return 2


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
    window = f"; {settings.seconds:g} s measured after {settings.warmup:g} s of warm-up"
    print(runHeader(settings.rounds, source, versions, window, started, loadBefore, noisy, options))
    print(report(cases, sides, samples))
    print()
    return net.endSideRun(options, settings, source, samples, errors, infos, wanted, cases, MEASURE)


if __name__ == "__main__":
    sys.exit(main())
