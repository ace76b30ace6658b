"""Turning an object graph into an abstract object tree (AOT), for the .tas and .tax forms.

The walk follows pickle's rules, so that whatever pickles also has a source and an XML
form: classes, functions and modules by name; the registrations in ``copyreg``; then
``__reduce_ex__(4)``, whose common case (a plain object and its state) becomes an
``Instance`` and every other case a ``Copyreg``. Lists, tuples, dicts, sets and
frozensets are spelled out. An object met a second time becomes a ``Deref`` to the
``Ref`` around its first mention, which keeps sharing and cycles; to number only the
objects that are shared, every object is first wrapped in an unnumbered shell, and the
shells nobody referred to again are dropped at the end.

The inverse is torsion/persisted/_unjelly.py. Tests: tests/persisted/test_aot.py.
"""

from __future__ import annotations

import copyreg
import types
from typing import Any

from torsion.persisted._aotnodes import (
    Class,
    Copyreg,
    Deref,
    FrozenSet,
    Function,
    Instance,
    InstanceMethod,
    Module,
    Named,
    Ref,
    Set,
)
from torsion.persisted._names import namedObject, qualifiedName
from torsion.persisted.error import FormatError, NotPersistableError
from torsion.persisted.styles import methodAttributeName

__all__ = ["jellyToAOT"]

ATOMS = frozenset({type(None), bool, int, float, complex, str, bytes})

_BUILTIN_FUNCTION = types.BuiltinFunctionType
_BOUND_WRAPPER = types.MethodWrapperType


class _Shell:
    """An object's node while the walk goes on; numbered when the object is met again."""

    __slots__ = ("node", "number")

    def __init__(self) -> None:
        self.number: int | None = None
        self.node: Any = None


def jellyToAOT(obj: object) -> Any:
    """Return the abstract object tree of ``obj`` (see torsion.persisted.aot).

    Raises:
        NotPersistableError: something in the graph cannot be named or reduced; the
            error says what and where.
    """
    jellier = _Jellier()
    try:
        return _unshell(jellier.jelly(obj))
    except RecursionError:
        raise NotPersistableError(
            "the object graph is nested too deeply to be saved in the source or XML form;"
            " use the pickle form"
        ) from None


def _where(error: NotPersistableError, step: str) -> NotPersistableError:
    error.path.insert(0, step)
    return error


def _stepOf(key: object) -> str:
    return f"[{key!r}]" if type(key) in ATOMS else "[...]"


class _Jellier:
    def __init__(self) -> None:
        self._shells: dict[int, _Shell] = {}
        # The walk meets objects made just for it (reduce results, state dicts); keeping
        # them alive keeps their id()s from being reused for other objects meanwhile.
        self._alive: list[object] = []
        self._count = 0
        self._names: dict[int, str] = {}

    def jelly(self, obj: object) -> Any:
        kind = type(obj)
        if kind in ATOMS:
            return obj
        if kind is tuple and not obj:
            return ()
        named = self._byName(obj, kind)
        if named is not None:
            return named
        shell = self._shells.get(id(obj))
        if shell is not None:
            if shell.number is None:
                self._count += 1
                shell.number = self._count
            return Deref(shell.number)
        shell = _Shell()
        self._shells[id(obj)] = shell
        self._alive.append(obj)
        shell.node = self._jellyNew(obj, kind)
        return shell

    def _name(self, obj: object) -> str:
        # Finding the name again imports and looks up; do it once per class or function.
        name = self._names.get(id(obj))
        if name is None:
            name = self._names[id(obj)] = qualifiedName(obj)
            self._alive.append(obj)
        return name

    def _byName(self, obj: object, kind: type) -> Any:
        if isinstance(obj, type):
            return Class(self._name(obj))
        if kind is types.FunctionType:
            return Function(self._name(obj))
        if kind is types.ModuleType:
            return Module(qualifiedName(obj))
        if kind is _BUILTIN_FUNCTION:
            owner = getattr(obj, "__self__", None)
            if owner is None or isinstance(owner, types.ModuleType):
                return Function(qualifiedName(obj))
        return None

    def _jellyNew(self, obj: Any, kind: type) -> Any:
        if kind is list:
            return self._items(obj)
        if kind is tuple:
            return tuple(self._items(obj))
        if kind is dict:
            return self._mapping(obj)
        if kind is set:
            return Set(self._items(_ordered(obj)))
        if kind is frozenset:
            return FrozenSet(self._items(_ordered(obj)))
        if kind in (types.MethodType, _BUILTIN_FUNCTION, _BOUND_WRAPPER):
            return self._method(obj)
        return self._reduced(obj, kind)

    def _items(self, items: Any) -> list[Any]:
        result = []
        for index, item in enumerate(items):
            try:
                result.append(self.jelly(item))
            except NotPersistableError as e:
                raise _where(e, f"[{index}]") from None
        return result

    def _mapping(self, mapping: Any) -> dict[Any, Any]:
        result = {}
        for key, value in mapping.items():
            try:
                # Keys first, as the readers rebuild them (``a[k] = v`` evaluates v first).
                jellied = self.jelly(key)
                result[jellied] = self.jelly(value)
            except NotPersistableError as e:
                raise _where(e, _stepOf(key)) from None
        return result

    def _method(self, method: Any) -> InstanceMethod:
        owner = method.__self__
        name = methodAttributeName(method) if type(method) is types.MethodType else method.__name__
        ownerClass = type(owner)
        klass = f"{ownerClass.__module__}.{ownerClass.__qualname__}"
        try:
            instance = self.jelly(owner)
        except NotPersistableError as e:
            raise _where(e, f".{name}.__self__") from None
        return InstanceMethod(name, klass, instance)

    def _reduced(self, obj: Any, kind: type) -> Any:
        reducer = copyreg.dispatch_table.get(kind)
        try:
            reduced = reducer(obj) if reducer is not None else obj.__reduce_ex__(4)
        except NotPersistableError:
            raise
        except Exception as e:
            raise NotPersistableError(f"cannot persist {_short(obj)}: {e}") from None
        if isinstance(reduced, str):
            return Named(self._globalName(obj, reduced))
        if not isinstance(reduced, tuple) or not 2 <= len(reduced) <= 6:
            raise NotPersistableError(
                f"cannot persist {_short(obj)}: its __reduce__ returned {reduced!r}"
            )
        self._alive.append(reduced)
        factory, args, state, listitems, dictitems, setter = (*reduced, None, None, None, None)[:6]
        if setter is not None:
            raise NotPersistableError(
                f"cannot persist {_short(obj)} in the source or XML form: its __reduce__ uses"
                " a state setter; use the pickle form"
            )
        if type(args) is not tuple:
            raise NotPersistableError(
                f"cannot persist {_short(obj)}: its __reduce__ gave arguments {args!r}"
            )
        className = f"{kind.__module__}.{kind.__qualname__}"
        if (
            factory is copyreg.__newobj__  # type: ignore[attr-defined]
            and len(args) == 1
            and args[0] is kind
            and listitems is None
            and dictitems is None
        ):
            name = self._name(kind)
            try:
                return Instance(name, None if state is None else self.jelly(state))
            except NotPersistableError as e:
                raise _where(e, _stateStep(state)) from None
        try:
            node = Copyreg(self.jelly(factory), tuple(self._items(args)))
        except NotPersistableError as e:
            raise _where(e, f"<{className} constructor>") from None
        try:
            if listitems is not None:
                node.listitems = self._items(list(listitems))
            if dictitems is not None:
                node.dictitems = self._mapping(dict(dictitems))
            if state is not None:
                node.state = self.jelly(state)
        except NotPersistableError as e:
            raise _where(e, f"<{className} contents>") from None
        return node

    def _globalName(self, obj: object, name: str) -> str:
        for module in ("builtins", getattr(obj, "__module__", None)):
            if isinstance(module, str):
                qualified = f"{module}.{name}"
                try:
                    if namedObject(qualified) is obj:
                        return qualified
                except FormatError:
                    continue
        raise NotPersistableError(f"cannot persist {_short(obj)}: no module holds it as {name!r}")


def _stateStep(state: object) -> str:
    return "" if type(state) is dict else ".__getstate__()"


def _ordered(items: Any) -> list[Any]:
    """The items of a set in a stable order where they can be sorted (stabler output)."""
    try:
        return sorted(items)
    except TypeError:
        return list(items)


def _short(obj: object) -> str:
    text = repr(obj)
    return text if len(text) <= 80 else text[:77] + "..."


def _unshell(node: Any) -> Any:
    """Drop the shells of objects met once; turn the others into ``Ref``s."""
    kind = type(node)
    if kind is _Shell:
        inner = _unshell(node.node)
        return inner if node.number is None else Ref(node.number, inner)
    if kind in ATOMS:
        return node
    if kind is list:
        return [_unshell(item) for item in node]
    if kind is tuple:
        return tuple(_unshell(item) for item in node)
    if kind is dict:
        return {_unshell(k): _unshell(v) for k, v in node.items()}
    if kind is Instance:
        node.state = _unshell(node.state)
    elif kind is Copyreg:
        node.factory = _unshell(node.factory)
        node.args = _unshell(node.args)
        node.state = _unshell(node.state)
        node.listitems = _unshell(node.listitems)
        node.dictitems = _unshell(node.dictitems)
    elif kind is InstanceMethod:
        node.instance = _unshell(node.instance)
    elif kind in (Set, FrozenSet):
        node.items = _unshell(node.items)
    return node
