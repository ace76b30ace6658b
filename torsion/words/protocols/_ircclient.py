"""IRCClient: the IRC client and bot protocol, with Twisted's methods and callbacks.

Subclass ``IRCClient``, set ``nickname`` (and ``password``, ``realname``,
``fallbackNicknames``, ``lineRate`` ...), and override the callbacks: ``signedOn``,
``joined``, ``privmsg``, ``userJoined`` ... Commands are methods: ``join``, ``msg``
(split to fit the line limit), ``notice``, ``describe``, ``topic``, ``mode``,
``names``, ``whois``, ``setNick``, ``quit``. CTCP queries (VERSION, PING, TIME,
CLIENTINFO, ACTION, SOURCE, USERINFO, FINGER, DCC) are answered by ``ctcpQuery_*``
methods; DCC offers are parsed and handed to ``dccDoSend``/``dccDoChat``/... which
do nothing unless overridden. Server PINGs are answered at once (ahead of the send
queue), and with ``lineRate`` set, lines leave at most ``lineBurst`` at a time and
then one per ``lineRate`` seconds, so a bot is not thrown off for flooding; CTCP
replies are dropped while that queue is long, so other clients cannot make us flood.

Import it from ``torsion.words.protocols.irc``.
Tests: tests/words/test_irc_client.py (in memory, task.Clock),
test_irc_client_tcp.py (a fake server on 127.0.0.1) and test_irc_peer.py (ngircd).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

from torsion.internet.interfaces import IDelayedCall
from torsion.internet.task import LoopingCall
from torsion.logger import Logger
from torsion.words.protocols._ircbase import _IRCReceiver
from torsion.words.protocols._ircclientcap import _CapabilityMixin
from torsion.words.protocols._ircclientctcp import _CTCPClientMixin
from torsion.words.protocols._ircclientquery import IRCNoSuchNick, _QueryMixin, ircLower
from torsion.words.protocols._irccodec import (
    CHANNEL_PREFIXES,
    MAX_COMMAND_LENGTH,
    IRCMessage,
)
from torsion.words.protocols._ircctcp import (
    X_DELIM,
    ctcpExtract,
    lowDequote,
    lowQuote,
)
from torsion.words.protocols._ircnumerics import numeric_to_symbolic
from torsion.words.protocols._ircsupport import IRCBadModes, ServerSupportedFeatures, parseModes

__all__ = ["IRCClient", "IRCNoSuchNick", "IRCPasswordMismatch", "ircLower"]

_log = Logger()


class IRCPasswordMismatch(Exception):
    """The server refused the password (ERR_PASSWDMISMATCH)."""


def _nick(prefix: str) -> str:
    return prefix.split("!", 1)[0]


def _splitUtf8(text: str, maxBytes: int) -> list[str]:
    """Split ``text`` into non-empty pieces of at most ``maxBytes`` UTF-8 bytes.

    Newlines always split; otherwise the last space that fits is preferred, and a word
    too long for a piece is cut between characters (never inside one).
    """
    pieces: list[str] = []
    for line in text.split("\n"):
        while len(line.encode("utf-8")) > maxBytes:
            # The longest prefix of line that fits, in characters.
            fit = len(line.encode("utf-8")[:maxBytes].decode("utf-8", "ignore"))
            cut = line.rfind(" ", 0, fit + 1)
            if cut <= 0:
                pieces.append(line[:fit])
                line = line[fit:]
            else:
                pieces.append(line[:cut])
                line = line[cut + 1 :]
        pieces.append(line)
    return [piece for piece in pieces if piece]


class IRCClient(_CapabilityMixin, _QueryMixin, _CTCPClientMixin, _IRCReceiver):
    """One IRC client connection (Twisted's IRCClient; see the module docstring).

    Attributes:
        nickname: the nickname to register with, then the one we have.
        password: sent with PASS before registering, if set.
        realname, username: for USER (the nickname if not set).
        requestedCapabilities, saslUsername, saslPassword: IRCv3 capabilities to
            ask for and SASL PLAIN credentials (see _ircclientcap).
        fallbackNicknames: tried in order when the nickname is taken while
            registering, before ``alterCollidedNick`` makes new ones.
        lineRate: seconds between lines sent (None: send at once).
        lineBurst: how many lines may leave at once before ``lineRate`` applies.
        heartbeatInterval: seconds between our PINGs to the server once signed on
            (None: no heartbeat); if nothing at all arrives for a whole interval
            after one, the connection is dropped (a ReconnectingClientFactory then
            reconnects).
        versionName, versionNum, versionEnv: the CTCP VERSION reply.
        clock: the IReactorTime for the queue and heartbeat (the global reactor if
            None; a task.Clock in tests).
    """

    hostname: str | None = None
    motd: list[str] | None = None
    nickname = "irc"
    password: str | None = None
    realname: str | None = None
    username: str | None = None
    performLogin = 1
    fallbackNicknames: Sequence[str] = ()
    erroneousNickFallback = "defaultnick"
    lineRate: float | None = None
    lineBurst = 1
    heartbeatInterval: float | None = 120
    clock: Any = None
    # A server may send lines longer than RFC 1459's 512 bytes; accept them rather
    # than lose messages.
    maxBodyLength = 4096
    # How many nickname retries (fallbacks, then altered nicks) before giving up.
    maxNickAttempts = 20

    _registered = False
    _attemptedNick = ""
    _nickAttempts = 0
    _queueEmptying: IDelayedCall | None = None
    _heartbeat: LoopingCall | None = None
    _heard = True
    _tokens = 0.0
    _lastRefill: float | None = None

    def _clock(self) -> Any:
        if self.clock is None:
            from torsion.internet import reactor

            self.clock = reactor
        return self.clock

    # -- the connection ----------------------------------------------------------------

    def connectionMade(self) -> None:
        """Set up the queue and features, and register if ``performLogin``."""
        self.supported = ServerSupportedFeatures()
        self._queue: deque[str] = deque()
        self._startQueries()
        self._tokens = float(self.lineBurst)
        self._lastRefill = None
        if self.performLogin:
            self.register(self.nickname)

    def connectionLost(self, reason: object = None) -> None:
        """Stop the queue and the heartbeat."""
        super().connectionLost(reason)
        self.stopHeartbeat()
        if self._queueEmptying is not None:
            if self._queueEmptying.active():
                self._queueEmptying.cancel()
            self._queueEmptying = None
        if hasattr(self, "_queue"):
            self._queue.clear()
        self._failQueries(reason)

    # -- sending and the flood-safe queue --------------------------------------------

    def _reallySendLine(self, line: str) -> None:
        """Write one line now; CR, LF and NUL in it are low-quoted, never sent raw."""
        transport = self.transport
        if transport is None or transport.disconnecting:
            return
        transport.write(lowQuote(line).encode(self.encoding or "utf-8") + b"\r\n")

    def sendLine(self, line: str) -> None:
        """Send one line, through the queue if ``lineRate`` is set."""
        if not isinstance(line, str):
            line = line.decode(self.encoding or "utf-8")
        if self.lineRate is None:
            self._reallySendLine(line)
            return
        self._queue.append(line)
        if self._queueEmptying is None:
            self._sendLine()

    def _sendLine(self) -> None:
        self._queueEmptying = None
        rate = self.lineRate
        queue = self._queue
        if rate is None:
            while queue:
                self._reallySendLine(queue.popleft())
            return
        now = self._clock().seconds()
        if self._lastRefill is not None:
            self._tokens = min(
                float(self.lineBurst), self._tokens + (now - self._lastRefill) / rate
            )
        self._lastRefill = now
        while queue and self._tokens >= 1:
            self._reallySendLine(queue.popleft())
            self._tokens -= 1
        if queue:
            delay = (1 - self._tokens) * rate
            self._queueEmptying = self._clock().callLater(delay, self._sendLine)

    def queuedLines(self) -> int:
        """Return how many lines wait in the send queue."""
        return len(self._queue)

    # -- heartbeat ----------------------------------------------------------------------

    def _createHeartbeat(self) -> LoopingCall:
        call = LoopingCall(self._sendHeartbeat)
        call.clock = self._clock()
        return call

    def _sendHeartbeat(self) -> None:
        if not self._heard:
            # Our last PING went unanswered for a whole interval: the server or the
            # path to it is gone, and TCP alone may take hours to notice.
            _log.warn(
                "{protocol}: nothing from {server} for {seconds} seconds after a PING; "
                "dropping the connection",
                protocol=type(self).__name__,
                server=self.hostname,
                seconds=self.heartbeatInterval,
            )
            self.stopHeartbeat()
            transport = self.transport
            abort = getattr(transport, "abortConnection", None)
            (abort or transport.loseConnection)()
            return
        self._heard = False
        self._reallySendLine(f"PING {self.hostname or 'server'}")

    def dataReceived(self, data: bytes) -> None:
        """Note that the server is alive, then handle the lines."""
        self._heard = True
        super().dataReceived(data)

    def startHeartbeat(self) -> None:
        """PING the server every ``heartbeatInterval`` seconds (after sign-on)."""
        self.stopHeartbeat()
        if self.heartbeatInterval is None:
            return
        self._heartbeat = self._createHeartbeat()
        self._heartbeat.start(self.heartbeatInterval, now=False)

    def stopHeartbeat(self) -> None:
        """Stop the heartbeat PINGs."""
        if self._heartbeat is not None:
            if self._heartbeat.running:
                self._heartbeat.stop()
            self._heartbeat = None

    # -- receiving ----------------------------------------------------------------------

    def _received(self, message: IRCMessage) -> None:
        command = message.command
        params = [lowDequote(p) for p in message.params]
        self.handleCommand(numeric_to_symbolic.get(command, command), message.prefix, params)

    # -- callbacks: override these --------------------------------------------------------

    def created(self, when: str) -> None:
        """The server said when it was created (RPL_CREATED)."""

    def yourHost(self, info: str) -> None:
        """The server described itself (RPL_YOURHOST)."""

    def myInfo(
        self, servername: str | None, version: str | None, umodes: str | None, cmodes: str | None
    ) -> None:
        """The server's name, version and modes (RPL_MYINFO)."""

    def luserClient(self, info: str) -> None:
        """How many users and servers there are (RPL_LUSERCLIENT)."""

    def bounce(self, info: str) -> None:
        """The server suggests another server (RPL_BOUNCE)."""

    def isupport(self, options: list[str]) -> None:
        """The server announced features (RPL_ISUPPORT); they are in ``supported``."""

    def luserChannels(self, channels: int) -> None:
        """How many channels there are."""

    def luserOp(self, ops: int) -> None:
        """How many operators are online."""

    def luserMe(self, info: str) -> None:
        """How many clients and servers this server has."""

    def privmsg(self, user: str, channel: str, message: str) -> None:
        """``user`` (nick!user@host) sent ``message`` to ``channel`` (or to us)."""

    def joined(self, channel: str) -> None:
        """We joined ``channel``."""

    def left(self, channel: str) -> None:
        """We left ``channel``."""

    def noticed(self, user: str, channel: str, message: str) -> None:
        """``user`` sent a NOTICE; never answer one automatically (RFC 1459)."""

    def modeChanged(
        self, user: str, channel: str, set: bool, modes: str, args: tuple[str | None, ...]
    ) -> None:
        """``user`` set (``set`` True) or unset ``modes`` on ``channel`` (or on us)."""

    def signedOn(self) -> None:
        """We are registered: join channels here."""

    def kickedFrom(self, channel: str, kicker: str, message: str) -> None:
        """``kicker`` kicked us from ``channel``."""

    def nickChanged(self, nick: str) -> None:
        """Our nickname is now ``nick``."""
        self.nickname = nick

    def userJoined(self, user: str, channel: str) -> None:
        """``user`` (a nick) joined ``channel``."""

    def userLeft(self, user: str, channel: str) -> None:
        """``user`` left ``channel``."""

    def userQuit(self, user: str, quitMessage: str) -> None:
        """``user`` left IRC."""

    def userKicked(self, kickee: str, channel: str, kicker: str, message: str) -> None:
        """``kicker`` kicked ``kickee`` from ``channel``."""

    def topicUpdated(self, user: str, channel: str, newTopic: str) -> None:
        """The topic of ``channel`` is ``newTopic`` (set, or reported on join)."""

    def userRenamed(self, oldname: str, newname: str) -> None:
        """``oldname`` is now called ``newname``."""

    def receivedMOTD(self, motd: list[str]) -> None:
        """The server's message of the day, line by line."""

    # -- commands -----------------------------------------------------------------------

    @staticmethod
    def _channel(channel: str) -> str:
        return channel if channel[:1] in CHANNEL_PREFIXES else "#" + channel

    def join(self, channel: str, key: str | None = None) -> None:
        """Join ``channel`` (``#`` is added if it has no channel prefix)."""
        channel = self._channel(channel)
        self.sendLine(f"JOIN {channel} {key}" if key else f"JOIN {channel}")

    def leave(self, channel: str, reason: str | None = None) -> None:
        """Leave ``channel``."""
        channel = self._channel(channel)
        self.sendLine(f"PART {channel} :{reason}" if reason else f"PART {channel}")

    part = leave

    def kick(self, channel: str, user: str, reason: str | None = None) -> None:
        """Kick ``user`` from ``channel``."""
        channel = self._channel(channel)
        self.sendLine(f"KICK {channel} {user} :{reason}" if reason else f"KICK {channel} {user}")

    def invite(self, user: str, channel: str) -> None:
        """Invite ``user`` to ``channel``."""
        self.sendLine(f"INVITE {user} {self._channel(channel)}")

    def topic(self, channel: str, topic: str | None = None) -> None:
        """Ask for the topic of ``channel``, or set it to ``topic``."""
        channel = self._channel(channel)
        self.sendLine(f"TOPIC {channel}" if topic is None else f"TOPIC {channel} :{topic}")

    def mode(
        self,
        chan: str,
        set: bool,
        modes: str,
        limit: int | None = None,
        user: str | None = None,
        mask: str | None = None,
    ) -> None:
        """Set (``set`` True) or unset ``modes`` on ``chan``, with a limit, user or mask."""
        line = f"MODE {chan} {'+' if set else '-'}{modes}"
        if limit is not None:
            line += f" {int(limit)}"
        elif user is not None:
            line += f" {user}"
        elif mask is not None:
            line += f" {mask}"
        self.sendLine(line)

    def say(self, channel: str, message: str, length: int | None = None) -> None:
        """Send ``message`` to ``channel`` (``#`` added if needed)."""
        self.msg(self._channel(channel), message, length)

    def _safeMaximumLineLength(self, command: str) -> int:
        """How long a line we send may be so that its relayed form still fits 512.

        The server relays our message with our full prefix in front, which we cannot
        know exactly; assume the longest nickname, a 10-byte user and 63-byte host.
        """
        nicklen = self.supported.getFeature("NICKLEN", 9) or 9
        theoretical = f":{'a' * nicklen}!{'b' * 10}@{'c' * 63} {command}"
        return MAX_COMMAND_LENGTH - len(theoretical.encode("utf-8")) - 10

    def msg(self, user: str, message: str, length: int | None = None) -> None:
        """Send ``message`` to ``user`` (or a channel), split into lines that fit.

        ``length`` is the longest line to send, in bytes with its CRLF (a safe
        value for the server's relay by default). Newlines start new messages.

        Raises:
            ValueError: ``length`` leaves no room for text.
        """
        head = f"PRIVMSG {user} :"
        if length is None:
            length = self._safeMaximumLineLength(head)
        room = length - len(head.encode("utf-8")) - 2
        if room <= 0:
            raise ValueError(
                f"a maximum line length of {length} leaves no room for text to {user}; "
                f"give at least {len(head.encode('utf-8')) + 3}"
            )
        for piece in _splitUtf8(message, room):
            self.sendLine(head + piece)

    def notice(self, user: str, message: str) -> None:
        """Send a NOTICE to ``user`` (or a channel)."""
        head = f"NOTICE {user} :"
        room = self._safeMaximumLineLength(head) - len(head.encode("utf-8")) - 2
        for piece in _splitUtf8(message, max(room, 1)):
            self.sendLine(head + piece)

    def describe(self, channel: str, action: str) -> None:
        """Do ``/me action`` in ``channel`` (or to a user)."""
        self.ctcpMakeQuery(channel, [("ACTION", action)])

    def me(self, channel: str, action: str) -> None:
        """Twisted's older ``describe`` for channels (``#`` added if needed)."""
        self.describe(self._channel(channel), action)

    def away(self, message: str = "") -> None:
        """Mark us away with ``message``."""
        self.sendLine(f"AWAY :{message}")

    def back(self) -> None:
        """Mark us no longer away."""
        self.sendLine("AWAY")

    def register(self, nickname: str, hostname: str = "0", servername: str = "*") -> None:
        """Log in: CAP LS (if there are capabilities or SASL), PASS, NICK and USER."""
        self._startCapabilities()
        if self.password is not None:
            self.sendLine(f"PASS {self.password}")
        self._nickAttempts = 0
        self.setNick(nickname)
        if self.username is None:
            self.username = nickname
        self.sendLine(f"USER {self.username} {hostname} {servername} :{self.realname or nickname}")

    def setNick(self, nickname: str) -> None:
        """Ask for the nickname ``nickname``."""
        self._attemptedNick = nickname
        self.sendLine(f"NICK {nickname}")

    def quit(self, message: str = "") -> None:
        """Leave IRC."""
        self.sendLine(f"QUIT :{message}")

    # -- nickname handling ---------------------------------------------------------------

    def alterCollidedNick(self, nickname: str) -> str:
        """Make a new nickname to try when ``nickname`` is taken (adds ``_``)."""
        nicklen = self.supported.getFeature("NICKLEN", 9) or 9
        if len(nickname) < nicklen:
            return nickname + "_"
        # No room for another "_": vary the end instead, so the server cannot
        # truncate our attempts back into the nickname that is taken.
        return nickname[: nicklen - 1] + str(self._nickAttempts % 10)

    def irc_ERR_NICKNAMEINUSE(self, prefix: str, params: list[str]) -> None:
        """Our nickname is taken: try the next fallback or an altered one."""
        self._nickAttempts += 1
        if self._nickAttempts > self.maxNickAttempts:
            if self._nickAttempts > self.maxNickAttempts + 1:
                return
            _log.error(
                "{protocol} gave up after {count} nicknames were taken; set another "
                "nickname or fallbackNicknames",
                protocol=type(self).__name__,
                count=self._nickAttempts - 1,
            )
            return
        fallbacks = list(self.fallbackNicknames)
        index = self._nickAttempts - 1
        if not self._registered and index < len(fallbacks):
            self.setNick(fallbacks[index])
        else:
            self.setNick(self.alterCollidedNick(self._attemptedNick))

    irc_ERR_NICKCOLLISION = irc_ERR_NICKNAMEINUSE
    irc_ERR_UNAVAILRESOURCE = irc_ERR_NICKNAMEINUSE

    def irc_ERR_ERRONEUSNICKNAME(self, prefix: str, params: list[str]) -> None:
        """The server refused our nickname's form: use the fallback if not signed on."""
        if not self._registered:
            self.setNick(self.erroneousNickFallback)

    def irc_ERR_PASSWDMISMATCH(self, prefix: str, params: list[str]) -> None:
        """The server refused the password."""
        raise IRCPasswordMismatch("the server refused the password; check IRCClient.password")

    # -- what the server tells us ----------------------------------------------------------

    def irc_RPL_WELCOME(self, prefix: str, params: list[str]) -> None:
        """We are registered: note the server's name and our nickname, call signedOn."""
        self.hostname = prefix
        self._registered = True
        self._capNegotiating = False
        self.nickname = params[0] if params and params[0] != "*" else self._attemptedNick
        self.signedOn()
        self.startHeartbeat()

    def irc_JOIN(self, prefix: str, params: list[str]) -> None:
        """Someone (maybe us) joined a channel."""
        if not params:
            return
        nick = _nick(prefix)
        channel = params[0]
        if ircLower(nick) == ircLower(self.nickname):
            self.joined(channel)
        else:
            self.userJoined(nick, channel)

    def irc_PART(self, prefix: str, params: list[str]) -> None:
        """Someone (maybe us) left a channel."""
        if not params:
            return
        nick = _nick(prefix)
        channel = params[0]
        if ircLower(nick) == ircLower(self.nickname):
            self.left(channel)
        else:
            self.userLeft(nick, channel)

    def irc_QUIT(self, prefix: str, params: list[str]) -> None:
        """Someone left IRC."""
        self.userQuit(_nick(prefix), params[0] if params else "")

    def irc_MODE(self, user: str, params: list[str]) -> None:
        """Modes changed on a channel or on us: call modeChanged once per direction."""
        if len(params) < 2:
            return
        channel, modes, args = params[0], params[1], params[2:]
        if modes[:1] not in ("+", "-"):
            modes = "+" + modes
        if ircLower(channel) == ircLower(self.nickname):
            paramModes = self.getUserModeParams()
        else:
            paramModes = self.getChannelModeParams()
        try:
            added, removed = parseModes(modes, args, paramModes)
        except IRCBadModes as e:
            _log.warn(
                "{protocol} could not parse a MODE from {user}: {error}",
                protocol=type(self).__name__,
                user=user,
                error=str(e),
            )
            return
        for setting, changes in ((True, added), (False, removed)):
            if changes:
                self.modeChanged(
                    user,
                    channel,
                    setting,
                    "".join(mode for mode, _ in changes),
                    tuple(arg for _, arg in changes),
                )

    def getUserModeParams(self) -> list[str]:
        """The user modes that take a parameter when added and when removed (none)."""
        return ["", ""]

    def getChannelModeParams(self) -> list[str]:
        """The channel modes that take a parameter when added and when removed."""
        prefixes = self.supported.getFeature("PREFIX", {}) or {}
        add = remove = "".join(prefixes)
        chanmodes = self.supported.getFeature("CHANMODES")
        if chanmodes is not None:
            both = chanmodes.get("addressModes", "") + chanmodes.get("param", "")
            add += both + chanmodes.get("setParam", "")
            remove += both
        return [add, remove]

    def irc_PING(self, prefix: str, params: list[str]) -> None:
        """Answer the server's PING at once, ahead of anything queued."""
        self._reallySendLine(f"PONG :{params[-1]}" if params else "PONG")

    def irc_PRIVMSG(self, prefix: str, params: list[str]) -> None:
        """A message to a channel or to us; CTCP queries go to ctcpQuery."""
        if len(params) < 2:
            return
        channel, message = params[0], params[-1]
        if not message:
            return
        if message[0] == X_DELIM:
            parts = ctcpExtract(message)
            if parts["extended"]:
                self.ctcpQuery(prefix, channel, parts["extended"])
            if not parts["normal"]:
                return
            message = " ".join(parts["normal"])
        self.privmsg(prefix, channel, message)

    def irc_NOTICE(self, prefix: str, params: list[str]) -> None:
        """A notice; CTCP replies go to ctcpReply."""
        if len(params) < 2:
            return
        channel, message = params[0], params[-1]
        if message[:1] == X_DELIM:
            parts = ctcpExtract(message)
            if parts["extended"]:
                self.ctcpReply(prefix, channel, parts["extended"])
            if not parts["normal"]:
                return
            message = " ".join(parts["normal"])
        self.noticed(prefix, channel, message)

    def irc_NICK(self, prefix: str, params: list[str]) -> None:
        """Someone (maybe us) changed nickname."""
        if not params:
            return
        nick = _nick(prefix)
        if ircLower(nick) == ircLower(self.nickname):
            self.nickChanged(params[0])
        else:
            self.userRenamed(nick, params[0])

    def irc_KICK(self, prefix: str, params: list[str]) -> None:
        """Someone (maybe us) was kicked from a channel."""
        if len(params) < 2:
            return
        kicker = _nick(prefix)
        channel, kicked = params[0], params[1]
        message = params[2] if len(params) > 2 else ""
        if ircLower(kicked) == ircLower(self.nickname):
            self.kickedFrom(channel, kicker, message)
        else:
            self.userKicked(kicked, channel, kicker, message)

    def irc_TOPIC(self, prefix: str, params: list[str]) -> None:
        """Someone changed a channel's topic."""
        if params:
            self.topicUpdated(_nick(prefix), params[0], params[1] if len(params) > 1 else "")

    def irc_RPL_TOPIC(self, prefix: str, params: list[str]) -> None:
        """The topic of a channel, as reported on join or asked."""
        if len(params) >= 3:
            self.topicUpdated(_nick(prefix), params[1], params[2])

    def irc_RPL_NOTOPIC(self, prefix: str, params: list[str]) -> None:
        """A channel has no topic."""
        if len(params) >= 2:
            self.topicUpdated(_nick(prefix), params[1], "")

    @staticmethod
    def _motdLine(text: str) -> str:
        return text[2:] if text.startswith("- ") else text

    def irc_RPL_MOTDSTART(self, prefix: str, params: list[str]) -> None:
        """The message of the day starts."""
        self.motd = [self._motdLine(params[-1])] if params else []

    def irc_RPL_MOTD(self, prefix: str, params: list[str]) -> None:
        """One line of the message of the day."""
        if self.motd is None:
            self.motd = []
        if params:
            self.motd.append(self._motdLine(params[-1]))

    def irc_RPL_ENDOFMOTD(self, prefix: str, params: list[str]) -> None:
        """The message of the day is complete: call receivedMOTD."""
        motd = self.motd or []
        self.motd = None
        self.receivedMOTD(motd)

    def irc_RPL_CREATED(self, prefix: str, params: list[str]) -> None:
        """When the server was created."""
        self.created(params[1] if len(params) > 1 else "")

    def irc_RPL_YOURHOST(self, prefix: str, params: list[str]) -> None:
        """The server's description."""
        self.yourHost(params[1] if len(params) > 1 else "")

    def irc_RPL_MYINFO(self, prefix: str, params: list[str]) -> None:
        """The server's name, version and modes."""
        info: list[str | None] = [*params[1:5]]
        info += [None] * (4 - len(info))
        self.myInfo(*info)

    def irc_RPL_BOUNCE(self, prefix: str, params: list[str]) -> None:
        """Another server to use."""
        self.bounce(params[1] if len(params) > 1 else "")

    def irc_RPL_ISUPPORT(self, prefix: str, params: list[str]) -> None:
        """Features the server supports: parse them into ``supported``."""
        options = params[1:-1]
        self.supported.parse(options)
        self.isupport(options)

    def irc_RPL_LUSERCLIENT(self, prefix: str, params: list[str]) -> None:
        """How many users and servers."""
        self.luserClient(params[1] if len(params) > 1 else "")

    def _intParam(self, params: list[str], callback: Any) -> None:
        try:
            callback(int(params[1]))
        except (IndexError, ValueError):
            pass

    def irc_RPL_LUSEROP(self, prefix: str, params: list[str]) -> None:
        """How many operators."""
        self._intParam(params, self.luserOp)

    def irc_RPL_LUSERCHANNELS(self, prefix: str, params: list[str]) -> None:
        """How many channels."""
        self._intParam(params, self.luserChannels)

    def irc_RPL_LUSERME(self, prefix: str, params: list[str]) -> None:
        """This server's clients and servers."""
        self.luserMe(params[1] if len(params) > 1 else "")

    def irc_ERROR(self, prefix: str, params: list[str]) -> None:
        """The server is closing the link; log why."""
        _log.info(
            "{protocol}: the server closes the connection: {reason}",
            protocol=type(self).__name__,
            reason=params[-1] if params else "",
        )

    def badMessage(self, line: str, excType: Any, excValue: Any, tb: Any) -> None:
        """A line from the server that is not an IRC message: log it."""
        _log.info(
            "{protocol} ignored a malformed line: {line!r} ({error})",
            protocol=type(self).__name__,
            line=line[:80],
            error=str(excValue),
        )
