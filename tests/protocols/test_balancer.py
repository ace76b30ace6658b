"""Tests for torsion.protocols.balancer: policies, health checks, draining, and real traffic.

The policies and health-check arithmetic run on a task.Clock with stand-in backends;
the rest over real TCP on 127.0.0.1 with three local echo backends that say which
backend they are, one of which dies mid-test and comes back.
"""

from __future__ import annotations

import socket
from collections import Counter
from typing import Any

import pytest
from zope.interface import implementer

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from torsion.internet import defer, endpoints
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import IHalfCloseableProtocol
from torsion.internet.protocol import Factory, Protocol
from torsion.internet.task import Clock
from torsion.protocols import balancer, haproxy
from torsion.protocols.balancer import Backend, Balancer, HealthChecker

reactor = reactormixins.reactor
loggedErrors = reactormixins.loggedErrors


class Named(Protocol):
    """A backend that says its name, then echoes."""

    def connectionMade(self) -> None:
        self.factory.connections.append(self)
        self.transport.write(self.factory.name + b"\n")

    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)

    def connectionLost(self, reason: object = None) -> None:
        self.factory.connections.remove(self)


class NamedFactory(Factory):
    protocol = Named
    noisy = False

    def __init__(self, name: bytes) -> None:
        self.name = name
        self.connections: list[Named] = []


class Backends:
    """Three real backends on 127.0.0.1, which can be killed and brought back."""

    def __init__(self, reactor: Any, count: int = 3) -> None:
        self.reactor = reactor
        self.factories = [NamedFactory(b"backend %d" % i) for i in range(count)]
        self.ports = [self._listen(i, 0) for i in range(count)]
        self.numbers = [port.getHost().port for port in self.ports]

    def _listen(self, i: int, number: int) -> Any:
        return self.reactor.listenTCP(number, self.factories[i], interface="127.0.0.1")

    def descriptions(self) -> list[str]:
        return [f"tcp:127.0.0.1:{number}" for number in self.numbers]

    def kill(self, i: int) -> None:
        runUntilFired(self.reactor, defer.maybeDeferred(self.ports[i].stopListening))
        for connection in list(self.factories[i].connections):
            connection.transport.abortConnection()
        runUntil(self.reactor, lambda: not self.factories[i].connections)

    def restart(self, i: int) -> None:
        self.ports[i] = self._listen(i, self.numbers[i])


def listen(reactor: Any, balance: Balancer) -> int:
    port = reactor.listenTCP(0, balancer.BalancerFactory(balance), interface="127.0.0.1")
    return int(port.getHost().port)


def greeting(reactor: Any, port: int) -> tuple[socket.socket, bytes]:
    """Connect to the balancer; return the socket and the name of the backend reached."""
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    client.setblocking(False)
    got = bytearray()

    def done() -> bool:
        try:
            chunk = client.recv(4096)
        except BlockingIOError:
            return False
        except ConnectionResetError:
            return True
        if not chunk:
            return True
        got.extend(chunk)
        return b"\n" in got

    runUntil(reactor, done)
    return client, bytes(got).strip()


def test_spreadsOverThreeBackendsAndSurvivesOneDying(reactor: Any) -> None:
    backends = Backends(reactor)
    balance = Balancer(backends.descriptions(), "round-robin", reactor=reactor)
    checker = HealthChecker(balance, interval=0.05, rise=1, fall=1)
    port = listen(reactor, balance)
    seen = Counter()
    for _ in range(6):
        client, name = greeting(reactor, port)
        seen[name] += 1
        client.close()
    assert seen == {b"backend 0": 2, b"backend 1": 2, b"backend 2": 2}

    # backend 1 dies: connections that would have gone there go to the others, and
    # the client does not notice (the refused attempt is retried elsewhere).
    backends.kill(1)
    seen.clear()
    for _ in range(6):
        client, name = greeting(reactor, port)
        seen[name] += 1
        client.close()
    assert set(seen) == {b"backend 0", b"backend 2"}
    assert sum(seen.values()) == 6
    assert not balance.backends[1].healthy

    # It comes back: the health checks put it back, and it gets its share again.
    checker.startService()
    backends.restart(1)
    runUntil(reactor, lambda: balance.backends[1].healthy)
    seen.clear()
    for _ in range(6):
        client, name = greeting(reactor, port)
        seen[name] += 1
        client.close()
    assert seen == {b"backend 0": 2, b"backend 1": 2, b"backend 2": 2}
    checker.stopService()


def test_healthChecksTakeADeadBackendOutBeforeAnyClientTries(reactor: Any) -> None:
    backends = Backends(reactor)
    balance = Balancer(backends.descriptions(), reactor=reactor)
    checker = HealthChecker(balance, interval=0.05, rise=1, fall=2)
    checker.startService()
    backends.kill(2)
    runUntil(reactor, lambda: not balance.backends[2].healthy)
    assert balance.backends[2].totalConnections == 0
    checker.stopService()


def test_leastConnectionsSendsNewOnesToTheIdlest(reactor: Any) -> None:
    backends = Backends(reactor)
    balance = Balancer(backends.descriptions(), "least-connections", reactor=reactor)
    port = listen(reactor, balance)
    held = [greeting(reactor, port) for _ in range(3)]
    assert sorted(name for _, name in held) == [b"backend 0", b"backend 1", b"backend 2"]
    byName = {name: client for client, name in held}
    byName[b"backend 1"].close()
    runUntil(reactor, lambda: balance.backends[1].activeConnections == 0)
    client, name = greeting(reactor, port)
    assert name == b"backend 1"
    for other in [client, byName[b"backend 0"], byName[b"backend 2"]]:
        other.close()


def test_drainingBackendGetsNoNewConnectionsAndFiresWhenIdle(reactor: Any) -> None:
    backends = Backends(reactor, 2)
    balance = Balancer(backends.descriptions(), reactor=reactor)
    port = listen(reactor, balance)
    first, name = greeting(reactor, port)
    assert name == b"backend 0"
    drained = balance.drain(balance.backends[0])
    assert not drained.called
    for _ in range(3):
        client, name = greeting(reactor, port)
        assert name == b"backend 1"
        client.close()
    # The connection it has goes on working.
    first.sendall(b"still served")
    runUntil(reactor, lambda: _recvSome(first) == b"still served")
    first.close()
    runUntilFired(reactor, drained)
    balance.undrain(balance.backends[0])
    client, name = greeting(reactor, port)
    assert name == b"backend 0"
    client.close()


def _recvSome(client: socket.socket) -> bytes:
    try:
        return client.recv(4096)
    except BlockingIOError:
        return b""


def test_noBackendAvailableClosesTheClient(reactor: Any) -> None:
    backends = Backends(reactor, 2)
    balance = Balancer(backends.descriptions(), reactor=reactor)
    port = listen(reactor, balance)
    backends.kill(0)
    backends.kill(1)
    client, name = greeting(reactor, port)
    assert name == b""
    assert not any(backend.healthy for backend in balance.backends)
    assert [backend.activeConnections for backend in balance.backends] == [0, 0]
    client.close()


def test_bulkDataBothWaysThroughTheBalancer(reactor: Any) -> None:
    backends = Backends(reactor, 1)
    balance = Balancer(backends.descriptions(), reactor=reactor)
    port = listen(reactor, balance)
    client, _name = greeting(reactor, port)
    payload = bytes(range(256)) * 4096  # 1 MiB, echoed back.
    sent = 0
    got = bytearray()

    def pump() -> bool:
        nonlocal sent
        if sent < len(payload):
            try:
                sent += client.send(payload[sent : sent + 65536])
            except BlockingIOError:
                pass
        try:
            while True:
                chunk = client.recv(1 << 20)
                if not chunk:
                    break
                got.extend(chunk)
        except BlockingIOError:
            pass
        return len(got) >= len(payload)

    runUntil(reactor, pump, timeout=20)
    assert bytes(got) == payload
    client.close()


def test_halfCloseGoesThroughTheBalancer(reactor: Any) -> None:
    @implementer(IHalfCloseableProtocol)
    class Answerer(Protocol):
        def connectionMade(self) -> None:
            self.question = b""

        def dataReceived(self, data: bytes) -> None:
            self.question += data

        def readConnectionLost(self) -> None:
            self.transport.write(b"answer to " + self.question)
            self.transport.loseConnection()

        def writeConnectionLost(self) -> None:
            pass

    backendPort = reactor.listenTCP(0, Factory.forProtocol(Answerer), interface="127.0.0.1")
    balance = Balancer([f"tcp:127.0.0.1:{backendPort.getHost().port}"], reactor=reactor)
    client = socket.create_connection(("127.0.0.1", listen(reactor, balance)), timeout=5)
    client.setblocking(False)
    client.sendall(b"the question")
    client.shutdown(socket.SHUT_WR)
    got = bytearray()

    def ended() -> bool:
        try:
            chunk = client.recv(4096)
        except BlockingIOError:
            return False
        got.extend(chunk)
        return not chunk

    runUntil(reactor, ended)
    assert bytes(got) == b"answer to the question"
    runUntil(reactor, lambda: balance.backends[0].activeConnections == 0)
    client.close()


def test_brokenPolicyClosesTheClientOnly(reactor: Any, loggedErrors: Any) -> None:
    class Broken:
        def choose(self, backends: Any) -> Any:
            raise RuntimeError("policy bug")

    backends = Backends(reactor, 1)
    balance = Balancer(backends.descriptions(), Broken(), reactor=reactor)
    client, name = greeting(reactor, listen(reactor, balance))
    assert name == b""
    assert any("policy bug" in str(event.get("failure")) for event in loggedErrors)
    client.close()


def test_sendsAPROXYHeaderToBackends(reactor: Any) -> None:
    class SaysWhere(Protocol):
        def connectionMade(self) -> None:
            peer = self.transport.getPeer()
            self.transport.write(f"{peer.host} {peer.port}\n".encode())

    behindProxy = haproxy.HAProxyWrappingFactory(Factory.forProtocol(SaysWhere), clock=reactor)
    backendPort = reactor.listenTCP(0, behindProxy, interface="127.0.0.1").getHost().port
    balance = Balancer([f"tcp:127.0.0.1:{backendPort}"], reactor=reactor)
    factory = balancer.BalancerFactory(balance, sendProxyHeader=2)
    front = reactor.listenTCP(0, factory, interface="127.0.0.1").getHost().port
    client, said = greeting(reactor, front)
    host, port = client.getsockname()
    assert said == f"{host} {port}".encode()
    client.close()


def test_hostPortBackends(reactor: Any) -> None:
    backends = Backends(reactor, 1)
    balance = Balancer([f"127.0.0.1:{backends.numbers[0]}"], reactor=reactor)
    client, name = greeting(reactor, listen(reactor, balance))
    assert name == b"backend 0"
    client.close()


# -- policies, with stand-in backends -----------------------------------------------------------


def standIns(*weights: int) -> list[Backend]:
    return [Backend(None, name, weight) for name, weight in zip("abcdef", weights, strict=False)]


def test_roundRobinTakesTurns() -> None:
    backends = standIns(1, 1, 1)
    policy = balancer.RoundRobin()
    assert "".join(policy.choose(backends).name for _ in range(7)) == "abcabca"


def test_weightedRoundRobinIsSmooth() -> None:
    backends = standIns(5, 1, 1)
    policy = balancer.WeightedRoundRobin()
    assert "".join(policy.choose(backends).name for _ in range(7)) == "aabacaa"
    assert Counter(policy.choose(backends).name for _ in range(700)) == {
        "a": 500,
        "b": 100,
        "c": 100,
    }


def test_weightedRoundRobinCopesWithBackendsComingAndGoing() -> None:
    a, b, c = standIns(2, 1, 1)
    policy = balancer.WeightedRoundRobin()
    for _ in range(5):
        policy.choose([a, b, c])
    picks = Counter(policy.choose([a, c]).name for _ in range(300))
    assert picks == {"a": 200, "c": 100}


def test_leastConnectionsWeighsConnectionsByWeight() -> None:
    a, b = standIns(3, 1)
    a.activeConnections, b.activeConnections = 2, 1
    # a has 2/3 of a connection per unit of weight, b has 1.
    assert balancer.LeastConnections().choose([a, b]) is a


def test_balancerSkipsUnavailableBackends() -> None:
    balance = Balancer(standIns(1, 1, 1), reactor=Clock())
    a, b, c = balance.backends
    balance.markDown(b, "test")
    c.draining = True
    assert {balance.choose().name for _ in range(4)} == {"a"}  # type: ignore[union-attr]
    assert balance.choose(exclude=[a]) is None


def test_unknownPolicy() -> None:
    with pytest.raises(ValueError, match="round-robin, least-connections, weighted"):
        Balancer([], "fastest", reactor=Clock())


def test_customPolicyObject() -> None:
    class Last:
        def choose(self, backends: Any) -> Any:
            return backends[-1]

    balance = Balancer(standIns(1, 1), Last(), reactor=Clock())
    assert balance.choose() is balance.backends[1]


def test_removeBackendDrainsFirst() -> None:
    balance = Balancer(standIns(1, 1), reactor=Clock())
    a = balance.backends[0]
    balance.connectionStarted(a)
    removed = balance.removeBackend(a)
    assert a in balance.backends and not removed.called
    balance.connectionEnded(a)
    assert removed.called and a not in balance.backends


# -- parsing backends ----------------------------------------------------------------------------


def test_parseBackend() -> None:
    backend = balancer.parseBackend(None, "tcp:127.0.0.1:9001:weight=3")
    assert (backend.name, backend.weight) == ("tcp:127.0.0.1:9001", 3)
    assert isinstance(backend.endpoint, endpoints.TCP4ClientEndpoint)
    hostPort = balancer.parseBackend(None, "localhost:9001")
    assert isinstance(hostPort.endpoint, endpoints.HostnameEndpoint)
    assert balancer.parseBackend(None, "[::1]:9001").name == "[::1]:9001"
    assert balancer.parseBackend(None, "unix:/run/app.sock").weight == 1


@pytest.mark.parametrize(
    ("description", "words"),
    [
        ("tcp:127.0.0.1:9001:weight=0", "bad weight"),
        ("tcp:127.0.0.1:9001:weight=x", "bad weight"),
        ("nonsense", "HOST:PORT"),
        ("localhost:99999", "over 65535"),
        ("tcp:127.0.0.1", "missing port"),
    ],
)
def test_parseBackendErrors(description: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        balancer.parseBackend(None, description)


# -- health checks, on a clock ---------------------------------------------------------------------


def checkedBy(probe: Any, **kw: Any) -> tuple[Balancer, HealthChecker, Clock]:
    clock = Clock()
    balance = Balancer(standIns(1), reactor=clock)
    checker = HealthChecker(balance, interval=1, probe=probe, clock=clock, **kw)
    checker.startService()
    return balance, checker, clock


def test_fallFailedChecksTakeItOutAndRiseGoodOnesPutItBack() -> None:
    answers = [False, False, True, False, True, True]
    balance, checker, clock = checkedBy(lambda backend: answers.pop(0), rise=2, fall=2)
    backend = balance.backends[0]
    assert backend.healthy  # One failure (at t=0) is not enough.
    clock.advance(1)
    assert not backend.healthy
    clock.advance(1)  # A good one...
    clock.advance(1)  # ...then a bad one: rise counts good ones in a row.
    assert not backend.healthy
    clock.advance(1)
    clock.advance(1)
    assert backend.healthy
    checker.stopService()
    clock.advance(10)
    assert answers == []


def test_probeMayReturnADeferredOrACoroutine() -> None:
    pending: list[Deferred[bool]] = []

    def deferredProbe(backend: Backend) -> Deferred[bool]:
        pending.append(Deferred())
        return pending[-1]

    balance, checker, clock = checkedBy(deferredProbe, fall=1)
    clock.advance(1)  # Still probing: no second probe of the same backend.
    assert len(pending) == 1
    pending[0].callback(False)
    assert not balance.backends[0].healthy
    checker.stopService()

    async def coroutineProbe(backend: Backend) -> bool:
        return True

    balance, checker, clock = checkedBy(coroutineProbe, rise=1)
    balance.markDown(balance.backends[0], "test")
    clock.advance(1)
    assert balance.backends[0].healthy
    checker.stopService()


def test_slowOrFailingProbesCountAsFailures() -> None:
    def raising(backend: Backend) -> bool:
        raise OSError("no route to host")

    balance, checker, clock = checkedBy(raising, fall=1)
    assert not balance.backends[0].healthy
    checker.stopService()

    balance, checker, clock = checkedBy(lambda backend: Deferred(), fall=1, timeout=0.5)
    assert balance.backends[0].healthy
    clock.advance(0.5)
    assert not balance.backends[0].healthy
    checker.stopService()


def test_stoppingAbandonsProbesUnderWay() -> None:
    balance, checker, clock = checkedBy(lambda backend: Deferred(), fall=1, timeout=5)
    checker.stopService()
    assert balance.backends[0].healthy
    assert clock.getDelayedCalls() == []


def test_healthCheckerRejectsBadSettings() -> None:
    balance = Balancer([], reactor=Clock())
    with pytest.raises(ValueError, match="interval"):
        HealthChecker(balance, interval=0)
    with pytest.raises(ValueError, match="rise and fall"):
        HealthChecker(balance, rise=0)
