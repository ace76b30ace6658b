"""MaildirAccount and its mailboxes on real maildirs in a tmp dir: UIDs that survive
restarts, flags in file names, Maildir++ folders, and a maildir shared with POP3 and
with other sessions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.mail.imaphelpers import MULTIPART, SIMPLE, AccountRealm, ServerHarness
from torsion.mail import imap4
from torsion.mail.imap4maildir import MaildirAccount, MaildirMailbox, UIDList
from torsion.mail.maildir import MaildirMailbox as POP3Mailbox
from torsion.mail.maildir import deliverToMaildir


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "alice")


def deliver(path: str, data: bytes = SIMPLE) -> str:
    return deliverToMaildir(path, data.replace(b"\r\n", b"\n"), fsync=False)


def uids(mbox: MaildirMailbox) -> list[int]:
    return [entry.uid for entry in mbox.messages]


def test_accountMakesTheMaildirAndProvidesIAccount(path: str) -> None:
    account = MaildirAccount(path)
    assert imap4.IAccount.providedBy(account)
    assert sorted(os.listdir(path)) == [".Trash", "cur", "new", "tmp"]
    assert [name for name, _ in account.listMailboxes("", "*")] == ["INBOX", "Trash"]


def test_uidsAndValiditySurviveRestarts(path: str) -> None:
    account = MaildirAccount(path)
    deliver(path)
    deliver(path)
    first = account.select("INBOX")
    validity = first.getUIDValidity()
    assert uids(first) == [1, 2] and first.getUIDNext() == 3
    deliver(path)
    again = MaildirAccount(path).select("INBOX")
    assert uids(again) == [1, 2, 3]
    assert again.getUIDValidity() == validity
    assert again.getRecentCount() == 1


def test_selectMovesNewToCurAndExamineDoesNot(path: str) -> None:
    account = MaildirAccount(path)
    deliver(path)
    examined = account.select("INBOX", rw=False)
    assert examined.getRecentCount() == 0 and len(os.listdir(os.path.join(path, "new"))) == 1
    selected = account.select("INBOX")
    assert selected.getRecentCount() == 1
    assert os.listdir(os.path.join(path, "new")) == []
    assert os.listdir(os.path.join(path, "cur"))[0].endswith(":2,")


def test_flagsAreKeptInFileNames(path: str) -> None:
    account = MaildirAccount(path)
    deliver(path)
    mbox = account.select("INBOX")
    mbox.store(imap4.MessageSet(1), ["\\Seen", "\\Flagged", "$Forwarded", "$Other"], 1, False)
    (name,) = os.listdir(os.path.join(path, "cur"))
    assert name.endswith(":2,FPS")
    reopened = MaildirAccount(path).select("INBOX")
    ((_, message),) = reopened.fetch(imap4.MessageSet(1), False)
    assert sorted(message.getFlags()) == ["$Forwarded", "\\Flagged", "\\Seen"]
    assert "$Other" not in reopened.getPermanentFlags()


def test_messagesAreServedWithCRLFAndTheirSize(path: str) -> None:
    account = MaildirAccount(path)
    deliver(path, MULTIPART)
    ((_, message),) = account.select("INBOX").fetch(imap4.MessageSet(1), False)
    assert message.open().read() == MULTIPART
    assert message.getSize() == len(MULTIPART)
    assert message.getSubPart(1).getBodyFile().read() == b"AAECAwQ="


def test_appendWritesAMaildirFileWithLFAndFlags(path: str) -> None:
    account = MaildirAccount(path)
    mbox = account.select("INBOX")
    uid = mbox.addMessage(SIMPLE, ["\\Seen"], "Tue, 01 Dec 2026 10:00:00 +0000")
    assert uid.result == 1  # type: ignore[attr-defined]
    (name,) = os.listdir(os.path.join(path, "cur"))
    assert name.endswith(":2,S")
    with open(os.path.join(path, "cur", name), "rb") as f:
        assert f.read() == SIMPLE.replace(b"\r\n", b"\n")
    assert int(os.stat(os.path.join(path, "cur", name)).st_mtime) == 1796119200
    assert uids(MaildirAccount(path).select("INBOX")) == [1]


def test_expungeRemovesFilesAndTheirUIDs(path: str) -> None:
    account = MaildirAccount(path)
    deliver(path)
    deliver(path)
    mbox = account.select("INBOX")
    mbox.store(imap4.MessageSet(1), ["\\Deleted"], 1, False)
    assert mbox.expunge() == [1]
    assert len(os.listdir(os.path.join(path, "cur"))) == 1
    uidList = UIDList(path)
    uidList.load()
    assert sorted(uidList.uids.values()) == [2] and uidList.uidNext == 3


def test_refreshSeesDeliveriesAndPOP3Deletions(path: str) -> None:
    account = MaildirAccount(path)
    deliver(path)
    deliver(path)
    mbox = account.select("INBOX")
    seen: list[tuple[str, object]] = []

    class Listener:
        def newMessages(self, exists: int, recent: int) -> None:
            seen.append(("exists", exists))

        def expungedMessages(self, numbers: list[int]) -> None:
            seen.append(("expunged", numbers))

        def flagsChanged(self, flags: dict[int, list[str]]) -> None:
            seen.append(("flags", flags))

    mbox.addListener(Listener())
    pop = POP3Mailbox(path)
    pop.getMessage(1).read()
    pop.deleteMessage(0)
    pop.sync()
    deliver(path)
    mbox.refresh()
    assert seen == [
        ("expunged", [1]),
        ("exists", 2),
        ("flags", {1: ["\\Seen"]}),
    ]
    assert uids(mbox) == [2, 3]


def test_twoSessionsNeverShareAUID(path: str) -> None:
    account = MaildirAccount(path)
    one = account.select("INBOX")
    two = MaildirAccount(path).select("INBOX")
    one.addMessage(SIMPLE)
    two.addMessage(SIMPLE)
    deliver(path)
    one.refresh()
    two.refresh()
    assert uids(one) == uids(two) == [1, 2, 3]


def test_aRemovedUIDListGetsANewValidity(path: str) -> None:
    account = MaildirAccount(path)
    deliver(path)
    old = account.select("INBOX").getUIDValidity()
    os.unlink(os.path.join(path, "torsion-uidlist"))
    assert account.select("INBOX").getUIDValidity() > old


def test_folders(path: str) -> None:
    account = MaildirAccount(path)
    assert account.create("Work.Reports")
    assert account.create("Entwürfe")
    assert sorted(n for n in os.listdir(path) if n.startswith(".")) == [
        ".Entw&APw-rfe", ".Trash", ".Work", ".Work.Reports",
    ]  # fmt: skip
    assert [n for n, _ in account.listMailboxes("", "%")] == ["Entwürfe", "INBOX", "Trash", "Work"]
    account.rename("Work", "Job")
    assert [n for n, _ in account.listMailboxes("Job.", "*")] == ["Job.Reports"]
    account.select("Job.Reports").addMessage(SIMPLE)
    assert account.select("Job.Reports").getMessageCount() == 1
    with pytest.raises(imap4.MailboxException, match="below it"):
        account.delete("Job")
    account.delete("Job.Reports")
    account.delete("Job")
    assert not os.path.exists(os.path.join(path, ".Job"))
    with pytest.raises(imap4.MailboxException, match="not a valid mailbox name"):
        account.create("a/b")
    with pytest.raises(imap4.MailboxCollision):
        account.create("Trash")


def test_subscriptionsPersist(path: str) -> None:
    account = MaildirAccount(path)
    account.create("Lists")
    account.subscribe("Lists")
    assert MaildirAccount(path).isSubscribed("Lists")
    MaildirAccount(path).unsubscribe("Lists")
    assert not MaildirAccount(path).isSubscribed("Lists")


def test_servedByIMAP4Server(path: str) -> None:
    MaildirAccount(path)
    deliver(path, MULTIPART)
    h = ServerHarness(realm=AccountRealm(lambda user: MaildirAccount(path)))
    h.login()
    assert b"* 1 EXISTS" in h.send(b"a SELECT INBOX\r\n")
    assert h.send(b"b FETCH 1 (UID BODY.PEEK[1])\r\n") == (
        b"* 1 FETCH (UID 1 BODY[1] {13}\r\nCaf\xc3\xa9 au lait)\r\nb OK FETCH completed\r\n"
    )
    deliver(path)
    assert h.send(b"c NOOP\r\n") == b"* 2 EXISTS\r\nc OK NOOP completed\r\n"
    POP3Mailbox(path).deleteMessage(0)
    pop = POP3Mailbox(path)
    pop.deleteMessage(0)
    pop.sync()
    assert h.send(b"d CHECK\r\n") == b"* 1 EXPUNGE\r\nd OK CHECK completed\r\n"
    assert h.send(b'e CREATE "Archive"\r\nf COPY 1 Archive\r\n') == (
        b"e OK CREATE completed\r\nf OK COPY completed\r\n"
    )
    assert MaildirAccount(path).select("Archive").getMessageCount() == 1
    assert h.send(b"g APPEND INBOX {8+}\r\nSubject:\r\nh FETCH 2 FLAGS\r\n") == (
        b"* 2 EXISTS\r\ng OK APPEND completed\r\n"
        b"* 2 FETCH (FLAGS (\\Recent))\r\nh OK FETCH completed\r\n"
    )
