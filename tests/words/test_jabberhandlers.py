"""XMPPHandler, XMPPHandlerCollection and StreamManager (jabber.xmlstream / _handlers)."""

from __future__ import annotations

from typing import Any

import pytest

from torsion.internet.testing import StringTransport
from torsion.protocols.xmlstream import Element
from torsion.words.protocols.jabber import ijabber, xmlstream


class Authenticator(xmlstream.ConnectAuthenticator):
    namespace = "jabber:client"


class Recording(xmlstream.XMPPHandler):
    def __init__(self) -> None:
        self.events: list[str] = []

    def connectionMade(self) -> None:
        self.events.append("made")

    def connectionInitialized(self) -> None:
        self.events.append("initialized")

    def connectionLost(self, reason: Any) -> None:
        super().connectionLost(reason)
        self.events.append("lost")


def newStream(factory: xmlstream.XmlStreamFactory) -> tuple[Any, StringTransport]:
    xs = factory.buildProtocol(None)
    transport = StringTransport()
    xs.makeConnection(transport)
    return xs, transport


def test_handlersFollowTheStreams() -> None:
    factory = xmlstream.XmlStreamFactory(Authenticator("example.com"))
    manager = xmlstream.StreamManager(factory)
    handler = Recording()
    handler.setHandlerParent(manager)
    assert list(manager) == [handler]
    xs, transport = newStream(factory)
    assert handler.events == ["made"] and handler.xmlstream is xs
    handler.send("<presence/>")  # queued: not logged in yet
    assert b"<presence/>" not in transport.value()
    xs.dispatch(xs, xmlstream.STREAM_AUTHD_EVENT)
    assert handler.events == ["made", "initialized"]
    assert transport.value().endswith(b"<presence/>")
    handler.send(Element((None, "message")))
    assert transport.value().endswith(b"<message/>")
    xs.connectionLost(None)
    assert handler.events == ["made", "initialized", "lost"]
    assert handler.xmlstream is None and manager.xmlstream is None
    factory.stopTrying()


def test_handlerAddedLaterCatchesUp() -> None:
    factory = xmlstream.XmlStreamFactory(Authenticator("example.com"))
    manager = xmlstream.StreamManager(factory)
    xs, _ = newStream(factory)
    xs.dispatch(xs, xmlstream.STREAM_AUTHD_EVENT)
    late = Recording()
    late.setHandlerParent(manager)
    assert late.events == ["made", "initialized"]
    late.disownHandlerParent(manager)
    assert list(manager) == [] and late.parent is None


def test_queueIsBounded() -> None:
    factory = xmlstream.XmlStreamFactory(Authenticator("example.com"))
    manager = xmlstream.StreamManager(factory)
    manager.maxQueued = 2
    manager.send("<a/>")
    manager.send("<b/>")
    with pytest.raises(RuntimeError, match="wait for the stream to log in"):
        manager.send("<c/>")


def test_sendWithoutParent() -> None:
    with pytest.raises(RuntimeError, match="setHandlerParent"):
        xmlstream.XMPPHandler().send("<a/>")


def test_interfaces() -> None:
    xs = xmlstream.XmlStream(Authenticator("example.com"))
    assert ijabber.IIQResponseTracker.providedBy(xs)
    assert ijabber.IXMPPHandler.providedBy(xmlstream.XMPPHandler())
    assert ijabber.IXMPPHandlerCollection.providedBy(xmlstream.XMPPHandlerCollection())
    xmlstream.upgradeWithIQResponseTracker(xs)
    iq = xmlstream.IQ(xs, "get")
    xs.makeConnection(StringTransport())
    d = iq.send()
    assert xs.iqDeferreds == {iq["id"]: d}
    with pytest.raises(TypeError):
        xmlstream.upgradeWithIQResponseTracker(object())  # type: ignore[arg-type]
