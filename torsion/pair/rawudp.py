"""UDP over the raw stack: DatagramProtocols on ports of an IPProtocol.

``RawUDPProtocol`` is registered on IP (protocol 17); ``addProto(port, proto)`` puts
an ordinary ``DatagramProtocol`` on a UDP port, as Twisted's does. Beyond Twisted's,
the protocol can answer: its transport's ``write(datagram, (host, port))`` sends from
that port through IP and the device. Datagrams with bad lengths or checksums, or for
ports nobody has, are counted and dropped. Tests: tests/pair/test_udp.py and
tests/pair/test_tuntap_netns.py (an exchange with a real socket in a namespace).
"""

from __future__ import annotations

from typing import Any

from zope.interface import implementer

from torsion.internet.address import IPv4Address
from torsion.internet.protocol import DatagramProtocol
from torsion.pair._layer import DatagramLayer, checkNumber
from torsion.pair.raw import IRawDatagramProtocol, MalformedPacket
from torsion.pair.udp import encodeUDP, parseUDP

__all__ = ["RawUDPProtocol"]


class RawUDPTransport:
    """The transport of a DatagramProtocol on a raw UDP port."""

    __slots__ = ("port", "udp")

    def __init__(self, udp: RawUDPProtocol, port: int) -> None:
        self.udp = udp
        self.port = port

    def write(self, datagram: bytes, addr: tuple[str, int]) -> None:
        """Send ``datagram`` from our port to ``addr`` ((IPv4 address, port))."""
        host, port = addr
        self.udp.sendDatagram(datagram, self.port, host, port)

    def getHost(self) -> IPv4Address:
        """The address this port sends from (IP's first address)."""
        return IPv4Address("UDP", self.udp.transport.sourceFor("0.0.0.0"), self.port)


@implementer(IRawDatagramProtocol)
class RawUDPProtocol(DatagramLayer):
    """Demultiplexes UDP datagrams to DatagramProtocols by destination port."""

    def __init__(self) -> None:
        super().__init__()
        self.udpProtos: dict[int, list[Any]] = {}

    def addProto(self, num: int, proto: object) -> None:
        """Put DatagramProtocol ``proto`` on UDP port ``num``.

        Raises:
            TypeError: ``proto`` is not a DatagramProtocol, or ``num`` not 0-65535.
        """
        if not isinstance(proto, DatagramProtocol):
            raise TypeError(f"a raw UDP port takes a DatagramProtocol, not {proto!r}")
        checkNumber(num, 16, "a UDP port")
        self.udpProtos.setdefault(num, []).append(proto)
        self.attach(proto, RawUDPTransport(self, num))

    def payloadReceived(self, data: bytes, source: str, dest: str) -> None:
        """A UDP datagram arrived in IP from ``source`` to ``dest``."""
        try:
            header, payload = parseUDP(data, source, dest)
        except (MalformedPacket, ValueError) as e:
            self.drop(f"malformed: {e}")
            return
        protos = self.udpProtos.get(header.dest)
        if not protos:
            self.drop(f"nothing on UDP port {header.dest}")
            return
        addr = (source, header.source)
        for proto in protos:
            self.deliver(proto, payload, addr)

    def sendDatagram(self, payload: bytes, sourcePort: int, host: str, port: int) -> None:
        """Send ``payload`` from our ``sourcePort`` to ``host:port`` through IP.

        Raises:
            RuntimeError: if this protocol is not registered on an attached IPProtocol.
        """
        if self.transport is None:
            raise RuntimeError("RawUDPProtocol is not registered on an attached IPProtocol yet")
        source = self.transport.sourceFor(host)
        self.transport.write(encodeUDP(source, host, sourcePort, port, payload), host, source)
