"""FTPClient against torsion's FTP server over real sockets on one reactor, and against
a scripted server that misbehaves."""

from __future__ import annotations

import io
import os
from typing import Any

import pytest

from tests.internet import reactormixins, tlshelpers
from tests.internet.reactormixins import runUntilFired
from tests.protocols._ftphelpers import FTPServer, ftpServer
from torsion.internet import defer
from torsion.internet.protocol import ClientCreator, Protocol
from torsion.protocols import ftp
from torsion.protocols.basic import FileSender

oneReactor = reactormixins.oneReactor
ftpServer = ftpServer


class Collector(Protocol):
    """Keeps what a data connection delivers."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.lost = False

    def dataReceived(self, data: bytes) -> None:
        self.chunks.append(data)

    def connectionLost(self, reason: Any = None) -> None:
        self.lost = True

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


def connect(server: FTPServer, user: str = "alice", password: str = "secret") -> ftp.FTPClient:
    creator = ClientCreator(server.reactor, ftp.FTPClient, user, password)
    client: ftp.FTPClient = runUntilFired(
        server.reactor, creator.connectTCP("127.0.0.1", server.port)
    )
    return client


def wait(server: FTPServer, d: defer.Deferred[Any]) -> Any:
    return runUntilFired(server.reactor, d, timeout=20)


def test_retrieveAndList(ftpServer: FTPServer) -> None:
    """retrieveFile feeds the file to a protocol; list parses with FTPFileListProtocol;
    nlst gives names."""
    payload = os.urandom(2**20 + 1)
    home = ftpServer.home("alice")
    (home / "data.bin").write_bytes(payload)
    (home / "dir").mkdir()
    client = connect(ftpServer)
    collector = Collector()
    lines = wait(ftpServer, client.retrieveFile("data.bin", collector))
    assert collector.data == payload
    assert collector.lost
    assert lines[-1].startswith("226")
    listing = ftp.FTPFileListProtocol()
    wait(ftpServer, client.list(".", listing))
    byName = {entry["filename"]: entry for entry in listing.files}
    assert byName["data.bin"]["size"] == len(payload)
    assert byName["data.bin"]["filetype"] == "-"
    assert byName["dir"]["filetype"] == "d"
    names = Collector()
    wait(ftpServer, client.nlst("", names))
    assert names.data.split() == [b"data.bin", b"dir"]
    wait(ftpServer, client.quit())


def test_retrieveFromOffset(ftpServer: FTPServer) -> None:
    (ftpServer.home("alice") / "f.txt").write_bytes(b"0123456789")
    client = connect(ftpServer)
    collector = Collector()
    wait(ftpServer, client.retrieveFile("f.txt", collector, offset=7))
    assert collector.data == b"789"


def test_storeFileStreamsFromAProducer(ftpServer: FTPServer) -> None:
    """storeFile's consumer takes a producer (FileSender), so the upload streams."""
    payload = os.urandom(3 * 2**20)
    client = connect(ftpServer)
    consumerReady, stored = client.storeFile("up.bin")
    consumer = wait(ftpServer, consumerReady)
    sent = FileSender().beginFileTransfer(io.BytesIO(payload), consumer)
    sent.addCallback(lambda _: consumer.finish())
    lines = wait(ftpServer, stored)
    assert lines[-1].startswith("226")
    assert (ftpServer.home("alice") / "up.bin").read_bytes() == payload


def test_simpleCommands(ftpServer: FTPServer) -> None:
    """pwd, makeDirectory, cwd, cdup, rename, removeFile, removeDirectory."""
    home = ftpServer.home("alice")
    (home / "a.txt").write_bytes(b"a")
    client = connect(ftpServer)
    assert wait(ftpServer, client.pwd()) == ['257 "/" is the current directory.']
    wait(ftpServer, client.makeDirectory("sub"))
    wait(ftpServer, client.cwd("sub"))
    assert '"/sub"' in wait(ftpServer, client.pwd())[0]
    wait(ftpServer, client.cdup())
    wait(ftpServer, client.rename("a.txt", "sub/b.txt"))
    assert (home / "sub" / "b.txt").read_bytes() == b"a"
    wait(ftpServer, client.removeFile("sub/b.txt"))
    wait(ftpServer, client.removeDirectory("sub"))
    assert os.listdir(home) == []


def test_refusalsFailWithCommandFailed(ftpServer: FTPServer) -> None:
    """A refused command fails with CommandFailed holding the reply; the session goes
    on; a transfer of a missing file fails and closes its data connection."""
    client = connect(ftpServer)
    with pytest.raises(ftp.CommandFailed) as refused:
        wait(ftpServer, client.cwd("nowhere"))
    assert refused.value.args[0][0].startswith("550")
    collector = Collector()
    with pytest.raises(ftp.CommandFailed):
        wait(ftpServer, client.retrieveFile("missing.bin", collector))
    reactormixins.runUntil(ftpServer.reactor, lambda: collector.lost)
    assert wait(ftpServer, client.pwd())[0].startswith("257")


def test_wrongPasswordFailsEveryQueuedCommand(ftpServer: FTPServer) -> None:
    """A refused login fails the commands queued after it and closes the connection."""
    client = connect(ftpServer, password="wrong")
    with pytest.raises(ftp.CommandFailed) as refused:
        wait(ftpServer, client.pwd())
    assert refused.value.args[0][-1].startswith("530")
    with pytest.raises((ftp.CommandFailed, ftp.ConnectionLost)):
        wait(ftpServer, client.pwd())


def test_malformedReplyClosesTheConnection(oneReactor: Any) -> None:
    """A server that sends garbage: the client's commands fail with ConnectionLost."""
    from torsion.internet.protocol import Factory

    class Garbage(Protocol):
        def connectionMade(self) -> None:
            self.transport.write(b"this is no FTP server\r\n")

    port = oneReactor.listenTCP(0, Factory.forProtocol(Garbage), interface="127.0.0.1")
    creator = ClientCreator(oneReactor, ftp.FTPClient)
    client = runUntilFired(oneReactor, creator.connectTCP("127.0.0.1", port.getHost().port))
    with pytest.raises(ftp.ConnectionLost, match="malformed reply"):
        runUntilFired(oneReactor, client.pwd())
    port.stopListening()


def test_commandWithLineBreakRefused(ftpServer: FTPServer) -> None:
    """A command holding CR or LF is refused before it is sent (no command injection)."""
    client = connect(ftpServer)
    with pytest.raises(ValueError, match="line break"):
        wait(ftpServer, client.cwd("x\r\nDELE important"))
    assert wait(ftpServer, client.pwd())[0].startswith("257")


def test_activeModeNotOffered() -> None:
    with pytest.raises(ValueError, match="passive"):
        ftp.FTPClient(passive=False)


def tlsConnect(server: FTPServer, password: str = "secret") -> ftp.FTPClient:
    options = tlshelpers.clientOptions("localhost")
    creator = ClientCreator(server.reactor, ftp.FTPClient, "alice", password, tlsOptions=options)
    client: ftp.FTPClient = runUntilFired(
        server.reactor, creator.connectTCP("127.0.0.1", server.port)
    )
    return client


def test_tlsControlAndData(ftpServer: FTPServer) -> None:
    """With tlsOptions the client logs in over TLS and its data connections are TLS;
    a server that requires TLS accepts it."""
    ftpServer.factory.requireTLS = True
    payload = os.urandom(2**20 + 9)
    client = tlsConnect(ftpServer)
    consumerReady, stored = client.storeFile("secure.bin")
    consumer = wait(ftpServer, consumerReady)
    consumer.write(payload)
    consumer.finish()
    wait(ftpServer, stored)
    got = Collector()
    wait(ftpServer, client.retrieveFile("secure.bin", got))
    assert got.data == payload
    assert client.transport.getPeerCertificate() is not None
    wait(ftpServer, client.quit())


def test_tlsAskedButNotOffered(ftpServer: FTPServer) -> None:
    """A client asking for TLS from a server without it fails, never sends the
    password in clear."""
    ftpServer.factory.tlsOptions = None
    client = tlsConnect(ftpServer)
    with pytest.raises(ftp.CommandFailed, match="refused AUTH TLS"):
        wait(ftpServer, client.pwd())


def test_tlsWithAnUntrustedServerFails(ftpServer: FTPServer) -> None:
    """The server's certificate is checked: one from another CA ends the login."""
    options = tlshelpers.clientOptions(
        "localhost", trustRoot=tlshelpers.caCertificate(tlshelpers.otherCA())
    )
    creator = ClientCreator(ftpServer.reactor, ftp.FTPClient, "alice", "secret", tlsOptions=options)
    client = runUntilFired(ftpServer.reactor, creator.connectTCP("127.0.0.1", ftpServer.port))
    with pytest.raises((ftp.ConnectionLost, ftp.CommandFailed)):
        wait(ftpServer, client.pwd())
