"""Accepting mail for other domains: the domain that puts it in the relay queue.

``DomainQueuer`` is a mail domain (as torsion.mail.mail's MailService holds them) whose
``exists`` accepts a recipient when the client may relay (it connected from this
machine, or it authenticated) and queues the message in ``service.queue`` (a
``relaymanager.Queue``), one queued message per recipient. Anyone else gets 550, so
the server is not an open relay. ``SMTPRelayer``/``ESMTPRelayer`` send a list of
queued message paths over one connection, for callers that manage their own files.
Tests: tests/mail/test_relay_manager.py.
"""

from __future__ import annotations

import ipaddress
import json
import os
from typing import Any, BinaryIO

from torsion.internet.address import UNIXAddress
from torsion.logger import Logger
from torsion.mail._smtpclient import ESMTPClient, SMTPClient
from torsion.mail._smtpcore import Address, SMTPBadRcpt, SMTPClientError, User

__all__ = ["DomainQueuer", "ESMTPRelayer", "RelayerMixin", "SMTPRelayer"]

_log = Logger("torsion.mail.relay")


class DomainQueuer:
    """A domain that relays: it queues mail for any address, for clients allowed to.

    Args:
        service: has ``queue``, the relaymanager.Queue to put messages in.
        authenticated: allow everyone (for a server whose clients all authenticated).
    """

    def __init__(self, service: Any, authenticated: bool = False) -> None:
        self.service = service
        self.authenticated = authenticated

    def exists(self, user: User, memo: Any = None) -> Any:
        """Accept ``user`` for relaying: return the IMessage maker, or raise SMTPBadRcpt."""
        if self.willRelay(user.dest, user.protocol):
            return lambda: self.startMessage(user)
        raise SMTPBadRcpt(user, 550, b"5.7.1 Relaying denied")

    def willRelay(self, address: Address, protocol: Any) -> bool:
        """Return whether this connection may relay: it is local, or it authenticated."""
        if self.authenticated or getattr(protocol, "authenticated", False):
            return True
        transport = getattr(protocol, "transport", None)
        peer = transport.getPeer() if transport is not None else None
        if isinstance(peer, UNIXAddress):
            return True
        host = getattr(peer, "host", None)
        try:
            return host is not None and ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def startMessage(self, user: User) -> Any:
        """Return the queue's IMessage for one recipient."""
        return self.service.queue.createMessage(user.orig, [user.dest])


class RelayerMixin:
    """Sends queued message files (``PATH-D`` with the envelope in ``PATH-H``)."""

    def loadMessages(self, messagePaths: list[str]) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.names: list[str] = []
        for path in messagePaths:
            with open(path + "-H", "rb") as f:
                self.messages.append((path, json.load(f)))
            self.names.append(path)
        self._current: tuple[str, dict[str, Any]] | None = None

    def getMailFrom(self) -> Any:
        if not self.messages:
            self._current = None
            return None
        self._current = self.messages.pop(0)
        return self._current[1]["from"].encode("utf-8", "surrogateescape")

    def getMailTo(self) -> list[bytes]:
        assert self._current is not None
        return [to.encode("utf-8", "surrogateescape") for to in self._current[1]["to"]]

    def getMailData(self) -> BinaryIO:
        assert self._current is not None
        return open(self._current[0] + "-D", "rb")

    def sentMail(self, code: int, resp: bytes, numOk: int, addresses: list[Any], log: Any) -> None:
        """The message went: its files are removed."""
        if self._current is not None:
            for suffix in ("-D", "-H"):
                try:
                    os.remove(self._current[0] + suffix)
                except FileNotFoundError:
                    pass

    def sendError(self, exc: SMTPClientError) -> None:
        current = self._current
        if current is not None:
            _log.warn(
                "relay: sending {path} failed: {error}",
                path=current[0],
                error=str(exc).split("\n")[0],
            )
        SMTPClient.sendError(self, exc)  # type: ignore[arg-type]


class SMTPRelayer(RelayerMixin, SMTPClient):
    """Sends the message files at ``messagePaths`` over one SMTP connection."""

    def __init__(self, messagePaths: list[str], *args: Any, **kw: Any) -> None:
        SMTPClient.__init__(self, *args, **kw)
        self.loadMessages(messagePaths)


class ESMTPRelayer(RelayerMixin, ESMTPClient):
    """Sends the message files at ``messagePaths`` over one ESMTP connection."""

    def __init__(self, messagePaths: list[str], *args: Any, **kw: Any) -> None:
        ESMTPClient.__init__(self, *args, **kw)
        self.loadMessages(messagePaths)
