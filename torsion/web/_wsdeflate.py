"""permessage-deflate (RFC 7692): negotiation and the per-message (de)compressors.

The server side reads the client's offers from Sec-WebSocket-Extensions and accepts
the first it can honour (`PerMessageDeflate.fromOffers`); the client side sends an
offer (`PerMessageDeflate.offer`) and checks the server's answer
(`PerMessageDeflate.fromResponse`). The agreed parameters then make a compressor for
our messages and a decompressor for the peer's, each keeping its LZ77 window between
messages unless the matching ``*_no_context_takeover`` was agreed.

Inflating is bounded: `Decompressor.decompress` never produces more than the caller's
limit, so a small message that inflates to gigabytes (a zip bomb) is caught once it
passes the message size limit, without the memory for it.

zlib cannot compress with an 8-bit window, so an offer that demands
server_max_window_bits=8 is declined (the RFC lets a server decline any offer).

Tests: tests/web/websocket/test_deflate.py.
"""

from __future__ import annotations

import re
import zlib

__all__ = ["Compressor", "Decompressor", "HandshakeError", "PerMessageDeflate"]

_TAIL = b"\x00\x00\xff\xff"
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


class HandshakeError(ValueError):
    """A Sec-WebSocket-Extensions value that cannot be accepted."""


def parseExtensions(value: str) -> list[tuple[str, dict[str, str | None]]]:
    """Parse a Sec-WebSocket-Extensions value into (name, {param: value}) pairs.

    Raises:
        HandshakeError: the value is not the RFC 6455 section 9.1 grammar, or a
            parameter is repeated.
    """
    result: list[tuple[str, dict[str, str | None]]] = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        name, *params = (part.strip() for part in item.split(";"))
        if not _TOKEN.fullmatch(name):
            raise HandshakeError(f"bad extension name {name!r}")
        parsed: dict[str, str | None] = {}
        for param in params:
            key, equals, raw = param.partition("=")
            key = key.strip()
            paramValue: str | None = raw.strip() if equals else None
            if (
                paramValue is not None
                and len(paramValue) >= 2
                and paramValue[0] == '"' == paramValue[-1]
            ):
                paramValue = paramValue[1:-1]
            if not _TOKEN.fullmatch(key) or (
                paramValue is not None and not _TOKEN.fullmatch(paramValue)
            ):
                raise HandshakeError(f"bad extension parameter {param!r} in {name}")
            if key in parsed:
                raise HandshakeError(f"extension parameter {key} repeated in {name}")
            parsed[key] = paramValue
        result.append((name, parsed))
    return result


def _windowBits(value: str | None, name: str) -> int:
    if value is None or not value.isdigit() or value[0] == "0" or not 8 <= int(value) <= 15:
        raise HandshakeError(f"{name} must be an integer from 8 to 15, not {value!r}")
    return int(value)


class Compressor:
    """Compresses our messages; messages under `threshold` bytes are sent as they are."""

    __slots__ = ("_bits", "_object", "_reset", "threshold")

    def __init__(self, bits: int, reset: bool, threshold: int) -> None:
        self._bits = bits
        self._reset = reset
        self.threshold = threshold
        self._object = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -bits)

    def compress(self, data: bytes) -> bytes:
        compressor = self._object
        out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        if self._reset:
            self._object = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -self._bits)
        return out[:-4] if out.endswith(_TAIL) else out + b"\x00"


class Decompressor:
    """Inflates the peer's messages, never past the caller's limit."""

    __slots__ = ("_object", "_reset")

    def __init__(self, reset: bool) -> None:
        self._reset = reset
        # A 15-bit window inflates a stream made with any smaller window.
        self._object = zlib.decompressobj(-15)

    def decompress(self, data: bytes, limit: int) -> bytes:
        """Inflate `data`; returns more than `limit` bytes only to say it is too much.

        Raises:
            ProtocolError: 1007 if `data` is not a valid deflate stream.
        """
        try:
            out = self._object.decompress(data, limit + 1)
        except zlib.error as error:
            raise _corrupt(error) from None
        return out

    def finish(self, limit: int) -> bytes:
        """The end of a message: inflate the implied sync-flush tail."""
        try:
            out = self._object.decompress(_TAIL, limit + 1)
        except zlib.error as error:
            raise _corrupt(error) from None
        if self._reset:
            self._object = zlib.decompressobj(-15)
        return out


def _corrupt(error: zlib.error) -> Exception:
    from torsion.web._wsframes import ProtocolError

    return ProtocolError(1007, f"a compressed message does not inflate ({error})")


class PerMessageDeflate:
    """The agreed permessage-deflate parameters of one connection.

    Args:
        serverNoContextTakeover: the server resets its compressor after each message.
        clientNoContextTakeover: the client resets its compressor after each message.
        serverMaxWindowBits: the server compresses with at most this window (9-15).
        clientMaxWindowBits: the client compresses with at most this window (9-15).
        threshold: messages shorter than this are sent uncompressed (RFC 7692 allows
            it; a tiny message only grows when compressed).
    """

    __slots__ = (
        "clientMaxWindowBits",
        "clientNoContextTakeover",
        "serverMaxWindowBits",
        "serverNoContextTakeover",
        "threshold",
    )

    def __init__(
        self,
        serverNoContextTakeover: bool = False,
        clientNoContextTakeover: bool = False,
        serverMaxWindowBits: int = 15,
        clientMaxWindowBits: int = 15,
        threshold: int = 64,
    ) -> None:
        self.serverNoContextTakeover = serverNoContextTakeover
        self.clientNoContextTakeover = clientNoContextTakeover
        self.serverMaxWindowBits = serverMaxWindowBits
        self.clientMaxWindowBits = clientMaxWindowBits
        self.threshold = threshold

    def __repr__(self) -> str:
        return f"<PerMessageDeflate {self.responseValue()}>"

    def compressor(self, client: bool) -> Compressor:
        """The compressor for messages sent by the client (True) or server side."""
        if client:
            return Compressor(
                max(9, self.clientMaxWindowBits), self.clientNoContextTakeover, self.threshold
            )
        return Compressor(
            max(9, self.serverMaxWindowBits), self.serverNoContextTakeover, self.threshold
        )

    def decompressor(self, client: bool) -> Decompressor:
        """The decompressor for messages received by the client (True) or server."""
        if client:
            return Decompressor(self.serverNoContextTakeover)
        return Decompressor(self.clientNoContextTakeover)

    # -- server side ----------------------------------------------------------------

    @classmethod
    def fromOffers(cls, header: str, threshold: int = 64) -> PerMessageDeflate | None:
        """Accept the first permessage-deflate offer in `header` that we can honour.

        Returns None if there is none (the connection then goes uncompressed).

        Raises:
            HandshakeError: the header cannot be parsed.
        """
        for name, params in parseExtensions(header):
            if name != "permessage-deflate":
                continue
            try:
                agreed = cls._fromOffer(params, threshold)
            except HandshakeError:
                continue
            if agreed is not None:
                return agreed
        return None

    @classmethod
    def _fromOffer(cls, params: dict[str, str | None], threshold: int) -> PerMessageDeflate | None:
        agreed = cls(threshold=threshold)
        for key, value in params.items():
            if key == "server_no_context_takeover":
                if value is not None:
                    raise HandshakeError("server_no_context_takeover takes no value")
                agreed.serverNoContextTakeover = True
            elif key == "client_no_context_takeover":
                if value is not None:
                    raise HandshakeError("client_no_context_takeover takes no value")
                agreed.clientNoContextTakeover = True
            elif key == "server_max_window_bits":
                agreed.serverMaxWindowBits = _windowBits(value, key)
                if agreed.serverMaxWindowBits == 8:
                    return None
            elif key == "client_max_window_bits":
                # Without a value the client only says it could honour a limit; with
                # one, it will compress with at most that window. We set no limit,
                # and inflate any window, so either way there is nothing to answer.
                if value is not None:
                    agreed.clientMaxWindowBits = _windowBits(value, key)
            else:
                raise HandshakeError(f"unknown permessage-deflate parameter {key}")
        return agreed

    def responseValue(self) -> str:
        """The Sec-WebSocket-Extensions value that accepts these parameters."""
        parts = ["permessage-deflate"]
        if self.serverNoContextTakeover:
            parts.append("server_no_context_takeover")
        if self.clientNoContextTakeover:
            parts.append("client_no_context_takeover")
        if self.serverMaxWindowBits != 15:
            parts.append(f"server_max_window_bits={self.serverMaxWindowBits}")
        if self.clientMaxWindowBits != 15:
            parts.append(f"client_max_window_bits={self.clientMaxWindowBits}")
        return "; ".join(parts)

    # -- client side ----------------------------------------------------------------

    @staticmethod
    def offer() -> str:
        """The offer a client sends: plain permessage-deflate, any window accepted."""
        return "permessage-deflate; client_max_window_bits"

    @classmethod
    def fromResponse(cls, header: str, threshold: int = 64) -> PerMessageDeflate:
        """Check the server's answer to `offer()` and return what it agreed.

        Raises:
            HandshakeError: the server answered with something we did not offer.
        """
        extensions = parseExtensions(header)
        if len(extensions) != 1 or extensions[0][0] != "permessage-deflate":
            raise HandshakeError(f"the server accepted extensions we did not offer: {header!r}")
        agreed = cls(threshold=threshold)
        for key, value in extensions[0][1].items():
            if key == "server_no_context_takeover" and value is None:
                agreed.serverNoContextTakeover = True
            elif key == "client_no_context_takeover" and value is None:
                agreed.clientNoContextTakeover = True
            elif key == "server_max_window_bits":
                agreed.serverMaxWindowBits = _windowBits(value, key)
            elif key == "client_max_window_bits":
                agreed.clientMaxWindowBits = _windowBits(value, key)
                if agreed.clientMaxWindowBits == 8:
                    raise HandshakeError(
                        "the server asks for client_max_window_bits=8, which zlib cannot do"
                    )
            else:
                raise HandshakeError(
                    f"the server answered permessage-deflate with {key}, which is not allowed"
                )
        return agreed
