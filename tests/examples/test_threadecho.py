"""Runs examples/threadecho.py (the seed's two thread examples) as a subprocess on
127.0.0.1, both ways (callInThread and deferToThread), and checks that the work runs
in threads: many clients are answered in about one work time, not one each."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.examples.test_mioeco import Server, netcatAnswer, receiveExactly

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "threadecho.py"
WORK_SECONDS = 0.5


@pytest.fixture(params=["callInThread", "deferToThread"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    running = Server([str(EXAMPLE), "--via", request.param, "--work-seconds", str(WORK_SECONDS)])
    running.via = request.param  # type: ignore[attr-defined]
    try:
        yield running
    finally:
        running.stop()


def test_clientsAreServedAtTheSameTime(server: Server) -> None:
    clients = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(6)]
    try:
        started = time.monotonic()
        for number, client in enumerate(clients):
            client.sendall(b"riga %d\r\n" % number)
        for number, client in enumerate(clients):
            expected = b"riga %d\r\n" % number
            assert receiveExactly(client, expected) == expected
        elapsed = time.monotonic() - started
    finally:
        for client in clients:
            client.close()
    # Each answer waits for one work time; one after another, six would take three.
    assert WORK_SECONDS <= elapsed < 3 * WORK_SECONDS
    via = server.via  # type: ignore[attr-defined]
    for number in range(6):
        server.reader.waitFor(rf"\[Eco\w+,\d,127\.0\.0\.1\] 'riga {number}' .* with {via}$", 5)


def test_everyLineOfOneClientIsAnswered(server: Server) -> None:
    lines = [b"prima", b"seconda", b"terza"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
        client.sendall(b"".join(line + b"\r\n" for line in lines))
        received = receiveExactly(client, b"".join(line + b"\r\n" for line in lines))
    # Each line is worked on in its own thread, so answers may come back in any order.
    assert sorted(received.split(b"\r\n")[:-1]) == sorted(lines)


def test_netcatGetsItsAnswer(server: Server) -> None:
    assert netcatAnswer(server.port, b"da netcat\r\n", "da netcat") == "da netcat\r\n"


def test_rejectsWorkTimesOutOfBounds() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--work-seconds", "60"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--work-seconds must be between 0 and 10" in result.stderr
