"""``torsiond portforward``: a TCP port forwarder (torsion.protocols.portforward).

Twisted's options: ``--port`` (where to listen), ``--host`` and ``--dest_port`` (where
to forward). ``--port`` takes a port number, which listens on every interface as
Twisted's does, or an endpoint description (docs/strports.md); ``--listen`` is the
same as a description. With neither, it listens on ``tcp:6666:interface=127.0.0.1``,
this machine only, so that trying it exposes nothing.
Tests: tests/tap/test_portforward.py.
"""

from __future__ import annotations

from typing import Any

from torsion.application import strports
from torsion.application.service import IService
from torsion.protocols import portforward
from torsion.python import usage

__all__ = ["DEFAULT_LISTEN", "Options", "makeService"]

DEFAULT_LISTEN = "tcp:6666:interface=127.0.0.1"


def _proxyVersion(value: str) -> int:
    if value not in ("1", "2"):
        raise ValueError(f"{value!r} is not a PROXY protocol version: give 1 or 2")
    return int(value)


class Options(usage.Options):
    """The options of the portforward plugin."""

    synopsis = "[--port PORT | --listen DESCRIPTION] --host HOST --dest_port PORT"
    longdesc = (
        "Forwards every connection made to it to HOST:PORT, both ways, with flow control "
        "(a slow side pauses the fast one) and half-close. --port 8080 listens on port "
        "8080 of every interface; --listen takes an endpoint description, such as "
        "tcp:8080:interface=127.0.0.1 or unix:/run/forward.sock."
    )
    optParameters = [
        ["port", "p", None, "The port (or endpoint description) to listen on."],
        ["listen", "l", None, "Where to listen (an endpoint description)."],
        ["host", "h", "localhost", "The host to forward to."],
        ["dest_port", "d", 6665, "The port to forward to.", usage.portCoerce],
        [
            "send-proxy",
            None,
            None,
            "Begin each forwarded connection with a PROXY protocol header (version 1 or 2).",
            _proxyVersion,
        ],
    ]

    def postOptions(self) -> None:
        """Settle where to listen, and check it now so that a typo is a usage error."""
        from torsion.internet import endpoints

        if self["port"] is not None and self["listen"] is not None:
            raise usage.UsageError("give --port or --listen, not both")
        where = self["listen"] or self["port"]
        if where is None:
            where = DEFAULT_LISTEN
        elif where.isdigit():
            where = f"tcp:{where}"
        try:
            endpoints.serverFromString(None, where)
        except ValueError as e:
            raise usage.UsageError(f"--listen {where!r}: {e}") from None
        if not self["host"]:
            raise usage.UsageError("--host is empty; give the host to forward to")
        self["listen"] = where


def makeService(options: Any) -> IService:
    """Return the service that forwards ``options['listen']`` to host:dest_port."""
    factory = portforward.ProxyFactory(
        options["host"], int(options["dest_port"]), sendProxyHeader=options["send-proxy"]
    )
    return strports.service(options["listen"], factory)
