"""Tests for torsion.internet.default and each reactor module's ``install()``.

Installing a reactor changes process-wide state, so the installs run in a child
Python process; this test process's global reactor (if any) is never touched.
"""

from __future__ import annotations

import selectors
import subprocess
import sys
import textwrap
import types
from typing import Any, cast

import pytest

from torsion.internet import default
from torsion.internet.pollreactor import PollReactor
from torsion.internet.selectreactor import SelectReactor


def runPython(code: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *options, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_defaultPrefersEpollThenKqueueThenPollThenSelect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fakeKqueue = types.ModuleType("torsion.internet.kqreactor")

    class KQueueReactor:
        pass

    fakeKqueue.KQueueReactor = KQueueReactor  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torsion.internet.kqreactor", fakeKqueue)
    monkeypatch.setattr(selectors, "EpollSelector", object, raising=False)
    monkeypatch.setattr(selectors, "KqueueSelector", object, raising=False)
    monkeypatch.setattr(selectors, "PollSelector", object, raising=False)
    assert default.reactorClass().__name__ == "EPollReactor"
    monkeypatch.delattr(selectors, "EpollSelector")
    assert default.reactorClass() is cast(Any, KQueueReactor)
    monkeypatch.delattr(selectors, "KqueueSelector")
    assert default.reactorClass() is PollReactor
    monkeypatch.delattr(selectors, "PollSelector")
    assert default.reactorClass() is SelectReactor


@pytest.mark.skipif(sys.platform != "linux", reason="epoll is the default on Linux only")
def test_importingReactorInstallsEpollOnLinux() -> None:
    result = runPython(
        """
        from torsion.internet import reactor
        print(type(reactor).__name__, type(reactor._poller).__name__)
        """
    )
    assert result.stdout.strip() == "EPollReactor epoll", result.stderr


INSTALLS = {
    "selectreactor": "SelectReactor",
    "pollreactor": "PollReactor",
    "epollreactor": "EPollReactor",
    "kqreactor": "KQueueReactor",
    "asyncioreactor": "AsyncioSelectorReactor",
}


@pytest.mark.parametrize("module", sorted(INSTALLS))
def test_eachReactorModuleInstallsItsReactor(module: str) -> None:
    result = runPython(
        f"""
        try:
            from torsion.internet import {module}
        except ImportError:
            print("unavailable")
            raise SystemExit
        installed = {module}.install()
        from torsion.internet import reactor
        print(type(reactor).__name__, reactor is installed)
        """
    )
    if result.stdout.strip() == "unavailable":
        pytest.skip(f"{module} does not work on {sys.platform}")
    assert result.stdout.strip() == f"{INSTALLS[module]} True", result.stderr


def test_secondInstallRaisesClearErrorAndKeepsFirst() -> None:
    result = runPython(
        """
        import gc
        from torsion.internet import pollreactor, selectreactor
        first = pollreactor.install()
        try:
            selectreactor.install()
        except Exception as e:
            print(type(e).__name__)
            print(e)
        from torsion.internet import reactor
        print(reactor is first)
        gc.collect()
        first._close()
        """,
        "-W",
        "error::ResourceWarning",
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "ReactorAlreadyInstalledError", result.stderr
    assert "PollReactor was installed at <string>:4" in lines[1]
    assert "cannot also install SelectReactor" in lines[1]
    assert lines[2] == "True"
    # The reactor that could not be installed was closed, not left to the collector.
    assert "ResourceWarning" not in result.stderr


def test_installAfterReactorImportTellsToInstallFirst() -> None:
    result = runPython(
        """
        from torsion.internet import reactor
        from torsion.internet import asyncioreactor
        try:
            asyncioreactor.install()
        except Exception as e:
            print(type(e).__name__, e)
        """
    )
    out = result.stdout
    assert out.startswith("ReactorAlreadyInstalledError"), result.stderr
    assert f"{default.reactorClass().__name__} was installed at <string>:2" in out
    assert "cannot also install AsyncioSelectorReactor" in out
    assert "before anything imports torsion.internet.reactor" in out
