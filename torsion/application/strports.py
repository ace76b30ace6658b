"""Servers described by a string: ``strports.service("tcp:80:interface=192.168.3.1", f)``.

The seed's "factory micro-language": a description such as ``"tcp:8080"``,
``"ssl:443:privateKey=pvk.pem"`` or ``"unix:/run/app.sock:mode=660"`` says where
to listen, so that a program (or a torsiond plugin's ``--listen`` option) takes it
from the user as text. The language itself, and its plugins, are
torsion.internet.endpoints' ``serverFromString`` (docs/strports.md lists every
prefix and option).
Tests: tests/application/test_strports.py.
"""

from __future__ import annotations

from typing import Any

from torsion.application.internet import StreamServerEndpointService
from torsion.internet import endpoints

__all__ = ["service"]


def service(description: str, factory: Any, reactor: Any = None) -> StreamServerEndpointService:
    """Return a service that listens where ``description`` says, with ``factory``.

    The service listens when started (in ``privilegedStartService``); if the port
    cannot be bound then, starting raises the error (CannotListenError), so a server
    that cannot listen fails at start-up instead of running deaf.

    Args:
        description: an endpoint description, such as ``"tcp:8080"``.
        factory: the protocol factory.
        reactor: the reactor; None for the global one.

    Raises:
        ValueError: the description is bad; the message names the bad part.
    """
    if reactor is None:
        from torsion.internet import reactor
    made = StreamServerEndpointService(endpoints.serverFromString(reactor, description), factory)
    made._raiseSynchronously = True
    return made
