"""The interfaces of torsion.words.protocols.jabber (Twisted's ``ijabber`` names).

Tests: tests/words/test_jabberhandlers.py.
"""

from __future__ import annotations

from zope.interface import Attribute, Interface

__all__ = [
    "IIQResponseTracker",
    "IInitializer",
    "IInitiatingInitializer",
    "IXMPPHandler",
    "IXMPPHandlerCollection",
]


class IInitializer(Interface):
    """One step of setting a stream up."""

    def initialize() -> object:
        """Do the step: return None, or a Deferred that fires when it is done."""


class IInitiatingInitializer(IInitializer):
    """A step run by the initiating side of a stream."""

    xmlstream = Attribute("The stream being set up.")


class IIQResponseTracker(Interface):
    """A stream that matches IQ answers to the requests that are waiting for them."""

    iqDeferreds = Attribute("The Deferreds of the waiting requests, by stanza id.")


class IXMPPHandler(Interface):
    """A piece of an XMPP application, plugged into a StreamManager."""

    parent = Attribute("The XMPPHandlerCollection it belongs to.")
    xmlstream = Attribute("The current stream, or None between connections.")

    def setHandlerParent(parent: object) -> None:
        """Join ``parent``."""

    def disownHandlerParent(parent: object) -> None:
        """Leave ``parent``."""

    def makeConnection(xs: object) -> None:
        """A stream connected: remember it, then call connectionMade."""

    def connectionMade() -> None:
        """The stream is connected (not yet logged in): add observers here."""

    def connectionInitialized() -> None:
        """The stream is logged in: stanzas can be sent now."""

    def connectionLost(reason: object) -> None:
        """The stream is gone."""


class IXMPPHandlerCollection(Interface):
    """A collection of XMPPHandlers."""

    def __iter__() -> object:
        """Iterate over the handlers."""

    def addHandler(handler: object) -> None:
        """Add ``handler``."""

    def removeHandler(handler: object) -> None:
        """Remove ``handler``."""
