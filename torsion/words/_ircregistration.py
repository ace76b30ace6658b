"""Registration of an IRC connection: a mixin of IRCUser (torsion/words/_ircserver.py).

A client registers with NICK and USER, optionally after PASS or a CAP negotiation
with SASL PLAIN; the server then logs it in through the portal (a password, or
anonymously when the portal takes that) and welcomes it with the ISUPPORT tokens
that tell the client the limits it will be held to. A guest holding the nick of an
account that logs in is renamed, so an owner always gets their nick back.

Tests: tests/words/test_service_irc.py.
"""

from __future__ import annotations

import base64
import binascii
import random
import re
from collections.abc import Callable
from typing import Any

import torsion
from torsion.cred import credentials, error
from torsion.logger import Logger
from torsion.python.failure import Failure
from torsion.words import ewords, iwords
from torsion.words._names import lowerName
from torsion.words.protocols import irc

__all__ = ["CAPABILITIES", "VERSION", "IRCRegistration"]

VERSION = f"torsion-words-{torsion.__version__}"
CAPABILITIES = ("message-tags", "multi-prefix", "sasl", "server-time")
_NICK = re.compile(r"[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]*\Z")
_USERNAME_JUNK = re.compile(r"[^A-Za-z0-9._-]")
_MAX_SASL = 4096

_log = Logger(namespace="torsion.words.service")


class IRCRegistration:
    """PASS, NICK, USER, CAP and AUTHENTICATE, and the login they lead to; the
    connection state they use is IRCUser's."""

    # Provided by IRCUser, IRCCommands and irc.IRC; declared for the type checker.
    factory: Any
    realm: Any
    avatar: Any
    logout: Any
    name: str | None
    nickname: str | None
    username: str | None
    realname: str
    host: str
    hostname: str | None
    hostmask: str
    password: str | None
    registered: bool
    caps: set[str]
    _gone: bool
    _loginPending: bool
    _capNegotiating: bool
    _tagMode: int
    _sasl: list[bytes] | None
    _failures: int
    reply: Callable[..., None]
    sendMessage: Callable[..., None]
    sendLine: Callable[..., None]
    close: Callable[..., None]
    changeNick: Callable[[str], None]
    irc_LUSERS: Callable[..., None]
    irc_MOTD: Callable[..., None]
    _timerReset: Callable[[], None]

    def irc_PASS(self, prefix: str, params: list[str]) -> None:
        if self.registered:
            self.reply(irc.ERR_ALREADYREGISTRED, ":You may not reregister")
        elif not params:
            self.reply(irc.ERR_NEEDMOREPARAMS, "PASS", ":Not enough parameters")
        else:
            self.password = params[-1]

    def irc_NICK(self, prefix: str, params: list[str]) -> None:
        if not params or not params[0]:
            self.reply(irc.ERR_NONICKNAMEGIVEN, ":No nickname given")
            return
        nick = params[0]
        if len(nick) > self.factory.nickLength or not _NICK.match(nick):
            self.reply(irc.ERR_ERRONEUSNICKNAME, nick[:64] or "*", ":Erroneous nickname")
            return
        if self.registered:
            self.changeNick(nick)
            return
        if self.avatar is None:
            other = getattr(self.realm, "users", {}).get(lowerName(nick))
            # A guest's nick may be wanted back by its account's owner (see _evictGuest).
            if other is not None and (self.password is None or other.account is not None):
                self.reply(irc.ERR_NICKNAMEINUSE, nick, ":Nickname is already in use")
                return
        self.nickname = nick
        self._tryRegister()

    def irc_USER(self, prefix: str, params: list[str]) -> None:
        if self.registered or self.username is not None:
            self.reply(irc.ERR_ALREADYREGISTRED, ":You may not reregister")
            return
        if len(params) < 4 or not params[0]:
            self.reply(irc.ERR_NEEDMOREPARAMS, "USER", ":Not enough parameters")
            return
        self.username = (_USERNAME_JUNK.sub("", params[0])[:10]) or "user"
        self.realname = params[3][:100]
        self._tryRegister()

    def irc_CAP(self, prefix: str, params: list[str]) -> None:
        sub = params[0].upper() if params else ""
        target = self.nickname or "*"
        if sub == "LS":
            if not self.registered:
                self._capNegotiating = True
            offered = " ".join(
                "sasl=PLAIN" if c == "sasl" and params[1:2] == ["302"] else c for c in CAPABILITIES
            )
            self.sendMessage("CAP", target, "LS", offered, prefix=self.hostname)
        elif sub == "LIST":
            self.sendMessage(
                "CAP", target, "LIST", " ".join(sorted(self.caps)), prefix=self.hostname
            )
        elif sub == "REQ" and len(params) > 1:
            if not self.registered:
                self._capNegotiating = True
            wanted = params[1].split()
            names = [w[1:] if w.startswith("-") else w for w in wanted]
            if wanted and all(n in CAPABILITIES for n in names):
                for w, n in zip(wanted, names, strict=True):
                    (self.caps.discard if w.startswith("-") else self.caps.add)(n)
                self._tagMode = ("server-time" in self.caps) | (("message-tags" in self.caps) << 1)
                self.sendMessage("CAP", target, "ACK", params[1], prefix=self.hostname)
            else:
                self.sendMessage("CAP", target, "NAK", params[1][:400], prefix=self.hostname)
        elif sub == "END":
            if self._capNegotiating:
                self._capNegotiating = False
                self._sasl = None
                self._tryRegister()
        else:
            self.reply(irc.ERR_INVALIDCAPCMD, sub[:20] or "*", ":Invalid CAP command")

    def irc_AUTHENTICATE(self, prefix: str, params: list[str]) -> None:
        if not params:
            self.reply(irc.ERR_NEEDMOREPARAMS, "AUTHENTICATE", ":Not enough parameters")
            return
        if self.avatar is not None or self.registered:
            self.reply(irc.ERR_SASLALREADY, ":You have already authenticated")
            return
        if "sasl" not in self.caps or self._loginPending:
            self.reply(irc.ERR_SASLFAIL, ":SASL authentication failed")
            return
        data = params[0]
        if data == "*":
            self._sasl = None
            self.reply(irc.ERR_SASLABORTED, ":SASL authentication aborted")
            return
        if self._sasl is None:
            if data.upper() != "PLAIN":
                self.reply(irc.RPL_SASLMECHS, "PLAIN", ":are available SASL mechanisms")
                self.reply(irc.ERR_SASLFAIL, ":SASL authentication failed")
                return
            self._sasl = []
            self.sendLine("AUTHENTICATE +")
            return
        if data != "+":
            self._sasl.append(data.encode("ascii", "replace"))
        if sum(map(len, self._sasl)) > _MAX_SASL:
            self._sasl = None
            self.reply(irc.ERR_SASLTOOLONG, ":SASL message too long")
            return
        if len(data) == 400:
            return
        chunks, self._sasl = self._sasl, None
        try:
            authzid, authcid, password = base64.b64decode(b"".join(chunks), validate=True).split(
                b"\0"
            )
            account = authcid.decode("utf-8")
        except (binascii.Error, ValueError):
            self.reply(irc.ERR_SASLFAIL, ":SASL authentication failed")
            return
        if (authzid and authzid != authcid) or not account:
            self.reply(irc.ERR_SASLFAIL, ":SASL authentication failed")
            return
        self._login(credentials.UsernamePassword(authcid, password), account, sasl=True)

    def _tryRegister(self) -> None:
        if (
            self.registered
            or self._loginPending
            or self._capNegotiating
            or self._gone
            or self.nickname is None
            or self.username is None
        ):
            return
        if self.avatar is not None:
            self._welcome()
            return
        offered = self.factory.portal.listCredentialsInterfaces()
        if self.password is not None and credentials.IUsernamePassword in offered:
            self._login(credentials.UsernamePassword(self.nickname, self.password), self.nickname)
        else:
            self._login(credentials.Anonymous(), self.nickname)

    def _login(self, creds: Any, name: str, sasl: bool = False, retry: bool = True) -> None:
        self._loginPending = True
        self.name = name
        d = self.factory.portal.login(creds, self, iwords.IUser)
        d.addCallbacks(
            self._loggedIn,
            self._loginFailed,
            callbackArgs=(sasl,),
            errbackArgs=(sasl, creds, name, retry),
        )

    def _evictGuest(self, name: str) -> bool:
        """A guest holds the nick of the account that just proved its password: rename it.

        Whether a guest was renamed (then the login is tried again, once).
        """
        holder = getattr(self.realm, "users", {}).get(lowerName(name))
        mind = getattr(holder, "mind", None)
        if holder is None or holder.account is not None or not isinstance(mind, IRCRegistration):
            return False
        if not mind.registered or mind._gone:
            return False
        users = self.realm.users
        guest = next(
            n
            for n in (f"Guest{random.randrange(10_000, 100_000)}" for _ in iter(int, 1))
            if lowerName(n) not in users
        )
        mind.sendMessage(
            "NOTICE",
            mind.nickname or "*",
            f"{name} is the nick of an account that has logged in; you are now {guest}",
            prefix=self.hostname,
        )
        mind.changeNick(guest)
        return True

    def _loggedIn(self, result: Any, sasl: bool) -> None:
        self._loginPending = False
        _iface, avatar, logout = result
        if self._gone:
            avatar.quit("Connection closed")
            logout()
            return
        self.avatar, self.logout = avatar, logout
        self.name = avatar.name
        if sasl:
            mask = f"{self.nickname or avatar.name}!{self.username or '*'}@{self.host}"
            self.reply(
                irc.RPL_LOGGEDIN, mask, avatar.account, f"You are now logged in as {avatar.account}"
            )
            self.reply(irc.RPL_SASLSUCCESS, ":SASL authentication successful")
            self._tryRegister()
        else:
            self._welcome()

    def _loginFailed(
        self, reason: Failure, sasl: bool, creds: Any = None, name: str = "", retry: bool = False
    ) -> None:
        self._loginPending = False
        if self._gone:
            return
        isAccount = credentials.IUsernamePassword.providedBy(creds)
        if reason.check(ewords.AlreadyLoggedIn) and isAccount and retry and self._evictGuest(name):
            self._login(creds, name, sasl, retry=False)
            return
        if reason.check(ewords.AlreadyLoggedIn, ewords.DuplicateUser):
            if sasl:
                self.reply(irc.ERR_NICKLOCKED, ":You are logged in already from elsewhere")
                self.reply(irc.ERR_SASLFAIL, ":SASL authentication failed")
            else:
                self.reply(
                    irc.ERR_NICKNAMEINUSE, self.nickname or "*", ":Nickname is already in use"
                )
                self.nickname = None
            return
        if reason.check(ewords.LimitReached):
            self.close("the server is full; try again later")
            return
        if reason.check(error.UnhandledCredentials):
            self.reply(
                irc.ERR_PASSWDMISMATCH,
                ":This server needs a password: log in with SASL PLAIN or PASS",
            )
            self.close("Bad password")
            return
        if not reason.check(error.UnauthorizedLogin, error.LoginFailed):
            _log.failure("logging in {name} failed", reason, name=self.name)
        self._failures += 1
        if sasl and self._failures < self.factory.maxLoginFailures:
            self.reply(irc.ERR_SASLFAIL, ":SASL authentication failed")
            return
        self.reply(irc.ERR_PASSWDMISMATCH, ":Password incorrect")
        self.close("Bad password")

    def _welcome(self) -> None:
        factory, avatar = self.factory, self.avatar
        if avatar.name != self.nickname:
            if self.nickname is not None:
                self.sendMessage(
                    "NICK", avatar.name, prefix=f"{self.nickname}!{self.username}@{self.host}"
                )
            self.nickname = avatar.name
        self.registered = True
        self.hostmask = f"{self.nickname}!{self.username}@{self.host}"
        self.password = None
        info = factory._serverInfo
        self.reply(
            irc.RPL_WELCOME, f":Welcome to the {factory.networkName} IRC network {self.hostmask}"
        )
        self.reply(irc.RPL_YOURHOST, f":Your host is {self.hostname}, running version {VERSION}")
        self.reply(irc.RPL_CREATED, f":This server was created {info['creationDate']}")
        self.reply(irc.RPL_MYINFO, self.hostname or "*", VERSION, "iw", "iklmnotv", "klov")
        tokens = [
            "CASEMAPPING=ascii",
            "CHANTYPES=#",
            "CHANMODES=,k,l,imnt",
            "PREFIX=(ov)@+",
            f"NICKLEN={factory.nickLength}",
            f"CHANNELLEN={factory.channelLength}",
            f"TOPICLEN={factory.topicLength}",
            f"KICKLEN={factory.kickLength}",
            f"AWAYLEN={factory.awayLength}",
            f"CHANLIMIT=#:{self.realm.maxGroupsPerUser}"
            if hasattr(self.realm, "maxGroupsPerUser")
            else "CHANLIMIT=#:",
            f"MODES={factory.maxTargets}",
            f"MAXTARGETS={factory.maxTargets}",
            f"NETWORK={factory.networkName}",
        ]
        self.reply(irc.RPL_ISUPPORT, *tokens, ":are supported by this server")
        self.irc_LUSERS("", [])
        self.irc_MOTD("", [])
        self._timerReset()
