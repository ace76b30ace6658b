"""Logging to the system log (syslog(3)): what ``torsiond --syslog`` uses.

``SyslogObserver(prefix)`` opens the system log with ``prefix`` as the ident (the name
shown in each line, ``torsiond --prefix``) and sends each event there, one syslog
message per line of text, as ``[system] text``; the priority follows the event's level
(an error is LOG_ERR, a critical event or an unhandled error LOG_CRIT). Only POSIX
systems have a syslog; elsewhere making an observer raises ImportError.
Tests: tests/python/test_syslog.py.
"""

from __future__ import annotations

from typing import Any

from torsion.logger import LogLevel, globalLogBeginner
from torsion.logger._format import textFromEventDict
from torsion.logger._legacy import LegacyLogObserverWrapper

try:
    import syslog as _syslog
except ImportError:  # pragma: no cover - Windows
    _syslog = None  # type: ignore[assignment]

__all__ = ["DEFAULT_FACILITY", "DEFAULT_OPTIONS", "SyslogObserver", "startLogging"]

DEFAULT_OPTIONS = 0
DEFAULT_FACILITY = getattr(_syslog, "LOG_USER", 8)

_PRIORITIES = {
    LogLevel.debug: "LOG_DEBUG",
    LogLevel.info: "LOG_INFO",
    LogLevel.warn: "LOG_WARNING",
    LogLevel.error: "LOG_ERR",
    LogLevel.critical: "LOG_CRIT",
}


class SyslogObserver:
    """A classic log observer (``emit``) writing to the system log.

    Args:
        prefix: the ident every message is marked with.
        options: ``syslog.openlog`` options (such as ``syslog.LOG_PID``).
        facility: the facility (``syslog.LOG_DAEMON``...); LOG_USER by default.

    Raises:
        ImportError: this system has no syslog module.
    """

    def __init__(
        self, prefix: str, options: int = DEFAULT_OPTIONS, facility: int = DEFAULT_FACILITY
    ) -> None:
        if _syslog is None:
            raise ImportError("this system has no syslog (the syslog module is missing)")
        self.facility = facility
        _syslog.openlog(prefix, options, facility)

    def emit(self, eventDict: dict[str, Any]) -> None:
        """Send the event's text, line by line, at the priority of its level."""
        text = textFromEventDict(eventDict)
        if text is None:
            return
        priority = self._priority(eventDict)
        system = eventDict.get("system", "-")
        for line in text.splitlines() or [""]:
            _syslog.syslog(priority | self.facility, f"[{system}] {line}")

    @staticmethod
    def _priority(eventDict: dict[str, Any]) -> int:
        """The event's ``syslogPriority`` if it has one, else the one of its level."""
        if "syslogPriority" in eventDict:
            return int(eventDict["syslogPriority"])
        level = eventDict.get("log_level")
        if isinstance(level, LogLevel):
            name = _PRIORITIES[level]
        else:
            name = "LOG_CRIT" if eventDict.get("isError") else "LOG_INFO"
        return int(getattr(_syslog, name))


def startLogging(
    prefix: str = "torsion",
    options: int = DEFAULT_OPTIONS,
    facility: int = DEFAULT_FACILITY,
    setStdout: bool = True,
) -> SyslogObserver:
    """Begin logging to the system log; returns the observer.

    Args:
        setStdout: also turn what is printed to stdout and stderr into log events.
    """
    observer = SyslogObserver(prefix, options, facility)
    globalLogBeginner.beginLoggingTo(
        [LegacyLogObserverWrapper(observer.emit)], redirectStandardIO=setStdout
    )
    return observer
