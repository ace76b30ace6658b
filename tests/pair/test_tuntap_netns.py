"""torsion.pair on real TUN and TAP devices inside network namespaces.

iputils ping, run in the namespace, pings torsion's ICMP echo responder through a
TUN device (bare IP) and a TAP device (ethernet, where torsion must answer ARP
first); a Python UDP socket in the namespace exchanges datagrams with a
DatagramProtocol on torsion's raw UDP stack, both ways; garbage written onto the
link is counted and dropped while pings go on being answered. The kernel checks the
IP and UDP checksums torsion writes (a wrong one shows as lost datagrams); ping does
not check ICMP's here, so the ping test checks what torsion wrote itself.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import inThread, runUntil, runUntilFired
from tests.pair import netns
from tests.pair.netns import KERNEL_ADDRESS, TORSION_ADDRESS, inNamespace, moveInto, needPing
from torsion.internet.protocol import DatagramProtocol
from torsion.pair.arp import ARPProtocol
from torsion.pair.ethernet import ETHERTYPE_ARP, ETHERTYPE_IPV4, EthernetProtocol
from torsion.pair.icmp import ICMPEchoResponder, encodeEcho
from torsion.pair.ip import PROTOCOL_ICMP, PROTOCOL_UDP, IPProtocol, encodeIPv4, internetChecksum
from torsion.pair.rawudp import RawUDPProtocol
from torsion.pair.tuntap import TunnelFlags, TuntapPort
from torsion.pair.udp import encodeUDP

oneReactor = reactormixins.oneReactor
reactor = reactormixins.reactor
namespace = netns.namespace


class Stack:
    """torsion's end of the link: IP with ICMP and UDP, on ethernet+ARP for TAP."""

    def __init__(self, reactor: Any, tap: bool) -> None:
        self.ip = IPProtocol(addresses=[TORSION_ADDRESS])
        self.icmp = ICMPEchoResponder(reactor=reactor)
        self.udp = RawUDPProtocol()
        self.ip.addProto(PROTOCOL_ICMP, self.icmp)
        self.ip.addProto(PROTOCOL_UDP, self.udp)
        self.arp: ARPProtocol | None = None
        self.ethernet: EthernetProtocol | None = None
        top: Any = self.ip
        if tap:
            self.arp = ARPProtocol([TORSION_ADDRESS], reactor=reactor)
            self.ethernet = EthernetProtocol()
            self.ethernet.addProto(ETHERTYPE_ARP, self.arp)
            self.ethernet.addProto(ETHERTYPE_IPV4, self.ip)
            top = self.ethernet
        self.port = TuntapPort("torsion%d", top, reactor=reactor)


@pytest.fixture(params=["tun", "tap"])
def stack(request: pytest.FixtureRequest, oneReactor: Any, namespace: str) -> Iterator[Stack]:
    """A started stack whose device is up in ``namespace``; closed after the test."""
    made = Stack(oneReactor, tap=request.param == "tap")
    made.port.startListening()
    try:
        moveInto(namespace, str(made.port.interface), pointToPoint=request.param == "tun")
        yield made
    finally:
        runUntilFired(oneReactor, made.port.stopListening())


def runInNamespace(reactor: Any, namespace: str, *args: str, timeout: float = 15) -> Any:
    """Run a command in the namespace while the reactor serves; its CompletedProcess."""
    return inThread(
        reactor,
        lambda: subprocess.run(
            inNamespace(namespace, *args),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        ),
        timeout=timeout + 5,
    )


def ping(reactor: Any, namespace: str, count: int = 3) -> Any:
    return runInNamespace(
        reactor,
        namespace,
        needPing(),
        "-c",
        str(count),
        "-i",
        "0.2",
        "-W",
        "2",
        "-n",
        TORSION_ADDRESS,
    )


def onesComplementSum(data: bytes) -> int:
    """The one's complement sum of 16-bit words, written apart from torsion's."""
    if len(data) % 2:
        data += b"\x00"
    total = 0
    for i in range(0, len(data), 2):
        total += data[i] << 8 | data[i + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return total


def recordWrites(port: TuntapPort) -> list[bytes]:
    """Keep a copy of every packet ``port`` writes."""
    written: list[bytes] = []
    write = port.write

    def recording(packet: bytes) -> None:
        written.append(bytes(packet))
        write(packet)

    port.write = recording  # type: ignore[method-assign]
    return written


def test_pingGetsRepliesFromTorsion(oneReactor: Any, namespace: str, stack: Stack) -> None:
    """ping -c 3 in the namespace gets three replies from torsion's echo responder."""
    written = recordWrites(stack.port)
    result = ping(oneReactor, namespace)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 packets transmitted, 3 received, 0% packet loss" in result.stdout
    assert f"from {TORSION_ADDRESS}" in result.stdout
    assert stack.icmp.answered == 3
    assert stack.port.getHost().type == (
        TunnelFlags.IFF_TAP if stack.ethernet is not None else TunnelFlags.IFF_TUN
    )
    if stack.arp is not None:
        # torsion answered the kernel's who-has and learnt its address on the way.
        assert KERNEL_ADDRESS in stack.arp.neighbours
    offset = 14 if stack.ethernet is not None else 0
    replies = [p[offset:] for p in written if p[offset + 9 : offset + 10] == b"\x01"]
    assert len(replies) == 3
    for datagram in replies:
        ihl = (datagram[0] & 0x0F) * 4
        assert onesComplementSum(datagram[:ihl]) == 0xFFFF
        assert datagram[ihl] == 0  # echo reply
        assert onesComplementSum(datagram[ihl:]) == 0xFFFF


def test_pingOnEveryReactor(reactor: Any, namespace: str) -> None:
    """The TUN port is an ordinary reader: every reactor serves it."""
    made = Stack(reactor, tap=False)
    made.port.startListening()
    try:
        moveInto(namespace, str(made.port.interface), pointToPoint=True)
        result = ping(reactor, namespace, count=2)
    finally:
        runUntilFired(reactor, made.port.stopListening())
    assert "2 received" in result.stdout, result.stdout + result.stderr


def test_torsionPingsTheKernel(oneReactor: Any, namespace: str, stack: Stack) -> None:
    """torsion's echo requests get the kernel's replies (on TAP, after ARP finds it)."""
    times = [
        runUntilFired(oneReactor, stack.icmp.ping(KERNEL_ADDRESS, b"x" * 32)) for _ in range(3)
    ]
    assert all(0 <= t < 2 for t in times)
    if stack.arp is not None:
        assert KERNEL_ADDRESS in stack.arp.neighbours


def test_pingWithBigPayloads(oneReactor: Any, namespace: str, stack: Stack) -> None:
    """1400-byte echo data (near the MTU) comes back whole and checked."""
    result = runInNamespace(
        oneReactor,
        namespace,
        needPing(),
        "-c",
        "2",
        "-i",
        "0.2",
        "-W",
        "2",
        "-s",
        "1400",
        "-n",
        TORSION_ADDRESS,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1408 bytes from" in result.stdout


class Upper(DatagramProtocol):
    """Answers each datagram with its upper-case form; remembers who sent what."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, Any]] = []

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.received.append((datagram, addr))
        self.transport.write(datagram.upper(), addr)


# A UDP peer in the namespace: sends "hello" to torsion's port 9999 and prints the
# answer, then waits for a datagram torsion sends on its own to port 5555.
_UDP_PEER = f"""
import socket, sys
listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
listener.bind(("{KERNEL_ADDRESS}", 5555))
listener.settimeout(5)
client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
client.settimeout(5)
client.sendto(b"hello torsion", ("{TORSION_ADDRESS}", 9999))
data, addr = client.recvfrom(2048)
print("answer", data.decode(), addr[0], addr[1], flush=True)
data, addr = listener.recvfrom(2048)
print("sent", data.decode(), addr[0], addr[1], flush=True)
"""


def test_udpExchangeBothWays(oneReactor: Any, namespace: str, stack: Stack) -> None:
    """A real socket's datagram reaches a DatagramProtocol on the raw stack and gets
    its answer; a datagram torsion starts reaches a socket listening in the namespace."""
    upper = Upper()
    stack.udp.addProto(9999, upper)
    assert upper.transport.getHost().port == 9999
    sender = DatagramProtocol()
    stack.udp.addProto(4444, sender)

    peer = subprocess.Popen(
        inNamespace(namespace, sys.executable, "-c", _UDP_PEER),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        runUntil(oneReactor, lambda: bool(upper.received), timeout=10)
        datagram, (host, _port) = upper.received[0]
        assert (datagram, host) == (b"hello torsion", KERNEL_ADDRESS)
        if stack.arp is not None:
            # Send to a neighbour torsion has not heard from: ARP must find it.
            stack.arp.neighbours.clear()
        sender.transport.write(b"from torsion", (KERNEL_ADDRESS, 5555))
        out, err = inThread(oneReactor, lambda: peer.communicate(timeout=10), timeout=15)
    finally:
        if peer.poll() is None:
            peer.kill()
            peer.wait(5)
    assert peer.returncode == 0, err
    assert f"answer HELLO TORSION {TORSION_ADDRESS} 9999" in out
    assert f"sent from torsion {TORSION_ADDRESS} 4444" in out
    if stack.arp is not None:
        assert KERNEL_ADDRESS in stack.arp.neighbours


# Writes each packet given (hex) onto the device from inside the namespace, through a
# packet socket: the kernel transmits it on the link, so torsion reads it.
_INJECTOR = """
import socket, sys
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind((sys.argv[1], 0))
for packet in sys.argv[2:]:
    sock.send(bytes.fromhex(packet))
print("sent", len(sys.argv) - 2, flush=True)
"""


def _garbage() -> dict[str, bytes]:
    """Bad datagrams, each made from a good one with one thing wrong."""
    good = encodeIPv4(KERNEL_ADDRESS, TORSION_ADDRESS, PROTOCOL_ICMP, encodeEcho(8, 1, 1, b"x"))
    badChecksum = bytearray(good)
    badChecksum[10] ^= 0xFF
    tooLong = bytearray(good)
    tooLong[2:4] = (len(good) + 40).to_bytes(2, "big")
    fragment = encodeIPv4(KERNEL_ADDRESS, TORSION_ADDRESS, PROTOCOL_UDP, b"\x00" * 16)
    fragment = fragment[:6] + b"\x20\x00" + fragment[8:10] + b"\x00\x00" + fragment[12:]
    fragment = fragment[:10] + internetChecksum(fragment[:20]).to_bytes(2, "big") + fragment[12:]
    udp = encodeUDP(KERNEL_ADDRESS, TORSION_ADDRESS, 1234, 9999, b"hello")
    badUdp = udp[:6] + bytes([udp[6] ^ 0xFF, udp[7]]) + udp[8:]
    echo = bytearray(encodeEcho(8, 7, 7, b"payload"))
    echo[2] ^= 0xFF
    return {
        "short": b"\x45\x00\x00",
        "bad IP checksum": bytes(badChecksum),
        "total length past the end": bytes(tooLong),
        "fragment": fragment,
        "bad UDP checksum": encodeIPv4(KERNEL_ADDRESS, TORSION_ADDRESS, PROTOCOL_UDP, badUdp),
        "bad ICMP checksum": encodeIPv4(
            KERNEL_ADDRESS, TORSION_ADDRESS, PROTOCOL_ICMP, bytes(echo)
        ),
        "not for us": encodeIPv4(
            KERNEL_ADDRESS, "10.200.0.77", PROTOCOL_ICMP, encodeEcho(8, 1, 1, b"")
        ),
    }


def test_garbageOnTheLinkIsCountedAndPingsGoOn(
    oneReactor: Any, namespace: str, stack: Stack
) -> None:
    """Malformed datagrams (and frames, on TAP) from the link are dropped and counted,
    nothing reaches the reactor, and the stack goes on answering ping."""
    upper = Upper()
    stack.udp.addProto(9999, upper)
    packets = list(_garbage().values())
    if stack.ethernet is not None:
        header = stack.ethernet.address + b"\x02\x00\x00\x00\x00\x01"
        packets = [header + b"\x08\x00" + p for p in packets]
        packets += [header + b"\x88\xb5junk", header + b"\x08\x06" + b"\x00" * 8]
    result = runInNamespace(
        oneReactor,
        namespace,
        sys.executable,
        "-c",
        _INJECTOR,
        str(stack.port.interface),
        *(p.hex() for p in packets),
    )
    assert result.returncode == 0, result.stderr
    layers: list[Any] = [stack.ip, stack.udp, stack.icmp, stack.ethernet, stack.arp]
    expected = {
        stack.ip: {
            "malformed: the IPv4 header checksum does not match",
            "fragment (no reassembly)",
            "not addressed to us",
        },
        stack.udp: {"malformed: the UDP checksum does not match"},
        stack.icmp: {"malformed: the ICMP checksum does not match"},
    }
    if stack.ethernet is not None and stack.arp is not None:
        expected[stack.ethernet] = {"no protocol for EtherType 0x88b5"}
        expected[stack.arp] = {"malformed: 8 bytes are shorter than an ARP packet"}

    def allCounted() -> bool:
        return all(reasons <= set(layer.dropped) for layer, reasons in expected.items())

    runUntil(oneReactor, allCounted, timeout=5)
    assert any(r.startswith("malformed: an IPv4 total length") for r in stack.ip.dropped)
    assert any(r.startswith("malformed: 3 bytes") for r in stack.ip.dropped)
    assert upper.received == []
    assert stack.icmp.answered == 0
    assert all(layer.dropped["error in the protocol above"] == 0 for layer in layers if layer)
    answered = ping(oneReactor, namespace)
    assert "3 received" in answered.stdout, answered.stdout + answered.stderr
