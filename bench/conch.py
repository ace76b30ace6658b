"""Benchmark: scp of a big file through an SSH server, torsion against Twisted Conch,
with OpenSSH's sshd as the limit.

Run from the repository root with the project's interpreter (as root, for sshd)::

    .venv/bin/python bench/conch.py --quiet-wait 30   # 200 MiB up and down, 3 rounds
    .venv/bin/python bench/conch.py --quick           # 8 MiB, 1 round: a smoke test
    .venv/bin/python bench/conch.py --cases down --sides torsion,twisted --rounds 5
    .venv/bin/python bench/conch.py --callgrind       # instructions per MiB, 20 MiB each way

The client is OpenSSH's scp in SFTP mode (``scp -s``, the default of OpenSSH 9) with
its default algorithms (so each server gets what it would negotiate with a user),
copying one file up (``up``: the client's file to the server) or down (``down``).
The servers (bench/_conchworker.py serve), all with the same ed25519 host key and an
SFTP subsystem: ``torsion`` is ``torsiond conch``'s service (SFTP rooted at the
bench's file tree), ``twisted`` is Twisted Conch's SSHFactory with its
FileTransferServer and its unix SFTP server, ``openssh`` is Debian's sshd with
``internal-sftp``. The files live on /dev/shm when there is one, so the disk is not
measured, and every copy's sha256 is checked. The server runs pinned to CPU 0 with
``taskset``, scp pinned to CPU 1; a fresh server makes each measurement, importing a
copy of torsion/ taken when the run started. Figures: MiB per second of wall clock
(scp's run, login included), MiB per server CPU-second (its children's CPU included,
from /proc) and the server's CPU load. Rounds are interleaved, tables show medians,
ratios compare with Twisted (above 1: better). The issue's goal: torsion at least
twice Twisted and at least a third of OpenSSH. Twisted runs in bench/.venv-twisted,
made on first use with its conch extra. Method and latest table: bench/README.md's
Conch section. Tests: tests/bench/test_conch_smoke.py.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _conchworker import ALGORITHMS, PASSWORD, SCP, SIDES  # noqa: E402
from _netreport import Samples, TableSpec, betterRatio, roundRatios  # noqa: E402
from _sidebench import SideBench, byCase  # noqa: E402
from deferred import twistedPython  # noqa: E402
from net import SERVER_CPU, BenchError, Child, pinned  # noqa: E402

CASES = ["up", "down"]
MiB = 1024 * 1024
# What OpenSSH must reach at least of torsion's speed: a third (issue 14).
OPENSSH_SHARE = 1 / 3


@dataclass
class Settings:
    """How big the file is and how many rounds (--quick shortens both)."""

    rounds: int = 3
    size: int = 200  # MiB
    algorithms: str = "default"  # what scp asks for: _conchworker.ALGORITHMS


QUICK = Settings(rounds=1, size=8)
# The tree every server serves from; made by prepare(), removed at exit.
PLACE: dict[str, Path] = {}


def prepare(size: int) -> Path:
    """The keys, the askpass program and the files of a run, in a fresh directory."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from torsion.conch.ssh.keys import Key

    if SCP is None:
        raise BenchError("OpenSSH's scp (openssh-client) is missing")
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    directory = Path(tempfile.mkdtemp(prefix="torsion-conch-bench-", dir=base))
    atexit.register(shutil.rmtree, directory, True)
    os.chmod(directory, 0o755)
    for name in ("host_ed25519", "client_key"):
        path = directory / name
        key = Key(ed25519.Ed25519PrivateKey.generate())
        path.write_bytes(key.toString("openssh"))
        path.chmod(0o600)
        if name == "client_key":
            (directory / "authorized_keys").write_bytes(key.public().toString("openssh") + b"\n")
    askpass = directory / "askpass"
    askpass.write_text(f"#!/bin/sh\necho '{PASSWORD}'\n")
    askpass.chmod(0o700)
    for sub in ("srv", "client"):
        (directory / sub).mkdir()
    with open(directory / "client" / "file.bin", "wb") as f:
        for _ in range(size):
            f.write(os.urandom(MiB))
    shutil.copyfile(directory / "client" / "file.bin", directory / "srv" / "down.bin")
    PLACE["dir"] = directory
    return directory


def twistedWithConch() -> None:
    """Twisted's venv with what Conch needs (cryptography, bcrypt...)."""
    python = str(twistedPython())
    probe = [python, "-c", "import twisted.conch.ssh.transport, cryptography"]
    if subprocess.run(probe, capture_output=True).returncode:
        print("adding twisted[conch] to the Twisted venv ...", file=sys.stderr)
        subprocess.run([python, "-m", "pip", "install", "-q", "twisted[conch]"], check=True)


def measure(case: str, side: str, settings: Settings) -> dict[str, float]:
    """One scp of the file, up or down, through a fresh server of ``side``."""
    directory = PLACE["dir"]
    with BENCH.server(side, str(directory)) as (srv, port):
        argv = [sys.executable, str(BENCH.worker), "client", side, str(port)]
        argv += [str(srv.process.pid), case, str(directory), settings.algorithms]
        result = BENCH.runClient(argv, 600, f"scp {case} through {side}")
    seconds, serverCpu = result["seconds"], result["serverCpu"]
    mebibytes = result["bytes"] / MiB
    if result["bytes"] != settings.size * MiB:
        raise BenchError(f"{side}: {result['bytes']} bytes copied, not {settings.size} MiB")
    return {
        "rate": mebibytes / seconds,
        "perServerCpu": mebibytes / serverCpu if serverCpu else 0.0,
        "serverLoad": serverCpu / seconds,
    }


TABLES: list[TableSpec] = [
    ("scp MiB/s (wall clock, login included)", "rate", True, 1.0, "", 1),
    ("MiB per server CPU-second", "perServerCpu", True, 1.0, "", 1),
    ("Server CPU load", "serverLoad", None, 100.0, "%", 0),
]


class ConchBench(SideBench):
    """SideBench with the issue's second goal: a third of OpenSSH's speed."""

    def goals(self, cases: list[str], samples: Samples) -> list[str]:
        lines = super().goals(cases, samples)
        extra = []
        for case in cases:
            ratios = roundRatios(samples, case, "rate", True, "torsion", "openssh")
            better = betterRatio(samples, case, "rate", True, "torsion", "openssh")
            if better is None:
                continue
            verdict = "met" if better >= OPENSSH_SHARE else "MISSED"
            extra.append(
                f"- torsion vs openssh, {case}, MiB/s: {better:.2f}x (rounds "
                f"{min(ratios):.2f}x to {max(ratios):.2f}x; goal {OPENSSH_SHARE:.2f}x): {verdict}"
            )
        if extra and not lines:
            lines = [f"Goals (issue {self.issue}):"]
        return lines + extra


BENCH = ConchBench(
    script="conch.py",
    issue=14,
    worker=HERE / "_conchworker.py",
    sides=SIDES,
    cases=CASES,
    measures=byCase(measure, CASES),
    tables=TABLES,
    goalMetrics=[("rate", "MiB/s"), ("perServerCpu", "per server CPU-second")],
)


def countInstructions(sides: list[str], size: int) -> int:
    """``--callgrind``: the instructions each side's server executes for one scp up and
    one down (valgrind's callgrind, counters zeroed after start-up), per MiB. Unlike
    CPU time this does not change with the machine's load, so it can compare sides on
    a busy machine; it leaves out the kernel's share (the socket copies), which is the
    same for every side. sshd is left out: it forks for every connection."""
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise BenchError("--callgrind needs valgrind (apt-get install valgrind)")
    directory = prepare(size)
    counts: dict[str, dict[str, int]] = {}
    for side in [s for s in sides if s != "openssh"]:
        out = directory / f"callgrind.{side}"
        argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p"]
        argv += [BENCH.pythonFor(side), str(BENCH.worker), side, "serve", str(directory)]
        child = Child(pinned(SERVER_CPU, argv), side)
        try:
            port = child.expect("port ", 600).split()[1]
            pid = str(child.process.pid)
            for case in CASES:
                subprocess.run(["callgrind_control", "-z", pid], capture_output=True, check=True)
                client = [sys.executable, str(BENCH.worker), "client", side, port, pid, case]
                BENCH.runClient([*client, str(directory)], 3600, f"scp {case} through {side}")
                subprocess.run(["callgrind_control", "-d", pid], capture_output=True, check=True)
                dumps = sorted(directory.glob(f"callgrind.{side}.{pid}.*"), key=os.path.getmtime)
                summary = [ln for ln in dumps[-1].read_text().splitlines() if ln[:8] == "summary:"]
                counts.setdefault(side, {})[case] = int(summary[0].split()[1])
        finally:
            child.stop()
    print(f"Instructions per MiB copied (callgrind; scp -s of {size} MiB, login included):\n")
    print("| side | up | vs Twisted | down | vs Twisted |\n|---|---:|---:|---:|---:|")
    for side, perCase in counts.items():
        cells = []
        for case in CASES:
            ratio = counts.get("twisted", {}).get(case, 0) / perCase[case]
            cells += [f"{perCase[case] / size:,.0f}", f"{ratio:.2f}x" if ratio else "n/a"]
        print(f"| {side} | " + " | ".join(cells) + " |")
    return 0


def describe(settings: Any) -> str:
    if settings.algorithms == "fastest":
        chosen = "aes128-gcm@openssh.com (Twisted: aes128-ctr, hmac-sha2-256)"
    else:
        chosen = "OpenSSH's default algorithms"
    return f"; scp -s of {settings.size} MiB, {chosen}"


def main() -> int:
    parser = BENCH.parser(__doc__, seconds=0)
    parser.add_argument("--size", type=int, help="MiB copied each way (default 200)")
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="count the servers' instructions with valgrind instead (default --size 20)",
    )
    parser.add_argument(
        "--algorithms",
        choices=list(ALGORITHMS),
        default="default",
        help="what scp asks for: OpenSSH's defaults, or each server's fastest suite",
    )
    options = BENCH.parse(parser)
    settings = QUICK if options.quick else Settings()
    settings = dataclasses.replace(settings, algorithms=options.algorithms)
    size = options.size or settings.size
    if options.callgrind:
        try:
            if "twisted" in options.sides.split(","):
                twistedWithConch()
            return countInstructions(options.sides.split(","), options.size or 20)
        except BenchError as e:
            print(f"conch.py: {e}", file=sys.stderr)
            return 2

    def setUp() -> None:
        if "twisted" in options.sides.split(","):
            twistedWithConch()
        prepare(size)

    return BENCH.main(options, settings, describe, setUp)


if __name__ == "__main__":
    sys.exit(main())
