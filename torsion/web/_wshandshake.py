"""The WebSocket opening handshake (RFC 6455 section 4), sans-IO, both sides.

The server side checks an upgrade request's headers and decides the answer
(`checkRequest`): the subprotocol, permessage-deflate, and the 101's headers, or a
`HandshakeRefused` naming the status (400, 403, 426) and what the client did wrong. The
client side builds the request (`clientRequest`) and checks the server's 101
(`checkResponse`).

Tests: tests/web/websocket/test_handshake.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from torsion.web._wsdeflate import HandshakeError, PerMessageDeflate

__all__ = [
    "HandshakeRefused",
    "ServerHandshake",
    "acceptKey",
    "checkRequest",
    "checkResponse",
    "clientRequest",
    "newKey",
]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class HandshakeRefused(Exception):
    """An upgrade request we answer with an HTTP error instead of 101.

    `headers` are extra response headers (426 says which version we speak).
    """

    def __init__(
        self, status: int, message: str, headers: Sequence[tuple[bytes, bytes]] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = list(headers)


def acceptKey(key: bytes) -> bytes:
    """The Sec-WebSocket-Accept value that answers Sec-WebSocket-Key `key`."""
    return base64.b64encode(hashlib.sha1(key + _GUID).digest())


def newKey() -> bytes:
    """A fresh Sec-WebSocket-Key: 16 random bytes, base64."""
    return base64.b64encode(os.urandom(16))


def _tokens(values: Sequence[bytes] | None) -> list[bytes]:
    if not values:
        return []
    return [
        token.strip().lower() for value in values for token in value.split(b",") if token.strip()
    ]


def _one(headers: Mapping[bytes, Sequence[bytes]], name: bytes) -> bytes | None:
    values = headers.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise HandshakeRefused(400, f"more than one {name.decode()} header")
    return values[0].strip()


class ServerHandshake:
    """What the server agreed: the 101's extra headers, subprotocol and compression."""

    __slots__ = ("deflate", "headers", "subprotocol")

    def __init__(
        self,
        headers: list[tuple[bytes, bytes]],
        subprotocol: str | None,
        deflate: PerMessageDeflate | None,
    ) -> None:
        self.headers = headers
        self.subprotocol = subprotocol
        self.deflate = deflate


def originAllowed(
    origin: bytes | None, host: bytes | None, secure: bool, allowedOrigins: Sequence[str] | None
) -> bool:
    """Whether a browser page from `origin` may open this WebSocket.

    `allowedOrigins` None means same-origin only: the Origin's scheme and host:port must
    be this server's (as the Host header names it). Clients that are not browsers send
    no Origin and are allowed; a browser always sends one, so a page on another site
    cannot open a socket that rides on this site's cookies.
    """
    if origin is None:
        return True
    text = origin.decode("latin-1").strip()
    if allowedOrigins is not None:
        return "*" in allowedOrigins or text.lower() in {
            o.lower().rstrip("/") for o in allowedOrigins
        }
    if host is None:
        return False
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    if (parts.scheme == "https") != secure:
        return False
    defaultPort = ":443" if secure else ":80"
    wanted = host.decode("latin-1").lower()
    netloc = parts.netloc.lower()
    return netloc == wanted or netloc + defaultPort == wanted or netloc == wanted + defaultPort


def checkRequest(
    method: bytes,
    version: bytes,
    headers: Mapping[bytes, Sequence[bytes]],
    *,
    secure: bool = False,
    subprotocols: Sequence[str] = (),
    allowedOrigins: Sequence[str] | None = None,
    compression: bool = True,
) -> ServerHandshake:
    """Check an upgrade request (lowercased header names) and agree its parameters.

    Raises:
        HandshakeRefused: with the status to answer: 405 for a method other than GET,
            426 for a request that is not a WebSocket upgrade or asks for another
            version, 403 for a foreign Origin, 400 for the rest.
    """
    if method != b"GET":
        raise HandshakeRefused(405, "a WebSocket handshake is a GET request", [(b"Allow", b"GET")])
    if b"websocket" not in _tokens(headers.get(b"upgrade")):
        raise HandshakeRefused(
            426,
            "this is a WebSocket endpoint: connect with a WebSocket client "
            "(the request needs 'Upgrade: websocket')",
            [
                (b"Upgrade", b"websocket"),
                (b"Connection", b"Upgrade"),
                (b"Sec-WebSocket-Version", b"13"),
            ],
        )
    if version != b"HTTP/1.1":
        raise HandshakeRefused(400, "a WebSocket handshake needs HTTP/1.1")
    if b"upgrade" not in _tokens(headers.get(b"connection")):
        raise HandshakeRefused(400, "the request needs 'Connection: Upgrade'")
    wsVersion = _one(headers, b"sec-websocket-version")
    if wsVersion != b"13":
        raise HandshakeRefused(
            426,
            f"WebSocket version {wsVersion!r} is not supported; this server speaks version 13",
            [(b"Sec-WebSocket-Version", b"13")],
        )
    key = _one(headers, b"sec-websocket-key")
    if key is None:
        raise HandshakeRefused(400, "the request has no Sec-WebSocket-Key header")
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise ValueError
    except (ValueError, binascii.Error):
        raise HandshakeRefused(400, "Sec-WebSocket-Key must be 16 random bytes in base64") from None
    if not originAllowed(_one(headers, b"origin"), _one(headers, b"host"), secure, allowedOrigins):
        raise HandshakeRefused(
            403,
            "this WebSocket does not accept connections from pages of that origin "
            "(allowedOrigins on the server lists the ones it does)",
        )
    responseHeaders = [
        (b"Upgrade", b"websocket"),
        (b"Connection", b"Upgrade"),
        (b"Sec-WebSocket-Accept", acceptKey(key)),
    ]
    chosen = None
    offered = [token.decode("latin-1") for token in _tokens(headers.get(b"sec-websocket-protocol"))]
    if offered:
        # Our preference order, among those the client offered (compared without case,
        # answered as the server spells them).
        for name in subprotocols:
            if name.lower() in offered:
                chosen = name
                break
    if chosen is not None:
        responseHeaders.append((b"Sec-WebSocket-Protocol", chosen.encode("latin-1")))
    deflate = None
    extensions = headers.get(b"sec-websocket-extensions")
    if compression and extensions:
        try:
            deflate = PerMessageDeflate.fromOffers(
                ", ".join(value.decode("latin-1") for value in extensions)
            )
        except HandshakeError as error:
            raise HandshakeRefused(400, f"bad Sec-WebSocket-Extensions header: {error}") from None
        if deflate is not None:
            responseHeaders.append(
                (b"Sec-WebSocket-Extensions", deflate.responseValue().encode("ascii"))
            )
    return ServerHandshake(responseHeaders, chosen, deflate)


# -- client side ---------------------------------------------------------------------


def clientRequest(
    host: str,
    port: int,
    secure: bool,
    target: str,
    key: bytes,
    *,
    headers: Mapping[str | bytes, str | bytes] | None = None,
    subprotocols: Sequence[str] = (),
    compression: bool = True,
) -> bytes:
    """The bytes of the client's upgrade request."""
    defaultPort = 443 if secure else 80
    hostHeader = host if ":" not in host else f"[{host}]"
    if port != defaultPort:
        hostHeader += f":{port}"
    lines = [
        f"GET {target} HTTP/1.1".encode("latin-1"),
        b"Host: " + hostHeader.encode("idna" if not host.isascii() else "ascii"),
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Key: " + key,
        b"Sec-WebSocket-Version: 13",
    ]
    if subprotocols:
        lines.append(b"Sec-WebSocket-Protocol: " + ", ".join(subprotocols).encode("latin-1"))
    if compression:
        lines.append(b"Sec-WebSocket-Extensions: " + PerMessageDeflate.offer().encode("ascii"))
    for name, value in (headers or {}).items():
        rawName = name.encode("latin-1") if isinstance(name, str) else name
        rawValue = value.encode("latin-1") if isinstance(value, str) else value
        if b"\r" in rawName + rawValue or b"\n" in rawName + rawValue or b":" in rawName:
            raise ValueError(f"header {rawName!r}: {rawValue!r} holds CR, LF or (in the name) ':'")
        lines.append(rawName + b": " + rawValue)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def checkResponse(
    code: int,
    headers: Mapping[bytes, Sequence[bytes]],
    key: bytes,
    subprotocols: Sequence[str],
    compression: bool = True,
) -> tuple[str | None, PerMessageDeflate | None]:
    """Check the server's answer to our upgrade; return (subprotocol, deflate).

    Raises:
        HandshakeError: the answer is not a valid 101 for our request.
    """
    if code != 101:
        raise HandshakeError(f"the server answered {code} instead of 101 Switching Protocols")
    if b"websocket" not in _tokens(headers.get(b"upgrade")):
        raise HandshakeError("the server's 101 has no 'Upgrade: websocket'")
    if b"upgrade" not in _tokens(headers.get(b"connection")):
        raise HandshakeError("the server's 101 has no 'Connection: Upgrade'")
    accept = headers.get(b"sec-websocket-accept")
    if not accept or accept[0].strip() != acceptKey(key):
        raise HandshakeError("the server's Sec-WebSocket-Accept does not match our key")
    subprotocol = None
    chosen = headers.get(b"sec-websocket-protocol")
    if chosen:
        subprotocol = chosen[0].strip().decode("latin-1")
        if subprotocol.lower() not in {name.lower() for name in subprotocols}:
            raise HandshakeError(
                f"the server chose subprotocol {subprotocol!r}, which we did not offer"
            )
    deflate = None
    extensions = headers.get(b"sec-websocket-extensions")
    if extensions:
        if not compression:
            raise HandshakeError("the server accepted an extension we did not offer")
        deflate = PerMessageDeflate.fromResponse(
            ", ".join(value.decode("latin-1") for value in extensions)
        )
    return subprotocol, deflate
