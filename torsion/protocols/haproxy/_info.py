"""ProxyInfo: what a PROXY protocol header said; tests: tests/protocols/test_haproxy.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ProxyInfo"]


@dataclass(frozen=True, slots=True)
class ProxyInfo:
    """The addresses a proxy reported for the connection it forwarded.

    Attributes:
        header: the header's bytes, as received.
        source: the client's address (IPv4Address, IPv6Address or UNIXAddress), or
            None when the proxy did not say (v1 UNKNOWN, v2 LOCAL or UNSPEC): the
            connection's own addresses are the real ones then.
        destination: the address the client connected to, or None likewise.
        tlvs: the v2 header's type-length-value fields, ``(type, value)`` in order
            (the server name as PP2_TYPE_AUTHORITY, 0x02, and so on); empty for v1.
    """

    header: bytes
    source: Any
    destination: Any
    tlvs: tuple[tuple[int, bytes], ...] = ()
