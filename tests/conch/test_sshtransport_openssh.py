"""torsion's SSH transport against OpenSSH, both ways, over TCP on 127.0.0.1.

OpenSSH's ssh connects to a torsion server for each key exchange, cipher, MAC and
host key algorithm, and gets as far as a refused login (so the handshake and the
encrypted service exchange worked, and its view of our host key matches); torsion's
client connects to OpenSSH's sshd (started here on a free port with its own
configuration and host key) and gets sshd's list of login methods back.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conch.sshhelpers import (
    HOST_KEYS,
    SSH,
    RefusingUserAuth,
    TrustingClient,
    needsSSH,
    needsSSHD,
    runningSSHD,
    serverFactory,
)
from tests.internet import reactormixins
from tests.internet.reactormixins import inThread, runUntil
from torsion.conch.ssh.common import NS, getNS
from torsion.conch.ssh.keys import FingerprintFormats, Key
from torsion.internet.protocol import ClientFactory

oneReactor = reactormixins.oneReactor

ETM256, ETM512 = b"hmac-sha2-256-etm@openssh.com", b"hmac-sha2-512-etm@openssh.com"
# (kex, cipher, mac, host key algorithm): every one of ours that OpenSSH has.
CASES = [
    (b"curve25519-sha256", b"chacha20-poly1305@openssh.com", None, b"ssh-ed25519"),
    (b"curve25519-sha256@libssh.org", b"aes256-gcm@openssh.com", None, b"ecdsa-sha2-nistp256"),
    (b"ecdh-sha2-nistp256", b"aes128-gcm@openssh.com", None, b"rsa-sha2-512"),
    (b"ecdh-sha2-nistp384", b"aes128-ctr", ETM256, b"rsa-sha2-256"),
    (b"ecdh-sha2-nistp521", b"aes256-ctr", ETM512, b"ecdsa-sha2-nistp384"),
    (b"diffie-hellman-group-exchange-sha256", b"aes128-ctr", b"hmac-sha2-256",
     b"ecdsa-sha2-nistp521"),
    (b"diffie-hellman-group16-sha512", b"aes256-ctr", b"hmac-sha2-512", b"ssh-ed25519"),
    (b"diffie-hellman-group14-sha256", b"chacha20-poly1305@openssh.com", None, b"rsa-sha2-512"),
]  # fmt: skip


def caseId(case: tuple[bytes, bytes, bytes | None, bytes]) -> str:
    return "+".join(part.decode() for part in case if part)


@needsSSH
@pytest.mark.parametrize("case", CASES, ids=caseId)
def test_opensshClientShakesHandsWithOurServer(
    oneReactor: Any, case: tuple[bytes, bytes, bytes | None, bytes]
) -> None:
    kex, cipher, mac, hostKey = case
    RefusingUserAuth.started.clear()
    port = oneReactor.listenTCP(0, serverFactory(oneReactor), interface="127.0.0.1")
    assert SSH is not None
    command = [
        SSH, "-v", "-F", "/dev/null", "-p", str(port.getHost().port),
        "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes",
        "-o", "PreferredAuthentications=publickey", "-o", "ConnectTimeout=10",
        "-o", f"KexAlgorithms={kex.decode()}", "-o", f"Ciphers={cipher.decode()}",
        "-o", f"HostKeyAlgorithms={hostKey.decode()}",
        *(["-o", f"MACs={mac.decode()}"] if mac else []),
        "nobody@127.0.0.1", "true",
    ]  # fmt: skip
    done = inThread(
        oneReactor, lambda: subprocess.run(command, capture_output=True, text=True, timeout=30)
    )
    log = done.stderr
    assert done.returncode == 255, log
    assert "Permission denied (publickey)" in log, log
    assert f"kex: algorithm: {kex.decode()}" in log
    assert f"server->client cipher: {cipher.decode()}" in log
    keyType = {b"rsa-sha2-512": b"ssh-rsa", b"rsa-sha2-256": b"ssh-rsa"}.get(hostKey, hostKey)
    fingerprint = HOST_KEYS[keyType].fingerprint(FingerprintFormats.SHA256_BASE64)
    assert f"SHA256:{fingerprint}" in log
    assert RefusingUserAuth.started and RefusingUserAuth.started[0].requests
    port.stopListening()


# -- our client, OpenSSH's server -----------------------------------------------------------


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Key]]:
    with runningSSHD(tmp_path_factory.mktemp("sshd")) as port:
        yield port, HOST_KEYS[b"ssh-ed25519"].public()


CLIENT_CASES = [
    (b"curve25519-sha256", b"chacha20-poly1305@openssh.com", None),
    (b"ecdh-sha2-nistp256", b"aes256-gcm@openssh.com", None),
    (b"diffie-hellman-group-exchange-sha256", b"aes128-ctr", b"hmac-sha2-256-etm@openssh.com"),
    (b"diffie-hellman-group14-sha256", b"aes256-ctr", b"hmac-sha2-512"),
]


@needsSSHD
@pytest.mark.parametrize("case", CLIENT_CASES, ids=lambda c: caseId((*c, b"")))
def test_ourClientShakesHandsWithOpenSSH(
    oneReactor: Any, sshd: tuple[int, Key], case: tuple[bytes, bytes, bytes | None]
) -> None:
    port, hostKey = sshd
    kex, cipher, mac = case
    client = TrustingClient()
    client.supportedKeyExchanges = [kex]
    client.supportedCiphers = [cipher]
    if mac is not None:
        client.supportedMACs = [mac]
    client.clock = oneReactor
    factory = ClientFactory()
    factory.protocol = lambda: client  # type: ignore[assignment,misc,return-value]
    oneReactor.connectTCP("127.0.0.1", port, factory)
    runUntil(oneReactor, lambda: bool(client.userauth.failures or client.errors), timeout=20)
    assert client.errors == []
    assert client.hostKeys == [hostKey.blob()]
    methods, partial = getNS(client.userauth.failures[0])
    assert set(methods.split(b",")) >= {b"publickey", b"password"} and partial == b"\0"
    assert client.peerExtensions.get(b"server-sig-algs")
    client.loseConnection()
    runUntil(oneReactor, lambda: client.transport.disconnected, timeout=5)
    assert NS(b"") == b"\0\0\0\0"
