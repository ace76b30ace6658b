"""The interfaces and exceptions of torsion.mail.imap4, with Twisted's names.

A server's avatar is an ``IAccount``; it hands out ``IMailbox`` objects, which hand
out ``IMessage`` objects; the server renders everything the client asks for from
these methods alone, so any storage can be served. Tests: tests/mail/test_imap*.py.
"""

from __future__ import annotations

from typing import Any

from zope.interface import Interface

from torsion.mail._smtpcore import IClientAuthentication

__all__ = [
    "IAccount",
    "IClientAuthentication",
    "ICloseableMailbox",
    "IMAP4Exception",
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
    "IllegalIdentifierError",
    "IllegalMailboxEncoding",
    "IllegalOperation",
    "IllegalQueryError",
    "IllegalServerResponse",
    "MailboxCollision",
    "MailboxException",
    "MismatchedNesting",
    "MismatchedQuoting",
    "NegativeResponse",
    "NoSuchMailbox",
    "NoSupportedAuthentication",
    "ReadOnlyMailbox",
    "UnhandledResponse",
]


class IMAP4Exception(Exception):
    """Base of the IMAP4 errors."""


class IllegalOperation(IMAP4Exception):
    """The command is not allowed in this state."""


class IllegalMailboxEncoding(IMAP4Exception):
    """A mailbox name is not valid modified UTF-7."""


class IllegalIdentifierError(IMAP4Exception):
    """A message number or UID is not valid."""


class IllegalQueryError(IMAP4Exception):
    """A SEARCH query cannot be parsed."""


class IllegalServerResponse(IMAP4Exception):
    """The server sent something the client cannot parse."""


class MismatchedNesting(IMAP4Exception):
    """Parentheses or brackets do not balance."""


class MismatchedQuoting(IMAP4Exception):
    """A quoted string does not end."""


class MailboxException(IMAP4Exception):
    """A mailbox operation failed; the message is sent to the client after NO."""


class MailboxCollision(MailboxException):
    """A mailbox of that name exists already."""

    def __str__(self) -> str:
        return f"Mailbox named {self.args[0]} already exists"


class NoSuchMailbox(MailboxException):
    """There is no mailbox of that name."""

    def __str__(self) -> str:
        return f"No mailbox named {self.args[0]} exists"


class ReadOnlyMailbox(MailboxException):
    """The mailbox cannot be written to."""

    def __str__(self) -> str:
        return "Mailbox open in read-only state"


class NegativeResponse(IMAP4Exception):
    """The server answered NO or BAD; the text is the exception's message."""


class NoSupportedAuthentication(IMAP4Exception):
    """The client and server share no authentication mechanism."""

    def __init__(self, serverSupports: Any, clientSupports: Any) -> None:
        super().__init__(
            "No supported authentication schemes available:"
            f" server supports {serverSupports!r}, client supports {clientSupports!r}"
        )
        self.serverSupports = serverSupports
        self.clientSupports = clientSupports


class UnhandledResponse(IMAP4Exception):
    """A response the client has no handler for."""


class IMailboxListener(Interface):
    """Told about changes to a mailbox while a client has it selected."""

    def modeChanged(writeable: bool) -> None:
        """The mailbox became read-only or writeable."""

    def flagsChanged(newFlags: Any) -> None:
        """Messages' flags changed: ``{messageNumber: [flag, ...]}``."""

    def newMessages(exists: int | None, recent: int | None) -> None:
        """The number of messages (or of recent ones) changed; None is unchanged."""


IMailboxIMAPListener = IMailboxListener


class IMessagePart(Interface):
    """A MIME part: headers, a body, and sub-parts when multipart."""

    def getHeaders(negate: bool, *names: str) -> dict[str, str]:
        """The named headers (all of them if no names), or all but them if ``negate``.

        Keys are lower-case header names; values the unfolded header text.
        """

    def getBodyFile() -> Any:
        """A binary file of the body (what follows the header's blank line)."""

    def getSize() -> int:
        """The size in octets of the whole part, headers included."""

    def isMultipart() -> bool:
        """Whether the part is multipart (has sub-parts)."""

    def getSubPart(part: int) -> IMessagePart:
        """The zero-based ``part``-th sub-part; IndexError past the last."""


IMessageIMAPPart = IMessagePart


class IMessage(IMessagePart):
    """A message in a mailbox."""

    def getUID() -> int:
        """The message's UID."""

    def getFlags() -> Any:
        """The message's flags (an iterable of str)."""

    def getInternalDate() -> str:
        """The date the message arrived, as an RFC 2822 date string."""


IMessageIMAP = IMessage


class IMessageFile(Interface):
    """Optional: the whole message (or part) as it was stored, byte for byte.

    The server uses it for BODY[] / RFC822 and headers when present, so a message is
    sent back exactly as it arrived; otherwise it rebuilds them from IMessagePart.
    """

    def open() -> Any:
        """A binary file of the complete message."""


class IMailboxInfo(Interface):
    """What LIST tells about a mailbox."""

    def getFlags() -> Any:
        """The flags this mailbox allows (an iterable of str)."""

    def getHierarchicalDelimiter() -> str:
        """The separator of the mailbox name hierarchy (``"/"`` or ``"."``)."""


IMailboxIMAPInfo = IMailboxInfo


class IMailbox(IMailboxInfo):
    """A mailbox as the server sees it.

    Message sets arrive as MessageSet objects whose ``last`` is set; ``uid`` says
    whether they hold UIDs or message numbers. Methods may return values or Deferreds.
    """

    def getUIDValidity() -> int:
        """The UIDVALIDITY of the mailbox."""

    def getUIDNext() -> int:
        """The UID the next message will get."""

    def getUID(message: int) -> int:
        """The UID of message number ``message``."""

    def getMessageCount() -> int:
        """How many messages the mailbox holds."""

    def getRecentCount() -> int:
        """How many of them are \\Recent."""

    def getUnseenCount() -> int:
        """How many of them are not \\Seen."""

    def isWriteable() -> bool:
        """Whether the mailbox can be changed."""

    def destroy() -> None:
        """Called when the mailbox is deleted."""

    def requestStatus(names: Any) -> Any:
        """STATUS: ``{name: value}`` for MESSAGES, RECENT, UIDNEXT, UIDVALIDITY, UNSEEN."""

    def addListener(listener: Any) -> None:
        """Tell ``listener`` (an IMailboxListener) about changes."""

    def removeListener(listener: Any) -> None:
        """Stop telling ``listener``; ValueError if it is not listening."""

    def addMessage(message: Any, flags: Any = (), date: Any = None) -> Any:
        """Add a message (a binary file); a Deferred firing with its UID."""

    def expunge() -> Any:
        """Remove the \\Deleted messages; the list of their message numbers."""

    def fetch(messages: Any, uid: bool) -> Any:
        """An iterable of ``(messageNumber, IMessage)`` for the set."""

    def store(messages: Any, flags: Any, mode: int, uid: bool) -> Any:
        """Set (0), add (1) or remove (-1) flags; ``{messageNumber: newFlags}``."""


IMailboxIMAP = IMailbox


class ICloseableMailbox(Interface):
    """A mailbox told when a client closes it."""

    def close() -> Any:
        """The client deselected the mailbox."""


class IMessageCopier(Interface):
    """A mailbox that takes messages copied from another one."""

    def copy(messageObject: Any) -> Any:
        """Copy the IMessage in; a Deferred (or value) of its new UID."""


class ISearchableMailbox(Interface):
    """A mailbox that runs SEARCH itself (otherwise the server evaluates it)."""

    def search(query: Any, uid: bool) -> Any:
        """The message numbers (or UIDs if ``uid``) matching ``query``.

        ``query`` is the list of tokens of the SEARCH command after CHARSET: atoms as
        bytes, strings as ``Str``, lists as lists.
        """


class INamespacePresenter(Interface):
    """An account that answers NAMESPACE (RFC 2342)."""

    def getPersonalNamespaces() -> Any:
        """``[[prefix, delimiter], ...]`` or None."""

    def getSharedNamespaces() -> Any:
        """``[[prefix, delimiter], ...]`` or None."""

    def getUserNamespaces() -> Any:
        """``[[prefix, delimiter], ...]`` or None."""


class IAccount(Interface):
    """A user's set of mailboxes: the avatar an IMAP4 server logs a client in to."""

    def addMailbox(name: str, mbox: Any = None) -> Any:
        """Add a mailbox (a new one if ``mbox`` is None); MailboxCollision if taken."""

    def create(pathspec: str) -> Any:
        """Create a mailbox and the missing ones above it; false if it cannot."""

    def select(name: str, rw: bool = True) -> Any:
        """The IMailbox of that name, or None if there is none."""

    def delete(name: str) -> Any:
        """Delete a mailbox; MailboxException if it cannot."""

    def rename(oldname: str, newname: str) -> Any:
        """Rename a mailbox (and the ones below it)."""

    def isSubscribed(name: str) -> Any:
        """Whether the mailbox is subscribed."""

    def subscribe(name: str) -> Any:
        """Subscribe to a mailbox."""

    def unsubscribe(name: str) -> Any:
        """Unsubscribe from a mailbox."""

    def listMailboxes(ref: str, wildcard: str) -> Any:
        """``[(name, IMailboxInfo), ...]`` matching ``ref`` + ``wildcard`` (%, *)."""
