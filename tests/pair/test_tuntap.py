"""TuntapPort over a fake operating system: opening, reading, writing, closing and
their errors, without a device (tests/pair/test_tuntap_netns.py uses real ones)."""

from __future__ import annotations

import errno
import struct
from collections import deque
from typing import Any

import pytest

from tests.internet import reactormixins
from torsion.internet.error import CannotListenError
from torsion.internet.task import Clock
from torsion.pair.ethernet import EthernetProtocol
from torsion.pair.ip import IPProtocol
from torsion.pair.tuntap import TunnelAddress, TunnelFlags, TuntapPort

loggedErrors = reactormixins.loggedErrors


class FakeReactor(Clock):
    def __init__(self) -> None:
        super().__init__()
        self.readers: set[Any] = set()

    def addReader(self, reader: Any) -> None:
        self.readers.add(reader)

    def removeReader(self, reader: Any) -> None:
        self.readers.discard(reader)

    def removeWriter(self, writer: Any) -> None:
        pass


class FakeSystem:
    """The calls TuntapPort makes, on one fake device: packets in ``toRead``."""

    O_RDWR, O_NONBLOCK, O_CLOEXEC = 2, 0o4000, 0o2000000

    def __init__(self, openError: int | None = None, ioctlError: int | None = None) -> None:
        self.openError, self.ioctlError = openError, ioctlError
        self.toRead: deque[bytes | OSError] = deque()
        self.written: list[bytes] = []
        self.writeErrors: deque[OSError] = deque()
        self.closed: list[int] = []
        self.requests: list[tuple[bytes, int]] = []

    def open(self, path: str, flags: int) -> int:
        if self.openError:
            raise OSError(self.openError, "no such device")
        assert path == "/dev/net/tun" and flags & self.O_NONBLOCK
        return 42

    def ioctl(self, fd: int, request: int, arg: bytes) -> bytes:
        if self.ioctlError:
            raise OSError(self.ioctlError, "Operation not permitted")
        name, flags = struct.unpack("16sH", arg)
        self.requests.append((name.rstrip(b"\x00"), flags))
        return name.replace(b"%d", b"7") + b"\x00" * 2

    def read(self, fd: int, limit: int) -> bytes:
        if not self.toRead:
            raise BlockingIOError(errno.EAGAIN, "again")
        item = self.toRead.popleft()
        if isinstance(item, OSError):
            raise item
        return item[:limit]

    def write(self, fd: int, data: bytes) -> int:
        if self.writeErrors:
            raise self.writeErrors.popleft()
        self.written.append(bytes(data))
        return len(data)

    def close(self, fd: int) -> None:
        self.closed.append(fd)


class Recorder(IPProtocol):
    def __init__(self) -> None:
        super().__init__()
        self.packets: list[tuple[bytes, int]] = []

    def datagramReceived(self, data: bytes, partial: int = 0, **kw: Any) -> None:
        self.packets.append((data, partial))


def started(proto: Any, system: FakeSystem, **kw: Any) -> tuple[TuntapPort, FakeReactor]:
    reactor = FakeReactor()
    port = TuntapPort("tun%d", proto, reactor=reactor, system=system, **kw)
    port.startListening()
    return port, reactor


def test_modeFollowsTheProtocol() -> None:
    system = FakeSystem()
    tun, _ = started(IPProtocol(), system)
    tap, _ = started(EthernetProtocol(), system)
    assert tun.getHost() == TunnelAddress(TunnelFlags.IFF_TUN, "tun7")
    assert tap.getHost().type == TunnelFlags.IFF_TAP
    no_pi = int(TunnelFlags.IFF_NO_PI)
    assert system.requests == [(b"tun%d", 0x0001 | no_pi), (b"tun%d", 0x0002 | no_pi)]
    bytesName = TuntapPort(b"tap0", IPProtocol(), reactor=FakeReactor(), system=FakeSystem())
    bytesName.startListening()
    assert bytesName.getHost().name == b"tap0"


def test_readsHandEachPacketOverAndMarkTheLongOnes() -> None:
    system = FakeSystem()
    proto = Recorder()
    port, reactor = started(proto, system, maxPacketSize=10)
    assert port in reactor.readers and proto.transport is port
    system.toRead.extend([b"a" * 10, b"b" * 11, InterruptedError(errno.EINTR, "interrupted"), b"c"])
    port.doRead()
    assert proto.packets == [(b"a" * 10, 0), (b"b" * 10, 1), (b"c", 0)]


def test_oneReadIsBounded() -> None:
    system = FakeSystem()
    proto = Recorder()
    port, _ = started(proto, system)
    system.toRead.extend([b"x"] * (port.packetsPerRead + 5))
    port.doRead()
    assert len(proto.packets) == port.packetsPerRead
    port.doRead()
    assert len(proto.packets) == port.packetsPerRead + 5


def test_aProtocolThatStopsThePortStopsTheReading() -> None:
    system = FakeSystem()

    class Stopper(Recorder):
        def datagramReceived(self, data: bytes, partial: int = 0, **kw: Any) -> None:
            super().datagramReceived(data, partial)
            self.transport.stopListening()

    proto = Stopper()
    port, reactor = started(proto, system)
    system.toRead.extend([b"1", b"2"])
    port.doRead()
    reactor.advance(0)
    assert proto.packets == [(b"1", 0)] and system.closed == [42]


def test_anErrorInTheProtocolIsLoggedAndReadingGoesOn(loggedErrors: list[Any]) -> None:
    system = FakeSystem()

    class Broken(Recorder):
        def datagramReceived(self, data: bytes, partial: int = 0, **kw: Any) -> None:
            super().datagramReceived(data, partial)
            raise ValueError("broken")

    proto = Broken()
    port, _ = started(proto, system)
    system.toRead.extend([b"1", b"2"])
    port.doRead()
    assert len(proto.packets) == 2 and len(loggedErrors) == 2


def test_refusedWritesAreDroppedAndCounted() -> None:
    system = FakeSystem()
    port, _ = started(IPProtocol(), system)
    system.writeErrors.extend(
        [
            OSError(errno.EIO, "down"),
            OSError(errno.ENOBUFS, "full"),
            InterruptedError(errno.EINTR, ""),
        ]
    )
    port.write(b"one")
    port.write(b"two")
    port.writeSequence([b"thr", b"ee"])
    assert system.written == [b"three"]
    assert port.dropped == {"EIO": 1, "ENOBUFS": 1}
    system.writeErrors.append(OSError(errno.EBADF, "bad"))
    with pytest.raises(OSError):
        port.write(b"four")
    with pytest.raises(TypeError, match="bytes, not str"):
        port.write("text")  # type: ignore[arg-type]


def test_openErrorsAreCannotListenWithTheReason() -> None:
    with pytest.raises(CannotListenError, match="cannot open /dev/net/tun"):
        started(IPProtocol(), FakeSystem(openError=errno.ENOENT))
    system = FakeSystem(ioctlError=errno.EPERM)
    with pytest.raises(CannotListenError, match="needs CAP_NET_ADMIN"):
        started(IPProtocol(), system)
    assert system.closed == [42]


def test_badArgumentsAreRefused() -> None:
    for name in ("", "x" * 16, "a/b"):
        with pytest.raises(ValueError, match="device name"):
            TuntapPort(name, IPProtocol(), reactor=FakeReactor())
    with pytest.raises(ValueError, match="maxPacketSize"):
        TuntapPort("tun0", IPProtocol(), maxPacketSize=0, reactor=FakeReactor())


def test_stopListeningClosesAndStopsTheProtocol() -> None:
    system = FakeSystem()
    proto = Recorder()
    port, reactor = started(proto, system)
    stopped = port.stopListening()
    assert port.stopListening() is stopped
    assert port not in reactor.readers
    reactor.advance(0)
    assert stopped.called and system.closed == [42]
    assert proto.transport is None and proto.numPorts == 0
    assert port.fileno() == -1
    with pytest.raises(RuntimeError, match="not open"):
        port.write(b"late")
    never = TuntapPort("tun0", IPProtocol(), reactor=FakeReactor(), system=FakeSystem())
    assert never.stopListening().called
