"""Persistence styles: classes whose saved state outlives their code.

- ``Versioned``: a class says which version of its state it writes
  (``persistenceVersion = 3``); state saved by an older version is brought up to date
  by ``upgradeToVersion2``, ``upgradeToVersion3``, ... run in order after loading, for
  every class in the hierarchy that is versioned. Loading collects the objects to
  upgrade and ``doUpgrade()`` runs them once the whole graph exists (``sob.load`` calls
  it); ``requireUpgrade(obj)`` upgrades one object early, for an upgrade method that
  needs another object already upgraded. ``persistenceForgets`` names attributes that
  are not saved.
- ``Ephemeral``: an object that is not saved; it comes back as a bare ``Ephemeral``.
- Modules are picklable once this module is imported (Python's pickle refuses them);
  bound methods, which Python pickles by attribute name, are pickled by the name that
  finds them again, so that private (``__name``) methods work too.

Tests: tests/persisted/test_styles.py.
"""

from __future__ import annotations

import copyreg
import importlib
import types
from collections.abc import Callable
from typing import Any, ClassVar

from torsion.logger import Logger
from torsion.persisted.error import NotPersistableError

__all__ = [
    "Ephemeral",
    "Versioned",
    "doUpgrade",
    "methodAttributeName",
    "pickleMethod",
    "pickleModule",
    "requireUpgrade",
    "unpickleMethod",
    "unpickleModule",
    "upgraded",
    "versionedsToUpgrade",
]

_log = Logger()

# Objects loaded but not yet upgraded, and those upgraded in the current round,
# keyed by id() (the objects themselves need not be hashable).
versionedsToUpgrade: dict[int, Versioned] = {}
upgraded: dict[int, Versioned] = {}


def _versionKey(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}.persistenceVersion"


class Versioned:
    """A class whose saved state carries its version, and is upgraded when loaded.

    Set ``persistenceVersion`` on each class of the hierarchy that changes its state, and
    write ``upgradeToVersionN(self)`` for each step: loading an object saved at version 1
    of a class now at version 3 runs that class's ``upgradeToVersion2`` and then
    ``upgradeToVersion3`` (a missing step is skipped). Base classes are upgraded before
    subclasses. A state without a version key was saved before the class was versioned,
    and counts as version 0.
    """

    persistenceVersion: ClassVar[int]
    persistenceForgets: ClassVar[tuple[str, ...]] = ()

    def __getstate__(self) -> dict[str, Any]:
        """Return a copy of the instance dictionary with a version key per versioned class."""
        state = dict(self.__dict__)
        for base in _versionedBases(type(self)):
            for forgotten in base.__dict__.get("persistenceForgets", ()):
                state.pop(forgotten, None)
            if "persistenceVersion" in base.__dict__:
                state[_versionKey(base)] = base.__dict__["persistenceVersion"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Take the saved state as it is, and queue the object for ``doUpgrade``."""
        self.__dict__.update(state)
        versionedsToUpgrade[id(self)] = self

    def versionUpgrade(self) -> None:
        """Run the upgrade methods between the saved versions and the current ones."""
        for base in _versionedBases(type(self)):
            if "persistenceVersion" not in base.__dict__:
                continue
            current = base.__dict__["persistenceVersion"]
            saved = self.__dict__.pop(_versionKey(base), 0)
            if not isinstance(saved, int) or saved > current:
                _log.warn(
                    "{obj!r} was saved by version {saved!r} of {cls}, newer than this one"
                    " ({current}); it is loaded without upgrading",
                    obj=self,
                    saved=saved,
                    cls=base.__qualname__,
                    current=current,
                )
                continue
            for version in range(saved + 1, current + 1):
                method = base.__dict__.get(f"upgradeToVersion{version}")
                if method is not None:
                    method(self)


def _versionedBases(cls: type) -> list[type]:
    """The versioned classes of ``cls``'s hierarchy, bases first, ``cls`` last."""
    return [base for base in reversed(cls.__mro__) if issubclass(base, Versioned)]


def doUpgrade() -> None:
    """Upgrade every object loaded since the last call (``sob.load`` calls this)."""
    try:
        while versionedsToUpgrade:
            key = next(iter(versionedsToUpgrade))
            requireUpgrade(versionedsToUpgrade[key])
            versionedsToUpgrade.pop(key, None)
    finally:
        versionedsToUpgrade.clear()
        upgraded.clear()


def requireUpgrade(obj: Versioned) -> Versioned:
    """Upgrade ``obj`` now if it is waiting for an upgrade; return it.

    An ``upgradeToVersionN`` method that reads another loaded object calls this on it
    first, so that it sees the other object's current form whatever the order.
    """
    key = id(obj)
    if key in versionedsToUpgrade and key not in upgraded:
        upgraded[key] = obj
        obj.versionUpgrade()
    return obj


class Ephemeral:
    """An object that is never persisted: it is saved as a placeholder, and loads empty.

    Subclass it for things that mean nothing in another process (open files, sockets,
    caches). Any subclass instance comes back as a bare ``Ephemeral``, so code that
    loads an application must recreate such objects, typically in ``startService``.
    (``copy.copy`` and ``copy.deepcopy`` use the same protocol, and give a bare
    ``Ephemeral`` too.)
    """

    def __reduce__(self) -> tuple[type[Ephemeral], tuple[()]]:
        return (Ephemeral, ())


def methodAttributeName(method: Any) -> str:
    """Return the attribute name that finds the bound ``method`` again on its object.

    A method defined as ``__name`` in class ``C`` is stored as ``_C__name``; Python's own
    pickling uses ``__name`` and fails to load it.
    """
    name: str = method.__name__
    if name.startswith("__") and not name.endswith("__"):
        func = getattr(method, "__func__", None)
        qualname = getattr(func, "__qualname__", "")
        owner = qualname.rsplit(".", 2)[-2] if qualname.count(".") else ""
        stripped = owner.lstrip("_")
        if stripped:
            name = f"_{stripped}{name}"
    return name


def pickleMethod(method: types.MethodType) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """Reduce a bound method to its object and the attribute name that finds it."""
    name = methodAttributeName(method)
    target = method.__self__
    if getattr(target, name, None) != method:
        raise NotPersistableError(
            f"cannot persist {method!r}: {name!r} on its object is not this method"
        )
    return (unpickleMethod, (target, name))


def unpickleMethod(target: object, name: str) -> Any:
    """Find a pickled bound method again (the inverse of ``pickleMethod``)."""
    return getattr(target, name)


def pickleModule(module: types.ModuleType) -> tuple[Callable[[str], types.ModuleType], tuple[str]]:
    """Reduce a module to its name; loading imports it."""
    return (unpickleModule, (module.__name__,))


def unpickleModule(name: str) -> types.ModuleType:
    """Import a pickled module by name (the inverse of ``pickleModule``)."""
    return importlib.import_module(name)


copyreg.pickle(types.ModuleType, pickleModule)
copyreg.pickle(types.MethodType, pickleMethod)
