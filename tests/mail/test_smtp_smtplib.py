"""Python's smtplib (and raw sockets) against torsion's ESMTP server on 127.0.0.1.

STARTTLS with a real handshake, AUTH through Cred, pipelining, and hostile clients
that must not disturb the others. The first test runs on every reactor.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import REACTOR_FACTORIES, closeReactor, runUntil, runUntilFired
from tests.internet.tlshelpers import serverOptions, theCA
from tests.mail._smtphelpers import MemoryDelivery, esmtpFactory, inThread, userPortal

reactor = reactormixins.reactor


def clientContext() -> ssl.SSLContext:
    return ssl.create_default_context(cadata=theCA().cert_pem.bytes().decode("ascii"))


def richMessage() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Alice <alice@sender.example>"
    message["To"] = "bob@example.com"
    message["Subject"] = "Grüße, with an attachment"
    message.set_content(
        "Hello Bob,\n.a line starting with a dot\n\nÄÖÜ 8-bit text, ünïcödé.\n", cte="8bit"
    )
    message.add_attachment(
        bytes(range(256)) * 20, maintype="application", subtype="octet-stream", filename="blob.bin"
    )
    return message


def withoutReceived(data: bytes) -> bytes:
    lines = data.split(b"\r\n")
    while lines and (lines[0].startswith(b"Received:") or lines[0][:1] in (b"\t", b" ")):
        lines.pop(0)
    return b"\r\n".join(lines)


@pytest.fixture
def oneReactor() -> Iterator[Any]:
    made = REACTOR_FACTORIES["select"]()
    try:
        yield made
    finally:
        closeReactor(made)


def listen(reactor: Any, factory: Any) -> int:
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    number: int = port.getHost().port
    return number


def test_smtplibSendsWithStartTLSAndAuth(reactor: Any) -> None:
    portal, realm = userPortal(alice="wonderland")
    port = listen(reactor, esmtpFactory(portal=portal, ctx=serverOptions()))
    message = richMessage().as_bytes(policy=richMessage().policy.clone(linesep="\r\n"))

    def client() -> tuple[Any, Any, Any]:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.ehlo("client.example")
            before = s.esmtp_features.get("auth", "")
            s.starttls(context=clientContext())
            s.ehlo("client.example")
            after = s.esmtp_features.get("auth", "")
            s.login("alice", "wonderland")
            refused = s.sendmail("alice@sender.example", ["bob@example.com"], message)
            return before, after, refused

    before, after, refused = runUntilFired(reactor, inThread(reactor, client), timeout=15)
    assert before.split() == ["CRAM-MD5"]
    assert set(after.split()) == {"PLAIN", "LOGIN", "CRAM-MD5"}
    assert refused == {}
    [(user, data)] = realm.deliveries[b"alice"].messages
    assert bytes(user.dest) == b"bob@example.com"
    assert data.startswith(b"Received: from client.example")
    assert withoutReceived(data) == message


def test_smtplibCramMD5WithoutTLS(oneReactor: Any) -> None:
    portal, realm = userPortal(alice="wonderland")
    port = listen(oneReactor, esmtpFactory(portal=portal))

    def client() -> Any:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.login("alice", "wonderland")
            return s.sendmail("alice@x.example", ["bob@example.com"], b"Subject: x\r\n\r\nhi\r\n")

    assert runUntilFired(oneReactor, inThread(oneReactor, client), timeout=10) == {}
    assert len(realm.deliveries[b"alice"].messages) == 1


def test_smtplibWrongPasswordIsRefused(oneReactor: Any) -> None:
    portal, _ = userPortal(alice="wonderland")
    port = listen(oneReactor, esmtpFactory(portal=portal, ctx=serverOptions()))

    def client() -> Any:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.starttls(context=clientContext())
            try:
                s.login("alice", "guess")
            except smtplib.SMTPAuthenticationError as e:
                return e.smtp_code
            return None

    assert runUntilFired(oneReactor, inThread(oneReactor, client), timeout=10) == 535


def test_smtplibUnknownRecipientIs550(oneReactor: Any) -> None:
    delivery = MemoryDelivery()
    port = listen(oneReactor, esmtpFactory(delivery))

    def client() -> Any:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            try:
                s.sendmail("a@x.example", ["nobody@elsewhere.example"], b"x\r\n")
            except smtplib.SMTPRecipientsRefused as e:
                refusals = e.recipients
            partial = s.sendmail(
                "a@x.example", ["nobody@elsewhere.example", "bob@example.com"], b"x\r\n"
            )
            return refusals, partial

    refusals, partial = runUntilFired(oneReactor, inThread(oneReactor, client), timeout=10)
    assert refusals["nobody@elsewhere.example"][0] == 550
    assert partial["nobody@elsewhere.example"][0] == 550
    assert [bytes(u.dest) for u, _ in delivery.messages] == [b"bob@example.com"]


def rawExchange(
    port: int, data: bytes, expectReplies: int, sock: socket.socket | None = None
) -> list[bytes]:
    """Send ``data`` in one write and read until ``expectReplies`` final reply lines."""
    s = sock or socket.create_connection(("127.0.0.1", port), timeout=10)
    received = b""
    if sock is None:
        while not received.endswith(b"\r\n"):
            received += s.recv(4096)
        received = b""
    s.sendall(data)
    lines: list[bytes] = []
    while sum(1 for line in lines if line[3:4] != b"-") < expectReplies:
        chunk = s.recv(65536)
        if not chunk:
            break
        received += chunk
        *complete, received = received.split(b"\r\n")
        lines += complete
    if sock is None:
        s.close()
    return [line for line in lines if line[3:4] != b"-"]


def test_pipelinedTransactionsInOneWrite(oneReactor: Any) -> None:
    delivery = MemoryDelivery()
    port = listen(oneReactor, esmtpFactory(delivery))
    batch = b"EHLO pipe.example\r\n"
    for i in range(5):
        batch += (
            b"MAIL FROM:<a@x.example>\r\nRCPT TO:<bob@example.com>\r\nRCPT TO:<no@else.example>\r\n"
            b"DATA\r\nSubject: %d\r\n\r\nbody %d\r\n.\r\n" % (i, i)
        )
    batch += b"QUIT\r\n"
    got = runUntilFired(
        oneReactor, inThread(oneReactor, lambda: rawExchange(port, batch, 27)), timeout=10
    )
    assert [int(line[:3]) for line in got] == [250] + [250, 250, 550, 354, 250] * 5 + [221]
    assert [data.split(b"\r\n")[2] for _, data in delivery.messages] == [
        b"Subject: %d" % i for i in range(5)
    ]


def test_startTLSCommandInjectionIsDiscarded(oneReactor: Any) -> None:
    port = listen(oneReactor, esmtpFactory(MemoryDelivery(), ctx=serverOptions()))

    def client() -> list[bytes]:
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        assert raw.recv(4096).startswith(b"220")
        [ehlo] = rawExchange(port, b"EHLO x\r\n", 1, raw)
        [ready] = rawExchange(port, b"STARTTLS\r\nMAIL FROM:<injected@x.example>\r\n", 1, raw)
        tls = clientContext().wrap_socket(raw, server_hostname="localhost")
        after = rawExchange(port, b"NOOP\r\n", 1, tls)  # type: ignore[arg-type]
        tls.close()
        return [ehlo, ready, *after]

    _ehlo, ready, noop = runUntilFired(oneReactor, inThread(oneReactor, client), timeout=10)
    assert ready.startswith(b"220 2.0.0")
    assert noop == b"250 2.0.0 OK"


def test_hostileClientDoesNotDisturbOthers(oneReactor: Any) -> None:
    delivery = MemoryDelivery()
    port = listen(oneReactor, esmtpFactory(delivery, maxErrors=5))
    hostile = socket.create_connection(("127.0.0.1", port), timeout=10)
    hostile.sendall(
        b"EHLO evil\r\n" + b"A" * 100000 + b"\r\n" + b"\x00\xff garbage\r\n" * 3 + b"DATA\r\n"
    )

    def client() -> Any:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            return s.sendmail("a@x.example", ["bob@example.com"], b"Subject: fine\r\n\r\nok\r\n")

    assert runUntilFired(oneReactor, inThread(oneReactor, client), timeout=10) == {}
    assert len(delivery.messages) == 1

    def hostileReplies() -> list[int]:
        data = b""
        while data.count(b"\r\n") < 7:
            chunk = hostile.recv(65536)
            if not chunk:
                break
            data += chunk
        return [int(line[:3]) for line in data.split(b"\r\n") if line[3:4] == b" "]

    got = runUntilFired(oneReactor, inThread(oneReactor, hostileReplies), timeout=10)
    assert got[:1] == [220] and 500 in got and got[-1] == 503
    hostile.close()


def test_dataWithoutRcptKeepsTheSmtplibSessionUsable(oneReactor: Any) -> None:
    delivery = MemoryDelivery()
    port = listen(oneReactor, esmtpFactory(delivery))

    def client() -> Any:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.ehlo()
            s.mail("a@x.example")
            first = s.data(b"never")
        return first

    def client2() -> Any:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.ehlo()
            s.mail("a@x.example")
            code, _ = s.docmd("DATA")
            s.rcpt("bob@example.com")
            return code, s.data(b"Subject: x\r\n\r\nyes\r\n")[0]

    with pytest.raises(smtplib.SMTPDataError):
        runUntilFired(oneReactor, inThread(oneReactor, client), timeout=10)
    assert runUntilFired(oneReactor, inThread(oneReactor, client2), timeout=10) == (503, 250)
    runUntil(oneReactor, lambda: len(delivery.messages) == 1)
