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
from collections.abc import Callable, Mapping
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

    The reactor calls this for every I/O event, so the prefix is asked for only when
    something is logged during the call.
    """
    return context.callLazily(loggerContext, logger, func, *args, **kw)


# Loggers whose logPrefix is failing right now: the error logged about it looks its
# own system up, which must not ask the same logger again.
_failingLoggers: set[int] = set()


def loggerContext(outer: Any, logger: Any) -> dict[object, object]:
    """The context inside ``callWithLogger``: the outer one with the logger's system.

    A lazy-context factory (``torsion.python.context.callLazily``), also used directly
    by the reactor's loop.
    """
    outerMapping = context.resolve(outer)
    made: dict[object, object] = dict(outerMapping) if outerMapping else {}
    outerLogContext = made.get(ILogContext, context.defaultContextDict.get(ILogContext))
    logContext: dict[str, object] = (
        dict(outerLogContext) if isinstance(outerLogContext, Mapping) else {}
    )
    key = id(logger)
    if key in _failingLoggers:
        logContext["system"] = _BUGGY_PREFIX
    else:
        try:
            logContext["system"] = str(logger.logPrefix())
        except Exception:
            logContext["system"] = _BUGGY_PREFIX
            _failingLoggers.add(key)
            try:
                err(system=_BUGGY_PREFIX)
            finally:
                _failingLoggers.discard(key)
    made[ILogContext] = logContext
    return made


_BUGGY_PREFIX = "(buggy logPrefix method)"


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
