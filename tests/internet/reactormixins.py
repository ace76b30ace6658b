"""Helpers for reactor tests: a fresh reactor per test, and bounded waits on it.

``reactor`` is a pytest fixture parametrised over every reactor available here: the
select, poll, epoll and kqueue reactors where the platform has them, and the asyncio
reactor on a new asyncio loop and, when uvloop is installed, on a new uvloop loop, each
both with TCP on the loop's own transports (the default) and on torsion's own ("-fd"),
and the GUI toolkits' reactors: Qt's where PySide6 is installed, Tk's where there is a
display (tests/internet/_display.py starts Xvfb when it can).
The tests that take it are the reactor conformance suite. Each test gets a new, uninstalled
reactor that is torn down afterwards (its descriptors, thread pool and loop closed), so
tests do not share state and run in parallel. ``runUntilFired`` spins a reactor until a
Deferred fires, failing the test after a few seconds instead of hanging. The rest are
test doubles for reactor tests: a counting descriptor, a scripted selector, and a
descriptor number too high for select(2).
"""

from __future__ import annotations

import asyncio
import gc
import selectors
import socket
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from zope.interface import implementer

from tests.internet import _display
from torsion.internet import error
from torsion.internet.asyncioreactor import AsyncioSelectorReactor
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import IReadWriteDescriptor
from torsion.internet.pollreactor import PollReactor
from torsion.internet.selectreactor import SelectReactor
from torsion.python import log
from torsion.python.failure import Failure


def _availableReactors() -> dict[str, Callable[[], Any]]:
    factories: dict[str, Callable[[], Any]] = {
        "select": SelectReactor,
        "asyncio": lambda: AsyncioSelectorReactor(asyncio.new_event_loop()),
        "asyncio-fd": lambda: AsyncioSelectorReactor(asyncio.new_event_loop(), False),
    }
    if hasattr(selectors, "PollSelector"):
        factories["poll"] = PollReactor
    if hasattr(selectors, "EpollSelector"):
        from torsion.internet.epollreactor import EPollReactor

        factories["epoll"] = EPollReactor
    if hasattr(selectors, "KqueueSelector"):
        from torsion.internet.kqreactor import KQueueReactor

        factories["kqueue"] = KQueueReactor
    try:
        import uvloop
    except ImportError:
        pass
    else:
        factories["asyncio+uvloop"] = lambda: AsyncioSelectorReactor(uvloop.new_event_loop())
        factories["asyncio+uvloop-fd"] = lambda: AsyncioSelectorReactor(
            uvloop.new_event_loop(), False
        )
    try:
        from torsion.internet.qtreactor import QtReactor
    except ImportError:
        pass
    else:
        factories["qt"] = QtReactor
    if _display.display():
        from torsion.internet.tkreactor import TkReactor

        factories["tk"] = TkReactor
    return factories


REACTOR_FACTORIES: dict[str, Callable[[], Any]] = _availableReactors()


def skipOnLoopTransports(reactor: Any, reason: str) -> None:
    """Skip the test when ``reactor`` runs TCP on an asyncio loop's own transports.

    For tests of what only torsion's own transports do (their writes wait in torsion's
    buffer until the end of the pass); ``reason`` says why the loop's cannot.
    """
    if getattr(reactor, "nativeTransports", False):
        pytest.skip(f"on the loop's own transports, {reason}")


def runUntilFired(reactor: Any, d: Deferred[Any], timeout: float = 5.0) -> Any:
    """Iterate ``reactor`` until ``d`` fires; return its result or raise its failure."""
    results: list[Any] = []
    d.addBoth(results.append)
    deadline = reactor.seconds() + timeout
    while not results:
        if reactor.seconds() > deadline:
            pytest.fail(f"Deferred {d!r} did not fire within {timeout} seconds")
        reactor.iterate(0.05)
    result = results[0]
    if isinstance(result, Failure):
        result.raiseException()
    return result


def runUntil(reactor: Any, condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Iterate ``reactor`` until ``condition()`` is true, failing after ``timeout``."""
    deadline = reactor.seconds() + timeout
    while not condition():
        if reactor.seconds() > deadline:
            pytest.fail(f"condition {condition!r} not met within {timeout} seconds")
        reactor.iterate(0.05)


def inThread(reactor: Any, work: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Run blocking `work` in a thread while running `reactor`; its result or exception."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, work()))
        except BaseException as e:  # handed to the test's thread
            outcome.append((False, e))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    runUntil(reactor, lambda: bool(outcome), timeout=timeout)
    thread.join(1)
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def trackDescriptors(reactor: Any) -> None:
    """Make ``closeReactor`` close every descriptor ``reactor`` was ever asked to watch.

    ``disconnectAll`` only reaches what is watched right now; a transport that a test
    left paused (not reading) would otherwise leak its socket into later tests.
    """
    seen: weakref.WeakSet[Any] = weakref.WeakSet()
    reactor._testDescriptors = seen
    for name in ("addReader", "addWriter"):
        watch = getattr(reactor, name)

        def tracking(selectable: Any, watch: Callable[[Any], None] = watch) -> None:
            seen.add(selectable)
            watch(selectable)

        setattr(reactor, name, tracking)


def closeReactor(reactor: Any) -> None:
    """Close everything a test reactor holds: connections, ports, pool, descriptors, loop."""
    reactor.disconnectAll()
    for selectable in list(getattr(reactor, "_testDescriptors", ())):
        if getattr(selectable, "disconnected", True) is False:
            selectable.connectionLost(Failure(error.ConnectionLost("the test ended")))
    for _ in range(3):
        reactor.iterate(0)
    if reactor._threadPool is not None:
        reactor._stopThreadPool()
    reactor._close()
    if isinstance(reactor, AsyncioSelectorReactor):
        # The test's factory made this loop, so the test closes it.
        reactor._asyncioEventloop.close()
    if type(reactor).__name__ == "TkReactor":
        # What the test left in reference cycles that holds Tk objects (a caught
        # exception's frames, say) is freed here, in Tk's thread: Tcl aborts the
        # process when a collection in another thread (a test's peer) frees them.
        gc.collect()


@pytest.fixture(params=sorted(REACTOR_FACTORIES))
def reactor(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh reactor of each available kind, closed after the test."""
    made = REACTOR_FACTORIES[request.param]()
    trackDescriptors(made)
    try:
        yield made
    finally:
        closeReactor(made)


@pytest.fixture
def loggedErrors() -> Iterator[list[dict[str, Any]]]:
    """Collect the error events logged during a test (and keep them out of its output)."""
    events: list[dict[str, Any]] = []

    def observer(event: dict[str, Any]) -> None:
        if event.get("isError"):
            events.append(event)

    log.addObserver(observer)
    try:
        yield events
    finally:
        log.removeObserver(observer)


@pytest.fixture
def loggedMessages() -> Iterator[list[dict[str, Any]]]:
    """Collect every classic log event during a test."""
    events: list[dict[str, Any]] = []
    log.addObserver(events.append)
    try:
        yield events
    finally:
        log.removeObserver(events.append)


@implementer(IReadWriteDescriptor)
class Descriptor:
    """A socket end that counts its events; ``closeOnRead`` makes doRead end it."""

    def __init__(self, sock: socket.socket, closeOnRead: bool = False) -> None:
        self.sock = sock
        self.closeOnRead = closeOnRead
        self.reads = 0
        self.writes = 0
        self.lost: list[Any] = []

    def fileno(self) -> int:
        return self.sock.fileno()

    def logPrefix(self) -> str:
        return "Descriptor"

    def doRead(self) -> object:
        self.reads += 1
        self.sock.recv(100)
        return error.ConnectionDone() if self.closeOnRead else None

    def doWrite(self) -> object:
        self.writes += 1
        return None

    def connectionLost(self, reason: object) -> None:
        self.lost.append(reason)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    with a, b:
        yield a, b


@pytest.fixture
def highDescriptor() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected socket pair whose first end's descriptor number is 1024 or more.

    select(2) cannot watch such a descriptor; poll and epoll can. The soft limit on
    open descriptors is raised for the test if it is too low (and put back after).
    """
    fcntl = pytest.importorskip("fcntl")
    resource = pytest.importorskip("resource")
    limits = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft, hard = limits
    if soft != resource.RLIM_INFINITY and soft < 1100:
        if hard != resource.RLIM_INFINITY and hard < 1100:
            pytest.skip(f"the descriptor limit ({hard}) is too low for a descriptor over 1024")
        resource.setrlimit(resource.RLIMIT_NOFILE, (1100, hard))
    try:
        a, b = socket.socketpair()
        with a, b:
            high = socket.socket(fileno=fcntl.fcntl(a.fileno(), fcntl.F_DUPFD, 1024))
            with high:
                yield high, b
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, limits)


class FakeSelector(selectors.BaseSelector):
    """A selector whose ``select`` returns what the test scripted, and records calls."""

    def __init__(self) -> None:
        self.keys: dict[int, selectors.SelectorKey] = {}
        self.script: list[Any] = []
        self.closed = False

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key = selectors.SelectorKey(fileobj, fileobj, events, data)
        self.keys[fileobj] = key
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self.keys.pop(fileobj)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        step = self.script.pop(0) if self.script else []
        if isinstance(step, BaseException):
            raise step
        return [(self.keys[fd], mask) for fd, mask in step]

    def get_map(self) -> Any:
        return self.keys

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def oneReactor() -> Iterator[Any]:
    """One reactor (epoll where there is one): for tests that are not about reactors."""
    kind = "epoll" if "epoll" in REACTOR_FACTORIES else "select"
    made = REACTOR_FACTORIES[kind]()
    trackDescriptors(made)
    try:
        yield made
    finally:
        closeReactor(made)
