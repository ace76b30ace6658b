"""Shared pieces of the IMAP4 tests: a portal over MemoryAccounts or maildirs, a server
on an in-memory transport driven by a task.Clock, and sample messages."""

from __future__ import annotations

from typing import Any

from zope.interface import implementer

from torsion.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from torsion.cred.portal import IRealm, Portal
from torsion.internet.task import Clock
from torsion.internet.testing import StringTransport
from torsion.mail import imap4
from torsion.mail._imapserver import IMAP4Server

SIMPLE = (
    b"From: Alice Example <alice@example.com>\r\n"
    b"To: bob@example.org, Carol <carol@example.net>\r\n"
    b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= from Alice\r\n"
    b"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n"
    b"Message-ID: <1@example.com>\r\n"
    b"\r\n"
    b"Hello Bob,\r\nthis is the body.\r\n"
)

MULTIPART = (
    b"From: alice@example.com\r\n"
    b"To: bob@example.org\r\n"
    b"Subject: report\r\n"
    b"Date: Wed, 02 Dec 2026 09:00:00 +0100\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="XYZ"\r\n'
    b"\r\n"
    b"preamble\r\n"
    b"--XYZ\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Caf\xc3\xa9 au lait\r\n"
    b"--XYZ\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b'Content-Disposition: attachment; filename="data.bin"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"AAECAwQ=\r\n"
    b"--XYZ--\r\n"
    b"epilogue\r\n"
)


@implementer(IRealm)
class AccountRealm:
    """Gives each user the account in ``accounts`` (made on first login)."""

    def __init__(self, makeAccount: Any = None) -> None:
        self.accounts: dict[bytes, Any] = {}
        self.makeAccount = makeAccount or (lambda user: imap4.MemoryAccount(user.decode()))
        self.loggedOut: list[bytes] = []

    def requestAvatar(self, avatarId: bytes, mind: Any, *interfaces: Any) -> Any:
        assert imap4.IAccount in interfaces
        if avatarId not in self.accounts:
            self.accounts[avatarId] = self.makeAccount(avatarId)
        return imap4.IAccount, self.accounts[avatarId], lambda: self.loggedOut.append(avatarId)


def makePortal(realm: AccountRealm | None = None) -> tuple[Portal, AccountRealm]:
    realm = realm or AccountRealm()
    checker = InMemoryUsernamePasswordDatabaseDontUse(alice=b"secret", bob=b"hunter2")
    return Portal(realm, [checker]), realm


class ServerHarness:
    """An IMAP4Server on a StringTransport; ``send`` returns what it answered."""

    def __init__(
        self, server: IMAP4Server | None = None, realm: AccountRealm | None = None
    ) -> None:
        self.clock = Clock()
        self.portal, self.realm = makePortal(realm)
        self.server = server or IMAP4Server()
        self.server.portal = self.portal
        self.server.callLater = self.clock.callLater  # type: ignore[method-assign]
        self.transport = StringTransport()
        self.server.makeConnection(self.transport)
        self.greeting = self.take()

    def take(self) -> bytes:
        data = self.transport.value()
        self.transport.clear()
        return data

    def send(self, data: bytes) -> bytes:
        self.server.dataReceived(data)
        return self.take()

    def login(self, user: bytes = b"alice", password: bytes = b"secret") -> imap4.MemoryAccount:
        answer = self.send(b"L LOGIN " + user + b" " + password + b"\r\n")
        assert b"L OK" in answer, answer
        return self.realm.accounts[user]  # type: ignore[no-any-return]
