"""torsion's WebSocket against an independent implementation, Python's `websockets`
library: its client against our server and our client against its server, with
fragmentation, close codes, pings, compression and oversize messages both ways.

The `websockets` side is its blocking (sync) API in a thread; the test thread runs the
torsion reactor meanwhile, every wait bounded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.internet.reactormixins import inThread, runUntil, runUntilFired
from tests.web._webhelpers import listenSite, oneReactor
from torsion.python.failure import Failure
from torsion.web import resource, server
from torsion.web.websocket import (
    WebSocketClosed,
    WebSocketProtocol,
    WebSocketResource,
    connectWebSocket,
)

websockets = pytest.importorskip("websockets")
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.sync.client import connect  # noqa: E402
from websockets.sync.server import serve  # noqa: E402

__all__ = ["oneReactor"]


class Echo(WebSocketProtocol):
    lost: list[Failure] = []

    def messageReceived(self, message: str | bytes) -> None:
        if isinstance(message, str) and message.startswith("close "):
            self.transport.close(int(message.split()[1]), "you asked")
        elif message == "ping me":
            self.transport.ping(b"from torsion").addCallback(
                lambda rtt: self.transport.sendMessage(f"pong after {rtt >= 0}")
            )
        elif message == "fragment":
            self.transport.fragmentSize = 3
            self.transport.sendMessage("sent in many frames")
            self.transport.fragmentSize = None
        else:
            self.transport.sendMessage(message)

    def connectionLost(self, reason: Failure) -> None:
        Echo.lost.append(reason)


@pytest.fixture
def echoURL(oneReactor: Any) -> Iterator[str]:
    Echo.lost = []
    root = resource.Resource()
    root.putChild(
        b"echo",
        WebSocketResource(lambda request: Echo(), maxMessageSize=100_000, subprotocols=["b", "a"]),
    )
    yield f"ws://127.0.0.1:{listenSite(oneReactor, server.Site(root))}/echo"


# -- their client, our server ----------------------------------------------------------


def test_theirClientEchoFragmentsAndCompression(oneReactor: Any, echoURL: str) -> None:
    def talk() -> dict[str, Any]:
        with connect(echoURL, proxy=None, subprotocols=["a", "b"]) as ws:
            seen: dict[str, Any] = {
                "extensions": ws.response.headers.get("Sec-WebSocket-Extensions"),
                "subprotocol": ws.subprotocol,
            }
            ws.send("héllo")
            seen["text"] = ws.recv()
            ws.send(b"\x00" * 50_000)
            seen["binary"] = ws.recv()
            ws.send(["frag", "mented ", "text"])  # three frames, one message
            seen["fragmented"] = ws.recv()
            ws.send([b"ab", b"cd"])
            seen["fragmentedBinary"] = ws.recv()
            ws.send("fragment")
            seen["ourFragments"] = ws.recv()
            seen["pong"] = ws.ping(b"theirs").wait(5)
            ws.send("ping me")
            seen["ourPing"] = ws.recv()
        return seen

    seen = inThread(oneReactor, talk)
    assert seen["extensions"].startswith("permessage-deflate")
    assert seen["subprotocol"] == "b"
    assert seen["text"] == "héllo"
    assert seen["binary"] == b"\x00" * 50_000
    assert seen["fragmented"] == "fragmented text"
    assert seen["fragmentedBinary"] == b"abcd"
    assert seen["ourFragments"] == "sent in many frames"
    assert seen["pong"] is True
    assert seen["ourPing"] == "pong after True"
    runUntil(oneReactor, lambda: Echo.lost)
    assert Echo.lost[0].value.code == 1000


def test_theirClientWithoutCompression(oneReactor: Any, echoURL: str) -> None:
    def talk() -> tuple[Any, Any]:
        with connect(echoURL, proxy=None, compression=None) as ws:
            ws.send("plain")
            return ws.response.headers.get("Sec-WebSocket-Extensions"), ws.recv()

    assert inThread(oneReactor, talk) == (None, "plain")


@pytest.mark.parametrize("code", [1000, 1001, 1003, 1008, 1011, 3000, 4999])
def test_closeCodesFromTheirClient(oneReactor: Any, echoURL: str, code: int) -> None:
    def talk() -> None:
        with connect(echoURL, proxy=None) as ws:
            ws.close(code, "their reason")

    inThread(oneReactor, talk)
    runUntil(oneReactor, lambda: Echo.lost)
    value = Echo.lost[0].value
    assert isinstance(value, WebSocketClosed)
    assert (value.code, value.reason) == (code, "their reason")


def test_closeCodeFromOurServer(oneReactor: Any, echoURL: str) -> None:
    def talk() -> tuple[Any, Any]:
        with connect(echoURL, proxy=None) as ws:
            ws.send("close 4321")
            try:
                ws.recv()
            except ConnectionClosed as closed:
                return closed.rcvd.code, closed.rcvd.reason
        raise AssertionError("the server did not close")

    assert inThread(oneReactor, talk) == (4321, "you asked")


def test_oversizeMessageFromTheirClientIs1009(oneReactor: Any, echoURL: str) -> None:
    def talk() -> Any:
        with connect(echoURL, proxy=None, compression=None) as ws:
            ws.send(b"x" * 100_001)
            try:
                ws.recv()
            except ConnectionClosed as closed:
                return closed.rcvd.code
        raise AssertionError("the server accepted an oversize message")

    assert inThread(oneReactor, talk) == 1009


def test_compressedOversizeFromTheirClientIs1009(oneReactor: Any, echoURL: str) -> None:
    def talk() -> Any:
        with connect(echoURL, proxy=None) as ws:
            ws.send(b"\x00" * 1_000_000)  # deflates to about a kilobyte
            try:
                ws.recv()
            except ConnectionClosed as closed:
                return closed.rcvd.code
        raise AssertionError("the server accepted an oversize message")

    assert inThread(oneReactor, talk) == 1009


# -- our client, their server ----------------------------------------------------------


class Collector(WebSocketProtocol):
    def __init__(self) -> None:
        self.messages: list[str | bytes] = []
        self.lost: list[Failure] = []

    def messageReceived(self, message: str | bytes) -> None:
        self.messages.append(message)

    def connectionLost(self, reason: Failure) -> None:
        self.lost.append(reason)


def theirHandler(ws: Any) -> None:
    try:
        for message in ws:
            if message == "fragments please":
                ws.send(["many ", "small ", "frames"])
            elif message == "ping you":
                ws.send(f"pong {ws.ping(b'theirs').wait(5)}")
            elif isinstance(message, str) and message.startswith("close "):
                ws.close(int(message.split()[1]), "server says")
            elif message == "too big":
                ws.send(b"y" * 2000)
            elif message == "extensions?":
                ws.send(ws.request.headers.get("Sec-WebSocket-Extensions", "none"))
            else:
                ws.send(message)
    except ConnectionClosed:
        pass


@pytest.fixture
def theirServer() -> Iterator[tuple[str, list[Any]]]:
    closes: list[Any] = []

    def handler(ws: Any) -> None:
        theirHandler(ws)
        closes.append((ws.close_code, ws.close_reason))

    with serve(handler, "127.0.0.1", 0, subprotocols=["chat"], ping_interval=None) as running:
        port = running.socket.getsockname()[1]
        thread = threading.Thread(target=running.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"ws://127.0.0.1:{port}/", closes
        finally:
            running.shutdown()
            thread.join(5)


def test_ourClientAgainstTheirServer(oneReactor: Any, theirServer: tuple[str, list[Any]]) -> None:
    url, closes = theirServer
    client: Collector = runUntilFired(
        oneReactor, connectWebSocket(oneReactor, url, lambda _: Collector(), subprotocols=["chat"])
    )
    assert client.transport.subprotocol == "chat"
    assert client.transport._codec.compressed
    for message in ["hello", b"\x01\x02" * 40_000, "fragments please", "ping you", "extensions?"]:
        client.transport.sendMessage(message)
    runUntil(oneReactor, lambda: len(client.messages) == 5)
    assert client.messages[:4] == ["hello", b"\x01\x02" * 40_000, "many small frames", "pong True"]
    assert str(client.messages[4]).startswith("permessage-deflate")
    rtt = runUntilFired(oneReactor, client.transport.ping(b"ours"))
    assert rtt >= 0
    client.transport.close(4002, "client says")
    runUntil(oneReactor, lambda: client.lost and closes, 10)
    assert client.lost[0].value.code == 4002
    assert closes == [(4002, "client says")]


def test_theirServerClosesWithACode(oneReactor: Any, theirServer: tuple[str, list[Any]]) -> None:
    url, _ = theirServer
    client: Collector = runUntilFired(
        oneReactor,
        connectWebSocket(
            oneReactor, url, lambda _: Collector(), compression=False, subprotocols=["chat"]
        ),
    )
    assert not client.transport._codec.compressed
    client.transport.sendMessage("close 3333")
    runUntil(oneReactor, lambda: client.lost, 10)
    value = client.lost[0].value
    assert isinstance(value, WebSocketClosed)
    assert (value.code, value.reason) == (3333, "server says")


def test_oversizeMessageFromTheirServerIs1009(
    oneReactor: Any, theirServer: tuple[str, list[Any]]
) -> None:
    url, closes = theirServer
    client: Collector = runUntilFired(
        oneReactor,
        connectWebSocket(
            oneReactor, url, lambda _: Collector(), maxMessageSize=1000, subprotocols=["chat"]
        ),
    )
    client.transport.sendMessage("too big")
    runUntil(oneReactor, lambda: client.lost and closes, 10)
    assert client.lost[0].value.code == 1009
    assert client.messages == []
    assert closes[0][0] == 1009
