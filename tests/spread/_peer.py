"""A PB server or client in a process of its own, for the two-process and interop tests.

    python tests/spread/_peer.py FRAMEWORK serve [--users NAME:PASSWORD,...] [--anonymous]
    python tests/spread/_peer.py FRAMEWORK client PORT [--user NAME --password PASSWORD]

FRAMEWORK is ``torsion`` or ``twisted``: one body of code runs on either, since torsion
keeps Twisted's names (the Twisted side runs in bench/.venv-twisted, where torsion is not
installed, so nothing here imports torsion unless FRAMEWORK says so). The test drives it
through JSON lines: one command per line on standard input, and on standard output one
answer per command (``{"id": N, "result": ...}`` or ``{"id": N, "error": TYPE,
"message": ..., "connectionLost": bool}``) plus unprompted events (``{"event": ...}``:
a cache update, a notice to the client's mind, a connection lost). The server prints
``{"port": N}`` first, the client ``{"connected": true}`` (or an error) once it has its
root object or perspective. End of input ends either at once.

The server offers, on its root (no ``--users``) or on each user's perspective (with
``--users``, through a Portal; ``--anonymous`` lets anonymous logins in too): echo, add,
fail (a pb.Error or a ValueError), never (an answer that never comes), item (a Copyable
sent), takeItem (a copy received), store (a Cacheable key/value store, every change
reaching each observer), set, child (a Referenceable made per call), callBack (calls a
Referenceable the client sent), stats (live observers, brokers, logins, logouts).
Imported (``tests.spread._peer``), it gives the test process the same classes on
torsion, without touching the global reactor. Wire names of the copied classes are
fixed (``ITEM``, ``STORE``), not the module path of this script, so that both
frameworks and the test process agree on them.
Tests: tests/spread/test_twoprocess.py, test_twistedinterop.py, test_hostile.py.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import threading
from typing import Any

ITEM = "torsion.tests.peer.Item"
STORE = "torsion.tests.peer.Store"

# Run as a script, the first argument picks the framework; imported (by the tests, for
# the same classes in the test process), it is torsion.
FRAMEWORK = sys.argv[1] if __name__ == "__main__" and len(sys.argv) > 1 else "torsion"
fw = FRAMEWORK
defer: Any = importlib.import_module(f"{fw}.internet.defer")
error: Any = importlib.import_module(f"{fw}.internet.error")
pb: Any = importlib.import_module(f"{fw}.spread.pb")
portal: Any = importlib.import_module(f"{fw}.cred.portal")
checkers: Any = importlib.import_module(f"{fw}.cred.checkers")
credentials: Any = importlib.import_module(f"{fw}.cred.credentials")
implementer = importlib.import_module("zope.interface").implementer
# Set by main(): the command line and the (global) reactor.
options: Any = None
reactor: Any = None


def parseArguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("framework", choices=["torsion", "twisted"])
    parser.add_argument("role", choices=["serve", "client"])
    parser.add_argument("port", nargs="?", type=int, default=0)
    parser.add_argument("--users", default="", help="NAME:PASSWORD,... (serve: log in via cred)")
    parser.add_argument("--anonymous", action="store_true", help="serve: allow anonymous logins")
    parser.add_argument("--user", help="client: log in as this user")
    parser.add_argument("--password", default="", help="client: with this password")
    parser.add_argument("--anonymous-login", action="store_true", help="client: log in anonymously")
    parser.add_argument("--log", action="store_true", help="log to standard error")
    return parser.parse_args()


def say(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def plain(value: Any) -> Any:
    """``value`` as JSON can carry it (tuples become lists; bytes, sets and copies tagged)."""
    if isinstance(value, bytes):
        return {"bytes": value.decode("latin-1")}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return {"set": sorted(plain(v) for v in value)}
    if isinstance(value, dict):
        return {str(plain(k)): plain(v) for k, v in value.items()}
    if isinstance(value, Item):
        return {"item": [type(value).__name__, value.name, value.price]}
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    return {"repr": repr(value)}


def unplain(value: Any) -> Any:
    """The inverse of ``plain`` for what the tests send ({"bytes": ...}, {"item": ...})."""
    if isinstance(value, list):
        return [unplain(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"bytes"}:
            return value["bytes"].encode("latin-1")
        if set(value) == {"item"}:
            return Item(*value["item"])
        if set(value) == {"tuple"}:
            return tuple(unplain(v) for v in value["tuple"])
        return {k: unplain(v) for k, v in value.items()}
    return value


class Item(pb.Copyable, pb.RemoteCopy):  # type: ignore[misc]
    """A small copyable: copied by value both ways, under the wire name ITEM."""

    def __init__(self, name: str = "", price: float = 0.0) -> None:
        self.name = name
        self.price = price

    def getTypeToCopy(self) -> bytes:
        return ITEM.encode()


pb.setUnjellyableForClass(ITEM, Item)


# -- the server ------------------------------------------------------------------------


class Counts:
    """What the server side has now: live brokers, logins, logouts, unanswered calls."""

    live: list[Any] = []
    logins: list[str] = []
    logouts = 0
    pending: list[Any] = []

    @classmethod
    def reset(cls) -> None:
        cls.live, cls.logins, cls.logouts, cls.pending = [], [], 0, []
        STORE_OBJECT.data.clear()
        STORE_OBJECT.observers.clear()


class Store(pb.Cacheable):  # type: ignore[misc]
    """A shared key/value store; each observer hears every change (observe_set)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.observers: list[Any] = []

    def getTypeToCopyFor(self, perspective: Any) -> bytes:
        return STORE.encode()

    def getStateToCacheAndObserveFor(self, perspective: Any, observer: Any) -> Any:
        self.observers.append(observer)
        return dict(self.data)

    def stoppedObserving(self, perspective: Any, observer: Any) -> None:
        self.observers.remove(observer)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value
        for observer in self.observers:
            observer.callRemote("set", key, value)


STORE_OBJECT = Store()


class Child(pb.Referenceable):  # type: ignore[misc]
    def __init__(self, name: str) -> None:
        self.name = name

    def remote_name(self) -> str:
        return self.name


def stats() -> dict[str, Any]:
    return {
        "observers": len(STORE_OBJECT.observers),
        "brokers": len(Counts.live),
        "logins": Counts.logins,
        "logouts": Counts.logouts,
        "pending": len(Counts.pending),
    }


class Calls:
    """The methods offered both on the root and on each perspective."""

    def echo(self, value: Any) -> Any:
        return value

    def add(self, a: Any, b: Any) -> Any:
        return a + b

    def fail(self, kind: str) -> None:
        if kind == "pb":
            raise pb.Error("you asked for a pb.Error")
        raise ValueError("a detail the server keeps to itself")

    def never(self) -> Any:
        d = defer.Deferred()
        Counts.pending.append(d)
        return d

    def item(self, name: str, price: float) -> Item:
        return Item(name, price)

    def takeItem(self, item: Any) -> str:
        return f"{type(item).__name__}:{item.name}:{item.price}"

    def store(self) -> Store:
        return STORE_OBJECT

    def set(self, key: str, value: Any) -> None:
        STORE_OBJECT.set(key, value)

    def child(self, name: str) -> Child:
        return Child(name)

    def callBack(self, ref: Any, value: Any) -> Any:
        return ref.callRemote("hello", value)

    def stats(self) -> dict[str, Any]:
        return stats()


def exposed(prefix: str) -> dict[str, Any]:
    calls = Calls()
    return {prefix + name: getattr(calls, name) for name in vars(Calls) if name[0] != "_"}


Root = type("Root", (pb.Root,), {k: staticmethod(v) for k, v in exposed("remote_").items()})


class User(pb.Avatar):  # type: ignore[misc]
    def __init__(self, name: str, mind: Any) -> None:
        self.name = name
        self.mind = mind

    def perspective_whoami(self) -> str:
        return self.name

    def perspective_notify(self, message: str) -> Any:
        return self.mind.callRemote("notice", message)


for _name, _method in exposed("perspective_").items():
    setattr(User, _name, staticmethod(_method))


@implementer(portal.IRealm)
class Realm:
    def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Any:
        if pb.IPerspective not in interfaces:
            raise NotImplementedError("only PB perspectives here")
        name = avatarId.decode() if isinstance(avatarId, bytes) else "anonymous"
        Counts.logins.append(name)

        def logout() -> None:
            Counts.logouts += 1

        return pb.IPerspective, User(name, mind), logout


class CountingBroker(pb.Broker):  # type: ignore[misc]
    def connectionMade(self) -> None:
        Counts.live.append(self)
        super().connectionMade()

    def connectionLost(self, reason: Any) -> None:
        if self in Counts.live:
            Counts.live.remove(self)
        super().connectionLost(reason)


def serverFactory(users: str = "", anonymous: bool = False) -> Any:
    """The server's factory: the Root, or (given users or anonymous) a Portal to Users."""
    if users or anonymous:
        accounts = {}
        for pair in filter(None, users.split(",")):
            name, _, password = pair.partition(":")
            accounts[name] = password.encode()
        checkerList = [checkers.InMemoryUsernamePasswordDatabaseDontUse(**accounts)]
        if anonymous:
            checkerList.append(checkers.AllowAnonymousAccess())
        factory = pb.PBServerFactory(portal.Portal(Realm(), checkerList))
    else:
        factory = pb.PBServerFactory(Root())
    factory.protocol = CountingBroker
    return factory


def serve() -> None:
    factory = serverFactory(options.users, options.anonymous)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    say(port=port.getHost().port)

    def command(line: list[Any]) -> None:
        what, number, *rest = line
        if what == "set":
            STORE_OBJECT.set(rest[0], unplain(rest[1]))
            say(id=number, result=None)
        elif what == "stats":
            say(id=number, result=stats())
        elif what == "dropAll":
            for broker in list(Counts.live):
                broker.transport.loseConnection()
            say(id=number, result=None)
        elif what == "imported":
            say(id=number, result=rest[0] in sys.modules)
        elif what == "finishPending":
            for d in Counts.pending:
                d.callback(rest[0] if rest else None)
            Counts.pending.clear()
            say(id=number, result=None)
        else:
            say(id=number, error="UnknownCommand", message=repr(line))

    control(command)


# -- the client ------------------------------------------------------------------------


class RemoteStore(pb.RemoteCache):  # type: ignore[misc]
    def setCopyableState(self, state: Any) -> None:
        self.data = dict(state)

    def observe_set(self, key: str, value: Any) -> None:
        self.data[key] = value
        say(event="set", key=key, value=plain(value))


pb.setUnjellyableForClass(STORE, RemoteStore)


class Mind(pb.Referenceable):  # type: ignore[misc]
    def remote_notice(self, message: str) -> str:
        say(event="notice", message=message)
        return "noted"

    def remote_hello(self, value: Any) -> Any:
        return ["hello", value]


def describeFailure(reason: Any) -> dict[str, Any]:
    kind = reason.type
    if isinstance(kind, bytes):
        kind = kind.decode()
    elif not isinstance(kind, str):
        kind = f"{kind.__module__}.{kind.__qualname__}"
    lost = reason.check(error.ConnectionLost, pb.PBConnectionLost) is not None
    return {"error": kind, "message": str(reason.value), "connectionLost": lost}


def client() -> None:
    factory = pb.PBClientFactory()
    reactor.connectTCP("127.0.0.1", options.port, factory)
    held: dict[str, Any] = {}
    mind = Mind()
    if options.user is not None:
        creds = credentials.UsernamePassword(options.user.encode(), options.password.encode())
        d = factory.login(creds, client=mind)
    elif options.anonymous_login:
        d = factory.login(credentials.Anonymous(), client=mind)
    else:
        d = factory.getRootObject()

    def connected(root: Any) -> None:
        held["root"] = root
        root.notifyOnDisconnect(lambda ref: say(event="disconnected"))
        say(connected=True)

    d.addCallbacks(connected, lambda reason: say(connected=False, **describeFailure(reason)))

    def answer(number: Any, d: Any, convert: Any = plain) -> None:
        d.addCallbacks(
            lambda result: say(id=number, result=convert(result)),
            lambda reason: say(id=number, **describeFailure(reason)),
        )

    def command(line: list[Any]) -> None:
        what, number, *rest = line
        root = held.get("root")
        if what == "call":
            method, args = rest
            answer(number, defer.maybeDeferred(root.callRemote, method, *unplain(args)))
        elif what == "cache":

            def keep(store: Any) -> Any:
                held["store"] = store
                return {"class": type(store).__name__, "data": store.data}

            answer(number, root.callRemote("store"), lambda s: plain(keep(s)))
        elif what == "cached":
            say(id=number, result=plain(held["store"].data))
        elif what == "dropCache":
            held.pop("store", None)
            say(id=number, result=None)
        elif what == "callBack":
            answer(number, root.callRemote("callBack", mind, unplain(rest[0])))
        elif what == "child":

            def named(child: Any) -> Any:
                return child.callRemote("name")

            answer(number, root.callRemote("child", rest[0]).addCallback(named))
        elif what == "disconnect":
            factory.disconnect()
            say(id=number, result=None)
        else:
            say(id=number, error="UnknownCommand", message=repr(line))

    control(command)


def control(command: Any) -> None:
    """Read JSON command lines in a thread; run each in the reactor; exit at end of input."""

    def run(line: list[Any]) -> None:
        try:
            command(line)
        except Exception as e:
            say(id=line[1] if len(line) > 1 else None, error=type(e).__name__, message=str(e))

    def read() -> None:
        for text in sys.stdin:
            if text.strip():
                reactor.callFromThread(run, json.loads(text))
        os._exit(0)

    threading.Thread(target=read, daemon=True).start()
    reactor.run(installSignalHandlers=False)


def main() -> None:
    global options, reactor
    options = parseArguments()
    if fw == "torsion":
        from torsion.internet import default

        default.install()
    reactor = importlib.import_module(f"{fw}.internet.reactor")
    if options.log:
        importlib.import_module(f"{fw}.python.log").startLogging(sys.stderr, setStdout=False)
    if options.role == "serve":
        serve()
    else:
        client()


if __name__ == "__main__":
    main()
