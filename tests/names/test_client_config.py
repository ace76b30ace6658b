"""
Tests for the resolv.conf side of torsion.names.client: parseResolvConf, the
Resolver's servers from a file, its search list, options timeout/attempts/rotate,
and reading the file again when it changes (task.Clock; no network).
"""

from __future__ import annotations

import os
from pathlib import Path

from torsion.internet.task import Clock
from torsion.names import client


def test_parseEverythingWeUse() -> None:
    conf = client.parseResolvConf(
        b"""\
# comment
; another comment
nameserver 192.0.2.53
nameserver 2001:db8::53   # inline comment
nameserver dns.example.com
domain ignored.example
search one.example two.example.
options ndots:2 timeout:3 attempts:4 rotate edns0 bogus:x
options ndots:notanumber
sortlist 130.155.160.0/255.255.240.0
"""
    )
    assert conf.servers == [("192.0.2.53", 53), ("2001:db8::53", 53)]
    assert conf.search == [b"one.example", b"two.example"]
    assert (conf.ndots, conf.timeout, conf.attempts, conf.rotate) == (2, 3.0, 4, True)


def test_domainAfterSearchWins() -> None:
    conf = client.parseResolvConf("search a.example b.example\ndomain c.example\n")
    assert conf.search == [b"c.example"]


def test_noNameserverMeansLocalhost() -> None:
    assert client.parseResolvConf(b"").servers == [("127.0.0.1", 53)]
    assert client.parseResolvConf(b"nameserver\n").servers == [("127.0.0.1", 53)]


def test_optionsAreClamped() -> None:
    conf = client.parseResolvConf(b"options ndots:99 timeout:0 attempts:100\n")
    assert (conf.ndots, conf.timeout, conf.attempts) == (15, 1.0, 5)


def test_resolverReadsTheFileAndAgainWhenItChanges(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text("nameserver 192.0.2.1\n")
    clock = Clock()
    resolver = client.Resolver(str(path), reactor=clock)
    assert resolver._allServers() == [("192.0.2.1", 53)]
    path.write_text("nameserver 192.0.2.2\nsearch x.example\n")
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 10))
    # Not looked at again before resolvReadInterval has passed.
    assert resolver._allServers() == [("192.0.2.1", 53)]
    clock.advance(resolver.resolvReadInterval)
    assert resolver._allServers() == [("192.0.2.2", 53)]
    assert resolver.search == [b"x.example"]


def test_givenServersComeFirst(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text("nameserver 192.0.2.1\nnameserver 192.0.2.9\n")
    resolver = client.Resolver(
        str(path), servers=[("192.0.2.9", 53), ("192.0.2.8", 5353)], reactor=Clock()
    )
    assert resolver._allServers() == [("192.0.2.9", 53), ("192.0.2.8", 5353), ("192.0.2.1", 53)]


def test_missingFileMeansLocalhost(tmp_path: Path) -> None:
    resolver = client.Resolver(str(tmp_path / "absent"), reactor=Clock())
    assert resolver._allServers() == [("127.0.0.1", 53)]


def test_fileOptionsSetTheTimeoutsUnlessGiven(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text("nameserver 192.0.2.1\nnameserver 192.0.2.2\noptions timeout:2 attempts:2\n")
    resolver = client.Resolver(str(path), reactor=Clock())
    assert resolver._confTimeout == (2.0, 2.0, 4.0, 4.0)
    explicit = client.Resolver(str(path), timeout=(7,), reactor=Clock())
    assert explicit._confTimeout is None


def test_searchNames(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text("search a.example b.example\noptions ndots:2\n")
    resolver = client.Resolver(str(path), reactor=Clock())
    assert resolver._searchNames(b"host") == [b"host.a.example", b"host.b.example", b"host"]
    assert resolver._searchNames(b"x.y.z") == [b"x.y.z", b"x.y.z.a.example", b"x.y.z.b.example"]


def test_parseConfigTakesAnOpenFile(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text("nameserver 192.0.2.77\n")
    resolver = client.Resolver(servers=[("192.0.2.1", 53)], reactor=Clock())
    with open(path, "rb") as f:
        resolver.parseConfig(f)
    assert resolver.dynServers == [("192.0.2.77", 53)]


def test_localhostDefaultOnlyWithoutGivenServers(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text("search x.example\n")
    given = client.Resolver(str(path), servers=[("192.0.2.1", 53)], reactor=Clock())
    assert given._allServers() == [("192.0.2.1", 53)] and given.search == [b"x.example"]
    alone = client.Resolver(str(path), reactor=Clock())
    assert alone._allServers() == [("127.0.0.1", 53)]
