"""The PROXY protocol's version 2 header: binary, a 12-byte signature then a length.

The 16 fixed bytes are the signature, the version and command (``0x21``: version 2,
PROXY; ``0x20``: LOCAL, a connection the proxy made itself, such as a health check),
the address family and transport (``0x11`` TCP over IPv4, ``0x21`` over IPv6, ``0x31``
UNIX stream, ``0x00`` unspecified) and the length of the rest: the addresses, then
type-length-value fields (TLVs). Every length is checked against what is there, and
TLVs of types we do not know are kept as bytes, never interpreted. ``V2Parser`` is
sans-IO, like V1Parser; ``encodeV2`` makes a header.
Tests: tests/protocols/test_haproxy.py.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from collections.abc import Sequence
from typing import Any

from torsion.internet.address import IPv4Address, IPv6Address, UNIXAddress
from torsion.protocols.haproxy._exceptions import (
    InvalidNetworkProtocol,
    InvalidProxyHeader,
    MissingAddressData,
)
from torsion.protocols.haproxy._info import ProxyInfo

__all__ = ["SIGNATURE", "V2Parser", "encodeV2"]

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
# Signature, version and command, family and transport, length.
FIXED_LENGTH = 16
# The length field is 16 bits, so no header is longer than this.
MAX_LENGTH = FIXED_LENGTH + 0xFFFF

LOCAL, PROXY = 0x0, 0x1
_UNSPEC, _INET_STREAM, _INET6_STREAM, _UNIX_STREAM = 0x00, 0x11, 0x21, 0x31
_DATAGRAMS = {0x12: "UDP over IPv4", 0x22: "UDP over IPv6", 0x32: "UNIX datagram"}
# The address block of each family: its length, and how to read it.
_ADDRESS_LENGTHS = {_INET_STREAM: 12, _INET6_STREAM: 36, _UNIX_STREAM: 216}


def _tlvs(block: bytes) -> tuple[tuple[int, bytes], ...]:
    """Split ``block`` into (type, value) pairs, checking each length."""
    found = []
    offset, end = 0, len(block)
    while offset < end:
        if end - offset < 3:
            raise InvalidProxyHeader(
                f"the PROXY header ends inside a TLV's type and length ({end - offset} bytes)"
            )
        kind, length = block[offset], int.from_bytes(block[offset + 1 : offset + 3], "big")
        offset += 3
        if length > end - offset:
            raise InvalidProxyHeader(
                f"a TLV of type {kind:#04x} says {length} bytes but only {end - offset} are left "
                "in the PROXY header"
            )
        found.append((kind, block[offset : offset + length]))
        offset += length
    return tuple(found)


def _unixPath(raw: bytes) -> UNIXAddress:
    return UNIXAddress(os.fsdecode(raw.split(b"\0", 1)[0]) or None)


def _addresses(family: int, block: bytes) -> tuple[Any, Any]:
    # Addresses are written as the ipaddress module writes them, as V1Parser's are.
    if family == _INET_STREAM:
        sourcePort, destinationPort = struct.unpack("!HH", block[8:12])
        return (
            IPv4Address("TCP", str(ipaddress.IPv4Address(block[0:4])), sourcePort),
            IPv4Address("TCP", str(ipaddress.IPv4Address(block[4:8])), destinationPort),
        )
    if family == _INET6_STREAM:
        sourcePort, destinationPort = struct.unpack("!HH", block[32:36])
        return (
            IPv6Address("TCP", str(ipaddress.IPv6Address(block[0:16])), sourcePort),
            IPv6Address("TCP", str(ipaddress.IPv6Address(block[16:32])), destinationPort),
        )
    return _unixPath(block[0:108]), _unixPath(block[108:216])


class V2Parser:
    """Reads a version 2 header from the bytes a connection begins with.

    ``feed`` returns ``(None, None)`` until the whole header has arrived, then
    ``(ProxyInfo, the bytes after the header)``.

    Args:
        maxLength: refuse headers longer than this many bytes (the format allows
            16 + 65535).

    Raises (from ``feed``):
        InvalidProxyHeader: a wrong signature, version or command, a header over
            ``maxLength``, or TLVs whose lengths do not fit.
        InvalidNetworkProtocol: a datagram or unknown family.
        MissingAddressData: a length too short for the family's addresses.
    """

    __slots__ = ("_buffer", "_needed", "maxLength")

    def __init__(self, maxLength: int = MAX_LENGTH) -> None:
        self._buffer = b""
        self._needed = FIXED_LENGTH
        self.maxLength = maxLength

    def feed(self, data: bytes) -> tuple[ProxyInfo | None, bytes | None]:
        """Take ``data``; the header's information and what follows it, once complete."""
        buffer = self._buffer + data
        if self._needed == FIXED_LENGTH:
            if not buffer.startswith(SIGNATURE[: len(buffer)]):
                raise InvalidProxyHeader(
                    "the connection does not begin with the PROXY v2 signature"
                )
            if len(buffer) >= FIXED_LENGTH:
                self._needed = FIXED_LENGTH + int.from_bytes(buffer[14:16], "big")
                if self._needed > self.maxLength:
                    raise InvalidProxyHeader(
                        f"the PROXY v2 header is {self._needed} bytes long; this server takes "
                        f"at most {self.maxLength}"
                    )
        if len(buffer) < self._needed:
            self._buffer = buffer
            return None, None
        needed, self._buffer, self._needed = self._needed, b"", FIXED_LENGTH
        return self.parse(buffer[:needed]), buffer[needed:]

    @classmethod
    def parse(cls, header: bytes) -> ProxyInfo:
        """Return what the complete ``header`` says."""
        if len(header) < FIXED_LENGTH or not header.startswith(SIGNATURE):
            raise InvalidProxyHeader("the PROXY v2 header is shorter than 16 bytes or unsigned")
        versionCommand, family = header[12], header[13]
        length = int.from_bytes(header[14:16], "big")
        if len(header) != FIXED_LENGTH + length:
            raise MissingAddressData(
                f"the PROXY v2 header says {length} bytes follow; {len(header) - 16} do"
            )
        version, command = versionCommand >> 4, versionCommand & 0xF
        if version != 2:
            raise InvalidProxyHeader(f"the PROXY header is version {version}; this takes 2")
        if command == LOCAL:
            # The proxy's own connection: its addresses are the connection's.
            return ProxyInfo(header, None, None)
        if command != PROXY:
            raise InvalidProxyHeader(f"unknown PROXY v2 command {command:#x}; 0 or 1 are known")
        body = header[FIXED_LENGTH:]
        if family == _UNSPEC:
            return ProxyInfo(header, None, None, _tlvs(body))
        if family in _DATAGRAMS:
            raise InvalidNetworkProtocol(
                f"the PROXY header is for {_DATAGRAMS[family]}, on a stream connection"
            )
        needed = _ADDRESS_LENGTHS.get(family)
        if needed is None:
            raise InvalidNetworkProtocol(f"unknown PROXY v2 family and transport {family:#04x}")
        if length < needed:
            raise MissingAddressData(
                f"the PROXY v2 header has {length} bytes for addresses of family "
                f"{family:#04x}, which take {needed}"
            )
        source, destination = _addresses(family, body[:needed])
        return ProxyInfo(header, source, destination, _tlvs(body[needed:]))


def encodeV2(
    source: Any, destination: Any, tlvs: Sequence[tuple[int, bytes]] = (), local: bool = False
) -> bytes:
    """Return the version 2 header for a connection from ``source`` to ``destination``.

    Both are IPv4Address, IPv6Address or UNIXAddress (of one kind); ``local`` (or
    None addresses) makes a LOCAL header, which says to use the connection's own.

    Raises:
        ValueError: addresses of different kinds, or a TLV over 65535 bytes.
    """
    if local or source is None or destination is None:
        command, family, block = LOCAL, _UNSPEC, b""
    elif isinstance(source, IPv4Address) and isinstance(destination, IPv4Address):
        command, family = PROXY, _INET_STREAM
        block = (
            socket.inet_pton(socket.AF_INET, source.host)
            + socket.inet_pton(socket.AF_INET, destination.host)
            + struct.pack("!HH", source.port, destination.port)
        )
    elif isinstance(source, IPv6Address) and isinstance(destination, IPv6Address):
        command, family = PROXY, _INET6_STREAM
        block = (
            socket.inet_pton(socket.AF_INET6, source.host)
            + socket.inet_pton(socket.AF_INET6, destination.host)
            + struct.pack("!HH", source.port, destination.port)
        )
    elif isinstance(source, UNIXAddress) and isinstance(destination, UNIXAddress):
        command, family = PROXY, _UNIX_STREAM
        block = b"".join(
            os.fsencode(address.name or "")[:107].ljust(108, b"\0")
            for address in (source, destination)
        )
    else:
        raise ValueError(
            f"source {source!r} and destination {destination!r} are not addresses of one kind "
            "(IPv4Address, IPv6Address or UNIXAddress)"
        )
    for kind, value in tlvs:
        if not 0 <= kind <= 255 or len(value) > 0xFFFF:
            raise ValueError(f"a TLV has a type from 0 to 255 and at most 65535 bytes: {kind!r}")
        block += bytes([kind]) + len(value).to_bytes(2, "big") + value
    if len(block) > 0xFFFF:
        raise ValueError(
            f"a PROXY v2 header holds at most 65535 bytes after 16; this has {len(block)}"
        )
    return SIGNATURE + bytes([0x20 | command, family]) + len(block).to_bytes(2, "big") + block
