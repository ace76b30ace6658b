"""Subprotocol handlers of an XMPP stream: XMPPHandler, the collection, StreamManager.

An XMPP application is often several independent pieces (presence, a roster
cache, a bot's commands) on one stream that comes and goes with reconnections.
Each piece is an ``XMPPHandler`` added to a ``StreamManager``, which follows the
factory's streams: handlers hear ``connectionMade`` when a stream connects (to add
their observers), ``connectionInitialized`` when it is logged in, and
``connectionLost`` when it goes. ``StreamManager.send`` queues stanzas sent while
there is no logged-in stream (at most ``maxQueued``) and sends them on login.
Twisted's names; re-exported by torsion.words.protocols.jabber.xmlstream.
Tests: tests/words/test_jabberhandlers.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from zope.interface import implementer

from torsion.protocols._xmlelement import Element
from torsion.python.failure import Failure
from torsion.words.protocols.jabber.ijabber import IXMPPHandler, IXMPPHandlerCollection
from torsion.words.xish.xmlstream import STREAM_CONNECTED_EVENT, STREAM_END_EVENT

__all__ = ["StreamManager", "XMPPHandler", "XMPPHandlerCollection"]


@implementer(IXMPPHandler)
class XMPPHandler:
    """A piece of an XMPP application; override the connection hooks you need."""

    parent: Any = None
    xmlstream: Any = None

    def setHandlerParent(self, parent: Any) -> None:
        """Join ``parent`` (a StreamManager or another collection)."""
        self.parent = parent
        self.parent.addHandler(self)

    def disownHandlerParent(self, parent: Any) -> None:
        """Leave ``parent``."""
        self.parent.removeHandler(self)
        self.parent = None

    def makeConnection(self, xs: Any) -> None:
        """Remember the stream and call connectionMade."""
        self.xmlstream = xs
        self.connectionMade()

    def connectionMade(self) -> None:
        """The stream is connected, not yet logged in: add observers here."""

    def connectionInitialized(self) -> None:
        """The stream is logged in."""

    def connectionLost(self, reason: Any) -> None:
        """The stream is gone."""
        self.xmlstream = None

    def send(self, obj: Element | str) -> None:
        """Send through the parent (queued by a StreamManager until login)."""
        if self.parent is None:
            raise RuntimeError("this handler has no parent to send through; setHandlerParent first")
        self.parent.send(obj)


@implementer(IXMPPHandlerCollection)
class XMPPHandlerCollection:
    """An ordered collection of handlers."""

    def __init__(self) -> None:
        self.handlers: list[Any] = []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.handlers)

    def addHandler(self, handler: Any) -> None:
        """Add ``handler`` (once)."""
        if handler not in self.handlers:
            self.handlers.append(handler)

    def removeHandler(self, handler: Any) -> None:
        """Remove ``handler``."""
        self.handlers.remove(handler)


class StreamManager(XMPPHandlerCollection):
    """Handlers that follow the streams of ``factory`` (see the module's documentation).

    Args:
        factory: an XmlStreamFactory (usually reconnecting).
        reactor: kept for Twisted's signature (IQ timeouts use the stream's clock).
    """

    maxQueued = 1000

    def __init__(self, factory: Any, reactor: Any = None) -> None:
        from torsion.words.protocols.jabber.xmlstream import (
            INIT_FAILED_EVENT,
            STREAM_AUTHD_EVENT,
        )

        super().__init__()
        self.xmlstream: Any = None
        self._initialized = False
        self._packetQueue: list[Element | str] = []
        self.factory = factory
        self._reactor = reactor
        factory.addBootstrap(STREAM_CONNECTED_EVENT, self._connected)
        factory.addBootstrap(STREAM_AUTHD_EVENT, self._authd)
        factory.addBootstrap(INIT_FAILED_EVENT, self.initializationFailed)
        factory.addBootstrap(STREAM_END_EVENT, self._disconnected)

    def addHandler(self, handler: Any) -> None:
        """Add ``handler`` and bring it up to date with the current stream."""
        super().addHandler(handler)
        if self.xmlstream is not None:
            handler.makeConnection(self.xmlstream)
            if self._initialized:
                handler.connectionInitialized()

    def _connected(self, xs: Any) -> None:
        if self._reactor is not None and getattr(xs, "clock", None) is None:
            xs.clock = self._reactor
        self.xmlstream = xs
        for handler in list(self):
            handler.makeConnection(xs)

    def _authd(self, xs: Any) -> None:
        queued, self._packetQueue = self._packetQueue, []
        for stanza in queued:
            xs.send(stanza)
        self._initialized = True
        for handler in list(self):
            handler.connectionInitialized()

    def initializationFailed(self, reason: Failure) -> None:
        """The stream failed to log in (override to react; it is closed anyway)."""

    def _disconnected(self, reason: Any) -> None:
        self.xmlstream = None
        self._initialized = False
        for handler in list(self):
            handler.connectionLost(reason)

    def send(self, obj: Element | str) -> None:
        """Send now if logged in, else queue for the next login.

        Raises:
            RuntimeError: if ``maxQueued`` stanzas are queued already.
        """
        if self._initialized and self.xmlstream is not None:
            self.xmlstream.send(obj)
            return
        if len(self._packetQueue) >= self.maxQueued:
            raise RuntimeError(
                f"{self.maxQueued} stanzas wait for the stream to log in already; "
                f"wait for connectionInitialized before sending more"
            )
        self._packetQueue.append(obj)
