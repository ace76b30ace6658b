"""Dynamically scoped context: values visible to everything a call makes, and no further.

This is Twisted's ``context`` API (``call`` and ``get``) built on :mod:`contextvars`, so a
context set in one thread or asyncio task never leaks into another: a new thread starts
from the defaults, and an asyncio task sees the context that was current when it was
created. torsion's logging uses it to carry the ``system`` shown in log lines (see
``torsion.python.log.callWithContext``).

Tests: tests/python/test_context.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

_T = TypeVar("_T")

# The current context: None (nothing set), a mapping, or a lazy context: a tuple
# (factory, outer, argument) standing for the mapping ``factory(outer, argument)``, which
# is made only if someone looks. The reactor enters a lazy context for every I/O event
# (see ``callLazily``), and building a tuple is far cheaper than building a mapping.
_Context = Mapping[object, object] | tuple[Any, Any, Any] | None
_current: ContextVar[_Context] = ContextVar("torsion.python.context", default=None)


# A per-thread lazy layer, for the reactor's loop: this thread's ``Layer`` may stand for
# a lazy context ``(factory, outer, argument)`` whose ``outer`` is the context var's value
# when it was entered. While the context var still holds exactly that value, the layer
# is the innermost context of this thread; once code enters a context of its own, that
# one is. The layer is mutable so that a loop can enter it once per pass and then move
# it from event to event with a single attribute store (``layer.argument = x``), against
# a context var's set and reset and two calls for ``callLazily``, or even a new tuple
# per event: the reactor does it for every I/O event. asyncio tasks do not inherit it
# (they copy the context var only), so it is for loops that run no tasks.
class Layer:
    """One thread's lazy layer; ``factory`` None means no layer is entered."""

    __slots__ = ("argument", "factory", "outer")

    def __init__(self) -> None:
        self.factory: Callable[[Any, Any], Mapping[object, object]] | None = None
        self.outer: _Context = None
        self.argument: object = None


class _ThreadLayers(threading.local):
    def __init__(self) -> None:
        self.layer = Layer()


_threadLayers = _ThreadLayers()


def threadLayer() -> Layer:
    """Return this thread's lazy layer, for loops that enter it (see ``Layer``)."""
    return _threadLayers.layer


# Values seen by every context that does not set the key itself.
defaultContextDict: dict[object, object] = {}


def setDefault(key: object, value: object) -> None:
    """Set the value that ``get(key)`` returns where no enclosing ``call`` sets ``key``."""
    defaultContextDict[key] = value


def resolve(context: _Context) -> Mapping[object, object] | None:
    """Return the mapping that ``context`` (as returned by ``current()``) stands for."""
    if type(context) is tuple:
        factory, outer, argument = context
        made: Mapping[object, object] = factory(outer, argument)
        return made
    return context  # type: ignore[return-value]


def _innermost() -> _Context:
    """The innermost context of this thread/task, as stored: the layer or the context var."""
    current = _current.get()
    layer = _threadLayers.layer
    if layer.factory is not None and layer.outer is current:
        return (layer.factory, current, layer.argument)
    return current


def call(newContext: Mapping[object, object], func: Callable[..., _T], *args: Any, **kw: Any) -> _T:
    """Call ``func(*args, **kw)`` with the keys of ``newContext`` added to the context.

    The keys are visible through ``get`` for the duration of the call (including in asyncio
    tasks created during it) and are removed again when it returns or raises.

    Returns:
        Whatever ``func`` returns.
    """
    outer = resolve(_innermost())
    merged = dict(outer) if outer else {}
    merged.update(newContext)
    token = _current.set(merged)
    try:
        return func(*args, **kw)
    finally:
        _current.reset(token)


def current() -> _Context:
    """Return the innermost context as it is stored (see ``resolve``), for extensions."""
    return _innermost()


# currentVariable() returns the context variable's own value (what a thread layer records
# as outer). It is the variable's own get, not a function around it: the reactor's loop
# asks for it on every pass, and the asyncio reactor's connections on every read.
currentVariable: Callable[[], _Context] = _current.get


def callLazily(
    factory: Callable[[Any, Any], Mapping[object, object]],
    argument: object,
    func: Callable[..., _T],
    *args: Any,
    **kw: Any,
) -> _T:
    """Call ``func`` in the context ``factory(outer, argument)``, made only if looked at.

    ``outer`` is the enclosing context as ``current()`` returns it (pass it to
    ``resolve``); the mapping ``factory`` returns replaces it as a whole, so it should
    include the outer keys it wants to keep. ``factory`` may run several times.
    """
    token = _current.set((factory, _innermost(), argument))
    try:
        return func(*args, **kw)
    finally:
        _current.reset(token)


def get(key: object, default: object = None) -> Any:
    """Return the value of ``key`` in the current context, or ``default`` if it is not set."""
    current = resolve(_innermost())
    if current is not None and key in current:
        return current[key]
    return defaultContextDict.get(key, default)


__all__ = [
    "Layer",
    "call",
    "callLazily",
    "current",
    "currentVariable",
    "defaultContextDict",
    "get",
    "resolve",
    "setDefault",
    "threadLayer",
]
