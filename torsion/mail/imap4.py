"""IMAP4rev1 (RFC 3501): the server, the client, and the interfaces between a server
and the mail it serves, with Twisted's names.

- ``IMAP4Server``: the server protocol. Its avatar (from a Cred portal, after LOGIN or
  AUTHENTICATE) is an ``IAccount``; mailboxes are ``IMailbox``, messages ``IMessage``.
  STARTTLS, LITERAL+, IDLE, UNSELECT, NAMESPACE and SASL-IR are supported, and every
  input buffer is bounded (see torsion.mail._imapparser).
- ``IMAP4Client``: the client protocol, every command a method returning a Deferred.
- ``MemoryAccount``: an account kept in memory; torsion.mail.imap4maildir has the
  maildir one.

The parts live in private modules: _imapparser (commands, literals, sequence sets),
_imapsearch (SEARCH), _imapfetch (FETCH rendering: ENVELOPE, BODYSTRUCTURE, sections),
_imapserver, _imapclient, _imapmailbox, _imapmime, _imaputf7 (the ``imap4-utf-7``
codec of mailbox names), _imapinterfaces. Tests: tests/mail/test_imap*.py.
"""

from __future__ import annotations

from torsion.mail._imapclient import IMAP4Client
from torsion.mail._imapinterfaces import (
    IAccount,
    IClientAuthentication,
    ICloseableMailbox,
    IllegalIdentifierError,
    IllegalMailboxEncoding,
    IllegalOperation,
    IllegalQueryError,
    IllegalServerResponse,
    IMailbox,
    IMailboxIMAP,
    IMailboxIMAPInfo,
    IMailboxIMAPListener,
    IMailboxInfo,
    IMailboxListener,
    IMAP4Exception,
    IMessage,
    IMessageCopier,
    IMessageFile,
    IMessageIMAP,
    IMessageIMAPPart,
    IMessagePart,
    INamespacePresenter,
    ISearchableMailbox,
    MailboxCollision,
    MailboxException,
    MismatchedNesting,
    MismatchedQuoting,
    NegativeResponse,
    NoSuchMailbox,
    NoSupportedAuthentication,
    ReadOnlyMailbox,
    UnhandledResponse,
)
from torsion.mail._imapmailbox import (
    MailboxBase,
    MemoryAccount,
    MemoryMailbox,
    SimpleMessage,
    wildcardToRegexp,
)
from torsion.mail._imapmime import MessagePart
from torsion.mail._imapparser import (
    IllegalClientResponse,
    MessageSet,
    parseIdList,
)
from torsion.mail._imapquery import Not, Or, Query
from torsion.mail._imapserver import IMAP4Server, IMAP4ServerFactory
from torsion.mail._imaputf7 import decoder, encoder
from torsion.mail._smtpauth import (
    CramMD5ClientAuthenticator,
    LOGINAuthenticator,
    LOGINCredentials,
    PLAINAuthenticator,
    PLAINCredentials,
)

__all__ = [
    "CramMD5ClientAuthenticator",
    "IAccount",
    "IClientAuthentication",
    "ICloseableMailbox",
    "IMAP4Client",
    "IMAP4Exception",
    "IMAP4Server",
    "IMAP4ServerFactory",
    "IMailbox",
    "IMailboxIMAP",
    "IMailboxIMAPInfo",
    "IMailboxIMAPListener",
    "IMailboxInfo",
    "IMailboxListener",
    "IMessage",
    "IMessageCopier",
    "IMessageFile",
    "IMessageIMAP",
    "IMessageIMAPPart",
    "IMessagePart",
    "INamespacePresenter",
    "ISearchableMailbox",
    "IllegalClientResponse",
    "IllegalIdentifierError",
    "IllegalMailboxEncoding",
    "IllegalOperation",
    "IllegalQueryError",
    "IllegalServerResponse",
    "LOGINAuthenticator",
    "LOGINCredentials",
    "MailboxBase",
    "MailboxCollision",
    "MailboxException",
    "MemoryAccount",
    "MemoryMailbox",
    "MessagePart",
    "MessageSet",
    "MismatchedNesting",
    "MismatchedQuoting",
    "NegativeResponse",
    "NoSuchMailbox",
    "NoSupportedAuthentication",
    "Not",
    "Or",
    "PLAINAuthenticator",
    "PLAINCredentials",
    "Query",
    "ReadOnlyMailbox",
    "SimpleMessage",
    "UnhandledResponse",
    "decoder",
    "encoder",
    "parseIdList",
    "wildcardToRegexp",
]
