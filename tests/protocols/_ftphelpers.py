"""The FTP tests' server: anonymous root, users' homes, TLS offered; a reactor runs it
while blocking clients (ftplib, curl) run in a thread (``inThread``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.internet import reactormixins, tlshelpers
from torsion.cred import checkers, portal
from torsion.protocols import ftp

PASSWORDS = {"alice": "secret", "bob": "hunter2"}


@dataclass
class FTPServer:
    reactor: Any
    factory: ftp.FTPFactory
    port: int
    anonymousRoot: Path
    homes: Path

    def home(self, user: str) -> Path:
        return self.homes / user

    def run(self, work: Any, timeout: float = 25.0) -> Any:
        """Run blocking ``work()`` in a thread while the reactor serves; its result."""
        return reactormixins.inThread(self.reactor, work, timeout=timeout)


def makeServer(reactor: Any, base: Path) -> FTPServer:
    anonymousRoot = base / "pub"
    homes = base / "home"
    anonymousRoot.mkdir()
    for user in PASSWORDS:
        (homes / user).mkdir(parents=True)
    database = checkers.InMemoryUsernamePasswordDatabaseDontUse(
        **{user: password.encode() for user, password in PASSWORDS.items()}
    )
    thePortal = portal.Portal(
        ftp.FTPRealm(anonymousRoot, userHome=homes),
        [database, checkers.AllowAnonymousAccess()],
    )
    factory = ftp.FTPFactory(thePortal, reactor=reactor)
    factory.tlsOptions = tlshelpers.serverOptions()
    listening = reactor.listenTCP(0, factory, interface="127.0.0.1")
    return FTPServer(reactor, factory, listening.getHost().port, anonymousRoot, homes)


@pytest.fixture
def ftpServer(oneReactor: Any, tmp_path: Path) -> Iterator[FTPServer]:
    yield makeServer(oneReactor, tmp_path)


def caFile(tmp_path: Path) -> Path:
    """The test CA's certificate as a PEM file (for curl --cacert and ssl contexts)."""
    path = tmp_path / "ca.pem"
    tlshelpers.theCA().cert_pem.write_to_path(str(path))
    return path
