"""SSH logins as system users: shells and commands that run as the user, in their home
directory, with a real pseudo-terminal when one is asked for (torsion.conch.unix).

`UnixSSHRealm` gives each login a `UnixConchUser` for the system user of that name
(from the password database): their uid, gid, home and shell. Running as root, the
server starts the user's processes as that user; running as anyone else, it can only
start them as itself, so it refuses logins of other users (say so to whoever
configures it: the error names the user). `SSHSessionForUnixConchUser` is the
ISession: ``openShell`` runs the user's shell as a login shell, ``execCommand`` runs
``shell -c command``, each on a pty after a pty-req (window size set on it, and
changed by window-change) and on pipes otherwise; env requests are accepted only for
LANG and LC_* (as OpenSSH's AcceptEnv is usually set), signals are passed on, and
closing the channel hangs up the process. Port forwarding (ssh -L and -R) is on,
through torsion.conch.ssh.forwarding. The "sftp" subsystem is on unless the realm is
made with ``sftpRoot=None``: each user gets ``sftpRoot`` ("~" for their home, the
default; "%u" in a path becomes the user name) as "/", no path leaves it, and every
operation runs with the user's identity (torsion.conch._sftpunix).
Tests: tests/conch/test_unix.py, tests/conch/test_sftp_server.py.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import struct
import termios
from typing import Any

from zope.interface import implementer

from torsion.conch._sftpunix import AsUser, UserSFTPServer
from torsion.conch.avatar import ConchUser
from torsion.conch.interfaces import IConchUser, ISession, ISessionSetEnv, ISFTPServer
from torsion.conch.ssh import filetransfer, forwarding, session
from torsion.cred.error import UnauthorizedLogin
from torsion.cred.portal import IRealm
from torsion.logger import Logger
from torsion.python import components

__all__ = ["HOME", "SSHSessionForUnixConchUser", "UnixConchUser", "UnixSSHRealm"]

_log = Logger()
_DEFAULT_PATH = b"/usr/local/bin:/usr/bin:/bin"
#: The sftpRoot that means each user's home directory.
HOME = "~"


class UnixConchUser(ConchUser, forwarding.ForwardingUser):
    """A system user logged in over SSH (Twisted's UnixConchUser)."""

    def __init__(self, username: str, reactor: Any = None, sftpRoot: str | None = None) -> None:
        super().__init__()
        entry = pwd.getpwnam(username)
        self.username = username
        self.uid, self.gid = entry.pw_uid, entry.pw_gid
        self.home = entry.pw_dir
        self.shell = entry.pw_shell or "/bin/sh"
        self.reactor = reactor
        self.channelLookup[b"session"] = session.SSHSession
        self.enableForwarding()
        self.sftpRoot: str | None = None
        if sftpRoot is not None:
            self.sftpRoot = self.home if sftpRoot == HOME else sftpRoot.replace("%u", username)
            self.subsystemLookup[b"sftp"] = filetransfer.FileTransferServer

    def lookupSubsystem(self, subsystem: bytes, data: bytes) -> Any:
        try:
            return super().lookupSubsystem(subsystem, data)
        except (OSError, ValueError) as e:
            _log.warn(
                "{user}: no {name} subsystem: {why}", user=self.username, name=subsystem, why=e
            )
            return None

    def sftpServer(self) -> UserSFTPServer:
        """The files this user sees over SFTP: sftpRoot, with the user's rights."""
        if self.sftpRoot is None:
            raise ValueError("SFTP is off")
        groups = os.getgrouplist(self.username, self.gid)
        return UserSFTPServer(self.sftpRoot, AsUser(self.uid, self.gid, groups))

    def getUserGroupId(self) -> tuple[int, int]:
        return self.uid, self.gid

    def getHomeDir(self) -> str:
        return self.home

    def getShell(self) -> str:
        return self.shell

    def _switch(self) -> tuple[int | None, int | None]:
        """The uid and gid to start processes with: the user's, when we may switch."""
        if os.geteuid() == 0:
            return self.uid, self.gid
        return None, None

    def logout(self) -> None:
        self.stopForwarding()


@implementer(ISession, ISessionSetEnv)
class SSHSessionForUnixConchUser:
    """What a session channel runs for a UnixConchUser."""

    acceptedEnvironment = (b"LANG", b"LC_")

    def __init__(self, avatar: UnixConchUser, reactor: Any = None) -> None:
        self.avatar = avatar
        self.reactor = reactor or avatar.reactor
        self.environment: dict[bytes, bytes] = {}
        self.pty: tuple[bytes, tuple[int, int, int, int]] | None = None
        self.process: Any = None

    def _reactor(self) -> Any:
        if self.reactor is None:
            from torsion.internet import reactor

            return reactor
        return self.reactor

    def getPty(self, term: bytes, windowSize: tuple[int, int, int, int], modes: list[Any]) -> None:
        self.pty = (term, windowSize)

    def setEnv(self, name: bytes, value: bytes) -> None:
        if not name.startswith(self.acceptedEnvironment) or b"=" in name:
            raise ValueError(f"the environment variable {name!r} is not accepted")
        self.environment[name] = value

    def _environment(self) -> dict[bytes, bytes]:
        user = self.avatar.username.encode()
        env = {
            b"HOME": self.avatar.home.encode(),
            b"USER": user,
            b"LOGNAME": user,
            b"SHELL": self.avatar.shell.encode(),
            b"PATH": _DEFAULT_PATH,
            **self.environment,
        }
        if self.pty is not None and self.pty[0]:
            env[b"TERM"] = self.pty[0]
        return env

    def _spawn(self, proto: Any, args: list[bytes]) -> None:
        uid, gid = self.avatar._switch()
        shell = self.avatar.shell.encode()
        self.process = self._reactor().spawnProcess(
            proto,
            shell,
            args,
            env=self._environment(),
            path=self.avatar.home,
            uid=uid,
            gid=gid,
            usePTY=self.pty is not None,
        )
        if self.pty is not None:
            self.windowChanged(self.pty[1])

    def openShell(self, proto: Any) -> None:
        # A leading "-" in argv[0] makes it a login shell (profile files are read).
        name = b"-" + os.path.basename(self.avatar.shell).encode()
        self._spawn(proto, [name])

    def execCommand(self, proto: Any, command: bytes) -> None:
        self._spawn(proto, [os.path.basename(self.avatar.shell).encode(), b"-c", command])

    def windowChanged(self, newWindowSize: tuple[int, int, int, int]) -> None:
        if self.pty is not None:
            self.pty = (self.pty[0], newWindowSize)
        if self.process is None or self.pty is None:
            return
        rows, cols, xpixels, ypixels = newWindowSize
        try:
            fcntl.ioctl(
                self.process.fileno(),
                termios.TIOCSWINSZ,
                struct.pack("4H", rows & 0xFFFF, cols & 0xFFFF, xpixels & 0xFFFF, ypixels & 0xFFFF),
            )
        except OSError as e:
            _log.info("could not set the window size: {why}", why=e)

    def signal(self, name: bytes) -> None:
        if self.process is not None and self.process.pid is not None:
            self.process.signalProcess(name.decode("ascii"))

    def eofReceived(self) -> None:
        if self.process is not None and self.pty is None:
            self.process.closeStdin()

    def closed(self) -> None:
        if self.process is not None and self.process.pid is not None:
            try:
                self.process.signalProcess("HUP")
            except OSError:
                pass
            self.process.loseConnection()


components.registerAdapter(SSHSessionForUnixConchUser, UnixConchUser, ISession)
components.registerAdapter(UnixConchUser.sftpServer, UnixConchUser, ISFTPServer)


@implementer(IRealm)
class UnixSSHRealm:
    """Logins become the system users of their names; ``sftpRoot`` is what they see
    over SFTP (HOME: their home directory; None: no SFTP)."""

    def __init__(self, reactor: Any = None, sftpRoot: str | None = HOME) -> None:
        self.reactor = reactor
        self.sftpRoot = sftpRoot

    def requestAvatar(self, avatarId: bytes, mind: object, *interfaces: Any) -> Any:
        if IConchUser not in interfaces:
            raise NotImplementedError("UnixSSHRealm only gives IConchUser avatars")
        username = avatarId.decode("utf-8", "replace")
        try:
            user = UnixConchUser(username, self.reactor, self.sftpRoot)
        except KeyError:
            raise UnauthorizedLogin(f"{username} is not a user of this system") from None
        if os.geteuid() != 0 and user.uid != os.geteuid():
            raise UnauthorizedLogin(
                f"{username} cannot log in: this server does not run as root, so it can "
                "only start processes as its own user"
            )
        return IConchUser, user, user.logout
