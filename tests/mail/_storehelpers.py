"""Helpers for the mail store tests: a mail service with a maildir domain, SMTP users,
blocking clients run in a thread while a reactor turns, and test certificates."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import inThread
from torsion.cred.hashing import ScryptHasher
from torsion.mail import smtp
from torsion.mail.mail import MailService
from torsion.mail.maildir import MaildirDirdbmDomain

T = TypeVar("T")

# Cheap hashes: the tests check logic, not the cost of a hash.
FAST_HASHER = ScryptHasher(logN=4, r=1, p=1)


def makeService(
    root: Path,
    users: dict[str, str] | None = None,
    domain: str = "example.com",
    reactor: Any = None,
) -> tuple[MailService, MaildirDirdbmDomain]:
    service = MailService()
    store = MaildirDirdbmDomain(service, str(root / domain), hasher=FAST_HASHER, reactor=reactor)
    store.fsync = False
    for name, password in (users or {}).items():
        store.addUser(name, password)
    service.addDomain(domain, store)
    return service, store


def user(address: str, sender: str = "sender@remote.example") -> smtp.User:
    return smtp.User(address, (b"client.example", b"127.0.0.1"), None, smtp.Address(sender))


def runBlocking(reactor: Any, function: Callable[[], T], timeout: float = 60.0) -> T:
    """Call blocking ``function`` in a thread while iterating ``reactor``."""
    result: T = inThread(reactor, function, timeout)
    return result


def tlsFiles(tmp_path: Path) -> tuple[Any, str, str, str]:
    """A trustme CA and a certificate for localhost/127.0.0.1: (server options, the CA
    file, the key file, the certificate file)."""
    import trustme

    from torsion.internet import ssl

    authority = trustme.CA()
    leaf = authority.issue_cert("localhost", "127.0.0.1")
    caFile = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(caFile))
    keyFile = tmp_path / "server.key"
    certFile = tmp_path / "server.pem"
    leaf.private_key_pem.write_to_path(str(keyFile))
    leaf.cert_chain_pems[0].write_to_path(str(certFile))
    options = ssl.CertificateOptions(privateKey=str(keyFile), certificate=str(certFile))
    return options, str(caFile), str(keyFile), str(certFile)


@pytest.fixture
def mailReactor() -> Iterator[Any]:
    """A fresh reactor of the platform's default kind with its thread pool running (the
    password hashes are checked there), closed after the test."""
    from torsion.internet.default import reactorClass

    made = reactorClass()()
    reactormixins.trackDescriptors(made)
    made.getThreadPool().start()
    try:
        yield made
    finally:
        reactormixins.closeReactor(made)


def listen(reactor: Any, factory: Any) -> int:
    """Serve ``factory`` on an ephemeral port of 127.0.0.1; its number."""
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    return int(port.getHost().port)


def torsiond(
    args: list[str], port: int, directory: Path, output: list[str] | None = None
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    """Run ``torsiond -n ... ARGS`` until the block ends (tests/tap/_torsiond.py's
    runTorsiond), waiting up to a minute for it to listen: it hashes the --user
    passwords first, which takes a while on a machine busy with other tests."""
    from tests.tap._torsiond import runTorsiond

    return runTorsiond(args, port, directory, output, listenTimeout=60)
