"""TCP port forwarding over SSH (RFC 4254 section 7): ``ssh -L`` and ``ssh -R``
(torsion.conch.ssh.forwarding).

- direct-tcpip (``ssh -L``): the client asks the server to connect somewhere and
  carry the bytes. `openConnectForwardingClient` is the avatar's channel for it: the
  channel is confirmed once the TCP connection is made, and refused (connect failed)
  if it cannot be.
- tcpip-forward (``ssh -R``): the client asks the server to listen; each connection
  accepted becomes a forwarded-tcpip channel to the client. `ForwardingUser` is the
  avatar mixin that answers tcpip-forward and cancel-tcpip-forward.
- `SSHListenForwardingFactory` is the listening side for either direction (a client
  that implements ``-L`` uses it with `SSHListenClientForwardingChannel`).

Both directions are flow-controlled end to end: the TCP side is the producer of its
channel (paused while the SSH peer's window is full), and the channel is the
producer of the TCP side (no SSH window is granted while the TCP connection cannot
write), so neither side buffers without bound. The pack/unpack functions are
Twisted's. Tests: tests/conch/test_forwarding.py (OpenSSH's ssh -L and -R).
"""

from __future__ import annotations

import struct
from typing import Any

from torsion.conch import error
from torsion.conch.ssh.channel import SSHChannel
from torsion.conch.ssh.common import NS, getNS
from torsion.internet import defer, protocol
from torsion.logger import Logger

__all__ = [
    "ForwardingUser",
    "SSHConnectForwardingChannel",
    "SSHForwardingClient",
    "SSHListenClientForwardingChannel",
    "SSHListenForwardingFactory",
    "SSHListenServerForwardingChannel",
    "openConnectForwardingClient",
    "packGlobal_tcpip_forward",
    "packOpen_direct_tcpip",
    "packOpen_forwarded_tcpip",
    "unpackGlobal_tcpip_forward",
    "unpackOpen_direct_tcpip",
    "unpackOpen_forwarded_tcpip",
]

_log = Logger()
OPEN_CONNECT_FAILED = 2
OPEN_ADMINISTRATIVELY_PROHIBITED = 1


def packOpen_direct_tcpip(destination: tuple[str, int], source: tuple[str, int]) -> bytes:
    """The data of a direct-tcpip (or forwarded-tcpip) CHANNEL_OPEN."""
    (host, port), (originHost, originPort) = destination, source
    return (
        NS(host.encode())
        + struct.pack("!L", port)
        + NS(originHost.encode())
        + struct.pack("!L", originPort)
    )


packOpen_forwarded_tcpip = packOpen_direct_tcpip


def unpackOpen_direct_tcpip(data: bytes) -> tuple[tuple[str, int], tuple[str, int]]:
    """(destination, source): each (host, port), from a direct/forwarded-tcpip open."""
    host, rest = getNS(data)
    (port,) = struct.unpack_from("!L", rest)
    originHost, rest = getNS(rest[4:])
    (originPort,) = struct.unpack_from("!L", rest)
    return (host.decode("utf-8", "replace"), port), (
        originHost.decode("utf-8", "replace"),
        originPort,
    )


unpackOpen_forwarded_tcpip = unpackOpen_direct_tcpip


def packGlobal_tcpip_forward(peer: tuple[str, int]) -> bytes:
    host, port = peer
    return NS(host.encode()) + struct.pack("!L", port)


def unpackGlobal_tcpip_forward(data: bytes) -> tuple[str, int]:
    host, rest = getNS(data)
    (port,) = struct.unpack_from("!L", rest)
    return host.decode("utf-8", "replace"), port


class SSHForwardingClient(protocol.Protocol):
    """The TCP end of a forwarding channel: bytes one way, bytes the other."""

    def __init__(self, channel: SSHChannel) -> None:
        self.channel = channel

    def connectionMade(self) -> None:
        # Nothing is read until the channel is open (its channelOpen resumes us); then
        # each side is the other's producer: see the module docstring.
        self.transport.pauseProducing()
        self.transport.registerProducer(self.channel, True)

    def dataReceived(self, data: bytes) -> None:
        self.channel.write(data)

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        self.channel.unregisterProducer()
        if not self.channel.closing:
            self.channel.loseConnection()


class _TCPChannel(SSHChannel):
    """A channel whose other end is a TCP connection (``self.client``)."""

    client: SSHForwardingClient | None = None

    def channelOpen(self, specificData: bytes) -> None:
        if self.client is not None:
            self.registerProducer(self.client.transport, True)
            if self.areWriting:
                self.client.transport.resumeProducing()

    def dataReceived(self, data: bytes) -> None:
        if self.client is not None:
            self.client.transport.write(data)

    def eofReceived(self) -> None:
        if self.client is not None:
            closeWrite = getattr(self.client.transport, "loseWriteConnection", None)
            if closeWrite is not None:
                closeWrite()

    def closed(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            client.transport.loseConnection()


class SSHConnectForwardingChannel(_TCPChannel):
    """direct-tcpip on a server: the TCP connection is made before the channel opens."""

    name = b"direct-tcpip"

    def __init__(self, hostport: tuple[str, int], *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.hostport = hostport


def openConnectForwardingClient(
    remoteWindow: int, remoteMaxPacket: int, data: bytes, avatar: Any
) -> defer.Deferred[SSHConnectForwardingChannel]:
    """The avatar's channel for direct-tcpip: a Deferred that fires once connected,
    or fails with ConchError(connect failed)."""
    from torsion.internet import endpoints

    destination, source = unpackOpen_direct_tcpip(data)
    channel = SSHConnectForwardingChannel(
        destination, remoteWindow=remoteWindow, remoteMaxPacket=remoteMaxPacket, avatar=avatar
    )
    reactor = getattr(avatar, "reactor", None)
    if reactor is None:
        from torsion.internet import reactor
    _log.info(
        "forwarding a connection from {source} to {destination}",
        source=source,
        destination=destination,
    )
    client = SSHForwardingClient(channel)
    where = endpoints.HostnameEndpoint(reactor, destination[0].encode(), destination[1], timeout=15)
    d = endpoints.connectProtocol(where, client)

    def connected(_: object) -> SSHConnectForwardingChannel:
        channel.client = client
        return channel

    def failed(reason: Any) -> None:
        raise error.ConchError(
            OPEN_CONNECT_FAILED, f"could not connect to {destination}: {reason.value}"
        )

    return d.addCallbacks(connected, failed)


class SSHListenForwardingFactory(protocol.Factory):
    """Accepts TCP connections and carries each over a new channel of ``connection``.

    ``klass(hostport, ...)`` makes the channel; ``hostport`` is what the channel's open
    data announces (the listening address for forwarded-tcpip).
    """

    def __init__(self, connection: Any, hostport: tuple[str, int], klass: Any) -> None:
        self.conn = connection
        self.hostport = hostport
        self.klass = klass

    def buildProtocol(self, addr: Any) -> Any:
        channel = self.klass(self.hostport, conn=self.conn)
        client = SSHForwardingClient(channel)
        channel.client = client
        origin = (addr.host, addr.port)
        self.conn.openChannel(channel, packOpen_forwarded_tcpip(self.hostport, origin))
        return client


class SSHListenServerForwardingChannel(_TCPChannel):
    """A forwarded-tcpip channel a server opens for a connection it accepted (-R)."""

    name = b"forwarded-tcpip"

    def __init__(self, hostport: tuple[str, int], *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.hostport = hostport

    def openFailed(self, reason: Any) -> None:
        super().openFailed(reason)
        if self.client is not None:
            self.client.transport.loseConnection()


class SSHListenClientForwardingChannel(SSHListenServerForwardingChannel):
    """A direct-tcpip channel a client opens for a connection it accepted (-L)."""

    name = b"direct-tcpip"


class ForwardingUser:
    """The avatar side of forwarding: direct-tcpip channels and tcpip-forward requests.

    Mix it into a ConchUser and call ``enableForwarding()`` (from ``__init__``);
    ``allowedForwards`` (host, port) pairs limit where direct-tcpip may go (None:
    anywhere), ``allowRemoteForwarding`` whether tcpip-forward is honoured, and
    remote listeners bind to ``127.0.0.1`` unless the client asked otherwise and
    ``allowRemoteBindAny`` is set.
    """

    allowedForwards: set[tuple[str, int]] | None = None
    allowRemoteForwarding = True
    allowRemoteBindAny = False
    conn: Any = None
    channelLookup: dict[bytes, Any]
    reactor: Any = None

    def enableForwarding(self) -> None:
        self.listeners: dict[tuple[str, int], Any] = {}
        self.channelLookup[b"direct-tcpip"] = self._directTCPIP

    def _directTCPIP(
        self, remoteWindow: int, remoteMaxPacket: int, data: bytes, avatar: Any
    ) -> Any:
        destination, _ = unpackOpen_direct_tcpip(data)
        if self.allowedForwards is not None and destination not in self.allowedForwards:
            raise error.ConchError(
                OPEN_ADMINISTRATIVELY_PROHIBITED, "forwarding there is not allowed"
            )
        return openConnectForwardingClient(remoteWindow, remoteMaxPacket, data, avatar)

    def global_tcpip_forward(self, data: bytes) -> Any:
        if not self.allowRemoteForwarding:
            return False
        host, port = unpackGlobal_tcpip_forward(data)
        interface = (
            host if self.allowRemoteBindAny and host not in ("", "localhost") else "127.0.0.1"
        )
        reactor = self.reactor
        if reactor is None:
            from torsion.internet import reactor
        factory = SSHListenForwardingFactory(
            self.conn, (host, port), SSHListenServerForwardingChannel
        )
        try:
            listener = reactor.listenTCP(port, factory, interface=interface)
        except Exception as e:
            _log.info(
                "could not listen on {host}:{port} for a client: {why}", host=host, port=port, why=e
            )
            return False
        bound = listener.getHost().port
        factory.hostport = (host, bound) if port == 0 else (host, port)
        self.listeners[(host, port)] = listener
        return (True, struct.pack("!L", bound)) if port == 0 else True

    def global_cancel_tcpip_forward(self, data: bytes) -> bool:
        listener = self.listeners.pop(unpackGlobal_tcpip_forward(data), None)
        if listener is None:
            return False
        listener.stopListening()
        return True

    def stopForwarding(self) -> None:
        """Close every listener (call it when the login ends)."""
        for listener in self.listeners.values():
            listener.stopListening()
        self.listeners.clear()
