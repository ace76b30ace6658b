"""Smoke tests of the DNS benchmark, bench/names.py.

A --quick run (one second of dnsperf per measurement) against ``torsiond dns`` and,
where bench/.venv-twisted has Twisted, against ``twistd dns`` proves the harness works
end to end; dnsperf's statistics are parsed from a recorded output, including the
answers that must fail a measurement; the report's goal line is checked on made-up
samples. Every wait is bounded by a subprocess timeout.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.bench import _quickrun

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "names.py"
TWISTED_PYTHON = ROOT / "bench" / ".venv-twisted" / "bin" / "python"

benchdns = _quickrun.importBench("names")

DNSPERF_OUTPUT = """\
Statistics:

  Queries sent:         11293
  Queries completed:    11290 (99.97%)
  Queries lost:         3 (0.03%)

  Response codes:       NOERROR 6777 (60.01%), SERVFAIL 2258 (19.99%), NXDOMAIN 2255 (19.99%)
  Average packet size:  request 31, response 44
  Run time (s):         5.002812
  Queries per second:   2257.330477

  Average Latency (s):  0.021987 (min 0.001356, max 0.064194)
"""


def test_dnsperfStatisticsParsed() -> None:
    figures = benchdns.dnsperfFigures(DNSPERF_OUTPUT)
    assert figures["sent"] == 11293 and figures["completed"] == 11290
    assert figures["lost"] == 3 and figures["rate"] == pytest.approx(2257.330477)
    assert figures["bad"] == 2258  # SERVFAIL counts against the side
    assert figures["latency"] == pytest.approx(0.021987)


def test_dnsperfOutputWithoutStatisticsIsAnError() -> None:
    with pytest.raises(benchdns.BenchError, match="dnsperf said no"):
        benchdns.dnsperfFigures("[Fatal] no servers")


def quickRun(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    if shutil.which("dnsperf") is None:
        pytest.skip("dnsperf is not installed (apt-get install dnsperf)")
    return _quickrun.quickRun(BENCH, tmp_path, *args, timeout=180)


def test_quickRunAgainstTwisted(tmp_path: Path) -> None:
    probe = [str(TWISTED_PYTHON), "-c", "import twisted"]
    if not TWISTED_PYTHON.exists() or subprocess.run(probe, capture_output=True).returncode:
        pytest.skip("bench/.venv-twisted lacks Twisted: run bench/names.py once")
    run, document = quickRun(tmp_path, "--cases", "mixed")
    found = {(m["case"], m["side"]): m for m in document["medians"]}
    assert set(found) == {("mixed", side) for side in benchdns.SIDES}
    for metrics in found.values():
        assert metrics["completed"] > 0 and metrics["perCpu"] > 0
    assert "- torsion vs twisted, mixed, queries/s:" in run.stdout
    assert "- torsion-nocache vs twisted, mixed, queries/s:" in run.stdout
    assert document["errors"] == []


def samples(ours: float, theirs: float) -> dict:
    return {
        ("a", side): [
            {"round": r, "rate": rate, "perCpu": rate, "load": 1.0, "latency": 1.0,
             "completed": rate}
            for r in (1, 2, 3)
        ]
        for side, rate in (("torsion", ours), ("twisted", theirs))
    }  # fmt: skip


def test_reportJudgesTheGoal() -> None:
    met = benchdns.report(["a"], ["torsion", "twisted"], samples(31_000.0, 10_000.0))
    assert "- torsion vs twisted, a, queries/s: 3.10x" in met and ": met" in met
    missed = benchdns.report(["a"], ["torsion", "twisted"], samples(20_000.0, 10_000.0))
    assert "2.00x" in missed and "MISSED" in missed
