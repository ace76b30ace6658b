"""Deferreds: results that arrive later, and the tools to combine and wait for them.

This is the public home of ``Deferred`` (defined in ``_defercore``) and of the helpers
built on it: ``succeed``/``fail``, ``maybeDeferred``/``execute``, ``DeferredList``,
``gatherResults``, ``race``, ``inlineCallbacks``/``returnValue`` and ``ensureDeferred``.
Tests: tests/internet/test_defer.py, tests/internet/test_defer_lists.py,
tests/internet/test_defer_coroutines.py, tests/internet/test_defer_model.py.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Generator, Iterable, Sequence
from functools import wraps
from types import CoroutineType, GeneratorType
from typing import Any, NoReturn, ParamSpec, TypeVar, overload

from torsion.internet._defercore import (
    AlreadyCalledError,
    CancelledError,
    Deferred,
    NotACoroutineError,
    TimeoutError,
    _DefGen_Return,
    _drive,
    getDebugging,
    passthru,
    setDebugging,
)
from torsion.python.failure import Failure

_T = TypeVar("_T")
_P = ParamSpec("_P")

# Tracebacks and reprs should name the public module, not the private one.
for _public in (AlreadyCalledError, CancelledError, Deferred, NotACoroutineError):
    _public.__module__ = __name__
del _public

__all__ = [
    "AlreadyCalledError",
    "CancelledError",
    "Deferred",
    "DeferredList",
    "DeferredLock",
    "DeferredQueue",
    "DeferredSemaphore",
    "FailureGroup",
    "FirstError",
    "NotACoroutineError",
    "QueueOverflow",
    "QueueUnderflow",
    "TimeoutError",
    "ensureDeferred",
    "execute",
    "fail",
    "gatherResults",
    "getDebugging",
    "inlineCallbacks",
    "logError",
    "maybeDeferred",
    "passthru",
    "race",
    "returnValue",
    "setDebugging",
    "succeed",
]


class FirstError(Exception):
    """The first failure of a ``DeferredList(fireOnOneErrback=True)`` or ``gatherResults``.

    Attributes:
        subFailure: the Failure of the Deferred that failed.
        index: its position in the list given.
    """

    def __init__(self, failure: Failure, index: int) -> None:
        super().__init__(failure, index)
        self.subFailure = failure
        self.index = index

    def __repr__(self) -> str:
        return f"FirstError[#{self.index}, {self.subFailure.value!r}]"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FirstError):
            return self.index == other.index and self.subFailure is other.subFailure
        return NotImplemented

    __hash__ = Exception.__hash__


class FailureGroup(Exception):
    """Every Deferred given to ``race`` failed; ``failures`` lists their Failures in order."""

    def __init__(self, failures: Sequence[Failure]) -> None:
        super().__init__(list(failures))
        self.failures = list(failures)


def succeed(result: _T) -> Deferred[_T]:
    """Return a Deferred that already has ``result``."""
    d: Deferred[_T] = Deferred()
    if Deferred.debug or isinstance(result, Deferred):
        d.callback(result)
    else:
        # Nothing can be waiting on a brand-new Deferred: skip the callback machinery.
        d.called = True
        d.result = result
    return d


def fail(result: Failure | BaseException | None = None) -> Deferred[Any]:
    """Return a Deferred that already failed with ``result`` (default: current exception)."""
    d: Deferred[Any] = Deferred()
    d.errback(result)
    return d


def execute(callable: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> Deferred[_T]:
    """Call ``callable`` now and return a fired Deferred with its result or exception."""
    try:
        result = callable(*args, **kwargs)
    except BaseException:
        return fail()
    return succeed(result)


@overload
def maybeDeferred(
    f: Callable[_P, Deferred[_T]], *args: _P.args, **kwargs: _P.kwargs
) -> Deferred[_T]: ...


@overload
def maybeDeferred(
    f: Callable[_P, Coroutine[Any, Any, _T]], *args: _P.args, **kwargs: _P.kwargs
) -> Deferred[_T]: ...


@overload
def maybeDeferred(f: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> Deferred[_T]: ...


def maybeDeferred(f: Callable[..., Any], *args: Any, **kwargs: Any) -> Deferred[Any]:
    """Call ``f`` and always give back a Deferred, whatever it returns or raises.

    A Deferred returned is passed through; a coroutine is run (as by
    ``ensureDeferred``); a Failure returned or exception raised gives a failed
    Deferred; any other value a fired one.
    """
    try:
        result = f(*args, **kwargs)
    except BaseException:
        return fail()
    if isinstance(result, Deferred):
        return result
    if isinstance(result, Failure):
        return fail(result)
    if type(result) is CoroutineType:
        return _drive(result)
    return succeed(result)


def logError(err: Failure) -> Failure:
    """Log ``err`` (as an errback: ``d.addErrback(logError)``) and pass it on.

    The Failure stays the result, so add another errback after this one if the chain
    should recover.
    """
    from torsion.logger import Logger

    Logger("torsion.internet.defer").failure("Error in Deferred:", err)
    return err


class DeferredList(Deferred[Any]):
    """A Deferred that fires when every Deferred in a list has (or one has, if asked).

    Its result is a list of ``(success, result)`` pairs in the order given: ``(True,
    value)`` or ``(False, failure)``.

    Args:
        deferredList: the Deferreds to wait for.
        fireOnOneCallback: fire with ``(result, index)`` as soon as one succeeds.
        fireOnOneErrback: fail with ``FirstError`` as soon as one fails.
        consumeErrors: handle the failures of the listed Deferreds (their result
            becomes None), so they are not logged as unhandled; the failures are still
            reported in this Deferred's result.

    Cancelling the DeferredList cancels every listed Deferred that has not fired.
    """

    __slots__ = (
        "_deferredList",
        "consumeErrors",
        "finishedCount",
        "fireOnOneCallback",
        "fireOnOneErrback",
        "resultList",
    )

    def __init__(
        self,
        deferredList: Iterable[Deferred[Any]],
        fireOnOneCallback: bool = False,
        fireOnOneErrback: bool = False,
        consumeErrors: bool = False,
    ) -> None:
        self._deferredList = list(deferredList)
        self.resultList: list[Any] = [None] * len(self._deferredList)
        super().__init__(self._cancelAll)
        self.fireOnOneCallback = fireOnOneCallback
        self.fireOnOneErrback = fireOnOneErrback
        self.consumeErrors = consumeErrors
        self.finishedCount = 0
        if not self._deferredList and not fireOnOneCallback:
            self.callback(self.resultList)
        for index, d in enumerate(self._deferredList):
            d.addCallbacks(
                self._cbDeferred,
                self._cbDeferred,
                callbackArgs=(index, True),
                errbackArgs=(index, False),
            )

    def _cbDeferred(self, result: Any, index: int, succeeded: bool) -> Any:
        self.resultList[index] = (succeeded, result)
        self.finishedCount += 1
        if not self.called:
            if succeeded and self.fireOnOneCallback:
                self.callback((result, index))
            elif not succeeded and self.fireOnOneErrback:
                self.errback(Failure(FirstError(result, index)))
            elif self.finishedCount == len(self.resultList):
                self.callback(self.resultList)
        if not succeeded and self.consumeErrors:
            return None
        return result

    def _cancelAll(self, _: Deferred[Any]) -> None:
        for d in self._deferredList:
            if not d.called:
                d.cancel()


def gatherResults(
    deferredList: Iterable[Deferred[_T]], consumeErrors: bool = False
) -> Deferred[list[_T]]:
    """Return a Deferred for the list of results of ``deferredList``, in order.

    It fails with ``FirstError`` as soon as one of them fails (``.subFailure`` is that
    Failure). ``consumeErrors`` is as for ``DeferredList``.
    """
    d = DeferredList(deferredList, fireOnOneErrback=True, consumeErrors=consumeErrors)
    return d.addCallback(_collectResults)


def _collectResults(pairs: list[tuple[bool, Any]]) -> list[Any]:
    return [result for _, result in pairs]


def race(ds: Sequence[Deferred[_T]]) -> Deferred[tuple[int, _T]]:
    """Return a Deferred for the first of ``ds`` to succeed, as ``(index, result)``.

    As soon as one succeeds the others are cancelled (their failures are handled). If
    all of them fail, it fails with ``FailureGroup`` listing their Failures. Cancelling
    the returned Deferred cancels all of ``ds``.
    """
    ds = list(ds)
    failures: list[Failure | None] = [None] * len(ds)
    state = {"failed": 0, "winner": -1}

    def cancelAll(_: Deferred[Any]) -> None:
        for d in ds:
            d.cancel()

    result: Deferred[tuple[int, _T]] = Deferred(cancelAll)

    def succeeded(value: _T, index: int) -> None:
        if state["winner"] != -1 or result.called:
            return
        state["winner"] = index
        for i, d in enumerate(ds):
            if i != index:
                d.cancel()
        result.callback((index, value))

    def failed(failure: Failure, index: int) -> None:
        if state["winner"] != -1 or result.called:
            return
        failures[index] = failure
        state["failed"] += 1
        if state["failed"] == len(ds):
            result.errback(FailureGroup([f for f in failures if f is not None]))

    for index, d in enumerate(ds):
        d.addCallbacks(succeeded, failed, callbackArgs=(index,), errbackArgs=(index,))
    return result


def ensureDeferred(coro: Coroutine[Any, Any, _T] | Deferred[_T]) -> Deferred[_T]:
    """Return a Deferred for ``coro``: a coroutine is run, a Deferred returned as is.

    Raises:
        NotACoroutineError: if ``coro`` is neither.
    """
    if isinstance(coro, Deferred):
        return coro
    return Deferred.fromCoroutine(coro)


def returnValue(val: object) -> NoReturn:
    """End an ``inlineCallbacks`` generator with result ``val``.

    Kept for compatibility; on Python 3 write ``return val`` instead.
    """
    raise _DefGen_Return(val)


def inlineCallbacks(
    f: Callable[_P, Generator[Any, Any, _T]],
) -> Callable[_P, Deferred[_T]]:
    """Decorate a generator function so it can wait on Deferreds with ``yield``.

    Inside, ``result = yield d`` waits for Deferred ``d`` and gives its result (or
    raises its exception); yielding anything else gives it straight back. ``return
    value`` fires the returned Deferred with ``value``; an exception errbacks it.
    Cancelling the returned Deferred cancels the Deferred being waited on.
    New code may prefer ``async def`` with ``ensureDeferred``.
    """

    @wraps(f)
    def unwindGenerator(*args: _P.args, **kwargs: _P.kwargs) -> Deferred[_T]:
        try:
            gen = f(*args, **kwargs)
        except _DefGen_Return:
            raise TypeError(
                f"inlineCallbacks requires {f!r} to produce a generator; it called "
                "returnValue without yielding (write it as a plain function instead)"
            ) from None
        if not isinstance(gen, GeneratorType):
            raise TypeError(
                f"inlineCallbacks requires {f!r} to produce a generator; "
                f"it returned {gen!r} instead"
            )
        return _drive(gen)

    return unwindGenerator


# The locking and queueing primitives live in their own module; they are part of
# this module's public surface, as in Twisted.
from torsion.internet._concurrency import (  # noqa: E402
    DeferredLock,
    DeferredQueue,
    DeferredSemaphore,
    QueueOverflow,
    QueueUnderflow,
)
