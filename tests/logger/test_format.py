"""Tests for torsion.logger._format: message formatting, time stamps and event text."""

from typing import Any

from torsion.logger import eventAsText, formatEvent, formatEventAsClassicLogText, formatTime
from torsion.logger._format import StringifiableFromEvent, flattenEvent, safeRepr
from torsion.python.failure import Failure


class Request:
    uri = "/index.html"


def test_formatFillsNamedFields() -> None:
    assert formatEvent({"log_format": "{n} clients", "n": 3}) == "3 clients"


def test_formatSupportsAttributeAccess() -> None:
    assert formatEvent({"log_format": "GET {request.uri}", "request": Request()}) == (
        "GET /index.html"
    )


def test_formatSupportsItemAccess() -> None:
    event = {"log_format": "{a[0]} {d[key]}", "a": ["first"], "d": {"key": "v"}}
    assert formatEvent(event) == "first v"


def test_formatSupportsConversionAndSpec() -> None:
    assert formatEvent({"log_format": "{s!r} {x:.2f}", "s": "a", "x": 1.0}) == "'a' 1.00"


def test_formatCallsFieldsEndingInParentheses() -> None:
    assert formatEvent({"log_format": "{f()}", "f": lambda: "called"}) == "called"


def test_formatWithoutFormatIsEmpty() -> None:
    assert formatEvent({"log_format": None}) == ""


def test_formatWithoutFormatUsesLogText() -> None:
    assert formatEvent({"log_format": None, "log_text": "{not a field}"}) == "{not a field}"


def test_formatAcceptsBytesFormat() -> None:
    assert formatEvent({"log_format": b"{x}", "x": 1}) == "1"


def test_missingKeyGivesExplanationInsteadOfRaising() -> None:
    text = formatEvent({"log_format": "{nope}"})
    assert text.startswith("Unable to format event")
    assert "KeyError" in text


def test_brokenFormatGivesExplanationInsteadOfRaising() -> None:
    text = formatEvent({"log_format": "broken {", "x": 1})
    assert text.startswith("Unable to format event")
    assert "'x': 1" in text


def test_positionalFieldGivesExplanationInsteadOfRaising() -> None:
    assert formatEvent({"log_format": "{}"}).startswith("Unable to format event")


def test_nonStringFormatGivesExplanationInsteadOfRaising() -> None:
    assert "TypeError" in formatEvent({"log_format": 42})


def test_unrepresentableValueStillGivesText() -> None:
    class Bad:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

        def __format__(self, spec: str) -> str:
            raise RuntimeError("no format")

    text = formatEvent({"log_format": "{bad}", "bad": Bad()})
    assert "MESSAGE LOST" in text
    assert "unrepresentable Bad" in text


def test_safeReprNamesTheError() -> None:
    class Bad:
        def __repr__(self) -> str:
            raise ValueError("nope")

    assert "ValueError: nope" in safeRepr(Bad())


def test_formatTimeWithNoneTimeGivesDefault() -> None:
    assert formatTime(None) == "-"
    assert formatTime(None, default="?") == "?"


def test_formatTimeWithNoneFormatGivesDefault() -> None:
    assert formatTime(0.0, timeFormat=None) == "-"


def test_formatTimeUsesGivenFormat() -> None:
    assert formatTime(0.0, "%Y") in ("1970", "1969")


def test_eventAsTextIncludesSystemAndTime() -> None:
    event = {"log_format": "hi", "log_time": 0.0, "log_system": "sys"}
    text = eventAsText(event, formatTime=lambda t: "TIME")
    assert text == "TIME [sys] hi"


def test_eventAsTextWithoutSystemShowsDash() -> None:
    assert eventAsText({"log_format": "hi"}, includeTimestamp=False) == "[-] hi"


def test_eventAsTextOnlyMessage() -> None:
    event = {"log_format": "hi", "log_system": "s", "log_time": 0.0}
    assert eventAsText(event, includeTimestamp=False, includeSystem=False) == "hi"


def failureEvent() -> dict[str, Any]:
    try:
        raise ValueError("kaboom")
    except ValueError:
        return {"log_format": "oops", "log_failure": Failure()}


def test_eventAsTextAppendsTracebackOnFollowingLines() -> None:
    text = eventAsText(failureEvent(), includeTimestamp=False, includeSystem=False)
    first, rest = text.split("\n", 1)
    assert first == "oops"
    assert "Traceback" in rest
    assert "kaboom" in rest


def test_eventAsTextCanLeaveOutTraceback() -> None:
    text = eventAsText(failureEvent(), includeTraceback=False, includeTimestamp=False)
    assert text == "[-] oops"


def test_brokenFailureDoesNotBreakText() -> None:
    class BadFailure:
        def getTraceback(self) -> str:
            raise RuntimeError("nope")

    text = eventAsText({"log_format": "x", "log_failure": BadFailure()}, includeTimestamp=False)
    assert "unable to obtain traceback" in text


def test_classicLineIndentsContinuationLines() -> None:
    line = formatEventAsClassicLogText(
        {"log_format": "a\nb", "log_system": "s", "log_time": 0.0}, formatTime=lambda t: "T"
    )
    assert line == "T [s] a\n\tb\n"


def test_classicLineForEmptyEventIsNone() -> None:
    assert formatEventAsClassicLogText({"log_format": None}) is None


def test_stringifiableFromEventFormatsOnDemand() -> None:
    event = {"log_format": "{x}", "x": 1}
    stringifiable = StringifiableFromEvent(event)
    event["x"] = 2
    assert str(stringifiable) == "2"


def test_flattenedEventFormatsWithoutOriginalValues() -> None:
    event: dict[str, Any] = {"log_format": "{r.uri} {n:03d} {n!r}", "r": Request(), "n": 7}
    flattenEvent(event)
    del event["r"]
    event["n"] = "gone"
    assert formatEvent(event) == "/index.html 007 7"


def test_flattenOfBrokenFormatLeavesEventAlone() -> None:
    event: dict[str, Any] = {"log_format": "{missing}"}
    flattenEvent(event)
    assert "log_flattened" not in event


def test_legacyEventFormatsFromMessageTuple() -> None:
    assert formatEvent({"message": ("a", 1), "isError": 0}) == "a 1"


def test_legacyEventFormatsFromPercentFormat() -> None:
    assert formatEvent({"format": "%(x)s!", "x": 5}) == "5!"
