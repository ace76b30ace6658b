"""The kinds of object Perspective Broker can send: references, copies, caches, views.

How an object crosses a PB connection depends on its flavor:

- ``Referenceable``: stays where it is; the peer gets a ``RemoteReference`` and calls
  its ``remote_`` methods (``Root`` is the one a connection starts from).
- ``Viewable``: like a reference, but each caller's ``view_`` methods receive the
  avatar (perspective) it was sent to.
- ``Copyable``: its state is copied; the peer rebuilds it as the ``RemoteCopy``
  registered for its class name.
- ``Cacheable``: copied once, then kept up to date: the owner calls ``observe_``
  methods of every peer's ``RemoteCache`` through the observer it was given.

Everything here speaks to the broker (torsion.spread.pb.Broker) through a few methods
(``registerReference``, ``cacheRemotely``, ``serialize``...); the wire format is
Twisted's, so these objects talk to Twisted peers too. Tests: tests/spread/test_flavors.py
and tests/spread/test_pb*.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zope.interface import implementer

from torsion.spread.interfaces import IJellyable, IPBRoot, IUnjellyable
from torsion.spread.jelly import (
    Jellyable,
    Unjellyable,
    getInstanceState,
    setInstanceState,
    setUnjellyableFactoryForClass,
    setUnjellyableForClass,
    setUnjellyableForClassTree,
)

if TYPE_CHECKING:
    from torsion.internet.defer import Deferred

__all__ = [
    "Cacheable",
    "Copyable",
    "IPBRoot",
    "NoSuchMethod",
    "Referenceable",
    "RemoteCache",
    "RemoteCacheMethod",
    "RemoteCacheObserver",
    "RemoteCopy",
    "Root",
    "Serializable",
    "ViewPoint",
    "Viewable",
    "setCopierForClass",
    "setCopierForClassTree",
    "setFactoryForClass",
    "setUnjellyableFactoryForClass",
    "setUnjellyableForClass",
    "setUnjellyableForClassTree",
]

setCopierForClass = setUnjellyableForClass
setCopierForClassTree = setUnjellyableForClassTree
setFactoryForClass = setUnjellyableFactoryForClass

# Method names looked up per call: b"add" -> "remote_add". Kept so that the hot path
# does no decoding or formatting; bounded so that a peer sending made-up names cannot
# grow it without end.
_NAME_CACHE_LIMIT = 4096
_methodNames: dict[tuple[str, bytes | str], str] = {}


def _methodName(prefix: str, message: bytes | str) -> str:
    key = (prefix, message)
    name = _methodNames.get(key)
    if name is None:
        if isinstance(message, bytes):
            text = message.decode("utf-8", "replace")
        elif isinstance(message, str):
            text = message
        else:
            raise TypeError(f"a PB method name must be bytes or str, not {type(message).__name__}")
        name = prefix + text
        if len(_methodNames) < _NAME_CACHE_LIMIT:
            _methodNames[key] = name
    return name


def _typeName(cls: type) -> bytes:
    return f"{cls.__module__}.{cls.__qualname__}".encode()


class NoSuchMethod(AttributeError):
    """The peer called a method that the object does not have (no ``remote_NAME``)."""


# The same for the "remote_" prefix alone, keyed by the name as sent: one lookup per call.
_remoteNames: dict[bytes | str, str] = {}


def _lookup(obj: object, prefix: str, message: bytes | str) -> Any:
    name = _methodName(prefix, message)
    method = getattr(obj, name, None)
    if method is None:
        raise NoSuchMethod(f"No such method: {name}")
    return method


@implementer(IJellyable)
class Serializable(Jellyable):
    """The base of every flavor: an object that decides how it is sent."""

    def processUniqueID(self) -> Any:
        """Return what identifies this object among those sent on one connection.

        Sending the same object twice reuses its id on the wire; ``ViewPoint`` widens
        the identity to the (perspective, object) pair.
        """
        return id(self)


class Referenceable(Serializable):
    """An object that stays here; the peer holds a RemoteReference to it.

    The peer's ``ref.callRemote("name", *args, **kw)`` runs ``self.remote_name(*args,
    **kw)``; what it returns (a value, a Deferred or a coroutine) is the answer, an
    exception becomes the peer's errback.
    """

    perspective: Any = None

    def remoteMessageReceived(self, broker: Any, message: bytes, args: Any, kw: Any) -> Any:
        """Run ``remote_<message>`` with the jellied ``args``/``kw``; return the jellied result.

        Raises:
            NoSuchMethod: there is no such method.
        """
        name = _remoteNames.get(message)
        if name is None:
            name = _methodName("remote_", message)
            if len(_remoteNames) < _NAME_CACHE_LIMIT:
                _remoteNames[message] = name
        method = getattr(self, name, None)
        if method is None:
            raise NoSuchMethod(f"No such method: {name}")
        args = broker.unserialize(args)
        kw = broker.unserialize(kw)
        return broker.serialize(method(*args, **kw), self.perspective)

    def jellyFor(self, jellier: Any) -> Any:
        """Stand for this object on the wire as ``["remote", id]`` (registered with the broker)."""
        broker = jellier.invoker
        if broker is None:
            raise TypeError(
                f"{type(self).__name__} is a Referenceable: it can only be sent over a "
                "PB connection, not jellied on its own"
            )
        return [b"remote", broker.registerReference(self)]


@implementer(IPBRoot)
class Root(Referenceable):
    """The usual root object: ``PBServerFactory(Root())`` gives every connection this object."""

    def rootObject(self, broker: Any) -> Any:
        """Return the root for ``broker``'s connection: this same object."""
        return self


class ViewPoint(Referenceable):
    """A Viewable as seen by one perspective: calls reach ``view_`` with that perspective."""

    def __init__(self, perspective: Any, object: Any) -> None:
        self.perspective = perspective
        self.object = object

    def processUniqueID(self) -> Any:
        """One wire id per (perspective, viewable) pair."""
        return (id(self.perspective), id(self.object))

    def remoteMessageReceived(self, broker: Any, message: bytes, args: Any, kw: Any) -> Any:
        """Run ``object.view_<message>(perspective, *args, **kw)``."""
        method = _lookup(self.object, "view_", message)
        args = broker.unserialize(args, self.perspective)
        kw = broker.unserialize(kw, self.perspective)
        return broker.serialize(method(self.perspective, *args, **kw), self.perspective)


class Viewable(Serializable):
    """An object whose methods want to know who is calling.

    Sent from a ``perspective_`` method (or any call made under an avatar), it reaches
    the peer as a reference whose ``view_NAME(perspective, ...)`` methods receive that
    avatar first.
    """

    def jellyFor(self, jellier: Any) -> Any:
        """Send a ViewPoint of this object for the perspective being served."""
        broker = jellier.invoker
        if broker is None:
            raise TypeError("a Viewable can only be sent over a PB connection")
        return ViewPoint(broker.serializingPerspective, self).jellyFor(jellier)


class Copyable(Serializable):
    """An object sent by copying its state; the peer rebuilds it as a RemoteCopy.

    The wire carries the class's qualified name and ``getStateToCopyFor(perspective)``
    (by default ``__dict__``); the receiving side must have registered a RemoteCopy
    for that name (``setUnjellyableForClass``), or it refuses the copy.
    """

    def getStateToCopy(self) -> Any:
        """Return the state to send (``__dict__`` unless overridden)."""
        return self.__dict__

    def getStateToCopyFor(self, perspective: Any) -> Any:
        """Return the state to send to ``perspective`` (``getStateToCopy()`` by default)."""
        return self.getStateToCopy()

    def getTypeToCopy(self) -> bytes:
        """Return the type name sent (the class's qualified name by default)."""
        return _typeName(type(self))

    def getTypeToCopyFor(self, perspective: Any) -> bytes:
        """Return the type name sent to ``perspective`` (``getTypeToCopy()`` by default)."""
        return self.getTypeToCopy()

    def jellyFor(self, jellier: Any) -> Any:
        """Stand for this object as ``[typeName, jellied state]``."""
        broker = jellier.invoker
        if broker is None:
            return getInstanceState(self, jellier)
        perspective = broker.serializingPerspective
        sexp = jellier.prepare(self)
        sexp.extend(
            [self.getTypeToCopyFor(perspective), jellier.jelly(self.getStateToCopyFor(perspective))]
        )
        return jellier.preserve(self, sexp)


@implementer(IUnjellyable)
class RemoteCopy(Unjellyable):
    """The receiving side of a Copyable: register it with ``setUnjellyableForClass``."""

    def setCopyableState(self, state: Any) -> None:
        """Take the state sent (a dict by default, which becomes ``__dict__``)."""
        self.__dict__ = state

    def unjellyFor(self, unjellier: Any, jellyList: Any) -> Any:
        """Rebuild this object from ``[typeName, state]``."""
        if unjellier.invoker is None:
            return setInstanceState(self, unjellier, jellyList)
        if len(jellyList) != 2:
            raise ValueError(f"a copy is [type, state], not {len(jellyList)} items")
        self.setCopyableState(unjellier.unjelly(jellyList[1]))
        return self


class Cacheable(Copyable):
    """An object copied to each peer once and then kept in sync through observers.

    The first time it is sent on a connection, ``getStateToCacheAndObserveFor(
    perspective, observer)`` gives the state and an observer (a RemoteCacheObserver)
    to keep: ``observer.callRemote("name", ...)`` runs ``observe_name`` on that peer's
    RemoteCache. ``stoppedObserving(perspective, observer)`` says the peer has dropped
    its copy or disconnected: forget the observer then.
    """

    def getStateToCacheAndObserveFor(self, perspective: Any, observer: RemoteCacheObserver) -> Any:
        """Return the state for a new peer copy and remember ``observer`` to update it."""
        return self.getStateToCopyFor(perspective)

    def stoppedObserving(self, perspective: Any, observer: RemoteCacheObserver) -> None:
        """The peer behind ``observer`` no longer has a copy: stop sending it updates."""

    def jellyFor(self, jellier: Any) -> Any:
        """Send ``[typeName, id, state]`` the first time, ``["cached", id]`` afterwards."""
        broker = jellier.invoker
        if broker is None:
            return getInstanceState(self, jellier)
        luid = broker.cachedRemotelyAs(self, True)
        if luid is not None:
            sexp = jellier.prepare(self)
            sexp.extend([b"cached", luid])
            return jellier.preserve(self, sexp)
        perspective = broker.serializingPerspective
        observer = RemoteCacheObserver(broker, self, perspective)
        luid = broker.cacheRemotely(self, observer)
        sexp = jellier.prepare(self)
        sexp.extend(
            [
                self.getTypeToCopyFor(perspective),
                luid,
                jellier.jelly(self.getStateToCacheAndObserveFor(perspective, observer)),
            ]
        )
        return jellier.preserve(self, sexp)


class RemoteCache(RemoteCopy, Serializable):
    """A peer's copy of a Cacheable, updated by its ``observe_`` methods.

    Register it for the Cacheable's class name with ``setUnjellyableForClass``. Each
    connection holds one RemoteCache per Cacheable; dropping the last reference tells
    the owner (``decache``), which then calls ``stoppedObserving``. Do not give a
    subclass a ``__del__``: the broker relies on this class's.

    Attributes:
        broker: the connection it came over (None once that is lost).
        luid: its id on that connection.
    """

    broker: Any = None
    luid: Any = None
    _cacheCount: int = 0

    def remoteMessageReceived(self, broker: Any, message: bytes, args: Any, kw: Any) -> Any:
        """Run ``observe_<message>`` with the jellied arguments."""
        method = _lookup(self, "observe_", message)
        args = broker.unserialize(args)
        kw = broker.unserialize(kw)
        return broker.serialize(method(*args, **kw))

    def jellyFor(self, jellier: Any) -> Any:
        """Send this copy back to its owner as ``["lcache", id]`` (to the owner only)."""
        broker = jellier.invoker
        if broker is None or broker is not self.broker:
            raise TypeError("a RemoteCache can only be sent back over the connection it came from")
        return [b"lcache", self.luid]

    def unjellyFor(self, unjellier: Any, jellyList: Any) -> Any:
        """Build the copy from ``[typeName, id, state]`` and register it with the broker."""
        broker = unjellier.invoker
        if broker is None:
            return setInstanceState(self, unjellier, jellyList)
        if len(jellyList) != 3:
            raise ValueError(f"a cache is [type, id, state], not {len(jellyList)} items")
        luid = jellyList[1]
        existing = broker.cachedLocallyAs(luid)
        if existing is not None:
            # The same id twice: the owner counted it twice, so it is released twice.
            existing._cacheCount += 1
            return existing
        self.setCopyableState(unjellier.unjelly(jellyList[2]))
        self.broker = broker
        self.luid = luid
        self._cacheCount = 1
        broker.cacheLocally(luid, self)
        return self

    def __del__(self) -> None:
        broker = self.broker
        if broker is not None:
            try:
                broker._remoteCacheDied(self)
            except Exception:
                pass

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other


class RemoteCacheMethod:
    """A bound ``observe_`` call on one observer: ``observer.remoteMethod("name")(...)``."""

    def __init__(self, name: bytes | str, broker: Any, cached: Any, perspective: Any) -> None:
        self.name = name
        self.broker = broker
        self.cached = cached
        self.perspective = perspective

    def __call__(self, *args: Any, **kw: Any) -> Deferred[Any]:
        return RemoteCacheObserver(self.broker, self.cached, self.perspective).callRemote(
            self.name, *args, **kw
        )


class RemoteCacheObserver:
    """The owner's handle on one peer's RemoteCache: call its ``observe_`` methods.

    Observers compare equal when they stand for the same cacheable, connection and
    perspective, so the one given to ``stoppedObserving`` finds the one stored.
    """

    __slots__ = ("broker", "cached", "perspective")

    def __init__(self, broker: Any, cached: Any, perspective: Any) -> None:
        self.broker = broker
        self.cached = cached
        self.perspective = perspective

    def callRemote(self, _name: bytes | str, *args: Any, **kw: Any) -> Deferred[Any]:
        """Run ``observe_<_name>(*args, **kw)`` on the peer's copy; fires with its result.

        On a lost connection the Deferred fails with DeadReferenceError (it does not
        raise), so that a Cacheable updating all its observers is not interrupted.
        """
        from torsion.internet.defer import fail
        from torsion.spread.pb import DeadReferenceError

        broker = self.broker
        luid = None if broker.disconnected else broker.cachedRemotelyAs(self.cached)
        if luid is None:
            return fail(DeadReferenceError("the peer no longer has this cache"))
        return broker._sendMessage(b"cache", self.perspective, luid, _name, args, kw)  # type: ignore[no-any-return]

    def remoteMethod(self, key: bytes | str) -> RemoteCacheMethod:
        """Return a callable that calls ``observe_<key>`` on the peer's copy."""
        return RemoteCacheMethod(key, self.broker, self.cached, self.perspective)

    def __hash__(self) -> int:
        return hash((id(self.broker), id(self.cached), id(self.perspective)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RemoteCacheObserver):
            return NotImplemented
        return (
            self.broker is other.broker
            and self.cached is other.cached
            and self.perspective is other.perspective
        )

    def __repr__(self) -> str:
        return f"<RemoteCacheObserver of {self.cached!r} for {self.perspective!r}>"
