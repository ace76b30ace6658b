"""Realms and resources shared by the guard tests."""

from __future__ import annotations

import base64
import json
from typing import Any

from zope.interface import implementer

from torsion.cred import checkers, portal
from torsion.web import resource
from torsion.web.resource import IResource

USERS = {"alice": "s3cret", "zoë": "pässwörd"}


class Whoami(resource.Resource):
    """The avatar: answers JSON of who is logged in and the path it saw."""

    isLeaf = True

    def __init__(self, avatarId: Any) -> None:
        super().__init__()
        self.avatarId = avatarId

    def render(self, request: Any) -> bytes:
        request.setHeader(b"content-type", b"application/json")
        user = self.avatarId.decode("utf-8") if isinstance(self.avatarId, bytes) else None
        return json.dumps(
            {
                "user": user,
                "method": request.method.decode(),
                "prepath": [p.decode() for p in request.prepath],
                "postpath": [p.decode() for p in request.postpath],
            }
        ).encode()


@implementer(portal.IRealm)
class RecordingRealm:
    """Gives each user a Whoami and records the logins and logouts."""

    def __init__(self, avatar: Any = None) -> None:
        self.logins: list[Any] = []
        self.logouts: list[Any] = []
        self.avatar = avatar

    def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Any:
        assert IResource in interfaces
        self.logins.append(avatarId)
        avatar = self.avatar if self.avatar is not None else Whoami(avatarId)
        return IResource, avatar, lambda: self.logouts.append(avatarId)


def memoryPortal(realm: Any = None, *extra: Any) -> portal.Portal:
    users = checkers.InMemoryUsernamePasswordDatabaseDontUse(**USERS)
    return portal.Portal(realm or RecordingRealm(), [users, *extra])


def basic(username: str, password: str) -> bytes:
    return b"Basic " + base64.b64encode(f"{username}:{password}".encode())
