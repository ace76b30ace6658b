"""startTLS: TLS under the protocol of a TCP connection that is already open.

For STARTTLS (SMTP, IMAP, XMPP). The connection's class is swapped for a subclass whose
writes, closes and producers go through a TLSMemoryBIOProtocol wrapping the
connection's protocol, and whose own clear-text methods that TLS layer writes to. The
swap keeps the protocol's ``transport`` the same object (which then provides
ISSLTransport) and costs plain connections nothing. Works on torsion's own TCP
transports and on the asyncio reactor's loop transports.
Tests: tests/internet/test_tls_peers.py.
"""

from __future__ import annotations

import types
from collections.abc import Iterable
from typing import Any

from zope.interface import implementer

from torsion.internet.defer import Deferred
from torsion.internet.interfaces import INegotiated, ISSLTransport
from torsion.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol

__all__ = ["startTLS"]


class _TLSConnectionMixin:
    """What a TCP connection's class becomes once TLS is started on it.

    Writing, closing and producers go through its protocol, which is now the
    TLSMemoryBIOProtocol wrapping the connection's original protocol.
    """

    __slots__ = ()
    protocol: TLSMemoryBIOProtocol

    def write(self, data: bytes) -> None:
        self.protocol.write(data)

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        self.protocol.writeSequence(iovec)

    def loseConnection(self) -> None:
        self.protocol.loseConnection()

    def loseWriteConnection(self) -> None:
        self.protocol.loseWriteConnection()

    def abortConnection(self) -> None:
        self.protocol.abortConnection()

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.protocol.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        self.protocol.unregisterProducer()

    def getPeerCertificate(self) -> Any:
        return self.protocol.getPeerCertificate()

    def getHandle(self) -> Any:
        return self.protocol.getHandle()

    @property
    def negotiatedProtocol(self) -> bytes | None:
        return self.protocol.negotiatedProtocol

    def whenHandshakeDone(self) -> Deferred[None]:
        return self.protocol.whenHandshakeDone()

    def startTLS(self, contextFactory: Any, normal: bool = True) -> None:
        raise RuntimeError("TLS is already started on this connection")


class _PlainTransport:
    """A TLS-started connection's own clear-text methods: the TLS layer's transport."""

    _METHODS = (
        "abortConnection",
        "getHandle",
        "loseConnection",
        "loseWriteConnection",
        "registerProducer",
        "unregisterProducer",
        "write",
        "writeSequence",
    )
    __slots__ = ("_connection", *_METHODS)

    def __init__(self, connection: Any, plainClass: type) -> None:
        self._connection = connection
        for name in self._METHODS:
            setattr(self, name, types.MethodType(getattr(plainClass, name), connection))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


_tlsClasses: dict[type, type] = {}


def _tlsClassFor(plainClass: type) -> type:
    tlsClass = _tlsClasses.get(plainClass)
    if tlsClass is None:
        tlsClass = type(
            f"TLS{plainClass.__name__}",
            (_TLSConnectionMixin, plainClass),
            {"__slots__": (), "__module__": plainClass.__module__},
        )
        tlsClass = implementer(ISSLTransport, INegotiated)(tlsClass)
        _tlsClasses[plainClass] = tlsClass
    return tlsClass


def startTLS(transport: Any, contextFactory: Any, normal: bool = True) -> None:
    """Start TLS on a live TCP ``transport``, under the protocol it already has.

    What was written before goes out in clear; from now on the transport's writes are
    encrypted and the protocol receives decrypted data. The transport takes the client
    side of the handshake if it made the connection (``normal=False`` swaps the sides).
    A registered producer moves over to the TLS layer.

    Raises:
        RuntimeError: if TLS is started already, or the connection is not open.
        TypeError, ValueError: ``contextFactory`` cannot make TLS for this side.
    """
    plainClass = type(transport)
    if isinstance(transport, _TLSConnectionMixin):
        raise RuntimeError("TLS is already started on this connection")
    if not transport.connected or transport.disconnecting or transport.disconnected:
        raise RuntimeError(
            "startTLS needs an open connection; this one is not connected or is closing"
        )
    isClient = bool(plainClass._tlsClientDefault) == bool(normal)
    factory = TLSMemoryBIOFactory(contextFactory, isClient, None)
    wrapped = transport.protocol
    tlsProtocol = TLSMemoryBIOProtocol(factory, wrapped, _connectWrapped=False)
    producer, streaming = transport.producer, transport.streamingProducer
    if producer is not None:
        transport.unregisterProducer()
    transport.__class__ = _tlsClassFor(plainClass)
    transport.protocol = tlsProtocol
    try:
        tlsProtocol.makeConnection(_PlainTransport(transport, plainClass))
    except BaseException:
        transport.__class__ = plainClass
        transport.protocol = wrapped
        raise
    if producer is not None:
        tlsProtocol.registerProducer(producer, streaming)
