"""Tests for torsion.spread.pb: remote calls, references both ways, roots, timeouts, disconnects.

Most run a server and a client Broker joined in memory (tests/spread/pbtesting.py) and
pumped by hand; a few go over real TCP sockets on 127.0.0.1 with each reactor.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntilFired
from tests.spread.pbtesting import PBPair, failureOf, resultOf
from torsion.internet import error
from torsion.internet.defer import Deferred, succeed
from torsion.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint
from torsion.python.failure import Failure
from torsion.spread import pb

reactor = reactormixins.reactor
loggedErrors = reactormixins.loggedErrors


class Callee(pb.Referenceable):
    def __init__(self, name: str = "callee") -> None:
        self.name = name
        self.calls: list[Any] = []

    def remote_ping(self, x: Any) -> Any:
        self.calls.append(x)
        return ("pong", self.name, x)


class Root(pb.Root):
    def __init__(self) -> None:
        self.pending: Deferred[Any] | None = None
        self.child = Callee("shared")
        self.received: list[Any] = []

    def remote_add(self, a: int, b: int = 2) -> int:
        return a + b

    def remote_echo(self, *args: Any, **kw: Any) -> Any:
        return [list(args), kw]

    def remote_deferred(self, value: Any) -> Deferred[Any]:
        return succeed(value * 2)

    def remote_later(self) -> Deferred[Any]:
        self.pending = Deferred()
        return self.pending

    async def remote_coroutine(self, value: int) -> int:
        await succeed(None)
        return value + 1

    def remote_newChild(self, name: str) -> Callee:
        return Callee(name)

    def remote_sharedChild(self) -> Callee:
        return self.child

    def remote_callBack(self, ref: pb.RemoteReference, value: Any) -> Deferred[Any]:
        return ref.callRemote("hello", value)

    def remote_keep(self, ref: Any) -> None:
        self.received.append(ref)

    def remote_isShared(self, obj: Any) -> bool:
        return obj is self.child

    def remote_nothing(self) -> None:
        return None


class ClientCallback(pb.Referenceable):
    def remote_hello(self, value: int) -> int:
        return value * 10


@pytest.fixture
def pair() -> PBPair:
    return PBPair(Root())


def test_callRemoteWithPositionalAndKeywordArguments(pair: PBPair) -> None:
    root = pair.root()
    assert pair.call(root, "add", 1) == 3
    assert pair.call(root, "add", 1, b=5) == 6
    assert pair.call(root, "echo", 1, "two", b"three", key=[4.5, None]) == [
        [1, "two", b"three"],
        {"key": [4.5, None]},
    ]


def test_callRemoteAcceptsBytesMethodNames(pair: PBPair) -> None:
    root = pair.root()
    assert pair.call(root, b"add", 2, 3) == 5  # type: ignore[arg-type]


def test_rootIsTheFactorysRoot() -> None:
    root = Root()
    pair = PBPair(root)
    assert pair.server.localObjectForID(b"root") is root
    assert pair.root().luid == b"root"


def test_getRootObjectBeforeConnectingFiresOnceConnected() -> None:
    factory = pb.PBClientFactory()
    d = factory.getRootObject()
    assert not d.called
    pair = PBPair(Root(), clientFactory=factory)
    assert resultOf(d) is pair.root()


def test_deferredAndCoroutineResults(pair: PBPair) -> None:
    root = pair.root()
    assert pair.call(root, "deferred", 21) == 42
    assert pair.call(root, "coroutine", 41) == 42
    assert pair.call(root, "nothing") is None


def test_answerWaitsForAPendingDeferred(pair: PBPair) -> None:
    root = pair.root()
    d = root.callRemote("later")
    pair.flush()
    assert not d.called
    server = pair.server.localObjectForID(b"root")
    server.pending.callback("done")
    pair.flush()
    assert resultOf(d) == "done"


def test_referenceableArrivesAsRemoteReference(pair: PBPair) -> None:
    root = pair.root()
    child = pair.call(root, "newChild", "kid")
    assert isinstance(child, pb.RemoteReference)
    assert pair.call(child, "ping", 7) == ("pong", "kid", 7)


def test_sameObjectTwiceIsOneReference(pair: PBPair) -> None:
    root = pair.root()
    first = pair.call(root, "sharedChild")
    second = pair.call(root, "sharedChild")
    assert first is second
    (entry,) = [lob for key, lob in pair.server.localObjects.items() if key != b"root"]
    assert entry.refcount == 2


def test_referenceSentBackIsTheOriginalObject(pair: PBPair) -> None:
    root = pair.root()
    child = pair.call(root, "sharedChild")
    assert pair.call(root, "isShared", child) is True


def test_clientPassesACallbackToTheServer(pair: PBPair) -> None:
    root = pair.root()
    assert pair.call(root, "callBack", ClientCallback(), 4) == 40


def test_remoteMethodMakesACallable(pair: PBPair) -> None:
    root = pair.root()
    add = root.remoteMethod("add")
    d = add(10, b=1)
    pair.flush()
    assert resultOf(d) == 11


def test_referenceCannotBeSentToAnotherConnection(pair: PBPair) -> None:
    other = PBPair(Root())
    child = pair.call(pair.root(), "newChild", "x")
    d = other.root().callRemote("keep", child)
    other.flush()
    failure = failureOf(d)
    assert failure.check(pb.Error)
    assert "connection it came from" in failure.getErrorMessage()


def test_referenceableCannotBeJelliedWithoutABroker() -> None:
    from torsion.spread.jelly import jelly

    with pytest.raises(TypeError, match="PB connection"):
        jelly(Callee())


def test_missingMethodIsNoSuchMethod(pair: PBPair) -> None:
    failure = pair.callFailure(pair.root(), "doesNotExist")
    assert failure.check(pb.NoSuchMethod)
    assert failure.getErrorMessage() == "No such method: remote_doesNotExist"


def test_timeoutForgetsTheCallAndIgnoresALateAnswer(pair: PBPair) -> None:
    root = pair.root()
    d = root.callRemote("later").addTimeout(5, pair.clock)
    pair.flush()
    assert pair.client.waitingForAnswers
    pair.clock.advance(5)
    failureOf(d).trap(error.TimeoutError)
    assert pair.client.waitingForAnswers == {}
    pair.server.localObjectForID(b"root").pending.callback("too late")
    pair.flush()
    assert pair.call(root, "add", 1) == 3


def test_disconnectMidCallFailsPendingCallsWithPBConnectionLost(pair: PBPair) -> None:
    root = pair.root()
    d1 = root.callRemote("later")
    d2 = root.callRemote("later")
    pair.flush()
    pair.disconnect()
    for d in (d1, d2):
        failure = failureOf(d)
        assert failure.check(pb.PBConnectionLost)
        assert isinstance(failure.value, error.ConnectionLost)
    assert issubclass(pb.PBConnectionLost, error.ConnectionLost)


def test_callAfterDisconnectRaisesDeadReferenceError(pair: PBPair) -> None:
    root = pair.root()
    pair.disconnect()
    with pytest.raises(pb.DeadReferenceError):
        root.callRemote("add", 1)


def test_lateAnswerAfterDisconnectIsNotSent(pair: PBPair) -> None:
    root = pair.root()
    root.callRemote("later")
    pair.flush()
    pending = pair.server.localObjectForID(b"root").pending
    pair.disconnect()
    pending.callback("nobody listens")
    pair.flush()


def test_notifyOnDisconnect(pair: PBPair) -> None:
    root = pair.root()
    child = pair.call(root, "newChild", "x")
    seen: list[Any] = []
    child.notifyOnDisconnect(seen.append)
    dropped: list[Any] = []
    child.notifyOnDisconnect(dropped.append)
    child.dontNotifyOnDisconnect(dropped.append)
    brokerNotes: list[int] = []
    pair.server.notifyOnDisconnect(lambda: brokerNotes.append(1))
    pair.disconnect()
    assert seen == [child]
    assert dropped == []
    assert brokerNotes == [1]


def test_failingDisconnectNotifierIsLoggedAndOthersStillRun(
    pair: PBPair, loggedErrors: list[dict[str, Any]]
) -> None:
    ran: list[int] = []

    def broken() -> None:
        raise RuntimeError("notifier bug")

    pair.client.notifyOnDisconnect(broken)
    pair.client.notifyOnDisconnect(lambda: ran.append(1))
    pair.disconnect()
    assert ran == [1]
    assert [e["log_failure"].check(RuntimeError) for e in loggedErrors] == [RuntimeError]


def test_factoryDisconnect(pair: PBPair) -> None:
    root = pair.root()
    pair.clientFactory.disconnect()
    pair.flush()
    assert pair.client.disconnected and pair.server.disconnected
    with pytest.raises(pb.DeadReferenceError):
        root.callRemote("add", 1)


def test_maxBrokerRefsBoundsTheObjectsLent(pair: PBPair, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pb, "MAX_BROKER_REFS", 4)
    root = pair.root()
    kept = [pair.call(root, "newChild", str(i)) for i in range(3)]
    failure = pair.callFailure(root, "newChild", "one too many")
    assert failure.check(pb.Error)
    assert "MAX_BROKER_REFS" in failure.getErrorMessage()
    assert len(pair.server.localObjects) == 4
    del kept


def test_failedJellyReleasesWhatItLent(pair: PBPair) -> None:
    class Bad(pb.Root):
        def remote_mixed(self) -> Any:
            return [Callee(), pb.Referenceable.__new__(_Unjellyable)]

    pair = PBPair(Bad())
    failure = pair.callFailure(pair.root(), "mixed")
    assert failure is not None
    assert list(pair.server.localObjects) == [b"root"]


class _Unjellyable(pb.Referenceable):
    def jellyFor(self, jellier: Any) -> Any:
        raise ValueError("cannot be sent")


def test_version6IsAnnounced(pair: PBPair) -> None:
    assert pair.client.version == 6
    assert not pair.client.disconnected


def test_wrongVersionDropsTheConnection(pair: PBPair) -> None:
    pair.sendRaw(pair.client, [b"version", 5])
    assert pair.server.disconnected


def test_unknownCommandIsAnsweredWithDidNotUnderstand(pair: PBPair) -> None:
    seen: list[Any] = []
    original = pair.client.proto_didNotUnderstand

    def record(self: pb.Broker, command: Any) -> None:
        seen.append(command)
        original(command)

    pair.client._handlers = dict(pair.client._handlers)
    pair.client._handlers[b"didNotUnderstand"] = (record, 2)
    pair.sendRaw(pair.client, [b"frobnicate", 1])
    assert seen == [b"frobnicate"]
    assert not pair.server.disconnected


@pytest.mark.parametrize(
    "expression",
    [
        [],
        5,
        [[b"message"]],
        [b"message", 1],
        [b"message", b"one", b"root", b"add", 1, [b"tuple"], [b"dictionary"]],
        [b"message", 1, b"root", 5, 1, [b"tuple"], [b"dictionary"]],
        [b"answer"],
        [b"decref", 1, 2, 3],
    ],
)
def test_malformedExpressionDropsOnlyThatConnection(expression: Any) -> None:
    root = Root()
    victim = PBPair(root)
    bystander = PBPair(root)
    victim.sendRaw(victim.client, expression)
    assert victim.server.disconnected
    assert bystander.call(bystander.root(), "add", 1) == 3


def test_droppedConnectionIsLoggedWithTheReason() -> None:
    from torsion.logger import formatEvent, globalLogPublisher

    events: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(events.append)
    try:
        pair = PBPair(Root())
        pair.sendRaw(pair.client, [b"decref", 1, 2, 3])
    finally:
        globalLogPublisher.removeObserver(events.append)
    text = [formatEvent(event) for event in events]
    assert any("decref" in line and "takes 1 arguments, not 3" in line for line in text), text
    assert pair.server.disconnected


def test_callOnUnknownObjectIsAnError(pair: PBPair) -> None:
    pair.root()
    ghost = pb.RemoteReference(None, pair.client, 999, 0)
    failure = pair.callFailure(ghost, "ping", 1)
    assert failure.check(pb.Error)
    assert "Invalid Object ID" in failure.getErrorMessage()


def test_unknownDecrefsAndAnswersAreIgnored(pair: PBPair) -> None:
    root = pair.root()
    pair.sendRaw(pair.client, [b"decref", 12345])
    pair.sendRaw(pair.client, [b"decref", b"root"])
    pair.sendRaw(pair.server, [b"answer", 777, 1])
    pair.sendRaw(pair.server, [b"error", 777, 1])
    assert pair.call(root, "add", 1) == 3


def test_forbiddenClassInArgumentsIsRefused(pair: PBPair) -> None:
    root = pair.root()
    d = root.callRemote("echo")
    pair.flush()
    resultOf(d)
    pair.client.sendEncoded(
        [
            b"message",
            50,
            b"root",
            b"echo",
            1,
            [b"tuple", [b"os.system", [b"dictionary"]]],
            [b"dictionary"],
        ]
    )
    answers: list[Any] = []
    original = pair.client.proto_error

    def record(self: pb.Broker, requestID: Any, fail: Any) -> None:
        answers.append(requestID)
        original(requestID, fail)

    pair.client._handlers = dict(pair.client._handlers)
    pair.client._handlers[b"error"] = (record, 3)
    pair.flush()
    assert answers == [50]
    assert pair.call(root, "add", 1) == 3


def test_callWithUnsendableArgumentFails(pair: PBPair) -> None:
    root = pair.root()
    d = root.callRemote("echo", b"x" * (pb.banana.SIZE_LIMIT + 1))
    failureOf(d).trap(pb.banana.BananaError)
    assert pair.client.waitingForAnswers == {}


def test_overAsyncioAwait(pair: PBPair) -> None:
    root = pair.root()

    async def use() -> int:
        d = root.callRemote("add", 40)
        pair.flush()
        return await d  # type: ignore[no-any-return]

    coroutine = use()
    with pytest.raises(StopIteration) as stopped:
        coroutine.send(None)
    assert stopped.value.value == 42


def test_realSockets(reactor: Any) -> None:
    root = Root()
    port = runUntilFired(
        reactor,
        TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(pb.PBServerFactory(root)),
    )
    try:
        factory = pb.PBClientFactory()
        reactor.connectTCP("127.0.0.1", port.getHost().port, factory)
        rootRef = runUntilFired(reactor, factory.getRootObject())
        assert runUntilFired(reactor, rootRef.callRemote("add", 1, b=2)) == 3
        assert runUntilFired(reactor, rootRef.callRemote("callBack", ClientCallback(), 2)) == 20
        child = runUntilFired(reactor, rootRef.callRemote("newChild", "net"))
        assert runUntilFired(reactor, child.callRemote("ping", [1] * 100)) == (
            "pong",
            "net",
            [1] * 100,
        )
        pending = rootRef.callRemote("later")
        runUntilFired(reactor, rootRef.callRemote("nothing"))
        factory.disconnect()
        with pytest.raises(pb.PBConnectionLost):
            runUntilFired(reactor, pending)
    finally:
        runUntilFired(reactor, port.stopListening() or succeed(None))


def test_endpointClient(reactor: Any) -> None:
    port = runUntilFired(
        reactor,
        TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(pb.PBServerFactory(Root())),
    )
    try:
        factory = pb.PBClientFactory()
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)
        runUntilFired(reactor, endpoint.connect(factory))
        rootRef = runUntilFired(reactor, factory.getRootObject())
        assert runUntilFired(reactor, rootRef.callRemote("coroutine", 1)) == 2
        factory.disconnect()
    finally:
        runUntilFired(reactor, port.stopListening() or succeed(None))


def test_connectionRefusedFailsGetRootObject(reactor: Any) -> None:
    import socket

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    freePort = probe.getsockname()[1]
    probe.close()
    factory = pb.PBClientFactory()
    reactor.connectTCP("127.0.0.1", freePort, factory)
    with pytest.raises(error.ConnectionRefusedError):
        runUntilFired(reactor, factory.getRootObject())


def test_asyncioDriverCanAwaitCalls() -> None:
    pair = PBPair(Root())
    root = pair.root()

    async def main() -> int:
        d = root.callRemote("add", 1, b=1)
        pair.flush()
        return await d.asFuture(asyncio.get_running_loop())  # type: ignore[no-any-return]

    assert asyncio.run(main()) == 2


def test_failureResultOfAnUnansweredCallIsNotLeaked(pair: PBPair) -> None:
    root = pair.root()
    d = root.callRemote("later")
    pair.disconnect()
    assert isinstance(failureOf(d), Failure)


class _RecordingBroker(pb.Broker):
    """A broker whose sendEncoded records what it sends: calls and answers go through it."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.sent: list[Any] = []

    def sendEncoded(self, obj: object) -> None:
        self.sent.append(obj)
        super().sendEncoded(obj)


def test_aSubclassOverridingSendEncodedSeesCallsAndAnswers() -> None:
    serverFactory = pb.PBServerFactory(Root())
    serverFactory.protocol = _RecordingBroker
    clientFactory = pb.PBClientFactory()
    clientFactory.protocol = _RecordingBroker
    pair = PBPair(Root(), serverFactory=serverFactory, clientFactory=clientFactory)
    root = pair.root()
    assert pair.call(root, "add", 1) == 3
    client, server = pair.client, pair.server
    assert isinstance(client, _RecordingBroker) and isinstance(server, _RecordingBroker)
    assert [b"message", 1, b"root", b"add", 1, [b"tuple", 1], [b"dictionary"]] in client.sent
    assert [b"answer", 1, 3] in server.sent
    assert pb.Broker._plainSend is True and _RecordingBroker._plainSend is False


@pytest.mark.parametrize("requestID", [126, 1022, 2**14 - 2, 2**21 - 2, 2**28 - 2, 2**31 - 2])
def test_requestIDsOfEveryLengthAreAnswered(pair: PBPair, requestID: int) -> None:
    # Request ids are encoded by the encoder's table, in place or in general as they grow.
    root = pair.root()
    pair.client.currentRequestID = requestID
    assert [pair.call(root, "add", n) for n in range(4)] == [2, 3, 4, 5]
    assert pair.client.currentRequestID == requestID + 4
    assert pair.client.waitingForAnswers == {}
