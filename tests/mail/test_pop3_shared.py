"""POP3 and IMAP4 on one maildir at once, and POP3 against hostile clients and on
every reactor (poplib over 127.0.0.1)."""

from __future__ import annotations

import imaplib
import os
import poplib
import socket
import ssl
from pathlib import Path
from typing import Any

from zope.interface import implementer

from tests.internet.reactormixins import reactor
from tests.mail._storehelpers import listen, mailReactor, makeService, runBlocking, tlsFiles
from torsion.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from torsion.cred.portal import IRealm, Portal
from torsion.mail import pop3
from torsion.mail.maildir import MaildirMailbox, deliverToMaildir, initializeMaildir
from torsion.mail.protocols import IMAP4Factory, POP3Factory

__all__ = ["mailReactor", "reactor"]


def test_pop3AndImap4ShareTheMaildir(tmp_path: Path, mailReactor: Any) -> None:
    service, _ = makeService(tmp_path, {"alice": "pw"}, reactor=mailReactor)
    box = tmp_path / "example.com" / "alice"
    for n in range(3):
        deliverToMaildir(str(box), b"Subject: m%d\n\nbody %d\n" % (n, n), fsync=False)
    popPort = listen(mailReactor, service.getPOP3Factory())
    imapPort = listen(mailReactor, IMAP4Factory(service, reactor=mailReactor))

    def clients() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        pop = poplib.POP3("127.0.0.1", popPort, timeout=10)
        pop.user("alice")
        pop.pass_("pw")
        assert pop.stat()[0] == 3
        # IMAP4 opens the mailbox meanwhile (moving the messages to cur/) and deletes
        # the third one.
        imap = imaplib.IMAP4("127.0.0.1", imapPort, timeout=10)
        imap.login("alice", "pw")
        imap.select("INBOX")
        imap.store("3", "+FLAGS", "(\\Deleted)")
        imap.expunge()
        # POP3 still serves the messages it listed, from their new places.
        seen["retr1"] = pop.retr(1)[1]
        try:
            pop.retr(3)
        except poplib.error_proto as e:
            seen["retr3"] = str(e)
        pop.dele(2)
        pop.quit()
        imap.logout()
        # A new IMAP4 session sees what the POP3 session did.
        imap = imaplib.IMAP4("127.0.0.1", imapPort, timeout=10)
        imap.login("alice", "pw")
        seen["exists"] = imap.select("INBOX")[1]
        _, data = imap.fetch("1:*", "(FLAGS)")
        seen["flags"] = [item for item in data if item]
        imap.logout()
        return seen

    seen = runBlocking(mailReactor, clients)
    assert seen["retr1"] == [b"Subject: m0", b"", b"body 0"]
    assert "cannot be read" in seen["retr3"]
    assert seen["exists"] == [b"1"]
    flags = b" ".join(seen["flags"])  # type: ignore[arg-type]
    assert b"\\Seen" in flags
    remaining = MaildirMailbox(str(box))
    assert len(remaining.list) == 1
    assert os.path.basename(remaining.list[0]).endswith(":2,S")


def test_imap4SessionSeesPOP3ChangesAtNOOP(tmp_path: Path, mailReactor: Any) -> None:
    service, _ = makeService(tmp_path, {"alice": "pw"}, reactor=mailReactor)
    box = tmp_path / "example.com" / "alice"
    for n in range(2):
        deliverToMaildir(str(box), b"Subject: m%d\n\nbody\n" % n, fsync=False)
    popPort = listen(mailReactor, service.getPOP3Factory())
    imapPort = listen(mailReactor, IMAP4Factory(service, reactor=mailReactor))

    def clients() -> Any:
        imap = imaplib.IMAP4("127.0.0.1", imapPort, timeout=10)
        imap.login("alice", "pw")
        imap.select("INBOX")
        pop = poplib.POP3("127.0.0.1", popPort, timeout=10)
        pop.user("alice")
        pop.pass_("pw")
        pop.retr(1)
        pop.dele(2)
        pop.quit()
        status, _ = imap.noop()
        # NOOP reports the expunge and the new flags; FETCH the state since.
        _, data = imap.fetch("1:*", "(UID FLAGS)")
        imap.logout()
        return status, [item for item in data if item and b"UID" in item]

    status, flags = runBlocking(mailReactor, clients)
    assert status == "OK"
    assert len(flags) == 1 and b"\\Seen" in flags[0]


@implementer(IRealm)
class _Realm:
    def __init__(self, root: str) -> None:
        self.root = root

    def requestAvatar(self, avatarId: bytes, mind: Any, *interfaces: Any) -> Any:
        return (
            pop3.IMailbox,
            MaildirMailbox(os.path.join(self.root, avatarId.decode())),
            lambda: None,
        )


def _plainFactory(tmp_path: Path) -> POP3Factory:
    box = tmp_path / "alice"
    initializeMaildir(str(box))
    deliverToMaildir(str(box), b"Subject: hi\n\n\xe9t\xe9\n", fsync=False)
    checker = InMemoryUsernamePasswordDatabaseDontUse(alice="secret")
    return POP3Factory(None, Portal(_Realm(str(tmp_path)), [checker]))


def test_poplibSTLSOnEveryReactor(tmp_path: Path, reactor: Any) -> None:
    factory = _plainFactory(tmp_path)
    options, caFile, _, _ = tlsFiles(tmp_path)
    factory.contextFactory = options
    port = listen(reactor, factory)
    context = ssl.create_default_context(cafile=caFile)

    # Big enough to be streamed as the TLS connection drains.
    big = b"Subject: big\n\n" + b"".join(
        b".%05d ......................\n" % i for i in range(12000)
    )
    deliverToMaildir(str(tmp_path / "alice"), big, fsync=False)

    def client() -> tuple[list[bytes], list[bytes]]:
        pop = poplib.POP3("127.0.0.1", port, timeout=10)
        try:
            pop.stls(context)
            pop.user("alice")
            pop.pass_("secret")
            lines = pop.retr(1)[1]
            bigLines = pop.retr(2)[1]
            pop.quit()
        finally:
            pop.close()
        return lines, bigLines

    lines, bigLines = runBlocking(reactor, client)
    assert lines == [b"Subject: hi", b"", b"\xe9t\xe9"]
    assert b"\n".join(bigLines) + b"\n" == big


def test_hostileClientDoesNotDisturbOthers(tmp_path: Path, mailReactor: Any) -> None:
    port = listen(mailReactor, _plainFactory(tmp_path))

    def clients() -> tuple[bytes, list[bytes]]:
        hostile = socket.create_connection(("127.0.0.1", port), timeout=10)
        hostile.recv(1000)
        # A megabyte without a line end, then garbage commands, then a good one.
        hostile.sendall(b"USER " + b"x" * 1_000_000)
        pop = poplib.POP3("127.0.0.1", port, timeout=10)
        pop.user("alice")
        pop.pass_("secret")
        lines = pop.retr(1)[1]
        pop.quit()
        hostile.sendall(b"\r\n\x00\xff\r\nRETR 1\r\nLIST 99999999999999999999\r\nNOOP\r\n")
        answers = b""
        while answers.count(b"\r\n") < 5:
            chunk = hostile.recv(65536)
            if not chunk:
                break
            answers += chunk
        hostile.close()
        return answers, lines

    answers, lines = runBlocking(mailReactor, clients)
    assert lines == [b"Subject: hi", b"", b"\xe9t\xe9"]
    assert answers.split(b"\r\n")[:5] == [
        b"-ERR line too long (the limit is 512 octets)",
        b"-ERR unknown command \\x00\\xff",
        b"-ERR RETR is not allowed before logging in",
        b"-ERR LIST is not allowed before logging in",
        b"+OK",
    ]
