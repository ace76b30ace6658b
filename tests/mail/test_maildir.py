"""Tests for torsion.mail.maildir: delivery, names, flags and the POP3 mailbox."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from torsion.mail import maildir
from torsion.mail.maildir import (
    MaildirMailbox,
    MaildirWriter,
    deliverToMaildir,
    initializeMaildir,
    maildirFlags,
    maildirKey,
    maildirMessageSize,
    withMaildirFlags,
)
from torsion.mail.pop3 import IMailbox


@pytest.fixture
def box(tmp_path: Path) -> str:
    path = str(tmp_path / "Maildir")
    initializeMaildir(path)
    return path


def test_initializeMaildirMakesTheDirectoriesAndTrash(tmp_path: Path) -> None:
    path = tmp_path / "m"
    initializeMaildir(str(path))
    initializeMaildir(str(path))  # again: nothing changes, no error
    for sub in ("tmp", "new", "cur", ".Trash/tmp", ".Trash/new", ".Trash/cur"):
        assert (path / sub).is_dir()
    assert (path.stat().st_mode & 0o777) == 0o700


def test_initializeMaildirRefusesAFileInTheWay(tmp_path: Path) -> None:
    path = tmp_path / "m"
    path.mkdir()
    (path / "new").write_text("x")
    with pytest.raises(NotADirectoryError, match="in the way"):
        initializeMaildir(str(path))


def test_generatedNamesAreUniqueAndWellFormed() -> None:
    names = {maildir._generateMaildirName() for _ in range(2000)}
    assert len(names) == 2000
    name = names.pop()
    assert re.fullmatch(r"\d+\.M\d+P\d+Q\d+\.[^/:]+", name), name


def test_hostNameIsEscaped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(maildir.socket, "gethostname", lambda: "a/b:c")
    name = maildir._MaildirNameGenerator().generate()
    assert name.endswith(".a\\057b\\072c")


def test_deliverIsAtomicAndReturnsTheName(box: str) -> None:
    data = b"Subject: hi\n\nbody \xe9\n"
    name = deliverToMaildir(box, data)
    assert os.listdir(os.path.join(box, "tmp")) == []
    assert os.listdir(os.path.join(box, "new")) == [name]
    assert Path(box, "new", name).read_bytes() == data
    assert name.endswith(f",S={len(data)},W={len(data) + 3}")
    assert maildirMessageSize(os.path.join(box, "new", name)) == len(data) + 3


def test_deliverToMissingMaildirSaysWhatToDo(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="initializeMaildir"):
        deliverToMaildir(str(tmp_path / "nope"), b"x")


def test_deliverLeavesNothingInTmpOnFailure(box: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(fd: int) -> None:
        raise OSError(5, "disk on fire")

    monkeypatch.setattr(maildir.os, "fsync", broken)
    with pytest.raises(OSError, match="disk on fire"):
        deliverToMaildir(box, b"x")
    assert os.listdir(os.path.join(box, "tmp")) == []
    assert os.listdir(os.path.join(box, "new")) == []


def test_flags() -> None:
    assert maildirFlags("123.M1P2Q3.host") == ""
    assert maildirFlags("/x/cur/123.M1P2Q3.host:2,SF") == "FS"
    assert withMaildirFlags("123.host", "SFS") == "123.host:2,FS"
    assert withMaildirFlags("/d/cur/123.host:2,S", "") == "/d/cur/123.host:2,"
    assert withMaildirFlags("123.host:2,S", "RS") == "123.host:2,RS"
    assert maildirKey("/d/cur/123.host,S=5:2,RS") == "123.host,S=5"
    with pytest.raises(ValueError, match="ASCII letters"):
        withMaildirFlags("123.host", "S:")


def test_messageSizeCountedWhenNotInTheName(tmp_path: Path) -> None:
    path = tmp_path / "msg"
    path.write_bytes(b"a\nb\r\nc\r" + b"\n" + b"x" * 70000 + b"\n")
    assert maildirMessageSize(str(path)) == len(path.read_bytes()) + 2


def test_writerStreamsAndPublishes(box: str) -> None:
    writer = MaildirWriter(box, fsync=False)
    writer.write(b"line one\r")
    writer.write(b"\nline two\n")
    name = writer.finish()
    assert Path(box, "new", name).read_bytes() == b"line one\r\nline two\n"
    assert name.endswith(",S=19,W=20")
    with pytest.raises(ValueError, match="finished"):
        writer.write(b"more")


def test_writerAbortRemovesTheTmpFile(box: str) -> None:
    writer = MaildirWriter(box)
    writer.write(b"partial")
    writer.abort()
    writer.abort()
    assert os.listdir(os.path.join(box, "tmp")) == []
    assert os.listdir(os.path.join(box, "new")) == []


def _deliver(box: str, *bodies: bytes) -> list[str]:
    return [deliverToMaildir(box, body, fsync=False) for body in bodies]


def test_mailboxListsInDeliveryOrderWithCRLFSizes(box: str) -> None:
    _deliver(box, b"one\n", b"two two\n", b"three\n")
    mbox = MaildirMailbox(box)
    assert IMailbox.providedBy(mbox)
    assert mbox.listMessages() == [5, 9, 7]
    assert mbox.listMessages(1) == 9
    with mbox.getMessage(2) as f:
        assert f.read() == b"three\n"
    with pytest.raises(ValueError, match="no message 3"):
        mbox.listMessages(3)


def test_uidlIsStableAcrossSessionsAndFlags(box: str) -> None:
    (name,) = _deliver(box, b"x\n")
    first = MaildirMailbox(box).getUidl(0)
    os.rename(os.path.join(box, "new", name), os.path.join(box, "cur", name + ":2,S"))
    assert MaildirMailbox(box).getUidl(0) == first
    assert re.fullmatch(rb"[0-9a-f]{32}", first)


def test_deleteOnlyAtSyncAndIntoTrash(box: str) -> None:
    _deliver(box, b"keep\n", b"drop\n")
    mbox = MaildirMailbox(box)
    mbox.deleteMessage(1)
    assert mbox.listMessages() == [6, 0]
    with pytest.raises(ValueError, match="deleted"):
        mbox.getMessage(1)
    mbox.undeleteMessages()
    assert mbox.listMessages(1) == 6
    mbox.deleteMessage(1)
    # A session that ends without sync() changes nothing.
    assert len(MaildirMailbox(box).list) == 2
    mbox.sync()
    assert [Path(p).read_bytes() for p in MaildirMailbox(box).list] == [b"keep\n"]
    trashed = os.listdir(os.path.join(box, ".Trash", "cur"))
    assert len(trashed) == 1 and maildirFlags(trashed[0]) == "T"


def test_readMessagesAreMarkedSeenAtSync(box: str) -> None:
    _deliver(box, b"read\n", b"unread\n")
    mbox = MaildirMailbox(box)
    mbox.getMessage(0).close()
    mbox.sync()
    (cur,) = os.listdir(os.path.join(box, "cur"))
    assert maildirFlags(cur) == "S"
    assert len(os.listdir(os.path.join(box, "new"))) == 1


def test_messageMovedByAnotherReaderIsStillFound(box: str) -> None:
    (name,) = _deliver(box, b"moved\n")
    mbox = MaildirMailbox(box)
    os.rename(os.path.join(box, "new", name), os.path.join(box, "cur", name + ":2,RS"))
    with mbox.getMessage(0) as f:
        assert f.read() == b"moved\n"
    os.unlink(os.path.join(box, "cur", name + ":2,RS"))
    mbox2 = MaildirMailbox(box)
    assert mbox2.list == []
    with pytest.raises(ValueError, match="removed"):
        mbox.getMessage(0)
    mbox.sync()  # the vanished message is skipped


def test_appendMessage(box: str) -> None:
    mbox = MaildirMailbox(box)
    names: list[str] = []
    mbox.appendMessage("Subject: x\n\ny\n").addCallback(names.append)
    assert len(names) == 1
    assert os.listdir(os.path.join(box, "new")) == names


def test_stringListMailbox() -> None:
    from torsion.mail.maildir import StringListMailbox

    mbox = StringListMailbox([b"one\n", b"two two\n"])
    assert IMailbox.providedBy(mbox)
    assert mbox.listMessages() == [5, 9]
    assert mbox.getMessage(1).read() == b"two two\n"
    assert mbox.getUidl(0) != mbox.getUidl(1)
    mbox.deleteMessage(0)
    assert mbox.listMessages() == [0, 9]
    mbox.undeleteMessages()
    mbox.deleteMessage(1)
    mbox.sync()
    assert mbox.msgs == [b"one\n"]
    with pytest.raises(ValueError):
        mbox.getMessage(5)
