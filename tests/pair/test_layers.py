"""The layers of torsion.pair wired together without a device: what each one hands
up, what it sends down, the ARP table and queue (on a Clock), and errors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.internet import reactormixins
from torsion.internet.protocol import DatagramProtocol
from torsion.internet.task import Clock
from torsion.pair.arp import OP_REPLY, OP_REQUEST, ARPPacket, ARPProtocol, encodeARP, parseARP
from torsion.pair.ethernet import (
    BROADCAST,
    ETHERTYPE_ARP,
    ETHERTYPE_IPV4,
    EthernetProtocol,
    encodeEthernetFrame,
    parseEthernetFrame,
)
from torsion.pair.icmp import ECHO_REPLY, ICMPEchoResponder, encodeEcho, parseICMP
from torsion.pair.ip import PROTOCOL_ICMP, PROTOCOL_UDP, IPProtocol, encodeIPv4, parseIPv4
from torsion.pair.rawudp import RawUDPProtocol
from torsion.pair.udp import encodeUDP, parseUDP

loggedErrors = reactormixins.loggedErrors
US, PEER = "10.0.0.2", "10.0.0.1"
PEER_MAC = bytes.fromhex("02aabbccddee")
OUR_MAC = bytes.fromhex("020000000002")


class Device:
    """Stands in for a TuntapPort: records the packets written."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, packet: bytes) -> None:
        self.written.append(packet)


class Echo(DatagramProtocol):
    def __init__(self) -> None:
        self.received: list[tuple[bytes, Any]] = []

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.received.append((datagram, addr))
        self.transport.write(datagram, addr)


def tunStack() -> tuple[IPProtocol, ICMPEchoResponder, RawUDPProtocol, Device]:
    ip = IPProtocol(addresses=[US])
    icmp, udp = ICMPEchoResponder(), RawUDPProtocol()
    ip.addProto(PROTOCOL_ICMP, icmp)
    ip.addProto(PROTOCOL_UDP, udp)
    device = Device()
    ip.makeConnection(device)
    return ip, icmp, udp, device


def test_echoRequestGetsItsReply() -> None:
    ip, icmp, _, device = tunStack()
    ip.datagramReceived(encodeIPv4(PEER, US, PROTOCOL_ICMP, encodeEcho(8, 77, 3, b"abc")))
    header, payload = parseIPv4(device.written[0])
    assert (header.saddr, header.daddr, header.protocol) == (US, PEER, PROTOCOL_ICMP)
    reply = parseICMP(payload)
    assert (reply.type, reply.identifier, reply.sequence, reply.data) == (ECHO_REPLY, 77, 3, b"abc")
    assert icmp.answered == 1


def test_otherICMPIsCountedNotAnswered() -> None:
    ip, icmp, _, device = tunStack()
    ip.datagramReceived(encodeIPv4(PEER, US, PROTOCOL_ICMP, encodeEcho(13, 1, 1, b"")))
    ip.datagramReceived(encodeIPv4(PEER, US, PROTOCOL_ICMP, encodeEcho(0, 1, 1, b"")))
    assert device.written == []
    assert icmp.dropped == {
        "ICMP type 13 code 0 (only echo is answered)": 1,
        "echo reply to no ping of ours": 1,
    }


def test_udpReachesItsPortAndAnswers() -> None:
    ip, _, udp, device = tunStack()
    echo = Echo()
    udp.addProto(53, echo)
    assert echo.transport.getHost().host == US
    ip.datagramReceived(encodeIPv4(PEER, US, PROTOCOL_UDP, encodeUDP(PEER, US, 4000, 53, b"q")))
    assert echo.received == [(b"q", (PEER, 4000))]
    header, payload = parseIPv4(device.written[0])
    udpHeader, data = parseUDP(payload, header.saddr, header.daddr)
    assert (header.daddr, udpHeader.source, udpHeader.dest, data) == (PEER, 53, 4000, b"q")
    ip.datagramReceived(encodeIPv4(PEER, US, PROTOCOL_UDP, encodeUDP(PEER, US, 4000, 54, b"q")))
    assert udp.dropped["nothing on UDP port 54"] == 1


def test_protocolsAddedLaterAreConnectedAndStopped() -> None:
    ip, _, udp, _ = tunStack()
    echo = Echo()
    udp.addProto(7, echo)
    assert echo.transport is not None and echo.numPorts == 1
    ip.doStop()
    assert echo.transport is None and echo.numPorts == 0


def test_datagramsNotForUsAndUnknownProtocolsAreDropped() -> None:
    ip, _, _, device = tunStack()
    ip.datagramReceived(encodeIPv4(PEER, "10.0.0.9", PROTOCOL_ICMP, encodeEcho(8, 1, 1, b"")))
    ip.datagramReceived(encodeIPv4(PEER, US, 6, b"\x00" * 20))
    ip.datagramReceived(b"\x60" + b"\x00" * 39)
    ip.datagramReceived(b"\x45", partial=1)
    assert device.written == []
    assert ip.dropped == {
        "not addressed to us": 1,
        "no protocol for IP protocol 6": 1,
        "IPv6 datagram": 1,
        "datagram longer than the port's maxPacketSize": 1,
    }


def test_errorAboveIsLoggedAndCounted(loggedErrors: list[dict[str, Any]]) -> None:
    ip, _, udp, _ = tunStack()

    class Broken(DatagramProtocol):
        def datagramReceived(self, datagram: bytes, addr: Any) -> None:
            raise ZeroDivisionError("broken")

    udp.addProto(9, Broken())
    ip.datagramReceived(encodeIPv4(PEER, US, PROTOCOL_UDP, encodeUDP(PEER, US, 1, 9, b"x")))
    assert udp.dropped["error in the protocol above"] == 1
    assert len(loggedErrors) == 1


def test_addProtoRefusesBadArguments() -> None:
    ip, icmp, udp, _ = tunStack()
    with pytest.raises(TypeError, match="IP protocol number"):
        ip.addProto(256, ICMPEchoResponder())
    with pytest.raises(TypeError):
        ip.addProto(1, object())
    with pytest.raises(TypeError, match="DatagramProtocol"):
        udp.addProto(1, object())
    with pytest.raises(TypeError, match="UDP port"):
        udp.addProto(70000, Echo())
    with pytest.raises(TypeError, match="carries no protocols"):
        icmp.addProto(1, Echo())
    with pytest.raises(TypeError, match="EtherType"):
        EthernetProtocol().addProto(-1, ip)


def test_sendingErrorsSayWhatToDo() -> None:
    with pytest.raises(ValueError, match="no address of its own"):
        IPProtocol().sourceFor(PEER)
    with pytest.raises(RuntimeError, match="not attached"):
        IPProtocol([US]).sendDatagram(17, b"", PEER)
    ip, _, _, _ = tunStack()
    with pytest.raises(ValueError, match="over the MTU of 1500"):
        ip.sendDatagram(17, b"x" * 1481, PEER)
    with pytest.raises(RuntimeError, match="not registered"):
        RawUDPProtocol().sendDatagram(b"", 1, PEER, 2)
    with pytest.raises(ValueError, match="dotted-quad"):
        IPProtocol(["fe80::1"])


def tapStack(clock: Clock) -> tuple[EthernetProtocol, ARPProtocol, IPProtocol, Device]:
    ethernet = EthernetProtocol(OUR_MAC)
    arp = ARPProtocol([US], reactor=clock, timeout=2.0, maxWaiting=3, maxNeighbours=2)
    ip = IPProtocol([US])
    ip.addProto(PROTOCOL_ICMP, ICMPEchoResponder())
    ethernet.addProto(ETHERTYPE_ARP, arp)
    ethernet.addProto(ETHERTYPE_IPV4, ip)
    device = Device()
    ethernet.makeConnection(device)
    return ethernet, arp, ip, device


def arpFrame(op: int, senderMac: bytes, sender: str, target: str) -> bytes:
    packet = ARPPacket(op, senderMac, sender, b"\x00" * 6, target)
    return encodeEthernetFrame(BROADCAST, senderMac, ETHERTYPE_ARP, encodeARP(packet))


def test_arpRequestForUsIsAnsweredAndTheSenderLearnt() -> None:
    ethernet, arp, _, device = tapStack(Clock())
    ethernet.datagramReceived(arpFrame(OP_REQUEST, PEER_MAC, PEER, US))
    header, payload = parseEthernetFrame(device.written[0])
    assert (header.dest, header.source, header.proto) == (PEER_MAC, OUR_MAC, ETHERTYPE_ARP)
    assert parseARP(payload) == ARPPacket(OP_REPLY, OUR_MAC, US, PEER_MAC, PEER)
    assert arp.neighbours == {PEER: PEER_MAC}


def test_arpForOthersIsNotAnsweredNorLearnt() -> None:
    ethernet, arp, _, device = tapStack(Clock())
    ethernet.datagramReceived(arpFrame(OP_REQUEST, PEER_MAC, PEER, "10.0.0.3"))
    ethernet.datagramReceived(arpFrame(OP_REQUEST, PEER_MAC, "0.0.0.0", US))  # a probe
    assert len(device.written) == 1  # the probe is answered, not learnt
    assert arp.neighbours == {}


def test_echoOverEthernetGoesToTheLearntAddress() -> None:
    ethernet, _, _, device = tapStack(Clock())
    ethernet.datagramReceived(arpFrame(OP_REQUEST, PEER_MAC, PEER, US))
    request = encodeIPv4(PEER, US, PROTOCOL_ICMP, encodeEcho(8, 1, 1, b"hi"))
    ethernet.datagramReceived(encodeEthernetFrame(OUR_MAC, PEER_MAC, ETHERTYPE_IPV4, request))
    header, payload = parseEthernetFrame(device.written[-1])
    assert (header.dest, header.proto) == (PEER_MAC, ETHERTYPE_IPV4)
    assert parseIPv4(payload)[0].daddr == PEER


def test_unknownNeighbourIsAskedForThenSentTo() -> None:
    clock = Clock()
    ethernet, _, ip, device = tapStack(clock)
    ip.sendDatagram(PROTOCOL_UDP, b"one", PEER)
    ip.sendDatagram(PROTOCOL_UDP, b"two", PEER)
    assert len(device.written) == 1  # one request for both
    header, payload = parseEthernetFrame(device.written[0])
    assert header.dest == BROADCAST
    assert parseARP(payload) == ARPPacket(OP_REQUEST, OUR_MAC, US, b"\x00" * 6, PEER)
    ethernet.datagramReceived(
        encodeEthernetFrame(
            OUR_MAC,
            PEER_MAC,
            ETHERTYPE_ARP,
            encodeARP(ARPPacket(OP_REPLY, PEER_MAC, PEER, OUR_MAC, US)),
        )
    )
    sent = [parseIPv4(parseEthernetFrame(f)[1])[1] for f in device.written[1:]]
    assert sent == [b"one", b"two"]
    assert clock.getDelayedCalls() == []


def test_unansweredResolutionDropsAndCounts() -> None:
    clock = Clock()
    _, arp, ip, device = tapStack(clock)
    for n in range(5):
        ip.sendDatagram(PROTOCOL_UDP, bytes([n]), PEER)
    assert arp.dropped["too many datagrams waiting for ARP"] == 2
    clock.advance(2.0)
    assert arp.dropped[f"no ARP answer for {PEER}"] == 3
    assert len(device.written) == 1  # just the request
    ip.sendDatagram(PROTOCOL_UDP, b"again", PEER)
    assert len(device.written) == 2  # the queue has room again: a new request


def test_neighbourTableIsBounded() -> None:
    ethernet, arp, _, _ = tapStack(Clock())
    for n in range(1, 5):
        ethernet.datagramReceived(
            arpFrame(OP_REQUEST, bytes([2, 0, 0, 0, 0, n]), f"10.0.0.{n + 10}", US)
        )
    assert list(arp.neighbours) == ["10.0.0.13", "10.0.0.14"]


def test_linkWithoutResolverNeedsADestination() -> None:
    ethernet = EthernetProtocol()
    ip = IPProtocol([US])
    ethernet.addProto(ETHERTYPE_IPV4, ip)
    ethernet.makeConnection(Device())
    with pytest.raises(ValueError, match="register an ARPProtocol"):
        ip.sendDatagram(PROTOCOL_UDP, b"", PEER)
    with pytest.raises(RuntimeError, match="not attached"):
        EthernetProtocol().sendFrame(BROADCAST, 1, b"")


def test_unknownEtherTypesAndShortFramesAreDropped() -> None:
    ethernet, _, _, device = tapStack(Clock())
    ethernet.datagramReceived(b"\x00" * 13)
    ethernet.datagramReceived(encodeEthernetFrame(OUR_MAC, PEER_MAC, 0x86DD, b"v6"))
    ethernet.datagramReceived(b"\x00" * 20, partial=1)
    assert device.written == []
    assert sum(ethernet.dropped.values()) == 3


def test_pingFiresWithTheRoundTrip() -> None:
    clock = Clock()
    ip = IPProtocol([US])
    pinger = ICMPEchoResponder(reactor=clock)
    ip.addProto(PROTOCOL_ICMP, pinger)
    device = Device()
    ip.makeConnection(device)
    results: list[float] = []
    pinger.ping(PEER, b"data").addCallback(results.append)
    header, payload = parseIPv4(device.written[0])
    request = parseICMP(payload)
    assert (header.daddr, request.type, request.data) == (PEER, 8, b"data")
    clock.advance(0.25)
    reply = encodeEcho(ECHO_REPLY, request.identifier, request.sequence, b"data")
    wrongId = encodeEcho(ECHO_REPLY, request.identifier ^ 1, request.sequence, b"data")
    ip.datagramReceived(encodeIPv4(PEER, US, PROTOCOL_ICMP, wrongId))
    assert results == [] and pinger.dropped["echo reply to no ping of ours"] == 1
    ip.datagramReceived(encodeIPv4(PEER, US, PROTOCOL_ICMP, reply))
    assert results == [0.25]
    assert clock.getDelayedCalls() == []


def test_pingTimesOutAndIsBounded() -> None:
    clock = Clock()
    ip = IPProtocol([US])
    pinger = ICMPEchoResponder(reactor=clock, maxOutstanding=2)
    ip.addProto(PROTOCOL_ICMP, pinger)
    ip.makeConnection(Device())
    failures: list[Any] = []
    pinger.ping(PEER, timeout=1.0).addErrback(failures.append)
    pinger.ping(PEER, timeout=5.0).addErrback(failures.append)
    with pytest.raises(RuntimeError, match="2 pings wait"):
        pinger.ping(PEER)
    clock.advance(1.0)
    assert "no echo reply from 10.0.0.1 within 1.0 seconds" in str(failures[0].value)
    ip.doStop()  # the other fails when the stack stops
    assert len(failures) == 2 and clock.getDelayedCalls() == []
    with pytest.raises(RuntimeError, match="not registered"):
        ICMPEchoResponder().ping(PEER)


def test_theDropCounterStaysSmall() -> None:
    ip, _, udp, _ = tunStack()
    for port in range(200):
        segment = encodeUDP(PEER, US, 1, 1000 + port, b"")
        ip.datagramReceived(encodeIPv4(PEER, US, PROTOCOL_UDP, segment))
    assert len(udp.dropped) == udp.maxReasons + 1
    assert udp.dropped["other reasons"] == 200 - udp.maxReasons
    assert sum(udp.dropped.values()) == 200
