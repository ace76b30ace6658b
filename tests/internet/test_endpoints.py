"""Tests for torsion.internet.endpoints.

The TCP endpoint tests are part of the reactor conformance suite (they take the
``reactor`` fixture and use real connections on 127.0.0.1). HostnameEndpoint's race
between addresses is tested deterministically, on a MemoryReactorClock with scripted
lookups and attempts; one test resolves "localhost" for real.
"""

from __future__ import annotations

import os
import socket
from typing import Any

import pytest
from zope.interface import implementer
from zope.interface.verify import verifyObject

from tests.internet import reactormixins, test_unix
from tests.internet.reactormixins import runUntil, runUntilFired
from tests.internet.test_tcp import Recorder, listen, serverFactory
from torsion.internet import endpoints, error
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import (
    IFileDescriptorReceiver,
    IHalfCloseableProtocol,
    IStreamClientEndpoint,
    IStreamServerEndpoint,
)
from torsion.internet.protocol import Factory, Protocol
from torsion.internet.testing import MemoryReactorClock
from torsion.python.failure import Failure

reactor = reactormixins.reactor
sockdir = test_unix.sockdir


def failureOf(d: Deferred[Any]) -> Failure:
    results: list[Any] = []
    d.addBoth(results.append)
    assert results and isinstance(results[0], Failure), results
    failure: Failure = results[0]
    return failure


def resultOf(d: Deferred[Any]) -> Any:
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, f"{d!r} has not fired"
    if isinstance(results[0], Failure):
        results[0].raiseException()
    return results[0]


def hasIPv6Loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


# -- TCP, on every reactor -----------------------------------------------------------------


def test_endpointsProvideTheirInterfaces(reactor: Any) -> None:
    verifyObject(IStreamServerEndpoint, endpoints.TCP4ServerEndpoint(reactor, 0))
    verifyObject(IStreamClientEndpoint, endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", 1))
    verifyObject(IStreamClientEndpoint, endpoints.HostnameEndpoint(reactor, "localhost", 1))


def test_serverListensAndClientConnectsAfterConnectionMade(reactor: Any) -> None:
    servers: list[Recorder] = []
    server = endpoints.TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1")
    port = runUntilFired(reactor, server.listen(serverFactory(servers)))
    client = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)
    protocol = runUntilFired(reactor, client.connect(Factory.forProtocol(Recorder)))
    assert isinstance(protocol, Recorder)
    assert protocol.made.called  # connectionMade ran before the Deferred fired.
    protocol.transport.write(b"over an endpoint")
    runUntil(reactor, lambda: servers and servers[0].data == b"over an endpoint")
    servers[0].transport.write(b"and back")
    runUntil(reactor, lambda: protocol.data == b"and back")
    protocol.transport.loseConnection()
    runUntilFired(reactor, protocol.lost)
    runUntilFired(reactor, port.stopListening())


def test_listenOnABusyPortFailsTheDeferred(reactor: Any) -> None:
    taken = listen(reactor, Factory.forProtocol(Protocol))
    server = endpoints.TCP4ServerEndpoint(reactor, taken.getHost().port, interface="127.0.0.1")
    failure = failureOf(server.listen(Factory.forProtocol(Protocol)))
    assert failure.check(error.CannotListenError)


def test_refusedConnectionFailsTheDeferred(reactor: Any) -> None:
    closed = listen(reactor, Factory.forProtocol(Protocol))
    number = closed.getHost().port
    runUntilFired(reactor, closed.stopListening())
    client = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", number)
    with pytest.raises(error.ConnectionRefusedError):
        runUntilFired(reactor, client.connect(Factory.forProtocol(Protocol)))


def test_factoryRefusingToBuildFailsTheDeferred(reactor: Any) -> None:
    port = listen(reactor, Factory.forProtocol(Protocol))
    refusing = Factory.forProtocol(Protocol)
    refusing.buildProtocol = lambda addr: None  # type: ignore[method-assign]
    client = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)
    with pytest.raises(error.NoProtocol, match="returned None"):
        runUntilFired(reactor, client.connect(refusing))


class Exploding(Protocol):
    def connectionMade(self) -> None:
        raise ZeroDivisionError("in connectionMade")


def test_connectionMadeRaisingFailsTheDeferred(
    reactor: Any, loggedErrors: list[dict[str, Any]]
) -> None:
    port = listen(reactor, Factory.forProtocol(Protocol))
    client = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)
    with pytest.raises(ZeroDivisionError):
        runUntilFired(reactor, client.connect(Factory.forProtocol(Exploding)))
    runUntil(reactor, lambda: loggedErrors)  # The transport logs it and drops the connection.


loggedErrors = reactormixins.loggedErrors


@implementer(IHalfCloseableProtocol)
class HalfCloser(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.readLost = False

    def readConnectionLost(self) -> None:
        self.readLost = True
        self.transport.write(b"still here")
        self.transport.loseConnection()

    def writeConnectionLost(self) -> None:
        pass


def test_wrappedProtocolKeepsItsInterfaces(reactor: Any) -> None:
    servers: list[Recorder] = []
    port = listen(reactor, serverFactory(servers))
    client = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)
    protocol = runUntilFired(reactor, client.connect(Factory.forProtocol(HalfCloser)))
    runUntil(reactor, lambda: servers)
    servers[0].transport.loseWriteConnection()
    runUntil(reactor, lambda: protocol.readLost)
    runUntil(reactor, lambda: servers[0].data == b"still here")


def test_connectProtocolUsesTheGivenInstance(reactor: Any) -> None:
    port = listen(reactor, Factory.forProtocol(Protocol))
    mine = Recorder()
    client = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)
    assert runUntilFired(reactor, endpoints.connectProtocol(client, mine)) is mine
    assert mine.made.called


@pytest.mark.skipif(not hasIPv6Loopback(), reason="this machine has no IPv6 loopback")
def test_tcp6EndpointsOnIPv6Loopback(reactor: Any) -> None:
    servers: list[Recorder] = []
    port = runUntilFired(
        reactor,
        endpoints.TCP6ServerEndpoint(reactor, 0, interface="::1").listen(serverFactory(servers)),
    )
    assert port.getHost().host == "::1"
    client = endpoints.TCP6ClientEndpoint(reactor, "::1", port.getHost().port)
    protocol = runUntilFired(reactor, client.connect(Factory.forProtocol(Recorder)))
    assert protocol.transport.getPeer().host == "::1"


def test_hostnameEndpointConnectsToLocalhost(reactor: Any) -> None:
    reactor.getThreadPool().start()
    port = listen(reactor, Factory.forProtocol(Protocol))
    client = endpoints.HostnameEndpoint(reactor, b"localhost", port.getHost().port)
    protocol = runUntilFired(reactor, client.connect(Factory.forProtocol(Recorder)), timeout=10)
    assert protocol.transport.getPeer().host == "127.0.0.1"


def test_hostnameEndpointTakesAnAddressWithoutLookingItUp(reactor: Any) -> None:
    port = listen(reactor, Factory.forProtocol(Protocol))
    client = endpoints.HostnameEndpoint(reactor, "127.0.0.1", port.getHost().port)
    assert repr(client) == f"HostnameEndpoint(127.0.0.1:{port.getHost().port})"
    lookup = client._resolve()
    assert resultOf(lookup) == ["127.0.0.1"]  # Fired at once: no thread was involved.
    runUntilFired(reactor, client.connect(Factory.forProtocol(Recorder)))


# -- client attempts and cancellation, in memory -------------------------------------------


def test_cancellingAnAttemptStopsConnecting() -> None:
    memory = MemoryReactorClock()
    client = endpoints.TCP4ClientEndpoint(memory, "192.0.2.1", 80)
    attempt = client.connect(Factory.forProtocol(Protocol))
    attempt.cancel()
    failure = failureOf(attempt)
    assert failure.check(error.ConnectingCancelledError)
    assert memory.connectors[0].stoppedConnecting
    assert failure.value.address == memory.connectors[0].getDestination()


def test_failedAttemptReportsTheFactorysReason() -> None:
    memory = MemoryReactorClock()
    attempt = endpoints.TCP4ClientEndpoint(memory, "192.0.2.1", 80).connect(
        Factory.forProtocol(Protocol)
    )
    factory = memory.tcpClients[0][2]
    factory.clientConnectionFailed(memory.connectors[0], Failure(error.TCPTimedOutError()))
    assert failureOf(attempt).check(error.TCPTimedOutError)


def test_reactorRefusingAtOnceFailsTheDeferred() -> None:
    memory = MemoryReactorClock()
    memory.connectTCP = lambda *a, **k: 1 / 0  # type: ignore[assignment, method-assign]
    attempt = endpoints.TCP4ClientEndpoint(memory, "192.0.2.1", 80).connect(
        Factory.forProtocol(Protocol)
    )
    assert failureOf(attempt).check(ZeroDivisionError)


# -- HostnameEndpoint's race, deterministic ---------------------------------------------


class ScriptedHostname(endpoints.HostnameEndpoint):
    """A HostnameEndpoint whose lookup and attempts the test fires by hand."""

    def __init__(self, memory: MemoryReactorClock, **kw: Any) -> None:
        super().__init__(memory, "example.test", 443, **kw)
        self.lookup: Deferred[list[str]] = Deferred()
        self.attempts: dict[str, Deferred[Any]] = {}
        self.cancelled: list[str] = []

    def _resolve(self) -> Deferred[list[str]]:
        return self.lookup

    def _attempt(self, address: str, protocolFactory: Any) -> Deferred[Any]:
        attempt: Deferred[Any] = Deferred(lambda d: self.cancelled.append(address))
        self.attempts[address] = attempt
        return attempt


class FakeConnected:
    """What a won attempt fires with."""


def test_interleaveAlternatesFamiliesInTheSystemsOrder() -> None:
    endpoint = endpoints.HostnameEndpoint(MemoryReactorClock(), "example.test", 1)
    found = [
        (socket.AF_INET6, "2001:db8::1"),
        (socket.AF_INET6, "2001:db8::2"),
        (socket.AF_INET6, "2001:db8::1"),  # getaddrinfo repeats addresses per protocol.
        (socket.AF_INET, "192.0.2.1"),
        (socket.AF_INET, "192.0.2.2"),
    ]
    assert endpoint._interleave(found) == ["2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2"]
    with pytest.raises(error.DNSLookupError, match="no address"):
        endpoint._interleave([])


def test_attemptsAreStaggeredAndTheFirstWinnerCancelsTheRest() -> None:
    memory = MemoryReactorClock()
    endpoint = ScriptedHostname(memory, attemptDelay=0.25)
    result = endpoint.connect(Factory.forProtocol(Protocol))
    endpoint.lookup.callback(["2001:db8::1", "192.0.2.1", "2001:db8::2"])
    assert list(endpoint.attempts) == ["2001:db8::1"]
    memory.advance(0.2)
    assert list(endpoint.attempts) == ["2001:db8::1"]
    memory.advance(0.05)
    assert list(endpoint.attempts) == ["2001:db8::1", "192.0.2.1"]
    winner = FakeConnected()
    endpoint.attempts["192.0.2.1"].callback(winner)
    assert resultOf(result) is winner
    assert endpoint.cancelled == ["2001:db8::1"]
    memory.advance(1)
    assert "2001:db8::2" not in endpoint.attempts  # No attempt starts after a win.
    assert memory.getDelayedCalls() == []


def test_aFailedAttemptStartsTheNextAtOnce() -> None:
    memory = MemoryReactorClock()
    endpoint = ScriptedHostname(memory)
    result = endpoint.connect(Factory.forProtocol(Protocol))
    endpoint.lookup.callback(["2001:db8::1", "192.0.2.1"])
    endpoint.attempts["2001:db8::1"].errback(error.ConnectionRefusedError())
    assert list(endpoint.attempts) == ["2001:db8::1", "192.0.2.1"]
    assert memory.getDelayedCalls() == []
    endpoint.attempts["192.0.2.1"].callback(FakeConnected())
    assert isinstance(resultOf(result), FakeConnected)


def test_everyAttemptFailingReportsTheLastReason() -> None:
    memory = MemoryReactorClock()
    endpoint = ScriptedHostname(memory)
    result = endpoint.connect(Factory.forProtocol(Protocol))
    endpoint.lookup.callback(["2001:db8::1", "192.0.2.1"])
    memory.advance(0.25)
    endpoint.attempts["192.0.2.1"].errback(error.ConnectionRefusedError())
    assert not result.called  # The first is still trying.
    endpoint.attempts["2001:db8::1"].errback(error.TCPTimedOutError())
    assert failureOf(result).check(error.TCPTimedOutError)


def test_connectionCompletingAfterCancellationIsRefused() -> None:
    memory = MemoryReactorClock()
    attempt = endpoints.TCP4ClientEndpoint(memory, "192.0.2.1", 80).connect(
        Factory.forProtocol(Recorder)
    )
    attempt.cancel()
    factory = memory.tcpClients[0][2]
    assert factory.buildProtocol(None) is None
    assert failureOf(attempt).check(error.ConnectingCancelledError)


def test_lookupFailureFailsTheConnect() -> None:
    endpoint = ScriptedHostname(MemoryReactorClock())
    result = endpoint.connect(Factory.forProtocol(Protocol))
    endpoint.lookup.errback(error.DNSLookupError("address 'example.test' not found"))
    assert failureOf(result).check(error.DNSLookupError)


def test_cancelDuringLookupAbandonsIt() -> None:
    endpoint = ScriptedHostname(MemoryReactorClock())
    result = endpoint.connect(Factory.forProtocol(Protocol))
    result.cancel()
    assert failureOf(result).check(error.ConnectingCancelledError)
    assert endpoint.lookup.called  # Cancelled too.
    assert endpoint.attempts == {}


def test_cancelDuringAttemptsCancelsThemAll() -> None:
    memory = MemoryReactorClock()
    endpoint = ScriptedHostname(memory)
    result = endpoint.connect(Factory.forProtocol(Protocol))
    endpoint.lookup.callback(["2001:db8::1", "192.0.2.1", "192.0.2.2"])
    memory.advance(0.25)
    result.cancel()
    assert failureOf(result).check(error.ConnectingCancelledError)
    assert sorted(endpoint.cancelled) == ["192.0.2.1", "2001:db8::1"]
    assert memory.getDelayedCalls() == []


def test_realLookupOfAMissingNameIsDNSLookupError(reactor: Any, monkeypatch: Any) -> None:
    def refuse(*args: Any, **kw: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(endpoints.socket, "getaddrinfo", refuse)
    reactor.getThreadPool().start()
    client = endpoints.HostnameEndpoint(reactor, "no-such-host.invalid", 80)
    with pytest.raises(error.DNSLookupError, match=r"no-such-host\.invalid"):
        runUntilFired(reactor, client.connect(Factory.forProtocol(Protocol)))


# -- standard I/O and child processes, on every reactor -------------------------------------


def test_processEndpointTalksToTheChild(reactor: Any) -> None:
    cat = endpoints.ProcessEndpoint(reactor, "/bin/cat", ["cat"])
    assert repr(cat) == "ProcessEndpoint('/bin/cat')"
    protocol = runUntilFired(reactor, cat.connect(Factory.forProtocol(Recorder)))
    assert protocol.made.called
    protocol.transport.write(b"through a child")
    runUntil(reactor, lambda: protocol.data == b"through a child", timeout=10)
    assert protocol.transport.pid > 0
    protocol.transport.loseConnection()  # cat sees the end of its input and exits 0.
    runUntilFired(reactor, protocol.lost, timeout=10)
    assert protocol.lostReasons[0].check(error.ConnectionDone)


def test_processEndpointReportsAFailedChild(reactor: Any) -> None:
    failing = endpoints.ProcessEndpoint(reactor, "/bin/sh", ["sh", "-c", "exit 3"])
    protocol = runUntilFired(reactor, failing.connect(Factory.forProtocol(Recorder)))
    runUntilFired(reactor, protocol.lost, timeout=10)
    reason = protocol.lostReasons[0]
    assert reason.check(error.ProcessTerminated) and reason.value.exitCode == 3


def test_processEndpointLogsOrDropsStandardError(
    reactor: Any, loggedMessages: list[dict[str, Any]]
) -> None:
    script = ["sh", "-c", "echo oops >&2"]
    for flag in (endpoints.StandardErrorBehavior.DROP, endpoints.StandardErrorBehavior.LOG):
        child = endpoints.ProcessEndpoint(reactor, "/bin/sh", script, errFlag=flag)
        protocol = runUntilFired(reactor, child.connect(Factory.forProtocol(Recorder)))
        runUntilFired(reactor, protocol.lost, timeout=10)
    texts = [" ".join(map(str, e.get("message", ()))) for e in loggedMessages]
    oops = [t for t in texts if "wrote to stderr" in t]
    assert len(oops) == 1 and "'/bin/sh'" in oops[0] and "oops" in oops[0]


loggedMessages = reactormixins.loggedMessages


def test_processEndpointThatCannotStartFailsTheDeferred(reactor: Any) -> None:
    missing = endpoints.ProcessEndpoint(reactor, "/nonexistent/program", ["program"])
    with pytest.raises(OSError, match="nonexistent"):
        runUntilFired(reactor, missing.connect(Factory.forProtocol(Recorder)))


def test_standardIOEndpointConnectsAProtocolToThePipes(reactor: Any) -> None:
    inRead, inWrite = os.pipe()
    outRead, outWrite = os.pipe()
    try:
        stdio = endpoints.StandardIOEndpoint(reactor, stdin=inRead, stdout=outWrite)
        servers: list[Recorder] = []
        port = runUntilFired(reactor, stdio.listen(serverFactory(servers)))
        assert servers and servers[0].made.called
        os.write(inWrite, b"in through stdin")
        runUntil(reactor, lambda: servers[0].data == b"in through stdin")
        servers[0].transport.write(b"out through stdout")
        servers[0].transport.loseConnection()
        runUntilFired(reactor, servers[0].lost)
        assert os.read(outRead, 100) == b"out through stdout"
        assert port is servers[0].transport
    finally:
        for fd in (inWrite, outRead):
            os.close(fd)


# -- UNIX sockets, on every reactor ---------------------------------------------------------


@implementer(IFileDescriptorReceiver)
class DescriptorTaker(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.descriptors: list[int] = []

    def fileDescriptorReceived(self, descriptor: int) -> None:
        self.descriptors.append(descriptor)


def test_unixEndpointsConnectAndPassDescriptors(reactor: Any, sockdir: Any) -> None:
    path = str(sockdir / "endpoint.sock")
    servers: list[Recorder] = []
    server = endpoints.UNIXServerEndpoint(reactor, path)
    port = runUntilFired(reactor, server.listen(serverFactory(servers)))
    client = endpoints.UNIXClientEndpoint(reactor, path)
    taker = runUntilFired(reactor, client.connect(Factory.forProtocol(DescriptorTaker)))
    runUntil(reactor, lambda: servers)
    # The endpoint's wrapper must not hide that the protocol takes descriptors.
    readEnd, writeEnd = os.pipe()
    try:
        servers[0].transport.sendFileDescriptor(writeEnd)
        servers[0].transport.write(b"x")
        runUntil(reactor, lambda: taker.descriptors and taker.data == b"x")
        os.write(taker.descriptors[0], b"via the passed descriptor")
        assert os.read(readEnd, 100) == b"via the passed descriptor"
    finally:
        for fd in (readEnd, writeEnd, *taker.descriptors):
            os.close(fd)
    runUntilFired(reactor, port.stopListening())


def test_unixServerEndpointOnAPathInUseFails(reactor: Any, sockdir: Any) -> None:
    path = str(sockdir / "busy.sock")
    first = endpoints.UNIXServerEndpoint(reactor, path)
    runUntilFired(reactor, first.listen(Factory.forProtocol(Protocol)))
    again = endpoints.UNIXServerEndpoint(reactor, path)
    failure = failureOf(again.listen(Factory.forProtocol(Protocol)))
    assert failure.check(error.CannotListenError) and "in use" in str(failure.value)
