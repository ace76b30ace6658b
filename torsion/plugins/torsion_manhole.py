"""The ``manhole`` plugin: ``torsiond manhole --sshPort 2223 --passwd FILE``, a Python
shell inside the torsiond process over telnet and SSH. The options and the service
are in torsion.conch.manhole_tap, imported only when used.
Tests: tests/conch/test_manhole_tap.py.
"""

from torsion.application.service import ServiceMaker

manhole = ServiceMaker(
    "torsion manhole",
    "torsion.conch.manhole_tap",
    "A Python shell inside the server, over telnet and SSH (for administrators only).",
    "manhole",
)
