"""Echo server and timer worker for bench/net.py: one side (implementation) per process.

Run as ``python bench/_echoserver.py SIDE COMMAND``, where SIDE is one of ``SIDES``:

``check``
    Print one JSON line: ``{"ok": true, "reactor": ..., "versions": ..., "fdLimit": ...}``
    if this side can run here, else ``{"ok": false, "reason": ...}``.
``serve``
    Listen on 127.0.0.1 (a free port, backlog 1024) with the plainest echo protocol of
    that side, print ``port N``, and run its loop. A control thread reads stdin:
    ``stats`` answers a JSON line ``{"cpu": seconds, "rss": bytes, "conns": n}`` (the
    process's CPU time from getrusage, VmRSS from /proc/self/status, connections open
    now); ``quit`` or the end of input exits at once.
``timers N``
    Schedule N timed calls with random delays of up to 10 ms (the same seeded delays
    for every side) from inside the running loop, run until all have fired, and print
    ``{"calls": N, "seconds": s, "rate": N/s, "cpuRate": N/CPU seconds}``. The clocks
    start before the first call is scheduled and stop in the last call, so loop start-up
    and shutdown are not in them. The CPU-time rate is the one to compare on a busy
    machine: time the process spends waiting for a CPU is not in it.

The control thread sleeps in ``read`` (without the GIL) between commands, so it costs
the loop nothing; it answers within a few milliseconds, which is noise next to the
seconds-long windows the driver measures.

This file imports neither torsion nor Twisted at module level: the Twisted side runs
under bench/.venv-twisted's interpreter, where torsion is not installed. Torsion and
Twisted share their API names, so one body of code serves both ("Twisted-style"
sides); asyncio and uvloop share the asyncio one. Both raise their open-files soft
limit to the hard limit first, so the idle-connection case fits.
Tests: tests/bench/test_net_smoke.py (through bench/net.py --quick).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import platform
import random
import resource
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

LISTEN_BACKLOG = 1024
MAX_TIMER_DELAY = 0.01
TIMER_SEED = 20041


class Side(NamedTuple):
    """How to build one side: its framework, the module whose install() makes its
    reactor (Twisted-style sides), and the asyncio loop it runs on, if any."""

    framework: str  # "torsion", "twisted" or "asyncio"
    reactorModule: str | None
    loop: str | None  # "asyncio", "uvloop" or None


SIDES: dict[str, Side] = {
    "torsion-select": Side("torsion", "torsion.internet.selectreactor", None),
    "torsion-poll": Side("torsion", "torsion.internet.pollreactor", None),
    "torsion-epoll": Side("torsion", "torsion.internet.epollreactor", None),
    "torsion-asyncio": Side("torsion", "torsion.internet.asyncioreactor", "asyncio"),
    "torsion-uvloop": Side("torsion", "torsion.internet.asyncioreactor", "uvloop"),
    "twisted": Side("twisted", "twisted.internet.default", None),
    "asyncio": Side("asyncio", None, "asyncio"),
    "uvloop": Side("asyncio", None, "uvloop"),
}

# Connections open now, kept by every side's protocol; read by the control thread.
_connections = [0]


def raiseFileLimit() -> int:
    """Raise the open-files soft limit to the hard limit; return the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def newLoop(kind: str) -> asyncio.AbstractEventLoop:
    """A new event loop of ``kind`` ("asyncio" or "uvloop")."""
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def installReactor(side: Side) -> Any:
    """Install and return the reactor of a Twisted-style side."""
    assert side.reactorModule is not None
    module = importlib.import_module(side.reactorModule)
    if side.loop is not None:
        module.install(newLoop(side.loop))
    else:
        module.install()
    return importlib.import_module(f"{side.framework}.internet.reactor")


# -- check --------------------------------------------------------------------------


def describe(side: Side) -> dict[str, Any]:
    """What ``check`` reports about a side that can run here."""
    versions = {"python": platform.python_version()}
    info: dict[str, Any] = {"ok": True, "fdLimit": None}
    if side.loop == "uvloop":
        import uvloop

        versions["uvloop"] = uvloop.__version__
    if side.reactorModule is None:
        loop = newLoop(side.loop or "asyncio")
        info["reactor"] = f"{type(loop).__module__}.{type(loop).__name__}"
        loop.close()
    else:
        framework = importlib.import_module(side.framework)
        versions[side.framework] = getattr(framework, "__version__", "?")
        reactor = installReactor(side)
        info["reactor"] = f"{type(reactor).__module__}.{type(reactor).__name__}"
        # select(2) cannot watch descriptors from FD_SETSIZE (1024) up.
        if side.reactorModule.endswith(".selectreactor"):
            info["fdLimit"] = 1024
    info["versions"] = versions
    return info


def check(side: Side) -> None:
    try:
        info = describe(side)
    except Exception as e:  # Any failure to import or build means: not available here.
        info = {"ok": False, "reason": f"{type(e).__name__}: {e}"}
    print(json.dumps(info), flush=True)


# -- serve ----------------------------------------------------------------------------


def stats() -> dict[str, Any]:
    """This process's CPU seconds, resident memory in bytes and open connections."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss = 0
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
                break
    return {"cpu": usage.ru_utime + usage.ru_stime, "rss": rss, "conns": _connections[0]}


def control() -> None:
    """Answer the driver's commands on stdin (runs in a daemon thread)."""
    for line in sys.stdin:
        command = line.strip()
        if command == "stats":
            answer: dict[str, Any] = stats()
        elif command == "quit":
            break
        else:
            answer = {"error": f"unknown command {command!r}: use stats or quit"}
        print(json.dumps(answer), flush=True)
    sys.stdout.flush()
    os._exit(0)  # Skip tearing down thousands of connections: the driver is done.


def serveTwistedStyle(side: Side) -> tuple[int, Callable[[], None]]:
    """Listen with a Twisted-API echo protocol; return the port and the loop runner."""
    reactor = installReactor(side)
    protocolModule = importlib.import_module(f"{side.framework}.internet.protocol")
    connections = _connections

    class Echo(protocolModule.Protocol):  # type: ignore[name-defined,misc]
        def connectionMade(self) -> None:
            connections[0] += 1

        def dataReceived(self, data: bytes) -> None:
            self.transport.write(data)

        def connectionLost(self, reason: object = None) -> None:
            connections[0] -= 1

    factory = protocolModule.Factory()
    factory.protocol = Echo
    factory.noisy = False
    port = reactor.listenTCP(0, factory, backlog=LISTEN_BACKLOG, interface="127.0.0.1")
    return port.getHost().port, lambda: reactor.run(installSignalHandlers=False)


class AsyncioEcho(asyncio.Protocol):
    """The plainest asyncio echo protocol."""

    transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        _connections[0] += 1

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        _connections[0] -= 1


def serveAsyncio(side: Side) -> tuple[int, Callable[[], None]]:
    """Listen with an asyncio echo protocol; return the port and the loop runner."""
    loop = newLoop(side.loop or "asyncio")
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(AsyncioEcho, "127.0.0.1", 0, backlog=LISTEN_BACKLOG)
    )
    port: int = server.sockets[0].getsockname()[1]
    return port, loop.run_forever


def serve(side: Side) -> None:
    serveOn = serveAsyncio if side.framework == "asyncio" else serveTwistedStyle
    port, run = serveOn(side)
    threading.Thread(target=control, name="control", daemon=True).start()
    print(f"port {port}", flush=True)
    run()


# -- timers ---------------------------------------------------------------------------


class TimerRun:
    """Schedules every delay with ``schedule(delay, fired)`` and stops after the last."""

    def __init__(
        self,
        delays: list[float],
        schedule: Callable[[float, Callable[[], None]], object],
        stop: Callable[[], object],
    ) -> None:
        self.delays = delays
        self.schedule = schedule
        self.stop = stop
        self.fired = 0
        self.began = self.ended = self.cpuBegan = self.cpuEnded = 0.0

    def start(self) -> None:
        self.began, self.cpuBegan = time.perf_counter(), time.process_time()
        schedule, fire = self.schedule, self.fire
        for delay in self.delays:
            schedule(delay, fire)

    def fire(self) -> None:
        self.fired += 1
        if self.fired == len(self.delays):
            self.ended, self.cpuEnded = time.perf_counter(), time.process_time()
            self.stop()


def timers(side: Side, count: int) -> None:
    generator = random.Random(TIMER_SEED)
    delays = [generator.uniform(0, MAX_TIMER_DELAY) for _ in range(count)]
    if side.framework == "asyncio":
        loop = newLoop(side.loop or "asyncio")
        run = TimerRun(delays, loop.call_later, loop.stop)
        loop.call_soon(run.start)
        loop.run_forever()
    else:
        reactor = installReactor(side)
        run = TimerRun(delays, reactor.callLater, reactor.stop)
        reactor.callWhenRunning(run.start)
        reactor.run(installSignalHandlers=False)
    if run.fired != count:
        raise SystemExit(f"only {run.fired} of {count} timed calls fired")
    seconds, cpu = run.ended - run.began, run.cpuEnded - run.cpuBegan
    answer = {"calls": count, "seconds": seconds, "rate": count / seconds, "cpuRate": count / cpu}
    print(json.dumps(answer), flush=True)


def main() -> None:
    usage = f"usage: {sys.argv[0]} SIDE check|serve|timers N; SIDE is one of {', '.join(SIDES)}"
    if len(sys.argv) < 3 or sys.argv[1] not in SIDES:
        raise SystemExit(usage)
    side, command = SIDES[sys.argv[1]], sys.argv[2]
    raiseFileLimit()
    if command == "check":
        check(side)
    elif command == "serve":
        serve(side)
    elif command == "timers" and len(sys.argv) == 4 and sys.argv[3].isdigit():
        timers(side, int(sys.argv[3]))
    else:
        raise SystemExit(usage)


if __name__ == "__main__":
    main()
