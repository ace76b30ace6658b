"""
Tests for torsion.names._dnsprotocol: DNSDatagramProtocol and DNSProtocol, matching
answers to queries (ID, QR bit, question, source address), timeouts, malformed
input, TCP framing and its limit. Sans-IO with task.Clock and fake transports, and
a few round trips over real sockets on 127.0.0.1 on every reactor.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntilFired
from torsion.internet import error as ierror
from torsion.internet.defer import Deferred
from torsion.internet.task import Clock
from torsion.internet.testing import StringTransport
from torsion.names import dns
from torsion.names._dnsprotocol import DNSDatagramProtocol, DNSProtocol
from torsion.names.error import DNSQueryTimeoutError
from torsion.python.failure import Failure

reactor = reactormixins.reactor

SERVER = ("127.0.0.1", 5353)


class FakeDatagramTransport:
    """Records the datagrams a protocol sends."""

    def __init__(self) -> None:
        self.written: list[tuple[bytes, Any]] = []

    def write(self, data: bytes, addr: Any = None) -> None:
        self.written.append((data, addr))


class Controller:
    """Records what a protocol hands its controller."""

    def __init__(self) -> None:
        self.messages: list[tuple[dns.Message, Any, Any]] = []
        self.malformed: list[tuple[bytes, Any, Any]] = []
        self.made: list[Any] = []
        self.lost: list[Any] = []

    def messageReceived(self, message: dns.Message, protocol: Any, address: Any) -> None:
        self.messages.append((message, protocol, address))

    def malformedMessageReceived(self, data: bytes, protocol: Any, address: Any) -> None:
        self.malformed.append((data, protocol, address))

    def connectionMade(self, protocol: Any) -> None:
        self.made.append(protocol)

    def connectionLost(self, protocol: Any) -> None:
        self.lost.append(protocol)


class Outcome:
    """What a Deferred fired with, without raising."""

    def __init__(self, d: Deferred[Any]) -> None:
        self.result: Any = None
        self.failure: Failure | None = None
        self.fired = False
        d.addCallbacks(self._ok, self._bad)

    def _ok(self, value: Any) -> None:
        self.fired, self.result = True, value

    def _bad(self, f: Failure) -> None:
        self.fired, self.failure = True, f


def answerTo(wire: bytes, **flags: Any) -> dns.Message:
    query = dns.Message()
    query.fromStr(wire)
    answer = dns.Message(id=query.id, answer=1, recAv=1, **flags)
    answer.queries = list(query.queries)
    answer.answers.append(
        dns.RRHeader(query.queries[0].name, dns.A, ttl=60, payload=dns.Record_A("192.0.2.1"))
    )
    return answer


def udpSetup() -> tuple[DNSDatagramProtocol, FakeDatagramTransport, Controller, Clock]:
    clock = Clock()
    controller = Controller()
    protocol = DNSDatagramProtocol(controller, reactor=clock)
    transport = FakeDatagramTransport()
    protocol.makeConnection(transport)
    return protocol, transport, controller, clock


def test_udpQueryIsAnsweredByMatchingMessage() -> None:
    protocol, transport, controller, clock = udpSetup()
    outcome = Outcome(protocol.query(SERVER, [dns.Query(b"example.com", dns.A)]))
    [(wire, addr)] = transport.written
    assert addr == SERVER
    sent = dns.Message()
    sent.fromStr(wire)
    assert sent.recDes and not sent.answer and sent.queries == [dns.Query(b"example.com")]
    protocol.datagramReceived(answerTo(wire).toStr(), SERVER)
    assert outcome.fired and outcome.result.answers[0].payload.dottedQuad() == "192.0.2.1"
    assert protocol.liveMessages == {} and clock.getDelayedCalls() == []
    assert controller.messages == []


def test_udpQueryOffersEDNSPayloadWhenAsked() -> None:
    protocol, transport, _, _ = udpSetup()
    protocol.query(SERVER, [dns.Query(b"example.com")], udpPayloadSize=1232)
    sent = dns.Message()
    sent.fromStr(transport.written[0][0])
    [opt] = sent.additional
    assert isinstance(opt, dns.OPTHeader) and opt.udpPayloadSize == 1232


@pytest.mark.parametrize(
    "forge",
    [
        "wrongId",
        "wrongAddress",
        "wrongPort",
        "wrongQuestion",
        "notAnAnswer",
    ],
)
def test_udpForgedAnswersAreNotTaken(forge: str) -> None:
    protocol, transport, controller, _ = udpSetup()
    outcome = Outcome(protocol.query(SERVER, [dns.Query(b"example.com", dns.A)]))
    wire = transport.written[0][0]
    forged = answerTo(wire)
    source = SERVER
    if forge == "wrongId":
        forged.id ^= 1
    elif forge == "wrongAddress":
        source = ("127.0.0.2", SERVER[1])
    elif forge == "wrongPort":
        source = (SERVER[0], SERVER[1] + 1)
    elif forge == "wrongQuestion":
        forged.queries = [dns.Query(b"example.org", dns.A)]
    else:
        forged.answer = 0
    protocol.datagramReceived(forged.toStr(), source)
    assert not outcome.fired
    assert len(controller.messages) == 1 and controller.messages[0][2] == source
    # The real answer still gets through afterwards.
    protocol.datagramReceived(answerTo(wire).toStr(), SERVER)
    assert outcome.fired and outcome.failure is None


def test_udpQuestionIsComparedWithoutCase() -> None:
    protocol, transport, _, _ = udpSetup()
    outcome = Outcome(protocol.query(SERVER, [dns.Query(b"Example.COM", dns.A)]))
    answer = answerTo(transport.written[0][0])
    answer.queries = [dns.Query(b"example.com", dns.A)]
    protocol.datagramReceived(answer.toStr(), SERVER)
    assert outcome.fired and outcome.failure is None


def test_udpErrorAnswerWithoutQuestionIsTaken() -> None:
    protocol, transport, _, _ = udpSetup()
    outcome = Outcome(protocol.query(SERVER, [dns.Query(b"example.com", dns.A)]))
    sent = dns.Message()
    sent.fromStr(transport.written[0][0])
    formerr = dns.Message(id=sent.id, answer=1, rCode=dns.EFORMAT)
    protocol.datagramReceived(formerr.toStr(), SERVER)
    assert outcome.fired and outcome.result.rCode == dns.EFORMAT


def test_udpIPv6SourceAddressInAnotherSpelling() -> None:
    protocol, transport, _, _ = udpSetup()
    outcome = Outcome(protocol.query(("::1", 53), [dns.Query(b"example.com")]))
    protocol.datagramReceived(answerTo(transport.written[0][0]).toStr(), ("0:0::1", 53))
    assert outcome.fired and outcome.failure is None


def test_udpQueryTimesOut() -> None:
    protocol, _, _, clock = udpSetup()
    outcome = Outcome(protocol.query(SERVER, [dns.Query(b"example.com")], timeout=3))
    clock.advance(2.9)
    assert not outcome.fired
    clock.advance(0.2)
    assert outcome.failure is not None and outcome.failure.check(DNSQueryTimeoutError)
    assert protocol.liveMessages == {}


def test_udpLateAnswerGoesToController() -> None:
    protocol, transport, controller, clock = udpSetup()
    Outcome(protocol.query(SERVER, [dns.Query(b"example.com")], timeout=1))
    clock.advance(1)
    protocol.datagramReceived(answerTo(transport.written[0][0]).toStr(), SERVER)
    assert len(controller.messages) == 1


def test_udpIdsAreRandomAndDistinct() -> None:
    protocol, transport, _, _ = udpSetup()
    for i in range(200):
        protocol.query(SERVER, [dns.Query(f"h{i}.example")])
    ids = set()
    for wire, _ in transport.written:
        m = dns.Message()
        m.fromStr(wire)
        ids.add(m.id)
    assert len(ids) == 200 and len(protocol.liveMessages) == 200
    assert max(ids) - min(ids) > 10000


def test_udpGivenIdInUseIsRefused() -> None:
    protocol, _, _, _ = udpSetup()
    protocol.query(SERVER, [dns.Query(b"a.example")], id=7)
    with pytest.raises(ValueError, match="in use"):
        protocol.query(SERVER, [dns.Query(b"b.example")], id=7)


def test_udpMalformedGoesToControllerHook() -> None:
    protocol, _, controller, _ = udpSetup()
    protocol.datagramReceived(b"\x00\x01garbage", SERVER)
    assert controller.malformed == [(b"\x00\x01garbage", protocol, SERVER)]
    assert controller.messages == []


def test_udpMalformedIsLoggedSparinglyWithoutHook(logged: list[Any]) -> None:
    class Plain:
        def __init__(self) -> None:
            self.messages: list[Any] = []

        def messageReceived(self, message: dns.Message, protocol: Any, address: Any) -> None:
            self.messages.append(message)

    controller = Plain()
    protocol = DNSDatagramProtocol(controller, reactor=Clock())
    protocol.makeConnection(FakeDatagramTransport())
    for _ in range(30):
        protocol.datagramReceived(b"junk", SERVER)
    text = [e for e in logged if "malformed DNS message" in str(e.get("log_format"))]
    assert len(text) == 10 and text[0]["address"] == SERVER
    assert controller.messages == []


def test_udpStopFailsQueriesInFlight() -> None:
    protocol, _, _, clock = udpSetup()
    outcome = Outcome(protocol.query(SERVER, [dns.Query(b"example.com")]))
    protocol.doStop() if hasattr(protocol, "doStop") else protocol.stopProtocol()
    assert outcome.failure is not None and outcome.failure.check(ierror.ConnectionLost)
    assert clock.getDelayedCalls() == []


def test_udpRefusalFailsQueriesAtOnce() -> None:
    protocol, _, _, _ = udpSetup()
    outcome = Outcome(protocol.query(SERVER, [dns.Query(b"example.com")]))
    protocol.connectionRefused()
    assert outcome.failure is not None and outcome.failure.check(ierror.ConnectionRefusedError)


def test_udpWriteFailureFailsQuery() -> None:
    class Broken(FakeDatagramTransport):
        def write(self, data: bytes, addr: Any = None) -> None:
            raise OSError("no route")

    protocol = DNSDatagramProtocol(Controller(), reactor=Clock())
    protocol.makeConnection(Broken())
    outcome = Outcome(protocol.query(SERVER, [dns.Query(b"example.com")]))
    assert outcome.failure is not None and outcome.failure.check(OSError)
    assert protocol.liveMessages == {}


# -- TCP ----------------------------------------------------------------------------------


def tcpSetup() -> tuple[DNSProtocol, StringTransport, Controller, Clock]:
    clock = Clock()
    controller = Controller()
    protocol = DNSProtocol(controller, reactor=clock)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport, controller, clock


def frames(data: bytes) -> list[bytes]:
    out = []
    while data:
        size = int.from_bytes(data[:2], "big")
        out.append(data[2 : 2 + size])
        data = data[2 + size :]
    return out


def test_tcpConnectionMadeAndLostReachController() -> None:
    protocol, _, controller, _ = tcpSetup()
    assert controller.made == [protocol]
    protocol.connectionLost(Failure(ierror.ConnectionDone()))
    assert controller.lost == [protocol]


def test_tcpQueryIsFramedAndAnswerMayArriveByteByByte() -> None:
    protocol, transport, _controller, _ = tcpSetup()
    outcome = Outcome(protocol.query([dns.Query(b"example.com", dns.A)]))
    [wire] = frames(transport.value())
    reply = answerTo(wire).toStr()
    framed = len(reply).to_bytes(2, "big") + reply
    for i in range(len(framed)):
        assert not outcome.fired
        protocol.dataReceived(framed[i : i + 1])
    assert outcome.fired and outcome.result.answers[0].payload.dottedQuad() == "192.0.2.1"


def test_tcpSeveralFramesInOneChunk() -> None:
    protocol, _transport, controller, _ = tcpSetup()
    messages = []
    for i in range(3):
        m = dns.Message(id=i)
        m.addQuery(f"q{i}.example", dns.A)
        raw = m.toStr()
        messages.append(len(raw).to_bytes(2, "big") + raw)
    protocol.dataReceived(b"".join(messages))
    assert [m.id for m, _, addr in controller.messages] == [0, 1, 2]
    assert all(addr is None for _, _, addr in controller.messages)


def test_tcpFrameOverLimitDropsConnection() -> None:
    protocol, transport, _controller, _ = tcpSetup()
    protocol.maxFrameSize = 100
    protocol.dataReceived(b"\x00\x65" + b"x" * 10)
    assert transport.disconnecting


def test_tcpMalformedFrameGoesToHookAndStreamGoesOn() -> None:
    protocol, _, controller, _ = tcpSetup()
    good = dns.Message(id=9)
    good.addQuery(b"example.com")
    raw = good.toStr()
    protocol.dataReceived(b"\x00\x03abc" + len(raw).to_bytes(2, "big") + raw)
    assert controller.malformed == [(b"abc", protocol, None)]
    assert [m.id for m, _, _ in controller.messages] == [9]


def test_tcpConnectionLostFailsQueries() -> None:
    protocol, _, _, clock = tcpSetup()
    outcome = Outcome(protocol.query([dns.Query(b"example.com")]))
    protocol.connectionLost(Failure(ierror.ConnectionDone()))
    assert outcome.failure is not None and outcome.failure.check(ierror.ConnectionLost)
    assert clock.getDelayedCalls() == []


def test_tcpQueryTimesOut() -> None:
    protocol, _, _, clock = tcpSetup()
    outcome = Outcome(protocol.query([dns.Query(b"example.com")], timeout=5))
    clock.advance(5)
    assert outcome.failure is not None and outcome.failure.check(DNSQueryTimeoutError)


def test_tcpServerWritesFramedMessages() -> None:
    protocol, transport, _, _ = tcpSetup()
    m = dns.Message(id=3, answer=1)
    protocol.writeMessage(m)
    assert frames(transport.value()) == [m.toStr()]


# -- real sockets -----------------------------------------------------------------------


class EchoServer:
    """A controller that answers every query with one A record."""

    def messageReceived(self, message: dns.Message, protocol: Any, address: Any) -> None:
        answer = dns.Message(id=message.id, answer=1)
        answer.queries = message.queries
        answer.answers.append(
            dns.RRHeader(message.queries[0].name, payload=dns.Record_A("192.0.2.7"))
        )
        if address is None:
            protocol.writeMessage(answer)
        else:
            protocol.writeMessage(answer, address)


def test_udpRoundTripOverRealSockets(reactor: Any) -> None:
    server = DNSDatagramProtocol(EchoServer(), reactor=reactor)
    port = reactor.listenUDP(0, server, interface="127.0.0.1")
    client = DNSDatagramProtocol(Controller(), reactor=reactor)
    clientPort = reactor.listenUDP(0, client, interface="127.0.0.1")
    try:
        d = client.query(("127.0.0.1", port.getHost().port), [dns.Query(b"x.example")])
        answer = runUntilFired(reactor, d)
        assert answer.answers[0].payload.dottedQuad() == "192.0.2.7"
    finally:
        runUntilFired(reactor, clientPort.stopListening())
        runUntilFired(reactor, port.stopListening())


def test_tcpRoundTripOverRealSockets(reactor: Any) -> None:
    from torsion.internet.protocol import ClientCreator, Factory

    factory = Factory.forProtocol(lambda: DNSProtocol(EchoServer(), reactor=reactor))
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    try:
        creator = ClientCreator(reactor, DNSProtocol, Controller(), reactor)
        client = runUntilFired(reactor, creator.connectTCP("127.0.0.1", port.getHost().port))
        answer = runUntilFired(reactor, client.query([dns.Query(b"y.example")]))
        assert answer.answers[0].payload.dottedQuad() == "192.0.2.7"
        client.transport.loseConnection()
    finally:
        runUntilFired(reactor, port.stopListening())


# -- hostile input ------------------------------------------------------------------------

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


@hypothesis.given(st.lists(st.binary(max_size=600), max_size=8))
@hypothesis.settings(max_examples=200, deadline=None)
def test_udpNeverRaisesOnHostileDatagrams(datagrams: list[bytes]) -> None:
    protocol, transport, controller, _ = udpSetup()
    outcome = Outcome(protocol.query(SERVER, [dns.Query(b"example.com", dns.A)]))
    for datagram in datagrams:
        protocol.datagramReceived(datagram, SERVER)
    protocol.datagramReceived(answerTo(transport.written[0][0]).toStr(), SERVER)
    assert outcome.fired and outcome.failure is None
    assert len(controller.messages) + len(controller.malformed) == len(datagrams)


@hypothesis.given(st.binary(max_size=3000), st.lists(st.integers(1, 50), max_size=20))
@hypothesis.settings(max_examples=200, deadline=None)
def test_tcpNeverRaisesOnHostileStreams(data: bytes, cuts: list[int]) -> None:
    protocol, transport, _controller, _ = tcpSetup()
    protocol.maxFrameSize = 1000
    offset = 0
    for cut in [*cuts, len(data)]:
        protocol.dataReceived(data[offset : offset + cut])
        offset += cut
        if transport.disconnecting:
            break
    assert len(protocol._buffer) <= 2 + protocol.maxFrameSize + 50


def test_dnspythonTalksToTheProtocolsOverUDPAndTCP(reactor: Any) -> None:
    from tests.internet.reactormixins import inThread
    from torsion.internet.protocol import Factory

    dquery = pytest.importorskip("dns.query")
    dmessage = pytest.importorskip("dns.message")
    udpPort = reactor.listenUDP(
        0, DNSDatagramProtocol(EchoServer(), reactor), interface="127.0.0.1"
    )
    factory = Factory.forProtocol(lambda: DNSProtocol(EchoServer(), reactor=reactor))
    tcpPort = reactor.listenTCP(0, factory, interface="127.0.0.1")

    def ask() -> list[Any]:
        q = dmessage.make_query("peer.example.", "A")
        viaUDP = dquery.udp(q, "127.0.0.1", port=udpPort.getHost().port, timeout=3)
        viaTCP = dquery.tcp(q, "127.0.0.1", port=tcpPort.getHost().port, timeout=3)
        return [viaUDP, viaTCP]

    try:
        for answer in inThread(reactor, ask):
            assert answer.answer[0][0].address == "192.0.2.7"
    finally:
        runUntilFired(reactor, udpPort.stopListening())
        runUntilFired(reactor, tcpPort.stopListening())
