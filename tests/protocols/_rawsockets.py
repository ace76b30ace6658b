"""Raw-socket peers for protocol tests: plain Python sockets driven beside a test reactor.

The reactor under test runs in the test's thread, so a peer must never block: these
helpers use non-blocking sockets and iterate the reactor between attempts, each wait
bounded (the test fails instead of hanging).
"""

from __future__ import annotations

import errno
import socket
import time
from typing import Any

import pytest

from tests.internet.reactormixins import runUntil


class RawClient:
    """A TCP client socket to 127.0.0.1:``port`` that a test reads from and writes to."""

    def __init__(self, reactor: Any, port: int) -> None:
        self.reactor = reactor
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.connect_ex(("127.0.0.1", port))
        self.received = b""
        self.closed = False

    def send(self, data: bytes) -> None:
        """Send all of ``data``, iterating the reactor while the kernel is full."""
        view = memoryview(data)
        deadline = time.monotonic() + 5
        while view:
            try:
                sent = self.sock.send(view)
            except OSError as e:
                if not isinstance(e, BlockingIOError) and e.errno != errno.ENOTCONN:
                    raise
                if time.monotonic() > deadline:
                    pytest.fail("the server did not read what the client sent")
                self.reactor.iterate(0.01)
                continue
            view = view[sent:]

    def _poll(self) -> bool:
        for _ in range(16):
            try:
                chunk = self.sock.recv(65536)
            except BlockingIOError:
                return self.closed
            except ConnectionResetError:
                self.closed = True
                return True
            if not chunk:
                self.closed = True
                return True
            self.received += chunk
        return False

    def readUntil(self, size: int, timeout: float = 5.0) -> bytes:
        """Iterate until ``size`` bytes (or the close) arrived; return what did."""
        runUntil(self.reactor, lambda: self._poll() or len(self.received) >= size, timeout)
        return self.received

    def readUntilClosed(self, timeout: float = 5.0) -> bytes:
        """Iterate until the server closes the connection; return all received."""
        runUntil(self.reactor, self._poll, timeout)
        return self.received

    def close(self) -> None:
        self.sock.close()


class RawDatagramClient:
    """A UDP socket on 127.0.0.1 that sends to a port and waits for answers."""

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)

    def ask(self, port: int, datagram: bytes, timeout: float = 5.0) -> bytes:
        """Send ``datagram`` to ``port`` and return the first datagram that comes back."""
        self.sock.sendto(datagram, ("127.0.0.1", port))
        answers: list[bytes] = []

        def answered() -> bool:
            try:
                answers.append(self.sock.recv(65536))
            except BlockingIOError:
                return False
            return True

        runUntil(self.reactor, answered, timeout)
        return answers[0]

    def silent(self, port: int, datagram: bytes, wait: float = 0.3) -> bool:
        """Send ``datagram``; return True if nothing comes back within ``wait`` seconds."""
        self.sock.sendto(datagram, ("127.0.0.1", port))
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            self.reactor.iterate(0.02)
            try:
                self.sock.recv(65536)
            except BlockingIOError:
                continue
            return False
        return True

    def close(self) -> None:
        self.sock.close()
