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
from tests.pair.netns import (
    KERNEL_ADDRESS,
    TORSION_ADDRESS,
    inNamespace,
    moveInto,
    namespace,
    needPing,
)
from torsion.internet.protocol import DatagramProtocol
from torsion.pair.arp import ARPProtocol
from torsion.pair.ethernet import ETHERTYPE_ARP, ETHERTYPE_IPV4, EthernetProtocol
from torsion.pair.icmp import ICMPEchoResponder
from torsion.pair.ip import PROTOCOL_ICMP, PROTOCOL_UDP, IPProtocol
from torsion.pair.rawudp import RawUDPProtocol
from torsion.pair.tuntap import TunnelFlags, TuntapPort

oneReactor = reactormixins.oneReactor
namespace = namespace


class Stack:
    """torsion's end of the link: IP with ICMP and UDP, on ethernet+ARP for TAP."""

    def __init__(self, reactor: Any, tap: bool) -> None:
        self.ip = IPProtocol(addresses=[TORSION_ADDRESS])
        self.icmp = ICMPEchoResponder()
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
