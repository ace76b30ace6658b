"""Ethernet II frames: the codec and the protocol that demultiplexes them by EtherType.

A TAP device carries ethernet frames. ``EthernetProtocol`` decodes each one (dest and
source hardware addresses, the EtherType) and hands the payload to the packet
protocols registered with ``addProto`` (IP at 0x0800, ARP at 0x0806), as Twisted's
does. It also sends: each protocol above gets a transport whose ``write(packet,
dest=...)`` frames the packet with this protocol's own hardware address as the
source. IP above it needs no destination: the ARP protocol, if one is registered,
finds the hardware address of the datagram's destination.
Tests: tests/pair/test_ethernet.py.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Any

from zope.interface import Interface, implementer

from torsion.pair._layer import Layer, checkNumber
from torsion.pair.raw import IRawPacketProtocol, MalformedPacket

__all__ = [
    "BROADCAST",
    "ETHERTYPE_ARP",
    "ETHERTYPE_IPV4",
    "ETHERTYPE_IPV6",
    "EthernetHeader",
    "EthernetProtocol",
    "IEthernetProtocol",
    "encodeEthernetFrame",
    "formatHardwareAddress",
    "parseEthernetFrame",
    "parseHardwareAddress",
]

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_ARP = 0x0806
ETHERTYPE_IPV6 = 0x86DD
BROADCAST = b"\xff" * 6
HEADER_SIZE = 14
_HEADER = struct.Struct("!6s6sH")


class IEthernetProtocol(Interface):
    """A protocol that takes whole ethernet frames: what a TAP port is given."""

    def addProto(num: int, proto: object) -> None:
        """Register a packet protocol for EtherType ``num``."""

    def datagramReceived(data: bytes, partial: int = 0) -> None:
        """A frame arrived (``partial``: it was cut to the port's maxPacketSize)."""


@dataclass(frozen=True, slots=True)
class EthernetHeader:
    """The 14 bytes before an ethernet payload (Twisted's attribute names)."""

    dest: bytes
    source: bytes
    proto: int


def parseHardwareAddress(address: str | bytes) -> bytes:
    """Return the 6 bytes of a hardware address given as "02:00:5e:10:00:01" or bytes.

    Raises:
        ValueError: if it is not six bytes (or six colon-separated hex pairs).
    """
    if isinstance(address, bytes):
        raw = address
    else:
        parts = address.split(":")
        try:
            if len(parts) != 6 or any(len(p) != 2 for p in parts):
                raise ValueError
            raw = bytes(int(p, 16) for p in parts)
        except ValueError:
            raise ValueError(
                f"a hardware address is six hex pairs such as 02:00:5e:10:00:01, not {address!r}"
            ) from None
    if len(raw) != 6:
        raise ValueError(f"a hardware address is 6 bytes, not {len(raw)}: {raw!r}")
    return raw


def formatHardwareAddress(address: bytes) -> str:
    """Return the colon-separated hex form of a 6-byte hardware address."""
    return ":".join(f"{b:02x}" for b in address)


def parseEthernetFrame(frame: bytes) -> tuple[EthernetHeader, bytes]:
    """Split a frame into its header and payload.

    Raises:
        MalformedPacket: if the frame is shorter than an ethernet header.
    """
    if len(frame) < HEADER_SIZE:
        raise MalformedPacket(f"an ethernet frame of {len(frame)} bytes has no whole header")
    dest, source, proto = _HEADER.unpack_from(frame)
    return EthernetHeader(dest, source, proto), frame[HEADER_SIZE:]


def encodeEthernetFrame(dest: bytes, source: bytes, proto: int, payload: bytes) -> bytes:
    """Return the frame carrying ``payload`` (no padding or FCS: the device adds them)."""
    checkNumber(proto, 16, "an EtherType")
    return _HEADER.pack(parseHardwareAddress(dest), parseHardwareAddress(source), proto) + payload


def randomHardwareAddress() -> bytes:
    """A random unicast, locally administered address (02:... style)."""
    first = (os.urandom(1)[0] & 0xFC) | 0x02
    return bytes([first]) + os.urandom(5)


class LinkTransport:
    """What a packet protocol above ethernet writes to: frames go out with our address.

    ``write(packet, dest)`` sends to the hardware address ``dest``; IPv4 datagrams
    written without one are given to the ARP protocol, which finds it.
    """

    __slots__ = ("etherType", "ethernet")

    def __init__(self, ethernet: EthernetProtocol, etherType: int) -> None:
        self.ethernet = ethernet
        self.etherType = etherType

    @property
    def hardwareAddress(self) -> bytes:
        """The hardware address our frames carry as their source."""
        return self.ethernet.address

    def write(self, packet: bytes, dest: bytes | None = None) -> None:
        """Send ``packet`` in a frame to ``dest``.

        Raises:
            ValueError: if ``dest`` is missing and nothing can find it (no ARP
                protocol registered, or this is not IPv4).
        """
        if dest is None:
            resolver = self.ethernet.resolver
            if self.etherType != ETHERTYPE_IPV4 or resolver is None:
                raise ValueError(
                    "no destination hardware address: pass dest=, or register an "
                    "ARPProtocol on the EthernetProtocol so that IPv4 finds it"
                )
            resolver.sendIPv4(packet, self)
            return
        self.ethernet.sendFrame(dest, self.etherType, packet)


@implementer(IEthernetProtocol)
class EthernetProtocol(Layer):
    """Decodes frames and hands each payload to the protocols of its EtherType.

    Args:
        address: this end's hardware address (bytes or "02:..:.." text); a random
            locally administered one by default. ARP answers with it.

    Frames arrive whoever they are addressed to (a TAP device gets what the kernel
    sends it, as Twisted's EthernetProtocol delivers everything).
    """

    def __init__(self, address: bytes | str | None = None) -> None:
        super().__init__()
        self.address = randomHardwareAddress() if address is None else parseHardwareAddress(address)
        self.etherProtos: dict[int, list[Any]] = {}
        self.resolver: Any = None

    def addProto(self, num: int, proto: object) -> None:
        """Register packet protocol ``proto`` (IP, ARP...) for EtherType ``num``.

        Raises:
            TypeError: if ``num`` is not a 16-bit number or ``proto`` is not an
                IRawPacketProtocol.
        """
        checkNumber(num, 16, "an EtherType")
        adapted = IRawPacketProtocol(proto)
        self.etherProtos.setdefault(num, []).append(adapted)
        if num == ETHERTYPE_ARP and hasattr(adapted, "sendIPv4"):
            self.resolver = adapted
        self.attach(adapted, LinkTransport(self, num))

    def datagramReceived(self, data: bytes, partial: int = 0) -> None:
        """A frame arrived from the device: decode it and pass its payload up."""
        if partial:
            self.drop("frame longer than the port's maxPacketSize")
            return
        try:
            header, payload = parseEthernetFrame(data)
        except MalformedPacket:
            self.drop("frame shorter than an ethernet header")
            return
        protos = self.etherProtos.get(header.proto)
        if not protos:
            self.drop(f"no protocol for EtherType 0x{header.proto:04x}")
            return
        for proto in protos:
            self.deliver(
                proto,
                payload,
                partial=0,
                dest=header.dest,
                source=header.source,
                protocol=header.proto,
            )

    def sendFrame(self, dest: bytes, proto: int, payload: bytes) -> None:
        """Send ``payload`` as EtherType ``proto`` to ``dest`` through the device.

        Raises:
            RuntimeError: if this protocol is not attached to a port yet.
        """
        if self.transport is None:
            raise RuntimeError("EthernetProtocol is not attached to a TuntapPort yet")
        self.transport.write(encodeEthernetFrame(dest, self.address, proto, payload))
