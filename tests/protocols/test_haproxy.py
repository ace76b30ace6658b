"""Tests for torsion.protocols.haproxy: the PROXY protocol v1 and v2 parsers, wrapper and endpoint.

The parsers are tested directly (with hypothesis feeding arbitrary bytes in arbitrary
pieces); the wrapper over real TCP connections with headers built by hand, and behind
a real HAProxy (``send-proxy`` and ``send-proxy-v2``) where it is installed.
"""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil
from torsion.internet import endpoints
from torsion.internet.address import IPv4Address, IPv6Address, UNIXAddress
from torsion.internet.interfaces import IStreamServerEndpointStringParser
from torsion.internet.protocol import Factory, Protocol
from torsion.internet.task import Clock
from torsion.internet.testing import StringTransportWithDisconnection
from torsion.logger import globalLogPublisher
from torsion.plugin import getPlugins
from torsion.protocols import haproxy
from torsion.protocols.haproxy import (
    HeaderReader,
    InvalidNetworkProtocol,
    InvalidProxyHeader,
    MissingAddressData,
    V1Parser,
    V2Parser,
    encodeV1,
    encodeV2,
)
from torsion.protocols.haproxy._v2parser import SIGNATURE

oneReactor = reactormixins.oneReactor

reactor = reactormixins.reactor

V4_SOURCE = IPv4Address("TCP", "192.0.2.1", 56324)
V4_DESTINATION = IPv4Address("TCP", "198.51.100.7", 443)
V6_SOURCE = IPv6Address("TCP", "2001:db8::1", 1)
V6_DESTINATION = IPv6Address("TCP", "2001:db8::ffff", 65535)


# -- version 1 ----------------------------------------------------------------------------


def test_v1TCP4() -> None:
    info, rest = V1Parser().feed(b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\nGET /")
    assert info is not None
    assert (info.source, info.destination) == (V4_SOURCE, V4_DESTINATION)
    assert info.header == b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n"
    assert rest == b"GET /"


def test_v1TCP6() -> None:
    info, rest = V1Parser().feed(b"PROXY TCP6 2001:db8::1 2001:db8::ffff 1 65535\r\n")
    assert info is not None
    assert (info.source, info.destination, rest) == (V6_SOURCE, V6_DESTINATION, b"")


@pytest.mark.parametrize("line", [b"PROXY UNKNOWN\r\n", b"PROXY UNKNOWN ::1 ::2 1 2\r\n"])
def test_v1UnknownHasNoAddresses(line: bytes) -> None:
    info, rest = V1Parser().feed(line + b"x")
    assert info is not None and info.source is None and info.destination is None
    assert rest == b"x"


def test_v1InPieces() -> None:
    parser = V1Parser()
    line = b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n"
    for byte in line[:-1]:
        assert parser.feed(bytes([byte])) == (None, None)
    info, rest = parser.feed(line[-1:] + b"after")
    assert info is not None and info.source == V4_SOURCE and rest == b"after"


def test_v1LongestLineIsAccepted() -> None:
    address = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    line = f"PROXY TCP6 {address} {address} 65535 65535\r\n".encode()
    assert len(line) == 104
    info, _ = V1Parser().feed(line)
    assert info is not None and info.source.port == 65535
    unknown = b"PROXY UNKNOWN " + b"x" * (107 - 16) + b"\r\n"
    assert len(unknown) == 107
    assert V1Parser().feed(unknown)[0] is not None


@pytest.mark.parametrize(
    ("data", "error", "words"),
    [
        (b"GET / HTTP/1.1\r\n", InvalidProxyHeader, "does not begin with"),
        (b"PROXY UNKNOWN " + b"x" * 200, InvalidProxyHeader, "no CRLF within 107"),
        (b"PROXY UNKNOWN " + b"x" * 92 + b"\r\n", InvalidProxyHeader, "no CRLF within 107"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", InvalidProxyHeader, "LF instead of CRLF"),
        (b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", InvalidNetworkProtocol, "UDP4"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", MissingAddressData, "two ports"),
        (b"PROXY TCP4\r\n", MissingAddressData, "two addresses"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", InvalidProxyHeader, "after the destination"),
        (b"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", InvalidProxyHeader, "fields after"),
        (b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n", InvalidProxyHeader, "not an IPv4 address"),
        (b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n", InvalidProxyHeader, "not an IPv6 address"),
        (b"PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", InvalidProxyHeader, "not an IPv6 address"),
        (b"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", InvalidProxyHeader, "not an IP address"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.\xff 1 2\r\n", InvalidProxyHeader, "not an IP address"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", InvalidProxyHeader, "source port"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 +2\r\n", InvalidProxyHeader, "destination port"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", InvalidProxyHeader, "source port"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 000001 2\r\n", InvalidProxyHeader, "source port"),
    ],
)
def test_v1BadHeaders(data: bytes, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        HeaderReader().feed(data)


def test_v1WrongStartIsSeenAtOnce() -> None:
    # No need to wait for a whole line to know that "PRONTO" is not a header.
    with pytest.raises(InvalidProxyHeader):
        V1Parser().feed(b"PRON")


# -- version 2 ----------------------------------------------------------------------------


def v2(command: int, family: int, body: bytes, version: int = 2) -> bytes:
    return SIGNATURE + bytes([version << 4 | command, family]) + struct.pack("!H", len(body)) + body


V4_BLOCK = bytes([192, 0, 2, 1, 198, 51, 100, 7]) + struct.pack("!HH", 56324, 443)


def test_v2TCP4WithTLVs() -> None:
    body = V4_BLOCK + b"\x02\x00\x0bexample.com" + b"\xee\x00\x00"
    info, rest = V2Parser().feed(v2(1, 0x11, body) + b"payload")
    assert info is not None
    assert (info.source, info.destination) == (V4_SOURCE, V4_DESTINATION)
    assert info.tlvs == ((0x02, b"example.com"), (0xEE, b""))
    assert rest == b"payload"


def test_v2TCP6() -> None:
    header = encodeV2(V6_SOURCE, V6_DESTINATION)
    assert header[13] == 0x21
    info, _ = V2Parser().feed(header)
    assert info is not None and (info.source, info.destination) == (V6_SOURCE, V6_DESTINATION)


def test_v4MappedAddressesReadTheSameInBothVersions() -> None:
    source = IPv6Address("TCP", "::ffff:192.0.2.1", 1)
    destination = IPv6Address("TCP", "::ffff:0:0", 2)
    fromV1, _ = V1Parser().feed(encodeV1(source, destination))
    fromV2, _ = V2Parser().feed(encodeV2(source, destination))
    assert fromV1 is not None and fromV2 is not None
    assert (fromV1.source, fromV1.destination) == (fromV2.source, fromV2.destination)


def test_v2UNIX() -> None:
    body = b"/run/client.sock".ljust(108, b"\0") + b"/run/app.sock".ljust(108, b"\0")
    info, _ = V2Parser().feed(v2(1, 0x31, body))
    assert info is not None
    assert info.source == UNIXAddress("/run/client.sock")
    assert info.destination == UNIXAddress("/run/app.sock")


@pytest.mark.parametrize("family", [0x00, 0x11, 0x55])
def test_v2LocalMeansTheConnectionsOwnAddresses(family: int) -> None:
    # A LOCAL header's family and addresses are ignored, whatever they hold.
    info, rest = V2Parser().feed(v2(0, family, b"\x01\x02\x03") + b"rest")
    assert info is not None and info.source is None and info.destination is None
    assert rest == b"rest"


def test_v2UnspecifiedFamilyHasNoAddresses() -> None:
    info, _ = V2Parser().feed(v2(1, 0x00, b""))
    assert info is not None and info.source is None


@pytest.mark.parametrize(
    ("header", "error", "words"),
    [
        (SIGNATURE[:5] + b"X", InvalidProxyHeader, "v2 signature"),
        (v2(1, 0x11, V4_BLOCK, version=1), InvalidProxyHeader, "version 1"),
        (v2(1, 0x11, V4_BLOCK, version=3), InvalidProxyHeader, "version 3"),
        (v2(2, 0x11, V4_BLOCK), InvalidProxyHeader, "command 0x2"),
        (v2(1, 0x12, V4_BLOCK), InvalidNetworkProtocol, "UDP over IPv4"),
        (v2(1, 0x32, V4_BLOCK), InvalidNetworkProtocol, "UNIX datagram"),
        (v2(1, 0x41, V4_BLOCK), InvalidNetworkProtocol, "0x41"),
        (v2(1, 0x11, V4_BLOCK[:11]), MissingAddressData, "which take 12"),
        (v2(1, 0x21, V4_BLOCK), MissingAddressData, "which take 36"),
        (v2(1, 0x11, V4_BLOCK + b"\x02\x00"), InvalidProxyHeader, "inside a TLV"),
        (v2(1, 0x11, V4_BLOCK + b"\x02\x00\x05abc"), InvalidProxyHeader, "says 5 bytes"),
        (v2(1, 0x11, V4_BLOCK + b"\x02\xff\xff"), InvalidProxyHeader, "says 65535 bytes"),
    ],
)
def test_v2BadHeaders(header: bytes, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        HeaderReader().feed(header)


def test_v2LongerThanTheLimitIsRefusedBeforeItArrives() -> None:
    reader = HeaderReader(maxV2Length=256)
    with pytest.raises(InvalidProxyHeader, match="at most 256"):
        # Only the fixed part is there: the length alone is enough to refuse.
        reader.feed(SIGNATURE + b"\x21\x11\x10\x00")


def test_connectionWithoutAHeaderIsRefusedAtItsFirstByte() -> None:
    with pytest.raises(InvalidProxyHeader, match="send-proxy"):
        HeaderReader().feed(b"\x16\x03\x01")  # A TLS client hello, say.
    assert HeaderReader().feed(b"") == (None, None)


def test_encodeV1() -> None:
    assert encodeV1(V4_SOURCE, V4_DESTINATION) == (
        b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n"
    )
    assert encodeV1(V4_SOURCE, V6_DESTINATION) == b"PROXY UNKNOWN\r\n"
    assert encodeV1(None, None) == b"PROXY UNKNOWN\r\n"


def test_encodeV2Refuses() -> None:
    with pytest.raises(ValueError, match="not addresses of one kind"):
        encodeV2(V4_SOURCE, V6_DESTINATION)
    with pytest.raises(ValueError, match="TLV"):
        encodeV2(V4_SOURCE, V4_DESTINATION, [(300, b"")])
    assert encodeV2(None, None)[12] == 0x20


# -- properties -----------------------------------------------------------------------------

ports = st.integers(0, 65535)
v4Addresses = st.builds(
    lambda host, port: IPv4Address("TCP", host, port),
    st.ip_addresses(v=4).map(str),
    ports,
)
v6Addresses = st.builds(
    lambda host, port: IPv6Address("TCP", host, port),
    st.ip_addresses(v=6).map(str),
    ports,
)
addressPairs = st.one_of(st.tuples(v4Addresses, v4Addresses), st.tuples(v6Addresses, v6Addresses))
tlvLists = st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=40)), max_size=4)


def feedInPieces(reader: HeaderReader, data: bytes, cuts: list[int]) -> tuple[Any, bytes]:
    """Feed ``data`` cut at ``cuts``; return the info and everything after the header."""
    info, after = None, b""
    start = 0
    for end in [*sorted(set(cuts)), len(data)]:
        piece = data[start:end]
        start = end
        if info is not None:
            after += piece
            continue
        info, rest = reader.feed(piece)
        if info is not None:
            after += rest or b""
    return info, after


@settings(max_examples=300, deadline=None)
@given(addressPairs, tlvLists, st.booleans(), st.binary(max_size=50), st.data())
def test_headersSurviveAnySegmentation(
    pair: Any, tlvs: Any, useV2: bool, payload: bytes, data: st.DataObject
) -> None:
    source, destination = pair
    header = encodeV2(source, destination, tlvs) if useV2 else encodeV1(source, destination)
    stream = header + payload
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=8))
    info, after = feedInPieces(HeaderReader(), stream, cuts)
    assert info is not None
    assert (info.source, info.destination) == (source, destination)
    assert info.header == header
    assert info.tlvs == (tuple(tlvs) if useV2 else ())
    assert after == payload


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.binary(max_size=200).map(lambda b: b"PROXY " + b),
        st.binary(max_size=200).map(lambda b: SIGNATURE + b),
        st.binary(min_size=4, max_size=200).map(lambda b: SIGNATURE + b"\x21" + b),
    ),
    st.data(),
)
def test_arbitraryBytesGiveAHeaderOrItsError(stream: bytes, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=8))
    whole: Any
    try:
        whole = HeaderReader().feed(stream)
    except InvalidProxyHeader as e:
        whole = type(e)
    pieces: Any
    try:
        pieces = feedInPieces(HeaderReader(), stream, cuts)
    except InvalidProxyHeader as e:
        pieces = type(e)
    # Nothing but the header's own errors, and the same outcome however it is cut
    # (a header still incomplete may yet fail once more arrives, so compare only ends).
    if isinstance(whole, tuple) and whole[0] is not None:
        assert pieces[0] == whole[0] and pieces[1] == whole[1]
    elif not isinstance(whole, tuple):
        assert pieces == whole or (isinstance(pieces, tuple) and pieces[0] is None)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=2000))
def test_readerHoldsNoMoreThanAHeader(stream: bytes) -> None:
    reader = HeaderReader(maxV2Length=512)
    try:
        for i in range(len(stream)):
            info, _ = reader.feed(stream[i : i + 1])
            if info is not None:
                return
            parser: Any = reader._parser
            assert len(parser._buffer) <= 512
    except InvalidProxyHeader:
        pass


# -- the wrapper over real connections -------------------------------------------------------


class SaysWhere(Protocol):
    """Answers each connection with where it came from, then echoes."""

    def connectionMade(self) -> None:
        peer, host = self.transport.getPeer(), self.transport.getHost()
        self.transport.write(f"{peer.host} {peer.port} {host.host} {host.port}\n".encode())

    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)


def listenBehindProxy(reactor: Any, **kw: Any) -> int:
    factory = haproxy.HAProxyWrappingFactory(Factory.forProtocol(SaysWhere), **kw)
    return int(reactor.listenTCP(0, factory, interface="127.0.0.1").getHost().port)


def connect(port: int) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    client.setblocking(False)
    return client


def readUntil(reactor: Any, client: socket.socket, until: bytes | None) -> bytes:
    got = bytearray()

    def done() -> bool:
        while True:
            try:
                chunk = client.recv(65536)
            except BlockingIOError:
                return until is not None and until in got
            except ConnectionResetError:
                return True
            if not chunk:
                return True
            got.extend(chunk)

    runUntil(reactor, done)
    return bytes(got)


@pytest.mark.parametrize("encode", [encodeV1, encodeV2])
def test_getPeerIsTheClientTheProxyNamed(reactor: Any, encode: Any) -> None:
    port = listenBehindProxy(reactor)
    client = connect(port)
    client.sendall(encode(V4_SOURCE, V4_DESTINATION) + b"hello")
    assert readUntil(reactor, client, b"hello") == b"192.0.2.1 56324 198.51.100.7 443\nhello"
    client.close()


def test_headerInPiecesThenData(reactor: Any) -> None:
    port = listenBehindProxy(reactor)
    client = connect(port)
    header = encodeV2(V6_SOURCE, V6_DESTINATION, [(0x02, b"example.com")])
    for i in range(0, len(header), 7):
        client.sendall(header[i : i + 7])
        reactor.iterate(0.001)
    client.sendall(b"data")
    assert readUntil(reactor, client, b"data") == b"2001:db8::1 1 2001:db8::ffff 65535\ndata"
    client.close()


def test_localHeaderKeepsTheConnectionsAddresses(reactor: Any) -> None:
    port = listenBehindProxy(reactor)
    client = connect(port)
    client.sendall(encodeV2(None, None))
    own = client.getsockname()
    expected = f"{own[0]} {own[1]} 127.0.0.1 {port}\n".encode()
    assert readUntil(reactor, client, b"\n") == expected
    client.close()


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"PROXY TCP4 " + b"9" * 200,
        b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n",
        SIGNATURE + b"\x21\x11\x00\x04abcd",
        b"\x00\xff\xfe" * 100,
    ],
)
def test_badHeaderClosesOnlyThatConnection(reactor: Any, garbage: bytes) -> None:
    events: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(events.append)
    try:
        port = listenBehindProxy(reactor)
        good = connect(port)
        bad = connect(port)
        bad.sendall(garbage)
        assert readUntil(reactor, bad, None) == b""
        good.sendall(encodeV1(V4_SOURCE, V4_DESTINATION) + b"fine")
        assert readUntil(reactor, good, b"fine").endswith(b"fine")
    finally:
        globalLogPublisher.removeObserver(events.append)
    reasons = [e for e in events if "bad PROXY protocol header" in str(e.get("log_format"))]
    assert len(reasons) == 1 and reasons[0]["why"]
    good.close()
    bad.close()


def test_noHeaderInTimeClosesTheConnection() -> None:
    clock = Clock()
    factory = haproxy.HAProxyWrappingFactory(
        Factory.forProtocol(SaysWhere), headerTimeout=5, clock=clock
    )
    wrapper = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
    transport = StringTransportWithDisconnection()
    transport.protocol = wrapper
    wrapper.makeConnection(transport)
    wrapper.dataReceived(b"PROXY TCP4")
    clock.advance(4.9)
    assert not transport.disconnecting
    clock.advance(0.1)
    assert transport.disconnecting
    assert transport.value() == b""  # The protocol was never connected.
    assert factory.protocols == {}


def test_headerInTimeStopsTheTimer() -> None:
    clock = Clock()
    factory = haproxy.HAProxyWrappingFactory(Factory.forProtocol(SaysWhere), clock=clock)
    wrapper = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
    wrapper.makeConnection(StringTransportWithDisconnection())
    wrapper.dataReceived(encodeV1(V4_SOURCE, V4_DESTINATION))
    assert clock.getDelayedCalls() == []
    assert wrapper.proxyInfo.source == V4_SOURCE
    assert wrapper.wrappedProtocol.transport.getPeer() == V4_SOURCE


# -- the endpoint and its plugin ---------------------------------------------------------------


def test_haproxyEndpointString(reactor: Any) -> None:
    endpoint = endpoints.serverFromString(reactor, "haproxy:tcp:0:interface=127.0.0.1")
    results: list[Any] = []
    endpoint.listen(Factory.forProtocol(SaysWhere)).addBoth(results.append)
    runUntil(reactor, lambda: results)
    port = results[0].getHost().port
    client = connect(port)
    client.sendall(encodeV1(V4_SOURCE, V4_DESTINATION))
    assert readUntil(reactor, client, b"\n") == b"192.0.2.1 56324 198.51.100.7 443\n"
    client.close()


def test_haproxyEndpointStringErrors() -> None:
    with pytest.raises(ValueError, match="haproxy:tcp:8080"):
        endpoints.serverFromString(None, "haproxy")
    with pytest.raises(ValueError, match="interfac"):
        endpoints.serverFromString(None, "haproxy:tcp:80:interfac=127.0.0.1")


def test_escapedArgumentsReachTheInnerDescription() -> None:
    endpoint = endpoints.serverFromString(None, "haproxy:tcp6:8080:interface=\\:\\:1")
    assert "interface='::1'" in repr(endpoint)


def test_parserIsAPlugin() -> None:
    parsers = list(getPlugins(IStreamServerEndpointStringParser))
    assert "haproxy" in [parser.prefix for parser in parsers]


# -- behind a real HAProxy -------------------------------------------------------------------


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")
@pytest.mark.parametrize("sendProxy", ["send-proxy", "send-proxy-v2"])
def test_behindRealHAProxy(oneReactor: Any, tmp_path: Path, sendProxy: str) -> None:
    reactor = oneReactor
    serverPort = listenBehindProxy(reactor)
    frontPort = freePort()
    config = tmp_path / "haproxy.cfg"
    config.write_text(
        "global\n    maxconn 50\n"
        "defaults\n    mode tcp\n    timeout connect 5s\n"
        "    timeout client 10s\n    timeout server 10s\n"
        f"frontend front\n    bind 127.0.0.1:{frontPort}\n    default_backend torsion\n"
        f"backend torsion\n    server app 127.0.0.1:{serverPort} {sendProxy}\n"
    )
    process = subprocess.Popen(
        ["haproxy", "-db", "-f", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        client: socket.socket | None = None

        def connected() -> bool:
            nonlocal client
            if process.poll() is not None:
                pytest.fail(f"haproxy exited: {process.stderr.read().decode()!r}")  # type: ignore[union-attr]
            try:
                client = socket.create_connection(("127.0.0.1", frontPort), timeout=1)
            except ConnectionRefusedError:
                return False
            return True

        runUntil(reactor, connected, timeout=10)
        assert client is not None
        client.setblocking(False)
        own = client.getsockname()
        client.sendall(b"through haproxy")
        got = readUntil(reactor, client, b"through haproxy")
        # The server saw our own address and port, not haproxy's connection's.
        assert got == f"{own[0]} {own[1]} 127.0.0.1 {frontPort}\nthrough haproxy".encode()
        client.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
