"""TLS in the reactor conformance suite: listenSSL and connectSSL over real loopback
sockets, on every reactor of the ``reactor`` fixture.

torsion is on both ends here (so each reactor's TCP transports carry TLS both as
client and as server); tests/internet/test_tls_peers.py puts openssl and Python's
ssl module on the other end, and startTLS on live connections.
"""

from __future__ import annotations

from typing import Any

import pytest
from zope.interface import implementer
from zope.interface.verify import verifyObject

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from tests.internet.tlshelpers import (
    caCertificate,
    clientCert,
    clientOptions,
    otherCA,
    privateCertificate,
    serverOptions,
)
from torsion.internet import error
from torsion.internet import ssl as tssl
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import (
    IHalfCloseableProtocol,
    IPushProducer,
    IReactorSSL,
    ISSLTransport,
)
from torsion.internet.protocol import ClientFactory, Factory, Protocol
from torsion.protocols.wire import Echo

reactor = reactormixins.reactor
loggedErrors = reactormixins.loggedErrors


class Recorder(Protocol):
    """Records data and the reason it was closed; fires ``made`` and ``lost``."""

    def __init__(self) -> None:
        self.data = b""
        self.made: Deferred[None] = Deferred()
        self.lost: Deferred[None] = Deferred()
        self.reasons: list[Any] = []

    def connectionMade(self) -> None:
        self.made.callback(None)

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Any = None) -> None:
        self.reasons.append(reason)
        self.lost.callback(None)


class Client(ClientFactory):
    """Hands out one protocol; records what the connector reports."""

    def __init__(self, protocol: Protocol) -> None:
        self.instance = protocol
        self.lostReasons: list[Any] = []
        self.failReasons: list[Any] = []

    def buildProtocol(self, addr: Any) -> Protocol:
        self.instance.factory = self
        return self.instance

    def clientConnectionLost(self, connector: Any, reason: Any) -> None:
        self.lostReasons.append(reason)

    def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
        self.failReasons.append(reason)


def servers(reactor: Any, options: Any = None, protocol: Any = Recorder) -> tuple[int, list[Any]]:
    """listenSSL on 127.0.0.1; return the port number and the list of server protocols."""
    built: list[Any] = []

    class Built(Factory):
        def buildProtocol(self, addr: Any) -> Any:
            p = protocol()
            p.factory = self
            built.append(p)
            return p

    port = reactor.listenSSL(
        0, Built(), options if options is not None else serverOptions(), interface="127.0.0.1"
    )
    return port.getHost().port, built


def connect(reactor: Any, port: int, client: Any = None, options: Any = None) -> tuple[Any, Client]:
    client = client or Recorder()
    factory = Client(client)
    reactor.connectSSL(
        "127.0.0.1", port, factory, options if options is not None else clientOptions()
    )
    return client, factory


def test_echoOverTLSWithALPNAndCertificates(reactor: Any) -> None:
    port, _ = servers(
        reactor,
        serverOptions(acceptableProtocols=[b"h2", b"http/1.1"]),
        protocol=lambda: Echo(),
    )
    client, factory = connect(reactor, port, options=clientOptions(acceptableProtocols=[b"h2"]))
    runUntilFired(reactor, client.made)
    transport = client.transport
    assert ISSLTransport.providedBy(transport)
    transport.write(b"hello ")
    transport.writeSequence([b"over ", b"TLS"])
    runUntil(reactor, lambda: client.data == b"hello over TLS")
    assert transport.negotiatedProtocol == b"h2"
    peer = transport.getPeerCertificate()
    assert peer.getIssuer() == caCertificate().getSubject()
    assert transport.getPeer().port == port
    transport.loseConnection()
    runUntilFired(reactor, client.lost)
    assert client.reasons[0].check(error.ConnectionDone)
    runUntil(reactor, lambda: factory.lostReasons)
    assert factory.lostReasons[0].check(error.ConnectionDone)


def test_serverCloseReachesTheClientAsDone(reactor: Any) -> None:
    port, built = servers(reactor)
    client, _ = connect(reactor, port)
    runUntil(reactor, lambda: built and built[0].made.called)
    server = built[0]
    runUntilFired(reactor, server.transport.whenHandshakeDone())
    assert server.transport.getPeerCertificate() is None
    server.transport.write(b"bye")
    server.transport.loseConnection()
    runUntilFired(reactor, client.lost)
    assert client.data == b"bye"
    assert client.reasons[0].check(error.ConnectionDone)
    runUntilFired(reactor, server.lost)
    assert server.reasons[0].check(error.ConnectionDone)


@implementer(IPushProducer)
class BulkSender:
    """A push producer writing ``total`` bytes in 64 KiB pieces while not paused."""

    def __init__(self, reactor: Any, transport: Any, total: int, below: Any) -> None:
        self.reactor = reactor
        self.transport = transport
        self.left = total
        self.paused = False
        self.pauses = 0
        self.below = below
        self.maxBuffered = 0
        self.sent = bytearray()
        transport.registerProducer(self, True)
        reactor.callLater(0, self._send)

    def _send(self) -> None:
        while not self.paused and self.left:
            chunk = bytes([self.left % 251]) * min(self.left, 2**16)
            self.left -= len(chunk)
            self.sent += chunk
            self.transport.write(chunk)
            self.maxBuffered = max(self.maxBuffered, self.below())
        if not self.left:
            self.transport.unregisterProducer()
            self.transport.loseConnection()

    def pauseProducing(self) -> None:
        self.paused = True
        self.pauses += 1

    def resumeProducing(self) -> None:
        self.paused = False
        self.reactor.callLater(0, self._send)

    def stopProducing(self) -> None:
        self.left = 0


def slowReader(reactor: Any) -> type[Recorder]:
    """A Recorder that stops reading after each chunk and resumes a moment later."""

    class SlowReader(Recorder):
        def dataReceived(self, data: bytes) -> None:
            super().dataReceived(data)
            self.transport.pauseProducing()
            reactor.callLater(0.001, self.transport.resumeProducing)

    return SlowReader


def spinUntil(reactor: Any, condition: Any, timeout: float = 30) -> None:
    """runUntil with short waits: the slow reader's timers must not wait out a 50 ms poll
    (a selector reactor's iterate waits its whole delay when no I/O is ready)."""
    deadline = reactor.seconds() + timeout
    while not condition():
        if reactor.seconds() > deadline:
            pytest.fail(f"condition {condition!r} not met within {timeout} seconds")
        reactor.iterate(0.001)


def _belowSize(tlsTransport: Any) -> Any:
    below = tlsTransport.transport
    return lambda: below.bufferedSize()


@pytest.mark.parametrize("direction", ["clientToServer", "serverToClient"])
def test_largeTransferWithAProducerStaysBounded(reactor: Any, direction: str) -> None:
    total = 4 * 2**20
    senders: list[BulkSender] = []

    class Sending(Recorder):
        def connectionMade(self) -> None:
            super().connectionMade()
            below = _belowSize(self.transport)
            senders.append(BulkSender(reactor, self.transport, total, below))

    if direction == "clientToServer":
        port, built = servers(reactor, protocol=slowReader(reactor))
        connect(reactor, port, client=Sending())
        spinUntil(reactor, lambda: built and built[0].lost.called)
        receiver = built[0]
    else:
        port, _ = servers(reactor, protocol=Sending)
        receiver, _ = connect(reactor, port, client=slowReader(reactor)())
        spinUntil(reactor, lambda: receiver.lost.called)
    sender = senders[0]
    assert len(receiver.data) == total
    assert receiver.data == bytes(sender.sent)
    assert receiver.reasons[0].check(error.ConnectionDone)
    assert sender.pauses > 0
    # Paused at bufferSize: what waits below stays within a few writes of it.
    assert sender.maxBuffered < 2**16 + 4 * 2**17


def test_wrongHostNameIsTheConnectionsReason(reactor: Any) -> None:
    port, built = servers(reactor)
    client, factory = connect(reactor, port, options=clientOptions("wrong.example"))
    runUntilFired(reactor, client.lost)
    reason = client.reasons[0]
    assert reason.check(error.CertificateVerificationError)
    assert "wrong.example" in str(reason.value)
    runUntil(reactor, lambda: factory.lostReasons)
    assert factory.lostReasons[0].check(error.CertificateVerificationError)
    runUntil(reactor, lambda: built and built[0].lost.called)
    assert built[0].reasons[0].check(error.SSLError)


def test_selfSignedServerIsRefusedUnlessTrusted(reactor: Any) -> None:
    key = tssl.KeyPair.generate(tssl.TYPE_EC)
    selfSigned = key.selfSignedCert(1, commonName="localhost")
    port, _ = servers(reactor, tssl.CertificateOptions(privateKey=key, certificate=selfSigned))
    refused, _ = connect(reactor, port)
    runUntilFired(reactor, refused.lost)
    assert refused.reasons[0].check(error.CertificateVerificationError)
    assert "self-signed" in str(refused.reasons[0].value)
    trusting, _ = connect(reactor, port, options=clientOptions(trustRoot=selfSigned))
    runUntilFired(reactor, trusting.made)
    d = trusting.transport.whenHandshakeDone()
    runUntilFired(reactor, d)
    assert trusting.transport.getPeerCertificate() == selfSigned


def test_untrustedIssuerIsRefused(reactor: Any) -> None:
    port, _ = servers(reactor)
    client, _ = connect(reactor, port, options=clientOptions(trustRoot=caCertificate(otherCA())))
    runUntilFired(reactor, client.lost)
    assert client.reasons[0].check(error.CertificateVerificationError)


def test_clientCertificateRequiredAndPresented(reactor: Any) -> None:
    port, built = servers(reactor, serverOptions(trustRoot=caCertificate()))
    options = clientOptions(clientCertificate=privateCertificate(clientCert()))
    client, _ = connect(reactor, port, options=options)
    runUntilFired(reactor, client.made)
    client.transport.write(b"with a certificate")
    runUntil(reactor, lambda: built and built[0].data == b"with a certificate")
    peer = built[0].transport.getPeerCertificate()
    assert peer.getSubject().commonName == "client.example"

    anonymous, _ = connect(reactor, port)
    runUntilFired(reactor, anonymous.lost)
    assert anonymous.reasons[0].check(error.SSLError)


@implementer(IHalfCloseableProtocol)
class HalfCloser(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.readLost: Deferred[None] = Deferred()

    def readConnectionLost(self) -> None:
        self.readLost.callback(None)

    def writeConnectionLost(self) -> None:
        pass


class AnswerAtEnd(HalfCloser):
    """Answers once the peer has finished sending (its close_notify), then closes."""

    def readConnectionLost(self) -> None:
        super().readConnectionLost()
        self.transport.write(b"got " + self.data)
        self.transport.loseConnection()


def test_halfCloseOverTCP(reactor: Any) -> None:
    port, built = servers(reactor, protocol=AnswerAtEnd)
    client, _ = connect(reactor, port, client=HalfCloser())
    runUntilFired(reactor, client.made)
    client.transport.write(b"question")
    client.transport.loseWriteConnection()
    runUntilFired(reactor, client.lost)
    assert client.data == b"got question"
    assert client.readLost.called
    assert client.reasons[0].check(error.ConnectionDone)
    assert built[0].reasons[0].check(error.ConnectionDone)


def test_abortConnectionIsReportedAsAborted(reactor: Any) -> None:
    port, built = servers(reactor)
    client, _ = connect(reactor, port)
    runUntilFired(reactor, client.made)
    runUntilFired(reactor, client.transport.whenHandshakeDone())
    client.transport.abortConnection()
    runUntilFired(reactor, client.lost)
    assert client.reasons[0].check(error.ConnectionAborted)
    runUntil(reactor, lambda: built and built[0].lost.called)
    assert built[0].reasons[0].check(error.ConnectionLost)
    assert not built[0].reasons[0].check(error.ConnectionDone)


def test_protocolErrorClosesOnlyItsConnection(reactor: Any, loggedErrors: list[Any]) -> None:
    class Raising(Recorder):
        def dataReceived(self, data: bytes) -> None:
            raise ValueError("bad input")

    port, _ = servers(reactor, protocol=Raising)
    first, _ = connect(reactor, port)
    runUntilFired(reactor, first.made)
    first.transport.write(b"boom")
    runUntilFired(reactor, first.lost)
    assert first.reasons[0].check(error.ConnectionLost)
    second, _ = connect(reactor, port)
    runUntilFired(reactor, second.made)
    runUntilFired(reactor, second.transport.whenHandshakeDone())
    assert any("bad input" in str(e.get("failure") and e["failure"].value) for e in loggedErrors)


def test_refusedConnectionReachesTheFactory(reactor: Any) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    _, factory = connect(reactor, free)
    runUntil(reactor, lambda: factory.failReasons)
    assert factory.failReasons[0].check(error.ConnectionRefusedError)


def test_reactorProvidesIReactorSSL(reactor: Any) -> None:
    assert verifyObject(IReactorSSL, reactor)


def test_listenSSLWithUnusableOptionsFailsAtOnce(reactor: Any) -> None:
    with pytest.raises(TypeError, match="cannot set up TLS for a server"):
        reactor.listenSSL(0, Factory.forProtocol(Echo), object(), interface="127.0.0.1")
    with pytest.raises(TypeError, match="cannot set up TLS for a client"):
        reactor.connectSSL("127.0.0.1", 1, ClientFactory(), object())
