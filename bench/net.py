"""Benchmark: TCP echo and timers, torsion's reactors against Twisted, asyncio and uvloop.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/net.py --quiet-wait 60   # every case and side, 5 rounds
    .venv/bin/python bench/net.py --quick           # tiny sizes, 1 round: a smoke test
    bench/run net --cases pingpong --sides torsion-epoll,twisted --rounds 3

Cases (``--cases``): ``pingpong`` (100 connections each bouncing a 64-byte message),
``bulk`` (2 GiB echoed through one connection), ``idle`` (10,000 open connections:
server memory per connection, then every one pinged), ``timers`` (100,000 callLater
calls fired). Sides (``--sides``): every torsion reactor, Twisted, plain asyncio and
uvloop; see ``_echoserver.SIDES``. A side that cannot run here (a reactor module not
written yet, uvloop not installed) is skipped with its reason.

Each server runs in a process of its own (bench/_echoserver.py) pinned to CPU 0 with
``taskset``; the load comes from bench/loadgen.c, a small epoll client in C that this
script compiles with the system's ``cc`` into bench/.build/ and pins to CPU 1. A fresh
server serves each measurement, importing a copy of torsion/ taken when the run
started. Rounds are interleaved (every case on every side, then the next round), the
table shows medians, and the ratios (medians of the per-round ratios) compare with
Twisted (above 1 means better than Twisted) and torsion-uvloop with plain uvloop. The
goals are judged per server CPU-second, which a busy neighbour disturbs far less than
wall-clock rates; --quiet-wait waits for idle CPUs before each measurement. Twisted
runs in bench/.venv-twisted, made on first use as by bench/deferred.py; it is never
imported here. Method, latest table and notes: bench/README.md.
Tests: tests/bench/test_net_smoke.py.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
SERVER = HERE / "_echoserver.py"
LOADGEN_SOURCE = HERE / "loadgen.c"
LOADGEN = HERE / ".build" / "loadgen"
HOST = "127.0.0.1"

sys.path.insert(0, str(HERE))
from _echoserver import SIDES  # noqa: E402
from _netreport import Samples, hotSpots, machine, medians, report  # noqa: E402
from deferred import twistedPython  # noqa: E402

CASES = ["pingpong", "bulk", "idle", "timers"]
SERVER_CPU, CLIENT_CPU = "0", "1"


@dataclass
class Settings:
    """The sizes of each case (the defaults are the issue's; --quick shrinks them)."""

    rounds: int = 5
    conns: int = 100
    msgSize: int = 64
    seconds: float = 5.0
    warmup: float = 1.0
    bulkBytes: int = 2 * 2**30
    idleConns: int = 10_000
    timerCalls: int = 100_000


QUICK = Settings(
    rounds=1,
    conns=20,
    seconds=0.5,
    warmup=0.2,
    bulkBytes=32 * 2**20,
    idleConns=200,
    timerCalls=10_000,
)


class BenchError(Exception):
    """A measurement failed; the message says which side, which case and why."""


# -- child processes ------------------------------------------------------------------


class Child:
    """A child process whose stdout lines are read by a thread, so waits are bounded."""

    def __init__(self, argv: list[str], name: str) -> None:
        self.name = name
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=str(HERE.parent),
            env=CHILD_ENV,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, prefix: str, timeout: float) -> str:
        """Return the next output line, which must start with ``prefix``."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise BenchError(f"{self.name} said nothing for {timeout:.0f} s") from None
        if line is None:
            code = self.process.wait()
            raise BenchError(f"{self.name} exited (status {code}); its error output is above")
        if not line.startswith(prefix):
            raise BenchError(f"{self.name} said {line!r}, expected {prefix!r}...")
        return line

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        """Close its input (which ends both servers and the load generator), then reap."""
        try:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()


PIN = shutil.which("taskset") is not None and len(os.sched_getaffinity(0)) >= 2


def pinned(cpu: str, argv: list[str]) -> list[str]:
    """``argv`` run on CPU ``cpu`` only, when this machine can pin (taskset, 2+ CPUs)."""
    if PIN:
        return ["taskset", "-c", cpu, *argv]
    return argv


# The environment of every process the benchmark starts; snapshotTorsion adds to it.
CHILD_ENV = dict(os.environ, PYTHONHASHSEED="0", PYTHONUNBUFFERED="1")


@contextmanager
def snapshotTorsion() -> Iterator[None]:
    """Make every torsion side import a copy of torsion/ taken now.

    A full run takes ten minutes or more and starts a new server for each measurement;
    without the copy, an edit made meanwhile would land in some measurements and not in
    others. The copy goes first on the children's PYTHONPATH, ahead of the installed
    (editable) torsion, and is removed at the end.
    """
    with tempfile.TemporaryDirectory(prefix="torsion-bench-") as copy:
        shutil.copytree(
            HERE.parent / "torsion",
            Path(copy) / "torsion",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        saved = CHILD_ENV.get("PYTHONPATH")
        CHILD_ENV["PYTHONPATH"] = os.pathsep.join(filter(None, [copy, saved]))
        try:
            yield
        finally:
            CHILD_ENV.pop("PYTHONPATH")
            if saved is not None:
                CHILD_ENV["PYTHONPATH"] = saved


def sourceVersion() -> str:
    """The git commit of the code measured, with "+edits" if the tree differs from it."""
    describe = subprocess.run(
        ["git", "describe", "--always", "--dirty=+edits"],
        capture_output=True,
        text=True,
        cwd=str(HERE.parent),
    )
    return describe.stdout.strip() or "unknown"


def compilerCommand() -> list[str]:
    """The C compiler to build loadgen with ($CC or cc/gcc/clang).

    Raises:
        BenchError: if there is none.
    """
    for candidate in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if candidate and shutil.which(candidate.split()[0]):
            return candidate.split()
    raise BenchError(
        "no C compiler found to build bench/loadgen.c: install one "
        "(apt-get install gcc) or name it in the CC environment variable"
    )


def buildLoadgen() -> Path:
    """Compile loadgen unless an up-to-date build exists; return its path."""
    if LOADGEN.exists() and LOADGEN.stat().st_mtime >= LOADGEN_SOURCE.stat().st_mtime:
        return LOADGEN
    LOADGEN.parent.mkdir(exist_ok=True)
    # Build beside the target and rename, so concurrent runs never see half a file.
    fd, temporary = tempfile.mkstemp(dir=LOADGEN.parent, prefix="loadgen.")
    os.close(fd)
    command = [*compilerCommand(), "-O2", "-Wall", "-o", temporary, str(LOADGEN_SOURCE)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        os.unlink(temporary)
        raise BenchError(f"building loadgen failed:\n{' '.join(command)}\n{result.stderr}")
    os.replace(temporary, LOADGEN)
    return LOADGEN


# -- sides ---------------------------------------------------------------------------


def pythonFor(side: str) -> str:
    return str(twistedPython()) if SIDES[side].framework == "twisted" else sys.executable


def askWorker(python: str, command: list[str], timeout: float = 120) -> dict[str, Any]:
    """Run a bench worker's ``check`` command; return the JSON object it prints.

    A worker that fails or prints no JSON gives ``{"ok": False, "reason": ...}`` with
    the end of its standard error.
    """
    result = subprocess.run(
        [python, *command],
        capture_output=True,
        text=True,
        cwd=str(HERE.parent),
        env=CHILD_ENV,
        timeout=timeout,
    )
    try:
        info: dict[str, Any] = json.loads(result.stdout)
    except ValueError:
        info = {"ok": False, "reason": f"check failed: {result.stderr.strip()[-500:]}"}
    return info


def checkSide(side: str) -> dict[str, Any]:
    """What bench/_echoserver.py check says about ``side`` (ok, reactor, versions...)."""
    return askWorker(pythonFor(side), [str(SERVER), side, "check"], timeout=60)


def defaultTorsionSide() -> str | None:
    """The side of the reactor ``torsion.internet.default.install()`` picks here."""
    code = "from torsion.internet import default; r = default.install(); print(type(r).__module__)"
    result = subprocess.run(
        [sys.executable, "-P", "-c", code], capture_output=True, text=True, env=CHILD_ENV
    )
    module = result.stdout.strip()
    for side, spec in SIDES.items():
        if spec.framework == "torsion" and spec.reactorModule == module and spec.loop is None:
            return side
    return None


# Called with each new server's process id before it is measured (--profile uses it).
onServerStart: Callable[[int], None] | None = None


@contextmanager
def server(side: str) -> Iterator[tuple[Child, int]]:
    """A fresh echo server of ``side``, pinned, warmed up by one connection."""
    child = Child(pinned(SERVER_CPU, [pythonFor(side), str(SERVER), side, "serve"]), side)
    try:
        port = int(child.expect("port ", 60).split()[1])
        if onServerStart is not None:
            onServerStart(child.process.pid)
        # One echo first, so that the loop runs and the accept path has been taken once
        # before anything is measured.
        with socket.create_connection((HOST, port), timeout=10) as probe:
            probe.sendall(b"warm")
            echoed = b""
            while len(echoed) < 4 and (chunk := probe.recv(16)):
                echoed += chunk
            if echoed != b"warm":
                raise BenchError(f"{side}: the warm-up echo came back as {echoed!r}")
        waitUntil(lambda: stats(child)["conns"] == 0, 10, f"{side}: warm-up close not seen")
        yield child, port
    finally:
        child.stop()


def stats(child: Child) -> dict[str, Any]:
    """The server's CPU seconds, RSS bytes and open connections, asked for now."""
    child.send("stats")
    answer: dict[str, Any] = json.loads(child.expect("{", 30))
    return answer


def waitUntil(condition: Callable[[], bool], timeout: float, failure: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise BenchError(failure)
        time.sleep(0.02)


def loadgen(*args: object) -> Child:
    argv = [str(LOADGEN), *(str(a) for a in args)]
    return Child(pinned(CLIENT_CPU, argv), f"loadgen {args[0]}")


def fields(line: str) -> dict[str, float]:
    """The key=value numbers of a loadgen result line."""
    return {k: float(v) for k, v in (item.split("=") for item in line.split()[1:])}


# -- the cases ------------------------------------------------------------------------


def measurePingpong(side: str, settings: Settings, info: dict[str, Any]) -> dict[str, float]:
    with server(side) as (srv, port):
        client = loadgen(
            "pingpong",
            HOST,
            port,
            settings.conns,
            settings.msgSize,
            settings.seconds,
            settings.warmup,
        )
        try:
            client.expect("go", 60 + settings.warmup)
            before = stats(srv)
            result = fields(client.expect("result", 60 + settings.seconds))
            after = stats(srv)
        finally:
            client.stop()
    cpu = after["cpu"] - before["cpu"]
    return {
        "rate": result["rate"],
        "roundTripsPerCpuSecond": result["roundtrips"] / cpu,
        "serverLoad": cpu / result["seconds"],
        "clientLoad": result["cpu"] / result["seconds"],
    }


def measureBulk(side: str, settings: Settings, info: dict[str, Any]) -> dict[str, float]:
    with server(side) as (srv, port):
        client = loadgen("bulk", HOST, port, settings.bulkBytes)
        try:
            client.expect("go", 60)
            before = stats(srv)
            result = fields(client.expect("result", 60 + settings.bulkBytes / 5e6))
            after = stats(srv)
        finally:
            client.stop()
    cpu = after["cpu"] - before["cpu"]
    return {
        "mbPerCpuSecond": result["bytes"] / 1e6 / cpu,
        "mbPerSecond": result["mbps"],
        "serverLoad": cpu / result["seconds"],
        "clientLoad": result["cpu"] / result["seconds"],
    }


def idleCount(settings: Settings, info: dict[str, Any]) -> int:
    """How many idle connections fit: the requested count within descriptor limits."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    fit = hard - 64
    if info.get("fdLimit"):
        fit = min(fit, int(info["fdLimit"]) - 64)
    return min(settings.idleConns, fit)


def measureIdle(side: str, settings: Settings, info: dict[str, Any]) -> dict[str, float]:
    count = idleCount(settings, info)
    with server(side) as (srv, port):
        baseline = stats(srv)
        client = loadgen("idle", HOST, port, count)
        try:
            client.expect("open", 300)
            opened = stats(srv)
            if opened["conns"] != count:
                raise BenchError(f"{side}: {opened['conns']} connections open, not {count}")
            client.send("ping")
            answered = int(client.expect("answered", 120).split()[1])
            after = stats(srv)
        finally:
            client.stop()
    return {
        "connections": count,
        "answered": answered,
        "bytesPerConnection": (after["rss"] - baseline["rss"]) / count,
    }


def measureTimers(side: str, settings: Settings, info: dict[str, Any]) -> dict[str, float]:
    argv = pinned(
        SERVER_CPU, [pythonFor(side), str(SERVER), side, "timers", str(settings.timerCalls)]
    )
    result = subprocess.run(
        argv, capture_output=True, text=True, cwd=str(HERE.parent), env=CHILD_ENV, timeout=300
    )
    if result.returncode:
        raise BenchError(f"{side} timers failed: {result.stderr.strip()[-500:]}")
    answer = json.loads(result.stdout)
    return {"rate": float(answer["rate"]), "cpuRate": float(answer["cpuRate"])}


# What each case's function takes (side, settings, check info) and gives (its metrics).
Measures = dict[str, Callable[[str, Any, dict[str, Any]], dict[str, float]]]
MEASURE: Measures = {
    "pingpong": measurePingpong,
    "bulk": measureBulk,
    "idle": measureIdle,
    "timers": measureTimers,
}


# -- the run ---------------------------------------------------------------------------


def cpuTimes() -> tuple[int, int]:
    """Jiffies of all CPUs so far: (busy, total), from /proc/stat."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already in user
    return total - idle, total


def waitForQuiet(maxWait: float, busyLimit: float = 0.1) -> bool:
    """Wait until other programs leave the CPUs nearly idle for half a second.

    Between measurements this benchmark itself is idle, so whatever keeps the CPUs
    busy is a neighbour that would skew the next one. Returns False if the machine was
    not quiet within ``maxWait`` seconds (the measurement then goes ahead anyway).
    """
    deadline = time.monotonic() + maxWait
    while True:
        busy0, total0 = cpuTimes()
        time.sleep(0.5)
        busy1, total1 = cpuTimes()
        if (busy1 - busy0) <= busyLimit * max(1, total1 - total0):
            return True
        if time.monotonic() > deadline:
            return False


def runRounds(
    cases: list[str],
    sides: list[str],
    infos: dict[str, dict[str, Any]],
    settings: Settings,
    quietWait: float,
    measure: Measures | None = None,
    applies: Callable[[str, str], bool] | None = None,
) -> tuple[Samples, list[str], int]:
    """Measure every case on every side, round after round.

    ``measure`` maps each case to its function (this script's ``MEASURE`` by default;
    bench/web.py passes its own); ``applies(case, side)``, if given, says whether a side
    has that case at all (one that has not is passed over, without waiting for quiet).
    Returns the samples, the errors, and how many measurements started on a busy
    machine (with ``quietWait`` > 0: after waiting that long for quiet in vain).
    """
    measure = MEASURE if measure is None else measure
    samples: Samples = {}
    errors: list[str] = []
    noisy = 0
    for number in range(settings.rounds):
        for case in cases:
            # Rotate the order each round, so no side is always first or last.
            shift = number % len(sides)
            for side in sides[shift:] + sides[:shift]:
                if applies is not None and not applies(case, side):
                    continue
                print(f"round {number + 1}/{settings.rounds}: {case} {side}", file=sys.stderr)
                if quietWait and not waitForQuiet(quietWait):
                    noisy += 1
                    print("  the machine is busy: measuring anyway", file=sys.stderr)
                try:
                    sample = measure[case](side, settings, infos[side])
                except (BenchError, subprocess.TimeoutExpired, OSError) as e:
                    errors.append(f"round {number + 1}, {case}, {side}: {e}")
                    print(f"  failed: {e}", file=sys.stderr)
                    continue
                sample["round"] = number + 1
                samples.setdefault((case, side), []).append(sample)
    return samples, errors, noisy


# -- profiling ---------------------------------------------------------------------------


def profile(
    side: str,
    cases: list[str],
    settings: Settings,
    info: dict[str, Any],
    measure: Measures | None = None,
) -> str:
    """Run each case once more on ``side`` under py-spy; the top functions by own time.

    ``measure`` as for ``runRounds``; its functions must start their servers through a
    context manager that calls ``onServerStart``, as ``server`` does.
    """
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(pyspy).exists():
        raise BenchError("--profile needs py-spy: .venv/bin/pip install py-spy")
    sections = []
    for case in cases:
        with tempfile.TemporaryDirectory() as scratch:
            output = Path(scratch) / "stacks.txt"
            record = [
                pyspy,
                "record",
                "--format",
                "raw",
                "--nolineno",
                "--full-filenames",
                "-r",
                "250",
                "-o",
                str(output),
            ]
            if case == "timers":
                argv = [pythonFor(side), str(SERVER), side, "timers", str(settings.timerCalls)]
                subprocess.run(
                    pinned(SERVER_CPU, [*record, "--", *argv]),
                    env=CHILD_ENV,
                    capture_output=True,
                    timeout=600,
                    check=True,
                )
            else:
                spyOn(case, side, settings, info, [*record, "--pid"], measure)
            sections.append(f"#### {side}, {case}\n\n" + hotSpots(output.read_text()))
    return "\n\n".join(sections)


def spyOn(
    case: str,
    side: str,
    settings: Settings,
    info: dict[str, Any],
    record: list[str],
    measure: Measures | None = None,
) -> None:
    """Measure ``case`` on ``side`` once with py-spy recording the server."""
    global onServerStart
    spies: list[subprocess.Popen[bytes]] = []

    def attach(pid: int) -> None:
        spy = subprocess.Popen([*record, str(pid)], stdout=subprocess.DEVNULL)
        spies.append(spy)
        time.sleep(1)  # py-spy takes a moment to attach

    onServerStart = attach
    try:
        (MEASURE if measure is None else measure)[case](side, settings, info)
    finally:
        onServerStart = None
        for spy in spies:
            spy.wait(timeout=60)


# -- main ------------------------------------------------------------------------------


def benchParser(
    description: str, cases: Iterable[str], sides: Iterable[str], defaultRounds: int
) -> argparse.ArgumentParser:
    """The options every side-by-side benchmark takes (net, tls, web); add your own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 round: smoke test")
    parser.add_argument("--rounds", type=int, help=f"rounds (default {defaultRounds})")
    parser.add_argument("--cases", default=",".join(cases), help="comma-separated cases")
    parser.add_argument("--sides", default=",".join(sides), help="comma-separated sides")
    parser.add_argument("--json", type=Path, help="also write the medians to this file")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0,
        metavar="S",
        help="before each measurement, wait up to S seconds for other programs to leave "
        "the CPUs idle (default 0: do not wait)",
    )
    return parser


def parseArguments() -> argparse.Namespace:
    parser = benchParser(__doc__.split("\n")[0], CASES, SIDES, 5)
    parser.add_argument("--seconds", type=float, help="ping-pong seconds per measurement")
    parser.add_argument(
        "--profile", metavar="SIDE", help="after the table, py-spy hot spots of SIDE per case"
    )
    options = parser.parse_args()
    checkChoices(parser, (("case", options.cases, CASES), ("side", options.sides, SIDES)))
    return options


def checkChoices(
    parser: argparse.ArgumentParser, lists: Iterable[tuple[str, str, Iterable[str]]]
) -> None:
    """Stop with a usage error if a comma-separated option names something unknown."""
    for name, given, known in lists:
        choices = sorted(known)
        unknown = [item for item in given.split(",") if item not in choices]
        if unknown:
            parser.error(f"unknown {name} {', '.join(unknown)}; choose from {', '.join(choices)}")


def finishRun(
    options: argparse.Namespace,
    settings: Any,
    source: str,
    samples: Samples,
    errors: list[str],
    skipped: dict[str, str],
    sides: list[str],
    profiler: Callable[[str], str] | None = None,
    **extra: Any,
) -> int:
    """End a bench script's run: the --json document, the --profile report, the errors.

    ``extra`` goes into the JSON document as it is; ``profiler(side)`` makes the
    profile text of the side named by --profile (a script without --profile passes
    None). Returns the script's exit status: 1 if any measurement failed.
    """
    if options.json:
        document = {
            "settings": asdict(settings),
            "source": source,
            "medians": [
                {"case": c, "side": s, **m} for (c, s), m in sorted(medians(samples).items())
            ],
            "samples": [{"case": c, "side": s, "runs": r} for (c, s), r in samples.items()],
            "errors": errors,
            "skipped": skipped,
            **extra,
        }
        options.json.write_text(json.dumps(document, indent=1))
    wanted = getattr(options, "profile", None)
    if wanted and profiler is not None:
        if wanted not in sides:
            raise BenchError(f"cannot profile {wanted}: it was not run")
        print("\n" + profiler(wanted))
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    return 1 if errors else 0


def endSideRun(
    options: argparse.Namespace,
    settings: Any,
    source: str,
    samples: Samples,
    errors: list[str],
    infos: dict[str, dict[str, Any]],
    wanted: list[str],
    cases: list[str],
    measures: Measures,
    describe: str = "reactor",
    moreSkipped: dict[str, str] | None = None,
) -> int:
    """The tail of a bench run whose sides are worker processes: what each side ran on
    (``infos[side][describe]``), the sides skipped and why, then `finishRun` with a
    --profile of the cases that side measured."""
    sides = [side for side in wanted if infos[side]["ok"]]
    for side in sides:
        print(f"{side}: {infos[side][describe]}")
    skipped = {s: infos[s]["reason"] for s in wanted if not infos[s]["ok"]}
    skipped.update(moreSkipped or {})
    for side, reason in skipped.items():
        print(f"{side}: skipped: {reason}")
    return finishRun(
        options,
        settings,
        source,
        samples,
        errors,
        skipped,
        sides,
        lambda side: profile(
            side, [c for c in cases if (c, side) in samples], settings, infos[side], measures
        ),
    )


def main() -> int:
    options = parseArguments()
    settings = QUICK if options.quick else Settings()
    if options.rounds:
        settings.rounds = options.rounds
    if options.seconds:
        settings.seconds = options.seconds
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # Exit through the context managers on SIGTERM too, so the torsion copy is removed
    # (the children see their input close and exit by themselves).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if not PIN:
        print("warning: not pinning (needs taskset and 2 CPUs): noisier", file=sys.stderr)
    try:
        buildLoadgen()
        with snapshotTorsion():
            return run(options, settings)
    except BenchError as e:
        print(f"net.py: {e}", file=sys.stderr)
        return 2


def runHeader(
    rounds: int,
    source: str,
    versions: dict[str, str],
    extra: str,
    started: float,
    loadBefore: float,
    noisy: int,
    options: argparse.Namespace,
) -> str:
    """The first line of a report: what ran, where, how long, and how busy the machine was."""
    return (
        f"Medians of {rounds} round(s); torsion at {source}; {machine()}; "
        + ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
        + extra
        + f"; {time.monotonic() - started:.0f} s; load average {loadBefore:.2f} before, "
        + f"{os.getloadavg()[0]:.2f} after"
        + (
            f"; {noisy} measurement(s) started while other programs kept the CPUs busy.\n"
            if options.quiet_wait
            else ".\n"
        )
    )


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
    defaultSide = defaultTorsionSide()
    samples, errors, noisy = runRounds(cases, sides, infos, settings, options.quiet_wait)

    versions: dict[str, str] = {}
    for side in sides:
        versions.update(infos[side].get("versions", {}))
    print(runHeader(settings.rounds, source, versions, "", started, loadBefore, noisy, options))
    print(report(cases, sides, samples, defaultSide))
    for side in sides:
        print(f"\n{side}: {infos[side]['reactor']}", end="")
        if "idle" in cases and idleCount(settings, infos[side]) < settings.idleConns:
            print(
                f" (idle case: {idleCount(settings, infos[side])} connections, "
                "the most that fit its descriptor limit)",
                end="",
            )
    print()
    skipped = {s: infos[s]["reason"] for s in wanted if not infos[s]["ok"]}
    return finishRun(
        options,
        settings,
        source,
        samples,
        errors,
        skipped,
        sides,
        lambda side: profile(side, cases, settings, infos[side]),
        defaultSide=defaultSide,
    )


if __name__ == "__main__":
    sys.exit(main())
