"""Tests for torsion.internet.asyncioreactor: torsion and asyncio code on one loop.

The reactor's general behaviour is tested by the conformance suite (it is in
reactormixins.REACTOR_FACTORIES on both asyncio's loop and uvloop's, with TCP on the
loop's transports and on torsion's); its TCP on the loop's transports in
test_asynciotcp.py. These tests are about sharing the loop: asyncio coroutines, streams
and servers next to torsion ones, Deferreds and Futures awaiting each other, the loop
driven by ``reactor.run()`` or by asyncio itself, and ``install()``; each runs with
both kinds of TCP transport.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest

from tests.internet.reactormixins import closeReactor, runUntilFired
from torsion.internet import error
from torsion.internet.asyncioreactor import AsyncioSelectorReactor
from torsion.internet.defer import Deferred
from torsion.internet.protocol import ClientFactory, Factory, Protocol
from torsion.protocols.wire import Echo


def newUvloop() -> asyncio.AbstractEventLoop:
    uvloop = pytest.importorskip("uvloop")
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


LOOP_FACTORIES: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": newUvloop,
}


@pytest.fixture(params=sorted(LOOP_FACTORIES))
def loopFactory(request: pytest.FixtureRequest) -> Callable[[], asyncio.AbstractEventLoop]:
    return LOOP_FACTORIES[request.param]


@pytest.fixture
def loop(
    loopFactory: Callable[[], asyncio.AbstractEventLoop],
) -> Iterator[asyncio.AbstractEventLoop]:
    made = loopFactory()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(params=[True, False], ids=["loopTransports", "fdTransports"])
def reactor(
    loop: asyncio.AbstractEventLoop, request: pytest.FixtureRequest
) -> Iterator[AsyncioSelectorReactor]:
    made = AsyncioSelectorReactor(loop, nativeTransports=request.param)
    try:
        yield made
    finally:
        closeReactor(made)


def runCoroutine(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` on ``loop`` (asyncio drives it, not the reactor), for at most 5 s."""
    return loop.run_until_complete(asyncio.wait_for(coro, 5))


def runReactor(reactor: AsyncioSelectorReactor) -> None:
    """Run the reactor until something stops it, or 10 seconds pass."""
    guard = reactor.callLater(10, reactor.stop)
    reactor.run(installSignalHandlers=False)
    assert guard.active(), "the reactor did not stop within 10 seconds"
    guard.cancel()


class Collector(Protocol):
    """Collects what it receives; ``made`` fires on connection, ``got(n)`` at n bytes."""

    def __init__(self) -> None:
        self.data = b""
        self.made: Deferred[None] = Deferred()
        self.waiting: list[tuple[int, Deferred[bytes]]] = []

    def connectionMade(self) -> None:
        self.made.callback(None)

    def dataReceived(self, data: bytes) -> None:
        self.data += data
        for entry in [w for w in self.waiting if len(self.data) >= w[0]]:
            self.waiting.remove(entry)
            entry[1].callback(self.data)

    def got(self, size: int) -> Deferred[bytes]:
        d: Deferred[bytes] = Deferred()
        self.waiting.append((size, d))
        self.dataReceived(b"")
        return d


class OneClient(ClientFactory):
    def __init__(self, protocol: Protocol) -> None:
        self.instance = protocol

    def buildProtocol(self, addr: Any) -> Protocol:
        return self.instance


def delayedEchoFactory(reactor: AsyncioSelectorReactor) -> Factory:
    """An echo server that answers 10 ms later, from a timed call made in dataReceived."""

    class DelayedEcho(Protocol):
        def dataReceived(self, data: bytes) -> None:
            reactor.callLater(0.01, self.transport.write, data)

    return Factory.forProtocol(DelayedEcho)


async def upperServer() -> asyncio.Server:
    """An asyncio streams server that answers each chunk in upper case."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(100):
            writer.write(data.upper())
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def talkBothWays(reactor: AsyncioSelectorReactor) -> tuple[bytes, bytes]:
    """asyncio client -> torsion server, and torsion client -> asyncio server."""
    loop = asyncio.get_running_loop()
    assert loop is reactor._asyncioEventloop
    await asyncio.sleep(0.01)
    port = reactor.listenTCP(0, delayedEchoFactory(reactor), interface="127.0.0.1")
    reader, writer = await asyncio.open_connection("127.0.0.1", port.getHost().port)
    writer.write(b"hello")
    echoed = await reader.readexactly(5)
    writer.close()
    await writer.wait_closed()

    server = await upperServer()
    client = Collector()
    number = server.sockets[0].getsockname()[1]
    reactor.connectTCP("127.0.0.1", number, OneClient(client))
    await client.made.asFuture(loop)
    client.transport.write(b"shout")  # From a coroutine: outside any reactor pass.
    shouted = await client.got(5).asFuture(loop)
    client.transport.loseConnection()
    server.close()
    await server.wait_closed()
    await port.stopListening().asFuture(loop)
    return echoed, shouted


def test_asyncioDrivesTorsionAndAsyncioServersTogether(
    reactor: AsyncioSelectorReactor, loop: asyncio.AbstractEventLoop
) -> None:
    assert runCoroutine(loop, talkBothWays(reactor)) == (b"hello", b"SHOUT")


def test_reactorRunDrivesAsyncioCoroutinesToo(reactor: AsyncioSelectorReactor) -> None:
    results: list[object] = []

    def start() -> None:
        task = asyncio.ensure_future(talkBothWays(reactor))
        d = Deferred.fromFuture(task)
        d.addBoth(results.append)
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(start)
    runReactor(reactor)
    assert results == [(b"hello", b"SHOUT")]


def test_deferredAndFutureAwaitEachOther(
    reactor: AsyncioSelectorReactor, loop: asyncio.AbstractEventLoop
) -> None:
    async def main() -> tuple[int, int]:
        fired: Deferred[int] = Deferred()
        reactor.callLater(0.01, fired.callback, 3)  # Made outside a pass: arms a timer.
        fromTorsion = await fired.asFuture(loop)
        fromAsyncio = Deferred.fromFuture(asyncio.ensure_future(asyncio.sleep(0.01, 4)))
        return fromTorsion, await fromAsyncio.asFuture(loop)

    assert runCoroutine(loop, main()) == (3, 4)


def test_failureCrossesFromDeferredToFuture(
    reactor: AsyncioSelectorReactor, loop: asyncio.AbstractEventLoop
) -> None:
    async def main() -> None:
        failing: Deferred[int] = Deferred()
        reactor.callLater(0, failing.errback, ValueError("nope"))
        await failing.asFuture(loop)

    with pytest.raises(ValueError, match="nope"):
        runCoroutine(loop, main())


def test_resetFromAsyncioCallbackMovesTimer(
    reactor: AsyncioSelectorReactor, loop: asyncio.AbstractEventLoop
) -> None:
    async def main() -> float:
        done = loop.create_future()
        late = reactor.callLater(30, done.set_result, "late")
        started = reactor.seconds()
        loop.call_later(0.01, late.reset, 0.01)
        assert await done == "late"
        return reactor.seconds() - started

    assert runCoroutine(loop, main()) < 4


def test_timerPastDueRunsEvenWhenLoopFiresEarly(
    reactor: AsyncioSelectorReactor, loop: asyncio.AbstractEventLoop
) -> None:
    # uvloop's timers have millisecond resolution and may fire before the call is due;
    # the reactor must then arm again rather than lose the call.
    async def main() -> int:
        calls: list[int] = []
        for i in range(20):
            reactor.callLater(0.0003 * i, calls.append, i)
        while len(calls) < 20:
            await asyncio.sleep(0.001)
        return len(calls)

    assert runCoroutine(loop, main()) == 20


def test_runOnRunningLoopRaisesClearError(
    reactor: AsyncioSelectorReactor, loop: asyncio.AbstractEventLoop
) -> None:
    async def main() -> None:
        reactor.run(installSignalHandlers=False)

    with pytest.raises(error.ReactorAlreadyRunning, match="already running"):
        runCoroutine(loop, main())
    assert not reactor.running


def test_loopStoppedByOthersStopsReactorRun(
    reactor: AsyncioSelectorReactor, loop: asyncio.AbstractEventLoop
) -> None:
    shutdown: list[str] = []
    reactor.addSystemEventTrigger("before", "shutdown", shutdown.append, "shutdown")
    reactor.callWhenRunning(loop.call_later, 0.01, loop.stop)
    runReactor(reactor)
    assert not reactor.running
    assert shutdown == []  # Like crash(): the loop's owner stopped it, not reactor.stop().


def test_stopEndsRunAndFiresShutdown(reactor: AsyncioSelectorReactor) -> None:
    calls: list[str] = []
    reactor.addSystemEventTrigger("after", "shutdown", calls.append, "after shutdown")
    reactor.callWhenRunning(reactor.stop)
    runReactor(reactor)
    assert calls == ["after shutdown"]
    assert not reactor._asyncioEventloop.is_running()


def test_defaultLoopIsTheThreadsCurrentLoop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        made = AsyncioSelectorReactor()
        assert made._asyncioEventloop is loop
        made._close()
    finally:
        asyncio.set_event_loop(None)


def test_defaultLoopInsideACoroutineIsTheRunningLoop(loop: asyncio.AbstractEventLoop) -> None:
    async def main() -> bool:
        made = AsyncioSelectorReactor()
        made._close()
        return made._asyncioEventloop is asyncio.get_running_loop()

    assert runCoroutine(loop, main())


def test_closeForgetsDescriptorsButLeavesLoopOpen(
    loop: asyncio.AbstractEventLoop,
) -> None:
    made = AsyncioSelectorReactor(loop)
    port = made.listenTCP(0, Factory.forProtocol(Echo), interface="127.0.0.1")
    made._close()
    assert made.getReaders() == []
    assert not loop.is_closed()
    assert not loop.remove_reader(port.fileno())  # The loop no longer watches it.
    port.connectionLost(None)


def runPython(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_installMakesGlobalReactorOnTheCurrentLoop() -> None:
    result = runPython(
        """
        import asyncio
        from torsion.internet import asyncioreactor
        installed = asyncioreactor.install(nativeTransports=False)
        from torsion.internet import reactor
        print(reactor is installed, reactor._asyncioEventloop is asyncio.get_event_loop())
        print(reactor.nativeTransports, asyncioreactor.AsyncioSelectorReactor().nativeTransports)
        """
    )
    assert result.stdout.split() == ["True", "True", "False", "True"], result.stderr


def test_installOnUvloopRunsEchoAndSecondInstallFails() -> None:
    pytest.importorskip("uvloop")
    result = runPython(
        """
        import socket, threading, uvloop
        from torsion.internet import asyncioreactor, default
        from torsion.internet.protocol import Factory
        from torsion.protocols.wire import Echo
        asyncioreactor.install(uvloop.new_event_loop())
        from torsion.internet import reactor
        port = reactor.listenTCP(0, Factory.forProtocol(Echo), interface="127.0.0.1")
        got = []

        def client():
            with socket.create_connection(("127.0.0.1", port.getHost().port), 5) as s:
                s.sendall(b"ping")
                got.append(s.recv(4))
            reactor.callFromThread(reactor.stop)

        reactor.callWhenRunning(threading.Thread(target=client).start)
        reactor.callLater(10, reactor.stop)
        reactor.run()
        print(type(reactor._asyncioEventloop).__module__, got)
        try:
            default.install()
        except Exception as e:
            print(type(e).__name__, e)
        """
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "uvloop [b'ping']", result.stderr
    assert lines[1].startswith("ReactorAlreadyInstalledError reactor already installed")
    assert "AsyncioSelectorReactor was installed at <string>:6" in lines[1]
    assert "cannot also install" in lines[1]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("loopKind", sorted(LOOP_FACTORIES))
def test_signalStopsReactorOnEitherLoop(loopKind: str) -> None:
    if loopKind == "uvloop":
        pytest.importorskip("uvloop")
    module = "uvloop" if loopKind == "uvloop" else "asyncio"
    result = runPython(
        f"""
        import os, signal, {module}
        from torsion.internet import asyncioreactor
        asyncioreactor.install({module}.new_event_loop())
        from torsion.internet import reactor
        reactor.callWhenRunning(reactor.callLater, 0.05, os.kill, os.getpid(), signal.SIGINT)
        reactor.callLater(10, print, "not stopped")
        reactor.addSystemEventTrigger("after", "shutdown", print, "shut down")
        reactor.run()
        print("returned", signal.getsignal(signal.SIGINT) is signal.default_int_handler)
        """
    )
    assert result.stdout.splitlines() == ["shut down", "returned True"], result.stderr


@pytest.mark.parametrize("native", [True, False], ids=["loopTransports", "fdTransports"])
def test_noDescriptorsLeakAcrossManyReactors(
    loopFactory: Callable[[], asyncio.AbstractEventLoop], native: bool
) -> None:
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd to count descriptors")
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        made = AsyncioSelectorReactor(loopFactory(), native)
        port = made.listenTCP(0, Factory.forProtocol(Echo), interface="127.0.0.1")
        client = Collector()
        made.connectTCP("127.0.0.1", port.getHost().port, OneClient(client))
        runUntilFired(made, client.made)
        # Left open, with one more attempt under way: closing the reactor ends both.
        made.connectTCP("127.0.0.1", port.getHost().port, OneClient(Collector()))
        made.callLater(30, lambda: None)
        closeReactor(made)
    assert len(os.listdir("/proc/self/fd")) <= before
