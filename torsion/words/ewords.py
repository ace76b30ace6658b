"""The errors of the chat service (torsion.words.service), Twisted's names and a few more.

A realm or a group refuses something by failing a Deferred (or raising) with one of
these; the protocol in front of it (the IRC server in torsion.words.service) turns
each into the reply its clients understand (``NoSuchGroup`` into 403, ``GroupFull``
into 471, and so on), so the rules live in one place and every protocol applies them
alike. Tests: tests/words/test_service.py.
"""

from __future__ import annotations

__all__ = [
    "AlreadyLoggedIn",
    "BadGroupKey",
    "DuplicateGroup",
    "DuplicateUser",
    "GroupFull",
    "InviteOnly",
    "LimitReached",
    "NoSuchGroup",
    "NoSuchUser",
    "NotInGroup",
    "PermissionDenied",
    "WordsError",
]


class WordsError(Exception):
    """The base of the chat service's errors; its text names the class, as Twisted's."""

    def __str__(self) -> str:
        text = super().__str__()
        return f"{type(self).__name__}: {text}" if text else type(self).__name__


class NoSuchUser(WordsError):
    """No user has this name."""


class DuplicateUser(WordsError):
    """A user of this name exists already (names compare without case)."""


class NoSuchGroup(WordsError):
    """No group has this name, and this realm does not make groups on request."""


class DuplicateGroup(WordsError):
    """A group of this name exists already."""


class AlreadyLoggedIn(WordsError):
    """The user is logged in already, from another connection."""


class LimitReached(WordsError):
    """A limit of the service is reached (users, groups, groups per user): the text says which."""


class NotInGroup(WordsError):
    """The user is not a member of the group it acts on."""


class PermissionDenied(WordsError):
    """Only an operator of the group may do this."""


class GroupFull(WordsError):
    """The group has as many members as its limit (mode +l) allows."""


class InviteOnly(WordsError):
    """The group is invitation-only (mode +i) and the user was not invited."""


class BadGroupKey(WordsError):
    """The group has a key (mode +k) and the user gave another one, or none."""
