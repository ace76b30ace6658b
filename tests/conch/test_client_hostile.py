"""torsion's SSH client against servers that send garbage, over TCP on 127.0.0.1: no
SSH version, an overlong version line, an oversize or misaligned packet, a KEXINIT
with nothing in common, random bytes after the version (seeded, so repeatable), and
nonsense after login. Each time ``connect`` fails promptly with a ConchError naming
what went wrong, the client's SSH_MSG_DISCONNECT (read off the wire where it is still
in clear) carries the right reason code, and nothing is logged as an unhandled
error. The reactor goes on serving: a good server is reached right after."""

from __future__ import annotations

import random
import struct
from pathlib import Path
from typing import Any

import pytest

from tests.conch.test_endpoints import (
    CommandOutput,
    Server,
    endpoint,
    failureOf,
    run,
    trusting,
)
from tests.conch.test_session import CommandUser
from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil
from torsion.conch.client.knownhosts import KnownHostsFile
from torsion.conch.endpoints import SSHCommandClientEndpoint
from torsion.conch.error import ConchError
from torsion.conch.ssh import _kexinit
from torsion.conch.ssh.common import NS
from torsion.internet import protocol
from torsion.internet.error import ConnectionLost, ProcessDone

oneReactor = reactormixins.oneReactor
loggedErrors = reactormixins.loggedErrors

PROTOCOL_ERROR, KEY_EXCHANGE_FAILED = 2, 3
VERSION = b"SSH-2.0-Hostile_1.0\r\n"


def plainPacket(payload: bytes) -> bytes:
    """An unencrypted SSH packet (RFC 4253 section 6), padded to 8 bytes."""
    padding = 8 - (len(payload) + 5) % 8
    padding += 8 if padding < 4 else 0
    return struct.pack("!LB", len(payload) + padding + 1, padding) + payload + b"\0" * padding


def disconnectReason(sent: bytes) -> int | None:
    """The reason code of the first clear DISCONNECT among the client's packets."""
    if b"\n" not in sent:
        return None
    rest = sent[sent.index(b"\n") + 1 :]
    while len(rest) >= 5:
        (length,) = struct.unpack_from("!L", rest)
        packet, rest = rest[4 : 4 + length], rest[4 + length :]
        payload = packet[1 : len(packet) - packet[0]]
        if payload[:1] == b"\x01":
            return int(struct.unpack_from("!L", payload, 1)[0])
    return None


class Scripted(protocol.Protocol):
    """Sends its script when the client connects; keeps what the client sent."""

    script: list[bytes] = []
    received: list[bytearray] = []
    closed = 0

    def connectionMade(self) -> None:
        self.mine = bytearray()
        Scripted.received.append(self.mine)
        for chunk in self.script:
            self.transport.write(chunk)

    def dataReceived(self, data: bytes) -> None:
        self.mine += data

    def connectionLost(self, reason: object = None) -> None:
        Scripted.closed += 1


def hostile(reactor: Any, tmp_path: Path, script: list[bytes]) -> tuple[Any, bytes]:
    """Connect to a server sending ``script``: (the failure, what the client sent)."""
    Scripted.script = script
    Scripted.received = []
    Scripted.closed = 0
    port = reactor.listenTCP(0, protocol.Factory.forProtocol(Scripted), interface="127.0.0.1")
    ep = SSHCommandClientEndpoint.newConnection(
        reactor, b"true", "alice", "127.0.0.1", port.getHost().port, password="pw",
        knownHosts=KnownHostsFile.fromPath(tmp_path / "known_hosts"),
    )  # fmt: skip
    failure = failureOf(reactor, ep.connect(protocol.Factory.forProtocol(CommandOutput)), 10)
    runUntil(reactor, lambda: Scripted.closed == len(Scripted.received))
    port.stopListening()
    return failure, bytes(Scripted.received[0]) if Scripted.received else b""


def kexInitPayload(**lists: list[bytes]) -> bytes:
    names = {
        "kex": [b"curve25519-sha256"],
        "hostKey": [b"ssh-ed25519"],
        "cipher": [b"aes128-ctr"],
        "mac": [b"hmac-sha2-256"],
    }
    names.update(lists)
    made = _kexinit.KexInit(
        names["kex"], names["hostKey"], names["cipher"], names["cipher"],
        names["mac"], names["mac"], [b"none"], [b"none"],
    )  # fmt: skip
    return made.toPayload()


CASES = {
    "no version": ([b"HTTP/1.1 400 Bad Request\r\n" * 100], PROTOCOL_ERROR),
    "overlong version": ([b"SSH-2.0-" + b"x" * 400], PROTOCOL_ERROR),
    "SSH-1": ([b"SSH-1.5-Old\r\n"], 8),  # PROTOCOL_VERSION_NOT_SUPPORTED
    "oversize packet": ([VERSION, struct.pack("!L", 0x7FFFFFF0) + b"\0" * 64], PROTOCOL_ERROR),
    "misaligned packet": ([VERSION, struct.pack("!LB", 13, 4) + b"\0" * 13], PROTOCOL_ERROR),
    "nothing in common": (
        [VERSION, plainPacket(kexInitPayload(cipher=[b"des-cbc"]))],
        KEY_EXCHANGE_FAILED,
    ),
    "service before kex": ([VERSION, plainPacket(b"\x06" + NS(b"ssh-userauth"))], PROTOCOL_ERROR),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_garbageRefused(
    oneReactor: Any, tmp_path: Path, loggedErrors: list[Any], case: str
) -> None:
    script, reason = CASES[case]
    failure, sent = hostile(oneReactor, tmp_path, script)
    assert failure.check(ConchError), failure
    assert failure.value.value == reason and failure.value.data
    assert disconnectReason(sent) == reason
    assert loggedErrors == []


@pytest.mark.parametrize("seed", range(12))
def test_randomBytesAfterTheVersion(
    oneReactor: Any, tmp_path: Path, loggedErrors: list[Any], seed: int
) -> None:
    chooser = random.Random(seed)
    noise = chooser.randbytes(chooser.randrange(64, 4096))
    failure, sent = hostile(oneReactor, tmp_path, [VERSION, noise])
    assert failure.check(ConchError), failure
    assert disconnectReason(sent) == failure.value.value == PROTOCOL_ERROR
    assert loggedErrors == []


def test_randomKexInitLists(oneReactor: Any, tmp_path: Path, loggedErrors: list[Any]) -> None:
    chooser = random.Random(7)
    for _ in range(5):
        payload = bytearray(kexInitPayload())
        for _ in range(8):  # flip bytes inside the name-lists
            payload[chooser.randrange(17, len(payload))] = chooser.randrange(256)
        failure, sent = hostile(oneReactor, tmp_path, [VERSION, plainPacket(bytes(payload))])
        assert failure.check(ConchError), failure
        assert disconnectReason(sent) in (PROTOCOL_ERROR, KEY_EXCHANGE_FAILED)
    assert loggedErrors == []


# -- nonsense after login, from an otherwise good server -------------------------------------


class StrayDataUser(CommandUser):
    """Runs the command, then (at once, or ``delay`` seconds later) sends data for a
    channel that does not exist."""

    delay: float | None = None

    def execCommand(self, proto: Any, command: bytes) -> None:
        super().execCommand(proto, command)
        transport = proto.session.conn.transport
        stray = struct.pack("!L", 4242) + NS(b"stray")
        if self.delay is None:
            transport.sendPacket(94, stray)
        else:
            self.reactor.callLater(self.delay, transport.sendPacket, 94, stray)


def strayServer(reactor: Any, tmp_path: Path, monkeypatch: Any) -> tuple[Server, Any]:
    from tests.conch import test_endpoints

    monkeypatch.setattr(test_endpoints, "CommandUser", StrayDataUser)
    server = Server(reactor)
    known = trusting(tmp_path / "known_hosts", server.portNumber)
    return server, endpoint(reactor, server, b"sleep 5", known)


def test_strayDataBeforeTheCommandRuns(
    oneReactor: Any, tmp_path: Path, loggedErrors: list[Any], monkeypatch: Any
) -> None:
    monkeypatch.setattr(StrayDataUser, "delay", None)
    server, ep = strayServer(oneReactor, tmp_path, monkeypatch)
    try:
        failure = failureOf(oneReactor, ep.connect(protocol.Factory.forProtocol(CommandOutput)))
        assert failure.check(ConchError) and failure.value.value == PROTOCOL_ERROR, failure
        assert "4242" in str(failure.value.data)
        runUntil(oneReactor, lambda: not server.connections[0].transport.connected)
        assert loggedErrors == []
    finally:
        server.port.stopListening()


def test_strayDataWhileTheCommandRuns(
    oneReactor: Any, tmp_path: Path, loggedErrors: list[Any], monkeypatch: Any
) -> None:
    monkeypatch.setattr(StrayDataUser, "delay", 0.2)
    server, ep = strayServer(oneReactor, tmp_path, monkeypatch)
    try:
        proto, reason = run(oneReactor, ep)
        # The client ends the connection (a protocol error); the command's protocol
        # learns the connection was lost, not that the command finished.
        assert reason.check(ConnectionLost) and not reason.check(ProcessDone), reason
        runUntil(oneReactor, lambda: not server.connections[0].transport.connected)
        assert loggedErrors == []
    finally:
        server.port.stopListening()
    # The reactor still serves: a good server is reached at once.
    monkeypatch.undo()
    good = Server(oneReactor)
    try:
        known = trusting(tmp_path / "known_hosts2", good.portNumber)
        proto, reason = run(oneReactor, endpoint(oneReactor, good, b"echo fine", known))
        assert bytes(proto.out) == b"fine\n" and reason.check(ProcessDone)
    finally:
        good.port.stopListening()


class EarlyDataUser(CommandUser):
    """Sends a whole window of data before the exec request is answered."""

    def execCommand(self, proto: Any, command: bytes) -> None:
        proto.session.write(b"e" * proto.session.remoteWindowLeft)
        super().execCommand(proto, command)


def test_dataBeforeTheExecAnswer(oneReactor: Any, tmp_path: Path, monkeypatch: Any) -> None:
    """Kept and delivered first, with no window granted until then; the rest follows."""
    from tests.conch import test_endpoints

    monkeypatch.setattr(test_endpoints, "CommandUser", EarlyDataUser)
    server = Server(oneReactor)
    try:
        known = trusting(tmp_path / "known_hosts", server.portNumber)
        proto, reason = run(oneReactor, endpoint(oneReactor, server, b"echo late", known))
        window = 2 * 1024 * 1024  # the client's channel window
        assert bytes(proto.out) == b"e" * window + b"late\n"
        assert reason.check(ProcessDone)
    finally:
        server.port.stopListening()
