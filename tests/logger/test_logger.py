"""Tests for torsion.logger._logger: the events a Logger emits."""

from typing import Any

import pytest

from torsion.logger import InvalidLogLevelError, Logger, LogLevel, globalLogPublisher
from torsion.python import log
from torsion.python.failure import Failure


@pytest.fixture
def events() -> list[dict[str, Any]]:
    return []


def test_namespaceDefaultsToCallingModule() -> None:
    assert Logger().namespace == __name__


def test_emitBuildsEventWithStandardKeys(events: list[dict[str, Any]]) -> None:
    logger = Logger(namespace="ns", source="src", observer=events.append)
    logger.emit(LogLevel.warn, "hello {who}", who="world")
    [event] = events
    assert event["who"] == "world"
    assert event["log_format"] == "hello {who}"
    assert event["log_level"] is LogLevel.warn
    assert event["log_namespace"] == "ns"
    assert event["log_source"] == "src"
    assert event["log_logger"] is logger
    assert isinstance(event["log_time"], float)
    assert event["log_system"] == "-"


@pytest.mark.parametrize("level", list(LogLevel))
def test_levelMethodsEmitAtTheirLevel(events: list[dict[str, Any]], level: LogLevel) -> None:
    getattr(Logger(observer=events.append), level.name)("x")
    assert [e["log_level"] for e in events] == [level]


class RecordsFormatting:
    def __init__(self) -> None:
        self.formatted = False

    def __format__(self, spec: str) -> str:
        self.formatted = True
        return "formatted"


def test_emitDoesNotFormatTheMessage(events: list[dict[str, Any]]) -> None:
    value = RecordsFormatting()
    Logger(observer=events.append).info("{x}", x=value)
    assert not value.formatted
    assert "log_text" not in events[0]


def test_globalPublisherDoesNotFormatInfoEvents() -> None:
    value = RecordsFormatting()
    Logger(namespace="t.hot").info("{x}", x=value)
    assert not value.formatted


def test_logSystemComesFromLogContext(events: list[dict[str, Any]]) -> None:
    logger = Logger(observer=events.append)
    log.callWithContext({"system": "Echo,0,127.0.0.1"}, logger.info, "hi")
    assert events[0]["log_system"] == "Echo,0,127.0.0.1"


def test_explicitLogSystemWins(events: list[dict[str, Any]]) -> None:
    Logger(observer=events.append).info("hi", log_system="mine")
    assert events[0]["log_system"] == "mine"


def test_invalidLevelIsReportedAsFailure(events: list[dict[str, Any]]) -> None:
    Logger(observer=events.append).emit("loud", "x")  # type: ignore[arg-type]
    [event] = events
    assert event["log_level"] is LogLevel.critical
    assert event["invalidLevel"] == "loud"
    assert isinstance(event["log_failure"].value, InvalidLogLevelError)


def test_failureCapturesCurrentException(events: list[dict[str, Any]]) -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        Logger(observer=events.append).failure("it broke")
    [event] = events
    assert event["log_level"] is LogLevel.critical
    assert isinstance(event["log_failure"], Failure)
    assert isinstance(event["log_failure"].value, ValueError)


def test_failureTakesGivenFailureAndLevel(events: list[dict[str, Any]]) -> None:
    failure = Failure(KeyError("k"))
    Logger(observer=events.append).failure("x {n}", failure, LogLevel.error, n=1)
    assert events[0]["log_failure"] is failure
    assert events[0]["log_level"] is LogLevel.error
    assert events[0]["n"] == 1


def test_defaultObserverIsGlobalPublisher() -> None:
    assert Logger().observer is globalLogPublisher
    seen: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(seen.append)
    try:
        Logger(namespace="t.global").info("to everyone")
    finally:
        globalLogPublisher.removeObserver(seen.append)
    assert [e["log_format"] for e in seen if e["log_namespace"] == "t.global"] == ["to everyone"]


class Thing:
    log = Logger()


def test_classAttributeLoggerUsesInstanceAsSource() -> None:
    thing = Thing()
    assert thing.log.source is thing
    assert thing.log.namespace == f"{__name__}.Thing"


def test_classAttributeLoggerReachedThroughClassUsesClassAsSource() -> None:
    assert Thing.log.source is Thing


def test_classAttributeLoggerKeepsItsObserver(events: list[dict[str, Any]]) -> None:
    class Other:
        log = Logger(observer=events.append)

    Other().log.info("x")
    assert isinstance(events[0]["log_source"], Other)


def test_logTraceRecordsTheLogger(events: list[dict[str, Any]]) -> None:
    logger = Logger(observer=events.append)
    trace: list[Any] = []
    logger.info("x", log_trace=trace)
    assert trace == [(logger, events.append)]
