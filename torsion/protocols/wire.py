"""The simplest protocols of all: Echo (RFC 862) and Discard (RFC 863).

Useful as examples and for testing transports. The rest of the RFC 862-868 family
(Chargen, QOTD, Daytime, Time, Who) comes with a later issue.
Tests: tests/protocols/test_wire.py.
"""

from __future__ import annotations

from torsion.internet.protocol import Protocol

__all__ = ["Discard", "Echo"]


class Echo(Protocol):
    """Send back everything received, as it arrives."""

    def dataReceived(self, data: bytes) -> None:
        """Write ``data`` back to the peer."""
        self.transport.write(data)


class Discard(Protocol):
    """Read and throw away everything received."""

    def dataReceived(self, data: bytes) -> None:
        """Ignore ``data``."""
