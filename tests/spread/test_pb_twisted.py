"""Quick wire checks against Twisted's PB, run as a child process (skipped without Twisted).

A Twisted client calls a torsion server (calls, references both ways, errors, a copy, a
cache kept in sync, login good and bad), and a torsion client does the same against a
Twisted server. The thorough interop suite is tests/spread/test_twistedinterop*.py.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
from zope.interface import implementer

from tests.internet.reactormixins import REACTOR_FACTORIES, closeReactor, runUntil, runUntilFired
from tests.spread.peers import twistedPython
from torsion.cred import checkers, credentials, portal
from torsion.internet.defer import ensureDeferred, maybeDeferred
from torsion.spread import pb

TWISTED = twistedPython()
pytestmark = pytest.mark.skipif(
    TWISTED is None,
    reason="no Python with Twisted: set TORSION_TWISTED_PYTHON or create bench/.venv-twisted",
)

# Both sides define the same classes under the module name "pbpeer", so that copies
# and caches have one wire name.
PEER_CLASSES = """
class Point(pb.Copyable):
    def __init__(self, x=0, y=0):
        self.x = x
        self.y = y

class RemotePoint(pb.RemoteCopy):
    pass

class Counter(pb.Cacheable):
    def __init__(self):
        self.value = 0
        self.observers = []
    def getStateToCacheAndObserveFor(self, perspective, observer):
        self.observers.append(observer)
        return {"value": self.value}
    def stoppedObserving(self, perspective, observer):
        self.observers.remove(observer)
    def bump(self):
        self.value += 1
        for observer in self.observers:
            observer.callRemote("set", self.value)

class RemoteCounter(pb.RemoteCache):
    def observe_set(self, value):
        self.value = value

class Busy(pb.Error):
    pass

class Root(pb.Root):
    def __init__(self):
        self.counter = Counter()
    def remote_add(self, a, b=1):
        return a + b
    def remote_callBack(self, ref, value):
        return ref.callRemote("twice", value)
    def remote_busy(self):
        raise Busy("come back later")
    def remote_point(self):
        return Point(3, 4)
    def remote_norm(self, point):
        return point.x + point.y
    def remote_counter(self):
        return self.counter
    def remote_bump(self):
        self.counter.bump()

class Twice(pb.Referenceable):
    def remote_twice(self, value):
        return value * 2

class Mind(pb.Referenceable):
    def remote_hello(self):
        return "mind here"

pb.setUnjellyableForClass("pbpeer.Point", RemotePoint)
pb.setUnjellyableForClass("pbpeer.Counter", RemoteCounter)
"""

CLIENT_STEPS = """
async def steps(factory, port, results, credentials):
    root = await factory.getRootObject()
    results["add"] = await root.callRemote("add", 2, b=3)
    results["callBack"] = await root.callRemote("callBack", Twice(), 21)
    try:
        await root.callRemote("busy")
    except Exception as e:
        results["busy"] = [str(e)]
    point = await root.callRemote("point")
    results["point"] = [type(point).__name__, point.x, point.y]
    results["norm"] = await root.callRemote("norm", Point(5, 6))
    counter = await root.callRemote("counter")
    await root.callRemote("bump")
    await root.callRemote("add", 0)
    results["counter"] = counter.value
"""

TWISTED_CLIENT = """
import json, sys, types
from twisted.internet import reactor, defer
from twisted.spread import pb
from twisted.cred import credentials
module = types.ModuleType("pbpeer")
module.pb = pb
exec(compile(CLASSES, "pbpeer", "exec"), module.__dict__)
sys.modules["pbpeer"] = module
for name in ("Point", "Counter", "Busy", "Root", "Twice", "Mind", "RemotePoint", "RemoteCounter"):
    getattr(module, name).__module__ = "pbpeer"
globals().update({k: v for k, v in module.__dict__.items() if not k.startswith("__")})
exec(STEPS)
port = int(sys.argv[1])
results = {}

async def main():
    factory = pb.PBClientFactory()
    reactor.connectTCP("127.0.0.1", port, factory)
    await steps(factory, port, results, credentials)
    login = pb.PBClientFactory()
    reactor.connectTCP("127.0.0.1", port + 1, login)
    avatar = await login.login(credentials.UsernamePassword(b"alice", b"secret"), Mind())
    results["whoami"] = (await avatar.callRemote("whoami")).decode()
    results["mind"] = await avatar.callRemote("askMind")
    from twisted.cred.error import UnauthorizedLogin
    bad = login.login(credentials.UsernamePassword(b"alice", b"wrong"))
    bad.addErrback(lambda f: results.__setitem__("badLogin", bool(f.check(UnauthorizedLogin))))
    await bad

def finish(result):
    print(json.dumps(results))
    reactor.stop()
    return result

d = defer.ensureDeferred(main())
d.addErrback(lambda f: results.setdefault("error", f.getTraceback()))
d.addBoth(finish)
reactor.callLater(20, reactor.stop)
reactor.run()
"""

TWISTED_SERVER = """
import sys, types
from twisted.internet import reactor
from twisted.spread import pb
module = types.ModuleType("pbpeer")
module.pb = pb
exec(compile(CLASSES, "pbpeer", "exec"), module.__dict__)
sys.modules["pbpeer"] = module
for name in ("Point", "Counter", "Busy", "Root", "Twice", "Mind", "RemotePoint", "RemoteCounter"):
    getattr(module, name).__module__ = "pbpeer"
port = reactor.listenTCP(0, pb.PBServerFactory(module.Root()), interface="127.0.0.1")
print(port.getHost().port, flush=True)
reactor.callLater(30, reactor.stop)
reactor.run()
"""


def _peerModule() -> Any:
    import types

    module = types.ModuleType("pbpeer")
    module.pb = pb  # type: ignore[attr-defined]
    exec(compile(PEER_CLASSES, "pbpeer", "exec"), module.__dict__)
    for name in ("Point", "Counter", "Busy", "Root", "Twice", "Mind", "RemotePoint"):
        getattr(module, name).__module__ = "pbpeer"
    module.RemoteCounter.__module__ = "pbpeer"
    return module


def _script(body: str) -> str:
    return (
        f"CLASSES = {PEER_CLASSES!r}\nSTEPS = {textwrap.dedent(CLIENT_STEPS)!r}\n"
        + textwrap.dedent(body)
    )


class User(pb.Avatar):
    def __init__(self, avatarId: bytes, mind: Any) -> None:
        self.avatarId = avatarId
        self.mind = mind

    def perspective_whoami(self) -> bytes:
        return self.avatarId

    def perspective_askMind(self) -> Any:
        return self.mind.callRemote("hello")


@implementer(portal.IRealm)
class Realm:
    def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Any:
        return pb.IPerspective, User(avatarId, mind), lambda: None


EXPECTED = {
    "add": 5,
    "callBack": 42,
    "busy": ["come back later"],
    "point": ["RemotePoint", 3, 4],
    "norm": 11,
    "counter": 1,
}


def test_twistedClientCallsTorsionServer(tmp_path: Path) -> None:
    assert TWISTED is not None
    module = _peerModule()
    reactor = REACTOR_FACTORIES["select"]()
    try:
        port = reactor.listenTCP(0, pb.PBServerFactory(module.Root()), interface="127.0.0.1")
        number = port.getHost().port
        thePortal = portal.Portal(
            Realm(), [checkers.InMemoryUsernamePasswordDatabaseDontUse(alice=b"secret")]
        )
        try:
            loginPort = reactor.listenTCP(
                number + 1, pb.PBServerFactory(thePortal), interface="127.0.0.1"
            )
        except Exception:
            pytest.skip("the port after a free one is taken; try again")
        script = tmp_path / "client.py"
        script.write_text(_script(TWISTED_CLIENT))
        child = subprocess.Popen(
            [TWISTED, str(script), str(number)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        runUntil(reactor, lambda: child.poll() is not None, timeout=30)
        out, err = child.communicate(timeout=5)
        results = json.loads(out.decode().strip().splitlines()[-1])
        assert "error" not in results, results["error"]
        for key, value in EXPECTED.items():
            assert results[key] == value, (key, results, err.decode()[-2000:])
        assert results["whoami"] == "alice"
        assert results["mind"] == "mind here"
        assert results["badLogin"] is True
        runUntilFired(reactor, maybeDeferred(port.stopListening))
        runUntilFired(reactor, maybeDeferred(loginPort.stopListening))
    finally:
        closeReactor(reactor)


def test_torsionClientCallsTwistedServer(tmp_path: Path) -> None:
    assert TWISTED is not None
    module = _peerModule()
    pb.setUnjellyableForClass("pbpeer.Point", module.RemotePoint)
    pb.setUnjellyableForClass("pbpeer.Counter", module.RemoteCounter)
    script = tmp_path / "server.py"
    script.write_text(_script(TWISTED_SERVER))
    child = subprocess.Popen([TWISTED, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    reactor = REACTOR_FACTORIES["select"]()
    try:
        assert child.stdout is not None
        number = int(child.stdout.readline())
        namespace: dict[str, Any] = dict(vars(module))
        exec(textwrap.dedent(CLIENT_STEPS), namespace)
        factory = pb.PBClientFactory()
        reactor.connectTCP("127.0.0.1", number, factory)
        results: dict[str, Any] = {}
        runUntilFired(
            reactor,
            ensureDeferred(namespace["steps"](factory, number, results, credentials)),
            timeout=20,
        )
        assert results == EXPECTED
        factory.disconnect()
    finally:
        child.kill()
        child.wait(timeout=10)
        closeReactor(reactor)
