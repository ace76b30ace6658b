"""Benchmark: DNS queries per second with dnsperf, ``torsiond dns`` against ``twistd dns``.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/names.py --quiet-wait 30   # both cases and sides, 5 rounds
    .venv/bin/python bench/names.py --quick           # 1 s, 1 round: a smoke test
    .venv/bin/python bench/names.py --cases mixed --rounds 9 --profile torsion

Both servers serve the same small zone from a Python zone file (``--pyzone``, written
with Twisted's record names, so one file serves both) over UDP on 127.0.0.1, each in a
fresh process pinned to CPU 0; dnsperf (Debian's ``dnsperf``) is pinned to CPU 1 and
keeps ``--outstanding`` queries in flight for ``--seconds``. Cases (``--cases``):
``a`` (one name's A record, over and over) and ``mixed`` (A, AAAA, MX, TXT, NS, SOA and
a name that does not exist, in turn). Sides (``--sides``): ``torsion`` (torsiond on its
default reactor), ``torsion-nocache`` (the same with ``--wire-cache 0``: every
answer worked out again, as Twisted does) and ``twisted`` (twistd from
bench/.venv-twisted, made on first use as by bench/deferred.py; never imported here).
Every answer dnsperf counts must be NOERROR or, for the missing name, NXDOMAIN: a
side that answers SERVFAIL or loses queries fails the measurement. Rounds are
interleaved, tables show medians, and the ratios (medians of per-round ratios) compare
with Twisted: above 1 means better.
Method and latest table: bench/README.md. Tests: tests/bench/test_names_smoke.py.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import struct
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
sys.path.insert(0, str(HERE.parent))
import net  # noqa: E402
from _netreport import Samples, TableSpec, betterRatio, roundRatios, sideTable  # noqa: E402
from deferred import twistedPython  # noqa: E402
from net import (  # noqa: E402
    CLIENT_CPU,
    SERVER_CPU,
    BenchError,
    checkChoices,
    pinned,
    runHeader,
    runRounds,
    snapshotTorsion,
    sourceVersion,
)

CASES = ["a", "mixed"]
SIDES = ["torsion", "torsion-nocache", "twisted"]
REFERENCE = "twisted"
# The goal: torsion's server answers at least three times as many queries.
GOAL = 3.0
HOST = "127.0.0.1"

ZONE = """\
# The benchmark's zone, in Twisted's Python zone file names (both servers read it).
zone = [
    SOA('example.com', mname='ns1.example.com', rname='admin.example.com',
        serial=2026120201, refresh=3600, retry=600, expire=86400, minimum=300,
        ttl=3600),
    NS('example.com', 'ns1.example.com'),
    A('ns1.example.com', '192.0.2.53'),
    A('www.example.com', '192.0.2.1'),
    AAAA('www.example.com', '2001:db8::1'),
    MX('example.com', 10, 'mail.example.com'),
    A('mail.example.com', '192.0.2.25'),
    TXT('example.com', b'v=spf1 mx -all'),
]
"""
QUERIES = {
    "a": ["www.example.com A"],
    "mixed": [
        "www.example.com A",
        "www.example.com AAAA",
        "example.com MX",
        "example.com TXT",
        "example.com NS",
        "example.com SOA",
        "missing.example.com A",
    ],
}


@dataclass
class Settings:
    """The size of each measurement (--quick shrinks it)."""

    rounds: int = 5
    seconds: float = 10.0
    outstanding: int = 100
    zone: str = ""  # the zone file's path, once written


QUICK = Settings(rounds=1, seconds=1.0)


def serverCommand(side: str, zone: str, port: int) -> list[str]:
    """The command line that serves ``zone`` on ``port`` of 127.0.0.1 for ``side``."""
    options = ["--pyzone", zone, "--port", str(port), "--interface", HOST]
    if side == "twisted":
        twistd = twistedPython().parent / "twistd"
        return [str(twistd), "-n", "--pidfile=", "dns", *options]
    if side == "torsion-nocache":
        options += ["--wire-cache", "0"]
    return [sys.executable, "-m", "torsion.scripts.torsiond", "-n", "--pidfile=", "dns", *options]


def checkSide(side: str) -> dict[str, Any]:
    """Whether ``side`` can run here, and what it runs on."""
    if shutil.which("dnsperf") is None:
        return {"ok": False, "reason": "dnsperf is not installed (apt-get install dnsperf)"}
    if side == "twisted":
        try:
            python = twistedPython()
        except (OSError, subprocess.SubprocessError) as e:
            return {"ok": False, "reason": f"could not make its virtual environment: {e}"}
        probe = [str(python), "-c", "import twisted; print('Twisted', twisted.__version__)"]
    else:
        probe = [sys.executable, "-c", "import torsion.names.tap; print('torsion')"]
    done = subprocess.run(probe, capture_output=True, text=True, env=net.CHILD_ENV, timeout=60)
    if done.returncode:
        lines = done.stderr.strip().splitlines()
        return {"ok": False, "reason": lines[-1] if lines else f"exit status {done.returncode}"}
    return {"ok": True, "server": done.stdout.strip() + " (default reactor)"}


def freePort() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (the servers listen on both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((HOST, 0))
            port = udp.getsockname()[1]
            with socket.socket() as tcp:
                try:
                    tcp.bind((HOST, port))
                except OSError:
                    continue
            return int(port)


def probeQuery(port: int) -> bool:
    """Whether a server on ``port`` answers an A query for www.example.com within 0.2 s."""
    question = b"".join(bytes([len(p)]) + p for p in (b"www", b"example", b"com")) + b"\0"
    query = struct.pack("!6H", 0x5151, 0x0100, 1, 0, 0, 0) + question + b"\0\1\0\1"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(0.2)
        udp.sendto(query, (HOST, port))
        try:
            answer = udp.recv(4096)
        except OSError:
            return False
    return answer[:2] == b"\x51\x51"


def cpuSeconds(pid: int) -> float:
    """The user + system CPU time of process ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def dnsperfFigures(output: str) -> dict[str, float]:
    """The counts and the rate from dnsperf's statistics."""
    figures: dict[str, float] = {}
    for key, pattern in (
        ("sent", r"Queries sent:\s+(\d+)"),
        ("completed", r"Queries completed:\s+(\d+)"),
        ("lost", r"Queries lost:\s+(\d+)"),
        ("rate", r"Queries per second:\s+([\d.]+)"),
        ("latency", r"Average Latency \(s\):\s+([\d.]+)"),
    ):
        found = re.search(pattern, output)
        if found is None:
            raise BenchError(f"dnsperf said no {key!r}:\n{output}")
        figures[key] = float(found.group(1))
    codes = re.search(r"Response codes:\s+(.*)", output)
    figures["bad"] = float(
        sum(
            int(count)
            for code, count in re.findall(r"([A-Z]+) (\d+)", codes.group(1) if codes else "")
            if code not in ("NOERROR", "NXDOMAIN")
        )
    )
    return figures


@contextmanager
def dnsServer(side: str, zone: str, scratch: str) -> Iterator[tuple[int, int]]:
    """A fresh ``side`` server of ``zone`` on CPU 0, once it answers: (its pid, its port)."""
    port = freePort()
    logPath = Path(scratch) / "server.log"
    with open(logPath, "w") as log:
        server = subprocess.Popen(
            pinned(SERVER_CPU, serverCommand(side, zone, port)),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=scratch,
            env=net.CHILD_ENV,
        )
        try:
            deadline = time.monotonic() + 30
            while not probeQuery(port):
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    tail = logPath.read_text()[-2000:]
                    raise BenchError(f"{side}'s server did not answer on port {port}:\n{tail}")
            if net.onServerStart is not None:
                net.onServerStart(server.pid)
            yield server.pid, port
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def measure(case: str, side: str, settings: Settings) -> dict[str, float]:
    """One measurement: a fresh ``side`` server, dnsperf for ``settings.seconds``."""
    with tempfile.TemporaryDirectory(prefix="dnsbench-") as scratch:
        queries = Path(scratch) / "queries.txt"
        queries.write_text("\n".join(QUERIES[case]) + "\n")
        with dnsServer(side, settings.zone, scratch) as (pid, port):
            dnsperf = ["dnsperf", "-s", HOST, "-p", str(port), "-d", str(queries)]
            dnsperf += ["-l", str(settings.seconds), "-q", str(settings.outstanding), "-t", "2"]
            before = cpuSeconds(pid)
            perf = subprocess.run(
                pinned(CLIENT_CPU, dnsperf),
                capture_output=True,
                text=True,
                timeout=settings.seconds + 60,
            )
            cpu = cpuSeconds(pid) - before
    if perf.returncode:
        raise BenchError(f"dnsperf failed ({perf.returncode}): {perf.stderr or perf.stdout}")
    figures = dnsperfFigures(perf.stdout)
    if figures["bad"] or figures["lost"] > 0.001 * figures["sent"]:
        raise BenchError(
            f"{side}: {figures['bad']:.0f} answers not NOERROR/NXDOMAIN, "
            f"{figures['lost']:.0f} of {figures['sent']:.0f} queries lost"
        )
    seconds = settings.seconds
    return {
        "rate": figures["rate"],
        "perCpu": figures["completed"] / cpu if cpu else 0.0,
        "load": cpu / seconds,
        "latency": figures["latency"] * 1000,
        "completed": figures["completed"],
    }


MEASURE: net.Measures = {
    case: (lambda side, settings, info, case=case: measure(case, side, settings)) for case in CASES
}

TABLES: list[TableSpec] = [
    ("Queries answered per second (dnsperf, wall clock)", "rate", True, 1.0, "", 0),
    ("Queries answered per CPU-second of the server", "perCpu", True, 1.0, "", 0),
    ("CPU load of the server", "load", None, 100.0, "%", 0),
    ("Average latency (ms)", "latency", None, 1.0, "", 2),
]


def goals(cases: list[str], samples: Samples) -> list[str]:
    """The issue's goal (torsion at least 3x Twisted's queries per second) per case,
    for torsiond as it runs by default and, to show what the wire cache is worth, with
    the cache off."""
    lines = []
    for side in ("torsion", "torsion-nocache"):
        for case in cases:
            ratios = roundRatios(samples, case, "rate", True, side, REFERENCE)
            better = betterRatio(samples, case, "rate", True, side, REFERENCE)
            if not ratios or better is None:
                continue
            verdict = "met" if better >= GOAL else "MISSED"
            lines.append(
                f"- {side} vs twisted, {case}, queries/s: {better:.2f}x (rounds "
                f"{min(ratios):.2f}x to {max(ratios):.2f}x; goal {GOAL}x): {verdict}"
            )
    return ["Goals (issue 11):", *lines] if lines else []


def report(cases: list[str], sides: list[str], samples: Samples) -> str:
    parts = [sideTable(spec, cases, sides, samples, REFERENCE) for spec in TABLES]
    parts.append("\n".join(goals(cases, samples)))
    return "\n\n".join(p for p in parts if p)


def main() -> int:
    parser = net.benchParser(__doc__.split("\n")[0], CASES, SIDES, 5)
    parser.add_argument("--seconds", type=float, help="dnsperf seconds per measurement (10)")
    parser.add_argument("--outstanding", type=int, help="queries in flight (100)")
    parser.add_argument("--profile", metavar="SIDE", help="after the tables, py-spy of SIDE")
    options = parser.parse_args()
    checkChoices(parser, (("case", options.cases, CASES), ("side", options.sides, SIDES)))
    settings = QUICK if options.quick else Settings()
    for name in ("rounds", "seconds", "outstanding"):
        if getattr(options, name):
            setattr(settings, name, getattr(options, name))
    cases, wanted = options.cases.split(","), options.sides.split(",")
    started, loadBefore = time.monotonic(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="dnszone-") as scratch, snapshotTorsion():
        settings.zone = str(Path(scratch) / "zone.py")
        Path(settings.zone).write_text(ZONE)
        infos = {side: checkSide(side) for side in wanted}
        sides = [side for side in wanted if infos[side]["ok"]]
        samples, errors, noisy = runRounds(
            cases, sides, infos, settings, options.quiet_wait, MEASURE
        )
        source = sourceVersion()
        dnsperf = subprocess.run(["dnsperf", "-h"], capture_output=True, text=True)
        version = re.search(r"Version ([\d.]+)", dnsperf.stdout + dnsperf.stderr)
        extra = f"; dnsperf {version.group(1) if version else '?'}, "
        extra += f"{settings.outstanding} queries in flight, {settings.seconds:g} s each"
        print(runHeader(settings.rounds, source, {}, extra, started, loadBefore, noisy, options))
        print(report(cases, sides, samples))
        return net.endSideRun(
            options, settings, source, samples, errors, infos, wanted, cases, MEASURE, "server"
        )


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
