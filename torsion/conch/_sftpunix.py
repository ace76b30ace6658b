"""SFTP for a system user: every filesystem operation runs with the user's
identity, so the kernel checks the user's permissions and new files belong to the
user (torsion.conch._sftpunix, used by torsion.conch.unix).

A server that runs as root serves many users from one process. Around each
operation, `AsUser` switches the identity the kernel checks file access with to
the user's and back: on Linux the file system uid and gid of the running thread
(setfsuid, setfsgid), so the server's other threads keep root's; elsewhere the
effective ids of the process. The reactor is single-threaded and the filesystem
server answers synchronously, so no other request runs while the identity is
switched. Reads and writes of an open file need no switch: the kernel checked the
user's access when the file was opened. A server that does not run as root serves
only its own user (torsion.conch.unix refuses others), and then nothing is switched.
Tests: tests/conch/test_sftp_server.py.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from zope.interface import implementer

from torsion.conch.interfaces import ISFTPFile, ISFTPServer
from torsion.conch.ssh._sftproot import FilesystemSFTPServer

__all__ = ["AsUser", "UserSFTPServer"]

_T = TypeVar("_T")


def _fileSystemIdSetters() -> tuple[Callable[[int], int], Callable[[int], int]] | None:
    """libc's setfsuid and setfsgid, on Linux (where they exist and are per thread)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        return libc.setfsuid, libc.setfsgid
    except (OSError, AttributeError):
        return None


_FSID = _fileSystemIdSetters()


def _setFileSystemId(setter: Callable[[int], int], value: int) -> None:
    setter(value)
    # Asking for -1 changes nothing and answers the current id: the only check there is.
    if setter(-1) != value:
        raise PermissionError(f"could not take the file system id {value}")


class AsUser:
    """Runs callables with a user's identity for file access (a no-op when the
    process already is that user or cannot switch).

    On Linux the file system uid and gid are switched (setfsuid/setfsgid): they are
    per thread, and the kernel drops root's file capabilities with them, so the
    user's permissions apply to this thread only. Elsewhere the effective ids are
    switched, which holds for the whole process while the call runs. Supplementary
    groups are set process-wide either way (threads running as root are not
    limited by groups)."""

    def __init__(self, uid: int, gid: int, groups: list[int]) -> None:
        self.uid, self.gid, self.groups = uid, gid, groups
        self.switching = os.geteuid() == 0 and uid != 0

    def __call__(self, function: Callable[..., _T], *args: Any) -> _T:
        if not self.switching:
            return function(*args)
        savedGroups = os.getgroups()
        os.setgroups(self.groups)
        try:
            if _FSID is None:
                return self._asEffectiveUser(function, *args)
            setfsuid, setfsgid = _FSID
            savedGid = os.getegid()
            _setFileSystemId(setfsgid, self.gid)
            try:
                _setFileSystemId(setfsuid, self.uid)
                try:
                    return function(*args)
                finally:
                    _setFileSystemId(setfsuid, 0)
            finally:
                _setFileSystemId(setfsgid, savedGid)
        finally:
            os.setgroups(savedGroups)

    def _asEffectiveUser(self, function: Callable[..., _T], *args: Any) -> _T:
        savedGid = os.getegid()
        os.setegid(self.gid)
        try:
            os.seteuid(self.uid)
            try:
                return function(*args)
            finally:
                os.seteuid(0)
        finally:
            os.setegid(savedGid)


@implementer(ISFTPFile)
class _UserFile:
    def __init__(self, opened: Any, asUser: AsUser) -> None:
        self.opened = opened
        self.asUser = asUser
        # Data moves on a descriptor the kernel already allowed: no switch.
        self.readChunk = opened.readChunk
        self.writeChunk = opened.writeChunk
        self.close = opened.close

    def getAttrs(self) -> dict[str, Any]:
        return self.asUser(self.opened.getAttrs)

    def setAttrs(self, attrs: dict[str, Any]) -> None:
        self.asUser(self.opened.setAttrs, attrs)


class _UserDirectory:
    def __init__(self, opened: Any, asUser: AsUser) -> None:
        self.opened = opened
        self.asUser = asUser

    def __iter__(self) -> Iterator[tuple[bytes, bytes, dict[str, Any]]]:
        return self

    def __next__(self) -> tuple[bytes, bytes, dict[str, Any]]:
        return self.asUser(next, self.opened)  # type: ignore[no-any-return]

    def close(self) -> None:
        self.opened.close()


@implementer(ISFTPServer)
class UserSFTPServer:
    """A FilesystemSFTPServer over ``root`` whose operations run as the user."""

    def __init__(self, root: str, asUser: AsUser) -> None:
        self.asUser = asUser
        self.files: FilesystemSFTPServer = asUser(FilesystemSFTPServer, root)

    def gotVersion(self, otherVersion: int, extData: dict[bytes, bytes]) -> dict[bytes, bytes]:
        return self.files.gotVersion(otherVersion, extData)

    def openFile(self, filename: bytes, flags: int, attrs: dict[str, Any]) -> _UserFile:
        return _UserFile(self.asUser(self.files.openFile, filename, flags, attrs), self.asUser)

    def openDirectory(self, path: bytes) -> _UserDirectory:
        return _UserDirectory(self.asUser(self.files.openDirectory, path), self.asUser)

    def removeFile(self, filename: bytes) -> None:
        self.asUser(self.files.removeFile, filename)

    def renameFile(self, oldpath: bytes, newpath: bytes) -> None:
        self.asUser(self.files.renameFile, oldpath, newpath)

    def makeDirectory(self, path: bytes, attrs: dict[str, Any]) -> None:
        self.asUser(self.files.makeDirectory, path, attrs)

    def removeDirectory(self, path: bytes) -> None:
        self.asUser(self.files.removeDirectory, path)

    def getAttrs(self, path: bytes, followLinks: bool) -> dict[str, Any]:
        return self.asUser(self.files.getAttrs, path, followLinks)

    def setAttrs(self, path: bytes, attrs: dict[str, Any]) -> None:
        self.asUser(self.files.setAttrs, path, attrs)

    def readLink(self, path: bytes) -> bytes:
        return self.asUser(self.files.readLink, path)

    def makeLink(self, linkPath: bytes, targetPath: bytes) -> None:
        self.asUser(self.files.makeLink, linkPath, targetPath)

    def realPath(self, path: bytes) -> bytes:
        return self.files.realPath(path)

    def extendedRequest(self, extendedName: bytes, extendedData: bytes) -> bytes | None:
        return self.asUser(self.files.extendedRequest, extendedName, extendedData)
