"""Tests for ClientService and backoffPolicy (torsion.application._clientservice).

The state machine is driven deterministically: a scripted endpoint whose attempts the
test makes succeed or fail, in-memory transports, and a task.Clock for the waits.
One test runs a ClientService over real TCP on each reactor.
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from zope.interface import implementer
from zope.interface.verify import verifyObject

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from torsion.application import internet, service
from torsion.application.internet import ClientService, backoffPolicy
from torsion.internet import endpoints, error
from torsion.internet.defer import CancelledError, Deferred
from torsion.internet.interfaces import IHalfCloseableProtocol, IStreamClientEndpoint
from torsion.internet.protocol import Factory, Protocol
from torsion.internet.task import Clock
from torsion.internet.testing import StringTransport
from torsion.python.failure import Failure

reactor = reactormixins.reactor


class Client(Protocol):
    def __init__(self) -> None:
        self.lost: list[Any] = []

    def connectionLost(self, reason: object = None) -> None:
        self.lost.append(reason)


@implementer(IHalfCloseableProtocol)
class HalfCloseClient(Client):
    def readConnectionLost(self) -> None:
        pass

    def writeConnectionLost(self) -> None:
        pass


class Attempt:
    """One connect() of the scripted endpoint."""

    def __init__(self, factory: Any) -> None:
        self.factory = factory
        self.cancelled = False
        self.deferred: Deferred[Any] = Deferred(self._cancel)
        self.proxy: Any = None
        self.transport = StringTransport()

    def _cancel(self, d: Deferred[Any]) -> None:
        self.cancelled = True

    def succeed(self) -> Any:
        """Connect: build the protocol, give it a transport, fire the attempt."""
        self.proxy = self.factory.buildProtocol(None)
        self.proxy.makeConnection(self.transport)
        self.deferred.callback(self.proxy)
        return self.proxy._protocol

    def fail(self, why: str = "refused") -> None:
        self.deferred.errback(error.ConnectionRefusedError(why))

    def lose(self) -> None:
        self.proxy.connectionLost(Failure(error.ConnectionLost("gone")))


@implementer(IStreamClientEndpoint)
class ScriptedEndpoint:
    def __init__(self) -> None:
        self.attempts: list[Attempt] = []

    def connect(self, factory: Any) -> Deferred[Any]:
        self.attempts.append(Attempt(factory))
        return self.attempts[-1].deferred

    @property
    def last(self) -> Attempt:
        return self.attempts[-1]


def policy(attempt: int) -> float:
    """Waits of 1, 2, 3... seconds: easy to step through."""
    return float(attempt)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def endpoint() -> ScriptedEndpoint:
    return ScriptedEndpoint()


def made(endpoint: Any, clock: Clock, **kwargs: Any) -> ClientService:
    return ClientService(
        endpoint, Factory.forProtocol(Client), retryPolicy=policy, clock=clock, **kwargs
    )


def results(d: Deferred[Any]) -> list[Any]:
    out: list[Any] = []
    d.addBoth(out.append)
    return out


def test_isAService(endpoint: ScriptedEndpoint, clock: Clock) -> None:
    assert verifyObject(service.IService, made(endpoint, clock))


def test_connectsWhenStartedAndGivesTheProtocol(endpoint: ScriptedEndpoint, clock: Clock) -> None:
    s = made(endpoint, clock)
    waiting = results(s.whenConnected())
    assert endpoint.attempts == []
    s.startService()
    assert len(endpoint.attempts) == 1
    assert waiting == []
    protocol = endpoint.last.succeed()
    assert isinstance(protocol, Client)
    assert waiting == [protocol]
    assert results(s.whenConnected()) == [protocol]
    assert protocol.transport is endpoint.last.transport


def test_proxyProvidesWhatTheProtocolProvides(endpoint: ScriptedEndpoint, clock: Clock) -> None:
    s = ClientService(endpoint, Factory.forProtocol(HalfCloseClient), clock=clock)
    s.startService()
    endpoint.last.succeed()
    assert IHalfCloseableProtocol.providedBy(endpoint.last.proxy)
    assert endpoint.last.proxy.dataReceived == endpoint.last.proxy._protocol.dataReceived


def test_failedAttemptIsRetriedAfterThePolicysDelay(
    endpoint: ScriptedEndpoint, clock: Clock
) -> None:
    s = made(endpoint, clock)
    s.startService()
    endpoint.last.fail()
    clock.advance(0.99)
    assert len(endpoint.attempts) == 1
    clock.advance(0.01)
    assert len(endpoint.attempts) == 2
    endpoint.last.fail()
    clock.advance(1.99)
    assert len(endpoint.attempts) == 2
    clock.advance(0.01)
    assert len(endpoint.attempts) == 3
    protocol = endpoint.last.succeed()
    assert results(s.whenConnected()) == [protocol]


def test_aLostConnectionIsRemadeAfterTheFirstDelay(
    endpoint: ScriptedEndpoint, clock: Clock
) -> None:
    s = made(endpoint, clock)
    s.startService()
    endpoint.last.fail()
    clock.advance(1)
    endpoint.last.fail()
    clock.advance(2)
    first = endpoint.last.succeed()
    endpoint.last.lose()
    assert len(first.lost) == 1  # The protocol hears of it too.
    waiting = results(s.whenConnected())
    clock.advance(0.99)
    assert len(endpoint.attempts) == 3
    clock.advance(0.01)  # The count started again from the success: policy(1).
    assert len(endpoint.attempts) == 4
    second = endpoint.last.succeed()
    assert waiting == [second]


def test_whenConnectedFailsAfterTheGivenNumberOfFailures(
    endpoint: ScriptedEndpoint, clock: Clock
) -> None:
    s = made(endpoint, clock)
    s.startService()
    endpoint.last.fail("before the call")
    patient = results(s.whenConnected())
    once = results(s.whenConnected(failAfterFailures=1))
    twice = results(s.whenConnected(failAfterFailures=2))
    clock.advance(1)
    endpoint.last.fail("first")
    assert once[0].check(error.ConnectionRefusedError) and "first" in str(once[0].value)
    assert twice == [] and patient == []
    clock.advance(2)
    endpoint.last.fail("second")
    assert "second" in str(twice[0].value)
    clock.advance(3)
    protocol = endpoint.last.succeed()
    assert patient == [protocol]


def test_whenConnectedRejectsANonPositiveCount(endpoint: ScriptedEndpoint, clock: Clock) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        made(endpoint, clock).whenConnected(failAfterFailures=0)


def test_cancellingAWaitLeavesTheServiceAlone(endpoint: ScriptedEndpoint, clock: Clock) -> None:
    s = made(endpoint, clock)
    s.startService()
    wait = s.whenConnected()
    outcome = results(wait)
    wait.cancel()
    assert outcome[0].check(CancelledError)
    endpoint.last.succeed()
    assert s._machine._waiters == []


def test_stopWhileConnectingCancelsTheAttempt(endpoint: ScriptedEndpoint, clock: Clock) -> None:
    s = made(endpoint, clock)
    s.startService()
    waiting = results(s.whenConnected())
    stopped = results(s.stopService())
    assert endpoint.last.cancelled
    assert stopped == [None]
    assert waiting[0].check(CancelledError)
    assert not s.running
    clock.advance(100)
    assert len(endpoint.attempts) == 1


def test_stopWhileWaitingCancelsTheRetry(endpoint: ScriptedEndpoint, clock: Clock) -> None:
    s = made(endpoint, clock)
    s.startService()
    endpoint.last.fail()
    assert results(s.stopService()) == [None]
    assert clock.getDelayedCalls() == []
    clock.advance(100)
    assert len(endpoint.attempts) == 1


def test_stopWhileConnectedClosesAndWaitsForTheLoss(
    endpoint: ScriptedEndpoint, clock: Clock
) -> None:
    s = made(endpoint, clock)
    s.startService()
    protocol = endpoint.last.succeed()
    stopped = results(s.stopService())
    assert endpoint.last.transport.disconnecting
    assert stopped == []
    endpoint.last.lose()
    assert stopped == [None]
    assert len(protocol.lost) == 1
    clock.advance(100)
    assert len(endpoint.attempts) == 1


def test_whenConnectedOnAStoppedServiceIsCancelled(
    endpoint: ScriptedEndpoint, clock: Clock
) -> None:
    s = made(endpoint, clock)
    s.startService()
    s.stopService()
    assert results(s.whenConnected())[0].check(CancelledError)


def test_stopOfANeverStartedServiceFiresAtOnce(endpoint: ScriptedEndpoint, clock: Clock) -> None:
    assert results(made(endpoint, clock).stopService()) == [None]


def test_startDuringTheStopReconnectsAfterIt(endpoint: ScriptedEndpoint, clock: Clock) -> None:
    s = made(endpoint, clock)
    s.startService()
    endpoint.last.succeed()
    stopped = results(s.stopService())
    s.startService()
    waiting = results(s.whenConnected())
    assert len(endpoint.attempts) == 1
    endpoint.last.lose()
    assert stopped == [None]
    assert len(endpoint.attempts) == 2
    protocol = endpoint.last.succeed()
    assert waiting == [protocol]


def test_secondStopDuringTheStopFiresWithTheFirst(endpoint: ScriptedEndpoint, clock: Clock) -> None:
    s = made(endpoint, clock)
    s.startService()
    endpoint.last.succeed()
    first = results(s.stopService())
    second = results(s._machine.stop())
    endpoint.last.lose()
    assert first == [None] and second == [None]


def test_startTwiceMakesOneAttempt(endpoint: ScriptedEndpoint, clock: Clock) -> None:
    s = made(endpoint, clock)
    s.startService()
    s.startService()
    assert len(endpoint.attempts) == 1


def test_anEndpointThatRaisesCountsAsAFailure(clock: Clock) -> None:
    class Raising:
        def connect(self, factory: Any) -> Any:
            raise RuntimeError("no")

    s = ClientService(Raising(), Factory.forProtocol(Client), retryPolicy=policy, clock=clock)
    s.startService()
    failing = results(s.whenConnected(failAfterFailures=1))
    clock.advance(1)
    assert failing[0].check(RuntimeError)


def test_prepareConnectionRunsBeforeTheWaitersHear(
    endpoint: ScriptedEndpoint, clock: Clock
) -> None:
    prepared: list[Any] = []
    ready: Deferred[None] = Deferred()

    def prepare(protocol: Any) -> Deferred[None]:
        prepared.append(protocol)
        return ready

    s = made(endpoint, clock, prepareConnection=prepare)
    s.startService()
    waiting = results(s.whenConnected())
    protocol = endpoint.last.succeed()
    assert prepared == [protocol]
    assert waiting == []
    ready.callback(None)
    assert waiting == [protocol]


def test_aFailedPreparationDropsTheConnectionAndRetries(
    endpoint: ScriptedEndpoint, clock: Clock
) -> None:
    def prepare(protocol: Any) -> None:
        if len(endpoint.attempts) == 1:
            raise ValueError("bad login")

    s = made(endpoint, clock, prepareConnection=prepare)
    s.startService()
    failing = results(s.whenConnected(failAfterFailures=1))
    patient = results(s.whenConnected())
    endpoint.last.succeed()
    assert endpoint.last.transport.disconnecting
    assert failing == []  # Not before the connection is gone.
    endpoint.last.lose()
    assert failing[0].check(ValueError)
    clock.advance(1)
    protocol = endpoint.last.succeed()
    assert patient == [protocol]


def test_connectionLostDuringPreparationRetries(endpoint: ScriptedEndpoint, clock: Clock) -> None:
    pending: list[Deferred[None]] = []

    def prepare(protocol: Any) -> Deferred[None]:
        pending.append(Deferred())
        return pending[-1]

    s = made(endpoint, clock, prepareConnection=prepare)
    s.startService()
    failing = results(s.whenConnected(failAfterFailures=1))
    endpoint.last.succeed()
    endpoint.last.lose()
    assert pending[0].called  # Cancelled.
    assert failing[0].check(error.ConnectionLost)
    clock.advance(1)
    assert len(endpoint.attempts) == 2


def test_stopDuringPreparation(endpoint: ScriptedEndpoint, clock: Clock) -> None:
    pending: Deferred[None] = Deferred()
    s = made(endpoint, clock, prepareConnection=lambda p: pending)
    s.startService()
    endpoint.last.succeed()
    stopped = results(s.stopService())
    assert pending.called and endpoint.last.transport.disconnecting
    endpoint.last.lose()
    assert stopped == [None]
    clock.advance(100)
    assert len(endpoint.attempts) == 1


def test_factoryReturningNoProtocol(endpoint: ScriptedEndpoint, clock: Clock) -> None:
    class Refusing(Factory):
        def buildProtocol(self, addr: Any) -> None:
            return None

    s = ClientService(endpoint, Refusing(), clock=clock)
    s.startService()
    assert endpoint.last.factory.buildProtocol(None) is None


def test_picklesWhileConnected(clock: Clock) -> None:
    s = ClientService(
        PicklableEndpoint(), Factory.forProtocol(Protocol), retryPolicy=backoffPolicy()
    )
    s.startService()
    s._machine._protocol = object()  # Pretend: live objects that must not be pickled.
    s._machine.state = "connected"
    copy = pickle.loads(pickle.dumps(s))
    assert not copy.running
    assert copy._machine.state == "init" and copy._machine._protocol is None
    assert copy._machine._service is copy
    copy.startService()
    assert copy._endpoint.connects == 2  # The copy's endpoint (made with one attempt).


class PicklableEndpoint:
    def __init__(self) -> None:
        self.connects = 0

    def connect(self, factory: Any) -> Deferred[Any]:
        self.connects += 1
        return Deferred()


# -- backoffPolicy ---------------------------------------------------------------------


def noJitter() -> float:
    return 0.0


def test_backoffGrowsByTheFactorUpToTheMaximum() -> None:
    p = backoffPolicy(initialDelay=1.0, maxDelay=10.0, factor=2.0, jitter=noJitter)
    assert [p(n) for n in range(1, 6)] == [2.0, 4.0, 8.0, 10.0, 10.0]
    assert p(0) == 1.0


def test_backoffSurvivesHugeAttemptNumbers() -> None:
    p = backoffPolicy(maxDelay=60.0, jitter=noJitter)
    assert p(10**9) == 60.0


def test_backoffAddsJitter() -> None:
    p = backoffPolicy(initialDelay=1.0, factor=1.0, jitter=lambda: 0.25)
    assert p(3) == 1.25
    delays = {backoffPolicy(factor=1.0)(1) for _ in range(20)}
    assert all(1.0 <= d < 2.0 for d in delays) and len(delays) > 1


def test_backoffRejectsNonsense() -> None:
    with pytest.raises(ValueError, match="factor >= 1"):
        backoffPolicy(factor=0.5)
    with pytest.raises(ValueError):
        backoffPolicy(initialDelay=-1)


def test_backoffPolicyPickles() -> None:
    p = pickle.loads(pickle.dumps(backoffPolicy(2.0, 30.0, 3.0)))
    assert 6.0 <= p(1) < 7.0
    assert "factor=3.0" in repr(p)


def test_defaultPolicyIsTheStandardBackoff(endpoint: ScriptedEndpoint, clock: Clock) -> None:
    s = ClientService(endpoint, Factory.forProtocol(Client), clock=clock)
    s.startService()
    endpoint.last.fail()
    [retry] = clock.getDelayedCalls()
    assert 1.5 <= retry.getTime() < 2.5


# -- for real ----------------------------------------------------------------------------


def test_keepsAConnectionUpOverRealTCP(reactor: Any) -> None:
    accepted: list[Protocol] = []

    class Server(Protocol):
        def connectionMade(self) -> None:
            accepted.append(self)

    port = reactor.listenTCP(0, Factory.forProtocol(Server), interface="127.0.0.1")
    endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)
    s = internet.ClientService(
        endpoint, Factory.forProtocol(Client), retryPolicy=lambda n: 0.01, clock=reactor
    )
    s.startService()
    first = runUntilFired(reactor, s.whenConnected())
    runUntil(reactor, lambda: len(accepted) == 1)
    accepted[0].transport.loseConnection()
    runUntil(reactor, lambda: len(accepted) == 2)
    second = runUntilFired(reactor, s.whenConnected())
    assert second is not first and len(first.lost) == 1
    runUntilFired(reactor, s.stopService())
    assert len(second.lost) == 1
    runUntilFired(reactor, port.stopListening())


def test_givesUpWhenTheServerIsAbsent(reactor: Any) -> None:
    probe = reactor.listenTCP(0, Factory.forProtocol(Protocol), interface="127.0.0.1")
    number = probe.getHost().port
    runUntilFired(reactor, probe.stopListening())
    endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", number)
    s = internet.ClientService(
        endpoint, Factory.forProtocol(Client), retryPolicy=lambda n: 0.01, clock=reactor
    )
    s.startService()
    with pytest.raises(error.ConnectionRefusedError):
        runUntilFired(reactor, s.whenConnected(failAfterFailures=2))
    runUntilFired(reactor, s.stopService())
