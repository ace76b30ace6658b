"""The IMAP4rev1 server protocol (RFC 3501), with LITERAL+, IDLE, UNSELECT, NAMESPACE,
SASL-IR and STARTTLS.

The bytes go through ``_imapparser.CommandReader`` (bounded: lines, literals, whole
commands), one command at a time: a command whose account or mailbox answers with a
Deferred holds the next ones until it is done, and the reading stops (the transport is
paused) if a client sends far ahead. Every answer is built from IAccount / IMailbox /
IMessage methods, which may return values or Deferreds. An exception in a handler
becomes ``NO`` (a MailboxException, with its message) or ``BAD`` (bad syntax) for that
command alone; the connection goes on.

Tests: tests/mail/test_imapserver.py (in memory), test_imaplib.py (Python's imaplib over
127.0.0.1), test_imapclient.py.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Callable, Coroutine
from typing import Any

from zope.interface import implementer

from torsion.cred.credentials import UsernamePassword
from torsion.cred.error import LoginFailed
from torsion.internet import defer
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import ISSLTransport
from torsion.internet.protocol import Protocol, ServerFactory
from torsion.logger import Logger
from torsion.mail import _imaputf7  # noqa: F401  (registers the imap4-utf-7 codec)
from torsion.mail._imapfetch import (
    flagList,
    quoted,
)
from torsion.mail._imapinterfaces import (
    IAccount,
    ICloseableMailbox,
    IMailboxListener,
    INamespacePresenter,
    MailboxException,
)
from torsion.mail._imapparser import (
    Command,
    CommandReader,
    Continue,
    IllegalClientResponse,
    Line,
    MessageSet,
    Refused,
    Str,
    Token,
    tokenize,
)
from torsion.mail._imapselected import (
    SelectedCommands,
    _Bad,
    _encodeName,
    _flags,
    _mailboxName,
    _No,
    _oneLine,
    _string,
)
from torsion.mail._smtpauth import LOGINCredentials, PLAINCredentials
from torsion.protocols.policies import TimeoutMixin
from torsion.python.failure import Failure

__all__ = ["IMAP4Server", "IMAP4ServerFactory"]

_log = Logger("torsion.mail.imap4")

# The states each command is allowed in.
_ANY = frozenset({"unauth", "auth", "select"})
_AUTH = frozenset({"auth", "select"})
_SELECT = frozenset({"select"})
_UNAUTH = frozenset({"unauth"})
_STATES = {
    b"CAPABILITY": _ANY, b"NOOP": _ANY, b"LOGOUT": _ANY, b"ID": _ANY,
    b"STARTTLS": _UNAUTH, b"AUTHENTICATE": _UNAUTH, b"LOGIN": _UNAUTH,
    b"SELECT": _AUTH, b"EXAMINE": _AUTH, b"CREATE": _AUTH, b"DELETE": _AUTH,
    b"RENAME": _AUTH, b"SUBSCRIBE": _AUTH, b"UNSUBSCRIBE": _AUTH, b"LIST": _AUTH,
    b"LSUB": _AUTH, b"STATUS": _AUTH, b"APPEND": _AUTH, b"NAMESPACE": _AUTH,
    b"IDLE": _AUTH,
    b"CHECK": _SELECT, b"CLOSE": _SELECT, b"UNSELECT": _SELECT, b"EXPUNGE": _SELECT,
    b"SEARCH": _SELECT, b"FETCH": _SELECT, b"STORE": _SELECT, b"COPY": _SELECT,
    b"UID": _SELECT,
}  # fmt: skip
_STATUS_ITEMS = ("MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN")
_DATE_TIME = re.compile(
    r" ?([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([-+][0-9]{4})\Z"
)


def _appendDate(text: bytes) -> str:
    match = _DATE_TIME.match(text.decode("ascii", "replace"))
    if match is None:
        raise _Bad('bad date-time; expected like "17-Jul-1996 02:44:25 -0700"')
    day, month, year, hour, minute, second, zone = match.groups()
    return f"{int(day):02d} {month.capitalize()} {year} {hour}:{minute}:{second} {zone}"


@implementer(IMailboxListener)
class IMAP4Server(TimeoutMixin, SelectedCommands, Protocol):
    """The server side of one IMAP4 connection.

    Set ``portal`` (a Cred portal whose realm gives ``IAccount`` avatars) before
    clients log in, or use IMAP4ServerFactory. ``chal`` maps SASL mechanism names to
    credential classes (``{b"PLAIN": PLAINCredentials, ...}``; PLAIN and LOGIN by
    default); ``contextFactory`` enables STARTTLS. With
    ``requireTransportSecurity`` true, LOGIN and AUTHENTICATE are refused until TLS
    is on (LOGINDISABLED is advertised): turn it on where clients support STARTTLS.
    """

    timeOut: float | None = 30 * 60
    maxLineLength = 16 * 1024
    maxCommandSize = 9 * 1024 * 1024
    maxLiteralSize = 8 * 1024 * 1024
    maxOtherLiteralSize = 64 * 1024
    maxFailedLogins = 5
    idlePollInterval = 5.0
    requireTransportSecurity = False
    IDENT = b"torsion IMAP4rev1 server ready"

    def __init__(
        self, chal: dict[bytes, Any] | None = None, contextFactory: Any = None,
        scheduler: Any = None,
    ) -> None:  # fmt: skip
        self.challengers: dict[bytes, Any] = (
            dict(chal) if chal is not None
            else {b"PLAIN": PLAINCredentials, b"LOGIN": LOGINCredentials}
        )  # fmt: skip
        self.ctx = contextFactory
        self.portal: Any = None
        self.account: Any = None
        self.mbox: Any = None
        self.readonly = False
        self.state = "unauth"
        self._logout: Callable[[], object] | None = None
        self._reader = CommandReader(self.maxLineLength, self.maxCommandSize, self._literalLimit)
        self._busy = False
        self._paused = False
        self._lineHandler: Callable[[bytes | None], None] | None = None
        self._pending: list[bytes] = []
        self._idling = False
        self._idleCall: Any = None
        self._failedLogins = 0

    def _literalLimit(self, name: bytes) -> int:
        return self.maxLiteralSize if name == b"APPEND" else self.maxOtherLiteralSize

    # -- connection ---------------------------------------------------------------

    def connectionMade(self) -> None:
        self.setTimeout(self.timeOut)
        self.sendUntagged(
            b"OK [CAPABILITY " + b" ".join(self.listCapabilities()) + b"] " + self.IDENT
        )

    def connectionLost(self, reason: object = None) -> None:
        self.setTimeout(None)
        self._stopIdlePoll()
        self._unselect(close=False)
        if self._logout is not None:
            logout, self._logout = self._logout, None
            logout()

    def timeoutConnection(self) -> None:
        self.sendUntagged(b"BYE autologout: no command for too long")
        self.transport.loseConnection()

    def dataReceived(self, data: bytes) -> None:
        self.resetTimeout()
        self._reader.receive(data)
        self._pump()

    def _pump(self) -> None:
        while (
            (not self._busy or self._lineHandler is not None)
            and self.transport is not None
            and not self.transport.disconnecting
        ):
            event = self._reader.nextEvent()
            if event is None:
                break
            self._handle(event)
        if self._busy and self._reader.buffered() > self.maxCommandSize and not self._paused:
            self._paused = True
            self.transport.pauseProducing()
        elif self._paused and not self._busy:
            self._paused = False
            self.transport.resumeProducing()

    def _handle(self, event: Command | Continue | Refused | Line) -> None:
        if isinstance(event, Continue):
            self.sendContinuationRequest(b"Ready for literal data")
        elif isinstance(event, Line):
            handler, self._lineHandler = self._lineHandler, None
            if handler is not None:
                handler(event.data)
        elif isinstance(event, Refused):
            if not event.tag and self._lineHandler is not None:
                handler, self._lineHandler = self._lineHandler, None
                handler(None)
            else:
                self._write(event.tag or b"*", event.response)
        else:
            self._dispatch(event)

    # -- responses ----------------------------------------------------------------

    def _write(self, tag: bytes, text: bytes) -> None:
        self.transport.write(tag + b" " + text + b"\r\n")

    def sendUntagged(self, text: bytes) -> None:
        self._write(b"*", text)

    def sendContinuationRequest(self, text: bytes = b"") -> None:
        self.transport.write(b"+ " + text + b"\r\n")

    def sendPositiveResponse(self, tag: bytes, message: bytes = b"") -> None:
        self._flushPending()
        self._write(tag, b"OK " + message)

    def sendNegativeResponse(self, tag: bytes, message: bytes = b"") -> None:
        self._flushPending()
        self._write(tag, b"NO " + message)

    def sendBadResponse(self, tag: bytes, message: bytes = b"") -> None:
        self._write(tag, b"BAD " + message)

    def _flushPending(self) -> None:
        pending, self._pending = self._pending, []
        for line in pending:
            self.sendUntagged(line)

    def _notice(self, line: bytes) -> None:
        if self._idling:
            self.sendUntagged(line)
        else:
            self._pending.append(line)

    # IMailboxListener: changes to the selected mailbox, told when allowed.

    def newMessages(self, exists: int | None, recent: int | None) -> None:
        if exists is not None:
            self._notice(b"%d EXISTS" % exists)
        if recent is not None:
            self._notice(b"%d RECENT" % recent)

    def flagsChanged(self, newFlags: dict[int, Any]) -> None:
        for number, flags in sorted(newFlags.items()):
            self._notice(b"%d FETCH (FLAGS %s)" % (number, flagList(flags)))

    def modeChanged(self, writeable: bool) -> None:
        self.readonly = not writeable
        self._notice(b"OK [READ-WRITE]" if writeable else b"OK [READ-ONLY]")

    def expungedMessages(self, numbers: list[int]) -> None:
        """Messages removed by someone else, as found by the mailbox's refresh()."""
        for done, number in enumerate(sorted(numbers)):
            self._notice(b"%d EXPUNGE" % (number - done))

    # -- dispatch -------------------------------------------------------------------

    def listCapabilities(self) -> list[bytes]:
        caps = [b"IMAP4rev1", b"LITERAL+", b"IDLE", b"UNSELECT", b"NAMESPACE", b"ID"]
        caps.append(b"APPENDLIMIT=%d" % self.maxLiteralSize)
        if self.state == "unauth":
            secure = ISSLTransport.providedBy(self.transport)
            if self.ctx is not None and not secure:
                caps.append(b"STARTTLS")
            if self.requireTransportSecurity and not secure:
                caps.append(b"LOGINDISABLED")
            else:
                caps.append(b"SASL-IR")
                caps += [b"AUTH=" + name for name in self.challengers]
        return caps

    def _dispatch(self, command: Command) -> None:
        tag, name = command.tag, command.name
        allowed = _STATES.get(name)
        if allowed is None:
            self.sendBadResponse(tag, b"unknown command " + name[:40])
            return
        if self.state not in allowed:
            self.sendBadResponse(
                tag, name + b" is not allowed now (state: %s)" % self.state.encode()
            )
            return
        try:
            args = tokenize(command.args)
        except IllegalClientResponse as e:
            self.sendBadResponse(tag, _oneLine(f"{name.decode()}: {e}"))
            return
        handler = getattr(self, "do_" + name.decode("ascii"))
        try:
            result = handler(tag, args)
        except Exception as e:
            self._failed(tag, name, Failure(e))
            return
        if isinstance(result, Coroutine):
            result = defer.ensureDeferred(result)
        if isinstance(result, Deferred):
            result.addErrback(lambda f: self._failed(tag, name, f))
            if not result.called:
                self._busy = True
                result.addBoth(self._commandDone)

    def _commandDone(self, _: object) -> None:
        self._busy = False
        if self.transport is not None and not getattr(self.transport, "disconnected", False):
            self._pump()

    def _failed(self, tag: bytes, name: bytes, failure: Failure) -> None:
        error = failure.value
        if isinstance(error, _Bad):
            self.sendBadResponse(tag, _oneLine(str(error)))
        elif isinstance(error, IllegalClientResponse):
            self.sendBadResponse(tag, _oneLine(f"{name.decode()}: {error}"))
        elif isinstance(error, _No):
            self.sendNegativeResponse(tag, _oneLine(str(error)))
        elif isinstance(error, MailboxException):
            self.sendNegativeResponse(tag, _oneLine(f"{name.decode()} failed: {error}"))
        else:
            _log.failure("IMAP4 {command} failed", failure, command=name.decode())
            self.sendNegativeResponse(tag, name + b" failed: server error")

    def _args(self, args: list[Token], count: int, usage: str) -> None:
        if len(args) != count:
            raise _Bad(f"usage: {usage}")

    # -- any state ----------------------------------------------------------------------

    def do_CAPABILITY(self, tag: bytes, args: list[Token]) -> None:
        self.sendUntagged(b"CAPABILITY " + b" ".join(self.listCapabilities()))
        self.sendPositiveResponse(tag, b"CAPABILITY completed")

    def do_NOOP(self, tag: bytes, args: list[Token]) -> Any:
        return self._refreshThen(tag, b"NOOP completed")

    async def _refreshThen(self, tag: bytes, text: bytes) -> None:
        if self.mbox is not None:
            refresh = getattr(self.mbox, "refresh", None)
            if refresh is not None:
                await defer.maybeDeferred(refresh)
        self.sendPositiveResponse(tag, text)

    def do_ID(self, tag: bytes, args: list[Token]) -> None:
        self.sendUntagged(b'ID ("name" "torsion")')
        self.sendPositiveResponse(tag, b"ID completed")

    def do_LOGOUT(self, tag: bytes, args: list[Token]) -> None:
        self.state = "logout"
        self.sendUntagged(b"BYE torsion IMAP4 server logging out")
        self.sendPositiveResponse(tag, b"LOGOUT completed")
        self.transport.loseConnection()

    # -- not authenticated ----------------------------------------------------------

    def do_STARTTLS(self, tag: bytes, args: list[Token]) -> None:
        if self.ctx is None or ISSLTransport.providedBy(self.transport):
            raise _Bad("STARTTLS is not available (no TLS configured, or TLS is on already)")
        self.sendPositiveResponse(tag, b"Begin TLS negotiation now")
        self._reader.discardBuffer()
        self.transport.startTLS(self.ctx)

    def _loginAllowed(self) -> None:
        if self.requireTransportSecurity and not ISSLTransport.providedBy(self.transport):
            raise _No("[PRIVACYREQUIRED] use STARTTLS before logging in")
        if self.portal is None:
            raise _No("[UNAVAILABLE] this server has no way to log in (no portal)")

    def do_LOGIN(self, tag: bytes, args: list[Token]) -> Any:
        self._args(args, 2, "LOGIN user password")
        self._loginAllowed()
        user, password = _string(args[0], "a user name"), _string(args[1], "a password")
        return self._authenticated(tag, UsernamePassword(user, password), user, b"LOGIN")

    async def _authenticated(self, tag: bytes, credentials: Any, user: bytes, how: bytes) -> None:
        try:
            _, avatar, logout = await self.portal.login(credentials, None, IAccount)
        except LoginFailed:
            self._failedLogins += 1
            _log.info(
                "IMAP4 {how} failed for {user!r} from {peer}",
                how=how.decode(), user=user.decode("utf-8", "replace"),
                peer=self.transport.getPeer(),
            )  # fmt: skip
            self.sendNegativeResponse(tag, b"[AUTHENTICATIONFAILED] " + how + b" failed")
            if self._failedLogins >= self.maxFailedLogins:
                self.sendUntagged(b"BYE too many failed logins")
                self.transport.loseConnection()
            return
        self.account = avatar
        self._logout = logout
        self.state = "auth"
        caps = b" ".join(self.listCapabilities())
        self.sendPositiveResponse(tag, b"[CAPABILITY " + caps + b"] " + how + b" succeeded")

    def do_AUTHENTICATE(self, tag: bytes, args: list[Token]) -> Any:
        if not 1 <= len(args) <= 2:
            raise _Bad("usage: AUTHENTICATE mechanism [initial-response]")
        self._loginAllowed()
        mechanism = _string(args[0], "a mechanism").upper()
        factory = self.challengers.get(mechanism)
        if factory is None:
            raise _No(f"AUTHENTICATE {mechanism.decode('ascii', 'replace')} is not supported")
        credentials = factory()
        done: Deferred[None] = Deferred()

        def answer(line: bytes | None) -> None:
            if line is None:
                self.sendBadResponse(tag, b"AUTHENTICATE response line too long")
            elif line.strip() == b"*":
                self.sendBadResponse(tag, b"AUTHENTICATE cancelled")
            else:
                try:
                    decoded = b"" if line == b"=" else base64.b64decode(line, validate=True)
                    credentials.setResponse(decoded)
                except (binascii.Error, ValueError) as e:
                    self.sendBadResponse(tag, _oneLine(f"AUTHENTICATE: {e}"))
                else:
                    if credentials.moreChallenges():
                        challenge()
                        return
                    user = getattr(credentials, "username", b"") or b""
                    d = defer.ensureDeferred(
                        self._authenticated(tag, credentials, user, b"AUTHENTICATE")
                    )
                    d.chainDeferred(done)
                    return
            done.callback(None)

        def challenge() -> None:
            self._lineHandler = answer
            self._reader.expectLine()
            self.sendContinuationRequest(base64.b64encode(credentials.getChallenge()))

        if len(args) == 2:
            answer(_string(args[1], "an initial response"))
        else:
            challenge()
        return done

    # -- authenticated ------------------------------------------------------------------

    def do_SELECT(self, tag: bytes, args: list[Token], rw: bool = True) -> Any:
        self._args(args, 1, "SELECT mailbox")
        return self._select(tag, _mailboxName(args[0]), rw)

    def do_EXAMINE(self, tag: bytes, args: list[Token]) -> Any:
        self._args(args, 1, "EXAMINE mailbox")
        return self._select(tag, _mailboxName(args[0]), False)

    async def _select(self, tag: bytes, name: str, rw: bool) -> None:
        self._unselect()
        mbox = await defer.maybeDeferred(self.account.select, name, rw)
        if mbox is None:
            raise _No(f"no mailbox named {name}")
        self.mbox, self.state = mbox, "select"
        self.readonly = not rw or not mbox.isWriteable()
        mbox.addListener(self)
        flags = list(mbox.getFlags())
        self.sendUntagged(b"FLAGS " + flagList(flags))
        self.sendUntagged(b"%d EXISTS" % mbox.getMessageCount())
        self.sendUntagged(b"%d RECENT" % mbox.getRecentCount())
        firstUnseen = await self._firstUnseen()
        if firstUnseen:
            self.sendUntagged(b"OK [UNSEEN %d] first unseen message" % firstUnseen)
        permanent = [] if self.readonly else getattr(mbox, "getPermanentFlags", mbox.getFlags)()
        self.sendUntagged(b"OK [PERMANENTFLAGS " + flagList(permanent) + b"] flags allowed")
        self.sendUntagged(b"OK [UIDVALIDITY %d] UIDs valid" % mbox.getUIDValidity())
        self.sendUntagged(b"OK [UIDNEXT %d] predicted next UID" % mbox.getUIDNext())
        mode = b"[READ-ONLY]" if self.readonly else b"[READ-WRITE]"
        self.sendPositiveResponse(
            tag, mode + b" " + (b"SELECT" if rw else b"EXAMINE") + b" completed"
        )

    async def _firstUnseen(self) -> int:
        if not self.mbox.getUnseenCount():
            return 0
        messages = await defer.maybeDeferred(self.mbox.fetch, MessageSet(1, None), False)
        for number, message in messages:
            if "\\Seen" not in message.getFlags():
                return int(number)
        return 0

    def _unselect(self, close: bool = True) -> None:
        mbox, self.mbox = self.mbox, None
        if mbox is None:
            return
        self.state = "auth" if self.state == "select" else self.state
        self._pending = []
        try:
            mbox.removeListener(self)
        except ValueError:
            pass
        if close and ICloseableMailbox.providedBy(mbox):
            mbox.close()

    async def _account(self, tag: bytes, text: bytes, method: str, *args: Any) -> None:
        result = await defer.maybeDeferred(getattr(self.account, method), *args)
        if result is False:
            raise _No(f"{method} failed")
        self.sendPositiveResponse(tag, text)

    def do_CREATE(self, tag: bytes, args: list[Token]) -> Any:
        self._args(args, 1, "CREATE mailbox")
        name = _mailboxName(args[0])
        return self._account(tag, b"CREATE completed", "create", name)

    def do_DELETE(self, tag: bytes, args: list[Token]) -> Any:
        self._args(args, 1, "DELETE mailbox")
        return self._account(tag, b"DELETE completed", "delete", _mailboxName(args[0]))

    def do_RENAME(self, tag: bytes, args: list[Token]) -> Any:
        self._args(args, 2, "RENAME old new")
        old, new = _mailboxName(args[0]), _mailboxName(args[1])
        return self._account(tag, b"RENAME completed", "rename", old, new)

    def do_SUBSCRIBE(self, tag: bytes, args: list[Token]) -> Any:
        self._args(args, 1, "SUBSCRIBE mailbox")
        return self._account(tag, b"SUBSCRIBE completed", "subscribe", _mailboxName(args[0]))

    def do_UNSUBSCRIBE(self, tag: bytes, args: list[Token]) -> Any:
        self._args(args, 1, "UNSUBSCRIBE mailbox")
        name = _mailboxName(args[0])
        return self._account(tag, b"UNSUBSCRIBE completed", "unsubscribe", name)

    def do_LIST(self, tag: bytes, args: list[Token], kind: bytes = b"LIST") -> Any:
        self._args(args, 2, f"{kind.decode()} reference pattern")
        return self._list(tag, kind, _mailboxName(args[0]), _mailboxName(args[1]))

    def do_LSUB(self, tag: bytes, args: list[Token]) -> Any:
        return self.do_LIST(tag, args, b"LSUB")

    async def _list(self, tag: bytes, kind: bytes, ref: str, pattern: str) -> None:
        if not pattern and kind == b"LIST":
            delimiter = getattr(self.account, "delimiter", "/")
            self.sendUntagged(b"LIST (\\Noselect) " + quoted(delimiter) + b' ""')
            self.sendPositiveResponse(tag, b"LIST completed")
            return
        found = await defer.maybeDeferred(self.account.listMailboxes, ref, pattern)
        for name, info in found:
            if kind == b"LSUB":
                subscribed = await defer.maybeDeferred(self.account.isSubscribed, name)
                if not subscribed:
                    continue
            flags = flagList(info.getFlags())
            delimiter = quoted(info.getHierarchicalDelimiter())
            self.sendUntagged(kind + b" " + flags + b" " + delimiter + b" " + _encodeName(name))
        self.sendPositiveResponse(tag, kind + b" completed")

    def do_STATUS(self, tag: bytes, args: list[Token]) -> Any:
        self._args(args, 2, "STATUS mailbox (items)")
        name = _mailboxName(args[0])
        if not isinstance(args[1], list) or not args[1]:
            raise _Bad("STATUS wants a list of items, like (MESSAGES UNSEEN)")
        items = [
            _string(item, "a status item").upper().decode("ascii", "replace") for item in args[1]
        ]
        for item in items:
            if item not in _STATUS_ITEMS:
                raise _Bad(f"unknown STATUS item {item[:30]}")
        return self._status(tag, name, items)

    async def _status(self, tag: bytes, name: str, items: list[str]) -> None:
        mbox = await defer.maybeDeferred(self.account.select, name, False)
        if mbox is None:
            raise _No(f"no mailbox named {name}")
        values = await defer.maybeDeferred(mbox.requestStatus, items)
        body = b" ".join(
            b"%s %d" % (item.encode(), values[item]) for item in items if item in values
        )
        self.sendUntagged(b"STATUS " + _encodeName(name) + b" (" + body + b")")
        self.sendPositiveResponse(tag, b"STATUS completed")

    def do_APPEND(self, tag: bytes, args: list[Token]) -> Any:
        if not 2 <= len(args) <= 4:
            raise _Bad("usage: APPEND mailbox [(flags)] [date-time] literal")
        name = _mailboxName(args[0])
        flags: list[str] = []
        date = None
        for extra in args[1:-1]:
            if isinstance(extra, list):
                flags = _flags(extra)
            else:
                date = _appendDate(_string(extra, "a date-time"))
        message = args[-1]
        if not isinstance(message, Str):
            raise _Bad("APPEND: the message must be a literal")
        return self._append(tag, name, bytes(message), flags, date)

    async def _append(
        self, tag: bytes, name: str, message: bytes, flags: list[str], date: str | None
    ) -> None:
        mbox = await defer.maybeDeferred(self.account.select, name, True)
        if mbox is None:
            raise _No(f"[TRYCREATE] no mailbox named {name}")
        await defer.maybeDeferred(mbox.addMessage, io.BytesIO(message), flags, date)
        self.sendPositiveResponse(tag, b"APPEND completed")

    def do_NAMESPACE(self, tag: bytes, args: list[Token]) -> None:
        def render(spaces: Any) -> bytes:
            if not spaces:
                return b"NIL"
            return (
                b"("
                + b"".join(b"(" + quoted(p) + b" " + quoted(d) + b")" for p, d in spaces)
                + b")"
            )

        account = self.account
        if INamespacePresenter.providedBy(account):
            parts = [
                render(account.getPersonalNamespaces()),
                render(account.getSharedNamespaces()),
                render(account.getUserNamespaces()),
            ]
        else:
            parts = [b'(("" "/"))', b"NIL", b"NIL"]
        self.sendUntagged(b"NAMESPACE " + b" ".join(parts))
        self.sendPositiveResponse(tag, b"NAMESPACE completed")

    def do_IDLE(self, tag: bytes, args: list[Token]) -> Deferred[None]:
        done: Deferred[None] = Deferred()

        def finished(line: bytes | None) -> None:
            self._idling = False
            self._stopIdlePoll()
            if line is not None and line.strip().upper() == b"DONE":
                self.sendPositiveResponse(tag, b"IDLE terminated")
            else:
                self.sendBadResponse(tag, b"IDLE: expected DONE")
            done.callback(None)

        self._lineHandler = finished
        self._reader.expectLine()
        self._idling = True
        self.sendContinuationRequest(b"idling")
        self._flushPending()
        self._idleCall = self.callLater(self.idlePollInterval, self._idlePoll)
        return done

    def _idlePoll(self) -> None:
        self._idleCall = None
        if not self._idling:
            return
        refresh = getattr(self.mbox, "refresh", None)
        if refresh is not None:
            try:
                refresh()
            except Exception:
                _log.failure("IMAP4 mailbox refresh failed during IDLE")
        self._idleCall = self.callLater(self.idlePollInterval, self._idlePoll)

    def _stopIdlePoll(self) -> None:
        call, self._idleCall = self._idleCall, None
        if call is not None and call.active():
            call.cancel()


class IMAP4ServerFactory(ServerFactory):
    """Makes IMAP4Server protocols sharing one portal (and TLS, and challengers).

    ``reactor`` is the clock for timeouts and IDLE polling (the global reactor if
    None).
    """

    protocol = IMAP4Server

    def __init__(
        self, portal: Any, contextFactory: Any = None,
        challengers: dict[bytes, Any] | None = None, reactor: Any = None,
    ) -> None:  # fmt: skip
        self.portal = portal
        self.contextFactory = contextFactory
        self.challengers = challengers
        self.reactor = reactor

    def buildProtocol(self, addr: Any) -> IMAP4Server:
        proto = self.protocol(self.challengers, self.contextFactory)
        proto.portal = self.portal
        proto.factory = self
        if self.reactor is not None:
            proto.callLater = self.reactor.callLater  # type: ignore[method-assign]
        return proto
