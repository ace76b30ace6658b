"""JSON log files: one event per record, readable back with ``eventsFromJSONLogFile``.

Values JSON cannot hold are replaced by ``{"unpersistable": true, "repr": ...}``, but the
event is flattened first (see ``flattenEvent``), so its message still formats the same
after the round trip. A failure is kept as its type name, message and traceback text,
restored as a ``SerializedFailure`` offering ``getTraceback`` and ``getErrorMessage``.

Tests: tests/logger/test_json.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from torsion.logger._file import FileLogObserver
from torsion.logger._format import flattenEvent, formatTraceback, safeRepr, safeStr
from torsion.logger._interfaces import LogEvent
from torsion.logger._levels import InvalidLogLevelError, LogLevel


class SerializedFailure:
    """What a failure becomes after a JSON round trip: its texts, without the objects."""

    __slots__ = ("message", "traceback", "typeName")

    def __init__(self, typeName: str, message: str, traceback: str) -> None:
        self.typeName = typeName
        self.message = message
        self.traceback = traceback

    def getTraceback(self) -> str:
        """Return the traceback text recorded when the failure was logged."""
        return self.traceback

    def getErrorMessage(self) -> str:
        """Return the exception's message recorded when the failure was logged."""
        return self.message

    def __repr__(self) -> str:
        return f"<SerializedFailure {self.typeName}: {self.message}>"


def _failureAsDict(failure: Any) -> dict[str, Any]:
    if isinstance(failure, SerializedFailure):
        typeName, message = failure.typeName, failure.message
    else:
        excType = getattr(failure, "type", None)
        typeName = (
            f"{excType.__module__}.{excType.__qualname__}"
            if isinstance(excType, type)
            else safeStr(excType)
        )
        try:
            message = str(failure.getErrorMessage())
        except BaseException:
            message = safeStr(getattr(failure, "value", failure))
    return {
        "__failure__": True,
        "type": typeName,
        "message": message,
        "traceback": formatTraceback(failure),
    }


def _jsonDefault(obj: object) -> Any:
    if isinstance(obj, LogLevel):
        return {"__log_level__": obj.name}
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "backslashreplace")
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if hasattr(obj, "getTraceback") and hasattr(obj, "getErrorMessage"):
        return _failureAsDict(obj)
    return {"unpersistable": True, "repr": safeRepr(obj)}


def _jsonObjectHook(obj: dict[str, Any]) -> Any:
    if "__log_level__" in obj:
        try:
            return LogLevel.levelWithName(obj["__log_level__"])
        except InvalidLogLevelError:
            return obj
    if obj.get("__failure__") is True:
        return SerializedFailure(
            str(obj.get("type")), str(obj.get("message")), str(obj.get("traceback"))
        )
    return obj


def eventAsJSON(event: LogEvent) -> str:
    """Return ``event`` as a JSON text (one line) that ``eventFromJSON`` reads back."""
    event = dict(event)
    flattenEvent(event)
    failure = event.get("log_failure")
    if failure is not None:
        event["log_failure"] = _failureAsDict(failure)
    safeEvent = {safeStr(key): value for key, value in event.items()}
    try:
        return json.dumps(safeEvent, default=_jsonDefault, skipkeys=True)
    except (ValueError, TypeError):
        # A value JSON cannot walk (a cycle, a non-string key deeper down): keep its repr.
        return json.dumps(
            {key: _roughValue(value) for key, value in safeEvent.items()}, default=_jsonDefault
        )


def _roughValue(value: object) -> object:
    try:
        json.dumps(value, default=_jsonDefault)
    except (ValueError, TypeError):
        return {"unpersistable": True, "repr": safeRepr(value)}
    return value


def eventFromJSON(eventText: str) -> LogEvent:
    """Return the event that ``eventAsJSON`` turned into ``eventText``.

    Raises:
        ValueError: ``eventText`` is not a JSON object.
    """
    event = json.loads(eventText, object_hook=_jsonObjectHook)
    if not isinstance(event, dict):
        raise ValueError(f"a JSON log record must be an object, not {eventText[:80]!r}")
    return event


def jsonFileLogObserver(outFile: IO[str], recordSeparator: str = "\x1e") -> FileLogObserver:
    """Return an observer writing each event as ``recordSeparator`` + JSON + newline.

    The default separator (ASCII RS) makes the file a JSON text sequence (RFC 7464); use
    ``""`` for plain JSON lines.
    """
    return FileLogObserver(outFile, lambda event: f"{recordSeparator}{eventAsJSON(event)}\n")


def eventsFromJSONLogFile(
    inFile: IO[str], recordSeparator: str | None = None, bufferSize: int = 4096
) -> Iterator[LogEvent]:
    """Yield the events of a file written by ``jsonFileLogObserver``.

    Args:
        recordSeparator: the separator used when writing; None detects it (RS if the file
            starts with one, else one event per line).
        bufferSize: how much to read at a time.

    Records that are not valid JSON objects (a line cut short by a crash) are skipped and
    reported as warning events on the global publisher.
    """
    buffered = ""
    separator = recordSeparator or None
    while True:
        chunk = inFile.read(bufferSize)
        if isinstance(chunk, bytes):
            chunk = chunk.decode("utf-8")
        buffered += chunk
        if not buffered:
            return
        if separator is None:
            separator = "\x1e" if buffered.startswith("\x1e") else "\n"
        if chunk:
            *records, buffered = buffered.split(separator)
        else:
            records, buffered = buffered.split(separator), ""
        for record in records:
            if not record.strip():
                continue
            try:
                yield eventFromJSON(record)
            except ValueError:
                from torsion.logger._logger import Logger

                Logger(namespace="torsion.logger").warn(
                    "Skipping a log record that is not a JSON object: {record!r}",
                    record=record,
                )
        if not chunk:
            return
