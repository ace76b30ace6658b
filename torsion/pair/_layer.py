"""What every layer of torsion.pair shares: drop counters and the wiring upwards.

A layer is a datagram protocol (its ``transport`` is the layer below) that hands what
it decodes to the protocols registered above it. Those are attached (given their own
transport, a handle that sends back down through this layer) once this layer is
attached itself, so a protocol that sends from ``startProtocol`` finds a path that
works. An exception in a protocol above is logged and the packet counted; it never
reaches the reactor. Tests: tests/pair/test_layers.py.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from torsion.internet.protocol import AbstractDatagramProtocol
from torsion.python import log


class Layer(AbstractDatagramProtocol):
    """The base of each decoding layer: ``dropped`` counts what it threw away, by reason."""

    noisy = False
    # Reasons carry details (a port, a length) that a peer chooses: past this many
    # different ones, the rest are counted together, so the counter stays small.
    maxReasons = 64

    def __init__(self, reactor: Any = None) -> None:
        self.dropped: Counter[str] = Counter()
        self._uppers: list[tuple[Any, Any]] = []
        self._reactor = reactor

    def _getReactor(self) -> Any:
        """The reactor given, or the global one (imported only when a layer needs time)."""
        if self._reactor is None:
            from torsion.internet import reactor

            self._reactor = reactor
        return self._reactor

    def drop(self, reason: str) -> None:
        """Count a packet thrown away; the first of each reason is logged."""
        if reason not in self.dropped and len(self.dropped) >= self.maxReasons:
            reason = "other reasons"
        self.dropped[reason] += 1
        if self.dropped[reason] == 1:
            log.msg(f"{type(self).__name__} dropped a packet: {reason} (counted from now on)")

    def attach(self, proto: Any, transport: Any) -> None:
        """Remember that ``proto`` sends through ``transport``; connect it if we are."""
        self._uppers.append((proto, transport))
        if self.transport is not None:
            self._connect(proto, transport)

    @staticmethod
    def _connect(proto: Any, transport: Any) -> None:
        makeConnection = getattr(proto, "makeConnection", None)
        if makeConnection is not None and getattr(proto, "transport", None) is None:
            makeConnection(transport)

    def startProtocol(self) -> None:
        for proto, transport in self._uppers:
            self._connect(proto, transport)

    def stopProtocol(self) -> None:
        for proto, transport in self._uppers:
            if getattr(proto, "transport", None) is transport and hasattr(proto, "doStop"):
                proto.doStop()

    def deliver(self, proto: Any, *args: Any, **kwargs: Any) -> None:
        """Call ``proto.datagramReceived``; log and count what it raises."""
        try:
            proto.datagramReceived(*args, **kwargs)
        except Exception:
            self.dropped["error in the protocol above"] += 1
            log.err(None, f"Error in {type(proto).__name__}.datagramReceived; the stack goes on")


class DatagramLayer(Layer):
    """A layer carried in IP (UDP, ICMP): of IP's header fields it needs the addresses.

    IP calls ``datagramReceived`` with every field of the header as a keyword (as
    Twisted's does); this takes them all and hands ``payloadReceived`` what it uses.
    """

    def addProto(self, num: int, proto: object) -> None:
        """Protocols on top of this one are not carried (ICMP's default).

        Raises:
            TypeError: always.
        """
        raise TypeError(f"{type(self).__name__} carries no protocols; register them on IP")

    def datagramReceived(  # type: ignore[override]
        self, data: bytes, partial: int = 0, source: str = "", dest: str = "", **header: Any
    ) -> None:
        """IP hands over a datagram's payload from ``source`` to ``dest``."""
        self.payloadReceived(data, source, dest)

    def payloadReceived(self, data: bytes, source: str, dest: str) -> None:
        """Handle the payload of a datagram from ``source`` to ``dest`` (subclasses)."""
        raise NotImplementedError(f"{type(self).__name__} must implement payloadReceived")


def checkNumber(num: object, bits: int, what: str) -> int:
    """Return ``num`` if it is an int that fits ``bits`` unsigned bits, else raise."""
    if not isinstance(num, int) or isinstance(num, bool) or not 0 <= num < 2**bits:
        raise TypeError(f"{what} is a number from 0 to {2**bits - 1}, not {num!r}")
    return num
