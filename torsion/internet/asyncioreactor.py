"""AsyncioSelectorReactor: a torsion reactor on any asyncio event loop (uvloop's too).

torsion code and asyncio code then share one loop: a protocol can await an asyncio
coroutine (through ``Deferred.fromFuture``), asyncio code can await a Deferred
(``d.asFuture(loop)``), and both kinds of servers run side by side. The reactor keeps
no loop of its own:

- TCP connections are the loop's own transports (libuv's, on uvloop), with a thin
  adapter to torsion's protocols (torsion.internet._asynciotcp); torsion still makes
  the sockets, so ports and connectors behave as on every other reactor. With
  ``nativeTransports=False`` they are torsion's own transports instead, as below;
- descriptors are watched with ``loop.add_reader``/``add_writer``; their events go
  through the same dispatch as the selector reactors (torsion.internet.posixbase);
- timed calls keep ReactorBase's heap (so DelayedCall behaves exactly as elsewhere),
  with one loop timer armed for the earliest of them;
- ``callFromThread`` and ``wakeUp`` go through ``loop.call_soon_threadsafe``;
- ``run()`` is ``loop.run_forever()`` between the startup and shutdown events, and
  ``iterate()`` runs the loop for one pass.

Each of those callbacks is a "pass": at its end, what transports wrote during it is
sent in one batch, as the selector reactors do at the end of theirs.
Tests: tests/internet/test_asyncioreactor.py and the conformance suite, which runs on
this reactor over asyncio's own loop and, when installed, uvloop's.
"""

from __future__ import annotations

import asyncio
import warnings
from asyncio import AbstractEventLoop, TimerHandle
from collections.abc import Callable
from typing import Any

from torsion.internet import error, tcp
from torsion.internet._asynciotcp import LoopConnection, LoopConnector, LoopPort
from torsion.internet._delayedcall import DelayedCall
from torsion.internet.base import ReactorBase
from torsion.internet.main import installReactor
from torsion.internet.posixbase import DescriptorReactorMixin
from torsion.python import log

__all__ = ["AsyncioSelectorReactor", "install"]


def _currentLoop() -> AbstractEventLoop:
    """Return the loop asyncio code in this thread would use, making one if there is none.

    That is the running loop, else the one set with ``asyncio.set_event_loop`` (or made
    by an installed policy, such as uvloop's), else a new loop that becomes the
    thread's current one, so that ``asyncio.get_event_loop()`` finds it later.
    """
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    with warnings.catch_warnings():
        # Newer Pythons warn when get_event_loop() has to make a loop; that is the point.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return asyncio.get_event_loop()
        except RuntimeError:
            pass
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    return loop


class AsyncioSelectorReactor(DescriptorReactorMixin, ReactorBase):
    """A reactor whose I/O, timers and cross-thread calls all run on an asyncio loop.

    The calls that are not thread-safe elsewhere (callLater, DelayedCall.reset, the
    IReactorFDSet methods) are not thread-safe here either: make them from the loop's
    thread, or through ``callFromThread``. The loop must support ``add_reader``: every
    loop on POSIX systems does, Windows' default proactor loop does not.

    Args:
        eventloop: the loop to run on. None: the thread's current asyncio loop (see
            ``install``). The reactor never closes a loop it was given.
        nativeTransports: run TCP connections on the loop's own transports (the
            default: on uvloop, much faster). False: on torsion's own transports, with
            the loop only watching their descriptors, exactly as the other reactors
            run them (for comparison, or for code that needs torsion's write batching).
    """

    def __init__(
        self, eventloop: AbstractEventLoop | None = None, nativeTransports: bool = True
    ) -> None:
        self._asyncioEventloop = eventloop if eventloop is not None else _currentLoop()
        self.nativeTransports = nativeTransports
        # Connections run by the loop's transports, and attempts to make them.
        self._loopConnections: set[LoopConnection] = set()
        # The descriptor each watched object was registered with (fileno() is -1 once
        # the object is closed, but the loop must be told which one to forget).
        self._readers: dict[Any, int] = {}
        self._writers: dict[Any, int] = {}
        # The loop timer armed for the earliest timed call, and when (seconds()) it is.
        self._timer: TimerHandle | None = None
        self._timerWhen: float | None = None
        self._wakeScheduled = False
        # True while one of the reactor's own callbacks runs: writes made then are
        # flushed at its end instead of through a call_soon of their own.
        self._inPass = False
        # True while iterate() runs the loop: the first pass stops it.
        self._iterating = False
        self._loopRunByReactor = False
        super().__init__()
        self._scheduleWrite = self._scheduleWriteSoon

    # -- descriptors --------------------------------------------------------------------

    def addReader(self, reader: Any) -> None:
        """Watch ``reader`` for readability."""
        if reader in self._readers:
            return
        fd = reader.fileno()
        if fd == -1:
            return
        self._asyncioEventloop.add_reader(fd, self._ioReady, reader, True, False)
        self._readers[reader] = fd

    def addWriter(self, writer: Any) -> None:
        """Watch ``writer`` for writability."""
        if writer in self._writers:
            return
        fd = writer.fileno()
        if fd == -1:
            return
        self._asyncioEventloop.add_writer(fd, self._ioReady, writer, False, True)
        self._writers[writer] = fd

    def removeReader(self, reader: Any) -> None:
        """Stop watching ``reader`` for readability."""
        fd = self._readers.pop(reader, None)
        if fd is not None:
            self._asyncioEventloop.remove_reader(fd)

    def removeWriter(self, writer: Any) -> None:
        """Stop watching ``writer`` for writability."""
        fd = self._writers.pop(writer, None)
        if fd is not None:
            self._asyncioEventloop.remove_writer(fd)

    def removeAll(self) -> list[Any]:
        """Stop watching every descriptor; return what was watched."""
        removed = list(dict.fromkeys([*self._readers, *self._writers]))
        for selectable in removed:
            self.removeReader(selectable)
            self.removeWriter(selectable)
        return removed

    def getReaders(self) -> list[Any]:
        """Return everything watched for readability."""
        return list(self._readers)

    def getWriters(self) -> list[Any]:
        """Return everything watched for writability."""
        return list(self._writers)

    def _ioReady(self, selectable: Any, readable: bool, writable: bool) -> None:
        """The loop saw ``selectable`` ready: dispatch it, then send what was written."""
        self._inPass = True
        log.callWithLogger(selectable, self._dispatch, selectable, readable, writable)
        self._inPass = False
        if self._pendingWriters:
            self._flushPendingWrites()
        if self._iterating:
            self._stopIterating()

    def _scheduleWriteSoon(self, writer: Any) -> None:
        """Send ``writer``'s new data at the end of this pass (or soon, outside one)."""
        pending = self._pendingWriters
        if not pending and not self._inPass:
            # Written from asyncio code or a Future's callback: no pass will end soon.
            self._asyncioEventloop.call_soon(self._flushSoon)
        pending.append(writer)

    def _flushSoon(self) -> None:
        if self._pendingWriters:
            self._flushPendingWrites()

    # -- TCP ---------------------------------------------------------------------------

    def listenTCP(
        self, port: int, factory: Any, backlog: int = 50, interface: str = ""
    ) -> tcp.Port:
        """Listen for TCP connections on ``interface``:``port`` (0: a free port).

        Raises:
            CannotListenError: naming the address, if it cannot be listened on.
        """
        if not self.nativeTransports:
            return super().listenTCP(port, factory, backlog, interface)
        listening = LoopPort(port, factory, backlog, interface, self)
        listening.startListening()
        return listening

    def connectTCP(
        self,
        host: str,
        port: int,
        factory: Any,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> tcp.Connector:
        """Connect to ``host``:``port`` (names resolved with ``resolve``), telling ``factory``."""
        if not self.nativeTransports:
            return super().connectTCP(host, port, factory, timeout, bindAddress)
        connector = LoopConnector(host, port, factory, timeout, bindAddress, self)
        connector.connect()
        return connector

    def disconnectAll(self) -> None:
        """At shutdown: close every port and connection, and give up every attempt."""
        super().disconnectAll()
        for connection in list(self._loopConnections):
            connection._abandon()

    # -- timed calls and cross-thread calls ----------------------------------------------

    def callLater(
        self, delay: float, callable: Callable[..., object], *args: Any, **kw: Any
    ) -> DelayedCall:
        """Call ``callable(*args, **kw)`` after ``delay`` seconds; return its DelayedCall.

        Raises:
            ValueError: if ``delay`` is negative.
        """
        call = super().callLater(delay, callable, *args, **kw)
        if self._timerWhen is None or call.time < self._timerWhen:
            self._setTimer(call.time)
        return call

    def _timedCallMoved(self, call: DelayedCall) -> None:
        if self._timerWhen is None or call.time < self._timerWhen:
            self._setTimer(call.time)

    def _setTimer(self, when: float) -> None:
        """Arm the loop timer for ``when`` (on the ``seconds()`` clock), replacing any."""
        if self._timer is not None:
            self._timer.cancel()
        self._timerWhen = when
        # A relative delay, because a loop's own clock (uvloop's) may not be seconds().
        self._timer = self._asyncioEventloop.call_later(
            max(0.0, when - self.seconds()), self._timerFired
        )

    def _timerFired(self) -> None:
        self._timer = None
        self._timerWhen = None
        self._runPass()

    def _rearmTimer(self) -> None:
        """After due calls ran: arm the loop timer for the next one, if it is not already."""
        when = self._nextTimedCallTime()
        if when is None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
                self._timerWhen = None
        elif self._timerWhen is None or when < self._timerWhen:
            self._setTimer(when)

    def wakeUp(self) -> None:
        """Make the loop run the calls from other threads soon (safe from any thread)."""
        if self._wakeScheduled:
            return
        self._wakeScheduled = True
        try:
            self._asyncioEventloop.call_soon_threadsafe(self._wokenUp)
        except RuntimeError:
            self._wakeScheduled = False  # The loop is closed: nothing will run anyway.

    def _wokenUp(self) -> None:
        # Cleared before the queue is read, so a call queued from now on wakes us again.
        self._wakeScheduled = False
        self._runPass()

    def _runPass(self) -> None:
        """Run the calls from other threads and the due timed calls, then send writes."""
        self._inPass = True
        try:
            self.runUntilCurrent()
        finally:
            self._inPass = False
        if self._pendingWriters:
            self._flushPendingWrites()
        self._rearmTimer()
        if self._iterating:
            self._stopIterating()

    # -- life cycle ----------------------------------------------------------------------

    def run(self, installSignalHandlers: bool = True) -> None:
        """Run the asyncio loop; fire 'startup' in it, and stop it after ``stop()``.

        The startup triggers (``callWhenRunning``) run inside the running loop, so
        asyncio code started there (``asyncio.ensure_future``) lands on this loop.

        Raises:
            ReactorAlreadyRunning: if the reactor runs, or if the loop is running already
                (say, inside ``asyncio.run``): torsion code runs on it as it is, without
                ``run()``.
            ReactorNotRestartable: if the reactor has run and stopped before.
        """
        loop = self._asyncioEventloop
        if loop.is_running():
            raise error.ReactorAlreadyRunning(
                "this reactor's asyncio loop is already running, so torsion code runs on "
                "it already; don't call reactor.run() from inside the loop"
            )
        problems: list[BaseException] = []

        def start() -> None:
            try:
                self.startRunning(installSignalHandlers)
            except BaseException as e:
                problems.append(e)
                loop.stop()

        loop.call_soon(start)
        try:
            self._runLoop()
        finally:
            self._restoreSignalHandlers()
        if problems:
            raise problems[0]

    def mainLoop(self) -> None:
        """Run the asyncio loop until the reactor stops or crashes.

        For code that calls ``startRunning`` itself; ``run`` does both.
        """
        if self._started:
            self._runLoop()

    def _runLoop(self) -> None:
        self._loopRunByReactor = True
        self.wakeUp()  # A first pass, for calls that were due before the loop ran.
        try:
            self._asyncioEventloop.run_forever()
        finally:
            self._loopRunByReactor = False
        if self._started:
            self.crash()  # Someone else stopped the loop: the reactor stops with it.

    def crash(self) -> None:
        """Stop the loop now, without the 'shutdown' event."""
        super().crash()
        if self._loopRunByReactor:
            self._asyncioEventloop.stop()

    def doIteration(self, timeout: float | None) -> None:
        """Run the loop until one of the reactor's callbacks ran, or ``timeout`` passed."""
        loop = self._asyncioEventloop
        self._iterating = True
        limit = loop.call_later(timeout, self._stopIterating) if timeout is not None else None
        try:
            loop.run_forever()
        finally:
            self._iterating = False
            if limit is not None:
                limit.cancel()

    def iterate(self, delay: float = 0.0) -> None:
        """Run the due calls, then the loop until something happens or ``delay`` passes."""
        self._runPass()
        self.doIteration(delay)

    def _stopIterating(self) -> None:
        # At most one stop per iterate(): uvloop queues each stop() as a callback, and a
        # second one left in the queue would end the next run of the loop at once.
        if self._iterating:
            self._iterating = False
            self._asyncioEventloop.stop()

    def _close(self) -> None:
        """Forget every descriptor and the loop timer (for tests and embedders).

        The loop itself is left open: whoever made it closes it.
        """
        self.removeAll()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timerWhen = None


def install(
    eventloop: AbstractEventLoop | None = None, nativeTransports: bool = True
) -> AsyncioSelectorReactor:
    """Make an AsyncioSelectorReactor on ``eventloop`` the global reactor; return it.

    Args:
        eventloop: the loop to run on. None: the running loop; else the thread's
            current loop (``asyncio.set_event_loop``, or what an installed policy such
            as uvloop's makes); else a new loop, which becomes the current one so that
            asyncio code finds it with ``asyncio.get_event_loop()``.
        nativeTransports: run TCP on the loop's own transports (see
            AsyncioSelectorReactor).

    Raises:
        ReactorAlreadyInstalledError: if a reactor is installed already.
    """
    reactor = AsyncioSelectorReactor(eventloop, nativeTransports)
    try:
        installReactor(reactor)
    except BaseException:
        reactor._close()
        raise
    return reactor
