"""DNSServerFactory without sockets: answers, truncation, EDNS0, FORMERR, AXFR, limits.

UDP goes through a real DNSDatagramProtocol over a transport that keeps the
datagrams; TCP through DNSProtocol over StringTransport; time is a task.Clock.
Real sockets are in test_server_udp.py, real clients in test_dig.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torsion.internet import defer, task
from torsion.internet.address import IPv4Address
from torsion.internet.error import TimeoutError
from torsion.internet.testing import StringTransport
from torsion.names import authority, dns, server
from torsion.names._dnsprotocol import DNSDatagramProtocol, DNSProtocol
from torsion.names.error import DNSNameError, DNSServerError, DomainError

CLIENT = ("127.0.0.1", 5353)

ZONE = """
zone = [
    SOA("example.com", mname="ns1.example.com", rname="hostmaster.example.com",
        serial=7, refresh=60, retry=30, expire=600, minimum=30, ttl=300),
    NS("example.com", "ns1.example.com"),
    A("ns1.example.com", "192.0.2.1"),
    MX("example.com", 10, "mail.example.com"),
    TXT("big.example.com", *["x" * 200] * 4),
    TXT("small.example.com", "hi"),
] + [A("many.example.com", f"192.0.2.{i}") for i in range(1, 61)] + [
    MX("mx.example.com", i, f"m{i}.example.com") for i in range(1, 5)
] + [A(f"m{i}.example.com", f"198.51.100.{j}") for i in range(1, 5) for j in range(1, 11)]
"""


class Datagrams:
    """The UDP transport of a DNSDatagramProtocol under test: keeps what is sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, Any]] = []

    def write(self, data: bytes, address: Any) -> None:
        self.sent.append((data, address))


@pytest.fixture
def zone(tmp_path: Path) -> authority.PySourceAuthority:
    path = tmp_path / "example.py"
    path.write_text(ZONE)
    return authority.PySourceAuthority(str(path))


@pytest.fixture
def clock() -> task.Clock:
    return task.Clock()


def udpServer(factory: server.DNSServerFactory) -> tuple[DNSDatagramProtocol, Datagrams]:
    proto = DNSDatagramProtocol(factory)
    transport = Datagrams()
    proto.transport = transport  # type: ignore[assignment]
    return proto, transport


def query(
    name: str,
    type: int = dns.A,
    id: int = 4321,
    payload: int | None = None,
    version: int = 0,
    recDes: int = 1,
) -> bytes:
    m = dns.Message(id=id, recDes=recDes)
    m.addQuery(name.encode(), type)
    if payload is not None:
        m.additional.append(dns.OPTHeader(udpPayloadSize=payload, version=version))
    return m.toStr()


def ask(factory: server.DNSServerFactory, data: bytes) -> list[tuple[bytes, dns.Message]]:
    proto, transport = udpServer(factory)
    proto.datagramReceived(data, CLIENT)
    replies = []
    for raw, address in transport.sent:
        assert address == CLIENT
        m = dns.Message()
        m.fromStr(raw)
        replies.append((raw, m))
    return replies


def one(factory: server.DNSServerFactory, data: bytes) -> dns.Message:
    replies = ask(factory, data)
    assert len(replies) == 1
    return replies[0][1]


def test_answerCopiesIdQuestionAndRdAndIsAuthoritative(zone: Any) -> None:
    reply = one(server.DNSServerFactory([zone]), query("ns1.example.com"))
    assert (reply.id, reply.answer, reply.auth, reply.recDes, reply.recAv) == (4321, 1, 1, 1, 0)
    assert reply.queries == [dns.Query(b"ns1.example.com", dns.A)]
    assert reply.answers[0].payload.dottedQuad() == "192.0.2.1"  # type: ignore[union-attr]
    assert reply.rCode == dns.OK


def test_nxdomainHasTheSoa(zone: Any) -> None:
    reply = one(server.DNSServerFactory([zone]), query("nothere.example.com"))
    assert (reply.rCode, reply.auth) == (dns.ENAME, 1)
    assert [rr.type for rr in reply.authority] == [dns.SOA]
    assert reply.authority[0].ttl == 30


def test_noDataHasTheSoa(zone: Any) -> None:
    reply = one(server.DNSServerFactory([zone]), query("ns1.example.com", dns.MX))
    assert (reply.rCode, reply.auth, reply.answers) == (dns.OK, 1, [])
    assert [rr.type for rr in reply.authority] == [dns.SOA]


def test_nameOfNoZoneIsRefusedWithoutRecursion(zone: Any) -> None:
    reply = one(server.DNSServerFactory([zone]), query("www.example.org"))
    assert reply.rCode == dns.EREFUSED


class FakeClient:
    """A recursive resolver that answers from a table, or fails as told."""

    def __init__(self, result: Any) -> None:
        self.result = result
        self.asked: list[dns.Query] = []

    def query(self, q: dns.Query, timeout: Any = None) -> defer.Deferred[Any]:
        self.asked.append(q)
        if isinstance(self.result, BaseException):
            return defer.fail(self.result)
        return defer.succeed(self.result)


class FakeCache(FakeClient):
    def __init__(self) -> None:
        super().__init__(DomainError("not cached"))
        self.cached: list[tuple[dns.Query, Any]] = []

    def cacheResult(self, q: dns.Query, payload: Any) -> None:
        self.cached.append((q, payload))


def test_recursionGoesToTheClientsAndIsCachedButZonesAreNot(zone: Any) -> None:
    record = dns.RRHeader(
        b"www.example.org", dns.A, ttl=60, payload=dns.Record_A("203.0.113.1", ttl=60)
    )
    client = FakeClient(([record], [], []))
    cache = FakeCache()
    factory = server.DNSServerFactory([zone], [cache], [client])
    reply = one(factory, query("www.example.org"))
    assert (reply.rCode, reply.auth, reply.recAv) == (dns.OK, 0, 1)
    assert reply.answers == [record]
    assert [q for q, _ in cache.cached] == [dns.Query(b"www.example.org", dns.A)]
    one(factory, query("ns1.example.com"))
    assert len(cache.cached) == 1
    assert client.asked == [dns.Query(b"www.example.org", dns.A)]


@pytest.mark.parametrize(
    ("error", "rCode"),
    [
        (DomainError("x"), dns.ENAME),
        (DNSServerError("upstream"), dns.ESERVER),
        (TimeoutError("slow"), dns.ESERVER),
    ],
)
def test_clientFailuresBecomeResponseCodes(error: Exception, rCode: int) -> None:
    reply = one(server.DNSServerFactory(clients=[FakeClient(error)]), query("www.example.org"))
    assert reply.rCode == rCode


def test_upstreamNxdomainKeepsItsSoa() -> None:
    upstream = dns.Message(answer=1, rCode=dns.ENAME)
    soa = dns.Record_SOA(b"ns.example.org", b"h.example.org", 1, 2, 3, 4, 60)
    upstream.authority = [dns.RRHeader(b"example.org", dns.SOA, ttl=60, payload=soa)]
    factory = server.DNSServerFactory(clients=[FakeClient(DNSNameError(upstream))])
    reply = one(factory, query("nothere.example.org"))
    assert (reply.rCode, reply.auth) == (dns.ENAME, 0)
    assert [rr.type for rr in reply.authority] == [dns.SOA]


def test_aResolverBugIsServfailAndLogged(zone: Any) -> None:
    from torsion.logger import globalLogPublisher

    events: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(events.append)
    try:
        reply = one(
            server.DNSServerFactory(clients=[FakeClient(ZeroDivisionError())]), query("x.org")
        )
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert reply.rCode == dns.ESERVER
    assert any("log_failure" in e for e in events)


def test_udpWithoutEdnsIsCutTo512WithTC(zone: Any) -> None:
    raw, reply = ask(server.DNSServerFactory([zone]), query("many.example.com"))[0]
    assert len(raw) <= 512
    assert reply.trunc == 1
    # A whole RRset goes or stays: 60 A records are one RRset, so none is left.
    assert reply.answers == []


def test_udpWithoutEdnsThatFitsIsWhole(zone: Any) -> None:
    _, reply = ask(server.DNSServerFactory([zone]), query("small.example.com", dns.TXT))[0]
    assert reply.trunc == 0 and len(reply.answers) == 1


def test_onlyAdditionalRecordsCutDoesNotSetTC(zone: Any) -> None:
    raw, reply = ask(server.DNSServerFactory([zone]), query("mx.example.com", dns.MX))[0]
    assert len(raw) <= 512
    assert len(reply.answers) == 4 and reply.trunc == 0
    assert 0 < len(reply.additional) < 40
    # What additional records remain are whole RRsets.
    owners = [rr.name for rr in reply.additional]
    for name in set(owners):
        assert owners.count(name) == 10


def test_ednsPayloadIsHonouredUpToOurs(zone: Any) -> None:
    factory = server.DNSServerFactory([zone])
    raw, reply = ask(factory, query("many.example.com", payload=4096))[0]
    assert reply.trunc == 0 and len(reply.answers) == 60 and len(raw) <= 1232
    opt = [rr for rr in reply.additional if isinstance(rr, dns.OPTHeader)]
    assert [o.udpPayloadSize for o in opt] == [1232]
    raw, reply = ask(factory, query("big.example.com", dns.TXT, payload=700))[0]
    assert (reply.trunc, len(reply.answers)) == (1, 0) and len(raw) <= 700
    # The OPT record survives the cut.
    assert any(isinstance(rr, dns.OPTHeader) for rr in reply.additional)
    factory.udpPayloadSize = 4096
    raw, reply = ask(factory, query("big.example.com", dns.TXT, payload=1000))[0]
    assert (reply.trunc, len(reply.answers)) == (0, 1)


def test_ednsPayloadBelow512CountsAs512(zone: Any) -> None:
    _, reply = ask(
        server.DNSServerFactory([zone]), query("small.example.com", dns.TXT, payload=100)
    )[0]
    assert reply.trunc == 0 and len(reply.answers) == 1


def test_noOptInReplyWithoutOptInQuery(zone: Any) -> None:
    reply = one(server.DNSServerFactory([zone]), query("ns1.example.com"))
    assert reply.additional == []


def test_unknownEdnsVersionIsBadvers(zone: Any) -> None:
    reply = one(server.DNSServerFactory([zone]), query("ns1.example.com", payload=1232, version=1))
    opt = [rr for rr in reply.additional if isinstance(rr, dns.OPTHeader)]
    assert len(opt) == 1 and (opt[0].extendedRCODE << 4 | reply.rCode) == server.BADVERS
    assert reply.answers == []


def test_twoOptRecordsIsFormerr(zone: Any) -> None:
    m = dns.Message(id=9)
    m.addQuery(b"ns1.example.com", dns.A)
    m.additional = [dns.OPTHeader(), dns.OPTHeader()]
    assert one(server.DNSServerFactory([zone]), m.toStr()).rCode == dns.EFORMAT


@pytest.mark.parametrize("count", [0, 2])
def test_questionCountOtherThanOneIsFormerr(zone: Any, count: int) -> None:
    m = dns.Message(id=10)
    for i in range(count):
        m.addQuery(f"h{i}.example.com".encode(), dns.A)
    reply = one(server.DNSServerFactory([zone]), m.toStr())
    assert (reply.id, reply.rCode) == (10, dns.EFORMAT)


@pytest.mark.parametrize(
    "data",
    [
        bytes.fromhex("1234 0100 0001 0000 0000 0000") + b"\x05hello",  # name runs off
        bytes.fromhex("1234 0100 0001 0000 0000 0000") + b"\xc0\x0c\x00\x01\x00\x01",  # loop
        bytes.fromhex("1234 0100 ffff ffff 0000 0000"),  # lying counts
        bytes.fromhex("1234 0100 0001 0000 0000 0000") + b"\x40" + b"a" * 64 + b"\0\0\1\0\1",
    ],
)
def test_garbageWithAQueryHeaderIsFormerr(zone: Any, data: bytes) -> None:
    reply = one(server.DNSServerFactory([zone]), data)
    assert (reply.id, reply.answer, reply.rCode, reply.recDes) == (0x1234, 1, dns.EFORMAT, 1)
    assert reply.queries == []


@pytest.mark.parametrize(
    "data",
    [b"", b"\x12\x34", bytes(11), bytes.fromhex("1234 8100 ffff 0000 0000 0000")],
)
def test_garbageWithoutAQueryHeaderIsIgnored(zone: Any, data: bytes) -> None:
    assert ask(server.DNSServerFactory([zone]), data) == []


def test_responsesAreNeverAnswered(zone: Any) -> None:
    m = dns.Message(id=5, answer=1)
    m.addQuery(b"ns1.example.com", dns.A)
    assert ask(server.DNSServerFactory([zone]), m.toStr()) == []


@pytest.mark.parametrize("opCode", [dns.OP_INVERSE, dns.OP_STATUS, dns.OP_NOTIFY, dns.OP_UPDATE])
def test_otherOpcodesAreNotImplemented(zone: Any, opCode: int) -> None:
    m = dns.Message(id=6, opCode=opCode)
    m.addQuery(b"example.com", dns.SOA)
    reply = one(server.DNSServerFactory([zone]), m.toStr())
    assert (reply.rCode, reply.opCode) == (dns.ENOTIMP, opCode)


def test_allowQueryRefuses(zone: Any) -> None:
    class Picky(server.DNSServerFactory):
        def allowQuery(self, message: dns.Message, protocol: Any, address: Any) -> bool:
            return False

    assert one(Picky([zone]), query("ns1.example.com")).rCode == dns.EREFUSED


def test_anOverriddenWriteMessageIsUsed(zone: Any) -> None:
    sent: list[Any] = []

    class Recording(DNSDatagramProtocol):
        def writeMessage(self, message: dns.Message, address: Any) -> None:
            sent.append((message, address))

    proto = Recording(server.DNSServerFactory([zone]))
    proto.datagramReceived(query("many.example.com"), CLIENT)
    ((message, address),) = sent
    assert address == CLIENT and message.trunc == 1 and message.answers == []


# -- TCP -------------------------------------------------------------------------------


def tcpClient(
    factory: server.DNSServerFactory, peer: str = "127.0.0.1"
) -> tuple[DNSProtocol, StringTransport]:
    proto = factory.buildProtocol(IPv4Address("TCP", peer, 5000))
    assert proto is not None
    transport = StringTransport(peerAddress=IPv4Address("TCP", peer, 5000))
    proto.makeConnection(transport)
    return proto, transport


def frames(data: bytes) -> list[dns.Message]:
    out = []
    while data:
        size = int.from_bytes(data[:2], "big")
        m = dns.Message()
        m.fromStr(data[2 : 2 + size])
        out.append(m)
        data = data[2 + size :]
    return out


def test_tcpAnswersTheWholeAnswer(zone: Any, clock: task.Clock) -> None:
    factory = server.DNSServerFactory([zone], reactor=clock)
    proto, transport = tcpClient(factory)
    data = query("many.example.com")
    proto.dataReceived(len(data).to_bytes(2, "big") + data)
    (reply,) = frames(transport.value())
    assert (reply.trunc, len(reply.answers)) == (0, 60)


def test_axfrOverTcpSendsTheZoneBetweenTwoSoas(zone: Any, clock: task.Clock) -> None:
    factory = server.DNSServerFactory([zone], reactor=clock)
    proto, transport = tcpClient(factory)
    data = query("example.com", dns.AXFR)
    proto.dataReceived(len(data).to_bytes(2, "big") + data)
    replies = frames(transport.value())
    records = [rr for m in replies for rr in m.answers]
    assert records[0].type == dns.SOA and records[-1].type == dns.SOA
    assert len(records) == sum(len(v) for v in zone.records.values()) + 1
    assert all(m.auth and m.rCode == dns.OK and m.id == 4321 for m in replies)


def test_axfrOfALargeZoneIsSplitIntoMessages(tmp_path: Path, clock: task.Clock) -> None:
    path = tmp_path / "large.py"
    path.write_text(
        "zone = [SOA('example.com', minimum=60)]"
        " + [TXT(f'h{i}.example.com', 'x' * 200) for i in range(400)]\n"
    )
    factory = server.DNSServerFactory([authority.PySourceAuthority(str(path))], reactor=clock)
    proto, transport = tcpClient(factory)
    data = query("example.com", dns.AXFR)
    proto.dataReceived(len(data).to_bytes(2, "big") + data)
    replies = frames(transport.value())
    assert len(replies) > 3
    assert sum(len(m.answers) for m in replies) == 402


def test_axfrOverUdpIsRefused(zone: Any) -> None:
    assert one(server.DNSServerFactory([zone]), query("example.com", dns.AXFR)).rCode == (
        dns.EREFUSED
    )


def test_axfrFromOutsideTransferFromIsRefused(zone: Any, clock: task.Clock) -> None:
    factory = server.DNSServerFactory([zone], reactor=clock)
    proto, transport = tcpClient(factory, peer="192.0.2.200")
    data = query("example.com", dns.AXFR)
    proto.dataReceived(len(data).to_bytes(2, "big") + data)
    (reply,) = frames(transport.value())
    assert (reply.rCode, reply.answers) == (dns.EREFUSED, [])
    import ipaddress

    factory.transferFrom = [ipaddress.ip_network("192.0.2.0/24")]
    transport.clear()
    proto.dataReceived(len(data).to_bytes(2, "big") + data)
    assert len([rr for m in frames(transport.value()) for rr in m.answers]) > 2


def test_axfrOfANameThatIsNoZoneApexIsRefused(zone: Any, clock: task.Clock) -> None:
    factory = server.DNSServerFactory([zone], reactor=clock)
    proto, transport = tcpClient(factory)
    data = query("www.example.com", dns.AXFR)
    proto.dataReceived(len(data).to_bytes(2, "big") + data)
    (reply,) = frames(transport.value())
    assert reply.rCode == dns.EREFUSED


def test_tcpConnectionsAreLimited(zone: Any, clock: task.Clock) -> None:
    factory = server.DNSServerFactory([zone], reactor=clock)
    factory.maxConnections = 2
    first, _ = tcpClient(factory)
    tcpClient(factory)
    assert factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1)) is None
    first.connectionLost(None)
    assert factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1)) is not None


def test_idleTcpClientsAreDropped(zone: Any, clock: task.Clock) -> None:
    factory = server.DNSServerFactory([zone], reactor=clock)
    proto, transport = tcpClient(factory)
    clock.advance(factory.idleTimeout - 1)
    data = query("ns1.example.com")
    proto.dataReceived(len(data).to_bytes(2, "big") + data)
    clock.advance(factory.idleTimeout - 1)
    assert not transport.disconnecting
    clock.advance(2)
    assert transport.disconnecting
    proto.connectionLost(None)
    assert factory.connections == [] and clock.getDelayedCalls() == []


def test_tcpGarbageIsFormerrAndTheConnectionGoesOn(zone: Any, clock: task.Clock) -> None:
    factory = server.DNSServerFactory([zone], reactor=clock)
    proto, transport = tcpClient(factory)
    junk = bytes.fromhex("abcd 0000 0005 0000 0000 0000") + b"\x01"
    data = query("ns1.example.com")
    proto.dataReceived(len(junk).to_bytes(2, "big") + junk + len(data).to_bytes(2, "big") + data)
    bad, good = frames(transport.value())
    assert (bad.id, bad.rCode) == (0xABCD, dns.EFORMAT)
    assert good.answers and not transport.disconnecting


# -- the direct path to our zones and the wire cache -----------------------------------


def wireServer(factory: server.DNSServerFactory) -> tuple[DNSDatagramProtocol, Datagrams]:
    proto = server.DNSServerDatagramProtocol(factory)
    transport = Datagrams()
    proto.transport = transport  # type: ignore[assignment]
    return proto, transport


def replies(transport: Datagrams) -> list[dns.Message]:
    out = []
    for raw, _ in transport.sent:
        m = dns.Message()
        m.fromStr(raw)
        out.append(m)
    return out


def test_wireCacheAnswersARepeatedQuestionWithItsOwnId(zone: Any) -> None:
    factory = server.DNSServerFactory([zone])
    proto, transport = wireServer(factory)
    proto.datagramReceived(query("ns1.example.com", id=1), CLIENT)
    assert len(factory._wire) == 1
    # Were the zone asked again, this would show: the answer must come from the cache.
    zone._answer = None
    proto.datagramReceived(query("ns1.example.com", id=2), CLIENT)
    first, second = replies(transport)
    assert (first.id, second.id) == (1, 2)
    assert first.answers == second.answers and second.auth == 1
    assert transport.sent[0][0][2:] == transport.sent[1][0][2:]


def test_wireCacheKeepsNegativeAnswersAndEdnsApart(zone: Any) -> None:
    factory = server.DNSServerFactory([zone])
    proto, transport = wireServer(factory)
    for _ in range(2):
        proto.datagramReceived(query("nothere.example.com"), CLIENT)
        proto.datagramReceived(query("many.example.com"), CLIENT)
        proto.datagramReceived(query("many.example.com", payload=4096), CLIENT)
    got = replies(transport)
    assert [(m.rCode, m.trunc, len(m.answers)) for m in got] == [
        (dns.ENAME, 0, 0),
        (dns.OK, 1, 0),
        (dns.OK, 0, 60),
    ] * 2
    assert len(factory._wire) == 3


def test_wireCacheFollowsZoneChanges(zone: Any) -> None:
    factory = server.DNSServerFactory([zone])
    proto, transport = wireServer(factory)
    proto.datagramReceived(query("ns1.example.com"), CLIENT)
    zone.records = dict(zone.records)
    zone.records[b"ns1.example.com"] = [dns.Record_A("192.0.2.77")]
    proto.datagramReceived(query("ns1.example.com"), CLIENT)
    assert replies(transport)[1].answers[0].payload.dottedQuad() == "192.0.2.77"  # type: ignore[union-attr]


def test_wireCacheIsBounded(zone: Any) -> None:
    factory = server.DNSServerFactory([zone])
    factory.wireCacheSize = 2
    proto, _ = wireServer(factory)
    for name in ("ns1", "many", "small", "big", "mx"):
        proto.datagramReceived(query(f"{name}.example.com"), CLIENT)
        assert len(factory._wire) <= 2
    factory.wireCacheSize = 0
    factory._wire.clear()
    proto.datagramReceived(query("ns1.example.com"), CLIENT)
    assert factory._wire == {}


def test_wireCacheIsOffWhenAnsweringIsOverridden(zone: Any) -> None:
    asked: list[Any] = []

    class Acl(server.DNSServerFactory):
        def allowQuery(self, message: dns.Message, protocol: Any, address: Any) -> bool:
            asked.append(address)
            return True

    factory = Acl([zone])
    proto, _ = wireServer(factory)
    proto.datagramReceived(query("ns1.example.com"), CLIENT)
    proto.datagramReceived(query("ns1.example.com"), CLIENT)
    assert len(asked) == 2 and factory._wire == {}


def test_wireCacheIsOffWhenVerbose(zone: Any) -> None:
    factory = server.DNSServerFactory([zone], verbose=1)
    proto, _ = wireServer(factory)
    proto.datagramReceived(query("ns1.example.com"), CLIENT)
    assert factory._wire == {}


def test_recursiveAnswersAreNotInTheWireCache() -> None:
    record = dns.RRHeader(b"www.example.org", dns.A, ttl=60, payload=dns.Record_A("203.0.113.1"))
    factory = server.DNSServerFactory(clients=[FakeClient(([record], [], []))])
    proto, _ = wireServer(factory)
    proto.datagramReceived(query("www.example.org"), CLIENT)
    assert factory._wire == {}


def test_anAuthorityWithItsOwnLookupGoesThroughTheChain(zone: Any, tmp_path: Path) -> None:
    class Counting(authority.PySourceAuthority):
        calls = 0

        def _lookup(self, name: bytes, cls: int, type: int, timeout: Any) -> Any:
            Counting.calls += 1
            return super()._lookup(name, cls, type, timeout)

    path = tmp_path / "z.py"
    path.write_text(ZONE)
    factory = server.DNSServerFactory([Counting(str(path))])
    proto, transport = wireServer(factory)
    proto.datagramReceived(query("ns1.example.com"), CLIENT)
    proto.datagramReceived(query("ns1.example.com"), CLIENT)
    assert Counting.calls == 2 and factory._wire == {}
    assert all(m.answers for m in replies(transport))


def test_aReplacedResolverIsUsed(zone: Any) -> None:
    record = dns.RRHeader(b"ns1.example.com", dns.A, ttl=5, payload=dns.Record_A("203.0.113.9"))
    factory = server.DNSServerFactory([zone])
    proto, transport = wireServer(factory)
    proto.datagramReceived(query("ns1.example.com"), CLIENT)
    factory.resolver = FakeClient(([record], [], []))  # type: ignore[assignment]
    proto.datagramReceived(query("ns1.example.com"), CLIENT)
    assert replies(transport)[1].answers[0].payload.dottedQuad() == "203.0.113.9"  # type: ignore[union-attr]


# -- fuzzing: whatever arrives, the server answers within the limits or stays quiet ------


@pytest.fixture(scope="module")
def fuzzFactory(tmp_path_factory: pytest.TempPathFactory) -> server.DNSServerFactory:
    path = tmp_path_factory.mktemp("fuzz") / "zone.py"
    path.write_text(ZONE)
    return server.DNSServerFactory([authority.PySourceAuthority(str(path))])


def checkReplies(factory: server.DNSServerFactory, data: bytes) -> None:
    for wire in (DNSDatagramProtocol, server.DNSServerDatagramProtocol):
        proto = wire(factory)
        transport = Datagrams()
        proto.transport = transport  # type: ignore[assignment]
        proto.datagramReceived(data, CLIENT)
        assert len(transport.sent) <= 1
        for raw, _ in transport.sent:
            assert len(raw) <= 1232
            reply = dns.Message()
            reply.fromStr(raw)
            assert reply.answer == 1 and raw[:2] == data[:2]
            has = any(isinstance(rr, dns.OPTHeader) for rr in reply.additional)
            if not has:
                assert len(raw) <= 512


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=600))
def test_randomDatagrams(fuzzFactory: server.DNSServerFactory, data: bytes) -> None:
    checkReplies(fuzzFactory, data)


_NAMES = st.sampled_from(
    ["ns1.example.com", "many.example.com", "big.example.com", "mx.example.com", "x.example.com",
     "example.com", "www.example.org", "EXAMPLE.com"]
)  # fmt: skip


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    _NAMES,
    st.sampled_from([dns.A, dns.MX, dns.TXT, dns.SOA, dns.ALL_RECORDS, dns.AXFR, 99]),
    st.one_of(st.none(), st.integers(0, 65535)),
    st.integers(0, 2),
    st.integers(0, 15),
    st.binary(max_size=8),
)
def test_wellFormedQuestionsOfEveryKind(
    fuzzFactory: server.DNSServerFactory,
    name: str,
    type: int,
    payload: int | None,
    version: int,
    opCode: int,
    tail: bytes,
) -> None:
    m = dns.Message(id=77, opCode=opCode, recDes=1)
    m.addQuery(name.encode(), type)
    if payload is not None:
        m.additional.append(dns.OPTHeader(udpPayloadSize=payload, version=version))
    data = m.toStr()
    checkReplies(fuzzFactory, data)
    checkReplies(fuzzFactory, data + tail)


def test_tcpAnswerOver65535BytesIsTruncated(tmp_path: Path, clock: task.Clock) -> None:
    path = tmp_path / "huge.py"
    path.write_text(
        "zone = [SOA('example.com', minimum=60)]"
        " + [TXT('huge.example.com', f'{i:04d}' + 'x' * 250) for i in range(300)]"
        " + [A('small.example.com', '192.0.2.1')]\n"
    )
    factory = server.DNSServerFactory([authority.PySourceAuthority(str(path))], reactor=clock)
    proto, transport = tcpClient(factory)
    data = query("huge.example.com", dns.TXT)
    proto.dataReceived(len(data).to_bytes(2, "big") + data)
    (reply,) = frames(transport.value())
    assert (reply.trunc, reply.answers, reply.rCode) == (1, [], dns.OK)


def test_truncatedToLessThanTheQuestionIsTheHeaderAlone() -> None:
    m = dns.Message(id=8, answer=1)
    m.addQuery(b"a-rather-long-name.example.com", dns.A)
    data, sent = server._truncated(m, 20)
    assert len(data) == 12 and sent.trunc == 1 and sent.queries == []
