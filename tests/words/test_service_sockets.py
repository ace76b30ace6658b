"""The IRC server over real TCP on every reactor: a conversation, and a client that never reads.

Raw sockets on 127.0.0.1 (non-blocking, read between reactor iterations) are the
clients, so what is checked is the bytes on the wire; the server runs in this
process on the ``reactor`` fixture (each reactor of the conformance suite).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.internet.reactormixins import loggedErrors, reactor, runUntil
from torsion.cred import checkers, portal
from torsion.words import service

__all__ = ["loggedErrors", "reactor"]


class RawClient:
    """A non-blocking socket that collects the lines the server sends."""

    def __init__(self, port: int, receiveBuffer: int | None = None) -> None:
        self.sock = socket.socket()
        if receiveBuffer is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receiveBuffer)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setblocking(False)
        self.buffer = b""
        self.lines: list[str] = []
        self.closed = False

    def send(self, *lines: str) -> None:
        self.sock.setblocking(True)
        self.sock.sendall("".join(line + "\r\n" for line in lines).encode())
        self.sock.setblocking(False)

    def poll(self) -> None:
        while not self.closed:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError:
                self.closed = True
                return
            if not data:
                self.closed = True
                return
            self.buffer += data
            *done, self.buffer = self.buffer.split(b"\r\n")
            self.lines.extend(x.decode("utf-8", "replace") for x in done)

    def has(self, text: str) -> bool:
        self.poll()
        return any(text in line for line in self.lines)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def server(reactor: Any) -> Iterator[tuple[Any, service.IRCFactory, int]]:
    realm = service.InMemoryWordsRealm("irc.test")
    realm.createGroupOnRequest = True
    factory = service.IRCFactory(
        realm, portal.Portal(realm, [checkers.AllowAnonymousAccess()]), reactor=reactor
    )
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    yield reactor, factory, port.getHost().port
    port.stopListening()


def registered(reactor: Any, port: int, nick: str, **kw: Any) -> RawClient:
    client = RawClient(port, **kw)
    client.send(f"NICK {nick}", f"USER {nick} 0 * :{nick}", "JOIN #room")
    runUntil(reactor, lambda: client.has(" 366 "))
    return client


def test_conversationOverTCP(server: tuple[Any, service.IRCFactory, int]) -> None:
    reactor, factory, port = server
    alice = registered(reactor, port, "alice")
    order = [
        next(i for i, x in enumerate(alice.lines) if marker in x)
        for marker in (" 001 ", " 422 ", "alice!alice@127.0.0.1 JOIN #room", " 353 ", " 366 ")
    ]
    assert order == sorted(order), alice.lines
    bob = registered(reactor, port, "bob")
    runUntil(reactor, lambda: alice.has(":bob!bob@127.0.0.1 JOIN #room"))
    # The asyncio loop's own transports write at once; the server batches for them.
    mind = factory.realm.users["bob"].mind
    batched = type(mind.transport).__name__ == "_CoalescingTransport"
    assert batched == (
        type(mind.transport._transport if batched else mind.transport).__module__
        == "torsion.internet._asynciotcp"
    )
    bob.send("PRIVMSG #room :hello room", "PRIVMSG alice :hello alice", "QUIT :done")
    runUntil(reactor, lambda: alice.has(" QUIT :Quit: done"))
    assert ":bob!bob@127.0.0.1 PRIVMSG #room :hello room" in alice.lines
    assert ":bob!bob@127.0.0.1 PRIVMSG alice :hello alice" in alice.lines
    runUntil(reactor, lambda: bob.has("ERROR :Closing Link") and bob.closed)
    runUntil(reactor, lambda: factory.connections == 1)
    alice.close()
    runUntil(reactor, lambda: factory.connections == 0 and not factory.realm.users)
    bob.close()


def test_clientThatNeverReadsIsDroppedAndTheOthersGoOn(
    server: tuple[Any, service.IRCFactory, int], loggedErrors: list[dict[str, Any]]
) -> None:
    reactor, factory, port = server
    factory.maxSendQueue = 128 * 1024
    factory.floodRate = None
    sleeper = registered(reactor, port, "sleeper", receiveBuffer=4096)
    # A small kernel buffer on the server's side too, so the test need not fill megabytes.
    transport = factory.realm.users["sleeper"].mind.transport
    handle = transport.getHandle() if hasattr(transport, "getHandle") else transport.socket
    handle.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    reader = registered(reactor, port, "reader")
    talker = registered(reactor, port, "talker")
    line = "PRIVMSG #room :" + "x" * 400
    sent = 0
    while "sleeper" in factory.realm.users:
        talker.send(*[line] * 50)
        sent += 50
        assert sent < 20_000, "the sleeper was never disconnected"
        for _ in range(3):
            reactor.iterate(0.01)
        reader.poll()
        talker.poll()
    talker.send("PRIVMSG #room :after")
    runUntil(reactor, lambda: reader.has(":talker!talker@127.0.0.1 PRIVMSG #room :after"))
    assert reader.has(":sleeper!sleeper@127.0.0.1 QUIT :Max SendQ exceeded")
    assert sent * 400 > factory.maxSendQueue
    assert loggedErrors == []
    for client in (sleeper, reader, talker):
        client.close()
