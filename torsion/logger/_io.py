"""LoggingFile: a file-like object whose lines become log events (used for stdout/stderr).

Tests: tests/logger/test_io.py.
"""

from __future__ import annotations

from collections.abc import Iterable

from torsion.logger._levels import LogLevel
from torsion.logger._logger import Logger


class LoggingFile:
    """A text file that emits each complete line written to it as an event of ``level``.

    ``print`` to it works as to a file; the text is in the event's ``log_io`` key.
    """

    softspace = 0

    def __init__(
        self, logger: Logger, level: LogLevel = LogLevel.info, encoding: str = "utf-8"
    ) -> None:
        self.logger = logger
        self.level = level
        self.encoding = encoding
        self.closed = False
        self._buffer = ""

    @property
    def mode(self) -> str:
        return "w"

    @property
    def newlines(self) -> None:
        return None

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        """Raise: there is no file descriptor behind this file."""
        raise OSError("a LoggingFile has no file descriptor")

    def close(self) -> None:
        self.closed = True

    def flush(self) -> None:
        pass

    def write(self, message: str | bytes) -> int:
        """Buffer ``message`` and emit every line it completes.

        Raises:
            ValueError: the file is closed.
        """
        if self.closed:
            raise ValueError("I/O operation on closed LoggingFile")
        if isinstance(message, bytes):
            message = message.decode(self.encoding, "replace")
        *lines, self._buffer = (self._buffer + message).split("\n")
        for line in lines:
            self.logger.emit(self.level, "{log_io}", log_io=line)
        return len(message)

    def writelines(self, lines: Iterable[str | bytes]) -> None:
        for line in lines:
            self.write(line)
