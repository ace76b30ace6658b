"""Tests for the relaying manager: torsion's own SMTP server on 127.0.0.1 as the next
hop, a fake resolver for MX lookups, retries, deadlines and bounces."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.internet.reactormixins import REACTOR_FACTORIES, closeReactor, runUntil
from tests.internet.tlshelpers import clientOptions, serverOptions
from tests.mail._smtphelpers import MemoryDelivery, esmtpFactory, userPortal
from tests.mail.test_relay_queue import FakeResolver, mx
from torsion.internet.address import IPv4Address
from torsion.internet.testing import StringTransport
from torsion.mail import relay, relaymanager, smtp

BODY = b"From: alice@example.com\r\nSubject: relayed\r\n\r\nhello\r\n"


@pytest.fixture
def oneReactor() -> Iterator[Any]:
    made = REACTOR_FACTORIES["select"]()
    try:
        yield made
    finally:
        closeReactor(made)


def freePort() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


def manager(
    queue: relaymanager.Queue, reactor: Any, port: int, **kw: Any
) -> relaymanager.SmartHostSMTPRelayingManager:
    kw.setdefault("retryDelays", (0.05,))
    return relaymanager.SmartHostESMTPRelayingManager(
        queue,
        smartHostAddr=("127.0.0.1", port),
        reactor=reactor,
        heloName=b"relay.test",
        timeout=10,
        **kw,
    )


def drain(
    reactor: Any, m: relaymanager.SmartHostSMTPRelayingManager, done: Any, timeout: float = 10
) -> None:
    def check() -> bool:
        if not m.managed:
            m.checkState()
        return bool(done()) and not m.managed and not m.queue.getRelayed()

    runUntil(reactor, check, timeout=timeout)


def test_smartHostGetsEveryMessage(oneReactor: Any, tmp_path: Path) -> None:
    delivery = MemoryDelivery()
    port = oneReactor.listenTCP(0, esmtpFactory(delivery), interface="127.0.0.1").getHost().port
    queue = relaymanager.Queue(str(tmp_path))
    for i in range(5):
        queue.addFromBytes(b"alice@example.com", [b"bob%d@example.com" % i], BODY)
    m = manager(queue, oneReactor, port, maxMessagesPerConnection=2)
    drain(
        oneReactor,
        m,
        lambda: len(delivery.messages) == 5 and not queue.hasWaiting() and not m.managed,
    )
    assert sorted(bytes(u.dest) for u, _ in delivery.messages) == [
        b"bob%d@example.com" % i for i in range(5)
    ]
    assert all(data.endswith(BODY) for _, data in delivery.messages)
    assert not queue.getRelayed()


def test_aServerDownAtFirstGetsTheMessageOnceItIsUp(oneReactor: Any, tmp_path: Path) -> None:
    port = freePort()
    queue = relaymanager.Queue(str(tmp_path))
    messageID = queue.addFromBytes(b"alice@example.com", [b"bob@example.com"], BODY)
    m = manager(queue, oneReactor, port, retryDelays=(0.2,))
    m.checkState()
    runUntil(oneReactor, lambda: queue.getState(messageID)["attempts"] == 1 and not m.managed)
    assert "refused" in queue.getState(messageID)["lastError"].lower()
    assert queue.getWaiting() == [messageID]
    m.checkState()
    assert not m.managed, "a message is not retried before its delay"
    delivery = MemoryDelivery()
    oneReactor.listenTCP(port, esmtpFactory(delivery), interface="127.0.0.1")
    drain(oneReactor, m, lambda: len(delivery.messages) == 1 and not queue.hasWaiting())
    assert queue.getRelayed() == []


def test_refusedRecipientsBounceToTheSender(oneReactor: Any, tmp_path: Path) -> None:
    delivery = MemoryDelivery()
    port = oneReactor.listenTCP(0, esmtpFactory(delivery), interface="127.0.0.1").getHost().port
    queue = relaymanager.Queue(str(tmp_path))
    queue.addFromBytes(b"alice@example.com", [b"bob@example.com", b"ghost@nowhere.example"], BODY)
    m = manager(queue, oneReactor, port)
    drain(
        oneReactor,
        m,
        lambda: len(delivery.messages) == 2 and not queue.hasWaiting() and not m.managed,
    )
    (first, _), (bounced, data) = delivery.messages
    assert bytes(first.dest) == b"bob@example.com"
    assert bytes(bounced.dest) == b"alice@example.com" and bytes(bounced.orig) == b""
    assert b"Final-Recipient: rfc822; ghost@nowhere.example" in data
    assert b"550 5.1.1 No such user here" in data


class Later(MemoryDelivery):
    def validateTo(self, user: smtp.User) -> Any:
        if user.dest.local == b"busy":
            raise smtp.SMTPBadRcpt(user, 451, b"4.2.1 try later")
        return super().validateTo(user)


def test_temporaryRefusalsAreRetriedForThoseRecipientsOnly(oneReactor: Any, tmp_path: Path) -> None:
    delivery = Later()
    port = oneReactor.listenTCP(0, esmtpFactory(delivery), interface="127.0.0.1").getHost().port
    queue = relaymanager.Queue(str(tmp_path))
    messageID = queue.addFromBytes(
        b"alice@example.com", [b"bob@example.com", b"busy@example.com"], BODY
    )
    m = manager(queue, oneReactor, port, retryDelays=(3600,))
    m.checkState()
    runUntil(oneReactor, lambda: len(delivery.messages) == 1 and not m.managed)
    state = queue.getState(messageID)
    assert state["to"] == ["busy@example.com"] and state["attempts"] == 1
    assert "try later" in state["lastError"]
    assert queue.getWaiting() == [messageID]


def test_pastTheDeadlineAMessageBounces(oneReactor: Any, tmp_path: Path) -> None:
    delivery = MemoryDelivery()
    port = oneReactor.listenTCP(0, esmtpFactory(delivery), interface="127.0.0.1").getHost().port
    queue = relaymanager.Queue(str(tmp_path))
    old = oneReactor.seconds() - 3600
    queue.addFromBytes(b"alice@example.com", [b"bob@far.example"], BODY, now=old)
    m = manager(queue, oneReactor, port, deadline=600)
    drain(oneReactor, m, lambda: len(delivery.messages) == 1 and not queue.hasWaiting())
    [(user, data)] = delivery.messages
    assert bytes(user.dest) == b"alice@example.com"
    assert b"Final-Recipient: rfc822; bob@far.example" in data and b"Status: 4.4.7" in data


def test_aBounceThatCannotBeDeliveredIsDropped(
    oneReactor: Any, tmp_path: Path, logged: list[Any]
) -> None:
    port = (
        oneReactor.listenTCP(0, esmtpFactory(MemoryDelivery()), interface="127.0.0.1")
        .getHost()
        .port
    )
    queue = relaymanager.Queue(str(tmp_path))
    queue.addFromBytes(b"", [b"ghost@nowhere.example"], b"Subject: a bounce\r\n\r\nx\r\n")
    m = manager(queue, oneReactor, port)
    m.checkState()
    runUntil(oneReactor, lambda: not queue.hasWaiting() and not m.managed)
    assert not queue.getRelayed() and list(tmp_path.iterdir()) == []
    assert any("could not be delivered" in str(e.get("log_format")) for e in logged)


def test_mxLookupsChooseTheServer(oneReactor: Any, tmp_path: Path) -> None:
    delivery = MemoryDelivery(domains=(b"example.com", b"other.example"))
    port = oneReactor.listenTCP(0, esmtpFactory(delivery), interface="127.0.0.1").getHost().port
    resolver = FakeResolver(
        {
            b"example.com": [mx(b"example.com", 10, b"127.0.0.1")],
            b"other.example": [mx(b"other.example", 10, b"127.0.0.1")],
            b"nomail.example": [mx(b"nomail.example", 0, b"")],
        }
    )
    queue = relaymanager.Queue(str(tmp_path))
    # One message for two domains goes to each domain's exchanger.
    queue.addFromBytes(b"alice@example.com", [b"bob@example.com", b"carol@other.example"], BODY)
    queue.addFromBytes(b"alice@example.com", [b"dan@nomail.example"], BODY)
    m = relaymanager.SmartHostESMTPRelayingManager(
        queue, resolver=resolver, reactor=oneReactor, retryDelays=(0.05,)
    )
    m.PORT = port
    drain(
        oneReactor,
        m,
        lambda: len(delivery.messages) == 3 and not queue.hasWaiting() and not m.managed,
    )
    destinations = sorted(bytes(u.dest) for u, _ in delivery.messages)
    assert destinations == [b"alice@example.com", b"bob@example.com", b"carol@other.example"]
    bounceData = next(d for u, d in delivery.messages if bytes(u.dest) == b"alice@example.com")
    assert b"null MX" in bounceData


def test_relayWithStartTLSAndAuth(oneReactor: Any, tmp_path: Path) -> None:
    portal, realm = userPortal(relay="s3cret")
    port = (
        oneReactor.listenTCP(
            0, esmtpFactory(portal=portal, ctx=serverOptions()), interface="127.0.0.1"
        )
        .getHost()
        .port
    )
    queue = relaymanager.Queue(str(tmp_path))
    queue.addFromBytes(b"alice@example.com", [b"bob@example.com"], BODY)
    m = manager(
        queue,
        oneReactor,
        port,
        contextFactory=clientOptions("localhost"),
        username="relay",
        password="s3cret",
        requireTransportSecurity=True,
    )
    drain(
        oneReactor,
        m,
        lambda: b"relay" in realm.deliveries and len(realm.deliveries[b"relay"].messages) == 1,
    )
    [(user, _)] = realm.deliveries[b"relay"].messages
    assert user.protocol.secure and user.protocol.authenticated


def test_relayStateHelperChecksPeriodically(tmp_path: Path) -> None:
    from torsion.internet.task import Clock

    clock = Clock()
    calls: list[int] = []

    class Counting(relaymanager.SmartHostSMTPRelayingManager):
        def checkState(self) -> Any:
            calls.append(1)
            return super().checkState()

    m = Counting(relaymanager.Queue(str(tmp_path)), reactor=clock, smartHostAddr=("127.0.0.1", 1))
    helper = relaymanager.RelayStateHelper(m, 30)
    helper.startService()
    clock.advance(30)
    clock.advance(30)
    helper.stopService()
    assert len(calls) == 3


# -- DomainQueuer --------------------------------------------------------------------------


class Service:
    def __init__(self, queue: relaymanager.Queue) -> None:
        self.queue = queue


def userFrom(host: str, authenticated: bool = False) -> smtp.User:
    protocol = smtp.ESMTP()
    protocol.makeConnection(StringTransport(peerAddress=IPv4Address("TCP", host, 5000)))
    protocol.setTimeout(None)
    protocol.authenticated = authenticated
    return smtp.User(
        b"bob@far.example", (b"c", host.encode()), protocol, smtp.Address(b"alice@example.com")
    )


def test_domainQueuerRelaysForLocalAndAuthenticatedClientsOnly(tmp_path: Path) -> None:
    queue = relaymanager.Queue(str(tmp_path))
    queuer = relay.DomainQueuer(Service(queue))
    message = queuer.exists(userFrom("127.0.0.1"))()
    message.lineReceived(b"Subject: x")
    message.eomReceived()
    assert [queue.getEnvelope(i) for i in queue.getWaiting()] == [
        ["alice@example.com", ["bob@far.example"]]
    ]
    assert callable(queuer.exists(userFrom("192.0.2.7", authenticated=True)))
    with pytest.raises(smtp.SMTPBadRcpt) as info:
        queuer.exists(userFrom("192.0.2.7"))
    assert info.value.code == 550
    assert callable(
        relay.DomainQueuer(Service(queue), authenticated=True).exists(userFrom("192.0.2.7"))
    )


# -- MX lookups through torsion.names.client -------------------------------------------


def test_mxCalculatorOverTorsionNamesClient(oneReactor: Any) -> None:
    from tests.internet.reactormixins import runUntilFired
    from tests.names.fakedns import FakeDNSServer
    from torsion.names import client, error

    server = FakeDNSServer()
    try:
        resolver = client.Resolver(servers=[server.address], reactor=oneReactor, timeout=(2,))
        calculator = relaymanager.MXCalculator(resolver, oneReactor)
        best = runUntilFired(oneReactor, calculator.getMX("example.com"))
        assert (best.preference, str(best.name)) == (10, "mail.example.com")
        calculator.markBad("mail.example.com")
        assert (
            str(runUntilFired(oneReactor, calculator.getMX("example.com")).name)
            == "backup.example.com"
        )
        with pytest.raises(error.DNSNameError):
            runUntilFired(oneReactor, calculator.getMX("nowhere.example.com"))
    finally:
        server.close()


def test_aDomainThatDoesNotExistBouncesAtOnce(oneReactor: Any, tmp_path: Path) -> None:
    from torsion.names.error import DNSNameError

    delivery = MemoryDelivery()
    port = oneReactor.listenTCP(0, esmtpFactory(delivery), interface="127.0.0.1").getHost().port
    resolver = FakeResolver(
        {
            b"nx.example": DNSNameError("nx.example"),
            b"example.com": [mx(b"example.com", 1, b"127.0.0.1")],
        }
    )
    queue = relaymanager.Queue(str(tmp_path))
    queue.addFromBytes(b"alice@example.com", [b"bob@nx.example"], BODY)
    m = relaymanager.SmartHostESMTPRelayingManager(queue, resolver=resolver, reactor=oneReactor)
    m.PORT = port
    drain(oneReactor, m, lambda: len(delivery.messages) == 1 and not queue.hasWaiting())
    [(user, data)] = delivery.messages
    assert bytes(user.dest) == b"alice@example.com" and b"bob@nx.example" in data
