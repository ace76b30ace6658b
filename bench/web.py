"""Benchmark: HTTP serving, torsion.web against twisted.web, aiohttp, bare uvloop and nginx.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/web.py --quiet-wait 30   # every case and side, 3 rounds
    .venv/bin/python bench/web.py --quick           # tiny sizes, 1 round: a smoke test
    bench/run web --cases hello --sides torsion,twisted --rounds 5 --profile torsion

Cases (``--cases``): ``hello`` (wrk, one thread, 50 keep-alive connections, 10 s, on a
hello-world Resource), ``static`` (the same load on a 1 MiB file: static.File, aiohttp's
static route, nginx), ``slow`` (10,000 connections each sending one request a second:
are all served, at what memory per connection and CPU). Sides (``--sides``): see
``_webserver.SIDES``; a side that cannot run here (torsion.web not merged yet, nginx
not installed) is skipped with its reason, and the static case skips a side without a
file server.

Each server (bench/_webserver.py) runs in a process of its own pinned to CPU 0 with
``taskset``; the load runs on CPU 1: ``wrk --latency`` for hello and static, and
bench/_slowclient.py (asyncio on uvloop) for slow. The server's CPU time is read from
/proc/PID/stat (utime + stime of the server and its children: nginx's worker) just
before and after each measured window, its memory from /proc/PID/status. Rounds are
interleaved and ratios are medians of per-round ratios against Twisted, with
bench/net.py's helpers; Twisted runs in bench/.venv-twisted (as for bench/deferred.py),
aiohttp in bench/.venv-aiohttp, both made on first use and never torsion dependencies.
Needs ``wrk`` and ``nginx`` from the system (``apt-get install wrk nginx``).
Method and latest table: bench/README.md. Tests: tests/bench/test_web_smoke.py.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import resource
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
from _netreport import Samples, betterRatio, medians, number, roundRatios  # noqa: E402
from _webserver import SIDES  # noqa: E402
from deferred import twistedPython  # noqa: E402
from net import (  # noqa: E402
    CLIENT_CPU,
    HOST,
    SERVER_CPU,
    BenchError,
    Child,
    checkChoices,
    fields,
    pinned,
    runHeader,
    runRounds,
    snapshotTorsion,
    sourceVersion,
)

SERVER = HERE / "_webserver.py"
SLOW_CLIENT = HERE / "_slowclient.py"
AIOHTTP_VENV = HERE / ".venv-aiohttp"
CASES = ["hello", "varied", "static", "slow"]
REFERENCE = "twisted"
STATIC_NAME = "big.bin"
WRK_HINT = "wrk is not installed: apt-get install wrk (Debian's package of the same name)"
# The varied case's wrk script: every request carries a header of its own, so that no
# server can reuse the work of parsing the previous request's header block.
VARY_SCRIPT = """\
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, {["X-Request-Id"] = tostring(counter)})
end
"""


@dataclass
class Settings:
    """The sizes of each case (the defaults are issue 7's; --quick shrinks them)."""

    rounds: int = 3
    seconds: int = 10  # wrk's -d, whole seconds
    warmup: int = 2
    connections: int = 50
    staticBytes: int = 2**20
    slowConnections: int = 10_000
    slowInterval: float = 1.0
    slowSeconds: float = 20.0


QUICK = Settings(
    rounds=1,
    seconds=1,
    warmup=1,
    connections=10,
    slowConnections=200,
    slowInterval=0.5,
    slowSeconds=2.0,
)


# -- wrk --------------------------------------------------------------------------------

_TIME_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_SIZE_UNITS = {"B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40}


def wrkSeconds(text: str) -> float:
    """A duration as wrk prints it ("250.00us", "1.64ms", "10.10s", "1.00m")."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match[1]) * _TIME_UNITS[match[2]]


def wrkBytes(text: str) -> float:
    """A size as wrk prints it ("68.29MB": wrk's units are powers of 1024)."""
    match = re.fullmatch(r"([\d.]+)(B|KB|MB|GB|TB)", text)
    if match is None:
        raise ValueError(f"not a wrk size: {text!r}")
    return float(match[1]) * _SIZE_UNITS[match[2]]


def parseWrk(output: str) -> dict[str, float]:
    """The figures of a ``wrk --latency`` report.

    Returns requests, seconds, bytes (read), rate (requests/s), the latency
    percentiles p50, p75, p90, p99 (seconds), socketErrors (connect, read, write and
    timeout errors added up) and non2xx (responses that were not 2xx or 3xx).

    Raises:
        ValueError: if the summary or the latency distribution is not there (a wrk
            run without --latency, or one that failed before measuring).
    """
    result: dict[str, float] = {"socketErrors": 0.0, "non2xx": 0.0}
    summary = re.search(r"^\s*(\d+) requests in ([\d.]+\w+), ([\d.]+\w+) read", output, re.M)
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    if summary is None or rate is None:
        raise ValueError(f"no wrk summary in its output:\n{output}")
    result["requests"] = float(summary[1])
    result["seconds"] = wrkSeconds(summary[2])
    result["bytes"] = wrkBytes(summary[3])
    result["rate"] = float(rate[1])
    for share in ("50", "75", "90", "99"):
        found = re.search(rf"^\s+{share}%\s+([\d.]+\w+)\s*$", output, re.M)
        if found is None:
            raise ValueError(f"no {share}% latency in wrk's output (run it with --latency)")
        result[f"p{share}"] = wrkSeconds(found[1])
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if errors is not None:
        result["socketErrors"] = float(sum(int(n) for n in errors.groups()))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non2xx is not None:
        result["non2xx"] = float(non2xx[1])
    return result


def runWrk(
    url: str, seconds: int, connections: int, script: Path | None = None
) -> tuple[dict[str, float], float]:
    """Run wrk pinned to the client CPU; its figures and the CPU seconds it used.

    Raises:
        BenchError: if wrk failed or printed no report.
    """
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchError(WRK_HINT)
    argv = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script is not None:
        argv[1:1] = ["-s", str(script)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        pinned(CLIENT_CPU, argv), capture_output=True, text=True, timeout=seconds + 60
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if done.returncode:
        raise BenchError(f"wrk failed (status {done.returncode}): {done.stderr.strip()}")
    try:
        return parseWrk(done.stdout), cpu
    except ValueError as e:
        raise BenchError(str(e)) from None


# -- /proc ------------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def processTree(pid: int) -> list[int]:
    """``pid`` and all its descendants alive now."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fieldsAfterName = stat.read().rpartition(")")[2].split()
        except OSError:
            continue
        parents.setdefault(int(fieldsAfterName[1]), []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(parents.get(current, []))
    return tree


def treeCpu(pid: int) -> float:
    """CPU seconds (utime + stime, all threads) used so far by ``pid`` and its children."""
    total = 0
    for member in processTree(pid):
        try:
            with open(f"/proc/{member}/stat") as stat:
                after = stat.read().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(after[11]) + int(after[12])  # fields 14 and 15 of stat(5)
    return total / _TICKS


def treeRss(pid: int) -> int:
    """Resident memory (VmRSS, bytes) of ``pid`` and its children, added up."""
    total = 0
    for member in processTree(pid):
        try:
            with open(f"/proc/{member}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total


# -- sides ------------------------------------------------------------------------------


def aiohttpPython() -> Path:
    """The interpreter of bench/.venv-aiohttp (aiohttp and uvloop), made on first use."""
    python = AIOHTTP_VENV / "bin" / "python"
    probe = [str(python), "-c", "import aiohttp, uvloop"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"setting up {AIOHTTP_VENV} with aiohttp and uvloop from PyPI ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(AIOHTTP_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "aiohttp", "uvloop"], check=True)
    return python


def pythonFor(side: str) -> str:
    framework = SIDES[side].framework
    if framework == "twisted":
        return str(twistedPython())
    if framework == "aiohttp":
        return str(aiohttpPython())
    return sys.executable


def checkSide(side: str) -> dict[str, Any]:
    """What bench/_webserver.py check says about ``side``."""
    try:
        python = pythonFor(side)
    except (OSError, subprocess.CalledProcessError) as e:
        return {"ok": False, "reason": f"could not make its virtual environment: {e}"}
    return net.askWorker(python, [str(SERVER), "--side", side, "check"])


# The 1 MiB file of the static case, made by main() in a temporary directory.
staticDir: Path | None = None


@contextmanager
def server(side: str, static: bool = False) -> Iterator[tuple[Child, int]]:
    """A fresh server of ``side``, pinned, checked with one request of each kind."""
    argv = [pythonFor(side), str(SERVER), "--side", side, "serve"]
    if static:
        assert staticDir is not None
        argv += ["--static-dir", str(staticDir)]
    child = Child(pinned(SERVER_CPU, argv), side)
    try:
        port = int(child.expect("port ", 60).split()[1])
        if net.onServerStart is not None:
            net.onServerStart(child.process.pid)
        expectAnswer(side, port, "/hello", b"Hello, world!")
        if static:
            assert staticDir is not None
            expectAnswer(
                side, port, f"/static/{STATIC_NAME}", (staticDir / STATIC_NAME).read_bytes()
            )
        yield child, port
    finally:
        child.stop()


def expectAnswer(side: str, port: int, path: str, body: bytes) -> None:
    """GET ``path`` once; it must be a 200 with ``body``."""
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        got = response.read()
    except (OSError, http.client.HTTPException) as e:
        raise BenchError(f"{side}: GET {path} failed: {e!r}") from None
    finally:
        connection.close()
    if response.status != 200 or got != body:
        raise BenchError(
            f"{side}: GET {path} answered {response.status} with {len(got)} bytes "
            f"({got[:60]!r}...), not 200 with the expected {len(body)} bytes"
        )


# -- the cases --------------------------------------------------------------------------


def measureWrk(
    side: str, settings: Settings, path: str, static: bool, script: Path | None = None
) -> dict[str, float]:
    with server(side, static) as (child, port):
        url = f"http://{HOST}:{port}{path}"
        runWrk(url, settings.warmup, settings.connections, script)
        before = treeCpu(child.process.pid)
        result, clientCpu = runWrk(url, settings.seconds, settings.connections, script)
        cpu = treeCpu(child.process.pid) - before
    if result["non2xx"]:
        raise BenchError(f"{side}: {result['non2xx']:.0f} answers were not 2xx or 3xx")
    if not cpu:
        raise BenchError(f"{side}: no server CPU time measured in {result['seconds']} s")
    return {
        "rate": result["rate"],
        "mbPerSecond": result["bytes"] / result["seconds"] / 1e6,
        "requestsPerCpuSecond": result["requests"] / cpu,
        "cpuSeconds": cpu,
        "p50": result["p50"],
        "p99": result["p99"],
        "socketErrors": result["socketErrors"],
        "serverLoad": cpu / result["seconds"],
        "clientLoad": clientCpu / result["seconds"],
    }


def measureHello(side: str, settings: Settings, info: dict[str, Any]) -> dict[str, float]:
    return measureWrk(side, settings, "/hello", static=False)


def measureVaried(side: str, settings: Settings, info: dict[str, Any]) -> dict[str, float]:
    assert staticDir is not None
    script = staticDir / "vary.lua"
    script.write_text(VARY_SCRIPT)
    return measureWrk(side, settings, "/hello", static=False, script=script)


def measureStatic(side: str, settings: Settings, info: dict[str, Any]) -> dict[str, float]:
    return measureWrk(side, settings, f"/static/{STATIC_NAME}", static=True)


def slowCount(settings: Settings) -> int:
    """The slow case's connections: as asked, within this process's descriptor limit."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return min(settings.slowConnections, hard - 64)


def measureSlow(side: str, settings: Settings, info: dict[str, Any]) -> dict[str, float]:
    count = slowCount(settings)
    with server(side) as (child, port):
        pid = child.process.pid
        baseline = treeRss(pid)
        argv = [sys.executable, str(SLOW_CLIENT), HOST, str(port), "/hello", str(count)]
        argv += [str(settings.slowInterval), str(settings.slowSeconds)]
        client = Child(pinned(CLIENT_CPU, argv), "slowclient")
        try:
            opened = client.expect("open ", 600)
            if int(opened.split()[1]) != count:
                raise BenchError(f"{side}: {opened.split()[1]} connections opened, not {count}")
            before = treeCpu(pid)
            client.send("go")
            result = fields(client.expect("result ", settings.slowSeconds + 120))
            cpu = treeCpu(pid) - before
            rss = treeRss(pid)
        finally:
            client.stop()
    return {
        "connections": count,
        "served": result["connections"],
        "errors": result["errors"],
        "rate": result["answered"] / result["seconds"],
        "requestsPerCpuSecond": result["answered"] / cpu if cpu else 0.0,
        "serverLoad": cpu / result["seconds"],
        "clientLoad": result["cpu"] / result["seconds"],
        "bytesPerConnection": (rss - baseline) / count,
        "p50": result["p50"],
        "p99": result["p99"],
    }


MEASURE: net.Measures = {
    "hello": measureHello,
    "varied": measureVaried,
    "static": measureStatic,
    "slow": measureSlow,
}


# -- the report -------------------------------------------------------------------------

# Per case: (title, metric, higher is better or None for no ratio, digits, scale, unit).
Column = tuple[str, str, bool | None, int, float, str]
_WRK_COLUMNS: list[Column] = [
    ("requests/s", "rate", True, 0, 1.0, ""),
    ("server CPU", "serverLoad", None, 0, 100.0, "%"),
    ("requests per server CPU-s", "requestsPerCpuSecond", True, 0, 1.0, ""),
    ("p50 latency", "p50", None, 2, 1e3, " ms"),
    ("p99 latency", "p99", False, 2, 1e3, " ms"),
    ("wrk CPU", "clientLoad", None, 0, 100.0, "%"),
]
COLUMNS: dict[str, list[Column]] = {
    "hello": _WRK_COLUMNS,
    "varied": _WRK_COLUMNS,
    "static": [
        ("requests/s", "rate", True, 0, 1.0, ""),
        ("MB/s", "mbPerSecond", None, 0, 1.0, ""),
        ("server CPU", "serverLoad", None, 0, 100.0, "%"),
        ("requests per server CPU-s", "requestsPerCpuSecond", True, 0, 1.0, ""),
        ("p50 latency", "p50", None, 2, 1e3, " ms"),
        ("p99 latency", "p99", False, 2, 1e3, " ms"),
        ("wrk CPU", "clientLoad", None, 0, 100.0, "%"),
    ],
    "slow": [
        ("connections served", "served", None, 0, 1.0, ""),
        ("errors", "errors", None, 0, 1.0, ""),
        ("requests/s", "rate", None, 0, 1.0, ""),
        ("server CPU", "serverLoad", None, 0, 100.0, "%"),
        ("requests per server CPU-s", "requestsPerCpuSecond", True, 0, 1.0, ""),
        ("KiB per connection", "bytesPerConnection", False, 2, 1 / 1024, ""),
        ("p99 latency", "p99", False, 2, 1e3, " ms"),
        ("client CPU", "clientLoad", None, 0, 100.0, "%"),
    ],
}
TITLES = {
    "hello": "hello: GET /hello (13 bytes), wrk -t1",
    "varied": "varied: as hello, each request with a header of its own (X-Request-Id: N)",
    "static": "static: GET of a 1 MiB file, wrk -t1",
    "slow": "slow: keep-alive connections, each sending one GET /hello per interval",
}
# The goals of issue 7: (description, case, metric, higher is better, target).
GOALS = [
    ("hello, requests per server CPU-second", "hello", "requestsPerCpuSecond", True, 4.0),
    ("hello, p99 latency no worse", "hello", "p99", False, 1.0),
    ("varied, requests per server CPU-second", "varied", "requestsPerCpuSecond", True, 4.0),
    ("varied, p99 latency no worse", "varied", "p99", False, 1.0),
]


def caseTable(case: str, sides: list[str], samples: Samples) -> str:
    """One case's Markdown table; a ratio column (vs Twisted) after each ratio metric."""
    table = medians(samples)
    header, rule = "| side |", "|---|"
    for title, _, higher, *_ in COLUMNS[case]:
        header += f" {title} |" + (" vs Twisted |" if higher is not None else "")
        rule += "---:|" + ("---:|" if higher is not None else "")
    lines = [header, rule]
    for side in sides:
        if (case, side) not in table:
            continue
        row = f"| {side} |"
        for _, metric, higher, digits, scale, unit in COLUMNS[case]:
            value = table[(case, side)].get(metric)
            cell = number(None if value is None else value * scale, digits)
            if metric == "served" and value is not None:
                cell += f" of {number(table[(case, side)]['connections'])}"
            row += f" {cell}{unit if value is not None else ''} |"
            if higher is not None:
                better = betterRatio(samples, case, metric, higher, side, REFERENCE)
                row += f" {'n/a' if better is None else f'{better:.2f}x'} |"
        lines.append(row)
    return "\n".join(lines)


def goals(samples: Samples) -> list[str]:
    """Issue 7's goals for the torsion side, each marked met or missed."""
    lines = []
    for name, case, metric, higher, target in GOALS:
        ratios = roundRatios(samples, case, metric, higher, "torsion", REFERENCE)
        if not ratios:
            continue
        better = betterRatio(samples, case, metric, higher, "torsion", REFERENCE)
        assert better is not None
        verdict = "met" if better >= target else "MISSED"
        lines.append(
            f"- torsion vs twisted, {name}: {better:.2f}x (rounds {min(ratios):.2f}x to "
            f"{max(ratios):.2f}x; goal {target}x): {verdict}"
        )
    return ["Goals (issue 7):", *lines] if lines else []


def report(cases: list[str], sides: list[str], samples: Samples, settings: Settings) -> str:
    parts = []
    for case in cases:
        if not any((case, side) in samples for side in sides):
            continue
        if case == "slow":
            detail = (
                f"{slowCount(settings):,} connections, one request each "
                f"{settings.slowInterval:g} s for {settings.slowSeconds:g} s"
            )
        else:
            detail = f"{settings.connections} connections, {settings.seconds} s"
        parts.append(f"{TITLES[case]} ({detail}):\n\n{caseTable(case, sides, samples)}")
    parts.append("\n".join(goals(samples)))
    return "\n\n".join(p for p in parts if p)


# -- main -------------------------------------------------------------------------------


def parseArguments() -> argparse.Namespace:
    parser = net.benchParser(__doc__.split("\n")[0], CASES, SIDES, 3)
    parser.add_argument("--seconds", type=int, help="wrk seconds per measurement (default 10)")
    parser.add_argument("--connections", type=int, help="wrk connections (default 50)")
    parser.add_argument(
        "--slow-connections", type=int, help="connections of the slow case (default 10000)"
    )
    parser.add_argument(
        "--profile", metavar="SIDE", help="after the tables, py-spy hot spots of SIDE per case"
    )
    options = parser.parse_args()
    checkChoices(parser, (("case", options.cases, CASES), ("side", options.sides, SIDES)))
    if options.profile is not None:
        checkChoices(parser, (("side", options.profile, SIDES),))
    return options


def missingTools(cases: list[str]) -> list[str]:
    """What this run needs from the system and does not find, said as what to install."""
    missing = []
    if any(case in ("hello", "static") for case in cases) and shutil.which("wrk") is None:
        missing.append(WRK_HINT)
    return missing


def main() -> int:
    global staticDir
    options = parseArguments()
    settings = QUICK if options.quick else Settings()
    for name, value in (
        ("rounds", options.rounds),
        ("seconds", options.seconds),
        ("connections", options.connections),
        ("slowConnections", options.slow_connections),
    ):
        if value:
            setattr(settings, name, value)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    missing = missingTools(options.cases.split(","))
    if missing:
        print("web.py: " + "; ".join(missing), file=sys.stderr)
        return 2
    if not net.PIN:
        print("warning: not pinning (needs taskset and 2 CPUs): noisier", file=sys.stderr)
    try:
        with snapshotTorsion(), tempfile.TemporaryDirectory(prefix="torsion-web-") as scratch:
            staticDir = Path(scratch)
            # nginx's worker runs as an unprivileged user: the file must be readable.
            staticDir.chmod(0o755)
            (staticDir / STATIC_NAME).write_bytes(os.urandom(settings.staticBytes))
            (staticDir / STATIC_NAME).chmod(0o644)
            return run(options, settings)
    except BenchError as e:
        print(f"web.py: {e}", file=sys.stderr)
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
        elif "static" in cases and infos[side]["static"] is not True:
            print(f"static case: skipping {side}: {infos[side]['static']}", file=sys.stderr)
    samples, errors, noisy = runRounds(
        cases,
        sides,
        infos,
        settings,
        options.quiet_wait,
        MEASURE,
        lambda case, side: case != "static" or infos[side]["static"] is True,
    )
    versions: dict[str, str] = {}
    for side in sides:
        versions.update(infos[side].get("versions", {}))
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split()
    extra = f", wrk {wrk[1]}" if len(wrk) > 1 else ""
    print(runHeader(settings.rounds, source, versions, extra, started, loadBefore, noisy, options))
    print(report(cases, sides, samples, settings))
    print()
    staticSkipped = {
        f"{s} (static)": infos[s]["static"]
        for s in sides
        if "static" in cases and infos[s]["static"] is not True
    }
    return net.endSideRun(
        options,
        settings,
        source,
        samples,
        errors,
        infos,
        wanted,
        cases,
        MEASURE,
        describe="server",
        moreSkipped=staticSkipped,
    )


if __name__ == "__main__":
    sys.exit(main())
