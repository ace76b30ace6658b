"""The SMTP and ESMTP client protocols (the senders of one message: ``_smtpsender``).

The client is a queue of expected replies: every command sent pushes the handler of
its reply, every complete reply (``_smtpcore.ReplyParser``) pops one. That makes
PIPELINING (RFC 2920) the same code as lock-step: when the server offers it, MAIL,
every RCPT and DATA go out in one write. ``ESMTPClient`` adds STARTTLS (required,
opportunistic, or never) and AUTH (CRAM-MD5, LOGIN, PLAIN); the results are
per-recipient ``(address, code, response)`` triples.
Tests: tests/mail/test_smtp_client.py (against our server, aiosmtpd, and scripted
peers in memory).
"""

from __future__ import annotations

import base64
import binascii
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

from torsion.internet.error import ConnectionDone
from torsion.internet.interfaces import ISSLTransport
from torsion.internet.protocol import Protocol
from torsion.logger import Logger
from torsion.mail._smtpcore import (
    SUCCESS,
    AUTHDeclinedError,
    AuthenticationError,
    AUTHRequiredError,
    EHLORequiredError,
    SMTPClientError,
    SMTPConnectError,
    SMTPDeliveryError,
    SMTPProtocolError,
    SMTPTimeoutError,
    SMTPTLSError,
    TLSRequiredError,
    _asBytes,
    quoteaddr,
)
from torsion.mail._smtpparse import (
    LINE_TOO_LONG,
    DataEncoder,
    LineBuffer,
    ReplyParser,
)
from torsion.protocols.basic import FileSender
from torsion.protocols.policies import TimeoutMixin
from torsion.python.failure import Failure

__all__ = ["ESMTPClient", "SMTPClient"]

_log = Logger("torsion.mail.smtp")

_Handler = Callable[[int, list[bytes]], None]

# The longest reply line we accept from a server.
_MAX_REPLY_LINE = 4096


def _ignoreReply(code: int, lines: list[bytes]) -> None:
    """The handler of a reply whose content does not matter (RSET, a stray DATA)."""


def _globalReactor() -> Any:
    from torsion.internet import reactor

    return reactor


class _LineLog:
    """The last lines of a conversation, for error messages (never a password)."""

    __slots__ = ("_lines",)

    def __init__(self, size: int) -> None:
        self._lines: deque[bytes] = deque(maxlen=max(size, 1))

    def append(self, line: bytes) -> None:
        self._lines.append(line)

    def str(self) -> bytes:
        return b"\n".join(self._lines)

    def __bytes__(self) -> bytes:
        return self.str()


class SMTPClient(Protocol, TimeoutMixin):
    """Sends mail over one connection: HELO, then MAIL/RCPT/DATA per message.

    Subclasses say what to send by overriding ``getMailFrom`` (None: no more mail,
    QUIT), ``getMailTo`` and ``getMailData`` (a binary file), and hear the outcome
    in ``sentMail`` (per message) and ``sendError`` (a failure).

    Args:
        identity: the name to give in HELO/EHLO.
        logsize: how many lines of the conversation to keep for error messages.
    """

    # Seconds to wait for each reply; None waits for ever.
    timeout: float | None = None
    # Offer PIPELINING-style batching (used only when the server offers it).
    pipelining = True

    def __init__(self, identity: bytes | str, logsize: int = 10) -> None:
        self.identity = _asBytes(identity, "identity")
        self.log = _LineLog(logsize)
        self._buffer = LineBuffer()
        self._replies = ReplyParser()
        self._expected: deque[_Handler] = deque()
        self._quitting = False
        self._finished = False
        self._extensions: dict[bytes, bytes] = {}
        self._fromAddress: bytes | None = None
        self._toAddresses: list[bytes] = []
        self._results: list[tuple[bytes, int, bytes]] = []
        self._sender: FileSender | None = None

    # -- what to send (override) --------------------------------------------------------

    def getMailFrom(self) -> Any:
        """Return the sender of the next message, or None when there is none."""
        raise NotImplementedError(f"{type(self).__name__} must define getMailFrom()")

    def getMailTo(self) -> Iterable[Any]:
        """Return the recipients of the message."""
        raise NotImplementedError(f"{type(self).__name__} must define getMailTo()")

    def getMailData(self) -> BinaryIO:
        """Return a binary file holding the message (headers and body)."""
        raise NotImplementedError(f"{type(self).__name__} must define getMailData()")

    def sentMail(
        self,
        code: int,
        resp: bytes,
        numOk: int,
        addresses: list[tuple[bytes, int, bytes]],
        log: Any,
    ) -> None:
        """A message went: ``addresses`` holds ``(address, code, resp)`` per recipient."""

    def sendError(self, exc: SMTPClientError) -> None:
        """Sending failed: the default QUITs (or drops the connection if ``isFatal``)."""
        if exc.isFatal:
            self.transport.loseConnection()
        else:
            self._quit()

    # -- the wire ------------------------------------------------------------------------

    def connectionMade(self) -> None:
        if self.timeout is not None:
            self.setTimeout(self.timeout)
        self._expected.append(self.smtpState_greeting)

    def sendLine(self, line: bytes, logged: bytes | None = None) -> None:
        self.log.append(b">>> " + (line if logged is None else logged))
        self.transport.write(line + b"\r\n")

    def _command(self, line: bytes, handler: _Handler, logged: bytes | None = None) -> None:
        self._expected.append(handler)
        self.sendLine(line, logged)

    def dataReceived(self, data: bytes) -> None:
        self.resetTimeout()
        buffer = self._buffer
        buffer.feed(data)
        while not self._finished:
            line = buffer.nextLine(_MAX_REPLY_LINE)
            if line is None:
                return
            if line is LINE_TOO_LONG:
                self._fatal(
                    SMTPProtocolError(-1, b"the server sent an overlong line", self.log.str())
                )
                return
            assert isinstance(line, bytes)
            self.lineReceived(line)

    def lineReceived(self, line: bytes) -> None:
        self.log.append(b"<<< " + line)
        try:
            reply = self._replies.lineReceived(line)
        except ValueError as e:
            self._fatal(SMTPProtocolError(-1, str(e).encode(), self.log.str()))
            return
        if reply is None:
            return
        code, lines = reply
        if not self._expected:
            if code == 421:
                self._fatal(SMTPConnectError(code, b"\n".join(lines), self.log.str(), retry=True))
            else:
                self._fatal(
                    SMTPProtocolError(
                        code, b"unexpected reply: " + b"\n".join(lines), self.log.str()
                    )
                )
            return
        handler = self._expected.popleft()
        try:
            handler(code, lines)
        except Exception:
            _log.failure("SMTP client: handling the reply {code} failed", code=code)
            self._fatal(SMTPProtocolError(-1, b"internal error in the SMTP client", self.log.str()))

    def timeoutConnection(self) -> None:
        self._fatal(
            SMTPTimeoutError(
                -1, b"timed out waiting for the SMTP server", self.log.str(), retry=True
            )
        )

    def _fatal(self, exc: SMTPClientError) -> None:
        exc.isFatal = True
        if not self._finished:
            self._finished = True
            self.setTimeout(None)
            self.sendError(exc)
        if self.transport is not None:
            self.transport.loseConnection()

    def _quit(self) -> None:
        if self._quitting:
            return
        self._quitting = True
        self._command(b"QUIT", self._cbQuit)

    def _cbQuit(self, code: int, lines: list[bytes]) -> None:
        self._finished = True
        self.transport.loseConnection()

    def connectionLost(self, reason: Any = None) -> None:
        self.setTimeout(None)
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.stopProducing()
        if not self._finished and not self._quitting:
            self._finished = True
            text = b"connection lost"
            if reason is not None and not (
                isinstance(reason, Failure) and reason.check(ConnectionDone)
            ):
                text += b": " + str(getattr(reason, "value", reason)).encode("utf-8", "replace")
            self.sendError(SMTPConnectError(-1, text, self.log.str(), isFatal=True, retry=True))

    # -- the conversation ----------------------------------------------------------------

    def smtpState_greeting(self, code: int, lines: list[bytes]) -> None:
        if code != 220:
            self._fatal(SMTPConnectError(code, b"\n".join(lines), self.log.str(), retry=code < 500))
            return
        self.greetingReceived()

    def greetingReceived(self) -> None:
        self._command(b"HELO " + self.identity, self.smtpState_helo)

    def smtpState_helo(self, code: int, lines: list[bytes]) -> None:
        if code not in SUCCESS:
            self._fatal(SMTPConnectError(code, b"\n".join(lines), self.log.str(), retry=code < 500))
            return
        self._extensions = {}
        self.smtpTransferReady()

    def smtpTransferReady(self) -> None:
        """The session is set up: send the next message, or QUIT if there is none."""
        sender = self.getMailFrom()
        if sender is None:
            self._quit()
            return
        self._fromAddress = quoteaddr(sender)
        self._toAddresses = [quoteaddr(to) for to in self.getMailTo()]
        self._results = []
        mail = b"MAIL FROM:" + self._fromAddress + self._mailParameters()
        if not self._toAddresses:
            self.sendError(SMTPDeliveryError(-1, b"no recipients given", self.log.str()))
            return
        if self.pipelining and b"PIPELINING" in self._extensions:
            self._expected.append(self.smtpState_from)
            for address in self._toAddresses:
                self._expected.append(self._rcptHandler(address, last=False))
            self._expected.append(self.smtpState_data)
            lines = [mail] + [b"RCPT TO:" + a for a in self._toAddresses] + [b"DATA"]
            for line in lines:
                self.log.append(b">>> " + line)
            self.transport.write(b"\r\n".join(lines) + b"\r\n")
        else:
            self._command(mail, self._stepFrom)

    def _mailParameters(self) -> bytes:
        if b"8BITMIME" in self._extensions:
            return b" BODY=8BITMIME"
        return b""

    def _stepFrom(self, code: int, lines: list[bytes]) -> None:
        self.smtpState_from(code, lines)
        if code in SUCCESS:
            self._nextRcpt(0)

    def _nextRcpt(self, index: int) -> None:
        address = self._toAddresses[index]
        handler = self._rcptHandler(address, last=index == len(self._toAddresses) - 1)

        def then(code: int, lines: list[bytes]) -> None:
            handler(code, lines)
            if index + 1 < len(self._toAddresses):
                self._nextRcpt(index + 1)
            elif any(c in SUCCESS for _, c, _r in self._results):
                self._command(b"DATA", self.smtpState_data)
            else:
                self._refusedAll()

        self._command(b"RCPT TO:" + address, then)

    def smtpState_from(self, code: int, lines: list[bytes]) -> None:
        if code not in SUCCESS:
            self._fromRefused = (code, b"\n".join(lines))
            if not (self.pipelining and b"PIPELINING" in self._extensions):
                self._messageFailed(
                    SMTPDeliveryError(code, b"\n".join(lines), self.log.str(), retry=code < 500)
                )
        else:
            self._fromRefused = None

    _fromRefused: tuple[int, bytes] | None = None

    def _rcptHandler(self, address: bytes, last: bool) -> _Handler:
        def handler(code: int, lines: list[bytes]) -> None:
            self._results.append((address[1:-1], code, b"\n".join(lines)))

        return handler

    def _refusedAll(self) -> None:
        self._messageFailed(
            SMTPDeliveryError(
                550 if all(c >= 500 for _, c, _r in self._results) else 450,
                b"no recipient was accepted",
                self.log.str(),
                addresses=self._results,
                retry=any(400 <= c < 500 for _, c, _r in self._results),
            )
        )

    def smtpState_data(self, code: int, lines: list[bytes]) -> None:
        accepted = any(c in SUCCESS for _, c, _r in self._results)
        if self._fromRefused is not None:
            fromCode, text = self._fromRefused
            if code == 354:
                self.transport.write(b".\r\n")
                self._expected.append(_ignoreReply)
            self._messageFailed(
                SMTPDeliveryError(fromCode, text, self.log.str(), retry=fromCode < 500)
            )
            return
        if not accepted:
            if code == 354:
                self.transport.write(b".\r\n")
                self._expected.append(_ignoreReply)
            self._refusedAll()
            return
        if code != 354:
            self._messageFailed(
                SMTPDeliveryError(
                    code, b"\n".join(lines), self.log.str(), self._results, retry=code < 500
                )
            )
            return
        encoder = DataEncoder()
        sender = self._sender = FileSender()
        d = sender.beginFileTransfer(
            self.getMailData(), self.transport, self.transformChunk(encoder)
        )
        d.addCallbacks(self._cbDataSent, self._ebDataSent, callbackArgs=(encoder,))

    def transformChunk(self, encoder: DataEncoder) -> Callable[[bytes], bytes]:
        """Return how the message's chunks are encoded for DATA (line ends, dots)."""
        return encoder.encode

    def _cbDataSent(self, _: bytes, encoder: DataEncoder) -> None:
        self._sender = None
        self.log.append(b">>> (message) .")
        self._expected.append(self.smtpState_msgSent)
        self.transport.write(encoder.finish())

    def _ebDataSent(self, failure: Failure) -> None:
        self._sender = None
        if self.transport is not None and self.transport.connected:
            self._fatal(
                SMTPClientError(
                    -1, f"reading the message failed: {failure.value}".encode(), self.log.str()
                )
            )

    def smtpState_msgSent(self, code: int, lines: list[bytes]) -> None:
        resp = b"\n".join(lines)
        if code not in SUCCESS:
            self._messageFailed(
                SMTPDeliveryError(code, resp, self.log.str(), self._results, retry=code < 500)
            )
            return
        numOk = sum(1 for _, c, _r in self._results if c in SUCCESS)
        self.sentMail(code, resp, numOk, self._results, self.log)
        self.smtpTransferReady()

    def _messageFailed(self, exc: SMTPClientError) -> None:
        """One message failed but the session is fine: RSET, then report it."""
        self._command(b"RSET", _ignoreReply)
        self.sendError(exc)


class ESMTPClient(SMTPClient):
    """An SMTP client that speaks EHLO, STARTTLS and AUTH.

    Args:
        secret: the password for AUTH (None: do not authenticate).
        contextFactory: the TLS client options for STARTTLS (verify the server!).
        identity, logsize: as SMTPClient's.

    ``requireTransportSecurity``: True refuses to go on without STARTTLS; None (the
    default) uses STARTTLS when offered and sends a PLAIN or LOGIN password only under
    TLS; False also allows PLAIN/LOGIN in the clear. STARTTLS needs a contextFactory.
    ``requireAuthentication`` refuses to send without AUTH; ``heloFallback`` tries
    HELO when EHLO is refused.
    """

    requireAuthentication = False
    requireTransportSecurity: bool | None = None
    heloFallback = True
    # Mechanisms that would reveal the secret to whoever listens.
    plaintextMechanisms = frozenset((b"PLAIN", b"LOGIN"))

    def __init__(
        self, secret: bytes | str | None, contextFactory: Any = None, *args: Any, **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.secret = None if secret is None else _asBytes(secret, "secret")
        self.context = contextFactory
        self.authenticators: list[Any] = []
        self._tried: set[bytes] = set()
        self._authenticator: Any = None

    def registerAuthenticator(self, auth: Any) -> None:
        """Offer ``auth`` (an IClientAuthentication) in the order registered."""
        self.authenticators.append(auth)

    @property
    def secure(self) -> bool:
        return ISSLTransport.providedBy(self.transport)

    def greetingReceived(self) -> None:
        self._command(b"EHLO " + self.identity, self.esmtpState_ehlo)

    def esmtpState_ehlo(self, code: int, lines: list[bytes]) -> None:
        if code not in SUCCESS:
            if (
                self.heloFallback
                and not self.requireTransportSecurity
                and not self.requireAuthentication
            ):
                self._command(b"HELO " + self.identity, self.smtpState_helo)
            else:
                self._fatal(
                    EHLORequiredError(
                        code,
                        b"the server does not speak ESMTP: " + b"\n".join(lines),
                        self.log.str(),
                    )
                )
            return
        extensions = {}
        for line in lines[1:]:
            key, _, params = line.partition(b" ")
            extensions[key.upper()] = params
        self._extensions = extensions
        if not self.secure:
            if b"STARTTLS" in extensions and self.context is not None:
                self._command(b"STARTTLS", self.esmtpState_starttls)
                return
            if self.requireTransportSecurity:
                why = (
                    b"the server does not offer STARTTLS"
                    if b"STARTTLS" not in extensions
                    else b"no TLS context"
                )
                self._fatal(
                    TLSRequiredError(-1, why + b"; transport security is required", self.log.str())
                )
                return
        self._authenticate()

    def esmtpState_starttls(self, code: int, lines: list[bytes]) -> None:
        if code != 220:
            if self.requireTransportSecurity:
                self._fatal(
                    SMTPTLSError(code, b"STARTTLS refused: " + b"\n".join(lines), self.log.str())
                )
            else:
                self._authenticate()
            return
        try:
            self.transport.startTLS(self.context)
        except Exception as e:
            self._fatal(SMTPTLSError(-1, f"cannot start TLS: {e}".encode(), self.log.str()))
            return
        self._extensions = {}
        self._command(b"EHLO " + self.identity, self.esmtpState_ehlo)

    def _authenticate(self) -> None:
        if self.secret is None or not self.authenticators:
            if self.requireAuthentication:
                self._fatal(
                    AUTHRequiredError(
                        -1,
                        b"authentication is required but no credentials were given",
                        self.log.str(),
                    )
                )
                return
            self.smtpTransferReady()
            return
        offered = set(self._extensions.get(b"AUTH", b"").upper().split())
        for auth in self.authenticators:
            name = auth.getName().upper()
            if name not in offered or name in self._tried:
                continue
            if (
                name in self.plaintextMechanisms
                and not self.secure
                and self.requireTransportSecurity is not False
            ):
                continue
            self._tried.add(name)
            self._authenticator = auth
            if name == b"PLAIN":
                answer = base64.b64encode(auth.challengeResponse(self.secret, b""))
                self._command(b"AUTH PLAIN " + answer, self.esmtpState_auth, b"AUTH PLAIN (secret)")
            else:
                self._command(b"AUTH " + name, self.esmtpState_auth)
            return
        if self.requireAuthentication or self._tried:
            cls = AUTHDeclinedError if self._tried else AUTHRequiredError
            why = (
                b"the server refused our credentials"
                if self._tried
                else b"the server offers no mechanism we may use here"
            )
            self._fatal(cls(-1, why, self.log.str()))
            return
        self.smtpTransferReady()

    def esmtpState_auth(self, code: int, lines: list[bytes]) -> None:
        if code == 334:
            try:
                challenge = (
                    base64.b64decode(lines[0].strip(), validate=True)
                    if lines and lines[0].strip()
                    else b""
                )
            except binascii.Error:
                self._fatal(SMTPProtocolError(code, b"undecodable AUTH challenge", self.log.str()))
                return
            answer = base64.b64encode(self._authenticator.challengeResponse(self.secret, challenge))
            self._command(answer, self.esmtpState_auth, b"(secret)")
            return
        if code == 235:
            self._authenticator = None
            self.smtpTransferReady()
            return
        if code in (535, 534, 538):
            self._fatal(AuthenticationError(code, b"\n".join(lines), self.log.str()))
            return
        self._authenticate()
