"""Smoke tests of bench/websocket.py, bench/wsload.c and bench/_wsserver.py.

The harness runs end to end with --quick sizes on the sides that need no extra venv
(torsion, and the `websockets` library from the test extra), and wsload reports what
goes wrong instead of measuring it: a server that does not upgrade, bad usage.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "websocket.py"
WSLOAD = ROOT / "bench" / ".build" / "wsload"

pytestmark = pytest.mark.skipif(
    not any(shutil.which(c) for c in ("cc", "gcc")), reason="no C compiler to build wsload.c"
)


def test_quickRunOfTheServerCases(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--quick",
            "--cases",
            "pingpong,bulk",
            "--sides",
            "torsion,websockets",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    medians = {(m["case"], m["side"]): m["median"] for m in json.loads(out.read_text())["medians"]}
    assert set(medians) == {
        ("pingpong", "torsion"),
        ("pingpong", "websockets"),
        ("bulk", "torsion"),
        ("bulk", "websockets"),
    }
    assert all(value > 0 for value in medians.values())
    assert "vs torsion" in done.stdout


def test_quickRunOfTheCodecCases(tmp_path: Path) -> None:
    pytest.importorskip("wsproto", reason="wsproto is the codec peer (pip install wsproto)")
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--cases", "codec-small,codec-deflate"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "codec-deflate  wsproto" in done.stdout


def test_wsloadSaysWhenTheServerDoesNotUpgrade() -> None:
    code = "import sys; sys.path.insert(0, 'bench'); import websocket; websocket.buildWsload()"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        port = str(listener.getsockname()[1])
        done = subprocess.run(
            [str(WSLOAD), "pingpong", "127.0.0.1", port, "1", "8", "0.1", "0"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        listener.close()
    assert done.returncode == 1
    assert "did not answer 101" in done.stderr
    usage = subprocess.run([str(WSLOAD), "pingpong"], capture_output=True, text=True, timeout=30)
    assert usage.returncode == 2 and "usage" in usage.stderr
