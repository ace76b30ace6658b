"""Tests for torsion.web._wshandshake and _wsdeflate's negotiation (sans-IO)."""

from __future__ import annotations

import base64

import pytest

from torsion.web._wsdeflate import HandshakeError, PerMessageDeflate, parseExtensions
from torsion.web._wshandshake import (
    HandshakeRefused,
    acceptKey,
    checkRequest,
    checkResponse,
    clientRequest,
    originAllowed,
)

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


def upgrade(**extra: list[bytes]) -> dict[bytes, list[bytes]]:
    headers = {
        b"host": [b"example.com"],
        b"upgrade": [b"websocket"],
        b"connection": [b"keep-alive, Upgrade"],
        b"sec-websocket-key": [KEY],
        b"sec-websocket-version": [b"13"],
    }
    for name, value in extra.items():
        headers[name.replace("_", "-").encode()] = value
    return {name: value for name, value in headers.items() if value}


def test_acceptKeyIsTheRfcExample() -> None:
    assert acceptKey(KEY) == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_goodRequestIsAccepted() -> None:
    agreed = checkRequest(b"GET", b"HTTP/1.1", upgrade())
    assert (b"Sec-WebSocket-Accept", b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") in agreed.headers
    assert agreed.subprotocol is None and agreed.deflate is None


@pytest.mark.parametrize(
    ("method", "version", "headers", "status", "words"),
    [
        (b"POST", b"HTTP/1.1", upgrade(), 405, "GET"),
        (b"GET", b"HTTP/1.1", upgrade(upgrade=[]), 426, "WebSocket client"),
        (b"GET", b"HTTP/1.1", upgrade(upgrade=[b"h2c"]), 426, "Upgrade: websocket"),
        (b"GET", b"HTTP/1.0", upgrade(), 400, "HTTP/1.1"),
        (b"GET", b"HTTP/1.1", upgrade(connection=[b"keep-alive"]), 400, "Connection: Upgrade"),
        (b"GET", b"HTTP/1.1", upgrade(sec_websocket_version=[b"8"]), 426, "version 13"),
        (b"GET", b"HTTP/1.1", upgrade(sec_websocket_key=[]), 400, "no Sec-WebSocket-Key"),
        (b"GET", b"HTTP/1.1", upgrade(sec_websocket_key=[b"c2hvcnQ="]), 400, "16 random"),
        (b"GET", b"HTTP/1.1", upgrade(sec_websocket_key=[b"!!!"]), 400, "16 random"),
        (b"GET", b"HTTP/1.1", upgrade(sec_websocket_key=[KEY, KEY]), 400, "more than one"),
        (b"GET", b"HTTP/1.1", upgrade(origin=[b"https://evil.example"]), 403, "origin"),
        (
            b"GET",
            b"HTTP/1.1",
            upgrade(sec_websocket_extensions=[b"permessage-deflate; x=\x01"]),
            400,
            "Sec-WebSocket-Extensions",
        ),
    ],
)
def test_badRequestsAreRefusedWithAClearStatus(
    method: bytes, version: bytes, headers: dict[bytes, list[bytes]], status: int, words: str
) -> None:
    with pytest.raises(HandshakeRefused) as caught:
        checkRequest(method, version, headers)
    assert caught.value.status == status
    assert words in caught.value.message


def test_426SaysWhichVersionWeSpeak() -> None:
    with pytest.raises(HandshakeRefused) as caught:
        checkRequest(b"GET", b"HTTP/1.1", upgrade(sec_websocket_version=[b"8"]))
    assert (b"Sec-WebSocket-Version", b"13") in caught.value.headers


@pytest.mark.parametrize(
    ("origin", "host", "secure", "allowed", "ok"),
    [
        (None, b"example.com", False, None, True),
        (b"http://example.com", b"example.com", False, None, True),
        (b"http://example.com:8080", b"example.com:8080", False, None, True),
        (b"https://example.com", b"example.com", True, None, True),
        (b"https://example.com", b"example.com:443", True, None, True),
        (b"http://example.com", b"example.com", True, None, False),
        (b"http://evil.com", b"example.com", False, None, False),
        (b"null", b"example.com", False, None, False),
        (b"http://evil.com", b"example.com", False, ["*"], True),
        (b"https://app.example", b"example.com", False, ["https://app.example"], True),
        (b"https://other.example", b"example.com", False, ["https://app.example"], False),
    ],
)
def test_originRules(
    origin: bytes | None, host: bytes, secure: bool, allowed: list[str] | None, ok: bool
) -> None:
    assert originAllowed(origin, host, secure, allowed) is ok


def test_subprotocolIsTheServersFirstChoiceAmongTheOffered() -> None:
    headers = upgrade(sec_websocket_protocol=[b"chat.v1, chat.v2"])
    agreed = checkRequest(b"GET", b"HTTP/1.1", headers, subprotocols=("chat.v2", "chat.v1"))
    assert agreed.subprotocol == "chat.v2"
    assert (b"Sec-WebSocket-Protocol", b"chat.v2") in agreed.headers
    agreed = checkRequest(b"GET", b"HTTP/1.1", headers, subprotocols=("other",))
    assert agreed.subprotocol is None


def test_deflateNegotiation() -> None:
    headers = upgrade(
        sec_websocket_extensions=[
            b"permessage-deflate; server_max_window_bits=8, "
            b"permessage-deflate; client_no_context_takeover; server_max_window_bits=10"
        ]
    )
    agreed = checkRequest(b"GET", b"HTTP/1.1", headers)
    assert agreed.deflate is not None
    assert agreed.deflate.clientNoContextTakeover
    assert agreed.deflate.serverMaxWindowBits == 10
    assert (
        b"Sec-WebSocket-Extensions",
        b"permessage-deflate; client_no_context_takeover; server_max_window_bits=10",
    ) in agreed.headers
    assert checkRequest(b"GET", b"HTTP/1.1", headers, compression=False).deflate is None


@pytest.mark.parametrize(
    "offer",
    [
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; unknown_param",
        "x-webkit-deflate-frame",
    ],
)
def test_offersWeCannotHonourAreDeclined(offer: str) -> None:
    assert PerMessageDeflate.fromOffers(offer) is None


def test_extensionGrammar() -> None:
    assert parseExtensions('a; b="1", c') == [("a", {"b": "1"}), ("c", {})]
    with pytest.raises(HandshakeError, match="repeated"):
        parseExtensions("a; b; b")


def test_clientRequestAndResponseCheck() -> None:
    key = base64.b64encode(b"k" * 16)
    request = clientRequest(
        "example.com", 8080, False, "/chat?x=1", key, headers={"Cookie": "a=b"}, subprotocols=["v1"]
    )
    assert request.startswith(b"GET /chat?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n")
    assert b"Sec-WebSocket-Protocol: v1\r\n" in request and b"Cookie: a=b\r\n" in request
    good = {
        b"upgrade": [b"websocket"],
        b"connection": [b"Upgrade"],
        b"sec-websocket-accept": [acceptKey(key)],
        b"sec-websocket-protocol": [b"v1"],
        b"sec-websocket-extensions": [b"permessage-deflate; server_no_context_takeover"],
    }
    subprotocol, deflate = checkResponse(101, good, key, ["v1"])
    assert subprotocol == "v1" and deflate is not None and deflate.serverNoContextTakeover
    with pytest.raises(HandshakeError, match="instead of 101"):
        checkResponse(200, good, key, ["v1"])
    with pytest.raises(HandshakeError, match="did not offer"):
        checkResponse(101, good, key, ["v2"])
    with pytest.raises(HandshakeError, match="does not match"):
        checkResponse(101, {**good, b"sec-websocket-accept": [b"x"]}, key, ["v1"])
    with pytest.raises(HandshakeError, match="did not offer"):
        checkResponse(101, good, key, ["v1"], compression=False)


def test_clientRequestRefusesHeaderInjection() -> None:
    with pytest.raises(ValueError, match="CR, LF"):
        clientRequest("h", 80, False, "/", KEY, headers={"X": "a\r\nEvil: 1"})
