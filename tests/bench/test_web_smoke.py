"""Tests of the HTTP benchmark harness: bench/web.py, _webserver.py and _slowclient.py.

The wrk report parser and the /proc readers are tested directly on known text and on
real child processes; a --quick run on the sides that need no extra venv (bare uvloop,
and torsion where torsion.web is there) proves the harness works end to end where wrk
is installed; the slow client is shown to count wrong answers and to report a refused
connection. Everything talks over 127.0.0.1 and every wait is bounded.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bench import _quickrun

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "bench" / "web.py"
SLOW_CLIENT = ROOT / "bench" / "_slowclient.py"

web = _quickrun.importBench("web")

WRK_OUTPUT = """\
Running 10s test @ http://127.0.0.1:8080/hello
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   635.91us    0.89ms  12.92ms   93.69%
    Req/Sec    56.20k     8.07k   62.00k    86.54%
  Latency Distribution
     50%  250.00us
     75%  491.00us
     90%    1.64ms
     99%    1.02s
  559436 requests in 10.10s, 68.29MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 12
Requests/sec:  55411.43
Transfer/sec:      6.76MB
"""


def test_parseWrkReadsEveryFigureInItsUnit() -> None:
    result = web.parseWrk(WRK_OUTPUT)
    assert result["requests"] == 559436
    assert result["seconds"] == pytest.approx(10.10)
    assert result["bytes"] == pytest.approx(68.29 * 2**20)
    assert result["rate"] == pytest.approx(55411.43)
    assert result["p50"] == pytest.approx(250e-6)
    assert result["p75"] == pytest.approx(491e-6)
    assert result["p90"] == pytest.approx(1.64e-3)
    assert result["p99"] == pytest.approx(1.02)
    assert result["socketErrors"] == 10
    assert result["non2xx"] == 12


def test_parseWrkWithoutErrorLinesCountsNone() -> None:
    clean = "\n".join(
        line for line in WRK_OUTPUT.splitlines() if "errors" not in line and "Non-2xx" not in line
    )
    result = web.parseWrk(clean)
    assert result["socketErrors"] == 0 and result["non2xx"] == 0


def test_parseWrkWithoutLatencyDistributionSaysWhy() -> None:
    without = WRK_OUTPUT.replace("     99%    1.02s\n", "")
    with pytest.raises(ValueError, match="--latency"):
        web.parseWrk(without)


def test_parseWrkOfAFailedRunShowsItsOutput() -> None:
    with pytest.raises(ValueError, match="unable to connect"):
        web.parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("12.5us", 12.5e-6), ("3ms", 3e-3), ("2.00s", 2.0), ("1.50m", 90.0), ("1.00h", 3600.0)],
)
def test_wrkSecondsUnits(text: str, seconds: float) -> None:
    assert web.wrkSeconds(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "size"), [("512B", 512), ("1.50KB", 1536), ("2MB", 2 * 2**20), ("1GB", 2**30)]
)
def test_wrkBytesUnitsArePowersOf1024(text: str, size: float) -> None:
    assert web.wrkBytes(text) == pytest.approx(size)


@pytest.mark.parametrize("text", ["", "12", "3 ms", "2x", "ms"])
def test_wrkUnitsRejectWhatWrkDoesNotPrint(text: str) -> None:
    with pytest.raises(ValueError):
        web.wrkSeconds(text)
    with pytest.raises(ValueError):
        web.wrkBytes(text)


BURNER = """\
import subprocess, sys, time
if sys.argv[1:] == ["child"]:
    end = time.process_time() + 0.5
    while time.process_time() < end:
        pass
    print("burnt", flush=True)
else:
    subprocess.Popen([sys.executable, __file__, "child"])
time.sleep(30)
"""


def test_treeCpuAndRssCoverChildren(tmp_path: Path) -> None:
    """A parent that sleeps while its child burns CPU: the child's time is counted."""
    script = tmp_path / "burner.py"
    script.write_text(BURNER)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "burnt"
        tree = web.processTree(parent.pid)
        assert len(tree) == 2 and tree[0] == parent.pid
        assert web.treeCpu(parent.pid) >= 0.45
        assert web.treeRss(parent.pid) > web.treeRss(tree[1]) > 0
    finally:
        for pid in web.processTree(parent.pid)[::-1]:
            os.kill(pid, signal.SIGTERM)
        parent.wait(timeout=10)


def test_unknownSideIsRejectedWithTheChoices() -> None:
    run = subprocess.run(
        [sys.executable, str(WEB), "--sides", "uvloop,nosuch"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "unknown side nosuch" in run.stderr and "twisted" in run.stderr


def torsionWebThere() -> bool:
    probe = [sys.executable, "-c", "import torsion.web.server, torsion.web.resource"]
    return subprocess.run(probe, capture_output=True).returncode == 0


@pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)"
)
def test_quickRunMeasuresEveryCase(tmp_path: Path) -> None:
    output = tmp_path / "medians.json"
    sides = ["uvloop", *(["torsion"] if torsionWebThere() else [])]
    run = subprocess.run(
        [sys.executable, str(WEB), "--quick", "--sides", ",".join(sides), "--json", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    document = json.loads(output.read_text())
    assert document["errors"] == []
    medians = {(row["case"], row["side"]): row for row in document["medians"]}
    for side in sides:
        hello = medians[("hello", side)]
        assert hello["rate"] > 0 and hello["requestsPerCpuSecond"] > 0
        assert 0 < hello["p50"] <= hello["p99"]
        slow = medians[("slow", side)]
        assert slow["served"] == slow["connections"] == document["settings"]["slowConnections"]
        assert slow["errors"] == 0
    # The bare protocol serves no files: the static case skips it, saying so.
    assert ("static", "uvloop") not in medians
    assert "uvloop (static)" in document["skipped"]
    assert "| uvloop |" in run.stdout and "requests per server CPU-s" in run.stdout


@pytest.fixture
def wrongAnswerPort() -> Iterator[int]:
    """A server on 127.0.0.1 answering its first request 200 and every later one 404."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(20)

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(20)
            status = b"200 OK"
            try:
                while b"\r\n\r\n" in conn.recv(4096):
                    conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\n\r\nhi")
                    status = b"404 Not Found"
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        thread.join(timeout=20)


def test_slowClientCountsWrongAnswers(wrongAnswerPort: int) -> None:
    argv = [sys.executable, str(SLOW_CLIENT), "127.0.0.1", str(wrongAnswerPort), "/x"]
    run = subprocess.run(
        [*argv, "1", "0.2", "1"], input="go\n", capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    opened, result = run.stdout.splitlines()
    assert opened.startswith("open 1 ")
    figures = web.fields(result)
    assert figures["requests"] >= 3
    assert figures["errors"] == figures["requests"] and figures["answered"] == 0
    assert figures["connections"] == 0


def test_slowClientReportsARefusedConnection() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # Nothing listens there once this closes.
    run = subprocess.run(
        [sys.executable, str(SLOW_CLIENT), "127.0.0.1", str(port), "/", "3", "1", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert "could not open" in run.stderr and "Connection refused" in run.stderr


def test_slowClientBadUsage() -> None:
    run = subprocess.run(
        [sys.executable, str(SLOW_CLIENT), "127.0.0.1", "80", "/", "many", "1", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert "whole numbers" in run.stderr
