"""Tests for the SMTP/ESMTP server protocols over in-memory transports (and a Clock)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zope.interface import implementer

from tests.mail._smtphelpers import MemoryDelivery, codes, connectedServer, replies
from torsion.internet.defer import Deferred
from torsion.internet.task import Clock
from torsion.mail import smtp
from torsion.python.failure import Failure


def esmtp(delivery: Any = None, **attrs: Any) -> tuple[smtp.ESMTP, Any, Clock, MemoryDelivery]:
    delivery = delivery if delivery is not None else MemoryDelivery()
    protocol = smtp.ESMTP()
    protocol.host = b"mx.test"
    protocol.delivery = delivery
    for name, value in attrs.items():
        setattr(protocol, name, value)
    _server, transport, clock = connectedServer(protocol)
    assert codes(transport) == [220]
    return protocol, transport, clock, delivery


def send(protocol: smtp.SMTP, data: bytes) -> None:
    protocol.dataReceived(data)


MESSAGE = b"Subject: hi\r\n\r\nline one\r\n..dot\r\n.\r\n"


def transaction(to: bytes = b"bob@example.com") -> bytes:
    return b"MAIL FROM:<alice@sender.example>\r\nRCPT TO:<" + to + b">\r\nDATA\r\n" + MESSAGE


def test_greetingNamesTheHost() -> None:
    protocol = smtp.ESMTP()
    protocol.host = b"mx.test"
    _, transport, _ = connectedServer(protocol)
    assert transport.value().startswith(b"220 mx.test ")


def test_ehloListsTheExtensions() -> None:
    protocol, transport, _, _ = esmtp()
    send(protocol, b"EHLO client.test\r\n")
    lines = replies(transport)
    assert lines[0].startswith(b"250-mx.test Hello client.test [127.0.0.1]")
    keywords = {line[4:].split(b" ")[0] for line in lines[1:]}
    assert {b"SIZE", b"8BITMIME", b"PIPELINING", b"ENHANCEDSTATUSCODES"} <= keywords
    assert b"STARTTLS" not in keywords and b"AUTH" not in keywords
    assert lines[-1][3:4] == b" "


def test_aMessageIsDeliveredUnstuffedWithTheReceivedHeader() -> None:
    protocol, transport, _, delivery = esmtp()
    send(protocol, b"EHLO client.test\r\n" + transaction())
    assert codes(transport) == [250, 250, 250, 354, 250]
    [(user, data)] = delivery.messages
    assert bytes(user.dest) == b"bob@example.com"
    assert bytes(user.orig) == b"alice@sender.example"
    assert data.startswith(b"Received: from client.test ([127.0.0.1])\r\n\tby test.example; ")
    assert data.endswith(b"\r\nSubject: hi\r\n\r\nline one\r\n.dot\r\n")


def test_heloWorksWithoutExtensions() -> None:
    protocol, transport, _, delivery = esmtp()
    send(protocol, b"HELO client.test\r\n" + transaction())
    assert codes(transport) == [250, 250, 250, 354, 250]
    assert len(delivery.messages) == 1


def test_dataWithoutRcptIs503AndTheConnectionStaysUsable() -> None:
    protocol, transport, _, delivery = esmtp()
    send(protocol, b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nDATA\r\n")
    assert codes(transport) == [250, 250, 503]
    send(protocol, b"RCPT TO:<bob@example.com>\r\nDATA\r\n" + MESSAGE)
    assert codes(transport) == [250, 354, 250]
    assert len(delivery.messages) == 1


@pytest.mark.parametrize(
    ("commands", "expected"),
    [
        (b"DATA\r\n", [503]),
        (b"RCPT TO:<bob@example.com>\r\n", [503]),
        (b"MAIL FROM:<a@b.example>\r\nMAIL FROM:<a@b.example>\r\n", [250, 503]),
        (b"MAIL FROM <a@b.example>\r\n", [501]),
        (b"MAIL FROM:<a b@example>\r\n", [553]),
        (b"MAIL FROM:<a@b.example> FOO=BAR\r\n", [555]),
        (b"MAIL FROM:<a@b.example> BODY=8BITMIME SIZE=100\r\n", [250]),
        (b"MAIL FROM:<a@b.example> BODY=9BIT\r\n", [501]),
        (b"MAIL FROM:<a@b.example> SIZE=lots\r\n", [501]),
        (b"MAIL FROM:<>\r\nRCPT TO:<>\r\n", [250, 553]),
        (b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.com> NOTIFY=NEVER\r\n", [250, 555]),
        (b"FROB\r\n", [500]),
        (b"\r\n", [500]),
        (b"NOOP\r\nVRFY bob\r\nEXPN list\r\nHELP\r\n", [250, 252, 502, 214]),
        (b"EHLO\r\nHELO\r\n", [501, 501]),
    ],
)
def test_commandReplies(commands: bytes, expected: list[int]) -> None:
    protocol, transport, _, _ = esmtp()
    send(protocol, b"EHLO c\r\n")
    codes(transport)
    send(protocol, commands)
    assert codes(transport) == expected
    assert not transport.disconnecting


def test_mailBeforeHeloIs503() -> None:
    protocol, transport, _, _ = esmtp()
    send(protocol, b"MAIL FROM:<a@b.example>\r\n")
    assert codes(transport) == [503]


def test_unknownRecipientIs550AndOthersStillWork() -> None:
    protocol, transport, _, delivery = esmtp()
    send(protocol, b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@elsewhere.example>\r\n")
    assert replies(transport)[-1] == b"550 5.1.1 No such user here"
    send(protocol, b"RCPT TO:<bob@example.com>\r\nDATA\r\n" + MESSAGE)
    assert codes(transport) == [250, 354, 250]
    assert [bytes(u.dest) for u, _ in delivery.messages] == [b"bob@example.com"]


def test_everyRecipientGetsTheMessage() -> None:
    protocol, transport, _, delivery = esmtp()
    send(
        protocol,
        b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.com>\r\n"
        b"RCPT TO:<carol@example.com>\r\nDATA\r\n" + MESSAGE,
    )
    assert codes(transport) == [250, 250, 250, 250, 354, 250]
    assert [bytes(u.dest) for u, _ in delivery.messages] == [
        b"bob@example.com",
        b"carol@example.com",
    ]
    assert delivery.messages[0][1] == delivery.messages[1][1]


def test_refusedSender() -> None:
    delivery = MemoryDelivery()
    delivery.refuseSender = b"spam@bad.example"
    protocol, transport, _, _ = esmtp(delivery)
    send(protocol, b"EHLO c\r\nMAIL FROM:<spam@bad.example>\r\nMAIL FROM:<ok@good.example>\r\n")
    assert codes(transport) == [250, 550, 250]


def test_rsetForgetsTheTransaction() -> None:
    protocol, transport, _, _ = esmtp()
    send(
        protocol,
        b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.com>\r\nRSET\r\nDATA\r\n",
    )
    assert codes(transport) == [250, 250, 250, 250, 503]


def test_overlongCommandIs500AndTheConnectionStaysUsable() -> None:
    protocol, transport, _, _ = esmtp()
    send(protocol, b"EHLO c\r\n")
    codes(transport)
    send(protocol, b"NOOP " + b"x" * 10000)
    send(protocol, b"y" * 10000 + b"\r\nNOOP\r\n")
    assert codes(transport) == [500, 250]
    assert not transport.disconnecting


def test_overlongDataLineRefusesTheMessageAfterItsEnd() -> None:
    protocol, transport, _, delivery = esmtp(maxDataLineLength=100)
    send(protocol, b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n")
    codes(transport)
    send(protocol, b"ok\r\n" + b"z" * 500 + b"\r\nmore\r\n")
    assert codes(transport) == []
    send(protocol, b".\r\nNOOP\r\n")
    lines = replies(transport)
    assert lines[0].startswith(b"500 5.5.2 Message line too long")
    assert lines[1].startswith(b"250")
    assert delivery.messages == [] and len(delivery.lost) == 1


def test_messageTooBigIs552() -> None:
    protocol, transport, _, delivery = esmtp(maxMessageSize=1000)
    send(protocol, b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n")
    codes(transport)
    send(protocol, (b"x" * 98 + b"\r\n") * 30 + b".\r\n")
    assert replies(transport)[0].startswith(b"552 5.3.4")
    assert delivery.messages == [] and len(delivery.lost) == 1
    send(protocol, transaction())
    assert codes(transport) == [250, 250, 354, 250]


def test_sizeParameterOverTheLimitIs552() -> None:
    protocol, transport, _, _ = esmtp(maxMessageSize=1000)
    send(protocol, b"EHLO c\r\n")
    assert b"250-SIZE 1000" in replies(transport)
    send(protocol, b"MAIL FROM:<a@b.example> SIZE=1001\r\nMAIL FROM:<a@b.example> SIZE=999\r\n")
    assert codes(transport) == [552, 250]


def test_tooManyRecipientsIs452() -> None:
    protocol, transport, _, _ = esmtp(maxRecipients=2)
    send(protocol, b"EHLO c\r\nMAIL FROM:<a@b.example>\r\n" + b"RCPT TO:<bob@example.com>\r\n" * 3)
    assert codes(transport) == [250, 250, 250, 250, 452]


def test_bareLineFeedsCannotSmuggleASecondMessage() -> None:
    protocol, transport, _, delivery = esmtp()
    body = (
        b"Subject: one\r\n\r\nhi\n.\nMAIL FROM:<evil@x.example>\r\n"
        b"RCPT TO:<carol@example.com>\r\n.\r\n"
    )
    send(
        protocol,
        b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n" + body,
    )
    assert codes(transport) == [250, 250, 250, 354, 250]
    [(user, data)] = delivery.messages
    assert bytes(user.dest) == b"bob@example.com"
    assert b"MAIL FROM:<evil@x.example>" in data


def test_pipelinedCommandsWaitForASlowDelivery() -> None:
    clock = Clock()
    delivery = MemoryDelivery(clock=clock)
    protocol, transport, _, _ = esmtp(delivery)
    send(
        protocol,
        b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@nowhere.example>\r\n"
        b"RCPT TO:<bob@example.com>\r\nDATA\r\n" + MESSAGE + b"QUIT\r\n",
    )
    assert codes(transport) == [250]
    seen: list[int] = []
    for _ in range(6):
        clock.advance(1)
        seen += codes(transport)
    assert seen == [250, 550, 250, 354, 250, 221]
    assert len(delivery.messages) == 1
    assert transport.disconnecting


def test_aBlockedServerStopsReadingWhenTooMuchWaits() -> None:
    clock = Clock()
    protocol, transport, _, _ = esmtp(MemoryDelivery(clock=clock), maxPendingBytes=100)
    send(protocol, b"EHLO c\r\nMAIL FROM:<a@b.example>\r\n" + b"NOOP\r\n" * 50)
    assert transport.producerState == "paused"
    clock.advance(1)
    assert transport.producerState == "producing"
    assert codes(transport)[-1] == 250


def test_tooManyErrorsCloseTheConnection() -> None:
    protocol, transport, _, _ = esmtp(maxErrors=3)
    send(protocol, b"BAD\r\n" * 10)
    lines = replies(transport)
    assert [int(line[:3]) for line in lines] == [500, 500, 500, 421]
    assert transport.disconnecting


def test_anHTTPRequestIsTurnedAway() -> None:
    protocol, transport, _, _ = esmtp()
    send(protocol, b"POST / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert codes(transport) == [421]
    assert transport.disconnecting


def test_idleConnectionTimesOut() -> None:
    protocol, transport, clock, _ = esmtp(timeout=30)
    send(protocol, b"EHLO c\r\n")
    clock.advance(20)
    send(protocol, b"NOOP\r\n")
    clock.advance(20)
    assert not transport.disconnecting
    codes(transport)
    clock.advance(15)
    assert codes(transport) == [421]
    assert transport.disconnecting


def test_quit() -> None:
    protocol, transport, _, _ = esmtp()
    send(protocol, b"QUIT\r\nNOOP\r\n")
    assert codes(transport) == [221]
    assert transport.disconnecting


def test_lostConnectionDuringDataAbandonsTheMessages() -> None:
    protocol, _transport, _, delivery = esmtp()
    send(
        protocol, b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nhalf"
    )
    protocol.connectionLost(Failure(ConnectionError("gone")))
    assert len(delivery.lost) == 1 and delivery.messages == []


def test_eomFailureWithAnSMTPServerErrorChoosesTheReply() -> None:
    delivery = MemoryDelivery()
    delivery.failEom = smtp.SMTPServerError(452, b"4.2.2 Mailbox full")
    protocol, transport, _, _ = esmtp(delivery)
    send(protocol, b"EHLO c\r\n" + transaction())
    assert replies(transport)[-1] == b"452 4.2.2 Mailbox full"


def test_unexpectedEomFailureIs451AndLogged(logged: list[dict[str, Any]]) -> None:
    delivery = MemoryDelivery()
    delivery.failEom = RuntimeError("disk on fire")
    protocol, transport, _, _ = esmtp(delivery)
    send(protocol, b"EHLO c\r\n" + transaction() + b"NOOP\r\n")
    assert codes(transport)[-2:] == [451, 250]
    assert any("storing a message failed" in str(e.get("log_format", "")) for e in logged)


def test_withoutADeliveryMailIs530() -> None:
    protocol = smtp.ESMTP()
    _, transport, _ = connectedServer(protocol)
    send(protocol, b"EHLO c\r\nMAIL FROM:<a@b.example>\r\n")
    assert codes(transport) == [220, 250, 530]


def test_aDeliveryFactoryMakesOneDeliveryPerMessage() -> None:
    made: list[MemoryDelivery] = []

    @implementer(smtp.IMessageDeliveryFactory)
    class Factory:
        def getMessageDelivery(self) -> MemoryDelivery:
            made.append(MemoryDelivery())
            return made[-1]

    protocol = smtp.ESMTP()
    protocol.deliveryFactory = Factory()
    _, transport, _ = connectedServer(protocol)
    send(protocol, b"EHLO c\r\n" + transaction() + transaction())
    assert codes(transport) == [220, 250] + [250, 250, 354, 250] * 2
    assert [len(d.messages) for d in made] == [1, 1]


def test_aSubclassCanDecideInsteadOfADelivery() -> None:
    got: list[bytes] = []

    class Server(smtp.SMTP):
        def validateFrom(self, helo: Any, origin: smtp.Address) -> smtp.Address:
            return origin

        def validateTo(self, user: smtp.User) -> Any:
            return lambda: _Collect(got)

    protocol = Server()
    _, transport, _ = connectedServer(protocol)
    send(protocol, b"HELO c\r\n" + transaction())
    assert codes(transport) == [220, 250, 250, 250, 354, 250]
    assert got == [b"Subject: hi\r\n\r\nline one\r\n.dot"]


class _Collect:
    def __init__(self, into: list[bytes]) -> None:
        self.into = into
        self.lines: list[bytes] = []

    def lineReceived(self, line: bytes) -> None:
        self.lines.append(line)

    def eomReceived(self) -> Deferred[None]:
        self.into.append(b"\r\n".join(self.lines))
        d: Deferred[None] = Deferred()
        d.callback(None)
        return d

    def connectionLost(self) -> None:
        pass


def test_validateToMustReturnACallable(logged: list[dict[str, Any]]) -> None:
    class Broken(MemoryDelivery):
        def validateTo(self, user: smtp.User) -> Any:
            return "not callable"

    protocol, transport, _, _ = esmtp(Broken())
    send(protocol, b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.com>\r\n")
    assert codes(transport) == [250, 250, 451]
    assert any("must return a callable" in str(e.get("log_format", "")) for e in logged)


def test_factoryConfiguresItsConnections() -> None:
    factory = smtp.SMTPFactory(portal=None)
    factory.protocol = smtp.ESMTP
    factory.domain = b"mail.example"
    factory.timeout = 5
    delivery = MemoryDelivery()
    factory.delivery = delivery
    factory.contextFactory = object()
    protocol = factory.buildProtocol(None)
    assert isinstance(protocol, smtp.ESMTP)
    assert (protocol.host, protocol.timeout, protocol.delivery) == (b"mail.example", 5, delivery)
    assert protocol.ctx is factory.contextFactory and protocol.factory is factory


def test_aFailingReceivedHeaderRefusesDataAndKeepsCommandMode(logged: list[dict[str, Any]]) -> None:
    class Broken(MemoryDelivery):
        def receivedHeader(self, helo: Any, origin: Any, recipients: Any) -> bytes:
            raise RuntimeError("no header today")

    protocol, transport, _, delivery = esmtp(Broken())
    send(
        protocol,
        b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nNOOP\r\n",
    )
    assert codes(transport) == [250, 250, 250, 451, 250]
    assert len(delivery.lost) == 1


COMMANDS = [
    b"EHLO c",
    b"HELO c",
    b"MAIL FROM:<a@b.example>",
    b"RCPT TO:<bob@example.com>",
    b"RCPT TO:<x@nowhere.example>",
    b"DATA",
    b"RSET",
    b"NOOP",
    b"AUTH PLAIN",
    b"STARTTLS",
    b"VRFY x",
    b".",
    b"..x",
    b"MAIL FROM:<>",
    b"QUIT",
]


@given(
    st.lists(st.one_of(st.sampled_from(COMMANDS), st.binary(max_size=60)), max_size=25),
    st.lists(st.integers(1, 64), min_size=1, max_size=5),
)
@settings(max_examples=150, deadline=None)
def test_anyInputGetsWellFormedRepliesOnly(lines: list[bytes], cuts: list[int]) -> None:
    protocol, transport, _, _ = esmtp(maxCommandLength=80, maxDataLineLength=80)
    data = b"".join(line + b"\r\n" for line in lines)
    position = index = 0
    while position < len(data) and not transport.disconnecting:
        size = cuts[index % len(cuts)]
        protocol.dataReceived(data[position : position + size])
        position += size
        index += 1
    for line in replies(transport):
        assert line[:3].isdigit() and line[3:4] in (b" ", b"-", b"")
        assert 200 <= int(line[:3]) < 600
