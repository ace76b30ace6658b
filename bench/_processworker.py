"""One side of bench/process.py: runs one process benchmark case and prints its time.

Usage: python _processworker.py SIDE CASE COUNT

SIDE is torsion, twisted or asyncio; the torsion and twisted sides run the very same
code, with the framework's modules imported by name (the APIs are the same). CASE:

- spawn: start ``true`` and wait for processEnded, COUNT times one after another;
- parallel: start COUNT ``true`` children at once and wait for them all;
- pipe: send COUNT MiB through ``cat`` in 64 KiB writes and read it all back.

Prints one JSON line: {"seconds": wall time of the whole case}.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import shutil
import sys
import time
from typing import Any

CHUNK = b"x" * 65536
TRUE = shutil.which("true") or "/bin/true"
CAT = shutil.which("cat") or "/bin/cat"


def frameworkCase(side: str, case: str, count: int) -> float:
    if side == "torsion":
        importlib.import_module("torsion.internet.epollreactor").install()
    else:
        importlib.import_module("twisted.internet.epollreactor").install()
    internet = importlib.import_module(f"{side}.internet")
    protocol = importlib.import_module(f"{side}.internet.protocol")
    defer = importlib.import_module(f"{side}.internet.defer")
    reactor: Any = internet.reactor

    class Child(protocol.ProcessProtocol):  # type: ignore[misc]
        def __init__(self, send: int = 0) -> None:
            self.ended = defer.Deferred()
            self.toSend = send
            self.received = 0

        def connectionMade(self) -> None:
            if self.toSend:
                self.transport.registerProducer(self, False)

        def resumeProducing(self) -> None:
            if self.toSend:
                self.toSend -= 1
                self.transport.write(CHUNK)
            else:
                self.transport.unregisterProducer()
                self.transport.closeStdin()

        def stopProducing(self) -> None:
            self.toSend = 0

        def outReceived(self, data: bytes) -> None:
            self.received += len(data)

        def processEnded(self, reason: Any) -> None:
            self.ended.callback(self.received)

    def spawn(program: str, send: int = 0) -> Any:
        child = Child(send)
        reactor.spawnProcess(child, program, [program], {})
        return child.ended

    elapsed: list[float] = []

    @defer.inlineCallbacks
    def run() -> Any:
        start = time.perf_counter()
        if case == "spawn":
            for _ in range(count):
                yield spawn(TRUE)
        elif case == "parallel":
            yield defer.gatherResults([spawn(TRUE) for _ in range(count)])
        else:
            received = yield spawn(CAT, send=count * 16)
            assert received == count * 2**20, received
        elapsed.append(time.perf_counter() - start)
        reactor.stop()

    reactor.callWhenRunning(run)
    reactor.run()
    return elapsed[0]


async def asyncioCase(case: str, count: int) -> float:
    async def true() -> None:
        child = await asyncio.create_subprocess_exec(TRUE, env={})
        await child.wait()

    start = time.perf_counter()
    if case == "spawn":
        for _ in range(count):
            await true()
    elif case == "parallel":
        await asyncio.gather(*(true() for _ in range(count)))
    else:
        child = await asyncio.create_subprocess_exec(
            CAT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env={}
        )
        assert child.stdin is not None and child.stdout is not None

        async def feed() -> None:
            assert child.stdin is not None
            for _ in range(count * 16):
                child.stdin.write(CHUNK)
                await child.stdin.drain()
            child.stdin.close()

        async def drain() -> int:
            assert child.stdout is not None
            received = 0
            while data := await child.stdout.read(2**18):
                received += len(data)
            return received

        _, received = await asyncio.gather(feed(), drain())
        await child.wait()
        assert received == count * 2**20, received
    return time.perf_counter() - start


def main() -> None:
    side, case, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if side == "asyncio":
        seconds = asyncio.run(asyncioCase(case, count))
    else:
        seconds = frameworkCase(side, case, count)
    print(json.dumps({"seconds": seconds}))


if __name__ == "__main__":
    main()
