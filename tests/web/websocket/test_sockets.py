"""torsion's WebSocket client against its server over real sockets on every reactor
(the `reactor` fixture), and over TLS (wss://) on one."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest
import trustme

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from tests.web._webhelpers import listenSite, oneReactor
from torsion.internet import error
from torsion.internet import ssl as tssl
from torsion.python.failure import Failure
from torsion.web import resource, server
from torsion.web.websocket import (
    WebSocketClosed,
    WebSocketHandshakeError,
    WebSocketProtocol,
    WebSocketResource,
    connectWebSocket,
)

reactor = reactormixins.reactor
__all__ = ["oneReactor", "reactor"]


class Echo(WebSocketProtocol):
    def messageReceived(self, message: str | bytes) -> None:
        if message == "close please":
            self.transport.close(4001, "as asked")
        else:
            self.transport.sendMessage(message)


class Client(WebSocketProtocol):
    def __init__(self) -> None:
        self.messages: list[str | bytes] = []
        self.lost: list[Failure] = []

    def messageReceived(self, message: str | bytes) -> None:
        self.messages.append(message)

    def connectionLost(self, reason: Failure) -> None:
        self.lost.append(reason)


def echoSite() -> server.Site:
    root = resource.Resource()
    root.putChild(b"echo", WebSocketResource(lambda request: Echo()))
    return server.Site(root)


def test_echoAndCloseOverTCP(reactor: Any) -> None:
    port = listenSite(reactor, echoSite())
    client: Client = runUntilFired(
        reactor, connectWebSocket(reactor, f"ws://127.0.0.1:{port}/echo", lambda _: Client())
    )
    big = bytes(range(256)) * 4096  # 1 MiB: many TCP reads, reassembled
    client.transport.sendMessage("hello")
    client.transport.sendMessage(big)
    runUntil(reactor, lambda: len(client.messages) == 2)
    assert client.messages == ["hello", big]
    rtt = runUntilFired(reactor, client.transport.ping())
    assert 0 <= rtt < 5
    client.transport.sendMessage("close please")
    runUntil(reactor, lambda: client.lost)
    assert isinstance(client.lost[0].value, WebSocketClosed)
    assert (client.lost[0].value.code, client.lost[0].value.reason) == (4001, "as asked")


def test_clientClosesCleanly(reactor: Any) -> None:
    lost: list[Failure] = []

    class Watch(Echo):
        def connectionLost(self, reason: Failure) -> None:
            lost.append(reason)

    root = resource.Resource()
    root.putChild(b"echo", WebSocketResource(lambda request: Watch()))
    port = listenSite(reactor, server.Site(root))
    client: Client = runUntilFired(
        reactor, connectWebSocket(reactor, f"ws://127.0.0.1:{port}/echo", lambda _: Client())
    )
    client.transport.close(1000, "done")
    runUntil(reactor, lambda: client.lost and lost)
    assert lost[0].value.code == 1000 and lost[0].value.reason == "done"
    assert client.lost[0].value.code == 1000


def test_refusedHandshakeFailsTheDeferred(reactor: Any) -> None:
    port = listenSite(reactor, echoSite())
    d = connectWebSocket(reactor, f"ws://127.0.0.1:{port}/nothing", lambda _: Client())
    with pytest.raises(WebSocketHandshakeError) as caught:
        runUntilFired(reactor, d)
    assert caught.value.code == 404


def test_connectionRefused(oneReactor: Any) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    free = probe.getsockname()[1]
    probe.close()
    d = connectWebSocket(oneReactor, f"ws://127.0.0.1:{free}/", lambda _: Client())
    with pytest.raises(error.ConnectionRefusedError):
        runUntilFired(oneReactor, d)


def test_handshakeTimeout(oneReactor: Any) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    try:
        url = f"ws://127.0.0.1:{silent.getsockname()[1]}/"
        d = connectWebSocket(oneReactor, url, lambda _: Client(), timeout=0.3)
        with pytest.raises(WebSocketHandshakeError, match="no handshake answer"):
            runUntilFired(oneReactor, d)
    finally:
        silent.close()


def test_badUrl(oneReactor: Any) -> None:
    with pytest.raises(ValueError, match="ws://host"):
        connectWebSocket(oneReactor, "http://example.com/", lambda _: Client())


def test_rawClientBreakingTheProtocolGets1002(oneReactor: Any) -> None:
    port = listenSite(oneReactor, echoSite())
    answer: list[bytes] = []

    def rawClient() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(
                b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n"
                b"\x81\x05hello"  # unmasked: a client must mask
            )
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
            answer.append(data)

    thread = threading.Thread(target=rawClient, daemon=True)
    thread.start()
    runUntil(oneReactor, lambda: answer)
    head, _, frames = answer[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ")
    assert frames[:4] == b"\x88" + bytes([len(frames) - 2]) + b"\x03\xea"  # close 1002


def test_wssWithCertificateCheck(oneReactor: Any) -> None:
    authority = trustme.CA()
    leaf = authority.issue_cert("127.0.0.1")
    options = tssl.CertificateOptions(
        privateKey=tssl.KeyPair.loadPEM(leaf.private_key_pem.bytes()),
        certificate=tssl.Certificate.loadPEM(leaf.cert_chain_pems[0].bytes()),
    )
    port = oneReactor.listenSSL(0, echoSite(), options, interface="127.0.0.1").getHost().port
    trust = tssl.Certificate.loadPEM(authority.cert_pem.bytes())
    client: Client = runUntilFired(
        oneReactor,
        connectWebSocket(
            oneReactor,
            f"wss://127.0.0.1:{port}/echo",
            lambda _: Client(),
            contextFactory=tssl.optionsForClientTLS("127.0.0.1", trust),
        ),
    )
    client.transport.sendMessage("over tls")
    runUntil(oneReactor, lambda: client.messages)
    assert client.messages == ["over tls"]
    client.transport.close()
    runUntil(oneReactor, lambda: client.lost)
    assert client.lost[0].value.code == 1000


def test_wssRefusesAServerItCannotVerify(oneReactor: Any) -> None:
    leaf = trustme.CA().issue_cert("127.0.0.1")
    options = tssl.CertificateOptions(
        privateKey=tssl.KeyPair.loadPEM(leaf.private_key_pem.bytes()),
        certificate=tssl.Certificate.loadPEM(leaf.cert_chain_pems[0].bytes()),
    )
    port = oneReactor.listenSSL(0, echoSite(), options, interface="127.0.0.1").getHost().port
    d = connectWebSocket(oneReactor, f"wss://127.0.0.1:{port}/echo", lambda _: Client())
    with pytest.raises(Exception) as caught:
        runUntilFired(oneReactor, d)
    assert not isinstance(caught.value, WebSocketHandshakeError)
    assert "certificate" in str(caught.value).lower() or "verif" in str(caught.value).lower()
