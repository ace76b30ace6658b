"""ClientService: keep one client connection up, reconnecting with back-off.

``ClientService(endpoint, factory)`` connects through ``endpoint`` when started. When
an attempt fails, or the connection is lost, it waits ``retryPolicy(n)`` seconds (n
is the number of tries since the last success: 1 after a lost connection) and
tries again, for as long as it runs. ``whenConnected()`` gives a Deferred of the
connected protocol; ``stopService()`` abandons the attempt in progress or closes the
connection, and stops retrying.

``prepareConnection(protocol)``, if given, is called on each new connection before
anyone waiting in ``whenConnected`` hears of it (to log in, say); if it returns a
Deferred, they hear once it fires. If it fails, the connection is closed and counts
as a failed attempt.

The internals are a small state machine (``_ClientMachine``): one state per
situation (stopped, connecting, waiting to retry, connected, disconnecting), and each
event (an attempt's outcome, a lost connection, a timer, start, stop) handled for
each state. The machine holds the live attempt, timer and connection, so it is not
pickled: a saved ClientService is a stopped one that connects again when started.
Tests: tests/application/test_clientservice.py.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from zope.interface import directlyProvides, providedBy

from torsion.application.service import Service
from torsion.internet.defer import CancelledError, Deferred, maybeDeferred, succeed
from torsion.logger import Logger
from torsion.python.failure import Failure

__all__ = ["ClientService", "backoffPolicy"]


class _BackoffPolicy:
    """The retry policy ``backoffPolicy`` returns (a class so that it pickles)."""

    def __init__(
        self,
        initialDelay: float,
        maxDelay: float,
        factor: float,
        jitter: Callable[[], float] | None,
    ) -> None:
        if initialDelay < 0 or maxDelay < 0 or factor < 1:
            raise ValueError(
                "backoffPolicy needs initialDelay >= 0, maxDelay >= 0 and factor >= 1, "
                f"not {initialDelay!r}, {maxDelay!r}, {factor!r}"
            )
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.factor = factor
        self.jitter = jitter

    def __call__(self, attempt: int) -> float:
        try:
            # The exponent is capped: past it every delay is maxDelay anyway.
            delay = min(self.initialDelay * float(self.factor) ** min(attempt, 2000), self.maxDelay)
        except OverflowError:
            delay = self.maxDelay
        return delay + (random.random() if self.jitter is None else self.jitter())

    def __repr__(self) -> str:
        return (
            f"backoffPolicy(initialDelay={self.initialDelay!r}, maxDelay={self.maxDelay!r}, "
            f"factor={self.factor!r})"
        )


def backoffPolicy(
    initialDelay: float = 1.0,
    maxDelay: float = 60.0,
    factor: float = 1.5,
    jitter: Callable[[], float] | None = None,
) -> Callable[[int], float]:
    """Return a retry policy for ClientService: exponential back-off with jitter.

    The delay before try ``n`` (1 for the first retry) is ``initialDelay * factor**n``
    seconds, at most ``maxDelay``, plus ``jitter()`` (a random 0 to 1 second by
    default), so that many clients cut off at once do not all come back at once.

    Raises:
        ValueError: a negative delay, or a factor below 1.
    """
    return _BackoffPolicy(initialDelay, maxDelay, factor, jitter)


_defaultPolicy = backoffPolicy()


class _ReconnectingProtocolProxy:
    """Stands between the transport and the user's protocol to hear of connectionLost."""

    def __init__(self, protocol: Any, lost: Callable[[Failure], None]) -> None:
        self._protocol = protocol
        self._lost = lost
        directlyProvides(self, providedBy(protocol))

    def __getattr__(self, name: str) -> Any:
        # dataReceived and the rest come straight from the protocol (no extra call).
        return getattr(self.__dict__["_protocol"], name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} for {self._protocol!r}>"

    def makeConnection(self, transport: Any) -> None:
        self.transport = transport
        self._protocol.makeConnection(transport)

    def connectionLost(self, reason: Failure) -> None:
        try:
            self._protocol.connectionLost(reason)
        finally:
            self._lost(reason)


class _ReconnectingFactory:
    """Wraps the user's factory so that each protocol it builds reports its loss."""

    def __init__(self, factory: Any, lost: Callable[[Failure], None]) -> None:
        self._factory = factory
        self._lostCallback = lost

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_factory"], name)

    def buildProtocol(self, addr: Any) -> Any:
        protocol = self._factory.buildProtocol(addr)
        if protocol is None:
            return None
        return _ReconnectingProtocolProxy(protocol, self._lostCallback)


class _Waiter:
    """One ``whenConnected`` call still waiting."""

    __slots__ = ("deferred", "failAfter", "failures")

    def __init__(self, deferred: Deferred[Any], failAfter: int | None) -> None:
        self.deferred = deferred
        self.failAfter = failAfter
        self.failures = 0


class _ClientMachine:
    """The live part of a ClientService: its attempt, timer, connection and waiters.

    States: "init" (never started), "stopped", "connecting" (an attempt, or
    prepareConnection, in progress), "waiting" (a retry is scheduled), "connected",
    "disconnecting" (stopped while connecting or connected; waiting for that to end).
    """

    _log = Logger()

    def __init__(self, service: ClientService) -> None:
        self._service = service
        self.state = "init"
        self._attempt: Deferred[Any] | None = None
        self._preparing: Deferred[Any] | None = None
        self._prepareFailure: Failure | None = None
        self._retryCall: Any = None
        self._protocol: Any = None
        # Tries since the last success; retryPolicy is given this number.
        self._failures = 0
        self._waiters: list[_Waiter] = []
        self._stopping: list[Deferred[None]] = []
        self._restart = False

    def _clock(self) -> Any:
        clock = self._service._clock
        if clock is None:
            from torsion.internet import reactor

            clock = reactor
        return clock

    # -- inputs --------------------------------------------------------------------------

    def start(self) -> None:
        if self.state in ("init", "stopped"):
            self._connect()
        elif self.state == "disconnecting":
            self._restart = True

    def stop(self) -> Deferred[None]:
        state = self.state
        self._restart = False
        if state in ("init", "stopped"):
            self.state = "stopped"
            return succeed(None)
        if state == "waiting":
            self._retryCall.cancel()
            self._retryCall = None
            self.state = "stopped"
            self._cancelWaiters()
            return succeed(None)
        stopped: Deferred[None] = Deferred()
        self._stopping.append(stopped)
        if state == "disconnecting":
            return stopped
        self.state = "disconnecting"
        self._cancelWaiters()
        if self._attempt is not None:
            # Its errback (the cancellation) finishes the stop.
            self._attempt.cancel()
        else:
            preparing, self._preparing = self._preparing, None
            if preparing is not None:
                preparing.cancel()
            # The connection's loss finishes the stop.
            self._protocol.transport.loseConnection()
        return stopped

    def whenConnected(self, failAfterFailures: int | None) -> Deferred[Any]:
        if self.state == "connected":
            return succeed(self._protocol)
        if self.state == "stopped" or (self.state == "disconnecting" and not self._restart):
            return _cancelled("the ClientService is stopped")

        def cancel(d: Deferred[Any]) -> None:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

        waiter = _Waiter(Deferred(cancel), failAfterFailures)
        self._waiters.append(waiter)
        return waiter.deferred

    # -- the attempt ---------------------------------------------------------------------

    def _connect(self) -> None:
        self.state = "connecting"
        self._prepareFailure = None
        service = self._service
        factory = _ReconnectingFactory(service._factory, self._connectionLost)
        try:
            attempt: Deferred[Any] = service._endpoint.connect(factory)
        except BaseException:
            attempt = Deferred()
            attempt.errback(Failure())
        self._attempt = attempt
        attempt.addCallbacks(self._attemptSucceeded, self._attemptFailed)

    def _attemptSucceeded(self, proxy: Any) -> None:
        self._attempt = None
        protocol = getattr(proxy, "_protocol", proxy)
        self._protocol = protocol
        prepare = self._service._prepareConnection
        if prepare is None:
            self._connected()
            return
        preparing: Deferred[Any] = maybeDeferred(prepare, protocol)
        self._preparing = preparing
        preparing.addCallbacks(
            self._prepared, self._prepareFailed, callbackArgs=(preparing,), errbackArgs=(preparing,)
        )

    def _prepared(self, ignored: object, preparing: Deferred[Any]) -> None:
        if self._preparing is not preparing:
            return  # Abandoned: stopped, or the connection went away meanwhile.
        self._preparing = None
        self._connected()

    def _prepareFailed(self, reason: Failure, preparing: Deferred[Any]) -> None:
        if self._preparing is not preparing:
            return
        self._preparing = None
        self._prepareFailure = reason
        self._protocol.transport.loseConnection()

    def _connected(self) -> None:
        self.state = "connected"
        self._failures = 0
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.deferred.callback(self._protocol)

    def _attemptFailed(self, reason: Failure) -> None:
        self._attempt = None
        if self.state == "disconnecting":
            self._finishStopping()
        elif self.state == "connecting":
            self._failed(reason)

    def _connectionLost(self, reason: Failure) -> None:
        state = self.state
        self._protocol = None
        if state == "connected":
            self._log.info(
                "Connection to {endpoint} lost: {reason}; reconnecting",
                endpoint=self._service._endpoint,
                reason=reason.getErrorMessage(),
            )
            self._scheduleRetry()
        elif state == "connecting":
            # Lost during prepareConnection (or closed because it failed).
            if self._preparing is not None:
                preparing, self._preparing = self._preparing, None
                preparing.cancel()
            self._failed(self._prepareFailure or reason)
        elif state == "disconnecting":
            self._finishStopping()

    def _failed(self, reason: Failure) -> None:
        for waiter in list(self._waiters):
            waiter.failures += 1
            if waiter.failAfter is not None and waiter.failures >= waiter.failAfter:
                self._waiters.remove(waiter)
                waiter.deferred.errback(reason)
        self._scheduleRetry(reason)

    def _scheduleRetry(self, reason: Failure | None = None) -> None:
        self.state = "waiting"
        self._failures += 1
        delay = self._service._retryPolicy(self._failures)
        if reason is not None:
            self._log.info(
                "Could not connect to {endpoint} ({reason}); try {attempt} in {delay:.2f} s",
                endpoint=self._service._endpoint,
                reason=reason.getErrorMessage(),
                attempt=self._failures + 1,
                delay=delay,
            )
        self._retryCall = self._clock().callLater(delay, self._retry)

    def _retry(self) -> None:
        self._retryCall = None
        self._connect()

    def _finishStopping(self) -> None:
        self.state = "stopped"
        stopping, self._stopping = self._stopping, []
        for d in stopping:
            d.callback(None)
        if self._restart:
            self._restart = False
            self._connect()

    def _cancelWaiters(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.deferred.errback(CancelledError("the ClientService was stopped"))


def _cancelled(why: str) -> Deferred[Any]:
    d: Deferred[Any] = Deferred()
    d.errback(CancelledError(why))
    return d


class ClientService(Service):
    """Keep a connection through ``endpoint`` up while the service runs.

    Args:
        endpoint: an IStreamClientEndpoint to connect through.
        factory: the protocol factory for each connection.
        retryPolicy: ``policy(attempt) -> seconds`` to wait before try number
            ``attempt + 1``; ``backoffPolicy()`` by default.
        clock: the IReactorTime for the waits; None for the global reactor.
        prepareConnection: called with each new protocol before ``whenConnected``
            waiters get it; may return a Deferred; a failure drops the connection.
    """

    volatile = ("_machine",)

    def __init__(
        self,
        endpoint: Any,
        factory: Any,
        retryPolicy: Callable[[int], float] | None = None,
        clock: Any = None,
        prepareConnection: Callable[[Any], Any] | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._factory = factory
        self._retryPolicy = _defaultPolicy if retryPolicy is None else retryPolicy
        self._clock = clock
        self._prepareConnection = prepareConnection
        self._machine = _ClientMachine(self)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._machine = _ClientMachine(self)

    def whenConnected(self, failAfterFailures: int | None = None) -> Deferred[Any]:
        """Return a Deferred of the connected protocol (at once, if connected now).

        Args:
            failAfterFailures: fail with the attempt's error once this many attempts
                made after this call have failed (1: the next failure); None waits
                for as long as the service tries.

        The Deferred fails with CancelledError if the service is stopped first (or is
        stopped now). Cancelling it stops waiting; the service goes on.

        Raises:
            ValueError: ``failAfterFailures`` is below 1.
        """
        if failAfterFailures is not None and failAfterFailures < 1:
            raise ValueError(
                f"failAfterFailures must be None or at least 1, not {failAfterFailures!r}"
            )
        return self._machine.whenConnected(failAfterFailures)

    def startService(self) -> None:
        """Start connecting (and keep reconnecting) until stopped."""
        if self.running:
            return
        Service.startService(self)
        self._machine.start()

    def stopService(self) -> Deferred[None]:
        """Stop: abandon the attempt or close the connection; fires once it is over."""
        Service.stopService(self)
        return self._machine.stop()
