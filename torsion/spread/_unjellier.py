"""The unjellier: s-expressions back to objects, allowing only what the taster names.

Private to torsion.spread.jelly (use its ``unjelly``). Every handler checks the
shape of its expression and raises MalformedJelly when it is wrong; references are
resolved through placeholders only where a cycle makes them necessary.
Tests: tests/spread/test_jelly.py and test_jelly_security.py.
"""

from __future__ import annotations

import datetime
import decimal
import importlib
import inspect
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any, TypeAlias, cast

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
    _applyState,
    _arity,
    _short,
    _text,
    qual,
    setInstanceState,
    unjellyableFactoryRegistry,
    unjellyableRegistry,
)

_PersistentLoad: TypeAlias = Callable[[Any, "_Unjellier"], Any]


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
        self._handlers = _allowedHandlers(taster)
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
        if not all(part.isidentifier() for part in name.split(".")):
            raise MalformedJelly(f"{name!r} is not a module name")
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
        # Looked up without running descriptors: a name from the wire must not reach
        # a property's getter.
        function = inspect.getattr_static(klass, name, None)
        if not isinstance(function, types.FunctionType):
            raise InsecureJelly(f"{qual(klass)}.{name} is not a method")
        return types.MethodType(function, owner)


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


def _checkedDateTime(build: Callable[..., Any], values: Iterable[int], what: str) -> Any:
    try:
        return build(*values)
    except (ValueError, OverflowError) as e:
        raise MalformedJelly(f"a {what} out of range: {e}") from None


def _allowedHandlers(taster: Taster) -> dict[bytes, _Handler]:
    """The handlers of the basic types the taster allows (cached in a SecurityOptions)."""
    if type(taster) is SecurityOptions:
        allowed = taster.allowedTypes
        cached = taster._handlerCache
        # allowTypes clears the cache; the size catches a direct edit of allowedTypes.
        if cached is None or cached[0] != len(allowed):
            table = {tag: h for tag, h in _HANDLERS.items() if tag in allowed}
            cached = taster._handlerCache = (len(allowed), table)
        return cached[1]
    if type(taster) is DummySecurityOptions:
        return _HANDLERS
    return {tag: h for tag, h in _HANDLERS.items() if taster.isTypeAllowed(tag)}
