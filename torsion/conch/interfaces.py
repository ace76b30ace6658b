"""The interfaces of torsion.conch (Twisted's names); each part adds its own section."""

from __future__ import annotations

from typing import Any

from zope.interface import Attribute, Interface

__all__ = ["IConchUser", "ISession", "ISessionSetEnv"]


# -- users and sessions (torsion.conch.avatar, torsion.conch.ssh.session) -----------------


class IConchUser(Interface):
    """The avatar of an SSH login: it decides which channels and requests it allows."""

    conn = Attribute("The SSHConnection of the login, once there is one.")

    def lookupChannel(channelType: bytes, windowSize: int, maxPacket: int, data: bytes) -> Any:
        """The channel to open for ``channelType``; raise ConchError to refuse it."""

    def lookupSubsystem(subsystem: bytes, data: bytes) -> Any:
        """The protocol of a subsystem (b"sftp"), or None when there is none."""

    def gotGlobalRequest(requestType: bytes, data: bytes) -> Any:
        """Answer a global request: false to refuse, true (or (true, data)) to accept."""


class ISession(Interface):
    """What a "session" channel asks of the avatar (shells, commands, ptys)."""

    def getPty(term: bytes, windowSize: tuple[int, int, int, int], modes: list[Any]) -> None:
        """A pty was asked for: terminal type, (rows, columns, xpixels, ypixels), modes."""

    def openShell(proto: Any) -> None:
        """Start a shell whose input and output go through the process protocol ``proto``."""

    def execCommand(proto: Any, command: bytes) -> None:
        """Run ``command`` with its input and output on ``proto``."""

    def windowChanged(newWindowSize: tuple[int, int, int, int]) -> None:
        """The client's terminal changed size."""

    def eofReceived() -> None:
        """The client will send no more input."""

    def closed() -> None:
        """The session channel is closed."""


class ISessionSetEnv(Interface):
    """A session that accepts environment variables ("env" requests)."""

    def setEnv(name: bytes, value: bytes) -> None:
        """Set ``name`` for the shell or command to come; raise to refuse it."""
