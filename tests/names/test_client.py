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
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntilFired
from tests.names import fakedns
from tests.names.fakedns import Close, Request, dmsg, drcode, drrset, dtype, zoneAnswer
from torsion.internet import error as ierror
from torsion.internet.defer import CancelledError, Deferred
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


oneReactor = reactormixins.oneReactor


def wait(oneReactor: Any, d: Deferred[Any], timeout: float = 5.0) -> Any:
    return runUntilFired(oneReactor, d, timeout)


def failure(oneReactor: Any, d: Deferred[Any], timeout: float = 5.0) -> BaseException:
    try:
        runUntilFired(oneReactor, d, timeout)
    except BaseException as e:
        return e
    raise AssertionError("the lookup succeeded")


def resolverFor(oneReactor: Any, *servers: Any, **kw: Any) -> client.Resolver:
    return client.Resolver(servers=[s.address for s in servers], reactor=oneReactor, **kw)


# -- answers -------------------------------------------------------------------------------


def test_lookupAddressGivesEveryRecord(oneReactor: Any, fakeServer: Any) -> None:
    resolver = resolverFor(oneReactor, fakeServer)
    answers, authority, additional = wait(oneReactor, resolver.lookupAddress("www.example.com"))
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
def test_eachRecordType(
    oneReactor: Any, fakeServer: Any, method: str, name: str, check: Any
) -> None:
    resolver = resolverFor(oneReactor, fakeServer)
    answers, _, _ = wait(oneReactor, getattr(resolver, method)(name))
    assert any(check(rr.payload) for rr in answers if rr.name == dns.Name(name))


def test_nxdomainFailsWithDNSNameErrorCarryingTheMessage(oneReactor: Any, fakeServer: Any) -> None:
    resolver = resolverFor(oneReactor, fakeServer)
    e = failure(oneReactor, resolver.lookupAddress("nosuch.example.com"))
    assert isinstance(e, DNSNameError)
    message = e.args[0]
    assert isinstance(message, dns.Message) and message.rCode == dns.ENAME
    assert [rr.type for rr in message.authority] == [dns.SOA]


def test_nodataIsAnEmptyAnswerWithTheSOA(oneReactor: Any, fakeServer: Any) -> None:
    resolver = resolverFor(oneReactor, fakeServer)
    answers, authority, _ = wait(oneReactor, resolver.lookupMailExchange("www.example.com"))
    assert answers == [] and [rr.type for rr in authority] == [dns.SOA]


def test_queryMethodTakesAQuery(oneReactor: Any, fakeServer: Any) -> None:
    resolver = resolverFor(oneReactor, fakeServer)
    answers, _, _ = wait(oneReactor, resolver.query(dns.Query(b"example.com", dns.MX)))
    assert len(answers) == 2


def test_eachAttemptUsesANewPortAndIdAndPortsAreClosed(oneReactor: Any, fakeServer: Any) -> None:
    resolver = resolverFor(oneReactor, fakeServer)
    before = len(oneReactor.getReaders())
    for i in range(6):
        wait(oneReactor, resolver.lookupAddress(f"n{i}.example.com").addErrback(lambda f: None))
    ids = {r.message.id for r in fakeServer.requests}
    ports = {r.addr[1] for r in fakeServer.requests}
    # Random, so two of six may meet by chance (about once in 2,000 runs for ports).
    assert len(fakeServer.requests) == 6 and len(ids) >= 5 and len(ports) >= 5
    oneReactor.iterate(0)
    assert len(oneReactor.getReaders()) == before


# -- truncation, EDNS ----------------------------------------------------------------------


def test_truncatedAnswerIsAskedAgainOverTCP(oneReactor: Any, fakeServer: Any) -> None:
    resolver = resolverFor(oneReactor, fakeServer)
    answers, _, _ = wait(oneReactor, resolver.lookupText("big.example.com"))
    assert len(answers) == 20
    assert [r.transport for r in fakeServer.requests] == ["udp", "tcp"]
    assert fakeServer.requests[1].message.question == fakeServer.requests[0].message.question


def test_withoutEDNSThe512ByteLimitApplies(oneReactor: Any, fakeServer: Any) -> None:
    resolver = resolverFor(oneReactor, fakeServer)
    resolver.udpPayloadSize = None
    answers, _, _ = wait(oneReactor, resolver.lookupText("example.com"))
    assert len(answers) == 2
    assert fakeServer.requests[0].message.edns == -1
    # Four 200-byte strings do not fit in 512 bytes, but fit in 1232.
    fakeServer.requests.clear()
    resolver.udpPayloadSize = 1232
    wait(oneReactor, resolver.lookupText("big.example.com"))
    assert [r.transport for r in fakeServer.requests] == ["udp", "tcp"]


def test_formerrToEDNSIsRetriedWithoutIt(oneReactor: Any, fakeServer: Any) -> None:
    def oldServer(request: Request) -> list[bytes]:
        if request.message.edns >= 0:
            response = dmsg.make_response(request.message)
            response.use_edns(-1)
            response.set_rcode(drcode.FORMERR)
            return [response.to_wire()]
        return fakeServer.answerFromZone(request)

    fakeServer.handler = oldServer
    resolver = resolverFor(oneReactor, fakeServer)
    answers, _, _ = wait(oneReactor, resolver.lookupAddress("www.example.com"))
    assert len(answers) == 2
    assert [r.message.edns for r in fakeServer.requests] == [0, -1]


def test_formerrWithoutEDNSIsAnError(oneReactor: Any, fakeServer: Any) -> None:
    def formerr(request: Request) -> list[bytes]:
        response = dmsg.make_response(request.message)
        response.use_edns(-1)
        response.set_rcode(drcode.FORMERR)
        return [response.to_wire()]

    fakeServer.handler = formerr
    resolver = resolverFor(oneReactor, fakeServer)
    resolver.udpPayloadSize = None
    from torsion.names.error import DNSFormatError

    assert isinstance(
        failure(oneReactor, resolver.lookupAddress("www.example.com")), DNSFormatError
    )


# -- timeouts, retries, several servers ----------------------------------------------------


def test_silenceTimesOutAfterEachAttempt(oneReactor: Any, fakeServer: Any) -> None:
    fakeServer.handler = lambda request: None
    resolver = resolverFor(oneReactor, fakeServer, timeout=(0.2, 0.3))
    started = oneReactor.seconds()
    e = failure(oneReactor, resolver.lookupAddress("www.example.com"))
    assert isinstance(e, DNSQueryTimeoutError)
    assert 0.45 <= oneReactor.seconds() - started < 3
    assert len(fakeServer.requests) == 2
    assert len({r.message.id for r in fakeServer.requests}) == 2


def test_perLookupTimeoutOverridesTheResolvers(oneReactor: Any, fakeServer: Any) -> None:
    fakeServer.handler = lambda request: None
    resolver = resolverFor(oneReactor, fakeServer)
    failure(oneReactor, resolver.lookupAddress("www.example.com", timeout=(0.1, 0.1, 0.1)))
    assert len(fakeServer.requests) == 3


def test_retriesGoToTheNextServer(oneReactor: Any, fakeServer: Any) -> None:
    from tests.names.fakedns import FakeDNSServer

    silent = FakeDNSServer()
    silent.handler = lambda request: None
    try:
        resolver = resolverFor(oneReactor, silent, fakeServer, timeout=FAST)
        answers, _, _ = wait(oneReactor, resolver.lookupAddress("www.example.com"))
        assert len(answers) == 2
        assert len(silent.requests) == 1 and len(fakeServer.requests) == 1
    finally:
        silent.close()


def test_refusedPortMovesOnAtOnce(oneReactor: Any, fakeServer: Any) -> None:
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    deadAddress = closed.getsockname()
    closed.close()
    resolver = client.Resolver(
        servers=[deadAddress, fakeServer.address], timeout=(5, 5), reactor=oneReactor
    )
    started = oneReactor.seconds()
    answers, _, _ = wait(oneReactor, resolver.lookupAddress("www.example.com"))
    assert len(answers) == 2 and oneReactor.seconds() - started < 2


def test_everyServerRefusingFailsWithTheRefusal(oneReactor: Any) -> None:
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    deadAddress = closed.getsockname()
    closed.close()
    resolver = client.Resolver(servers=[deadAddress], timeout=(5, 5), reactor=oneReactor)
    e = failure(oneReactor, resolver.lookupAddress("www.example.com"))
    assert isinstance(e, ierror.ConnectionRefusedError)


def test_servfailTriesTheNextServerThenReports(oneReactor: Any, fakeServer: Any) -> None:
    from tests.names.fakedns import FakeDNSServer

    def servfail(request: Request) -> list[bytes]:
        response = dmsg.make_response(request.message)
        response.set_rcode(drcode.SERVFAIL)
        return [response.to_wire()]

    broken = FakeDNSServer()
    broken.handler = servfail
    try:
        resolver = resolverFor(oneReactor, broken, fakeServer, timeout=FAST)
        answers, _, _ = wait(oneReactor, resolver.lookupAddress("www.example.com"))
        assert len(answers) == 2
        alone = resolverFor(oneReactor, broken, timeout=FAST)
        assert isinstance(failure(oneReactor, alone.lookupAddress("x.example")), DNSServerError)
    finally:
        broken.close()


def test_refusedIsDNSQueryRefusedError(oneReactor: Any, fakeServer: Any) -> None:
    def refuse(request: Request) -> list[bytes]:
        response = dmsg.make_response(request.message)
        response.set_rcode(drcode.REFUSED)
        return [response.to_wire()]

    fakeServer.handler = refuse
    resolver = resolverFor(oneReactor, fakeServer)
    assert isinstance(
        failure(oneReactor, resolver.lookupAddress("www.example.com")), DNSQueryRefusedError
    )


# -- forged and broken answers -------------------------------------------------------------


def test_forgedAndGarbageAnswersBeforeTheRealOneAreIgnored(
    oneReactor: Any, fakeServer: Any
) -> None:
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
    resolver = resolverFor(oneReactor, fakeServer)
    answers, _, _ = wait(oneReactor, resolver.lookupAddress("www.example.com"))
    assert sorted(rr.payload.dottedQuad() for rr in answers) == ["192.0.2.10", "192.0.2.11"]


def test_answerFromAnotherPortIsNotTaken(oneReactor: Any, fakeServer: Any) -> None:
    spoofer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    spoofer.bind(("127.0.0.1", 0))

    def fromElsewhere(request: Request) -> list[bytes]:
        spoofer.sendto(zoneAnswer(request.message).to_wire(), request.addr)
        return []

    fakeServer.handler = fromElsewhere
    try:
        resolver = resolverFor(oneReactor, fakeServer, timeout=(0.3,))
        assert isinstance(
            failure(oneReactor, resolver.lookupAddress("www.example.com")), DNSQueryTimeoutError
        )
    finally:
        spoofer.close()


def test_onlyGarbageTimesOut(oneReactor: Any, fakeServer: Any) -> None:
    fakeServer.handler = lambda request: [b"\xff" * 40, b"", b"\x00" * 11]
    resolver = resolverFor(oneReactor, fakeServer, timeout=(0.2,))
    assert isinstance(
        failure(oneReactor, resolver.lookupAddress("x.example")), DNSQueryTimeoutError
    )


def test_garbageOverTCPAfterTruncationTimesOut(oneReactor: Any, fakeServer: Any) -> None:
    def truncThenGarbage(request: Request) -> list[bytes]:
        if request.transport == "udp":
            response = dmsg.make_response(request.message)
            response.flags |= 0x0200
            return [response.to_wire()]
        return [b"\x00\x05hello"]

    fakeServer.handler = truncThenGarbage
    resolver = resolverFor(oneReactor, fakeServer, timeout=(0.3,))
    e = failure(oneReactor, resolver.lookupAddress("www.example.com"))
    assert isinstance(e, DNSQueryTimeoutError)


def test_tcpClosedAfterTruncationFails(oneReactor: Any, fakeServer: Any) -> None:
    def truncThenClose(request: Request) -> list[bytes]:
        response = dmsg.make_response(request.message)
        response.flags |= 0x0200
        if request.transport == "udp":
            return [response.to_wire()]
        return [Close(b"\x01")]

    fakeServer.handler = truncThenClose
    resolver = resolverFor(oneReactor, fakeServer, timeout=(0.5,))
    e = failure(oneReactor, resolver.lookupAddress("www.example.com"))
    assert isinstance(e, DNSQueryTimeoutError | ierror.ConnectionLost)


# -- sharing, configuration ----------------------------------------------------------------


def test_sameQuestionInFlightIsAskedOnce(oneReactor: Any, fakeServer: Any) -> None:
    resolver = resolverFor(oneReactor, fakeServer)
    d1 = resolver.lookupAddress("www.example.com")
    d2 = resolver.lookupAddress("WWW.example.com")
    a1, a2 = wait(oneReactor, d1), wait(oneReactor, d2)
    assert a1 == a2 and a1[0] is not a2[0]
    assert len(fakeServer.requests) == 1


def test_cancellingALookupEndsItsExchange(oneReactor: Any, fakeServer: Any) -> None:
    fakeServer.handler = lambda request: None
    resolver = resolverFor(oneReactor, fakeServer, timeout=(0.3, 0.3, 0.3))
    before = len(oneReactor.getReaders())
    d = resolver.lookupAddress("www.example.com")
    assert len(oneReactor.getReaders()) == before + 1
    d.cancel()
    assert isinstance(failure(oneReactor, d), CancelledError)
    # No retry after the cancel, and the attempt's port is closed.
    pause = Deferred[None]()
    oneReactor.callLater(0.8, pause.callback, None)
    wait(oneReactor, pause)
    assert len(fakeServer.requests) <= 1
    assert len(oneReactor.getReaders()) == before
    assert oneReactor.getDelayedCalls() == []


def test_cancellingOneOfTwoSharedLookupsKeepsTheOther(oneReactor: Any, fakeServer: Any) -> None:
    resolver = resolverFor(oneReactor, fakeServer)
    d1 = resolver.lookupAddress("www.example.com")
    d2 = resolver.lookupAddress("www.example.com")
    d1.cancel()
    assert isinstance(failure(oneReactor, d1), CancelledError)
    answers, _, _ = wait(oneReactor, d2)
    assert len(answers) == 2
    assert len(fakeServer.requests) == 1


def test_cancellingDuringTheTCPRetryClosesTheConnection(oneReactor: Any, fakeServer: Any) -> None:
    def truncThenSilence(request: Request) -> list[bytes] | None:
        if request.transport == "udp":
            response = dmsg.make_response(request.message)
            response.flags |= 0x0200
            return [response.to_wire()]
        return None

    fakeServer.handler = truncThenSilence
    resolver = resolverFor(oneReactor, fakeServer, timeout=(5.0,))
    before = len(oneReactor.getReaders())
    d = resolver.lookupAddress("www.example.com")
    reactormixins.runUntil(oneReactor, lambda: len(fakeServer.tcpQueries()) == 1, timeout=5)
    assert len(oneReactor.getReaders()) == before + 1
    d.cancel()
    assert isinstance(failure(oneReactor, d), CancelledError)
    reactormixins.runUntil(
        oneReactor,
        lambda: len(oneReactor.getReaders()) == before and not oneReactor.getDelayedCalls(),
        timeout=3,
    )


def test_serversMustBeAddresses() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        client.Resolver(servers=[("dns.example.com", 53)], reactor=object())
    with pytest.raises(ValueError, match="port"):
        client.Resolver(servers=[("192.0.2.1", 70000)], reactor=object())
    with pytest.raises(ValueError, match="no DNS servers"):
        client.Resolver(reactor=object())
    with pytest.raises(ValueError, match="positive"):
        client.Resolver(servers=[("192.0.2.1", 53)], timeout=(), reactor=object())


def test_searchListAppliesToGetHostByName(oneReactor: Any, fakeServer: Any, tmp_path: Any) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("search corp.example example.com\nnameserver 127.0.0.1\n")
    resolver = client.Resolver(str(conf), servers=[fakeServer.address], reactor=oneReactor)
    assert wait(oneReactor, resolver.getHostByName("host")) == "192.0.2.99"
    asked = [r.message.question[0].name.to_text() for r in fakeServer.requests]
    assert asked[0] == "host.corp.example."
    fakeServer.requests.clear()
    # "www" is not in corp.example: the next search domain finds it.
    assert wait(oneReactor, resolver.getHostByName("www")) in ("192.0.2.10", "192.0.2.11")
    fakeServer.requests.clear()
    # An absolute name is asked as it is.
    e = failure(oneReactor, resolver.getHostByName("host."))
    assert isinstance(e, ierror.DNSLookupError)
    assert [r.message.question[0].name.to_text() for r in fakeServer.requests] == ["host."]


def test_getHostByNameFollowsCNAMEsAndFallsBackToAAAA(oneReactor: Any, fakeServer: Any) -> None:
    resolver = resolverFor(oneReactor, fakeServer)
    assert wait(oneReactor, resolver.getHostByName("alias.example.com")) in (
        "192.0.2.10",
        "192.0.2.11",
    )
    assert wait(oneReactor, resolver.getHostByName("far.example.com")) == "198.51.100.1"
    assert wait(oneReactor, resolver.getHostByName("v6only.example.com")) == "2001:db8::6"
    e = failure(oneReactor, resolver.getHostByName("nosuch.example.com"))
    assert isinstance(e, ierror.DNSLookupError) and isinstance(e.__cause__, DNSNameError)


def test_getHostByNameAsksForTheCNAMETargetWhenTheServerDidNot(
    oneReactor: Any, fakeServer: Any
) -> None:
    def cnameOnly(request: Request) -> list[bytes]:
        response = zoneAnswer(request.message)
        del response.answer[1:]
        return [response.to_wire()]

    fakeServer.handler = cnameOnly
    resolver = resolverFor(oneReactor, fakeServer)
    assert wait(oneReactor, resolver.getHostByName("far.example.com")) == "198.51.100.1"
    asked = [r.message.question[0].name.to_text() for r in fakeServer.requests]
    assert asked == ["far.example.com.", "target.example.net."]


def test_getHostByNameGivesUpOnCNAMELoops(oneReactor: Any, fakeServer: Any) -> None:
    def loop(request: Request) -> list[bytes]:
        response = dmsg.make_response(request.message)
        name = request.message.question[0].name.to_text()
        other = "b.loop.example." if name.startswith("a.") else "a.loop.example."
        response.answer.append(drrset.from_text(name, 60, "IN", "CNAME", other))
        return [response.to_wire()]

    fakeServer.handler = loop
    resolver = resolverFor(oneReactor, fakeServer)
    e = failure(oneReactor, resolver.getHostByName("a.loop.example", effort=3))
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


def test_lookupZoneGathersEveryMessage(oneReactor: Any, fakeServer: Any) -> None:
    fakeServer.handler = axfrHandler()
    resolver = resolverFor(oneReactor, fakeServer)
    records, authority, additional = wait(oneReactor, resolver.lookupZone("zone.example"))
    assert [rr.type for rr in records] == [dns.SOA] + [dns.A] * 9 + [dns.SOA]
    assert authority == [] and additional == []
    assert [r.transport for r in fakeServer.requests] == ["tcp"]


def test_lookupZoneRefused(oneReactor: Any, fakeServer: Any) -> None:
    fakeServer.handler = axfrHandler(refuse=True)
    resolver = resolverFor(oneReactor, fakeServer)
    assert isinstance(
        failure(oneReactor, resolver.lookupZone("zone.example")), DNSQueryRefusedError
    )


def test_lookupZoneWithoutLeadingSOAFails(oneReactor: Any, fakeServer: Any) -> None:
    fakeServer.handler = axfrHandler(noSOA=True)
    resolver = resolverFor(oneReactor, fakeServer)
    e = failure(oneReactor, resolver.lookupZone("zone.example"))
    assert isinstance(e, ResolverError) and "SOA" in str(e)


def test_lookupZoneUnfinishedTimesOut(oneReactor: Any, fakeServer: Any) -> None:
    fakeServer.handler = axfrHandler(unfinished=True)
    resolver = resolverFor(oneReactor, fakeServer)
    e = failure(oneReactor, resolver.lookupZone("zone.example", timeout=0.5))
    assert isinstance(e, DNSQueryTimeoutError)


def test_lookupZoneCutShortFails(oneReactor: Any, fakeServer: Any) -> None:
    fakeServer.handler = axfrHandler(closed=True)
    resolver = resolverFor(oneReactor, fakeServer)
    e = failure(oneReactor, resolver.lookupZone("zone.example"))
    assert isinstance(e, ierror.ConnectionLost) and "before the zone transfer" in str(e)


def test_lookupZoneRecordLimit(oneReactor: Any, fakeServer: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(client.AXFRController, "maxRecords", 5)
    fakeServer.handler = axfrHandler()
    resolver = resolverFor(oneReactor, fakeServer)
    e = failure(oneReactor, resolver.lookupZone("zone.example"))
    assert isinstance(e, ResolverError) and "maxRecords" in str(e)


def test_lookupZoneToAClosedPortFails(oneReactor: Any) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    address = closed.getsockname()
    closed.close()
    resolver = client.Resolver(servers=[address], reactor=oneReactor)
    e = failure(oneReactor, resolver.lookupZone("zone.example"))
    assert isinstance(e, ierror.ConnectionRefusedError)


def test_ipv6Server(oneReactor: Any) -> None:
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

    port = oneReactor.listenUDP(0, dns.DNSDatagramProtocol(Answer(), oneReactor), interface="::1")
    try:
        resolver = client.Resolver(servers=[("::1", port.getHost().port)], reactor=oneReactor)
        answers, _, _ = wait(oneReactor, resolver.lookupAddress("v6.example"))
        assert answers[0].payload.dottedQuad() == "192.0.2.66"
    finally:
        wait(oneReactor, port.stopListening())


def test_serverThatCannotBeReachedIsSkipped(oneReactor: Any, fakeServer: Any) -> None:
    resolver = client.Resolver(
        servers=[("fe80::1%nosuchif0", 53), fakeServer.address], timeout=(5, 5), reactor=oneReactor
    )
    answers, _, _ = wait(oneReactor, resolver.lookupAddress("www.example.com"))
    assert len(answers) == 2
