"""Tests of the HTTP/2 benchmark harness: bench/h2.py, _h2bench.py and _h2server.py.

The h2load report parser is tested on known text; a --quick run of the torsion sides
(which need no extra venv) proves the harness works end to end where h2load is
installed; and bench/h2.py, imported as "h2" from bench/, hands over the h2 library.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench import _quickrun

ROOT = Path(__file__).resolve().parents[2]
H2 = ROOT / "bench" / "h2.py"

bench = _quickrun.importBench("_h2bench")

H2LOAD_OUTPUT = """\
starting benchmark...
spawning thread #0: 10 total client(s). 100000 total requests
TLS Protocol: TLSv1.3
Application protocol: h2
finished in 10.00s, 12345.60 req/s, 500.00KB/s
requests: 123456 total, 123457 started, 123456 done, 123450 succeeded, 6 failed, 2 errored, 0 timeout
status codes: 123440 2xx, 0 3xx, 10 4xx, 0 5xx
traffic: 5.00MB (5242880) total, 1.00MB (1048576) headers (space savings 90.00%), 1.50MB (1572864) data
"""  # noqa: E501


def test_parseH2loadReadsEveryFigure() -> None:
    figures = bench.parseH2load(H2LOAD_OUTPUT)
    assert figures["seconds"] == pytest.approx(10.0)
    assert figures["rate"] == pytest.approx(12345.6)
    assert figures["done"] == 123456
    assert figures["succeeded"] == 123450
    assert figures["failed"] == 6 and figures["errored"] == 2
    assert figures["non2xx"] == 10
    assert figures["dataBytes"] == 1572864
    assert figures["h2"] == 1.0


def test_parseH2loadOfAFailedRunShowsItsOutput() -> None:
    with pytest.raises(bench.BenchError, match=r"connect to 127\.0\.0\.1 failed"):
        bench.parseH2load("starting benchmark...\nconnect to 127.0.0.1 failed\n")


def test_unknownSideIsRejectedWithTheChoices() -> None:
    done = subprocess.run(
        [sys.executable, str(H2), "--sides", "torsion,nginx"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "unknown side nginx: choose from torsion, twisted, torsion-h2c" in done.stderr


def test_importingH2FromBenchGivesTheLibrary() -> None:
    probe = "import h2.config, h2.connection; print(h2.__file__)"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT / "bench"
    )
    assert done.returncode == 0, done.stderr
    assert "site-packages" in done.stdout or "dist-packages" in done.stdout


@pytest.mark.skipif(shutil.which("h2load") is None, reason="h2load is not installed")
def test_quickRunMeasures(tmp_path: Path) -> None:
    output = tmp_path / "h2.json"
    done = subprocess.run(
        [sys.executable, str(H2), "--quick", "--sides", "torsion,torsion-h2c",
         "--cases", "hello", "--json", str(output)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(output.read_text())
    assert result["errors"] == []
    for case in ("hello",):
        for side in ("torsion", "torsion-h2c"):
            figures = result["medians"][f"{case} {side}"]
            assert figures["rate"] > 0 and figures["requests"] > 0
    assert "| torsion |" in done.stdout
