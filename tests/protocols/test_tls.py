"""Tests for torsion.protocols.tls, in memory: two TLSMemoryBIOProtocols joined by fake
transports, with a task.Clock for the close timeout.

These pin down the layer's own behaviour deterministically: buffering before the
handshake, close_notify and half-close, what each kind of ending is reported as,
verification and handshake failures, ALPN, SNI, client certificates and producers.
Real sockets, every reactor and real peers (openssl, Python's ssl) are in
tests/internet/test_tls_reactor.py and tests/internet/test_tls_peers.py.
"""

from __future__ import annotations

import ssl
import warnings
from typing import Any

import pytest
from zope.interface import implementer
from zope.interface.verify import verifyObject

from tests.internet.tlshelpers import (
    caCertificate,
    clientCert,
    clientOptions,
    otherCA,
    privateCertificate,
    serverOptions,
    theCA,
)
from torsion.internet import error
from torsion.internet import ssl as tssl
from torsion.internet.address import IPv4Address
from torsion.internet.interfaces import (
    IConsumer,
    IHalfCloseableProtocol,
    IHandshakeListener,
    INegotiated,
    IPushProducer,
    ISSLTransport,
)
from torsion.internet.protocol import ClientFactory, Factory, Protocol
from torsion.internet.task import Clock
from torsion.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from torsion.python import log
from torsion.python.failure import Failure


class FakeTransport:
    """One end of an in-memory connection; Pair moves what it holds to the other end."""

    def __init__(self, clock: Clock) -> None:
        self.reactor = clock
        self.chunks: list[bytes] = []
        self.writes = 0
        self.writeClosed = False
        self.closing = False
        self.aborted = False
        self.producer: Any = None
        self.streaming: bool | None = None
        self.readingPaused = False

    def write(self, data: bytes) -> None:
        assert not self.writeClosed and not self.closing, "wrote after closing"
        self.chunks.append(data)
        self.writes += 1

    def loseWriteConnection(self) -> None:
        self.writeClosed = True

    def loseConnection(self) -> None:
        self.closing = True

    def abortConnection(self) -> None:
        self.aborted = True

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        assert self.producer is None
        self.producer, self.streaming = producer, streaming

    def unregisterProducer(self) -> None:
        self.producer = self.streaming = None

    def pauseProducing(self) -> None:
        self.readingPaused = True

    def resumeProducing(self) -> None:
        self.readingPaused = False

    def getPeer(self) -> IPv4Address:
        return IPv4Address("TCP", "127.0.0.1", 1)

    def getHost(self) -> IPv4Address:
        return IPv4Address("TCP", "127.0.0.1", 2)

    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


class Recorder(Protocol):
    """Records data and how the connection ended."""

    def __init__(self) -> None:
        self.data = b""
        self.made = 0
        self.reasons: list[Failure] = []

    def connectionMade(self) -> None:
        self.made += 1

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Any = None) -> None:
        self.reasons.append(reason)

    @property
    def reason(self) -> Failure:
        assert len(self.reasons) == 1, self.reasons
        return self.reasons[0]


@implementer(IHalfCloseableProtocol)
class HalfCloser(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.readLost = 0
        self.writeLost = 0

    def readConnectionLost(self) -> None:
        self.readLost += 1

    def writeConnectionLost(self) -> None:
        self.writeLost += 1


class Pair:
    """A TLS client and server joined in memory."""

    def __init__(
        self,
        serverOpts: Any = None,
        clientOpts: Any = None,
        server: Recorder | None = None,
        client: Recorder | None = None,
        connect: bool = True,
    ) -> None:
        self.clock = Clock()
        self.serverProtocol = server or Recorder()
        self.clientProtocol = client or Recorder()
        self.serverFactory = TLSMemoryBIOFactory(
            serverOpts if serverOpts is not None else serverOptions(), False, None
        )
        self.clientFactory = TLSMemoryBIOFactory(
            clientOpts if clientOpts is not None else clientOptions(), True, None
        )
        self.server = TLSMemoryBIOProtocol(self.serverFactory, self.serverProtocol)
        self.client = TLSMemoryBIOProtocol(self.clientFactory, self.clientProtocol)
        self.serverTransport = FakeTransport(self.clock)
        self.clientTransport = FakeTransport(self.clock)
        self._finDelivered: set[int] = set()
        if connect:
            self.server.makeConnection(self.serverTransport)
            self.client.makeConnection(self.clientTransport)

    def ends(self) -> list[tuple[FakeTransport, TLSMemoryBIOProtocol, TLSMemoryBIOProtocol]]:
        return [
            (self.clientTransport, self.client, self.server),
            (self.serverTransport, self.server, self.client),
        ]

    def pump(self, rounds: int = 50) -> None:
        """Move bytes (and closes) across until nothing changes."""
        for _ in range(rounds):
            moved = False
            for transport, mine, peer in self.ends():
                if transport.chunks and not peer.disconnected:
                    peer.dataReceived(transport.take())
                    moved = True
                if mine.disconnected:
                    continue
                if transport.aborted:
                    mine.connectionLost(Failure(error.ConnectionAborted()))
                    if not peer.disconnected:
                        peer.connectionLost(Failure(error.ConnectionLost("reset")))
                    moved = True
                elif (transport.closing or transport.writeClosed) and id(
                    transport
                ) not in self._finDelivered:
                    self._finDelivered.add(id(transport))
                    if not peer.disconnected:
                        peer.readConnectionLost()
                    moved = True
                if transport.closing and not mine.disconnected:
                    mine.connectionLost(Failure(error.ConnectionDone()))
                    moved = True
            if not moved:
                return
        raise AssertionError("the pair never went quiet")


# -- handshake and data ---------------------------------------------------------------


def test_handshakeThenDataBothWays() -> None:
    pair = Pair()
    pair.pump()
    assert pair.client._handshakeDone and pair.server._handshakeDone
    pair.clientProtocol.transport.write(b"ping")
    pair.serverProtocol.transport.write(b"pong")
    pair.pump()
    assert pair.serverProtocol.data == b"ping"
    assert pair.clientProtocol.data == b"pong"
    assert pair.clientProtocol.made == pair.serverProtocol.made == 1


def test_wrappedProtocolIsConnectedBeforeTheHandshake() -> None:
    pair = Pair()
    assert pair.clientProtocol.made == 1
    assert pair.clientProtocol.transport is pair.client
    assert not pair.client._handshakeDone


def test_writesBeforeTheHandshakeGoOutInOrderAfterIt() -> None:
    pair = Pair()
    transport = pair.clientProtocol.transport
    transport.write(b"one ")
    transport.writeSequence([b"two ", bytearray(b"three")])
    assert pair.clientTransport.take() != b""  # The ClientHello only.
    pair.clientTransport.chunks.clear()
    pair = Pair()
    pair.clientProtocol.transport.write(b"one ")
    pair.clientProtocol.transport.writeSequence([b"two ", bytearray(b"three")])
    pair.pump()
    assert pair.serverProtocol.data == b"one two three"


def test_writingTextIsATypeError() -> None:
    pair = Pair()
    pair.pump()
    with pytest.raises(TypeError, match="encode"):
        pair.clientProtocol.transport.write("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pair.clientProtocol.transport.writeSequence([b"ok", "text"])  # type: ignore[list-item]


def test_largeWriteIsEncryptedInPiecesAndArrivesWhole() -> None:
    pair = Pair()
    pair.pump()
    payload = bytes(range(256)) * (3 * 2**20 // 256)
    before = pair.clientTransport.writes
    pair.clientProtocol.transport.write(payload)
    assert pair.clientTransport.writes - before >= 3 * 2**20 // 2**16
    assert max(map(len, pair.clientTransport.chunks)) < 2**17
    pair.pump()
    assert pair.serverProtocol.data == payload


def test_aLargeArrivalIsDeliveredInPiecesBelowTheMmapThreshold() -> None:
    pair = Pair()
    pair.pump()
    deliveries: list[bytes] = []
    pair.serverProtocol.dataReceived = deliveries.append  # type: ignore[method-assign]
    payload = bytes(range(256)) * 4096
    pair.clientProtocol.transport.write(payload)
    pair.server.dataReceived(pair.clientTransport.take())
    assert b"".join(deliveries) == payload
    assert len(deliveries) > 1 and max(map(len, deliveries)) < 2**17


def test_oneArrivalOfManyRecordsIsOneDelivery() -> None:
    pair = Pair()
    pair.pump()
    deliveries: list[bytes] = []
    pair.serverProtocol.dataReceived = deliveries.append  # type: ignore[method-assign]
    for i in range(20):
        pair.clientProtocol.transport.write(b"record %d;" % i)
    pair.pump()
    assert len(deliveries) == 1
    assert deliveries[0] == b"".join(b"record %d;" % i for i in range(20))


def test_transportProvidesTheTLSInterfaces() -> None:
    pair = Pair()
    pair.pump()
    transport = pair.client
    for interface in (ISSLTransport, INegotiated, IConsumer, IPushProducer):
        assert verifyObject(interface, transport)
    assert transport.getPeer() == IPv4Address("TCP", "127.0.0.1", 1)
    assert transport.getHost() == IPv4Address("TCP", "127.0.0.1", 2)
    assert isinstance(transport.getHandle(), ssl.SSLObject)
    assert transport.getHandle().version() == "TLSv1.3"


def test_logPrefixNamesTheWrappedProtocol() -> None:
    pair = Pair()
    assert pair.client.logPrefix() == "Recorder (TLSMemoryBIOProtocol)"


def test_peerCertificateIsTheServersOnTheClient() -> None:
    pair = Pair()
    assert pair.client.getPeerCertificate() is None  # Not before the handshake.
    pair.pump()
    certificate = pair.client.getPeerCertificate()
    assert isinstance(certificate, tssl.Certificate)
    assert certificate.getIssuer() == caCertificate().getSubject()
    assert pair.server.getPeerCertificate() is None  # The client sent none.


def test_handshakeListenerAndDeferredHearOfTheHandshake() -> None:
    @implementer(IHandshakeListener)
    class Listener(Recorder):
        completed = 0

        def handshakeCompleted(self) -> None:
            self.completed += 1
            assert self.transport.getPeerCertificate() is not None

    pair = Pair(client=Listener())
    done: list[object] = []
    pair.client.whenHandshakeDone().addCallback(done.append)
    pair.pump()
    assert pair.clientProtocol.completed == 1  # type: ignore[attr-defined]
    assert done == [None]
    late: list[object] = []
    pair.client.whenHandshakeDone().addCallback(late.append)
    assert late == [None]


# -- closing ----------------------------------------------------------------------------


def test_loseConnectionSendsCloseNotifyAndBothSeeADoneConnection() -> None:
    pair = Pair()
    pair.pump()
    pair.clientProtocol.transport.write(b"last words")
    pair.clientProtocol.transport.loseConnection()
    # close_notify goes out after the data, then TCP is half-closed, not yet closed.
    assert pair.clientTransport.writeClosed and not pair.clientTransport.closing
    pair.pump()
    assert pair.serverProtocol.data == b"last words"
    assert pair.serverProtocol.reason.check(error.ConnectionDone)
    assert pair.clientProtocol.reason.check(error.ConnectionDone)


def test_closeWaitsForTheHandshake() -> None:
    pair = Pair()
    pair.clientProtocol.transport.write(b"early")
    pair.clientProtocol.transport.loseConnection()
    pair.pump()
    assert pair.serverProtocol.data == b"early"
    assert pair.clientProtocol.reason.check(error.ConnectionDone)
    assert pair.serverProtocol.reason.check(error.ConnectionDone)


def test_writesAfterCloseNotifyAreDropped() -> None:
    pair = Pair()
    pair.pump()
    pair.clientProtocol.transport.loseConnection()
    pair.clientProtocol.transport.write(b"too late")
    pair.pump()
    assert pair.serverProtocol.data == b""


def test_peerThatNeverAnswersCloseNotifyIsClosedAfterTheTimeout() -> None:
    pair = Pair()
    pair.pump()
    pair.clientProtocol.transport.loseConnection()
    pair.clientTransport.take()  # The close_notify is lost on the way.
    assert not pair.clientTransport.closing
    pair.clock.advance(TLSMemoryBIOProtocol.closeTimeout)
    assert pair.clientTransport.closing
    pair.pump()
    assert pair.clientProtocol.reason.check(error.ConnectionDone)


def test_peerCloseNotifyIsAnsweredAndClosesANonHalfCloseableProtocol() -> None:
    pair = Pair()
    pair.pump()
    pair.serverProtocol.transport.loseConnection()
    pair.pump()
    assert pair.clientProtocol.reason.check(error.ConnectionDone)
    assert pair.serverProtocol.reason.check(error.ConnectionDone)


def test_halfCloseSendsCloseNotifyAndKeepsReading() -> None:
    pair = Pair(client=HalfCloser(), server=HalfCloser())
    pair.pump()
    client, server = pair.clientProtocol, pair.serverProtocol
    client.transport.write(b"request")
    client.transport.loseWriteConnection()
    pair.pump()
    assert client.writeLost == 1  # type: ignore[attr-defined]
    assert server.readLost == 1  # type: ignore[attr-defined]
    assert server.data == b"request"
    assert not client.reasons and not server.reasons
    server.transport.write(b"response")
    server.transport.loseConnection()
    pair.pump()
    assert client.data == b"response"
    assert client.readLost == 1  # type: ignore[attr-defined]
    assert client.reason.check(error.ConnectionDone)
    assert server.reason.check(error.ConnectionDone)


def test_abortConnectionAbortsBelowWithoutCloseNotify() -> None:
    pair = Pair()
    pair.pump()
    pair.clientProtocol.transport.abortConnection()
    assert pair.clientTransport.aborted and not pair.clientTransport.chunks
    pair.pump()
    assert pair.clientProtocol.reason.check(error.ConnectionAborted)
    assert pair.serverProtocol.reason.check(error.ConnectionLost)


def test_tcpCloseWithoutCloseNotifyIsConnectionLost() -> None:
    pair = Pair()
    pair.pump()
    pair.clientProtocol.transport.write(b"partial")
    pair.pump()
    pair.server.readConnectionLost()  # TCP FIN, no close_notify.
    assert pair.serverTransport.closing
    pair.server.connectionLost(Failure(error.ConnectionDone()))
    reason = pair.serverProtocol.reason
    assert reason.check(error.ConnectionLost) and not reason.check(error.ConnectionDone)
    assert "close_notify" in str(reason.value)


def test_tcpClosedInTheMiddleOfARecordIsConnectionLost() -> None:
    pair = Pair()
    pair.pump()
    pair.clientProtocol.transport.write(b"x" * 5000)
    record = pair.clientTransport.take()
    pair.server.dataReceived(record[: len(record) // 2])
    assert pair.serverProtocol.data == b""
    pair.server.connectionLost(Failure(error.ConnectionDone()))
    reason = pair.serverProtocol.reason
    assert reason.check(error.ConnectionLost) and not reason.check(error.ConnectionDone)
    assert "close_notify" in str(reason.value)


def test_tcpClosedDuringTheHandshakeIsAnSSLError() -> None:
    pair = Pair()
    pair.client.connectionLost(Failure(error.ConnectionDone()))
    assert pair.clientProtocol.reason.check(error.SSLError)
    assert "before the handshake completed" in str(pair.clientProtocol.reason.value)


def test_handshakeThatNeverCompletesTimesOut() -> None:
    pair = Pair(connect=False)
    pair.server.makeConnection(pair.serverTransport)  # No client ever speaks.
    pair.clock.advance(TLSMemoryBIOProtocol.handshakeTimeout - 1)
    assert not pair.serverTransport.aborted
    pair.clock.advance(1)
    assert pair.serverTransport.aborted
    pair.server.connectionLost(Failure(error.ConnectionAborted()))
    reason = pair.serverProtocol.reason
    assert reason.check(error.SSLError) and "did not complete it within 60" in str(reason.value)


def test_completedHandshakeLeavesNoTimerBehind() -> None:
    pair = Pair()
    pair.pump()
    assert pair.clock.getDelayedCalls() == []


def test_connectionLostAfterLoseConnectionIsDoneEvenWithoutTheAnswer() -> None:
    pair = Pair()
    pair.pump()
    pair.clientProtocol.transport.loseConnection()
    pair.client.connectionLost(Failure(error.ConnectionDone()))
    assert pair.clientProtocol.reason.check(error.ConnectionDone)


# -- failures -----------------------------------------------------------------------------


def test_garbageInsteadOfAHandshakeIsAnSSLError() -> None:
    pair = Pair()
    pair.server.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert pair.serverTransport.closing
    pair.server.connectionLost(Failure(error.ConnectionDone()))
    reason = pair.serverProtocol.reason
    assert reason.check(error.SSLError)
    assert "does not seem to speak TLS" in str(reason.value)
    assert isinstance(reason.value.sslError, ssl.SSLError)


def test_wrongHostNameIsRefusedAsTheConnectionsReason() -> None:
    pair = Pair(clientOpts=clientOptions("wrong.example"))
    failed: list[Failure] = []
    pair.client.whenHandshakeDone().addErrback(failed.append)
    pair.pump()
    reason = pair.clientProtocol.reason
    assert reason.check(error.CertificateVerificationError)
    assert "wrong.example" in reason.value.verifyMessage
    assert "connect with a name it is for" in str(reason.value)
    assert failed and failed[0].check(error.CertificateVerificationError)
    # The server hears of it as the client's alert.
    assert pair.serverProtocol.reason.check(error.SSLError)


def test_untrustedIssuerIsRefused() -> None:
    pair = Pair(clientOpts=clientOptions(trustRoot=caCertificate(otherCA())))
    pair.pump()
    reason = pair.clientProtocol.reason
    assert reason.check(error.CertificateVerificationError)
    assert "trustRoot" in str(reason.value)


def test_selfSignedIsRefusedUnlessTrusted() -> None:
    key = tssl.KeyPair.generate(tssl.TYPE_EC)
    selfSigned = key.selfSignedCert(1, commonName="localhost")
    options = tssl.CertificateOptions(privateKey=key, certificate=selfSigned)
    pair = Pair(serverOpts=options)
    pair.pump()
    reason = pair.clientProtocol.reason
    assert reason.check(error.CertificateVerificationError)
    assert reason.value.verifyCode == 18  # X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
    trusted = Pair(serverOpts=options, clientOpts=clientOptions(trustRoot=selfSigned))
    trusted.pump()
    assert trusted.client._handshakeDone and not trusted.clientProtocol.reasons


def test_olderTLSThanTheMinimumIsRefused() -> None:
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Deprecated: that is the point.
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    pair = Pair(clientOpts=old)
    pair.pump()
    reason = pair.serverProtocol.reason
    assert reason.check(error.SSLError)
    assert "TLS 1.2 or later" in str(reason.value)
    assert pair.clientProtocol.reason.check(error.SSLError)


def test_raiseMinimumToTLS13RefusesATLS12Client() -> None:
    tls12 = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tls12.check_hostname = False
    tls12.verify_mode = ssl.CERT_NONE
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    pair = Pair(serverOpts=serverOptions(raiseMinimumTo=tssl.TLSVersion.TLSv1_3), clientOpts=tls12)
    pair.pump()
    assert pair.serverProtocol.reason.check(error.SSLError)


def test_dataAfterAFailureIsIgnored() -> None:
    pair = Pair()
    pair.server.dataReceived(b"\x16\x03\x01\x00\x05hello")
    assert pair.serverTransport.closing
    pair.server.dataReceived(b"more")  # Nothing raised, nothing delivered.
    assert pair.serverProtocol.data == b""


def test_corruptedRecordAfterTheHandshakeIsAnSSLError() -> None:
    pair = Pair()
    pair.pump()
    pair.clientProtocol.transport.write(b"payload")
    record = bytearray(pair.clientTransport.take())
    record[-1] ^= 0xFF
    pair.server.dataReceived(bytes(record))
    pair.pump()
    reason = pair.serverProtocol.reason
    assert reason.check(error.SSLError) and "TLS failed" in str(reason.value)


# -- ALPN, SNI, client certificates -------------------------------------------------------


def test_alpnChoosesTheServersPreference() -> None:
    pair = Pair(
        serverOpts=serverOptions(acceptableProtocols=[b"h2", b"http/1.1"]),
        clientOpts=clientOptions(acceptableProtocols=[b"http/1.1", b"h2"]),
    )
    assert pair.client.negotiatedProtocol is None
    pair.pump()
    assert pair.client.negotiatedProtocol == pair.server.negotiatedProtocol == b"h2"


def test_alpnWithNothingInCommonNegotiatesNothing() -> None:
    pair = Pair(
        serverOpts=serverOptions(acceptableProtocols=["h2"]),
        clientOpts=clientOptions(acceptableProtocols=[b"spdy/3"]),
    )
    pair.pump()
    assert pair.client._handshakeDone
    assert pair.client.negotiatedProtocol is None


def _namedOptions(name: str) -> tssl.CertificateOptions:
    leaf = theCA().issue_cert(name)
    return tssl.CertificateOptions(
        privateKey=leaf.private_key_pem.bytes(), certificate=leaf.cert_chain_pems[0].bytes()
    )


@pytest.mark.parametrize(
    ("asked", "found"),
    [("a.example", "a.example"), ("www.b.example", "*.b.example"), ("localhost", "localhost")],
)
def test_sniChoosesTheCertificateForTheName(asked: str, found: str) -> None:
    byName = {"a.example": _namedOptions("a.example"), "*.b.example": _namedOptions("*.b.example")}
    pair = Pair(serverOpts=serverOptions(perHostOptions=byName), clientOpts=clientOptions(asked))
    pair.pump()
    assert not pair.clientProtocol.reasons, pair.clientProtocol.reasons
    peer = pair.client.getPeerCertificate()
    assert found in peer._label()


def test_sniChoiceBringsItsOwnALPNProtocols() -> None:
    leaf = theCA().issue_cert("a.example")
    named = tssl.CertificateOptions(
        privateKey=leaf.private_key_pem.bytes(),
        certificate=leaf.cert_chain_pems[0].bytes(),
        acceptableProtocols=[b"http/1.1"],
    )
    server = serverOptions(acceptableProtocols=[b"h2"], perHostOptions={"a.example": named})
    client = clientOptions("a.example", acceptableProtocols=[b"h2", b"http/1.1"])
    pair = Pair(serverOpts=server, clientOpts=client)
    pair.pump()
    assert pair.client.negotiatedProtocol == b"http/1.1"


def test_sniCallbackChoosesTheCertificate() -> None:
    asked: list[str] = []

    def choose(name: str) -> tssl.CertificateOptions | None:
        asked.append(name)
        return _namedOptions("c.example") if name == "c.example" else None

    pair = Pair(
        serverOpts=serverOptions(perHostOptions=choose), clientOpts=clientOptions("c.example")
    )
    pair.pump()
    assert asked == ["c.example"]
    assert pair.client._handshakeDone and not pair.clientProtocol.reasons


def test_sniCallbackThatRaisesFailsTheHandshakeAndIsLogged() -> None:
    def choose(name: str) -> tssl.CertificateOptions | None:
        raise RuntimeError("no database")

    errors: list[dict[str, Any]] = []
    log.addObserver(errors.append)
    try:
        pair = Pair(serverOpts=serverOptions(perHostOptions=choose))
        pair.pump()
    finally:
        log.removeObserver(errors.append)
    assert pair.serverProtocol.reason.check(error.SSLError)
    assert pair.clientProtocol.reason.check(error.SSLError)
    logged = [e for e in errors if e.get("isError")]
    assert logged and "server name 'localhost'" in logged[0]["why"]


def test_clientCertificateRequiredAndGiven() -> None:
    server = serverOptions(trustRoot=caCertificate())
    client = clientOptions(clientCertificate=privateCertificate(clientCert()))
    pair = Pair(serverOpts=server, clientOpts=client)
    pair.pump()
    pair.clientProtocol.transport.write(b"hi")
    pair.pump()
    assert pair.serverProtocol.data == b"hi"
    peer = pair.server.getPeerCertificate()
    assert peer is not None and peer.getSubject().commonName == "client.example"


def test_clientCertificateRequiredButMissingFailsBothSides() -> None:
    pair = Pair(serverOpts=serverOptions(trustRoot=caCertificate()))
    pair.pump()
    pair.clientProtocol.transport.write(b"hi")
    pair.pump()
    assert pair.serverProtocol.data == b""
    assert pair.serverProtocol.reason.check(error.SSLError)
    client = pair.clientProtocol.reason
    assert client.check(error.SSLError)
    assert "client certificate" in str(client.value)


def test_clientCertificateOptionalMayBeMissing() -> None:
    pair = Pair(serverOpts=serverOptions(trustRoot=caCertificate(), requireCertificate=False))
    pair.pump()
    pair.clientProtocol.transport.write(b"hi")
    pair.pump()
    assert pair.serverProtocol.data == b"hi"
    assert pair.server.getPeerCertificate() is None


def test_clientCertificateFromAnUntrustedIssuerIsRefused() -> None:
    stranger = otherCA().issue_cert("client.example")
    pair = Pair(
        serverOpts=serverOptions(trustRoot=caCertificate()),
        clientOpts=clientOptions(clientCertificate=privateCertificate(stranger)),
    )
    pair.pump()
    assert pair.serverProtocol.reason.check(error.CertificateVerificationError)


# -- producers ------------------------------------------------------------------------------


@implementer(IPushProducer)
class PushProducer:
    def __init__(self) -> None:
        self.events: list[str] = []

    def pauseProducing(self) -> None:
        self.events.append("pause")

    def resumeProducing(self) -> None:
        self.events.append("resume")

    def stopProducing(self) -> None:
        self.events.append("stop")


def test_pushProducerIsPacedByTheTransportBelow() -> None:
    pair = Pair()
    pair.pump()
    producer = PushProducer()
    pair.client.registerProducer(producer, True)
    below = pair.clientTransport.producer
    assert below is not None and pair.clientTransport.streaming is True
    below.pauseProducing()
    below.pauseProducing()
    below.resumeProducing()
    assert producer.events == ["pause", "resume"]
    with pytest.raises(RuntimeError, match="never unregistered"):
        pair.client.registerProducer(PushProducer(), True)
    pair.client.unregisterProducer()
    assert pair.clientTransport.producer is None


def test_pushProducerIsPausedWhileTooMuchWaitsForTheHandshake() -> None:
    pair = Pair()
    producer = PushProducer()
    pair.client.registerProducer(producer, True)
    pair.client.write(b"x" * (TLSMemoryBIOProtocol.bufferSize + 1))
    assert producer.events == ["pause"]
    pair.pump()
    assert producer.events == ["pause", "resume"]
    assert len(pair.serverProtocol.data) == TLSMemoryBIOProtocol.bufferSize + 1


def test_pullProducerDelaysCloseNotifyUntilUnregistered() -> None:
    pair = Pair()
    pair.pump()

    class Pull:
        def resumeProducing(self) -> None:
            pair.client.write(b"chunk")

        def stopProducing(self) -> None:
            pass

    pair.client.registerProducer(Pull(), False)
    pair.clientTransport.producer.resumeProducing()
    pair.client.loseConnection()
    assert not pair.clientTransport.writeClosed
    pair.client.unregisterProducer()
    assert pair.clientTransport.writeClosed
    pair.pump()
    assert pair.serverProtocol.data == b"chunk"
    assert pair.clientProtocol.reason.check(error.ConnectionDone)


def test_producerIsStoppedWhenTheConnectionIsLost() -> None:
    pair = Pair()
    pair.pump()
    producer = PushProducer()
    pair.client.registerProducer(producer, True)
    pair.client.connectionLost(Failure(error.ConnectionLost()))
    assert producer.events == ["stop"]
    late = PushProducer()
    pair.client.registerProducer(late, True)
    assert late.events == ["stop"]


def test_pausingTheTLSTransportPausesReadingBelow() -> None:
    pair = Pair()
    pair.client.pauseProducing()
    assert pair.clientTransport.readingPaused
    pair.client.resumeProducing()
    assert not pair.clientTransport.readingPaused


# -- the factory and what it accepts --------------------------------------------------------


def test_factoryWrapsTheProtocolsOfAnyFactory() -> None:
    wrapped = Factory.forProtocol(Recorder)
    factory = TLSMemoryBIOFactory(serverOptions(), False, wrapped)
    protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 5))
    assert isinstance(protocol, TLSMemoryBIOProtocol)
    assert isinstance(protocol.wrappedProtocol, Recorder)
    assert protocol.wrappedProtocol.factory is wrapped
    assert factory.logPrefix() == "Factory (TLS)"
    factory.doStart()
    assert wrapped.numPorts == 1
    factory.doStop()
    assert wrapped.numPorts == 0


def test_factoryRefusesWhenTheWrappedFactoryRefuses() -> None:
    class Refusing(Factory):
        def buildProtocol(self, addr: Any) -> None:
            return None

    assert TLSMemoryBIOFactory(serverOptions(), False, Refusing()).buildProtocol(None) is None


def test_clientFactoryHearsTheTLSReasonOfTheLoss() -> None:
    class Client(ClientFactory):
        reasons: list[Failure] = []

        def clientConnectionLost(self, connector: Any, reason: Failure) -> None:
            self.reasons.append(reason)

    wrapped = Client()
    factory = TLSMemoryBIOFactory(clientOptions("wrong.example"), True, wrapped)
    pair = Pair(clientOpts=clientOptions("wrong.example"))
    pair.pump()

    class Connector:
        transport = type("T", (), {"protocol": pair.client})()

    factory.clientConnectionLost(Connector(), Failure(error.ConnectionDone()))
    assert wrapped.reasons[0].check(error.CertificateVerificationError)


def test_anSSLContextIsAcceptedAsTheOptions() -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    theCA().configure_trust(context)
    context.check_hostname = False
    pair = Pair(clientOpts=context)
    pair.pump()
    assert pair.client._handshakeDone


def test_aClientContextThatChecksHostNamesNeedsOptionsForClientTLS() -> None:
    context = ssl.create_default_context()
    with pytest.raises(ValueError, match="optionsForClientTLS"):
        TLSMemoryBIOFactory(context, True, None)


def test_aContextForTheWrongSideIsRefused() -> None:
    with pytest.raises(ValueError, match="for servers"):
        TLSMemoryBIOFactory(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), True, None)
    with pytest.raises(ValueError, match="for clients"):
        TLSMemoryBIOFactory(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), False, None)


def test_somethingThatMakesNoTLSIsATypeError() -> None:
    with pytest.raises(TypeError, match="cannot set up TLS for a server"):
        TLSMemoryBIOFactory(object(), False, None)

    class PyOpenSSLStyle:
        def getContext(self) -> object:
            return object()

    with pytest.raises(TypeError, match=r"needs an ssl\.SSLContext"):
        TLSMemoryBIOFactory(PyOpenSSLStyle(), False, None)


def test_oldStyleContextFactoryWorks() -> None:
    class OldStyle:
        def getContext(self) -> ssl.SSLContext:
            return serverOptions().getContext()

    pair = Pair(serverOpts=OldStyle())
    pair.pump()
    assert pair.client._handshakeDone
