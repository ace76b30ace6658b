"""Keep Tk windows alive from any reactor: ``tksupport.install(root)`` (Twisted's API).

The reactor stays whatever it is (epoll, say) and runs as usual with ``reactor.run()``;
every ``ms`` milliseconds it lets Tk handle its pending events (``root.update()``),
so windows redraw and buttons answer. It costs a wake-up per interval and a click
waits up to ``ms``; torsion.internet.tkreactor instead runs torsion on Tk's own loop,
with neither cost. Closing the window (the root is destroyed) uninstalls the pump
and stops the reactor, as closing the last window of a Tk program ends it.
Tests: tests/internet/test_guireactors.py.
"""

from __future__ import annotations

import tkinter
from typing import Any

from torsion.internet import task

__all__ = ["install", "uninstall"]

_pump: task.LoopingCall | None = None


def install(widget: tkinter.Misc, ms: int = 10, reactor: Any = None) -> None:
    """Let Tk handle its events every ``ms`` milliseconds while ``reactor`` runs.

    Raises:
        RuntimeError: if a pump is installed already (``uninstall`` it first).
    """
    global _pump
    if _pump is not None:
        raise RuntimeError("tksupport is installed already; call tksupport.uninstall() first")
    if reactor is None:
        from torsion.internet import reactor as installed

        reactor = installed

    def update() -> None:
        try:
            # Tcl's own "update" still works once Tk is gone; Tk's "winfo" does not.
            if not widget.winfo_exists():
                raise tkinter.TclError("the widget was destroyed")
            widget.update()
        except tkinter.TclError:
            # The application was destroyed (its window closed): stop with it.
            uninstall()
            if reactor.running:
                reactor.stop()

    _pump = task.LoopingCall(update)
    _pump.clock = reactor
    _pump.start(ms / 1000.0)


def uninstall() -> None:
    """Stop pumping Tk (nothing happens if it was not installed)."""
    global _pump
    pump, _pump = _pump, None
    if pump is not None and pump.running:
        pump.stop()
