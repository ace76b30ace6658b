"""Channel data gathered while the transport dispatches a batch of received packets
("corked") goes out coalesced in packets as full as the peer allows, and in order
with the channel's other messages (torsion.conch.ssh.connection.sendData).

Over the real transport too: an SFTP-like answer per request in one received batch
comes back in fewer, fuller packets than one per answer.
"""

from __future__ import annotations

from tests.conch import sshhelpers
from tests.conch.sshhelpers import connectedPair
from tests.conch.test_connection import opened, pair, pump
from torsion.conch.ssh import connection


def dataSizes(outbox: list[tuple[int, bytes]]) -> list[int]:
    return [len(p) - 8 for n, p in outbox if n == connection.MSG_CHANNEL_DATA]


def test_writesWhileCorkedAreCoalescedUpToTheMaximum() -> None:
    server, client = pair()
    mine, theirs = opened(server, client, localMaxPacket=1000)
    server.transport.corked = True  # type: ignore[attr-defined]
    for _ in range(25):
        theirs.write(b"a" * 130)  # 3250 bytes in 25 writes
    assert dataSizes(server.transport.outbox) == []
    server.transport.corked = False  # type: ignore[attr-defined]
    server.uncork()
    assert dataSizes(server.transport.outbox) == [1000, 1000, 1000, 250]
    pump(server, client)
    assert mine.received == b"a" * 3250


def test_gatheredPiecesAreCutAtTheMaximumWhereverTheyEnd() -> None:
    # Writes that fill a packet exactly, and one that spans several packets.
    server, client = pair()
    mine, theirs = opened(server, client, localMaxPacket=1000)
    server.transport.corked = True  # type: ignore[attr-defined]
    theirs.write(b"a" * 500)
    theirs.write(b"b" * 500)
    theirs.write(b"c" * 2700)
    server.transport.corked = False  # type: ignore[attr-defined]
    server.uncork()
    assert dataSizes(server.transport.outbox) == [1000, 1000, 1000, 700]
    pump(server, client)
    assert mine.received == b"a" * 500 + b"b" * 500 + b"c" * 2700


def test_aBufferChangedAfterItsWriteIsSentAsItWas() -> None:
    # Gathered data is kept by reference; a mutable buffer must be copied first.
    server, client = pair()
    mine, theirs = opened(server, client)
    server.transport.corked = True  # type: ignore[attr-defined]
    buffer = bytearray(b"first")
    theirs.write(buffer)  # type: ignore[arg-type]
    buffer[:] = b"XXXXX"
    server.transport.corked = False  # type: ignore[attr-defined]
    server.uncork()
    pump(server, client)
    assert mine.received == b"first"


def test_otherMessagesOfTheChannelSendTheDataFirst() -> None:
    server, client = pair()
    mine, theirs = opened(server, client)
    server.transport.corked = True  # type: ignore[attr-defined]
    theirs.write(b"before ")
    theirs.writeExtended(1, b"err")
    theirs.write(b"after")
    server.sendEOF(theirs)
    theirs.loseConnection()
    numbers = [n for n, _ in server.transport.outbox]
    assert numbers == [
        connection.MSG_CHANNEL_DATA,
        connection.MSG_CHANNEL_EXTENDED_DATA,
        connection.MSG_CHANNEL_DATA,
        connection.MSG_CHANNEL_EOF,
        connection.MSG_CHANNEL_CLOSE,
    ]
    server.transport.corked = False  # type: ignore[attr-defined]
    server.uncork()
    pump(server, client)
    assert mine.received == b"before after"
    assert mine.events[-3:] == ["ext 1 err", "eof", "closed"]


def test_aClosedChannelDropsWhatItGathered() -> None:
    server, client = pair()
    _, theirs = opened(server, client)
    server.transport.corked = True  # type: ignore[attr-defined]
    theirs.write(b"lost")
    server.channelClosed(theirs)
    server.uncork()
    assert dataSizes(server.transport.outbox) == []


def test_theTransportCorksEachReceivedBatch() -> None:
    # Real transports in memory: a batch of packets whose handler writes a little
    # each time gets one packet back, not one per write.
    server, serverWire, client, clientWire = connectedPair()
    sent: list[bytes] = []
    server.sendPacketParts = lambda number, parts: sent.append(bytes((number, *b"".join(parts))))  # type: ignore[method-assign]
    conn = connection.SSHConnection()
    conn.transport = server
    server.service = conn
    channel = type("Chan", (), {"localClosed": False, "remoteMaxPacket": 32768})()
    conn.channelsToRemoteChannel[channel] = 7
    handled: list[int] = []

    def handler(number: int, payload: bytes) -> None:
        handled.append(number)
        conn.sendData(channel, b"answer-%d;" % len(handled))

    conn.packetReceived = handler  # type: ignore[method-assign]
    for _ in range(5):
        client.sendPacket(200, b"request")
    server.dataReceived(clientWire.value())
    clientWire.clear()
    assert handled == [200] * 5
    data = [p for p in sent if p[0] == connection.MSG_CHANNEL_DATA]
    assert len(data) == 1 and data[0].endswith(b"answer-1;answer-2;answer-3;answer-4;answer-5;")
    assert not server.corked
    sshhelpers.pump(server, serverWire, client, clientWire)
