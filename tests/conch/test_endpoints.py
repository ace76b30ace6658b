"""SSHCommandClientEndpoint against torsion's own SSH server over TCP on 127.0.0.1:
commands with output, stderr, stdin and EOF, exit statuses and signals; password and
publickey logins; refused credentials (one attempt, promptly); host keys unknown,
accepted, changed; a second command over an existing connection; the connection
closed after the command; a refused exec; cancelling. The server runs commands with
/bin/sh (tests/conch/test_session.py's avatar). The same helpers drive OpenSSH's
sshd (test_client_openssh.py) and asyncssh (test_interop_asyncssh.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from zope.interface import implementer

from tests.conch.sshhelpers import HOST_KEYS, serverFactory
from tests.conch.test_session import CommandUser
from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from torsion.conch import checkers
from torsion.conch.client.knownhosts import AcceptNewHostKeys, KnownHostsFile, hostKeyName
from torsion.conch.endpoints import AuthenticationFailed, SSHCommandClientEndpoint, connectSSH
from torsion.conch.error import ConchError, HostKeyChanged, UserRejectedKey
from torsion.conch.interfaces import IConchUser
from torsion.conch.ssh import connection, userauth
from torsion.conch.ssh.keys import Key
from torsion.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from torsion.cred.portal import IRealm, Portal
from torsion.internet import defer, protocol
from torsion.internet.error import ConnectionDone, ProcessDone, ProcessTerminated
from torsion.python.failure import Failure

oneReactor = reactormixins.oneReactor

ALICE_KEY = Key(ed25519.Ed25519PrivateKey.generate())
STRANGER_KEY = Key(ed25519.Ed25519PrivateKey.generate())


class CommandOutput(protocol.Protocol):
    """Collects a command's stdout and stderr, and how it ended."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.err = bytearray()
        self.ended: defer.Deferred[None] = defer.Deferred()
        self.reason: Failure | None = None

    def dataReceived(self, data: bytes) -> None:
        self.out += data

    def extReceived(self, dataType: int, data: bytes) -> None:
        self.err += data

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.reason = reason
        self.ended.callback(None)


def run(
    reactor: Any, endpoint: SSHCommandClientEndpoint, stdin: bytes | None = None
) -> tuple[CommandOutput, Failure]:
    """Run the endpoint's command to its end: (its protocol, the reason it ended)."""
    proto = runUntilFired(
        reactor, endpoint.connect(protocol.Factory.forProtocol(CommandOutput)), timeout=20
    )
    if stdin is not None:
        proto.transport.write(stdin)
        proto.transport.loseWriteConnection()
    runUntilFired(reactor, proto.ended, timeout=20)
    assert proto.reason is not None
    return proto, proto.reason


def failureOf(reactor: Any, d: defer.Deferred[Any], timeout: float = 20) -> Failure:
    results: list[Any] = []
    d.addBoth(results.append)
    runUntil(reactor, lambda: bool(results), timeout=timeout)
    assert isinstance(results[0], Failure), results[0]
    return results[0]


def knownHostsWith(path: Path, name: bytes, key: Key) -> KnownHostsFile:
    """A known_hosts file trusting ``key`` for ``name``."""
    known = KnownHostsFile.fromPath(path)
    known.addHostKey(name, key.public())
    known.save()
    return KnownHostsFile.fromPath(path)


def trusting(path: Path, port: int) -> KnownHostsFile:
    """A known_hosts file at ``path`` trusting the test host key on 127.0.0.1:port."""
    return knownHostsWith(path, hostKeyName("127.0.0.1", port), HOST_KEYS[b"ssh-ed25519"])


# -- torsion's server ----------------------------------------------------------------------


class RefusingUser(CommandUser):
    def execCommand(self, proto: Any, command: bytes) -> None:
        raise ValueError("this user may not run commands")


@implementer(IRealm)
class Realm:
    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor

    def requestAvatar(self, avatarId: bytes, mind: object, *interfaces: Any) -> Any:
        user = RefusingUser if avatarId == b"bob" else CommandUser
        return IConchUser, user(self.reactor), lambda: None


class CountingPasswords(InMemoryUsernamePasswordDatabaseDontUse):
    attempts = 0

    def requestAvatarId(self, credentials: Any) -> Any:
        CountingPasswords.attempts += 1
        return super().requestAvatarId(credentials)


class Server:
    def __init__(self, reactor: Any) -> None:
        made = serverFactory(reactor)
        made.services = {
            b"ssh-userauth": userauth.SSHUserAuthServer,
            b"ssh-connection": connection.SSHConnection,
        }
        keyDB = checkers.InMemorySSHKeyDB({b"alice": [ALICE_KEY.public()]})
        made.portal = Portal(
            Realm(reactor),
            [CountingPasswords(alice=b"pw", bob=b"pw"), checkers.SSHPublicKeyChecker(keyDB)],
        )
        self.factory = made
        self.connections: list[Any] = []
        built = made.buildProtocol

        def buildProtocol(addr: Any) -> Any:
            transport = built(addr)
            self.connections.append(transport)
            return transport

        made.buildProtocol = buildProtocol  # type: ignore[method-assign]
        self.port = reactor.listenTCP(0, made, interface="127.0.0.1")
        self.portNumber = int(self.port.getHost().port)


@pytest.fixture
def server(oneReactor: Any) -> Any:
    made = Server(oneReactor)
    yield made
    made.port.stopListening()


@pytest.fixture
def known(tmp_path: Path, server: Server) -> KnownHostsFile:
    return trusting(tmp_path / "known_hosts", server.portNumber)


def endpoint(
    reactor: Any, server: Server, command: bytes, known: KnownHostsFile | None, **kw: Any
) -> SSHCommandClientEndpoint:
    kw.setdefault("password", "pw")
    return SSHCommandClientEndpoint.newConnection(
        reactor, command, kw.pop("user", "alice"), "127.0.0.1", server.portNumber,
        knownHosts=known, **kw,
    )  # fmt: skip


def test_commandOutputAndExitStatusZero(oneReactor: Any, server: Server, known: Any) -> None:
    proto, reason = run(
        oneReactor, endpoint(oneReactor, server, b"echo hello; echo oops >&2", known)
    )
    assert bytes(proto.out) == b"hello\n"
    assert bytes(proto.err) == b"oops\n"
    assert reason.check(ProcessDone) and reason.check(ConnectionDone)
    assert proto.transport.getPeer().command == b"echo hello; echo oops >&2"


def test_exitStatusAndSignal(oneReactor: Any, server: Server, known: Any) -> None:
    _, reason = run(oneReactor, endpoint(oneReactor, server, b"exit 3", known))
    assert reason.check(ProcessTerminated) and reason.value.exitCode == 3
    _, reason = run(oneReactor, endpoint(oneReactor, server, b"kill -TERM $$", known))
    assert reason.check(ProcessTerminated) and reason.value.signal == 15
    assert reason.value.exitCode is None


def test_stdinAndEOF(oneReactor: Any, server: Server, known: Any) -> None:
    data = bytes(range(256)) * 12288  # 3 MiB: more than the server's window (2 MiB)
    proto, reason = run(oneReactor, endpoint(oneReactor, server, b"cat", known), stdin=data)
    assert bytes(proto.out) == data
    assert reason.check(ProcessDone)


def test_publicKeyLogin(oneReactor: Any, server: Server, known: Any) -> None:
    ep = endpoint(oneReactor, server, b"echo $0", known, password=None, keys=[ALICE_KEY])
    proto, reason = run(oneReactor, ep)
    assert bytes(proto.out) == b"/bin/sh\n" and reason.check(ProcessDone)


def test_wrongKeyRefused(oneReactor: Any, server: Server, known: Any) -> None:
    ep = endpoint(oneReactor, server, b"true", known, password=None, keys=[STRANGER_KEY])
    failure = failureOf(oneReactor, ep.connect(protocol.Factory.forProtocol(CommandOutput)))
    assert failure.check(AuthenticationFailed)


def test_wrongPasswordEndsPromptly(oneReactor: Any, server: Server, known: Any) -> None:
    """One attempt (not one per method, nor forever), and the failure comes as soon as
    the server answers (its passwordDelay is 1 s)."""
    CountingPasswords.attempts = 0
    ep = endpoint(oneReactor, server, b"true", known, password="guess")
    started = time.monotonic()
    failure = failureOf(oneReactor, ep.connect(protocol.Factory.forProtocol(CommandOutput)))
    elapsed = time.monotonic() - started
    assert failure.check(AuthenticationFailed), failure
    assert "alice@127.0.0.1" in str(failure.value)
    assert CountingPasswords.attempts == 1
    assert elapsed < 5
    runUntil(oneReactor, lambda: all(not c.transport.connected for c in server.connections))


def test_execRefused(oneReactor: Any, server: Server, known: Any) -> None:
    ep = endpoint(oneReactor, server, b"true", known, user="bob")
    failure = failureOf(oneReactor, ep.connect(protocol.Factory.forProtocol(CommandOutput)))
    assert failure.check(ConchError) and "refused to run 'true'" in str(failure.value)
    runUntil(oneReactor, lambda: not server.connections[0].transport.connected)


def test_connectionClosedAfterTheCommand(oneReactor: Any, server: Server, known: Any) -> None:
    run(oneReactor, endpoint(oneReactor, server, b"true", known))
    (transport,) = server.connections
    runUntil(oneReactor, lambda: not transport.transport.connected)


READ_A_LINE = b'read line; echo "got $line"'


def checkTwoCommands(reactor: Any, first: SSHCommandClientEndpoint) -> None:
    """``first`` runs READ_A_LINE; while it waits, a second command runs over the same
    connection; then the first gets its line."""
    running = runUntilFired(
        reactor, first.connect(protocol.Factory.forProtocol(CommandOutput)), timeout=20
    )
    again = SSHCommandClientEndpoint.existingConnection(running.transport.conn, b"echo second")
    proto, reason = run(reactor, again)
    assert bytes(proto.out) == b"second\n" and reason.check(ProcessDone)
    assert running.transport.conn.transport.transport.connected  # the first still runs
    running.transport.write(b"first\n")
    runUntilFired(reactor, running.ended, timeout=20)
    assert bytes(running.out) == b"got first\n" and running.reason.check(ProcessDone)


def test_existingConnection(oneReactor: Any, server: Server, known: Any) -> None:
    checkTwoCommands(oneReactor, endpoint(oneReactor, server, READ_A_LINE, known))
    assert len(server.connections) == 1
    runUntil(oneReactor, lambda: not server.connections[0].transport.connected)


def test_unknownHostRefusedWithoutUI(oneReactor: Any, server: Server, tmp_path: Path) -> None:
    CountingPasswords.attempts = 0
    known = KnownHostsFile.fromPath(tmp_path / "known_hosts")
    ep = endpoint(oneReactor, server, b"true", known)
    failure = failureOf(oneReactor, ep.connect(protocol.Factory.forProtocol(CommandOutput)))
    assert failure.check(UserRejectedKey)
    assert "is not in" in str(failure.value) and "SHA256:" in str(failure.value)
    assert not (tmp_path / "known_hosts").exists()
    assert CountingPasswords.attempts == 0  # the password was never sent


def test_unknownHostAcceptedAndRemembered(oneReactor: Any, server: Server, tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    ui = AcceptNewHostKeys()
    ep = endpoint(oneReactor, server, b"echo hi", KnownHostsFile.fromPath(path), ui=ui)
    proto, _ = run(oneReactor, ep)
    assert bytes(proto.out) == b"hi\n" and len(ui.accepted) == 1
    assert f"[127.0.0.1]:{server.portNumber}" in ui.accepted[0]
    assert path.read_bytes().startswith(b"|1|")
    # Next time the key is known: no question.
    again = endpoint(oneReactor, server, b"echo again", KnownHostsFile.fromPath(path))
    proto, _ = run(oneReactor, again)
    assert bytes(proto.out) == b"again\n"


def test_changedHostKeyRefused(oneReactor: Any, server: Server, tmp_path: Path) -> None:
    name = hostKeyName("127.0.0.1", server.portNumber)
    other = Key(ed25519.Ed25519PrivateKey.generate())
    known = knownHostsWith(tmp_path / "known_hosts", name, other)
    ep = endpoint(oneReactor, server, b"true", known, ui=AcceptNewHostKeys())
    failure = failureOf(oneReactor, ep.connect(protocol.Factory.forProtocol(CommandOutput)))
    assert failure.check(HostKeyChanged)
    message = str(failure.value)
    assert "has changed" in message and "ssh-keygen -R" in message and "line 1" in message


def test_cancelWhileTheServerSaysNothing(oneReactor: Any, tmp_path: Path) -> None:
    silent = protocol.Factory.forProtocol(protocol.Protocol)
    port = oneReactor.listenTCP(0, silent, interface="127.0.0.1")
    ep = SSHCommandClientEndpoint.newConnection(
        oneReactor, b"true", "alice", "127.0.0.1", port.getHost().port,
        knownHosts=KnownHostsFile.fromPath(tmp_path / "kh"),
    )  # fmt: skip
    d = ep.connect(protocol.Factory.forProtocol(CommandOutput))
    runUntil(oneReactor, lambda: True)
    oneReactor.iterate(0.1)
    d.cancel()
    failure = failureOf(oneReactor, d, timeout=5)
    assert failure.check(defer.CancelledError)
    port.stopListening()


def test_agentsAndPublicKeysAreRefusedUpFront(oneReactor: Any) -> None:
    with pytest.raises(ValueError, match="agents"):
        SSHCommandClientEndpoint.newConnection(oneReactor, b"x", "a", "h", agentEndpoint=object())
    with pytest.raises(ValueError, match="private keys"):
        SSHCommandClientEndpoint.newConnection(
            oneReactor, b"x", "a", "h", keys=[ALICE_KEY.public()]
        )


class RecordingConnection:
    """Stands in for SSHConnection under one channel: records what it was asked."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self.channels: dict[int, Any] = {}
        self.transport = None

    def sendData(self, channel: Any, data: bytes) -> None:
        self.sent.append(("data", data))

    def sendEOF(self, channel: Any) -> None:
        self.sent.append(("eof", b""))


def test_eofWaitsForTheWindow() -> None:
    """What waits for the peer's window goes before the EOF (sshd loses it otherwise)."""
    from torsion.conch.endpoints import _CommandChannel, _CommandTransport

    conn = RecordingConnection()
    channel = _CommandChannel(None, b"cat", None, defer.Deferred())
    channel.conn = conn
    channel.remoteWindowLeft, channel.remoteMaxPacket = 10, 4
    transport = _CommandTransport(channel)
    transport.write(b"0123456789abcdef")
    transport.loseWriteConnection()
    assert [kind for kind, _ in conn.sent] == ["data"] * 3
    channel.addWindowBytes(3)
    assert conn.sent[-1] == ("data", b"abc")
    channel.addWindowBytes(100)
    assert conn.sent[-2:] == [("data", b"def"), ("eof", b"")]
    assert b"".join(data for _, data in conn.sent) == b"0123456789abcdef"


def test_connectSSHThenCommands(oneReactor: Any, server: Server, known: Any) -> None:
    d = connectSSH(oneReactor, "alice", "127.0.0.1", server.portNumber, keys=[ALICE_KEY],
                   knownHosts=known)  # fmt: skip
    conn = runUntilFired(oneReactor, d, timeout=20)
    for word in (b"one", b"two"):
        ep = SSHCommandClientEndpoint.existingConnection(conn, b"echo " + word)
        proto, reason = run(oneReactor, ep)
        assert bytes(proto.out) == word + b"\n" and reason.check(ProcessDone)
    assert server.connections[0].transport.connected  # still open: ours to close
    conn.transport.loseConnection()
    runUntil(oneReactor, lambda: not server.connections[0].transport.connected)


def test_connectSSHRefused(oneReactor: Any, server: Server, known: Any) -> None:
    d = connectSSH(oneReactor, "alice", "127.0.0.1", server.portNumber, password="no",
                   knownHosts=known)  # fmt: skip
    assert failureOf(oneReactor, d).check(AuthenticationFailed)


def test_cancelWhileTheChannelOpens(oneReactor: Any, server: Server, known: Any) -> None:
    d = connectSSH(oneReactor, "alice", "127.0.0.1", server.portNumber, password="pw",
                   knownHosts=known)  # fmt: skip
    conn = runUntilFired(oneReactor, d, timeout=20)
    attempt = SSHCommandClientEndpoint.existingConnection(conn, b"echo never").connect(
        protocol.Factory.forProtocol(CommandOutput)
    )
    attempt.cancel()
    assert failureOf(oneReactor, attempt).check(defer.CancelledError)
    runUntil(oneReactor, lambda: not conn.channels)  # the channel was closed again
    proto, reason = run(oneReactor, SSHCommandClientEndpoint.existingConnection(conn, b"echo ok"))
    assert bytes(proto.out) == b"ok\n" and reason.check(ProcessDone)
    conn.transport.loseConnection()
