"""QtReactor: a torsion reactor on Qt's event loop (PySide6), for Qt applications.

A Qt program has one event loop, Qt's; this reactor runs torsion on it, so widgets
and network code share the one thread without either blocking the other: a slot can
start a connection, and a protocol's ``dataReceived`` can update a widget. Install it
before anything imports ``torsion.internet.reactor``::

    from PySide6.QtWidgets import QApplication
    app = QApplication(sys.argv)
    from torsion.internet import qtreactor
    qtreactor.install(app)
    from torsion.internet import reactor
    ...
    reactor.run()            # runs Qt's loop; reactor.stop() ends it

How it maps onto Qt (the rest is torsion.internet._loopreactor, shared with the
asyncio and Tk reactors):

- each watched descriptor is a ``QSocketNotifier`` (one for reading, one for
  writing), whose ``activated`` signal dispatches it;
- the timer for the earliest timed call is a single-shot ``QTimer`` (precise, so a
  call is not early or late by Qt's coarse 5% slack);
- ``callFromThread`` writes to a socket pair watched like any descriptor, and a
  signal (Ctrl-C) wakes the loop through it (``signal.set_wakeup_fd``), since Python
  runs its signal handlers only when Qt calls back into Python;
- ``run()`` and ``iterate()`` run a ``QEventLoop``; a program that runs Qt's loop
  itself (``app.exec()``) calls ``reactor.runReturn()`` first instead of ``run()``.

PySide6 is an optional dependency: ``pip install 'torsion[qt]'``. Without a display,
``QT_QPA_PLATFORM=offscreen`` runs widgets too; a plain ``QCoreApplication`` (what
``install()`` makes when there is no application yet) needs none.
Tests: tests/internet/test_guireactors.py and the conformance suite, which runs on
this reactor where PySide6 is installed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from torsion.internet._loopreactor import LoopReactorBase
from torsion.internet.main import installReactor

try:
    from PySide6.QtCore import QCoreApplication, QEventLoop, QSocketNotifier, Qt, QThread, QTimer
except ImportError as e:  # pragma: no cover - depends on the machine
    raise ImportError(
        f"torsion.internet.qtreactor needs PySide6 ({e}); install it with pip install 'torsion[qt]'"
    ) from e

__all__ = ["QtReactor", "install"]


class QtReactor(LoopReactorBase):
    """A reactor whose I/O, timers and cross-thread calls run on Qt's event loop.

    Args:
        app: the application whose loop to run on. None: the application that
            exists (``QApplication.instance()``), else a new ``QCoreApplication``.
            Make it, and the reactor, in the thread that runs Qt's loop.
    """

    def __init__(self, app: QCoreApplication | None = None) -> None:
        existing = QCoreApplication.instance()
        self._app = app or existing or QCoreApplication([])
        self._notifiers: dict[tuple[int, bool], QSocketNotifier] = {}
        # Timers and notifiers let go of while one of their own signals may be running:
        # deleted only once the loop has moved on (see _retire).
        self._retired: list[Any] = []
        self._timers: set[QTimer] = set()
        self._eventLoops: list[QEventLoop] = []
        super().__init__()
        self._installWaker()

    def _retire(self, thing: Any) -> None:
        # Dropping the last reference deletes the C++ object at once, which must not
        # happen inside its own signal; the next pass deletes it instead.
        self._retired.append(thing)

    # -- the loop (see LoopReactorBase) ------------------------------------------------

    def _watch(self, fd: int, selectable: Any, reading: bool) -> None:
        kind = QSocketNotifier.Type.Read if reading else QSocketNotifier.Type.Write
        notifier = QSocketNotifier(fd, kind)
        notifier.activated.connect(lambda *_: self._qtReady(selectable, reading))
        self._notifiers[(fd, reading)] = notifier

    def _qtReady(self, selectable: Any, reading: bool) -> None:
        self._retired.clear()
        self._ioReady(selectable, reading, not reading)

    def _unwatch(self, fd: int, reading: bool) -> None:
        notifier = self._notifiers.pop((fd, reading), None)
        if notifier is not None:
            notifier.setEnabled(False)
            self._retire(notifier)

    def _loopCallLater(self, delay: float, f: Callable[[], object]) -> QTimer:
        timer = QTimer()
        timer.setSingleShot(True)
        timer.setTimerType(Qt.TimerType.PreciseTimer)

        def fired() -> None:
            self._timers.discard(timer)
            self._retire(timer)
            f()

        timer.timeout.connect(fired)
        self._timers.add(timer)
        # Rounded up: a timer that fires early finds nothing due and is armed again.
        timer.start(max(0, math.ceil(delay * 1000)))
        return timer

    def _loopCancel(self, handle: QTimer) -> None:
        handle.stop()
        if handle in self._timers:
            self._timers.discard(handle)
            self._retire(handle)

    def _loopRun(self) -> None:
        loop = QEventLoop()
        self._eventLoops.append(loop)
        try:
            loop.exec()
        finally:
            self._eventLoops.pop()
            self._retire(loop)

    def _loopStop(self) -> None:
        if self._eventLoops:
            self._eventLoops[-1].quit()

    def _loopRunning(self) -> bool:
        return bool(self._eventLoops) or QThread.currentThread().loopLevel() > 0

    # -- life cycle ----------------------------------------------------------------------

    def runReturn(self, installSignalHandlers: bool = True) -> None:
        """Start the reactor (fire 'startup') and return, for a program that runs Qt's
        loop itself (``app.exec()``); torsion's events are handled while it runs."""
        self.startRunning(installSignalHandlers)
        self._loopCallSoon(self._runPass)

    def _close(self) -> None:
        super()._close()
        for timer in list(self._timers):
            self._loopCancel(timer)
        self._retired.clear()


def install(app: QCoreApplication | None = None) -> QtReactor:
    """Make a QtReactor on ``app`` (see QtReactor) the global reactor; return it.

    Raises:
        ReactorAlreadyInstalledError: if a reactor is installed already.
    """
    reactor = QtReactor(app)
    try:
        installReactor(reactor)
    except BaseException:
        reactor._close()
        raise
    return reactor
