"""Tests for the SMTP client: sendmail and ESMTPSender against torsion's server, against
aiosmtpd (a third-party server in a thread), and against scripted peers in memory."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import REACTOR_FACTORIES, closeReactor, runUntil, runUntilFired
from tests.internet.tlshelpers import clientOptions, serverCert, serverOptions
from tests.mail._smtphelpers import MemoryDelivery, esmtpFactory, userPortal
from torsion.internet.defer import Deferred
from torsion.internet.testing import StringTransport
from torsion.mail import smtp

reactor = reactormixins.reactor

BODY = b"Subject: test\r\n\r\n.starts with a dot\r\n..two dots\r\nbare lf\nend"


@pytest.fixture
def oneReactor() -> Iterator[Any]:
    made = REACTOR_FACTORIES["select"]()
    try:
        yield made
    finally:
        closeReactor(made)


def listen(reactor: Any, factory: Any) -> int:
    number: int = reactor.listenTCP(0, factory, interface="127.0.0.1").getHost().port
    return number


def failureOf(reactor: Any, d: Deferred[Any]) -> BaseException:
    with pytest.raises(Exception) as info:
        runUntilFired(reactor, d, timeout=10)
    return info.value


def test_sendmailWithRequiredTLSAndAuth(reactor: Any) -> None:
    portal, realm = userPortal(alice="wonderland")
    port = listen(reactor, esmtpFactory(portal=portal, ctx=serverOptions()))
    d = smtp.sendmail(
        "127.0.0.1",
        "alice@sender.example",
        ["bob@example.com", "nobody@elsewhere.example"],
        BODY,
        port=port,
        reactor=reactor,
        username="alice",
        password="wonderland",
        requireTransportSecurity=True,
        requireAuthentication=True,
        contextFactory=clientOptions("localhost"),
    )
    numOk, addresses = runUntilFired(reactor, d, timeout=10)
    assert numOk == 1
    assert [(a, c) for a, c, _ in addresses] == [
        (b"bob@example.com", 250),
        (b"nobody@elsewhere.example", 550),
    ]
    [(_user, data)] = realm.deliveries[b"alice"].messages
    assert data.split(b"\r\n", 2)[2] == BODY.replace(b"\nend", b"\r\nend") + b"\r\n"


def test_requiredTLSWithoutStartTLSFails(oneReactor: Any) -> None:
    port = listen(oneReactor, esmtpFactory(MemoryDelivery()))
    d = smtp.sendmail(
        "127.0.0.1",
        "a@x.example",
        "bob@example.com",
        BODY,
        port=port,
        reactor=oneReactor,
        requireTransportSecurity=True,
        contextFactory=clientOptions("localhost"),
    )
    error = failureOf(oneReactor, d)
    assert isinstance(error, smtp.TLSRequiredError)
    assert "STARTTLS" in str(error)


def test_opportunisticTLSIsUsedWhenOffered(oneReactor: Any) -> None:
    delivery = MemoryDelivery()
    port = listen(oneReactor, esmtpFactory(delivery, ctx=serverOptions()))
    secure: list[bool] = []

    class Watching(MemoryDelivery):
        pass

    d = smtp.sendmail(
        "127.0.0.1",
        "a@x.example",
        "bob@example.com",
        BODY,
        port=port,
        reactor=oneReactor,
        contextFactory=clientOptions("localhost"),
    )
    assert runUntilFired(oneReactor, d, timeout=10)[0] == 1
    [(user, _)] = delivery.messages
    secure.append(user.protocol.secure)
    assert secure == [True]


def test_withoutTLSAPasswordOnlyGoesByCramMD5(oneReactor: Any) -> None:
    portal, realm = userPortal(alice="wonderland")
    factory = esmtpFactory(portal=portal, allowPlaintextAuth=True)
    port = listen(oneReactor, factory)
    d = smtp.sendmail(
        "127.0.0.1",
        "a@x.example",
        "bob@example.com",
        BODY,
        port=port,
        reactor=oneReactor,
        username="alice",
        password="wonderland",
        requireAuthentication=True,
    )
    assert runUntilFired(oneReactor, d, timeout=10)[0] == 1
    assert len(realm.deliveries[b"alice"].messages) == 1

    factory.challengers = {b"PLAIN": smtp.PLAINCredentials}
    d = smtp.sendmail(
        "127.0.0.1",
        "a@x.example",
        "bob@example.com",
        BODY,
        port=port,
        reactor=oneReactor,
        username="alice",
        password="wonderland",
        requireAuthentication=True,
    )
    assert isinstance(failureOf(oneReactor, d), smtp.AUTHRequiredError)


def test_wrongPasswordFailsWithAuthenticationError(oneReactor: Any) -> None:
    portal, _ = userPortal(alice="wonderland")
    port = listen(oneReactor, esmtpFactory(portal=portal))
    d = smtp.sendmail(
        "127.0.0.1",
        "a@x.example",
        "bob@example.com",
        BODY,
        port=port,
        reactor=oneReactor,
        username="alice",
        password="nope",
        requireAuthentication=True,
    )
    error = failureOf(oneReactor, d)
    assert isinstance(error, smtp.AuthenticationError) and error.code == 535
    assert b"nope" not in (error.log or b"")


def test_everyRecipientRefused(oneReactor: Any) -> None:
    port = listen(oneReactor, esmtpFactory(MemoryDelivery()))
    d = smtp.sendmail(
        "127.0.0.1",
        "a@x.example",
        ["x@nowhere.example", "y@nowhere.example"],
        BODY,
        port=port,
        reactor=oneReactor,
    )
    error = failureOf(oneReactor, d)
    assert isinstance(error, smtp.SMTPDeliveryError)
    assert [c for _, c, _ in error.addresses or []] == [550, 550]


def test_refusedConnection(oneReactor: Any) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    d = smtp.sendmail(
        "127.0.0.1", "a@x.example", "b@example.com", BODY, port=port, reactor=oneReactor
    )
    assert isinstance(failureOf(oneReactor, d), smtp.SMTPConnectError)


def test_silentServerTimesOut(oneReactor: Any) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        d = smtp.sendmail(
            "127.0.0.1",
            "a@x.example",
            "b@example.com",
            BODY,
            port=s.getsockname()[1],
            reactor=oneReactor,
            timeout=0.3,
        )
        assert isinstance(failureOf(oneReactor, d), smtp.SMTPTimeoutError)
    finally:
        s.close()


def test_cancellingDropsTheConnection(oneReactor: Any) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        d = smtp.sendmail(
            "127.0.0.1",
            "a@x.example",
            "b@example.com",
            BODY,
            port=s.getsockname()[1],
            reactor=oneReactor,
        )
        s.settimeout(0)
        accepted: list[socket.socket] = []

        def accept() -> bool:
            try:
                accepted.append(s.accept()[0])
            except BlockingIOError:
                return False
            return True

        runUntil(oneReactor, accept)
        conn = accepted[0]
        d.cancel()
        from torsion.internet.defer import CancelledError

        assert isinstance(failureOf(oneReactor, d), CancelledError)
        for _ in range(5):
            oneReactor.iterate(0.02)
        conn.settimeout(5)
        assert conn.recv(100) == b""
        conn.close()
    finally:
        s.close()


# -- aiosmtpd, a third-party server ----------------------------------------------------


aiosmtpd = pytest.importorskip(
    "aiosmtpd", reason="aiosmtpd is not installed (pip install aiosmtpd)"
)


class Handler:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.endswith("@example.com"):
            envelope.rcpt_tos.append(address)
            return "250 OK"
        return "550 5.1.1 not here"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 Message accepted"


@pytest.fixture
def aioServer() -> Iterator[tuple[Handler, int, Any]]:
    from aiosmtpd.controller import Controller

    handler = Handler()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    serverCert().configure_cert(context)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=context)
    controller.start()
    try:
        yield handler, port, controller
    finally:
        controller.stop()


def test_sendmailToAiosmtpdWithStartTLS(
    oneReactor: Any, aioServer: tuple[Handler, int, Any]
) -> None:
    handler, port, _ = aioServer
    d = smtp.sendmail(
        "127.0.0.1",
        "a@x.example",
        ["bob@example.com", "nope@other.example", "carol@example.com"],
        BODY,
        port=port,
        reactor=oneReactor,
        requireTransportSecurity=True,
        contextFactory=clientOptions("localhost"),
    )
    numOk, addresses = runUntilFired(oneReactor, d, timeout=10)
    assert numOk == 2
    assert [c for _, c, _ in addresses] == [250, 550, 250]
    [(sender, rcpts, content)] = handler.envelopes
    assert sender == "a@x.example"
    assert rcpts == ["bob@example.com", "carol@example.com"]
    assert content == BODY.replace(b"\nend", b"\r\nend") + b"\r\n"


# -- in memory: what goes on the wire --------------------------------------------------


class OneMessage(smtp.ESMTPClient):
    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.sent: list[Any] = []
        self.errors: list[Any] = []
        self.done = False

    def getMailFrom(self) -> Any:
        if self.done:
            return None
        self.done = True
        return b"a@x.example"

    def getMailTo(self) -> list[bytes]:
        return [b"b@example.com", b"c@example.com"]

    def getMailData(self) -> Any:
        import io

        return io.BytesIO(b"hi\r\n")

    def sentMail(self, *args: Any) -> None:
        self.sent.append(args)

    def sendError(self, exc: Any) -> None:
        self.errors.append(exc)
        super().sendError(exc)


def talk(client: smtp.SMTPClient, transport: StringTransport, reply: bytes) -> bytes:
    transport.clear()
    client.dataReceived(reply)
    while transport.producer is not None:
        transport.producer.resumeProducing()  # type: ignore[attr-defined]
    return transport.value()


def test_pipeliningSendsTheEnvelopeInOneWrite() -> None:
    client = OneMessage(None, None, b"me.example")
    transport = StringTransport()
    client.makeConnection(transport)
    assert talk(client, transport, b"220 hi\r\n") == b"EHLO me.example\r\n"
    sent = talk(client, transport, b"250-mx\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
    assert sent == (
        b"MAIL FROM:<a@x.example> BODY=8BITMIME\r\n"
        b"RCPT TO:<b@example.com>\r\nRCPT TO:<c@example.com>\r\nDATA\r\n"
    )
    assert talk(client, transport, b"250 ok\r\n250 ok\r\n550 no\r\n354 go\r\n") == b"hi\r\n.\r\n"
    assert talk(client, transport, b"250 queued\r\n") == b"QUIT\r\n"
    [(code, _, numOk, addresses, _)] = client.sent
    assert (code, numOk) == (250, 1)
    assert [c for _, c, _ in addresses] == [250, 550]


def test_withoutPipeliningOneCommandAtATime() -> None:
    client = OneMessage(None, None, b"me.example")
    transport = StringTransport()
    client.makeConnection(transport)
    talk(client, transport, b"220 hi\r\n")
    assert talk(client, transport, b"250 mx\r\n") == b"MAIL FROM:<a@x.example>\r\n"
    assert talk(client, transport, b"250 ok\r\n") == b"RCPT TO:<b@example.com>\r\n"
    assert talk(client, transport, b"250 ok\r\n") == b"RCPT TO:<c@example.com>\r\n"
    assert talk(client, transport, b"250 ok\r\n") == b"DATA\r\n"


def test_heloFallback() -> None:
    client = OneMessage(None, None, b"me.example")
    transport = StringTransport()
    client.makeConnection(transport)
    talk(client, transport, b"220 hi\r\n")
    assert talk(client, transport, b"502 what\r\n") == b"HELO me.example\r\n"
    assert talk(client, transport, b"250 old\r\n") == b"MAIL FROM:<a@x.example>\r\n"


@pytest.mark.parametrize(
    ("replies", "errorType"),
    [
        (b"554 go away\r\n", smtp.SMTPConnectError),
        (b"hello there\r\n", smtp.SMTPProtocolError),
        (b"220 hi\r\n250-a\r\n251 b\r\n", smtp.SMTPProtocolError),
        (b"220 hi\r\n" + b"250 ok\r\n" * 7, smtp.SMTPDeliveryError),
        (b"220 " + b"x" * 10000 + b"\r\n", smtp.SMTPProtocolError),
    ],
)
def test_badServers(replies: bytes, errorType: type) -> None:
    client = OneMessage(None, None, b"me.example")
    client.pipelining = False
    transport = StringTransport()
    client.makeConnection(transport)
    client.dataReceived(replies)
    assert client.errors and isinstance(client.errors[0], errorType)
    assert transport.disconnecting


def test_authLogin() -> None:
    client = OneMessage(b"secret", None, b"me.example")
    client.requireTransportSecurity = False
    client.registerAuthenticator(smtp.LOGINAuthenticator(b"alice"))
    transport = StringTransport()
    client.makeConnection(transport)
    talk(client, transport, b"220 hi\r\n")
    assert talk(client, transport, b"250-mx\r\n250 AUTH LOGIN\r\n") == b"AUTH LOGIN\r\n"
    assert talk(client, transport, b"334 VXNlcm5hbWU6\r\n") == b"YWxpY2U=\r\n"
    assert talk(client, transport, b"334 UGFzc3dvcmQ6\r\n") == b"c2VjcmV0\r\n"
    assert talk(client, transport, b"235 ok\r\n").startswith(b"MAIL FROM:")
    assert b"c2VjcmV0" not in client.log.str()
