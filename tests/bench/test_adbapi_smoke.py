"""Smoke tests of the adbapi benchmark: bench/adbapi.py and bench/_adbapiworker.py.

A --quick run (500 calls, one round, its own PostgreSQL server) on torsion and, where
bench/.venv-twisted has Twisted and psycopg, on Twisted proves the harness works end
to end; the report's ratios and goal are checked on made-up samples; the worker's
answer check is shown to catch a wrong row. Every wait is bounded by a subprocess
timeout.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.bench import _quickrun
from tests.enterprise.postgres import PostgresUnavailable, findBinaries
from torsion.internet.defer import Deferred, succeed

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "adbapi.py"
TWISTED_PYTHON = ROOT / "bench" / ".venv-twisted" / "bin" / "python"

_adbapiworker = _quickrun.importBench("_adbapiworker")
benchadbapi = _quickrun.importBench("adbapi")


def requirePostgres() -> None:
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install 'psycopg[binary]'")
    try:
        findBinaries()
    except PostgresUnavailable as e:
        pytest.skip(str(e))


def quickRun(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    requirePostgres()
    return _quickrun.quickRun(BENCH, tmp_path, *args, timeout=240)


def test_quickRunMeasuresEveryCaseOnTorsion(tmp_path: Path) -> None:
    run, document = quickRun(tmp_path, "--sides", "torsion")
    found = {(m["case"], m["side"]): m for m in document["medians"]}
    assert set(found) == {(case, "torsion") for case in benchadbapi.CASES}
    for metrics in found.values():
        assert metrics["calls"] == 500
        assert metrics["rate"] > 0 and metrics["perCpu"] > 0
    assert "runQuery calls per second (wall clock)" in run.stdout
    assert "500 runQuery calls per measurement by 10 callers" in run.stdout
    assert document["errors"] == []


def test_quickRunAgainstTwisted(tmp_path: Path) -> None:
    probe = [str(TWISTED_PYTHON), "-c", "import twisted, psycopg"]
    if not TWISTED_PYTHON.exists() or subprocess.run(probe, capture_output=True).returncode:
        pytest.skip("bench/.venv-twisted lacks Twisted or psycopg: run bench/adbapi.py once")
    run, document = quickRun(tmp_path, "--sides", "torsion,twisted", "--cases", "indexed")
    assert {m["side"] for m in document["medians"]} == {"torsion", "twisted"}
    assert "- torsion vs twisted, indexed, calls/s:" in run.stdout


class WrongPool:
    """A pool whose every runQuery answers with a row the case does not expect."""

    def __init__(self) -> None:
        self.calls = 0

    def runQuery(self, *args: Any) -> Deferred[list[tuple[int]]]:
        self.calls += 1
        return succeed([(2,)])


def test_workerRejectsAWrongAnswer() -> None:
    finished: list[bool] = []
    pool = WrongPool()
    run = _adbapiworker.Run(pool, "select1", 100, 3, lambda: finished.append(True))
    run.start()
    assert finished == [True] and run.result is None
    assert run.failed is not None and "wrong answer" in run.failed
    assert pool.calls == 1  # no call starts after a wrong answer


def test_casesCycleThroughTheTable() -> None:
    assert _adbapiworker.query("select1", 5) == ("SELECT 1", ())
    sql, args = _adbapiworker.query("indexed", 1000)
    assert "WHERE id = %s" in sql and args == (1,)
    assert _adbapiworker.expected("indexed", 6) == [("item-7",)]


def samples(ours: float, theirs: float) -> dict:
    runs = {}
    for side, rate in (("torsion", ours), ("twisted", theirs)):
        runs[("select1", side)] = [
            {"round": r, "rate": rate * r, "perCpu": rate, "load": 0.5,
             "microseconds": 1e6 / rate, "calls": 10}
            for r in (1, 2, 3)
        ]  # fmt: skip
    return runs


def test_reportShowsRatiosToTwistedAndTheGoal() -> None:
    text = benchadbapi.report(["select1"], ["torsion", "twisted"], samples(300.0, 100.0))
    assert "| torsion | 600 | 3.00x |" in text
    assert "| twisted | 200 | 1.00x |" in text
    assert "- torsion vs twisted, select1, calls/s: 3.00x" in text and ": met" in text
    missed = benchadbapi.report(["select1"], ["torsion", "twisted"], samples(90.0, 100.0))
    assert "0.90x" in missed and "MISSED" in missed


def test_badOptionsAreUsageErrors() -> None:
    for args in (["--sides", "nosuch"], ["--cases", "huge"], ["--profile", "nosuch"]):
        done = subprocess.run(
            [sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2 and "choose from" in done.stderr
