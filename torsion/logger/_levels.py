"""Log levels: how important an event is, ordered from ``debug`` to ``critical``.

Tests: tests/logger/test_levels.py.
"""

from __future__ import annotations

from enum import Enum


class InvalidLogLevelError(Exception):
    """Raised when a name or value does not denote a known ``LogLevel``."""

    def __init__(self, level: object) -> None:
        super().__init__(
            f"{level!r} is not a log level; use one of "
            + ", ".join(member.name for member in LogLevel)
        )
        self.level = level


class LogLevel(Enum):
    """The importance of a log event; levels compare by importance (``debug < critical``).

    Use ``LogLevel.info`` and friends directly, or ``LogLevel.levelWithName("info")`` when the
    level comes from configuration.
    """

    debug = 0
    info = 1
    warn = 2
    error = 3
    critical = 4

    @classmethod
    def levelWithName(cls, name: str) -> LogLevel:
        """Return the level called ``name`` ("debug", "info", "warn", "error", "critical").

        Raises:
            InvalidLogLevelError: ``name`` is not the name of a level.
        """
        try:
            return cls[name]
        except (KeyError, TypeError):
            raise InvalidLogLevelError(name) from None

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, LogLevel):
            return NotImplemented
        return self.value < other.value

    def __le__(self, other: object) -> bool:
        if not isinstance(other, LogLevel):
            return NotImplemented
        return self.value <= other.value

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, LogLevel):
            return NotImplemented
        return self.value > other.value

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, LogLevel):
            return NotImplemented
        return self.value >= other.value
