"""The FTP server's control logic over in-memory transports and a Clock: ordering,
limits, timeouts, and the data-connection checks that need no sockets."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torsion.cred import checkers, portal
from torsion.internet.address import IPv4Address
from torsion.internet.testing import MemoryReactorClock, StringTransport
from torsion.protocols import _ftpcodec as codec
from torsion.protocols import ftp
from torsion.protocols._ftpdata import DataChannel, _PassiveFactory


class Session:
    """One control connection to an FTPFactory, in memory."""

    def __init__(self, factory: ftp.FTPFactory) -> None:
        self.protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
        self.transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 40000))
        self.protocol.makeConnection(self.transport)
        self.parser = codec.ReplyParser()

    def send(self, data: bytes) -> list[codec.Reply]:
        self.protocol.dataReceived(data)
        return self.replies()

    def replies(self) -> list[codec.Reply]:
        out = self.transport.value()
        self.transport.clear()
        return self.parser.feed(out)


@pytest.fixture
def factory(tmp_path: Path) -> ftp.FTPFactory:
    (tmp_path / "pub").mkdir()
    (tmp_path / "home" / "alice").mkdir(parents=True)
    database = checkers.InMemoryUsernamePasswordDatabaseDontUse(alice=b"secret")
    realm = ftp.FTPRealm(tmp_path / "pub", userHome=tmp_path / "home")
    made = ftp.FTPFactory(
        portal.Portal(realm, [database, checkers.AllowAnonymousAccess()]),
        reactor=MemoryReactorClock(),
    )
    return made


def codes(replies: list[codec.Reply]) -> list[int]:
    return [reply.code for reply in replies]


def test_pipelinedCommandsAnsweredInOrder(factory: ftp.FTPFactory) -> None:
    session = Session(factory)
    assert codes(session.replies()) == [220]
    got = session.send(b"USER alice\r\nPASS secret\r\nPWD\r\nMKD new\r\nCWD new\r\nPWD\r\n")
    assert codes(got) == [331, 230, 257, 257, 250, 257]
    assert got[-1].text == '"/new" is the current directory.'


def test_idleConnectionClosed(factory: ftp.FTPFactory) -> None:
    session = Session(factory)
    session.replies()
    factory.reactor.advance(factory.timeOut - 1)
    assert not session.transport.disconnecting
    session.send(b"NOOP\r\n")
    factory.reactor.advance(factory.timeOut - 1)
    assert not session.transport.disconnecting
    factory.reactor.advance(2)
    assert codes(session.replies()) == [421]
    assert session.transport.disconnecting


def test_tooManyFailedLoginsClose(factory: ftp.FTPFactory) -> None:
    session = Session(factory)
    session.replies()
    got = session.send(b"USER alice\r\nPASS a\r\nUSER alice\r\nPASS b\r\n")
    assert codes(got) == [331, 530, 331, 530]
    assert not session.transport.disconnecting
    assert codes(session.send(b"USER alice\r\nPASS c\r\n")) == [331, 530, 421]
    assert session.transport.disconnecting


def test_passWithoutUserAndUnknownCommand(factory: ftp.FTPFactory) -> None:
    session = Session(factory)
    session.replies()
    assert codes(session.send(b"PASS x\r\nFOO\r\nSYST\r\nLIST\r\n")) == [503, 502, 215, 530]


def test_anonymousNamesAndNoAnonymous(factory: ftp.FTPFactory) -> None:
    session = Session(factory)
    session.replies()
    assert codes(session.send(b"USER ftp\r\nPASS me@\r\n")) == [331, 230]
    factory.allowAnonymous = False
    other = Session(factory)
    other.replies()
    assert codes(other.send(b"USER anonymous\r\nPASS me@\r\n")) == [331, 530]


def test_authWithoutTLSConfigured(factory: ftp.FTPFactory) -> None:
    session = Session(factory)
    session.replies()
    assert codes(session.send(b"AUTH TLS\r\nPBSZ 0\r\nPROT P\r\n")) == [502, 503, 503]
    assert "AUTH TLS" not in session.send(b"FEAT\r\n")[0].text


def test_transferWithoutDataConnection(factory: ftp.FTPFactory) -> None:
    session = Session(factory)
    session.send(b"USER alice\r\nPASS secret\r\n")
    assert codes(session.send(b"LIST\r\n")) == [425]
    assert codes(session.send(b"NOOP\r\n")) == [200]


def test_epsvAllRefusesOthers(factory: ftp.FTPFactory) -> None:
    session = Session(factory)
    session.send(b"USER alice\r\nPASS secret\r\n")
    assert codes(session.send(b"EPSV ALL\r\nPASV\r\nPORT 127,0,0,1,200,10\r\n")) == [200, 503, 503]


def test_commandFloodPausesReading(factory: ftp.FTPFactory) -> None:
    """More queued commands than the limit pause the control connection's reading
    until the queue drains."""
    session = Session(factory)
    session.replies()
    session.protocol._busy = True  # as if a slow command were running
    session.protocol.dataReceived(b"NOOP\r\n" * 40)
    assert session.transport.producerState == "paused"
    session.protocol._done(None)
    assert session.transport.producerState == "producing"
    assert codes(session.replies()) == [200] * 40


def test_passiveConnectionOnlyFromTheClient() -> None:
    """A passive data connection from another address than the control connection's
    peer is refused (no protocol), the client's own is taken."""
    channel = DataChannel(MemoryReactorClock(), "127.0.0.1")
    passive = _PassiveFactory(channel, "127.0.0.1")
    assert passive.buildProtocol(IPv4Address("TCP", "192.0.2.7", 5000)) is None
    assert passive.buildProtocol(IPv4Address("TCP", "127.0.0.1", 5000)) is not None


def test_passiveTimesOut() -> None:
    reactor = MemoryReactorClock()
    channel = DataChannel(reactor, "127.0.0.1")
    channel.listen("127.0.0.1", range(0, 1))
    waiting = channel.open()
    failures: list[Any] = []
    waiting.addErrback(failures.append)
    reactor.advance(channel.timeout + 1)
    assert "no data connection within" in str(failures[0].value)


def test_realmRefusesBadHomeNames(tmp_path: Path) -> None:
    realm = ftp.FTPRealm(tmp_path, userHome=tmp_path)
    for name in (b"..", b"a/b", b""):
        with pytest.raises(ValueError, match="cannot name a home"):
            realm.getHomeDirectory(name)
    assert realm.getHomeDirectory(b"alice") == os.path.join(tmp_path, "alice")
    assert ftp.FTPRealm(tmp_path, userHome=None).getHomeDirectory(b"x") == str(tmp_path)


def test_factoryNeedsPortal() -> None:
    with pytest.raises(TypeError, match="portal"):
        ftp.FTPFactory()


VERBS = ["USER", "PASS", "CWD", "MKD", "RMD", "DELE", "RNFR", "RNTO", "SIZE", "MDTM"]
VERBS += ["MLST", "TYPE", "REST", "PORT", "EPRT", "PROT", "PBSZ", "OPTS", "STAT", "LIST"]


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(st.sampled_from(VERBS), st.text(max_size=40).filter(lambda t: "\n" not in t)),
        max_size=12,
    )
)
def test_anyCommandsGetRepliesAndNoCrash(factory: ftp.FTPFactory, commands: list[Any]) -> None:
    """Random commands after a login each get a reply with a valid code; nothing
    escapes the protocol as an exception; the session stays open."""
    session = Session(factory)
    session.send(b"USER alice\r\nPASS secret\r\n")
    for verb, argument in commands:
        line = f"{verb} {argument}".replace("\r", "").encode("utf-8", "surrogateescape")
        replies = session.send(line + b"\r\n")
        assert replies, line
        assert all(100 <= reply.code < 600 for reply in replies)
    assert not session.transport.disconnecting


def test_passiveAddressIsAnnounced(factory: ftp.FTPFactory) -> None:
    """Behind NAT, PASV names passiveAddress; EPSV names no address at all."""
    factory.passiveAddress = "203.0.113.5"
    session = Session(factory)
    session.send(b"USER alice\r\nPASS secret\r\n")
    reply = session.send(b"PASV\r\n")[0]
    assert reply.code == 227
    assert "(203,0,113,5," in reply.text


def test_abortWhileWaitingForTheDataConnection(factory: ftp.FTPFactory) -> None:
    """ABOR before the passive connection came: 425 for the transfer, then 226."""
    (Path(factory.portal.realm.userHome) / "alice" / "f.txt").write_bytes(b"x")
    session = Session(factory)
    session.send(b"USER alice\r\nPASS secret\r\nPASV\r\n")
    assert session.send(b"RETR f.txt\r\n") == []
    assert codes(session.send(b"ABOR\r\n")) == [425, 226]
    assert codes(session.send(b"NOOP\r\n")) == [200]
