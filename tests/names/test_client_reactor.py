"""
The reactor integration of torsion.names.client, on every reactor (the `reactor`
fixture): reactor.installResolver(createResolver(...)) makes reactor.resolve and
connectTCP to a host name use the hosts file, the cache and the fake DNS server
of tests/names/fakedns.py; lookups over UDP and TCP work on each reactor.
"""

from __future__ import annotations

from typing import Any

from zope.interface.verify import verifyObject

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntilFired
from tests.names import fakedns
from torsion.internet import error as ierror
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import IResolver, IResolverSimple
from torsion.internet.protocol import ClientFactory, Factory, Protocol
from torsion.names import client

reactor = reactormixins.reactor
fakeServer = fakedns.fakeServer


def chain(reactor: Any, fakeServer: Any, tmp_path: Any) -> Any:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n192.0.2.200 printer.lan printer\n")
    conf = tmp_path / "resolv.conf"
    conf.write_text("# no nameserver here: the servers argument gives it\nsearch example.com\n")
    return client.createResolver(
        servers=[fakeServer.address], resolvconf=str(conf), hosts=str(hosts), reactor=reactor
    )


def test_installedResolverAnswersReactorResolve(
    reactor: Any, fakeServer: Any, tmp_path: Any
) -> None:
    resolver = chain(reactor, fakeServer, tmp_path)
    assert verifyObject(IResolverSimple, resolver) and verifyObject(IResolver, resolver)
    reactor.installResolver(resolver)
    assert runUntilFired(reactor, reactor.resolve("www.example.com")) in (
        "192.0.2.10",
        "192.0.2.11",
    )
    assert runUntilFired(reactor, reactor.resolve("printer.lan")) == "192.0.2.200"
    # The search list of resolv.conf applies to host names.
    assert runUntilFired(reactor, reactor.resolve("local")) == "127.0.0.1"
    asked = len(fakeServer.requests)
    # Cached now: asking again does not reach the server.
    runUntilFired(reactor, reactor.resolve("www.example.com"))
    assert len(fakeServer.requests) == asked
    e = reactor.resolve("nosuch.example.com")
    try:
        runUntilFired(reactor, e)
    except ierror.DNSLookupError:
        pass
    else:
        raise AssertionError("an unknown name resolved")


def test_connectTCPToAHostNameUsesTheResolver(reactor: Any, fakeServer: Any, tmp_path: Any) -> None:
    reactor.installResolver(chain(reactor, fakeServer, tmp_path))
    accepted: Deferred[None] = Deferred()

    class Hello(Protocol):
        def connectionMade(self) -> None:
            self.transport.write(b"hello")
            self.transport.loseConnection()

    port = reactor.listenTCP(0, Factory.forProtocol(Hello), interface="127.0.0.1")
    received: list[bytes] = []

    class Reader(Protocol):
        def dataReceived(self, data: bytes) -> None:
            received.append(data)

        def connectionLost(self, reason: object = None) -> None:
            if not accepted.called:
                accepted.callback(None)

    class Connecting(ClientFactory):
        protocol = Reader

        def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
            accepted.errback(reason)

    try:
        reactor.connectTCP("local.example.com", port.getHost().port, Connecting())
        runUntilFired(reactor, accepted)
        assert b"".join(received) == b"hello"
        assert any(
            r.message.question[0].name.to_text() == "local.example.com."
            for r in fakeServer.requests
        )
    finally:
        runUntilFired(reactor, port.stopListening())


def test_connectTCPToAnUnknownNameFails(reactor: Any, fakeServer: Any, tmp_path: Any) -> None:
    reactor.installResolver(chain(reactor, fakeServer, tmp_path))
    failed: Deferred[Any] = Deferred()

    class Connecting(ClientFactory):
        protocol = Protocol

        def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
            failed.callback([reason])

    reactor.connectTCP("nosuch.example.com", 80, Connecting())
    [reason] = runUntilFired(reactor, failed)
    assert reason.check(ierror.DNSLookupError)
    assert "does not exist (NXDOMAIN)" in str(reason.value)


def test_lookupsOverUDPAndTCP(reactor: Any, fakeServer: Any) -> None:
    resolver = client.Resolver(servers=[fakeServer.address], reactor=reactor)
    answers, _, _ = runUntilFired(reactor, resolver.lookupMailExchange("example.com"))
    assert len(answers) == 2
    answers, _, _ = runUntilFired(reactor, resolver.lookupText("big.example.com"))
    assert len(answers) == 20
    assert [r.transport for r in fakeServer.requests] == ["udp", "udp", "tcp"]
