"""A chat service: a realm of users and groups, and the IRC server in front of it.

The realm (``InMemoryWordsRealm``) holds the users who are logged in and the groups
(IRC channels); a ``Group`` knows its members, its topic and its modes (+o +v +t +n
+k +l +i +m) and enforces them, so any protocol in front of it applies the same rules.
``IRCFactory(realm, portal)`` serves the realm to IRC clients (``IRCUser``, in
torsion/words/_ircserver.py, one per connection). Logins go through Cred: an
``IRCUser`` logs in with the nick and PASS, or with SASL PLAIN, or anonymously when
the portal allows it (``AllowAnonymousAccess``).

Twisted's names (Group, User, WordsRealm, InMemoryWordsRealm, IRCUser, IRCFactory)
and the Twisted behaviour of each public method (Deferreds where Twisted returns
them), with what Twisted lacks: kicks, modes, invitations, nick changes, quits
told once, limits (users, groups, groups per user, members), groups made on request
that go away with their last member, and users forgotten when they log out.
Names compare in ASCII case (``CASEMAPPING=ascii``). Twisted's PB front end (PBMind,
PBGroup, ChatAvatar) is not here.

Tests: tests/words/test_service.py (realm, groups, users, sans-IO) and
tests/words/test_service_irc.py (the IRC server).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from zope.interface import implementer

from torsion.cred import checkers, portal
from torsion.internet import defer, protocol
from torsion.internet.defer import Deferred
from torsion.logger import Logger
from torsion.python.failure import Failure
from torsion.words import ewords, iwords
from torsion.words._ircserver import DEFAULTS, VERSION, IRCUser
from torsion.words._names import lowerName

__all__ = [
    "DEFAULT_MAX_GROUPS",
    "DEFAULT_MAX_GROUPS_PER_USER",
    "DEFAULT_MAX_USERS",
    "Group",
    "IRCFactory",
    "IRCUser",
    "InMemoryWordsRealm",
    "User",
    "WordsRealm",
    "lowerName",
]

DEFAULT_MAX_USERS = 10_000
DEFAULT_MAX_GROUPS = 10_000
DEFAULT_MAX_GROUPS_PER_USER = 50

_log = Logger(namespace="torsion.words.service")


def _call(member: Any, method: str, fallback: str | None, *args: Any) -> bool:
    """Tell ``member`` an event; False when it raised (the caller then drops it).

    A member that is not an IRichChatClient hears ``fallback`` instead (with the same
    arguments), or nothing when that is None.
    """
    if not iwords.IRichChatClient.providedBy(member):
        if fallback is None:
            return True
        method = fallback
    return _invoke(member, method, *args)


def _invoke(member: Any, method: str, *args: Any) -> bool:
    try:
        result = getattr(member, method)(*args)
    except Exception:
        _log.failure(
            "{member!r}.{method} raised; it leaves its groups", member=member, method=method
        )
        return False
    if isinstance(result, Deferred):
        result.addErrback(_memberFailed, member, method)
    return True


def _memberFailed(reason: Failure, member: Any, method: str) -> None:
    _log.failure("{member!r}.{method} failed", reason, member=member, method=method)


@implementer(iwords.IGroup)
class Group:
    """A channel: its members (chat clients), its topic (``meta``) and its modes.

    ``modes`` holds the flag modes ("n", "t", "i", "m"; a new group has +nt), ``key``
    and ``limit`` the +k and +l values, ``ops`` and ``voiced`` the members with +o
    and +v. The first member of an empty group becomes an operator. The permission
    checks (``checkJoin``, ``checkSpeak``, ``checkTopic``, ``checkOperator``) raise
    ewords errors; ``add``/``remove`` themselves are Twisted's, unconditional.
    ``persistent`` groups (made at start-up) stay when their last member leaves; the
    others leave their realm then.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.users: dict[str, Any] = {}
        self.meta: dict[str, Any] = {"topic": "", "topic_author": "", "topic_date": 0.0}
        self.modes: set[str] = {"n", "t"}
        self.key: str | None = None
        self.limit: int | None = None
        self.ops: set[Any] = set()
        self.voiced: set[Any] = set()
        self.invited: set[str] = set()
        self.created = time.time()
        self.persistent = False
        self.realm: Any = None

    def __repr__(self) -> str:
        return f"<Group {self.name!r} with {len(self.users)} members>"

    def _others(self, user: Any) -> list[Any]:
        return [member for member in self.users.values() if member is not user]

    def _tell(self, members: Iterable[Any], method: str, fallback: str | None, *args: Any) -> None:
        failed = [m for m in members if not _call(m, method, fallback, *args)]
        for member in failed:
            self._drop(member)

    def _drop(self, member: Any) -> None:
        """Take a member whose calls raise out of this group (telling the others)."""
        if self.users.get(lowerName(member.name)) is member:
            self.remove(member, "error")

    # IGroup
    def add(self, user: Any) -> Deferred[None]:
        key = lowerName(user.name)
        if key not in self.users:
            if not self.users:
                self.ops.add(user)
            self.users[key] = user
            self.invited.discard(key)
            self._tell(self._others(user), "userJoined", "userJoined", self, user)
        return defer.succeed(None)

    def remove(self, user: Any, reason: str | None = None) -> Deferred[None]:
        if self._forget(user):
            self._tell(list(self.users.values()), "userLeft", "userLeft", self, user, reason)
            self._maybeVanish()
        return defer.succeed(None)

    def _forget(self, user: Any) -> bool:
        """Take ``user`` out without telling anyone; whether it was a member."""
        key = lowerName(user.name)
        if self.users.get(key) is not user:
            return False
        del self.users[key]
        self.ops.discard(user)
        self.voiced.discard(user)
        return True

    def _maybeVanish(self) -> None:
        if not self.users and not self.persistent and self.realm is not None:
            self.realm.removeGroup(self)

    def size(self) -> Deferred[int]:
        return defer.succeed(len(self.users))

    def receive(self, sender: Any, recipient: Any, message: dict[str, Any]) -> Deferred[None]:
        failed = []
        # A copy: a member may leave while hearing it (a slow one is disconnected).
        for member in list(self.users.values()):
            if member is not sender:
                try:
                    result = member.receive(sender, self, message)
                    if result is not None and isinstance(result, Deferred):
                        result.addErrback(_memberFailed, member, "receive")
                except Exception:
                    _log.failure(
                        "{member!r}.receive raised; it leaves {group}",
                        member=member,
                        group=self.name,
                    )
                    failed.append(member)
        for member in failed:
            self._drop(member)
        return defer.succeed(None)

    def setMetadata(self, meta: dict[str, Any]) -> Deferred[None]:
        self.meta = meta
        self._tell(list(self.users.values()), "groupMetaUpdate", "groupMetaUpdate", self, meta)
        return defer.succeed(None)

    def iterusers(self) -> Iterator[Any]:
        return iter(list(self.users.values()))

    # Beyond Twisted: the rules of an IRC channel.
    def isMember(self, user: Any) -> bool:
        return self.users.get(lowerName(user.name)) is user

    def checkJoin(self, user: Any, key: str | None = None) -> None:
        """Raise what keeps ``user`` out: InviteOnly, BadGroupKey or GroupFull."""
        invited = lowerName(user.name) in self.invited
        if "i" in self.modes and not invited:
            raise ewords.InviteOnly(self.name)
        if self.key is not None and key != self.key and not invited:
            raise ewords.BadGroupKey(self.name)
        if self.limit is not None and len(self.users) >= self.limit:
            raise ewords.GroupFull(self.name)

    def checkSpeak(self, user: Any) -> None:
        """Raise PermissionDenied when ``user`` may not send here (+n outside, +m unvoiced)."""
        member = self.isMember(user)
        if "n" in self.modes and not member:
            raise ewords.PermissionDenied(f"{self.name} takes messages from its members only")
        if "m" in self.modes and user not in self.ops and user not in self.voiced:
            raise ewords.PermissionDenied(f"{self.name} is moderated")

    def checkOperator(self, user: Any) -> None:
        """Raise NotInGroup or PermissionDenied unless ``user`` is an operator here."""
        if not self.isMember(user):
            raise ewords.NotInGroup(self.name)
        if user not in self.ops:
            raise ewords.PermissionDenied(f"you are not an operator of {self.name}")

    def checkTopic(self, user: Any) -> None:
        """Raise unless ``user`` may set the topic (a member; an operator when +t)."""
        if not self.isMember(user):
            raise ewords.NotInGroup(self.name)
        if "t" in self.modes and user not in self.ops:
            raise ewords.PermissionDenied(f"only operators of {self.name} set its topic")

    def setTopic(self, user: Any, topic: str) -> Deferred[None]:
        """Set the topic as ``user`` (checked) and tell every member."""
        self.checkTopic(user)
        return self.setMetadata(
            {**self.meta, "topic": topic, "topic_author": user.name, "topic_date": time.time()}
        )

    def kick(self, by: Any, user: Any, reason: str) -> None:
        """Put ``user`` out as ``by`` (who must be an operator); everyone hears it, ``user`` too."""
        self.checkOperator(by)
        if not self.isMember(user):
            raise ewords.NotInGroup(f"{user.name} is not in {self.name}")
        members = list(self.users.values())
        self._forget(user)
        avatar = getattr(user, "avatar", None)
        if avatar is not None and self in avatar.groups:
            avatar.groups.remove(self)
        failed = [
            m
            for m in members
            if not (
                _invoke(m, "userKicked", self, user, by, reason)
                if iwords.IRichChatClient.providedBy(m)
                else _invoke(m, "userLeft", self, user, reason)
            )
        ]
        for member in failed:
            self._drop(member)
        self._maybeVanish()

    def invite(self, by: Any, user: Any) -> None:
        """Invite ``user`` as ``by`` (an operator when +i; a member in any case)."""
        if not self.isMember(by):
            raise ewords.NotInGroup(self.name)
        if "i" in self.modes and by not in self.ops:
            raise ewords.PermissionDenied(f"only operators of {self.name} invite")
        if self.isMember(user):
            raise ewords.DuplicateUser(f"{user.name} is in {self.name} already")
        if len(self.invited) >= 100:
            self.invited.pop()
        self.invited.add(lowerName(user.name))
        _call(user, "invitedTo", None, self, by)

    def changeModes(self, by: Any, changes: list[tuple[bool, str, str | None]]) -> None:
        """Apply ``changes`` (adding?, mode, argument) as the operator ``by``; tell everyone.

        Arguments of +o/+v are member names; +k a key; +l a positive count. A change
        that does nothing (+o on an operator) is left out of what the members hear.
        An +o/+v of a non-member is skipped and, after the others are applied and
        told, raised as NoSuchUser (as IRC servers answer 441 and go on). Raises
        NotInGroup/PermissionDenied, changing nothing, unless ``by`` is an operator.
        """
        self.checkOperator(by)
        applied: list[tuple[bool, str, str | None]] = []
        missing: str | None = None
        for adding, mode, argument in changes:
            if mode in "ov":
                target = self.users.get(lowerName(argument or ""))
                if target is None:
                    missing = missing or argument or "*"
                    continue
                argument = target.name
            if self._apply(adding, mode, argument):
                applied.append((adding, mode, argument if adding or mode in "ov" else None))
        if applied:
            text, arguments, sign = "", [], None
            for adding, mode, argument in applied:
                if adding is not sign:
                    text += "+" if adding else "-"
                    sign = adding
                text += mode
                if argument is not None:
                    arguments.append(argument)
            members = list(self.users.values())
            self._tell(members, "groupModeChanged", None, self, by, text, arguments)
        if missing is not None:
            raise ewords.NoSuchUser(missing)

    def _apply(self, adding: bool, mode: str, argument: str | None) -> bool:
        if mode in "ov":
            target = self.users[lowerName(argument or "")]
            chosen = self.ops if mode == "o" else self.voiced
            if (target in chosen) == adding:
                return False
            (chosen.add if adding else chosen.discard)(target)
            return True
        if mode == "k":
            if adding:
                if not argument or self.key == argument:
                    return False
                self.key = argument
                return True
            was, self.key = self.key, None
            return was is not None
        if mode == "l":
            if adding:
                limit = int(argument or "0")
                if limit <= 0 or limit == self.limit:
                    return False
                self.limit = limit
                return True
            oldLimit, self.limit = self.limit, None
            return oldLimit is not None
        if (mode in self.modes) == adding:
            return False
        (self.modes.add if adding else self.modes.discard)(mode)
        return True

    def modeString(self, showKey: bool) -> tuple[str, list[str]]:
        """The modes as IRC's 324 shows them: ``("+ntkl", [key, "10"])``, the key maybe hidden."""
        text, arguments = "+" + "".join(sorted(self.modes)), list[str]()
        if self.key is not None:
            text += "k"
            arguments.append(self.key if showKey else "*")
        if self.limit is not None:
            text += "l"
            arguments.append(str(self.limit))
        return text, arguments

    def _renamed(self, user: Any, oldKey: str) -> None:
        newKey = lowerName(user.name)
        if self.users.get(oldKey) is user:
            del self.users[oldKey]
            self.users[newKey] = user


@implementer(iwords.IUser)
class User:
    """A logged-in user: its name (the IRC nick), its groups, and the mind it speaks through.

    ``account`` is the name the user authenticated as (None for an anonymous login),
    ``away`` its away message (None when present).
    """

    realm: Any = None
    mind: Any = None

    def __init__(self, name: str) -> None:
        self.name = name
        self.groups: list[Group] = []
        self.lastMessage = time.time()
        self.signOn = self.lastMessage
        self.account: str | None = None
        self.away: str | None = None

    def __repr__(self) -> str:
        return f"<User {self.name!r}>"

    def loggedIn(self, realm: Any, mind: Any) -> None:
        self.realm = realm
        self.mind = mind
        self.signOn = time.time()

    def join(self, group: Any) -> Deferred[None]:
        """Join ``group``; fails with LimitReached past the realm's groups-per-user limit."""
        if group in self.groups:
            return defer.succeed(None)
        limit = getattr(self.realm, "maxGroupsPerUser", None)
        if limit is not None and len(self.groups) >= limit:
            return defer.fail(ewords.LimitReached(f"you are in {limit} groups, the most allowed"))
        self.groups.append(group)
        added: Deferred[None] = group.add(self.mind)
        return added

    def leave(self, group: Any, reason: str | None = None) -> Deferred[None]:
        if group in self.groups:
            self.groups.remove(group)
        removed: Deferred[None] = group.remove(self.mind, reason)
        return removed

    def send(self, recipient: Any, message: dict[str, Any]) -> Any:
        self.lastMessage = time.time()
        return recipient.receive(self.mind, recipient, message)

    def itergroups(self) -> Iterator[Any]:
        return iter(list(self.groups))

    def peers(self) -> list[Any]:
        """The chat clients sharing a group with this user, each once, this user's own left out."""
        seen: dict[int, Any] = {}
        for group in self.groups:
            for member in group.users.values():
                if member is not self.mind:
                    seen[id(member)] = member
        return list(seen.values())

    def quit(self, reason: str) -> None:
        """Leave every group, telling each peer once (``userQuit``; ``userLeft`` per group else)."""
        groups, self.groups = self.groups, []
        rich: dict[int, Any] = {}
        for group in groups:
            if not group._forget(self.mind):
                continue
            for member in list(group.users.values()):
                if iwords.IRichChatClient.providedBy(member):
                    rich[id(member)] = member
                elif not _call(member, "userLeft", "userLeft", group, self.mind, reason):
                    group._drop(member)
        for member in rich.values():
            _call(member, "userQuit", None, self.mind, reason)
        for group in groups:
            group._maybeVanish()

    def logout(self) -> None:
        """Leave every group (Twisted's logout); quitting IRC clients use ``quit`` first."""
        for group in list(self.groups):
            self.leave(group)


@implementer(portal.IRealm, iwords.IChatService)
class WordsRealm:
    """The rules of a chat realm over abstract storage (Twisted's); see InMemoryWordsRealm.

    ``requestAvatar`` gives each login its ``User``: for an authenticated login the
    user named as the account, for an anonymous one (``checkers.ANONYMOUS``) the user
    named as ``mind.name`` (the nick the client asked for). A user logged in already
    fails the login with AlreadyLoggedIn.
    """

    _encoding = "utf-8"
    createGroupOnRequest = False
    createUserOnRequest = True

    def __init__(self, name: str) -> None:
        self.name = name

    def userFactory(self, name: str) -> User:
        return User(name)

    def groupFactory(self, name: str) -> Group:
        return Group(name)

    def logoutFactory(self, avatar: Any, facet: Any) -> Callable[[], None]:
        def logout() -> None:
            getattr(facet, "logout", lambda: None)()
            avatar.realm = avatar.mind = None
            self.forgetUser(avatar)

        return logout

    def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Deferred[Any]:
        account: str | None
        if avatarId is checkers.ANONYMOUS or avatarId == checkers.ANONYMOUS:
            account, name = None, getattr(mind, "name", None)
            if not name:
                return defer.fail(ewords.NoSuchUser("an anonymous login needs a name (mind.name)"))
        else:
            account = avatarId.decode(self._encoding) if isinstance(avatarId, bytes) else avatarId
            name = account

        def gotAvatar(avatar: Any) -> Any:
            if avatar.realm is not None:
                raise ewords.AlreadyLoggedIn(avatar.name)
            for iface in interfaces:
                facet = iface(avatar, None)
                if facet is not None:
                    avatar.loggedIn(self, mind)
                    avatar.account = account
                    mind.name = avatar.name
                    mind.realm = self
                    mind.avatar = avatar
                    return iface, facet, self.logoutFactory(avatar, facet)
            raise NotImplementedError(f"{self!r} offers IUser avatars, not {interfaces!r}")

        return self.getUser(str(name)).addCallback(gotAvatar)

    def forgetUser(self, user: Any) -> None:
        """A user logged out: storage that keeps only online users drops it (no-op here)."""

    def removeGroup(self, group: Any) -> None:
        """An on-request group lost its last member: storage may drop it (no-op here)."""

    def itergroups(self) -> Deferred[Iterable[Any]]:
        raise NotImplementedError

    def lookupUser(self, name: str) -> Deferred[Any]:
        raise NotImplementedError

    def lookupGroup(self, name: str) -> Deferred[Any]:
        raise NotImplementedError

    def addUser(self, user: Any) -> Deferred[Any]:
        """Store ``user``; fails with DuplicateUser if the name is taken."""
        raise NotImplementedError

    def addGroup(self, group: Any) -> Deferred[Any]:
        """Store ``group``; fails with DuplicateGroup if the name is taken."""
        raise NotImplementedError

    def getGroup(self, name: str) -> Deferred[Any]:
        if self.createGroupOnRequest:
            return self.createGroup(name).addErrback(
                self._existing, ewords.DuplicateGroup, self.lookupGroup, name
            )
        return self.lookupGroup(name)

    def getUser(self, name: str) -> Deferred[Any]:
        if self.createUserOnRequest:
            return self.createUser(name).addErrback(
                self._existing, ewords.DuplicateUser, self.lookupUser, name
            )
        return self.lookupUser(name)

    @staticmethod
    def _existing(
        reason: Failure, error: type[Exception], lookup: Callable[[str], Any], name: str
    ) -> Any:
        reason.trap(error)
        return lookup(name)

    def createUser(self, name: str) -> Deferred[Any]:
        def found(user: Any) -> Any:
            return Failure(ewords.DuplicateUser(name))

        def missing(reason: Failure) -> Any:
            reason.trap(ewords.NoSuchUser)
            return self.addUser(self.userFactory(name))

        return self.lookupUser(name).addCallbacks(found, missing)

    def createGroup(self, name: str) -> Deferred[Any]:
        def found(group: Any) -> Any:
            return Failure(ewords.DuplicateGroup(name))

        def missing(reason: Failure) -> Any:
            reason.trap(ewords.NoSuchGroup)
            return self.addGroup(self.groupFactory(name))

        return self.lookupGroup(name).addCallbacks(found, missing)


class InMemoryWordsRealm(WordsRealm):
    """A realm kept in memory: ``users`` (those logged in) and ``groups``, by lowered name.

    Limits: ``maxUsers`` users at once, ``maxGroups`` groups, ``maxGroupsPerUser``
    groups joined by one user (LimitReached past each). A user leaves ``users`` when
    it logs out; a group made on request leaves ``groups`` with its last member,
    while groups made with ``createGroup`` before anyone joins (the server's
    ``--group``) are ``persistent`` and stay.
    """

    def __init__(
        self,
        name: str,
        maxUsers: int = DEFAULT_MAX_USERS,
        maxGroups: int = DEFAULT_MAX_GROUPS,
        maxGroupsPerUser: int = DEFAULT_MAX_GROUPS_PER_USER,
    ) -> None:
        super().__init__(name)
        self.users: dict[str, Any] = {}
        self.groups: dict[str, Any] = {}
        self.maxUsers = maxUsers
        self.maxGroups = maxGroups
        self.maxGroupsPerUser = maxGroupsPerUser
        self._requesting = False

    def itergroups(self) -> Deferred[Iterable[Any]]:
        return defer.succeed(list(self.groups.values()))

    def addUser(self, user: Any) -> Deferred[Any]:
        key = lowerName(user.name)
        if key in self.users:
            return defer.fail(ewords.DuplicateUser(user.name))
        if len(self.users) >= self.maxUsers:
            return defer.fail(
                ewords.LimitReached(f"{self.maxUsers} users are logged in, the most allowed")
            )
        self.users[key] = user
        return defer.succeed(user)

    def addGroup(self, group: Any) -> Deferred[Any]:
        key = lowerName(group.name)
        if key in self.groups:
            return defer.fail(ewords.DuplicateGroup(group.name))
        if len(self.groups) >= self.maxGroups:
            return defer.fail(
                ewords.LimitReached(f"there are {self.maxGroups} groups, the most allowed")
            )
        self.groups[key] = group
        group.realm = self
        group.persistent = not self._requesting
        return defer.succeed(group)

    def getGroup(self, name: str) -> Deferred[Any]:
        self._requesting = True
        try:
            return super().getGroup(name)
        finally:
            self._requesting = False

    def lookupUser(self, name: str) -> Deferred[Any]:
        user = self.users.get(lowerName(name))
        return defer.succeed(user) if user is not None else defer.fail(ewords.NoSuchUser(name))

    def lookupGroup(self, name: str) -> Deferred[Any]:
        group = self.groups.get(lowerName(name))
        return defer.succeed(group) if group is not None else defer.fail(ewords.NoSuchGroup(name))

    def forgetUser(self, user: Any) -> None:
        key = lowerName(user.name)
        if self.users.get(key) is user:
            del self.users[key]

    def removeGroup(self, group: Any) -> None:
        key = lowerName(group.name)
        if self.groups.get(key) is group:
            del self.groups[key]

    def renameUser(self, user: Any, newName: str) -> None:
        """Rename the logged-in ``user`` (an IRC nick change) in the realm and its groups.

        Raises DuplicateUser when another user has ``newName``.
        """
        oldKey, newKey = lowerName(user.name), lowerName(newName)
        other = self.users.get(newKey)
        if other is not None and other is not user:
            raise ewords.DuplicateUser(newName)
        if self.users.get(oldKey) is user:
            del self.users[oldKey]
        user.name = newName
        if user.mind is not None:
            user.mind.name = newName
        self.users[newKey] = user
        for group in user.groups:
            group._renamed(user.mind, oldKey)
            group.invited.discard(newKey)


class IRCFactory(protocol.ServerFactory):
    """Serves ``realm`` over IRC, logging users in through ``portal``.

    ``motd`` is the text of the message of the day (None: the server has none). The
    limits and timings of every connection are attributes, set from
    ``_ircserver.DEFAULTS``; change them on the factory before it serves (IRCUser's
    module docstring says what each does). ``reactor`` gives the timers (tests pass a
    task.Clock); None is the global reactor.
    """

    protocol = IRCUser

    def __init__(
        self, realm: Any, portal: Any, motd: str | None = None, reactor: Any = None
    ) -> None:
        self.realm = realm
        self.portal = portal
        self.motd = motd
        self.reactor = reactor
        self.connections = 0
        self.connectionsByHost: dict[str, int] = {}
        self.created = time.time()
        self._serverInfo = {
            "serviceName": realm.name,
            "serviceVersion": VERSION,
            "creationDate": time.ctime(self.created),
        }
        for name, value in DEFAULTS.items():
            setattr(self, name, value)

    def __getstate__(self) -> dict[str, Any]:
        # The write batcher of a running server holds its reactor; a saved one starts anew.
        state = dict(self.__dict__)
        state.pop("_flusher", None)
        return state
