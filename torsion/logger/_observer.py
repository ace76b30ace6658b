"""LogPublisher: fans each event out to a set of observers.

An observer that raises never breaks the code that emitted the event: the error is
reported once, through the publisher's other observers, and the observer stays in place.

Tests: tests/logger/test_observer.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zope.interface import implementer

from torsion.logger._interfaces import ILogObserver, LogEvent

Observer = Callable[[LogEvent], None]


@implementer(ILogObserver)
class LogPublisher:
    """An observer that passes every event to each of its own observers, in order."""

    def __init__(self, *observers: Observer) -> None:
        # A tuple, replaced on change, so publishing needs no copy and observers may add or
        # remove observers while an event is being delivered.
        self._observers: tuple[Observer, ...] = observers

    def addObserver(self, observer: Observer) -> None:
        """Add ``observer``; adding one that is already there does nothing.

        Raises:
            TypeError: ``observer`` is not callable.
        """
        if not callable(observer):
            raise TypeError(f"a log observer must be callable, not {observer!r}")
        if observer not in self._observers:
            self._observers += (observer,)

    def removeObserver(self, observer: Observer) -> None:
        """Remove ``observer``; removing one that is not there does nothing."""
        observers = list(self._observers)
        try:
            observers.remove(observer)
        except ValueError:
            return
        self._observers = tuple(observers)

    def __call__(self, event: LogEvent) -> None:
        """Deliver ``event`` to every observer; report (never raise) what they raise."""
        broken: list[tuple[Observer, Any]] | None = None
        if "log_trace" in event:
            event["log_trace"].extend((self, observer) for observer in self._observers)
        for observer in self._observers:
            try:
                observer(event)
            except Exception:
                from torsion.python.failure import Failure

                if broken is None:
                    broken = []
                broken.append((observer, Failure()))
        if broken is not None:
            self._reportBroken(broken)

    def _reportBroken(self, broken: list[tuple[Observer, Any]]) -> None:
        from torsion.logger._logger import Logger

        for observer, failure in broken:
            others = LogPublisher(*(o for o in self._observers if o is not observer))
            Logger(namespace="torsion.logger", observer=others).failure(
                "Log observer {observer} raised while handling an event",
                failure,
                observer=observer,
            )
