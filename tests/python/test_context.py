"""Tests for torsion.python.context: call/get, in threads and asyncio tasks."""

import asyncio
import threading
from collections.abc import Iterator

import pytest

from torsion.python import context


def test_getWithoutContextGivesDefault() -> None:
    assert context.get("test-missing") is None
    assert context.get("test-missing", 5) == 5


def test_callMakesKeysVisibleDuringCall() -> None:
    assert context.call({"k": "v"}, context.get, "k") == "v"


def test_keysAreGoneAfterCall() -> None:
    context.call({"k": "v"}, lambda: None)
    assert context.get("k") is None


def test_keysAreGoneAfterCallRaises() -> None:
    def boom() -> None:
        raise ValueError("x")

    with pytest.raises(ValueError):
        context.call({"k": "v"}, boom)
    assert context.get("k") is None


def test_nestedCallsMergeAndInnerWins() -> None:
    def inner() -> tuple[object, object]:
        return context.get("a"), context.get("b")

    def outer() -> tuple[object, object]:
        return context.call({"b": 2, "a": "inner"}, inner)

    assert context.call({"a": 1}, outer) == ("inner", 2)


def test_callPassesArgumentsAndReturnsResult() -> None:
    assert context.call({}, lambda a, b: a + b, 1, b=2) == 3


@pytest.fixture
def defaultKey() -> Iterator[str]:
    key = "test-default-key"
    yield key
    context.defaultContextDict.pop(key, None)


def test_setDefaultIsSeenWhereNotOverridden(defaultKey: str) -> None:
    context.setDefault(defaultKey, "d")
    assert context.get(defaultKey) == "d"
    assert context.call({defaultKey: "c"}, context.get, defaultKey) == "c"


def test_otherThreadDoesNotSeeCallersContext() -> None:
    seen: list[object] = []

    def inThread() -> None:
        seen.append(context.get("k"))
        seen.append(context.call({"k": "thread"}, context.get, "k"))

    def run() -> None:
        thread = threading.Thread(target=inThread)
        thread.start()
        thread.join(10)

    context.call({"k": "main"}, run)
    assert seen == [None, "thread"]


def test_concurrentThreadsKeepTheirOwnContext() -> None:
    barrier = threading.Barrier(2, timeout=10)
    seen: dict[str, object] = {}

    def work(name: str) -> None:
        def inside() -> None:
            barrier.wait()
            seen[name] = context.get("who")

        context.call({"who": name}, inside)

    threads = [threading.Thread(target=work, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == {"a": "a", "b": "b"}


def test_asyncioTasksKeepTheirOwnContextAcrossAwaits() -> None:
    async def reader(gate: asyncio.Event) -> object:
        await gate.wait()
        return context.get("who")

    async def main() -> list[object]:
        gate = asyncio.Event()
        tasks = [
            context.call({"who": name}, asyncio.ensure_future, reader(gate)) for name in ("a", "b")
        ]
        await asyncio.sleep(0)
        gate.set()
        return list(await asyncio.wait_for(asyncio.gather(*tasks), 10))

    assert asyncio.run(main()) == ["a", "b"]


def test_taskCreatedInsideCallInheritsContext() -> None:
    async def reader() -> object:
        await asyncio.sleep(0)
        return context.get("who")

    async def main() -> object:
        task = context.call({"who": "creator"}, asyncio.ensure_future, reader())
        assert context.get("who") is None
        return await asyncio.wait_for(task, 10)

    assert asyncio.run(main()) == "creator"


def test_callLazilyMakesTheContextOnlyWhenLookedAt() -> None:
    made: list[object] = []

    def factory(outer: object, argument: object) -> dict[object, object]:
        made.append(argument)
        return {"who": argument}

    assert context.callLazily(factory, "first", lambda: "untouched") == "untouched"
    assert made == []
    assert context.callLazily(factory, "second", context.get, "who") == "second"
    assert made == ["second"]


def test_lazyContextSeesTheOuterOneAndNestedCallsSeeBoth() -> None:
    def factory(outer: object, argument: object) -> dict[object, object]:
        merged = dict(context.resolve(outer) or {})  # type: ignore[arg-type]
        merged["lazy"] = argument
        return merged

    def inside() -> tuple[object, object, object]:
        return context.call(
            {"inner": 3}, lambda: (context.get("outer"), context.get("lazy"), context.get("inner"))
        )

    result = context.call({"outer": 1}, context.callLazily, factory, 2, inside)
    assert result == (1, 2, 3)
    assert context.get("lazy") is None


def layerFactory(outer: object, argument: object) -> dict[object, object]:
    merged = dict(context.resolve(outer) or {})  # type: ignore[arg-type]
    merged["layer"] = argument
    return merged


def enter(argument: object) -> None:
    layer = context.threadLayer()
    layer.factory, layer.outer, layer.argument = layerFactory, context.currentVariable(), argument


def leave() -> None:
    context.threadLayer().factory = None


def test_threadLayerIsInnermostUntilCodeEntersItsOwnContext() -> None:
    enter("L")
    try:
        assert context.get("layer") == "L"
        inner = context.call({"mine": 1}, lambda: (context.get("layer"), context.get("mine")))
        assert inner == ("L", 1)
        assert context.get("layer") == "L"
        assert context.get("mine") is None
    finally:
        leave()
    assert context.get("layer") is None


def test_threadLayerIsNotSeenByOtherThreads() -> None:
    import threading

    seen: list[object] = []
    enter("L")
    try:
        worker = threading.Thread(target=lambda: seen.append(context.get("layer", "none")))
        worker.start()
        worker.join(5)
    finally:
        leave()
    assert seen == ["none"]


def test_threadLayerEnteredInsideAContextSeesIt() -> None:
    def enterLayer() -> tuple[object, object]:
        enter("L")
        try:
            return context.get("outer"), context.get("layer")
        finally:
            leave()

    assert context.call({"outer": "O"}, enterLayer) == ("O", "L")
