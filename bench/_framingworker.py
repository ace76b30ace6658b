"""Worker process for bench/framing.py: times the framing of one implementation.

Run as ``python bench/_framingworker.py torsion|twisted COUNT``. It builds, once, a
stream of COUNT messages of 32-byte payloads for each case and cuts it into 64 KiB
chunks; then it reads one case name per line on stdin (or ``profile <case>``, or
``quit``) and answers each with a JSON line ``{"case": ..., "seconds": t,
"messages": n}``: the time to feed every chunk, straight into ``dataReceived``, to a
fresh receiver whose transport is the implementation's in-memory StringTransport (no
sockets: this measures the framing alone). The receiver counts what it gets, and the
worker checks the count.

This file imports neither torsion nor Twisted at module level: the Twisted worker runs
in bench/.venv-twisted, where torsion is not installed. The cases use only the names
both share (``protocols.basic``), so one body of code times both.
Tests: tests/bench/test_framing_smoke.py.
"""

from __future__ import annotations

import cProfile
import gc
import io
import json
import pstats
import struct
import sys
import time
from collections.abc import Callable
from typing import Any

CHUNK = 64 * 1024
PAYLOAD = 32

CASES = ["line", "lineonly", "int32", "netstring"]


def payload(index: int) -> bytes:
    return b"%032d" % index


def stream(case: str, count: int) -> bytes:
    if case in ("line", "lineonly"):
        return b"".join(payload(i) + b"\r\n" for i in range(count))
    if case == "int32":
        prefix = struct.pack("!I", PAYLOAD)
        return b"".join(prefix + payload(i) for i in range(count))
    return b"".join(b"32:" + payload(i) + b"," for i in range(count))


def chunks(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


def implementation(side: str) -> tuple[Any, Any]:
    """Return (basic module, StringTransport class) of ``side``."""
    if side == "torsion":
        from torsion.internet.testing import StringTransport
        from torsion.protocols import basic
    else:
        from twisted.internet.testing import StringTransport  # type: ignore[no-redef]
        from twisted.protocols import basic  # type: ignore[no-redef]
    return basic, StringTransport


def receivers(basic: Any) -> dict[str, type]:
    class Lines(basic.LineReceiver):
        MAX_LENGTH = 16384
        count = 0

        def lineReceived(self, line: bytes) -> None:
            self.count += 1

    class OnlyLines(basic.LineOnlyReceiver):
        MAX_LENGTH = 16384
        count = 0

        def lineReceived(self, line: bytes) -> None:
            self.count += 1

    class Int32(basic.Int32StringReceiver):
        count = 0

        def stringReceived(self, string: bytes) -> None:
            self.count += 1

    class Netstrings(basic.NetstringReceiver):
        count = 0

        def stringReceived(self, string: bytes) -> None:
            self.count += 1

    return {"line": Lines, "lineonly": OnlyLines, "int32": Int32, "netstring": Netstrings}


def runner(side: str, count: int) -> Callable[[str], float]:
    basic, StringTransport = implementation(side)
    kinds = receivers(basic)
    data = {case: chunks(stream(case, count)) for case in CASES}

    def run(case: str) -> float:
        proto = kinds[case]()
        proto.makeConnection(StringTransport())
        pieces = data[case]
        feed = proto.dataReceived
        gc.collect()
        started = time.perf_counter()
        for piece in pieces:
            feed(piece)
        seconds = time.perf_counter() - started
        if proto.count != count:
            raise SystemExit(f"{side} {case}: {proto.count} messages instead of {count}")
        return seconds

    return run


def main() -> None:
    side, count = sys.argv[1], int(sys.argv[2])
    run = runner(side, count)
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "quit":
            break
        if words[0] == "profile":
            profiler = cProfile.Profile()
            profiler.runcall(run, words[1])
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
            print(json.dumps({"case": words[1], "profile": out.getvalue()}), flush=True)
            continue
        seconds = run(words[0])
        print(json.dumps({"case": words[0], "seconds": seconds, "messages": count}), flush=True)


if __name__ == "__main__":
    main()
