"""Services: the parts of a long-running program, started and stopped together as a tree.

A service is anything with ``startService`` and ``stopService`` (IService): a server
listening on a port, a client keeping a connection up, a timer. A ``MultiService``
(IServiceCollection) holds child services: starting it starts them in the order they
were added, stopping it stops them in the reverse order and waits for all of them.
``setServiceParent`` adds a service to a collection, and starts it at once if the
collection is running.

Starting has two steps. ``privilegedStartService`` runs first, while the process may
still be root (torsiond calls it before dropping to the configured uid/gid): servers
bind their ports there, so a server can listen on port 80 and still run unprivileged.
``startService`` runs after the privileges are dropped.

``Application(name)`` is the root a .tac file defines (``application =
service.Application('echo')``): a Componentized object whose IService and
IServiceCollection is a MultiService, whose IProcess holds the uid/gid to run as, and
whose IPersistable (torsion.persisted.sob) saves it as a .tap. Services pickle: what a
running service holds of the live reactor (its port, its connection, its timer) is left
out of its pickled state and made again when the unpickled service is started.
Tests: tests/application/test_service.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from zope.interface import Attribute, Interface, implementer

from torsion.internet import defer
from torsion.internet.defer import Deferred
from torsion.plugin import IPlugin
from torsion.python import components, log

__all__ = [
    "Application",
    "IProcess",
    "IService",
    "IServiceCollection",
    "IServiceMaker",
    "MultiService",
    "Process",
    "Service",
    "ServiceMaker",
]


class IServiceMaker(Interface):
    """Makes a service from command-line options (what a torsiond plugin provides)."""

    tapname = Attribute("The short name of the plugin, as given on the command line.")
    description = Attribute("A one-line description of the service it makes.")
    options = Attribute("A callable that returns the plugin's options object.")

    def makeService(options: Any) -> IService:
        """Return the IService made from the parsed ``options``."""


@implementer(IServiceMaker, IPlugin)
class ServiceMaker:
    """A plugin that makes services from a module's ``Options`` and ``makeService``.

    Plugin modules are all imported whenever plugins are looked for, so this object
    names the module that does the work (``"torsion.tap.echo"``) and imports it only
    when its options are asked for or a service is made.

    Args:
        name: a human name for the plugin.
        module: the dotted name of the module with ``Options`` and ``makeService``.
        description: a one-line description (shown by ``torsiond --help``).
        tapname: the command-line name (``torsiond TAPNAME``, ``torsion mktap TAPNAME``).
    """

    def __init__(self, name: str, module: str, description: str, tapname: str) -> None:
        self.name = name
        self.module = module
        self.description = description
        self.tapname = tapname

    def __repr__(self) -> str:
        return f"<ServiceMaker {self.tapname!r} ({self.module})>"

    def _module(self) -> Any:
        import importlib

        return importlib.import_module(self.module)

    @property
    def options(self) -> Any:
        """The plugin's Options class (the module's ``Options``)."""
        return self._module().Options

    def makeService(self, options: Any) -> Any:
        """Return the module's ``makeService(options)``."""
        return self._module().makeService(options)


class IService(Interface):
    """A part of a long-running program that can be started and stopped."""

    name = Attribute("The name of the service (a str), or None; unique among its siblings.")
    running = Attribute("True while the service is started.")
    parent = Attribute("The IServiceCollection this service belongs to, or None.")

    def setName(name: str) -> None:
        """Name the service; raise RuntimeError if it has a parent already."""

    def setServiceParent(parent: Any) -> None:
        """Add the service to ``parent`` (an IServiceCollection, or what adapts to one)."""

    def disownServiceParent() -> Deferred[Any] | None:
        """Remove the service from its parent; return what its stopService returned."""

    def privilegedStartService() -> None:
        """Do the part of starting that needs privileges (binding low ports)."""

    def startService() -> None:
        """Start the service."""

    def stopService() -> Deferred[Any] | None:
        """Stop the service; return a Deferred if stopping takes a while, else None."""


class IServiceCollection(Interface):
    """A service that holds other services."""

    def getServiceNamed(name: str) -> IService:
        """Return the child named ``name``; raise KeyError if there is none."""

    def __iter__() -> Iterator[IService]:
        """Iterate over the children, in the order they were added."""

    def addService(service: IService) -> None:
        """Add ``service`` (starting it if the collection is running)."""

    def removeService(service: IService) -> Deferred[Any] | None:
        """Remove ``service`` (stopping it if the collection is running)."""


class IProcess(Interface):
    """The process an application runs as."""

    processName = Attribute("The process name to show (or None to leave it).")
    uid = Attribute("The user id to switch to after privileged start-up, or None.")
    gid = Attribute("The group id to switch to after privileged start-up, or None.")


@implementer(IService)
class Service:
    """The base of services: a name, a parent, and a ``running`` flag.

    Subclasses extend ``startService``/``stopService`` (calling these) and list in
    ``volatile`` the attributes that hold live objects (ports, connections, timers):
    those are left out when the service is pickled, as is ``running``, so an unpickled
    service is stopped and makes them again when started.
    """

    name: str | None = None
    parent: Any = None
    running: bool = False
    volatile: ClassVar[tuple[str, ...]] = ()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("running", None)
        for name in self.volatile:
            state.pop(name, None)
        return state

    def __repr__(self) -> str:
        named = f" {self.name!r}" if self.name is not None else ""
        return f"<{type(self).__name__}{named} at {id(self):#x}>"

    def setName(self, name: str) -> None:
        """Name the service.

        Raises:
            RuntimeError: the service has a parent (whose index of names would go stale).
        """
        if self.parent is not None:
            raise RuntimeError(
                f"cannot rename {self!r} to {name!r} while it has a parent; "
                "call disownServiceParent() first"
            )
        self.name = name

    def setServiceParent(self, parent: Any) -> None:
        """Add this service to ``parent``, leaving its current parent first.

        ``parent`` is an IServiceCollection or something that adapts to one (an
        Application). If the parent is running, this service is started.

        Raises:
            RuntimeError: the parent has a child of this service's name already (the
                service is then left without a parent).
        """
        if self.parent is not None:
            self.disownServiceParent()
        collection = IServiceCollection(parent, parent)
        self.parent = collection
        try:
            collection.addService(self)
        except BaseException:
            self.parent = None
            raise

    def disownServiceParent(self) -> Deferred[Any] | None:
        """Leave the parent; return the result of stopping, if the parent was running.

        Raises:
            RuntimeError: the service has no parent.
        """
        if self.parent is None:
            raise RuntimeError(f"{self!r} has no parent to leave")
        stopped = self.parent.removeService(self)
        self.parent = None
        return stopped  # type: ignore[no-any-return]

    def privilegedStartService(self) -> None:
        """Do what needs the privileges the process starts with; nothing by default."""

    def startService(self) -> None:
        """Mark the service running."""
        self.running = True

    def stopService(self) -> Deferred[Any] | None:
        """Mark the service stopped."""
        self.running = False
        return None


@implementer(IServiceCollection)
class MultiService(Service):
    """A service made of child services, started in order and stopped in reverse order.

    ``stopService`` stops every child (the last added first, without waiting for one
    to finish before asking the next) and returns a DeferredList that fires when all
    of them have stopped. A child whose stop fails is logged, naming it; the others
    are stopped all the same.
    """

    def __init__(self) -> None:
        self.services: list[Any] = []
        self.namedServices: dict[str, Any] = {}
        self.parent = None

    def privilegedStartService(self) -> None:
        """Do the privileged start of every child, in order."""
        Service.privilegedStartService(self)
        for service in self:
            service.privilegedStartService()

    def startService(self) -> None:
        """Start every child, in order."""
        Service.startService(self)
        for service in self:
            service.startService()

    def stopService(self) -> Deferred[Any]:
        """Stop every child, last first; the Deferred fires once all have stopped."""
        Service.stopService(self)
        stopping = []
        for service in reversed(list(self)):
            stopped: Deferred[Any] = defer.maybeDeferred(service.stopService)
            stopped.addErrback(self._stopFailed, service)
            stopping.append(stopped)
        # Each failure is logged above, naming its service; the list still reports it.
        return defer.DeferredList(stopping, consumeErrors=True)

    def _stopFailed(self, reason: Any, service: Any) -> Any:
        log.err(reason, f"Error stopping {service!r} (a child of {self!r})")
        return reason

    def getServiceNamed(self, name: str) -> Any:
        """Return the child named ``name``.

        Raises:
            KeyError: no child has that name.
        """
        try:
            return self.namedServices[name]
        except KeyError:
            known = ", ".join(repr(n) for n in self.namedServices) or "none"
            raise KeyError(f"{self!r} has no service named {name!r} (named: {known})") from None

    def __iter__(self) -> Iterator[Any]:
        return iter(self.services)

    def addService(self, service: Any) -> None:
        """Add ``service`` as the last child; start it if this collection is running.

        Raises:
            RuntimeError: a child of the same name exists (nothing is added).
        """
        if service.name is not None:
            if service.name in self.namedServices:
                raise RuntimeError(
                    f"cannot have two services with same name {service.name!r} in {self!r}"
                )
            self.namedServices[service.name] = service
        self.services.append(service)
        if self.running:
            service.privilegedStartService()
            service.startService()

    def removeService(self, service: Any) -> Deferred[Any] | None:
        """Remove ``service``; stop it, and return its stopService result, if running.

        Raises:
            ValueError: ``service`` is not a child of this collection.
        """
        if service not in self.services:
            raise ValueError(f"{service!r} is not a child of {self!r}")
        if service.name is not None:
            self.namedServices.pop(service.name, None)
        self.services.remove(service)
        if self.running:
            return service.stopService()  # type: ignore[no-any-return]
        return None


@implementer(IProcess)
class Process:
    """The uid and gid an application asks to run as (None: keep the process's own).

    torsiond switches to them after ``privilegedStartService``.
    """

    processName: str | None = None

    def __init__(self, uid: int | None = None, gid: int | None = None) -> None:
        self.uid = uid
        self.gid = gid


def _persistentFor(application: components.Componentized, name: str) -> Any:
    """Return the sob.Persistent component (IPersistable) of a new application."""
    try:
        from torsion.persisted import sob  # type: ignore[import-not-found, unused-ignore]
    except ImportError as e:
        raise ImportError(
            "service.Application needs torsion.persisted.sob (it gives an application "
            "its IPersistable component, which saves it as a .tap), and that module "
            f"cannot be imported here ({e}); install a torsion that includes "
            "torsion.persisted"
        ) from e
    return sob.Persistent(application, name)


def Application(name: str, uid: int | None = None, gid: int | None = None) -> Any:
    """Return a new application: the root of a service tree, to be run by torsiond.

    The result is a ``components.Componentized`` with three components:
    ``IService(app)`` and ``IServiceCollection(app)`` are a MultiService named
    ``name``; ``IProcess(app)`` is a Process with ``uid`` and ``gid``;
    ``sob.IPersistable(app)`` saves the application (a .tap file). Add services with
    ``service.setServiceParent(app)``.

    Raises:
        ImportError: torsion.persisted.sob is missing from this installation.
    """
    application = components.Componentized()
    for component in (
        MultiService(),
        _persistentFor(application, name),
        Process(uid, gid),
    ):
        application.addComponent(component, ignoreClass=True)
    IService(application).setName(name)
    return application
