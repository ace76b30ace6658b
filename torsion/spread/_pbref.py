"""PB's references: RemoteReference, the tables' entries, and the wire tags that name them.

A Referenceable sent to the peer travels as ``["remote", id]`` and arrives as a
RemoteReference; sent back, a RemoteReference travels as ``["local", id]`` and
arrives as the original object. ``["cached", id]`` and ``["lcache", id]`` do the same
for caches. The handlers of those tags live here, registered with jelly; they ask the
broker (torsion.spread.pb.Broker) for the objects. Also here: the errors of the
protocol itself, which torsion.spread.pb re-exports.

Tests: tests/spread/test_pb.py, test_pb_cache.py, test_pb_lifetime.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torsion.internet import error as _ierror
from torsion.internet.defer import Deferred
from torsion.logger import Logger, LogLevel
from torsion.python.failure import Failure
from torsion.spread._pbfailure import Error
from torsion.spread.flavors import Serializable
from torsion.spread.jelly import Unjellyable, setUnjellyableForClass

__all__ = [
    "DeadReferenceError",
    "PBConnectionLost",
    "ProtocolError",
    "RemoteMethod",
    "RemoteReference",
]

_log = Logger()


class ProtocolError(Exception):
    """The peer broke the PB protocol, or a reference is used where it cannot be."""


class DeadReferenceError(ProtocolError):
    """The reference's connection is gone: there is nobody left to call."""


class PBConnectionLost(_ierror.ConnectionLost):
    """The connection was lost while this call waited for its answer.

    A ConnectionLost (torsion.internet.error), so ``failure.check(ConnectionLost)``
    catches it along with the transport's own. Its message is its own: the
    connection may well have closed cleanly, yet the call is lost all the same.
    """

    def __str__(self) -> str:
        reason = f": {self.args[0]}" if self.args else ""
        return f"the PB connection was lost before the answer came{reason}"


class RemoteReference(Serializable):
    """A reference to an object on the other side of a connection; call it with callRemote.

    Made by the broker when a Referenceable arrives (never by hand). When the last
    local reference to it goes, the broker tells the peer (``decref``), which then
    forgets the object if nobody else holds it.

    Attributes:
        broker: the connection it belongs to.
        luid: the object's id on that connection.
        perspective: unused by torsion (Twisted's slot for old-style perspectives).
    """

    def __init__(self, perspective: Any, broker: Any, luid: Any, doRefCount: int) -> None:
        self.perspective = perspective
        self.broker = broker
        self.luid = luid
        self.doRefCount = doRefCount
        self._refCount = 1
        self._disconnectCallbacks: list[Callable[[RemoteReference], object]] = []

    def callRemote(self, _name: str | bytes, *args: Any, **kw: Any) -> Deferred[Any]:
        """Call ``remote_<_name>(*args, **kw)`` on the object; fires with its answer.

        The Deferred fails with the remote error (a CopiedFailure: ``check`` it
        against the remote exception class or its name), or with PBConnectionLost if
        the connection goes first. Bound the wait with ``d.addTimeout(seconds,
        reactor)``: a call that times out is forgotten and a late answer ignored.

        Raises:
            DeadReferenceError: the connection is already gone (raised, as Twisted does).
        """
        d: Deferred[Any] = self.broker._sendMessage(
            b"", self.perspective, self.luid, _name, args, kw
        )
        return d

    def remoteMethod(self, key: str | bytes) -> RemoteMethod:
        """Return a callable that calls ``remote_<key>`` with the arguments it is given."""
        return RemoteMethod(self, key)

    def notifyOnDisconnect(self, callback: Callable[[RemoteReference], object]) -> None:
        """Call ``callback(self)`` when the connection is lost.

        The broker keeps this reference alive until then (or until
        ``dontNotifyOnDisconnect``).
        """
        if not self._disconnectCallbacks:
            self.broker.notifyOnDisconnect(self._disconnected)
        self._disconnectCallbacks.append(callback)

    def dontNotifyOnDisconnect(self, callback: Callable[[RemoteReference], object]) -> None:
        """Forget a callback given to ``notifyOnDisconnect``."""
        if callback in self._disconnectCallbacks:
            self._disconnectCallbacks.remove(callback)
            if not self._disconnectCallbacks:
                self.broker.dontNotifyOnDisconnect(self._disconnected)

    def _disconnected(self) -> None:
        callbacks, self._disconnectCallbacks = self._disconnectCallbacks, []
        for callback in callbacks:
            try:
                callback(self)
            except Exception:
                _logCleanly("a notifyOnDisconnect callback failed")

    def jellyFor(self, jellier: Any) -> Any:
        """Send this reference back to its owner as ``["local", id]`` (only to it)."""
        if jellier.invoker is not self.broker:
            raise Error("a RemoteReference can only be sent back over the connection it came from")
        return [b"local", self.luid]

    def __repr__(self) -> str:
        return f"<RemoteReference {self.luid!r} at {id(self):#x}>"

    def __del__(self) -> None:
        if self.doRefCount:
            try:
                self.broker._remoteReferenceDied(self)
            except Exception:
                pass


class RemoteMethod:
    """One remote method as a callable: ``ref.remoteMethod("add")(1, 2)``."""

    __slots__ = ("name", "obj")

    def __init__(self, obj: RemoteReference, name: str | bytes) -> None:
        self.obj = obj
        self.name = name

    def __call__(self, *args: Any, **kw: Any) -> Deferred[Any]:
        return self.obj.callRemote(self.name, *args, **kw)


class _Local:
    """One object this side lent the peer, with how many times it was sent."""

    __slots__ = ("object", "observer", "perspective", "puid", "refcount")

    def __init__(self, obj: Any, puid: Any, perspective: Any = None, observer: Any = None) -> None:
        self.object = obj
        self.puid = puid
        self.perspective = perspective
        self.observer = observer
        self.refcount = 1


class _Unjellier(Unjellyable):
    """Base of the handlers for PB's own wire tags (remote, local, cached, lcache)."""

    def unjellyFor(self, unjellier: Any, jellyList: Any) -> Any:
        broker = unjellier.invoker
        if getattr(broker, "_remoteReferenceFor", None) is None or len(jellyList) != 2:
            raise ProtocolError(f"the PB tag {jellyList[0]!r} only makes sense over PB")
        return self.resolve(broker, jellyList[1])

    def resolve(self, broker: Any, luid: Any) -> Any:
        raise NotImplementedError


class _RemoteTag(_Unjellier):
    def resolve(self, broker: Any, luid: Any) -> Any:
        return broker._remoteReferenceFor(luid)


class _LocalTag(_Unjellier):
    def resolve(self, broker: Any, luid: Any) -> Any:
        obj = broker.localObjectForID(luid)
        if obj is None:
            raise ProtocolError(f"the peer sent back a reference to an unknown object {luid!r}")
        return obj


class _CachedTag(_Unjellier):
    def resolve(self, broker: Any, luid: Any) -> Any:
        cache = broker.cachedLocallyAs(luid)
        if cache is None:
            raise ProtocolError(f"the peer refers to a cache it never sent ({luid!r})")
        cache._cacheCount += 1
        return cache


class _LCacheTag(_Unjellier):
    def resolve(self, broker: Any, luid: Any) -> Any:
        entry = broker.remotelyCachedObjects.get(luid) if type(luid) is int else None
        if entry is None:
            raise ProtocolError(f"the peer sent back a cache this side never sent ({luid!r})")
        return entry.object


for _tag, _handler in (
    (b"remote", _RemoteTag),
    (b"local", _LocalTag),
    (b"cached", _CachedTag),
    (b"lcache", _LCacheTag),
):
    setUnjellyableForClass(_tag, _handler)
del _tag, _handler


def _logCleanly(message: str) -> None:
    """Log the exception being handled, then drop its frames (which hold the broker)."""
    fail = Failure()
    _log.failure(message, fail, level=LogLevel.error)
    fail.cleanFailure()


for _public in (ProtocolError, DeadReferenceError, PBConnectionLost, RemoteMethod, RemoteReference):
    _public.__module__ = "torsion.spread.pb"
del _public
