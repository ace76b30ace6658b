"""IPv4: the header codec (RFC 791, checksum of RFC 1071) and the protocol that
demultiplexes datagrams by protocol number.

``IPProtocol`` sits on a TUN port directly or on an ``EthernetProtocol`` (EtherType
0x0800). It checks each datagram (version, header length, total length, header
checksum), trims link padding, drops fragments (torsion.pair does not reassemble) and
datagrams for addresses that are not its own, and hands the payload to the protocols
registered for its protocol number with the header's fields, as Twisted's does (with
the header decoded right: Twisted swaps the version and header-length nibbles). The
protocols above send through a transport whose ``write(payload, dest, source=None)``
builds the header. Tests: tests/pair/test_ip.py.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from zope.interface import implementer

from torsion.pair._layer import Layer, checkNumber
from torsion.pair.raw import IRawDatagramProtocol, IRawPacketProtocol, MalformedPacket

__all__ = [
    "PROTOCOL_ICMP",
    "PROTOCOL_UDP",
    "IPHeader",
    "IPProtocol",
    "encodeIPv4",
    "internetChecksum",
    "parseIPv4",
]

PROTOCOL_ICMP = 1
PROTOCOL_TCP = 6
PROTOCOL_UDP = 17
HEADER_SIZE = 20
MAX_DATAGRAM = 65535
_HEADER = struct.Struct("!BBHHHBBH4s4s")


def internetChecksum(data: bytes | bytearray | memoryview) -> int:
    """The 16-bit one's complement of the one's complement sum of ``data`` (RFC 1071).

    Used by IPv4 headers, ICMP, UDP. A block that includes its own correct checksum
    sums to 0 here.
    """
    if len(data) % 2:
        data = bytes(data) + b"\x00"
    # The sum of the big-endian 16-bit words, its carries folded back in.
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@dataclass(frozen=True, slots=True)
class IPHeader:
    """A decoded IPv4 header, with Twisted's attribute names (``ihl`` in bytes)."""

    version: int
    ihl: int
    tos: int
    tot_len: int
    fragment_id: int
    dont_fragment: bool
    more_fragments: bool
    fragment_offset: int
    ttl: int
    protocol: int
    check: int
    saddr: str
    daddr: str
    options: bytes = b""


def parseIPv4(data: bytes) -> tuple[IPHeader, bytes]:
    """Decode an IPv4 datagram into its header and payload (link padding trimmed).

    Raises:
        MalformedPacket: not version 4, a header length under 20 bytes or past the
            data, a total length that does not fit, or a wrong header checksum.
    """
    if len(data) < HEADER_SIZE:
        raise MalformedPacket(f"{len(data)} bytes are shorter than an IPv4 header")
    versionIhl, tos, totLen, ident, frag, ttl, proto, check, saddr, daddr = _HEADER.unpack_from(
        data
    )
    version = versionIhl >> 4
    if version != 4:
        raise MalformedPacket(f"IP version {version}, not 4")
    ihl = (versionIhl & 0x0F) * 4
    if ihl < HEADER_SIZE or ihl > len(data):
        raise MalformedPacket(f"an IPv4 header length of {ihl} bytes in {len(data)} bytes")
    if totLen < ihl or totLen > len(data):
        raise MalformedPacket(
            f"an IPv4 total length of {totLen} with a {ihl}-byte header in {len(data)} bytes"
        )
    if internetChecksum(memoryview(data)[:ihl]) != 0:
        raise MalformedPacket("the IPv4 header checksum does not match")
    header = IPHeader(
        version=version,
        ihl=ihl,
        tos=tos,
        tot_len=totLen,
        fragment_id=ident,
        dont_fragment=bool(frag & 0x4000),
        more_fragments=bool(frag & 0x2000),
        fragment_offset=(frag & 0x1FFF) * 8,
        ttl=ttl,
        protocol=proto,
        check=check,
        saddr=socket.inet_ntoa(saddr),
        daddr=socket.inet_ntoa(daddr),
        options=bytes(data[HEADER_SIZE:ihl]),
    )
    return header, data[ihl:totLen]


def _packAddress(address: str) -> bytes:
    try:
        return socket.inet_aton(address) if address.count(".") == 3 else b""
    except (OSError, AttributeError):
        return b""


def checkAddress(address: object) -> str:
    """Return ``address`` if it is dotted-quad IPv4 text, else raise a clear error."""
    if not isinstance(address, str) or len(_packAddress(address)) != 4:
        raise ValueError(f"an IPv4 address is dotted-quad text such as '10.0.0.1', not {address!r}")
    return address


def encodeIPv4(
    source: str,
    dest: str,
    protocol: int,
    payload: bytes,
    ttl: int = 64,
    tos: int = 0,
    fragment_id: int = 0,
    dont_fragment: bool = True,
) -> bytes:
    """Return an IPv4 datagram (no options) carrying ``payload``, checksum filled in.

    Raises:
        ValueError: bad addresses, or a datagram over 65535 bytes.
    """
    checkNumber(protocol, 8, "an IP protocol number")
    checkNumber(ttl, 8, "a TTL")
    total = HEADER_SIZE + len(payload)
    if total > MAX_DATAGRAM:
        raise ValueError(f"an IPv4 datagram holds at most {MAX_DATAGRAM - HEADER_SIZE} bytes")
    header = bytearray(
        _HEADER.pack(
            0x45,
            tos,
            total,
            fragment_id & 0xFFFF,
            0x4000 if dont_fragment else 0,
            ttl,
            protocol,
            0,
            _packAddress(checkAddress(source)),
            _packAddress(checkAddress(dest)),
        )
    )
    struct.pack_into("!H", header, 10, internetChecksum(header))
    return bytes(header) + payload


class IPTransport:
    """What a protocol above IP writes to: ``write(payload, dest, source=None)``."""

    __slots__ = ("ip", "protocol")

    def __init__(self, ip: IPProtocol, protocol: int) -> None:
        self.ip = ip
        self.protocol = protocol

    def write(self, payload: bytes, dest: str, source: str | None = None) -> None:
        """Send ``payload`` in a datagram of our protocol number to ``dest``."""
        self.ip.sendDatagram(self.protocol, payload, dest, source)

    def sourceFor(self, dest: str) -> str:
        """The source address datagrams to ``dest`` will carry."""
        return self.ip.sourceFor(dest)


@implementer(IRawPacketProtocol)
class IPProtocol(Layer):
    """Decodes IPv4 datagrams and hands each payload to the protocols of its number.

    Args:
        addresses: this end's IPv4 addresses. Datagrams to others are dropped, and the
            first is the source of what is sent. With none, every datagram is taken
            (Twisted's behaviour) and senders must name a source.
        mtu: the largest datagram this end sends (the device's MTU); it does not
            fragment, so a bigger one is refused.
    """

    def __init__(self, addresses: Iterable[str] = (), mtu: int = 1500) -> None:
        super().__init__()
        self.addresses = [checkAddress(a) for a in addresses]
        self.mtu = mtu
        self.ipProtos: dict[int, list[Any]] = {}
        self._nextId = 0

    def addProto(self, num: int, proto: object) -> None:
        """Register ``proto`` (UDP, ICMP...) for IP protocol number ``num``.

        Raises:
            TypeError: ``num`` is not 0-255 or ``proto`` is not an IRawDatagramProtocol.
        """
        checkNumber(num, 8, "an IP protocol number")
        adapted = IRawDatagramProtocol(proto)
        self.ipProtos.setdefault(num, []).append(adapted)
        self.attach(adapted, IPTransport(self, num))

    def datagramReceived(
        self,
        data: bytes,
        partial: int = 0,
        dest: bytes | None = None,
        source: bytes | None = None,
        protocol: int | None = None,
    ) -> None:
        """A datagram arrived (from a TUN port, or ethernet with its frame's fields)."""
        if partial:
            self.drop("datagram longer than the port's maxPacketSize")
            return
        if data[:1] and data[0] >> 4 == 6:
            self.drop("IPv6 datagram")
            return
        try:
            header, payload = parseIPv4(data)
        except MalformedPacket as e:
            self.drop(f"malformed: {e}")
            return
        if header.more_fragments or header.fragment_offset:
            self.drop("fragment (no reassembly)")
            return
        if self.addresses and header.daddr not in self.addresses:
            self.drop("not addressed to us")
            return
        protos = self.ipProtos.get(header.protocol)
        if not protos:
            self.drop(f"no protocol for IP protocol {header.protocol}")
            return
        for proto in protos:
            self.deliver(
                proto,
                data=payload,
                partial=0,
                source=header.saddr,
                dest=header.daddr,
                protocol=header.protocol,
                version=header.version,
                ihl=header.ihl,
                tos=header.tos,
                tot_len=header.tot_len,
                fragment_id=header.fragment_id,
                fragment_offset=header.fragment_offset,
                dont_fragment=header.dont_fragment,
                more_fragments=header.more_fragments,
                ttl=header.ttl,
            )

    def sourceFor(self, dest: str) -> str:
        """The source address for datagrams to ``dest``: our first address.

        Raises:
            ValueError: if this protocol was given no addresses.
        """
        if not self.addresses:
            raise ValueError(
                "IPProtocol has no address of its own to send from: pass "
                "IPProtocol(addresses=['10.0.0.2']) or a source"
            )
        return self.addresses[0]

    def sendDatagram(
        self, protocol: int, payload: bytes, dest: str, source: str | None = None, ttl: int = 64
    ) -> None:
        """Send ``payload`` as IP protocol ``protocol`` to ``dest`` through the link.

        Raises:
            ValueError: bad addresses, or a datagram bigger than ``mtu``.
            RuntimeError: if this protocol is not attached to a link yet.
        """
        if source is None:
            source = self.sourceFor(dest)
        if HEADER_SIZE + len(payload) > self.mtu:
            raise ValueError(
                f"a datagram of {HEADER_SIZE + len(payload)} bytes is over the MTU of "
                f"{self.mtu}; torsion.pair does not fragment, so send less"
            )
        if self.transport is None:
            raise RuntimeError("IPProtocol is not attached to a TuntapPort or ethernet yet")
        self._nextId = (self._nextId + 1) & 0xFFFF
        self.transport.write(
            encodeIPv4(source, dest, protocol, payload, ttl=ttl, fragment_id=self._nextId)
        )
