"""Benchmark: torsion.spread.banana's encoder and decoder against Twisted's, in one run.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/banana.py            # 5 rounds
    .venv/bin/python bench/banana.py --quick    # 1 round, few repetitions: a smoke test

Cases, each in the pb dialect through a Banana protocol on an in-memory transport
(``sendEncoded`` to encode, ``dataReceived`` in 64 KiB chunks to decode):
``list`` is the expression PB sends for a call carrying a 1,000-element list of
dicts (the s-expression Twisted's jelly makes of it), ``small`` that of a small call
(``callRemote("add", 1, 2)``). Each side runs in a process of its own (this file,
``--worker torsion|twisted``): torsion under this interpreter, Twisted under
$TORSION_TWISTED_PYTHON or bench/.venv-twisted (made on first use as bench/deferred.py
makes it). Times are ``time.process_time`` of that process; the table gives medians
and the ratio Twisted time / torsion time (above 1 means torsion is faster).
Tests: tests/spread/test_banana.py (test_benchWorkerRuns).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CHUNK = 64 * 1024
CASES = [
    ("list", "a call carrying a 1,000-element list of dicts", 200),
    ("small", "a small call, callRemote('add', 1, 2)", 50_000),
]


def _text(value: str) -> list[bytes]:
    return [b"unicode", value.encode()]


def expression(case: str) -> list[Any]:
    """Return the s-expression PB sends for ``case`` (as Twisted's jelly shapes it)."""
    if case == "small":
        return [b"message", 7, b"root", b"add", 1, [b"tuple", 1, 2], [b"dictionary"]]
    rows: list[Any] = [b"list"]
    for i in range(1000):
        rows.append(
            [
                b"dictionary",
                [_text("name"), _text(f"item{i}")],
                [_text("id"), i],
                [_text("price"), i * 1.5],
                [_text("tags"), [b"list", _text("a"), _text("b")]],
                [_text("ok"), [b"boolean", b"true"]],
            ]
        )
    return [b"message", 7, b"root", b"store", 1, [b"tuple", rows], [b"dictionary"]]


def worker(side: str, scale: float) -> None:
    """Answer each case name read on stdin with a JSON line of timings."""
    if side == "torsion":
        from torsion.internet.testing import StringTransport
        from torsion.spread.banana import Banana
    else:
        from twisted.internet.testing import StringTransport  # type: ignore[no-redef]
        from twisted.spread.banana import Banana  # type: ignore[no-redef]

    class Counter(Banana):  # type: ignore[misc,valid-type]
        received = 0

        def expressionReceived(self, lst: object) -> None:
            self.received += 1

    def connected() -> Any:
        protocol = Counter(isClient=1)
        protocol.makeConnection(StringTransport())
        protocol._selectDialect(b"pb")
        return protocol

    for line in sys.stdin:
        case = line.strip()
        if case == "quit":
            return
        repeat = max(1, int(dict((c, r) for c, _, r in CASES)[case] * scale))
        expr = expression(case)
        sender = connected()
        start = time.process_time()
        for _ in range(repeat):
            sender.sendEncoded(expr)
        encodeSeconds = time.process_time() - start
        data = sender.transport.value()
        one = len(data) // repeat
        chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
        receiver = connected()
        start = time.process_time()
        for chunk in chunks:
            receiver.dataReceived(chunk)
        decodeSeconds = time.process_time() - start
        assert receiver.received == repeat, (receiver.received, repeat)
        answer = {"case": case, "encode": encodeSeconds, "decode": decodeSeconds}
        print(json.dumps(answer | {"repeat": repeat, "bytes": one}), flush=True)


def twistedInterpreter() -> str:
    python = os.environ.get("TORSION_TWISTED_PYTHON")
    if python:
        return python
    sys.path.insert(0, str(HERE))
    from deferred import twistedPython

    return str(twistedPython())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--quick", action="store_true", help="1 round, 1/20 of the work")
    parser.add_argument("--worker", choices=["torsion", "twisted"], help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=float, default=1.0, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        worker(options.worker, options.scale)
        return
    scale = 0.05 if options.quick else 1.0
    rounds = 1 if options.quick else options.rounds
    pythons = {"torsion": sys.executable, "twisted": twistedInterpreter()}
    workers = {
        side: subprocess.Popen(
            [python, __file__, "--worker", side, "--scale", str(scale)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=str(HERE.parent),
        )
        for side, python in pythons.items()
    }
    samples: dict[tuple[str, str, str], list[float]] = {}
    sizes: dict[str, tuple[int, int]] = {}
    try:
        for number in range(rounds):
            print(f"round {number + 1}/{rounds}", file=sys.stderr)
            for case, _, _ in CASES:
                for side, proc in workers.items():
                    assert proc.stdin is not None and proc.stdout is not None
                    proc.stdin.write(case + "\n")
                    proc.stdin.flush()
                    line = proc.stdout.readline()
                    if not line:
                        raise SystemExit(f"the {side} worker died; see its errors above")
                    answer = json.loads(line)
                    sizes[case] = (answer["repeat"], answer["bytes"])
                    for what in ("encode", "decode"):
                        samples.setdefault((case, side, what), []).append(answer[what])
    finally:
        for proc in workers.values():
            assert proc.stdin is not None
            proc.stdin.write("quit\n")
            proc.stdin.close()
            proc.wait(timeout=60)

    print(f"Medians of {rounds} rounds of time.process_time, pb dialect.\n")
    print("| case | torsion µs | Twisted µs | torsion/Twisted speed |")
    print("|---|---:|---:|---:|")
    for case, description, _ in CASES:
        repeat, size = sizes[case]
        for what in ("encode", "decode"):
            ours = statistics.median(samples[case, "torsion", what]) / repeat * 1e6
            theirs = statistics.median(samples[case, "twisted", what]) / repeat * 1e6
            print(
                f"| {what} {description} ({size:,} bytes) | {ours:,.1f} | {theirs:,.1f} "
                f"| {theirs / ours:.2f}x |"
            )


if __name__ == "__main__":
    main()
