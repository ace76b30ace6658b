"""PB server and client for bench/pb.py: one side (framework and reactor) per process.

Run as ``python bench/_pbworker.py SIDE COMMAND ...``, where SIDE is one of ``SIDES``:

``check``
    Print one JSON line: ``{"ok": true, "reactor": ..., "versions": ...}`` if this side
    can run PB here, else ``{"ok": false, "reason": ...}``.
``serve``
    Listen on 127.0.0.1 (a free port) with a ``PBServerFactory`` whose root answers
    ``echo(value)`` with the value, print ``port N``, and run until standard input
    closes, then exit at once.
``client PORT SERVER_PID CASE DEPTH SECONDS WARMUP``
    Connect, get the root object, and keep DEPTH calls of CASE in flight (each answer
    starts the next call; DEPTH 1 is strictly sequential) for WARMUP seconds, then
    for SECONDS more measured, then print one JSON line ``{"calls", "seconds", "cpu",
    "serverCpu"}``: the calls answered in the measured window, its length, this
    process's CPU seconds in it, and the server's (read from /proc/SERVER_PID/stat at
    both ends of the window, so the driver's own timing is not in it). Every answer is
    checked; a wrong one ends the run with an error.

The cases: ``small`` is ``callRemote("echo", 1)``; ``list`` echoes a list of 1,000
dicts ``{"id": i, "name": "item-i", "price": 1.5}``, which makes Banana and Jelly the
hot path on both ends. The sides are Twisted-style (torsion keeps Twisted's names),
so one body of code serves torsion and Twisted; this file imports neither at module
level, since Twisted's side runs under bench/.venv-twisted's interpreter.
Tests: tests/bench/test_pb_smoke.py (through bench/pb.py --quick).
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _echoserver import Side, installReactor

SIDES: dict[str, Side] = {
    "torsion": Side("torsion", "torsion.internet.default", None),
    "torsion-uvloop": Side("torsion", "torsion.internet.asyncioreactor", "uvloop"),
    "twisted": Side("twisted", "twisted.internet.default", None),
}

LIST_LENGTH = 1000


def payload(case: str) -> Any:
    """What one call of ``case`` sends (and expects back)."""
    if case == "small":
        return 1
    if case == "list":
        return [{"id": i, "name": f"item-{i}", "price": 1.5} for i in range(LIST_LENGTH)]
    raise SystemExit(f"unknown case {case!r}: small or list")


def correct(case: str, sent: Any, answer: Any) -> bool:
    """Whether ``answer`` is the echo of ``sent`` (the list's length and ends are checked)."""
    if case == "small":
        return bool(answer == sent)
    return (
        isinstance(answer, list)
        and len(answer) == len(sent)
        and answer[0] == sent[0]
        and answer[-1] == sent[-1]
    )


def describe(side: Side) -> dict[str, Any]:
    versions = {"python": platform.python_version()}
    if side.loop == "uvloop":
        import uvloop

        versions["uvloop"] = uvloop.__version__
    framework = importlib.import_module(side.framework)
    versions[side.framework] = getattr(framework, "__version__", "?")
    importlib.import_module(f"{side.framework}.spread.pb")
    reactor = installReactor(side)
    return {
        "ok": True,
        "reactor": f"{type(reactor).__module__}.{type(reactor).__name__}",
        "versions": versions,
    }


def check(side: Side) -> None:
    try:
        info = describe(side)
    except Exception as e:  # Any failure to import or build means: not available here.
        info = {"ok": False, "reason": f"{type(e).__name__}: {e}"}
    print(json.dumps(info), flush=True)


def control() -> None:
    """Exit as soon as standard input closes (a daemon thread; it sleeps in read)."""
    sys.stdin.read()
    os._exit(0)


def serve(side: Side) -> None:
    reactor = installReactor(side)
    pb = importlib.import_module(f"{side.framework}.spread.pb")

    class Root(pb.Root):  # type: ignore[name-defined,misc]
        def remote_echo(self, value: Any) -> Any:
            return value

    factory = pb.PBServerFactory(Root())
    factory.noisy = False
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    threading.Thread(target=control, name="control", daemon=True).start()
    print(f"port {port.getHost().port}", flush=True)
    reactor.run(installSignalHandlers=False)


_TICKS = os.sysconf("SC_CLK_TCK")


def processCpu(pid: int) -> float:
    """CPU seconds (user + system) that process ``pid`` has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        after = stat.read().rpartition(")")[2].split()
    return (int(after[11]) + int(after[12])) / _TICKS


class Run:
    """DEPTH chains of calls, each answer starting the next, over warm-up then window."""

    def __init__(
        self, root: Any, case: str, depth: int, seconds: float, warmup: float, serverPid: int
    ) -> None:
        self.root, self.case, self.depth = root, case, depth
        self.sent = payload(case)
        self.serverPid = serverPid
        now = time.perf_counter()
        self.windowStart = now + warmup
        self.windowEnd = self.windowStart + seconds
        self.measuring = False
        self.calls = 0
        self.inFlight = 0
        self.began: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self.result: dict[str, Any] | None = None
        self.failed: str | None = None

    def start(self, done: Any) -> None:
        self.done = done
        for _ in range(self.depth):
            self.call()

    def call(self) -> None:
        self.inFlight += 1
        d = self.root.callRemote("echo", self.sent)
        d.addCallbacks(self.answered, self.broken)

    def snapshot(self) -> tuple[float, float, float]:
        return time.perf_counter(), time.process_time(), processCpu(self.serverPid)

    def answered(self, answer: Any) -> None:
        self.inFlight -= 1
        if not correct(self.case, self.sent, answer):
            self.fail(f"wrong answer: {str(answer)[:200]}")
            return
        now = time.perf_counter()
        if self.measuring:
            self.calls += 1
            if now >= self.windowEnd:
                ended = self.snapshot()
                self.measuring = False
                self.result = {
                    "calls": self.calls,
                    "seconds": ended[0] - self.began[0],
                    "cpu": ended[1] - self.began[1],
                    "serverCpu": ended[2] - self.began[2],
                }
        elif self.result is None and now >= self.windowStart:
            self.began = self.snapshot()
            self.measuring = True
        if self.result is None and self.failed is None:
            self.call()
        elif self.inFlight == 0:
            self.done()

    def broken(self, reason: Any) -> None:
        self.inFlight -= 1
        self.fail(f"a call failed: {reason.getErrorMessage()}")

    def fail(self, why: str) -> None:
        if self.failed is None:
            self.failed = why
        if self.inFlight == 0:
            self.done()


def client(side: Side, port: int, serverPid: int, case: str, depth: int, s: float, w: float) -> int:
    reactor = installReactor(side)
    pb = importlib.import_module(f"{side.framework}.spread.pb")
    factory = pb.PBClientFactory()
    factory.noisy = False
    reactor.connectTCP("127.0.0.1", port, factory)
    state: dict[str, Any] = {}

    def finish() -> None:
        factory.disconnect()
        reactor.stop()

    def connected(root: Any) -> None:
        run = state["run"] = Run(root, case, depth, s, w, serverPid)
        run.start(finish)

    def failed(reason: Any) -> None:
        state["error"] = f"could not get the root object: {reason.getErrorMessage()}"
        reactor.stop()

    factory.getRootObject().addCallbacks(connected, failed)
    reactor.callLater(w + s + 60, lambda: (state.setdefault("error", "timed out"), finish()))
    reactor.run(installSignalHandlers=False)
    run = state.get("run")
    why = state.get("error") or (run.failed if run else None)
    if run is not None and run.result is not None and why is None:
        print(json.dumps(run.result), flush=True)
        return 0
    print(f"{sys.argv[0]}: {why or 'no result'}", file=sys.stderr)
    return 1


def main() -> int:
    usage = (
        f"usage: {sys.argv[0]} SIDE check|serve|client PORT SERVER_PID CASE DEPTH SECONDS "
        f"WARMUP; SIDE is one of {', '.join(SIDES)}"
    )
    if len(sys.argv) < 3 or sys.argv[1] not in SIDES:
        raise SystemExit(usage)
    side, command = SIDES[sys.argv[1]], sys.argv[2]
    if command == "check":
        check(side)
    elif command == "serve":
        serve(side)
    elif command == "client" and len(sys.argv) == 9:
        port, pid, case, depth, seconds, warmup = sys.argv[3:]
        return client(side, int(port), int(pid), case, int(depth), float(seconds), float(warmup))
    else:
        raise SystemExit(usage)
    return 0


if __name__ == "__main__":
    sys.exit(main())
