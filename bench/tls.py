"""Benchmark: TLS bulk throughput and handshakes, torsion against Twisted and asyncio.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/tls.py                 # every case and side, 3 rounds
    .venv/bin/python bench/tls.py --quick         # small sizes, 1 round: a smoke test
    bench/run tls --cases handshakes --sides torsion-epoll,twisted --rounds 5

Cases (``--cases``): ``upload`` (one connection carries 512 MiB to the server, which
decrypts it), ``download`` (the server encrypts and sends 512 MiB, paced by its
transport's flow control), ``handshakes`` (full TLS 1.3 handshakes, as many as the
clients can start in 5 seconds). Sides (``--sides``): torsion's epoll reactor (the
default one here) and its asyncio reactor on uvloop, Twisted (its TLS runs on
pyOpenSSL), and plain asyncio and uvloop (``loop.create_server(ssl=...)``).

Each server (bench/_tlsserver.py) runs in a process of its own pinned to CPU 0 with a
2048-bit RSA certificate, the kind most servers present; the load comes from CPU 1.
The bulk client is Python's ssl module in a separate process (bench/_tlsclient.py),
whose time goes to OpenSSL's C code. The handshake load is ``openssl s_time -new``,
several processes at once. An ECDSA certificate would make the handshake cheaper for
the server than for the client, and the client the bottleneck; with RSA the server
signs (the costly part) and the client only verifies. The tables show the clients' CPU
load beside the server's, to show which side was the limit. Rounds are interleaved and
the ratios are medians of per-round ratios, as in bench/net.py, whose helpers this uses;
Twisted runs in bench/.venv-twisted (made on first use, with twisted[tls]).
Tests: tests/bench/test_tls_smoke.py.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import socket
import ssl
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
from deferred import TWISTED_VENV, twistedPython  # noqa: E402
from net import BenchError, Child, fields, pinned, stats, waitUntil  # noqa: E402

SERVER = HERE / "_tlsserver.py"
CLIENT = HERE / "_tlsclient.py"
CASES = ["upload", "download", "handshakes"]
SIDES = ["torsion-epoll", "torsion-uvloop", "twisted", "asyncio", "uvloop"]
REFERENCE = "twisted"


@dataclass
class Settings:
    """The sizes of each case (--quick shrinks them)."""

    rounds: int = 3
    bulkBytes: int = 512 * 2**20
    handshakeSeconds: int = 5
    handshakeClients: int = 4


QUICK = Settings(rounds=1, bulkBytes=8 * 2**20, handshakeSeconds=1, handshakeClients=2)


def twistedTLSPython() -> Path:
    """The Twisted venv's interpreter, with Twisted's TLS extras (pyOpenSSL,
    service_identity) added on first use."""
    python = twistedPython()
    probe = [str(python), "-c", "import OpenSSL, service_identity"]
    if subprocess.run(probe, capture_output=True).returncode != 0:
        print(f"adding twisted[tls] to {TWISTED_VENV} ...", file=sys.stderr)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "twisted[tls]"], check=True)
    return python


def pythonFor(side: str) -> str:
    return str(twistedTLSPython()) if side == "twisted" else sys.executable


def checkSide(side: str) -> dict[str, Any]:
    """What bench/_tlsserver.py check says about ``side``."""
    try:
        python = pythonFor(side)
    except (OSError, subprocess.CalledProcessError) as e:
        return {"ok": False, "reason": f"could not set up Twisted: {e}"}
    return net.askWorker(python, [str(SERVER), side, "check"])


def makeCertificate(directory: Path) -> Path:
    """A 2048-bit RSA certificate for localhost and its key, in one PEM file."""
    from torsion.internet.ssl import TYPE_RSA, KeyPair

    certificate = KeyPair.generate(TYPE_RSA, 2048).selfSignedCert(1, commonName="localhost")
    path = directory / "server.pem"
    path.write_bytes(certificate.dumpPEM())
    return path


@contextmanager
def server(side: str, pem: Path) -> Iterator[tuple[Child, int]]:
    """A fresh TLS server of ``side``, pinned, warmed up by one connection."""
    argv = [pythonFor(side), str(SERVER), side, "serve", str(pem)]
    child = Child(pinned(net.SERVER_CPU, argv), side)
    try:
        port = int(child.expect("port ", 60).split()[1])
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with (
            socket.create_connection((net.HOST, port), timeout=10) as raw,
            context.wrap_socket(raw) as probe,
        ):
            probe.sendall(b"u" + (4).to_bytes(8, "big") + b"warm")
            if probe.recv(1) != b"k":
                raise BenchError(f"{side}: the warm-up upload was not confirmed")
        waitUntil(lambda: stats(child)["conns"] == 0, 10, f"{side}: warm-up close not seen")
        yield child, port
    finally:
        child.stop()


def measureBulk(side: str, mode: str, settings: Settings, pem: Path) -> dict[str, float]:
    with server(side, pem) as (srv, port):
        argv = [sys.executable, str(CLIENT), mode, str(port), str(settings.bulkBytes)]
        client = Child(pinned(net.CLIENT_CPU, argv), f"tls client {mode}")
        try:
            client.expect("ready", 30)
            before = stats(srv)
            client.send("go")
            result = fields(client.expect("result", 60 + settings.bulkBytes / 10e6))
            after = stats(srv)
        finally:
            client.stop()
    cpu = after["cpu"] - before["cpu"]
    return {
        "mbPerCpuSecond": result["bytes"] / 1e6 / cpu,
        "mbPerSecond": result["bytes"] / 1e6 / result["seconds"],
        "serverLoad": cpu / result["seconds"],
        "clientLoad": result["cpu"] / result["seconds"],
    }


def measureUpload(side: str, settings: Settings, pem: Path) -> dict[str, float]:
    return measureBulk(side, "upload", settings, pem)


def measureDownload(side: str, settings: Settings, pem: Path) -> dict[str, float]:
    return measureBulk(side, "download", settings, pem)


def opensslCommand() -> str:
    found = shutil.which("openssl")
    if found is None:
        raise BenchError("the handshakes case needs the openssl command: apt-get install openssl")
    return found


def measureHandshakes(side: str, settings: Settings, pem: Path) -> dict[str, float]:
    openssl = opensslCommand()
    with server(side, pem) as (srv, port):
        argv = [
            openssl, "s_time", "-connect", f"{net.HOST}:{port}", "-new",
            "-time", str(settings.handshakeSeconds),
        ]  # fmt: skip
        before = stats(srv)
        childrenBefore = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        clients = [
            subprocess.Popen(
                pinned(net.CLIENT_CPU, argv),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(settings.handshakeClients)
        ]
        outputs = []
        try:
            for client in clients:
                outputs.append(client.communicate(timeout=settings.handshakeSeconds + 60)[0])
        finally:
            for client in clients:
                if client.poll() is None:
                    client.kill()
                    client.wait()
        ended = time.perf_counter()
        after = stats(srv)
        childrenAfter = resource.getrusage(resource.RUSAGE_CHILDREN)
    count = 0
    for output, client in zip(outputs, clients, strict=True):
        lines = [line for line in output.splitlines() if " connections in " in line]
        if client.returncode or not lines:
            raise BenchError(f"{side}: openssl s_time failed: {output.strip()[-300:]}")
        count += int(lines[0].split()[0])
    seconds = ended - began
    cpu = after["cpu"] - before["cpu"]
    clientCpu = (childrenAfter.ru_utime + childrenAfter.ru_stime) - (
        childrenBefore.ru_utime + childrenBefore.ru_stime
    )
    return {
        "handshakesPerCpuSecond": count / cpu,
        "handshakesPerSecond": count / seconds,
        "serverLoad": cpu / seconds,
        "clientLoad": clientCpu / seconds,
    }


MEASURE = {"upload": measureUpload, "download": measureDownload, "handshakes": measureHandshakes}


# -- the tables -------------------------------------------------------------------------

# (title, case, metric, digits)
COLUMNS = [
    ("upload MB per server CPU-s", "upload", "mbPerCpuSecond", 0),
    ("download MB per server CPU-s", "download", "mbPerCpuSecond", 0),
    ("handshakes per server CPU-s", "handshakes", "handshakesPerCpuSecond", 0),
]
# (title, case, metric, digits, scale, unit)
DETAILS = [
    ("upload MB/s", "upload", "mbPerSecond", 0, 1.0, ""),
    ("upload server/client CPU", "upload", "serverLoad", 0, 100.0, "%"),
    ("download MB/s", "download", "mbPerSecond", 0, 1.0, ""),
    ("download server/client CPU", "download", "serverLoad", 0, 100.0, "%"),
    ("handshakes/s", "handshakes", "handshakesPerSecond", 0, 1.0, ""),
    ("handshakes server/client CPU", "handshakes", "serverLoad", 0, 100.0, "%"),
]


def report(cases: list[str], sides: list[str], samples: Samples, defaultSide: str | None) -> str:
    table = medians(samples)
    columns = [c for c in COLUMNS if c[1] in cases]
    lines = [
        "| side |" + "".join(f" {title} | vs Twisted |" for title, *_ in columns),
        "|---|" + "---:|---:|" * len(columns),
    ]
    for side in sides:
        label = f"**{side}** (default)" if side == defaultSide else side
        row = f"| {label} |"
        for _, case, metric, digits in columns:
            value = table.get((case, side), {}).get(metric)
            better = betterRatio(samples, case, metric, True, side, REFERENCE)
            row += f" {number(value, digits)} | {'n/a' if better is None else f'{better:.2f}x'} |"
        lines.append(row)
    details = [d for d in DETAILS if d[1] in cases]
    lines += ["", "| side | " + " | ".join(d[0] for d in details) + " |"]
    lines.append("|---|" + "---:|" * len(details))
    for side in sides:
        cells = []
        for _, case, metric, digits, scale, unit in details:
            row = table.get((case, side), {})
            value = row.get(metric)
            if value is None:
                cells.append("n/a")
            elif metric == "serverLoad":
                cells.append(f"{value * scale:.0f}% / {row['clientLoad'] * scale:.0f}%")
            else:
                cells.append(number(value * scale, digits) + unit)
        lines.append(f"| {side} | " + " | ".join(cells) + " |")
    if defaultSide in sides and REFERENCE in sides:
        lines += ["", "Goals (issue 4): torsion at least Twisted"]
        for title, case, metric, _ in columns:
            ratios = roundRatios(samples, case, metric, True, defaultSide, REFERENCE)
            if ratios:
                middle = sorted(ratios)[len(ratios) // 2]
                verdict = "met" if middle >= 1.0 else "MISSED"
                lines.append(
                    f"- {defaultSide} vs twisted, {title}: {middle:.2f}x (rounds "
                    f"{min(ratios):.2f}x to {max(ratios):.2f}x): {verdict}"
                )
    return "\n".join(lines)


# -- the run -----------------------------------------------------------------------------


def runRounds(
    cases: list[str], sides: list[str], settings: Settings, pem: Path, quietWait: float
) -> tuple[Samples, list[str], int]:
    samples: Samples = {}
    errors: list[str] = []
    noisy = 0
    for number_ in range(settings.rounds):
        for case in cases:
            shift = number_ % len(sides)
            for side in sides[shift:] + sides[:shift]:
                print(f"round {number_ + 1}/{settings.rounds}: {case} {side}", file=sys.stderr)
                if quietWait and not net.waitForQuiet(quietWait):
                    noisy += 1
                    print("  the machine is busy: measuring anyway", file=sys.stderr)
                try:
                    sample = MEASURE[case](side, settings, pem)
                except (BenchError, subprocess.TimeoutExpired, OSError, ssl.SSLError) as e:
                    errors.append(f"round {number_ + 1}, {case}, {side}: {e}")
                    print(f"  failed: {e}", file=sys.stderr)
                    continue
                sample["round"] = number_ + 1
                samples.setdefault((case, side), []).append(sample)
    return samples, errors, noisy


def parseArguments() -> argparse.Namespace:
    parser = net.benchParser(__doc__.split("\n")[0], CASES, SIDES, 3)
    parser.add_argument("--bytes", type=int, help="bytes per bulk transfer (default 512 MiB)")
    parser.add_argument(
        "--clients", type=int, help="openssl s_time processes for handshakes (default 4)"
    )
    options = parser.parse_args()
    known = set(net.SIDES)
    net.checkChoices(parser, (("case", options.cases, CASES), ("side", options.sides, known)))
    return options


def main() -> int:
    options = parseArguments()
    settings = QUICK if options.quick else Settings()
    if options.rounds:
        settings.rounds = options.rounds
    if options.bytes:
        settings.bulkBytes = options.bytes
    if options.clients:
        settings.handshakeClients = options.clients
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if not net.PIN:
        print("warning: not pinning (needs taskset and 2 CPUs): noisier", file=sys.stderr)
    try:
        with net.snapshotTorsion(), tempfile.TemporaryDirectory(prefix="tls-bench-") as scratch:
            return run(options, settings, makeCertificate(Path(scratch)))
    except BenchError as e:
        print(f"tls.py: {e}", file=sys.stderr)
        return 2


def run(options: argparse.Namespace, settings: Settings, pem: Path) -> int:
    cases = options.cases.split(",")
    wanted = options.sides.split(",")
    started, loadBefore, source = time.monotonic(), os.getloadavg()[0], net.sourceVersion()
    infos = {side: checkSide(side) for side in wanted}
    sides = [side for side in wanted if infos[side]["ok"]]
    for side in wanted:
        if not infos[side]["ok"]:
            print(f"skipping {side}: {infos[side]['reason']}", file=sys.stderr)
    defaultSide = net.defaultTorsionSide()
    samples, errors, noisy = runRounds(cases, sides, settings, pem, options.quiet_wait)
    versions: dict[str, str] = {"OpenSSL (stdlib ssl)": ssl.OPENSSL_VERSION.split()[1]}
    for side in sides:
        versions.update(infos[side].get("versions", {}))
    extra = (
        f"; {settings.bulkBytes // 2**20} MiB per transfer, {settings.handshakeClients} "
        f"s_time clients for {settings.handshakeSeconds} s"
    )
    print(
        net.runHeader(settings.rounds, source, versions, extra, started, loadBefore, noisy, options)
    )
    print(report(cases, sides, samples, defaultSide))
    skipped = {s: infos[s]["reason"] for s in wanted if not infos[s]["ok"]}
    return net.finishRun(
        options, settings, source, samples, errors, skipped, sides, defaultSide=defaultSide
    )


if __name__ == "__main__":
    sys.exit(main())
