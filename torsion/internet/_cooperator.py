"""Cooperative multitasking of iterators on the reactor: Cooperator and its tasks.

A long job written as an iterator (each ``next()`` does a small unit of work) is
handed to a ``Cooperator``, which runs units of all its jobs in turn for a short time
slice, then gives the reactor back until the next slice. A job can yield a Deferred
(or a coroutine) to wait for it before its next unit. Import these names from
``torsion.internet.task``, which re-exports them.

Tests: tests/internet/test_cooperator.py.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterator
from inspect import iscoroutine
from typing import Any, Protocol, TypeVar, cast

from torsion.internet.defer import Deferred, ensureDeferred, fail
from torsion.python.failure import Failure

__all__ = [
    "CooperativeTask",
    "Cooperator",
    "NotPaused",
    "SchedulerError",
    "SchedulerStopped",
    "TaskDone",
    "TaskFailed",
    "TaskFinished",
    "TaskStopped",
    "coiterate",
    "cooperate",
    "globalReactor",
]

_T = TypeVar("_T")


def globalReactor() -> object:
    """Return the global reactor, importing (and so installing) it on first use.

    Everything in ``torsion.internet.task`` that defaults to the reactor calls this
    only when it needs one, so importing the module never installs a reactor.
    """
    return importlib.import_module("torsion.internet.reactor")


class SchedulerError(Exception):
    """Base class of the errors a Cooperator and its tasks report."""


class SchedulerStopped(SchedulerError):
    """The Cooperator was stopped, so the task will never run (or run again)."""


class TaskFinished(SchedulerError):
    """The task has already finished, so it can no longer be paused or stopped."""


class TaskDone(TaskFinished):
    """The task's iterator was exhausted: the job completed."""


class TaskStopped(TaskFinished):
    """The task was stopped with ``CooperativeTask.stop``."""


class TaskFailed(TaskFinished):
    """The task's iterator raised an exception (or a Deferred it yielded failed)."""


class NotPaused(SchedulerError):
    """``resume`` was called on a task that was not paused."""


class _ScheduledCall(Protocol):
    """What a Cooperator's scheduler returns: a pending call it can cancel."""

    def cancel(self) -> object: ...


class _Timer:
    """The default termination predicate: true once a slice has run for 10 ms."""

    __slots__ = ("end",)

    MAX_SLICE = 0.01

    def __init__(self) -> None:
        self.end = time.monotonic() + self.MAX_SLICE

    def __call__(self) -> bool:
        return time.monotonic() >= self.end


# A hair more than no delay, so a slice never runs twice within one reactor iteration.
_EPSILON = 0.00000001


def _defaultScheduler(call: Callable[[], None]) -> _ScheduledCall:
    reactor = cast(Any, globalReactor())
    return cast(_ScheduledCall, reactor.callLater(_EPSILON, call))


class CooperativeTask:
    """One iterator being run by a Cooperator; made by ``Cooperator.cooperate``.

    A task can be paused (it runs no units until resumed as many times as it was
    paused), stopped for good, and asked for a Deferred that fires when it is done.
    """

    __slots__ = (
        "_completionResult",
        "_completionState",
        "_cooperator",
        "_deferreds",
        "_iterator",
        "_pauseCount",
        "_scheduled",
        "_unobserved",
    )

    def __init__(self, iterator: Iterator[object], cooperator: Cooperator) -> None:
        self._iterator = iterator
        self._cooperator = cooperator
        self._deferreds: list[Deferred[Iterator[object]]] = []
        self._pauseCount = 0
        self._completionState: type[SchedulerError] | None = None
        self._completionResult: Iterator[object] | Failure | None = None
        # True while the cooperator holds this task among those it runs.
        self._scheduled = False
        # A failure nobody has asked for yet, held in a Deferred so that it is
        # reported as an unhandled error if it is never collected with whenDone().
        self._unobserved: Deferred[None] | None = None
        cooperator._addTask(self)

    def whenDone(self) -> Deferred[Iterator[object]]:
        """Return a Deferred for the outcome of the task.

        It fires with the iterator when the iterator is exhausted, and fails with the
        iterator's error, ``TaskStopped`` if the task was stopped, or
        ``SchedulerStopped`` if its Cooperator was. Each call returns a new Deferred;
        a task that has already finished gives one that has already fired.
        """
        d: Deferred[Iterator[object]] = Deferred()
        if self._completionState is None:
            self._deferreds.append(d)
            return d
        if self._unobserved is not None:
            self._unobserved.addErrback(lambda failure: None)
            self._unobserved = None
        self._fire(d, self._completionResult)
        return d

    @staticmethod
    def _fire(d: Deferred[Iterator[object]], result: Iterator[object] | Failure | None) -> None:
        if isinstance(result, Failure):
            d.errback(result)
        else:
            d.callback(cast("Iterator[object]", result))

    def pause(self) -> None:
        """Stop running units of this task until ``resume`` is called as often.

        Raises:
            TaskFinished: (a subclass of it) the task has already finished.
            SchedulerStopped: the task's Cooperator was stopped.
        """
        self._checkNotFinished()
        self._pauseCount += 1
        if self._pauseCount == 1:
            self._cooperator._removeTask(self)

    def resume(self) -> None:
        """Undo one ``pause``; the task runs again once every pause is undone.

        Raises:
            NotPaused: the task is not paused.
        """
        if self._pauseCount == 0:
            raise NotPaused(f"{self!r} is not paused: resume() must follow a pause()")
        self._pauseCount -= 1
        if self._pauseCount == 0 and self._completionState is None:
            self._cooperator._addTask(self)

    def stop(self) -> None:
        """Stop the task for good: ``whenDone`` Deferreds fail with ``TaskStopped``.

        Raises:
            TaskFinished: (a subclass of it) the task has already finished.
            SchedulerStopped: the task's Cooperator was stopped.
        """
        self._checkNotFinished()
        self._completeWith(TaskStopped, Failure(TaskStopped()))

    def _checkNotFinished(self) -> None:
        if self._completionState is not None:
            raise self._completionState(f"{self!r} has already finished")

    def _completeWith(
        self, state: type[SchedulerError], result: Iterator[object] | Failure
    ) -> None:
        self._completionState = state
        self._completionResult = result
        if self._scheduled:
            self._cooperator._removeTask(self)
        waiting, self._deferreds = self._deferreds, []
        if not waiting and state is TaskFailed:
            self._unobserved = fail(cast(Failure, result))
        for d in waiting:
            self._fire(d, result)

    def _oneWorkUnit(self) -> None:
        """Run one ``next()`` of the iterator, finishing the task if it ends or fails."""
        try:
            result = next(self._iterator)
        except StopIteration:
            self._completeWith(TaskDone, self._iterator)
        except Exception:
            self._completeWith(TaskFailed, Failure())
        else:
            if iscoroutine(result):
                result = ensureDeferred(result)
            if isinstance(result, Deferred):
                self.pause()
                result.addCallbacks(self._waitDone, self._waitFailed)

    def _waitDone(self, result: object) -> None:
        self.resume()

    def _waitFailed(self, failure: Failure) -> Failure | None:
        if self._completionState is not None:
            # Stopped while waiting: nobody is left to tell, so leave the failure
            # unhandled in its Deferred, which reports it.
            return failure
        self._completeWith(TaskFailed, failure)
        return None

    def __repr__(self) -> str:
        if self._completionState is not None:
            state = f"finished ({self._completionState.__name__})"
        elif self._pauseCount:
            state = f"paused x{self._pauseCount}"
        else:
            state = "running"
        return f"<CooperativeTask {id(self):#x} {state}: {self._iterator!r}>"


class Cooperator:
    """Run many iterators a unit at a time, in turn, in short slices of reactor time.

    Args:
        terminationPredicateFactory: called at the start of each slice; returns a
            callable that says (True) when the slice should end. By default a slice
            lasts about 10 ms.
        scheduler: called with a function to run the next slice; returns an object
            with ``cancel()``. By default it schedules the function on the global
            reactor with ``callLater``.
        started: False to hold all work until ``start`` is called.
    """

    def __init__(
        self,
        terminationPredicateFactory: Callable[[], Callable[[], bool]] = _Timer,
        scheduler: Callable[[Callable[[], None]], _ScheduledCall] = _defaultScheduler,
        started: bool = True,
    ) -> None:
        self._terminationPredicateFactory = terminationPredicateFactory
        self._scheduler = scheduler
        self._started = started
        self._stopped = False
        self._tasks: list[CooperativeTask] = []
        # Where the round-robin stands, kept across slices so each task gets a turn.
        self._round: Iterator[CooperativeTask] = iter(())
        self._delayedCall: _ScheduledCall | None = None

    def coiterate(
        self, iterator: Iterator[_T], doneDeferred: Deferred[Iterator[_T]] | None = None
    ) -> Deferred[Iterator[_T]]:
        """Run ``iterator`` cooperatively; return a Deferred for its outcome.

        The Deferred fires with the iterator once it is exhausted, or fails as
        ``CooperativeTask.whenDone`` describes. If ``doneDeferred`` is given, it is
        fired and returned instead of a new one.
        """
        if doneDeferred is None:
            doneDeferred = Deferred()
        done = cast("Deferred[Iterator[_T]]", self.cooperate(iterator).whenDone())
        done.chainDeferred(doneDeferred)
        return doneDeferred

    def cooperate(self, iterator: Iterator[object]) -> CooperativeTask:
        """Start running ``iterator`` cooperatively; return its CooperativeTask."""
        return CooperativeTask(iterator, self)

    @property
    def running(self) -> bool:
        """True once started and until stopped."""
        return self._started and not self._stopped

    def start(self) -> None:
        """Begin (or, after ``stop``, begin again) running the tasks given."""
        self._stopped = False
        self._started = True
        self._reschedule()

    def stop(self) -> None:
        """Stop running tasks; every unfinished task fails with ``SchedulerStopped``.

        Paused tasks fail when they are resumed, and tasks added until ``start`` is
        called again fail at once.
        """
        self._stopped = True
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task._scheduled = False
            task._completeWith(SchedulerStopped, Failure(SchedulerStopped()))
        self._cancelSlice()

    def _addTask(self, task: CooperativeTask) -> None:
        if self._stopped:
            task._completeWith(SchedulerStopped, Failure(SchedulerStopped()))
            return
        task._scheduled = True
        self._tasks.append(task)
        self._reschedule()

    def _removeTask(self, task: CooperativeTask) -> None:
        task._scheduled = False
        self._tasks.remove(task)
        if not self._tasks:
            self._cancelSlice()

    def _cancelSlice(self) -> None:
        if self._delayedCall is not None:
            self._delayedCall.cancel()
            self._delayedCall = None

    def _reschedule(self) -> None:
        if self._started and self._delayedCall is None and self._tasks:
            self._delayedCall = self._scheduler(self._tick)

    def _tick(self) -> None:
        """Run one slice: units of each task in turn until the slice is over."""
        self._delayedCall = None
        try:
            shouldStop = self._terminationPredicateFactory()
            while self._tasks:
                for task in self._round:
                    # Tasks paused or finished since the round began sit it out.
                    if not task._scheduled:
                        continue
                    task._oneWorkUnit()
                    if shouldStop():
                        return
                self._round = iter(list(self._tasks))
        finally:
            self._reschedule()


_theCooperator = Cooperator()


def coiterate(iterator: Iterator[_T]) -> Deferred[Iterator[_T]]:
    """Run ``iterator`` cooperatively on the global Cooperator (driven by the reactor).

    Returns a Deferred that fires with the iterator once it is exhausted; see
    ``Cooperator.coiterate``.
    """
    return _theCooperator.coiterate(iterator)


def cooperate(iterator: Iterator[object]) -> CooperativeTask:
    """Run ``iterator`` cooperatively on the global Cooperator; return its task."""
    return _theCooperator.cooperate(iterator)
