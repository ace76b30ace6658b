"""HeaderReader: a PROXY header of either version, told apart by its first byte.

A v1 header starts with ``P`` (``PROXY ``), a v2 one with ``\\r`` (its signature); a
connection that starts with anything else has no header, which is an error at once,
before any more is read. Sans-IO, like the parsers it hands the bytes to.
Tests: tests/protocols/test_haproxy.py.
"""

from __future__ import annotations

from torsion.protocols.haproxy._exceptions import InvalidProxyHeader
from torsion.protocols.haproxy._info import ProxyInfo
from torsion.protocols.haproxy._v1parser import V1Parser
from torsion.protocols.haproxy._v2parser import MAX_LENGTH, V2Parser

__all__ = ["HeaderReader"]


class HeaderReader:
    """Reads the PROXY header (v1 or v2) that a connection begins with.

    ``feed`` as bytes arrive: ``(None, None)`` until the header is complete, then
    ``(ProxyInfo, the bytes after it)``; a bad header raises InvalidProxyHeader (or
    one of its subclasses). At most 107 bytes (v1) or ``maxV2Length`` bytes (v2) are
    held.
    """

    __slots__ = ("_maxV2Length", "_parser")

    def __init__(self, maxV2Length: int = MAX_LENGTH) -> None:
        self._parser: V1Parser | V2Parser | None = None
        self._maxV2Length = maxV2Length

    def feed(self, data: bytes) -> tuple[ProxyInfo | None, bytes | None]:
        """Take ``data``; the header's information and what follows it, once complete."""
        parser = self._parser
        if parser is None:
            first = data[:1]
            if not first:
                return None, None
            if first == b"P":
                parser = V1Parser()
            elif first == b"\r":
                parser = V2Parser(self._maxV2Length)
            else:
                raise InvalidProxyHeader(
                    f"the connection does not begin with a PROXY header (it begins {data[:8]!r}); "
                    "the proxy in front must send one (HAProxy: send-proxy or send-proxy-v2)"
                )
            self._parser = parser
        return parser.feed(data)
