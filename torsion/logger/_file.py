"""Observers that write events to a text file: one formatted text per event.

Tests: tests/logger/test_file.py.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import IO, Any

from zope.interface import implementer

from torsion.logger._format import DEFAULT_TIME_FORMAT, formatEventAsClassicLogText, formatTime
from torsion.logger._interfaces import ILogObserver, LogEvent


@implementer(ILogObserver)
class FileLogObserver:
    """Writes ``formatter(event)`` to ``outFile`` for each event, skipping None results.

    Args:
        outFile: a text file (anything with ``write`` taking str; ``flush`` is used if
            present so lines reach the file as they are logged).
        formatter: returns the text to write for an event, newline included, or None.
    """

    def __init__(self, outFile: IO[str], formatter: Callable[[LogEvent], str | None]) -> None:
        self._write = outFile.write
        self._flush: Callable[[], Any] | None = getattr(outFile, "flush", None)
        self._formatter = formatter

    def __call__(self, event: LogEvent) -> None:
        text = self._formatter(event)
        if text:
            self._write(text)
            if self._flush is not None:
                self._flush()


def textFileLogObserver(
    outFile: IO[str], timeFormat: str | None = DEFAULT_TIME_FORMAT
) -> FileLogObserver:
    """Return an observer writing lines like ``2004/04/24 17:08 CEST [system] message``.

    Args:
        outFile: the text file to write to.
        timeFormat: a ``time.strftime`` format for the local time; None leaves the time
            out of each line.
    """
    if timeFormat is None:
        return FileLogObserver(outFile, partial(formatEventAsClassicLogText, formatTime=None))
    return FileLogObserver(
        outFile,
        partial(formatEventAsClassicLogText, formatTime=partial(formatTime, timeFormat=timeFormat)),
    )
