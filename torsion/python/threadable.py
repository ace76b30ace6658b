"""Small threading helpers (Twisted's ``python.threadable``): locks on methods, the I/O thread.

- ``synchronize(*classes)`` wraps the methods each class names in its ``synchronized``
  list so that, per instance, only one thread at a time runs any of them. The lock is
  reentrant (a synchronized method may call another) and is made on first use. It
  also works as a class decorator.
- ``registerAsIOThread()`` marks the calling thread as the one running the reactor;
  ``isInIOThread()`` asks whether the caller is that thread, which is how code refuses
  to block the loop (``threads.blockingCallFromThread``).
- ``init()`` and ``threaded`` are kept so that code written for the 2004 API
  (``threadable.init()`` before using threads) runs unchanged: Python 3 always has
  threads, so there is nothing to initialise.

Tests: tests/python/test_threadable.py.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = [
    "XLock",
    "getThreadID",
    "init",
    "ioThread",
    "isInIOThread",
    "registerAsIOThread",
    "synchronize",
    "threaded",
    "unpickle_lock",
]

_C = TypeVar("_C", bound=type)

# Python always has threads; the flag stays for code that tests it.
threaded = True

# The ident of the thread that runs the reactor (None until one registers).
ioThread: int | None = None

# The attribute a synchronized instance keeps its lock under, and the lock that makes
# creating it race-free (two threads entering the first synchronized call at once).
_LOCK_ATTRIBUTE = "_threadable_lock"
_lockCreation = threading.Lock()


class XLock:
    """A reentrant lock that survives pickling and copying as a fresh, unlocked lock.

    Objects with synchronized methods keep one of these in their ``__dict__``; a plain
    ``threading.RLock`` there would make them impossible to persist.
    """

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.RLock()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the lock (again, if this thread holds it already)."""
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        """Give up one level of the lock."""
        self._lock.release()

    def __enter__(self) -> bool:
        return self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    def __reduce__(self) -> tuple[Callable[[], XLock], tuple[()]]:
        return (unpickle_lock, ())


def unpickle_lock() -> XLock:
    """Make the fresh lock that an unpickled XLock becomes."""
    return XLock()


unpickle_lock.__safe_for_unpickling__ = True  # type: ignore[attr-defined]


def _lockOf(instance: Any) -> XLock:
    lock: XLock | None = instance.__dict__.get(_LOCK_ATTRIBUTE)
    if lock is None:
        with _lockCreation:
            lock = instance.__dict__.get(_LOCK_ATTRIBUTE)
            if lock is None:
                lock = instance.__dict__[_LOCK_ATTRIBUTE] = XLock()
    return lock


def _synchronized(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _lockOf(self):
            return method(self, *args, **kwargs)

    locked.__torsion_synchronized__ = True  # type: ignore[attr-defined]
    return locked


def synchronize(*classes: _C) -> _C | None:
    """Make the methods named in each class's ``synchronized`` list hold a per-instance lock.

    Use it as a call after the class (``synchronize(Account)``) or as a decorator
    (``@synchronize``). Synchronizing a class twice does not wrap twice. Methods may
    be inherited; the wrapper is set on the class given, so the base is untouched.

    Returns:
        The last class given (so that it works as a decorator), or None if none was.

    Raises:
        TypeError: if a class has no ``synchronized`` attribute, or its instances have
            no ``__dict__`` to keep the lock in (``__slots__`` without ``__dict__``).
        AttributeError: if a name in ``synchronized`` is not a method of the class.
    """
    for klass in classes:
        names = getattr(klass, "synchronized", None)
        if names is None:
            raise TypeError(
                f"{klass.__name__} has no 'synchronized' attribute: set it to the list "
                "of method names to lock, e.g. synchronized = ['deposit', 'withdraw']"
            )
        if not klass.__dictoffset__:
            raise TypeError(
                f"{klass.__name__} instances have no __dict__ to keep their lock in; "
                "add '__dict__' to its __slots__"
            )
        for name in names:
            method = getattr(klass, name, None)
            if not callable(method):
                raise AttributeError(
                    f"{klass.__name__}.synchronized names {name!r}, which is not a method "
                    f"of {klass.__name__}"
                )
            if getattr(method, "__torsion_synchronized__", False):
                continue
            setattr(klass, name, _synchronized(method))
    return classes[-1] if classes else None


def init(with_threads: bool = True) -> None:
    """Do nothing: threads are always available (kept for 2004-era code).

    Raises:
        RuntimeError: if asked to run without threads, which cannot be undone.
    """
    if not with_threads:
        raise RuntimeError("threads cannot be switched off once Python has them; drop init(0)")


def getThreadID() -> int:
    """Return an identifier of the calling thread (``threading.get_ident()``)."""
    return threading.get_ident()


def registerAsIOThread() -> None:
    """Mark the calling thread as the one that runs the reactor (does I/O)."""
    global ioThread
    ioThread = getThreadID()


def isInIOThread() -> bool:
    """Return True if the caller is the thread registered with ``registerAsIOThread``."""
    return ioThread == getThreadID()
