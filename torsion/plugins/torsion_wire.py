"""The ``wire`` plugin: ``torsiond wire`` runs the seven small services of RFC 862-868.

The options and the services are in torsion.tap.wire, imported only when used.
Tests: tests/tap/test_wire.py.
"""

from torsion.application.service import ServiceMaker

wire = ServiceMaker(
    "torsion wire",
    "torsion.tap.wire",
    "Echo, discard, chargen, qotd, who, daytime and time (RFC 862-868), TCP and UDP.",
    "wire",
)
