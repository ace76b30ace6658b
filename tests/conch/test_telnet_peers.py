"""torsion.conch.telnet against a Telnet client nobody here wrote: the standard
library's telnetlib (Python 3.11 and 3.12; the tests skip where it is gone), over
real TCP on 127.0.0.1 on every reactor."""

from __future__ import annotations

import socket
import struct
import warnings
from typing import Any

import pytest
from zope.interface import implementer

from tests.internet import reactormixins
from tests.internet.reactormixins import inThread, runUntil
from torsion.conch import telnet
from torsion.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from torsion.cred.portal import IRealm, Portal
from torsion.internet.protocol import ServerFactory

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    telnetlib = pytest.importorskip("telnetlib", reason="telnetlib left the stdlib in 3.13")

reactor = reactormixins.reactor


class Calculator(telnet.TelnetProtocol):
    """After login: each line is "add A B"; answers the sum, "bye" hangs up."""

    def __init__(self) -> None:
        self.buffer = b""
        self.sizes: list[tuple[int, int]] = []

    def connectionMade(self) -> None:
        self.transport.write(b"ready\r\n")

    def dataReceived(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            words = line.split()
            if words == [b"bye"]:
                self.transport.write(b"bye\r\n")
                self.transport.loseConnection()
            elif len(words) == 3 and words[0] == b"add":
                self.transport.write(b"%d\r\n" % (int(words[1]) + int(words[2])))
            else:
                self.transport.write(b"unknown command\r\n")

    def terminalSize(self, width: int, height: int) -> None:
        self.sizes.append((width, height))
        self.transport.write(b"size %dx%d\r\n" % (width, height))


@implementer(IRealm)
class Realm:
    def requestAvatar(self, avatarId: bytes, mind: object, *interfaces: object) -> Any:
        return telnet.ITelnetProtocol, Calculator(), lambda: None


def listen(reactor: Any, protocolFactory: Any, *args: Any) -> int:
    factory = ServerFactory()
    factory.protocol = lambda: telnet.TelnetTransport(protocolFactory, *args)  # type: ignore[assignment,misc]
    return int(reactor.listenTCP(0, factory, interface="127.0.0.1").getHost().port)


def test_telnetlibLogsInAndTalks(reactor: Any) -> None:
    portal = Portal(Realm(), [InMemoryUsernamePasswordDatabaseDontUse(alice=b"secret")])
    port = listen(reactor, telnet.AuthenticatingTelnetProtocol, portal)

    def session() -> list[bytes]:
        # telnetlib refuses every option, so our WILL ECHO for the password is refused.
        with telnetlib.Telnet("127.0.0.1", port, timeout=5) as client:
            seen = [client.read_until(b"Username: ", 5)]
            client.write(b"alice\r\n")
            seen.append(client.read_until(b"Password: ", 5))
            client.write(b"wrong\r\n")
            seen.append(client.read_until(b"Username: ", 5))
            client.write(b"alice\r\n")
            client.read_until(b"Password: ", 5)
            client.write(b"secret\r\n")
            seen.append(client.read_until(b"ready\r\n", 5))
            client.write(b"add 2 40\r\n")
            seen.append(client.read_until(b"\r\n", 5))
            client.write(b"bye\r\n")
            seen.append(client.read_all())
            return seen

    seen = inThread(reactor, session)
    assert seen[0] == b"Username: "
    assert seen[1] == b"Password: "  # the IAC WILL ECHO was taken out by telnetlib
    assert b"Authentication failed" in seen[2]
    assert seen[3].endswith(b"ready\r\n")
    assert seen[4] == b"42\r\n"
    assert seen[5] == b"bye\r\n"


def test_telnetlibReportsItsWindowSize(reactor: Any) -> None:
    terminals: list[Calculator] = []

    def terminal() -> Calculator:
        terminals.append(Calculator())
        return terminals[-1]

    port = listen(reactor, telnet.TelnetBootstrapProtocol, terminal)
    IAC, DO, WILL, WONT, DONT, SB, SE = (bytes((b,)) for b in (255, 253, 251, 252, 254, 250, 240))

    def session() -> bytes:
        with telnetlib.Telnet(timeout=5) as client:

            def negotiate(sock: socket.socket, command: bytes, option: bytes) -> None:
                # A client that agrees to report its window size and refuses the rest.
                if command == DO and option == telnet.NAWS:
                    sock.sendall(IAC + WILL + option)
                    sock.sendall(IAC + SB + option + struct.pack("!HH", 132, 43) + IAC + SE)
                elif command == DO:
                    sock.sendall(IAC + WONT + option)
                elif command == WILL:
                    sock.sendall(IAC + DONT + option)

            client.set_option_negotiation_callback(negotiate)
            client.open("127.0.0.1", port, timeout=5)
            answer = client.read_until(b"size 132x43\r\n", 5)
            client.write(b"add 1 1\r\n")
            return answer + client.read_until(b"2\r\n", 5)

    answer = inThread(reactor, session)
    assert answer.endswith(b"size 132x43\r\n2\r\n")
    runUntil(reactor, lambda: bool(terminals) and terminals[0].sizes == [(132, 43)])
