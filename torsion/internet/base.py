"""ReactorBase: everything a reactor does that does not depend on how it polls.

Timed calls, system event triggers (startup/shutdown in before/during/after phases),
the run/stop/crash life cycle, cross-thread calls, the thread pool and name
resolution live here. A concrete reactor (torsion.internet._selectorreactor, or
torsion.internet.asyncioreactor) adds ``doIteration(timeout)`` (wait for I/O and
dispatch it) and ``wakeUp()`` (make a waiting ``doIteration`` return). BaseConnector,
the client side of a connection attempt shared by every transport, is here too.
Tests: tests/internet/test_base.py.
"""

from __future__ import annotations

import heapq
import itertools
import pickle
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from zope.interface import implementer

from torsion.internet import error
from torsion.internet._delayedcall import DelayedCall
from torsion.internet.defer import Deferred, DeferredList, succeed
from torsion.internet.interfaces import (
    IConnector,
    IDelayedCall,
    IReactorCore,
    IReactorPluggableResolver,
    IReactorThreads,
    IReactorTime,
    IResolverSimple,
)
from torsion.python import log, threadable
from torsion.python.failure import Failure

__all__ = ["BaseConnector", "ReactorBase", "ThreadedResolver", "isIPAddress"]

_PHASES = ("before", "during", "after")
# Compact the timed-call heap once this many stale entries have piled up (and they are
# at least half of it): cancelling many long timeouts must not keep memory forever.
_COMPACT_THRESHOLD = 50


def isIPAddress(name: str) -> bool:
    """Return True if ``name`` is an IPv4 or IPv6 address literal (no lookup needed)."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, name.split("%", 1)[0])
        except (OSError, ValueError):
            continue
        return True
    return False


class _ThreePhaseEvent:
    """The triggers of one system event type, and whether it is firing."""

    __slots__ = ("after", "before", "during", "finishedBefore", "state")

    def __init__(self) -> None:
        self.before: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []
        self.during: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []
        self.after: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []
        self.state = "BASE"
        self.finishedBefore: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []

    def addTrigger(
        self, phase: str, callable: Callable[..., Any], args: tuple[Any, ...], kw: dict[str, Any]
    ) -> tuple[str, tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]:
        if phase not in _PHASES:
            raise KeyError(f"phase must be one of {_PHASES}, not {phase!r}")
        entry = (callable, args, kw)
        getattr(self, phase).append(entry)
        return phase, entry

    def removeTrigger(
        self, phase: str, entry: tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]
    ) -> None:
        if phase not in _PHASES:
            raise KeyError(f"phase must be one of {_PHASES}, not {phase!r}")
        triggers = getattr(self, phase)
        if phase == "before" and self.state != "BASE":
            # Already running the 'before' phase: forget it without disturbing the loop.
            if entry not in triggers:
                raise ValueError("that trigger was already removed or run")
            triggers[triggers.index(entry)] = None
            return
        for i, candidate in enumerate(triggers):
            if candidate is entry:
                del triggers[i]
                return
        raise ValueError("that trigger was already removed or run")

    def fire(self) -> None:
        """Run the 'before' triggers; once every Deferred they return fires, the rest."""
        self.state = "BEFORE"
        waiting: list[Deferred[Any]] = []
        while self.before:
            entry = self.before.pop(0)
            if entry is None:
                continue
            callable, args, kw = entry
            try:
                result = callable(*args, **kw)
            except BaseException:
                log.err(None, f"Error in 'before' system event trigger {callable!r}")
                continue
            if isinstance(result, Deferred):
                waiting.append(result)
        if waiting:
            DeferredList(waiting).addCallback(self._continueFiring)
        else:
            self._continueFiring(None)

    def _continueFiring(self, ignored: object) -> None:
        self.state = "BASE"
        for phase in ("during", "after"):
            triggers = getattr(self, phase)
            while triggers:
                callable, args, kw = triggers.pop(0)
                try:
                    callable(*args, **kw)
                except BaseException:
                    log.err(None, f"Error in '{phase}' system event trigger {callable!r}")


@implementer(IResolverSimple)
class ThreadedResolver:
    """The default resolver: ``socket.getaddrinfo`` run in the reactor's thread pool.

    Args:
        reactor: the reactor whose thread pool runs the lookups and whose clock times
            them out.
    """

    def __init__(self, reactor: ReactorBase) -> None:
        self.reactor = reactor

    def getHostByName(self, name: str, timeout: Sequence[float] = (1, 3, 11, 45)) -> Deferred[str]:
        """Return a Deferred firing with the first IPv4 (else IPv6) address of ``name``.

        Fails with DNSLookupError when the name does not resolve or the lookup takes
        longer than the sum of ``timeout``.
        """
        result: Deferred[str] = Deferred()
        total = sum(timeout) if timeout else 60.0

        def lookup() -> str:
            infos = socket.getaddrinfo(name, None, 0, socket.SOCK_STREAM)
            infos.sort(key=lambda info: info[0] != socket.AF_INET)
            return str(infos[0][4][0])

        def timedOut() -> None:
            if not result.called:
                result.errback(error.DNSLookupError(f"lookup of {name!r} timed out"))

        timer = self.reactor.callLater(total, timedOut)

        def deliver(success: bool, value: object) -> None:
            if result.called:
                return
            timer.cancel()
            if success:
                result.callback(str(value))
            else:
                problem = value.value if isinstance(value, Failure) else value
                result.errback(error.DNSLookupError(f"address of {name!r} not found: {problem}"))

        def onResult(success: bool, value: object) -> None:
            self.reactor.callFromThread(deliver, success, value)

        self.reactor.getThreadPool().callInThreadWithCallback(onResult, lookup)
        return result


def _globalReactor() -> Any:
    """What a pickled global reactor unpickles as: this process's global reactor."""
    from torsion.internet import reactor

    return reactor


@implementer(IReactorCore, IReactorTime, IReactorThreads, IReactorPluggableResolver)
class ReactorBase:
    """The polling-independent part of every torsion reactor.

    Subclasses implement ``doIteration(timeout)`` and ``wakeUp()``. ``seconds()`` is the
    monotonic clock (unlike Twisted's wall clock, so timers survive clock changes).
    """

    def __init__(self) -> None:
        self._timedCalls: list[tuple[float, int, DelayedCall]] = []
        self._sequence = itertools.count()
        # Bound once: every callLater hands these to its DelayedCall.
        self._cancelHook = self._cancelCallLater
        self._moveHook = self._moveCallLater
        self._staleTimedCalls = 0
        self._threadCallQueue: deque[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]
        self._threadCallQueue = deque()
        self._eventTriggers: dict[str, _ThreePhaseEvent] = {}
        self.running = False
        self._started = False
        self._stopped = True
        self._justStopped = False
        self._startedBefore = False
        self._threadPool: Any = None
        self._threadPoolShutdownID: object = None
        self._mainThread: threading.Thread | None = None
        self._savedSignals: dict[int, Any] = {}
        self.resolver: IResolverSimple = ThreadedResolver(self)
        self.addSystemEventTrigger("during", "startup", self._reallyStartRunning)
        self.addSystemEventTrigger("during", "shutdown", self.crash)
        self.addSystemEventTrigger("during", "shutdown", self.disconnectAll)

    def __reduce__(self) -> tuple[Callable[[], Any], tuple[()]]:
        """Pickle the installed global reactor as a reference to "the global reactor".

        Saved services and endpoints (a .tap file) hold the reactor; unpickling gives
        them the global reactor of the process that loads them. Any other reactor
        holds descriptors and threads that cannot be saved, so pickling it fails.
        """
        installed: object = sys.modules.get("torsion.internet.reactor")
        if installed is not self:
            raise pickle.PicklingError(
                f"cannot pickle {type(self).__name__} at {id(self):#x}: only the installed "
                "global reactor can be pickled (as a reference to the global reactor of "
                "the process that unpickles it); install this reactor, or give the "
                "objects you pickle no reactor of their own"
            )
        return (_globalReactor, ())

    # -- the hooks a polling reactor provides --------------------------------------

    def doIteration(self, timeout: float | None) -> None:
        """Wait at most ``timeout`` seconds (None: forever) for I/O and dispatch it."""
        raise NotImplementedError(f"{type(self).__name__} must implement doIteration")

    def wakeUp(self) -> None:
        """Make a ``doIteration`` blocked in another thread return soon."""

    def disconnectAll(self) -> None:
        """Close every connection and port (at shutdown); polling reactors override it."""

    # -- time -----------------------------------------------------------------------

    seconds = staticmethod(time.monotonic)

    def callLater(
        self, delay: float, callable: Callable[..., object], *args: Any, **kw: Any
    ) -> DelayedCall:
        """Call ``callable(*args, **kw)`` after ``delay`` seconds; return its DelayedCall.

        Raises:
            ValueError: if ``delay`` is negative.
        """
        if delay < 0:
            raise ValueError(f"callLater delay must not be negative, got {delay!r}")
        now = self.seconds
        call = DelayedCall(now() + delay, callable, args, kw, self._cancelHook, self._moveHook, now)
        heapq.heappush(self._timedCalls, (call.time, next(self._sequence), call))
        return call

    def _cancelCallLater(self, call: DelayedCall) -> None:
        self._staleTimedCalls += 1
        if self._staleTimedCalls > _COMPACT_THRESHOLD and self._staleTimedCalls * 2 > len(
            self._timedCalls
        ):
            self._compactTimedCalls()

    def _moveCallLater(self, call: DelayedCall) -> None:
        self._staleTimedCalls += 1
        heapq.heappush(self._timedCalls, (call.time, next(self._sequence), call))
        self._timedCallMoved(call)

    def _timedCallMoved(self, call: DelayedCall) -> None:
        """A timed call was reset or delayed: make a waiting loop see its new time.

        Reactors that schedule timers elsewhere (the asyncio reactor) override this.
        """
        if threading.current_thread() is not self._mainThread:
            self.wakeUp()

    def _compactTimedCalls(self) -> None:
        seen: set[int] = set()
        live = []
        for entry in self._timedCalls:
            call = entry[2]
            if call.active() and entry[0] == call.time and id(call) not in seen:
                seen.add(id(call))
                live.append(entry)
        heapq.heapify(live)
        self._timedCalls = live
        self._staleTimedCalls = 0

    def getDelayedCalls(self) -> list[IDelayedCall]:
        """Return every timed call that is still to run."""
        seen: set[int] = set()
        calls: list[IDelayedCall] = []
        for when, _, call in self._timedCalls:
            if call.active() and when == call.time and id(call) not in seen:
                seen.add(id(call))
                calls.append(call)
        return calls

    def timeout(self) -> float | None:
        """Return how long the loop may wait before the next timed call (None: no call)."""
        # Called once per pass of the loop: the usual cases (no timed call at all, or a
        # live one first in the heap) cost no call but the clock's.
        if self._threadCallQueue:
            return 0.0
        heap = self._timedCalls
        if not heap:
            return None
        when, _, call = heap[0]
        if call.called or call.cancelled or when != call.time:
            found = self._nextTimedCallTime()
            if found is None:
                return None
            when = found
        wait = when - self.seconds()
        return wait if wait > 0.0 else 0.0

    def _nextTimedCallTime(self) -> float | None:
        """Return when the earliest live timed call is due (None: there is none).

        Stale heap entries (cancelled calls, old times of moved calls) found on the way
        are dropped.
        """
        heap = self._timedCalls
        while heap:
            when, _, call = heap[0]
            if call.active() and when == call.time:
                return when
            heapq.heappop(heap)
            self._staleTimedCalls = max(0, self._staleTimedCalls - 1)
        return None

    def runUntilCurrent(self) -> None:
        """Run the calls from other threads and every timed call that is due."""
        queue = self._threadCallQueue
        if queue:
            # Only the calls queued so far: one that queues another must not starve I/O.
            for _ in range(len(queue)):
                f, args, kw = queue.popleft()
                try:
                    f(*args, **kw)
                except BaseException:
                    log.err(None, f"Unhandled error in callFromThread call {f!r}")
        heap = self._timedCalls
        if heap:
            now = self.seconds()
            if heap[0][0] <= now:
                self._runDueCalls(heap, now)
        if self._justStopped:
            self._justStopped = False
            self.fireSystemEvent("shutdown")

    def _runDueCalls(self, heap: list[tuple[float, int, DelayedCall]], now: float) -> None:
        """Run every timed call of ``heap`` due at ``now``, earliest first."""
        heappop = heapq.heappop
        while heap and heap[0][0] <= now:
            when, _, call = heappop(heap)
            if call.called or call.cancelled or when != call.time:
                self._staleTimedCalls = max(0, self._staleTimedCalls - 1)
                continue
            call.called = True
            try:
                if call.kw:
                    call.func(*call.args, **call.kw)
                else:
                    call.func(*call.args)
            except BaseException:
                log.err(None, f"Unhandled error in delayed call {call!r}")

    # -- system events ---------------------------------------------------------------

    def addSystemEventTrigger(
        self, phase: str, eventType: str, callable: Callable[..., Any], *args: Any, **kw: Any
    ) -> tuple[str, str, Any]:
        """Call ``callable(*args, **kw)`` in ``phase`` ('before', 'during' or 'after') of
        the system event ``eventType`` ('startup', 'shutdown' or your own).

        A 'before' trigger may return a Deferred: the later phases wait until it fires.

        Returns:
            A handle for ``removeSystemEventTrigger``.

        Raises:
            KeyError: if ``phase`` is not one of the three.
        """
        event = self._eventTriggers.setdefault(eventType, _ThreePhaseEvent())
        phaseName, entry = event.addTrigger(phase, callable, args, kw)
        return (eventType, phaseName, entry)

    def removeSystemEventTrigger(self, triggerID: tuple[str, str, Any]) -> None:
        """Remove a trigger added by ``addSystemEventTrigger``.

        Raises:
            ValueError: if it was removed already or has run.
        """
        try:
            eventType, phase, entry = triggerID
            event = self._eventTriggers[eventType]
        except (ValueError, TypeError, KeyError) as e:
            raise ValueError(f"{triggerID!r} is not a system event trigger handle") from e
        event.removeTrigger(phase, entry)

    def fireSystemEvent(self, eventType: str) -> None:
        """Run the triggers of ``eventType``: before, then during, then after."""
        event = self._eventTriggers.get(eventType)
        if event is not None:
            event.fire()

    def callWhenRunning(
        self, callable: Callable[..., Any], *args: Any, **kw: Any
    ) -> tuple[str, str, Any] | None:
        """Call ``callable(*args, **kw)`` now if the reactor runs, else once it starts.

        Returns:
            None if called at once, else a trigger handle for ``removeSystemEventTrigger``.
        """
        if self.running:
            callable(*args, **kw)
            return None
        return self.addSystemEventTrigger("after", "startup", callable, *args, **kw)

    # -- life cycle ------------------------------------------------------------------

    def startRunning(self, installSignalHandlers: bool = True) -> None:
        """Prepare to run: check the reactor may run, install handlers, fire 'startup'.

        Raises:
            ReactorAlreadyRunning: if it is running.
            ReactorNotRestartable: if it has run and stopped before.
        """
        if self._started:
            raise error.ReactorAlreadyRunning("the reactor is already running")
        if self._startedBefore:
            raise error.ReactorNotRestartable(
                "this reactor was stopped; a reactor runs once per process"
            )
        self._started = True
        self._stopped = False
        self._mainThread = threading.current_thread()
        threadable.registerAsIOThread()
        if installSignalHandlers:
            self._installSignalHandlers()
        self.fireSystemEvent("startup")

    def _reallyStartRunning(self) -> None:
        self.running = True
        if self._threadPool is not None and not self._threadPool.started:
            self._threadPool.start()

    def run(self, installSignalHandlers: bool = True) -> None:
        """Fire 'startup', then loop until ``stop`` (or ``crash``).

        Args:
            installSignalHandlers: make SIGINT and SIGTERM stop the reactor (only done in
                the main thread; the previous handlers come back when ``run`` returns).
        """
        self.startRunning(installSignalHandlers)
        try:
            self.mainLoop()
        finally:
            self._restoreSignalHandlers()

    def mainLoop(self) -> None:
        """Loop: run due calls, wait for I/O, dispatch it, until the reactor is crashed."""
        cls = type(self)
        # With no timed call, no call from a thread and no stop under way, this class's
        # runUntilCurrent would do nothing and its timeout would say "wait for ever":
        # a server's commonest pass skips both calls (unless a subclass changed them).
        canSkip = (
            cls.runUntilCurrent is ReactorBase.runUntilCurrent
            and cls.timeout is ReactorBase.timeout
        )
        while self._started:
            try:
                while self._started:
                    if canSkip and not (
                        self._timedCalls or self._threadCallQueue or self._justStopped
                    ):
                        self.doIteration(None)
                        continue
                    self.runUntilCurrent()
                    if not self._started:
                        break
                    self.doIteration(self.timeout())
            except Exception:
                log.err(None, "Unexpected error in main loop.")
            else:
                return

    def iterate(self, delay: float = 0.0) -> None:
        """Run one pass of the loop: due calls, then wait up to ``delay`` for I/O."""
        self.runUntilCurrent()
        self.doIteration(delay)

    def stop(self) -> None:
        """Fire 'shutdown' and stop the loop once its triggers have run.

        Raises:
            ReactorNotRunning: if the reactor is not running or already stopping.
        """
        if self._stopped:
            raise error.ReactorNotRunning("can't stop a reactor that isn't running")
        self._stopped = True
        self._justStopped = True
        self._startedBefore = True
        self.wakeUp()

    def crash(self) -> None:
        """Stop the loop now, without the 'shutdown' event (tests use it)."""
        self._started = False
        self.running = False
        self.wakeUp()

    def _installSignalHandlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def onSignal(signum: int, frame: object) -> None:
            # Only queue work here: logging from inside a signal handler could re-enter
            # an observer that the interrupted code was in the middle of.
            self.callFromThread(self._stopOnSignal, signal.Signals(signum).name)

        for signum in (signal.SIGINT, signal.SIGTERM):
            self._savedSignals[signum] = signal.signal(signum, onSignal)

    def _restoreSignalHandlers(self) -> None:
        while self._savedSignals:
            signum, handler = self._savedSignals.popitem()
            signal.signal(signum, handler)

    def _stopOnSignal(self, name: str) -> None:
        log.msg(f"Received {name}, shutting down.")
        if not self._stopped:
            self.stop()

    # -- threads ---------------------------------------------------------------------

    def callFromThread(self, callable: Callable[..., Any], *args: Any, **kw: Any) -> None:
        """Run ``callable(*args, **kw)`` in the reactor thread soon; safe from any thread.

        Calls run in the order they were made.
        """
        self._threadCallQueue.append((callable, args, kw))
        self.wakeUp()

    def getThreadPool(self) -> Any:
        """Return the reactor's thread pool (torsion.python.threadpool.ThreadPool).

        It is made on first use, started when the reactor runs, and stopped during
        shutdown.
        """
        if self._threadPool is None:
            from torsion.python.threadpool import ThreadPool

            self._threadPool = ThreadPool(0, 10, "torsion.internet.reactor")
            self._threadPoolShutdownID = self.addSystemEventTrigger(
                "during", "shutdown", self._stopThreadPool
            )
            if self.running:
                self._threadPool.start()
        return self._threadPool

    def _stopThreadPool(self) -> None:
        pool, self._threadPool = self._threadPool, None
        self._threadPoolShutdownID = None
        if pool is not None:
            pool.stop()

    def callInThread(self, callable: Callable[..., Any], *args: Any, **kw: Any) -> None:
        """Run ``callable(*args, **kw)`` in the reactor's thread pool."""
        self.getThreadPool().callInThread(callable, *args, **kw)

    def suggestThreadPoolSize(self, size: int) -> None:
        """Let the thread pool grow to ``size`` threads."""
        self.getThreadPool().adjustPoolsize(maxthreads=size)

    # -- names -----------------------------------------------------------------------

    def installResolver(self, resolver: IResolverSimple) -> IResolverSimple:
        """Resolve host names with ``resolver`` from now on; return the previous one."""
        previous, self.resolver = self.resolver, resolver
        return previous

    def resolve(self, name: str, timeout: Sequence[float] = (1, 3, 11, 45)) -> Deferred[str]:
        """Return a Deferred firing with an IP address for ``name`` (at once for literals)."""
        if not name:
            return succeed("0.0.0.0")
        if isIPAddress(name):
            return succeed(name)
        result: Deferred[str] = self.resolver.getHostByName(name, timeout)
        return result


@implementer(IConnector)
class BaseConnector:
    """A client connection attempt that can be repeated: the IConnector of connect*.

    Subclasses provide ``_makeTransport()`` (start connecting; return the client
    transport) and ``getDestination()``.

    Args:
        factory: the ClientFactory told about progress and building the protocol.
        timeout: seconds before an attempt fails with TimeoutError (None: never).
        reactor: the reactor running the attempt.
    """

    timeoutID: DelayedCall | None = None
    factoryStarted = False

    def __init__(self, factory: Any, timeout: float | None, reactor: Any) -> None:
        self.state = "disconnected"
        self.reactor = reactor
        self.factory = factory
        self.timeout = timeout
        self.transport: Any = None

    def disconnect(self) -> None:
        """Stop connecting, or drop the connection if it is made."""
        if self.state == "connecting":
            self.stopConnecting()
        elif self.state == "connected" and self.transport is not None:
            self.transport.loseConnection()

    def connect(self) -> None:
        """Start connecting.

        Raises:
            RuntimeError: if it is already connecting or connected.
        """
        if self.state != "disconnected":
            raise RuntimeError(f"can't connect in state {self.state}")
        self.state = "connecting"
        if not self.factoryStarted:
            self.factory.doStart()
            self.factoryStarted = True
        self.transport = self._makeTransport()
        if self.timeout is not None:
            self.timeoutID = self.reactor.callLater(
                self.timeout, self.transport.failIfNotConnected, error.TimeoutError()
            )
        self.factory.startedConnecting(self)

    def stopConnecting(self) -> None:
        """Abandon the attempt in progress (the factory hears of a UserError).

        Raises:
            NotConnectingError: if it is not connecting.
        """
        if self.state != "connecting":
            raise error.NotConnectingError("we're not trying to connect")
        self.state = "disconnected"
        self.transport.failIfNotConnected(error.UserError())
        del self.transport

    def cancelTimeout(self) -> None:
        """Forget the connection timeout (the attempt succeeded or failed)."""
        if self.timeoutID is not None:
            if self.timeoutID.active():
                self.timeoutID.cancel()
            del self.timeoutID

    def buildProtocol(self, addr: Any) -> Any:
        """The transport connected: build the protocol through the factory."""
        self.state = "connected"
        self.cancelTimeout()
        return self.factory.buildProtocol(addr)

    def connectionFailed(self, reason: Failure) -> None:
        """The attempt failed: tell the factory, and stop it unless it reconnected."""
        self.cancelTimeout()
        self.transport = None
        self.state = "disconnected"
        self.factory.clientConnectionFailed(self, reason)
        if self.state == "disconnected":
            self.factory.doStop()
            self.factoryStarted = False

    def connectionLost(self, reason: Failure) -> None:
        """The connection closed: tell the factory, and stop it unless it reconnected."""
        self.state = "disconnected"
        self.factory.clientConnectionLost(self, reason)
        if self.state == "disconnected":
            self.factory.doStop()
            self.factoryStarted = False

    def _makeTransport(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement _makeTransport")

    def getDestination(self) -> Any:
        """Return the address being connected to."""
        raise NotImplementedError(f"{type(self).__name__} must implement getDestination")
