"""A TCP port forwarder: each connection accepted is joined to a new one to ``host:port``.

``ProxyFactory(host, port)`` is the server factory (``torsiond portforward`` runs one).
The two connections of a pair are ``Proxy`` protocols, each writing what it reads to
the other. Flow control runs both ways: each transport is registered as the other's
producer, so when one side cannot take data as fast as the other sends it, the fast
side is paused (its socket is not read) until the slow one's buffer drains, and a
forwarder never holds more than about one transport buffer per direction. Half-close
is forwarded: a peer that shuts down its sending side has the other connection's
sending side shut down in turn, once what it sent has been delivered, and the pair
closes once both directions are done (or when either connection is lost).

Until the outgoing connection is made, the accepted one is not read. torsion.protocols
.balancer reuses these classes, choosing where each connection goes.
Tests: tests/protocols/test_portforward.py.
"""

from __future__ import annotations

from typing import Any

from zope.interface import implementer

from torsion.internet.interfaces import IHalfCloseableProtocol
from torsion.internet.protocol import ClientFactory, Protocol, ServerFactory
from torsion.logger import Logger
from torsion.python.failure import Failure

__all__ = ["Proxy", "ProxyClient", "ProxyClientFactory", "ProxyFactory", "ProxyServer"]

_log = Logger()


@implementer(IHalfCloseableProtocol)
class Proxy(Protocol):
    """One side of a forwarded pair: writes what it reads to ``peer``'s transport.

    Once both are connected, ``dataReceived`` is the peer transport's ``write`` itself
    (bound per connection), so a forwarded chunk costs one call.
    """

    noisy = True
    peer: Proxy | None = None
    _readDone = False
    _writeDone = False

    def setPeer(self, peer: Proxy) -> None:
        """Pair this side with ``peer``."""
        self.peer = peer

    def _joined(self) -> None:
        """Both sides are connected: forward directly, and let each pace the other."""
        peer = self.peer
        assert peer is not None
        self.dataReceived = peer.transport.write  # type: ignore[method-assign]
        peer.dataReceived = self.transport.write  # type: ignore[method-assign]
        self.transport.registerProducer(peer.transport, True)
        peer.transport.registerProducer(self.transport, True)

    def dataReceived(self, data: bytes) -> None:
        """Forward ``data`` to the peer (reached only while one of the pair is wrapped)."""
        peer = self.peer
        if peer is not None:
            peer.transport.write(data)

    def readConnectionLost(self) -> None:
        """Our peer stopped sending: stop sending to the other side's peer, in turn."""
        self._readDone = True
        peer = self.peer
        if peer is not None:
            # Nothing more comes from our transport: the peer's must not wait on it
            # (resumed, a transport at its end would only read the end again).
            peer.transport.unregisterProducer()
            _halfClose(peer.transport)
        if self._writeDone or peer is None:
            self.transport.loseConnection()

    def writeConnectionLost(self) -> None:
        """Our sending side is shut: with our reading side done too, the pair is done."""
        self._writeDone = True
        if self._readDone:
            self.transport.loseConnection()

    def connectionLost(self, reason: object = None) -> None:
        """Close the other connection of the pair (after it sends what it holds)."""
        Protocol.connectionLost(self, reason)
        peer, self.peer = self.peer, None
        if peer is not None:
            peer.peer = None
            transport = peer.transport
            # Our transport may still be its producer, paused: it would wait forever.
            transport.unregisterProducer()
            transport.loseConnection()


def _halfClose(transport: Any) -> None:
    loseWriteConnection = getattr(transport, "loseWriteConnection", None)
    if loseWriteConnection is not None:
        loseWriteConnection()
    else:
        transport.loseConnection()


class ProxyClient(Proxy):
    """The outgoing side of a pair: connected to the destination."""

    def connectionMade(self) -> None:
        """Joined: start forwarding what the server side held, and read both sides."""
        server = self.peer
        if server is None or not server.connected:
            # The accepted connection went away while this one was being made.
            self.transport.loseConnection()
            return
        server.setPeer(self)
        if isinstance(server, ProxyServer):
            server._clientConnected(self)
        else:
            server._joined()
            server.transport.resumeProducing()


class ProxyClientFactory(ClientFactory):
    """Makes the ProxyClient of one ProxyServer (``setServer``)."""

    protocol: Any = ProxyClient
    noisy = False
    server: Any = None

    def setServer(self, server: ProxyServer) -> None:
        """The ProxyServer whose connection the client joins."""
        self.server = server

    def buildProtocol(self, addr: Any) -> Any:
        """Build the ProxyClient, paired with the server side."""
        client = ClientFactory.buildProtocol(self, addr)
        client.setPeer(self.server)
        return client

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        """The destination cannot be reached: close the accepted connection."""
        self.server._connectFailed(reason)


class ProxyServer(Proxy):
    """The accepted side of a pair: connects to ``factory.host``:``factory.port``.

    Override ``connectToPeer`` to connect elsewhere (the balancer does). ``reactor``
    (a class attribute, as in Twisted) is the reactor to connect with; None for the
    factory's ``reactor``, or else the global one.
    """

    clientProtocolFactory: Any = ProxyClientFactory
    reactor: Any = None
    # What arrived before the destination was connected: a read or so, since the
    # transport is paused as soon as it is seen.
    _early: list[bytes] | None = None
    _earlyEOF = False

    def connectionMade(self) -> None:
        """Hold the client's data (stop reading) until the destination is connected."""
        self.transport.pauseProducing()
        client = self.clientProtocolFactory()
        client.setServer(self)
        try:
            self.connectToPeer(client)
        except Exception:
            why = Failure()
            _log.failure(
                "Error in {name}.connectToPeer; closing the connection",
                why,
                name=type(self).__name__,
            )
            self._connectFailed(why)

    def connectToPeer(self, clientFactory: ProxyClientFactory) -> None:
        """Connect ``clientFactory`` to the destination."""
        reactor: Any = self.reactor or getattr(self.factory, "reactor", None)
        if reactor is None:
            from torsion.internet import reactor
        reactor.connectTCP(self.factory.host, self.factory.port, clientFactory)

    def dataReceived(self, data: bytes) -> None:
        """Forward ``data``, or hold it while the destination is not yet connected."""
        peer = self.peer
        if peer is not None:
            peer.transport.write(data)
            return
        if self._early is None:
            self._early = []
        self._early.append(data)
        # A transport that delivered data despite the pause (one that had started
        # reading already) is paused now.
        self.transport.pauseProducing()

    def readConnectionLost(self) -> None:
        """The client stopped sending; before the destination is connected, remember it."""
        if self.peer is None:
            self._readDone = self._earlyEOF = True
            return
        Proxy.readConnectionLost(self)

    def _clientConnected(self, client: ProxyClient) -> None:
        """The destination is connected: send it what was held, then forward directly."""
        early, self._early = self._early, None
        version = getattr(self.factory, "sendProxyHeader", None)
        if version:
            early = [_proxyHeader(version, self.transport), *(early or ())]
        if early:
            client.transport.writeSequence(early)
        if type(self).dataReceived is ProxyServer.dataReceived:
            self._joined()
        else:
            # A subclass sees each chunk: keep calling it, and let each side pace the other.
            client.dataReceived = self.transport.write  # type: ignore[method-assign]
            self.transport.registerProducer(client.transport, True)
            client.transport.registerProducer(self.transport, True)
        if self._earlyEOF:
            client.transport.unregisterProducer()  # Our transport has read its last.
            _halfClose(client.transport)
        else:
            self.transport.resumeProducing()

    def _connectFailed(self, reason: Failure) -> None:
        """No destination: say why, and close the accepted connection."""
        if self.noisy:
            _log.info(
                "Cannot connect to the destination for {peer}: {reason}",
                peer=self.transport.getPeer(),
                reason=reason.getErrorMessage(),
            )
        self._early = None
        self.transport.loseConnection()


def _proxyHeader(version: int, transport: Any) -> bytes:
    """The PROXY protocol header naming the client of ``transport`` (version 1 or 2)."""
    from torsion.protocols.haproxy import encodeV1, encodeV2

    peer, host = transport.getPeer(), transport.getHost()
    if version == 1:
        return encodeV1(peer, host)
    try:
        return encodeV2(peer, host)
    except ValueError:
        return encodeV2(None, None)  # Addresses the header cannot carry: LOCAL.


def _checkProxyVersion(version: int | None) -> None:
    if version not in (None, 1, 2):
        raise ValueError(
            f"sendProxyHeader is 1, 2 (the PROXY protocol version) or None, not {version!r}"
        )


class ProxyFactory(ServerFactory):
    """Forwards each accepted connection to ``host``:``port``.

    Args:
        host: the destination's host name or address.
        port: the destination's port.
        reactor: the reactor to connect with (the global one by default).
        sendProxyHeader: 1 or 2 to begin each forwarded connection with a PROXY
            protocol header of that version naming the client (for destinations
            behind torsion.protocols.haproxy, HAProxy's accept-proxy, nginx's
            proxy_protocol); None for none.
    """

    protocol: Any = ProxyServer

    def __init__(
        self, host: str, port: int, *, reactor: Any = None, sendProxyHeader: int | None = None
    ) -> None:
        _checkProxyVersion(sendProxyHeader)
        self.host = host
        self.port = port
        self.reactor = reactor
        self.sendProxyHeader = sendProxyHeader

    def __repr__(self) -> str:
        return f"<{type(self).__name__} to {self.host}:{self.port}>"
