"""The observer interfaces of torsion.logger.

Tests: tests/logger/test_observer.py and tests/logger/test_filter.py.
"""

from __future__ import annotations

from typing import Any

from zope.interface import Interface

LogEvent = dict[str, Any]


class ILogObserver(Interface):
    """Something that receives log events: any callable taking one event dict qualifies.

    An observer must not modify the event (other observers see the same dict) and should
    not raise; if it does, the publisher reports the error through its other observers.
    """

    def __call__(event: LogEvent) -> None:
        """Receive one event."""


class ILogFilterPredicate(Interface):
    """Decides whether a ``FilteringLogObserver`` passes an event on."""

    def __call__(event: LogEvent) -> Any:
        """Return a ``PredicateResult``: yes, no, or maybe (let later predicates decide)."""
