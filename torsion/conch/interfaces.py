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


# -- conch-sftp (SFTP server side: torsion.conch.ssh.filetransfer) ----------------


class ISFTPServer(Interface):
    """What a FileTransferServer serves: the files of one user. Paths are bytes as
    the client sent them; a method may return its result or a Deferred of it, and
    raises filetransfer.SFTPError (or OSError) to refuse."""

    def gotVersion(otherVersion: int, extData: dict[bytes, bytes]) -> dict[bytes, bytes]:
        """The client said hello; return the extensions to announce."""

    def openFile(filename: bytes, flags: int, attrs: dict[str, Any]) -> Any:
        """Open a file with the FXF_* ``flags``; return an ISFTPFile."""

    def removeFile(filename: bytes) -> Any:
        """Remove a file."""

    def renameFile(oldpath: bytes, newpath: bytes) -> Any:
        """Rename a file; SFTP v3 refuses to replace an existing one."""

    def makeDirectory(path: bytes, attrs: dict[str, Any]) -> Any:
        """Make a directory."""

    def removeDirectory(path: bytes) -> Any:
        """Remove an empty directory."""

    def openDirectory(path: bytes) -> Any:
        """Return an iterator of (filename, longname, attrs) with a close() method."""

    def getAttrs(path: bytes, followLinks: bool) -> Any:
        """Return the attributes of ``path`` (a dict as filetransfer's packAttrs)."""

    def setAttrs(path: bytes, attrs: dict[str, Any]) -> Any:
        """Change the attributes of ``path``."""

    def readLink(path: bytes) -> Any:
        """Return the target of a symbolic link."""

    def makeLink(linkPath: bytes, targetPath: bytes) -> Any:
        """Make a symbolic link."""

    def realPath(path: bytes) -> Any:
        """Return the canonical absolute form of ``path``."""

    def extendedRequest(extendedName: bytes, extendedData: bytes) -> Any:
        """Serve a vendor extension; return its reply bytes (or None: a plain success)."""


class ISFTPFile(Interface):
    """An open file of an ISFTPServer."""

    def close() -> Any:
        """Close the file."""

    def readChunk(offset: int, length: int) -> Any:
        """Return up to ``length`` bytes at ``offset``; raise EOFError at the end."""

    def writeChunk(offset: int, data: bytes) -> Any:
        """Write ``data`` at ``offset``."""

    def getAttrs() -> Any:
        """Return the file's attributes."""

    def setAttrs(attrs: dict[str, Any]) -> Any:
        """Change the file's attributes."""


__all__ += ["ISFTPFile", "ISFTPServer"]
