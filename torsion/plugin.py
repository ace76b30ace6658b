"""Plugins: objects that other code finds by the interface they provide.

``getPlugins(IServiceMaker)`` yields every IServiceMaker installed, which is how
``torsiond PLUGIN`` and ``torsion mktap PLUGIN`` find the services they can make. Two
places are searched:

- the modules of the ``torsion.plugins`` package (torsion's own plugins), and
- the ``torsion.plugins`` entry-point group of every installed distribution, which is
  how another package adds plugins. An entry point names a module, whose objects are
  searched, or one object::

      [project.entry-points."torsion.plugins"]
      myservice = "mypackage.plugins:serviceMaker"

An object is a plugin of ``interface`` if it provides it (an instance of a class
declared ``@implementer(interface)``); ``IPlugin`` is the marker that Twisted's plugins
also declare, accepted and not required. A plugin module that fails to import is
logged (with its traceback) and skipped, so one broken package does not hide the
others. ``getPlugins(interface, package)`` searches the modules of ``package`` only.

Finding plugins imports their modules: keep them small, and import the heavy code in
``makeService`` (``service.ServiceMaker`` does that for you).
Tests: tests/test_plugin.py.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import Any

from zope.interface import Interface

from torsion.logger import Logger

__all__ = ["ENTRY_POINT_GROUP", "IPlugin", "getPlugins"]

ENTRY_POINT_GROUP = "torsion.plugins"

_log = Logger()


class IPlugin(Interface):
    """Marks an object as a plugin (Twisted's marker; torsion does not require it)."""


def getPlugins(interface: Any, package: ModuleType | str | None = None) -> Iterator[Any]:
    """Yield each plugin object that provides ``interface``, each once.

    Args:
        interface: the zope.interface interface the plugins provide.
        package: a package (or its dotted name) whose modules to search instead of
            torsion's plugin package and the ``torsion.plugins`` entry points.
    """
    seen: set[int] = set()
    for candidate in _candidates(package):
        if id(candidate) in seen:
            continue
        try:
            provided = interface.providedBy(candidate)
        except Exception:
            continue
        if provided:
            seen.add(id(candidate))
            yield candidate


def _candidates(package: ModuleType | str | None) -> Iterator[Any]:
    if package is None:
        import torsion.plugins

        yield from _fromPackage(torsion.plugins)
        yield from _fromEntryPoints()
        return
    if isinstance(package, str):
        try:
            package = importlib.import_module(package)
        except Exception:
            _log.failure(
                "Cannot import the plugin package {package}; no plugins from it",
                package=package,
                level=_errorLevel(),
            )
            return
    yield from _fromPackage(package)


def _fromPackage(package: ModuleType) -> Iterator[Any]:
    path: Iterable[str] = getattr(package, "__path__", [])
    names = sorted(info.name for info in pkgutil.iter_modules(path) if not info.ispkg)
    for name in names:
        qualified = f"{package.__name__}.{name}"
        try:
            module = importlib.import_module(qualified)
        except Exception:
            _log.failure(
                "Cannot import the plugin module {module}; skipping it",
                module=qualified,
                level=_errorLevel(),
            )
            continue
        yield from _objectsOf(module)


def _fromEntryPoints() -> Iterator[Any]:
    points = sorted(
        importlib.metadata.entry_points(group=ENTRY_POINT_GROUP),
        key=lambda point: (point.value, point.name),
    )
    for point in points:
        try:
            loaded = point.load()
        except Exception:
            _log.failure(
                "Cannot load the plugin {name} = {value} ({group} entry point); skipping it",
                name=point.name,
                value=point.value,
                group=ENTRY_POINT_GROUP,
                level=_errorLevel(),
            )
            continue
        if isinstance(loaded, ModuleType):
            yield from _objectsOf(loaded)
        else:
            yield loaded


def _objectsOf(module: ModuleType) -> Iterator[Any]:
    for name, value in list(vars(module).items()):
        if not name.startswith("__"):
            yield value


def _errorLevel() -> Any:
    # An error, not a critical event: logged with its traceback once logging begins,
    # without a traceback on the terminal of someone who only asked for --help.
    from torsion.logger import LogLevel

    return LogLevel.error
