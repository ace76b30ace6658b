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
import types
from collections.abc import Callable
from typing import Any, TypeAlias

from torsion.spread._jellybase import (
    _IMMEDIATE,
    MAX_DEPTH,
    DummySecurityOptions,
    InsecureJelly,
    MalformedJelly,
    SecurityOptions,
    Sexp,
    Taster,
    Unpersistable,
    _arity,
    _tagOf,
    globalSecurity,
    qual,
    setInstanceState,
    setUnjellyableFactoryForClass,
    setUnjellyableForClass,
    setUnjellyableForClassTree,
    unjellyableFactoryRegistry,
    unjellyableRegistry,
)
from torsion.spread._unjellier import _PersistentLoad, _Unjellier

__all__ = [
    "MAX_DEPTH",
    "DummySecurityOptions",
    "InsecureJelly",
    "Jellyable",
    "MalformedJelly",
    "SecurityOptions",
    "Taster",
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


def getInstanceState(inst: object, jellier: _Jellier) -> Sexp:
    """Jelly ``inst`` as its class name and its ``__getstate__()`` (shared-aware)."""
    sexp = jellier.prepare(inst)
    sexp.append(qual(type(inst)).encode("utf-8"))
    sexp.append(jellier.jelly(inst.__getstate__()))
    return jellier.preserve(inst, sexp)


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


# The public names live here, whichever private module defines them.
for _public in (
    DummySecurityOptions,
    InsecureJelly,
    MalformedJelly,
    SecurityOptions,
    Unpersistable,
    qual,
    setInstanceState,
    setUnjellyableFactoryForClass,
    setUnjellyableForClass,
    setUnjellyableForClassTree,
):
    _public.__module__ = __name__
del _public
