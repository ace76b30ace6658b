"""Tests for torsion.python.components: the adapter registry, Componentized, proxies."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from zope.interface import Attribute, Interface, implementedBy, implementer
from zope.interface.adapter import AdapterRegistry
from zope.interface.verify import verifyObject

from torsion.python import components


class IGreeter(Interface):
    def greet(name: str) -> str:
        """Return a greeting."""


class IShouter(Interface):
    def shout() -> str:
        """Return something loud."""


class ICounter(Interface):
    count = Attribute("A number.")

    def increment() -> int:
        """Add one; return the new count."""


class ILoudCounter(ICounter):
    def boom() -> str:
        """Make noise."""


class Person:
    def __init__(self, name: str) -> None:
        self.name = name


@implementer(IGreeter)
class PersonGreeter:
    def __init__(self, person: Person) -> None:
        self.person = person

    def greet(self, name: str) -> str:
        return f"{self.person.name} greets {name}"


@implementer(IGreeter, IShouter)
class GreeterAndShouter:
    def greet(self, name: str) -> str:
        return f"hi {name}"

    def shout(self) -> str:
        return "HEY"


@implementer(ILoudCounter)
class Counter:
    def __init__(self) -> None:
        self.count = 0

    def increment(self) -> int:
        self.count += 1
        return self.count

    def boom(self) -> str:
        return "boom"


@pytest.fixture
def cleanRegistry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give the test an empty global registry of its own."""
    registry = AdapterRegistry()
    monkeypatch.setattr(components, "globalRegistry", registry)
    monkeypatch.setattr(components, "_registry", registry)


# -- the registry ------------------------------------------------------------------------


@pytest.mark.usefixtures("cleanRegistry")
def test_registeredAdapterIsUsedByInterfaceCall() -> None:
    components.registerAdapter(PersonGreeter, Person, IGreeter)
    greeter = IGreeter(Person("ann"))
    assert isinstance(greeter, PersonGreeter)
    assert greeter.greet("bob") == "ann greets bob"


@pytest.mark.usefixtures("cleanRegistry")
def test_adapterFromAClassAppliesToSubclasses() -> None:
    class Employee(Person):
        pass

    components.registerAdapter(PersonGreeter, Person, IGreeter)
    assert IGreeter(Employee("cy")).greet("dee") == "cy greets dee"


@pytest.mark.usefixtures("cleanRegistry")
def test_adapterFromAnInterface() -> None:
    class ShouterFromGreeter:
        def __init__(self, original: Any) -> None:
            self.original = original

    components.registerAdapter(ShouterFromGreeter, IGreeter, IShouter)
    original = PersonGreeter(Person("x"))
    assert IShouter(original).original is original


@pytest.mark.usefixtures("cleanRegistry")
def test_oneFactoryForSeveralInterfaces() -> None:
    components.registerAdapter(lambda person: GreeterAndShouter(), Person, IGreeter, IShouter)
    assert IShouter(Person("x")).shout() == "HEY"
    assert IGreeter(Person("x")).greet("y") == "hi y"


@pytest.mark.usefixtures("cleanRegistry")
def test_registeringTheSamePairTwiceFails() -> None:
    components.registerAdapter(PersonGreeter, Person, IGreeter)
    with pytest.raises(ValueError, match=r"already registered.*ALLOW_DUPLICATES"):
        components.registerAdapter(lambda p: None, Person, IGreeter)
    assert isinstance(IGreeter(Person("a")), PersonGreeter)


@pytest.mark.usefixtures("cleanRegistry")
def test_allowDuplicatesReplaces(monkeypatch: pytest.MonkeyPatch) -> None:
    components.registerAdapter(PersonGreeter, Person, IGreeter)
    monkeypatch.setattr(components, "ALLOW_DUPLICATES", True)
    components.registerAdapter(lambda p: "replaced", Person, IGreeter)
    assert components.getAdapter(Person("a"), IGreeter) == "replaced"


def test_registerAdapterNeedsATargetInterface() -> None:
    with pytest.raises(TypeError, match="names no interface"):
        components.registerAdapter(PersonGreeter, Person)


def test_registerAdapterRejectsAnInstanceAsOrigin() -> None:
    with pytest.raises(TypeError, match="interface or a class"):
        components.registerAdapter(PersonGreeter, Person("not a class"), IGreeter)


@pytest.mark.usefixtures("cleanRegistry")
def test_getAdapterFactory() -> None:
    assert components.getAdapterFactory(Person, IGreeter, "none") == "none"
    components.registerAdapter(PersonGreeter, Person, IGreeter)
    assert components.getAdapterFactory(Person, IGreeter, None) is PersonGreeter


@pytest.mark.usefixtures("cleanRegistry")
def test_getAdapter() -> None:
    person = Person("eve")
    assert components.getAdapter(person, IGreeter, "default") == "default"
    with pytest.raises(components.CannotAdapt, match="IGreeter"):
        components.getAdapter(person, IGreeter)
    provider = GreeterAndShouter()
    assert components.getAdapter(provider, IGreeter) is provider
    components.registerAdapter(PersonGreeter, Person, IGreeter)
    assert components.getAdapter(person, IGreeter).greet("f") == "eve greets f"


def test_cannotAdaptIsATypeError() -> None:
    assert issubclass(components.CannotAdapt, TypeError)


# -- Componentized -----------------------------------------------------------------------


def test_setComponentMakesInterfaceCallReturnIt() -> None:
    thing = components.Componentized()
    greeter = GreeterAndShouter()
    thing.setComponent(IGreeter, greeter)
    assert IGreeter(thing) is greeter
    assert thing.getComponent(IGreeter) is greeter
    with pytest.raises(TypeError):
        IShouter(thing)
    assert IShouter(thing, None) is None


def test_addComponentWithIgnoreClassUsesEveryDeclaredInterface() -> None:
    thing = components.Componentized()
    both = GreeterAndShouter()
    thing.addComponent(both, ignoreClass=True)
    assert IGreeter(thing) is both
    assert IShouter(thing) is both


def test_addComponentWithoutIgnoreClassNeedsARegisteredAdapterClass() -> None:
    thing = components.Componentized()
    thing.addComponent(GreeterAndShouter())
    assert thing.getComponent(IGreeter) is None


@pytest.mark.usefixtures("cleanRegistry")
def test_addComponentWithoutIgnoreClassKeepsTheRegisteredAdapterClass() -> None:
    class Thing(components.Componentized):
        pass

    @implementer(IGreeter, IShouter)
    class ThingGreeter(components.Adapter):
        pass

    components.registerAdapter(ThingGreeter, Thing, IGreeter)
    thing = Thing()
    both = ThingGreeter(thing)
    thing.addComponent(both)
    assert thing.getComponent(IGreeter) is both
    assert thing.getComponent(IShouter) is None


def test_getComponentDefault() -> None:
    thing = components.Componentized()
    assert thing.getComponent(IGreeter) is None
    assert thing.getComponent(IGreeter, "nope") == "nope"


def test_unsetAndRemoveComponent() -> None:
    thing = components.Componentized()
    both = GreeterAndShouter()
    thing.addComponent(both, ignoreClass=True)
    thing.unsetComponent(IShouter)
    assert IShouter(thing, None) is None
    with pytest.raises(KeyError, match="IShouter"):
        thing.unsetComponent(IShouter)
    thing.setComponent(IShouter, both)
    removed = thing.removeComponent(both)
    assert set(removed) == {IGreeter, IShouter}
    assert thing.getComponent(IGreeter) is None
    assert thing.removeComponent(both) == []


@pytest.mark.usefixtures("cleanRegistry")
def test_adapterMadeForAComponentizedIsKept() -> None:
    class Thing(components.Componentized):
        pass

    made: list[Any] = []

    class Adapted(components.Adapter):
        def greet(self, name: str) -> str:
            return name

    def factory(original: Any) -> Any:
        made.append(Adapted(original))
        return made[-1]

    components.registerAdapter(factory, Thing, IGreeter)
    thing = Thing()
    assert IGreeter(thing) is IGreeter(thing)
    assert len(made) == 1
    assert made[0].original is thing


@pytest.mark.usefixtures("cleanRegistry")
def test_temporaryAdapterIsNotKept() -> None:
    class Thing(components.Componentized):
        pass

    class Temporary(components.Adapter):
        temporaryAdapter = True

    components.registerAdapter(Temporary, Thing, IGreeter)
    thing = Thing()
    assert IGreeter(thing) is not IGreeter(thing)


@pytest.mark.usefixtures("cleanRegistry")
def test_multiComponentAdapterIsKeptForItsOtherInterfaces() -> None:
    class Thing(components.Componentized):
        pass

    @implementer(IGreeter, IShouter)
    class Both(components.Adapter):
        def greet(self, name: str) -> str:
            return name

        def shout(self) -> str:
            return "!"

    components.registerAdapter(Both, Thing, IGreeter, IShouter)
    thing = Thing()
    greeter = IGreeter(thing)
    assert IShouter(thing) is greeter


def test_adapterConformsThroughItsOriginal() -> None:
    thing = components.Componentized()
    shouter = GreeterAndShouter()
    thing.setComponent(IShouter, shouter)
    adapter = components.Adapter(thing)
    assert IShouter(adapter) is shouter
    assert components.Adapter(object()).__conform__(IShouter) is None


def test_componentizedPicklesWithItsComponents() -> None:
    thing = components.Componentized()
    counter = Counter()
    counter.increment()
    thing.addComponent(counter, ignoreClass=True)
    copy = pickle.loads(pickle.dumps(thing))
    assert ILoudCounter(copy) is not counter
    assert ILoudCounter(copy).count == 1
    # Kept under the dotted names of the declared interfaces (not their bases).
    assert list(thing._adapterCache) == [f"{__name__}.ILoudCounter"]
    assert ICounter(copy, None) is None


@pytest.mark.usefixtures("cleanRegistry")
def test_getRegistryIsTheRegistryThatRegisterAdapterFills() -> None:
    components.registerAdapter(PersonGreeter, Person, IGreeter)
    registry = components.getRegistry()
    assert registry.lookup1(implementedBy(Person), IGreeter) is PersonGreeter


# -- proxyForInterface -------------------------------------------------------------------


def test_proxyForwardsMethodsAndAttributesOfTheInterfaceAndItsBases() -> None:
    counter = Counter()
    proxy = components.proxyForInterface(ILoudCounter)(counter)
    assert verifyObject(ILoudCounter, proxy)
    assert proxy.increment() == 1
    assert proxy.count == 1
    assert proxy.boom() == "boom"
    proxy.count = 10
    assert counter.count == 10
    del proxy.count
    assert not hasattr(counter, "count")


def test_proxyKeepsTheOriginalUnderTheGivenName() -> None:
    counter = Counter()
    proxy = components.proxyForInterface(ICounter, "wrapped")(counter)
    assert proxy.wrapped is counter
    assert not hasattr(proxy, "original")


def test_proxyDoesNotForwardOtherNames() -> None:
    counter = Counter()
    counter.extra = "x"  # type: ignore[attr-defined]
    proxy = components.proxyForInterface(ICounter)(counter)
    assert not hasattr(proxy, "extra")
    assert not hasattr(proxy, "boom")


def test_proxySubclassOverridesOneMethodAndCallsThrough() -> None:
    base = components.proxyForInterface(ICounter)

    class Doubling(base):  # type: ignore[misc, valid-type]
        def increment(self) -> int:
            base.increment(self)
            return int(base.increment(self))

    counter = Counter()
    proxy = Doubling(counter)
    assert proxy.increment() == 2
    assert counter.count == 2
    assert ICounter.providedBy(proxy)


def test_proxyClassNameNamesTheInterface() -> None:
    assert "ICounter" in components.proxyForInterface(ICounter).__name__
