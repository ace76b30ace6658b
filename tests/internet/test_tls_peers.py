"""TLS against real peers, on every reactor: openssl s_server and s_client, and Python's
ssl module in a thread; and startTLS on live TCP connections (a STARTTLS exchange).

The peers check what torsion cannot check about itself: that its certificates verify
in another implementation, that its close is a real close_notify, that a peer's
truncation (also in the middle of a record) is not taken for a clean close, and that
old TLS versions are refused. openssl runs as a subprocess, Python's peers in a thread
with blocking sockets; every wait is bounded.
"""

from __future__ import annotations

import socket
import ssl
import warnings
from pathlib import Path
from typing import Any

import pytest
from zope.interface.verify import verifyObject

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from tests.internet.test_tls_reactor import Client, Recorder, connect, servers
from tests.internet.tlshelpers import (
    OPENSSL,
    Child,
    PeerThread,
    clientOptions,
    listeningSocket,
    needsOpenSSL,
    pythonClientContext,
    pythonServerContext,
    recvAll,
    serverOptions,
    writeFiles,
)
from torsion.internet import error
from torsion.internet.interfaces import ISSLTransport
from torsion.internet.protocol import Factory
from torsion.protocols.basic import LineReceiver

reactor = reactormixins.reactor


class Shouter(Recorder):
    """Answers each chunk in capitals; closes (with close_notify) on "bye"."""

    def dataReceived(self, data: bytes) -> None:
        super().dataReceived(data)
        self.transport.write(data.upper())
        if b"bye" in self.data:
            self.transport.loseConnection()


# -- openssl --------------------------------------------------------------------------


@needsOpenSSL
def test_opensslClientVerifiesTheServerAndSeesItsClose(reactor: Any, tmp_path: Path) -> None:
    files = writeFiles(tmp_path)
    port, built = servers(reactor, serverOptions(acceptableProtocols=[b"h2"]), protocol=Shouter)
    assert OPENSSL is not None
    client = Child(
        [
            OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
            "-verify_hostname", "localhost", "-CAfile", str(files["ca"]),
            "-verify_return_error", "-alpn", "h2", "-quiet", "-no_ign_eof",
        ],
        tmp_path,
    )  # fmt: skip
    try:
        runUntil(reactor, lambda: built and built[0].made.called, timeout=10)
        runUntilFired(reactor, built[0].transport.whenHandshakeDone(), timeout=10)
        assert built[0].transport.negotiatedProtocol == b"h2"
        assert client.process.stdin is not None
        client.process.stdin.write(b"hello openssl\n")
        client.process.stdin.flush()
        runUntil(reactor, lambda: b"hello" in built[0].data, timeout=10)
        runUntil(reactor, lambda: client.seen(lambda out: b"HELLO OPENSSL" in out), timeout=10)
        client.process.stdin.write(b"bye\n")
        client.process.stdin.flush()
        runUntilFired(reactor, built[0].lost, timeout=10)
    finally:
        status = client.finish()
    assert built[0].reasons[0].check(error.ConnectionDone)
    assert status == 0, client.output


@needsOpenSSL
def test_opensslServerIsVerifiedAndTalkedTo(reactor: Any, tmp_path: Path) -> None:
    files = writeFiles(tmp_path)
    assert OPENSSL is not None
    server = Child(
        [
            OPENSSL, "s_server", "-accept", "127.0.0.1:0", "-cert", str(files["server"]),
            "-naccept", "1", "-alpn", "http/1.1",
        ],
        tmp_path,
    )  # fmt: skip
    try:
        out = server.waitFor(lambda out: b"ACCEPT" in out and out.endswith(b"\n"))
        port = int(out.split(b"ACCEPT 127.0.0.1:")[1].split()[0])
        client, _ = connect(reactor, port, options=clientOptions(acceptableProtocols=[b"http/1.1"]))
        runUntilFired(reactor, client.made)
        runUntilFired(reactor, client.transport.whenHandshakeDone(), timeout=10)
        assert client.transport.negotiatedProtocol == b"http/1.1"
        client.transport.write(b"from torsion\n")
        runUntil(reactor, lambda: server.seen(lambda out: b"from torsion" in out), timeout=10)
        assert server.process.stdin is not None
        server.process.stdin.write(b"from openssl\n")
        server.process.stdin.flush()
        runUntil(reactor, lambda: b"from openssl" in client.data, timeout=10)
        client.transport.loseConnection()
        runUntilFired(reactor, client.lost, timeout=10)
    finally:
        server.finish()
    assert client.reasons[0].check(error.ConnectionDone)
    assert b"CONNECTION CLOSED" in server.output or b"DONE" in server.output, server.output


@needsOpenSSL
def test_opensslServerWithAnUntrustedCertificateIsRefused(reactor: Any, tmp_path: Path) -> None:
    files = writeFiles(tmp_path)
    assert OPENSSL is not None
    server = Child(
        [OPENSSL, "s_server", "-accept", "127.0.0.1:0", "-cert", str(files["server"]),
         "-naccept", "1"],
        tmp_path,
    )  # fmt: skip
    try:
        out = server.waitFor(lambda out: b"ACCEPT" in out and out.endswith(b"\n"))
        port = int(out.split(b"ACCEPT 127.0.0.1:")[1].split()[0])
        # The system's store does not know the test CA.
        from torsion.internet import ssl as tssl

        client, _ = connect(reactor, port, options=tssl.optionsForClientTLS("localhost"))
        runUntilFired(reactor, client.lost, timeout=10)
    finally:
        server.kill()
    assert client.reasons[0].check(error.CertificateVerificationError)


@needsOpenSSL
def test_opensslTLS11ClientIsRefused(reactor: Any, tmp_path: Path) -> None:
    assert OPENSSL is not None
    port, built = servers(reactor)
    client = Child(
        [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_1",
         "-cipher", "DEFAULT@SECLEVEL=0", "-quiet"],
        tmp_path,
    )  # fmt: skip
    try:
        runUntil(reactor, lambda: built and built[0].lost.called, timeout=10)
    finally:
        status = client.finish()
    reason = built[0].reasons[0]
    assert reason.check(error.SSLError), reason
    assert "TLS 1.2 or later" in str(reason.value)
    assert status != 0


# -- Python's ssl module -------------------------------------------------------------


def test_pythonClientSeesARealCloseNotify(reactor: Any) -> None:
    port, built = servers(reactor, protocol=Shouter)

    def peer() -> tuple[bytes, bytes]:
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        with pythonClientContext().wrap_socket(
            raw, server_hostname="localhost", suppress_ragged_eofs=False
        ) as tls:
            tls.sendall(b"say bye")
            answer = recvAll(tls, lambda data: False)  # b"" only on close_notify.
            return answer, tls.version() or ""

    thread = PeerThread(peer)
    runUntil(reactor, thread.done, timeout=10)
    answer, version = thread.join()
    assert answer == b"SAY BYE"
    assert version == "TLSv1.3"
    runUntil(reactor, lambda: built and built[0].lost.called)
    assert built[0].reasons[0].check(error.ConnectionDone)


def test_pythonClientOfferingOnlyTLS11IsRefused(reactor: Any) -> None:
    port, built = servers(reactor)

    def peer() -> BaseException | None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            context.wrap_socket(raw).close()
        except (ssl.SSLError, OSError) as e:
            return e
        finally:
            raw.close()
        return None

    thread = PeerThread(peer)
    runUntil(reactor, lambda: thread.done() and built and built[0].lost.called, timeout=10)
    assert isinstance(thread.join(), ssl.SSLError)
    assert built[0].reasons[0].check(error.SSLError)


def _serveOnePythonTLS(listener: socket.socket, script: Any) -> Any:
    """Accept one connection, do the TLS handshake over memory BIOs, run ``script``."""
    conn, _ = listener.accept()
    with conn:
        conn.settimeout(10)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = pythonServerContext().wrap_bio(incoming, outgoing, server_side=True)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                conn.sendall(outgoing.read())
                data = conn.recv(65536)
                if not data:
                    raise ConnectionError("the client left during the handshake") from None
                incoming.write(data)
        conn.sendall(outgoing.read())
        return script(conn, tls, outgoing)


@pytest.mark.parametrize("cut", ["midRecord", "atRecordEnd"])
def test_pythonServerClosingWithoutCloseNotifyIsConnectionLost(reactor: Any, cut: str) -> None:
    def script(conn: socket.socket, tls: ssl.SSLObject, outgoing: ssl.MemoryBIO) -> None:
        tls.write(b"complete record")
        conn.sendall(outgoing.read())
        tls.write(b"y" * 10000)
        record = outgoing.read()
        conn.sendall(record[: len(record) // 2] if cut == "midRecord" else record)
        conn.shutdown(socket.SHUT_WR)  # A TCP FIN, and no close_notify.

    with listeningSocket() as listener:
        thread = PeerThread(_serveOnePythonTLS, listener, script)
        client, factory = connect(reactor, listener.getsockname()[1])
        runUntilFired(reactor, client.lost, timeout=10)
        thread.join()
    reason = client.reasons[0]
    assert reason.check(error.ConnectionLost) and not reason.check(error.ConnectionDone), reason
    assert "close_notify" in str(reason.value)
    expected = b"complete record" + (b"y" * 10000 if cut == "atRecordEnd" else b"")
    assert client.data == expected
    runUntil(reactor, lambda: factory.lostReasons)
    assert not factory.lostReasons[0].check(error.ConnectionDone)


def test_pythonServerHandshakeAlertIsTheConnectionsReason(reactor: Any) -> None:
    with listeningSocket() as listener:

        def peer() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(10)
                context = pythonServerContext()
                context.set_alpn_protocols(["h2"])
                context.minimum_version = ssl.TLSVersion.TLSv1_3
                try:
                    context.wrap_socket(conn, server_side=True).close()
                except ssl.SSLError:
                    pass

        thread = PeerThread(peer)
        options = clientOptions(
            extraCertificateOptions={"lowerMaximumSecurityTo": ssl.TLSVersion.TLSv1_2}
        )
        client, _ = connect(reactor, listener.getsockname()[1], options=options)
        runUntilFired(reactor, client.lost, timeout=10)
        thread.join()
    reason = client.reasons[0]
    assert reason.check(error.SSLError)
    assert "handshake failed" in str(reason.value)


# -- startTLS ----------------------------------------------------------------------------


class StartTLSServer(LineReceiver):
    """Clear-text lines until STARTTLS; then the same protocol, encrypted."""

    delimiter = b"\n"

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.reasons: list[Any] = []

    def lineReceived(self, line: bytes) -> None:
        self.lines.append(line)
        if line == b"STARTTLS":
            self.sendLine(b"GO AHEAD")  # Written in clear, before TLS starts.
            self.transport.startTLS(serverOptions())
        elif line == b"QUIT":
            self.sendLine(b"BYE " + str(ISSLTransport.providedBy(self.transport)).encode())
            self.transport.loseConnection()
        else:
            self.sendLine(b"ECHO " + line)

    def connectionLost(self, reason: Any = None) -> None:
        self.reasons.append(reason)


def test_startTLSOnTheServerSideWithAPythonClient(reactor: Any) -> None:
    built: list[StartTLSServer] = []

    class Built(Factory):
        def buildProtocol(self, addr: Any) -> StartTLSServer:
            built.append(StartTLSServer())
            return built[-1]

    port = reactor.listenTCP(0, Built(), interface="127.0.0.1").getHost().port

    def peer() -> tuple[bytes, bytes, bytes]:
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        raw.sendall(b"hello\nSTARTTLS\n")
        clear = recvAll(raw, lambda data: data.endswith(b"GO AHEAD\n"))
        with pythonClientContext().wrap_socket(
            raw, server_hostname="localhost", suppress_ragged_eofs=False
        ) as tls:
            tls.sendall(b"secret\n")
            echoed = recvAll(tls, lambda data: data.endswith(b"\n"))
            tls.sendall(b"QUIT\n")
            rest = recvAll(tls, lambda data: False)
        return clear, echoed, rest

    thread = PeerThread(peer)
    runUntil(reactor, thread.done, timeout=10)
    clear, echoed, rest = thread.join()
    assert clear == b"ECHO hello\nGO AHEAD\n"
    assert echoed == b"ECHO secret\n"
    assert rest == b"BYE True\n"
    runUntil(reactor, lambda: built[0].reasons)
    assert built[0].lines == [b"hello", b"STARTTLS", b"secret", b"QUIT"]
    assert built[0].reasons[0].check(error.ConnectionDone)


def test_startTLSOverAUNIXSocket(reactor: Any, tmp_path: Path) -> None:
    built: list[StartTLSServer] = []

    class Built(Factory):
        def buildProtocol(self, addr: Any) -> StartTLSServer:
            built.append(StartTLSServer())
            return built[-1]

    path = str(tmp_path / "starttls.sock")
    reactor.listenUNIX(path, Built())

    def peer() -> tuple[bytes, bytes]:
        raw = socket.socket(socket.AF_UNIX)
        raw.settimeout(10)
        raw.connect(path)
        raw.sendall(b"hello\nSTARTTLS\n")
        clear = recvAll(raw, lambda data: data.endswith(b"GO AHEAD\n"))
        with pythonClientContext().wrap_socket(
            raw, server_hostname="localhost", suppress_ragged_eofs=False
        ) as tls:
            tls.sendall(b"secret\nQUIT\n")
            rest = recvAll(tls, lambda data: data.endswith(b"BYE True\n"))
        return clear, rest

    thread = PeerThread(peer)
    runUntil(reactor, thread.done, timeout=10)
    clear, rest = thread.join()
    assert clear == b"ECHO hello\nGO AHEAD\n"
    assert rest == b"ECHO secret\nBYE True\n"
    runUntil(reactor, lambda: built[0].reasons)
    assert built[0].lines == [b"hello", b"STARTTLS", b"secret", b"QUIT"]


class StartTLSClient(LineReceiver):
    delimiter = b"\n"

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.reasons: list[Any] = []
        self.peerCertificate: Any = None

    def connectionMade(self) -> None:
        self.sendLine(b"STARTTLS")

    def lineReceived(self, line: bytes) -> None:
        self.lines.append(line)
        if line == b"GO AHEAD":
            self.transport.startTLS(clientOptions())
            self.sendLine(b"encrypted hello")
        elif line.startswith(b"ECHO"):
            self.peerCertificate = self.transport.getPeerCertificate()
            self.transport.loseConnection()

    def connectionLost(self, reason: Any = None) -> None:
        self.reasons.append(reason)


def test_startTLSOnTheClientSideWithAPythonServer(reactor: Any) -> None:
    with listeningSocket() as listener:

        def peer() -> tuple[bytes, bytes]:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(10)
                command = recvAll(conn, lambda data: data.endswith(b"\n"))
                conn.sendall(b"GO AHEAD\n")
                with pythonServerContext().wrap_socket(conn, server_side=True) as tls:
                    line = recvAll(tls, lambda data: data.endswith(b"\n"))
                    tls.sendall(b"ECHO " + line)
                    try:
                        closing = tls.recv(100)  # b"": the client's close_notify.
                    except ssl.SSLError:
                        closing = b"no close_notify"
            return command, closing

        thread = PeerThread(peer)
        protocol = StartTLSClient()
        reactor.connectTCP("127.0.0.1", listener.getsockname()[1], Client(protocol))
        runUntil(reactor, lambda: protocol.reasons and thread.done(), timeout=10)
        command, closing = thread.join()
    assert command == b"STARTTLS\n"
    assert closing == b""
    assert protocol.lines == [b"GO AHEAD", b"ECHO encrypted hello"]
    assert protocol.peerCertificate is not None
    assert protocol.reasons[0].check(error.ConnectionDone)


def test_startTLSTwiceOrOnAClosingConnectionOrWithBadOptionsIsRefused(reactor: Any) -> None:
    port = reactor.listenTCP(0, Factory.forProtocol(Recorder), interface="127.0.0.1")

    def connected() -> Recorder:
        client = Recorder()
        reactor.connectTCP("127.0.0.1", port.getHost().port, Client(client))
        runUntilFired(reactor, client.made)
        return client

    first = connected()
    with pytest.raises(TypeError, match="cannot set up TLS"):
        first.transport.startTLS(object())
    assert not ISSLTransport.providedBy(first.transport)
    first.transport.startTLS(clientOptions())
    assert verifyObject(ISSLTransport, first.transport)
    with pytest.raises(RuntimeError, match="already started"):
        first.transport.startTLS(clientOptions())
    first.transport.abortConnection()
    runUntilFired(reactor, first.lost)

    closing = connected()
    closing.transport.loseConnection()
    with pytest.raises(RuntimeError, match="needs an open connection"):
        closing.transport.startTLS(clientOptions())
