"""The basic receivers over real sockets on every reactor, with peers that send garbage:
overlong lines, bad netstring lengths, oversized length prefixes, binary noise. The bad
peer gets its connection dropped; a good peer connected at the same time is served."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.protocols._rawsockets import RawClient
from torsion.internet import protocol
from torsion.protocols import basic

reactor = reactormixins.reactor


class LineEcho(basic.LineReceiver):
    MAX_LENGTH = 64

    def lineReceived(self, line: bytes) -> None:
        self.sendLine(b"line:" + line)


class NetstringEcho(basic.NetstringReceiver):
    MAX_LENGTH = 64

    def stringReceived(self, string: bytes) -> None:
        self.sendString(b"net:" + string)


class Int32Echo(basic.Int32StringReceiver):
    MAX_LENGTH = 64

    def stringReceived(self, string: bytes) -> None:
        self.sendString(b"int:" + string)


CASES = [
    (LineEcho, b"x" * 500, b"hello\r\n", b"line:hello\r\n"),
    (LineEcho, bytes(range(256)) * 4, b"hello\r\n", b"line:hello\r\n"),
    (NetstringEcho, b"99x:abc,", b"5:hello,", b"9:net:hello,"),
    (NetstringEcho, b"5:hello!", b"5:hello,", b"9:net:hello,"),
    (NetstringEcho, b"\xff\xfe\x00garbage", b"5:hello,", b"9:net:hello,"),
    (
        Int32Echo,
        struct.pack("!I", 2**31) + b"x" * 100,
        struct.pack("!I", 5) + b"hello",
        struct.pack("!I", 9) + b"int:hello",
    ),
]


@pytest.mark.parametrize(("kind", "garbage", "good", "answer"), CASES)
def test_garbageDropsOnlyTheBadPeer(
    reactor: Any, kind: Any, garbage: bytes, good: bytes, answer: bytes
) -> None:
    port = reactor.listenTCP(0, protocol.Factory.forProtocol(kind), interface="127.0.0.1")
    number = port.getHost().port
    fine = RawClient(reactor, number)
    bad = RawClient(reactor, number)
    fine.send(good[:3])  # half a message, then the bad peer strikes
    bad.send(garbage)
    bad.readUntilClosed()
    bad.close()
    fine.send(good[3:])
    assert fine.readUntil(len(answer)) == answer
    fine.send(good)
    assert fine.readUntil(2 * len(answer)) == answer * 2
    fine.close()
