"""HAProxyWrappingFactory: servers behind a proxy that sends a PROXY header see the real client.

Each connection's protocol is connected only once the header has been read, so that
from ``connectionMade`` on ``transport.getPeer()`` is the client the proxy reported
(and ``getHost()`` the address that client connected to); the header's other
contents are ``transport.proxyInfo``. A bad header, or none within
``headerTimeout`` seconds, is logged with the reason and the connection closed; the
protocol never hears of it, and the other connections carry on.
Tests: tests/protocols/test_haproxy.py.
"""

from __future__ import annotations

from typing import Any

from torsion.logger import Logger
from torsion.protocols._wrapping import ProtocolWrapper, WrappingFactory, _callLater, _cancel
from torsion.protocols.haproxy._exceptions import InvalidProxyHeader
from torsion.protocols.haproxy._info import ProxyInfo
from torsion.protocols.haproxy._reader import HeaderReader
from torsion.protocols.haproxy._v2parser import MAX_LENGTH

__all__ = ["HAProxyProtocolWrapper", "HAProxyWrappingFactory"]

_log = Logger()


class HAProxyProtocolWrapper(ProtocolWrapper):
    """Reads the PROXY header, then connects the wrapped protocol with the real addresses."""

    def __init__(self, factory: Any, wrappedProtocol: Any) -> None:
        super().__init__(factory, wrappedProtocol)
        self._reader: HeaderReader | None = HeaderReader(factory.maxHeaderLength)
        self.proxyInfo: ProxyInfo | None = None
        self._headerTimer: Any = None

    def makeConnection(self, transport: Any) -> None:
        """Take the transport; the wrapped protocol is connected once the header is in."""
        self._attach(transport)
        self.factory.registerProtocol(self)
        timeout = self.factory.headerTimeout
        if timeout is not None:
            self._headerTimer = self.factory.callLater(timeout, self._headerTimedOut)

    def dataReceived(self, data: bytes) -> None:
        """Read the header; what comes after it goes to the wrapped protocol."""
        reader = self._reader
        if reader is None:
            if self.proxyInfo is not None:
                self.wrappedProtocol.dataReceived(data)
            return  # Refused: closing.
        try:
            info, rest = reader.feed(data)
        except InvalidProxyHeader as e:
            self._refuse(str(e))
            return
        if info is None:
            return
        self._reader = None
        _cancel(self._headerTimer)
        self._headerTimer = None
        self.proxyInfo = info
        wrapped = self.wrappedProtocol
        # From now on, the transport hands data straight to the wrapped protocol.
        self.dataReceived = wrapped.dataReceived  # type: ignore[method-assign]
        wrapped.makeConnection(self)
        if rest and self.connected:
            wrapped.dataReceived(rest)

    def _refuse(self, why: str) -> None:
        self._reader = None
        _cancel(self._headerTimer)
        self._headerTimer = None
        _log.warn(
            "Closing the connection from {peer}: bad PROXY protocol header: {why}",
            peer=self.transport.getPeer(),
            why=why,
        )
        self.transport.loseConnection()

    def _headerTimedOut(self) -> None:
        self._headerTimer = None
        self._refuse(f"none arrived within {self.factory.headerTimeout} seconds")

    def readConnectionLost(self) -> None:
        """The peer half-closed: before the header is complete, that is the end."""
        if self.proxyInfo is None:
            self._refuse("the connection was half-closed before the header was complete")
            return
        self.wrappedProtocol.readConnectionLost()

    def connectionLost(self, reason: object = None) -> None:
        """Tell the wrapped protocol, if it was ever connected."""
        _cancel(self._headerTimer)
        self._headerTimer = None
        if self.proxyInfo is None:
            self.connected = False
            self.factory.unregisterProtocol(self)
            return
        super().connectionLost(reason)

    def getPeer(self) -> Any:
        """The client's address, as the proxy reported it (else the connection's)."""
        info = self.proxyInfo
        if info is not None and info.source is not None:
            return info.source
        return self.transport.getPeer()

    def getHost(self) -> Any:
        """The address the client connected to, as reported (else the connection's)."""
        info = self.proxyInfo
        if info is not None and info.destination is not None:
            return info.destination
        return self.transport.getHost()


class HAProxyWrappingFactory(WrappingFactory):
    """Wraps ``wrappedFactory`` to read a PROXY header (v1 or v2) on each connection.

    Args:
        wrappedFactory: the factory of the real protocol.
        headerTimeout: seconds a connection has to send its header (None: forever).
        maxHeaderLength: refuse v2 headers longer than this (v1 lines are at most 107
            bytes by definition).
        clock: the IReactorTime of the header timeout (the global reactor by default).
    """

    protocol = HAProxyProtocolWrapper

    def __init__(
        self,
        wrappedFactory: Any,
        headerTimeout: float | None = 30.0,
        maxHeaderLength: int = MAX_LENGTH,
        *,
        clock: Any = None,
    ) -> None:
        super().__init__(wrappedFactory)
        self.headerTimeout = headerTimeout
        self.maxHeaderLength = maxHeaderLength
        self.clock = clock

    def callLater(self, period: float, func: Any) -> Any:
        """Schedule ``func`` in ``period`` seconds (on ``clock``, or the global reactor)."""
        return _callLater(self, period, func)
