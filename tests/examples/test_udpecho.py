"""Runs examples/udpecho.py as a subprocess and talks to it over UDP on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from tests.examples.test_echoserv import LineReader

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "udpecho.py"


def test_udpEchoServerEchoesLogsAndStopsOnSigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    reader = LineReader(proc.stdout)
    try:
        line = reader.waitFor(r"listening on 127\.0\.0\.1:\d+", 30)
        port = int(line.rsplit(":", 1)[1])
        assert any(f"[-] __main__.UDPEcho starting on {port}" in seen for seen in reader.seen)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            peer.settimeout(5)
            peer.bind(("127.0.0.1", 0))
            for datagram in (b"hello torsion\n", b"", b"x" * 1400):
                peer.sendto(datagram, ("127.0.0.1", port))
                assert peer.recvfrom(2000) == (datagram, ("127.0.0.1", port))
            reader.waitFor(
                rf"\[UDPEcho \(UDP\)\] 14 bytes from 127\.0\.0\.1:{peer.getsockname()[1]}", 5
            )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        reader.waitFor(rf"\(UDP Port {port} Closed\)", 5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        reader.thread.join(5)
        proc.stdout.close()


def test_udpEchoServerReportsPortInUse() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(EXAMPLE), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr
    assert "choose another port" in result.stderr
