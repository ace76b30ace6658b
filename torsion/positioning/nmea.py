"""NMEA 0183: the sentences a GPS receiver speaks, parsed without I/O, and turned into
``IPositioningReceiver`` events (docs/positioning.md).

Three layers, each usable alone:

- ``parseSentence(line)`` checks a line's framing and checksum and splits it into an
  ``NMEASentence`` (talker, type, fields); it touches no transport.
- ``NMEAProtocol(receiver)`` is a Protocol that cuts the byte stream into lines
  (CR LF or LF; a line is at most ``MAX_LENGTH`` bytes, NMEA's own limit being 82),
  parses them and hands each sentence to an ``INMEAReceiver``. Lines with a bad
  checksum are dropped and counted in ``badChecksums``; malformed ones (no ``$``,
  overlong, unparseable fields) in ``invalidSentences``. A sentence without a
  checksum is accepted, as the standard allows for some talkers.
- ``NMEAAdapter(positioningReceiver)`` is an INMEAReceiver that understands GGA, RMC,
  GSA, GSV, GLL and VTG from any talker (GP, GN, GL, GA, GB, ...) and calls the
  positioning receiver with values in SI units. Other sentence types are ignored.

Tests: tests/positioning/test_nmea.py (recorded sentences, in memory) and
tests/positioning/test_serialnmea.py (a recorded receiver through a pty).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from zope.interface import Interface, implementer

from torsion.internet.protocol import Protocol
from torsion.positioning import base
from torsion.positioning.ipositioning import IPositioningReceiver

__all__ = [
    "INMEAReceiver",
    "InvalidChecksum",
    "InvalidSentence",
    "NMEAAdapter",
    "NMEAProtocol",
    "NMEASentence",
    "parseSentence",
]

_KNOTS = 1852 / 3600
_KMH = 1000 / 3600


class InvalidSentence(ValueError):
    """A line is not a well-formed NMEA sentence, or one of its fields is nonsense."""


class InvalidChecksum(InvalidSentence):
    """A sentence's checksum does not match its contents: it was garbled on the way."""


@dataclass(frozen=True, slots=True)
class NMEASentence:
    """One parsed sentence: ``talker`` ("GP"), ``type`` ("GGA") and the raw fields."""

    talker: str
    type: str
    fields: tuple[str, ...]

    def field(self, index: int) -> str:
        """Return field ``index`` (0-based after the address), "" where it is absent:
        receivers leave trailing fields out."""
        return self.fields[index] if index < len(self.fields) else ""


def checksum(body: bytes) -> int:
    """Return the NMEA checksum (XOR of the bytes between ``$`` and ``*``)."""
    value = 0
    for b in body:
        value ^= b
    return value


def parseSentence(line: bytes) -> NMEASentence:
    """Parse one line (without its line end) into an NMEASentence.

    Raises:
        InvalidChecksum: the checksum is present and wrong.
        InvalidSentence: anything else wrong with the framing.
    """
    line = line.strip()
    if not line.startswith(b"$"):
        raise InvalidSentence(f"an NMEA sentence starts with '$': {line[:20]!r}")
    body = line[1:]
    star = body.rfind(b"*")
    if star >= 0:
        given = body[star + 1 :]
        body = body[:star]
        try:
            expected = int(given, 16)
        except ValueError:
            raise InvalidSentence(f"checksum {given!r} is not two hex digits") from None
        if len(given) != 2:
            raise InvalidSentence(f"checksum {given!r} is not two hex digits")
        if checksum(body) != expected:
            raise InvalidChecksum(f"checksum {given.decode()} does not match {checksum(body):02X}")
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise InvalidSentence("an NMEA sentence is printable ASCII") from None
    parts = text.split(",")
    address = parts[0]
    if len(address) != 5 or not address.isalnum():
        raise InvalidSentence(f"the address {address!r} is not a talker and a type (GPGGA)")
    return NMEASentence(address[:2], address[2:], tuple(parts[1:]))


class INMEAReceiver(Interface):
    """Something that is handed each valid sentence by an NMEAProtocol."""

    def sentenceReceived(sentence: NMEASentence) -> None:
        """A sentence arrived; raise InvalidSentence if its fields make no sense."""


class NMEAProtocol(Protocol):
    """Feed an INMEAReceiver from a byte stream (a serial port or any transport).

    ``sentenceCallback``, if given, is called with each valid sentence first (for
    logging or recording). The counters ``sentencesReceived``, ``badChecksums`` and
    ``invalidSentences`` say how healthy the link is.
    """

    MAX_LENGTH = 1024

    def __init__(
        self,
        receiver: INMEAReceiver,
        sentenceCallback: Callable[[NMEASentence], object] | None = None,
    ) -> None:
        self.receiver = receiver
        self.sentenceCallback = sentenceCallback
        self.sentencesReceived = 0
        self.badChecksums = 0
        self.invalidSentences = 0
        self._buffer = b""
        self._skipping = False

    def dataReceived(self, data: bytes) -> None:
        buffer = self._buffer + data
        while True:
            end = buffer.find(b"\n")
            if end < 0:
                break
            line, buffer = buffer[:end], buffer[end + 1 :]
            if self._skipping:
                self._skipping = False
                continue
            self.lineReceived(line.rstrip(b"\r"))
        if len(buffer) > self.MAX_LENGTH:
            # Noise or a wrong baud rate: drop it, and the rest of that line.
            buffer = b""
            if not self._skipping:
                self.invalidSentences += 1
            self._skipping = True
        self._buffer = buffer

    def lineReceived(self, line: bytes) -> None:
        """Parse one line and pass the sentence on; count what is dropped."""
        if not line.strip():
            return
        if len(line) > self.MAX_LENGTH:
            self.invalidSentences += 1
            return
        try:
            sentence = parseSentence(line)
        except InvalidChecksum:
            self.badChecksums += 1
            return
        except InvalidSentence:
            self.invalidSentences += 1
            return
        self.sentencesReceived += 1
        if self.sentenceCallback is not None:
            self.sentenceCallback(sentence)
        try:
            self.receiver.sentenceReceived(sentence)
        except InvalidSentence:
            self.invalidSentences += 1


def _float(value: str) -> float | None:
    if value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise InvalidSentence(f"{value!r} is not a number") from None


def _coordinate(value: str, hemisphere: str, kind: str) -> base.Coordinate | None:
    """Turn NMEA's ddmm.mmmm (dddmm.mmmm for longitude) into decimal degrees."""
    if value == "" and hemisphere == "":
        return None
    degreeDigits = 2 if kind == base.LATITUDE else 3
    signs = {"N": 1, "S": -1} if kind == base.LATITUDE else {"E": 1, "W": -1}
    if hemisphere not in signs:
        raise InvalidSentence(f"{hemisphere!r} is not a {kind} hemisphere")
    try:
        degrees = int(value[:degreeDigits])
        minutes = float(value[degreeDigits:])
    except ValueError:
        raise InvalidSentence(f"{value!r} is not a {kind} in NMEA's d..mm.mm form") from None
    limit = 90 if kind == base.LATITUDE else 180
    decimal = degrees + minutes / 60
    if minutes >= 60 or decimal > limit:
        raise InvalidSentence(f"{value!r} is not a {kind}")
    return base.Coordinate(signs[hemisphere] * decimal, kind)


def _time(value: str) -> datetime.time:
    try:
        hour, minute, second = int(value[0:2]), int(value[2:4]), float(value[4:])
        whole = int(second)
        return datetime.time(
            hour, minute, whole, round((second - whole) * 1e6), tzinfo=datetime.UTC
        )
    except ValueError:
        raise InvalidSentence(f"{value!r} is not a time in hhmmss.ss form") from None


def _date(value: str) -> datetime.date:
    try:
        day, month, year = int(value[0:2]), int(value[2:4]), int(value[4:6])
        # GPS began in 1980: two-digit years before 80 are this century's.
        return datetime.date(year + (2000 if year < 80 else 1900), month, day)
    except ValueError:
        raise InvalidSentence(f"{value!r} is not a date in ddmmyy form") from None


@implementer(INMEAReceiver)
class NMEAAdapter:
    """Turn NMEA sentences into calls of an IPositioningReceiver.

    Satellites in view come in GSV groups spread over several sentences: the adapter
    collects a group and calls ``beaconInformationReceived`` once it is complete,
    marking the satellites that the latest GSA sentences say the fix uses.
    """

    def __init__(self, receiver: IPositioningReceiver) -> None:
        self.receiver = receiver
        self._inView: dict[str, tuple[base.Satellite, ...]] = {}
        self._collecting: dict[str, list[base.Satellite]] = {}
        self._used: dict[str, frozenset[int]] = {}
        self._previousType = ""

    def sentenceReceived(self, sentence: NMEASentence) -> None:
        handler = getattr(self, "_sentence_" + sentence.type, None)
        try:
            if handler is not None:
                handler(sentence)
        finally:
            self._previousType = sentence.type

    def _position(self, s: NMEASentence, first: int) -> None:
        lat = _coordinate(s.field(first), s.field(first + 1), base.LATITUDE)
        lon = _coordinate(s.field(first + 2), s.field(first + 3), base.LONGITUDE)
        if lat is not None and lon is not None:
            self.receiver.positionReceived(lat, lon)

    def _sentence_GGA(self, s: NMEASentence) -> None:
        if s.field(5) in ("", "0"):
            return  # no fix
        self._position(s, 1)
        hdop = _float(s.field(7))
        if hdop is not None:
            self.receiver.positionErrorReceived(base.PositionError(hdop=hdop))
        altitude = _float(s.field(8))
        if altitude is not None:
            if s.field(9) not in ("M", ""):
                raise InvalidSentence(f"altitude unit {s.field(9)!r} is not metres")
            self.receiver.altitudeReceived(base.Altitude(altitude))

    def _sentence_RMC(self, s: NMEASentence) -> None:
        if s.field(1) != "A" or s.field(11) == "N":
            return  # the receiver says: void, no fix
        self._position(s, 2)
        if s.field(0) and s.field(8):
            time, date = _time(s.field(0)), _date(s.field(8))
            self.receiver.timeReceived(datetime.datetime.combine(date, time))
        speed = _float(s.field(6))
        if speed is not None:
            self.receiver.speedReceived(base.Speed(speed * _KNOTS))
        course = _float(s.field(7))
        if course is not None:
            variation = _float(s.field(9))
            if variation is not None:
                if s.field(10) not in ("E", "W"):
                    raise InvalidSentence(f"{s.field(10)!r} is not a variation direction")
                variation = variation if s.field(10) == "E" else -variation
            self.receiver.headingReceived(base.Heading(course, variation))

    def _sentence_GLL(self, s: NMEASentence) -> None:
        if s.field(5) != "A" or s.field(6) == "N":
            return
        self._position(s, 0)

    def _sentence_VTG(self, s: NMEASentence) -> None:
        if s.field(8) == "N":
            return
        course = _float(s.field(0))
        if course is not None:
            self.receiver.headingReceived(base.Heading(course))
        kmh = _float(s.field(6))
        knots = _float(s.field(4))
        if kmh is not None:
            self.receiver.speedReceived(base.Speed(kmh * _KMH))
        elif knots is not None:
            self.receiver.speedReceived(base.Speed(knots * _KNOTS))

    def _sentence_GSA(self, s: NMEASentence) -> None:
        used = set()
        for value in s.fields[2:14]:
            number = _float(value)
            if number is not None:
                used.add(int(number))
        # NMEA 4.1 receivers send one GSA per constellation, naming it in field 17.
        # Older multi-constellation receivers (u-blox M8, NMEA 4.0) send one GNGSA per
        # constellation without naming it: consecutive GSAs are one epoch's, joined.
        key = s.talker + s.field(17)
        if not s.field(17) and self._previousType == "GSA":
            used |= self._used.get(key, frozenset())
        self._used[key] = frozenset(used)
        pdop, hdop, vdop = _float(s.field(14)), _float(s.field(15)), _float(s.field(16))
        if s.field(1) in ("2", "3") and (pdop, hdop, vdop) != (None, None, None):
            self.receiver.positionErrorReceived(base.PositionError(pdop, hdop, vdop))

    def _sentence_GSV(self, s: NMEASentence) -> None:
        total, number = _float(s.field(0)), _float(s.field(1))
        if total is None or number is None or not 1 <= number <= total <= 99:
            raise InvalidSentence(f"GSV message {number} of {total} makes no sense")
        if number == 1:
            self._collecting[s.talker] = []
        collected = self._collecting.get(s.talker)
        if collected is None:
            return  # we joined in the middle of a group
        for i in range(3, len(s.fields) - 3, 4):
            prn = _float(s.fields[i])
            if prn is None:
                continue
            collected.append(
                base.Satellite(
                    int(prn),
                    _float(s.fields[i + 2]),
                    _float(s.fields[i + 1]),
                    _float(s.fields[i + 3]),
                )
            )
        if len(collected) > 99:
            raise InvalidSentence("more than 99 satellites in one GSV group")
        if number == total:
            self._inView[s.talker] = tuple(collected)
            del self._collecting[s.talker]
            seen = tuple(sat for group in self._inView.values() for sat in group)
            used = frozenset().union(*self._used.values())
            self.receiver.beaconInformationReceived(base.BeaconInformation(seen, used))
