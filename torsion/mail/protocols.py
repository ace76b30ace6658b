"""The protocols of a MailService: SMTP deliveries into its domains, and the SMTP,
ESMTP, POP3 and IMAP4 factories that serve them.

``ESMTPDomainDelivery(service, user)`` is the IMessageDelivery of one SMTP session: a
recipient in one of the service's domains is accepted if the domain says it exists
(torsion.mail.maildir's domains, with aliases), and refused with 550 otherwise; a
recipient elsewhere is relayed through the service's queue only for a session that
logged in with AUTH (``user`` is not None) and only if the service has a queue;
everyone else gets 550 "relaying denied" (no open relay). Each message gets a
Received: header naming the client, this host, and ESMTP/ESMTPS/ESMTPA/ESMTPSA (RFC
3848).

The factories: ``SMTPFactory(service, portal)`` and ``ESMTPFactory(service, portal)``
(MailService.getESMTPFactory gives one over the service's SMTP portal), and
``POP3Factory(service)`` and ``IMAP4Factory(service)``, whose logins go through
``MailService.login`` (``user@domain`` or ``user`` of the default domain); give them a
TLS ``contextFactory`` to offer STARTTLS/STLS, and set ``requireTransportSecurity``
to take passwords only under TLS.
Tests: tests/mail/test_mailservice.py, tests/mail/test_endtoend.py.
"""

from __future__ import annotations

import time
from typing import Any

from zope.interface import implementer

from torsion.internet import defer
from torsion.internet.protocol import ServerFactory
from torsion.logger import Logger
from torsion.mail import imap4, pop3, smtp

__all__ = [
    "DomainDeliveryBase",
    "ESMTPDomainDelivery",
    "ESMTPFactory",
    "IMAP4Factory",
    "POP3Factory",
    "SMTPDomainDelivery",
    "SMTPFactory",
]

_log = Logger(namespace="torsion.mail")


@implementer(smtp.IMessageDelivery)
class DomainDeliveryBase:
    """Delivers the mail of one SMTP session into the domains of ``service``.

    Args:
        service: the MailService.
        user: the avatar id of a client that logged in with AUTH (``user@domain``), or
            None for an anonymous client, who may only send to the local domains.
        host: this server's name, for the Received: header.
    """

    protocolName = b"not-configured"

    def __init__(self, service: Any, user: Any, host: bytes | str = smtp.DNSNAME) -> None:
        self.service = service
        self.user = user
        self.host = host.encode("idna") if isinstance(host, str) else host

    def receivedHeader(
        self, helo: tuple[bytes, bytes], origin: smtp.Address, recipients: list[smtp.User]
    ) -> bytes:
        name, address = helo if helo else (b"unknown", b"unknown")
        protocol = self.protocolName.upper()
        session = recipients[0].protocol if recipients else None
        if protocol == b"ESMTP" and session is not None:
            if getattr(session, "secure", False):
                protocol += b"S"
            if getattr(session, "authenticated", False):
                protocol += b"A"
        host = getattr(session, "host", None) or self.host
        header = b"Received: from %s ([%s])\r\n\tby %s with %s" % (name, address, host, protocol)
        header += b" id %s" % smtp.messageid().strip(b"<>").split(b"@")[0]
        if len(recipients) == 1:
            header += b"\r\n\tfor <%s>" % bytes(recipients[0].dest)
        return header + b"; " + smtp.rfc822date(time.time())

    def _localDomain(self, address: smtp.Address) -> Any:
        domain = address.domain or (self.service.defaultDomain or b"")
        if domain in self.service.domains:
            return self.service.domains[domain]
        return None

    def validateTo(self, user: smtp.User) -> defer.Deferred[Any]:
        domain = self._localDomain(user.dest)
        if domain is not None:
            return defer.maybeDeferred(domain.exists, user)
        if self.user is not None and self.service.queue is not None:
            from torsion.mail import relay

            queuer = relay.DomainQueuer(self.service, True)
            return defer.maybeDeferred(queuer.exists, user)
        if self.service.queue is not None:
            why = b"5.7.1 Relaying denied: log in (AUTH) to send to other domains"
        else:
            why = b"5.7.1 Relaying denied: this server takes mail for its own domains only"
        return defer.fail(smtp.SMTPBadRcpt(user, 550, why))

    def validateFrom(self, helo: tuple[bytes, bytes] | None, origin: smtp.Address) -> Any:
        if not helo:
            raise smtp.SMTPBadSender(origin, 503, b"5.5.1 Who are you? Say HELO first")
        if origin.local and not origin.domain:
            raise smtp.SMTPBadSender(origin, 501, b"5.1.7 The sender address needs a domain")
        return origin


class SMTPDomainDelivery(DomainDeliveryBase):
    """A delivery for SMTP sessions."""

    protocolName = b"smtp"


class ESMTPDomainDelivery(DomainDeliveryBase):
    """A delivery for ESMTP sessions."""

    protocolName = b"esmtp"


class SMTPFactory(smtp.SMTPFactory):
    """SMTP sessions for a MailService: each logs in to ``portal`` (anonymously, or
    with AUTH on ESMTP) and gets its delivery from the service."""

    protocol: Any = smtp.SMTP

    def __init__(self, service: Any, portal: Any = None) -> None:
        super().__init__(portal)
        self.service = service

    def buildProtocol(self, addr: Any) -> Any:
        p = super().buildProtocol(addr)
        p.service = self.service
        return p


class ESMTPFactory(SMTPFactory):
    """ESMTP sessions for a MailService; ``context`` (or ``contextFactory``) offers
    STARTTLS, ``challengers`` chooses the AUTH mechanisms (ESMTP's default: PLAIN and
    LOGIN under TLS, CRAM-MD5 where the passwords allow it)."""

    protocol: Any = smtp.ESMTP

    @property
    def context(self) -> Any:
        return self.contextFactory

    @context.setter
    def context(self, value: Any) -> None:
        self.contextFactory = value


class POP3Factory(ServerFactory):
    """POP3 sessions for a MailService: logins through ``portal`` (by default the
    service, which picks the user's domain), STLS with ``contextFactory``."""

    protocol: Any = pop3.POP3
    requireTransportSecurity = False

    def __init__(self, service: Any, portal: Any = None, contextFactory: Any = None) -> None:
        self.service = service
        self.portal = portal
        self.contextFactory = contextFactory
        # The mailboxes (their paths) that a session of this factory holds.
        self.mailboxesInUse: set[Any] = set()

    def cap_IMPLEMENTATION(self) -> bytes:
        return b"torsion"

    def cap_EXPIRE(self) -> None:
        return None

    def cap_LOGIN_DELAY(self) -> None:
        return None

    def buildProtocol(self, addr: Any) -> Any:
        p = self.protocol(self.contextFactory)
        p.factory = self
        p.portal = self.portal if self.portal is not None else self.service
        p.requireTransportSecurity = self.requireTransportSecurity
        return p


class IMAP4Factory(imap4.IMAP4ServerFactory):
    """IMAP4 sessions (torsion.mail.imap4.IMAP4Server) for a MailService: logins
    through ``portal`` (by default the service, which picks the user's domain),
    STARTTLS with ``contextFactory``; ``requireTransportSecurity`` refuses logins
    until TLS is on."""

    requireTransportSecurity = False

    def __init__(
        self, service: Any, portal: Any = None, contextFactory: Any = None, reactor: Any = None
    ) -> None:
        super().__init__(portal if portal is not None else service, contextFactory, None, reactor)
        self.service = service

    def buildProtocol(self, addr: Any) -> Any:
        p = super().buildProtocol(addr)
        p.requireTransportSecurity = self.requireTransportSecurity
        return p
