"""Socket activation for real: a child process gets a listening socket as descriptor 3.

The test plays systemd: it binds a socket on 127.0.0.1 and starts a child with that
socket as descriptor 3, LISTEN_FDS=1 and LISTEN_PID set to the child's own pid: a
``sh -c 'LISTEN_PID=$$ exec python ... 3<&0'`` wrapper gets the socket as its stdin
and moves it to 3. The test then talks to the echo server the child runs on
``strports.service("systemd:domain=INET:index=0", ...)``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.examples.test_echoserv import LineReader

if shutil.which("sh") is None:
    pytest.skip("these tests start their child through sh", allow_module_level=True)

CHILD = textwrap.dedent(
    """
    import sys

    from torsion.application import strports
    from torsion.internet import protocol, reactor
    from torsion.protocols.wire import Echo

    try:
        server = strports.service(sys.argv[1], protocol.Factory.forProtocol(Echo))
    except ValueError as e:
        print(f"bad description: {e}", flush=True)
        sys.exit(2)
    server.privilegedStartService()
    server.startService()
    print("ready", flush=True)
    reactor.run()
    """
)


def startActivated(
    tmp_path: Path, listening: socket.socket, description: str, pidVariable: str = "$$"
) -> subprocess.Popen[str]:
    script = tmp_path / "activated.py"
    script.write_text(CHILD)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LISTEN_")}
    environment["PYTHONUNBUFFERED"] = "1"
    return subprocess.Popen(
        [
            "sh",
            "-c",
            # The socket comes in as the shell's stdin; it moves to descriptor 3.
            f'LISTEN_PID={pidVariable} LISTEN_FDS=1 exec "$0" "$1" "$2" 3<&0 0</dev/null',
            sys.executable,
            str(script),
            description,
        ],
        stdin=listening,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
    )


def stop(proc: subprocess.Popen[str], reader: LineReader) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    reader.thread.join(5)
    assert proc.stdout is not None
    proc.stdout.close()


def test_childServesOnTheSocketItWasPassed(tmp_path: Path) -> None:
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(5)
    number = listening.getsockname()[1]
    proc = startActivated(tmp_path, listening, "systemd:domain=INET:index=0")
    assert proc.stdout is not None
    reader = LineReader(proc.stdout)
    try:
        reader.waitFor(r"^ready", 30)
        listening.close()  # From now on only the child holds the socket.
        with socket.create_connection(("127.0.0.1", number), timeout=10) as s:
            s.sendall(b"activated\n")
            received = b""
            while len(received) < 10:
                chunk = s.recv(100)
                if not chunk:
                    break
                received += chunk
        assert received == b"activated\n"
    finally:
        listening.close()
        stop(proc, reader)
    assert proc.returncode == 0


def test_socketsForAnotherProcessAreRefused(tmp_path: Path) -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(5)
        proc = startActivated(tmp_path, listening, "systemd:domain=INET:index=0", pidVariable="1")
        assert proc.stdout is not None
        reader = LineReader(proc.stdout)
        try:
            line = reader.waitFor(r"bad description", 30)
            assert "LISTEN_PID is not this process" in line
            assert proc.wait(timeout=10) == 2
        finally:
            stop(proc, reader)
