"""The XMPP client and component against a small server written in the test.

tests/words/xmppserver.py is the server (on torsion.protocols.xmlstream only): the
client logs in over real sockets on 127.0.0.1 with STARTTLS (the test CA), SASL and
binding, exchanges messages and roster queries, and meets the failures a real
server can produce: bad passwords, no STARTTLS, an untrusted certificate, a stream
error, malformed XML, a forged SCRAM signature, IQ answers from strangers.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from tests.internet.tlshelpers import clientOptions, otherCA, serverOptions
from tests.words import xmpphelpers
from tests.words.xmpphelpers import received, run, waitFor
from tests.words.xmppserver import ServerFactory, ServerState
from torsion.internet.defer import Deferred
from torsion.internet.error import CertificateVerificationError
from torsion.internet.interfaces import ISSLTransport
from torsion.protocols.xmlstream import Element
from torsion.words.protocols.jabber import client, component, error, jid, sasl, xmlstream

reactor = reactormixins.reactor
oneReactor = xmpphelpers.oneReactor


class Server:
    """The test server listening on 127.0.0.1, and how to log in to it."""

    def __init__(self, reactor: Any, tls: bool = True, **kw: Any) -> None:
        self.reactor = reactor
        self.state = ServerState(tlsOptions=serverOptions() if tls else None, **kw)
        self.port = reactor.listenTCP(0, ServerFactory(self.state), interface="127.0.0.1")
        self.portNumber = self.port.getHost().port

    def login(self, who: str, password: str, **kw: Any) -> Deferred[xmlstream.XmlStream]:
        kw.setdefault("configurationForTLS", clientOptions("localhost"))
        return client.connectClient(
            self.reactor, who, password, host="127.0.0.1", port=self.portNumber, **kw
        )


def test_loginExchangeMessageAndRoster(reactor: Any) -> None:
    """The issue's "must show", on every reactor: STARTTLS, SCRAM, bind, message, roster."""
    server = Server(reactor)

    async def scenario() -> None:
        alice = await server.login("alice@localhost/home", "wonderland")
        bob = await server.login("bob@localhost", "builder")
        assert ISSLTransport.providedBy(alice.transport)
        assert alice.authenticator.jid == jid.JID("alice@localhost/home")
        assert bob.authenticator.jid.resource  # the server chose one
        assert server.state.authAttempts == ["SCRAM-SHA-1", "SCRAM-SHA-1"]
        messages = received(bob, "/message[@type='chat']")
        client.sendMessage(alice, "bob@localhost", "hello <bob> & friends")
        await waitFor(reactor, lambda: messages)
        assert messages[0].getAttribute("from") == "alice@localhost/home"
        assert str(next(messages[0].elements(name="body"))) == "hello <bob> & friends"
        pushes: list[Any] = []
        alice.addObserver(client.ROSTER_PUSH_EVENT, pushes.append)
        await client.setRosterItem(alice, jid.JID("bob@localhost"), "Bob", ["Friends"])
        roster = await client.getRoster(alice)
        bobItem = client.RosterItem(jid.JID("bob@localhost"), "Bob", "none", None, ["Friends"])
        assert roster == [bobItem]
        assert pushes == [[bobItem]]
        await waitFor(reactor, lambda: answeredPushes(server))
        alice.transport.loseConnection()
        bob.transport.loseConnection()

    run(reactor, scenario())
    server.port.stopListening()


def answeredPushes(server: Server) -> list[Element]:
    return [
        e for e in server.state.received if e.name == "iq" and e.getAttribute("type") == "result"
    ]


def test_rosterPushFromAStrangerIsIgnored(oneReactor: Any) -> None:
    server = Server(oneReactor, tls=False, mechanisms=("PLAIN",))

    async def scenario() -> None:
        xs = await server.login("alice@localhost", "wonderland", tls=False)
        pushes: list[Any] = []
        xs.addObserver(client.ROSTER_PUSH_EVENT, pushes.append)
        server.state.misbehave.add("push-from-stranger")
        await client.setRosterItem(xs, jid.JID("bob@localhost"), remove=True)
        await client.getRoster(xs)  # after the push, which came first
        assert pushes == []
        assert answeredPushes(server) == []

    run(oneReactor, scenario())


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_eachMechanismLogsIn(oneReactor: Any, mechanism: str) -> None:
    server = Server(oneReactor, mechanisms=(mechanism,))
    xs = runUntilFired(oneReactor, server.login("alice@localhost", "wonderland"))
    assert server.state.authAttempts == [mechanism]
    assert xs.authenticator.jid.userhost() == "alice@localhost"


def test_scramIsPreferredToPlain(oneReactor: Any) -> None:
    server = Server(oneReactor, mechanisms=("PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256"))
    runUntilFired(oneReactor, server.login("alice@localhost", "wonderland"))
    assert server.state.authAttempts == ["SCRAM-SHA-256"]


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-1"])
def test_badPasswordFailsWithTheServersCondition(oneReactor: Any, mechanism: str) -> None:
    server = Server(oneReactor, mechanisms=(mechanism,))
    with pytest.raises(sasl.SASLAuthError) as caught:
        runUntilFired(oneReactor, server.login("alice@localhost", "not her password"))
    assert caught.value.condition == "not-authorized"
    assert "not-authorized" in str(caught.value)
    runUntil(oneReactor, lambda: not server.state.sessions)


def test_unknownUserFails(oneReactor: Any) -> None:
    server = Server(oneReactor)
    with pytest.raises(sasl.SASLAuthError):
        runUntilFired(oneReactor, server.login("mallory@localhost", "x"))


def test_forgedScramServerSignatureIsRefused(oneReactor: Any) -> None:
    """A server that does not know the password cannot pretend the login worked."""
    server = Server(oneReactor)
    server.state.misbehave.add("bad-server-signature")
    with pytest.raises(sasl.SASLAuthError) as caught:
        runUntilFired(oneReactor, server.login("alice@localhost", "wonderland"))
    assert "signature is wrong" in str(caught.value)


def test_serverWithoutStartTLSIsRefusedBeforeThePassword(oneReactor: Any) -> None:
    server = Server(oneReactor, tls=False)
    with pytest.raises(xmlstream.TLSNotSupported, match="does not offer STARTTLS"):
        runUntilFired(oneReactor, server.login("alice@localhost", "wonderland"))
    assert server.state.authAttempts == []


def test_plainInClearNeedsConsent(oneReactor: Any) -> None:
    server = Server(oneReactor, tls=False, mechanisms=("PLAIN",))
    xs = runUntilFired(oneReactor, server.login("alice@localhost", "wonderland", tls=False))
    assert not ISSLTransport.providedBy(xs.transport)
    assert server.state.authAttempts == ["PLAIN"]


def test_untrustedCertificateIsRefused(oneReactor: Any) -> None:
    server = Server(oneReactor)
    untrusting = clientOptions("localhost", trustRoot=otherCA().cert_pem.bytes())
    with pytest.raises(CertificateVerificationError):
        runUntilFired(
            oneReactor,
            server.login("alice@localhost", "wonderland", configurationForTLS=untrusting),
        )
    assert server.state.authAttempts == []


def test_defaultTLSOptionsCheckTheSystemsTrust(oneReactor: Any) -> None:
    """By default the server's certificate is checked against the system's trust."""
    server = Server(oneReactor)
    with pytest.raises(CertificateVerificationError):
        runUntilFired(
            oneReactor, server.login("alice@localhost", "wonderland", configurationForTLS=None)
        )


def test_malformedXMLFromTheServer(oneReactor: Any) -> None:
    server = Server(oneReactor)
    server.state.misbehave.add("garbage-header")
    with pytest.raises(Exception, match="not well-formed"):
        runUntilFired(oneReactor, server.login("alice@localhost", "wonderland"))


def test_streamErrorFromTheServer(oneReactor: Any) -> None:
    """The server ends the stream with a stream error: the login fails with it."""
    server = Server(oneReactor, tls=False, mechanisms=("PLAIN",))

    async def scenario() -> None:
        xs = await server.login("alice@localhost", "wonderland", tls=False)
        errors: list[Any] = []
        xs.addObserver(xmlstream.STREAM_ERROR_EVENT, errors.append)
        # A stanza before binding would be refused; here a raw stream error.
        session = next(iter(server.state.sessions.values()))
        session.streamError("system-shutdown", "going down")
        await waitFor(oneReactor, lambda: errors and not xs.connected)
        assert errors[0].check(error.StreamError)
        assert errors[0].value.condition == "system-shutdown"
        assert errors[0].value.text == "going down"

    run(oneReactor, scenario())


def test_oldStreamVersionIsRefused(oneReactor: Any) -> None:
    server = Server(oneReactor)
    server.state.misbehave.add("old-version")
    with pytest.raises(error.StreamError) as caught:
        runUntilFired(oneReactor, server.login("alice@localhost", "wonderland"))
    assert caught.value.condition == "unsupported-version"


def test_iqAnswerFromAStrangerIsIgnored(oneReactor: Any) -> None:
    server = Server(oneReactor, tls=False, mechanisms=("PLAIN",))

    async def scenario() -> None:
        xs = await server.login("alice@localhost", "wonderland", tls=False)
        server.state.misbehave.add("iq-from-stranger")
        roster = client.getRoster(xs, timeout=0.3)
        with pytest.raises(xmlstream.TimeoutError, match="no answer"):
            await roster

    run(oneReactor, scenario())


def test_iqTimeout(oneReactor: Any) -> None:
    server = Server(oneReactor, tls=False, mechanisms=("PLAIN",))

    async def scenario() -> None:
        xs = await server.login("alice@localhost", "wonderland", tls=False)
        server.state.misbehave.add("no-iq-answer")
        with pytest.raises(xmlstream.TimeoutError):
            await client.getRoster(xs, timeout=0.2)

    run(oneReactor, scenario())


def test_iqErrorIsAStanzaError(oneReactor: Any) -> None:
    server = Server(oneReactor, tls=False, mechanisms=("PLAIN",))

    async def scenario() -> None:
        xs = await server.login("alice@localhost", "wonderland", tls=False)
        iq = xmlstream.IQ(xs, "get")
        iq.addElement(("urn:example:unknown", "query"))
        with pytest.raises(error.StanzaError) as caught:
            await iq.send()
        assert caught.value.condition == "service-unavailable"
        assert caught.value.type == "cancel"

    run(oneReactor, scenario())


def test_pendingIQFailsWhenTheConnectionIsLost(oneReactor: Any) -> None:
    server = Server(oneReactor, tls=False, mechanisms=("PLAIN",))

    async def scenario() -> None:
        xs = await server.login("alice@localhost", "wonderland", tls=False)
        server.state.misbehave.add("no-iq-answer")
        roster = client.getRoster(xs, timeout=None)
        next(iter(server.state.sessions.values())).transport.loseConnection()
        with pytest.raises(Exception, match=r"[Cc]onnection"):
            await roster

    run(oneReactor, scenario())


def test_unhandledRequestFromAPeerIsAnswered(oneReactor: Any) -> None:
    """An IQ get nobody observes gets service-unavailable (RFC 6120 section 8.2.3)."""
    server = Server(oneReactor, tls=False, mechanisms=("PLAIN",))

    async def scenario() -> None:
        alice = await server.login("alice@localhost/a", "wonderland", tls=False)
        bob = await server.login("bob@localhost/b", "builder", tls=False)
        iq = xmlstream.IQ(bob, "get")
        iq.addElement(("urn:example:ping", "ping"))
        with pytest.raises(error.StanzaError) as caught:
            await iq.send("alice@localhost/a")
        assert caught.value.condition == "service-unavailable"
        handled = xmlstream.IQ(bob, "get")
        handled.addElement(("urn:example:ping", "ping"))

        def answer(request: Element) -> None:
            alice.send(xmlstream.toResponse(request, "result"))

        alice.addObserver("/iq[@type='get']/ping[@xmlns='urn:example:ping']", answer)
        reply = await handled.send("alice@localhost/a")
        assert reply.getAttribute("type") == "result"
        assert reply.getAttribute("from") == "alice@localhost/a"

    run(oneReactor, scenario())


def test_componentHandshake(oneReactor: Any) -> None:
    server = Server(oneReactor, tls=False, mechanisms=("PLAIN",))

    async def scenario() -> None:
        factory = component.componentFactory("rooms.localhost", "s3cret")
        factory.clock = oneReactor
        authenticated: Deferred[Any] = Deferred()
        factory.addBootstrap(xmlstream.STREAM_AUTHD_EVENT, authenticated.callback)
        oneReactor.connectTCP("127.0.0.1", server.portNumber, factory)
        xs = await authenticated
        factory.stopTrying()
        echoed = received(xs, "/message")
        alice = await server.login("alice@localhost/a", "wonderland", tls=False)
        replies = received(alice, "/message")
        client.sendMessage(alice, "echo@rooms.localhost", "ping")
        await waitFor(oneReactor, lambda: echoed)
        reply = xmlstream.toResponse(echoed[0], "chat")
        reply.addElement("body", content="pong")
        xs.send(reply)
        await waitFor(oneReactor, lambda: replies)
        assert str(next(replies[0].elements(name="body"))) == "pong"
        xs.transport.loseConnection()

    run(oneReactor, scenario())


def test_componentWrongSecret(oneReactor: Any) -> None:
    server = Server(oneReactor, tls=False)

    async def scenario() -> None:
        factory = component.componentFactory("rooms.localhost", "wrong")
        factory.clock = oneReactor
        failures: list[Any] = []
        factory.addBootstrap(xmlstream.INIT_FAILED_EVENT, failures.append)
        oneReactor.connectTCP("127.0.0.1", server.portNumber, factory)
        await waitFor(oneReactor, lambda: failures)
        factory.stopTrying()
        reason = failures[0]
        assert reason.check(error.StreamError)
        assert reason.value.condition == "not-authorized"

    run(oneReactor, scenario())


def test_connectionRefusedFailsTheLogin(oneReactor: Any) -> None:
    server = Server(oneReactor)
    runUntilFired(oneReactor, server.port.stopListening())
    with pytest.raises(Exception, match=r"[Rr]efused"):
        runUntilFired(oneReactor, server.login("alice@localhost", "wonderland"))


def test_loginTimeout(oneReactor: Any) -> None:
    """A server that accepts the connection and never speaks: the login times out."""
    from torsion.internet.protocol import Factory, Protocol

    port = oneReactor.listenTCP(0, Factory.forProtocol(Protocol), interface="127.0.0.1")
    d = client.connectClient(
        oneReactor,
        "alice@localhost",
        "x",
        host="127.0.0.1",
        port=port.getHost().port,
        timeout=0.3,
    )
    with pytest.raises(Exception, match="did not finish"):
        runUntilFired(oneReactor, d)
