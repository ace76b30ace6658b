"""The UDP header codec (RFC 768), checksum over the IPv4 pseudo-header.

Sans-IO: ``parseUDP`` checks the length field and the checksum (0 meaning "none",
as RFC 768 allows over IPv4), ``encodeUDP`` fills the checksum in. ``RawUDPProtocol``
(torsion.pair.rawudp) uses them to carry DatagramProtocols over the raw stack.
Tests: tests/pair/test_udp.py.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from torsion.pair._layer import checkNumber
from torsion.pair.ip import PROTOCOL_UDP, checkAddress, internetChecksum
from torsion.pair.raw import MalformedPacket

__all__ = ["HEADER_SIZE", "UDPHeader", "encodeUDP", "parseUDP"]

HEADER_SIZE = 8
_HEADER = struct.Struct("!HHHH")


@dataclass(frozen=True, slots=True)
class UDPHeader:
    """A decoded UDP header (Twisted's attribute names: ``len`` is the length field)."""

    source: int
    dest: int
    len: int
    check: int


def _pseudoHeader(source: str, dest: str, length: int) -> bytes:
    return (
        socket.inet_aton(checkAddress(source))
        + socket.inet_aton(checkAddress(dest))
        + struct.pack("!BBH", 0, PROTOCOL_UDP, length)
    )


def parseUDP(data: bytes, source: str, dest: str) -> tuple[UDPHeader, bytes]:
    """Decode a UDP datagram that came from IPv4 ``source`` to ``dest``.

    Raises:
        MalformedPacket: shorter than its header, a length field that does not fit,
            or a checksum that does not match.
    """
    if len(data) < HEADER_SIZE:
        raise MalformedPacket(f"{len(data)} bytes are shorter than a UDP header")
    header = UDPHeader(*_HEADER.unpack_from(data))
    if header.len < HEADER_SIZE or header.len > len(data):
        raise MalformedPacket(f"a UDP length of {header.len} in {len(data)} bytes")
    segment = data[: header.len]
    if header.check and internetChecksum(_pseudoHeader(source, dest, header.len) + segment):
        raise MalformedPacket("the UDP checksum does not match")
    return header, segment[HEADER_SIZE:]


def encodeUDP(source: str, dest: str, sourcePort: int, destPort: int, payload: bytes) -> bytes:
    """Return a UDP datagram from ``source:sourcePort`` to ``dest:destPort``.

    Raises:
        TypeError: a port that is not 0-65535. ValueError: bad addresses or too big.
    """
    checkNumber(sourcePort, 16, "a UDP port")
    checkNumber(destPort, 16, "a UDP port")
    length = HEADER_SIZE + len(payload)
    if length > 0xFFFF:
        raise ValueError(f"a UDP datagram holds at most {0xFFFF - HEADER_SIZE} bytes")
    segment = bytearray(_HEADER.pack(sourcePort, destPort, length, 0)) + payload
    check = internetChecksum(_pseudoHeader(source, dest, length) + segment)
    struct.pack_into("!H", segment, 6, check or 0xFFFF)
    return bytes(segment)
