"""The SMTP server protocol (RFC 5321); ESMTP and the factory are in ``_smtpextended``.

``SMTP`` speaks HELO and the mail transaction; ``ESMTP`` adds EHLO with SIZE, 8BITMIME,
PIPELINING, ENHANCEDSTATUSCODES, STARTTLS (RFC 3207) and AUTH (RFC 4954) through a
Cred portal. Who may send, who may receive and where a message goes is decided by an
``IMessageDelivery`` (given, made by an ``IMessageDeliveryFactory``, or the avatar a
portal gives); this module only speaks the protocol.

Commands are parsed by ``_smtpcore``; a command whose answer waits on a Deferred
(``validateFrom``, ``validateTo``, a login, ``eomReceived``) holds back the commands
pipelined after it, and stops the transport reading while more than
``maxPendingBytes`` wait. Every limit (line length, recipients, message size, errors,
idle time) answers with its reply code and keeps the connection usable where SMTP
allows it.
Tests: tests/mail/test_smtp_server.py (in memory), test_smtp_smtplib.py (smtplib over
127.0.0.1), test_smtp_auth.py, test_smtp_hostile.py.
"""

from __future__ import annotations

from collections.abc import Callable
from types import CoroutineType
from typing import Any

from torsion.cred.credentials import Anonymous
from torsion.cred.error import UnauthorizedLogin
from torsion.internet.defer import Deferred, DeferredList, maybeDeferred
from torsion.internet.protocol import Protocol
from torsion.logger import Logger
from torsion.mail._smtpcore import (
    Address,
    AddressError,
    IMessageDelivery,
    IMessageDeliveryFactory,
    SMTPBadRcpt,
    SMTPBadSender,
    SMTPServerError,
    User,
    hostName,
)
from torsion.mail._smtpparse import (
    LINE_TOO_LONG,
    CommandSyntaxError,
    DataDecoder,
    LineBuffer,
    formatReply,
    parseCommand,
    parsePath,
)
from torsion.protocols.policies import TimeoutMixin
from torsion.python.failure import Failure

__all__ = ["DNSNAME", "SMTP"]

_log = Logger("torsion.mail.smtp")

DNSNAME = hostName()

# The verbs of other protocols: a browser tricked into posting to an SMTP port.
_FOREIGN_VERBS = frozenset((b"GET", b"POST", b"PUT", b"HEAD", b"CONNECT", b"OPTIONS"))

_COMMAND, _DATA, _AUTH, _CLOSED = range(4)


def _peerHost(transport: Any) -> bytes:
    try:
        host = transport.getPeer().host
    except Exception:
        return b"unknown"
    return host.encode("ascii", "replace") if isinstance(host, str) else bytes(host)


def _resp(value: bytes | str) -> bytes:
    return value.encode("utf-8", "replace") if isinstance(value, str) else value


_handlers: dict[type, dict[bytes, Any]] = {}


def _handlersOf(cls: type) -> dict[bytes, Any]:
    """The do_VERB functions of a protocol class, found once per verb."""
    handlers = _handlers.get(cls)
    if handlers is None:
        handlers = _handlers[cls] = {}
    return handlers


class SMTP(Protocol, TimeoutMixin):
    """An SMTP server connection: HELO, MAIL, RCPT, DATA, RSET, NOOP, VRFY, HELP, QUIT.

    Where mail goes is the ``delivery``'s decision (an ``IMessageDelivery``); without
    one, a ``deliveryFactory`` makes one per message; without either, a ``portal``
    is asked for an anonymous avatar. Subclasses may instead override
    ``validateFrom``, ``validateTo`` and ``receivedHeader``.

    Args:
        delivery: the IMessageDelivery to use.
        deliveryFactory: an IMessageDeliveryFactory to make one per message.

    The limits are class attributes; set them on a subclass or on the factory.
    """

    # The name we give in the greeting and Received headers.
    host: bytes = DNSNAME
    # Idle seconds before the connection is closed (RFC 5321 says at least 5 minutes).
    timeout: float | None = 600
    # The longest command line, in bytes without CRLF (AUTH answers need more than 512).
    maxCommandLength = 4096
    # The longest line of a message body, in bytes without CRLF.
    maxDataLineLength = 8192
    # The most recipients of one message.
    maxRecipients = 100
    # The largest message, in bytes (advertised as SIZE); None means no limit.
    maxMessageSize: int | None = 32 * 1024 * 1024
    # Bad commands tolerated before the server gives up on the client.
    maxErrors = 20
    # Received bytes kept while a command waits on a Deferred, before reading stops.
    maxPendingBytes = 256 * 1024

    portal: Any = None
    factory: Any = None

    def __init__(self, delivery: Any = None, deliveryFactory: Any = None) -> None:
        self.delivery = delivery
        self.deliveryFactory = deliveryFactory
        self._buffer = LineBuffer()
        self._state = _COMMAND
        self._blocked = False
        self._paused = False
        self._errors = 0
        self._helo: tuple[bytes, bytes] | None = None
        self._from: Address | None = None
        self._to: list[tuple[User, Callable[[], Any]]] = []
        self._messages: list[Any] = []
        self._decoder: DataDecoder | None = None
        self._dataFailure: tuple[int, bytes] | None = None
        self._transactionDelivery: Any = None
        self._logout: Callable[[], object] | None = None
        self._peer = b"unknown"

    # -- connection ----------------------------------------------------------------------

    def connectionMade(self) -> None:
        self._peer = _peerHost(self.transport)
        if self.timeout is not None:
            self.setTimeout(self.timeout)
        if self.delivery is None and self.deliveryFactory is None and self.portal is not None:
            self._blocked = True
            d = self.portal.login(Anonymous(), None, IMessageDeliveryFactory, IMessageDelivery)
            d.addCallbacks(self._cbAnonymousAuthentication, self._ebAnonymousAuthentication)
            d.addBoth(self._unblock)
        self.sendCode(220, self.greeting())

    def greeting(self) -> bytes:
        """Return the text of the 220 greeting."""
        return self.host + b" ESMTP torsion ready"

    def _cbAnonymousAuthentication(self, result: tuple[Any, Any, Callable[[], object]]) -> None:
        if self._state == _CLOSED:
            result[2]()
            return
        self._setAvatar(result)

    def _ebAnonymousAuthentication(self, failure: Failure) -> None:
        if not failure.check(UnauthorizedLogin):
            _log.failure("SMTP: the portal failed to give an anonymous avatar", failure)

    def _setAvatar(self, result: tuple[Any, Any, Callable[[], object]]) -> None:
        interface, avatar, logout = result
        if self._logout is not None:
            self._logout()
        self._logout = logout
        if interface is IMessageDeliveryFactory:
            self.deliveryFactory, self.delivery = avatar, None
        else:
            self.delivery, self.deliveryFactory = avatar, None

    def connectionLost(self, reason: Any = None) -> None:
        self._state = _CLOSED
        self.setTimeout(None)
        self._abortMessages()
        logout, self._logout = self._logout, None
        if logout is not None:
            logout()

    def timeoutConnection(self) -> None:
        self.sendCode(421, b"4.4.2 " + self.host + b" Timeout exceeded, closing connection")
        self.transport.loseConnection()

    def sendCode(self, code: int, message: bytes | str | list[bytes] = b"") -> None:
        """Send a reply (a list of lines makes a multi-line reply)."""
        if self._state != _CLOSED:
            self.transport.write(formatReply(code, message))

    # -- input ---------------------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        self.resetTimeout()
        self._buffer.feed(data)
        self._process()

    def _process(self) -> None:
        buffer = self._buffer
        while not self._blocked and self._state != _CLOSED:
            if self._state == _DATA:
                if not self._dataChunk(buffer):
                    break
                continue
            line = buffer.nextLine(self.maxCommandLength)
            if line is None:
                break
            if line is LINE_TOO_LONG:
                if self._state == _AUTH:
                    self._cancelAuth()
                self._error(500, b"5.5.2 Line too long")
            elif self._state == _AUTH:
                self._authLine(line)  # type: ignore[arg-type]
            else:
                self.lineReceived(line)  # type: ignore[arg-type]
            if self.transport is None or self.transport.disconnecting:
                break
        if self._blocked and buffer.pending() > self.maxPendingBytes and not self._paused:
            self._paused = True
            self.transport.pauseProducing()

    def _unblock(self, result: object = None) -> None:
        self._blocked = False
        if self._state == _CLOSED:
            return
        if self._paused:
            self._paused = False
            self.transport.resumeProducing()
        self._process()

    def _error(self, code: int, message: bytes) -> None:
        self._errors += 1
        if self._errors > self.maxErrors:
            self.sendCode(421, b"4.7.0 " + self.host + b" Too many errors, closing connection")
            self.transport.loseConnection()
            return
        self.sendCode(code, message)

    def lineReceived(self, line: bytes) -> None:
        """Handle one command line: dispatch to ``do_VERB(argument)``."""
        verb, argument = parseCommand(line)
        method = self.lookupMethod(verb)
        if method is None:
            if verb in _FOREIGN_VERBS:
                self.sendCode(421, b"4.7.0 This is an SMTP server, not a web server")
                self.transport.loseConnection()
                return
            self._error(500, b"5.5.1 Command not recognized")
            return
        try:
            method(argument)
        except Exception:
            _log.failure("SMTP: the command handler for {verb} failed", verb=verb)
            self.sendCode(451, b"4.3.0 Internal error; try again later")

    def lookupMethod(self, command: bytes) -> Callable[[bytes], None] | None:
        """Return the handler of ``command`` (``do_COMMAND``), or None if unknown."""
        handlers = _handlersOf(type(self))
        function = handlers.get(command)
        if function is None:
            if not command.isalpha() or len(command) > 16:
                return None
            function = getattr(type(self), "do_" + command.decode("ascii"), None)
            if function is None:
                return None
            if len(handlers) < 64:
                handlers[command] = function
        method: Callable[[bytes], None] = function.__get__(self)
        return method

    # -- commands ------------------------------------------------------------------------

    def do_HELO(self, rest: bytes) -> None:
        if not rest:
            self._error(501, b"5.5.4 Syntax: HELO hostname")
            return
        self._helo = (rest, self._peer)
        self._resetTransaction()
        self.sendCode(250, self.host + b" Hello " + rest + b" [" + self._peer + b"]")

    def do_QUIT(self, rest: bytes) -> None:
        self.sendCode(221, b"2.0.0 " + self.host + b" Bye")
        self.transport.loseConnection()

    def do_NOOP(self, rest: bytes) -> None:
        self.sendCode(250, b"2.0.0 OK")

    def do_RSET(self, rest: bytes) -> None:
        self._resetTransaction()
        self.sendCode(250, b"2.0.0 OK")

    def do_VRFY(self, rest: bytes) -> None:
        self.sendCode(252, b"2.5.2 Cannot VRFY user; try RCPT to attempt delivery")

    def do_EXPN(self, rest: bytes) -> None:
        self.sendCode(502, b"5.5.1 EXPN is not supported")

    def do_HELP(self, rest: bytes) -> None:
        self.sendCode(214, b"2.0.0 See RFC 5321 (https://www.rfc-editor.org/rfc/rfc5321)")

    def _resetTransaction(self) -> None:
        self._from = None
        self._to = []
        self._transactionDelivery = None

    def _mailArguments(
        self, rest: bytes, keyword: bytes
    ) -> tuple[Address, dict[bytes, bytes | None]] | None:
        try:
            path, params = parsePath(rest, keyword)
        except CommandSyntaxError as e:
            self._error(e.code, e.reply)
            return None
        try:
            address = Address(path)
        except AddressError:
            self._error(553, b"5.1.3 Bad address syntax: " + path[:80])
            return None
        return address, params

    def _checkMailParameters(self, params: dict[bytes, bytes | None]) -> bool:
        """Check MAIL FROM's ESMTP parameters; send the refusal and return False if bad."""
        for key in params:
            self._error(555, b"5.5.4 Unsupported parameter " + key)
            return False
        return True

    def do_MAIL(self, rest: bytes) -> None:
        if self._helo is None:
            self._error(503, b"5.5.1 Say HELO or EHLO first")
            return
        if self._from is not None:
            self._error(503, b"5.5.1 Nested MAIL command")
            return
        parsed = self._mailArguments(rest, b"FROM:")
        if parsed is None:
            return
        origin, params = parsed
        if not self._checkMailParameters(params):
            return
        delivery = self._transactionDeliveryFor()
        if delivery is None:
            self.sendCode(530, b"5.7.0 Authentication required")
            return
        self._call(
            self._cbFromValidate,
            self._ebFromValidate,
            origin,
            self.validateFrom,
            self._helo,
            origin,
        )

    def _transactionDeliveryFor(self) -> Any:
        if self._transactionDelivery is None:
            if self.delivery is not None:
                self._transactionDelivery = self.delivery
            elif self.deliveryFactory is not None:
                self._transactionDelivery = self.deliveryFactory.getMessageDelivery()
            elif type(self).validateFrom is not SMTP.validateFrom:
                self._transactionDelivery = self
        return self._transactionDelivery

    def _call(
        self,
        callback: Callable[..., None],
        errback: Callable[..., None],
        extra: Any,
        function: Callable[..., Any],
        *args: Any,
    ) -> None:
        """Call ``function``; handle a plain result at once, a Deferred when it fires."""
        try:
            result = function(*args)
        except Exception:
            errback(Failure(), extra)
            return
        if isinstance(result, Deferred) or type(result) is CoroutineType:
            d = result if isinstance(result, Deferred) else maybeDeferred(lambda: result)
            if d.called:
                d.addCallbacks(callback, errback, callbackArgs=(extra,), errbackArgs=(extra,))
                return
            self._blocked = True
            d.addCallbacks(callback, errback, callbackArgs=(extra,), errbackArgs=(extra,))
            d.addErrback(self._internalError)
            d.addBoth(self._unblock)
        else:
            callback(result, extra)

    def _internalError(self, failure: Failure) -> None:
        _log.failure("SMTP: a reply callback failed", failure)
        self.sendCode(451, b"4.3.0 Internal error; try again later")

    def _cbFromValidate(self, result: Any, origin: Address) -> None:
        if self._state == _CLOSED:
            return
        self._from = result if isinstance(result, Address) else origin
        self.sendCode(250, b"2.1.0 Sender <" + bytes(origin) + b"> OK")

    def _ebFromValidate(self, failure: Failure, origin: Address) -> None:
        if self._state == _CLOSED:
            return
        self._transactionDelivery = None
        error = failure.value
        if isinstance(error, SMTPServerError):
            self.sendCode(error.code, _resp(error.resp))
        else:
            _log.failure("SMTP: validateFrom failed for <{origin}>", failure, origin=str(origin))
            self.sendCode(451, b"4.3.0 Cannot accept the sender now; try again later")

    def do_RCPT(self, rest: bytes) -> None:
        if self._from is None:
            self._error(503, b"5.5.1 Need MAIL before RCPT")
            return
        parsed = self._mailArguments(rest, b"TO:")
        if parsed is None:
            return
        address, params = parsed
        if params:
            self._error(555, b"5.5.4 Unsupported parameter " + next(iter(params)))
            return
        if not address.local:
            self._error(553, b"5.1.3 The null address cannot receive mail")
            return
        if len(self._to) >= self.maxRecipients:
            self.sendCode(452, b"4.5.3 Too many recipients")
            return
        user = User(address, self._helo, self, self._from)
        self._call(self._cbToValidate, self._ebToValidate, user, self.validateTo, user)

    def _cbToValidate(self, result: Any, user: User) -> None:
        if self._state == _CLOSED or self._from is None:
            return
        if not callable(result):
            _log.error(
                "SMTP: validateTo returned {result!r} for <{user}>; it must return a "
                "callable that makes the IMessage",
                result=result,
                user=str(user),
            )
            self.sendCode(451, b"4.3.0 Cannot accept the recipient now; try again later")
            return
        self._to.append((user, result))
        self.sendCode(250, b"2.1.5 Recipient <" + bytes(user.dest) + b"> OK")

    def _ebToValidate(self, failure: Failure, user: User) -> None:
        if self._state == _CLOSED:
            return
        error = failure.value
        if isinstance(error, SMTPServerError):
            self.sendCode(error.code, _resp(error.resp))
        else:
            _log.failure("SMTP: validateTo failed for <{user}>", failure, user=str(user))
            self.sendCode(451, b"4.3.0 Cannot accept the recipient now; try again later")

    def do_DATA(self, rest: bytes) -> None:
        if self._from is None:
            self._error(503, b"5.5.1 Need MAIL command")
            return
        if not self._to:
            self._error(503, b"5.5.1 Need RCPT command (no valid recipients)")
            return
        origin, recipients = self._from, [user for user, _ in self._to]
        messages = []
        try:
            for _, makeMessage in self._to:
                messages.append(makeMessage())
            header = self.receivedHeader(self._helo or (b"", self._peer), origin, recipients)
            if header:
                for line in header.splitlines():
                    for message in messages:
                        message.lineReceived(line)
        except Exception as e:
            for message in messages:
                message.connectionLost()
            self._resetTransaction()
            if isinstance(e, SMTPServerError):
                self.sendCode(e.code, _resp(e.resp))
            else:
                _log.failure("SMTP: making the message for delivery failed")
                self.sendCode(451, b"4.3.0 Cannot take the message now; try again later")
            return
        self._messages = messages
        self._decoder = DataDecoder(self.maxMessageSize, self.maxDataLineLength)
        self._dataFailure = None
        self._state = _DATA
        self.sendCode(354, b"Start mail input; end with <CRLF>.<CRLF>")

    def _dataChunk(self, buffer: LineBuffer) -> bool:
        """Take the whole lines of the body that have arrived; False: wait for more."""
        decoder = self._decoder
        assert decoder is not None
        lines, used, ended = decoder.decodeChunk(buffer.peek())
        if not used:
            return False
        buffer.consume(used)
        if self._dataFailure is None:
            if decoder.lineTooLong:
                self._failData(
                    500,
                    b"5.5.2 Message line too long (the limit is %d bytes)" % self.maxDataLineLength,
                )
            elif decoder.tooBig:
                self._failData(
                    552,
                    b"5.3.4 Message too big (the limit is %d bytes)" % (self.maxMessageSize or 0),
                )
            elif lines:
                try:
                    for message in self._messages:
                        receive = message.lineReceived
                        for line in lines:
                            receive(line)
                except Exception:
                    _log.failure("SMTP: the message refused a line")
                    self._failData(451, b"4.3.0 Error storing the message; try again later")
        if ended:
            self._endOfData()
        return True

    def _failData(self, code: int, message: bytes) -> None:
        if self._dataFailure is None:
            self._dataFailure = (code, message)
            self._abortMessages()

    def _abortMessages(self) -> None:
        messages, self._messages = self._messages, []
        for message in messages:
            try:
                message.connectionLost()
            except Exception:
                _log.failure("SMTP: an IMessage's connectionLost failed")

    def _endOfData(self) -> None:
        self._state = _COMMAND
        self._decoder = None
        failure, self._dataFailure = self._dataFailure, None
        messages, self._messages = self._messages, []
        self._resetTransaction()
        if failure is not None:
            self.sendCode(*failure)
            return
        if len(messages) == 1:
            self._call(self._cbDelivered, self._ebDelivered, None, messages[0].eomReceived)
            return
        results = DeferredList([maybeDeferred(m.eomReceived) for m in messages], consumeErrors=True)
        self._call(self._cbDeliveredAll, self._ebDelivered, None, lambda: results)

    def _cbDeliveredAll(self, results: list[tuple[bool, Any]], _: None) -> None:
        for succeeded, value in results:
            if not succeeded:
                self._ebDelivered(value, None)
                return
        self._cbDelivered(None, None)

    def _cbDelivered(self, result: object, _: None) -> None:
        self.sendCode(250, b"2.0.0 Message accepted for delivery")

    def _ebDelivered(self, failure: Failure, _: None) -> None:
        error = failure.value
        if isinstance(error, SMTPServerError):
            self.sendCode(error.code, _resp(error.resp))
        else:
            _log.failure("SMTP: storing a message failed", failure)
            self.sendCode(451, b"4.3.0 Error storing the message; try again later")

    # -- the delivery --------------------------------------------------------------------

    def receivedHeader(
        self, helo: tuple[bytes, bytes], origin: Address, recipients: list[User]
    ) -> bytes | None:
        """Return the Received: header for a message (the delivery's, by default)."""
        delivery = self._transactionDelivery
        if delivery is None or delivery is self:
            return None
        header: bytes | None = delivery.receivedHeader(helo, origin, recipients)
        return header

    def validateFrom(self, helo: tuple[bytes, bytes], origin: Address) -> Any:
        """Accept the sender or refuse it (the delivery decides, by default)."""
        delivery = self._transactionDelivery
        if delivery is None or delivery is self:
            raise SMTPBadSender(origin, 503, b"5.5.1 Who are you? Say HELO first")
        return delivery.validateFrom(helo, origin)

    def validateTo(self, user: User) -> Any:
        """Accept a recipient or refuse it (the delivery decides, by default)."""
        delivery = self._transactionDelivery
        if delivery is None or delivery is self:
            raise SMTPBadRcpt(user)
        return delivery.validateTo(user)

    # -- for ESMTP's AUTH ----------------------------------------------------------------

    def _authLine(self, line: bytes) -> None:
        self._error(500, b"5.5.1 Command not recognized")

    def _cancelAuth(self) -> None:
        self._state = _COMMAND
