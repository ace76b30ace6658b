"""Deferred-based concurrency helpers: DeferredLock, DeferredSemaphore, DeferredQueue.

These coordinate callers that wait on each other without threads: whoever cannot
proceed gets a Deferred that fires when it may. Import them from
``torsion.internet.defer``, which re-exports every public name here.
Tests: tests/internet/test_defer_concurrency.py.

Import order: ``defer.py`` re-exports these names from its last lines, and this module
needs ``Deferred`` and friends from ``defer.py``. So the classes here are defined first
and ``defer``'s names are imported at the bottom of this module; the methods look them
up as globals when called. Either module may then be imported first: if ``defer``
comes first, its names exist by the time the bottom import runs; if this module comes
first, the bottom import runs ``defer``, whose re-export finds these classes already
defined.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, Generic, Literal, ParamSpec, TypeVar, overload

_T = TypeVar("_T")
_P = ParamSpec("_P")
_Held = TypeVar("_Held", bound="_ConcurrencyPrimitive")
_Lock = TypeVar("_Lock", bound="DeferredLock")
_Semaphore = TypeVar("_Semaphore", bound="DeferredSemaphore")

__all__ = [
    "DeferredLock",
    "DeferredQueue",
    "DeferredSemaphore",
    "QueueOverflow",
    "QueueUnderflow",
]


class QueueOverflow(Exception):
    """``DeferredQueue.put`` was called on a queue already holding ``size`` items."""


class QueueUnderflow(Exception):
    """``DeferredQueue.get`` was called with ``backlog`` gets already waiting."""


class _ConcurrencyPrimitive:
    """What a lock and a semaphore share: the wait queue, ``run`` and ``async with``.

    Subclasses provide ``acquire`` (a Deferred that fires with the primitive once it is
    held) and ``release``. Waiters are served first come, first served.
    """

    __slots__ = ("waiting",)

    def __init__(self) -> None:
        self.waiting: deque[Deferred[Any]] = deque()

    def acquire(self: _Held) -> Deferred[_Held]:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def _cancelAcquire(self, d: Deferred[Any]) -> None:
        # Only a waiting acquire can be cancelled: a fired Deferred never calls its
        # canceller, so a holder must still release what it was given.
        self.waiting.remove(d)

    def _releaseAndReturn(self, result: _T) -> _T:
        self.release()
        return result

    @overload
    def run(
        self, f: Callable[_P, Deferred[_T]], *args: _P.args, **kwargs: _P.kwargs
    ) -> Deferred[_T]: ...

    @overload
    def run(
        self,
        f: Callable[_P, Coroutine[Any, Any, _T]],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> Deferred[_T]: ...

    @overload
    def run(self, f: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> Deferred[_T]: ...

    def run(self, f: Callable[_P, Any], *args: _P.args, **kwargs: _P.kwargs) -> Deferred[Any]:
        """Acquire, call ``f(*args, **kwargs)``, and release once its result is ready.

        ``f`` may return a plain value, a Deferred, or a coroutine (so an ``async def``
        function works too); the release waits for the Deferred or coroutine to finish,
        whether it succeeds or fails. An exception raised by ``f`` also releases.

        Returns:
            A Deferred firing with ``f``'s result (or failing with its error) after the
            release. Cancelling it while ``f``'s Deferred is pending cancels that
            Deferred; cancelling it while still waiting to acquire leaves the queue.
        """

        def execute(_held: object) -> Any:
            try:
                result = f(*args, **kwargs)
            except BaseException:
                self.release()
                raise
            if isinstance(result, Deferred | Coroutine):
                return ensureDeferred(result).addBoth(self._releaseAndReturn)
            self.release()
            return result

        return self.acquire().addCallback(execute)

    def __aenter__(self: _Held) -> Deferred[_Held]:
        """``async with lock:`` waits for ``acquire`` and releases on the way out."""
        return self.acquire()

    def __aexit__(self, *excInfo: object) -> Deferred[Literal[False]]:
        self.release()
        return succeed(False)


class DeferredLock(_ConcurrencyPrimitive):
    """A mutual-exclusion lock whose ``acquire`` returns a Deferred.

    Usage::

        lock = DeferredLock()
        d = lock.run(saveRecord, record)   # or: async with lock: ...

    Attributes:
        locked: True while someone holds the lock.
        waiting: the Deferreds of acquires still waiting, oldest first.
    """

    __slots__ = ("locked",)

    def __init__(self) -> None:
        super().__init__()
        self.locked = False

    def acquire(self: _Lock) -> Deferred[_Lock]:
        """Return a Deferred that fires with this lock once the caller holds it.

        If the lock is free it fires at once. Cancelling a waiting acquire removes it
        from the queue and fails it with CancelledError.
        """
        d: Deferred[_Lock] = Deferred(self._cancelAcquire)
        if self.locked:
            self.waiting.append(d)
        else:
            self.locked = True
            d.callback(self)
        return d

    def release(self) -> None:
        """Release the lock, handing it straight to the oldest waiter if there is one.

        Raises:
            AssertionError: the lock is not held (as Twisted's lock does; raised
                explicitly, so it holds under ``python -O`` too).
        """
        if not self.locked:
            raise AssertionError("release() called on a DeferredLock that is not locked")
        if self.waiting:
            self.waiting.popleft().callback(self)
        else:
            self.locked = False


class DeferredSemaphore(_ConcurrencyPrimitive):
    """A semaphore allowing up to ``tokens`` concurrent holders.

    Handy for bounding parallelism: ``sem.run(fetch, url)`` for each of many URLs
    runs at most ``tokens`` fetches at a time.

    Attributes:
        tokens: how many more holders may acquire right now.
        limit: the number of tokens the semaphore was made with.
        waiting: the Deferreds of acquires still waiting, oldest first.
    """

    __slots__ = ("limit", "tokens")

    def __init__(self, tokens: int) -> None:
        """Make a semaphore with ``tokens`` tokens.

        Raises:
            ValueError: ``tokens`` is less than 1; such a semaphore could never be
                acquired.
        """
        if tokens < 1:
            raise ValueError(
                f"DeferredSemaphore needs at least 1 token, got {tokens!r}; "
                "use DeferredSemaphore(1) (or DeferredLock) for one holder at a time"
            )
        super().__init__()
        self.tokens = tokens
        self.limit = tokens

    def acquire(self: _Semaphore) -> Deferred[_Semaphore]:
        """Return a Deferred that fires with this semaphore once a token is taken.

        If a token is free it fires at once. Cancelling a waiting acquire removes it
        from the queue and fails it with CancelledError.
        """
        d: Deferred[_Semaphore] = Deferred(self._cancelAcquire)
        if self.tokens:
            self.tokens -= 1
            d.callback(self)
        else:
            self.waiting.append(d)
        return d

    def release(self) -> None:
        """Give a token back, handing it straight to the oldest waiter if any.

        Raises:
            AssertionError: every token is already free, so this release has no
                matching acquire.
        """
        if self.tokens >= self.limit:
            raise AssertionError(
                f"release() called on a DeferredSemaphore with all {self.limit} "
                "tokens free: more releases than acquires"
            )
        if self.waiting:
            self.waiting.popleft().callback(self)
        else:
            self.tokens += 1


class DeferredQueue(Generic[_T]):
    """A first-in first-out queue whose ``get`` returns a Deferred.

    ``put`` hands the item to the oldest waiting ``get`` if there is one, otherwise
    stores it. Both sides can be bounded so that neither can grow without limit.

    Attributes:
        size: most items stored at once, or None for no limit.
        backlog: most gets waiting at once, or None for no limit.
        pending: the stored items, oldest first.
        waiting: the Deferreds of gets still waiting, oldest first.
    """

    __slots__ = ("backlog", "pending", "size", "waiting")

    def __init__(self, size: int | None = None, backlog: int | None = None) -> None:
        """Make a queue.

        Args:
            size: the most items it stores before ``put`` raises QueueOverflow.
            backlog: the most waiting gets before ``get`` raises QueueUnderflow.

        Raises:
            ValueError: ``size`` or ``backlog`` is negative.
        """
        for name, value in (("size", size), ("backlog", backlog)):
            if value is not None and value < 0:
                raise ValueError(f"DeferredQueue {name} must be None or >= 0, got {value!r}")
        self.size = size
        self.backlog = backlog
        self.pending: deque[_T] = deque()
        self.waiting: deque[Deferred[_T]] = deque()

    def _cancelGet(self, d: Deferred[_T]) -> None:
        self.waiting.remove(d)

    def put(self, obj: _T) -> None:
        """Give ``obj`` to the oldest waiting get, or store it.

        Raises:
            QueueOverflow: no get is waiting and ``size`` items are already stored.
        """
        if self.waiting:
            self.waiting.popleft().callback(obj)
        elif self.size is None or len(self.pending) < self.size:
            self.pending.append(obj)
        else:
            raise QueueOverflow(
                f"DeferredQueue is full ({self.size} items stored, none taken yet); "
                "get() some items first or make the queue with a larger size"
            )

    def get(self) -> Deferred[_T]:
        """Return a Deferred firing with the next item.

        It fires at once if an item is stored, otherwise when one is put. Cancelling
        a waiting get removes it, so the next item goes to the next get.

        Raises:
            QueueUnderflow: no item is stored and ``backlog`` gets are already waiting.
        """
        if self.pending:
            return succeed(self.pending.popleft())
        if self.backlog is None or len(self.waiting) < self.backlog:
            d: Deferred[_T] = Deferred(self._cancelGet)
            self.waiting.append(d)
            return d
        raise QueueUnderflow(
            f"DeferredQueue already has {self.backlog} gets waiting for items; "
            "put() items first or make the queue with a larger backlog"
        )


# Bottom import on purpose: see the module docstring.
from torsion.internet.defer import Deferred, ensureDeferred, succeed  # noqa: E402
