"""The interfaces that the layers of torsion.pair are plugged together by.

A *packet* protocol (IP, ARP) sits on a link: an ethernet protocol or a TUN port
hands it what arrived. A *datagram* protocol (UDP, ICMP) sits on IP. Each layer finds
the ones above it by number with ``addProto``. Tests: tests/pair/test_layers.py.
"""

from __future__ import annotations

from typing import Any

from zope.interface import Interface


class IRawDatagramProtocol(Interface):
    """A protocol carried in IP datagrams (UDP, ICMP): registered on an IPProtocol."""

    def addProto(num: int, proto: object) -> None:
        """Register ``proto`` for what this protocol demultiplexes on (a UDP port...)."""

    def datagramReceived(
        data: bytes, partial: int = 0, source: str = "", dest: str = "", **header: Any
    ) -> None:
        """An IP datagram's payload arrived from ``source`` for ``dest``; the other
        fields of its IP header come as keywords (``protocol``, ``version``, ``ihl``,
        ``tos``, ``tot_len``, ``fragment_id``, ``fragment_offset``, ``dont_fragment``,
        ``more_fragments``, ``ttl``: Twisted's names)."""


class IRawPacketProtocol(Interface):
    """A protocol carried on a link (IP, ARP): registered on an EthernetProtocol."""

    def addProto(num: int, proto: object) -> None:
        """Register ``proto`` for a protocol number this protocol carries."""

    def datagramReceived(
        data: bytes,
        partial: int = 0,
        dest: bytes | None = None,
        source: bytes | None = None,
        protocol: int | None = None,
    ) -> None:
        """A packet arrived; on ethernet, ``dest``/``source`` are the frame's addresses."""


class MalformedPacket(ValueError):
    """Bytes that do not decode as the layer's header: too short, a bad length field,
    a checksum that does not match. The layers count such packets and drop them."""
