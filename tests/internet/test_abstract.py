"""Tests for FileDescriptor's write buffer (torsion.internet.abstract), without sockets.

A FileDescriptor whose ``writeSomeData`` records what it is given and takes as much as
the test says shows how the buffer turns writes into sends: one send per pass of the
loop, what the kernel refuses kept and sent later, no byte copied more than needed.
The same buffer carries TCP and every other selectable transport; the socket-level
behaviour is tested in tests/internet/test_tcp.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from torsion.internet.abstract import FileDescriptor, sendAtOnce


class FakeReactor:
    """Records what a transport asks of the reactor."""

    def __init__(self) -> None:
        self.scheduled: list[Any] = []
        self.writers: set[Any] = set()
        self._scheduleWrite = self.scheduled.append

    def addWriter(self, writer: Any) -> None:
        self.writers.add(writer)

    def removeWriter(self, writer: Any) -> None:
        self.writers.discard(writer)

    def addReader(self, reader: Any) -> None:
        pass

    def removeReader(self, reader: Any) -> None:
        pass


class RecordingDescriptor(FileDescriptor):
    """Sends go to ``sends``; each takes at most ``room`` bytes (None: everything)."""

    def __init__(self, reactor: FakeReactor) -> None:
        super().__init__(reactor)
        self.connected = True
        self.sends: list[bytes] = []
        self.room: int | None = None

    def writeSomeData(self, data: bytes | memoryview) -> int | BaseException:
        taken = bytes(data) if self.room is None else bytes(data[: self.room])
        self.sends.append(taken)
        return len(taken)


@pytest.fixture
def reactor() -> FakeReactor:
    return FakeReactor()


@pytest.fixture
def descriptor(reactor: FakeReactor) -> RecordingDescriptor:
    return RecordingDescriptor(reactor)


def test_writesOfOnePassGoOutInOneSend(
    reactor: FakeReactor, descriptor: RecordingDescriptor
) -> None:
    descriptor.write(b"one ")
    descriptor.write(b"two ")
    descriptor.writeSequence([b"three", b"", b" four"])
    assert reactor.scheduled == [descriptor]  # Asked once, by the first write.
    assert descriptor.bufferedSize() == len(b"one two three four")
    descriptor.doWrite()
    assert descriptor.sends == [b"one two three four"]
    assert descriptor.bufferedSize() == 0
    assert reactor.writers == set()


def test_writeIntoEmptyBufferAsksForAFlushAgain(
    reactor: FakeReactor, descriptor: RecordingDescriptor
) -> None:
    descriptor.write(b"a")
    descriptor.doWrite()
    descriptor.write(b"b")
    assert reactor.scheduled == [descriptor, descriptor]


def test_whatTheKernelRefusesIsSentOnceWritable(
    reactor: FakeReactor, descriptor: RecordingDescriptor
) -> None:
    descriptor.room = 3
    descriptor.write(b"abcdef")
    descriptor.doWrite()
    assert descriptor.sends == [b"abc"]
    assert reactor.writers == {descriptor}
    descriptor.write(b"gh")
    assert reactor.scheduled == [descriptor]  # The writability watch sends the rest.
    descriptor.room = None
    descriptor.doWrite()
    # The partly sent head goes alone (it is not copied into a join), then the rest.
    assert descriptor.sends == [b"abc", b"def", b"gh"]
    assert descriptor.bufferedSize() == 0
    assert reactor.writers == set()


def test_writeSequenceOfOnlyEmptyChunksQueuesNothing(
    reactor: FakeReactor, descriptor: RecordingDescriptor
) -> None:
    descriptor.writeSequence([b"", b""])
    descriptor.write(b"")
    assert reactor.scheduled == []
    assert descriptor.bufferedSize() == 0


def test_bufferedSizeCountsTheUnsentPartOnly(descriptor: RecordingDescriptor) -> None:
    descriptor.room = 2
    descriptor.write(b"12345")
    descriptor.write(b"678")
    descriptor.doWrite()
    assert descriptor.bufferedSize() == 6


def test_failedSendIsTheReasonToClose(descriptor: RecordingDescriptor) -> None:
    failure = ConnectionResetError("gone")
    descriptor.writeSomeData = lambda data: failure  # type: ignore[method-assign]
    descriptor.write(b"x")
    assert descriptor.doWrite() is failure


# -- sendAtOnce: Nagle's algorithm off where the transport has it ---------------------------


def test_sendAtOnceTurnsNagleOffOnATCPConnection() -> None:
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname(), timeout=5)
    server, _ = listener.accept()
    try:
        from torsion.internet.tcp import _SocketOptions

        class Wrapped(_SocketOptions):
            """A TCP connection's socket options, on a real socket."""

        wrapped = Wrapped()
        wrapped.socket = server  # type: ignore[attr-defined]
        assert not wrapped.getTcpNoDelay()
        assert sendAtOnce(wrapped)
        assert wrapped.getTcpNoDelay()
    finally:
        for sock in (client, server, listener):
            sock.close()


def test_sendAtOnceIsFalseWhereThereIsNoNagle() -> None:
    class Pipe:
        """A transport with no TCP underneath (a pipe, a UNIX socket...)."""

    assert not sendAtOnce(Pipe())

    class Closed:
        def setTcpNoDelay(self, enabled: bool) -> None:
            raise OSError(9, "Bad file descriptor")

    assert not sendAtOnce(Closed())
