"""The ``haproxy:`` server endpoint: ``haproxy:tcp:8080`` is tcp:8080, reading PROXY headers.

``proxyEndpoint(endpoint)`` wraps any server endpoint; ``HAProxyServerParser`` is the
endpoint string plugin (torsion/plugins/torsion_haproxy.py, declared as a
``torsion.plugins`` entry point) that makes ``serverFromString(reactor,
"haproxy:DESCRIPTION")`` one, DESCRIPTION being any server description
(``haproxy:unix:/run/app.sock``, ``haproxy:tcp6:443:interface=\\:\\:1``...). This
module imports nothing heavy until a description is parsed: finding plugins imports it.
Tests: tests/protocols/test_haproxy.py.
"""

from __future__ import annotations

from typing import Any

from zope.interface import implementer

from torsion.internet.interfaces import IStreamServerEndpoint, IStreamServerEndpointStringParser

__all__ = ["HAProxyServerParser", "proxyEndpoint"]


@implementer(IStreamServerEndpoint)
class _HAProxyServerEndpoint:
    """Listens on ``wrappedEndpoint``, with each connection's PROXY header read first."""

    def __init__(self, wrappedEndpoint: Any) -> None:
        self._wrappedEndpoint = wrappedEndpoint

    def __repr__(self) -> str:
        return f"proxyEndpoint({self._wrappedEndpoint!r})"

    def listen(self, protocolFactory: Any) -> Any:
        """Listen with ``protocolFactory``, wrapped in HAProxyWrappingFactory."""
        from torsion.protocols.haproxy._wrapper import HAProxyWrappingFactory

        return self._wrappedEndpoint.listen(HAProxyWrappingFactory(protocolFactory))


def proxyEndpoint(wrappedEndpoint: Any) -> Any:
    """Return an endpoint like ``wrappedEndpoint`` whose connections begin with a PROXY header."""
    return _HAProxyServerEndpoint(wrappedEndpoint)


@implementer(IStreamServerEndpointStringParser)
class HAProxyServerParser:
    """The ``haproxy`` prefix of the server endpoint string language."""

    prefix = "haproxy"

    def parseStreamServer(self, reactor: Any, *args: str, **kwargs: str) -> Any:
        """Parse the rest of the description as a server description, and wrap it."""
        from torsion.internet.endpoints import quoteStringArgument, serverFromString

        if not args:
            raise ValueError(
                "haproxy needs the endpoint to listen on after it, as in haproxy:tcp:8080"
            )
        inner = [quoteStringArgument(arg) for arg in args]
        inner.extend(
            f"{quoteStringArgument(k)}={quoteStringArgument(v)}" for k, v in kwargs.items()
        )
        return proxyEndpoint(serverFromString(reactor, ":".join(inner)))
