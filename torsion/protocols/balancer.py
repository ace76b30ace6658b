"""A TCP load balancer: each connection accepted is forwarded to one of several backends.

``Balancer`` holds the backends (``Backend``: a client endpoint, a weight, whether it
is healthy or draining, how many connections it has) and a policy, a strategy object
that picks one of the available backends for each connection: ``RoundRobin``,
``LeastConnections`` (fewest connections per unit of weight) or
``WeightedRoundRobin`` (smooth: a backend of weight 3 gets 3 of every 4 connections
next to one of weight 1, interleaved). ``BalancerFactory(balancer)`` is the server
factory; its connections are portforward's proxies, so flow control and half-close
work as they do there, and a backend that refuses a connection is marked down and
the next one is tried, so the client does not notice.

``HealthChecker`` (a service) probes every backend each ``interval`` seconds, with a
TCP connection by default or any ``probe(backend)`` returning a Deferred, a coroutine
or a value (true: healthy); a backend that fails ``fall`` probes in a row is taken out,
and one that is out is put back after ``rise`` good ones. ``drain(backend)`` stops new
connections to a backend and fires once its last one has finished.
``torsiond balance`` runs one (torsion/tap/balance.py).
Tests: tests/protocols/test_balancer.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from torsion.application.service import Service
from torsion.internet import defer, endpoints, task
from torsion.internet.defer import Deferred
from torsion.internet.protocol import Factory, Protocol, ServerFactory
from torsion.logger import Logger
from torsion.protocols import portforward
from torsion.python.failure import Failure

__all__ = [
    "POLICIES",
    "Backend",
    "Balancer",
    "BalancerFactory",
    "BalancerServer",
    "HealthChecker",
    "LeastConnections",
    "NoBackendAvailable",
    "RoundRobin",
    "WeightedRoundRobin",
    "parseBackend",
    "tcpProbe",
]

_log = Logger()


class NoBackendAvailable(Exception):
    """Every backend is down or draining (or has refused this connection)."""


class Backend:
    """One server behind the balancer.

    Args:
        endpoint: the client endpoint that connects to it.
        name: what logs call it (the description it was made from, by default).
        weight: its share of the connections under the weighted policies (1 or more).

    Attributes:
        healthy: False while it is taken out (failed connections or probes).
        draining: True while ``Balancer.drain`` keeps new connections away from it.
        activeConnections, totalConnections: connections now, and ever.
    """

    __slots__ = (
        "_drained",
        "activeConnections",
        "draining",
        "endpoint",
        "failures",
        "healthy",
        "name",
        "successes",
        "totalConnections",
        "weight",
    )

    def __init__(self, endpoint: Any, name: str | None = None, weight: int = 1) -> None:
        if weight < 1:
            raise ValueError(f"a backend's weight is 1 or more, not {weight!r}")
        self.endpoint = endpoint
        self.name = name if name is not None else repr(endpoint)
        self.weight = weight
        self.healthy = True
        self.draining = False
        self.activeConnections = 0
        self.totalConnections = 0
        self.failures = 0
        self.successes = 0
        self._drained: list[Deferred[None]] = []

    @property
    def available(self) -> bool:
        """Whether new connections may go to it: healthy and not draining."""
        return self.healthy and not self.draining

    def __repr__(self) -> str:
        state = "up" if self.healthy else "down"
        if self.draining:
            state += ", draining"
        return f"<Backend {self.name} ({state}, {self.activeConnections} connections)>"


_WEIGHT = re.compile(r"^(?P<description>.*?)(?<!\\):weight=(?P<weight>[^:]*)$")
_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:\[\]]+)):(?P<port>\d+)$")


def parseBackend(reactor: Any, description: str) -> Backend:
    """Return the Backend that ``description`` names.

    ``description`` is a client endpoint description (``tcp:127.0.0.1:9001``,
    ``unix:/run/app.sock``, ...) or ``HOST:PORT`` (``[::1]:9001`` for IPv6), with an
    optional ``:weight=N`` at the end.

    Raises:
        ValueError: the description is bad; the message says what would be right.
    """
    weight = 1
    text = description.strip()
    match = _WEIGHT.match(text)
    if match is not None:
        try:
            weight = int(match["weight"])
        except ValueError:
            weight = 0
        if weight < 1:
            raise ValueError(
                f"bad weight {match['weight']!r} in backend {description!r}; a weight is a "
                "whole number, 1 or more"
            )
        text = match["description"]
    hostPort = _HOST_PORT.match(text)
    try:
        endpoint = endpoints.clientFromString(reactor, text)
    except ValueError as e:
        if hostPort is None:
            raise ValueError(
                f"bad backend {description!r}: {e} (or give HOST:PORT, such as 127.0.0.1:9001)"
            ) from None
        host = hostPort["v6"] or hostPort["host"]
        port = int(hostPort["port"])
        if port > 65535:
            raise ValueError(f"bad backend {description!r}: port {port} is over 65535") from None
        endpoint = endpoints.HostnameEndpoint(reactor, host, port)
    return Backend(endpoint, text, weight)


# -- policies ---------------------------------------------------------------------------------


class RoundRobin:
    """Each available backend in turn."""

    def __init__(self) -> None:
        self._next = 0

    def choose(self, backends: Sequence[Backend]) -> Backend:
        """Pick one of ``backends`` (the available ones, never empty)."""
        chosen = backends[self._next % len(backends)]
        self._next = (self._next + 1) % len(backends)
        return chosen


class LeastConnections:
    """The backend with the fewest connections for its weight; ties in turn."""

    def __init__(self) -> None:
        self._turn = RoundRobin()

    def choose(self, backends: Sequence[Backend]) -> Backend:
        """Pick one of ``backends`` (the available ones, never empty)."""
        least = min(b.activeConnections / b.weight for b in backends)
        return self._turn.choose([b for b in backends if b.activeConnections / b.weight == least])


class WeightedRoundRobin:
    """Turns in proportion to weight, spread out (the "smooth" weighted round robin).

    Each pick, every backend earns its weight; the richest is chosen and pays back
    the total, so that weights 5, 1, 1 give a a b a c a a rather than a a a a a b c.
    """

    def __init__(self) -> None:
        self._credit: dict[Backend, int] = {}

    def choose(self, backends: Sequence[Backend]) -> Backend:
        """Pick one of ``backends`` (the available ones, never empty)."""
        credit = self._credit
        if len(credit) > 4 * len(backends):
            credit = self._credit = {b: credit.get(b, 0) for b in backends}
        total = 0
        best: Backend | None = None
        for backend in backends:
            credit[backend] = credit.get(backend, 0) + backend.weight
            total += backend.weight
            if best is None or credit[backend] > credit[best]:
                best = backend
        assert best is not None
        credit[best] -= total
        return best


POLICIES: dict[str, Callable[[], Any]] = {
    "round-robin": RoundRobin,
    "least-connections": LeastConnections,
    "weighted": WeightedRoundRobin,
}


def _policy(policy: str | Any) -> Any:
    if not isinstance(policy, str):
        return policy
    maker = POLICIES.get(policy)
    if maker is None:
        raise ValueError(f"unknown policy {policy!r}; the policies are: {', '.join(POLICIES)}")
    return maker()


# -- the balancer -------------------------------------------------------------------------------


class Balancer:
    """The backends, their state, and the policy that picks one for each connection.

    Args:
        backends: Backends, or descriptions for ``parseBackend``.
        policy: a policy's name (see POLICIES) or a strategy object with
            ``choose(availableBackends) -> Backend``.
        reactor: the reactor (for descriptions and timeouts); the global one by default.
        connectTimeout: seconds a connection to a backend may take before the next
            backend is tried.
    """

    def __init__(
        self,
        backends: Iterable[Backend | str] = (),
        policy: str | Any = "round-robin",
        reactor: Any = None,
        connectTimeout: float = 5.0,
    ) -> None:
        if reactor is None:
            from torsion.internet import reactor
        self.reactor = reactor
        self.policy = _policy(policy)
        self.connectTimeout = connectTimeout
        self.backends: list[Backend] = []
        for backend in backends:
            self.addBackend(backend)

    def addBackend(self, backend: Backend | str) -> Backend:
        """Add a backend (or the one a description names); return it."""
        if isinstance(backend, str):
            backend = parseBackend(self.reactor, backend)
        self.backends.append(backend)
        return backend

    def removeBackend(self, backend: Backend) -> Deferred[None]:
        """Drain ``backend``, then forget it; the Deferred fires once it is gone."""
        drained = self.drain(backend)

        def remove(ignored: object) -> None:
            if backend in self.backends:
                self.backends.remove(backend)

        return drained.addCallback(remove)

    def drain(self, backend: Backend) -> Deferred[None]:
        """Send ``backend`` no new connections; fires once its last one has ended."""
        backend.draining = True
        drained: Deferred[None] = Deferred()
        if backend.activeConnections == 0:
            drained.callback(None)
        else:
            backend._drained.append(drained)
        return drained

    def undrain(self, backend: Backend) -> None:
        """Send ``backend`` new connections again."""
        backend.draining = False

    def choose(self, exclude: Iterable[Backend] = ()) -> Backend | None:
        """The backend for a new connection (None: no backend is available)."""
        excluded = set(exclude)
        available = [b for b in self.backends if b.available and b not in excluded]
        if not available:
            return None
        chosen: Backend = self.policy.choose(available)
        return chosen

    def markDown(self, backend: Backend, why: str) -> None:
        """Take ``backend`` out: no new connections until it is marked up."""
        backend.successes = 0
        if backend.healthy:
            backend.healthy = False
            _log.warn("Backend {backend} is down: {why}", backend=backend.name, why=why)

    def markUp(self, backend: Backend) -> None:
        """Put ``backend`` back."""
        backend.failures = 0
        if not backend.healthy:
            backend.healthy = True
            _log.info("Backend {backend} is up", backend=backend.name)

    def connectionStarted(self, backend: Backend) -> None:
        """A connection to ``backend`` begins (counted from the attempt on)."""
        backend.activeConnections += 1
        backend.totalConnections += 1

    def connectionEnded(self, backend: Backend) -> None:
        """A connection to ``backend`` ended (or its attempt failed)."""
        backend.activeConnections -= 1
        if backend.activeConnections == 0 and backend._drained:
            waiting, backend._drained = backend._drained, []
            for drained in waiting:
                drained.callback(None)

    def connectionFailed(self, backend: Backend, reason: Failure) -> None:
        """A connection to ``backend`` could not be made: take it out."""
        backend.failures += 1
        self.markDown(backend, reason.getErrorMessage())


class BalancerServer(portforward.ProxyServer):
    """An accepted connection, forwarded to the backend the balancer picks.

    If that backend cannot be reached, it is marked down and the next is tried, until
    one connects or none is left (the connection is then closed).
    """

    backend: Backend | None = None
    _tried: set[Backend] | None = None

    def connectToPeer(self, clientFactory: portforward.ProxyClientFactory) -> None:
        """Connect to the balancer's choice."""
        self._clientFactory = clientFactory
        self._tried = set()
        self._tryNext()

    def _tryNext(self) -> None:
        balancer: Balancer = self.factory.balancer
        tried = self._tried
        assert tried is not None
        backend = balancer.choose(exclude=tried)
        if backend is None:
            why = "no backend is available" if not tried else "every backend failed"
            self._connectFailed(Failure(NoBackendAvailable(why)))
            return
        tried.add(backend)
        self.backend = backend
        balancer.connectionStarted(backend)
        attempt = backend.endpoint.connect(self._clientFactory)
        attempt.addTimeout(balancer.connectTimeout, balancer.reactor)
        attempt.addErrback(self._attemptFailed, backend)

    def _attemptFailed(self, reason: Failure, backend: Backend) -> None:
        balancer: Balancer = self.factory.balancer
        if self.backend is backend:
            self.backend = None
            balancer.connectionEnded(backend)
        balancer.connectionFailed(backend, reason)
        if self.connected:
            try:
                self._tryNext()
            except Exception:
                why = Failure()
                _log.failure("Error choosing a backend; closing the connection", why)
                self._connectFailed(why)

    def connectionLost(self, reason: object = None) -> None:
        """As ProxyServer; the backend's connection count goes down."""
        super().connectionLost(reason)
        backend, self.backend = self.backend, None
        if backend is not None:
            self.factory.balancer.connectionEnded(backend)


class BalancerFactory(ServerFactory):
    """Forwards each accepted connection to a backend of ``balancer``.

    ``sendProxyHeader`` (1 or 2) begins each forwarded connection with a PROXY
    protocol header naming the client, as portforward.ProxyFactory's does.
    """

    protocol: Any = BalancerServer

    def __init__(self, balancer: Balancer, sendProxyHeader: int | None = None) -> None:
        portforward._checkProxyVersion(sendProxyHeader)
        self.balancer = balancer
        self.sendProxyHeader = sendProxyHeader

    def __repr__(self) -> str:
        names = ", ".join(backend.name for backend in self.balancer.backends)
        return f"<{type(self).__name__} to {names}>"


# -- health checks ------------------------------------------------------------------------------


class _Probe(Protocol):
    def connectionMade(self) -> None:
        self.transport.loseConnection()


class _ProbeFactory(Factory):
    protocol = _Probe
    noisy = False


def tcpProbe(backend: Backend) -> Deferred[bool]:
    """The default probe: ``backend`` is healthy if a connection to it can be made."""
    connected: Deferred[Any] = backend.endpoint.connect(_ProbeFactory())
    return connected.addCallback(lambda protocol: True)


class HealthChecker(Service):
    """Probes every backend of ``balancer`` each ``interval`` seconds (a service).

    Args:
        balancer: the Balancer whose backends to check.
        interval: seconds between rounds of probes.
        probe: ``probe(backend)`` returning a Deferred, a coroutine or a value; true
            means healthy, false or an exception not. ``tcpProbe`` by default.
        timeout: seconds a probe may take (``interval`` by default); a slower one failed.
        rise: good probes in a row that put a backend that is out back.
        fall: failed probes in a row that take a backend out.
        clock: the IReactorTime to run on (the balancer's reactor by default).
    """

    def __init__(
        self,
        balancer: Balancer,
        interval: float = 5.0,
        probe: Callable[[Backend], Any] | None = None,
        timeout: float | None = None,
        rise: int = 2,
        fall: int = 3,
        clock: Any = None,
    ) -> None:
        if not interval > 0:
            raise ValueError(f"the health check interval must be more than 0, not {interval!r}")
        if rise < 1 or fall < 1:
            raise ValueError(f"rise and fall are 1 or more, not {rise!r} and {fall!r}")
        self.balancer = balancer
        self.interval = interval
        self.probe = probe if probe is not None else tcpProbe
        self.timeout = interval if timeout is None else timeout
        self.rise = rise
        self.fall = fall
        self.clock = clock if clock is not None else balancer.reactor
        self._loop: task.LoopingCall | None = None
        self._probing: dict[Backend, Deferred[Any]] = {}

    def startService(self) -> None:
        """Start the rounds of probes (the first one now)."""
        Service.startService(self)
        loop = self._loop = task.LoopingCall(self.checkAll)
        loop.clock = self.clock
        loop.start(self.interval, now=True).addErrback(
            lambda failure: _log.failure("Health checks stopped", failure)
        )

    def stopService(self) -> Deferred[Any] | None:
        """Stop probing (probes under way are abandoned)."""
        Service.stopService(self)
        loop, self._loop = self._loop, None
        if loop is not None and loop.running:
            loop.stop()
        for probing in list(self._probing.values()):
            probing.cancel()
        return None

    def checkAll(self) -> None:
        """Probe each backend not still being probed from the last round."""
        for backend in list(self.balancer.backends):
            if backend not in self._probing:
                self.check(backend)

    def check(self, backend: Backend) -> Deferred[None]:
        """Probe ``backend`` once, and record the outcome."""
        probing: Deferred[Any] = defer.maybeDeferred(self.probe, backend)
        self._probing[backend] = probing
        probing.addTimeout(self.timeout, self.clock)

        def done(result: Any) -> None:
            self._probing.pop(backend, None)
            if isinstance(result, Failure):
                if result.check(defer.CancelledError) and not self.running:
                    return
                self._record(backend, False, result.getErrorMessage())
            else:
                self._record(backend, bool(result), "the probe said it is not healthy")

        return probing.addBoth(done)

    def _record(self, backend: Backend, healthy: bool, why: str) -> None:
        if healthy:
            backend.failures = 0
            backend.successes += 1
            if not backend.healthy and backend.successes >= self.rise:
                self.balancer.markUp(backend)
            return
        backend.successes = 0
        backend.failures += 1
        if backend.healthy and backend.failures >= self.fall:
            self.balancer.markDown(backend, f"{backend.failures} failed health checks: {why}")
