"""Perspective Broker: remote method calls between Python processes, over Banana and jelly.

A PB server listens with ``PBServerFactory(root)``; a client connects a
``PBClientFactory`` and asks it for the root (``getRootObject()``) or logs in through a
cred Portal (``login(credentials, mind)``). Either way it gets a ``RemoteReference``,
and ``ref.callRemote("name", *args, **kw)`` runs the ``remote_name`` method of the
object over there and fires the returned Deferred with the answer. Arguments and
answers are jellied: basic values travel by value, Referenceables by reference (both
directions: a client passes its own callbacks), Copyables by copy, Cacheables as live
copies (see torsion.spread.flavors).

The bytes on the wire are Twisted's PB (protocol version 6), so torsion and Twisted peers
talk to each other. Where torsion differs on purpose (errors that are not pb.Error
arrive without details unless ``unsafeTracebacks``; calls can time out; every pending
call fails with PBConnectionLost, a ConnectionLost, when the connection goes; a
password login for servers that keep only password hashes, over TLS) the user guide
docs/pb.md says how. A peer that sends malformed or hostile expressions is logged and
its connection (only that one) dropped.

Tests: tests/spread/test_pb.py, test_pb_cache.py, test_pb_login.py,
test_pb_lifetime.py, test_pb_errors.py, test_pb_util.py, test_pb_twisted.py.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from types import CoroutineType
from typing import Any, cast

from torsion.internet import error as _ierror
from torsion.internet.abstract import sendAtOnce
from torsion.internet.defer import Deferred, fail, succeed
from torsion.internet.protocol import ClientFactory, ServerFactory, connectionDone
from torsion.logger import Logger, LogLevel
from torsion.python.failure import Failure
from torsion.spread import banana
from torsion.spread._pbfailure import (
    CopiedFailure,
    CopyableFailure,
    Error,
    RemoteError,
    failureForPeer,
)
from torsion.spread._pblogin import (
    AsReferenceable,
    Avatar,
    _PortalRoot,
    challenge,
    respond,
)
from torsion.spread._pbref import (
    DeadReferenceError,
    PBConnectionLost,
    ProtocolError,
    RemoteMethod,
    RemoteReference,
    _Local,
    _logCleanly,
)
from torsion.spread.flavors import (
    Cacheable,
    Copyable,
    NoSuchMethod,
    Referenceable,
    RemoteCache,
    RemoteCacheMethod,
    RemoteCacheObserver,
    RemoteCopy,
    Root,
    Serializable,
    Viewable,
    ViewPoint,
    setCopierForClass,
    setCopierForClassTree,
    setFactoryForClass,
)
from torsion.spread.interfaces import IPBRoot, IPerspective
from torsion.spread.jelly import (
    InsecureJelly,
    Jellyable,
    Unjellyable,
    globalSecurity,
    jelly,
    setUnjellyableFactoryForClass,
    setUnjellyableForClass,
    setUnjellyableForClassTree,
    unjelly,
)

__all__ = [
    "MAX_BROKER_REFS",
    "AsReferenceable",
    "Avatar",
    "Broker",
    "Cacheable",
    "CopiedFailure",
    "Copyable",
    "CopyableFailure",
    "DeadReferenceError",
    "Error",
    "IPBRoot",
    "IPerspective",
    "Jellyable",
    "NoSuchMethod",
    "PBClientFactory",
    "PBConnectionLost",
    "PBServerFactory",
    "ProtocolError",
    "Referenceable",
    "RemoteCache",
    "RemoteCacheMethod",
    "RemoteCacheObserver",
    "RemoteCopy",
    "RemoteError",
    "RemoteMethod",
    "RemoteReference",
    "Root",
    "Serializable",
    "Unjellyable",
    "ViewPoint",
    "Viewable",
    "challenge",
    "globalSecurity",
    "respond",
    "setCopierForClass",
    "setCopierForClassTree",
    "setFactoryForClass",
    "setUnjellyableFactoryForClass",
    "setUnjellyableForClass",
    "setUnjellyableForClassTree",
]

MAX_BROKER_REFS = 1024
"""How many objects one connection may hold references to (Twisted's figure)."""

portno = 8787
"""Twisted's PB port; torsiond's pb service defaults to 8789 instead."""

_log = Logger()


_EMPTY_KW: list[bytes] = [b"dictionary"]
_IMMEDIATE = frozenset((int, float, bytes))


class _LateAnswer:
    """The jellied result of a call answered through a Deferred, and what it lends."""

    __slots__ = ("lent", "sexp")

    def __init__(self, sexp: Any, lent: list[tuple[bool, int]]) -> None:
        self.sexp = sexp
        self.lent = lent


class Broker(banana.Banana):
    """One side of a PB connection: the tables of objects lent and borrowed, and the calls.

    The broker sends ``message`` expressions for callRemote and answers the peer's with
    ``answer`` or ``error``; it keeps the objects it lent the peer (``localObjects``,
    counted, released on ``decref``), the references and caches it borrowed (released
    with ``decref``/``decache`` when garbage), and the calls waiting for answers. All
    of that is dropped when the connection is lost: pending calls fail with
    PBConnectionLost, caches this side served stop being observed, RemoteCaches it
    holds are detached, and ``notifyOnDisconnect`` callbacks run.

    Args:
        isClient: true on the connecting side (it picks the Banana dialect).
        security: the jelly taster applied to everything the peer sends.
    """

    version = 6
    username: Any = None
    factory: Any = None
    unsafeTracebacks = False

    # Whether sendEncoded is Banana's own, so that calls and answers may write their
    # bytes without going through it (a subclass that overrides it is still called).
    _plainSend = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._plainSend = cls.sendEncoded is banana.Banana.sendEncoded

    def __init__(self, isClient: int = 1, security: Any = globalSecurity) -> None:
        super().__init__(isClient)
        self.security = security
        self.disconnected = False
        self.disconnects: list[Callable[[], object]] = []
        self.localObjects: dict[Any, _Local] = {}
        self.luids: dict[Any, Any] = {}
        self.remotelyCachedObjects: dict[int, _Local] = {}
        self.remotelyCachedLUIDs: dict[Any, int] = {}
        self.locallyCachedObjects: dict[Any, weakref.ref[RemoteCache]] = {}
        self._dyingCaches: dict[Any, tuple[type, dict[str, Any]]] = {}
        self.remoteReferences: dict[Any, weakref.ref[RemoteReference]] = {}
        self.waitingForAnswers: dict[int, Deferred[Any]] = {}
        self._localCleanup: dict[Any, Callable[[], object]] = {}
        self.currentRequestID = 0
        self.currentLocalID = 0
        self.serializingPerspective: Any = None
        self.unserializingPerspective: Any = None
        self._lent: list[tuple[bool, int]] | None = None
        self.pageProducers: list[Any] = []
        self._handlers = _handlersOf(type(self))

    # -- the connection ----------------------------------------------------------------

    def connectionMade(self) -> None:
        """Send each message at once: PB waits on its answers, so Nagle only adds delay."""
        sendAtOnce(self.transport)
        super().connectionMade()

    def connectionReady(self) -> None:
        """Send the protocol version and tell the factory that this connection is usable."""
        self.sendEncoded([b"version", self.version])
        factory = self.factory
        if factory is not None and hasattr(factory, "clientConnectionMade"):
            factory.clientConnectionMade(self)

    def connectionLost(self, reason: object = connectionDone) -> None:
        """Fail the pending calls, release everything lent or borrowed, run the notifiers."""
        if self.disconnected:
            return
        self.disconnected = True
        super().connectionLost(reason)
        pending, self.waitingForAnswers = self.waitingForAnswers, {}
        if pending:
            lost = Failure(PBConnectionLost(_reasonText(reason)))
            for d in pending.values():
                d.errback(lost)
        served = list(self.remotelyCachedObjects.values())
        borrowedCaches = [ref() for ref in self.locallyCachedObjects.values()]
        self.localObjects.clear()
        self.luids.clear()
        self.remotelyCachedObjects.clear()
        self.remotelyCachedLUIDs.clear()
        self.locallyCachedObjects.clear()
        self._dyingCaches.clear()
        self.remoteReferences.clear()
        self._localCleanup.clear()
        self.pageProducers = []
        for entry in served:
            try:
                entry.object.stoppedObserving(entry.perspective, entry.observer)
            except Exception:
                _logCleanly("stoppedObserving failed")
        for cache in borrowedCaches:
            if cache is not None:
                cache.broker = None
        notifiers, self.disconnects = self.disconnects, []
        for notifier in notifiers:
            try:
                notifier()
            except Exception:
                _logCleanly("a PB disconnect notifier failed")

    def notifyOnDisconnect(self, notifier: Callable[[], object]) -> None:
        """Call ``notifier()`` when the connection is lost."""
        self.disconnects.append(notifier)

    def dontNotifyOnDisconnect(self, notifier: Callable[[], object]) -> None:
        """Forget a notifier given to ``notifyOnDisconnect``."""
        try:
            self.disconnects.remove(notifier)
        except ValueError:
            pass

    # -- what arrives --------------------------------------------------------------------

    def expressionReceived(self, sexp: Any) -> None:
        """Dispatch one PB expression; a malformed one is logged and drops the connection."""
        try:
            if type(sexp) is not list or not sexp:
                raise ProtocolError(f"a PB expression is a non-empty list, not {sexp!r:.80}")
            command = sexp[0]
            if type(command) is not bytes:
                raise ProtocolError(f"a PB command is a word, not {command!r:.80}")
            entry = self._handlers.get(command)
            if entry is None:
                _log.warn(
                    "{protocol} got the unknown PB command {command!r:.60}",
                    protocol=self.logPrefix(),
                    command=command,
                )
                self.sendEncoded([b"didNotUnderstand", command])
                return
            handler, arity = entry
            if len(sexp) != arity:
                raise ProtocolError(
                    f"the PB command {command!r} takes {arity - 1} arguments, not {len(sexp) - 1}"
                )
            handler(self, *sexp[1:])
        except ProtocolError as e:
            # The peer's fault, not ours: say why, without a traceback, and hang up.
            self._drop(str(e))

    def proto_version(self, vnum: Any) -> None:
        """The peer's protocol version: anything but ours ends the connection."""
        if vnum != self.version:
            raise ProtocolError(
                f"the peer speaks PB protocol version {vnum!r:.20}, this side {self.version}"
            )

    def proto_didNotUnderstand(self, command: Any) -> None:
        """The peer did not know a command this side sent."""
        _log.warn(
            "{protocol}: the peer did not understand {command!r:.60}",
            protocol=self.logPrefix(),
            command=command,
        )

    def proto_message(
        self,
        requestID: Any,
        objectID: Any,
        message: Any,
        answerRequired: Any,
        netArgs: Any,
        netKw: Any,
    ) -> None:
        """A call of one of this side's objects."""
        lob = self.localObjects.get(objectID) if type(objectID) is not list else None
        self._recvMessage(
            None if lob is None else lob.object,
            requestID,
            objectID,
            message,
            answerRequired,
            netArgs,
            netKw,
        )

    def proto_cachemessage(
        self,
        requestID: Any,
        objectID: Any,
        message: Any,
        answerRequired: Any,
        netArgs: Any,
        netKw: Any,
    ) -> None:
        """An ``observe_`` call on one of the caches this side holds."""
        self._recvMessage(
            self.cachedLocallyAs(objectID),
            requestID,
            objectID,
            message,
            answerRequired,
            netArgs,
            netKw,
        )

    def _recvMessage(
        self,
        obj: Any,
        requestID: Any,
        objectID: Any,
        message: Any,
        answerRequired: Any,
        netArgs: Any,
        netKw: Any,
    ) -> None:
        if type(requestID) is not int or type(message) not in (bytes, str):
            raise ProtocolError(f"malformed PB call: id {requestID!r:.20}, method {message!r:.40}")
        outer = self._lent
        lent: list[tuple[bool, int]] = []
        self._lent = lent
        try:
            if obj is None:
                raise Error(f"Invalid Object ID {objectID!r:.40}")
            netResult = obj.remoteMessageReceived(self, message, netArgs, netKw)
        except Exception:
            failure = Failure()
            if answerRequired:
                self._sendFailure(failure, requestID)
            else:
                self._logFailure(failure)
            return
        finally:
            self._lent = outer
        if isinstance(netResult, Deferred):
            if answerRequired:
                netResult.addCallbacks(
                    self._sendLateAnswer,
                    self._sendFailure,
                    callbackArgs=(requestID,),
                    errbackArgs=(requestID,),
                )
            else:
                netResult.addCallbacks(self._dropLateAnswer, self._logFailure)
        elif answerRequired:
            self._sendAnswer(netResult, requestID, lent)
        elif lent:
            # Nobody will receive what the answer would have lent.
            self._unlend(lent)

    def proto_answer(self, requestID: Any, netResult: Any) -> None:
        """The answer to one of this side's calls (ignored if the call timed out)."""
        d = self.waitingForAnswers.pop(requestID, None) if type(requestID) is int else None
        if d is None:
            return
        try:
            result = self.unserialize(netResult)
        except Exception:
            d.errback(Failure())
            return
        d.callback(result)

    def proto_error(self, requestID: Any, fail: Any) -> None:
        """One of this side's calls failed over there."""
        d = self.waitingForAnswers.pop(requestID, None) if type(requestID) is int else None
        if d is None:
            return
        try:
            result = self.unserialize(fail)
        except Exception:
            d.errback(Failure())
            return
        if not isinstance(result, Failure):
            result = Failure(RemoteError(b"", _short(result), ""))
        d.errback(result)

    def proto_decref(self, objectID: Any) -> None:
        """The peer dropped one of the references to an object this side lent it."""
        if type(objectID) is not int:
            return
        lob = self.localObjects.get(objectID)
        if lob is None:
            return
        lob.refcount -= 1
        if lob.refcount <= 0:
            del self.localObjects[objectID]
            del self.luids[lob.puid]
            cleanup = self._localCleanup.pop(lob.puid, None)
            if cleanup is not None:
                self.dontNotifyOnDisconnect(cleanup)
                cleanup()

    def proto_decache(self, objectID: Any) -> None:
        """The peer dropped one of its copies of a Cacheable this side serves."""
        entry = self.remotelyCachedObjects.get(objectID) if type(objectID) is int else None
        if entry is None:
            return
        entry.refcount -= 1
        if entry.refcount <= 0:
            del self.remotelyCachedObjects[objectID]
            del self.remotelyCachedLUIDs[entry.puid]
            try:
                entry.object.stoppedObserving(entry.perspective, entry.observer)
            except Exception:
                _logCleanly("stoppedObserving failed")
            self.sendEncoded([b"uncache", objectID])

    def proto_uncache(self, objectID: Any) -> None:
        """The peer has forgotten a cache this side dropped: forget its last state too."""
        self._dyingCaches.pop(objectID, None)

    # -- what is sent ------------------------------------------------------------------

    def _sendMessage(
        self,
        prefix: bytes,
        perspective: Any,
        objectID: Any,
        message: str | bytes,
        args: tuple[Any, ...],
        kw: dict[str, Any],
    ) -> Deferred[Any]:
        if self.disconnected:
            raise DeadReferenceError("Calling Stale Broker")
        if isinstance(message, str):
            message = _names.get(message) or _encodedName(message)
        for arg in args:
            if type(arg) not in _IMMEDIATE:
                break
        else:
            if not kw:
                # Ints, floats and bytes are their own jelly and lend nothing: the
                # usual small call skips the jellier and its bookkeeping.
                return self._sendCall(
                    prefix + b"message", objectID, message, [b"tuple", *args], _EMPTY_KW, None
                )
        outer = self._lent
        lent: list[tuple[bool, int]] = []
        self._lent = lent
        try:
            netArgs = self.serialize(args, perspective)
            netKw = self.serialize(kw, perspective) if kw else _EMPTY_KW
        except Exception as e:
            self._unlend(lent)
            return fail(e)
        finally:
            self._lent = outer
        return self._sendCall(prefix + b"message", objectID, message, netArgs, netKw, lent)

    def _sendCall(
        self,
        command: bytes,
        objectID: Any,
        message: bytes,
        netArgs: Any,
        netKw: Any,
        lent: list[tuple[bool, int]] | None,
    ) -> Deferred[Any]:
        self.currentRequestID = requestID = self.currentRequestID + 1
        d: Deferred[Any] = Deferred(self._forgetCall)
        try:
            sexp = [command, requestID, objectID, message, 1, netArgs, netKw]
            if self._plainSend:
                self.transport.write(self._encode(sexp))
            else:
                self.sendEncoded(sexp)
        except banana.BananaError as e:
            # Too big or too deep to send: the peer never sees what it would have held.
            if lent:
                self._unlend(lent)
            return fail(e)
        self.waitingForAnswers[requestID] = d
        return d

    def _forgetCall(self, d: Deferred[Any]) -> None:
        for requestID, pending in self.waitingForAnswers.items():
            if pending is d:
                del self.waitingForAnswers[requestID]
                return

    def _sendAnswer(
        self, netResult: Any, requestID: int, lent: list[tuple[bool, int]] | None = None
    ) -> None:
        if self.disconnected:
            return
        try:
            sexp = [b"answer", requestID, netResult]
            if self._plainSend:
                self.transport.write(self._encode(sexp))
            else:
                self.sendEncoded(sexp)
        except banana.BananaError:
            # Too big or too deep for Banana: the caller hears why instead.
            if lent:
                self._unlend(lent)
            self._sendFailure(Failure(), requestID)

    def _sendLateAnswer(self, late: _LateAnswer, requestID: int) -> None:
        self._sendAnswer(late.sexp, requestID, late.lent)

    def _dropLateAnswer(self, late: _LateAnswer) -> None:
        # Nobody will receive what the answer would have lent.
        if late.lent:
            self._unlend(late.lent)

    def _sendFailure(self, fail: Failure, requestID: int) -> None:
        if self.disconnected:
            return
        if fail.check(InsecureJelly):
            # Refused input is worth a line here too: a hostile or misconfigured peer.
            _log.warn(
                "{protocol} refused a call from {peer}: {reason}",
                protocol=self.logPrefix(),
                peer=self._peer(),
                reason=fail.getErrorMessage(),
            )
        sexp = failureForPeer(self, fail, self.unsafeTracebacks)
        # The traceback's frames would keep this broker alive in the log's history.
        fail.cleanFailure()
        self.sendEncoded([b"error", requestID, sexp])

    def _logFailure(self, fail: Failure) -> None:
        _log.failure(
            "{protocol}: a PB call that wanted no answer failed",
            fail,
            level=LogLevel.error,
            protocol=self.logPrefix(),
        )
        fail.cleanFailure()

    def sendCall(self, *exp: Any) -> None:
        """Send one PB expression (a command and its arguments)."""
        self.sendEncoded(list(exp))

    def sendDecRef(self, objectID: Any) -> None:
        """Tell the peer that this side dropped one reference to its object."""
        self.sendEncoded([b"decref", objectID])

    def decCacheRef(self, objectID: Any) -> None:
        """Tell the peer that this side dropped one copy of its Cacheable."""
        self.sendEncoded([b"decache", objectID])

    # -- paging (torsion.spread.util) --------------------------------------------------

    def registerPageProducer(self, pager: Any) -> None:
        """Send ``pager``'s pages as the transport takes data (the broker is its producer)."""
        self.pageProducers.append(pager)
        if len(self.pageProducers) == 1:
            self.transport.registerProducer(self, False)

    def resumeProducing(self) -> None:
        """The transport wants more: one page from each pager."""
        for pager in list(self.pageProducers):
            pager.sendNextPage()
            if not pager.stillPaging():
                self.pageProducers.remove(pager)
        if not self.pageProducers and not self.disconnected:
            self.transport.unregisterProducer()

    def pauseProducing(self) -> None:
        """Nothing to do: pages are only sent when asked for."""

    def stopProducing(self) -> None:
        """The connection is going: forget the pagers."""
        self.pageProducers = []

    # -- jelly -------------------------------------------------------------------------

    def serialize(
        self,
        object: Any,
        perspective: Any = None,
        method: Any = None,
        args: Any = None,
        kw: Any = None,
    ) -> Any:
        """Jelly ``object`` for the peer, as seen by ``perspective``.

        A Deferred or a coroutine gives a Deferred of the jellied result together with
        what it lends the peer, for the broker's answer path (which is where a
        ``remoteMessageReceived`` returns it). Objects lent to the peer by a jelly that
        then fails, or by an answer that cannot be sent, are released again.
        """
        if type(object) in _IMMEDIATE:
            return object
        if isinstance(object, Deferred):
            return object.addCallback(self._serializeLate, perspective)
        if type(object) is CoroutineType:
            return Deferred.fromCoroutine(object).addCallback(self._serializeLate, perspective)
        outer, outerPerspective = self._lent, self.serializingPerspective
        lent: list[tuple[bool, int]] = []
        self._lent = lent
        self.serializingPerspective = perspective
        try:
            result = jelly(object, self.security, None, self)
        except BaseException:
            self._unlend(lent)
            raise
        finally:
            self.serializingPerspective = outerPerspective
            self._lent = outer
        if outer is not None:
            outer.extend(lent)
        return result

    def _serializeLate(self, result: Any, perspective: Any) -> _LateAnswer:
        # A result that arrives later is jellied outside the call that lent its
        # objects: keep what it lends with it, so an answer that cannot be sent (or
        # that nobody waits for) gives them back.
        outer = self._lent
        lent: list[tuple[bool, int]] = []
        self._lent = lent
        try:
            return _LateAnswer(self.serialize(result, perspective), lent)
        finally:
            self._lent = outer

    def unserialize(self, sexp: Any, perspective: Any = None) -> Any:
        """Unjelly what the peer sent, with this connection's taster."""
        if type(sexp) is list:
            # The shapes of most arguments and answers, built without an unjellier.
            length = len(sexp)
            tag = sexp[0] if length else None
            if tag == b"tuple":
                for item in sexp:
                    if type(item) not in _IMMEDIATE:
                        break
                else:
                    return tuple(sexp[1:])
            elif tag == b"dictionary" and length == 1:
                return {}
        elif type(sexp) in _IMMEDIATE:
            return sexp
        self.unserializingPerspective = perspective
        try:
            return unjelly(sexp, self.security, None, self)
        finally:
            self.unserializingPerspective = None

    # -- objects lent to the peer ------------------------------------------------------

    def newLocalID(self) -> int:
        """Return a new id for an object or cache lent to the peer."""
        self.currentLocalID += 1
        return self.currentLocalID

    def setNameForLocal(self, name: bytes, object: Any) -> None:
        """Let the peer reach ``object`` by ``name`` (the root is ``b"root"``); never released."""
        self.localObjects[name] = _Local(object, name)
        self.localObjects[name].refcount = 1 << 62

    def localObjectForID(self, luid: Any) -> Any:
        """Return the object this side lent under ``luid``, or None."""
        lob = self.localObjects.get(luid) if type(luid) in (int, bytes) else None
        return None if lob is None else lob.object

    def registerReference(self, object: Any) -> int:
        """Lend ``object`` to the peer (once more); return its id.

        Raises:
            Error: the connection already holds MAX_BROKER_REFS objects.
        """
        puid = object.processUniqueID()
        luid = self.luids.get(puid)
        if luid is None:
            if len(self.localObjects) >= MAX_BROKER_REFS:
                raise Error(
                    f"this connection already holds {MAX_BROKER_REFS} objects "
                    "(MAX_BROKER_REFS); release some before sending more"
                )
            luid = self.newLocalID()
            self.localObjects[luid] = _Local(object, puid)
            self.luids[puid] = luid
        else:
            self.localObjects[luid].refcount += 1
        if self._lent is not None:
            self._lent.append((False, luid))
        return luid

    def _unlend(self, lent: list[tuple[bool, int]]) -> None:
        for isCache, luid in lent:
            table = self.remotelyCachedObjects if isCache else self.localObjects
            entry = table.get(luid)
            if entry is not None:
                entry.refcount -= 1
                if entry.refcount <= 0:
                    del table[luid]
                    if isCache:
                        del self.remotelyCachedLUIDs[entry.puid]
                    else:
                        del self.luids[entry.puid]

    def cachedRemotelyAs(self, cached: Any, incref: bool = False) -> int | None:
        """Return the id under which the peer has ``cached``, counting one more send if asked."""
        luid = self.remotelyCachedLUIDs.get(cached.processUniqueID())
        if luid is not None and incref:
            self.remotelyCachedObjects[luid].refcount += 1
            if self._lent is not None:
                self._lent.append((True, luid))
        return luid

    def cacheRemotely(self, cached: Any, observer: RemoteCacheObserver | None = None) -> int:
        """Start serving ``cached`` to the peer; return its new id."""
        puid = cached.processUniqueID()
        luid = self.newLocalID()
        if observer is None:
            observer = RemoteCacheObserver(self, cached, self.serializingPerspective)
        self.remotelyCachedObjects[luid] = _Local(cached, puid, observer.perspective, observer)
        self.remotelyCachedLUIDs[puid] = luid
        if self._lent is not None:
            self._lent.append((True, luid))
        return luid

    def remoteForName(self, name: bytes | str) -> RemoteReference:
        """Return a reference to the object the peer lends under ``name`` (b"root")."""
        if isinstance(name, str):
            name = name.encode()
        return RemoteReference(None, self, name, 0)

    # -- objects borrowed from the peer ------------------------------------------------

    def _remoteReferenceFor(self, luid: Any) -> RemoteReference:
        if type(luid) is not int:
            raise ProtocolError(f"a remote reference id is an int, not {luid!r:.40}")
        ref = self.remoteReferences.get(luid)
        existing = None if ref is None else ref()
        if existing is not None and existing._refCount > 0:
            existing._refCount += 1
            return existing
        new = RemoteReference(None, self, luid, 1)
        self.remoteReferences[luid] = weakref.ref(new)
        return new

    def _remoteReferenceDied(self, reference: RemoteReference) -> None:
        luid = reference.luid
        ref = self.remoteReferences.get(luid)
        if ref is not None and ref() in (None, reference):
            del self.remoteReferences[luid]
        count, reference._refCount = reference._refCount, 0
        if not self.disconnected:
            for _ in range(count):
                self.sendDecRef(luid)

    def cacheLocally(self, cid: Any, instance: RemoteCache) -> None:
        """Hold ``instance`` as this side's copy of the peer's cache ``cid``."""
        self.locallyCachedObjects[cid] = weakref.ref(instance)

    def cachedLocallyAs(self, cid: Any) -> Any:
        """Return this side's copy of the peer's cache ``cid``, or None.

        A copy dropped here but not yet released by the peer comes back to life
        (the peer may have sent it again before it heard of the drop).
        """
        if type(cid) is not int:
            return None
        ref = self.locallyCachedObjects.get(cid)
        cache = None if ref is None else ref()
        if cache is None:
            dying = self._dyingCaches.pop(cid, None)
            if dying is None:
                return None
            cls, state = dying
            cache = cast(Any, cls).__new__(cls)
            cache.__dict__ = state
            cache._cacheCount = 0
            self.locallyCachedObjects[cid] = weakref.ref(cache)
        return cache

    def _remoteCacheDied(self, cache: RemoteCache) -> None:
        luid = cache.luid
        ref = self.locallyCachedObjects.get(luid)
        if ref is not None and ref() in (None, cache):
            del self.locallyCachedObjects[luid]
        if self.disconnected:
            return
        count, cache._cacheCount = cache._cacheCount, 0
        self._dyingCaches[luid] = (type(cache), cache.__dict__)
        for _ in range(count):
            self.decCacheRef(luid)


_handlerTables: dict[type, dict[bytes, tuple[Callable[..., None], int]]] = {}


def _handlersOf(cls: type) -> dict[bytes, tuple[Callable[..., None], int]]:
    """Map each PB command to its ``proto_`` method and the length of its expression."""
    table = _handlerTables.get(cls)
    if table is None:
        table = {}
        for name in dir(cls):
            if name.startswith("proto_"):
                function = getattr(cls, name)
                table[name[len("proto_") :].encode()] = (function, function.__code__.co_argcount)
        _handlerTables[cls] = table
    return table


_names: dict[str, bytes] = {}


def _encodedName(name: str) -> bytes:
    encoded = _names.get(name)
    if encoded is None:
        encoded = name.encode()
        if len(_names) < 4096:
            _names[name] = encoded
    return encoded


def _reasonText(reason: object) -> str:
    if isinstance(reason, Failure):
        return reason.getErrorMessage() or _ierror.ConnectionLost.__name__
    return str(reason)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


# -- factories ------------------------------------------------------------------------


class PBServerFactory(ServerFactory):
    """Serve ``root`` over PB: each connection gets ``IPBRoot(root).rootObject(broker)``.

    ``root`` may be a Root (or any Referenceable providing IPBRoot) or a cred Portal,
    which becomes a root offering ``login`` (the Twisted challenge-response, and the
    password login of ``PBClientFactory.login(..., sendPassword=True)``).

    Args:
        unsafeTracebacks: send the peer the message and traceback of every exception
            (by default only pb.Error and a few safe errors carry their message).
        security: the jelly taster for what peers send (basic types by default).
        allowPasswordWithoutTLS: accept password logins on connections that are not
            TLS (the password then travels readable; only for tests and loopback).
    """

    protocol: Any = Broker

    def __init__(
        self,
        root: Any,
        unsafeTracebacks: bool = False,
        security: Any = globalSecurity,
        allowPasswordWithoutTLS: bool = False,
    ) -> None:
        self.root = _asRoot(root)
        self.unsafeTracebacks = unsafeTracebacks
        self.security = security
        self.allowPasswordWithoutTLS = allowPasswordWithoutTLS

    def buildProtocol(self, addr: Any) -> Broker:
        """Make a server-side Broker whose ``b"root"`` is this factory's root for it."""
        proto: Broker = self.protocol(isClient=0, security=self.security)
        proto.factory = self
        proto.unsafeTracebacks = self.unsafeTracebacks
        proto.setNameForLocal(b"root", self.root.rootObject(proto))
        return proto

    def clientConnectionMade(self, protocol: Broker) -> None:
        """A connection is ready (after the Banana handshake); a hook for subclasses."""


def _asRoot(root: Any) -> Any:
    if IPBRoot.providedBy(root):
        return root
    if hasattr(root, "login") and hasattr(root, "listCredentialsInterfaces"):
        return _PortalRoot(root)
    adapted = IPBRoot(root, None)
    if adapted is None:
        raise TypeError(
            f"PBServerFactory needs a Root (or another IPBRoot) or a cred Portal, not {root!r:.80}"
        )
    return adapted


class PBClientFactory(ClientFactory):
    """Connect to a PB server, then ask for its root or log in.

    ``getRootObject()`` and ``login()`` may be called before the connection is made;
    their Deferreds fire once it is (or fail if it cannot be made or is lost).

    Args:
        unsafeTracebacks: send the server details of this side's exceptions.
        security: the jelly taster for what the server sends.
    """

    protocol: Any = Broker

    def __init__(self, unsafeTracebacks: bool = False, security: Any = globalSecurity) -> None:
        self.unsafeTracebacks = unsafeTracebacks
        self.security = security
        self._reset()

    def _reset(self) -> None:
        self.rootObjectRequests: list[Deferred[RemoteReference]] = []
        self._broker: Broker | None = None
        self._root: RemoteReference | None = None

    def buildProtocol(self, addr: Any) -> Broker:
        """Make the client-side Broker."""
        proto: Broker = self.protocol(isClient=1, security=self.security)
        proto.factory = self
        proto.unsafeTracebacks = self.unsafeTracebacks
        return proto

    def _failAll(self, reason: Failure) -> None:
        requests, self.rootObjectRequests = self.rootObjectRequests, []
        for d in requests:
            d.errback(reason)

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        """The connection could not be made: fail the waiting requests."""
        self._failAll(reason)

    def clientConnectionLost(self, connector: Any, reason: Failure, reconnecting: int = 0) -> None:
        """The connection is gone: forget it (and fail waiting requests unless reconnecting)."""
        if not reconnecting:
            self._failAll(reason)
        self._broker = None
        self._root = None

    def clientConnectionMade(self, broker: Broker) -> None:
        """The connection is ready: answer the waiting requests with the root."""
        self._broker = broker
        self._root = broker.remoteForName(b"root")
        requests, self.rootObjectRequests = self.rootObjectRequests, []
        for d in requests:
            d.callback(self._root)

    def getRootObject(self) -> Deferred[RemoteReference]:
        """Return a Deferred that fires with the server's root object."""
        if self._broker is not None and not self._broker.disconnected and self._root is not None:
            return succeed(self._root)
        d: Deferred[RemoteReference] = Deferred()
        self.rootObjectRequests.append(d)
        return d

    def disconnect(self) -> None:
        """Close the connection (if there is one)."""
        broker = self._broker
        if broker is not None and broker.transport is not None:
            broker.transport.loseConnection()

    def login(
        self, credentials: Any, client: Any = None, sendPassword: bool = False
    ) -> Deferred[Any]:
        """Log in to the server's Portal; fires with a reference to the avatar.

        Args:
            credentials: UsernamePassword (or Anonymous) from torsion.cred.credentials.
            client: a Referenceable given to the realm as the "mind" (how the server
                calls back), or None.
            sendPassword: send the password itself instead of answering Twisted's MD5
                challenge. Servers whose checkers keep only password hashes (argon2,
                scrypt, bcrypt) need it; they accept it only over TLS (torsion servers
                only: Twisted's have no such login).
        """
        from torsion.spread._pblogin import clientLogin

        return self.getRootObject().addCallback(clientLogin, credentials, client, sendPassword)
