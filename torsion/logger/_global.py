"""The global publisher and the LogBeginner that starts logging to real destinations.

Until ``globalLogBeginner.beginLoggingTo`` is called, events are kept in a bounded
buffer so that nothing logged during start-up is lost; they are replayed to the first
observers logging begins with.

Tests: tests/logger/test_global.py.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable
from typing import IO, Any

from torsion.logger._buffer import LimitedHistoryLogObserver
from torsion.logger._file import FileLogObserver
from torsion.logger._filter import FilteringLogObserver, LogLevelFilterPredicate
from torsion.logger._format import formatEventAsClassicLogText
from torsion.logger._io import LoggingFile
from torsion.logger._levels import LogLevel
from torsion.logger._logger import Logger
from torsion.logger._observer import LogPublisher, Observer


class LogBeginner:
    """Starts logging to real observers, replaying what was logged before that.

    Args:
        publisher: the publisher observers are added to.
        errorStream: where critical events are written before logging begins.
        stdio: the object whose ``stdout``/``stderr`` are redirected (the ``sys`` module).
        warningsModule: the object whose ``showwarning`` is redirected (``warnings``).
        initialBufferSize: how many events to keep until logging begins.
    """

    def __init__(
        self,
        publisher: LogPublisher,
        errorStream: IO[str],
        stdio: Any,
        warningsModule: Any,
        initialBufferSize: int = 2**16,
    ) -> None:
        self._publisher = publisher
        self._errorStream = errorStream
        self._stdio = stdio
        self._warningsModule = warningsModule
        self._initialBuffer: LimitedHistoryLogObserver | None = LimitedHistoryLogObserver(
            initialBufferSize
        )
        # Until logging begins, critical events (unhandled errors) also go to errorStream,
        # so a program that never begins logging does not hide them.
        self._temporaryObserver: Observer | None = LogPublisher(
            self._initialBuffer,
            FilteringLogObserver(
                FileLogObserver(errorStream, formatEventAsClassicLogText),
                [LogLevelFilterPredicate(defaultLogLevel=LogLevel.critical)],
            ),
        )
        self._publisher.addObserver(self._temporaryObserver)
        self._oldShowWarning = warningsModule.showwarning
        self._log = Logger(namespace="torsion.logger.LogBeginner", observer=publisher)
        self._begunAt: tuple[str, int] | None = None

    def beginLoggingTo(
        self,
        observers: Iterable[Observer],
        discardBuffer: bool = False,
        redirectStandardIO: bool = True,
    ) -> None:
        """Add ``observers`` to the publisher and replay the buffered events to them.

        Args:
            discardBuffer: drop the events logged so far instead of replaying them.
            redirectStandardIO: make ``print`` output (stdout at info, stderr at error)
                and ``warnings`` into log events.

        Calling it a second time adds the new observers too, and logs a warning saying
        where logging was first begun.
        """
        caller = sys._getframe(1)
        callerAt = (caller.f_code.co_filename, caller.f_lineno)
        observers = tuple(observers)
        for observer in observers:
            self._publisher.addObserver(observer)
        if self._temporaryObserver is not None and self._initialBuffer is not None:
            self._publisher.removeObserver(self._temporaryObserver)
            if not discardBuffer:
                for observer in observers:
                    self._initialBuffer.replayTo(observer)
            self._temporaryObserver = None
            self._initialBuffer = None
        if self._begunAt is not None:
            self._log.warn(
                "Warning: primary log target selected twice at {fileNow}:{lineNow} - "
                "previously selected at {fileThen}:{lineThen}. Remove one of the calls to "
                "beginLoggingTo.",
                fileNow=callerAt[0],
                lineNow=callerAt[1],
                fileThen=self._begunAt[0],
                lineThen=self._begunAt[1],
            )
        else:
            self._begunAt = callerAt
        if redirectStandardIO:
            self._stdio.stdout = LoggingFile(
                Logger(namespace="stdout", observer=self._publisher), LogLevel.info
            )
            self._stdio.stderr = LoggingFile(
                Logger(namespace="stderr", observer=self._publisher), LogLevel.error
            )
        self._warningsModule.showwarning = self.showwarning

    def showwarning(
        self,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: IO[str] | None = None,
        line: str | None = None,
    ) -> None:
        """Log a ``warnings`` warning as an event (a replacement for ``showwarning``).

        A warning aimed at a specific ``file`` is written there as ``warnings`` would.
        """
        if file is None:
            self._log.warn(
                "{filename}:{lineno}: {category}: {warning}",
                warning=message,
                category=f"{category.__module__}.{category.__qualname__}",
                filename=filename,
                lineno=lineno,
            )
        else:
            self._oldShowWarning(message, category, filename, lineno, file, line)


class _CurrentStandardError:
    """Writes to whatever ``sys.stderr`` is at the time, not the one of import time."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


globalLogPublisher = LogPublisher()
globalLogBeginner = LogBeginner(
    globalLogPublisher,
    _CurrentStandardError(),  # type: ignore[arg-type]
    sys,
    warnings,
)

__all__ = ["LogBeginner", "globalLogBeginner", "globalLogPublisher"]
