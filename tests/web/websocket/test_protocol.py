"""WebSocketResource and the WebSocket connection in memory: a Site on a StringTransport
and a task.Clock, so handshakes, close handshakes and every timeout are exact."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.webtesting import MemorySite, parseResponses
from torsion.internet import error
from torsion.python.failure import Failure
from torsion.web import resource
from torsion.web._wsframes import Close, FrameCodec, Message, Ping, Pong
from torsion.web._wshandshake import acceptKey
from torsion.web.websocket import (
    WebSocketClosed,
    WebSocketFactory,
    WebSocketProtocol,
    WebSocketResource,
)

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


class Recorder(WebSocketProtocol):
    """Keeps what happened to it; echoes messages when `echo` is set."""

    echo = True

    def __init__(self) -> None:
        self.messages: list[str | bytes] = []
        self.lost: list[Failure] = []
        self.made = False

    def connectionMade(self) -> None:
        self.made = True

    def messageReceived(self, message: str | bytes) -> None:
        self.messages.append(message)
        if self.echo:
            self.transport.sendMessage(message)

    def connectionLost(self, reason: Failure) -> None:
        self.lost.append(reason)


class Peer:
    """A WebSocket client, by hand, on a MemorySite: the handshake, then frames."""

    def __init__(
        self,
        ws: WebSocketResource,
        extraHeaders: bytes = b"",
        rest: bytes = b"",
        logged: list[Any] | None = None,
    ) -> None:
        root = resource.Resource()
        root.putChild(b"ws", ws)
        self.site = MemorySite(root)
        if logged is not None:
            self.site.site.log = logged.append  # type: ignore[method-assign]
        self.site.send(
            b"GET /ws HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: " + KEY + b"\r\n"
            b"Sec-WebSocket-Version: 13\r\n" + extraHeaders + b"\r\n" + rest
        )
        data = self.site.transport.value()
        head, _, self.leftover = data.partition(b"\r\n\r\n")
        self.head = head + b"\r\n\r\n"
        self.codec = FrameCodec(client=True)
        self.site.transport.clear()

    @property
    def transport(self) -> Any:
        return self.site.transport

    @property
    def clock(self) -> Any:
        return self.site.clock

    def send(self, data: bytes) -> None:
        # The channel handed the transport over: transport.protocol is the WebSocket
        # connection now.
        self.transport.protocol.dataReceived(data)

    def received(self) -> list[Any]:
        data = self.leftover + self.transport.value()
        self.leftover = b""
        self.transport.clear()
        return self.codec.receive(data)


made: list[Recorder] = []


def factory(request: Any) -> Recorder:
    made.append(Recorder())
    made[-1].request = request  # type: ignore[attr-defined]
    return made[-1]


@pytest.fixture(autouse=True)
def _forget() -> Any:
    made.clear()
    yield
    made.clear()


def test_handshakeAnswers101AndTheProtocolConnects() -> None:
    peer = Peer(WebSocketResource(factory))
    (response,) = parseResponses(peer.head)
    assert response.code == 101
    assert response.header(b"sec-websocket-accept") == acceptKey(KEY)
    assert response.header(b"upgrade") == b"websocket"
    assert made[0].made
    assert made[0].transport.request.getHeader(b"host") == b"example.com"


def test_messagesBothWays() -> None:
    peer = Peer(WebSocketResource(factory))
    peer.send(peer.codec.encodeMessage("hello") + peer.codec.encodeMessage(b"\x00\x01"))
    assert made[0].messages == ["hello", b"\x00\x01"]
    assert peer.received() == [Message("hello"), Message(b"\x00\x01")]


def test_bytesSentWithTheUpgradeRequestReachTheWebSocket() -> None:
    codec = FrameCodec(client=True)
    Peer(WebSocketResource(factory), rest=codec.encodeMessage("early"))
    assert made[0].messages == ["early"]


def test_httpTimeoutsNoLongerApply() -> None:
    peer = Peer(WebSocketResource(factory))
    peer.clock.advance(3600)
    assert not peer.transport.disconnecting


def test_pingIsAnsweredWithPong() -> None:
    peer = Peer(WebSocketResource(factory))
    peer.send(peer.codec.encodePing(b"abc"))
    assert peer.received() == [Pong(b"abc")]


def test_ourPingFiresWithTheRoundTrip() -> None:
    peer = Peer(WebSocketResource(factory))
    d = made[0].transport.ping()
    (ping,) = peer.received()
    assert isinstance(ping, Ping) and len(ping.payload) == 8
    peer.clock.advance(0.25)
    peer.send(peer.codec.encodePong(ping.payload))
    assert d.result == 0.25


def test_clientStartsTheCloseHandshake() -> None:
    peer = Peer(WebSocketResource(factory))
    peer.send(peer.codec.encodeClose(1001, "going"))
    assert peer.received() == [Close(1001, "")]
    assert peer.transport.disconnecting, "the server closes TCP after the handshake"
    made[0].transport.connectionLost(Failure(error.ConnectionDone()))
    (reason,) = made[0].lost
    assert isinstance(reason.value, WebSocketClosed)
    assert (reason.value.code, reason.value.reason) == (1001, "going")


def test_serverClosesAndTheClientAnswers() -> None:
    peer = Peer(WebSocketResource(factory))
    made[0].transport.close(4000, "bye")
    assert peer.received() == [Close(4000, "bye")]
    made[0].transport.sendMessage("dropped after close")
    assert peer.received() == []
    peer.send(peer.codec.encodeClose(4000))
    assert peer.transport.disconnecting


def test_closeTimesOutWhenThePeerDoesNotAnswer() -> None:
    peer = Peer(WebSocketResource(factory, closeTimeout=5))
    made[0].transport.close()
    peer.clock.advance(4.9)
    assert not peer.transport.aborted
    peer.clock.advance(0.2)
    assert peer.transport.aborted


def test_protocolErrorClosesWith1002() -> None:
    peer = Peer(WebSocketResource(factory))
    peer.send(b"\x83\x80abcd")  # reserved opcode 3
    (close,) = peer.received()
    assert isinstance(close, Close) and close.code == 1002
    assert peer.transport.disconnecting
    made[0].transport.connectionLost(Failure(error.ConnectionDone()))
    assert made[0].lost[0].value.code == 1002


def test_oversizeMessageClosesWith1009() -> None:
    peer = Peer(WebSocketResource(factory, maxMessageSize=10))
    peer.send(peer.codec.encodeMessage(b"x" * 11))
    (close,) = peer.received()
    assert isinstance(close, Close) and close.code == 1009
    assert made[0].messages == []


def test_applicationErrorClosesWith1011AndIsLogged(logged: list[Any]) -> None:
    class Broken(WebSocketProtocol):
        def messageReceived(self, message: str | bytes) -> None:
            raise RuntimeError("boom")

    peer = Peer(WebSocketResource(lambda request: Broken()))
    peer.send(peer.codec.encodeMessage("x"))
    (close,) = peer.received()
    assert isinstance(close, Close) and close.code == 1011
    failures = [event["log_failure"] for event in logged if "log_failure" in event]
    assert any(failure.check(RuntimeError) for failure in failures)


def test_keepalivePingsAndTimeout() -> None:
    peer = Peer(WebSocketResource(factory, pingInterval=10, pingTimeout=5))
    peer.clock.advance(10)
    (ping,) = peer.received()
    assert isinstance(ping, Ping)
    peer.send(peer.codec.encodePong(ping.payload))
    peer.clock.advance(10)
    (second,) = peer.received()
    assert isinstance(second, Ping)
    peer.clock.advance(10)  # no pong for the second ping: the connection fails
    (close,) = peer.received()
    assert isinstance(close, Close) and close.code == 1011
    assert peer.transport.disconnecting


def test_connectionLostWithoutCloseFrameGivesTheTransportReason() -> None:
    Peer(WebSocketResource(factory))
    pending = made[0].transport.ping()
    failures: list[Failure] = []
    pending.addErrback(failures.append)
    made[0].transport.connectionLost(Failure(error.ConnectionLost()))
    assert made[0].lost[0].check(error.ConnectionLost)
    assert failures and failures[0].check(error.ConnectionLost)


def test_compressionIsNegotiatedAndUsed() -> None:
    peer = Peer(
        WebSocketResource(factory),
        b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
    )
    (response,) = parseResponses(peer.head)
    assert response.header(b"sec-websocket-extensions") == b"permessage-deflate"
    from torsion.web._wsdeflate import PerMessageDeflate

    peer.codec = FrameCodec(client=True, deflate=PerMessageDeflate())
    text = "compress me " * 50
    peer.send(peer.codec.encodeMessage(text))
    data = peer.transport.value()
    assert data[0] & 0x40 and len(data) < 200
    assert peer.received() == [Message(text)]


def test_subprotocolIsOnTheTransport() -> None:
    Peer(
        WebSocketResource(factory, subprotocols=["b", "a"]),
        b"Sec-WebSocket-Protocol: a, b\r\n",
    )
    assert made[0].transport.subprotocol == "b"


def test_factoryObjectAndRefusal() -> None:
    class Choosy(WebSocketFactory):
        protocol = Recorder

        def buildProtocol(self, request: Any) -> WebSocketProtocol | None:
            if request.args.get(b"ok") == [b"1"]:
                return super().buildProtocol(request)
            return None

    peer = Peer(WebSocketResource(Choosy()))
    (response,) = parseResponses(peer.head + peer.leftover)
    assert response.code == 403
    assert b"refused" in response.body


def test_plainGetIsToldToUseAWebSocketClient() -> None:
    root = resource.Resource()
    root.putChild(b"ws", WebSocketResource(factory))
    site = MemorySite(root)
    response = site.get(b"/ws")
    assert response.code == 426
    assert b"WebSocket client" in response.body
    assert response.header(b"upgrade") == b"websocket"
    assert not made


def test_foreignOriginIsRefused() -> None:
    peer = Peer(WebSocketResource(factory), b"Origin: https://evil.example\r\n")
    (response,) = parseResponses(peer.head + peer.leftover)
    assert response.code == 403 and not made


def test_closeWithAnInvalidCodeIsAValueError() -> None:
    Peer(WebSocketResource(factory))
    with pytest.raises(ValueError, match="may not be sent"):
        made[0].transport.close(1005)


def test_sendMessageRefusesOtherTypes() -> None:
    Peer(WebSocketResource(factory))
    with pytest.raises(TypeError, match="str \\(text\\) or bytes \\(binary\\)"):
        made[0].transport.sendMessage(42)


def test_closeWithNoCodeIsEchoedWithNoCode() -> None:
    peer = Peer(WebSocketResource(factory))
    peer.send(peer.codec.encodeClose(None))
    assert peer.received() == [Close(1005, "")]
    made[0].transport.connectionLost(Failure(error.ConnectionDone()))
    assert made[0].lost[0].value.code == 1005


def test_upgradeRequestIsLoggedWhenItSwitches() -> None:
    logged: list[Any] = []
    Peer(WebSocketResource(factory), logged=logged)
    assert logged == [made[0].transport.request]
    assert logged[0].code == 101


def test_notifyFinishOfTheUpgradeRequestFailsWhenTheWebSocketEnds() -> None:
    Peer(WebSocketResource(factory))
    request = made[0].transport.request
    ended: list[Failure] = []
    request.notifyFinish().addErrback(ended.append)
    made[0].transport.connectionLost(Failure(error.ConnectionDone()))
    assert len(ended) == 1 and ended[0].check(error.ConnectionDone)
