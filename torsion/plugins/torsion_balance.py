"""The ``balance`` plugin: ``torsiond balance --listen tcp:8080 --backend ... [--backend ...]``.

The options and the service are in torsion.tap.balance, imported only when used.
Tests: tests/tap/test_balance.py.
"""

from torsion.application.service import ServiceMaker

balance = ServiceMaker(
    "torsion balance",
    "torsion.tap.balance",
    "A TCP load balancer with health checks (round-robin, least-connections, weighted).",
    "balance",
)
