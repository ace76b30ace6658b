"""Tests for torsion.internet.main, torsion.internet.reactor and torsion.internet.default.

Installing a reactor changes process-wide state, so most of these run in a child
Python process.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from torsion.internet import main
from torsion.internet.default import reactorClass
from torsion.internet.error import ReactorAlreadyInstalledError
from torsion.internet.selectreactor import SelectReactor

DEFAULT = reactorClass().__name__


def runPython(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_importingReactorInstallsDefaultReactor() -> None:
    result = runPython(
        """
        import sys
        from torsion.internet import reactor
        print(type(reactor).__name__, sys.modules["torsion.internet.reactor"] is reactor)
        """
    )
    assert result.stdout.strip() == f"{DEFAULT} True", result.stderr


def test_installedReactorIsWhatReactorImportGives() -> None:
    result = runPython(
        """
        from torsion.internet import selectreactor
        mine = selectreactor.install()
        from torsion.internet import reactor
        print(reactor is mine)
        """
    )
    assert result.stdout.strip() == "True", result.stderr


def test_secondInstallErrorSaysWhoInstalledWhatAndWhere() -> None:
    result = runPython(
        """
        from torsion.internet import reactor
        from torsion.internet import default
        try:
            default.install()
        except Exception as e:
            print(type(e).__name__)
            print(e)
        """
    )
    out = result.stdout
    assert out.startswith("ReactorAlreadyInstalledError"), result.stderr
    assert f"{DEFAULT} was installed at <string>:2" in out
    assert f"cannot also install {DEFAULT}" in out


def test_installReactorInProcessRaisesWhenOneIsInstalled() -> None:
    if "torsion.internet.reactor" in sys.modules:
        pytest.skip("a reactor is installed in this test process already")
    first, second = SelectReactor(), SelectReactor()
    try:
        main.installReactor(first)
        assert sys.modules["torsion.internet.reactor"] is first
        with pytest.raises(ReactorAlreadyInstalledError, match=r"test_main\.py"):
            main.installReactor(second)
    finally:
        main._uninstallReactor()
        for r in (first, second):
            r._close()
    assert "torsion.internet.reactor" not in sys.modules


def test_signalStopsRunningReactor() -> None:
    result = runPython(
        """
        import os, signal
        from torsion.internet import reactor
        reactor.callWhenRunning(os.kill, os.getpid(), signal.SIGTERM)
        reactor.callLater(10, print, "not stopped")
        reactor.addSystemEventTrigger("after", "shutdown", print, "shut down")
        reactor.run()
        print("returned", signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)
        """
    )
    assert result.stdout.split("\n")[:2] == ["shut down", "returned True"], result.stderr
