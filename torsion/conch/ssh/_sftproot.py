"""An ISFTPServer over one directory of the filesystem that no path can leave
(torsion.conch.ssh._sftproot, exported as filetransfer.FilesystemSFTPServer).

The client sees the root as "/". Paths are resolved by name, component by
component, from a descriptor of the root with O_NOFOLLOW|O_DIRECTORY (openat), so
".." above the root is refused and a symbolic link is never followed: not a link
placed inside the root pointing out, nor one swapped in while a request runs.
Links show in listings as links; opening, entering or making one is refused.
Tests: tests/conch/test_sftp.py.
"""

from __future__ import annotations

import errno
import os
import stat as statmod
import struct
import time
from collections.abc import Iterator
from typing import Any

from zope.interface import implementer

from torsion.conch.interfaces import ISFTPFile, ISFTPServer
from torsion.conch.ssh import _sftpcodec as codec


class SFTPError(Exception):
    """A refusal with an SFTP status code (FX_*), sent to the client as a STATUS."""

    def __init__(self, code: int, message: str, lang: bytes | None = None) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.lang = lang


_DIRFLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _attrs(st: os.stat_result) -> dict[str, Any]:
    return {
        "size": st.st_size,
        "uid": st.st_uid,
        "gid": st.st_gid,
        "permissions": st.st_mode,
        "atime": int(st.st_atime),
        "mtime": int(st.st_mtime),
    }


def _longname(name: str, st: os.stat_result) -> str:
    when = time.strftime("%b %d %H:%M", time.localtime(st.st_mtime))
    return (
        f"{statmod.filemode(st.st_mode)} {st.st_nlink:3} {st.st_uid:<8} {st.st_gid:<8} "
        f"{st.st_size:8} {when} {name}"
    )


def _setAttrs(target: Any, attrs: dict[str, Any], dirFd: int | None = None) -> None:
    if "size" in attrs:
        if not isinstance(target, int):
            raise SFTPError(codec.FX_OP_UNSUPPORTED, "set the size on an open file")
        os.ftruncate(target, attrs["size"])
    if "permissions" in attrs:
        mode = attrs["permissions"] & 0o7777
        if isinstance(target, int):
            os.fchmod(target, mode)
        else:
            os.chmod(target, mode, dir_fd=dirFd, follow_symlinks=False)
    if "atime" in attrs and "mtime" in attrs:
        times = (attrs["atime"], attrs["mtime"])
        if isinstance(target, int):
            os.utime(target, times)
        else:
            os.utime(target, times, dir_fd=dirFd, follow_symlinks=False)


@implementer(ISFTPFile)
class _File:
    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def readChunk(self, offset: int, length: int) -> bytes:
        data = os.pread(self.fd, length, offset)
        if not data:
            raise EOFError
        return data

    def writeChunk(self, offset: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.pwrite(self.fd, view, offset)
            view = view[written:]
            offset += written

    def getAttrs(self) -> dict[str, Any]:
        return _attrs(os.fstat(self.fd))

    def setAttrs(self, attrs: dict[str, Any]) -> None:
        _setAttrs(self.fd, attrs)

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)


class _Directory:
    __slots__ = ("entries", "fd")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.entries: Iterator[os.DirEntry[str]] = os.scandir(fd)

    def __iter__(self) -> _Directory:
        return self

    def __next__(self) -> tuple[bytes, bytes, dict[str, Any]]:
        entry = next(self.entries)
        st = entry.stat(follow_symlinks=False)
        name = entry.name
        return (
            os.fsencode(name),
            _longname(name, st).encode("utf-8", "surrogateescape"),
            _attrs(st),
        )

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)


@implementer(ISFTPServer)
class FilesystemSFTPServer:
    """Serves the directory ``root`` as "/" to one SFTP client."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        # Resolved once: the root itself may be reached through links (a home under a
        # linked /home); below it, nothing is followed.
        self.root = os.path.realpath(os.fspath(root))
        if not os.path.isdir(self.root):
            raise ValueError(f"the SFTP root {self.root} is not a directory; make it first")

    def _parts(self, path: bytes) -> list[str]:
        if b"\0" in path:
            raise SFTPError(codec.FX_BAD_MESSAGE, "a path with a NUL byte")
        parts: list[str] = []
        for part in os.fsdecode(path).split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not parts:
                    raise SFTPError(codec.FX_PERMISSION_DENIED, "the path leaves the root")
                parts.pop()
            else:
                parts.append(part)
        return parts

    def _parent(self, path: bytes) -> tuple[int, str]:
        """A descriptor of the directory holding ``path`` and its last name; the
        caller closes the descriptor."""
        parts = self._parts(path)
        fd = os.open(self.root, _DIRFLAGS)
        try:
            for part in parts[:-1]:
                child = os.open(part, _DIRFLAGS, dir_fd=fd)
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd, parts[-1] if parts else "."

    def gotVersion(self, otherVersion: int, extData: dict[bytes, bytes]) -> dict[bytes, bytes]:
        # OpenSSH's extensions that sftp uses when offered: "df", and "rename" that
        # replaces an existing name (plain SFTP v3 rename refuses to).
        return {b"posix-rename@openssh.com": b"1", b"statvfs@openssh.com": b"2"}

    def openFile(self, filename: bytes, flags: int, attrs: dict[str, Any]) -> _File:
        access = flags & (codec.FXF_READ | codec.FXF_WRITE)
        mode = {
            codec.FXF_READ: os.O_RDONLY,
            codec.FXF_WRITE: os.O_WRONLY,
            codec.FXF_READ | codec.FXF_WRITE: os.O_RDWR,
        }.get(access)
        if mode is None:
            raise SFTPError(codec.FX_BAD_MESSAGE, "open without READ or WRITE")
        if flags & codec.FXF_APPEND:
            mode |= os.O_APPEND
        if flags & codec.FXF_CREAT:
            mode |= os.O_CREAT
        if flags & codec.FXF_TRUNC:
            mode |= os.O_TRUNC
        if flags & codec.FXF_EXCL:
            mode |= os.O_EXCL
        perms = attrs.get("permissions", 0o644) & 0o777
        dirFd, name = self._parent(filename)
        try:
            fd = os.open(name, mode | os.O_NOFOLLOW | os.O_CLOEXEC, perms, dir_fd=dirFd)
        finally:
            os.close(dirFd)
        if statmod.S_ISDIR(os.fstat(fd).st_mode):
            os.close(fd)
            raise SFTPError(codec.FX_FAILURE, "that is a directory")
        return _File(fd)

    def removeFile(self, filename: bytes) -> None:
        dirFd, name = self._parent(filename)
        try:
            os.unlink(name, dir_fd=dirFd)
        finally:
            os.close(dirFd)

    def renameFile(self, oldpath: bytes, newpath: bytes) -> None:
        oldFd, oldName = self._parent(oldpath)
        try:
            newFd, newName = self._parent(newpath)
            try:
                try:
                    os.stat(newName, dir_fd=newFd, follow_symlinks=False)
                except FileNotFoundError:
                    os.rename(oldName, newName, src_dir_fd=oldFd, dst_dir_fd=newFd)
                else:
                    raise SFTPError(codec.FX_FAILURE, "the new name exists already")
            finally:
                os.close(newFd)
        finally:
            os.close(oldFd)

    def makeDirectory(self, path: bytes, attrs: dict[str, Any]) -> None:
        dirFd, name = self._parent(path)
        try:
            os.mkdir(name, attrs.get("permissions", 0o755) & 0o777, dir_fd=dirFd)
        finally:
            os.close(dirFd)

    def removeDirectory(self, path: bytes) -> None:
        dirFd, name = self._parent(path)
        try:
            os.rmdir(name, dir_fd=dirFd)
        finally:
            os.close(dirFd)

    def openDirectory(self, path: bytes) -> _Directory:
        dirFd, name = self._parent(path)
        try:
            fd = os.open(name, _DIRFLAGS, dir_fd=dirFd)
        finally:
            os.close(dirFd)
        return _Directory(fd)

    def getAttrs(self, path: bytes, followLinks: bool) -> dict[str, Any]:
        dirFd, name = self._parent(path)
        try:
            return _attrs(os.stat(name, dir_fd=dirFd, follow_symlinks=False))
        finally:
            os.close(dirFd)

    def setAttrs(self, path: bytes, attrs: dict[str, Any]) -> None:
        dirFd, name = self._parent(path)
        try:
            if statmod.S_ISLNK(os.stat(name, dir_fd=dirFd, follow_symlinks=False).st_mode):
                raise SFTPError(codec.FX_PERMISSION_DENIED, "symbolic links are not followed")
            _setAttrs(name, attrs, dirFd)
        finally:
            os.close(dirFd)

    def readLink(self, path: bytes) -> bytes:
        dirFd, name = self._parent(path)
        try:
            return os.fsencode(os.readlink(name, dir_fd=dirFd))
        finally:
            os.close(dirFd)

    def makeLink(self, linkPath: bytes, targetPath: bytes) -> None:
        raise SFTPError(codec.FX_OP_UNSUPPORTED, "this server makes no symbolic links")

    def realPath(self, path: bytes) -> bytes:
        return ("/" + "/".join(self._parts(path))).encode("utf-8", "surrogateescape")

    def extendedRequest(self, extendedName: bytes, extendedData: bytes) -> bytes | None:
        reader = codec.Reader(extendedData)
        if extendedName == b"statvfs@openssh.com":
            return self._statvfs(reader.string())
        if extendedName == b"posix-rename@openssh.com":
            self._posixRename(reader.string(), reader.string())
            return None
        raise SFTPError(codec.FX_OP_UNSUPPORTED, f"no extension {extendedName!r}")

    def _statvfs(self, path: bytes) -> bytes:
        """The file system of ``path``, as OpenSSH's statvfs@openssh.com answer."""
        dirFd, name = self._parent(path)
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dirFd)
        finally:
            os.close(dirFd)
        try:
            st = os.statvfs(fd)
        finally:
            os.close(fd)
        flags = (st.f_flag & os.ST_RDONLY and 1) | (st.f_flag & os.ST_NOSUID and 2)
        fsid = getattr(st, "f_fsid", 0)
        return struct.pack(
            "!11Q", st.f_bsize, st.f_frsize, st.f_blocks, st.f_bfree, st.f_bavail,
            st.f_files, st.f_ffree, st.f_favail, fsid, flags, st.f_namemax,
        )  # fmt: skip

    def _posixRename(self, oldpath: bytes, newpath: bytes) -> None:
        oldFd, oldName = self._parent(oldpath)
        try:
            newFd, newName = self._parent(newpath)
            try:
                os.rename(oldName, newName, src_dir_fd=oldFd, dst_dir_fd=newFd)
            finally:
                os.close(newFd)
        finally:
            os.close(oldFd)


def errorCode(error: BaseException) -> tuple[int, str]:
    """The SFTP status for an exception of an ISFTPServer method."""
    if isinstance(error, SFTPError):
        return error.code, error.message
    if isinstance(error, EOFError):
        return codec.FX_EOF, "end of file"
    if isinstance(error, OSError):
        if error.errno == errno.ENOENT:
            return codec.FX_NO_SUCH_FILE, "no such file"
        if error.errno in (errno.EACCES, errno.EPERM, errno.ELOOP, errno.ENOTDIR):
            # ELOOP/ENOTDIR: O_NOFOLLOW met a symbolic link.
            return codec.FX_PERMISSION_DENIED, "permission denied"
        return codec.FX_FAILURE, error.strerror or "failure"
    if isinstance(error, NotImplementedError):
        return codec.FX_OP_UNSUPPORTED, "not supported"
    return codec.FX_FAILURE, "failure"
