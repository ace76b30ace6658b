"""Tests for torsion.conch.ssh.connection and channel without sockets: two
SSHConnections wired to each other through fake transports. Opening, data, EOF and
close; flow control both ways (a slow reader holds the writer back, a registered
producer is paused and resumed); requests; limits; hostile packets; failures that
close one channel only."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from torsion.conch import error
from torsion.conch.avatar import ConchUser
from torsion.conch.ssh import connection, transport
from torsion.conch.ssh.channel import SSHChannel
from torsion.conch.ssh.common import NS
from torsion.internet import defer
from torsion.internet.error import ConnectionLost


class FakeTransport:
    """Delivers each packet to the other side's connection, in order, when pumped."""

    def __init__(self, avatar: Any = None) -> None:
        self.avatar = avatar
        self.outbox: list[tuple[int, bytes]] = []
        self.disconnected: list[tuple[int, str]] = []

    def sendPacket(self, number: int, payload: bytes) -> None:
        self.outbox.append((number, payload))

    def sendDisconnect(self, reason: int, text: str) -> None:
        self.disconnected.append((reason, text))

    def sendUnimplemented(self) -> None:
        self.outbox.append((3, b""))

    def logPrefix(self) -> str:
        return "FakeTransport"


def pair(avatar: Any = None) -> tuple[connection.SSHConnection, connection.SSHConnection]:
    server, client = connection.SSHConnection(), connection.SSHConnection()
    server.transport, client.transport = FakeTransport(avatar or Avatar()), FakeTransport()
    server.serviceStarted()
    client.serviceStarted()
    return server, client


def pump(server: connection.SSHConnection, client: connection.SSHConnection) -> None:
    for _ in range(1000):
        toClient, toServer = server.transport.outbox, client.transport.outbox
        if not toClient and not toServer:
            return
        server.transport.outbox, client.transport.outbox = [], []
        for number, payload in toServer:
            if number != 3:
                server.packetReceived(number, payload)
        for number, payload in toClient:
            if number != 3:
                client.packetReceived(number, payload)
    raise AssertionError("never quiet")


class Recording(SSHChannel):
    name = b"session"

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.received = bytearray()
        self.events: list[str] = []
        self.echo = False

    def channelOpen(self, specificData: bytes) -> None:
        self.events.append("open")

    def openFailed(self, reason: Any) -> None:
        self.events.append(f"failed {reason.data}")

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        if self.echo:
            self.write(data.upper())

    def extReceived(self, dataType: int, data: bytes) -> None:
        self.events.append(f"ext {dataType} {data.decode()}")

    def eofReceived(self) -> None:
        self.events.append("eof")

    def closed(self) -> None:
        self.events.append("closed")

    def request_ping(self, data: bytes) -> bool:
        return data == b"please"


class Avatar(ConchUser):
    def __init__(self) -> None:
        super().__init__()
        self.opened: list[Recording] = []
        self.channelLookup[b"session"] = self.make

    def make(self, **kw: Any) -> Recording:
        channel = Recording(**kw)
        channel.echo = True
        self.opened.append(channel)
        return channel

    def global_hello(self, data: bytes) -> Any:
        return (True, b"world") if data == b"hi" else False


def opened(
    server: connection.SSHConnection, client: connection.SSHConnection, **kw: Any
) -> tuple[Recording, Recording]:
    mine = Recording(**kw)
    client.openChannel(mine)
    pump(server, client)
    avatar = server.transport.avatar
    return mine, avatar.opened[-1]


def test_openEchoEofAndClose() -> None:
    server, client = pair()
    mine, theirs = opened(server, client)
    assert mine.events == ["open"] and mine.id is not None
    mine.write(b"hello")
    mine.writeExtended(1, b"to stderr")
    pump(server, client)
    assert theirs.received == b"hello" and mine.received == b"HELLO"
    assert theirs.events == ["open", "ext 1 to stderr"]
    client.sendEOF(mine)
    mine.loseConnection()
    pump(server, client)
    assert theirs.events[-2:] == ["eof", "closed"] and mine.events[-1] == "closed"
    assert server.channels == {} and client.channels == {}


def test_unknownChannelTypeIsRefused() -> None:
    server, client = pair()

    class X11(Recording):
        name = b"x11"

    mine = X11()
    client.openChannel(mine)
    pump(server, client)
    assert mine.events == ["failed 3"] and client.channels == {}


def test_tooManyChannelsIsAResourceShortage() -> None:
    server, client = pair()
    server.maxChannels = 2
    channels = [Recording() for _ in range(3)]
    for channel in channels:
        client.openChannel(channel)
    pump(server, client)
    assert [c.events for c in channels] == [["open"], ["open"], ["failed 4"]]


def test_aSlowReaderHoldsTheWriterBack() -> None:
    """The server's channel stops granting window while paused: the client's writes
    wait in the client's channel, and its producer is paused, until it resumes."""
    server, client = pair()
    mine, theirs = opened(server, client)
    theirs.echo = False
    theirs.pauseProducing()

    class Producer:
        paused = resumed = 0

        def pauseProducing(self) -> None:
            self.paused += 1

        def resumeProducing(self) -> None:
            self.resumed += 1

    producer = Producer()
    mine.registerProducer(producer, True)
    window = theirs.localWindowSize
    mine.write(b"x" * (window + 100_000))
    pump(server, client)
    assert len(theirs.received) == window  # exactly the window, no more
    assert len(mine.buf) == 100_000 and producer.paused == 1
    theirs.resumeProducing()
    pump(server, client)
    assert len(theirs.received) == window + 100_000 and mine.buf == b""
    assert producer.resumed == 1


def test_packetsNeverExceedThePeersMaximum() -> None:
    server, client = pair()
    mine, theirs = opened(server, client, localMaxPacket=1000)
    theirs.write(b"y" * 5000)
    sizes = [len(p) - 8 for n, p in server.transport.outbox if n == connection.MSG_CHANNEL_DATA]
    assert sizes == [1000] * 5
    pump(server, client)
    assert mine.received == b"y" * 5000


def test_windowAdjustsComeInBigSteps() -> None:
    server, client = pair()
    mine, theirs = opened(server, client)
    theirs.echo = False
    for _ in range(100):
        mine.write(b"z" * 10_000)
    adjusts = [p for n, p in server.transport.outbox if n == connection.MSG_CHANNEL_WINDOW_ADJUST]
    pump(server, client)
    assert len(theirs.received) == 1_000_000
    assert len(adjusts) == 0  # 1 MB is within the 2 MiB window: nothing to top up yet


def test_dataBeyondTheWindowDisconnects() -> None:
    server, client = pair()
    mine, theirs = opened(server, client, localWindow=1000)
    assert theirs.remoteWindowLeft == 1000
    # The client's side (ours) enforces the window it granted: the server overruns it.
    remote = client.channelsToRemoteChannel.get(mine)
    assert remote is not None
    client.packetReceived(connection.MSG_CHANNEL_DATA, struct.pack("!L", mine.id) + NS(b"a" * 1001))
    assert client.transport.disconnected[0][0] == transport.DISCONNECT_PROTOCOL_ERROR


@pytest.mark.parametrize("extended", [False, True])
def test_dataAfterTheEOFDisconnects(extended: bool) -> None:
    # RFC 4254 5.3: after EOF the peer sends no more data on the channel.
    server, client = pair()
    mine, theirs = opened(server, client)
    mine.write(b"before")
    client.sendEOF(mine)
    pump(server, client)
    assert theirs.received == b"before" and theirs.events[-1] == "eof"
    assert not server.transport.disconnected
    local = struct.pack("!L", theirs.id)
    if extended:
        server.packetReceived(
            connection.MSG_CHANNEL_EXTENDED_DATA, local + struct.pack("!L", 1) + NS(b"late")
        )
    else:
        server.packetReceived(connection.MSG_CHANNEL_DATA, local + NS(b"late"))
    assert server.transport.disconnected[0][0] == transport.DISCONNECT_PROTOCOL_ERROR
    assert "after EOF" in server.transport.disconnected[0][1]
    assert theirs.received == b"before"


def test_messagesForChannelsThatAreNotOpenDisconnect() -> None:
    server, _ = pair()
    server.packetReceived(connection.MSG_CHANNEL_DATA, struct.pack("!L", 42) + NS(b"x"))
    assert server.transport.disconnected and "not open" in server.transport.disconnected[0][1]
    server2, _ = pair()
    server2.packetReceived(connection.MSG_CHANNEL_EOF, b"\x00")
    assert server2.transport.disconnected


def test_channelRequests() -> None:
    server, client = pair()
    mine, _ = opened(server, client)
    answers: list[Any] = []
    client.sendRequest(mine, b"ping", b"please", wantReply=True).addBoth(answers.append)
    client.sendRequest(mine, b"ping", b"rudely", wantReply=True).addBoth(answers.append)
    client.sendRequest(mine, b"unknown-request", b"", wantReply=True).addBoth(answers.append)
    assert client.sendRequest(mine, b"ping", b"please") is None
    pump(server, client)
    assert answers[0] is True
    assert answers[1].check(error.ConchError) and answers[2].check(error.ConchError)


def test_globalRequests() -> None:
    server, client = pair()
    answers: list[Any] = []
    client.sendGlobalRequest(b"hello", b"hi", wantReply=True).addBoth(answers.append)
    client.sendGlobalRequest(b"hello", b"bye", wantReply=True).addBoth(answers.append)
    client.sendGlobalRequest(b"no-such", b"", wantReply=True).addBoth(answers.append)
    pump(server, client)
    assert answers[0] == b"world"
    assert answers[1].check(error.ConchError) and answers[2].check(error.ConchError)


def test_aFailingChannelClosesAloneAndTheConnectionServesOn() -> None:
    server, client = pair()
    mine, theirs = opened(server, client)
    other, otherTheirs = opened(server, client)

    def broken(data: bytes) -> None:
        raise RuntimeError("channel bug")

    theirs.dataReceived = broken  # type: ignore[method-assign]
    mine.write(b"boom")
    other.write(b"still fine")
    pump(server, client)
    assert "closed" in mine.events and mine.id not in client.channels
    assert otherTheirs.received == b"still fine" and other.received == b"STILL FINE"
    assert not server.transport.disconnected


def test_closeReceivedDropsWhatCouldNotBeSent() -> None:
    server, client = pair()
    mine, theirs = opened(server, client, localWindow=10)
    theirs.write(b"q" * 100)  # 90 bytes wait for a window that will never open
    mine.loseConnection()
    pump(server, client)
    assert "closed" in theirs.events and server.channels == {}


def test_connectionLostFailsWhatWaitsAndClosesChannels() -> None:
    server, client = pair()
    mine, _ = opened(server, client)
    waiting: list[Any] = []
    client.sendRequest(mine, b"ping", b"please", wantReply=True).addBoth(waiting.append)
    client.sendGlobalRequest(b"hello", b"hi", wantReply=True).addBoth(waiting.append)
    client.serviceStopped()
    assert "closed" in mine.events
    assert waiting[0].check(error.ConchError) and waiting[1].check(ConnectionLost)


def test_openingIsAskedOfTheAvatarAsynchronously() -> None:
    later: defer.Deferred[Any] = defer.Deferred()
    avatar = Avatar()
    avatar.channelLookup[b"session"] = lambda **kw: later
    avatar.lookupChannel = lambda *a: later  # type: ignore[method-assign]
    server, client = pair(avatar)
    mine = Recording()
    client.openChannel(mine)
    pump(server, client)
    assert mine.events == []
    later.callback(Recording())
    pump(server, client)
    assert mine.events == ["open"]
