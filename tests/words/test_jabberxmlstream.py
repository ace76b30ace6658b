"""XMPP streams in memory: headers, authenticators, initializers, IQ, errors.

StringTransport and task.Clock stand in for the network and time; the tests over
sockets are in test_xmppserver.py and test_xmppprosody.py.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from torsion.internet.task import Clock
from torsion.internet.testing import StringTransport
from torsion.protocols.xmlstream import Element, ElementReceived, XmlStreamParser
from torsion.python.failure import Failure
from torsion.words.protocols.jabber import component, error, jid, xmlstream

HEADER = (
    b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
    b" from='example.com' id='abc' version='1.0'>"
)


class Authenticator(xmlstream.ConnectAuthenticator):
    namespace = "jabber:client"


def connected(**kw: Any) -> tuple[xmlstream.XmlStream, StringTransport, Clock]:
    xs = xmlstream.XmlStream(Authenticator("example.com"))
    clock = Clock()
    xs.clock = clock
    transport = StringTransport()
    xs.makeConnection(transport)
    return xs, transport, clock


def started() -> tuple[xmlstream.XmlStream, StringTransport, Clock]:
    xs, transport, clock = connected()
    xs.dataReceived(HEADER + b"<stream:features/>")
    transport.clear()
    return xs, transport, clock


def sent(transport: StringTransport) -> list[Element]:
    """The elements written (after a stream header, which is added if missing)."""
    data = transport.value()
    if not data.startswith(b"<?xml"):
        data = b"<stream:stream xmlns='jabber:client' xmlns:stream='x'>" + data
    return [e.element for e in XmlStreamParser().feed(data) if isinstance(e, ElementReceived)]


def test_headerOfAClient() -> None:
    _, transport, _ = connected()
    assert transport.value() == (
        b"<?xml version='1.0'?><stream:stream xmlns='jabber:client'"
        b" xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>"
    )


def test_peerHeaderIsRead() -> None:
    xs, _, _ = connected()
    xs.dataReceived(HEADER)
    assert xs.sid == "abc"
    assert xs.version == (1, 0)
    assert xs.otherEntity == jid.JID("example.com")


def test_olderPeerVersionWins() -> None:
    xs, _, _ = connected()
    xs.dataReceived(HEADER.replace(b"version='1.0'", b"version='0.9'"))
    assert xs.version == (0, 9)


def test_wrongRootIsAStreamError() -> None:
    xs, transport, _ = connected()
    transport.clear()
    xs.dataReceived(b"<html xmlns='http://www.w3.org/1999/xhtml'>")
    assert b"<stream:error><invalid-namespace" in transport.value()
    assert transport.value().endswith(b"</stream:stream>")
    assert transport.disconnecting


def test_invalidFromIsImproperAddressing() -> None:
    xs, transport, _ = connected()
    xs.dataReceived(HEADER.replace(b"from='example.com'", b"from='a@b@c'"))
    assert b"improper-addressing" in transport.value()
    assert transport.disconnecting


def test_malformedXMLGetsNotWellFormed() -> None:
    xs, transport, _ = started()
    errors: list[Failure] = []
    xs.addObserver(xmlstream.STREAM_ERROR_EVENT, errors.append)
    xs.dataReceived(b"<message><body></message>")
    assert b"<stream:error><not-well-formed" in transport.value()
    assert errors and "not well-formed" in str(errors[0].value)
    assert transport.disconnecting


def test_overLimitGetsPolicyViolation() -> None:
    xs, transport, _ = started()
    xs.dataReceived(b"<message>" + b"x" * (xs.maxElementSize + 10) + b"</message>")
    assert b"<stream:error><policy-violation" in transport.value()


def test_streamErrorFromThePeer() -> None:
    xs, transport, _ = started()
    errors: list[Failure] = []
    xs.addObserver(xmlstream.STREAM_ERROR_EVENT, errors.append)
    xs.dataReceived(
        b"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
        b"<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>replaced</text>"
        b"</stream:error>"
    )
    assert errors[0].check(error.StreamError)
    assert errors[0].value.condition == "conflict"
    assert errors[0].value.text == "replaced"
    assert errors[0].value.textLang == "en"
    assert transport.disconnecting


def test_sendStreamErrorUsesTheStreamPrefix() -> None:
    xs, transport, _ = started()
    xs.sendStreamError(error.StreamError("system-shutdown", "bye"))
    assert transport.value() == (
        b'<stream:error><system-shutdown xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>'
        b'<text xmlns="urn:ietf:params:xml:ns:xmpp-streams">bye</text></stream:error>'
        b"</stream:stream>"
    )


def test_streamLevelElementsKeepTheirAttributes() -> None:
    xs, transport, _ = started()
    features = Element((xmlstream.NS_STREAMS, "features"))
    features["kind"] = "a&b"
    features.addElement(("urn:x", "thing"))
    xs.send(features)
    assert transport.value() == (
        b'<stream:features kind="a&amp;b"><thing xmlns="urn:x"/></stream:features>'
    )


# -- IQ ------------------------------------------------------------------------------


def iqAnswer(request: Element, kind: str, sender: str | None = None, extra: str = "") -> bytes:
    frm = f" from='{sender}'" if sender else ""
    return f"<iq type='{kind}' id='{request['id']}'{frm}>{extra}</iq>".encode()


def test_iqResultFiresTheDeferred() -> None:
    xs, transport, _ = started()
    iq = xmlstream.IQ(xs, "get")
    iq.addElement(("urn:example", "query"))
    results: list[Any] = []
    iq.send("service.example.com").addBoth(results.append)
    assert sent(transport)[0].getAttribute("to") == "service.example.com"
    xs.dataReceived(iqAnswer(iq, "result", "service.example.com", "<answer/>"))
    assert results[0].name == "iq"
    assert results[0].firstChildElement().name == "answer"


def test_iqErrorFailsWithAStanzaError() -> None:
    xs, _, _ = started()
    iq = xmlstream.IQ(xs, "set")
    results: list[Any] = []
    iq.send().addBoth(results.append)
    xs.dataReceived(
        iqAnswer(
            iq,
            "error",
            extra="<error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
            "</error>",
        )
    )
    assert results[0].check(error.StanzaError)
    assert results[0].value.condition == "forbidden"
    assert results[0].value.type == "auth"
    assert results[0].value.stanza.getAttribute("id") == iq["id"]


def test_iqAnswerFromAnotherEntityIsIgnored() -> None:
    xs, _, _ = started()
    iq = xmlstream.IQ(xs, "get")
    results: list[Any] = []
    iq.send("service.example.com").addBoth(results.append)
    xs.dataReceived(iqAnswer(iq, "result", "mallory@example.com"))
    xs.dataReceived(iqAnswer(iq, "result"))
    assert results == []
    xs.dataReceived(iqAnswer(iq, "result", "SERVICE.example.com"))  # the same JID, prepared
    assert len(results) == 1


def test_iqTimeout() -> None:
    xs, _, clock = started()
    iq = xmlstream.IQ(xs, "get")
    iq.timeout = 5
    results: list[Any] = []
    iq.send().addBoth(results.append)
    clock.advance(4.9)
    assert results == []
    clock.advance(0.2)
    assert results[0].check(xmlstream.TimeoutError)
    xs.dataReceived(iqAnswer(iq, "result"))  # too late: ignored
    assert len(results) == 1


def test_iqDefaultTimeoutAndCancelledTimer() -> None:
    xs, _, clock = started()
    xs.iqDefaultTimeout = 3
    iq = xmlstream.IQ(xs, "get")
    results: list[Any] = []
    iq.send().addBoth(results.append)
    assert len(clock.getDelayedCalls()) == 1
    xs.dataReceived(iqAnswer(iq, "result"))
    assert clock.getDelayedCalls() == []
    assert results[0].name == "iq"


def test_pendingIQsFailWhenTheConnectionIsLost() -> None:
    xs, _, clock = started()
    iq = xmlstream.IQ(xs, "get")
    iq.timeout = 10
    results: list[Any] = []
    iq.send().addBoth(results.append)
    from torsion.internet.error import ConnectionLost

    xs.connectionLost(Failure(ConnectionLost("gone")))
    assert results[0].check(ConnectionLost)
    assert clock.getDelayedCalls() == []


def test_unhandledRequestsAreAnsweredServiceUnavailable() -> None:
    xs, transport, _ = started()
    xs.dataReceived(b"<iq type='get' id='q1' from='peer@example.com/r'><query xmlns='urn:x'/></iq>")
    [reply] = sent(transport)
    assert reply.getAttribute("type") == "error"
    assert reply.getAttribute("id") == "q1"
    assert reply.getAttribute("to") == "peer@example.com/r"
    assert next(reply.elements()).name == "error"
    transport.clear()
    xs.dataReceived(b"<iq type='result' id='unknown'/>")
    xs.dataReceived(b"<message><body>hi</body></message>")
    assert transport.value() == b""


def test_handledRequestsAreNotAnsweredTwice() -> None:
    xs, transport, _ = started()
    xs.addObserver("/iq[@type='get']/query[@xmlns='urn:x']", lambda iq: None)
    xs.dataReceived(b"<iq type='get' id='q1'><query xmlns='urn:x'/></iq>")
    assert transport.value() == b""


def test_iqIdsAreUnique() -> None:
    xs, _, _ = started()
    assert xmlstream.IQ(xs)["id"] != xmlstream.IQ(xs)["id"]


# -- initializers --------------------------------------------------------------------


class Recorder:
    def __init__(self, name: str, calls: list[str], result: Any = None) -> None:
        self.name = name
        self.calls = calls
        self.result = result

    def initialize(self) -> Any:
        self.calls.append(self.name)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def test_initializersRunInOrderThenAuthd() -> None:
    xs, _transport, _ = connected()
    calls: list[str] = []
    xs.initializers = [Recorder("a", calls), Recorder("b", calls)]
    authd: list[Any] = []
    xs.addObserver(xmlstream.STREAM_AUTHD_EVENT, authd.append)
    xs.dataReceived(HEADER)
    assert calls == []  # waiting for the features
    xs.dataReceived(b"<stream:features><x xmlns='urn:x'/></stream:features>")
    assert calls == ["a", "b"]
    assert authd == [xs]
    assert ("urn:x", "x") in xs.features


def test_resetStopsUntilTheNextFeatures() -> None:
    xs, _, _ = connected()
    calls: list[str] = []
    xs.initializers = [Recorder("a", calls, xmlstream.Reset), Recorder("b", calls)]
    xs.dataReceived(HEADER + b"<stream:features/>")
    assert calls == ["a"]
    xs.reset()
    xs.dataReceived(HEADER + b"<stream:features/>")
    assert calls == ["a", "b"]


def test_failedInitializerEndsTheStream() -> None:
    xs, transport, _ = connected()
    calls: list[str] = []
    xs.initializers = [Recorder("a", calls, RuntimeError("no")), Recorder("b", calls)]
    failures: list[Failure] = []
    xs.addObserver(xmlstream.INIT_FAILED_EVENT, failures.append)
    xs.dataReceived(HEADER + b"<stream:features/>")
    assert calls == ["a"]
    assert failures[0].check(RuntimeError)
    assert transport.value().endswith(b"</stream:stream>")
    assert transport.disconnecting


def test_requiredFeatureNotOffered() -> None:
    xs, _, _ = connected()

    class Needs(xmlstream.BaseFeatureInitiatingInitializer):
        feature = ("urn:x", "needed")

    xs.initializers = [Needs(xs, required=True)]
    failures: list[Failure] = []
    xs.addObserver(xmlstream.INIT_FAILED_EVENT, failures.append)
    xs.dataReceived(HEADER + b"<stream:features/>")
    assert failures[0].check(xmlstream.FeatureNotAdvertized)
    assert "needed" in str(failures[0].value)


class TLSCapable(StringTransport):
    def __init__(self) -> None:
        super().__init__()
        self.tls: list[Any] = []

    def startTLS(self, options: Any) -> None:
        self.tls.append(options)


def tlsStream(features: bytes, **kw: Any) -> tuple[xmlstream.XmlStream, TLSCapable, list[Any]]:
    xs = xmlstream.XmlStream(Authenticator("example.com"))
    transport = TLSCapable()
    xs.makeConnection(transport)
    tls = xmlstream.TLSInitiatingInitializer(xs, **kw)
    xs.initializers = [tls]
    outcomes: list[Any] = []
    xs.addObserver(xmlstream.INIT_FAILED_EVENT, outcomes.append)
    xs.addObserver(xmlstream.STREAM_AUTHD_EVENT, outcomes.append)
    xs.dataReceived(HEADER + b"<stream:features>" + features + b"</stream:features>")
    return xs, transport, outcomes


STARTTLS = b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"


def test_startTLS() -> None:
    options = object()
    xs, transport, outcomes = tlsStream(STARTTLS, configurationForTLS=options)
    assert transport.value().endswith(b'<starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"/>')
    transport.clear()
    xs.dataReceived(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    assert transport.tls == [options]
    assert transport.value().startswith(b"<?xml version='1.0'?><stream:stream")
    assert outcomes == []  # the new stream's features come next
    xs.dataReceived(HEADER + b"<stream:features/>")
    assert outcomes == [xs]


def test_startTLSRefusedByTheServer() -> None:
    xs, transport, outcomes = tlsStream(STARTTLS, configurationForTLS=object())
    xs.dataReceived(b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    assert outcomes[0].check(xmlstream.TLSFailed)
    assert transport.tls == []


def test_noStartTLSOffered() -> None:
    _, _, outcomes = tlsStream(b"")
    assert outcomes[0].check(xmlstream.TLSNotSupported)


def test_noStartTLSOfferedButNotRequired() -> None:
    xs, _, outcomes = tlsStream(b"", required=False)
    assert outcomes == [xs]


def test_tlsNotWantedButRequiredByTheServer() -> None:
    xs = xmlstream.XmlStream(Authenticator("example.com"))
    xs.makeConnection(TLSCapable())
    tls = xmlstream.TLSInitiatingInitializer(xs, required=False)
    tls.wanted = False
    xs.initializers = [tls]
    failures: list[Any] = []
    xs.addObserver(xmlstream.INIT_FAILED_EVENT, failures.append)
    xs.dataReceived(HEADER + b"<stream:features>" + STARTTLS + b"</stream:features>")
    assert failures[0].check(xmlstream.TLSRequired)


def test_toResponseAndHashPassword() -> None:
    stanza = Element(("jabber:client", "iq"))
    stanza["from"], stanza["to"], stanza["id"] = "a@b/c", "d@e", "7"
    response = xmlstream.toResponse(stanza, "result")
    assert response.attributes == {"to": "a@b/c", "from": "d@e", "id": "7", "type": "result"}
    assert (
        xmlstream.hashPassword("3BF96D32", "secret") == hashlib.sha1(b"3BF96D32secret").hexdigest()
    )
    with pytest.raises(TypeError):
        xmlstream.hashPassword(b"x", "y")  # type: ignore[arg-type]


# -- the component's two sides, in memory --------------------------------------------


def pair(secret: str, password: str) -> tuple[xmlstream.XmlStream, xmlstream.XmlStream, list[Any]]:
    server = xmlstream.XmlStream(component.ListenComponentAuthenticator(secret))
    comp = xmlstream.XmlStream(component.ConnectComponentAuthenticator("rooms.example", password))
    events: list[Any] = []
    server.addObserver(xmlstream.STREAM_AUTHD_EVENT, lambda _: events.append("server authd"))
    comp.addObserver(xmlstream.STREAM_AUTHD_EVENT, lambda _: events.append("component authd"))
    comp.addObserver(xmlstream.INIT_FAILED_EVENT, events.append)
    serverSide, componentSide = StringTransport(), StringTransport()
    server.makeConnection(serverSide)
    comp.makeConnection(componentSide)
    for _ in range(4):
        data = componentSide.value()
        componentSide.clear()
        server.dataReceived(data)
        data = serverSide.value()
        serverSide.clear()
        comp.dataReceived(data)
    return server, comp, events


def test_componentHandshakeInMemory() -> None:
    server, comp, events = pair("s3cret", "s3cret")
    assert events == ["server authd", "component authd"]
    assert server.sid and comp.sid == server.sid
    assert server.thisEntity == jid.JID("rooms.example")
    assert comp.version == (0, 0)


def test_componentWrongSecretInMemory() -> None:
    server, comp, events = pair("s3cret", "wrong")
    assert len(events) == 1
    assert events[0].check(error.StreamError)
    assert events[0].value.condition == "not-authorized"
    assert server.transport.disconnecting
    assert comp.transport.disconnecting


def test_componentFactoryRefusesAnInvalidDomain() -> None:
    with pytest.raises(jid.InvalidFormat):
        component.componentFactory("bad domain", "x")
