"""
Tests for torsion.names.client.Resolver against a fake DNS server on 127.0.0.1
(tests/names/fakedns.py: plain sockets and dnspython in a thread): each record
type, NXDOMAIN and NODATA, EDNS0, truncation and the TCP retry, timeouts and
retries over several servers, forged and garbage answers, FORMERR to EDNS,
SERVFAIL and REFUSED, shared in-flight queries, search lists and AXFR. One
reactor (epoll) here; the reactor conformance runs are in test_client_reactor.py.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.internet.reactormixins import closeReactor, runUntilFired, trackDescriptors
from tests.names import fakedns
from tests.names.fakedns import Close, Request, dmsg, drcode, drrset, dtype, zoneAnswer
from torsion.internet import error as ierror
from torsion.internet.defer import Deferred
from torsion.internet.selectreactor import SelectReactor
from torsion.names import client, dns
from torsion.names.error import (
    DNSNameError,
    DNSQueryRefusedError,
    DNSQueryTimeoutError,
    DNSServerError,
    ResolverError,
)

fakeServer = fakedns.fakeServer
FAST = (0.3, 0.3)


@pytest.fixture
def reactor() -> Iterator[Any]:
    try:
        from torsion.internet.epollreactor import EPollReactor

        made: Any = EPollReactor()
    except ImportError:
        made = SelectReactor()
    trackDescriptors(made)
    try:
        yield made
    finally:
        closeReactor(made)


def wait(reactor: Any, d: Deferred[Any], timeout: float = 5.0) -> Any:
    return runUntilFired(reactor, d, timeout)


def failure(reactor: Any, d: Deferred[Any], timeout: float = 5.0) -> BaseException:
    try:
        runUntilFired(reactor, d, timeout)
    except BaseException as e:
        return e
    raise AssertionError("the lookup succeeded")


def resolverFor(reactor: Any, *servers: Any, **kw: Any) -> client.Resolver:
    return client.Resolver(servers=[s.address for s in servers], reactor=reactor, **kw)


def openPorts(reactor: Any) -> int:
    return sum(1 for r in reactor.getReaders() if "UDP" in type(r).__module__ + repr(r))


# -- answers -------------------------------------------------------------------------------


def test_lookupAddressGivesEveryRecord(reactor: Any, fakeServer: Any) -> None:
    resolver = resolverFor(reactor, fakeServer)
    answers, authority, additional = wait(reactor, resolver.lookupAddress("www.example.com"))
    assert sorted(rr.payload.dottedQuad() for rr in answers) == ["192.0.2.10", "192.0.2.11"]
    assert all(rr.ttl == 300 and rr.type == dns.A for rr in answers)
    assert authority == [] and additional == []
    [request] = fakeServer.requests
    query = request.message
    assert request.transport == "udp"
    assert query.flags & 0x0100  # RD
    assert query.edns == 0 and query.payload == 1232
    assert query.question[0].name.to_text() == "www.example.com."


@pytest.mark.parametrize(
    ("method", "name", "check"),
    [
        ("lookupIPV6Address", "www.example.com", lambda p: p.text() == "2001:db8::10"),
        (
            "lookupMailExchange",
            "example.com",
            lambda p: (p.preference, p.name.name) == (10, b"mail.example.com"),
        ),
        ("lookupNameservers", "example.com", lambda p: p.name == dns.Name("ns1.example.com")),
        ("lookupText", "example.com", lambda p: p.data in ([b"v=spf1 -all"], [b"hello", b"world"])),
        (
            "lookupService",
            "_sip._tcp.example.com",
            lambda p: (p.port, p.target.name) == (5060, b"sip.example.com"),
        ),
        (
            "lookupPointer",
            "10.2.0.192.in-addr.arpa",
            lambda p: p.name == dns.Name("www.example.com"),
        ),
        ("lookupAuthority", "example.com", lambda p: (p.serial, p.minimum) == (42, 30)),
        (
            "lookupCanonicalName",
            "alias.example.com",
            lambda p: p.name == dns.Name("www.example.com"),
        ),
        ("lookupNamingAuthorityPointer", "example.com", lambda p: p.service == b"E2U+sip"),
        ("lookupSSHFingerprint", "example.com", lambda p: p.fingerprint == b"\xab" * 32),
    ],
)
def test_eachRecordType(reactor: Any, fakeServer: Any, method: str, name: str, check: Any) -> None:
    resolver = resolverFor(reactor, fakeServer)
    answers, _, _ = wait(reactor, getattr(resolver, method)(name))
    assert any(check(rr.payload) for rr in answers if rr.name == dns.Name(name))


def test_nxdomainFailsWithDNSNameErrorCarryingTheMessage(reactor: Any, fakeServer: Any) -> None:
    resolver = resolverFor(reactor, fakeServer)
    e = failure(reactor, resolver.lookupAddress("nosuch.example.com"))
    assert isinstance(e, DNSNameError)
    message = e.args[0]
    assert isinstance(message, dns.Message) and message.rCode == dns.ENAME
    assert [rr.type for rr in message.authority] == [dns.SOA]


def test_nodataIsAnEmptyAnswerWithTheSOA(reactor: Any, fakeServer: Any) -> None:
    resolver = resolverFor(reactor, fakeServer)
    answers, authority, _ = wait(reactor, resolver.lookupMailExchange("www.example.com"))
    assert answers == [] and [rr.type for rr in authority] == [dns.SOA]


def test_queryMethodTakesAQuery(reactor: Any, fakeServer: Any) -> None:
    resolver = resolverFor(reactor, fakeServer)
    answers, _, _ = wait(reactor, resolver.query(dns.Query(b"example.com", dns.MX)))
    assert len(answers) == 2


def test_eachAttemptUsesANewPortAndIdAndPortsAreClosed(reactor: Any, fakeServer: Any) -> None:
    resolver = resolverFor(reactor, fakeServer)
    before = len(reactor.getReaders())
    for i in range(6):
        wait(reactor, resolver.lookupAddress(f"n{i}.example.com").addErrback(lambda f: None))
    ids = {r.message.id for r in fakeServer.requests}
    ports = {r.addr[1] for r in fakeServer.requests}
    assert len(fakeServer.requests) == 6 and len(ids) == 6 and len(ports) == 6
    reactor.iterate(0)
    assert len(reactor.getReaders()) == before


# -- truncation, EDNS ----------------------------------------------------------------------


def test_truncatedAnswerIsAskedAgainOverTCP(reactor: Any, fakeServer: Any) -> None:
    resolver = resolverFor(reactor, fakeServer)
    answers, _, _ = wait(reactor, resolver.lookupText("big.example.com"))
    assert len(answers) == 20
    assert [r.transport for r in fakeServer.requests] == ["udp", "tcp"]
    assert fakeServer.requests[1].message.question == fakeServer.requests[0].message.question


def test_withoutEDNSThe512ByteLimitApplies(reactor: Any, fakeServer: Any) -> None:
    resolver = resolverFor(reactor, fakeServer)
    resolver.udpPayloadSize = None
    answers, _, _ = wait(reactor, resolver.lookupText("example.com"))
    assert len(answers) == 2
    assert fakeServer.requests[0].message.edns == -1
    # Four 200-byte strings do not fit in 512 bytes, but fit in 1232.
    fakeServer.requests.clear()
    resolver.udpPayloadSize = 1232
    wait(reactor, resolver.lookupText("big.example.com"))
    assert [r.transport for r in fakeServer.requests] == ["udp", "tcp"]


def test_formerrToEDNSIsRetriedWithoutIt(reactor: Any, fakeServer: Any) -> None:
    def oldServer(request: Request) -> list[bytes]:
        if request.message.edns >= 0:
            response = dmsg.make_response(request.message)
            response.use_edns(-1)
            response.set_rcode(drcode.FORMERR)
            return [response.to_wire()]
        return fakeServer.answerFromZone(request)

    fakeServer.handler = oldServer
    resolver = resolverFor(reactor, fakeServer)
    answers, _, _ = wait(reactor, resolver.lookupAddress("www.example.com"))
    assert len(answers) == 2
    assert [r.message.edns for r in fakeServer.requests] == [0, -1]


def test_formerrWithoutEDNSIsAnError(reactor: Any, fakeServer: Any) -> None:
    def formerr(request: Request) -> list[bytes]:
        response = dmsg.make_response(request.message)
        response.use_edns(-1)
        response.set_rcode(drcode.FORMERR)
        return [response.to_wire()]

    fakeServer.handler = formerr
    resolver = resolverFor(reactor, fakeServer)
    resolver.udpPayloadSize = None
    from torsion.names.error import DNSFormatError

    assert isinstance(failure(reactor, resolver.lookupAddress("www.example.com")), DNSFormatError)


# -- timeouts, retries, several servers ----------------------------------------------------


def test_silenceTimesOutAfterEachAttempt(reactor: Any, fakeServer: Any) -> None:
    fakeServer.handler = lambda request: None
    resolver = resolverFor(reactor, fakeServer, timeout=(0.2, 0.3))
    started = reactor.seconds()
    e = failure(reactor, resolver.lookupAddress("www.example.com"))
    assert isinstance(e, DNSQueryTimeoutError)
    assert 0.45 <= reactor.seconds() - started < 3
    assert len(fakeServer.requests) == 2
    assert len({r.message.id for r in fakeServer.requests}) == 2


def test_perLookupTimeoutOverridesTheResolvers(reactor: Any, fakeServer: Any) -> None:
    fakeServer.handler = lambda request: None
    resolver = resolverFor(reactor, fakeServer)
    failure(reactor, resolver.lookupAddress("www.example.com", timeout=(0.1, 0.1, 0.1)))
    assert len(fakeServer.requests) == 3


def test_retriesGoToTheNextServer(reactor: Any, fakeServer: Any) -> None:
    from tests.names.fakedns import FakeDNSServer

    silent = FakeDNSServer()
    silent.handler = lambda request: None
    try:
        resolver = resolverFor(reactor, silent, fakeServer, timeout=FAST)
        answers, _, _ = wait(reactor, resolver.lookupAddress("www.example.com"))
        assert len(answers) == 2
        assert len(silent.requests) == 1 and len(fakeServer.requests) == 1
    finally:
        silent.close()


def test_refusedPortMovesOnAtOnce(reactor: Any, fakeServer: Any) -> None:
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    deadAddress = closed.getsockname()
    closed.close()
    resolver = client.Resolver(
        servers=[deadAddress, fakeServer.address], timeout=(5, 5), reactor=reactor
    )
    started = reactor.seconds()
    answers, _, _ = wait(reactor, resolver.lookupAddress("www.example.com"))
    assert len(answers) == 2 and reactor.seconds() - started < 2


def test_everyServerRefusingFailsWithTheRefusal(reactor: Any) -> None:
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    deadAddress = closed.getsockname()
    closed.close()
    resolver = client.Resolver(servers=[deadAddress], timeout=(5, 5), reactor=reactor)
    e = failure(reactor, resolver.lookupAddress("www.example.com"))
    assert isinstance(e, ierror.ConnectionRefusedError)


def test_servfailTriesTheNextServerThenReports(reactor: Any, fakeServer: Any) -> None:
    from tests.names.fakedns import FakeDNSServer

    def servfail(request: Request) -> list[bytes]:
        response = dmsg.make_response(request.message)
        response.set_rcode(drcode.SERVFAIL)
        return [response.to_wire()]

    broken = FakeDNSServer()
    broken.handler = servfail
    try:
        resolver = resolverFor(reactor, broken, fakeServer, timeout=FAST)
        answers, _, _ = wait(reactor, resolver.lookupAddress("www.example.com"))
        assert len(answers) == 2
        alone = resolverFor(reactor, broken, timeout=FAST)
        assert isinstance(failure(reactor, alone.lookupAddress("x.example")), DNSServerError)
    finally:
        broken.close()


def test_refusedIsDNSQueryRefusedError(reactor: Any, fakeServer: Any) -> None:
    def refuse(request: Request) -> list[bytes]:
        response = dmsg.make_response(request.message)
        response.set_rcode(drcode.REFUSED)
        return [response.to_wire()]

    fakeServer.handler = refuse
    resolver = resolverFor(reactor, fakeServer)
    assert isinstance(
        failure(reactor, resolver.lookupAddress("www.example.com")), DNSQueryRefusedError
    )


# -- forged and broken answers -------------------------------------------------------------


def test_forgedAndGarbageAnswersBeforeTheRealOneAreIgnored(reactor: Any, fakeServer: Any) -> None:
    def hostile(request: Request) -> list[bytes]:
        real = zoneAnswer(request.message)
        wrongId = zoneAnswer(request.message)
        wrongId.id ^= 0x5A5A
        wrongId.answer[0] = drrset.from_text("www.example.com.", 300, "IN", "A", "203.0.113.66")
        otherQuestion = dmsg.make_query("evil.example.com.", "A")
        otherQuestion.id = request.message.id
        forged = dmsg.make_response(otherQuestion)
        forged.answer.append(drrset.from_text("evil.example.com.", 300, "IN", "A", "203.0.113.66"))
        return [b"\x00garbage", wrongId.to_wire(), forged.to_wire(), real.to_wire()]

    fakeServer.handler = hostile
    resolver = resolverFor(reactor, fakeServer)
    answers, _, _ = wait(reactor, resolver.lookupAddress("www.example.com"))
    assert sorted(rr.payload.dottedQuad() for rr in answers) == ["192.0.2.10", "192.0.2.11"]


def test_answerFromAnotherPortIsNotTaken(reactor: Any, fakeServer: Any) -> None:
    spoofer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    spoofer.bind(("127.0.0.1", 0))

    def fromElsewhere(request: Request) -> list[bytes]:
        spoofer.sendto(zoneAnswer(request.message).to_wire(), request.addr)
        return []

    fakeServer.handler = fromElsewhere
    try:
        resolver = resolverFor(reactor, fakeServer, timeout=(0.3,))
        assert isinstance(
            failure(reactor, resolver.lookupAddress("www.example.com")), DNSQueryTimeoutError
        )
    finally:
        spoofer.close()


def test_onlyGarbageTimesOut(reactor: Any, fakeServer: Any) -> None:
    fakeServer.handler = lambda request: [b"\xff" * 40, b"", b"\x00" * 11]
    resolver = resolverFor(reactor, fakeServer, timeout=(0.2,))
    assert isinstance(failure(reactor, resolver.lookupAddress("x.example")), DNSQueryTimeoutError)


def test_garbageOverTCPAfterTruncationTimesOut(reactor: Any, fakeServer: Any) -> None:
    def truncThenGarbage(request: Request) -> list[bytes]:
        if request.transport == "udp":
            response = dmsg.make_response(request.message)
            response.flags |= 0x0200
            return [response.to_wire()]
        return [b"\x00\x05hello"]

    fakeServer.handler = truncThenGarbage
    resolver = resolverFor(reactor, fakeServer, timeout=(0.3,))
    e = failure(reactor, resolver.lookupAddress("www.example.com"))
    assert isinstance(e, DNSQueryTimeoutError)


def test_tcpClosedAfterTruncationFails(reactor: Any, fakeServer: Any) -> None:
    def truncThenClose(request: Request) -> list[bytes]:
        response = dmsg.make_response(request.message)
        response.flags |= 0x0200
        if request.transport == "udp":
            return [response.to_wire()]
        return [Close(b"\x01")]

    fakeServer.handler = truncThenClose
    resolver = resolverFor(reactor, fakeServer, timeout=(0.5,))
    e = failure(reactor, resolver.lookupAddress("www.example.com"))
    assert isinstance(e, DNSQueryTimeoutError | ierror.ConnectionLost)


# -- sharing, configuration ----------------------------------------------------------------


def test_sameQuestionInFlightIsAskedOnce(reactor: Any, fakeServer: Any) -> None:
    resolver = resolverFor(reactor, fakeServer)
    d1 = resolver.lookupAddress("www.example.com")
    d2 = resolver.lookupAddress("WWW.example.com")
    a1, a2 = wait(reactor, d1), wait(reactor, d2)
    assert a1 == a2 and a1[0] is not a2[0]
    assert len(fakeServer.requests) == 1


def test_serversMustBeAddresses() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        client.Resolver(servers=[("dns.example.com", 53)], reactor=object())
    with pytest.raises(ValueError, match="port"):
        client.Resolver(servers=[("192.0.2.1", 70000)], reactor=object())
    with pytest.raises(ValueError, match="no DNS servers"):
        client.Resolver(reactor=object())
    with pytest.raises(ValueError, match="positive"):
        client.Resolver(servers=[("192.0.2.1", 53)], timeout=(), reactor=object())


def test_searchListAppliesToGetHostByName(reactor: Any, fakeServer: Any, tmp_path: Any) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("search corp.example example.com\nnameserver 127.0.0.1\n")
    resolver = client.Resolver(str(conf), servers=[fakeServer.address], reactor=reactor)
    assert wait(reactor, resolver.getHostByName("host")) == "192.0.2.99"
    asked = [r.message.question[0].name.to_text() for r in fakeServer.requests]
    assert asked[0] == "host.corp.example."
    fakeServer.requests.clear()
    # "www" is not in corp.example: the next search domain finds it.
    assert wait(reactor, resolver.getHostByName("www")) in ("192.0.2.10", "192.0.2.11")
    fakeServer.requests.clear()
    # An absolute name is asked as it is.
    e = failure(reactor, resolver.getHostByName("host."))
    assert isinstance(e, ierror.DNSLookupError)
    assert [r.message.question[0].name.to_text() for r in fakeServer.requests] == ["host."]


def test_getHostByNameFollowsCNAMEsAndFallsBackToAAAA(reactor: Any, fakeServer: Any) -> None:
    resolver = resolverFor(reactor, fakeServer)
    assert wait(reactor, resolver.getHostByName("alias.example.com")) in (
        "192.0.2.10",
        "192.0.2.11",
    )
    assert wait(reactor, resolver.getHostByName("far.example.com")) == "198.51.100.1"
    assert wait(reactor, resolver.getHostByName("v6only.example.com")) == "2001:db8::6"
    e = failure(reactor, resolver.getHostByName("nosuch.example.com"))
    assert isinstance(e, ierror.DNSLookupError) and isinstance(e.__cause__, DNSNameError)


def test_getHostByNameAsksForTheCNAMETargetWhenTheServerDidNot(
    reactor: Any, fakeServer: Any
) -> None:
    def cnameOnly(request: Request) -> list[bytes]:
        response = zoneAnswer(request.message)
        del response.answer[1:]
        return [response.to_wire()]

    fakeServer.handler = cnameOnly
    resolver = resolverFor(reactor, fakeServer)
    assert wait(reactor, resolver.getHostByName("far.example.com")) == "198.51.100.1"
    asked = [r.message.question[0].name.to_text() for r in fakeServer.requests]
    assert asked == ["far.example.com.", "target.example.net."]


def test_getHostByNameGivesUpOnCNAMELoops(reactor: Any, fakeServer: Any) -> None:
    def loop(request: Request) -> list[bytes]:
        response = dmsg.make_response(request.message)
        name = request.message.question[0].name.to_text()
        other = "b.loop.example." if name.startswith("a.") else "a.loop.example."
        response.answer.append(drrset.from_text(name, 60, "IN", "CNAME", other))
        return [response.to_wire()]

    fakeServer.handler = loop
    resolver = resolverFor(reactor, fakeServer)
    e = failure(reactor, resolver.getHostByName("a.loop.example", effort=3))
    assert isinstance(e, ierror.DNSLookupError) and "CNAME" in str(e)
    assert len(fakeServer.requests) == 4


# -- AXFR ----------------------------------------------------------------------------------


def axfrHandler(messages: int = 3, records: int = 9, **faults: Any) -> Any:
    def handle(request: Request) -> list[bytes] | None:
        query = request.message
        if request.transport != "tcp" or query.question[0].rdtype != dtype.AXFR:
            return None
        soa = drrset.from_text(
            "zone.example.", 3600, "IN", "SOA", "ns.zone.example. admin.zone.example. 7 1 1 1 1"
        )
        if faults.get("refuse"):
            response = dmsg.make_response(query)
            response.set_rcode(drcode.REFUSED)
            return [response.to_wire()]
        body = [
            drrset.from_text(f"h{i}.zone.example.", 60, "IN", "A", f"192.0.2.{i}")
            for i in range(records)
        ]
        stream = [soa, *body] if not faults.get("noSOA") else body
        if not faults.get("unfinished") and not faults.get("closed"):
            stream.append(soa)
        out = []
        per = -(-len(stream) // messages)
        for i in range(0, len(stream), per):
            response = dmsg.make_response(query)
            for rrset in stream[i : i + per]:
                response.answer.append(rrset)
            out.append(response.to_wire())
        if faults.get("closed"):
            out.append(Close(b""))
        return out

    return handle


def test_lookupZoneGathersEveryMessage(reactor: Any, fakeServer: Any) -> None:
    fakeServer.handler = axfrHandler()
    resolver = resolverFor(reactor, fakeServer)
    records, authority, additional = wait(reactor, resolver.lookupZone("zone.example"))
    assert [rr.type for rr in records] == [dns.SOA] + [dns.A] * 9 + [dns.SOA]
    assert authority == [] and additional == []
    assert [r.transport for r in fakeServer.requests] == ["tcp"]


def test_lookupZoneRefused(reactor: Any, fakeServer: Any) -> None:
    fakeServer.handler = axfrHandler(refuse=True)
    resolver = resolverFor(reactor, fakeServer)
    assert isinstance(failure(reactor, resolver.lookupZone("zone.example")), DNSQueryRefusedError)


def test_lookupZoneWithoutLeadingSOAFails(reactor: Any, fakeServer: Any) -> None:
    fakeServer.handler = axfrHandler(noSOA=True)
    resolver = resolverFor(reactor, fakeServer)
    e = failure(reactor, resolver.lookupZone("zone.example"))
    assert isinstance(e, ResolverError) and "SOA" in str(e)


def test_lookupZoneUnfinishedTimesOut(reactor: Any, fakeServer: Any) -> None:
    fakeServer.handler = axfrHandler(unfinished=True)
    resolver = resolverFor(reactor, fakeServer)
    e = failure(reactor, resolver.lookupZone("zone.example", timeout=0.5))
    assert isinstance(e, DNSQueryTimeoutError)


def test_lookupZoneCutShortFails(reactor: Any, fakeServer: Any) -> None:
    fakeServer.handler = axfrHandler(closed=True)
    resolver = resolverFor(reactor, fakeServer)
    e = failure(reactor, resolver.lookupZone("zone.example"))
    assert isinstance(e, ierror.ConnectionLost) and "before the zone transfer" in str(e)


def test_lookupZoneRecordLimit(reactor: Any, fakeServer: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(client.AXFRController, "maxRecords", 5)
    fakeServer.handler = axfrHandler()
    resolver = resolverFor(reactor, fakeServer)
    e = failure(reactor, resolver.lookupZone("zone.example"))
    assert isinstance(e, ResolverError) and "maxRecords" in str(e)


def test_lookupZoneToAClosedPortFails(reactor: Any) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    address = closed.getsockname()
    closed.close()
    resolver = client.Resolver(servers=[address], reactor=reactor)
    e = failure(reactor, resolver.lookupZone("zone.example"))
    assert isinstance(e, ierror.ConnectionRefusedError)


def test_ipv6Server(reactor: Any) -> None:
    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("no IPv6 loopback here")

    class Answer:
        def messageReceived(self, message: dns.Message, protocol: Any, address: Any) -> None:
            reply = dns.Message(id=message.id, answer=1)
            reply.queries = message.queries
            reply.answers.append(
                dns.RRHeader(message.queries[0].name, payload=dns.Record_A("192.0.2.66"))
            )
            protocol.writeMessage(reply, address)

    port = reactor.listenUDP(0, dns.DNSDatagramProtocol(Answer(), reactor), interface="::1")
    try:
        resolver = client.Resolver(servers=[("::1", port.getHost().port)], reactor=reactor)
        answers, _, _ = wait(reactor, resolver.lookupAddress("v6.example"))
        assert answers[0].payload.dottedQuad() == "192.0.2.66"
    finally:
        wait(reactor, port.stopListening())
