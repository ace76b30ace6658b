"""The ``haproxy:`` endpoint string plugin: ``haproxy:tcp:8080`` reads PROXY headers.

Declared as the ``haproxy`` entry point of the ``torsion.plugins`` group in
pyproject.toml, which is where the endpoint string language looks for parsers.
Tests: tests/protocols/test_haproxy.py.
"""

from torsion.protocols.haproxy._endpoint import HAProxyServerParser

haproxyServerParser = HAProxyServerParser()
