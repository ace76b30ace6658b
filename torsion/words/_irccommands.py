"""The commands of a registered IRC client: a mixin of IRCUser (torsion/words/_ircserver.py).

Channels (JOIN, PART, TOPIC, NAMES, LIST, KICK, INVITE, MODE), messages (PRIVMSG,
NOTICE, TAGMSG), and the rest a client asks (AWAY, WHO, WHOIS, USERHOST, ISON, MOTD,
LUSERS, PING, QUIT...). The rules of a channel are the Group's (torsion.words.service):
a command asks the group, and an ewords error it raises becomes the numeric reply
(``_failed``), so every refusal is answered and none costs the client its connection.
Every list a client gives (targets, channels, nicks, modes) is cut at a limit.

Tests: tests/words/test_service_irc.py.
"""

from __future__ import annotations

import fnmatch
import functools
import time
from collections.abc import Callable
from typing import Any

from torsion.logger import Logger
from torsion.python.failure import Failure
from torsion.words import ewords
from torsion.words._names import lowerName
from torsion.words.protocols import irc

__all__ = ["IRCCommands"]

_log = Logger(namespace="torsion.words.service")
_MAX_JOIN = 20
_MAX_WHO = 200
_MAX_MOTD_LINES = 200
_BAD_CHANNEL = frozenset(" ,\x07\0\r\n")


class IRCCommands:
    """The command handlers; the connection state they use is IRCUser's."""

    _KNOWN = frozenset(
        {
            "JOIN",
            "PART",
            "TOPIC",
            "NAMES",
            "LIST",
            "KICK",
            "INVITE",
            "MODE",
            "PRIVMSG",
            "NOTICE",
            "TAGMSG",
            "AWAY",
            "WHO",
            "WHOIS",
            "USERHOST",
            "ISON",
            "MOTD",
            "LUSERS",
            "OPER",
            "VERSION",
        }
    )

    # Provided by IRCUser and irc.IRC.
    avatar: Any
    realm: Any
    factory: Any
    hostname: str | None
    nickname: str | None
    hostmask: str
    caps: set[str]
    userModes: set[str]
    currentMessage: Any
    transport: Any
    reply: Callable[..., None]
    sendMessage: Callable[..., None]
    _relay: Callable[..., None]
    close: Callable[..., None]
    who: Callable[..., None]
    names: Callable[..., None]

    # -- helpers -------------------------------------------------------------------

    def _groupName(self, channel: str) -> str | None:
        """The group name of ``#channel``, or None (answered 403) if it cannot be one."""
        if (
            len(channel) < 2
            or channel[0] != "#"
            or len(channel) > self.factory.channelLength
            or not _BAD_CHANNEL.isdisjoint(channel)
        ):
            self.reply(irc.ERR_NOSUCHCHANNEL, channel[:64] or "*", ":No such channel")
            return None
        return channel[1:]

    def _withGroup(
        self,
        channel: str,
        then: Callable[..., Any],
        *args: Any,
        onMissing: Callable[[], None] | None = None,
    ) -> None:
        """Call ``then(group, *args)`` with the group of ``channel``; answer what goes wrong."""
        name = self._groupName(channel)
        if name is None:
            return
        d = self.realm.lookupGroup(name)

        def missing(reason: Failure) -> None:
            reason.trap(ewords.NoSuchGroup)
            if onMissing is not None:
                onMissing()
            else:
                self.reply(irc.ERR_NOSUCHCHANNEL, channel, ":No such channel")

        d.addCallbacks(lambda group: then(group, *args), missing)
        d.addErrback(self._failed, channel)

    def _failed(self, reason: Failure, channel: str | None = None) -> None:
        """Answer an ewords error with its numeric (anything else is logged and noticed)."""
        e = reason.value
        subject = str(e.args[0]) if getattr(e, "args", None) else "*"
        where = channel or "*"
        if isinstance(e, ewords.NoSuchGroup):
            self.reply(irc.ERR_NOSUCHCHANNEL, where, ":No such channel")
        elif isinstance(e, ewords.NotInGroup):
            self.reply(irc.ERR_NOTONCHANNEL, where, ":You're not on that channel")
        elif isinstance(e, ewords.PermissionDenied):
            self.reply(irc.ERR_CHANOPRIVSNEEDED, where, ":You're not channel operator")
        elif isinstance(e, ewords.InviteOnly):
            self.reply(irc.ERR_INVITEONLYCHAN, where, ":Cannot join channel (+i)")
        elif isinstance(e, ewords.BadGroupKey):
            self.reply(irc.ERR_BADCHANNELKEY, where, ":Cannot join channel (+k)")
        elif isinstance(e, ewords.GroupFull):
            self.reply(irc.ERR_CHANNELISFULL, where, ":Cannot join channel (+l)")
        elif isinstance(e, ewords.LimitReached):
            self.reply(irc.ERR_TOOMANYCHANNELS, where, ":You have joined too many channels")
        elif isinstance(e, ewords.NoSuchUser):
            if channel is None:
                self.reply(irc.ERR_NOSUCHNICK, subject[:64], ":No such nick/channel")
            else:
                self.reply(
                    irc.ERR_USERNOTINCHANNEL, subject[:64], channel, ":They aren't on that channel"
                )
        elif isinstance(e, ewords.DuplicateUser):
            self.reply(
                irc.ERR_USERONCHANNEL, subject.split()[0][:64], where, ":is already on channel"
            )
        else:
            _log.failure("a command of {mask} failed", reason, mask=self.hostmask)
            self.sendMessage(
                "NOTICE",
                self.nickname or "*",
                "The server failed to do that; it is logged",
                prefix=self.hostname,
            )

    def _isMember(self, group: Any) -> bool:
        return bool(group.isMember(self))

    def _prefixes(self, group: Any, member: Any) -> str:
        both = "multi-prefix" in self.caps
        flags = "@" if member in group.ops else ""
        if member in group.voiced and (both or not flags):
            flags += "+"
        return flags

    def _notEnough(self, command: str) -> None:
        self.reply(irc.ERR_NEEDMOREPARAMS, command, ":Not enough parameters")

    # -- channels -----------------------------------------------------------------

    def irc_JOIN(self, prefix: str, params: list[str]) -> None:
        if not params or not params[0]:
            self._notEnough("JOIN")
            return
        if params[0] == "0":
            for group in list(self.avatar.groups):
                self._partGroup(group, "#" + group.name, "Left all channels")
            return
        channels = params[0].split(",")
        keys = params[1].split(",") if len(params) > 1 else []
        limit = getattr(self.realm, "maxGroupsPerUser", None)
        for i, channel in enumerate(channels[:_MAX_JOIN]):
            name = self._groupName(channel)
            if name is None:
                continue
            if any(lowerName(g.name) == lowerName(name) for g in self.avatar.groups):
                continue
            if limit is not None and len(self.avatar.groups) >= limit:
                self.reply(irc.ERR_TOOMANYCHANNELS, channel, ":You have joined too many channels")
                continue
            d = self.realm.getGroup(name)
            d.addCallback(self._joinGroup, keys[i] if i < len(keys) else None)
            d.addErrback(self._failed, channel)

    def _joinGroup(self, group: Any, key: str | None) -> Any:
        if self._isMember(group):
            return None
        group.checkJoin(self, key)
        return self.avatar.join(group).addCallback(lambda _: self._joined(group))

    def _joined(self, group: Any) -> None:
        channel = "#" + group.name
        self._relay(self.hostmask, "JOIN", channel)
        if group.meta.get("topic"):
            self._showTopic(group)
        self._names(group)

    def irc_PART(self, prefix: str, params: list[str]) -> None:
        if not params or not params[0]:
            self._notEnough("PART")
            return
        reason = params[1] if len(params) > 1 else None
        for channel in params[0].split(",")[:_MAX_JOIN]:
            self._withGroup(channel, self._partGroup, channel, reason)

    def _partGroup(self, group: Any, channel: str, reason: str | None) -> None:
        if not self._isMember(group):
            raise ewords.NotInGroup(group.name)
        self._relay(self.hostmask, "PART", "#" + group.name, *([reason] if reason else []))
        self.avatar.leave(group, reason)

    def irc_TOPIC(self, prefix: str, params: list[str]) -> None:
        if not params:
            self._notEnough("TOPIC")
        elif len(params) == 1:
            self._withGroup(params[0], self._showTopic)
        else:
            self._withGroup(
                params[0], lambda g: g.setTopic(self, params[1][: self.factory.topicLength])
            )

    def _showTopic(self, group: Any) -> None:
        channel, meta = "#" + group.name, group.meta
        if not meta.get("topic"):
            self.reply(irc.RPL_NOTOPIC, channel, ":No topic is set")
            return
        self.reply(irc.RPL_TOPIC, channel, ":" + meta["topic"])
        self.reply(
            irc.RPL_TOPICWHOTIME,
            channel,
            meta.get("topic_author") or "*",
            str(int(meta.get("topic_date") or 0)),
        )

    def irc_NAMES(self, prefix: str, params: list[str]) -> None:
        if not params or not params[0]:
            self.reply(irc.RPL_ENDOFNAMES, "*", ":End of /NAMES list")
            return
        for channel in params[0].split(",")[:_MAX_JOIN]:
            self._withGroup(
                channel,
                self._names,
                onMissing=functools.partial(
                    self.reply, irc.RPL_ENDOFNAMES, channel, ":End of /NAMES list"
                ),
            )

    def _names(self, group: Any) -> None:
        members = [self._prefixes(group, m) + m.name for m in group.users.values()]
        self.names(self.nickname, "#" + group.name, members)

    def irc_LIST(self, prefix: str, params: list[str]) -> None:
        wanted = {lowerName(c[1:]) for c in params[0].split(",")} if params and params[0] else None

        def listed(groups: Any) -> None:
            self.reply(irc.RPL_LISTSTART, "Channel", ":Users  Name")
            for group in groups:
                if wanted is None or lowerName(group.name) in wanted:
                    self.reply(
                        irc.RPL_LIST,
                        "#" + group.name,
                        str(len(group.users)),
                        ":" + (group.meta.get("topic") or ""),
                    )
            self.reply(irc.RPL_LISTEND, ":End of /LIST")

        self.realm.itergroups().addCallback(listed).addErrback(self._failed)

    def irc_KICK(self, prefix: str, params: list[str]) -> None:
        if len(params) < 2:
            self._notEnough("KICK")
            return
        reason = params[2] if len(params) > 2 and params[2] else self.nickname or ""
        self._withGroup(
            params[0],
            self._kick,
            params[0],
            params[1].split(",")[: self.factory.maxTargets],
            reason[: self.factory.kickLength],
        )

    def _kick(self, group: Any, channel: str, nicks: list[str], reason: str) -> None:
        group.checkOperator(self)
        for nick in nicks:
            target = group.users.get(lowerName(nick))
            if target is None:
                self.reply(
                    irc.ERR_USERNOTINCHANNEL,
                    nick[:64] or "*",
                    channel,
                    ":They aren't on that channel",
                )
            else:
                group.kick(self, target, reason)

    def irc_INVITE(self, prefix: str, params: list[str]) -> None:
        if len(params) < 2:
            self._notEnough("INVITE")
            return
        nick, channel = params[0], params[1]

        def found(user: Any) -> None:
            def invite(group: Any) -> None:
                group.invite(self, user.mind)
                self.reply(irc.RPL_INVITING, user.name, channel)
                if user.away:
                    self.reply(irc.RPL_AWAY, user.name, ":" + user.away)

            self._withGroup(channel, invite)

        self.realm.lookupUser(nick).addCallbacks(found, self._failed)

    def irc_MODE(self, prefix: str, params: list[str]) -> None:
        if not params:
            self._notEnough("MODE")
        elif params[0].startswith("#"):
            self._withGroup(params[0], self._channelMode, params[0], params[1:])
        else:
            self._userMode(params[0], params[1:])

    def _userMode(self, nick: str, args: list[str]) -> None:
        if lowerName(nick) != lowerName(self.nickname or ""):
            self.reply(irc.ERR_USERSDONTMATCH, ":Can't change mode for other users")
            return
        modes = self.userModes
        if not args:
            self.reply(irc.RPL_UMODEIS, "+" + "".join(sorted(modes)))
            return
        adding, changed = True, ""
        for char in args[0][:20]:
            if char in "+-":
                adding = char == "+"
            elif char in "iw":
                if (char in modes) != adding:
                    (modes.add if adding else modes.discard)(char)
                    changed += ("+" if adding else "-") + char
            else:
                self.reply(irc.ERR_UMODEUNKNOWNFLAG, ":Unknown MODE flag")
        if changed:
            self._relay(self.hostmask, "MODE", self.nickname, changed)

    def _channelMode(self, group: Any, channel: str, args: list[str]) -> None:
        if not args:
            modes, arguments = group.modeString(showKey=self._isMember(group))
            self.reply(irc.RPL_CHANNELMODEIS, channel, modes, *arguments)
            self.reply(irc.RPL_CREATIONTIME, channel, str(int(group.created)))
            return
        changes: list[tuple[bool, str, str | None]] = []
        rest, adding, taken = args[1:], True, 0
        for char in args[0][:40]:
            if char in "+-":
                adding = char == "+"
                continue
            if char in "beI":
                if not rest:
                    end = {
                        "b": irc.RPL_ENDOFBANLIST,
                        "e": irc.RPL_ENDOFEXCEPTLIST,
                        "I": irc.RPL_ENDOFINVITELIST,
                    }[char]
                    self.reply(end, channel, ":End of channel list")
                else:
                    rest.pop(0)
                    self.reply(irc.ERR_UNKNOWNMODE, char, ":is unknown mode char to me")
                continue
            if char not in "imntklov":
                self.reply(irc.ERR_UNKNOWNMODE, char, ":is unknown mode char to me")
                continue
            argument = None
            if char in "ov" or (adding and char in "kl") or (char == "k" and rest):
                if not rest:
                    if char in "ov":
                        self._notEnough("MODE")
                    continue
                argument = rest.pop(0)
                taken += 1
                if taken > self.factory.maxTargets:
                    break
            if (
                char == "k"
                and adding
                and (not argument or len(argument) > 23 or not _BAD_CHANNEL.isdisjoint(argument))
            ):
                continue
            if char == "l" and adding and not (argument or "").isdigit():
                continue
            if char == "l" and adding and not 0 < int(argument or "0") <= 100_000:
                continue
            changes.append((adding, char, argument))
        if changes:
            group.changeModes(self, changes)

    # -- messages -------------------------------------------------------------------

    def irc_PRIVMSG(self, prefix: str, params: list[str]) -> None:
        self._message(params, "PRIVMSG")

    def irc_NOTICE(self, prefix: str, params: list[str]) -> None:
        self._message(params, "NOTICE")

    def irc_TAGMSG(self, prefix: str, params: list[str]) -> None:
        if params and "message-tags" in self.caps:
            self._message([params[0], ""], "TAGMSG")

    def _clientTags(self) -> dict[str, str] | None:
        message = self.currentMessage
        if message is None or not message.tags or "message-tags" not in self.caps:
            return None
        tags = {k: v for k, v in message.tags.items() if k.startswith("+")}
        return tags or None

    def _message(self, params: list[str], command: str) -> None:
        quiet = command != "PRIVMSG"
        if not params or not params[0]:
            if not quiet:
                self.reply(irc.ERR_NORECIPIENT, f":No recipient given ({command})")
            return
        if command != "TAGMSG" and (len(params) < 2 or not params[1]):
            if not quiet:
                self.reply(irc.ERR_NOTEXTTOSEND, ":No text to send")
            return
        targets = params[0].split(",")
        if len(targets) > self.factory.maxTargets:
            if not quiet:
                self.reply(irc.ERR_TOOMANYTARGETS, params[0][:64], ":Too many recipients")
            return
        text = params[1]
        for target in targets:
            room = 510 - len(f":{self.hostmask} {command} {target} :".encode())
            encoded = text.encode()
            body = encoded[:room].decode("utf-8", "ignore") if len(encoded) > room else text
            message: dict[str, Any] = {"text": body, "time": time.time()}
            if command == "NOTICE":
                message["notice"] = True
            elif command == "TAGMSG":
                message["tagOnly"] = True
            tags = self._clientTags()
            if tags:
                message["tags"] = tags
            if target.startswith("#"):
                self._withGroup(target, self._toGroup, target, message, quiet)
            else:
                d = self.realm.lookupUser(target)
                d.addCallback(self._toUser, message, quiet)
                if not quiet:
                    d.addErrback(self._failed)
                else:
                    d.addErrback(lambda _: None)

    def _toGroup(self, group: Any, channel: str, message: dict[str, Any], quiet: bool) -> None:
        try:
            group.checkSpeak(self)
        except ewords.PermissionDenied:
            if not quiet:
                self.reply(irc.ERR_CANNOTSENDTOCHAN, channel, ":Cannot send to channel")
            return
        self.avatar.send(group, message)

    def _toUser(self, user: Any, message: dict[str, Any], quiet: bool) -> None:
        if user.mind is None:
            raise ewords.NoSuchUser(user.name)
        self.avatar.send(user.mind, message)
        if user.away and not quiet:
            self.reply(irc.RPL_AWAY, user.name, ":" + user.away)

    # -- about users ----------------------------------------------------------------

    def irc_AWAY(self, prefix: str, params: list[str]) -> None:
        if not params or not params[0]:
            self.avatar.away = None
            self.reply(irc.RPL_UNAWAY, ":You are no longer marked as being away")
        else:
            self.avatar.away = params[0][: self.factory.awayLength]
            self.reply(irc.RPL_NOWAWAY, ":You have been marked as being away")

    def _whoLine(self, channel: str, user: Any, group: Any | None) -> tuple[Any, ...]:
        mind = user.mind
        flag = ("G" if user.away else "H") + (
            self._prefixes(group, mind) if group is not None else ""
        )
        return (
            getattr(mind, "username", None) or user.name,
            getattr(mind, "host", "*"),
            self.hostname,
            user.name,
            flag,
            0,
            getattr(mind, "realname", "") or user.name,
        )

    def irc_WHO(self, prefix: str, params: list[str]) -> None:
        mask = params[0] if params and params[0] else "*"

        def end() -> None:
            self.reply(irc.RPL_ENDOFWHO, mask[:64], ":End of /WHO list.")

        if mask.startswith("#"):

            def members(group: Any) -> None:
                lines = [
                    self._whoLine(mask, m.avatar, group)
                    for m in group.users.values()
                    if getattr(m, "avatar", None) is not None
                ]
                self.who(self.nickname, mask, lines)

            self._withGroup(mask, members, onMissing=end)
            return
        users = getattr(self.realm, "users", {})
        pattern = lowerName(mask)
        found = []
        for key, user in users.items():
            if key == pattern or fnmatch.fnmatchcase(key, pattern):
                if user.mind is not None:
                    found.append(self._whoLine("*", user, None))
                if len(found) >= _MAX_WHO:
                    break
        for line in found:
            self.reply(irc.RPL_WHOREPLY, "*", *map(str, line[:5]), f":{line[5]} {line[6]}")
        self.reply(irc.RPL_ENDOFWHO, mask[:64], ":End of /WHO list.")

    def irc_WHOIS(self, prefix: str, params: list[str]) -> None:
        if not params:
            self.reply(irc.ERR_NONICKNAMEGIVEN, ":No nickname given")
            return
        for nick in params[-1].split(",")[: self.factory.maxTargets]:
            self.realm.lookupUser(nick).addCallbacks(
                self._whois, self._noSuchNick, errbackArgs=(nick,)
            )

    def _noSuchNick(self, reason: Failure, nick: str) -> None:
        reason.trap(ewords.NoSuchUser)
        self.reply(irc.ERR_NOSUCHNICK, nick[:64] or "*", ":No such nick/channel")
        self.reply(irc.RPL_ENDOFWHOIS, nick[:64] or "*", ":End of /WHOIS list")

    def _whois(self, user: Any) -> None:
        mind, nick = user.mind, user.name
        if mind is None:
            raise ewords.NoSuchUser(nick)
        self.reply(
            irc.RPL_WHOISUSER,
            nick,
            getattr(mind, "username", None) or nick,
            getattr(mind, "host", "*"),
            "*",
            ":" + (getattr(mind, "realname", "") or nick),
        )
        channels = [self._prefixes(g, mind) + "#" + g.name for g in user.groups]
        if channels:
            self.reply(irc.RPL_WHOISCHANNELS, nick, ":" + " ".join(channels))
        self.reply(irc.RPL_WHOISSERVER, nick, self.hostname, ":" + self.factory.networkName)
        if user.away:
            self.reply(irc.RPL_AWAY, nick, ":" + user.away)
        if user.account:
            self.reply(irc.RPL_WHOISACCOUNT, nick, user.account, ":is logged in as")
        self.reply(
            irc.RPL_WHOISIDLE,
            nick,
            str(int(time.time() - user.lastMessage)),
            str(int(user.signOn)),
            ":seconds idle, signon time",
        )
        self.reply(irc.RPL_ENDOFWHOIS, nick, ":End of /WHOIS list")

    def irc_USERHOST(self, prefix: str, params: list[str]) -> None:
        users = getattr(self.realm, "users", {})
        replies = []
        for nick in params[:5]:
            user = users.get(lowerName(nick))
            if user is not None and user.mind is not None:
                mind = user.mind
                away = "-" if user.away else "+"
                replies.append(
                    f"{user.name}={away}{getattr(mind, 'username', user.name)}@"
                    f"{getattr(mind, 'host', '*')}"
                )
        self.reply(irc.RPL_USERHOST, ":" + " ".join(replies))

    def irc_ISON(self, prefix: str, params: list[str]) -> None:
        users = getattr(self.realm, "users", {})
        words = " ".join(params).split()[:100]
        online = [users[lowerName(n)].name for n in words if lowerName(n) in users]
        self.reply(irc.RPL_ISON, ":" + " ".join(online))

    # -- the server -----------------------------------------------------------------

    def irc_MOTD(self, prefix: str, params: list[str]) -> None:
        motd = self.factory.motd
        if not motd:
            self.reply(irc.ERR_NOMOTD, ":MOTD File is missing")
            return
        self.reply(irc.RPL_MOTDSTART, f":- {self.hostname} Message of the day - ")
        for line in motd.splitlines()[:_MAX_MOTD_LINES]:
            self.reply(irc.RPL_MOTD, ":- " + line[:400])
        self.reply(irc.RPL_ENDOFMOTD, ":End of /MOTD command.")

    def irc_LUSERS(self, prefix: str, params: list[str]) -> None:
        users = len(getattr(self.realm, "users", ())) or self.factory.connections
        groups = len(getattr(self.realm, "groups", ()))
        self.reply(irc.RPL_LUSERCLIENT, f":There are {users} users and 0 invisible on 1 servers")
        self.reply(irc.RPL_LUSERCHANNELS, str(groups), ":channels formed")
        self.reply(irc.RPL_LUSERME, f":I have {self.factory.connections} clients and 0 servers")

    def irc_VERSION(self, prefix: str, params: list[str]) -> None:
        from torsion.words._ircregistration import VERSION

        self.reply(irc.RPL_VERSION, VERSION, self.hostname or "*", ":torsion.words")

    def irc_OPER(self, prefix: str, params: list[str]) -> None:
        self.reply(irc.ERR_NOOPERHOST, ":No O-lines for your host")

    def irc_PING(self, prefix: str, params: list[str]) -> None:
        if not params:
            self.reply(irc.ERR_NOORIGIN, ":No origin specified")
        else:
            self.sendMessage("PONG", self.hostname, params[0][:100] or ":", prefix=self.hostname)

    def irc_PONG(self, prefix: str, params: list[str]) -> None:
        """The answer to our PING: hearing anything resets the keepalive, so nothing to do."""

    def irc_QUIT(self, prefix: str, params: list[str]) -> None:
        self.close(f"Quit: {params[0][:200]}" if params and params[0] else "Client Quit")
