"""Tests for torsion.conch.ssh.transport in memory: every key exchange, cipher and
host key, rekeying, held packets, host key refusal, strict key exchange, and hostile
input (bad versions, garbage, bad MACs, messages out of turn)."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conch.sshhelpers import (
    RefusingUserAuth,
    TrustingClient,
    connectedPair,
    pump,
    serverFactory,
)
from torsion.conch.ssh import _kex, transport
from torsion.conch.ssh._packets import CIPHERS, MACS
from torsion.conch.ssh.common import NS
from torsion.internet import task
from torsion.internet.testing import StringTransport


def configured(**lists: list[bytes]) -> TrustingClient:
    client = TrustingClient()
    for name, value in lists.items():
        setattr(client, name, value)
    return client


def handshakeWorks(client: TrustingClient, **serverAttributes: object) -> None:
    RefusingUserAuth.started.clear()
    server, _, client, _ = connectedPair(client, **serverAttributes)
    assert client.secure and server.sessionID == client.sessionID is not None
    # The stand-in userauth got the client's request through the encrypted channel.
    assert RefusingUserAuth.started and RefusingUserAuth.started[-1].requests
    assert client.userauth.failures == [NS(b"publickey") + b"\0"]


@pytest.mark.parametrize("kex", list(_kex.KEX_ALGORITHMS))
def test_everyKeyExchange(kex: bytes) -> None:
    handshakeWorks(configured(supportedKeyExchanges=[kex]))


@pytest.mark.parametrize(
    ("cipher", "mac"),
    [(c, None) for c, s in CIPHERS.items() if s.aead]
    + [(c, m) for c, s in CIPHERS.items() if not s.aead for m in MACS],
)
def test_everyCipherAndMAC(cipher: bytes, mac: bytes | None) -> None:
    client = configured(supportedCiphers=[cipher], supportedKeyExchanges=[b"curve25519-sha256"])
    if mac is not None:
        client.supportedMACs = [mac]
    handshakeWorks(client)


@pytest.mark.parametrize("hostKey", transport.SSHTransportBase.supportedPublicKeys)
def test_everyHostKeyAlgorithm(hostKey: bytes) -> None:
    client = configured(supportedPublicKeys=[hostKey], supportedKeyExchanges=[b"curve25519-sha256"])
    handshakeWorks(client)
    assert client.hostKeys


def test_extInfoAndStrictKex() -> None:
    server, _, client, _ = connectedPair()
    assert client.peerExtensions[b"server-sig-algs"].split(b",")[0] == b"ssh-ed25519"
    assert server._strict and client._strict
    assert server._reader.seq == client._writer.seq  # both reset at NEWKEYS


def test_noAlgorithmInCommonEndsTheHandshake() -> None:
    server = serverFactory().buildProtocol(None)
    server.supportedCiphers = [b"aes256-ctr"]
    serverWire = StringTransport()
    server.makeConnection(serverWire)
    serverWire.clear()
    client = configured(supportedCiphers=[b"aes128-ctr"])
    clientWire = StringTransport()
    client.makeConnection(clientWire)
    server.dataReceived(clientWire.value())
    assert serverWire.disconnecting and not client.secure
    disconnect = serverWire.value()[serverWire.value().index(b"\x01\x00\x00\x00") :]
    assert struct.unpack("!L", disconnect[1:5])[0] == transport.DISCONNECT_KEY_EXCHANGE_FAILED
    assert b"no client-to-server cipher in common" in disconnect


def test_refusedHostKeyEndsTheConnection() -> None:
    _, _, client, clientWire = connectedPair(TrustingClient(trust=False))
    assert not client.secure and clientWire.disconnecting
    assert client.userauth.failures == []


def test_rekeyKeepsTheSessionAndHoldsServicePackets() -> None:
    server, serverWire, client, clientWire = connectedPair()
    session = client.sessionID
    oldKeys = client._writer._suite
    client.sendKexInit()
    # Until the new keys are in place, a service's packet waits.
    client.sendPacket(50, NS(b"nobody") + NS(b"ssh-connection") + NS(b"none"))
    assert client._held
    pump(server, serverWire, client, clientWire)
    assert client._writer._suite is not oldKeys and not client._held
    assert client.sessionID == server.sessionID == session
    assert len(client.userauth.failures) == 2  # the held request was answered


def test_serverRekeysAfterManyBytes() -> None:
    server, serverWire, client, clientWire = connectedPair()
    server.rekeyBytes = 10_000
    before = server._writer._suite
    for _ in range(40):
        client.sendPacket(2, NS(os.urandom(500)))  # IGNORE messages
        pump(server, serverWire, client, clientWire)
    assert server._writer._suite is not before
    assert not serverWire.disconnecting and not clientWire.disconnecting


def test_rekeyByTime() -> None:
    clock = task.Clock()
    server, serverWire, client, clientWire = connectedPair()
    server.clock = client.clock = clock
    server._scheduleRekey()
    before = server._writer._suite
    clock.advance(server.rekeyInterval + 1)
    pump(server, serverWire, client, clientWire)
    assert server._writer._suite is not before and client.secure


# -- hostile peers -------------------------------------------------------------------------


def fresh() -> tuple[transport.SSHServerTransport, StringTransport]:
    server = serverFactory().buildProtocol(None)
    wire = StringTransport()
    server.makeConnection(wire)
    assert wire.value().startswith(b"SSH-2.0-torsion_")
    return server, wire


HELLO = b"SSH-2.0-ok\r\n"
PROTOCOL_ERROR = transport.DISCONNECT_PROTOCOL_ERROR


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"SSH-1.5-old\r\n", transport.DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED),
        (b"GET / HTTP/1.1\r\n", transport.DISCONNECT_PROTOCOL_ERROR),
        (b"SSH-2.0-" + b"x" * 300 + b"\r\n", transport.DISCONNECT_PROTOCOL_ERROR),
        (b"x" * 1000, transport.DISCONNECT_PROTOCOL_ERROR),
        (HELLO + struct.pack("!L", 10**7) + bytes(12), PROTOCOL_ERROR),
        # A service request before any key exchange.
        (HELLO + struct.pack("!LB", 12, 4) + b"\x05abcdef" + bytes(4), PROTOCOL_ERROR),
        # A KEXINIT that is not one.
        (HELLO + struct.pack("!LB", 12, 4) + b"\x14abcdef" + bytes(4), PROTOCOL_ERROR),
    ],
)  # fmt: skip
def test_badStartsAreDisconnectedWithTheReason(data: bytes, reason: int) -> None:
    server, wire = fresh()
    wire.clear()
    server.dataReceived(data)
    assert wire.disconnecting
    sent = wire.value()
    # The DISCONNECT goes out in the clear: length, padding length, 1, reason.
    assert sent[5] == transport.MSG_DISCONNECT and struct.unpack("!L", sent[6:10])[0] == reason


def test_strictKexRefusesAnIgnoreBeforeKexInit() -> None:
    client = TrustingClient()
    client.makeConnection(StringTransport())
    server, wire = fresh()
    hello = client.transport.value()
    version, kexInit = hello.split(b"\r\n", 1)
    from torsion.conch.ssh._packets import PacketWriter

    ignore = PacketWriter().seal(b"\x02" + NS(b"sneaky"))
    # An IGNORE first, then the KEXINIT at sequence number 1: the Terrapin pattern.
    server.dataReceived(version + b"\r\n" + ignore + kexInit)
    assert wire.disconnecting
    assert b"strict key exchange" in wire.value()


def test_badMACAfterTheHandshakeDisconnects() -> None:
    server, serverWire, client, clientWire = connectedPair()
    client.sendIgnore(b"hello")
    packet = bytearray(clientWire.value())
    clientWire.clear()
    packet[-1] ^= 1
    server.dataReceived(bytes(packet))
    assert serverWire.disconnecting
    client.dataReceived(serverWire.value())
    assert client.errors[-1][0] == transport.DISCONNECT_MAC_ERROR


def test_unknownMessagesGetUnimplemented() -> None:
    server, serverWire, client, clientWire = connectedPair()
    got: list[int] = []
    client.receiveUnimplemented = got.append  # type: ignore[method-assign]
    client.sendPacket(200, b"whatever")
    pump(server, serverWire, client, clientWire)
    assert len(got) == 1 and not serverWire.disconnecting


def test_aFailingServiceDropsOnlyItsConnection() -> None:
    server, serverWire, client, clientWire = connectedPair()

    def broken(packet: bytes) -> None:
        raise RuntimeError("service bug")

    server.service.ssh_USERAUTH_REQUEST = broken
    client.sendPacket(50, b"anything")
    pump(server, serverWire, client, clientWire)
    assert serverWire.disconnecting
    assert client.errors[-1][0] == transport.DISCONNECT_BY_APPLICATION


def test_unknownServiceIsRefused() -> None:
    class Asker(TrustingClient):
        def connectionSecure(self) -> None:
            self.userauth.name = b"no-such-service"
            self.requestService(self.userauth)

    _, serverWire, client, _ = connectedPair(Asker())
    assert serverWire.disconnecting
    assert client.errors[-1][0] == transport.DISCONNECT_SERVICE_NOT_AVAILABLE


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=1, max_size=600))
def test_garbageAfterTheVersionNeverRaises(data: bytes) -> None:
    server, _ = fresh()
    server.dataReceived(b"SSH-2.0-fuzz\r\n" + data)
    server.dataReceived(data)  # and more of it


@settings(max_examples=30, deadline=None)
@given(st.binary(min_size=1, max_size=300))
def test_garbageAfterTheHandshakeDisconnects(data: bytes) -> None:
    server, serverWire, _, _ = connectedPair()
    server.dataReceived(data + bytes(300))
    assert serverWire.disconnecting or server._reader._buffer


def test_nagleIsOffSoFlowControlIsNotHeldBackByDelayedACKs() -> None:
    # A window adjust or an SFTP status answer is a small packet sent while the
    # peer's data streams in; with Nagle on it could wait for a delayed ACK.
    _server, wire = fresh()
    assert wire.tcpNoDelay
