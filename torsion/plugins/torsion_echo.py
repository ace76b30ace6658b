"""The ``echo`` plugin: ``torsiond echo [--listen DESCRIPTION]`` runs an RFC 862 echo server.

The options and the service are in torsion.tap.echo, imported only when used.
Tests: tests/tap/test_echo.py.
"""

from torsion.application.service import ServiceMaker

echo = ServiceMaker(
    "torsion echo",
    "torsion.tap.echo",
    "An echo server (RFC 862): every byte received is sent back.",
    "echo",
)
