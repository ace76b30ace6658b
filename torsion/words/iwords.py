"""The interfaces of the chat service: realms, groups, users and the clients they talk to.

Twisted's names and methods (IChatService, IGroup, IUser, IChatClient,
IProtocolPlugin), so a Twisted words realm or client ports by renaming imports. A
group's members are chat *clients* (the protocol objects, a connected IRCUser for
instance), not users: a group speaks to whoever is connected, and the user object
(``IUser``) is what a login gets from the realm. ``IRichChatClient`` is torsion's
addition: the events that IRC needs and Twisted's IChatClient lacks (kicks, quits,
nick changes, mode changes, invitations); a group tells them to the members that
provide it and falls back to ``userLeft`` for the others.
Tests: tests/words/test_service.py.
"""

from __future__ import annotations

from typing import Any

from zope.interface import Attribute, Interface

__all__ = ["IChatClient", "IChatService", "IGroup", "IProtocolPlugin", "IRichChatClient", "IUser"]


class IProtocolPlugin(Interface):
    """A protocol that serves a words realm: Twisted's interface for its words plugin.

    Kept for code that implements it; ``torsiond words`` serves IRC itself and looks
    for no such plugins.
    """

    name = Attribute("The protocol's short name, e.g. 'irc' (str).")

    def getFactory(realm: Any, portal: Any) -> Any:
        """Return a server factory that serves ``realm``, logging users in through ``portal``."""


class IGroup(Interface):
    """A named set of chat clients that hear each other's messages (an IRC channel)."""

    name = Attribute("The group's name, unique among the realm's groups without regard to case.")

    def add(user: Any) -> Any:
        """Make the chat client ``user`` a member; a Deferred that fires when done.

        Each other member hears ``userJoined(group, user)``.
        """

    def remove(user: Any, reason: str | None = None) -> Any:
        """Take ``user`` out of the group; the others hear ``userLeft(group, user, reason)``."""

    def size() -> Any:
        """A Deferred firing with the number of members."""

    def receive(sender: Any, recipient: Any, message: dict[str, Any]) -> Any:
        """Give ``message`` (a dict with at least ``text``) to every member but ``sender``.

        ``recipient`` is the group itself. A member whose ``receive`` raises is
        removed from the group; the others still get the message.
        """

    def setMetadata(meta: dict[str, Any]) -> Any:
        """Replace the group's metadata (``topic``, ``topic_author``) and tell every member."""

    def iterusers() -> Any:
        """An iterator over the members (chat clients)."""


class IChatClient(Interface):
    """What a group or a user talks to: a connected client, seen from the service."""

    name = Attribute("The name the client is known by (its nick on IRC).")

    def receive(sender: Any, recipient: Any, message: dict[str, Any]) -> Any:
        """``sender`` (a chat client) sent ``message`` to ``recipient`` (a group or this user)."""

    def groupMetaUpdate(group: Any, meta: dict[str, Any]) -> Any:
        """The metadata of ``group`` (its topic, say) changed to ``meta``."""

    def userJoined(group: Any, user: Any) -> Any:
        """The chat client ``user`` joined ``group``."""

    def userLeft(group: Any, user: Any, reason: str | None = None) -> Any:
        """The chat client ``user`` left ``group``."""


class IRichChatClient(IChatClient):
    """The events beyond Twisted's IChatClient that an IRC server shows its clients."""

    def userKicked(group: Any, user: Any, by: Any, reason: str) -> Any:
        """``by`` put ``user`` out of ``group`` for ``reason``."""

    def userQuit(user: Any, reason: str) -> Any:
        """``user``, who shared a group with this client, disconnected; told once, not per group."""

    def userRenamed(user: Any, oldName: str) -> Any:
        """``user``, who shares a group with this client, is now called ``user.name``."""

    def groupModeChanged(group: Any, by: Any, modes: str, arguments: list[str]) -> Any:
        """``by`` changed the modes of ``group``: ``modes="+o-v"``, ``arguments=["a", "b"]``."""

    def invitedTo(group: Any, by: Any) -> Any:
        """``by`` invites this client into ``group``."""


class IUser(Interface):
    """A logged-in user of the realm: what a login through the portal gets."""

    realm = Attribute("The realm the user is logged in to, or None when logged out.")
    mind = Attribute("The chat client the user speaks through, or None when logged out.")
    name = Attribute("The user's name, unique among users without regard to case.")
    lastMessage = Attribute("When (time.time()) the user last sent a message.")
    signOn = Attribute("When (time.time()) the user logged in.")

    def loggedIn(realm: Any, mind: Any) -> None:
        """The user is now logged in to ``realm`` and speaks through ``mind``."""

    def send(recipient: Any, message: dict[str, Any]) -> Any:
        """Send ``message`` to ``recipient`` (a group or another user's chat client)."""

    def join(group: Any) -> Any:
        """Join ``group`` (through this user's mind); a Deferred that fires when done."""

    def leave(group: Any, reason: str | None = None) -> Any:
        """Leave ``group``; a Deferred that fires when done."""

    def itergroups() -> Any:
        """An iterator over the groups the user is in."""


class IChatService(Interface):
    """A realm of users and groups (the IRC network of one server)."""

    name = Attribute("The service's name (the server name IRC clients see).")
    createGroupOnRequest = Attribute("Whether getGroup makes a group that does not exist.")
    createUserOnRequest = Attribute("Whether getUser makes a user that does not exist.")

    def itergroups() -> Any:
        """A Deferred firing with an iterable of every group."""

    def getGroup(name: str) -> Any:
        """A Deferred firing with the group ``name`` (made first when createGroupOnRequest)."""

    def createGroup(name: str) -> Any:
        """A Deferred firing with a new group ``name``, failing with DuplicateGroup if it exists."""

    def lookupGroup(name: str) -> Any:
        """A Deferred firing with the group ``name``, failing with NoSuchGroup."""

    def getUser(name: str) -> Any:
        """A Deferred firing with the user ``name`` (made first when createUserOnRequest)."""

    def createUser(name: str) -> Any:
        """A Deferred firing with a new user ``name``, failing with DuplicateUser if it exists."""
