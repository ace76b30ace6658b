"""NAMES and WHOIS for IRCClient: the replies collected, as callbacks or Deferreds.

``names(*channels)`` and ``whois(nick)`` send the commands; the numeric replies
(RPL_NAMREPLY ... RPL_ENDOFNAMES, RPL_WHOISUSER ... RPL_ENDOFWHOIS) are gathered and
handed whole to ``receivedNames(channel, names)`` and ``receivedWhois(nick, info)``.
``getNames(channel)`` and ``getWhois(nick)`` do the same but return a Deferred (so
``await client.getWhois("bob")`` works in a coroutine), which fails with
``IRCNoSuchNick`` for an unknown nick and with the connection's reason if it is lost
first.
Tests: tests/words/test_irc_client.py (the NAMES and WHOIS tests).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torsion.internet.defer import Deferred
from torsion.internet.error import ConnectionLost
from torsion.python.failure import Failure

_RFC1459_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\~", "abcdefghijklmnopqrstuvwxyz{}|^")

__all__ = ["IRCNoSuchNick", "ircLower"]


def ircLower(name: str) -> str:
    """Lower-case a nickname or channel name as IRC compares them (RFC 1459 casemapping)."""
    return name.translate(_RFC1459_LOWER)


class IRCNoSuchNick(LookupError):
    """The server says there is no such nickname (ERR_NOSUCHNICK)."""


class _QueryMixin:
    """NAMES and WHOIS for IRCClient (see the module docstring)."""

    if TYPE_CHECKING:

        def sendLine(self, line: str) -> None: ...

        @staticmethod
        def _channel(channel: str) -> str: ...

    def _startQueries(self) -> None:
        self._namesReplies: dict[str, list[str]] = {}
        self._whoisReplies: dict[str, dict[str, Any]] = {}
        self._namesWaiting: dict[str, list[Deferred[list[str]]]] = {}
        self._whoisWaiting: dict[str, list[Deferred[dict[str, Any]]]] = {}
        self._whoisMissing: set[str] = set()

    def _failQueries(self, reason: object) -> None:
        """The connection is gone: fail every Deferred still waiting for a reply."""
        failure = (
            reason
            if isinstance(reason, Failure)
            else Failure(ConnectionLost("the IRC connection was lost before the reply came"))
        )
        for table in (getattr(self, "_namesWaiting", {}), getattr(self, "_whoisWaiting", {})):
            waiting = [d for ds in table.values() for d in ds]
            table.clear()
            for d in waiting:
                d.errback(failure)

    def names(self, *channels: str) -> None:
        """Ask for the members of ``channels``; ``receivedNames`` gets each list."""
        self.sendLine("NAMES " + ",".join(self._channel(c) for c in channels))

    def whois(self, nickname: str, server: str | None = None) -> None:
        """Ask about ``nickname``; ``receivedWhois`` gets the answer."""
        self.sendLine(f"WHOIS {nickname}" if server is None else f"WHOIS {server} {nickname}")

    def getNames(self, channel: str) -> Deferred[list[str]]:
        """Ask for the members of ``channel``; the Deferred fires with their names."""
        channel = self._channel(channel)
        d: Deferred[list[str]] = Deferred()
        self._namesWaiting.setdefault(ircLower(channel), []).append(d)
        self.names(channel)
        return d

    def getWhois(self, nickname: str) -> Deferred[dict[str, Any]]:
        """Ask about ``nickname``; the Deferred fires with what ``receivedWhois`` gets.

        It fails with IRCNoSuchNick if the server knows no such nickname.
        """
        d: Deferred[dict[str, Any]] = Deferred()
        self._whoisWaiting.setdefault(ircLower(nickname), []).append(d)
        self.whois(nickname)
        return d

    def receivedNames(self, channel: str, names: list[str]) -> None:
        """The members of ``channel`` (with their ``@``/``+`` prefixes), after NAMES."""

    def receivedWhois(self, nick: str, info: dict[str, Any]) -> None:
        """What WHOIS said about ``nick``: keys ``nick``, ``user``, ``host``,
        ``realname``, ``server``, ``serverInfo``, ``oper``, ``idle``, ``signOn``,
        ``channels``, as far as the server sent them."""

    def irc_RPL_NAMREPLY(self, prefix: str, params: list[str]) -> None:
        """Part of a channel's member list."""
        if len(params) >= 3:
            channel = params[-2]
            self._namesReplies.setdefault(ircLower(channel), []).extend(params[-1].split())

    def irc_RPL_ENDOFNAMES(self, prefix: str, params: list[str]) -> None:
        """A channel's member list is complete: call receivedNames."""
        if len(params) >= 2:
            channel = params[1]
            names = self._namesReplies.pop(ircLower(channel), [])
            for d in self._namesWaiting.pop(ircLower(channel), []):
                d.callback(list(names))
            self.receivedNames(channel, names)

    def _whois(self, params: list[str]) -> dict[str, Any] | None:
        if len(params) < 2:
            return None
        return self._whoisReplies.setdefault(ircLower(params[1]), {"nick": params[1]})

    def irc_RPL_WHOISUSER(self, prefix: str, params: list[str]) -> None:
        """WHOIS: user, host and real name."""
        info = self._whois(params)
        if info is not None and len(params) >= 6:
            info.update(user=params[2], host=params[3], realname=params[5])

    def irc_RPL_WHOISSERVER(self, prefix: str, params: list[str]) -> None:
        """WHOIS: the server the user is on."""
        info = self._whois(params)
        if info is not None and len(params) >= 4:
            info.update(server=params[2], serverInfo=params[3])

    def irc_RPL_WHOISOPERATOR(self, prefix: str, params: list[str]) -> None:
        """WHOIS: the user is an operator."""
        info = self._whois(params)
        if info is not None:
            info["oper"] = True

    def irc_RPL_WHOISIDLE(self, prefix: str, params: list[str]) -> None:
        """WHOIS: idle time and sign-on time."""
        info = self._whois(params)
        if info is not None and len(params) >= 3:
            try:
                info["idle"] = int(params[2])
                if len(params) >= 5:
                    info["signOn"] = int(params[3])
            except ValueError:
                pass

    def irc_RPL_WHOISCHANNELS(self, prefix: str, params: list[str]) -> None:
        """WHOIS: the user's channels."""
        info = self._whois(params)
        if info is not None and len(params) >= 3:
            info.setdefault("channels", []).extend(params[-1].split())

    def irc_RPL_ENDOFWHOIS(self, prefix: str, params: list[str]) -> None:
        """WHOIS is complete: call receivedWhois."""
        if len(params) >= 2:
            key = ircLower(params[1])
            info = self._whoisReplies.pop(key, {"nick": params[1]})
            if key in self._whoisMissing:
                self._whoisMissing.discard(key)
                return
            for d in self._whoisWaiting.pop(key, []):
                d.callback(dict(info))
            self.receivedWhois(params[1], info)

    def irc_ERR_NOSUCHNICK(self, prefix: str, params: list[str]) -> None:
        """A nick does not exist: fail the WHOIS queries about it."""
        if len(params) >= 2:
            key = ircLower(params[1])
            self._whoisReplies.pop(key, None)
            waiting = self._whoisWaiting.pop(key, [])
            if waiting:
                self._whoisMissing.add(key)
            for d in waiting:
                d.errback(IRCNoSuchNick(f"there is no nickname {params[1]!r} on this server"))
