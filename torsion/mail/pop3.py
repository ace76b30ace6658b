"""POP3 (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS): the server protocol and its mailbox
interface.

Tests: tests/mail/test_pop3.py.
"""

from __future__ import annotations

from typing import Any

from zope.interface import Attribute, Interface

__all__ = ["IMailbox"]


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
