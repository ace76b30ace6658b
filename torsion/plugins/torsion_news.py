"""The ``news`` plugin: ``torsiond news --spool DIR --group NAME ...``, an NNTP server.

The options and the service are in torsion.news.tap, imported only when used.
Tests: tests/news/test_newsplugin.py.
"""

from torsion.application.service import ServiceMaker

news = ServiceMaker(
    "torsion news",
    "torsion.news.tap",
    "An NNTP (RFC 3977) news server over an on-disk spool.",
    "news",
)
