"""Dynamically scoped context: values visible to everything a call makes, and no further.

This is Twisted's ``context`` API (``call`` and ``get``) built on :mod:`contextvars`, so a
context set in one thread or asyncio task never leaks into another: a new thread starts
from the defaults, and an asyncio task sees the context that was current when it was
created. torsion's logging uses it to carry the ``system`` shown in log lines (see
``torsion.python.log.callWithContext``).

Tests: tests/python/test_context.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

_T = TypeVar("_T")

_current: ContextVar[Mapping[object, object] | None] = ContextVar(
    "torsion.python.context", default=None
)

# Values seen by every context that does not set the key itself.
defaultContextDict: dict[object, object] = {}


def setDefault(key: object, value: object) -> None:
    """Set the value that ``get(key)`` returns where no enclosing ``call`` sets ``key``."""
    defaultContextDict[key] = value


def call(newContext: Mapping[object, object], func: Callable[..., _T], *args: Any, **kw: Any) -> _T:
    """Call ``func(*args, **kw)`` with the keys of ``newContext`` added to the context.

    The keys are visible through ``get`` for the duration of the call (including in asyncio
    tasks created during it) and are removed again when it returns or raises.

    Returns:
        Whatever ``func`` returns.
    """
    outer = _current.get()
    merged = dict(outer) if outer else {}
    merged.update(newContext)
    token = _current.set(merged)
    try:
        return func(*args, **kw)
    finally:
        _current.reset(token)


def current() -> Mapping[object, object] | None:
    """Return the mapping of the innermost ``call`` (None outside any), for extensions."""
    return _current.get()


def callWithMapping(
    mapping: Mapping[object, object], func: Callable[..., _T], *args: Any, **kw: Any
) -> _T:
    """Call ``func`` with ``mapping`` as the whole current context, replacing the outer one.

    For extensions that compute their context lazily: ``mapping`` must itself answer for
    the keys of the outer context (``current()``) that it wants to keep visible.
    """
    token = _current.set(mapping)
    try:
        return func(*args, **kw)
    finally:
        _current.reset(token)


def get(key: object, default: object = None) -> Any:
    """Return the value of ``key`` in the current context, or ``default`` if it is not set."""
    current = _current.get()
    if current is not None and key in current:
        return current[key]
    return defaultContextDict.get(key, default)


__all__ = ["call", "callWithMapping", "current", "defaultContextDict", "get", "setDefault"]
