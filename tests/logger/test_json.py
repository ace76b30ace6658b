"""Tests for torsion.logger._json: JSON log records and reading them back."""

import io
from typing import Any

from torsion.logger import (
    Logger,
    LogLevel,
    LogPublisher,
    SerializedFailure,
    eventAsJSON,
    eventAsText,
    eventFromJSON,
    eventsFromJSONLogFile,
    formatEvent,
    globalLogPublisher,
    jsonFileLogObserver,
)
from torsion.python.failure import Failure


class Request:
    uri = "/a"


def roundTrip(event: dict[str, Any]) -> dict[str, Any]:
    return eventFromJSON(eventAsJSON(event))


def test_plainValuesRoundTrip() -> None:
    event = {"log_format": "{n} {s}", "n": 1, "s": "x", "l": [1, 2], "d": {"k": None}}
    assert roundTrip(event) == {**event, "log_flattened": roundTrip(event)["log_flattened"]}


def test_levelRoundTripsAsLogLevel() -> None:
    assert roundTrip({"log_level": LogLevel.warn})["log_level"] is LogLevel.warn


def test_messageSurvivesLossOfValues() -> None:
    event = {"log_format": "GET {request.uri}", "request": Request()}
    restored = roundTrip(event)
    assert restored["request"]["unpersistable"] is True
    assert formatEvent(restored) == "GET /a"


def test_failureRoundTripsAsText() -> None:
    try:
        raise ValueError("kaboom")
    except ValueError:
        failure = Failure()
    restored = roundTrip({"log_format": "oops", "log_failure": failure})["log_failure"]
    assert isinstance(restored, SerializedFailure)
    assert restored.getTraceback() == failure.getTraceback().rstrip("\n")
    assert restored.getErrorMessage() == "kaboom"
    assert restored.typeName == "builtins.ValueError"
    assert "kaboom" in eventAsText({"log_format": "x", "log_failure": restored})


def test_serializedFailureSerializesAgain() -> None:
    failure = SerializedFailure("m.E", "msg", "tb")
    restored = roundTrip({"log_failure": failure})["log_failure"]
    assert (restored.typeName, restored.getErrorMessage(), restored.getTraceback()) == (
        "m.E",
        "msg",
        "tb",
    )


def test_bytesAndTuplesBecomeJSONValues() -> None:
    restored = roundTrip({"b": b"hi", "t": (1, 2)})
    assert restored["b"] == "hi"
    assert restored["t"] == [1, 2]


def test_nonStringKeysAreKeptAsText() -> None:
    assert roundTrip({1: "x"})["1"] == "x"  # type: ignore[dict-item]


def test_cyclicValueIsMarkedUnpersistable() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    restored = roundTrip({"c": cycle, "n": 1})
    assert restored["c"]["unpersistable"] is True
    assert restored["n"] == 1


def test_observerWritesRecordSeparatedLines() -> None:
    out = io.StringIO()
    jsonFileLogObserver(out)({"n": 1})
    assert out.getvalue() == '\x1e{"n": 1}\n'


def test_loggerEventsRoundTripThroughFile() -> None:
    out = io.StringIO()
    logger = Logger(namespace="ns", observer=LogPublisher(jsonFileLogObserver(out)))
    for n in range(3):
        logger.info("event {n}", n=n)
    out.seek(0)
    events = list(eventsFromJSONLogFile(out, bufferSize=7))
    assert [formatEvent(e) for e in events] == ["event 0", "event 1", "event 2"]
    assert all(e["log_namespace"] == "ns" for e in events)
    assert all(e["log_level"] is LogLevel.info for e in events)


def test_jsonLinesWithoutSeparatorAreRead() -> None:
    out = io.StringIO()
    observer = jsonFileLogObserver(out, recordSeparator="")
    observer({"n": 1})
    observer({"n": 2})
    out.seek(0)
    assert [e["n"] for e in eventsFromJSONLogFile(out)] == [1, 2]


def test_explicitSeparatorIsUsed() -> None:
    events = eventsFromJSONLogFile(io.StringIO('\x1e{"n": 1}\n\x1e{"n": 2}'), "\x1e")
    assert [e["n"] for e in events] == [1, 2]


def test_emptyFileHasNoEvents() -> None:
    assert list(eventsFromJSONLogFile(io.StringIO(""))) == []


def test_binaryFileIsRead() -> None:
    assert [e["n"] for e in eventsFromJSONLogFile(io.BytesIO(b'{"n": 1}\n'))] == [1]  # type: ignore[arg-type]


def test_brokenRecordIsSkippedAndReported() -> None:
    warnings: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(warnings.append)
    try:
        events = list(eventsFromJSONLogFile(io.StringIO('\x1e{"n": 1}\n\x1e{"n": \n\x1e[1]\n')))
    finally:
        globalLogPublisher.removeObserver(warnings.append)
    assert [e["n"] for e in events] == [1]
    reports = [w for w in warnings if w["log_namespace"] == "torsion.logger"]
    assert len(reports) == 2
    assert all(w["log_level"] is LogLevel.warn for w in reports)
