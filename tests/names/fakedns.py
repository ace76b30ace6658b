"""
A fake DNS server for the client tests: UDP and TCP on one port of 127.0.0.1,
run in a thread on plain sockets and dnspython (so it shares no code with
torsion). By default it answers from a small zone, truncating UDP answers that do
not fit (512 bytes, or the EDNS0 size offered); a test can replace
C{server.handler} to misbehave: wrong IDs, garbage, silence, refusals.
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

dmsg = pytest.importorskip("dns.message", reason="dnspython is in the test extra")
drrset = pytest.importorskip("dns.rrset")
drcode = pytest.importorskip("dns.rcode")
dflags = pytest.importorskip("dns.flags")
dname = pytest.importorskip("dns.name")
dtype = pytest.importorskip("dns.rdatatype")

ZONE: dict[tuple[str, str], tuple[int, list[str]]] = {
    ("www.example.com.", "A"): (300, ["192.0.2.10", "192.0.2.11"]),
    ("www.example.com.", "AAAA"): (300, ["2001:db8::10"]),
    ("v6only.example.com.", "AAAA"): (300, ["2001:db8::6"]),
    ("alias.example.com.", "CNAME"): (60, ["www.example.com."]),
    ("far.example.com.", "CNAME"): (60, ["target.example.net."]),
    ("target.example.net.", "A"): (60, ["198.51.100.1"]),
    ("example.com.", "MX"): (3600, ["10 mail.example.com.", "20 backup.example.com."]),
    ("example.com.", "NS"): (3600, ["ns1.example.com."]),
    ("example.com.", "TXT"): (3600, ['"v=spf1 -all"', '"hello" "world"']),
    ("example.com.", "SOA"): (
        3600,
        ["ns1.example.com. hostmaster.example.com. 42 3600 600 86400 30"],
    ),
    ("_sip._tcp.example.com.", "SRV"): (600, ["1 5 5060 sip.example.com."]),
    ("10.2.0.192.in-addr.arpa.", "PTR"): (600, ["www.example.com."]),
    ("example.com.", "NAPTR"): (600, ['100 10 "U" "E2U+sip" "!^.*$!sip:x@example.com!" .']),
    ("example.com.", "SSHFP"): (600, ["4 2 " + "ab" * 32]),
    ("host.corp.example.", "A"): (60, ["192.0.2.99"]),
    ("local.example.com.", "A"): (60, ["127.0.0.1"]),
    ("big.example.com.", "TXT"): (60, [f'"{"x" * 200} {i}"' for i in range(20)]),
}
ORIGIN = "example.com."


class Raw(bytes):
    """Bytes a handler wants sent over TCP as they are, without the length prefix."""


class Close(Raw):
    """Sent over TCP as they are, after which the server closes the connection."""


@dataclass
class Request:
    """One message the server received."""

    transport: str
    wire: bytes
    addr: Any
    message: Any = None


def zoneAnswer(query: Any) -> Any:
    """The answer to C{query} (a dnspython Message) from ZONE, CNAMEs followed."""
    response = dmsg.make_response(query)
    response.flags |= dflags.RA
    q = query.question[0]
    name, kind = q.name.to_text().lower(), dtype.to_text(q.rdtype)
    for _ in range(8):
        entry = ZONE.get((name, kind))
        if entry is not None:
            response.answer.append(drrset.from_text(name, entry[0], "IN", kind, *entry[1]))
            return response
        cname = ZONE.get((name, "CNAME"))
        if cname is None:
            break
        response.answer.append(drrset.from_text(name, cname[0], "IN", "CNAME", *cname[1]))
        name = cname[1][0].lower()
    known = any(n == name for n, _ in ZONE)
    if not known:
        response.set_rcode(drcode.NXDOMAIN)
    if name.endswith(ORIGIN):
        soa = ZONE[(ORIGIN, "SOA")]
        response.authority.append(drrset.from_text(ORIGIN, soa[0], "IN", "SOA", *soa[1]))
    return response


def truncated(response: Any, limit: int) -> bytes:
    """C{response} on the wire, or with TC set and no records if it is over C{limit}."""
    wire: bytes = response.to_wire(max_size=65535)
    if len(wire) <= max(limit, 512):
        return wire
    response.answer, response.authority, response.additional = [], [], []
    response.flags |= dflags.TC
    cut: bytes = response.to_wire()
    return cut


class FakeDNSServer:
    """The server; C{handler(request)} returns the byte strings to send back."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.handler: Callable[[Request], list[bytes] | None] = self.answerFromZone
        self.udp, self.tcp = self._bindPair()
        self.port = self.udp.getsockname()[1]
        self.address = ("127.0.0.1", self.port)
        self._stop = threading.Event()
        self._conns: dict[socket.socket, bytearray] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def _bindPair() -> tuple[socket.socket, socket.socket]:
        for _ in range(50):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("127.0.0.1", 0))
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind(("127.0.0.1", udp.getsockname()[1]))
            except OSError:
                udp.close()
                tcp.close()
                continue
            tcp.listen(16)
            return udp, tcp
        raise RuntimeError("no port free for both UDP and TCP on 127.0.0.1")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for s in (self.udp, self.tcp, *self._conns):
            s.close()

    # -- what it answers ----------------------------------------------------------------

    def answerFromZone(self, request: Request) -> list[bytes] | None:
        query = request.message
        if query is None:
            return None
        response = zoneAnswer(query)
        if request.transport == "tcp":
            return [response.to_wire(max_size=65535)]
        return [truncated(response, query.payload if query.edns >= 0 else 512)]

    def udpQueries(self) -> list[Request]:
        return [r for r in self.requests if r.transport == "udp"]

    def tcpQueries(self) -> list[Request]:
        return [r for r in self.requests if r.transport == "tcp"]

    # -- the loop -----------------------------------------------------------------------

    def _received(self, transport: str, wire: bytes, addr: Any) -> list[bytes]:
        request = Request(transport, wire, addr)
        try:
            request.message = dmsg.from_wire(wire)
        except Exception:
            request.message = None
        self.requests.append(request)
        try:
            return self.handler(request) or []
        except Exception:
            return []

    def _run(self) -> None:
        while not self._stop.is_set():
            readable, _, _ = select.select([self.udp, self.tcp, *self._conns], [], [], 0.05)
            for s in readable:
                if s is self.udp:
                    try:
                        wire, addr = self.udp.recvfrom(65535)
                    except OSError:
                        continue
                    for out in self._received("udp", wire, addr):
                        try:
                            self.udp.sendto(out, addr)
                        except OSError:
                            pass
                elif s is self.tcp:
                    conn, _ = self.tcp.accept()
                    self._conns[conn] = bytearray()
                else:
                    self._readTCP(s)

    def _readTCP(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(65535)
        except OSError:
            data = b""
        if not data:
            del self._conns[conn]
            conn.close()
            return
        buffer = self._conns[conn]
        buffer += data
        while len(buffer) >= 2:
            size = int.from_bytes(buffer[:2], "big")
            if len(buffer) < 2 + size:
                break
            wire = bytes(buffer[2 : 2 + size])
            del buffer[: 2 + size]
            for out in self._received("tcp", wire, conn.getpeername()):
                try:
                    conn.sendall(out if isinstance(out, Raw) else len(out).to_bytes(2, "big") + out)
                except OSError:
                    pass
                if isinstance(out, Close):
                    del self._conns[conn]
                    conn.close()
                    return


@pytest.fixture
def fakeServer() -> Any:
    server = FakeDNSServer()
    try:
        yield server
    finally:
        server.close()
