"""A live page's browser played in Python, in memory: page loads and WebSockets on
StringTransports of one Site, all on one task.Clock, and the page's side of the
protocol kept by a LiveChannel (the one the server uses, in the other role)."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from torsion.internet.task import Clock
from torsion.internet.testing import StringTransport
from torsion.web import resource
from torsion.web._livewire import (
    CallReceived,
    ErrorReceived,
    LiveChannel,
    ResultReceived,
    encodeHello,
    parseWelcome,
)
from torsion.web._wsframes import Close, FrameCodec, Message
from torsion.web.live import LivePage
from torsion.web.server import Site

from ..webtesting import Response, parseResponses

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


class MemoryLiveSite:
    """A Site with a LivePage at /page, in memory, on one Clock."""

    def __init__(self, elementFactory: Any, **pageArguments: Any) -> None:
        self.clock = Clock()
        self.page = LivePage(elementFactory, clock=self.clock, **pageArguments)
        root = resource.Resource()
        root.putChild(b"page", self.page)
        self.site = Site(root, reactor=self.clock)
        self.site._reactor = self.clock

    def connection(self) -> tuple[Any, StringTransport]:
        transport = StringTransport()
        channel = self.site.buildProtocol(None)
        channel.makeConnection(transport)
        return channel, transport

    def get(self, path: bytes) -> Response:
        channel, transport = self.connection()
        channel.dataReceived(b"GET " + path + b" HTTP/1.1\r\nHost: example.com\r\n\r\n")
        (response,) = parseResponses(transport.value())
        return response

    def load(self, **channelArguments: Any) -> LiveBrowser:
        """GET the page and return a browser holding it (not connected yet)."""
        response = self.get(b"/page/")
        assert response.code == 200, response.body
        return LiveBrowser(self, response, **channelArguments)


def scriptAttributes(body: bytes) -> dict[str, str]:
    found = re.search(rb"<script ([^>]*)></script>", body)
    assert found is not None, body
    return {
        name.decode(): html.unescape(value.decode())
        for name, value in re.findall(rb'([\w-]+)="([^"]*)"', found.group(1))
    }


class LiveBrowser:
    """One loaded page: its element ID, its side of the protocol and its WebSocket."""

    def __init__(self, site: MemoryLiveSite, response: Response, **channelArguments: Any) -> None:
        self.site = site
        self.response = response
        self.script = scriptAttributes(response.body)
        self.element = self.script["data-element"]
        self.channel = LiveChannel(**channelArguments)
        self.transport: StringTransport | None = None
        self.codec = FrameCodec(client=True)
        self.closed: Close | None = None
        self.calls: list[CallReceived] = []
        self.answers: dict[int, ResultReceived | ErrorReceived] = {}

    def upgrade(self, subprotocol: bytes | None = b"torsion-live.1") -> Response:
        """Open the WebSocket (without saying hello); return the handshake's answer."""
        channel, transport = self.site.connection()
        self.codec = FrameCodec(client=True)
        self.closed = None
        self.transport = transport
        offer = b"" if subprotocol is None else b"Sec-WebSocket-Protocol: " + subprotocol + b"\r\n"
        channel.dataReceived(
            b"GET " + self.script["data-endpoint"].encode() + b" HTTP/1.1\r\n"
            b"Host: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: 13\r\n" + offer + b"\r\n"
        )
        head, _, rest = transport.value().partition(b"\r\n\r\n")
        transport.clear()
        self.pending = rest
        (response,) = parseResponses(head + b"\r\n\r\n")
        return response

    def connect(self) -> None:
        """Open the WebSocket, say hello and take the welcome: the page is live."""
        assert self.upgrade().code == 101
        self.sendRaw(encodeHello(self.element, self.channel.lastReceived))
        [welcome, *rest] = self.messages()
        self.channel.resume(parseWelcome(welcome, 1 << 20))
        self.handle(rest)
        self.flush()

    def sendRaw(self, data: str | bytes) -> None:
        assert self.transport is not None
        self.transport.protocol.dataReceived(self.codec.encodeMessage(data))

    def flush(self) -> None:
        for text in self.channel.dataToSend():
            self.sendRaw(text)

    def messages(self) -> list[str]:
        """The text messages the server sent since last asked (a close is kept)."""
        assert self.transport is not None
        data = self.pending + self.transport.value()
        self.pending = b""
        self.transport.clear()
        out = []
        for event in self.codec.receive(data):
            if isinstance(event, Message):
                assert isinstance(event.data, str)
                out.append(event.data)
            elif isinstance(event, Close):
                self.closed = event
        return out

    def handle(self, texts: list[str]) -> None:
        for text in texts:
            for event in self.channel.receive(text):
                if isinstance(event, CallReceived):
                    self.calls.append(event)
                else:
                    self.answers[event.callID] = event

    def pump(self) -> None:
        """Take what the server sent, then send what the page has to say."""
        self.handle(self.messages())
        self.flush()

    def call(self, name: str, *args: Any) -> int:
        callID = self.channel.call(name, list(args))
        self.flush()
        self.pump()
        return callID

    def answer(self, callID: int) -> Any:
        event = self.answers[callID]
        if isinstance(event, ErrorReceived):
            return ("error", event.errorType, event.message)
        return event.value

    def drop(self) -> None:
        """The connection dies without a close handshake."""
        assert self.transport is not None
        self.transport.protocol.connectionLost(_connectionLost())
        self.transport = None
        self.channel.detach()


def _connectionLost() -> Any:
    from torsion.internet import error
    from torsion.python.failure import Failure

    return Failure(error.ConnectionLost("the test dropped it"))


def decoded(texts: list[str]) -> list[dict[str, Any]]:
    return [json.loads(text) for text in texts]
