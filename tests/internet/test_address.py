"""Tests for torsion.internet.address: values, reprs and the IAddress role."""

from __future__ import annotations

import dataclasses

import pytest
from zope.interface.verify import verifyObject

from torsion.internet.address import IPv4Address, IPv6Address
from torsion.internet.interfaces import IAddress


def test_ipv4ReprIsTheSeedsLogForm() -> None:
    address = IPv4Address("TCP", "127.0.0.1", 49514)
    assert repr(address) == "IPv4Address(TCP, '127.0.0.1', 49514)"
    assert str(address) == repr(address)


def test_ipv6ReprLeavesOutDefaultFlowInfoAndScope() -> None:
    assert repr(IPv6Address("TCP", "::1", 80)) == "IPv6Address(TCP, '::1', 80)"


def test_ipv6ReprShowsFlowInfoAndScopeWhenSet() -> None:
    address = IPv6Address("UDP", "fe80::1", 80, 0, 2)
    assert repr(address) == "IPv6Address(UDP, 'fe80::1', 80, 0, 2)"


def test_ipv6AddressesCompareWithFlowInfoAndScope() -> None:
    assert IPv6Address("TCP", "::1", 80) == IPv6Address("TCP", "::1", 80, 0, 0)
    assert IPv6Address("TCP", "fe80::1", 80, 0, 1) != IPv6Address("TCP", "fe80::1", 80, 0, 2)


def test_addressesCompareAndHashByValue() -> None:
    assert IPv4Address("TCP", "1.2.3.4", 5) == IPv4Address("TCP", "1.2.3.4", 5)
    assert IPv4Address("TCP", "1.2.3.4", 5) != IPv4Address("UDP", "1.2.3.4", 5)
    assert len({IPv4Address("TCP", "1.2.3.4", 5), IPv4Address("TCP", "1.2.3.4", 5)}) == 1


def test_addressesAreFrozen() -> None:
    address = IPv4Address("TCP", "1.2.3.4", 5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        address.port = 6  # type: ignore[misc]


def test_unknownTypeRaises() -> None:
    with pytest.raises(ValueError, match="TCP"):
        IPv4Address("SCTP", "1.2.3.4", 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="TCP"):
        IPv6Address("SCTP", "::1", 5)  # type: ignore[arg-type]


def test_addressesProvideIAddress() -> None:
    assert verifyObject(IAddress, IPv4Address("TCP", "1.2.3.4", 5))
    assert verifyObject(IAddress, IPv6Address("UDP", "::1", 5))
