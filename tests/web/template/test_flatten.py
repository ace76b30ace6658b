"""flatten and flattenString: the node kinds, Deferreds and coroutines anywhere, errors,
incremental writes, pausing, and trees too deep for recursion."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from tests.web.template._helpers import flat, flatFails
from torsion.internet.defer import CancelledError, Deferred, succeed
from torsion.internet.error import ConnectionLost
from torsion.internet.task import Clock
from torsion.python.failure import Failure
from torsion.web import _flatten
from torsion.web.error import FlattenerError, UnfilledSlot
from torsion.web.template import (
    CharRef,
    Comment,
    Element,
    Tag,
    TagLoader,
    flatten,
    flattenString,
    renderer,
    slot,
    tags,
)


def outcome(d: Deferred[Any]) -> list[Any]:
    box: list[Any] = []
    d.addBoth(box.append)
    return box


def test_sequencesAndNone() -> None:
    assert flat(["a", ("b", ["c", None]), (x for x in "de")]) == b"abcde"


def test_anyIterator() -> None:
    assert flat(tags.p(iter(["a", "b"]), map(str, range(3)))) == b"<p>ab012</p>"


def test_strSubclassIsPlainText() -> None:
    class Name(str):
        def __str__(self) -> str:
            return "<not this>"

    assert flat(tags.p(Name("a<b"))) == b"<p>a&lt;b</p>"


def test_firedDeferredIsTakenAtOnce() -> None:
    assert flat(tags.p(succeed("now"), succeed(tags.b("x")))) == b"<p>now<b>x</b></p>"


def test_deferredAnywhereWaitsForItsResult() -> None:
    later: Deferred[Any] = Deferred()
    attribute: Deferred[Any] = Deferred()
    result = outcome(flattenString(None, tags.div(tags.a(href=attribute)("x"), later, "end")))
    assert result == []
    attribute.callback("/a?b&c")
    assert result == []
    later.callback(["one", tags.i("two")])
    assert result == [b'<div><a href="/a?b&amp;c">x</a>one<i>two</i>end</div>']


def test_deferredResultIsStillThereForOthers() -> None:
    shared: Deferred[Any] = Deferred()
    first = outcome(flattenString(None, tags.p(shared)))
    second = outcome(flattenString(None, tags.b(shared)))
    shared.callback("value")
    assert first == [b"<p>value</p>"]
    assert second == [b"<b>value</b>"]
    assert outcome(shared) == ["value"]


def test_firedDeferredIsLeftAsItWas() -> None:
    fired = succeed(tags.b("cached"))
    assert flat([fired, tags.p(fired)]) == b"<b>cached</b><p><b>cached</b></p>"
    assert outcome(fired)[0].tagName == "b"


def test_coroutineAnywhere() -> None:
    gates: list[Deferred[str]] = [Deferred(), Deferred()]

    async def part(gate: Deferred[str]) -> Any:
        text = await gate
        return tags.em(text)

    result = outcome(flattenString(None, tags.p("a", part(gates[0]), "b", title=part(gates[1]))))
    assert result == []
    gates[1].callback("c")
    assert result == []
    gates[0].callback("c")
    assert result == [b'<p title="&lt;em&gt;c&lt;/em&gt;">a<em>c</em>b</p>']


def test_asyncRenderer() -> None:
    clock = Clock()

    class Slow(Element):
        loader = TagLoader(tags.ul(tags.li(render="item"), tags.li("last")))

        @renderer
        async def item(self, request: Any, tag: Tag) -> Any:
            d: Deferred[None] = Deferred()
            clock.callLater(1, d.callback, None)
            await d
            return tag("slow")

    result = outcome(flattenString(None, Slow()))
    assert result == []
    clock.advance(1)
    assert result == [b"<ul><li>slow</li><li>last</li></ul>"]


def test_writesGoOutBeforeAWait() -> None:
    written: list[bytes] = []
    gate: Deferred[str] = Deferred()
    done = outcome(flatten(None, tags.div("before", gate, "after"), written.append))
    assert written == [b"<div>before"]
    gate.callback("-")
    assert written == [b"<div>before", b"-after</div>"]
    assert done == [None]


def test_bigPagesAreWrittenInChunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_flatten, "BUFFER_SIZE", 1000)
    written: list[bytes] = []
    rows = (tags.p("x" * 100) for _ in range(100))
    assert outcome(flatten(None, rows, written.append)) == [None]
    assert b"".join(written) == (b"<p>" + b"x" * 100 + b"</p>") * 100
    assert len(written) > 5
    assert max(map(len, written)) < 1200


def test_flattenerPausesWhenTheConsumerAsks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_flatten, "BUFFER_SIZE", 100)
    made: list[int] = []

    def rows() -> Any:
        for n in range(50):
            made.append(n)
            yield tags.p("y" * 50)

    class Consumer:
        """A request-like target whose write asks the flattener to pause each time."""

        producer: Any = None

        def __init__(self) -> None:
            self.data: list[bytes] = []

        def registerProducer(self, producer: Any, streaming: bool) -> None:
            assert streaming
            self.producer = producer

        def unregisterProducer(self) -> None:
            self.producer = None

        def write(self, data: bytes) -> None:
            self.data.append(data)
            self.producer.pauseProducing()

    consumer = Consumer()
    done = outcome(flatten(consumer, rows(), consumer.write))
    assert done == []
    assert len(consumer.data) == 1
    generated = len(made)
    assert generated < 5, "the flattener went on after being paused"
    while not done:
        consumer.producer.resumeProducing()
    assert done == [None]
    assert consumer.producer is None, "the flattener did not unregister itself"
    assert b"".join(consumer.data) == b"<p>" + b"y" * 50 + (b"</p><p>" + b"y" * 50) * 49 + b"</p>"


def test_stopProducingFailsWithConnectionLost() -> None:
    gate: Deferred[str] = Deferred()

    class Consumer:
        producer: Any = None

        def registerProducer(self, producer: Any, streaming: bool) -> None:
            self.producer = producer

        def unregisterProducer(self) -> None:
            raise AssertionError("unregistered after the connection was lost")

        def write(self, data: bytes) -> None:
            pass

    consumer = Consumer()
    done = outcome(flatten(consumer, ["a", gate, "b"], consumer.write))
    consumer.producer.stopProducing()
    [failure] = done
    assert isinstance(failure, Failure) and failure.check(ConnectionLost)
    gate.callback("late")  # ignored: the flattening is over


def test_cancellingStopsTheFlattening() -> None:
    gate: Deferred[str] = Deferred()
    written: list[bytes] = []
    d = flatten(None, ["a", gate, "b"], written.append)
    d.addErrback(lambda f: f.trap(CancelledError))
    d.cancel()
    gate.callback("late")
    assert written == [b"a"]


def test_failingRendererGivesFlattenerErrorWithRoots() -> None:
    class Broken(Element):
        loader = TagLoader(tags.html(tags.body(tags.p(render="broken"))))

        @renderer
        def broken(self, request: Any, tag: Tag) -> Any:
            raise ZeroDivisionError("boom")

    element = Broken()
    error = flatFails(element)
    assert isinstance(error._exception, ZeroDivisionError)
    names = [getattr(root, "tagName", root) for root in error._roots]
    assert names[0] is element
    assert names[1:4] == ["html", "body", "p"]
    assert any(frame.name == "broken" for frame in error._traceback)  # type: ignore[attr-defined]
    assert "boom" in repr(error) and "Tag('body'" in repr(error)


def test_failingDeferredGivesFlattenerError() -> None:
    gate: Deferred[str] = Deferred()
    result = outcome(flattenString(None, tags.div(tags.span(gate))))
    gate.errback(Failure(KeyError("gone")))
    [failure] = result
    assert isinstance(failure.value, FlattenerError)
    assert isinstance(failure.value._exception, KeyError)
    assert [root.tagName for root in failure.value._roots] == ["div", "span"]
    assert outcome(gate) == [None], "the failure was left unhandled in the Deferred"


def test_failingGeneratorGivesFlattenerError() -> None:
    def rows() -> Any:
        yield "a"
        raise RuntimeError("generator broke")

    error = flatFails(tags.table(rows()))
    assert isinstance(error._exception, RuntimeError)


def test_unfilledSlotNamesTheSlot() -> None:
    error = flatFails(tags.p(slot("missing")))
    assert isinstance(error._exception, UnfilledSlot)
    assert "missing" in str(error._exception) and "fillSlots" in str(error._exception)


def test_nothingIsWrittenForAFailedChunk() -> None:
    written: list[bytes] = []
    result = outcome(flatten(None, ["fine", tags.p("\ud800")], written.append))
    assert written == []
    assert isinstance(result[0], Failure)


def test_deepTreesDoNotRecurse() -> None:
    depth = sys.getrecursionlimit() * 20
    tree: Any = "core"
    for _ in range(depth):
        tree = tags.div(tree)
    markup = flat(tree)
    assert markup == b"<div>" * depth + b"core" + b"</div>" * depth


def test_deepNestingOfListsAndElements() -> None:
    tree: Any = "x"
    for n in range(sys.getrecursionlimit() * 5):
        tree = [tree] if n % 2 else Element(TagLoader(tags.transparent(tree)))
    assert flat(tree) == b"x"


def test_writeGetsBytes() -> None:
    written: list[Any] = []
    outcome(flatten(None, tags.p("é"), written.append))
    assert written == ["<p>é</p>".encode()]
    assert all(type(chunk) is bytes for chunk in written)


def test_requestReachesRenderers() -> None:
    seen = []

    class Seeing(Element):
        loader = TagLoader(tags.p(render="r"))

        @renderer
        def r(self, request: Any, tag: Tag) -> Any:
            seen.append(request)
            return tag

        def render(self, request: Any) -> Any:
            seen.append(request)
            return super().render(request)

    marker = object()
    flat(Seeing(), marker)
    assert seen == [marker, marker]


def test_pagesOfMarkupAloneAreWrittenInChunksToo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_flatten, "BUFFER_SIZE", 1000)
    for node in (tags.br(), tags.span(), CharRef(160), Comment("c")):
        written: list[bytes] = []
        assert outcome(flatten(None, (node for _ in range(2000)), written.append)) == [None]
        assert len(written) > 10, node
        assert max(map(len, written)) < 3000, node


def test_failureDeepInADeepTreeIsReportedBriefly() -> None:
    tree: Any = tags.b(slot("missing"))
    for _ in range(sys.getrecursionlimit() * 10):
        tree = tags.div(tree)
    error = flatFails(tree)
    assert len(error._roots) > 10_000
    text = repr(error)
    assert "UnfilledSlot" in text and "more ..." in text
    assert len(text) < 5000
