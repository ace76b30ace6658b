"""The CTCP and DCC half of IRCClient: queries, replies, pings and DCC offers.

IRCClient inherits this mixin; it is a module of its own only to keep each file
readable. A CTCP query in a PRIVMSG goes to ``ctcpQuery_<TAG>`` (VERSION, PING, TIME,
CLIENTINFO, ACTION, SOURCE, USERINFO, FINGER, ERRMSG, DCC); a reply in a NOTICE to
``ctcpReply_<TAG>``. DCC requests are parsed by ``torsion.words.protocols._ircdcc``
and handed to ``dccDoSend``/``dccDoChat``/``dccDoResume``/``dccDoAcceptResume``,
which do nothing unless overridden: an offer never makes us connect anywhere.
Tests: tests/words/test_irc_client.py (the CTCP and DCC tests).
"""

from __future__ import annotations

import os
import secrets
import time
from collections import deque
from ipaddress import ip_address
from typing import IO, TYPE_CHECKING, Any

import torsion
from torsion.internet.defer import Deferred
from torsion.logger import Logger
from torsion.words.protocols._irccodec import IRCBadMessage
from torsion.words.protocols._ircctcp import ctcpStringify
from torsion.words.protocols._ircdcc import dccDescribe, fileSize, parseDccOffer
from torsion.words.protocols._ircdcctransfer import DccSendFactory

_log = Logger()


def _nick(prefix: str) -> str:
    return prefix.split("!", 1)[0]


class _CTCPClientMixin:
    """CTCP and DCC for IRCClient (see the module docstring).

    Attributes:
        versionName, versionNum, versionEnv: the CTCP VERSION reply (no reply if
            versionName is None).
        sourceURL, userinfo, fingerReply: the SOURCE, USERINFO and FINGER replies
            (none if unset; fingerReply may be a callable).
        ctcpQueueLimit: CTCP replies are dropped while this many lines wait in the
            send queue, so other users cannot make us flood ourselves off.
    """

    userinfo: str | None = None
    fingerReply: Any = None
    versionName: str | None = "torsion"
    versionNum: str | None = torsion.__version__
    versionEnv: str | None = None
    sourceURL: str | None = None
    dcc_destdir = "."
    dcc_sessions: list[Any] | None = None
    ctcpQueueLimit = 5
    _MAX_PINGRING = 12
    _pings: dict[tuple[str, str], float] | None = None

    if TYPE_CHECKING:
        transport: Any
        lineRate: float | None
        _queue: deque[str]

        def sendLine(self, line: str) -> None: ...

        def notice(self, user: str, message: str) -> None: ...

    def action(self, user: str, channel: str, data: str) -> None:
        """``user`` did ``/me data`` in ``channel``."""

    def pong(self, user: str, secs: float) -> None:
        """``user`` answered our CTCP PING after ``secs`` seconds."""

    def ping(self, user: str, text: str | None = None) -> None:
        """CTCP PING ``user``; ``pong(user, secs)`` gets the round trip time."""
        if self._pings is None:
            self._pings = {}
        if text is None:
            text = secrets.token_hex(6)
        self._pings[(user, text)] = time.time()
        self.ctcpMakeQuery(user, [("PING", text)])
        while len(self._pings) > self._MAX_PINGRING:
            del self._pings[min(self._pings, key=self._pings.__getitem__)]

    def ctcpQuery(self, user: str, channel: str, messages: list[tuple[str, str | None]]) -> None:
        """Dispatch each CTCP query to ``ctcpQuery_<TAG>`` or ``ctcpUnknownQuery``."""
        for tag, data in messages:
            method = getattr(self, "ctcpQuery_" + tag.upper(), None)
            if method is None:
                self.ctcpUnknownQuery(user, channel, tag, data)
            else:
                method(user, channel, data)

    def ctcpQuery_ACTION(self, user: str, channel: str, data: str | None) -> None:
        """/me: call action."""
        self.action(user, channel, data or "")

    def ctcpQuery_PING(self, user: str, channel: str, data: str | None) -> None:
        """Echo the PING data back."""
        self.ctcpMakeReply(_nick(user), [("PING", data)])

    def ctcpQuery_FINGER(self, user: str, channel: str, data: str | None) -> None:
        """Reply with fingerReply (a string, or a callable returning one), if set."""
        if not self.fingerReply:
            return
        reply = self.fingerReply() if callable(self.fingerReply) else str(self.fingerReply)
        self.ctcpMakeReply(_nick(user), [("FINGER", reply)])

    def ctcpQuery_VERSION(self, user: str, channel: str, data: str | None) -> None:
        """Reply with versionName:versionNum:versionEnv, if versionName is set."""
        if self.versionName:
            version = f"{self.versionName}:{self.versionNum or ''}:{self.versionEnv or ''}"
            self.ctcpMakeReply(_nick(user), [("VERSION", version)])

    def ctcpQuery_SOURCE(self, user: str, channel: str, data: str | None) -> None:
        """Reply with sourceURL, if set."""
        if self.sourceURL:
            self.ctcpMakeReply(_nick(user), [("SOURCE", self.sourceURL), ("SOURCE", None)])

    def ctcpQuery_USERINFO(self, user: str, channel: str, data: str | None) -> None:
        """Reply with userinfo, if set."""
        if self.userinfo:
            self.ctcpMakeReply(_nick(user), [("USERINFO", self.userinfo)])

    def ctcpQuery_CLIENTINFO(self, user: str, channel: str, data: str | None) -> None:
        """List the CTCP queries we answer, or describe one of them."""
        nick = _nick(user)
        if not data:
            tags = sorted(
                name[len("ctcpQuery_") :] for name in dir(self) if name.startswith("ctcpQuery_")
            )
            self.ctcpMakeReply(nick, [("CLIENTINFO", " ".join(tags))])
            return
        tag = data.split()[0].upper()
        method = getattr(self, "ctcpQuery_" + tag, None)
        if method is None:
            self.ctcpMakeReply(nick, [("ERRMSG", f"CLIENTINFO {data} :Unknown query '{tag}'")])
        else:
            doc = (method.__doc__ or "").strip().splitlines()
            self.ctcpMakeReply(nick, [("CLIENTINFO", doc[0] if doc else tag)])

    def ctcpQuery_ERRMSG(self, user: str, channel: str, data: str | None) -> None:
        """Echo an ERRMSG query, saying that no error occurred."""
        self.ctcpMakeReply(_nick(user), [("ERRMSG", f"{data or ''} :No error has occurred.")])

    def ctcpQuery_TIME(self, user: str, channel: str, data: str | None) -> None:
        """Reply with our local time."""
        self.ctcpMakeReply(_nick(user), [("TIME", time.asctime())])

    def ctcpQuery_DCC(self, user: str, channel: str, data: str | None) -> None:
        """A DCC request: parse it and call ``dcc_<TYPE>``."""
        if not data:
            return
        kind = data.split(None, 1)[0].upper()
        handler = getattr(self, "dcc_" + kind, None)
        if handler is None:
            self.ctcpMakeReply(_nick(user), [("ERRMSG", f"DCC {data} :Unknown DCC type '{kind}'")])
            self.quirkyMessage(f"{user} offered an unknown DCC type {kind}")
            return
        if self.dcc_sessions is None:
            self.dcc_sessions = []
        try:
            handler(user, channel, data.split(None, 1)[1] if " " in data.strip() else "")
        except IRCBadMessage as e:
            self.quirkyMessage(f"{user} sent a malformed DCC request: {e}")

    def dcc_SEND(self, user: str, channel: str, data: str) -> None:
        """A file offer: parse it and call dccDoSend."""
        offer = parseDccOffer("SEND " + data)
        self.dccDoSend(user, offer.address, offer.port, offer.argument, offer.size, offer.words)

    def dcc_CHAT(self, user: str, channel: str, data: str) -> None:
        """A chat offer: parse it and call dccDoChat."""
        offer = parseDccOffer("CHAT " + data)
        self.dccDoChat(user, channel, offer.address, offer.port, offer.words)

    def dcc_RESUME(self, user: str, channel: str, data: str) -> None:
        """The peer wants to resume a file we offered: call dccDoResume."""
        offer = parseDccOffer("RESUME " + data)
        self.dccDoResume(user, offer.argument, offer.port, offer.size)

    def dcc_ACCEPT(self, user: str, channel: str, data: str) -> None:
        """The peer accepts our resume request: call dccDoAcceptResume."""
        offer = parseDccOffer("ACCEPT " + data)
        self.dccDoAcceptResume(user, offer.argument, offer.port, offer.size)

    def dccDoSend(
        self, user: str, address: str, port: int, fileName: str, size: int, data: list[str]
    ) -> None:
        """``user`` offers a file; override to accept it (nothing connects by default)."""
        _log.info(
            "{user} offers DCC {offer}",
            user=user,
            offer=dccDescribe(" ".join(["SEND", fileName, address, str(port), str(size)])),
        )

    def dccDoResume(self, user: str, file: str, port: int, resumePos: int) -> None:
        """``user`` asks to resume ``file`` at ``resumePos``; override to agree."""

    def dccDoAcceptResume(self, user: str, file: str, port: int, resumePos: int) -> None:
        """``user`` agrees to resume ``file`` at ``resumePos``; override to go on."""

    def dccDoChat(self, user: str, channel: str, address: str, port: int, data: list[str]) -> None:
        """``user`` offers a DCC chat; override to accept it."""

    def dccResume(self, user: str, fileName: str, port: int, resumePos: int) -> None:
        """Ask ``user`` to resume sending ``fileName`` from ``resumePos``."""
        self.ctcpMakeQuery(user, [("DCC", ["RESUME", fileName, str(port), str(resumePos)])])

    def dccAcceptResume(self, user: str, fileName: str, port: int, resumePos: int) -> None:
        """Tell ``user`` we will resume sending ``fileName`` from ``resumePos``."""
        self.ctcpMakeQuery(user, [("DCC", ["ACCEPT", fileName, str(port), str(resumePos)])])

    def dccOffer(
        self, user: str, fileName: str, address: str, port: int, size: int | None = None
    ) -> None:
        """Offer ``user`` a file we serve on ``address``:``port`` (DCC SEND).

        ``address`` is sent as the 32-bit number old clients expect when it is IPv4.
        Serving the file on that port is up to the caller.
        """

        ip = ip_address(address)
        wireAddress = str(int(ip)) if ip.version == 4 else str(ip)
        quoted = f'"{fileName}"' if " " in fileName else fileName
        words = ["SEND", quoted, wireAddress, str(port)]
        if size is not None:
            words.append(str(size))
        self.ctcpMakeQuery(user, [("DCC", words)])

    def dccSend(
        self,
        user: str,
        file: IO[bytes] | str,
        address: str | None = None,
        reactor: Any = None,
        timeout: float = 120.0,
    ) -> Deferred[int]:
        """Offer ``user`` a file and serve it to the first peer that connects.

        The file (a path, or a file opened in binary mode) is served on a free port
        of ``address`` (by default the local address of this IRC connection, which
        the peer must be able to reach) until someone connects or ``timeout``
        seconds pass.

        Returns:
            A Deferred that fires with the number of bytes sent once the peer
            acknowledged the whole file, and fails if nobody came or the transfer
            broke off.
        """
        if reactor is None:
            from torsion.internet import reactor
        if isinstance(file, str):
            name = os.path.basename(file)
            file = open(file, "rb")  # noqa: SIM115 - the send protocol closes it
        else:
            name = os.path.basename(str(getattr(file, "name", "file")))
        if address is None:
            address = self.transport.getHost().host
        factory = DccSendFactory(file)
        factory.port = reactor.listenTCP(0, factory, interface=address)
        factory.timeoutCall = reactor.callLater(timeout, factory.timedOut)
        self.dccOffer(user, name, address, factory.port.getHost().port, fileSize(file))
        return factory.done

    def ctcpUnknownQuery(self, user: str, channel: str, tag: str, data: str | None) -> None:
        """A CTCP query nobody answers: log it."""
        _log.debug("unknown CTCP query {tag} {data!r} from {user}", tag=tag, data=data, user=user)

    def ctcpMakeReply(self, user: str, messages: list[tuple[str, Any]]) -> None:
        """Send CTCP replies to ``user`` (dropped while the send queue is long)."""
        if self.lineRate is not None and len(self._queue) >= self.ctcpQueueLimit:
            _log.info(
                "dropped a CTCP reply to {user}: {count} lines wait in the send queue",
                user=user,
                count=len(self._queue),
            )
            return
        self.notice(user, ctcpStringify(messages))

    def ctcpMakeQuery(self, user: str, messages: list[tuple[str, Any]]) -> None:
        """Send CTCP queries to ``user``."""
        self.sendLine(f"PRIVMSG {user} :{ctcpStringify(messages)}")

    def ctcpReply(self, user: str, channel: str, messages: list[tuple[str, str | None]]) -> None:
        """Dispatch each CTCP reply to ``ctcpReply_<TAG>`` or ``ctcpUnknownReply``."""
        for tag, data in messages:
            method = getattr(self, "ctcpReply_" + tag.upper(), None)
            if method is None:
                self.ctcpUnknownReply(user, channel, tag, data)
            else:
                method(user, channel, data)

    def ctcpReply_PING(self, user: str, channel: str, data: str | None) -> None:
        """The answer to our ping: call pong with the round trip time."""
        nick = _nick(user)
        key = (nick, data or "")
        if not self._pings or key not in self._pings:
            self.quirkyMessage(f"a PING reply from {user} answers no PING of ours: {data!r}")
            return
        self.pong(user, time.time() - self._pings.pop(key))

    def ctcpUnknownReply(self, user: str, channel: str, tag: str, data: str | None) -> None:
        """A CTCP reply we did not ask for: log it."""
        _log.debug("unknown CTCP reply {tag} {data!r} from {user}", tag=tag, data=data, user=user)

    def quirkyMessage(self, s: str) -> None:
        """Something odd but harmless happened: log it."""
        _log.info("{message}", message=s)
