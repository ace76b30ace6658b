"""IRCUser: one IRC client connection of torsion.words.service's server.

This module is the connection: keepalives, flood control, the send queue and the
chat-client events a Group tells its members (``receive``, ``userJoined``...), which
become the lines IRC clients read. The commands a registered client sends (JOIN,
PRIVMSG, MODE...) are in torsion/words/_irccommands.py, and registration (NICK, USER,
PASS, CAP, SASL PLAIN, logging in through the portal) in _ircregistration.py: both
mixins of this class.

The limits and timings are attributes of the IRCFactory (DEFAULTS here names them
all), so a server can change them before it starts:

- ``maxConnections``, ``maxConnectionsPerHost``: connections over them are told
  ERROR and closed at once.
- ``registrationTimeout``: seconds a connection has to register.
- ``pingInterval``, ``pingTimeout``: after ``pingInterval`` seconds of silence the
  server sends PING; no word within ``pingTimeout`` more closes the connection.
- ``maxSendQueue``: bytes the server keeps for a client that does not read; past it
  the client is disconnected ("Max SendQ exceeded"), so a slow client costs at most
  this much memory and never slows the others.
- ``floodBurst``, ``floodRate``: a client may send ``floodBurst`` commands at once,
  then ``floodRate`` a second; the server stops reading from a faster one (its lines
  wait in TCP) instead of disconnecting it. ``maxPendingLines`` lines already read
  may wait; a client past that is disconnected ("Excess Flood").
- ``nickLength``, ``channelLength``, ``topicLength``, ``kickLength``, ``awayLength``,
  ``maxTargets``, ``maxLoginFailures``: what ISUPPORT says, enforced.

Tests: tests/words/test_service_irc.py (in memory), test_service_sockets.py (raw
sockets, the ``irc`` library), test_irssi.py.
"""

from __future__ import annotations

import collections
import time
from typing import Any

from zope.interface import implementer

from torsion.internet.abstract import sendAtOnce
from torsion.logger import Logger
from torsion.words import ewords, iwords
from torsion.words._irccommands import IRCCommands
from torsion.words._ircregistration import VERSION, IRCRegistration
from torsion.words._names import lowerName
from torsion.words.protocols import irc

__all__ = ["DEFAULTS", "VERSION", "IRCUser"]

DEFAULTS: dict[str, Any] = {
    "maxConnections": 10_000,
    "maxConnectionsPerHost": 1_000,
    "registrationTimeout": 60.0,
    "pingInterval": 120.0,
    "pingTimeout": 60.0,
    "maxSendQueue": 1 << 20,
    "floodBurst": 40,
    "floodRate": 10.0,
    "maxPendingLines": 512,
    "nickLength": 30,
    "channelLength": 50,
    "topicLength": 390,
    "kickLength": 255,
    "awayLength": 255,
    "maxTargets": 4,
    "maxLoginFailures": 3,
    "networkName": "torsion",
}
_BEFORE_REGISTRATION = frozenset(
    {"CAP", "PASS", "NICK", "USER", "AUTHENTICATE", "PING", "PONG", "QUIT"}
)

_log = Logger(namespace="torsion.words.service")


def _serverTime(when: float) -> str:
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + f".{int(when * 1000) % 1000:03d}Z"
    )


def _tagPrefix(mode: int, message: dict[str, Any]) -> bytes:
    """The ``@tags `` a client with tag ``mode`` (1: server-time, 2: message-tags) gets."""
    tags: dict[str, str | None] = {}
    if mode & 1:
        tags["time"] = _serverTime(message.get("time") or time.time())
    if mode & 2:
        tags.update(message.get("tags") or {})
    return ("@" + irc.formatTags(tags) + " ").encode() if tags else b""


try:
    from torsion.internet._asynciotcp import LoopConnection as _WritesAtOnce
except ImportError:  # pragma: no cover - asyncio is in every Python torsion runs on
    _WritesAtOnce = ()  # type: ignore[assignment,misc]


class _Flusher:
    """Writes what each connection queued during this reactor pass, in one write each."""

    __slots__ = ("call", "clock", "dirty")

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.dirty: list[_CoalescingTransport] = []
        self.call: Any = None

    def mark(self, transport: _CoalescingTransport) -> None:
        self.dirty.append(transport)
        if self.call is None:
            self.call = self.clock.callLater(0, self.flush)

    def flush(self) -> None:
        self.call = None
        dirty, self.dirty = self.dirty, []
        for transport in dirty:
            transport.flush()


class _CoalescingTransport:
    """Holds a connection's writes until the end of the pass, for transports that write at once.

    torsion's own transports keep what is written until the end of each reactor pass,
    so a message relayed to a channel costs one system call per member and pass; the
    asyncio loop's transports (the asyncio reactor's native TCP) send each write at
    once, which would be one system call per line. This wrapper gives those the same
    batching; every other attribute is the wrapped transport's.
    """

    __slots__ = ("_flusher", "_owner", "_queued", "_size", "_transport")

    def __init__(self, transport: Any, flusher: _Flusher, owner: IRCUser) -> None:
        self._transport = transport
        self._flusher = flusher
        self._owner = owner
        self._queued: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        if not self._queued:
            self._flusher.mark(self)
        self._queued.append(data)
        self._size += len(data)

    def writeSequence(self, iovec: Any) -> None:
        for data in iovec:
            self.write(data)

    def flush(self) -> None:
        if self._queued:
            data = b"".join(self._queued)
            self._queued.clear()
            self._size = 0
            self._transport.write(data)
            self._owner._checkSendQueue()

    def bufferedSize(self) -> int:
        return int(self._transport.bufferedSize()) + self._size

    def loseConnection(self) -> None:
        self.flush()
        self._transport.loseConnection()

    def abortConnection(self) -> None:
        self._queued.clear()
        self._size = 0
        self._transport.abortConnection()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


@implementer(iwords.IRichChatClient)
class IRCUser(IRCRegistration, IRCCommands, irc.IRC):
    """One connected IRC client: a chat client of the realm and the avatar's mind."""

    avatar: Any = None
    logout: Any = None
    realm: Any = None
    name: str | None = None
    nickname: str | None = None
    username: str | None = None
    realname = ""
    host = "unknown"
    password: str | None = None
    registered = False
    hostmask = "*"
    _gone = False
    _loginPending = False
    _capNegotiating = False
    _tagMode = 0
    _timer: Any = None
    _counted: str | None = None
    _paused = False
    _resumeCall: Any = None
    _sasl: list[bytes] | None = None
    _pending: collections.deque[bytes | str]

    # -- the connection ------------------------------------------------------------

    def connectionMade(self) -> None:
        self._pending = collections.deque()
        factory = self.factory
        self.realm = factory.realm
        self.hostname = factory.realm.name
        super().connectionMade()
        self.caps: set[str] = set()
        self.userModes: set[str] = set()
        self._failures = 0
        self._clock = factory.reactor
        if self._clock is None:
            from torsion.internet import reactor

            self._clock = reactor
        if isinstance(self.transport, _WritesAtOnce):
            flusher = factory.__dict__.get("_flusher")
            if flusher is None:
                flusher = factory._flusher = _Flusher(self._clock)
            self.transport = _CoalescingTransport(self.transport, flusher, self)
        now = self._clock.seconds()
        self._lastHeard = self._lastRefill = now
        self._tokens = float(factory.floodBurst)
        self._pinged = False
        self._bufferedSize = getattr(self.transport, "bufferedSize", None)
        # Chat lines are small and wanted at once: without this each waits for an ACK.
        sendAtOnce(self.transport)
        peer = self.transport.getPeer()
        self.host = str(getattr(peer, "host", None) or "unknown")
        if factory.connections >= factory.maxConnections:
            self._refuseConnection("the server is full; try again later")
            return
        perHost = factory.connectionsByHost.get(self.host, 0)
        if perHost >= factory.maxConnectionsPerHost:
            self._refuseConnection(f"too many connections from {self.host}")
            return
        factory.connections += 1
        factory.connectionsByHost[self.host] = perHost + 1
        self._counted = self.host
        self._timer = self._clock.callLater(factory.registrationTimeout, self._timerFired)

    def _refuseConnection(self, why: str) -> None:
        self._gone = True
        self.sendLine(f"ERROR :Closing Link: {self.host} ({why})")
        self.transport.loseConnection()

    def connectionLost(self, reason: Any = None) -> None:
        wasGone, self._gone = self._gone, True
        for call in (self._timer, self._resumeCall):
            if call is not None and call.active():
                call.cancel()
        self._timer = self._resumeCall = None
        self._pending.clear()
        if self._counted is not None:
            factory = self.factory
            factory.connections -= 1
            left = factory.connectionsByHost.get(self._counted, 1) - 1
            if left > 0:
                factory.connectionsByHost[self._counted] = left
            else:
                factory.connectionsByHost.pop(self._counted, None)
            self._counted = None
        self._logOut(getattr(self, "_quitReason", None) or self._lostReason(reason, wasGone))

    @staticmethod
    def _lostReason(reason: Any, closedByUs: bool) -> str:
        if closedByUs:
            return "Client closed"
        value = getattr(reason, "value", None)
        text = str(value) if value is not None else ""
        return "Connection closed" if "closed cleanly" in text or not text else "Connection reset"

    def _logOut(self, reason: str) -> None:
        avatar, logout = self.avatar, self.logout
        self.avatar = self.logout = None
        if avatar is not None:
            try:
                avatar.quit(reason)
            finally:
                if logout is not None:
                    logout()

    def close(self, reason: str, abort: bool = False) -> None:
        """Tell the client ERROR, tell its peers it quit with ``reason``, and close."""
        if self._gone:
            return
        self._quitReason = reason
        self._logOut(reason)
        self._gone = True
        if not abort:
            self.sendLine(f"ERROR :Closing Link: {self.host} ({reason})")
            self.transport.loseConnection()
        else:
            getattr(self.transport, "abortConnection", self.transport.loseConnection)()

    def _timerFired(self) -> None:
        self._timer = None
        if self._gone:
            return
        factory, now = self.factory, self._clock.seconds()
        if not self.registered:
            self.close("Registration timed out")
            return
        if self._pinged:
            if now - self._lastHeard >= factory.pingTimeout:
                self.close(f"Ping timeout: {int(now - self._lastHeard)} seconds")
                return
            self._timer = self._clock.callLater(
                factory.pingTimeout - (now - self._lastHeard), self._timerFired
            )
            return
        silent = now - self._lastHeard
        if silent >= factory.pingInterval:
            self._pinged = True
            self._lastHeard = now
            self.sendLine(f"PING :{self.hostname}")
            self._timer = self._clock.callLater(factory.pingTimeout, self._timerFired)
        else:
            self._timer = self._clock.callLater(factory.pingInterval - silent, self._timerFired)

    # -- receiving: flood control, then the base's parsing and dispatch ---------------

    def lineReceived(self, line: bytes | str) -> None:
        if self._gone:
            return
        if self._pending or not self._takeToken():
            if len(self._pending) >= self.factory.maxPendingLines:
                self.close("Excess Flood")
                return
            self._pending.append(line)
            self._throttle()
            return
        super().lineReceived(line)

    def _takeToken(self) -> bool:
        factory = self.factory
        if factory.floodRate is None:
            return True
        now = self._clock.seconds()
        self._tokens = min(
            float(factory.floodBurst), self._tokens + (now - self._lastRefill) * factory.floodRate
        )
        self._lastRefill = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def _throttle(self) -> None:
        if not self._paused:
            self._paused = True
            self.transport.pauseProducing()
        if self._resumeCall is None:
            self._resumeCall = self._clock.callLater(1.0 / self.factory.floodRate, self._drain)

    def _drain(self) -> None:
        self._resumeCall = None
        while self._pending and not self._gone and self._takeToken():
            irc.IRC.lineReceived(self, self._pending.popleft())
        if self._gone:
            return
        if self._pending:
            self._resumeCall = self._clock.callLater(1.0 / self.factory.floodRate, self._drain)
        elif self._paused:
            self._paused = False
            self.transport.resumeProducing()

    def handleCommand(self, command: str, prefix: str, params: list[str]) -> None:
        self._lastHeard = self._clock.seconds()
        self._pinged = False
        if not self.registered and command not in _BEFORE_REGISTRATION:
            if command in self._KNOWN:
                self.reply(irc.ERR_NOTREGISTERED, ":You have not registered")
            else:
                self.irc_unknown(prefix, command, params)
            return
        super().handleCommand(command, prefix, params)

    # -- sending ---------------------------------------------------------------------

    def sendLine(self, line: str | bytes) -> None:
        if self.transport is None:
            return
        super().sendLine(line)
        self._checkSendQueue()

    def _write(self, data: bytes) -> None:
        """Send ready-made lines (with their CRLFs): the fast path of relayed messages."""
        if not self._gone:
            self.transport.write(data)
            self._checkSendQueue()

    def _checkSendQueue(self) -> None:
        size = self._bufferedSize
        if size is not None and size() > self.factory.maxSendQueue and not self._gone:
            _log.info(
                "{mask} did not read {size} bytes; disconnected", mask=self.hostmask, size=size()
            )
            self.close("Max SendQ exceeded", abort=True)

    def reply(self, numeric: str, *params: str) -> None:
        """Send a numeric reply to this client (its nick, or * before it has one).

        The parameters before the last often echo what the client sent (a channel or
        nick it named); one that could not be a middle parameter (empty, with a space,
        starting with ``:``) is made one, so that no input can make a reply fail.
        """
        middle = [
            p if p and " " not in p and p[0] != ":" else (p.replace(" ", "").lstrip(":") or "*")
            for p in params[:-1]
        ]
        self.sendMessage(numeric, self.nickname or "*", *middle, *params[-1:], prefix=self.hostname)

    def _relay(self, source: str, command: str, *params: str, when: float | None = None) -> None:
        """Send a line from ``source`` (a hostmask), with a time tag when asked for."""
        line = irc.formatMessage(command, *params, prefix=source)
        if self._tagMode & 1:
            line = f"@time={_serverTime(when or time.time())} {line}"
        self._write(line.encode() + b"\r\n")

    def _timerReset(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = self._clock.callLater(self.factory.pingInterval, self._timerFired)

    def changeNick(self, nick: str) -> None:
        """Rename this registered client to ``nick``; it and everyone sharing a channel hear it."""
        if nick == self.nickname:
            return
        rename = getattr(self.realm, "renameUser", None)
        if rename is None:
            self.reply(irc.ERR_NICKNAMEINUSE, nick, ":This server does not change nicks")
            return
        old, oldName = self.hostmask, self.nickname or ""
        try:
            rename(self.avatar, nick)
        except ewords.DuplicateUser:
            self.reply(irc.ERR_NICKNAMEINUSE, nick, ":Nickname is already in use")
            return
        self.nickname = nick
        self.hostmask = f"{nick}!{self.username}@{self.host}"
        self._relay(old, "NICK", nick)
        for peer in self.avatar.peers():
            _callPeer(peer, "userRenamed", self, oldName)

    # -- the chat client's events (IRichChatClient) -------------------------------

    def receive(self, sender: Any, recipient: Any, message: dict[str, Any]) -> None:
        """Send ``message`` as PRIVMSG (NOTICE with ``notice``, ACTION with style "emote").

        The line is made once per kind of client (which tags it asked for) and kept in
        the message under ``_wire``, so a message to a channel of 500 costs one
        formatting and 500 writes.
        """
        if self._gone:
            return
        mode = self._tagMode
        cache = message.get("_wire")
        if cache is None:
            cache = message["_wire"] = {}
        data = cache.get(mode)
        if data is None:
            data = cache[mode] = self._format(sender, recipient, message, mode)
        if data:
            self._write(data)

    def _format(self, sender: Any, recipient: Any, message: dict[str, Any], mode: int) -> bytes:
        target = ("#" + recipient.name) if iwords.IGroup.providedBy(recipient) else recipient.name
        source = _maskOf(sender, self.hostname)
        if message.get("tagOnly"):
            if not mode & 2:
                return b""
            head = f":{source} TAGMSG {target}\r\n".encode()
            return _tagPrefix(mode, message) + head
        command = "NOTICE" if message.get("notice") else "PRIVMSG"
        text = str(message.get("text", ""))
        if message.get("style") == "emote":
            text = f"\x01ACTION {text}\x01"
        tags = _tagPrefix(mode, message)
        head = f":{source} {command} {target} :".encode()
        lines = text.replace("\0", "").splitlines() or [""]
        return b"".join(tags + head + line.encode() + b"\r\n" for line in lines)

    def userJoined(self, group: Any, user: Any) -> None:
        self._relay(_maskOf(user, self.hostname), "JOIN", "#" + group.name)

    def userLeft(self, group: Any, user: Any, reason: str | None = None) -> None:
        params = ["#" + group.name] + ([reason] if reason else [])
        self._relay(_maskOf(user, self.hostname), "PART", *params)

    def userKicked(self, group: Any, user: Any, by: Any, reason: str) -> None:
        self._relay(_maskOf(by, self.hostname), "KICK", "#" + group.name, user.name, reason)

    def userQuit(self, user: Any, reason: str) -> None:
        self._relay(_maskOf(user, self.hostname), "QUIT", reason)

    def userRenamed(self, user: Any, oldName: str) -> None:
        mask = _maskOf(user, self.hostname)
        self._relay(oldName + mask[mask.find("!") :] if "!" in mask else oldName, "NICK", user.name)

    def groupModeChanged(self, group: Any, by: Any, modes: str, arguments: list[str]) -> None:
        self._relay(_maskOf(by, self.hostname), "MODE", "#" + group.name, modes, *arguments)

    def invitedTo(self, group: Any, by: Any) -> None:
        self._relay(_maskOf(by, self.hostname), "INVITE", self.nickname or "*", "#" + group.name)

    def groupMetaUpdate(self, group: Any, meta: dict[str, Any]) -> None:
        author = str(meta.get("topic_author") or self.hostname)
        setter = getattr(self.realm, "users", {}).get(lowerName(author))
        mask = _maskOf(setter.mind, self.hostname) if setter is not None and setter.mind else author
        self._relay(mask, "TOPIC", "#" + group.name, meta.get("topic", ""))


def _maskOf(client: Any, server: str | None) -> str:
    mask = getattr(client, "hostmask", None)
    if isinstance(mask, str) and mask != "*":
        return mask
    name = getattr(client, "name", None) or "*"
    return f"{name}!{name}@{server}"


def _callPeer(peer: Any, method: str, *args: Any) -> None:
    if iwords.IRichChatClient.providedBy(peer):
        try:
            getattr(peer, method)(*args)
        except Exception:
            _log.failure("{peer!r}.{method} raised", peer=peer, method=method)
