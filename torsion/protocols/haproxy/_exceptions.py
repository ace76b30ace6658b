"""The errors of a bad PROXY protocol header (Twisted's names).

Tests: tests/protocols/test_haproxy.py.
"""

from __future__ import annotations

__all__ = ["InvalidNetworkProtocol", "InvalidProxyHeader", "MissingAddressData"]


class InvalidProxyHeader(ValueError):
    """What a connection began with is not a PROXY protocol header (v1 or v2)."""


class InvalidNetworkProtocol(InvalidProxyHeader):
    """The header names a protocol or address family that cannot be used here."""


class MissingAddressData(InvalidProxyHeader):
    """The header is cut short: addresses or ports are missing."""
