"""Sending one message: the sender protocols, their factories, and ``sendmail``.

``SMTPSenderFactory``/``ESMTPSenderFactory`` send one message (retrying a lost
connection or a temporary failure up to ``retries`` times) and fire a Deferred with
``(numOk, [(address, code, response), ...])``; ``sendmail`` connects one and is what
most programs need. The conversation itself is ``_smtpclient``'s.
Tests: tests/mail/test_smtp_client.py.
"""

from __future__ import annotations

import io
from typing import Any, BinaryIO

from torsion.internet.defer import Deferred
from torsion.internet.protocol import ClientFactory
from torsion.mail._smtpauth import (
    CramMD5ClientAuthenticator,
    LOGINAuthenticator,
    PLAINAuthenticator,
)
from torsion.mail._smtpclient import ESMTPClient, SMTPClient, _globalReactor
from torsion.mail._smtpcore import (
    SMTPClientError,
    SMTPConnectError,
    SMTPDeliveryError,
    _asBytes,
)
from torsion.mail._smtpserver import DNSNAME
from torsion.python.failure import Failure

__all__ = [
    "ESMTPSender",
    "ESMTPSenderFactory",
    "SMTPSender",
    "SMTPSenderFactory",
    "SenderMixin",
    "sendmail",
]


class SenderMixin:
    """What the sender protocols share: their factory gives the message."""

    factory: Any
    _finished: bool

    def getMailFrom(self) -> Any:
        factory = self.factory
        if factory.sendFinished or factory._sent:
            return None
        factory._sent = True
        return factory.fromEmail

    def getMailTo(self) -> list[Any]:
        return list(self.factory.toEmail)

    def getMailData(self) -> BinaryIO:
        file: BinaryIO = self.factory.file
        return file

    def sentMail(
        self,
        code: int,
        resp: bytes,
        numOk: int,
        addresses: list[tuple[bytes, int, bytes]],
        log: Any,
    ) -> None:
        self.factory.sendFinished = True
        if numOk:
            self.factory.result.callback((numOk, addresses))
        else:
            self.factory.result.errback(SMTPDeliveryError(code, resp, bytes(log), addresses))

    def sendError(self, exc: SMTPClientError) -> None:
        factory = self.factory
        if exc.retry and factory.retries > 0 and not factory.sendFinished:
            factory.pendingError = exc
        else:
            if not factory.sendFinished:
                factory.sendFinished = True
                factory.result.errback(exc)
        SMTPClient.sendError(self, exc)  # type: ignore[arg-type]


class SMTPSender(SenderMixin, SMTPClient):
    """An SMTPClient sending its factory's one message."""


class ESMTPSender(SenderMixin, ESMTPClient):
    """An ESMTPClient sending its factory's one message; authenticates as ``username``."""

    def __init__(
        self,
        username: bytes | str | None,
        secret: bytes | str | None,
        contextFactory: Any = None,
        *args: Any,
        **kw: Any,
    ) -> None:
        super().__init__(secret, contextFactory, *args, **kw)
        if username is not None:
            for auth in (CramMD5ClientAuthenticator, LOGINAuthenticator, PLAINAuthenticator):
                self.registerAuthenticator(auth(username))


class SMTPSenderFactory(ClientFactory):
    """Sends one message over SMTP and fires ``deferred`` with ``(numOk, addresses)``.

    A lost connection or a temporary (4xx) failure is retried up to ``retries`` times
    (from the start of the file). ``deferred`` fails with the SMTPClientError.

    Args:
        fromEmail: the sender.
        toEmail: a recipient or a list of them.
        file: a binary file with the message (it must be seekable to retry).
        deferred: fired with the result.
        retries: how many more times to try.
        timeout: seconds to wait for each reply.
    """

    protocol: Any = SMTPSender
    domain = DNSNAME
    # Whose clock times out replies (None: the global reactor's).
    reactor: Any = None

    def __init__(
        self,
        fromEmail: Any,
        toEmail: Any,
        file: BinaryIO | bytes,
        deferred: Deferred[Any],
        retries: int = 5,
        timeout: float | None = None,
    ) -> None:
        if isinstance(toEmail, bytes | str):
            toEmail = [toEmail]
        self.fromEmail = fromEmail
        self.toEmail = list(toEmail)
        self.file: BinaryIO = io.BytesIO(file) if isinstance(file, bytes) else file
        self.result = deferred
        self.result.addBoth(self._removeDeferred)
        self.sendFinished = False
        self.currentProtocol: Any = None
        self.retries = -retries if retries < 0 else retries
        self.timeout = timeout
        self.pendingError: SMTPClientError | None = None
        self._sent = False

    def _removeDeferred(self, result: Any) -> Any:
        self.currentProtocol = None
        return result

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        self._processConnectionError(
            connector,
            SMTPConnectError(-1, str(reason.value).encode("utf-8", "replace"), retry=True),
        )

    def clientConnectionLost(self, connector: Any, reason: Failure) -> None:
        error = self.pendingError or SMTPConnectError(-1, b"connection lost", retry=True)
        self._processConnectionError(connector, error)

    def _processConnectionError(self, connector: Any, error: SMTPClientError) -> None:
        self.currentProtocol = None
        self.pendingError = None
        if self.sendFinished:
            return
        if self.retries > 0 and error.retry:
            self.retries -= 1
            self._sent = False
            try:
                self.file.seek(0)
            except (AttributeError, OSError):
                self.sendFinished = True
                self.result.errback(error)
                return
            connector.connect()
            return
        self.sendFinished = True
        self.result.errback(error)

    def buildProtocol(self, addr: Any) -> Any:
        protocol = self.protocol(self.domain, len(self.toEmail) * 2 + 2)
        return self._configured(protocol)

    def _configured(self, protocol: Any) -> Any:
        protocol.factory = self
        protocol.timeout = self.timeout
        if self.reactor is not None:
            protocol.callLater = self.reactor.callLater
        self.currentProtocol = protocol
        return protocol

    def _cancel(self, connector: Any) -> None:
        """Stop sending: drop the connection, or stop making it."""
        self.sendFinished = True
        protocol = self.currentProtocol
        if protocol is not None and protocol.transport is not None:
            protocol.transport.abortConnection()
        else:
            connector.disconnect()


class ESMTPSenderFactory(SMTPSenderFactory):
    """Sends one message over ESMTP, with STARTTLS and AUTH.

    Args:
        username, password: the credentials for AUTH (None: no AUTH).
        contextFactory: TLS client options for STARTTLS (e.g.
            ``optionsForClientTLS(hostname)``).
        heloFallback: try HELO when EHLO is refused.
        requireAuthentication: fail unless AUTH succeeds.
        requireTransportSecurity: True fails without STARTTLS; None uses it when
            offered and sends passwords only under it; False allows them in clear.
        the rest: as SMTPSenderFactory's.
    """

    protocol = ESMTPSender

    def __init__(
        self,
        username: bytes | str | None,
        password: bytes | str | None,
        fromEmail: Any,
        toEmail: Any,
        file: BinaryIO | bytes,
        deferred: Deferred[Any],
        retries: int = 5,
        timeout: float | None = None,
        contextFactory: Any = None,
        heloFallback: bool = False,
        requireAuthentication: bool = True,
        requireTransportSecurity: bool | None = True,
    ) -> None:
        super().__init__(fromEmail, toEmail, file, deferred, retries, timeout)
        self.username = username
        self.password = password
        self._contextFactory = contextFactory
        self._heloFallback = heloFallback
        self._requireAuthentication = requireAuthentication
        self._requireTransportSecurity = requireTransportSecurity

    def buildProtocol(self, addr: Any) -> Any:
        protocol = self.protocol(
            self.username,
            self.password,
            self._contextFactory,
            self.domain,
            len(self.toEmail) * 2 + 2,
        )
        protocol.heloFallback = self._heloFallback
        protocol.requireAuthentication = self._requireAuthentication
        protocol.requireTransportSecurity = self._requireTransportSecurity
        return self._configured(protocol)


def sendmail(
    smtphost: bytes | str,
    from_addr: Any,
    to_addrs: Any,
    msg: bytes | str | BinaryIO,
    senderDomainName: bytes | str | None = None,
    port: int = 25,
    reactor: Any = None,
    username: bytes | str | None = None,
    password: bytes | str | None = None,
    requireAuthentication: bool = False,
    requireTransportSecurity: bool | None = None,
    contextFactory: Any = None,
    timeout: float | None = 120,
    retries: int = 0,
) -> Deferred[tuple[int, list[tuple[bytes, int, bytes]]]]:
    """Send one message through the SMTP server at ``smtphost``:``port``.

    Returns a Deferred firing with ``(numOk, [(address, code, response), ...])`` when
    at least one recipient took it, failing with an SMTPClientError otherwise.
    Cancelling it drops the connection.

    Args:
        smtphost: the server's host name or address.
        from_addr: the sender (envelope MAIL FROM).
        to_addrs: a recipient or a list of them.
        msg: the message (headers and body), as bytes, str (UTF-8) or a binary file.
        senderDomainName: the name for EHLO (default: this host's name).
        username, password: AUTH credentials (CRAM-MD5, LOGIN or PLAIN).
        requireAuthentication: fail unless AUTH succeeds.
        requireTransportSecurity: True: STARTTLS is required; None (default): used
            when offered, and a password goes only over TLS or CRAM-MD5; False:
            STARTTLS only with a ``contextFactory``, passwords allowed in the clear.
        contextFactory: TLS client options; by default the server's certificate is
            verified against the system's trust store for ``smtphost``.
        timeout: seconds to wait for each reply.
        retries: attempts after a lost connection or a temporary failure.
    """
    if reactor is None:
        reactor = _globalReactor()
    host = smtphost.decode("idna") if isinstance(smtphost, bytes) else smtphost
    if contextFactory is None and requireTransportSecurity is not False:
        from torsion.internet.ssl import optionsForClientTLS

        contextFactory = optionsForClientTLS(host)
    if isinstance(msg, str):
        msg = msg.encode("utf-8")
    connectors: list[Any] = []
    d: Deferred[Any] = Deferred(lambda _: factory._cancel(connectors[0]))
    factory = ESMTPSenderFactory(
        username,
        password,
        from_addr,
        to_addrs,
        msg,
        d,
        retries=retries,
        timeout=timeout,
        contextFactory=contextFactory,
        heloFallback=True,
        requireAuthentication=requireAuthentication,
        requireTransportSecurity=requireTransportSecurity,
    )
    factory.reactor = reactor
    if senderDomainName is not None:
        factory.domain = _asBytes(senderDomainName, "senderDomainName")
    connectors.append(reactor.connectTCP(host, port, factory))
    return d
