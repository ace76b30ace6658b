"""Small process helpers: naming users and groups, and switching to them.

torsiond takes ``--uid``/``--gid`` as names or numbers (``uidFromString``,
``gidFromString``) and, once its ports are bound, switches to them with
``switchUID``, which also sets the supplementary groups of the new user so that no
group of root's is kept by mistake.
Tests: tests/python/test_util.py.
"""

from __future__ import annotations

import os

try:
    import grp
    import pwd
except ImportError:  # pragma: no cover - Windows
    pwd = None  # type: ignore[assignment]
    grp = None  # type: ignore[assignment]

__all__ = ["gidFromString", "switchUID", "uidFromString"]


def uidFromString(uidString: str) -> int:
    """Return the user id that ``uidString`` (a number or a user name) names.

    Raises:
        ValueError: no such user.
    """
    try:
        return int(uidString)
    except ValueError:
        pass
    if pwd is None:
        raise ValueError(f"cannot look up the user {uidString!r} on this system; give a number")
    try:
        return pwd.getpwnam(uidString).pw_uid
    except KeyError:
        raise ValueError(f"there is no user named {uidString!r}") from None


def gidFromString(gidString: str) -> int:
    """Return the group id that ``gidString`` (a number or a group name) names.

    Raises:
        ValueError: no such group.
    """
    try:
        return int(gidString)
    except ValueError:
        pass
    if grp is None:
        raise ValueError(f"cannot look up the group {gidString!r} on this system; give a number")
    try:
        return grp.getgrnam(gidString).gr_gid
    except KeyError:
        raise ValueError(f"there is no group named {gidString!r}") from None


def switchUID(uid: int | None, gid: int | None, euid: bool = False) -> None:
    """Become ``uid`` and ``gid`` (None: keep the current one).

    When switching user, the supplementary groups become the new user's (from the
    group database, with ``gid`` or the user's primary group); only root may do
    that, so an unprivileged process can only "switch" to itself. With ``euid``, only
    the effective ids change, so the process can switch back.

    Raises:
        PermissionError: the process may not switch to these ids.
    """
    setuid = os.seteuid if euid else os.setuid
    setgid = os.setegid if euid else os.setgid
    current = os.geteuid() if euid else os.getuid()
    if uid is not None and uid != current and pwd is not None:
        try:
            entry = pwd.getpwuid(uid)
        except KeyError:
            os.setgroups([gid if gid is not None else os.getgid()])
        else:
            os.initgroups(entry.pw_name, gid if gid is not None else entry.pw_gid)
    if gid is not None:
        setgid(gid)
    if uid is not None:
        setuid(uid)
