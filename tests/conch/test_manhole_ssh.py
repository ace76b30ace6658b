"""manhole_ssh without sockets: a "session" channel of a TerminalUser driven by the
requests an SSH client sends (pty-req, shell, window-change, exec, data, close), on a
connection stand-in that records what would go on the wire. The same pieces with
OpenSSH's client are in tests/conch/test_manhole_tap.py."""

from __future__ import annotations

import struct
from typing import Any

from tests.conch.terminalhelpers import screenOf
from torsion.conch import manhole, manhole_ssh, recvline
from torsion.conch.insults import insults
from torsion.conch.interfaces import IConchUser
from torsion.conch.ssh import session
from torsion.conch.ssh.common import NS


class Wire:
    """The SSHConnection side a channel talks to: records data, requests and closes."""

    def __init__(self) -> None:
        self.data = b""
        self.stderr = b""
        self.requests: list[tuple[bytes, bytes]] = []
        self.eofs = 0
        self.closes = 0

    def sendData(self, channel: Any, data: bytes) -> None:
        self.data += data

    def sendExtendedData(self, channel: Any, dataType: int, data: bytes) -> None:
        self.stderr += data

    def sendRequest(self, channel: Any, requestType: bytes, data: bytes, wantReply: bool = False):
        self.requests.append((requestType, data))

    def sendEOF(self, channel: Any) -> None:
        self.eofs += 1

    def sendClose(self, channel: Any) -> None:
        self.closes += 1
        channel.localClosed = True

    def logPrefix(self) -> str:
        return "test"


def login(realm: manhole_ssh.TerminalRealm | None = None) -> tuple[Any, Any]:
    realm = realm or manhole_ssh.TerminalRealm(namespace={"answer": 42})
    interface, user, logout = realm.requestAvatar(b"admin", None, IConchUser)
    assert interface is IConchUser and isinstance(user, manhole_ssh.TerminalUser)
    return user, logout


def openSession(user: Any, wire: Wire) -> session.SSHSession:
    channel = user.lookupChannel(b"session", 2**20, 32768, b"")
    channel.conn = wire
    return channel


def ptyRequest(rows: int, cols: int) -> bytes:
    return session.packRequest_pty_req(b"xterm", (rows, cols, 0, 0), b"\0")


def test_aShellIsTheManholeAtThePtysSize() -> None:
    sizes: list[tuple[int, int]] = []

    class Sized(manhole.Manhole):
        def terminalSize(self, width: int, height: int) -> None:
            sizes.append((width, height))
            super().terminalSize(width, height)

    realm = manhole_ssh.TerminalRealm(namespace={"answer": 42})
    realm.chainedProtocolFactory = lambda: insults.ServerProtocol(Sized, realm.namespace)
    user, _ = login(realm)
    wire = Wire()
    channel = openSession(user, wire)
    assert channel.requestReceived(b"pty-req", ptyRequest(30, 100))
    assert channel.requestReceived(b"shell", b"")
    channel.dataReceived(b"answer * 2\r")
    assert screenOf(wire.data).split("\n")[:2] == [">>> answer * 2", "84"]
    channel.requestReceived(b"window-change", session.packRequest_window_change((50, 120, 0, 0)))
    assert sizes == [(100, 30), (120, 50)]


def test_controlDEndsTheSessionWithExitStatusZero() -> None:
    user, _ = login()
    wire = Wire()
    channel = openSession(user, wire)
    channel.requestReceived(b"shell", b"")
    channel.dataReceived(b"\x04")
    assert wire.requests == [(b"exit-status", struct.pack("!L", 0))]
    assert wire.closes == 1
    channel.closed()  # the client's close comes back: nothing more is sent
    assert wire.requests == [(b"exit-status", struct.pack("!L", 0))] and user.sessions == []


def test_theClientClosingTheChannelEndsTheManhole() -> None:
    ended: list[Any] = []

    class Watched(manhole.Manhole):
        def connectionLost(self, reason: Any) -> None:
            ended.append(reason)
            super().connectionLost(reason)

    realm = manhole_ssh.TerminalRealm()
    realm.chainedProtocolFactory = lambda: insults.ServerProtocol(Watched, realm.namespace)
    user, logout = login(realm)
    channel = openSession(user, Wire())
    channel.requestReceived(b"shell", b"")
    assert len(user.sessions) == 1
    channel.closeReceived()
    channel.closed()
    assert len(ended) == 1 and user.sessions == []
    logout()  # nothing left to close


def test_logoutEndsTheRunningShells() -> None:
    user, logout = login()
    wire = Wire()
    channel = openSession(user, wire)
    channel.requestReceived(b"shell", b"")
    logout()
    assert user.sessions == [] and wire.requests[0][0] == b"exit-status"


def test_commandsAreRefusedWithAMessage() -> None:
    user, _ = login()
    wire = Wire()
    channel = openSession(user, wire)
    channel.requestReceived(b"exec", NS(b"rm -rf /"))
    assert b"runs no commands" in wire.stderr
    assert wire.requests == [(b"exit-status", struct.pack("!L", 1))]


def test_anyTerminalProgramCanBeTheShell() -> None:
    """chainedProtocolFactory: here a line editor that answers each line reversed."""

    class Reverser(recvline.RecvLine):
        ps = (b"? ", b"? ")

        def lineReceived(self, line: bytes) -> None:
            self.terminal.write(line[::-1])
            self.terminal.nextLine()
            self.drawInputLine()

    realm = manhole_ssh.TerminalRealm()
    realm.chainedProtocolFactory = lambda: insults.ServerProtocol(Reverser)
    user, _ = login(realm)
    wire = Wire()
    channel = openSession(user, wire)
    channel.requestReceived(b"shell", b"")
    channel.dataReceived(b"stressed\r")
    assert screenOf(wire.data).split("\n")[:3] == ["? stressed", "desserts", "?"]
