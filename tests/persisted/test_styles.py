"""Versioned upgrades, Ephemeral objects, and pickling modules and methods (styles)."""

from __future__ import annotations

import copyreg
import math
import pickle
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.persisted.graphs import EphemeralThing, Node
from torsion.logger import LogEvent, formatEvent
from torsion.persisted import aot, marmalade, sob, styles

# -- classes that change between saving and loading ----------------------------------
# A test saves an object, then changes the class (version, upgrade methods) the way a
# new release of a program would, then loads.


class Base(styles.Versioned):
    persistenceVersion = 1

    def __init__(self) -> None:
        self.log: list[str] = []
        self.baseName = "base"


class Derived(Base):
    persistenceVersion = 1

    def __init__(self) -> None:
        super().__init__()
        self.derivedName = "derived"


class Unversioned(styles.Versioned):
    """Has no persistenceVersion yet: its saved state has no version key."""

    def __init__(self) -> None:
        self.value = 1


class Forgetful(styles.Versioned):
    persistenceVersion = 1
    persistenceForgets = ("cache", "socket")

    def __init__(self) -> None:
        self.kept = 1
        self.cache = {"big": "thing"}


class Peer(styles.Versioned):
    persistenceVersion = 1

    def __init__(self, other: Peer | None = None) -> None:
        self.other = other
        self.label = "old"


FORMS: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "pickle": (pickle.dumps, pickle.loads),
    "source": (aot.jellyToSource, aot.unjellyFromSource),
    "xml": (marmalade.jellyToXML, marmalade.unjellyFromXML),
}


class Saved:
    """An object saved in one form, to load after the test has changed its class."""

    def __init__(self, form: str, obj: Any) -> None:
        dump, self._load = FORMS[form]
        self._data = dump(obj)

    def load(self) -> Any:
        loaded = self._load(self._data)
        styles.doUpgrade()
        return loaded


@pytest.fixture(params=sorted(FORMS))
def save(request: pytest.FixtureRequest) -> Callable[[Any], Saved]:
    return lambda obj: Saved(request.param, obj)


@pytest.fixture
def roundTrip(save: Callable[[Any], Saved]) -> Callable[[Any], Any]:
    return lambda obj: save(obj).load()


def test_stateCarriesTheVersionOfEachVersionedClass() -> None:
    state = Derived().__getstate__()
    assert state["tests.persisted.test_styles.Base.persistenceVersion"] == 1
    assert state["tests.persisted.test_styles.Derived.persistenceVersion"] == 1
    assert state["baseName"] == "base"


def test_gettingStateLeavesTheObjectAlone() -> None:
    obj = Derived()
    obj.__getstate__()
    assert not any(key.endswith("persistenceVersion") for key in vars(obj))


def test_upgradesRunInOrderAfterLoading(
    monkeypatch: pytest.MonkeyPatch, save: Callable[[Any], Saved]
) -> None:
    saved = save(Base())
    monkeypatch.setattr(Base, "persistenceVersion", 3)
    monkeypatch.setattr(Base, "upgradeToVersion2", lambda self: self.log.append("2"), raising=False)
    monkeypatch.setattr(Base, "upgradeToVersion3", lambda self: self.log.append("3"), raising=False)
    loaded = saved.load()
    assert loaded.log == ["2", "3"]
    assert not any(key.endswith("persistenceVersion") for key in vars(loaded))


def test_objectAtTheCurrentVersionIsNotUpgraded(
    monkeypatch: pytest.MonkeyPatch, save: Callable[[Any], Saved]
) -> None:
    monkeypatch.setattr(Base, "upgradeToVersion1", lambda self: self.log.append("1"), raising=False)
    assert save(Base()).load().log == []


def test_baseClassesUpgradeBeforeSubclasses(
    monkeypatch: pytest.MonkeyPatch, save: Callable[[Any], Saved]
) -> None:
    saved = save(Derived())
    monkeypatch.setattr(Base, "persistenceVersion", 2)
    monkeypatch.setattr(Derived, "persistenceVersion", 2)
    monkeypatch.setattr(
        Base, "upgradeToVersion2", lambda self: self.log.append("base 2"), raising=False
    )
    monkeypatch.setattr(
        Derived, "upgradeToVersion2", lambda self: self.log.append("derived 2"), raising=False
    )
    assert saved.load().log == ["base 2", "derived 2"]


def test_eachClassUpgradesFromItsOwnSavedVersion(
    monkeypatch: pytest.MonkeyPatch, save: Callable[[Any], Saved]
) -> None:
    saved = save(Derived())
    monkeypatch.setattr(Derived, "persistenceVersion", 3)
    monkeypatch.setattr(
        Base, "upgradeToVersion2", lambda self: self.log.append("base 2"), raising=False
    )
    monkeypatch.setattr(
        Derived, "upgradeToVersion2", lambda self: self.log.append("d2"), raising=False
    )
    monkeypatch.setattr(
        Derived, "upgradeToVersion3", lambda self: self.log.append("d3"), raising=False
    )
    # Base stayed at version 1: only Derived's steps run.
    assert saved.load().log == ["d2", "d3"]


def test_missingStepsAreSkipped(
    monkeypatch: pytest.MonkeyPatch, save: Callable[[Any], Saved]
) -> None:
    saved = save(Base())
    monkeypatch.setattr(Base, "persistenceVersion", 4)
    monkeypatch.setattr(Base, "upgradeToVersion3", lambda self: self.log.append("3"), raising=False)
    assert saved.load().log == ["3"]


def test_upgradeMayRenameAttributes(
    monkeypatch: pytest.MonkeyPatch, save: Callable[[Any], Saved]
) -> None:
    def rename(self: Any) -> None:
        self.name = self.__dict__.pop("baseName")

    saved = save(Base())
    monkeypatch.setattr(Base, "persistenceVersion", 2)
    monkeypatch.setattr(Base, "upgradeToVersion2", rename, raising=False)
    loaded = saved.load()
    assert loaded.name == "base"
    assert not hasattr(loaded, "baseName")


def test_stateSavedBeforeVersioningCountsAsVersionZero(
    monkeypatch: pytest.MonkeyPatch, save: Callable[[Any], Saved]
) -> None:
    assert not any(key.endswith("persistenceVersion") for key in Unversioned().__getstate__())
    saved = save(Unversioned())
    calls: list[int] = []
    monkeypatch.setattr(Unversioned, "persistenceVersion", 1, raising=False)
    monkeypatch.setattr(
        Unversioned, "upgradeToVersion1", lambda self: calls.append(1), raising=False
    )
    saved.load()
    assert calls == [1]


def test_persistenceForgetsLeavesAttributesOut(roundTrip: Callable[[Any], Any]) -> None:
    obj = Forgetful()
    assert "cache" not in obj.__getstate__()
    loaded = roundTrip(obj)
    assert loaded.kept == 1
    assert not hasattr(loaded, "cache")
    assert obj.cache == {"big": "thing"}


def test_requireUpgradeGivesAnUpgradeMethodAnUpgradedPeer(
    monkeypatch: pytest.MonkeyPatch, save: Callable[[Any], Saved]
) -> None:
    first = Peer()
    second = Peer(first)
    first.other = second
    saved = save([first, second])
    seen: list[str] = []

    def upgrade(self: Any) -> None:
        styles.requireUpgrade(self.other)
        seen.append(self.other.label)
        self.label = "new"

    monkeypatch.setattr(Peer, "persistenceVersion", 2)
    monkeypatch.setattr(Peer, "upgradeToVersion2", upgrade, raising=False)
    loaded = saved.load()
    # Whichever is upgraded first upgrades its peer before reading it; each runs once.
    assert seen == ["old", "new"]
    assert [peer.label for peer in loaded] == ["new", "new"]


def test_upgradeWaitsForDoUpgrade(monkeypatch: pytest.MonkeyPatch) -> None:
    saved = pickle.dumps(Base())
    monkeypatch.setattr(Base, "persistenceVersion", 2)
    monkeypatch.setattr(Base, "upgradeToVersion2", lambda self: self.log.append("2"), raising=False)
    loaded = pickle.loads(saved)
    assert loaded.log == []
    assert styles.versionedsToUpgrade == {id(loaded): loaded}
    styles.doUpgrade()
    assert loaded.log == ["2"]
    assert styles.versionedsToUpgrade == {}


def test_doUpgradeEmptiesTheQueueEvenWhenAnUpgradeFails(monkeypatch: pytest.MonkeyPatch) -> None:
    saved = pickle.dumps([Base(), Base()])

    def fail(self: Any) -> None:
        raise RuntimeError("upgrade failed")

    monkeypatch.setattr(Base, "persistenceVersion", 2)
    monkeypatch.setattr(Base, "upgradeToVersion2", fail, raising=False)
    pickle.loads(saved)
    with pytest.raises(RuntimeError, match="upgrade failed"):
        styles.doUpgrade()
    assert styles.versionedsToUpgrade == {}
    assert styles.upgraded == {}


def test_newerSavedVersionIsLoadedAsItIsWithAWarning(
    monkeypatch: pytest.MonkeyPatch, logged: list[LogEvent]
) -> None:
    monkeypatch.setattr(Base, "persistenceVersion", 5)
    saved = pickle.dumps(Base())
    monkeypatch.setattr(Base, "persistenceVersion", 2)
    monkeypatch.setattr(Base, "upgradeToVersion2", lambda self: self.log.append("2"), raising=False)
    loaded = pickle.loads(saved)
    styles.doUpgrade()
    assert loaded.log == []
    messages = [formatEvent(event) for event in logged]
    assert any("saved by version 5" in message and "newer" in message for message in messages)


def test_sobLoadRunsTheUpgrades(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = sob.Persistent(Base(), "versioned").save(filename=str(tmp_path / "v.tap"))
    monkeypatch.setattr(Base, "persistenceVersion", 2)
    monkeypatch.setattr(Base, "upgradeToVersion2", lambda self: self.log.append("2"), raising=False)
    assert sob.load(path, "pickle").log == ["2"]


# -- Ephemeral ---------------------------------------------------------------------------


def test_ephemeralComesBackEmpty(roundTrip: Callable[[Any], Any]) -> None:
    holder = Node("holder", resource=EphemeralThing())
    loaded = roundTrip(holder)
    assert type(loaded.resource) is styles.Ephemeral
    assert vars(loaded.resource) == {}
    assert loaded.name == "holder"


def test_ephemeralIsSavedAsAPlaceholder() -> None:
    thing = EphemeralThing()
    assert b"handle" not in pickle.dumps(thing)
    assert "handle" not in aot.jellyToSource(thing)


# -- modules and methods -----------------------------------------------------------------


def test_modulesPickleByName() -> None:
    assert copyreg.dispatch_table[types.ModuleType] is styles.pickleModule
    assert pickle.loads(pickle.dumps(math)) is math
    assert pickle.loads(pickle.dumps({"m": types}))["m"] is types


def test_modulesRoundTripInEveryForm(roundTrip: Callable[[Any], Any]) -> None:
    assert roundTrip([math, pickle])[0] is math


def test_privateMethodsPickle(roundTrip: Callable[[Any], Any]) -> None:
    node = Node("n")
    # Python's own reduction names the method "__secret", which does not load.
    with pytest.raises(AttributeError):
        getattr(node, node.secretMethod().__reduce__()[1][1])
    loaded = roundTrip(node.secretMethod())
    assert loaded() == "secret of n"


def test_boundMethodsKeepTheirObject(roundTrip: Callable[[Any], Any]) -> None:
    node = Node("n")
    loaded = roundTrip([node, node.method, Node.make])
    assert loaded[1].__self__ is loaded[0]
    assert loaded[1]() == "method of n"
    assert loaded[2]("x").name == "x"


def test_methodNotFoundUnderItsNameIsRefused() -> None:
    node = Node("n")
    method = node.method
    node.method = lambda: None  # type: ignore[method-assign]
    with pytest.raises(Exception, match="is not this method"):
        pickle.dumps(method)


def test_methodAttributeNameMangles() -> None:
    node = Node("n")
    assert styles.methodAttributeName(node.secretMethod()) == "_Node__secret"
    assert styles.methodAttributeName(node.method) == "method"
    assert styles.methodAttributeName(node.__repr__) == "__repr__"
