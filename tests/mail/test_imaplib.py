"""IMAP4Server against Python's imaplib over 127.0.0.1: the real client, a real socket.

imaplib blocks, so it runs in a worker thread while the test iterates the reactor until
it is done (bounded). One test also runs on every reactor of the conformance suite.
"""

from __future__ import annotations

import email
import imaplib
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.internet import reactormixins, tlshelpers
from tests.internet.reactormixins import runUntil
from tests.mail.imaphelpers import MULTIPART, SIMPLE, AccountRealm, makePortal
from torsion.internet.default import reactorClass
from torsion.mail import imap4
from torsion.mail._imapserver import IMAP4ServerFactory
from torsion.mail.imap4maildir import MaildirAccount
from torsion.mail.maildir import deliverToMaildir

T = TypeVar("T")
reactor = reactormixins.reactor


@pytest.fixture
def oneReactor() -> Iterator[Any]:
    made = reactorClass()()
    reactormixins.trackDescriptors(made)
    try:
        yield made
    finally:
        reactormixins.closeReactor(made)


def serve(onReactor: Any, realm: AccountRealm | None = None, **kw: Any) -> tuple[int, AccountRealm]:
    portal, realm = makePortal(realm)
    factory = IMAP4ServerFactory(portal, reactor=onReactor, **kw)
    port = onReactor.listenTCP(0, factory, interface="127.0.0.1")
    return int(port.getHost().port), realm


def inThread(onReactor: Any, work: Callable[[], T], timeout: float = 20.0) -> T:
    """Run blocking ``work`` in a thread while iterating ``onReactor``; its result."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = work()
        except BaseException as e:
            box["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    runUntil(onReactor, lambda: not thread.is_alive(), timeout=timeout)
    thread.join(1)
    if "error" in box:
        raise box["error"]
    return box["result"]  # type: ignore[no-any-return]


def client(port: int) -> imaplib.IMAP4:
    return imaplib.IMAP4("127.0.0.1", port, timeout=10)


def test_imaplibReadsBackWhatItAppended(reactor: Any) -> None:
    port, _ = serve(reactor)

    def work() -> Any:
        with client(port) as c:
            c.login("alice", "secret")
            c.append("INBOX", r"(\Flagged)", None, MULTIPART)
            typ, data = c.select("INBOX")
            assert typ == "OK" and data == [b"1"]
            typ, fetched = c.fetch("1", "(RFC822 FLAGS)")
            c.logout()
            return fetched

    fetched = inThread(reactor, work)
    assert fetched[0][1] == MULTIPART
    assert b"\\Flagged" in fetched[1]


def test_fullSessionOverMemoryAccount(oneReactor: Any) -> None:
    port, _ = serve(oneReactor)

    def work() -> dict[str, Any]:
        out: dict[str, Any] = {}
        with client(port) as c:
            out["caps"] = c.capabilities
            c.login("alice", "secret")
            c.append("INBOX", None, None, SIMPLE)
            c.append("INBOX", r"(\Seen)", imaplib.Time2Internaldate(1700000000), MULTIPART)
            assert c.create("Archive")[0] == "OK"
            out["list"] = c.list()[1]
            c.select("INBOX")
            out["search"] = c.search("UTF-8", "SUBJECT", '"Grüße"'.encode())[1]
            out["since"] = c.search(None, "SINCE", "1-Dec-2026")[1]
            out["unseen"] = c.search(None, "UNSEEN")[1]
            out["uid"] = c.uid("SEARCH", None, "UID", "2:*")[1]
            out["envelope"] = c.fetch("1", "(ENVELOPE BODYSTRUCTURE)")[1]
            out["part"] = c.fetch("2", "(BODY.PEEK[2] BODY.PEEK[1]<0.4>)")[1]
            out["headers"] = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])")[1]
            out["store"] = c.store("1", "+FLAGS", r"(\Deleted)")[1]
            out["copy"] = c.copy("2", "Archive")
            out["expunge"] = c.expunge()[1]
            out["status"] = c.status("Archive", "(MESSAGES UIDNEXT)")[1]
            out["uidfetch"] = c.uid("FETCH", "2", "(FLAGS)")[1]
            c.close()
            c.logout()
        return out

    out = inThread(oneReactor, work)
    assert b"IDLE" in " ".join(out["caps"]).encode() or "IDLE" in out["caps"]
    assert b'() "/" "Archive"' in out["list"]
    assert out["search"] == [b"1"]
    assert out["since"] == [b"1"]
    assert out["unseen"] == [b"1"]
    assert out["uid"] == [b"2"]
    envelope = out["envelope"][0]
    assert b'(("Alice Example" NIL "alice" "example.com"))' in envelope
    assert out["part"][0][1] == b"AAECAwQ="
    assert out["part"][1][1] == b"Caf\xc3"
    headers = out["headers"][0][1]
    assert headers.startswith(b"From: Alice") and b"Subject:" in headers
    assert out["store"] == [b"1 (FLAGS (\\Deleted \\Recent))"]
    assert out["copy"][0] == "OK"
    assert out["expunge"] == [b"1"]
    assert out["status"] == [b'"Archive" (MESSAGES 1 UIDNEXT 2)']
    assert out["uidfetch"] == [b"1 (UID 2 FLAGS (\\Recent \\Seen))"]


def test_wrongPasswordIsRefusedAndLoggedWithoutIt(oneReactor: Any) -> None:
    port, _ = serve(oneReactor)
    from torsion.python import log

    seen: list[dict[str, Any]] = []
    log.addObserver(seen.append)
    try:

        def work() -> str:
            with client(port) as c:
                try:
                    c.login("alice", "not-the-password")
                except imaplib.IMAP4.error as e:
                    return str(e)
                return "logged in"

        answer = inThread(oneReactor, work)
    finally:
        log.removeObserver(seen.append)
    assert "AUTHENTICATIONFAILED" in answer
    text = repr(seen)
    assert "alice" in text and "not-the-password" not in text


def test_authenticatePlainWithImaplib(oneReactor: Any) -> None:
    port, _ = serve(oneReactor)

    def work() -> Any:
        with client(port) as c:
            typ, _ = c.authenticate("PLAIN", lambda _: b"\0bob\0hunter2")
            state = c.state
            c.logout()
            return typ, state

    assert inThread(oneReactor, work) == ("OK", "AUTH")


def test_starttlsThenLogin(oneReactor: Any) -> None:
    port, _ = serve(oneReactor, contextFactory=tlshelpers.serverOptions())

    def work() -> Any:
        context = ssl.create_default_context()
        tlshelpers.theCA().configure_trust(context)
        with client(port) as c:
            assert "STARTTLS" in c.capabilities
            c.starttls(context)
            caps = c.capabilities
            c.login("alice", "secret")
            typ, _ = c.select("INBOX")
            c.logout()
            return caps, typ

    caps, typ = inThread(oneReactor, work)
    assert "STARTTLS" not in caps and typ == "OK"


def test_requireTransportSecurityRefusesCleartextLogin(oneReactor: Any) -> None:
    portal, _ = makePortal()

    class Strict(imap4.IMAP4Server):
        requireTransportSecurity = True

    factory = IMAP4ServerFactory(portal, tlshelpers.serverOptions(), reactor=oneReactor)
    factory.protocol = Strict
    port = oneReactor.listenTCP(0, factory, interface="127.0.0.1").getHost().port

    def work() -> Any:
        with client(port) as c:
            caps = c.capabilities
            try:
                c.login("alice", "secret")
            except imaplib.IMAP4.error as e:
                return caps, str(e)
            return caps, "logged in"

    caps, answer = inThread(oneReactor, work)
    assert "LOGINDISABLED" in caps and "PRIVACYREQUIRED" in answer


def test_hugeLiteralRefusedAndConnectionUsable(oneReactor: Any) -> None:
    port, _ = serve(oneReactor)

    def work() -> Any:
        with client(port) as c:
            c.login("alice", "secret")
            answer, why = c.append("INBOX", None, None, b"x" * (9 * 1024 * 1024))
            refused = f"{answer} {why!r}"
            typ, data = c.select("INBOX")
            c.logout()
            return refused, typ, data

    refused, typ, data = inThread(oneReactor, work)
    assert refused.startswith("NO") and "TOOBIG" in refused
    assert (typ, data) == ("OK", [b"0"])


def test_idleSeesAMessageDeliveredMeanwhile(oneReactor: Any, tmp_path: Path) -> None:
    maildir = str(tmp_path / "alice")
    realm = AccountRealm(lambda user: MaildirAccount(maildir))
    port, _ = serve(oneReactor, realm)
    started = threading.Event()

    def work() -> Any:
        with client(port) as c:
            c.login("alice", "secret")
            c.select("INBOX")
            tag = c._new_tag()
            c.send(tag + b" IDLE\r\n")
            assert c.readline().startswith(b"+")
            started.set()
            line = c.readline()
            c.send(b"DONE\r\n")
            done = c.readline()
            return line, done, tag

    box: dict[str, Any] = {}

    def poll() -> None:
        if started.is_set():
            box["sent"] = deliverToMaildir(maildir, b"Subject: new\n\nhello\n", fsync=False)
        else:
            oneReactor.callLater(0.05, poll)

    oneReactor.callLater(0.05, poll)
    imap4.IMAP4Server.idlePollInterval, old = 0.1, imap4.IMAP4Server.idlePollInterval
    try:
        line, done, tag = inThread(oneReactor, work)
    finally:
        imap4.IMAP4Server.idlePollInterval = old
    assert line == b"* 1 EXISTS\r\n"
    assert done == tag + b" OK IDLE terminated\r\n"


def test_maildirMessageReadBackIntact(oneReactor: Any, tmp_path: Path) -> None:
    maildir = str(tmp_path / "alice")
    MaildirAccount(maildir)
    stored = MULTIPART.replace(b"\r\n", b"\n")
    deliverToMaildir(maildir, stored, fsync=False)
    realm = AccountRealm(lambda user: MaildirAccount(maildir))
    port, _ = serve(oneReactor, realm)

    def work() -> Any:
        with client(port) as c:
            c.login("alice", "secret")
            c.select("INBOX")
            data = c.fetch("1", "(BODY[] RFC822.SIZE UID)")[1]
            flags = c.fetch("1", "(FLAGS)")[1]
            c.logout()
            return data, flags

    data, flags = inThread(oneReactor, work)
    assert data[0][1] == MULTIPART
    assert b"RFC822.SIZE %d" % len(MULTIPART) in data[1]
    assert flags == [b"1 (FLAGS (\\Recent \\Seen))"]
    parsed = email.message_from_bytes(data[0][1])
    attachment = parsed.get_payload()[1]  # type: ignore[index]
    assert attachment.get_payload(decode=True) == b"\x00\x01\x02\x03\x04"
