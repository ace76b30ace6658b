"""The classic logging API (``msg``, ``err``, ``startLogging``...) on top of torsion.logger.

Everything here feeds ``torsion.logger.globalLogPublisher``, so classic and new-style
code log to the same observers. Classic observers (``addObserver``) receive events with
the classic keys: ``message`` (a tuple), ``isError``, ``system``, ``time`` and, for
errors, ``failure`` and ``why``.

The ``system`` of an event, shown in brackets in text log lines, comes from the log
context: ``callWithLogger(transport, f)`` runs ``f`` with ``transport.logPrefix()`` as
the system, which is how a connection's prefix (``[EchoProtocol,0,127.0.0.1]``) gets
into the lines logged while handling it.

Tests: tests/python/test_log.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any, TypeVar

from torsion.logger import (
    ILogContext,
    Logger,
    LoggingFile,
    LogLevel,
    globalLogBeginner,
    globalLogPublisher,
)
from torsion.logger._format import safeRepr, textFromEventDict
from torsion.logger._legacy import (
    LegacyLogObserverWrapper,
    LegacyObserver,
    publishToNewObserver,
)
from torsion.logger._stdlib import FROM_STDLIB, FROM_TORSION
from torsion.python import context
from torsion.python.failure import Failure

_T = TypeVar("_T")

context.setDefault(ILogContext, {"system": "-"})


def callWithContext(
    ctx: Mapping[str, object], func: Callable[..., _T], *args: Any, **kw: Any
) -> _T:
    """Call ``func(*args, **kw)`` with the keys of ``ctx`` (such as ``system``) added to the
    log context of everything it logs."""
    newContext = dict(context.get(ILogContext) or {})
    newContext.update(ctx)
    return context.call({ILogContext: newContext}, func, *args, **kw)


def callWithLogger(logger: Any, func: Callable[..., _T], *args: Any, **kw: Any) -> _T:
    """Call ``func(*args, **kw)`` with ``logger.logPrefix()`` as the log ``system``.

    ``logger`` is anything with a ``logPrefix`` method (``ILoggingContext``), typically a
    transport or protocol. A ``logPrefix`` that raises is logged and replaced by
    "(buggy logPrefix method)", so the call still happens.

    The reactor calls this for every I/O event, so the prefix is computed only when
    something is logged during the call, once, rather than on every call.
    """
    return context.callWithMapping(_LoggerContext(context.current(), logger), func, *args, **kw)


class _LoggerContext(Mapping[object, object]):
    """The context inside ``callWithLogger``: the outer one with the logger's ``system``.

    Built lazily on first lookup, so an event that logs nothing costs no dict copies.
    """

    __slots__ = ("_logger", "_outer", "_resolved")

    def __init__(self, outer: Mapping[object, object] | None, logger: Any) -> None:
        self._outer = outer
        self._logger = logger
        self._resolved: dict[object, object] | None = None

    def _resolve(self) -> dict[object, object]:
        resolved = self._resolved
        if resolved is not None:
            return resolved
        outer = self._outer
        resolved = dict(outer) if outer else {}
        outerLogContext = (
            outer[ILogContext]
            if outer and ILogContext in outer
            else context.defaultContextDict.get(ILogContext)
        )
        logContext: dict[str, object] = (
            dict(outerLogContext) if isinstance(outerLogContext, Mapping) else {}
        )
        # Resolve before calling logPrefix: if it raises, the error logged below looks
        # its system up here and must find an answer, not recurse.
        logContext["system"] = "(buggy logPrefix method)"
        resolved[ILogContext] = logContext
        self._resolved = resolved
        try:
            logContext["system"] = str(self._logger.logPrefix())
        except Exception:
            err(system="(buggy logPrefix method)")
        return resolved

    def __getitem__(self, key: object) -> object:
        return self._resolve()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._resolve()

    def __iter__(self) -> Iterator[object]:
        return iter(self._resolve())

    def __len__(self) -> int:
        return len(self._resolve())


def msg(*message: object, **kw: Any) -> None:
    """Log the parts of ``message`` (joined by spaces when shown), with ``kw`` in the event.

    A ``format`` keyword is a classic %-format string filled in from the event instead.
    """
    event: dict[str, Any] = dict(context.get(ILogContext) or {})
    event.update(kw)
    event["message"] = message
    event["time"] = time.time()
    event.setdefault("isError", 0)
    publishToNewObserver(globalLogPublisher, event)


def err(_stuff: object = None, _why: str | None = None, **kw: Any) -> None:
    """Log an error: a Failure, an exception, or (by default) the exception being handled.

    The event carries ``log_failure`` (what torsion.logger observers and the test kit look
    for) and the classic keys ``failure``, ``isError=1`` and ``why``. Anything else is
    logged as its ``repr``.
    """
    if _stuff is None:
        _stuff = Failure()
    if isinstance(_stuff, BaseException):
        _stuff = Failure(_stuff)
    if isinstance(_stuff, Failure):
        msg(failure=_stuff, why=_why, isError=1, **kw)
    else:
        msg(safeRepr(_stuff), why=_why, isError=1, **kw)


deferr = err


def addObserver(observer: LegacyObserver) -> None:
    """Send every log event, in classic form, to ``observer``."""
    globalLogPublisher.addObserver(LegacyLogObserverWrapper(observer))


def removeObserver(observer: LegacyObserver) -> None:
    """Stop sending events to ``observer``; does nothing if it was not added."""
    globalLogPublisher.removeObserver(LegacyLogObserverWrapper(observer))


class FileLogObserver:
    """The classic text-file observer: ``time [system] text`` lines, as ``startLogging`` writes.

    Use ``start()``/``stop()`` to add it to and remove it from the global publisher, or pass
    ``emit`` to ``addObserver``.
    """

    timeFormat: str | None = None

    def __init__(self, f: IO[str]) -> None:
        self.write = f.write
        self.flush = getattr(f, "flush", lambda: None)

    def formatTime(self, when: float) -> str:
        """Return the time stamp of a line: ``timeFormat`` if set, else the seed's format."""
        from torsion.logger import formatTime

        if self.timeFormat is not None:
            return formatTime(when, self.timeFormat)
        return formatTime(when)

    def emit(self, eventDict: dict[str, Any]) -> None:
        """Write one classic event as a line (continuation lines indented by a tab)."""
        text = textFromEventDict(eventDict)
        if text is None:
            return
        stamp = self.formatTime(eventDict["time"])
        system = eventDict.get("system", "-")
        self.write(f"{stamp} [{system}] {text.replace(chr(10), chr(10) + chr(9))}\n")
        self.flush()

    def start(self) -> None:
        """Begin receiving events from the global publisher."""
        addObserver(self.emit)

    def stop(self) -> None:
        """Stop receiving events."""
        removeObserver(self.emit)


def startLogging(file: IO[str], setStdout: bool = True) -> FileLogObserver:
    """Begin logging to ``file`` in the classic text format; returns the observer.

    Args:
        setStdout: also turn what is printed to stdout and stderr into log events.
    """
    observer = FileLogObserver(file)
    globalLogBeginner.beginLoggingTo(
        [LegacyLogObserverWrapper(observer.emit)], redirectStandardIO=setStdout
    )
    return observer


def startLoggingWithObserver(observer: LegacyObserver, setStdout: bool = True) -> None:
    """Begin logging to the classic ``observer`` (replaying what was logged so far).

    Args:
        setStdout: also turn what is printed to stdout and stderr into log events.
    """
    globalLogBeginner.beginLoggingTo(
        [LegacyLogObserverWrapper(observer)], redirectStandardIO=setStdout
    )


class PythonLoggingObserver:
    """A classic observer sending events to the standard library logger ``loggerName``.

    An error event goes at ``logging.ERROR`` (with its traceback in the text); other
    events at their ``logLevel`` key, ``logging.INFO`` by default. Records it makes are
    marked so that a ``torsion.logger.TorsionLogHandler`` does not send them back.
    """

    def __init__(self, loggerName: str = "torsion") -> None:
        self._logger = logging.getLogger(loggerName)

    def emit(self, eventDict: dict[str, Any]) -> None:
        """Log one classic event through ``logging``."""
        if FROM_STDLIB in eventDict:
            return
        if eventDict.get("isError"):
            level = logging.ERROR
        else:
            level = eventDict.get("logLevel", logging.INFO)
        text = textFromEventDict(eventDict)
        if text is None:
            return
        self._logger.log(level, "%s", text, extra={FROM_TORSION: eventDict})

    def start(self) -> None:
        """Begin receiving events from the global publisher."""
        addObserver(self.emit)

    def stop(self) -> None:
        """Stop receiving events."""
        removeObserver(self.emit)


logfile = LoggingFile(Logger(namespace="stdout"), LogLevel.info)
logerr = LoggingFile(Logger(namespace="stderr"), LogLevel.error)


__all__ = [
    "FileLogObserver",
    "ILogContext",
    "PythonLoggingObserver",
    "addObserver",
    "callWithContext",
    "callWithLogger",
    "deferr",
    "err",
    "logerr",
    "logfile",
    "msg",
    "removeObserver",
    "startLogging",
    "startLoggingWithObserver",
    "textFromEventDict",
]
