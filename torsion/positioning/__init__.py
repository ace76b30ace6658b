"""GPS positioning: NMEA 0183 sentences turned into position, heading, speed and
satellite events (docs/positioning.md).

``nmea`` holds the sans-IO sentence parser, the ``NMEAProtocol`` that feeds it from
any transport (a serial port, a TCP connection to gpsd's raw feed, a file) and the
``NMEAAdapter`` that turns sentences into ``IPositioningReceiver`` calls; ``base``
holds the value objects and ``BasePositioningReceiver``.

Tests: tests/positioning/.
"""
