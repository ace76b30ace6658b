"""torsion.logger: structured logging with format-string events, levels and observers.

Code emits events with a ``Logger`` (``log.info("{count} clients", count=n)``); the global
publisher passes them to observers, which filter, format and write them (text lines,
JSON records, the standard library's ``logging``). Messages are formatted only by the
observers that need the text.

Tests: tests/logger/.
"""

from torsion.logger._buffer import LimitedHistoryLogObserver
from torsion.logger._context import ILogContext
from torsion.logger._file import FileLogObserver, textFileLogObserver
from torsion.logger._filter import FilteringLogObserver, LogLevelFilterPredicate, PredicateResult
from torsion.logger._format import (
    eventAsText,
    formatEvent,
    formatEventAsClassicLogText,
    formatTime,
    formatUnformattableEvent,
)
from torsion.logger._global import LogBeginner, globalLogBeginner, globalLogPublisher
from torsion.logger._interfaces import ILogFilterPredicate, ILogObserver, LogEvent
from torsion.logger._io import LoggingFile
from torsion.logger._json import (
    SerializedFailure,
    eventAsJSON,
    eventFromJSON,
    eventsFromJSONLogFile,
    jsonFileLogObserver,
)
from torsion.logger._levels import InvalidLogLevelError, LogLevel
from torsion.logger._logger import Logger
from torsion.logger._observer import LogPublisher
from torsion.logger._stdlib import STDLibLogObserver, TorsionLogHandler

__all__ = [
    "FileLogObserver",
    "FilteringLogObserver",
    "ILogContext",
    "ILogFilterPredicate",
    "ILogObserver",
    "InvalidLogLevelError",
    "LimitedHistoryLogObserver",
    "LogBeginner",
    "LogEvent",
    "LogLevel",
    "LogLevelFilterPredicate",
    "LogPublisher",
    "Logger",
    "LoggingFile",
    "PredicateResult",
    "STDLibLogObserver",
    "SerializedFailure",
    "TorsionLogHandler",
    "eventAsJSON",
    "eventAsText",
    "eventFromJSON",
    "eventsFromJSONLogFile",
    "formatEvent",
    "formatEventAsClassicLogText",
    "formatTime",
    "formatUnformattableEvent",
    "globalLogBeginner",
    "globalLogPublisher",
    "jsonFileLogObserver",
    "textFileLogObserver",
]
