"""The value objects of torsion.positioning and a receiver that ignores everything.

Values are small frozen dataclasses in SI units (metres, metres per second, decimal
degrees) whatever the device speaks, so receivers never convert knots or feet.

Tests: tests/positioning/test_nmea.py.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from zope.interface import implementer

from torsion.positioning.ipositioning import IPositioningReceiver

__all__ = [
    "LATITUDE",
    "LONGITUDE",
    "Altitude",
    "BasePositioningReceiver",
    "BeaconInformation",
    "Coordinate",
    "Heading",
    "PositionError",
    "Satellite",
    "Speed",
]

LATITUDE = "latitude"
LONGITUDE = "longitude"


@dataclass(frozen=True, slots=True)
class Coordinate:
    """One coordinate of a fix in decimal degrees (south and west are negative)."""

    inDecimalDegrees: float
    coordinateType: str = LATITUDE


@dataclass(frozen=True, slots=True)
class Altitude:
    """A height above mean sea level."""

    inMeters: float

    @property
    def inFeet(self) -> float:
        return self.inMeters / 0.3048


@dataclass(frozen=True, slots=True)
class Speed:
    """A speed over ground."""

    inMetersPerSecond: float

    @property
    def inKnots(self) -> float:
        return self.inMetersPerSecond * 3600 / 1852


@dataclass(frozen=True, slots=True)
class Heading:
    """A course over ground from true north; ``variation`` is the magnetic declination
    (east positive) when the device gives it, so ``correctedHeading`` is magnetic."""

    inDecimalDegrees: float
    variation: float | None = None

    @property
    def correctedHeading(self) -> float | None:
        if self.variation is None:
            return None
        return (self.inDecimalDegrees - self.variation) % 360


@dataclass(frozen=True, slots=True)
class PositionError:
    """Dilutions of precision (lower is better; None where the device is silent)."""

    pdop: float | None = None
    hdop: float | None = None
    vdop: float | None = None


@dataclass(frozen=True, slots=True)
class Satellite:
    """One satellite in view: its PRN number, where it is in the sky, its signal."""

    identifier: int
    azimuth: float | None = None
    elevation: float | None = None
    signalToNoiseRatio: float | None = None


@dataclass(frozen=True, slots=True)
class BeaconInformation:
    """The satellites in view and the PRN numbers of those the fix uses."""

    seenBeacons: tuple[Satellite, ...] = ()
    usedIdentifiers: frozenset[int] = field(default_factory=frozenset)

    @property
    def usedBeacons(self) -> tuple[Satellite, ...]:
        return tuple(s for s in self.seenBeacons if s.identifier in self.usedIdentifiers)


@implementer(IPositioningReceiver)
class BasePositioningReceiver:
    """An IPositioningReceiver whose methods do nothing: subclass and override the
    events you care about."""

    def positionReceived(self, latitude: Coordinate, longitude: Coordinate) -> None:
        pass

    def positionErrorReceived(self, positionError: PositionError) -> None:
        pass

    def timeReceived(self, time: datetime.datetime) -> None:
        pass

    def headingReceived(self, heading: Heading) -> None:
        pass

    def altitudeReceived(self, altitude: Altitude) -> None:
        pass

    def speedReceived(self, speed: Speed) -> None:
        pass

    def beaconInformationReceived(self, beaconInformation: BeaconInformation) -> None:
        pass
