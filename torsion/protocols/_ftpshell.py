"""What an FTP user sees of the filesystem: IFTPShell, the shells over a directory,
and the realms that give them.

An FTP avatar is an IFTPShell (Twisted's interface, paths as lists of segments from
the user's root). ``FTPShell`` serves one directory as "/"; ``FTPAnonymousShell`` is
the same, read-only; ``FTPRealm`` gives anonymous users the one and each account the
other, over its own home. Both stand on torsion.conch's confined filesystem
(FilesystemSFTPServer): every path is resolved from a descriptor of the root, one
component at a time without following symbolic links, so neither "../" nor a link
(placed in the root, or swapped in during a request) reaches anything outside it.
Files are read and written in chunks as producers and consumers, so a transfer of
any size holds one chunk in memory.
Tests: tests/protocols/test_ftpshell.py, and through the server in test_ftp*.py.
"""

from __future__ import annotations

import builtins
import errno
import os
import stat as statmod
from collections.abc import Callable, Sequence
from typing import Any

from zope.interface import Interface, implementer

from torsion.conch.ssh import _sftpcodec as sftpcodec
from torsion.conch.ssh import filetransfer
from torsion.cred import checkers
from torsion.cred.portal import IRealm
from torsion.internet import defer
from torsion.internet.interfaces import IConsumer, IPullProducer

__all__ = [
    "CHUNK_SIZE",
    "BaseFTPRealm",
    "FTPAnonymousShell",
    "FTPCmdError",
    "FTPRealm",
    "FTPShell",
    "FileExistsError",
    "FileNotFoundError",
    "IFTPShell",
    "IReadFile",
    "IWriteFile",
    "IsADirectoryError",
    "IsNotADirectoryError",
    "PermissionDeniedError",
]

CHUNK_SIZE = 2**16
"""How much of a file is read at a time for a download."""


class FTPCmdError(Exception):
    """A refusal that becomes an FTP reply: ``errorCode`` and the message."""

    errorCode = 550

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message or type(self).__doc__ or "refused"

    def response(self) -> tuple[int, str]:
        return self.errorCode, self.message

    @classmethod
    def withCode(cls, code: int, message: str) -> FTPCmdError:
        """A refusal with its own reply code."""
        refusal = cls(message)
        refusal.errorCode = code
        return refusal


class FileNotFoundError(FTPCmdError):
    """No such file or directory."""


class PermissionDeniedError(FTPCmdError):
    """Permission denied."""


class IsADirectoryError(FTPCmdError):
    """That is a directory."""


class IsNotADirectoryError(FTPCmdError):
    """That is not a directory."""


class FileExistsError(FTPCmdError):
    """That name exists already."""


class IReadFile(Interface):
    """A file opened for a download."""

    def send(consumer: IConsumer) -> defer.Deferred[None]:
        """Write the file to ``consumer`` as a producer; fires when all is written."""


class IWriteFile(Interface):
    """A file opened for an upload."""

    def receive() -> defer.Deferred[IConsumer]:
        """The consumer that the uploaded bytes are written to."""

    def close() -> defer.Deferred[None]:
        """The upload is complete: fires once the data is safely in the file."""


class IFTPShell(Interface):
    """The avatar of an FTP user: the filesystem operations FTP commands need.

    Paths are lists of segments from the user's root. Each method returns a
    Deferred; failures are FTPCmdError subclasses (whose code the server replies).
    The keys of ``stat`` and ``list`` are among "size", "directory", "permissions"
    (the st_mode bits), "hardlinks", "modified" (seconds since the epoch), "owner"
    and "group".
    """

    def makeDirectory(path: Sequence[str]) -> defer.Deferred[None]:
        """Make a directory."""

    def removeDirectory(path: Sequence[str]) -> defer.Deferred[None]:
        """Remove an empty directory."""

    def removeFile(path: Sequence[str]) -> defer.Deferred[None]:
        """Remove a file."""

    def rename(fromPath: Sequence[str], toPath: Sequence[str]) -> defer.Deferred[None]:
        """Rename a file or directory (refused if ``toPath`` exists)."""

    def access(path: Sequence[str]) -> defer.Deferred[None]:
        """Succeeds if ``path`` is a directory the user may enter and list."""

    def stat(path: Sequence[str], keys: Sequence[str] = ()) -> defer.Deferred[list[Any]]:
        """The values of ``keys`` for ``path`` (a link is described, not followed)."""

    def list(
        path: Sequence[str], keys: Sequence[str] = ()
    ) -> defer.Deferred[builtins.list[tuple[str, builtins.list[Any]]]]:
        """Each entry of directory ``path``: its name and the values of ``keys``."""

    def openForReading(path: Sequence[str], offset: int = 0) -> defer.Deferred[IReadFile]:
        """Open a file to download, from byte ``offset`` on."""

    def openForWriting(
        path: Sequence[str], offset: int = 0, append: bool = False
    ) -> defer.Deferred[IWriteFile]:
        """Open a file to upload to: made or truncated, at ``offset`` (REST), or at
        its end (``append``, APPE)."""


def _refusal(problem: BaseException) -> FTPCmdError:
    """The FTPCmdError for an exception of the confined filesystem."""
    if isinstance(problem, FTPCmdError):
        return problem
    if isinstance(problem, OSError):
        if problem.errno == errno.EEXIST:
            return FileExistsError()
        if problem.errno == errno.EISDIR:
            return IsADirectoryError()
        if problem.errno == errno.ENOTEMPTY:
            return PermissionDeniedError("the directory is not empty")
    code, message = filetransfer.errorCode(problem)
    if code == sftpcodec.FX_NO_SUCH_FILE:
        return FileNotFoundError()
    if code == sftpcodec.FX_PERMISSION_DENIED:
        return PermissionDeniedError()
    if message == "that is a directory":
        return IsADirectoryError()
    return FTPCmdError(message)


def _run(function: Any, *args: Any) -> defer.Deferred[Any]:
    """``function(*args)`` as a Deferred; a filesystem refusal fails it as an
    FTPCmdError, anything else (a bug) as itself."""
    try:
        return defer.succeed(function(*args))
    except (OSError, EOFError, filetransfer.SFTPError, FTPCmdError) as problem:
        return defer.fail(_refusal(problem))
    except Exception as problem:
        return defer.fail(problem)


def _wire(path: Sequence[str]) -> bytes:
    return os.fsencode("/" + "/".join(path))


def _values(attrs: dict[str, Any], keys: Sequence[str]) -> builtins.list[Any]:
    mode = attrs.get("permissions", 0)
    known = {
        "size": attrs.get("size", 0),
        "directory": statmod.S_ISDIR(mode),
        "permissions": mode,
        "hardlinks": 1,
        "modified": attrs.get("mtime", 0),
        "owner": str(attrs.get("uid", 0)),
        "group": str(attrs.get("gid", 0)),
    }
    try:
        return [known[key] for key in keys]
    except KeyError as e:
        raise ValueError(f"unknown stat key {e.args[0]!r}; known: {sorted(known)}") from None


@implementer(IPullProducer)
class _FileReader:
    """A download: the open file's chunks to a consumer, one per resumeProducing."""

    __slots__ = ("_consumer", "_done", "_file", "_offset")

    def __init__(self, file: Any, offset: int) -> None:
        self._file = file
        self._offset = offset
        self._consumer: Any = None
        self._done: defer.Deferred[None] = defer.Deferred()

    def send(self, consumer: IConsumer) -> defer.Deferred[None]:
        self._consumer = consumer
        consumer.registerProducer(self, False)
        return self._done

    def resumeProducing(self) -> None:
        if self._done.called:
            return
        try:
            chunk = self._file.readChunk(self._offset, CHUNK_SIZE)
        except EOFError:
            self._finish(None)
            return
        except OSError as problem:
            self._finish(_refusal(problem))
            return
        self._offset += len(chunk)
        self._consumer.write(chunk)

    def stopProducing(self) -> None:
        if not self._done.called:
            self._finish(FTPCmdError("the transfer was stopped"))

    def _finish(self, problem: FTPCmdError | None) -> None:
        self._file.close()
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.unregisterProducer()
        if problem is None:
            self._done.callback(None)
        else:
            self._done.errback(problem)


@implementer(IReadFile)
class _ReadFile:
    __slots__ = ("_file", "_offset")

    def __init__(self, file: Any, offset: int) -> None:
        self._file = file
        self._offset = offset

    def send(self, consumer: IConsumer) -> defer.Deferred[None]:
        return _FileReader(self._file, self._offset).send(consumer)


@implementer(IConsumer)
class _FileWriter:
    """An upload's consumer: each write goes to the file at once (nothing buffered)."""

    __slots__ = ("_file", "_offset", "producer")

    def __init__(self, file: Any, offset: int) -> None:
        self._file = file
        self._offset = offset
        self.producer: Any = None

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.producer = producer

    def unregisterProducer(self) -> None:
        self.producer = None

    def write(self, data: bytes) -> None:
        self._file.writeChunk(self._offset, data)
        self._offset += len(data)


@implementer(IWriteFile)
class _WriteFile:
    __slots__ = ("_file", "_writer")

    def __init__(self, file: Any, offset: int) -> None:
        self._file = file
        self._writer = _FileWriter(file, offset)

    def receive(self) -> defer.Deferred[IConsumer]:
        return defer.succeed(self._writer)

    def close(self) -> defer.Deferred[None]:
        return _run(self._file.close)


@implementer(IFTPShell)
class FTPShell:
    """The directory ``filesystemRoot`` as a user's "/", writable unless ``readOnly``.

    Raises:
        ValueError: ``filesystemRoot`` is not a directory.
    """

    def __init__(self, filesystemRoot: str | os.PathLike[str], readOnly: bool = False) -> None:
        self.filesystemRoot = os.fspath(filesystemRoot)
        self.readOnly = readOnly
        try:
            self._fs = filetransfer.FilesystemSFTPServer(self.filesystemRoot)
        except ValueError:
            raise ValueError(
                f"the FTP root {self.filesystemRoot} is not a directory; make it first"
            ) from None

    def _writing(self, what: str) -> None:
        if self.readOnly:
            raise PermissionDeniedError(f"{what}: this area is read-only")

    def makeDirectory(self, path: Sequence[str]) -> defer.Deferred[None]:
        return _run(self._mkdir, path)

    def _mkdir(self, path: Sequence[str]) -> None:
        self._writing("make a directory")
        self._fs.makeDirectory(_wire(path), {})

    def removeDirectory(self, path: Sequence[str]) -> defer.Deferred[None]:
        return _run(self._rmdir, path)

    def _rmdir(self, path: Sequence[str]) -> None:
        self._writing("remove a directory")
        if not path:
            raise PermissionDeniedError("the root cannot be removed")
        self._fs.removeDirectory(_wire(path))

    def removeFile(self, path: Sequence[str]) -> defer.Deferred[None]:
        return _run(self._unlink, path)

    def _unlink(self, path: Sequence[str]) -> None:
        self._writing("remove a file")
        if self._attrs(path)["directory"]:
            raise IsADirectoryError("that is a directory; RMD removes directories")
        self._fs.removeFile(_wire(path))

    def rename(self, fromPath: Sequence[str], toPath: Sequence[str]) -> defer.Deferred[None]:
        return _run(self._rename, fromPath, toPath)

    def _rename(self, fromPath: Sequence[str], toPath: Sequence[str]) -> None:
        self._writing("rename")
        if not fromPath or not toPath:
            raise PermissionDeniedError("the root cannot be renamed")
        self._fs.renameFile(_wire(fromPath), _wire(toPath))

    def access(self, path: Sequence[str]) -> defer.Deferred[None]:
        return _run(self._access, path)

    def _access(self, path: Sequence[str]) -> None:
        self._fs.openDirectory(_wire(path)).close()

    def _attrs(self, path: Sequence[str]) -> dict[str, Any]:
        attrs = self._fs.getAttrs(_wire(path), False)
        return {"directory": statmod.S_ISDIR(attrs.get("permissions", 0)), **attrs}

    def stat(
        self, path: Sequence[str], keys: Sequence[str] = ()
    ) -> defer.Deferred[builtins.list[Any]]:
        return _run(lambda: _values(self._fs.getAttrs(_wire(path), False), keys))

    def list(
        self, path: Sequence[str], keys: Sequence[str] = ()
    ) -> defer.Deferred[builtins.list[tuple[str, builtins.list[Any]]]]:
        return _run(self._list, path, keys)

    def _list(
        self, path: Sequence[str], keys: Sequence[str]
    ) -> builtins.list[tuple[str, builtins.list[Any]]]:
        directory = self._fs.openDirectory(_wire(path))
        try:
            entries = [
                (os.fsdecode(name), _values(attrs, keys)) for name, _long, attrs in directory
            ]
        finally:
            directory.close()
        entries.sort()
        return entries

    def openForReading(self, path: Sequence[str], offset: int = 0) -> defer.Deferred[IReadFile]:
        return _run(self._openRead, path, offset)

    def _openRead(self, path: Sequence[str], offset: int) -> IReadFile:
        if path and self._attrs(path)["directory"]:
            raise IsADirectoryError()
        if not path:
            raise IsADirectoryError()
        return _ReadFile(self._fs.openFile(_wire(path), sftpcodec.FXF_READ, {}), offset)

    def openForWriting(
        self, path: Sequence[str], offset: int = 0, append: bool = False
    ) -> defer.Deferred[IWriteFile]:
        return _run(self._openWrite, path, offset, append)

    def _openWrite(self, path: Sequence[str], offset: int, append: bool) -> IWriteFile:
        self._writing("store a file")
        if not path:
            raise IsADirectoryError()
        codec = sftpcodec
        flags = codec.FXF_WRITE | codec.FXF_CREAT
        if append:
            flags |= codec.FXF_APPEND
        elif offset == 0:
            flags |= codec.FXF_TRUNC
        file = self._fs.openFile(_wire(path), flags, {"permissions": 0o644})
        if append:
            offset = file.getAttrs()["size"]
        elif offset:
            file.setAttrs({"size": offset})  # REST: the rest is written from here
        return _WriteFile(file, offset)


class FTPAnonymousShell(FTPShell):
    """Anonymous users' shell: the root, read-only."""

    def __init__(self, anonymousRoot: str | os.PathLike[str]) -> None:
        super().__init__(anonymousRoot, readOnly=True)


@implementer(IRealm)
class BaseFTPRealm:
    """A realm of IFTPShell avatars: anonymous users get ``anonymousRoot`` read-only;
    others get ``getHomeDirectory(avatarId)`` (which subclasses define)."""

    def __init__(self, anonymousRoot: str | os.PathLike[str]) -> None:
        self.anonymousRoot = os.fspath(anonymousRoot)

    def getHomeDirectory(self, avatarId: bytes) -> str:
        raise NotImplementedError(f"{type(self).__name__} must define getHomeDirectory")

    def makeShell(self, avatarId: Any) -> IFTPShell:
        if avatarId is checkers.ANONYMOUS:
            return FTPAnonymousShell(self.anonymousRoot)
        return FTPShell(self.getHomeDirectory(avatarId))

    def requestAvatar(
        self, avatarId: Any, mind: Any, *interfaces: Any
    ) -> tuple[Any, Any, Callable[[], None]]:
        if IFTPShell not in interfaces:
            raise NotImplementedError(f"{type(self).__name__} gives only IFTPShell avatars")
        return IFTPShell, self.makeShell(avatarId), lambda: None


class FTPRealm(BaseFTPRealm):
    """Anonymous users read ``anonymousRoot``; user NAME gets ``userHome``/NAME.

    ``userHome`` None gives every user ``anonymousRoot`` itself (writable unless
    ``readOnly``). ``readOnly`` makes the users' shells read-only too.
    """

    def __init__(
        self,
        anonymousRoot: str | os.PathLike[str],
        userHome: str | os.PathLike[str] | None = "/home",
        readOnly: bool = False,
    ) -> None:
        super().__init__(anonymousRoot)
        self.userHome = None if userHome is None else os.fspath(userHome)
        self.readOnly = readOnly

    def getHomeDirectory(self, avatarId: bytes) -> str:
        if self.userHome is None:
            return self.anonymousRoot
        name = os.fsdecode(avatarId)
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"{name!r} cannot name a home directory")
        return os.path.join(self.userHome, name)

    def makeShell(self, avatarId: Any) -> IFTPShell:
        if avatarId is checkers.ANONYMOUS:
            return FTPAnonymousShell(self.anonymousRoot)
        return FTPShell(self.getHomeDirectory(avatarId), readOnly=self.readOnly)
