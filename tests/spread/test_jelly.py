"""Tests for torsion.spread.jelly: round trips, shared and cyclic structures, instances.

The taster's refusals, hostile and fuzzed expressions are in test_jelly_security.py;
equality with Twisted's own jelly is in test_jelly_twisted.py.
"""

from __future__ import annotations

import datetime
import decimal
import math
import sys
import types
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torsion.spread import jelly
from torsion.spread.jelly import (
    DummySecurityOptions,
    InsecureJelly,
    Jellyable,
    MalformedJelly,
    SecurityOptions,
    Unjellyable,
    Unpersistable,
    globalSecurity,
    setUnjellyableFactoryForClass,
    setUnjellyableForClass,
    setUnjellyableForClassTree,
    unjellyableFactoryRegistry,
    unjellyableRegistry,
)

DUMMY = DummySecurityOptions()


@pytest.fixture(autouse=True)
def cleanRegistries() -> Any:
    """Each test's registrations are forgotten afterwards."""
    registry = dict(unjellyableRegistry)
    factories = dict(unjellyableFactoryRegistry)
    yield
    unjellyableRegistry.clear()
    unjellyableRegistry.update(registry)
    unjellyableFactoryRegistry.clear()
    unjellyableFactoryRegistry.update(factories)


def roundTrip(value: Any, taster: Any = globalSecurity) -> Any:
    return jelly.unjelly(jelly.jelly(value, taster), taster)


class Point:
    """A plain class: jellied through __getstate__, built through setInstanceState."""

    def __init__(self, x: int, y: int) -> None:
        self.x = x
        self.y = y


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self) -> None:
        self.a = 1
        self.b = "two"


class WithState:
    def __init__(self) -> None:
        self.secret = "not sent"
        self.public = 3

    def __getstate__(self) -> dict[str, Any]:
        return {"public": self.public}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.restored = True


# -- basic types ----------------------------------------------------------------

BASIC = [
    None,
    True,
    False,
    0,
    -7,
    2**100,
    -(2**80),
    1.5,
    -0.0,
    float("inf"),
    b"",
    b"\x00bytes\xff",
    "",
    "text",
    "h\xe9llo \u2603 \U0001f600",
    [],
    [1, [2, [3]]],
    (),
    (1, "a", (None,)),
    {},
    {"a": 1, 2: "b", (1, 2): [3], None: True, b"k": 1.5},
    set(),
    {1, "a", (2, 3)},
    frozenset(),
    frozenset({frozenset({1}), 2}),
    datetime.datetime(2026, 12, 2, 1, 2, 3, 456789),
    datetime.datetime(1, 1, 1),
    datetime.date(1999, 12, 31),
    datetime.time(23, 59, 59, 999999),
    datetime.time(),
    datetime.timedelta(days=-3, seconds=5, microseconds=7),
    datetime.timedelta(),
    decimal.Decimal("1.25"),
    decimal.Decimal("-0.001"),
    decimal.Decimal("100"),
    decimal.Decimal("1.000"),
    decimal.Decimal("1E+5"),
    decimal.Decimal("123456789012345678901234567890.123456789"),
]


@pytest.mark.parametrize(
    "value", BASIC, ids=[f"{i}-{type(v).__name__}" for i, v in enumerate(BASIC)]
)
def test_basicTypesRoundTrip(value: Any) -> None:
    back = roundTrip(value)
    assert back == value
    assert type(back) is type(value)


def test_nanRoundTrips() -> None:
    assert math.isnan(roundTrip(float("nan")))


def test_decimalKeepsItsExponent() -> None:
    back = roundTrip(decimal.Decimal("1.000"))
    assert back.as_tuple() == decimal.Decimal("1.000").as_tuple()


def test_nestedTypesKeepTheirTypes() -> None:
    value = {"t": (1, [2, {3: (4,)}]), "s": {frozenset({5})}}
    back = roundTrip(value)
    assert back == value
    assert type(back["t"]) is tuple and type(back["t"][1]) is list


def test_theExpressionsAreTwistedsForm() -> None:
    assert jelly.jelly(None) == [b"None"]
    assert jelly.jelly(True) == [b"boolean", b"true"]
    assert jelly.jelly("\xe9") == [b"unicode", b"\xc3\xa9"]
    assert jelly.jelly([1, (2,)]) == [b"list", 1, [b"tuple", 2]]
    assert jelly.jelly({1: 2}) == [b"dictionary", [1, 2]]
    assert jelly.jelly(datetime.date(2020, 1, 2)) == [b"date", b"2020 1 2"]
    assert jelly.jelly(decimal.Decimal("-1.25")) == [b"decimal", -125, -2]


def test_nonFiniteDecimalIsRefused() -> None:
    for value in ("NaN", "Infinity", "sNaN"):
        with pytest.raises(ValueError, match="non-finite Decimal"):
            jelly.jelly(decimal.Decimal(value))


def test_twistedsInfinityDecimalIsRead() -> None:
    # Twisted writes Decimal("Infinity") with the exponent "F".
    assert jelly.unjelly([b"decimal", 0, "F"]) == decimal.Decimal("Infinity")


def test_timeZonesAreRefusedWithAnExplanation() -> None:
    aware = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    with pytest.raises(NotImplementedError, match="time zone"):
        jelly.jelly(aware)
    with pytest.raises(NotImplementedError, match="time zone"):
        jelly.jelly(datetime.time(1, tzinfo=datetime.UTC))


def test_subclassesOfBasicTypesAreInstances() -> None:
    class Text(str):
        pass

    assert jelly.jelly(Text("x"))[0] == b"unpersistable"
    assert jelly.jelly(Text("x"), DUMMY)[0] == f"{__name__}.{Text.__qualname__}".encode()


def test_unicodeTagWithBadUtf8Fails() -> None:
    with pytest.raises(MalformedJelly, match="not UTF-8"):
        jelly.unjelly([b"unicode", b"\xff"])


# -- shared and cyclic structures --------------------------------------------------


def test_listContainingItself() -> None:
    value: list[Any] = [1]
    value.append(value)
    sexp = jelly.jelly(value)
    assert sexp == [b"reference", 1, [b"list", 1, [b"dereference", 1]]]
    back = jelly.unjelly(sexp)
    assert back[0] == 1 and back[1] is back


def test_dictSharedTwice() -> None:
    shared = {"x": 1}
    sexp = jelly.jelly([shared, shared])
    assert sexp == [
        b"list",
        [b"reference", 1, [b"dictionary", [[b"unicode", b"x"], 1]]],
        [b"dereference", 1],
    ]
    back = jelly.unjelly(sexp)
    assert back == [{"x": 1}, {"x": 1}] and back[0] is back[1]


def test_dictContainingItself() -> None:
    value: dict[str, Any] = {}
    value["me"] = value
    back = roundTrip(value)
    assert back["me"] is back


def test_referenceIdsAreNumberedInTheOrderOfTheirFirstReuse() -> None:
    a, b = [1], [2]
    assert jelly.jelly([a, b, b, a]) == [
        b"list",
        [b"reference", 2, [b"list", 1]],
        [b"reference", 1, [b"list", 2]],
        [b"dereference", 1],
        [b"dereference", 2],
    ]


def test_sharedTuplesSetsAndFrozensets() -> None:
    t = (1, 2)
    s = {3}
    f = frozenset({4})
    back = roundTrip([t, t, s, s, f, f])
    assert back[0] is back[1] and back[2] is back[3] and back[4] is back[5]
    assert back == [t, t, s, s, f, f]


def test_immutableScalarsAreNotReferenced() -> None:
    text = "shared"
    day = datetime.date(2000, 1, 1)
    sexp = jelly.jelly([text, text, day, day])
    assert b"reference" not in repr(sexp).encode()


def test_tupleInACycleThroughAList() -> None:
    inner: list[Any] = []
    outer = (inner,)
    inner.append(outer)
    sexp = jelly.jelly(outer)
    assert sexp == [b"reference", 1, [b"tuple", [b"list", [b"dereference", 1]]]]
    back = jelly.unjelly(sexp)
    assert type(back) is tuple and back[0][0] is back


def test_nestedTuplesInACycle() -> None:
    inner: list[Any] = []
    value = ((inner, 1), 2)
    inner.append(value)
    back = roundTrip(value)
    assert back[0][0][0] is back and back[0][1] == 1 and back[1] == 2


def test_sharedObjectsInsideInstancesAndDictKeys() -> None:
    shared = (1, 2)
    point = Point(1, 2)
    point.pair = shared  # type: ignore[attr-defined]
    taster = SecurityOptions()
    taster.allowInstancesOf(Point)
    back = roundTrip({shared: point, "again": shared}, taster)
    key = next(k for k in back if k != "again")
    assert back["again"] is key and back[key].pair is key


def test_temporaryStatesDoNotAliasEachOther() -> None:
    # Each getStateFor returns a fresh dict that dies after jellying; its id could be
    # reused by the next one, which must not be taken for a second occurrence.
    class Fresh(Jellyable):
        def __init__(self, n: int) -> None:
            self.n = n

        def getStateFor(self, jellier: Any) -> Any:
            return {"n": self.n}

    sexp = jelly.jelly([Fresh(i) for i in range(50)])
    assert b"dereference" not in repr(sexp).encode()


# -- instances ------------------------------------------------------------------


def test_instancesOfAnAllowedClass() -> None:
    taster = SecurityOptions()
    taster.allowInstancesOf(Point)
    sexp = jelly.jelly(Point(1, 2), taster)
    assert sexp[0] == f"{__name__}.Point".encode()
    back = jelly.unjelly(sexp, taster)
    assert type(back) is Point and (back.x, back.y) == (1, 2)


def test_instanceReferringToItself() -> None:
    taster = SecurityOptions()
    taster.allowInstancesOf(Point)
    point = Point(1, 2)
    point.me = point  # type: ignore[attr-defined]
    point.ring = [point]  # type: ignore[attr-defined]
    back = roundTrip(point, taster)
    assert back.me is back and back.ring[0] is back


def test_instanceNotAllowedIsUnpersistableOnTheWay() -> None:
    assert jelly.jelly(Point(1, 2)) == [
        b"unpersistable",
        f"instance of class {__name__}.Point deemed insecure".encode(),
    ]
    point = Point(1, 2)
    sexp = jelly.jelly([point, point])
    assert sexp[1][0] == b"reference" and sexp[2] == [b"dereference", 1]
    back = roundTrip([Point(1, 2)])
    assert back == [
        Unpersistable(f"Unpersistable data: instance of class {__name__}.Point deemed insecure")
    ]


def test_getstateAndSetstateAreUsed() -> None:
    taster = SecurityOptions()
    taster.allowInstancesOf(WithState)
    back = roundTrip(WithState(), taster)
    assert back.public == 3 and back.restored and not hasattr(back, "secret")


def test_slottedInstances() -> None:
    taster = SecurityOptions()
    taster.allowInstancesOf(Slotted)
    back = roundTrip(Slotted(), taster)
    assert type(back) is Slotted and (back.a, back.b) == (1, "two")


def test_instanceWithoutStateRoundTrips() -> None:
    class Empty:
        pass

    taster = SecurityOptions()
    taster.allowInstancesOf(Empty)
    assert jelly.jelly(Empty(), taster)[1] == [b"None"]
    assert type(roundTrip(Empty(), taster)) is Empty


def test_allowInstancesOfIsExact() -> None:
    class Sub(Point):
        pass

    taster = SecurityOptions()
    taster.allowInstancesOf(Point)
    assert jelly.jelly(Sub(1, 2), taster)[0] == b"unpersistable"
    forged = [f"{__name__}.{Sub.__qualname__}".encode(), [b"dictionary"]]
    with pytest.raises(InsecureJelly, match="not allowed"):
        jelly.unjelly(forged, taster)


class Copy(Jellyable):
    """A Copyable-style class: it decides its state, a registered class is built."""

    def __init__(self, value: int) -> None:
        self.value = value
        self.cache = "local only"

    def getStateFor(self, jellier: Any) -> Any:
        return {"value": self.value, "invoker": jellier.invoker is not None}


class Copied(Unjellyable):
    def setStateFor(self, unjellier: Any, state: Any) -> None:
        self.__dict__ = state
        self.seenInvoker = unjellier.invoker


def test_jellyableAndUnjellyableThroughTheRegistry() -> None:
    setUnjellyableForClass(Copy, Copied)
    # A Jellyable goes whatever the taster; the registered tag is built without it.
    sexp = jelly.jelly(Copy(5), invoker="broker")
    assert sexp[0] == f"{__name__}.Copy".encode()
    back = jelly.unjelly(sexp, globalSecurity, invoker="broker")
    assert type(back) is Copied
    assert back.value == 5 and back.invoker is True and back.seenInvoker == "broker"


def test_registryByNameStrOrBytes() -> None:
    setUnjellyableForClass("some.remote.Thing", Copied)
    setUnjellyableForClass(b"other.Thing", Copied)
    for tag in (b"some.remote.Thing", b"other.Thing"):
        back = jelly.unjelly([tag, [b"dictionary", [[b"unicode", b"k"], 1]]])
        assert type(back) is Copied and back.k == 1
    assert b"some.remote.Thing" in unjellyableRegistry


def test_registeredPlainClassGetsInstanceState() -> None:
    setUnjellyableForClass("plain", Point)
    back = jelly.unjelly([b"plain", [b"dictionary", [[b"unicode", b"x"], 1]]])
    assert type(back) is Point and back.x == 1


def test_registeredCallableGetsTheJellyList() -> None:
    calls: list[Any] = []

    def build(unjellier: Any, jellyList: Any) -> str:
        calls.append(jellyList)
        return "built " + unjellier.unjelly(jellyList[1])

    setUnjellyableForClass("custom", build)
    assert jelly.unjelly([b"list", [b"custom", [b"unicode", b"x"]]]) == ["built x"]
    assert calls == [[b"custom", [b"unicode", b"x"]]]


def test_registeredCallableInACycleIsResolved() -> None:
    setUnjellyableForClass("box", lambda u, jl: {"inner": u.unjelly(jl[1])})
    # The box's content refers back to the box before the box exists.
    back = jelly.unjelly([b"reference", 1, [b"box", [b"list", [b"dereference", 1]]]])
    assert back["inner"][0] is back


def test_unjellyForWithUnjellyInto() -> None:
    class Pair(Unjellyable):
        def unjellyFor(self, unjellier: Any, jellyList: Any) -> Any:
            self.items = [None, None]
            unjellier.unjellyInto(self.items, 0, jellyList[1])
            unjellier.unjellyInto(self.items, 1, jellyList[2])
            return self

    setUnjellyableForClass("pair", Pair)
    # The second item is a tuple that contains the pair: filled in when it is built.
    sexp = [b"reference", 1, [b"pair", 7, [b"tuple", [b"list", [b"dereference", 1]]]]]
    back = jelly.unjelly(sexp)
    assert back.items[0] == 7 and back.items[1][0][0] is back

    holder: dict[str, Any] = {}
    sexp = [b"reference", 1, [b"tuple", [b"pair", 1, [b"dereference", 1]]]]
    back = jelly.unjelly(sexp)
    assert back[0].items == [1, back]
    assert holder == {}


def test_factoryRegistry() -> None:
    made: list[Any] = []

    def factory(state: Any) -> Point:
        made.append(state)
        return Point(state["x"], 0)

    setUnjellyableFactoryForClass(Point, factory)
    sexp = [f"{__name__}.Point".encode(), [b"dictionary", [[b"unicode", b"x"], 4]]]
    back = jelly.unjelly(sexp)
    assert type(back) is Point and back.x == 4 and made == [{"x": 4}]


def test_classTreeRegistration() -> None:
    module = types.ModuleType("remote_mod")

    class Base(Unjellyable):
        pass

    class Derived(Base):
        pass

    class Unrelated:
        pass

    module.Base = Base  # type: ignore[attr-defined]
    module.Derived = Derived  # type: ignore[attr-defined]
    module.Unrelated = Unrelated  # type: ignore[attr-defined]
    setUnjellyableForClassTree(module, Base)
    setUnjellyableForClassTree(module, Base, "pfx")
    setUnjellyableForClassTree(module, Base, "")
    for tag in (b"remote_mod.Base", b"remote_mod.Derived", b"pfx.Derived", b"Derived"):
        assert tag in unjellyableRegistry
    assert b"remote_mod.Unrelated" not in unjellyableRegistry
    assert type(jelly.unjelly([b"pfx.Derived", [b"dictionary"]])) is Derived


def test_registrationTakesOnlyCallables() -> None:
    with pytest.raises(TypeError):
        setUnjellyableForClass("x", 5)
    with pytest.raises(TypeError):
        setUnjellyableFactoryForClass("x", "nope")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        setUnjellyableForClass(3, Copied)  # type: ignore[arg-type]


# -- the jellier's hooks ----------------------------------------------------------


def test_prepareAndPreserveTrackSharing() -> None:
    class Custom(Jellyable):
        def jellyFor(self, jellier: Any) -> Any:
            sexp = jellier.prepare(self)
            sexp.extend([b"custom", jellier.jelly([self])])
            return jellier.preserve(self, sexp)

    thing = Custom()
    assert jelly.jelly([thing, thing]) == [
        b"list",
        [b"reference", 1, [b"custom", [b"list", [b"dereference", 1]]]],
        [b"dereference", 1],
    ]


def test_jellyForWithoutPrepareIsNotTracked() -> None:
    class Plain(Jellyable):
        def jellyFor(self, jellier: Any) -> Any:
            return [b"plain"]

    thing = Plain()
    assert jelly.jelly([thing, thing]) == [b"list", [b"plain"], [b"plain"]]


def test_jellierUnpersistable() -> None:
    class Refuses(Jellyable):
        def jellyFor(self, jellier: Any) -> Any:
            return jellier.unpersistable("no way")

    assert jelly.jelly(Refuses()) == [b"unpersistable", b"no way"]


def test_persistentStoreAndLoad() -> None:
    stored: dict[bytes, Point] = {}

    def store(obj: Any, jellier: Any) -> bytes | None:
        if isinstance(obj, Point):
            pid = b"p%d" % len(stored)
            stored[pid] = obj
            return pid
        return None

    point = Point(1, 2)
    sexp = jelly.jelly([point, {"k": 1}], persistentStore=store)
    assert sexp == [
        b"list",
        [b"persistent", b"p0"],
        [b"dictionary", [[b"unicode", b"k"], 1]],
    ]
    back = jelly.unjelly(sexp, persistentLoad=lambda pid, unjellier: stored[pid])
    assert back[0] is point
    # An instance met twice is stored once, as Twisted does.
    assert jelly.jelly([point, point], persistentStore=store) == [
        b"list",
        [b"reference", 1, [b"persistent", b"p1"]],
        [b"dereference", 1],
    ]


def test_persistentIdWithoutLoaderIsRefused() -> None:
    with pytest.raises(InsecureJelly, match="persistentLoad"):
        jelly.unjelly([b"persistent", b"p0"])


def test_postCallbacksRunAfterTheWholeExpression() -> None:
    order: list[str] = []

    def build(unjellier: Any, jellyList: Any) -> str:
        unjellier.postCallbacks.append(lambda: order.append("post"))
        order.append("built")
        return "x"

    setUnjellyableForClass("later", build)
    assert jelly.unjelly([b"list", [b"later"], [b"unicode", b"y"]]) == ["x", "y"]
    assert order == ["built", "post"]


def test_classesModulesAndFunctionsWithAPermissiveTaster() -> None:
    sexp = jelly.jelly([Point, sys, roundTrip], DUMMY)
    assert sexp == [
        b"list",
        [b"class", f"{__name__}.Point".encode()],
        [b"module", b"sys"],
        [b"function", f"{__name__}.roundTrip".encode()],
    ]
    back = jelly.unjelly(sexp, DUMMY)
    assert back == [Point, sys, roundTrip]


def test_classesModulesAndFunctionsAreUnpersistableByDefault() -> None:
    sexp = jelly.jelly([Point, sys, roundTrip])
    assert [item[0] for item in sexp[1:]] == [b"unpersistable"] * 3


def test_boundMethods() -> None:
    taster = SecurityOptions()
    taster.allowInstancesOf(Point)
    taster.allowTypes("method")

    class_ = Point

    def norm(self: Point) -> int:
        return self.x + self.y

    class_.norm = norm  # type: ignore[attr-defined]
    try:
        point = Point(3, 4)
        sexp = jelly.jelly(point.norm, taster)  # type: ignore[attr-defined]
        assert sexp[0] == b"method" and sexp[1] == b"norm"
        method = jelly.unjelly(sexp, taster)
        assert method() == 7
        assert jelly.jelly(point.norm)[0] == b"unpersistable"  # type: ignore[attr-defined]
    finally:
        del class_.norm  # type: ignore[attr-defined]


def test_jellyOfDeepNestingFailsClearly() -> None:
    value: list[Any] = []
    for _ in range(100_000):
        value = [value]
    with pytest.raises(ValueError, match="nests too deeply"):
        jelly.jelly(value)


# -- random graphs ----------------------------------------------------------------


def shape(value: Any) -> Any:
    """The structure of ``value`` with each shared or cyclic object numbered once."""
    seen: dict[int, int] = {}

    def walk(obj: Any) -> Any:
        if type(obj) not in (list, dict, tuple):
            return obj
        if id(obj) in seen:
            return ("ref", seen[id(obj)])
        seen[id(obj)] = len(seen)
        if type(obj) is dict:
            return ("dict", [(k, walk(v)) for k, v in obj.items()])
        return (type(obj).__name__, [walk(item) for item in obj])

    return walk(value)


@st.composite
def graphs(draw: Any) -> Any:
    """Lists and dicts that refer to each other (and to tuples of each other) at random."""
    count = draw(st.integers(min_value=1, max_value=8))
    nodes: list[Any] = [[] if draw(st.booleans()) else {} for _ in range(count)]
    for node in nodes:
        for index in range(draw(st.integers(min_value=0, max_value=4))):
            target: Any = nodes[draw(st.integers(min_value=0, max_value=count - 1))]
            if draw(st.booleans()):
                target = (target, index)
            if type(node) is list:
                node.append(target)
            else:
                node[f"k{index}"] = target
    return nodes[0]


@settings(max_examples=200, deadline=None)
@given(graphs())
def test_randomGraphsKeepTheirShape(graph: Any) -> None:
    assert shape(roundTrip(graph)) == shape(graph)
