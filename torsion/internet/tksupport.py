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


class _Pump:
    """Lets Tk handle its events at each tick of a LoopingCall on the reactor."""

    def __init__(self, widget: tkinter.Misc, reactor: Any) -> None:
        self.widget: tkinter.Misc | None = widget
        self.reactor = reactor
        self.loop = task.LoopingCall(self.update)
        self.loop.clock = reactor

    def update(self) -> None:
        widget = self.widget
        if widget is None:
            return
        try:
            # Tcl's own "update" still works once Tk is gone; Tk's "winfo" does not.
            if not widget.winfo_exists():
                raise tkinter.TclError("the widget was destroyed")
            widget.update()
        except tkinter.TclError:
            # The application was destroyed (its window closed): stop with it.
            uninstall()
            if self.reactor.running:
                self.reactor.stop()

    def stop(self) -> None:
        if self.loop.running:
            self.loop.stop()
        # Let go of Tk now, in its own thread: the LoopingCall may live on in a cycle
        # that the collector frees later in another thread, and Tcl aborts the process
        # when Tk is freed outside the thread that made it.
        self.widget = None


_pump: _Pump | None = None


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
    _pump = _Pump(widget, reactor)
    _pump.loop.start(ms / 1000.0)


def uninstall() -> None:
    """Stop pumping Tk (nothing happens if it was not installed)."""
    global _pump
    pump, _pump = _pump, None
    if pump is not None:
        pump.stop()
