"""AsyncioSelectorReactor: a torsion reactor on any asyncio event loop (uvloop's too).

torsion code and asyncio code then share one loop: a protocol can await an asyncio
coroutine (through ``Deferred.fromFuture``), asyncio code can await a Deferred
(``d.asFuture(loop)``), and both kinds of servers run side by side. The reactor keeps
no loop of its own (torsion.internet._loopreactor has what it shares with the GUI
toolkits' reactors):

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

from torsion.internet import tcp
from torsion.internet._asynciotcp import LoopConnection, LoopConnector, LoopPort
from torsion.internet._loopreactor import LoopReactorBase
from torsion.internet.main import installReactor

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


class AsyncioSelectorReactor(LoopReactorBase):
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
        super().__init__()

    # -- the loop (see LoopReactorBase) ------------------------------------------------

    def _watch(self, fd: int, selectable: Any, reading: bool) -> None:
        if reading:
            self._asyncioEventloop.add_reader(fd, self._ioReady, selectable, True, False)
        else:
            self._asyncioEventloop.add_writer(fd, self._ioReady, selectable, False, True)

    def _unwatch(self, fd: int, reading: bool) -> None:
        if reading:
            self._asyncioEventloop.remove_reader(fd)
        else:
            self._asyncioEventloop.remove_writer(fd)

    def _loopCallLater(self, delay: float, f: Callable[[], object]) -> TimerHandle:
        return self._asyncioEventloop.call_later(delay, f)

    def _loopCancel(self, handle: TimerHandle) -> None:
        handle.cancel()

    def _loopCallSoon(self, f: Callable[[], object]) -> None:
        self._asyncioEventloop.call_soon(f)

    def _loopRun(self) -> None:
        self._asyncioEventloop.run_forever()

    def _loopStop(self) -> None:
        self._asyncioEventloop.stop()

    def _loopRunning(self) -> bool:
        return self._asyncioEventloop.is_running()

    def wakeUp(self) -> None:
        """Make the loop run the calls from other threads soon (safe from any thread)."""
        if self._wakeScheduled:
            return
        self._wakeScheduled = True
        try:
            self._asyncioEventloop.call_soon_threadsafe(self._wokenUp)
        except RuntimeError:
            self._wakeScheduled = False  # The loop is closed: nothing will run anyway.

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
