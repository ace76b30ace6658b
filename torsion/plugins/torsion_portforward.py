"""The ``portforward`` plugin: ``torsiond portforward --port P --host H --dest_port D``.

The options and the service are in torsion.tap.portforward, imported only when used.
Tests: tests/tap/test_portforward.py.
"""

from torsion.application.service import ServiceMaker

portforward = ServiceMaker(
    "torsion portforward",
    "torsion.tap.portforward",
    "A TCP port forwarder: every connection is joined to one to a destination.",
    "portforward",
)
