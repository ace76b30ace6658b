"""Log files that rotate: ``LogFile`` by size, ``DailyLogFile`` by date.

torsiond writes its log through a ``LogFile``: when the file reaches ``rotateLength``
bytes it is renamed ``NAME.1`` (the older ``NAME.1`` becoming ``NAME.2``, and so on,
keeping at most ``maxRotatedFiles`` of them) and a new ``NAME`` is started; ``rotate()``
does the same on demand (torsiond calls it on SIGUSR1). ``DailyLogFile`` starts a new
file when the local date changes, naming the old one ``NAME.2004_4_24`` (Twisted's
suffix: year, month and day joined by underscores, without leading zeros).

Both are text files to their writers (``write`` takes str, or bytes): the log observer
writes through ``write`` from whichever thread logs, so writing and rotating hold a
lock. ``reopen()`` starts writing to the file at the path again, for when another
tool moved the file away (logrotate's ``create`` mode).
Tests: tests/python/test_logfile.py.
"""

from __future__ import annotations

import os
import threading
import time
from typing import IO, Any

__all__ = ["BaseLogFile", "DailyLogFile", "LogFile", "LogReader"]


class BaseLogFile:
    """The file at ``directory/name``, appended to, rotated when ``shouldRotate()`` says.

    Args:
        name: the file name.
        directory: the directory it is in (it must exist).
        defaultMode: the permission bits of a newly created file (None: the umask's).

    Raises:
        OSError: the file cannot be opened for appending.
    """

    def __init__(self, name: str, directory: str, defaultMode: int | None = None) -> None:
        self.directory = directory
        self.name = name
        self.path = os.path.join(directory, name)
        self.defaultMode = defaultMode
        self.closed = False
        self._lock = threading.RLock()
        self._file: IO[bytes] | None = None
        self.size = 0
        self._openFile()

    @classmethod
    def fromFullPath(cls, filename: str, *args: Any, **kwargs: Any) -> Any:
        """Make a log file from a path instead of a name and a directory."""
        filename = os.path.abspath(filename)
        return cls(os.path.basename(filename), os.path.dirname(filename), *args, **kwargs)

    def shouldRotate(self) -> bool:
        """Tell whether the next write must go to a new file; subclasses decide."""
        raise NotImplementedError

    def _openFile(self) -> None:
        existed = os.path.exists(self.path)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
        if not existed and self.defaultMode is not None:
            os.fchmod(fd, self.defaultMode)
        self._file = os.fdopen(fd, "ab", buffering=0)
        self.size = os.fstat(fd).st_size
        self.closed = False

    def write(self, data: str | bytes) -> int:
        """Append ``data`` (str is encoded as UTF-8), rotating first if it is time to.

        Raises:
            ValueError: the file was closed.
        """
        raw = data.encode("utf-8", "backslashreplace") if isinstance(data, str) else data
        with self._lock:
            if self._file is None:
                raise ValueError(f"the log file {self.path} is closed")
            if self.shouldRotate():
                self._rotateLocked()
            self._file.write(raw)
            self.size += len(raw)
        return len(data)

    def flush(self) -> None:
        """Nothing to do: every write goes to the file at once (unbuffered)."""

    def close(self) -> None:
        """Close the file; writing after this raises ValueError."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
            self.closed = True

    def reopen(self) -> None:
        """Close the file and open ``path`` again (appending to whatever is there now)."""
        with self._lock:
            if self._file is not None:
                self._file.close()
            self._openFile()

    def rotate(self) -> None:
        """Move the current file aside and start a new one."""
        with self._lock:
            self._rotateLocked()

    def _rotateLocked(self) -> None:
        raise NotImplementedError

    def getCurrentLog(self) -> LogReader:
        """Return a reader of the current file."""
        return LogReader(self.path)

    def __enter__(self) -> BaseLogFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path!r}>"


class LogFile(BaseLogFile):
    """A log file rotated by size: ``NAME`` -> ``NAME.1`` -> ``NAME.2`` ...

    Args:
        rotateLength: the size in bytes that makes the next write rotate; None or 0
            rotates only when ``rotate()`` is called.
        maxRotatedFiles: how many rotated files to keep (None: all of them).
    """

    def __init__(
        self,
        name: str,
        directory: str,
        rotateLength: int | None = 1000000,
        defaultMode: int | None = None,
        maxRotatedFiles: int | None = None,
    ) -> None:
        if maxRotatedFiles is not None and maxRotatedFiles < 1:
            raise ValueError(f"maxRotatedFiles must be at least 1 (or None), not {maxRotatedFiles}")
        self.rotateLength = rotateLength
        self.maxRotatedFiles = maxRotatedFiles
        super().__init__(name, directory, defaultMode)

    def shouldRotate(self) -> bool:
        """True once the file has reached ``rotateLength`` bytes."""
        return bool(self.rotateLength) and self.size >= self.rotateLength  # type: ignore[operator]

    def listLogs(self) -> list[int]:
        """Return the numbers of the rotated files that exist, lowest (newest) first."""
        numbers = []
        prefix = self.name + "."
        for entry in os.listdir(self.directory):
            if entry.startswith(prefix) and entry[len(prefix) :].isdigit():
                numbers.append(int(entry[len(prefix) :]))
        return sorted(numbers)

    def getLog(self, identifier: int) -> LogReader:
        """Return a reader of the rotated file ``NAME.identifier``.

        Raises:
            ValueError: there is no such file.
        """
        path = f"{self.path}.{identifier}"
        if not os.path.exists(path):
            raise ValueError(f"there is no rotated log {path}")
        return LogReader(path)

    def _rotateLocked(self) -> None:
        if not (os.access(self.directory, os.W_OK) and os.access(self.path, os.W_OK)):
            return  # Cannot rename here: keep writing to the one file rather than fail.
        logs = self.listLogs()
        if self.maxRotatedFiles is not None:
            for number in [n for n in logs if n >= self.maxRotatedFiles]:
                os.unlink(f"{self.path}.{number}")
            logs = [n for n in logs if n < self.maxRotatedFiles]
        for number in reversed(logs):
            os.rename(f"{self.path}.{number}", f"{self.path}.{number + 1}")
        if self._file is not None:
            self._file.close()
        os.rename(self.path, f"{self.path}.1")
        self._openFile()


class DailyLogFile(BaseLogFile):
    """A log file rotated when the local date changes: the old one becomes NAME.Y_M_D."""

    def __init__(self, name: str, directory: str, defaultMode: int | None = None) -> None:
        super().__init__(name, directory, defaultMode)
        self.lastDate = self.toDate(os.stat(self.path).st_mtime)

    def toDate(self, *when: float) -> tuple[int, int, int]:
        """Return the local (year, month, day) of ``when`` (default: now)."""
        return time.localtime(*when)[:3]

    def suffix(self, date: tuple[int, int, int] | float) -> str:
        """Return the file-name suffix for ``date`` (a date tuple or a time stamp)."""
        if not isinstance(date, tuple):
            date = self.toDate(date)
        return "_".join(str(part) for part in date)

    def shouldRotate(self) -> bool:
        """True once the date is not the one the current file was started on."""
        return self.toDate() != self.lastDate

    def write(self, data: str | bytes) -> int:
        """Append ``data``, starting a new file first if the date has changed."""
        with self._lock:
            written = super().write(data)
            self.lastDate = self.toDate()
        return written

    def getLog(self, identifier: float) -> LogReader:
        """Return a reader of the file of the date of the time stamp ``identifier``.

        Raises:
            ValueError: there is no file for that date.
        """
        if self.toDate(identifier) == self.lastDate:
            return self.getCurrentLog()
        path = f"{self.path}.{self.suffix(identifier)}"
        if not os.path.exists(path):
            raise ValueError(f"there is no log for that date ({path})")
        return LogReader(path)

    def _rotateLocked(self) -> None:
        if not (os.access(self.directory, os.W_OK) and os.access(self.path, os.W_OK)):
            return
        newPath = f"{self.path}.{self.suffix(self.lastDate)}"
        if os.path.exists(newPath):
            return  # That day is saved already; keep appending to the current file.
        if self._file is not None:
            self._file.close()
        os.rename(self.path, newPath)
        self._openFile()
        self.lastDate = self.toDate()


class LogReader:
    """Reads the lines of one log file (current or rotated)."""

    def __init__(self, path: str) -> None:
        self._file = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115

    def readLines(self, lines: int = 10) -> list[str]:
        """Return up to ``lines`` more lines (an empty list at the end of the file)."""
        read = []
        for _ in range(lines):
            line = self._file.readline()
            if not line:
                break
            read.append(line)
        return read

    def close(self) -> None:
        """Close the file."""
        self._file.close()
