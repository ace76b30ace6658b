"""torsion.web.live's server side in memory: LivePage renders elements and serves the
client, pages call @expose methods and are called back, connections drop and resume,
limits hold, and pageTimeout discards abandoned elements (all on a task.Clock)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.live._livehelpers import MemoryLiveSite, decoded
from torsion.internet import defer
from torsion.internet.defer import Deferred
from torsion.python.failure import Failure
from torsion.web._livewire import encodeHello
from torsion.web.live import (
    LiveElement,
    LiveLimitError,
    LivePage,
    LiveQueueFull,
    PageGone,
    RemoteError,
    expose,
    liveJS,
)
from torsion.web.template import XMLString, tags

TEMPLATE = XMLString(
    """<html xmlns:t="http://twistedmatrix.com/ns/twisted.web.template/0.1">
<head><title>t</title><t:transparent t:render="liveglue"/></head>
<body><p>hello</p></body></html>"""
)


class Counter(LiveElement):
    loader = TEMPLATE

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.later: Deferred[Any] | None = None
        self.events: list[str] = []

    @expose
    def add(self, amount: int) -> int:
        self.count += amount
        return self.count

    @expose
    async def slowly(self, value: Any) -> Any:
        self.later = Deferred()
        await self.later
        return value

    @expose
    def deferred(self) -> Deferred[str]:
        return defer.succeed("from a Deferred")

    @expose
    def boom(self) -> None:
        raise ValueError("bad amount <b>")

    @expose
    def unsendable(self) -> object:
        return object()

    @expose
    def _private(self) -> str:
        return "never"

    def notExposed(self) -> str:
        return "never"

    def attached(self) -> None:
        self.events.append("attached")

    def detached(self) -> None:
        self.events.append("detached")


@pytest.fixture
def site() -> MemoryLiveSite:
    return MemoryLiveSite(Counter)


def only(site: MemoryLiveSite) -> Counter:
    [element] = site.page.elements
    assert isinstance(element, Counter)
    return element


# -- rendering and the client script -------------------------------------------------


def test_pageLoadRendersANewElementWithTheClientScriptInTheHead(site: MemoryLiveSite) -> None:
    first = site.load()
    second = site.load()
    assert first.element != second.element
    assert len(first.element) >= 32
    assert {e.liveID for e in site.page.elements} == {first.element, second.element}
    body = first.response.body
    assert body.startswith(b"<!DOCTYPE html>")
    head = body[: body.index(b"</head>")]
    assert b"<script " in head
    assert first.script["data-endpoint"] == "/page/_live"
    assert re.fullmatch(r"/page/_live\.js\?v=[0-9a-f]{12}", first.script["src"])
    assert first.script["data-max-message-size"] == str(1024 * 1024)
    assert first.script["data-max-calls-in-flight"] == "32"
    assert first.response.header(b"cache-control") == b"no-store"
    assert body.count(b"<script") == 1


def test_clientScriptIsServed(site: MemoryLiveSite) -> None:
    response = site.get(b"/page/_live.js?v=1")
    assert response.code == 200
    assert response.body == liveJS()
    assert response.header(b"content-type") == b"text/javascript; charset=utf-8"
    assert b"LiveClient" in response.body


def test_withoutLiveglueTheScriptFollowsTheElement() -> None:
    class Bare(LiveElement):
        loader = XMLString("<div>bare</div>")

    site = MemoryLiveSite(Bare)
    body = site.load().response.body
    assert re.fullmatch(rb"<!DOCTYPE html>\n<div>bare</div><script [^>]*></script>", body)


def test_pageWithoutTrailingSlashAndAtTheRoot() -> None:
    site = MemoryLiveSite(Counter)
    response = site.get(b"/page")
    assert b'data-endpoint="/page/_live"' in response.body
    page = LivePage(Counter, clock=site.clock)
    from tests.web.webtesting import MemorySite

    memory = MemorySite(page)
    response2 = memory.get(b"/")
    assert b'data-endpoint="/_live"' in response2.body
    assert b'src="/_live.js?v=' in response2.body


def test_otherChildrenAreNotFound(site: MemoryLiveSite) -> None:
    assert site.get(b"/page/nothing").code == 404


def test_factoryThatIsNotCallableOrMakesNoLiveElement() -> None:
    with pytest.raises(TypeError, match="needs a factory of LiveElements"):
        LivePage(Counter())  # type: ignore[arg-type]
    site = MemoryLiveSite(lambda: "not an element")  # type: ignore[arg-type, return-value]
    site.site.displayTracebacks = False
    assert site.get(b"/page/").code == 500


def test_factoryGivingTheSameElementTwiceIsAnError(logged: list[Any]) -> None:
    shared = Counter()
    site = MemoryLiveSite(lambda: shared)
    site.site.displayTracebacks = False
    assert site.get(b"/page/").code == 200
    assert site.get(b"/page/").code == 500
    assert any(
        "each page load needs a new element" in e["log_failure"].getErrorMessage()
        for e in logged
        if "log_failure" in e
    )


def test_badLimitsAreRefusedAtOnce() -> None:
    with pytest.raises(ValueError, match="maxCallsInFlight"):
        LivePage(Counter, maxCallsInFlight=0)


def test_tooManyElementsIsA503(site: MemoryLiveSite) -> None:
    small = MemoryLiveSite(Counter, maxElements=2)
    small.load()
    small.load()
    response = small.get(b"/page/")
    assert response.code == 503
    assert b"Too many live pages" in response.body


# -- calls from the page ----------------------------------------------------------------


def test_pageCallsAnExposedMethod(site: MemoryLiveSite) -> None:
    browser = site.load()
    browser.connect()
    first = browser.call("add", 2)
    second = browser.call("add", 3)
    assert browser.answer(first) == 2
    assert browser.answer(second) == 5
    assert only(site).count == 5


def test_coroutineAndDeferredResults(site: MemoryLiveSite) -> None:
    browser = site.load()
    browser.connect()
    callID = browser.call("slowly", {"x": [1, 2]})
    assert callID not in browser.answers
    element = only(site)
    assert element.later is not None
    element.later.callback(None)
    browser.pump()
    assert browser.answer(callID) == {"x": [1, 2]}
    assert browser.answer(browser.call("deferred")) == "from a Deferred"


def test_exceptionRejectsWithTypeAndMessageAndLogsTheTraceback(
    site: MemoryLiveSite, logged: list[Any]
) -> None:
    browser = site.load()
    browser.connect()
    assert browser.answer(browser.call("boom")) == ("error", "ValueError", "bad amount <b>")
    failures = [e for e in logged if "log_failure" in e]
    assert len(failures) == 1
    assert failures[0]["log_failure"].type is ValueError
    assert (
        "boom" in failures[0]["log_format"].format(**failures[0]) or failures[0]["name"] == "boom"
    )


def test_onlyExposedMethodsCanBeCalled(site: MemoryLiveSite) -> None:
    browser = site.load()
    browser.connect()
    for name in ("notExposed", "_private", "render", "callRemote", "__init__", "missing"):
        answer = browser.answer(browser.call(name))
        assert answer[:2] == ("error", "AttributeError"), name
        assert f"has no @expose method '{name}'" in answer[2]


def test_wrongArgumentsAreAnError(site: MemoryLiveSite, logged: list[Any]) -> None:
    browser = site.load()
    browser.connect()
    answer = browser.answer(browser.call("add", 1, 2, 3))
    assert answer[:2] == ("error", "TypeError")


def test_resultThatIsNotJSONIsAnErrorInThePage(site: MemoryLiveSite, logged: list[Any]) -> None:
    browser = site.load()
    browser.connect()
    answer = browser.answer(browser.call("unsendable"))
    assert answer[:2] == ("error", "TypeError")
    assert "JSON" in answer[2]
    assert any("cannot be sent" in e.get("log_format", "") for e in logged)


def test_rateLimitRejectsCallsBeyondTheBurst() -> None:
    site = MemoryLiveSite(Counter, maxCallsPerSecond=5)
    browser = site.load()
    browser.connect()
    answers = [browser.answer(browser.call("add", 1)) for _ in range(12)]
    assert answers[:10] == list(range(1, 11))
    assert answers[10][:2] == ("error", "LiveRateLimit")
    site.clock.advance(1)
    assert browser.answer(browser.call("add", 1)) == 11


# -- calls from the server ------------------------------------------------------------


def test_callRemoteReachesThePageAndGetsItsResult(site: MemoryLiveSite) -> None:
    browser = site.load()
    browser.connect()
    element = only(site)
    results: list[Any] = []
    element.callRemote("show", "hi", 1).addBoth(results.append)
    browser.pump()
    [call] = browser.calls
    assert (call.name, call.args) == ("show", ["hi", 1])
    browser.channel.answer(call.callID, "shown")
    browser.flush()
    assert results == ["shown"]


def test_pageErrorFailsTheDeferredWithRemoteError(site: MemoryLiveSite) -> None:
    browser = site.load()
    browser.connect()
    results: list[Any] = []
    only(site).callRemote("show").addBoth(results.append)
    browser.pump()
    browser.channel.fail(browser.calls[0].callID, "TypeError", "x is undefined")
    browser.flush()
    [failure] = results
    assert isinstance(failure, Failure)
    assert isinstance(failure.value, RemoteError)
    assert (failure.value.errorType, failure.value.message) == ("TypeError", "x is undefined")


def test_callRemoteBeforeTheFirstConnectionWaits(site: MemoryLiveSite) -> None:
    browser = site.load()
    results: list[Any] = []
    only(site).callRemote("early").addBoth(results.append)
    browser.connect()
    assert [c.name for c in browser.calls] == ["early"]


def test_callRemoteErrors(site: MemoryLiveSite) -> None:
    with pytest.raises(RuntimeError, match="needs a page"):
        Counter().callRemote("x")
    site.load()
    element = only(site)
    with pytest.raises(ValueError, match="1 to 128 characters"):
        element.callRemote("")
    failures: list[Any] = []
    element.callRemote("x", object()).addErrback(failures.append)
    element.callRemote("x", "y" * (2 * 1024 * 1024)).addErrback(failures.append)
    assert [f.type for f in failures] == [TypeError, LiveLimitError]


def test_cancelledCallRemoteIgnoresItsLateAnswer(site: MemoryLiveSite) -> None:
    browser = site.load()
    browser.connect()
    d = only(site).callRemote("show")
    d.addErrback(lambda f: None)
    d.cancel()
    browser.pump()
    browser.channel.answer(browser.calls[0].callID, 1)
    browser.flush()
    assert only(site).isConnected


def test_queueFullWhenThePageDoesNotAcknowledge() -> None:
    site = MemoryLiveSite(Counter, maxQueuedBytes=10_000)
    site.load()
    element = only(site)
    failures: list[Any] = []
    for _ in range(100):
        element.callRemote("show", "x" * 500).addErrback(failures.append)
    assert failures
    assert failures[0].type is LiveQueueFull


# -- connections, drops and resumption ------------------------------------------------


def test_attachedOnceAndIsConnected(site: MemoryLiveSite) -> None:
    browser = site.load()
    element = only(site)
    assert not element.isConnected
    browser.connect()
    assert element.isConnected
    browser.drop()
    assert not element.isConnected
    browser.connect()
    assert element.events == ["attached"]


def test_droppedConnectionResumesTheSameElementAndDeliversQueuedMessagesOnce(
    site: MemoryLiveSite,
) -> None:
    browser = site.load()
    browser.connect()
    element = only(site)
    results: list[Any] = []
    element.callRemote("show", 1).addBoth(results.append)
    browser.pump()
    # The page's call goes out, but the connection drops before its answer arrives.
    callID = browser.channel.call("add", [10])
    browser.flush()
    assert element.count == 10
    browser.drop()
    element.callRemote("show", 2).addBoth(results.append)
    element.callRemote("show", 3).addBoth(results.append)
    browser.connect()
    # The page's call was not run twice; its answer came after the reconnection.
    assert element.count == 10
    assert browser.answer(callID) == 10
    assert [c.args for c in browser.calls] == [[1], [2], [3]]
    for call in browser.calls:
        browser.channel.answer(call.callID, call.args[0] * 10)
    browser.flush()
    assert results == [10, 20, 30]


def test_answerLostInTheDropIsReplayed(site: MemoryLiveSite) -> None:
    browser = site.load()
    browser.connect()
    callID = browser.channel.call("add", [5])
    browser.flush()
    # The server answered, but the page never read it: the connection dropped.
    browser.transport.clear()  # type: ignore[union-attr]
    browser.drop()
    browser.connect()
    assert browser.answer(callID) == 5
    assert only(site).count == 5


def test_newConnectionReplacesTheOldOne(site: MemoryLiveSite) -> None:
    browser = site.load()
    browser.connect()
    oldTransport = browser.transport
    oldCodec = browser.codec
    browser.channel.detach()
    browser.connect()
    closes = [e for e in oldCodec.receive(oldTransport.value()) if hasattr(e, "code")]  # type: ignore[union-attr]
    assert [c.code for c in closes] == [4409]
    assert only(site).isConnected
    assert browser.answer(browser.call("add", 1)) == 1


def test_reconnectionWithinPageTimeoutKeepsTheElement(site: MemoryLiveSite) -> None:
    browser = site.load()
    browser.connect()
    browser.drop()
    site.clock.advance(Counter.pageTimeout - 1)
    browser.connect()
    site.clock.advance(Counter.pageTimeout * 10)
    assert site.page.elements == [only(site)]
    assert only(site).events == ["attached"]


def test_pageTimeoutDiscardsAnAbandonedElement(site: MemoryLiveSite) -> None:
    browser = site.load()
    browser.connect()
    element = only(site)
    results: list[Any] = []
    element.callRemote("show").addBoth(results.append)
    browser.drop()
    site.clock.advance(Counter.pageTimeout)
    assert site.page.elements == []
    assert element.events == ["attached", "detached"]
    assert isinstance(results[0].value, PageGone)
    later: list[Any] = []
    element.callRemote("again").addErrback(later.append)
    assert later[0].type is PageGone
    # The page comes back too late: it is told to reload.
    assert browser.upgrade().code == 101
    browser.sendRaw(encodeHello(browser.element, 1))
    assert browser.messages() == []
    assert browser.closed is not None
    assert browser.closed.code == 4404
    assert "reload" in browser.closed.reason


def test_elementWhosePageNeverConnectsIsDiscarded(site: MemoryLiveSite) -> None:
    site.load()
    element = only(site)
    site.clock.advance(Counter.pageTimeout - 0.5)
    assert site.page.elements == [element]
    site.clock.advance(0.5)
    assert site.page.elements == []
    assert element.events == ["detached"]


def test_discardCancelsRunningCalls(site: MemoryLiveSite) -> None:
    browser = site.load()
    browser.connect()
    browser.call("slowly", 1)
    element = only(site)
    assert element.later is not None
    browser.drop()
    site.clock.advance(Counter.pageTimeout)
    assert element.later.called  # cancelled with the coroutine waiting on it


def test_elementTimeoutIsPerClass() -> None:
    class Quick(Counter):
        pageTimeout = 2.0

    site = MemoryLiveSite(Quick)
    site.load()
    site.clock.advance(2)
    assert site.page.elements == []


def test_failingHooksAreLogged(logged: list[Any]) -> None:
    class Broken(Counter):
        def attached(self) -> None:
            raise RuntimeError("attach")

        def detached(self) -> None:
            raise RuntimeError("detach")

    site = MemoryLiveSite(Broken)
    browser = site.load()
    browser.connect()
    browser.drop()
    site.clock.advance(1000)
    messages = [e["log_failure"].getErrorMessage() for e in logged if "log_failure" in e]
    assert messages == ["attach", "detach"]


# -- protocol errors --------------------------------------------------------------------


def closedWith(browser: Any) -> tuple[int, str]:
    browser.messages()
    assert browser.closed is not None
    return browser.closed.code, browser.closed.reason


def test_unknownElementIsGone(site: MemoryLiveSite) -> None:
    browser = site.load()
    browser.element = "nope"
    browser.upgrade()
    browser.sendRaw('{"type": "hello", "v": 1, "element": "nope", "ack": 0}')
    assert closedWith(browser)[0] == 4404


@pytest.mark.parametrize(
    "message",
    [b"binary", "not json", '{"type": "welcome", "ack": 0}', '{"type": "hello", "v": 9}'],
)
def test_badHelloIsAProtocolError(site: MemoryLiveSite, message: str | bytes) -> None:
    browser = site.load()
    browser.upgrade()
    browser.sendRaw(message)
    code, reason = closedWith(browser)
    assert code == 4400
    assert reason
    assert site.page.elements  # nobody was named: the element stays


def test_malformedMessageEndsTheConversation(site: MemoryLiveSite, logged: list[Any]) -> None:
    browser = site.load()
    browser.connect()
    browser.sendRaw('{"type": "call", "seq": 7, "ack": 0, "name": "add", "args": [1]}')
    code, reason = closedWith(browser)
    assert code == 4400
    assert "message 7 arrived after message 0" in reason
    assert site.page.elements == []
    assert any("broke the protocol" in e.get("log_format", "") for e in logged)


def test_tooManyCallsInFlightIsAProtocolError() -> None:
    site = MemoryLiveSite(Counter, maxCallsInFlight=2)
    browser = site.load(maxCallsInFlight=2)
    browser.connect()
    for _ in range(3):
        browser.channel.call("slowly", [1])
    browser.flush()
    assert closedWith(browser)[0] == 4400


def test_oversizedMessageIsAProtocolError() -> None:
    site = MemoryLiveSite(Counter, maxMessageSize=1000)
    browser = site.load()
    browser.connect()
    browser.sendRaw('{"type": "ack", "ack": 0, "pad": "' + "x" * 1000 + '"}')
    code, reason = closedWith(browser)
    assert (code, "over the limit of 1000" in reason) == (4400, True)


def test_closeReasonIsCutToFitTheFrame(site: MemoryLiveSite) -> None:
    browser = site.load()
    browser.connect()
    browser.sendRaw('{"type": "' + "é" * 300 + '"}')
    code, reason = closedWith(browser)
    assert code == 4400
    assert len(reason.encode()) <= 123


def test_withoutTheSubprotocolTheSocketIsRefused(site: MemoryLiveSite) -> None:
    browser = site.load()
    assert browser.upgrade(subprotocol=None).code == 101
    assert closedWith(browser)[0] == 4400
    assert "torsion-live.1" in browser.closed.reason  # type: ignore[union-attr]


def test_socketThatNeverSaysHelloIsClosed(site: MemoryLiveSite) -> None:
    browser = site.load()
    browser.upgrade()
    site.clock.advance(9)
    assert browser.messages() == [] and browser.closed is None
    site.clock.advance(1)
    assert closedWith(browser) == (4400, "no hello came")


def test_acknowledgementsAreSentWhenThereIsNoAnswerToCarryThem(site: MemoryLiveSite) -> None:
    browser = site.load()
    browser.connect()
    browser.channel.call("slowly", [1])
    browser.flush()
    assert decoded(browser.messages()) == [{"type": "ack", "ack": 1}]


def test_tagsIsUsable() -> None:
    # The glue is a template tag like any other.
    assert tags.script(src="x").tagName == "script"


def test_liveglueTwiceGivesOneScript() -> None:
    class Twice(LiveElement):
        loader = XMLString(
            '<div xmlns:t="http://twistedmatrix.com/ns/twisted.web.template/0.1">'
            '<t:transparent t:render="liveglue"/><p t:render="liveglue"/></div>'
        )

    body = MemoryLiveSite(Twice).load().response.body
    assert body.count(b"<script") == 1
