"""The driver of bench/h2.py: HTTP/2 serving, torsion.web against twisted.web, with h2load.

Each side is a Site with the same resources (bench/_h2server.py) over TLS with ALPN
"h2" (Twisted speaks HTTP/2 only there), in a fresh process pinned to CPU 0; the load
is h2load (nghttp2-client, C) pinned to CPU 1. Cases:

``hello``
    ``h2load -c 10 -m 10``: 10 connections, each keeping 10 streams open, on
    ``GET /hello`` (13 bytes).
``streams``
    ``h2load -c 1 -m 100``: one connection with 100 concurrent streams (the default
    SETTINGS_MAX_CONCURRENT_STREAMS), on ``GET /hello``.
``big``
    ``h2load -c 4 -m 1`` on ``GET /big``, 1 MiB written by the resource at once: the
    client's flow-control windows pace the DATA frames.

Sides: ``torsion``, ``twisted`` (in bench/.venv-twisted-h2 with Twisted's ``tls`` and
``http2`` extras, made on first use), and ``torsion-h2c`` (torsion over cleartext with
prior knowledge, which Twisted does not offer; not in the default set). Each
measurement: a 2 s h2load run to warm up, then the measured run of ``--seconds``,
with the server's CPU time read from /proc around it; before that, 20 requests one at
a time must all succeed over HTTP/2. Rounds are interleaved with the
side order rotated; the tables show medians and "vs Twisted" is the median of the
per-round ratios. Any failed or non-2xx request makes the measurement an error.

    .venv/bin/python bench/h2.py --quiet-wait 30
    .venv/bin/python bench/h2.py --quick --sides torsion      # a smoke test

Tests: tests/bench/test_h2_smoke.py.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import net  # noqa: E402
from _netreport import Samples, betterRatio, machine, medians, number, roundRatios  # noqa: E402
from net import CLIENT_CPU, SERVER_CPU, BenchError, Child, pinned, snapshotTorsion  # noqa: E402
from web import treeCpu  # noqa: E402

SERVER = HERE / "_h2server.py"
TWISTED_H2_VENV = HERE / ".venv-twisted-h2"
SIDES = ["torsion", "twisted", "torsion-h2c"]
DEFAULT_SIDES = ["torsion", "twisted"]
REFERENCE = "twisted"
H2LOAD_HINT = "h2load is not installed: apt-get install nghttp2-client"
GOAL = 2.0


@dataclass
class Case:
    path: str
    clients: int
    streams: int
    what: str


CASES = {
    "hello": Case("/hello", 10, 10, "GET /hello (13 bytes), h2load -c 10 -m 10"),
    "streams": Case("/hello", 1, 100, "GET /hello, one connection with 100 streams (-c 1 -m 100)"),
    "big": Case("/big", 4, 1, "GET /big (1 MiB), h2load -c 4 -m 1"),
}


@dataclass
class Settings:
    rounds: int = 3
    seconds: int = 10
    warmup: int = 2


QUICK = Settings(rounds=1, seconds=1, warmup=1)


# -- h2load ---------------------------------------------------------------------------

_SIZE_UNITS = {"B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30}


def parseH2load(output: str) -> dict[str, float]:
    """The figures of an h2load report: requests done, succeeded, failed and errored,
    non-2xx answers, seconds, rate (requests/s), data bytes (response bodies) and h2
    (1.0 if HTTP/2 was spoken).

    Raises:
        BenchError: the report lacks a figure (h2load failed); its output is shown.
    """
    finished = re.search(r"finished in ([\d.]+)(us|ms|s), ([\d.]+) req/s", output)
    requests = re.search(
        r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
        r"(\d+) errored",
        output,
    )
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", output)
    traffic = re.search(r"traffic: .*?, [\d.]+\w*B \((\d+)\) data", output)
    protocol = re.search(r"Application protocol: (\S+)", output)
    if finished is None or requests is None or codes is None or traffic is None:
        raise BenchError(f"h2load gave no report:\n{output.strip()}")
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0}[finished[2]]
    return {
        "seconds": float(finished[1]) * scale,
        "rate": float(finished[3]),
        "done": float(requests[3]),
        "succeeded": float(requests[4]),
        "failed": float(requests[5]),
        "errored": float(requests[6]),
        "non2xx": float(sum(int(codes[i]) for i in (2, 3, 4))),
        "dataBytes": float(traffic[1]),
        "h2": float(protocol is not None and protocol[1] in ("h2", "h2c")),
    }


def runH2load(
    url: str, case: Case, seconds: float, count: int | None = None
) -> tuple[dict[str, float], float]:
    """Run h2load pinned to the client CPU for `seconds` (or for `count` requests);
    its figures and its own CPU seconds."""
    h2load = shutil.which("h2load")
    if h2load is None:
        raise BenchError(H2LOAD_HINT)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    argv = [h2load, "-t", "1", "-c", str(case.clients), "-m", str(case.streams)]
    argv += ["-D", str(seconds)] if count is None else ["-n", str(count)]
    done = subprocess.run(
        pinned(CLIENT_CPU, [*argv, url]), capture_output=True, text=True, timeout=seconds + 60
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return parseH2load(done.stdout + done.stderr), cpu


# -- servers --------------------------------------------------------------------------


def twistedH2Python() -> Path:
    """The interpreter of bench/.venv-twisted-h2 (Twisted with tls, http2), made on first use."""
    python = TWISTED_H2_VENV / "bin" / "python"
    probe = [str(python), "-c", "import twisted, h2, priority, OpenSSL"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"setting up {TWISTED_H2_VENV} with twisted[tls,http2] from PyPI ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(TWISTED_H2_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "twisted[tls,http2]"], check=True)
    return python


def pythonFor(side: str) -> str:
    return str(twistedH2Python()) if side == "twisted" else sys.executable


def makeCertificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with `cryptography`."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    certPath, keyPath = directory / "cert.pem", directory / "key.pem"
    certPath.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyPath.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certPath, keyPath


@contextmanager
def server(side: str, certs: tuple[Path, Path]) -> Iterator[tuple[Child, str]]:
    """A fresh server of ``side``, pinned; yields it and the base URL."""
    framework = "twisted" if side == "twisted" else "torsion"
    argv = [pythonFor(side), str(SERVER), "--side", framework]
    argv += ["--cert", str(certs[0]), "--key", str(certs[1])]
    h2c = side == "torsion-h2c"
    if h2c:
        argv.append("--h2c")
    child = Child(pinned(SERVER_CPU, argv), side)
    try:
        port = int(child.expect("port ", 60).split()[1])
        yield child, f"{'http' if h2c else 'https'}://127.0.0.1:{port}"
    finally:
        child.stop()


def measure(
    side: str, case: Case, settings: Settings, certs: tuple[Path, Path]
) -> dict[str, float]:
    with server(side, certs) as (child, base):
        url = base + case.path
        check, _ = runH2load(url, Case(case.path, 1, 1, ""), 0, count=20)
        if not check["h2"]:
            raise BenchError(f"{side} did not negotiate HTTP/2 on {url}")
        if check["succeeded"] != 20 or check["non2xx"]:
            raise BenchError(f"{side} did not answer {url} correctly: {check}")
        runH2load(url, case, settings.warmup)
        cpuBefore = treeCpu(child.process.pid)
        figures, clientCpu = runH2load(url, case, settings.seconds)
        serverCpu = treeCpu(child.process.pid) - cpuBefore
    if figures["failed"] or figures["errored"] or figures["non2xx"]:
        raise BenchError(f"{side}: {figures['failed']:.0f} failed, {figures['errored']:.0f} "
                         f"errored, {figures['non2xx']:.0f} non-2xx requests on {url}")  # fmt: skip
    seconds = figures["seconds"]
    return {
        "rate": figures["rate"],
        "requests": figures["succeeded"],
        "serverCpu": serverCpu / seconds,
        "perCpuSecond": figures["succeeded"] / serverCpu if serverCpu else 0.0,
        "mbPerSecond": figures["dataBytes"] / seconds / 1e6,
        "clientCpu": clientCpu / seconds,
    }


# -- the report -------------------------------------------------------------------------


def caseTable(case: str, sides: list[str], samples: Samples) -> str:
    table = medians(samples)
    lines = [
        f"{case}: {CASES[case].what}:",
        "",
        "| side | requests/s | vs Twisted | server CPU | requests per server CPU-s | vs Twisted "
        "| MB/s | h2load CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for side in sides:
        row = table.get((case, side))
        if row is None:
            lines.append(f"| {side} | error | | | | | | |")
            continue
        ratio = betterRatio(samples, case, "rate", True, side, REFERENCE)
        perCpu = betterRatio(samples, case, "perCpuSecond", True, side, REFERENCE)
        lines.append(
            f"| {side} | {number(row['rate'])} | {ratioText(ratio)} | {row['serverCpu']:.0%} "
            f"| {number(row['perCpuSecond'])} | {ratioText(perCpu)} "
            f"| {number(row['mbPerSecond'], 1)} | {row['clientCpu']:.0%} |"
        )
    return "\n".join(lines) + "\n"


def ratioText(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.2f}x"


def goals(cases: list[str], samples: Samples) -> list[str]:
    lines = []
    for case in cases:
        for metric, label in (
            ("rate", "requests/s"),
            ("perCpuSecond", "requests per server CPU-s"),
        ):
            ratios = roundRatios(samples, case, metric, True, "torsion", REFERENCE)
            if not ratios:
                continue
            median = statistics.median(ratios)
            lines.append(
                f"- torsion vs twisted, {case}, {label}: {median:.2f}x (rounds "
                f"{min(ratios):.2f}x to {max(ratios):.2f}x; goal {GOAL:.1f}x): "
                + ("met" if median >= GOAL else "NOT met")
            )
    return lines


def versions(sides: list[str]) -> str:
    found = {"python": sys.version.split()[0]}
    if "twisted" in sides:
        probe = "import twisted, h2; print(twisted.__version__, h2.__version__)"
        out = subprocess.run(
            [str(twistedH2Python()), "-c", probe], capture_output=True, text=True
        ).stdout.split()
        if len(out) == 2:
            found["twisted"] = out[0]
            found["h2 (twisted's venv)"] = out[1]
    try:
        found["h2"] = importlib.metadata.version("h2")
    except importlib.metadata.PackageNotFoundError:
        pass
    h2load = shutil.which("h2load")
    if h2load is not None:
        text = subprocess.run([h2load, "--version"], capture_output=True, text=True).stdout
        found["h2load"] = text.strip().split()[-1] if text.strip() else "?"
    return ", ".join(f"{k} {v}" for k, v in sorted(found.items()))


# -- main -------------------------------------------------------------------------------


def parseArguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="HTTP/2 serving, torsion.web against twisted.web, with h2load."
    )
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--sides", default=",".join(DEFAULT_SIDES))
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--seconds", type=int)
    parser.add_argument("--quick", action="store_true", help="one short round: a smoke test")
    parser.add_argument("--quiet-wait", type=float, default=0.0)
    parser.add_argument("--json", help="write the medians and every round's figures here")
    return parser.parse_args(argv)


def choices(given: str, known: list[str], what: str) -> list[str]:
    chosen = [name for name in given.split(",") if name]
    unknown = [name for name in chosen if name not in known]
    if unknown or not chosen:
        raise BenchError(
            f"unknown {what} {', '.join(unknown) or '(none)'}: choose from {', '.join(known)}"
        )
    return chosen


def main(argv: list[str] | None = None) -> int:
    options = parseArguments(argv)
    try:
        return run(options)
    except BenchError as e:
        print(f"h2.py: {e}", file=sys.stderr)
        return 2


def run(options: argparse.Namespace) -> int:
    cases = choices(options.cases, list(CASES), "case")
    sides = choices(options.sides, SIDES, "side")
    if shutil.which("h2load") is None:
        raise BenchError(H2LOAD_HINT)
    settings = QUICK if options.quick else Settings()
    if options.rounds is not None:
        settings.rounds = options.rounds
    if options.seconds is not None:
        settings.seconds = options.seconds
    if "twisted" in sides:
        twistedH2Python()
    started = time.monotonic()
    loadBefore = os.getloadavg()[0]
    samples: Samples = {}
    errors: list[str] = []
    noisy = 0
    with tempfile.TemporaryDirectory(prefix="torsion-h2-bench-") as directory, snapshotTorsion():
        certs = makeCertificate(Path(directory))
        for round in range(1, settings.rounds + 1):
            order = sides[(round - 1) % len(sides) :] + sides[: (round - 1) % len(sides)]
            for case in cases:
                for side in order:
                    print(f"round {round}/{settings.rounds}: {case} {side}", file=sys.stderr)
                    if options.quiet_wait and not net.waitForQuiet(options.quiet_wait):
                        noisy += 1
                        print("  the machine is busy: measuring anyway", file=sys.stderr)
                    try:
                        figures = measure(side, CASES[case], settings, certs)
                    except BenchError as e:
                        errors.append(f"round {round}, {case}, {side}: {e}")
                        print(f"  error: {e}", file=sys.stderr)
                        continue
                    samples.setdefault((case, side), []).append({"round": round, **figures})
    header = (
        f"Medians of {settings.rounds} round(s); torsion at {net.sourceVersion()}; "
        f"{machine()}; {versions(sides)}; {time.monotonic() - started:.0f} s; "
        f"load average {loadBefore:.2f} before, {os.getloadavg()[0]:.2f} after"
        + (f"; {noisy} measurement(s) started on a busy machine" if options.quiet_wait else "")
        + f"; h2load -t 1 -D {settings.seconds} after a {settings.warmup} s warm-up, "
        "server on CPU 0, h2load on CPU 1, TLS with ALPN h2 (torsion-h2c: cleartext).\n"
    )
    parts = [header] + [caseTable(case, sides, samples) for case in cases]
    if REFERENCE in sides and "torsion" in sides:
        parts.append("Goal (issue 9): torsion at least 2x Twisted's HTTP/2 requests per second.\n"
                     + "\n".join(goals(cases, samples)) + "\n")  # fmt: skip
    if errors:
        parts.append("Errors:\n" + "\n".join(f"- {e}" for e in errors) + "\n")
    print("\n".join(parts))
    if options.json:
        Path(options.json).write_text(
            json.dumps(
                {
                    "medians": {f"{c} {s}": v for (c, s), v in medians(samples).items()},
                    "rounds": {f"{c} {s}": v for (c, s), v in samples.items()},
                    "errors": errors,
                },
                indent=2,
            )
        )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
