"""The ``web`` plugin: ``torsiond web --path DIR`` (or --resource-script, --wsgi, ...).

The options and the service are in torsion.tap.web, imported only when used.
Tests: tests/web/test_webplugin.py.
"""

from torsion.application.service import ServiceMaker

web = ServiceMaker(
    "torsion web",
    "torsion.tap.web",
    "A web server: static files, resource scripts or a WSGI application.",
    "web",
)
