"""Tests for torsion.internet.utils: getProcessOutput and friends, and warning suppression.

Real children on every reactor for the behaviour; a MemoryReactor, whose pretend child
the test plays, for the exact order of events.
"""

from __future__ import annotations

import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from torsion.internet import defer, error, utils
from torsion.internet.testing import MemoryReactor

reactor = reactormixins.reactor

PYTHON = sys.executable


def script(code: str) -> tuple[str, list[str]]:
    """The program and arguments (after its name) that run ``code`` in Python."""
    return PYTHON, ["-c", code]


# -- getProcessOutput -------------------------------------------------------------------------


def test_getProcessOutputFiresWithStdout(reactor: Any) -> None:
    d = utils.getProcessOutput("sh", ["-c", "echo hello; echo world"], reactor=reactor)
    assert runUntilFired(reactor, d) == b"hello\nworld\n"


def test_getProcessOutputFiresWhateverTheExitCode(reactor: Any) -> None:
    d = utils.getProcessOutput("sh", ["-c", "echo partial; exit 4"], reactor=reactor)
    assert runUntilFired(reactor, d) == b"partial\n"


def test_getProcessOutputFailsOnStderr(reactor: Any) -> None:
    d = utils.getProcessOutput("sh", ["-c", "echo oops >&2; sleep 0.1"], reactor=reactor)
    with pytest.raises(IOError, match=r"wrote to stderr: b'oops\\n'.*errortoo=True") as info:
        runUntilFired(reactor, d)
    ended = info.value.processEnded  # type: ignore[attr-defined]
    assert isinstance(ended, defer.Deferred)
    with pytest.raises(error.ProcessDone):
        runUntilFired(reactor, ended)


def test_afterTheStderrFailureProcessEndedFailsWithTheExitReason(reactor: Any) -> None:
    d = utils.getProcessOutput("sh", ["-c", "echo oops >&2; exit 2"], reactor=reactor)
    failures: list[Any] = []
    d.addErrback(failures.append)
    runUntilFired(reactor, d)
    ended = failures[0].value.processEnded
    with pytest.raises(error.ProcessTerminated):
        runUntilFired(reactor, ended)


def test_getProcessOutputErrortooCollectsBoth(reactor: Any) -> None:
    d = utils.getProcessOutput(
        "sh", ["-c", "echo out; sleep 0.05; echo err >&2"], reactor=reactor, errortoo=True
    )
    assert runUntilFired(reactor, d) == b"out\nerr\n"


def test_getProcessOutputPassesEnvAndPath(reactor: Any, tmp_path: Path) -> None:
    d = utils.getProcessOutput(
        "sh",
        ["-c", 'echo "$GREETING"; pwd'],
        env={"GREETING": "hi"},
        path=str(tmp_path),
        reactor=reactor,
    )
    assert runUntilFired(reactor, d).split() == [b"hi", str(tmp_path.resolve()).encode()]


def test_theDefaultEnvironmentIsEmpty(reactor: Any) -> None:
    d = utils.getProcessOutput("env", reactor=reactor)
    assert runUntilFired(reactor, d) == b""


def test_aProgramThatCannotStartGivesAFailedDeferred(reactor: Any) -> None:
    d = utils.getProcessOutput("no-such-program-here", reactor=reactor)
    with pytest.raises(FileNotFoundError, match="no-such-program-here"):
        runUntilFired(reactor, d)


def test_cancellingKillsTheChild(reactor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    spawned: list[Any] = []
    spawnProcess = reactor.spawnProcess

    def spying(*args: Any, **kwargs: Any) -> Any:
        spawned.append(spawnProcess(*args, **kwargs))
        return spawned[-1]

    monkeypatch.setattr(reactor, "spawnProcess", spying)
    d = utils.getProcessOutputAndValue("sleep", ["30"], reactor=reactor)
    d.cancel()
    with pytest.raises(defer.CancelledError):
        runUntilFired(reactor, d)
    runUntil(reactor, lambda: spawned[0].pid is None)
    assert os.WTERMSIG(spawned[0].status) == signal.SIGKILL


# -- getProcessValue and getProcessOutputAndValue -------------------------------------------


def test_getProcessValueFiresWithTheExitCode(reactor: Any) -> None:
    assert (
        runUntilFired(reactor, utils.getProcessValue("sh", ["-c", "exit 9"], reactor=reactor)) == 9
    )
    assert runUntilFired(reactor, utils.getProcessValue("true", reactor=reactor)) == 0


def test_getProcessValueFiresWithNoneForASignal(reactor: Any) -> None:
    d = utils.getProcessValue(*script("import os; os.kill(os.getpid(), 9)"), reactor=reactor)
    assert runUntilFired(reactor, d) is None


def test_getProcessOutputAndValueFiresWithTheTriple(reactor: Any) -> None:
    d = utils.getProcessOutputAndValue(
        "sh", ["-c", "echo out; echo err >&2; exit 3"], reactor=reactor
    )
    assert runUntilFired(reactor, d) == (b"out\n", b"err\n", 3)


def test_getProcessOutputAndValueFailsWithTheTripleOnASignal(reactor: Any) -> None:
    d = utils.getProcessOutputAndValue(
        *script(
            "import os, sys; sys.stdout.write('o'); sys.stdout.flush(); "
            "sys.stderr.write('e'); sys.stderr.flush(); os.kill(os.getpid(), 15)"
        ),
        reactor=reactor,
    )
    with pytest.raises(utils.SignalledProcessOutput) as info:
        runUntilFired(reactor, d)
    out, err, number = info.value
    assert (out, err, number) == (b"o", b"e", signal.SIGTERM)
    assert info.value[2] == signal.SIGTERM and len(info.value) == 3
    assert "signal 15" in str(info.value)


# -- the exact order of events, with a pretend child ------------------------------------


def test_theArgumentsGoAfterTheProgramsName() -> None:
    memory = MemoryReactor()
    utils.getProcessValue("prog", ["a", "b"], env={"X": "1"}, path="/tmp", reactor=memory)
    _, executable, args, env, path = memory.spawnedProcesses[0][:5]
    assert (executable, tuple(args), env, path) == ("prog", ("prog", "a", "b"), {"X": "1"}, "/tmp")


def test_outputArrivingAfterTheStderrFailureIsIgnored() -> None:
    memory = MemoryReactor()
    d = utils.getProcessOutput("prog", reactor=memory)
    child = memory.spawnedProcesses[0][0].transport
    child.childWrites(1, b"some")
    child.childWrites(2, b"bad")
    failures: list[Any] = []
    d.addErrback(failures.append)
    assert failures and isinstance(failures[0].value, IOError)
    assert child.openFDs == set()  # the pipes were closed
    child.childWrites(2, b"more")  # ignored
    ended: list[Any] = []
    failures[0].value.processEnded.addErrback(ended.append)
    child.exit(1)
    assert ended[0].check(error.ProcessTerminated)


def test_cancellingAfterTheEndDoesNothing() -> None:
    memory = MemoryReactor()
    d = utils.getProcessOutputAndValue("prog", reactor=memory)
    child = memory.spawnedProcesses[0][0].transport
    child.childWrites(1, b"out")
    child.exit(0)
    results: list[Any] = []
    d.addCallback(results.append)
    d.cancel()
    assert results == [(b"out", b"", 0)]
    assert child.signals == []


def test_cancellingWhileRunningSendsKill() -> None:
    memory = MemoryReactor()
    d = utils.getProcessOutput("prog", reactor=memory)
    child = memory.spawnedProcesses[0][0].transport
    d.addErrback(lambda f: f.trap(defer.CancelledError))
    d.cancel()
    assert child.signals == [signal.SIGKILL]
    child.exit(signal=signal.SIGKILL)  # the Deferred has fired already: nothing happens


def test_withoutAReactorTheGlobalOneIsUsed(monkeypatch: pytest.MonkeyPatch) -> None:
    import torsion.internet

    memory = MemoryReactor()
    monkeypatch.setitem(sys.modules, "torsion.internet.reactor", memory)
    monkeypatch.setattr(torsion.internet, "reactor", memory, raising=False)
    utils.getProcessValue("prog")
    assert memory.spawnedProcesses[0][1] == "prog"


# -- warnings -----------------------------------------------------------------------------


def warn(message: str, category: type[Warning] = DeprecationWarning) -> str:
    warnings.warn(message, category, stacklevel=2)
    return "returned"


def test_runWithWarningsSuppressedFiltersDuringTheCall() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = utils.runWithWarningsSuppressed(
            [(("ignore",), {"category": DeprecationWarning})], warn, "hidden"
        )
        assert result == "returned"
        assert caught == []
        warn("shown", UserWarning)
        utils.runWithWarningsSuppressed([(("ignore",), {"message": "hid"})], warn, "hidden too")
        warn("shown again")
    assert [str(w.message) for w in caught] == ["shown", "shown again"]


def test_suppressWarningsWrapsAFunction() -> None:
    quiet = utils.suppressWarnings(warn, (("ignore",), {"category": DeprecationWarning}))
    assert quiet.__name__ == "warn"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert quiet("hidden") == "returned"
        warn("shown")
    assert [str(w.message) for w in caught] == ["shown"]
