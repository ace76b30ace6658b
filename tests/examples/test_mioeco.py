"""Runs examples/mioeco.py (the seed's custom line echo) as a subprocess on 127.0.0.1 and
checks its echoes and its log lines against the shapes the seed talk shows; also tests
its classes in-process with a StringTransport."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.examples.test_echoserv import LineReader
from torsion.internet.testing import StringTransport
from torsion.python import log

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mioeco.py"
# The seed: "2004/04/24 17:08 CEST [-] mioeco.Fabbrica starting on 7777".
STAMP = r"^\d{4}/\d\d/\d\d \d\d:\d\d \S+"


class Server:
    """A running example process, its output reader and its port."""

    def __init__(self, args: list[str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, *args, "--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        self.reader = LineReader(self.proc.stdout)
        self.startLine = self.reader.waitFor(r"starting on \d+$", 30)
        self.port = int(self.startLine.rsplit(" ", 1)[1])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.reader.thread.join(5)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server([str(EXAMPLE)])
    try:
        yield running
    finally:
        running.stop()


def receiveExactly(sock: socket.socket, expected: bytes) -> bytes:
    """Read until ``len(expected)`` bytes came (or the peer closed); the socket times out."""
    received = b""
    while len(received) < len(expected):
        chunk = sock.recv(4096)
        if not chunk:
            break
        received += chunk
    return received


def test_logsTheSeedsStartingLine(server: Server) -> None:
    assert re.match(rf"{STAMP} \[-\] mioeco\.Fabbrica starting on {server.port}$", server.startLine)


def test_echoesLinesAndLogsPeerAndLine(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        clientPort = s.getsockname()[1]
        s.sendall(b"una riga\r\n")
        assert receiveExactly(s, b"una riga\r\n") == b"una riga\r\n"
        s.sendall(b"un'altra ")
        s.sendall(b"riga\r\nterza\r")
        s.sendall(b"\n")
        assert receiveExactly(s, b"un'altra riga\r\nterza\r\n") == b"un'altra riga\r\nterza\r\n"
    peer = rf"IPv4Address\(TCP, '127\.0\.0\.1', {clientPort}\)"
    line = server.reader.waitFor(rf"\] {peer} una riga$", 5)
    assert re.match(rf"{STAMP} \[EcoPerRiga,0,127\.0\.0\.1\] {peer} una riga$", line)
    server.reader.waitFor(rf"\[EcoPerRiga,0,127\.0\.0\.1\] {peer} un'altra riga$", 5)
    server.reader.waitFor(rf"\[EcoPerRiga,0,127\.0\.0\.1\] {peer} terza$", 5)


def test_eachConnectionHasItsOwnSessionNumber(server: Server) -> None:
    for session in range(2):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            line = b"ciao %d\r\n" % session
            s.sendall(line)
            assert receiveExactly(s, line) == line
        server.reader.waitFor(rf"\[EcoPerRiga,{session},127\.0\.0\.1\] .* ciao {session}$", 5)


def netcatAnswer(port: int, line: bytes, expected: str) -> str:
    """Send ``line`` to 127.0.0.1:``port`` with nc and return the first answer line
    matching ``expected``; skip the test if nc is missing. nc is always killed, as its
    flags for quitting at end of input differ between variants."""
    nc = shutil.which("nc")
    if nc is None:
        pytest.skip("nc (netcat) is not installed; the socket tests cover the same ground")
    client = subprocess.Popen(
        [nc, "127.0.0.1", str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert client.stdin is not None and client.stdout is not None
    answers = LineReader(io.TextIOWrapper(client.stdout, encoding="utf-8", newline=""))
    try:
        client.stdin.write(line)
        client.stdin.flush()
        return answers.waitFor(expected, 5)
    finally:
        client.kill()
        client.wait(timeout=5)
        answers.thread.join(5)
        client.stdin.close()
        client.stdout.close()


def test_echoesForNetcat(server: Server) -> None:
    assert netcatAnswer(server.port, b"da netcat\r\n", "da netcat") == "da netcat\r\n"
    server.reader.waitFor(
        r"\[EcoPerRiga,0,127\.0\.0\.1\] IPv4Address\(TCP, '127\.0\.0\.1', \d+\) da netcat$",
        5,
    )


def test_stopsCleanlyOnSigterm(server: Server) -> None:
    # The port logs before the reactor runs and sets its signal handlers; an answer
    # shows that it runs.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"ciao\r\n")
        assert receiveExactly(s, b"ciao\r\n") == b"ciao\r\n"
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=10) == 0
    server.reader.waitFor(rf"\(TCP Port {server.port} Closed\)", 5)


def test_reportsPortInUse() -> None:
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
    assert result.stderr.startswith("mioeco: ")
    assert f"127.0.0.1:{port}" in result.stderr


@pytest.fixture
def mioeco() -> ModuleType:
    """The example imported in-process under its own name, as a .tac would import it."""
    spec = importlib.util.spec_from_file_location("mioeco", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_classesAreNamedAfterTheModule(mioeco: ModuleType) -> None:
    assert mioeco.Fabbrica.__module__ == "mioeco"
    assert mioeco.Fabbrica.protocol is mioeco.EcoPerRiga


def test_ecoPerRigaPrintsAndEchoesOverAStringTransport(
    mioeco: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    proto = mioeco.Fabbrica().buildProtocol(None)
    transport = StringTransport()
    proto.makeConnection(transport)
    proto.dataReceived(b"una riga\r\nbyte non UTF-8: \xff\r\n")
    assert transport.value() == b"una riga\r\nbyte non UTF-8: \xff\r\n"
    assert capsys.readouterr().out.splitlines() == [
        "IPv4Address(TCP, '127.0.0.1', 54321) una riga",
        "IPv4Address(TCP, '127.0.0.1', 54321) byte non UTF-8: \ufffd",
    ]


def test_whatEcoPerRigaPrintsIsLoggedWithTheConnectionsPrefix(mioeco: ModuleType) -> None:
    """Logging with stdout redirected (as startLogging and torsiond do) turns the print
    into a log event whose system is the connection's log prefix."""
    from torsion.logger import Logger, LoggingFile, LogLevel

    events: list[dict[str, Any]] = []
    proto = mioeco.Fabbrica().buildProtocol(None)
    transport = StringTransport()
    proto.makeConnection(transport)
    redirected = LoggingFile(Logger(namespace="stdout", observer=events.append), LogLevel.info)
    with contextlib.redirect_stdout(redirected):  # type: ignore[type-var]
        log.callWithLogger(proto, proto.dataReceived, b"una riga\r\n")
    assert [(e["log_system"], e["log_io"]) for e in events] == [
        ("EcoPerRiga", "IPv4Address(TCP, '127.0.0.1', 54321) una riga")
    ]
