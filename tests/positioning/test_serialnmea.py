"""Recorded GPS receiver output through a pty into NMEAProtocol over a SerialPort.

The pty's slave side stands in for the receiver's serial device; the test writes a
recorded session to the master side in the ragged pieces a 9600 baud line delivers,
and checks the fixes that come out, and that the sentences garbled on the way are
dropped and counted.
"""

from __future__ import annotations

import datetime
import os
import pty
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.positioning.test_nmea import Recorder
from torsion.positioning import base
from torsion.positioning.nmea import NMEAAdapter, NMEAProtocol

pytest.importorskip("serial", reason="pyserial is not installed (the serial extra)")

from torsion.internet.serialport import SerialPort

reactor = reactormixins.reactor

# Two one-second epochs of a u-blox M8 receiver (GPS + GLONASS, talker GN for the
# combined solution), as it prints them at 9600 baud, in Berlin.
EPOCH1 = (
    b"$GNRMC,101523.00,A,5231.12345,N,01323.45678,E,0.512,77.52,021226,,,A*4F\r\n"
    b"$GNVTG,77.52,T,,M,0.512,N,0.948,K,A*17\r\n"
    b"$GNGGA,101523.00,5231.12345,N,01323.45678,E,1,09,0.98,42.7,M,44.1,M,,*71\r\n"
    b"$GNGSA,A,3,05,13,15,20,29,,,,,,,,1.71,0.98,1.40*15\r\n"
    b"$GNGSA,A,3,67,68,77,78,,,,,,,,,1.71,0.98,1.40*1F\r\n"
    b"$GPGSV,2,1,07,05,34,210,42,13,55,140,45,15,61,290,44,20,23,058,38*71\r\n"
    b"$GPGSV,2,2,07,29,12,320,31,30,05,010,,24,40,100,35*47\r\n"
    b"$GLGSV,1,1,04,67,45,080,40,68,60,190,41,77,20,300,33,78,35,350,36*63\r\n"
    b"$GNGLL,5231.12345,N,01323.45678,E,101523.00,A,A*7C\r\n"
)
EPOCH2 = (
    b"$GNRMC,101524.00,A,5231.12401,N,01323.45790,E,0.530,78.10,021226,,,A*41\r\n"
    b"$GNVTG,78.10,T,,M,0.530,N,0.982,K,A*18\r\n"
    # Garbled on the line: the altitude's 2 arrived as 9, so the checksum fails.
    b"$GNGGA,101524.00,5231.12401,N,01323.45790,E,1,09,0.98,49.9,M,44.1,M,,*78\r\n"
    # Noise from a loose connector, then an RMC with a bit flipped in its time.
    b"\x00\xff\xfe\x80\r\n"
    b"$GNRMC,101524.00,A,5231.12401,N,01323.45790,E,0.530,78.10,021226,,,A*40\r\n"
    b"$GNGLL,5231.12401,N,01323.45790,E,101524.00,A,A*7B\r\n"
)


def degrees(coordinate: Any) -> float:
    return round(coordinate.inDecimalDegrees, 7)


def test_recordedReceiverOutputThroughAPtyGivesTheFixes(reactor: Any) -> None:
    master, slave = pty.openpty()
    path = os.ttyname(slave)
    os.close(slave)
    recorder = Recorder()
    protocol = NMEAProtocol(NMEAAdapter(recorder))
    port = SerialPort(protocol, path, reactor, baudrate=9600)
    try:
        stream = EPOCH1 + EPOCH2
        # A serial line hands over a few bytes at a time, cutting sentences anywhere.
        for start in range(0, len(stream), 37):
            os.write(master, stream[start : start + 37])
            reactor.iterate(0)
        reactormixins.runUntil(
            reactor, lambda: protocol.sentencesReceived + protocol.badChecksums >= 14
        )
        reactormixins.runUntil(reactor, lambda: protocol.invalidSentences >= 1)
    finally:
        port.loseConnection()
        reactormixins.runUntil(reactor, lambda: port.disconnected)
        os.close(master)

    assert protocol.sentencesReceived == 12
    assert protocol.badChecksums == 2
    assert protocol.invalidSentences == 1

    positions = [(degrees(lat), degrees(lon)) for lat, lon in recorder.of("position")]
    first = (round(52 + 31.12345 / 60, 7), round(13 + 23.45678 / 60, 7))
    second = (round(52 + 31.12401 / 60, 7), round(13 + 23.45790 / 60, 7))
    # RMC, GGA and GLL of the first epoch; RMC and GLL of the second (its GGA and its
    # second RMC were garbled).
    assert positions == [first, first, first, second, second]
    altitudes = [a.inMeters for a in recorder.of("altitude")]  # type: ignore[attr-defined]
    assert altitudes == [42.7]
    times = recorder.of("time")
    assert times == [
        datetime.datetime(2026, 12, 2, 10, 15, 23, tzinfo=datetime.UTC),
        datetime.datetime(2026, 12, 2, 10, 15, 24, tzinfo=datetime.UTC),
    ]
    knots = [round(s.inKnots, 3) for s in recorder.of("speed")]  # type: ignore[attr-defined]
    assert knots == [0.512, 0.512, 0.53, 0.53]
    headings = [h.inDecimalDegrees for h in recorder.of("heading")]  # type: ignore[attr-defined]
    assert headings == [77.52, 77.52, 78.1, 78.1]
    errors = recorder.of("error")
    assert errors and all(isinstance(e, base.PositionError) for e in errors)
    assert [e.hdop for e in errors][-1] == 0.98  # type: ignore[attr-defined]
    beacons = recorder.of("beacons")
    # The GPS group, then GPS and GLONASS together once the GLGSV group is in.
    seen = [sorted(b.identifier for b in info.seenBeacons) for info in beacons]  # type: ignore[attr-defined]
    assert seen == [[5, 13, 15, 20, 24, 29, 30], [5, 13, 15, 20, 24, 29, 30, 67, 68, 77, 78]]
    # Both GNGSA sentences of the epoch count: the fix uses GPS and GLONASS satellites.
    assert beacons[-1].usedIdentifiers == {5, 13, 15, 20, 29, 67, 68, 77, 78}  # type: ignore[attr-defined]
