"""Tests for inlineCallbacks, ensureDeferred, await and asyncio interop (torsion.internet.defer)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Generator
from typing import Any

import pytest

from torsion.internet.defer import (
    CancelledError,
    Deferred,
    NotACoroutineError,
    ensureDeferred,
    fail,
    inlineCallbacks,
    maybeDeferred,
    returnValue,
    succeed,
)
from torsion.python.failure import Failure


def results(d: Deferred[Any]) -> list[Any]:
    got: list[Any] = []
    d.addBoth(got.append)
    return got


def test_inlineCallbacksPlainReturnGivesResult() -> None:
    @inlineCallbacks
    def f() -> Generator[Any, Any, int]:
        x = yield succeed(1)
        return x + 1

    assert results(f()) == [2]


def test_inlineCallbacksReturnValueStillWorks() -> None:
    @inlineCallbacks
    def f() -> Generator[Any, Any, None]:
        yield succeed(1)
        returnValue("old style")

    assert results(f()) == ["old style"]


def test_inlineCallbacksWaitsForUnfiredDeferred() -> None:
    d: Deferred[str] = Deferred()

    @inlineCallbacks
    def f() -> Generator[Any, Any, str]:
        x = yield d
        return x * 2

    got = results(f())
    assert got == []
    d.callback("ab")
    assert got == ["abab"]


def test_inlineCallbacksYieldingNonDeferredGetsItBack() -> None:
    @inlineCallbacks
    def f() -> Generator[Any, Any, Any]:
        x = yield 5
        return x

    assert results(f()) == [5]


def test_inlineCallbacksFailureIsRaisedInsideGenerator() -> None:
    @inlineCallbacks
    def f() -> Generator[Any, Any, str]:
        try:
            yield fail(ValueError("bad"))
        except ValueError as e:
            return f"caught {e}"
        return "not reached"

    assert results(f()) == ["caught bad"]


def test_inlineCallbacksUnhandledExceptionErrbacks() -> None:
    @inlineCallbacks
    def f() -> Generator[Any, Any, None]:
        yield succeed(1)
        raise KeyError("k")

    assert results(f())[0].check(KeyError)


def test_inlineCallbacksOnNonGeneratorRaisesTypeError() -> None:
    @inlineCallbacks
    def f() -> Any:
        return 1

    with pytest.raises(TypeError, match="generator"):
        f()


def test_inlineCallbacksManyFiredYieldsDoNotGrowStack() -> None:
    depths = []

    @inlineCallbacks
    def f() -> Generator[Any, Any, int]:
        total = 0
        for i in range(5000):
            total += yield succeed(i)
            if i % 1000 == 0:
                depths.append(len(_stackDepth()))
        return total

    assert results(f()) == [sum(range(5000))]
    assert len(set(depths)) == 1


def test_inlineCallbacksManyLaterFiredYieldsDoNotGrowStack() -> None:
    ds: list[Deferred[int]] = [Deferred() for _ in range(3000)]

    @inlineCallbacks
    def f() -> Generator[Any, Any, int]:
        total = 0
        for d in ds:
            total += yield d
        return total

    got = results(f())
    for d in ds:
        d.callback(1)
    assert got == [3000]


def _stackDepth() -> list[Any]:
    frame = sys._getframe()
    frames = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back  # type: ignore[assignment]
    return frames


def test_cancellingInlineCallbacksCancelsAwaitedDeferred() -> None:
    waited: Deferred[int] = Deferred()

    @inlineCallbacks
    def f() -> Generator[Any, Any, int]:
        x = yield waited
        return x

    d = f()
    d.cancel()
    assert waited.called
    assert results(d)[0].check(CancelledError)


def test_inlineCallbacksCatchingCancelCanReturnValue() -> None:
    waited: Deferred[int] = Deferred()

    @inlineCallbacks
    def f() -> Generator[Any, Any, str]:
        try:
            yield waited
        except CancelledError:
            return "cleaned up"
        return "no"

    d = f()
    d.cancel()
    assert results(d) == ["cleaned up"]


def test_inlineCallbacksThatOutlivesCancelDropsLateResult() -> None:
    waited: Deferred[int] = Deferred()
    later: Deferred[int] = Deferred()

    @inlineCallbacks
    def f() -> Generator[Any, Any, str]:
        try:
            yield waited
        except CancelledError:
            yield later
        return "late"

    d = f()
    d.cancel()
    got = results(d)
    assert got[0].check(CancelledError)
    later.callback(1)  # must not raise AlreadyCalledError
    assert len(got) == 1


def test_ensureDeferredRunsCoroutine() -> None:
    d: Deferred[int] = Deferred()

    async def main() -> int:
        return (await d) + 1

    result = ensureDeferred(main())
    got = results(result)
    d.callback(1)
    assert got == [2]


def test_awaitFailedDeferredRaises() -> None:
    async def main() -> str:
        try:
            await fail(ValueError("v"))
        except ValueError:
            return "caught"
        return "no"

    assert results(ensureDeferred(main())) == ["caught"]


def test_awaitLaterFailedDeferredRaises() -> None:
    d: Deferred[int] = Deferred()

    async def main() -> str:
        try:
            await d
        except ValueError:
            return "caught"
        return "no"

    got = results(ensureDeferred(main()))
    d.errback(ValueError())
    assert got == ["caught"]


def test_awaitedFailureIsNotLoggedAsUnhandled() -> None:
    d: Deferred[int] = fail(ValueError())

    async def main() -> None:
        try:
            await d
        except ValueError:
            pass

    ensureDeferred(main())
    assert d._debugInfo is None or d._debugInfo.failResult is None


def test_ensureDeferredPassesDeferredThrough() -> None:
    d: Deferred[int] = Deferred()
    assert ensureDeferred(d) is d


def test_ensureDeferredRejectsNonCoroutine() -> None:
    with pytest.raises(NotACoroutineError):
        ensureDeferred(lambda: None)  # type: ignore[arg-type]


def test_fromCoroutineRunsCoroutine() -> None:
    async def main() -> str:
        return "hi"

    assert results(Deferred.fromCoroutine(main())) == ["hi"]


def test_coroutineExceptionErrbacks() -> None:
    async def main() -> None:
        raise RuntimeError("x")

    assert results(ensureDeferred(main()))[0].check(RuntimeError)


def test_cancellingCoroutineDeferredCancelsAwaited() -> None:
    waited: Deferred[int] = Deferred()

    async def main() -> int:
        return await waited

    d = ensureDeferred(main())
    d.cancel()
    assert waited.called
    assert results(d)[0].check(CancelledError)


def test_coroutineAwaitingManyFiredDeferreds() -> None:
    async def main() -> int:
        total = 0
        for i in range(10_000):
            total += await succeed(i)
        return total

    assert results(ensureDeferred(main())) == [sum(range(10_000))]


def test_maybeDeferredRunsCoroutineFunction() -> None:
    async def main(x: int) -> int:
        return x * 3

    assert results(maybeDeferred(main, 2)) == [6]


def test_awaitFiredDeferredInsideAsyncio() -> None:
    async def main() -> int:
        return await succeed(4)

    assert asyncio.run(asyncio.wait_for(main(), 5)) == 4


def test_asFutureDeliversResultToAsyncio() -> None:
    async def main() -> int:
        loop = asyncio.get_running_loop()
        d: Deferred[int] = Deferred()
        loop.call_soon(d.callback, 9)
        return await d.asFuture(loop)

    assert asyncio.run(asyncio.wait_for(main(), 5)) == 9


def test_asFutureDeliversFailureToAsyncio() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        d: Deferred[int] = Deferred()
        loop.call_soon(d.errback, KeyError("k"))
        await d.asFuture(loop)

    with pytest.raises(KeyError):
        asyncio.run(asyncio.wait_for(main(), 5))


def test_cancellingFutureCancelsDeferred() -> None:
    cancelled = []
    d: Deferred[int] = Deferred(cancelled.append)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        future = d.asFuture(loop)
        future.cancel()
        await asyncio.sleep(0)

    asyncio.run(asyncio.wait_for(main(), 5))
    assert cancelled == [d]
    # The CancelledError went to the (already cancelled) Future, which consumed it.
    assert d.called
    assert results(d) == [None]


def test_fromFutureGivesFutureResult() -> None:
    loop = asyncio.new_event_loop()
    try:
        future: asyncio.Future[int] = loop.create_future()
        d = Deferred.fromFuture(future)
        got = results(d)
        future.set_result(3)
        loop.run_until_complete(asyncio.wait_for(asyncio.sleep(0), 5))
        assert got == [3]
    finally:
        loop.close()


def test_fromFutureGivesFutureException() -> None:
    loop = asyncio.new_event_loop()
    try:
        future: asyncio.Future[int] = loop.create_future()
        d = Deferred.fromFuture(future)
        got = results(d)
        future.set_exception(ValueError("v"))
        loop.run_until_complete(asyncio.wait_for(asyncio.sleep(0), 5))
        assert isinstance(got[0], Failure) and got[0].check(ValueError)
    finally:
        loop.close()


def test_cancellingFromFutureDeferredCancelsFuture() -> None:
    loop = asyncio.new_event_loop()
    try:
        future: asyncio.Future[int] = loop.create_future()
        d = Deferred.fromFuture(future)
        d.cancel()
        assert future.cancelled()
        loop.run_until_complete(asyncio.wait_for(asyncio.sleep(0), 5))
        got = results(d)
        assert len(got) == 1 and got[0].check(CancelledError)
    finally:
        loop.close()


def test_futureCancelledOnAsyncioSideFailsDeferred() -> None:
    loop = asyncio.new_event_loop()
    try:
        future: asyncio.Future[int] = loop.create_future()
        d = Deferred.fromFuture(future)
        future.cancel()
        loop.run_until_complete(asyncio.wait_for(asyncio.sleep(0), 5))
        assert results(d)[0].check(asyncio.CancelledError)
    finally:
        loop.close()


def test_awaitUnfiredDeferredInsideAsyncioTask() -> None:
    async def main() -> int:
        loop = asyncio.get_running_loop()
        d: Deferred[int] = Deferred()
        loop.call_soon(d.callback, 8)
        return await d

    assert asyncio.run(asyncio.wait_for(main(), 5)) == 8


def test_awaitUnfiredFailingDeferredInsideAsyncioTaskRaises() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        d: Deferred[int] = Deferred()
        loop.call_soon(d.errback, KeyError("k"))
        await d

    with pytest.raises(KeyError):
        asyncio.run(asyncio.wait_for(main(), 5))


def test_cancellingAsyncioTaskAwaitingDeferredCancelsIt() -> None:
    d: Deferred[int] = Deferred()

    async def waiter() -> int:
        return await d

    async def main() -> None:
        task = asyncio.ensure_future(waiter())
        for _ in range(3):
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(main(), 5))
    assert d.called


def test_otherRuntimeErrorThrownIntoAwaitPropagates() -> None:
    d: Deferred[int] = Deferred()

    async def main() -> str:
        try:
            await d
        except RuntimeError as e:
            return str(e)
        return "no"

    got = results(ensureDeferred(main()))
    d.errback(RuntimeError("plain"))
    assert got == ["plain"]
