"""The Autobahn test suite's fuzzingclient against torsion's WebSocket server.

A chosen subset runs here (the whole suite needs several minutes of two busy cores; run
it with ``python -m tests.web.websocket.autobahn``): framing (1.*), pings and pongs
(2.*), reserved bits (3.*), opcodes (4.*), fragmentation (5.*), UTF-8 (6.*), the close
handshake and close codes (7.*), limits on large messages and frames (the smaller 9.*
cases), auto-fragmentation (10.*) and permessage-deflate with each offer (the small
12.* and 13.* cases). Every case must end OK, NON-STRICT, INFORMATIONAL or
UNIMPLEMENTED, and close OK.

The suite is installed by .ci/run into bench/.venv-autobahn (Python 2.7); without it
the test skips and says so. The server is the test's own reactor, in this process.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.internet.reactormixins import runUntil
from tests.web._webhelpers import listenSite, oneReactor
from torsion.web import server
from torsion.web.websocket import WebSocketResource

from . import autobahn
from .echoserver import EchoProtocol

__all__ = ["oneReactor"]

CASES = [
    "1.*",
    "2.*",
    "3.*",
    "4.*",
    "5.*",
    "6.*",
    "7.*",
    "9.1.1",
    "9.1.2",
    "9.2.1",
    "9.2.2",
    "9.4.1",
    "9.5.1",
    "9.6.1",
    "10.*",
    *(f"12.{group}.{size}" for group in range(1, 6) for size in (1, 2, 3)),
    *(f"13.{group}.{size}" for group in range(1, 8) for size in (1, 2)),
]

python2 = autobahn.interpreter()
pytestmark = pytest.mark.skipif(
    python2 is None,
    reason=f"the Autobahn test suite is not installed in {autobahn.AUTOBAHN} (.ci/run installs it)",
)


@pytest.mark.timeout(600)  # about 25 s on an idle machine; a loaded one is slower
def test_autobahnFuzzingClientCases(oneReactor: Any, tmp_path: Path) -> None:
    assert python2 is not None
    site = server.Site(
        WebSocketResource(lambda request: EchoProtocol(), maxMessageSize=64 * 1024 * 1024)
    )
    port = listenSite(oneReactor, site)
    spec = autobahn.writeSpec(tmp_path, f"ws://127.0.0.1:{port}", CASES)
    log = (tmp_path / "wstest.log").open("w")
    child = subprocess.Popen(
        autobahn.wstestCommand(python2, spec), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        runUntil(oneReactor, lambda: child.poll() is not None, timeout=540)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        log.close()
    assert child.returncode == 0, (tmp_path / "wstest.log").read_text()[-3000:]
    outcomes = autobahn.results(tmp_path)
    assert len(outcomes) >= 250, f"only {len(outcomes)} cases ran"
    assert autobahn.failures(outcomes) == {}
