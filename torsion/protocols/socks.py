"""SOCKS version 4 and 4a: a proxy server (CONNECT and BIND) and a client endpoint.

A SOCKS 4 client opens a connection to the proxy and sends one request: connect me
to this IPv4 address and port (CONNECT), or listen for one connection from that
address for me (BIND). SOCKS 4a lets the client send a host name instead, for the
proxy to resolve. After the proxy's "granted" reply the connection carries the
relayed bytes both ways. Formats: "SOCKS: A protocol for TCP proxy across firewalls"
(SOCKS 4) and "SOCKS 4A: A Simple Extension to SOCKS 4 Protocol".

Server: ``SOCKSv4Factory`` makes ``SOCKSv4`` protocols. ``SOCKSv4.authorize(code,
server, port, user)`` is the access check, called for each request (return False,
or a Deferred firing False, to refuse). Every request is logged (client, command,
destination, user id, outcome) with torsion.logger, and also written to the file
named by the factory's ``log`` argument, one line each, if given. The relayed
directions are flow-controlled: a side that does not read pauses the other.

Limits: the user id and the host name are at most 255 bytes each (a longer request
is refused with code 91 and the connection closed), a CONNECT gives up after
``connectTimeout`` seconds and a BIND after ``bindTimeout``.

Safety: a SOCKS proxy relays for anyone who reaches it. ``authorize`` allows
everything by default, as Twisted's does: listen on 127.0.0.1 or override it.

Client: ``SOCKS4ClientEndpoint(host, port, proxyEndpoint)`` is an
IStreamClientEndpoint that connects through the proxy that ``proxyEndpoint`` reaches
(4a when ``host`` is a name, so the proxy resolves it).
Tests: tests/protocols/test_socks.py.
"""

from __future__ import annotations

import socket
import struct
import time
from typing import Any

from zope.interface import implementer

from torsion.internet import protocol
from torsion.internet.defer import Deferred, maybeDeferred
from torsion.internet.error import ConnectError
from torsion.internet.interfaces import IPushProducer, IStreamClientEndpoint
from torsion.logger import Logger
from torsion.python.failure import Failure

__all__ = [
    "BIND",
    "CONNECT",
    "GRANTED",
    "REJECTED",
    "SOCKS4ClientEndpoint",
    "SOCKSError",
    "SOCKSRequest",
    "SOCKSRequestParser",
    "SOCKSv4",
    "SOCKSv4Factory",
    "SOCKSv4Incoming",
    "SOCKSv4IncomingFactory",
    "SOCKSv4Outgoing",
    "formatReply",
    "formatRequest",
    "parseReply",
]

_log = Logger()

CONNECT = 1
BIND = 2
GRANTED = 90
REJECTED = 91

_COMMANDS = {CONNECT: "CONNECT", BIND: "BIND"}
_REQUEST_HEAD = struct.Struct("!BBH4s")
_REPLY = struct.Struct("!BBH4s")


class SOCKSError(Exception):
    """A SOCKS request or reply is malformed, or the proxy refused a request."""


# -- sans-IO ----------------------------------------------------------------------------


class SOCKSRequest:
    """A parsed SOCKS 4 or 4a request.

    Attributes:
        command: CONNECT (1) or BIND (2).
        port: the destination port.
        ip: the destination IPv4 address as text ("0.0.0.1" style for 4a).
        user: the user id the client sent (bytes, often empty).
        host: the host name of a 4a request; None for plain SOCKS 4.
    """

    __slots__ = ("command", "host", "ip", "port", "user")

    def __init__(self, command: int, port: int, ip: str, user: bytes, host: str | None) -> None:
        self.command = command
        self.port = port
        self.ip = ip
        self.user = user
        self.host = host

    @property
    def destination(self) -> str:
        """The host to reach: the 4a host name, or the IPv4 address."""
        return self.host if self.host is not None else self.ip

    def __repr__(self) -> str:
        return (
            f"SOCKSRequest({_COMMANDS.get(self.command, self.command)}, {self.destination}:"
            f"{self.port}, user={self.user!r})"
        )


class SOCKSRequestParser:
    """Bytes in, one SOCKSRequest out: what a SOCKS 4 server reads first.

    ``feed`` returns the request once all of it has arrived (None before), with
    ``rest`` holding the bytes received after it (relayed once the request is
    granted).

    Raises (from ``feed``):
        SOCKSError: the bytes are not a SOCKS 4 request, or a field is too long.
    """

    __slots__ = ("_buffer", "rest")
    MAX_FIELD = 255

    def __init__(self) -> None:
        self._buffer = b""
        self.rest = b""

    def feed(self, data: bytes) -> SOCKSRequest | None:
        buffer = self._buffer = self._buffer + data
        if buffer[:1] and buffer[0] != 4:
            raise SOCKSError(
                f"the client speaks SOCKS version {buffer[0]} (or not SOCKS at all); this "
                f"server speaks SOCKS 4 and 4a"
            )
        if len(buffer) > 1 and buffer[1] not in _COMMANDS:
            raise SOCKSError(f"unknown SOCKS 4 command {buffer[1]} (1 is CONNECT, 2 BIND)")
        if len(buffer) < _REQUEST_HEAD.size:
            return None
        _, command, port, rawIP = _REQUEST_HEAD.unpack_from(buffer)
        offset = _REQUEST_HEAD.size
        user, offset = self._field(buffer, offset, "user id")
        if user is None:
            return None
        host: str | None = None
        if rawIP[:3] == b"\0\0\0" and rawIP[3]:
            rawHost, offset = self._field(buffer, offset, "host name")
            if rawHost is None:
                return None
            if not rawHost:
                raise SOCKSError("a SOCKS 4a request has an empty host name")
            try:
                host = rawHost.decode("ascii")
            except UnicodeDecodeError:
                raise SOCKSError("a SOCKS 4a host name is not ASCII") from None
        self.rest = buffer[offset:]
        self._buffer = b""
        return SOCKSRequest(command, port, socket.inet_ntoa(rawIP), user, host)

    def _field(self, buffer: bytes, offset: int, what: str) -> tuple[bytes | None, int]:
        end = buffer.find(b"\0", offset, offset + self.MAX_FIELD + 1)
        if end < 0:
            if len(buffer) - offset > self.MAX_FIELD:
                raise SOCKSError(f"the SOCKS {what} is longer than {self.MAX_FIELD} bytes")
            return None, offset
        return buffer[offset:end], end + 1


def formatRequest(command: int, host: str, port: int, user: bytes = b"") -> bytes:
    """Return a SOCKS 4 request, or 4a if ``host`` is not an IPv4 address."""
    try:
        rawIP = socket.inet_aton(host) if host.count(".") == 3 else b""
    except OSError:
        rawIP = b""
    if b"\0" in user or len(user) > SOCKSRequestParser.MAX_FIELD:
        raise ValueError("a SOCKS user id has no NUL byte and at most 255 bytes")
    head = _REQUEST_HEAD.pack(4, command, port, rawIP or b"\0\0\0\1") + user + b"\0"
    if rawIP:
        return head
    try:
        name = host.encode("idna")
    except UnicodeError:
        raise ValueError(f"{host!r} is not a host name (empty or overlong label)") from None
    if len(name) > SOCKSRequestParser.MAX_FIELD:
        raise ValueError(f"the host name {host!r} is longer than 255 bytes")
    return head + name + b"\0"


def formatReply(code: int, port: int = 0, ip: str = "0.0.0.0") -> bytes:
    """Return a SOCKS 4 reply (8 bytes)."""
    return _REPLY.pack(0, code, port, socket.inet_aton(ip))


def parseReply(data: bytes) -> tuple[int, int, str]:
    """Parse an 8-byte SOCKS 4 reply: ``(code, port, ip)``.

    Raises:
        SOCKSError: it is not a SOCKS 4 reply.
    """
    version, code, port, rawIP = _REPLY.unpack(data[: _REPLY.size])
    if version != 0 or not 90 <= code <= 93:
        raise SOCKSError(f"the proxy's answer {data[:8]!r} is not a SOCKS 4 reply")
    return code, port, socket.inet_ntoa(rawIP)


# -- the relay ----------------------------------------------------------------------------


@implementer(IPushProducer)
class _Reader:
    """Pauses one side's reading while the other side's writes wait."""

    __slots__ = ("transport",)

    def __init__(self, transport: Any) -> None:
        self.transport = transport

    def pauseProducing(self) -> None:
        self.transport.pauseProducing()

    def resumeProducing(self) -> None:
        self.transport.resumeProducing()

    def stopProducing(self) -> None:
        """The consumer is closing; its own connectionLost closes this side."""


def _couple(a: Any, b: Any) -> None:
    """Make each transport pause the other's reading while its own buffer is full."""
    a.registerProducer(_Reader(b), True)
    b.registerProducer(_Reader(a), True)


def _closeAfterRelay(transport: Any) -> None:
    """Close ``transport`` once its buffer is sent: its producer (the gone side) first."""
    if getattr(transport, "producer", None) is not None:
        transport.unregisterProducer()
    transport.loseConnection()


class _Relay(protocol.Protocol):
    """The proxy's side of a relayed connection to or from the destination."""

    def __init__(self, socks: SOCKSv4) -> None:
        self.socks = socks

    def dataReceived(self, data: bytes) -> None:
        """Pass the destination's bytes to the SOCKS client."""
        self.socks.transport.write(data)

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        """The destination went away: close the client's connection too."""
        self.socks.otherConn = None
        if self.socks.transport is not None:
            _closeAfterRelay(self.socks.transport)

    def write(self, data: bytes) -> None:
        """Send the SOCKS client's bytes to the destination."""
        self.transport.write(data)


class SOCKSv4Outgoing(_Relay):
    """The proxy's connection to a CONNECT destination."""

    def connectionMade(self) -> None:
        """Tell the client the request is granted, then relay."""
        self.socks._connected(self)


class SOCKSv4Incoming(_Relay):
    """The connection a BIND request waited for, from the destination."""

    def connectionMade(self) -> None:
        """Check the caller is the host the client named, then relay."""
        self.socks._incoming(self)


class SOCKSv4IncomingFactory(protocol.Factory):
    """Accepts the one connection a BIND request waits for."""

    noisy = False

    def __init__(self, socks: SOCKSv4, ip: str) -> None:
        self.socks = socks
        self.ip = ip

    def buildProtocol(self, addr: Any) -> SOCKSv4Incoming | None:
        if self.socks.otherConn is not None or self.socks.transport is None:
            return None
        return SOCKSv4Incoming(self.socks)


# -- the server ---------------------------------------------------------------------------


class SOCKSv4(protocol.Protocol):
    """The server side of SOCKS 4 and 4a for one client.

    Args:
        logging: a file name to append one line per request to, or None.
        reactor: the reactor to connect, listen and resolve with; None for the global.
    """

    connectTimeout = 30.0
    bindTimeout = 120.0

    def __init__(self, logging: str | None = None, reactor: Any = None) -> None:
        self.logging = logging
        self.reactor = reactor
        self.otherConn: _Relay | None = None
        self._parser: SOCKSRequestParser | None = SOCKSRequestParser()
        self._request: SOCKSRequest | None = None
        self._early: list[bytes] = []
        self._port: Any = None
        self._timer: Any = None

    def _reactor(self) -> Any:
        if self.reactor is None:
            from torsion.internet import reactor

            self.reactor = reactor
        return self.reactor

    # -- the request ---------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        """Parse the request, then relay what follows it."""
        if self.otherConn is not None:
            self.otherConn.write(data)
            return
        parser = self._parser
        if parser is None:
            self._early.append(data)  # Waiting for the destination; sent once connected.
            return
        try:
            request = parser.feed(data)
        except SOCKSError as e:
            self._parser = None
            self._refuse(None, str(e))
            return
        if request is None:
            return
        self._parser = None
        self._request = request
        if parser.rest:
            self._early.append(parser.rest)
        allowed = maybeDeferred(
            self.authorize, request.command, request.destination, request.port, request.user
        )
        allowed.addCallback(self._authorized, request)
        allowed.addErrback(self._authorizeFailed, request)

    def authorize(self, code: int, server: str, port: int, user: bytes) -> Any:
        """The access check: may this client ``code`` (CONNECT or BIND) ``server``:``port``?

        Returns True (allow) or False (refuse), or a Deferred of either. ``server`` is
        the IPv4 address, or the host name of a 4a request. Everything is allowed by
        default: override this for a proxy that others can reach.
        """
        return True

    def _authorizeFailed(self, reason: Failure, request: SOCKSRequest) -> None:
        _log.failure("SOCKS: the authorize check failed", reason)
        self._refuse(request, "the access check failed")

    def _authorized(self, allowed: object, request: SOCKSRequest) -> None:
        if self.transport is None or self.transport.disconnecting:
            return
        if not allowed:
            self._refuse(request, "refused by the access check")
            return
        if request.host is not None:
            resolving = self._reactor().resolve(request.host)
            resolving.addCallbacks(
                self._resolved,
                lambda reason: self._refuse(request, f"cannot resolve {request.host}"),
                callbackArgs=(request,),
            )
        else:
            self._resolved(request.ip, request)

    def _resolved(self, ip: str, request: SOCKSRequest) -> None:
        if self.transport is None or self.transport.disconnecting:
            return
        if request.command == CONNECT:
            self.connectClass(ip, request.port, SOCKSv4Outgoing, self).addErrback(
                lambda reason: self._refuse(request, f"cannot connect: {reason.getErrorMessage()}")
            )
        else:
            self._bind(ip, request)

    # -- CONNECT -------------------------------------------------------------------

    def connectClass(self, host: str, port: int, klass: Any, *args: Any) -> Deferred[Any]:
        """Connect to ``host``:``port`` with ``klass(*args)``; a Deferred of the protocol."""
        return protocol.ClientCreator(self._reactor(), klass, *args).connectTCP(
            host, port, timeout=self.connectTimeout
        )

    def _connected(self, outgoing: SOCKSv4Outgoing) -> None:
        if self.transport is None or self.transport.disconnecting:
            outgoing.transport.loseConnection()
            return
        self._startRelay(outgoing)
        host = outgoing.transport.getHost()
        self.makeReply(GRANTED, port=host.port, ip=host.host)
        self._logRequest("granted")
        self._flushEarly()

    # -- BIND ----------------------------------------------------------------------

    def listenClass(self, port: int, klass: Any, *args: Any) -> Any:
        """Listen on ``port`` of this server's address with the factory ``klass(*args)``."""
        interface = self.transport.getHost().host
        return self._reactor().listenTCP(port, klass(*args), interface=interface)

    def _bind(self, ip: str, request: SOCKSRequest) -> None:
        try:
            self._port = self.listenClass(0, SOCKSv4IncomingFactory, self, ip)
        except Exception as e:
            self._refuse(request, f"cannot listen: {e}")
            return
        self._expected = ip
        address = self._port.getHost()
        self.makeReply(GRANTED, port=address.port, ip=address.host)
        self._timer = self._reactor().callLater(self.bindTimeout, self._bindTimedOut)
        self._logRequest(f"listening on {address.host}:{address.port}")

    def _bindTimedOut(self) -> None:
        self._timer = None
        self._refuse(self._request, "no connection came for the BIND in time")

    def _stopListening(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            port.stopListening()
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def _incoming(self, incoming: SOCKSv4Incoming) -> None:
        self._stopListening()
        peer = incoming.transport.getPeer()
        if peer.host != self._expected:
            incoming.transport.loseConnection()
            self._refuse(self._request, f"the BIND connection came from {peer.host}")
            return
        self._startRelay(incoming)
        self.makeReply(GRANTED, port=peer.port, ip=peer.host)
        self._logRequest(f"connection from {peer.host}:{peer.port}")
        self._flushEarly()

    # -- relaying, replies and logs ------------------------------------------------

    def _startRelay(self, other: _Relay) -> None:
        self.otherConn = other
        _couple(self.transport, other.transport)

    def _flushEarly(self) -> None:
        early, self._early = self._early, []
        if early and self.otherConn is not None:
            self.otherConn.write(b"".join(early))

    def makeReply(self, reply: int, version: int = 0, port: int = 0, ip: str = "0.0.0.0") -> None:
        """Send a reply with ``port`` and ``ip`` (0.0.0.0 for an address that is not IPv4)."""
        try:
            socket.inet_aton(ip)
        except OSError:
            ip = "0.0.0.0"
        self.transport.write(
            formatReply(reply, port, ip) if ip.count(".") == 3 else formatReply(reply, port)
        )

    def write(self, data: bytes) -> None:
        """Send ``data`` to the SOCKS client (Twisted's name for it)."""
        self.transport.write(data)

    def _refuse(self, request: SOCKSRequest | None, why: str) -> None:
        self._stopListening()
        if self.transport is not None and not self.transport.disconnecting:
            self.makeReply(REJECTED)
            self.transport.loseConnection()
        self._logRequest(f"refused: {why}", request)

    def _logRequest(self, outcome: str, request: SOCKSRequest | None = None) -> None:
        request = request or self._request
        peer = self.transport.getPeer() if self.transport is not None else None
        client = f"{peer.host}:{peer.port}" if peer is not None else "?"
        if request is None:
            what = "a malformed request"
        else:
            command = _COMMANDS.get(request.command, str(request.command))
            what = f"{command} {request.destination}:{request.port} user {request.user!r}"
        _log.info("SOCKS {client}: {what}: {outcome}", client=client, what=what, outcome=outcome)
        if self.logging:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            try:
                with open(self.logging, "a", encoding="utf-8") as f:
                    f.write(f"{stamp} {client} {what}: {outcome}\n")
            except OSError as e:
                _log.error(
                    "SOCKS: cannot write the log file {path}: {error}",
                    path=self.logging,
                    error=e.strerror,
                )

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        """The client went away: close the relayed connection and any BIND port."""
        self._stopListening()
        other, self.otherConn = self.otherConn, None
        if other is not None and other.transport is not None:
            _closeAfterRelay(other.transport)


class SOCKSv4Factory(protocol.Factory):
    """Makes SOCKSv4 servers.

    Args:
        log: a file name to append one line per request to, or None for none (every
            request is logged with torsion.logger either way).
        reactor: the reactor the servers use; None for the global one.
    """

    protocol = SOCKSv4

    def __init__(self, log: str | None = None, reactor: Any = None) -> None:
        self.logging = log
        self.reactor = reactor

    def buildProtocol(self, addr: Any) -> SOCKSv4:
        proto = self.protocol(self.logging, self.reactor)
        proto.factory = self
        return proto


# -- the client ---------------------------------------------------------------------------


class _SOCKSClient(protocol.Protocol):
    """Sends the CONNECT request, reads the reply, then hands over to the real protocol."""

    def __init__(self, request: bytes, factory: Any, connected: Deferred[Any]) -> None:
        self.request = request
        self.factory = factory
        self._connecting = connected
        self.wrapped: Any = None
        self._buffer = b""

    def connectionMade(self) -> None:
        self.transport.write(self.request)

    def dataReceived(self, data: bytes) -> None:
        if self.wrapped is not None:
            self.wrapped.dataReceived(data)
            return
        self._buffer += data
        if len(self._buffer) < _REPLY.size:
            return
        reply, rest = self._buffer[: _REPLY.size], self._buffer[_REPLY.size :]
        self._buffer = b""
        try:
            code, _, _ = parseReply(reply)
        except SOCKSError as e:
            self._fail(e)
            return
        if code != GRANTED:
            self._fail(SOCKSError(f"the SOCKS proxy refused the connection (code {code})"))
            return
        wrapped = self.factory.buildProtocol(self.transport.getPeer())
        if wrapped is None:
            self._fail(SOCKSError("the factory built no protocol"))
            return
        self.wrapped = wrapped
        wrapped.makeConnection(self.transport)
        self._connecting.callback(wrapped)
        if rest:
            wrapped.dataReceived(rest)

    def _fail(self, error: Exception) -> None:
        self.transport.loseConnection()
        if not self._connecting.called:
            self._connecting.errback(error)

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        if self.wrapped is not None:
            self.wrapped.connectionLost(reason)
        elif not self._connecting.called:
            self._connecting.errback(
                ConnectError("the SOCKS proxy closed the connection before replying")
            )


@implementer(IStreamClientEndpoint)
class SOCKS4ClientEndpoint:
    """Connect to ``host``:``port`` through a SOCKS 4 (or 4a) proxy.

    Args:
        host: the destination: an IPv4 address (SOCKS 4) or a host name (SOCKS 4a,
            resolved by the proxy).
        port: the destination port.
        proxyEndpoint: an endpoint that reaches the proxy, such as
            ``TCP4ClientEndpoint(reactor, "127.0.0.1", 1080)``.
        user: the user id to send.
    """

    def __init__(self, host: str, port: int, proxyEndpoint: Any, user: bytes = b"") -> None:
        self._request = formatRequest(CONNECT, host, port, user)
        self._proxyEndpoint = proxyEndpoint

    def connect(self, protocolFactory: Any) -> Deferred[Any]:
        """Connect through the proxy; fire with the protocol once the proxy granted it.

        Fails with SOCKSError if the proxy refuses, or with the proxy endpoint's error
        if the proxy cannot be reached.
        """
        connected: Deferred[Any] = Deferred()
        request = self._request

        class Factory(protocol.Factory):
            noisy = False

            def buildProtocol(self, addr: Any) -> _SOCKSClient:
                return _SOCKSClient(request, protocolFactory, connected)

        reaching = self._proxyEndpoint.connect(Factory())
        reaching.addErrback(
            lambda reason: connected.errback(reason) if not connected.called else None
        )
        return connected
