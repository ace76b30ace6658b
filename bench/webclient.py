"""HTTP client throughput: torsion's Agent against Twisted's, the same program for both.

The client program below imports `torsion` or `twisted` (the only difference) and runs
`--concurrency` loops, each making GET requests one after another through an Agent
with a persistent HTTPConnectionPool and reading each body with readBody. The server
is a small asyncio (uvloop if installed) protocol that answers every request head
with a fixed 200 response, so that the client is what is measured; it runs pinned to
CPU 0 and the clients to CPU 1 (`taskset`, where there is one). Rounds alternate
between the sides; the table gives the median requests per second of each side and
the ratio torsion / Twisted.

Twisted runs from bench/.venv-twisted, made on first use as by bench/deferred.py.

    .venv/bin/python bench/webclient.py [--rounds 5] [--requests 20000] [--concurrency 20]

Tests: tests/bench/test_webclient_smoke.py runs it with --quick.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from deferred import twistedPython  # noqa: E402

SERVER = r"""
import asyncio, sys
try:
    import uvloop
    uvloop.install()
except ImportError:
    pass
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"
class Answer(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.pending = b""
    def data_received(self, data):
        data = self.pending + data
        count = data.count(b"\r\n\r\n")
        self.pending = data[data.rfind(b"\r\n\r\n") + 4:] if count else data
        if count:
            self.transport.write(RESPONSE * count)
async def main():
    server = await asyncio.get_running_loop().create_server(Answer, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
asyncio.run(main())
"""

CLIENT = r"""
import json, sys, time
side = sys.argv[1]
port, requests, concurrency = (int(arg) for arg in sys.argv[2:5])
if side == "torsion":
    from torsion.internet import defer, task
    from torsion.web.client import Agent, HTTPConnectionPool, readBody
else:
    from twisted.internet import defer, task
    from twisted.web.client import Agent, HTTPConnectionPool, readBody

async def run(reactor):
    pool = HTTPConnectionPool(reactor)
    pool.maxPersistentPerHost = concurrency
    agent = Agent(reactor, pool=pool)
    url = b"http://127.0.0.1:%d/" % port

    async def loop(count):
        for _ in range(count):
            response = await agent.request(b"GET", url)
            await readBody(response)

    await defer.gatherResults([defer.ensureDeferred(loop(50)) for _ in range(concurrency)])
    start = time.perf_counter()
    each = requests // concurrency
    await defer.gatherResults([defer.ensureDeferred(loop(each)) for _ in range(concurrency)])
    elapsed = time.perf_counter() - start
    print(json.dumps({"rps": each * concurrency / elapsed}), flush=True)
    await pool.closeCachedConnections()

task.react(lambda reactor: defer.ensureDeferred(run(reactor)))
"""


def pinned(cpu: str, argv: list[str]) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", cpu, *argv] if taskset else argv


def measure(python: str, side: str, port: int, requests: int, concurrency: int) -> float:
    argv = [python, "-c", CLIENT, side, str(port), str(requests), str(concurrency)]
    done = subprocess.run(
        pinned("1", argv), capture_output=True, text=True, timeout=600, cwd=str(HERE.parent)
    )
    if done.returncode != 0:
        raise SystemExit(f"the {side} client failed:\n{done.stderr}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["rps"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="1 round of 500 requests")
    parser.add_argument("--no-twisted", action="store_true", help="torsion only")
    options = parser.parse_args()
    if options.quick:
        options.rounds = 1
        options.requests = min(options.requests, 500)
    sides = {"torsion": sys.executable}
    if not options.no_twisted:
        sides["twisted"] = str(twistedPython())
    server = subprocess.Popen(
        pinned("0", [sys.executable, "-c", SERVER]),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        results: dict[str, list[float]] = {side: [] for side in sides}
        for _ in range(options.rounds):
            for side, python in sides.items():
                results[side].append(
                    measure(python, side, port, options.requests, options.concurrency)
                )
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(10)
    print(
        f"GET + readBody, {options.concurrency} concurrent loops, persistent pool, "
        f"{options.requests} requests, median of {options.rounds} rounds"
    )
    print("| side | requests/s |")
    print("|---|---|")
    medians = {side: statistics.median(values) for side, values in results.items()}
    for side, value in medians.items():
        print(f"| {side} | {value:,.0f} |")
    if "twisted" in medians:
        print(f"\ntorsion / Twisted: {medians['torsion'] / medians['twisted']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
