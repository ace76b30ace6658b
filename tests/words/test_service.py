"""The chat service without a protocol: realm, groups and users (torsion.words.service).

Chat clients here are small recorders of the events a group tells them, so each rule
of the realm and of a group (joins, modes, kicks, quits told once, renames, limits,
groups made on request going away with their last member) is checked on its own.
"""

from __future__ import annotations

from typing import Any

import pytest
from zope.interface import implementer

from tests.internet.reactormixins import loggedErrors
from torsion.cred import checkers, credentials, portal
from torsion.cred.error import UnauthorizedLogin
from torsion.internet import defer
from torsion.python.failure import Failure
from torsion.words import ewords, iwords, service

__all__ = ["loggedErrors"]


def fired(d: defer.Deferred[Any]) -> Any:
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, f"{d!r} has not fired"
    if isinstance(results[0], Failure):
        results[0].raiseException()
    return results[0]


def failure(d: defer.Deferred[Any]) -> Failure:
    results: list[Any] = []
    d.addBoth(results.append)
    assert results and isinstance(results[0], Failure), results
    return results[0]


@implementer(iwords.IChatClient)
class PlainClient:
    """A chat client with only Twisted's events."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.events: list[tuple[Any, ...]] = []

    def receive(self, sender: Any, recipient: Any, message: dict[str, Any]) -> None:
        self.events.append(("receive", sender.name, recipient.name, message["text"]))

    def groupMetaUpdate(self, group: Any, meta: dict[str, Any]) -> None:
        self.events.append(("meta", group.name, meta["topic"]))

    def userJoined(self, group: Any, user: Any) -> None:
        self.events.append(("joined", group.name, user.name))

    def userLeft(self, group: Any, user: Any, reason: str | None = None) -> None:
        self.events.append(("left", group.name, user.name, reason))


@implementer(iwords.IRichChatClient)
class RichClient(PlainClient):
    """A chat client that also hears kicks, quits, renames, modes and invitations."""

    def userKicked(self, group: Any, user: Any, by: Any, reason: str) -> None:
        self.events.append(("kicked", group.name, user.name, by.name, reason))

    def userQuit(self, user: Any, reason: str) -> None:
        self.events.append(("quit", user.name, reason))

    def userRenamed(self, user: Any, oldName: str) -> None:
        self.events.append(("renamed", oldName, user.name))

    def groupModeChanged(self, group: Any, by: Any, modes: str, arguments: list[str]) -> None:
        self.events.append(("mode", group.name, by.name, modes, arguments))

    def invitedTo(self, group: Any, by: Any) -> None:
        self.events.append(("invited", group.name, by.name))


def loggedIn(realm: service.WordsRealm, client: PlainClient) -> service.User:
    p = portal.Portal(realm, [checkers.AllowAnonymousAccess()])
    _iface, avatar, _logout = fired(p.login(credentials.Anonymous(), client, iwords.IUser))
    assert isinstance(avatar, service.User)
    return avatar


@pytest.fixture
def realm() -> service.InMemoryWordsRealm:
    made = service.InMemoryWordsRealm("chat.test")
    made.createGroupOnRequest = True
    return made


def test_anonymousLoginTakesTheMindsName(realm: service.InMemoryWordsRealm) -> None:
    alice = PlainClient("Alice")
    user = loggedIn(realm, alice)
    assert user.name == "Alice" and user.account is None
    assert user.mind is alice and alice.avatar is user and alice.realm is realm  # type: ignore[attr-defined]
    assert fired(realm.lookupUser("ALICE")) is user


def test_secondLoginOfALoggedInUserFails(realm: service.InMemoryWordsRealm) -> None:
    loggedIn(realm, PlainClient("alice"))
    p = portal.Portal(realm, [checkers.AllowAnonymousAccess()])
    reason = failure(p.login(credentials.Anonymous(), PlainClient("ALICE"), iwords.IUser))
    assert reason.check(ewords.AlreadyLoggedIn)


def test_authenticatedLoginIsNamedAsTheAccount(realm: service.InMemoryWordsRealm) -> None:
    checker = checkers.InMemoryUsernamePasswordDatabaseDontUse(alice=b"secret")
    p = portal.Portal(realm, [checker])
    mind = PlainClient("whatever")
    _i, user, logout = fired(
        p.login(credentials.UsernamePassword(b"alice", b"secret"), mind, iwords.IUser)
    )
    assert user.name == "alice" and user.account == "alice" and mind.name == "alice"
    bad = failure(p.login(credentials.UsernamePassword(b"alice", b"nope"), mind, iwords.IUser))
    assert bad.check(UnauthorizedLogin)
    logout()
    assert realm.users == {} and user.realm is None and user.mind is None


def test_anonymousLoginWithoutANameFails(realm: service.InMemoryWordsRealm) -> None:
    p = portal.Portal(realm, [checkers.AllowAnonymousAccess()])
    assert failure(p.login(credentials.Anonymous(), object(), iwords.IUser)).check(
        ewords.NoSuchUser
    )


def test_realmRefusesOtherInterfaces(realm: service.InMemoryWordsRealm) -> None:
    reason = failure(realm.requestAvatar("alice", PlainClient("alice"), iwords.IGroup))
    assert reason.check(NotImplementedError)


def test_groupsAreMadeOnRequestOnlyWhenAsked() -> None:
    realm = service.InMemoryWordsRealm("chat.test")
    assert failure(realm.getGroup("nowhere")).check(ewords.NoSuchGroup)
    made = fired(realm.createGroup("Lobby"))
    assert made.name == "Lobby" and made.persistent
    assert fired(realm.getGroup("lobby")) is made
    assert failure(realm.createGroup("LOBBY")).check(ewords.DuplicateGroup)
    realm.createGroupOnRequest = True
    onDemand = fired(realm.getGroup("dev"))
    assert not onDemand.persistent and fired(realm.getGroup("DEV")) is onDemand


def test_duplicateUserIsRefused(realm: service.InMemoryWordsRealm) -> None:
    fired(realm.addUser(service.User("bob")))
    assert failure(realm.addUser(service.User("BOB"))).check(ewords.DuplicateUser)
    assert failure(realm.createUser("Bob")).check(ewords.DuplicateUser)
    assert failure(realm.lookupUser("carol")).check(ewords.NoSuchUser)


def test_limitsOfTheRealm() -> None:
    realm = service.InMemoryWordsRealm("chat.test", maxUsers=1, maxGroups=1, maxGroupsPerUser=1)
    realm.createGroupOnRequest = True
    user = loggedIn(realm, PlainClient("a"))
    p = portal.Portal(realm, [checkers.AllowAnonymousAccess()])
    full = failure(p.login(credentials.Anonymous(), PlainClient("b"), iwords.IUser))
    assert full.check(ewords.LimitReached) and "1 users" in str(full.value)
    one = fired(realm.getGroup("one"))
    assert failure(realm.getGroup("two")).check(ewords.LimitReached)
    fired(user.join(one))
    realm.maxGroups = 5
    two = fired(realm.getGroup("two"))
    assert failure(user.join(two)).check(ewords.LimitReached)


def test_joinTellsTheOthersAndTheFirstMemberIsOperator(realm: service.InMemoryWordsRealm) -> None:
    a, b = RichClient("a"), PlainClient("b")
    ua, ub = loggedIn(realm, a), loggedIn(realm, b)
    group = fired(realm.getGroup("room"))
    fired(ua.join(group))
    fired(ub.join(group))
    assert a.events == [("joined", "room", "b")] and b.events == []
    assert group.ops == {a} and fired(group.size()) == 2
    assert list(ub.itergroups()) == [group] and set(group.iterusers()) == {a, b}


def test_messagesReachEveryMemberButTheSender(realm: service.InMemoryWordsRealm) -> None:
    clients = [PlainClient(n) for n in "abc"]
    users = [loggedIn(realm, c) for c in clients]
    group = fired(realm.getGroup("room"))
    for user in users:
        fired(user.join(group))
    for c in clients:
        c.events.clear()
    fired(users[0].send(group, {"text": "hi"}))
    assert clients[0].events == []
    assert clients[1].events == clients[2].events == [("receive", "a", "room", "hi")]
    users[1].send(clients[2], {"text": "psst"})
    assert clients[2].events[-1] == ("receive", "b", "c", "psst")


@implementer(iwords.IChatClient)
class BrokenClient(PlainClient):
    def receive(self, sender: Any, recipient: Any, message: dict[str, Any]) -> None:
        raise RuntimeError("this client is broken")


def test_aMemberWhoseReceiveRaisesIsDroppedAndTheOthersStillHear(
    realm: service.InMemoryWordsRealm, loggedErrors: list[dict[str, Any]]
) -> None:
    good, broken = RichClient("good"), BrokenClient("broken")
    ug, ub = loggedIn(realm, good), loggedIn(realm, broken)
    sender = loggedIn(realm, RichClient("sender"))
    group = fired(realm.getGroup("room"))
    for user in (ub, ug, sender):
        fired(user.join(group))
    good.events.clear()
    sender.send(group, {"text": "hello"})
    assert ("receive", "sender", "room", "hello") in good.events
    assert ("left", "room", "broken", "error") in good.events
    assert not group.isMember(broken)
    assert len(loggedErrors) == 1


def test_leavingTheLastMemberRemovesAnOnRequestGroupButNotAPersistentOne(
    realm: service.InMemoryWordsRealm,
) -> None:
    user = loggedIn(realm, RichClient("a"))
    kept = fired(realm.createGroup("kept"))
    temporary = fired(realm.getGroup("temporary"))
    fired(user.join(kept))
    fired(user.join(temporary))
    fired(user.leave(kept, "bye"))
    fired(user.leave(temporary))
    assert set(realm.groups) == {"kept"}


def test_quitIsToldOncePerPeerAndPlainClientsHearLeftPerGroup(
    realm: service.InMemoryWordsRealm,
) -> None:
    quitter, rich, plain = RichClient("q"), RichClient("r"), PlainClient("p")
    users = [loggedIn(realm, c) for c in (quitter, rich, plain)]
    one, two = fired(realm.getGroup("one")), fired(realm.getGroup("two"))
    for user in users:
        fired(user.join(one))
        fired(user.join(two))
    rich.events.clear()
    plain.events.clear()
    users[0].quit("gone")
    assert rich.events == [("quit", "q", "gone")]
    assert sorted(plain.events) == [("left", "one", "q", "gone"), ("left", "two", "q", "gone")]
    assert users[0].groups == [] and not one.isMember(quitter)


def test_peersAreEachSharedMemberOnce(realm: service.InMemoryWordsRealm) -> None:
    a, b, c = RichClient("a"), RichClient("b"), RichClient("c")
    ua, ub, _uc = (loggedIn(realm, x) for x in (a, b, c))
    one, two = fired(realm.getGroup("one")), fired(realm.getGroup("two"))
    for user in (ua, ub):
        fired(user.join(one))
        fired(user.join(two))
    assert ua.peers() == [b]


def test_renameRekeysTheRealmAndGroups(realm: service.InMemoryWordsRealm) -> None:
    a, b = RichClient("a"), RichClient("b")
    ua, _ub = loggedIn(realm, a), loggedIn(realm, b)
    group = fired(realm.getGroup("room"))
    fired(ua.join(group))
    realm.renameUser(ua, "Alpha")
    assert ua.name == a.name == "Alpha"
    assert fired(realm.lookupUser("alpha")) is ua and "a" not in realm.users
    assert group.users == {"alpha": a}
    with pytest.raises(ewords.DuplicateUser):
        realm.renameUser(ua, "B")
    realm.renameUser(ua, "ALPHA")
    assert ua.name == "ALPHA"


def test_topicNeedsAnOperatorUnderPlusT(realm: service.InMemoryWordsRealm) -> None:
    op, other = RichClient("op"), RichClient("other")
    uo, ut = loggedIn(realm, op), loggedIn(realm, other)
    group = fired(realm.getGroup("room"))
    fired(uo.join(group))
    fired(ut.join(group))
    with pytest.raises(ewords.PermissionDenied):
        group.setTopic(other, "mine")
    fired(group.setTopic(op, "welcome"))
    assert ("meta", "room", "welcome") in other.events
    assert group.meta["topic_author"] == "op" and group.meta["topic_date"] > 0
    group.changeModes(op, [(False, "t", None)])
    fired(group.setTopic(other, "ours"))
    outsider = loggedIn(realm, RichClient("outsider"))
    with pytest.raises(ewords.NotInGroup):
        group.setTopic(outsider.mind, "x")


def test_joinRulesInviteKeyAndLimit(realm: service.InMemoryWordsRealm) -> None:
    op, guest = RichClient("op"), RichClient("guest")
    uo, _ug = loggedIn(realm, op), loggedIn(realm, guest)
    group = fired(realm.getGroup("room"))
    fired(uo.join(group))
    group.changeModes(op, [(True, "i", None)])
    with pytest.raises(ewords.InviteOnly):
        group.checkJoin(guest)
    group.invite(op, guest)
    assert guest.events[-1] == ("invited", "room", "op")
    group.checkJoin(guest)
    group.changeModes(op, [(False, "i", None), (True, "k", "sesame"), (True, "l", "1")])
    assert group.modeString(showKey=True) == ("+ntkl", ["sesame", "1"])
    assert group.modeString(showKey=False) == ("+ntkl", ["*", "1"])
    group.invited.clear()
    with pytest.raises(ewords.BadGroupKey):
        group.checkJoin(guest, "wrong")
    with pytest.raises(ewords.GroupFull):
        group.checkJoin(guest, "sesame")
    group.changeModes(op, [(False, "l", None), (False, "k", None)])
    group.checkJoin(guest)


def test_modeChangesAreToldOnceAndOnlyWhenTheyChangeSomething(
    realm: service.InMemoryWordsRealm,
) -> None:
    op, b = RichClient("op"), RichClient("b")
    uo, ub = loggedIn(realm, op), loggedIn(realm, b)
    group = fired(realm.getGroup("room"))
    fired(uo.join(group))
    fired(ub.join(group))
    b.events.clear()
    group.changeModes(
        op, [(True, "o", "b"), (True, "v", "B"), (True, "n", None), (False, "m", None)]
    )
    assert b.events == [("mode", "room", "op", "+ov", ["b", "b"])]
    group.changeModes(op, [(False, "o", "b"), (True, "m", None)])
    assert b.events[-1] == ("mode", "room", "op", "-o+m", ["b"])
    with pytest.raises(ewords.PermissionDenied):
        group.changeModes(b, [(True, "o", "b")])
    with pytest.raises(ewords.NoSuchUser):
        group.changeModes(op, [(True, "o", "nobody")])


def test_speakingRulesNoExternalAndModerated(realm: service.InMemoryWordsRealm) -> None:
    op, member, outsider = RichClient("op"), RichClient("m"), RichClient("x")
    users = [loggedIn(realm, c) for c in (op, member, outsider)]
    group = fired(realm.getGroup("room"))
    fired(users[0].join(group))
    fired(users[1].join(group))
    with pytest.raises(ewords.PermissionDenied):
        group.checkSpeak(outsider)
    group.checkSpeak(member)
    group.changeModes(op, [(True, "m", None)])
    with pytest.raises(ewords.PermissionDenied):
        group.checkSpeak(member)
    group.changeModes(op, [(True, "v", "m")])
    group.checkSpeak(member)


def test_kickTellsEveryoneIncludingTheKickedAndPlainClientsHearLeft(
    realm: service.InMemoryWordsRealm,
) -> None:
    op, victim, plain = RichClient("op"), RichClient("v"), PlainClient("p")
    users = [loggedIn(realm, c) for c in (op, victim, plain)]
    group = fired(realm.getGroup("room"))
    for user in users:
        fired(user.join(group))
    with pytest.raises(ewords.PermissionDenied):
        group.kick(victim, op, "no")
    group.kick(op, victim, "bye")
    assert victim.events[-1] == op.events[-1] == ("kicked", "room", "v", "op", "bye")
    assert plain.events[-1] == ("left", "room", "v", "bye")
    assert group not in users[1].groups and not group.isMember(victim)
    with pytest.raises(ewords.NotInGroup):
        group.kick(op, victim, "again")


def test_inviteRules(realm: service.InMemoryWordsRealm) -> None:
    op, member, guest = RichClient("op"), RichClient("m"), RichClient("g")
    users = [loggedIn(realm, c) for c in (op, member, guest)]
    group = fired(realm.getGroup("room"))
    fired(users[0].join(group))
    fired(users[1].join(group))
    with pytest.raises(ewords.NotInGroup):
        group.invite(guest, op)
    with pytest.raises(ewords.DuplicateUser):
        group.invite(op, member)
    group.changeModes(op, [(True, "i", None)])
    with pytest.raises(ewords.PermissionDenied):
        group.invite(member, guest)


def test_inviteListIsBounded(realm: service.InMemoryWordsRealm) -> None:
    op = RichClient("op")
    group = fired(realm.getGroup("room"))
    fired(loggedIn(realm, op).join(group))
    for i in range(150):
        group.invite(op, RichClient(f"guest{i}"))
    assert len(group.invited) == 100


def test_metadataAndErrorsHaveTwistedNames() -> None:
    group = service.Group("g")
    assert group.meta["topic"] == "" and group.meta["topic_author"] == ""
    fired(group.setMetadata({"topic": "t", "topic_author": "x"}))
    assert group.meta["topic"] == "t"
    assert str(ewords.NoSuchUser("bob")) == "NoSuchUser: bob"
    assert str(ewords.AlreadyLoggedIn()) == "AlreadyLoggedIn"
    assert service.lowerName("ABC[]\u00c9") == "abc[]\u00c9"
