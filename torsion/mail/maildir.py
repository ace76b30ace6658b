"""Maildir mailboxes: delivery, names and flags, the POP3 mailbox, the maildir domains.

A maildir (https://cr.yp.to/proto/maildir.html) is a directory with ``tmp/``, ``new/``
and ``cur/``. A message is written whole into ``tmp/`` under a name unique to this
machine, flushed to disk, then linked into ``new/``: a reader never sees half a
message, and a crash leaves at worst a stale file in ``tmp/``. Readers that have seen a
message move it to ``cur/`` and record its flags in the name's info part
(``NAME:2,FLAGS``, flags sorted: D draft, F flagged, P passed, R replied, S seen,
T trashed). The part of a name before ``:`` is the message's key: it never changes,
so POP3 (MaildirMailbox here) and IMAP4 (torsion.mail.imap4maildir) can share one
maildir and still find a message that the other has moved or flagged.

The names this module delivers carry the message's size (``,S=BYTES``) and its size
with CRLF line ends (``,W=BYTES``, what POP3 and IMAP4 report), as Dovecot and Courier
write them, so that listing a mailbox does not read every message.

The primitives:

- ``initializeMaildir(dir)``: make a maildir (and its ``.Trash`` folder) if missing.
- ``deliverToMaildir(dir, data)``: deliver one message atomically; returns its name.
- ``maildirFlags(name)`` / ``withMaildirFlags(name, flags)``: read and set flags.
- ``maildirKey(name)``, ``maildirMessageSize(path)``: the stable key, the CRLF size.

Built on them: MaildirMessage (an SMTP IMessage that streams into a maildir),
MaildirMailbox (the POP3 mailbox), AbstractMaildirDomain and MaildirDirdbmDomain (a
domain of users, each with a maildir, with hashed passwords).
Tests: tests/mail/test_maildir.py.
"""

from __future__ import annotations

import errno
import itertools
import os
import socket
import stat
import time
from collections.abc import Iterator
from typing import IO, Any

from zope.interface import implementer

from torsion.logger import Logger
from torsion.mail._maildirdomains import AbstractMaildirDomain, MaildirDirdbmDomain
from torsion.mail.pop3 import IMailbox

__all__ = [
    "AbstractMaildirDomain",
    "MaildirDirdbmDomain",
    "MaildirMailbox",
    "MaildirMessage",
    "MaildirWriter",
    "StringListMailbox",
    "deliverToMaildir",
    "initializeMaildir",
    "maildirFlags",
    "maildirKey",
    "maildirMessageSize",
    "withMaildirFlags",
]

_log = Logger(namespace="torsion.mail.maildir")

_SUBDIRECTORIES = ("tmp", "new", "cur")
_INFO = ":2,"
_VALID_FLAGS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def initializeMaildir(dir: str) -> None:
    """Make ``dir`` a maildir: itself, ``tmp/``, ``new/``, ``cur/``, and a ``.Trash``
    folder (a maildir of its own, Maildir++ style), each only if missing.

    The directories are private to their owner (mode 0700), as mail is.

    Raises:
        OSError: a directory cannot be made (the message names it); a file of the same
            name is in the way.
    """
    for path in (dir, os.path.join(dir, ".Trash")):
        for sub in ("", *_SUBDIRECTORIES):
            target = os.path.join(path, sub) if sub else path
            try:
                os.mkdir(target, 0o700)
            except FileExistsError:
                if not os.path.isdir(target):
                    raise NotADirectoryError(
                        errno.ENOTDIR,
                        f"{target} is in the way of the maildir {dir}: it is not a "
                        "directory; move it away",
                        target,
                    ) from None


class _MaildirNameGenerator:
    """Unique maildir names: ``SECONDS.MMICROSECONDSPPIDQCOUNT.HOST``.

    The seconds and microseconds of the clock, the process id (read each time, so a
    forked child differs from its parent) and a per-process counter make a name
    unique on this host; the host name (with ``/`` and ``:`` written as ``\\057`` and
    ``\\072``, as the maildir specification asks) makes it unique across hosts that
    share the maildir.
    """

    def __init__(self, clock: Any = None) -> None:
        self._clock = clock
        self._counter = itertools.count(1)
        host = socket.gethostname() or "localhost"
        self._host = host.replace("/", "\\057").replace(":", "\\072")

    def generate(self) -> str:
        now = self._clock.seconds() if self._clock is not None else time.time()
        seconds = int(now)
        micro = int((now - seconds) * 1_000_000)
        return f"{seconds}.M{micro}P{os.getpid()}Q{next(self._counter)}.{self._host}"


_generateMaildirName = _MaildirNameGenerator().generate


def maildirKey(filename: str) -> str:
    """The part of a message's name (a path is fine) that never changes: what comes
    before the info part ``:2,FLAGS``."""
    base = os.path.basename(filename)
    return base.split(":", 1)[0]


def maildirFlags(filename: str) -> str:
    """The flags of a message, from the info part of its name (``NAME:2,FS`` gives
    ``"FS"``); ``""`` for a name without one (a message still in ``new/``)."""
    base = os.path.basename(filename)
    _, sep, info = base.partition(_INFO)
    if not sep:
        return ""
    return "".join(sorted(set(info) & _VALID_FLAGS))


def withMaildirFlags(filename: str, flags: str) -> str:
    """``filename`` (a name or a path) with its info part set to ``:2,FLAGS``: flags
    sorted and each once, as the maildir specification asks.

    Raises:
        ValueError: a flag is not an ASCII letter.
    """
    bad = set(flags) - _VALID_FLAGS
    if bad:
        raise ValueError(
            f"maildir flags are ASCII letters (D F P R S T, or a-z for keywords), not "
            f"{''.join(sorted(bad))!r}"
        )
    head, base = os.path.split(filename)
    base = base.split(":", 1)[0] + _INFO + "".join(sorted(set(flags)))
    return os.path.join(head, base) if head else base


def _crlfSize(data: bytes) -> int:
    return len(data) + data.count(b"\n") - data.count(b"\r\n")


def _sizesFromName(filename: str) -> tuple[int | None, int | None]:
    size = wireSize = None
    for field in maildirKey(filename).split(",")[1:]:
        name, _, value = field.partition("=")
        if value.isdigit():
            if name == "S":
                size = int(value)
            elif name == "W":
                wireSize = int(value)
    return size, wireSize


def maildirMessageSize(path: str) -> int:
    """The size of the message at ``path`` with CRLF line ends: what POP3's LIST and
    IMAP4's RFC822.SIZE report. Taken from the ``,W=`` field of the name when it has
    one, else counted from the file.

    Raises:
        OSError: the file cannot be read.
    """
    _, wireSize = _sizesFromName(path)
    if wireSize is not None:
        return wireSize
    total = 0
    with open(path, "rb") as f:
        lastCR = False
        while chunk := f.read(65536):
            total += _crlfSize(chunk)
            if lastCR and chunk.startswith(b"\n"):
                total -= 1
            lastCR = chunk.endswith(b"\r")
    return total


def _fsyncDirectory(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _newTmpFile(dir: str) -> tuple[str, int]:
    """A fresh file in ``dir/tmp``: its name and an open descriptor."""
    tmp = os.path.join(dir, "tmp")
    for _ in range(100):
        name = _generateMaildirName()
        try:
            fd = os.open(
                os.path.join(tmp, name),
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                0o600,
            )
        except FileExistsError:
            continue
        except FileNotFoundError:
            raise FileNotFoundError(
                errno.ENOENT,
                f"{dir} is not a maildir (it has no tmp/); make it with initializeMaildir() first",
                tmp,
            ) from None
        return name, fd
    raise FileExistsError(errno.EEXIST, f"no unique name could be made in {tmp}", tmp)


def _publish(dir: str, tmpName: str, size: int, wireSize: int, fsync: bool) -> str:
    """Move a complete file from tmp/ to new/ under its final name, which adds the
    sizes; never over an existing message."""
    final = f"{tmpName},S={size},W={wireSize}"
    source = os.path.join(dir, "tmp", tmpName)
    target = os.path.join(dir, "new", final)
    try:
        os.link(source, target)
    except FileExistsError:
        os.unlink(source)
        raise
    except OSError:
        # A filesystem without hard links: rename does the same job, at the cost of
        # overwriting a file of the same name (which unique names make impossible).
        os.rename(source, target)
    else:
        os.unlink(source)
    if fsync:
        _fsyncDirectory(os.path.join(dir, "new"))
    return final


def deliverToMaildir(dir: str, data: bytes, fsync: bool = True) -> str:
    """Deliver one message into the maildir ``dir``, atomically, and return its name in
    ``new/`` (not the path: ``os.path.join(dir, "new", name)`` is the file).

    The bytes are written as given (a maildir keeps LF line ends; SMTP's CRLF is turned
    into LF by MaildirMessage before this). The message is written to ``tmp/``,
    flushed to disk (unless ``fsync`` is false: tests, benchmarks, a tmpfs), then
    linked into ``new/``, and ``new/`` itself is flushed, so a message acknowledged
    to the sender survives a crash.

    Raises:
        OSError: the maildir is missing or not writable (nothing is left in ``tmp/``).
    """
    name, fd = _newTmpFile(dir)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if fsync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(os.path.join(dir, "tmp", name))
        raise
    os.close(fd)
    return _publish(dir, name, len(data), _crlfSize(data), fsync)


class MaildirWriter:
    """A message being delivered into a maildir piece by piece (SMTP's DATA), kept in
    ``tmp/`` until ``finish()`` publishes it; ``abort()`` removes it.

    Data is written in chunks as it arrives, so a large message does not sit in
    memory; the sizes for the name are counted on the way.
    """

    __slots__ = ("_dir", "_fd", "_lastCR", "_name", "_size", "_wireSize", "fsync")

    def __init__(self, dir: str, fsync: bool = True) -> None:
        self._dir = dir
        self._name, self._fd = _newTmpFile(dir)
        self._size = self._wireSize = 0
        self._lastCR = False
        self.fsync = fsync

    @property
    def size(self) -> int:
        """Bytes written so far."""
        return self._size

    def write(self, data: bytes) -> None:
        if self._fd < 0:
            raise ValueError("this maildir message is already finished or aborted")
        self._size += len(data)
        self._wireSize += _crlfSize(data)
        if self._lastCR and data.startswith(b"\n"):
            self._wireSize -= 1
        if data:
            self._lastCR = data.endswith(b"\r")
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except BaseException:
            self.abort()
            raise

    def finish(self) -> str:
        """Flush the message to disk and move it to ``new/``; its name there."""
        if self._fd < 0:
            raise ValueError("this maildir message is already finished or aborted")
        fd, self._fd = self._fd, -1
        try:
            if self.fsync:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(os.path.join(self._dir, "tmp", self._name))
            raise
        os.close(fd)
        return _publish(self._dir, self._name, self._size, self._wireSize, self.fsync)

    def abort(self) -> None:
        """Drop the message (its tmp/ file); nothing if already finished or aborted."""
        if self._fd < 0:
            return
        fd, self._fd = self._fd, -1
        os.close(fd)
        try:
            os.unlink(os.path.join(self._dir, "tmp", self._name))
        except FileNotFoundError:
            pass


def _listMessages(dir: str) -> Iterator[str]:
    """The paths of the messages in ``new/`` and ``cur/``, in delivery order (the
    seconds and microseconds at the start of a name, then the name)."""
    found: list[tuple[int, int, str, str]] = []
    for sub in ("new", "cur"):
        path = os.path.join(dir, sub)
        try:
            entries = os.scandir(path)
        except FileNotFoundError:
            continue
        with entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    if not stat.S_ISREG(entry.stat().st_mode):
                        continue
                except OSError:
                    continue
                found.append((*_deliveryTime(entry.name), entry.name, entry.path))
    found.sort()
    return (path for *_, path in found)


def _deliveryTime(name: str) -> tuple[int, int]:
    seconds, _, rest = name.partition(".")
    micro = 0
    if rest.startswith("M"):
        digits = rest[1:].split("P", 1)[0]
        micro = int(digits) if digits.isdigit() else 0
    return (int(seconds) if seconds.isdigit() else 0, micro)


def _findByKey(dir: str, key: str, hint: str) -> str | None:
    """Where the message with ``key`` is now: ``hint`` if it is still there, else a
    search of ``new/`` and ``cur/`` (another reader may have moved or flagged it)."""
    if os.path.exists(hint):
        return hint
    for sub in ("cur", "new"):
        path = os.path.join(dir, sub)
        try:
            names = os.listdir(path)
        except FileNotFoundError:
            continue
        for name in names:
            if name.split(":", 1)[0] == key:
                return os.path.join(path, name)
    return None


@implementer(IMailbox)
class MaildirMailbox:
    """A maildir as a POP3 mailbox (torsion.mail.pop3.IMailbox).

    The messages are those in ``new/`` and ``cur/`` when the mailbox is made (a POP3
    session sees a fixed list, RFC 1939), in delivery order. ``deleteMessage`` only
    marks a message; ``sync()`` (POP3's QUIT) moves the marked ones to the ``.Trash``
    folder and the others that were read to ``cur/`` with the S (seen) flag, so an
    IMAP4 client of the same maildir sees them read. A session that ends without
    QUIT changes nothing. Messages are found by key, so one moved or flagged by an
    IMAP4 session meanwhile is still served.
    """

    loginDelay = 0
    messageExpiration = None

    def __init__(self, path: str) -> None:
        self.path = path
        self.list: list[str] = list(_listMessages(path))
        self._sizes: list[int | None] = [None] * len(self.list)
        self.deleted: set[int] = set()
        self._read: set[int] = set()

    def __repr__(self) -> str:
        return f"<MaildirMailbox {self.path!r}: {len(self.list)} messages>"

    def _check(self, i: int) -> int:
        if not isinstance(i, int) or not 0 <= i < len(self.list):
            raise ValueError(f"no message {i!r} in this mailbox (0 to {len(self.list) - 1})")
        return i

    def _path(self, i: int) -> str:
        path = _findByKey(self.path, maildirKey(self.list[i]), self.list[i])
        if path is None:
            raise ValueError(f"message {i} was removed from the maildir by another reader")
        self.list[i] = path
        return path

    def _size(self, i: int) -> int:
        if i in self.deleted:
            return 0
        size = self._sizes[i]
        if size is None:
            try:
                size = maildirMessageSize(self._path(i))
            except (OSError, ValueError):
                size = 0
            self._sizes[i] = size
        return size

    def listMessages(self, i: int | None = None) -> Any:
        """The size of message ``i`` (CRLF line ends, as POP3 sends it), or a list of
        all the sizes; 0 for a deleted message."""
        if i is None:
            return [self._size(n) for n in range(len(self.list))]
        return self._size(self._check(i))

    def getMessage(self, i: int) -> IO[bytes]:
        """Message ``i``'s file, open for reading (the caller closes it).

        Raises:
            ValueError: no such message, or it is deleted.
        """
        if self._check(i) in self.deleted:
            raise ValueError(f"message {i} is deleted")
        f = open(self._path(i), "rb")  # noqa: SIM115 (the caller closes it)
        self._read.add(i)
        return f

    def getUidl(self, i: int) -> bytes:
        """Message ``i``'s unique id for UIDL: the hex MD5 of its key, so it stays the
        same when the message is moved or flagged, and fits POP3's 70 characters."""
        import hashlib

        key = maildirKey(self.list[self._check(i)]).encode("utf-8", "surrogateescape")
        return hashlib.md5(key, usedforsecurity=False).hexdigest().encode("ascii")

    def deleteMessage(self, i: int) -> None:
        """Mark message ``i`` for deletion at ``sync()``."""
        self.deleted.add(self._check(i))

    def undeleteMessages(self) -> None:
        """Unmark every message marked for deletion (POP3's RSET)."""
        self.deleted.clear()

    def sync(self) -> None:
        """Apply the session: deleted messages go to ``.Trash/cur`` (flag T), read ones
        to ``cur/`` with the S flag. A message that another reader removed meanwhile
        is skipped."""
        trash = os.path.join(self.path, ".Trash")
        for i in sorted(self.deleted | self._read):
            try:
                path = self._path(i)
            except ValueError:
                continue
            base = os.path.basename(path)
            if i in self.deleted:
                if not os.path.isdir(os.path.join(trash, "cur")):
                    initializeMaildir(trash)
                target = os.path.join(
                    trash, "cur", withMaildirFlags(base, maildirFlags(base) + "T")
                )
            else:
                target = os.path.join(
                    self.path, "cur", withMaildirFlags(base, maildirFlags(base) + "S")
                )
            if target == path:
                continue
            try:
                os.rename(path, target)
            except FileNotFoundError:
                continue
            self.list[i] = target
        self.deleted.clear()
        self._read.clear()

    def appendMessage(self, txt: bytes | str) -> Any:
        """Deliver a message into this maildir (it is not added to this session's
        list); a Deferred that fires with its name."""
        from torsion.internet import defer

        data = txt.encode("utf-8") if isinstance(txt, str) else bytes(txt)
        try:
            name = deliverToMaildir(self.path, data)
        except OSError:
            return defer.fail()
        return defer.succeed(name)


@implementer(IMailbox)
class StringListMailbox:
    """A POP3 mailbox of messages held in memory (Twisted's): a notice, a test."""

    loginDelay = 0
    messageExpiration = None

    def __init__(self, msgs: list[bytes]) -> None:
        self.msgs = list(msgs)
        self._delete: set[int] = set()

    def _check(self, i: int) -> int:
        if not isinstance(i, int) or not 0 <= i < len(self.msgs):
            raise ValueError(f"no message {i!r} in this mailbox")
        return i

    def listMessages(self, i: int | None = None) -> Any:
        if i is None:
            return [self.listMessages(n) for n in range(len(self.msgs))]
        if self._check(i) in self._delete:
            return 0
        return _crlfSize(self.msgs[i])

    def getMessage(self, i: int) -> IO[bytes]:
        import io

        return io.BytesIO(self.msgs[self._check(i)])

    def getUidl(self, i: int) -> bytes:
        import hashlib

        return hashlib.md5(self.msgs[self._check(i)], usedforsecurity=False).hexdigest().encode()

    def deleteMessage(self, i: int) -> None:
        self._delete.add(self._check(i))

    def undeleteMessages(self) -> None:
        self._delete.clear()

    def sync(self) -> None:
        for index in sorted(self._delete, reverse=True):
            del self.msgs[index]
        self._delete.clear()


# -- SMTP delivery into a maildir ----------------------------------------------------------


class MaildirMessage:
    """An SMTP IMessage delivered into the maildir ``path``: the lines (without their
    CRLF) are written with LF ends to a file in ``tmp/``, in 64 KiB pieces, and the
    file is moved to ``new/`` when the message is complete (``eomReceived``, whose
    Deferred fires with the name). Twisted's class takes an open file instead; this one
    makes its own, so the maildir's rules (unique name, fsync, link) are kept.
    """

    __slots__ = ("_pending", "_pendingSize", "_writer", "address", "finalName")

    _FLUSH = 65536

    def __init__(self, address: bytes | str, path: str, fsync: bool = True) -> None:
        self.address = address
        self._writer = MaildirWriter(path, fsync)
        self._pending: list[bytes] = []
        self._pendingSize = 0
        self.finalName: str | None = None

    def lineReceived(self, line: bytes) -> None:
        self._pending.append(line)
        self._pending.append(b"\n")
        self._pendingSize += len(line) + 1
        if self._pendingSize >= self._FLUSH:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._pendingSize = 0
            self._writer.write(data)

    def eomReceived(self) -> Any:
        from torsion.internet import defer

        try:
            self._flush()
            self.finalName = self._writer.finish()
        except OSError as e:
            self._writer.abort()
            _log.error(
                "delivering a message for {address} failed: {error}",
                address=_text(self.address),
                error=e,
            )
            from torsion.mail.smtp import SMTPServerError

            return defer.fail(SMTPServerError(451, b"4.3.0 Cannot store the message now"))
        return defer.succeed(self.finalName)

    def connectionLost(self) -> None:
        self._pending.clear()
        self._writer.abort()


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value
