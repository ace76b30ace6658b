"""The PROXY protocol (v1 and v2): torsion servers behind HAProxy, nginx and cloud load balancers.

A proxy that forwards a TCP connection can begin it with a header naming the client
it came from (HAProxy's ``send-proxy``/``send-proxy-v2``, nginx's ``proxy_protocol
on``, the PROXY protocol option of cloud load balancers). Serve with
``HAProxyWrappingFactory(factory)``, or listen on ``haproxy:tcp:8080`` (any server
description after ``haproxy:``), and the protocols' ``transport.getPeer()`` is that
client. Only put it behind a proxy that always sends the header: a connection
without one is closed, and anyone who can connect directly could claim any address.

The parsers are sans-IO (``HeaderReader``, ``V1Parser``, ``V2Parser``: bytes in,
ProxyInfo out); ``encodeV1``/``encodeV2`` make headers, for clients and proxies.
Tests: tests/protocols/test_haproxy.py.
"""

from torsion.protocols.haproxy._endpoint import HAProxyServerParser, proxyEndpoint
from torsion.protocols.haproxy._exceptions import (
    InvalidNetworkProtocol,
    InvalidProxyHeader,
    MissingAddressData,
)
from torsion.protocols.haproxy._info import ProxyInfo
from torsion.protocols.haproxy._reader import HeaderReader
from torsion.protocols.haproxy._v1parser import V1Parser, encodeV1
from torsion.protocols.haproxy._v2parser import V2Parser, encodeV2
from torsion.protocols.haproxy._wrapper import HAProxyProtocolWrapper, HAProxyWrappingFactory

__all__ = [
    "HAProxyProtocolWrapper",
    "HAProxyServerParser",
    "HAProxyWrappingFactory",
    "HeaderReader",
    "InvalidNetworkProtocol",
    "InvalidProxyHeader",
    "MissingAddressData",
    "ProxyInfo",
    "V1Parser",
    "V2Parser",
    "encodeV1",
    "encodeV2",
    "proxyEndpoint",
]
