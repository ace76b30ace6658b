"""Tests for torsion.logger._io: LoggingFile turns written lines into events."""

from typing import Any

import pytest

from torsion.logger import Logger, LoggingFile, LogLevel


def makeFile(level: LogLevel = LogLevel.info) -> tuple[LoggingFile, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    return LoggingFile(Logger(namespace="stdout", observer=events.append), level), events


def test_eachCompleteLineIsAnEvent() -> None:
    f, events = makeFile(LogLevel.error)
    f.write("one\ntw")
    f.write("o\n")
    assert [e["log_io"] for e in events] == ["one", "two"]
    assert all(e["log_level"] is LogLevel.error for e in events)


def test_printWorks() -> None:
    f, events = makeFile()
    print("hello", 1, file=f)
    assert [e["log_io"] for e in events] == ["hello 1"]


def test_bytesAreDecoded() -> None:
    f, events = makeFile()
    f.writelines([b"caf\xc3\xa9\n"])
    assert events[0]["log_io"] == "café"


def test_writeAfterCloseRaises() -> None:
    f, _ = makeFile()
    f.close()
    with pytest.raises(ValueError):
        f.write("x")


def test_hasNoFileDescriptor() -> None:
    f, _ = makeFile()
    assert not f.isatty()
    with pytest.raises(OSError):
        f.fileno()
