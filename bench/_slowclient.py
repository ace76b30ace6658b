"""The slow-clients load of bench/web.py: many keep-alive connections, each slow.

Run as ``python bench/_slowclient.py HOST PORT PATH CONNECTIONS INTERVAL SECONDS``
under the project's interpreter (it uses uvloop when it is installed). It talks on
standard input and output:

1. It opens CONNECTIONS connections (at most ``CONNECT_AT_ONCE`` connecting at a time,
   so no server's listen backlog overflows), sends one ``GET PATH`` on each as soon as
   it is open and waits for the answer, so that the server has accepted and served
   every connection. Then it prints ``open N seconds=S``.
2. On the line ``go`` it starts the measured window: every connection sends one request
   each INTERVAL seconds (each at a random phase, so the load is even), for SECONDS
   seconds; then it waits up to ``DRAIN_SECONDS`` for the answers still due, and prints
   ``result requests=R answered=A errors=E connections=C p50=S p99=S max=S
   seconds=S cpu=S``: requests sent in the window, answers received (each a 200 with
   the body of the warm-up answer), errors (a wrong status or body, a lost or refused
   connection), connections that got every answer, latency percentiles in seconds,
   the window and this process's CPU seconds in it.
3. It exits when its input closes.

Errors are counted, not raised: the driver needs to know how many connections a
server failed to serve, not only that one failed. A connection that cannot be opened
at all stops the run with a message on standard error and exit status 1.
Tests: tests/bench/test_web_smoke.py.
"""

from __future__ import annotations

import asyncio
import random
import resource
import sys
import time
from typing import Any

CONNECT_AT_ONCE = 100
DRAIN_SECONDS = 10.0
OPEN_TIMEOUT = 30.0
SEED = 20261201


class SlowClient(asyncio.Protocol):
    """One connection: sends a request when told, checks each answer, times it."""

    __slots__ = (
        "answered",
        "body",
        "buffer",
        "errors",
        "latencies",
        "lost",
        "pending",
        "request",
        "sent",
        "sentAt",
        "transport",
        "waiter",
    )

    def __init__(self, request: bytes, latencies: list[float]) -> None:
        self.request = request
        self.latencies = latencies
        self.transport: Any = None
        self.buffer = b""
        self.body: bytes | None = None  # The first answer's body; later ones must match.
        self.pending = False
        self.sentAt = 0.0
        self.sent = self.answered = self.errors = 0
        self.lost = False
        self.waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def send(self) -> None:
        if self.lost or self.pending:
            return
        self.pending = True
        self.sent += 1
        self.sentAt = time.perf_counter()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.pending:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            self.pending = False
            if self.body is None:
                self.body = body
            if head.startswith(b"http/1.1 200") and body == self.body:
                self.answered += 1
                self.latencies.append(time.perf_counter() - self.sentAt)
            else:
                self.errors += 1
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.pending:
            self.errors += 1
            self.pending = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc}"))


def percentile(ordered: list[float], share: float) -> float:
    """The value below which ``share`` of the sorted values lie (0 if there are none)."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def openAll(
    host: str, port: int, request: bytes, count: int, latencies: list[float]
) -> list[SlowClient]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)
    clients: list[SlowClient] = []

    async def openOne() -> None:
        async with gate:
            _, client = await loop.create_connection(
                lambda: SlowClient(request, latencies), host, port
            )
            client.waiter = loop.create_future()
            client.send()
            await asyncio.wait_for(client.waiter, OPEN_TIMEOUT)
            client.waiter = None
            clients.append(client)

    await asyncio.gather(*(openOne() for _ in range(count)))
    return clients


async def window(clients: list[SlowClient], interval: float, seconds: float) -> float:
    """Every client sends once per ``interval`` for ``seconds``; the window's length."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    end = began + seconds
    phases = random.Random(SEED)

    def tick(client: SlowClient, due: float) -> None:
        client.send()
        if due + interval < end:
            loop.call_at(due + interval, tick, client, due + interval)

    for client in clients:
        due = began + phases.uniform(0, interval)
        loop.call_at(due, tick, client, due)
    await asyncio.sleep(seconds)
    deadline = loop.time() + DRAIN_SECONDS
    while any(c.pending for c in clients) and loop.time() < deadline:
        await asyncio.sleep(0.05)
    return loop.time() - began


async def readLine() -> str:
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def run(host: str, port: int, path: str, count: int, interval: float, seconds: float) -> None:
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode("ascii")
    latencies: list[float] = []
    started = time.perf_counter()
    try:
        clients = await openAll(host, port, request, count, latencies)
    except (OSError, TimeoutError) as e:
        raise SystemExit(f"slowclient: could not open and serve connection: {e!r}") from e
    print(f"open {len(clients)} seconds={time.perf_counter() - started:.3f}", flush=True)
    if (await readLine()).strip() != "go":
        return
    before = [(c.sent, c.answered, c.errors) for c in clients]
    latencies.clear()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpuBefore = usage.ru_utime + usage.ru_stime
    elapsed = await window(clients, interval, seconds)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpuBefore
    sent = sum(c.sent for c in clients) - sum(b[0] for b in before)
    answered = sum(c.answered for c in clients) - sum(b[1] for b in before)
    errors = sum(c.errors for c in clients) - sum(b[2] for b in before)
    complete = sum(
        1
        for c, b in zip(clients, before, strict=True)
        if not c.lost and not c.pending and c.errors == b[2] and c.answered > b[1]
    )
    ordered = sorted(latencies)
    print(
        f"result requests={sent} answered={answered} errors={errors} connections={complete} "
        f"p50={percentile(ordered, 0.5):.6f} p99={percentile(ordered, 0.99):.6f} "
        f"max={ordered[-1] if ordered else 0.0:.6f} seconds={elapsed:.3f} cpu={cpu:.3f}",
        flush=True,
    )
    await readLine()  # The driver closes our input when it has what it needs.


def main() -> None:
    usage = f"usage: {sys.argv[0]} HOST PORT PATH CONNECTIONS INTERVAL SECONDS"
    if len(sys.argv) != 7:
        raise SystemExit(usage)
    host, port, path = sys.argv[1], sys.argv[2], sys.argv[3]
    try:
        numbers = int(port), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
    except ValueError:
        raise SystemExit(f"{usage}\nPORT and CONNECTIONS are whole numbers") from None
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if numbers[1] + 64 > hard:
        raise SystemExit(
            f"slowclient: {numbers[1]} connections need more open files than the hard "
            f"limit {hard} allows (raise it, or open fewer)"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(run(host, numbers[0], path, *numbers[1:]))
    finally:
        loop.close()


if __name__ == "__main__":
    main()
