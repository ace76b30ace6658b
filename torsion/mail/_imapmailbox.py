"""What IMAP4 mailboxes have in common, and the in-memory account built on it.

``MailboxBase`` keeps a mailbox's list of messages (UID, flags, internal date, a way to
load the bytes) and implements the IMailbox operations on it: counts, STATUS, FETCH,
STORE, EXPUNGE, COPY, listeners. A storage subclasses it and writes what reaches the
disk (torsion.mail.imap4maildir does). ``MemoryAccount`` with ``MemoryMailbox`` keeps
everything in memory: for tests and for servers whose mail lives elsewhere. The account
logic shared with the maildir account (hierarchy, wildcards, subscriptions) is in
``AccountBase``. Tests: tests/mail/test_imapmailbox.py and the server tests.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from zope.interface import implementer

from torsion.internet import defer
from torsion.mail._imapinterfaces import (
    IAccount,
    ICloseableMailbox,
    IMailbox,
    IMessage,
    IMessageCopier,
    IMessageFile,
    IMessagePart,
    INamespacePresenter,
    MailboxCollision,
    MailboxException,
    NoSuchMailbox,
    ReadOnlyMailbox,
)
from torsion.mail._imapmime import MessagePart, toCRLF
from torsion.mail._imapparser import MessageSet

__all__ = [
    "AccountBase",
    "MailboxBase",
    "MemoryAccount",
    "MemoryMailbox",
    "SimpleMessage",
    "wildcardToRegexp",
]

SYSTEM_FLAGS = ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")


def wildcardToRegexp(wildcard: str, delim: str | None = None) -> re.Pattern[str]:
    """A regexp matching mailbox names against a LIST pattern: ``*`` matches anything,
    ``%`` anything but the hierarchy delimiter ``delim``. Case-insensitive for INBOX."""
    parts = []
    for char in wildcard:
        if char == "*":
            parts.append(".*")
        elif char == "%":
            parts.append(f"[^{re.escape(delim)}]*" if delim else ".*")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


def formatInternalDate(seconds: float) -> str:
    """An RFC 2822 date string (what IMessage.getInternalDate returns) in local time."""
    return email.utils.formatdate(seconds, localtime=True)


def _readAll(message: Any) -> bytes:
    data = message.read() if hasattr(message, "read") else message
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, bytes | bytearray):
        raise TypeError("a message to add must be a binary file or bytes")
    return toCRLF(bytes(data))


@implementer(IMessage, IMessageFile)
class SimpleMessage:
    """A message of a mailbox as FETCH sees it: UID, flags, date and lazily its bytes.

    The bytes are loaded on first use and kept only as long as this object, which the
    mailbox makes afresh for each FETCH.
    """

    __slots__ = ("_date", "_flags", "_load", "_part", "uid")

    def __init__(
        self, uid: int, flags: Iterable[str], date: str, load: Callable[[], bytes]
    ) -> None:
        self.uid = uid
        self._flags = list(flags)
        self._date = date
        self._load = load
        self._part: MessagePart | None = None

    def part(self) -> MessagePart:
        if self._part is None:
            self._part = MessagePart(self._load())
        return self._part

    def getUID(self) -> int:
        return self.uid

    def getFlags(self) -> list[str]:
        return self._flags

    def getInternalDate(self) -> str:
        return self._date

    def getHeaders(self, negate: bool, *names: str) -> dict[str, str]:
        return self.part().getHeaders(negate, *names)

    def getBodyFile(self) -> Any:
        return self.part().getBodyFile()

    def getSize(self) -> int:
        return self.part().getSize()

    def isMultipart(self) -> bool:
        return self.part().isMultipart()

    def getSubPart(self, part: int) -> IMessagePart:
        return self.part().getSubPart(part)

    def open(self) -> Any:
        return self.part().open()

    def rawHeader(self) -> bytes:
        return self.part().rawHeader()

    def __repr__(self) -> str:
        return f"<SimpleMessage uid={self.uid} flags={self._flags!r}>"


class _Entry:
    """One message in a mailbox's list."""

    __slots__ = ("date", "flags", "key", "recent", "size", "uid")

    def __init__(self, uid: int, key: Any, flags: set[str], date: str, recent: bool) -> None:
        self.uid = uid
        self.key = key
        self.flags = flags
        self.date = date
        self.recent = recent
        self.size: int | None = None


@implementer(IMailbox, IMessageCopier, ICloseableMailbox)
class MailboxBase:
    """The IMailbox operations over a list of entries; storage is the subclass's.

    Subclasses implement ``_loadBytes(entry)``, ``_writeMessage(data, flags, date)``
    (returning the new entry's key), ``_writeFlags(entry)`` and ``_removeMessage
    (entry)``, and may override ``refresh()`` to notice changes made by others.
    """

    delimiter = "/"
    permanentFlags: tuple[str, ...] = (*SYSTEM_FLAGS, "\\*")

    def __init__(self, uidValidity: int | None = None, writeable: bool = True) -> None:
        self.messages: list[_Entry] = []
        self.listeners: list[Any] = []
        self.uidValidity = uidValidity if uidValidity is not None else int(time.time())
        self.uidNext = 1
        self.writeable = writeable
        self.closed = False

    # -- storage hooks --------------------------------------------------------

    def _loadBytes(self, entry: _Entry) -> bytes:
        raise NotImplementedError

    def _writeMessage(self, data: bytes, flags: set[str], date: str) -> Any:
        raise NotImplementedError

    def _writeFlags(self, entry: _Entry) -> None:
        pass

    def _removeMessage(self, entry: _Entry) -> None:
        pass

    def refresh(self) -> None:
        """Look for changes made by others (new messages, expunges) and tell the
        listeners; the server calls it on NOOP, CHECK and while idling."""

    # -- IMailboxInfo ---------------------------------------------------------

    def getFlags(self) -> list[str]:
        return [flag for flag in self.permanentFlags if flag != "\\*"]

    def getPermanentFlags(self) -> list[str]:
        return list(self.permanentFlags)

    def getHierarchicalDelimiter(self) -> str:
        return self.delimiter

    # -- IMailbox ---------------------------------------------------------------

    def getUIDValidity(self) -> int:
        return self.uidValidity

    def getUIDNext(self) -> int:
        return self.uidNext

    def getUID(self, message: int) -> int:
        return self.messages[message - 1].uid

    def getMessageCount(self) -> int:
        return len(self.messages)

    def getRecentCount(self) -> int:
        return sum(1 for entry in self.messages if entry.recent)

    def getUnseenCount(self) -> int:
        return sum(1 for entry in self.messages if "\\Seen" not in entry.flags)

    def isWriteable(self) -> bool:
        return self.writeable

    def destroy(self) -> None:
        self.messages = []

    def requestStatus(self, names: Iterable[str]) -> dict[str, int]:
        getters: dict[str, Callable[[], int]] = {
            "MESSAGES": self.getMessageCount,
            "RECENT": self.getRecentCount,
            "UIDNEXT": self.getUIDNext,
            "UIDVALIDITY": self.getUIDValidity,
            "UNSEEN": self.getUnseenCount,
        }
        return {name: getters[name]() for name in names if name in getters}

    def addListener(self, listener: Any) -> None:
        self.listeners.append(listener)

    def removeListener(self, listener: Any) -> None:
        self.listeners.remove(listener)

    def close(self) -> None:
        self.closed = True

    def _notify(self, method: str, *args: Any) -> None:
        for listener in list(self.listeners):
            callback = getattr(listener, method, None)
            if callback is not None:
                callback(*args)

    def addMessage(self, message: Any, flags: Iterable[str] = (), date: Any = None) -> Any:
        if not self.writeable:
            return defer.fail(ReadOnlyMailbox())
        data = _readAll(message)
        dateText = date if isinstance(date, str) and date else formatInternalDate(time.time())
        flagSet = {flag for flag in flags if flag != "\\Recent"}
        key = self._writeMessage(data, flagSet, dateText)
        return defer.succeed(self._appendEntry(key, flagSet, dateText, True, len(data)))

    def _appendEntry(
        self, key: Any, flags: set[str], date: str, recent: bool, size: int | None = None
    ) -> int:
        entry = _Entry(self.uidNext, key, flags, date, recent)
        entry.size = size
        self.uidNext += 1
        self.messages.append(entry)
        self._notify("newMessages", len(self.messages), None)
        return entry.uid

    def _numbered(self, messages: MessageSet, uid: bool) -> Iterator[tuple[int, _Entry]]:
        if uid:
            if self.messages:
                messages.last = self.messages[-1].uid
            else:
                messages.last = max(self.uidNext - 1, 1)
            for number, entry in enumerate(self.messages, 1):
                if entry.uid in messages:
                    yield number, entry
        else:
            messages.last = len(self.messages)
            for number in messages:
                if 1 <= number <= len(self.messages):
                    yield number, self.messages[number - 1]

    def _message(self, entry: _Entry) -> SimpleMessage:
        return SimpleMessage(
            entry.uid,
            sorted(entry.flags | ({"\\Recent"} if entry.recent else set())),
            entry.date,
            lambda: self._loadBytes(entry),
        )

    def fetch(self, messages: MessageSet, uid: bool) -> Iterator[tuple[int, SimpleMessage]]:
        for number, entry in list(self._numbered(messages, uid)):
            yield number, self._message(entry)

    def store(
        self, messages: MessageSet, flags: Iterable[str], mode: int, uid: bool
    ) -> dict[int, list[str]]:
        if not self.writeable:
            raise ReadOnlyMailbox()
        changed = {flag for flag in flags if flag != "\\Recent"}
        result: dict[int, list[str]] = {}
        for number, entry in list(self._numbered(messages, uid)):
            before = set(entry.flags)
            if mode > 0:
                entry.flags |= changed
            elif mode < 0:
                entry.flags -= changed
            else:
                entry.flags = set(changed)
            if entry.flags != before:
                self._writeFlags(entry)
            result[number] = sorted(entry.flags | ({"\\Recent"} if entry.recent else set()))
        return result

    def expunge(self) -> list[int]:
        if not self.writeable:
            raise ReadOnlyMailbox()
        removed = []
        kept = []
        for number, entry in enumerate(self.messages, 1):
            if "\\Deleted" in entry.flags:
                self._removeMessage(entry)
                removed.append(number)
            else:
                kept.append(entry)
        self.messages = kept
        return removed

    def copy(self, messageObject: Any) -> Any:
        """Copy a message in (COPY): its bytes, flags and internal date; its new UID."""
        if IMessageFile.providedBy(messageObject):
            data = messageObject.open().read()
        else:
            header = "".join(
                f"{name}: {value}\r\n" for name, value in messageObject.getHeaders(True).items()
            )
            data = header.encode("utf-8") + b"\r\n" + messageObject.getBodyFile().read()
        flags = [flag for flag in messageObject.getFlags() if flag != "\\Recent"]
        return self.addMessage(data, flags, messageObject.getInternalDate())


class MemoryMailbox(MailboxBase):
    """A mailbox kept in memory (keywords allowed: PERMANENTFLAGS has ``\\*``)."""

    def __init__(self, uidValidity: int | None = None, writeable: bool = True) -> None:
        super().__init__(uidValidity, writeable)
        self._data: dict[int, bytes] = {}
        self._counter = 0

    def _loadBytes(self, entry: _Entry) -> bytes:
        return self._data[entry.key]

    def _writeMessage(self, data: bytes, flags: set[str], date: str) -> Any:
        self._counter += 1
        self._data[self._counter] = data
        return self._counter

    def _removeMessage(self, entry: _Entry) -> None:
        self._data.pop(entry.key, None)


def _normalName(name: str) -> str:
    return "INBOX" if name.upper() == "INBOX" else name


@implementer(IAccount, INamespacePresenter)
class AccountBase:
    """The IAccount logic over four storage hooks: names, make, open, remove, move.

    Names are text (mailbox names from the wire are decoded from modified UTF-7 by the
    server); ``INBOX`` is case-insensitive and always there.
    """

    delimiter = "/"

    def __init__(self) -> None:
        self.subscriptions: set[str] = set()

    def _names(self) -> list[str]:
        raise NotImplementedError

    def _make(self, name: str, mbox: Any) -> None:
        raise NotImplementedError

    def _open(self, name: str, rw: bool) -> Any:
        raise NotImplementedError

    def _remove(self, name: str) -> None:
        raise NotImplementedError

    def _move(self, old: str, new: str) -> None:
        raise NotImplementedError

    def _exists(self, name: str) -> bool:
        return _normalName(name) in self._names()

    def addMailbox(self, name: str, mbox: Any = None) -> bool:
        name = _normalName(name)
        if self._exists(name):
            raise MailboxCollision(name)
        self._make(name, mbox)
        return True

    def create(self, pathspec: str) -> bool:
        name = _normalName(pathspec.rstrip(self.delimiter))
        if not name or self._exists(name):
            if name:
                raise MailboxCollision(name)
            return False
        pieces = name.split(self.delimiter)
        for depth in range(1, len(pieces) + 1):
            path = self.delimiter.join(pieces[:depth])
            if not self._exists(path):
                self._make(path, None)
        return True

    def select(self, name: str, rw: bool = True) -> Any:
        name = _normalName(name)
        if not self._exists(name):
            return None
        return self._open(name, rw)

    def delete(self, name: str) -> bool:
        name = _normalName(name)
        if name == "INBOX":
            raise MailboxException("INBOX cannot be deleted")
        if not self._exists(name):
            raise NoSuchMailbox(name)
        prefix = name + self.delimiter
        if any(other.startswith(prefix) for other in self._names()):
            raise MailboxException(f"{name} has mailboxes below it (delete them first)")
        self._remove(name)
        self.subscriptions.discard(name)
        return True

    def rename(self, oldname: str, newname: str) -> bool:
        oldname, newname = _normalName(oldname), _normalName(newname)
        if not self._exists(oldname):
            raise NoSuchMailbox(oldname)
        if self._exists(newname):
            raise MailboxCollision(newname)
        if oldname == "INBOX":
            raise MailboxException("renaming INBOX is not supported here")
        prefix = oldname + self.delimiter
        moves = [(oldname, newname)] + [
            (other, newname + other[len(oldname) :])
            for other in sorted(self._names())
            if other.startswith(prefix)
        ]
        pieces = newname.split(self.delimiter)
        for depth in range(1, len(pieces)):
            parent = self.delimiter.join(pieces[:depth])
            if not self._exists(parent):
                self._make(parent, None)
        for old, new in moves:
            self._move(old, new)
            if old in self.subscriptions:
                self.subscriptions.discard(old)
                self.subscriptions.add(new)
        return True

    def isSubscribed(self, name: str) -> bool:
        return _normalName(name) in self.subscriptions

    def subscribe(self, name: str) -> bool:
        self.subscriptions.add(_normalName(name))
        self._subscriptionsChanged()
        return True

    def unsubscribe(self, name: str) -> bool:
        name = _normalName(name)
        if name not in self.subscriptions:
            raise MailboxException(f"Not currently subscribed to {name}")
        self.subscriptions.discard(name)
        self._subscriptionsChanged()
        return True

    def _subscriptionsChanged(self) -> None:
        pass

    def listMailboxes(self, ref: str, wildcard: str) -> list[tuple[str, Any]]:
        pattern = wildcardToRegexp(ref + wildcard, self.delimiter)
        found = []
        for name in sorted(self._names()):
            if pattern.match(name) or (name == "INBOX" and pattern.match("inbox")):
                found.append((name, _MailboxInfo(self.delimiter)))
        return found

    def getPersonalNamespaces(self) -> list[list[str]]:
        return [["", self.delimiter]]

    def getSharedNamespaces(self) -> None:
        return None

    def getUserNamespaces(self) -> None:
        return None


class _MailboxInfo:
    """What LIST needs of a mailbox, without opening it."""

    __slots__ = ("_delimiter",)

    def __init__(self, delimiter: str) -> None:
        self._delimiter = delimiter

    def getFlags(self) -> list[str]:
        return []

    def getHierarchicalDelimiter(self) -> str:
        return self._delimiter


class MemoryAccount(AccountBase):
    """An account whose mailboxes live in memory; INBOX exists from the start.

    ``MemoryAccount(name)``, as in Twisted; ``_emptyMailbox(name, id)`` makes each new
    mailbox (a MemoryMailbox) and may be overridden.
    """

    def __init__(self, name: str = "") -> None:
        super().__init__()
        self.name = name
        self.mailboxes: dict[str, Any] = {}
        self.top_id = 0
        self._make("INBOX", None)

    def _emptyMailbox(self, name: str, id: int) -> Any:
        return MemoryMailbox(uidValidity=(int(time.time()) + id) & 0xFFFFFFFF or 1)

    def _names(self) -> list[str]:
        return list(self.mailboxes)

    def _make(self, name: str, mbox: Any) -> None:
        if mbox is None:
            self.top_id += 1
            mbox = self._emptyMailbox(name, self.top_id)
        self.mailboxes[name] = mbox

    def _open(self, name: str, rw: bool) -> Any:
        return self.mailboxes[name]

    def _remove(self, name: str) -> None:
        mbox = self.mailboxes.pop(name)
        destroy = getattr(mbox, "destroy", None)
        if destroy is not None:
            destroy()

    def _move(self, old: str, new: str) -> None:
        self.mailboxes[new] = self.mailboxes.pop(old)
