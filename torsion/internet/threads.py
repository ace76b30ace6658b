"""Bridges between the reactor thread and other threads (Twisted's ``internet.threads``).

- ``deferToThread`` / ``deferToThreadPool``: run blocking code in a thread pool and get
  its result back in the reactor thread as a Deferred.
- ``callMultipleInThread``: run several calls one after another in one pool thread.
- ``blockingCallFromThread``: from a thread that is not the reactor's, run a function
  in the reactor thread and wait for its result (plain, Deferred or coroutine). Called
  from the reactor thread itself it raises RuntimeError at once: waiting there for the
  reactor would wait for ever.

Results cross threads only through ``reactor.callFromThread``, so callbacks on the
returned Deferreds always run in the reactor thread.

Tests: tests/internet/test_threads.py.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Coroutine
from inspect import iscoroutine
from typing import Any, Protocol, TypeVar, cast, overload

from torsion.internet._cooperator import globalReactor
from torsion.internet.defer import Deferred
from torsion.logger import Logger
from torsion.python import threadable
from torsion.python.failure import Failure
from torsion.python.threadpool import ThreadPool

__all__ = [
    "blockingCallFromThread",
    "callMultipleInThread",
    "deferToThread",
    "deferToThreadPool",
]

_T = TypeVar("_T")

_log = Logger()


class _ThreadCallingReactor(Protocol):
    """What these helpers need of a reactor: a thread-safe way into its thread."""

    def callFromThread(self, callable: Callable[..., object], *args: Any, **kw: Any) -> None: ...


class _ThreadedReactor(_ThreadCallingReactor, Protocol):
    """The global reactor as seen here: it also owns a thread pool."""

    def getThreadPool(self) -> ThreadPool: ...

    def callInThread(self, callable: Callable[..., object], *args: Any, **kw: Any) -> None: ...


def _reactor() -> _ThreadedReactor:
    # Looked up on each call, so importing this module never installs a reactor.
    return cast(_ThreadedReactor, globalReactor())


def deferToThreadPool(
    reactor: _ThreadCallingReactor,
    threadpool: ThreadPool,
    f: Callable[..., _T],
    *args: Any,
    **kwargs: Any,
) -> Deferred[_T]:
    """Run ``f(*args, **kwargs)`` in ``threadpool``; fire a Deferred in the reactor thread.

    Returns:
        A Deferred that fires with what ``f`` returns, or fails with what it raises.
        It fires from ``reactor.callFromThread``, so only once the reactor runs.
    """
    d: Deferred[_T] = Deferred()

    def onResult(success: bool, result: Any) -> None:
        if success:
            reactor.callFromThread(d.callback, result)
        else:
            reactor.callFromThread(d.errback, result)

    threadpool.callInThreadWithCallback(onResult, f, *args, **kwargs)
    return d


def deferToThread(f: Callable[..., _T], *args: Any, **kwargs: Any) -> Deferred[_T]:
    """Run ``f(*args, **kwargs)`` in the global reactor's thread pool.

    Returns:
        A Deferred firing in the reactor thread with ``f``'s result or failure.
    """
    reactor = _reactor()
    return deferToThreadPool(reactor, reactor.getThreadPool(), f, *args, **kwargs)


_CallTuple = tuple[Callable[..., object], tuple[Any, ...], dict[str, Any]]


def _runMultiple(tupleList: list[_CallTuple]) -> None:
    for f, args, kwargs in tupleList:
        try:
            f(*args, **kwargs)
        except BaseException:
            _log.failure("Unhandled error in callMultipleInThread call {f!r}", Failure(), f=f)


def callMultipleInThread(tupleList: list[_CallTuple]) -> None:
    """Run each ``(f, args, kwargs)`` in turn in one thread of the global reactor's pool.

    A call that raises is logged and the next one still runs.
    """
    _reactor().callInThread(_runMultiple, tupleList)


def _isReactorThread(reactor: object) -> bool:
    """Return True if the caller is the thread running ``reactor`` (or the I/O thread).

    A reactor records the thread that ran it (``_mainThread``, set by startRunning);
    one driven without ``run`` has none, and then the thread registered with
    ``threadable.registerAsIOThread`` is taken for it. (That registration is
    process-wide and names the last reactor run, so a reactor's own record wins.)
    """
    mainThread = getattr(reactor, "_mainThread", None)
    if mainThread is not None:
        return mainThread is threading.current_thread()
    return threadable.isInIOThread()


@overload
def blockingCallFromThread(
    reactor: _ThreadCallingReactor,
    f: Callable[..., Coroutine[Any, Any, _T]],
    *args: Any,
    **kwargs: Any,
) -> _T: ...


@overload
def blockingCallFromThread(
    reactor: _ThreadCallingReactor,
    f: Callable[..., Deferred[_T]],
    *args: Any,
    **kwargs: Any,
) -> _T: ...


@overload
def blockingCallFromThread(
    reactor: _ThreadCallingReactor, f: Callable[..., _T], *args: Any, **kwargs: Any
) -> _T: ...


def blockingCallFromThread(
    reactor: _ThreadCallingReactor, f: Callable[..., Any], *args: Any, **kwargs: Any
) -> Any:
    """Run ``f(*args, **kwargs)`` in the reactor thread and wait for its result.

    Call this from a thread other than the reactor's. ``f`` may return a plain value,
    a Deferred, or a coroutine (a coroutine function is accepted), whose result is
    waited for.

    Returns:
        The (eventual) result of ``f``.

    Raises:
        RuntimeError: if called from the reactor's own thread (it would deadlock);
            there, call ``f`` directly or use its Deferred.
        The exception ``f`` raised or its Deferred failed with.
    """
    if _isReactorThread(reactor):
        raise RuntimeError(
            "blockingCallFromThread was called from the reactor thread, where waiting "
            "for the reactor would deadlock; call the function directly (and add "
            "callbacks to its Deferred) instead"
        )
    results: queue.Queue[Any] = queue.Queue(1)

    def inReactor() -> None:
        try:
            result = f(*args, **kwargs)
        except BaseException:
            results.put(Failure())
            return
        if iscoroutine(result):
            result = Deferred.fromCoroutine(cast(Coroutine[Any, Any, Any], result))
        if isinstance(result, Deferred):
            result.addBoth(results.put)
        else:
            results.put(result)

    reactor.callFromThread(inReactor)
    outcome = results.get()
    if isinstance(outcome, Failure):
        outcome.raiseException()
    return outcome
