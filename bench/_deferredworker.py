"""Worker process for bench/deferred.py: times the Deferred cases for one implementation.

Run as ``python bench/_deferredworker.py torsion|twisted|asyncio``. It reads one
command per line on stdin (``<case> <seconds>``, ``profile <case>`` or ``quit``) and
answers each with a JSON line ``{"case": ..., "perOp": seconds, "ops": n}``: the time
of one operation of that case, measured over enough repetitions to fill roughly
``<seconds>`` (or, for ``profile``, ``{"case": ..., "profile": text}``, the cProfile
top functions of one measurement's worth of that case). The driver
(bench/deferred.py) interleaves rounds across the three workers so that a burst of
machine noise hits every side alike.

This file imports neither torsion nor Twisted at module level: the Twisted worker runs
in bench/.venv-twisted, where torsion is not installed, and the torsion worker runs in
the project's interpreter, where Twisted must never be. The cases use only the API
names the two share, so one body of code times both.

There are no tests for this file; ``python bench/deferred.py --quick`` exercises it.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

CALLBACKS = 10
AWAITS = 1000
DEPTH = 100

# A case is a factory: given the implementation, it returns ``run(n)`` that performs
# the operation n times and returns how many operations it did.
Runner = Callable[[int], int]


def _addOne(result: int) -> int:
    return result + 1


def twistedStyleCases(defer: ModuleType) -> dict[str, Runner]:
    """The cases for a Twisted-API Deferred module (torsion's or Twisted's)."""
    Deferred = defer.Deferred
    succeed = defer.succeed
    inlineCallbacks = defer.inlineCallbacks
    ensureDeferred = defer.ensureDeferred

    def callbacks(n: int) -> int:
        for _ in range(n):
            d = Deferred()
            for _ in range(CALLBACKS):
                d.addCallback(_addOne)
            d.callback(0)
        return n

    @inlineCallbacks
    def inlineLoop() -> Any:
        total = 0
        for i in range(AWAITS):
            total += yield succeed(i)
        return total

    def inline(n: int) -> int:
        for _ in range(n):
            inlineLoop()
        return n

    async def coroutineLoop() -> int:
        total = 0
        for i in range(AWAITS):
            total += await succeed(i)
        return total

    def coroutine(n: int) -> int:
        for _ in range(n):
            ensureDeferred(coroutineLoop())
        return n

    def chain(n: int) -> int:
        results: list[int] = []
        for _ in range(n):
            leaf = Deferred()
            current = leaf
            for _ in range(DEPTH):
                outer = Deferred()
                outer.addCallback(lambda _ignored, inner=current: inner)
                outer.addCallback(_addOne)
                outer.callback(None)
                current = outer
            current.addCallback(results.append)
            leaf.callback(0)
        if results[-1] != DEPTH:
            raise AssertionError(f"chain gave {results[-1]}, expected {DEPTH}")
        return n

    return {"callbacks": callbacks, "inline": inline, "coroutine": coroutine, "chain": chain}


def asyncioCases() -> dict[str, Runner]:
    """The asyncio equivalents, each run on one fresh event loop per measurement."""
    loop = asyncio.new_event_loop()

    def _noop(_future: asyncio.Future[int]) -> None:
        pass

    def callbacks(n: int) -> int:
        # Done callbacks are scheduled with call_soon, so draining the loop once at the
        # end is part of the measured work: without it the callbacks never run.
        for _ in range(n):
            future: asyncio.Future[int] = loop.create_future()
            for _ in range(CALLBACKS):
                future.add_done_callback(_noop)
            future.set_result(0)
        loop.run_until_complete(asyncio.sleep(0))
        return n

    async def coroutineLoop() -> int:
        total = 0
        for i in range(AWAITS):
            future: asyncio.Future[int] = loop.create_future()
            future.set_result(i)
            total += await future
        return total

    async def manyLoops(n: int) -> None:
        for _ in range(n):
            await coroutineLoop()

    def coroutine(n: int) -> int:
        loop.run_until_complete(manyLoops(n))
        return n

    async def level(depth: int, leaf: asyncio.Future[int]) -> int:
        if depth == 0:
            return await leaf
        return await level(depth - 1, leaf) + 1

    async def manyChains(n: int) -> int:
        result = 0
        for _ in range(n):
            leaf: asyncio.Future[int] = loop.create_future()
            task = loop.create_task(level(DEPTH, leaf))
            await asyncio.sleep(0)
            leaf.set_result(0)
            result = await task
        return result

    def chain(n: int) -> int:
        result = loop.run_until_complete(manyChains(n))
        if result != DEPTH:
            raise AssertionError(f"chain gave {result}, expected {DEPTH}")
        return n

    return {"callbacks": callbacks, "coroutine": coroutine, "chain": chain}


def loadCases(implementation: str) -> dict[str, Runner]:
    """Import the implementation under test and return its cases by name."""
    if implementation == "asyncio":
        return asyncioCases()
    if implementation == "torsion":
        from torsion.internet import defer
    elif implementation == "twisted":
        from twisted.internet import defer  # type: ignore[no-redef]
    else:
        raise SystemExit(f"unknown implementation {implementation!r}")
    return twistedStyleCases(defer)


def timeOnce(run: Runner, n: int) -> float:
    """Time ``run(n)`` with the garbage collector off (the same for every side)."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        run(n)
        return time.perf_counter() - start
    finally:
        gc.enable()


def calibrate(run: Runner, target: float) -> int:
    """Find a repetition count whose run takes about ``target`` seconds."""
    n = 1
    while True:
        elapsed = timeOnce(run, n)
        if elapsed >= target / 10 or n >= 1 << 24:
            return max(1, int(n * target / max(elapsed, 1e-9)))
        n *= 4


def profile(run: Runner, n: int) -> str:
    """Run ``run(n)`` under cProfile; return the top functions by own time."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(run, n)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
    return out.getvalue()


def main() -> None:
    cases = loadCases(sys.argv[1])
    counts: dict[str, int] = {}
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "quit":
            break
        if words[0] == "profile":
            case = words[1]
            report = profile(cases[case], counts.get(case, 1)) if case in cases else ""
            sys.stdout.write(json.dumps({"case": case, "profile": report}) + "\n")
            sys.stdout.flush()
            continue
        case, target = words[0], float(words[1])
        if case not in cases:
            reply: dict[str, Any] = {"case": case, "perOp": None, "ops": 0}
        else:
            run = cases[case]
            if case not in counts:
                counts[case] = calibrate(run, target)
            n = counts[case]
            reply = {"case": case, "perOp": timeOnce(run, n) / n, "ops": n}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
