"""``torsiond echo``: an echo server (RFC 862, torsion.protocols.wire.Echo) on an endpoint.

``--listen`` takes an endpoint description (docs/strports.md), by default
``tcp:8007:interface=127.0.0.1``: a high port, and only this machine, so that trying
it needs no privileges and exposes nothing. The seed's echo listened on port 7 of
every interface: ``--listen tcp:7`` (as root).
Tests: tests/tap/test_echo.py.
"""

from __future__ import annotations

from typing import Any

from torsion.application import strports
from torsion.application.service import IService
from torsion.internet import protocol
from torsion.protocols import wire
from torsion.python import usage

__all__ = ["DEFAULT_LISTEN", "Options", "makeService"]

DEFAULT_LISTEN = "tcp:8007:interface=127.0.0.1"


class Options(usage.Options):
    """The options of the echo plugin."""

    synopsis = "[--listen DESCRIPTION]"
    longdesc = (
        "Runs an echo server (RFC 862): every byte a client sends comes back. The "
        "endpoint description is in the strports language, such as tcp:7, "
        "tcp:8007:interface=127.0.0.1, unix:/run/echo.sock or systemd:domain=INET:index=0."
    )
    optParameters = [
        ["listen", "l", DEFAULT_LISTEN, "Where to listen (an endpoint description)."],
    ]

    def postOptions(self) -> None:
        """Check the description now, so a typo is a usage error and not a start-up one."""
        from torsion.internet import endpoints

        try:
            # No reactor is needed to parse; the service parses again with the real one.
            endpoints.serverFromString(None, self["listen"])
        except ValueError as e:
            raise usage.UsageError(f"--listen {self['listen']!r}: {e}") from None


class EchoFactory(protocol.ServerFactory):
    """Makes wire.Echo connections (a module-level class, so that saved state finds it)."""

    protocol = wire.Echo


def makeService(options: Any) -> IService:
    """Return the service that listens where ``options['listen']`` says."""
    return strports.service(options["listen"], EchoFactory())
