"""Adapters between torsion.logger events and the classic ``torsion.python.log`` events.

A classic event has ``message`` (a tuple), ``isError``, ``system``, ``time`` and, for
errors, ``failure`` and ``why``. ``LegacyLogObserverWrapper`` lets a classic observer
watch torsion.logger events; ``publishToNewObserver`` sends a classic event to a
torsion.logger observer. Both keep the keys of the other side, so one event dict serves
both kinds of observer.

Tests: tests/python/test_log.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from zope.interface import implementer

from torsion.logger._format import StringifiableFromEvent, textFromEventDict
from torsion.logger._interfaces import ILogObserver, LogEvent
from torsion.logger._levels import LogLevel
from torsion.logger._observer import Observer
from torsion.logger._stdlib import fromStdlibLevel, toStdlibLevel

LegacyObserver = Callable[[dict[str, Any]], None]


@implementer(ILogObserver)
class LegacyLogObserverWrapper:
    """A torsion.logger observer that hands each event, in classic form, to ``legacyObserver``.

    Wrappers of the same classic observer compare equal, so ``removeObserver`` finds one
    by wrapping the observer again.
    """

    __slots__ = ("legacyObserver",)

    def __init__(self, legacyObserver: LegacyObserver) -> None:
        self.legacyObserver = legacyObserver

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LegacyLogObserverWrapper):
            return bool(self.legacyObserver == other.legacyObserver)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.legacyObserver)

    def __repr__(self) -> str:
        return f"<LegacyLogObserverWrapper for {self.legacyObserver!r}>"

    def __call__(self, event: LogEvent) -> None:
        legacy = dict(event)
        legacy.setdefault("message", ())
        legacy.setdefault("time", legacy.get("log_time"))
        legacy.setdefault("system", legacy.get("log_system") or "-")
        level = legacy.get("log_level")
        if isinstance(level, LogLevel) and "logLevel" not in legacy:
            legacy["logLevel"] = toStdlibLevel(level)
        failure = legacy.get("log_failure")
        if failure is not None and "failure" not in legacy:
            legacy["failure"] = failure
            legacy["isError"] = 1
            legacy["why"] = StringifiableFromEvent(event)
        legacy.setdefault("isError", 0)
        hasText = legacy.get("log_format") is not None or "log_text" in legacy
        if hasText and "format" not in legacy and not legacy["message"]:
            legacy["format"] = "%(log_legacy)s"
            legacy["log_legacy"] = StringifiableFromEvent(event)
        self.legacyObserver(legacy)


def publishToNewObserver(observer: Observer, eventDict: dict[str, Any]) -> None:
    """Add the torsion.logger keys to the classic event ``eventDict`` and send it to ``observer``.

    The message itself is not formatted here: ``formatEvent`` reads the classic keys when
    an observer wants the text.
    """
    eventDict.setdefault("time", time.time())
    eventDict.setdefault("log_time", eventDict["time"])
    eventDict.setdefault("log_format", None)
    if "log_level" not in eventDict:
        if eventDict.get("isError"):
            eventDict["log_level"] = LogLevel.critical
        elif "logLevel" in eventDict:
            eventDict["log_level"] = fromStdlibLevel(eventDict["logLevel"])
        else:
            eventDict["log_level"] = LogLevel.info
    eventDict.setdefault("log_system", eventDict.get("system", "-"))
    eventDict.setdefault("log_namespace", "log_legacy")
    eventDict.setdefault("log_source", None)
    eventDict.setdefault("log_logger", None)
    if eventDict.get("isError") and "failure" in eventDict:
        eventDict.setdefault("log_failure", eventDict["failure"])
    observer(eventDict)


__all__ = ["LegacyLogObserverWrapper", "publishToNewObserver", "textFromEventDict"]
