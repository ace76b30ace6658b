"""SSHService: what runs on top of an SSH transport (ssh-userauth, ssh-connection).

A service gets the packets whose message numbers are above the transport's (50 and
up), each sent to its ``ssh_<NAME>`` method through ``protocolMessages`` (number to
name), and sends with ``self.transport.sendPacket(number, payload)``. A packet with
no handler is answered SSH_MSG_UNIMPLEMENTED, as RFC 4253 section 11.4 asks.
Tests: tests/conch/test_sshtransport.py.
"""

from __future__ import annotations

from typing import Any

from torsion.logger import Logger

__all__ = ["SSHService"]


class SSHService:
    """The base of SSH services; Twisted's names."""

    name: bytes = b""
    protocolMessages: dict[int, str] = {}
    transport: Any = None  # set by the transport before serviceStarted
    _log = Logger()

    def serviceStarted(self) -> None:
        """The transport now sends this service its packets."""

    def serviceStopped(self) -> None:
        """The connection ended, or another service took over."""

    def logPrefix(self) -> str:
        return f"SSHService {self.name.decode(errors='replace')!r} on {self.transport.logPrefix()}"

    def packetReceived(self, messageNum: int, packet: bytes) -> None:
        name = self.protocolMessages.get(messageNum)
        handler = getattr(self, f"ssh_{name}", None) if name is not None else None
        if handler is None:
            self._log.info(
                "{service} has no handler for message {number}",
                service=self.name,
                number=messageNum,
            )
            self.transport.sendUnimplemented()
            return
        handler(packet)
