"""Two processes talking PB: a child process (a torsion PB server or client) and this one.

The child is tests/spread/_peer.py, driven by JSON lines; this process is the other
side, on a fresh reactor of its own (the default kind and asyncio on uvloop), with the
same classes (imported from _peer). Shown both ways round: remote calls, references
passed both ways, copies both ways, a cache that the other process updates live,
errors with their type names, logins with good and bad passwords and the client's
mind, and a disconnect in the middle of a call failing the caller's Deferred with
PBConnectionLost (a ConnectionLost), with the references of the side that stays
released (counted, and checked with weak references).

``PeerTests`` holds the tests; ``TestTorsionPeer`` runs them with a torsion child,
and tests/spread/test_twistedinterop.py with a Twisted one (a real peer nobody here
wrote). Every wait is bounded and every child is killed when its test ends.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.internet.reactormixins import (
    REACTOR_FACTORIES,
    closeReactor,
    runUntil,
    trackDescriptors,
)
from tests.spread import _peer
from tests.spread.peers import JSONPeer, peerArgv, requireTwisted, torsionPython
from torsion.cred.credentials import UsernamePassword
from torsion.internet.defer import Deferred
from torsion.internet.error import ConnectionLost
from torsion.python.failure import Failure
from torsion.spread import pb

REACTORS = [name for name in ("epoll", "asyncio+uvloop") if name in REACTOR_FACTORIES] or ["select"]


@contextmanager
def freshReactor(name: str) -> Iterator[Any]:
    """A new reactor of kind ``name`` for this process's side, and clean server counts."""
    made = REACTOR_FACTORIES[name]()
    trackDescriptors(made)
    _peer.Counts.reset()
    try:
        yield made
    finally:
        closeReactor(made)
        _peer.Counts.reset()


@pytest.fixture(params=REACTORS)
def pbReactor(request: pytest.FixtureRequest) -> Iterator[Any]:
    with freshReactor(request.param) as made:
        yield made


def outcome(reactor: Any, d: Deferred[Any], timeout: float = 15) -> Any:
    """Spin ``reactor`` until ``d`` fires; its result or its Failure (not raised)."""
    results: list[Any] = []
    d.addBoth(results.append)
    runUntil(reactor, lambda: results, timeout)
    return results[0]


def wait(reactor: Any, d: Deferred[Any], timeout: float = 15) -> Any:
    """Spin ``reactor`` until ``d`` fires; its result (its failure is raised)."""
    result = outcome(reactor, d, timeout)
    if isinstance(result, Failure):
        result.raiseException()
    return result


def failureOf(reactor: Any, d: Deferred[Any], timeout: float = 15) -> Failure:
    result = outcome(reactor, d, timeout)
    assert isinstance(result, Failure), f"expected a failure, got {result!r}"
    return result


class Mind(pb.Referenceable):  # type: ignore[misc]
    """This process's callbacks, sent to the child by reference."""

    def __init__(self) -> None:
        self.notices: list[str] = []

    def remote_hello(self, value: Any) -> Any:
        return ["hello from the test process", value]

    def remote_notice(self, message: str) -> str:
        self.notices.append(message)
        return "noted by the test process"


class PeerTests:
    """The tests; subclasses say which framework the child runs (``framework``)."""

    framework = "torsion"

    # -- fixtures ---------------------------------------------------------------------

    @pytest.fixture
    def python(self) -> str:
        return requireTwisted() if self.framework == "twisted" else torsionPython()

    @pytest.fixture
    def spawn(self, python: str, pbReactor: Any) -> Iterator[Callable[..., JSONPeer]]:
        """Start ``_peer.py FRAMEWORK ARGS...``; this reactor turns while we wait on it."""
        started: list[JSONPeer] = []

        def start(*args: str) -> JSONPeer:
            peer = JSONPeer(
                peerArgv(python, self.framework, *args),
                f"{self.framework} {args[0]}",
                spin=lambda: pbReactor.iterate(0.01),
            )
            started.append(peer)
            return peer

        try:
            yield start
        finally:
            for peer in started:
                peer.kill()
                peer.stop()

    def childServer(self, spawn: Callable[..., JSONPeer], *args: str) -> tuple[JSONPeer, int]:
        server = spawn("serve", *args)
        return server, int(server.message()["port"])

    def connect(self, reactor: Any, port: int) -> pb.PBClientFactory:
        factory = pb.PBClientFactory()
        reactor.connectTCP("127.0.0.1", port, factory)
        return factory

    def rootOf(self, reactor: Any, port: int) -> tuple[pb.PBClientFactory, Any]:
        factory = self.connect(reactor, port)
        return factory, wait(reactor, factory.getRootObject())

    def remoteName(self, name: str) -> str:
        """A class name as the child's framework spells it."""
        return f"{self.framework}.{name}"

    # -- a child server, this process the client ----------------------------------------

    def test_remoteCallsCarryValuesBothWays(self, pbReactor: Any, spawn: Any) -> None:
        _, port = self.childServer(spawn)
        _, root = self.rootOf(pbReactor, port)
        value = {
            "text": "naïve",
            "bytes": b"\x00\xff",
            "numbers": [0, -1, 2**70, -(2**70), 1.5, float("inf")],
            "nested": [[], [[]], {"k": (1, 2)}],
            "flags": [True, False, None],
            "set": {1, 2, 3},
        }
        assert wait(pbReactor, root.callRemote("echo", value)) == value
        assert wait(pbReactor, root.callRemote("add", 2**64, 1)) == 2**64 + 1
        answers = [root.callRemote("add", i, i) for i in range(50)]
        assert [wait(pbReactor, d) for d in answers] == [2 * i for i in range(50)]

    def test_referencesGoBothWays(self, pbReactor: Any, spawn: Any) -> None:
        _, port = self.childServer(spawn)
        _, root = self.rootOf(pbReactor, port)
        child = wait(pbReactor, root.callRemote("child", "kid"))
        assert isinstance(child, pb.RemoteReference)
        assert wait(pbReactor, child.callRemote("name")) == "kid"
        mind = Mind()
        answer = wait(pbReactor, root.callRemote("callBack", mind, [1, "two"]))
        assert answer == ["hello from the test process", [1, "two"]]

    def test_copiesGoBothWays(self, pbReactor: Any, spawn: Any) -> None:
        _, port = self.childServer(spawn)
        _, root = self.rootOf(pbReactor, port)
        item = wait(pbReactor, root.callRemote("item", "pen", 1.5))
        assert isinstance(item, _peer.Item) and (item.name, item.price) == ("pen", 1.5)
        sent = _peer.Item("cup", 2.0)
        assert wait(pbReactor, root.callRemote("takeItem", sent)) == "Item:cup:2.0"

    def test_aCacheIsUpdatedLiveByTheOtherProcess(self, pbReactor: Any, spawn: Any) -> None:
        server, port = self.childServer(spawn)
        _, root = self.rootOf(pbReactor, port)
        server.result("set", "before", 1)
        store = wait(pbReactor, root.callRemote("store"))
        assert isinstance(store, _peer.RemoteStore) and store.data == {"before": 1}
        data = store.data
        server.result("set", "color", "blue")
        runUntil(pbReactor, lambda: data.get("color") == "blue", 10)
        wait(pbReactor, root.callRemote("set", "mine", [1, 2]))
        runUntil(pbReactor, lambda: data.get("mine") == [1, 2], 10)
        assert server.result("stats")["observers"] == 1
        # Dropping the last reference to the copy tells the owner to stop updating it.
        del store
        gc.collect()
        wait(pbReactor, root.callRemote("echo", "flush"))
        assert server.result("stats")["observers"] == 0

    def test_errorsArriveWithTheRemoteTypeName(self, pbReactor: Any, spawn: Any) -> None:
        _, port = self.childServer(spawn)
        _, root = self.rootOf(pbReactor, port)
        failure = failureOf(pbReactor, root.callRemote("fail", "pb"))
        assert failure.check(pb.Error) is not None
        assert failure.getErrorMessage() == "you asked for a pb.Error"
        failure = failureOf(pbReactor, root.callRemote("fail", "value"))
        assert failure.check("builtins.ValueError") is not None
        if self.framework == "torsion":
            # torsion keeps the message of an exception that is not a pb.Error to itself.
            assert "keeps to itself" not in failure.getErrorMessage()
        failure = failureOf(pbReactor, root.callRemote("noSuchMethod"))
        assert failure.check(self.remoteName("spread.flavors.NoSuchMethod")) is not None
        with pytest.raises(pb.RemoteError, match=r"you asked for a pb\.Error"):
            wait(pbReactor, root.callRemote("fail", "pb"))

    def test_loginWithAGoodPasswordGivesThePerspective(self, pbReactor: Any, spawn: Any) -> None:
        server, port = self.childServer(spawn, "--users", "alice:secret,bob:pw")
        factory = self.connect(pbReactor, port)
        mind = Mind()
        alice = wait(pbReactor, factory.login(UsernamePassword(b"alice", b"secret"), mind))
        assert wait(pbReactor, alice.callRemote("whoami")) == "alice"
        assert wait(pbReactor, alice.callRemote("notify", "hi")) == "noted by the test process"
        assert mind.notices == ["hi"]
        assert server.result("stats")["logins"] == ["alice"]
        factory.disconnect()
        runUntil(pbReactor, lambda: server.result("stats")["logouts"] == 1, 10)

    def test_loginWithABadPasswordIsRefused(self, pbReactor: Any, spawn: Any) -> None:
        server, port = self.childServer(spawn, "--users", "alice:secret")
        factory = self.connect(pbReactor, port)
        for name, password in ((b"alice", b"wrong"), (b"nobody", b"secret")):
            failure = failureOf(pbReactor, factory.login(UsernamePassword(name, password)))
            assert failure.check(self.remoteName("cred.error.UnauthorizedLogin")) is not None
        assert server.result("stats")["logins"] == []
        alice = wait(pbReactor, factory.login(UsernamePassword(b"alice", b"secret")))
        assert wait(pbReactor, alice.callRemote("whoami")) == "alice"

    def test_serverDyingMidCallFailsItWithConnectionLost(self, pbReactor: Any, spawn: Any) -> None:
        server, port = self.childServer(spawn)
        _, root = self.rootOf(pbReactor, port)
        lost: list[Any] = []
        root.notifyOnDisconnect(lost.append)
        pending = root.callRemote("never")
        runUntil(pbReactor, lambda: server.result("stats")["pending"] == 1, 10)
        server.kill()
        failure = failureOf(pbReactor, pending)
        assert failure.check(pb.PBConnectionLost) is not None
        assert isinstance(failure.value, ConnectionLost)
        assert lost == [root]
        with pytest.raises(pb.DeadReferenceError):
            root.callRemote("echo", 1)

    def test_serverDroppingTheConnectionMidCallFailsIt(self, pbReactor: Any, spawn: Any) -> None:
        server, port = self.childServer(spawn)
        _, root = self.rootOf(pbReactor, port)
        calls = [root.callRemote("never") for _ in range(3)]
        runUntil(pbReactor, lambda: server.result("stats")["pending"] == 3, 10)
        server.result("dropAll")
        for call in calls:
            assert isinstance(failureOf(pbReactor, call).value, ConnectionLost)
        assert server.result("stats")["brokers"] == 0

    def test_theServerForgetsAClientThatLeaves(self, pbReactor: Any, spawn: Any) -> None:
        server, port = self.childServer(spawn, "--users", "alice:secret")
        factory = self.connect(pbReactor, port)
        alice = wait(pbReactor, factory.login(UsernamePassword(b"alice", b"secret"), Mind()))
        store = wait(pbReactor, alice.callRemote("store"))
        assert store.data == {}
        assert server.result("stats")["observers"] == 1
        factory.disconnect()
        runUntil(pbReactor, lambda: server.result("stats")["brokers"] == 0, 10)
        stats = server.result("stats")
        assert (stats["observers"], stats["logouts"]) == (0, 1)

    # -- this process the server, a child client -------------------------------------------

    def listen(self, reactor: Any, **kwargs: Any) -> int:
        port = reactor.listenTCP(0, _peer.serverFactory(**kwargs), interface="127.0.0.1")
        return int(port.getHost().port)

    def childClient(self, spawn: Callable[..., JSONPeer], port: int, *args: str) -> JSONPeer:
        client = spawn("client", str(port), *args)
        connected = client.message()
        assert connected["connected"] is True, connected
        return client

    def test_aChildClientCallsThisProcess(self, pbReactor: Any, spawn: Any) -> None:
        client = self.childClient(spawn, self.listen(pbReactor))
        sent = [1, 2.5, "x", {"bytes": "y"}, {"tuple": [1, 2]}]
        assert client.result("call", "echo", [sent]) == [1, 2.5, "x", {"bytes": "y"}, [1, 2]]
        assert client.result("call", "item", ["pen", 1.5]) == {"item": ["Item", "pen", 1.5]}
        assert client.result("call", "takeItem", [{"item": ["cup", 2.0]}]) == "Item:cup:2.0"
        assert client.result("child", "kid") == "kid"
        assert client.result("callBack", 7) == ["hello", 7]
        failure = client.request("call", "fail", ["pb"])
        assert failure["error"] == "torsion.spread.pb.Error"
        assert failure["message"] == "you asked for a pb.Error"

    def test_thisProcessUpdatesTheChildsCacheLive(self, pbReactor: Any, spawn: Any) -> None:
        client = self.childClient(spawn, self.listen(pbReactor))
        _peer.STORE_OBJECT.set("before", "1")
        cached = client.result("cache")
        assert cached == {"class": "RemoteStore", "data": {"before": "1"}}
        assert len(_peer.STORE_OBJECT.observers) == 1
        _peer.STORE_OBJECT.set("color", {"r": 255})
        event = client.waitEvent(lambda e: e.get("event") == "set")
        assert (event["key"], event["value"]) == ("color", {"r": 255})
        assert client.result("cached") == {"before": "1", "color": {"r": 255}}

    def test_aChildLogsInWithGoodAndBadPasswords(self, pbReactor: Any, spawn: Any) -> None:
        port = self.listen(pbReactor, users="alice:secret")
        refused = spawn("client", str(port), "--user", "alice", "--password", "nope")
        answer = refused.message()
        assert answer["connected"] is False
        assert answer["error"].endswith("UnauthorizedLogin"), answer
        client = self.childClient(spawn, port, "--user", "alice", "--password", "secret")
        assert client.result("call", "whoami", []) == "alice"
        assert client.result("call", "notify", ["welcome"]) == "noted"
        assert client.waitEvent(lambda e: e.get("event") == "notice")["message"] == "welcome"
        assert _peer.Counts.logins == ["alice"]

    def test_droppingAChildMidCallFailsItsCall(self, pbReactor: Any, spawn: Any) -> None:
        client = self.childClient(spawn, self.listen(pbReactor))
        number = client.start("call", "never", [])
        runUntil(pbReactor, lambda: len(_peer.Counts.pending) == 1, 10)
        for broker in list(_peer.Counts.live):
            broker.transport.loseConnection()
        answer = client.answer(number)
        assert answer["connectionLost"] is True, answer
        assert answer["error"].endswith("PBConnectionLost")

    def test_nothingOfAClientThatDiesIsKept(self, pbReactor: Any, spawn: Any) -> None:
        port = self.listen(pbReactor, users="alice:secret")
        client = self.childClient(spawn, port, "--user", "alice", "--password", "secret")
        client.result("cache")
        client.result("callBack", 1)
        client.start("call", "never", [])
        runUntil(pbReactor, lambda: len(_peer.Counts.pending) == 1, 10)
        (broker,) = _peer.Counts.live
        brokerRef = weakref.ref(broker)
        del broker
        assert len(_peer.STORE_OBJECT.observers) == 1
        client.kill()
        runUntil(pbReactor, lambda: not _peer.Counts.live, 10)
        assert _peer.STORE_OBJECT.observers == []
        assert _peer.Counts.logouts == 1
        _peer.Counts.pending.clear()  # the application's own list of unanswered calls
        gc.collect()
        assert brokerRef() is None, gc.get_referrers(brokerRef())


class TestTorsionPeer(PeerTests):
    """The child runs torsion."""

    framework = "torsion"
