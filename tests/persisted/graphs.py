"""Object graphs for the persistence tests, and ``assertSameGraph`` to compare two graphs.

The classes live at module level here so that every form can save them by name, and so
that a child process (the tapconvert tests) can import them.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import enum
import fractions
import functools
import math
import types
from typing import Any

from hypothesis import strategies as st

from torsion.persisted import styles


class Node:
    """A plain object: state in ``__dict__``."""

    def __init__(self, name: str = "", **attributes: Any) -> None:
        self.name = name
        self.__dict__.update(attributes)

    def method(self) -> str:
        return f"method of {self.name}"

    def __secret(self) -> str:
        return f"secret of {self.name}"

    def secretMethod(self) -> Any:
        return self.__secret

    @classmethod
    def make(cls, name: str) -> Node:
        return cls(name)

    def __repr__(self) -> str:
        return f"<Node {self.name!r}>"


class WithState:
    """Keeps a cache that ``__getstate__`` leaves out and ``__setstate__`` rebuilds."""

    def __init__(self, values: list[Any]) -> None:
        self.values = values
        self.cache = len(values)

    def __getstate__(self) -> dict[str, Any]:
        return {"values": self.values}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.values = state["values"]
        self.cache = len(self.values)


class TupleState:
    """Saves its state as a tuple, not a dict."""

    def __init__(self, a: Any, b: Any) -> None:
        self.a, self.b = a, b

    def __getstate__(self) -> tuple[Any, Any]:
        return (self.a, self.b)

    def __setstate__(self, state: tuple[Any, Any]) -> None:
        self.a, self.b = state


class Slotted:
    __slots__ = ("a", "b", "unset")

    def __init__(self, a: Any, b: Any) -> None:
        self.a = a
        self.b = b


class SlottedWithDict(Slotted):
    """Slots from the base class, and a ``__dict__`` of its own."""

    def __init__(self, a: Any, b: Any, c: Any) -> None:
        super().__init__(a, b)
        self.c = c


class MyList(list[Any]):
    pass


class MyDict(dict[Any, Any]):
    pass


class MyStr(str):
    pass


class MyInt(int):
    pass


class MyTuple(tuple[Any, ...]):
    pass


class Outer:
    class Inner:
        def __init__(self, value: Any) -> None:
            self.value = value


class Color(enum.Enum):
    RED = 1
    GREEN = 2


def rebuildReduced(value: Any) -> Reduced:
    return Reduced(value)


class Reduced:
    """Saved through ``__reduce__``: a factory, its arguments and a state."""

    def __init__(self, value: Any) -> None:
        self.value = value
        self.extra: Any = None

    def __reduce__(self) -> Any:
        return (rebuildReduced, (self.value,), {"extra": self.extra})


class EphemeralThing(styles.Ephemeral):
    def __init__(self) -> None:
        self.handle = object()


class Application:
    """Shaped like the seed's application: services that point back at their parent."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.services: list[Any] = []


class Server:
    def __init__(self, port: int, factory: Any, parent: Application) -> None:
        self.args = (port, factory)
        self.kwargs: dict[str, Any] = {}
        self.parent = parent
        parent.services.append(self)


class Factory:
    protocol: Any = None
    numPorts = 0


def seedLikeApplication() -> Application:
    """An "echo" application with one server on port 7, like the seed's .tas listing."""
    app = Application("echo")
    factory = Factory()
    factory.protocol = Node
    Server(7, factory, app)
    return app


def helper(x: int) -> int:
    return x + 1


def assertSameGraph(a: Any, b: Any) -> None:
    """Check that ``b`` is a copy of ``a``: same values, same types, same sharing.

    Each object of ``a`` must correspond to exactly one object of ``b`` (and back), so
    that a shared object stays shared and a cycle stays a cycle.
    """
    forward: dict[int, Any] = {}
    backward: dict[int, Any] = {}
    alive: list[Any] = []

    def fail(path: str, message: str) -> None:
        raise AssertionError(f"at {path}: {message}")

    def same(x: Any, y: Any, path: str) -> None:
        if type(x) is not type(y):
            fail(path, f"{type(x).__name__} became {type(y).__name__}")
        kind = type(x)
        if kind is float:
            if not (x == y or (math.isnan(x) and math.isnan(y))):
                fail(path, f"{x!r} became {y!r}")
            if not math.isnan(x) and math.copysign(1, x) != math.copysign(1, y):
                fail(path, f"the sign of {x!r} changed")
            return
        if kind is complex:
            same(x.real, y.real, path + ".real")
            same(x.imag, y.imag, path + ".imag")
            return
        if kind in _ATOMS:
            if x != y:
                fail(path, f"{x!r} became {y!r}")
            return
        if isinstance(x, type | types.FunctionType | types.ModuleType) or (
            isinstance(x, types.BuiltinFunctionType)
            and (x.__self__ is None or isinstance(x.__self__, types.ModuleType))
        ):
            if x is not y:
                fail(path, f"{x!r} became {y!r}")
            return
        if kind is tuple and not x:
            return
        if id(x) in forward:
            if forward[id(x)] is not y:
                fail(path, "an object shared in the original is not shared in the copy")
            return
        if id(y) in backward:
            fail(path, "two objects of the original became one in the copy")
        forward[id(x)] = y
        backward[id(y)] = x
        alive.extend((x, y))
        if isinstance(x, str | int | bytes):
            if x != y:
                fail(path, f"{x!r} became {y!r}")
        elif isinstance(x, list | tuple):
            if len(x) != len(y):
                fail(path, f"length {len(x)} became {len(y)}")
            for index, (p, q) in enumerate(zip(x, y, strict=True)):
                same(p, q, f"{path}[{index}]")
        elif isinstance(x, dict):
            if len(x) != len(y):
                fail(path, f"{len(x)} items became {len(y)}")
            for index, ((k1, v1), (k2, v2)) in enumerate(zip(x.items(), y.items(), strict=True)):
                same(k1, k2, f"{path}.keys()[{index}]")
                same(v1, v2, f"{path}[{k1!r}]")
            if isinstance(x, collections.defaultdict):
                same(x.default_factory, y.default_factory, f"{path}.default_factory")
        elif isinstance(x, set | frozenset):
            if len(x) != len(y):
                fail(path, f"{len(x)} items became {len(y)}")
            if all(type(item) in (*_ATOMS, float, complex) for item in x):
                if x != y:
                    fail(path, f"{x!r} became {y!r}")
            else:
                order = functools.cmp_to_key(_byKind)
                for p, q in zip(sorted(x, key=order), sorted(y, key=order), strict=True):
                    same(p, q, f"{path}{{...}}")
        elif isinstance(x, types.MethodType | types.BuiltinMethodType):
            if x.__name__ != y.__name__ or getattr(x, "__func__", x) is not getattr(
                y, "__func__", x
            ):
                fail(path, f"{x!r} became {y!r}")
            same(x.__self__, y.__self__, path + ".__self__")
            return
        elif not hasattr(x, "__dict__") and not _slots(kind) and x != y:
            fail(path, f"{x!r} became {y!r}")
        for slot in _slots(kind):
            has = hasattr(x, slot)
            if has != hasattr(y, slot):
                fail(path, f"slot {slot} set in one graph only")
            if has:
                same(getattr(x, slot), getattr(y, slot), f"{path}.{slot}")
        if hasattr(x, "__dict__"):
            same(dict(vars(x)), dict(vars(y)), f"{path}.__dict__")

    same(a, b, "root")


_ATOMS = (type(None), bool, int, str, bytes)


def _byKind(p: Any, q: Any) -> int:
    left = (type(p).__qualname__, repr(p) if type(p) in (*_ATOMS, float, complex) else "")
    right = (type(q).__qualname__, repr(q) if type(q) in (*_ATOMS, float, complex) else "")
    return (left > right) - (left < right)


def _slots(kind: type) -> list[str]:
    names: list[str] = []
    for cls in kind.__mro__:
        slots = cls.__dict__.get("__slots__", ())
        names.extend([slots] if isinstance(slots, str) else slots)
    return [n for n in names if n not in ("__dict__", "__weakref__")]


def everyKind() -> dict[str, Any]:
    """One graph with each kind of value the forms must carry."""
    shared = [1, 2, 3]
    node = Node("n", shared=shared)
    return {
        "none": None,
        "bools": [True, False],
        "ints": [0, -1, 2**100, -(2**70)],
        "floats": [0.0, -0.0, 1.5, 1e300, float("inf"), float("-inf"), float("nan")],
        "complex": [1 + 2j, complex(-0.0, float("inf")), complex(float("nan"), 0)],
        "strs": [
            "",
            "plain",
            "héllo wörld ✓",
            "tab\tand\nnewline",
            "cr\r\n",
            "\x00\x1b",
            "\ud800 lone surrogate",
            "  spaces  ",
            "quote ' and \" and \\",
        ],
        "bytes": [b"", b"\x00\xff binary", bytes(range(256))],
        "tuples": [(), (1,), (1, "two", (3.0,))],
        "nested": [[[], {}], {"a": {"b": [()]}}],
        "set": {1, 2, 3},
        "frozenset": frozenset({"a", "b"}),
        "emptySet": set(),
        "keys": {
            1: "int",
            2.5: "float",
            (1, 2): "tuple",
            None: "none",
            b"b": "bytes",
            frozenset({1}): "frozenset",
            "class": "keyword",
            "a.b": "dot",
        },
        "shared": [shared, shared, node, node],
        "classes": [Node, int, Outer.Inner, collections.OrderedDict],
        "functions": [helper, len, math.sqrt, functools.reduce],
        "module": math,
        "methods": [node.method, node.secretMethod(), Node.make, shared.append],
        "state": WithState([4, 5]),
        "tupleState": TupleState("x", shared),
        "slotted": Slotted(1, shared),
        "slottedWithDict": SlottedWithDict(1, 2, [3]),
        "subclasses": [MyList([1, node]), MyDict(a=node), MyStr("s"), MyInt(5), MyTuple((1, 2))],
        "nestedClass": Outer.Inner(node),
        "enum": Color.GREEN,
        "reduced": Reduced([node]),
        "stdlib": [
            datetime.datetime(2004, 5, 8, 12, 30, tzinfo=datetime.UTC),
            datetime.timedelta(days=3),
            decimal.Decimal("1.10"),
            fractions.Fraction(1, 3),
            collections.OrderedDict([("z", 1), ("a", 2)]),
            collections.deque([1, 2]),
            collections.defaultdict(list, {"k": [1]}),
            bytearray(b"mutable"),
            range(1, 10, 2),
            slice(1, 5),
        ],
        "builtinsByName": [Ellipsis, NotImplemented],
    }


def cycles() -> Any:
    """Cycles through each kind of container and object, including through tuples."""
    selfList: list[Any] = []
    selfList.append(selfList)
    selfDict: dict[str, Any] = {}
    selfDict["me"] = selfDict
    parent = Node("parent")
    child = Node("child", parent=parent)
    parent.children = [child]
    parent.me = parent
    listInTuple: list[Any] = []
    tupleCycle = (listInTuple, 1)
    listInTuple.append(tupleCycle)
    deeper: list[Any] = []
    outerTuple = ([(deeper,)],)
    deeper.append(outerTuple)
    methodCycle = Node("m")
    methodCycle.callback = methodCycle.method
    keyed = Node("keyed")
    keyed.table = {keyed.name: keyed}
    holder = Node("holder")
    holder.state = WithState([holder])
    slotted = Slotted(None, None)
    slotted.a = slotted
    myList = MyList()
    myList.append(myList)
    myList.attribute = myList
    frozenHolder = Node("frozen")
    frozenHolder.frozen = frozenset({frozenHolder})
    reduced = Reduced(None)
    reduced.extra = reduced
    return [
        selfList,
        selfDict,
        parent,
        tupleCycle,
        outerTuple,
        methodCycle,
        keyed,
        holder,
        slotted,
        myList,
        frozenHolder,
        reduced,
    ]


# -- generated plain data (hypothesis) ------------------------------------------------

atoms = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.complex_numbers()
    | st.text()
    | st.binary()
)
hashableAtoms = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary()
)
hashables = st.recursive(
    hashableAtoms,
    lambda children: st.tuples(children, children) | st.frozensets(hashableAtoms, max_size=3),
    max_leaves=4,
)
plainData = st.recursive(
    atoms,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children)
        | st.tuples(children, children, children)
        | st.dictionaries(hashables, children, max_size=4)
        | st.sets(hashableAtoms, max_size=4)
        | st.frozensets(hashableAtoms, max_size=4)
    ),
    max_leaves=20,
)
