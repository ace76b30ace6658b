"""A line protocol logging users in through a Portal over real TCP connections: a slow
hash check for one client does not hold up another client's requests."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from tests.cred.helpers import FAST_HASHERS, FakeRealm, IAvatar
from tests.internet.reactormixins import runUntil
from torsion.cred import hashing
from torsion.cred.checkers import FilePasswordDB
from torsion.cred.credentials import UsernamePassword
from torsion.cred.error import UnauthorizedLogin
from torsion.cred.portal import Portal
from torsion.internet.protocol import ClientCreator, Factory
from torsion.protocols.basic import LineReceiver


class LoginServer(LineReceiver):
    """``LOGIN user password`` answers OK/DENIED; ``PING`` answers PONG at once."""

    delimiter = b"\n"
    portal: Portal

    def lineReceived(self, line: bytes) -> None:
        words = line.split()
        if words == [b"PING"]:
            self.sendLine(b"PONG")
            return
        d = self.factory.portal.login(UsernamePassword(words[1], words[2]), None, IAvatar)

        def done(result: Any) -> None:
            self.sendLine(b"OK " + result[1].avatarId)

        def denied(reason: Any) -> None:
            reason.trap(UnauthorizedLogin)
            self.sendLine(b"DENIED")

        d.addCallbacks(done, denied)


class LineClient(LineReceiver):
    delimiter = b"\n"

    def connectionMade(self) -> None:
        self.lines: list[bytes] = []

    def lineReceived(self, line: bytes) -> None:
        self.lines.append(line)


def test_aSlowLoginDoesNotHoldUpOtherClients(
    tmp_path: Path, poolReactor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    reactor = poolReactor
    path = tmp_path / "passwd"
    path.write_text(f"alice:{hashing.hashPassword('s3cret', FAST_HASHERS['argon2id'])}\n")
    release = threading.Event()
    original = hashing.Argon2idHasher.verify

    def slow(self: Any, password: Any, hashed: Any) -> bool:
        assert release.wait(5), "the other client was not served during the hash check"
        return original(self, password, hashed)

    monkeypatch.setattr(hashing.Argon2idHasher, "verify", slow)
    factory = Factory.forProtocol(LoginServer)
    factory.portal = Portal(FakeRealm(), [FilePasswordDB(path, reactor=reactor)])  # type: ignore[attr-defined]
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    address = port.getHost()
    try:
        connect = ClientCreator(reactor, LineClient).connectTCP
        slowClient: list[Any] = []
        quickClient: list[Any] = []
        connect("127.0.0.1", address.port).addCallback(slowClient.append)
        connect("127.0.0.1", address.port).addCallback(quickClient.append)
        runUntil(reactor, lambda: slowClient and quickClient)
        slowClient[0].sendLine(b"LOGIN alice s3cret")
        runUntil(reactor, lambda: reactor.getThreadPool().working)
        quickClient[0].sendLine(b"PING")
        runUntil(reactor, lambda: quickClient[0].lines)
        assert quickClient[0].lines == [b"PONG"] and slowClient[0].lines == []
        release.set()
        runUntil(reactor, lambda: slowClient[0].lines)
        assert slowClient[0].lines == [b"OK alice"]
        slowClient[0].sendLine(b"LOGIN alice wrong")
        runUntil(reactor, lambda: len(slowClient[0].lines) == 2)
        assert slowClient[0].lines[1] == b"DENIED"
    finally:
        for client in slowClient + quickClient:
            client.transport.loseConnection()
        port.stopListening()
