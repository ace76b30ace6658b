"""Tests for torsion.protocols.socks: the request parser (hypothesis), the server over
real sockets with curl --socks4/--socks4a fetching from a local http.server, BIND, the
access check and log file, malformed requests, and the client endpoint."""

from __future__ import annotations

import http.server
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from tests.protocols._rawsockets import RawClient
from tests.protocols.test_basic_properties import chunkings
from torsion.internet import endpoints, protocol
from torsion.internet.testing import AccumulatingProtocol
from torsion.protocols import socks, wire
from torsion.protocols.socks import (
    BIND,
    CONNECT,
    SOCKS4ClientEndpoint,
    SOCKSError,
    SOCKSRequestParser,
    SOCKSv4,
    SOCKSv4Factory,
    formatReply,
    formatRequest,
    parseReply,
)

reactor = reactormixins.reactor


# -- sans-IO ------------------------------------------------------------------------------


def test_parserReadsASocks4Request() -> None:
    parser = SOCKSRequestParser()
    request = parser.feed(b"\x04\x01\x00\x50\x7f\x00\x00\x01alice\x00GET /")
    assert request is not None
    assert (request.command, request.port, request.ip, request.user, request.host) == (
        CONNECT,
        80,
        "127.0.0.1",
        b"alice",
        None,
    )
    assert parser.rest == b"GET /"


def test_parserReadsASocks4aRequest() -> None:
    request = SOCKSRequestParser().feed(b"\x04\x02\x1f\x90\x00\x00\x00\x07\x00example.org\x00")
    assert request is not None
    assert (request.command, request.port, request.host) == (BIND, 8080, "example.org")
    assert request.destination == "example.org"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x05\x01\x00", "SOCKS version 5"),
        (b"GET / HTTP/1.1\r\n", "SOCKS version 71"),
        (b"\x04\x03", "unknown SOCKS 4 command 3"),
        (b"\x04\x01\x00\x50\x7f\x00\x00\x01" + b"u" * 300, "user id is longer than 255"),
        (b"\x04\x01\x00\x50\x00\x00\x00\x01\x00" + b"h" * 300, "host name is longer than 255"),
        (b"\x04\x01\x00\x50\x00\x00\x00\x01\x00\x00", "empty host name"),
        (b"\x04\x01\x00\x50\x00\x00\x00\x01\x00\xff\xfe\x00", "not ASCII"),
    ],
)
def test_parserRefusesWhatIsNotASocks4Request(data: bytes, message: str) -> None:
    with pytest.raises(SOCKSError, match=message):
        SOCKSRequestParser().feed(data)


requests = st.builds(
    formatRequest,
    st.sampled_from([CONNECT, BIND]),
    st.one_of(
        st.ip_addresses(v=4).map(str).filter(lambda ip: not ip.startswith("0.0.0.")),
        st.from_regex(r"[a-z][a-z0-9-]{0,15}(\.[a-z][a-z0-9-]{0,15}){0,3}", fullmatch=True),
    ),
    st.integers(0, 65535),
    st.binary(max_size=40).map(lambda user: user.replace(b"\0", b"")),
)


@given(st.data(), requests, st.binary(max_size=20))
def test_parserGivesTheSameRequestWhateverTheChunks(
    data: st.DataObject, request: bytes, rest: bytes
) -> None:
    whole = SOCKSRequestParser()
    expected = whole.feed(request + rest)
    assert expected is not None and whole.rest == rest
    parser = SOCKSRequestParser()
    got = None
    after = b""
    for chunk in data.draw(chunkings(request + rest)):
        if got is None:
            got = parser.feed(chunk)
        else:
            after += chunk
    assert got is not None
    assert repr(got) == repr(expected)
    assert parser.rest + after == rest


@given(st.lists(st.binary(max_size=64), max_size=20))
def test_parserOfAnyBytesGivesARequestOrSOCKSErrorAndStaysBounded(chunks: list[bytes]) -> None:
    parser = SOCKSRequestParser()
    for chunk in chunks:
        try:
            if parser.feed(chunk) is not None:
                return
        except SOCKSError:
            return
        assert len(parser._buffer) <= 8 + 2 * 256


def test_replyRoundTrip() -> None:
    assert parseReply(formatReply(90, 1080, "10.1.2.3")) == (90, 1080, "10.1.2.3")
    with pytest.raises(SOCKSError, match="not a SOCKS 4 reply"):
        parseReply(b"HTTP/1.0")


def test_formatRequestUses4aForNames() -> None:
    assert formatRequest(CONNECT, "127.0.0.1", 80) == b"\x04\x01\x00\x50\x7f\x00\x00\x01\x00"
    assert formatRequest(CONNECT, "localhost", 80, b"me") == (
        b"\x04\x01\x00\x50\x00\x00\x00\x01me\x00localhost\x00"
    )
    with pytest.raises(ValueError, match="user id"):
        formatRequest(CONNECT, "localhost", 80, b"a\0b")


# -- a local web server to fetch through the proxy ----------------------------------------


class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"page {self.path} via socks\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def webServer() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def listenSocks(reactor: Any, factory: Any = None) -> int:
    # Names resolve in the reactor's threads, which start only when it runs: start them.
    pool = reactor.getThreadPool()
    if not pool.started:
        pool.start()
    factory = factory or SOCKSv4Factory(reactor=reactor)
    return int(reactor.listenTCP(0, factory, interface="127.0.0.1").getHost().port)


def curl(reactor: Any, *argv: str) -> str:
    proc = subprocess.Popen(
        ["curl", "-sS", "--max-time", "10", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    runUntil(reactor, lambda: proc.poll() is not None, timeout=15)
    out, err = proc.communicate(timeout=5)
    assert proc.returncode == 0, err
    return out


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curlFetchesAPageThroughSocks4And4a(reactor: Any, webServer: int, tmp_path: Path) -> None:
    logFile = tmp_path / "socks.log"
    number = listenSocks(reactor, SOCKSv4Factory(str(logFile), reactor=reactor))
    proxy = f"127.0.0.1:{number}"
    assert curl(reactor, "--socks4", proxy, f"http://127.0.0.1:{webServer}/four") == (
        "page /four via socks\n"
    )
    assert curl(reactor, "--socks4a", proxy, f"http://localhost:{webServer}/four-a") == (
        "page /four-a via socks\n"
    )
    lines = logFile.read_text().splitlines()
    assert len(lines) == 2
    assert f"CONNECT 127.0.0.1:{webServer}" in lines[0] and lines[0].endswith("granted")
    assert f"CONNECT localhost:{webServer}" in lines[1]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curlIsRefusedByTheAccessCheck(reactor: Any, webServer: int) -> None:
    class OnlyPort80(SOCKSv4):
        def authorize(self, code: int, server: str, port: int, user: bytes) -> bool:
            return port == 80

    factory = SOCKSv4Factory(reactor=reactor)
    factory.protocol = OnlyPort80
    number = listenSocks(reactor, factory)
    proc = subprocess.Popen(
        [
            "curl",
            "-sS",
            "--max-time",
            "10",
            "--socks4",
            f"127.0.0.1:{number}",
            f"http://127.0.0.1:{webServer}/",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    runUntil(reactor, lambda: proc.poll() is not None, timeout=15)
    _, err = proc.communicate(timeout=5)
    assert proc.returncode != 0 and "SOCKS4" in err


# -- raw clients: CONNECT, BIND, refusals, garbage ----------------------------------------


def reply(client: RawClient, count: int = 1) -> list[tuple[int, int, str]]:
    data = client.readUntil(8 * count)
    return [parseReply(data[i : i + 8]) for i in range(0, 8 * count, 8)]


def test_connectRelaysBothWaysAndSendsEarlyData(reactor: Any) -> None:
    echo = reactor.listenTCP(0, protocol.Factory.forProtocol(wire.Echo), interface="127.0.0.1")
    number = listenSocks(reactor)
    client = RawClient(reactor, number)
    # The request and the first bytes to relay in one packet.
    client.send(formatRequest(CONNECT, "127.0.0.1", echo.getHost().port) + b"early ")
    assert reply(client)[0][0] == socks.GRANTED
    client.send(b"and late")
    assert client.readUntil(8 + 14)[8:] == b"early and late"
    client.close()


def test_connectToAClosedPortIsRejected(reactor: Any) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    closed = probe.getsockname()[1]
    probe.close()
    client = RawClient(reactor, listenSocks(reactor))
    client.send(formatRequest(CONNECT, "127.0.0.1", closed))
    assert client.readUntilClosed() == formatReply(socks.REJECTED)
    client.close()


def test_bindWaitsForTheNamedHostAndRelays(reactor: Any) -> None:
    client = RawClient(reactor, listenSocks(reactor))
    client.send(formatRequest(BIND, "127.0.0.1", 0))
    [(code, port, ip)] = reply(client)
    assert code == socks.GRANTED and ip == "127.0.0.1" and port
    incoming = RawClient(reactor, port)
    data = client.readUntil(16)
    code2, peerPort, peerIP = parseReply(data[8:16])
    assert code2 == socks.GRANTED and peerIP == "127.0.0.1"
    assert peerPort == incoming.sock.getsockname()[1]
    incoming.send(b"from the far side")
    assert client.readUntil(16 + 17)[16:] == b"from the far side"
    client.send(b"from the client")
    assert incoming.readUntil(15) == b"from the client"
    incoming.close()
    assert client.readUntilClosed()[16:] == b"from the far side"
    client.close()


def test_bindFromTheWrongHostIsRejected(reactor: Any) -> None:
    client = RawClient(reactor, listenSocks(reactor))
    client.send(formatRequest(BIND, "192.0.2.7", 0))
    [(_, port, _)] = reply(client)
    intruder = RawClient(reactor, port)
    assert client.readUntilClosed()[8:] == formatReply(socks.REJECTED)
    intruder.close()
    client.close()


def test_accessCheckMayRefuseLaterAndSeesTheRequest(reactor: Any) -> None:
    seen: list[tuple[int, str, int, bytes]] = []

    class Checked(SOCKSv4):
        def authorize(self, code: int, server: str, port: int, user: bytes) -> Any:
            seen.append((code, server, port, user))
            from torsion.internet import task

            return task.deferLater(self._reactor(), 0.01, lambda: False)

    factory = SOCKSv4Factory(reactor=reactor)
    factory.protocol = Checked
    client = RawClient(reactor, listenSocks(reactor, factory))
    client.send(formatRequest(CONNECT, "blocked.example", 443, b"bob"))
    assert client.readUntilClosed() == formatReply(socks.REJECTED)
    assert seen == [(CONNECT, "blocked.example", 443, b"bob")]
    client.close()


@pytest.mark.parametrize(
    "garbage",
    [b"GET / HTTP/1.1\r\n\r\n", b"\x05\x01\x00", b"\x04\x01\x00\x50\x7f\0\0\1" + b"x" * 400],
)
def test_garbageIsRejectedAndTheServerServesOthers(reactor: Any, garbage: bytes) -> None:
    echo = reactor.listenTCP(0, protocol.Factory.forProtocol(wire.Echo), interface="127.0.0.1")
    number = listenSocks(reactor)
    bad = RawClient(reactor, number)
    bad.send(garbage)
    assert bad.readUntilClosed() == formatReply(socks.REJECTED)
    bad.close()
    good = RawClient(reactor, number)
    good.send(formatRequest(CONNECT, "127.0.0.1", echo.getHost().port) + b"ok")
    assert good.readUntil(10)[8:] == b"ok"
    good.close()


def test_aClientThatDoesNotReadPausesTheDestination(reactor: Any) -> None:
    chargen = reactor.listenTCP(
        0, protocol.Factory.forProtocol(wire.Chargen), interface="127.0.0.1"
    )
    built: list[Any] = []

    class Recording(SOCKSv4Factory):
        def buildProtocol(self, addr: Any) -> SOCKSv4:
            built.append(super().buildProtocol(addr))
            return built[-1]

    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    client.connect(("127.0.0.1", listenSocks(reactor, Recording(reactor=reactor))))
    client.sendall(formatRequest(CONNECT, "127.0.0.1", chargen.getHost().port))
    try:
        runUntil(reactor, lambda: built and built[0].otherConn is not None)
        transport = built[0].transport
        buffered = getattr(transport, "bufferedSize", None)
        sizes = []
        for _ in range(3):
            for _ in range(20):
                reactor.iterate(0.01)
            sizes.append(buffered() if buffered else transport._transport.get_write_buffer_size())
        # Bounded: the proxy's buffer towards the client stays near its limit.
        assert max(sizes) < 4 * 2**20
    finally:
        client.close()


# -- the client endpoint ------------------------------------------------------------------


def test_clientEndpointConnectsThroughTheProxy(reactor: Any) -> None:
    echo = reactor.listenTCP(0, protocol.Factory.forProtocol(wire.Echo), interface="127.0.0.1")
    proxy = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", listenSocks(reactor))
    for host in ("127.0.0.1", "localhost"):
        endpoint = SOCKS4ClientEndpoint(host, echo.getHost().port, proxy)
        received = AccumulatingProtocol()
        connected = runUntilFired(reactor, endpoints.connectProtocol(endpoint, received))
        assert connected is received and received.made
        received.transport.write(b"through " + host.encode())
        runUntil(reactor, lambda: received.data == b"through " + host.encode())  # noqa: B023
        received.transport.loseConnection()
        runUntil(reactor, lambda: received.closed)  # noqa: B023


def test_clientEndpointFailsWhenTheProxyRefuses(reactor: Any) -> None:
    class Nobody(SOCKSv4):
        def authorize(self, code: int, server: str, port: int, user: bytes) -> bool:
            return False

    factory = SOCKSv4Factory(reactor=reactor)
    factory.protocol = Nobody
    proxy = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", listenSocks(reactor, factory))
    endpoint = SOCKS4ClientEndpoint("127.0.0.1", 9, proxy)
    with pytest.raises(SOCKSError, match="refused the connection \\(code 91\\)"):
        runUntilFired(reactor, endpoints.connectProtocol(endpoint, AccumulatingProtocol()))


def test_clientEndpointFailsWhenTheProxyIsNotThere(reactor: Any) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    closed = probe.getsockname()[1]
    probe.close()
    proxy = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", closed)
    from torsion.internet.error import ConnectionRefusedError

    with pytest.raises(ConnectionRefusedError):
        runUntilFired(
            reactor,
            endpoints.connectProtocol(
                SOCKS4ClientEndpoint("127.0.0.1", 9, proxy), AccumulatingProtocol()
            ),
        )


@pytest.mark.parametrize("host", ["a..b", ".example", "x" * 64 + ".example"])
def test_formatRequestRefusesWhatIsNotAHostName(host: str) -> None:
    with pytest.raises(ValueError, match="not a host name"):
        formatRequest(1, host, 80)
