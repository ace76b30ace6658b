"""A user's maildir served over IMAP4: ``MaildirAccount(path)`` is an ``imap4.IAccount``.

INBOX is the maildir itself; every other mailbox is a Maildir++ folder, a maildir named
``.Name`` inside it (``.Work.Reports`` is the mailbox ``Work.Reports``: the hierarchy
delimiter is ``.``; names that are not plain ASCII are kept in modified UTF-7, as
Courier and Dovecot do). Messages keep their flags in their file names (``:2,FRS``:
\\Flagged, \\Answered, \\Seen; D \\Draft, T \\Deleted, P $Forwarded), so POP3
(torsion.mail.maildir.MaildirMailbox), a local mail reader and IMAP4 see the same
state. Keywords other than $Forwarded are kept for the session only (PERMANENTFLAGS
says so).

UIDs and UIDVALIDITY live in ``torsion-uidlist`` in each maildir, one line per message
(``UID KEY``, the key being the part of the file name that never changes), rewritten
atomically under an exclusive lock (``torsion-uidlist.lock``), so they survive
restarts and two sessions (or a POP3 session moving files meanwhile) never give two
messages one UID. A message that another reader removed is reported as expunged at
the next NOOP, CHECK or IDLE poll; one delivered meanwhile gets the next UID.

Tests: tests/mail/test_imap4maildir.py.
"""

from __future__ import annotations

import contextlib
import email.utils
import fcntl
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from typing import Any

from zope.interface import implementer

from torsion.internet import defer
from torsion.mail import _imaputf7  # noqa: F401  (registers the imap4-utf-7 codec)
from torsion.mail._imapinterfaces import IAccount, MailboxException, ReadOnlyMailbox
from torsion.mail._imapmailbox import (
    SYSTEM_FLAGS,
    AccountBase,
    MailboxBase,
    _Entry,
    _readAll,
    formatInternalDate,
)
from torsion.mail._imapmime import toCRLF
from torsion.mail.maildir import (
    deliverToMaildir,
    initializeMaildir,
    maildirFlags,
    maildirKey,
    maildirMessageSize,
    withMaildirFlags,
)

__all__ = ["MaildirAccount", "MaildirMailbox", "UIDList"]

_FLAG_LETTERS = {
    "\\Draft": "D",
    "\\Flagged": "F",
    "$Forwarded": "P",
    "\\Answered": "R",
    "\\Seen": "S",
    "\\Deleted": "T",
}
_LETTER_FLAGS = {letter: flag for flag, letter in _FLAG_LETTERS.items()}
UIDLIST = "torsion-uidlist"
_MAX_UIDLIST = 64 * 1024 * 1024


def _letters(flags: set[str]) -> str:
    return "".join(sorted(_FLAG_LETTERS[flag] for flag in flags if flag in _FLAG_LETTERS))


def _flagsOf(name: str) -> set[str]:
    return {_LETTER_FLAGS[letter] for letter in maildirFlags(name) if letter in _LETTER_FLAGS}


class UIDList:
    """The persistent UID map of one maildir: UIDVALIDITY, the next UID, key → UID.

    Use ``with uidList.locked():`` around ``load()``, changes and ``save()`` so that
    other sessions on the same maildir wait; ``assign(keys)`` gives new keys UIDs.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.file = os.path.join(path, UIDLIST)
        self.uidValidity = 0
        self.uidNext = 1
        self.uids: dict[str, int] = {}
        self._lockFD = -1

    @contextlib.contextmanager
    def locked(self) -> Iterator[UIDList]:
        fd = os.open(self.file + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._lockFD = fd
            self.load()
            yield self
        finally:
            self._lockFD = -1
            os.close(fd)

    def _lastValidity(self) -> int:
        """The UIDVALIDITY last saved, kept in the lock file too: a new one after the
        list is lost must differ from it even within the same second."""
        if self._lockFD < 0:
            return 0
        text = os.pread(self._lockFD, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else 0

    def load(self) -> None:
        try:
            with open(self.file, "rb") as f:
                data = f.read(_MAX_UIDLIST + 1)
        except FileNotFoundError:
            data = b""
        lines = data.decode("utf-8", "replace").splitlines()
        self.uids = {}
        header = lines[0].split() if lines else []
        if len(header) >= 3 and header[0] == "1":
            try:
                self.uidValidity = int(header[1].lstrip("V"))
                self.uidNext = int(header[2].lstrip("N"))
            except ValueError:
                header = []
        if len(header) < 3 or self.uidValidity <= 0:
            # A missing or unreadable list: a new UIDVALIDITY tells clients that the
            # UIDs they cached are void.
            last = max(self.uidValidity, self._lastValidity())
            self.uidValidity = min(max(int(time.time()), last + 1), 0xFFFFFFFF)
            self.uidNext = 1
            return
        for line in lines[1:]:
            uidText, _, key = line.partition(" ")
            if uidText.isdigit() and key:
                self.uids[key] = int(uidText)
                self.uidNext = max(self.uidNext, int(uidText) + 1)

    def assign(self, keys: list[str]) -> bool:
        """Give each key without a UID the next one, in order; whether any was new."""
        changed = False
        for key in keys:
            if key not in self.uids:
                self.uids[key] = self.uidNext
                self.uidNext += 1
                changed = True
        return changed

    def save(self) -> None:
        lines = [f"1 V{self.uidValidity} N{self.uidNext}"]
        lines += [f"{uid} {key}" for key, uid in sorted(self.uids.items(), key=lambda i: i[1])]
        tmp = f"{self.file}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, self.file)
        if self._lockFD >= 0:
            stamp = b"%d\n" % self.uidValidity
            os.pwrite(self._lockFD, stamp, 0)
            os.ftruncate(self._lockFD, len(stamp))


def _scan(path: str) -> list[tuple[str, str, bool]]:
    """``(key, file path, in new/)`` for each message, in delivery order."""
    found: list[tuple[float, str, str, str, bool]] = []
    for sub in ("new", "cur"):
        try:
            entries = os.scandir(os.path.join(path, sub))
        except FileNotFoundError:
            continue
        with entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_file():
                    continue
                seconds = entry.name.partition(".")[0]
                order = float(seconds) if seconds.isdigit() else 0.0
                found.append((order, entry.name, maildirKey(entry.name), entry.path, sub == "new"))
    found.sort()
    return [(key, filePath, new) for _, _, key, filePath, new in found]


class MaildirMailbox(MailboxBase):
    """One maildir (INBOX or a folder) as an IMAP4 mailbox; see the module docstring.

    Opened read-write (SELECT), it moves the messages of ``new/`` to ``cur/`` and they
    are \\Recent in this session; opened read-only (EXAMINE), it changes nothing.
    """

    delimiter = "."
    permanentFlags = (*SYSTEM_FLAGS, "$Forwarded")

    def __init__(self, path: str, writeable: bool = True) -> None:
        super().__init__(uidValidity=1, writeable=writeable)
        self.path = path
        self._uidList = UIDList(path)
        self._byKey: dict[str, _Entry] = {}
        self._sync(initial=True)

    def __repr__(self) -> str:
        return f"<imap4maildir.MaildirMailbox {self.path!r}: {len(self.messages)} messages>"

    def _sync(self, initial: bool = False) -> None:
        """Bring the message list up to date with the maildir, under the UID lock.

        Message numbers only ever change by expunge: messages new to this session
        are appended in UID order, and since UIDs are given out under the lock, each
        is higher than every UID this session has seen.
        """
        with self._uidList.locked() as uids:
            found = _scan(self.path)
            changed = uids.assign([key for key, _, _ in found])
            present = {key for key, _, _ in found}
            stale = [key for key in uids.uids if key not in present]
            for key in stale:
                del uids.uids[key]
            if changed or stale or not os.path.exists(uids.file):
                uids.save()
            self.uidValidity = uids.uidValidity
            self.uidNext = uids.uidNext
            fresh: list[_Entry] = []
            changedFlags: dict[str, list[str]] = {}
            for key, filePath, new in found:
                entry = self._byKey.get(key)
                if entry is None:
                    recent = new and self.writeable
                    if recent:
                        filePath = self._moveToCur(filePath)
                    entry = _Entry(uids.uids[key], filePath, _flagsOf(filePath), "", recent)
                    self._byKey[key] = entry
                    fresh.append(entry)
                elif entry.key != filePath:
                    kept = {flag for flag in entry.flags if flag not in _FLAG_LETTERS}
                    flags = _flagsOf(filePath) | kept
                    entry.key = filePath
                    if flags != entry.flags:
                        entry.flags = flags
                        changedFlags[key] = sorted(flags)
        gone = [
            number
            for number, entry in enumerate(self.messages, 1)
            if maildirKey(entry.key) not in present
        ]
        if gone:
            self.messages = [e for e in self.messages if maildirKey(e.key) in present]
            for key in [key for key in self._byKey if key not in present]:
                del self._byKey[key]
            self._notify("expungedMessages", gone)
        fresh.sort(key=lambda entry: entry.uid)
        self.messages += fresh
        if fresh and not initial:
            self._notify("newMessages", len(self.messages), None)
        if changedFlags:
            numbers = {maildirKey(e.key): n for n, e in enumerate(self.messages, 1)}
            self._notify(
                "flagsChanged", {numbers[key]: flags for key, flags in changedFlags.items()}
            )

    def _moveToCur(self, filePath: str) -> str:
        target = os.path.join(self.path, "cur", withMaildirFlags(os.path.basename(filePath), ""))
        try:
            os.rename(filePath, target)
        except FileNotFoundError:
            return filePath
        return target

    def refresh(self) -> None:
        self._sync()

    def _path(self, entry: _Entry) -> str:
        path: str = entry.key
        if os.path.exists(path):
            return path
        key = maildirKey(path)
        for sub in ("cur", "new"):
            directory = os.path.join(self.path, sub)
            with contextlib.suppress(FileNotFoundError):
                for name in os.listdir(directory):
                    if maildirKey(name) == key:
                        entry.key = os.path.join(directory, name)
                        return str(entry.key)
        raise MailboxException(
            f"message UID {entry.uid} was removed from the maildir by another reader"
        )

    def _loadBytes(self, entry: _Entry) -> bytes:
        with open(self._path(entry), "rb") as f:
            return toCRLF(f.read())

    def _message(self, entry: _Entry) -> Any:
        if not entry.date:
            try:
                entry.date = formatInternalDate(os.stat(self._path(entry)).st_mtime)
            except (OSError, MailboxException):
                entry.date = formatInternalDate(time.time())
        return super()._message(entry)

    def messageSize(self, entry: _Entry) -> int:
        return maildirMessageSize(self._path(entry))

    def addMessage(self, message: Any, flags: Iterable[str] = (), date: Any = None) -> Any:
        """Deliver ``message`` straight into ``cur/`` with its flags (and the internal
        date as the file's time), then pick it up, with any other new mail, in UID
        order; a Deferred of its UID."""
        if not self.writeable:
            return defer.fail(ReadOnlyMailbox())
        data = _readAll(message).replace(b"\r\n", b"\n")
        letters = _letters({flag for flag in flags if flag != "\\Recent"})
        with self._uidList.locked() as uids:
            name = deliverToMaildir(self.path, data)
            target = os.path.join(self.path, "cur", withMaildirFlags(name, letters))
            os.rename(os.path.join(self.path, "new", name), target)
            if isinstance(date, str) and date:
                with contextlib.suppress(TypeError, ValueError, OverflowError, OSError):
                    when = email.utils.parsedate_to_datetime(date).timestamp()
                    os.utime(target, (when, when))
            uids.assign([maildirKey(name)])
            uids.save()
        self._sync()
        entry = self._byKey.get(maildirKey(name))
        if entry is None:
            return defer.fail(MailboxException("the appended message vanished at once"))
        entry.recent = True
        return defer.succeed(entry.uid)

    def _writeFlags(self, entry: _Entry) -> None:
        path = self._path(entry)
        name = withMaildirFlags(os.path.basename(path), _letters(entry.flags))
        target = os.path.join(self.path, "cur", name)
        if target != path:
            os.rename(path, target)
            entry.key = target

    def _removeMessage(self, entry: _Entry) -> None:
        with contextlib.suppress(MailboxException, FileNotFoundError):
            os.unlink(self._path(entry))
        self._byKey.pop(maildirKey(entry.key), None)
        with self._uidList.locked() as uids:
            if uids.uids.pop(maildirKey(entry.key), None) is not None:
                uids.save()


@implementer(IAccount)
class MaildirAccount(AccountBase):
    """A user's maildir (made if missing) and its Maildir++ folders, as an IAccount.

    ``MaildirAccount("/var/mail/alice")``: give it to IMAP4Server as the avatar (a
    realm returns one per login). Subscriptions are kept in ``subscriptions`` in the
    maildir, one name per line.
    """

    delimiter = "."

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = os.path.abspath(path)
        initializeMaildir(self.path)
        self._mailboxes: dict[str, MaildirMailbox] = {}
        self._subscriptionFile = os.path.join(self.path, "subscriptions")
        try:
            with open(self._subscriptionFile, encoding="utf-8") as f:
                self.subscriptions = {line.strip() for line in f if line.strip()}
        except FileNotFoundError:
            self.subscriptions = {"INBOX"}

    def __repr__(self) -> str:
        return f"<MaildirAccount {self.path!r}>"

    def _folder(self, name: str) -> str:
        if name == "INBOX":
            return self.path
        if "/" in name or name.startswith(".") or ".." in name or not name:
            raise MailboxException(
                f"{name!r} is not a valid mailbox name here (no '/', no empty levels)"
            )
        return os.path.join(self.path, "." + name.encode("imap4-utf-7").decode("ascii"))

    def _names(self) -> list[str]:
        names = ["INBOX"]
        with os.scandir(self.path) as entries:
            for entry in entries:
                if entry.name.startswith(".") and len(entry.name) > 1 and entry.is_dir():
                    if not os.path.isdir(os.path.join(entry.path, "cur")):
                        continue
                    try:
                        names.append(entry.name[1:].encode("ascii").decode("imap4-utf-7"))
                    except (UnicodeError, MailboxException, ValueError):
                        continue
        return names

    def _make(self, name: str, mbox: Any) -> None:
        folder = self._folder(name)
        for sub in ("", "tmp", "new", "cur"):
            with contextlib.suppress(FileExistsError):
                os.mkdir(os.path.join(folder, sub), 0o700)
        with contextlib.suppress(OSError):
            open(os.path.join(folder, "maildirfolder"), "ab").close()

    def _open(self, name: str, rw: bool) -> MaildirMailbox:
        # One mailbox object per name for this account (one login): an APPEND to the
        # selected mailbox is then seen by the selection, and \Recent is kept.
        mbox = self._mailboxes.get(name)
        if mbox is not None and (mbox.writeable or not rw):
            mbox.refresh()
            return mbox
        mbox = MaildirMailbox(self._folder(name), writeable=rw)
        self._mailboxes[name] = mbox
        return mbox

    def _remove(self, name: str) -> None:
        self._mailboxes.pop(name, None)
        shutil.rmtree(self._folder(name))

    def _move(self, old: str, new: str) -> None:
        self._mailboxes.pop(old, None)
        os.rename(self._folder(old), self._folder(new))

    def _subscriptionsChanged(self) -> None:
        tmp = self._subscriptionFile + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("".join(f"{name}\n" for name in sorted(self.subscriptions)))
        os.replace(tmp, self._subscriptionFile)
