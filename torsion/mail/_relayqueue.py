"""The relay queue on disk (torsion.mail.relaymanager.Queue re-exports it).

Each message is two files in one directory: ``ID-D`` (the message) and ``ID-H`` (its
envelope and retry state, JSON, so nothing on disk can run code), both written to
temporary names, fsynced and renamed, so a crash leaves either a whole message or
none. The queue's ``createMessage`` is an IMessage that a delivery can hand the SMTP
server.
Tests: tests/mail/test_relay_queue.py.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterable
from typing import Any, BinaryIO

from zope.interface import implementer

from torsion.internet.defer import Deferred, fail, succeed
from torsion.mail._smtpcore import IMessage

__all__ = ["Queue"]


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def _fsyncWrite(path: str, data: bytes) -> None:
    temporary = path + ".tmp"
    with open(temporary, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)


# -- the queue ---------------------------------------------------------------------------


@implementer(IMessage)
class _QueuedMessage:
    """The IMessage that writes a message into the queue (see Queue.createMessage)."""

    __slots__ = ("_file", "_queue", "envelope", "id")

    def __init__(self, queue: Queue, messageID: str, envelope: dict[str, Any]) -> None:
        self._queue = queue
        self.id = messageID
        self.envelope = envelope
        self._file: BinaryIO | None = open(queue._temporaryData(messageID), "wb")  # noqa: SIM115

    def lineReceived(self, line: bytes) -> None:
        assert self._file is not None
        self._file.write(line + b"\n")

    def eomReceived(self) -> Deferred[str]:
        file, self._file = self._file, None
        if file is None:
            return fail(RuntimeError("the message was already finished or abandoned"))
        try:
            file.flush()
            os.fsync(file.fileno())
            file.close()
            self._queue._commit(self.id, self.envelope)
        except OSError as e:
            self.connectionLost()
            return fail(e)
        return succeed(self.id)

    def connectionLost(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.close()
        try:
            os.remove(self._queue._temporaryData(self.id))
        except FileNotFoundError:
            pass


class Queue:
    """Messages waiting to be relayed, kept in ``directory``.

    ``waiting`` holds the ids ready to be tried, ``relayed`` those being sent now.
    Another process may add messages (with the same layout); ``readDirectory`` finds
    them.

    Args:
        directory: where the messages are kept (made if missing).
    """

    noisy = False

    def __init__(self, directory: str) -> None:
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.waiting: dict[str, None] = {}
        self.relayed: dict[str, None] = {}
        self.readDirectory()

    def __repr__(self) -> str:
        return (
            f"<Queue {self.directory!r}: {len(self.waiting)} waiting, {len(self.relayed)} relayed>"
        )

    def readDirectory(self) -> None:
        """Find the whole messages in the directory that are not known yet."""
        try:
            names = set(os.listdir(self.directory))
        except FileNotFoundError:
            os.makedirs(self.directory, exist_ok=True)
            names = set()
        for name in names:
            if name.endswith("-H") and name[:-2] + "-D" in names:
                messageID = name[:-2]
                if messageID not in self.relayed and messageID not in self.waiting:
                    self.waiting[messageID] = None

    def getWaiting(self) -> list[str]:
        """Return the ids of the messages waiting to be relayed."""
        return list(self.waiting)

    def hasWaiting(self) -> bool:
        return bool(self.waiting)

    def getRelayed(self) -> list[str]:
        """Return the ids of the messages being relayed now."""
        return list(self.relayed)

    def setRelaying(self, message: str) -> None:
        del self.waiting[message]
        self.relayed[message] = None

    def setWaiting(self, message: str) -> None:
        self.relayed.pop(message, None)
        self.waiting[message] = None

    def addMessage(self, message: str) -> None:
        if message not in self.relayed:
            self.waiting[message] = None

    def done(self, message: str) -> None:
        """Forget a message: it was sent, or bounced."""
        self.waiting.pop(message, None)
        self.relayed.pop(message, None)
        for suffix in ("-D", "-H"):
            try:
                os.remove(self.getPath(message) + suffix)
            except FileNotFoundError:
                pass

    def getPath(self, message: str) -> str:
        """Return the path of a message's files, without their ``-D``/``-H`` suffix."""
        return os.path.join(self.directory, message)

    def getEnvelopeFile(self, message: str) -> BinaryIO:
        return open(self.getPath(message) + "-H", "rb")

    def getState(self, message: str) -> dict[str, Any]:
        """Return a message's envelope and retry state (``from``, ``to``, ``created``,
        ``attempts``, ``next``, ``lastError``)."""
        with self.getEnvelopeFile(message) as f:
            state: dict[str, Any] = json.load(f)
        return state

    def setState(self, message: str, state: dict[str, Any]) -> None:
        _fsyncWrite(self.getPath(message) + "-H", json.dumps(state).encode())

    def getEnvelope(self, message: str) -> list[Any]:
        """Return ``[sender, [recipient, ...]]`` of a message."""
        state = self.getState(message)
        return [state["from"], state["to"]]

    def _newID(self) -> str:
        return f"{time.time_ns():x}-{secrets.token_hex(6)}"

    def _temporaryData(self, message: str) -> str:
        return os.path.join(self.directory, "tmp-" + message + "-D")

    def createMessage(
        self, sender: Any, recipients: Iterable[Any], now: float | None = None
    ) -> _QueuedMessage:
        """Return an IMessage that queues a message for ``recipients`` when it ends.

        The message joins ``waiting`` once its ``eomReceived`` has stored it.
        """
        envelope = {
            "from": _text(bytes(sender) if not isinstance(sender, bytes | str) else sender),
            "to": [_text(bytes(r) if not isinstance(r, bytes | str) else r) for r in recipients],
            "created": time.time() if now is None else now,
            "attempts": 0,
            "next": 0.0,
            "lastError": "",
        }
        return _QueuedMessage(self, self._newID(), envelope)

    def createNewMessage(self) -> tuple[dict[str, Any], _QueuedMessage]:
        """Return ``(envelope, message)``: fill in the envelope's ``from`` and ``to``
        before the message ends (Twisted's shape, with a dict for the header file)."""
        message = self.createMessage(b"", [])
        return message.envelope, message

    def _commit(self, messageID: str, envelope: dict[str, Any]) -> None:
        path = self.getPath(messageID)
        _fsyncWrite(path + "-H", json.dumps(envelope).encode())
        os.replace(self._temporaryData(messageID), path + "-D")
        self.addMessage(messageID)

    def addFromBytes(
        self,
        sender: bytes | str,
        recipients: Iterable[bytes | str],
        data: bytes,
        now: float | None = None,
    ) -> str:
        """Queue ``data`` (a whole message, CRLF or LF line ends) at once; return its id."""
        message = self.createMessage(sender, recipients, now)
        for line in data.replace(b"\r\n", b"\n").split(b"\n")[
            : -1 if data.endswith(b"\n") else None
        ]:
            message.lineReceived(line)
        message.eomReceived()
        return message.id

    def splitByDomain(self, message: str) -> list[str]:
        """Make a message for several domains into one message per domain.

        Each domain has its own mail exchanger, so a message is relayed per domain.
        The first domain's recipients stay in ``message``; each other domain's get a
        copy (same data, creation time and attempts). Returns every resulting id.
        """
        state = self.getState(message)
        byDomain: dict[str, list[str]] = {}
        for to in state["to"]:
            byDomain.setdefault(to.rpartition("@")[2].lower(), []).append(to)
        if len(byDomain) < 2:
            return [message]
        first, *others = byDomain.values()
        made = [message]
        path = self.getPath(message)
        for recipients in others:
            copy = dict(state, to=recipients)
            copyID = self._newID()
            copyPath = self.getPath(copyID)
            with open(path + "-D", "rb") as source, open(copyPath + "-D.tmp", "wb") as target:
                while chunk := source.read(65536):
                    target.write(chunk)
                target.flush()
                os.fsync(target.fileno())
            _fsyncWrite(copyPath + "-H", json.dumps(copy).encode())
            os.replace(copyPath + "-D.tmp", copyPath + "-D")
            if message in self.relayed:
                self.relayed[copyID] = None
            else:
                self.waiting[copyID] = None
            made.append(copyID)
        state["to"] = first
        self.setState(message, state)
        return made
