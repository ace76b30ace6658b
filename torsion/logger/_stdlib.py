"""Bridges with the standard library's ``logging``, in both directions.

``STDLibLogObserver`` sends torsion events to a ``logging.Logger``; ``TorsionLogHandler``
sends ``logging`` records to a torsion publisher. Each marks what it forwards and ignores
what the other forwarded, so installing both never makes a loop.

Tests: tests/logger/test_stdlib.py.
"""

from __future__ import annotations

import logging
from typing import Any

from zope.interface import implementer

from torsion.logger._context import currentSystem
from torsion.logger._format import StringifiableFromEvent
from torsion.logger._interfaces import ILogObserver, LogEvent
from torsion.logger._levels import LogLevel
from torsion.logger._observer import Observer

_toStdlib = {
    LogLevel.debug: logging.DEBUG,
    LogLevel.info: logging.INFO,
    LogLevel.warn: logging.WARNING,
    LogLevel.error: logging.ERROR,
    LogLevel.critical: logging.CRITICAL,
}

# Set on the records STDLibLogObserver makes, and on the events TorsionLogHandler makes.
FROM_TORSION = "torsion_event"
FROM_STDLIB = "log_stdlib_record"


def fromStdlibLevel(levelno: int) -> LogLevel:
    """Return the torsion level for a ``logging`` level number (rounding down)."""
    if levelno >= logging.CRITICAL:
        return LogLevel.critical
    if levelno >= logging.ERROR:
        return LogLevel.error
    if levelno >= logging.WARNING:
        return LogLevel.warn
    if levelno >= logging.INFO:
        return LogLevel.info
    return LogLevel.debug


def toStdlibLevel(level: LogLevel) -> int:
    """Return the ``logging`` level number for a torsion level."""
    return _toStdlib.get(level, logging.INFO)


@implementer(ILogObserver)
class STDLibLogObserver:
    """Forwards torsion events to the ``logging`` logger called ``name``.

    The record's message is formatted only if a ``logging`` handler asks for it; a
    failure becomes the record's ``exc_info``. Events that came from ``logging`` through
    ``TorsionLogHandler`` are not sent back.
    """

    def __init__(self, name: str = "torsion", stackDepth: int = 2) -> None:
        self.logger = logging.getLogger(name)
        self.stackDepth = stackDepth

    def __call__(self, event: LogEvent) -> None:
        if FROM_STDLIB in event:
            return
        level = toStdlibLevel(event.get("log_level", LogLevel.info))
        if not self.logger.isEnabledFor(level):
            return
        excInfo: Any = None
        failure = event.get("log_failure")
        if failure is not None:
            value = getattr(failure, "value", None)
            if isinstance(value, BaseException):
                excInfo = (type(value), value, _tracebackOf(failure))
        self.logger.log(
            level,
            StringifiableFromEvent(event),
            exc_info=excInfo,
            extra={FROM_TORSION: event},
            stacklevel=self.stackDepth,
        )


class TorsionLogHandler(logging.Handler):
    """A ``logging`` handler that publishes each record as a torsion event.

    Add it to a ``logging`` logger (``logging.getLogger().addHandler(TorsionLogHandler())``)
    to see the records of libraries that use ``logging`` in torsion's observers. The event
    has the record's logger name as ``log_namespace``, its message as ``log_text``, and
    ``log_failure`` when the record carries an exception.

    Args:
        publisher: where events go; None means ``globalLogPublisher``.
    """

    def __init__(self, publisher: Observer | None = None, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self._publisher = publisher

    def emit(self, record: logging.LogRecord) -> None:
        if hasattr(record, FROM_TORSION):
            return
        try:
            event: LogEvent = {
                "log_format": None,
                "log_text": record.getMessage(),
                "log_level": fromStdlibLevel(record.levelno),
                "log_namespace": record.name,
                "log_source": None,
                "log_logger": None,
                "log_time": record.created,
                "log_system": currentSystem(),
                FROM_STDLIB: record,
            }
            if record.exc_info and record.exc_info[1] is not None:
                from torsion.python.failure import Failure

                event["log_failure"] = Failure(record.exc_info[1])
            publisher = self._publisher
            if publisher is None:
                from torsion.logger._global import globalLogPublisher

                publisher = globalLogPublisher
            publisher(event)
        except Exception:
            self.handleError(record)


def _tracebackOf(failure: Any) -> Any:
    try:
        return failure.getTracebackObject()
    except Exception:
        return None
