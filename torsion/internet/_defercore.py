"""The Deferred itself: a placeholder for a result that is not there yet.

This private module holds the ``Deferred`` class, its errors, the debugging switch and
the generator/coroutine driver behind ``inlineCallbacks`` and ``ensureDeferred``.
Import everything from ``torsion.internet.defer``, which re-exports it.
Tests: tests/internet/test_defer.py, tests/internet/test_defer_coroutines.py,
tests/internet/test_defer_model.py.

How it works, briefly: a Deferred keeps a list of (callback, errback) pairs. When it
fires, ``_runCallbacks`` walks that list, passing each result on to the next pair. If a
callback returns another Deferred that has not fired, the outer one pauses and a
"continuation" entry on the inner one hands the result back later. The walk is a loop
over an explicit stack, never recursion, so arbitrarily deep chains are fine.
"""

from __future__ import annotations

import traceback
from asyncio import AbstractEventLoop, Future
from collections.abc import Callable, Coroutine, Generator
from types import CoroutineType, GeneratorType
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Generic,
    NoReturn,
    ParamSpec,
    TypeVar,
    overload,
)

from torsion.internet.error import TimeoutError
from torsion.python.failure import Failure

if TYPE_CHECKING:
    from torsion.internet.interfaces import IReactorTime

_T = TypeVar("_T")
_U = TypeVar("_U")
_P = ParamSpec("_P")

__all__ = [
    "AlreadyCalledError",
    "CancelledError",
    "Deferred",
    "NotACoroutineError",
    "TimeoutError",
    "getDebugging",
    "passthru",
    "setDebugging",
]


class AlreadyCalledError(Exception):
    """A Deferred was fired (callback or errback) a second time.

    A Deferred gives exactly one result. Check ``d.called`` before firing if more than
    one party may fire it, or turn on ``setDebugging(True)`` to have this error say
    where the Deferred was created and where it was first fired.
    """


class CancelledError(Exception):
    """The Deferred was cancelled (``d.cancel()``) before it had a result."""


class NotACoroutineError(TypeError):
    """``ensureDeferred`` or ``Deferred.fromCoroutine`` got something that is not a coroutine."""


def passthru(arg: _T) -> _T:
    """Return ``arg`` unchanged: the identity callback."""
    return arg


def setDebugging(on: bool) -> None:
    """Turn recording of creation and firing stacks for new Deferreds on or off.

    Debugging makes ``AlreadyCalledError`` and unhandled-error logs say where the
    Deferred was made and fired, at a cost in speed; leave it off in production.
    """
    Deferred.debug = bool(on)


def getDebugging() -> bool:
    """Return whether Deferred debugging (see ``setDebugging``) is on."""
    return Deferred.debug


class _DebugInfo:
    """Per-Deferred bookkeeping for debugging and unhandled-failure logging.

    It is created only when needed (debugging on, or a chain ending in failure), so
    the common path allocates nothing. When it is garbage collected while still holding
    a failure, that failure was never handled: it is logged then, once, because an
    object is only collected once.
    """

    __slots__ = ("creator", "failResult", "invoker")

    def __init__(self) -> None:
        self.failResult: Failure | None = None
        self.creator: list[str] | None = None
        self.invoker: list[str] | None = None

    def describe(self) -> str:
        """Return the recorded creation and firing stacks as text (empty if none)."""
        parts = []
        if self.creator is not None:
            parts.append("Deferred was created at:\n" + "".join(self.creator))
        if self.invoker is not None:
            parts.append("Deferred was first fired at:\n" + "".join(self.invoker))
        return "\n".join(parts)

    def __del__(self) -> None:
        failure = self.failResult
        if failure is None:
            return
        self.failResult = None
        try:
            from torsion.logger import Logger

            debugInfo = self.describe()
            Logger("torsion.internet.defer").failure(
                "Unhandled error in Deferred:", failure, debugInfo=debugInfo or None
            )
        except BaseException:
            # Nothing may escape a finaliser; a broken logger must not crash the program.
            pass


_CONTINUE = object()
_NO_KWARGS: dict[str, Any] = {}


def _stack() -> list[str]:
    return traceback.format_stack()[:-2]


class Deferred(Generic[_T]):
    """A result that will arrive later, with the callbacks that will process it.

    Add processing steps with ``addCallback`` (success), ``addErrback`` (failure),
    ``addBoth`` or ``addCallbacks``; the producer of the result calls ``callback`` or
    ``errback`` once. Each step gets the previous step's result; an exception raised
    (or a ``Failure`` returned) switches to the error path, a normal return switches
    back. A step that returns a Deferred suspends the chain until that one fires.

    ``await d`` works in coroutines driven by ``ensureDeferred`` and in
    ``inlineCallbacks`` generators (``yield d``). asyncio does not know Deferreds; from
    asyncio code, ``await d.asFuture(loop)`` is the direct way (a plain ``await d`` in
    an asyncio Task also works, converting through ``asFuture`` after asyncio rejects
    the Deferred; an already-fired Deferred is awaited directly anywhere).

    Args:
        canceller: called with the Deferred when ``cancel()`` is called before it fired;
            it should stop the underlying work and may fire the Deferred itself.
    """

    __slots__ = (
        "__weakref__",
        "_canceller",
        "_chainedTo",
        "_debugInfo",
        "_runningCallbacks",
        "_suppressAlreadyCalled",
        "callbacks",
        "called",
        "paused",
        "result",
    )

    debug: bool = False
    """Class-wide switch, set through ``setDebugging``."""

    called: bool
    paused: int
    result: Any
    callbacks: list[tuple[Any, ...]]

    def __init__(self, canceller: Callable[[Deferred[Any]], None] | None = None) -> None:
        self.callbacks = []
        self.called = False
        self.paused = 0
        self._canceller = canceller
        self._chainedTo: Deferred[Any] | None = None
        self._runningCallbacks = False
        self._suppressAlreadyCalled = False
        self._debugInfo: _DebugInfo | None = None
        if self.debug:
            info = self._debugInfo = _DebugInfo()
            info.creator = _stack()

    # -- adding callbacks -----------------------------------------------------------

    def addCallbacks(
        self,
        callback: Callable[..., Any],
        errback: Callable[..., Any] | None = None,
        callbackArgs: tuple[Any, ...] = (),
        callbackKeywords: dict[str, Any] | None = None,
        errbackArgs: tuple[Any, ...] = (),
        errbackKeywords: dict[str, Any] | None = None,
    ) -> Deferred[Any]:
        """Add a success step and a failure step at the same point of the chain.

        Exactly one of them runs, depending on whether the result at that point is a
        Failure; an error raised by ``callback`` does not reach ``errback`` (use
        ``addCallback(...).addErrback(...)`` for that).

        Returns:
            This Deferred, so calls can be chained.
        """
        self.callbacks.append(
            (
                callback,
                callbackArgs,
                callbackKeywords or _NO_KWARGS,
                errback or passthru,
                errbackArgs,
                errbackKeywords or _NO_KWARGS,
            )
        )
        if self.called:
            self._runCallbacks()
        return self

    @overload
    def addCallback(
        self,
        callback: Callable[Concatenate[_T, _P], Failure],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> Deferred[NoReturn]: ...

    @overload
    def addCallback(
        self,
        callback: Callable[Concatenate[_T, _P], Failure | Deferred[_U]],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> Deferred[_U]: ...

    @overload
    def addCallback(
        self,
        callback: Callable[Concatenate[_T, _P], Failure | Coroutine[Any, Any, _U]],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> Deferred[_U]: ...

    @overload
    def addCallback(
        self,
        callback: Callable[Concatenate[_T, _P], Failure | _U],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> Deferred[_U]: ...

    def addCallback(self, callback: Any, *args: Any, **kwargs: Any) -> Deferred[Any]:
        """Add a step run with the result when the chain is succeeding.

        ``callback(result, *args, **kwargs)``'s return value becomes the new result; a
        Deferred or coroutine returned is waited for first.

        Returns:
            This Deferred (typed with the callback's result type).
        """
        self.callbacks.append((callback, args, kwargs, passthru, (), _NO_KWARGS))
        if self.called:
            self._runCallbacks()
        return self

    @overload
    def addErrback(
        self,
        errback: Callable[Concatenate[Failure, _P], Deferred[_U]],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> Deferred[_T | _U]: ...

    @overload
    def addErrback(
        self,
        errback: Callable[Concatenate[Failure, _P], Coroutine[Any, Any, _U]],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> Deferred[_T | _U]: ...

    @overload
    def addErrback(
        self,
        errback: Callable[Concatenate[Failure, _P], Failure | _U],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> Deferred[_T | _U]: ...

    def addErrback(self, errback: Any, *args: Any, **kwargs: Any) -> Deferred[Any]:
        """Add a step run with the Failure when the chain is failing.

        Returning normally recovers (its value becomes the result); raising, or
        returning the Failure, keeps the chain failing. ``failure.trap(SomeError)`` is
        the usual way to handle some errors and pass the rest on.
        """
        self.callbacks.append((passthru, (), _NO_KWARGS, errback, args, kwargs))
        if self.called:
            self._runCallbacks()
        return self

    @overload
    def addBoth(
        self,
        callback: Callable[Concatenate[_T | Failure, _P], Deferred[_U]],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> Deferred[_U]: ...

    @overload
    def addBoth(
        self,
        callback: Callable[Concatenate[_T | Failure, _P], Coroutine[Any, Any, _U]],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> Deferred[_U]: ...

    @overload
    def addBoth(
        self,
        callback: Callable[Concatenate[_T | Failure, _P], _U],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> Deferred[_U]: ...

    def addBoth(self, callback: Any, *args: Any, **kwargs: Any) -> Deferred[Any]:
        """Add a step run with whatever the result is, success or Failure."""
        self.callbacks.append((callback, args, kwargs, callback, args, kwargs))
        if self.called:
            self._runCallbacks()
        return self

    def chainDeferred(self, d: Deferred[_T]) -> Deferred[None]:
        """Fire ``d`` with this Deferred's result (success or failure) at this point.

        This Deferred's result becomes None afterwards. For "wait for d and use its
        result" return ``d`` from a callback instead, which also handles cancellation.
        """
        d._chainedTo = self
        return self.addCallbacks(d.callback, d.errback)

    # -- firing -----------------------------------------------------------------

    def callback(self, result: _T | Failure) -> None:
        """Give this Deferred its (successful) result and run the callbacks.

        Raises:
            AlreadyCalledError: if it already had a result.
            TypeError: if ``result`` is a Deferred (return it from a callback instead).
        """
        if isinstance(result, Deferred):
            raise TypeError(
                "Deferred.callback() got a Deferred; to wait for one Deferred inside "
                "another, return it from a callback instead"
            )
        if self.called or self.debug:
            self._startRunCallbacks(result)
            return
        self.called = True
        self.result = result
        self._runCallbacks()

    def errback(self, fail: Failure | BaseException | None = None) -> None:
        """Give this Deferred a failure and run the errbacks.

        Args:
            fail: a Failure, or an exception (wrapped in a Failure); None means the
                exception being handled right now.

        Raises:
            AlreadyCalledError: if it already had a result.
        """
        if type(fail) is not Failure:
            fail = Failure(fail)
        self._startRunCallbacks(fail)

    def _startRunCallbacks(self, result: object) -> None:
        if self.called:
            if self._suppressAlreadyCalled:
                self._suppressAlreadyCalled = False
                return
            raise AlreadyCalledError(self._alreadyCalledMessage())
        if self.debug:
            if self._debugInfo is None:
                self._debugInfo = _DebugInfo()
            self._debugInfo.invoker = _stack()
        self.called = True
        self.result = result
        self._runCallbacks()

    def _alreadyCalledMessage(self) -> str:
        message = (
            f"{self!r} already has a result; a Deferred can be fired only once "
            "(check d.called first if several parties may fire it)"
        )
        info = self._debugInfo
        if info is not None and (info.creator or info.invoker):
            return message + "\n" + info.describe()
        return message + "; call torsion.internet.defer.setDebugging(True) to see where"

    def pause(self) -> None:
        """Stop running callbacks until a matching ``unpause``."""
        self.paused += 1

    def unpause(self) -> None:
        """Undo one ``pause``; when none are left and a result is there, carry on."""
        self.paused -= 1
        if self.paused:
            return
        if self.called:
            self._runCallbacks()

    def cancel(self) -> None:
        """Ask for the work behind this Deferred to stop.

        If it has no result yet, the canceller given at construction runs; if that did
        not fire the Deferred (or there is none) it errbacks with ``CancelledError``. If
        it is waiting on a Deferred returned by a callback, that one is cancelled.
        Cancelling a Deferred that already has its final result does nothing.
        """
        if not self.called:
            canceller = self._canceller
            if canceller is not None:
                canceller(self)
            else:
                # Whoever was going to fire it will still try once; let them.
                self._suppressAlreadyCalled = True
            if not self.called:
                self.errback(Failure(CancelledError()))
        elif self._chainedTo is not None:
            self._chainedTo.cancel()

    def addTimeout(
        self,
        timeout: float,
        clock: IReactorTime,
        onTimeoutCancel: Callable[[Any, float], Any] | None = None,
    ) -> Deferred[_T]:
        """Cancel this Deferred if it has no result ``timeout`` seconds from now.

        A timed-out Deferred fails with ``TimeoutError`` (from
        ``torsion.internet.error``) instead of ``CancelledError``, unless
        ``onTimeoutCancel(result, timeout)`` is given: its return value is used instead.
        The pending timer is cancelled as soon as the Deferred fires.

        Args:
            clock: the reactor, or a ``torsion.internet.task.Clock`` in tests.
        """
        timedOut = False

        def timeItOut() -> None:
            nonlocal timedOut
            timedOut = True
            self.cancel()

        delayedCall = clock.callLater(timeout, timeItOut)

        def whenDone(result: Any) -> Any:
            if delayedCall.active():
                delayedCall.cancel()
            if timedOut:
                if onTimeoutCancel is not None:
                    return onTimeoutCancel(result, timeout)
                if isinstance(result, Failure) and result.check(CancelledError):
                    raise TimeoutError(f"Deferred timed out after {timeout} seconds")
            return result

        self.addBoth(whenDone)
        return self

    # -- running callbacks ----------------------------------------------------------

    def _runCallbacks(self) -> None:
        """Run pending callbacks of this Deferred and of any it is chained into.

        When an inner Deferred reaches its continuation entry, the loop switches to the
        outer Deferred (remembering the inner one if it has callbacks left), so depth
        costs memory, not recursion.
        """
        if self._runningCallbacks:
            # A callback of ours added a callback or unpaused us; the running loop
            # will pick the new work up.
            return
        # ``current`` is the Deferred being run; ``waiting`` holds Deferreds to come back
        # to (an inner one with callbacks left after handing its result to an outer
        # one). Made only when needed: most runs involve one Deferred.
        current: Deferred[Any] = self
        waiting: list[Deferred[Any]] | None = None
        while True:
            switchTo: Deferred[Any] | None = None
            if not current.paused:
                finished = True
                current._chainedTo = None
                callbacks = current.callbacks
                # Set for the whole walk: re-entrant calls (a callback adding callbacks
                # or unpausing us) leave the work to this loop, which sees appended
                # entries.
                current._runningCallbacks = True
                done = 0
                # Iterating the list itself also visits entries appended while it runs.
                for callback, args, kwargs, errback, errArgs, errKwargs in callbacks:
                    if current.paused:
                        # A callback paused us; carry on when unpaused.
                        finished = False
                        break
                    done += 1
                    result = current.result
                    if isinstance(result, Failure):
                        callback, args, kwargs = errback, errArgs, errKwargs
                    if callback is passthru:
                        continue
                    if callback is _CONTINUE:
                        # A continuation entry: ``args`` is the outer Deferred itself.
                        outer: Deferred[Any] = args
                        outer.result = result
                        current.result = None
                        if current._debugInfo is not None:
                            current._debugInfo.failResult = None
                        outer.paused -= 1
                        switchTo = outer
                        finished = False
                        break
                    try:
                        if args or kwargs:
                            result = callback(result, *args, **kwargs)
                        else:
                            result = callback(result)
                    except BaseException:
                        result = Failure(captureVars=current.debug)
                    resultType = type(result)
                    if resultType is CoroutineType:
                        result = Deferred.fromCoroutine(result)
                    elif resultType is not Deferred and not isinstance(result, Deferred):
                        current.result = result
                        continue
                    current.result = result
                    if result is current:
                        current.result = Failure(
                            TypeError(
                                f"a callback of the Deferred at 0x{id(current):x} "
                                "returned that same Deferred"
                            )
                        )
                        continue
                    if result.called and not result.paused and not result._runningCallbacks:
                        # Already fired: take its result over, without waiting.
                        current.result = result.result
                        result.result = None
                        if result._debugInfo is not None:
                            result._debugInfo.failResult = None
                    else:
                        current.paused += 1
                        current._chainedTo = result
                        result.callbacks.append(
                            (_CONTINUE, current, None, _CONTINUE, current, None)
                        )
                        if current._debugInfo is not None:
                            # A failure it ended with before is being handled now.
                            current._debugInfo.failResult = None
                        finished = False
                        break
                if done == len(callbacks):
                    callbacks.clear()
                else:
                    del callbacks[:done]
                current._runningCallbacks = False
                if finished:
                    result = current.result
                    if isinstance(result, Failure):
                        result.cleanFailure()
                        if current._debugInfo is None:
                            current._debugInfo = _DebugInfo()
                        current._debugInfo.failResult = result
                    elif current._debugInfo is not None:
                        current._debugInfo.failResult = None
                elif switchTo is not None and callbacks:
                    # Callbacks follow the hand-over: come back to them after the
                    # outer Deferred (and whatever it leads to) has run.
                    if waiting is None:
                        waiting = []
                    waiting.append(current)
            # A paused Deferred is left for its unpause() to resume.
            if switchTo is not None:
                current = switchTo
            elif waiting:
                current = waiting.pop()
            else:
                return

    # -- describing -----------------------------------------------------------------

    def __repr__(self) -> str:
        cname = type(self).__name__
        if self._chainedTo is not None:
            return f"<{cname} at 0x{id(self):x} waiting on Deferred at 0x{id(self._chainedTo):x}>"
        if self.called:
            return f"<{cname} at 0x{id(self):x} current result: {self.result!r}>"
        return f"<{cname} at 0x{id(self):x}>"

    __str__ = __repr__

    # -- coroutines and asyncio -------------------------------------------------------

    def __await__(self) -> Generator[Any, Any, _T]:
        """Make ``await d`` work in coroutines, under ``ensureDeferred`` or asyncio.

        An already-fired Deferred gives its result without yielding at all, so such an
        ``await`` is cheap and works under any event loop. Otherwise the Deferred
        itself is yielded to the driver, which sends its result back (or throws its
        exception in) when it fires. Under an asyncio Task, which cannot wait on a
        Deferred, the wait falls back to ``asFuture`` on the running loop
        automatically; calling ``d.asFuture(loop)`` yourself does the same without the
        extra round trip.
        """
        if self.called and not self.paused and not self._runningCallbacks:
            result = self.result
            self.result = None
            if isinstance(result, Failure):
                if self._debugInfo is not None:
                    self._debugInfo.failResult = None
                result.raiseException()
            value: _T = result
            return value
        try:
            sent: _T = yield self
            return sent
        except RuntimeError as e:
            # An asyncio Task refuses to wait on an object it does not know and throws
            # this back at the yield; wait through an asyncio Future instead.
            if not str(e).startswith("Task got bad yield"):
                raise
        from asyncio import get_running_loop

        return (yield from self.asFuture(get_running_loop()).__await__())

    __iter__ = __await__

    @classmethod
    def fromCoroutine(cls, coro: Coroutine[Any, Any, _U] | Generator[Any, Any, _U]) -> Deferred[_U]:
        """Run coroutine ``coro`` and return a Deferred for its result.

        The coroutine may ``await`` Deferreds. Cancelling the returned Deferred cancels
        the Deferred the coroutine is waiting on.

        Raises:
            NotACoroutineError: if ``coro`` is not a coroutine (or generator-based one).
        """
        if not isinstance(coro, (CoroutineType, GeneratorType)):
            raise NotACoroutineError(
                f"{coro!r} is not a coroutine; pass the result of calling an async "
                "function, such as ensureDeferred(main()) rather than ensureDeferred(main)"
            )
        return _drive(coro)

    @classmethod
    def fromFuture(cls, future: Future[_U]) -> Deferred[_U]:
        """Return a Deferred that fires with an asyncio Future's outcome.

        Cancelling the Deferred cancels the Future (the Deferred fails with
        ``CancelledError`` at once); a Future cancelled on the asyncio side makes the
        Deferred fail with asyncio's ``CancelledError``.
        """

        def cancelFuture(_: Deferred[_U]) -> None:
            future.cancel()

        d: Deferred[_U] = Deferred(cancelFuture)

        def adapt(done: Future[_U]) -> None:
            try:
                value: Any = done.result()
            except BaseException:
                value = Failure()
            if d.called:
                return
            if isinstance(value, Failure):
                d.errback(value)
            else:
                d.callback(value)

        future.add_done_callback(adapt)
        return d

    def asFuture(self, loop: AbstractEventLoop) -> Future[_T]:
        """Return an asyncio Future, on ``loop``, with this Deferred's outcome.

        This is how asyncio code awaits a Deferred: ``await d.asFuture(loop)``. A
        failure sets the Future's exception; cancelling the Future cancels this
        Deferred. This Deferred's result is None afterwards.
        """
        future: Future[_T] = loop.create_future()

        def checkCancel(done: Future[_T]) -> None:
            if done.cancelled():
                self.cancel()

        def succeeded(result: _T) -> None:
            if not future.done():
                future.set_result(result)

        def failed(failure: Failure) -> None:
            if not future.done():
                future.set_exception(failure.value)

        self.addCallbacks(succeeded, failed)
        future.add_done_callback(checkCancel)
        return future


class _DriverState:
    """What a running generator/coroutine driver is waiting on, for cancellation."""

    __slots__ = ("deferred", "waitingOn")

    def __init__(self) -> None:
        self.deferred: Deferred[Any] = Deferred(self.cancel)
        self.waitingOn: Deferred[Any] | None = None

    def cancel(self, d: Deferred[Any]) -> None:
        # The coroutine may catch the CancelledError and carry on to finish later;
        # that late result is then dropped rather than raising AlreadyCalledError.
        waitingOn = self.waitingOn
        if waitingOn is not None:
            waitingOn.cancel()
        if not d.called:
            d._suppressAlreadyCalled = True


_NOT_YET = object()


def _drive(gen: Any) -> Deferred[Any]:
    """Run generator or coroutine ``gen`` to completion, and return its Deferred."""
    state = _DriverState()
    _step(gen, None, state)
    return state.deferred


def _step(gen: Any, value: Any, state: _DriverState) -> None:
    """Advance ``gen`` until it waits on an unfired Deferred or finishes.

    A loop rather than recursion: a Deferred that has already fired is consumed on the
    spot and the generator resumed in the same iteration.
    """
    send = gen.send
    while True:
        try:
            if isinstance(value, Failure):
                yielded = value.throwExceptionIntoGenerator(gen)
            else:
                yielded = send(value)
        except StopIteration as stop:
            _finish(state, stop.value)
            return
        except _DefGen_Return as ret:
            _finish(state, ret.value)
            return
        except BaseException:
            failure = Failure()
            if not state.deferred.called:
                state.deferred.errback(failure)
            elif state.deferred._suppressAlreadyCalled:
                state.deferred._suppressAlreadyCalled = False
            return
        if type(yielded) is not Deferred and not isinstance(yielded, Deferred):
            value = yielded
            continue
        d: Deferred[Any] = yielded
        if d.called and not d.paused and not d._runningCallbacks and not d.callbacks:
            value = d.result
            d.result = None
            if d._debugInfo is not None:
                d._debugInfo.failResult = None
            continue
        pending: list[Any] = [_NOT_YET]

        def gotResult(result: Any, pending: list[Any] = pending) -> None:
            if pending[0] is _NOT_YET:
                # Fired while addBoth ran: hand the result to the loop below.
                pending[0] = result
            else:
                state.waitingOn = None
                _step(gen, result, state)

        d.addBoth(gotResult)
        if pending[0] is _NOT_YET:
            pending[0] = None
            state.waitingOn = d
            return
        value = pending[0]


def _finish(state: _DriverState, value: Any) -> None:
    d = state.deferred
    if d.called:
        d._suppressAlreadyCalled = False
        return
    if isinstance(value, Deferred):
        d.callback(None)
        d.addCallback(lambda _: value)
    else:
        d.callback(value)


class _DefGen_Return(BaseException):  # noqa: N801
    """Raised by ``returnValue`` to end an ``inlineCallbacks`` generator with a value."""

    def __init__(self, value: object) -> None:
        super().__init__(value)
        self.value = value
