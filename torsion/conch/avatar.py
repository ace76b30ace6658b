"""ConchUser: the avatar an SSH login gets, which maps channel types, subsystems and
global requests to the code that serves them (torsion.conch.avatar).

Set ``channelLookup`` ({b"session": SSHSession, ...}) and ``subsystemLookup``
({b"sftp": ...}) on a subclass or an instance; global requests go to
``global_<name>`` methods (dashes as underscores). Tests: tests/conch/test_userauth.py.
"""

from __future__ import annotations

from typing import Any

from zope.interface import implementer

from torsion.conch.error import ConchError
from torsion.conch.interfaces import IConchUser

__all__ = ["ConchUser"]

OPEN_UNKNOWN_CHANNEL_TYPE = 3  # RFC 4254 section 5.1


@implementer(IConchUser)
class ConchUser:
    """Twisted's ConchUser."""

    conn: Any = None

    def __init__(self) -> None:
        self.channelLookup: dict[bytes, Any] = {}
        self.subsystemLookup: dict[bytes, Any] = {}

    def lookupChannel(
        self, channelType: bytes, windowSize: int, maxPacket: int, data: bytes
    ) -> Any:
        channelClass = self.channelLookup.get(channelType)
        if channelClass is None:
            raise ConchError(OPEN_UNKNOWN_CHANNEL_TYPE, "unknown channel")
        return channelClass(
            remoteWindow=windowSize, remoteMaxPacket=maxPacket, data=data, avatar=self
        )

    def lookupSubsystem(self, subsystem: bytes, data: bytes) -> Any:
        subsystemClass = self.subsystemLookup.get(subsystem)
        if subsystemClass is None:
            return None
        return subsystemClass(data, avatar=self)

    def gotGlobalRequest(self, requestType: bytes, data: bytes) -> Any:
        name = requestType.decode("ascii", "replace").replace("-", "_")
        handler = getattr(self, f"global_{name}", None)
        if handler is None:
            return 0
        return handler(data)
