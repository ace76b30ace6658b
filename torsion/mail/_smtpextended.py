"""ESMTP (RFC 5321's extensions): EHLO, SIZE, 8BITMIME, PIPELINING, STARTTLS, AUTH,
and ``SMTPFactory``, which makes SMTP or ESMTP server connections.

``ESMTP`` adds to ``_smtpserver.SMTP`` the EHLO keywords, the MAIL FROM parameters
(SIZE, BODY), STARTTLS (RFC 3207, with pipelined bytes after it discarded) and AUTH
(RFC 4954) through a Cred portal, with the mechanisms the portal can check.
Tests: tests/mail/test_smtp_server.py, test_smtp_auth.py, test_smtp_smtplib.py.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from torsion.cred.error import UnauthorizedLogin
from torsion.internet.interfaces import ISSLTransport
from torsion.internet.protocol import ServerFactory
from torsion.mail._smtpauth import CramMD5Credentials, LOGINCredentials, PLAINCredentials
from torsion.mail._smtpcore import (
    IMessageDelivery,
    IMessageDeliveryFactory,
)
from torsion.mail._smtpserver import _AUTH, _CLOSED, _COMMAND, DNSNAME, SMTP, _log
from torsion.python.failure import Failure

__all__ = ["ESMTP", "SMTPFactory"]


class ESMTP(SMTP):
    """An ESMTP server connection: EHLO, SIZE, 8BITMIME, PIPELINING, STARTTLS, AUTH.

    Args:
        chal: SASL mechanism name -> credentials class (``IChallengeResponse``); by
            default PLAIN, LOGIN and CRAM-MD5. A mechanism is only offered when the
            ``portal`` has a checker for its credentials.
        contextFactory: TLS server options, to offer STARTTLS.

    Differences from Twisted, on purpose: PLAIN and LOGIN send the password in the
    clear, so they are offered only under TLS unless ``allowPlaintextAuth`` is True;
    the default mechanisms are on (Twisted's ESMTP has none unless given).
    """

    # Offer PLAIN and LOGIN over a connection without TLS.
    allowPlaintextAuth = False
    # Failed AUTH attempts tolerated on one connection.
    maxAuthFailures = 5
    # The mechanisms that send the password itself.
    plaintextMechanisms = frozenset((b"PLAIN", b"LOGIN"))

    def __init__(self, chal: dict[bytes, Any] | None = None, contextFactory: Any = None) -> None:
        super().__init__()
        if chal is None:
            chal = {
                b"PLAIN": PLAINCredentials,
                b"LOGIN": LOGINCredentials,
                b"CRAM-MD5": CramMD5Credentials,
            }
        self.challengers = chal
        self.ctx = contextFactory
        self.authenticated = False
        self._challenger: Any = None
        self._authFailures = 0
        self._ehlo = False

    @property
    def secure(self) -> bool:
        """Whether the connection runs over TLS."""
        return ISSLTransport.providedBy(self.transport)

    def extensions(self) -> dict[bytes, list[bytes]]:
        """Return the EHLO keywords offered now, each with its parameters."""
        ext: dict[bytes, list[bytes]] = {}
        ext[b"SIZE"] = [b"%d" % self.maxMessageSize] if self.maxMessageSize else []
        ext[b"8BITMIME"] = []
        ext[b"PIPELINING"] = []
        ext[b"ENHANCEDSTATUSCODES"] = []
        if self.ctx is not None and not self.secure:
            ext[b"STARTTLS"] = []
        mechanisms = self.authMechanisms()
        if mechanisms and not self.authenticated:
            ext[b"AUTH"] = mechanisms
        return ext

    def authMechanisms(self) -> list[bytes]:
        """Return the SASL mechanisms the portal can check on this connection now."""
        portal = self.portal
        if portal is None:
            return []
        interfaces = portal.listCredentialsInterfaces()
        offered = []
        for name, credentialsClass in self.challengers.items():
            if name.upper() in self.plaintextMechanisms and not (
                self.secure or self.allowPlaintextAuth
            ):
                continue
            if any(i.implementedBy(credentialsClass) for i in interfaces):
                offered.append(name.upper())
        return offered

    def listExtensions(self) -> list[bytes]:
        """Return the EHLO reply lines after the first."""
        return [b" ".join([key, *values]) for key, values in self.extensions().items()]

    def do_EHLO(self, rest: bytes) -> None:
        if not rest:
            self._error(501, b"5.5.4 Syntax: EHLO hostname")
            return
        self._helo = (rest, self._peer)
        self._ehlo = True
        self._resetTransaction()
        first = self.host + b" Hello " + rest + b" [" + self._peer + b"]"
        self.sendCode(250, [first, *self.listExtensions()])

    def _checkMailParameters(self, params: dict[bytes, bytes | None]) -> bool:
        for key, value in params.items():
            if not self._ehlo:
                self._error(555, b"5.5.4 Parameters need EHLO")
                return False
            if key == b"SIZE":
                if value is None or not value.isdigit() or len(value) > 20:
                    self._error(501, b"5.5.4 SIZE needs a number")
                    return False
                if self.maxMessageSize is not None and int(value) > self.maxMessageSize:
                    self.sendCode(
                        552, b"5.3.4 Message too big (the limit is %d bytes)" % self.maxMessageSize
                    )
                    return False
            elif key == b"BODY":
                if value is None or value.upper() not in (b"7BIT", b"8BITMIME"):
                    self._error(501, b"5.5.4 BODY is 7BIT or 8BITMIME")
                    return False
            elif key == b"AUTH":
                continue
            else:
                self._error(555, b"5.5.4 Unsupported parameter " + key)
                return False
        return True

    def do_STARTTLS(self, rest: bytes) -> None:
        if self.secure:
            self._error(503, b"5.5.1 TLS is already active")
            return
        if self.ctx is None:
            self._error(502, b"5.5.1 STARTTLS is not offered here")
            return
        if rest:
            self._error(501, b"5.5.4 STARTTLS takes no parameters")
            return
        self.sendCode(220, b"2.0.0 Ready to start TLS")
        injected = self._buffer.clear()
        if injected:
            _log.warn(
                "SMTP: {peer} sent {n} bytes after STARTTLS before TLS began; discarded "
                "(a command injection attempt, or a broken client)",
                peer=self._peer.decode("ascii", "replace"),
                n=len(injected),
            )
        try:
            self.transport.startTLS(self.ctx)
        except Exception:
            _log.failure("SMTP: STARTTLS failed to start")
            self.transport.loseConnection()
            return
        self._helo = None
        self._ehlo = False
        self._resetTransaction()

    def do_AUTH(self, rest: bytes) -> None:
        if self.authenticated:
            self._error(503, b"5.5.1 Already authenticated")
            return
        if self._from is not None:
            self._error(503, b"5.5.1 AUTH is not allowed during a mail transaction")
            return
        if not self._ehlo:
            self._error(503, b"5.5.1 Say EHLO first")
            return
        mechanism, _, initial = rest.partition(b" ")
        mechanism = mechanism.upper()
        if not mechanism:
            self._error(501, b"5.5.4 Syntax: AUTH mechanism [initial-response]")
            return
        if mechanism not in self.authMechanisms():
            if (
                mechanism in self.plaintextMechanisms
                and self.portal is not None
                and not self.secure
            ):
                self.sendCode(
                    538, b"5.7.11 Encryption required for requested authentication mechanism"
                )
            else:
                self._error(504, b"5.5.4 Unrecognized authentication type")
            return
        challengerClass = next(v for k, v in self.challengers.items() if k.upper() == mechanism)
        challenger = challengerClass()
        if getattr(challenger, "host", b"") is None:
            challenger.host = self.host
        self._challenger = challenger
        if initial.strip():
            self._state = _AUTH
            self._authLine(initial.strip())
        else:
            self._challenge()

    def _challenge(self) -> None:
        self._state = _AUTH
        challenge = self._challenger.getChallenge()
        self.sendCode(334, base64.b64encode(challenge))

    def _authLine(self, line: bytes) -> None:
        challenger = self._challenger
        if line == b"*":
            self._endAuth()
            self.sendCode(501, b"5.0.0 Authentication cancelled")
            return
        try:
            response = b"" if line == b"=" else base64.b64decode(line, validate=True)
            challenger.setResponse(response)
        except (binascii.Error, ValueError) as e:
            self._endAuth()
            self._error(
                501, b"5.5.2 Cannot decode the response: " + str(e).encode("utf-8", "replace")[:100]
            )
            return
        if challenger.moreChallenges():
            self._challenge()
            return
        self._endAuth()
        username = getattr(challenger, "username", None)
        d = self.portal.login(challenger, None, IMessageDeliveryFactory, IMessageDelivery)
        self._call(self._cbAuthenticated, self._ebAuthenticated, username, lambda: d)

    def _endAuth(self) -> None:
        self._state = _COMMAND
        self._challenger = None

    _cancelAuth = _endAuth

    def _cbAuthenticated(
        self, result: tuple[Any, Any, Callable[[], object]], username: Any
    ) -> None:
        if self._state == _CLOSED:
            result[2]()
            return
        self._setAvatar(result)
        self.authenticated = True
        self._resetTransaction()
        self.sendCode(235, b"2.7.0 Authentication successful")

    def _ebAuthenticated(self, failure: Failure, username: Any) -> None:
        if self._state == _CLOSED:
            return
        shown = (
            username.decode("utf-8", "replace") if isinstance(username, bytes) else str(username)
        )
        if failure.check(UnauthorizedLogin):
            _log.warn(
                "SMTP: authentication failed for user {username!r} from {peer}",
                username=shown,
                peer=self._peer.decode("ascii", "replace"),
            )
            self._authFailures += 1
            if self._authFailures >= self.maxAuthFailures:
                self.sendCode(421, b"4.7.0 Too many failed authentications, closing connection")
                self.transport.loseConnection()
                return
            self.sendCode(535, b"5.7.8 Authentication credentials invalid")
        else:
            _log.failure(
                "SMTP: the portal failed while authenticating {username!r}", failure, username=shown
            )
            self.sendCode(454, b"4.7.0 Temporary authentication failure")


class SMTPFactory(ServerFactory):
    """Makes SMTP (or, with ``protocol = ESMTP``, ESMTP) server connections.

    Each connection gets the factory's ``portal``, ``domain`` (as its host name),
    ``timeout``, ``delivery`` and ``deliveryFactory``, and for ESMTP its
    ``contextFactory`` (STARTTLS) and ``challengers`` when these are set.

    Args:
        portal: the Cred portal for AUTH and for anonymous deliveries.
    """

    protocol: Any = SMTP
    domain: bytes = DNSNAME
    timeout: float | None = 600
    delivery: Any = None
    deliveryFactory: Any = None
    contextFactory: Any = None
    challengers: dict[bytes, Any] | None = None
    # Whose clock times out idle connections (None: the global reactor's).
    reactor: Any = None

    def __init__(self, portal: Any = None) -> None:
        self.portal = portal

    def buildProtocol(self, addr: Any) -> Any:
        protocol = self.protocol()
        protocol.factory = self
        protocol.portal = self.portal
        protocol.host = (
            self.domain if isinstance(self.domain, bytes) else self.domain.encode("idna")
        )
        protocol.timeout = self.timeout
        if self.reactor is not None:
            protocol.callLater = self.reactor.callLater
        if self.delivery is not None:
            protocol.delivery = self.delivery
        if self.deliveryFactory is not None:
            protocol.deliveryFactory = self.deliveryFactory
        if isinstance(protocol, ESMTP):
            if self.contextFactory is not None:
                protocol.ctx = self.contextFactory
            if self.challengers is not None:
                protocol.challengers = self.challengers
        return protocol
