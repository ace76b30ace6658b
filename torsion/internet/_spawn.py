"""Starting a child process: finding the program, placing its descriptors, and exec.

``spawn`` starts a program with exactly the descriptors it is given (child number ->
our descriptor; every other descriptor is closed in the child) and reports every
failure to start it as an OSError raised here, in the parent, with a message that
says what to do: a missing program, one that is not executable, a directory that
does not exist, a user the child cannot switch to.

Two ways to start it:

- ``os.posix_spawn`` when no directory, user or new session is asked for: the C
  library starts the child without copying the parent (vfork), which is fast and
  runs no Python code in the child, so it is safe with threads;
- otherwise ``os.fork`` and a few ``os`` calls in the child before ``os.execve``
  (chdir, setgroups/setgid/setuid, setsid and the controlling terminal for a pty).
  The child runs only those calls, with everything it needs computed beforehand; a
  failure is written to a close-on-exec pipe that the parent reads until exec
  closes it.

Either way each descriptor is first copied (close-on-exec) above every number the
child will use, so that placing one descriptor can never overwrite another that is
still to be placed, and the signals Python ignores (SIGPIPE, SIGXFSZ) get their
default action back, as the standard library's subprocess does.
Tests: tests/internet/test_process.py (through spawnProcess).
"""

from __future__ import annotations

import errno
import fcntl
import os
import pwd
import signal
import termios
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["encodeArguments", "encodeEnvironment", "findExecutable", "spawn"]

# The signals Python sets to SIG_IGN at start-up; an ignored signal stays ignored
# across exec, and a program like `yes | head` relies on SIGPIPE killing it.
_RESET_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, name)
)

_Path = str | bytes | os.PathLike[str] | os.PathLike[bytes]


def _display(name: bytes) -> str:
    return repr(os.fsdecode(name))


def encodeArguments(args: Sequence[Any], executable: bytes) -> list[bytes]:
    """Return ``args`` as the child's argv (bytes); an empty ``args`` gives ``[executable]``.

    Raises:
        TypeError: for a string instead of a sequence, or an argument that is not text,
            bytes or a path.
        ValueError: for an argument containing a NUL byte.
    """
    if isinstance(args, str | bytes):
        raise TypeError(
            f"args must be a sequence of arguments, not one string: write {args.split()!r}"
            " (args[0] is the program's name)"
        )
    argv: list[bytes] = []
    for arg in args:
        if not isinstance(arg, str | bytes | os.PathLike):
            raise TypeError(
                f"process arguments must be str or bytes, not {type(arg).__name__} ({arg!r})"
            )
        encoded = os.fsencode(arg)
        if b"\0" in encoded:
            raise ValueError(f"process argument {arg!r} contains a NUL byte")
        argv.append(encoded)
    return argv or [executable]


def encodeEnvironment(env: Mapping[Any, Any] | None) -> dict[bytes, bytes]:
    """Return the child's environment as bytes; None means a copy of this process's.

    Raises:
        TypeError: for a name or value that is not str or bytes.
        ValueError: for a name containing '=' or NUL, or a value containing NUL.
    """
    if env is None:
        return dict(os.environb)
    encoded: dict[bytes, bytes] = {}
    for key, value in env.items():
        if not isinstance(key, str | bytes) or not isinstance(value, str | bytes):
            raise TypeError(
                f"environment names and values must be str or bytes, not "
                f"{type(key).__name__}: {type(value).__name__} ({key!r}: {value!r})"
            )
        name, text = os.fsencode(key), os.fsencode(value)
        if not name or b"=" in name or b"\0" in name:
            raise ValueError(f"invalid environment variable name {key!r}")
        if b"\0" in text:
            raise ValueError(f"the value of environment variable {key!r} contains a NUL byte")
        encoded[name] = text
    return encoded


def findExecutable(executable: _Path, env: Mapping[bytes, bytes]) -> bytes:
    """Return the path to run for ``executable``.

    A name with a slash is used as it is (relative to the child's directory). A bare
    name is looked up in the PATH of ``env`` if it has one, else in this process's
    PATH (else the system default, ``os.defpath``).

    Raises:
        FileNotFoundError: if a bare name is in no directory of that PATH.
        ValueError: for an empty name or one containing a NUL byte.
    """
    name = os.fsencode(executable)
    if not name or b"\0" in name:
        raise ValueError(f"invalid executable name {executable!r}")
    if b"/" in name:
        return name
    search = env.get(b"PATH")
    if search is None:
        search = os.environb.get(b"PATH", os.fsencode(os.defpath))
    for directory in search.split(b":"):
        candidate = os.path.join(directory or b".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(
        errno.ENOENT,
        f"cannot run {_display(name)}: no such program in PATH ({os.fsdecode(search)}); "
        "give the program's full path, or set PATH in env",
    )


def _failure(stage: str, code: int, executable: bytes, path: Any, uid: Any, gid: Any) -> OSError:
    """The OSError that explains why starting ``executable`` failed at ``stage``."""
    text = os.strerror(code) if code else "unknown error"
    what = _display(executable)
    if stage == "exec":
        hints = {
            errno.ENOENT: "no such file; check the path (relative paths start from the "
            "child's directory)",
            errno.EACCES: "permission denied; is it executable (chmod +x) and not a directory?",
            errno.ENOEXEC: "the file is not a program this system can run (a script needs "
            "a #! line)",
        }
        message = f"cannot run {what}: {hints.get(code, text)}"
    elif stage == "chdir":
        message = f"cannot run {what} in directory {path!r}: {text}"
    elif stage in ("setuid", "setgid", "setgroups"):
        message = (
            f"cannot run {what} as uid {uid} / gid {gid}: {stage} failed: {text} "
            "(only root can start processes as another user)"
        )
    elif stage == "tty":
        message = f"cannot run {what}: the pty could not become its controlling terminal: {text}"
    else:
        message = f"cannot run {what}: {stage} failed in the child: {text}"
    return OSError(code or errno.EINVAL, message)


def _openDescriptors() -> list[int]:
    """Return the descriptors open in this process (as far as the system tells)."""
    for directory in ("/proc/self/fd", "/dev/fd"):
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        try:
            return [int(name) for name in names]
        except ValueError:
            return [int(name) for name in names if name.isdigit()]
    return list(range(min(os.sysconf("SC_OPEN_MAX"), 4096)))


def _inheritableDescriptors() -> list[int]:
    """Return the open descriptors that a child would inherit.

    This lists every open descriptor, so it costs time in proportion to how many
    there are (about a microsecond each): the price of not leaking any to the child.
    """
    inheritable = []
    isInheritable = os.get_inheritable
    for fd in _openDescriptors():
        try:
            if isInheritable(fd):
                inheritable.append(fd)
        except OSError:
            pass  # The directory listing's own descriptor, closed since.
    return inheritable


def _copyAbove(fdMap: Mapping[int, int], floor: int) -> list[tuple[int, int]]:
    """Copy each of our descriptors to a close-on-exec one numbered ``floor`` or more.

    Returns:
        (child number, copy) pairs: placing them in any order cannot overwrite a copy.
    """
    copies: list[tuple[int, int]] = []
    try:
        for target, source in sorted(fdMap.items()):
            copies.append((target, fcntl.fcntl(source, fcntl.F_DUPFD_CLOEXEC, floor)))
    except OSError:
        for _, copy in copies:
            os.close(copy)
        raise
    return copies


def spawn(
    executable: bytes,
    argv: list[bytes],
    env: dict[bytes, bytes],
    fdMap: Mapping[int, int],
    path: _Path | None = None,
    uid: int | None = None,
    gid: int | None = None,
    newSession: bool = False,
    controllingTerminal: bool = False,
) -> int:
    """Start ``executable`` and return its process id.

    Args:
        executable: the program's path (see ``findExecutable``).
        argv: its arguments, ``argv[0]`` being its name.
        env: its whole environment.
        fdMap: child descriptor number -> our descriptor to put there; the caller
            still owns (and closes) its descriptors.
        path: the directory to start it in (None: ours).
        uid, gid: the user and group to run it as. A uid alone also switches to that
            user's primary group and supplementary groups, as logging in would.
        newSession: start it in a new session (setsid), as a pty needs.
        controllingTerminal: make its descriptor 0 (a terminal) its controlling one.

    Raises:
        OSError: (FileNotFoundError, PermissionError, ...) saying why it cannot start.
    """
    floor = max(fdMap, default=2) + 1
    copies = _copyAbove(fdMap, floor)
    # Our own descriptors are close-on-exec (PEP 446); these are the ones someone made
    # inheritable, which the child must not get unless fdMap gives them to it.
    toClose = [fd for fd in _inheritableDescriptors() if fd not in fdMap]
    try:
        simple = (
            path is None
            and uid is None
            and gid is None
            and not newSession
            and not controllingTerminal
            and hasattr(os, "posix_spawn")
        )
        if simple:
            return _posixSpawn(executable, argv, env, copies, toClose)
        return _forkExec(
            executable,
            argv,
            env,
            copies,
            toClose,
            floor,
            path,
            uid,
            gid,
            newSession,
            controllingTerminal,
        )
    finally:
        for _, copy in copies:
            os.close(copy)


def _posixSpawn(
    executable: bytes,
    argv: list[bytes],
    env: dict[bytes, bytes],
    copies: list[tuple[int, int]],
    toClose: list[int],
) -> int:
    actions: list[tuple[Any, ...]] = [
        (os.POSIX_SPAWN_DUP2, copy, target) for target, copy in copies
    ]
    actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in toClose]
    try:
        return os.posix_spawn(
            executable, argv, env, file_actions=actions, setsigmask=(), setsigdef=_RESET_SIGNALS
        )
    except OSError as e:
        raise _failure("exec", e.errno or 0, executable, None, None, None) from None


def _forkExec(
    executable: bytes,
    argv: list[bytes],
    env: dict[bytes, bytes],
    copies: list[tuple[int, int]],
    toClose: list[int],
    floor: int,
    path: _Path | None,
    uid: int | None,
    gid: int | None,
    newSession: bool,
    controllingTerminal: bool,
) -> int:
    groups: list[int] | None = None
    if uid is not None and os.geteuid() == 0:
        try:
            user = pwd.getpwuid(uid)
        except KeyError:
            groups = [gid] if gid is not None else []
        else:
            if gid is None:
                gid = user.pw_gid
            groups = os.getgrouplist(user.pw_name, gid)
    readEnd, firstWriteEnd = os.pipe()
    try:
        # Above every child number, so that placing them cannot overwrite it.
        writeEnd = fcntl.fcntl(firstWriteEnd, fcntl.F_DUPFD_CLOEXEC, floor)
    finally:
        os.close(firstWriteEnd)
    try:
        pid = os.fork()
        if pid == 0:  # pragma: no cover (runs in the child, which execs or exits)
            _child(
                executable,
                argv,
                env,
                copies,
                toClose,
                writeEnd,
                path,
                uid,
                gid,
                groups,
                newSession,
                controllingTerminal,
            )
        os.close(writeEnd)
        writeEnd = -1
        report = b""
        while chunk := os.read(readEnd, 256):
            report += chunk
    finally:
        if writeEnd != -1:
            os.close(writeEnd)
        os.close(readEnd)
    if not report:
        return pid
    os.waitpid(pid, 0)  # It exits at once after reporting: leave no zombie.
    stage, _, code = report.decode("ascii", "replace").partition(":")
    raise _failure(stage, int(code) if code.isdigit() else 0, executable, path, uid, gid)


def _child(
    executable: bytes,
    argv: list[bytes],
    env: dict[bytes, bytes],
    copies: list[tuple[int, int]],
    toClose: list[int],
    errorPipe: int,
    path: _Path | None,
    uid: int | None,
    gid: int | None,
    groups: list[int] | None,
    newSession: bool,
    controllingTerminal: bool,
) -> None:  # pragma: no cover (runs in the child)
    """In the forked child: set up, then exec; on failure report the stage and errno."""
    stage = "setup"
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, ())
        for number in _RESET_SIGNALS:
            signal.signal(number, signal.SIG_DFL)
        if newSession:
            stage = "setsid"
            os.setsid()
        stage = "dup2"
        for target, copy in copies:
            os.dup2(copy, target)
        for fd in toClose:
            try:
                os.close(fd)
            except OSError:
                pass  # Closed by another thread since the parent listed it.
        if controllingTerminal:
            stage = "tty"
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        if path is not None:
            stage = "chdir"
            os.chdir(path)
        if groups is not None:
            stage = "setgroups"
            os.setgroups(groups)
        if gid is not None:
            stage = "setgid"
            os.setgid(gid)
        if uid is not None:
            stage = "setuid"
            os.setuid(uid)
        stage = "exec"
        os.execve(executable, argv, env)
    except BaseException as e:
        code = getattr(e, "errno", None) or 0
        try:
            os.write(errorPipe, f"{stage}:{code}".encode("ascii"))
        except BaseException:
            pass
    finally:
        os._exit(127)
