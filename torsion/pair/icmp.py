"""ICMP for IPv4 (RFC 792): the message codec, an echo responder, and ping.

``ICMPEchoResponder`` is registered on an IPProtocol at protocol 1. Each echo request
with a good checksum gets an echo reply carrying the same identifier, sequence number
and data, sent from the address the request was sent to. ``ping(dest)`` sends an echo
request and fires with the round trip time when its reply comes (a bounded number
wait at once, each with a timeout). Other messages are counted and dropped.
Tests: tests/pair/test_codecs.py, test_layers.py and test_tuntap_netns.py (iputils
ping in a network namespace gets its replies; torsion pings the kernel).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Any

from zope.interface import implementer

from torsion.internet import error
from torsion.internet.defer import Deferred
from torsion.pair._layer import DatagramLayer, checkNumber
from torsion.pair.ip import internetChecksum
from torsion.pair.raw import IRawDatagramProtocol, MalformedPacket

__all__ = [
    "ECHO_REPLY",
    "ECHO_REQUEST",
    "ICMPEchoResponder",
    "ICMPMessage",
    "encodeEcho",
    "encodeICMP",
    "parseICMP",
]

ECHO_REPLY = 0
DESTINATION_UNREACHABLE = 3
ECHO_REQUEST = 8
HEADER_SIZE = 8
_HEADER = struct.Struct("!BBH4s")
_ECHO = struct.Struct("!HH")


@dataclass(frozen=True, slots=True)
class ICMPMessage:
    """A decoded ICMP message: type, code, the 4 header bytes after the checksum
    (``rest``), and the data after the header."""

    type: int
    code: int
    check: int
    rest: bytes
    data: bytes

    @property
    def identifier(self) -> int:
        """The identifier of an echo request or reply."""
        return int(_ECHO.unpack(self.rest)[0])

    @property
    def sequence(self) -> int:
        """The sequence number of an echo request or reply."""
        return int(_ECHO.unpack(self.rest)[1])


def parseICMP(data: bytes) -> ICMPMessage:
    """Decode an ICMP message, checking its checksum.

    Raises:
        MalformedPacket: shorter than the 8-byte header, or a wrong checksum.
    """
    if len(data) < HEADER_SIZE:
        raise MalformedPacket(f"{len(data)} bytes are shorter than an ICMP header")
    if internetChecksum(data):
        raise MalformedPacket("the ICMP checksum does not match")
    kind, code, check, rest = _HEADER.unpack_from(data)
    return ICMPMessage(kind, code, check, rest, bytes(data[HEADER_SIZE:]))


def encodeICMP(kind: int, code: int, rest: bytes, data: bytes) -> bytes:
    """Return an ICMP message with its checksum filled in."""
    checkNumber(kind, 8, "an ICMP type")
    checkNumber(code, 8, "an ICMP code")
    if len(rest) != 4:
        raise ValueError(f"the ICMP header has 4 bytes after the checksum, not {len(rest)}")
    message = bytearray(_HEADER.pack(kind, code, 0, rest)) + data
    struct.pack_into("!H", message, 2, internetChecksum(message))
    return bytes(message)


def encodeEcho(kind: int, identifier: int, sequence: int, data: bytes) -> bytes:
    """Return an echo request (``kind`` 8) or reply (0)."""
    checkNumber(identifier, 16, "an echo identifier")
    checkNumber(sequence, 16, "an echo sequence number")
    return encodeICMP(kind, 0, _ECHO.pack(identifier, sequence), data)


@implementer(IRawDatagramProtocol)
class ICMPEchoResponder(DatagramLayer):
    """Answers ICMP echo requests (``answered`` counts the replies sent), and pings.

    Args:
        reactor: what ``ping`` times its answers with (the global reactor by default).
        maxOutstanding: how many pings may wait for their reply at once.
    """

    def __init__(self, reactor: Any = None, maxOutstanding: int = 64) -> None:
        super().__init__(reactor)
        self.answered = 0
        self.maxOutstanding = maxOutstanding
        self._identifier = int.from_bytes(os.urandom(2), "big")
        self._sequence = 0
        self._pending: dict[tuple[str, int], tuple[Deferred[float], float, Any]] = {}

    def payloadReceived(self, data: bytes, source: str, dest: str) -> None:
        """An ICMP message arrived from ``source`` for ``dest``: answer an echo
        request, match an echo reply to the ping it answers."""
        try:
            message = parseICMP(data)
        except MalformedPacket as e:
            self.drop(f"malformed: {e}")
            return
        if message.type == ECHO_REPLY and message.code == 0:
            self._replyReceived(message, source)
        elif message.type != ECHO_REQUEST or message.code != 0:
            self.drop(f"ICMP type {message.type} code {message.code} (only echo is answered)")
        else:
            reply = encodeICMP(ECHO_REPLY, 0, message.rest, message.data)
            self.transport.write(reply, source, dest)
            self.answered += 1

    def ping(self, dest: str, data: bytes = b"", timeout: float = 2.0) -> Deferred[float]:
        """Send an echo request to ``dest``; the Deferred fires with the round trip in
        seconds when the reply comes, or fails with TimeoutError after ``timeout``.

        Raises:
            RuntimeError: not attached to IP, or ``maxOutstanding`` pings wait already.
        """
        if self.transport is None:
            raise RuntimeError("ICMPEchoResponder is not registered on an attached IPProtocol")
        if len(self._pending) >= self.maxOutstanding:
            raise RuntimeError(f"{self.maxOutstanding} pings wait for replies already")
        reactor = self._getReactor()
        self._sequence = (self._sequence + 1) & 0xFFFF
        key = (dest, self._sequence)
        result: Deferred[float] = Deferred()
        timer = reactor.callLater(timeout, self._timedOut, key, timeout)
        self._pending[key] = (result, reactor.seconds(), timer)
        try:
            self.transport.write(
                encodeEcho(ECHO_REQUEST, self._identifier, self._sequence, data), dest
            )
        except BaseException:
            del self._pending[key]
            timer.cancel()
            raise
        return result

    def _replyReceived(self, message: ICMPMessage, source: str) -> None:
        pending = None
        if message.identifier == self._identifier:
            pending = self._pending.pop((source, message.sequence), None)
        if pending is None:
            self.drop("echo reply to no ping of ours")
            return
        result, sent, timer = pending
        timer.cancel()
        result.callback(self._getReactor().seconds() - sent)

    def _timedOut(self, key: tuple[str, int], timeout: float) -> None:
        pending = self._pending.pop(key, None)
        if pending is not None:
            pending[0].errback(
                error.TimeoutError(f"no echo reply from {key[0]} within {timeout} seconds")
            )

    def stopProtocol(self) -> None:
        pending, self._pending = self._pending, {}
        for result, _, timer in pending.values():
            timer.cancel()
            result.errback(error.ConnectionDone("the ICMP protocol stopped"))
        super().stopProtocol()
