"""Tests of the ssl: and tls: endpoint descriptions over real TLS (need torsion.internet.ssl).

They skip where torsion.internet.ssl is missing, and where the openssl program that
makes their certificates is. The server side is checked with Python's own ssl
client (in a thread, the reactor iterating meanwhile); the tls: client is checked
against an ssl: server, both with a certificate it trusts and with a host name that
does not match it.
"""

from __future__ import annotations

import shutil
import socket
import ssl as stdlibssl
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from tests.internet.test_tcp import OneProtocolFactory, Recorder
from torsion.internet import endpoints
from torsion.internet.protocol import Factory
from torsion.protocols.wire import Echo

pytest.importorskip("torsion.internet.ssl")
if shutil.which("openssl") is None:
    pytest.skip(
        "the openssl program (to make test certificates) is missing", allow_module_level=True
    )

reactor = reactormixins.reactor


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A self-signed certificate for localhost/127.0.0.1, and its key, as PEM files."""
    where = tmp_path_factory.mktemp("tls")
    key, cert = where / "key.pem", where / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out", str(cert),
            "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    both = where / "pvk.pem"
    both.write_bytes(key.read_bytes() + cert.read_bytes())
    dh = where / "dh.pem"
    subprocess.run(
        ["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048",
         "-out", str(dh)],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    rsa = where / "rsa.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(rsa),
         "-out", str(where / "rsacert.pem"), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    rsaBoth = where / "rsaboth.pem"
    rsaBoth.write_bytes(rsa.read_bytes() + (where / "rsacert.pem").read_bytes())
    return {
        "key": key,
        "cert": cert,
        "both": both,
        "dh": dh,
        "rsa": rsaBoth,
        "rsacert": where / "rsacert.pem",
    }


def handshake(
    reactor: Any,
    description: str,
    trusted: Path,
    configure: Callable[[stdlibssl.SSLContext], None] = lambda context: None,
) -> str | None:
    """Listen on ``description``; connect with Python's ssl (its context set up by
    ``configure``); return the TLS version used, or None if the handshake failed."""
    port = runUntilFired(
        reactor, endpoints.serverFromString(reactor, description).listen(Factory.forProtocol(Echo))
    )
    number = port.getHost().port
    versions: list[str] = []

    def talk() -> None:
        context = stdlibssl.create_default_context(cafile=str(trusted))
        configure(context)
        with (
            socket.create_connection(("127.0.0.1", number), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            tls.sendall(b"x")
            tls.recv(1)
            versions.append(str(tls.version()))

    def attempt() -> None:
        try:
            talk()
        except stdlibssl.SSLError:
            pass

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    runUntil(reactor, lambda: not thread.is_alive(), timeout=15)
    runUntilFired(reactor, port.stopListening())
    return versions[0] if versions else None


def test_sslServerFromTheSeedsDescription(reactor: Any, certificate: dict[str, Path]) -> None:
    description = f"ssl:0:privateKey={certificate['both']}:interface=127.0.0.1"
    port = runUntilFired(
        reactor, endpoints.serverFromString(reactor, description).listen(Factory.forProtocol(Echo))
    )
    number = port.getHost().port
    received: list[bytes] = []

    def talk() -> None:
        context = stdlibssl.create_default_context(cafile=str(certificate["cert"]))
        with (
            socket.create_connection(("127.0.0.1", number), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            tls.sendall(b"over tls")
            data = b""
            while len(data) < 8:
                chunk = tls.recv(100)
                if not chunk:
                    break
                data += chunk
            received.append(data)

    thread = threading.Thread(target=talk, daemon=True)
    thread.start()
    runUntil(reactor, lambda: not thread.is_alive(), timeout=15)
    assert received == [b"over tls"]
    runUntilFired(reactor, port.stopListening())


def test_sslServerWithSeparateKeyAndCertificate(reactor: Any, certificate: dict[str, Path]) -> None:
    description = (
        f"ssl:0:privateKey={certificate['key']}:certKey={certificate['cert']}"
        f":extraCertChain={certificate['cert']}:interface=127.0.0.1"
    )
    endpoint = endpoints.serverFromString(reactor, description)
    assert isinstance(endpoint, endpoints.SSL4ServerEndpoint)


def test_tlsClientVerifiesTheServer(reactor: Any, certificate: dict[str, Path]) -> None:
    description = f"ssl:0:privateKey={certificate['both']}:interface=127.0.0.1"
    port = runUntilFired(
        reactor, endpoints.serverFromString(reactor, description).listen(Factory.forProtocol(Echo))
    )
    number = port.getHost().port
    trusted = endpoints.clientFromString(
        reactor,
        f"tls:localhost:{number}:trustRoots={certificate['cert']}"
        f":endpoint=tcp\\:127.0.0.1\\:{number}",
    )
    made = Recorder()
    runUntilFired(reactor, trusted.connect(OneProtocolFactory(made)), timeout=15)
    made.transport.write(b"verified")
    runUntil(reactor, lambda: made.data == b"verified", timeout=15)
    made.transport.loseConnection()
    runUntilFired(reactor, made.lost, timeout=15)

    wrongName = endpoints.clientFromString(
        reactor,
        f"tls:example.com:{number}:trustRoots={certificate['cert']}"
        f":endpoint=tcp\\:127.0.0.1\\:{number}",
    )
    refused = Recorder()
    failed: list[Any] = []
    wrongName.connect(OneProtocolFactory(refused)).addErrback(failed.append)
    # Refused either before the connection is handed over or right after it.
    runUntil(reactor, lambda: bool(failed) or refused.lost.called, timeout=15)
    assert refused.data == b""
    runUntilFired(reactor, port.stopListening())


def test_sslmethodLimitsTheVersions(reactor: Any, certificate: dict[str, Path]) -> None:
    base = f"ssl:0:privateKey={certificate['both']}:interface=127.0.0.1"
    assert handshake(reactor, base, certificate["cert"]) == "TLSv1.3"
    limited = base + ":sslmethod=TLSv1_2_METHOD"
    assert handshake(reactor, limited, certificate["cert"]) == "TLSv1.2"


def onlyFiniteFieldDiffieHellman(context: stdlibssl.SSLContext) -> None:
    context.maximum_version = stdlibssl.TLSVersion.TLSv1_2
    context.set_ciphers("DHE-RSA-AES128-GCM-SHA256")


def test_dhParametersEnableDHECiphers(reactor: Any, certificate: dict[str, Path]) -> None:
    base = f"ssl:0:privateKey={certificate['rsa']}:interface=127.0.0.1"
    trusted = certificate["rsacert"]
    assert handshake(reactor, base, trusted, onlyFiniteFieldDiffieHellman) is None
    withDH = base + f":dhParameters={certificate['dh']}"
    assert handshake(reactor, withDH, trusted, onlyFiniteFieldDiffieHellman) == "TLSv1.2"


def test_unusableFilesAreReportedAsTheDescriptionsFault(certificate: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="TLS settings cannot be used"):
        endpoints.serverFromString(
            None, f"ssl:443:privateKey={certificate['both']}:dhParameters={certificate['cert']}"
        )
    other = certificate["dh"].parent / "otherkey.pem"
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-out", str(other)],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    with pytest.raises(ValueError, match="TLS settings cannot be used"):
        endpoints.serverFromString(
            None, f"ssl:443:privateKey={other}:certKey={certificate['cert']}"
        )
