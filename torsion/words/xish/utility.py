"""Event dispatch for XML streams: observers of path queries and of named events.

``EventDispatcher`` calls the observers registered for an event: an element
matching a path query (``"/message[@type='chat']"``, see torsion.words.xish.xpath)
or a named event (a string starting with ``"//event/"``, as the stream's
``STREAM_CONNECTED_EVENT`` and friends). Observers run by priority, highest first,
in the order they were added within one priority; a one-time observer is removed as
it is called. An observer that raises is logged and the others still run, so one
bad handler cannot stop a stream. Twisted's names (``addObserver``,
``addOnetimeObserver``, ``removeObserver``, ``dispatch``).
Tests: tests/words/test_jabberxish.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torsion.logger import Logger
from torsion.words.xish.xpath import XPathQuery, internQuery

__all__ = ["EventDispatcher"]

_log = Logger()

Event = str | XPathQuery


class _Observer:
    __slots__ = ("args", "function", "kwargs", "onetime", "priority", "removed")

    def __init__(
        self,
        function: Callable[..., object],
        priority: int,
        onetime: bool,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self.function = function
        self.priority = priority
        self.onetime = onetime
        self.args = args
        self.kwargs = kwargs
        self.removed = False


class EventDispatcher:
    """Observers of named events and path queries, and ``dispatch`` to call them.

    Args:
        eventprefix: what starts a named event's string (Twisted's ``"//event/"``).
    """

    def __init__(self, eventprefix: str = "//event/") -> None:
        self.prefix = eventprefix
        self._eventObservers: dict[str, list[_Observer]] = {}
        self._xpathObservers: dict[XPathQuery, list[_Observer]] = {}

    def _table(self, event: Event) -> tuple[dict[Any, list[_Observer]], Any]:
        if isinstance(event, XPathQuery):
            return self._xpathObservers, event
        if event.startswith(self.prefix):
            return self._eventObservers, event
        return self._xpathObservers, internQuery(event)

    def _add(
        self,
        onetime: bool,
        event: Event,
        observerfn: Callable[..., object],
        priority: int,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        table, key = self._table(event)
        observers = table.setdefault(key, [])
        observer = _Observer(observerfn, priority, onetime, args, kwargs)
        index = len(observers)
        while index > 0 and observers[index - 1].priority < priority:
            index -= 1
        observers.insert(index, observer)

    def addObserver(
        self,
        event: Event,
        observerfn: Callable[..., object],
        priority: int = 0,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        """Call ``observerfn(obj, *args, **kwargs)`` for each ``event`` dispatched."""
        self._add(False, event, observerfn, priority, args, kwargs)

    def addOnetimeObserver(
        self,
        event: Event,
        observerfn: Callable[..., object],
        priority: int = 0,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        """Like addObserver, for the next ``event`` only."""
        self._add(True, event, observerfn, priority, args, kwargs)

    def removeObserver(self, event: Event, observerfn: Callable[..., object]) -> None:
        """Stop calling ``observerfn`` for ``event`` (nothing happens if it was not)."""
        table, key = self._table(event)
        observers = table.get(key)
        if not observers:
            return
        for observer in observers:
            if observer.function == observerfn:
                observer.removed = True
        observers[:] = [o for o in observers if not o.removed]
        if not observers:
            del table[key]

    def dispatch(self, obj: Any, event: str | None = None) -> bool:
        """Call the observers of ``event`` (or, with no event, of queries ``obj`` matches).

        Returns whether any observer was called.
        """
        groups: list[tuple[dict[Any, list[_Observer]], Any]]
        if event is not None:
            groups = [(self._eventObservers, event)] if event in self._eventObservers else []
        else:
            groups = [
                (self._xpathObservers, query)
                for query in list(self._xpathObservers)
                if query.matches(obj)
            ]
        if not groups:
            return False
        called = False
        for table, key in groups:
            for observer in list(table.get(key, ())):
                if observer.removed:
                    continue
                if observer.onetime:
                    observer.removed = True
                    remaining = [o for o in table.get(key, ()) if not o.removed]
                    if remaining:
                        table[key] = remaining
                    else:
                        table.pop(key, None)
                called = True
                try:
                    observer.function(obj, *observer.args, **observer.kwargs)
                except Exception:
                    _log.failure(
                        "an observer of {event} raised; the others still run",
                        event=key if isinstance(key, str) else key.queryStr,
                    )
        return called
