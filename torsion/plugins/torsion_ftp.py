"""The ``ftp`` plugin: ``torsiond ftp --root DIR [--auth ...] [--home DIR] ...``.

The options and the service are in torsion.tap.ftp, imported only when used.
Tests: tests/protocols/test_ftpplugin.py.
"""

from torsion.application.service import ServiceMaker

ftp = ServiceMaker(
    "torsion ftp",
    "torsion.tap.ftp",
    "An FTP server of a directory, for anonymous users and accounts (TLS optional).",
    "ftp",
)
