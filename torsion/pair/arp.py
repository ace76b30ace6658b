"""ARP for IPv4 over ethernet (RFC 826): answering who-has, and finding neighbours.

A host on a TAP device must answer ARP before anyone sends it IP: the kernel asks
"who has 10.0.0.2?" and only sends the ping once it hears our hardware address.
``ARPProtocol`` answers for its addresses, learns the senders it hears (a bounded
table), and resolves the destination of IPv4 datagrams that IP sends without a
hardware address: known ones go at once, others wait (a bounded queue) for the answer
to a request it broadcasts, and are dropped, counted, if none comes in time.
Tests: tests/pair/test_arp.py.
"""

from __future__ import annotations

import socket
import struct
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from zope.interface import implementer

from torsion.pair._layer import Layer
from torsion.pair.ethernet import BROADCAST, ETHERTYPE_IPV4
from torsion.pair.ip import checkAddress
from torsion.pair.raw import IRawPacketProtocol, MalformedPacket

__all__ = ["OP_REPLY", "OP_REQUEST", "ARPPacket", "ARPProtocol", "encodeARP", "parseARP"]

OP_REQUEST = 1
OP_REPLY = 2
_PACKET = struct.Struct("!HHBBH6s4s6s4s")
PACKET_SIZE = _PACKET.size  # 28


@dataclass(frozen=True, slots=True)
class ARPPacket:
    """An ARP packet for IPv4 over ethernet (the only kind this module speaks)."""

    operation: int
    senderHardware: bytes
    senderAddress: str
    targetHardware: bytes
    targetAddress: str


def parseARP(data: bytes) -> ARPPacket:
    """Decode an ARP packet (ethernet padding after it is ignored).

    Raises:
        MalformedPacket: too short, or not ethernet/IPv4 ARP.
    """
    if len(data) < PACKET_SIZE:
        raise MalformedPacket(f"{len(data)} bytes are shorter than an ARP packet")
    htype, ptype, hlen, plen, op, sha, spa, tha, tpa = _PACKET.unpack_from(data)
    if (htype, ptype, hlen, plen) != (1, ETHERTYPE_IPV4, 6, 4):
        raise MalformedPacket(f"ARP for hardware {htype}/protocol 0x{ptype:04x}, not ethernet/IPv4")
    return ARPPacket(op, sha, socket.inet_ntoa(spa), tha, socket.inet_ntoa(tpa))


def encodeARP(packet: ARPPacket) -> bytes:
    """Encode an ethernet/IPv4 ARP packet."""
    return _PACKET.pack(
        1,
        ETHERTYPE_IPV4,
        6,
        4,
        packet.operation,
        packet.senderHardware,
        socket.inet_aton(checkAddress(packet.senderAddress)),
        packet.targetHardware,
        socket.inet_aton(checkAddress(packet.targetAddress)),
    )


@implementer(IRawPacketProtocol)
class ARPProtocol(Layer):
    """Answers ARP for ``addresses`` and resolves neighbours for IPv4 (register it on an
    EthernetProtocol at EtherType 0x0806).

    Args:
        addresses: the IPv4 addresses this end answers for.
        reactor: for the resolution timeout (the global reactor by default).
        timeout: seconds to wait for an answer before dropping what waits for it.
        maxNeighbours: how many learnt neighbours are kept (the oldest go first).
        maxWaiting: how many datagrams may wait for resolution, over all neighbours.
    """

    def __init__(
        self,
        addresses: Iterable[str],
        reactor: Any = None,
        timeout: float = 3.0,
        maxNeighbours: int = 256,
        maxWaiting: int = 64,
    ) -> None:
        super().__init__(reactor)
        self.addresses = {checkAddress(a) for a in addresses}
        self.timeout = timeout
        self.maxNeighbours = maxNeighbours
        self.maxWaiting = maxWaiting
        self.neighbours: OrderedDict[str, bytes] = OrderedDict()
        self._waiting: dict[str, tuple[list[bytes], Any]] = {}
        self._waitingCount = 0

    def addProto(self, num: int, proto: object) -> None:
        """ARP carries no protocols.

        Raises:
            TypeError: always.
        """
        raise TypeError("ARP carries no protocols; register IP on the EthernetProtocol")

    def _learn(self, address: str, hardware: bytes) -> None:
        self.neighbours[address] = hardware
        self.neighbours.move_to_end(address)
        while len(self.neighbours) > self.maxNeighbours:
            self.neighbours.popitem(last=False)
        waiting = self._waiting.pop(address, None)
        if waiting is not None:
            datagrams, timer = waiting
            self._waitingCount -= len(datagrams)
            if timer.active():
                timer.cancel()
            for datagram in datagrams:
                self.transport.ethernet.sendFrame(hardware, ETHERTYPE_IPV4, datagram)

    def datagramReceived(
        self,
        data: bytes,
        partial: int = 0,
        dest: bytes | None = None,
        source: bytes | None = None,
        protocol: int | None = None,
    ) -> None:
        """An ARP packet arrived: learn its sender, answer a request for our address."""
        try:
            packet = parseARP(data)
        except MalformedPacket as e:
            self.drop(f"malformed: {e}")
            return
        # RFC 826: update a sender we know; add it if the packet is for us. A sender
        # of 0.0.0.0 is a probe (RFC 5227), not a host to remember.
        if packet.senderAddress != "0.0.0.0" and (
            packet.senderAddress in self.neighbours or packet.targetAddress in self.addresses
        ):
            self._learn(packet.senderAddress, packet.senderHardware)
        if packet.operation == OP_REQUEST and packet.targetAddress in self.addresses:
            reply = ARPPacket(
                OP_REPLY,
                self.transport.hardwareAddress,
                packet.targetAddress,
                packet.senderHardware,
                packet.senderAddress,
            )
            self.transport.write(encodeARP(reply), dest=packet.senderHardware)
        elif packet.operation not in (OP_REQUEST, OP_REPLY):
            self.drop(f"ARP operation {packet.operation}")

    def sendIPv4(self, datagram: bytes, link: Any) -> None:
        """Send an IPv4 datagram to the hardware address of its destination.

        A known neighbour gets it now; otherwise it waits for the answer to a request
        (dropped and counted when the queue is full or nobody answers in time).
        """
        dest = socket.inet_ntoa(datagram[16:20])
        hardware = self.neighbours.get(dest)
        if hardware is not None:
            link.ethernet.sendFrame(hardware, ETHERTYPE_IPV4, datagram)
            return
        if self._waitingCount >= self.maxWaiting:
            self.drop("too many datagrams waiting for ARP")
            return
        waiting = self._waiting.get(dest)
        if waiting is None:
            timer = self._getReactor().callLater(self.timeout, self._unresolved, dest)
            waiting = ([], timer)
            self._waiting[dest] = waiting
            self._request(dest)
        waiting[0].append(datagram)
        self._waitingCount += 1

    def _request(self, dest: str) -> None:
        ours = sorted(self.addresses)[0] if self.addresses else "0.0.0.0"
        request = ARPPacket(OP_REQUEST, self.transport.hardwareAddress, ours, b"\x00" * 6, dest)
        self.transport.write(encodeARP(request), dest=BROADCAST)

    def _unresolved(self, dest: str) -> None:
        datagrams, _ = self._waiting.pop(dest, ([], None))
        self._waitingCount -= len(datagrams)
        for _ in datagrams:
            self.drop(f"no ARP answer for {dest}")

    def stopProtocol(self) -> None:
        for _, timer in self._waiting.values():
            if timer.active():
                timer.cancel()
        self._waiting.clear()
        self._waitingCount = 0
        super().stopProtocol()
