"""UDP for every reactor: datagram ports, connected UDP, broadcast and IP multicast.

``reactor.listenUDP(port, protocol)`` makes a Port: one socket, one DatagramProtocol
instance for all peers. The protocol gets ``datagramReceived(datagram, (host, port))``
and answers with ``self.transport.write(datagram, (host, port))``. After
``transport.connect(host, port)`` the port talks to that peer only: ``write`` needs
no address, and a refusal by the peer (an ICMP "port unreachable") arrives as the
protocol's ``connectionRefused()``. ``reactor.listenMulticast`` makes a
MulticastPort, which can also join groups and set the multicast options.

Datagrams are not a stream, so nothing here goes through FileDescriptor's write
buffer: ``write`` sends at once, one ``sendto`` per datagram. What happens when a
send fails:

- EMSGSIZE (too long for UDP, or for the path) raises error.MessageLengthError;
- EWOULDBLOCK (the socket's send buffer is full): unlike Twisted, which raises
  BlockingIOError to the caller, the datagram waits in a short queue of
  ``maxQueuedDatagrams`` that is sent, in order, as soon as the socket is writable.
  When that queue is full the datagram is dropped, as a full router would drop it;
  the port logs how many it dropped once the queue has drained;
- ECONNREFUSED on a connected port calls the protocol's connectionRefused (on an
  unconnected one it says nothing about the datagram being sent, so it is ignored);
- anything else (EACCES for a broadcast address without setBroadcastAllowed, no
  route, ...) is raised as the OSError it is, as Twisted does.

Reading takes at most ``datagramsPerRead`` datagrams per readiness event, so a
flood cannot starve the rest of the loop. A datagram longer than ``maxPacketSize``
reaches the protocol cut to that size, as in Twisted and the socket API, and the
port logs once that it truncates. A protocol that raises in datagramReceived is
logged (with the port's log prefix, "ProtocolClass (UDP)") and the port goes on with
the next datagram. Errors the network reports for earlier datagrams of a connected
port (no route, message too long for the path) are logged and reading goes on.

Logging follows the TCP ports: "module.ProtocolClass starting on 9999" and
"(UDP Port 9999 Closed)", unless the protocol's ``logPortEvents`` is false: a client
that opens a port per query (torsion.names.client) would otherwise log two lines a
query.
Tests: tests/internet/test_udp.py and tests/internet/test_multicast.py.
"""

from __future__ import annotations

import errno
import socket
import struct
from collections import deque
from typing import Any

from zope.interface import implementer

from torsion.internet import error
from torsion.internet.abstract import FileDescriptor, stopListeningOnce, stoppedListening
from torsion.internet.address import IPv4Address, IPv6Address
from torsion.internet.base import isIPAddress
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import IListeningPort, IMulticastTransport, IUDPTransport
from torsion.internet.tcp import _addressFor, _adoptSocket, _logPrefixOf, _qualifiedName
from torsion.python import log
from torsion.python.failure import Failure

__all__ = ["MulticastPort", "Port"]

# Errors a connected socket's receive reports for an earlier datagram (from an ICMP
# message), besides ECONNREFUSED: the socket itself is fine, so reading goes on.
_READ_REPORTED_ERRNOS = frozenset(
    {
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.EHOSTDOWN,
        errno.ENETDOWN,
        errno.EMSGSIZE,
        errno.EPROTO,
        errno.ETIMEDOUT,
        errno.ENOPROTOOPT,
        getattr(errno, "ENONET", errno.ENETDOWN),
    }
)

# For annotations inside classes that have an attribute named ``socket``.
_Socket = socket.socket


def _checkPortNumber(port: object) -> int:
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ValueError(
            f"a UDP port number is an int from 0 to 65535 (0: any free port), not {port!r}"
        )
    return port


@implementer(IListeningPort, IUDPTransport)
class Port(FileDescriptor):
    """A UDP socket serving one DatagramProtocol: the transport the protocol writes to.

    Args:
        port: the port number (0: any free port).
        proto: the DatagramProtocol.
        interface: the address to bind ('' for every IPv4 interface; '::' or another
            IPv6 address for IPv6).
        maxPacketSize: the most bytes of one datagram the protocol is given.
        reactor: the reactor to run in (None: the global reactor).
    """

    __slots__ = (
        "_connectedAddr",
        "_dropped",
        "_fileno",
        "_hostAddress",
        "_lastHost",
        "_logPrefix",
        "_preexistingSocket",
        "_queue",
        "_reading",
        "_realPortNumber",
        "_stoppedDeferred",
        "_truncationLogged",
        "addressFamily",
        "interface",
        "maxPacketSize",
        "port",
        "protocol",
        "socket",
    )

    socketType = socket.SOCK_DGRAM
    # How many datagrams one readiness event may read, so a flood cannot starve the
    # rest of the loop (what is left is read on the next pass).
    datagramsPerRead = 100
    # How many datagrams may wait for a full send buffer to drain; more are dropped.
    maxQueuedDatagrams = 64

    def __init__(
        self,
        port: int,
        proto: Any,
        interface: str = "",
        maxPacketSize: int = 8192,
        reactor: Any = None,
    ) -> None:
        if reactor is None:
            from torsion.internet import reactor as installed

            reactor = installed
        super().__init__(reactor)
        self.port = _checkPortNumber(port)
        if not isinstance(interface, str):
            raise TypeError(f"interface is an address as a str ('' for all), not {interface!r}")
        if not isinstance(maxPacketSize, int) or maxPacketSize < 1:
            raise ValueError(f"maxPacketSize is a positive number of bytes, not {maxPacketSize!r}")
        self.protocol = proto
        self.interface = interface
        self.maxPacketSize = maxPacketSize
        self.addressFamily = socket.AF_INET6 if ":" in interface else socket.AF_INET
        self.socket: socket.socket | None = None
        self._fileno = -1
        self._realPortNumber: int | None = None
        self._hostAddress: IPv4Address | IPv6Address | None = None
        self._connectedAddr: tuple[str, int] | None = None
        # The last destination host found to be an IP address of this port's family,
        # so that a server answering one peer checks its address once.
        self._lastHost: str | None = None
        self._queue: deque[tuple[bytes, Any]] = deque()
        self._dropped = 0
        self._reading = False
        self._truncationLogged = False
        self._stoppedDeferred: Deferred[None] | None = None
        self._logPrefix = f"{_logPrefixOf(proto)} (UDP)"
        self._preexistingSocket: socket.socket | None = None

    @classmethod
    def _fromListeningDescriptor(
        cls, reactor: Any, fileDescriptor: int, addressFamily: int, proto: Any, maxPacketSize: int
    ) -> Port:
        """Make a Port for a UDP socket already bound (reactor.adoptDatagramPort).

        The port works on a duplicate of ``fileDescriptor``; the caller keeps the
        original. Once stopped, it can be started again on a new socket bound to the
        same address.
        """
        sock = _adoptSocket(fileDescriptor, addressFamily, socket.SOCK_DGRAM)
        host, portNumber = sock.getsockname()[:2]
        try:
            port = cls(portNumber, proto, host, maxPacketSize, reactor)
        except BaseException:
            sock.close()
            raise
        port.addressFamily = socket.AddressFamily(addressFamily)
        port._preexistingSocket = sock
        return port

    def __repr__(self) -> str:
        name = type(self.protocol).__name__
        if self._realPortNumber is not None and self.connected:
            return f"<{name} on {self._realPortNumber}>"
        return f"<{name} not connected>"

    def fileno(self) -> int:
        """Return the socket's descriptor, or -1."""
        return self._fileno

    def logPrefix(self) -> str:
        """Return "ProtocolPrefix (UDP)", the log system of what the protocol logs."""
        return self._logPrefix

    def getHandle(self) -> _Socket | None:
        """Return the socket, for options this port has no method for."""
        return self.socket

    # -- listening ------------------------------------------------------------------------

    def _makeSocket(self) -> _Socket:
        """Return a new socket of this port's family (MulticastPort adds options)."""
        sock = socket.socket(self.addressFamily, self.socketType)
        if self.addressFamily == socket.AF_INET6:
            # As TCP does: '::' is IPv6 only, so that '' can take the same port for IPv4.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        return sock

    def startListening(self) -> None:
        """Bind the socket, attach the protocol (its startProtocol runs) and read.

        A port stopped with ``stopListening`` may be started again.

        Raises:
            CannotListenError: if the address cannot be bound.
            AlreadyListened: if the port is listening already.
        """
        if self.connected:
            raise error.AlreadyListened(f"{self!r} is already listening; stop it first")
        sock, self._preexistingSocket = self._preexistingSocket, None
        if sock is None:
            sock = self._bindSocket()
        sock.setblocking(False)
        self.socket = sock
        self._fileno = sock.fileno()
        self._hostAddress = _addressFor(self.addressFamily, sock.getsockname(), "UDP")
        self._realPortNumber = self._hostAddress.port
        self._stoppedDeferred = None
        self._truncationLogged = False
        self.disconnected = self.disconnecting = False
        if self._noisy():
            log.msg(f"{_qualifiedName(self.protocol)} starting on {self._realPortNumber}")
        self.connected = True
        self._connectToProtocol()

    def _noisy(self) -> bool:
        return bool(getattr(self.protocol, "logPortEvents", True))

    def _logClosed(self) -> None:
        if self._noisy():
            log.msg(f"(UDP Port {self._realPortNumber} Closed)")

    def _bindSocket(self) -> _Socket:
        try:
            sock = self._makeSocket()
        except OSError as e:
            raise error.CannotListenError(self.interface, self.port, e) from e
        try:
            sock.bind((self.interface, self.port))
        except OSError as e:
            sock.close()
            raise error.CannotListenError(self.interface, self.port, e) from e
        return sock

    def _connectToProtocol(self) -> None:
        """Attach the protocol; if its startProtocol raises, close and re-raise."""
        try:
            log.callWithLogger(self, self.protocol.makeConnection, self)
        except BaseException:
            self.connected = False
            self._closeSocket()
            if self.protocol.transport is self:
                self.protocol.transport = None
            self._logClosed()
            raise
        if self.connected and not self.disconnecting:
            self.startReading()

    def startReading(self) -> None:
        """Read datagrams when they arrive."""
        self._reading = True
        self.reactor.addReader(self)

    def stopReading(self) -> None:
        """Stop reading (datagrams wait in the kernel, which drops them once it is full)."""
        self._reading = False
        self.reactor.removeReader(self)

    def loseConnection(self) -> None:
        """Close the port (the same as ``stopListening``)."""
        self.stopListening()

    def stopListening(self) -> Deferred[None]:
        """Stop reading and close; return a Deferred that fires once the socket is closed."""
        return stopListeningOnce(self)

    def _closeSocket(self) -> None:
        if self.socket is not None:
            self.socket.close()
        self._fileno = -1

    def connectionLost(self, reason: Any = None) -> None:
        """Close the socket, stop the protocol and fire ``stopListening``'s Deferred."""
        if self.disconnected:
            return
        super().connectionLost(reason)
        self._logClosed()
        self._closeSocket()
        self._queue.clear()
        self._dropped = 0
        self._connectedAddr = None
        try:
            self.protocol.doStop()
        except Exception:
            log.err(None, f"Error in {type(self.protocol).__name__}.stopProtocol")
        finally:
            stoppedListening(self)

    def getHost(self) -> IPv4Address | IPv6Address:
        """Return the address the port is (or was last) bound to, with the real port number.

        Raises:
            RuntimeError: if the port never listened.
        """
        if self._hostAddress is None:
            raise RuntimeError("the port is not listening; call startListening first")
        return self._hostAddress

    # -- reading --------------------------------------------------------------------------

    def doRead(self) -> object:
        """Read waiting datagrams (at most ``datagramsPerRead``) and hand each over."""
        assert self.socket is not None
        recvfrom = self.socket.recvfrom
        limit = self.maxPacketSize
        # One byte more than the limit shows whether a datagram was longer.
        size = limit + 1
        protocol = self.protocol
        ipv6 = self.addressFamily == socket.AF_INET6
        for _ in range(self.datagramsPerRead):
            try:
                data, addr = recvfrom(size)
            except BlockingIOError:
                return None
            except OSError as e:
                if not self._readFailed(e):
                    raise
                if self._reading:
                    # libuv (so uvloop) stops watching a descriptor once it reports an
                    # error: watch it afresh, or the next refusal would go unheard.
                    self.reactor.removeReader(self)
                    self.reactor.addReader(self)
            else:
                if ipv6:
                    addr = addr[:2]
                if len(data) > limit:
                    data = self._truncated(data, addr)
                try:
                    protocol.datagramReceived(data, addr)
                except Exception:
                    log.err(
                        None,
                        f"Error in {type(protocol).__name__}.datagramReceived "
                        f"(datagram from {addr}); the port goes on",
                    )
            if not self._reading:
                break  # The protocol paused or closed the port.
        return None

    def _readFailed(self, e: OSError) -> bool:
        """Handle an error of the receive; False if it means the socket is broken."""
        if e.errno == errno.ECONNREFUSED:
            if self._connectedAddr is not None:
                try:
                    self.protocol.connectionRefused()
                except Exception:
                    log.err(None, f"Error in {type(self.protocol).__name__}.connectionRefused")
            return True
        if e.errno in _READ_REPORTED_ERRNOS:
            log.msg(
                f"The network reported an error for a datagram sent to {self._connectedAddr} "
                f"({errno.errorcode.get(e.errno or 0, e.errno)}: {e.strerror}); "
                "the port goes on"
            )
            return True
        return False

    def _truncated(self, data: bytes, addr: Any) -> bytes:
        if not self._truncationLogged:
            self._truncationLogged = True
            log.msg(
                f"A datagram from {addr} was longer than maxPacketSize "
                f"({self.maxPacketSize} bytes) and was cut to that size; pass a larger "
                "maxPacketSize to listenUDP to receive such datagrams whole "
                "(this is logged once per port)"
            )
        return data[: self.maxPacketSize]

    # -- writing --------------------------------------------------------------------------

    def write(self, datagram: bytes, addr: Any = None) -> None:
        """Send ``datagram`` to ``addr`` ((host, port), host an IP address), now.

        On a connected port ``addr`` may be left out. Nothing is sent once the port
        has stopped listening.

        Raises:
            MessageLengthError: the datagram is too long to send.
            InvalidAddressError: ``addr`` is not an IP address of the port's family, or
                (connected) not the address the port is connected to.
            ValueError: no ``addr`` on a port that is not connected.
            TypeError: ``datagram`` is not bytes.
            OSError: the system refused to send it (EACCES for a broadcast address
                without ``setBroadcastAllowed(True)``, no route to the host, ...).
        """
        if not self.connected:
            return
        connected = self._connectedAddr
        if connected is None:
            if addr is None:
                raise ValueError(
                    "this UDP port is not connected, so write needs the destination: "
                    "write(datagram, (host, port)), or connect(host, port) first"
                )
            try:
                host = addr[0]
            except (TypeError, IndexError, KeyError):
                raise TypeError(
                    f"the address of a datagram is a (host, port) tuple, not {addr!r}"
                ) from None
            if host != self._lastHost:
                self._checkHost(host)
        elif addr is not None and addr != connected and tuple(addr) != connected:
            raise error.InvalidAddressError(
                addr,
                f"this UDP port is connected to {connected}, and sends only there; "
                "leave out the address, or use another port",
            )
        if self._queue:
            # Datagrams are waiting for the send buffer: keep the order.
            self._enqueue(datagram, addr)
            return
        sock = self.socket
        assert sock is not None
        try:
            if connected is None:
                sock.sendto(datagram, addr)
            else:
                sock.send(datagram)
        except BlockingIOError:
            self._enqueue(datagram, addr)
        except OSError as e:
            self._sendFailed(e, datagram, addr)
        except TypeError as e:
            raise _badDatagram(datagram, addr, e) from e

    def writeSequence(self, seq: Any, addr: Any = None) -> None:
        """Send the bytes of ``seq`` joined, as one datagram."""
        self.write(b"".join(seq), addr)

    def _checkHost(self, host: object) -> None:
        """Make sure ``host`` is an IP address of this port's family (no lookups here)."""
        if not isinstance(host, str):
            raise error.InvalidAddressError(host, "the host of a UDP address is an IP address str")
        if self.addressFamily == socket.AF_INET:
            if host != "<broadcast>":
                try:
                    socket.inet_pton(socket.AF_INET, host)
                except OSError:
                    if isIPAddress(host):
                        raise error.InvalidAddressError(
                            host,
                            "an IPv4 port cannot send to an IPv6 address; listen on '::' for IPv6",
                        ) from None
                    raise error.InvalidAddressError(
                        host,
                        "write() takes IP addresses, not host names; look the name up "
                        "first (reactor.resolve(name) gives a Deferred of its address)",
                    ) from None
        else:
            try:
                socket.inet_pton(socket.AF_INET6, host.split("%", 1)[0])
            except OSError:
                if isIPAddress(host) or host == "<broadcast>":
                    raise error.InvalidAddressError(
                        host,
                        "an IPv6 port cannot send to an IPv4 address (or broadcast); "
                        "use a port listening on an IPv4 interface",
                    ) from None
                raise error.InvalidAddressError(
                    host,
                    "write() takes IP addresses, not host names; look the name up "
                    "first (reactor.resolve(name) gives a Deferred of its address)",
                ) from None
        self._lastHost = host

    def _sendFailed(self, e: OSError, datagram: Any, addr: Any) -> None:
        """Turn a failed send into what the caller is told (see the module docstring)."""
        if e.errno == errno.EMSGSIZE:
            where = addr if addr is not None else self._connectedAddr
            raise error.MessageLengthError(
                f"the datagram of {len(datagram)} bytes to {where} is longer than UDP "
                f"(or the path) carries; send at most 65507 bytes per datagram over IPv4 "
                "(often far less gets through whole, about 1472 on Ethernet)"
            ) from e
        if e.errno == errno.ECONNREFUSED:
            if self._connectedAddr is not None:
                self.protocol.connectionRefused()
            return
        if e.errno == errno.EACCES and not self.getBroadcastAllowed():
            e.add_note(
                "If the destination is a broadcast address, call "
                "transport.setBroadcastAllowed(True) first."
            )
        raise e

    def _enqueue(self, datagram: Any, addr: Any) -> None:
        if not isinstance(datagram, bytes | bytearray | memoryview):
            raise _badDatagram(datagram, addr, TypeError())
        queue = self._queue
        if len(queue) >= self.maxQueuedDatagrams:
            self._dropped += 1
            return
        queue.append((bytes(datagram), addr))
        if len(queue) == 1:
            self.startWriting()

    def doWrite(self) -> object:
        """The socket can take more: send the datagrams that waited, in order."""
        queue = self._queue
        sock = self.socket
        assert sock is not None
        while queue:
            datagram, addr = queue[0]
            try:
                if addr is None or self._connectedAddr is not None:
                    sock.send(datagram)
                else:
                    sock.sendto(datagram, addr)
            except BlockingIOError:
                return None
            except OSError as e:
                queue.popleft()
                if e.errno == errno.ECONNREFUSED and self._connectedAddr is not None:
                    try:
                        self.protocol.connectionRefused()
                    except Exception:
                        log.err(None, f"Error in {type(self.protocol).__name__}.connectionRefused")
                else:
                    log.msg(f"Could not send a queued datagram to {addr}: {e}; dropped it")
                continue
            queue.popleft()
        self.stopWriting()
        if self._dropped:
            log.msg(
                f"The send buffer was full: dropped {self._dropped} datagrams beyond the "
                f"{self.maxQueuedDatagrams} that waited"
            )
            self._dropped = 0
        return None

    def bufferedSize(self) -> int:
        """Return how many bytes of datagrams wait for the send buffer to drain."""
        return sum(len(datagram) for datagram, _ in self._queue)

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """Not for datagrams: write them, and watch for MessageLengthError and OSError.

        Raises:
            NotImplementedError: always.
        """
        raise NotImplementedError(
            "UDP ports do not take producers: each write() is a datagram sent at once"
        )

    # -- connected UDP and options ----------------------------------------------------------

    def connect(self, host: str, port: int) -> None:
        """Send only to, and receive only from, ``host``:``port``.

        ``host`` must be an IP address (look names up first, with
        ``reactor.resolve``). Afterwards ``write`` needs no address, and refusals by
        the peer reach the protocol's ``connectionRefused``.

        Raises:
            InvalidAddressError: ``host`` is not an IP address of the port's family.
            RuntimeError: the port is connected already, or not listening.
        """
        if self._connectedAddr is not None:
            raise RuntimeError(
                f"this UDP port is connected to {self._connectedAddr} already; to talk to "
                "another peer, stop it and listen again, or use an unconnected port"
            )
        if not isinstance(host, str) or not isIPAddress(host):
            raise error.InvalidAddressError(
                host,
                "connect() takes an IPv4 or IPv6 address, not a host name; look the "
                "name up first (reactor.resolve(name) gives a Deferred of its address)",
            )
        self._checkHost(host)
        sock = self._sock()
        port = _checkPortNumber(port)
        sock.connect((host, port))
        self._connectedAddr = (host, port)

    def setBroadcastAllowed(self, enabled: bool) -> None:
        """Allow (True) or forbid sending to broadcast addresses (SO_BROADCAST)."""
        self._sock().setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, int(bool(enabled)))

    def getBroadcastAllowed(self) -> bool:
        """Return whether sending to broadcast addresses is allowed."""
        return bool(self._sock().getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST))

    def _sock(self) -> _Socket:
        """Return the socket of a listening port, for setting its options."""
        if self.socket is None or not self.connected:
            raise RuntimeError(
                "the port is not listening; set its options between startProtocol and stopProtocol"
            )
        return self.socket


def _badDatagram(datagram: object, addr: object, problem: TypeError) -> TypeError:
    if isinstance(datagram, str):
        return TypeError(
            "a datagram is bytes, not str: encode text first, for example datagram.encode('utf-8')"
        )
    if not isinstance(datagram, bytes | bytearray | memoryview):
        return TypeError(f"a datagram is bytes, not {type(datagram).__name__}")
    return TypeError(f"the address of a datagram is a (host, port) tuple, not {addr!r} ({problem})")


@implementer(IMulticastTransport)
class MulticastPort(Port):
    """A UDP port that can join IPv4 multicast groups and set the multicast options.

    Args:
        listenMultiple: let other sockets bind the same port too (SO_REUSEADDR and,
            where the system has it, SO_REUSEPORT), so that several programs on one
            machine can listen to the same group.
        The others are Port's.

    Raises:
        UnsupportedAddressFamily: for an IPv6 interface (multicast here is IPv4 only).
    """

    __slots__ = ("listenMultiple",)

    def __init__(
        self,
        port: int,
        proto: Any,
        interface: str = "",
        maxPacketSize: int = 8192,
        reactor: Any = None,
        listenMultiple: bool = False,
    ) -> None:
        super().__init__(port, proto, interface, maxPacketSize, reactor)
        if self.addressFamily != socket.AF_INET:
            raise error.UnsupportedAddressFamily(
                f"multicast ports are IPv4 only, not {interface!r}; listen on '' "
                "(every IPv4 interface) or the group's address"
            )
        self.listenMultiple = listenMultiple

    def _makeSocket(self) -> _Socket:
        sock = super()._makeSocket()
        if self.listenMultiple:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if hasattr(socket, "SO_REUSEPORT"):
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                except OSError as e:
                    if e.errno != errno.ENOPROTOOPT:
                        sock.close()
                        raise
        return sock

    def getOutgoingInterface(self) -> str:
        """Return the address of the interface multicast datagrams go out on (0.0.0.0:
        the system picks by route)."""
        return socket.inet_ntoa(
            self._sock().getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, 4)
        )

    def setOutgoingInterface(self, addr: str) -> Deferred[int]:
        """Send multicast datagrams out of the interface with address ``addr``.

        Returns:
            A Deferred firing with 1 once set (host names are looked up first).
        """
        sock = self._sock()

        def setInterface(address: str) -> int:
            try:
                packed = socket.inet_aton(address)
            except OSError:
                raise error.InvalidAddressError(
                    address, "the outgoing multicast interface is an IPv4 address of this machine"
                ) from None
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, packed)
            return 1

        return self.reactor.resolve(addr).addCallback(setInterface)  # type: ignore[no-any-return]

    def getLoopbackMode(self) -> bool:
        """Return whether what this port sends to a group reaches this host's members too."""
        return bool(self._sock().getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP))

    def setLoopbackMode(self, mode: bool) -> None:
        """Deliver (true) or not (false) what this port sends to this host's members too."""
        self._sock().setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, int(bool(mode)))

    def getTTL(self) -> int:
        """Return the time to live of sent multicast datagrams (1: this network only)."""
        return self._sock().getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL)

    def setTTL(self, ttl: int) -> None:
        """Set how many routers sent multicast datagrams may cross (0: this host only).

        Raises:
            ValueError: ``ttl`` is not from 0 to 255.
        """
        if not isinstance(ttl, int) or not 0 <= ttl <= 255:
            raise ValueError(f"a multicast TTL is an int from 0 to 255, not {ttl!r}")
        self._sock().setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, struct.pack("B", ttl))

    def joinGroup(self, addr: str, interface: str = "") -> Deferred[None]:
        """Receive the datagrams sent to group ``addr`` on the interface ``interface``.

        ``interface`` is the address of one of this machine's interfaces ('': the
        system picks by route). Names are looked up first.

        Returns:
            A Deferred firing with None once joined, or failing with MulticastJoinError.
        """
        return self._joinOrLeave(addr, interface, True)

    def leaveGroup(self, addr: str, interface: str = "") -> Deferred[None]:
        """Stop receiving group ``addr`` on ``interface``.

        Returns:
            A Deferred firing with None once left, or failing with MulticastJoinError.
        """
        return self._joinOrLeave(addr, interface, False)

    def _joinOrLeave(self, addr: str, interface: str, join: bool) -> Deferred[None]:
        sock = self._sock()
        action = "join" if join else "leave"
        option = socket.IP_ADD_MEMBERSHIP if join else socket.IP_DROP_MEMBERSHIP
        resolve = self.reactor.resolve

        def membership(addresses: list[Any]) -> None:
            group, local = addresses
            try:
                request = socket.inet_aton(group) + socket.inet_aton(local)
            except OSError:
                raise error.MulticastJoinError(
                    addr, interface, errno.EINVAL, "not an IPv4 address", action
                ) from None
            try:
                sock.setsockopt(socket.IPPROTO_IP, option, request)
            except OSError as e:
                raise error.MulticastJoinError(
                    addr, interface, e.errno, e.strerror or str(e), action
                ) from e

        def lookupFailed(reason: Failure) -> Failure:
            reason.trap(error.DNSLookupError)
            raise error.MulticastJoinError(addr, interface, None, str(reason.value), action)

        if not isinstance(addr, str) or not isinstance(interface, str):
            raise TypeError("the group and the interface are addresses (or names) as str")
        d: Deferred[Any] = resolve(addr)
        d.addCallback(lambda group: resolve(interface).addCallback(lambda local: [group, local]))
        d.addCallbacks(membership, lookupFailed)
        return d
