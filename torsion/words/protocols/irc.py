"""IRC: the line codec, the server-side base protocol and IRCClient (Twisted's module).

The pieces, each usable alone:

- the codec (sans-IO, ``_irccodec``): ``parseMessage(line) -> IRCMessage(tags, prefix,
  command, params)``, ``formatMessage(command, *params, prefix=, tags=)``, IRCv3 tag
  escaping, ``LineFramer`` and the limits (510 bytes of body, 8191 of tags); Twisted's
  ``parsemsg`` and ``split`` too;
- numerics (``RPL_WELCOME`` ... ``ERR_SASLFAIL``, ``symbolic_to_numeric``,
  ``numeric_to_symbolic``) and CTCP quoting (``ctcpExtract``, ``ctcpQuote``,
  ``lowQuote`` ...);
- ``IRC``: the base of an IRC server's per-client protocol: it frames and parses lines,
  dispatches each message to ``irc_COMMAND(prefix, params)`` (or ``irc_unknown``), and
  has Twisted's helpers to send replies (``sendMessage``, ``privmsg``, ``names``,
  ``whois`` ...). torsion.words.service builds its IRC server on it;
- ``IRCClient``: a client and bot API (register, join, msg, CTCP, DCC offers, a
  flood-safe send queue, and Twisted's callbacks ``signedOn``, ``privmsg``, ...).

Differences from Twisted, on purpose: a line that is malformed, overlong or not UTF-8
never drops the connection (it is answered with ERR_INPUTTOOLONG/ERR_UNKNOWNCOMMAND or
ignored, and non-UTF-8 text is decoded as Latin-1); text with CR, LF or NUL given to a
send method raises ValueError instead of injecting a second command; ``sendMessage``
adds the ``:`` in front of a last parameter that needs one (a parameter that already
starts with ``:`` is sent as written, so Twisted code keeps working); IRCv3 tags of the
message being handled are on ``currentMessage``.

Tests: tests/words/test_irc_codec.py, test_irc_ctcp.py, test_irc_server.py,
test_irc_client*.py, test_irc_dcc.py, test_irc_bot.py, test_irc_peer.py.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from typing import Any

from torsion.words.protocols import _ircnumerics
from torsion.words.protocols._ircbase import _IRCReceiver
from torsion.words.protocols._ircclient import (
    IRCClient,
    IRCNoSuchNick,
    IRCPasswordMismatch,
    ircLower,
)
from torsion.words.protocols._irccodec import (
    CHANNEL_PREFIXES,
    MAX_BODY_LENGTH,
    MAX_COMMAND_LENGTH,
    MAX_TAGS_LENGTH,
    IRCBadMessage,
    IRCLineTooLong,
    IRCMessage,
    LineFramer,
    _format,
    decodeLine,
    escapeTagValue,
    formatMessage,
    formatTags,
    parseMessage,
    parsemsg,
    parseTags,
    split,
    unescapeTagValue,
)
from torsion.words.protocols._ircctcp import (
    CR,
    LF,
    M_QUOTE,
    NL,
    NUL,
    SPC,
    X_DELIM,
    X_QUOTE,
    CTCPMessages,
    ctcpDequote,
    ctcpExtract,
    ctcpQuote,
    ctcpStringify,
    lowDequote,
    lowQuote,
)
from torsion.words.protocols._ircdcc import (
    DccOffer,
    dccDescribe,
    dccParseAddress,
    fileSize,
    parseDccOffer,
)
from torsion.words.protocols._ircdcctransfer import (
    DccChat,
    DccChatFactory,
    DccFileReceive,
    DccFileReceiveBasic,
    DccSendFactory,
    DccSendProtocol,
    safeFileName,
)
from torsion.words.protocols._ircformat import (
    assembleFormattedText,
    attributes,
    parseFormattedText,
    stripFormatting,
)
from torsion.words.protocols._ircnumerics import *  # noqa: F403
from torsion.words.protocols._ircnumerics import (
    ERR_INPUTTOOLONG,
    ERR_UNKNOWNCOMMAND,
    RPL_CHANNELMODEIS,
    RPL_ENDOFNAMES,
    RPL_ENDOFWHO,
    RPL_ENDOFWHOIS,
    RPL_NAMREPLY,
    RPL_NOTOPIC,
    RPL_TOPIC,
    RPL_TOPICWHOTIME,
    RPL_WHOISCHANNELS,
    RPL_WHOISIDLE,
    RPL_WHOISOPERATOR,
    RPL_WHOISSERVER,
    RPL_WHOISUSER,
    RPL_WHOREPLY,
)
from torsion.words.protocols._ircsupport import IRCBadModes, ServerSupportedFeatures, parseModes

__all__ = [
    "CHANNEL_PREFIXES",
    "CR",
    "IRC",
    "LF",
    "MAX_BODY_LENGTH",
    "MAX_COMMAND_LENGTH",
    "MAX_TAGS_LENGTH",
    "M_QUOTE",
    "NL",
    "NUL",
    "SPC",
    "X_DELIM",
    "X_QUOTE",
    "CTCPMessages",
    "DccChat",
    "DccChatFactory",
    "DccFileReceive",
    "DccFileReceiveBasic",
    "DccOffer",
    "DccSendFactory",
    "DccSendProtocol",
    "IRCBadMessage",
    "IRCBadModes",
    "IRCClient",
    "IRCLineTooLong",
    "IRCMessage",
    "IRCNoSuchNick",
    "IRCPasswordMismatch",
    "LineFramer",
    "ServerSupportedFeatures",
    "UnhandledCommand",
    "assembleFormattedText",
    "attributes",
    "ctcpDequote",
    "ctcpExtract",
    "ctcpQuote",
    "ctcpStringify",
    "dccDescribe",
    "dccParseAddress",
    "decodeLine",
    "escapeTagValue",
    "fileSize",
    "formatMessage",
    "formatTags",
    "ircLower",
    "lowDequote",
    "lowQuote",
    "parseDccOffer",
    "parseFormattedText",
    "parseMessage",
    "parseModes",
    "parseTags",
    "parsemsg",
    "safeFileName",
    "split",
    "stripFormatting",
    "unescapeTagValue",
]
__all__ += _ircnumerics.__all__


class UnhandledCommand(RuntimeError):
    """A command that nothing handles (kept for code that imports Twisted's name)."""


def _checkLine(line: str) -> None:
    for c in ("\r", "\n", "\0"):
        if c in line:
            raise ValueError(
                f"the IRC line {line[:40]!r} contains {c!r}, which would inject another "
                f"command; send each line on its own"
            )


def _buildLine(
    command: str,
    params: Sequence[str],
    prefix: str | None,
    tags: Mapping[str, str | None] | None,
) -> str:
    """Format a message for the send methods (Twisted callers quote the last parameter)."""
    if not command or not isinstance(command, str) or " " in command or command[0] == ":":
        raise ValueError(
            f"{command!r} is not an IRC command; give the command first, then its parameters"
        )
    return _format(command, params, prefix, tags, False)


class IRC(_IRCReceiver):
    """The server side of one IRC connection: lines in, ``irc_*`` calls out.

    Subclass it and define ``irc_NICK(prefix, params)``, ``irc_PRIVMSG`` and so on;
    a command without a method goes to ``irc_unknown``, which answers
    ERR_UNKNOWNCOMMAND. Lines are bounded (``maxBodyLength``, ``maxTagsLength``); an
    overlong line is dropped whole and answered with ERR_INPUTTOOLONG
    (``lineTooLong``), a malformed one is ignored (``badMessage``), and an exception
    in a handler is logged without dropping the connection, so no line can
    disconnect a client. While a handler runs, ``currentMessage`` is the parsed
    message (with its IRCv3 tags). ``dataReceived``, ``lineReceived`` and
    ``handleCommand`` are the same as IRCClient's.

    Attributes:
        hostname: the server name used as the prefix of replies (the host's name by
            default).
        encoding: how text is encoded on the way out and decoded on the way in
            (None means UTF-8); lines that do not decode use ``fallbackEncoding``.
    """

    buffer = ""
    hostname: str | None = None
    channels: list[Any]

    def connectionMade(self) -> None:
        """Set up ``channels`` and the server's ``hostname``."""
        self.channels = []
        if self.hostname is None:
            # Not socket.getfqdn(): that may wait on DNS for every connection.
            self.hostname = socket.gethostname()

    # -- receiving: the framing and dispatch are _IRCReceiver's ---------------------

    def _replyTarget(self) -> str:
        nickname = getattr(self, "nickname", None)
        return nickname if isinstance(nickname, str) and nickname else "*"

    def irc_unknown(self, prefix: str, command: str, params: list[str]) -> None:
        """A command without an ``irc_`` method: answer ERR_UNKNOWNCOMMAND."""
        self.sendMessage(
            ERR_UNKNOWNCOMMAND,
            self._replyTarget(),
            command,
            ":Unknown command",
            prefix=self.hostname,
        )

    def lineTooLong(self, line: bytes | None) -> None:
        """A line over the limits arrived and was dropped: answer ERR_INPUTTOOLONG.

        ``line`` is the line if it was whole in the buffer, None if it was dropped
        on the way (it was longer than the whole buffer limit).
        """
        self.sendMessage(
            ERR_INPUTTOOLONG, self._replyTarget(), ":Input line was too long", prefix=self.hostname
        )

    # -- sending ----------------------------------------------------------------------

    def sendLine(self, line: str | bytes) -> None:
        """Send one line; text is encoded with ``encoding`` (UTF-8 by default).

        Raises:
            ValueError: the line contains CR, LF or NUL.
        """
        if isinstance(line, str):
            _checkLine(line)
            data = line.encode(self.encoding or "utf-8")
        else:
            if b"\r" in line or b"\n" in line or b"\0" in line:
                _checkLine(decodeLine(line))
            data = line
        self.transport.write(data + b"\r\n")

    def sendMessage(
        self,
        command: str,
        *parameter_list: str,
        prefix: str | None = None,
        tags: Mapping[str, str | None] | None = None,
    ) -> None:
        """Send ``command`` with its parameters, and optionally a prefix and IRCv3 tags.

        The last parameter is sent as the trailing one when it needs to be (it is
        empty or has a space); if it already starts with ``:``, as Twisted's callers
        write it, it is sent as written, so text that itself starts with ``:`` needs
        its own quoting colon (``"::-)"``).

        Raises:
            ValueError: the command is not a command, a parameter other than the
                last is empty or has a space, or any text contains CR, LF or NUL.
        """
        self.transport.write(
            _buildLine(command, parameter_list, prefix, tags).encode(self.encoding or "utf-8")
            + b"\r\n"
        )

    def sendCommand(
        self,
        command: str,
        parameters: Sequence[str],
        prefix: str | None = None,
        tags: Mapping[str, str | None] | None = None,
    ) -> None:
        """Twisted's other spelling of ``sendMessage``: parameters as one sequence."""
        self.sendMessage(command, *parameters, prefix=prefix, tags=tags)

    def privmsg(self, sender: str, recip: str, message: str) -> None:
        """Send a PRIVMSG from ``sender`` to ``recip`` (low-quoted, as Twisted does)."""
        self.sendMessage("PRIVMSG", recip, ":" + lowQuote(message), prefix=sender)

    def notice(self, sender: str, recip: str, message: str) -> None:
        """Send a NOTICE from ``sender`` to ``recip``."""
        self.sendMessage("NOTICE", recip, ":" + lowQuote(message), prefix=sender)

    def action(self, sender: str, recip: str, message: str) -> None:
        """Send a CTCP ACTION (``/me``) from ``sender`` to ``recip``."""
        self.sendMessage(
            "PRIVMSG", recip, ":" + lowQuote(ctcpStringify([("ACTION", message)])), prefix=sender
        )

    def topic(self, user: str, channel: str, topic: str | None, author: str | None = None) -> None:
        """Tell ``user`` the topic of ``channel``, or, with ``author``, that it changed."""
        if author is not None:
            self.sendMessage("TOPIC", channel, ":" + (topic or ""), prefix=author)
        elif topic is None:
            self.sendMessage(RPL_NOTOPIC, user, channel, ":No topic is set.", prefix=self.hostname)
        else:
            self.sendMessage(RPL_TOPIC, user, channel, ":" + topic, prefix=self.hostname)

    def topicAuthor(self, user: str, channel: str, author: str, date: int) -> None:
        """Tell ``user`` who set the topic of ``channel`` and when (RPL_TOPICWHOTIME)."""
        self.sendMessage(RPL_TOPICWHOTIME, user, channel, author, str(date), prefix=self.hostname)

    def names(self, user: str, channel: str, names: Sequence[str]) -> None:
        """Send ``user`` the members of ``channel`` in as few RPL_NAMREPLY lines as fit."""
        head = f":{self.hostname} {RPL_NAMREPLY} {user} = {channel} :"
        _checkLine(head)
        room = MAX_BODY_LENGTH - len(head.encode("utf-8"))
        chunk: list[str] = []
        size = 0
        for name in names:
            _checkLine(name)
            length = len(name.encode("utf-8")) + 1
            if chunk and size + length > room:
                self.sendLine(head + " ".join(chunk))
                chunk, size = [], 0
            chunk.append(name)
            size += length
        if chunk:
            self.sendLine(head + " ".join(chunk))
        self.sendMessage(RPL_ENDOFNAMES, user, channel, ":End of /NAMES list", prefix=self.hostname)

    def who(self, user: str, channel: str, memberInfo: Sequence[Sequence[Any]]) -> None:
        """Send ``user`` a WHO listing of ``channel``.

        ``memberInfo`` holds one ``(username, hostmask, serverName, nickname, flag,
        hopCount, realName)`` tuple per member.
        """
        for username, hostmask, serverName, nickname, flag, hops, realName in memberInfo:
            self.sendMessage(
                RPL_WHOREPLY,
                user,
                channel,
                username,
                hostmask,
                serverName,
                nickname,
                flag,
                f":{hops} {realName}",
                prefix=self.hostname,
            )
        self.sendMessage(RPL_ENDOFWHO, user, channel, ":End of /WHO list.", prefix=self.hostname)

    def whois(
        self,
        user: str,
        nick: str,
        username: str,
        hostname: str,
        realName: str,
        server: str,
        serverInfo: str,
        oper: bool,
        idle: int,
        signOn: int,
        channels: Sequence[str],
    ) -> None:
        """Send ``user`` the WHOIS replies about ``nick``."""
        p = self.hostname
        self.sendMessage(
            RPL_WHOISUSER, user, nick, username, hostname, "*", ":" + realName, prefix=p
        )
        self.sendMessage(RPL_WHOISSERVER, user, nick, server, ":" + serverInfo, prefix=p)
        if oper:
            self.sendMessage(RPL_WHOISOPERATOR, user, nick, ":is an IRC operator", prefix=p)
        self.sendMessage(
            RPL_WHOISIDLE,
            user,
            nick,
            str(idle),
            str(signOn),
            ":seconds idle, signon time",
            prefix=p,
        )
        self.sendMessage(RPL_WHOISCHANNELS, user, nick, ":" + " ".join(channels), prefix=p)
        self.sendMessage(RPL_ENDOFWHOIS, user, nick, ":End of WHOIS list.", prefix=p)

    def join(self, who: str, where: str) -> None:
        """Tell the client that ``who`` joined ``where``."""
        self.sendMessage("JOIN", where, prefix=who)

    def part(self, who: str, where: str, reason: str | None = None) -> None:
        """Tell the client that ``who`` left ``where``."""
        if reason is None:
            self.sendMessage("PART", where, prefix=who)
        else:
            self.sendMessage("PART", where, ":" + reason, prefix=who)

    def channelMode(self, user: str, channel: str, mode: str, *args: str) -> None:
        """Send ``user`` the modes of ``channel`` (RPL_CHANNELMODEIS)."""
        self.sendMessage(RPL_CHANNELMODEIS, user, channel, mode, *args, prefix=self.hostname)
