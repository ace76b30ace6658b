"""Interfaces of Perspective Broker: what can be sent, what can be a root, what an avatar is.

Kept apart from torsion.spread.pb so that flavors, jelly users and cred realms can name
them without importing the broker. Tests: tests/spread/test_flavors.py and
tests/spread/test_pb.py.
"""

from __future__ import annotations

from typing import Any

from zope.interface import Interface

__all__ = ["IJellyable", "IPBRoot", "IPerspective", "IUnjellyable"]


class IJellyable(Interface):
    """An object that chooses its own s-expression when it is jellied."""

    def jellyFor(jellier: Any) -> Any:
        """Return the s-expression that stands for this object on the wire."""


class IUnjellyable(Interface):
    """An object that rebuilds itself from the s-expression a peer sent."""

    def unjellyFor(unjellier: Any, jellyList: Any) -> Any:
        """Fill this (blank) object from ``jellyList`` and return what stands for it."""


class IPBRoot(Interface):
    """The object a PB server hands to each new connection as its root reference.

    ``PBServerFactory(root)`` adapts ``root`` to this interface; ``Root`` provides it by
    returning itself, a Portal is wrapped so that the root offers ``login``.
    """

    def rootObject(broker: Any) -> Any:
        """Return the Referenceable that the peer reaches as its root object."""


class IPerspective(Interface):
    """An avatar reached through PB: the peer calls its ``perspective_`` methods.

    A cred realm returns an avatar for this interface when a PB client logs in;
    ``torsion.spread.pb.Avatar`` is the usual base class.
    """

    def perspectiveMessageReceived(broker: Any, message: bytes, args: Any, kwargs: Any) -> Any:
        """Run the ``perspective_`` method named ``message`` with the jellied arguments.

        Returns the jellied result, or a Deferred of it.
        """
