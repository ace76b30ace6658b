"""TuntapPort: a Linux TUN (IP) or TAP (ethernet) device as a reactor transport.

``TuntapPort(interface, proto)`` opens /dev/net/tun and attaches the device named
``interface`` (a pattern such as "tap%d" lets the kernel pick the number) when it
starts listening. A protocol that provides ``IEthernetProtocol`` gets a TAP device
and whole frames; any other (an ``IRawPacketProtocol`` such as IPProtocol) a TUN
device and bare IP datagrams, as Twisted decides. ``write(packet)`` sends one packet
into the kernel. The device exists while the port is open (it is not made
persistent); configure it with ``ip`` as any interface (addresses, up, moving it into
a network namespace: the open descriptor keeps working there).

Packets are unreliable: one the kernel refuses (the interface is down, its queue is
full) is dropped and counted in ``dropped``, never raised into the sender.
Tests: tests/pair/test_tuntap.py (a fake OS, no device), tests/pair/test_tuntap_netns.py
(real devices in network namespaces, with ping and UDP).
"""

from __future__ import annotations

import enum
import errno
import fcntl
import os
import struct
from collections import Counter
from collections.abc import Iterable
from typing import Any

from zope.interface import implementer

from torsion.internet import error
from torsion.internet.abstract import FileDescriptor, stopListeningOnce, stoppedListening
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import IAddress, IListeningPort
from torsion.pair.ethernet import IEthernetProtocol
from torsion.python import log

__all__ = ["TunnelAddress", "TunnelFlags", "TuntapPort"]

_IFNAMSIZ = 16
_TUNSETIFF = 0x400454CA
_TUN_KO_PATH = "/dev/net/tun"
# errnos that mean "this packet was not taken", not "the device is broken".
_DROPPED_ERRNOS = {errno.EAGAIN, errno.ENOBUFS, errno.EIO, errno.EINVAL, errno.ENOMEM}


class TunnelFlags(enum.IntFlag):
    """The flags of TUNSETIFF (Twisted's names and values; see the kernel's tuntap.rst)."""

    IFF_TUN = 0x0001
    IFF_TAP = 0x0002
    TUN_FASYNC = 0x0010
    TUN_NOCHECKSUM = 0x0020
    TUN_NO_PI = 0x0040
    TUN_ONE_QUEUE = 0x0080
    TUN_PERSIST = 0x0100
    TUN_VNET_HDR = 0x0200
    IFF_NO_PI = 0x1000
    IFF_ONE_QUEUE = 0x2000
    IFF_VNET_HDR = 0x4000
    IFF_TUN_EXCL = 0x8000


@implementer(IAddress)
class TunnelAddress:
    """The device a TuntapPort is attached to: its ``type`` (IFF_TUN or IFF_TAP) and
    system ``name``."""

    __slots__ = ("name", "type")

    def __init__(self, type: TunnelFlags, name: bytes | str) -> None:
        self.type = type
        self.name = name

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TunnelAddress):
            return NotImplemented
        return (int(self.type), self.name) == (int(other.type), other.name)

    def __hash__(self) -> int:
        return hash((int(self.type), self.name))

    def __repr__(self) -> str:
        return f"TunnelAddress(type={self.type.name}, name={self.name!r})"


class _RealSystem:
    """The operating system calls a TuntapPort makes (a test passes a fake one)."""

    O_RDWR = os.O_RDWR
    O_NONBLOCK = os.O_NONBLOCK
    O_CLOEXEC = os.O_CLOEXEC
    open = staticmethod(os.open)
    read = staticmethod(os.read)
    write = staticmethod(os.write)
    close = staticmethod(os.close)

    @staticmethod
    def ioctl(fd: int, request: int, arg: bytes) -> bytes:
        return fcntl.ioctl(fd, request, arg)


def _deviceName(interface: bytes | str) -> bytes:
    name = interface.encode("ascii") if isinstance(interface, str) else interface
    if not name or len(name) >= _IFNAMSIZ or b"/" in name or b"\x00" in name:
        raise ValueError(
            f"a device name is 1 to {_IFNAMSIZ - 1} characters without '/', not {interface!r}"
        )
    return name


@implementer(IListeningPort)
class TuntapPort(FileDescriptor):
    """Packets to and from a TUN or TAP device, for ``proto``.

    Args:
        interface: the device name (str or bytes), or a pattern such as "tun%d".
        proto: an IEthernetProtocol (TAP) or an IRawPacketProtocol (TUN).
        maxPacketSize: the most bytes of one packet handed over; longer ones come
            with ``partial=1`` (the layers drop them).
        reactor: the reactor to read in (the global reactor by default).
        system: the OS calls (tests pass a fake; Twisted's name).
    """

    # How many packets one readiness event may read, so a flood cannot starve the rest
    # of the loop (what is left is read on the next pass).
    packetsPerRead = 64

    def __init__(
        self,
        interface: bytes | str,
        proto: Any,
        maxPacketSize: int = 8192,
        reactor: Any = None,
        system: Any = None,
    ) -> None:
        if reactor is None:
            from torsion.internet import reactor as installed

            reactor = installed
        super().__init__(reactor)
        _deviceName(interface)
        if not isinstance(maxPacketSize, int) or maxPacketSize < 1:
            raise ValueError(f"maxPacketSize is a positive number of bytes, not {maxPacketSize!r}")
        self._mode = (
            TunnelFlags.IFF_TAP if IEthernetProtocol.providedBy(proto) else TunnelFlags.IFF_TUN
        )
        self.interface = interface
        self.protocol = proto
        self.maxPacketSize = maxPacketSize
        self._system = _RealSystem() if system is None else system
        self._fileno = -1
        self._stoppedDeferred: Deferred[None] | None = None
        self.dropped: Counter[str] = Counter()

    def __repr__(self) -> str:
        state = "listening" if self.connected else "not listening"
        return f"<TuntapPort {state} on {self._mode.name} {self.interface!r}>"

    def fileno(self) -> int:
        return self._fileno

    def logPrefix(self) -> str:
        return f"{type(self.protocol).__name__} ({self._mode.name})"

    def startListening(self) -> None:
        """Open the device, attach the protocol and start reading.

        Raises:
            CannotListenError: the device cannot be opened (no /dev/net/tun, not
                allowed: creating devices needs CAP_NET_ADMIN, or the name is taken
                by a device of another kind).
        """
        name = _deviceName(self.interface)
        system = self._system
        try:
            fd = system.open(_TUN_KO_PATH, system.O_RDWR | system.O_NONBLOCK | system.O_CLOEXEC)
        except OSError as e:
            raise error.CannotListenError(
                None,
                os.fsdecode(name),
                OSError(e.errno, f"cannot open {_TUN_KO_PATH}: {e.strerror}"),
            ) from e
        request = struct.pack(f"{_IFNAMSIZ}sH", name, int(self._mode | TunnelFlags.IFF_NO_PI))
        try:
            result: bytes = system.ioctl(fd, _TUNSETIFF, request)
        except OSError as e:
            system.close(fd)
            hint = " (creating a device needs CAP_NET_ADMIN)" if e.errno == errno.EPERM else ""
            raise error.CannotListenError(
                None,
                os.fsdecode(name),
                OSError(
                    e.errno, f"cannot attach {self._mode.name} device {name!r}: {e.strerror}{hint}"
                ),
            ) from e
        actual = bytes(result[:_IFNAMSIZ]).split(b"\x00", 1)[0]
        self.interface = actual if isinstance(self.interface, bytes) else actual.decode("ascii")
        self._fileno = fd
        self.connected = True
        log.msg(f"{type(self.protocol).__name__} starting on {self._mode.name} device {actual!r}")
        try:
            log.callWithLogger(self, self.protocol.makeConnection, self)
        except BaseException:
            self.connected = False
            system.close(fd)
            self._fileno = -1
            raise
        self.startReading()

    def doRead(self) -> object:
        """Read the packets waiting (at most ``packetsPerRead``) and hand each over."""
        read = self._system.read
        limit = self.maxPacketSize
        protocol = self.protocol
        for _ in range(self.packetsPerRead):
            if self._fileno < 0 or self.disconnecting:
                break  # The protocol closed the port.
            try:
                data = read(self._fileno, limit + 1)
            except BlockingIOError:
                return None
            except InterruptedError:
                continue
            partial = 0
            if len(data) > limit:
                data, partial = data[:limit], 1
            try:
                protocol.datagramReceived(data, partial=partial)
            except Exception:
                log.err(
                    None, f"Error in {type(protocol).__name__}.datagramReceived; the port goes on"
                )
        return None

    def write(self, datagram: bytes) -> None:
        """Send one packet (an IP datagram on TUN, an ethernet frame on TAP) now.

        A packet the kernel does not take is dropped and counted in ``dropped``.

        Raises:
            TypeError: if ``datagram`` is not bytes.
            RuntimeError: if the port is not open.
        """
        if not isinstance(datagram, bytes | bytearray | memoryview):
            raise TypeError(f"a packet is bytes, not {type(datagram).__name__}")
        if self._fileno < 0:
            raise RuntimeError("the TuntapPort is not open; call startListening first")
        while True:
            try:
                self._system.write(self._fileno, datagram)
                return
            except InterruptedError:
                continue
            except OSError as e:
                if e.errno not in _DROPPED_ERRNOS:
                    raise
                reason = errno.errorcode.get(e.errno or 0, str(e.errno))
                self.dropped[reason] += 1
                if self.dropped[reason] == 1:
                    log.msg(
                        f"The {self._mode.name} device {self.interface!r} refused a packet "
                        f"({reason}: {e.strerror}; is it up?); such packets are dropped and counted"
                    )
                return

    def writeSequence(self, seq: Iterable[bytes]) -> None:
        """Send the joined pieces as one packet."""
        self.write(b"".join(seq))

    def stopListening(self) -> Deferred[None]:
        """Close the device; the Deferred fires once it is closed and the protocol stopped."""
        return stopListeningOnce(self)

    def loseConnection(self) -> None:
        """Close the device (the same as ``stopListening``)."""
        self.stopListening()

    def connectionLost(self, reason: Any = None) -> None:
        """Close the descriptor (the device goes away with it) and stop the protocol."""
        if self.disconnected:
            return
        super().connectionLost(reason)
        if self._fileno >= 0:
            self._system.close(self._fileno)
            self._fileno = -1
        log.msg(f"({self._mode.name} device {self.interface!r} closed)")
        try:
            self.protocol.doStop()
        except Exception:
            log.err(None, f"Error in {type(self.protocol).__name__}.stopProtocol")
        finally:
            stoppedListening(self)

    def getHost(self) -> TunnelAddress:
        """The device this port is attached to (the kernel's name once listening)."""
        return TunnelAddress(self._mode, self.interface)
