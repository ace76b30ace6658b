"""The log context key and the lookup of the current ``system``.

``ILogContext`` is the key under which ``torsion.python.log.callWithContext`` keeps a dict
such as ``{"system": "EchoProtocol,0,127.0.0.1"}`` in ``torsion.python.context``; every
event a ``Logger`` emits takes its ``log_system`` from there ("-" when nothing set one).

Tests: tests/python/test_log.py and tests/logger/test_logger.py.
"""

from __future__ import annotations

from zope.interface import Interface

from torsion.python import context


class ILogContext(Interface):
    """Context key for the dict of log settings (such as ``system``) of the current call."""


def currentSystem() -> str:
    """Return the ``system`` of the current log context, or "-" if none is set."""
    logContext = context.get(ILogContext)
    if logContext is None:
        return "-"
    system = logContext.get("system")
    return "-" if system is None else str(system)
