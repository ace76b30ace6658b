"""The ``torsion`` command: its sub-commands, help, and tapconvert through it."""

from __future__ import annotations

import re
from pathlib import Path

from tests.scripts.torsiondkit import Runner, assertOneLineError
from torsion import __version__
from torsion.persisted import sob


def test_helpListsTheCommands(runner: Runner) -> None:
    done = runner.torsion("--help")
    assert done.returncode == 0
    assert done.stdout.startswith("Usage: torsion COMMAND [options]\n")
    for command in ("mktap", "tapconvert", "mkunit", "passwd"):
        assert re.search(rf"^  {command} +\S", done.stdout, re.M), command


def test_version(runner: Runner) -> None:
    assert runner.torsion("--version").stdout == f"torsion (torsion) {__version__}\n"


def test_aCommandIsNeeded(runner: Runner) -> None:
    assertOneLineError(
        runner.torsion(),
        "give a command: mktap, tapconvert, mkunit or passwd",
        status=2,
        program="torsion",
    )
    assertOneLineError(
        runner.torsion("frobnicate"), "unknown command: frobnicate", status=2, program="torsion"
    )


def test_tapconvertConverts(runner: Runner, tmp_path: Path) -> None:
    assert runner.torsion("mktap", "echo").returncode == 0
    done = runner.torsion("tapconvert", "-i", "echo.tap", "-o", "echo.tas")
    assert (done.returncode, done.stderr) == (0, "")
    assert "Instance('torsion.tap.echo.EchoFactory')" in (tmp_path / "echo.tas").read_text()
    converted = sob.load(str(tmp_path / "echo.tas"), "source")
    assert sob.IPersistable(converted).name == "echo"


def test_tapconvertErrorsNameTheCommand(runner: Runner) -> None:
    done = runner.torsion("tapconvert", "-i", "nothere.tap", "-o", "x.tas")
    assertOneLineError(done, "cannot read nothere.tap", program="torsion tapconvert")
    done = runner.torsion("tapconvert", "-i", "x.tap")
    assert done.returncode == 2
    assert "torsion tapconvert: error: the following arguments are required: -o" in done.stderr
    done = runner.torsion("tapconvert", "--help")
    assert done.returncode == 0 and done.stdout.startswith("usage: torsion tapconvert")
