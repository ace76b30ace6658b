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

from typing import Any, ClassVar

from torsion.application.internet import StreamServerEndpointService
from torsion.internet import endpoints

__all__ = ["ListenOptionMixin", "service"]


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


class ListenOptionMixin:
    """``--listen DESCRIPTION`` for a plugin's Options: given any number of times,
    ``defaultListen`` when never given, and each description checked when the command
    line is parsed, so that a typo is a usage error instead of a server that fails to
    start. A bare port number listens on ``bareNumberInterface`` only (this machine,
    unless a plugin says otherwise; None: every interface, as Twisted's web does).

    Mix it into a usage.Options subclass, set ``defaultListen``, and call
    ``checkListen()`` from ``postOptions``; ``self["listen"]`` is then the list of
    descriptions.
    """

    defaultListen: ClassVar[str]
    bareNumberInterface: ClassVar[str | None] = "127.0.0.1"

    def opt_listen(self, description: str) -> None:
        """Listen here (an endpoint description); may be given several times."""
        if description.isdigit():
            interface = self.bareNumberInterface
            description = f"tcp:{description}" + (f":interface={interface}" if interface else "")
        self.setdefault("listen", []).append(description)  # type: ignore[attr-defined]

    def checkListen(self) -> None:
        """Fill in the default and refuse a description that cannot be parsed.

        Raises:
            UsageError: naming the bad description and what is wrong with it.
        """
        from torsion.python import usage

        listen = self.setdefault("listen", [])  # type: ignore[attr-defined]
        if not listen:
            listen.append(self.defaultListen)
        for description in listen:
            try:
                endpoints.serverFromString(None, description)
            except ValueError as e:
                raise usage.UsageError(f"--listen {description!r}: {e}") from None
