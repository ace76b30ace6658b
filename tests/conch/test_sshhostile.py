"""Hostile input against a running ``torsiond conch``, over real sockets.

A client of our own does the key exchange for real (torsion's SSHClientTransport fed
from a blocking socket), then sends what no honest peer would: packets with a bad
MAC, lengths over the limit, lengths that are not a multiple of the cipher's block
or that do not match the packet, and fuzzed packets before and after the key
exchange (hypothesis). Each time the server must end that connection with
SSH_MSG_DISCONNECT carrying the right reason code, read here from the wire (in the
clear before the key exchange, decrypted with the session's keys after it), and
it must go on serving: an OpenSSH ``ssh ... cat`` session opened before the first
test must still echo after the last, and the server process must still run.

The in-memory cases of the same checks (no sockets) are in test_sshtransport.py and
test_sshpackets.py; this module is the end-to-end proof.
"""

from __future__ import annotations

import os
import pwd
import select
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conch.sshhelpers import HOST_KEYS, SSH, TrustingClient
from tests.tap._torsiond import TORSIOND, freePort, waitForListening
from torsion.conch.ssh import transport
from torsion.conch.ssh._packets import PacketReader
from torsion.conch.ssh.common import NS
from torsion.internet import task
from torsion.internet.testing import StringTransport

ME = pwd.getpwuid(os.geteuid()).pw_name
PROTOCOL_ERROR = transport.DISCONNECT_PROTOCOL_ERROR
MAC_ERROR = transport.DISCONNECT_MAC_ERROR
MSG_IGNORE = transport.MSG_IGNORE
SUITES = [
    (b"chacha20-poly1305@openssh.com", None),
    (b"aes256-gcm@openssh.com", None),
    (b"aes128-ctr", b"hmac-sha2-256-etm@openssh.com"),
    (b"aes256-ctr", b"hmac-sha2-512"),
]
pytestmark = pytest.mark.skipif(SSH is None, reason="OpenSSH's ssh (openssh-client) is missing")


class Server:
    """A running ``torsiond conch`` and an OpenSSH session kept open through it."""

    def __init__(self, port: int, process: subprocess.Popen[bytes], session: Any) -> None:
        self.port, self.process, self.session = port, process, session

    def echo(self, line: bytes) -> bytes:
        """Send a line through the open ``cat`` session and read it back (bounded)."""
        assert self.session.stdin is not None and self.session.stdout is not None
        self.session.stdin.write(line + b"\n")
        self.session.stdin.flush()
        ready, _, _ = select.select([self.session.stdout], [], [], 15)
        assert ready, "the mid-session client got no answer"
        return bytes(self.session.stdout.readline().rstrip(b"\n"))

    def stillServing(self) -> None:
        assert self.process.poll() is None, "the server exited"
        token = f"still here {time.monotonic()}".encode()
        assert self.echo(token) == token


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("hostile")
    hostKey = directory / "host_ed25519"
    hostKey.write_bytes(HOST_KEYS[b"ssh-ed25519"].toString("openssh"))
    hostKey.chmod(0o600)
    port = freePort()
    command = [
        str(TORSIOND), "-n", "-o", "--pidfile=", "-l", str(directory / "torsiond.log"),
        "conch", "--listen", f"tcp:{port}:interface=127.0.0.1", "--host-key", str(hostKey),
        "--no-authorized-keys", "--auth", f"memory:{ME}:pw", "--no-sftp",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    session = None
    try:
        waitForListening(port, process)
        askpass = directory / "askpass"
        askpass.write_text("#!/bin/sh\necho pw\n")
        askpass.chmod(0o700)
        assert SSH is not None
        sshCommand = [
            SSH,
            "-F",
            "/dev/null",
            "-p",
            str(port),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "NumberOfPasswordPrompts=1",
            "-o",
            "LogLevel=ERROR",
            f"{ME}@127.0.0.1",
            "cat",
        ]  # fmt: skip
        session = subprocess.Popen(
            sshCommand,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force"},
        )
        running = Server(port, process, session)
        if running.echo(b"hello") != b"hello":
            pytest.skip("the OpenSSH session could not start (is this user allowed to log in?)")
        yield running
        running.stillServing()
    finally:
        if session is not None:
            session.kill()
            session.wait()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- a client that shakes hands for real, then misbehaves ---------------------------------


class WireClient:
    """torsion's client transport on a blocking socket: a real key exchange, after
    which the test sends raw bytes sealed (or broken) with the session's keys."""

    def __init__(self, port: int, cipher: bytes, mac: bytes | None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.client = TrustingClient()
        self.client.supportedCiphers = [cipher]
        self.client.supportedMACs = [mac] if mac is not None else list(transport.MACS)
        self.client.clock = task.Clock()
        self.wire = StringTransport()
        self.client.makeConnection(self.wire)
        self.closed = False
        self.flush()

    def flush(self) -> None:
        data = self.wire.value()
        self.wire.clear()
        if data:
            self.sock.sendall(data)

    def pumpUntil(self, done: Any, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not done() and not self.closed:
            self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                raise AssertionError("the server said nothing in time") from None
            except ConnectionResetError:
                data = b""
            if not data:
                self.closed = True
                break
            self.client.dataReceived(data)
            self.flush()

    def handshake(self) -> None:
        self.pumpUntil(lambda: self.client.userauth.failures)
        assert self.client.secure and not self.client.errors

    def sealed(self, messageType: int, payload: bytes) -> bytearray:
        """A packet as the client would send it (with the session's keys)."""
        return bytearray(self.client._writer.seal(bytes((messageType,)) + payload))

    def sendRaw(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def disconnectReason(self) -> int | None:
        """Read until the server closes; the reason of its DISCONNECT, if it sent one."""
        self.pumpUntil(lambda: False)
        self.sock.close()
        return self.client.errors[-1][0] if self.client.errors else None


def suiteId(suite: tuple[bytes, bytes | None]) -> str:
    cipher, mac = suite
    return cipher.decode() + (f"+{mac.decode()}" if mac else "")


@pytest.fixture(params=SUITES, ids=suiteId)
def secured(request: pytest.FixtureRequest, server: Server) -> Iterator[WireClient]:
    """A client past the key exchange (and one refused "none" login) with a suite."""
    cipher, mac = request.param
    client = WireClient(server.port, cipher, mac)
    client.handshake()
    yield client
    client.sock.close()
    server.stillServing()


def test_aBadMACIsAMACError(secured: WireClient) -> None:
    packet = secured.sealed(MSG_IGNORE, NS(b"x" * 100))
    packet[-1] ^= 0x01
    secured.sendRaw(bytes(packet))
    assert secured.disconnectReason() == MAC_ERROR


def test_aTamperedPayloadIsAMACError(secured: WireClient) -> None:
    packet = secured.sealed(MSG_IGNORE, NS(b"x" * 100))
    packet[40] ^= 0x80
    secured.sendRaw(bytes(packet))
    assert secured.disconnectReason() == MAC_ERROR


def test_anOversizePacketIsAProtocolError(secured: WireClient) -> None:
    # Over the 256 KiB limit: refused from its length alone, before the rest arrives.
    packet = secured.sealed(MSG_IGNORE, NS(bytes(300 * 1024)))
    secured.sendRaw(bytes(packet[: 64 * 1024]))
    assert secured.disconnectReason() == PROTOCOL_ERROR


def test_aLengthOffTheBlockSizeIsAProtocolError(secured: WireClient) -> None:
    # Every suite's length field can be flipped in place (sent in the clear, or
    # encrypted by a stream cipher): the lowest bit makes it odd.
    packet = secured.sealed(MSG_IGNORE, NS(b"x" * 100))
    packet[3] ^= 0x01
    secured.sendRaw(bytes(packet))
    assert secured.disconnectReason() == PROTOCOL_ERROR


def test_aLengthThatDoesNotMatchThePacketIsAMACError(secured: WireClient) -> None:
    # Still a multiple of the block size, so only the integrity check can tell.
    packet = secured.sealed(MSG_IGNORE, NS(b"x" * 100))
    packet[3] ^= 0x20
    secured.sendRaw(bytes(packet) + bytes(128))
    assert secured.disconnectReason() == MAC_ERROR


def test_aPacketOfNothingIsAProtocolError(secured: WireClient) -> None:
    # A well-sealed packet with an empty payload (no message number).
    secured.sendRaw(bytes(secured.client._writer.seal(b"")))
    assert secured.disconnectReason() == PROTOCOL_ERROR


def test_keyExchangeMessagesOutOfTurnAreAProtocolError(secured: WireClient) -> None:
    secured.sendRaw(bytes(secured.sealed(transport.MSG_KEXDH_INIT, NS(bytes(32)))))
    assert secured.disconnectReason() == PROTOCOL_ERROR


# -- before the key exchange: everything is in the clear -------------------------------------


def clearExchange(port: int, data: bytes) -> tuple[list[int], int | None]:
    """Send our version line and ``data`` raw; the message numbers the server sent and
    the reason of its DISCONNECT (None if it closed without one)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"SSH-2.0-hostile\r\n" + data)
        received = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
        else:
            raise AssertionError("the server kept the connection open")
    version, _, rest = received.partition(b"\r\n")
    assert version.startswith(b"SSH-2.0-torsion")
    payloads = PacketReader().feed(rest)
    numbers = [payload[0] for payload in payloads]
    reason = None
    if numbers and numbers[-1] == transport.MSG_DISCONNECT:
        reason = struct.unpack_from("!L", payloads[-1], 1)[0]
    return numbers, reason


@pytest.mark.parametrize(
    ("packet", "reason"),
    [
        (struct.pack("!L", 10**7) + bytes(60), PROTOCOL_ERROR),  # oversize
        (struct.pack("!L", 13) + bytes(60), PROTOCOL_ERROR),  # off the 8-byte block
        (struct.pack("!L", 3) + bytes(60), PROTOCOL_ERROR),  # too short to hold padding
        (struct.pack("!LB", 12, 40) + bytes(60), PROTOCOL_ERROR),  # padding past the end
        (struct.pack("!LB", 12, 4) + b"\x32abcdef" + bytes(4), PROTOCOL_ERROR),  # userauth
        (struct.pack("!LB", 12, 4) + b"\x14abcdef" + bytes(4), PROTOCOL_ERROR),  # bad KEXINIT
    ],
    ids=["oversize", "off-block", "too-short", "padding", "userauth-first", "bad-kexinit"],
)
def test_badClearPacketsAreDisconnectedWithTheReason(
    server: Server, packet: bytes, reason: int
) -> None:
    numbers, got = clearExchange(server.port, packet)
    assert numbers[0] == transport.MSG_KEXINIT
    assert got == reason


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(min_size=1, max_size=400))
def test_fuzzBeforeTheKeyExchange(server: Server, data: bytes) -> None:
    # Whatever arrives, the server either disconnects with a reason the RFC defines
    # or waits for the rest of a packet (here: until we hang up).
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"SSH-2.0-fuzz\r\n" + data)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    payloads = PacketReader().feed(received.partition(b"\r\n")[2])
    if payloads and payloads[-1][0] == transport.MSG_DISCONNECT:
        assert 1 <= struct.unpack_from("!L", payloads[-1], 1)[0] <= 15
    assert server.process.poll() is None


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(messageType=st.integers(0, 255), body=st.binary(max_size=300))
def test_fuzzAfterTheKeyExchange(server: Server, messageType: int, body: bytes) -> None:
    # Well-sealed packets of any number and content: the server answers, ignores or
    # disconnects with a defined reason, and never falls over.
    client = WireClient(server.port, *SUITES[0])
    try:
        client.handshake()
        client.sendRaw(bytes(client.sealed(messageType, body)))
        # A KEXINIT (or anything) it must answer or refuse; then we hang up.
        client.sock.shutdown(socket.SHUT_WR)
        reason = client.disconnectReason()
        assert reason is None or 1 <= reason <= 15
    finally:
        client.sock.close()
    assert server.process.poll() is None


def test_theServerStillServesAfterEverything(server: Server) -> None:
    server.stillServing()
    fresh = WireClient(server.port, *SUITES[1])
    fresh.handshake()
    fresh.sock.close()
