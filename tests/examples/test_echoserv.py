"""Runs examples/echoserv.py as a subprocess and talks to it over 127.0.0.1."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "echoserv.py"


class LineReader:
    """Reads a child's output lines in a thread, so waits for a line can be bounded."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put("")

    def waitFor(self, pattern: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if not line:
                break
            self.seen.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r} in {self.seen!r}")


def test_echoServerEchoesAndStopsOnSigterm() -> None:
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
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"hello torsion\n")
            received = b""
            while len(received) < 14:
                chunk = s.recv(100)
                if not chunk:
                    break
                received += chunk
            assert received == b"hello torsion\n"
        reader.waitFor(r"\[EchoProtocol,0,127\.0\.0\.1\] connection from 127", 5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        reader.waitFor(rf"\(TCP Port {port} Closed\)", 5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        reader.thread.join(5)
        proc.stdout.close()


def test_echoServerReportsPortInUse() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
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
