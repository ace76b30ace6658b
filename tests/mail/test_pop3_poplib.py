"""POP3 against Python's poplib over 127.0.0.1: a maildir domain with hashed passwords,
STLS, APOP-less greeting, large messages, and the POP3Client against our server."""

from __future__ import annotations

import poplib
import ssl
from pathlib import Path
from typing import Any

import pytest

from tests.internet.reactormixins import runUntilFired
from tests.mail._storehelpers import listen, mailReactor, makeService, runBlocking, tlsFiles
from torsion.internet.protocol import ClientCreator
from torsion.logger import formatEvent
from torsion.mail import pop3client
from torsion.mail.maildir import deliverToMaildir

__all__ = ["mailReactor"]

MESSAGE = (
    b"From: Sender <sender@remote.example>\n"
    b"To: alice@example.com\n"
    b"Subject: caf\xc3\xa9\n"
    b"Content-Type: text/plain; charset=utf-8\n"
    b"Content-Transfer-Encoding: 8bit\n"
    b"\n"
    b"8-bit body: \xc3\xa9\xc3\xa0\n"
    b".leading dot\n"
)


def setUp(tmp_path: Path, reactor: Any, tls: bool = False) -> tuple[int, Path, str | None]:
    service, _store = makeService(tmp_path, {"alice": "secret"}, reactor=reactor)
    box = tmp_path / "example.com" / "alice"
    deliverToMaildir(str(box), MESSAGE, fsync=False)
    deliverToMaildir(str(box), b"Subject: second\n\nshort\n", fsync=False)
    factory = service.getPOP3Factory()
    caFile = None
    if tls:
        options, caFile, _, _ = tlsFiles(tmp_path)
        factory.contextFactory = options
    return listen(reactor, factory), box, caFile


def test_poplibReadsRetrievesAndDeletes(tmp_path: Path, mailReactor: Any) -> None:
    port, box, _ = setUp(tmp_path, mailReactor)

    def client() -> Any:
        pop = poplib.POP3("127.0.0.1", port, timeout=10)
        try:
            pop.user("alice")
            pop.pass_("secret")
            stat = pop.stat()
            listing = pop.list()[1]
            uidl = pop.uidl()[1]
            message = pop.retr(1)[1]
            top = pop.top(2, 0)[1]
            pop.dele(2)
            pop.quit()
        except BaseException:
            pop.close()
            raise
        return stat, listing, uidl, message, top

    stat, listing, uidl, message, top = runBlocking(mailReactor, client)
    wire = len(MESSAGE) + MESSAGE.count(b"\n")
    assert stat == (2, wire + 26)
    assert listing == [b"1 %d" % wire, b"2 26"]
    assert len(uidl) == 2 and uidl[0] != uidl[1]
    assert b"\r\n".join(message) + b"\r\n" == MESSAGE.replace(b"\n", b"\r\n")
    assert top == [b"Subject: second", b""]
    remaining = list((box / "new").iterdir()) + list((box / "cur").iterdir())
    assert len(remaining) == 1
    assert len(list((box / ".Trash" / "cur").iterdir())) == 1


def test_poplibWrongPassword(tmp_path: Path, mailReactor: Any, logged: list[Any]) -> None:
    port, _, _ = setUp(tmp_path, mailReactor)

    def client() -> str:
        pop = poplib.POP3("127.0.0.1", port, timeout=10)
        try:
            pop.user("alice")
            with pytest.raises(poplib.error_proto) as caught:
                pop.pass_("not-the-password")
            # The session goes on.
            assert pop.noop().startswith(b"+OK")
            pop.quit()
        finally:
            pop.close()
        return str(caught.value)

    assert "[AUTH]" in runBlocking(mailReactor, client)
    texts = [formatEvent(e) for e in logged]
    assert not any("not-the-password" in t for t in texts)
    assert any("refused for 'alice'" in t for t in texts)


def test_poplibSTLS(tmp_path: Path, mailReactor: Any) -> None:
    port, _, caFile = setUp(tmp_path, mailReactor, tls=True)
    context = ssl.create_default_context(cafile=caFile)

    def client() -> Any:
        pop = poplib.POP3("127.0.0.1", port, timeout=10)
        try:
            caps = pop.capa()
            pop.stls(context)
            capsAfter = pop.capa()
            pop.user("alice")
            pop.pass_("secret")
            message = pop.retr(1)[1]
            pop.quit()
        finally:
            pop.close()
        return caps, capsAfter, message

    caps, capsAfter, message = runBlocking(mailReactor, client)
    assert "STLS" in caps and "STLS" not in capsAfter
    assert message[2] == "Subject: café".encode()


def test_largeMessageOverTheWire(tmp_path: Path, mailReactor: Any) -> None:
    port, box, _ = setUp(tmp_path, mailReactor)
    big = b"Subject: big\n\n" + b"".join(
        b"%06d ........................\n" % i for i in range(40000)
    )
    deliverToMaildir(str(box), big, fsync=False)

    def client() -> list[bytes]:
        pop = poplib.POP3("127.0.0.1", port, timeout=10)
        try:
            pop.user("alice")
            pop.pass_("secret")
            lines = pop.retr(3)[1]
            assert pop.noop().startswith(b"+OK")
            pop.quit()
        finally:
            pop.close()
        return lines

    lines = runBlocking(mailReactor, client)
    assert b"\n".join(lines) + b"\n" == big


def test_pop3Client(tmp_path: Path, mailReactor: Any) -> None:
    port, _, caFile = setUp(tmp_path, mailReactor, tls=True)
    from torsion.internet.ssl import Certificate, optionsForClientTLS

    client = runUntilFired(
        mailReactor,
        ClientCreator(mailReactor, pop3client.POP3Client).connectTCP("127.0.0.1", port),
    )
    runUntilFired(mailReactor, client.greeted)
    assert client.serverChallenge is None
    with pytest.raises(pop3client.InsecureAuthenticationDisallowed):
        runUntilFired(mailReactor, client.login("alice", "secret"))
    caps = runUntilFired(mailReactor, client.capabilities())
    assert b"STLS" in caps and b"UIDL" in caps
    trust = Certificate.loadPEM(Path(caFile).read_bytes())  # type: ignore[arg-type]
    runUntilFired(mailReactor, client.startTLS(optionsForClientTLS("localhost", trust)))
    assert b"logged in" in runUntilFired(mailReactor, client.login("alice", "secret"))
    assert runUntilFired(mailReactor, client.stat()) == (2, len(MESSAGE) + 8 + 26)
    sizes = runUntilFired(mailReactor, client.listSize())
    assert sizes == [len(MESSAGE) + 8, 26]
    uids = runUntilFired(mailReactor, client.listUID())
    assert len(uids) == 2 and all(isinstance(u, bytes) for u in uids)
    lines = runUntilFired(mailReactor, client.retrieve(0))
    assert b"\n".join(lines) + b"\n" == MESSAGE
    assert runUntilFired(mailReactor, client.retrieve(1, lines=0)) == [b"Subject: second", b""]
    got: list[bytes] = []
    runUntilFired(mailReactor, client.retrieve(1, consumer=got.append))
    assert got == [b"Subject: second", b"", b"short"]
    with pytest.raises(pop3client.ServerErrorResponse):
        runUntilFired(mailReactor, client.retrieve(7))
    runUntilFired(mailReactor, client.delete(1))
    assert runUntilFired(mailReactor, client.listSize()) == [len(MESSAGE) + 8]
    runUntilFired(mailReactor, client.reset())
    runUntilFired(mailReactor, client.noop())
    runUntilFired(mailReactor, client.quit())
