"""Tests of torsion.positioning.nmea: recorded receiver sentences through the sans-IO
parser, NMEAProtocol and NMEAAdapter, in memory."""

from __future__ import annotations

import datetime

import pytest

from torsion.positioning import base
from torsion.positioning.nmea import (
    InvalidChecksum,
    InvalidSentence,
    NMEAAdapter,
    NMEAProtocol,
    checksum,
    parseSentence,
)

# Sentences in the format of a real receiver (NMEA 0183 2.x, the classic examples),
# written here with their checksums.
GGA = b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n"
RMC = b"$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\r\n"
GSA = b"$GPGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1*39\r\n"
GSV1 = b"$GPGSV,2,1,08,01,40,083,46,02,17,308,41,12,07,344,39,14,22,228,45*75\r\n"
GSV2 = b"$GPGSV,2,2,08,04,61,122,44,05,33,050,40,09,12,180,,24,55,270,47*74\r\n"
GLL = b"$GPGLL,4916.45,N,12311.12,W,225444,A,*1D\r\n"
VTG = b"$GPVTG,054.7,T,034.4,M,005.5,N,010.2,K*48\r\n"
# A u-blox receiver before its first fix: void RMC, quality 0 GGA.
NOFIX = b"$GNRMC,083512.00,V,,,,,,,021226,,,N*6B\r\n$GNGGA,083512.00,,,,,0,00,99.99,,,,,,*75\r\n"
RECORDED = GGA + RMC + GSA + GSV1 + GSV2 + GLL + VTG


class Recorder(base.BasePositioningReceiver):
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def positionReceived(self, latitude: base.Coordinate, longitude: base.Coordinate) -> None:
        self.events.append(("position", (latitude, longitude)))

    def positionErrorReceived(self, positionError: base.PositionError) -> None:
        self.events.append(("error", positionError))

    def timeReceived(self, time: datetime.datetime) -> None:
        self.events.append(("time", time))

    def headingReceived(self, heading: base.Heading) -> None:
        self.events.append(("heading", heading))

    def altitudeReceived(self, altitude: base.Altitude) -> None:
        self.events.append(("altitude", altitude))

    def speedReceived(self, speed: base.Speed) -> None:
        self.events.append(("speed", speed))

    def beaconInformationReceived(self, beaconInformation: base.BeaconInformation) -> None:
        self.events.append(("beacons", beaconInformation))

    def of(self, kind: str) -> list[object]:
        return [value for name, value in self.events if name == kind]


def feed(data: bytes, chunk: int = 7) -> tuple[NMEAProtocol, Recorder]:
    recorder = Recorder()
    proto = NMEAProtocol(NMEAAdapter(recorder))
    for i in range(0, len(data), chunk):
        proto.dataReceived(data[i : i + chunk])
    return proto, recorder


def test_parseSentence() -> None:
    s = parseSentence(GGA.rstrip())
    assert (s.talker, s.type) == ("GP", "GGA")
    assert s.fields[0] == "123519" and s.field(99) == ""
    assert checksum(b"GPGLL,4916.45,N,12311.12,W,225444,A,") == 0x1D


@pytest.mark.parametrize(
    "line",
    [b"GPGGA,1*00", b"$GP*GG", b"$GPGGA,1*XY", b"$GPGGA,1*123", b"$G\xffGGA", b"$GPG,1"],
)
def test_parseSentenceRejects(line: bytes) -> None:
    with pytest.raises(InvalidSentence):
        parseSentence(line)


def test_fixes() -> None:
    proto, r = feed(RECORDED)
    assert (proto.sentencesReceived, proto.badChecksums, proto.invalidSentences) == (7, 0, 0)
    positions = r.of("position")
    assert len(positions) == 3
    lat, lon = positions[0]  # type: ignore[misc]
    assert lat == base.Coordinate(pytest.approx(48 + 7.038 / 60), base.LATITUDE)
    assert lon.inDecimalDegrees == pytest.approx(11 + 31 / 60)
    gllLat, gllLon = positions[2]  # type: ignore[misc]
    assert gllLat.inDecimalDegrees == pytest.approx(49 + 16.45 / 60)
    assert gllLon.inDecimalDegrees == pytest.approx(-(123 + 11.12 / 60))
    assert r.of("altitude") == [base.Altitude(545.4)]
    assert r.of("time") == [datetime.datetime(1994, 3, 23, 12, 35, 19, tzinfo=datetime.UTC)]
    rmcSpeed, vtgSpeed = r.of("speed")
    assert rmcSpeed.inKnots == pytest.approx(22.4)  # type: ignore[attr-defined]
    assert vtgSpeed.inMetersPerSecond == pytest.approx(10.2 / 3.6)  # type: ignore[attr-defined]
    rmcHeading, vtgHeading = r.of("heading")
    assert rmcHeading == base.Heading(84.4, -3.1)
    assert rmcHeading.correctedHeading == pytest.approx(87.5)  # type: ignore[attr-defined]
    assert vtgHeading == base.Heading(54.7)
    assert r.of("error") == [base.PositionError(hdop=0.9), base.PositionError(2.5, 1.3, 2.1)]
    [beacons] = r.of("beacons")
    assert isinstance(beacons, base.BeaconInformation)
    assert [s.identifier for s in beacons.seenBeacons] == [1, 2, 12, 14, 4, 5, 9, 24]
    assert {s.identifier for s in beacons.usedBeacons} == {4, 5, 9, 12, 24}
    assert beacons.seenBeacons[0] == base.Satellite(1, 83.0, 40.0, 46.0)
    assert beacons.seenBeacons[6].signalToNoiseRatio is None


def test_noFix() -> None:
    proto, r = feed(NOFIX)
    assert proto.sentencesReceived == 2
    assert r.events == []


def test_badChecksumsDroppedAndCounted() -> None:
    garbled = GGA.replace(b"4807", b"4817") + RMC.replace(b"*6A", b"*6B") + VTG
    proto, r = feed(garbled)
    assert (proto.sentencesReceived, proto.badChecksums) == (1, 2)
    assert r.of("position") == []
    assert r.of("heading") == [base.Heading(54.7)]


def test_invalidFieldsAndNoiseCounted() -> None:
    bad = b"$GPGLL,49xx.45,N,12311.12,W,225444,A,\r\n"  # no checksum, bad latitude
    bad += b"$GPGLL,4916.45,Q,12311.12,W,225444,A,\r\n"  # no such hemisphere
    bad += b"$GPGSV,1,2,08\r\n"  # message 2 of 1
    bad += b"garbage\n" + b"x" * 5000 + b"\r\n" + GLL
    proto, r = feed(bad, chunk=100)
    assert proto.invalidSentences == 5
    assert proto.sentencesReceived == 4
    assert len(r.of("position")) == 1
    assert len(proto._buffer) <= proto.MAX_LENGTH


def test_gsvJoinedMidGroupWaitsForNextGroup() -> None:
    _, r = feed(GSV2 + GSV1 + GSV2)
    assert len(r.of("beacons")) == 1


def test_sentenceCallback() -> None:
    seen = []
    proto = NMEAProtocol(NMEAAdapter(Recorder()), seen.append)
    proto.dataReceived(GGA + b"$GPXYZ,1,2*" + b"%02X" % checksum(b"GPXYZ,1,2") + b"\n")
    assert [s.type for s in seen] == ["GGA", "XYZ"]


def test_invalidChecksumIsAnInvalidSentence() -> None:
    with pytest.raises(InvalidChecksum):
        parseSentence(RMC.replace(b"*6A", b"*00").rstrip())
