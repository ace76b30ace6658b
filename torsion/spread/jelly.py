"""Jelly: object graphs to s-expressions and back, safely.

Jelly turns a Python value (None, booleans, numbers, bytes, text, lists, tuples, dicts,
sets, dates and times, decimals, and class instances that are allowed or registered)
into an s-expression: nested lists whose leaves are ints, floats and bytes, which is
exactly what Banana can carry. ``unjelly`` builds the value back. Objects that appear
twice (or contain themselves) are sent once and referred to afterwards, so shared and
cyclic structures survive the trip. The expressions are the ones Twisted's
``twisted.spread.jelly`` writes and reads, so torsion and Twisted peers understand
each other.

Safety is the point of this module: ``unjelly`` reads data from the network, and the
default taster (``globalSecurity``) allows basic types only. No module is imported and
no class is instantiated because the wire named it, unless a ``SecurityOptions`` names
it (``allowInstancesOf``, ``allowModules``) or it is registered with
``setUnjellyableForClass`` and friends. Hostile expressions (unknown tags, wrong
arity, references to ids never defined, nesting deeper than ``MAX_DEPTH``) fail with
``InsecureJelly`` (malformed ones with ``MalformedJelly``, which is also a
``ValueError``), never with a crash or an unbounded loop.

The user guide is docs/jelly.md; the tests are tests/spread/test_jelly*.py.
"""

from __future__ import annotations

import datetime
import decimal
import importlib
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeAlias, cast

__all__ = [
    "MAX_DEPTH",
    "DummySecurityOptions",
    "InsecureJelly",
    "Jellyable",
    "MalformedJelly",
    "SecurityOptions",
    "Unjellyable",
    "Unpersistable",
    "getInstanceState",
    "globalSecurity",
    "jelly",
    "qual",
    "setInstanceState",
    "setUnjellyableFactoryForClass",
    "setUnjellyableForClass",
    "setUnjellyableForClassTree",
    "unjelly",
    "unjellyableFactoryRegistry",
    "unjellyableRegistry",
]

#: How deeply the containers of one expression may nest before unjelly refuses it.
#: Each level costs a few Python frames; this keeps a hostile expression far from the
#: interpreter's recursion limit.
MAX_DEPTH = 256

Sexp: TypeAlias = Any
"""An s-expression: an int, float or bytes, or a list whose first item is a type tag."""


class InsecureJelly(Exception):
    """An expression asked for something the taster does not allow.

    The message names the refused type, class, module or function, and says how to
    allow it when allowing it makes sense.
    """


class MalformedJelly(InsecureJelly, ValueError):
    """An expression is not well formed (wrong arity, bad reference, bad value).

    It is an ``InsecureJelly`` (so one ``except InsecureJelly`` refuses everything a
    hostile peer can send) and a ``ValueError`` (it is bad data, not a policy).
    """


class Unpersistable:
    """Stands in for a value the sending side could not or would not jelly."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Unpersistable({self.reason!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unpersistable) and other.reason == self.reason

    def __hash__(self) -> int:
        return hash(self.reason)


def qual(klass: type) -> str:
    """Return the module-qualified name of ``klass``, the way the wire names it."""
    return f"{klass.__module__}.{klass.__qualname__}"


def _tagOf(name: type | str | bytes) -> bytes:
    if isinstance(name, type):
        return qual(name).encode("utf-8")
    if isinstance(name, str):
        return name.encode("utf-8")
    if isinstance(name, bytes):
        return name
    raise TypeError(f"a class name must be a class, str or bytes, not {type(name).__name__}")


def _text(value: object, what: str) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedJelly(f"{what} {value!r} is not UTF-8") from None
    if isinstance(value, str):
        return value
    raise MalformedJelly(f"{what} must be bytes, not {type(value).__name__}")


# -- the taster ------------------------------------------------------------------

# Scalar types every SecurityOptions allows from the start (they cannot name code).
_SCALAR_TYPES = (
    b"None",
    b"NoneType",
    b"bool",
    b"boolean",
    b"string",
    b"str",
    b"int",
    b"float",
    b"datetime",
    b"time",
    b"date",
    b"timedelta",
    b"unicode",
    b"decimal",
    b"set",
    b"frozenset",
)


class SecurityOptions:
    """The taster: what ``unjelly`` may build from the wire, and nothing else.

    A new SecurityOptions allows scalars only (None, booleans, numbers, bytes, text,
    dates, decimals, sets). ``allowBasicTypes`` adds lists, tuples, dicts, references
    and persistent ids; ``allowInstancesOf`` adds the named classes (and only them);
    ``allowModules`` adds the named modules. The wire never causes an import of a
    module that is not named here.
    """

    basicTypes = [
        "dictionary",
        "list",
        "tuple",
        "reference",
        "dereference",
        "unpersistable",
        "persistent",
        "long_int",
        "long",
        "dict",
    ]

    def __init__(self) -> None:
        self.allowedTypes: dict[bytes, bool] = dict.fromkeys(_SCALAR_TYPES, True)
        self.allowedModules: dict[bytes, bool] = {}
        self.allowedClasses: dict[type, bool] = {}
        self._classesByName: dict[bytes, type] = {}
        self._handlerCache: dict[bytes, _Handler] | None = None

    def allowBasicTypes(self) -> None:
        """Allow containers, references and persistent ids besides the scalars."""
        self.allowTypes(*self.basicTypes)

    def allowTypes(self, *types: str | bytes) -> None:
        """Allow expressions with these type tags (for example ``"list"``)."""
        for name in types:
            self.allowedTypes[_tagOf(name)] = True
        self._handlerCache = None

    def allowInstancesOf(self, *classes: type) -> None:
        """Allow instances of exactly these classes (not their subclasses).

        Also allows the basic types, and the ``class`` and ``instance`` tags for these
        classes. Unlike Twisted, it does not allow the classes' modules: a module
        object comes only from ``allowModules``.
        """
        self.allowBasicTypes()
        self.allowTypes("instance", "class")
        for klass in classes:
            if not isinstance(klass, type):
                raise TypeError(f"allowInstancesOf takes classes, not {klass!r}")
            name = _tagOf(klass)
            self.allowedClasses[klass] = True
            self._classesByName[name] = klass
            self.allowedTypes[name] = True
        self._handlerCache = None

    def allowModules(self, *modules: types.ModuleType | str | bytes) -> None:
        """Allow these modules (objects or dotted names) to be named by the wire.

        That allows ``[b"module", name]`` expressions for them, and functions from them
        where the ``function`` type is allowed too (``allowTypes("function")``).
        """
        for module in modules:
            name = module.__name__ if isinstance(module, types.ModuleType) else module
            self.allowedModules[_tagOf(name)] = True
        self.allowTypes("module")

    def isModuleAllowed(self, moduleName: str | bytes) -> bool:
        """Whether the module of this dotted name is allowed."""
        return _tagOf(moduleName) in self.allowedModules

    def isClassAllowed(self, klass: type) -> bool:
        """Whether instances of ``klass`` (exactly) are allowed."""
        return klass in self.allowedClasses

    def isTypeAllowed(self, typeName: str | bytes) -> bool:
        """Whether expressions with this type tag are allowed."""
        return _tagOf(typeName) in self.allowedTypes

    def _classNamed(self, name: bytes) -> type | None:
        return self._classesByName.get(name)

    def _handlers(self) -> dict[bytes, _Handler]:
        table = self._handlerCache
        if table is None:
            allowed = self.allowedTypes
            table = {tag: h for tag, h in _HANDLERS.items() if tag in allowed}
            self._handlerCache = table
        return table


class DummySecurityOptions:
    """A taster that allows everything: any module, any class, any function.

    Kept because Twisted has it. It lets the wire import modules and build instances
    of any class, so it must never be used for data from a peer you do not trust
    (never for the network); use it only for data you wrote yourself.
    """

    def isModuleAllowed(self, moduleName: str | bytes) -> bool:
        """Every module is allowed."""
        return True

    def isClassAllowed(self, klass: type) -> bool:
        """Every class is allowed."""
        return True

    def isTypeAllowed(self, typeName: str | bytes) -> bool:
        """Every type is allowed."""
        return True


class Taster(Protocol):
    """What ``jelly`` and ``unjelly`` ask of a taster."""

    def isModuleAllowed(self, moduleName: str | bytes) -> bool: ...

    def isClassAllowed(self, klass: type) -> bool: ...

    def isTypeAllowed(self, typeName: str | bytes) -> bool: ...


globalSecurity = SecurityOptions()
globalSecurity.allowBasicTypes()


# -- registries and instance state -----------------------------------------------

#: Type tag -> class (with ``unjellyFor``, or a plain class) or callable
#: ``(unjellier, jellyList) -> object``, consulted for tags unjelly does not know.
unjellyableRegistry: dict[bytes, Any] = {}
#: Type tag -> callable ``(state) -> object``.
unjellyableFactoryRegistry: dict[bytes, Callable[[Any], Any]] = {}


def setUnjellyableForClass(classname: type | str | bytes, unjellyable: Any) -> None:
    """Build ``unjellyable`` when an expression is tagged with ``classname``.

    ``classname`` is a class (its module-qualified name is the tag) or the tag as a
    str or bytes. ``unjellyable`` is a class: if it has ``unjellyFor(unjellier,
    jellyList)`` (``Unjellyable`` does) a blank instance is made and that method
    builds it; otherwise the blank instance gets the state as ``setInstanceState``
    gives it. Anything else callable is called with ``(unjellier, jellyList)``.
    Registering is naming: the taster is not asked about registered tags.
    """
    if not callable(unjellyable):
        raise TypeError(f"{unjellyable!r} is not a class or callable")
    unjellyableRegistry[_tagOf(classname)] = unjellyable


def setUnjellyableFactoryForClass(
    classname: type | str | bytes, copyFactory: Callable[[Any], Any]
) -> None:
    """Build instances tagged ``classname`` by calling ``copyFactory(state)``."""
    if not callable(copyFactory):
        raise TypeError(f"{copyFactory!r} is not callable")
    unjellyableFactoryRegistry[_tagOf(classname)] = copyFactory


def setUnjellyableForClassTree(
    module: types.ModuleType | str, baseClass: type, prefix: str | None = None
) -> None:
    """Register every class of ``module`` derived from ``baseClass`` (itself included).

    Each class is registered under ``prefix + "." + its name``; the prefix defaults to
    the module's name, and an empty prefix registers the bare class names.
    """
    if isinstance(module, str):
        module = importlib.import_module(module)
    if prefix is None:
        prefix = module.__name__
    for name in dir(module):
        value = getattr(module, name)
        if isinstance(value, type) and issubclass(value, baseClass):
            setUnjellyableForClass(f"{prefix}.{name}" if prefix else name, value)


def getInstanceState(inst: object, jellier: _Jellier) -> Sexp:
    """Jelly ``inst`` as its class name and its ``__getstate__()`` (shared-aware)."""
    sexp = jellier.prepare(inst)
    sexp.append(qual(type(inst)).encode("utf-8"))
    sexp.append(jellier.jelly(inst.__getstate__()))
    return jellier.preserve(inst, sexp)


def setInstanceState(inst: Any, unjellier: _Unjellier, jellyList: Sexp) -> Any:
    """Give ``inst`` the state in ``jellyList[1]``; return ``inst``.

    The state goes to ``__setstate__`` where the class has one; a dict becomes the
    instance's ``__dict__`` and a ``(dict, slots)`` pair (what ``__getstate__`` gives
    for a class with ``__slots__``) is applied to both.
    """
    _arity(jellyList, 2, "an instance")
    state = unjellier.unjelly(jellyList[1])
    _applyState(inst, state)
    return inst


def _applyState(inst: Any, state: Any) -> None:
    setstate = getattr(inst, "__setstate__", None)
    if setstate is not None:
        setstate(state)
        return
    slots: Any = None
    if type(state) is tuple and len(state) == 2:
        state, slots = state
    if state is not None:
        if type(state) is not dict:
            raise MalformedJelly(
                f"the state of a {qual(type(inst))} must be a dict, not {type(state).__name__}"
            )
        try:
            inst.__dict__ = state
        except (AttributeError, TypeError):
            for key, value in state.items():
                setattr(inst, key, value)
    if slots is not None:
        if type(slots) is not dict:
            raise MalformedJelly(f"the slot state of a {qual(type(inst))} must be a dict")
        for key, value in slots.items():
            if type(key) is not str:
                raise MalformedJelly(f"slot name {key!r} is not text")
            setattr(inst, key, value)


class Jellyable:
    """A class that decides how it is jellied (and is jellied whatever the taster)."""

    def getStateFor(self, jellier: _Jellier) -> Any:
        """Return the state to send; by default the instance's ``__dict__``."""
        return self.__dict__

    def jellyFor(self, jellier: _Jellier) -> Sexp:
        """Return the expression for this object: its class name and jellied state."""
        sexp = jellier.prepare(self)
        sexp.append(qual(type(self)).encode("utf-8"))
        sexp.append(jellier.jelly(self.getStateFor(jellier)))
        return jellier.preserve(self, sexp)


class Unjellyable:
    """A class that decides how it is built back (register it for a tag)."""

    def setStateFor(self, unjellier: _Unjellier, state: Any) -> None:
        """Take the unjellied state; by default it becomes ``__dict__``."""
        if type(state) is not dict:
            raise MalformedJelly(
                f"the state of a {qual(type(self))} must be a dict, not {type(state).__name__}"
            )
        self.__dict__ = state

    def unjellyFor(self, unjellier: _Unjellier, jellyList: Sexp) -> Any:
        """Build this (blank) instance from ``jellyList`` and return it."""
        _arity(jellyList, 2, "an instance")
        state = unjellier.unjelly(jellyList[1])
        self.setStateFor(unjellier, state)
        return self


# -- the jellier -----------------------------------------------------------------

_PersistentStore: TypeAlias = Callable[[Any, "_Jellier"], Any]
_PersistentLoad: TypeAlias = Callable[[Any, "_Unjellier"], Any]

_IMMEDIATE = frozenset((int, float, bytes))
_SEQUENCE_TAGS = {list: b"list", tuple: b"tuple", set: b"set", frozenset: b"frozenset"}


class _Jellier:
    """One jelly run: tracks shared objects and calls the objects' jelly hooks."""

    __slots__ = ("_keep", "_memo", "_nextRef", "_refIds", "invoker", "persistentStore", "taster")

    def __init__(
        self, taster: Taster, persistentStore: _PersistentStore | None, invoker: Any
    ) -> None:
        self.taster = taster
        self.persistentStore = persistentStore
        self.invoker = invoker
        # id -> expression (None while its object is still being jellied)
        self._memo: dict[int, Sexp] = {}
        self._refIds: dict[int, int] = {}
        self._nextRef = 1
        # Everything in _memo stays alive until the run ends, so that an id is never
        # reused by a temporary object (a fresh getStateFor dict, say).
        self._keep: list[object] = []

    def jelly(self, obj: Any) -> Sexp:
        """Return the expression for ``obj`` (the hook jellyFor methods call)."""
        t = type(obj)
        if t in _IMMEDIATE:
            return obj
        if t is str:
            return [b"unicode", obj.encode("utf-8")]
        handler = _JELLIERS.get(t)
        if handler is not None:
            return handler(self, obj)
        return self._jellyOther(obj)

    def prepare(self, obj: object) -> list[Sexp]:
        """Start the expression of ``obj``: returns the list to fill, then ``preserve``.

        Between the two, a reference to ``obj`` (a cycle) is recorded; afterwards, a
        second occurrence becomes a dereference.
        """
        oid = id(obj)
        self._memo[oid] = None
        self._keep.append(obj)
        return []

    def preserve(self, obj: object, sexp: Sexp) -> Sexp:
        """Finish the expression of ``obj`` begun by ``prepare``; return what to emit."""
        oid = id(obj)
        if oid in self._refIds:
            sexp = [b"reference", self._refIds[oid], sexp]
        self._memo[oid] = sexp
        return sexp

    def unpersistable(self, reason: str, sexp: list[Sexp] | None = None) -> Sexp:
        """Return (or append to ``sexp``) the expression of a value that cannot go."""
        value = [b"unpersistable", reason.encode("utf-8")]
        if sexp is None:
            return value
        sexp.extend(value)
        return sexp

    def _seen(self, oid: int) -> Sexp:
        """Return a dereference for an object met before, marking its first sexp."""
        refIds = self._refIds
        refId = refIds.get(oid)
        if refId is None:
            refId = refIds[oid] = self._nextRef
            self._nextRef += 1
            first = self._memo[oid]
            if type(first) is list:
                # Complete already: turn its expression into a reference in place.
                first[:] = [b"reference", refId, first[:]]
        return [b"dereference", refId]

    # The containers are the hot path (a PB call carrying a list of dicts): their
    # scalar items (ints, floats, bytes, text) are jellied inline, without a call.

    def _jellySequence(self, obj: list[Any] | tuple[Any, ...] | set[Any] | frozenset[Any]) -> Sexp:
        oid = id(obj)
        memo = self._memo
        if oid in memo:
            return self._seen(oid)
        memo[oid] = None
        self._keep.append(obj)
        jelly = self.jelly
        sexp: list[Sexp] = [_SEQUENCE_TAGS[type(obj)]]
        sexp += [
            x
            if (t := type(x)) in _IMMEDIATE
            else [b"unicode", x.encode("utf-8")]
            if t is str
            else jelly(x)
            for x in obj
        ]
        refIds = self._refIds
        if refIds and oid in refIds:
            sexp = [b"reference", refIds[oid], sexp]
        memo[oid] = sexp
        return sexp

    def _jellyDict(self, obj: dict[Any, Any]) -> Sexp:
        oid = id(obj)
        memo = self._memo
        if oid in memo:
            return self._seen(oid)
        memo[oid] = None
        self._keep.append(obj)
        jelly = self.jelly
        sexp: list[Sexp] = [b"dictionary"]
        sexp += [
            [
                k
                if (t := type(k)) in _IMMEDIATE
                else [b"unicode", k.encode("utf-8")]
                if t is str
                else jelly(k),
                v
                if (t := type(v)) in _IMMEDIATE
                else [b"unicode", v.encode("utf-8")]
                if t is str
                else jelly(v),
            ]
            for k, v in obj.items()
        ]
        refIds = self._refIds
        if refIds and oid in refIds:
            sexp = [b"reference", refIds[oid], sexp]
        memo[oid] = sexp
        return sexp

    def _jellyOther(self, obj: Any) -> Sexp:
        oid = id(obj)
        if oid in self._memo:
            return self._seen(oid)
        if isinstance(obj, Jellyable):
            return obj.jellyFor(self)
        t = type(obj)
        taster = self.taster
        if isinstance(obj, type):
            if taster.isTypeAllowed(b"class") and taster.isClassAllowed(obj):
                return [b"class", _tagOf(obj)]
            return self.unpersistable(f"class {qual(obj)} deemed insecure")
        if t is types.ModuleType:
            if taster.isTypeAllowed(b"module") and taster.isModuleAllowed(obj.__name__):
                return [b"module", obj.__name__.encode("utf-8")]
            return self.unpersistable(f"module {obj.__name__} deemed insecure")
        if t is types.FunctionType:
            if taster.isTypeAllowed(b"function") and taster.isModuleAllowed(obj.__module__):
                return [b"function", f"{obj.__module__}.{obj.__qualname__}".encode()]
            return self.unpersistable(f"function {obj.__qualname__} deemed insecure")
        if t is types.MethodType:
            if taster.isTypeAllowed(b"method"):
                owner = obj.__self__
                return [
                    b"method",
                    obj.__func__.__name__.encode("utf-8"),
                    self.jelly(owner),
                    self.jelly(type(owner)),
                ]
            return self.unpersistable(f"method {obj.__qualname__} deemed insecure")
        # An instance. What stands for it (its state, a persistent id, a refusal) is
        # sent once and referred to afterwards, as Twisted does.
        store = self.persistentStore
        if store is not None:
            pid = store(obj, self)
            if pid is not None:
                sexp = self.prepare(obj)
                sexp.extend((b"persistent", pid))
                return self.preserve(obj, sexp)
        if taster.isClassAllowed(t):
            return getInstanceState(obj, self)
        sexp = self.prepare(obj)
        self.unpersistable(f"instance of class {qual(t)} deemed insecure", sexp)
        return self.preserve(obj, sexp)


def _jellyNone(jellier: _Jellier, obj: None) -> Sexp:
    return [b"None"]


def _jellyBool(jellier: _Jellier, obj: bool) -> Sexp:
    return [b"boolean", b"true" if obj else b"false"]


def _jellyDatetime(jellier: _Jellier, obj: datetime.datetime) -> Sexp:
    if obj.tzinfo is not None:
        raise NotImplementedError(
            f"jelly cannot carry a datetime with a time zone ({obj!r}): the wire format "
            "has no field for it; send it in UTC without tzinfo, or as a timestamp"
        )
    return [
        b"datetime",
        b"%d %d %d %d %d %d %d"
        % (obj.year, obj.month, obj.day, obj.hour, obj.minute, obj.second, obj.microsecond),
    ]


def _jellyDate(jellier: _Jellier, obj: datetime.date) -> Sexp:
    return [b"date", b"%d %d %d" % (obj.year, obj.month, obj.day)]


def _jellyTime(jellier: _Jellier, obj: datetime.time) -> Sexp:
    if obj.tzinfo is not None:
        raise NotImplementedError(
            f"jelly cannot carry a time with a time zone ({obj!r}); send it without tzinfo"
        )
    return [b"time", b"%d %d %d %d" % (obj.hour, obj.minute, obj.second, obj.microsecond)]


def _jellyTimedelta(jellier: _Jellier, obj: datetime.timedelta) -> Sexp:
    return [b"timedelta", b"%d %d %d" % (obj.days, obj.seconds, obj.microseconds)]


def _jellyDecimal(jellier: _Jellier, obj: decimal.Decimal) -> Sexp:
    sign, digits, exponent = obj.as_tuple()
    if not isinstance(exponent, int):
        raise ValueError(
            f"jelly cannot carry the non-finite Decimal {obj!r} (Twisted's format has no "
            "way to say NaN or which infinity); send a float or a string instead"
        )
    value = 0
    for digit in digits:
        value = value * 10 + digit
    return [b"decimal", -value if sign else value, exponent]


_JellyHandler: TypeAlias = Callable[[_Jellier, Any], Sexp]

_JELLIERS: dict[type, _JellyHandler] = {
    type(None): _jellyNone,
    bool: _jellyBool,
    list: _Jellier._jellySequence,
    tuple: _Jellier._jellySequence,
    dict: _Jellier._jellyDict,
    set: _Jellier._jellySequence,
    frozenset: _Jellier._jellySequence,
    datetime.datetime: _jellyDatetime,
    datetime.date: _jellyDate,
    datetime.time: _jellyTime,
    datetime.timedelta: _jellyTimedelta,
    decimal.Decimal: _jellyDecimal,
}


# -- the unjellier ---------------------------------------------------------------


class _Placeholder:
    """An object that is not built yet, and the slots waiting for it.

    Only cycles need these: a dereference to a tuple (or to a registered object that
    builds itself) while it is still being built. A placeholder for a tuple collects
    the tuple's items and builds it once none is missing.
    """

    __slots__ = ("dependants", "items", "missing", "refId", "unjellier")

    def __init__(self, unjellier: _Unjellier, refId: int | None = None) -> None:
        self.unjellier = unjellier
        self.refId = refId
        self.dependants: list[tuple[Any, Any]] = []
        self.items: list[Any] | None = None
        self.missing = 0
        unjellier._unresolved += 1

    def addDependant(self, container: Any, key: Any) -> None:
        self.dependants.append((container, key))

    def __setitem__(self, key: Any, value: Any) -> None:
        items = self.items
        if items is None:
            self.resolve(value)
            return
        items[key] = value
        self.missing -= 1
        if self.missing == 0:
            self.resolve(tuple(items))

    def resolve(self, value: Any) -> None:
        unjellier = self.unjellier
        unjellier._unresolved -= 1
        if self.refId is not None:
            unjellier._refs[self.refId] = value
        dependants, self.dependants = self.dependants, []
        for container, key in dependants:
            container[key] = value


class _Unjellier:
    """One unjelly run: the references seen so far, the taster and the hooks."""

    __slots__ = (
        "_depth",
        "_early",
        "_handlers",
        "_refs",
        "_text",
        "_unresolved",
        "invoker",
        "maxDepth",
        "persistentLoad",
        "postCallbacks",
        "taster",
    )

    def __init__(
        self, taster: Taster, persistentLoad: _PersistentLoad | None, invoker: Any
    ) -> None:
        self.taster = taster
        self.persistentLoad = persistentLoad
        self.invoker = invoker
        #: Callables run once the whole expression is built (and only if it is).
        self.postCallbacks: list[Callable[[], object]] = []
        self.maxDepth = MAX_DEPTH
        self._refs: dict[int, Any] = {}
        self._early: int | None = None
        self._depth = 0
        self._unresolved = 0
        if type(taster) is SecurityOptions:
            self._handlers = taster._handlers()
        elif type(taster) is DummySecurityOptions:
            self._handlers = _HANDLERS
        else:
            self._handlers = {tag: h for tag, h in _HANDLERS.items() if taster.isTypeAllowed(tag)}
        # Text inside containers is decoded inline where the taster allows it.
        self._text = b"unicode" in self._handlers

    def unjellyFull(self, sexp: Sexp) -> Any:
        """Unjelly a whole expression: every reference must be resolved at the end."""
        try:
            obj = self.unjelly(sexp)
        except RecursionError:
            raise MalformedJelly(
                "the expression nests too deeply to be unjellied (Python's recursion "
                "limit was reached)"
            ) from None
        if self._unresolved:
            raise MalformedJelly(
                "the expression has a cycle that cannot be built (a tuple or a set that "
                "contains itself, or an object referring to itself before it exists)"
            )
        for callback in self.postCallbacks:
            callback()
        return obj

    def unjelly(self, obj: Sexp) -> Any:
        """Build the value of the expression ``obj`` (the hook unjellyFor methods call)."""
        if type(obj) is list:
            try:
                handler = self._handlers[obj[0]]
            except (KeyError, IndexError, TypeError):
                # Registered, an instance, not allowed, empty, or an unhashable tag.
                return self._unjellyOther(obj)
            return handler(self, obj)
        if type(obj) in _IMMEDIATE or type(obj) is str:
            return obj
        raise MalformedJelly(
            f"an expression is an int, float, bytes or list, not {type(obj).__name__}"
        )

    def unjellyInto(self, obj: Any, loc: Any, jel: Sexp) -> Any:
        """Unjelly ``jel`` into ``obj[loc]``, filling it later if it is not built yet."""
        value = self.unjelly(jel)
        obj[loc] = value
        if type(value) is _Placeholder:
            value.addDependant(obj, loc)
        return value

    def _enter(self) -> None:
        self._depth += 1
        if self._depth > self.maxDepth:
            raise MalformedJelly(
                f"the expression nests deeper than {self.maxDepth} levels; refusing it"
            )

    def _takeEarly(self) -> int | None:
        refId = self._early
        if refId is not None:
            self._early = None
        return refId

    def _unjellyOther(self, obj: list[Sexp]) -> Any:
        if not obj:
            raise MalformedJelly("an empty list is not an expression (it has no type tag)")
        tag = obj[0]
        if type(tag) is not bytes:
            raise MalformedJelly(f"a type tag must be bytes, not {tag!r}")
        if tag in _HANDLERS:
            name = tag.decode("ascii")
            hint = _ALLOW_HINTS.get(tag, f"allowTypes({name!r})")
            raise InsecureJelly(
                f"the jelly type {name!r} is not allowed by this taster, in {_short(obj)} "
                f"(allow it with {hint})"
            )
        self._enter()
        refId = self._takeEarly()
        regClass = unjellyableRegistry.get(tag)
        if regClass is not None:
            result = self._unjellyRegistered(regClass, obj, refId)
        else:
            factory = unjellyableFactoryRegistry.get(tag)
            if factory is not None:
                _arity(obj, 2, "a factory-built instance")
                result = factory(self.unjelly(obj[1]))
            else:
                klass = self._allowedClass(tag)
                result = self._newInstance(klass, refId)
                setInstanceState(result, self, obj)
        self._depth -= 1
        return result

    def _unjellyRegistered(self, regClass: Any, obj: list[Sexp], refId: int | None) -> Any:
        if isinstance(regClass, type):
            blank = self._newInstance(regClass, refId)
            unjellyFor = getattr(blank, "unjellyFor", None)
            if unjellyFor is None:
                return setInstanceState(blank, self, obj)
            result = unjellyFor(self, obj)
            if result is not blank and refId is not None:
                self._refs[refId] = result
            return result
        return regClass(self, obj)

    def _newInstance(self, klass: type, refId: int | None) -> Any:
        try:
            inst = cast(Any, klass).__new__(klass)
        except TypeError as e:
            raise MalformedJelly(f"cannot make a blank {qual(klass)}: {e}") from None
        if refId is not None:
            self._refs[refId] = inst
        return inst

    def _allowedClass(self, tag: bytes) -> type:
        """Return the class the taster allows for this qualified name, or refuse."""
        taster = self.taster
        name = tag.decode("utf-8", "replace")
        if isinstance(taster, SecurityOptions):
            klass = taster._classNamed(tag)
            if klass is not None and taster.isClassAllowed(klass):
                return klass
        refusal = (
            f"class {name} is not allowed by this taster (allow it with "
            "allowInstancesOf, or register a class for it with setUnjellyableForClass)"
        )
        found = self._importNamed(name, "class", refusal)
        if not isinstance(found, type):
            raise InsecureJelly(f"{name} is not a class; refusing to build it")
        if not taster.isClassAllowed(found):
            raise InsecureJelly(refusal)
        return found

    def _importNamed(self, name: str, what: str, refusal: str) -> Any:
        """Find ``module.attr...`` where the taster allows the module; never otherwise.

        Only a module the taster allows is imported; a name the taster does not allow
        fails before any import.
        """
        taster = self.taster
        parts = name.split(".")
        if len(parts) >= 2 and not all(part.isidentifier() for part in parts):
            raise InsecureJelly(refusal)
        if len(parts) < 2:
            raise InsecureJelly(
                f"unknown jelly type {name!r}: it is not a basic type, nor registered with "
                "setUnjellyableForClass, nor a module-qualified class name"
            )
        for split in range(len(parts) - 1, 0, -1):
            moduleName = ".".join(parts[:split])
            if not taster.isModuleAllowed(moduleName):
                continue
            module = sys.modules.get(moduleName)
            if module is None:
                try:
                    module = importlib.import_module(moduleName)
                except ImportError:
                    continue
            value: Any = module
            try:
                for attr in parts[split:]:
                    value = getattr(value, attr)
            except AttributeError:
                raise InsecureJelly(f"{what} {name} does not exist") from None
            return value
        raise InsecureJelly(refusal)

    # The handlers of the basic types, in _HANDLERS below.

    def _unjellyNone(self, obj: list[Sexp]) -> None:
        _arity(obj, 1, "None")

    def _unjellyBoolean(self, obj: list[Sexp]) -> bool:
        _arity(obj, 2, "a boolean")
        value = obj[1]
        if value == b"true":
            return True
        if value == b"false":
            return False
        raise MalformedJelly(f"a boolean is b'true' or b'false', not {value!r}")

    def _unjellyUnicode(self, obj: list[Sexp]) -> str:
        if len(obj) != 2:
            raise MalformedJelly(f"text is [b'unicode', bytes], not {_short(obj)}")
        return _decode(obj[1])

    def _unjellyList(self, obj: list[Sexp]) -> list[Any]:
        self._enter()
        result: list[Any] = []
        refId = self._early
        if refId is not None:
            self._early = None
            self._refs[refId] = result
        unjelly = self.unjelly
        append = result.append
        for value in obj[1:]:
            if type(value) not in _IMMEDIATE:
                value = unjelly(value)
                if type(value) is _Placeholder:
                    value.addDependant(result, len(result))
            append(value)
        self._depth -= 1
        return result

    def _unjellyDictionary(self, obj: list[Sexp]) -> dict[Any, Any]:
        self._enter()
        result: dict[Any, Any] = {}
        refId = self._early
        if refId is not None:
            self._early = None
            self._refs[refId] = result
        unjelly = self.unjelly
        text = self._text
        for pair in obj[1:]:
            if type(pair) is not list or len(pair) != 2:
                raise MalformedJelly(f"a dictionary item is a [key, value] pair: {_short(pair)}")
            key, value = pair
            if type(key) is list and text and len(key) == 2 and key[0] == b"unicode":
                key = _decode(key[1])
            elif type(key) not in _IMMEDIATE:
                key = unjelly(key)
                if type(key) is _Placeholder:
                    raise MalformedJelly("a dictionary key refers to an object not built yet")
            if type(value) is list and text and len(value) == 2 and value[0] == b"unicode":
                value = _decode(value[1])
            elif type(value) not in _IMMEDIATE:
                value = unjelly(value)
            try:
                result[key] = value
            except TypeError:
                raise MalformedJelly(
                    f"a dictionary key of type {type(key).__name__} is not hashable"
                ) from None
            if type(value) is _Placeholder:
                value.addDependant(result, key)
        self._depth -= 1
        return result

    def _unjellyTuple(self, obj: list[Sexp]) -> Any:
        self._enter()
        unjelly = self.unjelly
        items = [unjelly(obj[index]) for index in range(1, len(obj))]
        self._depth -= 1
        pending = None
        for index, item in enumerate(items):
            if type(item) is _Placeholder:
                if pending is None:
                    pending = _Placeholder(self)
                    pending.items = items
                pending.missing += 1
                item.addDependant(pending, index)
        if pending is not None:
            return pending
        return tuple(items)

    def _unjellySet(self, obj: list[Sexp]) -> set[Any] | frozenset[Any]:
        self._enter()
        unjelly = self.unjelly
        items = [unjelly(obj[index]) for index in range(1, len(obj))]
        self._depth -= 1
        for item in items:
            if type(item) is _Placeholder:
                raise MalformedJelly("a set contains an object that is not built yet (a cycle)")
        try:
            return set(items) if obj[0] == b"set" else frozenset(items)
        except TypeError as e:
            raise MalformedJelly(f"a set item is not hashable: {e}") from None

    def _unjellyReference(self, obj: list[Sexp]) -> Any:
        _arity(obj, 3, "a reference")
        refId = obj[1]
        if type(refId) is not int:
            raise MalformedJelly(f"a reference id is an int, not {_short(refId)}")
        refs = self._refs
        if refId in refs:
            raise MalformedJelly(f"reference id {refId} is defined twice")
        inner = obj[2]
        tag = inner[0] if type(inner) is list and inner else None
        self._enter()
        refs[refId] = placeholder = _Placeholder(self, refId)
        if tag in _EARLY_TAGS or (type(tag) is bytes and tag not in _HANDLERS):
            # Lists, dicts and instances register themselves before their contents.
            self._early = refId
        value = self.unjelly(inner)
        self._early = None
        self._depth -= 1
        if refs[refId] is placeholder:
            if type(value) is _Placeholder:
                value.addDependant(placeholder, None)
            else:
                placeholder.resolve(value)
        else:
            # Registered early, so a dereference from inside got the object itself.
            placeholder.resolve(value)
        return value

    def _unjellyDereference(self, obj: list[Sexp]) -> Any:
        _arity(obj, 2, "a dereference")
        refId = obj[1]
        try:
            return self._refs[refId]
        except (KeyError, TypeError):
            raise MalformedJelly(
                f"dereference of id {_short(refId)}, which no earlier reference defined"
            ) from None

    def _unjellyPersistent(self, obj: list[Sexp]) -> Any:
        _arity(obj, 2, "a persistent id")
        load = self.persistentLoad
        if load is None:
            raise InsecureJelly(
                "the expression has a persistent id but unjelly was given no persistentLoad"
            )
        return load(obj[1], self)

    def _unjellyUnpersistable(self, obj: list[Sexp]) -> Unpersistable:
        _arity(obj, 2, "an unpersistable")
        reason = obj[1]
        text = reason.decode("utf-8", "replace") if type(reason) is bytes else str(reason)
        return Unpersistable(f"Unpersistable data: {text}")

    def _unjellyDatetime(self, obj: list[Sexp]) -> datetime.datetime:
        return _checkedDateTime(datetime.datetime, _fields(obj, 7), "datetime")  # type: ignore[no-any-return]

    def _unjellyDate(self, obj: list[Sexp]) -> datetime.date:
        return _checkedDateTime(datetime.date, _fields(obj, 3), "date")  # type: ignore[no-any-return]

    def _unjellyTime(self, obj: list[Sexp]) -> datetime.time:
        return _checkedDateTime(datetime.time, _fields(obj, 4), "time")  # type: ignore[no-any-return]

    def _unjellyTimedelta(self, obj: list[Sexp]) -> datetime.timedelta:
        return _checkedDateTime(datetime.timedelta, _fields(obj, 3), "timedelta")  # type: ignore[no-any-return]

    def _unjellyDecimal(self, obj: list[Sexp]) -> decimal.Decimal:
        _arity(obj, 3, "a decimal")
        value, exponent = obj[1], obj[2]
        if type(value) is not int:
            raise MalformedJelly(f"a decimal's value is an int, not {_short(value)}")
        if exponent in (b"F", "F"):
            return decimal.Decimal("-Infinity" if value < 0 else "Infinity")
        if type(exponent) is not int:
            raise MalformedJelly(f"a decimal's exponent is an int, not {_short(exponent)}")
        try:
            digits = tuple(int(d) for d in str(abs(value)))
        except ValueError as e:
            raise MalformedJelly(f"a decimal is too long: {e}") from None
        return decimal.Decimal((1 if value < 0 else 0, digits, exponent))

    def _unjellyInstance(self, obj: list[Sexp]) -> Any:
        # The older form: [b"instance", [b"class", name], state].
        _arity(obj, 3, "an instance")
        self._enter()
        refId = self._takeEarly()
        klass = self.unjelly(obj[1])
        if not isinstance(klass, type):
            raise MalformedJelly("an instance's class is not a class")
        inst = self._newInstance(klass, refId)
        _applyState(inst, self.unjelly(obj[2]))
        self._depth -= 1
        return inst

    def _unjellyClass(self, obj: list[Sexp]) -> type:
        _arity(obj, 2, "a class")
        name = _text(obj[1], "a class name")
        return self._allowedClass(name.encode("utf-8"))

    def _unjellyModule(self, obj: list[Sexp]) -> types.ModuleType:
        _arity(obj, 2, "a module")
        name = _text(obj[1], "a module name")
        if not self.taster.isModuleAllowed(name):
            raise InsecureJelly(
                f"module {name} is not allowed by this taster (allow it with allowModules)"
            )
        try:
            return sys.modules.get(name) or importlib.import_module(name)
        except ImportError:
            raise InsecureJelly(f"module {name} cannot be imported") from None

    def _unjellyFunction(self, obj: list[Sexp]) -> Any:
        _arity(obj, 2, "a function")
        name = _text(obj[1], "a function name")
        function = self._importNamed(
            name,
            "function",
            f"function {name} is not allowed by this taster: its module is not allowed "
            "(allow it with allowModules)",
        )
        if not isinstance(function, types.FunctionType | types.BuiltinFunctionType):
            raise InsecureJelly(f"{name} is not a function; refusing it")
        return function

    def _unjellyMethod(self, obj: list[Sexp]) -> Any:
        _arity(obj, 4, "a method")
        name = _text(obj[1], "a method name")
        if not name.isidentifier():
            raise MalformedJelly(f"{name!r} is not a method name")
        owner = self.unjelly(obj[2])
        klass = self.unjelly(obj[3])
        if not isinstance(klass, type) or not isinstance(owner, klass):
            raise MalformedJelly(f"method {name}: its object is not of its class")
        method = getattr(owner, name, None)
        if not isinstance(method, types.MethodType):
            raise InsecureJelly(f"{qual(klass)}.{name} is not a method")
        return method


_Handler: TypeAlias = Callable[[_Unjellier, list[Sexp]], Any]

_HANDLERS: dict[bytes, _Handler] = {
    b"None": _Unjellier._unjellyNone,
    b"boolean": _Unjellier._unjellyBoolean,
    b"unicode": _Unjellier._unjellyUnicode,
    b"list": _Unjellier._unjellyList,
    b"tuple": _Unjellier._unjellyTuple,
    b"dictionary": _Unjellier._unjellyDictionary,
    b"set": _Unjellier._unjellySet,
    b"frozenset": _Unjellier._unjellySet,
    b"reference": _Unjellier._unjellyReference,
    b"dereference": _Unjellier._unjellyDereference,
    b"persistent": _Unjellier._unjellyPersistent,
    b"unpersistable": _Unjellier._unjellyUnpersistable,
    b"datetime": _Unjellier._unjellyDatetime,
    b"date": _Unjellier._unjellyDate,
    b"time": _Unjellier._unjellyTime,
    b"timedelta": _Unjellier._unjellyTimedelta,
    b"decimal": _Unjellier._unjellyDecimal,
    b"instance": _Unjellier._unjellyInstance,
    b"class": _Unjellier._unjellyClass,
    b"module": _Unjellier._unjellyModule,
    b"function": _Unjellier._unjellyFunction,
    b"method": _Unjellier._unjellyMethod,
}

_ALLOW_HINTS = {
    b"instance": "allowInstancesOf(TheClass)",
    b"class": "allowInstancesOf(TheClass)",
    b"module": "allowModules(theModule)",
    b"function": "allowTypes('function') and allowModules(itsModule)",
    b"method": "allowTypes('method') and allowInstancesOf(TheClass)",
}

# Tags whose handler registers its object before unjellying the contents, so that a
# reference to it from inside needs no placeholder.
_EARLY_TAGS = frozenset((b"list", b"dictionary", b"instance"))


def _decode(data: Sexp) -> str:
    if type(data) is not bytes:
        raise MalformedJelly(f"text is [b'unicode', bytes], not [b'unicode', {_short(data)}]")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedJelly(f"text {_short(data)} is not UTF-8") from None


def _arity(obj: list[Sexp], length: int, what: str) -> None:
    if len(obj) != length:
        raise MalformedJelly(f"{what} is a list of {length} items, not {len(obj)}: {_short(obj)}")


def _fields(obj: list[Sexp], count: int) -> list[int]:
    what = obj[0].decode("ascii")
    _arity(obj, 2, f"a {what}")
    text = obj[1]
    if type(text) is not bytes or len(text) > 20 * count:
        raise MalformedJelly(f"a {what} is given as bytes of numbers, not {_short(text)}")
    parts = text.split(b" ")
    if len(parts) != count:
        raise MalformedJelly(f"a {what} has {count} numbers, not {len(parts)}: {text!r}")
    try:
        numbers = [int(part) for part in parts]
    except ValueError:
        raise MalformedJelly(f"a {what} has a field that is not a number: {text!r}") from None
    return numbers


def _short(value: object, limit: int = 80) -> str:
    if type(value) is int and value.bit_length() > 256:
        return f"<an int of {value.bit_length()} bits>"
    try:
        text = repr(value)
    except Exception:
        return f"<a {type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _checkedDateTime(build: Callable[..., Any], values: Iterable[int], what: str) -> Any:
    try:
        return build(*values)
    except (ValueError, OverflowError) as e:
        raise MalformedJelly(f"a {what} out of range: {e}") from None


# -- the entry points ------------------------------------------------------------


def jelly(
    object: Any,
    taster: Taster = globalSecurity,
    persistentStore: _PersistentStore | None = None,
    invoker: Any = None,
) -> Sexp:
    """Return the s-expression of ``object``.

    Instances of classes the taster does not allow (and that are not ``Jellyable``)
    become ``[b"unpersistable", reason]``; pass a taster that allows them (or, for your
    own local data only, ``DummySecurityOptions()``). ``persistentStore(obj,
    jellier)`` may return an id to send instead of an instance. ``invoker`` is what
    the objects' jelly hooks see as ``jellier.invoker`` (PB passes its Broker).
    """
    try:
        return _Jellier(taster, persistentStore, invoker).jelly(object)
    except RecursionError:
        raise ValueError(
            "the object nests too deeply to be jellied (Python's recursion limit was reached)"
        ) from None


def unjelly(
    sexp: Sexp,
    taster: Taster = globalSecurity,
    persistentLoad: _PersistentLoad | None = None,
    invoker: Any = None,
) -> Any:
    """Build the value of the s-expression ``sexp``.

    Only what ``taster`` allows is built (by default basic types only); anything
    else raises ``InsecureJelly`` naming it, and a malformed expression raises
    ``MalformedJelly``. ``persistentLoad(pid, unjellier)`` turns persistent ids back
    into objects.
    """
    return _Unjellier(taster, persistentLoad, invoker).unjellyFull(sexp)
