"""The IMAP4rev1 client protocol: every command a method returning a Deferred.

Commands are sent one at a time (a literal waits for the server's ``+``, or goes at
once when the server has LITERAL+). Untagged responses are gathered for the command
that is running; the ones nobody asked for (EXISTS, EXPUNGE, FLAGS changes, while
idling or between commands) go to ``newMessages``, ``messagesExpunged`` and
``flagsChanged``, which a subclass overrides. A hostile server cannot make the client
buffer without bound: lines and literals have limits (``maxLineLength``,
``maxLiteralSize``); past them the connection is dropped and every waiting Deferred
fails.

Results keep Twisted's shapes: ``select`` gives a dict (``EXISTS``, ``FLAGS``,
``UIDVALIDITY``...), ``fetch*`` give ``{messageNumber: {item: value}}`` where atoms
are str (``"UID": "7"``, as Twisted gives them) and message data (``RFC822``,
``BODY[...]``) is bytes, ``search`` a list of ints.
Tests: tests/mail/test_imapclient.py.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable
from typing import Any

from torsion.internet import defer
from torsion.internet.defer import Deferred
from torsion.internet.error import ConnectionDone
from torsion.internet.protocol import Protocol
from torsion.mail import _imaputf7  # noqa: F401  (registers the imap4-utf-7 codec)
from torsion.mail._imapfetch import internalDate, quoted
from torsion.mail._imapinterfaces import (
    IllegalServerResponse,
    NegativeResponse,
    NoSupportedAuthentication,
)
from torsion.mail._imapparser import IllegalClientResponse, MessageSet, Str, Token, tokenize
from torsion.python.failure import Failure

__all__ = ["IMAP4Client"]

_List = list  # IMAP4Client.list (the command) hides the builtin in the class body

_LITERAL_AT_END = re.compile(rb"\{([0-9]{1,20})\}\Z")
_CODE = re.compile(rb"\[([^\]]*)\]\s?(.*)\Z", re.DOTALL)


class _Command:
    __slots__ = ("chunks", "continuation", "deferred", "name", "tag", "untagged")

    def __init__(
        self, name: bytes, chunks: list[bytes],
        continuation: Callable[[bytes], None] | None = None,
    ) -> None:  # fmt: skip
        self.name = name
        self.chunks = chunks
        self.continuation = continuation
        self.deferred: Deferred[tuple[list[bytes], bytes]] = Deferred()
        self.tag = b""
        self.untagged: list[bytes] = []


def _text(token: Token) -> Any:
    """Tokens as Python values: atoms str (NIL None), strings bytes, lists lists."""
    if isinstance(token, list):
        return [_text(item) for item in token]
    if isinstance(token, Str):
        return bytes(token)
    if token.upper() == b"NIL":
        return None
    return token.decode("utf-8", "replace")


def _str(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_str(v) for v in value]
    return value


def _messages(messages: MessageSet | str | int) -> bytes:
    return str(messages).encode("ascii")


def _name(mailbox: str | bytes) -> bytes:
    if isinstance(mailbox, bytes):
        return quoted(mailbox)
    return quoted(mailbox.encode("imap4-utf-7"))


class IMAP4Client(Protocol):
    """The client side of one IMAP4 connection; see the module docstring.

    ``contextFactory`` is what ``startTLS()`` uses when given none.
    """

    maxLineLength = 64 * 1024
    maxLiteralSize = 64 * 1024 * 1024

    def __init__(self, contextFactory: Any = None) -> None:
        self.context = contextFactory
        self.authenticators: dict[bytes, Any] = {}
        self._capCache: dict[str, _List[str] | None] | None = None
        self._buffer = bytearray()
        self._parts: _List[bytes] = []
        self._literal = 0
        self._queue: _List[_Command] = []
        self._current: _Command | None = None
        self._tagCount = 0
        self.state = "unauth"
        self._greeted = False
        self._idling: Deferred[Any] | None = None

    # -- callbacks a subclass may override ------------------------------------------

    def serverGreeting(self, caps: dict[str, _List[str] | None] | None) -> None:
        """The server said hello; ``caps`` is its capabilities if it sent them."""

    def newMessages(self, exists: int | None, recent: int | None) -> None:
        """The selected mailbox now has ``exists`` messages (or ``recent`` new ones)."""

    def messagesExpunged(self, number: int) -> None:
        """Message number ``number`` was expunged by someone else."""

    def flagsChanged(self, newFlags: dict[int, _List[str]]) -> None:
        """Flags of messages changed outside a command of ours."""

    def modeChanged(self, writeable: bool) -> None:
        """The selected mailbox became read-only or writeable."""

    # -- connection ---------------------------------------------------------------------

    def connectionLost(self, reason: object = None) -> None:
        failure = reason if isinstance(reason, Failure) else Failure(ConnectionDone())
        pending = ([self._current] if self._current else []) + self._queue
        self._current, self._queue = None, []
        for command in pending:
            command.deferred.errback(failure)

    def dataReceived(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while buffer:
            if self._literal:
                take = min(self._literal, len(buffer))
                self._parts.append(bytes(buffer[:take]))
                del buffer[:take]
                self._literal -= take
                continue
            end = buffer.find(b"\r\n")
            if end < 0:
                if len(buffer) > self.maxLineLength:
                    self._protocolError("a line from the server is too long")
                break
            line = bytes(buffer[:end])
            del buffer[: end + 2]
            match = _LITERAL_AT_END.search(line)
            if match is not None:
                size = int(match.group(1))
                if size > self.maxLiteralSize:
                    self._protocolError(f"the server sent a literal of {size} bytes")
                    return
                self._parts.append(line + b"\r\n")
                self._literal = size
                continue
            self._parts.append(line)
            response, self._parts = b"".join(self._parts), []
            try:
                self._responseReceived(response)
            except (IllegalClientResponse, IllegalServerResponse, ValueError, IndexError) as e:
                self._protocolError(f"cannot parse the server's response: {e}")
                return
            if self.transport is None or self.transport.disconnecting:
                return

    def _protocolError(self, why: str) -> None:
        self._buffer.clear()
        failure = Failure(IllegalServerResponse(why))
        pending = ([self._current] if self._current else []) + self._queue
        self._current, self._queue = None, []
        for command in pending:
            command.deferred.errback(failure)
        self.transport.loseConnection()

    def _responseReceived(self, response: bytes) -> None:
        if response.startswith(b"+"):
            command = self._current
            if command is None:
                raise IllegalServerResponse("a continuation request with no command")
            text = response[2:] if response.startswith(b"+ ") else response[1:]
            if command.chunks:
                self._sendChunk(command)
            elif command.continuation is not None:
                command.continuation(text)
            return
        tag, _, rest = response.partition(b" ")
        if tag == b"*":
            self._untaggedReceived(rest)
            return
        command = self._current
        if command is None or tag != command.tag:
            raise IllegalServerResponse(f"a response for an unknown tag {tag[:20]!r}")
        status, _, text = rest.partition(b" ")
        self._current = None
        if status.upper() == b"OK":
            command.deferred.callback((command.untagged, text))
        else:
            command.deferred.errback(NegativeResponse(text.decode("utf-8", "replace")))
        self._sendNext()

    def _untaggedReceived(self, rest: bytes) -> None:
        word, _, more = rest.partition(b" ")
        if not self._greeted:
            self._greeted = True
            if word.upper() == b"PREAUTH":
                self.state = "auth"
            if word.upper() in (b"OK", b"PREAUTH"):
                self.serverGreeting(self._codeCapabilities(more))
            else:
                self.transport.loseConnection()
            return
        upper = more.split(b" ", 1)[0].upper()
        command = self._current
        if word.isdigit():
            number = int(word)
            mine = command is not None and command.name in (b"SELECT", b"EXAMINE")
            if upper == b"EXISTS" and not mine:
                self.newMessages(number, None)
            elif upper == b"RECENT" and not mine:
                self.newMessages(None, number)
            elif upper == b"EXPUNGE" and (command is None or command.name != b"EXPUNGE"):
                self.messagesExpunged(number)
            elif upper == b"FETCH" and (
                command is None or command.name.split()[-1] not in (b"FETCH", b"STORE")
            ):
                items = _fetchItems(more[6:])
                if "FLAGS" in items:
                    self.flagsChanged({number: items["FLAGS"]})
        elif word.upper() == b"CAPABILITY":
            self._capCache = _capabilities(more)
        if command is not None:
            command.untagged.append(rest)

    def _codeCapabilities(self, text: bytes) -> dict[str, _List[str] | None] | None:
        match = _CODE.match(text)
        if match and match.group(1).upper().startswith(b"CAPABILITY "):
            self._capCache = _capabilities(match.group(1)[11:])
            return self._capCache
        return None

    def connectionMade(self) -> None:
        self.state = "unauth"

    # -- sending ------------------------------------------------------------------------

    def _nextTag(self) -> bytes:
        self._tagCount += 1
        return b"A%04d" % self._tagCount

    def sendCommand(self, command: _Command) -> Deferred[tuple[_List[bytes], bytes]]:
        self._queue.append(command)
        if self._current is None:
            self._sendNext()
        return command.deferred

    def _sendNext(self) -> None:
        if self._current is not None or not self._queue or self.transport is None:
            return
        command = self._current = self._queue.pop(0)
        command.tag = self._nextTag()
        command.chunks[0] = command.tag + b" " + command.chunks[0]
        self._sendChunk(command)

    def _sendChunk(self, command: _Command) -> None:
        literalPlus = self._capCache is not None and "LITERAL+" in self._capCache
        while command.chunks:
            chunk = command.chunks.pop(0)
            if command.chunks and literalPlus:
                chunk = chunk[:-1] + b"+}"
            self.transport.write(chunk + b"\r\n")
            if command.chunks and not literalPlus:
                return

    def _simple(self, name: bytes, *args: bytes) -> Deferred[tuple[_List[bytes], bytes]]:
        return self.sendCommand(_Command(name, [b" ".join((name, *args))]))

    def _done(self, name: bytes, *args: bytes) -> Deferred[Any]:
        return self._simple(name, *args).addCallback(lambda result: result[1])

    # -- commands -----------------------------------------------------------------------

    def getCapabilities(self, useCache: bool = True) -> Deferred[dict[str, _List[str] | None]]:
        """The server's capabilities: ``{"IMAP4rev1": None, "AUTH": ["PLAIN"], ...}``."""
        if useCache and self._capCache is not None:
            return defer.succeed(self._capCache)

        def got(_: object) -> dict[str, _List[str] | None]:
            return self._capCache or {}

        return self._simple(b"CAPABILITY").addCallback(got)

    def noop(self) -> Deferred[Any]:
        return self._simple(b"NOOP").addCallback(lambda r: r[0])

    def logout(self) -> Deferred[Any]:
        def closed(result: Any) -> Any:
            self.transport.loseConnection()
            return result

        self.state = "logout"
        return self._simple(b"LOGOUT").addCallback(closed).addCallback(lambda r: r[1])

    def startTLS(self, contextFactory: Any = None) -> Deferred[Any]:
        """STARTTLS, then TLS on the connection; the capabilities are asked again."""
        context = contextFactory or self.context
        if context is None:
            return defer.fail(ValueError("startTLS needs a contextFactory (none was given)"))

        def started(_: object) -> Deferred[dict[str, _List[str] | None]]:
            self.transport.startTLS(context)
            self._capCache = None
            return self.getCapabilities(useCache=False)

        return self._simple(b"STARTTLS").addCallback(started)

    def login(self, username: bytes | str, password: bytes | str) -> Deferred[Any]:
        user = username.encode() if isinstance(username, str) else username
        secret = password.encode() if isinstance(password, str) else password

        def loggedIn(result: Any) -> Any:
            self.state = "auth"
            self._capCache = None
            return result[1]

        return self._simple(b"LOGIN", quoted(user), quoted(secret)).addCallback(loggedIn)

    def registerAuthenticator(self, auth: Any) -> None:
        """Offer ``auth`` (an IClientAuthentication, e.g. PLAINAuthenticator) in
        ``authenticate``."""
        self.authenticators[auth.getName().upper()] = auth

    def authenticate(self, secret: bytes | str) -> Deferred[Any]:
        """AUTHENTICATE with the first registered mechanism the server offers."""
        password = secret.encode() if isinstance(secret, str) else secret

        def chosen(caps: dict[str, _List[str] | None]) -> Deferred[Any]:
            offered = [name.upper().encode() for name in caps.get("AUTH") or []]
            for name, auth in self.authenticators.items():
                if name in offered:
                    return self._authenticate(auth, password)
            raise NoSupportedAuthentication(offered, list(self.authenticators))

        return self.getCapabilities().addCallback(chosen)

    def _authenticate(self, auth: Any, secret: bytes) -> Deferred[Any]:
        command: _Command

        def answer(text: bytes) -> None:
            try:
                challenge = base64.b64decode(text)
            except ValueError:
                challenge = text
            response = auth.challengeResponse(secret, challenge)
            self.transport.write(base64.b64encode(response) + b"\r\n")

        def done(result: Any) -> Any:
            self.state = "auth"
            self._capCache = None
            return result[1]

        command = _Command(b"AUTHENTICATE", [b"AUTHENTICATE " + auth.getName()], answer)
        return self.sendCommand(command).addCallback(done)

    def select(self, mailbox: str | bytes) -> Deferred[dict[str, Any]]:
        """SELECT; a dict of what the server said (EXISTS, RECENT, FLAGS, UIDVALIDITY,
        UIDNEXT, PERMANENTFLAGS, UNSEEN, READ-WRITE)."""
        return self._select(b"SELECT", mailbox)

    def examine(self, mailbox: str | bytes) -> Deferred[dict[str, Any]]:
        return self._select(b"EXAMINE", mailbox)

    def _select(self, name: bytes, mailbox: str | bytes) -> Deferred[dict[str, Any]]:
        def parse(result: tuple[_List[bytes], bytes]) -> dict[str, Any]:
            untagged, text = result
            info: dict[str, Any] = {"READ-WRITE": b"[READ-WRITE]" in text.upper()}
            for line in untagged:
                word, _, rest = line.partition(b" ")
                if word.isdigit():
                    info[rest.strip().upper().decode()] = int(word)
                elif word.upper() == b"FLAGS":
                    info["FLAGS"] = tuple(_str(_text(tokenize(rest)[0])))
                elif word.upper() == b"OK":
                    match = _CODE.match(rest)
                    if match is None:
                        continue
                    code, _, value = match.group(1).partition(b" ")
                    key = code.upper().decode("ascii", "replace")
                    if key in ("UIDVALIDITY", "UIDNEXT", "UNSEEN"):
                        info[key] = int(value)
                    elif key == "PERMANENTFLAGS":
                        info[key] = tuple(_str(_text(tokenize(value)[0])))
            return info

        def selected(info: dict[str, Any]) -> dict[str, Any]:
            self.state = "select"
            return info

        return self._simple(name, _name(mailbox)).addCallback(parse).addCallback(selected)

    def create(self, name: str | bytes) -> Deferred[Any]:
        return self._done(b"CREATE", _name(name))

    def delete(self, name: str | bytes) -> Deferred[Any]:
        return self._done(b"DELETE", _name(name))

    def rename(self, oldname: str | bytes, newname: str | bytes) -> Deferred[Any]:
        return self._done(b"RENAME", _name(oldname), _name(newname))

    def subscribe(self, name: str | bytes) -> Deferred[Any]:
        return self._done(b"SUBSCRIBE", _name(name))

    def unsubscribe(self, name: str | bytes) -> Deferred[Any]:
        return self._done(b"UNSUBSCRIBE", _name(name))

    def list(self, reference: str | bytes, wildcard: str | bytes) -> Deferred[_List[Any]]:
        """LIST: ``[(flags tuple, delimiter, name), ...]``, names decoded."""
        return self._list(b"LIST", reference, wildcard)

    def lsub(self, reference: str | bytes, wildcard: str | bytes) -> Deferred[_List[Any]]:
        return self._list(b"LSUB", reference, wildcard)

    def _list(self, name: bytes, reference: str | bytes, wildcard: str | bytes) -> Deferred[Any]:
        def parse(result: tuple[_List[bytes], bytes]) -> _List[Any]:
            found = []
            for line in result[0]:
                word, _, rest = line.partition(b" ")
                if word.upper() != name:
                    continue
                flags, delimiter, mailbox = tokenize(rest)
                found.append((
                    tuple(_str(_text(flags))),
                    _str(_text(delimiter)),
                    bytes(mailbox).decode("imap4-utf-7") if isinstance(mailbox, bytes) else "",
                ))  # fmt: skip
            return found

        return self._simple(name, _name(reference), _name(wildcard)).addCallback(parse)

    def status(self, mailbox: str | bytes, *names: str) -> Deferred[dict[str, int]]:
        """STATUS: ``{"MESSAGES": 3, ...}``."""
        items = " ".join(names).encode("ascii")

        def parse(result: tuple[_List[bytes], bytes]) -> dict[str, int]:
            for line in result[0]:
                word, _, rest = line.partition(b" ")
                if word.upper() == b"STATUS":
                    values = tokenize(rest)[-1]
                    assert isinstance(values, list)
                    pairs = [_text(v) for v in values]
                    keys, numbers = pairs[::2], pairs[1::2]
                    return {str(k).upper(): int(v) for k, v in zip(keys, numbers, strict=False)}
            raise IllegalServerResponse("no STATUS response")

        return self._simple(b"STATUS", _name(mailbox), b"(" + items + b")").addCallback(parse)

    def append(
        self, mailbox: str | bytes, message: Any, flags: Iterable[str] = (), date: str | None = None
    ) -> Deferred[Any]:
        """APPEND ``message`` (a binary file or bytes) with ``flags`` and an RFC 2822
        ``date`` (the internal date)."""
        data = message.read() if hasattr(message, "read") else message
        head = [b"APPEND", _name(mailbox)]
        if flags:
            head.append(b"(" + " ".join(flags).encode() + b")")
        if date:
            head.append(internalDate(date))
        head.append(b"{%d}" % len(data))
        return self.sendCommand(_Command(b"APPEND", [b" ".join(head), data])).addCallback(
            lambda r: r[1]
        )

    def check(self) -> Deferred[Any]:
        return self._done(b"CHECK")

    def close(self) -> Deferred[Any]:
        def closed(result: Any) -> Any:
            self.state = "auth"
            return result

        return self._done(b"CLOSE").addCallback(closed)

    def unselect(self) -> Deferred[Any]:
        return self._done(b"UNSELECT")

    def expunge(self) -> Deferred[_List[int]]:
        """EXPUNGE: the message numbers the server reported expunged, in its order."""
        return self._simple(b"EXPUNGE").addCallback(
            lambda r: [
                int(line.split(b" ")[0]) for line in r[0] if line.upper().endswith(b"EXPUNGE")
            ]
        )

    def namespace(self) -> Deferred[_List[Any]]:
        """NAMESPACE: ``[personal, shared, other]``, each ``[[prefix, delim], ...]`` or []."""

        def parse(result: tuple[_List[bytes], bytes]) -> _List[Any]:
            for line in result[0]:
                word, _, rest = line.partition(b" ")
                if word.upper() == b"NAMESPACE":
                    return [_str(_text(t)) or [] for t in tokenize(rest)]
            return [[], [], []]

        return self._simple(b"NAMESPACE").addCallback(parse)

    def search(self, *queries: str | bytes, uid: bool = False) -> Deferred[_List[int]]:
        """SEARCH with the given keys (``"UNSEEN"``, ``'SUBJECT "x"'``, see Query);
        text that is not ASCII is sent with CHARSET UTF-8."""
        raw = [q.encode("utf-8") if isinstance(q, str) else q for q in queries]
        args = b" ".join(raw)
        if any(b >= 0x80 for b in args):
            args = b"CHARSET UTF-8 " + args
        name = b"UID SEARCH" if uid else b"SEARCH"

        def parse(result: tuple[_List[bytes], bytes]) -> _List[int]:
            found: _List[int] = []
            for line in result[0]:
                words = line.split()
                if words and words[0].upper() == b"SEARCH":
                    found += [int(w) for w in words[1:]]
            return found

        return self._searchCommand(name, args).addCallback(parse)

    def _searchCommand(self, name: bytes, args: bytes) -> Deferred[tuple[_List[bytes], bytes]]:
        chunks: _List[bytes] = []
        # Strings that are not plain ASCII go as literals.
        if any(b >= 0x80 for b in args):
            pieces = re.split(rb'"((?:[^"\\]|\\.)*)"', args)
            current = name
            for index, piece in enumerate(pieces):
                if index % 2 == 0:
                    current += (
                        b" " if current and piece and not piece.startswith(b" ") else b""
                    ) + piece
                else:
                    text = re.sub(rb"\\(.)", rb"\1", piece)
                    if all(b < 0x80 for b in text):
                        current += b'"' + piece + b'"'
                    else:
                        chunks.append(current + b"{%d}" % len(text))
                        current = text
            chunks.append(current)
            return self.sendCommand(_Command(name, chunks))
        return self._simple(name, args)

    def fetchSpecific(
        self, messages: Any, uid: bool = False, headerType: str | None = None,
        headerNumber: Any = None, headerArgs: Iterable[str] | None = None,
        peek: bool = False, offset: int | None = None, length: int | None = None,
    ) -> Deferred[dict[int, dict[str, Any]]]:  # fmt: skip
        """FETCH BODY[section]<partial>: ``headerType`` is HEADER, HEADER.FIELDS,
        HEADER.FIELDS.NOT, TEXT or MIME; ``headerNumber`` the part number (an int or a
        sequence of them); ``headerArgs`` the header names."""
        section = ""
        if headerNumber is not None:
            numbers = [headerNumber] if isinstance(headerNumber, int) else list(headerNumber)
            section = ".".join(str(n) for n in numbers)
        if headerType:
            section = f"{section}.{headerType}" if section else headerType
        if headerArgs:
            section += " (" + " ".join(headerArgs) + ")"
        item = ("BODY.PEEK" if peek else "BODY") + f"[{section}]"
        if offset is not None:
            item += f"<{offset}.{length if length is not None else 2**31 - 1}>"
        return self.fetch(messages, item, uid=uid)

    def fetch(
        self, messages: Any, *items: str, uid: bool = False
    ) -> Deferred[dict[int, dict[str, Any]]]:
        """FETCH ``items`` (``"FLAGS"``, ``"BODY.PEEK[]"``, ...) of ``messages``."""
        query = items[0] if len(items) == 1 else "(" + " ".join(items) + ")"
        name = b"UID FETCH" if uid else b"FETCH"

        def parse(result: tuple[_List[bytes], bytes]) -> dict[int, dict[str, Any]]:
            out: dict[int, dict[str, Any]] = {}
            for line in result[0]:
                number, _, rest = line.partition(b" ")
                if number.isdigit() and rest[:6].upper() == b"FETCH ":
                    out.setdefault(int(number), {}).update(_fetchItems(rest[6:]))
            return out

        return self._simple(name, _messages(messages), query.encode()).addCallback(parse)

    def fetchUID(self, messages: Any, uid: bool = False) -> Deferred[Any]:
        return self.fetch(messages, "UID", uid=uid)

    def fetchFlags(self, messages: Any, uid: bool = False) -> Deferred[Any]:
        return self.fetch(messages, "FLAGS", uid=uid)

    def fetchInternalDate(self, messages: Any, uid: bool = False) -> Deferred[Any]:
        return self.fetch(messages, "INTERNALDATE", uid=uid)

    def fetchEnvelope(self, messages: Any, uid: bool = False) -> Deferred[Any]:
        return self.fetch(messages, "ENVELOPE", uid=uid)

    def fetchBodyStructure(self, messages: Any, uid: bool = False) -> Deferred[Any]:
        return self.fetch(messages, "BODYSTRUCTURE", uid=uid)

    def fetchSimplifiedBody(self, messages: Any, uid: bool = False) -> Deferred[Any]:
        return self.fetch(messages, "BODY", uid=uid)

    def fetchMessage(self, messages: Any, uid: bool = False) -> Deferred[Any]:
        return self.fetch(messages, "RFC822", uid=uid)

    def fetchHeaders(self, messages: Any, uid: bool = False) -> Deferred[Any]:
        return self.fetch(messages, "RFC822.HEADER", uid=uid)

    def fetchBody(self, messages: Any, uid: bool = False) -> Deferred[Any]:
        return self.fetch(messages, "RFC822.TEXT", uid=uid)

    def fetchSize(self, messages: Any, uid: bool = False) -> Deferred[Any]:
        return self.fetch(messages, "RFC822.SIZE", uid=uid)

    def fetchFull(self, messages: Any, uid: bool = False) -> Deferred[Any]:
        return self.fetch(messages, "FULL", uid=uid)

    def fetchAll(self, messages: Any, uid: bool = False) -> Deferred[Any]:
        return self.fetch(messages, "ALL", uid=uid)

    def fetchFast(self, messages: Any, uid: bool = False) -> Deferred[Any]:
        return self.fetch(messages, "FAST", uid=uid)

    def _store(
        self, messages: Any, command: str, silent: bool, flags: Iterable[str], uid: bool
    ) -> Deferred[Any]:
        item = command + (".SILENT" if silent else "")
        name = b"UID STORE" if uid else b"STORE"

        def parse(result: tuple[_List[bytes], bytes]) -> dict[int, dict[str, Any]]:
            out: dict[int, dict[str, Any]] = {}
            for line in result[0]:
                number, _, rest = line.partition(b" ")
                if number.isdigit() and rest[:6].upper() == b"FETCH ":
                    out[int(number)] = _fetchItems(rest[6:])
            return out

        args = (_messages(messages), item.encode(), b"(" + " ".join(flags).encode() + b")")
        return self._simple(name, *args).addCallback(parse)

    def setFlags(
        self, messages: Any, flags: Iterable[str], silent: bool = True, uid: bool = False
    ) -> Deferred[Any]:
        return self._store(messages, "FLAGS", silent, flags, uid)

    def addFlags(
        self, messages: Any, flags: Iterable[str], silent: bool = True, uid: bool = False
    ) -> Deferred[Any]:
        return self._store(messages, "+FLAGS", silent, flags, uid)

    def removeFlags(
        self, messages: Any, flags: Iterable[str], silent: bool = True, uid: bool = False
    ) -> Deferred[Any]:
        return self._store(messages, "-FLAGS", silent, flags, uid)

    def copy(self, messages: Any, mailbox: str | bytes, uid: bool = False) -> Deferred[Any]:
        name = b"UID COPY" if uid else b"COPY"
        return self._simple(name, _messages(messages), _name(mailbox)).addCallback(lambda r: r[1])

    def idle(self) -> Deferred[None]:
        """IDLE: fires once the server is idling; untagged news then goes to
        ``newMessages`` and friends until ``idleDone()``."""
        started: Deferred[None] = Deferred()
        command = _Command(b"IDLE", [b"IDLE"], lambda text: started.callback(None))

        def ended(result: Any) -> Any:
            if not started.called:
                started.errback(result if isinstance(result, Failure) else NegativeResponse("IDLE"))
            return result

        self._idling = self.sendCommand(command)
        self._idling.addBoth(ended)
        return started

    def idleDone(self) -> Deferred[Any]:
        """End IDLE; fires with the server's final answer."""
        idling = self._idling
        if idling is None or self._current is None or self._current.name != b"IDLE":
            return defer.fail(ValueError("idleDone() without idle()"))
        self._idling = None
        self.transport.write(b"DONE\r\n")
        return idling.addCallback(lambda r: r[1])


def _capabilities(text: bytes) -> dict[str, list[str] | None]:
    caps: dict[str, list[str] | None] = {}
    for word in text.decode("ascii", "replace").split():
        name, sep, value = word.partition("=")
        if sep:
            values = caps.get(name) or []
            values.append(value)
            caps[name] = values
        else:
            caps.setdefault(name, None)
    return caps


def _fetchItems(data: bytes) -> dict[str, Any]:
    tokens = tokenize(data)
    if len(tokens) != 1 or not isinstance(tokens[0], list):
        raise IllegalServerResponse("a FETCH response is a parenthesised list")
    items = tokens[0]
    out: dict[str, Any] = {}
    for index in range(0, len(items) - 1, 2):
        key = items[index]
        if not isinstance(key, bytes):
            raise IllegalServerResponse("a FETCH item name must be an atom")
        name = key.decode("ascii", "replace").upper()
        value = items[index + 1]
        if name in ("FLAGS",):
            out[name] = [_str(v) for v in _text(value)] if isinstance(value, list) else []
        elif name in ("ENVELOPE", "BODY", "BODYSTRUCTURE"):
            out[name] = _str(_text(value))
        elif isinstance(value, Str) and (name.startswith(("RFC822", "BODY[")) or "]" in name):
            out[name] = bytes(value)
        else:
            out[name] = _str(_text(value))
    return out
