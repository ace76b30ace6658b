"""FTPClient against a server nobody here wrote: pyftpdlib, in a thread on 127.0.0.1."""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntilFired
from torsion.internet.protocol import ClientCreator, Protocol
from torsion.protocols import ftp

with warnings.catch_warnings():
    # pyftpdlib runs on asyncore/asynchat, deprecated in Python 3.11: not ours to fix.
    warnings.simplefilter("ignore", DeprecationWarning)
    pytest.importorskip("pyftpdlib", reason="pyftpdlib is not installed (pip install pyftpdlib)")
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import FTPServer

oneReactor = reactormixins.oneReactor


@pytest.fixture
def pyftpd(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """pyftpdlib serving ``tmp_path/root`` to alice (writable) until the test ends."""
    root = tmp_path / "root"
    root.mkdir()
    authorizer = DummyAuthorizer()
    authorizer.add_user("alice", "secret", str(root), perm="elradfmw")

    class Handler(FTPHandler):
        auth_failed_timeout = 0.1  # pyftpdlib waits 3 s before a 530 by default

    Handler.authorizer = authorizer
    server = FTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.1}, daemon=True)
    thread.start()
    try:
        yield server.address[1], root
    finally:
        server.close_all()
        thread.join(5)


class Collector(Protocol):
    def __init__(self) -> None:
        self.data = b""

    def dataReceived(self, data: bytes) -> None:
        self.data += data


def connect(reactor: Any, port: int, password: str = "secret") -> ftp.FTPClient:
    creator = ClientCreator(reactor, ftp.FTPClient, "alice", password)
    client: ftp.FTPClient = runUntilFired(reactor, creator.connectTCP("127.0.0.1", port))
    return client


def test_storeRetrieveListAgainstPyftpdlib(oneReactor: Any, pyftpd: tuple[int, Path]) -> None:
    port, root = pyftpd
    payload = os.urandom(2**20 + 7)
    client = connect(oneReactor, port)
    consumerReady, stored = client.storeFile("up.bin")
    consumer = runUntilFired(oneReactor, consumerReady, timeout=20)
    consumer.write(payload)
    consumer.finish()
    assert runUntilFired(oneReactor, stored, timeout=20)[-1].startswith("226")
    assert (root / "up.bin").read_bytes() == payload
    got = Collector()
    runUntilFired(oneReactor, client.retrieveFile("up.bin", got), timeout=20)
    assert got.data == payload
    listing = ftp.FTPFileListProtocol()
    runUntilFired(oneReactor, client.list("", listing), timeout=20)
    assert [(f["filename"], f["size"]) for f in listing.files] == [("up.bin", len(payload))]
    runUntilFired(oneReactor, client.makeDirectory("d"), timeout=20)
    runUntilFired(oneReactor, client.rename("up.bin", "d/moved.bin"), timeout=20)
    assert (root / "d" / "moved.bin").exists()
    with pytest.raises(ftp.CommandFailed) as refused:
        runUntilFired(oneReactor, client.cwd("missing"), timeout=20)
    assert refused.value.args[0][0].startswith("550")
    runUntilFired(oneReactor, client.quit(), timeout=20)


def test_wrongPasswordAgainstPyftpdlib(oneReactor: Any, pyftpd: tuple[int, Path]) -> None:
    port, _ = pyftpd
    client = connect(oneReactor, port, password="wrong")
    with pytest.raises(ftp.CommandFailed) as refused:
        runUntilFired(oneReactor, client.pwd(), timeout=20)
    assert refused.value.args[0][-1].startswith("530")
