"""Logger: the object code uses to emit log events.

``log = Logger()`` at module level logs under the module's name; as a class attribute it
logs under the class's name with ``log_source`` set to the instance (or class) it is
reached through. Emitting builds one dict and hands it to the observer; the message is
only formatted if some observer renders it.

Tests: tests/logger/test_logger.py.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from torsion.logger._context import currentSystem
from torsion.logger._interfaces import LogEvent
from torsion.logger._levels import LogLevel
from torsion.logger._observer import Observer


def _callerModuleName(depth: int) -> str:
    try:
        return str(sys._getframe(depth).f_globals.get("__name__", "<unknown>"))
    except ValueError:
        return "<unknown>"


class Logger:
    """Emits events to an observer (the global publisher unless one is given).

    Args:
        namespace: the event's ``log_namespace``, used for filtering; defaults to the name
            of the module that creates the Logger.
        source: the event's ``log_source``, the object the event is about.
        observer: where events go; None means ``globalLogPublisher``.
    """

    __slots__ = ("_observer", "namespace", "source")

    def __init__(
        self,
        namespace: str | None = None,
        source: object = None,
        observer: Observer | None = None,
    ) -> None:
        self.namespace = _callerModuleName(2) if namespace is None else namespace
        self.source = source
        self._observer = observer

    @property
    def observer(self) -> Observer:
        """The observer that this Logger's events are sent to."""
        return self._observer or _globalPublisher()

    def __get__(self, instance: object, owner: type | None = None) -> Logger:
        """Give a Logger for the class, whose events have the instance as ``log_source``."""
        assert owner is not None
        source = owner if instance is None else instance
        return type(self)(f"{owner.__module__}.{owner.__qualname__}", source, self._observer)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.namespace!r}>"

    def emit(self, level: LogLevel, format: str | None = None, **kwargs: Any) -> None:
        """Emit an event at ``level`` whose message is ``format`` filled in from ``kwargs``.

        An unknown ``level`` is reported as an error event instead of being emitted.
        """
        if level.__class__ is not LogLevel:
            self.failure(
                "Got invalid log level {invalidLevel!r} in {logger}.emit().",
                _invalidLevelFailure(level),
                invalidLevel=level,
                logger=self,
            )
            return
        event: LogEvent = kwargs
        event["log_logger"] = self
        event["log_level"] = level
        event["log_namespace"] = self.namespace
        event["log_source"] = self.source
        event["log_format"] = format
        event["log_time"] = time.time()
        if "log_system" not in event:
            event["log_system"] = currentSystem()
        if "log_trace" in event:
            event["log_trace"].append((self, self.observer))
        (self._observer or _globalPublisher())(event)

    def failure(
        self,
        format: str,
        failure: Any = None,
        level: LogLevel = LogLevel.critical,
        **kwargs: Any,
    ) -> None:
        """Emit an event carrying ``failure`` as ``log_failure`` (rendered with its traceback).

        Args:
            failure: a Failure; None captures the exception being handled right now.
            level: defaults to critical, as an unhandled error usually is.
        """
        if failure is None:
            from torsion.python.failure import Failure

            failure = Failure()
        self.emit(level, format, log_failure=failure, **kwargs)

    def debug(self, format: str | None = None, **kwargs: Any) -> None:
        """Emit a debug event: detail useful only when looking for a problem."""
        self.emit(LogLevel.debug, format, **kwargs)

    def info(self, format: str | None = None, **kwargs: Any) -> None:
        """Emit an info event: normal operation worth recording."""
        self.emit(LogLevel.info, format, **kwargs)

    def warn(self, format: str | None = None, **kwargs: Any) -> None:
        """Emit a warning event: something may be wrong."""
        self.emit(LogLevel.warn, format, **kwargs)

    def error(self, format: str | None = None, **kwargs: Any) -> None:
        """Emit an error event: something is wrong, the program goes on."""
        self.emit(LogLevel.error, format, **kwargs)

    def critical(self, format: str | None = None, **kwargs: Any) -> None:
        """Emit a critical event: something is badly wrong."""
        self.emit(LogLevel.critical, format, **kwargs)


_globalLogPublisher: Observer | None = None


def _globalPublisher() -> Observer:
    # Imported on first use because the global publisher's module imports this one.
    global _globalLogPublisher
    if _globalLogPublisher is None:
        from torsion.logger._global import globalLogPublisher

        _globalLogPublisher = globalLogPublisher
    return _globalLogPublisher


def _invalidLevelFailure(level: object) -> Any:
    from torsion.logger._levels import InvalidLogLevelError
    from torsion.python.failure import Failure

    return Failure(InvalidLogLevelError(level))
