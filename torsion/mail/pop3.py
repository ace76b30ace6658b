"""POP3 (RFC 1939, CAPA and PIPELINING of RFC 2449, STLS of RFC 2595, AUTH of RFC 5034):
the server protocol and the mailbox interface its avatars provide.

``POP3`` is Twisted's server protocol class: give it a Cred portal whose realm returns
``IMailbox`` avatars (torsion.mail.maildir.MaildirMailbox for a maildir) and serve it
with torsion.mail.protocols.POP3Factory. It offers USER/PASS, APOP (only when the
portal can check it: APOP needs the password in the clear on the server), AUTH PLAIN
and LOGIN, CAPA, STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP, QUIT and STLS (when
the factory has a TLS context factory).

Safe by default, where Twisted is not: every error gets ``-ERR`` and the session goes
on (a bad command, a bad message number, a line over ``MAX_LENGTH`` octets);
``requireTransportSecurity`` refuses passwords until TLS is on (torsiond mail sets it
when it has a certificate); logins
are refused after ``maxFailedLogins`` failures and the connection closed; a failed
login is logged with the user name and the peer, never the password; lines sent in
clear after STLS are dropped (no command injection into the TLS session); a message is
sent in chunks as the connection drains, so a large one is never read whole into
memory; pipelined commands wait (the connection stops reading) while a login is
checked or a message is sent; an idle session is closed after ``timeOut`` seconds (10
minutes, RFC 1939's minimum).

Messages are numbered from 1 on the wire and from 0 in IMailbox, as in Twisted.
Tests: tests/mail/test_pop3.py (in memory), tests/mail/test_pop3_poplib.py (poplib
over 127.0.0.1, with STLS), tests/mail/test_pop3_shared.py (with IMAP4 on one maildir,
hostile clients, every reactor).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import os
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

from zope.interface import Attribute, Interface, implementer

from torsion.cred.credentials import IUsernameHashedPassword, UsernamePassword
from torsion.cred.error import UnauthorizedLogin
from torsion.internet import defer
from torsion.internet.interfaces import IPullProducer
from torsion.internet.protocol import Protocol
from torsion.logger import Logger
from torsion.mail._pop3 import DotStuffer, LineBuffer
from torsion.mail.pop3client import (
    InsecureAuthenticationDisallowed,
    LineTooLong,
    ServerErrorResponse,
)
from torsion.mail.pop3client import POP3Client as AdvancedPOP3Client
from torsion.protocols.policies import TimeoutMixin
from torsion.python.failure import Failure

__all__ = [
    "POP3",
    "APOPCredentials",
    "AdvancedPOP3Client",
    "IMailbox",
    "IServerFactory",
    "InsecureAuthenticationDisallowed",
    "LineTooLong",
    "Mailbox",
    "POP3Error",
    "ServerErrorResponse",
]

_log = Logger(namespace="torsion.mail.pop3")

# Messages at most this big are written at once; bigger ones are streamed.
_INLINE_MESSAGE = 65536
_CHUNK = 65536


class POP3Error(Exception):
    """A POP3 command failed; the message is the text after ``-ERR``."""


class IMailbox(Interface):
    """A user's mailbox as one POP3 session sees it: a fixed list of messages, numbered
    from 0 here (the protocol numbers them from 1)."""

    loginDelay = Attribute("Seconds a client must wait between logins (CAPA LOGIN-DELAY).")
    messageExpiration = Attribute("Days messages are kept (CAPA EXPIRE), or None.")

    def listMessages(index: int | None = None) -> Any:
        """The size of message ``index`` in octets, or a list of every size, with 0 for
        a message marked deleted."""

    def getMessage(index: int) -> Any:
        """A binary file of message ``index``; ValueError for no such message."""

    def getUidl(index: int) -> Any:
        """A unique id for message ``index`` (bytes), the same in every session."""

    def deleteMessage(index: int) -> None:
        """Mark message ``index`` deleted; the numbering does not change."""

    def undeleteMessages() -> None:
        """Unmark every deleted message."""

    def sync() -> None:
        """Discard the messages marked deleted (the session ended with QUIT)."""


class IServerFactory(Interface):
    """What a POP3 server's factory may tell its protocols (all optional)."""

    def cap_IMPLEMENTATION() -> Any:
        """The text of CAPA's IMPLEMENTATION line."""

    def cap_EXPIRE() -> Any:
        """Days messages are kept (CAPA EXPIRE), or None."""

    def cap_LOGIN_DELAY() -> Any:
        """Seconds between logins (CAPA LOGIN-DELAY), or None."""


@implementer(IMailbox)
class Mailbox:
    """An empty mailbox that subclasses fill in (Twisted's base class)."""

    loginDelay = 0
    messageExpiration = None

    def listMessages(self, index: int | None = None) -> Any:
        if index is None:
            return []
        raise ValueError(f"no message {index}")

    def getMessage(self, index: int) -> Any:
        raise ValueError(f"no message {index}")

    def getUidl(self, index: int) -> Any:
        raise ValueError(f"no message {index}")

    def deleteMessage(self, index: int) -> None:
        raise ValueError(f"no message {index}")

    def undeleteMessages(self) -> None:
        pass

    def sync(self) -> None:
        pass


@implementer(IUsernameHashedPassword)
class APOPCredentials:
    """APOP's proof: the MD5 of the greeting's timestamp and the password (RFC 1939 §7).

    Only a checker holding the password in the clear can check it.
    """

    def __init__(self, magic: bytes, username: bytes, digest: bytes) -> None:
        self.magic = magic
        self.username = username
        self.digest = digest

    def checkPassword(self, password: bytes | str) -> bool:
        if isinstance(password, str):
            password = password.encode("utf-8")
        expected = hashlib.md5(self.magic + password, usedforsecurity=False).hexdigest()
        return hmac.compare_digest(expected.encode("ascii"), self.digest.lower())

    def __repr__(self) -> str:
        return f"<APOPCredentials for {self.username!r}>"


_counter = itertools.count(1)


def _peerOf(transport: Any) -> str:
    try:
        peer = transport.getPeer()
    except Exception:
        return "?"
    host, port = getattr(peer, "host", None), getattr(peer, "port", None)
    return f"{host}:{port}" if host is not None else str(peer)


@implementer(IPullProducer)
class _MessageSender:
    """Sends one message (or TOP's part of it) in chunks as the transport drains."""

    __slots__ = ("_chunks", "_done", "_file", "_stuffer", "_transport")

    def __init__(
        self, transport: Any, file: Any, chunks: Iterator[bytes], done: Callable[[], None]
    ) -> None:
        self._transport = transport
        self._file = file
        self._chunks = chunks
        self._stuffer = DotStuffer()
        self._done: Callable[[], None] | None = done

    def resumeProducing(self) -> None:
        if self._done is None:
            return
        try:
            chunk = next(self._chunks, None)
        except OSError as e:
            _log.error("reading a message failed: {error}", error=e)
            self._finish(abort=True)
            return
        if chunk is None:
            self._transport.write(self._stuffer.finish())
            self._finish(abort=False)
        else:
            self._transport.write(self._stuffer.feed(chunk))

    def stopProducing(self) -> None:
        # The connection is gone: nothing more to send, nobody to tell.
        self._done = None
        self._file.close()

    def _finish(self, abort: bool) -> None:
        done, self._done = self._done, None
        self._file.close()
        self._transport.unregisterProducer()
        if abort:
            self._transport.abortConnection()
        elif done is not None:
            done()


def _topChunks(file: Any, lines: int) -> Iterator[bytes]:
    """The headers, the blank line and the first ``lines`` lines of the body."""
    inBody = False
    atLineStart = True
    while True:
        piece = file.readline(_CHUNK)
        if not piece:
            return
        complete = piece.endswith(b"\n")
        if not inBody:
            if atLineStart and piece in (b"\n", b"\r\n"):
                inBody = True
            yield piece
        elif lines > 0:
            yield piece
            if complete:
                lines -= 1
        else:
            return
        atLineStart = complete


def _fileChunks(file: Any) -> Iterator[bytes]:
    while chunk := file.read(_CHUNK):
        yield chunk


class POP3(Protocol, TimeoutMixin):
    """A POP3 server session (RFC 1939).

    Attributes (set by the factory, torsion.mail.protocols.POP3Factory):
        portal: the Cred portal whose realm gives ``IMailbox`` avatars.
        ctx: a TLS context factory for STLS (``contextFactory``), or None for no STLS.
        mbox: the logged-in user's mailbox (None before login).
    """

    # RFC 2449: a command line is at most 255 octets; a little slack for clients.
    MAX_LENGTH = 512
    timeOut: float | None = 600
    maxFailedLogins = 3
    # Commands pipelined while a login is checked or a message sent.
    maxPipelined = 100
    # Refuse passwords (USER/PASS, APOP, AUTH) until TLS is on (STLS, or a TLS port).
    requireTransportSecurity = False
    AUTH_CMDS = (b"CAPA", b"USER", b"PASS", b"APOP", b"AUTH", b"QUIT", b"STLS", b"NOOP")
    magic: bytes = b""
    portal: Any = None
    factory: Any = None
    ctx: Any = None

    def __init__(self, contextFactory: Any = None) -> None:
        self.ctx = contextFactory
        self.mbox: Any = None
        self._userIs: bytes | None = None
        self._onLogout: Callable[[], object] | None = None
        self._lines = LineBuffer(self.MAX_LENGTH)
        self._waiting: list[bytes | None] = []
        self._blocked = False
        self._failures = 0
        self._deleted: set[int] = set()
        self._tlsStarted = False
        self._tlsStarting = False
        self._sasl: Callable[[bytes], None] | None = None
        self._count = 0

    # -- the connection -------------------------------------------------------------------

    def connectionMade(self) -> None:
        if self.magic == b"":
            self.magic = self.generateMagic()
        self.setTimeout(self.timeOut)
        self._tlsStarted = _isTLS(self.transport)
        if self._canAPOP():
            self.successResponse(b"torsion POP3 server ready " + self.magic)
        else:
            self.successResponse(b"torsion POP3 server ready")

    def generateMagic(self) -> bytes:
        """APOP's timestamp: unique for each greeting (RFC 1939 §7)."""
        host = socket.gethostname() or "localhost"
        return f"<{os.getpid()}.{next(_counter)}.{time.time_ns()}@{host}>".encode(
            "ascii", "replace"
        )

    def connectionLost(self, reason: object = None) -> None:
        self.setTimeout(None)
        self._logout()

    def _logout(self) -> None:
        onLogout, self._onLogout = self._onLogout, None
        self.mbox = None
        if onLogout is not None:
            try:
                onLogout()
            except Exception:
                _log.failure("the realm's logout for a POP3 session failed")

    def successResponse(self, message: bytes | str = b"") -> None:
        self._send(b"+OK", message)

    def failResponse(self, message: bytes | str = b"") -> None:
        self._send(b"-ERR", message)

    def _send(self, status: bytes, message: bytes | str) -> None:
        if isinstance(message, str):
            message = message.encode("utf-8")
        self.transport.write(status + (b" " + message if message else b"") + b"\r\n")

    def sendLine(self, line: bytes) -> None:
        self.transport.write(line + b"\r\n")

    def _sendMultiLine(self, lines: list[bytes]) -> None:
        self.transport.write(b"".join(line + b"\r\n" for line in lines) + b".\r\n")

    # -- input ----------------------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        self.resetTimeout()
        lines = self._lines.feed(data)
        if self._blocked:
            self._waiting.extend(lines)
            self._checkWaiting()
            return
        for i, line in enumerate(lines):
            if self._blocked:
                self._waiting.extend(lines[i:])
                self._checkWaiting()
                return
            self._lineReceived(line)
            if self._tlsStarting:
                # What came after STLS in clear is not the client's (RFC 2595 §3.1).
                self._tlsStarting = False
                self._lines.clear()
                return
            if self.transport is None or self.transport.disconnecting:
                return

    def _checkWaiting(self) -> None:
        if len(self._waiting) > self.maxPipelined:
            self.failResponse(b"too many commands pipelined; closing")
            self.transport.loseConnection()
        else:
            self.transport.pauseProducing()

    def _block(self) -> None:
        self._blocked = True

    def _unblock(self) -> None:
        self._blocked = False
        if self.transport is None or self.transport.disconnecting:
            return
        waiting, self._waiting = self._waiting, []
        self.transport.resumeProducing()
        for i, line in enumerate(waiting):
            if self._blocked:
                self._waiting = waiting[i:] + self._waiting
                return
            self._lineReceived(line)
            if self._tlsStarting:
                self._tlsStarting = False
                self._lines.clear()
                return
            if self.transport.disconnecting:
                return

    def _lineReceived(self, line: bytes | None) -> None:
        if line is None:
            self._sasl = None
            self.failResponse(f"line too long (the limit is {self.MAX_LENGTH} octets)")
            return
        if self._sasl is not None:
            handler, self._sasl = self._sasl, None
            handler(line)
            return
        self.lineReceived(line)

    def lineReceived(self, line: bytes) -> None:
        """Run one command line; any error is answered with -ERR."""
        try:
            self.processCommand(*line.split())
        except POP3Error as e:
            self.failResponse(str(e))
        except Exception:
            # Only the command: the rest may be a password.
            _log.failure(
                "the POP3 command {command} failed", command=_shown(line.split(b" ")[0][:20])
            )
            self.failResponse(b"internal server error")

    def processCommand(self, command: bytes = b"", *args: bytes) -> None:
        command = command.upper()
        if not command:
            raise POP3Error("empty command")
        handler = None
        if command.isalpha() and command.isascii():
            handler = getattr(self, "do_" + command.decode("ascii"), None)
        if handler is None:
            raise POP3Error(f"unknown command {_shown(command)}")
        if self.mbox is None and command not in self.AUTH_CMDS:
            raise POP3Error(f"{_shown(command)} is not allowed before logging in")
        if self.mbox is not None and command in (b"USER", b"PASS", b"APOP", b"AUTH", b"STLS"):
            raise POP3Error(f"{_shown(command)} is not allowed after logging in")
        try:
            handler(*args)
        except TypeError as e:
            if e.__traceback__ is not None and e.__traceback__.tb_next is None:
                raise POP3Error(f"wrong arguments for {_shown(command)}") from None
            raise

    # -- authorization --------------------------------------------------------------------

    def _canAPOP(self) -> bool:
        portal = self.portal
        if portal is None:
            return False
        try:
            return IUsernameHashedPassword in portal.listCredentialsInterfaces()
        except Exception:
            return False

    def _canSTLS(self) -> bool:
        return self.ctx is not None and not self._tlsStarted and self.mbox is None

    def _loginAllowed(self) -> None:
        if self.requireTransportSecurity and not self._tlsStarted:
            raise POP3Error("[AUTH] log in after STLS: this server takes no passwords in clear")

    def do_CAPA(self) -> None:
        lines = [b"TOP", b"UIDL", b"PIPELINING", b"RESP-CODES", b"AUTH-RESP-CODE"]
        if not (self.requireTransportSecurity and not self._tlsStarted):
            lines[1:1] = [b"USER", b"SASL PLAIN LOGIN"]
        if self._canSTLS():
            lines.append(b"STLS")
        factory = self.factory
        implementation = _capability(factory, "cap_IMPLEMENTATION")
        lines.append(b"IMPLEMENTATION " + (implementation or b"torsion"))
        expire = _capability(factory, "cap_EXPIRE")
        if expire is not None:
            lines.append(b"EXPIRE " + expire)
        delay = _capability(factory, "cap_LOGIN_DELAY")
        if delay is not None:
            lines.append(b"LOGIN-DELAY " + delay)
        self.successResponse(b"capability list follows")
        self._sendMultiLine(lines)

    def do_STLS(self) -> None:
        if self.ctx is None:
            raise POP3Error("STLS is not offered by this server")
        if self._tlsStarted:
            raise POP3Error("TLS is already on")
        self.successResponse(b"begin TLS negotiation")
        self._tlsStarting = True
        self._tlsStarted = True
        self._userIs = None
        self.transport.startTLS(self.ctx)

    def do_USER(self, user: bytes) -> None:
        self._loginAllowed()
        self._userIs = user
        self.successResponse(b"user accepted; now PASS")

    def do_PASS(self, *words: bytes) -> None:
        if self._userIs is None:
            raise POP3Error("USER first, then PASS")
        if not words:
            raise POP3Error("PASS needs a password")
        user, self._userIs = self._userIs, None
        # A password may contain spaces (RFC 1939 §7 allows it).
        self._login(UsernamePassword(user, b" ".join(words)), user)

    def do_APOP(self, user: bytes, digest: bytes) -> None:
        self._loginAllowed()
        if not self._canAPOP():
            raise POP3Error("APOP is not offered by this server")
        self._login(APOPCredentials(self.magic, user, digest), user)

    def do_AUTH(self, mechanism: bytes | None = None, initial: bytes | None = None) -> None:
        if mechanism is None:
            self.successResponse(b"")
            self._sendMultiLine([b"PLAIN", b"LOGIN"])
            return
        self._loginAllowed()
        mechanism = mechanism.upper()
        if mechanism == b"PLAIN":
            if initial is None:
                self._challenge(b"", self._authPlain)
            else:
                self._authPlain(initial)
        elif mechanism == b"LOGIN":
            if initial is None:
                self._challenge(b"Username:", self._authLoginUser)
            else:
                self._authLoginUser(initial)
        else:
            raise POP3Error(f"unknown SASL mechanism {_shown(mechanism)}")

    def _challenge(self, text: bytes, handler: Callable[[bytes], None]) -> None:
        self.sendLine(b"+ " + base64.b64encode(text))
        self._sasl = lambda line: self._saslAnswer(line, handler)

    def _saslAnswer(self, line: bytes, handler: Callable[[bytes], None]) -> None:
        if line == b"*":
            self.failResponse(b"authentication cancelled")
            return
        try:
            handler(line)
        except POP3Error as e:
            self.failResponse(str(e))

    def _decode(self, data: bytes) -> bytes:
        if data == b"=":
            return b""
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise POP3Error("the SASL answer is not valid base64") from None

    def _authPlain(self, data: bytes) -> None:
        parts = self._decode(data).split(b"\0")
        if len(parts) != 3 or not parts[1]:
            raise POP3Error("a PLAIN answer is authzid NUL user NUL password")
        authzid, user, password = parts
        if authzid and authzid != user:
            self._refused(user, "it asked to act as another user")
            return
        self._login(UsernamePassword(user, password), user)

    def _authLoginUser(self, data: bytes) -> None:
        user = self._decode(data)
        self._challenge(b"Password:", lambda line: self._authLoginPassword(user, line))

    def _authLoginPassword(self, user: bytes, data: bytes) -> None:
        self._login(UsernamePassword(user, self._decode(data)), user)

    def authenticateUserPASS(self, user: bytes, password: bytes) -> defer.Deferred[Any]:
        """Log in with a password: a Deferred of (interface, avatar, logout)."""
        return self._portalLogin(UsernamePassword(user, password))

    def authenticateUserAPOP(self, user: bytes, digest: bytes) -> defer.Deferred[Any]:
        """Log in with APOP: a Deferred of (interface, avatar, logout)."""
        return self._portalLogin(APOPCredentials(self.magic, user, digest))

    def _portalLogin(self, credentials: Any) -> defer.Deferred[Any]:
        if self.portal is None:
            return defer.fail(POP3Error("no authentication is configured on this server"))
        d: defer.Deferred[Any] = self.portal.login(credentials, None, IMailbox)
        return d

    def _login(self, credentials: Any, user: bytes) -> None:
        self._block()
        d = self._portalLogin(credentials)
        d.addCallbacks(self._loggedIn, self._loginFailed, errbackArgs=(user,))
        d.addErrback(self._internalError)
        d.addBoth(lambda _: self._unblock())

    def _loggedIn(self, result: tuple[Any, Any, Callable[[], object]]) -> None:
        interface, avatar, logout = result
        if self.transport is None or self.transport.disconnected:
            logout()
            return
        if interface is not IMailbox:
            logout()
            raise POP3Error("the realm gave no mailbox")
        inUse = getattr(self.factory, "mailboxesInUse", None)
        key = getattr(avatar, "path", None)
        if inUse is not None and key is not None:
            # RFC 1939 §8: one session at a time holds a maildrop.
            if key in inUse:
                logout()
                raise POP3Error("[IN-USE] the mailbox is open in another POP3 session")
            inUse.add(key)
            logout = _releasing(inUse, key, logout)
        self.mbox = avatar
        self._onLogout = logout
        self._deleted = set()
        try:
            count = self._count = len(self.mbox.listMessages())
        except Exception:
            self._logout()
            raise
        self.successResponse(f"logged in; {count} messages")

    def _loginFailed(self, reason: Failure, user: bytes) -> None:
        if reason.check(UnauthorizedLogin):
            self._refused(user, "wrong user name or password")
        elif reason.check(POP3Error):
            self.failResponse(str(reason.value))
        else:
            _log.failure(
                "a POP3 login for {user!r} failed in the server", reason, user=_shown(user)
            )
            self.failResponse(b"[SYS/TEMP] the server cannot log you in now")

    def _refused(self, user: bytes, why: str) -> None:
        self._failures += 1
        _log.warn(
            "POP3 login refused for {user!r} from {peer}: {why}",
            user=_shown(user),
            peer=_peerOf(self.transport),
            why=why,
        )
        self.failResponse(b"[AUTH] authentication failed")
        if self._failures >= self.maxFailedLogins:
            self.failResponse(b"too many failed logins; closing")
            self.transport.loseConnection()

    def _internalError(self, reason: Failure) -> None:
        if reason.check(POP3Error):
            self.failResponse(str(reason.value))
            return
        _log.failure("POP3 login handling failed", reason)
        self.failResponse(b"internal server error")

    # -- transaction ----------------------------------------------------------------------

    def _sizes(self) -> list[int]:
        sizes = self.mbox.listMessages()
        return [0 if i in self._deleted else int(size) for i, size in enumerate(sizes)]

    def _size(self, index: int) -> int:
        return 0 if index in self._deleted else int(self.mbox.listMessages(index))

    def _index(self, number: bytes) -> int:
        if not number.isdigit() or len(number) > 10:
            raise POP3Error(f"bad message number {_shown(number)}")
        index = int(number) - 1
        if not 0 <= index < self._count:
            raise POP3Error(f"no message {int(number)}")
        if index in self._deleted:
            raise POP3Error(f"message {int(number)} is deleted")
        return index

    def do_STAT(self) -> None:
        sizes = [size for i, size in enumerate(self._sizes()) if i not in self._deleted]
        self.successResponse(f"{len(sizes)} {sum(sizes)}")

    def do_LIST(self, number: bytes | None = None) -> None:
        if number is not None:
            index = self._index(number)
            self.successResponse(f"{index + 1} {self._size(index)}")
            return
        sizes = self._sizes()
        kept = [(i, size) for i, size in enumerate(sizes) if i not in self._deleted]
        self.successResponse(f"{len(kept)} messages ({sum(s for _, s in kept)} octets)")
        self._sendMultiLine([f"{i + 1} {size}".encode("ascii") for i, size in kept])

    def _uidl(self, index: int) -> bytes:
        uid = self.mbox.getUidl(index)
        return uid if isinstance(uid, bytes) else str(uid).encode("ascii")

    def do_UIDL(self, number: bytes | None = None) -> None:
        if number is not None:
            index = self._index(number)
            self.successResponse(b"%d %s" % (index + 1, self._uidl(index)))
            return
        sizes = self._sizes()
        lines = [
            b"%d %s" % (i + 1, self._uidl(i)) for i in range(len(sizes)) if i not in self._deleted
        ]
        self.successResponse(b"")
        self._sendMultiLine(lines)

    def do_RETR(self, number: bytes) -> None:
        index = self._index(number)
        size = self._size(index)
        self._sendMessage(index, f"{size} octets", None)

    def do_TOP(self, number: bytes, lines: bytes) -> None:
        index = self._index(number)
        if not lines.isdigit():
            raise POP3Error(f"bad line count {_shown(lines)}")
        self._sendMessage(index, "top of message follows", int(lines))

    def _sendMessage(self, index: int, status: str, lines: int | None) -> None:
        try:
            file = self.mbox.getMessage(index)
        except (OSError, ValueError) as e:
            raise POP3Error(f"message {index + 1} cannot be read: {e}") from None
        self.successResponse(status)
        chunks = _fileChunks(file) if lines is None else _topChunks(file, lines)
        if lines is None and self._size(index) <= _INLINE_MESSAGE:
            stuffer = DotStuffer()
            try:
                data = stuffer.feed(file.read())
            finally:
                file.close()
            self.transport.write(data + stuffer.finish())
            return
        self._block()
        sender = _MessageSender(self.transport, file, chunks, self._unblock)
        self.transport.registerProducer(sender, False)

    def do_DELE(self, number: bytes) -> None:
        index = self._index(number)
        self.mbox.deleteMessage(index)
        self._deleted.add(index)
        self.successResponse(f"message {index + 1} deleted")

    def do_RSET(self) -> None:
        if self.mbox is not None:
            self.mbox.undeleteMessages()
            self._deleted.clear()
        self.successResponse(b"")

    def do_NOOP(self) -> None:
        self.successResponse(b"")

    def do_LAST(self) -> None:
        # RFC 1725's LAST, which Twisted keeps: the highest message number accessed.
        self.successResponse(b"0")

    def do_QUIT(self) -> None:
        if self.mbox is not None:
            try:
                self.mbox.sync()
            except Exception:
                _log.failure("saving the POP3 session's changes failed")
                self.failResponse(b"[SYS/TEMP] some deleted messages were not removed")
                self.transport.loseConnection()
                return
        self.successResponse(b"bye")
        self.transport.loseConnection()


def _releasing(inUse: set[Any], key: Any, logout: Callable[[], object]) -> Callable[[], object]:
    def release() -> object:
        inUse.discard(key)
        return logout()

    return release


def _isTLS(transport: Any) -> bool:
    from torsion.internet.interfaces import ISSLTransport

    return ISSLTransport.providedBy(transport)


def _capability(factory: Any, name: str) -> bytes | None:
    method = getattr(factory, name, None)
    if method is None:
        return None
    try:
        value = method()
    except NotImplementedError:
        return None
    if value is None:
        return None
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def _shown(value: bytes) -> str:
    """Bytes from the client, safe to echo in a reply or a log line."""
    text = "".join(chr(b) if 0x20 < b < 0x7F else f"\\x{b:02x}" for b in value[:40])
    return text + ("..." if len(value) > 40 else "")
