"""Tests for the TCP transport's fast paths, with a scripted socket in place of a real one.

The read size adapts to the traffic and the end-of-pass flush skips the log context
when no user code can run; these tests pin down that both keep the transport's
behaviour (errors logged with the connection's prefix and closing it) intact.
"""

from __future__ import annotations

import errno
from typing import Any

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil
from torsion.internet import tcp
from torsion.internet.protocol import Protocol

loggedErrors = reactormixins.loggedErrors
reactor = reactormixins.reactor


class ScriptedSocket:
    """Enough of a socket for tcp.Connection: recv serves ``incoming``; send obeys ``sendError``."""

    def __init__(self, incoming: bytes = b"") -> None:
        self.incoming = incoming
        self.askedSizes: list[int] = []
        self.sent = b""
        self.sendError: OSError | None = None
        self.closed = False

    def fileno(self) -> int:
        return 999

    def recv(self, size: int) -> bytes:
        self.askedSizes.append(size)
        if not self.incoming:
            raise BlockingIOError
        data, self.incoming = self.incoming[:size], self.incoming[size:]
        return data

    def send(self, data: Any) -> int:
        if self.sendError is not None:
            raise self.sendError
        self.sent += bytes(data)
        return len(data)

    def close(self) -> None:
        self.closed = True


class Collector(Protocol):
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.lost: list[object] = []

    def dataReceived(self, data: bytes) -> None:
        self.chunks.append(data)

    def connectionLost(self, reason: object = None) -> None:
        self.lost.append(reason)


def connectionOver(sock: ScriptedSocket, protocol: Protocol, reactor: Any) -> tcp.Connection:
    transport = tcp.Connection(sock, protocol, reactor)  # type: ignore[arg-type]
    protocol.makeConnection(transport)
    return transport


def test_readsStartSmallAndGrowWhileTheyComeBackFull(reactor: Any) -> None:
    big = tcp.Connection.readSize
    first = tcp.Connection._firstReadSize
    sock = ScriptedSocket(b"x" * (first + 4 * first + 2 * big))
    protocol = Collector()
    transport = connectionOver(sock, protocol, reactor)
    for _ in range(4):
        transport.doRead()
    assert sock.askedSizes == [first, 4 * first, big, big]
    assert b"".join(protocol.chunks) == b"x" * (first + 4 * first + 2 * big)


def test_readSizeShrinksBackAfterASmallRead(reactor: Any) -> None:
    first = tcp.Connection._firstReadSize
    sock = ScriptedSocket(b"y" * first + b"small")
    protocol = Collector()
    transport = connectionOver(sock, protocol, reactor)
    transport.doRead()
    transport.doRead()
    sock.incoming = b"again"
    transport.doRead()
    assert sock.askedSizes == [first, 4 * first, first]
    assert protocol.chunks == [b"y" * first, b"small", b"again"]


def test_sendErrorAtEndOfPassIsLoggedWithPrefixAndClosesOnlyThatConnection(
    reactor: Any, loggedErrors: list[dict[str, Any]]
) -> None:
    broken = ScriptedSocket()
    broken.sendError = OSError(errno.EINVAL, "scripted send failure")
    healthy = ScriptedSocket()
    brokenProtocol, healthyProtocol = Collector(), Collector()
    brokenTransport = connectionOver(broken, brokenProtocol, reactor)
    connectionOver(healthy, healthyProtocol, reactor)
    brokenTransport._logPrefix = "Collector,7,10.0.0.1"
    brokenTransport.write(b"doomed")
    healthyProtocol.transport.write(b"fine")
    runUntil(reactor, lambda: bool(brokenProtocol.lost) and healthy.sent == b"fine")
    assert broken.closed and not healthy.closed
    assert healthyProtocol.lost == []
    [event] = loggedErrors
    assert event["system"] == "Collector,7,10.0.0.1"
    assert "scripted send failure" in str(event["failure"].value)
