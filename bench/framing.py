"""Benchmark: torsion.protocols.basic's framing against Twisted's, in one run.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/framing.py             # 1,000,000 messages, 7 rounds
    .venv/bin/python bench/framing.py --quick     # 20,000 messages, 2 rounds: a smoke test

Each case feeds a stream of 1,000,000 messages with 32-byte payloads, cut into 64 KiB
chunks, straight into a receiver's ``dataReceived`` (its transport an in-memory
StringTransport; no sockets, so this is the framing alone): LineReceiver and
LineOnlyReceiver (CRLF lines), Int32StringReceiver and NetstringReceiver. Each side
runs in a worker process of its own (bench/_framingworker.py): torsion under this
interpreter, Twisted under bench/.venv-twisted, made on first use as bench/deferred.py
makes it. Rounds are interleaved (every case on every side, then the next round), and
the table gives median messages per second and the ratio torsion/Twisted (above 1
means torsion is faster). Method and latest table: bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from deferred import twistedPython, versions  # noqa: E402

WORKER = HERE / "_framingworker.py"
CASES = [
    ("line", "LineReceiver, CRLF lines"),
    ("lineonly", "LineOnlyReceiver, CRLF lines"),
    ("int32", "Int32StringReceiver"),
    ("netstring", "NetstringReceiver"),
]
SIDES = ["torsion", "twisted"]


def startWorker(python: Path | str, side: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(python), str(WORKER), side, str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONHASHSEED="0"),
        cwd=str(HERE.parent),
    )


def ask(worker: subprocess.Popen[str], command: str) -> dict[str, object]:
    assert worker.stdin is not None and worker.stdout is not None
    worker.stdin.write(command + "\n")
    worker.stdin.flush()
    line = worker.stdout.readline()
    if not line:
        raise SystemExit(f"worker {worker.args} died; see its error output above")
    answer: dict[str, object] = json.loads(line)
    return answer


def stop(worker: subprocess.Popen[str]) -> None:
    assert worker.stdin is not None
    try:
        worker.stdin.write("quit\n")
        worker.stdin.close()
        worker.wait(timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        worker.kill()
        worker.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds (default 7)")
    parser.add_argument("--messages", type=int, default=1_000_000, help="messages per case")
    parser.add_argument("--quick", action="store_true", help="20,000 messages, 2 rounds")
    parser.add_argument("--profile", choices=SIDES, help="print cProfile hot spots of a side")
    options = parser.parse_args()
    if options.quick:
        options.rounds, options.messages = 2, 20_000

    twistedPy = twistedPython()
    pythons: dict[str, Path | str] = {"torsion": sys.executable, "twisted": twistedPy}
    workers = {side: startWorker(pythons[side], side, options.messages) for side in SIDES}
    samples: dict[tuple[str, str], list[float]] = {}
    profiles: list[str] = []
    try:
        for number in range(options.rounds):
            print(f"round {number + 1}/{options.rounds}", file=sys.stderr)
            for case, _ in CASES:
                for side in SIDES:
                    seconds = float(ask(workers[side], case)["seconds"])  # type: ignore[arg-type]
                    samples.setdefault((case, side), []).append(seconds)
        if options.profile:
            for case, _ in CASES:
                report = str(ask(workers[options.profile], f"profile {case}")["profile"])
                profiles.append(f"### {case}\n{report.strip()}")
    finally:
        for worker in workers.values():
            stop(worker)

    print(
        f"Medians of {options.rounds} rounds, {options.messages:,} messages of 32 bytes "
        f"fed in 64 KiB chunks; {versions(twistedPy)}.\n"
    )
    print("| case | torsion msg/s | Twisted msg/s | torsion/Twisted |")
    print("|---|---:|---:|---:|")
    for case, description in CASES:
        ours = statistics.median(samples[case, "torsion"])
        theirs = statistics.median(samples[case, "twisted"])
        rate = options.messages / ours
        theirRate = options.messages / theirs
        print(f"| {description} | {rate:,.0f} | {theirRate:,.0f} | {theirs / ours:.2f}x |")
    for report in profiles:
        print("\n" + report)


if __name__ == "__main__":
    main()
