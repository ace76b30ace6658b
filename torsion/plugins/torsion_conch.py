"""The ``conch`` plugin: ``torsiond conch --auth file:...``, an SSH server for this
system's users. The options and the service are in torsion.conch.tap, imported only
when used. Tests: tests/conch/test_conchplugin.py.
"""

from torsion.application.service import ServiceMaker

conch = ServiceMaker(
    "torsion conch",
    "torsion.conch.tap",
    "An SSH server: shells, commands and port forwarding for this system's users.",
    "conch",
)
