"""LimitedHistoryLogObserver: keeps the last N events to replay them later.

Tests: tests/logger/test_buffer.py.
"""

from __future__ import annotations

from collections import deque

from zope.interface import implementer

from torsion.logger._interfaces import ILogObserver, LogEvent
from torsion.logger._observer import Observer


@implementer(ILogObserver)
class LimitedHistoryLogObserver:
    """Remembers the most recent ``size`` events (all of them if ``size`` is None)."""

    def __init__(self, size: int | None = 2**16) -> None:
        self._buffer: deque[LogEvent] = deque(maxlen=size)

    def __call__(self, event: LogEvent) -> None:
        self._buffer.append(event)

    def replayTo(self, otherObserver: Observer) -> None:
        """Send the remembered events, oldest first, to ``otherObserver``."""
        for event in tuple(self._buffer):
            otherObserver(event)
