"""An XML stream protocol with event dispatch: Twisted's ``twisted.words.xish.xmlstream``.

``XmlStream`` is torsion.protocols.xmlstream's protocol (with its safe parser and
limits) plus an EventDispatcher: each top-level element received is dispatched to
the observers whose path query it matches, and the stream's life is dispatched as
named events: ``STREAM_CONNECTED_EVENT`` (connection made; the observer gets the
stream), ``STREAM_START_EVENT`` (the peer's header arrived), ``STREAM_END_EVENT``
(connection lost; the observer gets the reason) and ``STREAM_ERROR_EVENT`` (the
peer's XML broke; the observer gets a Failure of ``StreamParseError``). A broken
stream is then dropped. ``XmlStreamFactoryMixin`` adds bootstraps: observers put on
each stream the factory builds, the way to hook into streams made on reconnects.
Tests: tests/words/test_jabberxish.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torsion.internet import protocol
from torsion.protocols import xmlstream as _xmlstream
from torsion.protocols._xmlelement import Element
from torsion.python.failure import Failure
from torsion.words.xish.utility import Event, EventDispatcher

__all__ = [
    "STREAM_CONNECTED_EVENT",
    "STREAM_END_EVENT",
    "STREAM_ERROR_EVENT",
    "STREAM_START_EVENT",
    "StreamParseError",
    "XmlStream",
    "XmlStreamFactory",
    "XmlStreamFactoryMixin",
]

STREAM_CONNECTED_EVENT = "//event/stream/connected"
STREAM_START_EVENT = "//event/stream/start"
STREAM_END_EVENT = "//event/stream/end"
STREAM_ERROR_EVENT = "//event/stream/error"


class StreamParseError(Exception):
    """The peer's stream is not well-formed XML or went past a limit."""


class XmlStream(_xmlstream.XmlStream, EventDispatcher):
    """An XML stream whose elements and life events go to observers."""

    def __init__(self) -> None:
        EventDispatcher.__init__(self)

    def connectionMade(self) -> None:
        """Start the stream and dispatch STREAM_CONNECTED_EVENT."""
        super().connectionMade()
        self.dispatch(self, STREAM_CONNECTED_EVENT)

    def onDocumentStart(self, rootElement: Element) -> None:
        """Dispatch STREAM_START_EVENT."""
        self.dispatch(self, STREAM_START_EVENT)

    def onElement(self, element: Element) -> None:
        """Dispatch the element to the observers of the queries it matches."""
        self.dispatch(element)

    def onStreamError(self, message: str) -> None:
        """Dispatch STREAM_ERROR_EVENT, then log and drop the connection."""
        self.dispatch(Failure(StreamParseError(message)), STREAM_ERROR_EVENT)
        super().onStreamError(message)

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        """Dispatch STREAM_END_EVENT with the reason."""
        self._parser = None
        protocol.Protocol.connectionLost(self, reason)
        self.dispatch(reason, STREAM_END_EVENT)


Bootstrap = tuple[Event, Callable[..., object]]


class XmlStreamFactoryMixin:
    """Bootstraps: observers added to every stream the factory builds.

    Args:
        args, kwargs: what each protocol is built with.
    """

    protocol: Any = XmlStream

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.bootstraps: list[Bootstrap] = []
        self.args = args
        self.kwargs = kwargs

    def buildProtocol(self, addr: Any) -> Any:
        """Build a stream and put the bootstrap observers on it."""
        xs = self.protocol(*self.args, **self.kwargs)
        xs.factory = self
        self.installBootstraps(xs)
        return xs

    def installBootstraps(self, dispatcher: EventDispatcher) -> None:
        """Add each bootstrap observer to ``dispatcher``."""
        for event, fn in self.bootstraps:
            dispatcher.addObserver(event, fn)

    def addBootstrap(self, event: Event, fn: Callable[..., object]) -> None:
        """Have ``fn`` observe ``event`` on every stream built from now on."""
        self.bootstraps.append((event, fn))

    def removeBootstrap(self, event: Event, fn: Callable[..., object]) -> None:
        """Undo addBootstrap (for streams built from now on)."""
        self.bootstraps.remove((event, fn))


class XmlStreamFactory(XmlStreamFactoryMixin, protocol.ReconnectingClientFactory):
    """A reconnecting client factory of XmlStreams, with bootstraps."""

    def buildProtocol(self, addr: Any) -> Any:
        """Reset the reconnection back-off and build a stream."""
        self.resetDelay()
        return XmlStreamFactoryMixin.buildProtocol(self, addr)
