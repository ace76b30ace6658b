"""Helpers for the plugin tests: run ``torsiond`` as a child process, and tiny thread servers.

``runTorsiond`` starts ``torsiond -n -o --pidfile= -l - PLUGIN ...`` in a temporary
directory, waits (bounded) until it listens, and stops it with SIGTERM afterwards.
``ThreadServer`` is a blocking socket server on 127.0.0.1 in a thread, a peer that
does not share the reactor under test.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

TORSIOND = Path(sys.executable).with_name("torsiond")


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def waitForListening(port: int, process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            raise AssertionError(f"torsiond exited with {process.returncode}:\n{output}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"torsiond did not listen on port {port} within {timeout} seconds")


@contextlib.contextmanager
def runTorsiond(
    args: list[str],
    port: int,
    directory: Path,
    output: list[str] | None = None,
    listenTimeout: float = 15,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run torsiond until the block ends; its log is appended to `output` if given."""
    command = [str(TORSIOND), "-n", "-o", "--pidfile=", "-l", "-", *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, cwd=directory, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
    )
    try:
        waitForListening(port, process, listenTimeout)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            if output is not None:
                output.append(process.stdout.read().decode("utf-8", "replace"))
            process.stdout.close()


class ThreadServer:
    """Serves each connection with ``handle(sock)`` in a thread, until ``close``."""

    def __init__(self, handle: Callable[[socket.socket], None], port: int = 0) -> None:
        self._handle = handle
        self._listener = socket.create_server(("127.0.0.1", port))
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self._running = True
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while self._running:
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(10)
            threading.Thread(target=self._one, args=(sock,), daemon=True).start()

    def _one(self, sock: socket.socket) -> None:
        with sock, contextlib.suppress(OSError):
            self._handle(sock)

    def close(self) -> None:
        self._running = False
        self._listener.close()
        self._thread.join(timeout=5)


def echo(sock: socket.socket) -> None:
    while data := sock.recv(65536):
        sock.sendall(data)


def namedEcho(name: bytes) -> Callable[[socket.socket], None]:
    def handle(sock: socket.socket) -> None:
        sock.sendall(name + b"\n")
        echo(sock)

    return handle


def exchange(port: int, data: bytes, until: bytes) -> bytes:
    """Connect to ``port``, send ``data``, read until ``until`` (or the end) arrives."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(data)
        got = b""
        while until not in got:
            chunk = client.recv(65536)
            if not chunk:
                break
            got += chunk
        return got
