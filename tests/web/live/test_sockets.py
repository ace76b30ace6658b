"""torsion.web.live over real sockets on 127.0.0.1, on every reactor: a page played by
a Python client (torsion.web.websocket's connectWebSocket and the page's side of the
protocol, a LiveChannel) calls the element, is called back, loses its TCP connection
and resumes on a new one."""

from __future__ import annotations

import re
from typing import Any

from tests.internet.reactormixins import reactor, runUntil, runUntilFired
from tests.web._webhelpers import listenSite
from torsion.web._livewire import (
    CallReceived,
    ErrorReceived,
    LiveChannel,
    ResultReceived,
    encodeHello,
    parseWelcome,
)
from torsion.web.client import Agent, readBody
from torsion.web.live import LiveElement, LivePage, expose
from torsion.web.server import Site
from torsion.web.template import XMLString
from torsion.web.websocket import WebSocketProtocol, connectWebSocket

__all__ = ["reactor"]


class Echo(LiveElement):
    loader = XMLString("<p>echo</p>")

    def __init__(self) -> None:
        super().__init__()
        self.heard: list[str] = []

    @expose
    async def echo(self, text: str) -> str:
        self.heard.append(text)
        return text.upper()


class PageSocket(WebSocketProtocol):
    def __init__(self, page: PythonPage) -> None:
        self.page = page
        self.welcomed = False
        self.lost = False

    def connectionMade(self) -> None:
        self.transport.sendMessage(encodeHello(self.page.element, self.page.channel.lastReceived))

    def messageReceived(self, message: str | bytes) -> None:
        channel = self.page.channel
        if not self.welcomed:
            self.welcomed = True
            channel.resume(parseWelcome(message, 1 << 20))
        else:
            for event in channel.receive(message):
                if isinstance(event, CallReceived):
                    channel.answer(event.callID, f"page got {event.args[0]}")
                elif isinstance(event, (ResultReceived, ErrorReceived)):
                    self.page.answers[event.callID] = event
        self.page.flush()

    def connectionLost(self, reason: Any) -> None:
        self.lost = True
        self.page.channel.detach()


class PythonPage:
    """A page load and its WebSocket, played from Python."""

    def __init__(self, reactor: Any, port: int) -> None:
        self.reactor = reactor
        self.port = port
        response = runUntilFired(
            reactor, Agent(reactor).request(b"GET", f"http://127.0.0.1:{port}/".encode())
        )
        body = runUntilFired(reactor, readBody(response))
        found = re.search(rb'data-element="([^"]+)"', body)
        assert found is not None, body
        self.element = found.group(1).decode()
        self.channel = LiveChannel()
        self.answers: dict[int, Any] = {}
        self.socket: PageSocket | None = None

    def connect(self) -> PageSocket:
        socket = PageSocket(self)
        d = connectWebSocket(
            self.reactor,
            f"ws://127.0.0.1:{self.port}/_live",
            lambda request: socket,
            subprotocols=["torsion-live.1"],
        )
        runUntilFired(self.reactor, d, 10)
        runUntil(self.reactor, lambda: socket.welcomed, 10)
        self.socket = socket
        return socket

    def flush(self) -> None:
        if self.socket is not None and not self.socket.lost:
            for text in self.channel.dataToSend():
                self.socket.transport.sendMessage(text)

    def call(self, name: str, *args: Any) -> Any:
        callID = self.channel.call(name, list(args))
        self.flush()
        runUntil(self.reactor, lambda: callID in self.answers, 10)
        event = self.answers[callID]
        return event.value if isinstance(event, ResultReceived) else event


def serve(reactor: Any) -> tuple[int, LivePage]:
    page = LivePage(Echo, clock=reactor)
    return listenSite(reactor, Site(page, reactor=reactor)), page


def test_callsBothWays(reactor: Any) -> None:
    port, page = serve(reactor)
    browser = PythonPage(reactor, port)
    browser.connect()
    assert browser.call("echo", "hi") == "HI"
    [element] = page.elements
    assert runUntilFired(reactor, element.callRemote("show", "x"), 10) == "page got x"


def test_droppedConnectionResumesOnANewOne(reactor: Any) -> None:
    port, page = serve(reactor)
    browser = PythonPage(reactor, port)
    first = browser.connect()
    assert browser.call("echo", "one") == "ONE"
    [element] = page.elements
    first.transport.abortConnection()
    runUntil(reactor, lambda: first.lost and not element.isConnected, 10)
    pushed = element.callRemote("show", "queued")
    callID = browser.channel.call("echo", ["two"])
    browser.connect()
    browser.flush()
    assert runUntilFired(reactor, pushed, 10) == "page got queued"
    runUntil(reactor, lambda: callID in browser.answers, 10)
    assert browser.answers[callID].value == "TWO"
    assert element.heard == ["one", "two"]
    assert page.elements == [element]
