"""SSHFactory: the server factory that holds the host keys, groups and services.

Give it host keys (``privateKeys``, a dict of SSH key type to Key, or override
``getPrivateKeys``) and the services it offers (``services``: name to class; by
default none until userauth and connection exist, so set it). Group exchange reads
its primes from /etc/ssh/moduli (``primesFile``) once, falling back to the RFC 3526
groups. Tests: tests/conch/test_sshtransport.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torsion.conch.ssh import _kex
from torsion.conch.ssh.keys import Key
from torsion.conch.ssh.transport import SSHServerTransport
from torsion.internet.protocol import Factory

__all__ = ["SSHFactory"]


class SSHFactory(Factory):
    """Twisted's SSHFactory: ``protocol`` is SSHServerTransport."""

    protocol = SSHServerTransport
    services: dict[bytes, Any] = {}
    privateKeys: dict[bytes, Key] | None = None
    publicKeys: dict[bytes, Key] | None = None
    primesFile: str | Path = "/etc/ssh/moduli"
    clock: Any = None  # the reactor for transports' rekey timers (the global one if None)
    _primes: dict[int, list[tuple[int, int]]] | None = None

    def startFactory(self) -> None:
        keys = self.getPrivateKeys()
        if not keys:
            raise ValueError(
                "an SSHFactory needs host keys: set privateKeys (ssh key type to Key) or "
                "override getPrivateKeys"
            )
        for name, key in keys.items():
            if key.isPublic():
                raise ValueError(f"the host key for {name!r} is a public key; give the private one")

    def buildProtocol(self, addr: Any) -> Any:
        transport = super().buildProtocol(addr)
        if transport is not None and self.clock is not None:
            transport.clock = self.clock
        return transport

    def getPublicKeys(self) -> dict[bytes, Key]:
        if self.publicKeys is not None:
            return self.publicKeys
        return {name: key.public() for name, key in self.getPrivateKeys().items()}

    def getPrivateKeys(self) -> dict[bytes, Key]:
        return self.privateKeys or {}

    def getPrimes(self) -> dict[int, list[tuple[int, int]]]:
        if self._primes is None:
            self._primes = _kex.getPrimes(self.primesFile)
        return self._primes

    def getService(self, transport: Any, service: bytes) -> Any:
        """The class of the service named ``service``, or None if it is not offered."""
        return self.services.get(service)
