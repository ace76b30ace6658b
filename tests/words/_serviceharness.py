"""An in-memory IRC network for the server tests: IRCUsers on StringTransports and a Clock.

``Network`` is a realm, a portal and an IRCFactory whose timers run on a task.Clock;
``Network.connect()`` gives a ``Client`` whose ``send`` feeds lines to its IRCUser
and whose ``take`` returns (and forgets) the lines the server sent it.
"""

from __future__ import annotations

from typing import Any

from torsion.cred import checkers, portal
from torsion.internet import task
from torsion.internet.address import IPv4Address
from torsion.internet.testing import StringTransportWithDisconnection
from torsion.words import service
from torsion.words.protocols import irc


class BufferingTransport(StringTransportWithDisconnection):
    """A transport that says how much it holds, like a socket's whose peer does not read."""

    def bufferedSize(self) -> int:
        return len(self.value())

    def abortConnection(self) -> None:
        super().abortConnection()
        self.loseConnection()


class Client:
    def __init__(self, network: Network, host: str) -> None:
        self.network = network
        self.transport = BufferingTransport(peerAddress=IPv4Address("TCP", host, 40000))
        self.proto: Any = network.factory.buildProtocol(None)
        self.transport.protocol = self.proto
        self.proto.makeConnection(self.transport)

    def send(self, *lines: str | bytes) -> None:
        data = b"".join((x if isinstance(x, bytes) else x.encode()) + b"\r\n" for x in lines)
        self.proto.dataReceived(data)

    def take(self) -> list[str]:
        lines = self.transport.value().decode("utf-8", "replace").split("\r\n")
        self.transport.clear()
        assert lines[-1] == "", f"the server sent a partial line: {lines[-1]!r}"
        return lines[:-1]

    def messages(self) -> list[irc.IRCMessage]:
        return [irc.parseMessage(line) for line in self.take()]

    def commands(self) -> list[str]:
        return [m.command for m in self.messages()]

    @property
    def connected(self) -> bool:
        return not self.transport.disconnecting

    def register(self, nick: str, *before: str) -> list[str]:
        self.send(*before, f"NICK {nick}", f"USER {nick} 0 * :{nick.title()} Person")
        lines = self.take()
        assert any(f" 001 {nick} " in line for line in lines), lines
        return lines


class Network:
    def __init__(
        self, checkerList: list[Any] | None = None, motd: str | None = None, **limits: Any
    ) -> None:
        self.clock = task.Clock()
        self.realm = service.InMemoryWordsRealm("irc.test")
        self.realm.createGroupOnRequest = True
        self.portal = portal.Portal(
            self.realm,
            checkerList if checkerList is not None else [checkers.AllowAnonymousAccess()],
        )
        self.factory = service.IRCFactory(self.realm, self.portal, motd=motd, reactor=self.clock)
        for name, value in limits.items():
            assert hasattr(self.factory, name), name
            setattr(self.factory, name, value)

    def connect(self, host: str = "127.0.0.1") -> Client:
        return Client(self, host)

    def user(self, nick: str, *before: str) -> Client:
        client = self.connect()
        client.register(nick, *before)
        return client

    def channel(self, name: str, *nicks: str) -> list[Client]:
        """Registered clients who have all joined ``name`` (the first is its operator)."""
        clients = [self.user(nick) for nick in nicks]
        for client in clients:
            client.send(f"JOIN {name}")
        for client in clients:
            client.take()
        return clients
