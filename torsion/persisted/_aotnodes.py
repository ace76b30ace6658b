"""The nodes of an abstract object tree (AOT): an object graph spelled as plain data.

An AOT is made of atoms (None, bool, int, float, complex, str, bytes), lists, tuples
and dicts of AOT values, and these nodes: ``Instance`` (an object rebuilt from its
class and state without calling ``__init__``), ``Copyreg`` (an object rebuilt by a
call, from ``__reduce__``), ``Ref``/``Deref`` (an object met more than once: defined
once, referred to by number after), ``Class``, ``Function``, ``Module`` and ``Named``
(module-level objects found by name), ``InstanceMethod`` (a bound method), ``Set`` and
``FrozenSet``. The ``repr`` of a node is its source form, which is what a .tas file
holds (torsion.persisted.aot.jellyToSource lays it out over lines).

Tests: tests/persisted/test_aot.py.
"""

from __future__ import annotations

import keyword
import math
from typing import Any

__all__ = [
    "Class",
    "Copyreg",
    "Deref",
    "FrozenSet",
    "Function",
    "Instance",
    "InstanceMethod",
    "Module",
    "Named",
    "Ref",
    "Set",
    "atomRepr",
    "isKeywordName",
]

_NO_STATE: Any = object()


def _checkName(kind: str, name: object) -> str:
    if not isinstance(name, str) or not name:
        raise TypeError(f"{kind}() takes a qualified name as a string, not {name!r}")
    return name


def _checkNumber(kind: str, number: object) -> int:
    if type(number) is not int:
        raise TypeError(f"{kind}() takes a reference number (an int), not {number!r}")
    return number


def isKeywordName(key: object) -> bool:
    """Tell whether ``key`` can be written as ``key=value`` in a call."""
    return isinstance(key, str) and key.isidentifier() and not keyword.iskeyword(key)


def atomRepr(value: object) -> str:
    """The source form of an atom: its repr, except where the repr does not evaluate."""
    if type(value) is float and not math.isfinite(value):
        return f"float({repr(value)!r})"
    if type(value) is complex:
        return f"complex({atomRepr(value.real)}, {atomRepr(value.imag)})"
    return repr(value)


class Instance:
    """An object of class ``className`` whose state is set without calling ``__init__``.

    ``Instance('pkg.Cls', a=1)`` has the state ``{'a': 1}``; a state that is not a dict
    of keyword names is given as the second argument: ``Instance('pkg.Cls', {'x.y': 1})``.
    """

    __slots__ = ("className", "state")

    def __init__(self, className: str, stateObj: Any = _NO_STATE, /, **state: Any) -> None:
        self.className = _checkName("Instance", className)
        if stateObj is not _NO_STATE and state:
            raise TypeError("Instance() takes its state positionally or as keywords, not both")
        self.state: Any = stateObj if stateObj is not _NO_STATE else (state or None)

    def __repr__(self) -> str:
        if self.state is None:
            return f"Instance({self.className!r})"
        if type(self.state) is dict and self.state and all(map(isKeywordName, self.state)):
            items = ", ".join(f"{k}={_nodeRepr(v)}" for k, v in self.state.items())
            return f"Instance({self.className!r}, {items})"
        return f"Instance({self.className!r}, {_nodeRepr(self.state)})"


class Copyreg:
    """An object made by calling ``factory(*args)``, then filled as ``__reduce__`` says.

    ``listitems`` are appended, ``dictitems`` (a dict) are set as items, and ``state``
    is applied as pickle does (``__setstate__``, or the instance dictionary and slots).
    """

    __slots__ = ("args", "dictitems", "factory", "listitems", "state")

    def __init__(
        self,
        factory: Any,
        args: tuple[Any, ...] = (),
        state: Any = None,
        listitems: list[Any] | None = None,
        dictitems: dict[Any, Any] | None = None,
    ) -> None:
        if type(args) is not tuple:
            raise TypeError(f"Copyreg() takes its arguments as a tuple, not {args!r}")
        if listitems is not None and type(listitems) is not list:
            raise TypeError(f"Copyreg() takes listitems as a list, not {listitems!r}")
        if dictitems is not None and type(dictitems) is not dict:
            raise TypeError(f"Copyreg() takes dictitems as a dict, not {dictitems!r}")
        self.factory = factory
        self.args = args
        self.state = state
        self.listitems = listitems
        self.dictitems = dictitems

    def options(self) -> list[tuple[str, Any]]:
        """The keyword arguments that differ from their defaults, in order."""
        return [
            (name, value)
            for name, value in (
                ("state", self.state),
                ("listitems", self.listitems),
                ("dictitems", self.dictitems),
            )
            if value is not None
        ]

    def __repr__(self) -> str:
        parts = [_nodeRepr(self.factory), _nodeRepr(self.args)]
        parts += [f"{name}={_nodeRepr(value)}" for name, value in self.options()]
        return f"Copyreg({', '.join(parts)})"


class Ref:
    """The first mention of an object that is met more than once: ``Ref(n, node)``."""

    __slots__ = ("number", "obj")

    def __init__(self, number: int, obj: Any) -> None:
        self.number = _checkNumber("Ref", number)
        if isinstance(obj, Ref | Deref):
            raise TypeError("Ref() takes the node of an object, not another reference")
        self.obj = obj

    def __repr__(self) -> str:
        return f"Ref({self.number}, {_nodeRepr(self.obj)})"


class Deref:
    """A later mention of the object that ``Ref(n, ...)`` defined."""

    __slots__ = ("number",)

    def __init__(self, number: int) -> None:
        self.number = _checkNumber("Deref", number)

    def __repr__(self) -> str:
        return f"Deref({self.number})"


class _Named:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = _checkName(type(self).__name__, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class Class(_Named):
    """A class, by its qualified name (``Class('torsion.protocols.wire.Echo')``)."""

    __slots__ = ()


class Function(_Named):
    """A module-level function, by its qualified name."""

    __slots__ = ()


class Module(_Named):
    """A module, by its name; loading imports it."""

    __slots__ = ()


class Named(_Named):
    """Another module-level object, by name (what ``__reduce__`` returning a string means)."""

    __slots__ = ()


class InstanceMethod:
    """A bound method: the attribute ``name`` of ``instance`` (a ``klass`` object).

    ``klass`` is the name of the instance's class, for the reader; the method is found
    again by looking the attribute up on the rebuilt instance.
    """

    __slots__ = ("instance", "klass", "name")

    def __init__(self, name: str, klass: str, instance: Any) -> None:
        self.name = _checkName("InstanceMethod", name)
        self.klass = _checkName("InstanceMethod", klass)
        self.instance = instance

    def __repr__(self) -> str:
        return f"InstanceMethod({self.name!r}, {self.klass!r}, {_nodeRepr(self.instance)})"


class _Collection:
    __slots__ = ("items",)

    def __init__(self, items: list[Any]) -> None:
        if type(items) is not list:
            raise TypeError(f"{type(self).__name__}() takes a list of items, not {items!r}")
        self.items = items

    def __repr__(self) -> str:
        return f"{type(self).__name__}({_nodeRepr(self.items)})"


class Set(_Collection):
    """A set, by its items (in a list, so that their order, and so Ref numbers, hold)."""

    __slots__ = ()


class FrozenSet(_Collection):
    """A frozenset, by its items."""

    __slots__ = ()


def _nodeRepr(node: Any) -> str:
    kind = type(node)
    if kind is list:
        return f"[{', '.join(map(_nodeRepr, node))}]"
    if kind is tuple:
        if len(node) == 1:
            return f"({_nodeRepr(node[0])},)"
        return f"({', '.join(map(_nodeRepr, node))})"
    if kind is dict:
        return "{" + ", ".join(f"{_nodeRepr(k)}: {_nodeRepr(v)}" for k, v in node.items()) + "}"
    if kind in (float, complex):
        return atomRepr(node)
    return repr(node)
