"""XMPP server components (XEP-0114): a service that connects to a server by secret.

A component is a separate program serving a domain of its own (``rooms.example``)
through the main server. It opens a stream in the ``jabber:component:accept``
namespace to the component's domain, the server answers with a stream id, and the
component proves it knows the shared secret with ``<handshake>`` holding the hex
SHA-1 of the id followed by the secret; the server answers with an empty
``<handshake/>``, or a ``not-authorized`` stream error. Then stanzas to and from
the domain flow on the stream, with ``from`` addresses the component chooses.

``componentFactory(componentid, password)`` makes (reconnecting) streams that do
this; ``ConnectComponentAuthenticator`` and ``ComponentInitiatingInitializer`` are
its parts, ``ListenComponentAuthenticator(secret)`` the server's side (for a server
that accepts components, or tests). Twisted's names.
Tests: tests/words/test_xmppserver.py and tests/words/test_xmppprosody.py.
"""

from __future__ import annotations

import hmac
from typing import Any

from torsion.internet.defer import Deferred
from torsion.protocols._xmlelement import Element
from torsion.python.failure import Failure
from torsion.words.protocols.jabber import error, jid, xmlstream

__all__ = [
    "NS_COMPONENT_ACCEPT",
    "ComponentInitiatingInitializer",
    "ConnectComponentAuthenticator",
    "ListenComponentAuthenticator",
    "componentFactory",
]

NS_COMPONENT_ACCEPT = "jabber:component:accept"


class ComponentInitiatingInitializer:
    """Sends the handshake and waits for the server's empty one."""

    def __init__(self, xs: xmlstream.XmlStream) -> None:
        self.xmlstream = xs
        self._deferred: Deferred[Any] | None = None

    def initialize(self) -> Deferred[Any]:
        """Send the digest of the stream id and the secret."""
        xs = self.xmlstream
        if xs.sid is None:
            raise error.StreamError(
                "invalid-id", "the server's stream header has no id to hash the secret with"
            )
        handshake = Element((None, "handshake"))
        handshake.addContent(xmlstream.hashPassword(xs.sid, xs.authenticator.password))  # type: ignore[attr-defined]
        self._deferred = Deferred()
        xs.addOnetimeObserver("/handshake", self._onHandshake)
        xs.addOnetimeObserver(xmlstream.STREAM_ERROR_EVENT, self._onError)
        xs.send(handshake)
        return self._deferred

    def _onHandshake(self, element: Element) -> None:
        self.xmlstream.removeObserver(xmlstream.STREAM_ERROR_EVENT, self._onError)
        d, self._deferred = self._deferred, None
        if d is not None:
            d.callback(None)

    def _onError(self, reason: Failure) -> None:
        self.xmlstream.removeObserver("/handshake", self._onHandshake)
        d, self._deferred = self._deferred, None
        if d is not None:
            d.errback(reason)


class ConnectComponentAuthenticator(xmlstream.ConnectAuthenticator):
    """The component's side: a pre-1.0 stream to ``componentjid``, then the handshake.

    Args:
        componentjid: the component's domain (``"rooms.example"``).
        password: the secret shared with the server.
    """

    namespace = NS_COMPONENT_ACCEPT

    def __init__(self, componentjid: str, password: str) -> None:
        super().__init__(componentjid)
        self.password = password

    def associateWithStream(self, xs: xmlstream.XmlStream) -> None:
        """Speak the XEP-0114 stream (no version, so no features) with the handshake."""
        xs.version = (0, 0)
        super().associateWithStream(xs)
        xs.initializers = [ComponentInitiatingInitializer(xs)]


class ListenComponentAuthenticator(xmlstream.ListenAuthenticator):
    """The server's side: checks the component's handshake against ``secret``.

    Once it matches, the stream dispatches STREAM_AUTHD_EVENT; a wrong digest gets a
    ``not-authorized`` stream error.
    """

    namespace = NS_COMPONENT_ACCEPT

    def __init__(self, secret: str) -> None:
        self.secret = secret

    def associateWithStream(self, xs: xmlstream.XmlStream) -> None:
        """Speak the pre-1.0 component stream."""
        xs.version = (0, 0)
        super().associateWithStream(xs)

    def streamStarted(self, rootElement: Element) -> None:
        """Answer with a header carrying a new stream id, then wait for the handshake."""
        super().streamStarted(rootElement)
        xs = self.xmlstream
        if xs.thisEntity is None:
            xs.sendStreamError(error.StreamError("improper-addressing", "the header has no 'to'"))
            return
        xs.sendHeader()
        xs.addOnetimeObserver("/handshake", self.onHandshake)

    def onHandshake(self, handshake: Element) -> None:
        """Compare the digest in constant time."""
        xs = self.xmlstream
        expected = xmlstream.hashPassword(xs.sid or "", self.secret)
        if not hmac.compare_digest(str(handshake).strip().lower(), expected):
            xs.sendStreamError(error.StreamError("not-authorized", "the handshake is wrong"))
            return
        xs.send("<handshake/>")
        xs.dispatch(xs, xmlstream.STREAM_AUTHD_EVENT)


def componentFactory(componentid: str, password: str) -> xmlstream.XmlStreamFactory:
    """Return a (reconnecting) factory of component streams for ``componentid``."""
    jid.internJID(componentid)  # refuse an invalid domain here, not on each connection
    return xmlstream.XmlStreamFactory(ConnectComponentAuthenticator(componentid, password))
