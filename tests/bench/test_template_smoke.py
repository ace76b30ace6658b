"""Smoke tests of the template benchmark: bench/template.py and bench/_templateworker.py.

A --quick run on torsion (and, where its interpreter is there, Twisted) proves the
harness works end to end; the worker's pages are checked to be the table they claim to
be; a run whose sides made different pages is an error. Every wait is bounded by a
subprocess timeout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench import _quickrun
from tests.spread.peers import twistedPython

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "template.py"

_templateworker = _quickrun.importBench("_templateworker")
benchtemplate = _quickrun.importBench("template")


def quickRun(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    return _quickrun.quickRun(BENCH, tmp_path, *args, timeout=180)


def test_quickRunMeasuresEveryCaseOnTorsion(tmp_path: Path) -> None:
    run, document = quickRun(tmp_path, "--sides", "torsion")
    found = {(m["case"], m["side"]): m for m in document["medians"]}
    assert set(found) == {(case, "torsion") for case in benchtemplate.CASES}
    for metrics in found.values():
        assert metrics["perCpu"] > 0 and metrics["pages"] >= 1
        assert metrics["bytes"] > 90_000
    assert "Pages per CPU-second" in run.stdout
    assert document["errors"] == []


def test_quickRunAgainstTwisted(tmp_path: Path) -> None:
    if twistedPython() is None:
        pytest.skip("no Twisted interpreter (bench/.venv-twisted): .ci/run makes it")
    run, document = quickRun(tmp_path, "--sides", "torsion,twisted", "--cases", "xml")
    assert {m["side"] for m in document["medians"]} == {"torsion", "twisted"}
    assert "both sides made byte-identical pages" in run.stdout
    assert "| torsion | " in run.stdout and " vs Twisted |" in run.stdout


@pytest.mark.parametrize("case", _templateworker.CASES)
def test_workerPagesAreTheTable(case: str) -> None:
    make = _templateworker.pages("torsion")[case]
    from torsion.web.template import flattenString

    page = _templateworker.flattenOnce(flattenString, make).decode()
    assert page.count('<tr class="row">') == _templateworker.ROWS
    assert '<a href="/items/999">item 999</a>' in page
    assert "item 990 &lt;special&gt; &amp; co" in page
    assert page.startswith("<html>") and page.endswith("</html>")


def test_differentPagesAreAnError(monkeypatch: pytest.MonkeyPatch) -> None:
    benchtemplate.digests.clear()
    answers = iter(["a" * 64, "b" * 64])

    class Done:
        returncode = 0
        stderr = ""

        @property
        def stdout(self) -> str:
            return json.dumps(
                {"pages": 1, "seconds": 1, "cpu": 1, "bytes": 10, "sha256": next(answers)}
            )

    monkeypatch.setattr(benchtemplate.subprocess, "run", lambda *a, **k: Done())
    settings = benchtemplate.QUICK
    benchtemplate.measure("xml", "torsion", settings)
    with pytest.raises(benchtemplate.BenchError, match="different pages"):
        benchtemplate.measure("xml", "twisted", settings)
    benchtemplate.digests.clear()


def test_workerRefusesAnUnknownCase() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "_templateworker.py"),
            "torsion",
            "measure",
            "x",
            "1",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "usage:" in done.stderr
