"""A POP3 client (RFC 1939, CAPA of RFC 2449, STLS of RFC 2595): Twisted's POP3Client.

Each command method returns a Deferred of the server's answer; commands are sent one
at a time, in the order called (the next waits for the previous answer), so any
server works. Message indices are 0-based, as in Twisted's client (the wire's numbers
start at 1). ``-ERR`` answers fail the Deferred with ServerErrorResponse.

Safe by default: ``login`` uses APOP when the greeting offers it, and otherwise sends
a password in the clear only over TLS (``startTLS`` first) unless
``allowInsecureLogin`` is set; ``startTLS`` needs a context factory (for example
``optionsForClientTLS("pop.example.com")``), so the server's certificate is checked;
lines over ``MAX_LENGTH`` bytes end the connection with LineTooLong.
Tests: tests/mail/test_pop3_poplib.py (against our server over 127.0.0.1, with STLS).
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Callable
from typing import Any

from torsion.internet import defer, error
from torsion.internet.protocol import Protocol
from torsion.mail._pop3 import DotUnstuffer, LineBuffer
from torsion.protocols.policies import TimeoutMixin
from torsion.python.failure import Failure

__all__ = [
    "ERR",
    "OK",
    "InsecureAuthenticationDisallowed",
    "LineTooLong",
    "POP3Client",
    "POP3ClientError",
    "ServerErrorResponse",
    "TLSError",
    "TLSNotSupportedError",
]

OK = b"+OK"
ERR = b"-ERR"


class POP3ClientError(Exception):
    """The base of this client's errors."""


class ServerErrorResponse(POP3ClientError):
    """The server answered ``-ERR``; ``args[0]`` is its text (bytes)."""

    def __init__(self, reason: bytes, consumer: Any = None) -> None:
        super().__init__(reason)
        self.consumer = consumer


class LineTooLong(POP3ClientError):
    """The server sent a line longer than the client's MAX_LENGTH; the connection is
    closed."""


class InsecureAuthenticationDisallowed(POP3ClientError):
    """``login`` would send the password in the clear: start TLS first (startTLS), or
    set ``allowInsecureLogin`` if the network is trusted."""


class TLSError(POP3ClientError):
    """STLS was refused, or TLS is already on."""


class TLSNotSupportedError(POP3ClientError):
    """The server does not offer STLS, or the transport cannot do TLS."""


_CHALLENGE = re.compile(rb"(<[^>]+@[^>]+>)")


class _Command:
    __slots__ = ("consumer", "deferred", "line", "lines", "multiLine", "transform")

    def __init__(
        self,
        line: bytes,
        multiLine: bool,
        consumer: Callable[[bytes], object] | None,
        transform: Callable[[Any], Any] | None,
    ) -> None:
        self.line = line
        self.multiLine = multiLine
        self.consumer = consumer
        self.transform = transform
        self.lines: list[bytes] | None = None
        self.deferred: defer.Deferred[Any] = defer.Deferred()


class POP3Client(Protocol, TimeoutMixin):
    """A POP3 client session. Override ``serverGreeting`` to start working, or use the
    Deferred ``self.greeted`` (fires with the greeting's text).

    Attributes:
        timeout: seconds without an answer before the connection is dropped (0: never).
        allowInsecureLogin: let ``login`` send a password in the clear without TLS.
        startedTLS: whether TLS is on.
        serverChallenge: the APOP timestamp of the greeting, or None.
    """

    MAX_LENGTH = 16384
    timeout = 0
    startedTLS = False
    allowInsecureLogin = False
    serverChallenge: bytes | None = None
    _capCache: dict[bytes, list[bytes]] | None = None
    _lost = False

    def __init__(self) -> None:
        self._lines = LineBuffer(self.MAX_LENGTH)
        self._queue: deque[_Command] = deque()
        self._current: _Command | None = None
        self._greeted = False
        self._inBody = False
        self.greeted: defer.Deferred[bytes] = defer.Deferred()

    def connectionMade(self) -> None:
        if self.timeout > 0:
            self.setTimeout(self.timeout)

    def serverGreeting(self, greeting: bytes) -> None:
        """The server's greeting arrived (its text after ``+OK``); override at will."""

    def timeoutConnection(self) -> None:
        self._failAll(error.TimeoutError("the POP3 server did not answer in time"))
        self.transport.abortConnection()

    def connectionLost(self, reason: object = None) -> None:
        self._lost = True
        self.setTimeout(None)
        if isinstance(reason, Failure):
            self._failAll(reason.value)
        else:
            self._failAll(error.ConnectionLost("the POP3 connection was closed"))

    def _failAll(self, exception: BaseException) -> None:
        pending = [self._current, *self._queue] if self._current else list(self._queue)
        self._current = None
        self._queue.clear()
        if not self._greeted:
            self._greeted = True
            self.greeted.errback(Failure(exception))
        for command in pending:
            if command is not None:
                command.deferred.errback(Failure(exception))

    # -- input ----------------------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        self.resetTimeout()
        for line in self._lines.feed(data):
            if line is None:
                self._failAll(
                    LineTooLong(f"a line from the server is over {self.MAX_LENGTH} bytes")
                )
                self.transport.loseConnection()
                return
            self._lineReceived(line)
            if self.transport is None or self.transport.disconnecting:
                return

    def _lineReceived(self, line: bytes) -> None:
        if not self._greeted:
            self._greeted = True
            if not line.startswith(OK):
                self.greeted.errback(Failure(ServerErrorResponse(line)))
                self.transport.loseConnection()
                return
            text = line[4:]
            found = _CHALLENGE.search(text)
            self.serverChallenge = found.group(1) if found else None
            self.serverGreeting(text)
            self.greeted.callback(text)
            return
        command = self._current
        if command is None:
            return  # an answer to nothing: ignored
        if self._inBody:
            content = DotUnstuffer.line(line)
            if content is None:
                self._inBody = False
                self._finish(command, command.lines)
            elif command.consumer is not None:
                command.consumer(content)
            else:
                assert command.lines is not None
                command.lines.append(content)
            return
        if line.startswith(OK):
            text = line[4:]
            if command.multiLine:
                self._inBody = True
                command.lines = [] if command.consumer is None else None
                return
            self._finish(command, text)
        else:
            reason = line[5:] if line.startswith(ERR) else line
            self._current = None
            command.deferred.errback(Failure(ServerErrorResponse(reason, command.consumer)))
            self._next()

    def _finish(self, command: _Command, result: Any) -> None:
        self._current = None
        if command.multiLine and command.consumer is not None:
            result = command.consumer
        if command.transform is not None:
            try:
                result = command.transform(result)
            except Exception as e:
                command.deferred.errback(Failure(e))
                self._next()
                return
        command.deferred.callback(result)
        self._next()

    # -- output ---------------------------------------------------------------------------

    def sendShort(self, command: bytes, args: bytes | None = None) -> defer.Deferred[Any]:
        """Send a command with a one-line answer; a Deferred of its text."""
        return self._enqueue(command, args, False, None, None)

    def sendLong(
        self,
        command: bytes,
        args: bytes | None = None,
        consumer: Callable[[bytes], object] | None = None,
        transform: Callable[[Any], Any] | None = None,
    ) -> defer.Deferred[Any]:
        """Send a command with a multi-line answer; a Deferred of its lines (or of
        ``consumer``, called with each line as it comes)."""
        return self._enqueue(command, args, True, consumer, transform)

    def _enqueue(
        self,
        command: bytes,
        args: bytes | None,
        multiLine: bool,
        consumer: Callable[[bytes], object] | None,
        transform: Callable[[Any], Any] | None,
    ) -> defer.Deferred[Any]:
        line = command if args is None else command + b" " + args
        if b"\r" in line or b"\n" in line:
            return defer.fail(ValueError("a POP3 command cannot contain CR or LF"))
        if self._lost:
            return defer.fail(error.ConnectionLost("the POP3 connection was closed"))
        queued = _Command(line, multiLine, consumer, transform)
        self._queue.append(queued)
        if self._current is None:
            self._next()
        return queued.deferred

    def _next(self) -> None:
        if self._current is not None or not self._queue:
            return
        if self.transport is None or self.transport.disconnecting:
            return
        self._current = self._queue.popleft()
        self.transport.write(self._current.line + b"\r\n")

    # -- commands -------------------------------------------------------------------------

    def capabilities(self, useCache: bool = True) -> defer.Deferred[dict[bytes, list[bytes]]]:
        """CAPA: a dict of capability name to its arguments (empty if CAPA fails)."""
        if useCache and self._capCache is not None:
            return defer.succeed(self._capCache)

        def parse(lines: list[bytes]) -> dict[bytes, list[bytes]]:
            caps: dict[bytes, list[bytes]] = {}
            for line in lines:
                words = line.split()
                if words:
                    caps[words[0].upper()] = words[1:]
            return caps

        def store(caps: dict[bytes, list[bytes]]) -> dict[bytes, list[bytes]]:
            self._capCache = caps
            return caps

        d = self.sendLong(b"CAPA", transform=parse)
        d.addErrback(lambda f: f.trap(ServerErrorResponse) and {})
        return d.addCallback(store)

    def startTLS(self, contextFactory: Any = None) -> defer.Deferred[Any]:
        """STLS, then TLS under this session; fires when the server said yes (the
        handshake follows at once). The capabilities are asked again afterwards."""
        if contextFactory is None:
            return defer.fail(
                ValueError(
                    "startTLS needs a context factory, for example "
                    "optionsForClientTLS('pop.example.com'), so that the server's "
                    "certificate is checked"
                )
            )
        if self.startedTLS:
            return defer.fail(TLSError("TLS is already on"))
        if not hasattr(self.transport, "startTLS"):
            return defer.fail(TLSNotSupportedError("this transport cannot start TLS"))

        def check(caps: dict[bytes, list[bytes]]) -> defer.Deferred[Any]:
            if b"STLS" not in caps:
                raise TLSNotSupportedError("the server does not offer STLS")
            return self.sendShort(b"STLS").addCallbacks(started, refused)

        def started(text: bytes) -> bytes:
            self.transport.startTLS(contextFactory)
            self.startedTLS = True
            self._capCache = None
            return text

        def refused(reason: Failure) -> None:
            reason.trap(ServerErrorResponse)
            raise TLSError(f"the server refused STLS: {reason.value.args[0]!r}")

        return self.capabilities().addCallback(check)

    def login(self, username: bytes | str, password: bytes | str) -> defer.Deferred[Any]:
        """Log in: APOP when the greeting offers it, else USER and PASS (only over TLS
        unless ``allowInsecureLogin``)."""
        user = _bytes(username)
        secret = _bytes(password)
        if self.serverChallenge is not None:
            return self._apop(user, secret)
        if not (self.startedTLS or self.allowInsecureLogin):
            return defer.fail(
                InsecureAuthenticationDisallowed(
                    "the password would be sent in the clear: call startTLS first, or set "
                    "allowInsecureLogin if this network is trusted"
                )
            )
        return self.user(user).addCallback(lambda _: self.password(secret))

    def _apop(self, username: bytes, password: bytes) -> defer.Deferred[Any]:
        assert self.serverChallenge is not None
        digest = hashlib.md5(self.serverChallenge + password, usedforsecurity=False)
        return self.apop(username, digest.hexdigest().encode("ascii"))

    def apop(self, username: bytes | str, digest: bytes | str) -> defer.Deferred[Any]:
        return self.sendShort(b"APOP", _bytes(username) + b" " + _bytes(digest))

    def user(self, username: bytes | str) -> defer.Deferred[Any]:
        return self.sendShort(b"USER", _bytes(username))

    def password(self, password: bytes | str) -> defer.Deferred[Any]:
        return self.sendShort(b"PASS", _bytes(password))

    def delete(self, index: int) -> defer.Deferred[Any]:
        return self.sendShort(b"DELE", b"%d" % (index + 1))

    def noop(self) -> defer.Deferred[Any]:
        return self.sendShort(b"NOOP")

    def reset(self) -> defer.Deferred[Any]:
        return self.sendShort(b"RSET")

    def retrieve(
        self,
        index: int,
        consumer: Callable[[bytes], object] | None = None,
        lines: int | None = None,
    ) -> defer.Deferred[Any]:
        """RETR (or TOP with ``lines``): a Deferred of the message's lines (no line
        ends), or of ``consumer`` after it was called with each line."""
        if lines is None:
            return self.sendLong(b"RETR", b"%d" % (index + 1), consumer)
        return self.sendLong(b"TOP", b"%d %d" % (index + 1, lines), consumer)

    def stat(self) -> defer.Deferred[tuple[int, int]]:
        """STAT: (number of messages, total size)."""

        def parse(text: bytes) -> tuple[int, int]:
            count, size = text.split()[:2]
            return int(count), int(size)

        return self._enqueue(b"STAT", None, False, None, parse)

    def _listing(
        self, command: bytes, consumer: Callable[[tuple[int, Any]], object] | None, convert: Any
    ) -> defer.Deferred[Any]:
        def entry(line: bytes) -> tuple[int, Any]:
            number, value = line.split(None, 1)
            return int(number) - 1, convert(value.strip())

        if consumer is not None:
            return self.sendLong(command, None, lambda line: consumer(entry(line)))

        def collect(lines: list[bytes]) -> list[Any]:
            found = dict(entry(line) for line in lines)
            result: list[Any] = [None] * (max(found) + 1 if found else 0)
            for index, value in found.items():
                result[index] = value
            return result

        return self.sendLong(command, None, None, collect)

    def listSize(self, consumer: Callable[[tuple[int, int]], object] | None = None) -> Any:
        """LIST: a list of sizes by index (None for deleted ones), or (index, size)
        pairs to ``consumer``."""
        return self._listing(b"LIST", consumer, int)

    def listUID(self, consumer: Callable[[tuple[int, bytes]], object] | None = None) -> Any:
        """UIDL: a list of unique ids by index, or (index, uid) pairs to ``consumer``."""
        return self._listing(b"UIDL", consumer, bytes)

    def quit(self) -> defer.Deferred[Any]:
        return self.sendShort(b"QUIT")


def _bytes(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)
