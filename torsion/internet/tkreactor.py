"""TkReactor: a torsion reactor on Tk's event loop (tkinter), for Tk applications.

A tkinter program runs Tk's loop (``root.mainloop()``); this reactor runs torsion on
that same loop, so a button's command can start a connection and a protocol can
update a label, in the one thread Tk allows. Install it before anything imports
``torsion.internet.reactor``::

    import tkinter
    root = tkinter.Tk()
    from torsion.internet import tkreactor
    tkreactor.install(root)
    from torsion.internet import reactor
    ...
    reactor.run()            # runs Tk's loop; reactor.stop() ends it

Closing the last window ends Tk's loop, and the reactor stops with it.

How it maps onto Tk (the rest is torsion.internet._loopreactor, shared with the
asyncio and Qt reactors): descriptors are watched with Tcl's file handlers
(``createfilehandler``, one per descriptor with the union of what its reader and
writer want), the earliest timed call with ``after``, ``callFromThread`` (and a
signal such as Ctrl-C) through a socket pair watched like any descriptor, and
``run()``/``iterate()`` run ``mainloop()``. File handlers are Tcl's on POSIX systems
only, so this reactor is for Linux, the BSDs and macOS.

For programs that keep another reactor and only want Tk's windows to stay alive,
torsion.internet.tksupport pumps Tk from that reactor instead (Twisted's way).
Tests: tests/internet/test_guireactors.py and the conformance suite, which runs on
this reactor where there is a display (the tests start Xvfb when it is installed).
"""

from __future__ import annotations

import math
import tkinter
from collections.abc import Callable
from typing import Any

from torsion.internet._loopreactor import LoopReactorBase
from torsion.internet.main import installReactor

__all__ = ["TkReactor", "install"]


class TkReactor(LoopReactorBase):
    """A reactor whose I/O, timers and cross-thread calls run on Tk's event loop.

    Args:
        root: the Tk application (``tkinter.Tk()``) or any of its widgets. None: a new
            ``tkinter.Tk()``, withdrawn (no window shows) and destroyed by ``_close``.
            Make it, and the reactor, in the thread that runs Tk.

    Raises:
        tkinter.TclError: when a new Tk cannot start (no display, say).
    """

    def __init__(self, root: tkinter.Misc | None = None) -> None:
        self._ownRoot = root is None
        if root is None:
            root = tkinter.Tk()
            root.withdraw()
        self._root: Any = root
        self._tk: Any = root.tk
        # Per descriptor: [what reads it, what writes it], as Tcl keeps one handler.
        self._handlers: dict[int, list[Any]] = {}
        self._afters: set[str] = set()
        self._mainloops = 0
        super().__init__()
        self._installWaker()

    # -- the loop (see LoopReactorBase) ------------------------------------------------

    def _watch(self, fd: int, selectable: Any, reading: bool) -> None:
        entry = self._handlers.setdefault(fd, [None, None])
        entry[0 if reading else 1] = selectable
        self._register(fd, entry)

    def _unwatch(self, fd: int, reading: bool) -> None:
        entry = self._handlers.get(fd)
        if entry is not None:
            entry[0 if reading else 1] = None
            self._register(fd, entry)

    def _register(self, fd: int, entry: list[Any]) -> None:
        reader, writer = entry
        mask = (tkinter.READABLE if reader is not None else 0) | (
            tkinter.WRITABLE if writer is not None else 0
        )
        if mask:
            self._tk.createfilehandler(fd, mask, self._tkReady)
        else:
            del self._handlers[fd]
            self._tk.deletefilehandler(fd)

    def _tkReady(self, fd: int, mask: int) -> None:
        # Called by Tcl directly: an exception escaping here would end mainloop(), so
        # none may (dispatch errors are logged and close only their descriptor).
        entry = self._handlers.get(fd)
        if entry is None:
            return
        reader, writer = entry
        readable = bool(mask & tkinter.READABLE) and reader is not None
        writable = bool(mask & tkinter.WRITABLE) and writer is not None
        if readable and writable and reader is writer:
            self._ioReady(reader, True, True)
            return
        if readable:
            self._ioReady(reader, True, False)
        if writable and self._handlers.get(fd) is entry and entry[1] is writer:
            self._ioReady(writer, False, True)

    def _loopCallLater(self, delay: float, f: Callable[[], object]) -> str:
        def fired() -> None:
            self._afters.discard(ident)
            f()

        # Rounded up: a timer that fires early finds nothing due and is armed again.
        ident: str = self._root.after(max(0, math.ceil(delay * 1000)), fired)
        self._afters.add(ident)
        return ident

    def _loopCancel(self, handle: str) -> None:
        if handle in self._afters:
            self._afters.discard(handle)
            self._root.after_cancel(handle)

    def _loopRun(self) -> None:
        self._mainloops += 1
        try:
            self._root.mainloop()
        finally:
            self._mainloops -= 1

    def _loopStop(self) -> None:
        if self._mainloops:
            self._root.quit()

    def _loopRunning(self) -> bool:
        return self._mainloops > 0

    def _close(self) -> None:
        super()._close()
        for fd in list(self._handlers):
            del self._handlers[fd]
            self._tk.deletefilehandler(fd)
        try:
            for ident in list(self._afters):
                self._loopCancel(ident)
            if self._ownRoot:
                self._root.destroy()
        except tkinter.TclError:
            pass  # The application was destroyed already (its window closed).
        self._afters.clear()
        # Let go of Tk here, in its own thread: were the reactor collected later as
        # part of a cycle, in whatever thread the collector runs, freeing Tk there
        # would make Tcl abort the process ("deleted by the wrong thread").
        self._root = self._tk = None


def install(root: tkinter.Misc | None = None) -> TkReactor:
    """Make a TkReactor on ``root`` (see TkReactor) the global reactor; return it.

    Raises:
        ReactorAlreadyInstalledError: if a reactor is installed already.
    """
    reactor = TkReactor(root)
    try:
        installReactor(reactor)
    except BaseException:
        reactor._close()
        raise
    return reactor
