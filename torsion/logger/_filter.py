"""Filtering: pass on only the events that predicates accept, such as a minimum level.

Tests: tests/logger/test_filter.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import Enum

from zope.interface import implementer

from torsion.logger._interfaces import ILogFilterPredicate, ILogObserver, LogEvent
from torsion.logger._levels import InvalidLogLevelError, LogLevel
from torsion.logger._observer import Observer


class PredicateResult(Enum):
    """A predicate's verdict: pass the event on, drop it, or let later predicates decide."""

    yes = "yes"
    no = "no"
    maybe = "maybe"


Predicate = Callable[[LogEvent], PredicateResult]


def _ignore(event: LogEvent) -> None:
    pass


@implementer(ILogObserver)
class FilteringLogObserver:
    """Forwards an event to ``observer`` unless a predicate says no.

    Predicates are asked in order; the first ``yes`` or ``no`` decides, and an event that
    every predicate answers ``maybe`` is forwarded. Dropped events go to
    ``negativeObserver``.
    """

    def __init__(
        self,
        observer: Observer,
        predicates: Iterable[Predicate],
        negativeObserver: Observer = _ignore,
    ) -> None:
        self._observer = observer
        self._predicates = tuple(predicates)
        self._negativeObserver = negativeObserver

    def __call__(self, event: LogEvent) -> None:
        for predicate in self._predicates:
            result = predicate(event)
            if result is PredicateResult.yes:
                break
            if result is PredicateResult.no:
                self._negativeObserver(event)
                return
            if result is not PredicateResult.maybe:
                raise TypeError(f"log predicate {predicate!r} returned {result!r}")
        self._observer(event)


@implementer(ILogFilterPredicate)
class LogLevelFilterPredicate:
    """Drops events below the level set for their namespace.

    A level set for ``"a.b"`` also applies to ``"a.b.c"`` unless that namespace has its own;
    namespaces with no setting use ``defaultLogLevel``.
    """

    def __init__(self, defaultLogLevel: LogLevel = LogLevel.info) -> None:
        self.defaultLogLevel = defaultLogLevel
        self._levels: dict[str, LogLevel] = {}
        self._resolved: dict[str, LogLevel] = {}

    def logLevelForNamespace(self, namespace: str | None) -> LogLevel:
        """Return the minimum level of events passed for ``namespace``."""
        if not namespace:
            return self._levels.get("", self.defaultLogLevel)
        level = self._resolved.get(namespace)
        if level is not None:
            return level
        name = namespace
        while True:
            level = self._levels.get(name)
            if level is not None or "." not in name:
                break
            name = name.rpartition(".")[0]
        if level is None:
            level = self._levels.get("", self.defaultLogLevel)
        self._resolved[namespace] = level
        return level

    def setLogLevelForNamespace(self, namespace: str | None, level: LogLevel) -> None:
        """Pass events of ``namespace`` and its sub-namespaces from ``level`` upwards.

        Raises:
            InvalidLogLevelError: ``level`` is not a ``LogLevel``.
        """
        if not isinstance(level, LogLevel):
            raise InvalidLogLevelError(level)
        self._levels[namespace or ""] = level
        self._resolved.clear()

    def clearLogLevels(self) -> None:
        """Forget every per-namespace level."""
        self._levels.clear()
        self._resolved.clear()

    def __call__(self, event: LogEvent) -> PredicateResult:
        level = event.get("log_level")
        if level is None:
            return PredicateResult.maybe
        if not isinstance(level, LogLevel):
            return PredicateResult.no
        if level >= self.logLevelForNamespace(event.get("log_namespace")):
            return PredicateResult.maybe
        return PredicateResult.no
