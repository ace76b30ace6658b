"""The manhole (or any insults terminal program) over SSH (Twisted's conch.manhole_ssh).

`TerminalRealm` gives each SSH login a `TerminalUser`, an avatar with a "session"
channel whose shell is a terminal program: a pty-req gives the size, the shell
request starts ``chainedProtocolFactory()`` (by default an insults ServerProtocol
running a ColoredManhole over ``namespace``), window-change requests resize it, and
the program's ``loseConnection`` (Control-D in the manhole) ends the session with
exit status 0. Commands (``ssh host command``) are refused with a message on stderr
and exit status 1: there is nothing but the shell. `ConchFactory(portal)` is an
SSHFactory with the userauth and connection services over that portal; give it
host keys (``privateKeys``). Tests: tests/conch/test_manhole_ssh.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zope.interface import implementer

from torsion.conch import avatar, manhole
from torsion.conch.insults import insults
from torsion.conch.interfaces import IConchUser, ISession
from torsion.conch.ssh import connection, factory, session, userauth
from torsion.cred.portal import IRealm
from torsion.internet import error
from torsion.python import components
from torsion.python.failure import Failure

__all__ = [
    "ConchFactory",
    "TerminalRealm",
    "TerminalSession",
    "TerminalSessionTransport",
    "TerminalUser",
]


class _ProcessEnd:
    """What the terminal program writes to: the session's process protocol (its
    stdout is the channel's data), and its end is the process's end."""

    def __init__(self, proto: Any, avatar: TerminalUser) -> None:
        self.proto = proto
        self.avatar = avatar
        self.ended = False

    def write(self, data: bytes) -> None:
        if not self.ended:
            self.proto.outReceived(data)

    def writeSequence(self, data: Any) -> None:
        self.write(b"".join(data))

    def loseConnection(self) -> None:
        if not self.ended:
            self.ended = True
            self.proto.processEnded(Failure(error.ProcessDone(0)))

    def getPeer(self) -> Any:
        return self.proto.session.getPeer()

    def getHost(self) -> Any:
        return self.proto.session.getHost()

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.proto.session.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        self.proto.session.unregisterProducer()


class TerminalSessionTransport:
    """Connects a session's process protocol ``proto`` and a terminal program
    (``chainedProtocol``, an insults ServerProtocol) both ways, at ``width`` by ``height``."""

    def __init__(
        self, proto: Any, chainedProtocol: Any, avatar: TerminalUser, width: int, height: int
    ) -> None:
        self.proto = proto
        self.chainedProtocol = chainedProtocol
        self.end = _ProcessEnd(proto, avatar)
        chainedProtocol.makeConnection(self.end)
        proto.makeConnection(session.wrapProtocol(chainedProtocol))
        chainedProtocol.terminalSize(width, height)

    def loseConnection(self) -> None:
        self.end.loseConnection()


class TerminalUser(avatar.ConchUser):
    """An SSH login whose only shell is a terminal program (no commands, no forwarding)."""

    def __init__(
        self,
        username: bytes,
        chainedProtocolFactory: Callable[[], Any],
        transportFactory: Callable[..., Any] = TerminalSessionTransport,
    ) -> None:
        super().__init__()
        self.username = username
        self.chainedProtocolFactory = chainedProtocolFactory
        self.transportFactory = transportFactory
        self.channelLookup[b"session"] = session.SSHSession
        self.sessions: list[TerminalSession] = []

    def logout(self) -> None:
        for running in list(self.sessions):
            running.closed()


class _RefusedCommand:
    """The "process" of a refused command: it takes no input."""

    def write(self, data: bytes) -> None:
        pass

    def closeStdin(self) -> None:
        pass

    def loseConnection(self) -> None:
        pass

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass


@implementer(ISession)
class TerminalSession(components.Adapter):
    """The ISession of a TerminalUser: a shell that is its terminal program."""

    width, height = 80, 24
    transport: TerminalSessionTransport | None = None

    def getPty(self, term: bytes, windowSize: tuple[int, int, int, int], modes: list[Any]) -> None:
        self.height, self.width = windowSize[0] or 24, windowSize[1] or 80

    def openShell(self, proto: Any) -> None:
        user: TerminalUser = self.original
        self.transport = user.transportFactory(
            proto, user.chainedProtocolFactory(), user, self.width, self.height
        )
        user.sessions.append(self)

    def execCommand(self, proto: Any, command: bytes) -> None:
        proto.makeConnection(_RefusedCommand())
        proto.errReceived(b"this is a Python shell (a manhole): it runs no commands; log in "
                          b"without one, with a terminal (ssh -t)\r\n")  # fmt: skip
        proto.processEnded(Failure(error.ProcessTerminated(exitCode=1)))

    def windowChanged(self, newWindowSize: tuple[int, int, int, int]) -> None:
        self.height, self.width = newWindowSize[0], newWindowSize[1]
        if self.transport is not None:
            self.transport.chainedProtocol.terminalSize(self.width, self.height)

    def eofReceived(self) -> None:
        self.closed()

    def closed(self) -> None:
        if self.transport is not None:
            running, self.transport = self.transport, None
            running.chainedProtocol.connectionLost(Failure(error.ConnectionDone("ssh closed")))
            running.loseConnection()
            user: TerminalUser = self.original
            if self in user.sessions:
                user.sessions.remove(self)


components.registerAdapter(TerminalSession, TerminalUser, ISession)


def _manholeProtocol(namespace: dict[str, Any]) -> Callable[[], Any]:
    return lambda: insults.ServerProtocol(manhole.ColoredManhole, namespace)


@implementer(IRealm)
class TerminalRealm:
    """Logins become TerminalUsers running ``chainedProtocolFactory()`` as their shell.

    Set ``chainedProtocolFactory`` to a callable that makes an insults ServerProtocol
    around your terminal program; by default it is a ColoredManhole over
    ``namespace`` (keyword only; a new empty one if not given; every login shares
    it). ``transportFactory`` is Twisted's positional argument: what connects the
    session to the program (TerminalSessionTransport).
    """

    userFactory = TerminalUser
    transportFactory: Callable[..., Any] = TerminalSessionTransport

    def __init__(
        self,
        transportFactory: Callable[..., Any] | None = None,
        *,
        namespace: dict[str, Any] | None = None,
    ) -> None:
        if transportFactory is not None:
            self.transportFactory = transportFactory
        self.namespace = {} if namespace is None else namespace
        self.chainedProtocolFactory: Callable[[], Any] = _manholeProtocol(self.namespace)

    def requestAvatar(self, avatarId: bytes, mind: object, *interfaces: Any) -> Any:
        if IConchUser not in interfaces:
            raise NotImplementedError("TerminalRealm only gives IConchUser avatars")
        user = self.userFactory(avatarId, self.chainedProtocolFactory, self.transportFactory)
        return IConchUser, user, user.logout


class ConchFactory(factory.SSHFactory):
    """An SSH server factory logging users in through ``portal`` (set privateKeys)."""

    services = {
        b"ssh-userauth": userauth.SSHUserAuthServer,
        b"ssh-connection": connection.SSHConnection,
    }

    def __init__(self, portal: Any) -> None:
        self.portal = portal
