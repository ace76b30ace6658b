"""Tests for torsion.conch.telnet on in-memory transports: negotiation (RFC 1143),
commands, subnegotiation, the line-state protocol, login through Cred and the
terminal bootstrap (echo, suppress-go-ahead, window size)."""

from __future__ import annotations

from typing import Any

import pytest
from zope.interface import implementer

from torsion.conch import telnet
from torsion.conch.telnet import (
    DO,
    DONT,
    ECHO,
    IAC,
    NAWS,
    SB,
    SE,
    SGA,
    WILL,
    WONT,
    AlreadyDisabled,
    AlreadyEnabled,
    AlreadyNegotiating,
    OptionRefused,
    Telnet,
    TelnetProtocol,
    TelnetTransport,
)
from torsion.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from torsion.cred.portal import IRealm, Portal
from torsion.internet.error import ConnectionDone, ConnectionLost
from torsion.internet.testing import StringTransport
from torsion.python.failure import Failure


class Recorder(TelnetProtocol):
    """An application protocol that agrees to what it is told to and records the rest."""

    def __init__(self, local: tuple[bytes, ...] = (), remote: tuple[bytes, ...] = ()) -> None:
        self.local, self.remote = local, remote
        self.data: list[bytes] = []
        self.commands: list[bytes] = []
        self.subnegotiations: list[tuple[bytes, list[bytes]]] = []
        self.disabled: list[tuple[str, bytes]] = []
        self.lost: list[Failure] = []

    def dataReceived(self, data: bytes) -> None:
        self.data.append(data)

    def unhandledCommand(self, command: bytes, argument: bytes | None) -> None:
        self.commands.append(command)

    def unhandledSubnegotiation(self, command: bytes, data: list[bytes]) -> None:
        self.subnegotiations.append((command, data))

    def enableLocal(self, option: bytes) -> bool:
        return option in self.local

    def enableRemote(self, option: bytes) -> bool:
        return option in self.remote

    def disableLocal(self, option: bytes) -> None:
        self.disabled.append(("local", option))

    def disableRemote(self, option: bytes) -> None:
        self.disabled.append(("remote", option))

    def connectionLost(self, reason: object = None) -> None:
        assert isinstance(reason, Failure)
        self.lost.append(reason)


def connected(app: Any) -> tuple[TelnetTransport, StringTransport]:
    layer = TelnetTransport(lambda: app)
    wire = StringTransport()
    layer.makeConnection(wire)
    return layer, wire


def results(d: Any) -> list[Any]:
    out: list[Any] = []
    d.addBoth(out.append)
    return out


# -- the peer's requests -----------------------------------------------------------------


def test_peerOffersAreAskedOfTheProtocol() -> None:
    app = Recorder(remote=(SGA,))
    layer, wire = connected(app)
    layer.dataReceived(IAC + WILL + SGA + IAC + WILL + NAWS)
    assert wire.value() == IAC + DO + SGA + IAC + DONT + NAWS
    assert layer.getOptionState(SGA).him.state == "yes"
    assert layer.getOptionState(NAWS).him.state == "no"


def test_peerRequestsAreAskedOfTheProtocol() -> None:
    app = Recorder(local=(ECHO,))
    layer, wire = connected(app)
    layer.dataReceived(IAC + DO + ECHO + IAC + DO + SGA)
    assert wire.value() == IAC + WILL + ECHO + IAC + WONT + SGA


def test_repeatedRequestsGetNoAnswerSoPeersCannotLoop() -> None:
    app = Recorder(local=(ECHO,), remote=(SGA,))
    layer, wire = connected(app)
    layer.dataReceived(IAC + DO + ECHO + IAC + WILL + SGA)
    wire.clear()
    layer.dataReceived((IAC + DO + ECHO + IAC + WILL + SGA) * 3)
    layer.dataReceived(IAC + WONT + NAWS + IAC + DONT + NAWS)  # already off
    assert wire.value() == b""


def test_twoTelnetsAgreeAndStop() -> None:
    """Two layers wired to each other: each request is answered once, then silence."""
    left, leftWire = connected(Recorder(local=(ECHO,), remote=(SGA,)))
    right, rightWire = connected(Recorder(local=(SGA,), remote=(ECHO,)))
    echo, sga = results(right.do(ECHO)), results(left.do(SGA))
    for _ in range(10):
        toRight, toLeft = leftWire.value(), rightWire.value()
        leftWire.clear()
        rightWire.clear()
        if not toRight and not toLeft:
            break
        right.dataReceived(toRight)
        left.dataReceived(toLeft)
    else:
        pytest.fail("the two Telnets never stopped talking")
    assert echo == [True] and sga == [True]
    assert left.getOptionState(ECHO).us.state == "yes"
    assert right.getOptionState(SGA).us.state == "yes"


def test_peerTurnsAnOptionOff() -> None:
    app = Recorder(local=(ECHO,), remote=(SGA,))
    layer, wire = connected(app)
    layer.dataReceived(IAC + DO + ECHO + IAC + WILL + SGA)
    wire.clear()
    layer.dataReceived(IAC + DONT + ECHO + IAC + WONT + SGA)
    assert wire.value() == IAC + WONT + ECHO + IAC + DONT + SGA
    assert app.disabled == [("local", ECHO), ("remote", SGA)]


# -- our requests ------------------------------------------------------------------------


def test_willFiresWhenThePeerAgrees() -> None:
    layer, wire = connected(Recorder())
    answer = results(layer.will(ECHO))
    assert wire.value() == IAC + WILL + ECHO and answer == []
    layer.dataReceived(IAC + DO + ECHO)
    assert answer == [True]
    assert layer.getOptionState(ECHO).us.state == "yes"
    assert wire.value() == IAC + WILL + ECHO  # an answer is not answered


def test_doFailsWhenThePeerRefuses() -> None:
    layer, _ = connected(Recorder())
    answer = results(layer.do(NAWS))
    layer.dataReceived(IAC + WONT + NAWS)
    assert len(answer) == 1 and answer[0].check(OptionRefused)
    assert "option 31" in str(answer[0].value)
    assert layer.getOptionState(NAWS).him.state == "no"


def test_wontAndDontTurnOptionsOff() -> None:
    layer, wire = connected(Recorder(local=(ECHO,), remote=(SGA,)))
    layer.dataReceived(IAC + DO + ECHO + IAC + WILL + SGA)
    wire.clear()
    off = results(layer.wont(ECHO)), results(layer.dont(SGA))
    assert wire.value() == IAC + WONT + ECHO + IAC + DONT + SGA
    layer.dataReceived(IAC + DONT + ECHO + IAC + WONT + SGA)
    assert off == ([True], [True])
    assert layer.getOptionState(ECHO).us.state == "no"
    assert layer.getOptionState(SGA).him.state == "no"


def test_requestsThatCannotBeMadeFail() -> None:
    layer, _ = connected(Recorder(local=(ECHO,)))
    assert results(layer.wont(ECHO))[0].check(AlreadyDisabled)
    assert results(layer.dont(SGA))[0].check(AlreadyDisabled)
    pending = results(layer.do(SGA))
    assert results(layer.do(SGA))[0].check(AlreadyNegotiating)
    layer.dataReceived(IAC + DO + ECHO)
    assert results(layer.will(ECHO))[0].check(AlreadyEnabled)
    assert pending == []


def test_theOppositeRequestWhileOneIsInFlightIsQueuedThenSent() -> None:
    """WONT ECHO then WILL ECHO at once (a password prompt, then a shell): the WILL
    waits for the answer to the WONT, then goes out (RFC 1143's queue)."""
    layer, wire = connected(Recorder(local=(ECHO,)))
    layer.dataReceived(IAC + DO + ECHO)
    wire.clear()
    off, on = results(layer.wont(ECHO)), results(layer.will(ECHO))
    assert wire.value() == IAC + WONT + ECHO
    assert results(layer.will(ECHO))[0].check(AlreadyNegotiating)  # one queued at most
    wire.clear()
    layer.dataReceived(IAC + DONT + ECHO)
    assert off == [True] and on == []
    assert wire.value() == IAC + WILL + ECHO
    layer.dataReceived(IAC + DO + ECHO)
    assert on == [True]
    assert layer.getOptionState(ECHO).us.state == "yes"


def test_aQueuedRequestAlreadyMetByARefusalSucceedsAtOnce() -> None:
    layer, wire = connected(Recorder())
    on, off = results(layer.do(SGA)), results(layer.dont(SGA))
    wire.clear()
    layer.dataReceived(IAC + WONT + SGA)  # refused: "no", which the queued DONT wanted
    assert on[0].check(OptionRefused) and off == [True]
    assert wire.value() == b""


def test_aQueuedRequestFailsWhenTheConnectionIsLost() -> None:
    layer, _ = connected(Recorder())
    _pending, queued = results(layer.do(SGA)), results(layer.dont(SGA))
    layer.connectionLost(Failure(ConnectionDone()))
    assert queued[0].check(ConnectionLost)


def test_pendingRequestsFailWhenTheConnectionIsLost() -> None:
    app = Recorder()
    layer, _ = connected(app)
    pending = results(layer.do(NAWS))
    layer.connectionLost(Failure(ConnectionDone()))
    assert pending[0].check(ConnectionLost)
    assert len(app.lost) == 1 and app.lost[0].check(ConnectionDone)


# -- data, commands, subnegotiation ------------------------------------------------------


def test_dataCommandsAndSubnegotiationReachTheProtocol() -> None:
    app = Recorder()
    layer, _ = connected(app)
    layer.dataReceived(b"one\xff\xff" + IAC + telnet.AYT + b"two\r\0")
    layer.dataReceived(IAC + SB + b"\x18\x00xterm" + IAC + SE)
    assert b"".join(app.data) == b"one\xfftwo\r"
    assert app.commands == [telnet.AYT]
    assert app.subnegotiations == [(b"\x18", [b"\x00", b"x", b"t", b"e", b"r", b"m"])]


def test_commandAndNegotiationMapsTakePrecedence() -> None:
    app = Recorder()
    layer, _ = connected(app)
    seen: list[object] = []
    layer.commandMap[telnet.GA] = seen.append
    layer.negotiationMap[NAWS] = seen.append
    layer.dataReceived(IAC + telnet.GA + IAC + SB + NAWS + b"\0\x50\0\x18" + IAC + SE)
    assert seen == [None, [b"\0", b"\x50", b"\0", b"\x18"]]
    assert app.commands == [] and app.subnegotiations == []


def test_writesAreQuoted() -> None:
    layer, wire = connected(Recorder())
    layer.write(b"a\xffb")
    layer.writeSequence([b"\xff", b"c"])
    layer.requestNegotiation(NAWS, b"\xff")
    assert wire.value() == b"a\xff\xffb\xff\xffc" + IAC + SB + NAWS + b"\xff\xff" + IAC + SE


def test_overlongSubnegotiationIsDroppedAndLogged(caplog: Any) -> None:
    app = Recorder()
    layer, _ = connected(app)
    layer.dataReceived(IAC + SB + b"\x18" + b"x" * 5000 + IAC + SE + b"still here")
    assert app.subnegotiations == [] and b"".join(app.data) == b"still here"


def test_plainTelnetSubclass() -> None:
    class Upper(Telnet):
        def applicationDataReceived(self, data: bytes) -> None:
            self.transport.write(data.upper())

    layer, wire = Upper(), StringTransport()
    layer.makeConnection(wire)
    layer.dataReceived(b"hi" + IAC + DO + ECHO)
    assert wire.value() == b"HI" + IAC + WONT + ECHO  # a plain Telnet refuses everything


# -- StatefulTelnetProtocol and AuthenticatingTelnetProtocol ------------------------------


class Menu(telnet.StatefulTelnetProtocol):
    state = "Name"

    def telnet_Name(self, line: bytes) -> str:
        self.name = line
        self.sendLine(b"hello " + line)
        return "Echo"

    def telnet_Echo(self, line: bytes) -> None:
        self.sendLine(line[::-1])


def test_statefulProtocolRoutesLinesByState() -> None:
    app = Menu()
    layer, wire = connected(app)
    layer.dataReceived(b"alice\r\nabc\r\nxyz\n")
    assert app.name == b"alice" and app.state == "Echo"
    assert wire.value() == b"hello alice\ncba\nzyx\n"


@implementer(telnet.ITelnetProtocol)
class Shell(Recorder):
    def connectionMade(self) -> None:
        self.transport.write(b"welcome\r\n")


@implementer(IRealm)
class ShellRealm:
    def __init__(self) -> None:
        self.shells: list[Shell] = []
        self.loggedOut: list[bytes] = []

    def requestAvatar(self, avatarId: bytes, mind: object, *interfaces: object) -> Any:
        assert telnet.ITelnetProtocol in interfaces
        shell = Shell()
        self.shells.append(shell)
        return telnet.ITelnetProtocol, shell, lambda: self.loggedOut.append(avatarId)


def loginLayer() -> tuple[TelnetTransport, StringTransport, ShellRealm]:
    realm = ShellRealm()
    checker = InMemoryUsernamePasswordDatabaseDontUse(alice=b"secret")
    layer = TelnetTransport(telnet.AuthenticatingTelnetProtocol, Portal(realm, [checker]))
    wire = StringTransport()
    layer.makeConnection(wire)
    return layer, wire, realm


def test_loginHandsTheConnectionToTheAvatar() -> None:
    layer, wire, realm = loginLayer()
    assert wire.value() == b"Username: "
    layer.dataReceived(b"alice\r\n")
    assert wire.value().endswith(IAC + WILL + ECHO + b"Password: ")
    layer.dataReceived(IAC + DO + ECHO)  # the client stops echoing the password
    wire.clear()
    layer.dataReceived(b"secret\r\n")
    assert realm.shells and layer.protocol is realm.shells[0]
    assert wire.value() == IAC + WONT + ECHO + b"\r\nwelcome\r\n"
    layer.dataReceived(b"ls\r\n")
    assert realm.shells[0].data == [b"ls\r\n"]


def test_badPasswordsAskAgainThenHangUp() -> None:
    layer, wire, realm = loginLayer()
    for attempt in range(3):
        layer.dataReceived(b"alice\r\n")
        layer.dataReceived(b"wrong\r\n")
        assert b"Authentication failed" in wire.value()
        assert wire.disconnecting == (attempt == 2)
        wire.clear()
    assert realm.shells == []


# -- TelnetBootstrapProtocol --------------------------------------------------------------


class Terminal(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[tuple[int, int]] = []

    def terminalSize(self, width: int, height: int) -> None:
        self.sizes.append((width, height))


def test_bootstrapNegotiatesATerminalAndReportsItsSize() -> None:
    terminal = Terminal()
    layer = TelnetTransport(telnet.TelnetBootstrapProtocol, lambda: terminal)
    wire = StringTransport()
    layer.makeConnection(wire)
    assert wire.value() == IAC + WILL + ECHO + IAC + WILL + SGA + IAC + DO + NAWS + IAC + DO + SGA
    layer.dataReceived(IAC + DO + ECHO + IAC + DO + SGA + IAC + WILL + NAWS + IAC + WILL + SGA)
    layer.dataReceived(IAC + SB + NAWS + b"\x00\x50\x00\x18" + IAC + SE)
    layer.dataReceived(IAC + SB + NAWS + b"\x01\x00\xff\xff\x30" + IAC + SE)
    layer.dataReceived(IAC + SB + NAWS + b"\x00" + IAC + SE)  # short: ignored
    layer.dataReceived(b"typed")
    assert terminal.sizes == [(80, 24), (256, 0xFF30)]
    assert terminal.data == [b"typed"]
    assert layer.getOptionState(NAWS).him.state == "yes"
