"""Live pages in a real browser: headless Chromium, driven over the DevTools protocol
(tests/web/live/_chromium.py), against a Site on 127.0.0.1.

The server pushes an update and the page shows it; a call from the page reaches the
server; a dropped connection is resumed by the page (same element, no reload) with the
messages queued meanwhile delivered once; and the two examples (a chat room seen by
two pages, a clock) work. Skipped, saying so, where Chromium is not installed.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.internet.reactormixins import runUntil, runUntilFired
from tests.web._webhelpers import listenSite, needsChromium, oneReactor
from tests.web.live._chromium import Chromium
from torsion.web.live import LiveElement, LivePage, expose
from torsion.web.resource import Resource
from torsion.web.server import Site
from torsion.web.static import Data
from torsion.web.template import XMLString

pytestmark = needsChromium
__all__ = ["oneReactor"]

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "web"

BOARD = XMLString(
    """<html xmlns:t="http://twistedmatrix.com/ns/twisted.web.template/0.1">
<head><meta charset="utf-8"/><title>board</title>
<t:transparent t:render="liveglue"/><script src="board.js" defer="defer"></script></head>
<body><p id="pushed">nothing yet</p><p id="answer">no answer</p>
<p id="loaded"></p></body></html>"""
)

BOARD_JS = b"""
"use strict";
document.getElementById("loaded").textContent = String(Math.random());
window.states = [];
torsion.onstate((state) => window.states.push(state));
torsion.expose("show", (text) => {
  const pushed = document.getElementById("pushed");
  pushed.textContent = text;
  window.shown = (window.shown || 0) + 1;
  return "shown: " + text;
});
torsion.call("greet", "from the page").then((answer) => {
  document.getElementById("answer").textContent = answer;
});
"""


class Board(LiveElement):
    loader = BOARD

    def __init__(self) -> None:
        super().__init__()
        self.greetings: list[str] = []

    @expose
    def greet(self, text: str) -> str:
        self.greetings.append(text)
        return f"hello, {text}"


@pytest.fixture
def chromium(oneReactor: Any, tmp_path: Path) -> Iterator[Chromium]:
    browser = Chromium(oneReactor, tmp_path / "profile")
    try:
        yield browser
    finally:
        browser.close()


def serveBoard(reactor: Any) -> tuple[int, LivePage]:
    page = LivePage(Board, clock=reactor)
    page.putChild(b"board.js", Data(BOARD_JS, "text/javascript"))
    root = Resource()
    root.putChild(b"board", page)
    return listenSite(reactor, Site(root, reactor=reactor)), page


def theElement(page: LivePage) -> Board:
    [element] = page.elements
    assert isinstance(element, Board)
    return element


def test_serverPushIsShownAndThePageCallReachesTheServer(
    oneReactor: Any, chromium: Chromium
) -> None:
    port, page = serveBoard(oneReactor)
    tab = chromium.open(f"http://127.0.0.1:{port}/board/")
    element = theElement(page)
    runUntil(oneReactor, lambda: element.isConnected, 20)
    assert tab.waitFor("document.documentElement.dataset.torsionLive === 'open'")
    # The page's call reached the server, and its answer the page.
    assert tab.waitFor("document.getElementById('answer').textContent !== 'no answer'")
    assert element.greetings == ["from the page"]
    assert tab.text("answer") == "hello, from the page"
    # The server pushes; the page shows it, and answers.
    result = runUntilFired(
        oneReactor, element.callRemote("show", "pushed <b>by</b> the server"), 20
    )
    assert result == "shown: pushed <b>by</b> the server"
    assert tab.text("pushed") == "pushed <b>by</b> the server"


def test_droppedConnectionIsResumedByThePage(oneReactor: Any, chromium: Chromium) -> None:
    port, page = serveBoard(oneReactor)
    tab = chromium.open(f"http://127.0.0.1:{port}/board/")
    element = theElement(page)
    runUntil(oneReactor, lambda: element.isConnected, 20)
    tab.waitFor("document.getElementById('answer').textContent !== 'no answer'")
    loaded = tab.text("loaded")
    assert element._live is not None and element._live.connection is not None
    # Drop the TCP connection under the WebSocket, without a close handshake.
    element._live.connection.transport.abortConnection()
    runUntil(oneReactor, lambda: not element.isConnected, 10)
    # While the page is away the server pushes; the page calls the server too.
    pushed = element.callRemote("show", "while you were away")
    tab.evaluate("window.during = torsion.call('greet', 'during the drop'); 1")
    answer = runUntilFired(oneReactor, pushed, 20)
    assert answer == "shown: while you were away"
    assert tab.waitFor("document.documentElement.dataset.torsionLive === 'open'")
    assert tab.text("pushed") == "while you were away"
    assert tab.evaluate("window.during") == "hello, during the drop"
    # The same element and the same page (no reload); each message arrived once.
    assert page.elements == [element]
    assert tab.text("loaded") == loaded
    assert tab.evaluate("window.shown") == 1
    assert tab.evaluate("window.states") == ["open", "reconnecting", "open"]
    assert element.greetings == ["from the page", "during the drop"]
    # And the conversation goes on.
    assert runUntilFired(oneReactor, element.callRemote("show", "again"), 20) == "shown: again"
    assert tab.evaluate("window.shown") == 2


def loadExample(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_chatExampleShowsOnePagesMessageInTheOther(oneReactor: Any, chromium: Chromium) -> None:
    livechat = loadExample("livechat")
    room = livechat.ChatRoom()
    port = listenSite(oneReactor, Site(livechat.makeResource(oneReactor, room), reactor=oneReactor))
    alice = chromium.open(f"http://127.0.0.1:{port}/")
    bob = chromium.open(f"http://127.0.0.1:{port}/")
    for tab in (alice, bob):
        tab.waitFor("document.getElementById('status').textContent === 'open'")
    alice.evaluate(
        "document.getElementById('name').value = 'alice';"
        "document.getElementById('text').value = 'hi <bob> & all';"
        "document.getElementById('say').requestSubmit(); 1"
    )
    for tab in (alice, bob):
        assert tab.waitFor(
            "document.getElementById('messages').textContent.includes('alice: hi <bob> & all')"
        )
    # Saying nothing is refused by the server: the page shows the error.
    bob.evaluate(
        "document.getElementById('text').value = '   ';"
        "document.getElementById('say').requestSubmit(); 1"
    )
    assert "say something" in bob.waitFor("document.getElementById('error').textContent")
    assert list(room.history) == [("alice", "hi <bob> & all")]
    # A page loaded later sees the history, rendered by the template.
    carol = chromium.open(f"http://127.0.0.1:{port}/")
    assert "alice: hi <bob> & all" in carol.text("messages")
    assert len(room.members) == 3


def test_clockExamplePushesTheTime(oneReactor: Any, chromium: Chromium) -> None:
    liveclock = loadExample("liveclock")
    resource = liveclock.makeResource(oneReactor)
    port = listenSite(oneReactor, Site(resource, reactor=oneReactor))
    tab = chromium.open(f"http://127.0.0.1:{port}/")
    assert tab.waitFor("Number(document.getElementById('ticks').textContent) >= 2")
    [element] = resource.elements
    runUntil(oneReactor, lambda: element.shown >= 2, 10)
    assert tab.text("time").count(":") == 2
