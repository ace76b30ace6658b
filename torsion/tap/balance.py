"""``torsiond balance``: a TCP load balancer with health checks (torsion.protocols.balancer).

``torsiond balance --listen tcp:8080 --backend tcp:127.0.0.1:9001 --backend
127.0.0.1:9002:weight=2 --policy least-connections --health-interval 5``. Each
``--backend`` is a client endpoint description or HOST:PORT, optionally ending in
``:weight=N``; ``--listen`` defaults to ``tcp:8080:interface=127.0.0.1``.
Tests: tests/tap/test_balance.py.
"""

from __future__ import annotations

from typing import Any

from torsion.application import strports
from torsion.application.service import IService, MultiService
from torsion.protocols import balancer
from torsion.python import usage

__all__ = ["DEFAULT_LISTEN", "Options", "makeService"]

DEFAULT_LISTEN = "tcp:8080:interface=127.0.0.1"


def _positive(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError(f"{value!r} is not a number of seconds above 0")
    return number


def _count(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(f"{value!r} is not a whole number, 1 or more")
    return number


def _proxyVersion(value: str) -> int:
    if value not in ("1", "2"):
        raise ValueError(f"{value!r} is not a PROXY protocol version: give 1 or 2")
    return int(value)


class Options(usage.Options):
    """The options of the balance plugin."""

    synopsis = "--backend DESCRIPTION [--backend ...] [--listen DESCRIPTION] [options]"
    longdesc = (
        "Forwards each connection to one of the backends, chosen by the policy: "
        f"{', '.join(balancer.POLICIES)}. Every backend is probed with a TCP connection "
        "each --health-interval seconds; one that fails --fall probes in a row (or "
        "refuses a connection) is taken out, and put back after --rise good probes."
    )
    optParameters = [
        ["listen", "l", DEFAULT_LISTEN, "Where to listen (an endpoint description)."],
        ["policy", "p", "round-robin", f"How to choose: {', '.join(balancer.POLICIES)}."],
        ["health-interval", None, 5.0, "Seconds between health checks.", _positive],
        ["health-timeout", None, None, "Seconds a health check may take.", _positive],
        ["connect-timeout", None, 5.0, "Seconds to connect to a backend.", _positive],
        ["rise", None, 2, "Good checks that put a backend back.", _count],
        ["fall", None, 3, "Failed checks that take a backend out.", _count],
        [
            "send-proxy",
            None,
            None,
            "Begin each forwarded connection with a PROXY protocol header (version 1 or 2).",
            _proxyVersion,
        ],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["backends"] = []

    def opt_backend(self, description: str) -> None:
        """A backend, one --backend each: tcp:HOST:PORT, HOST:PORT, unix:PATH (:weight=N)."""
        try:
            balancer.parseBackend(None, description)
        except ValueError as e:
            raise usage.UsageError(f"--backend {description!r}: {e}") from None
        self["backends"].append(description)

    opt_b = opt_backend

    def postOptions(self) -> None:
        """Check the whole: backends given, the policy known, the listening description good."""
        from torsion.internet import endpoints

        if not self["backends"]:
            raise usage.UsageError(
                "give at least one --backend, such as --backend tcp:127.0.0.1:9001"
            )
        if self["policy"] not in balancer.POLICIES:
            raise usage.UsageError(
                f"unknown --policy {self['policy']!r}; choose one of: "
                f"{', '.join(balancer.POLICIES)}"
            )
        try:
            endpoints.serverFromString(None, self["listen"])
        except ValueError as e:
            raise usage.UsageError(f"--listen {self['listen']!r}: {e}") from None


def makeService(options: Any, reactor: Any = None) -> IService:
    """Return the listening service and the health checker, as one service."""
    if reactor is None:
        from torsion.internet import reactor
    balance = balancer.Balancer(
        options["backends"],
        options["policy"],
        reactor=reactor,
        connectTimeout=float(options["connect-timeout"]),
    )
    top = MultiService()
    factory = balancer.BalancerFactory(balance, sendProxyHeader=options["send-proxy"])
    listening = strports.service(options["listen"], factory, reactor)
    listening.setServiceParent(top)
    balancer.HealthChecker(
        balance,
        interval=float(options["health-interval"]),
        timeout=options["health-timeout"],
        rise=options["rise"],
        fall=options["fall"],
    ).setServiceParent(top)
    return top
