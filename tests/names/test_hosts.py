"""
Tests for torsion.names.hosts: parsing hosts(5) files (comments, aliases, IPv6,
junk lines), the A/AAAA/ANY/PTR answers, DomainError for the rest, re-reading a
changed file, and Twisted's searchFileFor/searchFileForAll.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from torsion.internet.defer import Deferred
from torsion.names import dns, hosts
from torsion.names.error import DomainError
from torsion.python.failure import Failure

HOSTS = b"""\
# the loopback
127.0.0.1   localhost
::1         localhost ip6-localhost
192.0.2.5   Server.Example.COM server   # trailing comment
192.0.2.6   server.example.com
2001:db8::5 server.example.com
not-an-ip   broken.example.com
192.0.2.7
10.0.0.1    bad..name good.example
"""


@pytest.fixture
def hostsFile(tmp_path: Path) -> Path:
    path = tmp_path / "hosts"
    path.write_bytes(HOSTS)
    return path


def result(d: Deferred[Any]) -> Any:
    out: list[Any] = []
    d.addBoth(out.append)
    assert out
    return out[0]


def addresses(records: list[dns.RRHeader]) -> list[str]:
    out = []
    for rr in records:
        p = rr.payload
        out.append(p.dottedQuad() if isinstance(p, dns.Record_A) else p.text())  # type: ignore[union-attr]
    return out


def test_addressLookups(hostsFile: Path) -> None:
    resolver = hosts.Resolver(str(hostsFile))
    answers, _, _ = result(resolver.lookupAddress("server.example.com"))
    assert addresses(answers) == ["192.0.2.5", "192.0.2.6"]
    assert all(rr.ttl == 3600 and rr.auth for rr in answers)
    answers, _, _ = result(resolver.lookupIPV6Address(b"SERVER.example.com"))
    assert addresses(answers) == ["2001:db8::5"]
    answers, _, _ = result(resolver.lookupAllRecords("server"))
    assert addresses(answers) == ["192.0.2.5"]
    answers, _, _ = result(resolver.lookupAddress("good.example"))
    assert addresses(answers) == ["10.0.0.1"]


def test_pointerLookups(hostsFile: Path) -> None:
    resolver = hosts.Resolver(str(hostsFile), ttl=5)
    answers, _, _ = result(resolver.lookupPointer("5.2.0.192.in-addr.arpa"))
    assert answers[0].payload.name == dns.Name("server.example.com") and answers[0].ttl == 5
    answers, _, _ = result(
        resolver.lookupPointer(
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa"
        )
    )
    assert answers[0].payload.name == dns.Name("localhost")


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("lookupAddress", "nosuch.example.com"),
        ("lookupAddress", "broken.example.com"),
        ("lookupIPV6Address", "good.example"),
        ("lookupMailExchange", "server.example.com"),
        ("lookupPointer", "9.9.9.9.in-addr.arpa"),
    ],
)
def test_whatTheFileDoesNotHaveIsDomainError(hostsFile: Path, method: str, name: str) -> None:
    resolver = hosts.Resolver(str(hostsFile))
    failed = result(getattr(resolver, method)(name))
    assert isinstance(failed, Failure) and failed.check(DomainError)


def test_missingFileKnowsNothing(tmp_path: Path) -> None:
    resolver = hosts.Resolver(str(tmp_path / "absent"))
    assert isinstance(result(resolver.lookupAddress("localhost")), Failure)


def test_changedFileIsReadAgain(hostsFile: Path) -> None:
    resolver = hosts.Resolver(os.fsencode(hostsFile))
    assert isinstance(result(resolver.lookupAddress("new.example")), Failure)
    hostsFile.write_bytes(HOSTS + b"192.0.2.77 new.example\n")
    stat = hostsFile.stat()
    os.utime(hostsFile, (stat.st_atime, stat.st_mtime + 5))
    answers, _, _ = result(resolver.lookupAddress("new.example"))
    assert addresses(answers) == ["192.0.2.77"]


def test_searchFileFor(hostsFile: Path) -> None:
    assert hosts.searchFileFor(str(hostsFile), b"server.example.com") == "192.0.2.5"
    assert hosts.searchFileForAll(str(hostsFile), "server.example.com") == [
        "192.0.2.5",
        "192.0.2.6",
        "2001:db8::5",
    ]
    assert hosts.searchFileFor(str(hostsFile), "nosuch") is None
    assert hosts.searchFileForAll("/nonexistent/hosts", "localhost") == []


def test_getHostByNameUsesTheFile(hostsFile: Path) -> None:
    resolver = hosts.Resolver(str(hostsFile))
    assert result(resolver.getHostByName("localhost")) == "127.0.0.1"
    assert result(resolver.getHostByName("ip6-localhost")) == "::1"
