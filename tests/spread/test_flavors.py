"""Tests for torsion.spread.flavors: copies, views, and the flavors' behaviour without PB."""

from __future__ import annotations

from typing import Any

import pytest
from zope.interface import implementer

from tests.spread.pbtesting import PBPair, resultOf
from torsion.cred import checkers, credentials, portal
from torsion.spread import flavors, jelly, pb


class Point(pb.Copyable):
    def __init__(self, x: int, y: int) -> None:
        self.x = x
        self.y = y
        self.cache = "not sent"

    def getStateToCopy(self) -> dict[str, Any]:
        return {"x": self.x, "y": self.y}


class RemotePoint(pb.RemoteCopy):
    x: int
    y: int

    def norm1(self) -> int:
        return abs(self.x) + abs(self.y)


pb.setUnjellyableForClass(Point, RemotePoint)


class Secret(pb.Copyable):
    """A copyable that nobody registered a RemoteCopy for."""

    def __init__(self) -> None:
        self.value = 1


class PerViewer(pb.Copyable):
    def getStateToCopyFor(self, perspective: Any) -> Any:
        return {"for": repr(perspective)}

    def getTypeToCopyFor(self, perspective: Any) -> bytes:
        return b"tests.Renamed"


class Renamed(pb.RemoteCopy):
    pass


pb.setUnjellyableForClass("tests.Renamed", Renamed)


class Tagged:
    def __init__(self, state: Any) -> None:
        self.state = state


class TaggedCopyable(pb.Copyable):
    def __init__(self) -> None:
        self.label = "made by a factory"


pb.setFactoryForClass(TaggedCopyable, Tagged)


class Holder(pb.Copyable):
    def __init__(self, child: Any) -> None:
        self.child = child


class RemoteHolder(pb.RemoteCopy):
    child: Any


pb.setUnjellyableForClass(Holder, RemoteHolder)


class Callee(pb.Referenceable):
    def remote_hi(self) -> str:
        return "hi"


class Root(pb.Root):
    def remote_point(self) -> Point:
        return Point(3, -4)

    def remote_points(self) -> list[Point]:
        shared = Point(1, 1)
        return [shared, shared, Point(2, 2)]

    def remote_secret(self) -> Secret:
        return Secret()

    def remote_perViewer(self) -> PerViewer:
        return PerViewer()

    def remote_tagged(self) -> TaggedCopyable:
        return TaggedCopyable()

    def remote_holder(self) -> Holder:
        return Holder(Callee())

    def remote_takePoint(self, point: Any) -> int:
        return point.norm1()  # type: ignore[no-any-return]


@pytest.fixture
def pair() -> PBPair:
    return PBPair(Root())


def test_copyableArrivesAsItsRemoteCopy(pair: PBPair) -> None:
    point = pair.call(pair.root(), "point")
    assert isinstance(point, RemotePoint)
    assert (point.x, point.y) == (3, -4)
    assert not hasattr(point, "cache")
    assert point.norm1() == 7


def test_sharedCopiesStaySharedWithinOneMessage(pair: PBPair) -> None:
    first, second, third = pair.call(pair.root(), "points")
    assert first is second
    assert first is not third


def test_copyWithoutARegisteredRemoteCopyIsRefused(pair: PBPair) -> None:
    failures: list[Any] = []
    pair.root().callRemote("secret").addErrback(failures.append)
    pair.flush()
    assert failures[0].check(jelly.InsecureJelly)
    assert "Secret" in failures[0].getErrorMessage()
    assert not pair.client.disconnected


def test_copyCanDependOnThePerspectiveAndRenameItsType(pair: PBPair) -> None:
    copy = pair.call(pair.root(), "perViewer")
    assert isinstance(copy, Renamed)
    assert copy.__dict__ == {"for": "None"}


def test_factoryBuildsTheCopy(pair: PBPair) -> None:
    copy = pair.call(pair.root(), "tagged")
    assert isinstance(copy, Tagged)
    assert copy.state == {"label": "made by a factory"}


def test_copyCarriesAReference(pair: PBPair) -> None:
    holder = pair.call(pair.root(), "holder")
    assert isinstance(holder.child, pb.RemoteReference)
    assert pair.call(holder.child, "hi") == "hi"


def test_clientSendsACopyToTheServer(pair: PBPair) -> None:
    assert pair.call(pair.root(), "takePoint", Point(-5, 5)) == 10


def test_copyableJelliesWithoutABroker() -> None:
    secure = jelly.SecurityOptions()
    secure.allowBasicTypes()
    secure.allowInstancesOf(Point)
    sexp = jelly.jelly(Point(1, 2), secure)
    rebuilt = jelly.unjelly(sexp, secure)
    assert isinstance(rebuilt, RemotePoint)


def test_setCopierAliases() -> None:
    assert pb.setCopierForClass is jelly.setUnjellyableForClass
    assert pb.setCopierForClassTree is jelly.setUnjellyableForClassTree
    assert pb.setFactoryForClass is jelly.setUnjellyableFactoryForClass


def test_malformedCopyIsRefused() -> None:
    broker = pb.Broker()
    with pytest.raises(ValueError, match="copy is"):
        jelly.unjelly([Point.__module__.encode() + b".Point", 1, 2], invoker=broker)


# -- views ---------------------------------------------------------------------------


class Room(pb.Viewable):
    def __init__(self) -> None:
        self.said: list[tuple[Any, str]] = []

    def view_say(self, perspective: Any, words: str) -> int:
        self.said.append((perspective.name, words))
        return len(self.said)


class Member(pb.Avatar):
    def __init__(self, name: bytes, room: Room) -> None:
        self.name = name
        self.room = room

    def perspective_room(self) -> Room:
        return self.room


@implementer(portal.IRealm)
class Realm:
    def __init__(self) -> None:
        self.room = Room()

    def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Any:
        return pb.IPerspective, Member(avatarId, self.room), lambda: None


def test_viewableCallsKnowTheirPerspective() -> None:
    realm = Realm()
    checker = checkers.InMemoryUsernamePasswordDatabaseDontUse(ann=b"a", bob=b"b")
    thePortal = portal.Portal(realm, [checker])
    pairs = {name: PBPair(thePortal) for name in (b"ann", b"bob")}
    rooms = {}
    for name, pair in pairs.items():
        password = {b"ann": b"a", b"bob": b"b"}[name]
        d = pair.clientFactory.login(credentials.UsernamePassword(name, password))
        pair.flush()
        rooms[name] = pair.call(resultOf(d), "room")
    assert pairs[b"ann"].call(rooms[b"ann"], "say", "hello") == 1
    assert pairs[b"bob"].call(rooms[b"bob"], "say", "hi ann") == 2
    assert realm.room.said == [(b"ann", "hello"), (b"bob", "hi ann")]


def test_viewableSameViewTwiceIsOneReference() -> None:
    realm = Realm()
    checker = checkers.InMemoryUsernamePasswordDatabaseDontUse(ann=b"a")
    pair = PBPair(portal.Portal(realm, [checker]))
    d = pair.clientFactory.login(credentials.UsernamePassword(b"ann", b"a"))
    pair.flush()
    avatar = resultOf(d)
    assert pair.call(avatar, "room") is pair.call(avatar, "room")


def test_viewPointCallsViewMethods() -> None:
    room = Room()

    class Who:
        name = "direct"

    point = flavors.ViewPoint(Who(), room)
    broker = pb.Broker()
    result = point.remoteMessageReceived(
        broker, b"say", [b"tuple", [b"unicode", b"x"]], [b"dictionary"]
    )
    assert result == 1
    assert room.said == [("direct", "x")]
    with pytest.raises(pb.NoSuchMethod):
        point.remoteMessageReceived(broker, b"shout", [b"tuple"], [b"dictionary"])


def test_viewableAndReferenceableNeedABroker() -> None:
    with pytest.raises(TypeError, match="PB connection"):
        jelly.jelly(Room())


def test_methodNamesMustBeText() -> None:
    with pytest.raises(TypeError, match="bytes or str"):
        flavors._methodName("remote_", 5)  # type: ignore[arg-type]
