"""Naming module-level objects and finding them again: what persisting "by name" means.

Classes, functions and modules are persisted as their fully qualified name
(``package.module.Class.Nested``) and found again by importing the longest importable
prefix and looking the rest up as attributes. ``qualifiedName`` refuses objects that
cannot be found that way (lambdas, classes defined inside functions, objects defined in
a .tac file), with an error that says why.

Tests: tests/persisted/test_names.py.
"""

from __future__ import annotations

import importlib
import sys
import types

from torsion.persisted.error import FormatError, NotPersistableError

__all__ = ["namedObject", "qualifiedName"]


def qualifiedName(obj: object) -> str:
    """Return the name under which ``obj`` (a class, function or module) is found again.

    Raises:
        NotPersistableError: ``obj`` is not reachable by name from an importable module.
    """
    if isinstance(obj, types.ModuleType):
        name = obj.__name__
        if sys.modules.get(name) is not obj:
            raise NotPersistableError(f"cannot persist the module {name!r}: it is not imported")
        return name
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        raise NotPersistableError(f"cannot persist {obj!r} by name: it has no module and name")
    if "<locals>" in qualname or "<lambda>" in qualname:
        raise NotPersistableError(
            f"cannot persist {obj!r}: classes and functions are saved by name, so they must"
            " be defined at the top level of a module (not inside a function, nor a lambda)"
        )
    if module not in sys.modules or module == "__tac__":
        raise NotPersistableError(
            f"cannot persist {obj!r}: its module {module!r} is not importable; define it in"
            " a module (classes and functions in a .tac file cannot be saved)"
        )
    name = f"{module}.{qualname}"
    try:
        found = namedObject(name)
    except FormatError:
        found = None
    if found is not obj:
        raise NotPersistableError(
            f"cannot persist {obj!r} by name: {name} is a different object"
            " (was it redefined, decorated or replaced?)"
        )
    return name


def namedObject(name: str) -> object:
    """Import and return the object called ``name`` (``module.attribute.attribute``).

    Importing runs the module's code: this is why loading a persisted file runs code.

    Raises:
        FormatError: no importable module is a prefix of ``name``, or an attribute
            along the way is missing.
    """
    if not isinstance(name, str) or not name or any(not part for part in name.split(".")):
        raise FormatError(f"{name!r} is not a qualified name")
    parts = name.split(".")
    module: object = None
    index = len(parts)
    while index > 0:
        moduleName = ".".join(parts[:index])
        try:
            module = importlib.import_module(moduleName)
            break
        except ModuleNotFoundError as e:
            # Only "this prefix is not a module" means "try a shorter one"; a module that
            # exists but fails to import its own dependencies is a real error.
            if e.name is None or not (moduleName == e.name or moduleName.startswith(e.name + ".")):
                raise FormatError(f"importing {moduleName} for {name} failed: {e}") from e
            index -= 1
    if index == 0:
        raise FormatError(f"cannot find {name}: no module {parts[0]!r} can be imported")
    obj = module
    for attribute in parts[index:]:
        try:
            obj = getattr(obj, attribute)
        except AttributeError:
            raise FormatError(
                f"cannot find {name}: {'.'.join(parts[:index])} has no attribute {attribute!r}"
            ) from None
        index += 1
    return obj
