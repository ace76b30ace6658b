"""ThreadPool: a pool of worker threads for blocking work (Twisted's ``python.threadpool``).

The reactor keeps one of these for ``deferToThread`` and ``callInThread``; code that
needs its own bounded pool (a database driver, a blocking library) makes another.

Work handed to the pool before ``start`` waits and runs once the pool starts. Threads
are created on demand, up to ``max``, and named ``{name}-{n}`` so that a thread dump
says which pool they belong to. Each piece of work runs in the ``contextvars`` context
of the code that submitted it, so logging context and other context variables follow
the work into the thread. An exception raised by the work is logged and the worker
carries on.

Tests: tests/python/test_threadpool.py.
"""

from __future__ import annotations

import contextvars
import threading
from collections import deque
from collections.abc import Callable
from itertools import count
from typing import Any

from torsion.logger import Logger
from torsion.python.failure import Failure

__all__ = ["ThreadPool"]

_log = Logger()

# What a queued piece of work is: the submitter's context, the callable, its arguments
# and, for callInThreadWithCallback, the function told about the outcome.
_Work = tuple[
    contextvars.Context,
    Callable[..., object],
    tuple[Any, ...],
    dict[str, Any],
    Callable[[bool, Any], object] | None,
]


class ThreadPool:
    """A pool of between ``min`` and ``max`` threads that run submitted callables.

    Typical use::

        pool = ThreadPool(minthreads=0, maxthreads=4, name="db")
        pool.start()
        pool.callInThread(blockingFunction, arg)
        ...
        pool.stop()

    Attributes:
        min: the number of threads started by ``start`` and kept while running.
        max: the most threads the pool will run at once.
        name: the prefix of the threads' names.
        started: True between ``start`` and ``stop``.
        joined: True once ``stop`` has been called.
        threads: the live worker threads.
    """

    def __init__(self, minthreads: int = 5, maxthreads: int = 20, name: str | None = None) -> None:
        """Make a stopped pool.

        Raises:
            ValueError: ``minthreads`` is negative or ``maxthreads`` is below it or
                below 1.
        """
        _checkSizes(minthreads, maxthreads)
        self.min = minthreads
        self.max = maxthreads
        self.name = name
        self.started = False
        self.joined = False
        self.threads: list[threading.Thread] = []
        self._queue: deque[_Work] = deque()
        self._cond = threading.Condition()
        self._idle = 0
        self._retire = 0
        self._stopping = False
        self._counter = count(1)

    @property
    def workers(self) -> int:
        """The number of worker threads the pool has now (idle or busy)."""
        return len(self.threads)

    @property
    def waiters(self) -> int:
        """The number of worker threads waiting for work."""
        return self._idle

    @property
    def working(self) -> int:
        """The number of worker threads running work right now."""
        with self._cond:
            return len(self.threads) - self._idle

    @property
    def pending(self) -> int:
        """The number of submitted calls not yet picked up by a worker."""
        return len(self._queue)

    def start(self) -> None:
        """Start ``min`` threads, and more (up to ``max``) if work is already queued."""
        with self._cond:
            self.joined = False
            self.started = True
            self._stopping = False
            wanted = min(self.max, max(self.min, len(self._queue)))
            while len(self.threads) < wanted:
                self._startThread()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop the pool: workers finish the queued work, then exit, and are joined.

        Args:
            timeout: the most seconds to wait for each thread; None waits for ever.
                A thread still busy after it is left running (its work cannot be
                interrupted) and is no longer counted in ``threads``.
        """
        with self._cond:
            self.joined = True
            self.started = False
            self._stopping = True
            threads = list(self.threads)
            self._cond.notify_all()
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
        with self._cond:
            self.threads = [t for t in self.threads if t.is_alive() and t not in threads]

    def adjustPoolsize(self, minthreads: int | None = None, maxthreads: int | None = None) -> None:
        """Change ``min`` and ``max``; a running pool grows or shrinks to match.

        Shrinking retires idle threads at once and busy ones when their work is done.

        Raises:
            ValueError: the new sizes are inconsistent (see ``__init__``).
        """
        newMin = self.min if minthreads is None else minthreads
        newMax = self.max if maxthreads is None else maxthreads
        _checkSizes(newMin, newMax)
        with self._cond:
            self.min = newMin
            self.max = newMax
            if not self.started:
                return
            excess = len(self.threads) - self._retire - newMax
            if excess > 0:
                self._retire += excess
                self._cond.notify_all()
            wanted = min(newMax, max(newMin, len(self._queue)))
            while len(self.threads) - self._retire < wanted:
                self._startThread()

    def callInThread(self, func: Callable[..., object], *args: Any, **kw: Any) -> None:
        """Run ``func(*args, **kw)`` in a worker thread; its result is discarded.

        An exception it raises is logged.
        """
        self._submit((contextvars.copy_context(), func, args, kw, None))

    def callInThreadWithCallback(
        self,
        onResult: Callable[[bool, Any], object] | None,
        func: Callable[..., object],
        *args: Any,
        **kw: Any,
    ) -> None:
        """Run ``func(*args, **kw)`` in a worker thread and report how it went.

        Args:
            onResult: called in the worker thread with ``(True, result)`` or
                ``(False, Failure)``; an exception it raises is logged. It must not
                touch reactor state directly: use ``reactor.callFromThread``.
        """
        self._submit((contextvars.copy_context(), func, args, kw, onResult))

    def _submit(self, work: _Work) -> None:
        with self._cond:
            self._queue.append(work)
            if not self.started:
                return
            if self._idle < len(self._queue) and len(self.threads) - self._retire < self.max:
                self._startThread()
            self._cond.notify()

    def _startThread(self) -> None:
        # Called with self._cond held.
        threadName = f"{self.name or 'ThreadPool'}-{next(self._counter)}"
        thread = threading.Thread(target=self._worker, name=threadName, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _nextWork(self) -> _Work | None:
        """Wait for work; return None when this thread should exit."""
        with self._cond:
            while True:
                if self._retire > 0:
                    self._retire -= 1
                    self._forgetCurrentThread()
                    return None
                if self._queue:
                    return self._queue.popleft()
                if self._stopping:
                    self._forgetCurrentThread()
                    return None
                self._idle += 1
                try:
                    self._cond.wait()
                finally:
                    self._idle -= 1

    def _worker(self) -> None:
        try:
            while (work := self._nextWork()) is not None:
                context, func, args, kw, onResult = work
                context.run(_runWork, func, args, kw, onResult)
                del work, context, func, args, kw, onResult
        finally:
            with self._cond:
                self._forgetCurrentThread()

    def _forgetCurrentThread(self) -> None:
        # Called with self._cond held, by a worker about to exit, so that the count of
        # threads and the number still to retire change together.
        current = threading.current_thread()
        if current in self.threads:
            self.threads.remove(current)

    def __repr__(self) -> str:
        return (
            f"<ThreadPool name={self.name!r} min={self.min} max={self.max} "
            f"threads={len(self.threads)} pending={len(self._queue)}>"
        )


def _runWork(
    func: Callable[..., object],
    args: tuple[Any, ...],
    kw: dict[str, Any],
    onResult: Callable[[bool, Any], object] | None,
) -> None:
    """Run one piece of work and deliver or log its outcome; never raises."""
    outcome: Any
    try:
        result = func(*args, **kw)
    except BaseException:
        failure = Failure()
        if onResult is None:
            _log.failure("Unhandled error in thread pool work {func!r}", failure, func=func)
            return
        success, outcome = False, failure
    else:
        if onResult is None:
            return
        success, outcome = True, result
    try:
        onResult(success, outcome)
    except BaseException:
        _log.failure(
            "Unhandled error in thread pool result callback {onResult!r}",
            Failure(),
            onResult=onResult,
        )


def _checkSizes(minthreads: int, maxthreads: int) -> None:
    if minthreads < 0:
        raise ValueError(f"a thread pool needs minthreads >= 0, not {minthreads}")
    if maxthreads < 1 or maxthreads < minthreads:
        raise ValueError(
            f"a thread pool needs maxthreads >= max(1, minthreads); got "
            f"minthreads={minthreads}, maxthreads={maxthreads}"
        )
