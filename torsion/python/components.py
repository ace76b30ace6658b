"""Adapters and componentised objects: the "interfaces, adapters, componentisation" of the seed.

Two ways to get "this object, seen as an IFoo":

- A global adapter registry (zope.interface's ``AdapterRegistry``, hooked into
  ``adapter_hooks``): ``registerAdapter(FooFromBar, Bar, IFoo)`` once, and from then
  on ``IFoo(bar)`` builds ``FooFromBar(bar)``. ``getAdapterFactory`` and
  ``getAdapter`` ask the registry without raising.
- A ``Componentized`` object, which holds one component per interface
  (``setComponent``/``addComponent``), so that ``IFoo(thing)`` returns the component it
  holds for IFoo. ``service.Application`` is one: a Componentized with a
  MultiService, a Process and a Persistent as its components. The components are
  kept under the interfaces' dotted names, so a Componentized pickles (a .tap file)
  without pickling interface objects.

``proxyForInterface(IFoo)`` makes a class whose instances wrap an object and pass
every name of IFoo through to it; subclass it to override one method of a wrapped
object. ``Adapter`` is a convenient base for adapter classes.
Tests: tests/python/test_components.py.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from zope.interface import declarations
from zope.interface.adapter import AdapterRegistry
from zope.interface.interface import InterfaceClass, adapter_hooks

__all__ = [
    "ALLOW_DUPLICATES",
    "Adapter",
    "CannotAdapt",
    "Componentized",
    "getAdapter",
    "getAdapterFactory",
    "getRegistry",
    "globalRegistry",
    "proxyForInterface",
    "registerAdapter",
]

# Set to True to let registerAdapter replace an adapter already registered for the
# same pair of interfaces (the last registration wins) instead of raising ValueError.
ALLOW_DUPLICATES = False

globalRegistry = AdapterRegistry()
# lookup1 and register are made at run time; mypy cannot see them on the class.
_registry: Any = globalRegistry


class CannotAdapt(TypeError):
    """No adapter (and no component) gives the object the interface that was asked for."""


class _Nothing:
    """The "no default given" marker of ``getAdapter``."""


_NOTHING = _Nothing()


def _qual(interface: Any) -> str:
    return f"{interface.__module__}.{interface.__name__}"


def _namedObject(name: str) -> Any:
    module, _, attribute = name.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def _declarationOf(original: Any) -> Any:
    """An interface stays itself; a class stands for what its instances implement."""
    if isinstance(original, InterfaceClass):
        return original
    if isinstance(original, type):
        return declarations.implementedBy(original)  # type: ignore[no-untyped-call]
    raise TypeError(
        f"adapt from an interface or a class, not {original!r} "
        f"(a {type(original).__name__}); pass type(obj) to adapt instances like obj"
    )


def registerAdapter(
    adapterFactory: Callable[[Any], Any], origInterface: Any, *interfaceClasses: Any
) -> None:
    """Register ``adapterFactory`` to adapt ``origInterface`` to each of ``interfaceClasses``.

    ``origInterface`` is an interface or a class (then instances of that class, and
    of its subclasses, are adapted). After this, ``IFoo(obj)`` calls
    ``adapterFactory(obj)`` for an ``obj`` that provides ``origInterface``.

    Raises:
        TypeError: no interface to adapt to was given, or ``origInterface`` is neither
            an interface nor a class.
        ValueError: an adapter is registered already for one of the pairs (unless
            ``ALLOW_DUPLICATES`` is set); nothing is registered then.
    """
    if not interfaceClasses:
        raise TypeError(
            f"registerAdapter({adapterFactory!r}, {origInterface!r}) names no interface "
            "to adapt to; pass at least one"
        )
    required = _declarationOf(origInterface)
    if not ALLOW_DUPLICATES:
        for interface in interfaceClasses:
            existing = globalRegistry.registered([required], interface)
            if existing is not None:
                raise ValueError(
                    f"an adapter from {origInterface!r} to {interface!r} is already "
                    f"registered ({existing!r}); set components.ALLOW_DUPLICATES = True "
                    "to replace it"
                )
    for interface in interfaceClasses:
        globalRegistry.register([required], interface, "", adapterFactory)


def getAdapterFactory(fromInterface: Any, toInterface: Any, default: Any) -> Any:
    """Return the factory registered to adapt ``fromInterface`` (or a class) to ``toInterface``.

    Returns ``default`` if there is none.
    """
    factory = _registry.lookup1(_declarationOf(fromInterface), toInterface)
    return default if factory is None else factory


def getAdapter(obj: Any, interfaceClass: Any, default: Any = _NOTHING) -> Any:
    """Return ``obj`` as ``interfaceClass``: itself, its component, or a registered adapter.

    Raises:
        CannotAdapt: nothing adapts ``obj`` and no ``default`` was given.
    """
    adapted = interfaceClass(obj, _NOTHING)
    if adapted is not _NOTHING:
        return adapted
    if default is not _NOTHING:
        return default
    raise CannotAdapt(
        f"{obj!r} does not provide {_qual(interfaceClass)} and no adapter to it is "
        "registered (see components.registerAdapter)"
    )


def getRegistry() -> AdapterRegistry:
    """Return the global adapter registry that ``registerAdapter`` fills."""
    return globalRegistry


def _registryHook(interface: Any, obj: object) -> Any:
    factory = _registry.lookup1(declarations.providedBy(obj), interface)
    return None if factory is None else factory(obj)


if _registryHook not in adapter_hooks:
    adapter_hooks.append(_registryHook)


class Adapter:
    """A base for adapter classes: keeps the adapted object as ``original``.

    ``temporaryAdapter``: when true, a Componentized that made this adapter does not
    keep it (each adaptation makes a new one). ``multiComponent``: when true (the
    default), a Componentized keeps it for every interface it provides, not only the
    one it was made for.
    """

    temporaryAdapter = False
    multiComponent = True

    def __init__(self, original: Any) -> None:
        self.original = original

    def __conform__(self, interface: Any) -> Any:
        """Adapting the adapter adapts the original (a Componentized's other components)."""
        conform = getattr(self.original, "__conform__", None)
        if conform is None:
            return None
        return conform(interface)


class Componentized:
    """An object made of components, one per interface: ``IFoo(self)`` returns the IFoo one.

    Components are looked up under the interface's dotted name. When none is held
    for an interface, a registered adapter from this class is tried, and the adapter
    it makes is kept (unless it is a ``temporaryAdapter``), so later adaptations
    return the same object.
    """

    def __init__(self) -> None:
        self._adapterCache: dict[str, Any] = {}

    def locateAdapterClass(self, klass: type, interfaceClass: Any, default: Any) -> Any:
        """Return the adapter factory registered from ``klass`` to ``interfaceClass``."""
        return getAdapterFactory(klass, interfaceClass, default)

    def setAdapter(self, interfaceClass: Any, adapterClass: Callable[[Any], Any]) -> None:
        """Make ``adapterClass(self)`` the component for ``interfaceClass``."""
        self.setComponent(interfaceClass, adapterClass(self))

    def addAdapter(self, adapterClass: Callable[[Any], Any], ignoreClass: bool = False) -> Any:
        """Make ``adapterClass(self)`` a component (see ``addComponent``); return it."""
        adapter = adapterClass(self)
        self.addComponent(adapter, ignoreClass)
        return adapter

    def setComponent(self, interfaceClass: Any, component: Any) -> None:
        """Hold ``component`` as this object's ``interfaceClass``, replacing any other."""
        self._adapterCache[_qual(interfaceClass)] = component

    def addComponent(self, component: Any, ignoreClass: bool = False) -> None:
        """Hold ``component`` for the interfaces it provides.

        With ``ignoreClass`` false, only for the interfaces for which ``component``'s
        class is the adapter registered from this object's class; with it true, for
        every interface the component declares (``service.Application`` does this).
        """
        for interface in declarations.providedBy(component):
            if ignoreClass or self.locateAdapterClass(type(self), interface, None) is type(
                component
            ):
                self.setComponent(interface, component)

    def unsetComponent(self, interfaceClass: Any) -> None:
        """Forget the component held for ``interfaceClass``.

        Raises:
            KeyError: no component is held for it.
        """
        key = _qual(interfaceClass)
        if key not in self._adapterCache:
            raise KeyError(f"{self!r} holds no component for {key}")
        del self._adapterCache[key]

    def removeComponent(self, component: Any) -> list[Any]:
        """Forget ``component`` for every interface it is held for; return those interfaces."""
        removed = []
        for key, held in list(self._adapterCache.items()):
            if held is component:
                del self._adapterCache[key]
                removed.append(_namedObject(key))
        return removed

    def getComponent(self, interface: Any, default: Any = None) -> Any:
        """Return the component for ``interface``, making it with an adapter if need be.

        Returns ``default`` if none is held and no adapter applies.
        """
        key = _qual(interface)
        try:
            return self._adapterCache[key]
        except KeyError:
            pass
        # __adapt__ skips __conform__ (which would come back here) and asks the hooks.
        adapter = interface.__adapt__(self)
        if adapter is None:
            return default
        if not getattr(adapter, "temporaryAdapter", False):
            self._adapterCache[key] = adapter
            if getattr(adapter, "multiComponent", False):
                self.addComponent(adapter)
        return adapter

    def __conform__(self, interface: Any) -> Any:
        """What makes ``IFoo(componentized)`` return the IFoo component."""
        return self.getComponent(interface)


class _ProxyDescriptor:
    """One name of a proxied interface: read, written and deleted on the wrapped object."""

    def __init__(self, attributeName: str, originalAttribute: str) -> None:
        self.attributeName = attributeName
        self.originalAttribute = originalAttribute

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            # ``ProxyClass.method(proxy, ...)``, as a subclass overriding it would call it.
            attributeName, originalAttribute = self.attributeName, self.originalAttribute

            def unbound(proxy: Any, *args: Any, **kwargs: Any) -> Any:
                method = getattr(getattr(proxy, originalAttribute), attributeName)
                return method(*args, **kwargs)

            unbound.__name__ = attributeName
            return unbound
        return getattr(getattr(instance, self.originalAttribute), self.attributeName)

    def __set__(self, instance: Any, value: Any) -> None:
        setattr(getattr(instance, self.originalAttribute), self.attributeName, value)

    def __delete__(self, instance: Any) -> None:
        delattr(getattr(instance, self.originalAttribute), self.attributeName)


def proxyForInterface(iface: Any, originalAttribute: str = "original") -> type:
    """Return a class whose instances wrap an object and forward ``iface``'s names to it.

    ``Proxy(wrapped)`` stores ``wrapped`` as ``originalAttribute`` and provides
    ``iface``; every method and attribute of ``iface`` (and of the interfaces it
    extends) is looked up on ``wrapped``. Other names are the proxy's own, so a
    subclass overrides what it needs and forwards the rest.
    """

    def initialize(self: Any, original: Any) -> None:
        setattr(self, originalAttribute, original)

    contents: dict[str, Any] = {"__init__": initialize}
    for name in iface.names(all=True):
        contents[name] = _ProxyDescriptor(name, originalAttribute)
    proxy = type(f"(Proxy for {_qual(iface)})", (object,), contents)
    classImplements: Any = declarations.classImplements  # mypy-zope checks literal classes only
    classImplements(proxy, iface)
    return proxy
