"""Path queries, event dispatch and the dispatching XML stream (torsion.words.xish)."""

from __future__ import annotations

from typing import Any

import pytest

from torsion.internet.testing import StringTransport
from torsion.protocols.xmlstream import Element, XmlStreamParser
from torsion.words.xish import domish, utility, xmlstream, xpath


def parse(xml: str) -> Element:
    events = XmlStreamParser().feed(("<s>" + xml).encode())
    element = events[1].element  # type: ignore[union-attr]
    assert isinstance(element, Element)
    return element


MESSAGE = parse(
    "<message xmlns='jabber:client' type='chat' to='a@b'>"
    "<body>hi</body><x xmlns='urn:x' kind='1'><y/></x></message>"
)


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        ("/message", True),
        ("/presence", False),
        ("/*", True),
        ("/message[@type='chat']", True),
        ('/message[@type="chat"]', True),
        ("/message[@type='normal']", False),
        ("/message[@to]", True),
        ("/message[@from]", False),
        ("/message[@xmlns='jabber:client']", True),
        ("/message[@xmlns='jabber:server']", False),
        ("/message/body", True),
        ("/message/subject", False),
        ("/message/x[@xmlns='urn:x']/y", True),
        ("/message/x[@xmlns='urn:x' and @kind='1']", True),
        ("/message/x[@xmlns='urn:x'][@kind='2']", False),
        ("/message[@type='chat']/*/y", True),
        ("//y", True),
        ("//body", True),
        ("//z", False),
        ("/body", False),
    ],
)
def test_pathQueries(query: str, matches: bool) -> None:
    assert xpath.XPathQuery(query).matches(MESSAGE) is matches
    assert xpath.matches(query, MESSAGE) is matches


def test_queryForNodesAndString() -> None:
    assert xpath.queryForString("/message/body", MESSAGE) == "hi"
    nodes = xpath.queryForNodes("/message/x/y", MESSAGE)
    assert nodes is not None and [n.name for n in nodes] == ["y"]
    assert xpath.queryForNodes("/message/nothing", MESSAGE) is None
    assert xpath.queryForString("/message/nothing", MESSAGE) == ""


@pytest.mark.parametrize(
    "query", ["message", "/message[text()='x']", "/message[@a=b]", "/message[", "/a//b/", "/a/../b"]
)
def test_unsupportedQueriesAreRefused(query: str) -> None:
    with pytest.raises(ValueError, match="path query"):
        xpath.XPathQuery(query)


def test_internQueryCompilesOnce() -> None:
    assert xpath.internQuery("/iq") is xpath.internQuery("/iq")


def test_dispatchByQueryAndPriority() -> None:
    dispatcher = utility.EventDispatcher()
    calls: list[str] = []
    dispatcher.addObserver("/message", lambda e: calls.append("low"), -1)
    dispatcher.addObserver("/message[@type='chat']", lambda e: calls.append("chat"))
    dispatcher.addObserver("/message", lambda e, extra: calls.append(extra), 5, "high")
    dispatcher.addObserver("/presence", lambda e: calls.append("presence"))
    assert dispatcher.dispatch(MESSAGE) is True
    assert calls[0] == "high" and sorted(calls) == ["chat", "high", "low"]
    assert dispatcher.dispatch(parse("<iq/>")) is False


def test_onetimeObserverAndRemoval() -> None:
    dispatcher = utility.EventDispatcher()
    calls: list[Any] = []
    dispatcher.addOnetimeObserver("//event/test", calls.append)
    observer = calls.append
    dispatcher.addObserver("/message", observer)
    assert dispatcher.dispatch("first", "//event/test")
    assert not dispatcher.dispatch("second", "//event/test")
    assert calls == ["first"]
    dispatcher.removeObserver("/message", observer)
    dispatcher.removeObserver("/message", observer)  # twice is fine
    assert not dispatcher.dispatch(MESSAGE)


def test_observerRemovedDuringDispatchIsNotCalled() -> None:
    dispatcher = utility.EventDispatcher()
    calls: list[str] = []

    def second(_: object) -> None:
        calls.append("second")

    def first(_: object) -> None:
        calls.append("first")
        dispatcher.removeObserver("//event/e", second)

    dispatcher.addObserver("//event/e", first)
    dispatcher.addObserver("//event/e", second)
    dispatcher.dispatch(None, "//event/e")
    assert calls == ["first"]


def test_failingObserverIsLoggedAndOthersRun(loggedFailures: list[Any]) -> None:
    dispatcher = utility.EventDispatcher()
    calls: list[str] = []

    def broken(_: object) -> None:
        raise RuntimeError("broken observer")

    dispatcher.addObserver("//event/e", broken)
    dispatcher.addObserver("//event/e", lambda _: calls.append("ran"))
    dispatcher.dispatch(None, "//event/e")
    assert calls == ["ran"]
    assert any("broken observer" in str(f.value) for f in loggedFailures)


@pytest.fixture
def loggedFailures() -> Any:
    from torsion.logger import globalLogPublisher

    failures: list[Any] = []

    def observer(event: dict[str, Any]) -> None:
        if "log_failure" in event:
            failures.append(event["log_failure"])

    globalLogPublisher.addObserver(observer)
    yield failures
    globalLogPublisher.removeObserver(observer)


def test_streamDispatchesItsLife() -> None:
    stream = xmlstream.XmlStream()
    events: list[str] = []
    stream.addObserver(xmlstream.STREAM_CONNECTED_EVENT, lambda s: events.append("connected"))
    stream.addObserver(xmlstream.STREAM_START_EVENT, lambda s: events.append("start"))
    stream.addObserver("/hello", lambda e: events.append("hello " + str(e)))
    stream.addObserver(xmlstream.STREAM_END_EVENT, lambda r: events.append("end"))
    stream.makeConnection(StringTransport())
    stream.dataReceived(b"<root><hello>there</hello>")
    stream.connectionLost(None)
    assert events == ["connected", "start", "hello there", "end"]
    assert not stream.connected


def test_brokenStreamDispatchesAnErrorAndDisconnects(loggedFailures: list[Any]) -> None:
    stream = xmlstream.XmlStream()
    errors: list[Any] = []
    stream.addObserver(xmlstream.STREAM_ERROR_EVENT, errors.append)
    transport = StringTransport()
    stream.makeConnection(transport)
    stream.dataReceived(b"<root><a></b>")
    assert errors[0].check(xmlstream.StreamParseError)
    assert "not well-formed" in str(errors[0].value)
    assert transport.disconnecting


def test_factoryBootstraps() -> None:
    factory = xmlstream.XmlStreamFactory()
    seen: list[Any] = []
    factory.addBootstrap(xmlstream.STREAM_CONNECTED_EVENT, seen.append)
    stream = factory.buildProtocol(None)
    assert stream.factory is factory
    stream.makeConnection(StringTransport())
    assert seen == [stream]
    factory.removeBootstrap(xmlstream.STREAM_CONNECTED_EVENT, seen.append)
    factory.buildProtocol(None).makeConnection(StringTransport())
    assert seen == [stream]


def test_domishIsTheXmlstreamElement() -> None:
    assert domish.Element is Element
    assert domish.escapeToXml("<&>") == "&lt;&amp;&gt;"


def test_childWithoutNamespaceInheritsTheParents() -> None:
    """Element((None, name)) added to a parent is in the parent's namespace."""
    parent = Element(("jabber:client", "message"))
    parent.addChild(Element((None, "body")))
    assert parent.toXml() == '<message xmlns="jabber:client"><body/></message>'
