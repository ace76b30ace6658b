"""Rebuilding an object graph from its abstract object tree (AOT): the inverse of _jelly.py.

Mutable objects (lists, dicts, sets, ``Instance`` objects) exist as soon as they are
met, so a reference back to one inside its own contents resolves at once. Tuples,
frozensets and objects made by a ``Copyreg`` call can only be made once their parts
exist; a ``Deref`` to one of those still under construction (a cycle through a tuple)
gives a *pending* value, which the containers holding it fill in when it is made. An
object's state is applied once the containers of the state are filled, as pickle would
give it. A graph that can never be finished (a constructor argument that contains the
object itself) is an error, not a half-built graph.

Importing the classes and calling the factories a tree names runs code: rebuild only
trees from files you trust. Tests: tests/persisted/test_aot.py.
"""

from __future__ import annotations

import types
from collections.abc import Callable
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
from torsion.persisted._jelly import ATOMS
from torsion.persisted._names import namedObject
from torsion.persisted.error import FormatError

__all__ = ["setState", "unjellyFromAOT"]


def unjellyFromAOT(tree: Any, filename: str | None = None) -> Any:
    """Rebuild and return the object graph that ``tree`` describes.

    ``filename``, if given, is where the tree was read from, for the error messages.

    Raises:
        FormatError: the tree is malformed (an unknown node, a ``Deref`` before its
            ``Ref``, a name that does not import) or describes a graph that cannot be built.
    """
    unjellier = _Unjellier()
    try:
        value = unjellier.unjelly(tree)
        unjellier.checkFinished()
    except RecursionError:
        raise FormatError(_inFile(filename, "the object tree is nested too deeply")) from None
    except FormatError as e:
        if filename is None:
            raise
        raise FormatError(_inFile(filename, str(e))) from None
    return value


def _inFile(filename: str | None, message: str) -> str:
    return message if filename is None else f"{filename}: {message}"


def setState(obj: Any, state: Any) -> None:
    """Apply a saved ``state`` to ``obj`` the way pickle's BUILD step does."""
    setstate = getattr(obj, "__setstate__", None)
    if setstate is not None:
        setstate(state)
        return
    slots = None
    if type(state) is tuple and len(state) == 2:
        state, slots = state
    if state:
        obj.__dict__.update(state)
    if slots:
        for name, value in slots.items():
            setattr(obj, name, value)


class _Pending:
    """A value that does not exist yet; its waiters are called with it once it does."""

    __slots__ = ("done", "value", "waiters")

    def __init__(self) -> None:
        self.done = False
        self.value: Any = None
        self.waiters: list[Callable[[Any], None]] = []

    def addWaiter(self, waiter: Callable[[Any], None]) -> None:
        if self.done:
            waiter(self.value)
        else:
            self.waiters.append(waiter)

    def resolve(self, value: Any) -> None:
        self.done = True
        self.value = value
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            waiter(value)


class _Filler:
    """Counts the pending items of one container; ``event`` fires when all are in."""

    __slots__ = ("container", "count", "event")

    def __init__(self, container: Any, event: _Pending) -> None:
        self.container = container
        self.count = 0
        self.event = event


class _Unjellier:
    def __init__(self) -> None:
        self.refs: dict[int, Any] = {}
        self._unfilled: dict[int, _Filler] = {}
        self._pendings: list[_Pending] = []
        self._nameCache: dict[str, Any] = {}
        self._builders: dict[type, Callable[[Any, int | None], Any]] = {
            list: self._list,
            tuple: self._tuple,
            dict: self._dict,
            Set: self._set,
            FrozenSet: self._frozenSet,
            Instance: self._instance,
            Copyreg: self._copyreg,
            InstanceMethod: self._instanceMethod,
            Class: self._class,
            Function: self._function,
            Module: self._module,
            Named: self._named,
        }

    # -- the walk --------------------------------------------------------------------

    def unjelly(self, node: Any, number: int | None = None) -> Any:
        kind = type(node)
        if kind in ATOMS:
            self._register(number, node)
            return node
        if kind is Deref:
            if number is not None:
                raise FormatError(f"Ref({number}, Deref(...)) refers to a reference")
            if node.number not in self.refs:
                raise FormatError(f"Deref({node.number}) comes before Ref({node.number}, ...)")
            return self.refs[node.number]
        if kind is Ref:
            if number is not None:
                raise FormatError(f"Ref({number}, Ref(...)) nests a reference in a reference")
            if node.number in self.refs:
                raise FormatError(f"Ref({node.number}, ...) appears twice")
            self.refs[node.number] = self._pending()
            return self.unjelly(node.obj, node.number)
        builder = self._builders.get(kind)
        if builder is None:
            raise FormatError(f"{kind.__name__} {node!r:.60} is not part of an object tree")
        return builder(node, number)

    def checkFinished(self) -> None:
        if any(not pending.done for pending in self._pendings):
            raise FormatError(
                "the object graph cannot be rebuilt: an object's constructor arguments (a"
                " tuple, a frozenset or the arguments of a Copyreg) contain the object itself"
            )

    def _lookUp(self, name: str) -> Any:
        try:
            return self._nameCache[name]
        except KeyError:
            value = self._nameCache[name] = namedObject(name)
            return value

    def _pending(self) -> _Pending:
        pending = _Pending()
        self._pendings.append(pending)
        return pending

    def _register(self, number: int | None, value: Any) -> None:
        if number is None:
            return
        placeholder = self.refs.get(number)
        self.refs[number] = value
        if isinstance(placeholder, _Pending) and placeholder is not value:
            placeholder.resolve(value)

    def _whenAll(self, values: list[Any], callback: Callable[[list[Any]], None]) -> None:
        """Call ``callback`` with ``values`` once none of them is pending."""
        missing = [i for i, value in enumerate(values) if isinstance(value, _Pending)]
        if not missing:
            callback(values)
            return
        values = list(values)
        remaining = [len(missing)]

        def arrived(index: int, value: Any) -> None:
            values[index] = value
            remaining[0] -= 1
            if remaining[0] == 0:
                callback(values)

        for index in missing:
            values[index].addWaiter(lambda value, index=index: arrived(index, value))

    def _later(self, container: Any, values: list[Any], apply: Callable[[list[Any]], None]) -> None:
        """Apply some pending items to ``container`` when they exist, counting them."""
        filler = self._unfilled.get(id(container))
        if filler is None:
            filler = self._unfilled[id(container)] = _Filler(container, self._pending())
        filler.count += 1

        def arrived(resolved: list[Any]) -> None:
            apply(resolved)
            filler.count -= 1
            if filler.count == 0:
                del self._unfilled[id(container)]
                filler.event.resolve(container)

        self._whenAll(values, arrived)

    def _whenFilled(self, value: Any, callback: Callable[[], None]) -> None:
        """Call ``callback`` once ``value`` (and a tuple's items) has all its items."""
        events = []
        for part in (value, *value) if type(value) is tuple else (value,):
            filler = self._unfilled.get(id(part))
            if filler is not None:
                events.append(filler.event)
        if events:
            self._whenAll(events, lambda _: callback())
        else:
            callback()

    def _result(self, pending: _Pending) -> Any:
        return pending.value if pending.done else pending

    # -- containers ------------------------------------------------------------------

    def _list(self, node: list[Any], number: int | None) -> Any:
        result: list[Any] = []
        self._register(number, result)
        for child in node:
            value = self.unjelly(child)
            if isinstance(value, _Pending):
                index = len(result)
                result.append(None)
                self._later(result, [value], _setter(result, index))
            else:
                result.append(value)
        return result

    def _tuple(self, node: tuple[Any, ...], number: int | None) -> Any:
        done = self._pending()

        def build(values: list[Any]) -> None:
            value = tuple(values)
            self._register(number, value)
            done.resolve(value)

        self._whenAll([self.unjelly(child) for child in node], build)
        return self._result(done)

    def _dict(self, node: dict[Any, Any], number: int | None) -> Any:
        result: dict[Any, Any] = {}
        self._register(number, result)
        for keyNode, valueNode in node.items():
            key = self.unjelly(keyNode)
            value = self.unjelly(valueNode)
            if isinstance(key, _Pending) or isinstance(value, _Pending):
                self._later(result, [key, value], lambda kv: _insert(result, kv[0], kv[1]))
            else:
                _insert(result, key, value)
        return result

    def _set(self, node: Set, number: int | None) -> Any:
        result: set[Any] = set()
        self._register(number, result)
        for child in node.items:
            value = self.unjelly(child)
            if isinstance(value, _Pending):
                self._later(result, [value], lambda v: _add(result, v[0]))
            else:
                _add(result, value)
        return result

    def _frozenSet(self, node: FrozenSet, number: int | None) -> Any:
        done = self._pending()

        def build(values: list[Any]) -> None:
            for item in values:
                _checkHashable(item, "a set item")
            value = frozenset(values)
            self._register(number, value)
            done.resolve(value)

        self._whenAll([self.unjelly(child) for child in node.items], build)
        return self._result(done)

    # -- objects ---------------------------------------------------------------------

    def _instance(self, node: Instance, number: int | None) -> Any:
        cls = self._lookUp(node.className)
        if not isinstance(cls, type):
            raise FormatError(f"Instance({node.className!r}) does not name a class")
        new: Any = cls.__new__
        try:
            obj = new(cls)
        except TypeError as e:
            raise FormatError(f"cannot make an Instance({node.className!r}): {e}") from e
        self._register(number, obj)
        if node.state is not None:
            self._setStateWhenReady(obj, self.unjelly(node.state))
        return obj

    def _setStateWhenReady(self, obj: Any, state: Any) -> None:
        self._whenAll([state], lambda s: self._whenFilled(s[0], lambda: _build(obj, s[0])))

    def _copyreg(self, node: Copyreg, number: int | None) -> Any:
        done = self._pending()

        def create(parts: list[Any]) -> None:
            factory, args = parts
            if not callable(factory):
                raise FormatError(f"the factory of {node!r:.60} is not callable")
            self._whenFilled(args, lambda: made(_call(factory, args)))

        def made(obj: Any) -> None:
            self._register(number, obj)
            done.resolve(obj)

        self._whenAll([self.unjelly(node.factory), self.unjelly(node.args)], create)
        # The contents are read now, in the order they were written, even when the
        # object cannot be made yet: a Ref among them must come before later Derefs.
        items = None if node.listitems is None else [self.unjelly(i) for i in node.listitems]
        mapping = None if node.dictitems is None else self.unjelly(node.dictitems)
        state = None if node.state is None else self.unjelly(node.state)

        def fill(obj: Any) -> None:
            if items is not None:
                self._whenAll(items, lambda values: _extend(obj, values))
            if mapping is not None:
                self._whenFilled(mapping, lambda: _update(obj, mapping))
            if state is not None:
                self._setStateWhenReady(obj, state)

        done.addWaiter(fill)
        return self._result(done)

    def _instanceMethod(self, node: InstanceMethod, number: int | None) -> Any:
        done = self._pending()

        def bind(parts: list[Any]) -> None:
            try:
                method = getattr(parts[0], node.name)
            except AttributeError:
                raise FormatError(
                    f"InstanceMethod({node.name!r}, {node.klass!r}, ...): the object has no"
                    f" attribute {node.name!r}"
                ) from None
            self._register(number, method)
            done.resolve(method)

        self._whenAll([self.unjelly(node.instance)], bind)
        return self._result(done)

    def _class(self, node: Class, number: int | None) -> Any:
        cls = self._lookUp(node.name)
        if not isinstance(cls, type):
            raise FormatError(f"Class({node.name!r}) does not name a class")
        self._register(number, cls)
        return cls

    def _function(self, node: Function, number: int | None) -> Any:
        func = self._lookUp(node.name)
        if not callable(func):
            raise FormatError(f"Function({node.name!r}) does not name a function")
        self._register(number, func)
        return func

    def _module(self, node: Module, number: int | None) -> Any:
        module = self._lookUp(node.name)
        if not isinstance(module, types.ModuleType):
            raise FormatError(f"Module({node.name!r}) does not name a module")
        self._register(number, module)
        return module

    def _named(self, node: Named, number: int | None) -> Any:
        value = self._lookUp(node.name)
        self._register(number, value)
        return value


def _checkHashable(value: Any, what: str) -> None:
    try:
        hash(value)
    except TypeError:
        raise FormatError(f"{_short(value)} cannot be {what}: it is unhashable") from None


def _insert(mapping: dict[Any, Any], key: Any, value: Any) -> None:
    _checkHashable(key, "a dict key")
    mapping[key] = value


def _add(items: set[Any], value: Any) -> None:
    _checkHashable(value, "a set item")
    items.add(value)


def _build(obj: Any, state: Any) -> None:
    try:
        setState(obj, state)
    except Exception as e:
        raise FormatError(
            f"setting the state of a {type(obj).__qualname__} failed: {type(e).__name__}: {e}"
        ) from e


def _call(factory: Any, args: tuple[Any, ...]) -> Any:
    try:
        return factory(*args)
    except Exception as e:
        name = getattr(factory, "__qualname__", repr(factory))
        raise FormatError(f"calling {name}{_short(args)} failed: {type(e).__name__}: {e}") from e


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _setter(container: list[Any], index: int) -> Callable[[list[Any]], None]:
    def put(values: list[Any]) -> None:
        container[index] = values[0]

    return put


def _extend(obj: Any, values: list[Any]) -> None:
    extend = getattr(obj, "extend", None)
    if extend is not None:
        extend(values)
    else:
        for value in values:
            obj.append(value)


def _update(obj: Any, mapping: dict[Any, Any]) -> None:
    for key, value in mapping.items():
        obj[key] = value
