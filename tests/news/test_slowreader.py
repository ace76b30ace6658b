"""A reader that asks for many big articles and does not read: the server's buffer to
it stays bounded (it stops answering, and reading, until the reader catches up), and
every answer arrives once the reader reads. Over real TCP on 127.0.0.1."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from tests.internet import reactormixins
from torsion.news.database import NewsSpool
from torsion.news.news import NNTPFactory

oneReactor = reactormixins.oneReactor

ARTICLE_LINES = 4000  # about 200 KiB an article


def test_aReaderThatDoesNotReadIsNotBufferedWithoutBound(oneReactor: Any, tmp_path: Path) -> None:
    spool = NewsSpool(tmp_path)
    spool.addGroup("local.big")
    body = b"".join(b"%05d " % i + b"x" * 44 + b"\r\n" for i in range(ARTICLE_LINES))
    spool.postArticle(b"From: a@b.c\r\nNewsgroups: local.big\r\nSubject: big\r\n\r\n" + body)
    size = len(spool.articleByNumber("local.big", 1).raw)  # type: ignore[union-attr]
    factory = NNTPFactory(spool, reactor=oneReactor)
    servers: list[Any] = []
    build = factory.buildProtocol

    def recordingBuild(address: Any) -> Any:
        servers.append(build(address))
        return servers[-1]

    factory.buildProtocol = recordingBuild  # type: ignore[method-assign]
    port = oneReactor.listenTCP(0, factory, interface="127.0.0.1")
    requests = 30
    client = socket.create_connection(("127.0.0.1", port.getHost().port))
    try:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        client.sendall(b"GROUP local.big\r\n" + b"ARTICLE 1\r\n" * requests)
        reactormixins.runUntil(oneReactor, lambda: bool(servers))
        server = servers[0]
        biggest = 0
        for _ in range(40):
            oneReactor.iterate(0.01)
            biggest = max(biggest, server.transport.bufferedSize())
        # At most about one article waits in torsion (the kernel holds some more).
        assert 0 < biggest < size + 2 * server.transport.bufferSize
        assert server._outputPaused

        client.setblocking(False)
        received = bytearray()
        for _ in range(20000):  # bounded; a few hundred rounds are enough
            try:
                received += client.recv(1 << 20)
            except BlockingIOError:
                pass
            oneReactor.iterate(0.001)
            done = received.count(b"\r\n220 1 ") == requests
            if done and received.endswith(b"\r\n.\r\n"):
                break
        assert received.count(b"\r\n220 1 ") == requests
        assert received.count(b"%05d " % (ARTICLE_LINES - 1)) == requests
    finally:
        client.close()
        port.stopListening()
