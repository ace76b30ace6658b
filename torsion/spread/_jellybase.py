"""The ground jelly stands on: its errors, the taster, the registries, instance state.

Private to torsion.spread.jelly, which re-exports every public name here (import
them from there); kept apart so that the jellier (jelly.py) and the unjellier
(_unjellier.py) share one definition. Tests: tests/spread/test_jelly*.py.
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

if TYPE_CHECKING:
    from torsion.spread._unjellier import _Unjellier

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
        # The unjellier's table of the handlers this taster allows, made on first use.
        self._handlerCache: tuple[int, dict[bytes, Any]] | None = None

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
            raise MalformedJelly(f"a {qual(type(inst))} has no __dict__ for its state") from None
    if slots is not None:
        if type(slots) is not dict:
            raise MalformedJelly(f"the slot state of a {qual(type(inst))} must be a dict")
        names = _slotNames(type(inst))
        for key, value in slots.items():
            # Only declared slots: a name from the wire must not reach a property.
            if key not in names:
                raise MalformedJelly(f"{key!r} is not a slot of {qual(type(inst))}")
            setattr(inst, key, value)


def _slotNames(klass: type) -> set[str]:
    """The attribute names of the slots ``klass`` and its bases declare."""
    names: set[str] = set()
    for base in klass.__mro__:
        declared = base.__dict__.get("__slots__", ())
        for name in (declared,) if isinstance(declared, str) else declared:
            if name in ("__dict__", "__weakref__"):
                continue
            if name.startswith("__") and not name.endswith("__"):
                name = f"_{base.__name__.lstrip('_')}{name}"
            names.add(name)
    return names


_IMMEDIATE = frozenset((int, float, bytes))


def _arity(obj: list[Sexp], length: int, what: str) -> None:
    if len(obj) != length:
        raise MalformedJelly(f"{what} is a list of {length} items, not {len(obj)}: {_short(obj)}")


def _short(value: object, limit: int = 80) -> str:
    if type(value) is int and value.bit_length() > 256:
        return f"<an int of {value.bit_length()} bits>"
    try:
        text = repr(value)
    except Exception:
        return f"<a {type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
