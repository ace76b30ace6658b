"""Smoke tests of the network benchmark harness: bench/net.py, loadgen.c, _echoserver.py.

They prove the harness works end to end on two sides that need no Twisted venv
(torsion's select reactor and plain asyncio) with --quick sizes, and that the load
generator reports what goes wrong instead of measuring it: a refused connection, a
server that echoes the wrong bytes, bad usage. Everything talks over 127.0.0.1 and
every wait is bounded by a subprocess timeout.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NET = ROOT / "bench" / "net.py"

pytestmark = pytest.mark.skipif(
    not (os.environ.get("CC") or any(shutil.which(c) for c in ("cc", "gcc", "clang"))),
    reason="no C compiler (cc, gcc or clang) to build bench/loadgen.c",
)


@pytest.fixture(scope="module")
def loadgen() -> Path:
    """The load generator, built (or found up to date) the way bench/net.py does it."""
    code = "import sys; sys.path.insert(0, 'bench'); import net; print(net.buildLoadgen())"
    built = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert built.returncode == 0, built.stderr
    return Path(built.stdout.strip())


def runLoadgen(loadgen: Path, *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(loadgen), *(str(a) for a in args)], capture_output=True, text=True, timeout=30
    )


def test_quickRunMeasuresEveryCaseOnBothSides(tmp_path: Path) -> None:
    output = tmp_path / "medians.json"
    sides = "torsion-select,asyncio"
    run = subprocess.run(
        [sys.executable, str(NET), "--quick", "--sides", sides, "--json", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    document = json.loads(output.read_text())
    assert document["errors"] == []
    medians = {(row["case"], row["side"]): row for row in document["medians"]}
    for side in ("torsion-select", "asyncio"):
        assert medians[("pingpong", side)]["rate"] > 0
        assert medians[("pingpong", side)]["roundTripsPerCpuSecond"] > 0
        assert medians[("bulk", side)]["mbPerCpuSecond"] > 0
        idle = medians[("idle", side)]
        assert idle["answered"] == idle["connections"] == document["settings"]["idleConns"]
        # 200 connections may fit in memory the server had already mapped and freed:
        # growth can be nothing at this size (the real run opens 10,000).
        assert idle["bytesPerConnection"] >= 0
        assert medians[("timers", side)]["cpuRate"] > 0
    assert "| torsion-select" in run.stdout and "| asyncio |" in run.stdout
    assert "vs Twisted" in run.stdout


def test_unknownSideIsRejectedWithTheChoices() -> None:
    run = subprocess.run(
        [sys.executable, str(NET), "--sides", "torsion-select,nosuch"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "unknown side nosuch" in run.stderr and "torsion-epoll" in run.stderr


def test_loadgenBadUsageExplainsTheModes(loadgen: Path) -> None:
    run = runLoadgen(loadgen, "pingpong", "127.0.0.1")
    assert run.returncode == 2
    assert "loadgen bulk HOST PORT BYTES" in run.stderr


def test_loadgenRejectsANonNumericCount(loadgen: Path) -> None:
    run = runLoadgen(loadgen, "idle", "127.0.0.1", "80", "many")
    assert run.returncode == 1
    assert "N must be a whole number" in run.stderr


def test_loadgenReportsARefusedConnection(loadgen: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # Nothing listens there once this closes.
    run = runLoadgen(loadgen, "pingpong", "127.0.0.1", port, 1, 64, 0.1, 0)
    assert run.returncode == 1
    assert "Connection refused" in run.stderr


@pytest.fixture
def wrongEchoPort() -> Iterator[int]:
    """A server on 127.0.0.1 that echoes every chunk reversed (wrong for long ones)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(20)

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(20)
            try:
                while data := conn.recv(4096):
                    conn.sendall(data[::-1])
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        thread.join(timeout=20)


def test_loadgenDetectsAWrongEcho(loadgen: Path, wrongEchoPort: int) -> None:
    run = runLoadgen(loadgen, "pingpong", "127.0.0.1", wrongEchoPort, 1, 64, 0.1, 0)
    assert run.returncode == 1
    assert "the echo differs from what was sent" in run.stderr
