"""Endpoints: "where to listen" and "where to connect" as objects, one shape for every transport.

A server endpoint has ``listen(factory)``, returning a Deferred that fires with the
listening port; a client endpoint has ``connect(factory)``, returning a Deferred that
fires with the connected protocol, after its ``connectionMade``, or fails with the
reason the attempt failed. Cancelling that Deferred gives up the attempt
(``ConnectingCancelledError``). Code written against IStreamServerEndpoint and
IStreamClientEndpoint works unchanged over TCP, TLS, UNIX sockets, standard I/O or a
child process, and the endpoint string language of torsion.application.strports
makes one from a description such as ``"tcp:8080:interface=127.0.0.1"``.

``HostnameEndpoint`` connects to a name the way browsers do (RFC 8305, "happy
eyeballs"): it resolves every address of the name, then tries them in turn, IPv6 and
IPv4 interleaved, starting the next attempt ``attemptDelay`` seconds after the last
without waiting for it to fail, and keeps the first that connects.
Tests: tests/internet/test_endpoints.py.
"""

from __future__ import annotations

import importlib
import os
import socket
from collections.abc import Callable, Sequence
from typing import Any

from zope.interface import implementer, providedBy
from zope.interface.declarations import directlyProvides

from torsion.internet import defer, error, threads
from torsion.internet._processendpoints import (
    ProcessEndpoint,
    StandardErrorBehavior,
    StandardIOEndpoint,
)
from torsion.internet.base import isIPAddress
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import (
    IStreamClientEndpoint,
    IStreamServerEndpoint,
)
from torsion.internet.protocol import ClientFactory, Factory
from torsion.python.failure import Failure

__all__ = [
    "AdoptedStreamServerEndpoint",
    "HostnameEndpoint",
    "ProcessEndpoint",
    "SSL4ClientEndpoint",
    "SSL4ServerEndpoint",
    "StandardErrorBehavior",
    "StandardIOEndpoint",
    "TCP4ClientEndpoint",
    "TCP4ServerEndpoint",
    "TCP6ClientEndpoint",
    "TCP6ServerEndpoint",
    "UNIXClientEndpoint",
    "UNIXServerEndpoint",
    "clientFromString",
    "connectProtocol",
    "quoteStringArgument",
    "registerParser",
    "serverFromString",
    "unregisterParser",
    "wrapClientTLS",
]


# -- the client side's plumbing --------------------------------------------------------


class _WrappingProtocol:
    """Stands between a transport and the protocol a client endpoint built.

    It fires the endpoint's Deferred once the protocol's connectionMade has run, and
    otherwise passes everything through: it provides what the wrapped protocol
    provides (half-close, descriptor passing, ...), and the per-data call goes straight
    to the wrapped protocol's own method.
    """

    def __init__(self, connected: Deferred[Any], wrapped: Any) -> None:
        self._connected: Deferred[Any] | None = connected
        self._wrappedProtocol = wrapped
        directlyProvides(self, providedBy(wrapped))

    def __getattr__(self, name: str) -> Any:
        # Only reached for what this class lacks: readConnectionLost, handshake hooks...
        return getattr(self.__dict__["_wrappedProtocol"], name)

    def logPrefix(self) -> str:
        logPrefix = getattr(self._wrappedProtocol, "logPrefix", None)
        return logPrefix() if logPrefix is not None else type(self._wrappedProtocol).__name__

    def makeConnection(self, transport: Any) -> None:
        wrapped = self._wrappedProtocol
        self.transport = transport
        # Bound once here, so each chunk of data costs no extra call.
        self.dataReceived = wrapped.dataReceived  # type: ignore[method-assign]
        connected, self._connected = self._connected, None
        try:
            wrapped.makeConnection(transport)
        except BaseException:
            if connected is not None:
                connected.errback(Failure())
            raise
        if connected is not None:
            connected.callback(wrapped)

    def dataReceived(self, data: bytes) -> None:
        self._wrappedProtocol.dataReceived(data)

    def connectionLost(self, reason: Failure) -> None:
        self._wrappedProtocol.connectionLost(reason)


class _WrappingFactory(ClientFactory):
    """The factory a client endpoint hands the reactor: reports the attempt's outcome."""

    noisy = False

    def __init__(self, wrappedFactory: Any) -> None:
        self._wrappedFactory = wrappedFactory
        self._connector: Any = None
        self.connected: Deferred[Any] = Deferred(self._cancel)

    def _cancel(self, connected: Deferred[Any]) -> None:
        connector = self._connector
        if connector is None:
            return
        destination = connector.getDestination()
        connector.stopConnecting()
        if not connected.called:
            connected.errback(error.ConnectingCancelledError(destination))

    def doStart(self) -> None:
        self._wrappedFactory.doStart()

    def doStop(self) -> None:
        self._wrappedFactory.doStop()

    def startedConnecting(self, connector: Any) -> None:
        self._connector = connector

    def buildProtocol(self, addr: Any) -> Any:
        if self.connected.called:
            return None  # Cancelled, but connected before stopConnecting could act.
        try:
            protocol = self._wrappedFactory.buildProtocol(addr)
            if protocol is None:
                raise error.NoProtocol(
                    f"{type(self._wrappedFactory).__name__}.buildProtocol returned None"
                )
        except BaseException:
            self.connected.errback(Failure())
            return None
        return _WrappingProtocol(self.connected, protocol)

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        if not self.connected.called:
            self.connected.errback(reason)


def _connecting(connect: Callable[[_WrappingFactory], object], factory: Any) -> Deferred[Any]:
    """Start ``connect(wrapping)`` and return the Deferred of the connected protocol."""
    wrapping = _WrappingFactory(factory)
    try:
        connect(wrapping)
    except BaseException:
        return defer.fail()
    return wrapping.connected


def connectProtocol(endpoint: Any, protocol: Any) -> Deferred[Any]:
    """Connect ``endpoint`` with the protocol instance ``protocol``.

    Returns:
        A Deferred firing with ``protocol`` once it is connected.
    """

    class OneShotFactory(Factory):
        noisy = False

        def buildProtocol(self, addr: Any) -> Any:
            return protocol

    result: Deferred[Any] = endpoint.connect(OneShotFactory())
    return result


def _listening(listen: Callable[[], Any]) -> Deferred[Any]:
    """Run ``listen()`` now; its port, or its error (CannotListenError), in a Deferred."""
    return defer.execute(listen)


# -- TCP ---------------------------------------------------------------------------------


@implementer(IStreamServerEndpoint)
class TCP4ServerEndpoint:
    """Listen for TCP on an IPv4 ``interface`` (all of them by default)."""

    _defaultInterface = ""

    def __init__(
        self, reactor: Any, port: int, backlog: int = 50, interface: str | None = None
    ) -> None:
        self._reactor = reactor
        self._port = port
        self._backlog = backlog
        self._interface = self._defaultInterface if interface is None else interface

    def __repr__(self) -> str:
        return f"{type(self).__name__}(port={self._port!r}, interface={self._interface!r})"

    def listen(self, protocolFactory: Any) -> Deferred[Any]:
        """Listen with ``protocolFactory``; the Deferred fires with the port."""
        return _listening(
            lambda: self._reactor.listenTCP(
                self._port, protocolFactory, backlog=self._backlog, interface=self._interface
            )
        )


class TCP6ServerEndpoint(TCP4ServerEndpoint):
    """Listen for TCP on an IPv6 ``interface`` (``::``, all of them, by default)."""

    _defaultInterface = "::"


@implementer(IStreamClientEndpoint)
class TCP4ClientEndpoint:
    """Connect over TCP to ``host`` (a name is resolved with ``reactor.resolve``)."""

    def __init__(
        self,
        reactor: Any,
        host: str,
        port: int,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> None:
        self._reactor = reactor
        self._host = host
        self._port = port
        self._timeout = timeout
        self._bindAddress = bindAddress

    def __repr__(self) -> str:
        return f"{type(self).__name__}(host={self._host!r}, port={self._port!r})"

    def connect(self, protocolFactory: Any) -> Deferred[Any]:
        """Connect, building the protocol with ``protocolFactory``."""
        return _connecting(
            lambda wrapping: self._reactor.connectTCP(
                self._host, self._port, wrapping, self._timeout, self._bindAddress
            ),
            protocolFactory,
        )


class TCP6ClientEndpoint(TCP4ClientEndpoint):
    """Connect over TCP to an IPv6 ``host`` (an address; for names use HostnameEndpoint)."""


# -- host names, happy eyeballs ----------------------------------------------------------


@implementer(IStreamClientEndpoint)
class HostnameEndpoint:
    """Connect over TCP to any address of the name ``host``, the fastest one winning.

    Every address of the name is looked up (``getaddrinfo``, in the reactor's thread
    pool; an IP address is used as it is). The attempts start one after the other,
    ``attemptDelay`` seconds apart, alternating between address families in the
    order the system prefers; an attempt that fails starts the next one at once. The
    first connection made wins and the other attempts are abandoned. If every attempt
    fails, the Deferred fails with the last attempt's reason; if the name has no
    address, with DNSLookupError.

    Args:
        reactor: the reactor (with IReactorTCP, IReactorTime, and threads for names).
        host: a host name (text, or IDNA bytes) or an IP address.
        port: the TCP port.
        timeout: seconds each attempt may take.
        bindAddress: the local ``(host, port)`` to connect from.
        attemptDelay: seconds between the starts of two attempts (RFC 8305: 250 ms).
    """

    _DEFAULT_ATTEMPT_DELAY = 0.25

    def __init__(
        self,
        reactor: Any,
        host: str | bytes,
        port: int,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
        attemptDelay: float | None = None,
    ) -> None:
        self._reactor = reactor
        self._hostText = host.decode("idna") if isinstance(host, bytes) else host
        self._port = port
        self._timeout = timeout
        self._bindAddress = bindAddress
        self._attemptDelay = self._DEFAULT_ATTEMPT_DELAY if attemptDelay is None else attemptDelay

    def __repr__(self) -> str:
        return f"HostnameEndpoint({self._hostText}:{self._port})"

    def _resolve(self) -> Deferred[list[str]]:
        """Return the addresses of the host, in the order to try them."""
        host = self._hostText.strip("[]")
        if isIPAddress(host) or _isIPv6Address(host):
            return defer.succeed([host])

        def lookup() -> list[tuple[int, str]]:
            try:
                infos = socket.getaddrinfo(host, self._port, 0, socket.SOCK_STREAM)
            except socket.gaierror as e:
                raise error.DNSLookupError(
                    f"address {host!r} not found: {e.strerror or e}"
                ) from None
            return [(family, str(sockaddr[0])) for family, _, _, _, sockaddr in infos]

        resolved: Deferred[list[tuple[int, str]]] = threads.deferToThreadPool(
            self._reactor, self._reactor.getThreadPool(), lookup
        )
        return resolved.addCallback(self._interleave)

    def _interleave(self, found: list[tuple[int, str]]) -> list[str]:
        """Alternate the families, starting with the system's first choice (RFC 8305)."""
        if not found:
            raise error.DNSLookupError(f"address {self._hostText!r} has no address")
        byFamily: dict[int, list[str]] = {}
        for family, address in found:
            if address not in byFamily.setdefault(family, []):
                byFamily[family].append(address)
        queues = list(byFamily.values())
        ordered: list[str] = []
        while any(queues):
            for queue in queues:
                if queue:
                    ordered.append(queue.pop(0))
        return ordered

    def connect(self, protocolFactory: Any) -> Deferred[Any]:
        """Resolve the name and race connection attempts; fires with the protocol."""
        race = _Race(self, protocolFactory)
        return race.start()

    def _attempt(self, address: str, protocolFactory: Any) -> Deferred[Any]:
        return TCP4ClientEndpoint(
            self._reactor, address, self._port, self._timeout, self._bindAddress
        ).connect(protocolFactory)


class _Race:
    """One HostnameEndpoint.connect: the lookup, then the staggered attempts."""

    def __init__(self, endpoint: HostnameEndpoint, protocolFactory: Any) -> None:
        self._endpoint = endpoint
        self._protocolFactory = protocolFactory
        self._result: Deferred[Any] = Deferred(self._cancel)
        self._lookup: Deferred[list[str]] | None = None
        self._remaining: list[str] = []
        self._attempts: list[Deferred[Any]] = []
        self._nextAttempt: Any = None
        # Won, lost for good, or cancelled: later news of attempts is not reported.
        self._finished = False

    def start(self) -> Deferred[Any]:
        self._lookup = self._endpoint._resolve()
        self._lookup.addCallbacks(self._resolved, self._lookupFailed)
        return self._result

    def _lookupFailed(self, reason: Failure) -> None:
        self._lookup = None
        if not self._finished:
            self._finished = True
            self._result.errback(reason)

    def _resolved(self, addresses: Sequence[str]) -> None:
        self._lookup = None
        if self._finished:
            return  # Cancelled during the lookup.
        self._remaining = list(addresses)
        self._startNext()

    def _startNext(self) -> None:
        self._nextAttempt = None
        if not self._remaining:
            return
        address = self._remaining.pop(0)
        attempt = self._endpoint._attempt(address, self._protocolFactory)
        self._attempts.append(attempt)
        attempt.addCallbacks(self._won, self._lost, callbackArgs=(attempt,), errbackArgs=(attempt,))
        if self._remaining and not self._finished:
            reactor = self._endpoint._reactor
            self._nextAttempt = reactor.callLater(self._endpoint._attemptDelay, self._startNext)

    def _won(self, protocol: Any, attempt: Deferred[Any]) -> None:
        # An attempt cannot win once the race is over: abandoned ones were cancelled.
        self._attempts.remove(attempt)
        self._finished = True
        self._abandonTheRest()
        self._result.callback(protocol)

    def _lost(self, reason: Failure, attempt: Deferred[Any]) -> None:
        self._attempts.remove(attempt)
        if self._finished:
            return  # Abandoned: a cancellation, not news.
        if self._attempts:
            return
        if self._remaining:
            # Nothing is in flight: do not wait for the stagger.
            if self._nextAttempt is not None:
                self._nextAttempt.cancel()
            self._startNext()
            return
        self._finished = True
        self._result.errback(reason)

    def _abandonTheRest(self) -> None:
        if self._nextAttempt is not None:
            self._nextAttempt.cancel()
            self._nextAttempt = None
        self._remaining = []
        for attempt in list(self._attempts):
            attempt.cancel()

    def _cancel(self, result: Deferred[Any]) -> None:
        self._finished = True
        if self._lookup is not None:
            self._lookup.cancel()
        self._abandonTheRest()
        if not result.called:
            result.errback(error.ConnectingCancelledError(self._endpoint))


def _isIPv6Address(text: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6, text.split("%", 1)[0])
    except (OSError, ValueError):
        return False
    return True


# -- TLS -----------------------------------------------------------------------------------


class SSL4ServerEndpoint(TCP4ServerEndpoint):
    """Listen for TLS over TCP on an IPv4 ``interface``, with ``sslContextFactory``."""

    def __init__(
        self,
        reactor: Any,
        port: int,
        sslContextFactory: Any,
        backlog: int = 50,
        interface: str = "",
    ) -> None:
        super().__init__(reactor, port, backlog, interface)
        self._contextFactory = sslContextFactory

    def listen(self, protocolFactory: Any) -> Deferred[Any]:
        """Listen with ``protocolFactory``; the Deferred fires with the port."""
        return _listening(
            lambda: self._reactor.listenSSL(
                self._port,
                protocolFactory,
                self._contextFactory,
                backlog=self._backlog,
                interface=self._interface,
            )
        )


class SSL4ClientEndpoint(TCP4ClientEndpoint):
    """Connect with TLS over TCP to ``host``, with ``sslContextFactory``."""

    def __init__(
        self,
        reactor: Any,
        host: str,
        port: int,
        sslContextFactory: Any,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> None:
        super().__init__(reactor, host, port, timeout, bindAddress)
        self._contextFactory = sslContextFactory

    def connect(self, protocolFactory: Any) -> Deferred[Any]:
        """Connect, building the protocol with ``protocolFactory``."""
        return _connecting(
            lambda wrapping: self._reactor.connectSSL(
                self._host,
                self._port,
                wrapping,
                self._contextFactory,
                self._timeout,
                self._bindAddress,
            ),
            protocolFactory,
        )


# -- UNIX sockets ----------------------------------------------------------------------------


@implementer(IStreamServerEndpoint)
class UNIXServerEndpoint:
    """Listen on the UNIX socket ``address`` (a path, or an abstract name on Linux)."""

    def __init__(
        self,
        reactor: Any,
        address: str | bytes,
        backlog: int = 50,
        mode: int = 0o666,
        wantPID: bool = False,
    ) -> None:
        self._reactor = reactor
        self._address = address
        self._backlog = backlog
        self._mode = mode
        self._wantPID = wantPID

    def __repr__(self) -> str:
        return f"UNIXServerEndpoint({self._address!r})"

    def listen(self, protocolFactory: Any) -> Deferred[Any]:
        """Listen with ``protocolFactory``; the Deferred fires with the port."""
        return _listening(
            lambda: self._reactor.listenUNIX(
                self._address,
                protocolFactory,
                backlog=self._backlog,
                mode=self._mode,
                wantPID=self._wantPID,
            )
        )


@implementer(IStreamClientEndpoint)
class UNIXClientEndpoint:
    """Connect to the UNIX socket ``path``."""

    def __init__(
        self, reactor: Any, path: str | bytes, timeout: float = 30, checkPID: bool = False
    ) -> None:
        self._reactor = reactor
        self._path = path
        self._timeout = timeout
        self._checkPID = checkPID

    def __repr__(self) -> str:
        return f"UNIXClientEndpoint({self._path!r})"

    def connect(self, protocolFactory: Any) -> Deferred[Any]:
        """Connect, building the protocol with ``protocolFactory``."""
        return _connecting(
            lambda wrapping: self._reactor.connectUNIX(
                self._path, wrapping, timeout=self._timeout, checkPID=self._checkPID
            ),
            protocolFactory,
        )


# -- adopted sockets ---------------------------------------------------------------------------


@implementer(IStreamServerEndpoint)
class AdoptedStreamServerEndpoint:
    """Listen on a listening socket this process inherited (from systemd, or a parent).

    ``listen`` hands the descriptor to ``reactor.adoptStreamPort`` (IReactorSocket),
    which works on a duplicate, then closes ``fileno`` itself; so it listens once.

    Args:
        reactor: an IReactorSocket.
        fileno: the descriptor of the bound, listening socket.
        addressFamily: its family (``socket.AF_INET``, ``AF_INET6``...).
    """

    _close = staticmethod(os.close)

    def __init__(self, reactor: Any, fileno: int, addressFamily: int) -> None:
        self.reactor = reactor
        self.fileno = fileno
        self.addressFamily = addressFamily
        self._used = False

    def __repr__(self) -> str:
        family = socket.AddressFamily(self.addressFamily).name
        return f"AdoptedStreamServerEndpoint(fileno={self.fileno!r}, {family})"

    def listen(self, protocolFactory: Any) -> Deferred[Any]:
        """Adopt the socket with ``protocolFactory``; the Deferred fires with the port.

        It fails with AlreadyListened on a second call.
        """
        if self._used:
            return defer.fail(
                error.AlreadyListened(f"{self!r} has listened already: its descriptor is closed")
            )
        self._used = True
        try:
            port = self.reactor.adoptStreamPort(self.fileno, self.addressFamily, protocolFactory)
            self._close(self.fileno)
        except BaseException:
            return defer.fail()
        return defer.succeed(port)


# -- TLS over any client endpoint ------------------------------------------------------------


def wrapClientTLS(connectionCreator: Any, wrappedEndpoint: Any) -> IStreamClientEndpoint:
    """Return a client endpoint that runs TLS over the connections of ``wrappedEndpoint``.

    ``connectionCreator`` says how, typically ``ssl.optionsForClientTLS(hostname)``
    (which checks the server's certificate and name). The Deferred of ``connect``
    fires with the protocol once the connection below is made; the handshake follows,
    and a refused certificate reaches the protocol's connectionLost.

    Raises:
        ImportError: this torsion has no TLS (torsion.protocols.tls).
    """
    tls = importlib.import_module("torsion.protocols.tls")
    return _TLSClientEndpoint(tls.TLSMemoryBIOFactory, connectionCreator, wrappedEndpoint)


@implementer(IStreamClientEndpoint)
class _TLSClientEndpoint:
    """What wrapClientTLS returns: connects below with each protocol under TLS."""

    def __init__(self, tlsFactory: Any, connectionCreator: Any, wrappedEndpoint: Any) -> None:
        self._tlsFactory = tlsFactory
        self._connectionCreator = connectionCreator
        self._wrappedEndpoint = wrappedEndpoint

    def __repr__(self) -> str:
        return f"<TLS over {self._wrappedEndpoint!r}>"

    def connect(self, protocolFactory: Any) -> Deferred[Any]:
        """Connect; the Deferred fires with ``protocolFactory``'s protocol, under TLS."""
        try:
            wrapping = self._tlsFactory(self._connectionCreator, True, protocolFactory)
        except BaseException:
            return defer.fail()
        connected: Deferred[Any] = self._wrappedEndpoint.connect(wrapping)
        return connected.addCallback(lambda tlsProtocol: tlsProtocol.wrappedProtocol)


# -- the endpoint string language (torsion.internet._endpointstrings) ---------------------------


def serverFromString(reactor: Any, description: str) -> Any:
    """Return the server endpoint that ``description`` describes (``"tcp:8080"``).

    The language is described in docs/strports.md: a prefix naming the kind of
    endpoint, then arguments separated by ``:``, some of them ``name=value``;
    ``\\`` escapes a ``:``, ``=`` or ``\\`` (see ``quoteStringArgument``). Prefixes:
    tcp, tcp6, ssl, unix, systemd, stdio, and those of IStreamServerEndpointStringParser
    plugins (the ``torsion.plugins`` entry points, and ``registerParser``).

    Raises:
        ValueError: the description is bad; the message names the bad part.
    """
    from torsion.internet import _endpointstrings

    return _endpointstrings.serverFromString(reactor, description)


def clientFromString(reactor: Any, description: str) -> Any:
    """Return the client endpoint that ``description`` describes (``"tcp:example.com:80"``).

    Prefixes: tcp, tcp6, ssl, unix, tls, and those of
    IStreamClientEndpointStringParserWithReactor plugins. See ``serverFromString``.

    Raises:
        ValueError: the description is bad; the message names the bad part.
    """
    from torsion.internet import _endpointstrings

    return _endpointstrings.clientFromString(reactor, description)


def quoteStringArgument(argument: str) -> str:
    """Escape ``argument`` to be one argument of an endpoint description (``\\``, ``:``, ``=``)."""
    from torsion.internet import _endpointstrings

    return _endpointstrings.quoteStringArgument(argument)


def registerParser(parser: Any) -> None:
    """Add a string parser plugin (server, client or both) in this process.

    For plugins that an application makes itself; installed packages declare theirs
    as ``torsion.plugins`` entry points instead.

    Raises:
        TypeError: ``parser`` provides neither parser interface.
        ValueError: its prefix is a built-in one, or registered already.
    """
    from torsion.internet import _endpointstrings

    _endpointstrings.registerParser(parser)


def unregisterParser(parser: Any) -> None:
    """Remove a parser added with ``registerParser`` (nothing happens if it is not there)."""
    from torsion.internet import _endpointstrings

    _endpointstrings.unregisterParser(parser)
