"""Smoke tests of the Conch benchmark: bench/conch.py and bench/_conchworker.py.

A --quick run (8 MiB up and down with OpenSSH's scp) through torsion, and through
Twisted Conch and sshd where they can run here, proves the harness works end to end
over 127.0.0.1; the copy check is shown to catch a wrong copy, and the report's
second goal (a third of OpenSSH) is checked on made-up samples. Every wait is
bounded by a subprocess timeout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench import _quickrun
from tests.spread.peers import twistedPython

ROOT = Path(__file__).resolve().parents[2]
CONCH = ROOT / "bench" / "conch.py"

_conchworker = _quickrun.importBench("_conchworker")
benchconch = _quickrun.importBench("conch")

needsScp = pytest.mark.skipif(shutil.which("scp") is None, reason="OpenSSH's scp is missing")


def twistedConch() -> bool:
    python = twistedPython()
    if python is None:
        return False
    probe = [python, "-c", "import twisted.conch.ssh.transport, cryptography"]
    return subprocess.run(probe, capture_output=True, timeout=60).returncode == 0


@needsScp
def test_quickRunCopiesBothWaysThroughTorsion(tmp_path: Path) -> None:
    run, document = _quickrun.quickRun(CONCH, tmp_path, "--sides", "torsion", timeout=240)
    found = {(m["case"], m["side"]): m for m in document["medians"]}
    assert set(found) == {("up", "torsion"), ("down", "torsion")}
    for metrics in found.values():
        assert metrics["rate"] > 0 and metrics["perServerCpu"] > 0
    assert "scp MiB/s (wall clock, login included)" in run.stdout
    assert document["errors"] == []


@needsScp
def test_quickRunAgainstTwistedAndOpenSSH(tmp_path: Path) -> None:
    sides = ["torsion"]
    if twistedConch():
        sides.append("twisted")
    if os.geteuid() == 0 and _conchworker.SSHD is not None:
        sides.append("openssh")
    if len(sides) == 1:
        pytest.skip("neither Twisted Conch (bench/.venv-twisted) nor sshd (as root) is here")
    run, document = _quickrun.quickRun(
        CONCH, tmp_path, "--sides", ",".join(sides), "--cases", "down", timeout=300
    )
    assert {m["side"] for m in document["medians"]} == set(sides)
    assert document["errors"] == []
    if "twisted" in sides:
        assert "- torsion vs twisted, down, MiB/s:" in run.stdout
    if "openssh" in sides:
        assert "- torsion vs openssh, down, MiB/s:" in run.stdout


def test_aWrongOrMissingCopyIsRefused(tmp_path: Path) -> None:
    original, copy = tmp_path / "original", tmp_path / "copy"
    original.write_bytes(os.urandom(4096))
    with pytest.raises(SystemExit, match="left no"):
        _conchworker.checkCopy(original, copy)
    copy.write_bytes(original.read_bytes()[:-1] + b"\0")
    with pytest.raises(SystemExit, match="differs"):
        _conchworker.checkCopy(original, copy)
    copy.write_bytes(original.read_bytes())
    _conchworker.checkCopy(original, copy)


def samples(torsion: float, openssh: float) -> dict:
    return {
        ("down", side): [{"round": r, "rate": rate, "perServerCpu": rate, "serverLoad": 0.5}
                         for r in (1, 2, 3)]
        for side, rate in (("torsion", torsion), ("openssh", openssh))
    }  # fmt: skip


def test_theOpenSSHGoalIsAThird() -> None:
    met = benchconch.BENCH.goals(["down"], samples(40.0, 100.0))
    assert met[0] == "Goals (issue 14):"
    assert "- torsion vs openssh, down, MiB/s: 0.40x" in met[1] and met[1].endswith(": met")
    missed = benchconch.BENCH.goals(["down"], samples(30.0, 100.0))
    assert "0.30x" in missed[1] and missed[1].endswith("MISSED")


def test_badOptionsAreUsageErrors() -> None:
    for args in (["--sides", "nosuch"], ["--cases", "sideways"]):
        done = subprocess.run(
            [sys.executable, str(CONCH), *args], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2 and "choose from" in done.stderr


@needsScp
def test_quickRunWithEachServersFastestAlgorithms(tmp_path: Path) -> None:
    # scp asks for aes128-gcm@openssh.com only: the copy succeeds only if torsion
    # negotiated it (scp refuses a server without it).
    run, document = _quickrun.quickRun(
        CONCH, tmp_path, "--sides", "torsion", "--algorithms", "fastest", timeout=240
    )
    assert "aes128-gcm@openssh.com" in run.stdout
    assert {m["side"] for m in document["medians"]} == {"torsion"}
    assert document["errors"] == []
