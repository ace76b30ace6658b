"""The sans-IO codecs of torsion.pair: ethernet, ARP, IPv4, UDP and ICMP, no device.

Known packets (checksums worked out by hand or as Linux sends them) decode to the
right fields; encoding and decoding round-trip for any field values (hypothesis);
and any bytes either decode or raise MalformedPacket, nothing else.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torsion.pair.arp import OP_REQUEST, ARPPacket, encodeARP, parseARP
from torsion.pair.ethernet import (
    EthernetHeader,
    encodeEthernetFrame,
    formatHardwareAddress,
    parseEthernetFrame,
    parseHardwareAddress,
)
from torsion.pair.icmp import ECHO_REQUEST, encodeEcho, encodeICMP, parseICMP
from torsion.pair.ip import encodeIPv4, internetChecksum, parseIPv4
from torsion.pair.raw import MalformedPacket
from torsion.pair.udp import encodeUDP, parseUDP

# A UDP datagram header from 192.168.0.1 to 192.168.0.199 (a textbook example of the
# header checksum: 0xb861).
KNOWN_IPV4 = bytes.fromhex("450000730000400040 11b861c0a80001c0a800c7".replace(" ", ""))
BODY = b"\x00" * (0x73 - 20)
addresses = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
ports = st.integers(0, 65535)


def test_checksumOfAKnownHeader() -> None:
    assert internetChecksum(KNOWN_IPV4[:10] + b"\x00\x00" + KNOWN_IPV4[12:]) == 0xB861
    assert internetChecksum(KNOWN_IPV4) == 0
    assert internetChecksum(b"\x01") == 0xFEFF  # an odd byte is padded with zero


def test_parseKnownIPv4Header() -> None:
    header, payload = parseIPv4(KNOWN_IPV4 + b"\x00" * (0x73 - 20) + b"padding")
    assert (header.version, header.ihl, header.tot_len, header.ttl) == (4, 20, 0x73, 64)
    assert (header.protocol, header.saddr, header.daddr) == (17, "192.168.0.1", "192.168.0.199")
    assert header.dont_fragment and not header.more_fragments and header.fragment_offset == 0
    assert len(payload) == 0x73 - 20  # link padding trimmed


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (KNOWN_IPV4[:19], "shorter than an IPv4 header"),
        (b"\x65" + KNOWN_IPV4[1:] + BODY, "IP version 6"),
        (b"\x44" + KNOWN_IPV4[1:] + BODY, "header length of 16"),
        (KNOWN_IPV4, "total length of 115"),
        (KNOWN_IPV4[:11] + b"\x00" + KNOWN_IPV4[12:] + BODY, "checksum does not match"),
    ],
)
def test_malformedIPv4Refused(data: bytes, message: str) -> None:
    with pytest.raises(MalformedPacket, match=message):
        parseIPv4(data)


@given(addresses, addresses, st.integers(0, 255), st.binary(max_size=200), st.integers(1, 255))
def test_ipv4RoundTrip(source: str, dest: str, proto: int, payload: bytes, ttl: int) -> None:
    header, back = parseIPv4(encodeIPv4(source, dest, proto, payload, ttl=ttl))
    assert (header.saddr, header.daddr, header.protocol, header.ttl) == (source, dest, proto, ttl)
    assert back == payload


@given(st.binary(max_size=80))
def test_anyBytesDecodeOrRaiseMalformed(data: bytes) -> None:
    for parse in (
        parseIPv4,
        parseEthernetFrame,
        parseARP,
        parseICMP,
        lambda d: parseUDP(d, "10.0.0.1", "10.0.0.2"),
    ):
        try:
            parse(data)
        except MalformedPacket:
            pass


def test_encodeIPv4RefusesBadInput() -> None:
    with pytest.raises(ValueError, match="dotted-quad"):
        encodeIPv4("10.0.0", "10.0.0.2", 1, b"")
    with pytest.raises(ValueError, match="dotted-quad"):
        encodeIPv4("10.0.0.1", "::1", 1, b"")
    with pytest.raises(TypeError, match="IP protocol number"):
        encodeIPv4("10.0.0.1", "10.0.0.2", 256, b"")
    with pytest.raises(ValueError, match="at most 65515"):
        encodeIPv4("10.0.0.1", "10.0.0.2", 17, b"x" * 65516)


def test_udpKnownChecksum() -> None:
    # A datagram as Linux sends it: 10.200.0.1:1234 -> 10.200.0.2:9999, b"hi".
    segment = encodeUDP("10.200.0.1", "10.200.0.2", 1234, 9999, b"hi")
    assert segment[:6] == bytes.fromhex("04d2270f000a")
    assert (
        internetChecksum(
            bytes.fromhex("0ac800010ac80002")
            + b"\x00\x11"
            + len(segment).to_bytes(2, "big")
            + segment
        )
        == 0
    )
    header, payload = parseUDP(segment, "10.200.0.1", "10.200.0.2")
    assert (header.source, header.dest, header.len, payload) == (1234, 9999, 10, b"hi")


def test_udpChecksumZeroMeansNone() -> None:
    segment = encodeUDP("10.0.0.1", "10.0.0.2", 1, 2, b"data")
    unchecked = segment[:6] + b"\x00\x00" + segment[8:]
    assert parseUDP(unchecked, "10.9.9.9", "10.0.0.2")[1] == b"data"


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda s: s[:7], "shorter than a UDP header"),
        (lambda s: s[:4] + b"\x00\x04" + s[6:], "UDP length of 4"),
        (lambda s: s[:4] + b"\x00\xff" + s[6:], "UDP length of 255"),
        (lambda s: s[:-1] + b"X", "checksum does not match"),
    ],
)
def test_malformedUDPRefused(mangle: object, message: str) -> None:
    segment = encodeUDP("10.0.0.1", "10.0.0.2", 1, 2, b"data")
    with pytest.raises(MalformedPacket, match=message):
        parseUDP(mangle(segment), "10.0.0.1", "10.0.0.2")  # type: ignore[operator]


def test_udpChecksumCoversTheAddresses() -> None:
    segment = encodeUDP("10.0.0.1", "10.0.0.2", 1, 2, b"data")
    with pytest.raises(MalformedPacket, match="checksum"):
        parseUDP(segment, "10.0.0.3", "10.0.0.2")


@given(addresses, addresses, ports, ports, st.binary(max_size=300))
def test_udpRoundTrip(source: str, dest: str, sport: int, dport: int, payload: bytes) -> None:
    segment = encodeUDP(source, dest, sport, dport, payload)
    assert segment[6:8] != b"\x00\x00"  # a computed 0 is sent as 0xffff
    header, back = parseUDP(segment, source, dest)
    assert (header.source, header.dest, back) == (sport, dport, payload)


def test_icmpEchoAsLinuxPingSendsIt() -> None:
    # Linux ping's first request with identifier 0x1c46, sequence 1, 8 bytes of data.
    data = bytes(range(8))
    message = encodeEcho(ECHO_REQUEST, 0x1C46, 1, data)
    assert message[:2] == b"\x08\x00"
    assert internetChecksum(message) == 0
    parsed = parseICMP(message)
    assert (parsed.type, parsed.code, parsed.identifier, parsed.sequence) == (8, 0, 0x1C46, 1)
    assert parsed.data == data


def test_malformedICMPRefused() -> None:
    with pytest.raises(MalformedPacket, match="shorter than an ICMP header"):
        parseICMP(b"\x08\x00\x00")
    message = bytearray(encodeEcho(8, 1, 1, b"abc"))
    message[-1] ^= 1
    with pytest.raises(MalformedPacket, match="checksum"):
        parseICMP(bytes(message))
    with pytest.raises(ValueError, match="4 bytes after the checksum"):
        encodeICMP(8, 0, b"\x00", b"")


@given(st.integers(0, 255), st.integers(0, 255), st.binary(min_size=4, max_size=4), st.binary())
def test_icmpRoundTrip(kind: int, code: int, rest: bytes, data: bytes) -> None:
    parsed = parseICMP(encodeICMP(kind, code, rest, data))
    assert (parsed.type, parsed.code, parsed.rest, parsed.data) == (kind, code, rest, data)


def test_ethernetFrame() -> None:
    frame = encodeEthernetFrame(b"\xff" * 6, "02:00:5e:10:00:01", 0x0800, b"payload")
    assert frame.hex().startswith("ffffffffffff02005e1000010800")
    header, payload = parseEthernetFrame(frame)
    assert header == EthernetHeader(b"\xff" * 6, bytes.fromhex("02005e100001"), 0x0800)
    assert payload == b"payload"
    with pytest.raises(MalformedPacket, match="no whole header"):
        parseEthernetFrame(frame[:13])


def test_hardwareAddresses() -> None:
    assert formatHardwareAddress(parseHardwareAddress("02:00:5E:10:00:01")) == "02:00:5e:10:00:01"
    for bad in ("02:00:5e:10:00", "02:00:5e:10:00:zz", "0200.5e10.0001", b"\x00" * 5):
        with pytest.raises(ValueError, match="hardware address"):
            parseHardwareAddress(bad)


def test_arpRoundTripAndKnownBytes() -> None:
    request = ARPPacket(
        OP_REQUEST, bytes.fromhex("02005e100001"), "10.0.0.1", b"\x00" * 6, "10.0.0.2"
    )
    encoded = encodeARP(request)
    # ethernet, IPv4, 6, 4, request, then the addresses.
    assert encoded[:8].hex() == "0001080006040001"
    assert len(encoded) == 28
    assert parseARP(encoded + b"\x00" * 18) == request  # ethernet padding ignored
    with pytest.raises(MalformedPacket, match="not ethernet/IPv4"):
        parseARP(b"\x00\x06" + encoded[2:])
    with pytest.raises(MalformedPacket, match="shorter than an ARP packet"):
        parseARP(encoded[:27])
