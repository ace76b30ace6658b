"""Addresses of the two ends of an IP connection: IPv4Address and IPv6Address.

``transport.getPeer()`` and ``transport.getHost()`` return these, as do listening
ports' ``getHost()``. They are frozen dataclasses, so they compare by value and hash.
They print as in the seed's log lines, ``IPv4Address(TCP, '127.0.0.1', 49514)`` (the
2004 form; today's Twisted spells the field names out), so that a log line a protocol
writes with ``print(self.transport.getPeer(), line)`` reads as the talk shows it.
Tests: tests/internet/test_address.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from zope.interface import implementer

from torsion.internet.interfaces import IAddress

__all__ = ["IPv4Address", "IPv6Address"]


@implementer(IAddress)
@dataclass(frozen=True, slots=True, repr=False)
class IPv4Address:
    """An IPv4 socket endpoint.

    Args:
        type: 'TCP' or 'UDP'.
        host: the dotted-quad address, such as '127.0.0.1'.
        port: the port number.
    """

    type: Literal["TCP", "UDP"]
    host: str
    port: int

    def __post_init__(self) -> None:
        if self.type not in ("TCP", "UDP"):
            raise ValueError(f"address type must be 'TCP' or 'UDP', not {self.type!r}")

    def __repr__(self) -> str:
        return f"IPv4Address({self.type}, {self.host!r}, {self.port})"


@implementer(IAddress)
@dataclass(frozen=True, slots=True, repr=False)
class IPv6Address:
    """An IPv6 socket endpoint.

    Args:
        type: 'TCP' or 'UDP'.
        host: the address in text form, such as '::1'.
        port: the port number.
        flowInfo: the IPv6 flow label (usually 0).
        scopeID: the scope (interface) of a link-local address (usually 0).
    """

    type: Literal["TCP", "UDP"]
    host: str
    port: int
    flowInfo: int = 0
    scopeID: int | str = 0

    def __post_init__(self) -> None:
        if self.type not in ("TCP", "UDP"):
            raise ValueError(f"address type must be 'TCP' or 'UDP', not {self.type!r}")

    def __repr__(self) -> str:
        # The flow label and scope are shown only when set: they are almost always 0.
        extra = f", {self.flowInfo}, {self.scopeID!r}" if self.flowInfo or self.scopeID else ""
        return f"IPv6Address({self.type}, {self.host!r}, {self.port}{extra})"


# -- UNIX sockets (torsion.internet.unix) ----------------------------------------------


# -- processes (torsion.internet.process) ----------------------------------------------

__all__ += ["PipeAddress", "_ProcessAddress"]


@implementer(IAddress)
@dataclass(frozen=True, slots=True)
class _ProcessAddress:
    """The address of either end of a process transport: a process has no address.

    ``getHost()`` and ``getPeer()`` of a spawned process return one, so code that logs
    ``transport.getPeer()`` for every transport works for processes too.
    """


@implementer(IAddress)
@dataclass(frozen=True, slots=True)
class PipeAddress:
    """The address of either end of a pipe (``StandardIO``'s getHost and getPeer)."""
