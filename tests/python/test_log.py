"""Tests for torsion.python.log: the classic logging API on the global publisher."""

import io
import logging
import types
from collections.abc import Iterator
from typing import Any

import pytest

from tests.logger.helpers import RecordingHandler
from torsion.logger import (
    LogBeginner,
    Logger,
    LogLevel,
    LogPublisher,
    TorsionLogHandler,
    formatEvent,
    globalLogPublisher,
)
from torsion.logger._legacy import LegacyLogObserverWrapper, publishToNewObserver
from torsion.python import context, log
from torsion.python.failure import Failure, NoCurrentExceptionError


@pytest.fixture
def events() -> Iterator[list[dict[str, Any]]]:
    """New-style events reaching the global publisher during the test."""
    seen: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(seen.append)
    yield seen
    globalLogPublisher.removeObserver(seen.append)


@pytest.fixture
def legacyEvents() -> Iterator[list[dict[str, Any]]]:
    """Events as a classic observer added with log.addObserver sees them."""
    seen: list[dict[str, Any]] = []
    log.addObserver(seen.append)
    yield seen
    log.removeObserver(seen.append)


def test_msgPublishesClassicAndNewKeys(events: list[dict[str, Any]]) -> None:
    log.msg("hello", 42, extra="x")
    [event] = events
    assert event["message"] == ("hello", 42)
    assert event["isError"] == 0
    assert event["extra"] == "x"
    assert event["system"] == "-"
    assert event["log_level"] is LogLevel.info
    assert event["log_namespace"] == "log_legacy"
    assert event["log_time"] == event["time"]
    assert formatEvent(event) == "hello 42"


def test_msgWithPercentFormat(events: list[dict[str, Any]]) -> None:
    log.msg(format="%(n)d items", n=3)
    assert formatEvent(events[0]) == "3 items"


def test_msgWithBrokenPercentFormatDoesNotRaise(events: list[dict[str, Any]]) -> None:
    log.msg(format="%(missing)d items")
    assert "Invalid format string" in formatEvent(events[0])


def test_msgWithLogLevelKeyword(events: list[dict[str, Any]]) -> None:
    log.msg("quiet", logLevel=10)
    assert events[0]["log_level"] is LogLevel.debug


def test_msgTakesSystemFromContext(events: list[dict[str, Any]]) -> None:
    log.callWithContext({"system": "ctx"}, log.msg, "x")
    assert events[0]["system"] == events[0]["log_system"] == "ctx"


def test_errInExceptBlockLogsCurrentException(events: list[dict[str, Any]]) -> None:
    try:
        raise ValueError("kaboom")
    except ValueError:
        log.err(None, "while testing")
    [event] = events
    assert isinstance(event["log_failure"], Failure)
    assert event["failure"] is event["log_failure"]
    assert isinstance(event["failure"].value, ValueError)
    assert event["isError"] == 1
    assert event["why"] == "while testing"
    assert event["log_level"] is LogLevel.critical
    assert formatEvent(event) == "while testing"


def test_errWithExceptionWrapsIt(events: list[dict[str, Any]]) -> None:
    error = KeyError("k")
    log.err(error)
    assert events[0]["log_failure"].value is error
    assert formatEvent(events[0]) == "Unhandled Error"


def test_errWithFailureUsesIt(events: list[dict[str, Any]]) -> None:
    failure = Failure(RuntimeError("r"))
    log.err(failure, "why")
    assert events[0]["log_failure"] is failure


def test_errWithOtherObjectLogsRepr(events: list[dict[str, Any]]) -> None:
    log.err(["not", "an", "error"])
    assert events[0]["isError"] == 1
    assert "log_failure" not in events[0]
    assert formatEvent(events[0]) == "['not', 'an', 'error']"


def test_errOutsideExceptBlockWithNothingRaises() -> None:
    with pytest.raises(NoCurrentExceptionError):
        log.err()


def test_deferrIsErr() -> None:
    assert log.deferr is log.err


def test_legacyObserverSeesClassicKeysOfNewEvents(legacyEvents: list[dict[str, Any]]) -> None:
    log.callWithContext({"system": "sys"}, Logger(namespace="t").info, "{n} clients", n=2)
    [event] = legacyEvents
    assert event["message"] == ()
    assert event["isError"] == 0
    assert event["system"] == "sys"
    assert event["time"] == event["log_time"]
    assert event["logLevel"] == 20
    assert log.textFromEventDict(event) == "2 clients"


def test_legacyObserverSeesFailureOfNewEvents(legacyEvents: list[dict[str, Any]]) -> None:
    failure = Failure(ValueError("v"))
    Logger(namespace="t").failure("broke {x}", failure, x=1)
    [event] = legacyEvents
    assert event["isError"] == 1
    assert event["failure"] is failure
    assert str(event["why"]) == "broke 1"
    text = log.textFromEventDict(event)
    assert text is not None
    assert text.startswith("broke 1\n")
    assert "ValueError" in text


def test_legacyObserverSeesMsgEventsUnchanged(legacyEvents: list[dict[str, Any]]) -> None:
    log.msg("a", "b")
    assert legacyEvents[0]["message"] == ("a", "b")
    assert log.textFromEventDict(legacyEvents[0]) == "a b"


def test_removeObserverStopsDelivery() -> None:
    seen: list[dict[str, Any]] = []
    log.addObserver(seen.append)
    log.removeObserver(seen.append)
    log.msg("x")
    assert seen == []


def test_removingUnknownLegacyObserverIsHarmless() -> None:
    log.removeObserver(lambda e: None)


def test_wrappersOfSameObserverAreEqual() -> None:
    def observer(event: dict[str, Any]) -> None:
        pass

    assert LegacyLogObserverWrapper(observer) == LegacyLogObserverWrapper(observer)
    assert hash(LegacyLogObserverWrapper(observer)) == hash(LegacyLogObserverWrapper(observer))
    assert LegacyLogObserverWrapper(observer) != LegacyLogObserverWrapper(print)


def test_publishToNewObserverAddsNewKeys() -> None:
    seen: list[dict[str, Any]] = []
    publishToNewObserver(seen.append, {"message": ("m",), "isError": 0, "system": "s"})
    [event] = seen
    assert event["log_system"] == "s"
    assert event["log_level"] is LogLevel.info
    assert isinstance(event["log_time"], float)


def test_callWithContextMergesWithOuterContext() -> None:
    def inner() -> tuple[object, object]:
        ctx = context.get(log.ILogContext)
        return ctx["system"], ctx["extra"]

    def outer() -> tuple[object, object]:
        return log.callWithContext({"system": "inner"}, inner)

    assert log.callWithContext({"system": "outer", "extra": 1}, outer) == ("inner", 1)


def test_callWithLoggerUsesLogPrefix(events: list[dict[str, Any]]) -> None:
    class Transport:
        def logPrefix(self) -> str:
            return "EcoPerRiga,0,127.0.0.1"

    def handle(x: int) -> int:
        Logger().info("hi")
        return x

    result = log.callWithLogger(Transport(), handle, 5)
    assert result == 5
    assert events[0]["log_system"] == "EcoPerRiga,0,127.0.0.1"


def test_callWithLoggerSurvivesBuggyLogPrefix(events: list[dict[str, Any]]) -> None:
    class Buggy:
        def logPrefix(self) -> str:
            raise RuntimeError("bug")

    log.callWithLogger(Buggy(), log.msg, "still called")
    error, message = events
    assert isinstance(error["log_failure"].value, RuntimeError)
    assert message["system"] == "(buggy logPrefix method)"
    assert message["message"] == ("still called",)


def test_classicFileObserverWritesSeedLines(cest: None) -> None:
    out = io.StringIO()
    observer = log.FileLogObserver(out)
    observer.emit({"message": ("hello",), "isError": 0, "system": "ctx", "time": 1082819280.0})
    assert out.getvalue() == "2004/04/24 17:08 CEST [ctx] hello\n"


def test_classicFileObserverHonoursTimeFormat() -> None:
    out = io.StringIO()
    observer = log.FileLogObserver(out)
    observer.timeFormat = "T"
    observer.emit({"message": ("a\nb",), "isError": 0, "system": "s", "time": 0.0})
    assert out.getvalue() == "T [s] a\n\tb\n"


def test_classicFileObserverSkipsEventsWithoutText() -> None:
    out = io.StringIO()
    log.FileLogObserver(out).emit({"message": (), "isError": 0, "time": 0.0})
    assert out.getvalue() == ""


def test_classicFileObserverStartAndStop() -> None:
    out = io.StringIO()
    observer = log.FileLogObserver(out)
    observer.start()
    try:
        log.msg("while started")
    finally:
        observer.stop()
    log.msg("after stop")
    assert "while started" in out.getvalue()
    assert "after stop" not in out.getvalue()


def test_startLoggingWritesTextAndReplaysBuffer(monkeypatch: pytest.MonkeyPatch) -> None:
    publisher = LogPublisher()
    stdio = types.SimpleNamespace(stdout=None, stderr=None)
    beginner = LogBeginner(publisher, io.StringIO(), stdio, types.SimpleNamespace(showwarning=None))
    monkeypatch.setattr(log, "globalLogBeginner", beginner)
    publishToNewObserver(publisher, {"message": ("early",), "isError": 0, "time": 0.0})
    out = io.StringIO()
    observer = log.startLogging(out)
    publishToNewObserver(publisher, {"message": ("late",), "isError": 0, "time": 0.0})
    stdio.stdout.write("printed\n")
    text = out.getvalue()
    assert isinstance(observer, log.FileLogObserver)
    assert "[-] early\n" in text
    assert "[-] late\n" in text
    assert "[-] printed\n" in text


def test_startLoggingWithoutSetStdoutKeepsStdout(monkeypatch: pytest.MonkeyPatch) -> None:
    stdio = types.SimpleNamespace(stdout="out", stderr="err")
    beginner = LogBeginner(
        LogPublisher(), io.StringIO(), stdio, types.SimpleNamespace(showwarning=None)
    )
    monkeypatch.setattr(log, "globalLogBeginner", beginner)
    log.startLogging(io.StringIO(), setStdout=False)
    assert stdio.stdout == "out"


def test_logfileEmitsLines(events: list[dict[str, Any]]) -> None:
    log.logfile.write("to the log\n")
    assert [e["log_io"] for e in events] == ["to the log"]
    assert events[0]["log_level"] is LogLevel.info


def test_textFromEventDictWithoutAnythingIsNone() -> None:
    assert log.textFromEventDict({"message": (), "isError": 0}) is None


def test_textFromEventDictOfErrorIncludesTraceback() -> None:
    failure = Failure(ValueError("v"))
    text = log.textFromEventDict({"message": (), "isError": 1, "failure": failure, "why": None})
    assert text is not None
    assert text.startswith("Unhandled Error\n")
    assert "ValueError" in text


def test_legacyObserverSeesTextOfStdlibStyleEvents(legacyEvents: list[dict[str, Any]]) -> None:
    globalLogPublisher({"log_format": None, "log_text": "from logging", "log_time": 0.0})
    assert log.textFromEventDict(legacyEvents[0]) == "from logging"


def test_publisherRecordsLogTrace() -> None:
    def observer(event: dict[str, Any]) -> None:
        pass

    publisher = LogPublisher(observer)
    logger = Logger(observer=publisher)
    trace: list[Any] = []
    logger.info("x", log_trace=trace)
    assert trace == [(logger, publisher), (publisher, observer)]


def test_startLoggingWithObserverReplaysToClassicObserver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    publisher = LogPublisher()
    stdio = types.SimpleNamespace(stdout="out", stderr="err")
    beginner = LogBeginner(publisher, io.StringIO(), stdio, types.SimpleNamespace(showwarning=None))
    monkeypatch.setattr(log, "globalLogBeginner", beginner)
    Logger(observer=publisher).info("early")
    seen: list[dict[str, Any]] = []
    log.startLoggingWithObserver(seen.append, setStdout=False)
    assert [log.textFromEventDict(e) for e in seen] == ["early"]
    assert stdio.stdout == "out"


def test_pythonLoggingObserverSendsClassicEvents(stdlibLogger: logging.Logger) -> None:
    recorded = RecordingHandler()
    stdlibLogger.addHandler(recorded)
    observer = log.PythonLoggingObserver(stdlibLogger.name)
    observer.emit({"message": ("hi", 1), "isError": 0})
    observer.emit({"message": (), "isError": 1, "failure": Failure(ValueError("v")), "why": "w"})
    observer.emit({"message": (), "isError": 0})
    assert [(r.levelno, r.getMessage().split("\n")[0]) for r in recorded.records] == [
        (logging.INFO, "hi 1"),
        (logging.ERROR, "w"),
    ]


def test_pythonLoggingObserverAndHandlerDoNotLoop(stdlibLogger: logging.Logger) -> None:
    recorded = RecordingHandler()
    stdlibLogger.addHandler(recorded)
    stdlibLogger.addHandler(TorsionLogHandler())
    observer = log.PythonLoggingObserver(stdlibLogger.name)
    observer.start()
    try:
        log.msg("from torsion")
        stdlibLogger.info("from stdlib")
    finally:
        observer.stop()
    assert [r.getMessage() for r in recorded.records] == ["from torsion", "from stdlib"]


def test_callWithLoggerAsksForThePrefixOnlyForWhatIsLogged(
    events: list[dict[str, Any]],
) -> None:
    """The reactor wraps every I/O event in callWithLogger; most log nothing."""
    asked: list[int] = []

    class Counting:
        def logPrefix(self) -> str:
            asked.append(1)
            return "Counting,1,127.0.0.1"

    log.callWithLogger(Counting(), lambda: None)
    assert asked == []

    def logTwice() -> None:
        log.msg("one")
        log.msg("two")

    log.callWithLogger(Counting(), logTwice)
    assert asked == [1, 1]
    assert [e["system"] for e in events] == ["Counting,1,127.0.0.1"] * 2


def test_contextNestedInsideCallWithLoggerWins(events: list[dict[str, Any]]) -> None:
    class Transport:
        def logPrefix(self) -> str:
            return "outer"

    def inner() -> None:
        log.msg("in transport")
        log.callWithContext({"system": "inner"}, log.msg, "nested")

    log.callWithLogger(Transport(), inner)
    assert [e["system"] for e in events] == ["outer", "inner"]
