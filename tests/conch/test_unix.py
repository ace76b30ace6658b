"""Tests for torsion.conch.unix: the system-user avatar, its session and its realm."""

from __future__ import annotations

import fcntl
import os
import pwd
import struct
import termios
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil
from torsion.conch.interfaces import IConchUser, ISession
from torsion.conch.unix import SSHSessionForUnixConchUser, UnixConchUser, UnixSSHRealm
from torsion.cred.error import UnauthorizedLogin
from torsion.internet.protocol import ProcessProtocol

oneReactor = reactormixins.oneReactor
ME = pwd.getpwuid(os.geteuid())


def test_theAvatarIsTheSystemUser() -> None:
    user = UnixConchUser(ME.pw_name)
    assert user.getUserGroupId() == (ME.pw_uid, ME.pw_gid)
    assert user.getHomeDir() == ME.pw_dir and user.getShell() == (ME.pw_shell or "/bin/sh")
    assert b"session" in user.channelLookup and b"direct-tcpip" in user.channelLookup
    assert isinstance(ISession(user), SSHSessionForUnixConchUser)


def test_realmRefusesUsersThatDoNotExist() -> None:
    realm = UnixSSHRealm()
    interface, avatar, logout = realm.requestAvatar(ME.pw_name.encode(), None, IConchUser)
    assert interface is IConchUser and avatar.username == ME.pw_name
    logout()
    with pytest.raises(UnauthorizedLogin, match="not a user of this system"):
        realm.requestAvatar(b"no-such-user-here", None, IConchUser)


def test_onlyLanguageVariablesAreAccepted() -> None:
    session = SSHSessionForUnixConchUser(UnixConchUser(ME.pw_name))
    session.setEnv(b"LANG", b"C.UTF-8")
    session.setEnv(b"LC_TIME", b"C")
    for name in (b"LD_PRELOAD", b"PATH", b"LC_X=Y"):
        with pytest.raises(ValueError, match="not accepted"):
            session.setEnv(name, b"x")
    session.getPty(b"xterm", (24, 80, 0, 0), [])
    env = session._environment()
    assert env[b"LANG"] == b"C.UTF-8" and env[b"TERM"] == b"xterm"
    assert env[b"HOME"] == ME.pw_dir.encode() and env[b"USER"] == ME.pw_name.encode()


class Collect(ProcessProtocol):
    def __init__(self) -> None:
        self.output = b""
        self.ended = False

    def outReceived(self, data: bytes) -> None:
        self.output += data

    def processEnded(self, reason: Any) -> None:
        self.ended = True


def test_aPtyGetsTheWindowSize(oneReactor: Any) -> None:
    session = SSHSessionForUnixConchUser(UnixConchUser(ME.pw_name), oneReactor)
    session.getPty(b"vt100", (33, 101, 0, 0), [])
    proto = Collect()
    session.execCommand(proto, b"stty size; sleep 0.3; stty size")
    session.windowChanged((40, 120, 0, 0))
    rows, cols, _, _ = struct.unpack(
        "4H", fcntl.ioctl(session.process.fileno(), termios.TIOCGWINSZ, bytes(8))
    )
    assert (rows, cols) == (40, 120)
    runUntil(oneReactor, lambda: proto.ended, timeout=10)
    sizes = proto.output.decode().split()
    assert sizes[-2:] == ["40", "120"]
