"""Tests for torsion.logger._global: LogBeginner buffering and starting to log."""

import io
import types
import warnings
from typing import Any

import pytest

from torsion.logger import LogBeginner, Logger, LogLevel, LogPublisher, globalLogBeginner
from torsion.logger._io import LoggingFile


class FakeWarnings:
    def __init__(self) -> None:
        self.shown: list[tuple[Any, ...]] = []

    def showwarning(self, *args: Any) -> None:
        self.shown.append(args)


def makeBeginner(
    bufferSize: int = 100,
) -> tuple[LogBeginner, LogPublisher, io.StringIO, types.SimpleNamespace, FakeWarnings]:
    publisher = LogPublisher()
    errors = io.StringIO()
    stdio = types.SimpleNamespace(stdout="out", stderr="err")
    fakeWarnings = FakeWarnings()
    beginner = LogBeginner(publisher, errors, stdio, fakeWarnings, bufferSize)
    return beginner, publisher, errors, stdio, fakeWarnings


def test_eventsBeforeBeginningAreReplayed() -> None:
    beginner, publisher, _, _, _ = makeBeginner()
    Logger(observer=publisher).info("early {n}", n=1)
    seen: list[dict[str, Any]] = []
    beginner.beginLoggingTo([seen.append], redirectStandardIO=False)
    Logger(observer=publisher).info("late")
    assert [e["log_format"] for e in seen] == ["early {n}", "late"]


def test_bufferIsBounded() -> None:
    beginner, publisher, _, _, _ = makeBeginner(bufferSize=2)
    for n in range(5):
        publisher({"n": n})
    seen: list[dict[str, Any]] = []
    beginner.beginLoggingTo([seen.append], redirectStandardIO=False)
    assert [e["n"] for e in seen] == [3, 4]


def test_discardBufferDropsEarlyEvents() -> None:
    beginner, publisher, _, _, _ = makeBeginner()
    publisher({"n": 0})
    seen: list[dict[str, Any]] = []
    beginner.beginLoggingTo([seen.append], discardBuffer=True, redirectStandardIO=False)
    assert seen == []


def test_criticalEventsGoToErrorStreamBeforeBeginning() -> None:
    beginner, publisher, errors, _, _ = makeBeginner()
    Logger(observer=publisher).critical("disaster")
    Logger(observer=publisher).error("merely bad")
    assert "disaster" in errors.getvalue()
    assert "merely bad" not in errors.getvalue()
    beginner.beginLoggingTo([lambda e: None], redirectStandardIO=False)
    Logger(observer=publisher).critical("after")
    assert "after" not in errors.getvalue()


def test_redirectStandardIOReplacesStdoutAndStderr() -> None:
    beginner, _, _, stdio, _ = makeBeginner()
    seen: list[dict[str, Any]] = []
    beginner.beginLoggingTo([seen.append])
    assert isinstance(stdio.stdout, LoggingFile)
    stdio.stdout.write("printed\n")
    stdio.stderr.write("complained\n")
    assert [(e["log_io"], e["log_level"]) for e in seen] == [
        ("printed", LogLevel.info),
        ("complained", LogLevel.error),
    ]


def test_withoutRedirectStandardIOStdoutIsKept() -> None:
    beginner, _, _, stdio, _ = makeBeginner()
    beginner.beginLoggingTo([lambda e: None], redirectStandardIO=False)
    assert stdio.stdout == "out"


def test_warningsBecomeEvents() -> None:
    beginner, _, _, _, fakeWarnings = makeBeginner()
    seen: list[dict[str, Any]] = []
    beginner.beginLoggingTo([seen.append], redirectStandardIO=False)
    fakeWarnings.showwarning(DeprecationWarning("old"), DeprecationWarning, "f.py", 3)
    [event] = seen
    assert event["log_level"] is LogLevel.warn
    assert "f.py:3: builtins.DeprecationWarning: old" in str(event["log_format"]).format(**event)


def test_warningForAFileGoesToTheOldShowWarning() -> None:
    beginner, _, _, _, fakeWarnings = makeBeginner()
    seen: list[dict[str, Any]] = []
    beginner.beginLoggingTo([seen.append], redirectStandardIO=False)
    target = io.StringIO()
    warning = UserWarning("w")
    beginner.showwarning(warning, UserWarning, "f.py", 1, target)
    assert fakeWarnings.shown == [(warning, UserWarning, "f.py", 1, target, None)]
    assert seen == []


def test_beginningTwiceWarnsAndAddsBoth() -> None:
    beginner, _, _, _, _ = makeBeginner()
    first: list[dict[str, Any]] = []
    second: list[dict[str, Any]] = []
    beginner.beginLoggingTo([first.append], redirectStandardIO=False)
    beginner.beginLoggingTo([second.append], redirectStandardIO=False)
    [warning] = [e for e in first if e["log_level"] is LogLevel.warn]
    assert "selected twice" in warning["log_format"]
    assert warning in second


def test_globalPublisherBuffersUntilLoggingBegins() -> None:
    buffer = globalLogBeginner._initialBuffer
    if buffer is None:
        pytest.skip("something in this process began logging already")
    Logger(namespace="t.buffered").info("kept for later")
    seen: list[dict[str, Any]] = []
    buffer.replayTo(seen.append)
    assert "kept for later" in [
        e["log_format"] for e in seen if e.get("log_namespace") == "t.buffered"
    ]


def test_realWarningsModuleIsUntouchedByFakeBeginner() -> None:
    before = warnings.showwarning
    beginner, _, _, _, _ = makeBeginner()
    beginner.beginLoggingTo([lambda e: None], redirectStandardIO=False)
    assert warnings.showwarning is before
