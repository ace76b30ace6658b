"""Tests for torsion.conch.ssh.userauth, checkers and avatar, in memory: password,
publickey (offered, then signed; RSA with server-sig-algs), keyboard-interactive,
refusals with their delay, the limit on attempts, and authorized_keys files."""

from __future__ import annotations

import io
import struct
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from zope.interface import implementer

from tests.conch.sshhelpers import TrustingClient, pump, serverFactory
from torsion.conch import checkers, error
from torsion.conch.avatar import ConchUser
from torsion.conch.interfaces import IConchUser
from torsion.conch.ssh import service, transport, userauth
from torsion.conch.ssh.common import NS, getNS
from torsion.conch.ssh.keys import Key
from torsion.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from torsion.cred.credentials import SSHPrivateKey
from torsion.cred.error import UnauthorizedLogin
from torsion.cred.portal import IRealm, Portal
from torsion.internet import defer
from torsion.internet.testing import StringTransport

ALICE_KEY = Key(ed25519.Ed25519PrivateKey.generate())
ALICE_RSA = Key(rsa.generate_private_key(public_exponent=65537, key_size=2048))
STRANGER_KEY = Key(ed25519.Ed25519PrivateKey.generate())


class Connection(service.SSHService):
    """Stands in for ssh-connection: records that it started, and with which avatar."""

    name = b"ssh-connection"
    protocolMessages = {90: "CHANNEL_OPEN"}
    started: list[Connection] = []

    def serviceStarted(self) -> None:
        self.avatar = self.transport.avatar
        Connection.started.append(self)

    def ssh_CHANNEL_OPEN(self, packet: bytes) -> None:
        # No channels here: refuse, so a real client stops instead of waiting.
        _, rest = getNS(packet)
        sender = rest[:4]
        self.transport.sendPacket(92, sender + struct.pack("!L", 2) + NS(b"no") + NS(b""))


@implementer(IRealm)
class Realm:
    def __init__(self) -> None:
        self.loggedOut: list[bytes] = []

    def requestAvatar(self, avatarId: bytes, mind: object, *interfaces: Any) -> Any:
        assert IConchUser in interfaces
        user = ConchUser()
        user.username = avatarId  # type: ignore[attr-defined]
        return IConchUser, user, lambda: self.loggedOut.append(avatarId)


def portal(realm: Realm | None = None) -> Portal:
    keys = checkers.InMemorySSHKeyDB({b"alice": [ALICE_KEY.public(), ALICE_RSA.public()]})
    return Portal(
        realm or Realm(),
        [
            InMemoryUsernamePasswordDatabaseDontUse(alice=b"wonderland"),
            checkers.SSHPublicKeyChecker(keys),
        ],
    )


class Client(userauth.SSHUserAuthClient):
    def __init__(
        self, password: bytes | None = None, keys: list[Key] | None = None, **kw: Any
    ) -> None:
        super().__init__(b"alice", Connection())
        self.password = password
        self.keys = list(keys or [])
        self.given: list[Key] = []
        self.gaveUp = False
        for name, value in kw.items():
            setattr(self, name, value)

    def getPassword(self, prompt: bytes | None = None) -> Any:
        return defer.succeed(self.password)

    def getPublicKey(self) -> Any:
        if not self.keys:
            return None
        self.given.append(self.keys.pop(0))
        return self.given[-1].public()

    def getPrivateKey(self) -> Any:
        return defer.succeed(self.given[-1])

    def noMoreMethods(self) -> None:
        self.gaveUp = True
        super().noMoreMethods()


class LoggingIn(TrustingClient):
    def __init__(self, auth: Client) -> None:
        super().__init__()
        self.auth = auth

    def connectionSecure(self) -> None:
        self.requestService(self.auth)


def login(auth: Client, **server: Any) -> tuple[Any, StringTransport, LoggingIn, StringTransport]:
    Connection.started.clear()
    made = serverFactory()
    made.services = {b"ssh-userauth": userauth.SSHUserAuthServer, b"ssh-connection": Connection}
    made.portal = server.pop("portal", None) or portal()
    serverSide = made.buildProtocol(None)
    for name, value in server.items():
        setattr(serverSide, name, value)
    client = LoggingIn(auth)
    client.clock = made.clock
    serverWire, clientWire = StringTransport(), StringTransport()
    serverSide.makeConnection(serverWire)
    client.makeConnection(clientWire)
    pump(serverSide, serverWire, client, clientWire)
    return serverSide, serverWire, client, clientWire


def settle(
    server: Any, serverWire: StringTransport, client: Any, clientWire: StringTransport
) -> None:
    """Let the refusal delays pass and the sides answer each other, a few times."""
    for _ in range(5):
        server.factory.clock.advance(5)
        pump(server, serverWire, client, clientWire)


def test_passwordLogin() -> None:
    server, *_ = login(Client(password=b"wonderland"))
    assert Connection.started and Connection.started[0].avatar.username == b"alice"
    assert server.service is Connection.started[0]


def test_wrongPasswordIsRefusedAfterADelayAndNotRetried() -> None:
    auth = Client(password=b"guess")
    server, serverWire, client, clientWire = login(auth)
    assert not auth.gaveUp  # the refusal waits for passwordDelay
    settle(server, serverWire, client, clientWire)
    assert auth.gaveUp and not Connection.started
    assert server.service.loginAttempts == 2  # password, then keyboard-interactive
    assert clientWire.disconnecting


def test_publicKeyLoginOffersThenSigns() -> None:
    auth = Client(keys=[ALICE_KEY])
    server, *_ = login(auth)
    assert Connection.started
    assert server.service is Connection.started[0]


def test_rsaKeysSignWithTheServersBestAlgorithm() -> None:
    auth = Client(keys=[ALICE_RSA])
    login(auth)
    assert Connection.started
    assert auth._signatureAlgorithm(ALICE_RSA.public()) == b"rsa-sha2-512"


def test_unknownKeyFallsBackToThePassword() -> None:
    auth = Client(keys=[STRANGER_KEY], password=b"wonderland")
    login(auth)
    assert Connection.started and auth.triedPublicKeys == [STRANGER_KEY.public().blob()]


def test_keyboardInteractive() -> None:
    auth = Client(password=b"wonderland", preferredOrder=[b"keyboard-interactive"])
    login(auth)
    assert Connection.started


def test_keyboardInteractiveRefused() -> None:
    auth = Client(password=b"nope", preferredOrder=[b"keyboard-interactive"])
    server, serverWire, client, clientWire = login(auth)
    settle(server, serverWire, client, clientWire)
    assert auth.gaveUp and not Connection.started


def test_tooManyAttemptsDisconnects() -> None:
    auth = Client(password=b"guess", maxPasswordAttempts=50)
    server, serverWire, client, clientWire = login(auth)
    server.service.attemptsBeforeDisconnect = 3
    settle(server, serverWire, client, clientWire)
    assert serverWire.disconnecting
    assert client.errors[-1][0] == transport.DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE


def test_logoutIsCalledWhenTheConnectionEnds() -> None:
    realm = Realm()
    server, *_ = login(Client(password=b"wonderland"), portal=portal(realm))
    server.logoutFunction()
    assert realm.loggedOut == [b"alice"]


# -- the checker ---------------------------------------------------------------------------


def checker() -> checkers.SSHPublicKeyChecker:
    return checkers.SSHPublicKeyChecker(checkers.InMemorySSHKeyDB({b"alice": [ALICE_KEY.public()]}))


def outcome(d: defer.Deferred[Any]) -> Any:
    results: list[Any] = []
    d.addBoth(results.append)
    return results[0]


def test_checkerAsksForASignatureThenChecksIt() -> None:
    blob = ALICE_KEY.public().blob()
    unsigned = outcome(
        checker().requestAvatarId(SSHPrivateKey(b"alice", b"ssh-ed25519", blob, None, None))
    )
    assert unsigned.check(error.ValidPublicKey)
    data = b"session-bound data"
    good = SSHPrivateKey(b"alice", b"ssh-ed25519", blob, data, ALICE_KEY.sign(data))
    assert outcome(checker().requestAvatarId(good)) == b"alice"
    # A signature over other data (another session's) is refused.
    replayed = SSHPrivateKey(b"alice", b"ssh-ed25519", blob, b"other", ALICE_KEY.sign(data))
    assert outcome(checker().requestAvatarId(replayed)).check(UnauthorizedLogin)


def test_checkerRefusesStrangersAndMismatchedAlgorithms() -> None:
    stranger = STRANGER_KEY.public().blob()
    refused = outcome(
        checker().requestAvatarId(SSHPrivateKey(b"alice", b"ssh-ed25519", stranger, None, None))
    )
    assert refused.check(UnauthorizedLogin)
    blob = ALICE_KEY.public().blob()
    wrongName = SSHPrivateKey(b"alice", b"rsa-sha2-512", blob, b"d", ALICE_KEY.sign(b"d"))
    assert outcome(checker().requestAvatarId(wrongName)).check(UnauthorizedLogin)
    garbage = SSHPrivateKey(b"alice", b"ssh-ed25519", b"\0\0\0\x01x", None, None)
    assert outcome(checker().requestAvatarId(garbage)).check(UnauthorizedLogin)


AUTHORIZED = b"""\
# a comment, then a blank line

%s alice@laptop
no-pty,from="10.0.0.0/8,::1" %s with options
command="echo \\"ssh-rsa in quotes\\"" %s quoted spaces
not a key at all
ssh-ed25519 AAAAbroken
""" % (
    ALICE_KEY.public().toString("openssh"),
    ALICE_RSA.public().toString("openssh"),
    STRANGER_KEY.public().toString("openssh"),
)


def test_readAuthorizedKeyFileSkipsOptionsCommentsAndBadLines() -> None:
    keys = list(checkers.readAuthorizedKeyFile(io.BytesIO(AUTHORIZED)))
    assert keys == [ALICE_KEY.public(), ALICE_RSA.public(), STRANGER_KEY.public()]


def test_unixAuthorizedKeysFiles(tmp_path: Path) -> None:
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "authorized_keys").write_bytes(AUTHORIZED)
    (tmp_path / ".ssh" / "authorized_keys2").write_bytes(
        ALICE_KEY.public().toString("openssh") + b"\n"
    )

    class UserDB:
        def getpwnam(self, name: str) -> Any:
            if name != "alice":
                raise KeyError(name)
            return SimpleNamespace(pw_dir=str(tmp_path))

    db = checkers.UNIXAuthorizedKeysFiles(UserDB())
    assert len(list(db.getAuthorizedKeys(b"alice"))) == 4
    assert list(db.getAuthorizedKeys(b"bob")) == []


def test_conchUserLooksUpChannelsSubsystemsAndRequests() -> None:
    user = ConchUser()

    class Channel:
        def __init__(self, **kw: Any) -> None:
            self.kw = kw

    user.channelLookup[b"session"] = Channel
    made = user.lookupChannel(b"session", 100, 32768, b"")
    assert made.kw == {"remoteWindow": 100, "remoteMaxPacket": 32768, "data": b"", "avatar": user}
    with pytest.raises(error.ConchError):
        user.lookupChannel(b"x11", 1, 1, b"")
    assert user.lookupSubsystem(b"sftp", b"") is None
    user.global_tcpip_forward = lambda data: 1  # type: ignore[attr-defined]
    assert user.gotGlobalRequest(b"tcpip-forward", b"") == 1
    assert user.gotGlobalRequest(b"no-such-request", b"") == 0


def test_pipelinedRequestsAreAProtocolError() -> None:
    class Slow:
        credentialInterfaces = InMemoryUsernamePasswordDatabaseDontUse.credentialInterfaces

        def requestAvatarId(self, credentials: Any) -> defer.Deferred[bytes]:
            return defer.Deferred()  # never answers

    slowPortal = Portal(Realm(), [Slow()])
    auth = Client(password=b"x")
    server, serverWire, client, clientWire = login(auth, portal=slowPortal)
    auth.askForAuth(b"password", b"\x00" + b"\0\0\0\x01y")
    pump(server, serverWire, client, clientWire)
    assert serverWire.disconnecting
    assert client.errors[-1][0] == transport.DISCONNECT_PROTOCOL_ERROR
