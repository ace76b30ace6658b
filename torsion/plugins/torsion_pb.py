"""The ``pb`` plugin: ``torsiond pb``, a shared key/value store over Perspective Broker.

The options and the service are in torsion.tap.pb, imported only when used.
Tests: tests/spread/test_pbplugin.py.
"""

from torsion.application.service import ServiceMaker

pb = ServiceMaker(
    "torsion pb",
    "torsion.tap.pb",
    "A shared key/value store over Perspective Broker, kept live in every client.",
    "pb",
)
