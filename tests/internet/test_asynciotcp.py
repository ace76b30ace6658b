"""Tests for torsion.internet._asynciotcp: TCP on the asyncio loop's own transports.

The conformance suite (test_tcp.py and its neighbours) already runs on the asyncio
reactor with these transports, over asyncio's loop and uvloop's; these tests cover what
is particular to them: that the loop's transports really carry the bytes, flow control
driven by the loop's ``pause_writing``/``resume_writing``, what an abort can still drop,
``iterate`` returning as soon as the loop called into torsion, shutdown with attempts
under way, and the faults of the hand-over to the loop.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from zope.interface import implementer

from tests.internet.reactormixins import closeReactor, runUntil, runUntilFired
from tests.internet.test_tcp import (
    OneProtocolFactory,
    Recorder,
    connectedPair,
    listen,
    shrinkKernelBuffers,
)
from torsion.internet import error, tcp
from torsion.internet._asynciotcp import LoopClient, LoopPort, LoopServer
from torsion.internet.asyncioreactor import AsyncioSelectorReactor
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import IHalfCloseableProtocol, IPushProducer, IResolverSimple
from torsion.internet.protocol import Factory
from torsion.protocols.wire import Echo
from torsion.python import log


def newUvloop() -> asyncio.AbstractEventLoop:
    uvloop = pytest.importorskip("uvloop")
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": newUvloop,
}


@pytest.fixture(params=sorted(LOOPS))
def reactor(request: pytest.FixtureRequest) -> Iterator[AsyncioSelectorReactor]:
    """An asyncio reactor with TCP on the loop's transports, on each kind of loop."""
    made = AsyncioSelectorReactor(LOOPS[request.param]())
    try:
        yield made
    finally:
        closeReactor(made)


@pytest.fixture
def plainLoopReactor() -> Iterator[AsyncioSelectorReactor]:
    """One on asyncio's own loop, whose methods a test may replace."""
    made = AsyncioSelectorReactor(asyncio.new_event_loop())
    try:
        yield made
    finally:
        closeReactor(made)


@pytest.fixture
def loggedErrors() -> Iterator[list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []

    def observer(event: dict[str, Any]) -> None:
        if event.get("isError"):
            events.append(event)

    log.addObserver(observer)
    try:
        yield events
    finally:
        log.removeObserver(observer)


def openDescriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


# -- the transports are the loop's --------------------------------------------------------


def test_connectionsRunOnTheLoopsTransports(reactor: AsyncioSelectorReactor) -> None:
    client, server = connectedPair(reactor)
    assert isinstance(client.transport, LoopClient)
    assert isinstance(server.transport, LoopServer)
    loopModule = type(reactor._asyncioEventloop).__module__.split(".")[0]
    for transport in (client.transport, server.transport):
        # asyncio's selector transport, or uvloop's (which is no asyncio.Transport).
        assert type(transport._transport).__module__.split(".")[0] == loopModule
        assert transport._transport.get_protocol() is transport
    client.transport.write(b"through the loop")
    runUntil(reactor, lambda: server.data == b"through the loop")


def test_fdTransportsWhenAskedFor() -> None:
    made = AsyncioSelectorReactor(asyncio.new_event_loop(), nativeTransports=False)
    try:
        port = listen(made, Factory.forProtocol(Echo))
        assert type(port) is tcp.Port
        client = Recorder()
        made.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
        runUntilFired(made, client.made)
        assert type(client.transport) is tcp.Client
        client.transport.write(b"old path")
        runUntil(made, lambda: client.data == b"old path")
    finally:
        closeReactor(made)


def test_listenTCPGivesALoopPort(reactor: AsyncioSelectorReactor) -> None:
    port = listen(reactor, Factory.forProtocol(Echo))
    assert isinstance(port, LoopPort)
    assert repr(port) == f"<Factory on {port.getHost().port}>"


def test_iterateReturnsOnceTheLoopCalledIntoTorsion(reactor: AsyncioSelectorReactor) -> None:
    client, server = connectedPair(reactor)
    client.transport.write(b"x")
    started = time.monotonic()
    while server.data != b"x" and time.monotonic() - started < 5:
        reactor.iterate(3)
    assert server.data == b"x"
    # Each data_received ends the iteration; a missed one would take 3 seconds.
    assert time.monotonic() - started < 2.5


# -- flow control -------------------------------------------------------------------------


@implementer(IPushProducer)
class StallingProducer:
    """Writes 64 KiB chunks to ``transport`` on each tick until paused."""

    def __init__(self, reactor: Any, transport: Any) -> None:
        self.reactor = reactor
        self.transport = transport
        self.paused = False
        self.pauses = 0
        self.resumes = 0
        self.written = 0
        self.stopped = False

    def produce(self) -> None:
        while not self.paused and self.written < 64 * 1024 * 1024:
            self.transport.write(b"p" * 65536)
            self.written += 65536

    def pauseProducing(self) -> None:
        self.paused = True
        self.pauses += 1

    def resumeProducing(self) -> None:
        self.paused = False
        self.resumes += 1

    def stopProducing(self) -> None:
        self.stopped = True


def stalledPair(reactor: Any) -> tuple[Recorder, Recorder]:
    """A connected pair whose server does not read, with small kernel buffers between."""
    client, server = connectedPair(reactor)
    shrinkKernelBuffers(client, server)
    server.transport.pauseProducing()
    return client, server


def test_pushProducerPausedByAFullLoopBufferAndResumedWhenItDrains(
    reactor: AsyncioSelectorReactor,
) -> None:
    client, server = stalledPair(reactor)
    producer = StallingProducer(reactor, client.transport)
    client.transport.registerProducer(producer, True)
    producer.produce()
    assert producer.pauses == 1
    assert client.transport.bufferedSize() > client.transport.bufferSize
    for _ in range(5):
        reactor.iterate(0.01)
    assert producer.resumes == 0
    server.transport.resumeProducing()
    runUntil(reactor, lambda: producer.resumes == 1)
    assert client.transport.bufferedSize() <= client.transport.bufferSize
    runUntil(reactor, lambda: len(server.data) == producer.written, timeout=10)


def test_pushProducerRegisteredWhileBufferIsFullIsPausedAtOnce(
    reactor: AsyncioSelectorReactor,
) -> None:
    client, server = stalledPair(reactor)
    while client.transport.bufferedSize() <= client.transport.bufferSize:
        client.transport.write(b"f" * 65536)
    producer = StallingProducer(reactor, client.transport)
    client.transport.registerProducer(producer, True)
    assert producer.paused
    server.transport.resumeProducing()
    runUntil(reactor, lambda: producer.resumes == 1)


def test_pullProducerIsNotAskedWhileTheLoopBufferIsFull(
    reactor: AsyncioSelectorReactor,
) -> None:
    client, server = stalledPair(reactor)
    asked: list[int] = []
    total = 4 * 1024 * 1024

    class Pull:
        def resumeProducing(self) -> None:
            asked.append(1)
            if len(asked) * 1024 * 1024 > total:
                client.transport.unregisterProducer()
                client.transport.loseConnection()
            else:
                client.transport.write(b"q" * 1024 * 1024)

        def stopProducing(self) -> None:
            pass

    client.transport.registerProducer(Pull(), False)
    for _ in range(10):
        reactor.iterate(0.01)
    assert asked == [1]  # Its megabyte waits in the loop: no point asking for more.
    server.transport.resumeProducing()
    runUntilFired(reactor, server.lost, timeout=10)
    assert len(server.data) == total
    assert server.lostReasons[0].check(error.ConnectionDone)


def test_producerRaisingInPauseProducingDropsTheConnection(
    reactor: AsyncioSelectorReactor, loggedErrors: list[dict[str, Any]]
) -> None:
    client, _ = stalledPair(reactor)

    class Touchy(StallingProducer):
        def pauseProducing(self) -> None:
            raise ValueError("do not pause me")

    producer = Touchy(reactor, client.transport)
    client.transport.registerProducer(producer, True)
    for _ in range(64):
        client.transport.write(b"t" * 65536)
    runUntilFired(reactor, client.lost)
    assert client.lostReasons[0].check(ValueError)
    assert producer.stopped
    assert [e["failure"].check(ValueError) for e in loggedErrors] == [ValueError]
    assert loggedErrors[0]["system"] == "Recorder,client"


def test_abortDropsWhatTheLoopStillHolds(reactor: AsyncioSelectorReactor) -> None:
    client, server = stalledPair(reactor)
    payload = b"a" * (4 * 1024 * 1024)
    client.transport.write(payload)
    assert client.transport.bufferedSize() > 0
    client.transport.abortConnection()
    client.transport.write(b"too late")  # Ignored, not an error from the loop.
    runUntilFired(reactor, client.lost)
    assert client.lostReasons[0].check(error.ConnectionAborted)
    assert client.transport.bufferedSize() == 0
    server.transport.resumeProducing()
    runUntilFired(reactor, server.lost)
    assert 0 < len(server.data) < len(payload)


def test_writesAfterTheCloseBeganAreIgnored(reactor: AsyncioSelectorReactor) -> None:
    client, server = connectedPair(reactor)
    client.transport.write(b"kept")
    client.transport.loseConnection()
    client.transport.write(b"dropped")
    client.transport.writeSequence([b"also", b"dropped"])
    runUntilFired(reactor, server.lost)
    assert server.data == b"kept"
    assert server.lostReasons[0].check(error.ConnectionDone)


def test_writesAfterLoseWriteConnectionAreIgnored(reactor: AsyncioSelectorReactor) -> None:
    client, server = connectedPair(reactor)
    client.transport.write(b"before")
    client.transport.loseWriteConnection()
    client.transport.write(b"after")
    runUntilFired(reactor, server.lost)  # Recorder is not half-closeable: it closes.
    assert server.data == b"before"
    runUntilFired(reactor, client.lost)
    assert client.lostReasons[0].check(error.ConnectionDone)


# -- half-close ---------------------------------------------------------------------------


def test_writeConnectionLostRaisingIsLoggedAndAborts(
    reactor: AsyncioSelectorReactor, loggedErrors: list[dict[str, Any]]
) -> None:
    @implementer(IHalfCloseableProtocol)
    class Grumpy(Recorder):
        def readConnectionLost(self) -> None:
            pass

        def writeConnectionLost(self) -> None:
            raise OSError("not like this")

    port = listen(reactor, Factory.forProtocol(Echo))
    client = Grumpy()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    client.transport.loseWriteConnection()
    runUntilFired(reactor, client.lost)
    assert client.lostReasons[0].check(OSError)
    assert [e["failure"].check(OSError) for e in loggedErrors] == [OSError]
    assert loggedErrors[0]["system"] == "Grumpy,client"


def test_halfCloseByBothSidesEndsInConnectionDone(reactor: AsyncioSelectorReactor) -> None:
    @implementer(IHalfCloseableProtocol)
    class Patient(Recorder):
        def __init__(self) -> None:
            super().__init__()
            self.readLost = False

        def readConnectionLost(self) -> None:
            self.readLost = True

        def writeConnectionLost(self) -> None:
            pass

    servers: list[Patient] = []

    class Built(Factory):
        def buildProtocol(self, addr: Any) -> Patient:
            servers.append(Patient())
            return servers[-1]

    port = listen(reactor, Built())
    client = Patient()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    runUntil(reactor, lambda: servers and servers[0].made.called)
    client.transport.loseWriteConnection()  # The server's read side ends first...
    runUntil(reactor, lambda: servers[0].readLost)
    servers[0].transport.write(b"last")
    servers[0].transport.loseWriteConnection()  # ...then the server's write side.
    runUntilFired(reactor, servers[0].lost)
    runUntilFired(reactor, client.lost)
    assert client.data == b"last" and client.readLost
    assert servers[0].lostReasons[0].check(error.ConnectionDone)
    assert client.lostReasons[0].check(error.ConnectionDone)


# -- attempts and shutdown ----------------------------------------------------------------


@implementer(IResolverSimple)
class SilentResolver:
    def getHostByName(self, name: str, timeout: Any = ()) -> Deferred[str]:
        return Deferred()


def test_shutdownGivesUpAttemptsUnderWay(reactor: AsyncioSelectorReactor) -> None:
    reactor.installResolver(SilentResolver())
    waiting = OneProtocolFactory(Recorder())
    reactor.connectTCP("never.invalid", 80, waiting)
    client, server = connectedPair(reactor)
    reactor.disconnectAll()
    assert waiting.failReason.check(error.ConnectError)
    assert "shut down" in str(waiting.failReason.value)
    runUntilFired(reactor, client.lost)
    assert client.lostReasons[0].check(error.ConnectionLost)
    runUntilFired(reactor, server.lost)
    assert reactor._loopConnections == set()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_stopConnectingAtAnyStepOfTheHandOverLeaksNothing(
    reactor: AsyncioSelectorReactor,
) -> None:
    port = listen(reactor, Factory.forProtocol(Echo))
    warm = Recorder()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(warm))
    runUntilFired(reactor, warm.made)
    before = openDescriptors()
    stopped = []
    for steps in range(30):
        factory = OneProtocolFactory(Recorder())
        connector = reactor.connectTCP("127.0.0.1", port.getHost().port, factory)
        for _ in range(steps % 4):  # Let the loop get that far into connecting.
            reactor.iterate(0)
        if connector.state == "connecting":
            connector.stopConnecting()
            stopped.append(factory)
        else:
            connector.disconnect()
    assert stopped  # Some were stopped while the loop was still connecting.
    for factory in stopped:
        runUntilFired(reactor, factory.failed)
        assert factory.failReason.check(error.UserError)
        assert not factory.instance.made.called  # type: ignore[attr-defined]
    runUntil(reactor, lambda: len(reactor._loopConnections) == 2)  # warm and its server.
    for _ in range(5):
        reactor.iterate(0.01)
    assert openDescriptors() <= before


def test_refusedConnectionNamesTheCause(reactor: AsyncioSelectorReactor) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        number = probe.getsockname()[1]
    factory = OneProtocolFactory(Recorder())
    reactor.connectTCP("127.0.0.1", number, factory)
    runUntilFired(reactor, factory.failed)
    assert factory.failReason.check(error.ConnectionRefusedError)
    assert "Connect call failed" not in str(factory.failReason.value)


def test_loopFailingToConnectIsAConnectError(plainLoopReactor: AsyncioSelectorReactor) -> None:
    async def broken(sock: socket.socket, address: Any) -> None:
        raise RuntimeError("this loop cannot connect")

    plainLoopReactor._asyncioEventloop.sock_connect = broken  # type: ignore[method-assign]
    factory = OneProtocolFactory(Recorder())
    plainLoopReactor.connectTCP("127.0.0.1", 9, factory)
    runUntilFired(plainLoopReactor, factory.failed)
    assert factory.failReason.check(error.ConnectError)
    assert "this loop cannot connect" in str(factory.failReason.value)


def test_loopRefusingAnAcceptedSocketIsLoggedAndThePortGoesOn(
    plainLoopReactor: AsyncioSelectorReactor, loggedErrors: list[dict[str, Any]]
) -> None:
    loop = plainLoopReactor._asyncioEventloop
    realHandOver = loop.connect_accepted_socket
    refusals: list[int] = []

    async def refuseOnce(factory: Any, sock: socket.socket) -> Any:
        if not refusals:
            refusals.append(1)
            raise OSError("no room for it")
        return await realHandOver(factory, sock)

    loop.connect_accepted_socket = refuseOnce  # type: ignore[method-assign]
    port = listen(plainLoopReactor, Factory.forProtocol(Echo))
    with socket.create_connection(("127.0.0.1", port.getHost().port), timeout=5) as refused:
        refused.setblocking(False)

        def closed() -> bool:
            try:
                return refused.recv(10) == b""
            except BlockingIOError:
                return False

        runUntil(plainLoopReactor, closed)
    assert [e["failure"].check(OSError) for e in loggedErrors] == [OSError]
    assert "could not take the connection" in loggedErrors[0]["why"]
    client = Recorder()
    plainLoopReactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(plainLoopReactor, client.made)
    client.transport.write(b"fine")
    runUntil(plainLoopReactor, lambda: client.data == b"fine")


def test_attemptWhoseTaskSomeoneElseCancelsFails(
    plainLoopReactor: AsyncioSelectorReactor,
) -> None:
    # asyncio.run() cancels every task left when its coroutine ends, ours among them.
    port = listen(plainLoopReactor, Factory.forProtocol(Echo))
    factory = OneProtocolFactory(Recorder())
    plainLoopReactor.connectTCP("127.0.0.1", port.getHost().port, factory)
    loop = plainLoopReactor._asyncioEventloop
    [task] = asyncio.all_tasks(loop)
    task.cancel()
    runUntilFired(plainLoopReactor, factory.failed)
    assert factory.failReason.check(error.ConnectError)
    assert plainLoopReactor._loopConnections == set()


@pytest.mark.parametrize("how", ["loseConnection", "abortConnection", "raise"])
def test_clientClosedFromConnectionMadeLeavesNoDescriptorBehind(
    reactor: AsyncioSelectorReactor, loggedErrors: list[dict[str, Any]], how: str
) -> None:
    # A socket object still holding a descriptor number after the loop closed it
    # would close that number again when collected, whatever it belongs to by then.
    class Brief(Recorder):
        def connectionMade(self) -> None:
            super().connectionMade()
            if how == "raise":
                raise RuntimeError("not staying")
            getattr(self.transport, how)()

    port = listen(reactor, Factory.forProtocol(Echo))
    client = Brief()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    runUntilFired(reactor, client.lost)
    runUntil(reactor, lambda: client.transport.getHandle().fileno() == -1)
    assert len(loggedErrors) == (how == "raise")


class Talker(Recorder):
    """Logs what it receives, and from a task it starts, so tests can see the system."""

    def __init__(self) -> None:
        super().__init__()
        self.tasks: list[asyncio.Future[None]] = []

    def dataReceived(self, data: bytes) -> None:
        super().dataReceived(data)
        log.msg("got", data)

        async def later() -> None:
            log.msg("task for", data)

        self.tasks.append(asyncio.ensure_future(later()))


def systemsOf(events: list[dict[str, Any]], word: str) -> list[str]:
    return [e["system"] for e in events if word in " ".join(map(str, e.get("message", ())))]


def test_logPrefixHoldsWhenReadingResumesFromElsewhere(reactor: AsyncioSelectorReactor) -> None:
    # asyncio's loop makes its read callback anew, in the caller's context, when reading
    # resumes: here a timed call's. What the protocol logs must still carry its prefix.
    events: list[dict[str, Any]] = []
    log.addObserver(events.append)
    try:
        servers: list[Talker] = []

        class Built(Factory):
            def buildProtocol(self, addr: Any) -> Talker:
                servers.append(Talker())
                return servers[-1]

        port = listen(reactor, Built())
        client = Recorder()
        reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
        runUntilFired(reactor, client.made)
        runUntil(reactor, lambda: servers and servers[0].made.called)
        server = servers[0]
        client.transport.write(b"one")
        runUntil(reactor, lambda: len(systemsOf(events, "task for")) == 1)
        server.transport.pauseProducing()
        reactor.callLater(0, server.transport.resumeProducing)
        runUntil(reactor, lambda: not reactor.getDelayedCalls())
        client.transport.write(b"two")
        runUntil(reactor, lambda: len(systemsOf(events, "task for")) == 2)
    finally:
        log.removeObserver(events.append)
    prefix = "Talker,0,127.0.0.1"
    assert systemsOf(events, "got") == [prefix, prefix]
    assert systemsOf(events, "task for") == [prefix, prefix]


def test_handOverCancelledAfterConnectionMadeStillEndsTheConnectionOnce(
    reactor: AsyncioSelectorReactor,
) -> None:
    class Cancelling(Recorder):
        def connectionMade(self) -> None:
            super().connectionMade()
            self.transport._task.cancel()  # What asyncio.run's clean-up would do.

    port = listen(reactor, Factory.forProtocol(Echo))
    client = Cancelling()
    factory = OneProtocolFactory(client)
    reactor.connectTCP("127.0.0.1", port.getHost().port, factory)
    runUntilFired(reactor, client.lost)
    # asyncio's loop reports the close it makes; uvloop's reports nothing, and torsion
    # steps in.
    assert client.lostReasons[0].check(error.ConnectionDone, error.ConnectionLost)
    runUntil(reactor, lambda: client.transport.getHandle().fileno() == -1)
    for _ in range(3):
        reactor.iterate(0.01)
    assert len(client.lostReasons) == 1
    assert len(factory.lostConnection) == 1


def test_clientFactoryBuildProtocolRaisingClosesAndTellsTheFactory(
    reactor: AsyncioSelectorReactor, loggedErrors: list[dict[str, Any]]
) -> None:
    class Broken(OneProtocolFactory):
        def buildProtocol(self, addr: Any) -> Recorder:
            raise LookupError("no protocol for you")

    servers: list[Recorder] = []

    class Built(Factory):
        def buildProtocol(self, addr: Any) -> Recorder:
            servers.append(Recorder())
            return servers[-1]

    port = listen(reactor, Built())
    factory = Broken(Recorder())
    reactor.connectTCP("127.0.0.1", port.getHost().port, factory)
    runUntil(reactor, lambda: factory.lostConnection)
    assert factory.lostConnection[0].check(LookupError)
    assert [e["failure"].check(LookupError) for e in loggedErrors] == [LookupError]
    assert "Broken.buildProtocol" in loggedErrors[0]["why"]
    runUntil(reactor, lambda: servers and servers[0].lost.called)
