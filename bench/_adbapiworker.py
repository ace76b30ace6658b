"""The measured process of bench/adbapi.py: one side's ConnectionPool against PostgreSQL.

Run as ``python bench/_adbapiworker.py SIDE COMMAND ...``, where SIDE is one of
``SIDES``:

``check``
    Print one JSON line: ``{"ok": true, "reactor": ..., "versions": ...}`` if this side
    has an adbapi and psycopg here, else ``{"ok": false, "reason": ...}``.
``run PORT CASE CALLS CALLERS``
    Make a ``ConnectionPool("psycopg", ...)`` of CALLERS connections to the PostgreSQL
    server on 127.0.0.1:PORT, open them all (a warm-up query per connection), print
    ``ready`` (the driver may attach py-spy then), and have CALLERS callers share CALLS
    ``runQuery`` calls of CASE (each caller starts its next call when its answer
    arrives, so CALLERS calls are in flight at any time). Then print one JSON line
    ``{"calls", "seconds", "cpu"}``: the calls made, the wall time they took and this
    process's CPU seconds in that time. Every answer is checked; a wrong one or an
    errback ends the run with an error, and the whole run is bounded (120 s).

The cases: ``select1`` is ``SELECT 1``; ``indexed`` is ``SELECT name FROM bench_items
WHERE id = %s`` on a 1,000-row table with a primary key (bench/adbapi.py makes it),
with the id cycling through the table. The sides keep Twisted's names, so one body of
code serves torsion and Twisted; neither is imported at module level, since Twisted's
side runs under bench/.venv-twisted's interpreter.
Tests: tests/bench/test_adbapi_smoke.py (through bench/adbapi.py --quick).
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _echoserver import Side, installReactor

SIDES: dict[str, Side] = {
    "torsion": Side("torsion", "torsion.internet.default", None),
    "twisted": Side("twisted", "twisted.internet.default", None),
}

TABLE_ROWS = 1000
USER, DATABASE = "torsion", "postgres"
RUN_TIMEOUT = 120.0


def query(case: str, number: int) -> tuple[str, tuple[Any, ...]]:
    """The SQL and parameters of call ``number`` of ``case``."""
    if case == "select1":
        return "SELECT 1", ()
    if case == "indexed":
        return "SELECT name FROM bench_items WHERE id = %s", (number % TABLE_ROWS + 1,)
    raise SystemExit(f"unknown case {case!r}: select1 or indexed")


def expected(case: str, number: int) -> list[tuple[Any, ...]]:
    if case == "select1":
        return [(1,)]
    return [(f"item-{number % TABLE_ROWS + 1}",)]


def describe(side: Side) -> dict[str, Any]:
    import psycopg

    versions = {"python": platform.python_version(), "psycopg": psycopg.__version__}
    framework = importlib.import_module(side.framework)
    versions[side.framework] = getattr(framework, "__version__", "?")
    importlib.import_module(f"{side.framework}.enterprise.adbapi")
    reactor = installReactor(side)
    return {
        "ok": True,
        "reactor": f"{type(reactor).__module__}.{type(reactor).__name__}",
        "versions": versions,
    }


def check(side: Side) -> None:
    try:
        info = describe(side)
    except Exception as e:  # Any failure to import means: not available here.
        info = {"ok": False, "reason": f"{type(e).__name__}: {e}"}
    print(json.dumps(info), flush=True)


class Run:
    """CALLERS chains of runQuery calls sharing CALLS calls; checks every answer."""

    def __init__(self, pool: Any, case: str, calls: int, callers: int, done: Any) -> None:
        self.pool, self.case, self.calls, self.callers = pool, case, calls, callers
        self.done = done
        self.started = 0
        self.answered = 0
        self.inFlight = 0
        self.failed: str | None = None
        self.ended = False
        self.began = (0.0, 0.0)
        self.result: dict[str, Any] | None = None

    def start(self) -> None:
        self.began = (time.perf_counter(), time.process_time())
        for _ in range(self.callers):
            self.next()

    def next(self) -> None:
        if self.started >= self.calls or self.failed is not None:
            if self.inFlight == 0:
                self.finish()
            return
        number = self.started
        self.started += 1
        self.inFlight += 1
        sql, args = query(self.case, number)
        d = self.pool.runQuery(sql, args) if args else self.pool.runQuery(sql)
        d.addCallbacks(self.answer, self.broken, callbackArgs=(number,))

    def answer(self, rows: Any, number: int) -> None:
        self.inFlight -= 1
        if [tuple(row) for row in rows] != expected(self.case, number):
            self.fail(f"wrong answer to call {number}: {rows!r}"[:300])
        else:
            self.answered += 1
        self.next()

    def broken(self, reason: Any) -> None:
        self.inFlight -= 1
        self.fail(f"a runQuery failed: {reason.getErrorMessage()}")
        self.next()

    def fail(self, why: str) -> None:
        if self.failed is None:
            self.failed = why

    def finish(self) -> None:
        if self.ended:
            return
        self.ended = True
        if self.failed is None:
            self.result = {
                "calls": self.answered,
                "seconds": time.perf_counter() - self.began[0],
                "cpu": time.process_time() - self.began[1],
            }
        self.done()


def run(side: Side, port: int, case: str, calls: int, callers: int) -> int:
    reactor = installReactor(side)
    adbapi = importlib.import_module(f"{side.framework}.enterprise.adbapi")
    pool = adbapi.ConnectionPool(
        "psycopg",
        host="127.0.0.1",
        port=port,
        user=USER,
        dbname=DATABASE,
        connect_timeout=10,
        cp_min=callers,
        cp_max=callers,
    )
    state: dict[str, Any] = {}

    def stop() -> None:
        pool.close()
        reactor.stop()

    def warm() -> None:
        # One query per connection, all at once, so every connection is open before
        # the measured calls begin.
        warmUp = [pool.runQuery("SELECT 1") for _ in range(callers * 2)]
        defer = importlib.import_module(f"{side.framework}.internet.defer")
        d = defer.gatherResults(warmUp, consumeErrors=True)

        def ready(ignored: Any) -> None:
            print("ready", flush=True)
            state["run"] = Run(pool, case, calls, callers, stop)
            state["run"].start()

        def failed(reason: Any) -> None:
            state["error"] = f"warm-up failed: {reason.getErrorMessage()}"
            stop()

        d.addCallbacks(ready, failed)

    def timedOut() -> None:
        state.setdefault("error", f"timed out after {RUN_TIMEOUT:g} s")
        stop()

    reactor.callWhenRunning(warm)
    timer = reactor.callLater(RUN_TIMEOUT, timedOut)
    reactor.run(installSignalHandlers=False)
    if timer.active():
        timer.cancel()
    current = state.get("run")
    why = state.get("error") or (current.failed if current else None)
    if current is not None and current.result is not None and why is None:
        print(json.dumps(current.result), flush=True)
        return 0
    print(f"{sys.argv[0]}: {side.framework}: {why or 'no result'}", file=sys.stderr)
    return 1


def main() -> int:
    usage = (
        f"usage: {sys.argv[0]} SIDE check|run PORT CASE CALLS CALLERS; SIDE is one of "
        f"{', '.join(SIDES)}"
    )
    if len(sys.argv) < 3 or sys.argv[1] not in SIDES:
        raise SystemExit(usage)
    side, command = SIDES[sys.argv[1]], sys.argv[2]
    if command == "check":
        check(side)
        return 0
    if command == "run" and len(sys.argv) == 7:
        port, case, calls, callers = sys.argv[3:]
        return run(side, int(port), case, int(calls), int(callers))
    raise SystemExit(usage)


if __name__ == "__main__":
    sys.exit(main())
