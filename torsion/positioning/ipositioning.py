"""The interface through which positioning events arrive (docs/positioning.md).

Tests: tests/positioning/test_nmea.py.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from zope.interface import Interface

if TYPE_CHECKING:
    from torsion.positioning.base import (
        Altitude,
        BeaconInformation,
        Coordinate,
        Heading,
        PositionError,
        Speed,
    )

__all__ = ["IPositioningReceiver"]


class IPositioningReceiver(Interface):
    """Something that hears what a positioning device knows, one fact at a time.

    Each sentence of a receiver tells only part of the story, so facts come one by
    one as they are learnt; a receiver that needs them together keeps the latest.
    """

    def positionReceived(latitude: Coordinate, longitude: Coordinate) -> None:
        """A fix: two ``base.Coordinate`` (decimal degrees, north and east positive)."""

    def positionErrorReceived(positionError: PositionError) -> None:
        """The dilutions of precision of the fix (``base.PositionError``)."""

    def timeReceived(time: datetime.datetime) -> None:
        """The satellites' time of the fix, a timezone-aware UTC datetime."""

    def headingReceived(heading: Heading) -> None:
        """The course over ground (``base.Heading``, degrees from true north)."""

    def altitudeReceived(altitude: Altitude) -> None:
        """The height above mean sea level (``base.Altitude``)."""

    def speedReceived(speed: Speed) -> None:
        """The speed over ground (``base.Speed``, metres per second)."""

    def beaconInformationReceived(beaconInformation: BeaconInformation) -> None:
        """Which satellites are in view and which the fix uses (``base.BeaconInformation``)."""
