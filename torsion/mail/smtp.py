"""torsion.mail.smtp: send and receive mail with SMTP and ESMTP (RFC 5321).

The server side is ``ESMTP`` (or plain ``SMTP``) made by an ``SMTPFactory``; what
happens to mail is decided by an ``IMessageDelivery``: ``validateFrom`` accepts the
sender, ``validateTo`` each recipient (returning a callable that makes the
``IMessage`` the body is streamed into, line by line), ``receivedHeader`` writes the
trace header. AUTH goes through a Cred portal whose realm gives IMessageDelivery
avatars. The client side is ``sendmail`` for one message, and ``ESMTPSender`` /
``ESMTPSenderFactory`` (or subclasses of ``ESMTPClient``) for more control.

The protocols are in ``_smtpserver``/``_smtpextended`` and ``_smtpclient``/``_smtpsender``,
the sans-IO parsers in ``_smtpparse``, the shared types in ``_smtpcore``, SASL in
``_smtpauth``; the relay queue is
``torsion.mail.relaymanager``. Guide: docs/mail-smtp.md.
Tests: tests/mail/test_smtp_*.py.
"""

from __future__ import annotations

from torsion.mail._smtpauth import (
    CramMD5ClientAuthenticator,
    CramMD5Credentials,
    LOGINAuthenticator,
    LOGINCredentials,
    PLAINAuthenticator,
    PLAINCredentials,
)
from torsion.mail._smtpclient import ESMTPClient, SMTPClient
from torsion.mail._smtpcore import (
    SUCCESS,
    Address,
    AddressError,
    AUTHDeclinedError,
    AuthenticationError,
    AUTHRequiredError,
    EHLORequiredError,
    ESMTPClientError,
    IChallengeResponse,
    IClientAuthentication,
    IMessage,
    IMessageDelivery,
    IMessageDeliveryFactory,
    IMessageSMTP,
    SMTPAddressError,
    SMTPBadRcpt,
    SMTPBadSender,
    SMTPClientError,
    SMTPConnectError,
    SMTPDeliveryError,
    SMTPError,
    SMTPProtocolError,
    SMTPServerError,
    SMTPTimeoutError,
    SMTPTLSError,
    TLSRequiredError,
    User,
    messageid,
    quoteaddr,
    rfc822date,
    xtext_decode,
    xtext_encode,
)
from torsion.mail._smtpextended import ESMTP, SMTPFactory
from torsion.mail._smtpsender import (
    ESMTPSender,
    ESMTPSenderFactory,
    SenderMixin,
    SMTPSender,
    SMTPSenderFactory,
    sendmail,
)
from torsion.mail._smtpserver import DNSNAME, SMTP

__all__ = [
    "DNSNAME",
    "ESMTP",
    "SMTP",
    "SUCCESS",
    "AUTHDeclinedError",
    "AUTHRequiredError",
    "Address",
    "AddressError",
    "AuthenticationError",
    "CramMD5ClientAuthenticator",
    "CramMD5Credentials",
    "EHLORequiredError",
    "ESMTPClient",
    "ESMTPClientError",
    "ESMTPSender",
    "ESMTPSenderFactory",
    "IChallengeResponse",
    "IClientAuthentication",
    "IMessage",
    "IMessageDelivery",
    "IMessageDeliveryFactory",
    "IMessageSMTP",
    "LOGINAuthenticator",
    "LOGINCredentials",
    "PLAINAuthenticator",
    "PLAINCredentials",
    "SMTPAddressError",
    "SMTPBadRcpt",
    "SMTPBadSender",
    "SMTPClient",
    "SMTPClientError",
    "SMTPConnectError",
    "SMTPDeliveryError",
    "SMTPError",
    "SMTPFactory",
    "SMTPProtocolError",
    "SMTPSender",
    "SMTPSenderFactory",
    "SMTPServerError",
    "SMTPTLSError",
    "SMTPTimeoutError",
    "SenderMixin",
    "TLSRequiredError",
    "User",
    "messageid",
    "quoteaddr",
    "rfc822date",
    "sendmail",
    "xtext_decode",
    "xtext_encode",
]
