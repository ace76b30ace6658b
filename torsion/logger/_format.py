"""Turning log events into text: the message, the time stamp, and the whole line.

Formatting happens only here and only when an observer asks, so emitting an event that
nobody renders costs no string work. Nothing in this module raises on a bad event: a
broken format string or a missing key produces a text that says so instead.

Tests: tests/logger/test_format.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from string import Formatter
from typing import Any

DEFAULT_TIME_FORMAT = "%Y/%m/%d %H:%M %Z"


def safeRepr(obj: object) -> str:
    """Return ``repr(obj)``, or a placeholder naming the error if ``repr`` raises."""
    try:
        return repr(obj)
    except BaseException as e:
        return f"<unrepresentable {type(obj).__name__} object: {type(e).__name__}: {e!s}>"


def safeStr(obj: object) -> str:
    """Return ``str(obj)``, falling back to ``safeRepr`` if ``str`` raises."""
    try:
        return str(obj)
    except BaseException:
        return safeRepr(obj)


class _EventFormatter(Formatter):
    """PEP 3101 formatting against an event, plus Twisted's ``{callable()}`` fields."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        if field_name.endswith("()"):
            value, key = super().get_field(field_name[:-2], args, kwargs)
            return value(), key
        return super().get_field(field_name, args, kwargs)


_formatter = _EventFormatter()


def formatUnformattableEvent(event: Mapping[str, Any], error: BaseException) -> str:
    """Return a text describing ``event`` that could not be formatted because of ``error``."""
    try:
        return f"Unable to format event {event!r}: {type(error).__name__}: {error}"
    except BaseException:
        items = ", ".join(f"{safeRepr(k)}: {safeRepr(v)}" for k, v in event.items())
        return f"MESSAGE LOST: unformattable object logged: {{{items}}}: {safeStr(error)}"


def textFromEventDict(eventDict: Mapping[str, Any], includeTraceback: bool = True) -> str | None:
    """Return the text of a classic (``torsion.python.log``) event.

    That is the ``message`` tuple joined by spaces; for an error without a message, the
    ``why`` (or "Unhandled Error") followed, if ``includeTraceback``, by the traceback;
    else the classic ``format`` %-formatted with the event.

    Returns:
        None if the event has nothing to show.
    """
    message = eventDict.get("message")
    if message:
        return " ".join(safeStr(part) for part in message)
    if eventDict.get("isError") and "failure" in eventDict:
        why = eventDict.get("why")
        whyText = safeStr(why) if why else "Unhandled Error"
        if not includeTraceback:
            return whyText
        return f"{whyText}\n{formatTraceback(eventDict['failure'])}"
    legacyFormat = eventDict.get("format")
    if legacyFormat is None:
        return None
    try:
        return str(legacyFormat % eventDict)
    except Exception as e:
        return (
            f"Invalid format string or unformattable object in log message: {legacyFormat!r}, {e}"
        )


def _formatFlattened(logFormat: str, flattened: Mapping[str, Any]) -> str:
    """Rebuild a message from the field texts that ``flattenEvent`` recorded."""
    pieces = []
    for literal, fieldName, spec, conversion in _formatter.parse(logFormat):
        pieces.append(literal)
        if fieldName is not None:
            pieces.append(str(flattened[_flatKey(fieldName, spec, conversion)]))
    return "".join(pieces)


def _flatKey(fieldName: str, spec: str | None, conversion: str | None) -> str:
    return f"{fieldName}!{conversion or ''}:{spec or ''}"


def flattenEvent(event: dict[str, Any]) -> None:
    """Record in ``event["log_flattened"]`` the text of each field of its format.

    A flattened event formats to the same message after its values have been lost, for
    instance after a JSON round trip that could not keep the objects themselves.
    """
    logFormat = event.get("log_format")
    if not isinstance(logFormat, str):
        return
    flattened: dict[str, str] = {}
    try:
        for _literal, fieldName, spec, conversion in _formatter.parse(logFormat):
            if fieldName is None:
                continue
            value, _ = _formatter.get_field(fieldName, (), event)
            value = _formatter.convert_field(value, conversion)
            flattened[_flatKey(fieldName, spec, conversion)] = _formatter.format_field(
                value, _formatter.vformat(spec or "", (), event)
            )
    except BaseException:
        return
    event["log_flattened"] = flattened


def formatEvent(event: Mapping[str, Any]) -> str:
    """Return the message of ``event``: its ``log_format`` filled in from the event's keys.

    Fields use PEP 3101 syntax with attribute and item access (``"{request.uri}"``,
    ``"{a[0]}"``) and, as in Twisted, ``"{f()}"`` to call a value. An event with no
    ``log_format`` uses its ``log_text`` or its classic-API message. Never raises: a
    broken format or a missing key yields a text describing the problem.
    """
    try:
        logFormat = event.get("log_format")
        if logFormat is None:
            text = event.get("log_text")
            if text is not None:
                return safeStr(text)
            return textFromEventDict(event, includeTraceback=False) or ""
        if isinstance(logFormat, bytes):
            logFormat = logFormat.decode("utf-8")
        elif not isinstance(logFormat, str):
            raise TypeError(f"log_format must be str, not {type(logFormat).__name__}")
        flattened = event.get("log_flattened")
        if flattened is not None:
            try:
                return _formatFlattened(logFormat, flattened)
            except BaseException:
                pass
        return _formatter.vformat(logFormat, (), event)
    except BaseException as e:
        return formatUnformattableEvent(event, e)


def formatTime(
    when: float | None, timeFormat: str | None = DEFAULT_TIME_FORMAT, default: str = "-"
) -> str:
    """Return the local time ``when`` (seconds since the epoch) formatted by ``timeFormat``.

    The default format is the one of the seed's log lines, ``2004/04/24 17:08 CEST``.

    Returns:
        ``default`` if ``when`` or ``timeFormat`` is None.
    """
    if when is None or timeFormat is None:
        return default
    return time.strftime(timeFormat, time.localtime(when))


def formatTraceback(failure: Any) -> str:
    """Return the traceback text of ``failure``, or a note if it cannot be obtained."""
    try:
        return str(failure.getTraceback()).rstrip("\n")
    except BaseException as e:
        return f"(unable to obtain traceback from event: {safeStr(e)})"


def eventAsText(
    event: Mapping[str, Any],
    includeTraceback: bool = True,
    includeTimestamp: bool = True,
    includeSystem: bool = True,
    formatTime: Callable[[float | None], str] = formatTime,
) -> str:
    """Return ``event`` as one text: ``time [system] message`` and the failure's traceback.

    Args:
        includeTraceback: append the traceback of ``log_failure``, on the following lines.
        includeTimestamp: start with ``formatTime(event["log_time"])``.
        includeSystem: add the ``log_system`` in brackets ("-" if the event has none).
        formatTime: turns ``log_time`` into text.
    """
    text = formatEvent(event)
    if includeTraceback and "log_failure" in event:
        traceback = formatTraceback(event["log_failure"])
        text = f"{text}\n{traceback}" if text else traceback
    prefix = ""
    if includeTimestamp:
        prefix = formatTime(event.get("log_time")) + " "
    if includeSystem:
        system = event.get("log_system")
        prefix += f"[{'-' if system is None else safeStr(system)}] "
    return prefix + text


def formatEventAsClassicLogText(
    event: Mapping[str, Any], formatTime: Callable[[float | None], str] | None = formatTime
) -> str | None:
    """Return the line that a text log file shows for ``event``, newline included.

    Continuation lines (a multi-line message, a traceback) are indented with a tab so each
    event still starts at the beginning of a line. A ``formatTime`` of None leaves the
    time stamp out.

    Returns:
        None when the event has neither a message nor a failure, so nothing is written.
    """
    if not formatEvent(event) and "log_failure" not in event:
        return None
    if formatTime is None:
        text = eventAsText(event, includeTimestamp=False)
    else:
        text = eventAsText(event, formatTime=formatTime)
    return text.replace("\n", "\n\t") + "\n"


class StringifiableFromEvent:
    """An object whose ``str`` is the formatted message of an event, computed on demand."""

    __slots__ = ("event",)

    def __init__(self, event: Mapping[str, Any]) -> None:
        self.event = event

    def __str__(self) -> str:
        return formatEvent(self.event)

    def __repr__(self) -> str:
        return f"<StringifiableFromEvent {formatEvent(self.event)!r}>"
