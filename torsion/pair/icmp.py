"""ICMP for IPv4 (RFC 792): the message codec and an echo responder ("ping" answers).

``ICMPEchoResponder`` is registered on an IPProtocol at protocol 1. Each echo request
with a good checksum gets an echo reply carrying the same identifier, sequence number
and data, sent from the address the request was sent to; other messages are counted
and dropped. Tests: tests/pair/test_icmp.py and tests/pair/test_tuntap_netns.py
(iputils ping in a network namespace gets its replies).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from zope.interface import implementer

from torsion.pair._layer import DatagramLayer, checkNumber
from torsion.pair.ip import internetChecksum
from torsion.pair.raw import IRawDatagramProtocol, MalformedPacket

__all__ = [
    "ECHO_REPLY",
    "ECHO_REQUEST",
    "ICMPEchoResponder",
    "ICMPMessage",
    "encodeEcho",
    "encodeICMP",
    "parseICMP",
]

ECHO_REPLY = 0
DESTINATION_UNREACHABLE = 3
ECHO_REQUEST = 8
HEADER_SIZE = 8
_HEADER = struct.Struct("!BBH4s")
_ECHO = struct.Struct("!HH")


@dataclass(frozen=True, slots=True)
class ICMPMessage:
    """A decoded ICMP message: type, code, the 4 header bytes after the checksum
    (``rest``), and the data after the header."""

    type: int
    code: int
    check: int
    rest: bytes
    data: bytes

    @property
    def identifier(self) -> int:
        """The identifier of an echo request or reply."""
        return int(_ECHO.unpack(self.rest)[0])

    @property
    def sequence(self) -> int:
        """The sequence number of an echo request or reply."""
        return int(_ECHO.unpack(self.rest)[1])


def parseICMP(data: bytes) -> ICMPMessage:
    """Decode an ICMP message, checking its checksum.

    Raises:
        MalformedPacket: shorter than the 8-byte header, or a wrong checksum.
    """
    if len(data) < HEADER_SIZE:
        raise MalformedPacket(f"{len(data)} bytes are shorter than an ICMP header")
    if internetChecksum(data):
        raise MalformedPacket("the ICMP checksum does not match")
    kind, code, check, rest = _HEADER.unpack_from(data)
    return ICMPMessage(kind, code, check, rest, bytes(data[HEADER_SIZE:]))


def encodeICMP(kind: int, code: int, rest: bytes, data: bytes) -> bytes:
    """Return an ICMP message with its checksum filled in."""
    checkNumber(kind, 8, "an ICMP type")
    checkNumber(code, 8, "an ICMP code")
    if len(rest) != 4:
        raise ValueError(f"the ICMP header has 4 bytes after the checksum, not {len(rest)}")
    message = bytearray(_HEADER.pack(kind, code, 0, rest)) + data
    struct.pack_into("!H", message, 2, internetChecksum(message))
    return bytes(message)


def encodeEcho(kind: int, identifier: int, sequence: int, data: bytes) -> bytes:
    """Return an echo request (``kind`` 8) or reply (0)."""
    checkNumber(identifier, 16, "an echo identifier")
    checkNumber(sequence, 16, "an echo sequence number")
    return encodeICMP(kind, 0, _ECHO.pack(identifier, sequence), data)


@implementer(IRawDatagramProtocol)
class ICMPEchoResponder(DatagramLayer):
    """Answers ICMP echo requests; ``answered`` counts the replies sent."""

    def __init__(self) -> None:
        super().__init__()
        self.answered = 0

    def payloadReceived(self, data: bytes, source: str, dest: str) -> None:
        """An ICMP message arrived from ``source`` for ``dest``: answer an echo request."""
        try:
            message = parseICMP(data)
        except MalformedPacket as e:
            self.drop(f"malformed: {e}")
            return
        if message.type != ECHO_REQUEST or message.code != 0:
            self.drop(f"ICMP type {message.type} code {message.code} (only echo is answered)")
            return
        reply = encodeICMP(ECHO_REPLY, 0, message.rest, message.data)
        self.transport.write(reply, source, dest)
        self.answered += 1
