"""The access log of an HTTP server: one line per finished request, combined format.

With a path, lines go to that file (opened in append mode when the factory starts,
flushed at most once a second and on stop); without one, each request becomes a
"torsion.web.access" info event on torsion's log whose text is formatted only when an
observer renders it, once logging has begun (torsiond, or globalLogBeginner.beginLoggingTo
in a program of your own). Either way the request itself is not kept: an event holds the few
fields the line needs, so a log buffer never pins request bodies in memory.

Tests: tests/web/test_accesslog.py.
"""

from __future__ import annotations

import time
from typing import IO, Any

from torsion.logger import Logger, globalLogBeginner

__all__ = ["AccessLog"]

_log = Logger(namespace="torsion.web.access")


class _Timestamp:
    """The log-format time of now, computed once per second."""

    __slots__ = ("second", "text")

    def __init__(self) -> None:
        self.second = -1
        self.text = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self.second:
            from torsion.web.http import datetimeToLogString

            self.second = second
            self.text = datetimeToLogString(second)
        return self.text


_timestamp = _Timestamp()


class _RequestSnapshot:
    """What a log formatter reads of a request, copied out of it."""

    __slots__ = ("_client", "_headers", "clientproto", "code", "method", "sentLength", "uri")

    def __init__(self, request: Any) -> None:
        self.method = request.method
        self.uri = request.uri
        self.clientproto = request.clientproto
        self.code = request.code
        self.sentLength = request.sentLength
        raw = request.requestHeaders._raw
        self._headers: dict[bytes, bytes] = {
            name: raw[name][-1]
            for name in (b"referer", b"user-agent", b"x-forwarded-for")
            if name in raw
        }
        self._client: str | None = request.getClientIP()

    def getHeader(self, name: bytes) -> bytes | None:
        return self._headers.get(name)

    def getClientIP(self) -> str | None:
        return self._client


class _LazyLine:
    """A log line formatted on first use (str()), by the formatter of its log."""

    __slots__ = ("_formatter", "_snapshot", "_text", "_timestamp")

    def __init__(self, formatter: Any, timestamp: str, snapshot: _RequestSnapshot) -> None:
        self._formatter = formatter
        self._timestamp = timestamp
        self._snapshot = snapshot
        self._text: str | None = None

    def __str__(self) -> str:
        if self._text is None:
            self._text = str(self._formatter(self._timestamp, self._snapshot))
        return self._text

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


class AccessLog:
    """Where a factory's finished requests are recorded."""

    def __init__(self, path: str | None, formatter: Any = None) -> None:
        from torsion.web.http import combinedLogFormatter

        self.path = path
        self.formatter = formatter or combinedLogFormatter
        self._file: IO[str] | None = None
        self._lastFlush = 0.0

    def open(self) -> None:
        if self.path is not None and self._file is None:
            self._file = open(self.path, "a", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def log(self, request: Any) -> None:
        logFile = self._file
        if logFile is None:
            if self.path is None and _loggingHasBegun():
                snapshot = _RequestSnapshot(request)
                _log.info("{line}", line=_LazyLine(self.formatter, _timestamp.now(), snapshot))
            return
        logFile.write(self.formatter(_timestamp.now(), request) + "\n")
        now = time.monotonic()
        if now - self._lastFlush >= 1.0:
            self._lastFlush = now
            logFile.flush()


def _loggingHasBegun() -> bool:
    """Whether torsion's log has observers yet (torsiond, startLogging, beginLoggingTo).

    Until then events wait in a small start-up buffer, which access lines would flood
    out; they are dropped instead, and logging starts with the first request after.
    """
    return globalLogBeginner._temporaryObserver is None
