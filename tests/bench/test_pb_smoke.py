"""Smoke tests of the PB benchmark harness: bench/pb.py and bench/_pbworker.py.

A --quick run on torsion (and, where its interpreter is there, Twisted) proves the
harness works end to end over 127.0.0.1; the report's tables, ratios and goals are
checked on made-up samples; the worker's answer check is shown to catch a wrong echo.
Every wait is bounded by a subprocess timeout.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench import _quickrun
from tests.spread.peers import twistedPython

ROOT = Path(__file__).resolve().parents[2]
PB = ROOT / "bench" / "pb.py"

_pbworker = _quickrun.importBench("_pbworker")
benchpb = _quickrun.importBench("pb")


def quickRun(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    return _quickrun.quickRun(PB, tmp_path, *args, timeout=180)


def test_quickRunMeasuresEveryCaseOnTorsion(tmp_path: Path) -> None:
    run, document = quickRun(tmp_path, "--sides", "torsion")
    found = {(m["case"], m["side"]): m for m in document["medians"]}
    assert set(found) == {(case, "torsion") for case in benchpb.CASES}
    for metrics in found.values():
        assert metrics["rate"] > 0 and metrics["calls"] >= 1
        assert metrics["perCpu"] > 0
        # The server's CPU is read from /proc in clock ticks (10 ms): in a --quick
        # window on a busy machine it may have had none, and then no rate is made up.
        assert metrics["perServerCpu"] > 0 or metrics["serverLoad"] == 0
    assert "Round trips per second (wall clock)" in run.stdout
    assert document["errors"] == []


def test_quickRunAgainstTwisted(tmp_path: Path) -> None:
    if twistedPython() is None:
        pytest.skip("no Twisted interpreter (bench/.venv-twisted): .ci/run makes it")
    run, document = quickRun(tmp_path, "--sides", "torsion,twisted", "--cases", "small,list-16")
    sides = {m["side"] for m in document["medians"]}
    assert sides == {"torsion", "twisted"}
    assert "Goals (issue 8):" in run.stdout
    assert "- torsion vs twisted, list-16, round trips/s:" in run.stdout


def test_oneClientCanDriveEveryServer(tmp_path: Path) -> None:
    run, document = quickRun(
        tmp_path, "--sides", "torsion,torsion-uvloop", "--cases", "small", "--client", "torsion"
    )
    assert "every server driven by the torsion client" in run.stdout
    assert {m["side"] for m in document["medians"]} == {"torsion", "torsion-uvloop"}


def test_casesNameThePayloadAndTheCallsInFlight() -> None:
    assert benchpb.caseCall("small") == ("small", 1)
    assert benchpb.caseCall("list-16") == ("list", 16)
    sent = _pbworker.payload("list")
    assert len(sent) == 1000 and sent[7] == {"id": 7, "name": "item-7", "price": 1.5}
    assert _pbworker.correct("list", sent, [dict(d) for d in sent])
    assert not _pbworker.correct("list", sent, sent[:-1])
    assert not _pbworker.correct("list", sent, [*sent[:-1], {"id": 0}])
    assert not _pbworker.correct("small", 1, 2)


def samples(ours: float, theirs: float) -> dict:
    runs = {}
    for side, rate in (("torsion", ours), ("twisted", theirs)):
        runs[("small", side)] = [
            {"round": r, "rate": rate * r, "perCpu": rate, "perServerCpu": rate * 2,
             "serverLoad": 0.5, "clientLoad": 0.5, "calls": 10}
            for r in (1, 2, 3)
        ]  # fmt: skip
    return runs


def test_reportShowsRatiosToTwistedAndTheGoal() -> None:
    text = benchpb.report(["small"], ["torsion", "twisted"], samples(300.0, 100.0))
    assert "| torsion | 600 | 3.00x |" in text
    assert "| twisted | 200 | 1.00x |" in text
    assert "Server CPU load" in text and "| torsion | 50% |" in text
    assert "- torsion vs twisted, small, round trips/s: 3.00x" in text and ": met" in text
    missed = benchpb.report(["small"], ["torsion", "twisted"], samples(150.0, 100.0))
    assert "1.50x" in missed and "MISSED" in missed


def test_badOptionsAreUsageErrors() -> None:
    for args in (["--sides", "nosuch"], ["--cases", "huge"], ["--client", "nosuch"]):
        done = subprocess.run(
            [sys.executable, str(PB), *args], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2 and "choose from" in done.stderr
