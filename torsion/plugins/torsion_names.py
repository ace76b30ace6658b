"""The ``dns`` plugin: ``torsiond dns --bindzone FILE`` (or --pyzone, --secondary, -r, -c).

The options and the service are in torsion.names.tap, imported only when used.
Tests: tests/names/test_plugin.py.
"""

from torsion.application.service import ServiceMaker

TorsionNames = ServiceMaker(
    "torsion DNS server",
    "torsion.names.tap",
    "A domain name server: zones from Python or BIND files, secondaries, a cache.",
    "dns",
)
