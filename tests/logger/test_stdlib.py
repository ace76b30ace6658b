"""Tests for torsion.logger._stdlib: the bridges with the standard library's logging."""

import logging
from typing import Any

import pytest

from tests.logger.helpers import RecordingHandler
from torsion.logger import (
    Logger,
    LogLevel,
    LogPublisher,
    STDLibLogObserver,
    TorsionLogHandler,
    formatEvent,
)
from torsion.logger._stdlib import fromStdlibLevel, toStdlibLevel
from torsion.python import log
from torsion.python.failure import Failure


@pytest.mark.parametrize("level", list(LogLevel))
def test_levelsMapBothWays(level: LogLevel) -> None:
    assert fromStdlibLevel(toStdlibLevel(level)) is level


def test_inBetweenStdlibLevelsRoundDown() -> None:
    assert fromStdlibLevel(logging.INFO + 5) is LogLevel.info
    assert fromStdlibLevel(1) is LogLevel.debug


def test_torsionEventBecomesStdlibRecord(stdlibLogger: logging.Logger) -> None:
    handler = RecordingHandler()
    stdlibLogger.addHandler(handler)
    logger = Logger(observer=STDLibLogObserver(stdlibLogger.name))
    logger.warn("{n} clients", n=3)
    [record] = handler.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "3 clients"


def test_failureBecomesExcInfo(stdlibLogger: logging.Logger) -> None:
    handler = RecordingHandler()
    stdlibLogger.addHandler(handler)
    try:
        raise ValueError("kaboom")
    except ValueError:
        Logger(observer=STDLibLogObserver(stdlibLogger.name)).failure("oops")
    [record] = handler.records
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)
    assert "kaboom" in logging.Formatter().format(record)


def test_disabledStdlibLevelIsSkipped(stdlibLogger: logging.Logger) -> None:
    handler = RecordingHandler()
    stdlibLogger.addHandler(handler)
    stdlibLogger.setLevel(logging.ERROR)
    Logger(observer=STDLibLogObserver(stdlibLogger.name)).info("quiet")
    assert handler.records == []


def test_stdlibRecordBecomesTorsionEvent(stdlibLogger: logging.Logger) -> None:
    events: list[dict[str, Any]] = []
    stdlibLogger.addHandler(TorsionLogHandler(events.append))
    log.callWithContext({"system": "sys"}, stdlibLogger.error, "%d {not a field}", 5)
    [event] = events
    assert formatEvent(event) == "5 {not a field}"
    assert event["log_level"] is LogLevel.error
    assert event["log_namespace"] == stdlibLogger.name
    assert event["log_system"] == "sys"


def test_stdlibExceptionBecomesLogFailure(stdlibLogger: logging.Logger) -> None:
    events: list[dict[str, Any]] = []
    stdlibLogger.addHandler(TorsionLogHandler(events.append))
    try:
        raise KeyError("k")
    except KeyError:
        stdlibLogger.exception("lookup failed")
    [event] = events
    assert isinstance(event["log_failure"], Failure)
    assert isinstance(event["log_failure"].value, KeyError)


def test_handlerErrorsGoToHandleError(stdlibLogger: logging.Logger) -> None:
    errors: list[logging.LogRecord] = []

    def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("publisher bug")

    handler = TorsionLogHandler(broken)
    handler.handleError = errors.append  # type: ignore[method-assign, assignment]
    stdlibLogger.addHandler(handler)
    stdlibLogger.error("x")
    assert len(errors) == 1


def test_bothBridgesInstalledDoNotLoop(stdlibLogger: logging.Logger) -> None:
    publisher = LogPublisher()
    recorded = RecordingHandler()
    stdlibLogger.addHandler(recorded)
    stdlibLogger.addHandler(TorsionLogHandler(publisher))
    events: list[dict[str, Any]] = []
    publisher.addObserver(events.append)
    publisher.addObserver(STDLibLogObserver(stdlibLogger.name))

    Logger(observer=publisher).info("from torsion")
    stdlibLogger.info("from stdlib")

    assert [formatEvent(e) for e in events] == ["from torsion", "from stdlib"]
    assert [r.getMessage() for r in recorded.records] == ["from torsion", "from stdlib"]
