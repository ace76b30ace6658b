"""DNSServerFactory on real sockets of every reactor (the conformance suite): UDP and TCP
on one port, truncation then the retry over TCP, and garbage that does not stop it.
The peers are plain Python sockets on 127.0.0.1.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil
from torsion.names import authority, dns, server

reactor = reactormixins.reactor

ZONE = (
    "zone = [SOA('example.com', minimum=60), A('ns1.example.com', '192.0.2.1')]"
    " + [A('many.example.com', f'10.0.0.{i}') for i in range(1, 101)]\n"
)


@pytest.fixture
def serving(reactor: Any, tmp_path: Path) -> tuple[Any, int]:
    path = tmp_path / "zone.py"
    path.write_text(ZONE)
    factory = server.DNSServerFactory([authority.PySourceAuthority(str(path))], reactor=reactor)
    tcp = reactor.listenTCP(0, factory, interface="127.0.0.1")
    port = tcp.getHost().port
    reactor.listenUDP(port, dns.DNSDatagramProtocol(factory, reactor), interface="127.0.0.1")
    return reactor, port


def query(name: str, id: int) -> bytes:
    m = dns.Message(id=id, recDes=1)
    m.addQuery(name.encode(), dns.A)
    return m.toStr()


def receive(reactor: Any, sock: socket.socket, size: int = 65536) -> bytes:
    got: list[bytes] = []

    def arrived() -> bool:
        try:
            got.append(sock.recv(size))
        except BlockingIOError:
            return False
        return True

    runUntil(reactor, arrived)
    return got[0]


def decode(data: bytes) -> dns.Message:
    m = dns.Message()
    m.fromStr(data)
    return m


def test_udpTruncatesAndTcpGivesTheWholeAnswer(serving: tuple[Any, int]) -> None:
    reactor, port = serving
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.setblocking(False)
        udp.sendto(query("many.example.com", 1), ("127.0.0.1", port))
        data = receive(reactor, udp)
    reply = decode(data)
    assert (reply.id, reply.trunc, reply.answers) == (1, 1, [])
    assert len(data) <= 512
    with socket.create_connection(("127.0.0.1", port)) as tcp:
        tcp.setblocking(False)
        q = query("many.example.com", 2)
        tcp.sendall(len(q).to_bytes(2, "big") + q)
        data = b""
        while len(data) < 2 or len(data) < 2 + int.from_bytes(data[:2], "big"):
            data += receive(reactor, tcp)
    reply = decode(data[2:])
    assert (reply.id, reply.trunc, len(reply.answers)) == (2, 0, 100)


def test_garbageGetsFormerrAndOthersAreStillAnswered(serving: tuple[Any, int]) -> None:
    reactor, port = serving
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as bad,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as good,
    ):
        bad.setblocking(False)
        good.setblocking(False)
        bad.sendto(
            bytes.fromhex("abcd 0100 0001 0000 0000 0000 c00c 0001 0001"), ("127.0.0.1", port)
        )
        bad.sendto(b"\x01", ("127.0.0.1", port))
        good.sendto(query("ns1.example.com", 3), ("127.0.0.1", port))
        formerr = decode(receive(reactor, bad))
        answer = decode(receive(reactor, good))
    assert (formerr.id, formerr.rCode) == (0xABCD, dns.EFORMAT)
    assert (answer.id, answer.rCode, len(answer.answers)) == (3, dns.OK, 1)
