"""Tests for torsion.protocols.loopback: in-memory connections, IOPump, loopbackTCP.

The in-memory tests need no reactor (a task.Clock stands in for one where later
writes are involved); loopbackTCP runs on every reactor of the conformance suite.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from zope.interface import implementer
from zope.interface.verify import verifyObject

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntilFired
from torsion.internet import error, testing
from torsion.internet.address import IPv4Address
from torsion.internet.interfaces import IHalfCloseableProtocol, IPushProducer, ITCPTransport
from torsion.internet.protocol import Protocol
from torsion.internet.task import Clock
from torsion.protocols.basic import LineReceiver
from torsion.protocols.loopback import (
    IOPump,
    LoopbackTransport,
    collapsingPumpPolicy,
    connectedServerAndClient,
    identityPumpPolicy,
    loopbackAsync,
    loopbackTCP,
    loopbackUNIX,
)
from torsion.python.failure import Failure

reactor = reactormixins.reactor


class Recorder(Protocol):
    """Keeps each dataReceived call and the reason of its loss."""

    def __init__(self, greeting: bytes = b"", closeAfter: int = 0) -> None:
        self.greeting = greeting
        self.closeAfter = closeAfter
        self.chunks: list[bytes] = []
        self.reasons: list[Failure] = []

    def connectionMade(self) -> None:
        if self.greeting:
            self.transport.write(self.greeting)

    def dataReceived(self, data: bytes) -> None:
        self.chunks.append(data)
        if self.closeAfter and len(b"".join(self.chunks)) >= self.closeAfter:
            self.transport.loseConnection()

    def connectionLost(self, reason: Any = None) -> None:
        self.reasons.append(reason)

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


class Echo(Recorder):
    def dataReceived(self, data: bytes) -> None:
        super().dataReceived(data)
        self.transport.write(data)


def fired(d: Any) -> list[Any]:
    results: list[Any] = []
    d.addBoth(results.append)
    return results


# -- loopbackAsync ----------------------------------------------------------------------


def test_conversationDoneAtOnceFinishesWithoutAReactor() -> None:
    server = Echo()
    client = Recorder(b"hello", closeAfter=5)
    results = fired(loopbackAsync(server, client))
    assert results == [None]
    assert server.data == client.data == b"hello"
    assert [r.check(error.ConnectionDone) for r in server.reasons + client.reasons] == [
        error.ConnectionDone,
        error.ConnectionDone,
    ]


def test_identityPolicyKeepsWritesApartAndCollapsingJoinsThem() -> None:
    class Burst(Recorder):
        def connectionMade(self) -> None:
            for chunk in (b"a", b"b", b"c"):
                self.transport.write(chunk)
            self.transport.loseConnection()

    kept, joined = Recorder(), Recorder()
    loopbackAsync(kept, Burst(), identityPumpPolicy)
    loopbackAsync(joined, Burst(), pumpPolicy=collapsingPumpPolicy)
    assert kept.chunks == [b"a", b"b", b"c"]
    assert joined.chunks == [b"abc"]


def test_laterWritesArriveOnTheNextTurnNotInsideWrite() -> None:
    clock = Clock()
    server = Recorder()
    client = Recorder()
    results = fired(loopbackAsync(server, client, clock=clock))

    def later() -> None:
        client.transport.write(b"later")
        assert server.chunks == []  # Not delivered inside write().
        client.transport.loseConnection()

    clock.callLater(1, later)
    clock.advance(1)
    assert server.chunks == [b"later"]
    assert results == [None]


def test_writesAfterClosingAreDropped() -> None:
    class Closer(Recorder):
        def connectionMade(self) -> None:
            self.transport.write(b"kept")
            self.transport.loseConnection()
            self.transport.write(b"dropped")

    server = Recorder()
    loopbackAsync(server, Closer())
    assert server.data == b"kept"


def test_abortDropsWhatWasNotDeliveredAndSaysWhoAborted() -> None:
    class Aborter(Recorder):
        def connectionMade(self) -> None:
            self.transport.write(b"never seen")
            self.transport.abortConnection()

    server, client = Recorder(), Aborter()
    results = fired(loopbackAsync(server, client))
    assert results == [None]
    assert server.data == b""
    assert client.reasons[0].check(error.ConnectionAborted)
    assert server.reasons[0].check(error.ConnectionLost)
    assert not server.reasons[0].check(error.ConnectionAborted)


def test_abortIsNotHeldUpByAPausedPeer() -> None:
    clock = Clock()
    server, client = Recorder(), Recorder()
    results = fired(loopbackAsync(server, client, clock=clock))
    server.transport.pauseProducing()
    client.transport.write(b"waits")
    client.transport.abortConnection()
    clock.advance(0)
    assert results == [None]
    assert server.data == b""


@implementer(IHalfCloseableProtocol)
class HalfCloser(Recorder):
    """Answers "done" once the other side has half-closed, then closes."""

    def __init__(self, greeting: bytes = b"") -> None:
        super().__init__(greeting)
        self.events: list[str] = []

    def readConnectionLost(self) -> None:
        self.events.append("read lost")
        self.transport.write(b"done")
        self.transport.loseConnection()

    def writeConnectionLost(self) -> None:
        self.events.append("write lost")


def test_halfCloseLetsAHalfCloseablePeerAnswer() -> None:
    @implementer(IHalfCloseableProtocol)
    class Asker(HalfCloser):
        def connectionMade(self) -> None:
            self.transport.write(b"question")
            self.transport.loseWriteConnection()
            self.transport.write(b"dropped after the half-close")

        def readConnectionLost(self) -> None:
            self.events.append("read lost")

    server, client = HalfCloser(), Asker()
    results = fired(loopbackAsync(server, client))
    assert results == [None]
    assert server.data == b"question"
    assert client.data == b"done"
    assert server.events == ["read lost"]
    assert client.events == ["write lost"]
    assert server.reasons[0].check(error.ConnectionDone)
    assert client.reasons[0].check(error.ConnectionDone)


def test_halfCloseToAPlainProtocolClosesTheConnection() -> None:
    class Asker(Recorder):
        def connectionMade(self) -> None:
            self.transport.write(b"bye")
            self.transport.loseWriteConnection()

    server, client = Recorder(), Asker()
    assert fired(loopbackAsync(server, client)) == [None]
    assert server.data == b"bye"
    assert len(server.reasons) == len(client.reasons) == 1


def test_bothSidesHalfClosingEndsTheConnection() -> None:
    @implementer(IHalfCloseableProtocol)
    class Quiet(Recorder):
        def connectionMade(self) -> None:
            self.transport.loseWriteConnection()

        def readConnectionLost(self) -> None:
            pass

        def writeConnectionLost(self) -> None:
            pass

    server, client = Quiet(), Quiet()
    assert fired(loopbackAsync(server, client)) == [None]
    assert len(server.reasons) == len(client.reasons) == 1


def test_pausedReadingHoldsDataUntilResumed() -> None:
    clock = Clock()
    server, client = Recorder(), Recorder()
    loopbackAsync(server, client, clock=clock)
    server.transport.pauseProducing()
    client.transport.write(b"held")
    clock.advance(0)
    assert server.chunks == []
    server.transport.resumeProducing()
    clock.advance(0)
    assert server.chunks == [b"held"]


def test_streamingProducerIsPausedWhenFullAndResumedWhenDrained() -> None:
    clock = Clock()
    server, client = Recorder(), Recorder()
    loopbackAsync(server, client, clock=clock)

    @implementer(IPushProducer)
    class Producer:
        def __init__(self) -> None:
            self.events: list[str] = []

        def pauseProducing(self) -> None:
            self.events.append("pause")

        def resumeProducing(self) -> None:
            self.events.append("resume")

        def stopProducing(self) -> None:
            self.events.append("stop")

    producer = Producer()
    transport = client.transport
    transport.registerProducer(producer, True)
    with pytest.raises(RuntimeError, match="unregister"):
        transport.registerProducer(Producer(), True)
    transport.write(b"x" * LoopbackTransport.bufferSize)
    assert producer.events == []
    transport.write(b"y")
    assert producer.events == ["pause"]
    clock.advance(0)
    assert producer.events == ["pause", "resume"]
    assert len(server.data) == LoopbackTransport.bufferSize + 1
    transport.loseConnection()
    clock.advance(0)
    assert producer.events == ["pause", "resume", "stop"]


def test_pullProducerIsAskedForMoreUntilItStops() -> None:
    server = Recorder()

    class Pulling(Recorder):
        def connectionMade(self) -> None:
            self.left = 3
            self.transport.registerProducer(self, False)

        def resumeProducing(self) -> None:
            self.transport.write(b"%d" % self.left)
            self.left -= 1
            if not self.left:
                self.transport.unregisterProducer()
                self.transport.loseConnection()

        def stopProducing(self) -> None:
            pass

    assert fired(loopbackAsync(server, Pulling())) == [None]
    assert server.chunks == [b"3", b"2", b"1"]


def test_aProtocolRaisingFailsTheDeferredAndClosesBothSides() -> None:
    class Exploding(Recorder):
        def dataReceived(self, data: bytes) -> None:
            raise ValueError("cannot take it")

    server, client = Exploding(), Recorder(b"hi")
    results = fired(loopbackAsync(server, client))
    assert len(results) == 1
    assert results[0].check(ValueError)
    assert server.reasons[0].check(ValueError)
    assert client.reasons[0].check(ValueError)


def test_protocolsThatAnswerEachOtherForeverDoNotHangTheLoop() -> None:
    clock = Clock()
    server, client = Echo(), Echo(b"ping")
    results = fired(loopbackAsync(server, client, clock=clock))
    # loopbackAsync returned: the loop got control back, with more to do next turn.
    assert results == []
    assert len(clock.getDelayedCalls()) == 1
    assert 50 <= len(server.chunks) <= 100
    client.transport.abortConnection()
    clock.advance(0)
    assert results == [None]


def test_textIsRefusedWithAHint() -> None:
    server, client = Recorder(), Recorder()
    loopbackAsync(server, client, clock=Clock())
    with pytest.raises(TypeError, match="encode"):
        client.transport.write("text")
    with pytest.raises(TypeError, match="encode"):
        client.transport.writeSequence([b"ok", "text"])


def test_transportsLookLikeTCPOnes() -> None:
    server, client = Recorder(), Recorder()
    loopbackAsync(server, client, clock=Clock())
    transport = client.transport
    assert verifyObject(ITCPTransport, transport)
    assert verifyObject(IPushProducer, transport)
    assert (
        transport.getHost() == server.transport.getPeer() == IPv4Address("TCP", "127.0.0.1", 54321)
    )
    assert (
        transport.getPeer() == server.transport.getHost() == IPv4Address("TCP", "127.0.0.1", 8080)
    )
    transport.setTcpNoDelay(True)
    transport.setTcpKeepAlive(True)
    assert transport.getTcpNoDelay() and transport.getTcpKeepAlive()
    assert repr(transport) == "<LoopbackTransport of Recorder>"


def test_lineProtocolsTalk() -> None:
    class Lines(LineReceiver):
        def __init__(self) -> None:
            self.lines: list[bytes] = []

        def lineReceived(self, line: bytes) -> None:
            self.lines.append(line)
            if line == b"quit":
                self.transport.loseConnection()
            else:
                self.sendLine(line.upper())

    class Talker(Lines):
        def connectionMade(self) -> None:
            self.sendLine(b"one")
            self.sendLine(b"two")

        def lineReceived(self, line: bytes) -> None:
            self.lines.append(line)
            if len(self.lines) == 2:
                self.sendLine(b"quit")

    server, client = Lines(), Talker()
    assert fired(loopbackAsync(server, client, collapsingPumpPolicy)) == [None]
    assert server.lines == [b"one", b"two", b"quit"]
    assert client.lines == [b"ONE", b"TWO"]


# -- IOPump and connectedServerAndClient -------------------------------------------------


def test_connectedServerAndClientGreetsAndPumpsOnlyWhenTold() -> None:
    client, server, pump = connectedServerAndClient(Echo, lambda: Recorder(b"hi"))
    assert server.chunks == [b"hi"] and client.chunks == [b"hi"]
    client.transport.write(b"more")
    assert server.chunks == [b"hi"]
    assert pump.pump() is True
    assert server.chunks == [b"hi", b"more"]
    assert pump.flush() is True
    assert client.chunks == [b"hi", b"more"]
    assert pump.flush() is False


def test_withoutGreetingNothingMovesUntilFlushed() -> None:
    _, server, pump = connectedServerAndClient(Recorder, lambda: Recorder(b"hi"), greet=False)
    assert server.chunks == []
    pump.flush()
    assert server.chunks == [b"hi"]


def test_pumpAdvancesTheClockAndFlushDeliversTheClose() -> None:
    clock = Clock()
    client, server, pump = connectedServerAndClient(Recorder, Recorder, clock=clock)
    clock.callLater(0, client.transport.write, b"due now")
    pump.pump()
    assert server.chunks == [b"due now"]
    server.transport.loseConnection()
    pump.flush()
    assert server.reasons and client.reasons
    assert pump.pump() is False


def test_flushGivesUpOnProtocolsThatNeverStop() -> None:
    *_, pump = connectedServerAndClient(Echo, lambda: Echo(b"x"), greet=False)
    with pytest.raises(RuntimeError, match="1000 pumps"):
        pump.flush()


def test_debugPrintsWhatMoves(capsys: pytest.CaptureFixture[str]) -> None:
    *_, pump = connectedServerAndClient(Recorder, lambda: Recorder(b"hi"), greet=False)
    pump.flush(debug=True)
    assert "client -> server: b'hi'" in capsys.readouterr().out


def test_ioPumpOverTransportsMadeByHand() -> None:
    server, client = Recorder(), Recorder(b"hand made")
    address = IPv4Address("TCP", "10.0.0.1", 25)
    serverIO = LoopbackTransport(server, address, IPv4Address("TCP", "10.0.0.2", 4000))
    clientIO = LoopbackTransport(client, IPv4Address("TCP", "10.0.0.2", 4000), address)
    server.makeConnection(serverIO)
    client.makeConnection(clientIO)
    pump = IOPump(client, server, clientIO, serverIO)
    pump.flush()
    assert server.chunks == [b"hand made"]
    assert server.transport.getHost() == address


def test_testingModuleOffersTheSameHelpers() -> None:
    assert testing.IOPump is IOPump
    assert testing.connectedServerAndClient is connectedServerAndClient


# -- loopbackTCP -------------------------------------------------------------------------


def test_loopbackTCPRunsTheConversationOverRealTCP(reactor: Any) -> None:
    server = Echo()
    client = Recorder(b"over tcp", closeAfter=8)
    d = loopbackTCP(server, client, noisy=False, reactor=reactor)
    assert runUntilFired(reactor, d) is None
    assert server.data == client.data == b"over tcp"
    # The real transports, not loopback ones.
    assert server.transport.getPeer().port == client.transport.getHost().port
    assert not any(getattr(s, "connected", False) for s in reactor.getReaders())


def test_loopbackTCPKeepsTheServersLogPrefixAndHalfClose(reactor: Any) -> None:
    @implementer(IHalfCloseableProtocol)
    class Asker(HalfCloser):
        def connectionMade(self) -> None:
            self.transport.write(b"q")
            self.transport.loseWriteConnection()

        def readConnectionLost(self) -> None:
            self.events.append("read lost")

    server, client = HalfCloser(), Asker()
    runUntilFired(reactor, loopbackTCP(server, client, noisy=False, reactor=reactor))
    assert server.events == ["read lost"]
    assert client.data == b"done"


def test_loopbackUNIXRunsTheConversationOverAUNIXSocket(reactor: Any) -> None:
    server = Echo()
    client = Recorder(b"over unix", closeAfter=9)
    d = loopbackUNIX(server, client, noisy=False, reactor=reactor)
    assert runUntilFired(reactor, d) is None
    path = client.transport.getPeer().name
    assert server.data == client.data == b"over unix"
    assert path.endswith("loopback.sock")
    assert not os.path.exists(os.path.dirname(path))  # Cleaned up.
