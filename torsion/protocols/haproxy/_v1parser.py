"""The PROXY protocol's version 1 header: one text line, at most 107 bytes.

``PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\\r\\n`` names the client's address and
port, then the address and port it connected to; ``PROXY UNKNOWN\\r\\n`` (with
anything after it) says the proxy does not know, so the connection's own addresses
stand. ``V1Parser`` is sans-IO: bytes in, the ProxyInfo and the bytes after the header
out. ``encodeV1`` makes a header, for a torsion client or proxy that sends one.
Tests: tests/protocols/test_haproxy.py.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from torsion.internet.address import IPv4Address, IPv6Address
from torsion.protocols.haproxy._exceptions import (
    InvalidNetworkProtocol,
    InvalidProxyHeader,
    MissingAddressData,
)
from torsion.protocols.haproxy._info import ProxyInfo

__all__ = ["V1Parser", "encodeV1"]

PREFIX = b"PROXY "
# The longest line the specification allows, CRLF included ("PROXY UNKNOWN" with the
# longest IPv6 addresses and ports).
MAX_LENGTH = 107


def _port(text: bytes, which: str) -> int:
    if not (text.isdigit() and len(text) <= 5 and int(text) <= 65535):
        raise InvalidProxyHeader(f"the {which} port {text!r} is not a number from 0 to 65535")
    return int(text)


def _address(text: bytes, version: int, which: str) -> str:
    try:
        address = ipaddress.ip_address(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidProxyHeader(f"the {which} address {text!r} is not an IP address") from None
    if address.version != version or "%" in str(address):
        raise InvalidProxyHeader(f"the {which} address {text!r} is not an IPv{version} address")
    return str(address)


class V1Parser:
    """Reads a version 1 header from the bytes a connection begins with.

    ``feed`` as bytes arrive: it returns ``(None, None)`` until the line is complete,
    then ``(ProxyInfo, the bytes after the line)``.

    Raises (from ``feed``):
        InvalidProxyHeader: not ``PROXY ``, no CRLF within 107 bytes, bad addresses
            or ports.
        InvalidNetworkProtocol: a protocol other than TCP4, TCP6 or UNKNOWN.
        MissingAddressData: addresses or ports missing.
    """

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> tuple[ProxyInfo | None, bytes | None]:
        """Take ``data``; the header's information and what follows it, once complete."""
        buffer = self._buffer + data
        end = buffer.find(b"\r\n", 0, MAX_LENGTH)
        if end < 0:
            if not buffer.startswith(PREFIX[: len(buffer)]):
                raise InvalidProxyHeader(f"the connection does not begin with {PREFIX!r}")
            if b"\n" in buffer[:MAX_LENGTH]:
                raise InvalidProxyHeader("the PROXY line ends with LF instead of CRLF")
            if len(buffer) >= MAX_LENGTH:
                raise InvalidProxyHeader(
                    f"the PROXY line has no CRLF within {MAX_LENGTH} bytes, the most a "
                    "version 1 header may take"
                )
            self._buffer = buffer
            return None, None
        self._buffer = b""
        return self.parse(buffer[: end + 2]), buffer[end + 2 :]

    @classmethod
    def parse(cls, line: bytes) -> ProxyInfo:
        """Return what the complete header ``line`` (with its CRLF) says."""
        if not line.startswith(PREFIX):
            raise InvalidProxyHeader(f"the connection does not begin with {PREFIX!r}")
        if not line.endswith(b"\r\n") or len(line) > MAX_LENGTH:
            raise InvalidProxyHeader(f"a PROXY line is at most {MAX_LENGTH} bytes, ending in CRLF")
        fields = line[:-2].split(b" ")
        protocol = fields[1] if len(fields) > 1 else b""
        if protocol == b"UNKNOWN":
            return ProxyInfo(line, None, None)
        if protocol not in (b"TCP4", b"TCP6"):
            raise InvalidNetworkProtocol(
                f"the PROXY line names the protocol {protocol!r}; it is TCP4, TCP6 or UNKNOWN"
            )
        if len(fields) < 6:
            raise MissingAddressData(
                f"the PROXY {protocol.decode()} line needs two addresses and two ports, "
                f"separated by single spaces; it has {len(fields) - 2} fields"
            )
        if len(fields) > 6:
            raise InvalidProxyHeader("the PROXY line has fields after the destination port")
        version = 4 if protocol == b"TCP4" else 6
        address: Any = IPv4Address if version == 4 else IPv6Address
        source = address("TCP", _address(fields[2], version, "source"), _port(fields[4], "source"))
        destination = address(
            "TCP", _address(fields[3], version, "destination"), _port(fields[5], "destination")
        )
        return ProxyInfo(line, source, destination)


def encodeV1(source: Any, destination: Any) -> bytes:
    """Return the version 1 header for a connection from ``source`` to ``destination``.

    Both are IPv4Address or IPv6Address (of one family); anything else, or None,
    gives ``PROXY UNKNOWN``.
    """
    if isinstance(source, IPv4Address) and isinstance(destination, IPv4Address):
        protocol = "TCP4"
    elif isinstance(source, IPv6Address) and isinstance(destination, IPv6Address):
        protocol = "TCP6"
    else:
        return b"PROXY UNKNOWN\r\n"
    return (
        f"PROXY {protocol} {source.host} {destination.host} {source.port} {destination.port}\r\n"
    ).encode("ascii")
