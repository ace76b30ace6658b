"""The file-system side of UNIX sockets: names, binding, stale sockets, pid lock files.

torsion.internet.unix binds its stream and datagram sockets through ``bindUNIX``,
which turns every way a path can be unusable into a CannotListenError that says why
and what to do, removes a socket file that nobody listens on any more, and applies
the socket file's mode. ``PIDLock`` is ``listenUNIX(..., wantPID=True)``'s lock file;
``peerCredentials`` asks the kernel who is at the other end of a connection.

Stale socket files: a server that dies without closing its port leaves its socket
file behind, and binding to that path fails until someone removes it. When bind says
the path is taken, the file is probed with a connect of the same socket type:
refused means nobody listens, so the file is stale and is removed; anything else
(a live server, a file that is not a socket, a probe that cannot tell) is reported
and the file is left alone. The probe is a real connection attempt, so a live server
sees one connection open and close; and a server that has bound but not yet called
listen() looks stale for that instant.
Tests: tests/internet/test_unix.py and tests/internet/test_unixdatagram.py.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import struct
import sys
from typing import Any, NamedTuple

from torsion.internet import error

# What callers may name a socket with.
_Name = str | bytes | os.PathLike[str] | os.PathLike[bytes]

__all__ = ["PIDLock", "PeerCredentials", "bindUNIX", "isAbstract", "peerCredentials", "socketName"]

# Bytes in sockaddr_un.sun_path: a path must fit with its terminating NUL; a Linux
# abstract name (which starts with a NUL and has none at the end) may fill it.
_SUN_PATH_SIZE = 104 if sys.platform == "darwin" or "bsd" in sys.platform else 108
_FILE_KINDS = {
    stat.S_IFREG: "a regular file",
    stat.S_IFDIR: "a directory",
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFIFO: "a named pipe",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def socketName(address: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> str:
    """Return ``address`` as the text name torsion binds and connects with.

    Bytes are decoded with ``os.fsdecode``, which the socket module encodes back to
    the same bytes.

    Raises:
        ValueError: the name is empty, or a path with a NUL inside it (the kernel
            would silently use the part before the NUL).
        TypeError: it is neither text, bytes nor a path-like object.
    """
    if not isinstance(address, str | bytes | os.PathLike):
        raise TypeError(
            f"a UNIX socket address is a path (str, bytes or os.PathLike), "
            f"not {type(address).__name__}"
        )
    name = os.fsdecode(address)
    if not name:
        raise ValueError(
            "a UNIX socket address cannot be empty; give a path such as '/tmp/app.sock'"
        )
    if not isAbstract(name) and "\0" in name:
        raise ValueError(
            f"the UNIX socket path {name!r} has a NUL character inside it; "
            "only an abstract name (Linux) may contain one, and it must start with it"
        )
    return name


def isAbstract(name: str) -> bool:
    """Return True if ``name`` is in Linux's abstract namespace (it starts with a NUL)."""
    return name.startswith("\0")


def nameProblem(name: str) -> OSError | None:
    """Return why ``name`` cannot name a UNIX socket here (errno and text), or None."""
    size = len(os.fsencode(name))
    if isAbstract(name):
        if not sys.platform.startswith("linux"):
            return OSError(
                errno.EINVAL,
                f"abstract socket names (a leading NUL) exist only on Linux, not on "
                f"{sys.platform}; use a filesystem path",
            )
        if size > _SUN_PATH_SIZE:
            return OSError(
                errno.ENAMETOOLONG,
                f"the abstract name is {size} bytes long, and the most a UNIX socket "
                f"name can have is {_SUN_PATH_SIZE}; use a shorter name",
            )
        return None
    if size >= _SUN_PATH_SIZE:
        return OSError(
            errno.ENAMETOOLONG,
            f"the path is {size} bytes long, and the most a UNIX socket path can have "
            f"here is {_SUN_PATH_SIZE - 1}; use a shorter path (a shorter directory, "
            "or a relative path from a nearby working directory)",
        )
    return None


def _directoryOf(name: str) -> str:
    return os.path.dirname(os.path.abspath(name))


def listenError(name: str, e: OSError) -> error.CannotListenError:
    """Return the CannotListenError for ``e``, raised binding to (or locking) ``name``."""
    code = e.errno
    where = _directoryOf(name)
    if code == errno.EADDRINUSE:
        what = "name" if isAbstract(name) else "path"
        hint = f"the {what} is in use by another socket; stop its server, or choose another {what}"
    elif code in (errno.EACCES, errno.EPERM):
        hint = (
            f"this user may not create files in {where!r}; choose a directory it can "
            "write to (such as $XDG_RUNTIME_DIR or /tmp), or change the directory's "
            "permissions"
        )
    elif code == errno.ENOENT:
        hint = f"the directory {where!r} does not exist; create it first, or choose another path"
    elif code == errno.ENOTDIR:
        hint = "a part of the path that should be a directory is not one; check the path"
    elif code == errno.EROFS:
        hint = f"{where!r} is on a read-only filesystem; choose a path on a writable one"
    elif code == errno.ENAMETOOLONG:
        hint = "a part of the path is too long; use shorter names"
    elif code in (errno.EMFILE, errno.ENFILE):
        hint = "too many open files; close some or raise the limit (ulimit -n)"
    else:
        hint = "check the path"
    return error.CannotListenError(None, name, OSError(code, f"{e.strerror or e}: {hint}"))


def _inUse(name: str, why: str) -> error.CannotListenError:
    return error.CannotListenError(None, name, OSError(errno.EADDRINUSE, why))


def _probe(name: str, socketType: int) -> int:
    """Try to connect to ``name``; return the errno (0: something accepted it)."""
    with socket.socket(socket.AF_UNIX, socketType) as probe:
        probe.setblocking(False)
        return probe.connect_ex(name)


def _removeIfStale(name: str, socketType: int) -> None:
    """``name`` exists: remove it if it is a socket nobody uses, else explain.

    Raises:
        CannotListenError: it is in use, is not a socket, or cannot be checked.
    """
    try:
        st = os.lstat(name)
    except FileNotFoundError:
        return  # Gone in the meantime: bind again.
    except OSError as e:
        raise listenError(name, e) from e
    if not stat.S_ISSOCK(st.st_mode):
        kind = _FILE_KINDS.get(stat.S_IFMT(st.st_mode), "not a socket")
        raise _inUse(
            name,
            f"the path exists and is {kind}, not a socket; remove it if it is not "
            "needed, or choose another path",
        )
    code = _probe(name, socketType)
    if code == errno.ECONNREFUSED:
        try:
            os.unlink(name)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise listenError(name, e) from e
        return
    if code == errno.ENOENT:
        return
    if code in (0, errno.EAGAIN, errno.EINPROGRESS, errno.EPROTOTYPE):
        raise _inUse(
            name,
            "the socket path is in use: another socket listens on it; stop that "
            "server, or choose another path",
        )
    raise _inUse(
        name,
        f"the socket path exists and whether anything still listens on it cannot be "
        f"checked ({os.strerror(code)}); remove it if it is stale, or choose another path",
    )


def bindUNIX(sock: socket.socket, name: str, mode: int) -> tuple[int, int] | None:
    """Bind ``sock`` to ``name`` (removing a stale socket file first) and chmod it ``mode``.

    Returns:
        The (st_dev, st_ino) of the socket file made, so that only that file is
        removed later; None for an abstract name, which has no file.

    Raises:
        CannotListenError: saying why and what to do.
    """
    problem = nameProblem(name)
    if problem is not None:
        raise error.CannotListenError(None, name, problem)
    try:
        sock.bind(name)
    except OSError as e:
        if e.errno != errno.EADDRINUSE or isAbstract(name):
            raise listenError(name, e) from e
        _removeIfStale(name, sock.type)
        try:
            sock.bind(name)
        except OSError as again:
            raise listenError(name, again) from again
    if isAbstract(name):
        return None
    try:
        os.chmod(name, mode)
        st = os.stat(name)
    except OSError as e:
        _unlinkQuietly(name)
        raise error.CannotListenError(
            None,
            name,
            OSError(e.errno, f"could not give the socket file mode {mode:o}: {e.strerror}"),
        ) from e
    return (st.st_dev, st.st_ino)


def removeSocketFile(name: str, identity: tuple[int, int] | None) -> None:
    """Remove the socket file ``bindUNIX`` made, unless something else replaced it."""
    if identity is None:
        return
    try:
        st = os.lstat(name)
    except OSError:
        return
    if (st.st_dev, st.st_ino) == identity:
        _unlinkQuietly(name)


def _unlinkQuietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _processAlive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # Someone else's process, but alive.
    return True


def lockOwner(lockPath: str) -> int | None:
    """Return the pid written in the lock file ``lockPath``, or None if none is readable."""
    try:
        with open(lockPath, "rb") as f:
            text = f.read(32)
    except OSError:
        return None
    try:
        pid = int(text.strip())
    except ValueError:
        return None
    return pid if pid > 0 else None


def lockHeld(lockPath: str) -> bool:
    """Return True if a live process owns the lock file ``lockPath``."""
    pid = lockOwner(lockPath)
    return pid is not None and _processAlive(pid)


class PIDLock:
    """The lock file of a UNIX socket path (``path`` + ".lock") holding the owner's pid.

    It is made atomically with its content (written to a private file, then hard
    linked into place), so a reader never sees it half written. A lock whose pid is
    no longer alive (the owner died without cleaning up), or that holds no pid at
    all, is stale and taken over.
    """

    __slots__ = ("held", "path", "socketPath")

    def __init__(self, socketPath: str) -> None:
        self.socketPath = socketPath
        self.path = socketPath + ".lock"
        self.held = False

    def acquire(self) -> None:
        """Take the lock for this process.

        Raises:
            CannotListenError: a live process holds it, or the file cannot be made.
        """
        for _ in range(5):
            if self._create():
                self.held = True
                return
            pid = lockOwner(self.path)
            if pid is not None and _processAlive(pid):
                whose = "this process" if pid == os.getpid() else f"process {pid}"
                raise _inUse(
                    self.socketPath,
                    f"the socket path is in use by {whose}, which holds its lock file "
                    f"{self.path!r}; stop that server, or, if process {pid} is not it, "
                    "remove the lock file",
                )
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            except OSError as e:
                raise listenError(self.path, e) from e
        raise _inUse(
            self.socketPath,
            f"the lock file {self.path!r} kept reappearing while a stale one was being "
            "removed; another server is starting on this path",
        )

    def _create(self) -> bool:
        """Make the lock file with this pid in it; False if one exists already."""
        private = f"{self.path}.{os.getpid()}.{id(self):x}"
        try:
            fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, b"%d\n" % os.getpid())
            finally:
                os.close(fd)
            try:
                os.link(private, self.path)
            except FileExistsError:
                return False
        except OSError as e:
            raise listenError(self.path, e) from e
        finally:
            _unlinkQuietly(private)
        return True

    def release(self) -> None:
        """Remove the lock file, if this process still owns it."""
        if self.held:
            self.held = False
            if lockOwner(self.path) == os.getpid():
                _unlinkQuietly(self.path)


class PeerCredentials(NamedTuple):
    """Who is at the other end of a UNIX connection, as the kernel saw it at connect().

    ``pid`` is None where the platform does not say (the BSDs).
    """

    pid: int | None
    uid: int
    gid: int


def peerCredentials(sock: socket.socket) -> PeerCredentials:
    """Ask the kernel for the credentials of ``sock``'s peer.

    Linux and OpenBSD answer with SO_PEERCRED; macOS and the other BSDs with
    getpeereid(3) (and, on macOS, LOCAL_PEERPID for the pid).

    Raises:
        OSError: the socket is closed or not connected.
        NotImplementedError: the platform has no way to ask.
    """
    if sys.platform.startswith("linux"):
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("iII"))
        pid, uid, gid = struct.unpack("iII", raw)
        return PeerCredentials(pid or None, uid, gid)
    if sys.platform.startswith("openbsd"):
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("IIi"))
        uid, gid, pid = struct.unpack("IIi", raw)
        return PeerCredentials(pid or None, uid, gid)
    return _peerEid(sock)


def _peerEid(sock: socket.socket) -> PeerCredentials:
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    getpeereid = getattr(libc, "getpeereid", None)
    if getpeereid is None:
        raise NotImplementedError(
            f"this platform ({sys.platform}) cannot tell a UNIX socket's peer"
        )
    uid, gid = ctypes.c_uint32(), ctypes.c_uint32()
    if getpeereid(sock.fileno(), ctypes.byref(uid), ctypes.byref(gid)) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    pid: int | None = None
    if sys.platform == "darwin":
        localPeerPid = 0x002  # LOCAL_PEERPID, at level SOL_LOCAL (0)
        pid = struct.unpack("i", sock.getsockopt(0, localPeerPid, 4))[0] or None
    return PeerCredentials(pid, uid.value, gid.value)


def _defaultReactor(reactor: Any) -> Any:
    if reactor is None:
        from torsion.internet import reactor as installed

        return installed
    return reactor


def _connectError(name: str, code: int, kind: str = "stream") -> error.ConnectError:
    """Return the ConnectError for connecting to the UNIX socket ``name`` failing with ``code``."""
    osError = errno.errorcode.get(code, str(code))
    if code == errno.ECONNREFUSED:
        return error.ConnectionRefusedError(
            osError=osError,
            string=f"nothing listens on {name!r}: the socket file is left from a server "
            "that stopped; start the server again",
        )
    if code == errno.ENOENT:
        text = f"there is no socket {name!r}; start the server, or check the path"
    elif code == errno.ENOTDIR:
        text = f"a part of the path {name!r} that should be a directory is not one"
    elif code in (errno.EACCES, errno.EPERM):
        text = (
            f"this user may not connect to {name!r}; see the socket file's mode and "
            "its directory's permissions"
        )
    elif code == errno.EPROTOTYPE:
        other = "a datagram" if kind == "stream" else "a stream"
        text = f"{name!r} is {other} socket, not a {kind} socket"
    else:
        return error.ConnectError(osError=osError, string=f"{os.strerror(code)} ({name!r})")
    return error.BadFileError(osError=osError, string=text)
