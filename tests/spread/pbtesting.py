"""Helpers for the PB tests: a server and a client broker joined in memory, pumped by hand.

``PBPair`` connects a PBClientFactory to a PBServerFactory over torsion's loopback
transports; nothing moves until ``flush()``, so every test is deterministic. ``resultOf``
and ``failureOf`` read a Deferred that has fired.
"""

from __future__ import annotations

from typing import Any

from torsion.internet.defer import Deferred
from torsion.internet.task import Clock
from torsion.protocols.loopback import connectedServerAndClient
from torsion.python.failure import Failure
from torsion.spread import pb


def resultOf(d: Deferred[Any]) -> Any:
    """Return the result of a fired Deferred, raising its failure's exception."""
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, f"{d!r} has not fired"
    result = results[0]
    if isinstance(result, Failure):
        result.raiseException()
    return result


def failureOf(d: Deferred[Any]) -> Failure:
    """Return the Failure of a Deferred that has failed."""
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, f"{d!r} has not fired"
    assert isinstance(results[0], Failure), f"{d!r} succeeded with {results[0]!r}"
    return results[0]


class PBPair:
    """A PB server and client joined in memory.

    Attributes:
        serverFactory, clientFactory: the factories.
        server, client: their Brokers.
        pump: the IOPump moving bytes between them.
        clock: a Clock for timeouts.
    """

    def __init__(
        self,
        root: Any,
        serverFactory: pb.PBServerFactory | None = None,
        clientFactory: pb.PBClientFactory | None = None,
    ) -> None:
        self.clock = Clock()
        self.serverFactory = serverFactory or pb.PBServerFactory(root)
        self.clientFactory = clientFactory or pb.PBClientFactory()
        self.client, self.server, self.pump = connectedServerAndClient(
            lambda: self.serverFactory.buildProtocol(None),
            lambda: self.clientFactory.buildProtocol(None),
            clock=self.clock,
        )
        self.pump.flush()

    def flush(self) -> None:
        """Deliver everything in flight, both ways."""
        self.pump.flush()

    def root(self) -> pb.RemoteReference:
        """Return the client's reference to the server's root."""
        d = self.clientFactory.getRootObject()
        self.flush()
        return resultOf(d)  # type: ignore[no-any-return]

    def call(self, ref: pb.RemoteReference, name: str, *args: Any, **kw: Any) -> Any:
        """Call ``name`` on ``ref``, deliver everything, and return the answer (or raise)."""
        d = ref.callRemote(name, *args, **kw)
        self.flush()
        return resultOf(d)

    def callFailure(self, ref: pb.RemoteReference, name: str, *args: Any, **kw: Any) -> Failure:
        """Call ``name`` on ``ref`` and return the Failure it must end with."""
        d = ref.callRemote(name, *args, **kw)
        self.flush()
        return failureOf(d)

    def disconnect(self) -> None:
        """Close the client's end and deliver the loss to both sides."""
        self.client.transport.loseConnection()
        self.flush()

    def sendRaw(self, broker: pb.Broker, expression: Any) -> None:
        """Have ``broker`` send a hand-made expression to its peer, then deliver it."""
        broker.sendEncoded(expression)
        self.flush()
